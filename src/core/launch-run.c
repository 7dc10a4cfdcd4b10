/* The launch's create, run, detach and teardown phases. */
#include "launch-int.h"
#include "devcontainer.h"
#include "egress.h"
#include "forward.h"
#include "reap.h"
#include "layout.h"
#include "runspec.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define KILL_GRACE_S 10 /* SIGTERM, then SIGKILL this much later */

int adr_launch_create(struct adr_launch *l, adr_err *err)
{
  if (l->warm_claimed)
    return 0; /* it exists, and runs */
  if (adr_engine_container_create(l->engine, &l->spec, &l->id, err) < 0) {
    if (l->o->persistent && (*err)->errnum == EEXIST)
      return adr_err_set(err, EEXIST, "an agent named '%s' already exists in %s (see 'adr ls')", l->pname, l->scope);
    return adr_err_prefix(err, "create sandbox '%s'", l->cname);
  }
  if (launch_services_join(l, err) < 0)
    return -1;
  /* a claimed pool unit's gateway took its policy meanwhile */
  if (l->egress_unit && adr_egress_pool_served(l->engine, l->egress_unit, l->egress_dir, err) < 0)
    return adr_err_prefix(err, "start egress gateway");
  return 0;
}

/* A start the engine refused: with GPUs asked and no GPU runtime there,
 * says what to do (the engine only says it has no driver). */
static int start_failed(const struct adr_launch *l, adr_err *err)
{
  bool gpus = l->gpus.count || l->gpus.device_ids.n;
  if (gpus && *err && (*err)->msg && strstr((*err)->msg, "could not select device driver")) {
    cleanup_free char *why = xstrdup((*err)->msg);
    adr_err_free(err);
    return adr_err_set(err, ENODEV,
                       "--gpus: the engine has no GPU runtime (%s); install the NVIDIA Container Toolkit and "
                       "configure the engine for it (docs/gpu.md)",
                       why);
  }
  return -1;
}

/* What the engine said while it made and started the sandbox and its
 * parts (the native engine: a limit it could not set). */
static void engine_said(struct adr_launch *l)
{
  cleanup_strv struct strv w = { 0 };
  adr_engine_take_warnings(l->engine, &w);
  for (size_t i = 0; i < w.n; i++)
    adr_emit(&l->ev, ADR_EVENT_WARNING, "%s", w.v[i]);
}

