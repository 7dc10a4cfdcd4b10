/* The native engine's sandbox (sandbox.h).
 *
 *   caller ── fork ──> C1: unshare(user, mount, pid, ipc, uts, net, cgroup);
 *                          the caller writes its uid/gid maps
 *                      C1 ── fork ──> C2, pid 1: mounts, pivot_root, masks;
 *                                     forks C3, drops everything, reaps
 *                                     C2 ── fork ──> C3: drops everything,
 *                                                    seccomp, exec
 * A set-up failure in C1, C2 or C3 is written to a pipe the caller reads
 * (close-on-exec: the program's exec closes it, nothing read means it
 * ran).  Exit statuses travel back C3 -> C2 -> C1 -> the caller. */
#include "sandbox.h"
#include "buf.h"
#include "fs.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sys/capability.h>
#include <net/if.h>
#include <sched.h>
#include <linux/filter.h>
#include <linux/nsfs.h>
#include <linux/seccomp.h>
#include <openssl/evp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

/* ------------------------------------------------------------ seccomp */

static uint32_t action_of(const char *a, json_t *rule, json_t *prof, bool *ok)
{
  *ok = true;
  if (a && streq(a, "SCMP_ACT_ALLOW"))
    return SCMP_ACT_ALLOW;
  if (a && streq(a, "SCMP_ACT_ERRNO")) {
    json_t *r = json_object_get(rule, "errnoRet");
    if (!r)
      r = json_object_get(prof, "defaultErrnoRet");
    return SCMP_ACT_ERRNO(r ? (uint16_t)json_integer_value(r) : EPERM);
  }
  if (a && streq(a, "SCMP_ACT_KILL_PROCESS"))
    return SCMP_ACT_KILL_PROCESS;
  if (a && (streq(a, "SCMP_ACT_KILL") || streq(a, "SCMP_ACT_KILL_THREAD")))
    return SCMP_ACT_KILL;
  *ok = false;
  return 0;
}

static bool op_of(const char *o, enum scmp_compare *c)
{
  static const struct {
    const char *n;
    enum scmp_compare c;
  } ops[] = { { "SCMP_CMP_EQ", SCMP_CMP_EQ },
              { "SCMP_CMP_NE", SCMP_CMP_NE },
              { "SCMP_CMP_LT", SCMP_CMP_LT },
              { "SCMP_CMP_LE", SCMP_CMP_LE },
              { "SCMP_CMP_GT", SCMP_CMP_GT },
              { "SCMP_CMP_GE", SCMP_CMP_GE },
              { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ } };
  for (size_t i = 0; o && i < ARRAY_SIZE(ops); i++)
    if (streq(o, ops[i].n)) {
      *c = ops[i].c;
      return true;
    }
  return false;
}

/* this machine's name in the profile's "includes"/"excludes" arches */
static bool arch_listed(json_t *a)
{
#if defined(__x86_64__)
  static const char *const me[] = { "amd64", "x86_64" };
#elif defined(__aarch64__)
  static const char *const me[] = { "arm64", "aarch64" };
#else
  static const char *const me[] = { "" };
#endif
  size_t i;
  json_t *x;
  json_array_foreach (a, i, x)
    for (size_t k = 0; k < ARRAY_SIZE(me); k++)
      if (json_is_string(x) && streq(json_string_value(x), me[k]))
        return true;
  return false;
}

static scmp_filter_ctx seccomp_build(const char *text, adr_err *err)
{
  json_error_t je;
  json_t *p = json_loads(text, 0, &je);
  if (!p) {
    adr_err_set(err, EINVAL, "seccomp policy: %s", je.text);
    return NULL;
  }
  bool ok;
  uint32_t def = action_of(json_string_value(json_object_get(p, "defaultAction")), NULL, p, &ok);
  scmp_filter_ctx ctx = ok ? seccomp_init(def) : NULL;
  if (!ctx) {
    adr_err_set(err, EINVAL, "seccomp policy: default action '%s' is not supported",
                json_string_value(json_object_get(p, "defaultAction")) ?: "?");
    json_decref(p);
    return NULL;
  }
#if defined(__x86_64__)
  seccomp_arch_add(ctx, SCMP_ARCH_X86);
  seccomp_arch_add(ctx, SCMP_ARCH_X32);
#endif
  size_t i;
  json_t *r;
  json_array_foreach (json_object_get(p, "syscalls"), i, r) {
    json_t *inc = json_object_get(json_object_get(r, "includes"), "arches");
    json_t *exc = json_object_get(json_object_get(r, "excludes"), "arches");
    if ((inc && !arch_listed(inc)) || (exc && arch_listed(exc)))
      continue;
    if (json_object_get(json_object_get(r, "includes"), "caps") ||
        json_object_get(json_object_get(r, "excludes"), "caps"))
      continue; /* capability-dependent rules: no capability is ever held */
    uint32_t act = action_of(json_string_value(json_object_get(r, "action")), r, p, &ok);
    if (!ok) {
      adr_err_set(err, EINVAL, "seccomp policy: rule %zu: action '%s' is not supported", i,
                  json_string_value(json_object_get(r, "action")) ?: "?");
      goto fail;
    }
    struct scmp_arg_cmp args[6];
    unsigned na = 0;
    size_t k;
    json_t *a;
    json_array_foreach (json_object_get(r, "args"), k, a) {
      enum scmp_compare c;
      if (na == 6 || !op_of(json_string_value(json_object_get(a, "op")), &c)) {
        adr_err_set(err, EINVAL, "seccomp policy: rule %zu: argument %zu is not supported", i, k);
        goto fail;
      }
      args[na++] = (struct scmp_arg_cmp){ .arg = (unsigned)json_integer_value(json_object_get(a, "index")),
                                          .op = c,
                                          .datum_a = (scmp_datum_t)json_integer_value(json_object_get(a, "value")),
                                          .datum_b = (scmp_datum_t)json_integer_value(json_object_get(a, "valueTwo")) };
    }
    json_t *n;
    json_array_foreach (json_object_get(r, "names"), k, n) {
      int nr = seccomp_syscall_resolve_name(json_string_value(n));
      if (nr == __NR_SCMP_ERROR)
        continue; /* newer than this libseccomp: the default (refused) */
      if (act == def && na == 0)
        continue;
      int rc = seccomp_rule_add_array(ctx, act, nr, na, args);
      if (rc < 0 && rc != -EEXIST) {
        adr_err_set(err, -rc, "seccomp policy: rule %zu: %s", i, json_string_value(n));
        goto fail;
      }
    }
  }
  json_decref(p);
  return ctx;
fail:
  json_decref(p);
  seccomp_release(ctx);
  return NULL;
}

