/* The engine calls: every caller goes through these adr_engine_*()
 * wrappers, never through an engine's ops directly (included by engine.h;
 * include that). */
#ifndef ADR_ENGINE_CALLS_H
#define ADR_ENGINE_CALLS_H

#ifndef ADR_ENGINE_H
#error "include engine.h, not calls.h"
#endif

/* The calls: every caller goes through these, never through ops directly.
 * An operation an engine does not implement fails with ENOTSUP.  Errors
 * carry errno values only (ENOENT: no such object, EEXIST: the name is
 * taken, ...) and the engine's own message. */
int adr_engine_unsupported(struct adr_engine *e, const char *what, adr_err *err);
static inline int adr_engine_ping(struct adr_engine *e, adr_err *err)
{
  if (e->ops->ping == NULL)
    return adr_engine_unsupported(e, "ping", err);
  return e->ops->ping(e, err);
}
static inline int adr_engine_version(struct adr_engine *e, char **version, char **api, adr_err *err)
{
  if (e->ops->version == NULL)
    return adr_engine_unsupported(e, "version", err);
  return e->ops->version(e, version, api, err);
}
static inline int adr_engine_image_list(struct adr_engine *e, const char *reference, struct adr_image **out, size_t *n,
                                        adr_err *err)
{
  if (e->ops->image_list == NULL)
    return adr_engine_unsupported(e, "image list", err);
  return e->ops->image_list(e, reference, out, n, err);
}
static inline int adr_engine_image_inspect(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err)
{
  if (e->ops->image_inspect == NULL)
    return adr_engine_unsupported(e, "image inspect", err);
  return e->ops->image_inspect(e, ref, out, err);
}
static inline int adr_engine_image_build(struct adr_engine *e, const struct adr_build_req *req, adr_build_cb cb,
                                         void *ud, char **image_id, adr_err *err)
{
  if (e->ops->image_build == NULL)
    return adr_engine_unsupported(e, "image build", err);
  return e->ops->image_build(e, req, cb, ud, image_id, err);
}
static inline int adr_engine_image_remove(struct adr_engine *e, const char *ref, adr_err *err)
{
  if (e->ops->image_remove == NULL)
    return adr_engine_unsupported(e, "image remove", err);
  return e->ops->image_remove(e, ref, err);
}
static inline int adr_engine_image_save(struct adr_engine *e, const char *ref, int fd, adr_err *err)
{
  if (e->ops->image_save == NULL)
    return adr_engine_unsupported(e, "image save", err);
  return e->ops->image_save(e, ref, fd, err);
}
static inline int adr_engine_image_tag(struct adr_engine *e, const char *ref, const char *repo, const char *tag,
                                       adr_err *err)
{
  if (e->ops->image_tag == NULL)
    return adr_engine_unsupported(e, "image tag", err);
  return e->ops->image_tag(e, ref, repo, tag, err);
}
static inline int adr_engine_container_create(struct adr_engine *e, const struct adr_spec *spec, char **id,
                                              adr_err *err)
{
  if (e->ops->container_create == NULL)
    return adr_engine_unsupported(e, "container create", err);
  return e->ops->container_create(e, spec, id, err);
}
static inline int adr_engine_container_start(struct adr_engine *e, const char *id, adr_err *err)
{
  if (e->ops->container_start == NULL)
    return adr_engine_unsupported(e, "container start", err);
  return e->ops->container_start(e, id, err);
}
static inline int adr_engine_container_attach(struct adr_engine *e, const char *id, const struct adr_attach *a,
                                              adr_err *err)
{
  if (e->ops->container_attach == NULL)
    return adr_engine_unsupported(e, "container attach", err);
  return e->ops->container_attach(e, id, a, err);
}
static inline int adr_engine_container_wait(struct adr_engine *e, const char *id, int *exit_code, adr_err *err)
{
  if (e->ops->container_wait == NULL)
    return adr_engine_unsupported(e, "container wait", err);
  return e->ops->container_wait(e, id, exit_code, err);
}
static inline int adr_engine_container_kill(struct adr_engine *e, const char *id, int sig, adr_err *err)
{
  if (e->ops->container_kill == NULL)
    return adr_engine_unsupported(e, "container kill", err);
  return e->ops->container_kill(e, id, sig, err);
}
static inline int adr_engine_container_stop(struct adr_engine *e, const char *id, int timeout_s, adr_err *err)
{
  if (e->ops->container_stop == NULL)
    return adr_engine_unsupported(e, "container stop", err);
  return e->ops->container_stop(e, id, timeout_s, err);
}
static inline int adr_engine_container_rename(struct adr_engine *e, const char *id, const char *name, adr_err *err)
{
  if (e->ops->container_rename == NULL)
    return adr_engine_unsupported(e, "container rename", err);
  return e->ops->container_rename(e, id, name, err);
}
static inline int adr_engine_container_remove(struct adr_engine *e, const char *id, bool force, adr_err *err)
{
  if (e->ops->container_remove == NULL)
    return adr_engine_unsupported(e, "container remove", err);
  return e->ops->container_remove(e, id, force, err);
}
static inline int adr_engine_container_inspect(struct adr_engine *e, const char *id, struct adr_container *out,
                                               adr_err *err)
{
  if (e->ops->container_inspect == NULL)
    return adr_engine_unsupported(e, "container inspect", err);
  return e->ops->container_inspect(e, id, out, err);
}
static inline int adr_engine_container_list(struct adr_engine *e, const struct strv *label_filters, bool all,
                                            struct adr_container **out, size_t *n, adr_err *err)
{
  if (e->ops->container_list == NULL)
    return adr_engine_unsupported(e, "container list", err);
  return e->ops->container_list(e, label_filters, all, out, n, err);
}
static inline int adr_engine_container_resize(struct adr_engine *e, const char *id, unsigned rows, unsigned cols,
                                              adr_err *err)
{
  if (e->ops->container_resize == NULL)
    return adr_engine_unsupported(e, "container resize", err);
  return e->ops->container_resize(e, id, rows, cols, err);
}
static inline int adr_engine_container_logs(struct adr_engine *e, const char *id, bool follow, int out_fd, int err_fd,
                                            adr_err *err)
{
  if (e->ops->container_logs == NULL)
    return adr_engine_unsupported(e, "container logs", err);
  return e->ops->container_logs(e, id, follow, out_fd, err_fd, err);
}
static inline int adr_engine_container_exec(struct adr_engine *e, const char *id, const struct strv *cmd,
                                            const struct adr_attach *a, int *exit_code, adr_err *err)
{
  if (e->ops->container_exec == NULL)
    return adr_engine_unsupported(e, "container exec", err);
  return e->ops->container_exec(e, id, cmd, a, exit_code, err);
}
static inline int adr_engine_network_create(struct adr_engine *e, const struct adr_network_req *req, char **id,
                                            adr_err *err)
{
  if (e->ops->network_create == NULL)
    return adr_engine_unsupported(e, "network create", err);
  return e->ops->network_create(e, req, id, err);
}
static inline int adr_engine_network_remove(struct adr_engine *e, const char *id, adr_err *err)
{
  if (e->ops->network_remove == NULL)
    return adr_engine_unsupported(e, "network remove", err);
  return e->ops->network_remove(e, id, err);
}
static inline int adr_engine_network_connect(struct adr_engine *e, const char *net, const char *container,
                                             const char *ipv4, adr_err *err)
{
  if (e->ops->network_connect == NULL)
    return adr_engine_unsupported(e, "network connect", err);
  return e->ops->network_connect(e, net, container, ipv4, err);
}
static inline int adr_engine_network_list(struct adr_engine *e, const struct strv *label_filters,
                                          struct adr_network **out, size_t *n, adr_err *err)
{
  if (e->ops->network_list == NULL)
    return adr_engine_unsupported(e, "network list", err);
  return e->ops->network_list(e, label_filters, out, n, err);
}

