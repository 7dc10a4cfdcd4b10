/* adr: run AI coding agents in hardened sandboxes.  This file is the
 * command table and the dispatcher; each command lives in cmd/<verb>.c. */
#include "adr-config.h"
#include "cmd/cmd.h"
#include "log.h"
#include "paths.h"

#include <curl/curl.h>
#include <locale.h>
#include <signal.h>
#include <string.h>

const struct adr_cmd adr_commands[] = {
  { "run", cmd_run, "run an agent in a sandbox on the current directory",
    "adr run [AGENT] [options] [-- AGENT-ARGS...]", run_help, run_options, "agents", false },
  { "start", cmd_start, "start a persistent agent on its own branch",
    "adr start [AGENT] [--name NAME] [--branch BRANCH] [run options] [-- AGENT-ARGS...]", start_help,
    start_options, "agents", false },
  { "ls", cmd_ls, "list persistent agents", "adr ls [--all] [--json]", ls_help, ls_options, "", false },
  { "attach", cmd_attach, "connect to a persistent agent (detach: Ctrl-P Ctrl-Q)", "adr attach NAME",
    attach_help, attach_options, "names", false },
  { "logs", cmd_logs, "show a persistent agent's output", "adr logs [-f] NAME", logs_help, logs_options,
    "names", false },
  { "exec", cmd_exec, "run a command in a persistent agent's sandbox", "adr exec NAME -- COMMAND...",
    exec_help, exec_options, "names", false },
  { "diff", cmd_diff, "show what a persistent agent changed", "adr diff [--stat] NAME", diff_help,
    diff_options, "names", false },
  { "merge", cmd_merge, "merge a persistent agent's branch into yours", "adr merge NAME", merge_help,
    merge_options, "names", false },
  { "stop", cmd_stop, "stop a persistent agent (its work stays)", "adr stop NAME...", stop_help, stop_options,
    "names", false },
  { "rm", cmd_rm, "remove a persistent agent, never losing its work", "adr rm [--no-push] [--force] NAME...",
    rm_help, rm_options, "names", false },
  { "team", cmd_team, "several agents side by side in tmux (also: adr-tmux)",
    "adr team start SESSION --agent TYPE[:NAME]... [-w DIR] [--shared-workspace]\n"
    "       adr team attach|inject SESSION\n       adr team send SESSION --agent NAME|--all PROMPT\n"
    "       adr team status [SESSION] [--json]\n       adr team watch SESSION [--agent NAME]\n"
    "       adr team merge|stop SESSION",
    team_help, team_options, "team", false },
  { "secret", cmd_secret, "keep API keys for the credential relay (never in a sandbox)",
    "adr secret set NAME\n       adr secret ls\n       adr secret rm NAME...", secret_help, secret_options, "",
    false },
  { "build", cmd_build, "build agent images",
    "adr build [AGENT...] [--all] [--tag TAG] [--no-cache]", build_help, build_options, "agents", false },
  { "update", cmd_update, "rebuild the agent images that are present, without cache",
    "adr update [AGENT...] [--tag TAG]", update_help, update_options, "agents", false },
  { "status", cmd_status, "show agents and their images",
    "adr status [--json]", status_help, status_options, "", false },
  { "config", cmd_config, "show or change configuration",
    "adr config [show] [--json]\n       adr config get KEY\n       adr config set [--project] KEY=VALUE\n"
    "       adr config unset [--project] KEY\n       adr config path",
    config_help, config_options, "config", false },
  { "completions", cmd_completions, "shell completions",
    "adr completions bash|zsh|fish|install", completions_help, completions_options, "shells", false },
  { "fix-owner", cmd_fix_owner, "give files in a directory back to you (compatibility)",
    "adr fix-owner [DIR]", fix_owner_help, fix_owner_options, "dirs", false },
  { "version", cmd_version, "print adr's version and the engine's",
    "adr version", "", version_options, "", false },
  { "help", cmd_help, "show help for adr or a command",
    "adr help [COMMAND]", "", help_options, "commands", false },
};
const size_t adr_n_commands = ARRAY_SIZE(adr_commands);

const struct adr_cmd *adr_cmd_find(const char *name)
{
  for (size_t i = 0; i < adr_n_commands; i++)
    if (streq(adr_commands[i].name, name))
      return &adr_commands[i];
  return NULL;
}

static void debug_sink(const char *msg) { fprintf(stderr, "adr: debug: %s\n", msg); }

