/* The end of a sandbox's life, in one place: stopping it, tearing it down
 * (its worktree, the sandbox, the host state it used, its egress gateway
 * and network), and reaping what an adr that was killed left behind.
 * adr run, adr start (when it fails half way), adr stop, adr rm, adr team
 * and the reaper all go through these. */
#ifndef ADR_REAP_H
#define ADR_REAP_H

#include "engine.h"
#include "err.h"
#include "event.h"
#include "git.h"
#include "worktree.h"

#include <stdbool.h>

struct adr_pagent;

/* What a sandbox is made of, as far as tearing it down goes.  Every part
 * is optional. */
struct adr_teardown {
  const char *who;           /* for messages: the agent's or the sandbox's name */
  const char *sandbox;       /* its name: its egress objects are named after it */
  const char *id;            /* its container (id or name); NULL: never made */
  const struct strv *labels; /* host state its labels name (undone only below the state dir) */
  const char *idmap_dir;     /* host state known without labels (the run that made it) */
  const char *identity_dir;
  const struct adr_repo *repo; /* a worktree, removed first; NULL: none */
  const struct adr_worktree *wt;
  bool delete_branch;
  bool egress;              /* it has an egress gateway and network */
  const char *egress_dir;   /* their files; NULL: STATE/egress/SANDBOX */
  const char *egress_unit;  /* the pool unit it claimed (egress.h); NULL: named after the sandbox */
  bool forget_log;          /* the decision log goes too (a removed agent) */
  const char *services_net; /* its compose services' network (SANDBOX-svc); NULL: none */
  bool sidecars;            /* it has sidecars (MCP servers, ssh-agent: launch-mcp.c) */
  bool strict;              /* the worktree or the sandbox failing to go stops it all, with err */
};

/* A persistent agent's parts, from its labels (borrowed from a). */
void adr_teardown_of_pagent(const struct adr_pagent *a, struct adr_teardown *t);

/* Stops the sandbox when running (SIGTERM, SIGKILL 10 s later), then its
 * gateway; everything else stays.  -1 with err when the sandbox did not
 * stop. */
int adr_teardown_stop(struct adr_engine *e, const struct adr_teardown *t, bool running, adr_err *err);

/* Removes, in this order: the worktree, the sandbox, then (only once the
 * sandbox is gone: it may still use them) its host state, its compose
 * services, its egress gateway and network, its services' network.  Failures are warnings through ev, except that in
 * strict mode a worktree or sandbox that does not go is returned in err
 * and nothing after it is touched.  The sandbox's labels go last, with it,
 * so that a kill half way leaves what the next attempt needs. */
int adr_teardown(struct adr_engine *e, const struct adr_teardown *t, const struct adr_events *ev, adr_err *err);

/* Removes what adr processes that no longer exist left behind: their
 * transient sandboxes, gateways and networks, and host state no sandbox's
 * labels name.  Quiet (ADR_DEBUG shows it); cheap when there is nothing. */
void adr_reap(struct adr_engine *e);

/* Cleans up after `adr start`s in repo that were killed half way: a
 * worktree no sandbox points at, with its start marker holding a dead pid.
 * One that holds work stays (a warning says so). */
void adr_reap_starts(struct adr_engine *e, const struct adr_repo *repo, const struct adr_events *ev);

#endif
