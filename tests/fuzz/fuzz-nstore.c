/* Fuzz target for the native engine's image store: an image archive (what
 * a registry or `docker save` hands over) imported into a store of its own.
 * Besides "no crash, no leak, no undefined behaviour": nothing is ever
 * written outside the store (the store lives in a directory of its own
 * whose siblings are checked), and a failed import leaves no tmp-* layer. */
#include "store.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t entries(const char *dir)
{
  DIR *d = opendir(dir);
  size_t n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL)
    n += de->d_name[0] != '.';
  if (d)
    closedir(d);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char top[] = "/tmp/fuzz-nstore.XXXXXX";
  if (!mkdtemp(top))
    return 0;
  char *root = xasprintf("%s/store", top), *in = xasprintf("%s/in.tar", top), *layers = xasprintf("%s/layers", root);
  FILE *f = fopen(in, "w");
  if (f && fwrite(data, 1, size, f) == size && fclose(f) == 0) {
    struct adr_nstore s;
    adr_err err = NULL;
    if (adr_nstore_open(&s, root, &err) == 0) {
      FILE *r = fopen(in, "r");
      if (r) {
        if (adr_nstore_import(&s, fileno(r), NULL, &err) < 0 && entries(layers) != 1) {
          fprintf(stderr, "fuzz-nstore: a failed import left %zu entries in layers/\n", entries(layers));
          abort();
        }
        fclose(r);
      }
      adr_nstore_close(&s);
    }
    adr_err_free(&err);
    if (entries(top) != 2) { /* store/ and in.tar: nothing beside them */
      fprintf(stderr, "fuzz-nstore: something was written outside the store\n");
      abort();
    }
  }
  char *cmd = xasprintf("rm -rf '%s'", top);
  if (system(cmd) != 0)
    abort();
  free(cmd);
  free(root);
  free(in);
  free(layers);
  return 0;
}
