/* adr team (also installed as adr-tmux): several persistent agents side by
 * side in one tmux session, one pane each (core/team.h says how).  This
 * file parses the subcommands and prints; status and watch are in
 * cmd/team-status.c. */
#include "cmd.h"
#include "launch.h"
#include "layout.h"
#include "team.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { OPT_AGENT = 256, OPT_SHARED, OPT_ALL, OPT_JSON };

/* clang-format off */
static const struct option team_options[] = {
  { "agent", required_argument, NULL, OPT_AGENT },
  { "workspace", required_argument, NULL, 'w' },
  { "shared-workspace", no_argument, NULL, OPT_SHARED },
  { "all", no_argument, NULL, OPT_ALL },
  { "json", no_argument, NULL, OPT_JSON },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char team_help[] =
  "Runs several agents side by side in a tmux session adr-SESSION, one pane\n"
  "each, titled with the agent's name.  Each is a persistent agent (see\n"
  "'adr start'): in a git repository it works on its own branch and\n"
  "worktree unless --shared-workspace.\n\n"
  "Subcommands:\n"
  "  start SESSION --agent TYPE[:NAME]... [-w DIR] [--shared-workspace]\n"
  "        NAME explicit (pi:main), generated (pi -> pi-1, pi-2) or '*'\n"
  "        (pi:*, generated too); unique in the session\n"
  "  attach SESSION              the session in your terminal (alias: inject)\n"
  "  send SESSION --agent NAME|--all PROMPT\n"
  "        types PROMPT into the agent's pane (bracketed paste, then Enter)\n"
  "  status [SESSION] [--json]   sessions, uptime, workspace; each agent\n"
  "        RUNNING, STALLED (no change in its pane for 2 checks 3 s apart;\n"
  "        with the time since its last change) or EXITED\n"
  "  watch SESSION [--agent NAME]  every 3 s: state changes and new output\n"
  "  merge SESSION               merge the agents' branches one after another\n"
  "        (in name order), stopping at the first conflict\n"
  "  stop SESSION                close the panes and remove the sandboxes;\n"
  "        an agent whose branch holds unmerged work keeps its (stopped)\n"
  "        sandbox, worktree and branch\n\n"
  "Needs tmux >= 3.0.  ADR_TMUX_SOCKET=PATH selects a tmux server.\n\n"
  "Examples:\n"
  "  adr team start dev --agent claude:lead --agent pi --agent pi\n"
  "  adr team send dev --agent pi-1 'write the tests for parse.c'\n"
  "  adr team status dev\n";

static char *self_exe(void)
{
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return xstrdup("adr");
  buf[n] = '\0';
  return xstrdup(buf);
}

/* Removes the team's sandboxes (reported); the number kept, -1 on error. */
static int remove_members(struct adr_ctx *ctx, const char *team, const char *scope)
{
  cleanup_err adr_err err = NULL;
  int kept = -1;
  if (ctx_engine(ctx, &err) < 0 || (kept = adr_team_remove(ctx->s.engine, team, scope, &cmd_events, &err)) < 0)
    report(&err);
  return kept;
}

/* One member's sandbox: adr start's launch, in a child (see below). */
static int start_member(struct adr_ctx *ctx, const char *team, const char *ws, bool shared,
                        const struct adr_team_member *m)
{
  struct adr_ctx child = { .prog = ctx->prog, .s = { .cwd = ctx->s.cwd ? xstrdup(ctx->s.cwd) : NULL } };
  struct adr_launch_opts o = {
    .cwd = child.s.cwd,
    .persistent = true,
    .team = team,
    .agent = m->type,
    .name = m->agent,
    .workspace = ws,
    .no_worktree = shared,
    .tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO),
    .term = getenv("TERM"),
  };
  return cmd_launch(&child, &cmd_start_entry, &o, true);
}

/* Starts the members' sandboxes in parallel: one child per member (forked,
 * no exec: same binary, same code path).  Returns how many failed. */
