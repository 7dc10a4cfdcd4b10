/* A sandbox's life as a library: adr run, adr start and adr team's members
 * (and a server, later) all go through it.
 *
 *   adr_launch_plan      options + config + agent definition -> limits,
 *                        network policy, mounts, environment, credentials
 *                        (reads the host; no engine)
 *   adr_launch_image     the reaper, then whether the image is there (the
 *                        caller may build it: core never asks)
 *   adr_launch_prepare   names, worktree (persistent), host state, the
 *                        spec, idmapped mounts, egress gateway and network
 *   adr_launch_create    the sandbox
 *   adr_launch_run       attach, start, wait (a transient run), or
 *   adr_launch_detach    start and leave it running (a persistent agent)
 *   adr_launch_teardown  undoes what was made, unless it was detached
 *
 * Core never prints, prompts, installs signal handlers or exits: warnings
 * and hints go to the caller's event handler, the signals the caller
 * catches come in through adr_launch_interrupt and adr_launch_resize. */
#ifndef ADR_LAUNCH_H
#define ADR_LAUNCH_H

#include "agent.h"
#include "config.h"
#include "creds.h"
#include "engine.h"
#include "err.h"
#include "event.h"
#include "git.h"
#include "netpolicy.h"
#include "parse.h"
#include "runspec.h"
#include "spec.h"
#include "worktree.h"

#include <stdbool.h>
#include <stdint.h>

struct adr_compose;
struct adr_forward;

/* err->status of an error in the options themselves (the caller shows its
 * usage with it). */
#define ADR_LAUNCH_USAGE 2
#define ADR_TIMEOUT_MIN 5u /* seconds: less cannot even start an agent */

/* What the command line (or a request) asks for. */
struct adr_launch_opts {
  const char *cwd;         /* relative paths and ADR_MOUNTS resolve here; NULL: "." */
  bool persistent;         /* adr start: the sandbox outlives the caller */
  const char *team;        /* persistent: the adr team session it belongs to */
  const char *agent;       /* the agent to run (the caller resolves a default) */
  const char *workspace;   /* NULL: cwd */
  const char *config_dir;  /* -c */
  const char *config_file; /* --config-file */
  const char *prompt;      /* headless prompt */
  bool headless, shell;
  const struct strv *command; /* a procedural run (adr runner): this argv instead of the agent */
  const char *tag, *model;
  const char *project_image; /* --image: the project's own image; NULL: ADR_PROJECT_IMAGE */
  bool no_devcontainer;      /* --no-devcontainer: not even when the workspace has one */
  bool ssh;                  /* adr start --ssh: sshd in the image, the user's keys let in (adr ssh) */
  const char *timeout;       /* --timeout; NULL: ADR_TIMEOUT, for headless runs only */
  const char *memory, *cpus, *pids;
  const char *gpus;       /* --gpus; NULL: ADR_GPUS */
  const char *name;       /* the sandbox's (run) or the agent's (start) name */
  const char *branch;     /* start: the branch to create */
  bool no_worktree;       /* start: work in the workspace itself */
  const char *network;    /* --network */
  const struct strv *env; /* -e KEY=VALUE or KEY (from the host) */
  const struct strv *env_files;
  const struct strv *mounts;  /* -m */
  const struct strv *allow;   /* --allow */
  const struct strv *presets; /* --allow-preset */
  bool no_relay;
  bool no_mcp;                  /* --no-mcp: mcp.json's servers are not given */
  bool git_push;                /* --git-push: the workspace's https remotes, through the relay */
  const struct strv *ssh_agent; /* --ssh-agent HOST[,HOST]: the hosts the forwarded agent signs for */
  unsigned unsafe;              /* ADR_UNSAFE_* */
  char *const *agent_args;
  size_t n_agent_args;
  bool tty;                               /* the caller has a terminal (stdin and stdout) */
  const char *term;                       /* $TERM */
  const char *(*getenv)(const char *key); /* the host environment; NULL: getenv */
};