/* The policy as the BPF program the kernel loads: from cache_dir (keyed by
 * the policy's SHA-256) when it was compiled before, else compiled by
 * libseccomp and kept there.  prog->filter is the caller's to free. */
static int seccomp_bpf(const char *json, const char *cache_dir, struct sock_fprog *prog, adr_err *err)
{
  memset(prog, 0, sizeof(*prog));
  cleanup_free char *path = NULL;
  if (cache_dir) {
    unsigned char md[32];
    unsigned mdl = 0;
    EVP_Digest(json, strlen(json), md, &mdl, EVP_sha256(), NULL);
    char hex[65];
    for (int i = 0; i < 32; i++)
      snprintf(hex + 2 * i, 3, "%02x", md[i]);
    path = xasprintf("%s/seccomp-%s.bpf", cache_dir, hex);
    struct buf b;
    buf_init(&b, 1 << 20);
    if (buf_read_file(&b, path) == 0 && b.len && b.len % sizeof(struct sock_filter) == 0 &&
        b.len / sizeof(struct sock_filter) <= BPF_MAXINSNS) {
      prog->len = (unsigned short)(b.len / sizeof(struct sock_filter));
      prog->filter = (struct sock_filter *)buf_steal(&b);
      return 0;
    }
    buf_free(&b);
  }
  scmp_filter_ctx c = seccomp_build(json, err);
  if (!c)
    return -1;
  int fd = memfd_create("adr-seccomp", MFD_CLOEXEC);
  int rc = fd < 0 ? -errno : seccomp_export_bpf(c, fd);
  seccomp_release(c);
  off_t len = rc == 0 ? lseek(fd, 0, SEEK_END) : -1;
  if (rc < 0 || len <= 0 || len % (off_t)sizeof(struct sock_filter) != 0 ||
      len / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
    if (fd >= 0)
      close(fd);
    return adr_err_set(err, rc < 0 ? -rc : EINVAL, "seccomp policy: could not compile it");
  }
  char *bytes = xmalloc((size_t)len);
  ssize_t got = pread(fd, bytes, (size_t)len, 0);
  close(fd);
  if (got != len) {
    free(bytes);
    return adr_err_set(err, EIO, "seccomp policy: could not read it back");
  }
  if (path)
    write_file_atomic(path, bytes, (size_t)len, 0600); /* a cache: a failure only costs the next run time */
  prog->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
  prog->filter = (struct sock_filter *)bytes;
  return 0;
}

int adr_native_seccomp_check(const char *json, adr_err *err)
{
  scmp_filter_ctx c = seccomp_build(json, err);
  if (!c)
    return -1;
  seccomp_release(c);
  return 0;
}

/* ------------------------------------------------------------ the child */

static int errfd = -1; /* the set-up's report to the caller */

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  n = snprintf(msg + (n > 0 && n < (int)sizeof(msg) ? n : 0), sizeof(msg) - (size_t)(n > 0 ? n : 0), ": %s",
               strerror(errno)) +
      n;
  if (errfd >= 0 && write(errfd, msg, strlen(msg)) < 0)
    _exit(126);
  _exit(126);
}

static void mkdirs(const char *path)
{
  char p[4096];
  snprintf(p, sizeof(p), "%s", path);
  for (char *c = p + 1; *c; c++)
    if (*c == '/') {
      *c = '\0';
      mkdir(p, 0755);
      *c = '/';
    }
  mkdir(p, 0755);
}

/* a mount point for a file (a bind of a device, a masked path) */
static void touch(const char *path)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0)
    close(fd);
}

static void bind_ro(const char *src, const char *dst, unsigned long extra)
{
  if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
    die("bind '%s'", dst);
  /* the flags a user namespace locks must be kept when remounting */
  if (mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | extra, NULL) < 0 &&
      mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | extra, NULL) < 0)
    die("read-only '%s'", dst);
}

static void tmpfs_at(const char *path, const char *shown, uint64_t size, unsigned mode)
{
  char opt[96];
  snprintf(opt, sizeof(opt), "mode=%o,size=%llu", mode ? mode : 01777,
           (unsigned long long)(size ? size : 256ull << 20));
  mkdirs(path);
  if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opt) < 0)
    die("tmpfs '%s'", shown);
}

#define OLD "/.adr-old-root" /* the host's root, until the mounts are made */

/* /sys read-only, with the sandbox's own cgroup (its limits) at
 * /sys/fs/cgroup and the firmware's tables masked (in the new root) */
