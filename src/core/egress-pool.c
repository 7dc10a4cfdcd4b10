/* The egress pool (egress.h): allowlist units made ahead of the runs that
 * claim them. */
#include "egress-int.h"
#include "buf.h"
#include "fs.h"
#include "layout.h"
#include "agent.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *pool_lock_path(const char *unit)
{
  cleanup_free char *dir = adr_layout_area(ADR_STATE_POOL);
  return xasprintf("%s/.%s.lock", dir, unit);
}

bool pool_is_unit_name(const char *s)
{
  if (!str_has_prefix(s, POOL_PREFIX))
    return false;
  s += strlen(POOL_PREFIX);
  size_t n = strspn(s, "0123456789abcdef");
  return n >= 8 && s[n] == '\0';
}

/* The lock, made exclusively: false when someone holds it. */
bool pool_lock_take(const char *unit, const char *holder)
{
  cleanup_free char *p = pool_lock_path(unit);
  int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  cleanup_free char *tok = adr_layout_owner_token();
  cleanup_free char *line = xasprintf("%s %s\n", tok, holder);
  bool ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line);
  close(fd);
  if (!ok)
    unlink(p);
  return ok;
}

bool adr_egress_pool_unit_name(const char *s) { return pool_is_unit_name(s); }

void adr_egress_pool_drop_holder(struct adr_engine *e, const char *unit)
{
  cleanup_free char *hold = xasprintf("%s" HOLD_SUFFIX, unit);
  cleanup_err adr_err e1 = NULL;
  adr_engine_container_remove(e, hold, true, &e1);
}

void adr_egress_pool_release(const char *unit)
{
  if (!unit || !pool_is_unit_name(unit))
    return;
  cleanup_free char *p = pool_lock_path(unit);
  unlink(p);
}

void adr_egress_pool_adopt(const char *unit, const char *sandbox)
{
  if (!unit || !pool_is_unit_name(unit))
    return;
  cleanup_free char *p = pool_lock_path(unit);
  cleanup_free char *tok = adr_layout_owner_token();
  cleanup_free char *line = xasprintf("%s %s\n", tok, sandbox);
  write_file_atomic(p, line, strlen(line), 0600);
}

/* What the gateway binary is: a unit made with another one (adr was
 * upgraded) is not handed out. */
char *pool_gateway_id(const char *bin)
{
  struct stat st;
  if (!bin || stat(bin, &st) < 0)
    return xstrdup("?");
  return xasprintf("%s:%lld:%lld", bin, (long long)st.st_size, (long long)st.st_mtime);
}

/* The unit's file, if it was made for r (same gateway, same subnets);
 * *addr: the gateway's address. */
static bool unit_matches(const char *dir, const struct adr_egress_req *r, const char *hostname, char **addr)
{
  cleanup_free char *p = xasprintf("%s/" UNIT_FILE, dir);
  cleanup_buf struct buf b;
  buf_init(&b, 256);
  if (buf_read_file(&b, p) < 0 || !b.data)
    return false;
  char *save = NULL;
  char *a = strtok_r(b.data, "\n", &save), *gid = strtok_r(NULL, "\n", &save), *pool = strtok_r(NULL, "\n", &save),
       *host = strtok_r(NULL, "\n", &save);
  cleanup_free char *want = pool_gateway_id(r->gateway_bin);
  if (!a || !gid || !pool || !host || !streq(gid, want) || !streq(pool, r->pool ? r->pool : "-") ||
      (hostname && !streq(host, hostname))) /* NULL: any (the sandbox sets its own) */
    return false;
  *addr = xstrdup(a);
  return true;
}

/* A unit that will not serve: removed (its lock, held by the caller,
 * last). */
void pool_unit_down(struct adr_engine *e, const char *unit)
{
  cleanup_err adr_err err = NULL;
  adr_egress_pool_down(e, unit, NULL, &err);
}

/* What only a free unit has in its dir: its record and the waiting file
 * (claim: the holder's own dir stays, for the engine to restart it). */
