/* adr: run AI coding agents in hardened sandboxes.  This file is the
 * command table and main(); each command declares its entry in
 * cmd/<verb>.c, cmd/args.c dispatches to it. */
#include "adr-config.h"
#include "cmd/cmd.h"
#include "log.h"
#include "paths.h"

#include <curl/curl.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* In the order `adr help` lists them. */
const struct adr_cmd_entry *const adr_commands[] = {
  &cmd_run_entry,     &cmd_start_entry,  &cmd_ls_entry,     &cmd_attach_entry,      &cmd_logs_entry,
  &cmd_exec_entry,    &cmd_ssh_entry,    &cmd_port_entry,   &cmd_diff_entry,        &cmd_merge_entry,
  &cmd_stop_entry,    &cmd_rm_entry,     &cmd_team_entry,   &cmd_secret_entry,      &cmd_build_entry,
  &cmd_update_entry,  &cmd_status_entry, &cmd_warm_entry,   &cmd_prune_entry,       &cmd_serve_entry,
  &cmd_submit_entry,  &cmd_runs_entry,   &cmd_runner_entry, &cmd_config_entry,      &cmd_skill_entry,
  &cmd_mcp_entry,     &cmd_image_entry,  &cmd_scan_entry,   &cmd_completions_entry, &cmd_fix_owner_entry,
  &cmd_version_entry, &cmd_help_entry,
};
const size_t adr_n_commands = ARRAY_SIZE(adr_commands);

const struct adr_cmd_entry *adr_cmd_find(const char *name)
{
  for (size_t i = 0; i < adr_n_commands; i++)
    if (streq(adr_commands[i]->name, name))
      return adr_commands[i];
  return NULL;
}

/* each line with the milliseconds since adr started: where a run's time goes */
static struct timespec debug_t0;
static void debug_sink(const char *msg)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double ms = (double)(now.tv_sec - debug_t0.tv_sec) * 1e3 + (double)(now.tv_nsec - debug_t0.tv_nsec) / 1e6;
  fprintf(stderr, "adr: debug: %8.1f ms %s\n", ms, msg);
}

void adr_print_main_help(FILE *out);
void adr_print_main_help(FILE *out)
{
  fprintf(out,
          "usage: adr [--version] [--help] COMMAND [ARGS]\n\n"
          "Run AI coding agents in hardened, isolated sandboxes.\n\nCommands:\n");
  for (size_t i = 0; i < adr_n_commands; i++)
    if (!(adr_commands[i]->flags & CMD_HIDDEN))
      fprintf(out, "   %-12s %s\n", adr_commands[i]->name, adr_commands[i]->summary);
  fprintf(out,
          "\n'adr help COMMAND' or 'adr COMMAND --help' shows a command's options.\n"
          "Set ADR_DEBUG=1 to see every engine request.\n");
}

/* Names of the container launcher adr replaces, installed as links to
 * adr and dispatched here on argv[0]: run-AGENT -> adr run AGENT, and the
 * persistent-agent commands. */
static const struct {
  const char *name, *verb;
} compat[] = {
  { "launch-agent", "start" },   { "list-agents", "ls" }, { "remove-agent", "rm" },
  { "connect-agent", "attach" }, { "adr-tmux", "team" },
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
  if (getenv("ADR_DEBUG") && *getenv("ADR_DEBUG") && strcmp(getenv("ADR_DEBUG"), "0") != 0) {
    clock_gettime(CLOCK_MONOTONIC, &debug_t0);
    adr_log_set_sink(debug_sink);
  }
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
  const struct adr_cmd_entry *cmd = adr_cmd_find(verb);
  if (cmd == NULL) {
    fprintf(stderr, "adr: '%s' is not an adr command. See 'adr --help'.\n", verb);
    ret = EXIT_USAGE;
    goto out;
  }
  ctx.s.cwd = adr_getcwd();
  ret = cmd_dispatch(&ctx, cmd, argc - 1, argv + 1);
out:
  adr_session_free(&ctx.s);
  curl_global_cleanup();
  if (fflush(stdout) != 0 && ret == 0) {
    fprintf(stderr, "adr: write to stdout failed\n");
    ret = EXIT_FAIL;
  }
  return ret;
}
