/* adr stop: stops a persistent agent; its worktree, branch and logs stay. */
#include "cmd.h"
#include "reap.h"

/* clang-format off */
static const struct option stop_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char stop_help[] =
  "Stops the agent NAME (SIGTERM, then SIGKILL after 10 s).  Its worktree,\n"
  "branch and logs stay until 'adr rm NAME'.\n";

static int stop_one(struct adr_ctx *ctx, const char *name)
{
  cleanup_pagent struct adr_pagent a = { 0 };
  int bad = find_agent(ctx, name, &a);
  if (bad)
    return bad;
  cleanup_err adr_err err = NULL;
  struct adr_teardown t;
  adr_teardown_of_pagent(&a, &t);
  bool running = adr_pagent_running(&a);
  if (!running)
    printf("'%s' is not running (%s)\n", name, a.c.state);
  if (adr_teardown_stop(ctx->s.engine, &t, running, &err) < 0) {
    adr_err_prefix(&err, "stop '%s'", name);
    return report(&err);
  }
  if (running)
    printf("stopped '%s'\n", name);
  return EXIT_OK;
}

static int stop_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  int ret = EXIT_OK;
  for (int i = 0; i < args->argc; i++) {
    int r = stop_one(ctx, args->argv[i]);
    if (r != EXIT_OK)
      ret = r;
  }
  return ret;
}

const struct adr_cmd_entry cmd_stop_entry = {
  .name = "stop",
  .summary = "stop a persistent agent (its work stays)",
  .usage = "adr stop NAME...",
  .help = stop_help,
  .options = stop_options,
  .shortopts = "h",
  .complete = "names",
  .flags = CMD_SOME_AGENTS,
  .exec = stop_exec,
};
