/* The native engine (issue 17): adr's sandboxes without a daemon.  The
 * engine operations over the records of native.h, the sandbox of
 * sandbox.h and the supervisor of super.c; images from the store of
 * store.h, imported from a Docker engine when one answers. */
#include "builtin.h"
#include "buf.h"
#include "fs.h"
#include "gwproto.h"
#include "jsonv.h"
#include "native.h"
#include "proc.h"
#include "registry.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NAT(e) ((struct nat *)(e)->priv)
/* where an egress gateway serves the sandboxes that join its network */
#define NAT_GW_ADDR "127.0.0.1"

char *nat_box_dir(const struct nat *n, const char *id) { return xasprintf("%s/boxes/%s", n->root, id); }

static bool valid_name(const char *s)
{
  if (!s || !*s || strlen(s) > 128 || s[0] == '.')
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
          *p == '-'))
      return false;
  return true;
}

static char *read_small(const char *dir, const char *name)
{
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  struct buf b;
  buf_init(&b, 1 << 20);
  if (buf_read_file(&b, p) < 0) {
    buf_free(&b);
    return NULL;
  }
  return buf_steal(&b);
}

int nat_box_state(const char *dir, const char **state, pid_t *init, int *code)
{
  *state = "created";
  if (init)
    *init = 0;
  if (code)
    *code = 0;
  cleanup_free char *cfgp = xasprintf("%s/config.json", dir), *lockp = xasprintf("%s/lock", dir);
  if (access(cfgp, F_OK) < 0)
    return -1;
  cleanup_close int lfd = open(lockp, O_RDONLY | O_CLOEXEC);
  if (lfd < 0)
    return 0; /* never started */
  if (nat_lock_held(lfd)) {
    *state = "running";
    cleanup_free char *pid = read_small(dir, "init");
    if (init && pid)
      *init = (pid_t)strtol(pid, NULL, 10);
    return 0;
  }
  *state = "exited";
  cleanup_free char *st = read_small(dir, "status.json");
  json_t *j = st ? json_loads(st, 0, NULL) : NULL;
  if (code) /* no status: its supervisor was killed, and the sandbox with it */
    *code = j ? (int)json_integer_value(json_object_get(j, "exit_code")) : 137;
  json_decref(j);
  return 0;
}

/* A "PID STARTTIME" record the supervisor wrote (init, holder): true
 * with both when it is there and whole */
static bool pid_record(const char *dir, const char *name, pid_t *pid, unsigned long long *start)
{
  cleanup_free char *rec = read_small(dir, name);
  const char *sp = rec ? strchr(rec, ' ') : NULL;
  *pid = rec ? (pid_t)strtol(rec, NULL, 10) : 0;
  *start = sp ? strtoull(sp + 1, NULL, 10) : 0;
  return *pid > 0 && *start;
}

/* ref (a name or an ID) -> ID: 0, 1 when there is none */
static int resolve(const struct nat *n, const char *ref, char **id)
{
  *id = NULL;
  if (!valid_name(ref))
    return 1;
  cleanup_free char *link = xasprintf("%s/names/%s", n->root, ref);
  char target[128];
  ssize_t l = readlink(link, target, sizeof(target) - 1);
  if (l > 0) {
    target[l] = '\0';
    *id = xstrdup(target);
    return 0;
  }
  cleanup_free char *dir = nat_box_dir(n, ref), *cfg = xasprintf("%s/config.json", dir);
  if (access(cfg, F_OK) == 0) {
    *id = xstrdup(ref);
    return 0;
  }
  return 1;
}

