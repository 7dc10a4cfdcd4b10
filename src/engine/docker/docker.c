/* The Docker Engine API (also served by Podman's compatible socket),
 * spoken over libcurl (requests) and a raw socket (hijacked attach).
 * Never the docker CLI. */
#include "engine.h"
#include "buf.h"
#include "http.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>

#define API_MIN "1.40"
#define API_MAX "1.43"
#define BUILD_LINE_LIMIT (1u << 20)

struct docker {
  struct adr_http http;
  char prefix[16]; /* "/v1.41" */
};

static struct docker *D(struct adr_engine *e) { return e->priv; }

/* ------------------------------------------------------------ requests */

/* What an HTTP status of the Engine API means, as an errno value: callers
 * never see HTTP (other engines have none).  0 for the statuses the API
 * uses to say "already so" (304: already started, already stopped). */
int adr_docker_errno(long status)
{
  if (status < 400)
    return 0;
  switch (status) {
  case 400: return EINVAL;    /* bad parameter */
  case 401: return EACCES;
  case 403: return EPERM;
  case 404: return ENOENT;    /* no such container, image, network */
  case 406: return EINVAL;    /* not acceptable (e.g. attach to a stopped container) */
  case 409: return EEXIST;    /* conflict: a name in use, a network with endpoints */
  case 413: return EFBIG;
  case 500: return EIO;       /* the engine failed */
  case 501: return ENOTSUP;
  case 503: return EAGAIN;    /* the engine is busy or shutting down */
  default: return status < 500 ? EINVAL : EIO;
  }
}

/* Turns an error response into "MESSAGE (HTTP STATUS)" with the status's
 * errno (adr_docker_errno). */
static int api_error(struct adr_http_resp *r, adr_err *err)
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
static int call(struct adr_engine *e, const char *method, const char *path, json_t *body,
                json_t **out, long *status, adr_err *err)
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
    ret = api_error(&r, err);
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

static char *esc(const char *s) { return adr_http_escape(s); }

/* --------------------------------------------------------------- ping */

static int docker_ping(struct adr_engine *e, adr_err *err)
{
  struct adr_http_resp r;
  if (adr_http_request(&D(e)->http, "GET", "/_ping", NULL, NULL, 0, &r, err) < 0)
    return -1;
  int ret = 0;
  if (r.status != 200) {
    ret = api_error(&r, err);
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
    if (call(e, "GET", "/version", NULL, &v, NULL, err) < 0)
      return adr_err_prefix(err, "engine at %s", e->endpoint);
    const char *api = json_string_value(json_object_get(v, "ApiVersion"));
    free(e->api_version);
    e->api_version = xstrdup(api ? api : API_MIN);
    json_decref(v);
    server = e->api_version;
  }
  if (adr_api_version_cmp(server, API_MIN) < 0)
    return adr_err_set(err, ENOTSUP, "engine at %s speaks API %s; adr needs %s or newer", e->endpoint,
                       server, API_MIN);
  const char *use = adr_api_version_cmp(server, API_MAX) > 0 ? API_MAX : server;
  snprintf(d->prefix, sizeof(d->prefix), "/v%s", use);
  adr_debug("engine: %s API %s (using %s)", e->endpoint, server, use);
  return 0;
}

static void docker_close(struct adr_engine *e)
{
  struct docker *d = D(e);
  if (!d)
    return;
  adr_http_close(&d->http);
  free(d);
  e->priv = NULL;
}

static int docker_version(struct adr_engine *e, char **version, char **api, adr_err *err)
{
  json_t *v = NULL;
  if (call(e, "GET", "/version", NULL, &v, NULL, err) < 0)
    return -1;
  const char *ver = json_string_value(json_object_get(v, "Version"));
  const char *a = json_string_value(json_object_get(v, "ApiVersion"));
  *version = xstrdup(ver ? ver : "unknown");
  *api = xstrdup(a ? a : "unknown");
  json_decref(v);
  return 0;
}

/* ------------------------------------------------------------- images */

static void labels_from_json(json_t *obj, struct strv *out)
{
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v)
  {
    const char *s = json_string_value(v);
    strv_pushf(out, "%s=%s", k, s ? s : "");
  }
}

int adr_docker_parse_images(const char *json, size_t len, struct adr_image **out, size_t *n, adr_err *err)
{
  json_error_t je;
  json_t *arr = json_loadb(json, len, 0, &je);
  if (!arr || !json_is_array(arr)) {
    json_decref(arr);
    return adr_err_set(err, EPROTO, "list images: unexpected response from the engine (%s)",
                       arr ? "not an array" : je.text);
  }
  struct adr_image *v = NULL;
  size_t cnt = 0;
  size_t i;
  json_t *im;
  json_array_foreach(arr, i, im)
  {
    json_t *tags = json_object_get(im, "RepoTags");
    size_t j;
    json_t *t;
    json_array_foreach(tags, j, t)
    {
      const char *rt = json_string_value(t);
      if (!rt || streq(rt, "<none>:<none>"))
        continue;
      const char *colon = strrchr(rt, ':');
      if (!colon || strchr(colon, '/'))
        continue;
      v = xrealloc(v, (cnt + 1) * sizeof(*v));
      struct adr_image *x = &v[cnt++];
      memset(x, 0, sizeof(*x));
      x->repository = xstrndup(rt, (size_t)(colon - rt));
      x->tag = xstrdup(colon + 1);
      const char *id = json_string_value(json_object_get(im, "Id"));
      x->id = xstrdup(id ? id : "");
      x->size = json_integer_value(json_object_get(im, "Size"));
      x->created = (time_t)json_integer_value(json_object_get(im, "Created"));
      labels_from_json(json_object_get(im, "Labels"), &x->labels);
    }
  }
  json_decref(arr);
  *out = v;
  *n = cnt;
  return 0;
}

