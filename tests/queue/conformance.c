/* The run queue's conformance suite (core/queue.h): what every store must
 * do, driven through the interface against a real store, the same tests
 * for each:
 *
 *   build/tests/queue-conformance sqlite:/tmp/q.db
 *   build/tests/queue-conformance postgresql:///adr_test?host=/tmp/pg
 *
 * The store must be empty (a new file, a new database): scripts/test.sh
 * (layer "queue") makes both, the PostgreSQL server included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *URL;
static struct adr_queue *Q;
static int64_t T0 = 1000000; /* the tests' clock, ms */

static void fail_err(const char *what, adr_err *err)
{
  fail_msg("%s: %s", what, *err && (*err)->msg ? (*err)->msg : "?");
}

static int64_t submit(const char *agent, const char *tags_csv, const char *prompt)
{
  struct adr_run r = { 0 };
  r.agent = (char *)agent;
  r.prompt = (char *)prompt;
  char *copy = strdup(tags_csv ? tags_csv : ""), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    strv_push(&r.tags, t);
  free(copy);
  adr_err err = NULL;
  int64_t id = 0;
  if (adr_queue_submit(Q, &r, T0, &id, &err) < 0)
    fail_err("submit", &err);
  strv_free(&r.tags);
  return id;
}

/* Claims for runner with tags (CSV): the id, 0 when none. */
static int64_t claim(const char *runner, const char *tags_csv, bool only_tagged, int64_t now)
{
  struct strv tags = { 0 };
  char *copy = strdup(tags_csv ? tags_csv : ""), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    strv_push(&tags, t);
  free(copy);
  struct adr_run r = { 0 };
  adr_err err = NULL;
  int c = adr_queue_claim(Q, runner, &tags, only_tagged, now, 30000, &r, &err);
  strv_free(&tags);
  if (c < 0)
    fail_err("claim", &err);
  int64_t id = c == 0 ? r.id : 0;
  if (c == 0) {
    assert_int_equal(r.state, ADR_RUN_CLAIMED);
    assert_string_equal(r.runner, runner);
    assert_int_equal(r.lease_until, now + 30000);
  }
  adr_run_free(&r);
  return id;
}

static enum adr_run_state state_of(int64_t id)
{
  struct adr_run r = { 0 };
  adr_err err = NULL;
  if (adr_queue_get(Q, id, &r, &err) != 0)
    fail_err("get", &err);
  enum adr_run_state s = r.state;
  adr_run_free(&r);
  return s;
}

/* Each test starts with nothing queued or held: what the one before left
 * is ended (held runs lost, queued ones cancelled). */
static int clean(void **state)
{
  (void)state;
  adr_err err = NULL;
  if (adr_queue_expire(Q, INT64_MAX / 2, 0, NULL, NULL, &err) < 0)
    fail_err("expire", &err);
  for (;;) {
    struct adr_queue_filter f = { .state = ADR_RUN_QUEUED, .limit = 500 };
    struct adr_run *v = NULL;
    size_t n = 0;
    if (adr_queue_list(Q, &f, &v, &n, &err) < 0)
      fail_err("list", &err);
    for (size_t i = 0; i < n; i++)
      adr_queue_cancel(Q, v[i].id, T0, &err);
    adr_runs_free(v, n);
    if (n == 0)
      return 0;
  }
}

static void test_schema(void **state)
{
  (void)state;
  adr_err err = NULL;
  int v = 0;
  if (adr_queue_version(Q, &v, &err) < 0)
    fail_err("version", &err);
  assert_int_equal(v, 3);
  /* opening again migrates nothing and loses nothing */
  int64_t id = submit("pi", NULL, "kept");
  struct adr_queue *q2 = NULL;
  if (adr_queue_open(URL, &q2, &err) < 0)
    fail_err("reopen", &err);
  struct adr_run r = { 0 };
  assert_int_equal(adr_queue_get(q2, id, &r, &err), 0);
  assert_string_equal(r.prompt, "kept");
  adr_run_free(&r);
  adr_queue_close(q2);
  /* bad stores are named */
  assert_int_equal(adr_queue_open("mysql://x", &q2, &err), -1);
  assert_string_equal(err->msg, "store 'mysql://x': use sqlite:PATH or postgresql://...");
  adr_err_free(&err);
  assert_int_equal(adr_queue_open("sqlite:", &q2, &err), -1);
  adr_err_free(&err);
}