static inline int adr_engine_state_get(struct adr_engine *e, const char *sandbox, const char *key, char **value,
                                       adr_err *err)
{
  if (e->ops->state_get == NULL)
    return adr_engine_unsupported(e, "state get", err);
  return e->ops->state_get(e, sandbox, key, value, err);
}
static inline int adr_engine_state_set(struct adr_engine *e, const char *sandbox, const char *key, const char *value,
                                       adr_err *err)
{
  if (e->ops->state_set == NULL)
    return adr_engine_unsupported(e, "state set", err);
  return e->ops->state_set(e, sandbox, key, value, err);
}
static inline int adr_engine_state_list(struct adr_engine *e, const struct strv *filters, struct adr_container **out,
                                        size_t *n, adr_err *err)
{
  if (e->ops->state_list == NULL)
    return adr_engine_unsupported(e, "state list", err);
  return e->ops->state_list(e, filters, out, n, err);
}
static inline int adr_engine_egress_up(struct adr_engine *e, struct adr_egress_plan *plan,
                                       struct adr_egress_result *res, adr_err *err)
{
  if (e->ops->egress_up == NULL)
    return adr_engine_unsupported(e, "egress", err);
  return e->ops->egress_up(e, plan, res, err);
}
static inline int adr_engine_egress_down(struct adr_engine *e, const char *sandbox, adr_err *err)
{
  if (e->ops->egress_down == NULL)
    return adr_engine_unsupported(e, "egress", err);
  return e->ops->egress_down(e, sandbox, err);
}

#endif
