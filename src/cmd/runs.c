/* adr submit and adr runs: a client of the coordinator (adr serve,
 * docs/api.md).  The coordinator is --coordinator, else ADR_COORDINATOR
 * (environment, then configuration); the token is ADR_TOKEN or the first
 * line of --token-file. */
#include "cmd.h"
#include "buf.h"
#include "coord-client.h"
#include "parse.h"
#include "proc.h"
#include "queue.h"

#include <openssl/evp.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
  OPT_COORD = 0x100,
  OPT_TOKEN_FILE,
  OPT_JSON,
  OPT_REPO,
  OPT_REF,
  OPT_PROMPT,
  OPT_PROFILE,
  OPT_MODEL,
  OPT_NETWORK,
  OPT_TAG,
  OPT_SECRET,
  OPT_TIMEOUT,
  OPT_STATE,
  OPT_DELIVER
};

#define CLIENT_OPTIONS                                                                                              \
  { "coordinator", required_argument, NULL, OPT_COORD }, { "token-file", required_argument, NULL, OPT_TOKEN_FILE }, \
    { "json", no_argument, NULL, OPT_JSON },                                                                        \
  {                                                                                                                 \
    "help", no_argument, NULL, 'h'                                                                                  \
  }

/* clang-format off */
static const struct option submit_options[] = {
  { "repo", required_argument, NULL, OPT_REPO },
  { "ref", required_argument, NULL, OPT_REF },
  { "prompt", required_argument, NULL, OPT_PROMPT },
  { "profile", required_argument, NULL, OPT_PROFILE },
  { "model", required_argument, NULL, OPT_MODEL },
  { "network", required_argument, NULL, OPT_NETWORK },
  { "tag", required_argument, NULL, OPT_TAG },
  { "secret", required_argument, NULL, OPT_SECRET },
  { "timeout", required_argument, NULL, OPT_TIMEOUT },
  { "deliver", required_argument, NULL, OPT_DELIVER },
  CLIENT_OPTIONS,
  { 0 },
};
static const struct option runs_options[] = {
  { "state", required_argument, NULL, OPT_STATE },
  { "follow", no_argument, NULL, 'f' },
  { "count", required_argument, NULL, 'n' },
  { "tag", required_argument, NULL, OPT_TAG },
  { "output", required_argument, NULL, 'o' },
  CLIENT_OPTIONS,
  { 0 },
};
/* clang-format on */

/* One call: the reply as JSON when 2xx (NULL for 204), else reported. */
static int call(const struct cmd_coord *t, const char *method, const char *path, const char *body, json_t **out)
{
  cleanup_err adr_err err = NULL;
  long status = 0;
  cleanup_free char *reply = NULL;
  *out = NULL;
  if (adr_coord_call(t->url, t->token, method, path, body, &status, &reply, &err) < 0)
    return report(&err);
  json_t *j = *reply ? json_loads(reply, 0, NULL) : NULL;
  if (status < 200 || status > 299) {
    const char *msg = json_string_value(json_object_get(j, "error"));
    errorf("coordinator %s: %s (HTTP %ld)", t->url, msg ? msg : "no error message", status);
    json_decref(j);
    return EXIT_FAIL;
  }
  if (status != 204 && !j)
    return errorf("coordinator %s: the reply is not JSON", t->url);
  *out = j;
  return 0;
}

static void print_json(json_t *j)
{
  char *s = json_dumps(j, JSON_INDENT(2));
  puts(s ? s : "null");
  free(s);
}

static const char *str(json_t *run, const char *key)
{
  const char *s = json_string_value(json_object_get(run, key));
  return s ? s : "-";
}

/* ------------------------------------------------------------ submit */

static const char submit_help[] =
  "Queues a headless run of AGENT (or of a --profile) on the coordinator;\n"
  "a runner ('adr runner') with every --tag claims it, runs it in a sandbox on\n"
  "a fresh worktree of --repo at --ref, and reports its result.\n\n"
  "  --repo URL|PATH        the repository (required)\n"
  "  --ref REF              where to start from (default: its HEAD)\n"
  "  --prompt TEXT          the task (required)\n"
  "  --profile NAME         a profile the coordinator knows (agent, model, ...)\n"
  "  --model M, --network none|allowlist|open, --timeout DURATION\n"
  "  --tag T                a runner must have it (repeatable)\n"
  "  --secret NAME          an environment variable the runner fills from its\n"
  "                         secrets (repeatable; never the value)\n"
  "  --deliver push|bundle  the work: pushed back to --repo as adr/run-ID\n"
  "                         (default; a bundle is stored when the push\n"
  "                         fails), or only stored with the run as a git\n"
  "                         bundle ('adr runs fetch ID')\n"
  "  --coordinator URL      (default: ADR_COORDINATOR)\n"
  "  --token-file FILE      (default: ADR_TOKEN)\n"
  "  --json                 print the run as JSON\n\n"
  "Examples:\n"
  "  adr submit pi --repo https://example.com/app.git --prompt 'fix the flaky test'\n"
  "  adr submit --profile review --repo /srv/app --tag gpu --prompt 'review HEAD'\n";

