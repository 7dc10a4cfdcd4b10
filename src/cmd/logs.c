/* adr logs: what a persistent agent printed. */
#include "cmd.h"

#include <unistd.h>

const struct option logs_options[] = {
  { "follow", no_argument, NULL, 'f' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char logs_help[] =
  "Prints the output of the agent NAME (its terminal, for interactive\n"
  "agents).\n\n"
  "Options:\n"
  "  -f, --follow   keep printing as it comes, until the agent stops or Ctrl-C\n";

int cmd_logs(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("logs");
  bool follow = false;
  int c;
  while ((c = next_opt(self, argc, argv, "hf", NULL)) != -1) {
    switch (c) {
    case 'f': follow = true; break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  int bad = one_agent_arg(self, argc, argv);
  if (bad)
    return bad;
  cleanup_err adr_err err = NULL;
  struct pagent a;
  if (pagent_find(ctx, argv[optind], &a, &err) != 0)
    return report(&err);
  int r = ctx->engine->ops->container_logs(ctx->engine, a.c.id, follow, STDOUT_FILENO, STDERR_FILENO, &err);
  pagent_free(&a);
  if (r < 0) {
    adr_err_prefix(&err, "logs of '%s'", argv[optind]);
    return report(&err);
  }
  return EXIT_OK;
}
