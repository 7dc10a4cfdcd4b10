#include "creds.h"

#include "buf.h"
#include "gwproto.h"
#include "parse.h"
#include "paths.h"
#include "runspec.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The upstream paths the relay serves, per API family, relative to the
 * upstream's base URL (which may or may not end in the version). */
static const char *const paths_anthropic[] = {
  "/v1/messages", "/v1/messages/count_tokens", "/v1/models", "/v1/models/*",
  "/messages", "/messages/count_tokens", "/models", "/models/*", NULL,
};
static const char *const paths_openai[] = {
  "/chat/completions", "/responses", "/responses/*", "/completions", "/embeddings", "/models", "/models/*",
  "/v1/chat/completions", "/v1/responses", "/v1/responses/*", "/v1/models", "/v1/models/*", NULL,
};
static const char *const paths_gemini[] = {
  "/v1beta/models", "/v1beta/models/*", "/v1/models", "/v1/models/*", "/models", "/models/*", NULL,
};

const char *const *adr_relay_api_paths(const char *api)
{
  if (streq(api, "anthropic"))
    return paths_anthropic;
  if (streq(api, "openai"))
    return paths_openai;
  if (streq(api, "gemini"))
    return paths_gemini;
  return NULL;
}

/* ---- the definition ---------------------------------------------------- */

static bool rel_ok(const char *p)
{
  return *p && p[0] != '/' && !strstr(p, "..");
}

static int want_str(json_t *o, const char *k, bool required, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, k);
  if (!v && !required)
    return 0;
  if (!json_is_string(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be a string", ctx, k);
  return 0;
}

static int want_strs(json_t *o, const char *k, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, k), *x;
  size_t i;
  if (!v)
    return 0;
  if (!json_is_array(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be an array of strings", ctx, k);
  json_array_foreach(v, i, x) if (!json_is_string(x)) return adr_err_set(err, EINVAL, "%s: \"%s\"[%zu] must be a string", ctx, k, i);
  return 0;
}

static int want_rel(json_t *o, const char *k, bool required, const char *ctx, adr_err *err)
{
  if (want_str(o, k, required, ctx, err) < 0)
    return -1;
  json_t *v = json_object_get(o, k);
  if (v && !rel_ok(json_string_value(v)))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be a path relative to HOME", ctx, k);
  return 0;
}

static int want_only(json_t *o, const char *const *known, const char *ctx, adr_err *err)
{
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v)
  {
    bool ok = false;
    for (size_t i = 0; known[i]; i++)
      ok = ok || streq(k, known[i]);
    if (!ok)
      return adr_err_set(err, EINVAL, "%s: unknown field \"%s\"", ctx, k);
  }
  return 0;
}

static bool route_name_ok(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > GW_ROUTE_NAME_MAX)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
      return false;
  return true;
}

/* a route's "key_json": [{"path", "at"}]: JSON files and the member in
 * each that may hold the route's key */
static int check_key_json(json_t *a, const char *ctx, adr_err *err)
{
  size_t i;
  json_t *x;
  if (!a)
    return 0;
  if (!json_is_array(a))
    return adr_err_set(err, EINVAL, "%s: \"key_json\" must be an array", ctx);
  json_array_foreach(a, i, x)
  {
    cleanup_free char *c = xasprintf("%s.key_json[%zu]", ctx, i);
    static const char *const kj[] = { "path", "at", NULL };
    if (!json_is_object(x))
      return adr_err_set(err, EINVAL, "%s must be an object", c);
    if (want_only(x, kj, c, err) < 0 || want_rel(x, "path", true, c, err) < 0 || want_str(x, "at", true, c, err) < 0)
      return -1;
  }
  return 0;
}

