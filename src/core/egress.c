#include "egress-int.h"
#include "buf.h"
#include "creds.h"
#include "gwproto.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef ADR_LIBEXEC_REL
#define ADR_LIBEXEC_REL "../libexec/adr/adr-gateway"
#endif

char *adr_egress_log_path(const char *dir) { return xasprintf("%s/" GW_FILE_LOG, dir); }

char *adr_gateway_bin(adr_err *err)
{
  const char *env = getenv("ADR_GATEWAY");
  if (env && *env) {
    char *r = realpath(env, NULL);
    if (!r)
      adr_err_sys(err, errno, "ADR_GATEWAY '%s'", env);
    return r;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
      *slash = '\0';
      const char *rel[] = { ADR_LIBEXEC_REL, "adr-gateway" };
      for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
        cleanup_free char *p = xasprintf("%s/%s", self, rel[i]);
        if (access(p, X_OK) == 0)
          return realpath(p, NULL);
      }
    }
  }
  adr_err_set(err, ENOENT,
              "adr-gateway not found next to adr or in ../libexec/adr (reinstall adr, or set ADR_GATEWAY)");
  return NULL;
}

int egress_write_text(const char *path, const char *text, unsigned mode, adr_err *err)
{
  if (write_file_atomic(path, text, strlen(text), mode) < 0)
    return adr_err_sys(err, errno, "write '%s'", path);
  return 0;
}

void egress_base_labels(const struct adr_egress_req *r, struct strv *labels, const char *kind)
{
  strv_pushf(labels, "%s=1", ADR_LABEL_MANAGED);
  strv_pushf(labels, "%s=%s", ADR_LABEL_KIND, kind);
  strv_pushf(labels, "%s=%s", ADR_LABEL_FOR, r->sandbox);
  strv_pushf(labels, "%s=%s", ADR_LABEL_NETMODE, adr_netmode_name(r->policy->mode));
  for (size_t i = 0; r->labels && i < r->labels->n; i++)
    strv_push(labels, r->labels->v[i]);
}

/* The gateway's (or holder's) container, common part. */
void egress_gateway_spec(const struct adr_egress_req *r, struct adr_spec *g)
{
  adr_spec_init(g);
  g->name = xasprintf("%s" ADR_EGRESS_GW_SUFFIX, r->sandbox);
  g->image = xstrdup(r->image);
  strv_push(&g->entrypoint, GW_BIN_IN);
  adr_spec_add_bind(g, r->gateway_bin, GW_BIN_IN, true);
  adr_spec_add_bind(g, r->dir, GW_DIR_IN, false);
  g->host_alias = true;
  g->init = false; /* the gateway handles its signals itself */
  g->memory = 512ll << 20;
  g->pids = r->relay ? 128 : 64; /* the relay: a thread per request, at most 64 */
  g->restart = ADR_RESTART_UNLESS_STOPPED;
  cleanup_strv struct strv labels = { 0 };
  egress_base_labels(r, &labels, "gateway");
  adr_spec_set_labels(g, &labels);
}

int egress_prepare_dir(const struct adr_egress_req *r, uid_t uid, gid_t gid, adr_err *err)
{
  if (adr_mkdir_p(r->dir, 0700, err) < 0)
    return -1;
  /* the log exists before the gateway runs, owned by the user running it */
  cleanup_free char *log = adr_egress_log_path(r->dir);
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return adr_err_sys(err, errno, "create '%s'", log);
  close(fd);
  if (geteuid() == 0 && (chown(r->dir, uid, gid) < 0 || chown(log, uid, gid) < 0))
    return adr_err_sys(err, errno, "chown '%s'", r->dir);
  return 0;
}

/* What a failed start leaves in dir: the policy, the ready file, an empty
 * log, the dir itself. A log with lines stays. */
void egress_remove_files(const char *dir)
{
  cleanup_free char *log = adr_egress_log_path(dir);
  struct stat st;
  if (stat(log, &st) == 0 && st.st_size == 0)
    unlink(log);
  adr_egress_down_files(dir);
}

/* The relay's files in dir and its options (the route file is readable
 * by the gateway's user only: it holds the keys). */
