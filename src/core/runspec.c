#include "runspec.h"

#include "buf.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

int adr_unsafe_parse(const char *what, unsigned *bits, adr_err *err)
{
  static const struct {
    const char *name;
    unsigned bit;
  } t[] = {
    { "writable-root", ADR_UNSAFE_WRITABLE_ROOT },
    { "no-seccomp", ADR_UNSAFE_NO_SECCOMP },
    { "new-privileges", ADR_UNSAFE_NEW_PRIVILEGES },
    { "no-limits", ADR_UNSAFE_NO_LIMITS },
  };
  for (size_t i = 0; i < ARRAY_SIZE(t); i++)
    if (streq(what, t[i].name)) {
      *bits |= t[i].bit;
      return 0;
    }
  return adr_err_set(err, EINVAL, "unknown --unsafe value '%s' (writable-root, no-seccomp, new-privileges, no-limits)",
                     what);
}

static void stage(struct adr_spec *s, const char *host, const char *home_rel)
{
  cleanup_free char *target = xasprintf(ADR_SANDBOX_STAGE "/%s", home_rel);
  adr_spec_add_bind(s, host, target, true);
}

/* rel is one of the paths in v (hidden or replaced) */
static bool listed(const struct strv *v, const char *rel) { return v && strv_contains(v, rel); }

/* some path in v lies below rel */
static bool below(const struct strv *v, const char *rel)
{
  size_t n = strlen(rel);
  for (size_t i = 0; v && i < v->n; i++)
    if (strncmp(v->v[i], rel, n) == 0 && v->v[i][n] == '/')
      return true;
  return false;
}

/* Stages host (at HOME/rel) leaving out the hidden and replaced paths:
 * whole when none lies below it, else entry by entry. */
static void stage_except(struct adr_spec *s, const struct adr_run_opts *o, const char *host, const char *rel,
                         unsigned depth)
{
  if (listed(o->stage_hide, rel) || listed(o->stage_overlays, rel))
    return;
  struct stat st;
  if (!below(o->stage_hide, rel) && !below(o->stage_overlays, rel)) {
    stage(s, host, rel);
    return;
  }
  if (stat(host, &st) < 0 || !S_ISDIR(st.st_mode) || depth > 16)
    return; /* a file where a directory was expected: nothing below it to stage */
  DIR *d = opendir(host);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (streq(de->d_name, ".") || streq(de->d_name, ".."))
      continue;
    cleanup_free char *ch = xasprintf("%s/%s", host, de->d_name);
    cleanup_free char *cr = xasprintf("%s/%s", rel, de->d_name);
    stage_except(s, o, ch, cr, depth + 1);
  }
  closedir(d);
}