static void test_submit_get_list(void **state)
{
  (void)state;
  struct adr_run r = { 0 }, g = { 0 };
  r.profile = (char *)"review";
  r.repo = (char *)"https://example.invalid/r.git";
  r.base_ref = (char *)"main";
  r.prompt = (char *)"fix the \"bug\" in parse.c \xe2\x9c\x93\nand 'quote' it";
  r.model = (char *)"m1";
  r.network = (char *)"allowlist";
  strv_push(&r.tags, "gpu");
  strv_push(&r.tags, "linux");
  strv_push(&r.secrets, "ANTHROPIC_API_KEY");
  r.timeout_s = 900;
  adr_err err = NULL;
  int64_t id = 0;
  if (adr_queue_submit(Q, &r, T0, &id, &err) < 0)
    fail_err("submit", &err);
  assert_true(id > 0);
  assert_int_equal(adr_queue_get(Q, id, &g, &err), 0);
  assert_int_equal(g.id, id);
  assert_int_equal(g.state, ADR_RUN_QUEUED);
  assert_null(g.agent);
  assert_string_equal(g.profile, "review");
  assert_string_equal(g.repo, r.repo);
  assert_string_equal(g.base_ref, "main");
  assert_string_equal(g.prompt, r.prompt);
  assert_string_equal(g.model, "m1");
  assert_string_equal(g.network, "allowlist");
  assert_int_equal(g.tags.n, 2);
  assert_string_equal(g.tags.v[1], "linux");
  assert_int_equal(g.secrets.n, 1);
  assert_string_equal(g.secrets.v[0], "ANTHROPIC_API_KEY");
  assert_int_equal(g.timeout_s, 900);
  assert_null(g.runner);
  assert_int_equal(g.attempts, 0);
  assert_int_equal(g.created, T0);
  adr_run_free(&g);
  strv_free(&r.tags);
  strv_free(&r.secrets);
  /* neither agent nor profile: refused, nothing stored */
  struct adr_run none = { 0 };
  int64_t id2 = 0;
  assert_int_equal(adr_queue_submit(Q, &none, T0, &id2, &err), -1);
  assert_string_equal(err->msg, "a run names an agent or a profile");
  adr_err_free(&err);
  assert_int_equal(adr_queue_get(Q, id + 1, &g, &err), 1);
  /* list: by state, tag, runner, paging */
  int64_t a = submit("pi", "linux", "a"), b = submit("claude", NULL, "b");
  struct adr_queue_filter f = { .state = ADR_RUN_QUEUED, .after_id = id - 1 };
  struct adr_run *v = NULL;
  size_t n = 0;
  if (adr_queue_list(Q, &f, &v, &n, &err) < 0)
    fail_err("list", &err);
  assert_int_equal(n, 3);
  assert_int_equal(v[0].id, id);
  assert_int_equal(v[2].id, b);
  adr_runs_free(v, n);
  f.tag = "linux";
  adr_queue_list(Q, &f, &v, &n, &err);
  assert_int_equal(n, 2);
  assert_int_equal(v[1].id, a);
  adr_runs_free(v, n);
  f.tag = NULL;
  f.limit = 1;
  f.after_id = id;
  adr_queue_list(Q, &f, &v, &n, &err);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].id, a);
  adr_runs_free(v, n);
  f = (struct adr_queue_filter){ .state = ADR_RUN_FINISHED, .after_id = id - 1 };
  adr_queue_list(Q, &f, &v, &n, &err);
  assert_int_equal(n, 0);
  adr_runs_free(v, n);
}

static void test_claim_tags_order(void **state)
{
  (void)state;
  int64_t plain = submit("pi", NULL, "p"), gpu = submit("pi", "gpu", "g"), both = submit("pi", "gpu,linux", "gl");
  /* a runner without tags takes only untagged runs */
  assert_int_equal(claim("r0", NULL, false, T0), plain);
  assert_int_equal(claim("r0", NULL, false, T0), 0);
  /* every tag of the run must be the runner's */
  assert_int_equal(claim("r1", "linux", false, T0), 0);
  assert_int_equal(claim("r1", "linux,gpu,extra", false, T0), gpu); /* the oldest first */
  assert_int_equal(claim("r1", "linux,gpu", false, T0), both);
  /* only_tagged: untagged runs are left for others */
  int64_t p2 = submit("pi", NULL, "p2"), g2 = submit("pi", "gpu", "g2");
  assert_int_equal(claim("r2", "gpu", true, T0), g2);
  assert_int_equal(claim("r2", "gpu", true, T0), 0);
  assert_int_equal(claim("r3", "gpu", false, T0), p2);
  assert_int_equal(state_of(p2), ADR_RUN_CLAIMED);
  adr_err err = NULL;
  assert_int_equal(adr_queue_finish(Q, plain, "r0", 0, NULL, T0, &err), 0);
  assert_int_equal(adr_queue_finish(Q, gpu, "r1", 0, NULL, T0, &err), 0);
  assert_int_equal(adr_queue_finish(Q, both, "r1", 0, NULL, T0, &err), 0);
  assert_int_equal(adr_queue_finish(Q, g2, "r2", 0, NULL, T0, &err), 0);
  assert_int_equal(adr_queue_finish(Q, p2, "r3", 0, NULL, T0, &err), 0);
}

