/* adr error object, after crun's libcrun_error_t.
 *
 * Library functions return 0 (or a non-negative value) on success and a
 * negative value on failure, filling *err.  They never print and never exit:
 * only the command layer reports, once, in git's style ("adr: <message>").
 * Callers add context on the way up with adr_err_prefix(), so the final line
 * reads outer-to-inner: "create container 'x': name in use". */
#ifndef ADR_ERR_H
#define ADR_ERR_H

#include <stdarg.h>

struct adr_err_s {
  int errnum; /* errno-style cause, or 0 */
  int status; /* suggested exit status for the command layer (default 1) */
  char *msg;  /* full message, no trailing newline, no "adr: " prefix */
};
typedef struct adr_err_s *adr_err;

/* Set *err (freeing any previous one). Returns -1 so callers can
 * `return adr_err_set(err, 0, "...")`. */
int adr_err_set(adr_err *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Like adr_err_set, and appends ": strerror(errnum)" when errnum != 0. */
int adr_err_sys(adr_err *err, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the existing message with "<context>: ". Returns -1. */
int adr_err_prefix(adr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void adr_err_free(adr_err *err);
/* Move the error out of *src into *dst. */
void adr_err_move(adr_err *dst, adr_err *src);

static inline void adr_err_cleanup(adr_err *err) { adr_err_free(err); }
#define cleanup_err __attribute__((cleanup(adr_err_cleanup)))

#endif
