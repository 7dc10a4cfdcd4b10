/* MCP servers the user declares once, in ~/.config/adr/mcp.json, for every
 * agent that has an MCP client.
 *
 *   { "mcpServers": {
 *       "NAME": { "command": "CMD", "args": [...], "env": {"K": "V"},
 *                 "image": "IMAGE", "network": "open|none", "agents": [...] },
 *       "NAME": { "url": "https://host/path", "headers": {"H": "V"},
 *                 "agents": [...] } } }
 *
 * A value may name a secret of adr's store, "${secret:NAME}"; secrets never
 * enter the sandbox:
 *   - a stdio server whose env names one runs in a sidecar container beside
 *     the sandbox (the key in its environment, read from a file the sandbox
 *     cannot see); the agent reaches it through a unix socket;
 *   - a remote server whose header names one is reached through the
 *     credential relay (the sandbox holds a sentinel in that header);
 *   - a literal value where a credential goes (an env name that looks like
 *     one, an Authorization or API-key header) is refused: it would enter.
 * This file only reads and checks; creds.c plans, launch-mcp.c starts. */
#ifndef ADR_MCP_H
#define ADR_MCP_H

#include "err.h"
#include "util.h"

#include <jansson.h>
#include <stdbool.h>

#define ADR_MCP_FILE "mcp.json"
#define ADR_MCP_MAX_BYTES (1u << 20)
#define ADR_MCP_MAX_SERVERS 64
#define ADR_MCP_NAME_MAX 32
/* where the sandbox reaches a sidecar's socket, NAME.sock */
#define ADR_MCP_SOCK_DIR "/run/adr/mcp"
/* where a sidecar reads its environment (a JSON object of strings) */
#define ADR_MCP_ENV_PATH "/run/adr-mcp-env"

enum adr_mcp_kind { ADR_MCP_STDIO, ADR_MCP_HTTP };

struct adr_mcp_server {
  char *name;
  enum adr_mcp_kind kind;
  char *command;
  struct strv args;
  struct strv env; /* KEY=VALUE; VALUE may hold ${secret:NAME} */
  char *url;
  struct strv headers; /* Name=VALUE; VALUE may hold ${secret:NAME} */
  char *image;         /* a sidecar's image; NULL: the sandbox's */
  bool net_none;       /* a sidecar with no network */
  struct strv agents;  /* empty: every agent */
  bool secret;         /* some value names a secret */
};

struct adr_mcp {
  struct adr_mcp_server *v;
  size_t n;
};

/* Errors read "SOURCE: server 'x': why". */
int adr_mcp_parse(const char *json, size_t len, const char *source, struct adr_mcp *m, adr_err *err);
/* path missing: 0 and no servers */
int adr_mcp_load(const char *path, struct adr_mcp *m, adr_err *err);
void adr_mcp_free(struct adr_mcp *m);
static inline void adr_mcp_cleanup(struct adr_mcp *m) { adr_mcp_free(m); }
#define cleanup_mcp __attribute__((cleanup(adr_mcp_cleanup)))
bool adr_mcp_for(const struct adr_mcp_server *s, const char *agent);
/* ~/.config/adr/mcp.json (the config dir's) */
char *adr_mcp_path(void);
/* stdio servers with a secret, an image or no network run in a sidecar */
bool adr_mcp_sidecar(const struct adr_mcp_server *s);
/* How the agent reaches it: "in the sandbox", "sidecar", "relay", "direct" */
const char *adr_mcp_reach(const struct adr_mcp_server *s);
/* The secrets its values name, in order */
void adr_mcp_secret_names(const struct adr_mcp_server *s, struct strv *names);

/* The secret a value names (a pointer into a malloc'd copy in *name), or
 * NULL; the value around it stays (prefix, suffix). */
bool adr_mcp_secret_ref(const char *value, char **name);
/* value with its ${secret:NAME} replaced by with */
char *adr_mcp_secret_subst(const char *value, const char *with);

/* What the sandbox's agent is given for one server (no secret in it). */
struct adr_mcp_entry {
  const char *name;
  enum adr_mcp_kind kind;
  const char *command;
  const struct strv *args;
  const struct strv *env; /* KEY=VALUE */
  const char *url;
  const struct strv *headers; /* Name=VALUE */
};

/* The dialects the agents' MCP clients read (an agent definition's
 * "mcp"."dialect"): claude, gemini, copilot, opencode (a JSON object per
 * server) and codex (a -c argument per server). */
bool adr_mcp_dialect_valid(const char *dialect);
bool adr_mcp_dialect_json(const char *dialect);
json_t *adr_mcp_json_entry(const char *dialect, const struct adr_mcp_entry *e);
/* codex: "mcp_servers.NAME={...}" (a TOML inline table) */
char *adr_mcp_codex_arg(const struct adr_mcp_entry *e);

/* The node program a stdio sidecar's socket is reached with, in the
 * sandbox (argv after "node"), and the one a sidecar serves it with. */
extern const char adr_mcp_bridge_js[];
extern const char adr_mcp_serve_js[];

#endif
