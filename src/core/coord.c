/* The coordinator's requests (coord.h): routing, authentication,
 * validation, and the run queue under one lock (a store connection is
 * used by one request at a time; a claim that finds no work waits on a
 * condition that submits signal). */
#include "coord.h"
#include "spec.h"
#include "agent.h"
#include "buf.h"
#include "parse.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

struct token {
  char role[8];  /* client, runner */
  char hash[65]; /* SHA-256, hex */
  char name[64];
};

struct adr_coord {
  struct adr_coord_opts o;
  char *profiles_dir;
  struct adr_queue *q;
  pthread_mutex_t mu;
  pthread_cond_t work; /* a run was submitted or queued again */
  struct token *tokens;
  size_t n_tokens;
};

static int64_t real_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct adr_coord *c) { return c->o.now_ms ? c->o.now_ms() : real_now(); }

static char *sha256_hex(const char *s) { return adr_sha256_hex(s, strlen(s)); }

/* ------------------------------------------------------------ tokens */

static bool role_valid(const char *r) { return streq(r, "client") || streq(r, "runner"); }

static int tokens_load(struct adr_coord *c, const char *file, adr_err *err)
{
  struct buf b;
  buf_init(&b, 1u << 20);
  if (buf_read_file(&b, file) < 0) {
    buf_free(&b);
    return adr_err_sys(err, errno, "tokens file '%s'", file);
  }
  char *save = NULL;
  unsigned line = 0;
  for (char *l = strtok_r(b.data ? b.data : (char *)"", "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    if (*l == '#' || *l == '\0')
      continue;
    struct token t = { 0 };
    char extra;
    if (sscanf(l, "%7s %64s %63s %c", t.role, t.hash, t.name, &extra) != 3 || !role_valid(t.role) ||
        strlen(t.hash) != 64) {
      buf_free(&b);
      return adr_err_set(err, EINVAL, "tokens file '%s':%u: not ROLE SHA256 NAME", file, line);
    }
    c->tokens = xrealloc(c->tokens, (c->n_tokens + 1) * sizeof(*c->tokens));
    c->tokens[c->n_tokens++] = t;
  }
  buf_free(&b);
  return 0;
}

int adr_coord_token_add(const char *file, const char *role, const char *name, char **token, adr_err *err)
{
  if (!role_valid(role))
    return adr_err_set(err, EINVAL, "token role '%s': client or runner", role);
  if (!adr_agent_name_valid(name))
    return adr_err_set(err, EINVAL, "token name '%s': use lowercase letters, digits, '-', '_', '.'", name);
  unsigned char raw[32];
  if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
    return adr_err_sys(err, errno, "getrandom");
  char *tok = xmalloc(4 + 2 * sizeof(raw) + 1);
  memcpy(tok, "adr_", 4);
  for (size_t i = 0; i < sizeof(raw); i++)
    snprintf(tok + 4 + 2 * i, 3, "%02x", raw[i]);
  cleanup_free char *hash = sha256_hex(tok);
  cleanup_free char *line = xasprintf("%s %s %s\n", role, hash, name);
  FILE *f = NULL;
  int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0)
    f = fdopen(fd, "a");
  if (!f || fputs(line, f) < 0 || fclose(f) != 0) {
    int e = errno;
    if (!f && fd >= 0)
      close(fd);
    free(tok);
    return adr_err_sys(err, e, "tokens file '%s'", file);
  }
  *token = tok;
  return 0;
}

/* The role of the request's bearer token, or NULL. */
static const char *role_of(const struct adr_coord *c, const char *auth)
{
  if (c->o.no_auth)
    return "any";
  if (!auth || !str_has_prefix(auth, "Bearer ") || !auth[7])
    return NULL;
  cleanup_free char *h = sha256_hex(auth + 7);
  for (size_t i = 0; i < c->n_tokens; i++)
    if (CRYPTO_memcmp(h, c->tokens[i].hash, 64) == 0)
      return c->tokens[i].role;
  return NULL;
}

/* ------------------------------------------------------------ open */

int adr_coord_open(const struct adr_coord_opts *o, struct adr_coord **out, adr_err *err)
{
  if (!o->no_auth && !o->tokens_file)
    return adr_err_set(err, EINVAL, "a tokens file is needed unless authentication is off");
  struct adr_coord *c = xcalloc(1, sizeof(*c));
  c->o = *o;
  if (c->o.lease_ms <= 0)
    c->o.lease_ms = 60000;
  if (c->o.max_attempts <= 0)
    c->o.max_attempts = 3;
  c->profiles_dir = o->profiles_dir ? xstrdup(o->profiles_dir) : NULL;
  c->o.profiles_dir = c->profiles_dir;
  c->o.store = NULL;
  c->o.tokens_file = NULL;
  pthread_mutex_init(&c->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&c->work, &ca);
  pthread_condattr_destroy(&ca);
  if ((o->tokens_file && tokens_load(c, o->tokens_file, err) < 0) || adr_queue_open(o->store, &c->q, err) < 0) {
    adr_coord_close(c);
    return -1;
  }
  *out = c;
  return 0;
}

