/* Child processes: an argv vector (never a shell string), an optional
 * working directory and extra environment, output captured into bounded
 * buffers.  Every descriptor of ours is O_CLOEXEC, so the child gets only
 * stdin (/dev/null), and the two pipes. */
#ifndef ADR_PROC_H
#define ADR_PROC_H

#include "buf.h"
#include "err.h"

#include <stddef.h>
#include <sys/types.h>

#define ADR_PROC_MAX_OUT (64u << 20) /* stdout kept, at most */
#define ADR_PROC_MAX_ERR (64u << 10) /* stderr kept, at most (the rest is dropped) */

struct adr_proc {
  const char *const *argv;  /* argv[0] is looked up in PATH */
  const char *dir;          /* NULL: the current directory */
  const char *const *env;   /* extra NAME=VALUE, NULL-terminated; may be NULL */
  const char *const *unset; /* names removed from the environment; may be NULL */
  struct buf *out;          /* NULL: stdout goes to ours */
  struct buf *errout;       /* NULL: stderr goes to ours */
  const char *input;        /* stdin's bytes (a memory file); NULL: /dev/null */
};

/* Runs p to completion.  Returns the exit status (0..255, 128+N for a
 * signal) or -1 with err when it could not be started or its stdout
 * exceeded ADR_PROC_MAX_OUT. */
int adr_proc_run(const struct adr_proc *p, adr_err *err);

/* A process's start time in clock ticks since boot (/proc/PID/stat's
 * field 22), 0 when it is gone or a zombie: with its pid, a name no other
 * process has had. */
unsigned long long adr_proc_start_time(pid_t pid);

#endif
