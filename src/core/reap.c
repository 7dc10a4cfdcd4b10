/* The reaper (reap.h): what adr processes that were killed left behind. */
#include "reap.h"
#include "agent.h"
#include "buf.h"
#include "egress.h"
#include "idmap.h"
#include "layout.h"
#include "log.h"
#include "runspec.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A gateway or network outlives its sandbox only when an adr died between
 * making them and making the sandbox, or between removing the two: reap
 * those a minute old (younger ones may belong to a start under way). */
#define REAP_GRACE_S 60
/* Host state no sandbox names: two minutes old (a younger one may belong
 * to an adr that is creating its sandbox right now). */
#define HOST_STATE_GRACE_S 120

/* Host-side state (idmapped mounts, identity files) of sandboxes that were
 * never created because adr was killed first: directories under
 * STATE/mnt and STATE/run that no sandbox's labels name. */
static void reap_host_state(struct adr_engine *e)
{
  /* the old enough directories first (local and cheap); the engine is
   * asked only when there is one, so that adr run pays nothing normally */
  static const enum adr_state_area areas[] = { ADR_STATE_IDMAP, ADR_STATE_IDENTITY };
  struct strv cand[2] = { { 0 }, { 0 } };
  time_t now = time(NULL);
  for (size_t k = 0; k < 2; k++) {
    cleanup_free char *dir = adr_layout_area(areas[k]);
    DIR *d = opendir(dir);
    if (!d)
      continue;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.')
        continue;
      cleanup_free char *p = adr_layout_state_path(areas[k], de->d_name);
      struct stat st;
      if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
        continue;
      bool due = now - st.st_mtime >= HOST_STATE_GRACE_S;
      if (!due && areas[k] == ADR_STATE_IDMAP) { /* a teardown cut short marked its mounts: no grace */
        cleanup_free char *torn = xasprintf("%s/" ADR_IDMAP_TORN, p);
        due = access(torn, F_OK) == 0;
      }
      if (due)
        strv_push(&cand[k], p);
    }
    closedir(d);
  }
  if (cand[0].n + cand[1].n > 0) {
    cleanup_strv struct strv f = { 0 };
    adr_layout_filter_managed(&f);
    struct adr_container *v = NULL;
    size_t n = 0;
    cleanup_err adr_err err = NULL;
    if (adr_engine_container_list(e, &f, true, &v, &n, &err) == 0) {
      for (size_t k = 0; k < 2; k++)
        for (size_t c = 0; c < cand[k].n; c++) {
          const char *p = cand[k].v[c];
          bool used = false;
          for (size_t i = 0; i < n && !used; i++)
            used = streq(adr_labels_get(&v[i].labels, k == 0 ? ADR_LABEL_IDMAP : ADR_LABEL_IDENTITY), p);
          if (used)
            continue;
          struct adr_teardown t = { .idmap_dir = k == 0 ? p : NULL, .identity_dir = k == 1 ? p : NULL };
          adr_teardown(e, &t, NULL, NULL);
          adr_debug("removed %s, left by an adr killed before its sandbox existed", p);
        }
      adr_containers_free(v, n);
    }
  }
  strv_free(&cand[0]);
  strv_free(&cand[1]);
}

/* A STATE/egress/NAME/policy (or relay: open mode has no policy; or the
 * services marker: none mode has neither) whose sandbox NAME is not in v;
 * with max_age >= 0 only one older than that. */
static bool egress_leftover(const char *name, const struct adr_container *v, size_t n, long max_age)
{
  if (name[0] == '.' || adr_container_listed(v, n, name))
    return false;
  static const char *const files[] = { "policy", "relay", ADR_SERVICES_MARKER };
  for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
    cleanup_free char *p = adr_layout_egress_file(name, files[i]);
    struct stat st;
    if (stat(p, &st) == 0)
      return max_age < 0 || time(NULL) - st.st_mtime > max_age;
  }
  return false;
}

static bool any_egress_leftover(const struct adr_container *v, size_t n)
{
  cleanup_free char *dir = adr_layout_area(ADR_STATE_EGRESS);
  DIR *d = opendir(dir);
  if (!d)
    return false;
  bool found = false;
  struct dirent *de;
  while (!found && (de = readdir(d)) != NULL)
    found = egress_leftover(de->d_name, v, n, -1);
  closedir(d);
  return found;
}

/* After the networks are reaped: the policy files of sandboxes that are
 * gone and have no network left (the decision log stays). */
