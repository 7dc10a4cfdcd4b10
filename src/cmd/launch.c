/* The command side of a launch (adr run, adr start, adr team's members):
 * the default agent, the question before building a missing image, the
 * terminal and the signals of a run, and what is printed.  The lifecycle
 * itself is core's (core/launch.h). */
#include "cmd.h"
#include "images.h"
#include "launch.h"
#include "term.h"

#include <signal.h>
#include <unistd.h>

/* None named, none configured: the only one built, said in one line. */
static int default_agent(struct adr_ctx *ctx, struct adr_launch_opts *o, char **picked, adr_err *err)
{
  if (!o->agent)
    o->agent = adr_config_get(&ctx->s.config, "ADR_AGENT");
  if (o->agent)
    return 0;
  if (ctx_engine(ctx, err) < 0 ||
      adr_images_pick_agent(ctx->s.engine, &ctx->s.agents, &ctx->s.config, o->tag, picked, err) < 0)
    return -1;
  fprintf(stderr, "adr: no agent named; using '%s', the only one built (name one, or set ADR_AGENT)\n", *picked);
  o->agent = *picked;
  return 0;
}

/* 0 the image is there (now), else the exit status. */
static int image(struct adr_ctx *ctx, struct adr_launch *l, bool yes, adr_err *err)
{
  int have = adr_launch_image(l, err);
  if (have < 0)
    return report(err);
  if (have == 0)
    return 0;
  cleanup_free char *q = xasprintf("Image %s is not built. Build it now?", l->image);
  if (!yes && !(isatty(STDIN_FILENO) && ask_yes(q, true)))
    return report(err);
  adr_err_free(err);
  const struct adr_agent *one[] = { l->agent };
  const char *tag = l->o->tag ? l->o->tag : adr_config_get(&ctx->s.config, "ADR_TAG");
  if (build_images(ctx, one, 1, tag, false, false) != 0)
    return EXIT_FAIL;
  have = adr_launch_image(l, err); /* its ID, and a project image's layer */
  return have == 0 ? 0 : report(err);
}

static void resize(struct adr_launch *l, struct term *t)
{
  unsigned rows, cols;
  if (term_size(t, &rows, &cols))
    adr_launch_resize(l, rows, cols);
}

static int on_wake(struct adr_launch *l, void *ud)
{
  unsigned char sigs[64];
  size_t n = term_signals(ud, sigs, sizeof(sigs));
  for (size_t i = 0; i < n; i++) {
    if (sigs[i] == SIGWINCH)
      resize(l, ud);
    else /* SIGINT, SIGTERM, SIGHUP, SIGQUIT */
      adr_launch_interrupt(l, sigs[i]);
  }
  return 0;
}

static void on_started(struct adr_launch *l, void *ud)
{
  term_raw(ud);
  resize(l, ud);
}

static void on_ended(struct adr_launch *l, void *ud)
{
  (void)l;
  term_restore(ud);
}

/* A transient run, attached: the sandbox's exit status becomes ours. */
static int run(struct adr_launch *l, struct term *t, adr_err *err, bool *ended)
{
  static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGQUIT };
  if (term_catch(t, sigs, ARRAY_SIZE(sigs), err) < 0)
    return report(err);
  t->tty = l->ro.tty;
  struct adr_launch_io io = {
    .in_fd = l->headless ? -1 : STDIN_FILENO,
    .out_fd = STDOUT_FILENO,
    .err_fd = STDERR_FILENO,
    .wake_fd = term_wake_fd(t),
    .on_wake = on_wake,
    .on_started = on_started,
    .on_ended = on_ended,
    .ud = t,
  };
  if (adr_launch_run(l, &io, err) < 0)
    return report(err);
  *ended = true;
  if (l->timed_out)
    fprintf(stderr, "Error: Task terminated due to timeout (max %s exceeded)\n", l->timeout_text);
  return adr_launch_status(l);
}

/* A persistent agent, started and left running. */
static int detach(struct adr_launch *l, adr_err *err)
{
  if (adr_launch_detach(l, err) < 0)
    return report(err);
  if (l->o->team) /* adr team says it all at once */
    return EXIT_OK;
  printf("started '%s' (%s%s%s)\n", l->pname, l->agent->name, l->made_wt ? ", branch " : "",
         l->made_wt ? l->wt.branch : "");
  if (l->headless)
    hintf("follow it with 'adr logs -f %s'", l->pname);
  else
    hintf("'adr attach %s' to talk to it (detach with Ctrl-P Ctrl-Q)", l->pname);
  return EXIT_OK;
}

int cmd_launch(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct adr_launch_opts *o, bool yes)
{
  cleanup_err adr_err err = NULL;
  cleanup_free char *picked = NULL;
  if (ctx_config(ctx, &err) < 0 || ctx_agents(ctx, &err) < 0 || default_agent(ctx, o, &picked, &err) < 0)
    return report(&err);
  cleanup_launch struct adr_launch l;
  adr_launch_init(&l, o, &ctx->s.config, &ctx->s.agents, &cmd_launch_events);
  if (adr_launch_plan(&l, &err) < 0) {
    if (err->status == ADR_LAUNCH_USAGE) {
      int r = usage_error(self, "%s", err->msg);
      adr_err_free(&err);
      return r;
    }
    return report(&err);
  }
  struct term t;
  term_init(&t);
  int ret;
  bool ended = false;
  if (ctx_engine(ctx, &err) < 0) {
    ret = report(&err);
  } else {
    l.engine = ctx->s.engine;
    ret = image(ctx, &l, yes, &err);
    if (ret == 0 && (adr_launch_prepare(&l, &err) < 0 || adr_launch_create(&l, &err) < 0))
      ret = report(&err);
    else if (ret == 0 && o->persistent)
      ret = detach(&l, &err);
    else if (ret == 0)
      ret = run(&l, &t, &err, &ended);
  }
  if (ended || l.started) /* the status is known (or the agent runs): the rest goes on after adr returns */
    adr_launch_teardown_detach(&l);
  else
    adr_launch_teardown(&l);
  term_close(&t); /* after the teardown: a signal meanwhile must not stop it half way */
  return ret;
}
