/* A dev container's compose files (compose.h). */
#include "compose.h"
#include "buf.h"
#include "devcontainer.h"
#include "parse.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

void adr_compose_free(struct adr_compose *c)
{
  for (size_t i = 0; i < c->n; i++) {
    struct adr_compose_service *s = &c->v[i];
    free(s->name);
    free(s->image);
    free(s->build_context);
    free(s->build_dockerfile);
    strv_free(&s->build_args);
    strv_free(&s->env);
    strv_free(&s->command);
    strv_free(&s->entrypoint);
    free(s->user);
    free(s->working_dir);
    strv_free(&s->depends_on);
    strv_free(&s->binds);
    strv_free(&s->tmpfs);
    strv_free(&s->health_test);
  }
  free(c->v);
  strv_free(&c->warnings);
  memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------------------ YAML as JSON */

struct conv {
  yaml_document_t *doc;
  size_t nodes; /* made so far: aliases expanded, bounded */
  const char *file;
  adr_err *err;
};

static json_t *node_json(struct conv *cv, yaml_node_t *n, int depth);

/* A plain scalar that YAML reads as null; everything else stays a string
 * (Compose reads numbers and booleans as the strings they are). */
static bool is_null(const yaml_node_t *n)
{
  if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
    return false;
  const char *s = (const char *)n->data.scalar.value;
  return n->data.scalar.length == 0 || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

/* A mapping's "<<" value (a mapping, or a list of them) fills the keys
 * the mapping does not set itself. */
static int merge_into(struct conv *cv, json_t *o, yaml_node_t *v, int depth)
{
  if (v->type == YAML_SEQUENCE_NODE) {
    for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
      yaml_node_t *m = yaml_document_get_node(cv->doc, *it);
      if (!m || m->type != YAML_MAPPING_NODE || merge_into(cv, o, m, depth) < 0)
        return m && m->type == YAML_MAPPING_NODE ? -1
                                                 : adr_err_set(cv->err, EINVAL, "%s: '<<' merges mappings", cv->file);
    }
    return 0;
  }
  if (v->type != YAML_MAPPING_NODE)
    return adr_err_set(cv->err, EINVAL, "%s: '<<' merges mappings", cv->file);
  json_t *m = node_json(cv, v, depth + 1);
  if (!m)
    return -1;
  json_object_update_missing(o, m);
  json_decref(m);
  return 0;
}

static json_t *node_json(struct conv *cv, yaml_node_t *n, int depth)
{
  if (++cv->nodes > ADR_COMPOSE_NODES) {
    adr_err_set(cv->err, E2BIG, "%s: over %u YAML nodes (aliases expanded)", cv->file, ADR_COMPOSE_NODES);
    return NULL;
  }
  if (depth > ADR_COMPOSE_DEPTH) {
    adr_err_set(cv->err, E2BIG, "%s: nested deeper than %d", cv->file, ADR_COMPOSE_DEPTH);
    return NULL;
  }
  switch (n->type) {
  case YAML_SCALAR_NODE:
    if (is_null(n))
      return json_null();
    {
      json_t *s = json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
      if (!s)
        adr_err_set(cv->err, EILSEQ, "%s: a value that is not UTF-8, or holds a NUL", cv->file);
      return s;
    }
  case YAML_SEQUENCE_NODE: {
    json_t *a = json_array();
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
      yaml_node_t *c = yaml_document_get_node(cv->doc, *it);
      json_t *x = c ? node_json(cv, c, depth + 1) : NULL;
      if (!x) {
        json_decref(a);
        return NULL;
      }
      json_array_append_new(a, x);
    }
    return a;
  }
  case YAML_MAPPING_NODE: {
    json_t *o = json_object();
    yaml_node_t *merge = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
      yaml_node_t *k = yaml_document_get_node(cv->doc, p->key), *v = yaml_document_get_node(cv->doc, p->value);
      if (!k || !v || k->type != YAML_SCALAR_NODE) {
        adr_err_set(cv->err, EINVAL, "%s: a mapping key that is not a string", cv->file);
        json_decref(o);
        return NULL;
      }
      cleanup_free char *key = xstrndup((const char *)k->data.scalar.value, k->data.scalar.length);
      if (strlen(key) != k->data.scalar.length) {
        adr_err_set(cv->err, EILSEQ, "%s: a key holds a NUL", cv->file);
        json_decref(o);
        return NULL;
      }
      if (streq(key, "<<") && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        merge = v;
        continue;
      }
      json_t *x = node_json(cv, v, depth + 1);
      if (!x || json_object_set_new(o, key, x) < 0) {
        if (x)
          adr_err_set(cv->err, EILSEQ, "%s: key '%s' is not UTF-8", cv->file, key);
        json_decref(o);
        return NULL;
      }
    }
    if (merge && merge_into(cv, o, merge, depth) < 0) {
      json_decref(o);
      return NULL;
    }
    return o;
  }
  case YAML_NO_NODE:
  default: adr_err_set(cv->err, EINVAL, "%s: an empty YAML node", cv->file); return NULL;
  }
}

