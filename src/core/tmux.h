/* Driving tmux: argv vectors only (tmux >= 3.0 runs a command given as
 * several arguments without a shell), output bounded.  ADR_TMUX_SOCKET
 * (a path, tmux -S) selects a server; otherwise tmux's default, which
 * honours TMUX_TMPDIR. */
#ifndef ADR_TMUX_H
#define ADR_TMUX_H

#include "buf.h"
#include "err.h"

/* tmux's version as major*100+minor (3.3a -> 303); -1 with err when tmux
 * cannot be run. */
int adr_tmux_version(adr_err *err);

/* Runs `tmux ARGS...`; 0 on success (out gets stdout, may be NULL),
 * -1 with err holding tmux's message. */
int adr_tmux(struct buf *out, adr_err *err, const char *arg, ...) __attribute__((sentinel));
/* The same with an argument vector (NULL-terminated). */
int adr_tmuxv(struct buf *out, adr_err *err, const char *const *args);

#endif
