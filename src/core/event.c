#include "event.h"
#include "util.h"

#include <stdarg.h>

void adr_emit(const struct adr_events *to, enum adr_event_kind kind, const char *fmt, ...)
{
  if (to == NULL || to->fn == NULL)
    return;
  char *text = NULL;
  va_list ap;
  va_start(ap, fmt);
  int r = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (r < 0)
    return;
  struct adr_event ev = { .kind = kind, .text = text };
  to->fn(&ev, to->ud);
  free(text);
}
