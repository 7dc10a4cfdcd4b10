/* Shared by the commands: reporting, option parsing, the lazy context,
 * reaping of sandboxes whose adr died. */
#include "cmd.h"
#include "egress.h"
#include "buf.h"
#include "idmap.h"
#include "log.h"
#include "paths.h"
#include "runspec.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <termios.h>

int report(adr_err *err)
{
  int status = EXIT_FAIL;
  if (err && *err) {
    fprintf(stderr, "adr: %s\n", (*err)->msg);
    if ((*err)->status > 0)
      status = (*err)->status;
    adr_err_free(err);
  }
  return status;
}

__attribute__((format(printf, 2, 0))) static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
  fputs(prefix, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void warnf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("adr: warning: ", fmt, ap);
  va_end(ap);
}

void hintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("hint: ", fmt, ap);
  va_end(ap);
}

int errorf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("adr: ", fmt, ap);
  va_end(ap);
  return EXIT_FAIL;
}

int usage_error(const struct adr_cmd *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "adr %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fprintf(stderr, "usage: %s\n", cmd->usage);
  return EXIT_USAGE;
}

void print_cmd_help(const struct adr_cmd *cmd, FILE *out)
{
  fprintf(out, "usage: %s\n\n%s%s\n", cmd->usage, cmd->summary, "");
  if (cmd->help && *cmd->help)
    fprintf(out, "\n%s", cmd->help);
}

int next_opt(const struct adr_cmd *cmd, int argc, char **argv, const char *shortopts, int *longidx)
{
  opterr = 0;
  int c = getopt_long(argc, argv, shortopts, cmd->options, longidx);
  if (c == '?' || c == ':') {
    /* name the option as the user wrote it: getopt_long sets optopt to a
     * long option's short equivalent, which the user may never have typed */
    const char *bad = optind > 0 && optind <= argc ? argv[optind - 1] : NULL;
    if (bad && str_has_prefix(bad, "--") && bad[2]) {
      size_t n = strcspn(bad + 2, "=");
      const struct option *hit = NULL;
      size_t prefixes = 0; /* getopt_long takes an unambiguous prefix too */
      for (const struct option *o = cmd->options; o && o->name; o++)
        if (strncmp(o->name, bad + 2, n) == 0) {
          if (strlen(o->name) == n) {
            hit = o;
            prefixes = 1;
            break;
          }
          hit = o;
          prefixes++;
        }
      if (prefixes > 1)
        usage_error(cmd, "option '%.*s' is ambiguous", (int)(n + 2), bad);
      else if (hit && bad[2 + n] == '=' && hit->has_arg == no_argument)
        usage_error(cmd, "option '--%s' takes no value", hit->name);
      else if (hit)
        usage_error(cmd, "option '--%s' needs a value", hit->name);
      else
        usage_error(cmd, "unknown option '%.*s'", (int)(n + 2), bad);
    } else if (optopt && optopt < 256 && strchr(shortopts, optopt) && strchr(shortopts, optopt)[1] == ':')
      usage_error(cmd, "option '-%c' needs a value", optopt);
    else if (optopt && optopt < 256 && optopt != '?')
      usage_error(cmd, "unknown option '-%c'", optopt);
    else
      usage_error(cmd, "unknown option '%s'", bad ? bad : "?");
    return '?';
  }
  return c;
}

int ctx_config(struct adr_ctx *ctx, adr_err *err)
{
  if (ctx->config_loaded)
    return 0;
  adr_config_init(&ctx->config);
  ctx->config_loaded = true;
  if (adr_config_load(&ctx->config, ctx->cwd, err) < 0)
    return -1;
  for (size_t i = 0; i < ctx->config.warnings.n; i++)
    warnf("%s", ctx->config.warnings.v[i]);
  return 0;
}

int ctx_agents(struct adr_ctx *ctx, adr_err *err)
{
  if (ctx->agents_loaded)
    return 0;
  if (adr_agents_load(&ctx->agents, NULL, err) < 0)
    return -1;
  ctx->agents_loaded = true;
  for (size_t i = 0; i < ctx->agents.warnings.n; i++)
    warnf("%s", ctx->agents.warnings.v[i]);
  return 0;
}

