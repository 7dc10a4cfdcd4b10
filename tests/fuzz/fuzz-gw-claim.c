/* Fuzz target for a pooled gateway's claim file (gw_claim_split).  Built
 * as a libFuzzer target with -Dfuzz=true (clang), else as a corpus replay
 * test with replay.c; see fuzz-config.c.
 *
 * Properties: accepted input ends in NUL and holds no empty argument; the
 * arguments, joined back with NULs, are the input exactly; argv ends in
 * NULL. */
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
  fprintf(stderr, "fuzz-gw-claim: property violated: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *buf = malloc(size + 1);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  char **v = NULL;
  size_t n = 0;
  int r = gw_claim_split(buf, size, &v, &n);
  if (r == 0) {
    check(size > 0 && buf[size - 1] == '\0', "accepted input ends in NUL");
    check(n >= 2 && v[n] == NULL, "argv: the program, an argument at least, NULL");
    size_t at = 0;
    for (size_t i = 1; i < n; i++) {
      size_t l = strlen(v[i]);
      check(l > 0, "no empty argument");
      check(v[i] == buf + at, "arguments in order, back to back");
      at += l + 1;
    }
    check(at == size, "the arguments are the whole input");
  } else {
    check(v == NULL && n == 0, "nothing on failure");
  }
  free(v);
  free(buf);
  return 0;
}
