/* The egress pool (egress.h): making units, filling and draining the
 * pool, sweeping units nobody owns. */
#include "egress-int.h"
#include "fs.h"
#include "layout.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The holder: the network namespace the sandbox will join, on the unit's
 * network with the gateway as its resolver; it waits for SIGTERM. */
static int make_holder(struct adr_engine *e, const struct adr_egress_req *r, const char *addr, const char *hostname,
                       adr_err *err)
{
  cleanup_spec struct adr_spec h;
  adr_spec_init(&h);
  h.name = xasprintf("%s" HOLD_SUFFIX, r->sandbox);
  h.image = xstrdup(r->image);
  strv_push(&h.entrypoint, GW_BIN_IN);
  adr_spec_add_bind(&h, r->gateway_bin, GW_BIN_IN, true);
  cleanup_free char *hdir = xasprintf("%s/" HOLD_DIR, r->dir);
  if (adr_mkdir_p(hdir, 0700, err) < 0)
    return -1;
  if (geteuid() == 0 && chown(hdir, EGRESS_UID(r), EGRESS_GID(r)) < 0)
    return adr_err_sys(err, errno, "chown '%s'", hdir);
  adr_spec_add_bind(&h, hdir, GW_DIR_IN, false);
  h.user = xasprintf("%u:%u", (unsigned)EGRESS_UID(r), (unsigned)EGRESS_GID(r));
  h.init = false;
  h.memory = 16ll << 20;
  h.pids = 4;
  h.restart = ADR_RESTART_UNLESS_STOPPED;
  cleanup_free char *net = xasprintf("%s" ADR_EGRESS_NET_SUFFIX, r->sandbox);
  adr_spec_set_net(&h, ADR_SPEC_NET_ATTACH, net, NULL);
  h.host_alias = false;
  strv_push(&h.dns, addr);
  h.hostname = hostname ? xstrdup(hostname) : NULL;
  strv_push(&h.cmd, GW_OPT_HOLD);
  strv_push(&h.cmd, GW_OPT_READY);
  strv_push(&h.cmd, GW_DIR_IN "/held");
  cleanup_strv struct strv labels = { 0 };
  egress_base_labels(r, &labels, "holder");
  adr_spec_set_labels(&h, &labels);
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(e, &h, &id, err) < 0 || adr_engine_container_start(e, id, err) < 0)
    return adr_err_prefix(err, "egress pool: holder '%s'", h.name);
  cleanup_free char *held = xasprintf("%s/" HELD_FILE, r->dir);
  if (pool_wait_file(e, held, r->sandbox, HOLD_SUFFIX, 5000, err) < 0)
    return adr_err_prefix(err, "egress pool: holder did not start");
  return 0;
}

static int make_unit(struct adr_engine *e, const struct adr_egress_req *run, const char *hostname, adr_err *err)
{
  cleanup_free char *sfx = adr_layout_suffix();
  cleanup_free char *unit = xasprintf(POOL_PREFIX "%s", sfx);
  cleanup_free char *pdir = adr_layout_area(ADR_STATE_POOL);
  cleanup_free char *udir = xasprintf("%s/%s", pdir, unit);
  if (adr_mkdir_p(pdir, 0700, err) < 0)
    return -1;
  if (!pool_lock_take(unit, "-"))
    return adr_err_sys(err, errno, "egress pool: lock '%s'", unit);
  struct adr_netpolicy none = { .mode = ADR_NET_ALLOWLIST };
  cleanup_strv struct strv labels = { 0 }, subnets = { 0 }, addrs = { 0 }, net_labels = { 0 };
  strv_pushf(&labels, ADR_LABEL_POOL "=%s", pdir); /* whose: another state dir's are not ours to reap */
  struct adr_egress_req r = *run;
  r.sandbox = unit;
  r.dir = udir;
  r.policy = &none;
  r.labels = &labels;
  r.relay = NULL;
  struct adr_egress_plan plan = { .mode = ADR_EGRESS_ALLOWLIST, .sandbox = unit, .pool = r.pool };
  struct adr_egress_result res = { 0 };
  if (egress_prepare_dir(&r, EGRESS_UID(&r), EGRESS_GID(&r), err) < 0 ||
      egress_subnet_candidates(&r, &subnets, &addrs, err) < 0) {
    pool_discard(e, unit, udir);
    return -1;
  }
  egress_base_labels(&r, &net_labels, "network");
  plan.subnets = &subnets;
  plan.addrs = &addrs;
  plan.net_labels = &net_labels;
  egress_allowlist_gateway(&r, &plan.gateway);
  plan.gateway.pids = 128; /* the relay may come with the claim */
  const char *cmd[] = { GW_OPT_WAIT_CLAIM, GW_DIR_IN "/" GW_FILE_CLAIM, GW_OPT_READY, GW_DIR_IN "/" GW_FILE_WAITING };
  for (size_t i = 0; i < ARRAY_SIZE(cmd); i++)
    strv_push(&plan.gateway.cmd, cmd[i]);
  if (egress_realise(e, &r, &plan, GW_FILE_WAITING, &res, err) < 0) {
    pool_discard(e, unit, udir);
    return -1;
  }
  if (make_holder(e, &r, res.addr, hostname, err) < 0) {
    adr_egress_result_free(&res);
    pool_discard(e, unit, udir);
    return -1;
  }
  cleanup_free char *gid = pool_gateway_id(run->gateway_bin);
  cleanup_free char *text =
    xasprintf("%s\n%s\n%s\n%s\n", res.addr, gid, r.pool ? r.pool : "-", hostname ? hostname : "-");
  cleanup_free char *uf = xasprintf("%s/" UNIT_FILE, udir);
  adr_egress_result_free(&res);
  if (egress_write_text(uf, text, 0644, err) < 0) {
    pool_discard(e, unit, udir);
    return -1;
  }
  adr_egress_pool_release(unit); /* free now */
  adr_debug("egress pool: made unit %s", unit);
  return 0;
}