int ctx_engine(struct adr_ctx *ctx, adr_err *err)
{
  if (ctx->engine)
    return 0;
  cleanup_free char *name = adr_config_engine(ctx->config_loaded ? &ctx->config : NULL);
  return adr_engine_open_default(&ctx->engine, name, err);
}

static char *boot_id(void)
{
  struct buf b;
  buf_init(&b, 256);
  char *r = NULL;
  if (buf_read_file(&b, "/proc/sys/kernel/random/boot_id") == 0) {
    size_t n = strcspn(b.data, "\n");
    r = xstrndup(b.data, n);
  }
  buf_free(&b);
  return r ? r : xstrdup("unknown");
}

/* start time of a process in clock ticks since boot (field 22), 0 if gone */
static unsigned long long proc_start(pid_t pid)
{
  cleanup_free char *p = xasprintf("/proc/%d/stat", (int)pid);
  struct buf b;
  buf_init(&b, 8192);
  unsigned long long st = 0;
  if (buf_read_file(&b, p) == 0) {
    const char *rp = strrchr(b.data, ')');
    if (rp) {
      /* after ") " comes field 3; start time is field 22 */
      const char *q = rp + 2;
      for (int f = 3; f < 22 && q; f++) {
        q = strchr(q, ' ');
        if (q)
          q++;
      }
      if (q)
        st = strtoull(q, NULL, 10);
    }
  }
  buf_free(&b);
  return st;
}

void ctx_owner_labels(struct strv *labels)
{
  cleanup_free char *b = boot_id();
  strv_pushf(labels, ADR_LABEL_MANAGED "=1");
  strv_pushf(labels, ADR_LABEL_OWNER_PID "=%d:%llu", (int)getpid(), proc_start(getpid()));
  strv_pushf(labels, ADR_LABEL_OWNER_BOOT "=%s", b);
}

/* A transient sandbox belongs to a live adr when its owner pid exists with
 * the same start time on the same boot. */
static bool owner_alive(const struct strv *labels, const char *boot)
{
  const char *pid = adr_labels_get(labels, ADR_LABEL_OWNER_PID);
  const char *b = adr_labels_get(labels, ADR_LABEL_OWNER_BOOT);
  if (pid == NULL)
    return true; /* not transient: persistent sandboxes are never reaped here */
  if (b == NULL || !streq(b, boot))
    return false;
  int p = 0;
  unsigned long long st = 0;
  if (sscanf(pid, "%d:%llu", &p, &st) != 2 || p <= 0)
    return false;
  if (kill(p, 0) < 0 && errno == ESRCH)
    return false;
  return proc_start(p) == st;
}

/* Host-side state (idmapped mounts, identity files) of sandboxes that were
 * never created because adr was killed first: directories under
 * STATE/mnt and STATE/run that no sandbox's labels name, older than two
 * minutes (younger ones may belong to an adr that is creating its sandbox
 * right now). */
static void reap_host_state(struct adr_ctx *ctx, const char *state)
{
  /* the old enough directories first (local and cheap); the engine is
   * asked only when there is one, so that adr run pays nothing normally */
  static const char *const kinds[] = { "mnt", "run" };
  struct strv cand[2] = { { 0 }, { 0 } };
  time_t now = time(NULL);
  for (size_t k = 0; k < 2; k++) {
    cleanup_free char *dir = xasprintf("%s/%s", state, kinds[k]);
    DIR *d = opendir(dir);
    if (!d)
      continue;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
      if (de->d_name[0] == '.')
        continue;
      cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
      struct stat st;
      if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode) && now - st.st_mtime >= 120)
        strv_push(&cand[k], p);
    }
    closedir(d);
  }
  if (cand[0].n + cand[1].n > 0) {
    struct strv f = { 0 };
    strv_push(&f, ADR_LABEL_MANAGED);
    struct adr_container *v = NULL;
    size_t n = 0;
    cleanup_err adr_err err = NULL;
    if (adr_engine_container_list(ctx->engine, &f, true, &v, &n, &err) == 0) {
      for (size_t k = 0; k < 2; k++)
        for (size_t c = 0; c < cand[k].n; c++) {
          const char *p = cand[k].v[c];
          bool used = false;
          for (size_t i = 0; i < n && !used; i++)
            used = streq(adr_labels_get(&v[i].labels, k == 0 ? ADR_LABEL_IDMAP : ADR_LABEL_IDENTITY), p);
          if (used)
            continue;
          cleanup_err adr_err e2 = NULL;
          if (k == 0)
            adr_idmap_umount_dir(p, &e2);
          else
            adr_identity_remove(p, &e2);
          adr_debug("removed %s, left by an adr killed before its sandbox existed", p);
        }
      adr_containers_free(v, n);
    }
    strv_free(&f);
  }
  strv_free(&cand[0]);
  strv_free(&cand[1]);
}

