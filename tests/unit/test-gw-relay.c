/* Unit tests for the credential relay's pure parts (relay-parse.c, relay-routes.c, relay-frame.c): the
 * route file, the path checks and patterns, the request decision and
 * rewrite (sentinel -> key), body framing, the response head, redaction and
 * the relay's log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

static const char routes_txt[] =
  "# routes for the tests\n"
  "\n"
  "route anth https://api.test/base\n"
  "sentinel adr-s1\n"
  "key sk-REAL-1\n"
  "path /v1/messages\n"
  "path /v1/models/*\n"
  "  route goog https://127.0.0.2:8443\n"
  "\tsentinel adr-s2\r\n"
  "key REAL2\n"
  "path /v1beta/models/*\n"
  "path /v1beta/m\n"
  "route six https://[::1]:9000/a/b\n"
  "sentinel adr-s3\n"
  "key REAL3\n"
  "path /*\n";

static void load(struct gw_routes *rs)
{
  adr_err err = NULL;
  int r = gw_routes_parse(rs, routes_txt, strlen(routes_txt), "routes", &err);
  if (r < 0)
    fprintf(stderr, "%s\n", err->msg);
  assert_int_equal(r, 0);
  adr_err_free(&err);
}

static void test_routes_ok(void **state)
{
  (void)state;
  struct gw_routes rs;
  load(&rs);
  assert_int_equal(rs.n, 3);
  const struct gw_route *a = gw_route_find(&rs, "anth", 4);
  assert_non_null(a);
  assert_string_equal(a->host, "api.test");
  assert_false(a->host_ip);
  assert_int_equal(a->port, 443);
  assert_string_equal(a->authority, "api.test");
  assert_string_equal(a->base, "/base");
  assert_string_equal(a->sentinel, "adr-s1");
  assert_string_equal(a->key, "sk-REAL-1");
  assert_int_equal(a->npaths, 2);
  assert_int_equal(a->line, 3);
  const struct gw_route *g = gw_route_find(&rs, "goog", 4);
  assert_non_null(g);
  assert_true(g->host_ip);
  assert_string_equal(g->host, "127.0.0.2");
  assert_string_equal(g->authority, "127.0.0.2:8443");
  assert_string_equal(g->base, "");
  assert_string_equal(g->sentinel, "adr-s2"); /* CR and tabs are blanks */
  const struct gw_route *s = gw_route_find(&rs, "six", 3);
  assert_non_null(s);
  assert_string_equal(s->host, "::1");
  assert_string_equal(s->authority, "[::1]:9000");
  assert_string_equal(s->base, "/a/b");
  assert_null(gw_route_find(&rs, "ant", 3));
  assert_null(gw_route_find(&rs, "anthx", 5));
  gw_routes_free(&rs);
  assert_int_equal(rs.n, 0);
}

