/* adr build / adr update: the shared base image, then one image per agent
 * from the single generic agent Dockerfile, streamed through the Engine API. */
#include "cmd.h"
#include "egress.h"
#include "fmt.h"
#include "image.h"
#include "images.h"
#include "layout.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <time.h>

/* clang-format off */
static const struct option build_options[] = {
  { "tag", required_argument, NULL, 't' },
  { "no-cache", no_argument, NULL, 'n' },
  { "all", no_argument, NULL, 'a' },
  { "yes", no_argument, NULL, 'y' },
  { "runner", no_argument, NULL, 'r' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

/* clang-format off */
static const struct option update_options[] = {
  { "tag", required_argument, NULL, 't' },
  { "no-cache", no_argument, NULL, 'n' }, /* the default; accepted */
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char build_help[] =
  "Builds the adr base image (adr/base: Debian bookworm-slim, git, ripgrep,\n"
  "fd, procps, python3 with pip and venv, jq, wget, make, unzip, shellcheck,\n"
  "CA certificates, node 22 from npm) and, on top of it, one image per agent:\n"
  "PREFIX/AGENT:TAG (PREFIX is ADR_IMAGE_PREFIX, default coding-agent).\n\n"
  "Without AGENT: the agent ADR_AGENT names, when set; else, on a terminal,\n"
  "adr lists the agents and asks before building them all (answering no\n"
  "builds nothing and is not an error); without a terminal it asks for\n"
  "names.  --all builds every agent.  A failure does not stop the others\n"
  "and a summary ends the run.  Options may come before or after names.\n\n"
  "Extra CA certificates (ADR_EXTRA_CA, default 'auto' = the host's\n"
  "/usr/local/share/ca-certificates) are trusted inside the images, for\n"
  "TLS-intercepting proxies.  The host's npm registry setting is used.\n\n"
  "Options:\n"
  "  -t, --tag TAG   image tag (default: ADR_TAG, 'latest')\n"
  "      --no-cache  build every step anew\n"
  "  -a, --all       build every known agent, without asking\n"
  "  -y, --yes       the same as --all when no agent is named\n"
  "  -r, --runner    also build adr/runner:TAG, 'adr runner' in a container\n"
  "                  for a Swarm service or a DaemonSet (see docs/deploy.md);\n"
  "                  alone, only the base and runner images are built\n";

static const char update_help[] =
  "Rebuilds agent images that are already present, without the build cache,\n"
  "so that new package versions (Debian's, node's, the agent's own npm\n"
  "package at the version its definition pins) are picked up.  Without\n"
  "AGENT, every agent whose image exists with the tag is rebuilt; an agent\n"
  "named that has no image yet is built.  Options may come before or after\n"
  "names.\n\n"
  "Options:\n"
  "  -t, --tag TAG   image tag (default: ADR_TAG, 'latest')\n";

struct progress {
  const char *who;
  bool tty;
  unsigned cols;
  char *last_step;
  struct strv tail; /* last output lines, for failure reports */
  bool line_open;
};

static void tail_push(struct strv *t, const char *line)
{
  if (t->n >= 15) {
    free(t->v[0]);
    memmove(t->v, t->v + 1, (t->n - 1) * sizeof(char *));
    t->n--;
    t->v[t->n] = NULL;
  }
  strv_push(t, line);
}

static void on_event(const struct adr_build_event *ev, void *ud)
{
  struct progress *p = ud;
  /* the stream carries text with newlines; handle each line */
  const char *s = ev->text;
  while (s && *s) {
    size_t n = strcspn(s, "\n");
    cleanup_free char *line = xstrndup(s, n);
    s += n;
    if (*s == '\n')
      s++;
    if (*line == '\0')
      continue;
    if (ev->kind == ADR_BUILD_STEP || str_has_prefix(line, "Step ")) {
      free(p->last_step);
      p->last_step = xstrdup(line);
      if (p->tty) {
        int w = (int)p->cols - (int)strlen(p->who) - 4;
        fprintf(stderr, "\r\033[K[%s] %.*s", p->who, w > 10 ? w : 10, line);
        p->line_open = true;
      } else {
        fprintf(stderr, "%s: %s\n", p->who, line);
      }
    } else if (ev->kind == ADR_BUILD_OUTPUT) {
      tail_push(&p->tail, line);
      if (!p->tty && getenv("ADR_BUILD_VERBOSE"))
        fprintf(stderr, "%s:   %s\n", p->who, line);
    }
  }
  fflush(stderr);
}

static int build_one(struct adr_ctx *ctx, const char *who, const struct adr_images_job *job, const struct strv *cas,
                     bool no_cache, adr_err *err)
{
  struct winsize ws;
  struct progress p = { .who = who, .tty = isatty(STDERR_FILENO) != 0, .cols = 80 };
  if (p.tty && ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
    p.cols = ws.ws_col;
  cleanup_strv struct strv allow = { 0 };
  adr_config_get_list(&ctx->s.config, "ADR_SCAN_ALLOW", &allow);
  struct adr_images_job scanned = *job;
  scanned.scan_allow = &allow;
  int r = adr_images_build(ctx->s.engine, &scanned, cas, no_cache, on_event, &p, err);
  if (p.line_open)
    fputs("\r\033[K", stderr);
  if (r < 0) {
    if (p.tail.n) {
      fprintf(stderr, "%s: last output:\n", who);
      for (size_t i = 0; i < p.tail.n; i++)
        fprintf(stderr, "  | %s\n", p.tail.v[i]);
    }
    if (p.last_step)
      adr_err_prefix(err, "%s", p.last_step);
  }
  free(p.last_step);
  strv_free(&p.tail);
  return r;
}

/* adr/runner:TAG with this adr's binaries: 0, or -1 reported. */
static int build_runner(struct adr_ctx *ctx, const char *tag, const struct strv *cas, bool no_cache)
{
  cleanup_err adr_err err = NULL;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  cleanup_free char *gw = adr_gateway_bin(&err);
  if (n <= 0 || !gw) {
    if (!gw)
      return report(&err), -1;
    return errorf("build the runner image: where is adr itself: %s", strerror(errno)), -1;
  }
  self[n] = '\0';
  cleanup_images_job struct adr_images_job job;
  adr_images_job_runner(&job, tag, self, gw);
  fprintf(stderr, "building %s\n", job.image);
  if (build_one(ctx, "runner", &job, cas, no_cache, &err) < 0) {
    adr_err_prefix(&err, "build %s", job.image);
    report(&err);
    return -1;
  }
  return 0;
}

int build_images(struct adr_ctx *ctx, const struct adr_agent *const *agents, size_t n, const char *tag, bool no_cache,
                 bool runner)
{
  cleanup_err adr_err err = NULL;
  if (ctx_config(ctx, &err) < 0 || ctx_engine(ctx, &err) < 0) {
    report(&err);
    return (int)(n ? n : 1);
  }
  cleanup_strv struct strv cas = { 0 };
  if (adr_extra_ca_files(adr_config_get(&ctx->s.config, "ADR_EXTRA_CA"), "/usr/local/share/ca-certificates", &cas,
                         &err) < 0) {
    report(&err);
    return (int)(n ? n : 1);
  }
  cleanup_free char *registry = adr_host_npm_registry();
  cleanup_images_job struct adr_images_job base;
  adr_images_job_base(&base, tag, registry);
  time_t t0 = time(NULL);
  fprintf(stderr, "building %s%s\n", base.image, cas.n ? "" : "");
  if (build_one(ctx, "base", &base, &cas, no_cache, &err) < 0) {
    adr_err_prefix(&err, "build %s", base.image);
    report(&err);
    return (int)n;
  }
  int failed = runner && build_runner(ctx, tag, &cas, no_cache) < 0 ? 1 : 0;
  struct adr_table t;
  static const char *const hdr[] = { "AGENT", "IMAGE", "RESULT", "TIME" };
  adr_table_init(&t, 4, hdr);
  const char *prefix = adr_config_get(&ctx->s.config, "ADR_IMAGE_PREFIX");
  for (size_t i = 0; i < n; i++) {
    const struct adr_agent *a = agents[i];
    cleanup_images_job struct adr_images_job job;
    adr_images_job_agent(&job, a, prefix, tag, registry);
    fprintf(stderr, "building %s (%s@%s)\n", job.image, a->npm_package, a->npm_version);
    time_t s = time(NULL);
    cleanup_err adr_err e2 = NULL;
    int r = build_one(ctx, a->name, &job, &cas, no_cache, &e2);
    cleanup_free char *dur = xasprintf("%lds", (long)(time(NULL) - s));
    if (r < 0) {
      failed++;
      adr_err_prefix(&e2, "build %s", job.image);
      report(&e2);
    }
    const char *row[] = { a->name, job.image, r < 0 ? "FAILED" : "ok", dur };
    adr_table_add(&t, row);
  }
  if (n > 1 || (failed && n)) {
    fputc('\n', stderr);
    adr_table_print(&t, stderr);
    fprintf(stderr, "%zu built, %d failed in %lds\n", n - (size_t)failed, failed, (long)(time(NULL) - t0));
  }
  adr_table_free(&t);
  return failed;
}

/* adr build without names: ADR_AGENT's agent, else all after asking on a
 * terminal.  Fills list/n and returns -1 to go on building, or returns
 * the exit status when nothing is to be built. */
static int pick_default(struct adr_ctx *ctx, const struct adr_cmd_entry *self, const struct adr_agent **list, size_t *n)
{
  const char *def = adr_config_get(&ctx->s.config, "ADR_AGENT");
  if (def && *def) {
    const struct adr_agent *a = adr_agents_find(&ctx->s.agents, def);
    if (a == NULL) {
      cleanup_err adr_err err = NULL;
      adr_agents_unknown(&ctx->s.agents, def, &err);
      adr_err_prefix(&err, "ADR_AGENT");
      return report(&err);
    }
    fprintf(stderr, "no agent named: building '%s' (ADR_AGENT); 'adr build --all' builds every agent\n", a->name);
    list[(*n)++] = a;
    return -1;
  }
  cleanup_strv struct strv all = { 0 };
  for (size_t i = 0; i < ctx->s.agents.n; i++)
    strv_push(&all, ctx->s.agents.v[i].name);
  cleanup_free char *names = strv_join(&all, ", ");
  if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
    return usage_error(self, "name the agents to build (%s), or --all", names);
  fprintf(stderr, "No agent named and ADR_AGENT is not set. Known agents: %s.\n", names);
  cleanup_free char *q = xasprintf("Build images for all %zu?", ctx->s.agents.n);
  if (!ask_yes(q, false)) {
    fprintf(stderr, "nothing built; name the agents to build: adr build AGENT...\n");
    return EXIT_OK;
  }
  for (size_t i = 0; i < ctx->s.agents.n; i++)
    list[(*n)++] = &ctx->s.agents.v[i];
  return -1;
}

static int build_or_update(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args, bool update)
{
  const char *tag = args_get(args, 't');
  bool no_cache = update || args_has(args, 'n'), all = args_has(args, 'a') || args_has(args, 'y');
  bool runner = !update && args_has(args, 'r');
  int argc = args->argc;
  char **argv = args->argv;
  cleanup_err adr_err err = NULL;
  if (tag == NULL)
    tag = adr_config_get(&ctx->s.config, "ADR_TAG");
  else if (adr_config_validate("ADR_TAG", tag, &err) < 0)
    return usage_error(self, "%s", err->msg);
  size_t n = 0;
  const struct adr_agent **list = xcalloc(ctx->s.agents.n + (size_t)argc, sizeof(*list));
  for (int i = 0; i < argc; i++) {
    const struct adr_agent *a = adr_agents_find(&ctx->s.agents, argv[i]);
    if (a == NULL) {
      free(list);
      adr_agents_unknown(&ctx->s.agents, argv[i], &err);
      return report(&err);
    }
    bool dup = false;
    for (size_t k = 0; k < n; k++)
      dup |= list[k] == a;
    if (!dup)
      list[n++] = a;
  }
  if (n == 0) {
    if (update) {
      if (ctx_engine(ctx, &err) < 0) {
        free(list);
        return report(&err);
      }
      for (size_t i = 0; i < ctx->s.agents.n; i++) {
        cleanup_free char *image =
          adr_layout_image(adr_config_get(&ctx->s.config, "ADR_IMAGE_PREFIX"), ctx->s.agents.v[i].name, tag);
        int r = adr_images_present(ctx->s.engine, image, &err);
        if (r < 0) {
          free(list);
          return report(&err);
        }
        if (r == 0)
          list[n++] = &ctx->s.agents.v[i];
      }
      if (n == 0) {
        free(list);
        printf("no agent images with tag '%s' to update; build one with 'adr build AGENT'\n", tag);
        return EXIT_OK;
      }
    } else if (runner && !all) {
      /* the base and the runner image only */
    } else if (!all) {
      int r = pick_default(ctx, self, list, &n);
      if (r >= 0) {
        free(list);
        return r;
      }
    } else {
      for (size_t i = 0; i < ctx->s.agents.n; i++)
        list[n++] = &ctx->s.agents.v[i];
    }
  }
  int failed = build_images(ctx, list, n, tag, no_cache, runner);
  free(list);
  return failed ? EXIT_FAIL : EXIT_OK;
}

static int build_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  return build_or_update(ctx, self, args, false);
}

static int update_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  return build_or_update(ctx, self, args, true);
}

const struct adr_cmd_entry cmd_build_entry = {
  .name = "build",
  .summary = "build agent images",
  .usage = "adr build [AGENT...] [--all] [--tag TAG] [--no-cache] [--runner]",
  .help = build_help,
  .options = build_options,
  /* options anywhere: 'adr build pi --tag X' as much as 'adr build --tag X pi' */
  .shortopts = "ht:ayr",
  .complete = "agents",
  .flags = CMD_CONFIG | CMD_AGENTS,
  .exec = build_exec,
};

const struct adr_cmd_entry cmd_update_entry = {
  .name = "update",
  .summary = "rebuild the agent images that are present, without cache",
  .usage = "adr update [AGENT...] [--tag TAG]",
  .help = update_help,
  .options = update_options,
  .shortopts = "ht:",
  .complete = "agents",
  .flags = CMD_CONFIG | CMD_AGENTS,
  .exec = update_exec,
};