int egress_relay_setup(const struct adr_egress_req *r, uid_t uid, gid_t gid, struct strv *cmd, adr_err *err)
{
  if (!r->relay)
    return 0;
  cleanup_free char *rp = xasprintf("%s/" GW_FILE_ROUTES, r->dir);
  cleanup_free char *cp = xasprintf("%s/" GW_FILE_CA, r->dir);
  unlink(rp);
  if (egress_write_text(rp, r->relay, 0400, err) < 0 ||
      egress_write_text(cp, r->ca_pem ? r->ca_pem : "", 0644, err) < 0)
    return -1;
  if (geteuid() == 0 && chown(rp, uid, gid) < 0)
    return adr_err_sys(err, errno, "chown '%s'", rp);
  strv_push(cmd, GW_OPT_RELAY);
  strv_push(cmd, GW_PATH_ROUTES);
  strv_push(cmd, GW_OPT_RELAY_PORT);
  strv_pushf(cmd, "%d", GW_RELAY_PORT);
  strv_push(cmd, GW_OPT_CA);
  strv_push(cmd, GW_PATH_CA);
  return 0;
}

char *adr_egress_relay_url(const struct adr_spec *spec)
{
  if (spec->net.kind == ADR_SPEC_NET_JOIN)
    return xasprintf("http://" GW_HOLD_RELAY_ADDR ":%d", GW_RELAY_PORT);
  if (spec->net.kind != ADR_SPEC_NET_NONE && spec->dns.n)
    return xasprintf("http://%s:%d", spec->dns.v[0], GW_RELAY_PORT);
  return NULL;
}

/* Subnets an allowlist network may take: the pool's /28s in the order
 * adr_subnet_pick gives them (the engine skips those the host routes). */
int egress_subnet_candidates(const struct adr_egress_req *r, struct strv *subnets, struct strv *addrs, adr_err *err)
{
  for (unsigned attempt = 0; attempt < 64; attempt++) {
    cleanup_free char *subnet = NULL, *gwip = NULL;
    if (adr_subnet_pick(r->pool, r->sandbox, attempt, &subnet, &gwip, err) < 0)
      return -1;
    if (strv_contains(subnets, subnet))
      continue; /* a small pool: the attempts wrap around */
    strv_push(subnets, subnet);
    strv_push(addrs, gwip);
  }
  if (subnets->n == 0)
    return adr_err_set(err, EADDRINUSE,
                       "create network '%s" ADR_EGRESS_NET_SUFFIX "': no free /28 in ADR_NETWORK_POOL %s", r->sandbox,
                       r->pool);
  return 0;
}

/* The engine makes the plan real (the files the gateway reads are
 * written); the plan's gateway spec is spent either way. */
int egress_realise(struct adr_engine *e, const struct adr_egress_req *r, struct adr_egress_plan *p,
                   const char *ready_name, struct adr_egress_result *res, adr_err *err)
{
  cleanup_free char *ready = xasprintf("%s/%s", r->dir, ready_name);
  unlink(ready);
  p->ready_file = ready;
  p->ready_timeout_ms = r->ready_timeout_ms;
  int rc = adr_engine_egress_up(e, p, res, err);
  p->ready_file = NULL;
  adr_spec_free(&p->gateway);
  return rc;
}

void egress_allowlist_gateway(const struct adr_egress_req *r, struct adr_spec *g)
{
  uid_t uid = EGRESS_UID(r);
  gid_t gid = EGRESS_GID(r);
  egress_gateway_spec(r, g);
  g->user = xasprintf("%u:%u", (unsigned)uid, (unsigned)gid);
  strv_push(&g->sysctls, "net.ipv4.ip_unprivileged_port_start=0");
  /* it relays at the socket level; nothing is routed through it */
  strv_push(&g->sysctls, "net.ipv4.ip_forward=0");
  strv_push(&g->sysctls, "net.ipv4.conf.all.forwarding=0");
}

void egress_allowlist_args(const struct adr_egress_req *r, const char *addr, struct strv *args)
{
  strv_push(args, GW_OPT_POLICY);
  strv_push(args, GW_PATH_POLICY);
  strv_push(args, GW_OPT_LOG);
  strv_push(args, GW_PATH_LOG);
  strv_push(args, GW_OPT_READY);
  strv_push(args, GW_PATH_READY);
  strv_push(args, GW_OPT_SANDBOX);
  strv_push(args, r->sandbox);
  strv_push(args, GW_OPT_BIND);
  strv_push(args, addr);
  strv_push(args, GW_OPT_PROXY_PORT);
  strv_pushf(args, "%d", GW_PROXY_PORT);
  cleanup_strv struct strv ports = { 0 };
  adr_netpolicy_ports(r->policy, &ports);
  for (size_t i = 0; i < ports.n; i++) {
    if (strtol(ports.v[i], NULL, 10) == GW_PROXY_PORT)
      continue; /* the proxy port intercepts as well */
    strv_push(args, GW_OPT_PORT);
    strv_push(args, ports.v[i]);
  }
  for (size_t i = 0; r->resolvers && i < r->resolvers->n; i++) {
    strv_push(args, GW_OPT_RESOLVER);
    strv_push(args, r->resolvers->v[i]);
  }
}

