#include "adr-config.h"
#include "cmd.h"

int cmd_version(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("version");
  int c;
  while ((c = next_opt(self, argc, argv, "+h", NULL)) != -1) {
    if (c == 'h') {
      print_cmd_help(self, stdout);
      return EXIT_OK;
    }
    return EXIT_USAGE;
  }
  if (optind < argc)
    return usage_error(self, "unexpected argument '%s'", argv[optind]);
  printf("adr %s\n", ADR_VERSION);
  /* The engine is optional for this command: say what we can. */
  cleanup_err adr_err err = NULL;
  if (ctx_engine(ctx, &err) < 0) {
    printf("engine: unavailable (%s)\n", err->msg);
    return EXIT_OK;
  }
  cleanup_free char *ver = NULL, *api = NULL;
  if (adr_engine_version(ctx->engine, &ver, &api, &err) < 0) {
    printf("engine: %s (version unknown: %s)\n", ctx->engine->endpoint, err->msg);
    return EXIT_OK;
  }
  printf("engine: %s %s (API %s) at %s\n", ctx->engine->ops->name, ver, api, ctx->engine->endpoint);
  return EXIT_OK;
}
