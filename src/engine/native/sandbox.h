/* The native engine's sandbox (issue 17, second part): a process in its
 * own user, mount, pid, ipc, uts, net and cgroup namespaces, on an
 * overlayfs of the image's layers (store.h), with adr's hardening, and no
 * daemon.  What exists: one foreground run (adr_native_run) with network
 * "none" (loopback only); not yet: engine operations (create, attach,
 * exec, logs, list), the other network modes, cgroup limits, Landlock,
 * the supervisor for persistent agents.  Memory, CPU and pids limits:
 * cgroup.h.
 *
 * The caller's uid and gid are the only ones mapped: the sandbox's user
 * (uid/gid inside) is the caller outside, so what it writes to a bind
 * mount is the caller's.  Set-up runs with the capabilities the new user
 * namespace gives (over its own namespaces only); before the program
 * runs: every capability dropped (bounding set included), no-new-
 * privileges, adr's seccomp policy (libseccomp from the Docker-format
 * JSON), the root read-only, /proc's sensitive paths masked. */
#ifndef ADR_NATIVE_SANDBOX_H
#define ADR_NATIVE_SANDBOX_H

#include "cgroup.h"
#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <sys/types.h>

struct adr_native_bind {
  const char *src, *dst;
  bool ro;
};

struct adr_native_box {
  const struct strv *layers; /* unpacked layer directories, bottom first */
  const struct strv *argv;   /* the program (looked up in the image's PATH) */
  const struct strv *env;    /* KEY=VALUE */
  const char *workdir;       /* NULL: "/" */
  uid_t uid;                 /* inside */
  gid_t gid;
  const char *hostname; /* NULL: "sandbox" */
  const char *seccomp;  /* Docker/OCI-format JSON, NULL: none */
  const struct adr_native_bind *binds;
  size_t n_binds;
  const struct strv *tmpfs; /* paths, writable, 1777 */
  const char *run_dir;      /* an empty host directory for the run's mounts */
  const char *cache_dir;    /* where the compiled seccomp policy is kept (NULL: compiled each run) */
  const char *name;         /* for its cgroup; NULL: one of the caller's pid */
  struct adr_ncgroup_limits limits;
  struct strv *warnings; /* limits that cannot be had (NULL: not said) */
};

/* Runs b in the foreground (stdio inherited).  0 with *status (the exit
 * code, 128+N for a signal), or -1 with err (what failed in set-up, before
 * the program). */
int adr_native_run(const struct adr_native_box *b, int *status, adr_err *err);

/* The seccomp policy as libseccomp rules, checked without loading it:
 * for tests and for `adr status`. */
int adr_native_seccomp_check(const char *json, adr_err *err);

#endif