/* the non-empty lines of DIR/NAME */
static void read_lines(const char *dir, const char *name, struct strv *out)
{
  cleanup_free char *t = read_small(dir, name);
  char *save = NULL;
  for (char *l = t ? strtok_r(t, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
    strv_push(out, l);
}

static json_t *load_cfg(const char *dir)
{
  cleanup_free char *t = read_small(dir, "config.json");
  return t ? json_loads(t, 0, NULL) : NULL;
}

static int save_cfg(const char *dir, json_t *cfg, adr_err *err)
{
  cleanup_free char *t = json_dumps(cfg, JSON_COMPACT), *p = xasprintf("%s/config.json", dir);
  if (!t || write_file_atomic(p, t, strlen(t), 0600) < 0)
    return adr_err_sys(err, errno, "write %s", p);
  return 0;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }
static long long jint(json_t *o, const char *k) { return json_integer_value(json_object_get(o, k)); }
static bool jbool(json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

static int nat_rmtree_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void)st;
  (void)f;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void rmtree(const char *dir) { nftw(dir, nat_rmtree_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* ------------------------------------------------------------ open */

static int nat_open(struct adr_engine *e, adr_err *err)
{
  struct nat *n = xcalloc(1, sizeof(*n));
  e->priv = n;
  n->root = xstrdup(e->endpoint);
  static const char *const sub[] = { "", "/boxes", "/names", "/cache" };
  for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
    cleanup_free char *d = xasprintf("%s%s", n->root, sub[i]);
    if (adr_mkdir_p(d, 0700, err) < 0)
      return adr_err_prefix(err, "native engine");
  }
  n->cache = xasprintf("%s/cache", n->root);
  cleanup_free char *store = xasprintf("%s/store", n->root);
  if (adr_nstore_open(&n->store, store, err) < 0)
    return adr_err_prefix(err, "native engine");
  e->api_version = xstrdup("1");
  return 0;
}

static void nat_close(struct adr_engine *e)
{
  struct nat *n = NAT(e);
  if (!n)
    return;
  adr_nstore_close(&n->store);
  free(n->root);
  free(n->cache);
  free(n);
  e->priv = NULL;
}

static int nat_ping(struct adr_engine *e, adr_err *err)
{
  cleanup_free char *boxes = xasprintf("%s/boxes", NAT(e)->root);
  if (access(boxes, W_OK) < 0)
    return adr_err_sys(err, errno, "native engine: %s", boxes);
  return 0;
}

static int nat_version(struct adr_engine *e, char **version, char **api, adr_err *err)
{
  (void)e;
  (void)err;
  *version = xstrdup("adr-native 1");
  if (api)
    *api = xstrdup("1");
  return 0;
}

/* ------------------------------------------------------------ images */

static struct adr_engine *docker_engine(void);
static int import_from(struct nat *n, struct adr_engine *d, const char *ref, adr_err *err);

/* The image by tag or ID; one a Docker engine has (when one answers) is
 * imported first.  0, 1 when there is none, -1 error. */
static int image_get(struct nat *n, const char *ref, struct adr_nimage *im, adr_err *err)
{
  int r = adr_nstore_image(&n->store, ref, im, err);
  if (r != 1)
    return r;
  adr_err ignored = NULL;
  struct adr_engine *d = docker_engine();
  if (!d || adr_engine_image_inspect(d, ref, NULL, &ignored) != 0) {
    adr_err_free(&ignored);
    adr_engine_close(d);
    /* a reference that names its registry: from there */
    cleanup_free char *h = NULL, *nm = NULL, *tg = NULL;
    if (adr_registry_parse_ref(ref, &h, &nm, &tg, &ignored) < 0) {
      adr_err_free(&ignored);
      return 1;
    }
    struct adr_engine pe = { .ops = &adr_native_ops, .priv = n };
    struct strv ids = { 0 };
    if (adr_native_pull(&pe, ref, &ids, err) < 0) {
      strv_free(&ids);
      return -1;
    }
    /* by its ID: a pull by digest names no tag */
    r = ids.n ? adr_nstore_image(&n->store, ids.v[0], im, err) : adr_nstore_image(&n->store, ref, im, err);
    strv_free(&ids);
    return r;
  }
  r = import_from(n, d, ref, err);
  adr_engine_close(d);
  return r < 0 ? -1 : adr_nstore_image(&n->store, ref, im, err);
}

int adr_native_import(struct adr_engine *e, int fd, struct strv *tags, adr_err *err)
{
  if (!streq(e->ops->name, "native"))
    return adr_err_set(err, ENOTSUP, "import: only the native engine's store imports archives");
  struct strv ids = { 0 };
  int r = adr_nstore_import(&NAT(e)->store, fd, &ids, err);
  for (size_t i = 0; r == 0 && tags && i < ids.n; i++)
    strv_push(tags, ids.v[i]);
  strv_free(&ids);
  return r;
}

int adr_native_pull(struct adr_engine *e, const char *ref, struct strv *ids, adr_err *err)
{
  if (!streq(e->ops->name, "native"))
    return adr_err_set(err, ENOTSUP, "pull: only the native engine pulls by itself");
  struct nat *n = NAT(e);
  cleanup_free char *tmp = xasprintf("%s/cache/pull-XXXXXX", n->root);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return adr_err_sys(err, errno, "pull %s", ref);
  unlink(tmp);
  int r = adr_registry_pull(ref, fd, err);
  if (r == 0 && lseek(fd, 0, SEEK_SET) != 0)
    r = adr_err_sys(err, errno, "pull %s", ref);
  if (r == 0 && adr_nstore_import(&n->store, fd, ids, err) < 0)
    r = adr_err_prefix(err, "pull %s", ref);
  close(fd);
  return r;
}

static void image_of(const struct adr_nimage *im, const char *ref, struct adr_image *out)
{
  memset(out, 0, sizeof(*out));
  out->id = xstrdup(im->id);
  const char *colon = ref ? strrchr(ref, ':') : NULL;
  if (ref && !str_has_prefix(ref, "sha256:")) {
    out->repository = colon && !strchr(colon, '/') ? xstrndup(ref, (size_t)(colon - ref)) : xstrdup(ref);
    out->tag = xstrdup(colon && !strchr(colon, '/') ? colon + 1 : "latest");
  }
  for (size_t i = 0; i < im->layers.n; i++)
    strv_push(&out->layers, im->layers.v[i]);
}

static int nat_image_inspect(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err)
{
  struct adr_nimage im = { 0 };
  int r = image_get(NAT(e), ref, &im, err);
  if (r == 0 && out)
    image_of(&im, ref, out);
  adr_nimage_free(&im);
  return r;
}

static int nat_image_list(struct adr_engine *e, const char *reference, struct adr_image **out, size_t *n, adr_err *err)
{
  struct nat *nt = NAT(e);
  *out = NULL;
  *n = 0;
  cleanup_strv struct strv tags = { 0 };
  if (adr_nstore_tags(&nt->store, &tags) < 0)
    return adr_err_sys(err, errno, "list %s/tags", nt->store.root);
  for (size_t i = 0; i < tags.n; i++) {
    if (reference && *reference && !str_has_prefix(tags.v[i], reference))
      continue;
    struct adr_nimage im = { 0 };
    if (adr_nstore_image(&nt->store, tags.v[i], &im, err) == 0) {
      *out = xrealloc(*out, (*n + 1) * sizeof(**out));
      image_of(&im, tags.v[i], &(*out)[(*n)++]);
    }
    adr_nimage_free(&im);
  }
  return 0;
}

/* A Docker or Podman engine that answers at the default places, or NULL */
static struct adr_engine *docker_engine(void)
{
  bool podman = false;
  adr_err ignored = NULL;
  cleanup_free char *ep = adr_docker_endpoint(false, &podman, &ignored);
  struct adr_engine *d = NULL;
  if (!ep || adr_engine_open_as(&d, "docker", ep, &ignored) < 0 || adr_engine_ping(d, &ignored) < 0) {
    adr_engine_close(d);
    d = NULL;
  }
  adr_err_free(&ignored);
  return d;
}

/* ref from Docker engine d into the store (an image of that tag there is
 * replaced) */
static int import_from(struct nat *n, struct adr_engine *d, const char *ref, adr_err *err)
{
  cleanup_free char *tmp = xasprintf("%s/cache/import-XXXXXX", n->root);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return adr_err_sys(err, errno, "import %s", ref);
  unlink(tmp);
  int r = adr_engine_image_save(d, ref, fd, err);
  if (r < 0 || lseek(fd, 0, SEEK_SET) != 0 || adr_nstore_import(&n->store, fd, NULL, err) < 0) {
    close(fd);
    return adr_err_prefix(err, "import %s from the Docker engine", ref);
  }
  close(fd);
  return 0;
}

/* The native engine builds nothing itself: a Docker or Podman engine that
 * answers builds, and the image comes into the store at once (a rebuilt
 * tag replaces the one there).  Without one: what to do instead. */
static int nat_image_build(struct adr_engine *e, const struct adr_build_req *req, adr_build_cb cb, void *ud,
                           char **image_id, adr_err *err)
{
  struct adr_engine *d = docker_engine();
  if (!d)
    return adr_err_set(err, ENOTSUP,
                       "the native engine builds no image, and no Docker or Podman engine answers to build it: "
                       "build it where one does (adr build), then docker save it there and adr image import it "
                       "here, or push it to a registry and adr image pull it");
  int r = adr_engine_image_build(d, req, cb, ud, image_id, err);
  if (r == 0)
    r = import_from(NAT(e), d, req->tag, err);
  adr_engine_close(d);
  return r;
}

/* ------------------------------------------------------------ create */

static int parse_ids(const char *user, const char *fallback, long *uid, long *gid, adr_err *err)
{
  const char *u = user && *user ? user : fallback && *fallback ? fallback : "0:0";
  char *end;
  errno = 0;
  *uid = strtol(u, &end, 10);
  *gid = *uid;
  if (end == u || errno)
    goto bad;
  if (*end == ':') {
    const char *g = end + 1;
    *gid = strtol(g, &end, 10);
    if (end == g || errno)
      goto bad;
  }
  if (*end || *uid < 0 || *gid < 0 || *uid > 0xfffffffe || *gid > 0xfffffffe)
    goto bad;
  return 0;
bad:
  return adr_err_set(err, ENOTSUP, "user '%s': the native engine takes numeric uid:gid only", u);
}

static const char *net_name(enum adr_spec_net_kind k)
{
  switch (k) {
  case ADR_SPEC_NET_OUTBOUND: return "outbound";
  case ADR_SPEC_NET_JOIN: return "join";
  case ADR_SPEC_NET_ATTACH: return "attach";
  default: return "none";
  }
}

/* what the native engine cannot give a spec is refused, never dropped */
static int refuse_unsupported(const struct adr_spec *s, adr_err *err)
{
  /* join: an egress gateway's network (egress_up), the only way out */
  if (s->net.kind != ADR_SPEC_NET_NONE && s->net.kind != ADR_SPEC_NET_JOIN)
    return adr_err_set(err, ENOTSUP,
                       "sandbox '%s': the native engine has no network '%s' (none, or an egress gateway's)", s->name,
                       net_name(s->net.kind));
  if (s->gpus.count || s->gpus.device_ids.n)
    return adr_err_set(err, ENOTSUP, "sandbox '%s': the native engine hands no GPU to a sandbox", s->name);
  if (s->cap_add.n)
    return adr_err_set(err, ENOTSUP, "sandbox '%s': the native engine keeps no capability (%s)", s->name,
                       s->cap_add.v[0]);
  if (s->sysctls.n)
    return adr_err_set(err, ENOTSUP, "sandbox '%s': the native engine sets no sysctl (%s)", s->name, s->sysctls.v[0]);
  return 0;
}

/* env: the image's, then the spec's over it */
static json_t *merged_env(const struct adr_nimage *im, const struct strv *env)
{
  struct strv out = { 0 };
  for (size_t i = 0; i < im->env.n; i++) {
    size_t kl = strcspn(im->env.v[i], "=");
    bool over = false;
    for (size_t k = 0; k < env->n && !over; k++)
      over = strncmp(env->v[k], im->env.v[i], kl) == 0 && env->v[k][kl] == '=';
    if (!over)
      strv_push(&out, im->env.v[i]);
  }
  for (size_t i = 0; i < env->n; i++)
    strv_push(&out, env->v[i]);
  json_t *a = adr_json_strv(&out);
  strv_free(&out);
  return a;
}

/* The record of s; extra: keys of the engine's own over the spec's (an
 * egress gateway's network; the caller's). */
static int create_record(struct adr_engine *e, const struct adr_spec *s, json_t *extra, char **id, adr_err *err)
{
  struct nat *n = NAT(e);
  *id = NULL;
  if (s->net.kind == ADR_SPEC_NET_JOIN) {
    cleanup_free char *gid = NULL;
    if (!s->net.name || resolve(n, s->net.name, &gid) != 0)
      return adr_err_set(err, ENOENT, "sandbox '%s': no sandbox '%s' whose network it could join", s->name,
                         s->net.name ? s->net.name : "");
  }
  struct adr_nimage im = { 0 };
  int r = image_get(n, s->image, &im, err);
  if (r != 0) {
    adr_nimage_free(&im);
    return r < 0 ? -1
                 : adr_err_set(err, ENOENT, "no such image '%s' (in the native store or a Docker engine)", s->image);
  }
  long uid, gid;
  if (parse_ids(s->user, im.user, &uid, &gid, err) < 0) {
    adr_nimage_free(&im);
    return -1;
  }
  const struct strv *ep = s->entrypoint.n ? &s->entrypoint : &im.entrypoint;
  const struct strv *cmd = s->cmd.n ? &s->cmd : s->entrypoint.n ? NULL : &im.cmd;
  json_t *argv = adr_json_strv(ep);
  for (size_t i = 0; cmd && i < cmd->n; i++)
    json_array_append_new(argv, json_string(cmd->v[i]));
  if (!json_array_size(argv)) {
    json_decref(argv);
    adr_nimage_free(&im);
    return adr_err_set(err, EINVAL, "sandbox '%s': no program to run (the spec and image '%s' name none)", s->name,
                       s->image);
  }
  unsigned char rnd[12];
  if (getentropy(rnd, sizeof(rnd)) < 0) {
    json_decref(argv);
    adr_nimage_free(&im);
    return adr_err_sys(err, errno, "getentropy");
  }
  char hex[25];
  for (size_t i = 0; i < sizeof(rnd); i++)
    snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
  json_t *layers = json_array();
  for (size_t i = 0; i < im.layers.n; i++) {
    cleanup_free char *d = adr_nstore_layer_dir(&n->store, im.layers.v[i]);
    json_array_append_new(layers, json_string(d));
  }
  json_t *binds = json_array(), *tmpfs = json_array();
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct adr_spec_mount *m = &s->mounts[i];
    if (m->type == ADR_MOUNT_BIND)
      json_array_append_new(binds, json_pack("{s:s, s:s, s:b}", "src", m->source, "dst", m->target, "ro", m->readonly));
    else
      json_array_append_new(
        tmpfs, json_pack("{s:s, s:I, s:i}", "path", m->target, "size", (json_int_t)m->size, "mode", (int)m->mode));
  }
  const char *wd = s->workdir && *s->workdir ? s->workdir : im.workdir && *im.workdir ? im.workdir : "/";
  json_t *cfg = json_pack(
    "{s:s, s:s, s:s, s:I, s:o, s:o, s:I, s:I, s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:o, s:o, "
    "s:I, s:I, s:I, s:b, s:b, s:b, s:b, s:b}",
    "id", hex, "name", s->name, "image", s->image, "created", (json_int_t)time(NULL), "argv", argv, "env",
    merged_env(&im, &s->env), "uid", (json_int_t)uid, "gid", (json_int_t)gid, "workdir", wd, "hostname",
    s->hostname && *s->hostname ? s->hostname : s->name, "tty", s->tty, "interactive", s->interactive, "detachable",
    s->detachable, "labels", adr_json_strv(&s->labels), "layers", layers, "binds", binds, "tmpfs", tmpfs, "memory",
    (json_int_t)s->memory, "pids", (json_int_t)s->pids, "nano_cpus", (json_int_t)s->nano_cpus, "keep_caps",
    !s->drop_all_caps, "no_nnp", !s->no_new_privileges, "rw_root", !s->read_only_root, "host_cgroupns",
    !s->cgroupns_private, "seccomp", s->seccomp != ADR_SECCOMP_NONE);
  adr_nimage_free(&im);
  if (s->net.kind == ADR_SPEC_NET_JOIN)
    json_object_set_new(cfg, "join", json_string(s->net.name));
  if (s->dns.n)
    json_object_set_new(cfg, "dns", adr_json_strv(&s->dns));
  if (extra)
    json_object_update(cfg, extra);
  cleanup_free char *dir = nat_box_dir(n, hex), *link = xasprintf("%s/names/%s", n->root, s->name);
  if (mkdir(dir, 0700) < 0) {
    json_decref(cfg);
    return adr_err_sys(err, errno, "create %s", dir);
  }
  cleanup_free char *run = xasprintf("%s/run", dir);
  mkdir(run, 0700);
  const char *policy = NULL;
  if (s->seccomp == ADR_SECCOMP_ADR) {
    policy = s->seccomp_profile;
  } else if (s->seccomp == ADR_SECCOMP_ENGINE) {
    /* the native engine's own default is adr's policy */
    const struct adr_builtin_file *f = adr_builtin_find("seccomp.json");
    policy = f ? (const char *)f->data : NULL;
  }
  cleanup_free char *sp = xasprintf("%s/seccomp.json", dir);
  if ((s->seccomp != ADR_SECCOMP_NONE && (!policy || write_file_atomic(sp, policy, strlen(policy), 0600) < 0)) ||
      save_cfg(dir, cfg, err) < 0) {
    json_decref(cfg);
    rmtree(dir);
    return adr_err_set(err, EIO, "create sandbox '%s': its record", s->name);
  }
  json_decref(cfg);
  if (symlink(hex, link) < 0) {
    int saved = errno;
    rmtree(dir);
    return saved == EEXIST ? adr_err_set(err, EEXIST, "create sandbox '%s': name in use", s->name)
                           : adr_err_sys(err, saved, "create sandbox '%s'", s->name);
  }
  *id = xstrdup(hex);
  return 0;
}

static int nat_container_create(struct adr_engine *e, const struct adr_spec *s, char **id, adr_err *err)
{
  *id = NULL;
  if (adr_spec_check(s, err) < 0)
    return -1;
  if (!valid_name(s->name))
    return adr_err_set(err, EINVAL, "sandbox name '%s' is not valid", s->name ? s->name : "");
  if (refuse_unsupported(s, err) < 0)
    return -1;
  return create_record(e, s, NULL, id, err);
}

/* ------------------------------------------------------------ lifecycle */

/* The record of ref: its ID and directory; ENOENT when there is none. */
static int find(struct adr_engine *e, const char *ref, char **id, char **dir, adr_err *err)
{
  if (resolve(NAT(e), ref, id) != 0)
    return adr_err_set(err, ENOENT, "no such sandbox '%s'", ref);
  *dir = nat_box_dir(NAT(e), *id);
  return 0;
}

/* the box to run, from its record; strings point into cfg and *keep */
struct built {
  struct adr_native_box b;
  struct strv layers, argv, env, tmpfs_paths;
  struct adr_native_bind *binds;
  struct adr_native_tmpfs *tmpfs;
  char *run, *seccomp, *name, *resolv;
};

static void built_free(struct built *x)
{
  strv_free(&x->layers);
  strv_free(&x->argv);
  strv_free(&x->env);
  free(x->binds);
  free(x->tmpfs);
  free(x->run);
  free(x->seccomp);
  free(x->name);
  free(x->resolv);
}

static void build_box(struct nat *n, const char *dir, json_t *cfg, struct built *x)
{
  memset(x, 0, sizeof(*x));
  adr_strv_json(json_object_get(cfg, "layers"), &x->layers);
  adr_strv_json(json_object_get(cfg, "argv"), &x->argv);
  adr_strv_json(json_object_get(cfg, "env"), &x->env);
  json_t *bs = json_object_get(cfg, "binds"), *ts = json_object_get(cfg, "tmpfs"), *m;
  size_t i;
  x->binds = xcalloc(json_array_size(bs) + 1, sizeof(*x->binds));
  json_array_foreach (bs, i, m)
    x->binds[i] = (struct adr_native_bind){ .src = jstr(m, "src"), .dst = jstr(m, "dst"), .ro = jbool(m, "ro") };
  x->tmpfs = xcalloc(json_array_size(ts) + 1, sizeof(*x->tmpfs));
  json_array_foreach (ts, i, m)
    x->tmpfs[i] = (struct adr_native_tmpfs){ .path = jstr(m, "path"),
                                             .size = (uint64_t)jint(m, "size"),
                                             .mode = (unsigned)jint(m, "mode") };
  x->run = xasprintf("%s/run", dir);
  x->seccomp = jbool(cfg, "seccomp") ? read_small(dir, "seccomp.json") : NULL;
  x->name = xstrdup(jstr(cfg, "id"));
  x->b = (struct adr_native_box){
    .layers = &x->layers,
    .argv = &x->argv,
    .env = &x->env,
    .workdir = jstr(cfg, "workdir"),
    .uid = (uid_t)jint(cfg, "uid"),
    .gid = (gid_t)jint(cfg, "gid"),
    .hostname = jstr(cfg, "hostname"),
    .seccomp = x->seccomp,
    .binds = x->binds,
    .n_binds = json_array_size(bs),
    .tmpfs_at = x->tmpfs,
    .n_tmpfs_at = json_array_size(ts),
    .run_dir = x->run,
    .cache_dir = n->cache,
    .name = x->name,
    .limits = { .memory = jint(cfg, "memory"), .pids = jint(cfg, "pids"), .nano_cpus = jint(cfg, "nano_cpus") },
    .tty = jbool(cfg, "tty"),
    .keep_caps = jbool(cfg, "keep_caps"),
    .no_nnp = jbool(cfg, "no_nnp"),
    .rw_root = jbool(cfg, "rw_root"),
    .host_cgroupns = jbool(cfg, "host_cgroupns")
  };
}

/* The box's network from its record: its own namespace (loopback only),
 * the host's (an egress gateway's: "host_net", with the host's
 * "resolv.conf"), or the namespace of the egress gateway it joins ("join":
 * that sandbox's network holder, which must be running); "dns": its
 * resolvers. */
static int box_network(struct nat *n, json_t *cfg, struct built *x, adr_err *err)
{
  x->b.host_net = jbool(cfg, "host_net");
  const char *resolv = jstr(cfg, "resolv");
  json_t *dns = json_object_get(cfg, "dns");
  if (resolv) {
    x->resolv = xstrdup(resolv);
  } else if (json_array_size(dns)) {
    struct buf b;
    buf_init(&b, 0);
    size_t i;
    json_t *d;
    json_array_foreach (dns, i, d)
      if (json_string_value(d))
        buf_printf(&b, "nameserver %s\n", json_string_value(d));
    x->resolv = buf_steal(&b);
  }
  x->b.resolv = x->resolv;
  const char *join = jstr(cfg, "join");
  if (!join)
    return 0;
  cleanup_free char *gid = NULL;
  if (resolve(n, join, &gid) != 0)
    return adr_err_set(err, ENOENT, "the network of '%s' it joins: no such sandbox", join);
  cleanup_free char *gdir = nat_box_dir(n, gid);
  const char *state;
  nat_box_state(gdir, &state, NULL, NULL);
  bool held = pid_record(gdir, "holder", &x->b.join_pid, &x->b.join_start);
  if (!streq(state, "running") || !held)
    return adr_err_set(err, ESRCH, "the network of '%s' it joins: that sandbox is not running", join);
  /* the resolver of that namespace (its gateway's, or slirp4netns's) */
  json_t *gcfg = load_cfg(gdir);
  const char *jr = gcfg ? jstr(gcfg, "join_resolv") : NULL;
  if (!x->resolv && jr) {
    x->resolv = xstrdup(jr);
    x->b.resolv = x->resolv;
  }
  json_decref(gcfg);
  return 0;
}

static int nat_container_start(struct adr_engine *e, const char *ref, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  const char *state;
  nat_box_state(dir, &state, NULL, NULL);
  if (streq(state, "running"))
    return 0;
  json_t *cfg = load_cfg(dir);
  if (!cfg)
    return adr_err_set(err, EIO, "start sandbox '%s': its record is unreadable", ref);
  struct built x;
  build_box(NAT(e), dir, cfg, &x);
  struct strv want = { 0 }, blackholes = { 0 };
  struct nat_net nl = {
    .want = &want, .arg = jstr(cfg, "listen_arg"), .blackholes = &blackholes, .outbound = jbool(cfg, "outbound")
  };
  adr_strv_json(json_object_get(cfg, "listen"), &want);
  adr_strv_json(json_object_get(cfg, "blackholes"), &blackholes);
  int r = box_network(NAT(e), cfg, &x, err);
  if (r == 0)
    r = nat_super_spawn(dir, &x.b, jbool(cfg, "holder") ? &nl : NULL, jbool(cfg, "interactive"),
                        jbool(cfg, "detachable"), err);
  if (r == 0) { /* its supervisor's warnings, for the caller to show */
    cleanup_strv struct strv w = { 0 };
    read_lines(dir, "warnings", &w);
    for (size_t i = 0; i < w.n; i++)
      strv_pushf(&e->warnings, "sandbox '%s': %s", jstr(cfg, "name") ? jstr(cfg, "name") : id, w.v[i]);
  }
  strv_free(&want);
  strv_free(&blackholes);
  built_free(&x);
  json_decref(cfg);
  return r < 0 ? adr_err_prefix(err, "start sandbox '%s'", ref) : 0;
}

static int nat_container_attach(struct adr_engine *e, const char *ref, const struct adr_attach *a, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  const char *state;
  nat_box_state(dir, &state, NULL, NULL);
  /* a running sandbox is seen from now on; one that is not (started by
   * a->on_ready) from where its log ends, its earlier runs' output left out */
  struct stat st;
  cleanup_free char *log = xasprintf("%s/log", dir);
  int64_t end = stat(log, &st) == 0 ? (int64_t)st.st_size : 0;
  return nat_attach(dir, streq(state, "running") ? -1 : end, a, err);
}

static int nat_container_wait(struct adr_engine *e, const char *ref, int *exit_code, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  cleanup_free char *lockp = xasprintf("%s/lock", dir);
  cleanup_close int lfd = open(lockp, O_RDONLY | O_CLOEXEC);
  if (lfd < 0)
    return adr_err_set(err, EINVAL, "wait for sandbox '%s': it was never started", ref);
  if (nat_lock_wait(lfd) < 0)
    return adr_err_sys(err, errno, "wait for sandbox '%s'", ref);
  const char *state;
  nat_box_state(dir, &state, NULL, exit_code);
  return 0;
}

/* The record of a running sandbox, and the host's pid of its pid 1. */
static int find_running(struct adr_engine *e, const char *ref, char **id, char **dir, pid_t *init, adr_err *err)
{
  if (find(e, ref, id, dir, err) < 0)
    return -1;
  const char *state;
  *init = 0;
  nat_box_state(*dir, &state, init, NULL);
  if (!streq(state, "running") || *init <= 0)
    return adr_err_set(err, EINVAL, "sandbox '%s' is not running", ref);
  return 0;
}

static int nat_container_kill(struct adr_engine *e, const char *ref, int sig, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  pid_t init;
  if (find_running(e, ref, &id, &dir, &init, err) < 0)
    return -1;
  /* a pidfd, then the start time the supervisor recorded: the process
   * the pidfd holds is its pid 1, not one that took the pid since */
  pid_t recorded;
  unsigned long long born;
  if (!pid_record(dir, "init", &recorded, &born) || recorded != init)
    born = 0;
  int pfd = (int)syscall(SYS_pidfd_open, init, 0);
  if (pfd < 0 || !born || adr_proc_start_time(init) != born) {
    if (pfd >= 0)
      close(pfd);
    return 0; /* it ended meanwhile */
  }
  int r = (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0);
  int saved = errno;
  close(pfd);
  return r < 0 && saved != ESRCH ? adr_err_sys(err, saved, "signal sandbox '%s'", ref) : 0;
}

/* ended within ms: true */
static bool ended_within(const char *dir, int ms)
{
  for (int t = 0;; t += 20) {
    const char *state;
    nat_box_state(dir, &state, NULL, NULL);
    if (!streq(state, "running"))
      return true;
    if (t >= ms)
      return false;
    struct timespec ts = { 0, 20 * 1000000 };
    nanosleep(&ts, NULL);
  }
}

static int nat_container_stop(struct adr_engine *e, const char *ref, int timeout_s, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  if (ended_within(dir, 0))
    return 0;
  adr_err ignored = NULL;
  nat_container_kill(e, id, SIGTERM, &ignored);
  adr_err_free(&ignored);
  if (ended_within(dir, timeout_s * 1000))
    return 0;
  if (nat_container_kill(e, id, SIGKILL, err) < 0)
    return -1;
  int code;
  return nat_container_wait(e, id, &code, err);
}

static int nat_container_remove(struct adr_engine *e, const char *ref, bool force, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  const char *state;
  nat_box_state(dir, &state, NULL, NULL);
  if (streq(state, "running")) {
    if (!force)
      return adr_err_set(err, EBUSY, "remove sandbox '%s': it is running", ref);
    if (nat_container_kill(e, id, SIGKILL, err) < 0)
      return -1;
    int code;
    if (nat_container_wait(e, id, &code, err) < 0)
      return -1;
  }
  json_t *cfg = load_cfg(dir);
  const char *name = cfg ? jstr(cfg, "name") : NULL;
  if (name) {
    cleanup_free char *link = xasprintf("%s/names/%s", NAT(e)->root, name);
    char t[128];
    ssize_t l = readlink(link, t, sizeof(t) - 1);
    if (l > 0 && (size_t)l == strlen(id) && memcmp(t, id, (size_t)l) == 0)
      unlink(link);
  }
  json_decref(cfg);
  /* a supervisor killed with -9 left its cgroups */
  cleanup_strv struct strv cgroups = { 0 };
  read_lines(dir, "cgroups", &cgroups);
  for (size_t i = 0; i < cgroups.n; i++)
    adr_ncgroup_rmdir(cgroups.v[i]); /* its processes may still be exiting */
  rmtree(dir);
  return 0;
}

/* Held while a record's config is read, changed and written again
 * (rename, state_set): two changes at once would lose one.  -1: not
 * taken (the change goes on unserialised rather than failing). */
static int cfg_lock(const char *dir)
{
  cleanup_free char *p = xasprintf("%s/config.lock", dir);
  int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  while (flock(fd, LOCK_EX) < 0)
    if (errno != EINTR) {
      close(fd);
      return -1;
    }
  return fd;
}

static int nat_container_rename(struct adr_engine *e, const char *ref, const char *name, adr_err *err)
{
  struct nat *n = NAT(e);
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  if (!valid_name(name))
    return adr_err_set(err, EINVAL, "sandbox name '%s' is not valid", name);
  cleanup_close int lk = cfg_lock(dir);
  json_t *cfg = load_cfg(dir);
  if (!cfg)
    return adr_err_set(err, EIO, "rename sandbox '%s': its record is unreadable", ref);
  cleanup_free char *old = xstrdup(jstr(cfg, "name") ? jstr(cfg, "name") : ""),
                    *nl = xasprintf("%s/names/%s", n->root, name), *ol = xasprintf("%s/names/%s", n->root, old);
  if (symlink(id, nl) < 0) {
    json_decref(cfg);
    return errno == EEXIST ? adr_err_set(err, EEXIST, "rename sandbox '%s' to '%s': name in use", ref, name)
                           : adr_err_sys(err, errno, "rename sandbox '%s'", ref);
  }
  json_object_set_new(cfg, "name", json_string(name));
  int r = save_cfg(dir, cfg, err);
  json_decref(cfg);
  if (r < 0) {
    unlink(nl);
    return -1;
  }
  unlink(ol);
  return 0;
}

static void container_of(json_t *cfg, const char *dir, struct adr_container *out)
{
  memset(out, 0, sizeof(*out));
  const char *state;
  int code = 0;
  nat_box_state(dir, &state, NULL, &code);
  out->id = xstrdup(jstr(cfg, "id"));
  out->name = xstrdup(jstr(cfg, "name"));
  out->image = xstrdup(jstr(cfg, "image") ? jstr(cfg, "image") : "");
  out->state = xstrdup(state);
  out->created = (time_t)jint(cfg, "created");
  out->exit_code = code;
  adr_strv_json(json_object_get(cfg, "labels"), &out->labels);
}

static int nat_container_inspect(struct adr_engine *e, const char *ref, struct adr_container *out, adr_err *err)
{
  (void)err;
  cleanup_free char *id = NULL;
  if (resolve(NAT(e), ref, &id) != 0)
    return 1;
  cleanup_free char *dir = nat_box_dir(NAT(e), id);
  json_t *cfg = load_cfg(dir);
  if (!cfg)
    return 1;
  if (out)
    container_of(cfg, dir, out);
  json_decref(cfg);
  return 0;
}

static bool labels_match(const struct strv *labels, const struct strv *filters)
{
  for (size_t i = 0; filters && i < filters->n; i++) {
    const char *f = filters->v[i], *eq = strchr(f, '=');
    cleanup_free char *key = eq ? xstrndup(f, (size_t)(eq - f)) : xstrdup(f);
    const char *v = adr_labels_get(labels, key);
    if (!v || (eq && !streq(v, eq + 1)))
      return false;
  }
  return true;
}

static int nat_container_list(struct adr_engine *e, const struct strv *filters, bool all, struct adr_container **out,
                              size_t *n, adr_err *err)
{
  (void)err;
  *out = NULL;
  *n = 0;
  cleanup_free char *boxes = xasprintf("%s/boxes", NAT(e)->root);
  DIR *d = opendir(boxes);
  if (!d)
    return 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *dir = nat_box_dir(NAT(e), de->d_name);
    json_t *cfg = load_cfg(dir);
    if (!cfg)
      continue;
    struct adr_container c;
    container_of(cfg, dir, &c);
    json_decref(cfg);
    if ((all || streq(c.state, "running")) && labels_match(&c.labels, filters)) {
      *out = xrealloc(*out, (*n + 1) * sizeof(**out));
      (*out)[(*n)++] = c;
    } else {
      adr_container_free(&c);
    }
  }
  closedir(d);
  return 0;
}

static int nat_container_resize(struct adr_engine *e, const char *ref, unsigned rows, unsigned cols, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  return nat_resize(dir, rows, cols, err);
}

static int nat_container_logs(struct adr_engine *e, const char *ref, bool follow, int out_fd, int err_fd, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, ref, &id, &dir, err) < 0)
    return -1;
  json_t *cfg = load_cfg(dir);
  bool tty = cfg && jbool(cfg, "tty");
  json_decref(cfg);
  if (!follow)
    return nat_log_copy(dir, 0, out_fd, err_fd, tty, NULL, err);
  struct adr_attach a = { .in_fd = -1, .out_fd = out_fd, .err_fd = err_fd, .tty = tty, .wake_fd = -1 };
  return nat_attach(dir, 0, &a, err);
}

