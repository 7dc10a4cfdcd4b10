/* adr start: a persistent agent in the background, on its own branch and
 * worktree when the workspace is a git repository.  Shares its options and
 * the sandbox with adr run (cmd/run.c); what differs is that the sandbox
 * outlives adr, keeps a terminal for adr attach, and is found again by
 * name through its labels. */
#include "cmd.h"
#include "launch.h"

static const char start_help[] =
  "Starts AGENT (default: ADR_AGENT) in a persistent sandbox and returns.\n"
  "In a git repository the agent works in its own worktree on its own\n"
  "branch (default adr/NAME, from the current HEAD), so several agents can\n"
  "work on one repository at once; outside one it shares the workspace as\n"
  "with 'adr run'.  Talk to it with 'adr attach NAME', review with 'adr diff\n"
  "NAME', bring its commits home with 'adr merge NAME', remove it with\n"
  "'adr rm NAME'.\n\n"
  "Options (and every option of 'adr run' except --timeout):\n"
  "      --name NAME          its name, unique in the repository\n"
  "                           (default: AGENT, then AGENT-2, ...)\n"
  "      --branch BRANCH      the branch to create (default: adr/NAME)\n"
  "      --no-worktree        work in the workspace itself, even in a repository\n"
  "      --ssh                sshd in the sandbox for your keys (~/.ssh/id_*.pub):\n"
  "                           'adr ssh NAME', or 'adr ssh --config NAME' for an\n"
  "                           ssh_config entry (VS Code Remote-SSH); no port is\n"
  "                           opened: ssh reaches it through the engine\n"
  "      --prompt TEXT        work on TEXT headless, then stop (see adr logs)\n\n"
  "Inside the sandbox git works on the agent's branch (status, commit,\n"
  "log); the rest of the repository's .git is read-only there.\n\n"
  "Examples:\n"
  "  adr start claude --name refactor\n"
  "  adr start pi --name tests --prompt 'add tests for parse.c and commit them'\n";

static int start_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  struct adr_launch_opts o;
  struct run_args lists = { 0 };
  int ret = run_parse(self, a, true, &o, &lists);
  if (ret == 0) {
    o.cwd = ctx->s.cwd;
    ret = cmd_launch(ctx, self, &o, run_yes(a));
  }
  run_args_free(&lists);
  return ret;
}

const struct adr_cmd_entry cmd_start_entry = {
  .name = "start",
  .summary = "start a persistent agent on its own branch",
  .usage = "adr start [AGENT] [--name NAME] [--branch BRANCH] [--ssh] [run options] [-- AGENT-ARGS...]",
  .help = start_help,
  .options = start_options,
  .shortopts = "hw:c:e:m:",
  .complete = "agents",
  .flags = CMD_DASHDASH,
  .exec = start_exec,
};
