/* adr scan: an image's layers searched for keys, as adr build does before
 * it names an image. */
#include "cmd.h"
#include "scan.h"

#include <string.h>

/* clang-format off */
static const struct option scan_options[] = {
  { "base", required_argument, NULL, 'b' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char scan_help[] =
  "Searches the layers of IMAGE for private keys and API keys (PEM and\n"
  "OpenSSH private keys, AWS, GitHub, npm, Slack, Anthropic and OpenAI keys),\n"
  "as adr does before it names an image it built: every image adr builds\n"
  "is scanned, and is not tagged when it holds one.  Prints each finding\n"
  "as PATH: WHAT; exits 1 when there is one.  Paths in ADR_SCAN_ALLOW are\n"
  "let through.\n\n"
  "  -b, --base IMAGE   only the layers above this one (IMAGE's base)\n\n"
  "Examples:\n"
  "  adr scan coding-agent/claude:latest\n"
  "  adr scan --base debian:bookworm-slim app-dev:1\n";

static int scan_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  if (a->argc < 1)
    return usage_error(self, "which image?");
  const char *base = args_get(a, 'b');
  cleanup_strv struct strv allow = { 0 };
  adr_config_get_list(&ctx->s.config, "ADR_SCAN_ALLOW", &allow);
  int ret = 0;
  for (int i = 0; i < a->argc; i++) {
    struct adr_scan_result res;
    cleanup_err adr_err err = NULL;
    if (adr_image_scan(ctx->s.engine, a->argv[i], base, &allow, &res, &err) < 0) {
      adr_err_prefix(&err, "scan '%s'", a->argv[i]);
      return report(&err);
    }
    for (size_t j = 0; j < res.n; j++)
      printf("%s: %s: %s\n", a->argv[i], res.v[j].path, res.v[j].what);
    fprintf(stderr, "%s: %zu layer%s, %zu files scanned%s; %zu finding%s\n", a->argv[i], res.layers,
            res.layers == 1 ? "" : "s", res.files, res.skipped ? " (larger ones skipped)" : "", res.n,
            res.n == 1 ? "" : "s");
    if (res.n)
      ret = 1;
    adr_scan_result_free(&res);
  }
  return ret;
}

const struct adr_cmd_entry cmd_scan_entry = {
  .name = "scan",
  .summary = "search an image's layers for keys, as adr build does",
  .usage = "adr scan [--base IMAGE] IMAGE...",
  .help = scan_help,
  .options = scan_options,
  .shortopts = "hb:",
  .flags = CMD_ENGINE | CMD_CONFIG,
  .exec = scan_exec,
};
