/* The run queue (queue.h): every operation written once, in SQL both
 * stores understand; the stores and their dialects in queue-db.h. */
#include "queue.h"
#include "queue-db.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct adr_queue {
  const struct qdb_ops *ops;
  struct qdb *d;
};

static const char *const state_names[] = {
  [ADR_RUN_QUEUED] = "queued",     [ADR_RUN_CLAIMED] = "claimed",     [ADR_RUN_RUNNING] = "running",
  [ADR_RUN_FINISHED] = "finished", [ADR_RUN_CANCELLED] = "cancelled", [ADR_RUN_LOST] = "lost",
};

const char *adr_run_state_name(enum adr_run_state s)
{
  return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

int adr_run_state_parse(const char *name)
{
  for (size_t i = 0; name && i < ARRAY_SIZE(state_names); i++)
    if (streq(name, state_names[i]))
      return (int)i;
  return -1;
}

void adr_run_free(struct adr_run *r)
{
  free(r->agent);
  free(r->profile);
  free(r->repo);
  free(r->base_ref);
  free(r->prompt);
  free(r->model);
  free(r->network);
  strv_free(&r->tags);
  strv_free(&r->secrets);
  strv_free(&r->command);
  free(r->deliver);
  free(r->runner);
  free(r->result);
  memset(r, 0, sizeof(*r));
}

void adr_runs_free(struct adr_run *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    adr_run_free(&v[i]);
  free(v);
}

/* ------------------------------------------------------------ values */

static char *json_list(const struct strv *v)
{
  json_t *a = json_array();
  for (size_t i = 0; v && i < v->n; i++)
    json_array_append_new(a, json_string(v->v[i]));
  char *s = json_dumps(a, JSON_COMPACT);
  json_decref(a);
  return s;
}

static void list_json(const char *text, struct strv *out)
{
  json_t *a = text ? json_loads(text, 0, NULL) : NULL;
  size_t i;
  json_t *x;
  json_array_foreach (a, i, x) {
    if (json_is_string(x))
      strv_push(out, json_string_value(x));
  }
  json_decref(a);
}

/* tmpl with its one "%s" replaced by arg (dialect fragments are data, not
 * format strings) */
static char *fill(const char *tmpl, const char *arg)
{
  const char *at = strstr(tmpl, "%s");
  if (!at)
    return xstrdup(tmpl);
  return xasprintf("%.*s%s%s", (int)(at - tmpl), tmpl, arg, at + 2);
}

static char *num(int64_t v) { return xasprintf("%" PRId64, v); }
static int64_t to_i64(const char *s) { return s ? strtoll(s, NULL, 10) : 0; }
static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

#define RUN_COLS                                                                                          \
  "id, state, agent, profile, repo, base_ref, prompt, model, network, tags, secrets, timeout_s, runner, " \
  "lease_until, attempts, cancel, exit_code, result, created, updated, command, deliver"
enum { N_RUN_COLS = 22 };

static int run_row(struct adr_run *r, char *const *c, size_t n)
{
  if (n < N_RUN_COLS)
    return -1;
  memset(r, 0, sizeof(*r));
  r->id = to_i64(c[0]);
  int st = adr_run_state_parse(c[1]);
  r->state = st < 0 ? ADR_RUN_LOST : (enum adr_run_state)st;
  r->agent = dup_or_null(c[2]);
  r->profile = dup_or_null(c[3]);
  r->repo = dup_or_null(c[4]);
  r->base_ref = dup_or_null(c[5]);
  r->prompt = dup_or_null(c[6]);
  r->model = dup_or_null(c[7]);
  r->network = dup_or_null(c[8]);
  list_json(c[9], &r->tags);
  list_json(c[10], &r->secrets);
  r->timeout_s = to_i64(c[11]);
  r->runner = dup_or_null(c[12]);
  r->lease_until = to_i64(c[13]);
  r->attempts = (int)to_i64(c[14]);
  r->cancel = to_i64(c[15]) != 0;
  r->exit_code = (int)to_i64(c[16]);
  r->result = dup_or_null(c[17]);
  r->created = to_i64(c[18]);
  r->updated = to_i64(c[19]);
  list_json(c[20], &r->command);
  r->deliver = dup_or_null(c[21]);
  return 0;
}

/* Collects rows into a growing array of runs. */
struct runs_acc {
  struct adr_run *v;
  size_t n;
  bool bad;
};
static int acc_row(void *ud, char *const *c, size_t n)
{
  struct runs_acc *a = ud;
  a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
  if (run_row(&a->v[a->n], c, n) < 0) {
    a->bad = true;
    return 1;
  }
  a->n++;
  return 0;
}

/* The first column of the rows (as text), for RETURNING one value. */
struct first_acc {
  struct strv v;
};
static int first_row(void *ud, char *const *c, size_t n)
{
  struct first_acc *a = ud;
  strv_push(&a->v, n && c[0] ? c[0] : "");
  return 0;
}

static int q(struct adr_queue *qu, const char *sql, const char *const *p, size_t n, qdb_row_fn fn, void *ud,
             adr_err *err)
{
  return qu->ops->query(qu->d, sql, p, n, fn, ud, err);
}

/* A statement whose RETURNING gives one column: the values, in *out. */
static int q_first(struct adr_queue *qu, const char *sql, const char *const *p, size_t n, struct strv *out,
                   adr_err *err)
{
  struct first_acc a = { 0 };
  if (q(qu, sql, p, n, first_row, &a, err) < 0) {
    strv_free(&a.v);
    return -1;
  }
  *out = a.v;
  return 0;
}

/* A statement that touches a row or none (its RETURNING only tells which):
 * 0 a row, 1 none, -1 with err prefixed by what. */
static int q_hit(struct adr_queue *qu, const char *sql, const char *const *p, size_t n, const char *what, adr_err *err)
{
  struct strv v = { 0 };
  if (q_first(qu, sql, p, n, &v, err) < 0)
    return adr_err_prefix(err, "%s", what);
  int r = v.n ? 0 : 1;
  strv_free(&v);
  return r;
}

/* ------------------------------------------------------------ schema */

/* Each version's statements, in order; %s is the store's id column. */
static const char *const migration_1[] = {
  "CREATE TABLE runs (id %s, state TEXT NOT NULL, agent TEXT, profile TEXT, repo TEXT, base_ref TEXT, "
  "prompt TEXT, model TEXT, network TEXT, tags TEXT NOT NULL DEFAULT '[]', secrets TEXT NOT NULL DEFAULT '[]', "
  "timeout_s BIGINT NOT NULL DEFAULT 0, runner TEXT, lease_until BIGINT NOT NULL DEFAULT 0, "
  "attempts INTEGER NOT NULL DEFAULT 0, cancel INTEGER NOT NULL DEFAULT 0, exit_code INTEGER, result TEXT, "
  "created BIGINT NOT NULL, updated BIGINT NOT NULL)",
  "CREATE INDEX runs_state_id ON runs (state, id)",
  "CREATE INDEX runs_runner ON runs (runner)",
  NULL,
};
/* 2: what happened to a run, in order (adr runs logs, the SSE stream) */
static const char *const migration_2[] = {
  "CREATE TABLE run_events (id %s, run_id BIGINT NOT NULL, ts BIGINT NOT NULL, kind TEXT NOT NULL, data TEXT)",
  "CREATE INDEX run_events_run ON run_events (run_id, id)",
  NULL,
};
/* 3: procedural runs, where the work goes, files stored with a run */
static const char *const migration_3[] = {
  "ALTER TABLE runs ADD COLUMN command TEXT",
  "ALTER TABLE runs ADD COLUMN deliver TEXT",
  "CREATE TABLE run_files (run_id BIGINT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL, "
  "PRIMARY KEY (run_id, name))",
  NULL,
};
static const char *const *const migrations[] = { migration_1, migration_2, migration_3 };
#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

static int tx(struct adr_queue *qu, const char *const *stmts, adr_err *err)
{
  for (size_t i = 0; stmts[i]; i++)
    if (q(qu, stmts[i], NULL, 0, NULL, NULL, err) < 0)
      return -1;
  return 0;
}

int adr_queue_version(struct adr_queue *qu, int *version, adr_err *err)
{
  struct strv v = { 0 };
  if (q_first(qu, "SELECT version FROM adr_schema", NULL, 0, &v, err) < 0)
    return -1;
  *version = v.n ? (int)to_i64(v.v[0]) : 0;
  strv_free(&v);
  return 0;
}

static int migrate(struct adr_queue *qu, adr_err *err)
{
  static const char *const rollback[] = { "ROLLBACK", NULL };
  static const char *const commit[] = { "COMMIT", NULL };
  cleanup_err adr_err e2 = NULL;
  if (tx(qu, qu->ops->begin, err) < 0)
    return -1;
  int have = 0;
  if (q(qu, "CREATE TABLE IF NOT EXISTS adr_schema (version INTEGER NOT NULL)", NULL, 0, NULL, NULL, err) < 0 ||
      adr_queue_version(qu, &have, err) < 0)
    goto fail;
  if (have > SCHEMA_VERSION) {
    adr_err_set(err, EPROTO, "%s: the schema is at version %d, newer than this adr knows (%d): upgrade adr",
                qu->ops->kind, have, SCHEMA_VERSION);
    goto fail;
  }
  for (int v = have; v < SCHEMA_VERSION; v++)
    for (size_t i = 0; migrations[v][i]; i++) {
      cleanup_free char *sql = fill(migrations[v][i], qu->ops->id_type);
      if (q(qu, sql, NULL, 0, NULL, NULL, err) < 0) {
        adr_err_prefix(err, "migrate to version %d", v + 1);
        goto fail;
      }
    }
  if (have < SCHEMA_VERSION) {
    cleanup_free char *ver = num(SCHEMA_VERSION);
    const char *p[] = { ver };
    if (q(qu,
          have == 0 ? "INSERT INTO adr_schema (version) VALUES (CAST($1 AS INTEGER))"
                    : "UPDATE adr_schema SET version = CAST($1 AS INTEGER)",
          p, 1, NULL, NULL, err) < 0)
      goto fail;
  }
  return tx(qu, commit, err);
fail:
  tx(qu, rollback, &e2);
  return -1;
}

int adr_queue_open(const char *where, struct adr_queue **out, adr_err *err)
{
  const struct qdb_ops *ops = NULL;
  const char *arg = where;
  if (where && str_has_prefix(where, "sqlite:")) {
    ops = &qdb_sqlite_ops;
    arg = where + 7;
  } else if (where && (str_has_prefix(where, "postgresql://") || str_has_prefix(where, "postgres://"))) {
    ops = &qdb_pg_ops;
  }
  if (!ops || !*arg)
    return adr_err_set(err, EINVAL, "store '%s': use sqlite:PATH or postgresql://...", where ? where : "");
  struct adr_queue *qu = xcalloc(1, sizeof(*qu));
  qu->ops = ops;
  if (ops->open(&qu->d, arg, err) < 0 || migrate(qu, err) < 0) {
    adr_queue_close(qu);
    return -1;
  }
  *out = qu;
  return 0;
}

void adr_queue_close(struct adr_queue *qu)
{
  if (!qu)
    return;
  if (qu->d)
    qu->ops->close(qu->d);
  free(qu);
}

const char *adr_queue_kind(const struct adr_queue *qu) { return qu->ops->kind; }

/* ------------------------------------------------------------ events */

void adr_run_events_free(struct adr_run_event *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(v[i].kind);
    free(v[i].data);
  }
  free(v);
}

