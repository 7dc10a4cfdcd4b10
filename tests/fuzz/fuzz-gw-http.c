/* Fuzz target for the HTTP head parser and the absolute-form rewrite.
 * Built as a libFuzzer target with -Dfuzz=true (clang), else as a corpus
 * replay test with replay.c; see fuzz-config.c.
 *
 * Properties: a parsed head lies inside the input; the host is non-empty;
 * the rewrite of an absolute-form request always fits in head + 1 KiB and
 * parses again as an origin-form request for the same method and host,
 * with "Connection: close" and exactly one Host. */
#include "gw.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-gw-http: property violated: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;
  struct gw_http_head h;
  int r = gw_http_parse(s, size, &h);
  check(r >= GW_HTTP_NOHOST && r <= GW_HTTP_OK, "result in range");
  if (r != GW_HTTP_OK)
    return 0;
  check(h.head_len > 0 && h.head_len <= size, "head inside the input");
  check(h.host[0] != '\0', "host non-empty");
  check(h.form == GW_HTTP_ORIGIN || h.port > 0, "port set");
  if (h.form != GW_HTTP_ABSOLUTE)
    return 0;
  size_t cap = h.head_len + 1024;
  char *out = xmalloc(cap);
  long n = gw_http_rewrite(s, &h, out, cap);
  check(n > 0 && (size_t)n <= cap, "rewrite fits");
  struct gw_http_head h2;
  int r2 = gw_http_parse(out, (size_t)n, &h2);
  if (r2 != GW_HTTP_OK)
    fprintf(stderr, "rewrite: [%.*s]\n", (int)n, out);
  check(r2 == GW_HTTP_OK, "rewrite parses");
  check(h2.form == GW_HTTP_ORIGIN, "rewrite is origin-form");
  check(strcmp(h2.method, h.method) == 0, "same method");
  check(strcmp(h2.host, h.host) == 0, "same host");
  check(h2.head_len == (size_t)n, "one head");
  check(memmem(out, (size_t)n, "\r\nConnection: close\r\n", 21) != NULL, "Connection: close");
  free(out);
  return 0;
}
