/* What core has to say while it works: warnings, hints, progress.  Core
 * never prints; it hands each message to the handler its caller installed
 * (the command layer prints them in git's style, a server would forward
 * them).  One event type for every phase of a sandbox's life (launch,
 * teardown, reaping, teams), so that a caller installs one handler. */
#ifndef ADR_EVENT_H
#define ADR_EVENT_H

enum adr_event_kind {
  ADR_EVENT_INFO,    /* progress or a result worth a line ("kept 'x' (stopped): ...") */
  ADR_EVENT_WARNING, /* something the user should know; the work goes on */
  ADR_EVENT_HINT,    /* what the user could do next */
};

struct adr_event {
  enum adr_event_kind kind;
  const char *text; /* one line, no prefix, no newline */
};

typedef void (*adr_event_fn)(const struct adr_event *ev, void *ud);

/* A handler and its data; fn NULL: events are dropped. */
struct adr_events {
  adr_event_fn fn;
  void *ud;
};

void adr_emit(const struct adr_events *to, enum adr_event_kind kind, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

#endif
