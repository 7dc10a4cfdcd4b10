/* The credential relay's pure parts: the route file, the path checks, the
 * request head decision and rewrite (sentinel -> key), request body
 * framing, the response head rewrite, and redaction for the log.  No I/O
 * except gw_routes_load(); nothing prints.  The sockets, threads and TLS
 * are in relay.c.
 *
 * The key is a secret of the host's: it never appears in an error message,
 * and every buffer here that held it is zeroed before it is freed. */
#include "gw.h"
#include "util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- helpers */

static bool token_ok(const char *s, size_t n)
{
  if (n == 0 || n > GW_TOKEN_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return false;
  return true;
}

static bool name_ok(const char *s, size_t n)
{
  if (n == 0 || n > GW_ROUTE_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  return true;
}

/* ---------------------------------------------------------------- paths */

bool gw_relay_path_ok(const char *p, size_t len)
{
  if (len == 0 || p[0] != '/')
    return false;
  size_t seg = 1; /* start of the current segment */
  for (size_t i = 1; i <= len; i++) {
    if (i == len || p[i] == '/') {
      size_t sl = i - seg;
      if (i < len && p[i - 1] == '/')
        return false; /* "//" */
      if (sl > 0 && p[seg] == '.')
        return false; /* ".", "..", "..;" and the like: nothing an API names */
      seg = i + 1;
      continue;
    }
    unsigned char c = (unsigned char)p[i];
    if (c <= 0x20 || c >= 0x7f || c == '%' || c == '\\' || c == '#' || c == '?' || c == ';')
      return false;
  }
  return true;
}

const char *gw_route_match(const struct gw_route *r, const char *p, size_t len)
{
  for (size_t i = 0; i < r->npaths; i++) {
    const char *pat = r->paths[i];
    size_t pl = strlen(pat);
    if (pl > 0 && pat[pl - 1] == '*') { /* one segment, not empty */
      if (len > pl - 1 && memcmp(p, pat, pl - 1) == 0 && !memchr(p + pl - 1, '/', len - (pl - 1)))
        return pat;
    } else if (len == pl && memcmp(p, pat, pl) == 0) {
      return pat;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------------- route file */

static void route_free(struct gw_route *r)
{
  if (r->sentinel)
    explicit_bzero(r->sentinel, r->sentinel_len);
  if (r->key)
    explicit_bzero(r->key, r->key_len);
  free(r->sentinel);
  free(r->key);
  free(r->authority);
  free(r->base);
  for (size_t i = 0; i < r->npaths; i++)
    free(r->paths[i]);
  free(r->paths);
  memset(r, 0, sizeof(*r));
}

void gw_routes_free(struct gw_routes *rs)
{
  for (size_t i = 0; i < rs->n; i++)
    route_free(&rs->r[i]);
  free(rs->r);
  rs->r = NULL;
  rs->n = 0;
}

const struct gw_route *gw_route_find(const struct gw_routes *rs, const char *name, size_t len)
{
  for (size_t i = 0; i < rs->n; i++)
    if (strlen(rs->r[i].name) == len && memcmp(rs->r[i].name, name, len) == 0)
      return &rs->r[i];
  return NULL;
}

/* https://HOST[:PORT][/BASEPATH] */
static int parse_url(struct gw_route *r, const char *u, size_t n, char *why, size_t wcap)
{
  if (n < 8 || strncasecmp(u, "https://", 8) != 0) {
    snprintf(why, wcap, "route %s: URL must be https://HOST[:PORT][/BASEPATH]", r->name);
    return -1;
  }
  const char *a = u + 8, *end = u + n;
  if (memchr(a, '?', (size_t)(end - a)) || memchr(a, '#', (size_t)(end - a)) || memchr(a, '@', (size_t)(end - a))) {
    snprintf(why, wcap, "route %s: no query, fragment or user name in the URL", r->name);
    return -1;
  }
  const char *slash = memchr(a, '/', (size_t)(end - a));
  const char *aend = slash ? slash : end;
  const char *host = a, *colon = NULL;
  size_t hl;
  bool bracket = false;
  if (a < aend && a[0] == '[') {
    const char *rb = memchr(a, ']', (size_t)(aend - a));
    if (rb == NULL || (rb + 1 < aend && rb[1] != ':'))
      goto badhost;
    hl = (size_t)(rb - a) + 1;
    colon = rb + 1 < aend ? rb + 1 : NULL;
    bracket = true;
  } else {
    colon = memchr(a, ':', (size_t)(aend - a));
    hl = (size_t)((colon ? colon : aend) - a);
  }
  if (hl == 0 || hl > GW_HOST_MAX)
    goto badhost;
  struct gw_addr addr;
  if (gw_addr_parse(host, hl, &addr) == 0) { /* IPv4, or [IPv6] (brackets required: the port follows a colon) */
    r->host_ip = true;
    inet_ntop(addr.family, addr.a, r->host, sizeof(r->host));
  } else if (bracket || gw_name_normalize(host, hl, r->host) < 0) {
    goto badhost;
  }
  r->port = 443;
  if (colon) {
    const char *p = colon + 1;
    size_t pl = (size_t)(aend - p);
    unsigned long v = 0;
    if (pl == 0 || pl > 5)
      goto badport;
    for (size_t i = 0; i < pl; i++) {
      if (p[i] < '0' || p[i] > '9')
        goto badport;
      v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v < 1 || v > 65535)
      goto badport;
    r->port = (uint16_t)v;
  }
  bool v6 = r->host_ip && strchr(r->host, ':');
  if (r->port == 443)
    r->authority = xasprintf(v6 ? "[%s]" : "%s", r->host);
  else
    r->authority = xasprintf(v6 ? "[%s]:%u" : "%s:%u", r->host, r->port);
  size_t bl = (size_t)(end - aend);
  if (bl > 0 && (end[-1] == '/' || !gw_relay_path_ok(aend, bl))) {
    snprintf(why, wcap, "route %s: bad base path (no trailing '/', no '%%', '\\', '//', '.' or '..')", r->name);
    return -1;
  }
  r->base = xstrndup(aend, bl);
  return 0;
badhost:
  snprintf(why, wcap, "route %s: bad host in the URL (a DNS name, an IPv4 address or [IPv6])", r->name);
  return -1;
badport:
  snprintf(why, wcap, "route %s: bad port in the URL", r->name);
  return -1;
}

static bool pattern_ok(const char *p, size_t n)
{
  if (n == 0 || p[0] != '/')
    return false;
  const char *star = memchr(p, '*', n);
  if (star && star != p + n - 1)
    return false; /* '*' only at the end */
  return gw_relay_path_ok(p, star ? n - 1 : n);
}

/* Fields of a line (spaces or tabs between), at most 4. */
static size_t split(const char *s, size_t len, const char **f, size_t *fl)
{
  size_t n = 0, i = 0;
  while (i < len) {
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
      i++;
    if (i == len)
      break;
    size_t st = i;
    while (i < len && s[i] != ' ' && s[i] != '\t')
      i++;
    if (n == 4)
      return 5;
    f[n] = s + st;
    fl[n] = i - st;
    n++;
  }
  return n;
}

/* The route being read is complete. */
static int route_done(const struct gw_route *r, char *why, size_t wcap)
{
  const char *miss = !r->sentinel     ? GW_ROUTE_KW_SENTINEL
                     : !r->key        ? GW_ROUTE_KW_KEY
                     : r->npaths == 0 ? GW_ROUTE_KW_PATH
                                      : NULL;
  if (miss) {
    snprintf(why, wcap, "route %s: no %s line", r->name, miss);
    return -1;
  }
  return 0;
}

static bool is_kw(const char *f, size_t fl, const char *kw) { return fl == strlen(kw) && memcmp(f, kw, fl) == 0; }

/* One line; on error *at is the line to name (an incomplete route is named
 * by its own "route" line). */
static int parse_line(struct gw_routes *rs, const char *s, size_t len, unsigned lineno, unsigned *at, char *why,
                      size_t wcap)
{
  *at = lineno;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
    len--;
  const char *f[4];
  size_t fl[4];
  size_t n = split(s, len, f, fl);
  if (n == 0 || f[0][0] == '#')
    return 0;
  struct gw_route *cur = rs->n ? &rs->r[rs->n - 1] : NULL;
  if (is_kw(f[0], fl[0], GW_ROUTE_KW_ROUTE)) {
    if (n != 3) {
      snprintf(why, wcap, "want '" GW_ROUTE_KW_ROUTE " NAME https://HOST[:PORT][/BASEPATH]'");
      return -1;
    }
    if (!name_ok(f[1], fl[1])) {
      snprintf(why, wcap, "bad route name (want 1 to %d of a-z, 0-9, '-')", GW_ROUTE_NAME_MAX);
      return -1;
    }
    if (gw_route_find(rs, f[1], fl[1])) {
      snprintf(why, wcap, "route %.*s: defined twice", (int)fl[1], f[1]);
      return -1;
    }
    if (cur && route_done(cur, why, wcap) < 0) {
      *at = cur->line;
      return -1;
    }
    rs->r = xrealloc(rs->r, (rs->n + 1) * sizeof(*rs->r));
    cur = &rs->r[rs->n++];
    memset(cur, 0, sizeof(*cur));
    memcpy(cur->name, f[1], fl[1]);
    cur->line = lineno;
    return parse_url(cur, f[2], fl[2], why, wcap);
  }
  bool is_sent = is_kw(f[0], fl[0], GW_ROUTE_KW_SENTINEL);
  bool is_key = is_kw(f[0], fl[0], GW_ROUTE_KW_KEY);
  bool is_path = is_kw(f[0], fl[0], GW_ROUTE_KW_PATH);
  if (!is_sent && !is_key && !is_path) {
    snprintf(why, wcap,
             "unknown keyword '%.*s' (want " GW_ROUTE_KW_ROUTE ", " GW_ROUTE_KW_SENTINEL ", " GW_ROUTE_KW_KEY
             " or " GW_ROUTE_KW_PATH ")",
             (int)(fl[0] > 32 ? 32 : fl[0]), f[0]);
    /* never echo a token: a keyword is short and printable, or it is cut */
    for (char *c = why; *c; c++)
      if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
        *c = '?';
    return -1;
  }
  const char *kw = is_sent ? GW_ROUTE_KW_SENTINEL : is_key ? GW_ROUTE_KW_KEY : GW_ROUTE_KW_PATH;
  if (cur == NULL) {
    snprintf(why, wcap, "'%s' before any '" GW_ROUTE_KW_ROUTE "' line", kw);
    return -1;
  }
  if (n != 2) {
    snprintf(why, wcap, "route %s: want '%s %s'", cur->name, kw, is_path ? "PATTERN" : "TOKEN");
    return -1;
  }
  if (is_path) {
    if (!pattern_ok(f[1], fl[1])) {
      snprintf(why, wcap,
               "route %s: bad path pattern (starts with '/', '*' only at the end, no '%%', '\\', '//', '.' or "
               "'..')",
               cur->name);
      return -1;
    }
    cur->paths = xrealloc(cur->paths, (cur->npaths + 1) * sizeof(*cur->paths));
    cur->paths[cur->npaths++] = xstrndup(f[1], fl[1]);
    return 0;
  }
  if (!token_ok(f[1], fl[1])) {
    snprintf(why, wcap, "route %s: bad %s (printable ASCII without spaces, 1 to %d bytes)", cur->name, kw,
             GW_TOKEN_MAX);
    return -1;
  }
  char **slot = is_sent ? &cur->sentinel : &cur->key;
  if (*slot) {
    snprintf(why, wcap, "route %s: a second '%s' line", cur->name, kw);
    return -1;
  }
  *slot = xstrndup(f[1], fl[1]);
  if (is_sent)
    cur->sentinel_len = fl[1];
  else
    cur->key_len = fl[1];
  return 0;
}

#define ROUTES_MAX_LINE (GW_TOKEN_MAX + 1024)

static int routes_line(void *ud, const char *s, size_t n, unsigned lineno, unsigned *at, char *why, size_t wcap)
{
  return parse_line(ud, s, n, lineno, at, why, wcap);
}

int gw_routes_parse(struct gw_routes *rs, const char *buf, size_t len, const char *file, adr_err *err)
{
  rs->r = NULL;
  rs->n = 0;
  if (len > GW_ROUTES_MAX_BYTES)
    return adr_err_set(err, EFBIG, "%s: larger than %d bytes", file, GW_ROUTES_MAX_BYTES);
  unsigned lines = 0;
  if (gw_lines(buf, len, file, ROUTES_MAX_LINE, routes_line, rs, &lines, err) < 0) {
    gw_routes_free(rs);
    return -1;
  }
  if (rs->n == 0)
    return adr_err_set(err, EINVAL, "%s:%u: no route in the file", file, lines ? lines : 1);
  char why[512];
  if (route_done(&rs->r[rs->n - 1], why, sizeof(why)) < 0) {
    unsigned at = rs->r[rs->n - 1].line;
    gw_routes_free(rs);
    return adr_err_set(err, EINVAL, "%s:%u: %s", file, at, why);
  }
  return 0;
}

int gw_routes_load(struct gw_routes *rs, const char *path, adr_err *err)
{
  rs->r = NULL;
  rs->n = 0;
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return adr_err_sys(err, errno, GW_OPT_RELAY " %s", path);
  struct stat st;
  if (fstat(fd, &st) < 0)
    return adr_err_sys(err, errno, GW_OPT_RELAY " %s", path);
  if (!S_ISREG(st.st_mode))
    return adr_err_set(err, EINVAL, GW_OPT_RELAY " %s: not a regular file", path);
  if (st.st_size > GW_ROUTES_MAX_BYTES)
    return adr_err_set(err, EFBIG, GW_OPT_RELAY " %s: larger than %d bytes", path, GW_ROUTES_MAX_BYTES);
  size_t cap = (size_t)st.st_size + 1, len = 0;
  char *buf = xmalloc(cap);
  int r = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      r = adr_err_sys(err, errno, GW_OPT_RELAY " %s", path);
      break;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == cap) { /* grew while we read */
      r = adr_err_set(err, EFBIG, GW_OPT_RELAY " %s: changed while read", path);
      break;
    }
  }
  if (r == 0)
    r = gw_routes_parse(rs, buf, len, path, err);
  explicit_bzero(buf, cap); /* it held the keys */
  free(buf);
  return r;
}

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
    default:
      goto bad;
    }
    i++;
  }
  return i;
bad:
  b->bad = true;
  return i;
}

