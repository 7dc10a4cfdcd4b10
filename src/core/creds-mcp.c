/* mcp.json's servers in the credential plan (mcp.h): what the agent's MCP
 * client is given holds no secret.
 *
 *   stdio, no secret      the agent runs it, in the sandbox, as declared
 *   stdio with a secret   a sidecar runs it (its key in the sidecar's
 *                         environment); the agent runs a bridge to the
 *                         sidecar's socket in /run/adr/mcp
 *   remote, no secret     reached directly; its host:port is allowlisted
 *   remote with a secret  reached through the relay: a route of its own
 *                         (api "mcp", the server's one path), the sentinel
 *                         in the header; its host is not allowlisted */
#include "creds-int.h"
#include "gwproto.h"
#include "secret.h"

#include <errno.h>
#include <string.h>

static int secret_value(struct planner *pl, const struct adr_mcp_server *s, const char *value, char **out, adr_err *err)
{
  cleanup_free char *name = NULL;
  *out = NULL;
  if (!adr_mcp_secret_ref(value, &name))
    return 0;
  cleanup_err adr_err e = NULL;
  int r = pl->in->secrets_dir ? adr_secret_get(pl->in->secrets_dir, name, out, &e) : 1;
  if (r < 0)
    return adr_err_set(err, e->errnum, "mcp.json: server '%s': %s", s->name, e->msg);
  if (r == 1)
    return adr_err_set(err, ENOENT, "mcp.json: server '%s': no secret %s (store it with 'adr secret set %s')", s->name,
                       name, name);
  return 1;
}

static int sidecar(struct planner *pl, const struct adr_mcp_server *s, adr_err *err)
{
  json_t *env = json_object();
  for (size_t i = 0; i < s->env.n; i++) {
    size_t n = strcspn(s->env.v[i], "=");
    cleanup_free char *k = xstrndup(s->env.v[i], n);
    const char *v = s->env.v[i] + n + 1;
    char *key = NULL;
    int r = secret_value(pl, s, v, &key, err);
    if (r < 0) {
      json_decref(env);
      return -1;
    }
    if (r == 1) {
      char *full = adr_mcp_secret_subst(v, key);
      json_object_set_new(env, k, json_string(full));
      strv_push(&pl->mcp_secrets, key);
      explicit_bzero(key, strlen(key));
      explicit_bzero(full, strlen(full));
      free(full);
      free(key);
    } else {
      json_object_set_new(env, k, json_string(v));
    }
  }
  struct adr_creds_plan *p = pl->p;
  p->sidecars = xrealloc(p->sidecars, (p->n_sidecars + 1) * sizeof(*p->sidecars));
  struct adr_mcp_sidecar *c = &p->sidecars[p->n_sidecars++];
  memset(c, 0, sizeof(*c));
  c->name = xstrdup(s->name);
  c->image = s->image ? xstrdup(s->image) : NULL;
  c->net_none = s->net_none;
  strv_push(&c->argv, s->command);
  for (size_t i = 0; i < s->args.n; i++)
    strv_push(&c->argv, s->args.v[i]);
  c->env_json = json_dumps(env, JSON_COMPACT);
  /* jansson's copies of the values: overwritten before they go */
  const char *k;
  json_t *v;
  json_object_foreach (env, k, v)
    if (json_string_length(v))
      explicit_bzero((char *)json_string_value(v), json_string_length(v));
  json_decref(env);
  return 0;
}

/* the relay serves only a path it can check (gw_relay_path_ok) */
static bool relay_path_ok(const char *p)
{
  if (p[0] != '/' || strstr(p, "//") || strstr(p, "/.") || strpbrk(p, "%\\;#"))
    return false;
  return true;
}