int adr_queue_event_add(struct adr_queue *qu, int64_t run_id, const char *kind, const char *data, int64_t now,
                        adr_err *err)
{
  cleanup_free char *id = num(run_id), *t = num(now);
  const char *p[] = { id, t, kind, data };
  if (q(qu, "INSERT INTO run_events (run_id, ts, kind, data) VALUES (CAST($1 AS BIGINT), CAST($2 AS BIGINT), $3, $4)",
        p, ARRAY_SIZE(p), NULL, NULL, err) < 0)
    return adr_err_prefix(err, "event");
  return 0;
}

/* A state's event, with the run's runner or exit status (errors ignored:
 * the state itself is what counts). */
static void state_event(struct adr_queue *qu, int64_t id, const char *kind, const char *runner, int exit_code,
                        int64_t now)
{
  json_t *d = json_object();
  if (runner)
    json_object_set_new(d, "runner", json_string(runner));
  if (exit_code >= 0)
    json_object_set_new(d, "exit_code", json_integer(exit_code));
  char *s = json_dumps(d, JSON_COMPACT);
  json_decref(d);
  cleanup_err adr_err e = NULL;
  adr_queue_event_add(qu, id, kind, s, now, &e);
  free(s);
}

struct events_acc {
  struct adr_run_event *v;
  size_t n;
};
static int event_row(void *ud, char *const *c, size_t n)
{
  struct events_acc *a = ud;
  if (n < 5)
    return 1;
  a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
  a->v[a->n++] = (struct adr_run_event){
    .id = to_i64(c[0]), .run_id = to_i64(c[1]), .ts = to_i64(c[2]), .kind = dup_or_null(c[3]), .data = dup_or_null(c[4])
  };
  return 0;
}

