/* The runner (runner.h). */
#include "runner.h"
#include "buf.h"
#include "coord-client.h"
#include "fs.h"
#include "launch.h"
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAIL_MAX 4096
#define FINISH_TRIES 60 /* a coordinator that restarts: every 5 s, for five minutes */

static void sayf(const struct adr_runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sayf(const struct adr_runner *r, const char *fmt, ...)
{
  if (!r->say)
    return;
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n >= 0)
    r->say(s, r->ud);
  free(s);
}

/* POST path with body (a JSON object, consumed): the status, *reply (may be NULL). */
static long post(const struct adr_runner *r, const char *path, json_t *body, json_t **reply, adr_err *err)
{
  char *b = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  long status = 0;
  cleanup_free char *text = NULL;
  int c = adr_coord_call(r->coordinator, r->token, "POST", path, b, &status, &text, err);
  free(b);
  if (c < 0)
    return -1;
  if (reply)
    *reply = text && *text ? json_loads(text, 0, NULL) : NULL;
  return status;
}

static long run_post(const struct adr_runner *r, json_int_t id, const char *what, json_t *body, json_t **reply,
                     adr_err *err)
{
  cleanup_free char *path = xasprintf("/v1/runs/%lld/%s", (long long)id, what);
  json_object_set_new(body, "runner", json_string(r->name));
  return post(r, path, body, reply, err);
}

/* ------------------------------------------------------------ one run */

struct beat {
  const struct adr_runner *r;
  json_int_t id;
  int wake_w; /* written when the run must stop */
  int quit_r; /* readable: the run ended, the heartbeat stops */
  int64_t interval_ms;
  volatile int cancel; /* 1 asked, 2 the lease is someone else's */
};

static void *beat_main(void *ud)
{
  struct beat *b = ud;
  for (;;) {
    struct pollfd p = { .fd = b->quit_r, .events = POLLIN };
    if (poll(&p, 1, (int)b->interval_ms) != 0)
      return NULL;
    json_t *rep = NULL;
    cleanup_err adr_err err = NULL;
    long st = run_post(b->r, b->id, "heartbeat", json_object(), &rep, &err);
    int why = st == 200 && json_is_true(json_object_get(rep, "cancel")) ? 1 : st == 409 ? 2 : 0;
    json_decref(rep);
    if (why && !b->cancel) {
      b->cancel = why;
      if (write(b->wake_w, "x", 1) < 0) {
      }
    }
  }
}

static int on_wake(struct adr_launch *l, void *ud)
{
  int fd = *(int *)ud;
  char c[16];
  if (read(fd, c, sizeof(c)) > 0)
    adr_launch_interrupt(l, SIGTERM);
  return 0;
}

/* git in dir: 0, or -1 with err (its stderr in the message). */
static int git(const char *dir, struct buf *out, adr_err *err, ...) __attribute__((sentinel));
static int git(const char *dir, struct buf *out, adr_err *err, ...)
{
  const char *argv[24] = {
    "git", "-c", "core.hooksPath=/dev/null", "-c", "user.name=adr runner", "-c", "user.email=runner@adr.invalid"
  };
  size_t n = 7;
  va_list ap;
  va_start(ap, err);
  for (const char *a; n < ARRAY_SIZE(argv) - 1 && (a = va_arg(ap, const char *)) != NULL;)
    argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  struct buf e;
  buf_init(&e, 4096);
  static const char *const env[] = { "GIT_TERMINAL_PROMPT=0", NULL };
  struct adr_proc p = { .argv = argv, .dir = dir, .env = env, .out = out, .errout = &e };
  int rc = adr_proc_run(&p, err);
  if (rc > 0) {
    const char *m = e.data ? e.data : "";
    size_t ml = strcspn(m, "\n");
    adr_err_set(err, EIO, "git %s: %.*s", argv[7], (int)ml, m);
  }
  buf_free(&e);
  return rc == 0 ? 0 : -1;
}

/* The tail of the log: printable ASCII and newlines only (JSON text). */
static char *log_tail(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return xstrdup("");
  struct stat st;
  off_t off = fstat(fd, &st) == 0 && st.st_size > TAIL_MAX ? st.st_size - TAIL_MAX : 0;
  char buf[TAIL_MAX + 1];
  ssize_t n = pread(fd, buf, TAIL_MAX, off);
  close(fd);
  if (n < 0)
    n = 0;
  for (ssize_t i = 0; i < n; i++)
    if (!((buf[i] >= 0x20 && buf[i] < 0x7f) || buf[i] == '\n' || buf[i] == '\t'))
      buf[i] = '?';
  buf[n] = '\0';
  return xstrdup(buf);
}