static void egress_forget(const struct adr_container *v, size_t n, const struct adr_network *nv, size_t nn)
{
  cleanup_free char *dir = adr_layout_area(ADR_STATE_EGRESS);
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    bool net = false;
    for (size_t i = 0; i < nn; i++)
      net = net || (nv[i].id && streq(adr_labels_get(&nv[i].labels, ADR_LABEL_FOR), de->d_name));
    /* a minute old: a younger one may belong to a start making its network */
    if (!net && egress_leftover(de->d_name, v, n, REAP_GRACE_S)) {
      cleanup_free char *sub = adr_layout_state_path(ADR_STATE_EGRESS, de->d_name);
      cleanup_free char *marker = adr_layout_services_marker(de->d_name);
      unlink(marker);
      adr_egress_down_files(sub);
    }
  }
  closedir(d);
}

/* A dead adr's gateway: SIGTERM first, it logs its open connections; the
 * relay's keys go with it. */
static int reap_gateway(struct adr_engine *e, const struct adr_container *c, const char *for_)
{
  cleanup_err adr_err err = NULL;
  adr_engine_container_stop(e, c->id, 2, &err);
  if (adr_engine_container_remove(e, c->id, true, &err) < 0)
    return -1;
  if (adr_agent_name_valid(for_)) {
    static const char *const gone[] = { "relay", "ca.pem" };
    for (size_t k = 0; k < ARRAY_SIZE(gone); k++) {
      cleanup_free char *p = adr_layout_egress_file(for_, gone[k]);
      unlink(p);
    }
  }
  return 0;
}

/* Networks whose sandbox and gateway are both gone; the engine is asked
 * only when a sandbox's egress policy outlived it (it is written before
 * the network is made, removed after), so a normal run pays nothing. */
static void reap_networks(struct adr_engine *e, const struct strv *f, const struct adr_container *v, size_t n,
                          const char *boot)
{
  struct adr_network *nv = NULL;
  size_t nn = 0;
  cleanup_err adr_err err = NULL;
  time_t now = time(NULL);
  if (!any_egress_leftover(v, n) || adr_engine_network_list(e, f, &nv, &nn, &err) < 0)
    return;
  for (size_t i = 0; i < nn; i++) {
    const char *for_ = adr_labels_get(&nv[i].labels, ADR_LABEL_FOR);
    if (!for_ || adr_labels_get(&nv[i].labels, ADR_LABEL_POOL) ||
        (adr_layout_owner_alive(&nv[i].labels, boot) && now - nv[i].created <= REAP_GRACE_S))
      continue;
    if (adr_container_listed(v, n, for_))
      continue;
    cleanup_err adr_err e2 = NULL;
    /* its gateway, by id from the same listing and only if it serves
     * that sandbox: a name may be new again by now */
    for (size_t j = 0; j < n; j++) {
      const char *gf = v[j].id ? adr_labels_get(&v[j].labels, ADR_LABEL_FOR) : NULL;
      if (gf && streq(gf, for_))
        adr_engine_container_remove(e, v[j].id, true, &e2);
    }
    if (adr_engine_network_remove(e, nv[i].id, &e2) == 0) {
      adr_debug("reaped network %s left by a dead adr", nv[i].name);
      const char *kind = adr_labels_get(&nv[i].labels, ADR_LABEL_KIND);
      if (kind && streq(kind, "services-network") && adr_agent_name_valid(for_)) {
        cleanup_free char *marker = adr_layout_services_marker(for_);
        unlink(marker); /* it named this network only */
      }
      free(nv[i].id);
      nv[i].id = NULL;
    }
  }
  egress_forget(v, n, nv, nn);
  adr_networks_free(nv, nn);
}

void adr_reap(struct adr_engine *e)
{
  if (e == NULL)
    return;
  cleanup_strv struct strv f = { 0 };
  adr_layout_filter_managed(&f);
  struct adr_container *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  time_t now = time(NULL);
  if (adr_engine_container_list(e, &f, true, &v, &n, &err) == 0) {
    cleanup_free char *boot = adr_layout_boot_id();
    for (size_t i = 0; i < n; i++) {
      const char *for_ = adr_labels_get(&v[i].labels, ADR_LABEL_FOR);
      if (adr_labels_get(&v[i].labels, ADR_LABEL_POOL))
        continue; /* the pool's: adr_egress_pool_reap, by their locks */
      bool orphan = for_ && !adr_container_listed(v, n, for_) && now - v[i].created > REAP_GRACE_S;
      if (!orphan && adr_layout_owner_alive(&v[i].labels, boot))
        continue;
      if (for_) {
        if (reap_gateway(e, &v[i], for_) < 0)
          continue;
      } else {
        /* a sandbox: its idmapped mounts and identity files after it */
        cleanup_err adr_err e2 = NULL;
        struct adr_teardown t = { .id = v[i].id, .labels = &v[i].labels, .strict = true };
        if (adr_teardown(e, &t, NULL, &e2) < 0)
          continue;
      }
      adr_debug("reaped %s left by a dead adr", v[i].name);
      free(v[i].id);
      v[i].id = NULL;
    }
    adr_egress_pool_reap(e, v, n, boot);
    reap_networks(e, &f, v, n, boot);
  }
  adr_containers_free(v, n);
  reap_host_state(e);
}