int adr_creds_check(json_t *d, const char *ctx0, adr_err *err)
{
  cleanup_free char *ctx = xasprintf("%s: \"credentials\"", ctx0);
  if (!json_is_object(d))
    return adr_err_set(err, EINVAL, "%s must be an object", ctx);
  static const char *const top[] = { "hide", "hide_if", "env_files", "routes", "providers", "json_set",
                                     "not_relayed", "comment", NULL };
  if (want_only(d, top, ctx, err) < 0 || want_strs(d, "hide", ctx, err) < 0)
    return -1;
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(d, "hide"), i, x) if (!rel_ok(json_string_value(x))) return adr_err_set(err, EINVAL, "%s: \"hide\"[%zu] must be a path relative to HOME", ctx, i);
  static const char *const ef[] = { "path", "json", "dotenv", NULL };
  static const char *const rt[] = { "name", "api", "upstream", "base_env", "key_env", "key_json", "args", "drop_env",
                                    NULL };
  static const char *const pv[] = { "path", "env", "at", "base", "key", "api", "apis", "builtin", "prefix",
                                    "secret_fields", "auth_path", NULL };
  static const char *const hi[] = { "path", "contains", NULL };
  static const char *const js[] = { "path", "at", "value", "when", "tail", "append", NULL };
  static const char *const nr[] = { "path", "env", "why", NULL };
  const char *lists[] = { "env_files", "routes", "providers", "json_set", "not_relayed", "hide_if" };
  const char *const *fields[] = { ef, rt, pv, js, nr, hi };
  for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
    json_t *a = json_object_get(d, lists[l]);
    if (!a)
      continue;
    if (!json_is_array(a))
      return adr_err_set(err, EINVAL, "%s: \"%s\" must be an array", ctx, lists[l]);
    json_array_foreach(a, i, x)
    {
      cleanup_free char *c = xasprintf("%s.%s[%zu]", ctx, lists[l], i);
      if (!json_is_object(x))
        return adr_err_set(err, EINVAL, "%s must be an object", c);
      if (want_only(x, fields[l], c, err) < 0)
        return -1;
      int r = 0;
      switch (l) {
      case 0:
        r = want_rel(x, "path", true, c, err) < 0 || want_str(x, "json", false, c, err) < 0 ? -1 : 0;
        if (r == 0 && !json_object_get(x, "json") && !json_is_true(json_object_get(x, "dotenv")))
          r = adr_err_set(err, EINVAL, "%s: needs \"json\" (where the variables are) or \"dotenv\": true", c);
        break;
      case 1:
        if (want_str(x, "name", true, c, err) < 0 || want_str(x, "api", true, c, err) < 0 ||
            want_str(x, "upstream", false, c, err) < 0 || want_str(x, "base_env", false, c, err) < 0 ||
            want_strs(x, "key_env", c, err) < 0 || want_strs(x, "args", c, err) < 0 ||
            want_strs(x, "drop_env", c, err) < 0)
          return -1;
        if (!route_name_ok(json_string_value(json_object_get(x, "name"))))
          return adr_err_set(err, EINVAL, "%s: \"name\" must be 1-" GW_STR(GW_ROUTE_NAME_MAX) " of a-z, 0-9, '-'", c);
        if (!adr_relay_api_paths(json_string_value(json_object_get(x, "api"))))
          return adr_err_set(err, EINVAL, "%s: \"api\" must be anthropic, openai or gemini", c);
        if (json_array_size(json_object_get(x, "key_env")) == 0)
          return adr_err_set(err, EINVAL, "%s: \"key_env\" must name at least one variable", c);
        if (!json_object_get(x, "upstream") && !json_object_get(x, "base_env"))
          return adr_err_set(err, EINVAL, "%s: needs \"upstream\" or \"base_env\"", c);
        if (check_key_json(json_object_get(x, "key_json"), c, err) < 0)
          return -1;
        break;
      case 2:
        if (want_rel(x, "path", false, c, err) < 0 || want_str(x, "env", false, c, err) < 0 ||
            want_str(x, "at", true, c, err) < 0 || want_str(x, "base", true, c, err) < 0 ||
            want_str(x, "key", true, c, err) < 0 || want_str(x, "api", true, c, err) < 0 ||
            want_str(x, "prefix", false, c, err) < 0 || want_strs(x, "secret_fields", c, err) < 0 ||
            want_rel(x, "auth_path", false, c, err) < 0)
          return -1;
        if (!json_object_get(x, "path") && !json_object_get(x, "env"))
          return adr_err_set(err, EINVAL, "%s: needs \"path\" or \"env\"", c);
        if (!json_is_object(json_object_get(x, "apis")))
          return adr_err_set(err, EINVAL, "%s: \"apis\" must map the agent's API names to anthropic, openai, gemini", c);
        {
          const char *k;
          json_t *v;
          json_object_foreach(json_object_get(x, "apis"), k, v) if (!json_is_string(v) || !adr_relay_api_paths(json_string_value(v))) return adr_err_set(err, EINVAL, "%s: \"apis\".\"%s\" must be anthropic, openai or gemini", c, k);
          json_t *b = json_object_get(x, "builtin");
          if (b && !json_is_object(b))
            return adr_err_set(err, EINVAL, "%s: \"builtin\" must be an object", c);
          json_object_foreach(b, k, v)
          {
            if (!json_is_object(v) || !json_is_string(json_object_get(v, "upstream")) ||
                !json_is_string(json_object_get(v, "api")) ||
                !adr_relay_api_paths(json_string_value(json_object_get(v, "api"))))
              return adr_err_set(err, EINVAL, "%s: \"builtin\".\"%s\" needs \"upstream\" and \"api\"", c, k);
          }
        }
        break;
      case 3: /* "value": a string, or null to remove */
        if (want_rel(x, "path", true, c, err) < 0 || want_str(x, "at", true, c, err) < 0 ||
            want_str(x, "when", false, c, err) < 0)
          return -1;
        if (!json_is_string(json_object_get(x, "value")) && !json_is_null(json_object_get(x, "value")))
          return adr_err_set(err, EINVAL, "%s: \"value\" must be a string or null", c);
        if (json_object_get(x, "tail") &&
            (!json_is_integer(json_object_get(x, "tail")) || json_integer_value(json_object_get(x, "tail")) < 1 ||
             json_integer_value(json_object_get(x, "tail")) > 64))
          return adr_err_set(err, EINVAL, "%s: \"tail\" must be an integer from 1 to 64", c);
        if (json_object_get(x, "append") && !json_is_boolean(json_object_get(x, "append")))
          return adr_err_set(err, EINVAL, "%s: \"append\" must be true or false", c);
        if (json_is_string(json_object_get(x, "value")) &&
            strstr(json_string_value(json_object_get(x, "value")), "{sentinel}") && !json_object_get(x, "when"))
          return adr_err_set(err, EINVAL, "%s: a \"value\" with {sentinel} needs \"when\" (the route)", c);
        break;
      case 5:
        if (want_rel(x, "path", true, c, err) < 0 || want_strs(x, "contains", c, err) < 0)
          return -1;
        break;
      case 4:
        if (want_rel(x, "path", false, c, err) < 0 || want_str(x, "env", false, c, err) < 0 ||
            want_str(x, "why", true, c, err) < 0)
          return -1;
        break;
      }
      if (r < 0)
        return -1;
    }
  }
  return 0;
}

/* ---- planning ---------------------------------------------------------- */

struct jfile { /* a config file being rewritten */
  char *rel;
  json_t *j;
};

struct planner {
  const struct adr_creds_in *in;
  struct adr_creds_plan *p;
  json_t *def;
  struct strv file_env;  /* KEY=VALUE read from the agent's env files */
  struct strv file_src;  /* where each came from, same index */
  struct jfile *jf;
  size_t n_jf;
  struct strv active_keys; /* variable names that now hold a sentinel */
  json_t *auth;            /* the agent's own login file of API keys, by provider (opencode's auth.json) */
  json_t *auth_seen;       /* providers that took their key from it */
  char *auth_shown;
};

/* The host path of a HOME-relative path, through the agent's config
 * entries; NULL when no entry covers it. */