/* The sandbox: launch as adr run --prompt does, output into log_fd. */
static int sandbox(const struct adr_runner *r, json_t *run, const char *ws, int log_fd, struct beat *b, int wake_r,
                   int *code, adr_err *err)
{
  struct strv env = { 0 };
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get(run, "secrets"), i, x) {
    strv_push(&env, json_string_value(x)); /* NAME: from the runner's environment (or the relay) */
  }
  json_int_t to = json_integer_value(json_object_get(run, "timeout_s"));
  cleanup_free char *timeout = to > 0 ? xasprintf("%llds", (long long)to) : NULL;
  struct adr_launch_opts o = {
    .cwd = ws,
    .agent = json_string_value(json_object_get(run, "agent")),
    .workspace = ws,
    .prompt = json_string_value(json_object_get(run, "prompt")),
    .headless = true,
    .model = json_string_value(json_object_get(run, "model")),
    .network = json_string_value(json_object_get(run, "network")),
    .timeout = timeout,
    .env = &env,
  };
  cleanup_launch struct adr_launch l;
  adr_launch_init(&l, &o, r->config, r->agents, NULL);
  struct adr_engine *e = NULL;
  int ret = -1;
  if (adr_launch_plan(&l, err) < 0 || adr_engine_reopen(r->engine, &e, err) < 0)
    goto out;
  l.engine = e;
  int have = adr_launch_image(&l, err);
  if (have != 0)
    goto out;
  struct adr_launch_io io = {
    .in_fd = -1, .out_fd = log_fd, .err_fd = log_fd, .wake_fd = wake_r, .on_wake = on_wake, .ud = &wake_r
  };
  if (adr_launch_prepare(&l, err) == 0 && adr_launch_create(&l, err) == 0 && adr_launch_run(&l, &io, err) == 0) {
    *code = adr_launch_status(&l);
    ret = 0;
  }
  adr_launch_teardown(&l);
out:
  (void)b;
  strv_free(&env);
  if (e)
    adr_engine_close(e);
  return ret;
}

/* Commits what the agent left uncommitted, counts the branch's commits
 * and pushes it back: fills result. */
static void collect(const char *ws, const char *branch, const char *base, json_t *result)
{
  cleanup_err adr_err err = NULL;
  struct buf st;
  buf_init(&st, 1u << 20);
  if (git(ws, &st, &err, "status", "--porcelain", NULL) == 0 && st.len > 0 &&
      git(ws, NULL, &err, "add", "-A", NULL) == 0)
    git(ws, NULL, &err, "commit", "-q", "--no-verify", "-m", "adr runner: what the agent left uncommitted", NULL);
  buf_free(&st);
  adr_err_free(&err);
  struct buf cnt;
  buf_init(&cnt, 64);
  cleanup_free char *range = xasprintf("%s..HEAD", base);
  long commits = git(ws, &cnt, &err, "rev-list", "--count", range, NULL) == 0 ? strtol(cnt.data, NULL, 10) : 0;
  buf_free(&cnt);
  adr_err_free(&err);
  json_object_set_new(result, "branch", json_string(branch));
  json_object_set_new(result, "commits", json_integer(commits));
  if (commits == 0) {
    json_object_set_new(result, "pushed", json_false());
    return;
  }
  cleanup_free char *spec = xasprintf("HEAD:refs/heads/%s", branch);
  bool pushed = git(ws, NULL, &err, "push", "-q", "origin", spec, NULL) == 0;
  json_object_set_new(result, "pushed", json_boolean(pushed));
  if (!pushed)
    json_object_set_new(result, "push_error", json_string(err && err->msg ? err->msg : "push failed"));
}