/* A list of extra mounts (-m, ADR_MOUNTS). */
struct adr_mounts {
  struct adr_mount *v;
  size_t n;
};
void adr_mounts_free(struct adr_mounts *m);
static inline void adr_mounts_cleanup(struct adr_mounts *m) { adr_mounts_free(m); }
#define cleanup_mounts __attribute__((cleanup(adr_mounts_cleanup)))
/* Adds a HOST:CONTAINER[:ro|rw] mount; a second one at the same place is
 * an error. */
int adr_mounts_add(struct adr_mounts *m, const char *spec, const char *cwd, const char *home, adr_err *err);

struct adr_launch {
  /* inputs (borrowed) */
  const struct adr_launch_opts *o;
  const struct adr_config *config;
  const struct adr_agents *agents;
  struct adr_engine *engine; /* needed from adr_launch_image on */
  struct adr_events ev;

  /* plan */
  const struct adr_agent *agent;
  bool headless;
  uint64_t timeout;         /* seconds, 0: none */
  const char *timeout_text; /* as given, for messages */
  uint64_t memory, home_size, tmp_size;
  int64_t nano_cpus, pids;
  struct adr_spec_gpus gpus;
  struct adr_netpolicy pol;
  struct strv presets;
  char *home, *ws, *cfgdir, *cfgfile;
  struct adr_mounts mounts;
  struct adr_run_opts ro; /* adr_run_spec's inputs; ro.env (the user's KEY=VALUE, after the relay
                                      took its keys) is owned */
  struct adr_mcp mcp;     /* mcp.json's servers (launch-mcp.c) */
  bool sidecars_up;       /* sidecars were made (launch-sidecar.c) */
  char *ssh_sock;         /* --ssh-agent: the user's agent socket */
  uid_t ssh_uid;          /* its owner: the filter runs as them */
  gid_t ssh_gid;
  struct strv ssh_keys; /* the named hosts' keys (base64 blobs) */
  struct adr_creds_plan creds;
  struct strv overlay_rels;
  struct strv agent_args; /* ADR_ARGS_AGENT's, then the command line's */
  const char *model;
  char *image;
  char *image_id;              /* adr_launch_image: what the image is now */
  char *project_image;         /* the project's image as asked (the agent's image is then built on it) */
  struct adr_devcontainer *dc; /* the workspace's devcontainer.json, when used */
  struct adr_compose *compose; /* its compose services, when it names them (launch-services.c) */
  struct strv services;        /* those that start beside the agent, in order */

  /* warm sandboxes (ADR_WARM, launch-warm.c) */
  bool warm_make;    /* this launch makes one: its first process waits for a claim */
  bool warm_claimed; /* prepare claimed one: it runs, renamed; create and detach have nothing to do */

  /* prepare */
  char *cname;         /* the sandbox's name */
  char *scope, *pname; /* persistent: its repository (or workspace) and name */
  char *marker;        /* persistent: the start marker while it is made (ours) */
  struct adr_repo repo;
  struct adr_worktree wt;
  bool made_wt;
  char *identity_dir, *overlay_dir, *idmap_dir, *egress_dir;
  bool egress_made;
  char *egress_unit; /* the pool unit it claimed (egress.h), NULL: its own */
  char *relay_url;   /* a claimed unit's relay, as the sandbox reaches it */
  char *gateway_bin;
  char *svc_net; /* the services' network, once made */
  struct adr_spec spec;

  /* create, run, detach */
  char *id;
  bool started; /* detached: it and all it uses stay */
  int code;     /* its exit status */
  bool timed_out;
  int interrupted; /* the signal that stopped it, 0: none */
  int stop_phase;  /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
  int timer_fd;
  struct adr_forward *fwd; /* forwardPorts while a run is attached (forward.h) */
};

void adr_launch_init(struct adr_launch *l, const struct adr_launch_opts *o, const struct adr_config *config,
                     const struct adr_agents *agents, const struct adr_events *ev);
/* Frees what the launch holds; adr_launch_teardown first undoes what it made. */
void adr_launch_free(struct adr_launch *l);
static inline void adr_launch_cleanup(struct adr_launch *l) { adr_launch_free(l); }
#define cleanup_launch __attribute__((cleanup(adr_launch_cleanup)))

