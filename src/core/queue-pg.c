/* The PostgreSQL store of the run queue (queue-db.h), through libpq:
 * several coordinators may share it; a claim passes rows another claim
 * holds (FOR UPDATE SKIP LOCKED), migrations take an advisory lock. */
#include "queue-db.h"
#include "util.h"

#include <errno.h>
#include <libpq-fe.h>
#include <string.h>

#define MAX_COLS 32

struct qdb {
  PGconn *c;
};

/* libpq's messages end with a newline */
static int fail(PGconn *c, adr_err *err, const char *what)
{
  const char *m = c ? PQerrorMessage(c) : "out of memory";
  size_t n = strlen(m);
  while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
    n--;
  return adr_err_set(err, EIO, "postgresql: %s: %.*s", what, (int)n, m);
}

static int pg_query(struct qdb *d, const char *sql, const char *const *params, size_t n, qdb_row_fn fn, void *ud,
                    adr_err *err)
{
  PGresult *r = PQexecParams(d->c, sql, (int)n, NULL, params, NULL, NULL, 0);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
    PQclear(r);
    return fail(d->c, err, "query");
  }
  int rows = PQntuples(r), nc = PQnfields(r);
  if (nc > MAX_COLS)
    nc = MAX_COLS;
  for (int i = 0; i < rows && fn; i++) {
    char *cols[MAX_COLS];
    for (int c = 0; c < nc; c++)
      cols[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
    if (fn(ud, cols, (size_t)nc))
      break;
  }
  PQclear(r);
  return 0;
}

static void pg_close(struct qdb *d)
{
  if (!d)
    return;
  PQfinish(d->c);
  free(d);
}

static void no_notice(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}

static int pg_open(struct qdb **out, const char *where, adr_err *err)
{
  struct qdb *d = xcalloc(1, sizeof(*d));
  d->c = PQconnectdb(where);
  if (!d->c || PQstatus(d->c) != CONNECTION_OK) {
    fail(d->c, err, "connect");
    pg_close(d);
    return -1;
  }
  /* quiet notices (CREATE ... IF NOT EXISTS says so on stderr otherwise) */
  PQsetNoticeProcessor(d->c, no_notice, NULL);
  if (pg_query(d, "SET client_min_messages = warning", NULL, 0, NULL, NULL, err) < 0) {
    pg_close(d);
    return -1;
  }
  *out = d;
  return 0;
}

static const char *const pg_begin[] = { "BEGIN", "SELECT pg_advisory_xact_lock(7420716)", NULL };

const struct qdb_ops qdb_pg_ops = {
  .kind = "postgresql",
  .id_type = "BIGSERIAL PRIMARY KEY",
  .begin = pg_begin,
  .skip_locked = " FOR UPDATE SKIP LOCKED",
  .tags_within = "CAST(runs.tags AS jsonb) <@ CAST(%s AS jsonb)",
  .tagged = "jsonb_array_length(CAST(runs.tags AS jsonb)) > 0",
  .has_tag = "CAST(runs.tags AS jsonb) @> jsonb_build_array(CAST(%s AS text))",
  .open = pg_open,
  .close = pg_close,
  .query = pg_query,
};