void egress_listeners(const struct adr_egress_req *r, struct strv *out)
{
  strv_pushf(out, "tcp:%d", GW_PROXY_PORT);
  cleanup_strv struct strv ports = { 0 };
  adr_netpolicy_ports(r->policy, &ports);
  for (size_t i = 0; i < ports.n; i++) {
    cleanup_free char *l = xasprintf("tcp:%ld", strtol(ports.v[i], NULL, 10));
    if (!strv_contains(out, l))
      strv_push(out, l);
  }
  strv_pushf(out, "udp:%d", GW_DNS_PORT);
  strv_pushf(out, "tcp:%d", GW_DNS_PORT);
  if (r->relay)
    strv_pushf(out, "tcp:%d", GW_RELAY_PORT);
}

int egress_write_policy(const struct adr_egress_req *r, adr_err *err)
{
  cleanup_free char *policy = adr_netpolicy_format(r->policy);
  cleanup_free char *ppath = xasprintf("%s/" GW_FILE_POLICY, r->dir);
  return egress_write_text(ppath, policy, 0644, err);
}

void egress_point_sandbox(struct adr_spec *spec, const struct adr_egress_result *res, const char *dir)
{
  /* the sandbox: that network only, the gateway as its resolver (also
   * behind the engine's embedded DNS), no /etc/hosts shortcuts, proxies */
  const char *gwip = res->addr;
  adr_spec_set_net(spec, res->net.kind, res->net.name, res->net.ipv4);
  strv_free(&spec->dns);
  spec->host_alias = false;
  if (res->net.kind == ADR_SPEC_NET_JOIN) {
    /* a namespace the gateway serves (native): its resolver, hosts and
     * hostname come with it */
    free(spec->hostname);
    spec->hostname = NULL;
  } else {
    strv_push(&spec->dns, gwip);
  }
  cleanup_free char *proxy = xasprintf("http://%s:%d", gwip, GW_PROXY_PORT);
  const char *vars[] = { "HTTP_PROXY",  "HTTPS_PROXY",      "http_proxy",
                         "https_proxy", "npm_config_proxy", "npm_config_https_proxy" };
  for (size_t i = 0; i < ARRAY_SIZE(vars); i++)
    strv_pushf(&spec->env, "%s=%s", vars[i], proxy);
  /* the relay is reached directly */
  strv_pushf(&spec->env, "NO_PROXY=localhost,127.0.0.1,::1,%s", gwip);
  strv_pushf(&spec->env, "no_proxy=localhost,127.0.0.1,::1,%s", gwip);
  strv_pushf(&spec->env,
             "JAVA_TOOL_OPTIONS=-Dhttp.proxyHost=%s -Dhttp.proxyPort=%d -Dhttps.proxyHost=%s -Dhttps.proxyPort=%d "
             "-Dhttp.nonProxyHosts=localhost|127.0.0.1",
             gwip, GW_PROXY_PORT, gwip, GW_PROXY_PORT);
  adr_spec_set_label(spec, ADR_LABEL_NETMODE, "allowlist");
  cleanup_free char *logp = adr_egress_log_path(dir);
  adr_spec_set_label(spec, ADR_LABEL_EGRESS_LOG, logp);
}

static int up_allowlist(struct adr_engine *e, const struct adr_egress_req *r, struct adr_spec *spec, adr_err *err)
{
  /* the gateway's files are its user's; on an engine whose sandbox user is
   * the caller outside (native), the caller's */
  bool own = adr_engine_can(e, ADR_ENG_CAP_USERNS);
  uid_t fu = own ? getuid() : EGRESS_UID(r);
  gid_t fg = own ? getgid() : EGRESS_GID(r);
  if (egress_prepare_dir(r, fu, fg, err) < 0 || egress_write_policy(r, err) < 0)
    return -1;

  /* the network (the engine makes it): a subnet adr chose, so that the
   * gateway keeps its address across restarts */
  struct adr_egress_plan plan = { .mode = ADR_EGRESS_ALLOWLIST, .sandbox = r->sandbox, .pool = r->pool };
  cleanup_strv struct strv subnets = { 0 }, addrs = { 0 }, net_labels = { 0 };
  if (egress_subnet_candidates(r, &subnets, &addrs, err) < 0) {
    egress_remove_files(r->dir);
    return -1;
  }
  egress_base_labels(r, &net_labels, "network");
  cleanup_strv struct strv listen = { 0 };
  egress_listeners(r, &listen);
  plan.listen = &listen;
  plan.listen_arg = GW_OPT_LISTEN_FD;
  plan.subnets = &subnets;
  plan.addrs = &addrs;
  plan.net_labels = &net_labels;
  egress_allowlist_gateway(r, &plan.gateway); /* the plan owns it now */
  egress_allowlist_args(r, ADR_EGRESS_ADDR, &plan.gateway.cmd);
  struct adr_egress_result res = { 0 };
  if (egress_relay_setup(r, fu, fg, &plan.gateway.cmd, err) < 0 ||
      egress_realise(e, r, &plan, GW_FILE_READY, &res, err) < 0) {
    adr_spec_free(&plan.gateway);
    egress_remove_files(r->dir);
    return -1;
  }
  egress_point_sandbox(spec, &res, r->dir);
  adr_egress_result_free(&res);
  return 0;
}