static int docker_image_list(struct adr_engine *e, const char *reference, struct adr_image **out,
                             size_t *n, adr_err *err)
{
  struct docker *d = D(e);
  cleanup_free char *path = NULL;
  if (reference) {
    json_t *f = json_pack("{s:[s]}", "reference", reference);
    cleanup_free char *fs = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    cleanup_free char *q = esc(fs);
    path = xasprintf("%s/images/json?filters=%s", d->prefix, q);
  } else {
    path = xasprintf("%s/images/json", d->prefix);
  }
  struct adr_http_resp r;
  if (adr_http_request(&d->http, "GET", path, NULL, NULL, 0, &r, err) < 0)
    return -1;
  int ret;
  if (r.status >= 400)
    ret = api_error(&r, err);
  else
    ret = adr_docker_parse_images(r.body.data ? r.body.data : "[]", r.body.len ? r.body.len : 2, out, n, err);
  adr_http_resp_free(&r);
  return ret;
}

static int docker_image_inspect(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err)
{
  cleanup_free char *q = esc(ref);
  cleanup_free char *path = xasprintf("/images/%s/json", q);
  json_t *j = NULL;
  cleanup_err adr_err e2 = NULL;
  if (call(e, "GET", path, NULL, &j, NULL, &e2) < 0) {
    if (e2->errnum == ENOENT)
      return 1;
    adr_err_move(err, &e2);
    return -1;
  }
  if (out) {
    memset(out, 0, sizeof(*out));
    const char *id = json_string_value(json_object_get(j, "Id"));
    out->id = xstrdup(id ? id : "");
    out->size = json_integer_value(json_object_get(j, "Size"));
    const char *created = json_string_value(json_object_get(j, "Created"));
    struct tm tm = { 0 };
    if (created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
      out->created = timegm(&tm);
    labels_from_json(json_object_get(json_object_get(j, "Config"), "Labels"), &out->labels);
    const char *colon = strrchr(ref, ':');
    if (colon && !strchr(colon, '/')) {
      out->repository = xstrndup(ref, (size_t)(colon - ref));
      out->tag = xstrdup(colon + 1);
    } else {
      out->repository = xstrdup(ref);
      out->tag = xstrdup("latest");
    }
  }
  json_decref(j);
  return 0;
}

static int docker_image_remove(struct adr_engine *e, const char *ref, adr_err *err)
{
  cleanup_free char *q = esc(ref);
  cleanup_free char *path = xasprintf("/images/%s", q);
  return call(e, "DELETE", path, NULL, NULL, NULL, err);
}

int adr_docker_parse_build_line(const char *line, size_t len, struct adr_build_event *ev,
                                char **owned, adr_err *err)
{
  *owned = NULL;
  json_error_t je;
  json_t *j = json_loadb(line, len, 0, &je);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    return adr_err_set(err, EPROTO, "build: unexpected output from the engine: %.*s",
                       (int)(len < 80 ? len : 80), line);
  }
  int ret = 0;
  const char *s;
  json_t *aux = json_object_get(j, "aux");
  if ((s = json_string_value(json_object_get(j, "error")))) {
    const char *detail = json_string_value(json_object_get(json_object_get(j, "errorDetail"), "message"));
    ret = adr_err_set(err, EIO, "%s", detail ? detail : s);
    if (*err) {
      /* trim trailing newline */
      size_t l = strlen((*err)->msg);
      while (l && ((*err)->msg[l - 1] == '\n' || (*err)->msg[l - 1] == '\r'))
        (*err)->msg[--l] = '\0';
    }
  } else if (aux && (s = json_string_value(json_object_get(aux, "ID")))) {
    *owned = xstrdup(s);
    ev->kind = ADR_BUILD_DONE;
    ev->text = *owned;
  } else if ((s = json_string_value(json_object_get(j, "stream")))) {
    *owned = xstrdup(s);
    ev->kind = str_has_prefix(s, "Step ") ? ADR_BUILD_STEP : ADR_BUILD_OUTPUT;
    ev->text = *owned;
  } else if ((s = json_string_value(json_object_get(j, "status")))) {
    *owned = xstrdup(s);
    ev->kind = ADR_BUILD_OUTPUT;
    ev->text = *owned;
  } else {
    ev->kind = ADR_BUILD_OUTPUT;
    ev->text = NULL;
  }
  json_decref(j);
  return ret;
}

struct build_ctx {
  struct line_splitter ls;
  adr_build_cb cb;
  void *ud;
  adr_err err;
  char *image_id;
  bool failed;
};

static int build_line(const char *line, size_t len, void *ud)
{
  struct build_ctx *b = ud;
  if (len == 0)
    return 0;
  struct adr_build_event ev = { 0 };
  char *owned = NULL;
  if (adr_docker_parse_build_line(line, len, &ev, &owned, &b->err) < 0) {
    b->failed = true;
    return 0; /* keep reading: the engine ends the stream itself */
  }
  if (ev.kind == ADR_BUILD_DONE) {
    free(b->image_id);
    b->image_id = xstrdup(ev.text);
  }
  if (ev.text && b->cb)
    b->cb(&ev, b->ud);
  free(owned);
  return 0;
}

