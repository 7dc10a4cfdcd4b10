/* adr attach: the terminal of a persistent agent; Ctrl-P Ctrl-Q detaches
 * and leaves it running. */
#include "cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

const struct option attach_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char attach_help[] =
  "Connects your terminal to the agent NAME.  Ctrl-P Ctrl-Q detaches and\n"
  "leaves the agent running; attach again any time, from any terminal.\n"
  "If the agent exits while attached, its exit status becomes adr's.\n";

#define DETACH_KEYS "ctrl-p,ctrl-q"

static int wake_pipe[2] = { -1, -1 };

static void on_winch(int sig)
{
  int saved = errno;
  unsigned char c = (unsigned char)sig;
  ssize_t r = write(wake_pipe[1], &c, 1);
  (void)r;
  errno = saved;
}

struct attach_state {
  struct adr_ctx *ctx;
  const char *id;
  bool tty;
  bool raw;
  struct termios saved;
};

static void resize(struct attach_state *st)
{
  struct winsize ws;
  if (st->tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
    cleanup_err adr_err e = NULL;
    adr_engine_container_resize(st->ctx->engine, st->id, ws.ws_row, ws.ws_col, &e);
  }
}

static int on_wake(void *ud)
{
  unsigned char b[64];
  ssize_t n = read(wake_pipe[0], b, sizeof(b));
  if (n > 0)
    resize(ud);
  return 0;
}

static int on_ready(void *ud, adr_err *err)
{
  (void)err;
  struct attach_state *st = ud;
  if (st->tty && tcgetattr(STDIN_FILENO, &st->saved) == 0) {
    struct termios raw = st->saved;
    cfmakeraw(&raw);
    if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0)
      st->raw = true;
  }
  resize(st);
  return 0;
}

int cmd_attach(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("attach");
  int c;
  while ((c = next_opt(self, argc, argv, "h", NULL)) != -1) {
    switch (c) {
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  struct pagent a;
  int bad = one_agent(ctx, self, argc, argv, &a);
  if (bad)
    return bad;
  const char *name = argv[optind];
  cleanup_err adr_err err = NULL;
  if (!pagent_running(&a)) {
    int r = errorf("'%s' is not running (%s); see 'adr logs %s'", name, a.c.state, name);
    pagent_free(&a);
    return r;
  }
  if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    pagent_free(&a);
    return errorf("pipe: %s", strerror(errno));
  }
  struct sigaction sa = { .sa_handler = on_winch };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGWINCH, &sa, NULL);
  struct attach_state st = { .ctx = ctx, .id = a.c.id, .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) };
  struct adr_attach at = {
    .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO, .tty = true,
    .on_ready = on_ready, .wake_fd = wake_pipe[0], .on_wake = on_wake, .ud = &st, .detach_keys = DETACH_KEYS,
  };
  if (st.tty)
    fprintf(stderr, "attached to '%s' (detach with Ctrl-P Ctrl-Q)\r\n", name);
  int r = adr_engine_container_attach(ctx->engine, a.c.id, &at, &err);
  if (st.raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &st.saved);
  signal(SIGWINCH, SIG_DFL);
  close(wake_pipe[0]);
  close(wake_pipe[1]);
  if (r < 0) {
    pagent_free(&a);
    adr_err_prefix(&err, "attach to '%s'", name);
    return report(&err);
  }
  struct adr_container now;
  int ir = adr_engine_container_inspect(ctx->engine, a.c.id, &now, &err);
  int ret = EXIT_OK;
  if (ir == 0 && streq(now.state, "running")) {
    fprintf(stderr, "\ndetached from '%s' (still running)\n", name);
  } else if (ir == 0) {
    fprintf(stderr, "\n'%s' exited with status %d\n", name, now.exit_code);
    ret = now.exit_code;
  }
  if (ir == 0)
    adr_container_free(&now);
  pagent_free(&a);
  return ret;
}