int adr_queue_events(struct adr_queue *qu, int64_t run_id, int64_t after_id, unsigned limit, struct adr_run_event **out,
                     size_t *n, adr_err *err)
{
  cleanup_free char *id = num(run_id), *after = num(after_id), *lim = num(limit ? limit : 1000);
  const char *p[] = { id, after, lim };
  struct events_acc a = { 0 };
  if (q(qu,
        "SELECT id, run_id, ts, kind, data FROM run_events WHERE run_id = CAST($1 AS BIGINT) AND "
        "id > CAST($2 AS BIGINT) ORDER BY id LIMIT CAST($3 AS BIGINT)",
        p, ARRAY_SIZE(p), event_row, &a, err) < 0) {
    adr_run_events_free(a.v, a.n);
    return adr_err_prefix(err, "events");
  }
  *out = a.v;
  *n = a.n;
  return 0;
}

int adr_queue_output(struct adr_queue *qu, int64_t id, const char *runner, const char *text, int64_t now, adr_err *err)
{
  cleanup_free char *i = num(id);
  const char *p[] = { i, runner };
  int held = q_hit(qu,
                   "SELECT id FROM runs WHERE id = CAST($1 AS BIGINT) AND runner = $2 AND "
                   "state IN ('claimed', 'running')",
                   p, ARRAY_SIZE(p), "output", err);
  return held != 0 ? held : adr_queue_event_add(qu, id, "output", text, now, err);
}

