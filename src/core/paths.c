#include "paths.h"
#include "util.h"

#include <stdlib.h>

static char *xdg(const char *var, const char *fallback)
{
  const char *v = getenv(var);
  if (v && v[0] == '/')
    return xasprintf("%s/adr", v);
  cleanup_free char *home = adr_home_dir();
  return xasprintf("%s/%s/adr", home, fallback);
}

char *adr_config_dir(void) { return xdg("XDG_CONFIG_HOME", ".config"); }
char *adr_state_dir(void) { return xdg("XDG_STATE_HOME", ".local/state"); }
