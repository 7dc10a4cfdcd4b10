/* Mounts that would reach credentials past the planner: the workspace and
 * every -m / ADR_MOUNTS entry are checked against adr's own directories,
 * every agent's config home and the host's secret paths. */
#include "creds.h"

#include "buf.h"
#include "gwproto.h"
#include "parse.h"
#include "paths.h"
#include "runspec.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- mounts ------------------------------------------------------------ */

/* a and b (absolute, normalised) are the same path or one holds the other */
static bool paths_overlap(const char *a, const char *b)
{
  size_t na = strlen(a), nb = strlen(b);
  size_t n = na < nb ? na : nb;
  if (strncmp(a, b, n) != 0)
    return false;
  if (na == nb)
    return true;
  const char *longer = na > nb ? a : b;
  return n == 1 || longer[n] == '/'; /* n == 1: "/" holds everything */
}

/* The host's own secrets that no agent definition names. */
static const char *const host_secrets[] = {
  "~/.ssh",   "~/.aws",    "~/.docker", "~/.gnupg",     "~/.git-credentials", "~/.netrc",
  "~/.npmrc", "~/.pypirc", "~/.kube",   "~/.config/gh", "~/.config/gcloud",   "~/.azure",
};

/* path (~ allowed) resolved, or NULL when it does not exist */
static char *resolved(const char *path, const char *home)
{
  cleanup_free char *p = adr_path_expand_home(path, home);
  return p[0] == '/' ? realpath(p, NULL) : NULL;
}

int adr_creds_mount_check(const struct adr_mount *m, const struct adr_creds_guard *g, struct strv *notes, adr_err *err)
{
  cleanup_free char *mt = xasprintf("%s:%s", m->host, m->container);
  /* adr's own state (relay route files with keys, the secret store, other
   * sandboxes' staged copies) and config (what the next run obeys) */
  const char *own[] = { g->state_dir, g->config_dir };
  for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
    cleanup_free char *r = own[i] ? realpath(own[i], NULL) : NULL;
    if (r && paths_overlap(m->host, r))
      return adr_err_set(err, EPERM, "mount '%s': it %s adr's own %s '%s' (keys, and what the next run obeys)", mt,
                         streq(m->host, r) ? "is" : "overlaps", i == 0 ? "state" : "config", r);
  }
  /* the sandbox's staged config: reached through the planner only */
  for (size_t c = 0; c < g->agent->n_configs + 2; c++) {
    cleanup_free char *t = c == 0   ? xstrdup(ADR_SANDBOX_STAGE)
                           : c == 1 ? xstrdup("/run/adr")
                                    : xasprintf("%s/%s", ADR_SANDBOX_HOME, g->agent->configs[c - 2].home);
    if (paths_overlap(m->container, t) && !streq(m->container, "/"))
      return adr_err_set(err, EPERM, "mount '%s': '%s' %s %s's staged configuration; use -c DIR or --config-file FILE",
                         mt, m->container, streq(m->container, t) ? "is" : "overlaps", g->agent->name);
  }
  /* every agent's config home, and the host's own secret paths */
  for (size_t a = 0; a < g->agents->n; a++) {
    const struct adr_agent *ag = &g->agents->v[a];
    for (size_t c = 0; c < ag->n_configs; c++) {
      cleanup_free char *r = resolved(ag->configs[c].host, g->home);
      if (!r || !paths_overlap(m->host, r))
        continue;
      if (!g->relay) {
        strv_pushf(notes, "mount '%s' puts %s's configuration '%s' (and any login in it) in the sandbox", mt, ag->name,
                   r);
        continue;
      }
      return adr_err_set(err, EPERM,
                         "mount '%s': it %s %s's configuration '%s', which may hold logins and keys; use -c DIR "
                         "or --config-file FILE (staged through the credential relay), or --no-relay",
                         mt, streq(m->host, r) ? "is" : "overlaps", ag->name, r);
    }
  }
  for (size_t i = 0; i < ARRAY_SIZE(host_secrets); i++) {
    cleanup_free char *r = resolved(host_secrets[i], g->home);
    if (!r || !paths_overlap(m->host, r))
      continue;
    if (!g->relay) {
      strv_pushf(notes, "mount '%s' puts '%s' in the sandbox", mt, r);
      continue;
    }
    return adr_err_set(err, EPERM, "mount '%s': it %s '%s', which holds credentials; mount a directory without them",
                       mt, streq(m->host, r) ? "is" : "overlaps", r);
  }
  return 0;
}
