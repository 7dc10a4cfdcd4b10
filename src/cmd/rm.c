/* adr rm: removes a persistent agent: its sandbox, worktree and branch.
 * Never loses work: commits no other branch or remote has, and uncommitted
 * changes, keep everything in place unless --force. */
#include "cmd.h"
#include "idmap.h"
#include "paths.h"
#include "runspec.h"

#include <errno.h>
#include <unistd.h>

enum { OPT_NO_PUSH = 256 };

const struct option rm_options[] = {
  { "no-push", no_argument, NULL, OPT_NO_PUSH },
  { "force", no_argument, NULL, 'f' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char rm_help[] =
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
    if (adr_git_repo(r, false, &b, &e, "config", "--get", key, NULL) == 0 && *adr_git_trim(&b) &&
        !streq(b.data, "."))
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
static bool nothing_to_lose(const char *name, const struct pagent *a, const struct adr_worktree_state *st,
                            bool stopped)
{
  if (st->unmerged == 0 && st->changes.n == 0)
    return true;
  fprintf(stderr, "adr: rm '%s': would lose", name);
  if (st->unmerged)
    fprintf(stderr, " %u commit%s on %s that no other branch or remote has", st->unmerged,
            st->unmerged == 1 ? "" : "s", a->wt.branch);
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
  hintf("review with 'adr diff %s', bring it home with 'adr merge %s', or remove anyway with 'adr rm --force %s'",
        name, name, name);
  return false;
}

static int rm_one(struct adr_ctx *ctx, const char *name, bool push, bool force)
{
  cleanup_err adr_err err = NULL;
  struct pagent a;
  if (pagent_find(ctx, name, &a, &err) != 0)
    return report(&err);
  int ret = EXIT_FAIL;
  struct adr_worktree_state st = { 0 };
  bool delete_branch = false, stopped = false;
  if (a.has_worktree && !a.in_repo) {
    errorf("rm '%s': run it inside the repository %s", name, a.scope);
    goto out;
  }
  /* 1. a first look, while it runs: refuse before touching anything */
  if (a.has_worktree && !force) {
    if (adr_worktree_state(&a.repo, &a.wt, &st, &err) < 0) {
      adr_err_prefix(&err, "rm '%s'", name);
      report(&err);
      hintf("'adr rm --force %s' removes it without looking", name);
      goto out;
    }
    if (!(push && st.unmerged > 0) && !nothing_to_lose(name, &a, &st, false))
      goto out;
    adr_worktree_state_free(&st);
  }
  /* 2. stopped, so that nothing changes between the last look and removal */
  if (pagent_running(&a)) {
    if (adr_engine_container_stop(ctx->engine, a.c.id, 10, &err) < 0) {
      adr_err_prefix(&err, "rm '%s': stop sandbox", name);
      report(&err);
      goto out;
    }
    stopped = true;
  }
  if (a.has_worktree) {
    if (adr_worktree_state(&a.repo, &a.wt, &st, &err) < 0) {
      if (!force) {
        adr_err_prefix(&err, "rm '%s'", name);
        report(&err);
        goto out;
      }
      warnf("rm '%s': cannot tell what its worktree holds (%s); removing it anyway (--force)", name, err->msg);
      adr_err_free(&err);
    }
    if (push && st.unmerged > 0) {
      cleanup_free char *remote = upstream_remote(&a.repo);
      if (remote) {
        cleanup_free char *spec = xasprintf("refs/heads/%s:refs/heads/%s", a.wt.branch, a.wt.branch);
        if (adr_git_repo(&a.repo, true, NULL, &err, "push", "--quiet", remote, spec, NULL) < 0) {
          adr_err_prefix(&err, "rm '%s': push %s to %s", name, a.wt.branch, remote);
          report(&err);
          hintf("'adr rm --no-push %s' skips the push", name);
          goto out;
        }
        printf("pushed %s to %s\n", a.wt.branch, remote);
        adr_worktree_state_free(&st);
        if (adr_worktree_state(&a.repo, &a.wt, &st, &err) < 0) {
          report(&err);
          goto out;
        }
      }
    }
    if (!force && !nothing_to_lose(name, &a, &st, stopped))
      goto out;
    delete_branch = force || st.unmerged == 0;
  }
  /* Order matters for a kill -9 half way: the sandbox, whose labels say
   * what to clean up, goes last; an agent whose worktree is gone shows as
   * broken in adr ls and the next adr rm finishes the job. */
  if (a.has_worktree) {
    if (adr_worktree_remove(&a.repo, &a.wt, delete_branch, &err) < 0) {
      adr_err_prefix(&err, "rm '%s': remove worktree", name);
      report(&err);
      goto out;
    }
    cleanup_free char *parent = xstrdup(a.wt.path);
    char *slash = strrchr(parent, '/');
    if (slash) {
      *slash = '\0';
      rmdir(parent); /* the repository's worktree dir, once empty */
    }
  }
  pagent_remove_host_state(&a);
  if (adr_engine_container_remove(ctx->engine, a.c.id, true, &err) < 0) {
    adr_err_prefix(&err, "rm '%s': remove sandbox", name);
    report(&err);
    goto out;
  }
  pagent_egress(ctx, &a, false);
  printf("removed '%s'%s%s%s\n", name, a.has_worktree ? " and its worktree" : "",
         a.has_worktree && delete_branch ? " and branch " : "", a.has_worktree && delete_branch ? a.wt.branch : "");
  ret = EXIT_OK;
out:
  adr_worktree_state_free(&st);
  pagent_free(&a);
  return ret;
}

int cmd_rm(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("rm");
  bool push = true, force = false;
  int c;
  while ((c = next_opt(self, argc, argv, "hf", NULL)) != -1) {
    switch (c) {
    case OPT_NO_PUSH: push = false; break;
    case 'f': force = true; break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (optind >= argc)
    return usage_error(self, "which agent? (see 'adr ls')");
  int ret = EXIT_OK;
  for (int i = optind; i < argc; i++)
    if (rm_one(ctx, argv[i], push, force) != EXIT_OK)
      ret = EXIT_FAIL;
  return ret;
}
