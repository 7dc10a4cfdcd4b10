/* adr status: every known agent and its image(s), from one engine request. */
#include "cmd.h"
#include "fmt.h"
#include "images.h"
#include "layout.h"

#include <jansson.h>

/* clang-format off */
static const struct option status_options[] = {
  { "json", no_argument, NULL, 'j' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char status_help[] =
  "Lists every known agent (built-in and ~/.config/adr/agents/) with its\n"
  "image PREFIX/AGENT:TAG, size and age, or '(not built)'.\n\n"
  "Options:\n"
  "  --json    machine-readable output: a JSON array of objects\n"
  "            {agent, image, tag, size, created, built}\n";

static int cmp_img(const void *a, const void *b)
{
  const struct adr_image *x = a, *y = b;
  int c = strcmp(x->repository, y->repository);
  return c ? c : strcmp(x->tag, y->tag);
}

static int status_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  bool json = args_has(args, 'j');
  cleanup_err adr_err err = NULL;
  const char *prefix = adr_config_get(&ctx->s.config, "ADR_IMAGE_PREFIX");
  struct adr_image *imgs = NULL;
  size_t n = 0;
  if (adr_images_list(ctx->s.engine, prefix, &imgs, &n, &err) < 0) {
    adr_err_prefix(&err, "list images");
    return report(&err);
  }
  qsort(imgs, n, sizeof(*imgs), cmp_img);
  time_t now = time(NULL);
  size_t built = 0;
  json_t *arr = json_array();
  struct adr_table t;
  static const char *const hdr[] = { "AGENT", "IMAGE", "TAG", "SIZE", "CREATED" };
  adr_table_init(&t, 5, hdr);
  for (size_t i = 0; i < ctx->s.agents.n; i++) {
    const struct adr_agent *a = &ctx->s.agents.v[i];
    cleanup_free char *repo = adr_layout_image_repo(prefix, a->name);
    bool any = false;
    for (size_t k = 0; k < n; k++) {
      if (!streq(imgs[k].repository, repo))
        continue;
      any = true;
      built++;
      cleanup_free char *size = adr_fmt_size(imgs[k].size);
      cleanup_free char *age = adr_fmt_age(imgs[k].created, now);
      const char *row[] = { a->name, repo, imgs[k].tag, size, age };
      adr_table_add(&t, row);
      json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "agent", a->name, "image", repo, "tag",
                                           imgs[k].tag, "size", (json_int_t)imgs[k].size, "created",
                                           (json_int_t)imgs[k].created, "built", 1));
    }
    if (!any) {
      const char *row[] = { a->name, repo, "-", "-", "(not built)" };
      adr_table_add(&t, row);
      json_array_append_new(arr, json_pack("{s:s, s:s, s:n, s:n, s:n, s:b}", "agent", a->name, "image", repo, "tag",
                                           "size", "created", "built", 0));
    }
  }
  if (json) {
    char *s = json_dumps(arr, JSON_INDENT(2));
    puts(s);
    free(s);
  } else {
    adr_table_print(&t, stdout);
    if (built == 0)
      hintf("no agent images yet; build one with 'adr build %s'",
            adr_config_get(&ctx->s.config, "ADR_AGENT") ? adr_config_get(&ctx->s.config, "ADR_AGENT") : "AGENT");
  }
  json_decref(arr);
  adr_table_free(&t);
  adr_images_free(imgs, n);
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_status_entry = {
  .name = "status",
  .summary = "show agents and their images",
  .usage = "adr status [--json]",
  .help = status_help,
  .options = status_options,
  .shortopts = "+hj",
  .complete = "",
  .flags = CMD_NO_ARGS | CMD_CONFIG | CMD_AGENTS | CMD_ENGINE,
  .exec = status_exec,
};
