#include "idmap.h"
#include "fs.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

/* 0 <-> id swapped, every other id maps to itself. */
static char *swap_map(unsigned id)
{
  if (id == 0)
    return xstrdup("0 0 4294967295\n");
  return xasprintf("0 %u 1\n%u 0 1\n1 1 %u\n%u %u %u\n", id, id, id - 1, id + 1, id + 1, 4294967294u - id);
}

/* A user namespace carrying the mapping, held by a child that waits. */
static int userns_fd(uid_t uid, gid_t gid, adr_err *err)
{
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    return adr_err_sys(err, errno, "idmap: pipe");
  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]), close(p[1]);
    return adr_err_sys(err, errno, "idmap: fork");
  }
  if (pid == 0) {
    close(p[1]);
    char c;
    if (unshare(CLONE_NEWUSER) < 0)
      _exit(1);
    /* signal readiness by closing nothing; the parent polls /proc */
    if (read(p[0], &c, 1) < 0)
      _exit(1);
    _exit(0);
  }
  close(p[0]);
  int fd = -1;
  /* wait until the child is in its own user namespace */
  cleanup_free char *self = xstrdup("/proc/self/ns/user");
  cleanup_free char *child = xasprintf("/proc/%d/ns/user", (int)pid);
  struct stat a, b;
  stat(self, &a);
  for (int i = 0; i < 2000; i++) {
    if (stat(child, &b) == 0 && b.st_ino != a.st_ino)
      break;
    usleep(500);
  }
  cleanup_free char *um = xasprintf("/proc/%d/uid_map", (int)pid);
  cleanup_free char *gm = xasprintf("/proc/%d/gid_map", (int)pid);
  cleanup_free char *sg = xasprintf("/proc/%d/setgroups", (int)pid);
  cleanup_free char *umap = swap_map((unsigned)uid), *gmap = swap_map((unsigned)gid);
  if (adr_write_existing(um, umap) < 0) {
    adr_err_sys(err, errno, "idmap: write uid_map");
    goto out;
  }
  adr_write_existing(sg, "deny");
  if (adr_write_existing(gm, gmap) < 0) {
    adr_err_sys(err, errno, "idmap: write gid_map");
    goto out;
  }
  fd = open(child, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    adr_err_sys(err, errno, "idmap: open user namespace");
out:
  close(p[1]); /* child reads EOF and exits */
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return fd;
}

int adr_idmap_mount(const char *src, const char *dst, uid_t uid, gid_t gid, adr_err *err)
{
  struct stat st;
  if (stat(src, &st) < 0)
    return adr_err_sys(err, errno, "idmap: '%s'", src);
  if (S_ISDIR(st.st_mode)) {
    if (mkdir(dst, 0700) < 0 && errno != EEXIST)
      return adr_err_sys(err, errno, "idmap: create '%s'", dst);
  } else {
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
      return adr_err_sys(err, errno, "idmap: create '%s'", dst);
    close(fd);
  }
  int ns = userns_fd(uid, gid, err);
  if (ns < 0)
    return -1;
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) {
    int e = errno;
    close(ns);
    return adr_err_sys(err, e, "idmap: clone mount of '%s'", src);
  }
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (__u64)ns };
  int r = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr));
  int e = errno;
  close(ns);
  if (r < 0) {
    close(tree);
    return adr_err_sys(err, e,
                       "idmap: idmapped mounts are not available for '%s' (Linux >= 5.12 and a supporting filesystem "
                       "needed; or run adr as a non-root user)",
                       src);
  }
  r = (int)syscall(SYS_move_mount, tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH);
  e = errno;
  close(tree);
  if (r < 0)
    return adr_err_sys(err, e, "idmap: mount on '%s'", dst);
  return 0;
}

int adr_idmap_umount(const char *dst, adr_err *err)
{
  if (umount2(dst, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
    return adr_err_sys(err, errno, "unmount '%s'", dst);
  struct stat st;
  if (lstat(dst, &st) == 0) {
    if ((S_ISDIR(st.st_mode) ? rmdir(dst) : unlink(dst)) < 0 && errno != ENOENT)
      return adr_err_sys(err, errno, "remove '%s'", dst);
  }
  return 0;
}

int adr_idmap_umount_dir(const char *dir, adr_err *err)
{
  DIR *d = opendir(dir);
  if (d == NULL)
    return errno == ENOENT ? 0 : adr_err_sys(err, errno, "open '%s'", dir);
  struct dirent *de;
  int ret = 0;
  while ((de = readdir(d)) != NULL) {
    if (streq(de->d_name, ".") || streq(de->d_name, ".."))
      continue;
    cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
    if (adr_idmap_umount(p, err) < 0)
      ret = -1;
  }
  closedir(d);
  if (rmdir(dir) < 0 && errno != ENOENT && ret == 0)
    ret = adr_err_sys(err, errno, "remove '%s'", dir);
  return ret;
}
