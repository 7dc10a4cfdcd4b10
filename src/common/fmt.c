#include "fmt.h"
#include "util.h"

#include <inttypes.h>
#include <string.h>

char *adr_fmt_size(int64_t b)
{
  static const char *const u[] = { "B", "kB", "MB", "GB", "TB" };
  double v = (double)b;
  size_t i = 0;
  while (v >= 1000.0 && i < ARRAY_SIZE(u) - 1) {
    v /= 1000.0;
    i++;
  }
  if (i == 0)
    return xasprintf("%" PRId64 "B", b);
  return xasprintf(v < 10 ? "%.2f%s" : v < 100 ? "%.1f%s" : "%.0f%s", v, u[i]);
}

char *adr_fmt_age(time_t then, time_t now)
{
  if (then <= 0)
    return xstrdup("unknown");
  int64_t d = (int64_t)(now - then);
  if (d < 0)
    d = 0;
  struct {
    int64_t s;
    const char *one, *many;
  } units[] = {
    { 365 * 86400, "a year", "years" }, { 30 * 86400, "a month", "months" }, { 7 * 86400, "a week", "weeks" },
    { 86400, "a day", "days" },         { 3600, "an hour", "hours" },        { 60, "a minute", "minutes" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
    if (d >= units[i].s) {
      int64_t n = d / units[i].s;
      if (n == 1)
        return xasprintf("%s ago", units[i].one);
      return xasprintf("%" PRId64 " %s ago", n, units[i].many);
    }
  }
  return xstrdup(d < 2 ? "just now" : "less than a minute ago");
}

char *adr_fmt_uptime(time_t since, time_t now)
{
  int64_t d = (int64_t)(now - since);
  if (d < 0)
    d = 0;
  if (d < 60)
    return xasprintf("%" PRId64 "s", d);
  if (d < 3600)
    return xasprintf("%" PRId64 "m", d / 60);
  if (d < 86400)
    return xasprintf("%" PRId64 "h%02" PRId64 "m", d / 3600, (d % 3600) / 60);
  return xasprintf("%" PRId64 "d%02" PRId64 "h", d / 86400, (d % 86400) / 3600);
}

void adr_table_init(struct adr_table *t, size_t ncols, const char *const *headers)
{
  memset(t, 0, sizeof(*t));
  t->ncols = ncols;
  adr_table_add(t, headers);
}

void adr_table_add(struct adr_table *t, const char *const *row)
{
  t->cells = xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
  for (size_t i = 0; i < t->ncols; i++)
    t->cells[t->nrows * t->ncols + i] = xstrdup(row[i] ? row[i] : "");
  t->nrows++;
}

void adr_table_print(const struct adr_table *t, FILE *out)
{
  size_t *w = xcalloc(t->ncols, sizeof(size_t));
  for (size_t r = 0; r < t->nrows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      size_t l = strlen(t->cells[r * t->ncols + c]);
      if (l > w[c])
        w[c] = l;
    }
  for (size_t r = 0; r < t->nrows; r++) {
    for (size_t c = 0; c < t->ncols; c++) {
      const char *s = t->cells[r * t->ncols + c];
      if (c + 1 == t->ncols)
        fprintf(out, "%s\n", s);
      else
        fprintf(out, "%-*s   ", (int)w[c], s);
    }
  }
  free(w);
}

void adr_table_free(struct adr_table *t)
{
  for (size_t i = 0; i < t->nrows * t->ncols; i++)
    free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof(*t));
}
