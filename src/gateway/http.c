/* HTTP/1.x request heads as the gateway sees them: CONNECT (authority
 * form), absolute-form for a plain-HTTP proxy request, origin-form with a
 * Host header for transparent HTTP.  Strict on purpose: folded headers,
 * repeated Host, userinfo in URLs, bare CR are all "bad-request". */
#include "gw.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool gw_tchar(unsigned char c) { return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c)); }

size_t gw_head_end(const char *b, size_t len)
{
  for (size_t i = 0; i + 1 < len; i++) {
    if (b[i] != '\n')
      continue;
    if (b[i + 1] == '\n')
      return i + 2;
    if (i + 2 < len && b[i + 1] == '\r' && b[i + 2] == '\n')
      return i + 3;
  }
  return 0;
}

/* host[:port] (port required when need_port); IPv6 in brackets. */
static int parse_authority(const char *s, size_t len, bool need_port, struct gw_http_head *h)
{
  const char *host = s, *colon = NULL;
  size_t hl;
  if (len > 0 && s[0] == '[') {
    const char *rb = memchr(s, ']', len);
    if (rb == NULL)
      return -1;
    host = s + 1;
    hl = (size_t)(rb - s - 1);
    if ((size_t)(rb - s) + 1 < len) {
      if (rb[1] != ':')
        return -1;
      colon = rb + 1;
    }
  } else {
    colon = memchr(s, ':', len);
    hl = colon ? (size_t)(colon - s) : len;
  }
  if (hl == 0 || hl > GW_HOST_MAX)
    return -1;
  for (size_t i = 0; i < hl; i++) {
    unsigned char c = (unsigned char)host[i];
    if (c <= 0x20 || c >= 0x7f || strchr("/?#@[]\\\"<>{}|^`", c))
      return -1;
  }
  memcpy(h->host, host, hl);
  h->host[hl] = '\0';
  if (colon == NULL) {
    if (need_port)
      return -1;
    return 0;
  }
  const char *p = colon + 1;
  size_t pl = len - (size_t)(p - s);
  if (pl == 0 || pl > 5)
    return -1;
  unsigned long v = 0;
  for (size_t i = 0; i < pl; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -1;
    v = v * 10 + (unsigned long)(p[i] - '0');
  }
  if (v < 1 || v > 65535)
    return -1;
  h->port = (uint16_t)v;
  return 0;
}

bool gw_head_line(const char **next, const char *hend, const char **line, size_t *len)
{
  if (*next >= hend)
    return false;
  const char *e = memchr(*next, '\n', (size_t)(hend - *next));
  size_t l = (size_t)(e - *next);
  if (l > 0 && (*next)[l - 1] == '\r')
    l--;
  if (l == 0)
    return false; /* the empty line */
  *line = *next;
  *len = l;
  *next = e + 1;
  return true;
}

bool gw_hdr_is(const char *name, size_t nl, const char *want)
{
  return nl == strlen(want) && strncasecmp(name, want, nl) == 0;
}

