/* adr's own git invocations.
 *
 * Two kinds, never mixed up:
 *  - on the user's repository (the main checkout): the user's own git, as
 *    the user would run it;
 *  - on an agent's worktree, whose files and per-worktree git directory
 *    the agent could write: git is pointed at that worktree with an
 *    explicit --git-dir/--work-tree (so a rewritten `.git` file is never
 *    followed), and everything that can make git run a program is
 *    switched off on the command line (hooks, fsmonitor, ssh, pagers,
 *    editors, external diff, textconv, credential helpers, gpg).  The
 *    per-worktree files git would read for its location (`commondir`,
 *    `gitdir`) are checked before every call.
 * All calls are argv vectors; output is bounded. */
#ifndef ADR_GIT_H
#define ADR_GIT_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>

struct adr_repo {
  char *top;        /* work tree of the main checkout (absolute) */
  char *common_dir; /* its .git directory (absolute) */
};
void adr_repo_free(struct adr_repo *r);

/* 0 and r filled when dir is inside a git work tree, 1 when it is not, -1
 * on error.  A linked worktree resolves to its main checkout. */
int adr_repo_find(const char *dir, struct adr_repo *r, adr_err *err);

/* Runs `git ARGS...` in the main checkout.  Returns git's exit status
 * (out gets stdout, may be NULL) or -1 with err (git's stderr in it) when
 * it exited non-zero and check is set. */
int adr_git_repo(const struct adr_repo *r, bool check, struct buf *out, adr_err *err, const char *arg, ...)
  __attribute__((sentinel));

/* The same with an argument vector (NULL-terminated). */
int adr_git_repov(const struct adr_repo *r, bool check, struct buf *out, adr_err *err, const char *const *args);

/* The same on an agent's worktree (hardened, see above).  gitdir is
 * <common_dir>/worktrees/<id>. */
int adr_git_wt(const struct adr_repo *r, const char *gitdir, const char *worktree, bool check, struct buf *out,
               adr_err *err, const char *arg, ...) __attribute__((sentinel));

/* Checks that the per-worktree directory still points where git wrote it:
 * `commondir` is "../.." and `gitdir` names worktree/.git. */
int adr_git_wt_verify(const struct adr_repo *r, const char *gitdir, const char *worktree, adr_err *err);

/* Trims trailing newlines of b->data in place and returns it. */
char *adr_git_trim(struct buf *b);

#endif
