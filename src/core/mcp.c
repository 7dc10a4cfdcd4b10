/* mcp.json: the user's MCP servers, read and checked (mcp.h). */
#include "mcp.h"
#include "agent.h"
#include "buf.h"
#include "creds.h"
#include "parse.h"
#include "paths.h"
#include "secret.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define SECRET_OPEN "${secret:"

void adr_mcp_free(struct adr_mcp *m)
{
  for (size_t i = 0; i < m->n; i++) {
    struct adr_mcp_server *s = &m->v[i];
    free(s->name);
    free(s->command);
    strv_free(&s->args);
    strv_free(&s->env);
    free(s->url);
    strv_free(&s->headers);
    free(s->image);
    strv_free(&s->agents);
  }
  free(m->v);
  memset(m, 0, sizeof(*m));
}

bool adr_mcp_for(const struct adr_mcp_server *s, const char *agent)
{
  return s->agents.n == 0 || strv_contains(&s->agents, agent);
}

char *adr_mcp_path(void)
{
  cleanup_free char *dir = adr_config_dir();
  return xasprintf("%s/" ADR_MCP_FILE, dir);
}

bool adr_mcp_sidecar(const struct adr_mcp_server *s)
{
  return s->kind == ADR_MCP_STDIO && (s->secret || s->image || s->net_none);
}

const char *adr_mcp_reach(const struct adr_mcp_server *s)
{
  if (s->kind == ADR_MCP_STDIO)
    return adr_mcp_sidecar(s) ? "sidecar" : "in the sandbox";
  return s->secret ? "relay" : "direct";
}

void adr_mcp_secret_names(const struct adr_mcp_server *s, struct strv *names)
{
  const struct strv *vs[] = { &s->env, &s->headers };
  for (size_t k = 0; k < 2; k++)
    for (size_t i = 0; i < vs[k]->n; i++) {
      char *n = NULL;
      if (adr_mcp_secret_ref(vs[k]->v[i] + strcspn(vs[k]->v[i], "=") + 1, &n) && !strv_contains(names, n))
        strv_push(names, n);
      free(n);
    }
}

/* ${secret:NAME} at most once in value, NAME a secret's name */
static int secret_refs(const char *value, char **name)
{
  *name = NULL;
  const char *p = strstr(value, SECRET_OPEN);
  if (!p)
    return strstr(value, "${") ? -1 : 0;
  const char *n = p + strlen(SECRET_OPEN), *e = strchr(n, '}');
  if (!e || strstr(e, "${"))
    return -1;
  *name = xstrndup(n, (size_t)(e - n));
  if (!adr_secret_name_valid(*name)) {
    free(*name);
    *name = NULL;
    return -1;
  }
  return 1;
}

bool adr_mcp_secret_ref(const char *value, char **name) { return secret_refs(value, name) == 1; }

char *adr_mcp_secret_subst(const char *value, const char *with)
{
  const char *p = strstr(value, SECRET_OPEN);
  const char *e = p ? strchr(p, '}') : NULL;
  if (!e)
    return xstrdup(value);
  return xasprintf("%.*s%s%s", (int)(p - value), value, with, e + 1);
}

static bool name_ok(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > ADR_MCP_NAME_MAX)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
      return false;
  return true;
}