void adr_coord_close(struct adr_coord *c)
{
  if (!c)
    return;
  adr_queue_close(c->q);
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->work);
  if (c->tokens)
    OPENSSL_cleanse(c->tokens, c->n_tokens * sizeof(*c->tokens));
  free(c->tokens);
  free(c->profiles_dir);
  free(c);
}

/* ------------------------------------------------------------ replies */

static void reply(struct adr_coord_resp *rs, int status, json_t *j)
{
  rs->status = status;
  rs->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
}

static void fail(struct adr_coord_resp *rs, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct adr_coord_resp *rs, int status, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  reply(rs, status, json_pack("{s:s}", "error", msg ? msg : "error"));
  free(msg);
}

static json_t *strv_json(const struct strv *v)
{
  json_t *a = json_array();
  for (size_t i = 0; i < v->n; i++)
    json_array_append_new(a, json_string(v->v[i]));
  return a;
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *run_json(const struct adr_run *r)
{
  json_t *res = r->result ? json_loads(r->result, 0, NULL) : NULL;
  bool ended = r->state == ADR_RUN_FINISHED || (r->state == ADR_RUN_CANCELLED && r->result);
  return json_pack(
    "{s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:I, s:i, s:b, s:o, s:o, "
    "s:I, s:I, s:o, s:s}",
    "id", (json_int_t)r->id, "state", adr_run_state_name(r->state), "agent", str_or_null(r->agent), "profile",
    str_or_null(r->profile), "repo", str_or_null(r->repo), "base_ref", str_or_null(r->base_ref), "prompt",
    str_or_null(r->prompt), "model", str_or_null(r->model), "network", str_or_null(r->network), "tags",
    strv_json(&r->tags), "secrets", strv_json(&r->secrets), "timeout_s", (json_int_t)r->timeout_s, "runner",
    str_or_null(r->runner), "lease_until", (json_int_t)r->lease_until, "attempts", r->attempts, "cancel", r->cancel,
    "exit_code", ended ? json_integer(r->exit_code) : json_null(), "result", res ? res : json_null(), "created",
    (json_int_t)r->created, "updated", (json_int_t)r->updated, "command",
    r->command.n ? strv_json(&r->command) : json_null(), "deliver", r->deliver ? r->deliver : "push");
}

/* ------------------------------------------------------------ input */

/* The body as a JSON object with only the given keys, or NULL (replied). */
static json_t *body_object(const struct adr_coord_req *rq, const char *const *keys, struct adr_coord_resp *rs)
{
  json_error_t je;
  json_t *j = rq->body_len ? json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je) : json_object();
  if (!j) {
    fail(rs, 400, "malformed JSON: %s (line %d)", je.text, je.line);
    return NULL;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    fail(rs, 400, "the body is a JSON object");
    return NULL;
  }
  const char *k;
  json_t *v;
  json_object_foreach (j, k, v) {
    bool known = false;
    for (size_t i = 0; keys[i] && !known; i++)
      known = streq(k, keys[i]);
    if (!known) {
      fail(rs, 400, "unknown field '%.64s'", k);
      json_decref(j);
      return NULL;
    }
  }
  return j;
}

/* An optional string field: 0 (*out NULL when absent), -1 replied. */
static int opt_str(json_t *j, const char *key, size_t max, const char **out, struct adr_coord_resp *rs)
{
  json_t *v = json_object_get(j, key);
  *out = NULL;
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    fail(rs, 400, "'%s' is a string", key);
    return -1;
  }
  if (json_string_length(v) > max) {
    fail(rs, 400, "'%s' is longer than %zu bytes", key, max);
    return -1;
  }
  if (strlen(json_string_value(v)) != json_string_length(v)) {
    fail(rs, 400, "'%s' holds a NUL", key);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

static bool tag_valid(const char *t)
{
  size_t n = strlen(t);
  if (n == 0 || n > 64)
    return false;
  for (const char *p = t; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-_.", *p)))
      return false;
  return true;
}

/* An optional list of strings each valid(): -1 replied. */
static int opt_list(json_t *j, const char *key, bool (*valid)(const char *), const char *what, struct strv *out,
                    struct adr_coord_resp *rs)
{
  json_t *v = json_object_get(j, key);
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_array(v) || json_array_size(v) > 64) {
    fail(rs, 400, "'%s' is a list of at most 64 %s", key, what);
    return -1;
  }
  size_t i;
  json_t *x;
  json_array_foreach (v, i, x) {
    if (!json_is_string(x) || !valid(json_string_value(x))) {
      fail(rs, 400, "'%s'[%zu] is not a valid %s", key, i, what);
      return -1;
    }
    strv_push(out, json_string_value(x));
  }
  return 0;
}

static bool env_name_valid(const char *s) { return adr_valid_env_name(s, strlen(s)); }

static int64_t path_id(const char *s, const char **rest)
{
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || v <= 0 || !(*end == '\0' || *end == '/'))
    return -1;
  *rest = end;
  return v;
}