/* The first document of text as JSON. */
static json_t *yaml_json(const char *text, size_t len, const char *file, adr_err *err)
{
  if (len > ADR_COMPOSE_MAX) {
    adr_err_set(err, EFBIG, "%s: over %u bytes", file, ADR_COMPOSE_MAX);
    return NULL;
  }
  yaml_parser_t p;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&p))
    abort(); /* out of memory */
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  if (!yaml_parser_load(&p, &doc)) {
    adr_err_set(err, EINVAL, "%s:%zu: %s", file, p.problem_mark.line + 1, p.problem ? p.problem : "not YAML");
    yaml_parser_delete(&p);
    return NULL;
  }
  struct conv cv = { .doc = &doc, .file = file, .err = err };
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  json_t *j = root ? node_json(&cv, root, 0) : json_object();
  yaml_document_delete(&doc);
  yaml_parser_delete(&p);
  return j;
}

/* ------------------------------------------------------------ interpolation */

struct interp {
  const struct adr_compose_vars *v;
  struct strv dotenv; /* KEY=VALUE */
  struct strv *unset; /* names used and set nowhere */
  const char *file;
  adr_err *err;
};

static const char *dotenv_get(const struct strv *d, const char *name)
{
  size_t nl = strlen(name);
  for (size_t i = d->n; i-- > 0;)
    if (strncmp(d->v[i], name, nl) == 0 && d->v[i][nl] == '=')
      return d->v[i] + nl + 1;
  return NULL;
}

/* The host's, for the names a project file may read; else the .env's. */
static const char *var_get(struct interp *ip, const char *name)
{
  struct adr_devcontainer_vars dv = { .env_allow = ip->v ? ip->v->env_allow : NULL };
  const char *host = NULL;
  bool allowed = adr_devcontainer_env_allowed(&dv, name);
  if (ip->v && ip->v->getenv_fn)
    host = ip->v->getenv_fn(name);
  if (host && allowed)
    return host;
  const char *d = dotenv_get(&ip->dotenv, name);
  if (!d && host && ip->v && ip->v->withheld && !strv_contains(ip->v->withheld, name))
    strv_push(ip->v->withheld, name);
  return d;
}

static bool name_char(char ch, bool first)
{
  return ch == '_' || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (!first && ch >= '0' && ch <= '9');
}

static char *interpolate(struct interp *ip, const char *s)
{
  struct buf b;
  buf_init(&b, ADR_COMPOSE_MAX);
  for (const char *p = s; *p;) {
    if (p[0] != '$') {
      buf_append(&b, p++, 1);
      continue;
    }
    if (p[1] == '$') {
      buf_puts(&b, "$");
      p += 2;
      continue;
    }
    size_t n = 0;
    const char *name = NULL, *op = NULL, *arg = NULL, *next;
    size_t oplen = 0, arglen = 0;
    if (p[1] == '{' && !strchr(p, '}')) {
      free(buf_steal(&b));
      adr_err_set(ip->err, EINVAL, "%s: '%s': an unterminated ${...}", ip->file, s);
      return NULL;
    }
    if (p[1] == '{') {
      const char *q = p + 2;
      while (name_char(q[n], n == 0))
        n++;
      name = q;
      const char *r = q + n;
      if (*r == '}') {
        next = r + 1;
      } else if ((r[0] == ':' && (r[1] == '-' || r[1] == '?')) || r[0] == '-' || r[0] == '?') {
        op = r;
        oplen = r[0] == ':' ? 2 : 1;
        arg = r + oplen;
        const char *end = strchr(arg, '}');
        if (!end || n == 0) {
          free(buf_steal(&b));
          adr_err_set(ip->err, EINVAL, "%s: '%s': an unterminated ${...}", ip->file, s);
          return NULL;
        }
        arglen = (size_t)(end - arg);
        next = end + 1;
      } else {
        free(buf_steal(&b));
        adr_err_set(ip->err, EINVAL, "%s: '%s': a bad ${...}", ip->file, s);
        return NULL;
      }
      if (n == 0) {
        free(buf_steal(&b));
        adr_err_set(ip->err, EINVAL, "%s: '%s': a bad ${...}", ip->file, s);
        return NULL;
      }
    } else if (name_char(p[1], true)) {
      name = p + 1;
      while (name_char(name[n], n == 0))
        n++;
      next = name + n;
    } else {
      buf_append(&b, p++, 1);
      continue;
    }
    cleanup_free char *nm = xstrndup(name, n);
    const char *val = var_get(ip, nm);
    bool colon = op && op[0] == ':';
    bool missing = !val || (colon && !*val);
    if (op && (op[oplen - 1] == '-') && missing) {
      cleanup_free char *def = xstrndup(arg, arglen);
      cleanup_free char *e = interpolate(ip, def);
      if (!e) {
        free(buf_steal(&b));
        return NULL;
      }
      buf_puts(&b, e);
    } else if (op && op[oplen - 1] == '?' && missing) {
      free(buf_steal(&b));
      adr_err_set(ip->err, EINVAL, "%s: %s is needed: %.*s", ip->file, nm, (int)arglen, arg);
      return NULL;
    } else {
      if (!val && ip->unset && !strv_contains(ip->unset, nm))
        strv_push(ip->unset, nm);
      buf_puts(&b, val ? val : "");
    }
    p = next;
  }
  if (b.overflow) {
    free(buf_steal(&b));
    adr_err_set(ip->err, E2BIG, "%s: a value over %u bytes once interpolated", ip->file, ADR_COMPOSE_MAX);
    return NULL;
  }
  return buf_steal(&b);
}

