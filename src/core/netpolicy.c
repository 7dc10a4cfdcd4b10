#include "netpolicy.h"
#include "buf.h"
#include "gwproto.h"
#include "policy.h"
#include "paths.h"
#include "proc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int adr_netmode_parse(const char *s, enum adr_netmode *m, adr_err *err)
{
  if (streq(s, "allowlist"))
    *m = ADR_NET_ALLOWLIST;
  else if (streq(s, "none"))
    *m = ADR_NET_NONE;
  else if (streq(s, "open"))
    *m = ADR_NET_OPEN;
  else
    return adr_err_set(err, EINVAL, "invalid network mode '%s' (none, allowlist, open)", s ? s : "");
  return 0;
}

const char *adr_netmode_name(enum adr_netmode m)
{
  return m == ADR_NET_NONE ? "none" : m == ADR_NET_OPEN ? "open" : "allowlist";
}

void adr_netpolicy_free(struct adr_netpolicy *p)
{
  for (size_t i = 0; i < p->n; i++) {
    free(p->v[i].pattern);
    free(p->v[i].ports);
    free(p->v[i].label);
  }
  free(p->v);
  p->v = NULL;
  p->n = 0;
}

/* A DNS name: labels of letters, digits, '-' and '_', 1..63 bytes, no
 * leading or trailing '-', 253 bytes in all. */
static bool valid_name(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 253)
    return false;
  size_t lab = 0;
  for (size_t i = 0; i <= n; i++) {
    char c = s[i];
    if (c == '.' || c == '\0') {
      if (lab == 0 || lab > 63 || s[i - 1] == '-' || s[i - lab] == '-')
        return false;
      lab = 0;
      continue;
    }
    if (!(isalnum((unsigned char)c) || c == '-' || c == '_'))
      return false;
    lab++;
  }
  return true;
}

static bool valid_ports(const char *s)
{
  if (streq(s, "*"))
    return true;
  if (!*s)
    return false;
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p))
      return false;
  if (strlen(s) > 5)
    return false;
  long v = strtol(s, NULL, 10);
  return v >= 1 && v <= 65535 && s[0] != '0';
}

/* An address or CIDR; canonical text into *out. */
static bool parse_ip(const char *s, char **out)
{
  cleanup_free char *a = xstrdup(s);
  char *slash = strchr(a, '/');
  long bits = -1;
  if (slash) {
    *slash = '\0';
    const char *b = slash + 1;
    if (!*b || strlen(b) > 3)
      return false;
    for (const char *q = b; *q; q++)
      if (!isdigit((unsigned char)*q))
        return false;
    bits = strtol(b, NULL, 10);
  }
  unsigned char buf[16];
  char txt[INET6_ADDRSTRLEN];
  int af = strchr(a, ':') ? AF_INET6 : AF_INET;
  if (inet_pton(af, a, buf) != 1)
    return false;
  if (bits > (af == AF_INET ? 32 : 128))
    return false;
  inet_ntop(af, buf, txt, sizeof(txt));
  *out = bits >= 0 ? xasprintf("%s/%ld", txt, bits) : xstrdup(txt);
  return true;
}

