/* Human-readable formatting: sizes, ages, tables. */
#ifndef ADR_FMT_H
#define ADR_FMT_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

char *adr_fmt_size(int64_t bytes);              /* "705MB" (decimal, like docker) */
char *adr_fmt_age(time_t then, time_t now);     /* "2 days ago" */
char *adr_fmt_uptime(time_t since, time_t now); /* "3h12m" */

/* A simple left-aligned table. */
struct adr_table {
  size_t ncols, nrows;
  char **cells; /* row-major, owned */
};
void adr_table_init(struct adr_table *t, size_t ncols, const char *const *headers);
void adr_table_add(struct adr_table *t, const char *const *row);
void adr_table_print(const struct adr_table *t, FILE *out);
void adr_table_free(struct adr_table *t);

#endif
