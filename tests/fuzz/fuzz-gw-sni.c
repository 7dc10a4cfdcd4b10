/* Fuzz target for the TLS ClientHello parser (gw_sni_parse).  Built as a
 * libFuzzer target with -Dfuzz=true (clang), else as a corpus replay test
 * with replay.c; see fuzz-config.c.
 *
 * Properties: the result is one of the four documented values; a name is
 * 1..255 bytes without NUL; a prefix of an input is never "bad" when the
 * whole input parses (more bytes can only complete a ClientHello). */
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
  fprintf(stderr, "fuzz-gw-sni: property violated: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char out[GW_HOST_MAX + 1];
  int r = gw_sni_parse(data, size, out);
  check(r == GW_SNI_MORE || r == GW_SNI_OK || r == GW_SNI_NONE || r == GW_SNI_BAD, "result in range");
  if (r == GW_SNI_OK) {
    size_t n = strnlen(out, sizeof(out));
    check(n >= 1 && n <= GW_HOST_MAX, "name length 1..255");
  }
  if (r == GW_SNI_OK || r == GW_SNI_NONE) {
    char o2[GW_HOST_MAX + 1];
    for (size_t cut = size > 64 ? size - 64 : 0; cut < size; cut++) {
      int r2 = gw_sni_parse(data, cut, o2);
      check(r2 != GW_SNI_BAD, "a prefix of a good ClientHello is not bad");
    }
  }
  return 0;
}
