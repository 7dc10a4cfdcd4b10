/* Parsers of environment input: -e assignments, --env-file files, and
 * dotenv lines (the agents' own .env files, read by the credential planner). */
#include "parse.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------- env */

int adr_parse_env(const char *s, char **key, char **value, adr_err *err)
{
  const char *eq = strchr(s, '=');
  if (eq == NULL)
    return adr_err_set(err, EINVAL, "invalid environment '%s': expected KEY=VALUE", s);
  if (!adr_valid_env_name(s, (size_t)(eq - s)))
    return adr_err_set(err, EINVAL, "invalid environment '%s': bad variable name", s);
  *key = xstrndup(s, (size_t)(eq - s));
  *value = xstrdup(eq + 1);
  return 0;
}

struct envfile_ctx {
  adr_env_lookup lookup;
  struct strv *out;
  struct strv *unset;
  const char *path;
};

static int envfile_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  (void)err;
  struct envfile_ctx *c = ud;
  if (value == NULL) {
    value = c->lookup ? c->lookup(key) : NULL;
    if (value == NULL) {
      if (c->unset)
        strv_pushf(c->unset, "%s:%u: %s", c->path, line, key);
      return 0;
    }
  }
  strv_pushf(c->out, "%s=%s", key, value);
  return 0;
}

int adr_parse_env_file(const char *path, adr_env_lookup lookup, struct strv *out, struct strv *unset, adr_err *err)
{
  cleanup_buf struct buf b;
  buf_init(&b, 4 << 20);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return adr_err_set(err, EISDIR, "env file '%s': is a directory", path);
  if (buf_read_file(&b, path) < 0)
    return adr_err_sys(err, errno, "env file '%s'", path);
  struct envfile_ctx c = { lookup, out, unset, path };
  return adr_kv_parse(b.data, b.len, path, ADR_KV_ALLOW_BARE, envfile_cb, &c, err);
}

/* One dotenv line, as the dotenv packages read it: optional "export" and
 * blanks, NAME ([A-Za-z0-9_.-]), then "=" (blanks around it) or ": ", then
 * the value (quotes and an unquoted trailing comment removed).  Returns
 * the name's length (0: not an assignment); *val points into line, which
 * is modified. */
size_t adr_parse_dotenv_line(char *line, char **name, char **val)
{
  char *l = line;
  while (*l == ' ' || *l == '\t')
    l++;
  if (str_has_prefix(l, "export") && (l[6] == ' ' || l[6] == '\t')) {
    l += 6;
    while (*l == ' ' || *l == '\t')
      l++;
  }
  size_t n = 0;
  while ((l[n] >= 'A' && l[n] <= 'Z') || (l[n] >= 'a' && l[n] <= 'z') || (l[n] >= '0' && l[n] <= '9') || l[n] == '_' ||
         l[n] == '.' || l[n] == '-')
    n++;
  if (n == 0)
    return 0;
  char *v = l + n;
  while (*v == ' ' || *v == '\t')
    v++;
  if (*v != '=' && !(*v == ':' && (v[1] == ' ' || v[1] == '\t')))
    return 0;
  v++;
  while (*v == ' ' || *v == '\t')
    v++;
  size_t vl = strcspn(v, "\r");
  v[vl] = '\0';
  if (vl >= 2 && (v[0] == '"' || v[0] == '\'' || v[0] == '`') && strchr(v + 1, v[0])) {
    char *q = strchr(v + 1, v[0]);
    *q = '\0';
    v++;
  } else {
    char *hash = strstr(v, " #");
    if (hash)
      *hash = '\0';
    for (size_t e = strlen(v); e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
      v[e - 1] = '\0';
  }
  l[n] = '\0';
  *name = l;
  *val = v;
  return n;
}
