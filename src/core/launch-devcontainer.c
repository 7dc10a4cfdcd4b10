/* A launch in the project's dev container (devcontainer.h): the image it
 * names or builds becomes the project image (launch-prepare.c adds the
 * agent to it), its environment and workspace mounts join the plan, its
 * lifecycle commands run in the sandbox before the agent.  Nothing it says
 * reaches the host: no host path outside the workspace is mounted, no
 * command runs outside the sandbox, the hardening is the same. */
#include "launch-int.h"
#include "context.h"
#include "devcontainer.h"
#include "image.h"
#include "forward.h"
#include "fs.h"
#include "layout.h"
#include "log.h"
#include "paths.h"
#include "runspec.h"
#include "scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a directory's name as an image repository's: [a-z0-9._-], never empty */
static char *repo_part(const char *s)
{
  char *r = xstrdup(*s ? s : "project");
  for (char *p = r; *p; p++) {
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a');
    else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
      *p = '-';
  }
  if (!((r[0] >= 'a' && r[0] <= 'z') || (r[0] >= '0' && r[0] <= '9')))
    r[0] = 'p';
  return r;
}

/* "source=A,target=B,type=bind[,readonly]" as an adr mount of the
 * workspace (a project file mounts nothing else). */
static int dc_mount(struct adr_launch *l, const char *spec, adr_err *err)
{
  cleanup_free char *copy = xstrdup(spec);
  const char *src = NULL, *dst = NULL, *type = "bind";
  bool ro = false;
  char *save = NULL;
  for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    const char *k = kv, *v = eq ? eq + 1 : "";
    if (eq)
      *eq = '\0';
    if (streq(k, "source") || streq(k, "src"))
      src = v;
    else if (streq(k, "target") || streq(k, "dst") || streq(k, "destination"))
      dst = v;
    else if (streq(k, "type"))
      type = v;
    else if (streq(k, "readonly") || streq(k, "ro"))
      ro = !eq || streq(v, "true") || streq(v, "1");
  }
  const char *file = l->dc->file;
  if (!streq(type, "bind"))
    return adr_err_set(err, EINVAL, "%s: mount '%s': only bind mounts of the workspace (type=bind), not %s", file, spec,
                       type);
  if (!src || !*src || !dst || *dst != '/')
    return adr_err_set(err, EINVAL, "%s: mount '%s': needs source= and an absolute target=", file, spec);
  cleanup_free char *abs = src[0] == '/' ? xstrdup(src) : xasprintf("%s/%s", l->ws, src);
  cleanup_free char *real = realpath(abs, NULL);
  size_t wl = strlen(l->ws);
  if (!real || !(strncmp(real, l->ws, wl) == 0 && (real[wl] == '/' || real[wl] == '\0')))
    return adr_err_set(err, EPERM,
                       "%s: mount '%s': the source is outside the workspace; a project file cannot mount host paths "
                       "(use -m on the command line)",
                       file, spec);
  cleanup_free char *m = xasprintf("%s:%s:%s", real, dst, ro ? "ro" : "rw");
  return adr_mounts_add(&l->mounts, m, l->ws, l->home, err) < 0 ? adr_err_prefix(err, "%s", file) : 0;
}