static int start_sandboxes(struct adr_ctx *ctx, const char *team, const char *ws, bool shared,
                           const struct adr_team_member *m, size_t n)
{
  pid_t *pids = xcalloc(n, sizeof(*pids));
  fflush(stdout);
  fflush(stderr);
  for (size_t i = 0; i < n; i++) {
    pid_t p = fork();
    if (p == 0) {
      int r = start_member(ctx, team, ws, shared, &m[i]);
      fflush(stdout);
      _exit(r);
    }
    pids[i] = p;
  }
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    int st = 0;
    if (pids[i] < 0 || waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      failed++;
  }
  free(pids);
  return failed;
}

/* The sandboxes are there: the session, one pane each. */
static int open_session(struct adr_ctx *ctx, const char *team, const char *ws, const struct adr_team_member *m,
                        size_t n)
{
  cleanup_err adr_err err = NULL;
  cleanup_free char *exe = self_exe();
  if (adr_team_open(team, ws, exe, m, n, &err) < 0) {
    adr_err_prefix(&err, "team start");
    int ret = report(&err);
    cleanup_err adr_err e3 = NULL;
    adr_team_close(team, &e3);
    cleanup_free char *sc = adr_team_scope_of(ws);
    remove_members(ctx, team, sc);
    return ret;
  }
  cleanup_free char *sess = adr_layout_team_session(team);
  printf("team '%s' started in tmux session %s:", team, sess);
  for (size_t i = 0; i < n; i++)
    printf(" %s (%s)", m[i].name, m[i].type);
  printf("\n");
  hintf("'adr team attach %s' to watch them, 'adr team send %s --agent NAME PROMPT' to talk to one", team, team);
  return EXIT_OK;
}

static int team_start(struct adr_ctx *ctx, const char *team, const struct strv *specs, const char *workspace,
                      bool shared)
{
  cleanup_err adr_err err = NULL;
  if (specs->n == 0)
    return errorf("team start: name at least one agent (--agent TYPE[:NAME])");
  if (adr_team_need_tmux(&err) < 0 || ctx_config(ctx, &err) < 0 || ctx_agents(ctx, &err) < 0)
    return report(&err);
  if (adr_team_exists(team)) {
    cleanup_free char *sess = adr_layout_team_session(team);
    return errorf("team start: session '%s' already exists (tmux session %s)", team, sess);
  }
  struct adr_team_member *m;
  size_t n;
  if (adr_team_members(team, specs, &ctx->s.agents, &m, &n, &err) < 0) {
    adr_err_prefix(&err, "team start");
    return report(&err);
  }
  int ret;
  cleanup_free char *ws = realpath(workspace ? workspace : (ctx->s.cwd ? ctx->s.cwd : "."), NULL);
  int have;
  if (!ws) {
    ret = errorf("team start: workspace '%s': %s", workspace ? workspace : ".", strerror(errno));
  } else if (ctx_engine(ctx, &err) < 0) { /* images first, once (a child would ask each on its own) */
    ret = report(&err);
  } else if ((have = adr_team_images(ctx->s.engine, &ctx->s.config, m, n, &err)) != 0) {
    if (have > 0)
      adr_err_prefix(&err, "team start");
    ret = report(&err);
  } else {
    int failed = start_sandboxes(ctx, team, ws, shared, m, n);
    if (failed) {
      cleanup_free char *sc = adr_team_scope_of(ws);
      remove_members(ctx, team, sc);
      ret = errorf("team start: %d of %zu agents did not start; nothing was kept", failed, n);
    } else {
      ret = open_session(ctx, team, ws, m, n);
    }
  }
  adr_team_members_free(m, n);
  return ret;
}

