/* adr run: one agent, one sandbox, on the current directory.  Parses the
 * options (shared with adr start) into a launch (core/launch.h); the
 * lifecycle itself is cmd/launch.c's and core's. */
#include "cmd.h"
#include "launch.h"

#include <unistd.h>

enum {
  OPT_CONFIG_FILE = 256,
  OPT_PROMPT,
  OPT_HEADLESS,
  OPT_SHELL,
  OPT_TAG,
  OPT_MODEL,
  OPT_ENV_FILE,
  OPT_TIMEOUT,
  OPT_MEMORY,
  OPT_CPUS,
  OPT_PIDS,
  OPT_GPUS,
  OPT_IMAGE,
  OPT_NO_DEVCONTAINER,
  OPT_UNSAFE,
  OPT_NAME,
  OPT_YES,
  OPT_BRANCH,
  OPT_SSH,
  OPT_NO_WORKTREE,
  OPT_NETWORK,
  OPT_ALLOW,
  OPT_ALLOW_PRESET,
  OPT_NO_RELAY,
  OPT_NO_MCP,
  OPT_GIT_PUSH,
  OPT_SSH_AGENT,
};

/* The options adr run and adr start share (one macro, two tables). */
/* clang-format off */
#define SANDBOX_OPTIONS \
  { "workspace", required_argument, NULL, 'w' }, \
  { "config", required_argument, NULL, 'c' }, \
  { "config-file", required_argument, NULL, OPT_CONFIG_FILE }, \
  { "prompt", required_argument, NULL, OPT_PROMPT }, \
  { "headless", no_argument, NULL, OPT_HEADLESS }, \
  { "shell", no_argument, NULL, OPT_SHELL }, \
  { "tag", required_argument, NULL, OPT_TAG }, \
  { "model", required_argument, NULL, OPT_MODEL }, \
  { "env", required_argument, NULL, 'e' }, \
  { "env-file", required_argument, NULL, OPT_ENV_FILE }, \
  { "mount", required_argument, NULL, 'm' }, \
  { "memory", required_argument, NULL, OPT_MEMORY }, \
  { "cpus", required_argument, NULL, OPT_CPUS }, \
  { "pids", required_argument, NULL, OPT_PIDS }, \
  { "gpus", required_argument, NULL, OPT_GPUS }, \
  { "image", required_argument, NULL, OPT_IMAGE }, \
  { "no-devcontainer", no_argument, NULL, OPT_NO_DEVCONTAINER }, \
  { "unsafe", required_argument, NULL, OPT_UNSAFE }, \
  { "name", required_argument, NULL, OPT_NAME }, \
  { "network", required_argument, NULL, OPT_NETWORK }, \
  { "allow", required_argument, NULL, OPT_ALLOW }, \
  { "allow-preset", required_argument, NULL, OPT_ALLOW_PRESET }, \
  { "no-relay", no_argument, NULL, OPT_NO_RELAY }, \
  { "no-mcp", no_argument, NULL, OPT_NO_MCP }, \
  { "git-push", no_argument, NULL, OPT_GIT_PUSH }, \
  { "ssh-agent", required_argument, NULL, OPT_SSH_AGENT }, \
  { "yes", no_argument, NULL, OPT_YES }, \
  { "help", no_argument, NULL, 'h' }
/* clang-format on */

/* clang-format off */
static const struct option run_options[] = {
  SANDBOX_OPTIONS,
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { 0 },
};
/* clang-format on */

/* adr start: no --timeout (nobody stays to enforce it); --branch,
 * --no-worktree and --ssh */
/* clang-format off */
const struct option start_options[] = {
  SANDBOX_OPTIONS,
  { "branch", required_argument, NULL, OPT_BRANCH },
  { "no-worktree", no_argument, NULL, OPT_NO_WORKTREE },
  { "ssh", no_argument, NULL, OPT_SSH },
  { 0 },
};
/* clang-format on */

