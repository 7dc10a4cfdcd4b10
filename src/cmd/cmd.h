/* The command layer: one file per command (cmd/<verb>.c), a table in
 * main.c.  Only this layer prints to the terminal or decides exit codes. */
#ifndef ADR_CMD_H
#define ADR_CMD_H

#include "agent.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "util.h"

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

/* The commands (one file each) */
int cmd_build(struct adr_ctx *, int, char **);
int cmd_completions(struct adr_ctx *, int, char **);
int cmd_config(struct adr_ctx *, int, char **);
int cmd_fix_owner(struct adr_ctx *, int, char **);
int cmd_help(struct adr_ctx *, int, char **);
int cmd_run(struct adr_ctx *, int, char **);
int cmd_status(struct adr_ctx *, int, char **);
int cmd_update(struct adr_ctx *, int, char **);
int cmd_version(struct adr_ctx *, int, char **);

extern const struct option build_options[], completions_options[], config_options[], fix_owner_options[],
  help_options[], run_options[], status_options[], version_options[];
extern const char build_help[], config_help[], run_help[], status_help[], completions_help[], fix_owner_help[];

/* Builds the base image and the named agents' images (cmd/build.c).
 * Reports progress and failures itself; returns the number that failed. */
int build_images(struct adr_ctx *ctx, const struct adr_agent *const *agents, size_t n, const char *tag,
                 bool no_cache);

#endif
