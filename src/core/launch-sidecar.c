/* Sidecars beside a sandbox: the MCP servers of mcp.json that need a secret,
 * and --ssh-agent's filter (sshagent.h).
 *
 * mcp.json's servers (mcp.h) in a launch: read at plan time for the
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
#include "sshagent.h"

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

static int wait_socket(struct adr_launch *l, const char *what, const char *id, const char *sock, adr_err *err)
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
      return adr_err_set(err, ECHILD, "%s (beside the sandbox) exited%s%s", what, *logs ? ": " : "", logs);
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec >= SOCKET_WAIT_S)
      return adr_err_set(err, ETIMEDOUT, "%s: its sidecar did not listen within %d s", what, SOCKET_WAIT_S);
    usleep(50 * 1000);
  }
}

/* One sidecar: a node program of adr's (cmd, after "node") serving a
 * socket in a directory of the identity dir (host_socket, waited for). */
struct sidecar {
  const char *what;   /* for messages */
  const char *suffix; /* its name: SANDBOX-SUFFIX */
  const char *image, *user;
  uid_t uid;
  gid_t gid;
  struct strv cmd, env;
  const char *bind_src[2], *bind_dst[2];
  bool bind_ro[2];
  bool net_none;
  const char *host_socket;
};

static int sidecar_make(struct adr_launch *l, struct sidecar *c, adr_err *err)
{
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.name = xasprintf("%s-%s", l->cname, c->suffix);
  s.image = xstrdup(c->image);
  s.user = xstrdup(c->user);
  s.workdir = xstrdup("/tmp");
  strv_push(&s.entrypoint, "node");
  for (size_t i = 0; i < c->cmd.n; i++)
    strv_push(&s.cmd, c->cmd.v[i]);
  strv_push(&s.env, "HOME=" ADR_SANDBOX_HOME);
  strv_push(&s.env, "LANG=C.UTF-8");
  for (size_t i = 0; i < c->env.n; i++)
    strv_push(&s.env, c->env.v[i]);
  for (size_t i = 0; i < 2; i++)
    if (c->bind_src[i])
      adr_spec_add_bind(&s, c->bind_src[i], c->bind_dst[i], c->bind_ro[i]);
  adr_spec_add_tmpfs(&s, ADR_SANDBOX_HOME, l->home_size, 0700, (long)c->uid, (long)c->gid);
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
  adr_spec_set_label(&s, ADR_LABEL_KIND, "sidecar");
  adr_spec_set_label(&s, ADR_LABEL_FOR, l->cname);
  adr_emit(&l->ev, ADR_EVENT_INFO, "starting %s beside the sandbox (%s)", c->what, s.image);
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(l->engine, &s, &id, err) < 0 || adr_engine_container_start(l->engine, id, err) < 0)
    return adr_err_prefix(err, "%s", c->what);
  return wait_socket(l, c->what, id, c->host_socket, err);
}

static int mcp_up(struct adr_launch *l, const struct adr_mcp_sidecar *m, const char *sockdir, adr_err *err)
{
  cleanup_free char *envf = xasprintf("%s/" ADR_EGRESS_MCP_PREFIX "%s.env", l->egress_dir, m->name);
  unlink(envf);
  if (write_file_atomic(envf, m->env_json, strlen(m->env_json), 0400) < 0)
    return adr_err_sys(err, errno, "write '%s'", envf);
  if (geteuid() == 0 && chown(envf, l->ro.uid, l->ro.gid) < 0)
    return adr_err_sys(err, errno, "chown '%s'", envf);
  cleanup_free char *what = xasprintf("MCP server %s", m->name), *suffix = xasprintf("mcp-%s", m->name);
  cleanup_free char *hostsock = xasprintf("%s/mcp/%s.sock", l->identity_dir, m->name);
  struct sidecar c = {
    .what = what,
    .suffix = suffix,
    .image = m->image ? m->image : l->image,
    .user = l->spec.user,
    .uid = l->ro.uid,
    .gid = l->ro.gid,
    .bind_src = { sockdir, envf },
    .bind_dst = { ADR_MCP_SOCK_DIR, ADR_MCP_ENV_PATH },
    .bind_ro = { false, true },
    .net_none = m->net_none,
    .host_socket = hostsock,
  };
  strv_push(&c.cmd, "-e");
  strv_push(&c.cmd, adr_mcp_serve_js);
  strv_pushf(&c.cmd, ADR_MCP_SOCK_DIR "/%s.sock", m->name);
  strv_push(&c.cmd, ADR_MCP_ENV_PATH);
  strv_push(&c.cmd, m->name);
  for (size_t i = 0; i < m->argv.n; i++)
    strv_push(&c.cmd, m->argv.v[i]);
  strv_pushf(&c.env, "ADR_MCP_SERVER=%s", m->name);
  int r = sidecar_make(l, &c, err);
  strv_free(&c.cmd);
  strv_free(&c.env);
  return r;
}

/* The ssh-agent filter: the user's agent socket in, the filtered one out
 * (a directory of the identity dir as it is on the host: the filter runs
 * as the agent socket's owner, the sandbox connects to a 0666 socket in a
 * directory only it sees); no network. */
