/* Where everything adr makes is found again: the names of sandboxes and
 * tmux sessions, the labels of engine objects, and the paths of host state.
 * This is the only place that composes them, so that the code making an
 * object and the code cleaning it up after a killed adr cannot disagree.
 *
 *   sandboxes      adr-AGENT-RANDOM (adr run), adr-NAME-KEY (persistent
 *                  agents; KEY hashes the repository), SANDBOX-gw
 *   images         PREFIX/AGENT:TAG, adr/base:TAG
 *   teams          tmux session adr-TEAM, member agents TEAM.NAME
 *   host state     STATE/run/SANDBOX      identity files and staged copies
 *                  STATE/mnt/SANDBOX      idmapped mounts (adr as root)
 *                  STATE/egress/SANDBOX   the gateway's policy, relay routes, log
 *                  STATE/worktrees/KEY/NAME  an agent's worktree, and
 *                  STATE/worktrees/KEY/.NAME.starting while it is made
 * (STATE is adr_state_dir()). */
#ifndef ADR_LAYOUT_H
#define ADR_LAYOUT_H

#include "util.h"

#include <stdbool.h>

struct adr_worktree;

/* ------------------------------------------------------------ names */

/* 8 random hex digits (the pid and time when getrandom fails). */
char *adr_layout_suffix(void);
/* adr-AGENT-SUFFIX: a transient sandbox of adr run. */
char *adr_layout_run_name(const char *agent, const char *suffix);
/* 8 hex digits that tell repositories (scopes) apart in names: FNV-1a of
 * the path (the labels carry the path itself). */
char *adr_layout_scope_key(const char *scope);
/* adr-NAME-KEY: a persistent agent's sandbox. */
char *adr_layout_agent_sandbox(const char *name, const char *scope);
/* The n-th default name of an agent: AGENT, AGENT-2, AGENT-3, ... */
char *adr_layout_agent_name(const char *agent, unsigned n);
/* warm-SUFFIX: a warm sandbox's agent name, until a start claims it. */
char *adr_layout_warm_name(const char *suffix);
/* adr/NAME: a persistent agent's default branch. */
char *adr_layout_agent_branch(const char *name);
/* SANDBOX-gw: a sandbox's egress gateway. */
char *adr_layout_gateway(const char *sandbox);
/* PREFIX/AGENT:TAG (prefix NULL: coding-agent; tag NULL: latest). */
char *adr_layout_image(const char *prefix, const char *agent, const char *tag);
/* PREFIX/AGENT, the repository of an agent's images. */
char *adr_layout_image_repo(const char *prefix, const char *agent);
/* PREFIX/ *: every agent image (a reference filter). */
char *adr_layout_image_filter(const char *prefix);
/* adr/base:TAG */
char *adr_layout_base_image(const char *tag);
/* adr-project/AGENT:P-A: the project image (ID P) with the agent of
 * image ID A added (adr run --image); IDs as sha256:HEX, 12 digits each */
char *adr_layout_project_image(const char *agent, const char *project_id, const char *agent_id);
/* adr-ssh/IMAGE:ID12: the image of that ID with sshd (adr start --ssh) */
char *adr_layout_ssh_image(const char *base_id);
/* adr/runner:TAG: adr runner in a container (adr build --runner) */
char *adr_layout_runner_image(const char *tag);

/* adr-TEAM: a team's tmux session. */
char *adr_layout_team_session(const char *team);
/* The team of a tmux session name (adr-TEAM), or NULL when not a team's. */
const char *adr_layout_team_of_session(const char *session);
/* TEAM.NAME: the persistent agent of a team member. */
char *adr_layout_team_agent(const char *team, const char *name);
/* TYPE-N: a generated member name. */
char *adr_layout_team_member(const char *type, unsigned n);

/* ------------------------------------------------------------ labels */

/* Labels that mark a transient object as owned by this process: its pid
 * with its start time, and the boot it belongs to. */
void adr_layout_owner_labels(struct strv *labels);
/* This host's boot id ("unknown" when it cannot be read). */
char *adr_layout_boot_id(void);
/* A transient object belongs to a live adr when its owner pid exists with
 * the same start time on the same boot; objects without an owner
 * (persistent agents) always do. */
