/* probe: adr's sandbox probe battery (see /work/shared/security-probes.md
 * and tests/probes/README.md).
 *
 *   cc -static -O2 -Wall -Wextra -o probe tests/probes/probe.c
 *   probe [--control] [--only ID[,ID...]] [--writable DIR...] [--nosuid DIR...]
 *         [--absent PATH...] [--pids-max N] [--suid PATH]
 *
 * One line per probe: "PASS <ID> <detail>", "FAIL <ID> <detail>" or
 * "SKIP <ID> <reason>"; the exit status is the number of FAILs (at most 100).
 *
 * Hardened mode (default): every dangerous operation must be refused.
 * Control mode (--control, run in a deliberately permissive container):
 * every dangerous operation must get through ("PASS <ID> control: operation
 * succeeded"), which proves the probe would notice an escape.
 *
 * Detail tokens are "name=RESULT", RESULT being "ok" or the errno name; a
 * trailing "!" marks the token that made the line fail.  Where a refusal
 * must be told apart from the kernel's own answer, the call gets a bad
 * pointer, fd or flag: the unfiltered kernel answers EFAULT/EBADF/EINVAL/
 * ESRCH (the comment next to each call says which), whereas adr's seccomp
 * filter answers EPERM before the kernel looks at the arguments (ENOSYS for
 * clone3).  EPERM from an operation the kernel itself reserves to a
 * capability (acct, init_module, ...) is "seccomp or missing capability":
 * both layers refuse; the control run shows the kernel answer.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Syscall numbers of the 4xx block are the same on x86-64 and aarch64. */
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#endif
#ifndef SYS_io_uring_enter
#define SYS_io_uring_enter 426
#endif
#ifndef SYS_io_uring_register
#define SYS_io_uring_register 427
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_PACKET
#define AF_PACKET 17
#endif
#ifndef AF_NETLINK
#define AF_NETLINK 16
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

#define MAXLIST 64

/* ---- options ---------------------------------------------------------- */

static int g_control;
static unsigned long g_pids_max = 4096;
static const char *g_suid;
static const char *g_writable[MAXLIST];
static int g_nwritable;
static const char *g_nosuid[MAXLIST];
static int g_nnosuid;
static const char *g_absent[MAXLIST];
static int g_nabsent;
static char g_only[512];

/* ---- FD-01 snapshot, taken before anything else opens a file ----------- */

static int g_fd_ok; /* /proc/self/fd could be read */
static int g_fd_err;
static int g_fds[256];
static int g_nfds;

static void snapshot_fds(void)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d) {
    g_fd_err = errno;
    return;
  }
  int self = dirfd(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    int fd = atoi(e->d_name);
    if (fd != self && g_nfds < (int)(sizeof g_fds / sizeof g_fds[0]))
      g_fds[g_nfds++] = fd;
  }
  closedir(d);
  g_fd_ok = 1;
}

/* ---- results ------------------------------------------------------------ */

struct res {
  int bad;  /* hardened expectation violated */
  int cbad; /* control: an operation did not get through */
  int skip; /* whole probe skipped: d holds the reason */
  size_t n;
  char d[3500];
};

static int g_fails;

static void note(struct res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct res *r, const char *fmt, ...)
{
  if (r->n + 2 >= sizeof r->d)
    return;
  if (r->n)
    r->d[r->n++] = ' ';
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(r->d + r->n, sizeof r->d - r->n, fmt, ap);
  va_end(ap);
  if (k > 0)
    r->n += (size_t)k < sizeof r->d - r->n ? (size_t)k : sizeof r->d - r->n - 1;
}

static void report(const char *id, struct res *r)
{
  if (r->skip) {
    printf("SKIP %s %s\n", id, r->d);
  } else if (g_control) {
    if (r->cbad) {
      printf("FAIL %s control: refused even unconfined, the probe cannot detect an escape (%s)\n", id, r->d);
      g_fails++;
    } else {
      printf("PASS %s control: operation succeeded (%s)\n", id, r->d);
    }
  } else if (r->bad) {
    printf("FAIL %s %s\n", id, r->d);
    g_fails++;
  } else {
    printf("PASS %s %s\n", id, r->d);
  }
  fflush(stdout);
}

static const char *errname(int e)
{
  static char buf[16];
  switch (e) {
  case 0: return "0";
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case ESRCH: return "ESRCH";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case ENXIO: return "ENXIO";
  case E2BIG: return "E2BIG";
  case ENOEXEC: return "ENOEXEC";
  case EBADF: return "EBADF";
  case ECHILD: return "ECHILD";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EFAULT: return "EFAULT";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case EXDEV: return "EXDEV";
  case ENODEV: return "ENODEV";
  case ENOTDIR: return "ENOTDIR";
  case EISDIR: return "EISDIR";
  case EINVAL: return "EINVAL";
  case ENFILE: return "ENFILE";
  case EMFILE: return "EMFILE";
  case ENOTTY: return "ENOTTY";
  case ETXTBSY: return "ETXTBSY";
  case ENOSPC: return "ENOSPC";
  case EROFS: return "EROFS";
  case EPIPE: return "EPIPE";
  case ERANGE: return "ERANGE";
  case ENOSYS: return "ENOSYS";
  case ELOOP: return "ELOOP";
  case ENAMETOOLONG: return "ENAMETOOLONG";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
  case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
  case EPROTOTYPE: return "EPROTOTYPE";
  case ENOKEY: return "ENOKEY";
  case EKEYREJECTED: return "EKEYREJECTED";
  case ENOTSOCK: return "ENOTSOCK";
  case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  case ENETUNREACH: return "ENETUNREACH";
  default: snprintf(buf, sizeof buf, "errno%d", e); return buf;
  }
}

static int in_set(int e, const int *set)
{
  for (; *set; set++)
    if (*set == e)
      return 1;
  return 0;
}

/* Answer sets.  W_* = what counts as "refused" in hardened mode;
 * C_* = what counts as "did not reach the kernel" in control mode. */
static const int W_EPERM[] = { EPERM, 0 };
/* setuid(0) where uid 0 is not mapped in the sandbox's user namespace (the
 * native engine maps one uid): no such user to become, EINVAL */
static const int W_SETUID0[] = { EPERM, EINVAL, 0 };
/* a device node where Landlock handles MAKE_CHAR (the native engine): it
 * refuses, EACCES, before the capability check would (EPERM) */
static const int W_MKNOD[] = { EPERM, EACCES, 0 };
static const int W_ENOSYS[] = { ENOSYS, 0 };
static const int W_EPERM_ENOSYS[] = { EPERM, ENOSYS, 0 };
static const int W_FAMILY[] = { EPERM, EAFNOSUPPORT, EACCES, 0 };
static const int W_RO[] = { EROFS, EACCES, EPERM, 0 };
static const int C_EPERM[] = { EPERM, 0 };
static const int C_EPERM_ENOSYS[] = { EPERM, ENOSYS, 0 };