/* Every bad file is refused with one line naming FILE:LINE, never a token. */
static void test_routes_bad(void **state)
{
  (void)state;
  static const struct {
    const char *text, *msg;
  } cases[] = {
    { "", "r:1: no route in the file" },
    { "# only a comment\n", "r:1: no route in the file" },
    { "sentinel adr-x\n", "r:1: 'sentinel' before any 'route' line" },
    { "route a https://a.test\nsentinel s\nkey k\npath /x\nroute a https://b.test\n", "r:5: route a: defined twice" },
    { "route a https://a.test\nsentinel s\nkey k\npath /x\nsecret zzz\n",
      "r:5: unknown keyword 'secret' (want route, sentinel, key or path)" },
    { "route a https://a.test\nkey k\npath /x\n", "r:1: route a: no sentinel line" },
    { "route a https://a.test\nsentinel s\npath /x\nroute b https://b.test\n", "r:1: route a: no key line" },
    { "route a https://a.test\nsentinel s\nkey k\n\n", "r:1: route a: no path line" },
    { "route a http://a.test\n", "r:1: route a: URL must be https://HOST[:PORT][/BASEPATH]" },
    { "route a https://a.test/\n", "r:1: route a: bad base path (no trailing '/', no '%', '\\', '//', '.' or '..')" },
    { "route a https://a.test/v1/../x\n",
      "r:1: route a: bad base path (no trailing '/', no '%', '\\', '//', '.' or '..')" },
    { "route a https://a.test/v1?x=1\n", "r:1: route a: no query, fragment or user name in the URL" },
    { "route a https://u@a.test\n", "r:1: route a: no query, fragment or user name in the URL" },
    { "route a https://a.test:0\n", "r:1: route a: bad port in the URL" },
    { "route a https://a.test:65536\n", "r:1: route a: bad port in the URL" },
    { "route a https://::1\n", "r:1: route a: bad host in the URL (a DNS name, an IPv4 address or [IPv6])" },
    { "route a https://[a.test]\n", "r:1: route a: bad host in the URL (a DNS name, an IPv4 address or [IPv6])" },
    { "route a https://a_b!.test\n", "r:1: route a: bad host in the URL (a DNS name, an IPv4 address or [IPv6])" },
    { "route A https://a.test\n", "r:1: bad route name (want 1 to 32 of a-z, 0-9, '-')" },
    { "route abcdefghijabcdefghijabcdefghijabc https://a.test\n",
      "r:1: bad route name (want 1 to 32 of a-z, 0-9, '-')" },
    { "route a\n", "r:1: want 'route NAME https://HOST[:PORT][/BASEPATH]'" },
    { "route a https://a.test\nsentinel s1 s2\n", "r:2: route a: want 'sentinel TOKEN'" },
    { "route a https://a.test\nsentinel s1\nsentinel s2\n", "r:3: route a: a second 'sentinel' line" },
    { "route a https://a.test\nkey caf\xc3\xa9\n",
      "r:2: route a: bad key (printable ASCII without spaces, 1 to 4096 bytes)" },
    { "route a https://a.test\nsentinel s\nkey k\npath v1\n",
      "r:4: route a: bad path pattern (starts with '/', '*' only at the end, no '%', '\\', '//', '.' or '..')" },
    { "route a https://a.test\nsentinel s\nkey k\npath /v1/*/x\n",
      "r:4: route a: bad path pattern (starts with '/', '*' only at the end, no '%', '\\', '//', '.' or '..')" },
    { "route a https://a.test\nsentinel s\nkey k\npath /v1//x\n",
      "r:4: route a: bad path pattern (starts with '/', '*' only at the end, no '%', '\\', '//', '.' or '..')" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct gw_routes rs;
    adr_err err = NULL;
    int r = gw_routes_parse(&rs, cases[i].text, strlen(cases[i].text), "r", &err);
    if (r == 0 || strcmp(err->msg, cases[i].msg) != 0)
      fprintf(stderr, "case %zu: got '%s'\n", i, r == 0 ? "(accepted)" : err->msg);
    assert_int_equal(r, -1);
    assert_string_equal(err->msg, cases[i].msg);
    assert_null(strchr(err->msg, '\n'));
    assert_int_equal(rs.n, 0);
    adr_err_free(&err);
  }
  struct gw_routes rs;
  adr_err err = NULL;
  static const char nul[] = "route a https://a.test\nsentinel s\nkey k\npath /x\0\n";
  assert_int_equal(gw_routes_parse(&rs, nul, sizeof(nul) - 1, "r", &err), -1);
  assert_string_equal(err->msg, "r:4: NUL byte in line");
  adr_err_free(&err);
  /* a bad key's value is never in the message */
  const char *t = "route a https://a.test\nsentinel s\nkey sk-secret\x01value\n";
  assert_int_equal(gw_routes_parse(&rs, t, strlen(t), "r", &err), -1);
  assert_null(strstr(err->msg, "secret"));
  adr_err_free(&err);
  /* a token of 4096 bytes is fine, 4097 is not */
  char big[8192];
  char tok[4098];
  memset(tok, 'k', sizeof(tok));
  tok[4096] = '\0';
  snprintf(big, sizeof(big), "route a https://a.test\nsentinel s\nkey %s\npath /x\n", tok);
  assert_int_equal(gw_routes_parse(&rs, big, strlen(big), "r", &err), 0);
  gw_routes_free(&rs);
  tok[4096] = 'k';
  tok[4097] = '\0';
  snprintf(big, sizeof(big), "route a https://a.test\nsentinel s\nkey %s\npath /x\n", tok);
  assert_int_equal(gw_routes_parse(&rs, big, strlen(big), "r", &err), -1);
  assert_string_equal(err->msg, "r:3: route a: bad key (printable ASCII without spaces, 1 to 4096 bytes)");
  adr_err_free(&err);
}

static void test_paths(void **state)
{
  (void)state;
  static const char *ok[] = { "/", "/v1", "/v1/messages", "/v1/", "/a..b", "/a./b", "/x*y", "/v1:stream" };
  static const char *bad[] = { "",
                               "v1",
                               "//",
                               "/v1//x",
                               "/.",
                               "/..",
                               "/./x",
                               "/../x",
                               "/a/.",
                               "/a/..",
                               "/a/../b",
                               "/%2e%2e/x",
                               "/a%2fb",
                               "/a\\b",
                               "/a b",
                               "/a\x7f",
                               "/a\x80",
                               "/a#b",
                               "/a?b",
                               "/.well-known/x",
                               "/a;b=c",
                               "/..;/x",
                               "/v1/models/x/..;/..;/files",
                               "/x/.hidden" };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    if (!gw_relay_path_ok(ok[i], strlen(ok[i])))
      fprintf(stderr, "refused: '%s'\n", ok[i]);
    assert_true(gw_relay_path_ok(ok[i], strlen(ok[i])));
  }
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    if (gw_relay_path_ok(bad[i], strlen(bad[i])))
      fprintf(stderr, "accepted: '%s'\n", bad[i]);
    assert_false(gw_relay_path_ok(bad[i], strlen(bad[i])));
  }
  struct gw_routes rs;
  load(&rs);
  const struct gw_route *a = gw_route_find(&rs, "anth", 4);
  assert_string_equal(gw_route_match(a, "/v1/messages", 12), "/v1/messages");
  assert_null(gw_route_match(a, "/v1/messages/", 13));
  assert_null(gw_route_match(a, "/v1/messagesx", 13));
  assert_null(gw_route_match(a, "/v1/message", 11));
  assert_string_equal(gw_route_match(a, "/v1/models/x", 12), "/v1/models/*");
  assert_null(gw_route_match(a, "/v1/models/", 11)); /* '*' is one or more bytes */
  assert_null(gw_route_match(a, "/v1/models", 10));
  assert_null(gw_route_match(a, "/v1/models/x/y", 14)); /* '*' is one segment */
  const struct gw_route *s = gw_route_find(&rs, "six", 3);
  assert_string_equal(gw_route_match(s, "/anything", 9), "/*");
  assert_null(gw_route_match(s, "/anything/at/all", 16));
  assert_null(gw_route_match(s, "/", 1));
  gw_routes_free(&rs);
}

