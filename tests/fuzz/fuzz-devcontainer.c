/* Fuzz target for the devcontainer.json reader: JSONC stripping, then the
 * whole load (from a file) with variables.  Besides "no crash, no leak, no
 * undefined behaviour": a stripped text that is JSON strips to itself
 * (stripping never changes strict JSON). */
#include "devcontainer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fake_env(const char *name) { return strcmp(name, "HOME") == 0 ? "/home/u" : NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  adr_err err = NULL;
  char *once = adr_jsonc_strip((const char *)data, size, &err);
  json_t *j = once ? json_loads(once, 0, NULL) : NULL;
  if (j) {
    json_decref(j);
    char *twice = adr_jsonc_strip(once, strlen(once), &err);
    if (!twice || strcmp(once, twice) != 0) {
      fprintf(stderr, "fuzz-devcontainer: stripping is not idempotent\n");
      abort();
    }
    free(twice);
  }
  free(once);
  adr_err_free(&err);
  char path[] = "/tmp/fuzz-devcontainer.XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return 0;
  if (write(fd, data, size) != (ssize_t)size) {
    close(fd);
    unlink(path);
    return 0;
  }
  close(fd);
  struct adr_devcontainer_vars v = { .local_workspace = "/src/app",
                                     .container_workspace = "/workspace",
                                     .getenv_fn = fake_env };
  struct adr_devcontainer d;
  if (adr_devcontainer_load(path, &v, &d, &err) == 0)
    adr_devcontainer_free(&d);
  adr_err_free(&err);
  unlink(path);
  return 0;
}
