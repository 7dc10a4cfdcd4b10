/* The credential planner's providers: agents (pi, opencode) whose config
 * names providers with a base URL and a key, and opencode's own login file
 * of API keys. */
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
  json_t *provs = cp_jpath_get(doc, at);
  const char *id;
  json_t *pv;
  json_object_foreach (provs, id, pv) {
    if (!json_is_object(pv))
      continue;
    size_t f;
    json_t *sf;
    json_array_foreach (json_object_get(pd, "secret_fields"), f, sf) {
      const char *fp = json_string_value(sf);
      if (cp_jpath_get(pv, fp)) { /* e.g. headers: may carry tokens the relay does not know */
        strv_pushf(&p->notes, "provider '%s' in %s: \"%s\" is not relayed and not staged", id, where, fp);
        cp_jpath_set(pv, fp, NULL);
      }
    }
    json_t *kj = cp_jpath_get(pv, keyp);
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
      if (cp_lookup(pl, kval, &o2, &src2))
        ref = xstrdup(kval);
    }
    cleanup_free char *kown = NULL;
    const char *key = kval, *ksrc = authsrc ? authsrc : where;
    if (ref) {
      key = adr_valid_env_name(ref, strlen(ref)) ? cp_lookup(pl, ref, &kown, &ksrc) : NULL;
      if (!key)
        continue; /* a reference to nothing: no credential in it */
      strv_push(&p->drop_env, ref);
    }
    p->key_seen = true;
    if (!ref && (kval[0] == '!' || str_has_prefix(kval, "{file:"))) {
      strv_pushf(&p->notes, "provider '%s' in %s: a key from a command or file is not relayed and not staged", id,
                 where);
      cp_jpath_set(pv, keyp, NULL);
      continue;
    }
    json_t *bj = cp_jpath_get(pv, basep);
    const char *up = json_string_value(bj);
    const char *api = NULL;
    json_t *aj = cp_jpath_get(pv, apip);
    if (json_is_string(aj))
      api = json_string_value(json_object_get(apis, json_string_value(aj)));
    json_t *bi = json_object_get(builtin, id);
    if (!up && bi)
      up = json_string_value(json_object_get(bi, "upstream"));
    if (!api && bi)
      api = json_string_value(json_object_get(bi, "api"));
    const char *why = !up                 ? "no base URL"
                      : !cp_https_url(up) ? "its base URL is not https"
                      : !api              ? "its API is not one the relay knows"
                      : !cp_key_ok(key)   ? "not a valid key"
                                          : NULL;
    if (why) {
      strv_pushf(&p->notes, "provider '%s' in %s: %s; its key is not relayed and not staged", id, where, why);
      cp_jpath_set(pv, keyp, NULL);
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
    const char *rn = cp_route_add(pl, want, up, api, key, ksrc);
    cp_jpath_set(pv, keyp, json_string(p->routes[p->n_routes - 1].sentinel));
    cleanup_free char *base = xasprintf(ADR_RELAY_PLACEHOLDER "/%s", rn);
    cp_jpath_set(pv, basep, json_string(base));
  }
}

void cp_do_providers(struct planner *pl)
{
  struct adr_creds_plan *p = pl->p;
  size_t i;
  json_t *pd, *env_pd = NULL;
  json_array_foreach (json_object_get(pl->def, "providers"), i, pd) {
    const char *ap = json_string_value(json_object_get(pd, "auth_path"));
    cleanup_free char *hp = ap && !pl->auth ? cp_host_path(pl, ap) : NULL;
    bool missing;
    cleanup_err adr_err e = NULL;
    if (hp && (pl->auth = cp_load_json_file(hp, &missing, &e)) != NULL) {
      pl->auth_seen = json_object();
      pl->auth_shown = cp_shown_path(pl, hp);
    }
  }
  json_array_foreach (json_object_get(pl->def, "providers"), i, pd) {
    const char *rel = json_string_value(json_object_get(pd, "path"));
    if (rel) {
      json_t *doc = cp_jfile(pl, rel, false);
      if (doc) {
        cleanup_free char *hp = cp_host_path(pl, rel);
        cleanup_free char *shown = cp_shown_path(pl, hp);
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
  const char *v = cp_strv_get(pl->in->user_env, env);
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
  json_object_foreach (pl->auth, id, a) {
    if (json_object_get(pl->auth_seen, id) || !streq(json_string_value(json_object_get(a, "type")), "api") ||
        (doc && json_object_get(cp_jpath_get(doc, at), id))) /* the config below names it */
      continue;
    p->key_seen = true;
    if (!json_object_get(builtin, id)) {
      strv_pushf(&p->notes, "the key for provider '%s' in %s is not relayed: the provider has no base URL", id,
                 pl->auth_shown);
      continue;
    }
    if (!doc)
      doc = json_object();
    json_t *provs = cp_jpath_get(doc, at);
    if (!json_is_object(provs)) {
      cp_jpath_set(doc, at, json_object());
      provs = cp_jpath_get(doc, at);
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
