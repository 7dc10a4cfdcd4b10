/* adr merge: brings a persistent agent's commits into the current branch
 * of the main checkout, after checking that nothing can go wrong half way:
 * a clean checkout, and no conflicts (git merge-tree, before touching any
 * file). */
#include "cmd.h"

#include <errno.h>
#include <stdlib.h>

const struct option merge_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char merge_help[] =
  "Merges the branch of the agent NAME into the branch checked out in the\n"
  "repository (a merge commit, even when a fast-forward is possible).\n"
  "Refuses, changing nothing, when your checkout has uncommitted changes\n"
  "to tracked files or when the merge would conflict (and lists the\n"
  "conflicting files).  Only the agent's commits are merged: uncommitted\n"
  "work in its worktree stays there (adr says so).\n";

int pagent_merge(struct adr_ctx *ctx, struct pagent *pa, bool *conflict)
{
  (void)ctx;
  struct pagent a = *pa; /* borrowed: the caller frees it */
  const char *name = a.name;
  *conflict = false;
  cleanup_err adr_err err = NULL;
  int ret = EXIT_FAIL;
  cleanup_buf struct buf b;
  buf_init(&b, 0);
  cleanup_free char *cur = NULL, *ref = NULL, *range = NULL, *msg = NULL;
  struct adr_worktree_state st = { 0 };
  if (!a.has_worktree) {
    errorf("'%s' works directly in %s (no branch of its own): nothing to merge", name,
           a.workspace ? a.workspace : "its workspace");
    goto done;
  }
  const struct adr_repo *r = &a.repo;
  if (adr_git_repo(r, false, &b, &err, "symbolic-ref", "--quiet", "--short", "HEAD", NULL) != 0) {
    errorf("merge '%s': your checkout %s is not on a branch (detached HEAD)", name, r->top);
    goto done;
  }
  cur = xstrdup(adr_git_trim(&b));
  /* the branch resolved once: the commit checked is the commit merged,
   * even if the agent moves its branch meanwhile */
  {
    cleanup_free char *spec = xasprintf("refs/heads/%s^{commit}", a.wt.branch);
    buf_reset(&b);
    if (adr_git_repo(r, false, &b, &err, "rev-parse", "--verify", "--quiet", spec, NULL) != 0 ||
        !*adr_git_trim(&b)) {
      errorf("merge '%s': its branch %s no longer exists", name, a.wt.branch);
      goto done;
    }
    ref = xstrdup(b.data);
    buf_reset(&b);
  }
  /* 1. a clean checkout (untracked files do not matter to a merge that
   *    does not conflict with them: git refuses that case itself) */
  if (adr_git_repo(r, true, &b, &err, "status", "--porcelain=v1", "--untracked-files=no", NULL) < 0)
    goto fail;
  if (*adr_git_trim(&b)) {
    fprintf(stderr, "adr: merge '%s': your checkout %s has uncommitted changes; commit or stash them first:\n%s\n",
            name, r->top, b.data);
    goto done;
  }
  /* 2. anything to merge? */
  buf_reset(&b);
  range = xasprintf("HEAD..%s", ref);
  if (adr_git_repo(r, true, &b, &err, "rev-list", "--count", range, NULL) < 0)
    goto fail;
  unsigned long ahead = strtoul(adr_git_trim(&b), NULL, 10);
  if (adr_worktree_state(r, &a.wt, &st, &err) < 0)
    goto fail;
  if (ahead == 0) {
    printf("nothing to merge: %s has no commits that %s lacks\n", a.wt.branch, cur);
    if (st.changes.n)
      hintf("'%s' has %zu uncommitted change%s in its worktree (see 'adr diff %s')", name, st.changes.n,
            st.changes.n == 1 ? "" : "s", name);
    ret = EXIT_OK;
    goto done;
  }
  /* 3. conflicts, found without touching the checkout */
  buf_reset(&b);
  int mt = adr_git_repo(r, false, &b, &err, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD",
                        ref, NULL);
  if (mt < 0)
    goto fail;
  if (mt == 1) {
    char *files = strchr(adr_git_trim(&b), '\n');
    fprintf(stderr, "adr: merge '%s': %s conflicts with %s in:\n", name, a.wt.branch, cur);
    for (char *save = NULL, *l = files ? strtok_r(files + 1, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
      fprintf(stderr, "  %s\n", l);
    fprintf(stderr, "nothing was changed\n");
    hintf("resolve it by hand: git merge %s", a.wt.branch);
    *conflict = true;
    goto done;
  }
  if (mt != 0) {
    adr_err_set(&err, EIO, "git merge-tree failed (exit %d)", mt);
    goto fail;
  }
  /* 4. merge (git would stop half way without an identity for the commit) */
  buf_reset(&b);
  if (adr_git_repo(r, false, &b, &err, "var", "GIT_COMMITTER_IDENT", NULL) != 0) {
    errorf("merge '%s': git does not know who you are (set user.name and user.email); nothing was changed", name);
    goto done;
  }
  msg = xasprintf("Merge branch '%s' (adr agent '%s')", a.wt.branch, name);
  if (adr_git_repo(r, true, NULL, &err, "merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, ref, NULL) < 0)
    goto fail;
  printf("merged %s into %s (%lu commit%s)\n", a.wt.branch, cur, ahead, ahead == 1 ? "" : "s");
  if (st.changes.n)
    hintf("'%s' also has %zu uncommitted change%s in its worktree, not merged (see 'adr diff %s')", name,
          st.changes.n, st.changes.n == 1 ? "" : "s", name);
  ret = EXIT_OK;
  goto done;
fail:
  adr_err_prefix(&err, "merge '%s'", name);
  ret = report(&err);
done:
  adr_worktree_state_free(&st);
  return ret;
}

int cmd_merge(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("merge");
  int c;
  while ((c = next_opt(self, argc, argv, "h", NULL)) != -1) {
    switch (c) {
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  struct pagent a;
  int bad = one_agent(ctx, self, argc, argv, &a);
  if (bad)
    return bad;
  bool conflict;
  int ret = pagent_merge(ctx, &a, &conflict);
  pagent_free(&a);
  return ret;
}
