/* The server name of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3).
 *
 * The handshake message may be split over several records; its fragments
 * are joined in a local buffer (at most GW_HEAD_MAX bytes, like the input),
 * then walked with explicit bounds at every length field. */
#include "gw.h"

#include <string.h>

struct rd {
  const uint8_t *p;
  size_t n, i;
};

static bool get8(struct rd *r, unsigned *v)
{
  if (r->n - r->i < 1)
    return false;
  *v = r->p[r->i++];
  return true;
}

static bool get16(struct rd *r, unsigned *v)
{
  if (r->n - r->i < 2)
    return false;
  *v = (unsigned)r->p[r->i] << 8 | r->p[r->i + 1];
  r->i += 2;
  return true;
}

static bool skip(struct rd *r, size_t k)
{
  if (r->n - r->i < k)
    return false;
  r->i += k;
  return true;
}

/* hello: the ClientHello body (after the 4-byte handshake header) */
static int parse_hello(const uint8_t *hello, size_t len, char *out)
{
  struct rd r = { hello, len, 0 };
  unsigned v, n;
  if (!get16(&r, &v) || (v >> 8) != 3) /* legacy_version 3.x */
    return GW_SNI_BAD;
  if (!skip(&r, 32)) /* random */
    return GW_SNI_BAD;
  if (!get8(&r, &n) || n > 32 || !skip(&r, n)) /* session id */
    return GW_SNI_BAD;
  if (!get16(&r, &n) || n < 2 || (n & 1) || !skip(&r, n)) /* cipher suites */
    return GW_SNI_BAD;
  if (!get8(&r, &n) || n < 1 || !skip(&r, n)) /* compression methods */
    return GW_SNI_BAD;
  if (r.i == r.n)
    return GW_SNI_NONE; /* no extensions at all */
  if (!get16(&r, &n) || n != r.n - r.i)
    return GW_SNI_BAD;
  int found = GW_SNI_NONE;
  bool seen = false;
  while (r.i < r.n) {
    unsigned type, elen;
    if (!get16(&r, &type) || !get16(&r, &elen) || r.n - r.i < elen)
      return GW_SNI_BAD;
    if (type != 0) {
      r.i += elen;
      continue;
    }
    if (seen)
      return GW_SNI_BAD; /* an extension type may appear once */
    seen = true;
    struct rd e = { r.p + r.i, elen, 0 };
    r.i += elen;
    unsigned listlen;
    if (!get16(&e, &listlen) || listlen != e.n - e.i || listlen == 0)
      return GW_SNI_BAD;
    while (e.i < e.n) {
      unsigned nt, nl;
      if (!get8(&e, &nt) || !get16(&e, &nl) || e.n - e.i < nl)
        return GW_SNI_BAD;
      if (nt == 0 && found != GW_SNI_OK) {
        if (nl == 0 || nl > GW_HOST_MAX || memchr(e.p + e.i, '\0', nl))
          return GW_SNI_BAD;
        memcpy(out, e.p + e.i, nl);
        out[nl] = '\0';
        found = GW_SNI_OK;
      }
      e.i += nl;
    }
  }
  return found;
}

int gw_sni_parse(const uint8_t *buf, size_t len, char *out)
{
  uint8_t hs[GW_HEAD_MAX];
  size_t hlen = 0, i = 0;
  out[0] = '\0';
  while (i < len) {
    if (len - i < 5)
      return GW_SNI_MORE;
    const uint8_t *h = buf + i;
    if (h[0] != 0x16 || h[1] != 3)
      return GW_SNI_BAD;
    size_t rl = (size_t)h[3] << 8 | h[4];
    if (rl == 0 || rl > 16384 + 2048)
      return GW_SNI_BAD;
    if (len - i - 5 < rl)
      return GW_SNI_MORE; /* the record is not complete yet */
    if (rl > sizeof(hs) - hlen)
      return GW_SNI_BAD;
    memcpy(hs + hlen, h + 5, rl);
    hlen += rl;
    i += 5 + rl;
    if (hlen >= 4) {
      if (hs[0] != 1) /* client_hello */
        return GW_SNI_BAD;
      size_t ml = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
      if (ml > sizeof(hs) - 4)
        return GW_SNI_BAD;
      if (hlen >= 4 + ml)
        return parse_hello(hs + 4, ml, out);
    }
  }
  return GW_SNI_MORE;
}
