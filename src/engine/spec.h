/* The sandbox spec: an engine-neutral description of one sandbox.
 *
 * Data flows one way: argv + config + agent definition -> struct adr_spec
 * (built by core's builders, e.g. runspec.c) -> an engine realises it
 * (docker/json.c turns it into Engine API JSON). */
#ifndef ADR_SPEC_H
#define ADR_SPEC_H

#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

enum adr_mount_type { ADR_MOUNT_BIND, ADR_MOUNT_TMPFS };

/* Defaults adr_spec_add_tmpfs applies for size 0 and mode 0. */
#define ADR_TMPFS_DEFAULT_SIZE (64ull << 20)
#define ADR_TMPFS_DEFAULT_MODE 01777

struct adr_spec_mount {
  enum adr_mount_type type;
  char *source; /* host path (bind) */
  char *target; /* absolute path in the sandbox */
  bool readonly;
  bool rprivate; /* bind: no mount propagation either way (MUST, set by adr_spec_add_bind) */
  bool nosuid;   /* tmpfs: (MUST, set by adr_spec_add_tmpfs) */
  bool nodev;    /* tmpfs: (MUST, set by adr_spec_add_tmpfs) */
  bool noexec;   /* tmpfs: off by default: HOME and /tmp hold programs agents run */
  uint64_t size; /* tmpfs size in bytes */
  unsigned mode; /* tmpfs mode of its root */
  long uid, gid; /* tmpfs owner, -1 = root */
};

/* The sandbox's network. */
enum adr_spec_net_kind {
  ADR_SPEC_NET_OUTBOUND = 0, /* the engine's default: a private address with a route out (docker: bridge) */
  ADR_SPEC_NET_NONE,         /* loopback only */
  ADR_SPEC_NET_JOIN,         /* another sandbox's network namespace (name); its hostname, hosts and
                                resolvers come with it, so the spec sets none of them */
  ADR_SPEC_NET_ATTACH,       /* only the named network (name), at ipv4 when set */
};
struct adr_spec_net {
  enum adr_spec_net_kind kind;
  char *name;          /* JOIN: the sandbox; ATTACH: the network */
  char *ipv4;          /* ATTACH: a fixed address (in a subnet adr chose), NULL = the engine picks */
  struct strv aliases; /* ATTACH: more names the network's members resolve to it (a service's) */
};

/* A health check the engine runs in the sandbox (a dev container's
 * services: adr waits for them to be healthy). test as the engine takes
 * it: "CMD" ARG..., or "CMD-SHELL" STRING; empty: the image's own. */
struct adr_spec_health {
  struct strv test;
  int64_t interval_ms, timeout_ms, start_period_ms; /* 0: the engine's default */
  int retries;                                      /* 0: the engine's default */
};

enum adr_restart {
  ADR_RESTART_NO = 0,         /* a sandbox that stops stays stopped */
  ADR_RESTART_UNLESS_STOPPED, /* back after the engine restarts, unless it was stopped */
  ADR_RESTART_ON_FAILURE,     /* again when it exits non-zero */
  ADR_RESTART_ALWAYS,
};

enum adr_seccomp {
  ADR_SECCOMP_ENGINE = 0, /* the engine's default filter */
  ADR_SECCOMP_ADR,        /* adr's policy: seccomp_profile holds it (data/seccomp.json, OCI/Docker JSON) */
  ADR_SECCOMP_NONE,       /* no filter at all */
};

/* The hardening every engine MUST apply, each from its field below (none
 * is implied by an engine, so that a new engine cannot forget one without
 * a test noticing).  adr_spec_init and the adr_spec_add_* builders set
 * them; only adr's own helper sandboxes relax one, explicitly:
 *
 *   read_only_root      the root filesystem is read-only
 *   no_new_privileges   no privileges gained through exec (setuid, file caps)
 *   drop_all_caps       every capability dropped; cap_add names the few a helper keeps
 *   ipc_private         an IPC namespace of its own, not shareable
 *   cgroupns_private    a cgroup namespace of its own
 *   privileged          never: adr_spec_check refuses a spec with it set
 *   swap_limited        memory + swap = memory: no swap beyond the memory limit
 *   init                a minimal init as pid 1 (signals, zombies)
 *   mounts              binds rprivate; tmpfs nosuid,nodev (noexec where set)
 *   memory, nano_cpus, pids   enforced whenever non-zero (adr's builders set them)
 *   seccomp             adr's policy when the builder sets it (adr run does) */
