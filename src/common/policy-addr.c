/* The egress policy's vocabulary (policy.h): address literals and their
 * classes, host names, and the reader of line-by-line files. */
#include "policy.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* ---------------------------------------------------------------- addresses */

int gw_addr_parse(const char *s, size_t len, struct gw_addr *out)
{
  char tmp[64];
  if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
    s++;
    len -= 2;
    if (memchr(s, ':', len) == NULL)
      return -1; /* brackets only around IPv6 */
  }
  if (len == 0 || len >= sizeof(tmp) || memchr(s, '\0', len))
    return -1;
  memcpy(tmp, s, len);
  tmp[len] = '\0';
  memset(out, 0, sizeof(*out));
  if (inet_pton(AF_INET, tmp, out->a) == 1) {
    out->family = AF_INET;
    return 0;
  }
  if (inet_pton(AF_INET6, tmp, out->a) == 1) {
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(out->a, mapped, 12) == 0) {
      memmove(out->a, out->a + 12, 4);
      memset(out->a + 4, 0, 12);
      out->family = AF_INET;
    } else {
      out->family = AF_INET6;
    }
    return 0;
  }
  return -1;
}

void gw_addr_format(const struct gw_addr *a, int port, char *out, size_t cap)
{
  char t[INET6_ADDRSTRLEN];
  if (inet_ntop(a->family, a->a, t, sizeof(t)) == NULL)
    snprintf(t, sizeof(t), "?");
  if (a->family == AF_INET6)
    snprintf(out, cap, "[%s]:%d", t, port);
  else
    snprintf(out, cap, "%s:%d", t, port);
}

bool gw_addr_in_net(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
  unsigned full = prefix / 8, rest = prefix % 8;
  if (memcmp(a, net, full) != 0)
    return false;
  if (rest == 0)
    return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[full] & mask) == (net[full] & mask);
}

static bool v4_special(const uint8_t *a)
{
  static const struct {
    uint8_t n[4];
    unsigned p;
  } r[] = {
    { { 0, 0, 0, 0 }, 8 },      { { 10, 0, 0, 0 }, 8 },     { { 100, 64, 0, 0 }, 10 },
    { { 127, 0, 0, 0 }, 8 },    { { 169, 254, 0, 0 }, 16 }, { { 172, 16, 0, 0 }, 12 },
    { { 192, 168, 0, 0 }, 16 }, { { 224, 0, 0, 0 }, 4 },    { { 240, 0, 0, 0 }, 4 },
  };
  for (size_t i = 0; i < ARRAY_SIZE(r); i++)
    if (gw_addr_in_net(a, r[i].n, r[i].p))
      return true;
  return false; /* 255.255.255.255 is inside 240/4 */
}

bool gw_addr_special(const struct gw_addr *a)
{
  if (a->family == AF_INET)
    return v4_special(a->a);
  static const uint8_t zero[16] = { 0 };
  static const uint8_t one[16] = { [15] = 1 };
  static const uint8_t fc[16] = { 0xfc }, fe80[16] = { 0xfe, 0x80 }, ff[16] = { 0xff };
  static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff };
  static const uint8_t nat64[16] = { 0, 0x64, 0xff, 0x9b };
  static const uint8_t sixto4[16] = { 0x20, 0x02 };
  if (memcmp(a->a, zero, 16) == 0 || memcmp(a->a, one, 16) == 0)
    return true;
  if (gw_addr_in_net(a->a, fc, 7) || gw_addr_in_net(a->a, fe80, 10) || gw_addr_in_net(a->a, ff, 8) ||
      gw_addr_in_net(a->a, nat64, 96))
    return true;
  if (gw_addr_in_net(a->a, mapped, 96))
    return v4_special(a->a + 12);
  if (gw_addr_in_net(a->a, sixto4, 16)) /* 6to4 embeds an IPv4 address: judge by it */
    return v4_special(a->a + 2);
  return false;
}

bool gw_addr_metadata(const struct gw_addr *a)
{
  /* cloud metadata services: the common one (AWS, GCP, Azure, ...), ECS
   * task metadata, Alibaba's, and AWS's IPv6 one */
  static const uint8_t v4[][4] = { { 169, 254, 169, 254 }, { 169, 254, 170, 2 }, { 100, 100, 100, 200 } };
  static const uint8_t v6[16] = { 0xfd, 0x00, 0x0e, 0xc2, [15] = 0x54, [14] = 0x02 };
  if (a->family == AF_INET) {
    for (size_t i = 0; i < ARRAY_SIZE(v4); i++)
      if (memcmp(a->a, v4[i], 4) == 0)
        return true;
    return false;
  }
  return memcmp(a->a, v6, 16) == 0;
}

/* ---------------------------------------------------------------- names */

static bool label_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int gw_name_normalize(const char *in, size_t len, char *out)
{
  if (len > 0 && in[len - 1] == '.')
    len--;
  if (len == 0 || len > GW_NAME_MAX)
    return -1;
  size_t lab = 0;
  bool last_digits = true;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)tolower((unsigned char)in[i]);
    if (c == '.') {
      if (lab == 0 || out[i - 1] == '-')
        return -1; /* empty label, or one ending in '-' */
      lab = 0;
      last_digits = true;
    } else {
      if (!label_char(c) || ++lab > 63 || (lab == 1 && c == '-'))
        return -1;
      if (!(c >= '0' && c <= '9'))
        last_digits = false;
    }
    out[i] = (char)c;
  }
  out[len] = '\0';
  if (lab == 0 || out[len - 1] == '-' || last_digits)
    return -1; /* empty last label; all-digit top label (not a DNS name: looks like an address) */
  return 0;
}

/* ---------------------------------------------------------------- line files */

int gw_lines(const char *buf, size_t len, const char *file, size_t max_line, gw_line_fn *fn, void *ud, unsigned *nlines,
             adr_err *err)
{
  size_t i = 0;
  unsigned lineno = 0;
  char why[512];
  while (i < len) {
    const char *nl = memchr(buf + i, '\n', len - i);
    size_t end = nl ? (size_t)(nl - buf) : len;
    lineno++;
    if (end - i > max_line)
      return adr_err_set(err, EINVAL, "%s:%u: line longer than %zu bytes", file, lineno, max_line);
    if (memchr(buf + i, '\0', end - i))
      return adr_err_set(err, EINVAL, "%s:%u: NUL byte in line", file, lineno);
    unsigned at = lineno;
    if (fn(ud, buf + i, end - i, lineno, &at, why, sizeof(why)) < 0)
      return adr_err_set(err, EINVAL, "%s:%u: %s", file, at, why);
    i = end + 1;
  }
  if (nlines)
    *nlines = lineno;
  return 0;
}