static void drop_free_marks(const char *dir, bool holder_too)
{
  static const char *const marks[] = { UNIT_FILE, GW_FILE_WAITING, HELD_FILE };
  for (size_t i = 0; i < ARRAY_SIZE(marks) - !holder_too; i++) {
    cleanup_free char *p = xasprintf("%s/%s", dir, marks[i]);
    unlink(p);
  }
  if (holder_too) {
    cleanup_free char *hdir = xasprintf("%s/" HOLD_DIR, dir);
    rmdir(hdir);
  }
}

/* The unit's dir stays where its containers' mounts name it (an engine
 * restarting one needs it there); the sandbox's egress dir is a symlink to
 * it while the unit lives.  Once the unit is down: the link becomes a dir
 * of its own with the decision log, and the unit's dir goes. */
static void settle_dirs(const char *unit, const char *sdir)
{
  cleanup_free char *pdir = adr_layout_area(ADR_STATE_POOL);
  cleanup_free char *udir = xasprintf("%s/%s", pdir, unit);
  struct stat st;
  if (sdir && lstat(sdir, &st) == 0 && S_ISLNK(st.st_mode)) {
    char target[PATH_MAX];
    ssize_t n = readlink(sdir, target, sizeof(target) - 1);
    bool ours = n > 0 && (target[n] = '\0', streq(target, udir));
    if (ours) {
      unlink(sdir);
      cleanup_free char *from = adr_egress_log_path(udir), *to = adr_egress_log_path(sdir);
      struct stat ls;
      if (stat(from, &ls) == 0 && mkdir(sdir, 0700) == 0)
        rename(from, to);
    }
  }
  pool_drop_files(udir);
}

/* dir NULL: the containers and the network only (the caller sees to the
 * files). */
int adr_egress_pool_down(struct adr_engine *e, const char *unit, const char *dir, adr_err *err)
{
  adr_egress_pool_drop_holder(e, unit); /* first: it is on the network */
  if (adr_engine_egress_down(e, unit, err) < 0)
    return adr_err_prefix(err, "egress pool unit '%s'", unit);
  if (dir)
    settle_dirs(unit, dir);
  return 0;
}

/* A unit's files in dir (the decision log of a claimed one stays). */
void pool_drop_files(const char *dir)
{
  if (dir) {
    drop_free_marks(dir, true);
    egress_remove_files(dir);
  }
}

void pool_discard(struct adr_engine *e, const char *unit, const char *dir)
{
  pool_unit_down(e, unit);
  pool_drop_files(dir);
  adr_egress_pool_release(unit);
  adr_debug("egress pool: removed unit %s", unit);
}

bool pool_running(struct adr_engine *e, const char *unit, const char *suffix)
{
  cleanup_free char *name = xasprintf("%s%s", unit, suffix);
  struct adr_container c = { 0 };
  cleanup_err adr_err err = NULL;
  int r = adr_engine_container_inspect(e, name, &c, &err);
  bool up = r == 0 && c.state && streq(c.state, "running");
  adr_container_free(&c);
  return up;
}

int pool_wait_file(struct adr_engine *e, const char *path, const char *unit, const char *suffix, int timeout_ms,
                   adr_err *err)
{
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (unsigned i = 0;; i++) {
    if (access(path, F_OK) == 0)
      return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    if ((i % 100 == 99 && !pool_running(e, unit, suffix)) || ms > timeout_ms)
      return adr_err_set(err, ETIMEDOUT, "'%s%s' %s", unit, suffix, ms > timeout_ms ? "took too long" : "exited");
    struct timespec d = { 0, 500 * 1000 };
    nanosleep(&d, NULL);
  }
}

static bool unit_running(struct adr_engine *e, const char *unit)
{
  return pool_running(e, unit, ADR_EGRESS_GW_SUFFIX) && pool_running(e, unit, HOLD_SUFFIX);
}

