/* devcontainer.json, read (devcontainer.h). */
#include "devcontainer.h"
#include "buf.h"
#include "parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void adr_devcontainer_free(struct adr_devcontainer *d)
{
  free(d->file);
  free(d->image);
  free(d->dockerfile);
  free(d->context);
  strv_free(&d->build_args);
  strv_free(&d->container_env);
  strv_free(&d->remote_env);
  free(d->remote_user);
  free(d->container_user);
  strv_free(&d->mounts);
  free(d->workspace_folder);
  strv_free(&d->post_create);
  strv_free(&d->post_start);
  strv_free(&d->forward_ports);
  strv_free(&d->compose_files);
  free(d->service);
  strv_free(&d->run_services);
  strv_free(&d->features);
  memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------ JSONC */

char *adr_jsonc_strip(const char *t, size_t n, adr_err *err)
{
  const char *nul = memchr(t, '\0', n);
  if (nul) {
    size_t line = 1;
    for (const char *p = t; p < nul; p++)
      line += *p == '\n';
    adr_err_set(err, EINVAL, "line %zu: a NUL byte", line);
    return NULL;
  }
  struct buf out;
  buf_init(&out, 0);
  size_t line = 1;
  for (size_t i = 0; i < n;) {
    char c = t[i];
    if (c == '\n')
      line++;

    if (c == '"') { /* a string, escapes and all */
      size_t start = i++;
      while (i < n && t[i] != '"' && t[i] != '\n') {
        if (t[i] == '\\' && i + 1 < n)
          i++;
        i++;
      }
      if (i >= n || t[i] != '"') {
        buf_free(&out);
        adr_err_set(err, EINVAL, "line %zu: a string is not closed", line);
        return NULL;
      }
      i++;
      buf_append(&out, t + start, i - start);
    } else if (c == '/' && i + 1 < n && t[i + 1] == '/') {
      while (i < n && t[i] != '\n')
        i++;
    } else if (c == '/' && i + 1 < n && t[i + 1] == '*') {
      size_t at = line;
      i += 2;
      while (i + 1 < n && !(t[i] == '*' && t[i + 1] == '/')) {
        if (t[i] == '\n') {
          line++;
          buf_append(&out, "\n", 1); /* jansson's line numbers stay right */
        }
        i++;
      }
      if (i + 1 >= n) {
        buf_free(&out);
        adr_err_set(err, EINVAL, "line %zu: a comment is not closed", at);
        return NULL;
      }
      i += 2;
      buf_append(&out, " ", 1);
    } else if (c == ',') { /* trailing: only blanks and comments before } or ] */
      size_t j = i + 1;
      for (;;) {
        while (j < n && strchr(" \t\r\n", t[j]))
          j++;
        if (j + 1 < n && t[j] == '/' && t[j + 1] == '/') {
          while (j < n && t[j] != '\n')
            j++;
        } else if (j + 1 < n && t[j] == '/' && t[j + 1] == '*') {
          const char *e = j + 2 < n ? memmem(t + j + 2, n - j - 2, "*/", 2) : NULL; /* not past n */
          if (!e)
            break;
          j = (size_t)(e - t) + 2;
        } else {
          break;
        }
      }
      if (!(j < n && (t[j] == '}' || t[j] == ']')))
        buf_append(&out, ",", 1);
      i++;
    } else {
      buf_append(&out, &c, 1);
      i++;
    }
  }
  if (!out.data)
    return xstrdup("");
  return out.data;
}

/* ------------------------------------------------------------ variables */

bool adr_devcontainer_env_allowed(const struct adr_devcontainer_vars *v, const char *name)
{
  static const char *const harmless[] = { ADR_DEVCONTAINER_ENV_HARMLESS };
  for (size_t i = 0; i < ARRAY_SIZE(harmless); i++)
    if (streq(name, harmless[i]))
      return true;
  return v->env_allow && strv_contains(v->env_allow, name);
}

static char *expand(const char *s, const struct adr_devcontainer_vars *v)
{
  struct buf b;
  buf_init(&b, 0);
  for (const char *p = s; *p;) {
    const char *end = NULL;
    if (p[0] == '$' && p[1] == '{' && (end = strchr(p + 2, '}'))) {
      cleanup_free char *name = xstrndup(p + 2, (size_t)(end - p - 2));
      const char *val = NULL;
      cleanup_free char *base = NULL;
      if (streq(name, "localWorkspaceFolder")) {
        val = v->local_workspace;
      } else if (streq(name, "containerWorkspaceFolder")) {
        val = v->container_workspace;
      } else if (streq(name, "localWorkspaceFolderBasename") && v->local_workspace) {
        const char *sl = strrchr(v->local_workspace, '/');
        val = base = xstrdup(sl ? sl + 1 : v->local_workspace);
      } else if (str_has_prefix(name, "localEnv:") || str_has_prefix(name, "env:")) {
        char *var = strchr(name, ':') + 1, *def = strchr(var, ':');
        if (def)
          *def++ = '\0';
        const char *got = NULL;
        if (adr_devcontainer_env_allowed(v, var))
          got = v->getenv_fn ? v->getenv_fn(var) : getenv(var);
        else if (v->withheld && !strv_contains(v->withheld, var))
          strv_push(v->withheld, var);
        val = got ? got : def ? def : "";
      }
      if (val) {
        buf_puts(&b, val);
        p = end + 1;
        continue;
      }
      /* others (${containerEnv:X}, unknown): left as they are */
    }
    buf_append(&b, p, 1);
    p++;
  }
  return b.data ? b.data : xstrdup("");
}

/* ------------------------------------------------------------ fields */

struct ctx {
  const char *file, *dir;
  const struct adr_devcontainer_vars *v;
  adr_err *err;
};

static int bad(struct ctx *c, const char *field, const char *what)
{
  return adr_err_set(c->err, EINVAL, "%s: '%s' %s", c->file, field, what);
}

/* An optional string: 0 (NULL when absent), -1. */
static int str_field(struct ctx *c, json_t *o, const char *key, char **out)
{
  json_t *x = json_object_get(o, key);
  if (!x || json_is_null(x))
    return 0;
  if (!json_is_string(x))
    return bad(c, key, "is a string");
  free(*out);
  *out = expand(json_string_value(x), c->v);
  return 0;
}

static char *abs_path(struct ctx *c, const char *rel)
{
  if (rel[0] == '/')
    return xstrdup(rel);
  return xasprintf("%s/%s", c->dir, rel);
}

/* {"KEY": "value"} as KEY=VALUE (variables expanded). */
static int env_field(struct ctx *c, json_t *o, const char *key, struct strv *out)
{
  json_t *x = json_object_get(o, key);
  if (!x || json_is_null(x))
    return 0;
  if (!json_is_object(x))
    return bad(c, key, "is an object of strings");
  const char *k;
  json_t *val;
  json_object_foreach (x, k, val) {
    if (!adr_valid_env_name(k, strlen(k)))
      return adr_err_set(c->err, EINVAL, "%s: '%s': '%s' is not an environment variable name", c->file, key, k);
    if (!json_is_string(val) && !json_is_number(val) && !json_is_boolean(val))
      return adr_err_set(c->err, EINVAL, "%s: '%s.%s' is a string", c->file, key, k);
    cleanup_free char *raw = json_is_string(val)    ? xstrdup(json_string_value(val))
                             : json_is_boolean(val) ? xstrdup(json_is_true(val) ? "true" : "false")
                             : json_is_integer(val) ? xasprintf("%lld", (long long)json_integer_value(val))
                                                    : xasprintf("%g", json_number_value(val));
    cleanup_free char *e = expand(raw, c->v);
    strv_pushf(out, "%s=%s", k, e);
  }
  return 0;
}

/* A lifecycle command: a string (sh -c), or an argv.  The object form
 * (commands in parallel) is refused. */
static int command_field(struct ctx *c, json_t *o, const char *key, struct strv *out)
{
  json_t *x = json_object_get(o, key);
  if (!x || json_is_null(x))
    return 0;
  if (json_is_string(x)) {
    strv_push(out, "/bin/sh");
    strv_push(out, "-c");
    strv_push(out, json_string_value(x));
    return 0;
  }
  if (json_is_array(x) && json_array_size(x) > 0) {
    size_t i;
    json_t *a;
    json_array_foreach (x, i, a) {
      if (!json_is_string(a)) {
        strv_free(out);
        return bad(c, key, "is a string or a list of strings");
      }
      strv_push(out, json_string_value(a));
    }
    return 0;
  }
  if (json_is_object(x))
    return bad(c, key, "as an object (commands in parallel) is not supported by adr: use a string or a list");
  return bad(c, key, "is a string or a list of strings");
}

static int list_field(struct ctx *c, json_t *o, const char *key, struct strv *out, bool paths)
{
  json_t *x = json_object_get(o, key);
  if (!x || json_is_null(x))
    return 0;
  if (json_is_string(x)) {
    cleanup_free char *e = expand(json_string_value(x), c->v);
    strv_push_take(out, paths ? abs_path(c, e) : xstrdup(e));
    return 0;
  }
  if (!json_is_array(x))
    return bad(c, key, "is a list of strings");
  size_t i;
  json_t *a;
  json_array_foreach (x, i, a) {
    if (!json_is_string(a))
      return bad(c, key, "is a list of strings");
    cleanup_free char *e = expand(json_string_value(a), c->v);
    strv_push_take(out, paths ? abs_path(c, e) : xstrdup(e));
  }
  return 0;
}

static int mounts_field(struct ctx *c, json_t *o, struct strv *out)
{
  json_t *x = json_object_get(o, "mounts");
  if (!x || json_is_null(x))
    return 0;
  if (!json_is_array(x))
    return bad(c, "mounts", "is a list");
  size_t i;
  json_t *m;
  json_array_foreach (x, i, m) {
    if (json_is_string(m)) {
      strv_push_take(out, expand(json_string_value(m), c->v));
    } else if (json_is_object(m)) {
      const char *type = json_string_value(json_object_get(m, "type"));
      const char *src = json_string_value(json_object_get(m, "source"));
      const char *dst = json_string_value(json_object_get(m, "target"));
      if (!dst)
        return adr_err_set(c->err, EINVAL, "%s: 'mounts'[%zu] has no target", c->file, i);
      cleanup_free char *s = xasprintf("type=%s,source=%s,target=%s", type ? type : "bind", src ? src : "", dst);
      strv_push_take(out, expand(s, c->v));
    } else {
      return adr_err_set(c->err, EINVAL, "%s: 'mounts'[%zu] is a string or an object", c->file, i);
    }
  }
  return 0;
}

static int ports_field(struct ctx *c, json_t *o, struct strv *out)
{
  json_t *x = json_object_get(o, "forwardPorts");
  if (!x || json_is_null(x))
    return 0;
  if (!json_is_array(x))
    return bad(c, "forwardPorts", "is a list of ports");
  size_t i;
  json_t *p;
  json_array_foreach (x, i, p) {
    if (json_is_integer(p) && json_integer_value(p) > 0 && json_integer_value(p) < 65536) {
      strv_pushf(out, "%lld", (long long)json_integer_value(p));
      continue;
    }
    const char *s = json_string_value(p);
    const char *colon = s ? strrchr(s, ':') : NULL;
    uint64_t port = 0;
    if (colon && colon > s && adr_parse_uint(colon + 1, 65535, &port) == 0 && port > 0) {
      strv_push(out, s);
      continue;
    }
    return adr_err_set(c->err, EINVAL, "%s: 'forwardPorts'[%zu] is a port (1-65535) or \"HOST:PORT\"", c->file, i);
  }
  return 0;
}

int adr_devcontainer_find(const char *ws, char **path)
{
  static const char *const cands[] = { ".devcontainer/devcontainer.json", ".devcontainer.json" };
  for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
    char *p = xasprintf("%s/%s", ws, cands[i]);
    struct stat st;
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
      *path = p;
      return 0;
    }
    free(p);
  }
  *path = NULL;
  return 1;
}