static int build_chunk(const char *p, size_t n, void *ud)
{
  struct build_ctx *b = ud;
  if (line_splitter_feed(&b->ls, p, n) < 0) {
    adr_err_set(&b->err, EFBIG, "build: engine sent a line longer than %u bytes", BUILD_LINE_LIMIT);
    b->failed = true;
    return -1;
  }
  return 0;
}

static int docker_image_build(struct adr_engine *e, const struct adr_build_req *req, adr_build_cb cb,
                              void *ud, char **image_id, adr_err *err)
{
  struct docker *d = D(e);
  json_t *args = json_object();
  for (size_t i = 0; i < req->build_args.n; i++) {
    const char *kv = req->build_args.v[i];
    const char *eq = strchr(kv, '=');
    cleanup_free char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
    json_object_set_new(args, k, json_string(eq ? eq + 1 : ""));
  }
  json_t *labels = json_object();
  for (size_t i = 0; i < req->labels.n; i++) {
    const char *kv = req->labels.v[i];
    const char *eq = strchr(kv, '=');
    cleanup_free char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
    json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
  }
  cleanup_free char *a = json_dumps(args, JSON_COMPACT);
  cleanup_free char *l = json_dumps(labels, JSON_COMPACT);
  json_decref(args);
  json_decref(labels);
  cleanup_free char *qa = esc(a), *ql = esc(l), *qt = esc(req->tag),
                    *qd = esc(req->dockerfile ? req->dockerfile : "Dockerfile");
  cleanup_free char *path =
    xasprintf("%s/build?t=%s&dockerfile=%s&buildargs=%s&labels=%s&rm=1&forcerm=1&nocache=%d&pull=%d",
              d->prefix, qt, qd, qa, ql, req->no_cache ? 1 : 0, req->pull ? 1 : 0);
  struct build_ctx b = { .cb = cb, .ud = ud };
  line_splitter_init(&b.ls, BUILD_LINE_LIMIT, build_line, &b);
  struct adr_http_resp r;
  int ret = adr_http_stream(&d->http, "POST", path, "application/x-tar", req->context_tar,
                            req->context_len, build_chunk, &b, &r, err);
  if (ret == 0)
    line_splitter_finish(&b.ls);
  line_splitter_free(&b.ls);
  if (b.failed) {
    adr_err_move(err, &b.err);
    ret = -1;
  } else if (ret == 0 && r.status >= 400) {
    ret = api_error(&r, err);
  } else if (ret == 0 && b.image_id == NULL) {
    ret = adr_err_set(err, EIO, "build ended without an image (engine closed the stream)");
  }
  adr_err_free(&b.err);
  adr_http_resp_free(&r);
  if (ret == 0 && image_id)
    *image_id = xstrdup(b.image_id);
  free(b.image_id);
  return ret;
}

/* ---------------------------------------------------------- containers */

static json_t *strv_json(const struct strv *s)
{
  json_t *a = json_array();
  for (size_t i = 0; i < s->n; i++)
    json_array_append_new(a, json_string(s->v[i]));
  return a;
}

static json_t *labels_json(const struct strv *s)
{
  json_t *o = json_object();
  for (size_t i = 0; i < s->n; i++) {
    const char *eq = strchr(s->v[i], '=');
    cleanup_free char *k = eq ? xstrndup(s->v[i], (size_t)(eq - s->v[i])) : xstrdup(s->v[i]);
    json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
  }
  return o;
}