/* Records one operation the sandbox must refuse. */
static void op(struct res *r, const char *name, long ret, int err, const int *want, const int *cref)
{
  int hard_ok = ret < 0 && in_set(err, want);
  int ctl_ok = ret >= 0 || !in_set(err, cref);
  if (!hard_ok)
    r->bad++;
  if (!ctl_ok)
    r->cbad++;
  int flag = g_control ? !ctl_ok : !hard_ok;
  /* "~": this kernel does not implement the call at all (control mode) */
  int absent = g_control && ret < 0 && err == ENOSYS && !in_set(ENOSYS, cref);
  note(r, "%s=%s%s", name, ret >= 0 ? "ok" : errname(err), flag ? "!" : absent ? "~" : "");
}

/* Records one operation the sandbox must allow (in both modes). */
static void must_work(struct res *r, const char *name, long ret, int err)
{
  if (ret < 0) {
    r->bad++;
    r->cbad++;
  }
  note(r, "%s=%s%s", name, ret >= 0 ? "ok" : errname(err), ret < 0 ? "!" : "");
}

/* Calls a syscall expression; closes the fd it may have returned. */
#define TRY(r, name, want, cref, is_fd, call) \
  do {                                        \
    errno = 0;                                \
    long rv_ = (long)(call);                  \
    int e_ = errno;                           \
    if ((is_fd) && rv_ >= 0)                  \
      close((int)rv_);                        \
    op((r), (name), rv_, e_, (want), (cref)); \
  } while (0)

/* Runs fn(arg) in a forked child so that a successful call (a new namespace,
 * a persona) does not change the probe.  Returns 0, or -1 with errno set to
 * what the call gave in the child. */
static long in_child(long (*fn)(long), long arg)
{
  fflush(stdout);
  pid_t p = fork();
  if (p < 0)
    return -1;
  if (p == 0) {
    errno = 0;
    long v = fn(arg);
    _exit(v < 0 ? (errno > 0 && errno < 255 ? errno : 255) : 0);
  }
  int st = 0;
  pid_t w;
  while ((w = waitpid(p, &st, 0)) < 0 && errno == EINTR)
    ;
  if (w < 0)
    return -1;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    return 0;
  errno = WIFEXITED(st) ? WEXITSTATUS(st) : EINTR;
  return -1;
}

static int selected(const char *id)
{
  if (!g_only[0])
    return 1;
  char buf[sizeof g_only];
  snprintf(buf, sizeof buf, "%s", g_only);
  for (char *s = strtok(buf, ","); s; s = strtok(NULL, ","))
    if (!strcasecmp(s, id))
      return 1;
  return 0;
}

static int read_file(const char *path, char *buf, size_t len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t n = 0;
  ssize_t k;
  while (n + 1 < len && (k = read(fd, buf + n, len - 1 - n)) > 0)
    n += (size_t)k;
  close(fd);
  buf[n] = 0;
  return (int)n;
}

/* First directory that must be writable: scratch space for the probes. */
static const char *scratch_dir(void) { return g_nwritable ? g_writable[0] : "/tmp"; }

/* ---- PRIV-01: capability sets, NoNewPrivs, Seccomp on every thread ----- */

static void check_status(char *out, size_t olen, const char *path, const char *who, int *tasks, int *offenders)
{
  char buf[8192];
  if (read_file(path, buf, sizeof buf) < 0)
    return;
  (*tasks)++;
  static const char *caps[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:" };
  char why[256] = "";
  size_t wl = 0;
  for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
    char *p = strstr(buf, caps[i]);
    if (!p)
      continue;
    unsigned long long v = strtoull(p + strlen(caps[i]), NULL, 16);
    if (v && wl < sizeof why - 40)
      wl += (size_t)snprintf(why + wl, sizeof why - wl, ",%.6s=%llx", caps[i], v);
  }
  char *p = strstr(buf, "NoNewPrivs:");
  int nnp = p ? atoi(p + 11) : -1;
  p = strstr(buf, "\nSeccomp:");
  int sc = p ? atoi(p + 9) : -1;
  if (nnp != 1 && wl < sizeof why - 20)
    wl += (size_t)snprintf(why + wl, sizeof why - wl, ",NoNewPrivs=%d", nnp);
  if (sc != 2 && wl < sizeof why - 20)
    wl += (size_t)snprintf(why + wl, sizeof why - wl, ",Seccomp=%d", sc);
  if (wl) {
    size_t l = strlen(out);
    if (*offenders < 4 && l < olen - 1)
      snprintf(out + l, olen - l, " %s:%s", who, why + 1);
    (*offenders)++;
  }
}

static void probe_priv01(struct res *r)
{
  DIR *d = opendir("/proc");
  if (!d) {
    r->skip = 1;
    note(r, "/proc not readable: %s", errname(errno));
    return;
  }
  int tasks = 0, offenders = 0, procs = 0, self_seen = 0;
  char who_list[1024] = "";
  pid_t me = getpid();
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 0)
      continue;
    char tdir[64];
    snprintf(tdir, sizeof tdir, "/proc/%ld/task", pid);
    DIR *t = opendir(tdir);
    if (!t)
      continue;
    procs++;
    if (pid == me)
      self_seen = 1;
    struct dirent *te;
    while ((te = readdir(t))) {
      if (te->d_name[0] == '.')
        continue;
      char path[PATH_MAX], who[300];
      snprintf(path, sizeof path, "%s/%s/status", tdir, te->d_name);
      snprintf(who, sizeof who, "%ld/%s", pid, te->d_name);
      check_status(who_list, sizeof who_list, path, who, &tasks, &offenders);
    }
    closedir(t);
  }
  closedir(d);
  if (!self_seen || !tasks) {
    r->skip = 1;
    note(r, "cannot read /proc/self/task/*/status");
    return;
  }
  note(r, "processes=%d threads=%d not-hardened=%d%s%s", procs, tasks, offenders, (offenders && !g_control) ? "!" : "",
       who_list);
  if (offenders)
    r->bad++;
  else
    r->cbad++; /* control: a permissive container must show up here */
}

/* ---- PRIV-02: setuid files, setuid(0), exec of a setuid-root binary --- */

struct devflag {
  dev_t dev;
  int nosuid;
};
static struct devflag g_devs[64];
static int g_ndevs;
static int g_suid_found, g_sgid_found, g_suid_nosuid;
static char g_suid_list[512];

static int dev_nosuid(dev_t dev, const char *path)
{
  for (int i = 0; i < g_ndevs; i++)
    if (g_devs[i].dev == dev)
      return g_devs[i].nosuid;
  struct statvfs sv;
  int ns = statvfs(path, &sv) == 0 && (sv.f_flag & ST_NOSUID);
  if (g_ndevs < 64) {
    g_devs[g_ndevs].dev = dev;
    g_devs[g_ndevs].nosuid = ns;
    g_ndevs++;
  }
  return ns;
}

