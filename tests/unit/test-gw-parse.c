/* Unit tests for the gateway's wire parsers: TLS ClientHello (server name),
 * HTTP request heads (CONNECT, absolute-form and its rewrite, origin-form),
 * DNS queries and answers, and the JSON log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Real ClientHellos, captured from Python's ssl module (OpenSSL 3) with
 * server_hostname="api.example.com" and without a server name. */
static const uint8_t ch_api[] = {
  0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xa6, 0x81, 0xd1, 0x68, 0x8a, 0xa5, 0x75, 0xd4,
  0x41, 0x49, 0x3d, 0xde, 0x8d, 0x85, 0xd6, 0xdd, 0xde, 0x21, 0x1b, 0x3e, 0x37, 0xce, 0x99, 0x2f, 0x7a, 0xb9, 0xa7,
  0xc5, 0xab, 0x06, 0x84, 0xba, 0x20, 0xc4, 0x16, 0xc0, 0x4a, 0x88, 0x99, 0x7e, 0x59, 0x7d, 0xbe, 0xe9, 0x18, 0x86,
  0xbd, 0xb2, 0xcd, 0xe7, 0x31, 0x4f, 0x7c, 0xfd, 0x76, 0x88, 0x2a, 0xa8, 0xb7, 0xa1, 0x72, 0x19, 0x44, 0x1b, 0x79,
  0x00, 0x24, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc,
  0xa8, 0xc0, 0x24, 0xc0, 0x28, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x9f, 0x00, 0x9e, 0x00, 0x6b, 0x00, 0x67, 0x00, 0xff,
  0x01, 0x00, 0x01, 0x8f, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x61, 0x70, 0x69, 0x2e, 0x65, 0x78,
  0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a,
  0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01,
  0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
  0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08,
  0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02,
  0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03, 0x00, 0x2d, 0x00, 0x02,
  0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0xe3, 0x14, 0xf6, 0xed, 0xfc, 0x64, 0xc4,
  0xdc, 0xc9, 0x5f, 0xec, 0x44, 0x22, 0xe5, 0x7e, 0x43, 0x78, 0xb4, 0x32, 0x65, 0x67, 0x97, 0xc2, 0x48, 0x11, 0x7d,
  0x96, 0xcb, 0x3f, 0x36, 0x08, 0x52, 0x00, 0x15, 0x00, 0xde, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00,
};
static const uint8_t ch_nosni[] = {
  0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x02, 0x34, 0x20, 0x04, 0x89, 0xf3, 0x6b, 0xef,
  0xc8, 0x92, 0xd8, 0xd4, 0xc3, 0x84, 0x8e, 0xf7, 0x1a, 0x94, 0x8b, 0xa2, 0xef, 0xb2, 0x25, 0x65, 0xcb, 0xc3, 0x47,
  0x20, 0x87, 0x6f, 0x7c, 0x21, 0x20, 0x3f, 0x53, 0x94, 0xc4, 0x25, 0x0b, 0x1c, 0x4b, 0xb4, 0x9b, 0x47, 0x72, 0x05,
  0x99, 0xd7, 0x99, 0x52, 0xf9, 0xf7, 0xf4, 0x31, 0x5f, 0xff, 0x9d, 0x96, 0xcc, 0x62, 0xa2, 0xff, 0x06, 0x22, 0x93,
  0x00, 0x24, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0, 0x2c, 0xc0, 0x30, 0xc0, 0x2b, 0xc0, 0x2f, 0xcc, 0xa9, 0xcc,
  0xa8, 0xc0, 0x24, 0xc0, 0x28, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x9f, 0x00, 0x9e, 0x00, 0x6b, 0x00, 0x67, 0x00, 0xff,
  0x01, 0x00, 0x01, 0x8f, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00,
  0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04,
  0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04,
  0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05,
  0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06,
  0x02, 0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00,
  0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x32, 0x92, 0x12, 0x65, 0x41, 0x8b, 0x17, 0xed, 0xf4, 0x8a, 0x4c, 0x85,
  0xb5, 0x90, 0x4e, 0xc3, 0x07, 0x9d, 0xd5, 0x92, 0xae, 0xaa, 0xdb, 0x77, 0x80, 0xf6, 0x82, 0x3e, 0x80, 0x4a, 0x5e,
  0x0a, 0x00, 0x15, 0x00, 0xf6, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00,
};