static const char run_help[] =
  "Runs AGENT (default: ADR_AGENT) in a hardened sandbox with the workspace\n"
  "mounted at /workspace and the agent's own configuration (e.g. ~/.claude)\n"
  "staged read-only and copied into the sandbox's HOME at start.  Arguments\n"
  "after '--' go to the agent.  The agent's exit status becomes adr's.\n\n"
  "Options:\n"
  "  -w, --workspace DIR      directory mounted at /workspace (default: .)\n"
  "  -c, --config DIR         stage DIR instead of the agent's config home\n"
  "      --config-file FILE   stage FILE as the agent's config file (claude)\n"
  "      --prompt TEXT        run headless with this prompt, then exit\n"
  "      --headless           run without a terminal (needs --prompt)\n"
  "      --shell              a bash shell in the agent's sandbox instead\n"
  "      --tag TAG            image tag (default: ADR_TAG)\n"
  "      --model MODEL        model (default: ADR_MODEL_<AGENT>); pi takes\n"
  "                           PROVIDER/MODEL\n"
  "  -e, --env KEY=VALUE      set a variable in the sandbox (repeatable)\n"
  "      --env-file FILE      KEY=VALUE lines (same syntax as config files)\n"
  "  -m, --mount HOST:CONTAINER[:ro|rw]\n"
  "                           extra mount, read-only unless ':rw' (repeatable;\n"
  "                           after ADR_MOUNTS from config)\n"
  "      --timeout DURATION   stop a headless run after 30s, 15m, 2h, 1d (a bare\n"
  "                           number is seconds; at least 5s): SIGTERM, 10 s\n"
  "                           grace, SIGKILL; exit status 124.  ADR_TIMEOUT\n"
  "                           applies to headless runs only; an interactive\n"
  "                           session is stopped only with --timeout (warned)\n"
  "      --memory SIZE        memory limit (default: ADR_MEMORY, 4g)\n"
  "      --cpus N             CPU limit (default: ADR_CPUS, 2)\n"
  "      --pids N             process limit (default: ADR_PIDS, 1024)\n"
  "      --image IMAGE        run the agent in the project's own image (adr adds\n"
  "                           node and the agent to it once per image and agent\n"
  "                           version; Debian/Ubuntu-like images; ADR_PROJECT_IMAGE)\n"
  "      --no-devcontainer    ignore the workspace's .devcontainer/devcontainer.json\n"
  "                           (or .devcontainer.json), which is used otherwise:\n"
  "                           its image or Dockerfile, env, workspace mounts and\n"
  "                           post-create/start commands (in the sandbox)\n"
  "      --gpus all|N|device=ID[,ID]\n"
  "                           GPUs through the engine's GPU runtime (NVIDIA\n"
  "                           Container Toolkit); the sandbox stays hardened\n"
  "                           (default: ADR_GPUS, none)\n"
  "      --name NAME          sandbox name (default: adr-AGENT-RANDOM)\n"
  "      --network MODE       allowlist (default: egress only through adr's\n"
  "                           gateway to allowed hosts), none, or open (all but\n"
  "                           the metadata address); ADR_NETWORK\n"
  "      --allow HOST[:PORT]  allow a host (*.example.com: its subdomains; an\n"
  "                           address or CIDR; no port: 80 and 443; repeatable;\n"
  "                           after ADR_ALLOW and the agent's API hosts)\n"
  "      --allow-preset NAME  packages: this host's package sources (apt, npm,\n"
  "                           pip, the workspace's git remotes)\n"
  "      --no-relay           no credential relay: the agent's config is staged\n"
  "                           whole and -e keys enter the sandbox (ADR_RELAY=off)\n"
  "      --no-mcp             leave out the MCP servers of ~/.config/adr/mcp.json\n"
  "      --git-push           let the agent push over https to the workspace's\n"
  "                           remotes (your git credential, kept on the host,\n"
  "                           put in by the relay)\n"
  "      --ssh-agent HOST     forward your ssh-agent, filtered: it signs only\n"
  "                           for HOST[:PORT] (its key from ~/.ssh/known_hosts;\n"
  "                           repeatable, or HOST,HOST)\n"
  "      --unsafe WHAT        turn one protection off: writable-root,\n"
  "                           no-seccomp, new-privileges, no-limits\n"
  "      --yes                build a missing image without asking\n\n"
  "Hardening (always): no capabilities, no-new-privileges, read-only root,\n"
  "tmpfs HOME and /tmp, adr's seccomp profile, memory/cpu/pids limits, runs as\n"
  "your uid:gid (as ADR_SANDBOX_UID with an idmapped workspace when adr runs\n"
  "as root) so files in the workspace stay yours.\n\n"
  "Credentials: the agent's API keys (from -e, 'adr secret', the environment,\n"
  "or its own config files) never enter the sandbox.  It gets a sentinel and\n"
  "the relay's URL as its API base URL; the relay, in the egress gateway,\n"
  "swaps the sentinel for the key and talks TLS to the real API, on its\n"
  "declared paths only.  Login files (~/.claude/.credentials.json,\n"
  "~/.codex/auth.json, ...) are not staged.\n\n"
  "Examples:\n"
  "  adr run claude\n"
  "  adr run pi --prompt 'fix the failing test' --model anthropic/claude-sonnet-4-5\n"
  "  adr run codex -m ~/datasets:/data -e DEBUG=1 --timeout 30m\n"
  "  adr run claude --allow-preset packages --allow '*.internal.example:8443'\n";