/* GPUs handed to the sandbox (the engine's device requests): none, all,
 * a count, or the devices named. */
struct adr_spec_gpus {
  int count;              /* 0 none, -1 all, N */
  struct strv device_ids; /* or these (count 0) */
};

struct adr_spec {
  char *name; /* sandbox (container) name */
  char *image;
  struct strv cmd; /* argv of the process */
  struct strv env; /* KEY=VALUE */
  char *user;      /* "uid:gid" */
  char *workdir;
  char *hostname;
  struct adr_spec_mount *mounts;
  size_t n_mounts;
  struct strv labels; /* key=value */
  struct adr_spec_net net;
  bool host_alias;        /* host.docker.internal resolves to the host (the engine decides how) */
  struct strv dns;        /* resolver addresses for the sandbox */
  struct strv entrypoint; /* replaces the image's entrypoint when non-empty */
  struct strv sysctls;    /* key=value, namespaced ones only */
  enum adr_restart restart;
  bool tty;
  bool interactive; /* keep stdin open */
  bool detachable;  /* stdin stays open across attach/detach (persistent agents) */

  /* limits (0 = unlimited) */
  int64_t memory; /* bytes */
  int64_t nano_cpus;
  int64_t pids;
  struct adr_spec_gpus gpus; /* devices only: the hardening stays as it is */
  struct adr_spec_health health;

  /* hardening (see above); adr_spec_init turns each on */
  bool read_only_root;
  bool no_new_privileges;
  bool drop_all_caps;
  struct strv cap_add; /* only for adr's own helper sandboxes (fix-owner, the egress holder) */
  bool ipc_private;
  bool cgroupns_private;
  bool privileged; /* never set */
  bool swap_limited;
  bool init;
  enum adr_seccomp seccomp;
  char *seccomp_profile; /* ADR_SECCOMP_ADR: the policy's JSON text */
};

void adr_spec_init(struct adr_spec *s);
void adr_spec_free(struct adr_spec *s);
static inline void adr_spec_cleanup(struct adr_spec *s) { adr_spec_free(s); }
#define cleanup_spec __attribute__((cleanup(adr_spec_cleanup)))

/* A bind mount, rprivate. */
void adr_spec_add_bind(struct adr_spec *s, const char *source, const char *target, bool readonly);
/* A tmpfs, nosuid and nodev; size 0 and mode 0 take the defaults above.
 * uid/gid: owner of the tmpfs root, -1 for the default (root); a gid of -1
 * with a uid set is the uid. */
void adr_spec_add_tmpfs(struct adr_spec *s, const char *target, uint64_t size, unsigned mode, long uid, long gid);
void adr_spec_set_label(struct adr_spec *s, const char *key, const char *value);
/* Each KEY=VALUE of kv (entries without '=' are skipped). */
void adr_spec_set_labels(struct adr_spec *s, const struct strv *kv);
/* The network: kind, the sandbox or network name (JOIN, ATTACH), an
 * address (ATTACH, may be NULL).  Joining drops the spec's hostname, host
 * alias and resolvers: they come from the namespace joined. */
void adr_spec_set_net(struct adr_spec *s, enum adr_spec_net_kind kind, const char *name, const char *ipv4);
/* The seccomp filter; profile: the JSON text with ADR_SECCOMP_ADR. */
void adr_spec_set_seccomp(struct adr_spec *s, enum adr_seccomp mode, const char *profile);
/* The first string of the spec that is not valid UTF-8 (engines speak JSON,
 * which cannot carry it), or NULL when there is none. */
