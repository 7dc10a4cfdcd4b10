/* The native sandbox's limits (cgroup.h): a cgroup per sandbox under the
 * caller's own, in the unified hierarchy when there is one (it must be
 * delegated: writable, controllers enabled), else in the v1 hierarchies
 * root can write.  A limit no hierarchy can hold is named in a warning,
 * never silently dropped. */
#include "cgroup.h"
#include "buf.h"
#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CG_ROOT "/sys/fs/cgroup"

/* the caller's cgroup in a hierarchy: "0::PATH" (v2) or "N:CTRL,...:PATH" */
static char *own_path(const char *ctrl)
{
  struct buf b;
  buf_init(&b, 1 << 16);
  char *ret = NULL;
  if (buf_read_file(&b, "/proc/self/cgroup") == 0 && b.data) {
    for (char *line = b.data, *nl; line && *line && !ret; line = nl ? nl + 1 : NULL) {
      nl = strchr(line, '\n');
      if (nl)
        *nl = '\0';
      char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
      if (!c2)
        continue;
      *c2 = '\0';
      const char *ctrls = c1 + 1;
      bool match = ctrl ? false : streq(line, "0") && !*ctrls;
      if (ctrl) {
        cleanup_free char *list = xstrdup(ctrls);
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t && !match; t = strtok_r(NULL, ",", &save))
          match = streq(t, ctrl);
      }
      if (match)
        ret = xstrdup(c2 + 1);
    }
  }
  buf_free(&b);
  return ret;
}

static int put(const char *dir, const char *file, const char *val)
{
  cleanup_free char *p = xasprintf("%s/%s", dir, file);
  return adr_write_existing(p, val);
}

static bool unified(void)
{
  struct statfs st;
  return statfs(CG_ROOT, &st) == 0 && (unsigned long)st.f_type == CGROUP2_SUPER_MAGIC;
}

/* The cgroups of unnamed sandboxes (adr-native-PID-SEQ) whose caller is
 * gone, in parent: removed where empty (a caller killed with -9 could not;
 * rmdir refuses one that still has processes), and made over 10 s ago */
static void sweep(const char *parent)
{
  DIR *d = opendir(parent);
  if (!d)
    return;
  struct dirent *e;
  while ((e = readdir(d))) {
    int pid = 0, seq = 0, end = 0;
    if (sscanf(e->d_name, "adr-native-%d-%d%n", &pid, &seq, &end) != 2 || e->d_name[end] || pid <= 0)
      continue;
    if (kill(pid, 0) == 0 || errno != ESRCH)
      continue;
    /* and not one a caller in another pid namespace is making just now */
    cleanup_free char *p = xasprintf("%s/%s", parent, e->d_name);
    struct stat st;
    if (stat(p, &st) == 0 && st.st_mtime + 10 < time(NULL))
      rmdir(p);
  }
  closedir(d);
}

/* base/own/adr-native-name, made; *out points into g->dirs.  Where the
 * caller's own cgroup is not writable, a subtree root prepared for its
 * uid: base/adr-native-UID (owned by the user: ADR_NATIVE_CGROUP_V1 of
 * docs/native.md) */
static int make_dir(struct adr_ncgroup *g, const char *base, const char *own, const char *name, char **out)
{
  size_t n = strlen(own);
  cleanup_free char *d = xasprintf("%s%s%sadr-native-%s", base, own, n && own[n - 1] == '/' ? "" : "/", name);
  *out = NULL;
  if (mkdir(d, 0755) < 0 && errno != EEXIST) {
    int saved = errno;
    free(d);
    d = xasprintf("%s/adr-native-%u/adr-native-%s", base, (unsigned)getuid(), name);
    if (getuid() == 0 || (mkdir(d, 0755) < 0 && errno != EEXIST)) {
      errno = saved;
      return -1;
    }
  }
  cleanup_free char *parent = xstrdup(d);
  *strrchr(parent, '/') = '\0';
  sweep(parent);
  strv_push(&g->dirs, d);
  *out = g->dirs.v[g->dirs.n - 1];
  return 0;
}

static const char *no_pids(const struct adr_ncgroup_limits *lim)
{
  return lim->pids_by_rlimit ? "no pids cgroup limit, RLIMIT_NPROC instead" : "no pids limit";
}

