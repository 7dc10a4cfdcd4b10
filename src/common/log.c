#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static adr_log_sink sink;

void adr_log_set_sink(adr_log_sink s) { sink = s; }

void adr_debug(const char *fmt, ...)
{
  if (!sink)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *m = NULL;
  if (vasprintf(&m, fmt, ap) >= 0) {
    sink(m);
    free(m);
  }
  va_end(ap);
}
