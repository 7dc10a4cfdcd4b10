#include "engine.h"
#include "buf.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>

void adr_image_free(struct adr_image *im)
{
  free(im->id);
  free(im->repository);
  free(im->tag);
  strv_free(&im->labels);
  memset(im, 0, sizeof(*im));
}

void adr_images_free(struct adr_image *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    adr_image_free(&v[i]);
  free(v);
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

void adr_container_free(struct adr_container *c)
{
  free(c->id);
  free(c->name);
  free(c->image);
  free(c->state);
  strv_free(&c->labels);
  memset(c, 0, sizeof(*c));
}

void adr_containers_free(struct adr_container *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    adr_container_free(&v[i]);
  free(v);
}

const char *adr_labels_get(const struct strv *labels, const char *key)
{
  size_t kl = strlen(key);
  for (size_t i = 0; i < labels->n; i++)
    if (strncmp(labels->v[i], key, kl) == 0 && labels->v[i][kl] == '=')
      return labels->v[i] + kl + 1;
  return NULL;
}

static json_t *load_json_file(const char *path)
{
  struct buf b;
  buf_init(&b, 4 << 20);
  json_t *j = NULL;
  if (buf_read_file(&b, path) == 0)
    j = json_loadb(b.data, b.len, 0, NULL);
  buf_free(&b);
  return j;
}

static char *docker_config_dir(void)
{
  const char *d = getenv("DOCKER_CONFIG");
  if (d && *d)
    return xstrdup(d);
  cleanup_free char *home = adr_home_dir();
  return xasprintf("%s/.docker", home);
}

static char *context_endpoint(const char *ctx, adr_err *err)
{
  cleanup_free char *cfg = docker_config_dir();
  cleanup_free char *metadir = xasprintf("%s/contexts/meta", cfg);
  DIR *d = opendir(metadir);
  if (d == NULL)
    goto notfound;
  struct dirent *de;
  char *found = NULL;
  while ((de = readdir(d)) != NULL && found == NULL) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *p = xasprintf("%s/%s/meta.json", metadir, de->d_name);
    json_t *j = load_json_file(p);
    if (!j)
      continue;
    const char *name = json_string_value(json_object_get(j, "Name"));
    const char *host = json_string_value(
      json_object_get(json_object_get(json_object_get(j, "Endpoints"), "docker"), "Host"));
    if (name && streq(name, ctx) && host)
      found = xstrdup(host);
    json_decref(j);
  }
  closedir(d);
  if (found)
    return found;
notfound:
  adr_err_set(err, ENOENT, "docker context '%s' not found (set DOCKER_HOST or run 'docker context use default')", ctx);
  return NULL;
}

char *adr_engine_endpoint(adr_err *err)
{
  const char *h = getenv("DOCKER_HOST");
  if (h && *h)
    return xstrdup(h);
  const char *ctx = getenv("DOCKER_CONTEXT");
  json_t *cfg = NULL;
  if (!(ctx && *ctx)) {
    cleanup_free char *dir = docker_config_dir();
    cleanup_free char *p = xasprintf("%s/config.json", dir);
    cfg = load_json_file(p);
    ctx = cfg ? json_string_value(json_object_get(cfg, "currentContext")) : NULL;
  }
  if (ctx && *ctx && !streq(ctx, "default")) {
    char *ep = context_endpoint(ctx, err);
    json_decref(cfg);
    return ep;
  }
  json_decref(cfg);
  struct stat st;
  if (stat("/var/run/docker.sock", &st) == 0)
    return xstrdup("unix:///var/run/docker.sock");
  const char *rt = getenv("XDG_RUNTIME_DIR");
  if (rt && *rt) {
    cleanup_free char *p = xasprintf("%s/podman/podman.sock", rt);
    if (stat(p, &st) == 0)
      return xasprintf("unix://%s", p);
  }
  if (stat("/run/podman/podman.sock", &st) == 0)
    return xstrdup("unix:///run/podman/podman.sock");
  return xstrdup("unix:///var/run/docker.sock");
}

int adr_engine_open(struct adr_engine **out, const char *endpoint, adr_err *err)
{
  struct adr_engine *e = xcalloc(1, sizeof(*e));
  e->endpoint = xstrdup(endpoint);
  e->ops = &adr_docker_ops;
  if (adr_docker_open(e, err) < 0) {
    adr_engine_close(e);
    return -1;
  }
  *out = e;
  return 0;
}

void adr_engine_close(struct adr_engine *e)
{
  if (e == NULL)
    return;
  if (e->ops && e->ops->close)
    e->ops->close(e);
  free(e->endpoint);
  free(e->api_version);
  free(e);
}

int adr_api_version_cmp(const char *a, const char *b)
{
  unsigned long a1 = 0, a2 = 0, b1 = 0, b2 = 0;
  sscanf(a, "%lu.%lu", &a1, &a2);
  sscanf(b, "%lu.%lu", &b1, &b2);
  if (a1 != b1)
    return a1 < b1 ? -1 : 1;
  if (a2 != b2)
    return a2 < b2 ? -1 : 1;
  return 0;
}

int adr_engine_unsupported(struct adr_engine *e, const char *what, adr_err *err)
{
  return adr_err_set(err, ENOTSUP, "%s: not supported by the %s engine", what, e->ops->name);
}
