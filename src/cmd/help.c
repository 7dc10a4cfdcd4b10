/* adr help [COMMAND] */
#include "cmd.h"

void adr_print_main_help(FILE *out);

static const struct option help_options[] = { { "help", no_argument, NULL, 'h' }, { 0 } };

static int help_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)ctx;
  if (args->argc == 0) {
    adr_print_main_help(stdout);
    return EXIT_OK;
  }
  if (args->argc > 1)
    return usage_error(self, "too many arguments");
  const struct adr_cmd_entry *cmd = adr_cmd_find(args->argv[0]);
  if (cmd == NULL)
    return errorf("'%s' is not an adr command. See 'adr --help'.", args->argv[0]);
  print_cmd_help(cmd, stdout);
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_help_entry = {
  .name = "help",
  .summary = "show help for adr or a command",
  .usage = "adr help [COMMAND]",
  .help = "",
  .options = help_options,
  .shortopts = "+h",
  .complete = "commands",
  .exec = help_exec,
};
