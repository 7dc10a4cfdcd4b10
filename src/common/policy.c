/* The policy file and the egress decision (policy.h); addresses, names
 * and the line reader are in policy-addr.c. */
#include "policy.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- policy */

void gw_policy_free(struct gw_policy *p)
{
  for (size_t i = 0; i < p->n; i++) {
    free(p->r[i].name);
    free(p->r[i].ports);
    free(p->r[i].label);
  }
  free(p->r);
  p->r = NULL;
  p->n = 0;
}

static int parse_ports(const char *s, size_t len, struct gw_rule *r, char *why, size_t whycap)
{
  if (len == 1 && s[0] == '*') {
    r->any_port = true;
    return 0;
  }
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    unsigned long v = 0;
    while (j < len && s[j] != ',') {
      if (s[j] < '0' || s[j] > '9' || j - i >= 5) {
        snprintf(why, whycap, "bad port list '%.*s' (want '*' or ports 1-65535 separated by commas)", (int)len, s);
        return -1;
      }
      v = v * 10 + (unsigned long)(s[j] - '0');
      j++;
    }
    if (j == i || v < 1 || v > 65535) {
      snprintf(why, whycap, "bad port list '%.*s' (want '*' or ports 1-65535 separated by commas)", (int)len, s);
      return -1;
    }
    r->ports = xrealloc(r->ports, (r->nports + 1) * sizeof(*r->ports));
    r->ports[r->nports++] = (uint16_t)v;
    i = j + 1;
  }
  return 0;
}

