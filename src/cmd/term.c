#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int sig_fd = -1; /* a handler has no user data: the one term catching */
static sigset_t caught;

static void on_signal(int sig)
{
  int saved = errno;
  unsigned char c = (unsigned char)sig;
  ssize_t r = write(sig_fd, &c, 1);
  (void)r;
  errno = saved;
}

void term_init(struct term *t)
{
  *t = (struct term){ .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO), .pipe = { -1, -1 } };
}

int term_catch(struct term *t, const int *sigs, size_t n, adr_err *err)
{
  if (pipe2(t->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
    return adr_err_sys(err, errno, "pipe");
  sig_fd = t->pipe[1];
  sigemptyset(&caught);
  struct sigaction sa = { .sa_handler = on_signal };
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < n; i++) {
    sigaction(sigs[i], &sa, NULL);
    sigaddset(&caught, sigs[i]);
  }
  return 0;
}

size_t term_signals(struct term *t, unsigned char *sigs, size_t max)
{
  ssize_t n = t->pipe[0] >= 0 ? read(t->pipe[0], sigs, max) : -1;
  return n > 0 ? (size_t)n : 0;
}

void term_raw(struct term *t)
{
  if (!t->tty || t->raw || tcgetattr(STDIN_FILENO, &t->saved) != 0)
    return;
  struct termios raw = t->saved;
  cfmakeraw(&raw);
  t->raw = tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0;
}

bool term_size(const struct term *t, unsigned *rows, unsigned *cols)
{
  struct winsize ws;
  if (!t->tty || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || !ws.ws_row || !ws.ws_col)
    return false;
  *rows = ws.ws_row;
  *cols = ws.ws_col;
  return true;
}

void term_restore(struct term *t)
{
  if (t->raw)
    tcsetattr(STDIN_FILENO, TCSADRAIN, &t->saved);
  t->raw = false;
}

void term_close(struct term *t)
{
  term_restore(t);
  if (t->pipe[0] < 0)
    return;
  for (int s = 1; s < NSIG; s++)
    if (sigismember(&caught, s) == 1)
      signal(s, SIG_DFL);
  sig_fd = -1;
  close(t->pipe[0]);
  close(t->pipe[1]);
  t->pipe[0] = t->pipe[1] = -1;
}