/* Every string value of j, in place. */
static int interpolate_all(struct interp *ip, json_t *j)
{
  if (json_is_string(j)) {
    cleanup_free char *s = interpolate(ip, json_string_value(j));
    if (!s)
      return -1;
    if (json_string_set(j, s) < 0)
      return adr_err_set(ip->err, EILSEQ, "%s: an interpolated value is not UTF-8", ip->file);
    return 0;
  }
  if (json_is_array(j)) {
    size_t i;
    json_t *x;
    json_array_foreach (j, i, x)
      if (interpolate_all(ip, x) < 0)
        return -1;
  } else if (json_is_object(j)) {
    const char *k;
    json_t *x;
    json_object_foreach (j, k, x)
      if (interpolate_all(ip, x) < 0)
        return -1;
  }
  return 0;
}

static void dotenv_parse(const char *text, struct strv *out)
{
  cleanup_free char *copy = xstrdup(text);
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *name, *val;
    line[strcspn(line, "\r")] = '\0';
    size_t nl = adr_parse_dotenv_line(line, &name, &val);
    if (nl)
      strv_pushf(out, "%.*s=%s", (int)nl, name, val);
  }
}

/* ------------------------------------------------------------ services */

struct ctx {
  const char *file, *dir, *svc;
  const struct adr_compose_vars *v;
  struct adr_compose *c;
  adr_err *err;
};

static int bad(struct ctx *c, const char *key, const char *what)
{
  return adr_err_set(c->err, EINVAL, "%s: service '%s': '%s' %s", c->file, c->svc, key, what);
}

static int str_of(struct ctx *c, json_t *s, const char *key, char **out)
{
  if (!s || json_is_null(s))
    return 0;
  if (!json_is_string(s))
    return bad(c, key, "is a string");
  free(*out);
  *out = xstrdup(json_string_value(s));
  return 0;
}

/* p against base (when relative), normalised */
static char *abs_in(const char *base, const char *p)
{
  if (p[0] == '/')
    return adr_path_normalize(p);
  cleanup_free char *j = xasprintf("%s/%s", base, p);
  return adr_path_normalize(j);
}

static char *abs_of(struct ctx *c, const char *p) { return abs_in(c->dir, p); }

/* p (absolute) is inside the project: its real path, else NULL */
static char *inside_root(struct ctx *c, const char *p)
{
  char *real = realpath(p, NULL);
  if (!real || !c->v || !c->v->root)
    return real;
  size_t rl = strlen(c->v->root);
  if (strncmp(real, c->v->root, rl) == 0 && (real[rl] == '/' || real[rl] == '\0'))
    return real;
  free(real);
  return NULL;
}

/* KEY=VALUE from a mapping, or a list of "KEY=VALUE" (a lone KEY is left
 * out: it would read the host's environment). */
static int kv_of(struct ctx *c, json_t *x, const char *key, struct strv *out)
{
  if (!x || json_is_null(x))
    return 0;
  if (json_is_object(x)) {
    const char *k;
    json_t *val;
    json_object_foreach (x, k, val) {
      if (!json_is_string(val) && !json_is_null(val))
        return bad(c, key, "maps names to strings");
      strv_pushf(out, "%s=%s", k, json_is_null(val) ? "" : json_string_value(val));
    }
  } else if (json_is_array(x)) {
    size_t i;
    json_t *a;
    json_array_foreach (x, i, a) {
      if (!json_is_string(a))
        return bad(c, key, "is a list of \"KEY=VALUE\"");
      if (strchr(json_string_value(a), '='))
        strv_push(out, json_string_value(a));
    }
  } else {
    return bad(c, key, "is a mapping or a list");
  }
  for (size_t i = 0; i < out->n; i++) {
    const char *eq = strchr(out->v[i], '=');
    if (!adr_valid_env_name(out->v[i], (size_t)(eq - out->v[i])))
      return adr_err_set(c->err, EINVAL, "%s: service '%s': '%s': '%.*s' is not a variable name", c->file, c->svc, key,
                         (int)(eq - out->v[i]), out->v[i]);
  }
  return 0;
}

/* Compose's shell-like split of a string command (quotes, backslashes;
 * no expansion). */
static int split_words(struct ctx *c, const char *key, const char *s, struct strv *out)
{
  struct buf w;
  buf_init(&w, 0);
  bool in = false;
  char q = 0;
  for (const char *p = s;; p++) {
    if (!*p) {
      if (q) {
        buf_free(&w);
        return bad(c, key, "has an unterminated quote");
      }
      if (in)
        strv_push_take(out, buf_steal(&w));
      break;
    }
    if (q) {
      if (*p == q)
        q = 0;
      else if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\' || p[1] == '$'))
        buf_append(&w, ++p, 1);
      else
        buf_append(&w, p, 1);
    } else if (*p == '\'' || *p == '"') {
      q = *p;
      in = true;
    } else if (*p == '\\' && p[1]) {
      buf_append(&w, ++p, 1);
      in = true;
    } else if (*p == ' ' || *p == '\t' || *p == '\n') {
      if (in)
        strv_push_take(out, buf_steal(&w));
      in = false;
    } else {
      buf_append(&w, p, 1);
      in = true;
    }
  }
  buf_free(&w);
  return 0;
}

