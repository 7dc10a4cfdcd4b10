/* Turns the inputs of `adr run` (flags, config, agent definition, host
 * facts) into a sandbox spec.  No engine calls, no terminal: pure enough to
 * be unit-tested with exact Engine API JSON. */
#ifndef ADR_RUNSPEC_H
#define ADR_RUNSPEC_H

#include "agent.h"
#include "err.h"
#include "parse.h"
#include "spec.h"

#include <sys/types.h>

/* Explicit opt-outs of the hardening (`--unsafe WHAT`). */
enum {
  ADR_UNSAFE_WRITABLE_ROOT = 1 << 0,  /* writable-root */
  ADR_UNSAFE_NO_SECCOMP = 1 << 1,     /* no-seccomp: the engine's default profile */
  ADR_UNSAFE_NEW_PRIVILEGES = 1 << 2, /* new-privileges */
  ADR_UNSAFE_NO_LIMITS = 1 << 3,      /* no-limits: no memory/cpu/pids limits */
};
int adr_unsafe_parse(const char *what, unsigned *bits, adr_err *err);

#define ADR_SANDBOX_HOME "/home/agent"
#define ADR_SANDBOX_STAGE "/run/adr-stage"
#define ADR_SANDBOX_WORKSPACE "/workspace"

struct adr_run_opts {
  const char *name; /* sandbox name */
  const char *image;
  const char *workspace;   /* absolute host path */
  const char *host_home;   /* for "~" in config paths */
  const char *config_dir;  /* -c: replaces the agent's first config path */
  const char *config_file; /* --config-file */
  const char *prompt;      /* headless prompt */
  bool headless;
  bool shell;                 /* bash instead of the agent */
  const struct strv *command; /* or this argv (a procedural run) */
  bool tty;
  bool interactive; /* stdin attached */
  const char *model;
  const char *term; /* $TERM for tty sessions */
  struct strv env;  /* user KEY=VALUE, applied last */
  struct adr_mount *mounts;
  size_t n_mounts;
  char *const *agent_args;
  size_t n_agent_args;
  uid_t uid;
  gid_t gid;
  int64_t memory, nano_cpus, pids;
  const struct adr_spec_gpus *gpus; /* NULL: none */
  uint64_t home_size, tmp_size;
  unsigned unsafe;
  const char *seccomp_profile; /* JSON text */
  /* credentials (creds.h): HOME-relative paths never staged, rewritten
   * copies staged instead of the originals (overlay_dir/REL for each REL),
   * arguments placed right after the agent's binary */
  const struct strv *stage_hide;
  const struct strv *stage_overlays;
  const char *overlay_dir;
  const struct strv *pre_args;
  const char *identity_dir; /* host dir with passwd and group (adr_identity_write),
                                mounted read-only at /run/adr; NULL: a tmpfs the
                                entry script fills (then writable by the agent) */
};

int adr_run_spec(const struct adr_run_opts *o, const struct adr_agent *a, struct adr_spec *s, adr_err *err);

/* A sandbox's hostname: adr-AGENT. */
char *adr_run_hostname(const struct adr_agent *a);

/* The sandbox user's identity: writes DIR/passwd and DIR/group (root,
 * nobody and "agent" with uid:gid and HOME /home/agent), for a read-only
 * mount at /run/adr where the image's /etc/passwd and /etc/group point. */
int adr_identity_write(const char *dir, uid_t uid, gid_t gid, adr_err *err);
/* Writes a staged overlay file at DIR/stage/REL (under the identity dir,
 * removed with it), in place when it exists. */
int adr_stage_overlay_write(const char *dir, const char *rel, const char *content, adr_err *err);
/* Removes what adr_identity_write and adr_stage_overlay_write made; a
 * missing DIR is not an error. */
int adr_identity_remove(const char *dir, adr_err *err);

#endif
