/* DNS queries in, synthesised answers out (RFC 1035 4.1).  One question,
 * no compression in it; the answer echoes the question bytes as sent. */
#include "gw.h"

#include <stdio.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void wr16(uint8_t *p, unsigned v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

int gw_dns_parse(const uint8_t *m, size_t len, struct gw_dns_query *q)
{
  memset(q, 0, sizeof(*q));
  if (len < 12 || len > GW_DNS_MAX)
    return -1;
  q->id = rd16(m);
  q->flags = rd16(m + 2);
  if (q->flags & 0x8000)
    return -1; /* a response: never answer those */
  if (((q->flags >> 11) & 0xf) != 0)
    return GW_DNS_NOTIMP;
  if (rd16(m + 4) != 1 || rd16(m + 6) != 0 || rd16(m + 8) != 0)
    return GW_DNS_FORMERR;
  size_t i = 12, o = 0;
  q->name_ok = true;
  for (;;) {
    if (i >= len)
      return GW_DNS_FORMERR;
    unsigned l = m[i++];
    if (l == 0)
      break;
    if (l > 63 || len - i < l)
      return GW_DNS_FORMERR; /* compression pointers or bad lengths */
    if (o + (o ? 1 : 0) + l > GW_HOST_MAX)
      return GW_DNS_FORMERR;
    if (o)
      q->name[o++] = '.';
    for (unsigned k = 0; k < l; k++) {
      uint8_t c = m[i + k];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
        q->name_ok = false;
      q->name[o++] = (char)c;
    }
    i += l;
  }
  q->name[o] = '\0';
  if (o == 0)
    q->name_ok = false;
  if (len - i < 4)
    return GW_DNS_FORMERR;
  q->qtype = rd16(m + i);
  q->qclass = rd16(m + i + 2);
  q->qend = i + 4;
  return 0;
}

size_t gw_dns_answer(const uint8_t *m, const struct gw_dns_query *q, int rcode, const uint8_t *a4, uint8_t *out,
                     size_t cap)
{
  size_t need = q->qend + (a4 ? 16 : 0);
  if (cap < need || q->qend < 12)
    return 0;
  memcpy(out, m, q->qend);
  /* QR, opcode 0, AA 0, TC 0, RD copied, RA, rcode */
  wr16(out + 2, 0x8000u | (q->flags & 0x0100u) | 0x0080u | ((unsigned)rcode & 0xf));
  wr16(out + 4, 1);
  wr16(out + 6, a4 ? 1 : 0);
  wr16(out + 8, 0);
  wr16(out + 10, 0);
  if (a4) {
    uint8_t *r = out + q->qend;
    wr16(r, 0xc00c); /* name: pointer to the question */
    wr16(r + 2, 1);  /* A */
    wr16(r + 4, 1);  /* IN */
    wr16(r + 6, 0);  /* TTL 10 */
    wr16(r + 8, 10);
    wr16(r + 10, 4);
    memcpy(r + 12, a4, 4);
  }
  return need;
}

size_t gw_dns_error(const uint8_t *m, int rcode, uint8_t *out, size_t cap)
{
  if (cap < 12)
    return 0;
  uint16_t flags = rd16(m + 2);
  wr16(out, rd16(m));
  wr16(out + 2, 0x8000u | (flags & 0x7900u) | 0x0080u | ((unsigned)rcode & 0xf));
  memset(out + 4, 0, 8);
  return 12;
}

const char *gw_dns_type_name(uint16_t t, char *out)
{
  static const struct {
    uint16_t t;
    const char *n;
  } k[] = {
    { 1, "A" },     { 2, "NS" },     { 5, "CNAME" }, { 6, "SOA" },    { 12, "PTR" }, { 15, "MX" },
    { 16, "TXT" },  { 28, "AAAA" },  { 33, "SRV" },  { 35, "NAPTR" }, { 43, "DS" },  { 48, "DNSKEY" },
    { 64, "SVCB" }, { 65, "HTTPS" }, { 255, "ANY" }, { 257, "CAA" },
  };
  for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
    if (k[i].t == t)
      return k[i].n;
  snprintf(out, 16, "TYPE%u", (unsigned)t);
  return out;
}
