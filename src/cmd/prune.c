/* adr prune: removes what adr keeps ready for the next runs (the egress
 * pool) and what killed adr processes left behind. */
#include "cmd.h"
#include "egress.h"
#include "launch.h"
#include "reap.h"

/* clang-format off */
static const struct option prune_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char prune_help[] =
  "Removes the idle warm sandboxes (ADR_WARM) with their worktrees, the egress\n"
  "pool's free units (the allowlist networks and gateways adr keeps ready,\n"
  "ADR_EGRESS_POOL) and what killed adr processes left behind.  Nothing in use is touched: running sandboxes and "
  "persistent agents\n"
  "stay.  The next allowlist run makes the pool again (set ADR_EGRESS_POOL=0\n"
  "to keep none); run it before 'docker rmi' of an agent image the pool uses.\n";

static int prune_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  (void)args;
  cleanup_err adr_err err = NULL;
  adr_reap(ctx->s.engine);
  int w = adr_launch_warm_drain(ctx->s.engine, &err);
  if (w < 0)
    return report(&err);
  int n = adr_egress_pool_drain(ctx->s.engine, &err);
  if (n < 0)
    return report(&err);
  if (w > 0)
    printf("removed %d warm sandbox%s\n", w, w == 1 ? "" : "es");
  printf("removed %d egress pool unit%s\n", n, n == 1 ? "" : "s");
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_prune_entry = {
  .name = "prune",
  .summary = "remove warm sandboxes, the egress pool and what killed adrs left",
  .usage = "adr prune",
  .help = prune_help,
  .options = prune_options,
  .shortopts = "h",
  .complete = "",
  .flags = CMD_NO_ARGS | CMD_CONFIG | CMD_ENGINE,
  .exec = prune_exec,
};