/* The free units' names. */
static void pool_free_units(struct strv *out)
{
  cleanup_free char *pdir = adr_layout_area(ADR_STATE_POOL);
  DIR *d = opendir(pdir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    cleanup_free char *lp = pool_is_unit_name(de->d_name) ? pool_lock_path(de->d_name) : NULL;
    if (lp && access(lp, F_OK) < 0)
      strv_push(out, de->d_name);
  }
  closedir(d);
}

unsigned adr_egress_pool_free(void)
{
  cleanup_strv struct strv u = { 0 };
  pool_free_units(&u);
  return (unsigned)u.n;
}

/* Units of a pool whose dir is gone (a removed state dir: a test's HOME,
 * a deleted account) are nobody's: any adr removes them. */
static void sweep_orphans(struct adr_engine *e, const char *mine)
{
  cleanup_strv struct strv f = { 0 };
  strv_push(&f, ADR_LABEL_POOL);
  struct adr_container *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  if (adr_engine_container_list(e, &f, true, &v, &n, &err) < 0)
    return;
  for (size_t i = 0; i < n; i++) {
    const char *owner = adr_labels_get(&v[i].labels, ADR_LABEL_POOL);
    const char *unit = adr_labels_get(&v[i].labels, ADR_LABEL_FOR);
    struct stat st;
    if (!owner || !unit || !pool_is_unit_name(unit) || streq(owner, mine) || owner[0] != '/' || stat(owner, &st) == 0 ||
        errno != ENOENT)
      continue;
    pool_unit_down(e, unit);
    adr_debug("egress pool: removed unit %s of %s (gone)", unit, owner);
  }
  adr_containers_free(v, n);
}

int adr_egress_pool_fill(struct adr_engine *e, const struct adr_egress_req *r, const char *hostname, unsigned want,
                         adr_err *err)
{
  if (want > POOL_MAX)
    want = POOL_MAX;
  cleanup_free char *pdir = adr_layout_area(ADR_STATE_POOL);
  if (want == 0 && access(pdir, F_OK) < 0) { /* no pool: nothing to drain, nothing to make (not even its dir) */
    sweep_orphans(e, pdir);
    return 0;
  }
  if (adr_mkdir_p(pdir, 0700, err) < 0)
    return -1;
  cleanup_free char *fl = xasprintf("%s/.fill.lock", pdir);
  int fd = open(fl, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return adr_err_sys(err, errno, "open '%s'", fl);
  if (flock(fd, want ? LOCK_EX | LOCK_NB : LOCK_EX) < 0) { /* another adr fills it (a drain waits) */
    close(fd);
    return (int)adr_egress_pool_free();
  }
  sweep_orphans(e, pdir);
  cleanup_strv struct strv u = { 0 };
  pool_free_units(&u);
  int ret = 0;
  for (size_t i = want; i < u.n; i++) /* beyond want (ADR_EGRESS_POOL went down) */
    if (pool_lock_take(u.v[i], "-")) {
      cleanup_free char *udir = xasprintf("%s/%s", pdir, u.v[i]);
      pool_discard(e, u.v[i], udir);
    }
  for (size_t have = u.n; have < want && ret == 0; have++)
    ret = make_unit(e, r, hostname, err);
  close(fd);
  return ret < 0 ? -1 : (int)adr_egress_pool_free();
}

int adr_egress_pool_drain(struct adr_engine *e, adr_err *err)
{
  unsigned before = adr_egress_pool_free();
  struct adr_egress_req none = { 0 };
  if (adr_egress_pool_fill(e, &none, NULL, 0, err) < 0)
    return -1;
  unsigned after = adr_egress_pool_free();
  return before > after ? (int)(before - after) : 0;
}