/* "PID:START BOOT": this process, as a lock file records its holder. */
char *adr_layout_owner_token(void);
/* The process a token names still runs (same boot, same start time). */
bool adr_layout_token_alive(const char *token, const char *boot);
bool adr_layout_owner_alive(const struct strv *labels, const char *boot);

/* The labels of a sandbox beyond those runspec gives every one. */
struct adr_layout_sandbox {
  bool persistent;
  const char *identity_dir; /* host state it owns (undone by label) */
  const char *idmap_dir;    /* NULL: none */
  /* persistent agents */
  const char *name, *scope, *team;
  const struct adr_worktree *wt; /* NULL: works in the workspace itself */
};
void adr_layout_sandbox_labels(const struct adr_layout_sandbox *s, struct strv *labels);
/* Extra labels of a sandbox's gateway and network: a transient run's owner. */
void adr_layout_gateway_labels(bool persistent, struct strv *labels);
/* A short-lived helper sandbox of kind KIND (fix-owner). */
void adr_layout_helper_labels(const char *kind, struct strv *labels);
/* Images: the base image, an agent's image. */
void adr_layout_base_image_labels(struct strv *labels);
void adr_layout_agent_image_labels(const char *agent, const char *npm_package, const char *npm_version,
                                   struct strv *labels);

/* Label filters for listings: everything adr made; the persistent agents
 * of a scope (NULL: of every scope); the sandbox of a worktree. */
void adr_layout_filter_managed(struct strv *filters);
void adr_layout_filter_agents(const char *scope, struct strv *filters);
void adr_layout_filter_worktree(const char *path, struct strv *filters);
/* The warm sandboxes of agent in scope (NULL, NULL: all of them). */
void adr_layout_filter_warm(const char *scope, const char *agent, struct strv *filters);

/* ------------------------------------------------------------ host state */

enum adr_state_area {
  ADR_STATE_IDENTITY,  /* STATE/run */
  ADR_STATE_IDMAP,     /* STATE/mnt */
  ADR_STATE_EGRESS,    /* STATE/egress */
  ADR_STATE_WORKTREES, /* STATE/worktrees */
  ADR_STATE_POOL,      /* STATE/pool: free egress units (egress.h) */
};
/* STATE/AREA */
char *adr_layout_area(enum adr_state_area area);
/* STATE/AREA/NAME */
char *adr_layout_state_path(enum adr_state_area area, const char *name);
/* path lies below STATE/AREA/ (and climbs nowhere with /../): only such
 * paths, read back from labels an agent cannot write but a user could,
 * are ever unmounted or removed. */
bool adr_layout_in_area(enum adr_state_area area, const char *path);
/* IDENTITY/stage: the staged copies of a sandbox. */
char *adr_layout_overlay_dir(const char *identity_dir);
/* DIR/N: the N-th idmapped mount of a sandbox. */
char *adr_layout_idmap_entry(const char *dir, size_t n);
/* STATE/egress/SANDBOX/FILE (policy, relay, ca.pem) */
char *adr_layout_egress_file(const char *sandbox, const char *file);
/* A sandbox's compose services: SANDBOX-svc-NAME on the network
 * SANDBOX-svc, and the marker STATE/egress/SANDBOX/services that names
 * the network while it exists (for the reaper). */
#define ADR_SERVICE_INFIX "-svc-"
#define ADR_SERVICES_NET_SUFFIX "-svc"
#define ADR_SERVICES_MARKER "services"
static inline char *adr_layout_services_marker(const char *sandbox)
{
  return adr_layout_egress_file(sandbox, ADR_SERVICES_MARKER);
}
/* STATE/worktrees/KEY: the worktrees of a scope's agents. */
char *adr_layout_worktrees_dir(const char *scope);
/* DIR/NAME and DIR/.NAME.starting */
char *adr_layout_worktree(const char *dir, const char *name);
char *adr_layout_start_marker(const char *dir, const char *name);
/* NAME of a start marker's file name, or NULL when file is not one. */
char *adr_layout_start_marker_name(const char *file);
/* IDENTITY/warm/FILE: a warm sandbox's files (launch-warm.c): "claim"
 * (the program its first process runs, written by the start that claims
 * it), "taken" (that start's lock), "agent" (the name, branch, base it was
 * given), "relay" (its relay's URL). */
char *adr_layout_warm_file(const char *identity_dir, const char *file);
/* STATE/.send-XXXXXX: a mkostemp template for a team prompt. */
char *adr_layout_send_template(void);

#endif