static int remote(struct planner *pl, const struct adr_mcp_server *s, struct strv *headers, char **url, adr_err *err)
{
  const char *u = s->url, *auth = strstr(u, "://") + 3;
  size_t alen = strcspn(auth, "/?");
  if (!s->secret) {
    cleanup_free char *hp = xstrndup(auth, alen);
    bool tls = str_has_prefix(u, "https://");
    if (hp[0] == '[' ? !strstr(hp, "]:") : !strchr(hp, ':'))
      strv_pushf(&pl->p->mcp_hosts, "%s:%s", hp, tls ? "443" : "80");
    else
      strv_push(&pl->p->mcp_hosts, hp);
    *url = xstrdup(u);
    for (size_t i = 0; i < s->headers.n; i++)
      strv_push(headers, s->headers.v[i]);
    return 0;
  }
  cleanup_free char *origin = xstrndup(u, (size_t)(auth - u) + alen);
  const char *rest = auth + alen;
  size_t plen = strcspn(rest, "?");
  cleanup_free char *path = plen ? xstrndup(rest, plen) : xstrdup("/");
  if (!relay_path_ok(path))
    return adr_err_set(err, EINVAL, "mcp.json: server '%s': the relay does not serve the path '%s'", s->name, path);
  char want[GW_ROUTE_NAME_MAX + 1];
  int wn = snprintf(want, sizeof(want), "mcp-%s", s->name);
  for (int i = 0; i < wn; i++)
    want[i] = want[i] == '_' ? '-' : (want[i] >= 'A' && want[i] <= 'Z') ? (char)(want[i] - 'A' + 'a') : want[i];
  const char *sentinel = NULL, *rn = NULL;
  for (size_t i = 0; i < s->headers.n; i++) {
    const char *v = s->headers.v[i] + strcspn(s->headers.v[i], "=") + 1;
    char *key = NULL;
    int r = secret_value(pl, s, v, &key, err);
    if (r < 0)
      return -1;
    if (r == 1) {
      if (!cp_key_ok(key)) {
        explicit_bzero(key, strlen(key));
        free(key);
        return adr_err_set(err, EINVAL, "mcp.json: server '%s': its secret is not a token the relay can send", s->name);
      }
      cleanup_free char *src = xasprintf("mcp.json server '%s'", s->name);
      rn = cp_route_add(pl, want, origin, "mcp", key, src);
      struct adr_relay_route *rt = &pl->p->routes[pl->p->n_routes - 1];
      strv_push(&rt->paths, path);
      sentinel = rt->sentinel;
      explicit_bzero(key, strlen(key));
      free(key);
      char *nv = adr_mcp_secret_subst(s->headers.v[i], sentinel);
      strv_push(headers, nv);
      free(nv);
    } else {
      strv_push(headers, s->headers.v[i]);
    }
  }
  *url = xasprintf(ADR_RELAY_PLACEHOLDER "/%s%s%s", rn, path, rest + plen);
  return 0;
}

static void place_json(struct planner *pl, const struct adr_agent *a, const struct adr_mcp_entry *e)
{
  json_t *j = cp_jfile(pl, a->mcp_json, true);
  if (!j)
    return; /* unreadable: hidden, with a note */
  json_t *o = json_object_get(j, a->mcp_at);
  if (!json_is_object(o)) {
    o = json_object();
    json_object_set_new(j, a->mcp_at, o);
  }
  json_object_set_new(o, e->name, adr_mcp_json_entry(a->mcp_dialect, e));
}

int cp_do_mcp(struct planner *pl, adr_err *err)
{
  const struct adr_agent *a = pl->in->agent;
  const struct adr_mcp *m = pl->in->mcp;
  struct adr_creds_plan *p = pl->p;
  for (size_t i = 0; m && i < m->n; i++) {
    const struct adr_mcp_server *s = &m->v[i];
    if (!adr_mcp_for(s, a->name))
      continue;
    if (!a->mcp_dialect) {
      strv_pushf(&p->notes, "it has no MCP client adr knows of: mcp.json's servers are not given to it");
      return 0;
    }
    cleanup_strv struct strv args = { 0 }, env = { 0 }, headers = { 0 };
    cleanup_free char *url = NULL, *sock = NULL;
    struct adr_mcp_entry e = { .name = s->name, .kind = s->kind, .args = &args, .env = &env, .headers = &headers };
    if (adr_mcp_sidecar(s)) {
      if (sidecar(pl, s, err) < 0)
        return -1;
      sock = xasprintf(ADR_MCP_SOCK_DIR "/%s.sock", s->name);
      e.command = "node";
      strv_push(&args, "-e");
      strv_push(&args, adr_mcp_bridge_js);
      strv_push(&args, sock);
    } else if (s->kind == ADR_MCP_STDIO) {
      e.command = s->command;
      for (size_t k = 0; k < s->args.n; k++)
        strv_push(&args, s->args.v[k]);
      for (size_t k = 0; k < s->env.n; k++)
        strv_push(&env, s->env.v[k]);
    } else {
      if (remote(pl, s, &headers, &url, err) < 0)
        return -1;
      e.url = url;
    }
    if (adr_mcp_dialect_json(a->mcp_dialect)) {
      place_json(pl, a, &e);
    } else {
      char *arg = adr_mcp_codex_arg(&e);
      strv_push(&p->args, "-c");
      strv_push(&p->args, arg);
      free(arg);
    }
    strv_push(&p->mcp_names, s->name);
  }
  return 0;
}

int cp_mcp_fail_closed(struct planner *pl, adr_err *err)
{
  struct adr_creds_plan *p = pl->p;
  for (size_t s = 0; s < pl->mcp_secrets.n; s++) {
    const char *key = pl->mcp_secrets.v[s];
    for (size_t k = 0; k < p->n_overlays; k++) {
      if (strstr(p->overlays[k].content, key))
        cp_overlay_drop(pl, k--, "an MCP server's secret is in it");
    }
    if (cp_leaks(p, key))
      return adr_err_set(err, EINVAL, "agent '%s': an MCP server's secret would enter the sandbox; not run",
                         pl->in->agent->name);
  }
  return 0;
}