/* ------------------------------------------------------------ profiles */

/* A profile fills what the submit left out: agent, model, network,
 * timeout_s, tags; its prompt_template takes the prompt at {prompt}. */
static int apply_profile(struct adr_coord *c, const char *name, struct adr_run *r, char **prompt_out,
                         struct adr_coord_resp *rs)
{
  if (!adr_agent_name_valid(name)) {
    fail(rs, 400, "unknown profile '%.64s'", name);
    return -1;
  }
  cleanup_free char *path = c->profiles_dir ? xasprintf("%s/%s.json", c->profiles_dir, name) : NULL;
  json_error_t je;
  json_t *p = path ? json_load_file(path, JSON_REJECT_DUPLICATES, &je) : NULL;
  if (!p || !json_is_object(p)) {
    json_decref(p);
    fail(rs, 400, "unknown profile '%s'", name);
    return -1;
  }
  const char *agent = json_string_value(json_object_get(p, "agent"));
  const char *model = json_string_value(json_object_get(p, "model"));
  const char *network = json_string_value(json_object_get(p, "network"));
  const char *tmpl = json_string_value(json_object_get(p, "prompt_template"));
  const char *deliver = json_string_value(json_object_get(p, "deliver"));
  json_t *to = json_object_get(p, "timeout_s"), *cmd = json_object_get(p, "command");
  if (cmd && (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > 64)) {
    json_decref(p);
    fail(rs, 400, "profile '%s': 'command' is a list of 1 to 64 strings", name);
    return -1;
  }
  size_t ci;
  json_t *cx;
  json_array_foreach (cmd, ci, cx) {
    if (!json_is_string(cx) || json_string_length(cx) > 4096 ||
        strlen(json_string_value(cx)) != json_string_length(cx)) {
      json_decref(p);
      strv_free(&r->command);
      fail(rs, 400, "profile '%s': 'command'[%zu] is not a string of at most 4096 bytes", name, ci);
      return -1;
    }
    strv_push(&r->command, json_string_value(cx));
  }
  if (!r->deliver && deliver)
    r->deliver = xstrdup(deliver);
  if (!r->agent && agent)
    r->agent = xstrdup(agent);
  if (!r->model && model)
    r->model = xstrdup(model);
  if (!r->network && network)
    r->network = xstrdup(network);
  if (!r->timeout_s && json_is_integer(to))
    r->timeout_s = json_integer_value(to);
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get(p, "tags"), i, x) {
    if (json_is_string(x) && tag_valid(json_string_value(x)))
      strv_push(&r->tags, json_string_value(x));
  }
  if (tmpl) {
    const char *at = strstr(tmpl, "{prompt}");
    *prompt_out =
      at ? xasprintf("%.*s%s%s", (int)(at - tmpl), tmpl, r->prompt ? r->prompt : "", at + 8) : xstrdup(tmpl);
  }
  json_decref(p);
  if (!r->agent) {
    fail(rs, 400, "profile '%s' names no agent", name);
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------ handlers */

static bool deliver_valid(const char *d) { return !d || streq(d, "push") || streq(d, "bundle"); }

static void runs_submit(struct adr_coord *c, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  static const char *const keys[] = { "agent",   "profile", "repo",    "base_ref",  "prompt",  "model",
                                      "network", "tags",    "secrets", "timeout_s", "deliver", NULL };
  json_t *j = body_object(rq, keys, rs);
  if (!j)
    return;
  struct adr_run r = { 0 };
  const char *agent, *profile, *repo, *ref, *prompt, *model, *network, *deliver;
  char *expanded = NULL;
  adr_err err = NULL;
  if (opt_str(j, "agent", 64, &agent, rs) < 0 || opt_str(j, "profile", 64, &profile, rs) < 0 ||
      opt_str(j, "repo", 4096, &repo, rs) < 0 || opt_str(j, "base_ref", 256, &ref, rs) < 0 ||
      opt_str(j, "prompt", 256 * 1024, &prompt, rs) < 0 || opt_str(j, "model", 256, &model, rs) < 0 ||
      opt_str(j, "network", 16, &network, rs) < 0 || opt_str(j, "deliver", 16, &deliver, rs) < 0 ||
      opt_list(j, "tags", tag_valid, "tag", &r.tags, rs) < 0 ||
      opt_list(j, "secrets", env_name_valid, "secret name", &r.secrets, rs) < 0)
    goto out;
  json_t *to = json_object_get(j, "timeout_s");
  if (to && !json_is_null(to) &&
      (!json_is_integer(to) || json_integer_value(to) < 0 || json_integer_value(to) > 7 * 86400)) {
    fail(rs, 400, "'timeout_s' is a number of seconds, 0 to 604800");
    goto out;
  }
  r.timeout_s = json_is_integer(to) ? json_integer_value(to) : 0;
  if (agent && !adr_agent_name_valid(agent)) {
    fail(rs, 400, "'agent' is not an agent name: '%s'", agent);
    goto out;
  }
  if (!repo || !*repo) {
    fail(rs, 400, "'repo' is needed: a repository URL or path");
    goto out;
  }
  if (network && !(streq(network, "none") || streq(network, "allowlist") || streq(network, "open"))) {
    fail(rs, 400, "'network' is none, allowlist or open");
    goto out;
  }
  r.agent = agent ? xstrdup(agent) : NULL;
  r.model = model ? xstrdup(model) : NULL;
  r.network = network ? xstrdup(network) : NULL;
  r.prompt = prompt ? xstrdup(prompt) : NULL;
  r.deliver = deliver ? xstrdup(deliver) : NULL;
  if (profile && apply_profile(c, profile, &r, &expanded, rs) < 0)
    goto out;
  if (expanded) {
    free(r.prompt);
    r.prompt = TAKE_PTR(expanded);
  }
  if (!r.agent) {
    fail(rs, 400, "an 'agent' or a 'profile' is needed");
    goto out;
  }
  if ((!r.prompt || !*r.prompt) && !r.command.n) { /* a procedural run's prompt is its own affair */
    fail(rs, 400, "'prompt' is needed");
    goto out;
  }
  if (!deliver_valid(r.deliver)) {
    fail(rs, 400, "'deliver' is push or bundle");
    goto out;
  }
  r.profile = profile ? xstrdup(profile) : NULL;
  r.repo = xstrdup(repo);
  r.base_ref = ref ? xstrdup(ref) : NULL;
  int64_t id = 0;
  pthread_mutex_lock(&c->mu);
  int sr = adr_queue_submit(c->q, &r, now_ms(c), &id, &err);
  struct adr_run got = { 0 };
  int gr = sr == 0 ? adr_queue_get(c->q, id, &got, &err) : -1;
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
  if (gr != 0)
    fail(rs, 500, "%s", err ? err->msg : "submit");
  else
    reply(rs, 201, run_json(&got));
  adr_run_free(&got);
out:
  free(expanded);
  adr_err_free(&err);
  adr_run_free(&r);
  json_decref(j);
}

static void runs_list(struct adr_coord *c, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  struct adr_queue_filter f = { .state = -1 };
  const char *st = rq->arg ? rq->arg(rq->ud, "state") : NULL, *after = rq->arg ? rq->arg(rq->ud, "after") : NULL,
             *limit = rq->arg ? rq->arg(rq->ud, "limit") : NULL;
  if (st && (f.state = adr_run_state_parse(st)) < 0) {
    fail(rs, 400, "state '%.32s': queued, claimed, running, finished, cancelled or lost", st);
    return;
  }
  uint64_t u;
  if (after) {
    if (adr_parse_uint(after, INT64_MAX, &u) < 0) {
      fail(rs, 400, "after '%.32s': a run id", after);
      return;
    }
    f.after_id = (int64_t)u;
  }
  if (limit) {
    if (adr_parse_uint(limit, 1000, &u) < 0 || u == 0) {
      fail(rs, 400, "limit '%.32s': 1 to 1000", limit);
      return;
    }
    f.limit = (unsigned)u;
  }
  f.tag = rq->arg ? rq->arg(rq->ud, "tag") : NULL;
  f.runner = rq->arg ? rq->arg(rq->ud, "runner") : NULL;
  struct adr_run *v = NULL;
  size_t n = 0;
  cleanup_err adr_err err = NULL;
  pthread_mutex_lock(&c->mu);
  int r = adr_queue_list(c->q, &f, &v, &n, &err);
  pthread_mutex_unlock(&c->mu);
  if (r < 0) {
    fail(rs, 500, "%s", err->msg);
    return;
  }
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, run_json(&v[i]));
  adr_runs_free(v, n);
  reply(rs, 200, json_pack("{s:o}", "runs", a));
}

