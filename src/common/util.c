#include "util.h"

#include <stdarg.h>

static void oom(void)
{
  static const char m[] = "adr: out of memory\n";
  ssize_t r = write(2, m, sizeof(m) - 1);
  (void)r;
  abort();
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    oom();
  return p;
}

void *xcalloc(size_t n, size_t m)
{
  void *p = calloc(n ? n : 1, m ? m : 1);
  if (!p)
    oom();
  return p;
}

void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q)
    oom();
  return q;
}

char *xstrdup(const char *s)
{
  char *d = strdup(s ? s : "");
  if (!d)
    oom();
  return d;
}

char *xstrndup(const char *s, size_t n)
{
  char *d = strndup(s, n);
  if (!d)
    oom();
  return d;
}

char *xasprintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int r = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (r < 0)
    oom();
  return s;
}

char *adr_str_replace(const char *s, const char *from, const char *to)
{
  size_t fl = strlen(from), tl = strlen(to), n = 0;
  for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
    n++;
  char *out = xmalloc(strlen(s) + n * tl + 1 - n * fl), *o = out;
  for (const char *p; (p = strstr(s, from)) != NULL; s = p + fl) {
    memcpy(o, s, (size_t)(p - s));
    o += p - s;
    memcpy(o, to, tl);
    o += tl;
  }
  memcpy(o, s, strlen(s) + 1);
  return out;
}

bool str_has_suffix(const char *s, const char *suffix)
{
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

void strv_push_take(struct strv *s, char *str)
{
  if (s->n + 2 > s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->v = xrealloc(s->v, s->cap * sizeof(char *));
  }
  s->v[s->n++] = str;
  s->v[s->n] = NULL;
}

void strv_push(struct strv *s, const char *str) { strv_push_take(s, xstrdup(str)); }

char *strv_join(const struct strv *s, const char *sep)
{
  size_t len = 1, sl = strlen(sep);
  for (size_t i = 0; i < s->n; i++)
    len += strlen(s->v[i]) + (i ? sl : 0);
  char *out = xmalloc(len), *p = out;
  for (size_t i = 0; i < s->n; i++) {
    if (i) {
      memcpy(p, sep, sl);
      p += sl;
    }
    size_t n = strlen(s->v[i]);
    memcpy(p, s->v[i], n);
    p += n;
  }
  *p = '\0';
  return out;
}

void strv_pushf(struct strv *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *str = NULL;
  if (vasprintf(&str, fmt, ap) < 0)
    oom();
  va_end(ap);
  strv_push_take(s, str);
}

void strv_wipe(struct strv *s)
{
  for (size_t i = 0; i < s->n; i++)
    explicit_bzero(s->v[i], strlen(s->v[i]));
  strv_free(s);
}

void strv_free(struct strv *s)
{
  for (size_t i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

bool strv_contains(const struct strv *s, const char *str)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i], str) == 0)
      return true;
  return false;
}

bool utf8_valid(const char *str)
{
  const unsigned char *s = (const unsigned char *)str;
  while (*s) {
    unsigned c = *s++;
    if (c < 0x80)
      continue;
    int n;
    unsigned cp, min;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
      min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
      min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
      min = 0x10000;
    } else
      return false;
    for (int i = 0; i < n; i++, s++) {
      if ((*s & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (*s & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
  }
  return true;
}

char *adr_str_escape(const char *s, size_t max)
{
  size_t n = strlen(s);
  char *out = xmalloc(4 * (n < max ? n : max) + 4);
  char *o = out;
  for (size_t i = 0; i < n; i++) {
    if ((size_t)(o - out) >= max) {
      memcpy(o, "...", 3);
      o += 3;
      break;
    }
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x7f) {
      *o++ = '\\';
      *o++ = 'x';
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    } else {
      *o++ = (char)c;
    }
  }
  *o = '\0';
  return out;
}
