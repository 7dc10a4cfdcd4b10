#include "parse.h"
#include "buf.h"
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- KEY=VALUE */

bool adr_valid_env_name(const char *s, size_t len)
{
  if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 1; i < len; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
      return false;
  return true;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* Parses one line [p, end).  Returns 0 and sets key and value (owned) or
 * leaves *key NULL for blank/comment lines; -1 with *what on error. */
static int kv_line(const char *p, const char *end, unsigned flags, char **key, char **value, const char **what)
{
  *key = NULL;
  *value = NULL;
  while (p < end && is_blank(*p))
    p++;
  if (p == end || *p == '#')
    return 0;
  if ((size_t)(end - p) > 7 && memcmp(p, "export", 6) == 0 && is_blank(p[6])) {
    p += 7;
    while (p < end && is_blank(*p))
      p++;
  }
  const char *k = p;
  while (p < end && *p != '=' && !is_blank(*p))
    p++;
  size_t klen = (size_t)(p - k);
  const char *after = p;
  while (after < end && is_blank(*after))
    after++;
  if (after == end || *after == '#') {
    if (!adr_valid_env_name(k, klen)) {
      *what = "invalid key (expected KEY=VALUE)";
      return -1;
    }
    if (!(flags & ADR_KV_ALLOW_BARE)) {
      *what = "missing '=' (expected KEY=VALUE)";
      return -1;
    }
    *key = xstrndup(k, klen);
    return 0;
  }
  if (*after != '=') {
    *what = "invalid key (expected KEY=VALUE)";
    return -1;
  }
  if (!adr_valid_env_name(k, klen)) {
    *what = klen ? "invalid key (letters, digits and '_', not starting with a digit)" : "missing key before '='";
    return -1;
  }
  p = after + 1;
  const char *eq_next = p;
  while (p < end && is_blank(*p))
    p++;

  struct buf v;
  buf_init(&v, 0);
  buf_append(&v, "", 0);
  if (p < end && (*p == '\'' || *p == '"')) {
    char q = *p++;
    bool closed = false;
    while (p < end) {
      char c = *p++;
      if (c == q) {
        closed = true;
        break;
      }
      if (q == '"' && c == '\\' && p < end) {
        char e = *p++;
        switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case '\\':
        case '"':
        case '$':
        case '`': c = e; break;
        default: buf_append(&v, "\\", 1); c = e;
        }
      }
      buf_append(&v, &c, 1);
    }
    if (!closed) {
      buf_free(&v);
      *what = q == '"' ? "unterminated double quote" : "unterminated single quote";
      return -1;
    }
    while (p < end && is_blank(*p))
      p++;
    if (p < end && *p != '#') {
      buf_free(&v);
      *what = "unexpected text after closing quote";
      return -1;
    }
  } else {
    const char *vs = p;
    const char *ve = p;
    while (p < end) {
      /* '#' starts a comment after a blank, also the blank after '=' */
      if (*p == '#' && (p > vs ? is_blank(p[-1]) : p > eq_next))
        break;
      if (!is_blank(*p))
        ve = p + 1;
      p++;
    }
    buf_append(&v, vs, (size_t)(ve - vs));
  }
  *key = xstrndup(k, klen);
  *value = buf_steal(&v);
  return 0;
}

int adr_kv_parse(const char *data, size_t len, const char *fname, unsigned flags, adr_kv_cb cb, void *ud, adr_err *err)
{
  const char *p = data, *end = data + len;
  unsigned lineno = 0;
  if (memchr(data, '\0', len))
    return adr_err_set(err, EINVAL, "%s: contains a NUL byte (not a text file?)", fname);
  while (p < end) {
    lineno++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    if ((size_t)(le - p) > ADR_KV_MAX_LINE)
      return adr_err_set(err, EINVAL, "%s:%u: line too long (over %d bytes)", fname, lineno, ADR_KV_MAX_LINE);
    const char *lend = le;
    if (lend > p && lend[-1] == '\r')
      lend--;
    char *key = NULL, *value = NULL;
    const char *what = NULL;
    if (kv_line(p, lend, flags, &key, &value, &what) < 0)
      return adr_err_set(err, EINVAL, "%s:%u: %s", fname, lineno, what);
    if (key) {
      int r = cb(key, value, lineno, ud, err);
      free(key);
      free(value);
      if (r < 0)
        return r;
    }
    p = nl ? nl + 1 : end;
  }
  return 0;
}