int launch_plan_devcontainer(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  if (o->no_devcontainer || o->project_image)
    return 0;
  cleanup_free char *path = NULL;
  if (adr_devcontainer_find(l->ws, &path) != 0)
    return 0;
  cleanup_strv struct strv allow = { 0 }, withheld = { 0 };
  adr_config_get_list(l->config, "ADR_DEVCONTAINER_ENV", &allow);
  struct adr_devcontainer_vars v = { .local_workspace = l->ws,
                                     .container_workspace = ADR_SANDBOX_WORKSPACE,
                                     .getenv_fn = o->getenv,
                                     .env_allow = &allow,
                                     .withheld = &withheld };
  l->dc = xcalloc(1, sizeof(*l->dc));
  if (adr_devcontainer_load(path, &v, l->dc, err) < 0) {
    free(l->dc);
    l->dc = NULL;
    return adr_err_prefix(err, "devcontainer (--no-devcontainer to run without it)");
  }
  struct adr_devcontainer *d = l->dc;
  if (d->compose_files.n && !d->features.n && launch_plan_services(l, &withheld, err) < 0)
    return -1;
  if (withheld.n) {
    cleanup_free char *list = strv_join(&withheld, ", ");
    adr_emit(&l->ev, ADR_EVENT_WARNING,
             "%s: ${localEnv:...} of %s not passed in (a project file does not read the host's environment; "
             "ADR_DEVCONTAINER_ENV in your configuration allows a name)",
             d->file, list);
  }
  if (d->features.n) {
    cleanup_free char *list = strv_join(&d->features, ", ");
    return adr_err_set(err, ENOTSUP,
                       "%s: 'features' (%s) are not supported by adr: install them in the image (build.dockerfile), "
                       "or run with --no-devcontainer",
                       d->file, list);
  }
  for (size_t i = 0; i < d->forward_ports.n; i++) {
    cleanup_free char *h = NULL;
    unsigned port;
    if (adr_forward_parse(d->forward_ports.v[i], &h, &port, err) < 0)
      return adr_err_prefix(err, "%s: forwardPorts", d->file);
  }
  if (d->workspace_folder && !streq(d->workspace_folder, ADR_SANDBOX_WORKSPACE))
    adr_emit(&l->ev, ADR_EVENT_WARNING, "%s: 'workspaceFolder' %s: adr mounts the workspace at %s", d->file,
             d->workspace_folder, ADR_SANDBOX_WORKSPACE);
  for (size_t i = 0; i < d->mounts.n; i++)
    if (dc_mount(l, d->mounts.v[i], err) < 0)
      return -1;
  /* its environment first: -e and --env-file come after and win */
  for (size_t i = 0; i < d->container_env.n; i++)
    strv_push(&l->ro.env, d->container_env.v[i]);
  size_t wl = strlen(l->ws);
  const char *rel = d->file + wl + (d->file[wl] == '/');
  if (l->compose) {
    cleanup_free char *with = strv_join(&l->services, ", ");
    adr_emit(&l->ev, ADR_EVENT_INFO, "using %s (service %s%s%s); --no-devcontainer runs without it", rel, d->service,
             l->services.n ? ", with " : "", with);
    return 0;
  }
  const char *df = d->dockerfile ? d->dockerfile : "";
  adr_emit(&l->ev, ADR_EVENT_INFO, "using %s (%s%s); --no-devcontainer runs without it", rel,
           d->image ? "image " : "Dockerfile ",
           d->image                                       ? d->image
           : strncmp(df, l->ws, wl) == 0 && df[wl] == '/' ? df + wl + 1
                                                          : df);
  return 0;
}

/* Where the stamp of a build context is kept with the tag its archive
 * made: STATE/devcontainer/<hash of context, Dockerfile, args>. */
static char *stamp_path(const char *context, const char *dockerfile, const struct strv *build_args)
{
  cleanup_free char *args = strv_join(build_args, "\n");
  cleanup_free char *key = xasprintf("%s\n%s\n%s", context, dockerfile, args);
  cleanup_free char *kd = adr_sha256_hex(key, strlen(key));
  cleanup_free char *sd = adr_state_dir();
  return xasprintf("%s/devcontainer/%.32s", sd, kd);
}

