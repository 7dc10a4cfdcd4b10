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

#include "creds-int.h"

/* ---- planning ---------------------------------------------------------- */

/* The host path of a HOME-relative path, through the agent's config
 * entries; NULL when no entry covers it. */
char *cp_host_path(const struct planner *pl, const char *rel)
{
  const struct adr_agent *a = pl->in->agent;
  if (pl->in->config_file && a->config_file_home && streq(rel, a->config_file_home))
    return xstrdup(pl->in->config_file); /* --config-file replaces the agent's own */
  for (size_t i = 0; i < a->n_configs; i++) {
    const char *h = a->configs[i].home;
    size_t n = strlen(h);
    if (strncmp(rel, h, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
      continue;
    cleanup_free char *base = i == 0 && pl->in->config_dir
                                ? xstrdup(pl->in->config_dir)
                                : adr_path_expand_home(a->configs[i].host, pl->in->host_home);
    return xasprintf("%s%s", base, rel + n);
  }
  return NULL;
}

char *cp_shown_path(const struct planner *pl, const char *path)
{
  const char *h = pl->in->host_home;
  size_t n = h ? strlen(h) : 0;
  if (n && strncmp(path, h, n) == 0 && path[n] == '/')
    return xasprintf("~%s", path + n);
  return xstrdup(path);
}

const char *cp_strv_get(const struct strv *s, const char *name)
{
  size_t n = strlen(name);
  for (size_t i = s ? s->n : 0; i-- > 0;)
    if (strncmp(s->v[i], name, n) == 0 && s->v[i][n] == '=')
      return s->v[i] + n + 1;
  return NULL;
}

/* A credential or base URL by variable name, from the sources in order.
 * *src says which (static or owned by pl). */
const char *cp_lookup(struct planner *pl, const char *name, char **owned, const char **src)
{
  *owned = NULL;
  const char *v = cp_strv_get(pl->in->user_env, name);
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

bool cp_https_url(const char *u)
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

const char *cp_route_add(struct planner *pl, const char *want, const char *upstream, const char *api, const char *key,
                         const char *src)
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
  memset(&r->paths, 0, sizeof(r->paths));
  return r->name;
}

bool cp_key_ok(const char *k) { return adr_secret_value_valid(k, strlen(k)); }

/* What the planner read (keys among it) is wiped on every way out. */
static void planner_release(struct planner *pl)
{
  for (size_t k = 0; k < pl->file_env.n; k++)
    explicit_bzero(pl->file_env.v[k], strlen(pl->file_env.v[k]));
  strv_free(&pl->file_env);
  strv_free(&pl->file_src);
  strv_free(&pl->active_keys);
  strv_wipe(&pl->mcp_secrets);
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
    const char *key = p->routes[r].key, *t = cp_key_tail(key);
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
  cleanup_free char *shown = cp_shown_path(pl, in->config_file);
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

void cp_overlay_drop(struct planner *pl, size_t k, const char *why)
{
  struct adr_creds_plan *p = pl->p;
  cleanup_free char *hp = cp_host_path(pl, p->overlays[k].rel);
  cleanup_free char *shown = hp ? cp_shown_path(pl, hp) : xasprintf("~/%s", p->overlays[k].rel);
  strv_pushf(&p->notes, "not staged (%s): '%s'", why, shown);
  strv_push(&p->hide, p->overlays[k].rel);
  explicit_bzero(p->overlays[k].content, strlen(p->overlays[k].content));
  free(p->overlays[k].rel);
  free(p->overlays[k].content);
  p->overlays[k] = p->overlays[--p->n_overlays];
}

bool cp_leaks(const struct adr_creds_plan *p, const char *key)
{
  for (size_t k = 0; k < p->env.n; k++)
    if (strstr(p->env.v[k], key))
      return true;
  for (size_t k = 0; k < p->args.n; k++)
    if (strstr(p->args.v[k], key))
      return true;
  return false;
}

/* Fail closed: no real key on the sandbox's side, whatever a config held
 * it in; a copy that has one is not staged, a variable or an argument that
 * has one is an error. */
static int fail_closed(struct planner *pl, adr_err *err)
{
  struct adr_creds_plan *p = pl->p;
  for (size_t r = 0; r < p->n_routes; r++) {
    const char *key = p->routes[r].key;
    for (size_t k = 0; k < p->n_overlays; k++) {
      if (strstr(p->overlays[k].content, key)) { /* anywhere else in the text: the sentinel too */
        char *t = adr_str_replace(p->overlays[k].content, key, p->routes[r].sentinel);
        explicit_bzero(p->overlays[k].content, strlen(p->overlays[k].content));
        free(p->overlays[k].content);
        p->overlays[k].content = t;
      }
      if (!strstr(p->overlays[k].content, key) && !strstr(p->overlays[k].content, cp_key_tail(key)))
        continue;
      cp_overlay_drop(pl, k--, "a key the relay carries is left in it");
    }
    if (cp_leaks(p, key))
      return adr_err_set(err, EINVAL, "agent '%s': the %s key (from %s) would enter the sandbox in a variable; not run",
                         pl->in->agent->name, p->routes[r].name, p->routes[r].source);
  }
  return 0;
}

int adr_creds_plan(const struct adr_creds_in *in, struct adr_creds_plan *p, adr_err *err)
{
  memset(p, 0, sizeof(*p));
  const char *text = in->agent->credentials;
  if (!text && !(in->mcp && in->mcp->n))
    return 0;
  json_error_t je;
  json_t *def = text ? json_loads(text, 0, &je) : json_object();
  if (!def)
    return adr_err_set(err, EINVAL, "agent '%s': credentials: %s", in->agent->name, je.text);
  struct planner pl = { .in = in, .p = p, .def = def };
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get(def, "hide"), i, x)
    strv_push(&p->hide, json_string_value(x));
  json_array_foreach (json_object_get(def, "hide_if"), i, x) {
    const char *rel = json_string_value(json_object_get(x, "path"));
    cleanup_free char *hp = cp_host_path(&pl, rel);
    struct buf b;
    buf_init(&b, 4 << 20);
    if (hp && buf_read_file(&b, hp) == 0) {
      size_t k;
      json_t *c;
      bool hit = false;
      json_array_foreach (json_object_get(x, "contains"), k, c)
        hit = hit || memmem(b.data, b.len, json_string_value(c), strlen(json_string_value(c)));
      if (hit) {
        cleanup_free char *shown = cp_shown_path(&pl, hp);
        strv_pushf(&p->notes, "not staged (it may hold credentials the relay does not carry): '%s'", shown);
        strv_push(&p->hide, rel);
      }
    }
    buf_free(&b);
  }
  cp_read_env_files(&pl);
  cp_do_routes(&pl);
  cp_do_providers(&pl);
  for (size_t f = 0; f < pl.n_jf; f++) /* keys left anywhere else in a copy: sentinels too */
    cp_scrub_json(pl.jf[f].j, p, 0);
  json_array_foreach (json_object_get(def, "json_set"), i, x) {
    const char *when = json_string_value(json_object_get(x, "when"));
    if (when && !cp_route_active(p, when))
      continue;
    json_t *val = json_object_get(x, "value");
    const char *at = json_string_value(json_object_get(x, "at"));
    json_t *j = cp_jfile(&pl, json_string_value(json_object_get(x, "path")), !json_is_null(val));
    if (j && json_is_null(val) && cp_jpath_get(j, at))
      cp_jpath_set(j, at, NULL);
    else if (j && json_is_string(val))
      cp_json_set_value(j, x, when ? cp_route_sentinel(p, when) : NULL);
  }
  if (p->n_routes == 0) {
    json_array_foreach (json_object_get(def, "routes"), i, x) {
      if (p->key_seen)
        break; /* found, not relayed: the notes say why */
      size_t k;
      json_t *kn;
      json_array_foreach (json_object_get(x, "key_env"), k, kn)
        if (!strv_contains(&p->key_names, json_string_value(kn)))
          strv_push(&p->key_names, json_string_value(kn));
    }
    json_array_foreach (json_object_get(def, "not_relayed"), i, x) {
      const char *rel = json_string_value(json_object_get(x, "path"));
      const char *env = json_string_value(json_object_get(x, "env"));
      const char *why = json_string_value(json_object_get(x, "why"));
      bool present = false;
      if (rel) {
        cleanup_free char *hp = cp_host_path(&pl, rel);
        present = hp && access(hp, F_OK) == 0;
      } else if (env) {
        present = cp_strv_get(in->user_env, env) || (in->getenv && in->getenv(env) && *in->getenv(env));
      }
      if (present)
        strv_pushf(&p->notes, "%s", why);
    }
  }
  p->n_agent_routes = p->n_routes;
  if (cp_do_mcp(&pl, err) < 0) {
    for (size_t f = 0; f < pl.n_jf; f++) {
      json_decref(pl.jf[f].j);
      free(pl.jf[f].rel);
    }
    free(pl.jf);
    planner_release(&pl);
    return -1;
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
  if (fail_closed(&pl, err) < 0 || cp_mcp_fail_closed(&pl, err) < 0) {
    planner_release(&pl);
    return -1;
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
    strv_free(&r->paths);
  }
  free(p->routes);
  for (size_t i = 0; i < p->n_sidecars; i++) {
    struct adr_mcp_sidecar *c = &p->sidecars[i];
    free(c->name);
    free(c->image);
    strv_free(&c->argv);
    if (c->env_json)
      explicit_bzero(c->env_json, strlen(c->env_json));
    free(c->env_json);
  }
  free(p->sidecars);
  strv_free(&p->mcp_hosts);
  strv_free(&p->mcp_names);
  strv_free(&p->git_hosts);
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
    for (size_t k = 0; k < r->paths.n; k++)
      buf_printf(&b, GW_ROUTE_KW_PATH " %s\n", r->paths.v[k]);
    for (const char *const *pp = r->paths.n ? NULL : adr_relay_api_paths(r->api); pp && *pp; pp++)
      buf_printf(&b, GW_ROUTE_KW_PATH " %s\n", *pp);
  }
  return buf_steal(&b);
}

bool adr_creds_secret_name(const char *name)
{
  static const char *const words[] = { "API_KEY", "APIKEY",     "TOKEN",       "SECRET",    "PASSWORD",
                                       "PASSWD",  "CREDENTIAL", "PRIVATE_KEY", "ACCESS_KEY" };
  cleanup_free char *up = xstrdup(name);
  for (char *c = up; *c; c++)
    if (*c >= 'a' && *c <= 'z')
      *c = (char)(*c - 'a' + 'A');
  for (size_t i = 0; i < ARRAY_SIZE(words); i++)
    if (strstr(up, words[i]))
      return true;
  return false;
}

char *adr_creds_subst(const char *s, const char *url) { return adr_str_replace(s, ADR_RELAY_PLACEHOLDER, url); }