static int submit_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  if (a->argc > 1)
    return usage_error(self, "one agent at most");
  struct cmd_coord t;
  int ret = cmd_coord_target(ctx, args_get(a, OPT_COORD), args_get(a, OPT_TOKEN_FILE), &t);
  if (ret)
    return ret;
  json_t *req = json_object();
  if (a->argc)
    json_object_set_new(req, "agent", json_string(a->argv[0]));
  static const struct {
    int id;
    const char *key;
  } fields[] = { { OPT_REPO, "repo" },       { OPT_REF, "base_ref" }, { OPT_PROMPT, "prompt" },
                 { OPT_PROFILE, "profile" }, { OPT_MODEL, "model" },  { OPT_NETWORK, "network" },
                 { OPT_DELIVER, "deliver" } };
  for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
    if (args_get(a, fields[i].id))
      json_object_set_new(req, fields[i].key, json_string(args_get(a, fields[i].id)));
  struct strv tags = { 0 }, secrets = { 0 };
  args_all(a, OPT_TAG, &tags);
  args_all(a, OPT_SECRET, &secrets);
  json_t *jt = json_array(), *js = json_array();
  for (size_t i = 0; i < tags.n; i++)
    json_array_append_new(jt, json_string(tags.v[i]));
  for (size_t i = 0; i < secrets.n; i++)
    json_array_append_new(js, json_string(secrets.v[i]));
  json_object_set_new(req, "tags", jt);
  json_object_set_new(req, "secrets", js);
  strv_free(&tags);
  strv_free(&secrets);
  if (args_get(a, OPT_TIMEOUT)) {
    cleanup_err adr_err err = NULL;
    uint64_t s = 0;
    if (adr_parse_duration(args_get(a, OPT_TIMEOUT), &s, &err) < 0) {
      json_decref(req);
      cmd_coord_free(&t);
      return usage_error(self, "--timeout: %s", err->msg);
    }
    json_object_set_new(req, "timeout_s", json_integer((json_int_t)s));
  }
  char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  json_t *run = NULL;
  ret = call(&t, "POST", "/v1/runs", body, &run);
  free(body);
  cmd_coord_free(&t);
  if (ret)
    return ret;
  if (args_has(a, OPT_JSON)) {
    print_json(run);
  } else {
    json_int_t id = json_integer_value(json_object_get(run, "id"));
    printf("submitted run %lld (%s)\n", (long long)id, str(run, "state"));
    fflush(stdout);
    hintf("follow it with 'adr runs show %lld'", (long long)id);
  }
  json_decref(run);
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_submit_entry = {
  .name = "submit",
  .summary = "queue a headless run on the coordinator",
  .usage = "adr submit [AGENT] --repo URL|PATH --prompt TEXT [--ref REF] [--profile NAME] [--tag T]... [--json]",
  .help = submit_help,
  .options = submit_options,
  .shortopts = "h",
  .complete = "agents",
  .flags = CMD_CONFIG,
  .exec = submit_exec,
};

/* ------------------------------------------------------------ runs */

static const char runs_help[] =
  "Lists, shows and cancels the coordinator's runs.\n\n"
  "  adr runs [ls] [--state S] [--tag T]   the runs, oldest first (S: queued,\n"
  "                                        claimed, running, finished,\n"
  "                                        cancelled, lost)\n"
  "  adr runs show ID                      one run, with its result\n"
  "  adr runs cancel ID                    a queued run is cancelled; a held one's\n"
  "                                        runner is asked to stop it\n"
  "  adr runs logs ID [-f]                 its output (on stderr: what happened\n"
  "                                        to it); -f follows it to its end\n"
  "  adr runs fetch ID [-o FILE]           the work stored with the run (a git\n"
  "                                        bundle), fetched into the repository\n"
  "                                        here as branch adr/run-ID; -o: only\n"
  "                                        written to FILE\n"
  "  adr runs watch [-n N]                 one page, again every 2 s: the runs\n"
  "                                        by state, those in flight, the last\n"
  "                                        ten that ended (-n: N times)\n\n"
  "  --coordinator URL, --token-file FILE, --json   as for 'adr submit'\n";