/* run one request; returns the result, the rewritten head in out */
static int req(const struct gw_routes *rs, const char *head, struct gw_relay_req *q, char *out, size_t cap,
               size_t *outlen)
{
  int r = gw_relay_request(rs, head, strlen(head), q, out, cap, outlen);
  if (r == 1)
    out[*outlen] = '\0';
  return r;
}

static void test_request_rewrite(void **state)
{
  (void)state;
  struct gw_routes rs;
  load(&rs);
  static char out[GW_RELAY_OUT_MAX + 1];
  size_t n;
  struct gw_relay_req q;
  const char *h =
    "POST /anth/v1/messages HTTP/1.1\r\n"
    "Host: 127.0.0.1:3129\r\n"
    "x-api-key: adr-s1\r\n"
    "Authorization: Bearer adr-s1\r\n"
    "anthropic-version: 2023-06-01\r\n"
    "Connection: keep-alive\r\n"
    "Keep-Alive: timeout=5\r\n"
    "Proxy-Connection: keep-alive\r\n"
    "Proxy-Authorization: Basic eHl6\r\n"
    "TE: trailers\r\n"
    "Upgrade: h2c\r\n"
    "Content-Length:  5 \r\n"
    "X-Odd:   spaced  value  \r\n"
    "\r\n"
    "hello";
  assert_int_equal(req(&rs, h, &q, out, GW_RELAY_OUT_MAX, &n), 1);
  assert_string_equal(out,
                      "POST /base/v1/messages HTTP/1.1\r\n"
                      "Host: api.test\r\n"
                      "x-api-key: sk-REAL-1\r\n"
                      "Authorization: Bearer sk-REAL-1\r\n"
                      "anthropic-version: 2023-06-01\r\n"
                      "Content-Length:  5 \r\n"
                      "X-Odd:   spaced  value  \r\n"
                      "Connection: close\r\n\r\n");
  assert_int_equal(q.head_len, strlen(h) - 5);
  assert_string_equal(q.method, "POST");
  assert_string_equal(q.rule, "/v1/messages");
  assert_ptr_equal(q.route, gw_route_find(&rs, "anth", 4));
  assert_int_equal(q.body.kind, GW_BODY_LENGTH);
  assert_int_equal(q.body.left, 5);
  assert_int_equal(q.path_len, 12);
  assert_memory_equal(h + q.path_off, "/v1/messages", 12);
  assert_memory_equal(h + q.name_off, "anth", 4);

  /* the key in the query (Google style), the Host with a port, no base path,
   * a bare-LF head without Host (HTTP/1.0) */
  h =
    "GET /goog/v1beta/models/x:generate?alt=sse&key=adr-s2 HTTP/1.0\n"
    "x-goog-api-key: adr-s2\n"
    "\n";
  assert_int_equal(req(&rs, h, &q, out, GW_RELAY_OUT_MAX, &n), 1);
  assert_string_equal(out,
                      "GET /v1beta/models/x:generate?alt=sse&key=REAL2 HTTP/1.0\r\n"
                      "Host: 127.0.0.2:8443\r\n"
                      "x-goog-api-key: REAL2\r\n"
                      "Connection: close\r\n\r\n");
  assert_int_equal(q.body.kind, GW_BODY_NONE);
  assert_true(q.body.done);
  /* the query's key alone is enough; the rest of the query is kept */
  h = "GET /goog/v1beta/m?a=1&key=adr-s2&x=2 HTTP/1.1\r\nHost: x\r\n\r\n";
  assert_int_equal(req(&rs, h, &q, out, GW_RELAY_OUT_MAX, &n), 1);
  assert_string_equal(out,
                      "GET /v1beta/m?a=1&key=REAL2&x=2 HTTP/1.1\r\nHost: 127.0.0.2:8443\r\n"
                      "Connection: close\r\n\r\n");
  /* IPv6 authority, base path with two segments, chunked */
  h = "POST /six/x HTTP/1.1\r\nAuthorization: bearer adr-s3\r\nTransfer-Encoding: Chunked\r\n\r\n";
  assert_int_equal(req(&rs, h, &q, out, GW_RELAY_OUT_MAX, &n), 1);
  assert_string_equal(out,
                      "POST /a/b/x HTTP/1.1\r\nHost: [::1]:9000\r\nAuthorization: bearer REAL3\r\n"
                      "Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n");
  assert_int_equal(q.body.kind, GW_BODY_CHUNKED);
  assert_false(q.body.done);
  /* Basic (git over HTTPS): the key is the base64 of user:password */
  h = "GET /six/x?service=git-receive-pack HTTP/1.1\r\nAuthorization: Basic adr-s3\r\n\r\n";
  assert_int_equal(req(&rs, h, &q, out, GW_RELAY_OUT_MAX, &n), 1);
  assert_string_equal(out,
                      "GET /a/b/x?service=git-receive-pack HTTP/1.1\r\nHost: [::1]:9000\r\n"
                      "Authorization: Basic REAL3\r\nConnection: close\r\n\r\n");
  gw_routes_free(&rs);
}