static int argv_of(struct ctx *c, json_t *x, const char *key, struct strv *out)
{
  if (!x || json_is_null(x))
    return 0;
  if (json_is_string(x))
    return split_words(c, key, json_string_value(x), out);
  if (!json_is_array(x))
    return bad(c, key, "is a string or a list of strings");
  size_t i;
  json_t *a;
  json_array_foreach (x, i, a) {
    if (!json_is_string(a))
      return bad(c, key, "is a string or a list of strings");
    strv_push(out, json_string_value(a));
  }
  return 0;
}

/* "1m30s", "10s", "500ms", "2h": milliseconds */
static int duration_of(struct ctx *c, json_t *x, const char *key, int64_t *ms)
{
  if (!x || json_is_null(x))
    return 0;
  const char *s = json_string_value(x);
  if (!s || !*s)
    return bad(c, key, "is a duration (10s, 1m30s, 500ms)");
  double total = 0;
  while (*s) {
    char *end;
    double n = strtod(s, &end);
    if (end == s || n < 0)
      return bad(c, key, "is a duration (10s, 1m30s, 500ms)");
    double unit;
    if (str_has_prefix(end, "ms"))
      unit = 1, end += 2;
    else if (str_has_prefix(end, "us"))
      unit = 0.001, end += 2;
    else if (*end == 'h')
      unit = 3600000, end++;
    else if (*end == 'm')
      unit = 60000, end++;
    else if (*end == 's')
      unit = 1000, end++;
    else
      return bad(c, key, "is a duration (10s, 1m30s, 500ms)");
    total += n * unit;
    s = end;
  }
  if (total > 86400000.0)
    return bad(c, key, "is at most a day");
  *ms = (int64_t)total;
  return 0;
}

static int build_of(struct ctx *c, json_t *x, struct adr_compose_service *s)
{
  if (!x || json_is_null(x))
    return 0;
  const char *ctxp = NULL, *df = "Dockerfile";
  json_t *args = NULL;
  if (json_is_string(x)) {
    ctxp = json_string_value(x);
  } else if (json_is_object(x)) {
    const char *k;
    json_t *v;
    json_object_foreach (x, k, v) {
      if (!streq(k, "context") && !streq(k, "dockerfile") && !streq(k, "args") && !streq(k, "target") &&
          !str_has_prefix(k, "x-"))
        return adr_err_set(c->err, ENOTSUP, "%s: service '%s': 'build.%s' is not supported by adr", c->file, c->svc, k);
    }
    ctxp = json_string_value(json_object_get(x, "context"));
    if (json_object_get(x, "dockerfile")) {
      df = json_string_value(json_object_get(x, "dockerfile"));
      if (!df)
        return bad(c, "build.dockerfile", "is a string");
    }
    if (json_object_get(x, "target"))
      return adr_err_set(c->err, ENOTSUP, "%s: service '%s': 'build.target' is not supported by adr", c->file, c->svc);
    args = json_object_get(x, "args");
    if (!ctxp && json_object_get(x, "context"))
      return bad(c, "build.context", "is a string");
  } else {
    return bad(c, "build", "is a path or a mapping");
  }
  cleanup_free char *ctx_abs = abs_of(c, ctxp ? ctxp : ".");
  cleanup_free char *df_abs = abs_in(ctx_abs, df);
  /* the context is archived from the host: only the project's files */
  s->build_context = inside_root(c, ctx_abs);
  if (!s->build_context)
    return adr_err_set(c->err, EPERM, "%s: service '%s': build context '%s' is not a directory inside the project",
                       c->file, c->svc, ctx_abs);
  s->build_dockerfile = inside_root(c, df_abs);
  if (!s->build_dockerfile)
    return adr_err_set(c->err, EPERM, "%s: service '%s': Dockerfile '%s' is not a file inside the project", c->file,
                       c->svc, df_abs);
  return kv_of(c, args, "build.args", &s->build_args);
}

static int env_file_of(struct ctx *c, json_t *x, struct strv *out)
{
  if (!x || json_is_null(x))
    return 0;
  json_t *one = json_is_string(x) ? json_pack("[O]", x) : json_incref(x);
  int r = 0;
  if (!json_is_array(one))
    r = bad(c, "env_file", "is a path or a list of paths");
  size_t i;
  json_t *a;
  json_array_foreach (one, i, a) {
    if (r < 0)
      break;
    const char *p = json_is_string(a) ? json_string_value(a) : json_string_value(json_object_get(a, "path"));
    bool required = !json_is_object(a) || !json_is_string(json_object_get(a, "required")) ||
                    !streq(json_string_value(json_object_get(a, "required")), "false");
    if (!p) {
      r = bad(c, "env_file", "is a path or a list of paths");
      break;
    }
    cleanup_free char *ab = abs_of(c, p);
    cleanup_free char *real = inside_root(c, ab);
    if (!real) {
      if (!required && access(ab, F_OK) < 0)
        continue;
      r = adr_err_set(c->err, EPERM, "%s: service '%s': env_file '%s' is not a file inside the project", c->file,
                      c->svc, ab);
      break;
    }
    r = adr_parse_env_file(real, NULL, out, NULL, c->err);
  }
  json_decref(one);
  return r;
}

