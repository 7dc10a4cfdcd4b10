/* adr exec: a command inside a running persistent agent's sandbox. */
#include "cmd.h"

#include <termios.h>
#include <unistd.h>

const struct option exec_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char exec_help[] =
  "Runs COMMAND in the sandbox of the running agent NAME, as the agent's\n"
  "user, in /workspace, with the same restrictions.  With a terminal it gets\n"
  "one.  COMMAND's exit status becomes adr's.\n\n"
  "Example:\n"
  "  adr exec refactor -- git log --oneline -5\n";

struct exec_state {
  bool tty, raw;
  struct termios saved;
};

static int on_ready(void *ud, adr_err *err)
{
  (void)err;
  struct exec_state *st = ud;
  if (st->tty && tcgetattr(STDIN_FILENO, &st->saved) == 0) {
    struct termios raw = st->saved;
    cfmakeraw(&raw);
    st->raw = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0;
  }
  return 0;
}

int cmd_exec(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("exec");
  int c;
  while ((c = next_opt(self, argc, argv, "+h", NULL)) != -1) {
    switch (c) {
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (optind >= argc)
    return usage_error(self, "which agent? (see 'adr ls')");
  const char *name = argv[optind++];
  if (optind < argc && streq(argv[optind], "--"))
    optind++;
  if (optind >= argc)
    return usage_error(self, "no command given (adr exec NAME -- COMMAND...)");
  struct strv cmd = { 0 };
  for (int i = optind; i < argc; i++)
    strv_push(&cmd, argv[i]);
  cleanup_err adr_err err = NULL;
  struct pagent a;
  if (pagent_find(ctx, name, &a, &err) != 0) {
    strv_free(&cmd);
    return report(&err);
  }
  if (!pagent_running(&a)) {
    strv_free(&cmd);
    int r = errorf("'%s' is not running (%s)", name, a.c.state);
    pagent_free(&a);
    return r;
  }
  struct exec_state st = { .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) };
  struct adr_attach at = {
    .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO, .tty = st.tty,
    .on_ready = on_ready, .wake_fd = -1, .ud = &st,
  };
  int code = 0;
  int r = adr_engine_container_exec(ctx->engine, a.c.id, &cmd, &at, &code, &err);
  if (st.raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &st.saved);
  strv_free(&cmd);
  pagent_free(&a);
  if (r < 0) {
    adr_err_prefix(&err, "exec in '%s'", name);
    return report(&err);
  }
  return code;
}
