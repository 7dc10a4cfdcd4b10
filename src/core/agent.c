#include "agent.h"
#include "mcp.h"
#include "creds.h"
#include "netpolicy.h"
#include "buf.h"
#include "builtin.h"
#include "parse.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>

void adr_agent_free(struct adr_agent *a)
{
  free(a->name);
  free(a->description);
  free(a->npm_package);
  free(a->npm_version);
  free(a->binary);
  for (size_t i = 0; i < a->n_configs; i++) {
    free(a->configs[i].host);
    free(a->configs[i].home);
  }
  free(a->configs);
  free(a->config_file_home);
  free(a->skills_dir);
  free(a->mcp_dialect);
  free(a->mcp_json);
  free(a->mcp_at);
  strv_free(&a->env);
  strv_free(&a->interactive_args);
  strv_free(&a->headless_args);
  strv_free(&a->model_args);
  strv_free(&a->api_hosts);
  strv_free(&a->login_hosts);
  free(a->network);
  free(a->credentials);
  free(a->source);
  memset(a, 0, sizeof(*a));
}

bool adr_agent_name_valid(const char *s)
{
  if (!*s || strlen(s) > 64 || *s == '-' || *s == '.')
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
      return false;
  return true;
}

static const char *const known_top[] = { "name",        "description", "npm",     "binary",    "config",
                                         "config_file", "env",         "args",    "api_hosts", "login_hosts",
                                         "network",     "credentials", "comment", "skills",    "mcp" };