/* The tag recorded at sp for this stamp, when the engine has it still. */
static char *stamped_tag(struct adr_launch *l, const char *sp, const char *stamp)
{
  struct buf c;
  buf_init(&c, 4096);
  char *tag = NULL;
  size_t sl = strlen(stamp);
  if (buf_read_file(&c, sp) == 0 && c.len > sl + 1 && strncmp(c.data, stamp, sl) == 0 && c.data[sl] == '\n') {
    tag = xstrdup(c.data + sl + 1);
    tag[strcspn(tag, "\n")] = '\0';
    cleanup_err adr_err e = NULL;
    if (!*tag || adr_engine_image_inspect(l->engine, tag, NULL, &e) != 0) {
      free(tag);
      tag = NULL;
    }
  }
  buf_free(&c);
  return tag;
}

int launch_dc_build(struct adr_launch *l, const char *what, const char *context, const char *dockerfile,
                    const struct strv *build_args, const char *service, char **out, adr_err *err)
{
  *out = NULL;
  cleanup_free char *stamp = NULL, *sp = stamp_path(context, dockerfile, build_args);
  cleanup_err adr_err serr = NULL;
  if (adr_context_stamp(context, dockerfile, &stamp, &serr) == 0) {
    char *known = stamped_tag(l, sp, stamp);
    if (known) {
      adr_debug("%s: build context unchanged; image %s", what, known);
      *out = known;
      return 0;
    }
  }
  struct buf tar;
  cleanup_free char *dfn = NULL, *digest = NULL;
  if (adr_context_from_dir(context, dockerfile, &tar, &dfn, &digest, err) < 0)
    return -1;
  /* the arguments are part of what the image is */
  cleanup_free char *args = strv_join(build_args, "\n");
  cleanup_free char *key = xasprintf("%s\n%s\n%s", digest, dfn, args);
  cleanup_free char *kd = adr_sha256_hex(key, strlen(key));
  adr_debug("%s: archived the build context (%zu bytes)", what, tar.len);
  const char *base = strrchr(l->ws, '/');
  cleanup_free char *name = repo_part(base ? base + 1 : l->ws);
  cleanup_free char *svc = service ? repo_part(service) : NULL;
  cleanup_free char *tag = xasprintf("adr-devcontainer/%s%s%s:%.16s", name, svc ? "-" : "", svc ? svc : "", kd);
  int have = adr_engine_image_inspect(l->engine, tag, NULL, err);
  if (have < 0) {
    buf_free(&tar);
    return -1;
  }
  if (have == 1) {
    adr_emit(&l->ev, ADR_EVENT_INFO, "building %s (%s)", what, tag);
    struct adr_build_req req = {
      .tag = tag, .context_tar = tar.data, .context_len = tar.len, .dockerfile = dfn, .build_args = *build_args
    };
    strv_push(&req.labels, ADR_LABEL_MANAGED "=1");
    strv_push(&req.labels, ADR_LABEL_KIND "=devcontainer-image");
    cleanup_buf struct buf dft;
    buf_init(&dft, 1 << 20);
    buf_read_file(&dft, dockerfile);
    cleanup_strv struct strv allow = { 0 };
    adr_config_get_list(l->config, "ADR_SCAN_ALLOW", &allow);
    int r = adr_image_build_scanned(l->engine, &req, dft.data, &allow, NULL, NULL, NULL, err);
    strv_free(&req.labels);
    if (r < 0) {
      buf_free(&tar);
      return adr_err_prefix(err, "build %s", tag);
    }
  }
  buf_free(&tar);
  if (stamp) { /* a cache: when it cannot be written, the next run archives again */
    cleanup_free char *dir = xstrdup(sp);
    *strrchr(dir, '/') = '\0';
    cleanup_free char *rec = xasprintf("%s\n%s\n", stamp, tag);
    cleanup_err adr_err werr = NULL;
    if (adr_mkdir_p(dir, 0700, &werr) == 0)
      write_file_atomic(sp, rec, strlen(rec), 0600);
  }
  *out = TAKE_PTR(tag);
  return 0;
}

/* The dev container's image: the one it names, or the one its Dockerfile
 * builds (once per content of the build context). The context is archived
 * and hashed only when its stamp (names, sizes, times; no bytes read)
 * changed since the last run. */