static void test_lifecycle(void **state)
{
  (void)state;
  adr_err err = NULL;
  int64_t id = submit("pi", NULL, "life");
  assert_int_equal(claim("r1", NULL, false, T0), id);
  /* only the holder moves it */
  assert_int_equal(adr_queue_started(Q, id, "other", T0, &err), 1);
  assert_int_equal(adr_queue_started(Q, id, "r1", T0 + 1, &err), 0);
  assert_int_equal(state_of(id), ADR_RUN_RUNNING);
  assert_int_equal(adr_queue_started(Q, id, "r1", T0 + 1, &err), 1); /* running already */
  bool cancel = true;
  assert_int_equal(adr_queue_heartbeat(Q, id, "other", T0 + 2, 30000, &cancel, &err), 1);
  assert_int_equal(adr_queue_heartbeat(Q, id, "r1", T0 + 2, 60000, &cancel, &err), 0);
  assert_false(cancel);
  struct adr_run r = { 0 };
  assert_int_equal(adr_queue_get(Q, id, &r, &err), 0);
  assert_int_equal(r.lease_until, T0 + 2 + 60000);
  adr_run_free(&r);
  assert_int_equal(adr_queue_finish(Q, id, "other", 0, NULL, T0 + 3, &err), 1);
  assert_int_equal(adr_queue_finish(Q, id, "r1", 3, "{\"branch\":\"adr/run-1\"}", T0 + 3, &err), 0);
  assert_int_equal(adr_queue_get(Q, id, &r, &err), 0);
  assert_int_equal(r.state, ADR_RUN_FINISHED);
  assert_int_equal(r.exit_code, 3);
  assert_string_equal(r.result, "{\"branch\":\"adr/run-1\"}");
  assert_int_equal(r.updated, T0 + 3);
  adr_run_free(&r);
  /* finished is final */
  assert_int_equal(adr_queue_finish(Q, id, "r1", 0, NULL, T0 + 4, &err), 1);
  assert_int_equal(adr_queue_heartbeat(Q, id, "r1", T0 + 4, 1000, &cancel, &err), 1);
  assert_int_equal(adr_queue_cancel(Q, id, T0 + 4, &err), 1);
}

static void test_cancel(void **state)
{
  (void)state;
  adr_err err = NULL;
  int64_t queued = submit("pi", NULL, "c1"), held = submit("pi", NULL, "c2");
  assert_int_equal(adr_queue_cancel(Q, queued, T0, &err), 0);
  assert_int_equal(state_of(queued), ADR_RUN_CANCELLED);
  assert_int_equal(claim("r1", NULL, false, T0), held); /* the cancelled one is never claimed */
  assert_int_equal(adr_queue_cancel(Q, held, T0, &err), 0);
  assert_int_equal(state_of(held), ADR_RUN_CLAIMED); /* the runner stops it */
  bool cancel = false;
  assert_int_equal(adr_queue_heartbeat(Q, held, "r1", T0, 30000, &cancel, &err), 0);
  assert_true(cancel);
  assert_int_equal(adr_queue_finish(Q, held, "r1", 143, NULL, T0, &err), 0);
  assert_int_equal(state_of(held), ADR_RUN_CANCELLED);
  assert_int_equal(adr_queue_cancel(Q, 999999999, T0, &err), 1);
  /* a run asked to stop whose runner vanished is not run again */
  int64_t gone = submit("pi", NULL, "c3");
  assert_int_equal(claim("r2", NULL, false, T0), gone);
  assert_int_equal(adr_queue_cancel(Q, gone, T0, &err), 0);
  unsigned rq = 9, lo = 9;
  assert_int_equal(adr_queue_expire(Q, T0 + 31000, 3, &rq, &lo, &err), 0);
  assert_int_equal(rq + lo, 0);
  assert_int_equal(state_of(gone), ADR_RUN_CANCELLED);
}