int adr_run_spec(const struct adr_run_opts *o, const struct adr_agent *a, struct adr_spec *s, adr_err *err)
{
  adr_spec_init(s);
  s->name = xstrdup(o->name);
  s->image = xstrdup(o->image);
  s->user = xasprintf("%u:%u", (unsigned)o->uid, (unsigned)o->gid);
  s->workdir = xstrdup(ADR_SANDBOX_WORKSPACE);
  s->hostname = adr_run_hostname(a);
  s->tty = o->tty;
  s->interactive = o->interactive;
  s->net.kind = ADR_SPEC_NET_OUTBOUND; /* egress (egress.h) narrows it */
  s->host_alias = true;

  /* process */
  strv_push(&s->cmd, "/usr/local/bin/adr-entry");
  bool own = o->shell || (o->command && o->command->n);
  if (o->shell) {
    strv_push(&s->cmd, "/bin/bash");
  } else if (o->command && o->command->n) {
    for (size_t i = 0; i < o->command->n; i++)
      strv_push(&s->cmd, o->command->v[i]);
  } else if (adr_agent_argv(a, o->headless, o->prompt, o->model, o->agent_args, o->n_agent_args, &s->cmd, err) < 0) {
    return -1;
  }
  if (!own && o->pre_args && o->pre_args->n) { /* right after the binary */
    struct strv cmd = { 0 };
    for (size_t i = 0; i < s->cmd.n; i++) {
      strv_push(&cmd, s->cmd.v[i]);
      if (i == 1)
        for (size_t k = 0; k < o->pre_args->n; k++)
          strv_push(&cmd, o->pre_args->v[k]);
    }
    strv_free(&s->cmd);
    s->cmd = cmd;
  }

  /* environment: fixed, then the agent's, then the user's */
  strv_push(&s->env, "HOME=" ADR_SANDBOX_HOME);
  strv_push(&s->env, "USER=agent");
  strv_push(&s->env, "LOGNAME=agent");
  strv_push(&s->env, "SHELL=/bin/bash");
  strv_push(&s->env, "LANG=C.UTF-8");
  strv_pushf(&s->env, "ADR_AGENT=%s", a->name);
  strv_push(&s->env, "ADR_SANDBOX=1");
  if (o->tty)
    strv_pushf(&s->env, "TERM=%s", o->term && *o->term ? o->term : "xterm-256color");
  for (size_t i = 0; i < a->env.n; i++)
    strv_push(&s->env, a->env.v[i]);
  for (size_t i = 0; i < o->env.n; i++)
    strv_push(&s->env, o->env.v[i]);

  /* filesystem */
  adr_spec_add_bind(s, o->workspace, ADR_SANDBOX_WORKSPACE, false);
  for (size_t i = 0; i < a->n_configs; i++) {
    const struct adr_agent_config *c = &a->configs[i];
    cleanup_free char *host = NULL;
    bool explicit_dir = (i == 0 && o->config_dir);
    host = explicit_dir ? xstrdup(o->config_dir) : adr_path_expand_home(c->host, o->host_home);
    struct stat st;
    if (stat(host, &st) < 0) {
      if (explicit_dir)
        return adr_err_sys(err, errno, "config directory '%s'", o->config_dir);
      continue; /* the agent has not been used on this host yet */
    }
    if (explicit_dir && !S_ISDIR(st.st_mode))
      return adr_err_set(err, ENOTDIR, "config directory '%s': not a directory", o->config_dir);
    if (o->config_file && a->config_file_home && streq(c->home, a->config_file_home))
      continue; /* --config-file takes its place */
    stage_except(s, o, host, c->home, 0);
  }
  for (size_t i = 0; o->stage_overlays && i < o->stage_overlays->n; i++) {
    cleanup_free char *src = xasprintf("%s/%s", o->overlay_dir, o->stage_overlays->v[i]);
    stage(s, src, o->stage_overlays->v[i]);
  }
  if (o->config_file) {
    if (a->config_file_home == NULL)
      return adr_err_set(err, EINVAL, "--config-file: agent '%s' does not take a config file", a->name);
    struct stat st;
    if (stat(o->config_file, &st) < 0)
      return adr_err_sys(err, errno, "config file '%s'", o->config_file);
    if (!S_ISREG(st.st_mode))
      return adr_err_set(err, EINVAL, "config file '%s': not a regular file", o->config_file);
    /* the credential planner read it: its rewritten copy is staged above,
     * and a file it refused is never staged */
    if (!listed(o->stage_hide, a->config_file_home) && !listed(o->stage_overlays, a->config_file_home))
      stage(s, o->config_file, a->config_file_home);
  }
  for (size_t i = 0; i < o->n_mounts; i++)
    adr_spec_add_bind(s, o->mounts[i].host, o->mounts[i].container, o->mounts[i].readonly);
  /* HOME and /run/adr (passwd, group) belong to the sandbox user */
  adr_spec_add_tmpfs(s, ADR_SANDBOX_HOME, o->home_size, 0700, (long)o->uid, (long)o->gid);
  adr_spec_add_tmpfs(s, "/tmp", o->tmp_size, 01777, -1, -1);
  if (o->identity_dir)
    adr_spec_add_bind(s, o->identity_dir, "/run/adr", true);
  else
    adr_spec_add_tmpfs(s, "/run/adr", 1 << 20, 0755, (long)o->uid, (long)o->gid);

  /* limits and hardening */
  if (!(o->unsafe & ADR_UNSAFE_NO_LIMITS)) {
    s->memory = o->memory;
    s->nano_cpus = o->nano_cpus;
    s->pids = o->pids;
  }
  if (o->gpus) { /* devices: no capability, no seccomp or mount change comes with them */
    s->gpus.count = o->gpus->count;
    for (size_t i = 0; i < o->gpus->device_ids.n; i++)
      strv_push(&s->gpus.device_ids, o->gpus->device_ids.v[i]);
  }
  s->read_only_root = !(o->unsafe & ADR_UNSAFE_WRITABLE_ROOT);
  s->no_new_privileges = !(o->unsafe & ADR_UNSAFE_NEW_PRIVILEGES);
  s->drop_all_caps = true;
  if (!(o->unsafe & ADR_UNSAFE_NO_SECCOMP) && o->seccomp_profile)
    adr_spec_set_seccomp(s, ADR_SECCOMP_ADR, o->seccomp_profile);
  else
    adr_spec_set_seccomp(s, ADR_SECCOMP_ENGINE, NULL); /* --unsafe no-seccomp: the engine's default */

  /* labels */
  adr_spec_set_label(s, ADR_LABEL_MANAGED, "1");
  adr_spec_set_label(s, ADR_LABEL_AGENT, a->name);
  adr_spec_set_label(s, ADR_LABEL_WORKSPACE, o->workspace);
  return 0;
}

