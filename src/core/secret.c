#include "secret.h"

#include "buf.h"
#include "parse.h"
#include "paths.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *adr_secret_dir(void)
{
  cleanup_free char *state = adr_state_dir();
  return xasprintf("%s/secrets", state);
}

bool adr_secret_name_valid(const char *name)
{
  size_t n = strlen(name);
  return n > 0 && n <= 128 && adr_valid_env_name(name, n);
}

bool adr_secret_value_valid(const char *v, size_t len)
{
  if (len == 0 || len > ADR_SECRET_MAX)
    return false;
  for (size_t i = 0; i < len; i++)
    if (v[i] <= ' ' || v[i] >= 0x7f)
      return false;
  return true;
}

static int check_name(const char *name, adr_err *err)
{
  if (!adr_secret_name_valid(name))
    return adr_err_set(err, EINVAL, "invalid secret name '%s' (an environment variable name: A-Z, a-z, 0-9, _)", name);
  return 0;
}

int adr_secret_set(const char *dir, const char *name, const char *value, size_t len, adr_err *err)
{
  if (check_name(name, err) < 0)
    return -1;
  if (!adr_secret_value_valid(value, len))
    return adr_err_set(err, EINVAL, "secret '%s': the value must be 1..%d printable characters without spaces", name,
                       ADR_SECRET_MAX);
  if (adr_mkdir_p(dir, 0700, err) < 0)
    return -1;
  if (chmod(dir, 0700) < 0)
    return adr_err_sys(err, errno, "chmod '%s'", dir);
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  if (write_file_atomic(p, value, len, 0600) < 0)
    return adr_err_sys(err, errno, "write '%s'", p);
  return 0;
}

int adr_secret_get(const char *dir, const char *name, char **out, adr_err *err)
{
  *out = NULL;
  if (check_name(name, err) < 0)
    return -1;
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  cleanup_close int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return 1;
    return adr_err_sys(err, errno, "secret '%s'", name);
  }
  struct stat st;
  if (fstat(fd, &st) < 0)
    return adr_err_sys(err, errno, "secret '%s'", name);
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
    return adr_err_set(err, EPERM, "secret '%s': '%s' must be a regular file of yours with mode 0600", name, p);
  if (st.st_size > ADR_SECRET_MAX)
    return adr_err_set(err, EFBIG, "secret '%s': larger than %d bytes", name, ADR_SECRET_MAX);
  char *v = xmalloc((size_t)st.st_size + 1);
  ssize_t n = read(fd, v, (size_t)st.st_size);
  if (n < 0) {
    int e = errno;
    free(v);
    return adr_err_sys(err, e, "secret '%s'", name);
  }
  v[n] = '\0';
  if (!adr_secret_value_valid(v, (size_t)n)) {
    explicit_bzero(v, (size_t)n);
    free(v);
    return adr_err_set(err, EINVAL, "secret '%s': not a valid value (set it again)", name);
  }
  *out = v;
  return 0;
}

int adr_secret_remove(const char *dir, const char *name, adr_err *err)
{
  if (check_name(name, err) < 0)
    return -1;
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  if (unlink(p) < 0) {
    if (errno == ENOENT)
      return 1;
    return adr_err_sys(err, errno, "remove '%s'", p);
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int adr_secret_list(const char *dir, struct strv *names, adr_err *err)
{
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT)
      return 0;
    return adr_err_sys(err, errno, "'%s'", dir);
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (de->d_name[0] != '.' && adr_secret_name_valid(de->d_name))
      strv_push(names, de->d_name);
  closedir(d);
  if (names->n > 1)
    qsort(names->v, names->n, sizeof(char *), cmp_str);
  return 0;
}