static void run_show(struct adr_coord *c, int64_t id, struct adr_coord_resp *rs)
{
  struct adr_run r = { 0 };
  cleanup_err adr_err err = NULL;
  pthread_mutex_lock(&c->mu);
  int g = adr_queue_get(c->q, id, &r, &err);
  pthread_mutex_unlock(&c->mu);
  if (g < 0)
    fail(rs, 500, "%s", err->msg);
  else if (g == 1)
    fail(rs, 404, "no run %lld", (long long)id);
  else
    reply(rs, 200, run_json(&r));
  adr_run_free(&r);
}

static void run_cancel(struct adr_coord *c, int64_t id, struct adr_coord_resp *rs)
{
  cleanup_err adr_err err = NULL;
  pthread_mutex_lock(&c->mu);
  int r = adr_queue_cancel(c->q, id, now_ms(c), &err);
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
  if (r < 0) {
    fail(rs, 500, "%s", err->msg);
    return;
  }
  if (r == 1) {
    struct adr_run x = { 0 };
    pthread_mutex_lock(&c->mu);
    int g = adr_queue_get(c->q, id, &x, &err);
    pthread_mutex_unlock(&c->mu);
    if (g == 0)
      fail(rs, 409, "run %lld has ended (%s)", (long long)id, adr_run_state_name(x.state));
    else
      fail(rs, 404, "no run %lld", (long long)id);
    adr_run_free(&x);
    return;
  }
  run_show(c, id, rs);
}

