/* A dev container's compose services beside the agent (compose.h reads
 * them).
 *
 * The agent's own service gives the project image (its image, or its
 * build) and environment; the others run as containers of their own on a
 * network adr makes for this sandbox alone (SANDBOX-svc, internal: no
 * route out, no host), each reachable by its service name.  The
 * container that holds the agent's network namespace joins it too: the
 * sandbox itself (none: it is its only network; allowlist: beside the
 * gateway's), or the holder it joins (open).  So the agent reaches its
 * database, and the services reach nothing else.
 *
 * Services are the project's programs, not the agent: they keep the
 * engine's default capabilities (a database's entry point changes users),
 * but never more (compose.c refuses what would add any), with
 * no-new-privileges, the sandbox's memory and CPU limits and a pids
 * limit.  They are labelled for the sandbox (dev.adr.for) and go with it:
 * stopped with it, removed with it, reaped when it is gone.  A marker in
 * the sandbox's egress directory lets the reaper find a network a killed
 * adr left. */
#include "launch-int.h"
#include "compose.h"
#include "devcontainer.h"
#include "fs.h"
#include "layout.h"
#include "log.h"
#include "reap.h"
#include "runspec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SERVICE_PIDS 1024
#define HEALTH_WAIT_S 300 /* at most, for a service to be healthy */

void launch_services_free(struct adr_launch *l)
{
  if (l->compose) {
    adr_compose_free(l->compose);
    free(l->compose);
    l->compose = NULL;
  }
  strv_free(&l->services);
  free(l->svc_net);
  l->svc_net = NULL;
}

int launch_plan_services(struct adr_launch *l, struct strv *withheld, adr_err *err)
{
  struct adr_devcontainer *d = l->dc;
  cleanup_strv struct strv allow = { 0 };
  adr_config_get_list(l->config, "ADR_DEVCONTAINER_ENV", &allow);
  struct adr_compose_vars v = { .root = l->ws, .getenv_fn = l->o->getenv, .env_allow = &allow, .withheld = withheld };
  l->compose = xcalloc(1, sizeof(*l->compose));
  if (adr_compose_load(&d->compose_files, &v, l->compose, err) < 0)
    return -1;
  for (size_t i = 0; i < l->compose->warnings.n; i++)
    adr_emit(&l->ev, ADR_EVENT_WARNING, "%s", l->compose->warnings.v[i]);
  const struct adr_compose_service *a = adr_compose_find(l->compose, d->service);
  if (!a)
    return adr_err_set(err, EINVAL, "%s: 'service' %s is not a service of %s", d->file, d->service,
                       d->compose_files.v[0]);
  /* the agent's service: its image or build is the project image */
  if (a->image) {
    free(d->image);
    d->image = xstrdup(a->image);
  } else {
    free(d->context);
    free(d->dockerfile);
    d->context = xstrdup(a->build_context);
    d->dockerfile = xstrdup(a->build_dockerfile);
    strv_free(&d->build_args);
    for (size_t i = 0; i < a->build_args.n; i++)
      strv_push(&d->build_args, a->build_args.v[i]);
  }
  /* its environment before containerEnv's (which wins) */
  struct strv env = { 0 };
  for (size_t i = 0; i < a->env.n; i++)
    strv_push(&env, a->env.v[i]);
  for (size_t i = 0; i < d->container_env.n; i++)
    strv_push(&env, d->container_env.v[i]);
  strv_free(&d->container_env);
  d->container_env = env;
  if (a->binds.n || a->command.n || a->entrypoint.n)
    adr_emit(&l->ev, ADR_EVENT_WARNING,
             "%s: service '%s' runs the agent: its volumes, command and entry point are not used (the workspace is "
             "at %s)",
             d->compose_files.v[0], a->name, ADR_SANDBOX_WORKSPACE);
  return adr_compose_order(l->compose, d->service, &d->run_services, &l->services, err) < 0
           ? adr_err_prefix(err, "%s", d->file)
           : 0;
}

/* ------------------------------------------------------------ up */