static int depends_of(struct ctx *c, json_t *x, struct strv *out)
{
  if (!x || json_is_null(x))
    return 0;
  if (json_is_array(x)) {
    size_t i;
    json_t *a;
    json_array_foreach (x, i, a) {
      if (!json_is_string(a))
        return bad(c, "depends_on", "is a list of service names");
      strv_push(out, json_string_value(a));
    }
    return 0;
  }
  if (!json_is_object(x))
    return bad(c, "depends_on", "is a list or a mapping of service names");
  const char *k;
  json_t *v;
  json_object_foreach (x, k, v)
    strv_push(out, k);
  return 0;
}

static int health_of(struct ctx *c, json_t *x, struct adr_compose_service *s)
{
  if (!x || json_is_null(x))
    return 0;
  if (!json_is_object(x))
    return bad(c, "healthcheck", "is a mapping");
  const char *dis = json_string_value(json_object_get(x, "disable"));
  if (dis && streq(dis, "true")) {
    strv_push(&s->health_test, "NONE");
    return 0;
  }
  json_t *t = json_object_get(x, "test");
  if (json_is_string(t)) {
    strv_push(&s->health_test, "CMD-SHELL");
    strv_push(&s->health_test, json_string_value(t));
  } else if (json_is_array(t) && json_array_size(t) > 0) {
    if (argv_of(c, t, "healthcheck.test", &s->health_test) < 0)
      return -1;
    const char *k0 = s->health_test.v[0];
    if (!streq(k0, "CMD") && !streq(k0, "CMD-SHELL") && !streq(k0, "NONE"))
      return bad(c, "healthcheck.test", "starts with CMD, CMD-SHELL or NONE");
  } else if (t && !json_is_null(t)) {
    return bad(c, "healthcheck.test", "is a string or a list");
  }
  if (duration_of(c, json_object_get(x, "interval"), "healthcheck.interval", &s->health_interval_ms) < 0 ||
      duration_of(c, json_object_get(x, "timeout"), "healthcheck.timeout", &s->health_timeout_ms) < 0 ||
      duration_of(c, json_object_get(x, "start_period"), "healthcheck.start_period", &s->health_start_ms) < 0)
    return -1;
  json_t *r = json_object_get(x, "retries");
  if (r && !json_is_null(r)) {
    uint64_t n;
    if (!json_is_string(r) || adr_parse_uint(json_string_value(r), 1000, &n) < 0)
      return bad(c, "healthcheck.retries", "is a number (0-1000)");
    s->health_retries = (int)n;
  }
  return 0;
}

/* volumes: a bind of a project path is kept; a named or anonymous volume
 * is left out (said); a host path outside the project is refused. */
static int volumes_of(struct ctx *c, json_t *x, struct adr_compose_service *s)
{
  if (!x || json_is_null(x))
    return 0;
  if (!json_is_array(x))
    return bad(c, "volumes", "is a list");
  size_t i;
  json_t *a;
  json_array_foreach (x, i, a) {
    cleanup_free char *src = NULL, *dst = NULL;
    bool ro = false;
    const char *type = "volume";
    if (json_is_string(a)) {
      cleanup_free char *copy = xstrdup(json_string_value(a));
      char *f[3] = { copy, NULL, NULL };
      for (int k = 1; k < 3; k++) {
        char *col = f[k - 1] ? strchr(f[k - 1], ':') : NULL;
        if (col) {
          *col = '\0';
          f[k] = col + 1;
        }
      }
      if (f[1]) {
        src = xstrdup(f[0]);
        dst = xstrdup(f[1]);
        ro = f[2] && (streq(f[2], "ro") || str_has_prefix(f[2], "ro,"));
      } else {
        dst = xstrdup(f[0]);
      }
      if (src && (src[0] == '/' || src[0] == '.' || src[0] == '~'))
        type = "bind";
    } else if (json_is_object(a)) {
      const char *t = json_string_value(json_object_get(a, "type"));
      type = t ? t : "volume";
      const char *sv = json_string_value(json_object_get(a, "source"));
      const char *tv = json_string_value(json_object_get(a, "target"));
      src = sv ? xstrdup(sv) : NULL;
      dst = tv ? xstrdup(tv) : NULL;
      const char *rov = json_string_value(json_object_get(a, "read_only"));
      ro = rov && streq(rov, "true");
    } else {
      return adr_err_set(c->err, EINVAL, "%s: service '%s': 'volumes'[%zu] is a string or a mapping", c->file, c->svc,
                         i);
    }
    if (!dst || dst[0] != '/')
      return adr_err_set(c->err, EINVAL, "%s: service '%s': 'volumes'[%zu] needs an absolute target", c->file, c->svc,
                         i);
    if (streq(type, "tmpfs")) {
      strv_push(&s->tmpfs, dst);
    } else if (streq(type, "volume")) {
      strv_pushf(&c->c->warnings, "%s: service '%s': volume %s%s%s is not kept: its data lives as long as the sandbox",
                 c->file, c->svc, src ? src : "", src ? ":" : "", dst);
    } else if (streq(type, "bind")) {
      if (!src || src[0] == '~')
        return adr_err_set(c->err, EPERM, "%s: service '%s': volume '%s': a host path outside the project", c->file,
                           c->svc, src ? src : "");
      cleanup_free char *ab = abs_of(c, src);
      cleanup_free char *real = inside_root(c, ab);
      if (!real)
        return adr_err_set(c->err, EPERM,
                           "%s: service '%s': volume '%s': a host path outside the project (a project file mounts "
                           "only its own files)",
                           c->file, c->svc, ab);
      strv_pushf(&s->binds, "%s:%s:%s", real, dst, ro ? "ro" : "rw");
    } else {
      return adr_err_set(c->err, ENOTSUP, "%s: service '%s': volume type '%s' is not supported by adr", c->file, c->svc,
                         type);
    }
  }
  return 0;
}