int adr_egress_pool_served(struct adr_engine *e, const char *unit, const char *dir, adr_err *err)
{
  cleanup_free char *ready = xasprintf("%s/" GW_FILE_READY, dir);
  if (pool_wait_file(e, ready, unit, ADR_EGRESS_GW_SUFFIX, CLAIM_READY_MS, err) < 0)
    return adr_err_prefix(err, "egress gateway did not take its claim");
  return 0;
}

/* The sandbox's egress dir (to) becomes a link to the unit's dir (from);
 * a log an earlier sandbox of that name left in to goes on in the unit's. */
static int link_dir(const char *from, const char *to, adr_err *err)
{
  cleanup_free char *parent = xstrdup(to);
  char *slash = strrchr(parent, '/');
  if (slash)
    *slash = '\0';
  if (adr_mkdir_p(parent, 0700, err) < 0)
    return -1;
  struct stat st;
  if (lstat(to, &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      unlink(to); /* a dead run's, whose unit is gone */
    } else {
      cleanup_free char *oldlog = adr_egress_log_path(to), *newlog = adr_egress_log_path(from);
      if (rename(oldlog, newlog) < 0 && errno != ENOENT)
        return adr_err_sys(err, errno, "rename '%s'", oldlog);
      adr_egress_down_files(to);
    }
  }
  if (symlink(from, to) < 0)
    return adr_err_sys(err, errno, "symlink '%s'", to);
  return 0;
}

/* The claim file: the gateway's options, NUL-separated. */
static int write_claim(const char *dir, const struct strv *args, adr_err *err)
{
  struct buf b;
  buf_init(&b, 64u << 10); /* the gateway reads at most that */
  for (size_t i = 0; i < args->n; i++)
    buf_append(&b, args->v[i], strlen(args->v[i]) + 1);
  cleanup_free char *p = xasprintf("%s/" GW_FILE_CLAIM, dir);
  int r = write_file_atomic(p, b.data, b.len, 0644);
  int saved = errno;
  buf_free(&b);
  return r < 0 ? adr_err_sys(err, saved, "write '%s'", p) : 0;
}

/* The claimed unit serves r's sandbox: its files, then the claim. */
static int take_unit(const struct adr_egress_req *r, const char *unit, const char *addr, struct adr_spec *spec,
                     adr_err *err)
{
  cleanup_strv struct strv args = { 0 };
  egress_allowlist_args(r, addr, &args);
  if (egress_prepare_dir(r, EGRESS_UID(r), EGRESS_GID(r), err) < 0 || egress_write_policy(r, err) < 0 ||
      egress_relay_setup(r, EGRESS_UID(r), EGRESS_GID(r), &args, err) < 0 || write_claim(r->dir, &args, err) < 0)
    return -1;
  struct adr_egress_result res = {
    .net = { .kind = ADR_SPEC_NET_ATTACH, .name = xasprintf("%s" ADR_EGRESS_NET_SUFFIX, unit) },
    .addr = xstrdup(addr),
  };
  egress_point_sandbox(spec, &res, r->dir);
  adr_egress_result_free(&res);
  adr_spec_set_label(spec, ADR_LABEL_EGRESS_UNIT, unit);
  if (r->own_interface)
    return 0;
  /* the holder's network namespace, made ahead: no interface to make now
   * (its hostname and resolver are the ones this sandbox would get) */
  cleanup_free char *hold = xasprintf("%s" HOLD_SUFFIX, unit);
  adr_spec_set_net(spec, ADR_SPEC_NET_JOIN, hold, NULL);
  return 0;
}