static int parse_pattern(const char *s, size_t len, struct gw_rule *r, char *why, size_t whycap)
{
  char name[GW_NAME_MAX + 1];
  const char *slash = memchr(s, '/', len);
  bool v6 = memchr(s, ':', len) != NULL;
  bool numeric = true;
  for (size_t i = 0; i < len && s + i != slash; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
      numeric = false;
  if (v6 || numeric || slash) {
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (gw_addr_parse(s, alen, &r->net) < 0 || (alen > 0 && s[0] == '[')) {
      snprintf(why, whycap, "bad address '%.*s'", (int)alen, s);
      return -1;
    }
    if (v6 && r->net.family == AF_INET) {
      snprintf(why, whycap, "IPv4-mapped address '%.*s': write it as IPv4", (int)alen, s);
      return -1;
    }
    unsigned maxp = r->net.family == AF_INET ? 32 : 128;
    r->prefix = maxp;
    if (slash) {
      const char *p = slash + 1;
      size_t plen = len - alen - 1;
      unsigned long v = 0;
      if (plen == 0 || plen > 3)
        goto bad_prefix;
      for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9')
          goto bad_prefix;
        v = v * 10 + (unsigned long)(p[i] - '0');
      }
      if (v > maxp)
        goto bad_prefix;
      r->prefix = (unsigned)v;
    }
    /* clear host bits */
    for (unsigned b = r->prefix; b < maxp; b++)
      r->net.a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
    r->kind = GW_RULE_NET;
    return 0;
  bad_prefix:
    snprintf(why, whycap, "bad prefix length in '%.*s'", (int)len, s);
    return -1;
  }
  if (len >= 2 && s[0] == '*' && s[1] == '.') {
    if (gw_name_normalize(s + 2, len - 2, name) < 0 || strchr(name, '*')) {
      snprintf(why, whycap, "bad wildcard '%.*s' (want '*.' and a DNS name)", (int)len, s);
      return -1;
    }
    r->kind = GW_RULE_WILDCARD;
    r->name = xasprintf(".%s", name);
    return 0;
  }
  if (gw_name_normalize(s, len, name) < 0) {
    snprintf(why, whycap, "bad host name '%.*s'", (int)(len > 300 ? 300 : len), s);
    return -1;
  }
  r->kind = GW_RULE_NAME;
  r->name = xstrdup(name);
  return 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static int parse_line(struct gw_policy *p, const char *s, size_t len, unsigned lineno, char *why, size_t whycap)
{
  size_t i = 0;
  while (i < len && is_space(s[i]))
    i++;
  while (len > i && (is_space(s[len - 1]) || s[len - 1] == '\r'))
    len--;
  if (i == len || s[i] == '#')
    return 0;
  for (size_t k = i; k < len; k++) {
    unsigned char c = (unsigned char)s[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      snprintf(why, whycap, "control byte 0x%02x in line", c);
      return -1;
    }
  }
  const char *f[3];
  size_t fl[3];
  for (int k = 0; k < 3; k++) {
    while (i < len && is_space(s[i]))
      i++;
    f[k] = s + i;
    while (i < len && !is_space(s[i]))
      i++;
    fl[k] = (size_t)(s + i - f[k]);
  }
  while (i < len && is_space(s[i]))
    i++;
  if (!(fl[0] == sizeof(GW_POLICY_ALLOW) - 1 && memcmp(f[0], GW_POLICY_ALLOW, fl[0]) == 0)) {
    snprintf(why, whycap, "unknown directive '%.*s' (want '" GW_POLICY_ALLOW " PATTERN PORTS LABEL')",
             (int)(fl[0] > 64 ? 64 : fl[0]), f[0]);
    return -1;
  }
  if (fl[1] == 0 || fl[2] == 0 || i == len) {
    snprintf(why, whycap, "incomplete rule (want '" GW_POLICY_ALLOW " PATTERN PORTS LABEL')");
    return -1;
  }
  struct gw_rule r = { .line = lineno };
  if (parse_pattern(f[1], fl[1], &r, why, whycap) < 0 || parse_ports(f[2], fl[2], &r, why, whycap) < 0) {
    free(r.name);
    free(r.ports);
    return -1;
  }
  r.label = xstrndup(s + i, len - i);
  p->r = xrealloc(p->r, (p->n + 1) * sizeof(*p->r));
  p->r[p->n++] = r;
  return 0;
}

static int policy_line(void *ud, const char *s, size_t n, unsigned lineno, unsigned *at, char *why, size_t wcap)
{
  (void)at;
  return parse_line(ud, s, n, lineno, why, wcap);
}

int gw_policy_parse(struct gw_policy *p, const char *buf, size_t len, const char *file, adr_err *err)
{
  p->r = NULL;
  p->n = 0;
  if (len > GW_POLICY_MAX_BYTES)
    return adr_err_set(err, EFBIG, "%s: larger than %d bytes", file, GW_POLICY_MAX_BYTES);
  if (gw_lines(buf, len, file, GW_POLICY_MAX_LINE, policy_line, p, NULL, err) < 0) {
    gw_policy_free(p);
    return -1;
  }
  return 0;
}

int gw_policy_load(struct gw_policy *p, const char *path, adr_err *err)
{
  p->r = NULL;
  p->n = 0;
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return adr_err_sys(err, errno, "policy %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return adr_err_sys(err, errno, "policy %s", path);
  if (!S_ISREG(st.st_mode))
    return adr_err_set(err, EINVAL, "policy %s: not a regular file", path);
  if (st.st_size > GW_POLICY_MAX_BYTES)
    return adr_err_set(err, EFBIG, "policy %s: larger than %d bytes", path, GW_POLICY_MAX_BYTES);
  size_t cap = (size_t)st.st_size + 1, len = 0;
  cleanup_free char *buf = xmalloc(cap);
  for (;;) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return adr_err_sys(err, errno, "policy %s", path);
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == cap) /* grew while we read */
      return adr_err_set(err, EFBIG, "policy %s: changed while read", path);
  }
  return gw_policy_parse(p, buf, len, path, err);
}

bool gw_rule_port(const struct gw_rule *r, uint16_t port)
{
  if (r->any_port)
    return true;
  for (size_t i = 0; i < r->nports; i++)
    if (r->ports[i] == port)
      return true;
  return false;
}

static bool rule_name(const struct gw_rule *r, const char *name, size_t nlen)
{
  if (r->kind == GW_RULE_NAME)
    return strcmp(r->name, name) == 0;
  if (r->kind == GW_RULE_WILDCARD) {
    size_t sl = strlen(r->name); /* ".example.com" */
    return nlen > sl && memcmp(name + nlen - sl, r->name, sl) == 0;
  }
  return false;
}

