/* The runner (runner.h). */
#include "runner.h"
#include "buf.h"
#include "coord-client.h"
#include "coord.h"
#include "egress.h"
#include "fs.h"
#include "launch.h"
#include "proc.h"
#include "reap.h"

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAIL_MAX 4096
#define ADR_OUTPUT_CHUNK (32u << 10) /* an output event, at most (the coordinator takes 64 KiB) */
#define FINISH_TRIES 60              /* a coordinator that restarts: every 5 s, for five minutes */
#define EGRESS_TAIL (32u << 10)      /* the decision log's tail in the result */
#define PROMPT_ENV_MAX (64u << 10)   /* a procedural run's prompt in $ADR_PROMPT, at most */

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
  const char *log_path; /* its new bytes go to the coordinator as output events */
  off_t sent;
  int wake_w; /* written when the run must stop */
  int quit_r; /* readable: the run ended, the heartbeat stops */
  int64_t interval_ms;
  volatile int cancel; /* 1 asked, 2 the lease is someone else's */
};

/* The length of the valid UTF-8 sequence at s (NUL and overlongs,
 * surrogates, code points past U+10FFFF are not), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  if (c < 0x80)
    return c ? 1 : 0;
  size_t len;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0)
    len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0)
    len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0)
    len = 4, cp = c & 0x07;
  else
    return 0;
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

/* Text for JSON: each byte that starts no valid UTF-8 sequence (a cut
 * character, binary output) becomes '?'. */
static void to_text(char *s, size_t n)
{
  for (size_t i = 0; i < n;) {
    size_t l = utf8_seq((const unsigned char *)s + i, n - i);
    if (l == 0)
      s[i++] = '?';
    else
      i += l;
  }
  s[n] = '\0';
}

