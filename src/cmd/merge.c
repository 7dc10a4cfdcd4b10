/* adr merge: brings a persistent agent's commits into the current branch
 * of the main checkout, after checking that nothing can go wrong half way
 * (core/pagent-merge.c); this file says what the checks found. */
#include "cmd.h"

/* clang-format off */
static const struct option merge_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char merge_help[] =
  "Merges the branch of the agent NAME into the branch checked out in the\n"
  "repository (a merge commit, even when a fast-forward is possible).\n"
  "Refuses, changing nothing, when your checkout has uncommitted changes\n"
  "to tracked files or when the merge would conflict (and lists the\n"
  "conflicting files).  Only the agent's commits are merged: uncommitted\n"
  "work in its worktree stays there (adr says so).\n";

/* What a check that refuses says; EXIT_FAIL. */
static int refused(const struct adr_pagent *a, const struct adr_merge *m)
{
  const char *name = a->name;
  switch (m->verdict) {
  case ADR_MERGE_NO_BRANCH:
    return errorf("'%s' works directly in %s (no branch of its own): nothing to merge", name,
                  a->workspace ? a->workspace : "its workspace");
  case ADR_MERGE_DETACHED:
    return errorf("merge '%s': your checkout %s is not on a branch (detached HEAD)", name, a->repo.top);
  case ADR_MERGE_GONE: return errorf("merge '%s': its branch %s no longer exists", name, a->wt.branch);
  case ADR_MERGE_DIRTY:
    fprintf(stderr, "adr: merge '%s': your checkout %s has uncommitted changes; commit or stash them first:\n%s\n",
            name, a->repo.top, m->status);
    return EXIT_FAIL;
  case ADR_MERGE_CONFLICT:
    fprintf(stderr, "adr: merge '%s': %s conflicts with %s in:\n", name, a->wt.branch, m->cur);
    for (size_t i = 0; i < m->files.n; i++)
      fprintf(stderr, "  %s\n", m->files.v[i]);
    fprintf(stderr, "nothing was changed\n");
    hintf("resolve it by hand: git merge %s", a->wt.branch);
    return EXIT_FAIL;
  case ADR_MERGE_NO_IDENT:
    return errorf("merge '%s': git does not know who you are (set user.name and user.email); nothing was changed",
                  name);
  default: return EXIT_FAIL;
  }
}

int merge_agent(struct adr_pagent *a)
{
  const char *name = a->name;
  cleanup_err adr_err err = NULL;
  cleanup_merge struct adr_merge m = { 0 };
  if (adr_pagent_merge_check(a, &m, &err) < 0) {
    adr_err_prefix(&err, "merge '%s'", name);
    return report(&err);
  }
  if (m.verdict == ADR_MERGE_NOTHING) {
    printf("nothing to merge: %s has no commits that %s lacks\n", a->wt.branch, m.cur);
    if (m.changes)
      hintf("'%s' has %zu uncommitted change%s in its worktree (see 'adr diff %s')", name, m.changes,
            m.changes == 1 ? "" : "s", name);
    return EXIT_OK;
  }
  if (m.verdict != ADR_MERGE_READY)
    return refused(a, &m);
  if (adr_pagent_merge(a, &m, &err) < 0) {
    adr_err_prefix(&err, "merge '%s'", name);
    return report(&err);
  }
  printf("merged %s into %s (%lu commit%s)\n", a->wt.branch, m.cur, m.ahead, m.ahead == 1 ? "" : "s");
  if (m.changes)
    hintf("'%s' also has %zu uncommitted change%s in its worktree, not merged (see 'adr diff %s')", name, m.changes,
          m.changes == 1 ? "" : "s", name);
  return EXIT_OK;
}

static int merge_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  cleanup_pagent struct adr_pagent a = { 0 };
  int bad = find_agent(ctx, args->argv[0], &a);
  if (bad)
    return bad;
  return merge_agent(&a);
}

const struct adr_cmd_entry cmd_merge_entry = {
  .name = "merge",
  .summary = "merge a persistent agent's branch into yours",
  .usage = "adr merge NAME",
  .help = merge_help,
  .options = merge_options,
  .shortopts = "h",
  .complete = "names",
  .flags = CMD_ONE_AGENT | CMD_ENGINE,
  .exec = merge_exec,
};