static void test_request_refused(void **state)
{
  (void)state;
  struct gw_routes rs;
  load(&rs);
  static char out[GW_RELAY_OUT_MAX + 1];
  size_t n;
  struct gw_relay_req q;
  static const struct {
    const char *head;
    int status;
    const char *rule;
  } cases[] = {
    /* the sentinel: missing, wrong, another route's, only where it is dropped */
    { "GET /anth/v1/messages HTTP/1.1\r\nHost: x\r\n\r\n", 401, "no-sentinel" },
    { "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s9\r\n\r\n", 401, "no-sentinel" },
    { "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s2\r\n\r\n", 401, "no-sentinel" },
    { "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s\r\n\r\n", 401, "no-sentinel" },
    { "GET /anth/v1/messages HTTP/1.1\r\nadr-s1: x\r\n\r\n", 401, "no-sentinel" },
    /* the sentinel anywhere but exactly an auth header's value or ?key=:
     * the key would go where an API may echo it */
    { "GET /anth/v1/messages HTTP/1.1\r\nProxy-Authorization: adr-s1\r\n\r\n", 400, "sentinel-misplaced" },
    { "GET /anth/v1/messages HTTP/1.1\r\nHost: adr-s1\r\n\r\n", 400, "sentinel-misplaced" },
    { "GET /anth/v1/messages?adr-s1 HTTP/1.1\r\n\r\n", 400, "sentinel-misplaced" },
    { "GET /anth/v1/messages?k=xadr-s1 HTTP/1.1\r\n\r\n", 400, "sentinel-misplaced" },
    { "POST /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\nanthropic-beta: adr-s1\r\n\r\n", 400,
      "sentinel-misplaced" },
    { "POST /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1 x\r\n\r\n", 400, "sentinel-misplaced" },
    { "POST /anth/v1/messages HTTP/1.1\r\nAuthorization: Basic xadr-s1\r\n\r\n", 400, "sentinel-misplaced" },
    { "POST /anth/v1/messages HTTP/1.1\r\nAuthorization: Digest adr-s1\r\n\r\n", 400, "sentinel-misplaced" },
    { "GET /goog/v1beta/m?key=adr-s2&x=adr-s2 HTTP/1.1\r\n\r\n", 400, "sentinel-misplaced" },
    { "GET /goog/v1beta/m?x=adr-s2&key=adr-s2 HTTP/1.1\r\n\r\n", 400, "sentinel-misplaced" },
    { "GET /six/adr-s3 HTTP/1.1\r\nAuthorization: Bearer adr-s3\r\n\r\n", 400, "sentinel-misplaced" },
    /* methods the APIs do not use */
    { "DELETE /anth/v1/models/x HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 405, "method-not-allowed" },
    { "PUT /six/x HTTP/1.1\r\nAuthorization: Bearer adr-s3\r\n\r\n", 405, "method-not-allowed" },
    /* routes, paths */
    { "GET /nope/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 404, "unknown-route" },
    { "GET / HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 404, "unknown-route" },
    { "GET /ANTH/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 404, "unknown-route" },
    { "GET /anth HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth?x=1 HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth/v1/other HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth/v1/models/../../x HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth/v1/models/%2e%2e/x HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth/v1/models//x HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth//v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    { "GET /anth/v1/models/a\\b HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 403, "path-not-allowed" },
    /* malformed */
    { "GET http://api.test/anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n", 400, "bad-request" },
    { "CONNECT api.test:443 HTTP/1.1\r\n\r\n", 400, "bad-request" },
    { "GET * HTTP/1.1\r\n\r\n", 400, "bad-request" },
    { "GET /anth/v1/messages HTTP/2.0\r\n\r\n", 400, "bad-request" },
    { "GET /anth/v1/messages#x HTTP/1.1\r\n\r\n", 400, "bad-request" },
    { "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n folded\r\n\r\n", 400, "bad-request" },
    { "GET /anth/v1/messages HTTP/1.1\r\nbad header: x\r\n\r\n", 400, "bad-request" },
    { "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\rx\r\n\r\n", 400, "bad-request" },
    { "GET /anth/v1/messages HTTP/1.1\r\nHost: a\r\nHost: b\r\nx-api-key: adr-s1\r\n\r\n", 400, "bad-request" },
    { "POST /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      400, "bad-request" },
    { "POST /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400,
      "bad-request" },
    { "POST /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\nContent-Length: -1\r\n\r\n", 400, "bad-request" },
    { "POST /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400,
      "bad-request" },
    { "\x16\x03\x01\x02", 400, "bad-request" }, /* TLS: refused before a whole head */
    { "get /anth/v1/messages", 400, "bad-request" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    int r = req(&rs, cases[i].head, &q, out, GW_RELAY_OUT_MAX, &n);
    if (r != -1 || q.status != cases[i].status)
      fprintf(stderr, "case %zu: r %d status %d rule %s\n", i, r, q.status, q.rule ? q.rule : "-");
    assert_int_equal(r, -1);
    assert_int_equal(q.status, cases[i].status);
    assert_string_equal(q.rule, cases[i].rule);
    assert_non_null(q.reason);
    assert_int_equal(n, 0);
  }
  /* incomplete: more */
  assert_int_equal(req(&rs, "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n", &q, out, GW_RELAY_OUT_MAX, &n),
                   GW_HTTP_MORE);
  assert_int_equal(req(&rs, "", &q, out, GW_RELAY_OUT_MAX, &n), GW_HTTP_MORE);
  assert_int_equal(req(&rs, "POST", &q, out, GW_RELAY_OUT_MAX, &n), GW_HTTP_MORE);
  /* a rewrite that does not fit (the key is longer than the sentinel): 431 */
  const char *h = "GET /anth/v1/messages HTTP/1.1\r\nx-api-key: adr-s1\r\n\r\n";
  assert_int_equal(req(&rs, h, &q, out, 40, &n), -1);
  assert_int_equal(q.status, 431);
  gw_routes_free(&rs);
}

/* One byte at a time and all at once give the same answer. */
static size_t feed_all(enum gw_body_kind kind, uint64_t len, const char *s, size_t n, bool bytewise, bool *done,
                       bool *bad)
{
  struct gw_body b;
  gw_body_init(&b, kind, len);
  size_t k = 0;
  if (bytewise) {
    for (size_t i = 0; i < n; i++) {
      size_t r = gw_body_feed(&b, (const uint8_t *)s + i, 1);
      k += r;
      if (r == 0)
        break;
    }
  } else {
    k = gw_body_feed(&b, (const uint8_t *)s, n);
  }
  *done = b.done;
  *bad = b.bad;
  return k;
}

static void test_body(void **state)
{
  (void)state;
  static const struct {
    const char *s;
    size_t body; /* bytes that are the body */
    bool done, bad;
  } cases[] = {
    { "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1", 15, true, false },
    { "5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\nrest", 57, true, false },
    { "5\nhello\n0\n\n", 11, true, false },
    { "A\r\n0123456789\r\n", 15, false, false },
    { "5\r\nhello", 8, false, false },
    { "x\r\n", 0, false, true },
    { "\r\n", 0, false, true },
    { "5\r\nhelloX", 8, false, true },
    { "5\r\nhello\rX", 9, false, true },
    { "5x\r\n", 1, false, true },
    { "1000000000000000\r\n", 15, false, true }, /* 2^60: too big */
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    for (int bw = 0; bw < 2; bw++) {
      bool done, bad;
      size_t k = feed_all(GW_BODY_CHUNKED, 0, cases[i].s, strlen(cases[i].s), bw, &done, &bad);
      if (k != cases[i].body || done != cases[i].done || bad != cases[i].bad)
        fprintf(stderr, "case %zu (%s): k %zu done %d bad %d\n", i, bw ? "bytewise" : "whole", k, done, bad);
      assert_int_equal(k, cases[i].body);
      assert_int_equal(done, cases[i].done);
      assert_int_equal(bad, cases[i].bad);
    }
  }
  bool done, bad;
  assert_int_equal(feed_all(GW_BODY_LENGTH, 3, "abcdef", 6, false, &done, &bad), 3);
  assert_true(done);
  assert_int_equal(feed_all(GW_BODY_LENGTH, 3, "abcdef", 6, true, &done, &bad), 3);
  assert_true(done);
  assert_int_equal(feed_all(GW_BODY_LENGTH, 10, "abcdef", 6, false, &done, &bad), 6);
  assert_false(done);
  assert_int_equal(feed_all(GW_BODY_NONE, 0, "abcdef", 6, false, &done, &bad), 0);
  assert_true(done);
  assert_int_equal(feed_all(GW_BODY_LENGTH, 0, "abcdef", 6, false, &done, &bad), 0);
  assert_true(done);
  assert_int_equal(feed_all(GW_BODY_UNTIL_CLOSE, 0, "abcdef", 6, false, &done, &bad), 6);
  assert_false(done);
}

static void test_response(void **state)
{
  (void)state;
  static char out[2 * GW_RELAY_HEAD_MAX + 64];
  int st;
  size_t hl, n;
  struct gw_body b;
  const char *h =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: keep-alive\r\n"
    "Keep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\ndata";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(st, 200);
  assert_int_equal(hl, strlen(h) - 4);
  assert_int_equal(b.kind, GW_BODY_CHUNKED);
  out[n] = '\0';
  assert_string_equal(out,
                      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                      "Connection: close\r\n\r\n");
  h = "HTTP/1.0 307 Temporary Redirect\nLocation: http://127.0.0.3/x\nContent-Length: 0\n\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(st, 307);
  assert_int_equal(b.kind, GW_BODY_LENGTH);
  assert_true(b.done);
  out[n] = '\0';
  assert_string_equal(out,
                      "HTTP/1.0 307 Temporary Redirect\r\nLocation: http://127.0.0.3/x\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n");
  /* interim: no Connection: close, no body */
  h = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(st, 100);
  assert_int_equal(hl, 25);
  assert_true(b.done);
  out[n] = '\0';
  assert_string_equal(out, "HTTP/1.1 100 Continue\r\n\r\n");
  /* framing: HEAD, 204, 304 have none; no length: until close */
  h = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), true, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(b.kind, GW_BODY_NONE);
  h = "HTTP/1.1 204 No Content\r\n\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(b.kind, GW_BODY_NONE);
  h = "HTTP/1.1 200 OK\r\n\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(b.kind, GW_BODY_UNTIL_CLOSE);
  h = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(b.kind, GW_BODY_UNTIL_CLOSE);
  h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(b.kind, GW_BODY_UNTIL_CLOSE);
  h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), 1);
  assert_int_equal(b.kind, GW_BODY_CHUNKED);
  /* malformed; incomplete */
  static const char *bad[] = { "HTTP/2 200\r\n\r\n",
                               "HTTP/1.1 20 OK\r\n\r\n",
                               "HTTP/1.1 2000 OK\r\n\r\n",
                               "HTTP/1.1 099 x\r\n\r\n",
                               "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                               "SSH-2.0" };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    assert_int_equal(gw_relay_response(bad[i], strlen(bad[i]), false, &st, &hl, &b, out, sizeof(out), &n), -1);
  h = "HTTP/1.1 200 OK\r\nX: y\r\n";
  assert_int_equal(gw_relay_response(h, strlen(h), false, &st, &hl, &b, out, sizeof(out), &n), GW_HTTP_MORE);
  assert_int_equal(gw_relay_response("HTTP/", 5, false, &st, &hl, &b, out, sizeof(out), &n), GW_HTTP_MORE);
}

static void test_redact(void **state)
{
  (void)state;
  struct gw_routes rs;
  load(&rs);
  char out[64];
  const char *in = "/v1/adr-s1/x/sk-REAL-1/adr-s2adr-s3";
  gw_relay_redact(&rs, in, strlen(in), out, sizeof(out));
  assert_string_equal(out, "/v1/[redacted]/x/[redacted]/[redacted][redacted]");
  /* cut when full, never inside a token */
  gw_relay_redact(&rs, in, strlen(in), out, 12);
  assert_string_equal(out, "/v1/");
  gw_relay_redact(&rs, "adr-s", 5, out, sizeof(out));
  assert_string_equal(out, "adr-s");
  gw_routes_free(&rs);
}

static void test_log(void **state)
{
  (void)state;
  char out[GW_LOG_LINE_MAX];
  struct gw_logrec r = { .time = { 0, 0 },
                         .sandbox = "sb",
                         .client = "10.0.0.3:5000",
                         .via = "relay",
                         .method = "POST",
                         .host = "api.test",
                         .port = 443,
                         .allow = true,
                         .rule = "/v1/*",
                         .bytes_up = 10,
                         .bytes_down = 20,
                         .upstream = "127.0.0.2:443",
                         .relay = true,
                         .route = "anth",
                         .path = "/v1/\"x\"",
                         .status = 200 };
  gw_log_format(&r, out, sizeof(out));
  assert_string_equal(out,
                      "{\"time\":\"1970-01-01T00:00:00.000Z\",\"sandbox\":\"sb\",\"client\":\"10.0.0.3:5000\","
                      "\"via\":\"relay\",\"method\":\"POST\",\"host\":\"api.test\",\"port\":443,\"sni\":null,"
                      "\"verdict\":\"allow\",\"rule\":\"/v1/*\",\"bytes_up\":10,\"bytes_down\":20,"
                      "\"duration_ms\":0,\"upstream\":\"127.0.0.2:443\",\"error\":null,\"route\":\"anth\","
                      "\"path\":\"/v1/\\\"x\\\"\",\"status\":200}\n");
  r.status = -1;
  r.route = r.path = NULL;
  gw_log_format(&r, out, sizeof(out));
  assert_non_null(strstr(out, ",\"route\":null,\"path\":null,\"status\":null}\n"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_routes_ok),       cmocka_unit_test(test_routes_bad),      cmocka_unit_test(test_paths),
    cmocka_unit_test(test_request_rewrite), cmocka_unit_test(test_request_refused), cmocka_unit_test(test_body),
    cmocka_unit_test(test_response),        cmocka_unit_test(test_redact),          cmocka_unit_test(test_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