/* The last lines a service wrote, for the error that names it. */
char *launch_last_lines(struct adr_engine *e, const char *id)
{
  int fd = memfd_create("adr-svc-log", MFD_CLOEXEC);
  if (fd < 0)
    return xstrdup("");
  cleanup_err adr_err err = NULL;
  adr_engine_container_logs(e, id, false, fd, fd, &err);
  off_t end = lseek(fd, 0, SEEK_END);
  off_t from = end > 600 ? end - 600 : 0;
  char buf[601] = "";
  ssize_t n = pread(fd, buf, (size_t)(end - from), from);
  close(fd);
  buf[n > 0 ? n : 0] = '\0';
  /* one line: the last few, newlines as " | " */
  char *s = buf;
  while (*s == '\n' || *s == ' ')
    s++;
  size_t len = strlen(s);
  while (len && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
    s[--len] = '\0';
  struct buf o;
  buf_init(&o, 0);
  for (const char *p = s; *p; p++)
    if (*p == '\n')
      buf_puts(&o, " | ");
    else if (*p != '\r')
      buf_append(&o, p, 1);
  return o.data ? buf_steal(&o) : xstrdup("");
}

/* Until the service runs and, when it has a health check (its own or its
 * image's), is healthy. */
static int wait_ready(struct adr_launch *l, const char *svc, const char *id, adr_err *err)
{
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct adr_container c = { 0 };
    if (adr_engine_container_inspect(l->engine, id, &c, err) < 0)
      return adr_err_prefix(err, "service '%s'", svc);
    bool running = streq(c.state, "running");
    const char *h = c.health;
    int code = c.exit_code;
    bool healthy = running && (!h || streq(h, "healthy") || streq(h, "none"));
    bool failed = !running && !streq(c.state, "created") && !streq(c.state, "restarting");
    bool unhealthy = running && h && streq(h, "unhealthy");
    bool checked = h != NULL;
    adr_container_free(&c);
    if (healthy) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      double s = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
      if (checked)
        adr_emit(&l->ev, ADR_EVENT_INFO, "service %s is healthy (%.1f s)", svc, s);
      return 0;
    }
    if (failed || unhealthy) {
      cleanup_free char *logs = launch_last_lines(l->engine, id);
      if (failed)
        return adr_err_set(err, ECHILD, "service '%s' exited with status %d%s%s", svc, code, *logs ? ": " : "", logs);
      return adr_err_set(err, ECHILD, "service '%s' is unhealthy%s%s", svc, *logs ? ": " : "", logs);
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec >= HEALTH_WAIT_S)
      return adr_err_set(err, ETIMEDOUT, "service '%s' is not healthy after %d s", svc, HEALTH_WAIT_S);
    usleep(200 * 1000);
  }
}

static void service_labels(const struct adr_launch *l, struct adr_spec *s, const char *svc)
{
  cleanup_strv struct strv labels = { 0 };
  adr_layout_gateway_labels(l->o->persistent, &labels); /* a transient run's: its owner */
  adr_spec_set_labels(s, &labels);
  adr_spec_set_label(s, ADR_LABEL_MANAGED, "1");
  adr_spec_set_label(s, ADR_LABEL_KIND, "service");
  adr_spec_set_label(s, ADR_LABEL_FOR, l->cname);
  adr_spec_set_label(s, ADR_LABEL_SERVICE, svc);
}

static int service_up(struct adr_launch *l, const struct adr_compose_service *sv, adr_err *err)
{
  cleanup_free char *image = NULL;
  if (sv->image) {
    int have = adr_engine_image_inspect(l->engine, sv->image, NULL, err);
    if (have < 0)
      return adr_err_prefix(err, "service '%s'", sv->name);
    if (have == 1)
      return adr_err_set(err, ENOENT, "service '%s': image '%s' is not here: pull it, or give the service a build",
                         sv->name, sv->image);
    image = xstrdup(sv->image);
  } else {
    cleanup_free char *what = xasprintf("service %s's image", sv->name);
    if (launch_dc_build(l, what, sv->build_context, sv->build_dockerfile, &sv->build_args, sv->name, &image, err) < 0)
      return adr_err_prefix(err, "service '%s'", sv->name);
  }
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.name = xasprintf("%s" ADR_SERVICE_INFIX "%s", l->cname, sv->name);
  s.image = xstrdup(image);
  s.hostname = xstrdup(sv->name);
  for (size_t i = 0; i < sv->env.n; i++)
    strv_push(&s.env, sv->env.v[i]);
  for (size_t i = 0; i < sv->command.n; i++)
    strv_push(&s.cmd, sv->command.v[i]);
  for (size_t i = 0; i < sv->entrypoint.n; i++)
    strv_push(&s.entrypoint, sv->entrypoint.v[i]);
  if (sv->user)
    s.user = xstrdup(sv->user);
  if (sv->working_dir)
    s.workdir = xstrdup(sv->working_dir);
  for (size_t i = 0; i < sv->binds.n; i++) {
    /* HOST:CONTAINER:ro|rw, HOST inside the project (compose.c) */
    cleanup_free char *copy = xstrdup(sv->binds.v[i]);
    char *mode = strrchr(copy, ':');
    *mode++ = '\0';
    char *dst = strrchr(copy, ':');
    *dst++ = '\0';
    adr_spec_add_bind(&s, copy, dst, streq(mode, "ro"));
  }
  for (size_t i = 0; i < sv->tmpfs.n; i++)
    adr_spec_add_tmpfs(&s, sv->tmpfs.v[i], 0, 0, -1, -1);
  for (size_t i = 0; i < sv->health_test.n; i++)
    strv_push(&s.health.test, sv->health_test.v[i]);
  s.health.interval_ms = sv->health_interval_ms;
  s.health.timeout_ms = sv->health_timeout_ms;
  s.health.start_period_ms = sv->health_start_ms;
  s.health.retries = sv->health_retries;
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, l->svc_net, NULL);
  strv_push(&s.net.aliases, sv->name);
  /* the project's program: the engine's default capabilities and root
   * file system, no more; the sandbox's limits */
  s.read_only_root = false;
  s.drop_all_caps = false;
  s.memory = (int64_t)l->memory;
  s.nano_cpus = l->nano_cpus;
  s.pids = SERVICE_PIDS;
  s.restart = l->spec.restart;
  service_labels(l, &s, sv->name);
  adr_emit(&l->ev, ADR_EVENT_INFO, "starting service %s (%s)", sv->name, image);
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(l->engine, &s, &id, err) < 0 || adr_engine_container_start(l->engine, id, err) < 0)
    return adr_err_prefix(err, "service '%s'", sv->name);
  return wait_ready(l, sv->name, id, err);
}