/* ------------------------------------------------------------ runs */

int adr_queue_submit(struct adr_queue *qu, const struct adr_run *r, int64_t now, int64_t *id, adr_err *err)
{
  if (!(r->agent && *r->agent) && !(r->profile && *r->profile))
    return adr_err_set(err, EINVAL, "a run names an agent or a profile");
  cleanup_free char *tags = json_list(&r->tags), *secrets = json_list(&r->secrets);
  cleanup_free char *timeout = num(r->timeout_s), *t = num(now);
  cleanup_free char *command = r->command.n ? json_list(&r->command) : NULL;
  const char *p[] = { r->agent, r->profile, r->repo, r->base_ref, r->prompt, r->model,  r->network,
                      tags,     secrets,    timeout, t,           command,   r->deliver };
  struct strv ids = { 0 };
  if (q_first(qu,
              "INSERT INTO runs (state, agent, profile, repo, base_ref, prompt, model, network, tags, secrets, "
              "timeout_s, created, updated, command, deliver) VALUES ('queued', $1, $2, $3, $4, $5, $6, $7, $8, "
              "$9, CAST($10 AS BIGINT), CAST($11 AS BIGINT), CAST($11 AS BIGINT), $12, $13) RETURNING id",
              p, ARRAY_SIZE(p), &ids, err) < 0)
    return adr_err_prefix(err, "submit");
  *id = ids.n ? to_i64(ids.v[0]) : 0;
  strv_free(&ids);
  state_event(qu, *id, "queued", NULL, -1, now);
  return 0;
}

