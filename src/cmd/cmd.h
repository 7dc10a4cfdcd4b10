/* The command layer: one file per command (cmd/<verb>.c), a table in
 * main.c.  Only this layer prints to the terminal or decides exit codes. */
#ifndef ADR_CMD_H
#define ADR_CMD_H

#include "agent.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "git.h"
#include "util.h"
#include "worktree.h"

#include <getopt.h>
#include <stdbool.h>

struct adr_ctx {
  const char *prog;      /* "adr" */
  char *cwd;
  struct adr_config config;
  bool config_loaded;
  struct adr_agents agents;
  bool agents_loaded;
  struct adr_engine *engine;
};

struct adr_cmd {
  const char *name;
  int (*fn)(struct adr_ctx *ctx, int argc, char **argv);
  const char *summary;
  const char *usage;              /* lines after "usage: " */
  const char *help;               /* longer description and options */
  const struct option *options;   /* for completions */
  const char *complete;           /* what positional args complete to: "agents", "commands", "dirs", "keys", "shells", "" */
  bool hidden;
};

extern const struct adr_cmd adr_commands[];
extern const size_t adr_n_commands;
const struct adr_cmd *adr_cmd_find(const char *name);

/* Exit codes */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Reporting, git style: "adr: message" / "adr: warning: ..." / "hint: ...". */
int report(adr_err *err);                       /* prints, frees, returns exit status */
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* returns 1 */
/* "adr CMD: message" + usage line; returns EXIT_USAGE */
int usage_error(const struct adr_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void print_cmd_help(const struct adr_cmd *cmd, FILE *out);
/* getopt_long wrapper that reports unknown/missing-argument options in
 * adr's style. Returns the option, -1 at the end, '?' after reporting. */
int next_opt(const struct adr_cmd *cmd, int argc, char **argv, const char *shortopts, int *longidx);

/* Lazily loaded context. Each prints nothing; callers report errors. */
int ctx_config(struct adr_ctx *ctx, adr_err *err);
int ctx_agents(struct adr_ctx *ctx, adr_err *err);
int ctx_engine(struct adr_ctx *ctx, adr_err *err);
/* Removes sandboxes left by adr processes that no longer exist. */
void ctx_reap(struct adr_ctx *ctx);
/* Labels that mark a transient object as owned by this process. */
void ctx_owner_labels(struct strv *labels);

/* The image name for an agent: PREFIX/AGENT:TAG */
char *agent_image(struct adr_ctx *ctx, const char *agent, const char *tag);
/* y/n question on the terminal; false without a TTY */
bool ask_yes(const char *question, bool default_yes);

/* Persistent agents (cmd/agents.c): everything about one is in its
 * sandbox's labels. */
struct pagent {
  struct adr_container c;   /* owned */
  struct adr_repo repo;     /* the current repository (pagent_find) */
  bool in_repo;
  const char *name, *agent, *scope, *workspace; /* point into c.labels */
  struct adr_worktree wt;   /* fields point into c.labels; never adr_worktree_free it */
  bool has_worktree;
};
void pagent_free(struct pagent *a);
void pagent_egress(struct adr_ctx *ctx, const struct pagent *a, bool stop);
void pagents_free(struct pagent *v, size_t n);
/* Repository top of the current directory (returns 0), else the current
 * directory itself (returns 1); -1 on error. */
int pagent_scope(struct adr_ctx *ctx, struct adr_repo *repo, char **scope, adr_err *err);
char *pagent_key(const char *scope);
/* scope NULL: every repository */
int pagent_list(struct adr_ctx *ctx, const char *scope, struct pagent **out, size_t *n, adr_err *err);
/* 0 found, 1 not found (err says so), -1 error */
int pagent_find(struct adr_ctx *ctx, const char *name, struct pagent *out, adr_err *err);
bool pagent_running(const struct pagent *a);
/* After option parsing: exactly one agent NAME left; 0, or the usage error's status. */
int one_agent_arg(const struct adr_cmd *self, int argc, char **argv);
/* The same, then the agent itself into *a: 0, or the exit status of the
 * error it reported. */
int one_agent(struct adr_ctx *ctx, const struct adr_cmd *self, int argc, char **argv, struct pagent *a);
/* Cleans up after `adr start`s that were killed half way (needs the engine). */
void pagent_reap_starts(struct adr_ctx *ctx, const struct adr_repo *repo);
/* Undoes the host-side state of an agent's sandbox (idmapped mounts,
 * identity files), only ever below adr's state directory. */
void pagent_remove_host_state(const struct pagent *a);

/* adr run and adr start share option parsing and the spec (cmd/run.c). */
int run_main(struct adr_ctx *ctx, int argc, char **argv, bool persistent, const char *team);
/* Merges a persistent agent's branch into the checked-out branch, after
 * every check (cmd/merge.c); reports itself.  *conflict set on conflicts. */
int pagent_merge(struct adr_ctx *ctx, struct pagent *a, bool *conflict);

/* The commands (one file each) */
int cmd_build(struct adr_ctx *, int, char **);
int cmd_completions(struct adr_ctx *, int, char **);
int cmd_config(struct adr_ctx *, int, char **);
int cmd_fix_owner(struct adr_ctx *, int, char **);
int cmd_help(struct adr_ctx *, int, char **);
int cmd_run(struct adr_ctx *, int, char **);
int cmd_start(struct adr_ctx *, int, char **);
int cmd_ls(struct adr_ctx *, int, char **);
int cmd_attach(struct adr_ctx *, int, char **);
int cmd_logs(struct adr_ctx *, int, char **);
int cmd_exec(struct adr_ctx *, int, char **);
int cmd_stop(struct adr_ctx *, int, char **);
int cmd_rm(struct adr_ctx *, int, char **);
int cmd_diff(struct adr_ctx *, int, char **);
int cmd_merge(struct adr_ctx *, int, char **);
int cmd_team(struct adr_ctx *, int, char **);
int cmd_status(struct adr_ctx *, int, char **);
int cmd_update(struct adr_ctx *, int, char **);
int cmd_version(struct adr_ctx *, int, char **);
int cmd_secret(struct adr_ctx *, int, char **);

extern const struct option build_options[], update_options[], completions_options[], config_options[], fix_owner_options[],
  help_options[], run_options[], status_options[], version_options[], start_options[], ls_options[],
  attach_options[], logs_options[], exec_options[], stop_options[], rm_options[], diff_options[], merge_options[],
  team_options[], secret_options[];
extern const char build_help[], update_help[], config_help[], run_help[], status_help[], completions_help[], fix_owner_help[],
  start_help[], ls_help[], attach_help[], logs_help[], exec_help[], stop_help[], rm_help[], diff_help[], merge_help[],
  team_help[], secret_help[];

/* Builds the base image and the named agents' images (cmd/build.c).
 * Reports progress and failures itself; returns the number that failed. */
int build_images(struct adr_ctx *ctx, const struct adr_agent *const *agents, size_t n, const char *tag,
                 bool no_cache);

#endif