static void test_lease_expiry(void **state)
{
  (void)state;
  adr_err err = NULL;
  int64_t id = submit("pi", NULL, "lease");
  assert_int_equal(claim("r1", NULL, false, T0), id);
  unsigned rq = 9, lo = 9;
  /* within the lease: nothing happens */
  assert_int_equal(adr_queue_expire(Q, T0 + 29999, 2, &rq, &lo, &err), 0);
  assert_int_equal(rq + lo, 0);
  assert_int_equal(state_of(id), ADR_RUN_CLAIMED);
  /* missed: queued again, and the old holder no longer holds it */
  assert_int_equal(adr_queue_expire(Q, T0 + 30001, 2, &rq, &lo, &err), 0);
  assert_int_equal(rq, 1);
  assert_int_equal(lo, 0);
  assert_int_equal(state_of(id), ADR_RUN_QUEUED);
  bool cancel;
  assert_int_equal(adr_queue_heartbeat(Q, id, "r1", T0 + 30002, 30000, &cancel, &err), 1);
  assert_int_equal(adr_queue_finish(Q, id, "r1", 0, NULL, T0 + 30002, &err), 1);
  /* the second claim is the last of max_attempts=2: missed again, it is lost */
  assert_int_equal(claim("r2", NULL, false, T0 + 40000), id);
  assert_int_equal(adr_queue_expire(Q, T0 + 80000, 2, &rq, &lo, &err), 0);
  assert_int_equal(rq, 0);
  assert_int_equal(lo, 1);
  struct adr_run r = { 0 };
  assert_int_equal(adr_queue_get(Q, id, &r, &err), 0);
  assert_int_equal(r.state, ADR_RUN_LOST);
  assert_int_equal(r.attempts, 2);
  assert_string_equal(r.runner, "r2");
  adr_run_free(&r);
}

/* A runner restarted after a kill gives its runs back: queued again, or
 * lost after max_attempts, or cancelled when that was asked; only the
 * holder can. */
static void test_release(void **state)
{
  (void)state;
  adr_err err = NULL;
  int64_t id = submit("pi", NULL, "release");
  assert_int_equal(claim("r1", NULL, false, T0), id);
  enum adr_run_state st = ADR_RUN_FINISHED;
  assert_int_equal(adr_queue_release(Q, id, "r2", 2, "not mine", T0 + 1, &st, &err), 1);
  assert_int_equal(st, ADR_RUN_FINISHED);
  assert_int_equal(state_of(id), ADR_RUN_CLAIMED);
  assert_int_equal(adr_queue_release(Q, id, "r1", 2, "killed", T0 + 1, &st, &err), 0);
  assert_int_equal(st, ADR_RUN_QUEUED);
  assert_int_equal(state_of(id), ADR_RUN_QUEUED);
  /* released, it is no longer the old holder's */
  assert_int_equal(adr_queue_started(Q, id, "r1", T0 + 2, &err), 1);
  assert_int_equal(claim("r1", NULL, false, T0 + 3), id);
  assert_int_equal(adr_queue_started(Q, id, "r1", T0 + 4, &err), 0);
  assert_int_equal(adr_queue_release(Q, id, "r1", 2, "killed again", T0 + 5, &st, &err), 0);
  assert_int_equal(st, ADR_RUN_LOST);
  /* a cancel asked is kept: cancelled, not run again */
  int64_t id2 = submit("pi", NULL, "release-cancel");
  assert_int_equal(claim("r1", NULL, false, T0 + 6), id2);
  assert_int_equal(adr_queue_cancel(Q, id2, T0 + 7, &err), 0);
  assert_int_equal(adr_queue_release(Q, id2, "r1", 5, "killed", T0 + 8, &st, &err), 0);
  assert_int_equal(st, ADR_RUN_CANCELLED);
  /* the event says why */
  struct adr_run_event *ev = NULL;
  size_t n = 0;
  assert_int_equal(adr_queue_events(Q, id, 0, 0, &ev, &n, &err), 0);
  bool found = false;
  for (size_t i = 0; i < n; i++)
    if (strcmp(ev[i].kind, "released") == 0 && strstr(ev[i].data, "killed again") && strstr(ev[i].data, "\"lost\""))
      found = true;
  adr_run_events_free(ev, n);
  assert_true(found);
}

/* Procedural runs and where the work goes survive the store; a run's
 * files are its holder's to put, replaced when put again. */
