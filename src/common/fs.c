/* File-system and host helpers shared by adr and its libraries. */
#include "fs.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

char *adr_home_dir(void)
{
  const char *h = getenv("HOME");
  if (h && h[0] == '/')
    return xstrdup(h);
  struct passwd *pw = getpwuid(getuid());
  if (pw && pw->pw_dir)
    return xstrdup(pw->pw_dir);
  return xstrdup("/");
}

int adr_mkdir_p(const char *path, unsigned mode, adr_err *err)
{
  cleanup_free char *p = xstrdup(path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, mode) < 0 && errno != EEXIST)
      return adr_err_sys(err, errno, "create directory '%s'", p);
    *s = '/';
  }
  if (mkdir(p, mode) < 0 && errno != EEXIST)
    return adr_err_sys(err, errno, "create directory '%s'", p);
  struct stat st;
  if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
    return adr_err_set(err, ENOTDIR, "create directory '%s': not a directory", p);
  return 0;
}

char *adr_getcwd(void)
{
  char *cwd = getcwd(NULL, 0);
  if (cwd == NULL)
    return NULL;
  const char *pwd = getenv("PWD");
  struct stat a, b;
  if (pwd && pwd[0] == '/' && stat(pwd, &a) == 0 && stat(cwd, &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino) {
    free(cwd);
    return xstrdup(pwd);
  }
  return cwd;
}

int adr_write_existing(const char *path, const char *s)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = write(fd, s, strlen(s));
  int saved = errno;
  close(fd);
  if (n >= 0 && (size_t)n != strlen(s))
    saved = EIO;
  errno = saved;
  return n == (ssize_t)strlen(s) ? 0 : -1;
}
