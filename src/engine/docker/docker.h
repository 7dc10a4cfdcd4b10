/* The Docker engine's private interface: the Engine API (also served by
 * Podman's compatible socket) over libcurl and a raw socket.  engine.h
 * holds what the rest of adr sees (adr_docker_ops and a few functions
 * exposed for unit tests).
 *
 *   ops.c       requests and their errors, the connection, containers, the ops table
 *   image.c     images: list, inspect, remove, build
 *   json.c      spec -> Engine API JSON, and the parsers of list/inspect bodies
 *   stream.c    hijacked attach/exec streams, demultiplexing, logs
 *   network.c   networks
 *   egress.c    a sandbox's egress network and gateway (the plan of engine.h)
 *   state.c     the state store, in the containers' labels
 *   endpoint.c  where the engine listens (DOCKER_HOST, contexts, sockets)
 *   http.c      the HTTP client */
#ifndef ADR_DOCKER_H
#define ADR_DOCKER_H

#include "engine.h"
#include "jsonv.h"
#include "buf.h"
#include "http.h"

#include <jansson.h>

#define DOCKER_API_MIN "1.40"
#define DOCKER_API_MAX "1.43"

struct docker {
  struct adr_http http;
  char prefix[16]; /* "/v1.41" */
};

static inline struct docker *D(struct adr_engine *e) { return e->priv; }

/* ops.c: requests */
/* Performs METHOD prefix+path; on HTTP >= 400 returns -1 with the engine's
 * message and its errno; *out (optional) receives the parsed JSON body. */
int docker_call(struct adr_engine *e, const char *method, const char *path, json_t *body, json_t **out, long *status,
                adr_err *err);
/* An error response as "MESSAGE (HTTP STATUS)" with its errno; returns -1. */
int docker_api_error(struct adr_http_resp *r, adr_err *err);
/* Percent-encoded for a path or query (caller frees). */
char *docker_esc(const char *s);

/* json.c */
void docker_labels_from_json(json_t *obj, struct strv *out);
json_t *docker_labels_json(const struct strv *s);
/* inspect: a GET /containers/ID/json body, else an item of GET /containers/json */
void docker_container_from_json(json_t *j, struct adr_container *c, bool inspect);

/* The operations, by file (the table is in ops.c). */
int docker_ping(struct adr_engine *e, adr_err *err);
void docker_close(struct adr_engine *e);
int docker_version(struct adr_engine *e, char **version, char **api, adr_err *err);
int docker_container_create(struct adr_engine *e, const struct adr_spec *spec, char **id, adr_err *err);
int docker_container_start(struct adr_engine *e, const char *id, adr_err *err);
int docker_container_wait(struct adr_engine *e, const char *id, int *exit_code, adr_err *err);
int docker_container_kill(struct adr_engine *e, const char *id, int sig, adr_err *err);
int docker_container_rename(struct adr_engine *e, const char *id, const char *name, adr_err *err);
int docker_container_stop(struct adr_engine *e, const char *id, int timeout_s, adr_err *err);
int docker_container_remove(struct adr_engine *e, const char *id, bool force, adr_err *err);
int docker_container_inspect(struct adr_engine *e, const char *id, struct adr_container *out, adr_err *err);
int docker_container_list(struct adr_engine *e, const struct strv *label_filters, bool all, struct adr_container **out,
                          size_t *n, adr_err *err);
int docker_container_resize(struct adr_engine *e, const char *id, unsigned rows, unsigned cols, adr_err *err);

int docker_image_list(struct adr_engine *e, const char *reference, struct adr_image **out, size_t *n, adr_err *err);
int docker_image_inspect(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err);
int docker_image_build(struct adr_engine *e, const struct adr_build_req *req, adr_build_cb cb, void *ud,
                       char **image_id, adr_err *err);
int docker_image_remove(struct adr_engine *e, const char *ref, adr_err *err);
int docker_image_save(struct adr_engine *e, const char *ref, int fd, adr_err *err);
int docker_image_tag(struct adr_engine *e, const char *ref, const char *repo, const char *tag, adr_err *err);

int docker_container_attach(struct adr_engine *e, const char *id, const struct adr_attach *a, adr_err *err);
int docker_container_exec(struct adr_engine *e, const char *id, const struct strv *cmd, const struct adr_attach *a,
                          int *exit_code, adr_err *err);
int docker_container_logs(struct adr_engine *e, const char *id, bool follow, int out_fd, int err_fd, adr_err *err);

int docker_network_create(struct adr_engine *e, const struct adr_network_req *req, char **id, adr_err *err);
int docker_network_remove(struct adr_engine *e, const char *id, adr_err *err);
int docker_network_connect(struct adr_engine *e, const char *net, const char *container, const char *ipv4,
                           adr_err *err);
int docker_network_list(struct adr_engine *e, const struct strv *label_filters, struct adr_network **out, size_t *n,
                        adr_err *err);

int docker_state_get(struct adr_engine *e, const char *sandbox, const char *key, char **value, adr_err *err);
int docker_state_set(struct adr_engine *e, const char *sandbox, const char *key, const char *value, adr_err *err);
int docker_state_list(struct adr_engine *e, const struct strv *filters, struct adr_container **out, size_t *n,
                      adr_err *err);

int docker_egress_up(struct adr_engine *e, struct adr_egress_plan *p, struct adr_egress_result *res, adr_err *err);
int docker_egress_down(struct adr_engine *e, const char *sandbox, adr_err *err);

#endif