static void make_sys(const struct adr_ncgroup *cg, const int *cgfd)
{
  char p[8192];
  mkdirs("/sys");
  if (mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
      mount("tmpfs", "/sys", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=4k") < 0)
    die("mount /sys");
  if (access("/sys/fs/cgroup", F_OK) == 0) {
    if (mount("tmpfs", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=4k") < 0)
      die("tmpfs /sys/fs/cgroup");
    for (size_t i = 0; cg && i < cg->dirs.n; i++) {
      const char *d = cg->dirs.v[i];
      char src[64];
      snprintf(src, sizeof(src), "/proc/self/fd/%d", cgfd[i]);
      if (cg->unified) {
        snprintf(p, sizeof(p), "/sys/fs/cgroup");
      } else {
        const char *c = d + strlen("/sys/fs/cgroup/");
        snprintf(p, sizeof(p), "/sys/fs/cgroup/%.*s", (int)strcspn(c, "/"), c);
        mkdir(p, 0755);
      }
      bind_ro(src, p, MS_NOSUID | MS_NODEV | MS_NOEXEC);
    }
    if (mount(NULL, "/sys/fs/cgroup", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0755,size=4k") < 0)
      die("read-only /sys/fs/cgroup");
  }
  static const char *const masked[] = { "/sys/firmware", "/sys/devices/virtual/powercap" };
  for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
    if (access(masked[i], F_OK) == 0 &&
        mount("tmpfs", masked[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0555,size=4k") < 0)
      die("mask %s", masked[i]);
}

/* the root: the layers (overlayfs; writable while it is set up), pivoted
 * into at once, so that every mount point is looked up in it (a symlink
 * of the image's cannot send one, or a directory made for one, out to the
 * host's files); then the mounts, their sources under the old root,
 * /proc, /sys, /dev; the old root goes, the masks come */
static void make_root(const struct adr_native_box *b, const struct adr_ncgroup *cg)
{
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    die("make / private");
  char scratch[4096], root[4200], upper[4200], work[4200];
  snprintf(scratch, sizeof(scratch), "%s", b->run_dir);
  if (mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") < 0)
    die("tmpfs '%s'", scratch);
  snprintf(root, sizeof(root), "%s/root", scratch);
  snprintf(upper, sizeof(upper), "%s/upper", scratch);
  snprintf(work, sizeof(work), "%s/work", scratch);
  mkdir(root, 0755);
  mkdir(upper, 0755);
  mkdir(work, 0755);
  struct buf o;
  buf_init(&o, 0);
  buf_puts(&o, "lowerdir=");
  for (size_t i = b->layers->n; i-- > 0;) /* the top first */
    buf_printf(&o, "%s%s", b->layers->v[i], i ? ":" : "");
  buf_printf(&o, ",upperdir=%s,workdir=%s,userxattr", upper, work);
  if (mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, o.data) < 0) {
    /* as root in the initial namespace the whiteouts are trusted.*: no userxattr */
    char *ux = strstr(o.data, ",userxattr");
    *ux = '\0';
    if (mount("overlay", root, "overlay", MS_NOSUID | MS_NODEV, o.data) < 0)
      die("overlayfs of %zu layers", b->layers->n);
  }
  buf_free(&o);
  /* the mounts' sources, looked up on the host's side (their symlinks
   * are the host's) and mounted from /proc/self/fd once inside */
  int *bfd = xcalloc(b->n_binds + 1, sizeof(int)), *cgfd = xcalloc((cg ? cg->dirs.n : 0) + 1, sizeof(int));
  for (size_t i = 0; i < b->n_binds; i++)
    if ((bfd[i] = open(b->binds[i].src, O_PATH | O_CLOEXEC)) < 0)
      die("mount source '%s'", b->binds[i].src);
  for (size_t i = 0; cg && i < cg->dirs.n; i++)
    if ((cgfd[i] = open(cg->dirs.v[i], O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
      die("cgroup '%s'", cg->dirs.v[i]);
  /* in, the host's root kept at OLD for the devices */
  char p[8192];
  snprintf(p, sizeof(p), "%s" OLD, root);
  rmdir(p); /* an image's own entry of that name: ours */
  if (mkdir(p, 0700) < 0)
    die("'%s' in the image", OLD);
  if (syscall(SYS_pivot_root, root, p) < 0)
    die("pivot_root");
  if (chdir("/") < 0)
    die("chdir /");
  mkdirs("/proc");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
    die("mount /proc");
  for (size_t i = 0; b->tmpfs && i < b->tmpfs->n; i++)
    tmpfs_at(b->tmpfs->v[i], b->tmpfs->v[i], 0, 0);
  for (size_t i = 0; i < b->n_tmpfs_at; i++)
    tmpfs_at(b->tmpfs_at[i].path, b->tmpfs_at[i].path, b->tmpfs_at[i].size, b->tmpfs_at[i].mode);
  for (size_t i = 0; i < b->n_binds; i++) {
    char src[64];
    snprintf(src, sizeof(src), "/proc/self/fd/%d", bfd[i]);
    const char *dst = b->binds[i].dst;
    struct stat st;
    if (fstat(bfd[i], &st) < 0)
      die("mount source '%s'", b->binds[i].src);
    if (S_ISDIR(st.st_mode)) {
      mkdirs(dst);
    } else {
      char parent[4096];
      snprintf(parent, sizeof(parent), "%s", dst);
      char *slash = strrchr(parent, '/');
      if (slash && slash != parent) {
        *slash = '\0';
        mkdirs(parent);
      }
      touch(dst);
    }
    if (b->binds[i].ro)
      bind_ro(src, dst, MS_NOSUID);
    else if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
      die("bind '%s'", dst);
  }
  make_sys(cg, cgfd);
  for (size_t i = 0; i < b->n_binds; i++)
    close(bfd[i]);
  for (size_t i = 0; cg && i < cg->dirs.n; i++)
    close(cgfd[i]);
  free(bfd);
  free(cgfd);
  /* /dev: a tmpfs with the harmless devices of the host's */
  mkdirs("/dev");
  if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
    die("tmpfs /dev");
  static const char *const devs[] = { "null", "zero", "full", "random", "urandom", "tty" };
  for (size_t i = 0; i < ARRAY_SIZE(devs); i++) {
    char src[64];
    snprintf(src, sizeof(src), OLD "/dev/%s", devs[i]);
    snprintf(p, sizeof(p), "/dev/%s", devs[i]);
    touch(p);
    if (mount(src, p, NULL, MS_BIND, NULL) < 0)
      die("bind %s", p);
  }
  static const char *const links[][2] = { { "/proc/self/fd", "fd" },
                                          { "/proc/self/fd/0", "stdin" },
                                          { "/proc/self/fd/1", "stdout" },
                                          { "/proc/self/fd/2", "stderr" } };
  for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
    snprintf(p, sizeof(p), "/dev/%s", links[i][1]);
    if (symlink(links[i][0], p) < 0)
      die("/dev/%s", links[i][1]);
  }
  mkdir("/dev/shm", 01777);
  if (mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=64m") < 0)
    die("/dev/shm");
  /* /dev itself read-only: its devices and /dev/shm are mounts of their own */
  if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
    die("read-only /dev");
  if (umount2(OLD, MNT_DETACH) < 0)
    die("leave the old root");
  rmdir(OLD);
  /* what a sandbox must not read or write of /proc (as Docker masks it) */
  static const char *const masked[] = { "/proc/kcore",       "/proc/keys",          "/proc/timer_list",
                                        "/proc/sched_debug", "/proc/sysrq-trigger", "/proc/latency_stats" };
  for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
    if (access(masked[i], F_OK) == 0 && mount("/dev/null", masked[i], NULL, MS_BIND, NULL) < 0)
      die("mask %s", masked[i]);
  static const char *const ro[] = { "/proc/sys", "/proc/irq", "/proc/bus", "/proc/fs" };
  for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
    if (access(ro[i], F_OK) == 0)
      bind_ro(ro[i], ro[i], MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (b->resolv) {
    /* the image's may be a symlink: replaced, in the sandbox's own root */
    mkdirs("/etc");
    static const char *const files[] = { "/etc/resolv.conf", "/etc/hosts" };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
      char text[1024];
      if (i == 0)
        snprintf(text, sizeof(text), "%s", b->resolv);
      else
        snprintf(text, sizeof(text), "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
                 b->hostname ? b->hostname : "sandbox");
      unlink(files[i]);
      int fd = open(files[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) < 0)
        die("write %s", files[i]);
    }
  }
  /* the root read-only from here on */
  if (!b->rw_root && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
    die("read-only root");
}

/* who a program runs as, and with what */
struct prog {
  const struct strv *argv, *env;
  const char *workdir;
  uid_t uid;
  gid_t gid;
  bool keep_caps, no_nnp, tty;
  const struct strv *writable; /* Landlock: where it may write (its writable mounts) */
  bool rw_root, no_landlock;
  const int *pass_fds; /* left open across exec */
  size_t n_pass_fds;
  /* RLIMIT_NPROC, where no pids cgroup holds the pids limit (0: none).  It
   * counts the processes of the program's uid in the sandbox's own user
   * namespace, which is the sandbox's alone */
  rlim_t nproc;
};

/* ------------------------------------------------------------ Landlock
 *
 * An extra layer where the kernel has it: the program may read and run
 * anything of its root, write only beneath its writable mounts, use the
 * devices of /dev, and write nothing of /proc.  The ABI definitions are
 * carried here, past what the build's headers know; the rights asked for
 * are those of the kernel's ABI (1: the first 13, 2: REFER, 3: TRUNCATE,
 * 5: IOCTL_DEV); no Landlock (ENOSYS, EOPNOTSUPP): the other layers alone. */
#define LL_CREATE_RULESET 444
#define LL_ADD_RULE 445
#define LL_RESTRICT_SELF 446
#define LL_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_EXECUTE (1ULL << 0)
#define LL_WRITE_FILE (1ULL << 1)
#define LL_READ_FILE (1ULL << 2)
#define LL_READ_DIR (1ULL << 3)
#define LL_REMOVE_DIR (1ULL << 4)
#define LL_REMOVE_FILE (1ULL << 5)
#define LL_MAKE_CHAR (1ULL << 6)
#define LL_MAKE_DIR (1ULL << 7)
#define LL_MAKE_REG (1ULL << 8)
#define LL_MAKE_SOCK (1ULL << 9)
#define LL_MAKE_FIFO (1ULL << 10)
#define LL_MAKE_BLOCK (1ULL << 11)
#define LL_MAKE_SYM (1ULL << 12)
#define LL_REFER (1ULL << 13)
#define LL_TRUNCATE (1ULL << 14)
#define LL_IOCTL_DEV (1ULL << 15)

struct ll_ruleset_attr {
  uint64_t handled_access_fs;
};
struct ll_path_beneath {
  uint64_t allowed_access;
  int32_t parent_fd;
} __attribute__((packed));

static uint64_t ll_handled(int abi)
{
  uint64_t h = (LL_MAKE_SYM << 1) - 1; /* ABI 1 */
  if (abi >= 2)
    h |= LL_REFER;
  if (abi >= 3)
    h |= LL_TRUNCATE;
  if (abi >= 5)
    h |= LL_IOCTL_DEV;
  return h;
}

static void ll_allow(int rs, const char *path, uint64_t access, uint64_t handled)
{
  int fd = open(path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    return; /* not in this sandbox (a /dev/shm the spec has not) */
  struct stat st;
  if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) /* a file (a bind of one): a file's rights only */
    access &= LL_EXECUTE | LL_READ_FILE | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV;
  struct ll_path_beneath pb = { .allowed_access = access & handled, .parent_fd = fd };
  if (syscall(LL_ADD_RULE, rs, LL_RULE_PATH_BENEATH, &pb, 0) < 0)
    die("Landlock rule for '%s'", path);
  close(fd);
}

static void landlock(const struct prog *x)
{
  if (x->no_landlock)
    return;
  long abi = syscall(LL_CREATE_RULESET, NULL, 0, LL_VERSION);
  if (abi < 1)
    return; /* the kernel has none */
  uint64_t h = ll_handled((int)abi);
  struct ll_ruleset_attr attr = { .handled_access_fs = h };
  int rs = (int)syscall(LL_CREATE_RULESET, &attr, sizeof(attr), 0);
  if (rs < 0)
    die("Landlock ruleset");
  const uint64_t read = LL_EXECUTE | LL_READ_FILE | LL_READ_DIR,
                 write = LL_WRITE_FILE | LL_REMOVE_DIR | LL_REMOVE_FILE | LL_MAKE_DIR | LL_MAKE_REG | LL_MAKE_SOCK |
                         LL_MAKE_FIFO | LL_MAKE_SYM | LL_REFER | LL_TRUNCATE;
  ll_allow(rs, "/", read | (x->rw_root ? write : 0), h);
  for (size_t i = 0; x->writable && i < x->writable->n; i++)
    ll_allow(rs, x->writable->v[i], read | write, h);
  ll_allow(rs, "/dev/shm", read | write, h);
  ll_allow(rs, "/dev", read | LL_WRITE_FILE | LL_TRUNCATE | LL_IOCTL_DEV, h);
  if (syscall(LL_RESTRICT_SELF, rs, 0) < 0)
    die("Landlock");
  close(rs);
}

/* no capability, none to regain; no new privileges; the policy */
static void drop(const struct prog *x, const struct sock_fprog *sc)
{
  struct rlimit np = { x->nproc, x->nproc };
  if (x->nproc && setrlimit(RLIMIT_NPROC, &np) < 0)
    die("RLIMIT_NPROC");
  /* without no-new-privileges a filter needs CAP_SYS_ADMIN (in the
   * sandbox's user namespace): then it is loaded first, while that is
   * held, and filters the rest of this too */
  bool early = sc && x->no_nnp;
  if (early && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, sc) < 0)
    die("load the seccomp policy");
  /* libcap: the bounding set emptied (every capability this kernel has,
   * past what the build's headers name), the ambient set cleared */
  if (!x->keep_caps)
    for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++)
      if (cap_drop_bound(c) < 0 && errno != EINVAL)
        die("drop capability %d from the bounding set", (int)c);
  cap_reset_ambient();
  if (setgroups(0, NULL) < 0 && errno != EPERM)
    die("setgroups");
  if (setresgid(x->gid, x->gid, x->gid) < 0 || setresuid(x->uid, x->uid, x->uid) < 0)
    die("become %u:%u", (unsigned)x->uid, (unsigned)x->gid);
  if (!x->keep_caps) {
    cap_t none = cap_init(); /* every set empty */
    if (!none || cap_set_proc(none) < 0)
      die("clear capabilities");
    cap_free(none);
  }
  if (!x->no_nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    die("no-new-privileges");
  if (!x->no_nnp) /* Landlock needs no-new-privileges (or a capability it no longer has) */
    landlock(x);
  if (sc && !early && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, sc) < 0)
    die("load the seccomp policy");
}

/* the program itself: nothing of the caller's but stdio, hardened, exec */
static __attribute__((noreturn)) void become(const struct prog *x, const struct sock_fprog *sc)
{
  /* every other descriptor closes at exec, whether its opener asked for
   * that or not */
  if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) < 0)
    die("close the caller's descriptors");
  for (size_t i = 0; i < x->n_pass_fds; i++)
    if (fcntl(x->pass_fds[i], F_SETFD, 0) < 0)
      die("descriptor %d", x->pass_fds[i]);
  if (x->tty && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) < 0))
    die("the terminal");
  /* the caller's signal state is not the program's: defaults, none blocked */
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP)
      signal(sig, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  struct rlimit core = { 0, 0 }; /* no core file: a dump could hold what the program read */
  if (setrlimit(RLIMIT_CORE, &core) < 0)
    die("RLIMIT_CORE");
  drop(x, sc);
  if (chdir(x->workdir ? x->workdir : "/") < 0)
    die("workdir '%s'", x->workdir);
  char **env = x->env ? x->env->v : (char *[]){ NULL };
  for (size_t i = 0; x->env && i < x->env->n; i++)
    if (str_has_prefix(x->env->v[i], "PATH="))
      setenv("PATH", x->env->v[i] + 5, 1); /* execvpe looks the program up in it */
  execvpe(x->argv->v[0], x->argv->v, env);
  die("run '%s'", x->argv->v[0]);
}

static volatile pid_t forward_to; /* pid 1 passes signals to the program */

static void forward(int sig)
{
  if (forward_to > 0)
    kill(forward_to, sig);
}

static int wait_for(pid_t pid)
{
  int st;
  for (;;) {
    pid_t w = waitpid(-1, &st, 0);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return 127;
    if (w == pid)
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
}

/* dies with its parent (which must not be gone already; a parent outside
 * the caller's pid namespace, 0, cannot be checked) */
static void die_with_parent(pid_t parent)
{
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || (parent && getppid() != parent))
    _exit(137);
}

static __attribute__((noreturn)) void pid1(const struct adr_native_box *b, const struct prog *x,
                                           const struct sock_fprog *sc, const struct adr_ncgroup *cg)
{
  die_with_parent(0); /* C1 is outside this pid namespace; set before the set-up, which may take a while */
  make_root(b, cg);
  if (sethostname(b->hostname ? b->hostname : "sandbox", strlen(b->hostname ? b->hostname : "sandbox")) < 0)
    die("hostname");
  if (!b->host_net && !b->join_pid && adr_native_lo_up() < 0)
    die("loopback up");
  /* signals a pid 1 has no handler for are not delivered: pass them on */
  static const int fwd[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };
  struct sigaction sa = { .sa_handler = forward };
  for (size_t i = 0; i < ARRAY_SIZE(fwd); i++)
    sigaction(fwd[i], &sa, NULL);
  pid_t c3 = fork();
  if (c3 < 0)
    die("fork");
  if (c3 == 0)
    become(x, sc);
  forward_to = c3;
  struct prog waiter = *x; /* pid 1 only waits: hardened the same, and more */
  waiter.no_nnp = false;
  waiter.keep_caps = false;
  waiter.writable = NULL; /* it writes nothing at all */
  waiter.rw_root = false;
  drop(&waiter, sc); /* a failure here is still reported */
  close(errfd);
  errfd = -1;
  _exit(wait_for(c3));
}

void adr_native_writable(const struct adr_native_box *b, struct strv *out)
{
  for (size_t i = 0; b->tmpfs && i < b->tmpfs->n; i++)
    strv_push(out, b->tmpfs->v[i]);
  for (size_t i = 0; i < b->n_tmpfs_at; i++)
    strv_push(out, b->tmpfs_at[i].path);
  for (size_t i = 0; i < b->n_binds; i++)
    if (!b->binds[i].ro)
      strv_push(out, b->binds[i].dst);
}

/* The caller's environment (its keys, its tokens) is not the sandbox's:
 * its strings are wiped where they are (/proc/PID/environ reads the
 * original ones, whatever environ points to), then dropped.  The program
 * gets its own (execvpe's). */
static void scrub_env(void)
{
  extern char **environ;
  for (char **e = environ; e && *e; e++)
    explicit_bzero(*e, strlen(*e));
  clearenv();
}

/* the program's stdio on 0, 1, 2 (given fds may be any numbers), and no
 * other descriptor but keep[] */
static void own_fds(const int *stdio, int *keep, size_t nkeep)
{
  if (stdio) {
    int t[3];
    for (int i = 0; i < 3; i++)
      if ((t[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
        die("stdio");
    for (int i = 0; i < 3; i++)
      if (dup2(t[i], i) < 0)
        die("stdio");
  }
  /* keep[] sorted, then everything between closed */
  for (size_t i = 1; i < nkeep; i++)
    for (size_t k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
      int s = keep[k];
      keep[k] = keep[k - 1];
      keep[k - 1] = s;
    }
  unsigned from = 3;
  for (size_t i = 0; i < nkeep; i++) {
    if ((unsigned)keep[i] > from)
      syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0U);
    from = (unsigned)keep[i] + 1;
  }
  syscall(SYS_close_range, from, ~0U, 0U);
}

static __attribute__((noreturn)) void child(const struct adr_native_box *b, int go, int ready,
                                            const struct sock_fprog *sc, const struct adr_ncgroup *cg, pid_t parent,
                                            const int *joinfd)
{
  int *keep = xcalloc(b->n_pass_fds + 5, sizeof(int));
  size_t nkeep = 0;
  keep[nkeep++] = go;
  keep[nkeep++] = ready;
  keep[nkeep++] = errfd;
  if (joinfd) {
    keep[nkeep++] = joinfd[0];
    keep[nkeep++] = joinfd[1];
  }
  for (size_t i = 0; i < b->n_pass_fds; i++)
    keep[nkeep++] = b->pass_fds[i];
  own_fds(b->stdio, keep, nkeep);
  free(keep);
  scrub_env();
  if (adr_ncgroup_enter(cg) < 0)
    die("join the sandbox's cgroup");
  /* the holder's user namespace first: its network namespace is its, and
   * the sandbox's own user namespace becomes a child of it */
  if (joinfd && (setns(joinfd[0], CLONE_NEWUSER) < 0 || setns(joinfd[1], CLONE_NEWNET) < 0))
    die("join the network's namespaces");
  if (joinfd) {
    close(joinfd[0]);
    close(joinfd[1]);
  }
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
              (b->host_net || joinfd ? 0 : CLONE_NEWNET) | (b->host_cgroupns ? 0 : CLONE_NEWCGROUP)) < 0)
    die("new namespaces");
  char c = 0;
  if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1 || c != 1)
    _exit(126); /* the caller reports */
  close(go);
  die_with_parent(parent);
  /* the caller's uid maps to b->uid here, with every capability over the
   * new namespaces (not outside them) until drop() */
  struct prog x = { .argv = b->argv,
                    .env = b->env,
                    .workdir = b->workdir,
                    .uid = b->uid,
                    .gid = b->gid,
                    .keep_caps = b->keep_caps,
                    .no_nnp = b->no_nnp,
                    .tty = b->tty,
                    .rw_root = b->rw_root,
                    .no_landlock = b->no_landlock,
                    .pass_fds = b->pass_fds,
                    .n_pass_fds = b->n_pass_fds,
                    .nproc = (rlim_t)cg->nproc };
  struct strv writable = { 0 };
  adr_native_writable(b, &writable);
  x.writable = &writable;
  pid_t c2 = fork();
  if (c2 < 0)
    die("fork");
  if (c2 == 0) {
    close(ready);
    pid1(b, &x, sc, cg);
  }
  /* the host's pid of the sandbox's pid 1, for exec and signals */
  if (write(ready, &c2, sizeof(c2)) != (ssize_t)sizeof(c2))
    _exit(126);
  close(ready);
  close(errfd);
  _exit(wait_for(c2));
}

/* ------------------------------------------------------------ the caller */

/* What the set-up wrote to the error pipe, if anything: the program ran
 * when it closed with nothing (close-on-exec). */
static int setup_report(int fd, adr_err *err)
{
  char msg[512];
  ssize_t n;
  while ((n = read(fd, msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
    ;
  close(fd);
  if (n > 0) {
    msg[n] = '\0';
    return adr_err_set(err, EPERM, "native sandbox: %s", msg);
  }
  return 0;
}

static int exit_code(pid_t pid)
{
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return 127;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* the caller (outside: hu, hg) maps to b's uid and gid in c1's new user
 * namespace */
static int write_maps(pid_t c1, const struct adr_native_box *b, uid_t hu, gid_t hg, adr_err *err)
{
  char map[64], gmap[64];
  snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)b->uid, (unsigned)hu);
  snprintf(gmap, sizeof(gmap), "%u %u 1\n", (unsigned)b->gid, (unsigned)hg);
  if (adr_native_write_map(c1, "setgroups", "deny", err) < 0 || adr_native_write_map(c1, "uid_map", map, err) < 0 ||
      adr_native_write_map(c1, "gid_map", gmap, err) < 0)
    return -1;
  return 0;
}

/* c1's user namespace is a child of the holder's, where the caller is
 * root: only a process in that parent may write its maps, so a child
 * enters it to write them (the caller's id there is 0) */
static int write_maps_joined(pid_t c1, const struct adr_native_box *b, int userns, adr_err *err)
{
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0)
    return adr_err_sys(err, errno, "pipe");
  pid_t w = fork();
  if (w < 0) {
    int saved = errno;
    close(ep[0]);
    close(ep[1]);
    return adr_err_sys(err, saved, "fork");
  }
  if (w == 0) {
    close(ep[0]);
    adr_err e2 = NULL;
    if (setns(userns, CLONE_NEWUSER) < 0)
      adr_err_sys(&e2, errno, "enter the network's user namespace");
    else
      write_maps(c1, b, 0, 0, &e2);
    if (e2 && write(ep[1], e2->msg, strlen(e2->msg)) < 0)
      _exit(1);
    _exit(e2 ? 1 : 0);
  }
  close(ep[1]);
  char msg[300];
  ssize_t n;
  while ((n = read(ep[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
    ;
  close(ep[0]);
  int code = exit_code(w);
  if (n > 0 || code != 0) {
    msg[n > 0 ? n : 0] = '\0';
    return adr_err_set(err, EPERM, "native sandbox: %s", n > 0 ? msg : "its user namespace's maps");
  }
  return 0;
}

static void close_join(int *jfd)
{
  for (int i = 0; i < 2; i++)
    if (jfd[i] >= 0)
      close(jfd[i]);
  jfd[0] = jfd[1] = -1;
}

/* The holder's user and network namespaces, opened while it is the
 * process that started at b->join_start (not a pid reused since). */
static int open_join(const struct adr_native_box *b, int *jfd, adr_err *err)
{
  static const char *const ns[] = { "user", "net" };
  for (int i = 0; i < 2; i++) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)b->join_pid, ns[i]);
    if ((jfd[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
      int saved = errno;
      close_join(jfd);
      return adr_err_sys(err, saved == ENOENT ? ESRCH : saved, "native sandbox: its network's holder (pid %d)",
                         (int)b->join_pid);
    }
  }
  if (adr_proc_start_time(b->join_pid) != b->join_start) {
    close_join(jfd);
    return adr_err_set(err, ESRCH, "native sandbox: its network's holder (pid %d) is gone", (int)b->join_pid);
  }
  return 0;
}

int adr_native_spawn(const struct adr_native_box *b, struct adr_native_proc *p, adr_err *err)
{
  memset(p, 0, sizeof(*p));
  if (!b->layers || !b->layers->n || !b->argv || !b->argv->n || !b->run_dir)
    return adr_err_set(err, EINVAL, "native sandbox: layers, a program and a run directory are needed");
  struct sock_fprog prog = { 0 };
  if (b->seccomp && seccomp_bpf(b->seccomp, b->cache_dir, &prog, err) < 0)
    return -1;
  const struct sock_fprog *sc = b->seccomp ? &prog : NULL;
  int jfd[2] = { -1, -1 };
  if (b->join_pid && open_join(b, jfd, err) < 0) {
    free(prog.filter);
    return -1;
  }
  int ep[2], gp[2], rp[2];
  if (pipe2(ep, O_CLOEXEC) < 0 || pipe2(gp, O_CLOEXEC) < 0 || pipe2(rp, O_CLOEXEC) < 0) {
    free(prog.filter);
    close_join(jfd);
    return adr_err_sys(err, errno, "pipe");
  }
  uid_t hu = getuid();
  gid_t hg = getgid();
  static unsigned seq;
  char cgname[64];
  snprintf(cgname, sizeof(cgname), "%d-%u", (int)getpid(), ++seq);
  struct strv quiet = { 0 };
  struct adr_ncgroup_limits lim = b->limits;
  lim.pids_by_rlimit = hu != 0;
  adr_ncgroup_make(&p->cg, b->name ? b->name : cgname, &lim, b->warnings ? b->warnings : &quiet);
  strv_free(&quiet);
  pid_t me = getpid();
  pid_t c1 = fork();
  if (c1 < 0) {
    int saved = errno;
    free(prog.filter);
    adr_ncgroup_remove(&p->cg);
    for (int i = 0; i < 2; i++) {
      close(ep[i]);
      close(gp[i]);
      close(rp[i]);
    }
    close_join(jfd);
    return adr_err_sys(err, saved, "fork");
  }
  if (c1 == 0) {
    close(ep[0]);
    close(gp[1]);
    close(rp[0]);
    errfd = ep[1];
    child(b, gp[0], rp[1], sc, &p->cg, me, jfd[0] >= 0 ? jfd : NULL);
  }
  free(prog.filter);
  close(ep[1]);
  close(gp[0]);
  close(rp[1]);
  p->pid = c1;
  char c = 0;
  int ret = 0;
  if (read(rp[0], &c, 1) != 1) {
    ret = -1; /* it failed to unshare: its message follows */
  } else {
    if (jfd[0] >= 0 ? write_maps_joined(c1, b, jfd[0], err) < 0 : write_maps(c1, b, hu, hg, err) < 0)
      ret = -2;
    c = ret == 0 ? 1 : 0;
    if (write(gp[1], &c, 1) != 1 && ret == 0)
      ret = adr_err_sys(err, errno, "start the sandbox");
    if (ret == 0 && read(rp[0], &p->init, sizeof(p->init)) != (ssize_t)sizeof(p->init))
      ret = -1;
  }
  close_join(jfd);
  close(gp[1]);
  close(rp[0]);
  adr_err report = NULL;
  setup_report(ep[0], &report);
  if (ret == 0 && !report)
    return 0;
  exit_code(c1);
  adr_ncgroup_remove(&p->cg);
  if (ret == -2) {
    adr_err_free(&report);
    return -1;
  }
  if (report) {
    adr_err_free(err);
    *err = report;
    return -1;
  }
  return adr_err_set(err, EPERM, "native sandbox: new namespaces refused");
}

int adr_native_reap(struct adr_native_proc *p)
{
  int code = exit_code(p->pid);
  adr_ncgroup_remove(&p->cg);
  return code;
}

int adr_native_run(const struct adr_native_box *b, int *status, adr_err *err)
{
  struct adr_native_proc p;
  if (adr_native_spawn(b, &p, err) < 0)
    return -1;
  *status = adr_native_reap(&p);
  return 0;
}

/* ------------------------------------------------------------ exec */

static __attribute__((noreturn)) void exec_child(const struct adr_native_exec *x, const struct sock_fprog *sc)
{
  int keep[] = { errfd };
  own_fds(x->stdio, keep, ARRAY_SIZE(keep));
  for (size_t i = 0; x->cgroup_dirs && i < x->cgroup_dirs->n; i++) {
    cleanup_free char *procs = xasprintf("%s/cgroup.procs", x->cgroup_dirs->v[i]);
    if (adr_write_existing(procs, "0") < 0)
      die("join the sandbox's cgroup");
  }
  /* every namespace's handle first: /proc/PID is the sandbox's until it ends */
  static const char *const ns[] = { "user", "mnt", "pid", "ipc", "uts", "net", "cgroup" };
  int fds[ARRAY_SIZE(ns)];
  for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)x->init, ns[i]);
    if ((fds[i] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
      die("the sandbox's %s namespace", ns[i]);
  }
  /* a network namespace the sandbox joined (a holder's) belongs to the
   * holder's user namespace, the parent of the sandbox's: entered first,
   * through it, while the caller may */
  bool net_done = false;
  int owner = ioctl(fds[5], NS_GET_USERNS);
  struct stat ost, ust;
  if (owner >= 0 && fstat(owner, &ost) == 0 && fstat(fds[0], &ust) == 0 &&
      (ost.st_ino != ust.st_ino || ost.st_dev != ust.st_dev)) {
    char mine[64], theirs[64], path[64];
    snprintf(path, sizeof(path), "/proc/self/ns/net");
    ssize_t a = readlink(path, mine, sizeof(mine));
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)x->init);
    ssize_t t = readlink(path, theirs, sizeof(theirs));
    if (!(a > 0 && t > 0 && a == t && memcmp(mine, theirs, (size_t)a) == 0)) { /* not the host's */
      if (setns(owner, CLONE_NEWUSER) < 0 || setns(fds[5], CLONE_NEWNET) < 0)
        die("enter the sandbox's network");
      net_done = true;
    }
  }
  if (owner >= 0)
    close(owner);
  for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
    if (i == 5 && net_done)
      continue;
    char mine[64], theirs[64], path[64];
    snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
    ssize_t a = readlink(path, mine, sizeof(mine));
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)x->init, ns[i]);
    ssize_t t = readlink(path, theirs, sizeof(theirs));
    if (a > 0 && t > 0 && a == t && memcmp(mine, theirs, (size_t)a) == 0)
      continue; /* shared already (a cgroup namespace not made private) */
    if (setns(fds[i], 0) < 0)
      die("enter the sandbox's %s namespace", ns[i]);
  }
  pid_t c = fork(); /* into the pid namespace */
  if (c < 0)
    die("fork");
  if (c == 0) {
    die_with_parent(0);
    struct prog p = { .argv = x->argv,
                      .env = x->env,
                      .workdir = x->workdir,
                      .uid = x->uid,
                      .gid = x->gid,
                      .keep_caps = x->keep_caps,
                      .no_nnp = x->no_nnp,
                      .tty = x->tty,
                      .writable = x->writable,
                      .rw_root = x->rw_root };
    /* the sandbox's RLIMIT_NPROC (it is root here, in the sandbox's user
     * namespace, so it may read pid 1's), never above its own */
    struct rlimit np, mine;
    if (prlimit(x->init, RLIMIT_NPROC, NULL, &np) == 0 && getrlimit(RLIMIT_NPROC, &mine) == 0) {
      np.rlim_max = np.rlim_max < mine.rlim_max ? np.rlim_max : mine.rlim_max;
      np.rlim_cur = np.rlim_cur < np.rlim_max ? np.rlim_cur : np.rlim_max;
      if (setrlimit(RLIMIT_NPROC, &np) < 0)
        die("RLIMIT_NPROC");
    }
    become(&p, sc);
  }
  close(errfd);
  _exit(wait_for(c));
}

int adr_native_exec_start(const struct adr_native_exec *x, pid_t *pid, adr_err *err)
{
  if (!x->argv || !x->argv->n || x->init <= 0)
    return adr_err_set(err, EINVAL, "native exec: a program and a running sandbox are needed");
  struct sock_fprog prog = { 0 };
  if (x->seccomp && seccomp_bpf(x->seccomp, x->cache_dir, &prog, err) < 0)
    return -1;
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) < 0) {
    free(prog.filter);
    return adr_err_sys(err, errno, "pipe");
  }
  pid_t c = fork();
  if (c < 0) {
    int saved = errno;
    free(prog.filter);
    close(ep[0]);
    close(ep[1]);
    return adr_err_sys(err, saved, "fork");
  }
  if (c == 0) {
    close(ep[0]);
    errfd = ep[1];
    exec_child(x, x->seccomp ? &prog : NULL);
  }
  free(prog.filter);
  close(ep[1]);
  if (setup_report(ep[0], err) < 0) {
    exit_code(c);
    return -1;
  }
  *pid = c;
  return 0;
}

int adr_native_wait(pid_t pid) { return exit_code(pid); }
