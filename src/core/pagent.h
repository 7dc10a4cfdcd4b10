/* Persistent agents (adr start): everything about one is in its sandbox's
 * labels, so nothing goes stale when adr is killed.  Finding one by name
 * in the current repository, listing them, their state, the checks before
 * their branch is merged, and their streams (attach, exec, logs). */
#ifndef ADR_PAGENT_H
#define ADR_PAGENT_H

#include "engine.h"
#include "err.h"
#include "git.h"
#include "session.h"
#include "util.h"
#include "worktree.h"

#include <stdbool.h>

/* The engine's container states, as an agent's state. */
enum adr_pagent_state {
  ADR_PAGENT_UNKNOWN = 0,
  ADR_PAGENT_CREATED,
  ADR_PAGENT_RUNNING,
  ADR_PAGENT_PAUSED,
  ADR_PAGENT_RESTARTING,
  ADR_PAGENT_REMOVING,
  ADR_PAGENT_EXITED,
  ADR_PAGENT_DEAD,
};
enum adr_pagent_state adr_pagent_state_parse(const char *engine_state);
/* "running", "exited", ...; "unknown" for ADR_PAGENT_UNKNOWN */
const char *adr_pagent_state_name(enum adr_pagent_state s);

struct adr_pagent {
  struct adr_container c; /* owned; c.state is the engine's word, for messages */
  enum adr_pagent_state state;
  struct adr_repo repo; /* the current repository (adr_pagent_find) */
  bool in_repo;
  const char *name, *agent, *scope, *workspace, *team; /* point into c.labels */
  struct adr_worktree wt;                              /* fields point into c.labels; never adr_worktree_free it */
  bool has_worktree;
  /* a warm sandbox (ADR_WARM): idle, not an agent yet (never listed); or
   * claimed, when name, team and wt.branch, wt.base point into warm */
  bool warm_idle;
  char *warm;
};
void adr_pagent_free(struct adr_pagent *a);
static inline void adr_pagent_cleanup(struct adr_pagent *a) { adr_pagent_free(a); }
#define cleanup_pagent __attribute__((cleanup(adr_pagent_cleanup)))
void adr_pagents_free(struct adr_pagent *v, size_t n);
/* The agent's sandbox name (its container's name without the '/'). */
const char *adr_pagent_sandbox(const struct adr_pagent *a);
/* A claimed warm sandbox's IDENTITY/warm/agent (launch-warm.c): four
 * lines, name, branch (adr/...), base commit, team (may be empty); cut in
 * place into f.  -1 when it is not that. */
int adr_pagent_warm_parse(char *text, char *f[4]);
/* Fills name, scope, state, worktree ... from a->c (labels and state; a
 * claimed warm sandbox's from its host state, launch-warm.c). */
void adr_pagent_fill(struct adr_pagent *a);
static inline bool adr_pagent_running(const struct adr_pagent *a) { return a->state == ADR_PAGENT_RUNNING; }

/* Repository top of cwd (returns 0), else cwd itself, resolved (returns 1);
 * -1 on error. */
int adr_pagent_scope(const char *cwd, struct adr_repo *repo, char **scope, adr_err *err);
/* The agents of a scope (NULL: of every scope). */
int adr_pagent_list(struct adr_engine *e, const char *scope, struct adr_pagent **out, size_t *n, adr_err *err);
/* The agent NAME of the session's current repository (or directory):
 * 0 found, 1 not found (err says so), -1 error.  Opens the engine. */
int adr_pagent_find(struct adr_session *s, const char *name, struct adr_pagent *out, adr_err *err);
/* The first default name (AGENT, AGENT-2, ...) no agent of scope has. */
char *adr_pagent_free_name(struct adr_engine *e, const char *scope, const char *agent, adr_err *err);
/* Whether scope has an agent NAME: 1 yes, 0 no, -1 error. */
int adr_pagent_exists(struct adr_engine *e, const char *scope, const char *name, adr_err *err);

/* Its terminal (see struct adr_attach; a->c.id is the sandbox). */
int adr_pagent_attach(struct adr_engine *e, const struct adr_pagent *a, const struct adr_attach *io, adr_err *err);
int adr_pagent_resize(struct adr_engine *e, const struct adr_pagent *a, unsigned rows, unsigned cols);
/* Its state and exit code anew (after an attach): 0, or 1 when it is gone. */
int adr_pagent_refresh(struct adr_engine *e, struct adr_pagent *a, adr_err *err);
int adr_pagent_exec(struct adr_engine *e, const struct adr_pagent *a, const struct strv *cmd,
                    const struct adr_attach *io, int *exit_code, adr_err *err);
int adr_pagent_logs(struct adr_engine *e, const struct adr_pagent *a, bool follow, int out_fd, int err_fd,
                    adr_err *err);
/* Whether the sandbox NAME (an agent's or an adr run's) runs: 1 yes, 0 no
 * (or gone), -1 error. */
int adr_sandbox_running(struct adr_engine *e, const char *name, adr_err *err);

/* ------------------------------------------------------------ merge */

/* What merging an agent's branch into the checked-out branch would do,
 * found without changing anything. */
enum adr_merge_verdict {
  ADR_MERGE_READY,     /* ahead commits merge cleanly */
  ADR_MERGE_NOTHING,   /* the branch has nothing the checkout lacks */
  ADR_MERGE_NO_BRANCH, /* it works in its workspace: no branch of its own */
  ADR_MERGE_DETACHED,  /* the checkout is not on a branch */
  ADR_MERGE_GONE,      /* its branch no longer exists */
  ADR_MERGE_DIRTY,     /* the checkout has uncommitted changes (status) */
  ADR_MERGE_CONFLICT,  /* conflicts in files */
  ADR_MERGE_NO_IDENT,  /* git does not know who the user is */
};
struct adr_merge {
  enum adr_merge_verdict verdict;
  char *cur;           /* the checked-out branch */
  char *ref;           /* the agent's branch tip, resolved once: the commit checked is the one merged */
  char *status;        /* DIRTY: git status --porcelain of the checkout */
  unsigned long ahead; /* commits to merge */
  size_t changes;      /* uncommitted changes in its worktree (never merged) */
  struct strv files;   /* CONFLICT: the conflicting files */
};
void adr_merge_free(struct adr_merge *m);
static inline void adr_merge_cleanup(struct adr_merge *m) { adr_merge_free(m); }
#define cleanup_merge __attribute__((cleanup(adr_merge_cleanup)))
/* The checks, in order; -1 with err when git fails. */
int adr_pagent_merge_check(const struct adr_pagent *a, struct adr_merge *m, adr_err *err);
/* Merges m->ref (READY only): a merge commit, even for a fast-forward. */
int adr_pagent_merge(const struct adr_pagent *a, const struct adr_merge *m, adr_err *err);

#endif