void adr_print_main_help(FILE *out);
void adr_print_main_help(FILE *out)
{
  fprintf(out, "usage: adr [--version] [--help] COMMAND [ARGS]\n\n"
               "Run AI coding agents in hardened, isolated sandboxes.\n\nCommands:\n");
  for (size_t i = 0; i < adr_n_commands; i++)
    if (!adr_commands[i].hidden)
      fprintf(out, "   %-12s %s\n", adr_commands[i].name, adr_commands[i].summary);
  fprintf(out, "\n'adr help COMMAND' or 'adr COMMAND --help' shows a command's options.\n"
               "Set ADR_DEBUG=1 to see every engine request.\n");
}

/* Names of the container launcher adr replaces, installed as links to
 * adr and dispatched here on argv[0]: run-AGENT -> adr run AGENT, and the
 * persistent-agent commands. */
static const struct { const char *name, *verb; } compat[] = {
  { "launch-agent", "start" },
  { "list-agents", "ls" },
  { "remove-agent", "rm" },
  { "connect-agent", "attach" },
  { "adr-tmux", "team" },
};

/* Returns a new argv (adr VERB [AGENT] ARGS...) for a compatibility name,
 * or NULL when argv[0] is adr itself. */
static char **compat_argv(int *argc, char **argv)
{
  const char *base = strrchr(argv[0], '/');
  base = base ? base + 1 : argv[0];
  const char *verb = NULL, *agent = NULL;
  for (size_t i = 0; i < ARRAY_SIZE(compat); i++)
    if (streq(base, compat[i].name))
      verb = compat[i].verb;
  if (!verb && str_has_prefix(base, "run-") && base[4]) {
    verb = "run";
    agent = base + 4;
  }
  if (!verb)
    return NULL;
  char **v = xcalloc((size_t)*argc + 3, sizeof(char *));
  int n = 0;
  v[n++] = (char *)"adr";
  v[n++] = (char *)verb;
  if (agent)
    v[n++] = (char *)agent;
  for (int i = 1; i < *argc; i++)
    v[n++] = argv[i];
  v[n] = NULL;
  *argc = n;
  return v;
}

int main(int argc, char **argv)
{
  cleanup_free char **alias_argv = compat_argv(&argc, argv);
  if (alias_argv)
    argv = alias_argv;
  setlocale(LC_ALL, "");
  signal(SIGPIPE, SIG_IGN);
  if (getenv("ADR_DEBUG") && *getenv("ADR_DEBUG") && strcmp(getenv("ADR_DEBUG"), "0") != 0)
    adr_log_set_sink(debug_sink);
  /* adr speaks plain HTTP to the engine (unix socket or tcp://): no TLS
   * initialisation, which would cost ~0.5 ms of CPU on every start. */
  curl_global_init(CURL_GLOBAL_NOTHING);

  struct adr_ctx ctx = { .prog = "adr" };
  int ret;
  if (argc < 2) {
    adr_print_main_help(stderr);
    ret = EXIT_USAGE;
    goto out;
  }
  const char *verb = argv[1];
  if (streq(verb, "--help") || streq(verb, "-h")) {
    adr_print_main_help(stdout);
    ret = EXIT_OK;
    goto out;
  }
  if (streq(verb, "--version") || streq(verb, "-V")) {
    printf("adr %s\n", ADR_VERSION);
    ret = EXIT_OK;
    goto out;
  }
  if (verb[0] == '-') {
    fprintf(stderr, "adr: unknown option '%s'\n", verb);
    adr_print_main_help(stderr);
    ret = EXIT_USAGE;
    goto out;
  }
  const struct adr_cmd *cmd = adr_cmd_find(verb);
  if (cmd == NULL) {
    fprintf(stderr, "adr: '%s' is not an adr command. See 'adr --help'.\n", verb);
    ret = EXIT_USAGE;
    goto out;
  }
  ctx.cwd = adr_getcwd();
  ret = cmd->fn(&ctx, argc - 1, argv + 1);
out:
  if (ctx.config_loaded)
    adr_config_free(&ctx.config);
  if (ctx.agents_loaded)
    adr_agents_free(&ctx.agents);
  adr_engine_close(ctx.engine);
  free(ctx.cwd);
  curl_global_cleanup();
  if (fflush(stdout) != 0 && ret == 0) {
    fprintf(stderr, "adr: write to stdout failed\n");
    ret = EXIT_FAIL;
  }
  return ret;
}
