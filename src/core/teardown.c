/* Stopping and tearing down one sandbox (reap.h). */
#include "reap.h"
#include "egress.h"
#include "idmap.h"
#include "layout.h"
#include "pagent.h"
#include "runspec.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define STOP_GRACE_S 10   /* a sandbox: SIGTERM, then SIGKILL */
#define GATEWAY_GRACE_S 2 /* a gateway logs its open connections on SIGTERM */

void adr_teardown_of_pagent(const struct adr_pagent *a, struct adr_teardown *t)
{
  memset(t, 0, sizeof(*t));
  t->who = a->name;
  t->sandbox = adr_pagent_sandbox(a);
  t->id = a->c.id;
  t->labels = &a->c.labels;
  if (a->has_worktree) {
    t->repo = &a->repo;
    t->wt = &a->wt;
  }
  t->egress = t->sandbox && adr_labels_get(&a->c.labels, ADR_LABEL_NETMODE) != NULL;
  const char *unit = adr_labels_get(&a->c.labels, ADR_LABEL_EGRESS_UNIT);
  t->egress_unit = unit && adr_egress_pool_unit_name(unit) ? unit : NULL; /* a claimed pool unit */
  t->forget_log = true;
  const char *svc = adr_labels_get(&a->c.labels, ADR_LABEL_SERVICES);
  t->services_net = svc && t->sandbox ? svc : NULL;
  t->sidecars = t->sandbox && adr_labels_get(&a->c.labels, ADR_LABEL_SIDECARS) != NULL;
}

static void services(struct adr_engine *e, const struct adr_teardown *t, const char *kind, bool remove,
                     const struct adr_events *ev);

int adr_teardown_stop(struct adr_engine *e, const struct adr_teardown *t, bool running, adr_err *err)
{
  int r = 0;
  if (running && t->id)
    r = adr_engine_container_stop(e, t->id, STOP_GRACE_S, err);
  if (t->egress) {
    cleanup_err adr_err ignored = NULL;
    cleanup_free char *gw = adr_layout_gateway(t->egress_unit ? t->egress_unit : t->sandbox);
    adr_engine_container_stop(e, gw, GATEWAY_GRACE_S, &ignored);
  }
  if (t->services_net && t->sandbox)
    services(e, t, "service", false, NULL);
  if (t->sidecars && t->sandbox)
    services(e, t, "sidecar", false, NULL);
  return r < 0 ? -1 : 0;
}

static void warn(const struct adr_events *ev, adr_err *e, const char *what, const char *whom)
{
  if (whom)
    adr_emit(ev, ADR_EVENT_WARNING, "%s '%s': %s", what, whom, (*e)->msg);
  else
    adr_emit(ev, ADR_EVENT_WARNING, "%s", (*e)->msg);
  adr_err_free(e);
}

/* The sandbox's compose services or MCP sidecars (kind), stopped (remove
 * false) or removed. */
static void services(struct adr_engine *e, const struct adr_teardown *t, const char *kind, bool remove,
                     const struct adr_events *ev)
{
  cleanup_strv struct strv f = { 0 };
  strv_pushf(&f, ADR_LABEL_FOR "=%s", t->sandbox);
  strv_pushf(&f, ADR_LABEL_KIND "=%s", kind);
  struct adr_container *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  if (adr_engine_container_list(e, &f, true, &v, &n, &err) < 0) {
    warn(ev, &err, streq(kind, "sidecar") ? "sidecars of" : "services of", t->sandbox);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    int r = remove ? adr_engine_container_remove(e, v[i].id, true, &err)
                   : adr_engine_container_stop(e, v[i].id, STOP_GRACE_S, &err);
    if (r < 0)
      warn(ev, &err, remove ? "remove" : "stop", v[i].name);
  }
  adr_containers_free(v, n);
}

/* Their network (after the egress: an open sandbox's holder is on it),
 * then its marker. Only the network named after the sandbox. */
static void services_net(struct adr_engine *e, const struct adr_teardown *t, const struct adr_events *ev)
{
  cleanup_free char *want = xasprintf("%s" ADR_SERVICES_NET_SUFFIX, t->sandbox);
  if (!streq(t->services_net, want))
    return;
  cleanup_err adr_err err = NULL;
  if (adr_engine_network_remove(e, want, &err) < 0 && err->errnum != ENOENT) {
    warn(ev, &err, "remove network", want);
    return; /* the marker stays: the reaper finishes */
  }
  cleanup_free char *marker = adr_layout_services_marker(t->sandbox);
  unlink(marker);
  *strrchr(marker, '/') = '\0';
  rmdir(marker); /* only when nothing else is kept there */
}