void run_args_free(struct run_args *r)
{
  strv_free(&r->env);
  strv_free(&r->env_files);
  strv_free(&r->mounts);
  strv_free(&r->allow);
  strv_free(&r->presets);
  strv_free(&r->ssh_agent);
}

int run_parse(const struct adr_cmd_entry *self, const struct cmd_args *a, bool persistent, struct adr_launch_opts *o,
              struct run_args *lists)
{
  cleanup_err adr_err err = NULL;
  *o = (struct adr_launch_opts){ .persistent = persistent };
  for (size_t i = 0; i < a->n_opts; i++)
    if (a->opts[i].id == OPT_UNSAFE && adr_unsafe_parse(a->opts[i].value, &o->unsafe, &err) < 0)
      return usage_error(self, "%s", err->msg);
  if (a->argc > 1)
    return usage_error(self, "unexpected argument '%s' (agent arguments go after '--')", a->argv[1]);
  o->agent = a->argc ? a->argv[0] : NULL;
  o->workspace = args_get(a, 'w');
  o->config_dir = args_get(a, 'c');
  o->config_file = args_get(a, OPT_CONFIG_FILE);
  o->prompt = args_get(a, OPT_PROMPT);
  o->headless = args_has(a, OPT_HEADLESS);
  o->shell = args_has(a, OPT_SHELL);
  o->tag = args_get(a, OPT_TAG);
  o->model = args_get(a, OPT_MODEL);
  o->timeout = args_get(a, OPT_TIMEOUT);
  o->memory = args_get(a, OPT_MEMORY);
  o->cpus = args_get(a, OPT_CPUS);
  o->pids = args_get(a, OPT_PIDS);
  o->gpus = args_get(a, OPT_GPUS);
  o->project_image = args_get(a, OPT_IMAGE);
  o->no_devcontainer = args_has(a, OPT_NO_DEVCONTAINER);
  o->name = args_get(a, OPT_NAME);
  o->branch = args_get(a, OPT_BRANCH);
  o->ssh = args_has(a, OPT_SSH);
  o->no_worktree = args_has(a, OPT_NO_WORKTREE);
  o->network = args_get(a, OPT_NETWORK);
  o->no_relay = args_has(a, OPT_NO_RELAY);
  o->no_mcp = args_has(a, OPT_NO_MCP);
  o->git_push = args_has(a, OPT_GIT_PUSH);
  args_all(a, 'e', &lists->env);
  args_all(a, OPT_ENV_FILE, &lists->env_files);
  args_all(a, 'm', &lists->mounts);
  args_all(a, OPT_ALLOW, &lists->allow);
  args_all(a, OPT_ALLOW_PRESET, &lists->presets);
  args_all(a, OPT_SSH_AGENT, &lists->ssh_agent);
  o->ssh_agent = &lists->ssh_agent;
  o->env = &lists->env;
  o->env_files = &lists->env_files;
  o->mounts = &lists->mounts;
  o->allow = &lists->allow;
  o->presets = &lists->presets;
  o->agent_args = a->rest;
  o->n_agent_args = a->rest ? (size_t)a->n_rest : 0;
  o->tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  o->term = getenv("TERM");
  if (o->prompt && o->shell)
    return usage_error(self, "--prompt and --shell cannot be combined");
  if (o->headless && !o->prompt && !streq(self->name, "warm")) /* adr warm --headless: for starts with --prompt */
    return usage_error(self, "--headless needs --prompt");
  if (o->prompt && *o->prompt == '\0')
    return usage_error(self, "--prompt is empty");
  if (o->prompt)
    o->headless = true;
  return 0;
}

bool run_yes(const struct cmd_args *a) { return args_has(a, OPT_YES); }

static int run_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  struct adr_launch_opts o;
  struct run_args lists = { 0 };
  int ret = run_parse(self, a, false, &o, &lists);
  if (ret == 0) {
    o.cwd = ctx->s.cwd;
    ret = cmd_launch(ctx, self, &o, run_yes(a));
  }
  run_args_free(&lists);
  return ret;
}

const struct adr_cmd_entry cmd_run_entry = {
  .name = "run",
  .summary = "run an agent in a sandbox on the current directory",
  .usage = "adr run [AGENT] [options] [-- AGENT-ARGS...]",
  .help = run_help,
  .options = run_options,
  .shortopts = "hw:c:e:m:",
  .complete = "agents",
  .flags = CMD_DASHDASH,
  .exec = run_exec,
};