static struct stat g_suid_st; /* the --suid test binary, not an image defect */
static int g_have_suid_st;

static int scan_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
  (void)ftw;
  if (type == FTW_D) {
    if (!strcmp(path, "/proc") || !strcmp(path, "/sys") || !strcmp(path, "/dev"))
      return FTW_SKIP_SUBTREE;
    /* setuid bits are ignored on nosuid mounts: skip them */
    if (dev_nosuid(st->st_dev, path)) {
      g_suid_nosuid++;
      return FTW_SKIP_SUBTREE;
    }
    return FTW_CONTINUE;
  }
  if (type != FTW_F || !S_ISREG(st->st_mode) || !(st->st_mode & (S_ISUID | S_ISGID)))
    return FTW_CONTINUE;
  if (dev_nosuid(st->st_dev, path))
    return FTW_CONTINUE;
  if (g_have_suid_st && st->st_dev == g_suid_st.st_dev && st->st_ino == g_suid_st.st_ino)
    return FTW_CONTINUE;
  if (st->st_mode & S_ISUID)
    g_suid_found++;
  else
    g_sgid_found++;
  size_t l = strlen(g_suid_list);
  if (l < sizeof g_suid_list - 80)
    snprintf(g_suid_list + l, sizeof g_suid_list - l, "%s%s(%s,uid%u)", l ? "," : "", path,
             st->st_mode & S_ISUID ? "u" : "g", (unsigned)st->st_uid);
  return FTW_CONTINUE;
}

/* Copies /proc/self/exe to a setuid-root file (control mode, as root). */
static int plant_suid(char *out, size_t len)
{
  const char *dirs[] = { "/tmp", "/var/tmp", "/", scratch_dir() };
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(out, len, "%s/.adr-probe-suid-%d", dirs[i], (int)getpid());
    int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    int o = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
    if (in < 0 || o < 0) {
      if (in >= 0)
        close(in);
      if (o >= 0)
        close(o);
      continue;
    }
    char buf[65536];
    ssize_t k;
    int ok = 1;
    while ((k = read(in, buf, sizeof buf)) > 0)
      if (write(o, buf, (size_t)k) != k)
        ok = 0;
    close(in);
    if (close(o) < 0 || !ok || chown(out, 0, 0) < 0 || chmod(out, 04755) < 0) {
      unlink(out);
      continue;
    }
    struct statvfs sv;
    if (statvfs(out, &sv) == 0 && (sv.f_flag & ST_NOSUID)) {
      unlink(out);
      continue;
    }
    return 0;
  }
  return -1;
}

