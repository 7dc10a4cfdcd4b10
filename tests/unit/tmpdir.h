/* A temporary directory for a unit test's files (included by the test
 * files that need one): tmp_make and tmp_remove as fixtures, tmp_put to
 * write a file in it, its parents made. */
#ifndef ADR_TEST_TMPDIR_H
#define ADR_TEST_TMPDIR_H

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64];

/* /tmp/TAG.XXXXXX, made */
static inline int tmp_make(const char *tag)
{
  snprintf(dir, sizeof(dir), "/tmp/%s.XXXXXX", tag);
  return mkdtemp(dir) ? 0 : -1;
}

static inline int tmp_remove(void)
{
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* dir/REL with text: its path (the caller frees it), NULL when it could
 * not be written */
static inline char *tmp_put(const char *rel, const char *text)
{
  char *p = xasprintf("%s/%s", dir, rel);
  for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    mkdir(p, 0755);
    *s = '/';
  }
  FILE *f = fopen(p, "w");
  if (!f) {
    free(p);
    return NULL;
  }
  fputs(text, f);
  fclose(f);
  return p;
}

#endif