/* ---------------------------------------------------------------- request head */

static int refuse(struct gw_relay_req *q, int status, const char *rule, const char *reason)
{
  q->status = status;
  q->rule = rule;
  q->reason = reason;
  return -1;
}

/* The query parameter "key" (Gemini's) whose value is exactly the
 * sentinel: its value's offset, or -1. */
static long query_key(const char *qs, size_t ql, const char *tok, size_t tl)
{
  size_t i = 0;
  while (i <= ql) {
    const char *amp = memchr(qs + i, '&', ql - i);
    size_t e = amp ? (size_t)(amp - qs) : ql;
    if (e - i == 4 + tl && memcmp(qs + i, "key=", 4) == 0 && memcmp(qs + i + 4, tok, tl) == 0)
      return (long)(i + 4);
    i = e + 1;
  }
  return -1;
}

/* Where a credential goes: the value of x-api-key, x-goog-api-key or
 * api-key, or "Bearer VALUE" in Authorization.  The offset of the token in
 * v when the header is one of those and carries exactly tok; else -1. */
static long auth_carrier(const char *name, size_t nl, const char *v, size_t vl, const char *tok, size_t tl)
{
  if (gw_hdr_is(name, nl, "x-api-key") || gw_hdr_is(name, nl, "x-goog-api-key") || gw_hdr_is(name, nl, "api-key"))
    return vl == tl && memcmp(v, tok, tl) == 0 ? 0 : -1;
  if (gw_hdr_is(name, nl, "authorization"))
    return vl == 7 + tl && strncasecmp(v, "Bearer ", 7) == 0 && memcmp(v + 7, tok, tl) == 0 ? 7 : -1;
  return -1;
}

