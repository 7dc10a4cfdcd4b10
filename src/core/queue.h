/* The run queue of the coordinator (adr serve): headless runs that
 * clients submit and runners claim with a lease, run, and finish; kept in
 * SQLite (one file, WAL: the embedded default) or PostgreSQL (several
 * coordinators, durability across hosts).  One interface, one schema with
 * migrations, the same semantics and the same conformance tests for both
 * stores (tests/queue).
 *
 *   queued --claim--> claimed --started--> running --finish--> finished
 *     |                  |                    |
 *     +--cancel------> cancelled <--cancel----+ (asked of the runner first:
 *                                               its heartbeat says so)
 *   claimed/running whose lease ran out: queued again (attempts left) or
 *   lost.  A claim is atomic in the store: a run is never held by two
 *   runners at once, whatever number of coordinators share the store.
 *
 * Times are Unix milliseconds, given by the caller (tests move the clock).
 * Nothing here prints; errors name the store and what failed. */
#ifndef ADR_QUEUE_H
#define ADR_QUEUE_H

#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

enum adr_run_state {
  ADR_RUN_QUEUED = 0,
  ADR_RUN_CLAIMED,
  ADR_RUN_RUNNING,
  ADR_RUN_FINISHED,
  ADR_RUN_CANCELLED,
  ADR_RUN_LOST,
};
const char *adr_run_state_name(enum adr_run_state s);
/* -1 when name is none of them */
int adr_run_state_parse(const char *name);

struct adr_run {
  int64_t id;
  enum adr_run_state state;
  /* what was asked (submit) */
  char *agent, *profile; /* one of them at least */
  char *repo, *base_ref; /* repository URL or path, and the ref to start from */
  char *prompt, *model, *network;
  struct strv tags;    /* a runner must have every one */
  struct strv secrets; /* environment by secret name only */
  int64_t timeout_s;   /* 0: the runner's default */
  struct strv command; /* a procedural run: this argv in the sandbox instead of the agent */
  char *deliver;       /* the work: "push" (NULL) back to repo, or "bundle" stored with the run */
  /* what happened */
  char *runner;        /* who holds (held) it */
  int64_t lease_until; /* claimed, running: the runner's lease */
  int attempts;        /* claims so far */
  bool cancel;         /* cancel asked while a runner holds it */
  int exit_code;       /* finished */
  char *result;        /* finished: JSON text the runner reported */
  int64_t created, updated;
};
void adr_run_free(struct adr_run *r);
void adr_runs_free(struct adr_run *v, size_t n);

struct adr_queue;

/* where: "sqlite:PATH" (the file is made), or a PostgreSQL connection URI
 * ("postgresql://..." or "postgres://..."; libpq's parameters).  The
 * schema is migrated to the current version before it returns. */
int adr_queue_open(const char *where, struct adr_queue **q, adr_err *err);
void adr_queue_close(struct adr_queue *q);
/* "sqlite" or "postgresql" */
const char *adr_queue_kind(const struct adr_queue *q);
/* The schema version the store is at. */
int adr_queue_version(struct adr_queue *q, int *version, adr_err *err);

/* A new run, queued: *id.  r's agent or profile must be set. */
int adr_queue_submit(struct adr_queue *q, const struct adr_run *r, int64_t now, int64_t *id, adr_err *err);
/* The oldest queued run runner may take (every tag of the run among tags;
 * only_tagged: runs with tags only), claimed for lease_ms: 0 with *out,
 * 1 when there is none, -1. */
int adr_queue_claim(struct adr_queue *q, const char *runner, const struct strv *tags, bool only_tagged, int64_t now,
                    int64_t lease_ms, struct adr_run *out, adr_err *err);
/* The runner still holds run id: its lease extended; *cancel when a
 * cancel was asked.  0, 1 when it no longer holds it, -1. */
int adr_queue_heartbeat(struct adr_queue *q, int64_t id, const char *runner, int64_t now, int64_t lease_ms,
                        bool *cancel, adr_err *err);
/* claimed -> running: 0, 1 when runner does not hold it, -1. */
int adr_queue_started(struct adr_queue *q, int64_t id, const char *runner, int64_t now, adr_err *err);
/* -> finished (or cancelled, when a cancel was asked), with the exit
 * status and the result: 0, 1 when runner does not hold it, -1. */
int adr_queue_finish(struct adr_queue *q, int64_t id, const char *runner, int exit_code, const char *result,
                     int64_t now, adr_err *err);
/* A queued run is cancelled; a held one is asked to stop (the runner's
 * heartbeat says so, its finish makes it cancelled): 0, 1 when there is
 * no such run or it has ended already, -1. */
int adr_queue_cancel(struct adr_queue *q, int64_t id, int64_t now, adr_err *err);
/* Held runs whose lease ran out before now: queued again while they have
 * had fewer than max_attempts claims, else lost.  Counts in *requeued,
 * *lost (may be NULL). */
int adr_queue_expire(struct adr_queue *q, int64_t now, int max_attempts, unsigned *requeued, unsigned *lost,
                     adr_err *err);
/* The holder gives a run back (its runner restarted after a kill):
 * queued again while it has had fewer than max_attempts claims, else
 * lost; cancelled when a cancel was asked.  The event "released" holds
 * why.  0 with *state (may be NULL) the run's new one, 1 when runner does
 * not hold it, -1. */
int adr_queue_release(struct adr_queue *q, int64_t id, const char *runner, int max_attempts, const char *why,
                      int64_t now, enum adr_run_state *state, adr_err *err);
/* 0 with *out, 1 when there is no such run, -1. */
int adr_queue_get(struct adr_queue *q, int64_t id, struct adr_run *out, adr_err *err);

/* What happened to a run, in order: "queued", "claimed", "started",
 * "output" (data: the text), "finished", "cancelled", "cancel-asked",
 * "requeued", "lost", "released" (data: JSON with the runner, the exit
 * status, why). */
struct adr_run_event {
  int64_t id; /* increasing across the store */
  int64_t run_id, ts;
  char *kind, *data;
};
void adr_run_events_free(struct adr_run_event *v, size_t n);
int adr_queue_event_add(struct adr_queue *q, int64_t run_id, const char *kind, const char *data, int64_t now,
                        adr_err *err);
/* The run's events after after_id (at most limit; 0: 1000). */
int adr_queue_events(struct adr_queue *q, int64_t run_id, int64_t after_id, unsigned limit, struct adr_run_event **out,
                     size_t *n, adr_err *err);
/* An "output" event of the run's holder: 0, 1 when runner does not hold it, -1. */
int adr_queue_output(struct adr_queue *q, int64_t id, const char *runner, const char *text, int64_t now, adr_err *err);

/* A file stored with a run (the work's git bundle): put by the run's
 * holder only (0, 1 when runner does not hold it, -1); text (base64 for
 * bytes), replaced when put again.  get: 0 with *data, 1 when there is
 * none, -1. */
int adr_queue_file_put(struct adr_queue *q, int64_t id, const char *runner, const char *name, const char *data,
                       adr_err *err);
int adr_queue_file_get(struct adr_queue *q, int64_t id, const char *name, char **data, adr_err *err);

struct adr_queue_filter {
  int state; /* -1: any */
  const char *runner, *tag;
  int64_t after_id; /* ids above this (paging) */
  unsigned limit;   /* 0: 100 */
};
/* Runs matching f, oldest first. */
int adr_queue_list(struct adr_queue *q, const struct adr_queue_filter *f, struct adr_run **out, size_t *n,
                   adr_err *err);

#endif