static int runs_ls(const struct cmd_coord *t, const struct cmd_args *a)
{
  struct buf q;
  buf_init(&q, 0);
  buf_printf(&q, "/v1/runs?limit=1000");
  const char *st = args_get(a, OPT_STATE), *tag = args_get(a, OPT_TAG);
  if (st) {
    if (adr_run_state_parse(st) < 0) {
      buf_free(&q);
      return errorf("--state '%s': queued, claimed, running, finished, cancelled or lost", st);
    }
    buf_printf(&q, "&state=%s", st);
  }
  if (tag) {
    for (const char *p = tag; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-_.", *p))) {
        buf_free(&q);
        return errorf("--tag '%s': lowercase letters, digits, '-', '_', '.'", tag);
      }
    buf_printf(&q, "&tag=%s", tag);
  }
  json_t *j = NULL;
  int ret = call(t, "GET", q.data, NULL, &j);
  buf_free(&q);
  if (ret)
    return ret;
  json_t *runs = json_object_get(j, "runs");
  if (args_has(a, OPT_JSON)) {
    print_json(runs);
  } else {
    printf("%-6s %-10s %-10s %-12s %-5s %s\n", "ID", "STATE", "AGENT", "RUNNER", "EXIT", "REPO");
    size_t i;
    json_t *r;
    json_array_foreach (runs, i, r) {
      json_t *ec = json_object_get(r, "exit_code");
      char exit_s[16] = "-";
      if (json_is_integer(ec))
        snprintf(exit_s, sizeof(exit_s), "%lld", (long long)json_integer_value(ec));
      printf("%-6lld %-10s %-10s %-12s %-5s %s\n", (long long)json_integer_value(json_object_get(r, "id")),
             str(r, "state"), str(r, "agent"), str(r, "runner"), exit_s, str(r, "repo"));
    }
  }
  json_decref(j);
  return EXIT_OK;
}

static int runs_one(const struct cmd_coord *t, const struct cmd_args *a, const char *verb, const char *id_s)
{
  uint64_t id = 0;
  if (adr_parse_uint(id_s, INT64_MAX, &id) < 0 || id == 0)
    return errorf("run '%s': a run id is a number", id_s);
  cleanup_free char *path =
    xasprintf("/v1/runs/%llu%s", (unsigned long long)id, streq(verb, "cancel") ? "/cancel" : "");
  json_t *r = NULL;
  int ret = call(t, streq(verb, "cancel") ? "POST" : "GET", path, streq(verb, "cancel") ? "{}" : NULL, &r);
  if (ret)
    return ret;
  if (args_has(a, OPT_JSON)) {
    print_json(r);
  } else if (streq(verb, "cancel")) {
    if (streq(str(r, "state"), "cancelled"))
      printf("cancelled run %llu\n", (unsigned long long)id);
    else
      printf("asked the runner of run %llu (%s) to stop it\n", (unsigned long long)id, str(r, "runner"));
  } else {
    static const char *const keys[] = { "state", "agent", "profile", "repo", "base_ref", "model", "network", "runner" };
    printf("run %llu\n", (unsigned long long)id);
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
      printf("  %-9s %s\n", keys[i], str(r, keys[i]));
    printf("  %-9s %lld\n", "attempts", (long long)json_integer_value(json_object_get(r, "attempts")));
    json_t *ec = json_object_get(r, "exit_code");
    if (json_is_integer(ec))
      printf("  %-9s %lld\n", "exit", (long long)json_integer_value(ec));
    json_t *res = json_object_get(r, "result");
    if (json_is_object(res)) {
      char *s = json_dumps(res, JSON_COMPACT);
      printf("  %-9s %s\n", "result", s ? s : "");
      free(s);
    }
    printf("  %-9s %s\n", "prompt", str(r, "prompt"));
  }
  json_decref(r);
  return EXIT_OK;
}

/* One page: the runs by state, those in flight and the last that ended;
 * again every 2 s (N times with -n N), the screen cleared on a terminal. */
