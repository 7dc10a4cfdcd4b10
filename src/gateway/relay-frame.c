/* The credential relay's framing: which bytes after a head are its body
 * (request and response), and the upstream response head, rewritten for
 * the client.  Pure; nothing prints. */
#include "gw.h"

#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- request body */

enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER_START, CH_TRAILER, CH_END_LF };

#define CH_LINE_MAX 4096

void gw_body_init(struct gw_body *b, enum gw_body_kind kind, uint64_t length)
{
  memset(b, 0, sizeof(*b));
  b->kind = kind;
  b->st = CH_SIZE;
  if (kind == GW_BODY_LENGTH)
    b->left = length;
  b->done = kind == GW_BODY_NONE || (kind == GW_BODY_LENGTH && length == 0);
}

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t gw_body_feed(struct gw_body *b, const uint8_t *p, size_t n)
{
  if (b->done || b->bad)
    return 0;
  if (b->kind == GW_BODY_UNTIL_CLOSE)
    return n;
  if (b->kind == GW_BODY_LENGTH) {
    size_t k = b->left < n ? (size_t)b->left : n;
    b->left -= k;
    b->done = b->left == 0;
    return k;
  }
  size_t i = 0;
  while (i < n && !b->done) {
    unsigned char c = p[i];
    switch (b->st) {
    case CH_SIZE: {
      int v = hexval(c);
      if (v >= 0) {
        if (b->left > (UINT64_MAX >> 8)) /* 2^56 and more: no */
          goto bad;
        b->left = b->left * 16 + (uint64_t)v;
        b->line++;
        break;
      }
      if (b->line == 0)
        goto bad; /* no digit */
      if (c == ';' || c == ' ' || c == '\t')
        b->st = CH_EXT;
      else if (c == '\r')
        b->st = CH_SIZE_LF;
      else if (c == '\n')
        goto size_line_done;
      else
        goto bad;
      break;
    }
    case CH_EXT:
      if (++b->line > CH_LINE_MAX)
        goto bad;
      if (c == '\n')
        goto size_line_done;
      break;
    case CH_SIZE_LF:
      if (c != '\n')
        goto bad;
    size_line_done:
      b->line = 0;
      b->st = b->left == 0 ? CH_TRAILER_START : CH_DATA;
      break;
    case CH_DATA: {
      size_t k = b->left < n - i ? (size_t)b->left : n - i;
      b->left -= k;
      i += k;
      if (b->left == 0)
        b->st = CH_DATA_CR;
      continue;
    }
    case CH_DATA_CR:
      if (c == '\r')
        b->st = CH_DATA_LF;
      else if (c == '\n')
        b->st = CH_SIZE;
      else
        goto bad;
      break;
    case CH_DATA_LF:
      if (c != '\n')
        goto bad;
      b->st = CH_SIZE;
      break;
    case CH_TRAILER_START:
      b->line = 0;
      if (c == '\r')
        b->st = CH_END_LF;
      else if (c == '\n')
        b->done = true;
      else
        b->st = CH_TRAILER;
      break;
    case CH_TRAILER:
      if (++b->line > CH_LINE_MAX)
        goto bad;
      if (c == '\n')
        b->st = CH_TRAILER_START;
      break;
    case CH_END_LF:
      if (c != '\n')
        goto bad;
      b->done = true;
      break;
    default: goto bad;
    }
    i++;
  }
  return i;
bad:
  b->bad = true;
  return i;
}

/* ---------------------------------------------------------------- response head */

int gw_relay_response(const char *b, size_t len, bool head_request, int *status, size_t *head_len, struct gw_body *body,
                      char *out, size_t cap, size_t *outlen)
{
  *outlen = 0;
  /* "HTTP/1.x NNN": refuse early what cannot be a status line */
  static const char pre[] = "HTTP/1.";
  for (size_t i = 0; i < len && i < 7; i++)
    if (b[i] != pre[i])
      return -1;
  size_t end = gw_head_end(b, len);
  if (end == 0)
    return GW_HTTP_MORE;
  const char *eol = memchr(b, '\n', end);
  size_t ll = (size_t)(eol - b);
  if (ll > 0 && b[ll - 1] == '\r')
    ll--;
  if (ll < 12 || b[7] < '0' || b[7] > '9' || b[8] != ' ' || (ll > 12 && b[12] != ' '))
    return -1;
  int st = 0;
  for (int i = 9; i < 12; i++) {
    if (b[i] < '0' || b[i] > '9')
      return -1;
    st = st * 10 + (b[i] - '0');
  }
  if (st < 100)
    return -1;
  size_t o = 0;
  if (!gw_put(out, cap, &o, b, ll) || !gw_put(out, cap, &o, "\r\n", 2))
    return -1;
  const char *p = eol + 1, *hend = b + end;
  bool skipping = false;
  /* framing (RFC 9112 6.3): lenient, since upstream is trusted: anything
   * unclear is read until the connection closes */
  bool chunked = false, has_te = false, cl_ok = false, cl_bad = false;
  uint64_t clen = 0;
  size_t l;
  for (const char *next = p; gw_head_line(&next, hend, &p, &l);) {
    if (p[0] == ' ' || p[0] == '\t') { /* obsolete folding: goes with its header */
      if (!skipping && (!gw_put(out, cap, &o, p, l) || !gw_put(out, cap, &o, "\r\n", 2)))
        return -1;
      continue;
    }
    const char *colon = memchr(p, ':', l);
    if (colon == NULL)
      return -1;
    size_t nl = (size_t)(colon - p);
    skipping = gw_hdr_is(p, nl, "connection") || gw_hdr_is(p, nl, "keep-alive");
    const char *v;
    size_t vl;
    gw_hdr_value(colon, p + l, &v, &vl);
    if (gw_hdr_is(p, nl, "transfer-encoding")) {
      has_te = true;
      /* chunked only when it is the last coding of the last header */
      chunked = vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0 &&
                (vl == 7 || v[vl - 8] == ',' || v[vl - 8] == ' ' || v[vl - 8] == '\t');
    }
    if (gw_hdr_is(p, nl, "content-length")) {
      uint64_t x = 0;
      bool ok = vl > 0 && vl <= 18;
      for (size_t i = 0; ok && i < vl; i++) {
        ok = v[i] >= '0' && v[i] <= '9';
        x = x * 10 + (uint64_t)(v[i] - '0');
      }
      if (!ok || (cl_ok && x != clen))
        cl_bad = true;
      clen = x;
      cl_ok = true;
    }
    if (!skipping && (!gw_put(out, cap, &o, p, l) || !gw_put(out, cap, &o, "\r\n", 2)))
      return -1;
  }
  bool interim = st >= 100 && st < 200 && st != 101;
  if (!interim && !gw_put(out, cap, &o, "Connection: close\r\n", 19))
    return -1;
  if (!gw_put(out, cap, &o, "\r\n", 2))
    return -1;
  if (interim || st == 204 || st == 304 || head_request)
    gw_body_init(body, GW_BODY_NONE, 0);
  else if (st == 101 || (has_te && !chunked) || (!has_te && (!cl_ok || cl_bad)))
    gw_body_init(body, GW_BODY_UNTIL_CLOSE, 0);
  else if (has_te)
    gw_body_init(body, GW_BODY_CHUNKED, 0);
  else
    gw_body_init(body, GW_BODY_LENGTH, clen);
  *status = st;
  *head_len = end;
  *outlen = o;
  return 1;
}