static int get_str(json_t *o, const char *key, bool required, char **out, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    if (required)
      return adr_err_set(err, EINVAL, "%s: missing \"%s\"", ctx, key);
    return 0;
  }
  if (!json_is_string(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be a string", ctx, key);
  *out = xstrdup(json_string_value(v));
  return 0;
}

static bool safe_home_rel(const char *p);

/* "mcp": {"dialect": D, "json": FILE, "at": MEMBER} (a JSON dialect) or
 * {"dialect": "codex"} (arguments) */
static int get_mcp(json_t *j, struct adr_agent *a, const char *ctx, adr_err *err)
{
  json_t *m = json_object_get(j, "mcp");
  if (!m)
    return 0;
  const char *k;
  json_t *v;
  if (!json_is_object(m))
    return adr_err_set(err, EINVAL, "%s: \"mcp\" must be an object", ctx);
  json_object_foreach (m, k, v)
    if (!streq(k, "dialect") && !streq(k, "json") && !streq(k, "at"))
      return adr_err_set(err, EINVAL, "%s: \"mcp\": unknown field \"%s\"", ctx, k);
  if (get_str(m, "dialect", true, &a->mcp_dialect, ctx, err) < 0 ||
      get_str(m, "json", false, &a->mcp_json, ctx, err) < 0 || get_str(m, "at", false, &a->mcp_at, ctx, err) < 0)
    return -1;
  if (!adr_mcp_dialect_valid(a->mcp_dialect))
    return adr_err_set(err, EINVAL, "%s: \"mcp\": unknown dialect \"%s\" (claude, gemini, copilot, opencode, codex)",
                       ctx, a->mcp_dialect);
  bool js = adr_mcp_dialect_json(a->mcp_dialect);
  if (js != (a->mcp_json && a->mcp_at))
    return adr_err_set(err, EINVAL, "%s: \"mcp\": the %s dialect %s \"json\" and \"at\"", ctx, a->mcp_dialect,
                       js ? "needs" : "takes no");
  if (js && (!safe_home_rel(a->mcp_json) || !*a->mcp_at || strchr(a->mcp_at, '.')))
    return adr_err_set(err, EINVAL, "%s: \"mcp\": \"json\" is a file below HOME, \"at\" a member name", ctx);
  return 0;
}

static int get_strv(json_t *o, const char *key, struct strv *out, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, key);
  if (v == NULL)
    return 0;
  if (!json_is_array(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be an array of strings", ctx, key);
  size_t i;
  json_t *x;
  json_array_foreach (v, i, x) {
    if (!json_is_string(x))
      return adr_err_set(err, EINVAL, "%s: \"%s\"[%zu] must be a string", ctx, key, i);
    strv_push(out, json_string_value(x));
  }
  return 0;
}

static bool safe_home_rel(const char *p)
{
  if (!*p || p[0] == '/' || strstr(p, ".."))
    return false;
  return true;
}

/* Every host a definition names is an allow entry: checked as one. */
static int check_hosts(const struct strv *hosts, const char *field, const char *ctx, adr_err *err)
{
  for (size_t h = 0; h < hosts->n; h++) {
    struct adr_netpolicy p = { 0 };
    int r = adr_netpolicy_add(&p, hosts->v[h], field, err);
    adr_netpolicy_free(&p);
    if (r < 0)
      return adr_err_prefix(err, "%s: \"%s\"", ctx, field);
  }
  return 0;
}

int adr_agent_parse(const char *json, size_t len, const char *source, struct adr_agent *a, adr_err *err)
{
  memset(a, 0, sizeof(*a));
  json_error_t je;
  json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (j == NULL)
    return adr_err_set(err, EINVAL, "%s:%d: %s", source, je.line, je.text);
  int ret = -1;
  const char *ctx = source;
  if (!json_is_object(j)) {
    adr_err_set(err, EINVAL, "%s: must be a JSON object", ctx);
    goto out;
  }
  const char *k;
  json_t *v;
  json_object_foreach (j, k, v) {
    bool ok = false;
    for (size_t i = 0; i < ARRAY_SIZE(known_top); i++)
      if (streq(k, known_top[i]))
        ok = true;
    if (!ok) {
      adr_err_set(err, EINVAL, "%s: unknown field \"%s\"", ctx, k);
      goto out;
    }
  }
  if (get_str(j, "name", true, &a->name, ctx, err) < 0 ||
      get_str(j, "description", false, &a->description, ctx, err) < 0 ||
      get_str(j, "binary", true, &a->binary, ctx, err) < 0)
    goto out;
  if (!adr_agent_name_valid(a->name)) {
    adr_err_set(err, EINVAL, "%s: invalid agent name \"%s\" (lowercase letters, digits, '-', '_', '.')", ctx, a->name);
    goto out;
  }
  json_t *npm = json_object_get(j, "npm");
  if (!json_is_object(npm)) {
    adr_err_set(err, EINVAL, "%s: missing \"npm\" object {\"package\", \"version\"}", ctx);
    goto out;
  }
  if (get_str(npm, "package", true, &a->npm_package, ctx, err) < 0 ||
      get_str(npm, "version", true, &a->npm_version, ctx, err) < 0)
    goto out;
  json_t *cfg = json_object_get(j, "config");
  if (cfg && !json_is_array(cfg)) {
    adr_err_set(err, EINVAL, "%s: \"config\" must be an array", ctx);
    goto out;
  }
  size_t i;
  json_t *c;
  json_array_foreach (cfg, i, c) {
    a->configs = xrealloc(a->configs, (a->n_configs + 1) * sizeof(*a->configs));
    struct adr_agent_config *ac = &a->configs[a->n_configs++];
    memset(ac, 0, sizeof(*ac));
    if (get_str(c, "host", true, &ac->host, ctx, err) < 0 || get_str(c, "home", true, &ac->home, ctx, err) < 0)
      goto out;
    if (!safe_home_rel(ac->home)) {
      adr_err_set(err, EINVAL, "%s: config \"home\" must be a relative path inside HOME: \"%s\"", ctx, ac->home);
      goto out;
    }
    ac->optional = json_is_true(json_object_get(c, "optional"));
  }
  if (get_str(j, "config_file", false, &a->config_file_home, ctx, err) < 0)
    goto out;
  if (get_str(j, "skills", false, &a->skills_dir, ctx, err) < 0)
    goto out;
  if (a->skills_dir && !(str_has_prefix(a->skills_dir, "~/") && safe_home_rel(a->skills_dir + 2))) {
    adr_err_set(err, EINVAL, "%s: \"skills\" must be a directory below the home, \"~/...\"", ctx);
    goto out;
  }
  if (get_mcp(j, a, ctx, err) < 0)
    goto out;
  if (a->config_file_home && !safe_home_rel(a->config_file_home)) {
    adr_err_set(err, EINVAL, "%s: \"config_file\" must be a relative path inside HOME", ctx);
    goto out;
  }
  json_t *env = json_object_get(j, "env");
  if (env && !json_is_object(env)) {
    adr_err_set(err, EINVAL, "%s: \"env\" must be an object of strings", ctx);
    goto out;
  }
  json_object_foreach (env, k, v) {
    if (!json_is_string(v) || !adr_valid_env_name(k, strlen(k))) {
      adr_err_set(err, EINVAL, "%s: env \"%s\": invalid name or non-string value", ctx, k);
      goto out;
    }
    strv_pushf(&a->env, "%s=%s", k, json_string_value(v));
  }
  json_t *args = json_object_get(j, "args");
  if (args && !json_is_object(args)) {
    adr_err_set(err, EINVAL, "%s: \"args\" must be an object", ctx);
    goto out;
  }
  if (get_strv(args, "interactive", &a->interactive_args, ctx, err) < 0 ||
      get_strv(args, "headless", &a->headless_args, ctx, err) < 0 ||
      get_strv(args, "model", &a->model_args, ctx, err) < 0 || get_strv(j, "api_hosts", &a->api_hosts, ctx, err) < 0 ||
      get_strv(j, "login_hosts", &a->login_hosts, ctx, err) < 0)
    goto out;
  if (get_str(j, "network", false, &a->network, ctx, err) < 0)
    goto out;
  if (a->network) {
    enum adr_netmode m;
    if (adr_netmode_parse(a->network, &m, err) < 0) {
      adr_err_prefix(err, "%s: \"network\"", ctx);
      goto out;
    }
  }
  if (check_hosts(&a->api_hosts, "api_hosts", ctx, err) < 0 ||
      check_hosts(&a->login_hosts, "login_hosts", ctx, err) < 0)
    goto out;
  json_t *cr = json_object_get(j, "credentials");
  if (cr) {
    if (adr_creds_check(cr, ctx, err) < 0)
      goto out;
    a->credentials = json_dumps(cr, JSON_COMPACT);
  }
  if (!strv_contains(&a->headless_args, "{prompt}")) {
    adr_err_set(err, EINVAL, "%s: \"args\".\"headless\" must contain \"{prompt}\"", ctx);
    goto out;
  }
  a->source = xstrdup(source);
  ret = 0;
out:
  json_decref(j);
  if (ret < 0)
    adr_agent_free(a);
  return ret;
}

static void agents_put(struct adr_agents *l, struct adr_agent *a)
{
  for (size_t i = 0; i < l->n; i++) {
    if (streq(l->v[i].name, a->name)) {
      adr_agent_free(&l->v[i]);
      l->v[i] = *a;
      return;
    }
  }
  l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
  l->v[l->n++] = *a;
}

static int cmp_agent(const void *x, const void *y)
{
  return strcmp(((const struct adr_agent *)x)->name, ((const struct adr_agent *)y)->name);
}

int adr_agents_load(struct adr_agents *l, const char *user_dir, adr_err *err)
{
  memset(l, 0, sizeof(*l));
  for (unsigned i = 0; i < adr_builtin_count; i++) {
    const struct adr_builtin_file *f = &adr_builtin_files[i];
    if (!str_has_prefix(f->name, "agents/") || !str_has_suffix(f->name, ".json"))
      continue;
    struct adr_agent a;
    if (adr_agent_parse((const char *)f->data, f->len, f->name, &a, err) < 0)
      return adr_err_prefix(err, "built-in agent");
    free(a.source);
    a.source = xstrdup("built-in");
    agents_put(l, &a);
  }
  cleanup_free char *cfgdir = adr_config_dir();
  cleanup_free char *dir = user_dir ? xstrdup(user_dir) : xasprintf("%s/agents", cfgdir);
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.' || !str_has_suffix(de->d_name, ".json"))
        continue;
      cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
      struct buf b;
      buf_init(&b, 1 << 20);
      if (buf_read_file(&b, p) < 0) {
        strv_pushf(&l->warnings, "agent definition '%s': %s (ignored)", p, strerror(errno));
        buf_free(&b);
        continue;
      }
      struct adr_agent a;
      cleanup_err adr_err e2 = NULL;
      if (adr_agent_parse(b.data, b.len, p, &a, &e2) < 0) {
        buf_free(&b);
        closedir(d);
        adr_err_move(err, &e2);
        return adr_err_prefix(err, "agent definition");
      }
      buf_free(&b);
      cleanup_free char *expect = xasprintf("%s.json", a.name);
      if (!streq(expect, de->d_name))
        strv_pushf(&l->warnings, "agent definition '%s' names agent '%s'; file name and name should match", p, a.name);
      agents_put(l, &a);
    }
    closedir(d);
  }
  qsort(l->v, l->n, sizeof(*l->v), cmp_agent);
  return 0;
}

