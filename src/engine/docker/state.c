/* Docker engine: the state store (engine.h) in the containers' labels.
 * Docker fixes labels when it creates a container, so a key is set
 * through spec.labels at create; state_set only confirms a value. */
#include "docker.h"

#include <errno.h>

int docker_state_get(struct adr_engine *e, const char *sandbox, const char *key, char **value, adr_err *err)
{
  *value = NULL;
  struct adr_container c;
  int r = docker_container_inspect(e, sandbox, &c, err);
  if (r != 0)
    return r;
  const char *v = adr_labels_get(&c.labels, key);
  *value = v ? xstrdup(v) : NULL;
  adr_container_free(&c);
  return 0;
}

int docker_state_set(struct adr_engine *e, const char *sandbox, const char *key, const char *value, adr_err *err)
{
  cleanup_free char *now = NULL;
  int r = docker_state_get(e, sandbox, key, &now, err);
  if (r < 0)
    return -1;
  if (r == 1)
    return adr_err_set(err, ENOENT, "no such sandbox '%s'", sandbox);
  if (now && value && streq(now, value))
    return 0;
  return adr_err_set(err, EROFS, "%s of sandbox '%s': the %s engine fixes labels when it creates a sandbox", key,
                     sandbox, e->ops->name);
}

int docker_state_list(struct adr_engine *e, const struct strv *filters, struct adr_container **out, size_t *n,
                      adr_err *err)
{
  return docker_container_list(e, filters, true, out, n, err);
}
