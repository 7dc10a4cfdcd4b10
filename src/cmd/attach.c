/* adr attach: the terminal of a persistent agent; Ctrl-P Ctrl-Q detaches
 * and leaves it running. */
#include "cmd.h"
#include "term.h"

#include <signal.h>
#include <unistd.h>

/* clang-format off */
static const struct option attach_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char attach_help[] =
  "Connects your terminal to the agent NAME.  Ctrl-P Ctrl-Q detaches and\n"
  "leaves the agent running; attach again any time, from any terminal.\n"
  "If the agent exits while attached, its exit status becomes adr's.\n";

struct attach_state {
  struct adr_ctx *ctx;
  const struct adr_pagent *a;
  struct term t;
};

static void resize(struct attach_state *st)
{
  unsigned rows, cols;
  if (term_size(&st->t, &rows, &cols))
    adr_pagent_resize(st->ctx->s.engine, st->a, rows, cols);
}

static int on_wake(void *ud)
{
  struct attach_state *st = ud;
  unsigned char sigs[64];
  if (term_signals(&st->t, sigs, sizeof(sigs)) > 0)
    resize(st);
  return 0;
}

static int on_ready(void *ud, adr_err *err)
{
  (void)err;
  struct attach_state *st = ud;
  term_raw(&st->t);
  resize(st);
  return 0;
}

static int attach_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  const char *name = args->argv[0];
  cleanup_pagent struct adr_pagent a = { 0 };
  int bad = find_agent(ctx, name, &a);
  if (bad)
    return bad;
  if (!adr_pagent_running(&a))
    return errorf("'%s' is not running (%s); see 'adr logs %s'", name, a.c.state, name);
  cleanup_err adr_err err = NULL;
  struct attach_state st = { .ctx = ctx, .a = &a };
  term_init(&st.t);
  static const int sigs[] = { SIGWINCH };
  if (term_catch(&st.t, sigs, ARRAY_SIZE(sigs), &err) < 0)
    return report(&err);
  struct adr_attach at = {
    .in_fd = STDIN_FILENO,
    .out_fd = STDOUT_FILENO,
    .err_fd = STDERR_FILENO,
    .tty = true,
    .on_ready = on_ready,
    .wake_fd = term_wake_fd(&st.t),
    .on_wake = on_wake,
    .ud = &st,
    .detach_keys = TERM_DETACH_KEYS,
  };
  if (st.t.tty)
    fprintf(stderr, "attached to '%s' (detach with " TERM_DETACH_HELP ")\r\n", name);
  int r = adr_pagent_attach(ctx->s.engine, &a, &at, &err);
  term_close(&st.t);
  if (r < 0) {
    adr_err_prefix(&err, "attach to '%s'", name);
    return report(&err);
  }
  if (adr_pagent_refresh(ctx->s.engine, &a, &err) != 0)
    return EXIT_OK;
  if (adr_pagent_running(&a)) {
    fprintf(stderr, "\ndetached from '%s' (still running)\n", name);
    return EXIT_OK;
  }
  fprintf(stderr, "\n'%s' exited with status %d\n", name, a.c.exit_code);
  return a.c.exit_code;
}

const struct adr_cmd_entry cmd_attach_entry = {
  .name = "attach",
  .summary = "connect to a persistent agent (detach: Ctrl-P Ctrl-Q)",
  .usage = "adr attach NAME",
  .help = attach_help,
  .options = attach_options,
  .shortopts = "h",
  .complete = "names",
  .flags = CMD_ONE_AGENT | CMD_ENGINE,
  .exec = attach_exec,
};
