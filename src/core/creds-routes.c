/* The credential planner's routes: the definition's "routes", each an API
 * the relay carries with a key found in the variables or a config file. */
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

void cp_do_routes(struct planner *pl)
{
  struct adr_creds_plan *p = pl->p;
  cleanup_strv struct strv set = { 0 }, drop = { 0 };
  size_t i;
  json_t *rd;
  json_array_foreach (json_object_get(pl->def, "routes"), i, rd) {
    const char *name = json_string_value(json_object_get(rd, "name"));
    const char *api = json_string_value(json_object_get(rd, "api"));
    const char *base_env = json_string_value(json_object_get(rd, "base_env"));
    const char *up_def = json_string_value(json_object_get(rd, "upstream"));
    json_t *keys = json_object_get(rd, "key_env");
    const char *key = NULL, *ksrc = NULL, *kname = NULL;
    cleanup_free char *kown = NULL;
    size_t k;
    json_t *kv;
    json_array_foreach (keys, k, kv) {
      const char *n = json_string_value(kv);
      strv_push(&drop, n);
      if (!key) {
        key = cp_lookup(pl, n, &kown, &ksrc);
        if (key)
          kname = n;
      }
    }
    cleanup_free char *kjsrc = NULL;
    if (!key) /* then the config files that hold it (claude's primaryApiKey) */
      key = cp_key_from_json(pl, json_object_get(rd, "key_json"), &kjsrc);
    if (key && !kname) {
      ksrc = kjsrc;
      kname = json_string_value(json_array_get(keys, 0));
    }
    json_array_foreach (json_object_get(rd, "drop_env"), k, kv) {
      const char *n = json_string_value(kv);
      strv_push(&drop, n);
      cleanup_free char *o2 = NULL;
      const char *src2 = NULL;
      if (cp_lookup(pl, n, &o2, &src2))
        strv_pushf(&p->notes, "%s from %s is not relayed and not passed", n, src2);
    }
    cleanup_free char *bown = NULL;
    const char *bsrc = NULL;
    const char *up = base_env ? cp_lookup(pl, base_env, &bown, &bsrc) : NULL;
    if (!up)
      up = up_def;
    if (!key)
      continue;
    p->key_seen = true;
    cleanup_free char *why = !up ? xasprintf("no %s", base_env)
                             : !cp_https_url(up)
                               ? xasprintf("%s '%s' is not an https URL", base_env ? base_env : "upstream", up)
                             : !cp_key_ok(key) ? xstrdup("not a valid key (printable, no spaces)")
                                               : NULL;
    if (why) {
      strv_pushf(&p->notes, "%s from %s is not relayed and not passed: %s", kjsrc ? "the key" : kname, ksrc, why);
      cp_key_json_set(pl, json_object_get(rd, "key_json"), NULL);
      continue;
    }
    const char *rn = cp_route_add(pl, name, up, api, key, ksrc);
    const char *sent = p->routes[p->n_routes - 1].sentinel;
    cp_key_json_set(pl, json_object_get(rd, "key_json"), sent);
    strv_pushf(&set, "%s=%s", kname, sent);
    strv_pushf(&p->env, "%s=%s", kname, sent);
    strv_push(&pl->active_keys, kname);
    if (base_env) {
      strv_pushf(&set, "%s=" ADR_RELAY_PLACEHOLDER "/%s", base_env, rn);
      strv_pushf(&p->env, "%s=" ADR_RELAY_PLACEHOLDER "/%s", base_env, rn);
      strv_push(&p->drop_env, base_env);
    }
    json_t *a;
    json_array_foreach (json_object_get(rd, "args"), k, a) {
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
    if (!cp_strv_get(&set, drop.v[d]))
      strv_push(&gone, drop.v[d]);
  cp_rewrite_env_files(pl, &set, &gone);
}

bool cp_route_active(const struct adr_creds_plan *p, const char *name)
{
  for (size_t i = 0; i < p->n_routes; i++)
    if (streq(p->routes[i].name, name))
      return true;
  return false;
}

const char *cp_route_sentinel(const struct adr_creds_plan *p, const char *name)
{
  for (size_t i = 0; i < p->n_routes; i++)
    if (streq(p->routes[i].name, name))
      return p->routes[i].sentinel;
  return NULL;
}