/* The runner's name from the body (and nothing else but keys). */
static json_t *runner_body(const struct adr_coord_req *rq, const char *const *keys, const char **runner,
                           struct adr_coord_resp *rs)
{
  json_t *j = body_object(rq, keys, rs);
  if (!j)
    return NULL;
  if (opt_str(j, "runner", 64, runner, rs) < 0) {
    json_decref(j);
    return NULL;
  }
  if (!*runner || !adr_agent_name_valid(*runner)) {
    fail(rs, 400, "'runner' is a name: lowercase letters, digits, '-', '_', '.'");
    json_decref(j);
    return NULL;
  }
  return j;
}

static void claim(struct adr_coord *c, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  static const char *const keys[] = { "runner", "tags", "only_tagged", "wait_s", NULL };
  const char *runner;
  json_t *j = runner_body(rq, keys, &runner, rs);
  if (!j)
    return;
  struct strv tags = { 0 };
  adr_err err = NULL;
  struct adr_run r = { 0 };
  json_t *w = json_object_get(j, "wait_s"), *ot = json_object_get(j, "only_tagged");
  if (opt_list(j, "tags", tag_valid, "tag", &tags, rs) < 0)
    goto out;
  if ((w && !json_is_integer(w)) || (ot && !json_is_boolean(ot))) {
    fail(rs, 400, "'wait_s' is a number of seconds, 'only_tagged' true or false");
    goto out;
  }
  json_int_t wait_s = w ? json_integer_value(w) : 0;
  if (wait_s < 0 || wait_s > ADR_COORD_WAIT_MAX) {
    fail(rs, 400, "'wait_s' is 0 to %d", ADR_COORD_WAIT_MAX);
    goto out;
  }
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += wait_s;
  pthread_mutex_lock(&c->mu);
  int got;
  for (;;) {
    int64_t t = now_ms(c);
    unsigned rq_n = 0;
    if (adr_queue_expire(c->q, t, c->o.max_attempts, &rq_n, NULL, &err) < 0) {
      got = -1;
      break;
    }
    if (rq_n)
      pthread_cond_broadcast(&c->work);
    got = adr_queue_claim(c->q, runner, &tags, ot && json_is_true(ot), t, c->o.lease_ms, &r, &err);
    if (got == 0)
      pthread_cond_broadcast(&c->work);
    if (got != 1)
      break;
    /* nothing yet: wait for a submit (or a second, for leases to run out) */
    struct timespec now, next;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
      break;
    next = now;
    next.tv_sec += 1;
    if (next.tv_sec > until.tv_sec || (next.tv_sec == until.tv_sec && next.tv_nsec > until.tv_nsec))
      next = until;
    pthread_cond_timedwait(&c->work, &c->mu, &next);
  }
  pthread_mutex_unlock(&c->mu);
  if (got < 0)
    fail(rs, 500, "%s", err->msg);
  else if (got == 1)
    reply(rs, 204, NULL);
  else
    reply(rs, 200, run_json(&r));
out:
  adr_run_free(&r);
  adr_err_free(&err);
  strv_free(&tags);
  json_decref(j);
}