/* ---------------------------------------------------------------- SNI */

static int sni(const uint8_t *b, size_t n, char *out)
{
  /* an exact-size copy so that ASan sees reads past the input */
  uint8_t *c = xmalloc(n ? n : 1);
  memcpy(c, b, n);
  int r = gw_sni_parse(c, n, out);
  free(c);
  return r;
}

static void test_sni_real(void **state)
{
  (void)state;
  char out[GW_HOST_MAX + 1];
  assert_int_equal(sni(ch_api, sizeof(ch_api), out), GW_SNI_OK);
  assert_string_equal(out, "api.example.com");
  assert_int_equal(sni(ch_nosni, sizeof(ch_nosni), out), GW_SNI_NONE);
  /* every truncation asks for more */
  for (size_t n = 0; n < sizeof(ch_api); n++)
    if (sni(ch_api, n, out) != GW_SNI_MORE)
      fail_msg("truncated at %zu: not MORE", n);
  /* trailing bytes (the next record) do not matter */
  uint8_t more[sizeof(ch_api) + 10];
  memcpy(more, ch_api, sizeof(ch_api));
  memset(more + sizeof(ch_api), 0x17, 10);
  assert_int_equal(sni(more, sizeof(more), out), GW_SNI_OK);
}

/* The same ClientHello split over two records at every possible point. */
static void test_sni_split(void **state)
{
  (void)state;
  char out[GW_HOST_MAX + 1];
  size_t body = sizeof(ch_api) - 5;
  for (size_t cut = 1; cut < body; cut += 7) {
    uint8_t b[sizeof(ch_api) + 5];
    memcpy(b, ch_api, 5);
    b[3] = (uint8_t)(cut >> 8);
    b[4] = (uint8_t)cut;
    memcpy(b + 5, ch_api + 5, cut);
    uint8_t *h2 = b + 5 + cut;
    memcpy(h2, ch_api, 5);
    h2[3] = (uint8_t)((body - cut) >> 8);
    h2[4] = (uint8_t)(body - cut);
    memcpy(h2 + 5, ch_api + 5 + cut, body - cut);
    if (sni(b, sizeof(b), out) != GW_SNI_OK || strcmp(out, "api.example.com") != 0)
      fail_msg("split at %zu", cut);
    assert_int_equal(sni(b, 5 + cut + 3, out), GW_SNI_MORE);
  }
}

/* Offsets inside ch_api, found by walking it. */
static size_t find_sni_ext(const uint8_t *b, size_t n)
{
  for (size_t i = 5; i + 9 < n; i++)
    if (b[i] == 0 && b[i + 1] == 0 && b[i + 6] == 0 && memcmp(b + i + 9, "api.example.com", 15) == 0)
      return i;
  fail_msg("no SNI extension in the capture");
  return 0;
}