int adr_netpolicy_add(struct adr_netpolicy *p, const char *entry, const char *source, adr_err *err)
{
  size_t len = strlen(entry);
  if (len == 0 || len > 300)
    return adr_err_set(err, EINVAL, "allow entry '%.40s': empty or too long", entry);
  for (const char *q = entry; *q; q++)
    if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
      return adr_err_set(err, EINVAL, "allow entry '%s': unexpected character", entry);
  cleanup_free char *host = NULL;
  const char *port = NULL;
  cleanup_free char *copy = xstrdup(entry);
  if (copy[0] == '[') { /* [v6] or [v6]:port */
    char *close = strchr(copy, ']');
    if (!close)
      return adr_err_set(err, EINVAL, "allow entry '%s': missing ']'", entry);
    *close = '\0';
    host = xstrdup(copy + 1);
    if (close[1] == ':')
      port = close + 2;
    else if (close[1])
      return adr_err_set(err, EINVAL, "allow entry '%s': expected ':PORT' after ']'", entry);
  } else {
    char *c1 = strchr(copy, ':');
    if (c1 && strchr(c1 + 1, ':')) { /* a bare IPv6 address: no port */
      host = xstrdup(copy);
    } else {
      if (c1) {
        *c1 = '\0';
        port = c1 + 1;
      }
      host = xstrdup(copy);
    }
  }
  if (port && !valid_ports(port))
    return adr_err_set(err, EINVAL, "allow entry '%s': invalid port '%s' (1-65535 or '*')", entry, port);
  struct adr_allow a = { 0 };
  cleanup_free char *ipc = NULL;
  if (parse_ip(host, &ipc)) {
    a.ip = true;
    a.pattern = xstrdup(ipc);
  } else {
    for (char *q = host; *q; q++)
      *q = (char)tolower((unsigned char)*q);
    size_t hl = strlen(host);
    if (hl > 1 && host[hl - 1] == '.')
      host[hl - 1] = '\0';
    const char *name = host;
    if (str_has_prefix(host, "*."))
      name = host + 2;
    if (strchr(name, '*'))
      return adr_err_set(err, EINVAL, "allow entry '%s': wildcards only as a leading '*.' (*.example.com)", entry);
    if (strchr(host, '/'))
      return adr_err_set(err, EINVAL, "allow entry '%s': not an address/prefix", entry);
    if (!valid_name(name))
      return adr_err_set(err, EINVAL, "allow entry '%s': '%s' is not a host name", entry, host);
    a.pattern = xstrdup(host);
  }
  a.ports = xstrdup(port ? port : "80,443");
  a.label = xasprintf("%s %s", source, entry);
  { /* what the gateway will read: its own parser must take it */
    cleanup_free char *line = xasprintf(GW_POLICY_ALLOW " %s %s %s\n", a.pattern, a.ports, a.label);
    struct gw_policy gp = { 0 };
    cleanup_err adr_err ge = NULL;
    int gr = gw_policy_parse(&gp, line, strlen(line), "entry", &ge);
    gw_policy_free(&gp);
    if (gr < 0) {
      const char *why = strstr(ge->msg, "entry:1: ");
      adr_err_set(err, EINVAL, "allow entry '%s': %s", entry, why ? why + 9 : ge->msg);
      free(a.pattern);
      free(a.ports);
      free(a.label);
      return -1;
    }
  }
  /* the same pattern and ports twice: keep the first (its label decides) */
  for (size_t i = 0; i < p->n; i++)
    if (streq(p->v[i].pattern, a.pattern) && streq(p->v[i].ports, a.ports)) {
      free(a.pattern);
      free(a.ports);
      free(a.label);
      return 0;
    }
  p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
  p->v[p->n++] = a;
  return 0;
}

int adr_netpolicy_add_list(struct adr_netpolicy *p, const char *list, const char *source, adr_err *err)
{
  cleanup_free char *copy = xstrdup(list ? list : "");
  char *save = NULL;
  for (char *t = strtok_r(copy, " \t\n,", &save); t; t = strtok_r(NULL, " \t\n,", &save))
    if (adr_netpolicy_add(p, t, source, err) < 0)
      return -1;
  return 0;
}

char *adr_netpolicy_format(const struct adr_netpolicy *p)
{
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "# adr egress policy (generated; one rule per line)\n");
  for (size_t i = 0; i < p->n; i++) {
    buf_puts(&b, GW_POLICY_ALLOW " ");
    buf_puts(&b, p->v[i].pattern);
    buf_puts(&b, " ");
    buf_puts(&b, p->v[i].ports);
    buf_puts(&b, " ");
    buf_puts(&b, p->v[i].label);
    buf_puts(&b, "\n");
  }
  return buf_steal(&b);
}

void adr_netpolicy_ports(const struct adr_netpolicy *p, struct strv *ports)
{
  if (!strv_contains(ports, "80"))
    strv_push(ports, "80");
  if (!strv_contains(ports, "443"))
    strv_push(ports, "443");
  for (size_t i = 0; i < p->n; i++) {
    if (streq(p->v[i].ports, "*"))
      continue;
    cleanup_free char *c = xstrdup(p->v[i].ports);
    char *save = NULL;
    for (char *t = strtok_r(c, ",", &save); t; t = strtok_r(NULL, ",", &save))
      if (!streq(t, GW_STR(GW_DNS_PORT)) && !strv_contains(ports, t))
        strv_push(ports, t);
  }
}

