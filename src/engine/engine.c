/* What every engine shares: the registry (ADR_ENGINE), opening and
 * closing, and the object helpers of engine.h. */
#include "engine.h"

#include "fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void adr_image_free(struct adr_image *im)
{
  free(im->id);
  free(im->repository);
  free(im->tag);
  strv_free(&im->labels);
  strv_free(&im->layers);
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
  free(c->health);
  strv_free(&c->labels);
  memset(c, 0, sizeof(*c));
}

bool adr_container_listed(const struct adr_container *v, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    const char *cn = v[i].name && v[i].name[0] == '/' ? v[i].name + 1 : v[i].name;
    if (v[i].id && cn && streq(cn, name))
      return true;
  }
  return false;
}

void adr_containers_free(struct adr_container *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    adr_container_free(&v[i]);
  free(v);
}

void adr_egress_result_free(struct adr_egress_result *r)
{
  free(r->net.name);
  free(r->net.ipv4);
  free(r->addr);
  memset(r, 0, sizeof(*r));
}

const char *adr_labels_get(const struct strv *labels, const char *key)
{
  size_t kl = strlen(key);
  for (size_t i = 0; i < labels->n; i++)
    if (strncmp(labels->v[i], key, kl) == 0 && labels->v[i][kl] == '=')
      return labels->v[i] + kl + 1;
  return NULL;
}

/* ------------------------------------------------------------ registry */

/* The engines adr knows.  Podman serves the Docker Engine API: the same
 * adapter, found at Podman's sockets and reporting its own name. */
static const struct adr_engine_ops *const engines[] = { &adr_docker_ops, &adr_podman_ops, &adr_native_ops };
static const char *const engine_names[] = { "docker", "podman", "native", NULL };

const char *const *adr_engine_names(void) { return engine_names; }

static const struct adr_engine_ops *engine_ops(const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE(engines); i++)
    if (streq(engines[i]->name, name))
      return engines[i];
  return NULL;
}

static bool auto_native;

bool adr_engine_auto_native(void) { return auto_native; }

char *adr_native_root(void)
{
  const char *r = getenv("ADR_NATIVE_ROOT");
  if (r && *r)
    return xstrdup(r);
  const char *x = getenv("XDG_DATA_HOME");
  if (x && *x == '/')
    return xasprintf("%s/adr/native", x);
  cleanup_free char *home = adr_home_dir();
  return xasprintf("%s/.local/share/adr/native", home ? home : "/tmp");
}

/* A local socket that takes a connection (an engine listens there); any
 * other endpoint (tcp, ssh) is taken to answer: its errors say more. */