int adr_launch_plan(struct adr_launch *l, adr_err *err);
/* 0 the image is there, 1 it is not (err says how to build it), -1 error. */
int adr_launch_image(struct adr_launch *l, adr_err *err);
int adr_launch_prepare(struct adr_launch *l, adr_err *err);
int adr_launch_create(struct adr_launch *l, adr_err *err);
/* Persistent: starts the sandbox and lets it be. */
int adr_launch_detach(struct adr_launch *l, adr_err *err);

/* The caller's side of a transient run. */
struct adr_launch_io {
  int in_fd, out_fd, err_fd; /* in_fd -1: no input (headless) */
  int wake_fd;               /* readable: on_wake (the caller's signals); -1: none */
  int (*on_wake)(struct adr_launch *l, void *ud);
  void (*on_started)(struct adr_launch *l, void *ud); /* it runs: the terminal goes raw, gets its size */
  void (*on_ended)(struct adr_launch *l, void *ud);   /* its streams closed: the terminal comes back */
  void *ud;
};
/* Attaches, starts and waits: 0 with l->code, l->timed_out, l->interrupted
 * set, or -1. */
int adr_launch_run(struct adr_launch *l, const struct adr_launch_io *io, adr_err *err);
/* The exit status of a run: 124 after the timeout, 128+SIG when
 * interrupted, else the sandbox's own. */
int adr_launch_status(const struct adr_launch *l);
/* From on_wake: the caller caught sig (SIGINT, SIGTERM, SIGHUP, SIGQUIT):
 * SIGTERM to the sandbox, SIGKILL 10 s or another signal later. */
void adr_launch_interrupt(struct adr_launch *l, int sig);
/* From on_wake or on_started: the terminal's size. */
void adr_launch_resize(struct adr_launch *l, unsigned rows, unsigned cols);

/* Undoes what prepare and create made (nothing once detached), then says
 * what egress the run was refused. */
void adr_launch_teardown(struct adr_launch *l);
/* The same for a run that ended, in a detached process (named
 * adr-teardown, its output to /dev/null) so that the caller returns the
 * agent's status at once; that process then refills the egress pool
 * (ADR_EGRESS_POOL).  The denied-egress summary is said here, first.
 * When it cannot fork, it tears down here.  After a persistent agent
 * started: only the refill, detached. */
void adr_launch_teardown_detach(struct adr_launch *l);
/* Makes the egress pool (want units) for agent a's runs now, instead of
 * after the next run: how many are ready, or -1. */
int adr_launch_warm(struct adr_engine *e, const struct adr_config *c, const struct adr_agent *a, const char *tag,
                    unsigned want, adr_err *err);
/* ADR_WARM: makes the warm sandboxes for l's start (planned, persistent,
 * engine set) in its repository now: how many are ready (0 when ADR_WARM
 * is 0 or the start is of a kind none stands in for), or -1. */
int adr_launch_warm_starts(struct adr_launch *l, adr_err *err);
/* Removes every idle warm sandbox: how many, or -1. */
int adr_launch_warm_drain(struct adr_engine *e, adr_err *err);
/* ADR_WARM (the environment's, else the configuration's): 0-8. */
unsigned adr_launch_warm_size(const struct adr_config *c, const char *(*getenv_fn)(const char *));
/* ADR_EGRESS_POOL (the environment's, else the configuration's). */
unsigned adr_launch_pool_size(const struct adr_config *c, const char *(*getenv_fn)(const char *));

/* ------------------------------------------------------------ specs by hand */

/* adr fix-owner's helper: chown -R UID:GID /workspace (dir) with only the
 * chown capabilities, no network. */
void adr_launch_chown_spec(struct adr_spec *s, const char *image, const char *dir, uid_t uid, gid_t gid);
/* Runs that helper to its end: 0 with *code (its exit status; its output
 * goes to log_fd when it fails), or -1. */
int adr_launch_chown(struct adr_engine *e, const char *image, const char *dir, uid_t uid, gid_t gid, int log_fd,
                     int *code, adr_err *err);
/* Runs a helper sandbox of spec to its end and removes it: 0 with *code
 * (its output goes to log_fd when it fails), or -1. */
int adr_launch_helper(struct adr_engine *e, const struct adr_spec *spec, int log_fd, int *code, adr_err *err);

#endif
