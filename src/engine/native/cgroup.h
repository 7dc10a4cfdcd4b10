/* The native sandbox's memory, CPU and pids limits: a cgroup per sandbox
 * below the caller's own, in a delegated cgroup v2 subtree or the v1
 * hierarchies root may write.  A limit that cannot be had is named in a
 * warning (the caller shows it), never dropped in silence. */
#ifndef ADR_NATIVE_CGROUP_H
#define ADR_NATIVE_CGROUP_H

#include "util.h"

#include <stdbool.h>
#include <stdint.h>

struct adr_ncgroup_limits {
  int64_t memory;    /* bytes, 0: none */
  int64_t pids;      /* 0: none */
  int64_t nano_cpus; /* 1e9 per CPU, 0: none */
  /* the caller limits the sandbox's processes with RLIMIT_NPROC where no
   * pids cgroup holds them (the warnings say so).  Not for root: the
   * kernel does not hold its uid to RLIMIT_NPROC */
  bool pids_by_rlimit;
};

struct adr_ncgroup {
  struct strv dirs; /* made, one per hierarchy */
  bool unified;     /* dirs[0] is in cgroup v2's unified hierarchy; else each
                       is /sys/fs/cgroup/CONTROLLER/... (v1) */
  int64_t nproc;    /* with pids_by_rlimit, where no pids controller holds
                       the pids limit: the limit for RLIMIT_NPROC (0: none) */
};

/* Made for sandbox name with the limits; what cannot be had goes to
 * warnings.  Always 0: a sandbox without a limit still runs, said. */
int adr_ncgroup_make(struct adr_ncgroup *g, const char *name, const struct adr_ncgroup_limits *lim,
                     struct strv *warnings);
/* The calling process joins them (before it makes its namespaces);
 * -1 with errno. */
int adr_ncgroup_enter(const struct adr_ncgroup *g);
/* Removed (once their processes are gone). */
void adr_ncgroup_remove(struct adr_ncgroup *g);
/* One sandbox cgroup removed, waiting up to 2 s while its last processes
 * exit (EBUSY); 0 also when it is gone already, else -1 with errno. */
int adr_ncgroup_rmdir(const char *dir);

#endif
