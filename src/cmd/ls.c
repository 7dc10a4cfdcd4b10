/* adr ls: the persistent agents of this repository (or of all, --all). */
#include "cmd.h"
#include "fmt.h"
#include "reap.h"

#include <jansson.h>
#include <sys/stat.h>

/* clang-format off */
static const struct option ls_options[] = {
  { "all", no_argument, NULL, 'a' },
  { "json", no_argument, NULL, 'j' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char ls_help[] =
  "Lists the persistent agents started in this repository (or directory):\n"
  "name, agent, branch, state, uptime and workspace.  An agent whose\n"
  "worktree has vanished shows as 'broken' ('adr rm' cleans it up).\n\n"
  "Options:\n"
  "  -a, --all     agents of every repository\n"
  "      --json    a JSON array of {name, agent, branch, state, exit_code,\n"
  "                created, workspace, repository, broken}\n";

static bool broken(const struct adr_pagent *a)
{
  struct stat st;
  if (a->has_worktree)
    return stat(a->wt.path, &st) < 0 || stat(a->wt.gitdir, &st) < 0;
  return a->workspace && stat(a->workspace, &st) < 0;
}

static int cmp_agent(const void *x, const void *y)
{
  const struct adr_pagent *a = x, *b = y;
  int c = strcmp(a->scope ? a->scope : "", b->scope ? b->scope : "");
  return c ? c : strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

static int ls_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  bool all = args_has(args, 'a'), json = args_has(args, 'j');
  cleanup_err adr_err err = NULL;
  struct adr_repo repo;
  cleanup_free char *scope = NULL;
  int in_repo = adr_pagent_scope(ctx->s.cwd, &repo, &scope, &err);
  if (in_repo < 0)
    return report(&err);
  adr_reap(ctx->s.engine);
  if (in_repo == 0)
    adr_reap_starts(ctx->s.engine, &repo, &cmd_events);
  adr_repo_free(&repo);
  struct adr_pagent *v;
  size_t n;
  if (adr_pagent_list(ctx->s.engine, all ? NULL : scope, &v, &n, &err) < 0)
    return report(&err);
  qsort(v, n, sizeof(*v), cmp_agent);
  time_t now = time(NULL);
  if (json) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
      const struct adr_pagent *a = &v[i];
      json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:I, s:s?, s:s?, s:b}", "name", a->name, "agent", a->agent,
                            "branch", a->wt.branch, "state", a->c.state, "created", (json_int_t)a->c.created,
                            "workspace", a->workspace, "repository", a->scope, "broken", broken(a));
      if (a->state != ADR_PAGENT_RUNNING && a->state != ADR_PAGENT_CREATED)
        json_object_set_new(o, "exit_code", json_integer(a->c.exit_code));
      json_array_append_new(arr, o);
    }
    char *s = json_dumps(arr, JSON_INDENT(2));
    puts(s);
    free(s);
    json_decref(arr);
    adr_pagents_free(v, n);
    return EXIT_OK;
  }
  if (n == 0) {
    printf("no agents in %s\n", all ? "any repository" : scope);
    hintf("start one with 'adr start AGENT'");
    adr_pagents_free(v, n);
    return EXIT_OK;
  }
  struct adr_table t;
  static const char *const hdr[] = { "NAME", "AGENT", "BRANCH", "STATE", "UPTIME", "WORKSPACE" };
  adr_table_init(&t, 6, hdr);
  for (size_t i = 0; i < n; i++) {
    const struct adr_pagent *a = &v[i];
    cleanup_free char *state = NULL, *up = NULL;
    if (broken(a))
      state = xstrdup("broken");
    else if (a->state == ADR_PAGENT_EXITED)
      state = xasprintf("exited (%d)", a->c.exit_code);
    else
      state = xstrdup(a->c.state ? a->c.state : "?");
    up = adr_pagent_running(a) ? adr_fmt_uptime(a->c.created, now) : xstrdup("-");
    const char *row[] = { a->name ? a->name : "?",
                          a->agent ? a->agent : "?",
                          a->wt.branch ? a->wt.branch : "-",
                          state,
                          up,
                          all ? (a->scope ? a->scope : "-") : (a->workspace ? a->workspace : "-") };
    adr_table_add(&t, row);
  }
  adr_table_print(&t, stdout);
  adr_table_free(&t);
  adr_pagents_free(v, n);
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_ls_entry = {
  .name = "ls",
  .summary = "list persistent agents",
  .usage = "adr ls [--all] [--json]",
  .help = ls_help,
  .options = ls_options,
  .shortopts = "haj",
  .complete = "",
  .flags = CMD_NO_ARGS | CMD_ENGINE,
  .exec = ls_exec,
};
