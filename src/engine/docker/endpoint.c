/* Where a Docker-compatible engine is: DOCKER_HOST, the current docker
 * context, the default socket; Podman's own sockets for podman. */
#include "docker.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#define DOCKER_SOCKET "/var/run/docker.sock"
#define PODMAN_ROOT_SOCKET "/run/podman/podman.sock"

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
    const char *host =
      json_string_value(json_object_get(json_object_get(json_object_get(j, "Endpoints"), "docker"), "Host"));
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

/* Podman's socket for this user ($XDG_RUNTIME_DIR/podman/podman.sock,
 * rootless) or root's, when one exists. */
static char *podman_socket(void)
{
  struct stat st;
  const char *rt = getenv("XDG_RUNTIME_DIR");
  if (rt && *rt) {
    cleanup_free char *p = xasprintf("%s/podman/podman.sock", rt);
    if (stat(p, &st) == 0)
      return xasprintf("unix://%s", p);
  }
  if (stat(PODMAN_ROOT_SOCKET, &st) == 0)
    return xstrdup("unix://" PODMAN_ROOT_SOCKET);
  return NULL;
}

char *adr_docker_endpoint(bool podman_fallback, bool *is_podman, adr_err *err)
{
  *is_podman = false;
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
  if (stat(DOCKER_SOCKET, &st) == 0 || !podman_fallback)
    return xstrdup("unix://" DOCKER_SOCKET);
  char *p = podman_socket();
  if (p) {
    *is_podman = true;
    return p;
  }
  return xstrdup("unix://" DOCKER_SOCKET); /* for the message that nothing answers there */
}

char *adr_podman_endpoint(adr_err *err)
{
  const char *h = getenv("CONTAINER_HOST"); /* podman's own DOCKER_HOST */
  if (h && *h)
    return xstrdup(h);
  char *p = podman_socket();
  if (p)
    return p;
  adr_err_set(err, ENOENT,
              "no Podman socket at $XDG_RUNTIME_DIR/podman/podman.sock or " PODMAN_ROOT_SOCKET
              " (start one: systemctl --user enable --now podman.socket), and CONTAINER_HOST is not set");
  return NULL;
}
