/* The command layer: one file per command (cmd/<verb>.c), each declaring
 * its entry (name, usage, options, help, what it needs), as tmux's
 * cmd_entry does; main.c's table lists the entries.  A command parses its
 * arguments, calls core, and prints: only this layer prints to the
 * terminal or decides exit codes. */
#ifndef ADR_CMD_H
#define ADR_CMD_H

#include "agent.h"
#include "config.h"
#include "err.h"
#include "event.h"
#include "git.h"
#include "pagent.h"
#include "session.h"
#include "util.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

struct adr_ctx {
  const char *prog; /* "adr" */
  struct adr_session s;
};

/* Arguments as the dispatcher parsed them against the entry's options. */
struct cmd_args {
  struct cmd_opt {
    int id;            /* getopt's value: the short option, or the long one's */
    const char *value; /* its argument, NULL for a flag */
  } * opts;
  size_t n_opts;
  char **argv; /* the positional arguments */
  int argc;
  char **rest; /* CMD_DASHDASH: what follows "--" */
  int n_rest;
};
bool args_has(const struct cmd_args *a, int id);
/* The last value given for id, or NULL. */
const char *args_get(const struct cmd_args *a, int id);
/* Every value given for id, in order (repeatable options). */
void args_all(const struct cmd_args *a, int id, struct strv *out);
void args_free(struct cmd_args *a);

/* What the dispatcher does before exec, in this order. */
enum {
  CMD_HIDDEN = 1 << 0,      /* not listed in help and completions */
  CMD_DASHDASH = 1 << 1,    /* "--" ends the options: the rest goes to an agent */
  CMD_NO_ARGS = 1 << 2,     /* takes no arguments */
  CMD_ONE_AGENT = 1 << 3,   /* takes exactly one agent NAME */
  CMD_SOME_AGENTS = 1 << 4, /* takes one or more agent NAMEs */
  CMD_CONFIG = 1 << 5,      /* needs the configuration (loaded, warnings shown) */
  CMD_AGENTS = 1 << 6,      /* needs the agent definitions */
  CMD_ENGINE = 1 << 7,      /* needs the engine */
};

struct adr_cmd_entry {
  const char *name;
  const char *summary;
  const char *usage; /* lines after "usage: " */
  const char *help;  /* longer description and options */
  const struct option *options;
  const char *shortopts; /* getopt's; a leading '+': options end at the first argument */
  const char *complete;  /* what positional args complete to: "agents", "commands", "dirs", "keys",
                                     "names", "shells", "team", "config", "" */
  unsigned flags;        /* CMD_* */
  int (*exec)(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args);
  void (*more_help)(FILE *out); /* after the help, for --help only */
};

extern const struct adr_cmd_entry *const adr_commands[];
extern const size_t adr_n_commands;
const struct adr_cmd_entry *adr_cmd_find(const char *name);
/* Parses, checks the arguments, loads what the entry needs, runs it. */
int cmd_dispatch(struct adr_ctx *ctx, const struct adr_cmd_entry *e, int argc, char **argv);

/* The entries (one file each) */
extern const struct adr_cmd_entry cmd_run_entry, cmd_start_entry, cmd_ls_entry, cmd_attach_entry, cmd_logs_entry,
  cmd_exec_entry, cmd_diff_entry, cmd_merge_entry, cmd_stop_entry, cmd_rm_entry, cmd_team_entry, cmd_secret_entry,
  cmd_build_entry, cmd_update_entry, cmd_status_entry, cmd_config_entry, cmd_completions_entry, cmd_fix_owner_entry,
  cmd_version_entry, cmd_help_entry, cmd_prune_entry, cmd_warm_entry, cmd_serve_entry, cmd_submit_entry, cmd_runs_entry,
  cmd_runner_entry, cmd_ssh_entry, cmd_port_entry, cmd_skill_entry, cmd_scan_entry, cmd_mcp_entry, cmd_image_entry;

/* The coordinator a client or runner talks to (adr submit, runs, runner):
 * flag, else $ADR_COORDINATOR, else the ADR_COORDINATOR key; the token is
 * the first line of token_file, else $ADR_TOKEN, else none.  0, or the
 * exit status after reporting; cmd_coord_free wipes the token. */
struct cmd_coord {
  const char *url;
  char *token;
};
int cmd_coord_target(struct adr_ctx *ctx, const char *url_flag, const char *token_file, struct cmd_coord *t);
void cmd_coord_free(struct cmd_coord *t);

/* Exit codes */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* Reporting, git style: "adr: message" / "adr: warning: ..." / "hint: ...". */
int report(adr_err *err); /* prints, frees, returns exit status */
void warnf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* returns 1 */
/* "adr CMD: message" + usage line; returns EXIT_USAGE */
int usage_error(const struct adr_cmd_entry *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void print_cmd_help(const struct adr_cmd_entry *cmd, FILE *out);
/* Core's events, printed: warnings and hints on stderr, INFO on stdout. */
void print_event(const struct adr_event *ev, void *ud);
extern const struct adr_events cmd_events;
extern const struct adr_events cmd_launch_events; /* INFO on stderr: a launch's stdout is the agent's */

/* The session, loaded when first needed; loading reports nothing but the
 * warnings; callers report errors. */
int ctx_config(struct adr_ctx *ctx, adr_err *err);
int ctx_agents(struct adr_ctx *ctx, adr_err *err);
int ctx_engine(struct adr_ctx *ctx, adr_err *err);

/* y/n question on the terminal; false without a TTY */
bool ask_yes(const char *question, bool default_yes);

/* The agent NAME of the current repository, reported when not found: 0,
 * or the exit status of the error it reported. */
int find_agent(struct adr_ctx *ctx, const char *name, struct adr_pagent *a);

/* adr run, adr start and adr team's members: a launch from its options
 * (cmd/launch.c); yes: build a missing image without asking. */
struct adr_launch_opts;
int cmd_launch(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct adr_launch_opts *o, bool yes);
/* adr run's and adr start's options (cmd/run.c) into a launch's; the
 * lists hold the repeatable ones.  0, or the usage error's status. */
struct run_args {
  struct strv env, env_files, mounts, allow, presets, ssh_agent;
};
extern const struct option start_options[];
int run_parse(const struct adr_cmd_entry *self, const struct cmd_args *a, bool persistent, struct adr_launch_opts *o,
              struct run_args *lists);
void run_args_free(struct run_args *r);
/* --yes */
bool run_yes(const struct cmd_args *a);
/* Merges a persistent agent's branch into the checked-out branch, after
 * every check (cmd/merge.c); reports itself. */
int merge_agent(struct adr_pagent *a);

/* adr team status and watch (cmd/team-status.c) */
int team_status(struct adr_ctx *ctx, const char *team, bool json);
int team_watch(struct adr_ctx *ctx, const char *team, const char *only);

/* Builds the base image and the named agents' images (cmd/build.c).
 * Reports progress and failures itself; returns the number that failed. */
/* The base image, then each agent's; runner: the runner image too. */
int build_images(struct adr_ctx *ctx, const struct adr_agent *const *agents, size_t n, const char *tag, bool no_cache,
                 bool runner);

#endif