int adr_egress_pool_claim(struct adr_engine *e, const struct adr_egress_req *r, struct adr_spec *spec, char **unit,
                          char **relay_url, adr_err *err)
{
  *unit = NULL;
  *relay_url = NULL;
  if (r->policy->mode != ADR_NET_ALLOWLIST)
    return 1;
  cleanup_free char *pdir = adr_layout_area(ADR_STATE_POOL);
  DIR *d = opendir(pdir);
  if (!d)
    return 1;
  int ret = 1;
  struct dirent *de;
  while (ret == 1 && (de = readdir(d)) != NULL) {
    if (!pool_is_unit_name(de->d_name) || !pool_lock_take(de->d_name, r->sandbox))
      continue;
    const char *u = de->d_name;
    cleanup_free char *udir = xasprintf("%s/%s", pdir, u);
    cleanup_free char *addr = NULL;
    if (!unit_matches(udir, r, r->own_interface ? NULL : spec->hostname, &addr) || !unit_running(e, u)) {
      pool_discard(e, u, udir); /* stale: made by another adr-gateway, or dead */
      continue;
    }
    drop_free_marks(udir, false);
    if (link_dir(udir, r->dir, err) < 0 || take_unit(r, u, addr, spec, err) < 0) {
      adr_err_prefix(err, "egress pool unit '%s'", u);
      pool_unit_down(e, u);
      settle_dirs(u, r->dir);
      adr_egress_pool_release(u);
      ret = -1;
      break;
    }
    adr_debug("egress pool: %s claimed %s", r->sandbox, u);
    *unit = xstrdup(u);
    *relay_url = xasprintf("http://%s:%d", addr, GW_RELAY_PORT);
    ret = 0;
  }
  closedir(d);
  return ret;
}
/* ------------------------------------------------------------ reaping */

/* A lock whose process is gone and whose sandbox is not there: the unit,
 * and the egress files of the sandbox that claimed it, go. */
static void reap_lock(struct adr_engine *e, const char *unit, const struct adr_container *v, size_t n, const char *boot)
{
  cleanup_free char *lp = pool_lock_path(unit);
  cleanup_buf struct buf b;
  buf_init(&b, 256);
  if (buf_read_file(&b, lp) < 0 || !b.data)
    return;
  char tok[256] = "", holder[256] = "";
  char pid[64] = "", bt[128] = "";
  if (sscanf(b.data, "%63s %127s %255s", pid, bt, holder) != 3)
    return;
  snprintf(tok, sizeof(tok), "%s %s", pid, bt);
  if (adr_layout_token_alive(tok, boot) || (!streq(holder, "-") && adr_container_listed(v, n, holder)))
    return;
  cleanup_free char *sdir =
    streq(holder, "-") || !adr_agent_name_valid(holder) ? NULL : adr_layout_state_path(ADR_STATE_EGRESS, holder);
  pool_unit_down(e, unit);
  settle_dirs(unit, sdir);
  unlink(lp);
  adr_debug("egress pool: reaped unit %s (held by %s, gone)", unit, holder);
}

void adr_egress_pool_reap(struct adr_engine *e, const struct adr_container *v, size_t n, const char *boot)
{
  cleanup_free char *pdir = adr_layout_area(ADR_STATE_POOL);
  DIR *d = opendir(pdir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      const char *nm = de->d_name;
      size_t len = strlen(nm);
      if (nm[0] != '.' || len < 6 || !streq(nm + len - 5, ".lock"))
        continue;
      cleanup_free char *unit = xstrndup(nm + 1, len - 6);
      if (pool_is_unit_name(unit))
        reap_lock(e, unit, v, n, boot);
    }
    closedir(d);
  }
  /* a pool gateway with neither a lock nor a dir: its files went */
  for (size_t i = 0; i < n; i++) {
    const char *owner = v[i].id ? adr_labels_get(&v[i].labels, ADR_LABEL_POOL) : NULL;
    const char *unit = owner && streq(owner, pdir) ? adr_labels_get(&v[i].labels, ADR_LABEL_FOR) : NULL;
    if (!unit || !pool_is_unit_name(unit))
      continue;
    cleanup_free char *lp = pool_lock_path(unit);
    cleanup_free char *udir = xasprintf("%s/%s", pdir, unit);
    if (access(lp, F_OK) == 0 || access(udir, F_OK) == 0)
      continue;
    if (pool_lock_take(unit, "-"))
      pool_discard(e, unit, NULL);
  }
}
