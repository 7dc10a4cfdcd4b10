/* adr warm: makes what adr keeps ready for the next runs now, instead of
 * after the next run (the egress pool: ADR_EGRESS_POOL). */
#include "cmd.h"
#include "launch.h"

/* clang-format off */
static const struct option warm_options[] = {
  { "tag", required_argument, NULL, 't' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char warm_help[] =
  "Makes the egress pool ready for AGENT's runs now (default: ADR_AGENT): the\n"
  "internal networks and egress gateways that allowlist runs claim instead of\n"
  "making their own (ADR_EGRESS_POOL of them, default 1).  adr makes them by\n"
  "itself after each allowlist run; this is for the first run after a boot.\n"
  "\n"
  "  -t, --tag TAG   the image tag (default: ADR_TAG)\n";

static int warm_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  const char *tag = args_get(args, 't');
  if (args->argc > 1)
    return usage_error(self, "one agent at most");
  cleanup_err adr_err err = NULL;
  const char *name = args->argc ? args->argv[0] : adr_config_get(&ctx->s.config, "ADR_AGENT");
  if (!name)
    return usage_error(self, "name an agent (or set ADR_AGENT)");
  const struct adr_agent *a = adr_agents_find(&ctx->s.agents, name);
  if (!a) {
    adr_agents_unknown(&ctx->s.agents, name, &err);
    return report(&err);
  }
  unsigned want = adr_launch_pool_size(&ctx->s.config, NULL);
  if (want == 0) {
    printf("ADR_EGRESS_POOL is 0: nothing to make\n");
    return EXIT_OK;
  }
  int ready = adr_launch_warm(ctx->s.engine, &ctx->s.config, a, tag, want, &err);
  if (ready < 0)
    return report(&err);
  printf("egress pool: %d of %u ready\n", ready, want);
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_warm_entry = {
  .name = "warm",
  .summary = "make the egress pool ready now",
  .usage = "adr warm [--tag TAG] [AGENT]",
  .help = warm_help,
  .options = warm_options,
  .shortopts = "t:h",
  .complete = "agents",
  .flags = CMD_CONFIG | CMD_AGENTS | CMD_ENGINE,
  .exec = warm_exec,
};
