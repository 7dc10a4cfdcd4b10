/* Where adr's own files live on the host (XDG directories). */
#ifndef ADR_PATHS_H
#define ADR_PATHS_H

#include "fs.h"

/* All return newly allocated strings. */
char *adr_config_dir(void); /* ${XDG_CONFIG_HOME:-~/.config}/adr */
char *adr_state_dir(void);  /* ${XDG_STATE_HOME:-~/.local/state}/adr */

#endif
