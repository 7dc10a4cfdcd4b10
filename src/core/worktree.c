#include "worktree.h"
#include "buf.h"
#include "paths.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void adr_worktree_free(struct adr_worktree *w)
{
  free(w->path);
  free(w->gitdir);
  free(w->branch);
  free(w->base);
  memset(w, 0, sizeof(*w));
}

void adr_worktree_state_free(struct adr_worktree_state *s)
{
  strv_free(&s->changes);
  memset(s, 0, sizeof(*s));
}

bool adr_branch_name_valid(const char *b)
{
  size_t n = strlen(b);
  if (n == 0 || n > 200 || b[0] == '-' || b[0] == '/' || b[n - 1] == '/' || b[n - 1] == '.' || strstr(b, "..") ||
      strstr(b, "//") || strstr(b, "@{") || streq(b, "@") || (n >= 5 && streq(b + n - 5, ".lock")) || strstr(b, "/."))
    return false;
  if (b[0] == '.')
    return false;
  for (const char *p = b; *p; p++)
    if ((unsigned char)*p < 0x21 || *p == 0x7f || strchr("~^:?*[\\", *p))
      return false;
  return true;
}

/* The per-worktree git dir named by path/.git ("gitdir: X"). */
static char *read_gitdir(const char *path, adr_err *err)
{
  cleanup_free char *f = xasprintf("%s/.git", path);
  cleanup_buf struct buf b;
  buf_init(&b, 4096);
  if (buf_read_file(&b, f) < 0) {
    adr_err_sys(err, errno, "read '%s'", f);
    return NULL;
  }
  char *s = adr_git_trim(&b);
  if (!str_has_prefix(s, "gitdir: ")) {
    adr_err_set(err, EINVAL, "'%s' is not a worktree link", f);
    return NULL;
  }
  return xstrdup(s + 8);
}

static int mkdirs_in(const char *base, const char *rel, adr_err *err)
{
  cleanup_free char *p = xasprintf("%s/%s", base, rel);
  return adr_mkdir_p(p, 0755, err);
}

/* Writable in the sandbox: refs and reflogs of the branch's directory;
 * config.worktree exists (empty) so that it can be mounted read-only. */
static int prepare(const struct adr_repo *r, const struct adr_worktree *w, const char *branch, adr_err *err)
{
  const char *slash = strrchr(branch, '/');
  cleanup_free char *bdir = slash ? xstrndup(branch, (size_t)(slash - branch)) : xstrdup("");
  cleanup_free char *refs = xasprintf("refs/heads%s%s", *bdir ? "/" : "", bdir);
  cleanup_free char *logs = xasprintf("logs/refs/heads%s%s", *bdir ? "/" : "", bdir);
  cleanup_free char *cw = xasprintf("%s/config.worktree", w->gitdir);
  if (mkdirs_in(r->common_dir, refs, err) < 0 || mkdirs_in(r->common_dir, logs, err) < 0)
    return -1;
  if (write_file_atomic(cw, "", 0, 0644) < 0)
    return adr_err_sys(err, errno, "create '%s'", cw);
  return 0;
}

int adr_worktree_add(const struct adr_repo *r, const char *path, const char *branch, struct adr_worktree *w,
                     adr_err *err)
{
  memset(w, 0, sizeof(*w));
  if (!adr_branch_name_valid(branch))
    return adr_err_set(err, EINVAL, "invalid branch name '%s'", branch);
  cleanup_free char *ref = xasprintf("refs/heads/%s", branch);
  if (adr_git_repo(r, false, NULL, err, "show-ref", "--verify", "--quiet", ref, NULL) == 0)
    return adr_err_set(err, EEXIST, "branch '%s' already exists", branch);
  struct stat st;
  if (lstat(path, &st) == 0)
    return adr_err_set(err, EEXIST, "worktree '%s' already exists", path);
  cleanup_free char *parent = xstrdup(path);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent) {
    *slash = '\0';
    if (adr_mkdir_p(parent, 0700, err) < 0)
      return -1;
  }
  cleanup_buf struct buf head;
  buf_init(&head, 4096);
  if (adr_git_repo(r, true, &head, err, "rev-parse", "--verify", "HEAD^{commit}", NULL) < 0)
    return adr_err_prefix(err, "the repository has no commit to start from");
  w->base = xstrdup(adr_git_trim(&head));
  if (adr_git_repo(r, true, NULL, err, "-c", "core.hooksPath=/dev/null", "worktree", "add", "--quiet", "-b", branch,
                   path, w->base, NULL) < 0) {
    adr_worktree_free(w);
    return -1;
  }
  w->path = xstrdup(path);
  w->branch = xstrdup(branch);
  char *gd = read_gitdir(path, err);
  if (gd == NULL)
    goto undo;
  w->gitdir = realpath(gd, NULL);
  free(gd);
  if (w->gitdir == NULL) {
    adr_err_sys(err, errno, "worktree git dir of '%s'", path);
    goto undo;
  }
  if (prepare(r, w, branch, err) < 0)
    goto undo;
  return 0;
