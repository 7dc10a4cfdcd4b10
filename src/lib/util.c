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
