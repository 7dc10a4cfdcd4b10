/* The credential planner's config files: JSON documents being rewritten
 * (paths inside them, keys set or scrubbed), env files read and rewritten,
 * keys kept in JSON files. */
#include "creds.h"

#include "buf.h"
#include "gwproto.h"
#include "parse.h"
#include "paths.h"
#include "runspec.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds-int.h"

json_t *cp_jpath_get(json_t *o, const char *path)
{
  if (!*path)
    return o;
  cleanup_free char *c = xstrdup(path);
  char *save = NULL;
  for (char *t = strtok_r(c, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
    o = json_is_object(o) ? json_object_get(o, t) : NULL;
  return o;
}

/* Sets (or with v NULL removes) the member at a dotted path, making the
 * objects on the way. */
void cp_jpath_set(json_t *o, const char *path, json_t *v)
{
  cleanup_free char *c = xstrdup(path);
  char *last = strrchr(c, '.');
  if (last) {
    *last++ = '\0';
    char *save = NULL;
    for (char *t = strtok_r(c, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
      json_t *n = json_object_get(o, t);
      if (!json_is_object(n)) {
        if (!v)
          return;
        n = json_object();
        json_object_set_new(o, t, n);
      }
      o = n;
    }
  } else {
    last = c;
  }
  if (v)
    json_object_set_new(o, last, v);
  else
    json_object_del(o, last);
}

json_t *cp_load_json_file(const char *path, bool *missing, adr_err *err)
{
  *missing = false;
  struct buf b;
  buf_init(&b, 4 << 20);
  if (buf_read_file(&b, path) < 0) {
    int e = errno;
    buf_free(&b);
    if (e == ENOENT || e == ENOTDIR) {
      *missing = true;
      return NULL;
    }
    adr_err_sys(err, e, "'%s'", path);
    return NULL;
  }
  json_error_t je;
  json_t *j = json_loadb(b.data, b.len, 0, &je);
  buf_free(&b);
  if (!j)
    adr_err_set(err, EINVAL, "'%s':%d: %s", path, je.line, je.text);
  else if (!json_is_object(j)) {
    json_decref(j);
    j = NULL;
    adr_err_set(err, EINVAL, "'%s': not a JSON object", path);
  }
  return j;
}

/* The rewritten copy of a JSON config file (loaded once); NULL when the
 * file exists and cannot be read (then it is hidden, with a note). */
json_t *cp_jfile(struct planner *pl, const char *rel, bool create)
{
  for (size_t i = 0; i < pl->n_jf; i++)
    if (streq(pl->jf[i].rel, rel))
      return pl->jf[i].j;
  cleanup_free char *hp = cp_host_path(pl, rel);
  if (!hp)
    return NULL;
  bool missing;
  cleanup_err adr_err e = NULL;
  json_t *j = cp_load_json_file(hp, &missing, &e);
  if (!j && missing && !create)
    return NULL;
  if (!j && missing)
    j = json_object();
  if (!j) {
    strv_pushf(&pl->p->notes, "not staged (it may hold credentials and could not be read): %s", e->msg);
    strv_push(&pl->p->hide, rel);
  }
  pl->jf = xrealloc(pl->jf, (pl->n_jf + 1) * sizeof(*pl->jf));
  pl->jf[pl->n_jf].rel = xstrdup(rel);
  pl->jf[pl->n_jf].j = j;
  pl->n_jf++;
  return j;
}

/* env files: read their variables (for lookup) */
void cp_read_env_files(struct planner *pl)
{
  size_t i;
  json_t *ef;
  json_array_foreach (json_object_get(pl->def, "env_files"), i, ef) {
    const char *rel = json_string_value(json_object_get(ef, "path"));
    cleanup_free char *hp = cp_host_path(pl, rel);
    if (!hp)
      continue;
    cleanup_free char *shown = cp_shown_path(pl, hp);
    json_t *at = json_object_get(ef, "json");
    if (at) {
      json_t *j = cp_jfile(pl, rel, false);
      json_t *o = j ? cp_jpath_get(j, json_string_value(at)) : NULL;
      const char *k;
      json_t *v;
      json_object_foreach (o, k, v)
        if (json_is_string(v) && adr_valid_env_name(k, strlen(k))) {
          strv_pushf(&pl->file_env, "%s=%s", k, json_string_value(v));
          strv_push(&pl->file_src, shown);
        }
      continue;
    }
    struct buf b;
    buf_init(&b, 1 << 20);
    if (buf_read_file(&b, hp) == 0) {
      char *save = NULL;
      for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *name, *v;
        if (adr_parse_dotenv_line(line, &name, &v) == 0)
          continue;
        strv_pushf(&pl->file_env, "%s=%s", name, v);
        strv_push(&pl->file_src, shown);
      }
    } else if (errno != ENOENT && errno != ENOTDIR) { /* it may hold keys: not staged */
      strv_pushf(&pl->p->notes, "not staged (it may hold credentials and could not be read): '%s': %s", shown,
                 strerror(errno));
      strv_push(&pl->p->hide, rel);
    }
    buf_free(&b);
  }
}

/* env files: the sandbox's copies, with every credential variable of the
 * agent replaced by its sentinel (or dropped) and base URLs by the relay */
void cp_rewrite_env_files(struct planner *pl, const struct strv *set, const struct strv *drop)
{
  size_t i;
  json_t *ef;
  json_array_foreach (json_object_get(pl->def, "env_files"), i, ef) {
    const char *rel = json_string_value(json_object_get(ef, "path"));
    json_t *at = json_object_get(ef, "json");
    if (at) {
      json_t *j = cp_jfile(pl, rel, false);
      json_t *o = j ? cp_jpath_get(j, json_string_value(at)) : NULL;
      if (!json_is_object(o))
        continue;
      for (size_t k = 0; k < drop->n; k++)
        json_object_del(o, drop->v[k]);
      for (size_t k = 0; k < set->n; k++) {
        char *eq = strchr(set->v[k], '=');
        cleanup_free char *name = xstrndup(set->v[k], (size_t)(eq - set->v[k]));
        if (json_object_get(o, name))
          json_object_set_new(o, name, json_string(eq + 1));
      }
      continue;
    }
    cleanup_free char *hp = cp_host_path(pl, rel);
    struct buf b, out;
    buf_init(&b, 1 << 20);
    if (!hp || buf_read_file(&b, hp) < 0) {
      buf_free(&b);
      continue;
    }
    buf_init(&out, 0);
    char *save = NULL;
    for (char *line = strtok_r(b.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
      cleanup_free char *copy = xstrdup(line);
      char *name, *v;
      bool handled = false;
      if (adr_parse_dotenv_line(copy, &name, &v)) {
        for (size_t k = 0; k < drop->n && !handled; k++)
          handled = streq(drop->v[k], name);
        const char *nv = cp_strv_get(set, name);
        if (nv) {
          buf_printf(&out, "%s=%s\n", name, nv);
          handled = true;
        }
      }
      if (!handled)
        buf_printf(&out, "%s\n", line);
    }
    {
      struct adr_creds_plan *p = pl->p;
      p->overlays = xrealloc(p->overlays, (p->n_overlays + 1) * sizeof(*p->overlays));
      p->overlays[p->n_overlays].rel = xstrdup(rel);
      p->overlays[p->n_overlays].content = xstrndup(out.data ? out.data : "", out.len);
      p->n_overlays++;
    }
    buf_free(&out);
    buf_free(&b);
  }
}

/* The first key found in a route's "key_json" places; *src says where. */
const char *cp_key_from_json(struct planner *pl, json_t *places, char **src)
{
  size_t i;
  json_t *x;
  json_array_foreach (places, i, x) {
    const char *rel = json_string_value(json_object_get(x, "path"));
    json_t *j = cp_jfile(pl, rel, false);
    const char *v = json_string_value(cp_jpath_get(j, json_string_value(json_object_get(x, "at"))));
    if (v && *v) {
      cleanup_free char *hp = cp_host_path(pl, rel);
      *src = cp_shown_path(pl, hp);
      return v;
    }
  }
  return NULL;
}

/* The staged copies' "key_json" places: the sentinel where a key was, or
 * (sentinel NULL: the key is not relayed) nothing. */
void cp_key_json_set(struct planner *pl, json_t *places, const char *sentinel)
{
  size_t i;
  json_t *x;
  json_array_foreach (places, i, x) {
    json_t *j = cp_jfile(pl, json_string_value(json_object_get(x, "path")), false);
    const char *at = json_string_value(json_object_get(x, "at"));
    if (!json_is_string(cp_jpath_get(j, at)))
      continue;
    cp_jpath_set(j, at, sentinel ? json_string(sentinel) : NULL);
  }
}

/* A json_set entry with a string value: "{sentinel}" is the route's
 * sentinel, "tail" keeps its last N characters (claude remembers an
 * approved key by its last 20), "append" adds it to an array once. */
void cp_json_set_value(json_t *j, json_t *x, const char *sentinel)
{
  const char *at = json_string_value(json_object_get(x, "at"));
  cleanup_free char *v =
    adr_str_replace(json_string_value(json_object_get(x, "value")), "{sentinel}", sentinel ? sentinel : "");
  json_int_t tail = json_integer_value(json_object_get(x, "tail"));
  const char *val = v;
  if (tail > 0 && strlen(v) > (size_t)tail)
    val = v + strlen(v) - (size_t)tail;
  if (!json_is_true(json_object_get(x, "append"))) {
    cp_jpath_set(j, at, json_string(val));
    return;
  }
  json_t *arr = cp_jpath_get(j, at);
  if (!json_is_array(arr)) {
    arr = json_array();
    cp_jpath_set(j, at, arr);
  }
  size_t i;
  json_t *e;
  json_array_foreach (arr, i, e)
    if (streq(json_string_value(e), val))
      return;
  json_array_append_new(arr, json_string(val));
}

/* The last characters of a key by which an agent may remember it (claude
 * keeps the last 20 of an approved key): as secret as the key. */
#define KEY_TAIL 20
const char *cp_key_tail(const char *key)
{
  size_t n = strlen(key);
  return n > KEY_TAIL ? key + n - KEY_TAIL : key;
}

/* Every string in a staged JSON copy: a relayed key becomes its sentinel,
 * and so does a string that is the key's tail (12 characters or more) */
void cp_scrub_json(json_t *j, const struct adr_creds_plan *p, unsigned depth)
{
  if (depth > 64)
    return;
  if (json_is_object(j)) {
    const char *k;
    json_t *v;
    json_object_foreach (j, k, v)
      cp_scrub_json(v, p, depth + 1);
    return;
  }
  if (json_is_array(j)) {
    size_t i;
    json_t *v;
    json_array_foreach (j, i, v)
      cp_scrub_json(v, p, depth + 1);
    return;
  }
  const char *s = json_string_value(j);
  if (!s)
    return;
  for (size_t r = 0; r < p->n_routes; r++) {
    const char *key = p->routes[r].key, *sen = p->routes[r].sentinel;
    size_t kl = strlen(key), sl = strlen(s), nl = strlen(sen);
    if (strstr(s, key)) {
      char *t = adr_str_replace(s, key, sen);
      json_string_set(j, t);
      free(t);
      s = json_string_value(j);
    } else if (sl >= 12 && sl < kl && streq(key + kl - sl, s)) {
      json_string_set(j, sl < nl ? sen + nl - sl : sen);
      s = json_string_value(j);
    }
  }
}
