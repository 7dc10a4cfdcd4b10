/* adr mcp: the MCP servers of mcp.json, and how each agent reaches them. */
#include "cmd.h"
#include "mcp.h"
#include "secret.h"

#include <string.h>

/* clang-format off */
static const struct option mcp_options[] = {
  { "agent", required_argument, NULL, 'a' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char mcp_help[] =
  "Checks ~/.config/adr/mcp.json and lists its MCP servers: how the agent\n"
  "reaches each (in the sandbox, a sidecar beside it, through the relay, or\n"
  "directly), the secrets it names and whether 'adr secret' holds them, and\n"
  "the agents it is for.  adr run and adr start give these servers to every\n"
  "agent with an MCP client, in its own config format; secrets never enter\n"
  "the sandbox.  The format is in adr-mcp(1).\n"
  "\n"
  "  -a, --agent AGENT  only the servers given to AGENT\n"
  "\n"
  "Example:\n"
  "  adr secret set GITHUB_TOKEN && adr mcp\n";

static int mcp_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)ctx;
  if (args->argc > 1 || (args->argc == 1 && !streq(args->argv[0], "ls")))
    return usage_error(self, "unexpected argument '%s'", args->argv[args->argc - 1]);
  const char *agent = args_get(args, 'a');
  cleanup_free char *path = adr_mcp_path(), *sdir = adr_secret_dir();
  cleanup_err adr_err err = NULL;
  cleanup_mcp struct adr_mcp m = { 0 };
  if (adr_mcp_load(path, &m, &err) < 0)
    return report(&err);
  if (m.n == 0) {
    printf("no MCP servers (%s)\n", path);
    return EXIT_OK;
  }
  printf("%-16s %-6s %-14s %-30s %s\n", "NAME", "KIND", "REACHED", "SECRETS", "AGENTS");
  for (size_t i = 0; i < m.n; i++) {
    const struct adr_mcp_server *s = &m.v[i];
    if (agent && !adr_mcp_for(s, agent))
      continue;
    cleanup_strv struct strv names = { 0 }, shown = { 0 };
    adr_mcp_secret_names(s, &names);
    for (size_t k = 0; k < names.n; k++) {
      char *v = NULL;
      cleanup_err adr_err e = NULL;
      int r = adr_secret_get(sdir, names.v[k], &v, &e);
      if (v)
        explicit_bzero(v, strlen(v));
      free(v);
      strv_pushf(&shown, "%s (%s)", names.v[k], r == 0 ? "stored" : r == 1 ? "missing" : "unreadable");
    }
    cleanup_free char *sec = shown.n ? strv_join(&shown, ", ") : xstrdup("-");
    cleanup_free char *ag = s->agents.n ? strv_join(&s->agents, ",") : xstrdup("all");
    printf("%-16s %-6s %-14s %-30s %s\n", s->name, s->kind == ADR_MCP_STDIO ? "stdio" : "http", adr_mcp_reach(s), sec,
           ag);
  }
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_mcp_entry = {
  .name = "mcp",
  .summary = "check mcp.json: the MCP servers agents get, and how",
  .usage = "adr mcp [ls] [--agent AGENT]",
  .help = mcp_help,
  .options = mcp_options,
  .shortopts = "+a:h",
  .complete = "",
  .exec = mcp_exec,
};