static void test_sni_malicious(void **state)
{
  (void)state;
  char out[GW_HOST_MAX + 1];
  uint8_t b[sizeof(ch_api)];
  size_t e = find_sni_ext(ch_api, sizeof(ch_api));
  static const struct {
    size_t off;
    uint8_t val;
    int want;
  } cases[] = {
    { 0, 0x17, GW_SNI_BAD },  /* not a handshake record */
    { 1, 0x02, GW_SNI_BAD },  /* record version */
    { 5, 0x02, GW_SNI_BAD },  /* ServerHello */
    { 9, 0x02, GW_SNI_BAD },  /* legacy_version 2.x */
    { 43, 0xff, GW_SNI_BAD }, /* session id length > 32 */
    { 6, 0xff, GW_SNI_BAD },  /* handshake length beyond 16 KiB */
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    memcpy(b, ch_api, sizeof(b));
    b[cases[i].off] = cases[i].val;
    int r = sni(b, sizeof(b), out);
    if (r != cases[i].want)
      fail_msg("byte %zu = 0x%02x: got %d want %d", cases[i].off, cases[i].val, r, cases[i].want);
  }
  /* the extension's, the list's and the name's lengths, each too large */
  for (size_t k = 0; k < 3; k++) {
    size_t off = k == 0 ? e + 2 : k == 1 ? e + 4 : e + 7;
    memcpy(b, ch_api, sizeof(b));
    b[off] = 0x7f;
    assert_int_equal(sni(b, sizeof(b), out), GW_SNI_BAD);
    memcpy(b, ch_api, sizeof(b));
    b[off + 1] = (uint8_t)(b[off + 1] + 1);
    assert_int_equal(sni(b, sizeof(b), out), GW_SNI_BAD);
  }
  /* name length 0 */
  memcpy(b, ch_api, sizeof(b));
  b[e + 8] = 0;
  assert_int_equal(sni(b, sizeof(b), out), GW_SNI_BAD);
  /* the name type not host_name: no name */
  memcpy(b, ch_api, sizeof(b));
  b[e + 6] = 1;
  assert_int_equal(sni(b, sizeof(b), out), GW_SNI_NONE);
  /* a NUL inside the name */
  memcpy(b, ch_api, sizeof(b));
  b[e + 12] = 0;
  assert_int_equal(sni(b, sizeof(b), out), GW_SNI_BAD);
  /* a zero-length record */
  static const uint8_t zero[] = { 0x16, 3, 1, 0, 0, 0x16, 3, 1, 0, 4, 1, 0, 0, 0 };
  assert_int_equal(sni(zero, sizeof(zero), out), GW_SNI_BAD);
  /* a 16 KiB+ handshake message never completes: BAD, not MORE for ever */
  static const uint8_t huge[] = { 0x16, 3, 1, 0, 4, 1, 0, 0x40, 0x00 };
  assert_int_equal(sni(huge, sizeof(huge), out), GW_SNI_BAD);
}

/* ---------------------------------------------------------------- HTTP */

static int http(const char *s, struct gw_http_head *h) { return gw_http_parse(s, strlen(s), h); }

