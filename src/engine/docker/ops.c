/* The Docker Engine API (also served by Podman's compatible socket):
 * requests, the connection, containers, and the ops table.  Never the
 * docker CLI.  docker.h lists the files of this engine. */
#include "docker.h"
#include "log.h"

#include <errno.h>
#include <signal.h>

/* ------------------------------------------------------------ requests */

/* What an HTTP status of the Engine API means, as an errno value: callers
 * never see HTTP (other engines have none).  0 for the statuses the API
 * uses to say "already so" (304: already started, already stopped). */
int adr_docker_errno(long status)
{
  if (status < 400)
    return 0;
  switch (status) {
  case 400: return EINVAL; /* bad parameter */
  case 401: return EACCES;
  case 403: return EPERM;
  case 404: return ENOENT; /* no such container, image, network */
  case 406: return EINVAL; /* not acceptable (e.g. attach to a stopped container) */
  case 409: return EEXIST; /* conflict: a name in use, a network with endpoints */
  case 413: return EFBIG;
  case 500: return EIO; /* the engine failed */
  case 501: return ENOTSUP;
  case 503: return EAGAIN; /* the engine is busy or shutting down */
  default: return status < 500 ? EINVAL : EIO;
  }
}

/* Turns an error response into "MESSAGE (HTTP STATUS)" with the status's
 * errno (adr_docker_errno). */
int docker_api_error(struct adr_http_resp *r, adr_err *err)
{
  const char *msg = NULL;
  json_t *j = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
  if (j)
    msg = json_string_value(json_object_get(j, "message"));
  cleanup_free char *body = NULL;
  if (!msg && r->body.len) {
    body = xstrndup(r->body.data, r->body.len > 300 ? 300 : r->body.len);
    for (char *p = body; *p; p++)
      if (*p == '\n' || *p == '\r')
        *p = ' ';
    msg = body;
  }
  int errnum = adr_docker_errno(r->status);
  adr_err_set(err, errnum ? errnum : EIO, "%s (HTTP %ld)", msg && *msg ? msg : "engine error", r->status);
  json_decref(j);
  return -1;
}

/* Performs METHOD prefix+path; on HTTP >= 400 returns -1 with the engine's
 * message (304, "already started/stopped", is success). *out (optional) receives the parsed JSON body. */
int docker_call(struct adr_engine *e, const char *method, const char *path, json_t *body, json_t **out, long *status,
                adr_err *err)
{
  struct docker *d = D(e);
  cleanup_free char *full = xasprintf("%s%s", d->prefix, path);
  cleanup_free char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
  struct adr_http_resp r;
  int ret = adr_http_request(&d->http, method, full, payload ? "application/json" : NULL, payload,
                             payload ? strlen(payload) : 0, &r, err);
  if (ret < 0)
    goto done;
  if (status)
    *status = r.status;
  if (r.status >= 400) {
    ret = docker_api_error(&r, err);
    goto done;
  }
  if (out) {
    json_error_t je;
    *out = r.body.len ? json_loadb(r.body.data, r.body.len, 0, &je) : json_null();
    if (*out == NULL) {
      ret = adr_err_set(err, EPROTO, "%s %s: invalid JSON from the engine: %s", method, path, je.text);
      goto done;
    }
  }
done:
  adr_http_resp_free(&r);
  return ret;
}

char *docker_esc(const char *s) { return adr_http_escape(s); }

/* --------------------------------------------------------------- ping */

int docker_ping(struct adr_engine *e, adr_err *err)
{
  struct adr_http_resp r;
  if (adr_http_request(&D(e)->http, "GET", "/_ping", NULL, NULL, 0, &r, err) < 0)
    return -1;
  int ret = 0;
  if (r.status != 200) {
    ret = docker_api_error(&r, err);
    adr_err_prefix(err, "engine at %s did not answer /_ping", e->endpoint);
  } else {
    free(e->api_version);
    e->api_version = xstrdup(r.api_version ? r.api_version : "");
  }
  adr_http_resp_free(&r);
  return ret;
}

int adr_docker_open(struct adr_engine *e, adr_err *err)
{
  struct docker *d = xcalloc(1, sizeof(*d));
  e->priv = d;
  if (adr_http_open(&d->http, e->endpoint, err) < 0)
    return -1;
  if (docker_ping(e, err) < 0)
    return -1;
  const char *server = e->api_version;
  if (server == NULL || *server == '\0') {
    /* Older engines: ask /version. */
    json_t *v = NULL;
    if (docker_call(e, "GET", "/version", NULL, &v, NULL, err) < 0)
      return adr_err_prefix(err, "engine at %s", e->endpoint);
    const char *api = json_string_value(json_object_get(v, "ApiVersion"));
    free(e->api_version);
    e->api_version = xstrdup(api ? api : DOCKER_API_MIN);
    json_decref(v);
    server = e->api_version;
  }
  if (adr_api_version_cmp(server, DOCKER_API_MIN) < 0)
    return adr_err_set(err, ENOTSUP, "engine at %s speaks API %s; adr needs %s or newer", e->endpoint, server,
                       DOCKER_API_MIN);
  const char *use = adr_api_version_cmp(server, DOCKER_API_MAX) > 0 ? DOCKER_API_MAX : server;
  snprintf(d->prefix, sizeof(d->prefix), "/v%s", use);
  adr_debug("engine: %s API %s (using %s)", e->endpoint, server, use);
  return 0;
}