static bool dropped(const char *name, size_t nl)
{
  return gw_hdr_is(name, nl, "connection") || gw_hdr_is(name, nl, "keep-alive") || gw_hdr_is(name, nl, "proxy-connection") ||
         gw_hdr_is(name, nl, "proxy-authorization") || gw_hdr_is(name, nl, "te") || gw_hdr_is(name, nl, "upgrade") ||
         gw_hdr_is(name, nl, "host");
}

/* a header line: the value between the colon and the end, OWS trimmed */
static void value_of(const char *colon, const char *lend, const char **v, size_t *vl)
{
  const char *s = colon + 1, *e = lend;
  while (s < e && (*s == ' ' || *s == '\t'))
    s++;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
    e--;
  *v = s;
  *vl = (size_t)(e - s);
}

/* One header line of a request head already checked (every line has a
 * colon): the line without its end, the name, the value (OWS trimmed). */
struct hline {
  const char *line, *name, *v;
  size_t len, nl, vl;
};

/* Fills h with the header line at *p and moves *p past it; false at the
 * empty line or hend. */
static bool next_header(const char **p, const char *hend, struct hline *h)
{
  if (!gw_head_line(p, hend, &h->line, &h->len))
    return false;
  const char *colon = memchr(h->line, ':', h->len);
  h->name = h->line;
  h->nl = (size_t)(colon - h->line);
  value_of(colon, h->line + h->len, &h->v, &h->vl);
  return true;
}

