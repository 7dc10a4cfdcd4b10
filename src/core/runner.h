/* A runner (adr runner): claims runs from the coordinator (coord.h) and
 * runs each in an adr sandbox through core's launch, with the full
 * hardening, network policy and credential relay of adr run: the
 * repository cloned into a fresh workspace on branch adr/run-ID at the
 * run's ref; the result (exit status, the output's tail, the commits, the
 * branch pushed back to the repository) reported to the coordinator.  A
 * heartbeat keeps the lease and brings a cancel; a run that hangs has its
 * timeout. */
#ifndef ADR_RUNNER_H
#define ADR_RUNNER_H

#include "agent.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "util.h"

#include <signal.h>
#include <stdbool.h>

struct adr_runner {
  const char *coordinator, *token, *name;
  const struct strv *tags;
  bool only_tagged;
  unsigned capacity; /* runs at once (each in a process of its own) */
  const struct adr_config *config;
  const struct adr_agents *agents;
  const struct adr_engine *engine;         /* reopened in each run's process */
  const char *work_dir;                    /* where workspaces and logs go */
  volatile sig_atomic_t *stop;             /* set: take no more runs, let the running ones end */
  void (*say)(const char *line, void *ud); /* what it does, a line each (may be NULL) */
  void *ud;
};

/* Claims and runs until *stop: 0, or -1 when it cannot go on. */
int adr_runner_loop(const struct adr_runner *r, adr_err *err);

#endif