/* ------------------------------------------------------------ exec */

/* the exec'd program's streams through pipes (or a terminal): a host
 * descriptor of the caller's (a terminal) never enters the sandbox */
static int exec_pump(int out, int errp, int *inp, const struct adr_attach *a)
{
  int in = *inp;
  int in_fd = a->in_fd;
  char b[65536];
  while (out >= 0 || errp >= 0) {
    struct pollfd p[4];
    int np = 0, i_o = -1, i_e = -1, i_i = -1, i_w = -1;
    if (out >= 0) {
      i_o = np;
      p[np++] = (struct pollfd){ .fd = out, .events = POLLIN };
    }
    if (errp >= 0) {
      i_e = np;
      p[np++] = (struct pollfd){ .fd = errp, .events = POLLIN };
    }
    if (in_fd >= 0 && in >= 0) {
      i_i = np;
      p[np++] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
    }
    if (a->wake_fd >= 0) {
      i_w = np;
      p[np++] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
    }
    if (poll(p, (nfds_t)np, -1) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    if (i_w >= 0 && (p[i_w].revents & POLLIN) && a->on_wake && a->on_wake(a->ud) < 0) {
      if (out >= 0) /* the caller stops here: what the pump holds goes */
        close(out);
      if (errp >= 0)
        close(errp);
      return 0;
    }
    int *fds[2] = { &out, &errp };
    int idx[2] = { i_o, i_e }, to[2] = { a->out_fd, a->err_fd };
    for (int k = 0; k < 2; k++) {
      if (idx[k] < 0 || !p[idx[k]].revents)
        continue;
      ssize_t r = read(*fds[k], b, sizeof(b));
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0) {
        close(*fds[k]);
        *fds[k] = -1;
      } else if (to[k] >= 0) {
        nat_write_all(to[k], b, (size_t)r);
      }
    }
    if (i_i >= 0 && p[i_i].revents) {
      ssize_t r = read(in_fd, b, sizeof(b));
      /* blocking on the program's stdin while it blocks on its output would
       * stall both: a write that cannot go on within 5 s ends stdin */
      if (r <= 0 || nat_write_all(in, b, (size_t)r) < 0) {
        in_fd = -1;
        if (!a->tty) { /* the program's stdin ends with ours (a terminal's stays: it is the output too) */
          close(in);
          *inp = in = -1;
        }
      }
    }
  }
  if (in >= 0 && !a->tty) {
    close(in);
    *inp = -1;
  }
  return 0;
}