/* The sandbox's idmapped mounts' directory: what its labels name (only
 * below adr's own state dir), or what the run that made it knows. */
static const char *idmap_dir(const struct adr_teardown *t)
{
  const char *idm = t->idmap_dir;
  if (!idm && t->labels) {
    idm = adr_labels_get(t->labels, ADR_LABEL_IDMAP);
    idm = adr_layout_in_area(ADR_STATE_IDMAP, idm) ? idm : NULL;
  }
  return idm;
}

/* The host state of a sandbox: what its labels name, or what the run that
 * made it knows. */
static void host_state(const struct adr_teardown *t, const struct adr_events *ev)
{
  cleanup_err adr_err e = NULL;
  const char *idm = idmap_dir(t), *ident = t->identity_dir;
  if (!ident && t->labels) {
    ident = adr_labels_get(t->labels, ADR_LABEL_IDENTITY);
    ident = adr_layout_in_area(ADR_STATE_IDENTITY, ident) ? ident : NULL;
  }
  if (idm && adr_idmap_umount_dir(idm, &e) < 0)
    warn(ev, &e, NULL, NULL);
  if (ident && adr_identity_remove(ident, &e) < 0)
    warn(ev, &e, NULL, NULL);
}

/* The sidecars, then the MCP servers' environment files (their secrets) */
static void sidecars(struct adr_engine *e, const struct adr_teardown *t, const struct adr_events *ev)
{
  services(e, t, "sidecar", true, ev);
  cleanup_free char *own = t->egress_dir ? NULL : adr_layout_state_path(ADR_STATE_EGRESS, t->sandbox);
  adr_egress_mcp_files_remove(t->egress_dir ? t->egress_dir : own);
}

static void egress(struct adr_engine *e, const struct adr_teardown *t, const struct adr_events *ev)
{
  cleanup_free char *own = t->egress_dir ? NULL : adr_layout_state_path(ADR_STATE_EGRESS, t->sandbox);
  const char *dir = t->egress_dir ? t->egress_dir : own;
  cleanup_err adr_err err = NULL;
  int dr =
    t->egress_unit ? adr_egress_pool_down(e, t->egress_unit, dir, &err) : adr_egress_down(e, t->sandbox, dir, &err);
  if (dr < 0)
    warn(ev, &err, NULL, NULL);
  else if (t->egress_unit)
    adr_egress_pool_release(t->egress_unit);
  if (t->forget_log) {
    cleanup_free char *log = adr_egress_log_path(dir);
    unlink(log);
    rmdir(dir);
  }
}

int adr_teardown(struct adr_engine *e, const struct adr_teardown *t, const struct adr_events *ev, adr_err *err)
{
  cleanup_err adr_err e1 = NULL;
  if (t->wt) {
    if (adr_worktree_remove(t->repo, t->wt, t->delete_branch, &e1) < 0) {
      if (t->strict) {
        adr_err_move(err, &e1);
        return adr_err_prefix(err, "remove worktree");
      }
      warn(ev, &e1, "remove worktree", t->wt->path);
    } else {
      /* the scope's worktree dir, once empty */
      cleanup_free char *parent = xstrdup(t->wt->path);
      char *slash = strrchr(parent, '/');
      if (slash) {
        *slash = '\0';
        rmdir(parent);
      }
    }
  }
  /* the mounts outlive the sandbox until host_state(): should this adr
   * die in between, the mark lets the next one unmount them at once, not
   * after the grace a start under way gets (reap.c) */
  const char *idm = t->id ? idmap_dir(t) : NULL;
  if (idm) {
    cleanup_free char *mark = xasprintf("%s/" ADR_IDMAP_TORN, idm);
    int fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0)
      close(fd);
  }
  if (t->id && adr_engine_container_remove(e, t->id, true, &e1) < 0) {
    if (t->strict) {
      adr_err_move(err, &e1);
      return adr_err_prefix(err, "remove sandbox");
    }
    warn(ev, &e1, "remove sandbox", t->who);
    return 0; /* what it uses stays: the reaper or the next attempt finishes */
  }
  if (t->sidecars && t->sandbox) /* they use its identity dir */
    sidecars(e, t, ev);
  host_state(t, ev);
  if (t->services_net && t->sandbox)
    services(e, t, "service", true, ev);
  if (t->egress)
    egress(e, t, ev);
  if (t->services_net && t->sandbox)
    services_net(e, t, ev);
  return 0;
}