static int up_open(struct adr_engine *e, const struct adr_egress_req *r, struct adr_spec *spec, adr_err *err)
{
  if (r->relay ? egress_prepare_dir(r, 0, 0, err) < 0 : adr_mkdir_p(r->dir, 0700, err) < 0)
    return -1;
  struct adr_spec g;
  egress_gateway_spec(r, &g);
  /* root in its own namespaces with one capability, to route the metadata
   * address nowhere; the holder drops it before it waits */
  g.user = xstrdup("0:0");
  strv_push(&g.cap_add, "NET_ADMIN");
  strv_push(&g.cap_add, "SETPCAP"); /* to empty its bounding set before it waits */
  g.hostname = spec->hostname ? xstrdup(spec->hostname) : NULL;
  /* with the relay: a thread per request, at most 64 at once */
  g.memory = r->relay ? 48ll << 20 : 16ll << 20;
  g.pids = r->relay ? 80 : 4;
  /* cloud metadata services: the common address, ECS task metadata,
   * Alibaba's, AWS's IPv6 one (not all of 169.254/16: some clouds put the
   * host's DNS resolver there) */
  const char *cmd[] = { GW_OPT_HOLD,
                        GW_OPT_BLACKHOLE,
                        GW_METADATA_V4 "/32",
                        GW_OPT_BLACKHOLE,
                        GW_METADATA_ECS_V4 "/32",
                        GW_OPT_BLACKHOLE,
                        GW_METADATA_ALIBABA_V4 "/32",
                        GW_OPT_BLACKHOLE,
                        GW_METADATA_V6 "/128",
                        GW_OPT_READY,
                        GW_PATH_READY };
  for (size_t i = 0; i < ARRAY_SIZE(cmd); i++)
    strv_push(&g.cmd, cmd[i]);
  if (geteuid() == 0 && chown(r->dir, 0, 0) < 0) {
    adr_spec_free(&g);
    return adr_err_sys(err, errno, "chown '%s'", r->dir);
  }
  if (r->relay) { /* the relay's decisions: logged as in allowlist mode */
    strv_push(&g.cmd, GW_OPT_LOG);
    strv_push(&g.cmd, GW_PATH_LOG);
    strv_push(&g.cmd, GW_OPT_SANDBOX);
    strv_push(&g.cmd, r->sandbox);
  }
  struct adr_egress_plan plan = { .mode = ADR_EGRESS_OPEN, .sandbox = r->sandbox, .gateway = g };
  /* the relay's listener, for an engine that makes it (native) */
  cleanup_strv struct strv listen = { 0 };
  if (r->relay)
    strv_pushf(&listen, "tcp:%d", GW_RELAY_PORT);
  plan.listen = &listen;
  plan.listen_arg = GW_OPT_LISTEN_FD;
  struct adr_egress_result res = { 0 };
  if (egress_relay_setup(r, 0, 0, &plan.gateway.cmd, err) < 0 ||
      egress_realise(e, r, &plan, GW_FILE_READY, &res, err) < 0) {
    adr_spec_free(&plan.gateway);
    egress_remove_files(r->dir);
    return -1;
  }
  /* the sandbox joins the holder's network namespace: hostname and hosts
   * come from there */
  adr_spec_set_net(spec, res.net.kind, res.net.name, res.net.ipv4);
  adr_egress_result_free(&res);
  adr_spec_set_label(spec, ADR_LABEL_NETMODE, "open");
  if (r->relay) {
    cleanup_free char *logp = adr_egress_log_path(r->dir);
    adr_spec_set_label(spec, ADR_LABEL_EGRESS_LOG, logp);
  }
  return 0;
}

