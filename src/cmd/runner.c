/* adr runner: claims the coordinator's runs and runs each in an adr
 * sandbox (core/runner.h). */
#include "cmd.h"
#include "buf.h"
#include "parse.h"
#include "paths.h"
#include "runner.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

enum { OPT_COORD = 0x100, OPT_TOKEN_FILE, OPT_NAME, OPT_TAG, OPT_ONLY_TAGGED, OPT_CAPACITY, OPT_WORK_DIR };

/* clang-format off */
static const struct option runner_options[] = {
  { "coordinator", required_argument, NULL, OPT_COORD },
  { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
  { "name", required_argument, NULL, OPT_NAME },
  { "tag", required_argument, NULL, OPT_TAG },
  { "only-tagged", no_argument, NULL, OPT_ONLY_TAGGED },
  { "capacity", required_argument, NULL, OPT_CAPACITY },
  { "work-dir", required_argument, NULL, OPT_WORK_DIR },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char runner_help[] =
  "Claims runs from the coordinator ('adr serve') and runs each in an adr\n"
  "sandbox with the hardening, network policy and credential relay of\n"
  "'adr run': the repository is cloned into a fresh workspace on branch\n"
  "adr/run-ID; what the agent leaves is committed there and pushed back to\n"
  "the repository; the exit status, the output's tail and the branch are\n"
  "reported.  SIGINT or SIGTERM: no more runs, the running ones end first.\n\n"
  "  --coordinator URL      (default: ADR_COORDINATOR)\n"
  "  --token-file FILE      a runner token (default: ADR_TOKEN)\n"
  "  --name NAME            (default: the host name)\n"
  "  --tag T                what it offers (repeatable): it takes runs whose\n"
  "                         every tag it has\n"
  "  --only-tagged          take only runs with tags\n"
  "  --capacity N           runs at once (default 1)\n"
  "  --work-dir DIR         the runs' workspaces and logs (default:\n"
  "                         ${XDG_CACHE_HOME:-~/.cache}/adr-runner/NAME; never\n"
  "                         below adr's own state, which sandboxes may not see)\n\n"
  "Example:\n"
  "  adr runner --name node-1 --tag linux --capacity 2\n";

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
  (void)sig;
  stop_flag = 1;
}

static void say(const char *line, void *ud)
{
  (void)ud;
  printf("%s\n", line);
  fflush(stdout);
}

static int runner_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  cleanup_err adr_err err = NULL;
  char host[256] = "runner";
  gethostname(host, sizeof(host) - 1);
  for (char *p = host; *p; p++)
    *p = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
  const char *name = args_get(a, OPT_NAME) ? args_get(a, OPT_NAME) : host;
  if (!adr_agent_name_valid(name))
    return usage_error(self, "--name '%s': lowercase letters, digits, '-', '_', '.'", name);
  uint64_t cap = 1;
  if (args_get(a, OPT_CAPACITY) && (adr_parse_uint(args_get(a, OPT_CAPACITY), 64, &cap) < 0 || cap == 0))
    return usage_error(self, "--capacity '%s': 1 to 64", args_get(a, OPT_CAPACITY));
  struct cmd_coord t;
  int tr = cmd_coord_target(ctx, args_get(a, OPT_COORD), args_get(a, OPT_TOKEN_FILE), &t);
  if (tr)
    return tr;
  struct strv tags = { 0 };
  args_all(a, OPT_TAG, &tags);
  const char *xc = getenv("XDG_CACHE_HOME");
  cleanup_free char *home = adr_home_dir();
  cleanup_free char *work = args_get(a, OPT_WORK_DIR) ? xstrdup(args_get(a, OPT_WORK_DIR))
                            : xc && *xc               ? xasprintf("%s/adr-runner/%s", xc, name)
                                                      : xasprintf("%s/.cache/adr-runner/%s", home, name);
  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  struct adr_runner r = {
    .coordinator = t.url,
    .token = t.token,
    .name = name,
    .tags = &tags,
    .only_tagged = args_has(a, OPT_ONLY_TAGGED),
    .capacity = (unsigned)cap,
    .config = &ctx->s.config,
    .agents = &ctx->s.agents,
    .engine = ctx->s.engine,
    .work_dir = work,
    .stop = &stop_flag,
    .say = say,
  };
  printf("adr runner '%s': taking runs from %s\n", name, t.url);
  fflush(stdout);
  int ret = adr_runner_loop(&r, &err) < 0 ? report(&err) : EXIT_OK;
  strv_free(&tags);
  cmd_coord_free(&t);
  return ret;
}

const struct adr_cmd_entry cmd_runner_entry = {
  .name = "runner",
  .summary = "run the coordinator's queued runs in sandboxes",
  .usage = "adr runner [--coordinator URL] [--token-file FILE] [--name NAME] [--tag T]... [--capacity N]",
  .help = runner_help,
  .options = runner_options,
  .shortopts = "h",
  .complete = "",
  .flags = CMD_NO_ARGS | CMD_CONFIG | CMD_AGENTS | CMD_ENGINE,
  .exec = runner_exec,
};
