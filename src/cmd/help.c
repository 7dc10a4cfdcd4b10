#include "cmd.h"

void adr_print_main_help(FILE *out);

const struct option help_options[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
const struct option version_options[] = { { "help", no_argument, NULL, 'h' }, { 0 } };

int cmd_help(struct adr_ctx *ctx, int argc, char **argv)
{
  (void)ctx;
  const struct adr_cmd *self = adr_cmd_find("help");
  int c;
  while ((c = next_opt(self, argc, argv, "+h", NULL)) != -1) {
    if (c == 'h') {
      print_cmd_help(self, stdout);
      return EXIT_OK;
    }
    return EXIT_USAGE;
  }
  if (optind >= argc) {
    adr_print_main_help(stdout);
    return EXIT_OK;
  }
  if (argc - optind > 1)
    return usage_error(self, "too many arguments");
  const struct adr_cmd *cmd = adr_cmd_find(argv[optind]);
  if (cmd == NULL)
    return errorf("'%s' is not an adr command. See 'adr --help'.", argv[optind]);
  print_cmd_help(cmd, stdout);
  return EXIT_OK;
}