const char *adr_spec_non_utf8(const struct adr_spec *s);
/* Refuses what no engine may create: a privileged sandbox (EPERM), strings
 * that are not UTF-8 (EILSEQ), a network that does not hold together
 * (EINVAL). Engines call it before they create anything. */
int adr_spec_check(const struct adr_spec *s, adr_err *err);

/* A SHA-256 (64 hex digits) of everything in s that makes a sandbox what
 * it is, except what a warm sandbox (core's ADR_WARM) is given only when
 * it is claimed: its name, its command and its labels; and except its
 * network and resolvers, which the caller digests in extra as it decides
 * them (strings, in order).  Two specs with equal digests make the same
 * sandbox but for those. */
char *adr_spec_digest(const struct adr_spec *s, const struct strv *extra);
/* SHA-256 of len bytes at data, in lowercase hex (64 digits). */
char *adr_sha256_hex(const void *data, size_t len);

/* Labels every adr object carries. */
#define ADR_LABEL_MANAGED "dev.adr.managed"
#define ADR_LABEL_AGENT "dev.adr.agent"
#define ADR_LABEL_KIND "dev.adr.kind"       /* run, fix-owner, ... */
#define ADR_LABEL_OWNER_PID "dev.adr.pid"   /* the adr process that owns a transient sandbox */
#define ADR_LABEL_OWNER_BOOT "dev.adr.boot" /* host boot id, so pids are comparable */
#define ADR_LABEL_WORKSPACE "dev.adr.workspace"
#define ADR_LABEL_IDMAP "dev.adr.idmap"       /* directory of idmapped mounts to undo */
#define ADR_LABEL_IDENTITY "dev.adr.identity" /* host dir with the sandbox passwd/group */
/* persistent agents (kind "agent") */
#define ADR_LABEL_NAME "dev.adr.name"   /* the user's name for it, unique per repository */
#define ADR_LABEL_SCOPE "dev.adr.scope" /* repository top (or workspace) it belongs to */
#define ADR_LABEL_BRANCH "dev.adr.branch"
#define ADR_LABEL_WORKTREE "dev.adr.worktree"
#define ADR_LABEL_GITDIR "dev.adr.gitdir"
#define ADR_LABEL_BASE "dev.adr.base"   /* commit the branch started from */
#define ADR_LABEL_TEAM "dev.adr.team"   /* adr team session it belongs to */
#define ADR_LABEL_SSH "dev.adr.ssh"     /* started with --ssh: adr ssh reaches it */
#define ADR_LABEL_PORTS "dev.adr.ports" /* its dev container's forwardPorts (adr port), comma separated */
/* a warm sandbox (core's ADR_WARM): the digest of its spec (adr_spec_digest
 * and what the launch adds); its name, branch and base above are those it
 * was made with, until a start claims it (launch-warm.c) */
#define ADR_LABEL_WARM "dev.adr.warm"
/* a sandbox's egress gateway and network (kind "gateway" / "network") */
#define ADR_LABEL_FOR "dev.adr.for"               /* the sandbox (container name) they serve */
#define ADR_LABEL_NETMODE "dev.adr.network"       /* none, allowlist, open */
#define ADR_LABEL_EGRESS_LOG "dev.adr.egress-log" /* host path of the decision log */
#define ADR_LABEL_POOL "dev.adr.pool"             /* a unit of the egress pool (core/egress.h): its pool dir */
#define ADR_LABEL_EGRESS_UNIT "dev.adr.egress"    /* on a sandbox: the pool unit it claimed */
/* a dev container's compose services (kind "service", ADR_LABEL_FOR their
 * sandbox) and their network (kind "services-network") */
#define ADR_LABEL_SERVICES "dev.adr.services" /* on a sandbox: its services' network */
#define ADR_LABEL_SIDECARS "dev.adr.sidecars" /* on a sandbox: sidecars beside it (MCP servers, ssh-agent) */
#define ADR_LABEL_SERVICE "dev.adr.service"   /* on a service: its name in the compose file */

#endif
