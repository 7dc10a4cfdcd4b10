/* A pooled gateway's claim (claim.c): the rest of its command line as adr
 * wrote it, each argument NUL-terminated. */
#include "gw.h"

#include <stdlib.h>
#include <string.h>

int gw_claim_split(char *buf, size_t len, char ***argv, size_t *argc)
{
  *argv = NULL;
  *argc = 0;
  if (len == 0 || len > GW_CLAIM_MAX)
    return -1;
  if (buf[len - 1] != '\0')
    return -1; /* cut short: adr ends every argument */
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += buf[i] == '\0';
  char **v = calloc(n + 2, sizeof(*v));
  if (!v)
    return -1;
  static char prog[] = "adr-gateway";
  v[0] = prog;
  size_t k = 1;
  for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
    if (buf[i] == '\0') { /* an empty argument: never adr's */
      free(v);
      return -1;
    }
    v[k++] = buf + i;
  }
  *argv = v;
  *argc = k;
  return 0;
}
