/* Agent definitions: agents are data.  Each agent is one JSON file
 * (built-ins in data/agents/, users' own in ~/.config/adr/agents/NAME.json,
 * which override a built-in of the same name).  See docs/agents.md. */
#ifndef ADR_AGENT_H
#define ADR_AGENT_H

#include "err.h"
#include "util.h"

#include <stdbool.h>

struct adr_agent_config {
  char *host;    /* host path, "~" allowed */
  char *home;    /* path relative to the sandbox HOME */
  bool optional; /* missing on the host is fine */
};

struct adr_agent {
  char *name;
  char *description;
  char *npm_package;
  char *npm_version;
  char *binary;
  struct adr_agent_config *configs; /* the first is the one -c replaces */
  size_t n_configs;
  char *config_file_home; /* where --config-file is staged; NULL = unsupported */
  struct strv env;        /* KEY=VALUE */
  struct strv interactive_args;
  struct strv headless_args; /* may hold {prompt} and {model_args} */
  struct strv model_args;    /* may hold {model}, {model_provider}, {model_name} */
  struct strv api_hosts;
  struct strv login_hosts; /* what its own login needs; allowed when the relay carries no key */
  char *network;           /* default network mode, NULL = adr's default */
  char *credentials;       /* the "credentials" object as JSON text (creds.h), or NULL */
  char *skills_dir;        /* "skills": its user-level skills directory on the host ("~/..."), or NULL */
  /* "mcp": how its MCP client is given mcp.json's servers (mcp.h): a
   * dialect, and for a JSON one the file (HOME-relative) and the member
   * that holds the servers; NULL: it has no MCP client */
  char *mcp_dialect, *mcp_json, *mcp_at;
  char *source; /* "built-in" or the file it came from */
};

void adr_agent_free(struct adr_agent *a);
int adr_agent_parse(const char *json, size_t len, const char *source, struct adr_agent *a, adr_err *err);

struct adr_agents {
  struct adr_agent *v;
  size_t n;
  struct strv warnings;
};
/* Built-ins, then user_dir/ *.json (NULL = ~/.config/adr/agents). */
int adr_agents_load(struct adr_agents *l, const char *user_dir, adr_err *err);
void adr_agents_free(struct adr_agents *l);
static inline void adr_agents_cleanup(struct adr_agents *l) { adr_agents_free(l); }
#define cleanup_agents __attribute__((cleanup(adr_agents_cleanup)))
const struct adr_agent *adr_agents_find(const struct adr_agents *l, const char *name);
/* "unknown agent 'x' (known: a, b, c)" */
int adr_agents_unknown(const struct adr_agents *l, const char *name, adr_err *err);
bool adr_agent_name_valid(const char *name);

/* The agent's argv for a run: binary + mode args (+ model args) + extra. */
int adr_agent_argv(const struct adr_agent *a, bool headless, const char *prompt, const char *model, char *const *extra,
                   size_t n_extra, struct strv *out, adr_err *err);

#endif
