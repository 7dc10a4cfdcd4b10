/* Shared by the persistent-agent commands (start, ls, attach, logs, exec,
 * stop, rm, diff, merge): finding an agent by name in the current
 * repository, and what its labels say.  Everything about an agent lives in
 * its sandbox's labels, so nothing goes stale when adr is killed. */
#include "cmd.h"
#include "egress.h"
#include "paths.h"

#include "idmap.h"
#include "log.h"
#include "runspec.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void pagent_free(struct pagent *a)
{
  adr_container_free(&a->c);
  adr_repo_free(&a->repo);
  memset(a, 0, sizeof(*a));
}

static void pagent_fill(struct pagent *a)
{
  const struct strv *l = &a->c.labels;
  a->name = adr_labels_get(l, ADR_LABEL_NAME);
  a->agent = adr_labels_get(l, ADR_LABEL_AGENT);
  a->scope = adr_labels_get(l, ADR_LABEL_SCOPE);
  a->wt.branch = (char *)adr_labels_get(l, ADR_LABEL_BRANCH);
  a->wt.path = (char *)adr_labels_get(l, ADR_LABEL_WORKTREE);
  a->wt.gitdir = (char *)adr_labels_get(l, ADR_LABEL_GITDIR);
  a->wt.base = (char *)adr_labels_get(l, ADR_LABEL_BASE);
  a->has_worktree = a->wt.branch && a->wt.path && a->wt.gitdir;
  a->workspace = adr_labels_get(l, ADR_LABEL_WORKSPACE);
}

int pagent_scope(struct adr_ctx *ctx, struct adr_repo *repo, char **scope, adr_err *err)
{
  const char *cwd = ctx->cwd ? ctx->cwd : ".";
  int r = adr_repo_find(cwd, repo, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    *scope = xstrdup(repo->top);
    return 0;
  }
  char *real = realpath(cwd, NULL);
  if (!real)
    return adr_err_sys(err, errno, "current directory");
  *scope = real;
  return 1;
}

char *pagent_key(const char *scope)
{
  /* FNV-1a, 32 bits: short and stable, enough to tell repositories apart
   * in sandbox names (labels carry the full path) */
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)scope; *p; p++)
    h = (h ^ *p) * 16777619u;
  return xasprintf("%08x", h);
}

int pagent_list(struct adr_ctx *ctx, const char *scope, struct pagent **out, size_t *n, adr_err *err)
{
  *out = NULL;
  *n = 0;
  struct strv f = { 0 };
  strv_push(&f, ADR_LABEL_MANAGED);
  strv_push(&f, ADR_LABEL_KIND "=agent");
  if (scope)
    strv_pushf(&f, ADR_LABEL_SCOPE "=%s", scope);
  struct adr_container *v = NULL;
  size_t m = 0;
  int r = adr_engine_container_list(ctx->engine, &f, true, &v, &m, err);
  strv_free(&f);
  if (r < 0)
    return -1;
  struct pagent *a = xcalloc(m ? m : 1, sizeof(*a));
  for (size_t i = 0; i < m; i++) {
    a[i].c = v[i];
    pagent_fill(&a[i]);
  }
  free(v); /* the elements moved into a */
  *out = a;
  *n = m;
  return 0;
}

void pagents_free(struct pagent *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    pagent_free(&v[i]);
  free(v);
}

int pagent_find(struct adr_ctx *ctx, const char *name, struct pagent *out, adr_err *err)
{
  memset(out, 0, sizeof(*out));
  cleanup_free char *scope = NULL;
  int r = pagent_scope(ctx, &out->repo, &scope, err);
  if (r < 0)
    return -1;
  out->in_repo = r == 0;
  if (ctx_engine(ctx, err) < 0)
    return -1;
  struct pagent *v;
  size_t n;
  if (pagent_list(ctx, scope, &v, &n, err) < 0)
    return -1;
  int found = 1;
  for (size_t i = 0; i < n; i++) {
    if (streq(v[i].name, name) && found) {
      out->c = v[i].c;
      memset(&v[i].c, 0, sizeof(v[i].c));
      pagent_fill(out);
      found = 0;
    }
  }
  pagents_free(v, n);
  if (found) {
    adr_err_set(err, ENOENT, "no agent named '%s' in %s (see 'adr ls')", name, scope);
    adr_repo_free(&out->repo);
    return 1;
  }
  return 0;
}

bool pagent_running(const struct pagent *a) { return streq(a->c.state, "running"); }

/* A start that was killed between making the worktree and making the
 * sandbox leaves a worktree no sandbox points at, and its marker
 * ".NAME.starting" holding a dead pid.  Such a worktree goes away when it
 * holds nothing of value (it cannot: the agent never ran), else it stays
 * and adr says so. */
