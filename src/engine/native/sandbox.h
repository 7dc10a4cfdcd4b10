/* The native engine's sandbox (issue 17): a process in its own user,
 * mount, pid, ipc, uts, net and cgroup namespaces, on an overlayfs of the
 * image's layers (store.h), with adr's hardening, and no daemon.  The
 * engine operations over it are ops.c; a running sandbox is held by the
 * supervisor of super.c.  Network: none (loopback) only, so far.  Memory,
 * CPU and pids limits: cgroup.h.  Landlock, where the kernel has it, as a
 * layer more: the program writes only beneath its writable mounts (and
 * /dev's devices), nothing of /proc.
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
#include <stdint.h>
#include <sys/types.h>

struct adr_native_bind {
  const char *src, *dst;
  bool ro;
};

struct adr_native_tmpfs {
  const char *path;
  uint64_t size; /* 0: 256 MiB */
  unsigned mode; /* 0: 01777 */
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
  const struct strv *tmpfs; /* paths, writable, 1777, 256 MiB */
  const struct adr_native_tmpfs *tmpfs_at;
  size_t n_tmpfs_at;
  const char *run_dir;   /* an empty host directory for the run's mounts */
  const char *cache_dir; /* where the compiled seccomp policy is kept (NULL: compiled each run) */
  const char *name;      /* for its cgroup; NULL: one of the caller's pid */
  struct adr_ncgroup_limits limits;
  struct strv *warnings; /* limits that cannot be had (NULL: not said) */
  const int *stdio;      /* the program's stdin, stdout, stderr (NULL: the caller's) */
  /* its network: a namespace of its own with loopback only (the default);
   * the host's (host_net: only for the egress gateway, which connects out
   * and serves the sandbox through listeners it is given); or the one a
   * holder (adr_native_holder_start) keeps, joined with the holder's user
   * namespace (join_pid, which started at join_start: a pid reused since
   * is refused) */
  bool host_net;
  pid_t join_pid;
  unsigned long long join_start;
  const int *pass_fds; /* kept open for the program, at their numbers */
  size_t n_pass_fds;
  const char *resolv; /* /etc/resolv.conf's text (NULL: the image's) */
  bool tty;           /* stdio[0] is a terminal: the program's controlling one */
  /* hardening turned off: only for the conformance suite's controls */
  bool keep_caps, no_nnp, rw_root, host_cgroupns;
  bool no_landlock; /* for tests' controls only */
};

/* A sandbox started: pid, the caller's child, ends with the sandbox (its
 * exit status is the program's); init is the sandbox's pid 1 as the host
 * sees it (signals go there: it passes them on to the program). */
struct adr_native_proc {
  pid_t pid, init;
  struct adr_ncgroup cg;
};

/* A network namespace kept by a process of its own (the holder, the
 * caller's child, dies with it) in a user namespace of its own (so that an
 * unprivileged caller may make it, and its sandboxes join it).  It has
 * loopback, and with outbound a way out through slirp4netns (the caller's
 * child too, ending with it); blackholes: CIDRs routed nowhere there.
 * listen: "tcp:PORT" or "udp:PORT", each made on 127.0.0.1 there and given
 * to the caller: fds[i] (the caller's to close). */
struct adr_native_holder_req {
  const struct strv *listen, *blackholes;
  bool outbound;
};
struct adr_native_holder {
  pid_t pid;
  int *fds;
  size_t n;
  pid_t slirp;
  int slirp_exit; /* slirp4netns ends when this closes */
};
/* slirp4netns's address for the namespace's resolver (its DNS forwarder) */
#define ADR_NATIVE_SLIRP_DNS "10.0.2.3"
/* 0 when outbound holders can be made here; else -1 with err saying why */
int adr_native_outbound_check(adr_err *err);
int adr_native_holder_start(const struct adr_native_holder_req *rq, struct adr_native_holder *h, adr_err *err);
void adr_native_holder_free(struct adr_native_holder *h);
/* text into /proc/PID/WHAT (a uid_map, gid_map, setgroups) */
int adr_native_write_map(pid_t pid, const char *what, const char *text, adr_err *err);
/* /dev/null on 0, 1 and 2 (a process that outlives its caller's terminal) */
void adr_native_stdio_null(void);
/* loopback up in the caller's network namespace; -1 with errno */
int adr_native_lo_up(void);

/* Starts b (stdio: b->stdio, else the caller's).  0 once the program runs,
 * -1 with err (what failed in set-up, before the program).  Both the
 * sandbox and its pid 1 die with the caller (PR_SET_PDEATHSIG). */
int adr_native_spawn(const struct adr_native_box *b, struct adr_native_proc *p, adr_err *err);
/* Waits for it to end: its exit code (128+N for a signal); its cgroup goes. */
int adr_native_reap(struct adr_native_proc *p);
/* Both, in the foreground.  0 with *status, or -1 with err. */
int adr_native_run(const struct adr_native_box *b, int *status, adr_err *err);

/* A program run in a running sandbox: its namespaces and cgroup, the same
 * hardening as the sandbox's own program. */
struct adr_native_exec {
  pid_t init; /* the sandbox's pid 1 (adr_native_proc.init) */
  const struct strv *argv, *env;
  const char *workdir;
  uid_t uid;
  gid_t gid;
  const char *seccomp, *cache_dir;
  const struct strv *cgroup_dirs; /* the sandbox's (adr_ncgroup.dirs) */
  const int *stdio;               /* NULL: the caller's */
  bool tty;
  bool keep_caps, no_nnp, rw_root;
  const struct strv *writable; /* Landlock: the sandbox's writable mounts */
};
/* Where b's program may write (Landlock): its tmpfs and read-write binds. */
void adr_native_writable(const struct adr_native_box *b, struct strv *out);
/* Starts it: *pid, the caller's child, ends with it (adr_native_wait). */
int adr_native_exec_start(const struct adr_native_exec *x, pid_t *pid, adr_err *err);
int adr_native_wait(pid_t pid);

/* The seccomp policy as libseccomp rules, checked without loading it:
 * for tests and for `adr status`. */
int adr_native_seccomp_check(const char *json, adr_err *err);

#endif