static int runs_watch(const struct cmd_coord *t, const struct cmd_args *a)
{
  uint64_t count = 0;
  if (args_get(a, 'n') && (adr_parse_uint(args_get(a, 'n'), 1000000, &count) < 0 || count == 0))
    return errorf("-n '%s': how many times, 1 or more", args_get(a, 'n'));
  bool tty = isatty(STDOUT_FILENO);
  for (uint64_t k = 0; count == 0 || k < count; k++) {
    json_t *j = NULL;
    int ret = call(t, "GET", "/v1/runs?limit=1000", NULL, &j);
    if (ret)
      return ret;
    static const char *const states[] = { "queued", "claimed", "running", "finished", "cancelled", "lost" };
    unsigned n[ARRAY_SIZE(states)] = { 0 };
    json_t *runs = json_object_get(j, "runs"), *r;
    size_t i;
    json_array_foreach (runs, i, r) {
      for (size_t s = 0; s < ARRAY_SIZE(states); s++)
        n[s] += streq(str(r, "state"), states[s]);
    }
    time_t now = time(NULL);
    char when[16];
    struct tm tmv;
    strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&now, &tmv));
    if (tty)
      fputs("\033[H\033[2J", stdout);
    printf("adr runs watch  %s  %s\n", t->url, when);
    for (size_t s = 0; s < ARRAY_SIZE(states); s++)
      printf("%s%s %u", s ? "   " : "", states[s], n[s]);
    printf("\n\n%-6s %-10s %-10s %-12s %-5s %s\n", "ID", "STATE", "AGENT", "RUNNER", "EXIT", "REPO");
    /* in flight first, then the last ten that ended */
    for (int pass = 0; pass < 2; pass++) {
      size_t shown = 0, total = json_array_size(runs);
      for (size_t x = total; x-- > 0;) {
        r = json_array_get(runs, x);
        const char *st = str(r, "state");
        bool live = streq(st, "queued") || streq(st, "claimed") || streq(st, "running");
        if (live != (pass == 0) || (pass == 1 && shown >= 10))
          continue;
        json_t *ec = json_object_get(r, "exit_code");
        char exit_s[16] = "-";
        if (json_is_integer(ec))
          snprintf(exit_s, sizeof(exit_s), "%lld", (long long)json_integer_value(ec));
        printf("%-6lld %-10s %-10s %-12s %-5s %s\n", (long long)json_integer_value(json_object_get(r, "id")), st,
               str(r, "agent"), str(r, "runner"), exit_s, str(r, "repo"));
        shown++;
      }
    }
    fflush(stdout);
    json_decref(j);
    if (count == 0 || k + 1 < count)
      sleep(2);
  }
  return EXIT_OK;
}

/* The run's events: output to stdout, the rest a line each on stderr
 * (--json: every event a JSON line on stdout); -f to its end. */
static int runs_logs(const struct cmd_coord *t, const struct cmd_args *a, const char *id_s)
{
  uint64_t id = 0;
  if (adr_parse_uint(id_s, INT64_MAX, &id) < 0 || id == 0)
    return errorf("run '%s': a run id is a number", id_s);
  bool follow = args_has(a, 'f'), as_json = args_has(a, OPT_JSON);
  long long after = 0;
  for (;;) {
    cleanup_free char *path =
      xasprintf("/v1/runs/%llu/events?after=%lld&wait_s=%d", (unsigned long long)id, after, follow ? 20 : 0);
    json_t *j = NULL;
    int ret = call(t, "GET", path, NULL, &j);
    if (ret)
      return ret;
    json_t *ev = json_object_get(j, "events");
    size_t i;
    json_t *e;
    json_array_foreach (ev, i, e) {
      after = (long long)json_integer_value(json_object_get(e, "id"));
      const char *kind = json_string_value(json_object_get(e, "kind"));
      json_t *d = json_object_get(e, "data");
      if (as_json) {
        char *s = json_dumps(e, JSON_COMPACT);
        printf("%s\n", s ? s : "{}");
        free(s);
      } else if (kind && streq(kind, "output")) {
        fputs(json_string_value(d) ? json_string_value(d) : "", stdout);
      } else {
        fflush(stdout);
        const char *who = json_string_value(json_object_get(d, "runner"));
        json_t *code = json_object_get(d, "exit_code");
        fprintf(stderr, "adr: run %llu %s%s%s", (unsigned long long)id, kind ? kind : "?", who ? " by " : "",
                who ? who : "");
        if (json_is_integer(code))
          fprintf(stderr, " (exit %lld)", (long long)json_integer_value(code));
        const char *why = json_string_value(json_object_get(d, "why"));
        if (why && *why)
          fprintf(stderr, ": %s", why);
        fputc('\n', stderr);
      }
    }
    fflush(stdout);
    bool ended = json_is_true(json_object_get(j, "ended"));
    size_t got = json_array_size(ev);
    json_decref(j);
    if (ended || (!follow && got == 0))
      return EXIT_OK;
  }
}