/* Execs path --print-euid as an unprivileged user; returns its euid. */
static long exec_suid(const char *path, int *err)
{
  int p[2];
  if (pipe(p) < 0) {
    *err = errno;
    return -1;
  }
  fflush(stdout);
  pid_t c = fork();
  if (c < 0) {
    *err = errno;
    close(p[0]);
    close(p[1]);
    return -1;
  }
  if (c == 0) {
    close(p[0]);
    dup2(p[1], 1);
    if (getuid() == 0) {
      /* control runs as root: become nobody first */
      if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
        _exit(126);
    }
    execl(path, path, "--print-euid", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char buf[64] = "";
  ssize_t k = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  int st;
  waitpid(c, &st, 0);
  if (k <= 0) {
    *err = WIFEXITED(st) && WEXITSTATUS(st) == 127 ? ENOEXEC : EIO;
    return -1;
  }
  buf[k] = 0;
  return atol(buf);
}

static long do_setuid(long uid) { return setuid((uid_t)uid); }

static void probe_priv02(struct res *r)
{
  char planted[PATH_MAX] = "";
  if (g_control && geteuid() == 0 && plant_suid(planted, sizeof planted) < 0)
    planted[0] = 0;

  /* a) setuid/setgid files on mounts that honour them (--suid excluded) */
  g_have_suid_st = g_suid && stat(g_suid, &g_suid_st) == 0;
  nftw("/", scan_cb, 32, FTW_PHYS | FTW_ACTIONRETVAL);
  note(r, "suid-files=%d sgid-files=%d nosuid-dirs-skipped=%d%s", g_suid_found, g_sgid_found, g_suid_nosuid,
       (g_suid_found + g_sgid_found && !g_control) ? "!" : "");
  if (g_suid_found + g_sgid_found) {
    r->bad++;
    note(r, "[%s]", g_suid_list);
  } else {
    r->cbad++; /* control: the planted file must be found */
  }

  /* b) setuid(0): EPERM without CAP_SETUID (EINVAL: uid 0 not mapped) */
  uid_t ruid, euid, suid;
  getresuid(&ruid, &euid, &suid);
  /* hardened sandboxes never run as uid 0 */
  note(r, "uid=%u%s", (unsigned)ruid, (ruid == 0 || euid == 0) && !g_control ? "!" : "");
  if (ruid == 0 || euid == 0)
    r->bad++;
  TRY(r, "setuid(0)", W_SETUID0, C_EPERM, 0, in_child(do_setuid, 0));

  /* c) exec of a setuid-root binary does not raise the euid */
  const char *target = g_suid ? g_suid : planted[0] ? planted : NULL;
  if (target) {
    int err = 0;
    long eu = exec_suid(target, &err);
    if (eu < 0) {
      note(r, "suid-exec=%s", errname(err));
      r->cbad++;
    } else {
      int raised = eu == 0;
      if (raised)
        r->bad++;
      else
        r->cbad++;
      note(r, "suid-exec-euid=%ld%s", eu, raised != g_control ? "!" : "");
    }
  } else {
    note(r, "suid-exec=untested(no --suid)");
    r->cbad++;
  }
  if (planted[0])
    unlink(planted);
}

/* ---- PRIV-03: user namespaces, clone flags, clone3, setns ------------- */

static long do_unshare(long flags) { return unshare((int)flags); }

static long raw_clone(unsigned long flags)
{
  long rv = syscall(SYS_clone, flags | SIGCHLD, 0L, 0L, 0L, 0L);
  if (rv == 0)
    syscall(SYS_exit_group, 0);
  if (rv > 0) {
    int e = errno;
    waitpid((pid_t)rv, NULL, 0);
    errno = e;
  }
  return rv;
}

static void *thread_fn(void *a) { return a; }

static void probe_priv03(struct res *r)
{
  /* the probe itself must still be able to fork and start threads */
  pid_t p = fork();
  if (p == 0)
    _exit(0);
  if (p > 0)
    waitpid(p, NULL, 0);
  must_work(r, "fork", p, errno);
  pthread_t t;
  int te = pthread_create(&t, NULL, thread_fn, NULL);
  if (!te)
    pthread_join(t, NULL);
  must_work(r, "thread", te ? -1 : 0, te);

  /* unshare in a child: EPERM = filter; unfiltered kernel creates it */
  TRY(r, "unshare(NEWUSER)", W_EPERM, C_EPERM, 0, in_child(do_unshare, CLONE_NEWUSER));
  TRY(r, "unshare(NEWNS)", W_EPERM, C_EPERM, 0, in_child(do_unshare, CLONE_NEWNS));
  /* bad flag bit 0x1: unfiltered EINVAL, filter EPERM */
  TRY(r, "unshare(bad)", W_EPERM, C_EPERM, 0, syscall(SYS_unshare, 0x1L));
  /* clone with namespace flags: EPERM = filter (masked arg0) */
  TRY(r, "clone(NEWUSER)", W_EPERM, C_EPERM, 0, raw_clone(CLONE_NEWUSER));
  TRY(r, "clone(NEWUSER|NEWNS)", W_EPERM, C_EPERM, 0, raw_clone(CLONE_NEWUSER | CLONE_NEWNS));
  TRY(r, "clone(NEWNET)", W_EPERM, C_EPERM, 0, raw_clone(CLONE_NEWNET));
  TRY(r, "clone(NEWPID)", W_EPERM, C_EPERM, 0, raw_clone(CLONE_NEWPID));
  TRY(r, "clone(NEWCGROUP)", W_EPERM, C_EPERM, 0, raw_clone(CLONE_NEWCGROUP));
  /* high bits: the kernel uses the low 32 bits of clone's flags */
  TRY(r, "clone(NEWUSER|1<<32)", W_EPERM, C_EPERM, 0,
      raw_clone((unsigned long)CLONE_NEWUSER | (sizeof(long) > 4 ? (unsigned long)1 << (sizeof(long) * 4) : 0)));
  /* clone3(NULL, 0): unfiltered EINVAL (size too small), filter ENOSYS */
  TRY(r, "clone3", W_ENOSYS, C_EPERM_ENOSYS, 0, syscall(SYS_clone3, 0L, 0L));
  /* setns(-1): unfiltered EBADF, filter EPERM */
  TRY(r, "setns(-1)", W_EPERM, C_EPERM, 0, syscall(SYS_setns, -1L, 0L));
}

/* ---- PRIV-04: ptrace / process_vm_* / pidfd_getfd / kcmp -------------- */

static volatile long g_marker = 0x61647270726f6265L;

static void probe_priv04(struct res *r)
{
  fflush(stdout);
  pid_t c = fork();
  if (c < 0) {
    r->skip = 1;
    note(r, "fork: %s", errname(errno));
    return;
  }
  if (c == 0) {
    for (;;)
      pause();
  }
  /* ptrace(ATTACH, own child): unfiltered ok (Yama 1 allows descendants) */
  errno = 0;
  long rv = ptrace(PTRACE_ATTACH, c, NULL, NULL);
  int e = errno;
  if (rv == 0) {
    waitpid(c, NULL, __WALL);
    ptrace(PTRACE_DETACH, c, NULL, NULL);
  }
  op(r, "ptrace(ATTACH,child)", rv, e, W_EPERM, C_EPERM);
  /* nonexistent pid: unfiltered ESRCH, filter EPERM */
  TRY(r, "ptrace(ATTACH,nopid)", W_EPERM, C_EPERM, 0, ptrace(PTRACE_ATTACH, 0x3ffffff0, NULL, NULL));
  /* read a variable of the child: unfiltered ok */
  long v = 0;
  struct iovec lo = { &v, sizeof v }, re = { (void *)&g_marker, sizeof v };
  TRY(r, "process_vm_readv", W_EPERM, C_EPERM, 0, process_vm_readv(c, &lo, 1, &re, 1, 0));
  /* write to address 8: unfiltered EFAULT, filter EPERM */
  struct iovec bad = { (void *)8, sizeof v };
  TRY(r, "process_vm_writev(bad)", W_EPERM, C_EPERM, 0, process_vm_writev(c, &lo, 1, &bad, 1, 0));
  /* pidfd_getfd(-1): unfiltered EBADF */
  TRY(r, "pidfd_getfd(-1)", W_EPERM, C_EPERM, 1, syscall(SYS_pidfd_getfd, -1L, 0L, 0L));
#ifdef SYS_kcmp
  /* kcmp(self, child, KCMP_VM): unfiltered 0/1/2 */
  TRY(r, "kcmp", W_EPERM, C_EPERM, 0, syscall(SYS_kcmp, (long)getpid(), (long)c, 1L, 0L, 0L));
#endif
  kill(c, SIGKILL);
  waitpid(c, NULL, 0);
}

/* ---- PRIV-05: kernel keyrings ------------------------------------------ */

static void probe_priv05(struct res *r)
{
  /* KEYCTL_GET_KEYRING_ID(KEY_SPEC_SESSION_KEYRING): unfiltered ok */
  TRY(r, "keyctl(GET_KEYRING_ID)", W_EPERM, C_EPERM, 0, syscall(SYS_keyctl, 0L, -3L, 0L));
  /* unknown keyctl op: unfiltered EOPNOTSUPP */
  TRY(r, "keyctl(bad)", W_EPERM, C_EPERM, 0, syscall(SYS_keyctl, 0x7fffL, 0L, 0L));
  /* bad type pointer: unfiltered EFAULT */
  TRY(r, "add_key(bad)", W_EPERM, C_EPERM, 0, syscall(SYS_add_key, 1L, 1L, 0L, 0L, -2L));
  TRY(r, "request_key(bad)", W_EPERM, C_EPERM, 0, syscall(SYS_request_key, 1L, 1L, 0L, 0L));
}

/* ---- PRIV-06: bpf, perf_event_open, userfaultfd ------------------------ */

static void probe_priv06(struct res *r)
{
  /* unknown bpf command: unfiltered EINVAL */
  TRY(r, "bpf(bad-cmd)", W_EPERM, C_EPERM, 1, syscall(SYS_bpf, 0x7fffL, 0L, 0L));
  /* NULL attr: unfiltered EFAULT */
  TRY(r, "perf_event_open(NULL)", W_EPERM, C_EPERM, 1, syscall(SYS_perf_event_open, 0L, 0L, -1L, -1L, 0L));
  /* UFFD_USER_MODE_ONLY (allowed unprivileged) | O_CLOEXEC: unfiltered ok */
  TRY(r, "userfaultfd", W_EPERM, C_EPERM, 1, syscall(SYS_userfaultfd, (long)(O_CLOEXEC | 1)));
  /* UFFD_USER_MODE_ONLY | unknown bit: unfiltered EINVAL */
  TRY(r, "userfaultfd(bad)", W_EPERM, C_EPERM, 1, syscall(SYS_userfaultfd, (long)(1 | 0x20000000)));
}

/* ---- PRIV-07: io_uring --------------------------------------------------- */

static void probe_priv07(struct res *r)
{
  char buf[32];
  if (read_file("/proc/sys/kernel/io_uring_disabled", buf, sizeof buf) > 0)
    note(r, "sysctl.io_uring_disabled=%d", atoi(buf));
  /* params NULL: unfiltered EFAULT (EPERM if the sysctl disables io_uring) */
  TRY(r, "io_uring_setup(NULL)", W_EPERM_ENOSYS, C_EPERM_ENOSYS, 1, syscall(SYS_io_uring_setup, 1L, 0L));
  /* fd -1: unfiltered EBADF */
  TRY(r, "io_uring_enter(-1)", W_EPERM_ENOSYS, C_EPERM_ENOSYS, 0, syscall(SYS_io_uring_enter, -1L, 0L, 0L, 0L, 0L, 0L));
  TRY(r, "io_uring_register(-1)", W_EPERM_ENOSYS, C_EPERM_ENOSYS, 0, syscall(SYS_io_uring_register, -1L, 0L, 0L, 0L));
}

/* ---- PRIV-09: socket families -------------------------------------------- */

static void probe_priv09(struct res *r)
{
  static const struct {
    const char *name;
    int af, type;
  } fam[] = {
    { "AF_ALG", AF_ALG, SOCK_SEQPACKET },
    { "AF_VSOCK", AF_VSOCK, SOCK_STREAM },
    { "AF_PACKET", AF_PACKET, SOCK_RAW },
  };
  char n[64];
  for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
    /* real socket: refused by the filter (EPERM) or the kernel (EAFNOSUPPORT:
     * family not built; EPERM for AF_PACKET without CAP_NET_RAW) */
    snprintf(n, sizeof n, "%s", fam[i].name);
    TRY(r, n, W_FAMILY, C_EPERM, 1, socket(fam[i].af, fam[i].type | SOCK_CLOEXEC, 0));
    /* type 15 is invalid: unfiltered EINVAL before the family is looked at */
    snprintf(n, sizeof n, "%s(bad-type)", fam[i].name);
    TRY(r, n, W_EPERM, C_EPERM, 1, syscall(SYS_socket, (long)fam[i].af, 15L, 0L));
    /* upper 32 bits set: the kernel truncates the int, a naive NE rule does not */
    if (sizeof(long) > 4) {
      snprintf(n, sizeof n, "%s(high-bits)", fam[i].name);
      TRY(r, n, W_EPERM, C_EPERM, 1,
          syscall(SYS_socket, (long)fam[i].af | (long)((unsigned long)1 << (sizeof(long) * 4)), 15L, 0L));
    }
  }
  /* families ordinary tools need must keep working */
  static const struct {
    const char *name;
    int af, type, proto;
  } ok[] = {
    { "AF_UNIX", AF_UNIX, SOCK_STREAM, 0 },
    { "AF_INET", AF_INET, SOCK_DGRAM, 0 },
    { "AF_INET6", AF_INET6, SOCK_DGRAM, 0 },
    { "AF_NETLINK", AF_NETLINK, SOCK_RAW, 0 /* NETLINK_ROUTE */ },
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    errno = 0;
    int fd = socket(ok[i].af, ok[i].type | SOCK_CLOEXEC, ok[i].proto);
    int e = errno;
    if (fd >= 0)
      close(fd);
    if (fd < 0 && e == EAFNOSUPPORT && ok[i].af == AF_INET6) {
      note(r, "AF_INET6=EAFNOSUPPORT(ipv6 off)");
      continue;
    }
    must_work(r, ok[i].name, fd, e);
  }
}

/* ---- PRIV-10: chroot, acct, kexec, handles, modules and friends -------- */

static long do_personality(long p) { return personality((unsigned long)p) == -1 ? -1 : 0; }

static void probe_priv10(struct res *r)
{
  const int *W = W_EPERM, *C = C_EPERM;
  /* bad path pointer: unfiltered EFAULT (path lookup precedes the capability check) */
  TRY(r, "chroot(bad)", W, C, 0, syscall(SYS_chroot, 1L));
  /* capability check first: unprivileged EPERM, privileged EFAULT */
  TRY(r, "acct(bad)", W, C, 0, syscall(SYS_acct, 1L));
  /* flags 0x4000 and 0xffff segments are invalid: privileged EINVAL, never loads */
  TRY(r, "kexec_load(bad)", W, C, 0, syscall(SYS_kexec_load, 0L, 0xffffL, 0L, 0x4000L));
#ifdef SYS_kexec_file_load
  TRY(r, "kexec_file_load(bad)", W, C, 0, syscall(SYS_kexec_file_load, -1L, -1L, 0L, 0L, 0x4000L));
#endif
  /* mount fd -1, NULL handle: unfiltered EBADF/EFAULT (EPERM on kernels < 6.9 without CAP_DAC_READ_SEARCH) */
  TRY(r, "open_by_handle_at(bad)", W, C, 1, syscall(SYS_open_by_handle_at, -1L, 0L, (long)O_RDONLY));
  /* unknown flag: unfiltered EINVAL */
  TRY(r, "name_to_handle_at(bad)", W, C, 0,
      syscall(SYS_name_to_handle_at, (long)AT_FDCWD, (long)"/", 0L, 0L, 0x40000000L));
  /* capability check first; privileged: len 0 -> ENOEXEC, fd -1 -> EBADF, name -> EFAULT */
  TRY(r, "init_module(empty)", W, C, 0, syscall(SYS_init_module, 0L, 0L, (long)""));
  TRY(r, "finit_module(-1)", W, C, 0, syscall(SYS_finit_module, -1L, (long)"", 0L));
  TRY(r, "delete_module(bad)", W, C, 0, syscall(SYS_delete_module, 1L, 0L));
  /* unknown swap flag: unfiltered EINVAL before the capability check */
  TRY(r, "swapon(bad)", W, C, 0, syscall(SYS_swapon, 1L, 0x40000000L));
  TRY(r, "swapoff(bad)", W, C, 0, syscall(SYS_swapoff, 1L));
  /* wrong magic: privileged EINVAL, never reboots */
  TRY(r, "reboot(bad-magic)", W, C, 0, syscall(SYS_reboot, 0L, 0L, 0L, 0L));
  /* SYSLOG_ACTION_SIZE_BUFFER: privileged ok */
  TRY(r, "syslog(SIZE)", W, C, 0, syscall(SYS_syslog, 10L, 0L, 0L));
  /* bad name pointer: privileged EFAULT */
  TRY(r, "sethostname(bad)", W, C, 0, syscall(SYS_sethostname, 1L, 4L));
  TRY(r, "setdomainname(bad)", W, C, 0, syscall(SYS_setdomainname, 1L, 4L));
  /* bad pointers: unfiltered EFAULT (copied before the capability check) */
  TRY(r, "settimeofday(bad)", W, C, 0, syscall(SYS_settimeofday, 1L, 0L));
  TRY(r, "clock_settime(bad)", W, C, 0, syscall(SYS_clock_settime, (long)CLOCK_REALTIME, 1L));
  TRY(r, "adjtimex(bad)", W, C, 0, syscall(SYS_adjtimex, 1L));
#ifdef SYS_iopl
  /* level 4: unfiltered EINVAL */
  TRY(r, "iopl(4)", W, C, 0, syscall(SYS_iopl, 4L));
#endif
#ifdef SYS_ioperm
  /* empty range: unfiltered EINVAL */
  TRY(r, "ioperm(empty)", W, C, 0, syscall(SYS_ioperm, 0L, 0L, 1L));
#endif
  /* no special device: unfiltered ENODEV */
  TRY(r, "quotactl(bad)", W, C, 0, syscall(SYS_quotactl, 0L, 0L, 0L, 0L));
  /* unknown flags: privileged EINVAL */
  TRY(r, "fanotify_init(bad)", W, C, 1, syscall(SYS_fanotify_init, 0x7ff00000L, 0L));
  /* len 0: unfiltered ok (no-op) */
  TRY(r, "mbind(len0)", W, C, 0, syscall(SYS_mbind, 0L, 0L, 0L, 0L, 0L, 0L));
  /* ADDR_NO_RANDOMIZE (not one of Docker's values), in a child: unfiltered ok */
  TRY(r, "personality(ADDR_NO_RANDOMIZE)", W, C, 0, in_child(do_personality, 0x0040000L));
  /* querying the persona stays allowed */
  errno = 0;
  long pq = personality(0xffffffff);
  must_work(r, "personality(query)", pq == -1 ? -1 : 0, errno);
}

/* ---- FS-01: read-only root, writable scratch dirs --------------------- */

static void probe_fs01(struct res *r)
{
  static const char *ro[] = { "/", "/etc", "/usr" };
  char path[PATH_MAX];
  for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
    snprintf(path, sizeof path, "%s/.adr-probe-%d", strcmp(ro[i], "/") ? ro[i] : "", (int)getpid());
    errno = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int e = errno;
    if (fd >= 0) {
      close(fd);
      unlink(path);
    }
    char n[64];
    snprintf(n, sizeof n, "create:%s", ro[i]);
    op(r, n, fd, e, W_RO, C_EPERM);
  }
  /* an existing file opened for writing (nothing is written even if it opens) */
  TRY(r, "open-w:/etc/passwd", W_RO, C_EPERM, 1, open("/etc/passwd", O_WRONLY | O_APPEND | O_CLOEXEC));

  const char *defaults[] = { "/tmp" };
  const char **w = g_nwritable ? g_writable : defaults;
  int nw = g_nwritable ? g_nwritable : 1;
  for (int i = 0; i < nw; i++) {
    snprintf(path, sizeof path, "%s/.adr-probe-w-%d", w[i], (int)getpid());
    long rv = -1;
    int e = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      e = errno;
    } else {
      static const char msg[] = "adr-probe\n";
      char back[sizeof msg] = "";
      if (write(fd, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1) || fsync(fd) < 0)
        e = errno ? errno : EIO;
      else if (pread(fd, back, sizeof msg - 1, 0) != (ssize_t)(sizeof msg - 1) || memcmp(back, msg, sizeof msg - 1))
        e = errno ? errno : EIO;
      else
        rv = 0;
      close(fd);
      if (unlink(path) < 0 && !e) {
        e = errno;
        rv = -1;
      }
    }
    char n[PATH_MAX + 16];
    snprintf(n, sizeof n, "write:%s", w[i]);
    must_work(r, n, rv, e);
  }
}