/* heartbeat, started, finish: the holder's moves */
/* Replies with the failure when the queue's answer r to the holder of
 * run id is one (-1: err; 1: runner does not hold it); true when r is 0.
 * Called while the body runner points into is still held. */
static bool holder_ok(struct adr_coord_resp *rs, int r, const adr_err err, const char *runner, int64_t id)
{
  if (r < 0)
    fail(rs, 500, "%s", err->msg);
  else if (r == 1)
    fail(rs, 409, "runner '%s' does not hold run %lld", runner, (long long)id);
  return r == 0;
}

static void held(struct adr_coord *c, int64_t id, const char *what, const struct adr_coord_req *rq,
                 struct adr_coord_resp *rs)
{
  static const char *const keys[] = { "runner", "exit_code", "result", "text", NULL };
  const char *runner, *text = NULL;
  json_t *j = runner_body(rq, keys, &runner, rs);
  if (!j)
    return;
  if (opt_str(j, "text", ADR_COORD_OUTPUT_MAX, &text, rs) < 0) {
    json_decref(j);
    return;
  }
  if (streq(what, "output") != (text != NULL)) {
    fail(rs, 400, streq(what, "output") ? "'text' is needed" : "'text' goes with output");
    json_decref(j);
    return;
  }
  cleanup_err adr_err err = NULL;
  cleanup_free char *result = NULL;
  int r;
  bool cancel = false;
  json_t *code = json_object_get(j, "exit_code"), *res = json_object_get(j, "result");
  if (streq(what, "finish")) {
    if (!json_is_integer(code) || json_integer_value(code) < 0 || json_integer_value(code) > 255) {
      fail(rs, 400, "'exit_code' is 0 to 255");
      json_decref(j);
      return;
    }
    if (res && !json_is_object(res)) {
      fail(rs, 400, "'result' is an object");
      json_decref(j);
      return;
    }
    result = res ? json_dumps(res, JSON_COMPACT) : NULL;
  } else if (code || res) {
    fail(rs, 400, "'exit_code' and 'result' go with finish");
    json_decref(j);
    return;
  }
  pthread_mutex_lock(&c->mu);
  int64_t t = now_ms(c);
  if (streq(what, "heartbeat"))
    r = adr_queue_heartbeat(c->q, id, runner, t, c->o.lease_ms, &cancel, &err);
  else if (streq(what, "started"))
    r = adr_queue_started(c->q, id, runner, t, &err);
  else if (streq(what, "output"))
    r = adr_queue_output(c->q, id, runner, text, t, &err);
  else
    r = adr_queue_finish(c->q, id, runner, (int)json_integer_value(code), result, t, &err);
  pthread_cond_broadcast(&c->work); /* followers of its events */
  pthread_mutex_unlock(&c->mu);
  bool ok = holder_ok(rs, r, err, runner, id);
  json_decref(j);
  if (!ok)
    return;
  if (streq(what, "heartbeat"))
    reply(rs, 200, json_pack("{s:b, s:I}", "cancel", cancel, "lease_ms", (json_int_t)c->o.lease_ms));
  else if (streq(what, "output"))
    reply(rs, 200, json_object());
  else
    run_show(c, id, rs);
}

/* A runner restarted after a kill gives a run back. */
static void run_release(struct adr_coord *c, int64_t id, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  static const char *const keys[] = { "runner", "why", NULL };
  const char *runner, *why = NULL;
  json_t *j = runner_body(rq, keys, &runner, rs);
  if (!j)
    return;
  if (opt_str(j, "why", 1024, &why, rs) < 0) {
    json_decref(j);
    return;
  }
  cleanup_err adr_err err = NULL;
  pthread_mutex_lock(&c->mu);
  int r = adr_queue_release(c->q, id, runner, c->o.max_attempts, why, now_ms(c), NULL, &err);
  pthread_cond_broadcast(&c->work);
  pthread_mutex_unlock(&c->mu);
  if (holder_ok(rs, r, err, runner, id))
    run_show(c, id, rs);
  json_decref(j);
}

/* The bytes base64 text b stands for, or -1 when it is not base64. */
static long long base64_bytes(const char *b, size_t n)
{
  if (n % 4)
    return -1;
  for (size_t i = 0; i < n; i++) {
    char ch = b[i];
    bool pad = ch == '=' && (i == n - 1 || (i == n - 2 && b[n - 1] == '='));
    if (!(pad || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' ||
          ch == '/'))
      return -1;
  }
  return (long long)(n / 4 * 3) - (n && b[n - 1] == '=') - (n > 1 && b[n - 2] == '=');
}