int adr_egress_up(struct adr_engine *e, const struct adr_egress_req *r, struct adr_spec *spec, adr_err *err)
{
  switch (r->policy->mode) {
  case ADR_NET_NONE:
    adr_spec_set_net(spec, ADR_SPEC_NET_NONE, NULL, NULL);
    spec->host_alias = false;
    strv_free(&spec->dns);
    adr_spec_set_label(spec, ADR_LABEL_NETMODE, "none");
    return 0;
  case ADR_NET_OPEN:
  case ADR_NET_ALLOWLIST:
    if (!adr_engine_can(e, ADR_ENG_CAP_EGRESS))
      return adr_err_set(err, ENOTSUP,
                         "network '%s': the %s engine has no egress gateway yet; use --network none "
                         "(ADR_NETWORK=none) or a Docker or Podman engine (ADR_ENGINE=docker)",
                         r->policy->mode == ADR_NET_OPEN ? "open" : "allowlist", e->ops->name);
    return r->policy->mode == ADR_NET_OPEN ? up_open(e, r, spec, err) : up_allowlist(e, r, spec, err);
  }
  return adr_err_set(err, EINVAL, "unknown network mode");
}

void adr_egress_mcp_files_remove(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (str_has_prefix(de->d_name, ADR_EGRESS_MCP_PREFIX)) {
      cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
      unlink(p);
    }
  closedir(d);
  rmdir(dir); /* only when nothing else is kept there */
}

void adr_egress_down_files(const char *dir)
{
  adr_egress_mcp_files_remove(dir);
  const char *files[] = { GW_FILE_POLICY, GW_FILE_READY, GW_FILE_ROUTES, GW_FILE_CA, GW_FILE_CLAIM };
  for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
    cleanup_free char *p = xasprintf("%s/%s", dir, files[i]);
    unlink(p);
  }
  /* and what an interrupted atomic write of them left (NAME.tmp.PID) */
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
      for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        if (str_has_prefix(de->d_name, files[i]) && str_has_prefix(de->d_name + strlen(files[i]), ".tmp.")) {
          cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
          unlink(p);
        }
    closedir(d);
  }
  rmdir(dir); /* only when no log is kept */
}

int adr_egress_down(struct adr_engine *e, const char *sandbox, const char *dir, adr_err *err)
{
  /* an engine without egress made nothing to take down */
  int ret = adr_engine_can(e, ADR_ENG_CAP_EGRESS) ? adr_engine_egress_down(e, sandbox, err) : 0;
  if (dir)
    adr_egress_down_files(dir);
  return ret;
}

int adr_egress_denials(const char *log_path, size_t *n, char **top, adr_err *err)
{
  *n = 0;
  *top = NULL;
  cleanup_file FILE *f = fopen(log_path, "re");
  if (!f) {
    if (errno == ENOENT)
      return 0;
    return adr_err_sys(err, errno, "open '%s'", log_path);
  }
  struct {
    char key[300];
    size_t count;
  } seen[8];
  size_t ns = 0, other = 0;
  char line[4096];
  while (fgets(line, sizeof(line), f)) {
    if (!strstr(line, "\"verdict\":\"deny\""))
      continue;
    (*n)++;
    /* "host":"X","port":N */
    char host[256] = "", port[8] = "";
    const char *h = strstr(line, "\"host\":\"");
    if (h)
      sscanf(h + 8, "%255[^\"]", host);
    const char *p = strstr(line, "\"port\":");
    if (p)
      sscanf(p + 7, "%7[0-9]", port);
    char key[300];
    snprintf(key, sizeof(key), "%s%s%s", host, *port ? ":" : "", port);
    size_t i;
    for (i = 0; i < ns; i++)
      if (strcmp(seen[i].key, key) == 0)
        break;
    if (i < ns)
      seen[i].count++;
    else if (ns < ARRAY_SIZE(seen)) {
      snprintf(seen[ns].key, sizeof(seen[ns].key), "%s", key);
      seen[ns++].count = 1;
    } else
      other++;
  }
  if (*n) {
    struct buf b;
    buf_init(&b, 0);
    for (size_t i = 0; i < ns && i < 3; i++) {
      cleanup_free char *k = adr_str_escape(seen[i].key, 80);
      buf_printf(&b, "%s%s", i ? ", " : "", k);
      if (seen[i].count > 1)
        buf_printf(&b, " x%zu", seen[i].count);
    }
    if (ns > 3 || other)
      buf_puts(&b, ", ...");
    *top = buf_steal(&b);
  }
  return 0;
}
