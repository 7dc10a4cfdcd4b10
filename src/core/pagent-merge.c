/* Merging a persistent agent's branch into the checked-out branch of the
 * main checkout, after checking that nothing can go wrong half way: a
 * clean checkout, and no conflicts (git merge-tree, before touching any
 * file). */
#include "pagent.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void adr_merge_free(struct adr_merge *m)
{
  free(m->cur);
  free(m->ref);
  free(m->status);
  strv_free(&m->files);
  memset(m, 0, sizeof(*m));
}

/* 3. conflicts, found without touching the checkout; then whether git can
 * make the commit at all (it would stop half way without an identity) */
static int merge_tree(const struct adr_repo *r, struct adr_merge *m, struct buf *b, adr_err *err)
{
  buf_reset(b);
  int mt =
    adr_git_repo(r, false, b, err, "merge-tree", "--write-tree", "--name-only", "--no-messages", "HEAD", m->ref, NULL);
  if (mt < 0)
    return -1;
  if (mt == 1) {
    char *files = strchr(adr_git_trim(b), '\n');
    for (char *save = NULL, *l = files ? strtok_r(files + 1, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
      strv_push(&m->files, l);
    m->verdict = ADR_MERGE_CONFLICT;
    return 0;
  }
  if (mt != 0)
    return adr_err_set(err, EIO, "git merge-tree failed (exit %d)", mt);
  buf_reset(b);
  if (adr_git_repo(r, false, b, err, "var", "GIT_COMMITTER_IDENT", NULL) != 0) {
    adr_err_free(err);
    m->verdict = ADR_MERGE_NO_IDENT;
    return 0;
  }
  m->verdict = ADR_MERGE_READY;
  return 0;
}

int adr_pagent_merge_check(const struct adr_pagent *a, struct adr_merge *m, adr_err *err)
{
  memset(m, 0, sizeof(*m));
  if (!a->has_worktree) {
    m->verdict = ADR_MERGE_NO_BRANCH;
    return 0;
  }
  const struct adr_repo *r = &a->repo;
  cleanup_buf struct buf b;
  buf_init(&b, 0);
  if (adr_git_repo(r, false, &b, err, "symbolic-ref", "--quiet", "--short", "HEAD", NULL) != 0) {
    adr_err_free(err);
    m->verdict = ADR_MERGE_DETACHED;
    return 0;
  }
  m->cur = xstrdup(adr_git_trim(&b));
  /* the branch resolved once: the commit checked is the commit merged,
   * even if the agent moves its branch meanwhile */
  cleanup_free char *spec = xasprintf("refs/heads/%s^{commit}", a->wt.branch);
  buf_reset(&b);
  if (adr_git_repo(r, false, &b, err, "rev-parse", "--verify", "--quiet", spec, NULL) != 0 || !*adr_git_trim(&b)) {
    adr_err_free(err);
    m->verdict = ADR_MERGE_GONE;
    return 0;
  }
  m->ref = xstrdup(b.data);
  /* 1. a clean checkout (untracked files do not matter to a merge that
   *    does not conflict with them: git refuses that case itself) */
  buf_reset(&b);
  if (adr_git_repo(r, true, &b, err, "status", "--porcelain=v1", "--untracked-files=no", NULL) < 0)
    return -1;
  if (*adr_git_trim(&b)) {
    m->status = xstrdup(b.data);
    m->verdict = ADR_MERGE_DIRTY;
    return 0;
  }
  /* 2. anything to merge? */
  buf_reset(&b);
  cleanup_free char *range = xasprintf("HEAD..%s", m->ref);
  if (adr_git_repo(r, true, &b, err, "rev-list", "--count", range, NULL) < 0)
    return -1;
  m->ahead = strtoul(adr_git_trim(&b), NULL, 10);
  struct adr_worktree_state st = { 0 };
  if (adr_worktree_state(r, &a->wt, &st, err) < 0) {
    adr_worktree_state_free(&st);
    return -1;
  }
  m->changes = st.changes.n;
  adr_worktree_state_free(&st);
  if (m->ahead == 0) {
    m->verdict = ADR_MERGE_NOTHING;
    return 0;
  }
  return merge_tree(r, m, &b, err);
}

int adr_pagent_merge(const struct adr_pagent *a, const struct adr_merge *m, adr_err *err)
{
  cleanup_free char *msg = xasprintf("Merge branch '%s' (adr agent '%s')", a->wt.branch, a->name);
  return adr_git_repo(&a->repo, true, NULL, err, "merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, m->ref, NULL) <
             0
           ? -1
           : 0;
}