const struct gw_rule *gw_policy_match_name(const struct gw_policy *p, const char *name)
{
  size_t nlen = strlen(name);
  for (size_t i = 0; i < p->n; i++)
    if (rule_name(&p->r[i], name, nlen))
      return &p->r[i];
  return NULL;
}

const struct gw_rule *gw_policy_match_addr(const struct gw_policy *p, const struct gw_addr *a, uint16_t port)
{
  for (size_t i = 0; i < p->n; i++) {
    const struct gw_rule *r = &p->r[i];
    if (r->kind == GW_RULE_NET && r->net.family == a->family && gw_addr_in_net(a->a, r->net.a, r->prefix) &&
        gw_rule_port(r, port))
      return r;
  }
  return NULL;
}

/* The rule that lets (a, port) through.  A metadata address needs a rule
 * for exactly it (/32 or /128): a broad CIDR such as 0.0.0.0/0 or
 * 169.254.0.0/16 never opens it by accident. */
static const struct gw_rule *addr_rule(const struct gw_policy *p, const struct gw_addr *a, uint16_t port)
{
  if (!gw_addr_metadata(a))
    return gw_policy_match_addr(p, a, port);
  unsigned full = a->family == AF_INET ? 32 : 128;
  for (size_t i = 0; i < p->n; i++) {
    const struct gw_rule *r = &p->r[i];
    if (r->kind == GW_RULE_NET && r->prefix == full && r->net.family == a->family &&
        memcmp(r->net.a, a->a, a->family == AF_INET ? 4 : 16) == 0 && gw_rule_port(r, port))
      return r;
  }
  return NULL;
}

void gw_decide(const struct gw_policy *p, const char *host, uint16_t port, struct gw_decision *d)
{
  memset(d, 0, sizeof(*d));
  size_t len = strlen(host);
  if (gw_addr_parse(host, len, &d->addr) == 0) {
    d->is_ip = true;
    const struct gw_rule *r = addr_rule(p, &d->addr, port);
    d->allow = r != NULL;
    d->rule = r ? r->label : gw_addr_metadata(&d->addr) ? "metadata" : "ip-literal";
    return;
  }
  if (gw_name_normalize(host, len, d->name) < 0) {
    d->name[0] = '\0';
    d->rule = "bad-name";
    return;
  }
  bool named = false;
  for (size_t i = 0; i < p->n; i++) {
    const struct gw_rule *r = &p->r[i];
    if (!rule_name(r, d->name, strlen(d->name)))
      continue;
    named = true;
    if (gw_rule_port(r, port)) {
      d->allow = true;
      d->rule = r->label;
      return;
    }
  }
  d->rule = named ? "port" : "no-match";
}

size_t gw_filter_addrs(const struct gw_policy *p, uint16_t port, struct gw_addr *v, size_t n, size_t max,
                       const char **reason)
{
  struct gw_addr keep[64];
  size_t k = 0;
  bool meta = false;
  for (int pass = 0; pass < 2; pass++) {
    int fam = pass == 0 ? AF_INET : AF_INET6;
    for (size_t i = 0; i < n; i++) {
      struct gw_addr a = v[i];
      if (a.family == AF_INET6) { /* judge mapped addresses as what they are */
        static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
        if (memcmp(a.a, mapped, 12) == 0) {
          memmove(a.a, a.a + 12, 4);
          memset(a.a + 4, 0, 12);
          a.family = AF_INET;
        }
      }
      if (a.family != fam)
        continue;
      if (gw_addr_metadata(&a))
        meta = true;
      if (gw_addr_special(&a) && addr_rule(p, &a, port) == NULL)
        continue;
      bool dup = false;
      for (size_t j = 0; j < k; j++)
        if (keep[j].family == a.family && memcmp(keep[j].a, a.a, 16) == 0)
          dup = true;
      if (!dup && k < max && k < ARRAY_SIZE(keep))
        keep[k++] = a;
    }
  }
  memcpy(v, keep, k * sizeof(*v));
  *reason = k ? NULL : meta ? "metadata" : "private-address";
  return k;
}