char *adr_docker_create_body(const struct adr_spec *s)
{
  if (adr_spec_non_utf8(s))
    return NULL; /* JSON cannot carry it; never send a body with pieces missing */
  json_t *c = json_object();
  json_object_set_new(c, "Image", json_string(s->image));
  if (s->entrypoint.n)
    json_object_set_new(c, "Entrypoint", strv_json(&s->entrypoint));
  if (s->cmd.n)
    json_object_set_new(c, "Cmd", strv_json(&s->cmd));
  json_object_set_new(c, "Env", strv_json(&s->env));
  if (s->user)
    json_object_set_new(c, "User", json_string(s->user));
  if (s->workdir)
    json_object_set_new(c, "WorkingDir", json_string(s->workdir));
  if (s->hostname)
    json_object_set_new(c, "Hostname", json_string(s->hostname));
  json_object_set_new(c, "Tty", json_boolean(s->tty));
  json_object_set_new(c, "OpenStdin", json_boolean(s->interactive));
  json_object_set_new(c, "StdinOnce", json_boolean(s->interactive && !s->detachable));
  json_object_set_new(c, "AttachStdin", json_boolean(s->interactive));
  json_object_set_new(c, "AttachStdout", json_true());
  json_object_set_new(c, "AttachStderr", json_true());
  json_object_set_new(c, "Labels", labels_json(&s->labels));

  json_t *h = json_object();
  json_t *mounts = json_array();
  json_t *tmpfs = json_object();
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct adr_spec_mount *m = &s->mounts[i];
    if (m->type == ADR_MOUNT_BIND) {
      json_array_append_new(mounts, json_pack("{s:s, s:s, s:s, s:b, s:{s:s}}", "Type", "bind",
                                              "Source", m->source, "Target", m->target, "ReadOnly",
                                              m->readonly, "BindOptions", "Propagation", "rprivate"));
    } else {
      cleanup_free char *own = m->uid >= 0 ? xasprintf(",uid=%ld,gid=%ld", m->uid, m->gid >= 0 ? m->gid : m->uid)
                                            : xstrdup("");
      cleanup_free char *opts = xasprintf("rw,nosuid,nodev,exec,size=%llu,mode=%o%s",
                                          (unsigned long long)(m->size ? m->size : 64u << 20),
                                          m->mode ? m->mode : 01777, own);
      json_object_set_new(tmpfs, m->target, json_string(opts));
    }
  }
  json_object_set_new(h, "Mounts", mounts);
  json_object_set_new(h, "Tmpfs", tmpfs);
  json_object_set_new(h, "ReadonlyRootfs", json_boolean(s->read_only_root));
  if (s->drop_all_caps)
    json_object_set_new(h, "CapDrop", json_pack("[s]", "ALL"));
  if (s->cap_add.n)
    json_object_set_new(h, "CapAdd", strv_json(&s->cap_add));
  json_t *secopt = json_array();
  if (s->no_new_privileges)
    json_array_append_new(secopt, json_string("no-new-privileges:true"));
  if (s->seccomp_profile) {
    cleanup_free char *o = xasprintf("seccomp=%s", s->seccomp_profile);
    json_array_append_new(secopt, json_string(o));
  }
  json_object_set_new(h, "SecurityOpt", secopt);
  if (s->memory) {
    json_object_set_new(h, "Memory", json_integer(s->memory));
    json_object_set_new(h, "MemorySwap", json_integer(s->memory));
  }
  if (s->nano_cpus)
    json_object_set_new(h, "NanoCpus", json_integer(s->nano_cpus));
  if (s->pids)
    json_object_set_new(h, "PidsLimit", json_integer(s->pids));
  json_object_set_new(h, "Init", json_boolean(s->init));
  json_object_set_new(h, "NetworkMode", json_string(s->network ? s->network : "bridge"));
  json_object_set_new(h, "ExtraHosts", strv_json(&s->extra_hosts));
  if (s->dns.n)
    json_object_set_new(h, "Dns", strv_json(&s->dns));
  if (s->sysctls.n) {
    json_t *sc = json_object();
    for (size_t i = 0; i < s->sysctls.n; i++) {
      const char *eq = strchr(s->sysctls.v[i], '=');
      if (!eq)
        continue;
      cleanup_free char *k = xstrndup(s->sysctls.v[i], (size_t)(eq - s->sysctls.v[i]));
      json_object_set_new(sc, k, json_string(eq + 1));
    }
    json_object_set_new(h, "Sysctls", sc);
  }
  if (s->restart)
    json_object_set_new(h, "RestartPolicy", json_pack("{s:s, s:i}", "Name", s->restart, "MaximumRetryCount", 0));
  json_object_set_new(h, "IpcMode", json_string("private"));
  json_object_set_new(h, "CgroupnsMode", json_string("private"));
  json_object_set_new(h, "AutoRemove", json_false());
  json_object_set_new(h, "Privileged", json_false());
  json_object_set_new(c, "HostConfig", h);
  if (s->ipv4 && s->network)
    json_object_set_new(c, "NetworkingConfig",
                        json_pack("{s:{s:{s:{s:s}}}}", "EndpointsConfig", s->network, "IPAMConfig",
                                  "IPv4Address", s->ipv4));

  char *out = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(c);
  return out;
}

static int docker_container_create(struct adr_engine *e, const struct adr_spec *spec, char **id, adr_err *err)
{
  struct docker *d = D(e);
  const char *bad = adr_spec_non_utf8(spec);
  if (bad) {
    cleanup_free char *shown = adr_str_escape(bad, 120);
    return adr_err_set(err, EILSEQ, "'%s' is not valid UTF-8 (the engine API cannot carry it)", shown);
  }
  cleanup_free char *body = adr_docker_create_body(spec);
  if (!body)
    return adr_err_set(err, ENOMEM, "cannot encode the container definition");
  cleanup_free char *qn = spec->name ? esc(spec->name) : NULL;
  cleanup_free char *path = qn ? xasprintf("%s/containers/create?name=%s", d->prefix, qn)
                               : xasprintf("%s/containers/create", d->prefix);
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
      ret = api_error(&r, err);
    }
  } else {
    json_t *j = json_loadb(r.body.data ? r.body.data : "", r.body.len, 0, NULL);
    const char *cid = json_string_value(json_object_get(j, "Id"));
    if (cid)
      *id = xstrdup(cid);
    else
      ret = adr_err_set(err, EPROTO, "engine returned no container id");
    json_decref(j);
  }
  adr_http_resp_free(&r);
  return ret;
}


static int container_path_call(struct adr_engine *e, const char *method, const char *id, const char *suffix,
                               json_t **out, long *status, adr_err *err)
{
  cleanup_free char *q = esc(id);
  cleanup_free char *path = xasprintf("/containers/%s%s", q, suffix);
  return call(e, method, path, NULL, out, status, err);
}

