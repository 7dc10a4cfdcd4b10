/* adr version: adr's version, and the engine's when one answers. */
#include "adr-config.h"
#include "cmd.h"

static const struct option version_options[] = { { "help", no_argument, NULL, 'h' }, { 0 } };

static int version_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self, (void)args;
  printf("adr %s\n", ADR_VERSION);
  /* The engine is optional for this command: say what we can. */
  cleanup_err adr_err err = NULL;
  if (ctx_engine(ctx, &err) < 0) {
    printf("engine: unavailable (%s)\n", err->msg);
    return EXIT_OK;
  }
  struct adr_about about;
  if (adr_session_about(&ctx->s, &about, &err) < 0)
    printf("engine: %s (version unknown: %s)\n", about.endpoint, err->msg);
  else
    printf("engine: %s %s (API %s) at %s\n", about.kind, about.version, about.api, about.endpoint);
  adr_session_about_free(&about);
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_version_entry = {
  .name = "version",
  .summary = "print adr's version and the engine's",
  .usage = "adr version",
  .help = "",
  .options = version_options,
  .shortopts = "+h",
  .complete = "",
  .flags = CMD_NO_ARGS,
  .exec = version_exec,
};
