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
  bool own_interface; /* a claimed pool unit: the sandbox gets an interface of its own on
                         the unit's network, not the holder's namespace (a persistent agent:
                         the engine restarts it without its holder;
                         adr_egress_pool_drop_holder) */
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
/* An MCP sidecar's environment file in a sandbox's egress dir:
 * mcp-NAME.env (it holds the server's secrets; launch-mcp.c) */
#define ADR_EGRESS_MCP_PREFIX "mcp-"
void adr_egress_mcp_files_remove(const char *dir);

/* ------------------------------------------------------------ the pool
 *
 * Making an internal network and starting a gateway costs a run about
 * 300 ms, and a sandbox's own interface on it about 50 ms more; the pool (ADR_EGRESS_POOL units, default 1) makes them ahead.  A
 * unit is a network, a gateway that waits for its claim (adr-gateway
 * --wait-claim) and a holder of the network namespace the sandbox joins
 * (adr-gateway --hold: no interface is made when the sandbox starts),
 * named adr-pool-XXXXXXXX(-net, -gw, -hold) and labelled dev.adr.pool.  One allowlist run claims one unit: its policy, relay
 * routes and CA go in then, and the gateway starts serving that sandbox
 * alone.  It is removed with the sandbox, never used again; adr makes a
 * new one after the run.  Files:
 *   STATE/pool/UNIT/        the gateway's dir while the unit is free; the
 *                           claim renames it to the sandbox's egress dir
 *   STATE/pool/.UNIT.lock   "PID:START BOOT HOLDER": made by the maker
 *                           (HOLDER "-") or the claimer (the sandbox), so
 *                           that a unit is never handed out twice; a lock
 *                           of a dead process is the reaper's. */

/* Claims a free unit for r->sandbox and points spec at it (as
 * adr_egress_up does, and labels spec with the unit); adr_egress_pool_served
 * before the sandbox starts.  0 with *unit set;
 * 1 when there is no free unit (or r is not allowlist); -1 with err,
 * nothing left claimed.  *relay_url: where the sandbox reaches the
 * credential relay (the gateway's address: adr_egress_relay_url cannot
 * tell it from a spec that joins the holder). */
int adr_egress_pool_claim(struct adr_engine *e, const struct adr_egress_req *r, struct adr_spec *spec, char **unit,
                          char **relay_url, adr_err *err);
/* Waits until the claimed unit's gateway serves (it loads the policy
 * meanwhile: the sandbox may be created, not started, before). */
int adr_egress_pool_served(struct adr_engine *e, const char *unit, const char *dir, adr_err *err);
/* The claimed unit's lock is taken over by this process (a detached
 * teardown, after its adr returned). */
void adr_egress_pool_adopt(const char *unit, const char *sandbox);
/* After the unit is down (adr_egress_down with its name): its lock goes. */
void adr_egress_pool_release(const char *unit);
/* Makes units until want are free (r: as for a run, its sandbox name and
 * dir unused), or removes free ones beyond want.  Skipped when another
 * adr is filling.  Returns how many are free. */
int adr_egress_pool_fill(struct adr_engine *e, const struct adr_egress_req *r, const char *hostname, unsigned want,
                         adr_err *err);
/* adr_egress_down for a claimed unit (its holder too). */
int adr_egress_pool_down(struct adr_engine *e, const char *unit, const char *dir, adr_err *err);
/* The units a dead process made or claimed (its lock says so) and whose
 * sandbox is gone; pool gateways with no lock and no dir (v: the managed
 * containers). */
void adr_egress_pool_reap(struct adr_engine *e, const struct adr_container *v, size_t n, const char *boot);
/* Removes the free units: how many, or -1 with err. */
int adr_egress_pool_drain(struct adr_engine *e, adr_err *err);
/* A unit claimed with own_interface: its holder is of no use (one more
 * peer on the sandbox's network), removed after the sandbox started. */
void adr_egress_pool_drop_holder(struct adr_engine *e, const char *unit);
/* s names a unit (adr-pool-HEX): what a label may name. */
bool adr_egress_pool_unit_name(const char *s);
/* How many units are free. */
unsigned adr_egress_pool_free(void);

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