static int team_attach(const char *team)
{
  cleanup_err adr_err err = NULL;
  if (adr_team_need_tmux(&err) < 0)
    return report(&err);
  if (!adr_team_exists(team))
    return errorf("team attach: no session '%s'", team);
  cleanup_free char *sess = adr_layout_team_session(team);
  cleanup_free char *t = xasprintf("=%s", sess);
  const char *sock = getenv("ADR_TMUX_SOCKET");
  fflush(stdout);
  if (sock && *sock)
    execlp("tmux", "tmux", "-S", sock, getenv("TMUX") ? "switch-client" : "attach-session", "-t", t, (char *)NULL);
  else
    execlp("tmux", "tmux", getenv("TMUX") ? "switch-client" : "attach-session", "-t", t, (char *)NULL);
  return errorf("team attach: run tmux: %s", strerror(errno));
}

static int send_one(const struct adr_team_pane *p, const char *name, const char *prompt)
{
  cleanup_err adr_err err = NULL;
  if (adr_team_send(p, prompt, &err) < 0) {
    adr_err_prefix(&err, "team send to '%s'", name);
    return report(&err);
  }
  return EXIT_OK;
}

static int team_send(const char *team, const char *agent, bool all, const char *prompt)
{
  cleanup_err adr_err err = NULL;
  if (adr_team_need_tmux(&err) < 0)
    return report(&err);
  if (!adr_team_exists(team))
    return errorf("team send: no session '%s' (see 'adr team status')", team);
  struct adr_team_pane *p;
  size_t n;
  if (adr_team_panes(team, &p, &n, &err) < 0)
    return report(&err);
  int ret = EXIT_OK;
  if (!all) {
    const struct adr_team_pane *t = adr_team_pane_named(p, n, agent);
    if (!t)
      ret = errorf("team send: no agent '%s' in session '%s'", agent, team);
    else if (t->dead)
      ret = errorf("team send: '%s' has exited", agent);
    else
      ret = send_one(t, agent, prompt);
  } else {
    for (size_t i = 0; i < n; i++)
      if (!p[i].dead && send_one(&p[i], p[i].name, prompt) != EXIT_OK)
        ret = EXIT_FAIL;
  }
  adr_team_panes_free(p, n);
  return ret;
}

static int team_stop(struct adr_ctx *ctx, const char *team)
{
  cleanup_err adr_err err = NULL;
  if (adr_team_need_tmux(&err) < 0)
    return report(&err);
  bool had = adr_team_exists(team);
  cleanup_free char *scope = adr_team_scope(team, ctx->s.cwd); /* before the session goes */
  if (had && adr_team_close(team, &err) < 0)
    return report(&err);
  if (remove_members(ctx, team, scope) < 0)
    return EXIT_FAIL;
  printf("stopped team '%s'%s\n", team, had ? "" : " (its tmux session was already gone)");
  return EXIT_OK;
}

