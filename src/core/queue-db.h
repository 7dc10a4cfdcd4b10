/* The stores behind queue.h: a small SQL driver each (queue-sqlite.c,
 * queue-pg.c) and what differs in their dialects.  queue.c writes every
 * query once, in the SQL both understand ($N parameters, CAST, RETURNING),
 * and takes the few fragments that differ from here.  Not an API. */
#ifndef ADR_QUEUE_DB_H
#define ADR_QUEUE_DB_H

#include "err.h"

#include <stddef.h>

struct qdb;
/* One row: its columns as text (NULL: SQL NULL); non-zero stops. */
typedef int (*qdb_row_fn)(void *ud, char *const *cols, size_t n);

struct qdb_ops {
  const char *kind;
  const char *id_type;      /* runs.id */
  const char *const *begin; /* statements that open a transaction no other writer enters */
  const char *skip_locked;  /* after the claim's inner SELECT: rows another claim holds are passed */
  const char *tags_within;  /* runs.tags (JSON) all in $4 (JSON): one %s, the parameter */
  const char *tagged;       /* runs.tags is not empty */
  const char *has_tag;      /* runs.tags holds the text parameter %s */
  int (*open)(struct qdb **d, const char *where, adr_err *err);
  void (*close)(struct qdb *d);
  /* Runs one statement with text parameters $1..$n (NULL: SQL NULL),
   * calling fn for each row it returns. */
  int (*query)(struct qdb *d, const char *sql, const char *const *params, size_t n, qdb_row_fn fn, void *ud,
               adr_err *err);
};

extern const struct qdb_ops qdb_sqlite_ops;
extern const struct qdb_ops qdb_pg_ops;

#endif
