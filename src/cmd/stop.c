/* adr stop: stops a persistent agent; its worktree, branch and logs stay. */
#include "cmd.h"

const struct option stop_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char stop_help[] =
  "Stops the agent NAME (SIGTERM, then SIGKILL after 10 s).  Its worktree,\n"
  "branch and logs stay until 'adr rm NAME'.\n";

int cmd_stop(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("stop");
  int c;
  while ((c = next_opt(self, argc, argv, "h", NULL)) != -1) {
    switch (c) {
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (optind >= argc)
    return usage_error(self, "which agent? (see 'adr ls')");
  int ret = EXIT_OK;
  for (int i = optind; i < argc; i++) {
    cleanup_err adr_err err = NULL;
    struct pagent a;
    if (pagent_find(ctx, argv[i], &a, &err) != 0) {
      ret = report(&err);
      continue;
    }
    if (!pagent_running(&a)) {
      printf("'%s' is not running (%s)\n", argv[i], a.c.state);
    } else if (adr_engine_container_stop(ctx->engine, a.c.id, 10, &err) < 0) {
      adr_err_prefix(&err, "stop '%s'", argv[i]);
      ret = report(&err);
    } else {
      printf("stopped '%s'\n", argv[i]);
    }
    pagent_egress(ctx, &a, true);
    pagent_free(&a);
  }
  return ret;
}