undo : {
  cleanup_err adr_err e2 = NULL;
  adr_git_repo(r, false, NULL, &e2, "worktree", "remove", "--force", path, NULL);
  adr_git_repo(r, false, NULL, &e2, "branch", "-D", branch, NULL);
  adr_worktree_free(w);
  return -1;
}
}

static int bind(struct adr_spec *s, const char *path, bool ro, adr_err *err)
{
  struct stat st;
  if (stat(path, &st) < 0)
    return adr_err_sys(err, errno, "'%s'", path);
  adr_spec_add_bind(s, path, path, ro);
  return 0;
}

int adr_worktree_mounts(const struct adr_repo *r, const struct adr_worktree *w, struct adr_spec *s, adr_err *err)
{
  const char *slash = strrchr(w->branch, '/');
  cleanup_free char *bdir = slash ? xstrndup(w->branch, (size_t)(slash - w->branch)) : xstrdup("");
  cleanup_free char *objects = xasprintf("%s/objects", r->common_dir);
  cleanup_free char *refs = xasprintf("%s/refs/heads%s%s", r->common_dir, *bdir ? "/" : "", bdir);
  cleanup_free char *logs = xasprintf("%s/logs/refs/heads%s%s", r->common_dir, *bdir ? "/" : "", bdir);
  cleanup_free char *commondir = xasprintf("%s/commondir", w->gitdir);
  cleanup_free char *gitdir = xasprintf("%s/gitdir", w->gitdir);
  cleanup_free char *cw = xasprintf("%s/config.worktree", w->gitdir);
  if (bind(s, r->common_dir, true, err) < 0 || bind(s, objects, false, err) < 0 || bind(s, refs, false, err) < 0 ||
      bind(s, logs, false, err) < 0 || bind(s, w->gitdir, false, err) < 0 || bind(s, commondir, true, err) < 0 ||
      bind(s, gitdir, true, err) < 0 || bind(s, cw, true, err) < 0)
    return adr_err_prefix(err, "git mounts");
  return 0;
}