int gw_http_parse(const char *b, size_t len, struct gw_http_head *h)
{
  memset(h, 0, sizeof(*h));
  /* Early rejection: the method (upper-case letters, '-', '_': every
   * registered method) is followed by one space. */
  size_t m = 0;
  while (m < len && m < sizeof(h->method) && ((b[m] >= 'A' && b[m] <= 'Z') || b[m] == '-' || b[m] == '_'))
    m++;
  if (m == sizeof(h->method) || (m < len && (m == 0 || b[m] != ' ')))
    return GW_HTTP_BAD;
  size_t end = gw_head_end(b, len);
  if (end == 0)
    return GW_HTTP_MORE;
  memcpy(h->method, b, m);
  h->method[m] = '\0';
  h->head_len = end;

  /* request line */
  const char *line = b;
  const char *eol = memchr(b, '\n', end);
  size_t ll = (size_t)(eol - line);
  if (ll > 0 && line[ll - 1] == '\r')
    ll--;
  const char *tgt = line + m + 1;
  if (m + 1 > ll)
    return GW_HTTP_BAD;
  const char *sp = memchr(tgt, ' ', ll - m - 1);
  if (sp == NULL || sp == tgt)
    return GW_HTTP_BAD;
  size_t tl = (size_t)(sp - tgt);
  const char *ver = sp + 1;
  size_t vl = ll - (size_t)(ver - line);
  if (vl != 8 || (memcmp(ver, "HTTP/1.1", 8) != 0 && memcmp(ver, "HTTP/1.0", 8) != 0))
    return GW_HTTP_BAD;
  memcpy(h->version, ver, 8);
  h->version[8] = '\0';
  for (size_t i = 0; i < tl; i++)
    if ((unsigned char)tgt[i] <= 0x20 || (unsigned char)tgt[i] >= 0x7f)
      return GW_HTTP_BAD;

  /* headers: well-formed, and at most one Host */
  const char *hosthdr = NULL;
  size_t hostlen = 0;
  const char *p = eol + 1;
  const char *hend = b + end;
  size_t l;
  for (const char *next = p; gw_head_line(&next, hend, &p, &l);) {
    if (memchr(p, '\r', l) || memchr(p, '\0', l))
      return GW_HTTP_BAD;
    if (p[0] == ' ' || p[0] == '\t')
      return GW_HTTP_BAD; /* obsolete line folding */
    const char *colon = memchr(p, ':', l);
    if (colon == NULL || colon == p)
      return GW_HTTP_BAD;
    for (const char *q = p; q < colon; q++)
      if (!gw_tchar((unsigned char)*q))
        return GW_HTTP_BAD;
    if (gw_hdr_is(p, (size_t)(colon - p), "host")) {
      if (hosthdr)
        return GW_HTTP_BAD;
      hosthdr = colon + 1;
      hostlen = l - (size_t)(hosthdr - p);
      while (hostlen && (*hosthdr == ' ' || *hosthdr == '\t'))
        hosthdr++, hostlen--;
      while (hostlen && (hosthdr[hostlen - 1] == ' ' || hosthdr[hostlen - 1] == '\t'))
        hostlen--;
    }
  }

  if (strcmp(h->method, "CONNECT") == 0) {
    h->form = GW_HTTP_CONNECT;
    return parse_authority(tgt, tl, true, h) < 0 ? GW_HTTP_BAD : GW_HTTP_OK;
  }
  if (tl >= 8 && strncasecmp(tgt, "https://", 8) == 0)
    return GW_HTTP_HTTPS;
  if (tl >= 7 && strncasecmp(tgt, "http://", 7) == 0) {
    h->form = GW_HTTP_ABSOLUTE;
    const char *a = tgt + 7;
    size_t rest = tl - 7, al = 0;
    while (al < rest && a[al] != '/' && a[al] != '?' && a[al] != '#')
      al++;
    if (memchr(a, '@', al))
      return GW_HTTP_BAD; /* userinfo: never */
    h->port = 80;
    if (parse_authority(a, al, false, h) < 0)
      return GW_HTTP_BAD;
    h->auth_off = (size_t)(a - b);
    h->auth_len = al;
    h->path_off = h->auth_off + al;
    h->path_len = rest - al;
    h->path_empty = h->path_len == 0 || a[al] != '/';
    return GW_HTTP_OK;
  }
  if (tgt[0] == '/' || (tl == 1 && tgt[0] == '*')) {
    h->form = GW_HTTP_ORIGIN;
    if (hosthdr == NULL || hostlen == 0)
      return GW_HTTP_NOHOST;
    h->port = 0;
    if (parse_authority(hosthdr, hostlen, false, h) < 0)
      return GW_HTTP_BAD;
    h->port = 0; /* transparent: the port is the one the client connected to */
    return GW_HTTP_OK;
  }
  return GW_HTTP_BAD;
}

void gw_hdr_value(const char *colon, const char *lend, const char **v, size_t *vl)
{
  const char *s = colon + 1, *e = lend;
  while (s < e && (*s == ' ' || *s == '\t'))
    s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  *v = s;
  *vl = (size_t)(e - s);
}

bool gw_put(char *out, size_t cap, size_t *o, const char *s, size_t n)
{
  if (cap - *o < n)
    return false;
  memcpy(out + *o, s, n);
  *o += n;
  return true;
}

long gw_http_rewrite(const char *b, const struct gw_http_head *h, char *out, size_t cap)
{
  size_t o = 0;
  size_t ml = strlen(h->method);
  if (h->form != GW_HTTP_ABSOLUTE)
    return -1;
  if (!gw_put(out, cap, &o, b, ml) || !gw_put(out, cap, &o, " ", 1))
    return -1;
  if (h->path_empty && !gw_put(out, cap, &o, "/", 1))
    return -1;
  if (!gw_put(out, cap, &o, b + h->path_off, h->path_len) || !gw_put(out, cap, &o, " ", 1) ||
      !gw_put(out, cap, &o, h->version, 8) || !gw_put(out, cap, &o, "\r\n", 2))
    return -1;
  const char *p = (const char *)memchr(b, '\n', h->head_len) + 1;
  const char *hend = b + h->head_len;
  size_t l;
  for (const char *next = p; gw_head_line(&next, hend, &p, &l);) {
    const char *colon = memchr(p, ':', l);
    size_t nl = (size_t)(colon - p);
    bool drop = gw_hdr_is(p, nl, "proxy-connection") || gw_hdr_is(p, nl, "proxy-authorization") ||
                gw_hdr_is(p, nl, "keep-alive") || gw_hdr_is(p, nl, "connection") || gw_hdr_is(p, nl, "host");
    if (!drop && (!gw_put(out, cap, &o, p, l) || !gw_put(out, cap, &o, "\r\n", 2)))
      return -1;
  }
  if (!gw_put(out, cap, &o, "Host: ", 6) || !gw_put(out, cap, &o, b + h->auth_off, h->auth_len) ||
      !gw_put(out, cap, &o, "\r\nConnection: close\r\n\r\n", 23))
    return -1;
  return (long)o;
}
