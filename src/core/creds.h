/* Credentials: which API keys an agent run needs, where the user keeps them,
 * and how the sandbox is wired so that none of them enters it.
 *
 * An agent definition's "credentials" object (docs/agents.md) declares, as
 * data: the files that hold logins (never staged), the files and variables
 * that hold keys and base URLs, and the agent's API routes.  The planner
 * reads the user's real keys on the host from, in this order: the run's
 * -e/--env-file entries, `adr secret`, the host environment, the agent's
 * own config files; and produces:
 *   - relay routes (name, https upstream, API family, real key, a random
 *     per-sandbox sentinel) for the egress gateway's relay;
 *   - the sandbox's side: variables, agent arguments and rewritten copies
 *     of config files that carry only sentinels and the relay's URL
 *     (ADR_RELAY_PLACEHOLDER until the gateway's address is known);
 *   - files to leave out of the staged config, and notes for the user
 *     about credentials that cannot be relayed.
 * Pure: reads files and the given environment, writes nothing. */
#ifndef ADR_CREDS_H
#define ADR_CREDS_H

#include "agent.h"
#include "mcp.h"
#include "err.h"
#include "util.h"

#include <jansson.h>

#define ADR_RELAY_PLACEHOLDER "@@adr-relay@@"

struct adr_relay_route {
  char *name;        /* [a-z0-9-]{1,32}, the first path segment at the relay */
  char *upstream;    /* https://host[:port][/base] */
  char *api;         /* anthropic, openai, gemini: selects the declared paths */
  char *sentinel;    /* what the sandbox holds */
  char *key;         /* the real credential (zeroed when freed) */
  char *source;      /* where it came from, for messages */
  struct strv paths; /* the paths served (an MCP server's, a repository's); empty: the api family's */
};

/* A stdio MCP server that needs a secret: it runs beside the sandbox
 * (launch-mcp.c), never in it. */
struct adr_mcp_sidecar {
  char *name;
  char *image; /* NULL: the sandbox's */
  struct strv argv;
  char *env_json; /* its environment, secrets resolved (zeroed when freed) */
  bool net_none;
};

struct adr_creds_overlay {
  char *rel;     /* path relative to HOME */
  char *content; /* may hold ADR_RELAY_PLACEHOLDER */
};

struct adr_creds_plan {
  struct adr_relay_route *routes;
  size_t n_routes;
  struct strv env;      /* KEY=VALUE for the sandbox (placeholders) */
  struct strv drop_env; /* names taken out of the user's -e entries */
  struct strv args;     /* agent arguments (placeholders) */
  struct strv hide;     /* HOME-relative paths never staged */
  struct adr_creds_overlay *overlays;
  size_t n_overlays;
  struct strv notes;     /* what the user should know, one line each */
  bool key_seen;         /* a key was found, relayed or not (notes say why not) */
  struct strv key_names; /* no key found at all: the variables that would have given one */
  size_t n_agent_routes; /* routes that carry the agent's own keys (the rest are MCP servers') */
  struct adr_mcp_sidecar *sidecars;
  size_t n_sidecars;
  struct strv mcp_hosts; /* remote MCP servers reached directly: host:port for the allowlist */
  struct strv mcp_names; /* the servers the agent is given */
  struct strv git_hosts; /* --git-push: the hosts pushed to through the relay */
};

struct adr_creds_in {
  const struct adr_agent *agent;
  const char *host_home;
  const char *config_dir;      /* -c: replaces the agent's first config path */
  const char *config_file;     /* --config-file: read in place of the agent's config_file_home */
  const struct strv *user_env; /* the run's KEY=VALUE entries */
  const char *secrets_dir;     /* NULL: no secret store */
  const char *(*getenv)(const char *name);
  const struct adr_mcp *mcp; /* mcp.json's servers, or NULL */
};

int adr_creds_plan(const struct adr_creds_in *in, struct adr_creds_plan *p, adr_err *err);
void adr_creds_plan_free(struct adr_creds_plan *p);
static inline void adr_creds_plan_cleanup(struct adr_creds_plan *p) { adr_creds_plan_free(p); }
#define cleanup_creds_plan __attribute__((cleanup(adr_creds_plan_cleanup)))

/* --git-push: routes for the workspace's https remotes (their smart-HTTP
 * paths only), each host's credential from the user's git credential
 * helpers (run from /, outside any repository), and the sandbox's git
 * configuration (GIT_CONFIG_* in p->env) that sends the sentinel there. */
int adr_creds_git_push(struct adr_creds_plan *p, const char *ws, adr_err *err);
/* https://[user@]host[:port]/path -> "https://host[:port]", "/path" (no
 * trailing slash); -1 for anything else */
int adr_git_https_split(const char *url, char **origin, char **path);

/* The route file adr-gateway --relay reads (holds the real keys). */
char *adr_creds_route_file(const struct adr_creds_plan *p);
/* A variable name that looks like it holds a credential (API_KEY, TOKEN,
 * SECRET, PASSWORD, ...): with the relay on, such a -e entry that no route
 * takes is refused rather than passed in. */
bool adr_creds_secret_name(const char *name);
/* s with every ADR_RELAY_PLACEHOLDER replaced by url */
char *adr_creds_subst(const char *s, const char *url);
/* The upstream paths (relative to the upstream's base URL) the relay
 * serves for an API family; NULL for an unknown family. */
const char *const *adr_relay_api_paths(const char *api);

/* What a user's mount (-m, ADR_MOUNTS) may not reach. */
struct adr_creds_guard {
  const struct adr_agents *agents;    /* every definition: their config homes */
  const struct adr_agent *agent;      /* the one that runs: its staged paths */
  const char *home;                   /* the host HOME */
  const char *state_dir, *config_dir; /* adr's own */
  bool relay;                         /* false (--no-relay): config homes and host secrets are notes */
};
/* A mount that would put credentials in the sandbox past the planner is
 * refused: a host path that is, holds or lies inside adr's state or config
 * dir, an agent's config home or a host secret path (~/.ssh, ~/.aws, ...);
 * or a sandbox path at, above or inside the agent's staged configuration.
 * With the relay off only adr's own dirs and staged paths are refused; the
 * rest is said in notes. */
struct adr_mount;
int adr_creds_mount_check(const struct adr_mount *m, const struct adr_creds_guard *g, struct strv *notes, adr_err *err);

/* Validates an agent definition's "credentials" object. */
int adr_creds_check(json_t *def, const char *ctx, adr_err *err);

#endif