int adr_queue_claim(struct adr_queue *qu, const char *runner, const struct strv *tags, bool only_tagged, int64_t now,
                    int64_t lease_ms, struct adr_run *out, adr_err *err)
{
  cleanup_free char *have = json_list(tags), *until = num(now + lease_ms), *t = num(now);
  cleanup_free char *within = fill(qu->ops->tags_within, "$4");
  cleanup_free char *sql = xasprintf(
    "UPDATE runs SET state = 'claimed', runner = $1, lease_until = CAST($2 AS BIGINT), "
    "attempts = attempts + 1, updated = CAST($3 AS BIGINT) WHERE state = 'queued' AND id = "
    "(SELECT id FROM runs WHERE state = 'queued' AND %s%s%s ORDER BY id LIMIT 1%s) RETURNING " RUN_COLS,
    within, only_tagged ? " AND " : "", only_tagged ? qu->ops->tagged : "", qu->ops->skip_locked);
  const char *p[] = { runner, until, t, have };
  struct runs_acc a = { 0 };
  if (q(qu, sql, p, ARRAY_SIZE(p), acc_row, &a, err) < 0 || a.bad) {
    adr_runs_free(a.v, a.n);
    return a.bad ? adr_err_set(err, EIO, "claim: a row the store returned is short") : adr_err_prefix(err, "claim");
  }
  if (a.n == 0) {
    free(a.v);
    return 1;
  }
  *out = a.v[0];
  for (size_t i = 1; i < a.n; i++)
    adr_run_free(&a.v[i]);
  free(a.v);
  state_event(qu, out->id, "claimed", runner, -1, now);
  return 0;
}

int adr_queue_heartbeat(struct adr_queue *qu, int64_t id, const char *runner, int64_t now, int64_t lease_ms,
                        bool *cancel, adr_err *err)
{
  cleanup_free char *until = num(now + lease_ms), *t = num(now), *i = num(id);
  const char *p[] = { until, t, i, runner };
  struct strv v = { 0 };
  if (q_first(qu,
              "UPDATE runs SET lease_until = CAST($1 AS BIGINT), updated = CAST($2 AS BIGINT) WHERE "
              "id = CAST($3 AS BIGINT) AND runner = $4 AND state IN ('claimed', 'running') RETURNING cancel",
              p, ARRAY_SIZE(p), &v, err) < 0)
    return adr_err_prefix(err, "heartbeat");
  int r = v.n ? 0 : 1;
  if (cancel)
    *cancel = v.n && to_i64(v.v[0]) != 0;
  strv_free(&v);
  return r;
}

int adr_queue_started(struct adr_queue *qu, int64_t id, const char *runner, int64_t now, adr_err *err)
{
  cleanup_free char *t = num(now), *i = num(id);
  const char *p[] = { t, i, runner };
  int r = q_hit(qu,
                "UPDATE runs SET state = 'running', updated = CAST($1 AS BIGINT) WHERE id = CAST($2 AS BIGINT) "
                "AND runner = $3 AND state = 'claimed' RETURNING id",
                p, ARRAY_SIZE(p), "started", err);
  if (r == 0)
    state_event(qu, id, "started", runner, -1, now);
  return r;
}

int adr_queue_finish(struct adr_queue *qu, int64_t id, const char *runner, int exit_code, const char *result,
                     int64_t now, adr_err *err)
{
  cleanup_free char *code = num(exit_code), *t = num(now), *i = num(id);
  const char *p[] = { code, result, t, i, runner };
  struct strv v = { 0 };
  if (q_first(qu,
              "UPDATE runs SET state = CASE WHEN cancel <> 0 THEN 'cancelled' ELSE 'finished' END, "
              "exit_code = CAST($1 AS INTEGER), result = $2, lease_until = 0, updated = CAST($3 AS BIGINT) "
              "WHERE id = CAST($4 AS BIGINT) AND runner = $5 AND state IN ('claimed', 'running') RETURNING state",
              p, ARRAY_SIZE(p), &v, err) < 0)
    return adr_err_prefix(err, "finish");
  int r = v.n ? 0 : 1;
  if (r == 0)
    state_event(qu, id, v.v[0], runner, exit_code, now);
  strv_free(&v);
  return r;
}