void docker_close(struct adr_engine *e)
{
  struct docker *d = D(e);
  if (!d)
    return;
  adr_http_close(&d->http);
  free(d);
  e->priv = NULL;
}

int docker_version(struct adr_engine *e, char **version, char **api, adr_err *err)
{
  json_t *v = NULL;
  if (docker_call(e, "GET", "/version", NULL, &v, NULL, err) < 0)
    return -1;
  const char *ver = json_string_value(json_object_get(v, "Version"));
  const char *a = json_string_value(json_object_get(v, "ApiVersion"));
  *version = xstrdup(ver ? ver : "unknown");
  *api = xstrdup(a ? a : "unknown");
  json_decref(v);
  return 0;
}

/* ---------------------------------------------------------- containers */

int docker_container_create(struct adr_engine *e, const struct adr_spec *spec, char **id, adr_err *err)
{
  struct docker *d = D(e);
  if (adr_spec_check(spec, err) < 0)
    return -1;
  cleanup_free char *body = adr_docker_create_body(spec);
  if (!body)
    return adr_err_set(err, ENOMEM, "cannot encode the container definition");
  cleanup_free char *qn = spec->name ? docker_esc(spec->name) : NULL;
  cleanup_free char *path =
    qn ? xasprintf("%s/containers/create?name=%s", d->prefix, qn) : xasprintf("%s/containers/create", d->prefix);
  struct adr_http_resp r;
  if (adr_http_request(&d->http, "POST", path, "application/json", body, strlen(body), &r, err) < 0)
    return -1;
  int ret = 0;
  if (r.status >= 400) {
    if (r.status == 409) {
      adr_err_set(err, EEXIST, "name in use");
      ret = -1;
    } else if (r.status == 404) {
      adr_err_set(err, ENOENT, "image '%s' not found", spec->image);
      ret = -1;
    } else {
      ret = docker_api_error(&r, err);
    }
  } else {
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    const char *cid = json_string_value(json_object_get(j, "Id"));
    if (cid)
      *id = xstrdup(cid);
    else
      ret = adr_err_set(err, EPROTO, "engine returned no container id");
    /* what the engine could not give (a limit its kernel lacks), for the
     * caller to show; bounded, as anything a peer sends */
    json_t *w = json_object_get(j, "Warnings"), *v;
    size_t i;
    json_array_foreach (w, i, v) {
      const char *t = json_string_value(v);
      if (i == 16)
        break;
      if (t && *t) {
        cleanup_free char *shown = adr_str_escape(t, 300);
        strv_pushf(&e->warnings, "sandbox '%s': %s", spec->name ? spec->name : "?", shown);
      }
    }
    json_decref(j);
  }
  adr_http_resp_free(&r);
  return ret;
}

static int container_path_call(struct adr_engine *e, const char *method, const char *id, const char *suffix,
                               json_t **out, long *status, adr_err *err)
{
  cleanup_free char *q = docker_esc(id);
  cleanup_free char *path = xasprintf("/containers/%s%s", q, suffix);
  return docker_call(e, method, path, NULL, out, status, err);
}

int docker_container_start(struct adr_engine *e, const char *id, adr_err *err)
{
  return container_path_call(e, "POST", id, "/start", NULL, NULL, err);
}

int docker_container_wait(struct adr_engine *e, const char *id, int *exit_code, adr_err *err)
{
  json_t *j = NULL;
  if (container_path_call(e, "POST", id, "/wait?condition=not-running", &j, NULL, err) < 0)
    return -1;
  *exit_code = (int)json_integer_value(json_object_get(j, "StatusCode"));
  const char *werr = json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
  int ret = 0;
  if (werr && *werr)
    ret = adr_err_set(err, EIO, "%s", werr);
  json_decref(j);
  return ret;
}

static const char *signame(int sig)
{
  switch (sig) {
  case SIGTERM: return "SIGTERM";
  case SIGKILL: return "SIGKILL";
  case SIGINT: return "SIGINT";
  case SIGHUP: return "SIGHUP";
  case SIGQUIT: return "SIGQUIT";
  default: return NULL;
  }
}