/* POST: the holder stores the run's work as a git bundle (base64);
 * GET: a client takes it. */
static void run_bundle(struct adr_coord *c, int64_t id, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  cleanup_err adr_err err = NULL;
  if (streq(rq->method, "GET")) {
    char *data = NULL;
    pthread_mutex_lock(&c->mu);
    int g = adr_queue_file_get(c->q, id, "bundle", &data, &err);
    pthread_mutex_unlock(&c->mu);
    if (g < 0)
      fail(rs, 500, "%s", err->msg);
    else if (g == 1)
      fail(rs, 404, "run %lld has no bundle", (long long)id);
    else
      reply(rs, 200,
            json_pack("{s:I, s:I, s:s}", "id", (json_int_t)id, "bytes", (json_int_t)base64_bytes(data, strlen(data)),
                      "data", data));
    free(data);
    return;
  }
  static const char *const keys[] = { "runner", "data", NULL };
  const char *runner, *data = NULL;
  json_t *j = runner_body(rq, keys, &runner, rs);
  if (!j)
    return;
  long long bytes = -1;
  if (opt_str(j, "data", ADR_COORD_BUNDLE_MAX / 3 * 4 + 4, &data, rs) < 0) {
    json_decref(j);
    return;
  }
  if (!data || (bytes = base64_bytes(data, strlen(data))) <= 0) {
    fail(rs, 400, "'data' is the bundle, in base64");
    json_decref(j);
    return;
  }
  pthread_mutex_lock(&c->mu);
  int r = adr_queue_file_put(c->q, id, runner, "bundle", data, &err);
  pthread_mutex_unlock(&c->mu);
  if (holder_ok(rs, r, err, runner, id))
    reply(rs, 200, json_pack("{s:I, s:I}", "id", (json_int_t)id, "bytes", (json_int_t)bytes));
  json_decref(j);
}

/* ------------------------------------------------------------ events */

static bool run_ended(enum adr_run_state s)
{
  return s == ADR_RUN_FINISHED || s == ADR_RUN_CANCELLED || s == ADR_RUN_LOST;
}

/* Waits on c->work (held) until the monotonic deadline: false once past it. */
static bool wait_until(struct adr_coord *c, const struct timespec *until)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (now.tv_sec > until->tv_sec || (now.tv_sec == until->tv_sec && now.tv_nsec >= until->tv_nsec))
    return false;
  pthread_cond_timedwait(&c->work, &c->mu, until);
  return true;
}

int adr_coord_events(struct adr_coord *c, int64_t id, int64_t after, int wait_s, json_t **events, bool *ended,
                     adr_err *err)
{
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += wait_s;
  *events = NULL;
  pthread_mutex_lock(&c->mu);
  int ret;
  for (;;) {
    struct adr_run r = { 0 };
    ret = adr_queue_get(c->q, id, &r, err);
    *ended = ret == 0 && run_ended(r.state);
    adr_run_free(&r);
    if (ret != 0)
      break;
    struct adr_run_event *v = NULL;
    size_t n = 0;
    if ((ret = adr_queue_events(c->q, id, after, 500, &v, &n, err)) < 0)
      break;
    if (n || *ended || !wait_until(c, &until)) {
      json_t *a = json_array();
      for (size_t i = 0; i < n; i++) {
        bool text = streq(v[i].kind, "output");
        json_t *d = !text && v[i].data ? json_loads(v[i].data, 0, NULL) : NULL;
        json_array_append_new(a, json_pack("{s:I, s:I, s:s, s:o}", "id", (json_int_t)v[i].id, "ts", (json_int_t)v[i].ts,
                                           "kind", v[i].kind, "data",
                                           text ? json_string(v[i].data ? v[i].data : "")
                                           : d  ? d
                                                : json_null()));
      }
      adr_run_events_free(v, n);
      /* more may follow at once: ended only when these are the last */
      *ended = *ended && n < 500;
      *events = a;
      break;
    }
    adr_run_events_free(v, n);
  }
  pthread_mutex_unlock(&c->mu);
  return ret;
}

static void run_events(struct adr_coord *c, int64_t id, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  const char *after_s = rq->arg ? rq->arg(rq->ud, "after") : NULL, *wait_s = rq->arg ? rq->arg(rq->ud, "wait_s") : NULL;
  uint64_t after = 0, wait = 0;
  if ((after_s && adr_parse_uint(after_s, INT64_MAX, &after) < 0) ||
      (wait_s && (adr_parse_uint(wait_s, ADR_COORD_WAIT_MAX, &wait) < 0))) {
    fail(rs, 400, "'after' is an event id, 'wait_s' 0 to %d", ADR_COORD_WAIT_MAX);
    return;
  }
  json_t *ev = NULL;
  bool ended = false;
  cleanup_err adr_err err = NULL;
  int r = adr_coord_events(c, id, (int64_t)after, (int)wait, &ev, &ended, &err);
  if (r < 0)
    fail(rs, 500, "%s", err->msg);
  else if (r == 1)
    fail(rs, 404, "no run %lld", (long long)id);
  else
    reply(rs, 200, json_pack("{s:o, s:b}", "events", ev, "ended", ended));
}

