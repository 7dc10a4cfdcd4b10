/* adr warm: makes what adr keeps ready for the next runs now, instead of
 * after the next run: the egress pool (ADR_EGRESS_POOL) and, in a git
 * repository, the warm sandboxes of 'adr start' (ADR_WARM). */
#include "cmd.h"
#include "launch.h"

static const char warm_help[] =
  "Makes what adr keeps ready for AGENT (default: ADR_AGENT) now, instead of\n"
  "after the next run:\n"
  "  - the egress pool: the internal networks and egress gateways that\n"
  "    allowlist runs claim instead of making their own (ADR_EGRESS_POOL of\n"
  "    them, default 1);\n"
  "  - in a git repository, with ADR_WARM=N: N idle, hardened sandboxes,\n"
  "    each with its worktree, that the next 'adr start AGENT' there takes\n"
  "    over when it asks for the same sandbox (the options below, the\n"
  "    configuration, the image and the policy; the name, branch, prompt and\n"
  "    agent arguments may differ).  adr start makes them again after each\n"
  "    start, like the last one.\n\n"
  "Options: those of 'adr start' that shape the sandbox (-w, -c, --config-file,\n"
  "--tag, --model, -e, --env-file, -m, --memory, --cpus, --pids, --unsafe,\n"
  "--network, --allow, --allow-preset, --no-relay, --shell), and\n"
  "      --headless           for starts with --prompt (no terminal)\n\n"
  "Examples:\n"
  "  adr warm pi\n"
  "  ADR_WARM=2 adr warm claude --headless\n";

static int warm_sandboxes(struct adr_ctx *ctx, struct adr_launch_opts *o)
{
  cleanup_err adr_err err = NULL;
  cleanup_launch struct adr_launch l;
  adr_launch_init(&l, o, &ctx->s.config, &ctx->s.agents, &cmd_events);
  if (adr_launch_plan(&l, &err) < 0)
    return report(&err);
  l.engine = ctx->s.engine;
  int ready = adr_launch_warm_starts(&l, &err);
  if (ready < 0)
    return report(&err);
  if (ready > 0)
    printf("warm sandboxes: %d ready for 'adr start %s' in %s\n", ready, o->agent, l.scope);
  else
    printf("warm sandboxes: none for this kind of start (a network of its own, or --branch with a '/')\n");
  return EXIT_OK;
}

static int warm_all(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct adr_launch_opts *o)
{
  if (o->name || o->branch || o->no_worktree || o->prompt || o->n_agent_args)
    return usage_error(self, "--name, --branch, --no-worktree, --prompt and agent arguments are the start's to give");
  cleanup_err adr_err err = NULL;
  if (!o->agent)
    o->agent = adr_config_get(&ctx->s.config, "ADR_AGENT");
  if (!o->agent)
    return usage_error(self, "name an agent (or set ADR_AGENT)");
  const struct adr_agent *a = adr_agents_find(&ctx->s.agents, o->agent);
  if (!a) {
    adr_agents_unknown(&ctx->s.agents, o->agent, &err);
    return report(&err);
  }
  int ret = EXIT_OK;
  /* the warm sandboxes first: each takes a unit of the pool */
  if (adr_launch_warm_size(&ctx->s.config, NULL) > 0)
    ret = warm_sandboxes(ctx, o);
  unsigned want = adr_launch_pool_size(&ctx->s.config, NULL);
  /* a unit is a network and gateway the engine keeps; the native engine
   * makes a run's network as it starts, in milliseconds */
  bool networks = adr_engine_can(ctx->s.engine, ADR_ENG_CAP_NETWORKS);
  int ready = want && networks ? adr_launch_warm(ctx->s.engine, &ctx->s.config, a, o->tag, want, &err) : 0;
  if (ready < 0)
    return report(&err);
  if (want && networks)
    printf("egress pool: %d of %u ready\n", ready, want);
  else if (want)
    printf("egress pool: the %s engine makes each run's network as it starts: nothing to make\n",
           ctx->s.engine->ops->name);
  else
    printf("ADR_EGRESS_POOL is 0: nothing to make\n");
  return ret;
}

static int warm_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  struct adr_launch_opts o;
  struct run_args lists = { 0 };
  int ret = run_parse(self, args, true, &o, &lists);
  if (ret == 0) {
    o.cwd = ctx->s.cwd;
    ret = warm_all(ctx, self, &o);
  }
  run_args_free(&lists);
  return ret;
}

const struct adr_cmd_entry cmd_warm_entry = {
  .name = "warm",
  .summary = "make the egress pool and warm sandboxes ready now",
  .usage = "adr warm [AGENT] [--headless] [start options]",
  .help = warm_help,
  .options = start_options,
  .shortopts = "hw:c:e:m:",
  .complete = "agents",
  .flags = CMD_CONFIG | CMD_AGENTS | CMD_ENGINE,
  .exec = warm_exec,
};
