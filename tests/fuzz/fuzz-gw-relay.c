/* Fuzz target for the credential relay's pure parts (relay-parse.c, relay-routes.c, relay-frame.c).
 * Built as a libFuzzer target with -Dfuzz=true (clang), else as a corpus
 * replay test with replay.c; see fuzz-config.c.
 *
 * The first byte chooses what the rest is:
 *   '0' (or anything not below)  a route file
 *   '1'  a request head (and body) against fixed routes
 *   '2'  an upstream response head
 *   '3'  a request body: chunked ('3c...'), or a length ('3l<n>...')
 *
 * Properties:
 *   route file: an error is one line naming "fuzz:LINE"; a parsed route is
 *     complete (sentinel, key, a path) and its URL parts are sane.
 *   request: a refusal has a status and a rule; an accepted head's rewrite
 *     parses again (the gateway's own HTTP parser) as an origin-form request
 *     for the route's host, the same method, one head, no header value left
 *     with the sentinel, "Connection: close" last; what the log would show
 *     of it holds no sentinel and no key.
 *   response: a parsed head lies in the input; its rewrite parses again to
 *     the same status and fits its bound.
 *   body: fed whole or byte by byte, the same bytes are the body. */
#include "gw.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-gw-relay: property violated: %s\n", what);
  abort();
}

/* Keys chosen so that no replacement can make a new sentinel with the text
 * around it (no key's end is a sentinel's start, and so on). */
static const char routes_txt[] =
  "route anth https://api.test/base\nsentinel adr-s1\nkey KEY1\n"
  "path /v1/messages\npath /v1/models/*\n"
  "route goog https://127.0.0.2:8443\nsentinel adr-s2\nkey KEY2\npath /v1beta/*\n"
  "route six https://[::1]:9000/a/b\nsentinel adr-s3\nkey KEY3\npath /*\n";

static void fuzz_routes(const char *s, size_t n)
{
  struct gw_routes rs;
  adr_err err = NULL;
  if (gw_routes_parse(&rs, s, n, "fuzz", &err) < 0) {
    check(err && strncmp(err->msg, "fuzz:", 5) == 0, "errors name fuzz:LINE");
    check(strchr(err->msg, '\n') == NULL, "errors are one line");
    check(rs.n == 0, "nothing kept on error");
    adr_err_free(&err);
    return;
  }
  check(rs.n > 0, "at least one route");
  for (size_t i = 0; i < rs.n; i++) {
    const struct gw_route *r = &rs.r[i];
    check(r->sentinel && r->sentinel_len > 0 && r->key && r->key_len > 0 && r->npaths > 0, "complete route");
    check(r->port > 0 && r->host[0] && r->authority && r->base, "URL parts");
    check(r->base[0] == '\0' || (r->base[0] == '/' && r->base[strlen(r->base) - 1] != '/'), "base path");
    for (size_t k = 0; k < r->npaths; k++)
      check(r->paths[k][0] == '/', "patterns start with '/'");
    check(gw_route_find(&rs, r->name, strlen(r->name)) == r, "names unique");
  }
  gw_routes_free(&rs);
}