static int nat_container_exec(struct adr_engine *e, const char *ref, const struct strv *cmd, const struct adr_attach *a,
                              int *exit_code, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  pid_t init;
  if (find_running(e, ref, &id, &dir, &init, err) < 0)
    return adr_err_prefix(err, "exec");
  json_t *cfg = load_cfg(dir);
  if (!cfg)
    return adr_err_set(err, EIO, "exec in sandbox '%s': its record is unreadable", ref);
  /* as the sandbox's own program runs: the same box */
  struct built bx; /* its strings point into cfg */
  build_box(NAT(e), dir, cfg, &bx);
  struct strv cgroups = { 0 }, writable = { 0 };
  read_lines(dir, "cgroups", &cgroups);
  adr_native_writable(&bx.b, &writable);
  /* its streams: a terminal, or pipes */
  int stdio[3] = { -1, -1, -1 }, mine[3] = { -1, -1, -1 };
  int ret = 0;
  if (a->tty) {
    int m, s;
    if (openpty(&m, &s, NULL, NULL, NULL) < 0) {
      ret = adr_err_sys(err, errno, "exec: a terminal");
      goto out;
    }
    fcntl(m, F_SETFD, FD_CLOEXEC);
    fcntl(s, F_SETFD, FD_CLOEXEC);
    stdio[0] = s;
    mine[0] = m;
    if ((mine[1] = fcntl(m, F_DUPFD_CLOEXEC, 3)) < 0) {
      ret = adr_err_sys(err, errno, "exec: a terminal");
      goto out;
    }
  } else {
    int o[2] = { -1, -1 }, er[2] = { -1, -1 }, in[2] = { -1, -1 };
    bool ok = pipe2(o, O_CLOEXEC) == 0 && pipe2(er, O_CLOEXEC) == 0 &&
              (a->in_fd >= 0 ? pipe2(in, O_CLOEXEC) == 0 : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
    int saved = errno;
    stdio[0] = in[0];
    stdio[1] = o[1];
    stdio[2] = er[1];
    mine[0] = in[1];
    mine[1] = o[0];
    mine[2] = er[0];
    if (!ok) {
      ret = adr_err_sys(err, saved, "exec: pipes");
      goto out;
    }
  }
  struct adr_native_exec x = { .init = init,
                               .argv = cmd,
                               .env = bx.b.env,
                               .workdir = bx.b.workdir,
                               .uid = bx.b.uid,
                               .gid = bx.b.gid,
                               .seccomp = bx.b.seccomp,
                               .cache_dir = bx.b.cache_dir,
                               .cgroup_dirs = &cgroups,
                               .stdio = a->tty ? (int[]){ stdio[0], stdio[0], stdio[0] } : stdio,
                               .tty = a->tty,
                               .keep_caps = bx.b.keep_caps,
                               .no_nnp = bx.b.no_nnp,
                               .rw_root = bx.b.rw_root,
                               .writable = &writable };
  pid_t pid;
  ret = adr_native_exec_start(&x, &pid, err);
  for (int i = 0; i < 3; i++) /* the program's ends: its own now */
    if (stdio[i] >= 0) {
      close(stdio[i]);
      stdio[i] = -1;
    }
  if (ret == 0) {
    if (mine[0] >= 0 && !a->tty)
      fcntl(mine[0], F_SETFL, O_NONBLOCK);
    exec_pump(mine[1], a->tty ? -1 : mine[2], &mine[0], a);
    mine[1] = mine[2] = -1; /* the pump closed the outputs; stdin ends below (a terminal hangs up) */
    *exit_code = adr_native_wait(pid);
  }
out:
  for (int i = 0; i < 3; i++) {
    if (stdio[i] >= 0)
      close(stdio[i]);
    if (mine[i] >= 0)
      close(mine[i]);
  }
  strv_free(&cgroups);
  strv_free(&writable);
  built_free(&bx);
  json_decref(cfg);
  return ret < 0 ? adr_err_prefix(err, "exec in sandbox '%s'", ref) : 0;
}

/* ------------------------------------------------------------ state */

static int nat_state_get(struct adr_engine *e, const char *sandbox, const char *key, char **value, adr_err *err)
{
  *value = NULL;
  struct adr_container c;
  int r = nat_container_inspect(e, sandbox, &c, err);
  if (r != 0)
    return r;
  const char *v = adr_labels_get(&c.labels, key);
  *value = v ? xstrdup(v) : NULL;
  adr_container_free(&c);
  return 0;
}

static int nat_state_set(struct adr_engine *e, const char *sandbox, const char *key, const char *value, adr_err *err)
{
  cleanup_free char *id = NULL, *dir = NULL;
  if (find(e, sandbox, &id, &dir, err) < 0)
    return -1;
  cleanup_close int lk = cfg_lock(dir);
  json_t *cfg = load_cfg(dir);
  if (!cfg)
    return adr_err_set(err, EIO, "sandbox '%s': its record is unreadable", sandbox);
  json_t *labels = json_array(), *l;
  size_t i, kl = strlen(key);
  json_array_foreach (json_object_get(cfg, "labels"), i, l) {
    const char *s = json_string_value(l);
    if (s && !(strncmp(s, key, kl) == 0 && s[kl] == '='))
      json_array_append(labels, l);
  }
  if (value) {
    cleanup_free char *kv = xasprintf("%s=%s", key, value);
    json_array_append_new(labels, json_string(kv));
  }
  json_object_set_new(cfg, "labels", labels);
  int r = save_cfg(dir, cfg, err);
  json_decref(cfg);
  return r;
}

static int nat_state_list(struct adr_engine *e, const struct strv *filters, struct adr_container **out, size_t *n,
                          adr_err *err)
{
  return nat_container_list(e, filters, true, out, n, err);
}

/* ------------------------------------------------------------ egress
 *
 * Allowlist: the gateway is a box on the host's network, run as the
 * caller like any sandbox (its other namespaces and hardening as theirs).
 * Its supervisor starts a network holder first (netns.c): a loopback-only
 * namespace where the gateway's listeners are made on 127.0.0.1 and handed
 * to it.  The sandbox joins that namespace: 127.0.0.1 is its proxy,
 * resolver and relay, and it has no route anywhere else.  Nothing is made
 * on the host's network, and nothing needs root. */

static int nat_egress_up(struct adr_engine *e, struct adr_egress_plan *p, struct adr_egress_result *res, adr_err *err)
{
  memset(res, 0, sizeof(*res));
  struct adr_spec *g = &p->gateway;
  if (!g->name)
    return adr_err_set(err, EINVAL, "egress gateway without a name");
  bool open = p->mode == ADR_EGRESS_OPEN;
  if (open && adr_native_outbound_check(err) < 0)
    return adr_err_prefix(err, "network 'open' on the native engine");
  if (!open && (!p->listen || !p->listen->n))
    return adr_err_set(err, EINVAL, "egress plan without listeners");
  if (p->listen && p->listen->n && !p->listen_arg)
    return adr_err_set(err, EINVAL, "egress plan without a listener argument");
  /* the metadata routes go to the holder, which keeps the namespace (the
   * gateway, on the host's network, has no say there) */
  struct strv cmd = { 0 }, blackholes = { 0 };
  for (size_t i = 0; i < g->cmd.n; i++) {
    if (streq(g->cmd.v[i], GW_OPT_BLACKHOLE) && i + 1 < g->cmd.n) {
      strv_push(&blackholes, g->cmd.v[++i]);
      continue;
    }
    strv_push(&cmd, streq(g->cmd.v[i], ADR_EGRESS_ADDR) ? NAT_GW_ADDR : g->cmd.v[i]);
  }
  strv_free(&g->cmd);
  g->cmd = cmd;
  /* what the sysctls and capabilities are for (ports below 1024, no
   * forwarding, the metadata routes) the holder does, as root of its own
   * namespaces */
  strv_free(&g->sysctls);
  strv_free(&g->cap_add);
  adr_spec_set_net(g, ADR_SPEC_NET_NONE, NULL, NULL);
  if (refuse_unsupported(g, err) < 0) {
    strv_free(&blackholes);
    return adr_err_prefix(err, "egress gateway");
  }
  /* the host's resolvers, for its way out on the host's network */
  struct buf rc;
  buf_init(&rc, 64 << 10);
  if (buf_read_file(&rc, "/etc/resolv.conf") < 0)
    buf_puts(&rc, "");
  static const struct strv none;
  json_t *extra =
    json_pack("{s:b, s:b, s:b, s:o, s:o, s:s, s:s, s:s}", "host_net", 1, "holder", 1, "outbound", open, "listen",
              adr_json_strv(p->listen ? p->listen : &none), "blackholes", adr_json_strv(&blackholes), "listen_arg",
              p->listen_arg ? p->listen_arg : "", "resolv", rc.data ? rc.data : "", "join_resolv",
              open ? "nameserver " ADR_NATIVE_SLIRP_DNS "\n" : "nameserver " NAT_GW_ADDR "\n");
  buf_free(&rc);
  strv_free(&blackholes);
  cleanup_free char *id = NULL;
  int r = create_record(e, g, extra, &id, err);
  if (r < 0 && (*err)->errnum == EEXIST) { /* a killed adr's, for a sandbox of this name */
    adr_err_free(err);
    cleanup_err adr_err e2 = NULL;
    nat_container_remove(e, g->name, true, &e2);
    r = create_record(e, g, extra, &id, err);
  }
  json_decref(extra);
  if (r < 0)
    return adr_err_prefix(err, "create egress gateway '%s'", g->name);
  if (nat_container_start(e, id, err) < 0 ||
      adr_egress_wait_ready(e, id, p->ready_file, p->ready_timeout_ms ? p->ready_timeout_ms : 10000, err) < 0) {
    adr_err_prefix(err, "start egress gateway '%s'", g->name);
    cleanup_err adr_err e2 = NULL;
    nat_container_remove(e, id, true, &e2);
    return -1;
  }
  res->net.kind = ADR_SPEC_NET_JOIN;
  res->net.name = xstrdup(g->name);
  res->addr = open ? NULL : xstrdup(NAT_GW_ADDR);
  return 0;
}

static int nat_egress_down(struct adr_engine *e, const char *sandbox, adr_err *err)
{
  cleanup_free char *gw = xasprintf("%s" ADR_EGRESS_GW_SUFFIX, sandbox);
  cleanup_err adr_err e0 = NULL, e1 = NULL;
  /* a stop first: the gateway logs its open connections on SIGTERM; its
   * holder ends with its supervisor */
  nat_container_stop(e, gw, 2, &e0);
  if (nat_container_remove(e, gw, true, &e1) < 0 && e1->errnum != ENOENT) {
    adr_err_move(err, &e1);
    return adr_err_prefix(err, "remove egress gateway '%s'", gw);
  }
  return 0;
}

const struct adr_engine_ops adr_native_ops = {
  .name = "native",
  .caps = ADR_ENG_CAP_LABELS | ADR_ENG_CAP_EXEC | ADR_ENG_CAP_ATTACH | ADR_ENG_CAP_LOGS | ADR_ENG_CAP_STATE |
          ADR_ENG_CAP_USERNS | ADR_ENG_CAP_EGRESS,
  .open = nat_open,
  .close = nat_close,
  .ping = nat_ping,
  .version = nat_version,
  .image_list = nat_image_list,
  .image_inspect = nat_image_inspect,
  .image_build = nat_image_build,
  .container_create = nat_container_create,
  .container_start = nat_container_start,
  .container_attach = nat_container_attach,
  .container_wait = nat_container_wait,
  .container_kill = nat_container_kill,
  .container_stop = nat_container_stop,
  .container_remove = nat_container_remove,
  .container_rename = nat_container_rename,
  .container_inspect = nat_container_inspect,
  .container_list = nat_container_list,
  .container_resize = nat_container_resize,
  .container_logs = nat_container_logs,
  .container_exec = nat_container_exec,
  .state_get = nat_state_get,
  .state_set = nat_state_set,
  .state_list = nat_state_list,
  .egress_up = nat_egress_up,
  .egress_down = nat_egress_down,
};