/* The run's bundle, to -o FILE or fetched into the repository here. */
static int runs_fetch(const struct cmd_coord *t, const struct cmd_args *a, const char *id_s)
{
  uint64_t id = 0;
  if (adr_parse_uint(id_s, INT64_MAX, &id) < 0 || id == 0)
    return errorf("run '%s': a run id is a number", id_s);
  const char *out = args_get(a, 'o');
  cleanup_free char *tmpdir = NULL, *path = NULL;
  if (out) {
    path = xstrdup(out);
  } else {
    char tmpl[] = "/tmp/adr-fetch.XXXXXX";
    if (!mkdtemp(tmpl))
      return errorf("mkdtemp: %s", strerror(errno));
    tmpdir = xstrdup(tmpl);
    path = xasprintf("%s/run-%llu.bundle", tmpdir, (unsigned long long)id);
  }
  cleanup_free char *api = xasprintf("/v1/runs/%llu/bundle", (unsigned long long)id);
  json_t *j = NULL;
  int ret = call(t, "GET", api, NULL, &j);
  const char *b64 = json_string_value(json_object_get(j, "data"));
  json_int_t bytes = json_integer_value(json_object_get(j, "bytes"));
  unsigned char *raw = NULL;
  if (!ret) {
    size_t n = b64 ? strlen(b64) : 0;
    raw = xmalloc(n / 4 * 3 + 3);
    int got = n && n <= INT32_MAX ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n) : -1;
    if (got < 0 || bytes <= 0 || bytes > got)
      ret = errorf("coordinator %s: run %llu's bundle is not base64", t->url, (unsigned long long)id);
    else if (write_file_atomic(path, raw, (size_t)bytes, 0644) < 0)
      ret = errorf("write '%s': %s", path, strerror(errno));
  }
  free(raw);
  json_decref(j);
  if (!ret && out) {
    printf("wrote run %llu's work to %s (%lld bytes)\n", (unsigned long long)id, out, (long long)bytes);
  } else if (!ret) {
    cleanup_free char *spec =
      xasprintf("refs/heads/adr/run-%llu:refs/heads/adr/run-%llu", (unsigned long long)id, (unsigned long long)id);
    struct buf e;
    buf_init(&e, 4096);
    cleanup_err adr_err err = NULL;
    struct adr_proc p = { .argv = (const char *const[]){ "git", "fetch", "-q", "--no-tags", "--", path, spec, NULL },
                          .errout = &e };
    int rc = adr_proc_run(&p, &err);
    if (rc < 0)
      ret = report(&err);
    else if (rc > 0)
      ret = errorf("git fetch of run %llu's bundle: %.*s", (unsigned long long)id,
                   (int)strcspn(e.data ? e.data : "", "\n"), e.data ? e.data : "");
    else
      printf("fetched run %llu's work as branch adr/run-%llu\n", (unsigned long long)id, (unsigned long long)id);
    buf_free(&e);
  }
  if (tmpdir) {
    unlink(path);
    rmdir(tmpdir);
  }
  return ret;
}

static int runs_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  const char *verb = a->argc ? a->argv[0] : "ls";
  bool one = streq(verb, "show") || streq(verb, "cancel") || streq(verb, "logs") || streq(verb, "fetch");
  if (!one && !streq(verb, "ls") && !streq(verb, "watch"))
    return usage_error(self, "unknown subcommand '%s' (ls, show, cancel, logs, fetch, watch)", verb);
  if (one && a->argc != 2)
    return usage_error(self, "adr runs %s ID", verb);
  if (!one && a->argc > 1)
    return usage_error(self, "adr runs %s takes no argument", verb);
  struct cmd_coord t;
  int ret = cmd_coord_target(ctx, args_get(a, OPT_COORD), args_get(a, OPT_TOKEN_FILE), &t);
  if (ret)
    return ret;
  ret = streq(verb, "watch")   ? runs_watch(&t, a)
        : streq(verb, "logs")  ? runs_logs(&t, a, a->argv[1])
        : streq(verb, "fetch") ? runs_fetch(&t, a, a->argv[1])
        : one                  ? runs_one(&t, a, verb, a->argv[1])
                               : runs_ls(&t, a);
  cmd_coord_free(&t);
  return ret;
}

const struct adr_cmd_entry cmd_runs_entry = {
  .name = "runs",
  .summary = "list, show and cancel the coordinator's runs",
  .usage =
    "adr runs [ls [--state S] [--tag T] | show ID | cancel ID | logs ID [-f] | fetch ID [-o FILE] | watch] "
    "[--json]",
  .help = runs_help,
  .options = runs_options,
  .shortopts = "hfn:o:",
  .complete = "",
  .flags = CMD_CONFIG,
  .exec = runs_exec,
};