int gw_relay_request(const struct gw_routes *rs, const char *b, size_t len, struct gw_relay_req *q, char *out,
                     size_t cap, size_t *outlen)
{
  memset(q, 0, sizeof(*q));
  *outlen = 0;
  /* the method (upper-case letters, '-', '_') and one space: anything else
   * is refused at once, without waiting for a whole head */
  size_t m = 0;
  while (m < len && m < sizeof(q->method) && ((b[m] >= 'A' && b[m] <= 'Z') || b[m] == '-' || b[m] == '_'))
    m++;
  if (m == sizeof(q->method) || (m < len && (m == 0 || b[m] != ' ')))
    return refuse(q, 400, "bad-request", "malformed request");
  size_t end = gw_head_end(b, len);
  if (end == 0)
    return GW_HTTP_MORE;
  memcpy(q->method, b, m);
  q->method[m] = '\0';
  q->head_len = end;

  /* request line: METHOD SP TARGET SP HTTP/1.x */
  const char *eol = memchr(b, '\n', end);
  size_t ll = (size_t)(eol - b);
  if (ll > 0 && b[ll - 1] == '\r')
    ll--;
  if (m + 1 > ll)
    return refuse(q, 400, "bad-request", "malformed request line");
  const char *tgt = b + m + 1;
  const char *sp = memchr(tgt, ' ', ll - m - 1);
  if (sp == NULL || sp == tgt)
    return refuse(q, 400, "bad-request", "malformed request line");
  size_t tl = (size_t)(sp - tgt);
  const char *ver = sp + 1;
  if (ll - (size_t)(ver - b) != 8 || (memcmp(ver, "HTTP/1.1", 8) != 0 && memcmp(ver, "HTTP/1.0", 8) != 0))
    return refuse(q, 400, "bad-request", "not HTTP/1.0 or HTTP/1.1");
  for (size_t i = 0; i < tl; i++)
    if ((unsigned char)tgt[i] <= 0x20 || (unsigned char)tgt[i] >= 0x7f || tgt[i] == '#')
      return refuse(q, 400, "bad-request", "malformed request target");
  if (tgt[0] != '/')
    return refuse(q, 400, "bad-request", "the request target must be /ROUTE/PATH");

  /* /NAME/rest?query */
  size_t qpos = tl;
  const char *qm = memchr(tgt, '?', tl);
  if (qm)
    qpos = (size_t)(qm - tgt);
  size_t ne = 1;
  while (ne < qpos && tgt[ne] != '/')
    ne++;
  q->name_off = (size_t)(tgt - b) + 1;
  q->name_len = ne - 1;
  q->path_off = (size_t)(tgt - b) + ne;
  q->path_len = qpos - ne;
  q->has_path = true;
  const char *qs = qm ? qm + 1 : NULL;
  size_t ql = qm ? tl - qpos - 1 : 0;

  /* headers: well-formed; at most one Host; the body's framing; where the
   * sentinels are (among the headers that are kept) */
  bool has_cl = false, has_te = false;
  uint64_t clen = 0;
  const char *p = eol + 1, *hend = b + end;
  size_t nhost = 0;
  size_t l;
  for (const char *next = p; gw_head_line(&next, hend, &p, &l);) {
    if (memchr(p, '\r', l) || memchr(p, '\0', l) || p[0] == ' ' || p[0] == '\t')
      return refuse(q, 400, "bad-request", "malformed header");
    const char *colon = memchr(p, ':', l);
    if (colon == NULL || colon == p)
      return refuse(q, 400, "bad-request", "malformed header");
    for (const char *c = p; c < colon; c++)
      if (!gw_tchar((unsigned char)*c))
        return refuse(q, 400, "bad-request", "malformed header");
    size_t nl = (size_t)(colon - p);
    const char *v;
    size_t vl;
    value_of(colon, p + l, &v, &vl);
    if (gw_hdr_is(p, nl, "host"))
      nhost++;
    if (gw_hdr_is(p, nl, "content-length")) {
      if (has_cl || vl == 0 || vl > 18)
        return refuse(q, 400, "bad-request", "bad Content-Length");
      clen = 0;
      for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
          return refuse(q, 400, "bad-request", "bad Content-Length");
        clen = clen * 10 + (uint64_t)(v[i] - '0');
      }
      has_cl = true;
    }
    if (gw_hdr_is(p, nl, "transfer-encoding")) {
      if (has_te || !(vl == 7 && strncasecmp(v, "chunked", 7) == 0))
        return refuse(q, 400, "bad-request", "unsupported Transfer-Encoding (only chunked)");
      has_te = true;
    }
  }
  if (nhost > 1)
    return refuse(q, 400, "bad-request", "more than one Host header");
  if (has_cl && has_te)
    return refuse(q, 400, "bad-request", "both Content-Length and Transfer-Encoding");

  /* the route, the path */
  const struct gw_route *r = gw_route_find(rs, tgt + 1, ne - 1);
  if (r == NULL)
    return refuse(q, 404, "unknown-route", "unknown route");
  q->route = r;
  const char *rest = tgt + ne;
  if (!gw_relay_path_ok(rest, qpos - ne))
    return refuse(q, 403, "path-not-allowed", "path not allowed");
  const char *pat = gw_route_match(r, rest, qpos - ne);
  if (pat == NULL)
    return refuse(q, 403, "path-not-allowed", "path not allowed");

  /* only the methods the APIs use */
  if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "POST") != 0)
    return refuse(q, 405, "method-not-allowed", "method not allowed");

  /* the sentinel: exactly the value of an auth header, or the query's
   * "key"; anywhere else (another header, the path, another parameter) the
   * key would go where an API may echo it back: refused */
  long qk = qs ? query_key(qs, ql, r->sentinel, r->sentinel_len) : -1;
  bool found = qk >= 0;
  if (memmem(tgt, qpos, r->sentinel, r->sentinel_len))
    return refuse(q, 400, "sentinel-misplaced", "the credential may only be in an auth header or ?key=");
  if (qs) {
    const char *hit = memmem(qs, ql, r->sentinel, r->sentinel_len);
    if (hit && (qk < 0 || (size_t)(hit - qs) != (size_t)qk ||
                memmem(hit + 1, ql - (size_t)(hit - qs) - 1, r->sentinel, r->sentinel_len)))
      return refuse(q, 400, "sentinel-misplaced", "the credential may only be in an auth header or ?key=");
  }
  struct hline h;
  for (p = eol + 1; next_header(&p, hend, &h);) {
    bool has = memmem(h.v, h.vl, r->sentinel, r->sentinel_len) != NULL;
    if (has && (dropped(h.name, h.nl) || auth_carrier(h.name, h.nl, h.v, h.vl, r->sentinel, r->sentinel_len) < 0))
      return refuse(q, 400, "sentinel-misplaced", "the credential may only be in an auth header or ?key=");
    found = found || has;
  }
  if (!found)
    return refuse(q, 401, "no-sentinel", "missing or wrong credentials");

  /* the head for upstream: the key where the sentinel was, nothing else
   * changed but Host and the hop-by-hop headers */
  size_t o = 0;
  bool ok = gw_put(out, cap, &o, b, m) && gw_put(out, cap, &o, " ", 1) && gw_put(out, cap, &o, r->base, strlen(r->base)) &&
            gw_put(out, cap, &o, rest, qpos - ne);
  if (ok && qs) {
    ok = gw_put(out, cap, &o, "?", 1);
    if (qk >= 0)
      ok = ok && gw_put(out, cap, &o, qs, (size_t)qk) && gw_put(out, cap, &o, r->key, r->key_len) &&
           gw_put(out, cap, &o, qs + qk + (long)r->sentinel_len, ql - (size_t)qk - r->sentinel_len);
    else
      ok = ok && gw_put(out, cap, &o, qs, ql);
  }
  ok = ok && gw_put(out, cap, &o, " ", 1) && gw_put(out, cap, &o, ver, 8) && gw_put(out, cap, &o, "\r\nHost: ", 8) &&
       gw_put(out, cap, &o, r->authority, strlen(r->authority)) && gw_put(out, cap, &o, "\r\n", 2);
  for (p = eol + 1; ok && next_header(&p, hend, &h);) {
    long at = auth_carrier(h.name, h.nl, h.v, h.vl, r->sentinel, r->sentinel_len);
    if (dropped(h.name, h.nl)) {
      /* not passed on */
    } else if (at >= 0) {
      ok = gw_put(out, cap, &o, h.name, h.nl) && gw_put(out, cap, &o, ": ", 2) && gw_put(out, cap, &o, h.v, (size_t)at) &&
           gw_put(out, cap, &o, r->key, r->key_len) && gw_put(out, cap, &o, "\r\n", 2);
    } else {
      ok = gw_put(out, cap, &o, h.line, h.len) && gw_put(out, cap, &o, "\r\n", 2);
    }
  }
  ok = ok && gw_put(out, cap, &o, "Connection: close\r\n\r\n", 21);
  if (!ok) {
    explicit_bzero(out, o);
    return refuse(q, 431, "head-too-large", "request head too large");
  }
  *outlen = o;
  q->rule = pat;
  gw_body_init(&q->body, has_te ? GW_BODY_CHUNKED : has_cl ? GW_BODY_LENGTH : GW_BODY_NONE, clen);
  return 1;
}