/* Keys that would widen the sandbox: refused. */
static const char *const widen[] = {
  "privileged", "cap_add",       "security_opt", "devices", "device_cgroup_rules", "network_mode", "pid",
  "ipc",        "userns_mode",   "uts",          "cgroup",  "cgroup_parent",       "volumes_from", "sysctls",
  "ulimits",    "runtime",       "isolation",    "gpus",    "extra_hosts",         "dns",          "dns_search",
  "dns_opt",    "mac_address",   "networks",     "links",   "external_links",      "secrets",      "configs",
  "group_add",  "oom_score_adj",
};
/* Keys adr has no use for (it names, restarts and labels the services
 * itself): accepted, without effect. */
static const char *const inert[] = {
  "container_name", "restart",     "labels",     "expose",      "stdin_open",        "tty",
  "init",           "hostname",    "domainname", "stop_signal", "stop_grace_period", "logging",
  "platform",       "pull_policy", "profiles",   "cap_drop",    "read_only",         "shm_size",
  "mem_limit",      "cpus",        "deploy",     "scale",       "develop",           "annotations",
  "attach",
};

static int service_of(struct ctx *c, const char *name, json_t *o, struct adr_compose_service *s)
{
  c->svc = name;
  s->name = xstrdup(name);
  if (!json_is_object(o))
    return adr_err_set(c->err, EINVAL, "%s: service '%s' is a mapping", c->file, name);
  const char *k;
  json_t *v;
  json_object_foreach (o, k, v) {
    for (size_t i = 0; i < ARRAY_SIZE(widen); i++)
      if (streq(k, widen[i]))
        return adr_err_set(c->err, EPERM,
                           "%s: service '%s': '%s' is refused: the services share the sandbox's confinement", c->file,
                           name, k);
    bool known = str_has_prefix(k, "x-");
    static const char *const used[] = { "image",      "build", "environment", "env_file",   "command",
                                        "entrypoint", "user",  "working_dir", "depends_on", "healthcheck",
                                        "volumes",    "tmpfs", "ports" };
    for (size_t i = 0; !known && i < ARRAY_SIZE(used); i++)
      known = streq(k, used[i]);
    for (size_t i = 0; !known && i < ARRAY_SIZE(inert); i++)
      known = streq(k, inert[i]);
    if (!known)
      strv_pushf(&c->c->warnings, "%s: service '%s': '%s' is not supported by adr: left out", c->file, name, k);
  }
  if (str_of(c, json_object_get(o, "image"), "image", &s->image) < 0 ||
      build_of(c, json_object_get(o, "build"), s) < 0 || env_file_of(c, json_object_get(o, "env_file"), &s->env) < 0 ||
      kv_of(c, json_object_get(o, "environment"), "environment", &s->env) < 0 ||
      argv_of(c, json_object_get(o, "command"), "command", &s->command) < 0 ||
      argv_of(c, json_object_get(o, "entrypoint"), "entrypoint", &s->entrypoint) < 0 ||
      str_of(c, json_object_get(o, "user"), "user", &s->user) < 0 ||
      str_of(c, json_object_get(o, "working_dir"), "working_dir", &s->working_dir) < 0 ||
      depends_of(c, json_object_get(o, "depends_on"), &s->depends_on) < 0 ||
      health_of(c, json_object_get(o, "healthcheck"), s) < 0 || volumes_of(c, json_object_get(o, "volumes"), s) < 0)
    return -1;
  json_t *t = json_object_get(o, "tmpfs");
  if (t && !json_is_null(t)) {
    struct strv tl = { 0 };
    json_t *list = json_is_string(t) ? json_pack("[O]", t) : json_incref(t);
    int r = json_is_array(list) ? argv_of(c, list, "tmpfs", &tl) : bad(c, "tmpfs", "is a path or a list of paths");
    json_decref(list);
    if (r < 0) {
      strv_free(&tl);
      return -1;
    }
    for (size_t i = 0; i < tl.n; i++) {
      char *colon = strchr(tl.v[i], ':'); /* "/run:size=64m": options are adr's */
      if (colon)
        *colon = '\0';
      if (tl.v[i][0] != '/') {
        strv_free(&tl);
        return bad(c, "tmpfs", "is a list of absolute paths");
      }
      strv_push(&s->tmpfs, tl.v[i]);
    }
    strv_free(&tl);
  }
  if (json_object_get(o, "ports") && !json_is_null(json_object_get(o, "ports")))
    strv_pushf(&c->c->warnings, "%s: service '%s': 'ports' are not published: the services are the agent's only",
               c->file, name);
  if (!s->image && !s->build_context)
    return adr_err_set(c->err, EINVAL, "%s: service '%s' has no 'image' or 'build'", c->file, name);
  if (s->image && !*s->image)
    return bad(c, "image", "is empty");
  return 0;
}