int adr_queue_cancel(struct adr_queue *qu, int64_t id, int64_t now, adr_err *err)
{
  cleanup_free char *t = num(now), *i = num(id);
  const char *p[] = { t, i };
  /* queued: cancelled now; held: its runner is asked */
  int r = q_hit(qu,
                "UPDATE runs SET state = 'cancelled', updated = CAST($1 AS BIGINT) WHERE id = CAST($2 AS BIGINT) "
                "AND state = 'queued' RETURNING id",
                p, ARRAY_SIZE(p), "cancel", err);
  const char *kind = "cancelled";
  if (r == 1) {
    r = q_hit(qu,
              "UPDATE runs SET cancel = 1, updated = CAST($1 AS BIGINT) WHERE id = CAST($2 AS BIGINT) "
              "AND state IN ('claimed', 'running') RETURNING id",
              p, ARRAY_SIZE(p), "cancel", err);
    kind = "cancel-asked";
  }
  if (r == 0)
    state_event(qu, id, kind, NULL, -1, now);
  return r;
}

int adr_queue_expire(struct adr_queue *qu, int64_t now, int max_attempts, unsigned *requeued, unsigned *lost,
                     adr_err *err)
{
  cleanup_free char *m = num(max_attempts), *t = num(now);
  const char *p[] = { m, t };
  struct strv v = { 0 };
  /* a run asked to stop is not run again: it is cancelled */
  if (q_first(qu,
              "UPDATE runs SET state = CASE WHEN cancel <> 0 THEN 'cancelled' WHEN attempts < CAST($1 AS INTEGER) "
              "THEN 'queued' ELSE 'lost' END, runner = CASE WHEN cancel = 0 AND attempts < CAST($1 AS INTEGER) "
              "THEN NULL ELSE runner END, lease_until = 0, updated = CAST($2 AS BIGINT) "
              "WHERE state IN ('claimed', 'running') AND lease_until < CAST($2 AS BIGINT) RETURNING "
              "state || ' ' || CAST(id AS TEXT)",
              p, ARRAY_SIZE(p), &v, err) < 0)
    return adr_err_prefix(err, "expire leases");
  unsigned rq = 0, lo = 0;
  for (size_t i = 0; i < v.n; i++) {
    char *sp = strchr(v.v[i], ' ');
    if (!sp)
      continue;
    *sp = '\0';
    rq += streq(v.v[i], "queued");
    lo += streq(v.v[i], "lost");
    state_event(qu, to_i64(sp + 1), streq(v.v[i], "queued") ? "requeued" : v.v[i], NULL, -1, now);
  }
  strv_free(&v);
  if (requeued)
    *requeued = rq;
  if (lost)
    *lost = lo;
  return 0;
}

int adr_queue_release(struct adr_queue *qu, int64_t id, const char *runner, int max_attempts, const char *why,
                      int64_t now, enum adr_run_state *state, adr_err *err)
{
  cleanup_free char *m = num(max_attempts), *t = num(now), *i = num(id);
  const char *p[] = { m, t, i, runner };
  struct strv v = { 0 };
  if (q_first(qu,
              "UPDATE runs SET state = CASE WHEN cancel <> 0 THEN 'cancelled' WHEN attempts < CAST($1 AS INTEGER) "
              "THEN 'queued' ELSE 'lost' END, runner = CASE WHEN cancel = 0 AND attempts < CAST($1 AS INTEGER) "
              "THEN NULL ELSE runner END, lease_until = 0, updated = CAST($2 AS BIGINT) "
              "WHERE id = CAST($3 AS BIGINT) AND runner = $4 AND state IN ('claimed', 'running') RETURNING state",
              p, ARRAY_SIZE(p), &v, err) < 0)
    return adr_err_prefix(err, "release");
  int r = v.n ? 0 : 1;
  if (r == 0) {
    json_t *d = json_pack("{s:s, s:s, s:s}", "runner", runner, "state", v.v[0], "why", why ? why : "");
    cleanup_free char *data = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    cleanup_err adr_err e2 = NULL;
    adr_queue_event_add(qu, id, "released", data, now, &e2);
    if (state)
      *state = (enum adr_run_state)adr_run_state_parse(v.v[0]);
  }
  strv_free(&v);
  return r;
}

