/* The credential relay's route file (its format is the contract with
 * adr: gwproto.h) and the path checks.  No I/O except gw_routes_load();
 * nothing prints.
 *
 * The key is a secret of the host's: it never appears in an error message,
 * and every buffer here that held it is zeroed before it is freed. */
#include "gw.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
