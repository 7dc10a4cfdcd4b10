/* A sandbox's network policy: its mode, and in allowlist mode the entries
 * adr's egress gateway (src/gateway) lets through.
 *
 * Entries come from the agent definition ("api_hosts"), the user (--allow,
 * ADR_ALLOW) and presets derived from the host's own configuration (the
 * "packages" preset reads apt sources, npm's registry, pip's index and the
 * workspace's git remotes), and are written to the gateway's policy file:
 *
 *   allow <pattern> <ports> <label...>
 *
 * Pure parsing and formatting here; the presets read host files and may run
 * npm/python3/git (argv vectors). */
#ifndef ADR_NETPOLICY_H
#define ADR_NETPOLICY_H

#include "err.h"
#include "util.h"

#include <stdbool.h>

enum adr_netmode { ADR_NET_ALLOWLIST = 0, ADR_NET_NONE, ADR_NET_OPEN };

int adr_netmode_parse(const char *s, enum adr_netmode *m, adr_err *err);
const char *adr_netmode_name(enum adr_netmode m);

struct adr_allow {
  char *pattern; /* lowercase name, "*.suffix", IPv4/IPv6 address or CIDR */
  char *ports;   /* "80,443", "8080", "*" */
  char *label;   /* where it came from, e.g. "--allow example.com:8443" */
  bool ip;       /* pattern is an address or CIDR */
};

struct adr_netpolicy {
  enum adr_netmode mode;
  struct adr_allow *v;
  size_t n;
};
void adr_netpolicy_free(struct adr_netpolicy *p);
static inline void adr_netpolicy_cleanup(struct adr_netpolicy *p) { adr_netpolicy_free(p); }
#define cleanup_netpolicy __attribute__((cleanup(adr_netpolicy_cleanup)))

/* Parses one entry, HOST[:PORT] / [IPV6][:PORT] / IPV6 / CIDR[:PORT]
 * (PORT a number or '*'; no port = 80 and 443), and appends it with the
 * label "SOURCE ENTRY".  Wildcards only as a leading "*." label. */
int adr_netpolicy_add(struct adr_netpolicy *p, const char *entry, const char *source, adr_err *err);
/* Adds every space/comma separated entry of list. */
int adr_netpolicy_add_list(struct adr_netpolicy *p, const char *list, const char *source, adr_err *err);

/* The gateway's policy file text (caller frees). */
char *adr_netpolicy_format(const struct adr_netpolicy *p);
/* Ports the gateway intercepts for programs that ignore proxy settings:
 * 80, 443 and every explicit port of an entry (not 53, the DNS port). */
void adr_netpolicy_ports(const struct adr_netpolicy *p, struct strv *ports);

/* Presets.  "packages": package sources of this host and workspace.
 * Adds entries labelled "preset packages (apt)" and so on. */
int adr_netpolicy_preset(struct adr_netpolicy *p, const char *name, const char *workspace, adr_err *err);
const char *const *adr_netpolicy_preset_names(void);

/* Pieces of the presets, for tests: host and port of a URL (http, https,
 * ssh, git, scp-like "user@host:path"); 0 on success. */
int adr_url_host_port(const char *url, char **host, unsigned *port);
/* Adds the hosts of the URIs in an apt sources text (one-line .list or
 * deb822 .sources), as "host:port". */
void adr_apt_sources_hosts(const char *text, struct strv *out);

/* Subnet number attempt (0, 1, ...) of the pool (an IPv4 CIDR of /16 to
 * /24), in /28 blocks, starting from a spot chosen by seed.  Fills the
 * network ("10.213.4.16/28"), the gateway's (.2) and returns -1 with err
 * for a bad pool. */
int adr_subnet_pick(const char *pool, const char *seed, unsigned attempt, char **subnet, char **gateway, adr_err *err);

#endif