/* the sandbox's NO_PROXY (allowlist) lets the service names through */
static void no_proxy_services(struct adr_launch *l)
{
  cleanup_free char *names = strv_join(&l->services, ",");
  for (size_t i = 0; i < l->spec.env.n; i++)
    if (str_has_prefix(l->spec.env.v[i], "NO_PROXY=") || str_has_prefix(l->spec.env.v[i], "no_proxy=")) {
      char *old = l->spec.env.v[i];
      l->spec.env.v[i] = xasprintf("%s,%s", old, names);
      free(old);
    }
}

int launch_services_up(struct adr_launch *l, adr_err *err)
{
  if (!l->compose || !l->services.n)
    return 0;
  l->svc_net = xasprintf("%s" ADR_SERVICES_NET_SUFFIX, l->cname);
  /* the marker first: a kill from here on leaves what the reaper finds */
  cleanup_free char *marker = adr_layout_services_marker(l->cname);
  cleanup_free char *mdir = xstrdup(marker);
  *strrchr(mdir, '/') = '\0';
  if (adr_mkdir_p(mdir, 0700, err) < 0 || write_file_atomic(marker, l->svc_net, strlen(l->svc_net), 0600) < 0)
    return adr_err_sys(err, errno, "write '%s'", marker);
  /* internal, and no address on the host's side of the bridge: the
   * services reach each other and the agent, nothing of the host */
  struct adr_network_req nr = { .name = l->svc_net, .internal = true };
  strv_push(&nr.options, "com.docker.network.bridge.inhibit_ipv4=true");
  strv_push(&nr.options, "com.docker.network.bridge.enable_ip_masquerade=false");
  adr_layout_gateway_labels(l->o->persistent, &nr.labels);
  strv_push(&nr.labels, ADR_LABEL_MANAGED "=1");
  strv_push(&nr.labels, ADR_LABEL_KIND "=services-network");
  strv_pushf(&nr.labels, ADR_LABEL_FOR "=%s", l->cname);
  cleanup_free char *nid = NULL;
  int r = adr_engine_network_create(l->engine, &nr, &nid, err);
  strv_free(&nr.labels);
  strv_free(&nr.options);
  if (r < 0) {
    unlink(marker);
    free(l->svc_net);
    l->svc_net = NULL;
    return adr_err_prefix(err, "create network '%s' for the services", nr.name);
  }
  adr_spec_set_label(&l->spec, ADR_LABEL_SERVICES, l->svc_net);
  for (size_t i = 0; i < l->services.n; i++)
    if (service_up(l, adr_compose_find(l->compose, l->services.v[i]), err) < 0)
      return -1;
  /* the holder of the agent's network namespace joins the services' network */
  switch (l->spec.net.kind) {
  case ADR_SPEC_NET_NONE: adr_spec_set_net(&l->spec, ADR_SPEC_NET_ATTACH, l->svc_net, NULL); break;
  case ADR_SPEC_NET_JOIN:
    if (adr_engine_network_connect(l->engine, l->svc_net, l->spec.net.name, NULL, err) < 0)
      return adr_err_prefix(err, "connect '%s' to the services", l->spec.net.name);
    break;
  case ADR_SPEC_NET_ATTACH: no_proxy_services(l); break; /* the sandbox joins once made */
  case ADR_SPEC_NET_OUTBOUND:
  default: break;
  }
  return 0;
}

int launch_services_join(struct adr_launch *l, adr_err *err)
{
  if (!l->svc_net || !l->id)
    return 0;
  if ((l->spec.net.kind == ADR_SPEC_NET_ATTACH && !streq(l->spec.net.name, l->svc_net)) ||
      l->spec.net.kind == ADR_SPEC_NET_OUTBOUND)
    if (adr_engine_network_connect(l->engine, l->svc_net, l->id, NULL, err) < 0)
      return adr_err_prefix(err, "connect sandbox '%s' to the services", l->cname);
  return 0;
}
