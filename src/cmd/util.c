/* Shared by the commands: reporting, core's events, the session. */
#include "cmd.h"
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int report(adr_err *err)
{
  int status = EXIT_FAIL;
  if (err && *err) {
    fprintf(stderr, "adr: %s\n", (*err)->msg);
    if ((*err)->status > 0)
      status = (*err)->status;
    adr_err_free(err);
  }
  return status;
}

__attribute__((format(printf, 2, 0))) static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
  fputs(prefix, stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void warnf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("adr: warning: ", fmt, ap);
  va_end(ap);
}

void hintf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("hint: ", fmt, ap);
  va_end(ap);
}

int errorf(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vmsg("adr: ", fmt, ap);
  va_end(ap);
  return EXIT_FAIL;
}

int usage_error(const struct adr_cmd_entry *cmd, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "adr %s: ", cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  fprintf(stderr, "usage: %s\n", cmd->usage);
  return EXIT_USAGE;
}

void print_cmd_help(const struct adr_cmd_entry *cmd, FILE *out)
{
  fprintf(out, "usage: %s\n\n%s%s\n", cmd->usage, cmd->summary, "");
  if (cmd->help && *cmd->help)
    fprintf(out, "\n%s", cmd->help);
}

void print_event(const struct adr_event *ev, void *ud)
{
  (void)ud;
  switch (ev->kind) {
  case ADR_EVENT_INFO: printf("%s\n", ev->text); break;
  case ADR_EVENT_WARNING: warnf("%s", ev->text); break;
  case ADR_EVENT_HINT: hintf("%s", ev->text); break;
  }
}

const struct adr_events cmd_events = { print_event, NULL };

/* A launch's: stdout is the agent's, so what adr says goes to stderr. */
static void print_launch_event(const struct adr_event *ev, void *ud)
{
  if (ev->kind == ADR_EVENT_INFO) {
    fflush(stdout);
    fprintf(stderr, "adr: %s\n", ev->text);
    return;
  }
  print_event(ev, ud);
}

const struct adr_events cmd_launch_events = { print_launch_event, NULL };

int ctx_config(struct adr_ctx *ctx, adr_err *err)
{
  if (ctx->s.config_loaded)
    return 0;
  int r = adr_session_config(&ctx->s, err);
  for (size_t i = 0; r == 0 && i < ctx->s.config.warnings.n; i++)
    warnf("%s", ctx->s.config.warnings.v[i]);
  return r;
}

int ctx_agents(struct adr_ctx *ctx, adr_err *err)
{
  if (ctx->s.agents_loaded)
    return 0;
  int r = adr_session_agents(&ctx->s, err);
  for (size_t i = 0; r == 0 && i < ctx->s.agents.warnings.n; i++)
    warnf("%s", ctx->s.agents.warnings.v[i]);
  return r;
}

int ctx_engine(struct adr_ctx *ctx, adr_err *err)
{
  bool had = ctx->s.engine != NULL;
  int r = adr_session_engine(&ctx->s, err);
  if (r == 0 && !had && adr_engine_auto_native())
    hintf(
      "no Docker or Podman engine answers: adr runs its native engine (ADR_ENGINE=native chooses it "
      "without this line, ADR_ENGINE=docker requires Docker)");
  return r;
}

bool ask_yes(const char *question, bool default_yes)
{
  if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
    return false;
  fprintf(stderr, "%s %s ", question, default_yes ? "[Y/n]" : "[y/N]");
  fflush(stderr);
  char line[64];
  if (fgets(line, sizeof(line), stdin) == NULL)
    return false;
  if (line[0] == '\n')
    return default_yes;
  return line[0] == 'y' || line[0] == 'Y';
}

int find_agent(struct adr_ctx *ctx, const char *name, struct adr_pagent *a)
{
  cleanup_err adr_err err = NULL;
  if (adr_pagent_find(&ctx->s, name, a, &err) != 0)
    return report(&err);
  return 0;
}

int cmd_coord_target(struct adr_ctx *ctx, const char *url_flag, const char *token_file, struct cmd_coord *t)
{
  memset(t, 0, sizeof(*t));
  const char *env = getenv("ADR_COORDINATOR"), *tok = getenv("ADR_TOKEN");
  t->url = url_flag ? url_flag : env && *env ? env : adr_config_get(&ctx->s.config, "ADR_COORDINATOR");
  if (token_file) {
    struct buf b;
    buf_init(&b, 4096);
    if (buf_read_file(&b, token_file) < 0 || !b.data) {
      buf_free(&b);
      return errorf("token file '%s': %s", token_file, strerror(errno ? errno : EINVAL));
    }
    b.data[strcspn(b.data, "\r\n")] = '\0';
    t->token = b.data;
  } else if (tok && *tok) {
    t->token = xstrdup(tok);
  }
  return 0;
}

void cmd_coord_free(struct cmd_coord *t)
{
  if (t->token) {
    explicit_bzero(t->token, strlen(t->token));
    free(t->token);
  }
  t->token = NULL;
}