char *adr_kv_quote(const char *value)
{
  bool plain = *value != '\0';
  for (const char *c = value; *c; c++)
    if (!(isalnum((unsigned char)*c) || strchr("-_./:,@%+=~", *c)))
      plain = false;
  if (plain)
    return xstrdup(value);
  struct buf b;
  buf_init(&b, 0);
  buf_append(&b, "\"", 1);
  for (const char *c = value; *c; c++) {
    switch (*c) {
    case '\n': buf_puts(&b, "\\n"); break;
    case '\t': buf_puts(&b, "\\t"); break;
    case '\\':
    case '"':
    case '$':
    case '`':
      buf_append(&b, "\\", 1);
      /* fall through */
    default: buf_append(&b, c, 1);
    }
  }
  buf_append(&b, "\"", 1);
  return buf_steal(&b);
}

/* ---------------------------------------------------------------- scalars */

int adr_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
  if (s == NULL || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end != '\0' || v > max)
    return -1;
  *out = v;
  return 0;
}

int adr_parse_duration(const char *s, uint64_t *seconds, adr_err *err)
{
  if (s == NULL || *s == '\0')
    return adr_err_set(err, EINVAL, "invalid duration '': expected a number and a unit, e.g. 30s, 15m, 2h, 1d");
  const char *p = s;
  while (isdigit((unsigned char)*p))
    p++;
  if (p == s)
    return adr_err_set(err, EINVAL, "invalid duration '%s': expected a whole number and a unit (s, m, h, d)", s);
  if (*p == '.' || *p == ',')
    return adr_err_set(err, EINVAL, "invalid duration '%s': decimals are not supported, use a smaller unit", s);
  uint64_t mult;
  switch (tolower((unsigned char)*p)) { /* a bare number is seconds; units in either case */
  case '\0': mult = 1; break;
  case 's': mult = 1; break;
  case 'm': mult = 60; break;
  case 'h': mult = 3600; break;
  case 'd': mult = 86400; break;
  default: return adr_err_set(err, EINVAL, "invalid duration '%s': unknown unit '%s' (use s, m, h or d)", s, p);
  }
  if (*p && p[1] != '\0')
    return adr_err_set(err, EINVAL, "invalid duration '%s': unknown unit '%s' (use s, m, h or d)", s, p);
  cleanup_free char *num = xstrndup(s, (size_t)(p - s));
  char unit = *p ? (char)tolower((unsigned char)*p) : 's';
  uint64_t v;
  if (adr_parse_uint(num, UINT64_MAX / 86400, &v) < 0 || v == 0)
    return adr_err_set(err, EINVAL, "invalid duration '%s': must be between 1%c and 100 years", s, unit);
  v *= mult;
  if (v > 100ULL * 365 * 86400)
    return adr_err_set(err, EINVAL, "invalid duration '%s': must be between 1%c and 100 years", s, unit);
  *seconds = v;
  return 0;
}

char *adr_format_duration(uint64_t s)
{
  if (s % 86400 == 0)
    return xasprintf("%" PRIu64 "d", s / 86400);
  if (s % 3600 == 0)
    return xasprintf("%" PRIu64 "h", s / 3600);
  if (s % 60 == 0)
    return xasprintf("%" PRIu64 "m", s / 60);
  return xasprintf("%" PRIu64 "s", s);
}

int adr_parse_size(const char *s, uint64_t *bytes, adr_err *err)
{
  if (s == NULL || !isdigit((unsigned char)*s))
    return adr_err_set(err, EINVAL, "invalid size '%s': expected a number with an optional unit (k, m, g, t)",
                       s ? s : "");
  const char *p = s;
  while (isdigit((unsigned char)*p))
    p++;
  cleanup_free char *num = xstrndup(s, (size_t)(p - s));
  uint64_t v;
  if (adr_parse_uint(num, UINT64_MAX, &v) < 0)
    return adr_err_set(err, EINVAL, "invalid size '%s': number out of range", s);
  int shift = 0;
  char u = (char)tolower((unsigned char)*p);
  if (u) {
    switch (u) {
    case 'b': shift = 0; break;
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: return adr_err_set(err, EINVAL, "invalid size '%s': unknown unit (use k, m, g or t)", s);
    }
    p++;
    if (u != 'b') {
      if (tolower((unsigned char)*p) == 'i')
        p++;
      if (tolower((unsigned char)*p) == 'b')
        p++;
    }
    if (*p != '\0')
      return adr_err_set(err, EINVAL, "invalid size '%s': unknown unit (use k, m, g or t)", s);
  }
  if (shift && v > (UINT64_MAX >> shift))
    return adr_err_set(err, EINVAL, "invalid size '%s': too large", s);
  *bytes = v << shift;
  return 0;
}