/* The log's new bytes since the last post, as one output event. */
static void post_output(struct beat *b, bool last)
{
  int fd = open(b->log_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  char buf[ADR_OUTPUT_CHUNK + 1];
  for (int rounds = 0; rounds < (last ? 64 : 4); rounds++) {
    ssize_t n = pread(fd, buf, ADR_OUTPUT_CHUNK, b->sent);
    if (n <= 0)
      break;
    to_text(buf, (size_t)n);
    json_t *body = json_pack("{s:s}", "text", buf);
    cleanup_err adr_err err = NULL;
    if (run_post(b->r, b->id, "output", body, NULL, &err) < 0)
      break; /* no coordinator: the same bytes go again next time */
    b->sent += n;
  }
  close(fd);
}

static void *beat_main(void *ud)
{
  struct beat *b = ud;
  int64_t since = 0;
  for (;;) {
    struct pollfd p = { .fd = b->quit_r, .events = POLLIN };
    int pr = poll(&p, 1, 2000);
    post_output(b, pr != 0);
    if (pr != 0)
      return NULL;
    since += 2000;
    if (since < b->interval_ms)
      continue;
    since = 0;
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
  to_text(buf, (size_t)n);
  return xstrdup(buf);
}

/* What the egress gateway decided (its log, a JSON object a line): the
 * count denied, the hosts most denied, the last decisions. */
static json_t *egress_result(const char *dir)
{
  cleanup_free char *logp = adr_egress_log_path(dir), *top = NULL;
  cleanup_err adr_err err = NULL;
  size_t denied = 0;
  adr_egress_denials(logp, &denied, &top, &err);
  json_t *decisions = json_array();
  int fd = open(logp, O_RDONLY | O_CLOEXEC);
  bool cut = false;
  if (fd >= 0) {
    struct stat st;
    off_t off = fstat(fd, &st) == 0 && st.st_size > EGRESS_TAIL ? st.st_size - EGRESS_TAIL : 0;
    cut = off > 0;
    char *buf = xmalloc(EGRESS_TAIL + 1);
    ssize_t n = pread(fd, buf, EGRESS_TAIL, off);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    char *line = buf, *nl;
    if (cut && (nl = strchr(line, '\n'))) /* a line cut in two */
      line = nl + 1;
    for (; *line; line = nl + 1) {
      nl = strchrnul(line, '\n');
      json_t *d = json_loadb(line, (size_t)(nl - line), 0, NULL);
      if (json_is_object(d))
        json_array_append(decisions, d);
      json_decref(d);
      if (!*nl)
        break;
    }
    free(buf);
  }
  return json_pack("{s:I, s:s?, s:o, s:b}", "denied", (json_int_t)denied, "top", top, "decisions", decisions, "cut",
                   cut);
}

/* The sandbox: launch as adr run --prompt does (a procedural run: its
 * command instead of the agent), output into log_fd.  *egress: what its
 * gateway decided (NULL: it had none). */
static int sandbox(const struct adr_runner *r, json_t *run, const char *ws, int log_fd, int wake_r, int *code,
                   char **image, json_t **egress, adr_err *err)
{
  struct strv env = { 0 }, command = { 0 };
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get(run, "secrets"), i, x) {
    strv_push(&env, json_string_value(x)); /* NAME: from the runner's environment (or the relay) */
  }
  json_array_foreach (json_object_get(run, "command"), i, x) {
    strv_push(&command, json_string_value(x));
  }
  const char *prompt = json_string_value(json_object_get(run, "prompt"));
  if (command.n && prompt && strlen(prompt) <= PROMPT_ENV_MAX)
    strv_pushf(&env, "ADR_PROMPT=%s", prompt);
  json_int_t to = json_integer_value(json_object_get(run, "timeout_s"));
  cleanup_free char *timeout = to > 0 ? xasprintf("%llds", (long long)to) : NULL;
  struct adr_launch_opts o = {
    .cwd = ws,
    .agent = json_string_value(json_object_get(run, "agent")),
    .workspace = ws,
    .prompt = command.n ? NULL : prompt,
    .headless = true,
    .command = command.n ? &command : NULL,
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
  *image = xstrdup(l.image);
  struct adr_launch_io io = {
    .in_fd = -1, .out_fd = log_fd, .err_fd = log_fd, .wake_fd = wake_r, .on_wake = on_wake, .ud = &wake_r
  };
  if (adr_launch_prepare(&l, err) == 0 && adr_launch_create(&l, err) == 0 && adr_launch_run(&l, &io, err) == 0) {
    *code = adr_launch_status(&l);
    ret = 0;
  }
  if (l.egress_made && l.egress_dir) /* before the teardown removes it */
    *egress = egress_result(l.egress_dir);
  adr_launch_teardown(&l);
out:
  strv_free(&env);
  strv_free(&command);
  if (e)
    adr_engine_close(e);
  return ret;
}

/* The agent's workspace (its .git included) is the agent's: adr never runs
 * git there on the host (its config could run programs).  A helper
 * sandbox (no network, no capabilities) commits what the agent left and
 * writes a bundle of the branch; the host fetches that bundle, a plain
 * file, into its own clean mirror and pushes from there. */
static const char COLLECT_SH[] =
  "cd /workspace || exit 1\n"
  "g() { git -c core.hooksPath=/dev/null -c core.fsmonitor= -c user.name='adr runner' "
  "-c user.email=runner@adr.invalid \"$@\"; }\n"
  "if [ -n \"$(g status --porcelain)\" ]; then g add -A && g commit -q --no-verify "
  "-m 'adr runner: what the agent left uncommitted' || exit 2; fi\n"
  "g bundle create /out/run.bundle \"$BASE..HEAD\" >/dev/null 2>&1 || true\n";

static int collect_in_sandbox(const struct adr_runner *r, const char *image, const char *ws, const char *out,
                              const char *base, int log_fd, adr_err *err)
{
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup(image);
  s.user = xasprintf("%u:%u", (unsigned)getuid(), (unsigned)getgid());
  s.workdir = xstrdup("/workspace");
  s.net.kind = ADR_SPEC_NET_NONE;
  s.pids = 128;
  s.memory = 1ll << 30;
  strv_push(&s.cmd, "sh");
  strv_push(&s.cmd, "-c");
  strv_push(&s.cmd, COLLECT_SH);
  strv_push(&s.env, "HOME=/tmp");
  strv_pushf(&s.env, "BASE=%s", base);
  adr_spec_add_bind(&s, ws, "/workspace", false);
  adr_spec_add_bind(&s, out, "/out", false);
  adr_spec_add_tmpfs(&s, "/tmp", 64ull << 20, 01777, -1, -1);
  adr_spec_set_label(&s, ADR_LABEL_MANAGED, "1");
  adr_spec_set_label(&s, ADR_LABEL_KIND, "runner-collect");
  struct adr_engine *e = NULL;
  int code = -1;
  int rc = adr_engine_reopen(r->engine, &e, err);
  if (rc == 0)
    rc = adr_launch_helper(e, &s, log_fd, &code, err);
  if (e)
    adr_engine_close(e);
  if (rc == 0 && code != 0)
    return adr_err_set(err, EIO, "committing the agent's work failed (exit %d)", code);
  return rc;
}

/* The branch as a git bundle (made from the runner's own mirror), stored
 * with the run at the coordinator: its size, or -1 with err. */
static long long store_bundle(const struct adr_runner *r, json_int_t id, const char *mirror, const char *dir,
                              const char *ref, const char *base, adr_err *err)
{
  cleanup_free char *path = xasprintf("%s/work.bundle", dir), *not = xasprintf("^%s", base);
  if (git(mirror, NULL, err, "bundle", "create", "-q", path, ref, not, NULL) < 0)
    return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    if (fd >= 0)
      close(fd);
    return adr_err_sys(err, errno, "open '%s'", path);
  }
  if (st.st_size > ADR_COORD_BUNDLE_MAX) {
    close(fd);
    return adr_err_set(err, EFBIG, "the bundle is %lld bytes, over %u", (long long)st.st_size, ADR_COORD_BUNDLE_MAX);
  }
  unsigned char *raw = xmalloc((size_t)st.st_size + 1);
  ssize_t n = st.st_size ? read(fd, raw, (size_t)st.st_size) : 0;
  close(fd);
  if (n != st.st_size) {
    free(raw);
    return adr_err_set(err, EIO, "read '%s': short", path);
  }
  char *b64 = xmalloc(((size_t)n + 2) / 3 * 4 + 1);
  EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
  free(raw);
  json_t *body = json_object();
  json_object_set_new(body, "data", json_string(b64));
  free(b64);
  long st2 = run_post(r, id, "bundle", body, NULL, err);
  if (st2 < 0)
    return -1;
  if (st2 != 200)
    return adr_err_set(err, EIO, "the coordinator refused the bundle (HTTP %ld)", st2);
  return n;
}

/* Fills result with the branch, its commits, and whether it was pushed
 * (or stored with the run as a bundle: deliver "bundle", or the push
 * failed). */
static void collect(const struct adr_runner *r, json_t *run, const char *image, const char *repo, const char *mirror,
                    const char *ws, const char *dir, const char *branch, const char *base, int log_fd, json_t *result)
{
  cleanup_err adr_err err = NULL;
  cleanup_free char *out = xasprintf("%s/out", dir), *bundle = xasprintf("%s/out/run.bundle", dir);
  cleanup_free char *ref = xasprintf("refs/heads/%s", branch);
  json_object_set_new(result, "branch", json_string(branch));
  long commits = 0;
  struct stat st;
  if (adr_mkdir_p(out, 0700, &err) < 0 || collect_in_sandbox(r, image, ws, out, base, log_fd, &err) < 0) {
    json_object_set_new(result, "collect_error", json_string(err->msg));
  } else if (lstat(bundle, &st) == 0 && S_ISREG(st.st_mode)) {
    cleanup_free char *spec = xasprintf("HEAD:%s", ref), *range = xasprintf("%s..%s", base, ref);
    struct buf cnt;
    buf_init(&cnt, 64);
    if (git(mirror, NULL, &err, "fetch", "-q", "--no-tags", bundle, spec, NULL) == 0 &&
        git(mirror, &cnt, &err, "rev-list", "--count", range, NULL) == 0)
      commits = strtol(cnt.data ? cnt.data : "0", NULL, 10);
    else
      json_object_set_new(result, "collect_error", json_string(err->msg));
    buf_free(&cnt);
  }
  json_object_set_new(result, "commits", json_integer(commits));
  adr_err_free(&err);
  bool pushed = false;
  const char *deliver = json_string_value(json_object_get(run, "deliver"));
  bool push = !deliver || streq(deliver, "push");
  if (commits > 0 && push) {
    cleanup_free char *spec = xasprintf("%s:%s", ref, ref);
    pushed = git(mirror, NULL, &err, "push", "-q", "--", repo, spec, NULL) == 0;
    if (!pushed)
      json_object_set_new(result, "push_error", json_string(err && err->msg ? err->msg : "push failed"));
    adr_err_free(&err);
  }
  json_object_set_new(result, "pushed", json_boolean(pushed));
  if (commits > 0 && !pushed) {
    json_int_t id = json_integer_value(json_object_get(run, "id"));
    long long bytes = store_bundle(r, id, mirror, dir, ref, base, &err);
    if (bytes >= 0)
      json_object_set_new(result, "bundle", json_integer(bytes));
    else
      json_object_set_new(result, "bundle_error", json_string(err->msg));
  }
}

/* One claimed run, to its end and its report (in a process of its own). */
static int execute(const struct adr_runner *r, json_t *run)
{
  json_int_t id = json_integer_value(json_object_get(run, "id"));
  const char *repo = json_string_value(json_object_get(run, "repo"));
  const char *ref = json_string_value(json_object_get(run, "base_ref"));
  cleanup_free char *dir = xasprintf("%s/run-%lld", r->work_dir, (long long)id);
  cleanup_free char *ws = xasprintf("%s/ws", dir), *logp = xasprintf("%s/output.log", dir);
  cleanup_free char *mirror = xasprintf("%s/mirror.git", dir), *image = NULL;
  cleanup_free char *want = xasprintf("%s^{commit}", ref && *ref ? ref : "HEAD");
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
  json_t *egress = NULL;
  /* the runner's own mirror (its config is ours), the agent's clone of it;
   * the held file says whose the run is until its finish is reported (a
   * runner killed before that gives it back when it starts again) */
  cleanup_free char *heldp = xasprintf("%s/held", dir), *held = xasprintf("%s %d\n", r->name, (int)getpid());
  if (adr_mkdir_p(dir, 0700, &err) < 0 ||
      (write_file_atomic(heldp, held, strlen(held), 0600) < 0 && adr_err_sys(&err, errno, "write '%s'", heldp) < 0) ||
      git(NULL, NULL, &err, "clone", "-q", "--bare", "--", repo, mirror, NULL) < 0 ||
      git(mirror, &head, &err, "rev-parse", "--verify", "--end-of-options", want, NULL) < 0) {
    json_object_set_new(result, "error", json_string(err->msg));
    goto report;
  }
  head.data[strcspn(head.data, "\n")] = '\0';
  if (git(NULL, NULL, &err, "clone", "-q", "--no-checkout", "--", mirror, ws, NULL) < 0 ||
      git(ws, NULL, &err, "checkout", "-q", "-b", branch, head.data, NULL) < 0) {
    json_object_set_new(result, "error", json_string(err->msg));
    goto report;
  }
  json_object_set_new(result, "base", json_string(head.data));
  int log_fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0 || pipe2(fds, O_CLOEXEC) < 0 || pipe2(quit, O_CLOEXEC) < 0) {
    json_object_set_new(result, "error", json_string(strerror(errno)));
    if (log_fd >= 0)
      close(log_fd);
    goto report;
  }
  struct beat b = { .r = r, .id = id, .wake_w = fds[1], .quit_r = quit[0], .interval_ms = 10000, .log_path = logp };
  pthread_t th;
  bool beating = pthread_create(&th, NULL, beat_main, &b) == 0;
  int sr = sandbox(r, run, ws, log_fd, fds[0], &code, &image, &egress, &err);
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
  if (egress)
    json_object_set_new(result, "egress", egress);
  if (sr == 0)
    collect(r, run, image, repo, mirror, ws, dir, branch, head.data, log_fd, result);
  close(log_fd);
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
  bool kept = json_is_true(json_object_get(result, "pushed")) || json_object_get(result, "bundle") ||
              json_integer_value(json_object_get(result, "commits")) == 0;
  json_decref(result);
  sayf(r, "run %lld: exit %d, reported (HTTP %ld)", (long long)id, code, st);
  if (st >= 0) /* reported: the run is the coordinator's again (409: it was already) */
    unlink(heldp);
  /* the work is in the repository or stored with the run (or there was
   * none): the workspace goes */
  if (kept && st == 200) {
    struct adr_proc p = { .argv = (const char *const[]){ "rm", "-rf", "--", dir, NULL } };
    adr_proc_run(&p, &err);
  }
  return st == 200 ? 0 : 1;
}

