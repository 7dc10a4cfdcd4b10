/* Docker engine: a sandbox's egress, realised from the plan core made
 * (engine.h).  Allowlist: an internal bridge network (no route out, no
 * address on the host's side) in the first free subnet of the plan, and
 * the gateway as a container on the default bridge connected to it at a
 * fixed address.  Open: the gateway as a holder container whose network
 * namespace the sandbox joins. */
#include "docker.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static void remove_quiet(struct adr_engine *e, const char *gw, const char *net)
{
  cleanup_err adr_err e1 = NULL, e2 = NULL;
  if (gw)
    adr_engine_container_remove(e, gw, true, &e1);
  if (net)
    adr_engine_network_remove(e, net, &e2);
}

/* Creates, connects (net, ip: allowlist), starts the gateway and waits
 * until it serves; on failure it is gone again. */
static int start_gateway(struct adr_engine *e, const struct adr_egress_plan *p, const char *net, const char *ip,
                         adr_err *err)
{
  const struct adr_spec *g = &p->gateway;
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(e, g, &id, err) < 0) {
    if ((*err)->errnum == EEXIST) { /* left by a killed adr: it served a sandbox of this name, now gone */
      remove_quiet(e, g->name, NULL);
      adr_err_free(err);
      if (adr_engine_container_create(e, g, &id, err) < 0)
        return adr_err_prefix(err, "create egress gateway '%s'", g->name);
    } else {
      return adr_err_prefix(err, "create egress gateway '%s'", g->name);
    }
  }
  if (net && adr_engine_network_connect(e, net, id, ip, err) < 0) {
    adr_err_prefix(err, "connect egress gateway to '%s'", net);
    remove_quiet(e, id, NULL);
    return -1;
  }
  if (adr_engine_container_start(e, id, err) < 0 ||
      adr_egress_wait_ready(e, id, p->ready_file, p->ready_timeout_ms ? p->ready_timeout_ms : 10000, err) < 0) {
    adr_err_prefix(err, "start egress gateway '%s'", g->name);
    remove_quiet(e, id, NULL);
    return -1;
  }
  return 0;
}

/* The internal network in the first subnet of the plan that is free;
 * *which: its index. */
static int make_network(struct adr_engine *e, const struct adr_egress_plan *p, const char *netname, size_t *which,
                        adr_err *err)
{
  /* internal (no route out), no address on the host's side of the bridge
   * (host services stay out of reach), a subnet adr chose so that the
   * gateway keeps its address across restarts */
  struct adr_network_req nr = { .name = netname, .internal = true };
  strv_push(&nr.options, "com.docker.network.bridge.inhibit_ipv4=true");
  strv_push(&nr.options, "com.docker.network.bridge.enable_ip_masquerade=false");
  for (size_t i = 0; p->net_labels && i < p->net_labels->n; i++)
    strv_push(&nr.labels, p->net_labels->v[i]);
  int made = -1;
  bool retried_name = false;
  for (size_t i = 0; p->subnets && i < p->subnets->n && made < 0; i++) {
    if (adr_host_routes(p->subnets->v[i]))
      continue;
    nr.subnet = p->subnets->v[i];
    cleanup_err adr_err e2 = NULL;
    if (adr_engine_network_create(e, &nr, NULL, &e2) == 0) {
      made = 0;
      *which = i;
      break;
    }
    if (e2->errnum == EADDRINUSE)
      continue;
    if (e2->errnum == EEXIST && !retried_name) { /* a killed adr's, for a sandbox of this name */
      retried_name = true;
      remove_quiet(e, NULL, netname);
      i--;
      continue;
    }
    adr_err_move(err, &e2);
    adr_err_prefix(err, "create network '%s'", netname);
    break;
  }
  strv_free(&nr.options);
  strv_free(&nr.labels);
  if (made < 0 && !*err)
    adr_err_set(err, EADDRINUSE, "create network '%s': no free /28 in ADR_NETWORK_POOL %s", netname,
                p->pool ? p->pool : "");
  return made;
}

/* Replaces the ADR_EGRESS_ADDR arguments of the gateway's command. */
static void put_address(struct adr_spec *g, const char *addr)
{
  for (size_t i = 0; i < g->cmd.n; i++)
    if (streq(g->cmd.v[i], ADR_EGRESS_ADDR)) {
      free(g->cmd.v[i]);
      g->cmd.v[i] = xstrdup(addr);
    }
}

static int up_allowlist(struct adr_engine *e, struct adr_egress_plan *p, struct adr_egress_result *res, adr_err *err)
{
  cleanup_free char *netname = xasprintf("%s" ADR_EGRESS_NET_SUFFIX, p->sandbox);
  size_t which = 0;
  if (make_network(e, p, netname, &which, err) < 0)
    return -1;
  const char *addr = p->addrs->v[which];
  put_address(&p->gateway, addr);
  if (start_gateway(e, p, netname, addr, err) < 0) {
    remove_quiet(e, NULL, netname);
    return -1;
  }
  res->net.kind = ADR_SPEC_NET_ATTACH;
  res->net.name = xstrdup(netname);
  res->addr = xstrdup(addr);
  return 0;
}

int docker_egress_up(struct adr_engine *e, struct adr_egress_plan *p, struct adr_egress_result *res, adr_err *err)
{
  memset(res, 0, sizeof(*res));
  if (!p->gateway.name)
    return adr_err_set(err, EINVAL, "egress gateway without a name");
  /* the gateway's way out: the engine's default bridge */
  adr_spec_set_net(&p->gateway, ADR_SPEC_NET_OUTBOUND, NULL, NULL);
  switch (p->mode) {
  case ADR_EGRESS_ALLOWLIST:
    if (!p->subnets || !p->addrs || p->addrs->n < p->subnets->n)
      return adr_err_set(err, EINVAL, "egress plan without subnets");
    return up_allowlist(e, p, res, err);
  case ADR_EGRESS_OPEN:
    if (start_gateway(e, p, NULL, NULL, err) < 0)
      return -1;
    /* the sandbox joins the holder's network namespace */
    res->net.kind = ADR_SPEC_NET_JOIN;
    res->net.name = xstrdup(p->gateway.name);
    return 0;
  }
  return adr_err_set(err, EINVAL, "unknown egress mode %d", (int)p->mode);
}

int docker_egress_down(struct adr_engine *e, const char *sandbox, adr_err *err)
{
  cleanup_free char *gw = xasprintf("%s" ADR_EGRESS_GW_SUFFIX, sandbox);
  cleanup_free char *net = xasprintf("%s" ADR_EGRESS_NET_SUFFIX, sandbox);
  cleanup_err adr_err e0 = NULL, e1 = NULL;
  int ret = 0;
  /* a stop first: the gateway logs its open connections on SIGTERM */
  adr_engine_container_stop(e, gw, 2, &e0);
  if (adr_engine_container_remove(e, gw, true, &e1) < 0 && e1->errnum != ENOENT) {
    adr_err_move(err, &e1);
    adr_err_prefix(err, "remove egress gateway '%s'", gw);
    ret = -1;
  }
  cleanup_err adr_err e2 = NULL;
  if (adr_engine_network_remove(e, net, &e2) < 0) {
    if (ret == 0) {
      adr_err_move(err, &e2);
      adr_err_prefix(err, "remove network '%s'", net);
    }
    ret = -1;
  }
  return ret;
}