static void test_command_files(void **state)
{
  (void)state;
  adr_err err = NULL;
  struct adr_run r = { 0 };
  r.agent = (char *)"pi";
  r.deliver = (char *)"bundle";
  strv_push(&r.command, "sh");
  strv_push(&r.command, "-c");
  strv_push(&r.command, "echo 'it''s' \"$1\"");
  int64_t id = 0;
  if (adr_queue_submit(Q, &r, T0, &id, &err) < 0)
    fail_err("submit", &err);
  strv_free(&r.command);
  struct adr_run got = { 0 };
  assert_int_equal(adr_queue_get(Q, id, &got, &err), 0);
  assert_int_equal(got.command.n, 3);
  assert_string_equal(got.command.v[2], "echo 'it''s' \"$1\"");
  assert_string_equal(got.deliver, "bundle");
  adr_run_free(&got);
  int64_t plain = submit("pi", NULL, "plain");
  assert_int_equal(adr_queue_get(Q, plain, &got, &err), 0);
  assert_int_equal(got.command.n, 0);
  assert_null(got.deliver);
  adr_run_free(&got);

  char *data = NULL;
  assert_int_equal(adr_queue_file_put(Q, id, "r1", "bundle", "AAAA", &err), 1); /* not held */
  assert_int_equal(claim("r1", NULL, false, T0 + 1), id);
  assert_int_equal(adr_queue_file_put(Q, id, "r2", "bundle", "AAAA", &err), 1); /* not the holder */
  assert_int_equal(adr_queue_file_get(Q, id, "bundle", &data, &err), 1);
  assert_null(data);
  assert_int_equal(adr_queue_file_put(Q, id, "r1", "bundle", "first", &err), 0);
  assert_int_equal(adr_queue_file_put(Q, id, "r1", "bundle", "second", &err), 0);
  assert_int_equal(adr_queue_file_get(Q, id, "bundle", &data, &err), 0);
  assert_string_equal(data, "second");
  free(data);
  assert_int_equal(adr_queue_file_get(Q, plain, "bundle", &data, &err), 1);
  /* a big one (a bundle of a few MiB, as base64) */
  size_t big = 6u << 20;
  char *b = malloc(big + 1);
  for (size_t i = 0; i < big; i++)
    b[i] = (char)('A' + (i * 7) % 26);
  b[big] = '\0';
  assert_int_equal(adr_queue_file_put(Q, id, "r1", "bundle", b, &err), 0);
  assert_int_equal(adr_queue_file_get(Q, id, "bundle", &data, &err), 0);
  assert_int_equal(strlen(data), big);
  assert_memory_equal(data, b, big);
  free(data);
  free(b);
  assert_int_equal(adr_queue_finish(Q, id, "r1", 0, NULL, T0 + 2, &err), 0);
  /* finished: the file stays, nobody puts another */
  assert_int_equal(adr_queue_file_put(Q, id, "r1", "bundle", "late", &err), 1);
  assert_int_equal(adr_queue_file_get(Q, id, "bundle", &data, &err), 0);
  free(data);
}

/* The events of a run, in order; output only from its holder. */
static void test_events(void **state)
{
  (void)state;
  adr_err err = NULL;
  int64_t id = submit("pi", NULL, "ev");
  assert_int_equal(claim("r1", NULL, false, T0 + 1), id);
  assert_int_equal(adr_queue_started(Q, id, "r1", T0 + 2, &err), 0);
  assert_int_equal(adr_queue_output(Q, id, "r1", "line one\n", T0 + 3, &err), 0);
  assert_int_equal(adr_queue_output(Q, id, "other", "forged\n", T0 + 3, &err), 1);
  assert_int_equal(adr_queue_finish(Q, id, "r1", 7, NULL, T0 + 4, &err), 0);
  assert_int_equal(adr_queue_output(Q, id, "r1", "late\n", T0 + 5, &err), 1); /* ended */
  struct adr_run_event *v = NULL;
  size_t n = 0;
  if (adr_queue_events(Q, id, 0, 0, &v, &n, &err) < 0)
    fail_err("events", &err);
  static const char *const kinds[] = { "queued", "claimed", "started", "output", "finished" };
  assert_int_equal(n, 5);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(v[i].kind, kinds[i]);
    assert_int_equal(v[i].run_id, id);
    if (i)
      assert_true(v[i].id > v[i - 1].id);
  }
  assert_string_equal(v[3].data, "line one\n");
  assert_string_equal(v[4].data, "{\"runner\":\"r1\",\"exit_code\":7}");
  assert_int_equal(v[1].ts, T0 + 1);
  int64_t third = v[2].id;
  adr_run_events_free(v, n);
  /* paging */
  if (adr_queue_events(Q, id, third, 1, &v, &n, &err) < 0)
    fail_err("events", &err);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].kind, "output");
  adr_run_events_free(v, n);
  /* a missed lease says so */
  int64_t id2 = submit("pi", NULL, "ev2");
  assert_int_equal(claim("r2", NULL, false, T0), id2);
  assert_int_equal(adr_queue_expire(Q, T0 + 60000, 3, NULL, NULL, &err), 0);
  if (adr_queue_events(Q, id2, 0, 0, &v, &n, &err) < 0)
    fail_err("events", &err);
  assert_int_equal(n, 3);
  assert_string_equal(v[2].kind, "requeued");
  adr_run_events_free(v, n);
}