/* What a start made before its sandbox: idmapped mounts, identity files,
 * the egress gateway and network (named as the launch names them). */
static void reap_start_state(struct adr_engine *e, const struct adr_repo *repo, const char *name)
{
  cleanup_free char *cname = adr_layout_agent_sandbox(name, repo->top);
  cleanup_free char *mnt = adr_layout_state_path(ADR_STATE_IDMAP, cname);
  cleanup_free char *run = adr_layout_state_path(ADR_STATE_IDENTITY, cname);
  struct adr_teardown t = {
    .sandbox = cname,
    .idmap_dir = mnt,
    .identity_dir = run,
    .egress = true,
    .forget_log = true,
  };
  adr_teardown(e, &t, NULL, NULL);
}

/* One start marker .NAME.starting in dir: true when its start is dealt
 * with and the marker is to go; false while the start is under way, or
 * its worktree holds work (said), or adr cannot tell. */
static bool reap_start(struct adr_engine *e, const struct adr_repo *repo, const char *dir, const char *name,
                       const char *marker, const struct adr_events *ev)
{
  cleanup_buf struct buf b;
  buf_init(&b, 64);
  if (buf_read_file(&b, marker) < 0)
    return false;
  long pid = strtol(adr_git_trim(&b), NULL, 10);
  if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
    return false; /* that start is still under way */
  cleanup_free char *path = adr_layout_worktree(dir, name);
  struct stat st;
  if (stat(path, &st) < 0)
    return true;
  /* a sandbox that points at it means the start got that far */
  cleanup_strv struct strv f = { 0 };
  adr_layout_filter_worktree(path, &f);
  struct adr_container *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  int r = adr_engine_container_list(e, &f, true, &v, &n, &err);
  adr_containers_free(v, n);
  if (r < 0 || n > 0)
    return r == 0;
  reap_start_state(e, repo, name);
  struct adr_worktree wt = { .path = path };
  cleanup_buf struct buf gd;
  buf_init(&gd, 4096);
  cleanup_free char *dotgit = xasprintf("%s/.git", path);
  if (buf_read_file(&gd, dotgit) == 0 && str_has_prefix(adr_git_trim(&gd), "gitdir: "))
    wt.gitdir = gd.data + 8;
  cleanup_buf struct buf br;
  buf_init(&br, 4096);
  if (!wt.gitdir || adr_git_wt(repo, wt.gitdir, path, true, &br, &err, "symbolic-ref", "--short", "HEAD", NULL) < 0)
    return false;
  wt.branch = adr_git_trim(&br);
  struct adr_worktree_state ws = { 0 };
  struct adr_teardown t = { .repo = repo, .wt = &wt, .delete_branch = true, .strict = true };
  bool gone = adr_worktree_state(repo, &wt, &ws, &err) == 0 && ws.unmerged == 0 && ws.changes.n == 0 &&
              adr_teardown(e, &t, NULL, &err) == 0;
  adr_worktree_state_free(&ws);
  if (gone)
    adr_debug("removed the worktree of an interrupted start: %s", path);
  else
    adr_emit(ev, ADR_EVENT_WARNING, "an interrupted 'adr start' left %s (branch %s); it holds work, so it stays", path,
             wt.branch);
  return gone;
}

void adr_reap_starts(struct adr_engine *e, const struct adr_repo *repo, const struct adr_events *ev)
{
  cleanup_free char *dir0 = adr_layout_worktrees_dir(repo->top);
  /* resolved, as the worktree paths in the labels are */
  cleanup_free char *dir = realpath(dir0, NULL);
  if (!dir)
    return;
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    cleanup_free char *name = adr_layout_start_marker_name(de->d_name);
    if (!name)
      continue;
    cleanup_free char *marker = adr_layout_start_marker(dir, name);
    if (reap_start(e, repo, dir, name, marker, ev))
      unlink(marker);
  }
  closedir(d);
}