void adr_agents_free(struct adr_agents *l)
{
  for (size_t i = 0; i < l->n; i++)
    adr_agent_free(&l->v[i]);
  free(l->v);
  strv_free(&l->warnings);
  memset(l, 0, sizeof(*l));
}

const struct adr_agent *adr_agents_find(const struct adr_agents *l, const char *name)
{
  for (size_t i = 0; i < l->n; i++)
    if (streq(l->v[i].name, name))
      return &l->v[i];
  return NULL;
}

int adr_agents_unknown(const struct adr_agents *l, const char *name, adr_err *err)
{
  struct buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < l->n; i++)
    buf_printf(&b, "%s%s", i ? ", " : "", l->v[i].name);
  adr_err_set(err, ENOENT, "unknown agent '%s' (known: %s)", name, b.data ? b.data : "none");
  buf_free(&b);
  return -1;
}

/* Replaces {model}, {model_provider} and {model_name} inside a token. */
static char *subst(const char *tmpl, const char *model, const char *prov, const char *mname)
{
  struct {
    const char *k, *v;
  } t[] = {
    { "{model_provider}", prov },
    { "{model_name}", mname },
    { "{model}", model },
  };
  struct buf b;
  buf_init(&b, 0);
  buf_append(&b, "", 0);
  const char *p = tmpl;
  while (*p) {
    bool hit = false;
    for (size_t i = 0; i < ARRAY_SIZE(t) && !hit; i++) {
      size_t kl = strlen(t[i].k);
      if (strncmp(p, t[i].k, kl) == 0) {
        buf_puts(&b, t[i].v ? t[i].v : "");
        p += kl;
        hit = true;
      }
    }
    if (!hit)
      buf_append(&b, p++, 1);
  }
  return buf_steal(&b);
}

