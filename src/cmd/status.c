/* adr status: every known agent and its image(s), from one engine request. */
#include "cmd.h"
#include "fmt.h"

#include <jansson.h>

const struct option status_options[] = {
  { "json", no_argument, NULL, 'j' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char status_help[] =
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

int cmd_status(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("status");
  bool json = false;
  int c;
  while ((c = next_opt(self, argc, argv, "+hj", NULL)) != -1) {
    switch (c) {
    case 'j': json = true; break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (optind < argc)
    return usage_error(self, "unexpected argument '%s'", argv[optind]);

  cleanup_err adr_err err = NULL;
  if (ctx_config(ctx, &err) < 0 || ctx_agents(ctx, &err) < 0 || ctx_engine(ctx, &err) < 0)
    return report(&err);
  const char *prefix = adr_config_get(&ctx->config, "ADR_IMAGE_PREFIX");
  cleanup_free char *ref = xasprintf("%s/*", prefix);
  struct adr_image *imgs = NULL;
  size_t n = 0;
  if (adr_engine_image_list(ctx->engine, ref, &imgs, &n, &err) < 0) {
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
  for (size_t i = 0; i < ctx->agents.n; i++) {
    const struct adr_agent *a = &ctx->agents.v[i];
    cleanup_free char *repo = xasprintf("%s/%s", prefix, a->name);
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
      json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:I, s:b}", "agent", a->name, "image",
                                           repo, "tag", imgs[k].tag, "size", (json_int_t)imgs[k].size,
                                           "created", (json_int_t)imgs[k].created, "built", 1));
    }
    if (!any) {
      const char *row[] = { a->name, repo, "-", "-", "(not built)" };
      adr_table_add(&t, row);
      json_array_append_new(arr, json_pack("{s:s, s:s, s:n, s:n, s:n, s:b}", "agent", a->name, "image",
                                           repo, "tag", "size", "created", "built", 0));
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
            adr_config_get(&ctx->config, "ADR_AGENT") ? adr_config_get(&ctx->config, "ADR_AGENT") : "AGENT");
  }
  json_decref(arr);
  adr_table_free(&t);
  adr_images_free(imgs, n);
  return EXIT_OK;
}