void pagent_reap_starts(struct adr_ctx *ctx, const struct adr_repo *repo)
{
  cleanup_free char *state = adr_state_dir();
  cleanup_free char *key = pagent_key(repo->top);
  cleanup_free char *dir0 = xasprintf("%s/worktrees/%s", state, key);
  /* resolved, as the worktree paths in the labels are */
  cleanup_free char *dir = realpath(dir0, NULL);
  if (!dir)
    return;
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] != '.' || l < 11 || !streq(de->d_name + l - 9, ".starting"))
      continue;
    cleanup_free char *marker = xasprintf("%s/%s", dir, de->d_name);
    cleanup_free char *name = xstrndup(de->d_name + 1, l - 10);
    cleanup_buf struct buf b;
    buf_init(&b, 64);
    if (buf_read_file(&b, marker) < 0)
      continue;
    long pid = strtol(adr_git_trim(&b), NULL, 10);
    if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
      continue; /* that start is still under way */
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) < 0) {
      unlink(marker);
      continue;
    }
    /* a sandbox that points at it means the start got that far */
    struct strv f = { 0 };
    strv_pushf(&f, ADR_LABEL_WORKTREE "=%s", path);
    struct adr_container *v = NULL;
    size_t n = 0;
    cleanup_err adr_err err = NULL;
    int r = adr_engine_container_list(ctx->engine, &f, true, &v, &n, &err);
    strv_free(&f);
    adr_containers_free(v, n);
    if (r < 0 || n > 0) {
      if (r == 0)
        unlink(marker);
      continue;
    }
    { /* what the start made before its sandbox: idmapped mounts, identity
       * files, the egress gateway and network (named as run.c names them) */
      cleanup_free char *cname = xasprintf("adr-%s-%s", name, key);
      cleanup_free char *mnt = xasprintf("%s/mnt/%s", state, cname);
      cleanup_free char *run = xasprintf("%s/run/%s", state, cname);
      cleanup_free char *egd = xasprintf("%s/egress/%s", state, cname);
      cleanup_free char *elog = adr_egress_log_path(egd);
      cleanup_err adr_err e2 = NULL;
      adr_idmap_umount_dir(mnt, &e2);
      adr_err_free(&e2);
      adr_identity_remove(run, &e2);
      adr_err_free(&e2);
      adr_egress_down(ctx->engine, cname, egd, &e2);
      unlink(elog);
      rmdir(egd);
    }
    struct adr_worktree wt = { .path = path };
    cleanup_buf struct buf gd;
    buf_init(&gd, 4096);
    cleanup_free char *dotgit = xasprintf("%s/.git", path);
    if (buf_read_file(&gd, dotgit) == 0 && str_has_prefix(adr_git_trim(&gd), "gitdir: "))
      wt.gitdir = gd.data + 8;
    cleanup_buf struct buf br;
    buf_init(&br, 4096);
    if (!wt.gitdir || adr_git_wt(repo, wt.gitdir, path, true, &br, &err, "symbolic-ref", "--short", "HEAD", NULL) < 0)
      continue;
    wt.branch = adr_git_trim(&br);
    struct adr_worktree_state ws;
    if (adr_worktree_state(repo, &wt, &ws, &err) == 0 && ws.unmerged == 0 && ws.changes.n == 0 &&
        adr_worktree_remove(repo, &wt, true, &err) == 0) {
      adr_debug("removed the worktree of an interrupted start: %s", path);
      unlink(marker);
    } else {
      warnf("an interrupted 'adr start' left %s (branch %s); it holds work, so it stays", path, wt.branch);
    }
    adr_worktree_state_free(&ws);
  }
  closedir(d);
}

/* Undo the host-side mounts and files of a sandbox, only below our state dir. */
void pagent_remove_host_state(const struct pagent *a)
{
  cleanup_free char *state = adr_state_dir();
  cleanup_free char *mnt = xasprintf("%s/mnt/", state), *run = xasprintf("%s/run/", state);
  cleanup_err adr_err e = NULL;
  const char *idm = adr_labels_get(&a->c.labels, ADR_LABEL_IDMAP);
  if (idm && str_has_prefix(idm, mnt) && !strstr(idm, "/../") && adr_idmap_umount_dir(idm, &e) < 0)
    warnf("%s", e->msg);
  const char *ident = adr_labels_get(&a->c.labels, ADR_LABEL_IDENTITY);
  if (ident && str_has_prefix(ident, run) && !strstr(ident, "/../") && adr_identity_remove(ident, &e) < 0)
    warnf("%s", e->msg);
}


/* The sandbox's egress gateway and network, after the sandbox (stop=true:
 * only stop the gateway, for a stopped agent).  The decision log goes with
 * a removed agent. */
void pagent_egress(struct adr_ctx *ctx, const struct pagent *a, bool stop)
{
  const char *name = a->c.name && a->c.name[0] == '/' ? a->c.name + 1 : a->c.name;
  if (!name || !adr_labels_get(&a->c.labels, ADR_LABEL_NETMODE))
    return;
  cleanup_err adr_err e = NULL;
  cleanup_free char *gw = xasprintf("%s-gw", name);
  if (stop) {
    adr_engine_container_stop(ctx->engine, gw, 2, &e);
    return;
  }
  cleanup_free char *state = adr_state_dir();
  cleanup_free char *dir = xasprintf("%s/egress/%s", state, name);
  cleanup_free char *log = adr_egress_log_path(dir);
  if (adr_egress_down(ctx->engine, name, dir, &e) < 0)
    warnf("%s", e->msg);
  unlink(log);
  rmdir(dir);
}

int one_agent(struct adr_ctx *ctx, const struct adr_cmd *self, int argc, char **argv, struct pagent *a)
{
  int bad = one_agent_arg(self, argc, argv);
  if (bad)
    return bad;
  cleanup_err adr_err err = NULL;
  if (pagent_find(ctx, argv[optind], a, &err) != 0)
    return report(&err);
  return 0;
}

int one_agent_arg(const struct adr_cmd *self, int argc, char **argv)
{
  if (optind >= argc)
    return usage_error(self, "which agent? (see 'adr ls')");
  if (optind + 1 < argc)
    return usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
  return 0;
}