/* ---------------------------------------------------------------- response head */

int gw_relay_response(const char *b, size_t len, bool head_request, int *status, size_t *head_len,
                      struct gw_body *body, char *out, size_t cap, size_t *outlen)
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
    value_of(colon, p + l, &v, &vl);
    if (gw_hdr_is(p, nl, "transfer-encoding")) {
      has_te = true;
      /* chunked only when it is the last coding of the last header */
      chunked = vl >= 7 && strncasecmp(v + vl - 7, "chunked", 7) == 0 && (vl == 7 || v[vl - 8] == ',' ||
                                                                        v[vl - 8] == ' ' || v[vl - 8] == '\t');
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

/* ---------------------------------------------------------------- log */

void gw_relay_redact(const struct gw_routes *rs, const char *in, size_t len, char *out, size_t cap)
{
  static const char mark[] = "[redacted]";
  size_t o = 0;
  if (cap == 0)
    return;
  size_t i = 0;
  while (i < len) {
    size_t hit = 0;
    for (size_t k = 0; k < rs->n && !hit; k++) {
      const struct gw_route *r = &rs->r[k];
      if (r->sentinel_len && r->sentinel_len <= len - i && memcmp(in + i, r->sentinel, r->sentinel_len) == 0)
        hit = r->sentinel_len;
      else if (r->key_len && r->key_len <= len - i && memcmp(in + i, r->key, r->key_len) == 0)
        hit = r->key_len;
    }
    if (hit) {
      if (cap - o <= sizeof(mark) - 1)
        break;
      memcpy(out + o, mark, sizeof(mark) - 1);
      o += sizeof(mark) - 1;
      i += hit;
      continue;
    }
    if (cap - o <= 1)
      break;
    out[o++] = in[i++];
  }
  out[o] = '\0';
}