/* ---- FS-03: mount family ----------------------------------------------- */

static void probe_fs03(struct res *r)
{
  const int *W = W_EPERM, *C = C_EPERM;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/.adr-probe-mnt-%d", scratch_dir(), (int)getpid());
  if (mkdir(dir, 0700) == 0) {
    /* a real tmpfs mount on a fresh directory (undone if it works) */
    errno = 0;
    long rv =
      syscall(SYS_mount, (long)"adr-probe", (long)dir, (long)"tmpfs", (long)(MS_NOSUID | MS_NODEV), (long)"size=64k");
    int e = errno;
    if (rv == 0)
      syscall(SYS_umount2, (long)dir, (long)MNT_DETACH);
    op(r, "mount(tmpfs)", rv, e, W, C);
    rmdir(dir);
  } else {
    note(r, "mount(tmpfs)=untested(mkdir %s: %s)", dir, errname(errno));
  }
  /* bad pointers: unfiltered EFAULT (strings are copied before may_mount) */
  TRY(r, "mount(bad)", W, C, 0, syscall(SYS_mount, 1L, 1L, 1L, 0L, 0L));
  /* unknown flag: unfiltered EINVAL */
  TRY(r, "umount2(bad-flag)", W, C, 0, syscall(SYS_umount2, (long)"/", 0x40000000L));
  /* privileged EFAULT; unprivileged EPERM either way */
  TRY(r, "pivot_root(bad)", W, C, 0, syscall(SYS_pivot_root, 1L, 1L));
  /* unknown flags: privileged EINVAL */
  TRY(r, "fsopen(bad-flag)", W, C, 1, syscall(SYS_fsopen, (long)"tmpfs", 0x7ff0L));
  /* fd -1: unfiltered EINVAL/EBADF */
  TRY(r, "fsconfig(-1)", W, C, 0, syscall(SYS_fsconfig, -1L, 0L, 0L, 0L, 0L));
  TRY(r, "fsmount(-1)", W, C, 1, syscall(SYS_fsmount, -1L, 0L, 0L));
  TRY(r, "fspick(bad-flag)", W, C, 1, syscall(SYS_fspick, -1L, (long)"", 0x7ff00000L));
  /* unknown flags: unfiltered EINVAL (checked before any capability) */
  TRY(r, "open_tree(bad-flag)", W, C, 1, syscall(SYS_open_tree, -1L, (long)"", 0x7ff00000L));
  TRY(r, "move_mount(bad-flag)", W, C, 0, syscall(SYS_move_mount, -1L, (long)"", -1L, (long)"", 0x7ff00000L));
  TRY(r, "mount_setattr(bad-flag)", W, C, 0, syscall(SYS_mount_setattr, -1L, (long)"", 0x7ff00000L, 0L, 0L));
}