/* 200 runs, 4 claimers in processes of their own (each its own
 * connection): every run is claimed and finished exactly once. */
#define N_RUNS 200
#define N_CLAIMERS 4
static void test_exactly_once(void **state)
{
  (void)state;
  int64_t first = 0;
  for (int i = 0; i < N_RUNS; i++) {
    char p[32];
    snprintf(p, sizeof(p), "noop %d", i);
    int64_t id = submit("noop", NULL, p);
    if (i == 0)
      first = id;
  }
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t kids[N_CLAIMERS];
  for (int k = 0; k < N_CLAIMERS; k++) {
    kids[k] = fork();
    assert_true(kids[k] >= 0);
    if (kids[k] == 0) {
      close(fds[0]);
      struct adr_queue *q = NULL;
      adr_err err = NULL;
      if (adr_queue_open(URL, &q, &err) < 0)
        _exit(2);
      char name[16];
      snprintf(name, sizeof(name), "c%d", k);
      int got = 0;
      for (;;) {
        struct adr_run r = { 0 };
        int c = adr_queue_claim(q, name, NULL, false, T0, 30000, &r, &err);
        if (c < 0)
          _exit(3);
        if (c == 1)
          break;
        if (adr_queue_finish(q, r.id, name, 0, NULL, T0, &err) != 0)
          _exit(4);
        adr_run_free(&r);
        got++;
      }
      adr_queue_close(q);
      if (write(fds[1], &got, sizeof(got)) != sizeof(got))
        _exit(5);
      _exit(0);
    }
  }
  close(fds[1]);
  int total = 0, each;
  while (read(fds[0], &each, sizeof(each)) == sizeof(each))
    total += each;
  close(fds[0]);
  for (int k = 0; k < N_CLAIMERS; k++) {
    int st = 0;
    waitpid(kids[k], &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  assert_int_equal(total, N_RUNS);
  struct adr_queue_filter f = { .state = -1, .after_id = first - 1, .limit = 1000 };
  struct adr_run *v = NULL;
  size_t n = 0;
  adr_err err = NULL;
  if (adr_queue_list(Q, &f, &v, &n, &err) < 0)
    fail_err("list", &err);
  assert_int_equal(n, N_RUNS);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(v[i].state, ADR_RUN_FINISHED);
    assert_int_equal(v[i].attempts, 1);
  }
  adr_runs_free(v, n);
}

int main(int argc, char **argv)
{
  URL = argc > 1 ? argv[1] : getenv("ADR_QUEUE_URL");
  if (!URL) {
    fprintf(stderr, "usage: queue-conformance STORE (sqlite:PATH or postgresql://...)\n");
    return 2;
  }
  adr_err err = NULL;
  if (adr_queue_open(URL, &Q, &err) < 0) {
    fprintf(stderr, "queue-conformance: %s\n", err->msg);
    return 1;
  }
  fprintf(stderr, "queue-conformance: %s store\n", adr_queue_kind(Q));
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(test_schema, clean),           cmocka_unit_test_setup(test_submit_get_list, clean),
    cmocka_unit_test_setup(test_claim_tags_order, clean), cmocka_unit_test_setup(test_lifecycle, clean),
    cmocka_unit_test_setup(test_cancel, clean),           cmocka_unit_test_setup(test_lease_expiry, clean),
    cmocka_unit_test_setup(test_events, clean),           cmocka_unit_test_setup(test_exactly_once, clean),
    cmocka_unit_test_setup(test_release, clean),          cmocka_unit_test_setup(test_command_files, clean),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  adr_queue_close(Q);
  return r;
}
