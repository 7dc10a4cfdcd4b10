/* A sandbox's network: in allowlist mode an internal network with no
 * route out and adr's egress gateway (src/gateway, with the engine's
 * outbound network too) as the only peer; in open mode a small holder that
 * owns the network namespace, with the metadata address routed nowhere; in
 * none mode no network at all.
 *
 * Here adr decides it: the gateway's files (policy, log, relay routes, CA
 * bundle) and its sandbox (program, arguments, identity, limits, labels),
 * the subnets the network may take, as an adr_egress_plan (engine.h); the
 * engine realises the plan (adr_engine_egress_up/down).
 *
 *   adr_egress_up()    before the sandbox is created: writes the files, has
 *                      the engine make the network and the gateway and wait
 *                      until it serves, and points the sandbox spec at it
 *                      (network, DNS, proxy variables)
 *   adr_egress_down()  after the sandbox is gone: has the engine remove both
 *                      and removes the files; the decision log stays (adr
 *                      logs --egress)
 *
 * Every object is named after the sandbox (NAME-gw, NAME-net) and labelled
 * dev.adr.for=NAME, so that a killed adr's leftovers are found and reaped. */
#ifndef ADR_EGRESS_H
#define ADR_EGRESS_H

#include "buf.h"
#include "engine.h"
#include "netpolicy.h"
#include "spec.h"

#include <sys/types.h>

struct adr_egress_req {
  const char *sandbox; /* sandbox container name */
  const struct adr_netpolicy *policy;
  const char *image;            /* image the gateway runs in (any: the binary is static) */
  const char *gateway_bin;      /* host path of adr-gateway */
  const char *dir;              /* host dir: policy, ready file, decision log */
  const char *pool;             /* ADR_NETWORK_POOL */
  const struct strv *resolvers; /* ADR_DNS, may be empty */
  const struct strv *labels;    /* extra labels (owner of a transient run) */
  const char *relay;            /* credential relay route file (creds.h; holds the
                                   keys), NULL: no relay */
  const char *ca_pem;           /* with relay: the CAs its upstreams are checked with */
  uid_t uid;                    /* the gateway's uid:gid (never 0: 65534 then) */
  gid_t gid;
  int ready_timeout_ms;
};

/* Makes the network objects for s->mode and rewrites spec (network, DNS,
 * hosts, proxy variables).  On failure nothing it made is left. */
int adr_egress_up(struct adr_engine *e, const struct adr_egress_req *r, struct adr_spec *spec, adr_err *err);
/* Removes SANDBOX-gw and SANDBOX-net (absent ones are fine) and the
 * gateway's files in dir except the log. */
int adr_egress_down(struct adr_engine *e, const char *sandbox, const char *dir, adr_err *err);

/* Removes the gateway's files in dir (policy, ready file) and dir when
 * nothing else is left; the decision log stays. */
void adr_egress_down_files(const char *dir);

/* The credential relay's base URL as the sandbox reaches it, once
 * adr_egress_up made the spec's network (NULL in none mode). */
char *adr_egress_relay_url(const struct adr_spec *spec);

/* The CA certificates a relay trusts: the host's bundle (SSL_CERT_FILE, or
 * the system's) followed by the given PEM files. */
int adr_ca_bundle(const struct strv *extra, struct buf *out, adr_err *err);

/* The decision log of a sandbox's gateway, inside dir. */
char *adr_egress_log_path(const char *dir);

/* Denials in a decision log: count and a short "host:port xN, ..." of the
 * most frequent (caller frees *top); 0 with *n = 0 when there is no log. */
int adr_egress_denials(const char *log_path, size_t *n, char **top, adr_err *err);

/* The host path of adr-gateway: ADR_GATEWAY, else next to the running adr
 * (a build directory), else PREFIX/libexec/adr/adr-gateway. */
char *adr_gateway_bin(adr_err *err);

#endif