int adr_ncgroup_make(struct adr_ncgroup *g, const char *name, const struct adr_ncgroup_limits *lim,
                     struct strv *warnings)
{
  memset(g, 0, sizeof(*g));
  g->nproc = lim->pids_by_rlimit && lim->pids > 0 ? lim->pids : 0; /* until a pids controller holds it */
  char num[64];
  if (unified()) {
    g->unified = true;
    cleanup_free char *own = own_path(NULL);
    char *dir = NULL;
    if (!own || make_dir(g, CG_ROOT, own, name, &dir) < 0) {
      strv_pushf(warnings, "%s: the cgroup %s%s is not delegated to this user (%s)",
                 lim->pids_by_rlimit ? "no memory or CPU limit, pids through RLIMIT_NPROC only"
                                     : "no memory, CPU or pids limit",
                 CG_ROOT, own ? own : "/?", strerror(errno));
      return 0;
    }
    if (lim->memory > 0) {
      snprintf(num, sizeof(num), "%lld", (long long)lim->memory);
      if (put(dir, "memory.max", num) < 0)
        strv_pushf(warnings, "no memory limit: %s/memory.max (%s)", dir, strerror(errno));
      put(dir, "memory.swap.max", "0");
    }
    if (lim->pids > 0) {
      snprintf(num, sizeof(num), "%lld", (long long)lim->pids);
      if (put(dir, "pids.max", num) < 0)
        strv_pushf(warnings, "%s: %s/pids.max (%s)", no_pids(lim), dir, strerror(errno));
      else
        g->nproc = 0;
    }
    if (lim->nano_cpus > 0) {
      snprintf(num, sizeof(num), "%lld 100000", (long long)(lim->nano_cpus / 10000));
      if (put(dir, "cpu.max", num) < 0)
        strv_pushf(warnings, "no CPU limit: %s/cpu.max (%s)", dir, strerror(errno));
    }
    return 0;
  }
  /* v1: one hierarchy per controller */
  static const char *const ctrls[] = { "memory", "pids", "cpu" };
  static const char *const no_limit[] = { "no memory limit", "", "no cpu limit" };
  const int64_t want[] = { lim->memory, lim->pids, lim->nano_cpus };
  for (size_t i = 0; i < ARRAY_SIZE(ctrls); i++) {
    /* a cgroup of its own in each, limited or not: its accounting, and
     * what the sandbox sees at /sys/fs/cgroup */
    cleanup_free char *own = own_path(ctrls[i]), *base = xasprintf(CG_ROOT "/%s", ctrls[i]);
    char *dir = NULL;
    if (!own || make_dir(g, base, own, name, &dir) < 0) {
      if (want[i] > 0)
        strv_pushf(warnings, "%s: cgroup v1 %s is not writable (%s)", i == 1 ? no_pids(lim) : no_limit[i], base,
                   own ? strerror(errno) : "not mounted");
      continue;
    }
    if (want[i] <= 0)
      continue;
    int r = 0;
    snprintf(num, sizeof(num), "%lld", (long long)want[i]);
    if (i == 0) {
      r = put(dir, "memory.limit_in_bytes", num);
      put(dir, "memory.memsw.limit_in_bytes", num); /* no swap beyond it, where accounted */
    } else if (i == 1) {
      r = put(dir, "pids.max", num);
      if (r == 0)
        g->nproc = 0;
    } else {
      snprintf(num, sizeof(num), "%lld", (long long)(lim->nano_cpus / 10000));
      r = put(dir, "cpu.cfs_period_us", "100000") < 0 ? -1 : put(dir, "cpu.cfs_quota_us", num);
    }
    if (r < 0)
      strv_pushf(warnings, "%s: %s (%s)", i == 1 ? no_pids(lim) : no_limit[i], dir, strerror(errno));
  }
  return 0;
}

int adr_ncgroup_enter(const struct adr_ncgroup *g)
{
  for (size_t i = 0; i < g->dirs.n; i++)
    if (put(g->dirs.v[i], "cgroup.procs", "0") < 0)
      return -1;
  return 0;
}

int adr_ncgroup_rmdir(const char *dir)
{
  for (int i = 0; i < 200; i++) { /* 2 s at most */
    if (rmdir(dir) == 0 || errno == ENOENT)
      return 0;
    if (errno != EBUSY)
      return -1;
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
  return -1;
}

void adr_ncgroup_remove(struct adr_ncgroup *g)
{
  for (size_t i = 0; i < g->dirs.n; i++)
    adr_ncgroup_rmdir(g->dirs.v[i]);
  strv_free(&g->dirs);
}
