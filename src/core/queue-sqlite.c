/* The SQLite store of the run queue (queue-db.h): one file, WAL, writers
 * serialised by SQLite's lock (each queue operation is one statement or
 * an IMMEDIATE transaction), a busy timeout for other processes. */
#include "queue-db.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BUSY_MS 15000
#define MAX_COLS 32

struct qdb {
  sqlite3 *db;
  char *path;
};

static int fail(struct qdb *d, adr_err *err, const char *what)
{
  return adr_err_set(err, EIO, "sqlite '%s': %s: %s", d->path, what, sqlite3_errmsg(d->db));
}

static int sq_query(struct qdb *d, const char *sql, const char *const *params, size_t n, qdb_row_fn fn, void *ud,
                    adr_err *err)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
    return fail(d, err, "prepare");
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "$%zu", i + 1);
    int idx = sqlite3_bind_parameter_index(st, name);
    if (idx == 0)
      continue; /* not in this statement */
    int r = params[i] ? sqlite3_bind_text(st, idx, params[i], -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
    if (r != SQLITE_OK) {
      sqlite3_finalize(st);
      return fail(d, err, "bind");
    }
  }
  int rc, stop = 0;
  while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    int nc = sqlite3_column_count(st);
    char *cols[MAX_COLS];
    if (nc > MAX_COLS)
      nc = MAX_COLS;
    for (int c = 0; c < nc; c++)
      cols[c] = (char *)sqlite3_column_text(st, c);
    stop = fn ? fn(ud, cols, (size_t)nc) : 0;
  }
  if (!stop && rc != SQLITE_DONE) {
    fail(d, err, "step");
    sqlite3_finalize(st);
    return -1;
  }
  sqlite3_finalize(st);
  return 0;
}

static void sq_close(struct qdb *d)
{
  if (!d)
    return;
  sqlite3_close_v2(d->db);
  free(d->path);
  free(d);
}

static int sq_open(struct qdb **out, const char *where, adr_err *err)
{
  struct qdb *d = xcalloc(1, sizeof(*d));
  d->path = xstrdup(where);
  /* made private first: SQLite gives its -wal and -shm files the mode of the database */
  int fd = open(where, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    adr_err_sys(err, errno, "sqlite '%s'", where);
    sq_close(d);
    return -1;
  }
  close(fd);
  if (sqlite3_open_v2(where, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
    fail(d, err, "open");
    sq_close(d);
    return -1;
  }
  sqlite3_busy_timeout(d->db, BUSY_MS);
  static const char *const pragmas[] = { "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                                         "PRAGMA foreign_keys=ON" };
  for (size_t i = 0; i < ARRAY_SIZE(pragmas); i++)
    if (sq_query(d, pragmas[i], NULL, 0, NULL, NULL, err) < 0) {
      sq_close(d);
      return -1;
    }
  *out = d;
  return 0;
}

static const char *const sq_begin[] = { "BEGIN IMMEDIATE", NULL };

const struct qdb_ops qdb_sqlite_ops = {
  .kind = "sqlite",
  .id_type = "INTEGER PRIMARY KEY AUTOINCREMENT",
  .begin = sq_begin,
  .skip_locked = "",
  .tags_within =
    "NOT EXISTS (SELECT 1 FROM json_each(runs.tags) AS t WHERE t.value NOT IN "
    "(SELECT value FROM json_each(%s)))",
  .tagged = "json_array_length(runs.tags) > 0",
  .has_tag = "EXISTS (SELECT 1 FROM json_each(runs.tags) AS t WHERE t.value = %s)",
  .open = sq_open,
  .close = sq_close,
  .query = sq_query,
};
