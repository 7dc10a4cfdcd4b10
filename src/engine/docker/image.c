/* Docker engine: images (list, inspect, remove, build). */
#include "docker.h"

#include <errno.h>

#define BUILD_LINE_LIMIT (1u << 20)

int docker_image_list(struct adr_engine *e, const char *reference, struct adr_image **out, size_t *n, adr_err *err)
{
  struct docker *d = D(e);
  cleanup_free char *path = NULL;
  if (reference) {
    json_t *f = json_pack("{s:[s]}", "reference", reference);
    cleanup_free char *fs = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    cleanup_free char *q = docker_esc(fs);
    path = xasprintf("%s/images/json?filters=%s", d->prefix, q);
  } else {
    path = xasprintf("%s/images/json", d->prefix);
  }
  struct adr_http_resp r;
  if (adr_http_request(&d->http, "GET", path, NULL, NULL, 0, &r, err) < 0)
    return -1;
  int ret;
  if (r.status >= 400)
    ret = docker_api_error(&r, err);
  else
    ret = adr_docker_parse_images(r.body.data ? r.body.data : "[]", r.body.len ? r.body.len : 2, out, n, err);
  adr_http_resp_free(&r);
  return ret;
}

int docker_image_inspect(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err)
{
  cleanup_free char *q = docker_esc(ref);
  cleanup_free char *path = xasprintf("/images/%s/json", q);
  json_t *j = NULL;
  cleanup_err adr_err e2 = NULL;
  if (docker_call(e, "GET", path, NULL, &j, NULL, &e2) < 0) {
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
    docker_labels_from_json(json_object_get(json_object_get(j, "Config"), "Labels"), &out->labels);
    size_t i;
    json_t *l;
    json_array_foreach (json_object_get(json_object_get(j, "RootFS"), "Layers"), i, l)
      if (json_is_string(l))
        strv_push(&out->layers, json_string_value(l));
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

int docker_image_remove(struct adr_engine *e, const char *ref, adr_err *err)
{
  cleanup_free char *q = docker_esc(ref);
  cleanup_free char *path = xasprintf("/images/%s", q);
  return docker_call(e, "DELETE", path, NULL, NULL, NULL, err);
}

static int save_chunk(const char *p, size_t n, void *ud)
{
  int fd = *(int *)ud;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1; /* the reader went away */
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int docker_image_save(struct adr_engine *e, const char *ref, int fd, adr_err *err)
{
  struct docker *d = D(e);
  cleanup_free char *q = docker_esc(ref);
  cleanup_free char *path = xasprintf("%s/images/%s/get", d->prefix, q);
  struct adr_http_resp r;
  int ret = adr_http_stream(&d->http, "GET", path, NULL, NULL, 0, save_chunk, &fd, &r, err);
  if (ret == 0 && r.status >= 400)
    ret = docker_api_error(&r, err);
  adr_http_resp_free(&r);
  return ret;
}

int docker_image_tag(struct adr_engine *e, const char *ref, const char *repo, const char *tag, adr_err *err)
{
  cleanup_free char *q = docker_esc(ref), *qr = docker_esc(repo), *qt = docker_esc(tag);
  cleanup_free char *path = xasprintf("/images/%s/tag?repo=%s&tag=%s", q, qr, qt);
  return docker_call(e, "POST", path, NULL, NULL, NULL, err);
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

int docker_image_build(struct adr_engine *e, const struct adr_build_req *req, adr_build_cb cb, void *ud,
                       char **image_id, adr_err *err)
{
  struct docker *d = D(e);
  /* KEY=VALUE lists as the JSON objects the query parameters carry */
  json_t *args = docker_labels_json(&req->build_args);
  json_t *labels = docker_labels_json(&req->labels);
  cleanup_free char *a = json_dumps(args, JSON_COMPACT);
  cleanup_free char *l = json_dumps(labels, JSON_COMPACT);
  json_decref(args);
  json_decref(labels);
  /* no tag: the image is only its ID until the caller names it */
  cleanup_free char *qa = docker_esc(a), *ql = docker_esc(l), *qt = req->tag ? docker_esc(req->tag) : NULL,
                    *qd = docker_esc(req->dockerfile ? req->dockerfile : "Dockerfile");
  cleanup_free char *path =
    xasprintf("%s/build?%s%s%sdockerfile=%s&buildargs=%s&labels=%s&rm=1&forcerm=1&nocache=%d&pull=%d", d->prefix,
              qt ? "t=" : "", qt ? qt : "", qt ? "&" : "", qd, qa, ql, req->no_cache ? 1 : 0, req->pull ? 1 : 0);
  struct build_ctx b = { .cb = cb, .ud = ud };
  line_splitter_init(&b.ls, BUILD_LINE_LIMIT, build_line, &b);
  struct adr_http_resp r;
  int ret = adr_http_stream(&d->http, "POST", path, "application/x-tar", req->context_tar, req->context_len,
                            build_chunk, &b, &r, err);
  if (ret == 0)
    line_splitter_finish(&b.ls);
  line_splitter_free(&b.ls);
  if (b.failed) {
    adr_err_move(err, &b.err);
    ret = -1;
  } else if (ret == 0 && r.status >= 400) {
    ret = docker_api_error(&r, err);
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
