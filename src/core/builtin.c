/* Look-ups in the data compiled into the binary (builtin-data.c). */
#include "builtin.h"

#include <string.h>

const struct adr_builtin_file *adr_builtin_find(const char *name)
{
  for (unsigned i = 0; i < adr_builtin_count; i++)
    if (strcmp(adr_builtin_files[i].name, name) == 0)
      return &adr_builtin_files[i];
  return NULL;
}