/* A gateway or network outlives its sandbox only when an adr died between
 * making them and making the sandbox, or between removing the two: reap
 * those a minute old (younger ones may belong to a start under way). */
#define REAP_GRACE_S 60

static bool sandbox_listed(const struct adr_container *v, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++) {
    if (!v[i].id)
      continue; /* reaped just now */
    const char *cn = v[i].name && v[i].name[0] == '/' ? v[i].name + 1 : v[i].name;
    if (streq(cn, name))
      return true;
  }
  return false;
}

/* A STATE/egress/NAME/policy whose sandbox NAME is not in v. */
static bool egress_leftover(const char *state, const struct adr_container *v, size_t n)
{
  cleanup_free char *dir = xasprintf("%s/egress", state);
  DIR *d = opendir(dir);
  if (!d)
    return false;
  bool found = false;
  struct dirent *de;
  while (!found && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *pol = xasprintf("%s/%s/policy", dir, de->d_name);
    cleanup_free char *rel = xasprintf("%s/%s/relay", dir, de->d_name); /* open mode has no policy */
    found = (access(pol, F_OK) == 0 || access(rel, F_OK) == 0) && !sandbox_listed(v, n, de->d_name);
  }
  closedir(d);
  return found;
}

/* After the networks are reaped: the policy files of sandboxes that are
 * gone and have no network left (the decision log stays). */
static void egress_forget(const char *state, const struct adr_container *v, size_t n,
                          const struct adr_network *nv, size_t nn)
{
  cleanup_free char *dir = xasprintf("%s/egress", state);
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || sandbox_listed(v, n, de->d_name))
      continue;
    bool net = false;
    for (size_t i = 0; i < nn; i++)
      net = net || (nv[i].id && streq(adr_labels_get(&nv[i].labels, ADR_LABEL_FOR), de->d_name));
    if (net)
      continue;
    /* a minute old: a younger one may belong to a start making its network */
    cleanup_free char *sub = xasprintf("%s/%s", dir, de->d_name);
    cleanup_free char *pol = xasprintf("%s/policy", sub);
    cleanup_free char *rel = xasprintf("%s/relay", sub);
    struct stat st;
    if ((stat(pol, &st) == 0 || stat(rel, &st) == 0) && time(NULL) - st.st_mtime > REAP_GRACE_S)
      adr_egress_down_files(sub);
  }
  closedir(d);
}