/* ------------------------------------------------------------ a restart */

/* The runs a runner killed before it reported them left (their held
 * file): their sandboxes are reaped (their processes died with the
 * runner), each is given back to the coordinator, and its workspace is
 * kept under interrupted/.  Returns how many could not be given back yet
 * (the coordinator did not answer: tried again later). */
static unsigned recover(const struct adr_runner *r)
{
  DIR *d = opendir(r->work_dir);
  if (!d)
    return 0;
  unsigned left = 0;
  bool reaped = false;
  struct dirent *de;
  while ((de = readdir(d))) {
    long long id = 0;
    char tail[2];
    if (sscanf(de->d_name, "run-%lld%1s", &id, tail) != 1 || id <= 0)
      continue;
    cleanup_free char *dir = xasprintf("%s/%s", r->work_dir, de->d_name);
    cleanup_free char *heldp = xasprintf("%s/held", dir);
    if (access(heldp, F_OK) != 0)
      continue;
    if (!reaped) { /* its sandbox, and its gateway, whose owner is dead */
      struct adr_engine *e = NULL;
      cleanup_err adr_err e2 = NULL;
      if (adr_engine_reopen(r->engine, &e, &e2) == 0) {
        adr_reap(e);
        adr_engine_close(e);
      }
      reaped = true;
    }
    cleanup_err adr_err err = NULL;
    json_t *body = json_pack("{s:s}", "why", "the runner was killed while the run was held; it started again");
    json_t *rep = NULL;
    long st = run_post(r, (json_int_t)id, "release", body, &rep, &err);
    if (st < 0) {
      sayf(r, "run %lld: interrupted; the coordinator did not answer (%s): again later", id, err->msg);
      left++;
      json_decref(rep);
      continue;
    }
    const char *state = json_string_value(json_object_get(rep, "state"));
    if (st == 200)
      sayf(r, "run %lld: interrupted by the runner's end; given back (%s)", id, state ? state : "?");
    else
      sayf(r, "run %lld: interrupted by the runner's end; no longer ours (HTTP %ld)", id, st);
    json_decref(rep);
    /* nothing is lost: what the agent did stays on this machine */
    cleanup_free char *keep = xasprintf("%s/interrupted", r->work_dir);
    cleanup_free char *to = xasprintf("%s/run-%lld-%lld", keep, id, (long long)time(NULL));
    unlink(heldp);
    if (adr_mkdir_p(keep, 0700, &err) == 0 && rename(dir, to) == 0)
      sayf(r, "run %lld: its workspace is kept in %s", id, to);
  }
  closedir(d);
  return left;
}