static int docker_container_start(struct adr_engine *e, const char *id, adr_err *err)
{
  return container_path_call(e, "POST", id, "/start", NULL, NULL, err);
}

static int docker_container_wait(struct adr_engine *e, const char *id, int *exit_code, adr_err *err)
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

static int docker_container_kill(struct adr_engine *e, const char *id, int sig, adr_err *err)
{
  const char *n = signame(sig);
  cleanup_free char *suffix = n ? xasprintf("/kill?signal=%s", n) : xasprintf("/kill?signal=%d", sig);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

static int docker_container_stop(struct adr_engine *e, const char *id, int timeout_s, adr_err *err)
{
  cleanup_free char *suffix = xasprintf("/stop?t=%d", timeout_s);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

static int docker_container_remove(struct adr_engine *e, const char *id, bool force, adr_err *err)
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

static void container_from_json(json_t *j, struct adr_container *c, bool inspect)
{
  memset(c, 0, sizeof(*c));
  const char *s = json_string_value(json_object_get(j, "Id"));
  c->id = xstrdup(s ? s : "");
  if (inspect) {
    s = json_string_value(json_object_get(j, "Name"));
    c->name = xstrdup(s ? (s[0] == '/' ? s + 1 : s) : "");
    json_t *st = json_object_get(j, "State");
    s = json_string_value(json_object_get(st, "Status"));
    c->state = xstrdup(s ? s : "");
    c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    json_t *cfg = json_object_get(j, "Config");
    s = json_string_value(json_object_get(cfg, "Image"));
    c->image = xstrdup(s ? s : "");
    labels_from_json(json_object_get(cfg, "Labels"), &c->labels);
    const char *created = json_string_value(json_object_get(j, "Created"));
    struct tm tm = { 0 };
    if (created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
      c->created = timegm(&tm);
  } else {
    json_t *names = json_object_get(j, "Names");
    s = json_string_value(json_array_get(names, 0));
    c->name = xstrdup(s ? (s[0] == '/' ? s + 1 : s) : "");
    s = json_string_value(json_object_get(j, "State"));
    c->state = xstrdup(s ? s : "");
    s = json_string_value(json_object_get(j, "Image"));
    c->image = xstrdup(s ? s : "");
    c->created = (time_t)json_integer_value(json_object_get(j, "Created"));
    labels_from_json(json_object_get(j, "Labels"), &c->labels);
    /* the list has no exit code field, only "Exited (N) 2 minutes ago" */
    s = json_string_value(json_object_get(j, "Status"));
    if (s && str_has_prefix(s, "Exited ("))
      c->exit_code = (int)strtol(s + 8, NULL, 10);
  }
}

static int docker_container_inspect(struct adr_engine *e, const char *id, struct adr_container *out, adr_err *err)
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
    container_from_json(j, out, true);
  json_decref(j);
  return 0;
}

static int docker_container_list(struct adr_engine *e, const struct strv *label_filters, bool all,
                                 struct adr_container **out, size_t *n, adr_err *err)
{
  json_t *f = json_object();
  if (label_filters && label_filters->n)
    json_object_set_new(f, "label", strv_json(label_filters));
  cleanup_free char *fs = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  cleanup_free char *q = esc(fs);
  cleanup_free char *path = xasprintf("/containers/json?all=%d&filters=%s", all ? 1 : 0, q);
  json_t *arr = NULL;
  if (call(e, "GET", path, NULL, &arr, NULL, err) < 0)
    return -1;
  size_t cnt = json_array_size(arr);
  struct adr_container *v = cnt ? xcalloc(cnt, sizeof(*v)) : NULL;
  for (size_t i = 0; i < cnt; i++)
    container_from_json(json_array_get(arr, i), &v[i], false);
  json_decref(arr);
  *out = v;
  *n = cnt;
  return 0;
}

static int docker_container_resize(struct adr_engine *e, const char *id, unsigned rows, unsigned cols, adr_err *err)
{
  cleanup_free char *suffix = xasprintf("/resize?h=%u&w=%u", rows, cols);
  return container_path_call(e, "POST", id, suffix, NULL, NULL, err);
}

/* -------------------------------------------------- raw streams (attach) */

static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        struct pollfd pf = { .fd = fd, .events = POLLOUT };
        poll(&pf, 1, -1);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Demultiplexes the engine's stdout/stderr framing: 8-byte headers
 * [stream, 0, 0, 0, size32be] followed by size bytes. */
struct demux {
  unsigned char hdr[8];
  size_t hdr_have;
  size_t remaining;
  int stream;
  int out_fd, err_fd;
  bool raw;
};

static int demux_feed(struct demux *m, const char *p, size_t n)
{
  if (m->raw)
    return m->out_fd >= 0 ? write_all(m->out_fd, p, n) : 0;
  while (n > 0) {
    if (m->remaining == 0) {
      size_t take = 8 - m->hdr_have;
      if (take > n)
        take = n;
      memcpy(m->hdr + m->hdr_have, p, take);
      m->hdr_have += take;
      p += take;
      n -= take;
      if (m->hdr_have < 8)
        return 0;
      m->hdr_have = 0;
      m->stream = m->hdr[0];
      m->remaining = ((size_t)m->hdr[4] << 24) | ((size_t)m->hdr[5] << 16) | ((size_t)m->hdr[6] << 8) | m->hdr[7];
      continue;
    }
    size_t take = m->remaining < n ? m->remaining : n;
    int fd = m->stream == 2 ? m->err_fd : m->out_fd;
    if (fd >= 0 && write_all(fd, p, take) < 0)
      return -1;
    p += take;
    n -= take;
    m->remaining -= take;
  }
  return 0;
}

static int demux_chunk(const char *p, size_t n, void *ud) { return demux_feed(ud, p, n); }

/* Opens a raw connection to the engine (unix or tcp). */
static int raw_connect(struct adr_engine *e, adr_err *err)
{
  struct docker *d = D(e);
  if (d->http.unix_path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return adr_err_sys(err, errno, "socket");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(d->http.unix_path) >= sizeof(sa.sun_path)) {
      close(fd);
      return adr_err_set(err, ENAMETOOLONG, "engine socket path too long: %s", d->http.unix_path);
    }
    memcpy(sa.sun_path, d->http.unix_path, strlen(d->http.unix_path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
      int saved = errno;
      close(fd);
      adr_err_sys(err, saved, "cannot connect to the engine at %s", e->endpoint);
      if (err && *err && saved == ENOENT)
        (*err)->errnum = ECONNREFUSED; /* not "no such container" */
      return -1;
    }
    return fd;
  }
  const char *hp = d->http.base_url + strlen("http://");
  const char *colon = strrchr(hp, ':');
  cleanup_free char *host = xstrndup(hp, (size_t)(colon - hp));
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
  int g = getaddrinfo(host, colon + 1, &hints, &res);
  if (g != 0)
    return adr_err_set(err, EHOSTUNREACH, "cannot connect to the engine at %s: %s", e->endpoint, gai_strerror(g));
  int fd = -1;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return adr_err_set(err, ECONNREFUSED, "cannot connect to the engine at %s (is the Docker daemon running?)", e->endpoint);
  return fd;
}

#define RESP_HEADER_LIMIT 16384

/* Sends a request that upgrades to a raw stream and reads the response
 * headers. Returns the connected fd; any bytes read past the headers are
 * left in *extra. */
static int hijack(struct adr_engine *e, const char *path, const char *body, struct buf *extra, int *status_out,
                  adr_err *err)
{
  struct docker *d = D(e);
  int fd = raw_connect(e, err);
  if (fd < 0)
    return -1;
  cleanup_free char *req = xasprintf("POST %s%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: adr\r\n"
                                     "Content-Type: %s\r\nContent-Length: %zu\r\n"
                                     "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n%s",
                                     d->prefix, path, body ? "application/json" : "text/plain",
                                     body ? strlen(body) : 0, body ? body : "");
  if (write_all(fd, req, strlen(req)) < 0) {
    int saved = errno;
    close(fd);
    return adr_err_sys(err, saved, "attach: write to engine");
  }
  struct buf h;
  buf_init(&h, RESP_HEADER_LIMIT);
  char tmp[4096];
  char *end = NULL;
  while (end == NULL) {
    ssize_t r = read(fd, tmp, sizeof(tmp));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      buf_free(&h);
      close(fd);
      return adr_err_set(err, EPROTO, "attach: engine closed the connection");
    }
    if (buf_append(&h, tmp, (size_t)r) < 0) {
      buf_free(&h);
      close(fd);
      return adr_err_set(err, EFBIG, "attach: response headers larger than %d bytes", RESP_HEADER_LIMIT);
    }
    end = strstr(h.data, "\r\n\r\n");
  }
  int status = 0;
  sscanf(h.data, "HTTP/1.%*d %d", &status);
  size_t hl = (size_t)(end - h.data) + 4;
  buf_append(extra, h.data + hl, h.len - hl);
  if (status_out)
    *status_out = status;
  if (status != 101 && status != 200) {
    /* error body follows; surface the engine's message */
    struct adr_http_resp r = { .status = status };
    buf_init(&r.body, 65536);
    buf_append(&r.body, h.data + hl, h.len - hl);
    buf_free(&h);
    close(fd);
    api_error(&r, err);
    adr_http_resp_free(&r);
    return -1;
  }
  buf_free(&h);
  return fd;
}

static int pump(int sock, struct buf *initial, const struct adr_attach *a, bool raw, adr_err *err)
{
  struct demux m = { .out_fd = a->out_fd, .err_fd = a->err_fd, .raw = raw };
  if (initial->len && demux_feed(&m, initial->data, initial->len) < 0)
    return adr_err_sys(err, errno, "attach: write output");
  int in_fd = a->in_fd;
  char b[65536];
  for (;;) {
    struct pollfd p[3];
    int np = 0;
    p[np++] = (struct pollfd){ .fd = sock, .events = POLLIN };
    int in_i = -1, wake_i = -1;
    if (in_fd >= 0) {
      in_i = np;
      p[np++] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
    }
    if (a->wake_fd >= 0) {
      wake_i = np;
      p[np++] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
    }
    if (poll(p, (nfds_t)np, -1) < 0) {
      if (errno == EINTR)
        continue;
      return adr_err_sys(err, errno, "attach: poll");
    }
    if (wake_i >= 0 && (p[wake_i].revents & POLLIN) && a->on_wake) {
      if (a->on_wake(a->ud) < 0)
        return 0;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(sock, b, sizeof(b));
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r <= 0)
        return 0; /* stream closed: the process ended */
      if (demux_feed(&m, b, (size_t)r) < 0)
        return adr_err_sys(err, errno, "attach: write output");
    }
    if (in_i >= 0 && (p[in_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(in_fd, b, sizeof(b));
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r <= 0) {
        shutdown(sock, SHUT_WR);
        in_fd = -1;
      } else if (write_all(sock, b, (size_t)r) < 0) {
        in_fd = -1;
      }
    }
  }
}

/* POST path (body: JSON or NULL) on a hijacked connection, call a's
 * on_ready, then pump the streams until they close. */
static int hijack_pump(struct adr_engine *e, const char *path, const char *body, const struct adr_attach *a,
                       adr_err *err)
{
  struct buf extra;
  buf_init(&extra, 0);
  int sock = hijack(e, path, body, &extra, NULL, err);
  if (sock < 0) {
    buf_free(&extra);
    return -1;
  }
  int ret = 0;
  if (a->on_ready && a->on_ready(a->ud, err) < 0)
    ret = -1;
  else
    ret = pump(sock, &extra, a, a->tty, err);
  buf_free(&extra);
  close(sock);
  return ret;
}

static int docker_container_attach(struct adr_engine *e, const char *id, const struct adr_attach *a, adr_err *err)
{
  cleanup_free char *q = esc(id);
  cleanup_free char *dk = a->detach_keys ? esc(a->detach_keys) : NULL;
  cleanup_free char *path =
    xasprintf("/containers/%s/attach?stream=1&stdin=%d&stdout=1&stderr=1%s%s", q, a->in_fd >= 0 ? 1 : 0,
              dk ? "&detachKeys=" : "", dk ? dk : "");
  return hijack_pump(e, path, NULL, a, err);
}

static int docker_container_exec(struct adr_engine *e, const char *id, const struct strv *cmd,
                                 const struct adr_attach *a, int *exit_code, adr_err *err)
{
  for (size_t i = 0; i < cmd->n; i++)
    if (!utf8_valid(cmd->v[i]))
      return adr_err_set(err, EILSEQ, "exec: argument %zu is not valid UTF-8", i + 1);
  cleanup_free char *q = esc(id);
  cleanup_free char *path = xasprintf("/containers/%s/exec", q);
  json_t *args = json_array();
  for (size_t i = 0; i < cmd->n; i++)
    json_array_append_new(args, json_string(cmd->v[i]));
  json_t *body = json_pack("{s:b, s:b, s:b, s:b, s:o}", "AttachStdin", a->in_fd >= 0, "AttachStdout", 1,
                           "AttachStderr", 1, "Tty", a->tty, "Cmd", args);
  json_t *out = NULL;
  long status = 0;
  int r = call(e, "POST", path, body, &out, &status, err);
  json_decref(body);
  if (r < 0)
    return adr_err_prefix(err, "exec");
  const char *eid = json_string_value(json_object_get(out, "Id"));
  cleanup_free char *xid = eid ? xstrdup(eid) : NULL;
  json_decref(out);
  if (!xid)
    return adr_err_set(err, EPROTO, "exec: the engine returned no exec id");
  cleanup_free char *qx = esc(xid);
  cleanup_free char *spath = xasprintf("/exec/%s/start", qx);
  cleanup_free char *sbody = xasprintf("{\"Detach\":false,\"Tty\":%s}", a->tty ? "true" : "false");
  if (hijack_pump(e, spath, sbody, a, err) < 0)
    return -1;
  cleanup_free char *ipath = xasprintf("/exec/%s/json", qx);
  json_t *info = NULL;
  if (call(e, "GET", ipath, NULL, &info, NULL, err) < 0)
    return -1;
  json_t *ec = json_object_get(info, "ExitCode");
  *exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : 255;
  json_decref(info);
  return 0;
}

static int docker_container_logs(struct adr_engine *e, const char *id, bool follow, int out_fd, int err_fd, adr_err *err)
{
  struct adr_container c;
  int r = docker_container_inspect(e, id, &c, err);
  if (r < 0)
    return -1;
  if (r == 1)
    return adr_err_set(err, ENOENT, "no such sandbox '%s'", id);
  adr_container_free(&c);
  struct docker *d = D(e);
  cleanup_free char *q = esc(id);
  cleanup_free char *path = xasprintf("%s/containers/%s/logs?stdout=1&stderr=1&follow=%d", d->prefix, q, follow ? 1 : 0);
  /* tty containers send raw output; others are framed */
  json_t *j = NULL;
  cleanup_free char *ipath = xasprintf("/containers/%s/json", q);
  bool raw = false;
  if (call(e, "GET", ipath, NULL, &j, NULL, err) < 0)
    return -1;
  raw = json_is_true(json_object_get(json_object_get(j, "Config"), "Tty"));
  json_decref(j);
  struct demux m = { .out_fd = out_fd, .err_fd = err_fd, .raw = raw };
  struct adr_http_resp resp;
  int ret = adr_http_stream(&d->http, "GET", path, NULL, NULL, 0,
                            demux_chunk, &m, &resp, err);
  if (ret == 0 && resp.status >= 400)
    ret = api_error(&resp, err);
  adr_http_resp_free(&resp);
  return ret;
}

/* ------------------------------------------------------------ networks */

static int docker_network_create(struct adr_engine *e, const struct adr_network_req *req, char **id,
                                 adr_err *err)
{
  json_t *opts = json_object();
  for (size_t i = 0; i < req->options.n; i++) {
    const char *eq = strchr(req->options.v[i], '=');
    if (!eq)
      continue;
    cleanup_free char *k = xstrndup(req->options.v[i], (size_t)(eq - req->options.v[i]));
    json_object_set_new(opts, k, json_string(eq + 1));
  }
  json_t *body = json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "Name", req->name, "Driver", "bridge",
                           "Internal", req->internal, "CheckDuplicate", 1, "EnableIPv6", 0,
                           "Options", opts, "Labels", labels_json(&req->labels));
  if (req->subnet)
    json_object_set_new(body, "IPAM", json_pack("{s:s, s:[{s:s}]}", "Driver", "default", "Config",
                                                "Subnet", req->subnet));
  json_t *out = NULL;
  cleanup_err adr_err e2 = NULL;
  int r = call(e, "POST", "/networks/create", body, &out, NULL, &e2);
  json_decref(body);
  if (r < 0) {
    /* the subnet is taken (by another network or, on Podman, a route) */
    if (req->subnet && e2->msg && (strstr(e2->msg, "overlap") || strstr(e2->msg, "in use") ||
                                   strstr(e2->msg, "already used")))
      e2->errnum = EADDRINUSE;
    adr_err_move(err, &e2);
    return -1;
  }
  const char *nid = json_string_value(json_object_get(out, "Id"));
  if (id)
    *id = xstrdup(nid ? nid : "");
  json_decref(out);
  return 0;
}