int adr_devcontainer_load(const char *path, const struct adr_devcontainer_vars *vars, struct adr_devcontainer *d,
                          adr_err *err)
{
  memset(d, 0, sizeof(*d));
  struct buf raw;
  buf_init(&raw, ADR_DEVCONTAINER_MAX);
  if (buf_read_file(&raw, path) < 0) {
    int e = errno;
    buf_free(&raw);
    if (e == EFBIG || e == ENOBUFS || e == ENOSPC)
      return adr_err_set(err, EFBIG, "%s: larger than %u bytes", path, ADR_DEVCONTAINER_MAX);
    return adr_err_sys(err, e, "read '%s'", path);
  }
  char *json = adr_jsonc_strip(raw.data ? raw.data : "", raw.len, err);
  buf_free(&raw);
  if (!json)
    return adr_err_prefix(err, "%s", path);
  json_error_t je;
  json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
  free(json);
  if (!o)
    return adr_err_set(err, EINVAL, "%s: line %d: %s", path, je.line, je.text);
  if (!json_is_object(o)) {
    json_decref(o);
    return adr_err_set(err, EINVAL, "%s: not a JSON object", path);
  }
  cleanup_free char *dir = xstrdup(path);
  char *sl = strrchr(dir, '/');
  if (sl)
    *sl = '\0';
  struct adr_devcontainer_vars none = { 0 };
  struct ctx c = { .file = path, .dir = sl ? dir : ".", .v = vars ? vars : &none, .err = err };
  d->file = xstrdup(path);
  json_t *build = json_object_get(o, "build");
  char *df = NULL, *ctxdir = NULL;
  int r = 0;
  if (build && !json_is_object(build))
    r = bad(&c, "build", "is an object");
  if (r == 0)
    r = str_field(&c, o, "image", &d->image);
  if (r == 0)
    r = str_field(&c, o, "dockerFile", &df); /* the old spelling */
  if (r == 0 && build)
    r = str_field(&c, build, "dockerfile", &df);
  if (r == 0 && build)
    r = str_field(&c, build, "context", &ctxdir);
  if (r == 0 && build)
    r = env_field(&c, build, "args", &d->build_args);
  if (r == 0 && df) {
    d->dockerfile = abs_path(&c, df);
    d->context = abs_path(&c, ctxdir ? ctxdir : ".");
  }
  free(df);
  free(ctxdir);
  if (r == 0)
    r = env_field(&c, o, "containerEnv", &d->container_env);
  if (r == 0)
    r = env_field(&c, o, "remoteEnv", &d->remote_env);
  if (r == 0)
    r = str_field(&c, o, "remoteUser", &d->remote_user);
  if (r == 0)
    r = str_field(&c, o, "containerUser", &d->container_user);
  if (r == 0)
    r = mounts_field(&c, o, &d->mounts);
  if (r == 0)
    r = str_field(&c, o, "workspaceFolder", &d->workspace_folder);
  if (r == 0)
    r = command_field(&c, o, "postCreateCommand", &d->post_create);
  if (r == 0)
    r = command_field(&c, o, "postStartCommand", &d->post_start);
  if (r == 0)
    r = ports_field(&c, o, &d->forward_ports);
  if (r == 0)
    r = list_field(&c, o, "dockerComposeFile", &d->compose_files, true);
  if (r == 0)
    r = str_field(&c, o, "service", &d->service);
  if (r == 0)
    r = list_field(&c, o, "runServices", &d->run_services, false);
  json_t *feat = json_object_get(o, "features");
  if (r == 0 && feat && !json_is_null(feat)) {
    if (!json_is_object(feat)) {
      r = bad(&c, "features", "is an object");
    } else {
      const char *k;
      json_t *val;
      json_object_foreach (feat, k, val) {
        strv_push(&d->features, k);
      }
    }
  }
  if (r == 0 && !d->image && !d->dockerfile && !d->compose_files.n)
    r = adr_err_set(err, EINVAL, "%s: names no 'image', 'build.dockerfile' or 'dockerComposeFile'", path);
  if (r == 0 && d->compose_files.n && !d->service)
    r = adr_err_set(err, EINVAL, "%s: 'dockerComposeFile' needs a 'service'", path);
  json_decref(o);
  if (r < 0)
    adr_devcontainer_free(d);
  return r;
}
