/* adr rm: removes a persistent agent: its sandbox, worktree and branch.
 * Never loses work: commits no other branch or remote has, and uncommitted
 * changes, keep everything in place unless --force. */
#include "cmd.h"
#include "reap.h"

enum { OPT_NO_PUSH = 256 };

/* clang-format off */
static const struct option rm_options[] = {
  { "no-push", no_argument, NULL, OPT_NO_PUSH },
  { "force", no_argument, NULL, 'f' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char rm_help[] =
  "Removes the agent NAME: stops its sandbox, removes it, its worktree and\n"
  "its branch.  First the branch is pushed to the repository's upstream\n"
  "remote (the current branch's remote, else the only remote, else\n"
  "'origin') when one exists.  If the branch then still holds commits that\n"
  "no other branch or remote has, or the worktree holds uncommitted\n"
  "changes, nothing is removed and adr says what would be lost.\n\n"
  "Options:\n"
  "      --no-push   do not push the branch\n"
  "  -f, --force     remove anyway, losing what is listed\n";

/* The remote to push to, or NULL. */
static char *upstream_remote(const struct adr_repo *r)
{
  cleanup_err adr_err e = NULL;
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 16);
  if (adr_git_repo(r, false, &b, &e, "symbolic-ref", "--quiet", "--short", "HEAD", NULL) == 0) {
    cleanup_free char *key = xasprintf("branch.%s.remote", adr_git_trim(&b));
    buf_reset(&b);
    if (adr_git_repo(r, false, &b, &e, "config", "--get", key, NULL) == 0 && *adr_git_trim(&b) && !streq(b.data, "."))
      return xstrdup(b.data);
  }
  buf_reset(&b);
  if (adr_git_repo(r, false, &b, &e, "remote", NULL) != 0)
    return NULL;
  char *remotes = adr_git_trim(&b);
  if (!*remotes)
    return NULL;
  if (!strchr(remotes, '\n'))
    return xstrdup(remotes);
  for (char *save = NULL, *l = strtok_r(remotes, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
    if (streq(l, "origin"))
      return xstrdup(l);
  return NULL;
}

/* Lists what removing would lose; true when that is nothing. */
static bool nothing_to_lose(const char *name, const struct adr_pagent *a, const struct adr_worktree_state *st,
                            bool stopped)
{
  if (st->unmerged == 0 && st->changes.n == 0)
    return true;
  fprintf(stderr, "adr: rm '%s': would lose", name);
  if (st->unmerged)
    fprintf(stderr, " %u commit%s on %s that no other branch or remote has", st->unmerged, st->unmerged == 1 ? "" : "s",
            a->wt.branch);
  if (st->unmerged && st->changes.n)
    fprintf(stderr, " and");
  if (st->changes.n)
    fprintf(stderr, " uncommitted changes in %zu file%s", st->changes.n, st->changes.n == 1 ? "" : "s");
  fprintf(stderr, "%s\n", st->changes.n ? ":" : "");
  for (size_t i = 0; i < st->changes.n && i < 20; i++)
    fprintf(stderr, "  %s\n", st->changes.v[i]);
  if (st->changes.n > 20)
    fprintf(stderr, "  ... and %zu more\n", st->changes.n - 20);
  if (stopped)
    fprintf(stderr, "(the agent was stopped while adr checked; nothing else changed)\n");
  hintf("review with 'adr diff %s', bring it home with 'adr merge %s', or remove anyway with 'adr rm --force %s'", name,
        name, name);
  return false;
}

/* The checks before anything goes: what removing would lose, a push that
 * may save it.  0 to go on (*delete_branch: the branch may go too), else
 * the exit status. */
static int check_work(const char *name, struct adr_pagent *a, bool push, bool force, bool stopped, bool *delete_branch)
{
  cleanup_err adr_err err = NULL;
  struct adr_worktree_state st = { 0 };
  if (adr_worktree_state(&a->repo, &a->wt, &st, &err) < 0) {
    if (!force) {
      adr_err_prefix(&err, "rm '%s'", name);
      adr_worktree_state_free(&st);
      return report(&err);
    }
    warnf("rm '%s': cannot tell what its worktree holds (%s); removing it anyway (--force)", name, err->msg);
    adr_err_free(&err);
  }
  int ret = EXIT_FAIL;
  if (push && st.unmerged > 0) {
    cleanup_free char *remote = upstream_remote(&a->repo);
    if (remote) {
      cleanup_free char *spec = xasprintf("refs/heads/%s:refs/heads/%s", a->wt.branch, a->wt.branch);
      if (adr_git_repo(&a->repo, true, NULL, &err, "push", "--quiet", remote, spec, NULL) < 0) {
        adr_err_prefix(&err, "rm '%s': push %s to %s", name, a->wt.branch, remote);
        report(&err);
        hintf("'adr rm --no-push %s' skips the push", name);
        goto out;
      }
      printf("pushed %s to %s\n", a->wt.branch, remote);
      adr_worktree_state_free(&st);
      if (adr_worktree_state(&a->repo, &a->wt, &st, &err) < 0) {
        report(&err);
        goto out;
      }
    }
  }
  if (!force && !nothing_to_lose(name, a, &st, stopped))
    goto out;
  *delete_branch = force || st.unmerged == 0;
  ret = EXIT_OK;
out:
  adr_worktree_state_free(&st);
  return ret;
}

static int rm_one(struct adr_ctx *ctx, const char *name, bool push, bool force)
{
  cleanup_err adr_err err = NULL;
  cleanup_pagent struct adr_pagent a = { 0 };
  int bad = find_agent(ctx, name, &a);
  if (bad)
    return bad;
  if (a.has_worktree && !a.in_repo)
    return errorf("rm '%s': run it inside the repository %s", name, a.scope);
  /* 1. a first look, while it runs: refuse before touching anything */
  if (a.has_worktree && !force) {
    struct adr_worktree_state st = { 0 };
    int r = adr_worktree_state(&a.repo, &a.wt, &st, &err);
    bool go = r == 0 && ((push && st.unmerged > 0) || nothing_to_lose(name, &a, &st, false));
    adr_worktree_state_free(&st);
    if (r < 0) {
      adr_err_prefix(&err, "rm '%s'", name);
      report(&err);
      hintf("'adr rm --force %s' removes it without looking", name);
    }
    if (!go)
      return EXIT_FAIL;
  }
  /* 2. stopped, so that nothing changes between the last look and removal */
  struct adr_teardown t;
  adr_teardown_of_pagent(&a, &t);
  bool stopped = adr_pagent_running(&a);
  if (stopped && adr_teardown_stop(ctx->s.engine, &t, true, &err) < 0) {
    adr_err_prefix(&err, "rm '%s': stop sandbox", name);
    return report(&err);
  }
  if (a.has_worktree && check_work(name, &a, push, force, stopped, &t.delete_branch) != EXIT_OK)
    return EXIT_FAIL;
  /* the worktree first, the sandbox (whose labels say what to clean up)
   * after it: a kill half way leaves an agent that shows as broken in adr
   * ls, and the next adr rm finishes the job */
  t.strict = true;
  if (adr_teardown(ctx->s.engine, &t, &cmd_events, &err) < 0) {
    adr_err_prefix(&err, "rm '%s'", name);
    return report(&err);
  }
  printf("removed '%s'%s%s%s\n", name, a.has_worktree ? " and its worktree" : "",
         a.has_worktree && t.delete_branch ? " and branch " : "", a.has_worktree && t.delete_branch ? a.wt.branch : "");
  return EXIT_OK;
}

static int rm_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  bool push = !args_has(args, OPT_NO_PUSH), force = args_has(args, 'f');
  int ret = EXIT_OK;
  for (int i = 0; i < args->argc; i++)
    if (rm_one(ctx, args->argv[i], push, force) != EXIT_OK)
      ret = EXIT_FAIL;
  return ret;
}

const struct adr_cmd_entry cmd_rm_entry = {
  .name = "rm",
  .summary = "remove a persistent agent, never losing its work",
  .usage = "adr rm [--no-push] [--force] NAME...",
  .help = rm_help,
  .options = rm_options,
  .shortopts = "hf",
  .complete = "names",
  .flags = CMD_SOME_AGENTS,
  .exec = rm_exec,
};
