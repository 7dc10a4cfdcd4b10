/* Parsers of mount specs (-m, ADR_MOUNTS) and models (PROVIDER/NAME). */
#include "parse.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- mounts */

void adr_mount_free(struct adr_mount *m)
{
  free(m->host);
  free(m->container);
  m->host = m->container = NULL;
}

static const char *const reserved_targets[] = {
  "/", "/proc", "/sys", "/dev", "/workspace", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64",
};

int adr_parse_mount(const char *spec, const char *cwd, const char *home, struct adr_mount *m, adr_err *err)
{
  memset(m, 0, sizeof(*m));
  cleanup_strv struct strv f = { 0 };
  const char *p = spec;
  for (;;) {
    const char *c = strchr(p, ':');
    if (!c) {
      strv_push(&f, p);
      break;
    }
    strv_push_take(&f, xstrndup(p, (size_t)(c - p)));
    p = c + 1;
  }
  if (f.n < 2 || f.n > 3)
    return adr_err_set(err, EINVAL, "invalid mount '%s': expected HOST:CONTAINER[:ro|rw]", spec);
  if (f.v[0][0] == '\0' || f.v[1][0] == '\0')
    return adr_err_set(err, EINVAL, "invalid mount '%s': empty %s path", spec,
                       f.v[0][0] == '\0' ? "host" : "container");
  bool ro = true;
  if (f.n == 3) {
    if (streq(f.v[2], "ro"))
      ro = true;
    else if (streq(f.v[2], "rw"))
      ro = false;
    else
      return adr_err_set(err, EINVAL, "invalid mount '%s': mode must be 'ro' or 'rw', not '%s'", spec, f.v[2]);
  }
  if (f.v[1][0] != '/')
    return adr_err_set(err, EINVAL, "invalid mount '%s': container path '%s' must be absolute", spec, f.v[1]);
  cleanup_free char *target = adr_path_normalize(f.v[1]);
  for (size_t i = 0; i < ARRAY_SIZE(reserved_targets); i++)
    if (streq(target, reserved_targets[i]))
      return adr_err_set(err, EINVAL, "invalid mount '%s': cannot mount over '%s'", spec, target);
  if (str_has_prefix(target, "/proc/") || str_has_prefix(target, "/sys/") || str_has_prefix(target, "/dev/"))
    return adr_err_set(err, EINVAL, "invalid mount '%s': cannot mount under '%s'", spec, target);

  cleanup_free char *h = adr_path_expand_home(f.v[0], home);
  cleanup_free char *abs = h[0] == '/' ? xstrdup(h) : xasprintf("%s/%s", cwd, h);
  char *real = realpath(abs, NULL);
  if (real == NULL)
    return adr_err_sys(err, errno, "invalid mount '%s': host path '%s'", spec, f.v[0]);
  struct stat st;
  if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
    free(real);
    return adr_err_set(err, ENOTDIR, "invalid mount '%s': host path '%s' is not a directory", spec, f.v[0]);
  }
  m->host = real;
  m->container = target;
  target = NULL;
  m->readonly = ro;
  return 0;
}

void adr_split_model(const char *model, char **provider, char **name)
{
  const char *slash = strchr(model, '/');
  if (slash == NULL || slash == model) {
    *provider = NULL;
    *name = xstrdup(slash ? slash + 1 : model);
    return;
  }
  *provider = xstrndup(model, (size_t)(slash - model));
  *name = xstrdup(slash + 1);
}