static int docker_network_connect(struct adr_engine *e, const char *net, const char *container,
                                  const char *ipv4, adr_err *err)
{
  cleanup_free char *q = esc(net);
  cleanup_free char *path = xasprintf("/networks/%s/connect", q);
  json_t *body = json_pack("{s:s}", "Container", container);
  if (ipv4)
    json_object_set_new(body, "EndpointConfig", json_pack("{s:{s:s}}", "IPAMConfig", "IPv4Address", ipv4));
  int r = call(e, "POST", path, body, NULL, NULL, err);
  json_decref(body);
  return r;
}

void adr_networks_free(struct adr_network *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(v[i].id);
    free(v[i].name);
    strv_free(&v[i].labels);
  }
  free(v);
}

static int docker_network_list(struct adr_engine *e, const struct strv *label_filters, struct adr_network **out,
                               size_t *n, adr_err *err)
{
  json_t *lab = json_array();
  for (size_t i = 0; label_filters && i < label_filters->n; i++)
    json_array_append_new(lab, json_string(label_filters->v[i]));
  json_t *f = json_pack("{s:o}", "label", lab);
  cleanup_free char *fs = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  cleanup_free char *q = esc(fs);
  cleanup_free char *path = xasprintf("/networks?filters=%s", q);
  json_t *j = NULL;
  if (call(e, "GET", path, NULL, &j, NULL, err) < 0)
    return -1;
  *out = NULL;
  *n = 0;
  if (!json_is_array(j)) {
    json_decref(j);
    return adr_err_set(err, EPROTO, "engine returned no network list");
  }
  size_t cnt = json_array_size(j);
  *out = xcalloc(cnt ? cnt : 1, sizeof(**out));
  for (size_t i = 0; i < cnt; i++) {
    json_t *it = json_array_get(j, i);
    struct adr_network *nw = &(*out)[(*n)++];
    const char *s;
    nw->id = xstrdup((s = json_string_value(json_object_get(it, "Id"))) ? s : "");
    nw->name = xstrdup((s = json_string_value(json_object_get(it, "Name"))) ? s : "");
    const char *created = json_string_value(json_object_get(it, "Created"));
    struct tm tm = { 0 };
    if (created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
      nw->created = timegm(&tm);
    json_t *labels = json_object_get(it, "Labels");
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v) {
      if (json_is_string(v))
        strv_pushf(&nw->labels, "%s=%s", k, json_string_value(v));
    }
  }
  json_decref(j);
  return 0;
}