int adr_queue_file_put(struct adr_queue *qu, int64_t id, const char *runner, const char *name, const char *data,
                       adr_err *err)
{
  cleanup_free char *i = num(id);
  const char *p[] = { i, runner };
  int held = q_hit(qu,
                   "SELECT id FROM runs WHERE id = CAST($1 AS BIGINT) AND runner = $2 AND "
                   "state IN ('claimed', 'running')",
                   p, ARRAY_SIZE(p), "store a file", err);
  if (held != 0)
    return held;
  const char *pf[] = { i, name, data };
  if (q(qu,
        "INSERT INTO run_files (run_id, name, data) VALUES (CAST($1 AS BIGINT), $2, $3) "
        "ON CONFLICT (run_id, name) DO UPDATE SET data = excluded.data",
        pf, ARRAY_SIZE(pf), NULL, NULL, err) < 0)
    return adr_err_prefix(err, "store a file");
  return 0;
}

int adr_queue_file_get(struct adr_queue *qu, int64_t id, const char *name, char **data, adr_err *err)
{
  cleanup_free char *i = num(id);
  const char *p[] = { i, name };
  struct strv v = { 0 };
  if (q_first(qu, "SELECT data FROM run_files WHERE run_id = CAST($1 AS BIGINT) AND name = $2", p, ARRAY_SIZE(p), &v,
              err) < 0)
    return adr_err_prefix(err, "read a file");
  int r = v.n ? 0 : 1;
  *data = v.n ? TAKE_PTR(v.v[0]) : NULL;
  strv_free(&v);
  return r;
}

int adr_queue_get(struct adr_queue *qu, int64_t id, struct adr_run *out, adr_err *err)
{
  cleanup_free char *i = num(id);
  const char *p[] = { i };
  struct runs_acc a = { 0 };
  if (q(qu, "SELECT " RUN_COLS " FROM runs WHERE id = CAST($1 AS BIGINT)", p, 1, acc_row, &a, err) < 0 || a.bad) {
    adr_runs_free(a.v, a.n);
    return a.bad ? adr_err_set(err, EIO, "get: a row the store returned is short") : -1;
  }
  if (a.n == 0) {
    free(a.v);
    return 1;
  }
  *out = a.v[0];
  free(a.v);
  return 0;
}

int adr_queue_list(struct adr_queue *qu, const struct adr_queue_filter *f, struct adr_run **out, size_t *n,
                   adr_err *err)
{
  cleanup_free char *after = num(f->after_id), *lim = num(f->limit ? f->limit : 100);
  const char *state = f->state >= 0 ? adr_run_state_name((enum adr_run_state)f->state) : NULL;
  cleanup_free char *tagc = f->tag ? fill(qu->ops->has_tag, "$5") : NULL;
  cleanup_free char *sql =
    xasprintf("SELECT " RUN_COLS
              " FROM runs WHERE (CAST($1 AS TEXT) IS NULL OR state = CAST($1 AS TEXT)) AND "
              "(CAST($2 AS TEXT) IS NULL OR runner = CAST($2 AS TEXT)) AND id > CAST($3 AS BIGINT)%s%s "
              "ORDER BY id LIMIT CAST($4 AS BIGINT)",
              tagc ? " AND " : "", tagc ? tagc : "");
  const char *p[] = { state, f->runner, after, lim, f->tag };
  struct runs_acc a = { 0 };
  if (q(qu, sql, p, f->tag ? 5 : 4, acc_row, &a, err) < 0 || a.bad) {
    adr_runs_free(a.v, a.n);
    return a.bad ? adr_err_set(err, EIO, "list: a row the store returned is short") : adr_err_prefix(err, "list");
  }
  *out = a.v;
  *n = a.n;
  return 0;
}