int adr_agent_argv(const struct adr_agent *a, bool headless, const char *prompt, const char *model, char *const *extra,
                   size_t n_extra, struct strv *out, adr_err *err)
{
  strv_push(out, a->binary);
  cleanup_free char *prov = NULL, *mname = NULL;
  struct strv margs = { 0 };
  if (model && *model) {
    adr_split_model(model, &prov, &mname);
    bool wants_provider = false;
    for (size_t i = 0; i < a->model_args.n; i++)
      wants_provider |= strstr(a->model_args.v[i], "{model_provider}") != NULL;
    if (wants_provider && prov == NULL) {
      strv_free(&margs);
      return adr_err_set(err, EINVAL, "agent '%s' needs the model as PROVIDER/MODEL, got '%s'", a->name, model);
    }
    for (size_t i = 0; i < a->model_args.n; i++) {
      strv_push_take(&margs, subst(a->model_args.v[i], model, prov, mname));
    }
  }
  const struct strv *mode = headless ? &a->headless_args : &a->interactive_args;
  bool placed = false;
  for (size_t i = 0; i < mode->n; i++) {
    const char *t = mode->v[i];
    if (streq(t, "{model_args}")) {
      for (size_t k = 0; k < margs.n; k++)
        strv_push(out, margs.v[k]);
      placed = true;
    } else if (streq(t, "{prompt}")) {
      strv_push(out, prompt ? prompt : "");
    } else {
      strv_push(out, t);
    }
  }
  if (!placed)
    for (size_t k = 0; k < margs.n; k++)
      strv_push(out, margs.v[k]);
  strv_free(&margs);
  for (size_t i = 0; i < n_extra; i++)
    strv_push(out, extra[i]);
  return 0;
}