static bool service_name_ok(const char *s)
{
  if (!*s || strlen(s) > 63)
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
          *p == '.'))
      return false;
  return true;
}

/* The merged document's services into c. */
static int services_of(json_t *root, const char *file, const char *dir, const struct adr_compose_vars *v,
                       struct adr_compose *c, adr_err *err)
{
  if (!json_is_object(root))
    return adr_err_set(err, EINVAL, "%s: not a mapping of services", file);
  const char *k;
  json_t *x;
  json_object_foreach (root, k, x) {
    if (streq(k, "services") || streq(k, "version") || streq(k, "name") || str_has_prefix(k, "x-"))
      continue;
    if (streq(k, "volumes") || streq(k, "networks"))
      continue; /* declarations: what uses them is judged at the service */
    return adr_err_set(err, ENOTSUP, "%s: '%s' is not supported by adr", file, k);
  }
  json_t *svcs = json_object_get(root, "services");
  if (!json_is_object(svcs) || json_object_size(svcs) == 0)
    return adr_err_set(err, EINVAL, "%s: no 'services'", file);
  if (json_object_size(svcs) > ADR_COMPOSE_SERVICES)
    return adr_err_set(err, E2BIG, "%s: over %d services", file, ADR_COMPOSE_SERVICES);
  c->v = xcalloc(json_object_size(svcs), sizeof(*c->v));
  struct ctx cx = { .file = file, .dir = dir, .v = v, .c = c, .err = err };
  json_object_foreach (svcs, k, x) {
    if (!service_name_ok(k))
      return adr_err_set(err, EINVAL, "%s: '%s' is not a service name ([A-Za-z0-9._-], up to 63)", file, k);
    if (service_of(&cx, k, x, &c->v[c->n++]) < 0)
      return -1;
  }
  for (size_t i = 0; i < c->n; i++)
    for (size_t j = 0; j < c->v[i].depends_on.n; j++)
      if (!adr_compose_find(c, c->v[i].depends_on.v[j]))
        return adr_err_set(err, EINVAL, "%s: service '%s' depends on '%s', which is not a service", file, c->v[i].name,
                           c->v[i].depends_on.v[j]);
  return 0;
}

/* A later file's service over an earlier one's: its keys win, except
 * that environments merge. */
static void merge_service(json_t *into, json_t *over)
{
  const char *k;
  json_t *v;
  json_object_foreach (over, k, v) {
    json_t *old = json_object_get(into, k);
    if (streq(k, "environment") && json_is_object(old) && json_is_object(v))
      json_object_update(old, v);
    else
      json_object_set(into, k, v);
  }
}

static void merge_doc(json_t *into, json_t *over)
{
  json_t *is = json_object_get(into, "services"), *os = json_object_get(over, "services");
  const char *k;
  json_t *v;
  json_object_foreach (over, k, v)
    if (!streq(k, "services"))
      json_object_set(into, k, v);
  if (!json_is_object(os))
    return;
  if (!json_is_object(is)) {
    json_object_set(into, "services", os);
    return;
  }
  json_object_foreach (os, k, v) {
    json_t *old = json_object_get(is, k);
    if (json_is_object(old) && json_is_object(v))
      merge_service(old, v);
    else
      json_object_set(is, k, v);
  }
}

/* environment lists as mappings, so that files merge them by name */
static void env_as_object(json_t *doc)
{
  json_t *svcs = json_object_get(doc, "services");
  const char *k;
  json_t *s;
  json_object_foreach (svcs, k, s) {
    json_t *e = json_object_get(s, "environment");
    if (!json_is_array(e))
      continue;
    json_t *o = json_object();
    size_t i;
    json_t *a;
    json_array_foreach (e, i, a) {
      const char *kv = json_string_value(a);
      const char *eq = kv ? strchr(kv, '=') : NULL;
      if (!eq)
        continue;
      cleanup_free char *name = xstrndup(kv, (size_t)(eq - kv));
      json_object_set_new(o, name, json_string(eq + 1));
    }
    json_object_set_new(s, "environment", o);
  }
}

