/* Data compiled into the binary: agent definitions, Dockerfiles, the
 * seccomp profile (see tools/embed.py and data/). */
#ifndef ADR_BUILTIN_H
#define ADR_BUILTIN_H

#include <stddef.h>

struct adr_builtin_file {
  const char *name;          /* path below data/, e.g. "agents/pi.json" */
  const unsigned char *data; /* NUL-terminated */
  size_t len;
};
extern const struct adr_builtin_file adr_builtin_files[];
extern const unsigned adr_builtin_count;

/* NULL when absent. */
const struct adr_builtin_file *adr_builtin_find(const char *name);

#endif