/* ------------------------------------------------------------ loop */

int adr_runner_loop(const struct adr_runner *r, adr_err *err)
{
  if (adr_mkdir_p(r->work_dir, 0700, err) < 0)
    return -1;
  /* one runner per work directory: what is in it is ours */
  cleanup_free char *lockp = xasprintf("%s/.lock", r->work_dir);
  int lock = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0)
    return adr_err_sys(err, errno, "open '%s'", lockp);
  if (flock(lock, LOCK_EX | LOCK_NB) < 0) {
    int e = errno;
    close(lock);
    return e == EWOULDBLOCK ? adr_err_set(err, EBUSY, "work directory '%s' is another runner's", r->work_dir)
                            : adr_err_sys(err, e, "lock '%s'", lockp);
  }
  unsigned unreleased = recover(r);
  unsigned busy = 0;
  int backoff = 1;
  while (!*r->stop) {
    if (unreleased)
      unreleased = recover(r);
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
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0) {
      signal(SIGINT, SIG_IGN); /* the runner's stop lets the runs end */
      signal(SIGTERM, SIG_IGN);
      /* a runner killed outright takes its runs with it: its next start
       * reaps their sandboxes and gives them back (recover) */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent)
        _exit(1);
      close(lock);
      _exit(execute(r, run));
    }
    json_decref(run);
    if (p > 0)
      busy++;
  }
  while (busy > 0 && waitpid(-1, NULL, 0) > 0)
    busy--;
  close(lock);
  return 0;
}