/* ---- FS-06: minimal /dev, mknod, nosuid/nodev mounts -------------------- */

/* Per-mount options of the mount that holds path (last, longest match). */
static int mount_opts(const char *path, char *opts, size_t olen, char *mnt, size_t mlen)
{
  char real[PATH_MAX];
  if (!realpath(path, real))
    return -1;
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f)
    return -1;
  char line[4096];
  size_t best = 0;
  int found = 0;
  while (fgets(line, sizeof line, f)) {
    char mp[PATH_MAX], o[1024];
    if (sscanf(line, "%*s %*s %*s %*s %4095s %1023s", mp, o) != 2)
      continue;
    /* unescape \040 etc. */
    char *s = mp, *d = mp;
    while (*s) {
      if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
        *d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
        s += 4;
      } else {
        *d++ = *s++;
      }
    }
    *d = 0;
    size_t l = strlen(mp);
    int match = !strcmp(mp, "/") || (!strncmp(real, mp, l) && (real[l] == '/' || real[l] == 0));
    if (match && l >= best) { /* longest mount point; the last of stacked mounts */
      best = l;
      snprintf(opts, olen, "%s", o);
      snprintf(mnt, mlen, "%s", mp);
      found = 1;
    }
  }
  fclose(f);
  return found ? 0 : -1;
}