void ctx_reap(struct adr_ctx *ctx)
{
  if (ctx->engine == NULL)
    return;
  struct strv f = { 0 };
  strv_push(&f, ADR_LABEL_MANAGED);
  struct adr_container *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  time_t now = time(NULL);
  if (adr_engine_container_list(ctx->engine, &f, true, &v, &n, &err) == 0) {
    cleanup_free char *boot = boot_id();
    cleanup_free char *state = adr_state_dir();
    for (size_t i = 0; i < n; i++) {
      const char *for_ = adr_labels_get(&v[i].labels, ADR_LABEL_FOR);
      bool orphan = for_ && !sandbox_listed(v, n, for_) && now - v[i].created > REAP_GRACE_S;
      if (!orphan && owner_alive(&v[i].labels, boot))
        continue;
      cleanup_err adr_err e2 = NULL;
      if (for_) /* a gateway: SIGTERM first, it logs its open connections */
        adr_engine_container_stop(ctx->engine, v[i].id, 2, &e2);
      if (adr_engine_container_remove(ctx->engine, v[i].id, true, &e2) < 0)
        continue;
      adr_debug("reaped %s left by a dead adr", v[i].name);
      free(v[i].id);
      v[i].id = NULL;
      if (for_ && adr_agent_name_valid(for_)) { /* the relay's keys go with their gateway */
        const char *gone[] = { "relay", "ca.pem" };
        for (size_t k = 0; k < ARRAY_SIZE(gone); k++) {
          cleanup_free char *p = xasprintf("%s/egress/%s/%s", state, for_, gone[k]);
          unlink(p);
        }
      }
      /* undo its idmapped mounts, but only ever below our own state dir */
      const char *idm = adr_labels_get(&v[i].labels, ADR_LABEL_IDMAP);
      cleanup_free char *mine = xasprintf("%s/mnt/", state);
      if (idm && str_has_prefix(idm, mine) && !strstr(idm, "/../"))
        adr_idmap_umount_dir(idm, &e2);
      const char *ident = adr_labels_get(&v[i].labels, ADR_LABEL_IDENTITY);
      cleanup_free char *runs = xasprintf("%s/run/", state);
      if (ident && str_has_prefix(ident, runs) && !strstr(ident, "/../"))
        adr_identity_remove(ident, &e2);
    }
    /* networks whose sandbox and gateway are both gone; the engine is
     * asked only when a sandbox's egress policy outlived it (it is written
     * before the network is made, removed after), so a normal run pays
     * nothing */
    struct adr_network *nv = NULL;
    size_t nn = 0;
    cleanup_err adr_err e3 = NULL;
    if (egress_leftover(state, v, n) && adr_engine_network_list(ctx->engine, &f, &nv, &nn, &e3) == 0) {
      for (size_t i = 0; i < nn; i++) {
        const char *for_ = adr_labels_get(&nv[i].labels, ADR_LABEL_FOR);
        if (!for_ || (owner_alive(&nv[i].labels, boot) && now - nv[i].created <= REAP_GRACE_S))
          continue;
        if (sandbox_listed(v, n, for_))
          continue;
        cleanup_err adr_err e4 = NULL;
        /* its gateway, by id from the same listing and only if it serves
         * that sandbox: a name may be new again by now */
        for (size_t j = 0; j < n; j++) {
          const char *gf = v[j].id ? adr_labels_get(&v[j].labels, ADR_LABEL_FOR) : NULL;
          if (gf && streq(gf, for_))
            adr_engine_container_remove(ctx->engine, v[j].id, true, &e4);
        }
        if (adr_engine_network_remove(ctx->engine, nv[i].id, &e4) == 0) {
          adr_debug("reaped network %s left by a dead adr", nv[i].name);
          free(nv[i].id);
          nv[i].id = NULL;
        }
      }
      egress_forget(state, v, n, nv, nn);
      adr_networks_free(nv, nn);
    }
  }
  adr_containers_free(v, n);
  strv_free(&f);
  cleanup_free char *state = adr_state_dir();
  reap_host_state(ctx, state);
}

char *agent_image(struct adr_ctx *ctx, const char *agent, const char *tag)
{
  const char *prefix = ctx->config_loaded ? adr_config_get(&ctx->config, "ADR_IMAGE_PREFIX") : NULL;
  const char *t = tag ? tag : ctx->config_loaded ? adr_config_get(&ctx->config, "ADR_TAG") : NULL;
  return xasprintf("%s/%s:%s", prefix ? prefix : "coding-agent", agent, t ? t : "latest");
}

bool ask_yes(const char *question, bool default_yes)
{
  if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
    return false;
  fprintf(stderr, "%s %s ", question, default_yes ? "[Y/n]" : "[y/N]");
  fflush(stderr);
  char line[64];
  if (fgets(line, sizeof(line), stdin) == NULL)
    return false;
  if (line[0] == '\n')
    return default_yes;
  return line[0] == 'y' || line[0] == 'Y';
}
