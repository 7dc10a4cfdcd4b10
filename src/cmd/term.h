/* The terminal of a command connected to a sandbox (adr run, attach,
 * exec): raw mode while connected, the window's size, the signals the
 * command catches (each arrives as a byte on a pipe the attach loop
 * watches, so nothing runs in a signal handler), and the detach keys. */
#ifndef ADR_CMD_TERM_H
#define ADR_CMD_TERM_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#define TERM_DETACH_KEYS "ctrl-p,ctrl-q"
#define TERM_DETACH_HELP "Ctrl-P Ctrl-Q"

struct term {
  bool tty; /* stdin and stdout are terminals (the caller may narrow it) */
  bool raw;
  struct termios saved;
  int pipe[2]; /* caught signals */
};
void term_init(struct term *t);
/* Catches sigs until term_close. */
int term_catch(struct term *t, const int *sigs, size_t n, adr_err *err);
/* The fd to watch: readable when a signal was caught (-1 when none are). */
static inline int term_wake_fd(const struct term *t) { return t->pipe[0]; }
/* The signals caught since the last call (up to max). */
size_t term_signals(struct term *t, unsigned char *sigs, size_t max);
/* Raw mode, when a terminal. */
void term_raw(struct term *t);
/* The window's size; false when not a terminal. */
bool term_size(const struct term *t, unsigned *rows, unsigned *cols);
/* Back to the mode it was in. */
void term_restore(struct term *t);
/* term_restore, the default signal handlers, the pipe closed. */
void term_close(struct term *t);

#endif
