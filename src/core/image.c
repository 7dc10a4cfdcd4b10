#include "image.h"
#include "builtin.h"
#include "parse.h"
#include "paths.h"
#include "tarball.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int add_ca(const char *path, struct strv *files, adr_err *err)
{
  struct buf b;
  buf_init(&b, 1 << 20);
  if (buf_read_file(&b, path) < 0) {
    int e = errno;
    buf_free(&b);
    return adr_err_sys(err, e, "CA certificate '%s'", path);
  }
  bool pem = b.data && strstr(b.data, "-----BEGIN CERTIFICATE-----") != NULL;
  buf_free(&b);
  if (!pem)
    return adr_err_set(err, EINVAL, "CA certificate '%s': not a PEM certificate", path);
  if (!strv_contains(files, path))
    strv_push(files, path);
  return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int add_dir(const char *dir, bool crt_only, struct strv *files, adr_err *err)
{
  DIR *d = opendir(dir);
  if (d == NULL)
    return adr_err_sys(err, errno, "CA directory '%s'", dir);
  struct strv names = { 0 };
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.')
      continue;
    cleanup_free char *p = xasprintf("%s/%s", dir, de->d_name);
    struct stat st;
    if (stat(p, &st) < 0)
      continue;
    if (S_ISDIR(st.st_mode)) {
      if (add_dir(p, crt_only, files, err) < 0) {
        closedir(d);
        strv_free(&names);
        return -1;
      }
      continue;
    }
    if (str_has_suffix(de->d_name, ".crt") || (!crt_only && str_has_suffix(de->d_name, ".pem")))
      strv_push(&names, p);
  }
  closedir(d);
  if (names.n)
    qsort(names.v, names.n, sizeof(char *), cmp_str);
  for (size_t i = 0; i < names.n; i++)
    if (add_ca(names.v[i], files, err) < 0) {
      strv_free(&names);
      return -1;
    }
  strv_free(&names);
  return 0;
}

int adr_extra_ca_files(const char *setting, const char *auto_dir, struct strv *files, adr_err *err)
{
  if (setting == NULL || streq(setting, "none") || *setting == '\0')
    return 0;
  if (streq(setting, "auto")) {
    struct stat st;
    if (stat(auto_dir, &st) < 0)
      return 0;
    return add_dir(auto_dir, true, files, err);
  }
  cleanup_free char *copy = xstrdup(setting);
  char *save = NULL;
  for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
    cleanup_free char *home = adr_home_dir();
    cleanup_free char *p = adr_path_expand_home(tok, home);
    struct stat st;
    if (stat(p, &st) < 0)
      return adr_err_sys(err, errno, "ADR_EXTRA_CA: '%s'", tok);
    if (S_ISDIR(st.st_mode) ? add_dir(p, false, files, err) < 0 : add_ca(p, files, err) < 0)
      return adr_err_prefix(err, "ADR_EXTRA_CA");
  }
  return 0;
}

int adr_build_context(const char *dockerfile_name, const struct strv *ca_files, const struct strv *files,
                      struct buf *tar, adr_err *err)
{
  const struct adr_builtin_file *df = adr_builtin_find(dockerfile_name);
  if (df == NULL)
    return adr_err_set(err, ENOENT, "built-in file '%s' missing", dockerfile_name);
  struct adr_tar *t = adr_tar_new();
  int ret = -1;
  if (adr_tar_add(t, "Dockerfile", df->data, df->len, 0644, err) < 0)
    goto out;
  const struct adr_builtin_file *entry = adr_builtin_find("images/adr-entry.sh");
  if (entry && adr_tar_add(t, "adr-entry.sh", entry->data, entry->len, 0755, err) < 0)
    goto out;
  const struct adr_builtin_file *rentry = adr_builtin_find("images/runner-entry.sh");
  if (files && files->n && rentry && adr_tar_add(t, "runner-entry.sh", rentry->data, rentry->len, 0755, err) < 0)
    goto out;
  for (size_t i = 0; files && i < files->n; i++) {
    const char *eq = strchr(files->v[i], '=');
    if (!eq)
      continue;
    cleanup_free char *name = xstrndup(files->v[i], (size_t)(eq - files->v[i]));
    struct buf b;
    buf_init(&b, 256u << 20);
    if (buf_read_file(&b, eq + 1) < 0) {
      adr_err_sys(err, errno, "read '%s'", eq + 1);
      buf_free(&b);
      goto out;
    }
    int r = adr_tar_add(t, name, b.data, b.len, 0755, err);
    buf_free(&b);
    if (r < 0)
      goto out;
  }
  if (adr_tar_add_dir(t, "certs", err) < 0 || adr_tar_add(t, "certs/.keep", "", 0, 0644, err) < 0)
    goto out;
  for (size_t i = 0; i < ca_files->n; i++) {
    struct buf b;
    buf_init(&b, 1 << 20);
    if (buf_read_file(&b, ca_files->v[i]) < 0) {
      adr_err_sys(err, errno, "CA certificate '%s'", ca_files->v[i]);
      buf_free(&b);
      goto out;
    }
    cleanup_free char *name = xasprintf("certs/adr-extra-%02zu.crt", i);
    int r = adr_tar_add(t, name, b.data, b.len, 0644, err);
    buf_free(&b);
    if (r < 0)
      goto out;
  }
  ret = adr_tar_finish(t, tar, err);
out:
  adr_tar_free(t);
  return ret;
}

static char *npmrc_registry(const char *path)
{
  struct buf b;
  buf_init(&b, 1 << 20);
  char *r = NULL;
  if (buf_read_file(&b, path) == 0) {
    for (char *line = b.data; line && *line;) {
      char *nl = strchr(line, '\n');
      if (nl)
        *nl = '\0';
      while (*line == ' ' || *line == '\t')
        line++;
      if (str_has_prefix(line, "registry")) {
        char *p = line + 8;
        while (*p == ' ' || *p == '\t')
          p++;
        if (*p == '=') {
          p++;
          while (*p == ' ' || *p == '\t')
            p++;
          size_t n = strcspn(p, " \t\r");
          free(r);
          r = xstrndup(p, n);
        }
      }
      line = nl ? nl + 1 : NULL;
    }
  }
  buf_free(&b);
  return r;
}

char *adr_host_npm_registry(void)
{
  const char *e = getenv("npm_config_registry");
  if (!e || !*e)
    e = getenv("NPM_CONFIG_REGISTRY");
  if (e && *e)
    return xstrdup(e);
  cleanup_free char *home = adr_home_dir();
  cleanup_free char *user = xasprintf("%s/.npmrc", home);
  char *r = npmrc_registry(user);
  if (r == NULL)
    r = npmrc_registry("/etc/npmrc");
  return r;
}