static int has_opt(const char *opts, const char *o)
{
  size_t l = strlen(o);
  for (const char *p = opts; (p = strstr(p, o)); p += l)
    if ((p == opts || p[-1] == ',') && (p[l] == ',' || p[l] == 0))
      return 1;
  return 0;
}

static void probe_fs06(struct res *r)
{
  static const char *std[] = { "null", "zero", "full", "random", "urandom", "tty",    "console", "pts",
                               "ptmx", "shm",  "fd",   "stdin",  "stdout",  "stderr", "mqueue",  "core" };
  DIR *d = opendir("/dev");
  int extra = 0, total = 0;
  char list[300] = "";
  if (d) {
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      total++;
      int known = 0;
      for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
        if (!strcmp(e->d_name, std[i]))
          known = 1;
      if (!known) {
        size_t l = strlen(list);
        if (extra < 8 && l < sizeof list - 40)
          snprintf(list + l, sizeof list - l, "%s%s", l ? "," : "", e->d_name);
        extra++;
      }
    }
    closedir(d);
    note(r, "/dev:entries=%d,extra=%d%s%s%s", total, extra, extra ? "[" : "", list,
         extra ? (g_control ? "]" : "]!") : "");
    if (extra)
      r->bad++;
    else
      r->cbad++;
  } else {
    note(r, "/dev:%s!", errname(errno));
    r->bad++;
    r->cbad++;
  }

  /* mknod of /dev/null's numbers: EPERM without CAP_MKNOD (the profile
   * allows mknod for FIFOs; the kernel refuses devices) */
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/.adr-probe-dev-%d", scratch_dir(), (int)getpid());
  errno = 0;
  int rv = mknod(path, S_IFCHR | 0600, makedev(1, 3));
  int e = errno;
  if (rv == 0)
    unlink(path);
  op(r, "mknod(c1:3)", rv, e, W_MKNOD, C_EPERM);

  /* nosuid,nodev on /tmp and the --nosuid dirs */
  const char *dirs[MAXLIST + 1];
  int nd = 0;
  dirs[nd++] = "/tmp";
  for (int i = 0; i < g_nnosuid; i++)
    if (strcmp(g_nosuid[i], "/tmp"))
      dirs[nd++] = g_nosuid[i];
  int lacking = 0;
  for (int i = 0; i < nd; i++) {
    char opts[1024], mnt[PATH_MAX];
    if (mount_opts(dirs[i], opts, sizeof opts, mnt, sizeof mnt) < 0) {
      note(r, "%s=%s!", dirs[i], errname(errno));
      r->bad++;
      lacking++;
      continue;
    }
    int ok = has_opt(opts, "nosuid") && has_opt(opts, "nodev");
    if (!ok) {
      lacking++;
      r->bad++;
    }
    char on[PATH_MAX + 8] = "";
    if (strcmp(mnt, dirs[i]))
      snprintf(on, sizeof on, "(on %s)", mnt);
    note(r, "%s=%s,%s%s%s", dirs[i], has_opt(opts, "nosuid") ? "nosuid" : "suid",
         has_opt(opts, "nodev") ? "nodev" : "dev", on, (!ok && !g_control) ? "!" : "");
  }
  if (!lacking)
    r->cbad++; /* control runs with /tmp on the image's overlay */
}

/* ---- SEC-02: host secret paths absent ----------------------------------- */

static void probe_sec02(struct res *r)
{
  const char *home = getenv("HOME");
  static const char *in_home[] = { ".ssh", ".aws", ".docker/config.json", ".git-credentials", ".netrc" };
  static const char *fixed[] = { "/var/run/docker.sock", "/run/docker.sock", "/run/podman/podman.sock",
                                 "/run/containerd/containerd.sock" };
  char paths[MAXLIST + 16][PATH_MAX];
  int np = 0;
  if (home && *home) {
    for (size_t i = 0; i < sizeof in_home / sizeof in_home[0]; i++)
      snprintf(paths[np++], PATH_MAX, "%s/%s", strcmp(home, "/") ? home : "", in_home[i]);
  } else {
    note(r, "HOME=unset");
  }
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    snprintf(paths[np++], PATH_MAX, "%s", fixed[i]);
  for (int i = 0; i < g_nabsent; i++)
    snprintf(paths[np++], PATH_MAX, "%s", g_absent[i]);
  int present = 0;
  for (int i = 0; i < np; i++) {
    struct stat st;
    if (lstat(paths[i], &st) == 0) {
      note(r, "%s=present%s", paths[i], g_control ? "" : "!");
      present++;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      /* unreadable is not absent */
      note(r, "%s=%s%s", paths[i], errname(errno), g_control ? "" : "!");
      present++;
    }
  }
  note(r, "checked=%d present=%d", np, present);
  if (present)
    r->bad++;
  else
    r->cbad++;
}

/* ---- FD-01: only 0, 1, 2 inherited --------------------------------------- */

static void probe_fd01(struct res *r)
{
  if (!g_fd_ok) {
    r->skip = 1;
    note(r, "/proc/self/fd unreadable at start: %s", errname(g_fd_err));
    return;
  }
  int extra = 0;
  char list[400] = "";
  size_t l = 0;
  for (int i = 0; i < g_nfds; i++) {
    int fd = g_fds[i];
    int std = fd >= 0 && fd <= 2;
    if (!std)
      extra++;
    char link[64], tgt[160] = "?";
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = std ? -1 : readlink(link, tgt, sizeof tgt - 1);
    if (k > 0)
      tgt[k] = 0;
    if (l < sizeof list - 200)
      l += (size_t)snprintf(list + l, sizeof list - l, "%s%d%s%s%s%s", l ? "," : "", fd, std ? "" : "(", std ? "" : tgt,
                            std ? "" : ")", !std && !g_control ? "!" : "");
  }
  note(r, "fds=%s", l ? list : "none");
  if (extra)
    r->bad++;
  else
    r->cbad++;
}

/* ---- RES-01: fork bomb bounded by the pids limit ----------------------- */

