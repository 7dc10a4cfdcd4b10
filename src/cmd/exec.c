/* adr exec: a command inside a running persistent agent's sandbox. */
#include "cmd.h"
#include "term.h"

#include <unistd.h>

/* clang-format off */
static const struct option exec_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char exec_help[] =
  "Runs COMMAND in the sandbox of the running agent NAME, as the agent's\n"
  "user, in /workspace, with the same restrictions.  With a terminal it gets\n"
  "one.  COMMAND's exit status becomes adr's.\n\n"
  "Example:\n"
  "  adr exec refactor -- git log --oneline -5\n";

static int on_ready(void *ud, adr_err *err)
{
  (void)err;
  term_raw(ud);
  return 0;
}

static int exec_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  if (args->argc < 1)
    return usage_error(self, "which agent? (see 'adr ls')");
  const char *name = args->argv[0];
  int first = 1;
  if (first < args->argc && streq(args->argv[first], "--"))
    first++;
  if (first >= args->argc)
    return usage_error(self, "no command given (adr exec NAME -- COMMAND...)");
  cleanup_strv struct strv cmd = { 0 };
  for (int i = first; i < args->argc; i++)
    strv_push(&cmd, args->argv[i]);
  cleanup_pagent struct adr_pagent a = { 0 };
  int bad = find_agent(ctx, name, &a);
  if (bad)
    return bad;
  if (!adr_pagent_running(&a))
    return errorf("'%s' is not running (%s)", name, a.c.state);
  struct term t;
  term_init(&t);
  struct adr_attach at = {
    .in_fd = STDIN_FILENO,
    .out_fd = STDOUT_FILENO,
    .err_fd = STDERR_FILENO,
    .tty = t.tty,
    .on_ready = on_ready,
    .wake_fd = -1,
    .ud = &t,
  };
  cleanup_err adr_err err = NULL;
  int code = 0;
  int r = adr_pagent_exec(ctx->s.engine, &a, &cmd, &at, &code, &err);
  term_close(&t);
  if (r < 0) {
    adr_err_prefix(&err, "exec in '%s'", name);
    return report(&err);
  }
  return code;
}

const struct adr_cmd_entry cmd_exec_entry = {
  .name = "exec",
  .summary = "run a command in a persistent agent's sandbox",
  .usage = "adr exec NAME -- COMMAND...",
  .help = exec_help,
  .options = exec_options,
  .shortopts = "+h",
  .complete = "names",
  .exec = exec_exec,
};