static int docker_network_remove(struct adr_engine *e, const char *id, adr_err *err)
{
  cleanup_free char *q = esc(id);
  cleanup_free char *path = xasprintf("/networks/%s", q);
  cleanup_err adr_err e2 = NULL;
  if (call(e, "DELETE", path, NULL, NULL, NULL, &e2) < 0) {
    if (e2->errnum == ENOENT)
      return 0;
    adr_err_move(err, &e2);
    return -1;
  }
  return 0;
}

const struct adr_engine_ops adr_docker_ops = {
  .name = "docker",
  .close = docker_close,
  .ping = docker_ping,
  .version = docker_version,
  .image_list = docker_image_list,
  .image_inspect = docker_image_inspect,
  .image_build = docker_image_build,
  .image_remove = docker_image_remove,
  .container_create = docker_container_create,
  .container_start = docker_container_start,
  .container_attach = docker_container_attach,
  .container_wait = docker_container_wait,
  .container_kill = docker_container_kill,
  .container_stop = docker_container_stop,
  .container_remove = docker_container_remove,
  .container_inspect = docker_container_inspect,
  .container_list = docker_container_list,
  .container_resize = docker_container_resize,
  .container_logs = docker_container_logs,
  .container_exec = docker_container_exec,
  .network_create = docker_network_create,
  .network_remove = docker_network_remove,
  .network_connect = docker_network_connect,
  .network_list = docker_network_list,
};