static void fuzz_request(const char *s, size_t n)
{
  struct gw_routes rs;
  adr_err err = NULL;
  check(gw_routes_parse(&rs, routes_txt, strlen(routes_txt), "routes", &err) == 0, "fixed routes");
  char *out = xmalloc(GW_RELAY_OUT_MAX);
  size_t ol = 12345;
  struct gw_relay_req q;
  int r = gw_relay_request(&rs, s, n, &q, out, GW_RELAY_OUT_MAX, &ol);
  check(r >= -1 && r <= 1, "result in range");
  if (r < 0) {
    check(q.status >= 400 && q.status < 500 && q.rule && q.reason, "a refusal says why");
    check(ol == 0, "nothing to send");
  }
  if (q.has_path) {
    check(q.name_off + q.name_len <= n && q.path_off + q.path_len <= n, "path inside the input");
    char red[1024];
    gw_relay_redact(&rs, s + q.path_off, q.path_len, red, sizeof(red));
    for (size_t i = 0; i < rs.n; i++)
      check(!strstr(red, rs.r[i].sentinel) && !strstr(red, rs.r[i].key), "redacted");
  }
  if (r == 1) {
    const struct gw_route *rt = q.route;
    check(rt != NULL && q.rule != NULL, "a route and its pattern");
    check(q.head_len > 0 && q.head_len <= n, "head inside the input");
    check(ol > 0 && ol <= GW_RELAY_OUT_MAX, "rewrite fits");
    struct gw_http_head h;
    int r2 = gw_http_parse(out, ol, &h);
    if (r2 != GW_HTTP_OK)
      fprintf(stderr, "rewrite: [%.*s]\n", (int)ol, out);
    check(r2 == GW_HTTP_OK, "rewrite parses");
    check(h.form == GW_HTTP_ORIGIN, "origin-form");
    check(strcmp(h.method, q.method) == 0, "same method");
    check(strcasecmp(h.host, rt->host) == 0, "the route's host");
    check(h.head_len == ol, "one head");
    check(ol >= 21 && memcmp(out + ol - 21, "Connection: close\r\n\r\n", 21) == 0, "Connection: close last");
    check(strncmp(out + strlen(q.method) + 1, rt->base, strlen(rt->base)) == 0, "base path first");
    /* header values: no sentinel left */
    const char *p = (const char *)memchr(out, '\n', ol) + 1, *end = out + ol;
    while (p < end) {
      const char *e = memchr(p, '\n', (size_t)(end - p));
      const char *colon = memchr(p, ':', (size_t)(e - p));
      if (colon)
        check(memmem(colon, (size_t)(e - colon), rt->sentinel, rt->sentinel_len) == NULL, "sentinel replaced");
      p = e + 1;
    }
    /* the body framing takes no more than what follows the head */
    size_t k = gw_body_feed(&q.body, (const uint8_t *)s + q.head_len, n - q.head_len);
    check(k <= n - q.head_len, "body inside the input");
  }
  explicit_bzero(out, GW_RELAY_OUT_MAX);
  free(out);
  gw_routes_free(&rs);
}

static void fuzz_response(const char *s, size_t n, bool head_req)
{
  size_t cap = 2 * n + 64;
  char *out = xmalloc(cap);
  int st;
  size_t hl, ol;
  struct gw_body b;
  int r = gw_relay_response(s, n, head_req, &st, &hl, &b, out, cap, &ol);
  check(r >= -1 && r <= 1, "result in range");
  if (r == 1) {
    check(hl > 0 && hl <= n && ol <= 2 * hl + 32, "head inside the input, rewrite bounded");
    check(st >= 100 && st <= 999, "status");
    char *out2 = xmalloc(2 * ol + 64);
    int st2;
    size_t hl2, ol2;
    struct gw_body b2;
    check(gw_relay_response(out, ol, head_req, &st2, &hl2, &b2, out2, 2 * ol + 64, &ol2) == 1, "rewrite parses");
    check(st2 == st && hl2 == ol, "same status, one head");
    check(ol2 == ol && memcmp(out, out2, ol) == 0, "the rewrite is a fixed point");
    free(out2);
  }
  free(out);
}

static void fuzz_body(const char *s, size_t n)
{
  if (n == 0)
    return;
  enum gw_body_kind kind = s[0] == 'l' ? GW_BODY_LENGTH : GW_BODY_CHUNKED;
  uint64_t len = 0;
  size_t i = 1;
  if (kind == GW_BODY_LENGTH)
    for (; i < n && i < 8 && s[i] >= '0' && s[i] <= '9'; i++)
      len = len * 10 + (uint64_t)(s[i] - '0');
  struct gw_body a, b;
  gw_body_init(&a, kind, len);
  gw_body_init(&b, kind, len);
  size_t ka = gw_body_feed(&a, (const uint8_t *)s + i, n - i), kb = 0;
  for (size_t j = i; j < n; j++) {
    size_t r = gw_body_feed(&b, (const uint8_t *)s + j, 1);
    check(r <= 1, "one byte at most");
    kb += r;
    if (r == 0)
      break;
  }
  check(ka <= n - i, "body inside the input");
  check(ka == kb && a.done == b.done && a.bad == b.bad, "whole or byte by byte: the same");
  check(!(a.done && a.bad), "done or bad, not both");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0]) {
  case '1': fuzz_request(s, n); break;
  case '2':
    fuzz_response(s, n, false);
    fuzz_response(s, n, true);
    break;
  case '3': fuzz_body(s, n); break;
  default: fuzz_routes(s, n); break;
  }
  return 0;
}