int adr_launch_detach(struct adr_launch *l, adr_err *err)
{
  if (!l->warm_claimed && adr_engine_container_start(l->engine, l->id, err) < 0)
    return start_failed(l, err), adr_err_prefix(err, "start sandbox '%s'", l->cname);
  engine_said(l);
  l->started = true;
  if (l->marker) {
    unlink(l->marker);
    free(l->marker);
    l->marker = NULL;
  }
  if (l->dc && l->dc->forward_ports.n && l->pname) {
    cleanup_free char *ports = strv_join(&l->dc->forward_ports, ", ");
    adr_emit(&l->ev, ADR_EVENT_HINT, "forwardPorts (%s): 'adr port %s' forwards them to 127.0.0.1", ports, l->pname);
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

/* The dev container's forwardPorts on the host's loopback while the run
 * is attached; one that cannot be is a warning, never the run's end. */
static void launch_forward(struct adr_launch *l)
{
  if (!l->dc || !l->dc->forward_ports.n)
    return;
  cleanup_strv struct strv said = { 0 };
  cleanup_err adr_err e = NULL;
  if (adr_forward_start(l->engine, l->id, &l->dc->forward_ports, &said, &l->fwd, &e) < 0) {
    adr_emit(&l->ev, ADR_EVENT_WARNING, "forwardPorts: %s", e->msg);
    return;
  }
  for (size_t i = 0; i < said.n; i++)
    adr_emit(&l->ev, ADR_EVENT_INFO, "forwarding %s", said.v[i]);
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
    return start_failed(l, err), adr_err_prefix(err, "start sandbox");
  engine_said(l);
  if (rc->io->on_started)
    rc->io->on_started(l, rc->io->ud);
  launch_forward(l);
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
  adr_forward_stop(l->fwd);
  l->fwd = NULL;
  arm(l, 0);
  if (io->on_ended)
    io->on_ended(l, io->ud);
  close(rc.ep);
  if (ar < 0)
    return -1;
  return adr_engine_container_wait(l->engine, l->id, &l->code, err);
}

/* ------------------------------------------------------------ teardown */

static void teardown_parts(struct adr_launch *l, struct adr_engine *e, const struct adr_events *ev)
{
  struct adr_teardown t = {
    .who = l->cname,
    .sandbox = l->cname,
    .id = l->id,
    .idmap_dir = l->idmap_dir,
    .identity_dir = l->identity_dir,
    .egress = l->egress_made,
    .egress_dir = l->egress_dir,
    .egress_unit = l->egress_unit,
    .services_net = l->svc_net,
    .sidecars = l->sidecars_up,
  };
  if (l->made_wt) { /* fresh: no commits of the agent's to lose */
    t.repo = &l->repo;
    t.wt = &l->wt;
    t.delete_branch = true;
  }
  adr_teardown(e, &t, ev, NULL);
  if (l->marker)
    unlink(l->marker);
}

/* What egress the run was refused, in one line. */
static void say_denials(struct adr_launch *l)
{
  if (!l->egress_made || !l->id || l->pol.mode != ADR_NET_ALLOWLIST)
    return;
  cleanup_free char *logp = adr_egress_log_path(l->egress_dir);
  cleanup_free char *top = NULL;
  cleanup_err adr_err e = NULL;
  size_t nd = 0;
  if (adr_egress_denials(logp, &nd, &top, &e) == 0 && nd)
    adr_emit(&l->ev, ADR_EVENT_HINT, "egress: %zu request%s denied (%s); see 'adr logs --egress %s'", nd,
             nd == 1 ? "" : "s", top, l->cname);
}

/* Done: a second call finds nothing to undo. */
static void forget(struct adr_launch *l)
{
  free(l->marker);
  l->marker = NULL;
  free(l->id);
  l->id = NULL;
  l->made_wt = false;
  l->egress_made = false;
  free(l->svc_net);
  l->svc_net = NULL;
  free(l->identity_dir);
  l->identity_dir = NULL;
  free(l->idmap_dir);
  l->idmap_dir = NULL;
}

void adr_launch_teardown(struct adr_launch *l)
{
  if (l->started)
    return; /* a persistent agent keeps its sandbox, mounts and worktree */
  teardown_parts(l, l->engine, &l->ev);
  say_denials(l);
  forget(l);
}

static int fill_pool(struct adr_engine *e, const struct adr_config *c, const struct adr_agent *a, const char *image,
                     const char *gwbin, unsigned want, adr_err *err)
{
  struct adr_netpolicy pol = { .mode = ADR_NET_ALLOWLIST };
  struct adr_egress_req r = {
    .policy = &pol,
    .image = image,
    .gateway_bin = gwbin,
    .pool = adr_config_get(c, "ADR_NETWORK_POOL"),
    .uid = getuid(),
    .gid = getgid(),
  };
  cleanup_free char *host = adr_run_hostname(a);
  return adr_egress_pool_fill(e, &r, host, want, err);
}

/* In the detached process: a connection of its own, the teardown (a run
 * that ended; not a persistent agent that started), then the pool made
 * whole again for the next allowlist sandbox. */
static void detached_work(struct adr_launch *l, bool teardown)
{
  struct adr_engine *e = NULL;
  cleanup_err adr_err err = NULL;
  if (adr_engine_reopen(l->engine, &e, &err) < 0)
    _exit(1); /* the reaper of the next adr finishes */
  if (teardown) {
    if (l->egress_unit)
      adr_egress_pool_adopt(l->egress_unit, l->cname);
    teardown_parts(l, e, NULL);
  } else if (l->egress_unit) { /* a persistent agent's unit: it has an interface of its own */
    adr_egress_pool_drop_holder(e, l->egress_unit);
  }
  if (!teardown && launch_warm_fits(l)) /* the warm sandboxes, for the next start */
    launch_warm_fill(e, l, launch_warm_size(l), &err);
  if (l->pol.mode == ADR_NET_ALLOWLIST && l->gateway_bin)
    fill_pool(e, l->config, l->agent, l->image, l->gateway_bin, launch_pool_size(l), &err);
  adr_engine_close(e);
  _exit(0);
}

int adr_launch_warm(struct adr_engine *e, const struct adr_config *c, const struct adr_agent *a, const char *tag,
                    unsigned want, adr_err *err)
{
  cleanup_free char *image =
    adr_layout_image(adr_config_get(c, "ADR_IMAGE_PREFIX"), a->name, tag ? tag : adr_config_get(c, "ADR_TAG"));
  int have = adr_engine_image_inspect(e, image, NULL, err);
  if (have != 0)
    return have < 0 ? -1
                    : adr_err_set(err, ENOENT, "image '%s' not found; build it with 'adr build %s'", image, a->name);
  cleanup_free char *gwbin = adr_gateway_bin(err);
  if (!gwbin)
    return -1;
  return fill_pool(e, c, a, image, gwbin, want, err);
}

/* Forks the detached process; false when it could not. */
static bool detach_work(struct adr_launch *l, bool teardown)
{
  pid_t p = fork();
  if (p < 0)
    return false;
  if (p == 0) {
    /* a session of its own, and a grandchild of adr (nobody waits for
     * it); no terminal, no inherited descriptors, default signals */
    if (setsid() < 0 || fork() != 0)
      _exit(0);
    prctl(PR_SET_NAME, "adr-teardown", 0, 0, 0);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
      dup2(nul, STDIN_FILENO);
      dup2(nul, STDOUT_FILENO);
      dup2(nul, STDERR_FILENO);
    }
    close_range(3, ~0u, 0); /* the old engine connection too: never used again here */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    detached_work(l, teardown);
  }
  waitpid(p, NULL, 0);
  return true;
}

void adr_launch_teardown_detach(struct adr_launch *l)
{
  if (l->started) { /* a persistent agent: nothing to undo; the pool it took from is made whole */
    if (l->egress_unit || (l->pol.mode == ADR_NET_ALLOWLIST && l->gateway_bin && launch_pool_size(l) > 0) ||
        launch_warm_fits(l))
      detach_work(l, false);
    return;
  }
  if (!l->id) {
    adr_launch_teardown(l);
    return;
  }
  say_denials(l);
  if (!detach_work(l, true))
    teardown_parts(l, l->engine, &l->ev);
  forget(l);
}

/* ------------------------------------------------------------ helpers */

int adr_launch_chown(struct adr_engine *e, const char *image, const char *dir, uid_t uid, gid_t gid, int log_fd,
                     int *code, adr_err *err)
{
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  adr_launch_chown_spec(&s, image, dir, uid, gid);
  return adr_launch_helper(e, &s, log_fd, code, err);
}

int adr_launch_helper(struct adr_engine *e, const struct adr_spec *spec, int log_fd, int *code, adr_err *err)
{
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(e, spec, &id, err) < 0)
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
