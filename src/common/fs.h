/* File-system and host helpers: HOME, mkdir -p, the current directory. */
#ifndef ADR_FS_H
#define ADR_FS_H

#include "err.h"

/* All return newly allocated strings. */
char *adr_home_dir(void);
/* mkdir -p with mode for each created component. */
int adr_mkdir_p(const char *path, unsigned mode, adr_err *err);
/* s written to a file that exists (a /proc, /sys or cgroup file): not
 * created, not truncated; -1 with errno, also for a short write. */
int adr_write_existing(const char *path, const char *s);
/* The current directory, as the user sees it ($PWD when it names it). */
char *adr_getcwd(void);

#endif
