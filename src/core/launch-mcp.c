/* mcp.json's servers (mcp.h) in a launch: read at plan time for the
 * credential planner (creds-mcp.c), and the sidecars of those that need a
 * secret, made before the sandbox.
 *
 * A sidecar is SANDBOX-mcp-NAME: the sandbox's image (or the server's own),
 * the sandbox's user, hardening and limits, and none of its mounts: no
 * workspace (the agent writes there: a server that ran a file of it would
 * run the agent's code with the key), no config.  Its secrets come from a
 * file in the sandbox's egress directory (0400, the sidecar's user), never
 * from the engine's record of its environment.  It serves a unix socket in
 * /run/adr/mcp, a directory of the sandbox's identity directory: the
 * sandbox reaches it read-only (a socket needs no write access to its
 * directory to connect), the sidecar writable.  Each connection is one
 * server process.  Labelled for the sandbox (dev.adr.for, kind mcp): it
 * stops, goes and is reaped with it. */
#include "launch-int.h"
#include "egress.h"
#include "fs.h"
#include "layout.h"
#include "log.h"
#include "paths.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIDECAR_PIDS 256
#define SOCKET_WAIT_S 30

int launch_plan_mcp(struct adr_launch *l, adr_err *err)
{
  if (l->o->no_mcp || l->o->shell || l->o->command)
    return 0;
  cleanup_free char *path = adr_mcp_path();
  return adr_mcp_load(path, &l->mcp, err);
}

static const char *identity_source(const struct adr_launch *l)
{
  for (size_t i = 0; i < l->spec.n_mounts; i++)
    if (l->spec.mounts[i].type == ADR_MOUNT_BIND && streq(l->spec.mounts[i].target, "/run/adr"))
      return l->spec.mounts[i].source;
  return NULL;
}

static int wait_socket(struct adr_launch *l, const char *name, const char *id, const char *sock, adr_err *err)
{
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct stat st;
    if (stat(sock, &st) == 0 && S_ISSOCK(st.st_mode))
      return 0;
    struct adr_container c = { 0 };
    cleanup_err adr_err e = NULL;
    bool gone = adr_engine_container_inspect(l->engine, id, &c, &e) < 0 || !c.state ||
                (!streq(c.state, "running") && !streq(c.state, "created") && !streq(c.state, "restarting"));
    adr_container_free(&c);
    if (gone) {
      cleanup_free char *logs = launch_last_lines(l->engine, id);
      return adr_err_set(err, ECHILD, "MCP server '%s' (beside the sandbox) exited%s%s", name, *logs ? ": " : "", logs);
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec >= SOCKET_WAIT_S)
      return adr_err_set(err, ETIMEDOUT, "MCP server '%s': its sidecar did not listen within %d s", name,
                         SOCKET_WAIT_S);
    usleep(50 * 1000);
  }
}

static int sidecar_up(struct adr_launch *l, const struct adr_mcp_sidecar *c, const char *sockdir, adr_err *err)
{
  cleanup_free char *envf = xasprintf("%s/" ADR_EGRESS_MCP_PREFIX "%s.env", l->egress_dir, c->name);
  unlink(envf);
  if (write_file_atomic(envf, c->env_json, strlen(c->env_json), 0400) < 0)
    return adr_err_sys(err, errno, "write '%s'", envf);
  if (geteuid() == 0 && chown(envf, l->ro.uid, l->ro.gid) < 0)
    return adr_err_sys(err, errno, "chown '%s'", envf);
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.name = xasprintf("%s-mcp-%s", l->cname, c->name);
  s.image = xstrdup(c->image ? c->image : l->image);
  s.user = xstrdup(l->spec.user);
  s.workdir = xstrdup("/tmp");
  strv_push(&s.entrypoint, "node");
  strv_push(&s.cmd, "-e");
  strv_push(&s.cmd, adr_mcp_serve_js);
  strv_pushf(&s.cmd, ADR_MCP_SOCK_DIR "/%s.sock", c->name);
  strv_push(&s.cmd, ADR_MCP_ENV_PATH);
  strv_push(&s.cmd, c->name);
  for (size_t i = 0; i < c->argv.n; i++)
    strv_push(&s.cmd, c->argv.v[i]);
  strv_push(&s.env, "HOME=" ADR_SANDBOX_HOME);
  strv_push(&s.env, "LANG=C.UTF-8");
  strv_pushf(&s.env, "ADR_MCP_SERVER=%s", c->name);
  adr_spec_add_bind(&s, sockdir, ADR_MCP_SOCK_DIR, false);
  adr_spec_add_bind(&s, envf, ADR_MCP_ENV_PATH, true);
  adr_spec_add_tmpfs(&s, ADR_SANDBOX_HOME, l->home_size, 0700, (long)l->ro.uid, (long)l->ro.gid);
  adr_spec_add_tmpfs(&s, "/tmp", l->tmp_size, 01777, -1, -1);
  /* the sandbox's hardening and limits */
  s.read_only_root = l->spec.read_only_root;
  s.no_new_privileges = l->spec.no_new_privileges;
  s.drop_all_caps = true;
  if (l->ro.seccomp_profile && l->spec.seccomp == ADR_SECCOMP_ADR)
    adr_spec_set_seccomp(&s, ADR_SECCOMP_ADR, l->ro.seccomp_profile);
  s.memory = l->spec.memory;
  s.nano_cpus = l->spec.nano_cpus;
  s.pids = SIDECAR_PIDS;
  s.restart = l->spec.restart;
  s.init = true;
  s.net.kind = c->net_none ? ADR_SPEC_NET_NONE : ADR_SPEC_NET_OUTBOUND;
  cleanup_strv struct strv labels = { 0 };
  adr_layout_gateway_labels(l->o->persistent, &labels); /* a transient run's: its owner */
  adr_spec_set_labels(&s, &labels);
  adr_spec_set_label(&s, ADR_LABEL_MANAGED, "1");
  adr_spec_set_label(&s, ADR_LABEL_KIND, "mcp");
  adr_spec_set_label(&s, ADR_LABEL_FOR, l->cname);
  adr_emit(&l->ev, ADR_EVENT_INFO, "starting MCP server %s beside the sandbox (%s)", c->name, s.image);
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(l->engine, &s, &id, err) < 0 || adr_engine_container_start(l->engine, id, err) < 0)
    return adr_err_prefix(err, "MCP server '%s'", c->name);
  cleanup_free char *hostsock = xasprintf("%s/mcp/%s.sock", l->identity_dir, c->name);
  return wait_socket(l, c->name, id, hostsock, err);
}

int launch_mcp_up(struct adr_launch *l, adr_err *err)
{
  const struct adr_creds_plan *p = &l->creds;
  if (!p->n_sidecars)
    return 0;
  const char *src = identity_source(l);
  if (!src || !l->identity_dir)
    return adr_err_set(err, EINVAL, "MCP sidecars: the sandbox has no identity directory");
  cleanup_free char *hostdir = xasprintf("%s/mcp", l->identity_dir);
  cleanup_free char *sockdir = xasprintf("%s/mcp", src);
  if (adr_mkdir_p(hostdir, 0700, err) < 0 || adr_mkdir_p(l->egress_dir, 0700, err) < 0)
    return -1;
  /* the label first: a failure from here on is undone with the sandbox */
  adr_spec_set_label(&l->spec, ADR_LABEL_MCP, "1");
  l->mcp_up = true;
  for (size_t i = 0; i < p->n_sidecars; i++)
    if (sidecar_up(l, &p->sidecars[i], sockdir, err) < 0)
      return -1;
  return 0;
}