static void test_http_connect(void **state)
{
  (void)state;
  struct gw_http_head h;
  const char *req = "CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n\x16\x03";
  assert_int_equal(http(req, &h), GW_HTTP_OK);
  assert_int_equal(h.form, GW_HTTP_CONNECT);
  assert_string_equal(h.method, "CONNECT");
  assert_string_equal(h.host, "api.example.com");
  assert_int_equal(h.port, 443);
  assert_int_equal(h.head_len, strlen(req) - 2);
  assert_int_equal(http("CONNECT [2001:db8::1]:8443 HTTP/1.0\n\n", &h), GW_HTTP_OK);
  assert_string_equal(h.host, "2001:db8::1");
  assert_int_equal(h.port, 8443);
  static const char *bad[] = {
    "CONNECT api.example.com HTTP/1.1\r\n\r\n", /* no port */
    "CONNECT api.example.com:0 HTTP/1.1\r\n\r\n",
    "CONNECT api.example.com:65536 HTTP/1.1\r\n\r\n",
    "CONNECT api.example.com:44x HTTP/1.1\r\n\r\n",
    "CONNECT :443 HTTP/1.1\r\n\r\n",
    "CONNECT [::1:443 HTTP/1.1\r\n\r\n",
    "CONNECT a@b.com:443 HTTP/1.1\r\n\r\n",
    "CONNECT a.com:443 HTTP/2.0\r\n\r\n",
    "CONNECT a.com:443  HTTP/1.1\r\n\r\n",
    "CONNECT a.com:443 HTTP/1.1\r\nX: a\r\n folded\r\n\r\n",
    "CONNECT a.com:443 HTTP/1.1\r\nno colon\r\n\r\n",
    "CONNECT a.com:443 HTTP/1.1\r\nBad Name: x\r\n\r\n",
    "CONNECT a.com:443 HTTP/1.1\r\nX: a\rb\r\n\r\n",
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    if (http(bad[i], &h) != GW_HTTP_BAD)
      fail_msg("accepted: %s", bad[i]);
}

static void test_http_absolute(void **state)
{
  (void)state;
  struct gw_http_head h;
  const char *req =
    "GET http://Example.test:8080/a/b?c=d HTTP/1.1\r\n"
    "Host: evil.test\r\n"
    "Proxy-Connection: keep-alive\r\n"
    "Proxy-Authorization: Basic eA==\r\n"
    "User-Agent: t\r\n"
    "connection: keep-alive\r\n"
    "Keep-Alive: 5\r\n"
    "Accept: */*\r\n"
    "\r\n"
    "BODY";
  assert_int_equal(http(req, &h), GW_HTTP_OK);
  assert_int_equal(h.form, GW_HTTP_ABSOLUTE);
  assert_string_equal(h.method, "GET");
  assert_string_equal(h.host, "Example.test");
  assert_int_equal(h.port, 8080);
  char out[4096];
  long n = gw_http_rewrite(req, &h, out, sizeof(out));
  assert_true(n > 0);
  out[n] = '\0';
  assert_string_equal(out,
                      "GET /a/b?c=d HTTP/1.1\r\n"
                      "User-Agent: t\r\n"
                      "Accept: */*\r\n"
                      "Host: Example.test:8080\r\n"
                      "Connection: close\r\n"
                      "\r\n");
  assert_int_equal(gw_http_rewrite(req, &h, out, 20), -1); /* too small */
  assert_int_equal(h.head_len, strlen(req) - 4);

  /* no path, default port, query without path */
  assert_int_equal(http("POST http://a.test HTTP/1.0\r\n\r\n", &h), GW_HTTP_OK);
  assert_int_equal(h.port, 80);
  n = gw_http_rewrite("POST http://a.test HTTP/1.0\r\n\r\n", &h, out, sizeof(out));
  out[n] = '\0';
  assert_string_equal(out, "POST / HTTP/1.0\r\nHost: a.test\r\nConnection: close\r\n\r\n");
  const char *q = "GET http://a.test?x=1 HTTP/1.1\r\n\r\n";
  assert_int_equal(http(q, &h), GW_HTTP_OK);
  n = gw_http_rewrite(q, &h, out, sizeof(out));
  out[n] = '\0';
  assert_string_equal(out, "GET /?x=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
  assert_int_equal(http("GET http://[::1]:81/ HTTP/1.1\r\n\r\n", &h), GW_HTTP_OK);
  assert_string_equal(h.host, "::1");
  assert_int_equal(h.port, 81);

  assert_int_equal(http("GET https://a.test/ HTTP/1.1\r\n\r\n", &h), GW_HTTP_HTTPS);
  assert_int_equal(http("GET http://user:pw@a.test/ HTTP/1.1\r\n\r\n", &h), GW_HTTP_BAD);
  assert_int_equal(http("GET ftp://a.test/ HTTP/1.1\r\n\r\n", &h), GW_HTTP_BAD);
  assert_int_equal(http("GET http:///x HTTP/1.1\r\n\r\n", &h), GW_HTTP_BAD);
  assert_int_equal(http("GET http://a.test:99999/ HTTP/1.1\r\n\r\n", &h), GW_HTTP_BAD);
}

static void test_http_origin(void **state)
{
  (void)state;
  struct gw_http_head h;
  assert_int_equal(http("GET /x HTTP/1.1\r\nHost:  api.example.com:8080 \r\n\r\n", &h), GW_HTTP_OK);
  assert_int_equal(h.form, GW_HTTP_ORIGIN);
  assert_string_equal(h.host, "api.example.com");
  assert_int_equal(h.port, 0);
  assert_int_equal(http("OPTIONS * HTTP/1.1\r\nhost: a.test\r\n\r\n", &h), GW_HTTP_OK);
  assert_string_equal(h.host, "a.test");
  assert_int_equal(http("GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", &h), GW_HTTP_OK);
  assert_string_equal(h.host, "::1");
  assert_int_equal(http("GET /x HTTP/1.1\r\nAccept: x\r\n\r\n", &h), GW_HTTP_NOHOST);
  assert_int_equal(http("GET /x HTTP/1.1\r\nHost:\r\n\r\n", &h), GW_HTTP_NOHOST);
  assert_int_equal(http("GET /x HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", &h), GW_HTTP_BAD);
  assert_int_equal(http("GET x HTTP/1.1\r\nHost: a.test\r\n\r\n", &h), GW_HTTP_BAD);
  assert_int_equal(http("GET /x HTTP/1.1\r\nHost: a/b\r\n\r\n", &h), GW_HTTP_BAD);
}

static void test_http_incremental(void **state)
{
  (void)state;
  struct gw_http_head h;
  const char *req = "GET /x HTTP/1.1\r\nHost: a.test\r\n\r\n";
  for (size_t n = 0; n < strlen(req); n++) {
    char *c = xstrndup(req, n);
    int r = gw_http_parse(c, n, &h);
    free(c);
    if (r != GW_HTTP_MORE)
      fail_msg("prefix of %zu bytes: %d, want MORE", n, r);
  }
  /* not HTTP: rejected at once, not after 16 KiB */
  assert_int_equal(gw_http_parse("hello", 5, &h), GW_HTTP_BAD);
  assert_int_equal(gw_http_parse("\x00\x01", 2, &h), GW_HTTP_BAD);
  assert_int_equal(gw_http_parse(" GET", 4, &h), GW_HTTP_BAD);
  assert_int_equal(gw_http_parse("GETTTTTTTTTTTTTTTTTTTTTTTTTTTTT", 31, &h), GW_HTTP_BAD);
  /* a big head without its end stays MORE (the caller stops at 16 KiB) */
  char *big = xmalloc(GW_HEAD_MAX);
  memset(big, 'a', GW_HEAD_MAX);
  memcpy(big, "GET /x HTTP/1.1\r\nX: ", 20);
  assert_int_equal(gw_http_parse(big, GW_HEAD_MAX, &h), GW_HTTP_MORE);
  free(big);
}

/* ---------------------------------------------------------------- DNS */

static size_t mkq(uint8_t *b, uint16_t id, uint16_t flags, const char *name, uint16_t qt)
{
  size_t o = 12;
  memset(b, 0, 12);
  b[0] = (uint8_t)(id >> 8);
  b[1] = (uint8_t)id;
  b[2] = (uint8_t)(flags >> 8);
  b[3] = (uint8_t)flags;
  b[5] = 1;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    b[o++] = (uint8_t)l;
    memcpy(b + o, p, l);
    o += l;
    p += l + (dot ? 1 : 0);
  }
  b[o++] = 0;
  b[o++] = (uint8_t)(qt >> 8);
  b[o++] = (uint8_t)qt;
  b[o++] = 0;
  b[o++] = 1;
  return o;
}

static void test_dns(void **state)
{
  (void)state;
  uint8_t q[512], out[512];
  struct gw_dns_query dq;
  size_t n = mkq(q, 0xbeef, 0x0100, "Api.Example.com", 1);
  assert_int_equal(gw_dns_parse(q, n, &dq), 0);
  assert_int_equal(dq.id, 0xbeef);
  assert_string_equal(dq.name, "Api.Example.com");
  assert_true(dq.name_ok);
  assert_int_equal(dq.qtype, 1);
  assert_int_equal(dq.qclass, 1);
  assert_int_equal(dq.qend, n);
  const uint8_t ip[4] = { 10, 213, 0, 1 };
  size_t an = gw_dns_answer(q, &dq, GW_DNS_NOERROR, ip, out, sizeof(out));
  assert_int_equal(an, n + 16);
  static const uint8_t hdr[] = { 0xbe, 0xef, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0 };
  assert_memory_equal(out, hdr, 12);
  assert_memory_equal(out + 12, q + 12, n - 12); /* the question as sent */
  static const uint8_t rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 10, 0, 4, 10, 213, 0, 1 };
  assert_memory_equal(out + n, rr, 16);
  /* NXDOMAIN, no RD */
  n = mkq(q, 7, 0x0000, "x.test", 28);
  assert_int_equal(gw_dns_parse(q, n, &dq), 0);
  an = gw_dns_answer(q, &dq, GW_DNS_NXDOMAIN, NULL, out, sizeof(out));
  assert_int_equal(an, n);
  assert_int_equal(out[2], 0x80);
  assert_int_equal(out[3], 0x83);
  assert_int_equal(out[7], 0);
  assert_int_equal(gw_dns_answer(q, &dq, 0, ip, out, n + 15), 0); /* cap too small */
  /* names with dots or odd bytes inside a label are never OK */
  n = mkq(q, 1, 0x100, "a.b", 1);
  q[12] = 3; /* one label "a.b" */
  assert_int_equal(gw_dns_parse(q, n - 1 + 1, &dq), 0);
  assert_false(dq.name_ok);
  n = mkq(q, 1, 0x100, "", 1); /* the root */
  assert_int_equal(gw_dns_parse(q, n, &dq), 0);
  assert_false(dq.name_ok);
  /* responses and short packets are dropped */
  n = mkq(q, 1, 0x8100, "a.test", 1);
  assert_int_equal(gw_dns_parse(q, n, &dq), -1);
  assert_int_equal(gw_dns_parse(q, 11, &dq), -1);
  /* FORMERR: two questions, truncated question, compression pointer */
  n = mkq(q, 1, 0x100, "a.test", 1);
  q[5] = 2;
  assert_int_equal(gw_dns_parse(q, n, &dq), GW_DNS_FORMERR);
  q[5] = 1;
  assert_int_equal(gw_dns_parse(q, n - 1, &dq), GW_DNS_FORMERR);
  q[12] = 0xc0;
  assert_int_equal(gw_dns_parse(q, n, &dq), GW_DNS_FORMERR);
  n = mkq(q, 1, 0x100, "a.test", 1);
  q[12] = 60; /* label runs past the end */
  assert_int_equal(gw_dns_parse(q, n, &dq), GW_DNS_FORMERR);
  n = mkq(q, 1, 0x100 | 0x1000, "a.test", 1); /* opcode 2 */
  assert_int_equal(gw_dns_parse(q, n, &dq), GW_DNS_NOTIMP);
  an = gw_dns_error(q, GW_DNS_NOTIMP, out, sizeof(out));
  assert_int_equal(an, 12);
  assert_int_equal(out[3] & 0xf, 4);
  assert_int_equal(out[2] & 0x80, 0x80);
  assert_int_equal(out[5], 0);
  char tn[16];
  assert_string_equal(gw_dns_type_name(28, tn), "AAAA");
  assert_string_equal(gw_dns_type_name(65, tn), "HTTPS");
  assert_string_equal(gw_dns_type_name(999, tn), "TYPE999");
}