char *adr_run_hostname(const struct adr_agent *a) { return xasprintf("adr-%s", a->name); }

int adr_identity_write(const char *dir, uid_t uid, gid_t gid, adr_err *err)
{
  if (adr_mkdir_p(dir, 0755, err) < 0)
    return -1;
  cleanup_buf struct buf passwd, group;
  buf_init(&passwd, 0);
  buf_init(&group, 0);
  buf_puts(&passwd,
           "root:x:0:0:root:/root:/bin/sh\n"
           "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
  buf_puts(&group, "root:x:0:\nnogroup:x:65534:\n");
  if (uid != 0 && uid != 65534)
    buf_printf(&passwd, "agent:x:%u:%u:adr agent:" ADR_SANDBOX_HOME ":/bin/bash\n", (unsigned)uid, (unsigned)gid);
  if (gid != 0 && gid != 65534)
    buf_printf(&group, "agent:x:%u:\n", (unsigned)gid);
  cleanup_free char *pp = xasprintf("%s/passwd", dir);
  cleanup_free char *gp = xasprintf("%s/group", dir);
  if (write_file_atomic(pp, passwd.data, passwd.len, 0644) < 0)
    return adr_err_sys(err, errno, "write '%s'", pp);
  if (write_file_atomic(gp, group.data, group.len, 0644) < 0)
    return adr_err_sys(err, errno, "write '%s'", gp);
  return 0;
}

int adr_stage_overlay_write(const char *dir, const char *rel, const char *content, adr_err *err)
{
  cleanup_free char *p = xasprintf("%s/stage/%s", dir, rel);
  char *slash = strrchr(p, '/');
  *slash = '\0';
  if (adr_mkdir_p(p, 0755, err) < 0)
    return -1;
  *slash = '/';
  /* in place: an idmapped mount of the file (adr as root) keeps its inode */
  cleanup_close int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return adr_err_sys(err, errno, "write '%s'", p);
  size_t len = strlen(content);
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, content + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return adr_err_sys(err, errno, "write '%s'", p);
    off += (size_t)w;
  }
  return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void)st;
  (void)f;
  return (flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 && errno != ENOENT ? -1 : 0;
}

int adr_identity_remove(const char *dir, adr_err *err)
{
  /* the staged copies, a warm sandbox's files (core/launch-warm.c), the
   * MCP sidecars' sockets (core/launch-mcp.c) */
  static const char *const subs[] = { "stage", "warm", "mcp" };
  for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
    cleanup_free char *sub = xasprintf("%s/%s", dir, subs[i]);
    if (nftw(sub, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
      return adr_err_sys(err, errno, "remove '%s'", sub);
  }
  static const char *const files[] = { "passwd", "group" };
  for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
    cleanup_free char *p = xasprintf("%s/%s", dir, files[i]);
    if (unlink(p) < 0 && errno != ENOENT)
      return adr_err_sys(err, errno, "remove '%s'", p);
  }
  if (rmdir(dir) < 0 && errno != ENOENT)
    return adr_err_sys(err, errno, "remove '%s'", dir);
  return 0;
}