int adr_url_host_port(const char *url, char **host, unsigned *port)
{
  *host = NULL;
  *port = 0;
  const char *s = url;
  unsigned def = 0;
  const char *sep = strstr(s, "://");
  if (sep) {
    size_t sl = (size_t)(sep - s);
    if ((sl == 5 && strncasecmp(s, "https", 5) == 0) || (sl == 9 && strncasecmp(s, "git+https", 9) == 0))
      def = 443;
    else if (sl == 4 && strncasecmp(s, "http", 4) == 0)
      def = 80;
    else if ((sl == 3 && strncasecmp(s, "ssh", 3) == 0) || (sl == 7 && strncasecmp(s, "git+ssh", 7) == 0))
      def = 22;
    else if (sl == 3 && strncasecmp(s, "git", 3) == 0)
      def = 9418;
    else
      return -1; /* file:, cdrom:, mirror+file: ... */
    s = sep + 3;
  } else {
    /* scp-like user@host:path */
    const char *colon = strchr(s, ':');
    const char *slash = strchr(s, '/');
    if (!colon || (slash && slash < colon) || colon == s)
      return -1;
    /* "user@host:path" or "host.domain:path"; not "cdrom:[...]" */
    const char *at = memchr(s, '@', (size_t)(colon - s));
    const char *dot = memchr(s, '.', (size_t)(colon - s));
    if (!at && !dot)
      return -1;
    def = 22;
  }
  size_t end = strcspn(s, "/?#");
  cleanup_free char *auth = xstrndup(s, end);
  char *at = strrchr(auth, '@');
  char *hp = at ? at + 1 : auth;
  char *h = hp, *pp = NULL;
  if (*hp == '[') {
    char *close = strchr(hp, ']');
    if (!close)
      return -1;
    *close = '\0';
    h = hp + 1;
    if (close[1] == ':')
      pp = close + 2;
  } else {
    char *colon = strchr(hp, ':');
    if (colon) {
      *colon = '\0';
      pp = colon + 1;
    }
  }
  cleanup_free char *ipc = NULL;
  if (!*h || (!valid_name(h) && !parse_ip(h, &ipc)))
    return -1;
  unsigned pv = def;
  if (pp && *pp && sep) {
    if (!valid_ports(pp) || streq(pp, "*"))
      return -1;
    pv = (unsigned)strtoul(pp, NULL, 10);
  }
  *host = xstrdup(h);
  for (char *q = *host; *q; q++)
    *q = (char)tolower((unsigned char)*q);
  *port = pv;
  return 0;
}

/* ------------------------------------------------------------ subnets */

int adr_subnet_pick(const char *pool, const char *seed, unsigned attempt, char **subnet, char **gateway, adr_err *err)
{
  cleanup_free char *canon = NULL;
  if (!pool || !parse_ip(pool, &canon) || strchr(canon, ':') || !strchr(canon, '/'))
    return adr_err_set(err, EINVAL, "network pool '%s': not an IPv4 prefix like 10.213.0.0/16", pool ? pool : "");
  char *slash = strchr(canon, '/');
  long bits = strtol(slash + 1, NULL, 10);
  *slash = '\0';
  if (bits < 8 || bits > 24)
    return adr_err_set(err, EINVAL, "network pool '%s': prefix length must be 8..24", pool);
  struct in_addr a;
  inet_pton(AF_INET, canon, &a);
  uint32_t base = ntohl(a.s_addr) & (bits ? ~((1u << (32 - bits)) - 1) : 0);
  uint32_t blocks = 1u << (28 - bits);
  uint32_t h = 2166136261u; /* FNV-1a of the seed: different sandboxes start apart */
  for (const char *q = seed ? seed : ""; *q; q++)
    h = (h ^ (unsigned char)*q) * 16777619u;
  uint32_t idx = (h + attempt) % blocks;
  uint32_t net = base + (idx << 4);
  char t1[INET_ADDRSTRLEN], t2[INET_ADDRSTRLEN];
  struct in_addr n1 = { htonl(net) }, n2 = { htonl(net + 2) };
  inet_ntop(AF_INET, &n1, t1, sizeof(t1));
  inet_ntop(AF_INET, &n2, t2, sizeof(t2));
  *subnet = xasprintf("%s/28", t1);
  *gateway = xstrdup(t2);
  return 0;
}
