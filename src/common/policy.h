/* The egress policy: the grammar of the policy file that adr writes
 * (src/core/netpolicy.c) and adr-gateway enforces, its one rule struct,
 * host names, address classes and the decision on (host, port).
 *
 * Here in src/common because both sides compile it: adr checks every entry
 * with this parser, so it never writes a policy file the gateway would
 * refuse.  Pure: nothing does I/O except gw_policy_load(); nothing prints.
 *
 * The file, one rule a line ('#' starts a comment line):
 *
 *   allow PATTERN PORTS LABEL...
 *
 *   PATTERN  a DNS name, "*.suffix" (names below suffix, not suffix
 *            itself), an IPv4 or IPv6 address, or a CIDR
 *   PORTS    '*' or ports 1-65535 separated by commas
 *   LABEL    the rest of the line: what the decision log names */
#ifndef ADR_POLICY_H
#define ADR_POLICY_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_POLICY_ALLOW "allow" /* the one directive */
#define GW_POLICY_MAX_BYTES (1024 * 1024)
#define GW_POLICY_MAX_LINE 4096

#define GW_NAME_MAX 253  /* a DNS name in text form, without the trailing dot */
#define GW_LABEL_MAX 255 /* rule labels are cut to this in the log */

/* ---------------------------------------------------------------- addresses */

struct gw_addr {
  int family; /* AF_INET or AF_INET6 */
  uint8_t a[16];
};

/* Parse an IPv4 or IPv6 literal (IPv6 optionally in brackets).  IPv4-mapped
 * IPv6 (::ffff:a.b.c.d) comes back as AF_INET.  0 on success. */
int gw_addr_parse(const char *s, size_t len, struct gw_addr *out);
/* "1.2.3.4:80" or "[::1]:80" */
void gw_addr_format(const struct gw_addr *a, int port, char *out, size_t cap);
/* In one of the special ranges (loopback, private, link-local, multicast,
 * NAT64, ...): usable only when an IP rule lists it. */
bool gw_addr_special(const struct gw_addr *a);
/* 169.254.169.254 or fd00:ec2::254 */
bool gw_addr_metadata(const struct gw_addr *a);
/* The first prefix bits of a and net (addresses as bytes) are the same. */
bool gw_addr_in_net(const uint8_t *a, const uint8_t *net, unsigned prefix);

/* ---------------------------------------------------------------- names */

/* Normalise a DNS name: lowercase, one trailing dot dropped, LDH or '_'
 * labels of 1..63 bytes not starting or ending with '-', at most 253 bytes,
 * the last label not all digits.
 * out has room for GW_NAME_MAX + 1.  0 on success, -1 when it is not a
 * valid name. */
int gw_name_normalize(const char *in, size_t len, char *out);

/* ---------------------------------------------------------------- policy */

enum gw_rule_kind { GW_RULE_NAME, GW_RULE_WILDCARD, GW_RULE_NET };

struct gw_rule {
  enum gw_rule_kind kind;
  char *name;         /* NAME: the name; WILDCARD: the suffix with its dot (".example.com") */
  struct gw_addr net; /* NET: network address (host bits cleared) */
  unsigned prefix;    /* NET: prefix length */
  bool any_port;
  uint16_t *ports;
  size_t nports;
  char *label;
  unsigned line;
};

struct gw_policy {
  struct gw_rule *r;
  size_t n;
};

/* Parse policy text; errors read "FILE:LINE: why". The policy is left empty
 * on error. */
int gw_policy_parse(struct gw_policy *p, const char *buf, size_t len, const char *file, adr_err *err);
int gw_policy_load(struct gw_policy *p, const char *path, adr_err *err);
void gw_policy_free(struct gw_policy *p);

/* The first name rule (file order) matching the normalised name, ignoring
 * ports; NULL if none.  (DNS answers use this.) */
const struct gw_rule *gw_policy_match_name(const struct gw_policy *p, const char *name);
/* The first IP rule covering (addr, port); NULL if none. */
const struct gw_rule *gw_policy_match_addr(const struct gw_policy *p, const struct gw_addr *a, uint16_t port);
bool gw_rule_port(const struct gw_rule *r, uint16_t port);

struct gw_decision {
  bool allow;
  const char *rule; /* the rule's label, or the deny reason */
  bool is_ip;       /* host was an IP literal: connect to addr */
  struct gw_addr addr;
  char name[GW_NAME_MAX + 1]; /* normalised name when !is_ip */
};

/* Steps 1 and 2 of the decision: on (host, port) alone, before any lookup. */
void gw_decide(const struct gw_policy *p, const char *host, uint16_t port, struct gw_decision *d);

/* Step 3: keep the addresses that may be used for port (special ranges only
 * when an IP rule covers them), in order, IPv4 first, at most max.  Returns
 * how many were kept; when none, *reason is "metadata" or "private-address". */
size_t gw_filter_addrs(const struct gw_policy *p, uint16_t port, struct gw_addr *v, size_t n, size_t max,
                       const char **reason);

/* ---------------------------------------------------------------- line files */

/* The line-by-line files (policy, routes): fn gets each line (at most
 * max_line bytes, no NUL) and may point *at (preset to lineno) at the line
 * an error belongs to; the first error becomes "FILE:AT: why". */
typedef int gw_line_fn(void *ud, const char *s, size_t n, unsigned lineno, unsigned *at, char *why, size_t wcap);
int gw_lines(const char *buf, size_t len, const char *file, size_t max_line, gw_line_fn *fn, void *ud, unsigned *nlines,
             adr_err *err);

#endif