static int cmp_pagent_name(const void *x, const void *y)
{
  const struct adr_pagent *a = x, *b = y;
  return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

/* The agents' branches, one after another in name order, stopping at the
 * first that does not merge. */
static int merge_all(const char *team, struct adr_pagent *v, size_t n, const struct adr_repo *repo, bool in,
                     const char *scope)
{
  if (n == 0)
    return errorf("team merge: no agents of team '%s'", team);
  size_t merged = 0;
  for (size_t i = 0; i < n; i++) {
    if (!v[i].has_worktree)
      continue;
    if (!in || !streq(v[i].scope, scope))
      return errorf("team merge: run it in the repository %s", v[i].scope);
    v[i].repo = *repo; /* borrowed for merge_agent */
    v[i].in_repo = true;
    int r = merge_agent(&v[i]);
    memset(&v[i].repo, 0, sizeof(v[i].repo));
    if (r != EXIT_OK) {
      fprintf(stderr, "adr: team merge: stopped at '%s'; %zu merged before it\n", v[i].name, merged);
      return EXIT_FAIL;
    }
    merged++;
  }
  return EXIT_OK;
}

static int team_merge(struct adr_ctx *ctx, const char *team)
{
  cleanup_err adr_err err = NULL;
  cleanup_free char *tscope = adr_team_scope(team, ctx->s.cwd);
  struct adr_pagent *v;
  size_t n;
  if (ctx_engine(ctx, &err) < 0 || adr_team_agents(ctx->s.engine, team, tscope, &v, &n, &err) < 0)
    return report(&err);
  qsort(v, n, sizeof(*v), cmp_pagent_name); /* a predictable order: by name */
  struct adr_repo repo = { 0 };
  cleanup_free char *scope = NULL;
  int in = adr_pagent_scope(ctx->s.cwd, &repo, &scope, &err);
  int ret = in < 0 ? report(&err) : merge_all(team, v, n, &repo, in == 0, scope);
  adr_repo_free(&repo);
  adr_pagents_free(v, n);
  return ret;
}

/* ------------------------------------------------------------ dispatch */

static int team_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  const char *workspace = args_get(args, 'w'), *agent = args_get(args, OPT_AGENT);
  bool shared = args_has(args, OPT_SHARED), all = args_has(args, OPT_ALL), json = args_has(args, OPT_JSON);
  cleanup_strv struct strv agents = { 0 };
  args_all(args, OPT_AGENT, &agents);
  int argc = args->argc, next = 0;
  char **argv = args->argv;
  if (next >= argc)
    return usage_error(self, "which subcommand? (start, attach, send, status, watch, merge, stop)");
  const char *sub = argv[next++];
  const char *team = next < argc ? argv[next++] : NULL;
  if (streq(sub, "help")) {
    print_cmd_help(self, stdout);
    return EXIT_OK;
  }
  static const char *const subs[] = { "start", "attach", "inject", "send", "status", "watch", "merge", "stop" };
  bool known = false;
  for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
    known |= streq(sub, subs[i]);
  if (!known)
    return usage_error(self, "unknown subcommand '%s' (start, attach, send, status, watch, merge, stop)", sub);
  if (!streq(sub, "status") && !team)
    return usage_error(self, "%s: which session?", sub);
  if (team && !adr_team_name_valid(team))
    return usage_error(self, "invalid session name '%s' (lowercase letters, digits, '-', '_', '.')", team);
  if (streq(sub, "start")) {
    if (next < argc)
      return usage_error(self, "start: unexpected argument '%s' (agents are given with --agent)", argv[next]);
    return team_start(ctx, team, &agents, workspace, shared);
  }
  if (streq(sub, "attach") || streq(sub, "inject"))
    return team_attach(team);
  if (streq(sub, "send")) {
    if (!all && agents.n != 1)
      return usage_error(self, "send: name one agent with --agent NAME, or --all");
    if (next >= argc)
      return usage_error(self, "send: what prompt?");
    if (next + 1 < argc)
      return usage_error(self, "send: one prompt argument (quote it)");
    return team_send(team, agent, all, argv[next]);
  }
  if (next < argc)
    return usage_error(self, "%s: unexpected argument '%s'", sub, argv[next]);
  if (streq(sub, "status"))
    return team_status(ctx, team, json);
  if (streq(sub, "watch"))
    return team_watch(ctx, team, agents.n ? agent : NULL);
  if (streq(sub, "stop"))
    return team_stop(ctx, team);
  return team_merge(ctx, team);
}

const struct adr_cmd_entry cmd_team_entry = {
  .name = "team",
  .summary = "several agents side by side in tmux (also: adr-tmux)",
  .usage =
    "adr team start SESSION --agent TYPE[:NAME]... [-w DIR] [--shared-workspace]\n"
    "       adr team attach|inject SESSION\n       adr team send SESSION --agent NAME|--all PROMPT\n"
    "       adr team status [SESSION] [--json]\n       adr team watch SESSION [--agent NAME]\n"
    "       adr team merge|stop SESSION",
  .help = team_help,
  .options = team_options,
  .shortopts = "hw:",
  .complete = "team",
  .exec = team_exec,
};