static char *host_path(const struct planner *pl, const char *rel)
{
  const struct adr_agent *a = pl->in->agent;
  if (pl->in->config_file && a->config_file_home && streq(rel, a->config_file_home))
    return xstrdup(pl->in->config_file); /* --config-file replaces the agent's own */
  for (size_t i = 0; i < a->n_configs; i++) {
    const char *h = a->configs[i].home;
    size_t n = strlen(h);
    if (strncmp(rel, h, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
      continue;
    cleanup_free char *base = i == 0 && pl->in->config_dir ? xstrdup(pl->in->config_dir)
                                                             : adr_path_expand_home(a->configs[i].host, pl->in->host_home);
    return xasprintf("%s%s", base, rel + n);
  }
  return NULL;
}

static char *shown_path(const struct planner *pl, const char *path)
{
  const char *h = pl->in->host_home;
  size_t n = h ? strlen(h) : 0;
  if (n && strncmp(path, h, n) == 0 && path[n] == '/')
    return xasprintf("~%s", path + n);
  return xstrdup(path);
}

static const char *strv_get(const struct strv *s, const char *name)
{
  size_t n = strlen(name);
  for (size_t i = s ? s->n : 0; i-- > 0;)
    if (strncmp(s->v[i], name, n) == 0 && s->v[i][n] == '=')
      return s->v[i] + n + 1;
  return NULL;
}

/* A credential or base URL by variable name, from the sources in order.
 * *src says which (static or owned by pl). */
static const char *lookup(struct planner *pl, const char *name, char **owned, const char **src)
{
  *owned = NULL;
  const char *v = strv_get(pl->in->user_env, name);
  if (v) {
    *src = "-e";
    return v;
  }
  if (pl->in->secrets_dir && adr_secret_name_valid(name)) {
    cleanup_err adr_err e = NULL;
    if (adr_secret_get(pl->in->secrets_dir, name, owned, &e) == 0) {
      *src = "adr secret";
      return *owned;
    }
    if (e)
      strv_pushf(&pl->p->notes, "%s", e->msg);
  }
  v = pl->in->getenv ? pl->in->getenv(name) : NULL;
  if (v && *v) {
    *src = "the environment";
    return v;
  }
  size_t n = strlen(name);
  for (size_t i = pl->file_env.n; i-- > 0;)
    if (strncmp(pl->file_env.v[i], name, n) == 0 && pl->file_env.v[i][n] == '=' && pl->file_env.v[i][n + 1]) {
      *src = pl->file_src.v[i];
      return pl->file_env.v[i] + n + 1;
    }
  return NULL;
}

static json_t *jpath_get(json_t *o, const char *path)
{
  if (!*path)
    return o;
  cleanup_free char *c = xstrdup(path);
  char *save = NULL;
  for (char *t = strtok_r(c, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
    o = json_is_object(o) ? json_object_get(o, t) : NULL;
  return o;
}

/* Sets (or with v NULL removes) the member at a dotted path, making the
 * objects on the way. */
static void jpath_set(json_t *o, const char *path, json_t *v)
{
  cleanup_free char *c = xstrdup(path);
  char *last = strrchr(c, '.');
  if (last) {
    *last++ = '\0';
    char *save = NULL;
    for (char *t = strtok_r(c, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
      json_t *n = json_object_get(o, t);
      if (!json_is_object(n)) {
        if (!v)
          return;
        n = json_object();
        json_object_set_new(o, t, n);
      }
      o = n;
    }
  } else {
    last = c;
  }
  if (v)
    json_object_set_new(o, last, v);
  else
    json_object_del(o, last);
}

static json_t *load_json_file(const char *path, bool *missing, adr_err *err)
{
  *missing = false;
  struct buf b;
  buf_init(&b, 4 << 20);
  if (buf_read_file(&b, path) < 0) {
    int e = errno;
    buf_free(&b);
    if (e == ENOENT || e == ENOTDIR) {
      *missing = true;
      return NULL;
    }
    adr_err_sys(err, e, "'%s'", path);
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(b.data, b.len, 0, &je);
  buf_free(&b);
  if (!j)
    adr_err_set(err, EINVAL, "'%s':%d: %s", path, je.line, je.text);
  else if (!json_is_object(j)) {
    json_decref(j);
    j = NULL;
    adr_err_set(err, EINVAL, "'%s': not a JSON object", path);
  }
  return j;
}

/* The rewritten copy of a JSON config file (loaded once); NULL when the
 * file exists and cannot be read (then it is hidden, with a note). */
static json_t *jfile(struct planner *pl, const char *rel, bool create)
{
  for (size_t i = 0; i < pl->n_jf; i++)
    if (streq(pl->jf[i].rel, rel))
      return pl->jf[i].j;
  cleanup_free char *hp = host_path(pl, rel);
  if (!hp)
    return NULL;
  bool missing;
  cleanup_err adr_err e = NULL;
  json_t *j = load_json_file(hp, &missing, &e);
  if (!j && missing && !create)
    return NULL;
  if (!j && missing)
    j = json_object();
  if (!j) {
    strv_pushf(&pl->p->notes, "not staged (it may hold credentials and could not be read): %s", e->msg);
    strv_push(&pl->p->hide, rel);
  }
  pl->jf = xrealloc(pl->jf, (pl->n_jf + 1) * sizeof(*pl->jf));
  pl->jf[pl->n_jf].rel = xstrdup(rel);
  pl->jf[pl->n_jf].j = j;
  pl->n_jf++;
  return j;
}

static char *sentinel(void)
{
  unsigned char r[16];
  size_t got = 0;
  while (got < sizeof(r)) {
    ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      abort(); /* no randomness: nothing safe to do */
    got += (size_t)n;
  }
  char hex[33];
  for (size_t i = 0; i < sizeof(r); i++)
    snprintf(hex + 2 * i, 3, "%02x", r[i]);
  return xasprintf("adr-sentinel-%s", hex);
}

static bool https_url(const char *u)
{
  if (!str_has_prefix(u, "https://") || !u[8] || u[8] == '/')
    return false;
  for (const char *c = u; *c; c++)
    if (*c <= ' ' || *c >= 0x7f || *c == '?' || *c == '#' || *c == '@')
      return false;
  return true;
}

/* upstream without a trailing slash */
static char *trim_url(const char *u)
{
  char *s = xstrdup(u);
  size_t n = strlen(s);
  while (n > 9 && s[n - 1] == '/')
    s[--n] = '\0';
  return s;
}

static const char *route_add(struct planner *pl, const char *want, const char *upstream, const char *api,
                             const char *key, const char *src)
{
  char name[GW_ROUTE_NAME_MAX + 1];
  snprintf(name, sizeof(name), "%s", want);
  for (unsigned k = 2;; k++) {
    bool taken = false;
    for (size_t i = 0; i < pl->p->n_routes; i++)
      taken = taken || streq(pl->p->routes[i].name, name);
    if (!taken)
      break;
    char suf[12];
    int sl = snprintf(suf, sizeof(suf), "-%u", k);
    snprintf(name, sizeof(name), "%.*s%s", GW_ROUTE_NAME_MAX - sl, want, suf);
  }
  struct adr_creds_plan *p = pl->p;
  p->routes = xrealloc(p->routes, (p->n_routes + 1) * sizeof(*p->routes));
  struct adr_relay_route *r = &p->routes[p->n_routes++];
  r->name = xstrdup(name);
  r->upstream = trim_url(upstream);
  r->api = xstrdup(api);
  r->sentinel = sentinel();
  r->key = xstrdup(key);
  r->source = xstrdup(src);
  return r->name;
}

static bool key_ok(const char *k)
{
  return adr_secret_value_valid(k, strlen(k));
}

/* One dotenv line, as the dotenv packages read it: optional "export" and
 * blanks, NAME ([A-Za-z0-9_.-]), then "=" (blanks around it) or ": ", then
 * the value (quotes and an unquoted trailing comment removed).  Returns
 * the name's length (0: not an assignment); *val points into line, which
 * is modified. */
static size_t dotenv_line(char *line, char **name, char **val)
{
  char *l = line;
  while (*l == ' ' || *l == '\t')
    l++;
  if (str_has_prefix(l, "export") && (l[6] == ' ' || l[6] == '\t')) {
    l += 6;
    while (*l == ' ' || *l == '\t')
      l++;
  }
  size_t n = 0;
  while ((l[n] >= 'A' && l[n] <= 'Z') || (l[n] >= 'a' && l[n] <= 'z') || (l[n] >= '0' && l[n] <= '9') ||
         l[n] == '_' || l[n] == '.' || l[n] == '-')
    n++;
  if (n == 0)
    return 0;
  char *v = l + n;
  while (*v == ' ' || *v == '\t')
    v++;
  if (*v != '=' && !(*v == ':' && (v[1] == ' ' || v[1] == '\t')))
    return 0;
  v++;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t vl = strcspn(v, "\r");
  v[vl] = '\0';
  if (vl >= 2 && (v[0] == '"' || v[0] == '\'' || v[0] == '`') && strchr(v + 1, v[0])) {
    char *q = strchr(v + 1, v[0]);
    *q = '\0';
    v++;
  } else {
    char *hash = strstr(v, " #");
    if (hash)
      *hash = '\0';
    for (size_t e = strlen(v); e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
      v[e - 1] = '\0';
  }
  l[n] = '\0';
  *name = l;
  *val = v;
  return n;
}

/* env files: read their variables (for lookup) */
static void read_env_files(struct planner *pl)
{
  size_t i;
  json_t *ef;
  json_array_foreach(json_object_get(pl->def, "env_files"), i, ef)
  {
    const char *rel = json_string_value(json_object_get(ef, "path"));
    cleanup_free char *hp = host_path(pl, rel);
    if (!hp)
      continue;
    cleanup_free char *shown = shown_path(pl, hp);
    json_t *at = json_object_get(ef, "json");
    if (at) {
      json_t *j = jfile(pl, rel, false);
      json_t *o = j ? jpath_get(j, json_string_value(at)) : NULL;
      const char *k;
      json_t *v;
      json_object_foreach(o, k, v) if (json_is_string(v) && adr_valid_env_name(k, strlen(k)))
      {
        strv_pushf(&pl->file_env, "%s=%s", k, json_string_value(v));
        strv_push(&pl->file_src, shown);
      }
      continue;
    }
    struct buf b;
    buf_init(&b, 1 << 20);
    if (buf_read_file(&b, hp) == 0) {
      char *save = NULL;
      for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *name, *v;
        if (dotenv_line(line, &name, &v) == 0)
          continue;
        strv_pushf(&pl->file_env, "%s=%s", name, v);
        strv_push(&pl->file_src, shown);
      }
    } else if (errno != ENOENT && errno != ENOTDIR) { /* it may hold keys: not staged */
      strv_pushf(&pl->p->notes, "not staged (it may hold credentials and could not be read): '%s': %s", shown,
                 strerror(errno));
      strv_push(&pl->p->hide, rel);
    }
    buf_free(&b);
  }
}

/* env files: the sandbox's copies, with every credential variable of the
 * agent replaced by its sentinel (or dropped) and base URLs by the relay */
static void rewrite_env_files(struct planner *pl, const struct strv *set, const struct strv *drop)
{
  size_t i;
  json_t *ef;
  json_array_foreach(json_object_get(pl->def, "env_files"), i, ef)
  {
    const char *rel = json_string_value(json_object_get(ef, "path"));
    json_t *at = json_object_get(ef, "json");
    if (at) {
      json_t *j = jfile(pl, rel, false);
      json_t *o = j ? jpath_get(j, json_string_value(at)) : NULL;
      if (!json_is_object(o))
        continue;
      for (size_t k = 0; k < drop->n; k++)
        json_object_del(o, drop->v[k]);
      for (size_t k = 0; k < set->n; k++) {
        char *eq = strchr(set->v[k], '=');
        cleanup_free char *name = xstrndup(set->v[k], (size_t)(eq - set->v[k]));
        if (json_object_get(o, name))
          json_object_set_new(o, name, json_string(eq + 1));
      }
      continue;
    }
    cleanup_free char *hp = host_path(pl, rel);
    struct buf b, out;
    buf_init(&b, 1 << 20);
    if (!hp || buf_read_file(&b, hp) < 0) {
      buf_free(&b);
      continue;
    }
    buf_init(&out, 0);
    char *save = NULL;
    for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      cleanup_free char *copy = xstrdup(line);
      char *name, *v;
      bool handled = false;
      if (dotenv_line(copy, &name, &v)) {
        for (size_t k = 0; k < drop->n && !handled; k++)
          handled = streq(drop->v[k], name);
        const char *nv = strv_get(set, name);
        if (nv) {
          buf_printf(&out, "%s=%s\n", name, nv);
          handled = true;
        }
      }
      if (!handled)
        buf_printf(&out, "%s\n", line);
    }
    {
      struct adr_creds_plan *p = pl->p;
      p->overlays = xrealloc(p->overlays, (p->n_overlays + 1) * sizeof(*p->overlays));
      p->overlays[p->n_overlays].rel = xstrdup(rel);
      p->overlays[p->n_overlays].content = xstrndup(out.data ? out.data : "", out.len);
      p->n_overlays++;
    }
    buf_free(&out);
    buf_free(&b);
  }
}

/* The first key found in a route's "key_json" places; *src says where. */
static const char *key_from_json(struct planner *pl, json_t *places, char **src)
{
  size_t i;
  json_t *x;
  json_array_foreach(places, i, x)
  {
    const char *rel = json_string_value(json_object_get(x, "path"));
    json_t *j = jfile(pl, rel, false);
    const char *v = json_string_value(jpath_get(j, json_string_value(json_object_get(x, "at"))));
    if (v && *v) {
      cleanup_free char *hp = host_path(pl, rel);
      *src = shown_path(pl, hp);
      return v;
    }
  }
  return NULL;
}

/* The staged copies' "key_json" places: the sentinel where a key was, or
 * (sentinel NULL: the key is not relayed) nothing. */
static void key_json_set(struct planner *pl, json_t *places, const char *sentinel)
{
  size_t i;
  json_t *x;
  json_array_foreach(places, i, x)
  {
    json_t *j = jfile(pl, json_string_value(json_object_get(x, "path")), false);
    const char *at = json_string_value(json_object_get(x, "at"));
    if (!json_is_string(jpath_get(j, at)))
      continue;
    jpath_set(j, at, sentinel ? json_string(sentinel) : NULL);
  }
}

static void do_routes(struct planner *pl)
{
  struct adr_creds_plan *p = pl->p;
  cleanup_strv struct strv set = { 0 }, drop = { 0 };
  size_t i;
  json_t *rd;
  json_array_foreach(json_object_get(pl->def, "routes"), i, rd)
  {
    const char *name = json_string_value(json_object_get(rd, "name"));
    const char *api = json_string_value(json_object_get(rd, "api"));
    const char *base_env = json_string_value(json_object_get(rd, "base_env"));
    const char *up_def = json_string_value(json_object_get(rd, "upstream"));
    json_t *keys = json_object_get(rd, "key_env");
    const char *key = NULL, *ksrc = NULL, *kname = NULL;
    cleanup_free char *kown = NULL;
    size_t k;
    json_t *kv;
    json_array_foreach(keys, k, kv)
    {
      const char *n = json_string_value(kv);
      strv_push(&drop, n);
      if (!key) {
        key = lookup(pl, n, &kown, &ksrc);
        if (key)
          kname = n;
      }
    }
    cleanup_free char *kjsrc = NULL;
    if (!key) /* then the config files that hold it (claude's primaryApiKey) */
      key = key_from_json(pl, json_object_get(rd, "key_json"), &kjsrc);
    if (key && !kname) {
      ksrc = kjsrc;
      kname = json_string_value(json_array_get(keys, 0));
    }
    json_array_foreach(json_object_get(rd, "drop_env"), k, kv)
    {
      const char *n = json_string_value(kv);
      strv_push(&drop, n);
      cleanup_free char *o2 = NULL;
      const char *src2 = NULL;
      if (lookup(pl, n, &o2, &src2))
        strv_pushf(&p->notes, "%s from %s is not relayed and not passed", n, src2);
    }
    cleanup_free char *bown = NULL;
    const char *bsrc = NULL;
    const char *up = base_env ? lookup(pl, base_env, &bown, &bsrc) : NULL;
    if (!up)
      up = up_def;
    if (!key)
      continue;
    p->key_seen = true;
    cleanup_free char *why = !up              ? xasprintf("no %s", base_env)
                             : !https_url(up) ? xasprintf("%s '%s' is not an https URL", base_env ? base_env : "upstream", up)
                             : !key_ok(key)   ? xstrdup("not a valid key (printable, no spaces)")
                                              : NULL;
    if (why) {
      strv_pushf(&p->notes, "%s from %s is not relayed and not passed: %s", kjsrc ? "the key" : kname, ksrc, why);
      key_json_set(pl, json_object_get(rd, "key_json"), NULL);
      continue;
    }
    const char *rn = route_add(pl, name, up, api, key, ksrc);
    const char *sent = p->routes[p->n_routes - 1].sentinel;
    key_json_set(pl, json_object_get(rd, "key_json"), sent);
    strv_pushf(&set, "%s=%s", kname, sent);
    strv_pushf(&p->env, "%s=%s", kname, sent);
    strv_push(&pl->active_keys, kname);
    if (base_env) {
      strv_pushf(&set, "%s=" ADR_RELAY_PLACEHOLDER "/%s", base_env, rn);
      strv_pushf(&p->env, "%s=" ADR_RELAY_PLACEHOLDER "/%s", base_env, rn);
      strv_push(&p->drop_env, base_env);
    }
    json_t *a;
    json_array_foreach(json_object_get(rd, "args"), k, a)
    {
      cleanup_free char *base = xasprintf(ADR_RELAY_PLACEHOLDER "/%s", rn);
      cleanup_free char *t1 = adr_str_replace(json_string_value(a), "{base}", base);
      strv_push_take(&p->args, adr_str_replace(t1, "{key_env}", kname));
    }
  }
  for (size_t d = 0; d < drop.n; d++)
    strv_push(&p->drop_env, drop.v[d]);
  /* credentials of routes that are not active: not staged either */
  cleanup_strv struct strv gone = { 0 };
  for (size_t d = 0; d < drop.n; d++)
    if (!strv_get(&set, drop.v[d]))
      strv_push(&gone, drop.v[d]);
  rewrite_env_files(pl, &set, &gone);
}

static bool upper_name(const char *v)
{
  if (!((*v >= 'A' && *v <= 'Z') || *v == '_'))
    return false;
  for (; *v; v++)
    if (!((*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') || *v == '_'))
      return false;
  return true;
}

/* "$NAME", "${NAME}", "{env:NAME}": the variable's name; else NULL */
static char *key_ref(const char *v)
{
  size_t n = strlen(v);
  if (str_has_prefix(v, "${") && n > 3 && v[n - 1] == '}')
    return xstrndup(v + 2, n - 3);
  if (str_has_prefix(v, "{env:") && n > 6 && v[n - 1] == '}')
    return xstrndup(v + 5, n - 6);
  if (v[0] == '$' && n > 1)
    return xstrdup(v + 1);
  return NULL;
}

/* Providers in a JSON config (pi's models.json, opencode's config): each
 * provider with a key becomes a route; its copy gets the relay's URL and
 * the sentinel. */
static void providers_in(struct planner *pl, json_t *pd, json_t *doc, const char *where)
{
  struct adr_creds_plan *p = pl->p;
  const char *at = json_string_value(json_object_get(pd, "at"));
  const char *basep = json_string_value(json_object_get(pd, "base"));
  const char *keyp = json_string_value(json_object_get(pd, "key"));
  const char *apip = json_string_value(json_object_get(pd, "api"));
  const char *prefix = json_string_value(json_object_get(pd, "prefix"));
  json_t *apis = json_object_get(pd, "apis"), *builtin = json_object_get(pd, "builtin");
  json_t *provs = jpath_get(doc, at);
  const char *id;
  json_t *pv;
  json_object_foreach(provs, id, pv)
  {
    if (!json_is_object(pv))
      continue;
    size_t f;
    json_t *sf;
    json_array_foreach(json_object_get(pd, "secret_fields"), f, sf)
    {
      const char *fp = json_string_value(sf);
      if (jpath_get(pv, fp)) { /* e.g. headers: may carry tokens the relay does not know */
        strv_pushf(&p->notes, "provider '%s' in %s: \"%s\" is not relayed and not staged", id, where, fp);
        jpath_set(pv, fp, NULL);
      }
    }
    json_t *kj = jpath_get(pv, keyp);
    const char *kval = json_string_value(kj);
    const char *authsrc = NULL;
    if (!kval) { /* no key here: the agent's own login file may have one */
      json_t *a = json_object_get(pl->auth, id);
      if (!streq(json_string_value(json_object_get(a, "type")), "api") || !json_is_string(json_object_get(a, "key")))
        continue;
      kval = json_string_value(json_object_get(a, "key"));
      authsrc = pl->auth_shown;
      json_object_set_new(pl->auth_seen, id, json_true());
    }
    cleanup_free char *ref = authsrc ? NULL : key_ref(kval);
    if (!ref && !authsrc && upper_name(kval)) { /* a bare variable name, as some versions read it */
      cleanup_free char *o2 = NULL;
      const char *src2 = NULL;
      if (lookup(pl, kval, &o2, &src2))
        ref = xstrdup(kval);
    }
    cleanup_free char *kown = NULL;
    const char *key = kval, *ksrc = authsrc ? authsrc : where;
    if (ref) {
      key = adr_valid_env_name(ref, strlen(ref)) ? lookup(pl, ref, &kown, &ksrc) : NULL;
      if (!key)
        continue; /* a reference to nothing: no credential in it */
      strv_push(&p->drop_env, ref);
    }
    p->key_seen = true;
    if (!ref && (kval[0] == '!' || str_has_prefix(kval, "{file:"))) {
      strv_pushf(&p->notes, "provider '%s' in %s: a key from a command or file is not relayed and not staged", id,
                 where);
      jpath_set(pv, keyp, NULL);
      continue;
    }
    json_t *bj = jpath_get(pv, basep);
    const char *up = json_string_value(bj);
    const char *api = NULL;
    json_t *aj = jpath_get(pv, apip);
    if (json_is_string(aj))
      api = json_string_value(json_object_get(apis, json_string_value(aj)));
    json_t *bi = json_object_get(builtin, id);
    if (!up && bi)
      up = json_string_value(json_object_get(bi, "upstream"));
    if (!api && bi)
      api = json_string_value(json_object_get(bi, "api"));
    const char *why = !up ? "no base URL" : !https_url(up) ? "its base URL is not https"
                      : !api                               ? "its API is not one the relay knows"
                      : !key_ok(key)                       ? "not a valid key"
                                                           : NULL;
    if (why) {
      strv_pushf(&p->notes, "provider '%s' in %s: %s; its key is not relayed and not staged", id, where, why);
      jpath_set(pv, keyp, NULL);
      continue;
    }
    char want[GW_ROUTE_NAME_MAX + 1];
    size_t w = 0;
    for (const char *c = prefix ? prefix : ""; *c && w < 16; c++)
      want[w++] = *c;
    for (const char *c = id; *c && w < GW_ROUTE_NAME_MAX; c++) {
      char ch = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
      want[w++] = ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) ? ch : '-';
    }
    want[w] = '\0';
    if (!w)
      snprintf(want, sizeof(want), "provider");
    const char *rn = route_add(pl, want, up, api, key, ksrc);
    jpath_set(pv, keyp, json_string(p->routes[p->n_routes - 1].sentinel));
    cleanup_free char *base = xasprintf(ADR_RELAY_PLACEHOLDER "/%s", rn);
    jpath_set(pv, basep, json_string(base));
  }
}

static void do_providers(struct planner *pl)
{
  struct adr_creds_plan *p = pl->p;
  size_t i;
  json_t *pd, *env_pd = NULL;
  json_array_foreach(json_object_get(pl->def, "providers"), i, pd)
  {
    const char *ap = json_string_value(json_object_get(pd, "auth_path"));
    cleanup_free char *hp = ap && !pl->auth ? host_path(pl, ap) : NULL;
    bool missing;
    cleanup_err adr_err e = NULL;
    if (hp && (pl->auth = load_json_file(hp, &missing, &e)) != NULL) {
      pl->auth_seen = json_object();
      pl->auth_shown = shown_path(pl, hp);
    }
  }
  json_array_foreach(json_object_get(pl->def, "providers"), i, pd)
  {
    const char *rel = json_string_value(json_object_get(pd, "path"));
    if (rel) {
      json_t *doc = jfile(pl, rel, false);
      if (doc) {
        cleanup_free char *hp = host_path(pl, rel);
        cleanup_free char *shown = shown_path(pl, hp);
        providers_in(pl, pd, doc, shown);
      }
    }
    if (json_object_get(pd, "env"))
      env_pd = pd;
  }
  if (!env_pd)
    return;
  /* the variable holding a config: the user's (-e), rewritten; plus the
   * providers whose only key is in the login file, added */
  const char *env = json_string_value(json_object_get(env_pd, "env"));
  const char *v = strv_get(pl->in->user_env, env);
  json_t *doc = NULL;
  if (v) {
    json_error_t je;
    doc = json_loads(v, 0, &je);
    strv_push(&p->drop_env, env);
    if (!json_is_object(doc)) {
      strv_pushf(&p->notes, "%s is not a JSON object: not passed (it may hold credentials)", env);
      json_decref(doc);
      return;
    }
  }
  const char *at = json_string_value(json_object_get(env_pd, "at"));
  json_t *builtin = json_object_get(env_pd, "builtin");
  const char *id;
  json_t *a;
  json_object_foreach(pl->auth, id, a)
  {
    if (json_object_get(pl->auth_seen, id) || !streq(json_string_value(json_object_get(a, "type")), "api") ||
        (doc && json_object_get(jpath_get(doc, at), id))) /* the config below names it */
      continue;
    p->key_seen = true;
    if (!json_object_get(builtin, id)) {
      strv_pushf(&p->notes, "the key for provider '%s' in %s is not relayed: the provider has no base URL", id,
                 pl->auth_shown);
      continue;
    }
    if (!doc)
      doc = json_object();
    json_t *provs = jpath_get(doc, at);
    if (!json_is_object(provs)) {
      jpath_set(doc, at, json_object());
      provs = jpath_get(doc, at);
    }
    if (!json_object_get(provs, id))
      json_object_set_new(provs, id, json_object());
  }
  if (!doc)
    return;
  providers_in(pl, env_pd, doc, env);
  char *s2 = json_dumps(doc, JSON_COMPACT);
  strv_pushf(&p->env, "%s=%s", env, s2);
  free(s2);
  json_decref(doc);
}

static bool route_active(const struct adr_creds_plan *p, const char *name)
{
  for (size_t i = 0; i < p->n_routes; i++)
    if (streq(p->routes[i].name, name))
      return true;
  return false;
}

static const char *route_sentinel(const struct adr_creds_plan *p, const char *name)
{
  for (size_t i = 0; i < p->n_routes; i++)
    if (streq(p->routes[i].name, name))
      return p->routes[i].sentinel;
  return NULL;
}

/* A json_set entry with a string value: "{sentinel}" is the route's
 * sentinel, "tail" keeps its last N characters (claude remembers an
 * approved key by its last 20), "append" adds it to an array once. */
static void json_set_value(json_t *j, json_t *x, const char *sentinel)
{
  const char *at = json_string_value(json_object_get(x, "at"));
  cleanup_free char *v = adr_str_replace(json_string_value(json_object_get(x, "value")), "{sentinel}",
                                         sentinel ? sentinel : "");
  json_int_t tail = json_integer_value(json_object_get(x, "tail"));
  const char *val = v;
  if (tail > 0 && strlen(v) > (size_t)tail)
    val = v + strlen(v) - (size_t)tail;
  if (!json_is_true(json_object_get(x, "append"))) {
    jpath_set(j, at, json_string(val));
    return;
  }
  json_t *arr = jpath_get(j, at);
  if (!json_is_array(arr)) {
    arr = json_array();
    jpath_set(j, at, arr);
  }
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) if (streq(json_string_value(e), val)) return;
  json_array_append_new(arr, json_string(val));
}

/* The last characters of a key by which an agent may remember it (claude
 * keeps the last 20 of an approved key): as secret as the key. */
#define KEY_TAIL 20
static const char *key_tail(const char *key)
{
  size_t n = strlen(key);
  return n > KEY_TAIL ? key + n - KEY_TAIL : key;
}

/* Every string in a staged JSON copy: a relayed key becomes its sentinel,
 * and so does a string that is the key's tail (12 characters or more) */
static void scrub_json(json_t *j, const struct adr_creds_plan *p, unsigned depth)
{
  if (depth > 64)
    return;
  if (json_is_object(j)) {
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) scrub_json(v, p, depth + 1);
    return;
  }
  if (json_is_array(j)) {
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) scrub_json(v, p, depth + 1);
    return;
  }
  const char *s = json_string_value(j);
  if (!s)
    return;
  for (size_t r = 0; r < p->n_routes; r++) {
    const char *key = p->routes[r].key, *sen = p->routes[r].sentinel;
    size_t kl = strlen(key), sl = strlen(s), nl = strlen(sen);
    if (strstr(s, key)) {
      char *t = adr_str_replace(s, key, sen);
      json_string_set(j, t);
      free(t);
      s = json_string_value(j);
    } else if (sl >= 12 && sl < kl && streq(key + kl - sl, s)) {
      json_string_set(j, sl < nl ? sen + nl - sl : sen);
      s = json_string_value(j);
    }
  }
}

/* What the planner read (keys among it) is wiped on every way out. */
static void planner_release(struct planner *pl)
{
  for (size_t k = 0; k < pl->file_env.n; k++)
    explicit_bzero(pl->file_env.v[k], strlen(pl->file_env.v[k]));
  strv_free(&pl->file_env);
  strv_free(&pl->file_src);
  strv_free(&pl->active_keys);
  json_decref(pl->auth);
  json_decref(pl->auth_seen);
  free(pl->auth_shown);
  json_decref(pl->def);
  pl->auth = pl->auth_seen = pl->def = NULL;
  pl->auth_shown = NULL;
}

static bool holds_key(const struct adr_creds_plan *p, const char *data, size_t len, const char **route)
{
  for (size_t r = 0; r < p->n_routes; r++) {
    const char *key = p->routes[r].key, *t = key_tail(key);
    if (memmem(data, len, key, strlen(key)) || memmem(data, len, t, strlen(t))) {
      *route = p->routes[r].name;
      return true;
    }
  }
  return false;
}

/* --config-file names the file the user wants staged: it is staged as a
 * rewritten copy (the planner read it in place of the agent's own), or as
 * it is when no part of the definition reads it and it holds no relayed
 * key; anything else refuses the run rather than stage less than asked. */
static int config_file_check(struct planner *pl, adr_err *err)
{
  const struct adr_creds_in *in = pl->in;
  const char *rel = in->agent->config_file_home;
  struct adr_creds_plan *p = pl->p;
  if (!in->config_file || !rel)
    return 0;
  cleanup_free char *shown = shown_path(pl, in->config_file);
  if (strv_contains(&p->hide, rel)) {
    for (size_t i = p->notes.n; i-- > 0;)
      if (strstr(p->notes.v[i], shown))
        return adr_err_set(err, EINVAL, "--config-file '%s': %s; not run", shown, p->notes.v[i]);
    return adr_err_set(err, EINVAL, "--config-file '%s': it may hold credentials and is not staged; not run", shown);
  }
  for (size_t i = 0; i < p->n_overlays; i++)
    if (streq(p->overlays[i].rel, rel))
      return 0; /* the rewritten copy goes in */
  struct buf b;
  buf_init(&b, 4 << 20);
  if (buf_read_file(&b, in->config_file) < 0) {
    int e = errno;
    buf_free(&b);
    return adr_err_sys(err, e, "--config-file '%s'", shown);
  }
  const char *route = NULL;
  bool hit = false;
  if (b.data && b.len) {
    hit = holds_key(p, b.data, b.len, &route);
    explicit_bzero(b.data, b.len);
  }
  buf_free(&b);
  if (hit)
    return adr_err_set(err, EINVAL,
                       "--config-file '%s': holds the %s key that the relay carries, and %s does not rewrite this "
                       "file; not run (remove the key from it)",
                       shown, route, in->agent->name);
  return 0;
}

int adr_creds_plan(const struct adr_creds_in *in, struct adr_creds_plan *p, adr_err *err)
{
  memset(p, 0, sizeof(*p));
  const char *text = in->agent->credentials;
  if (!text)
    return 0;
  json_error_t je;
  json_t *def = json_loads(text, 0, &je);
  if (!def)
    return adr_err_set(err, EINVAL, "agent '%s': credentials: %s", in->agent->name, je.text);
  struct planner pl = { .in = in, .p = p, .def = def };
  size_t i;
  json_t *x;
  json_array_foreach(json_object_get(def, "hide"), i, x) strv_push(&p->hide, json_string_value(x));
  json_array_foreach(json_object_get(def, "hide_if"), i, x)
  {
    const char *rel = json_string_value(json_object_get(x, "path"));
    cleanup_free char *hp = host_path(&pl, rel);
    struct buf b;
    buf_init(&b, 4 << 20);
    if (hp && buf_read_file(&b, hp) == 0) {
      size_t k;
      json_t *c;
      bool hit = false;
      json_array_foreach(json_object_get(x, "contains"), k, c) hit = hit || memmem(b.data, b.len, json_string_value(c), strlen(json_string_value(c)));
      if (hit) {
        cleanup_free char *shown = shown_path(&pl, hp);
        strv_pushf(&p->notes, "not staged (it may hold credentials the relay does not carry): '%s'", shown);
        strv_push(&p->hide, rel);
      }
    }
    buf_free(&b);
  }
  read_env_files(&pl);
  do_routes(&pl);
  do_providers(&pl);
  for (size_t f = 0; f < pl.n_jf; f++) /* keys left anywhere else in a copy: sentinels too */
    scrub_json(pl.jf[f].j, p, 0);
  json_array_foreach(json_object_get(def, "json_set"), i, x)
  {
    const char *when = json_string_value(json_object_get(x, "when"));
    if (when && !route_active(p, when))
      continue;
    json_t *val = json_object_get(x, "value");
    const char *at = json_string_value(json_object_get(x, "at"));
    json_t *j = jfile(&pl, json_string_value(json_object_get(x, "path")), !json_is_null(val));
    if (j && json_is_null(val) && jpath_get(j, at))
      jpath_set(j, at, NULL);
    else if (j && json_is_string(val))
      json_set_value(j, x, when ? route_sentinel(p, when) : NULL);
  }
  if (p->n_routes == 0) {
    json_array_foreach(json_object_get(def, "routes"), i, x)
    {
      if (p->key_seen)
        break; /* found, not relayed: the notes say why */
      size_t k;
      json_t *kn;
      json_array_foreach(json_object_get(x, "key_env"), k, kn) if (!strv_contains(&p->key_names, json_string_value(kn)))
          strv_push(&p->key_names, json_string_value(kn));
    }
    json_array_foreach(json_object_get(def, "not_relayed"), i, x)
    {
      const char *rel = json_string_value(json_object_get(x, "path"));
      const char *env = json_string_value(json_object_get(x, "env"));
      const char *why = json_string_value(json_object_get(x, "why"));
      bool present = false;
      if (rel) {
        cleanup_free char *hp = host_path(&pl, rel);
        present = hp && access(hp, F_OK) == 0;
      } else if (env) {
        present = strv_get(in->user_env, env) || (in->getenv && in->getenv(env) && *in->getenv(env));
      }
      if (present)
        strv_pushf(&p->notes, "%s", why);
    }
  }
  for (size_t f = 0; f < pl.n_jf; f++) {
    if (!pl.jf[f].j || strv_contains(&p->hide, pl.jf[f].rel)) { /* hidden: read, never staged */
      json_decref(pl.jf[f].j);
      free(pl.jf[f].rel);
      continue;
    }
    char *s = json_dumps(pl.jf[f].j, JSON_INDENT(2));
    p->overlays = xrealloc(p->overlays, (p->n_overlays + 1) * sizeof(*p->overlays));
    p->overlays[p->n_overlays].rel = pl.jf[f].rel;
    p->overlays[p->n_overlays].content = s;
    p->n_overlays++;
    json_decref(pl.jf[f].j);
  }
  free(pl.jf);
  /* fail closed: no real key on the sandbox's side, whatever a config
   * held it in; a copy that has one is not staged, a variable or an
   * argument that has one is an error */
  for (size_t r = 0; r < p->n_routes; r++) {
    const char *key = p->routes[r].key;
    for (size_t k = 0; k < p->n_overlays; k++) {
      if (strstr(p->overlays[k].content, key)) { /* anywhere else in the text: the sentinel too */
        char *t = adr_str_replace(p->overlays[k].content, key, p->routes[r].sentinel);
        explicit_bzero(p->overlays[k].content, strlen(p->overlays[k].content));
        free(p->overlays[k].content);
        p->overlays[k].content = t;
      }
      if (!strstr(p->overlays[k].content, key) && !strstr(p->overlays[k].content, key_tail(key)))
        continue;
      cleanup_free char *hp = host_path(&pl, p->overlays[k].rel);
      cleanup_free char *shown = hp ? shown_path(&pl, hp) : xasprintf("~/%s", p->overlays[k].rel);
      strv_pushf(&p->notes, "not staged (a key the relay carries is left in it): '%s'", shown);
      strv_push(&p->hide, p->overlays[k].rel);
      explicit_bzero(p->overlays[k].content, strlen(p->overlays[k].content));
      free(p->overlays[k].rel);
      free(p->overlays[k].content);
      p->overlays[k--] = p->overlays[--p->n_overlays];
    }
    bool leak = false;
    for (size_t k = 0; k < p->env.n; k++)
      leak = leak || strstr(p->env.v[k], key);
    for (size_t k = 0; k < p->args.n; k++)
      leak = leak || strstr(p->args.v[k], key);
    if (leak) {
      planner_release(&pl);
      return adr_err_set(err, EINVAL, "agent '%s': the %s key (from %s) would enter the sandbox in a variable; not run",
                         in->agent->name, p->routes[r].name, p->routes[r].source);
    }
  }
  int ret = config_file_check(&pl, err);
  planner_release(&pl);
  return ret;
}

void adr_creds_plan_free(struct adr_creds_plan *p)
{
  for (size_t i = 0; i < p->n_routes; i++) {
    struct adr_relay_route *r = &p->routes[i];
    if (r->key)
      explicit_bzero(r->key, strlen(r->key));
    free(r->name);
    free(r->upstream);
    free(r->api);
    free(r->sentinel);
    free(r->key);
    free(r->source);
  }
  free(p->routes);
  /* on the error paths these may still hold a key (a variable or an
   * argument that would have carried it): wiped like the keys */
  for (size_t i = 0; i < p->n_overlays; i++) {
    free(p->overlays[i].rel);
    if (p->overlays[i].content)
      explicit_bzero(p->overlays[i].content, strlen(p->overlays[i].content));
    free(p->overlays[i].content);
  }
  free(p->overlays);
  strv_wipe(&p->env);
  strv_free(&p->drop_env);
  strv_wipe(&p->args);
  strv_free(&p->hide);
  strv_free(&p->notes);
  strv_free(&p->key_names);
  memset(p, 0, sizeof(*p));
}

char *adr_creds_route_file(const struct adr_creds_plan *p)
{
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "# adr credential relay routes (written by adr; holds keys)\n");
  for (size_t i = 0; i < p->n_routes; i++) {
    const struct adr_relay_route *r = &p->routes[i];
    buf_printf(&b, GW_ROUTE_KW_ROUTE " %s %s\n" GW_ROUTE_KW_SENTINEL " %s\n" GW_ROUTE_KW_KEY " %s\n", r->name,
               r->upstream, r->sentinel, r->key);
    for (const char *const *pp = adr_relay_api_paths(r->api); pp && *pp; pp++)
      buf_printf(&b, GW_ROUTE_KW_PATH " %s\n", *pp);
  }
  return buf_steal(&b);
}

bool adr_creds_secret_name(const char *name)
{
  static const char *const words[] = { "API_KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD",
                                       "CREDENTIAL", "PRIVATE_KEY", "ACCESS_KEY" };
  cleanup_free char *up = xstrdup(name);
  for (char *c = up; *c; c++)
    if (*c >= 'a' && *c <= 'z')
      *c = (char)(*c - 'a' + 'A');
  for (size_t i = 0; i < ARRAY_SIZE(words); i++)
    if (strstr(up, words[i]))
      return true;
  return false;
}

char *adr_creds_subst(const char *s, const char *url)
{
  return adr_str_replace(s, ADR_RELAY_PLACEHOLDER, url);
}

/* ---- mounts ------------------------------------------------------------ */

/* a and b (absolute, normalised) are the same path or one holds the other */
static bool paths_overlap(const char *a, const char *b)
{
  size_t na = strlen(a), nb = strlen(b);
  size_t n = na < nb ? na : nb;
  if (strncmp(a, b, n) != 0)
    return false;
  if (na == nb)
    return true;
  const char *longer = na > nb ? a : b;
  return n == 1 || longer[n] == '/'; /* n == 1: "/" holds everything */
}

/* The host's own secrets that no agent definition names. */
static const char *const host_secrets[] = {
  "~/.ssh", "~/.aws", "~/.docker", "~/.gnupg", "~/.git-credentials", "~/.netrc", "~/.npmrc", "~/.pypirc",
  "~/.kube", "~/.config/gh", "~/.config/gcloud", "~/.azure",
};

/* path (~ allowed) resolved, or NULL when it does not exist */
static char *resolved(const char *path, const char *home)
{
  cleanup_free char *p = adr_path_expand_home(path, home);
  return p[0] == '/' ? realpath(p, NULL) : NULL;
}

int adr_creds_mount_check(const struct adr_mount *m, const struct adr_creds_guard *g, struct strv *notes,
                          adr_err *err)
{
  cleanup_free char *mt = xasprintf("%s:%s", m->host, m->container);
  /* adr's own state (relay route files with keys, the secret store, other
   * sandboxes' staged copies) and config (what the next run obeys) */
  const char *own[] = { g->state_dir, g->config_dir };
  for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
    cleanup_free char *r = own[i] ? realpath(own[i], NULL) : NULL;
    if (r && paths_overlap(m->host, r))
      return adr_err_set(err, EPERM, "mount '%s': it %s adr's own %s '%s' (keys, and what the next run obeys)",
                         mt, streq(m->host, r) ? "is" : "overlaps", i == 0 ? "state" : "config", r);
  }
  /* the sandbox's staged config: reached through the planner only */
  for (size_t c = 0; c < g->agent->n_configs + 2; c++) {
    cleanup_free char *t = c == 0   ? xstrdup(ADR_SANDBOX_STAGE)
                           : c == 1 ? xstrdup("/run/adr")
                                    : xasprintf("%s/%s", ADR_SANDBOX_HOME, g->agent->configs[c - 2].home);
    if (paths_overlap(m->container, t) && !streq(m->container, "/"))
      return adr_err_set(err, EPERM,
                         "mount '%s': '%s' %s %s's staged configuration; use -c DIR or --config-file FILE", mt,
                         m->container, streq(m->container, t) ? "is" : "overlaps", g->agent->name);
  }
  /* every agent's config home, and the host's own secret paths */
  for (size_t a = 0; a < g->agents->n; a++) {
    const struct adr_agent *ag = &g->agents->v[a];
    for (size_t c = 0; c < ag->n_configs; c++) {
      cleanup_free char *r = resolved(ag->configs[c].host, g->home);
      if (!r || !paths_overlap(m->host, r))
        continue;
      if (!g->relay) {
        strv_pushf(notes, "mount '%s' puts %s's configuration '%s' (and any login in it) in the sandbox", mt,
                   ag->name, r);
        continue;
      }
      return adr_err_set(err, EPERM,
                         "mount '%s': it %s %s's configuration '%s', which may hold logins and keys; use -c DIR "
                         "or --config-file FILE (staged through the credential relay), or --no-relay",
                         mt, streq(m->host, r) ? "is" : "overlaps", ag->name, r);
    }
  }
  for (size_t i = 0; i < ARRAY_SIZE(host_secrets); i++) {
    cleanup_free char *r = resolved(host_secrets[i], g->home);
    if (!r || !paths_overlap(m->host, r))
      continue;
    if (!g->relay) {
      strv_pushf(notes, "mount '%s' puts '%s' in the sandbox", mt, r);
      continue;
    }
    return adr_err_set(err, EPERM, "mount '%s': it %s '%s', which holds credentials; mount a directory without them",
                       mt, streq(m->host, r) ? "is" : "overlaps", r);
  }
  return 0;
}