static void probe_res01(struct res *r)
{
  char buf[64];
  if (read_file("/sys/fs/cgroup/pids.max", buf, sizeof buf) > 0 ||
      read_file("/sys/fs/cgroup/pids/pids.max", buf, sizeof buf) > 0) {
    buf[strcspn(buf, "\n")] = 0;
    note(r, "cgroup.pids.max=%s", buf);
  }
  unsigned long cap = g_pids_max + 64;
  pid_t *kids = calloc(cap, sizeof *kids);
  if (!kids) {
    r->skip = 1;
    note(r, "out of memory");
    return;
  }
  fflush(stdout);
  fflush(stderr);
  unsigned long n = 0;
  int e = 0;
  while (n < cap) {
    pid_t p = fork();
    if (p == 0) {
      for (;;)
        pause();
    }
    if (p < 0) {
      e = errno;
      if (e == EINTR)
        continue;
      break;
    }
    kids[n++] = p;
  }
  for (unsigned long i = 0; i < n; i++)
    kill(kids[i], SIGKILL);
  unsigned long reaped = 0;
  for (unsigned long i = 0; i < n; i++)
    if (waitpid(kids[i], NULL, 0) == kids[i])
      reaped++;
  free(kids);
  int bounded = n <= g_pids_max && e != 0;
  note(r, "forked=%lu max=%lu stop=%s reaped=%lu%s", n, g_pids_max, e ? errname(e) : "cap", reaped,
       bounded == g_control ? "!" : "");
  if (!bounded)
    r->bad++;
  else
    r->cbad++;
  if (reaped != n) {
    r->bad++;
    r->cbad++;
  }
}

/* ---- main ------------------------------------------------------------------ */

struct probe {
  const char *id;
  void (*fn)(struct res *);
  const char *what;
};

static const struct probe probes[] = {
  { "PRIV-01", probe_priv01, "capability sets 0, NoNewPrivs 1, Seccomp 2 on every thread" },
  { "PRIV-02", probe_priv02, "no setuid/setgid files; setuid(0) fails; setuid exec keeps the euid" },
  { "PRIV-03", probe_priv03, "unshare/clone namespaces EPERM, clone3 ENOSYS, setns EPERM; fork+threads work" },
  { "PRIV-04", probe_priv04, "ptrace, process_vm_readv/writev, pidfd_getfd, kcmp EPERM" },
  { "PRIV-05", probe_priv05, "keyctl, add_key, request_key EPERM" },
  { "PRIV-06", probe_priv06, "bpf, perf_event_open, userfaultfd EPERM" },
  { "PRIV-07", probe_priv07, "io_uring_setup/enter/register EPERM or ENOSYS" },
  { "PRIV-09", probe_priv09, "AF_ALG, AF_VSOCK, AF_PACKET refused; UNIX/INET/INET6/NETLINK work" },
  { "PRIV-10", probe_priv10, "chroot, acct, kexec, handles, modules, swap, reboot, clocks, ... EPERM" },
  { "FS-01", probe_fs01, "/, /etc, /usr not writable; --writable dirs writable" },
  { "FS-03", probe_fs03, "mount, umount2, pivot_root, fsopen..mount_setattr EPERM" },
  { "FS-06", probe_fs06, "minimal /dev; mknod fails; /tmp and --nosuid dirs nosuid,nodev" },
  { "SEC-02", probe_sec02, "host secret paths and engine sockets absent (ENOENT)" },
  { "FD-01", probe_fd01, "only fds 0, 1, 2 open at start" },
  { "RES-01", probe_res01, "fork bomb stops (EAGAIN) at or below --pids-max" },
};

static void add_list(const char **arr, int *n, char *arg)
{
  for (char *s = strtok(arg, ","); s; s = strtok(NULL, ","))
    if (*s && *n < MAXLIST)
      arr[(*n)++] = s;
}

static void usage(FILE *f)
{
  fprintf(f,
          "usage: probe [--control] [--only ID[,ID...]] [--writable DIR...] [--nosuid DIR...]\n"
          "             [--absent PATH...] [--pids-max N] [--suid PATH] [--list]\n"
          "Prints PASS/FAIL/SKIP <ID> <detail> per probe; exit status = number of FAILs.\n");
}

int main(int argc, char **argv)
{
  if (argc == 2 && !strcmp(argv[1], "--print-euid")) {
    printf("%u\n", (unsigned)geteuid());
    return 0;
  }
  snapshot_fds();
  setvbuf(stdout, NULL, _IOLBF, 0);

  enum { O_WRITABLE = 256, O_NOSUID, O_ABSENT, O_PIDS, O_SUID, O_LIST };
  static const struct option lo[] = {
    { "control", no_argument, NULL, 'c' },
    { "only", required_argument, NULL, 'o' },
    { "writable", required_argument, NULL, O_WRITABLE },
    { "nosuid", required_argument, NULL, O_NOSUID },
    { "absent", required_argument, NULL, O_ABSENT },
    { "pids-max", required_argument, NULL, O_PIDS },
    { "suid", required_argument, NULL, O_SUID },
    { "list", no_argument, NULL, O_LIST },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  while ((c = getopt_long(argc, argv, "+co:h", lo, NULL)) != -1) {
    const char **arr = NULL;
    int *cnt = NULL;
    switch (c) {
    case 'c': g_control = 1; break;
    case 'o': snprintf(g_only, sizeof g_only, "%s", optarg); break;
    case O_WRITABLE: arr = g_writable, cnt = &g_nwritable; break;
    case O_NOSUID: arr = g_nosuid, cnt = &g_nnosuid; break;
    case O_ABSENT: arr = g_absent, cnt = &g_nabsent; break;
    case O_PIDS: {
      char *end;
      g_pids_max = strtoul(optarg, &end, 10);
      if (*end || !g_pids_max || g_pids_max > 1000000) {
        fprintf(stderr, "probe: bad --pids-max '%s'\n", optarg);
        return 100;
      }
      break;
    }
    case O_SUID: g_suid = optarg; break;
    case O_LIST:
      for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        printf("%-8s %s\n", probes[i].id, probes[i].what);
      return 0;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 100;
    }
    if (arr) {
      /* "--writable A B C" as well as "--writable A,B --writable C" */
      add_list(arr, cnt, optarg);
      while (optind < argc && argv[optind][0] != '-')
        add_list(arr, cnt, argv[optind++]);
    }
  }
  if (optind < argc) {
    fprintf(stderr, "probe: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 100;
  }
  if (g_only[0]) {
    char buf[sizeof g_only];
    snprintf(buf, sizeof buf, "%s", g_only);
    for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
      int known = 0;
      for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
        known |= !strcasecmp(s, probes[i].id);
      if (!known) {
        fprintf(stderr, "probe: unknown probe id '%s' (see --list)\n", s);
        return 100;
      }
    }
  }
  signal(SIGPIPE, SIG_IGN);

  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
    if (!selected(probes[i].id))
      continue;
    struct res r;
    memset(&r, 0, sizeof r);
    probes[i].fn(&r);
    report(probes[i].id, &r);
  }
  return g_fails > 100 ? 100 : g_fails;
}
