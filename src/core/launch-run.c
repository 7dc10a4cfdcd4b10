/* The launch's create, run, detach and teardown phases. */
#include "launch-int.h"
#include "egress.h"
#include "reap.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define KILL_GRACE_S 10 /* SIGTERM, then SIGKILL this much later */

int adr_launch_create(struct adr_launch *l, adr_err *err)
{
  if (adr_engine_container_create(l->engine, &l->spec, &l->id, err) < 0) {
    if (l->o->persistent && (*err)->errnum == EEXIST)
      return adr_err_set(err, EEXIST, "an agent named '%s' already exists in %s (see 'adr ls')", l->pname, l->scope);
    return adr_err_prefix(err, "create sandbox '%s'", l->cname);
  }
  return 0;
}

int adr_launch_detach(struct adr_launch *l, adr_err *err)
{
  if (adr_engine_container_start(l->engine, l->id, err) < 0)
    return adr_err_prefix(err, "start sandbox '%s'", l->cname);
  l->started = true;
  if (l->marker) {
    unlink(l->marker);
    free(l->marker);
    l->marker = NULL;
  }
  return 0;
}

/* ------------------------------------------------------------ run */

static void arm(struct adr_launch *l, uint64_t seconds)
{
  struct itimerspec its = { .it_value = { .tv_sec = (time_t)seconds } };
  if (l->timer_fd >= 0)
    timerfd_settime(l->timer_fd, 0, &its, NULL);
}

static void escalate(struct adr_launch *l)
{
  cleanup_err adr_err e = NULL;
  if (l->stop_phase == 0) {
    l->stop_phase = 1;
    adr_engine_container_kill(l->engine, l->id, SIGTERM, &e);
    arm(l, KILL_GRACE_S);
  } else if (l->stop_phase == 1) {
    l->stop_phase = 2;
    adr_engine_container_kill(l->engine, l->id, SIGKILL, &e);
  }
}

void adr_launch_interrupt(struct adr_launch *l, int sig)
{
  if (!l->interrupted)
    l->interrupted = sig;
  escalate(l);
}

void adr_launch_resize(struct adr_launch *l, unsigned rows, unsigned cols)
{
  cleanup_err adr_err e = NULL;
  if (l->id)
    adr_engine_container_resize(l->engine, l->id, rows, cols, &e);
}

int adr_launch_status(const struct adr_launch *l)
{
  if (l->timed_out)
    return 124;
  if (l->interrupted)
    return 128 + l->interrupted;
  return l->code;
}

struct run_ctx {
  struct adr_launch *l;
  const struct adr_launch_io *io;
  int ep; /* epoll: the caller's wake fd and our timer, as one fd for the engine's pump */
};

static int run_ready(void *ud, adr_err *err)
{
  struct run_ctx *rc = ud;
  struct adr_launch *l = rc->l;
  if (adr_engine_container_start(l->engine, l->id, err) < 0)
    return adr_err_prefix(err, "start sandbox");
  if (rc->io->on_started)
    rc->io->on_started(l, rc->io->ud);
  if (l->timeout)
    arm(l, l->timeout);
  return 0;
}

static int run_wake(void *ud)
{
  struct run_ctx *rc = ud;
  struct adr_launch *l = rc->l;
  struct epoll_event evs[2];
  int n = epoll_wait(rc->ep, evs, 2, 0);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.fd == l->timer_fd) {
      uint64_t expirations;
      if (read(l->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
        continue;
      if (l->stop_phase == 0 && l->timeout)
        l->timed_out = true;
      escalate(l);
    } else if (rc->io->on_wake && rc->io->on_wake(l, rc->io->ud) < 0) {
      return -1;
    }
  }
  return 0;
}

static int watch(int ep, int fd)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int adr_launch_run(struct adr_launch *l, const struct adr_launch_io *io, adr_err *err)
{
  struct run_ctx rc = { .l = l, .io = io, .ep = epoll_create1(EPOLL_CLOEXEC) };
  if (rc.ep < 0)
    return adr_err_sys(err, errno, "epoll");
  l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (l->timer_fd < 0 || watch(rc.ep, l->timer_fd) < 0 || (io->wake_fd >= 0 && watch(rc.ep, io->wake_fd) < 0)) {
    int saved = errno;
    close(rc.ep);
    return adr_err_sys(err, saved, "timer");
  }
  struct adr_attach at = {
    .in_fd = io->in_fd,
    .out_fd = io->out_fd,
    .err_fd = io->err_fd,
    .tty = l->ro.tty,
    .on_ready = run_ready,
    .wake_fd = rc.ep,
    .on_wake = run_wake,
    .ud = &rc,
  };
  int ar = adr_engine_container_attach(l->engine, l->id, &at, err);
  arm(l, 0);
  if (io->on_ended)
    io->on_ended(l, io->ud);
  close(rc.ep);
  if (ar < 0)
    return -1;
  return adr_engine_container_wait(l->engine, l->id, &l->code, err);
}

/* ------------------------------------------------------------ teardown */

void adr_launch_teardown(struct adr_launch *l)
{
  if (l->started)
    return; /* a persistent agent keeps its sandbox, mounts and worktree */
  struct adr_teardown t = {
    .who = l->cname,
    .sandbox = l->cname,
    .id = l->id,
    .idmap_dir = l->idmap_dir,
    .identity_dir = l->identity_dir,
    .egress = l->egress_made,
    .egress_dir = l->egress_dir,
  };
  if (l->made_wt) { /* fresh: no commits of the agent's to lose */
    t.repo = &l->repo;
    t.wt = &l->wt;
    t.delete_branch = true;
  }
  adr_teardown(l->engine, &t, &l->ev, NULL);
  if (l->marker)
    unlink(l->marker);
  free(l->marker);
  l->marker = NULL;
  if (l->egress_made && l->id && l->pol.mode == ADR_NET_ALLOWLIST) { /* what the run was refused, in one line */
    cleanup_free char *logp = adr_egress_log_path(l->egress_dir);
    cleanup_free char *top = NULL;
    cleanup_err adr_err e = NULL;
    size_t nd = 0;
    if (adr_egress_denials(logp, &nd, &top, &e) == 0 && nd)
      adr_emit(&l->ev, ADR_EVENT_HINT, "egress: %zu request%s denied (%s); see 'adr logs --egress %s'", nd,
               nd == 1 ? "" : "s", top, l->cname);
  }
  /* done: a second call finds nothing to undo */
  free(l->id);
  l->id = NULL;
  l->made_wt = false;
  l->egress_made = false;
  free(l->identity_dir);
  l->identity_dir = NULL;
  free(l->idmap_dir);
  l->idmap_dir = NULL;
}

/* ------------------------------------------------------------ helpers */

int adr_launch_chown(struct adr_engine *e, const char *image, const char *dir, uid_t uid, gid_t gid, int log_fd,
                     int *code, adr_err *err)
{
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  adr_launch_chown_spec(&s, image, dir, uid, gid);
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(e, &s, &id, err) < 0)
    return adr_err_prefix(err, "create sandbox");
  *code = -1;
  int r = adr_engine_container_start(e, id, err);
  if (r == 0)
    r = adr_engine_container_wait(e, id, code, err);
  if (r == 0 && *code != 0)
    adr_engine_container_logs(e, id, false, log_fd, log_fd, NULL);
  cleanup_err adr_err rmerr = NULL;
  adr_engine_container_remove(e, id, true, &rmerr);
  return r < 0 ? -1 : 0;
}