/* One claimed run, to its end and its report (in a process of its own). */
static int execute(const struct adr_runner *r, json_t *run)
{
  json_int_t id = json_integer_value(json_object_get(run, "id"));
  const char *repo = json_string_value(json_object_get(run, "repo"));
  const char *ref = json_string_value(json_object_get(run, "base_ref"));
  cleanup_free char *dir = xasprintf("%s/run-%lld", r->work_dir, (long long)id);
  cleanup_free char *ws = xasprintf("%s/ws", dir), *logp = xasprintf("%s/output.log", dir);
  cleanup_free char *branch = xasprintf("adr/run-%lld", (long long)id);
  json_t *result = json_object();
  cleanup_err adr_err err = NULL;
  int code = 255;
  run_post(r, id, "started", json_object(), NULL, &err);
  adr_err_free(&err);
  sayf(r, "run %lld: %s on %s", (long long)id, json_string_value(json_object_get(run, "agent")), repo);
  struct buf head;
  buf_init(&head, 256);
  int fds[2] = { -1, -1 }, quit[2] = { -1, -1 };
  if (adr_mkdir_p(dir, 0700, &err) < 0 || git(NULL, NULL, &err, "clone", "-q", "--", repo, ws, NULL) < 0 ||
      git(ws, NULL, &err, "checkout", "-q", "-b", branch, ref && *ref ? ref : "HEAD", NULL) < 0 ||
      git(ws, &head, &err, "rev-parse", "HEAD", NULL) < 0) {
    json_object_set_new(result, "error", json_string(err->msg));
    goto report;
  }
  head.data[strcspn(head.data, "\n")] = '\0';
  json_object_set_new(result, "base", json_string(head.data));
  int log_fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0 || pipe2(fds, O_CLOEXEC) < 0 || pipe2(quit, O_CLOEXEC) < 0) {
    json_object_set_new(result, "error", json_string(strerror(errno)));
    if (log_fd >= 0)
      close(log_fd);
    goto report;
  }
  struct beat b = { .r = r, .id = id, .wake_w = fds[1], .quit_r = quit[0], .interval_ms = 10000 };
  pthread_t th;
  bool beating = pthread_create(&th, NULL, beat_main, &b) == 0;
  int sr = sandbox(r, run, ws, log_fd, &b, fds[0], &code, &err);
  close(log_fd);
  if (beating) {
    if (write(quit[1], "x", 1) < 0) {
    }
    pthread_join(th, NULL);
  }
  if (sr < 0) {
    json_object_set_new(result, "error", json_string(err->msg));
    code = 255;
  }
  if (b.cancel)
    json_object_set_new(result, "stopped", json_string(b.cancel == 1 ? "cancelled" : "lease lost"));
  char *tail = log_tail(logp);
  json_object_set_new(result, "output_tail", json_string(tail));
  free(tail);
  if (sr == 0)
    collect(ws, branch, head.data, result);
report:
  buf_free(&head);
  for (int i = 0; i < 2; i++) {
    if (fds[i] >= 0)
      close(fds[i]);
    if (quit[i] >= 0)
      close(quit[i]);
  }
  json_t *fin = json_pack("{s:i, s:O}", "exit_code", code & 0xff, "result", result);
  long st = -1;
  for (int t = 0; t < FINISH_TRIES && st < 0; t++) {
    adr_err_free(&err);
    st = run_post(r, id, "finish", json_deep_copy(fin), NULL, &err);
    if (st < 0)
      sleep(5);
  }
  json_decref(fin);
  bool pushed =
    json_is_true(json_object_get(result, "pushed")) || json_integer_value(json_object_get(result, "commits")) == 0;
  json_decref(result);
  sayf(r, "run %lld: exit %d, reported (HTTP %ld)", (long long)id, code, st);
  /* the work is in the repository (or there was none): the workspace goes */
  if (pushed && st == 200) {
    struct adr_proc p = { .argv = (const char *const[]){ "rm", "-rf", "--", dir, NULL } };
    adr_proc_run(&p, &err);
  }
  return st == 200 ? 0 : 1;
}

/* ------------------------------------------------------------ loop */

int adr_runner_loop(const struct adr_runner *r, adr_err *err)
{
  if (adr_mkdir_p(r->work_dir, 0700, err) < 0)
    return -1;
  unsigned busy = 0;
  int backoff = 1;
  while (!*r->stop) {
    /* the runs that ended */
    while (busy > 0 && waitpid(-1, NULL, WNOHANG) > 0)
      busy--;
    if (busy >= (r->capacity ? r->capacity : 1)) {
      if (waitpid(-1, NULL, 0) > 0)
        busy--;
      continue;
    }
    json_t *body = json_pack("{s:s, s:b, s:i}", "runner", r->name, "only_tagged", r->only_tagged, "wait_s", 20);
    json_t *tags = json_array();
    for (size_t i = 0; r->tags && i < r->tags->n; i++)
      json_array_append_new(tags, json_string(r->tags->v[i]));
    json_object_set_new(body, "tags", tags);
    json_t *run = NULL;
    cleanup_err adr_err e2 = NULL;
    long st = post(r, "/v1/claim", body, &run, &e2);
    if (st == 204)
      continue;
    if (st != 200 || !json_is_object(run)) {
      json_t *msg = json_object_get(run, "error");
      if (st == 401 || st == 403 || st == 400) {
        adr_err_set(err, EACCES, "coordinator %s: %s (HTTP %ld)", r->coordinator,
                    json_is_string(msg) ? json_string_value(msg) : "refused", st);
        json_decref(run);
        return -1;
      }
      sayf(r, "coordinator: %s; again in %d s", st < 0 ? e2->msg : "an unexpected reply", backoff);
      json_decref(run);
      sleep((unsigned)backoff);
      backoff = backoff < 16 ? backoff * 2 : 16;
      continue;
    }
    backoff = 1;
    pid_t p = fork();
    if (p == 0) {
      signal(SIGINT, SIG_IGN); /* the runner's stop lets the runs end */
      signal(SIGTERM, SIG_IGN);
      _exit(execute(r, run));
    }
    json_decref(run);
    if (p > 0)
      busy++;
  }
  while (busy > 0 && waitpid(-1, NULL, 0) > 0)
    busy--;
  return 0;
}
