/* adr skill: the agent skill that teaches coding agents to drive adr. */
#include "cmd.h"
#include "fs.h"
#include "skill.h"

#include <string.h>
#include <unistd.h>

/* clang-format off */
static const struct option skill_options[] = {
  { "force", no_argument, NULL, 'f' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char skill_help[] =
  "Installs the adr agent skill (SKILL.md: how to run, start, merge and\n"
  "watch agents with adr, and the network flags) into each agent's own\n"
  "skills directory, so that a coding agent on this host can drive adr.\n\n"
  "  install [AGENT...]    every agent with a skills directory, or those\n"
  "  uninstall [AGENT...]  removes only what adr installed\n"
  "  show                  prints the skill\n\n"
  "  -f, --force   replace (or remove) a SKILL.md adr did not install\n\n"
  "Examples:\n"
  "  adr skill install\n"
  "  adr skill install claude codex\n"
  "  adr skill show | less\n";

static int skill_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  if (a->argc < 1)
    return usage_error(self, "install, uninstall or show?");
  const char *sub = a->argv[0];
  if (streq(sub, "show")) {
    if (a->argc > 1)
      return usage_error(self, "show takes no argument");
    size_t len;
    const char *t = adr_skill_text(&len);
    fwrite(t, 1, len, stdout);
    return 0;
  }
  bool remove = streq(sub, "uninstall");
  if (!remove && !streq(sub, "install"))
    return usage_error(self, "unknown subcommand '%s' (install, uninstall, show)", sub);
  cleanup_strv struct strv only = { 0 };
  for (int i = 1; i < a->argc; i++)
    strv_push(&only, a->argv[i]);
  cleanup_free char *home = adr_home_dir();
  struct adr_skill_result *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  int r = adr_skill_apply(&ctx->s.agents, &only, home, remove, args_has(a, 'f'), &v, &n, &err);
  for (size_t i = 0; i < n; i++)
    if (!(r < 0 && i == n - 1))
      printf("%-9s %s: %s\n", v[i].agent, v[i].path, adr_skill_state_name(v[i].state));
  adr_skill_results_free(v, n);
  if (r < 0)
    return report(&err);
  return 0;
}

const struct adr_cmd_entry cmd_skill_entry = {
  .name = "skill",
  .summary = "install the agent skill that teaches coding agents to drive adr",
  .usage = "adr skill install|uninstall [--force] [AGENT...] | adr skill show",
  .help = skill_help,
  .options = skill_options,
  .shortopts = "hf",
  .complete = "agents",
  .flags = CMD_AGENTS,
  .exec = skill_exec,
};