/* an HTTP header name (RFC 9110 token) */
static bool header_ok(const char *s)
{
  if (!*s || strlen(s) > 128)
    return false;
  for (; *s; s++)
    if (!strchr("!#$%&'*+-.^_`|~", *s) &&
        !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
      return false;
  return true;
}

static bool printable(const char *s)
{
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

/* The headers the relay swaps a sentinel in (relay-parse.c) */
static bool cred_header(const char *h)
{
  return !strcasecmp(h, "authorization") || !strcasecmp(h, "x-api-key") || !strcasecmp(h, "api-key") ||
         !strcasecmp(h, "x-goog-api-key") || !strcasecmp(h, "proxy-authorization") || !strcasecmp(h, "cookie");
}

static int strs(json_t *o, const char *k, struct strv *out, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, k), *x;
  size_t i;
  if (!v)
    return 0;
  if (!json_is_array(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be an array of strings", ctx, k);
  json_array_foreach (v, i, x) {
    if (!json_is_string(x) || !printable(json_string_value(x)))
      return adr_err_set(err, EINVAL, "%s: \"%s\"[%zu] must be a string of printable characters", ctx, k, i);
    strv_push(out, json_string_value(x));
  }
  return 0;
}

static int str(json_t *o, const char *k, char **out, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, k);
  if (!v)
    return 0;
  if (!json_is_string(v) || !*json_string_value(v) || !printable(json_string_value(v)))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be a non-empty string", ctx, k);
  *out = xstrdup(json_string_value(v));
  return 0;
}

static int env_of(struct adr_mcp_server *s, json_t *o, const char *ctx, adr_err *err)
{
  json_t *env = json_object_get(o, "env"), *v;
  const char *k;
  if (!env)
    return 0;
  if (!json_is_object(env))
    return adr_err_set(err, EINVAL, "%s: \"env\" must be an object of strings", ctx);
  json_object_foreach (env, k, v) {
    if (!adr_valid_env_name(k, strlen(k)) || !json_is_string(v) || !printable(json_string_value(v)))
      return adr_err_set(err, EINVAL, "%s: env \"%s\": a variable name and a string value", ctx, k);
    cleanup_free char *sn = NULL;
    int r = secret_refs(json_string_value(v), &sn);
    if (r < 0)
      return adr_err_set(err, EINVAL, "%s: env %s: write a secret as ${secret:NAME} (one, an 'adr secret' name)", ctx,
                         k);
    if (r == 0 && adr_creds_secret_name(k) && *json_string_value(v))
      return adr_err_set(err, EPERM,
                         "%s: env %s holds a literal value that looks like a credential: it would enter the "
                         "sandbox (store it with 'adr secret set %s' and write \"${secret:%s}\")",
                         ctx, k, k, k);
    s->secret = s->secret || r == 1;
    strv_pushf(&s->env, "%s=%s", k, json_string_value(v));
  }
  return 0;
}

static int headers_of(struct adr_mcp_server *s, json_t *o, const char *ctx, adr_err *err)
{
  json_t *h = json_object_get(o, "headers"), *v;
  const char *k;
  if (!h)
    return 0;
  if (!json_is_object(h))
    return adr_err_set(err, EINVAL, "%s: \"headers\" must be an object of strings", ctx);
  json_object_foreach (h, k, v) {
    if (!header_ok(k) || !json_is_string(v) || !printable(json_string_value(v)))
      return adr_err_set(err, EINVAL, "%s: header \"%s\": a header name and a string value", ctx, k);
    const char *val = json_string_value(v);
    cleanup_free char *sn = NULL;
    int r = secret_refs(val, &sn);
    if (r < 0)
      return adr_err_set(err, EINVAL, "%s: header %s: write a secret as ${secret:NAME} (one, an 'adr secret' name)",
                         ctx, k);
    if (r == 0 && cred_header(k))
      return adr_err_set(err, EPERM,
                         "%s: header %s holds a literal credential: it would enter the sandbox (store it with "
                         "'adr secret set NAME' and write \"%s${secret:NAME}\")",
                         ctx, k, strcasecmp(k, "authorization") ? "" : "Bearer ");
    if (r == 1) {
      bool bearer = !strcasecmp(k, "authorization") && str_has_prefix(val, "Bearer " SECRET_OPEN);
      bool whole = str_has_prefix(val, SECRET_OPEN) &&
                   (!strcasecmp(k, "x-api-key") || !strcasecmp(k, "api-key") || !strcasecmp(k, "x-goog-api-key"));
      if ((!bearer && !whole) || val[strlen(val) - 1] != '}')
        return adr_err_set(err, EINVAL,
                           "%s: header %s: the relay puts a secret only in \"Authorization: Bearer ${secret:NAME}\" "
                           "or a whole x-api-key, api-key or x-goog-api-key value",
                           ctx, k);
      if (s->secret)
        return adr_err_set(err, EINVAL, "%s: one secret per remote server (the relay swaps one key per route)", ctx);
      s->secret = true;
    }
    strv_pushf(&s->headers, "%s=%s", k, val);
  }
  return 0;
}

static bool url_ok(const char *u)
{
  const char *h = str_has_prefix(u, "https://") ? u + 8 : str_has_prefix(u, "http://") ? u + 7 : NULL;
  if (!h || !*h || *h == '/' || strlen(u) > 2048)
    return false;
  for (const char *c = u; *c; c++)
    if (*c <= ' ' || *c >= 0x7f || *c == '#' || *c == '\\')
      return false;
  size_t auth = strcspn(h, "/?");
  return !memchr(h, '@', auth); /* no user:password@ */
}

static int server(struct adr_mcp_server *s, const char *name, json_t *o, const char *ctx, adr_err *err)
{
  static const char *const known[] = { "command", "args",    "env",    "url",  "headers",
                                       "image",   "network", "agents", "type", "comment" };
  const char *k;
  json_t *v;
  if (!json_is_object(o))
    return adr_err_set(err, EINVAL, "%s: must be an object", ctx);
  json_object_foreach (o, k, v) {
    bool ok = false;
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
      ok = ok || streq(k, known[i]);
    if (!ok)
      return adr_err_set(err, EINVAL, "%s: unknown field \"%s\"", ctx, k);
  }
  s->name = xstrdup(name);
  if (str(o, "command", &s->command, ctx, err) < 0 || str(o, "url", &s->url, ctx, err) < 0 ||
      str(o, "image", &s->image, ctx, err) < 0 || strs(o, "args", &s->args, ctx, err) < 0 ||
      strs(o, "agents", &s->agents, ctx, err) < 0)
    return -1;
  if (!s->command == !s->url)
    return adr_err_set(err, EINVAL, "%s: give either \"command\" (stdio) or \"url\" (remote)", ctx);
  s->kind = s->command ? ADR_MCP_STDIO : ADR_MCP_HTTP;
  const char *type = json_string_value(json_object_get(o, "type"));
  if (json_object_get(o, "type") &&
      !(type && (s->command ? streq(type, "stdio") : (streq(type, "http") || streq(type, "streamable-http")))))
    return adr_err_set(err, EINVAL, "%s: \"type\" must be \"%s\" (the only transport adr serves for it)", ctx,
                       s->command ? "stdio" : "http");
  for (size_t i = 0; i < s->agents.n; i++)
    if (!adr_agent_name_valid(s->agents.v[i]))
      return adr_err_set(err, EINVAL, "%s: \"agents\": '%s' is not an agent name", ctx, s->agents.v[i]);
  json_t *net = json_object_get(o, "network");
  if (net && !(json_is_string(net) && (streq(json_string_value(net), "open") || streq(json_string_value(net), "none"))))
    return adr_err_set(err, EINVAL, "%s: \"network\" must be \"open\" or \"none\"", ctx);
  s->net_none = net && streq(json_string_value(net), "none");
  if (s->kind == ADR_MCP_STDIO) {
    if (json_object_get(o, "headers"))
      return adr_err_set(err, EINVAL, "%s: \"headers\" are for a remote server (\"url\")", ctx);
    return env_of(s, o, ctx, err);
  }
  if (json_object_get(o, "env") || s->image || net || s->args.n)
    return adr_err_set(err, EINVAL, "%s: \"args\", \"env\", \"image\" and \"network\" are for a stdio server", ctx);
  if (!url_ok(s->url))
    return adr_err_set(err, EINVAL, "%s: \"url\" must be an http(s) URL without credentials or a fragment", ctx);
  if (strstr(s->url, "${"))
    return adr_err_set(err, EINVAL, "%s: a secret in the URL would enter the sandbox: put it in a header", ctx);
  if (headers_of(s, o, ctx, err) < 0)
    return -1;
  if (s->secret && !str_has_prefix(s->url, "https://"))
    return adr_err_set(err, EINVAL, "%s: a server with a secret must be https (the relay verifies it)", ctx);
  return 0;
}

int adr_mcp_parse(const char *json, size_t len, const char *source, struct adr_mcp *m, adr_err *err)
{
  memset(m, 0, sizeof(*m));
  json_error_t je;
  json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (!j)
    return adr_err_set(err, EINVAL, "%s:%d: %s", source, je.line, je.text);
  int ret = -1;
  const char *k;
  json_t *v;
  json_t *servers = json_object_get(j, "mcpServers");
  if (!json_is_object(j) || !json_is_object(servers)) {
    adr_err_set(err, EINVAL, "%s: an object with \"mcpServers\" (an object of servers by name)", source);
    goto out;
  }
  json_object_foreach (j, k, v)
    if (!streq(k, "mcpServers") && !streq(k, "comment") && !streq(k, "$schema")) {
      adr_err_set(err, EINVAL, "%s: unknown field \"%s\"", source, k);
      goto out;
    }
  if (json_object_size(servers) > ADR_MCP_MAX_SERVERS) {
    adr_err_set(err, EINVAL, "%s: more than %d servers", source, ADR_MCP_MAX_SERVERS);
    goto out;
  }
  json_object_foreach (servers, k, v) {
    cleanup_free char *ctx = xasprintf("%s: server '%s'", source, k);
    if (!name_ok(k)) {
      adr_err_set(err, EINVAL, "%s: a name is 1-%d letters, digits, '-' or '_'", ctx, ADR_MCP_NAME_MAX);
      goto out;
    }
    m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
    struct adr_mcp_server *s = &m->v[m->n++];
    memset(s, 0, sizeof(*s));
    if (server(s, k, v, ctx, err) < 0)
      goto out;
  }
  ret = 0;
out:
  json_decref(j);
  if (ret < 0)
    adr_mcp_free(m);
  return ret;
}

int adr_mcp_load(const char *path, struct adr_mcp *m, adr_err *err)
{
  memset(m, 0, sizeof(*m));
  cleanup_buf struct buf b;
  buf_init(&b, ADR_MCP_MAX_BYTES);
  if (buf_read_file(&b, path) < 0) {
    if (errno == ENOENT)
      return 0;
    return adr_err_sys(err, errno, "read '%s'", path);
  }
  return adr_mcp_parse(b.data ? b.data : "", b.len, path, m, err);
}

/* ---- what each agent's client reads --------------------------------- */

static const char *const dialects[] = { "claude", "gemini", "copilot", "opencode", "codex" };

bool adr_mcp_dialect_valid(const char *d)
{
  for (size_t i = 0; i < ARRAY_SIZE(dialects); i++)
    if (streq(d, dialects[i]))
      return true;
  return false;
}

bool adr_mcp_dialect_json(const char *d) { return adr_mcp_dialect_valid(d) && !streq(d, "codex"); }

static json_t *kv_object(const struct strv *v)
{
  json_t *o = json_object();
  for (size_t i = 0; v && i < v->n; i++) {
    size_t n = strcspn(v->v[i], "=");
    cleanup_free char *k = xstrndup(v->v[i], n);
    json_object_set_new(o, k, json_string(v->v[i][n] ? v->v[i] + n + 1 : ""));
  }
  return o;
}

static json_t *str_array(const struct strv *v)
{
  json_t *a = json_array();
  for (size_t i = 0; v && i < v->n; i++)
    json_array_append_new(a, json_string(v->v[i]));
  return a;
}

json_t *adr_mcp_json_entry(const char *d, const struct adr_mcp_entry *e)
{
  bool io = e->kind == ADR_MCP_STDIO;
  json_t *o = json_object();
  if (streq(d, "opencode")) {
    json_object_set_new(o, "type", json_string(io ? "local" : "remote"));
    if (io) {
      json_t *cmd = json_array();
      json_array_append_new(cmd, json_string(e->command));
      for (size_t i = 0; e->args && i < e->args->n; i++)
        json_array_append_new(cmd, json_string(e->args->v[i]));
      json_object_set_new(o, "command", cmd);
      json_object_set_new(o, "environment", kv_object(e->env));
    } else {
      json_object_set_new(o, "url", json_string(e->url));
      json_object_set_new(o, "headers", kv_object(e->headers));
    }
    json_object_set_new(o, "enabled", json_true());
    return o;
  }
  if (streq(d, "claude"))
    json_object_set_new(o, "type", json_string(io ? "stdio" : "http"));
  else if (streq(d, "copilot"))
    json_object_set_new(o, "type", json_string(io ? "local" : "http"));
  if (io) {
    json_object_set_new(o, "command", json_string(e->command));
    json_object_set_new(o, "args", str_array(e->args));
    json_object_set_new(o, "env", kv_object(e->env));
  } else {
    json_object_set_new(o, streq(d, "gemini") ? "httpUrl" : "url", json_string(e->url));
    json_object_set_new(o, "headers", kv_object(e->headers));
  }
  if (streq(d, "copilot")) {
    json_t *t = json_array();
    json_array_append_new(t, json_string("*"));
    json_object_set_new(o, "tools", t);
  }
  if (streq(d, "gemini"))
    json_object_set_new(o, "trust", json_true()); /* the sandbox is the boundary, as for its other tools */
  return o;
}

/* a TOML basic string */
static void toml_str(struct buf *b, const char *s)
{
  buf_puts(b, "\"");
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      buf_printf(b, "\\%c", c);
    else if (c < 0x20 || c == 0x7f)
      buf_printf(b, "\\u%04x", c);
    else
      buf_append(b, &c, 1);
  }
  buf_puts(b, "\"");
}

static void toml_table(struct buf *b, const struct strv *v)
{
  buf_puts(b, "{");
  for (size_t i = 0; v && i < v->n; i++) {
    size_t n = strcspn(v->v[i], "=");
    cleanup_free char *k = xstrndup(v->v[i], n);
    if (i)
      buf_puts(b, ",");
    toml_str(b, k);
    buf_puts(b, "=");
    toml_str(b, v->v[i][n] ? v->v[i] + n + 1 : "");
  }
  buf_puts(b, "}");
}

char *adr_mcp_codex_arg(const struct adr_mcp_entry *e)
{
  struct buf b;
  buf_init(&b, 0);
  buf_printf(&b, "mcp_servers.%s={", e->name);
  if (e->kind == ADR_MCP_STDIO) {
    buf_puts(&b, "command=");
    toml_str(&b, e->command);
    buf_puts(&b, ",args=[");
    for (size_t i = 0; e->args && i < e->args->n; i++) {
      if (i)
        buf_puts(&b, ",");
      toml_str(&b, e->args->v[i]);
    }
    buf_puts(&b, "],env=");
    toml_table(&b, e->env);
  } else {
    buf_puts(&b, "url=");
    toml_str(&b, e->url);
    buf_puts(&b, ",http_headers=");
    toml_table(&b, e->headers);
  }
  buf_puts(&b, "}");
  return buf_steal(&b);
}

/* ---- the sidecar's socket -------------------------------------------- */

/* node -e BRIDGE SOCKET: the agent's stdio to the socket and back */
const char adr_mcp_bridge_js[] =
  "const s=require('net').connect(process.argv[1]);"
  "process.stdin.pipe(s);s.pipe(process.stdout);"
  "s.on('error',e=>{process.stderr.write('adr mcp bridge: '+e.message+'\\n');process.exit(1)});"
  "s.on('close',()=>process.exit(0));";

/* node -e SERVE SOCKET ENVFILE NAME CMD ARGS...: one server process per
 * connection, its stdio on the connection, with the file's environment */
const char adr_mcp_serve_js[] =
  "const net=require('net'),fs=require('fs'),cp=require('child_process');"
  "const [sock,envf,name,...cmd]=process.argv.slice(1);"
  "const env=Object.assign({},process.env,JSON.parse(fs.readFileSync(envf,'utf8')));"
  "try{fs.unlinkSync(sock)}catch(e){}"
  "const srv=net.createServer(c=>{"
  "const p=cp.spawn(cmd[0],cmd.slice(1),{env,stdio:['pipe','pipe','inherit']});"
  "c.pipe(p.stdin);p.stdout.pipe(c);p.stdin.on('error',()=>{});"
  "p.on('exit',()=>c.end());"
  "p.on('error',e=>{console.error('adr mcp '+name+': '+e.message);c.destroy()});"
  "c.on('error',()=>p.kill());c.on('close',()=>p.kill());});"
  "srv.listen(sock,()=>{fs.chmodSync(sock,0o600);console.error('adr mcp '+name+': listening')});"
  "process.on('SIGTERM',()=>process.exit(0));";