static int ssh_agent_up(struct adr_launch *l, adr_err *err)
{
  cleanup_free char *dir = xasprintf("%s/ssh", l->identity_dir);
  cleanup_free char *hostsock = xasprintf("%s/agent.sock", dir);
  cleanup_free char *connect = xasprintf("%s/connect.js", dir);
  if (adr_mkdir_p(dir, 0755, err) < 0)
    return -1;
  chmod(dir, 0755);
  if (write_file_atomic(connect, adr_ssh_connect_js, strlen(adr_ssh_connect_js), 0644) < 0)
    return adr_err_sys(err, errno, "write '%s'", connect);
  cleanup_free char *user = xasprintf("%u:%u", (unsigned)l->ssh_uid, (unsigned)l->ssh_gid);
  struct sidecar c = {
    .what = "ssh-agent filter",
    .suffix = "ssh-agent",
    .image = l->image,
    .user = user,
    .uid = l->ssh_uid,
    .gid = l->ssh_gid,
    .bind_src = { dir, l->ssh_sock },
    .bind_dst = { ADR_SSH_AGENT_DIR, ADR_SSH_AGENT_UPSTREAM },
    .bind_ro = { false, true },
    .net_none = true,
    .host_socket = hostsock,
  };
  strv_push(&c.cmd, "-e");
  strv_push(&c.cmd, adr_ssh_filter_js);
  strv_push(&c.cmd, ADR_SSH_AGENT_SOCK);
  strv_push(&c.cmd, ADR_SSH_AGENT_UPSTREAM);
  for (size_t i = 0; i < l->ssh_keys.n; i++)
    strv_push(&c.cmd, l->ssh_keys.v[i]);
  int r = sidecar_make(l, &c, err);
  strv_free(&c.cmd);
  strv_free(&c.env);
  if (r == 0)
    strv_push(&l->spec.env, "SSH_AUTH_SOCK=" ADR_SSH_AGENT_SOCK);
  return r;
}

int launch_sidecars_up(struct adr_launch *l, adr_err *err)
{
  const struct adr_creds_plan *p = &l->creds;
  if (!p->n_sidecars && !l->ssh_sock)
    return 0;
  const char *src = identity_source(l);
  if (!src || !l->identity_dir)
    return adr_err_set(err, EINVAL, "sidecars: the sandbox has no identity directory");
  /* the label first: a failure from here on is undone with the sandbox */
  adr_spec_set_label(&l->spec, ADR_LABEL_SIDECARS, "1");
  l->sidecars_up = true;
  if (p->n_sidecars) {
    cleanup_free char *hostdir = xasprintf("%s/mcp", l->identity_dir);
    cleanup_free char *sockdir = xasprintf("%s/mcp", src);
    if (adr_mkdir_p(hostdir, 0700, err) < 0 || adr_mkdir_p(l->egress_dir, 0700, err) < 0)
      return -1;
    for (size_t i = 0; i < p->n_sidecars; i++)
      if (mcp_up(l, &p->sidecars[i], sockdir, err) < 0)
        return -1;
  }
  return l->ssh_sock ? ssh_agent_up(l, err) : 0;
}

/* --ssh-agent: the user's agent and the hosts' keys, checked at plan time */
int launch_plan_ssh_agent(struct adr_launch *l, adr_err *err)
{
  const struct strv *hosts = l->o->ssh_agent;
  if (!hosts || !hosts->n)
    return 0;
  if (l->pol.mode == ADR_NET_NONE)
    return launch_usage(err, "--ssh-agent: the sandbox has no network (--network none)");
  const char *sock = launch_getenv(l, "SSH_AUTH_SOCK");
  struct stat st;
  if (!sock || !*sock)
    return adr_err_set(err, ENOENT, "--ssh-agent: SSH_AUTH_SOCK is not set (start ssh-agent and ssh-add your key)");
  if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
    return adr_err_set(err, ENOENT, "--ssh-agent: SSH_AUTH_SOCK '%s' is not a socket", sock);
  cleanup_free char *kh = xasprintf("%s/.ssh/known_hosts", l->home);
  cleanup_strv struct strv names = { 0 };
  for (size_t i = 0; i < hosts->n; i++) {
    cleanup_strv struct strv parts = { 0 };
    cleanup_free char *copy = xstrdup(hosts->v[i]);
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      strv_push(&parts, t);
    for (size_t k = 0; k < parts.n; k++) {
      if (!*parts.v[k])
        continue;
      if (adr_ssh_known_keys(kh, parts.v[k], &l->ssh_keys, err) < 0)
        return -1;
      cleanup_free char *hp = strchr(parts.v[k], ':') ? xstrdup(parts.v[k]) : xasprintf("%s:22", parts.v[k]);
      if (l->pol.mode == ADR_NET_ALLOWLIST && adr_netpolicy_add(&l->pol, hp, "--ssh-agent:", err) < 0)
        return -1;
      strv_push(&names, parts.v[k]);
    }
  }
  if (l->pol.mode == ADR_NET_ALLOWLIST) { /* ssh through the egress gateway (CONNECT) */
    struct adr_creds_plan *p = &l->creds;
    p->overlays = xrealloc(p->overlays, (p->n_overlays + 1) * sizeof(*p->overlays));
    p->overlays[p->n_overlays].rel = xstrdup(".ssh/config");
    p->overlays[p->n_overlays].content = xstrdup(
      "# adr --ssh-agent: ssh through the sandbox's egress gateway\n"
      "Host *\n"
      "  ProxyCommand node " ADR_SSH_AGENT_DIR "/connect.js %h %p\n");
    p->n_overlays++;
  }
  l->ssh_sock = xstrdup(sock);
  l->ssh_uid = st.st_uid;
  l->ssh_gid = st.st_gid;
  cleanup_free char *list = strv_join(&names, ", ");
  adr_emit(&l->ev, ADR_EVENT_WARNING,
           "--ssh-agent: the agent can sign with your ssh-agent's keys for %s (only those hosts) while it runs", list);
  return 0;
}