int launch_devcontainer_image(struct adr_launch *l, adr_err *err)
{
  struct adr_devcontainer *d = l->dc;
  if (!d)
    return 0;
  if (d->image) {
    free(l->project_image);
    l->project_image = xstrdup(d->image);
    return 0;
  }
  char *tag = NULL;
  if (launch_dc_build(l, "the dev container's image", d->context, d->dockerfile, &d->build_args, NULL, &tag, err) < 0)
    return adr_err_prefix(err, "%s", d->file);
  free(l->project_image);
  l->project_image = tag;
  return 0;
}

/* a remoteEnv value in "...": ${containerEnv:X} becomes ${X} (the
 * sandbox's own), everything else is literal */
static void dq_env(struct buf *b, const char *v)
{
  buf_puts(b, "\"");
  for (const char *p = v; *p;) {
    const char *end;
    if (str_has_prefix(p, "${containerEnv:") && (end = strchr(p, '}'))) {
      const char *name = p + 15;
      size_t n = (size_t)(end - name);
      const char *colon = memchr(name, ':', n);
      bool ok = n > 0;
      for (const char *q = name; ok && q < (colon ? colon : end); q++)
        ok = (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_';
      if (ok) {
        buf_printf(b, "${%.*s", (int)((colon ? colon : end) - name), name);
        if (colon) { /* ${containerEnv:X:default} */
          buf_puts(b, ":-");
          for (const char *q = colon + 1; q < end; q++) {
            if (strchr("\"\\`$", *q))
              buf_puts(b, "\\");
            buf_append(b, q, 1);
          }
        }
        buf_puts(b, "}");
        p = end + 1;
        continue;
      }
    }
    if (strchr("\"\\`$", *p))
      buf_puts(b, "\\");
    buf_append(b, p, 1);
    p++;
  }
  buf_puts(b, "\"");
}

static void run_step(struct buf *b, const char *what, const struct strv *cmd)
{
  if (!cmd->n)
    return;
  buf_puts(b, "echo \"adr: ");
  buf_puts(b, what);
  buf_puts(b, "\" >&2; ");
  for (size_t i = 0; i < cmd->n; i++) {
    buf_put_sh_word(b, cmd->v[i]);
    buf_puts(b, " ");
  }
  buf_printf(b, ">&2 || { rc=$?; echo \"adr: %s failed (exit $rc)\" >&2; exit $rc; }; ", what);
}

int launch_devcontainer_wrap(struct adr_launch *l)
{
  const struct adr_devcontainer *d = l->dc;
  struct adr_spec *s = &l->spec;
  if (!d || (!d->remote_env.n && !d->post_create.n && !d->post_start.n) || s->cmd.n < 2)
    return 0;
  struct buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < d->remote_env.n; i++) {
    const char *eq = strchr(d->remote_env.v[i], '=');
    buf_printf(&b, "export %.*s=", (int)(eq - d->remote_env.v[i]), d->remote_env.v[i]);
    dq_env(&b, eq + 1);
    buf_puts(&b, "; ");
  }
  run_step(&b, "postCreateCommand", &d->post_create);
  run_step(&b, "postStartCommand", &d->post_start);
  buf_puts(&b, "exec \"$@\"");
  /* adr-entry, then sh -c SCRIPT adr-devcontainer, then the agent */
  struct strv cmd = { 0 };
  strv_push(&cmd, s->cmd.v[0]);
  strv_push(&cmd, "/bin/sh");
  strv_push(&cmd, "-c");
  strv_push(&cmd, b.data);
  strv_push(&cmd, "adr-devcontainer");
  for (size_t i = 1; i < s->cmd.n; i++)
    strv_push(&cmd, s->cmd.v[i]);
  buf_free(&b);
  strv_free(&s->cmd);
  s->cmd = cmd;
  return 0;
}
