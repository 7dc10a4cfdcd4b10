/* An agent's own git worktree and branch (persistent agents).
 *
 * The worktree lives in adr's state directory, its branch (default
 * adr/<name>) starts at the main checkout's HEAD.  Inside the sandbox git
 * works on it through the mounts adr_worktree_mounts() lists; everything
 * else of the repository's .git is read-only there. */
#ifndef ADR_WORKTREE_H
#define ADR_WORKTREE_H

#include "err.h"
#include "git.h"
#include "spec.h"
#include "util.h"

struct adr_worktree {
  char *path;   /* the worktree (absolute) */
  char *gitdir; /* <common_dir>/worktrees/<id> */
  char *branch; /* "adr/NAME" */
  char *base;   /* commit it started from */
};
void adr_worktree_free(struct adr_worktree *w);

/* Creates branch at HEAD and a worktree for it at path.  Refuses an
 * existing branch or path.  On error nothing is left behind. */
int adr_worktree_add(const struct adr_repo *r, const char *path, const char *branch, struct adr_worktree *w,
                     adr_err *err);

/* Adds the mounts git needs inside the sandbox (paths identical to the
 * host's, so the worktree's .git file resolves): the common .git
 * read-only; objects, the per-worktree dir, refs/heads/<branch dir> and
 * its reflog dir writable; the per-worktree location files read-only. */
int adr_worktree_mounts(const struct adr_repo *r, const struct adr_worktree *w, struct adr_spec *s, adr_err *err);

/* What removing the worktree would lose. */
struct adr_worktree_state {
  bool missing;        /* the worktree directory is gone */
  unsigned unmerged;   /* commits on the branch no other branch or remote has */
  struct strv changes; /* `git status --porcelain` lines (uncommitted work) */
};
void adr_worktree_state_free(struct adr_worktree_state *s);
int adr_worktree_state(const struct adr_repo *r, const struct adr_worktree *w, struct adr_worktree_state *st,
                       adr_err *err);

/* Removes the worktree (git's metadata too) and, when delete_branch, the
 * branch.  The caller has checked adr_worktree_state. */
int adr_worktree_remove(const struct adr_repo *r, const struct adr_worktree *w, bool delete_branch, adr_err *err);

/* A branch name git accepts (git check-ref-format --branch). */
bool adr_branch_name_valid(const char *b);

#endif
