/* The credential planner's parts (creds*.c): shared state and helpers.
 * Private to src/core/creds*.c. */
#ifndef ADR_CREDS_INT_H
#define ADR_CREDS_INT_H

#include "creds.h"

#include <jansson.h>
#include <stdbool.h>

struct jfile { /* a config file being rewritten */
  char *rel;
  json_t *j;
};

struct planner {
  const struct adr_creds_in *in;
  struct adr_creds_plan *p;
  json_t *def;
  struct strv file_env; /* KEY=VALUE read from the agent's env files */
  struct strv file_src; /* where each came from, same index */
  struct jfile *jf;
  size_t n_jf;
  struct strv active_keys; /* variable names that now hold a sentinel */
  json_t *auth;            /* the agent's own login file of API keys, by provider (opencode's auth.json) */
  json_t *auth_seen;       /* providers that took their key from it */
  char *auth_shown;
  struct strv mcp_secrets; /* sidecars' secret values (never on the sandbox's side) */
};

char *cp_host_path(const struct planner *pl, const char *rel);
char *cp_shown_path(const struct planner *pl, const char *path);
const char *cp_strv_get(const struct strv *s, const char *name);
const char *cp_lookup(struct planner *pl, const char *name, char **owned, const char **src);
json_t *cp_jpath_get(json_t *o, const char *path);
void cp_jpath_set(json_t *o, const char *path, json_t *v);
json_t *cp_load_json_file(const char *path, bool *missing, adr_err *err);
json_t *cp_jfile(struct planner *pl, const char *rel, bool create);
const char *cp_route_add(struct planner *pl, const char *want, const char *upstream, const char *api, const char *key,
                         const char *src);
bool cp_https_url(const char *u);
bool cp_key_ok(const char *k);
bool cp_route_active(const struct adr_creds_plan *p, const char *name);
const char *cp_route_sentinel(const struct adr_creds_plan *p, const char *name);
const char *cp_key_tail(const char *key);
void cp_read_env_files(struct planner *pl);
void cp_rewrite_env_files(struct planner *pl, const struct strv *set, const struct strv *drop);
const char *cp_key_from_json(struct planner *pl, json_t *places, char **src);
void cp_key_json_set(struct planner *pl, json_t *places, const char *sentinel);
void cp_json_set_value(json_t *j, json_t *x, const char *sentinel);
void cp_scrub_json(json_t *j, const struct adr_creds_plan *p, unsigned depth);
void cp_do_routes(struct planner *pl);
/* The staged copy overlays[k] is not staged after all (hidden, with a
 * note saying why); the last one takes its place. */
void cp_overlay_drop(struct planner *pl, size_t k, const char *why);
/* key is in a variable or an argument of the sandbox's */
bool cp_leaks(const struct adr_creds_plan *p, const char *key);
/* creds-mcp.c: mcp.json's servers for the agent: routes, sidecars, its
 * MCP config (a JSON copy or arguments) */
int cp_do_mcp(struct planner *pl, adr_err *err);
/* no sidecar's secret on the sandbox's side either */
int cp_mcp_fail_closed(struct planner *pl, adr_err *err);
void cp_do_providers(struct planner *pl);

#endif