static json_t *one_doc(const char *text, size_t len, const char *file, const char *dotenv,
                       const struct adr_compose_vars *v, struct adr_compose *c, adr_err *err)
{
  json_t *j = yaml_json(text, len, file, err);
  if (!j)
    return NULL;
  struct strv unset = { 0 };
  struct interp ip = { .v = v, .unset = &unset, .file = file, .err = err };
  if (dotenv)
    dotenv_parse(dotenv, &ip.dotenv);
  int r = interpolate_all(&ip, j);
  strv_free(&ip.dotenv);
  if (unset.n) {
    cleanup_free char *list = strv_join(&unset, ", ");
    strv_pushf(&c->warnings, "%s: %s not set: empty", file, list);
  }
  strv_free(&unset);
  if (r < 0) {
    json_decref(j);
    return NULL;
  }
  if (json_is_object(j))
    env_as_object(j);
  return j;
}

int adr_compose_parse(const char *text, size_t len, const char *file, const char *dir, const char *dotenv,
                      const struct adr_compose_vars *v, struct adr_compose *c, adr_err *err)
{
  memset(c, 0, sizeof(*c));
  json_t *j = one_doc(text, len, file, dotenv, v, c, err);
  int r = j ? services_of(j, file, dir, v, c, err) : -1;
  json_decref(j);
  return r;
}

int adr_compose_load(const struct strv *files, const struct adr_compose_vars *v, struct adr_compose *c, adr_err *err)
{
  memset(c, 0, sizeof(*c));
  if (!files->n)
    return adr_err_set(err, EINVAL, "no compose file");
  /* the project directory: the first file's, as Compose has it */
  cleanup_free char *dir = xstrdup(files->v[0]);
  char *sl = strrchr(dir, '/');
  if (sl)
    *sl = '\0';
  cleanup_free char *envp = xasprintf("%s/.env", dir);
  struct buf de;
  buf_init(&de, ADR_COMPOSE_MAX);
  bool have_env = buf_read_file(&de, envp) == 0;
  json_t *all = NULL;
  int r = 0;
  for (size_t i = 0; i < files->n && r == 0; i++) {
    struct buf b;
    buf_init(&b, ADR_COMPOSE_MAX);
    if (buf_read_file(&b, files->v[i]) < 0) {
      r = errno == EFBIG ? adr_err_set(err, EFBIG, "%s: over %u bytes", files->v[i], ADR_COMPOSE_MAX)
                         : adr_err_sys(err, errno, "%s", files->v[i]);
      buf_free(&b);
      break;
    }
    json_t *j = one_doc(b.data ? b.data : "", b.len, files->v[i], have_env ? de.data : NULL, v, c, err);
    buf_free(&b);
    if (!j) {
      r = -1;
      break;
    }
    if (!json_is_object(j)) {
      json_decref(j);
      r = adr_err_set(err, EINVAL, "%s: not a mapping of services", files->v[i]);
      break;
    }
    if (!all) {
      all = j;
    } else {
      merge_doc(all, j);
      json_decref(j);
    }
  }
  buf_free(&de);
  if (r == 0)
    r = services_of(all, files->v[0], dir, v, c, err);
  json_decref(all);
  return r;
}

const struct adr_compose_service *adr_compose_find(const struct adr_compose *c, const char *name)
{
  for (size_t i = 0; i < c->n; i++)
    if (streq(c->v[i].name, name))
      return &c->v[i];
  return NULL;
}

/* name and its dependencies into order, dependencies first; seen: on the
 * path now (a cycle when met again) */
static int visit(const struct adr_compose *c, const char *agent, const char *name, struct strv *path,
                 struct strv *order, adr_err *err)
{
  if (strv_contains(order, name) || streq(name, agent))
    return 0;
  if (strv_contains(path, name)) {
    cleanup_free char *chain = strv_join(path, " -> ");
    return adr_err_set(err, ELOOP, "services depend on each other in a cycle: %s -> %s", chain, name);
  }
  const struct adr_compose_service *s = adr_compose_find(c, name);
  if (!s)
    return adr_err_set(err, EINVAL, "'runServices' names '%s', which is not a service", name);
  strv_push(path, name);
  for (size_t i = 0; i < s->depends_on.n; i++)
    if (visit(c, agent, s->depends_on.v[i], path, order, err) < 0)
      return -1;
  free(path->v[--path->n]);
  path->v[path->n] = NULL;
  strv_push(order, name);
  return 0;
}

int adr_compose_order(const struct adr_compose *c, const char *agent, const struct strv *run, struct strv *order,
                      adr_err *err)
{
  struct strv path = { 0 };
  int r = 0;
  const struct adr_compose_service *a = adr_compose_find(c, agent);
  /* what the agent's service depends on starts, whatever runServices says */
  for (size_t i = 0; a && r == 0 && i < a->depends_on.n; i++)
    r = visit(c, agent, a->depends_on.v[i], &path, order, err);
  if (run && run->n)
    for (size_t i = 0; r == 0 && i < run->n; i++)
      r = visit(c, agent, run->v[i], &path, order, err);
  else
    for (size_t i = 0; r == 0 && i < c->n; i++)
      r = visit(c, agent, c->v[i].name, &path, order, err);
  strv_free(&path);
  return r;
}