static bool endpoint_answers(const char *ep)
{
  if (!str_has_prefix(ep, "unix://"))
    return true;
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  if (strlen(ep + 7) >= sizeof(a.sun_path))
    return true;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", ep + 7);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return true;
  bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

static bool is_auto(const char *name) { return name == NULL || *name == '\0' || streq(name, "auto"); }

static int unknown_engine(const char *name, adr_err *err)
{
  cleanup_free char *shown = adr_str_escape(name, 60);
  return adr_err_set(err, EINVAL, "unknown engine '%s' in ADR_ENGINE (known: docker, podman, native, auto)", shown);
}

int adr_engine_locate(const char *name, const char **engine, char **endpoint, adr_err *err)
{
  *endpoint = NULL;
  bool podman = false;
  if (is_auto(name)) {
    *endpoint = adr_docker_endpoint(true, &podman, err);
    *engine = podman ? "podman" : "docker";
    /* none configured (no DOCKER_HOST, no docker context but the default)
     * and none answers at the default sockets: the native engine needs
     * none.  One that is configured and does not answer is an error. */
    const char *dh = getenv("DOCKER_HOST");
    bool defaults = !(dh && *dh) && (podman || streq(*endpoint ? *endpoint : "", "unix:///var/run/docker.sock"));
    if (*endpoint && defaults && !endpoint_answers(*endpoint)) {
      free(*endpoint);
      *endpoint = adr_native_root();
      *engine = "native";
      auto_native = true;
    }
  } else if (streq(name, "native")) {
    *endpoint = adr_native_root();
    *engine = "native";
  } else if (streq(name, "docker")) {
    *endpoint = adr_docker_endpoint(false, &podman, err);
    *engine = "docker";
  } else if (streq(name, "podman")) {
    *endpoint = adr_podman_endpoint(err);
    *engine = "podman";
  } else {
    return unknown_engine(name, err);
  }
  return *endpoint ? 0 : -1;
}

int adr_engine_open_as(struct adr_engine **out, const char *engine, const char *endpoint, adr_err *err)
{
  const struct adr_engine_ops *ops = engine_ops(engine);
  if (ops == NULL)
    return unknown_engine(engine, err);
  struct adr_engine *e = xcalloc(1, sizeof(*e));
  e->endpoint = xstrdup(endpoint);
  e->ops = ops;
  if (ops->open(e, err) < 0) {
    adr_engine_close(e);
    return -1;
  }
  *out = e;
  return 0;
}

/* $ADR_ENGINE, else the configured name. */
static const char *engine_wanted(const char *configured)
{
  const char *env = getenv("ADR_ENGINE");
  return env && *env ? env : configured;
}

int adr_engine_open_default(struct adr_engine **out, const char *configured, adr_err *err)
{
  const char *engine = NULL;
  cleanup_free char *endpoint = NULL;
  if (adr_engine_locate(engine_wanted(configured), &engine, &endpoint, err) < 0)
    return -1;
  return adr_engine_open_as(out, engine, endpoint, err);
}

char *adr_engine_endpoint(adr_err *err)
{
  const char *engine = NULL;
  char *endpoint = NULL;
  adr_engine_locate(engine_wanted(NULL), &engine, &endpoint, err);
  return endpoint;
}

int adr_engine_open(struct adr_engine **out, const char *endpoint, adr_err *err)
{
  const char *name = engine_wanted(NULL);
  if (is_auto(name))
    name = auto_native && !str_has_prefix(endpoint, "unix://") && !strstr(endpoint, "://") ? "native" : "docker";
  return adr_engine_open_as(out, name, endpoint, err);
}

int adr_engine_reopen(const struct adr_engine *e, struct adr_engine **out, adr_err *err)
{
  return adr_engine_open_as(out, e->ops->name, e->endpoint, err);
}

void adr_engine_close(struct adr_engine *e)
{
  if (e == NULL)
    return;
  if (e->ops && e->ops->close)
    e->ops->close(e);
  free(e->endpoint);
  free(e->api_version);
  strv_free(&e->warnings);
  free(e);
}

void adr_engine_take_warnings(struct adr_engine *e, struct strv *out)
{
  for (size_t i = 0; i < e->warnings.n; i++)
    strv_push(out, e->warnings.v[i]);
  strv_free(&e->warnings);
}

bool adr_host_routes(const char *subnet)
{
  struct in_addr a;
  cleanup_free char *s = xstrdup(subnet);
  char *sl = strchr(s, '/');
  int bits = sl ? (int)strtol(sl + 1, NULL, 10) : 32;
  if (sl)
    *sl = '\0';
  if (inet_pton(AF_INET, s, &a) != 1)
    return false;
  uint32_t net = ntohl(a.s_addr), mask = bits ? ~((1u << (32 - bits)) - 1) : 0;
  cleanup_file FILE *f = fopen("/proc/net/route", "re");
  if (!f)
    return false;
  char line[256];
  while (fgets(line, sizeof(line), f)) {
    char ifc[64];
    unsigned dst, gw, flags, refc, use, metric, msk;
    if (sscanf(line, "%63s %x %x %x %u %u %u %x", ifc, &dst, &gw, &flags, &refc, &use, &metric, &msk) != 8)
      continue;
    if (msk == 0)
      continue; /* the default route overlaps everything */
    uint32_t rd = ntohl(dst), rm = ntohl(msk);
    uint32_t m = mask & rm; /* the shorter of the two prefixes */
    if ((rd & m) == (net & m))
      return true;
  }
  return false;
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
