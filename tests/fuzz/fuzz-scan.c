/* Fuzz target for the secret patterns (image files are anyone's bytes)
 * and the Dockerfile base reader.  Besides "no crash, no leak, no
 * undefined behaviour": a finding's offset is inside the data, and the
 * same data gives the same answer. */
#include "scan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t at = 0, at2 = 0;
  const char *what = adr_scan_text((const char *)data, size, &at);
  if (what && at >= size) {
    fprintf(stderr, "fuzz-scan: offset %zu past %zu\n", at, size);
    abort();
  }
  if (adr_scan_text((const char *)data, size, &at2) != what || (what && at != at2))
    abort();
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  struct strv args = { 0 };
  strv_push(&args, "BASE_IMAGE=x");
  free(adr_dockerfile_base(text, &args));
  strv_free(&args);
  free(text);
  return 0;
}
