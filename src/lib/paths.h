/* Where things live on the host: home, XDG directories, adr's files. */
#ifndef ADR_PATHS_H
#define ADR_PATHS_H

#include "err.h"

/* All return newly allocated strings. */
char *adr_home_dir(void);
char *adr_config_dir(void);   /* ${XDG_CONFIG_HOME:-~/.config}/adr */
char *adr_state_dir(void);    /* ${XDG_STATE_HOME:-~/.local/state}/adr */
/* mkdir -p with mode for each created component. */
int adr_mkdir_p(const char *path, unsigned mode, adr_err *err);
/* The current directory, as the user sees it ($PWD when it names it). */
char *adr_getcwd(void);

#endif
