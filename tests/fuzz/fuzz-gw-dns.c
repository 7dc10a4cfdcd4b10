/* Fuzz target for the DNS query parser and the answer builder.  Built as a
 * libFuzzer target with -Dfuzz=true (clang), else as a corpus replay test
 * with replay.c; see fuzz-config.c.
 *
 * Properties: an accepted query's question lies inside it; the answer
 * echoes id and question, is a response, and has the documented length;
 * an answer is never itself accepted as a query (no loops). */
#include "gw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-gw-dns: property violated: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct gw_dns_query q;
  uint8_t out[GW_DNS_MAX + 64];
  int r = gw_dns_parse(data, size, &q);
  if (r < 0)
    return 0;
  if (r > 0) {
    check(r == GW_DNS_FORMERR || r == GW_DNS_NOTIMP, "error rcode");
    size_t n = gw_dns_error(data, r, out, sizeof(out));
    check(n == 12 && (out[2] & 0x80) && (out[3] & 0xf) == r, "error answer");
    return 0;
  }
  check(q.qend >= 17 && q.qend <= size, "question inside the query");
  check(strlen(q.name) <= GW_HOST_MAX, "name length");
  static const uint8_t ip[4] = { 10, 0, 0, 1 };
  size_t n = gw_dns_answer(data, &q, GW_DNS_NOERROR, ip, out, sizeof(out));
  check(n == q.qend + 16, "answer length");
  check(memcmp(out, data, 2) == 0 && memcmp(out + 12, data + 12, q.qend - 12) == 0, "id and question echoed");
  check((out[2] & 0x80) && out[7] == 1, "a response with one answer");
  struct gw_dns_query q2;
  check(gw_dns_parse(out, n, &q2) == -1, "answers are dropped");
  n = gw_dns_answer(data, &q, GW_DNS_NXDOMAIN, NULL, out, sizeof(out));
  check(n == q.qend && (out[3] & 0xf) == 3 && out[7] == 0, "NXDOMAIN");
  return 0;
}