int docker_container_kill(struct adr_engine *e, const char *id, int sig, adr_err *err)
{
  const char *n = signame(sig);
  cleanup_free char *suffix = n ? xasprintf("/kill?signal=%s", n) : xasprintf("/kill?signal=%d", sig);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

int docker_container_stop(struct adr_engine *e, const char *id, int timeout_s, adr_err *err)
{
  cleanup_free char *suffix = xasprintf("/stop?t=%d", timeout_s);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

int docker_container_remove(struct adr_engine *e, const char *id, bool force, adr_err *err)
{
  cleanup_err adr_err e2 = NULL;
  if (container_path_call(e, "DELETE", id, force ? "?force=1&v=1" : "?v=1", NULL, NULL, &e2) < 0) {
    if (e2->errnum == ENOENT)
      return 0; /* already gone */
    adr_err_move(err, &e2);
    return -1;
  }
  return 0;
}

int docker_container_rename(struct adr_engine *e, const char *id, const char *name, adr_err *err)
{
  cleanup_free char *q = docker_esc(name);
  cleanup_free char *suffix = xasprintf("/rename?name=%s", q);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

int docker_container_inspect(struct adr_engine *e, const char *id, struct adr_container *out, adr_err *err)
{
  json_t *j = NULL;
  cleanup_err adr_err e2 = NULL;
  if (container_path_call(e, "GET", id, "/json", &j, NULL, &e2) < 0) {
    if (e2->errnum == ENOENT)
      return 1;
    adr_err_move(err, &e2);
    return -1;
  }
  if (out)
    docker_container_from_json(j, out, true);
  json_decref(j);
  return 0;
}

int docker_container_list(struct adr_engine *e, const struct strv *label_filters, bool all, struct adr_container **out,
                          size_t *n, adr_err *err)
{
  json_t *f = json_object();
  if (label_filters && label_filters->n)
    json_object_set_new(f, "label", adr_json_strv(label_filters));
  cleanup_free char *fs = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  cleanup_free char *q = docker_esc(fs);
  cleanup_free char *path = xasprintf("/containers/json?all=%d&filters=%s", all ? 1 : 0, q);
  json_t *arr = NULL;
  if (docker_call(e, "GET", path, NULL, &arr, NULL, err) < 0)
    return -1;
  size_t cnt = json_array_size(arr);
  struct adr_container *v = cnt ? xcalloc(cnt, sizeof(*v)) : NULL;
  for (size_t i = 0; i < cnt; i++)
    docker_container_from_json(json_array_get(arr, i), &v[i], false);
  json_decref(arr);
  *out = v;
  *n = cnt;
  return 0;
}

int docker_container_resize(struct adr_engine *e, const char *id, unsigned rows, unsigned cols, adr_err *err)
{
  cleanup_free char *suffix = xasprintf("/resize?h=%u&w=%u", rows, cols);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

/* Docker and Podman (its compatible API) share every operation. */
#define DOCKER_CAPS                                                                                         \
  (ADR_ENG_CAP_BUILD | ADR_ENG_CAP_NETWORKS | ADR_ENG_CAP_LABELS | ADR_ENG_CAP_RESTART | ADR_ENG_CAP_EXEC | \
   ADR_ENG_CAP_ATTACH | ADR_ENG_CAP_LOGS | ADR_ENG_CAP_EGRESS | ADR_ENG_CAP_STATE)
#define DOCKER_OPS(NAME)                                                                                           \
  {                                                                                                                \
    .name = NAME, .caps = DOCKER_CAPS, .open = adr_docker_open, .close = docker_close, .ping = docker_ping,        \
    .version = docker_version, .image_list = docker_image_list, .image_inspect = docker_image_inspect,             \
    .image_build = docker_image_build, .image_remove = docker_image_remove, .image_save = docker_image_save,       \
    .image_tag = docker_image_tag, .container_create = docker_container_create,                                    \
    .container_start = docker_container_start, .container_attach = docker_container_attach,                        \
    .container_wait = docker_container_wait, .container_kill = docker_container_kill,                              \
    .container_stop = docker_container_stop, .container_remove = docker_container_remove,                          \
    .container_rename = docker_container_rename, .container_inspect = docker_container_inspect,                    \
    .container_list = docker_container_list, .container_resize = docker_container_resize,                          \
    .container_logs = docker_container_logs, .container_exec = docker_container_exec,                              \
    .network_create = docker_network_create, .network_remove = docker_network_remove,                              \
    .network_connect = docker_network_connect, .network_list = docker_network_list, .egress_up = docker_egress_up, \
    .egress_down = docker_egress_down, .state_get = docker_state_get, .state_set = docker_state_set,               \
    .state_list = docker_state_list,                                                                               \
  }

const struct adr_engine_ops adr_docker_ops = DOCKER_OPS("docker");
const struct adr_engine_ops adr_podman_ops = DOCKER_OPS("podman");
