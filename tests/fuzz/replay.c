/* The replay driver shared by the fuzz targets when they are built as
 * normal tests (without libFuzzer): runs every file of the corpus
 * directories (or files) given as arguments through
 * LLVMFuzzerTestOneInput, in name order, each in an exact-size buffer. */
#include "util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  char *buf = xmalloc(cap);
  size_t r;
  while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
    len += r;
    if (len == cap)
      buf = xrealloc(buf, cap *= 2);
  }
  fclose(f);
  /* an exact-size copy, so that reading past the input is caught by ASan */
  uint8_t *exact = xmalloc(len ? len : 1);
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv)
{
  unsigned long n = 0;
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
      bad = 1;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      bad |= replay_file(argv[i]) < 0;
      n++;
      continue;
    }
    struct dirent **list = NULL;
    int m = scandir(argv[i], &list, NULL, by_name);
    if (m < 0) {
      fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
      bad = 1;
      continue;
    }
    for (int j = 0; j < m; j++) {
      cleanup_free char *p = xasprintf("%s/%s", argv[i], list[j]->d_name);
      free(list[j]);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        bad |= replay_file(p) < 0;
        n++;
      }
    }
    free(list);
  }
  printf("%s: ran %lu inputs\n", argv[0], n);
  if (n == 0) {
    fprintf(stderr, "%s: no inputs (usage: %s CORPUS_DIR|FILE...)\n", argv[0], argv[0]);
    return 1;
  }
  return bad;
}