int adr_worktree_state(const struct adr_repo *r, const struct adr_worktree *w, struct adr_worktree_state *st,
                       adr_err *err)
{
  memset(st, 0, sizeof(*st));
  cleanup_free char *ref = xasprintf("refs/heads/%s", w->branch);
  cleanup_buf struct buf out;
  buf_init(&out, 0);
  /* the tips that may hold the agent's commits: its branch and its
   * worktree's HEAD (it may have committed on a detached HEAD or moved
   * its branch) */
  struct strv tips = { 0 };
  if (adr_git_repo(r, false, NULL, err, "show-ref", "--verify", "--quiet", ref, NULL) == 0)
    strv_push(&tips, ref);
  struct stat sb;
  st->missing = stat(w->path, &sb) < 0 || stat(w->gitdir, &sb) < 0;
  if (!st->missing &&
      adr_git_wt(r, w->gitdir, w->path, false, &out, err, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", NULL) ==
        0 &&
      *adr_git_trim(&out))
    strv_push(&tips, out.data);
  adr_err_free(err);
  if (tips.n) {
    /* commits only these tips (or other agents' branches) have */
    struct strv a = { 0 };
    const char *pre[] = { "rev-list", "--count" };
    for (size_t i = 0; i < 2; i++)
      strv_push(&a, pre[i]);
    for (size_t i = 0; i < tips.n; i++)
      strv_push(&a, tips.v[i]);
    const char *post[] = { "--not", "--exclude=adr/*", "--branches", "--remotes" };
    for (size_t i = 0; i < 4; i++)
      strv_push(&a, post[i]);
    buf_reset(&out);
    int rc = adr_git_repov(r, true, &out, err, (const char *const *)a.v);
    strv_free(&a);
    strv_free(&tips);
    if (rc < 0)
      return -1;
    st->unmerged = (unsigned)strtoul(adr_git_trim(&out), NULL, 10);
  }
  if (st->missing)
    return 0;
  buf_reset(&out);
  /* submodules only by their recorded commit: looking inside one would
   * read configuration the agent wrote (filters run programs) */
  if (adr_git_wt(r, w->gitdir, w->path, true, &out, err, "status", "--porcelain=v1", "--untracked-files=all",
                 "--ignore-submodules=dirty", NULL) < 0)
    return -1;
  if (out.data) {
    char *save = NULL;
    for (char *l = strtok_r(out.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
      strv_push(&st->changes, l);
  }
  /* a checked-out submodule may hold work adr does not inspect */
  buf_reset(&out);
  if (adr_git_wt(r, w->gitdir, w->path, true, &out, err, "ls-files", "--stage", "-z", NULL) < 0)
    return -1;
  for (size_t off = 0; out.data && off < out.len;) {
    const char *e = out.data + off;
    off += strlen(e) + 1;
    const char *tab = strchr(e, '\t');
    if (!str_has_prefix(e, "160000 ") || !tab)
      continue;
    cleanup_free char *sub = xasprintf("%s/%s/.git", w->path, tab + 1);
    if (lstat(sub, &sb) == 0) {
      cleanup_free char *line = xasprintf("?? %s (a checked-out submodule: not inspected)", tab + 1);
      strv_push(&st->changes, line);
    }
  }
  return 0;
}

static int unlock_dir(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)ftw;
  if (flag == FTW_D || flag == FTW_DNR)
    chmod(p, (st->st_mode & 07777) | S_IRWXU);
  return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  if ((flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT)
    return -1;
  return 0;
}

/* rm -rf of a tree the agent wrote (no symlink followed, unreadable
 * directories made readable first). */
static int rm_tree(const char *path, adr_err *err)
{
  nftw(path, unlock_dir, 32, FTW_PHYS);
  if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
    return adr_err_sys(err, errno, "remove '%s'", path);
  return 0;
}

int adr_worktree_remove(const struct adr_repo *r, const struct adr_worktree *w, bool delete_branch, adr_err *err)
{
  struct stat sb;
  if (lstat(w->path, &sb) == 0) {
    /* git refuses a worktree whose .git file the agent rewrote: put back
     * what git wrote, and if git still refuses, remove the tree ourselves
     * (it is adr's, under adr's state directory) and let git prune */
    cleanup_free char *dotgit = xasprintf("%s/.git", w->path);
    cleanup_free char *link = xasprintf("gitdir: %s\n", w->gitdir);
    struct stat ds;
    if (lstat(dotgit, &ds) == 0 && S_ISDIR(ds.st_mode))
      rm_tree(dotgit, err);
    write_file_atomic(dotgit, link, strlen(link), 0644);
    cleanup_err adr_err e1 = NULL;
    if (adr_git_repo(r, true, NULL, &e1, "worktree", "remove", "--force", "--force", w->path, NULL) < 0) {
      cleanup_free char *state0 = adr_state_dir();
      cleanup_free char *state = realpath(state0, NULL);
      cleanup_free char *mine = xasprintf("%s/worktrees/", state ? state : state0);
      if (!str_has_prefix(w->path, mine) || strstr(w->path, "/../")) {
        adr_err_move(err, &e1);
        return -1;
      }
      if (rm_tree(w->path, err) < 0)
        return -1;
    }
  }
  /* metadata of a worktree whose directory vanished: only this one's
   * (git worktree prune would also take the user's own worktrees that
   * are merely unmounted) */
  cleanup_err adr_err e2 = NULL;
  cleanup_free char *admin = xasprintf("%s/worktrees/", r->common_dir);
  struct stat gs;
  if (w->gitdir && str_has_prefix(w->gitdir, admin) && !strstr(w->gitdir, "/../") &&
      !strchr(w->gitdir + strlen(admin), '/') && lstat(w->gitdir, &gs) == 0 && rm_tree(w->gitdir, &e2) < 0)
    adr_err_free(&e2);
  if (delete_branch) {
    cleanup_free char *ref = xasprintf("refs/heads/%s", w->branch);
    if (adr_git_repo(r, false, NULL, &e2, "show-ref", "--verify", "--quiet", ref, NULL) == 0 &&
        adr_git_repo(r, true, NULL, err, "branch", "-D", w->branch, NULL) < 0)
      return -1;
  }
  return 0;
}