int adr_parse_gpus(const char *s, struct adr_spec_gpus *out, adr_err *err)
{
  static const char usage[] = "all, a count (1 to 64) or device=ID[,ID]... (indexes or UUIDs)";
  strv_free(&out->device_ids);
  out->count = 0;
  uint64_t n = 0;
  if (s && streq(s, "all")) {
    out->count = -1;
    return 0;
  }
  if (s && adr_parse_uint(s, 64, &n) == 0 && n > 0) {
    out->count = (int)n;
    return 0;
  }
  if (s && str_has_prefix(s, "device=") && s[7]) {
    cleanup_free char *copy = xstrdup(s + 7);
    char *save = NULL;
    for (char *id = strtok_r(copy, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
      bool ok = *id && strlen(id) <= 64;
      for (const char *p = id; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '-';
      if (!ok || out->device_ids.n >= 64) {
        strv_free(&out->device_ids);
        return adr_err_set(err, EINVAL, "--gpus '%s': device '%.64s' is not a GPU index or UUID", s, id);
      }
      strv_push(&out->device_ids, id);
    }
    /* "device=," leaves nothing */
    if (out->device_ids.n)
      return 0;
  }
  return adr_err_set(err, EINVAL, "--gpus '%s': %s", s ? s : "", usage);
}

int adr_parse_cpus(const char *s, int64_t *nanocpus, adr_err *err)
{
  if (s == NULL || !isdigit((unsigned char)*s))
    return adr_err_set(err, EINVAL, "invalid CPU count '%s': expected a number such as 2 or 1.5", s ? s : "");
  int64_t whole = 0, frac = 0;
  int fd = 0;
  const char *p = s;
  while (isdigit((unsigned char)*p)) {
    whole = whole * 10 + (*p++ - '0');
    if (whole > 4096)
      return adr_err_set(err, EINVAL, "invalid CPU count '%s': too large", s);
  }
  if (*p == '.') {
    p++;
    while (isdigit((unsigned char)*p)) {
      if (fd < 9) {
        frac = frac * 10 + (*p - '0');
        fd++;
      }
      p++;
    }
  }
  if (*p != '\0')
    return adr_err_set(err, EINVAL, "invalid CPU count '%s': expected a number such as 2 or 1.5", s);
  while (fd++ < 9)
    frac *= 10;
  int64_t n = whole * 1000000000LL + frac;
  if (n <= 0)
    return adr_err_set(err, EINVAL, "invalid CPU count '%s': must be greater than 0", s);
  *nanocpus = n;
  return 0;
}

/* ----------------------------------------------------------------- paths */

char *adr_path_normalize(const char *path)
{
  struct strv parts = { 0 };
  const char *p = path;
  while (*p) {
    while (*p == '/')
      p++;
    const char *s = p;
    while (*p && *p != '/')
      p++;
    size_t n = (size_t)(p - s);
    if (n == 0 || (n == 1 && s[0] == '.'))
      continue;
    if (n == 2 && s[0] == '.' && s[1] == '.') {
      if (parts.n > 0) {
        free(parts.v[--parts.n]);
        parts.v[parts.n] = NULL;
      }
      continue;
    }
    strv_push_take(&parts, xstrndup(s, n));
  }
  struct buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < parts.n; i++) {
    buf_append(&b, "/", 1);
    buf_puts(&b, parts.v[i]);
  }
  if (b.len == 0)
    buf_append(&b, "/", 1);
  strv_free(&parts);
  return buf_steal(&b);
}

char *adr_path_expand_home(const char *path, const char *home)
{
  if (home && path[0] == '~' && (path[1] == '\0' || path[1] == '/'))
    return xasprintf("%s%s", home, path + 1);
  return xstrdup(path);
}
