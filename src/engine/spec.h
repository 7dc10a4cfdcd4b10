/* The sandbox spec: an engine-neutral description of one sandbox.
 *
 * Data flows one way: argv + config + agent definition -> struct adr_spec
 * (built by spec.c, no I/O beyond reading the host) -> an engine realises
 * it (engine-docker.c turns it into Engine API JSON). */
#ifndef ADR_SPEC_H
#define ADR_SPEC_H

#include "util.h"

#include <stdbool.h>
#include <stdint.h>

enum adr_mount_type { ADR_MOUNT_BIND, ADR_MOUNT_TMPFS };

struct adr_spec_mount {
  enum adr_mount_type type;
  char *source;     /* host path (bind) */
  char *target;     /* absolute path in the sandbox */
  bool readonly;
  uint64_t size;    /* tmpfs size in bytes, 0 = engine default */
  unsigned mode;    /* tmpfs mode, 0 = default */
  long uid, gid;    /* tmpfs owner, -1 = root */
};

struct adr_spec {
  char *name;           /* sandbox (container) name */
  char *image;
  struct strv cmd;      /* argv of the process */
  struct strv env;      /* KEY=VALUE */
  char *user;           /* "uid:gid" */
  char *workdir;
  char *hostname;
  struct adr_spec_mount *mounts;
  size_t n_mounts;
  struct strv labels;   /* key=value */
  struct strv extra_hosts; /* "name:address" ("host-gateway" allowed) */
  char *network;        /* "none", "bridge", a network name, or "container:ID" */
  char *ipv4;           /* fixed address on that network (needs a subnet adr chose) */
  struct strv dns;      /* resolver addresses for the sandbox */
  struct strv entrypoint; /* replaces the image's entrypoint when non-empty */
  struct strv sysctls;  /* key=value, namespaced ones only */
  char *restart;        /* restart policy name ("unless-stopped"), NULL = none */
  bool tty;
  bool interactive;     /* keep stdin open */
  bool init;            /* a minimal init as pid 1 (signals, zombies) */
  bool detachable;      /* stdin stays open across attach/detach (persistent agents) */

  /* limits (0 = unlimited) */
  int64_t memory;       /* bytes */
  int64_t nano_cpus;
  int64_t pids;

  /* hardening; each is on by default and turned off only explicitly */
  bool read_only_root;
  bool no_new_privileges;
  bool drop_all_caps;
  struct strv cap_add;   /* only for adr's own helper sandboxes (fix-owner) */
  char *seccomp_profile; /* JSON text, NULL = engine default */
};

void adr_spec_init(struct adr_spec *s);
void adr_spec_free(struct adr_spec *s);
static inline void adr_spec_cleanup(struct adr_spec *s) { adr_spec_free(s); }
#define cleanup_spec __attribute__((cleanup(adr_spec_cleanup)))

void adr_spec_add_bind(struct adr_spec *s, const char *source, const char *target, bool readonly);
/* uid/gid: owner of the tmpfs root, -1 for the default (root) */
void adr_spec_add_tmpfs(struct adr_spec *s, const char *target, uint64_t size, unsigned mode, long uid, long gid);
void adr_spec_set_label(struct adr_spec *s, const char *key, const char *value);
/* The first string of the spec that is not valid UTF-8 (engines speak JSON,
 * which cannot carry it), or NULL when there is none. */
const char *adr_spec_non_utf8(const struct adr_spec *s);

/* Labels every adr object carries. */
#define ADR_LABEL_MANAGED "dev.adr.managed"
#define ADR_LABEL_AGENT "dev.adr.agent"
#define ADR_LABEL_KIND "dev.adr.kind"       /* run, fix-owner, ... */
#define ADR_LABEL_OWNER_PID "dev.adr.pid"   /* the adr process that owns a transient sandbox */
#define ADR_LABEL_OWNER_BOOT "dev.adr.boot" /* host boot id, so pids are comparable */
#define ADR_LABEL_WORKSPACE "dev.adr.workspace"
#define ADR_LABEL_IDMAP "dev.adr.idmap"     /* directory of idmapped mounts to undo */
#define ADR_LABEL_IDENTITY "dev.adr.identity" /* host dir with the sandbox passwd/group */
/* persistent agents (kind "agent") */
#define ADR_LABEL_NAME "dev.adr.name"         /* the user's name for it, unique per repository */
#define ADR_LABEL_SCOPE "dev.adr.scope"       /* repository top (or workspace) it belongs to */
#define ADR_LABEL_BRANCH "dev.adr.branch"
#define ADR_LABEL_WORKTREE "dev.adr.worktree"
#define ADR_LABEL_GITDIR "dev.adr.gitdir"
#define ADR_LABEL_BASE "dev.adr.base"         /* commit the branch started from */
#define ADR_LABEL_TEAM "dev.adr.team"         /* adr team session it belongs to */
/* a sandbox's egress gateway and network (kind "gateway" / "network") */
#define ADR_LABEL_FOR "dev.adr.for"           /* the sandbox (container name) they serve */
#define ADR_LABEL_NETMODE "dev.adr.network"   /* none, allowlist, open */
#define ADR_LABEL_EGRESS_LOG "dev.adr.egress-log" /* host path of the decision log */

#endif
