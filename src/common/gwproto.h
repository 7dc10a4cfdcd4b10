/* The contract between adr and adr-gateway: what adr's core
 * (src/core/egress.c, creds.c, netpolicy.c) writes and passes, and what
 * the gateway (src/gateway) accepts and reads.  Both sides include this
 * header, so a name changed here changes on both sides at once.  The
 * policy file's grammar is the other half of the contract: policy.h.
 *
 * adr runs the gateway in a container of its own: the static binary is
 * mounted at GW_BIN_IN, the sandbox's state directory on the host (policy,
 * route file, CA bundle, ready file, decision log) at GW_DIR_IN, and adr
 * passes the paths inside with the flags below.  The gateway knows no
 * path of its own: only these flags. */
#ifndef ADR_GWPROTO_H
#define ADR_GWPROTO_H

#define GW_STR_(x) #x
#define GW_STR(x) GW_STR_(x) /* a number macro as a string literal: GW_STR(GW_DNS_PORT) is "53" */

/* ---------------------------------------------------------------- flags */

/* adr-gateway's command line, dashes included.  The gateway proper: */
#define GW_OPT_POLICY "--policy"         /* FILE: the policy (policy.h) */
#define GW_OPT_LOG "--log"               /* FILE: the decision log, appended (JSON lines) */
#define GW_OPT_SANDBOX "--sandbox"       /* NAME: the sandbox, in every log line */
#define GW_OPT_BIND "--bind"             /* IPV4: where it listens */
#define GW_OPT_ANSWER "--answer"         /* IPV4: the A record of allowed names (default: --bind) */
#define GW_OPT_DNS_PORT "--dns-port"     /* N (GW_DNS_PORT) */
#define GW_OPT_PROXY_PORT "--proxy-port" /* N (GW_PROXY_PORT) */
#define GW_OPT_PORT "--port"             /* N, repeated: transparent ports */
#define GW_OPT_RESOLVER "--resolver"     /* IP[:PORT], repeated: upstream DNS (default: resolv.conf) */
#define GW_OPT_READY "--ready-file"      /* PATH: "<pid>\n" once it serves */
#define GW_OPT_MAX_CONNS "--max-conns"   /* N */
#define GW_OPT_LOG_MAX "--log-max"       /* BYTES: the decision log's cap */
/* N, repeated: a listening socket it is given, made in the sandbox's
 * network namespace, not the gateway's; with any, it makes none of its
 * own (and an address of its own namespace is then never one of them) */
#define GW_OPT_LISTEN_FD "--listen-fd"
/* open mode's namespace holder: */
#define GW_OPT_HOLD "--hold"
#define GW_OPT_BLACKHOLE "--blackhole" /* CIDR, repeated: routed nowhere */
/* the credential relay, with either: */
#define GW_OPT_RELAY "--relay"           /* FILE: the route file (below) */
#define GW_OPT_RELAY_PORT "--relay-port" /* N (GW_RELAY_PORT) */
#define GW_OPT_CA "--ca"                 /* FILE: PEM bundle upstream certificates are verified against */
#define GW_OPT_HELP "--help"
#define GW_OPT_WAIT_CLAIM "--wait-claim" /* FILE: a pooled gateway (claim.c) waits for its options there */
/* The only option, in a warm sandbox (adr's ADR_WARM): waits for FILE,
 * then runs the program it names (NUL-separated: the absolute path, then
 * its arguments) in its place, with the sandbox's environment. */
#define GW_OPT_EXEC_CLAIM "--exec-claim"

/* ---------------------------------------------------------------- ports */

#define GW_PROXY_PORT 3128 /* the HTTP proxy (CONNECT, absolute-form); also intercepts */
#define GW_RELAY_PORT 3129 /* the credential relay (plain HTTP from the sandbox) */
#define GW_DNS_PORT 53     /* the DNS server (UDP and TCP): the sandbox's resolver */
/* In open mode the relay listens on loopback of the holder's namespace,
 * which the sandbox joins. */
#define GW_HOLD_RELAY_ADDR "127.0.0.1"

/* ---------------------------------------------------------------- paths */

#define GW_BIN_IN "/usr/local/libexec/adr-gateway" /* where the binary is mounted */
#define GW_DIR_IN "/run/adr-egress"                /* where the state directory is mounted */

/* The files in the state directory (the same names on the host). */
#define GW_FILE_POLICY "policy"
#define GW_FILE_LOG "egress.jsonl"
#define GW_FILE_READY "ready"
#define GW_FILE_ROUTES "relay" /* holds the keys: readable by the gateway's user only */
#define GW_FILE_CA "ca.pem"
#define GW_FILE_CLAIM "claim"     /* a pooled gateway's options, NUL-separated */
#define GW_FILE_WAITING "waiting" /* a pooled gateway waits for its claim */

/* ... and as the gateway sees them */
#define GW_PATH_POLICY GW_DIR_IN "/" GW_FILE_POLICY
#define GW_PATH_LOG GW_DIR_IN "/" GW_FILE_LOG
#define GW_PATH_READY GW_DIR_IN "/" GW_FILE_READY
#define GW_PATH_ROUTES GW_DIR_IN "/" GW_FILE_ROUTES
#define GW_PATH_CA GW_DIR_IN "/" GW_FILE_CA

/* ---------------------------------------------------------------- metadata */

/* The cloud metadata services (the common address, ECS task metadata,
 * Alibaba's, AWS's IPv6 one): adr has the holder route them nowhere
 * (GW_OPT_BLACKHOLE); the gateway never connects to them but by a rule for
 * exactly that address (gw_addr_metadata() in policy.c, by their bytes). */
#define GW_METADATA_V4 "169.254.169.254"
#define GW_METADATA_ECS_V4 "169.254.170.2"
#define GW_METADATA_ALIBABA_V4 "100.100.100.200"
#define GW_METADATA_V6 "fd00:ec2::254"

/* ---------------------------------------------------------------- route file */

/* The credential relay's route file (GW_FILE_ROUTES, written by adr's
 * creds.c, read by the gateway's relay-routes.c), one line each, '#'
 * starting a comment line:
 *
 *   route NAME https://HOST[:PORT][/BASEPATH]
 *   sentinel TOKEN
 *   key TOKEN
 *   path PATTERN          (one or more)
 *
 * The sandbox holds only the sentinel; the relay swaps in the key.  NAME
 * is 1 to GW_ROUTE_NAME_MAX of a-z, 0-9 and '-', the first path segment
 * of a request to the relay; a TOKEN is 1 to GW_TOKEN_MAX printable
 * ASCII bytes without spaces; a PATTERN starts with '/' and may end in
 * '*' (one more path segment). */
#define GW_ROUTE_KW_ROUTE "route"
#define GW_ROUTE_KW_SENTINEL "sentinel"
#define GW_ROUTE_KW_KEY "key"
#define GW_ROUTE_KW_PATH "path"
#define GW_ROUTE_NAME_MAX 32
#define GW_TOKEN_MAX 4096
#define GW_ROUTES_MAX_BYTES (1024 * 1024)

/* The relay serves at most this many requests at once (a thread each);
 * beyond, 503. */
#define GW_RELAY_MAX_CONNS 64

#endif