/* ---------------------------------------------------------------- log */

static void test_log(void **state)
{
  (void)state;
  char out[GW_LOG_LINE_MAX];
  struct gw_logrec r = {
    .time = { .tv_sec = 1795968184, .tv_nsec = 123999999 },
    .sandbox = "sb",
    .client = "10.213.0.3:41234",
    .via = "proxy",
    .method = "GET",
    .host = "api.example.com",
    .port = 443,
    .sni = NULL,
    .allow = true,
    .rule = "--allow \"x\"\\",
    .bytes_up = 10,
    .bytes_down = 20,
    .duration_ms = 3,
    .upstream = "1.2.3.4:443",
    .error = NULL,
  };
  gw_log_format(&r, out, sizeof(out));
  assert_string_equal(out,
                      "{\"time\":\"2026-11-29T16:03:04.123Z\",\"sandbox\":\"sb\",\"client\":\"10.213.0.3:41234\","
                      "\"via\":\"proxy\",\"method\":\"GET\",\"host\":\"api.example.com\",\"port\":443,\"sni\":null,"
                      "\"verdict\":\"allow\",\"rule\":\"--allow \\\"x\\\"\\\\\",\"bytes_up\":10,\"bytes_down\":20,"
                      "\"duration_ms\":3,\"upstream\":\"1.2.3.4:443\",\"error\":null}\n");
  r.dns = true;
  r.qtype = "AAAA";
  r.allow = false;
  r.host = "a\x01\xc3\xa9\x7f";
  gw_log_format(&r, out, sizeof(out));
  assert_non_null(strstr(out, "\"host\":\"a\\u0001\\u00c3\\u00a9\\u007f\""));
  assert_non_null(strstr(out, "\"verdict\":\"deny\""));
  assert_non_null(strstr(out, "\"error\":null,\"qtype\":\"AAAA\"}\n"));
  /* cut at 255 bytes; the worst case fits */
  char big[1000];
  memset(big, '\x01', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  r.host = r.sni = r.rule = r.error = r.sandbox = r.method = r.client = r.upstream = big;
  size_t n = gw_log_format(&r, out, sizeof(out));
  assert_true(n < sizeof(out));
  assert_int_equal(out[n - 1], '\n');
  assert_int_equal(out[n - 2], '}');
  const char *h = strstr(out, "\"host\":\"");
  assert_non_null(h);
  assert_int_equal(strchr(h + 8, '"') - (h + 8), 255 * 6);
}

/* a pooled gateway's claim: NUL-terminated arguments, nothing else */
static void test_claim(void **state)
{
  (void)state;
  char ok[] =
    "--policy\0/adr-gw/policy\0--bind\0"
    "10.213.0.2\0";
  char **v = NULL;
  size_t n = 0;
  assert_int_equal(gw_claim_split(ok, sizeof(ok) - 1, &v, &n), 0);
  assert_int_equal(n, 5);
  assert_string_equal(v[0], "adr-gateway");
  assert_string_equal(v[1], "--policy");
  assert_string_equal(v[2], "/adr-gw/policy");
  assert_string_equal(v[4], "10.213.0.2");
  assert_null(v[5]);
  free(v);
  char one[] = "--help";
  assert_int_equal(gw_claim_split(one, sizeof(one), &v, &n), 0); /* its NUL included */
  assert_int_equal(n, 2);
  free(v);
  /* refused: empty, not NUL-terminated (cut short), an empty argument, too large */
  assert_int_equal(gw_claim_split(ok, 0, &v, &n), -1);
  assert_int_equal(gw_claim_split(ok, 5, &v, &n), -1);
  char empty_arg[] = "--policy\0\0x";
  assert_int_equal(gw_claim_split(empty_arg, sizeof(empty_arg), &v, &n), -1);
  char lead[] = "\0--policy";
  assert_int_equal(gw_claim_split(lead, sizeof(lead), &v, &n), -1);
  assert_null(v);
  char *big = calloc(GW_CLAIM_MAX + 1, 1);
  assert_non_null(big);
  memset(big, 'a', GW_CLAIM_MAX);
  assert_int_equal(gw_claim_split(big, GW_CLAIM_MAX + 1, &v, &n), -1);
  assert_int_equal(gw_claim_split(big, GW_CLAIM_MAX, &v, &n), -1); /* no NUL */
  big[GW_CLAIM_MAX - 1] = '\0';
  assert_int_equal(gw_claim_split(big, GW_CLAIM_MAX, &v, &n), 0); /* the largest */
  assert_int_equal(n, 2);
  free(v);
  free(big);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sni_real),
    cmocka_unit_test(test_sni_split),
    cmocka_unit_test(test_sni_malicious),
    cmocka_unit_test(test_http_connect),
    cmocka_unit_test(test_http_absolute),
    cmocka_unit_test(test_http_origin),
    cmocka_unit_test(test_http_incremental),
    cmocka_unit_test(test_dns),
    cmocka_unit_test(test_log),
    cmocka_unit_test(test_claim),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
