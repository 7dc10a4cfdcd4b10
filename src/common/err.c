#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 1, 0))) static char *vfmt(const char *fmt, va_list ap)
{
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    return NULL;
  return s;
}

__attribute__((format(printf, 4, 0))) static int set_common(adr_err *err, int errnum, int with_strerror,
                                                            const char *fmt, va_list ap)
{
  if (err == NULL)
    return -1;
  adr_err_free(err);
  struct adr_err_s *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return -1; /* out of memory: the caller still sees failure */
  e->errnum = errnum;
  e->status = 1;
  char *m = vfmt(fmt, ap);
  if (m != NULL && with_strerror && errnum != 0) {
    char *full = NULL;
    if (asprintf(&full, "%s: %s", m, strerror(errnum)) >= 0) {
      free(m);
      m = full;
    }
  }
  e->msg = m ? m : strdup("out of memory");
  *err = e;
  return -1;
}

int adr_err_set(adr_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_common(err, errnum, 0, fmt, ap);
  va_end(ap);
  return -1;
}

int adr_err_sys(adr_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  set_common(err, errnum, 1, fmt, ap);
  va_end(ap);
  return -1;
}

int adr_err_prefix(adr_err *err, const char *fmt, ...)
{
  if (err == NULL || *err == NULL)
    return -1;
  va_list ap;
  va_start(ap, fmt);
  char *ctx = vfmt(fmt, ap);
  va_end(ap);
  if (ctx == NULL)
    return -1;
  char *full = NULL;
  if (asprintf(&full, "%s: %s", ctx, (*err)->msg) >= 0) {
    free((*err)->msg);
    (*err)->msg = full;
  }
  free(ctx);
  return -1;
}

void adr_err_free(adr_err *err)
{
  if (err == NULL || *err == NULL)
    return;
  free((*err)->msg);
  free(*err);
  *err = NULL;
}

void adr_err_move(adr_err *dst, adr_err *src)
{
  adr_err_free(dst);
  *dst = *src;
  *src = NULL;
}