/* ------------------------------------------------------------ routing */

static bool allowed(const char *role, const char *need) { return role && (streq(role, "any") || streq(role, need)); }

size_t adr_coord_body_max(const char *path)
{
  const char *rest = "";
  if (path && str_has_prefix(path, "/v1/runs/") && path_id(path + 9, &rest) > 0 && streq(rest, "/bundle"))
    return ADR_COORD_BUNDLE_MAX / 3 * 4 + 4096;
  return ADR_COORD_BODY_MAX;
}

void adr_coord_handle(struct adr_coord *c, const struct adr_coord_req *rq, struct adr_coord_resp *rs)
{
  memset(rs, 0, sizeof(*rs));
  const char *m = rq->method, *p = rq->path;
  if (rq->body_len > adr_coord_body_max(p)) {
    fail(rs, 413, "the body is over %zu bytes", adr_coord_body_max(p));
    return;
  }
  if (streq(p, "/v1/health")) {
    if (!streq(m, "GET")) {
      fail(rs, 405, "GET %s", p);
      return;
    }
    reply(rs, 200, json_pack("{s:s, s:b}", "store", adr_queue_kind(c->q), "auth", !c->o.no_auth));
    return;
  }
  const char *role = role_of(c, rq->auth);
  if (!role) {
    fail(rs, 401, rq->auth ? "the token is not valid" : "a bearer token is needed (Authorization: Bearer ...)");
    return;
  }
  /* the endpoint: which one, the methods and the role it takes */
  enum { E_RUNS, E_CLAIM, E_SHOW, E_CANCEL, E_EVENTS, E_HELD, E_RELEASE, E_BUNDLE } e;
  const char *methods = "POST", *need = "client", *move = NULL;
  const char *rest = "";
  int64_t id = 0;
  if (streq(p, "/v1/runs")) {
    e = E_RUNS;
    methods = "GET or POST";
  } else if (streq(p, "/v1/claim")) {
    e = E_CLAIM;
    need = "runner";
  } else if (str_has_prefix(p, "/v1/runs/") && (id = path_id(p + 9, &rest)) > 0 &&
             (*rest == '\0' || streq(rest, "/cancel") || streq(rest, "/events") || streq(rest, "/heartbeat") ||
              streq(rest, "/started") || streq(rest, "/output") || streq(rest, "/finish") || streq(rest, "/release") ||
              streq(rest, "/bundle"))) {
    e = *rest == '\0'             ? E_SHOW
        : streq(rest, "/cancel")  ? E_CANCEL
        : streq(rest, "/events")  ? E_EVENTS
        : streq(rest, "/release") ? E_RELEASE
        : streq(rest, "/bundle")  ? E_BUNDLE
                                  : E_HELD;
    methods = e == E_SHOW || e == E_EVENTS ? "GET" : e == E_BUNDLE ? "GET or POST" : "POST";
    need = e == E_HELD || e == E_RELEASE || (e == E_BUNDLE && streq(m, "POST")) ? "runner" : "client";
    move = e == E_HELD ? rest + 1 : NULL;
  } else {
    fail(rs, 404, "no such resource: %.128s", p);
    return;
  }
  if (!allowed(role, need)) {
    fail(rs, 403, "a %s token is needed", need);
    return;
  }
  bool ok_method = e == E_RUNS || e == E_BUNDLE ? streq(m, "GET") || streq(m, "POST") : streq(m, methods);
  if (!ok_method) {
    fail(rs, 405, "%s %s", methods, p);
    return;
  }
  switch (e) {
  case E_RUNS: streq(m, "POST") ? runs_submit(c, rq, rs) : runs_list(c, rq, rs); break;
  case E_CLAIM: claim(c, rq, rs); break;
  case E_SHOW: run_show(c, id, rs); break;
  case E_CANCEL: run_cancel(c, id, rs); break;
  case E_EVENTS: run_events(c, id, rq, rs); break;
  case E_HELD: held(c, id, move, rq, rs); break;
  case E_RELEASE: run_release(c, id, rq, rs); break;
  case E_BUNDLE: run_bundle(c, id, rq, rs); break;
  }
}
