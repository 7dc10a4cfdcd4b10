/* adr fix-owner [DIR]: give every file under DIR back to the invoking user.
 * Kept for users of older launchers whose containers wrote root-owned files:
 * a short-lived helper sandbox with only CAP_CHOWN/CAP_FOWNER does the chown,
 * so no sudo is needed. adr's own sandboxes never need it. */
#include "cmd.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>

const struct option fix_owner_options[] = {
  { "image", required_argument, NULL, 'i' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char fix_owner_help[] =
  "Changes the owner of DIR (default: the current directory) and everything\n"
  "below it to your uid:gid, using a short-lived sandbox with no network,\n"
  "a read-only root and only the chown capabilities.  Symbolic links are\n"
  "not followed.\n\n"
  "Options:\n"
  "  --image IMAGE   image for the helper sandbox (default: the adr base\n"
  "                  image, else the first agent image present)\n";

static uid_t want_uid;
static size_t foreign;

static int count_foreign(const char *path, const struct stat *st, int type, struct FTW *f)
{
  (void)path, (void)type, (void)f;
  if (st->st_uid != want_uid)
    foreign++;
  return 0;
}

static int pick_image(struct adr_ctx *ctx, const char *wanted, char **out, adr_err *err)
{
  if (wanted) {
    int r = adr_engine_image_inspect(ctx->engine, wanted, NULL, err);
    if (r < 0)
      return -1;
    if (r == 1)
      return adr_err_set(err, ENOENT, "image '%s' not found", wanted);
    *out = xstrdup(wanted);
    return 0;
  }
  const char *cands[] = { "adr/base:latest", "debian:bookworm-slim" };
  for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
    int r = adr_engine_image_inspect(ctx->engine, cands[i], NULL, err);
    if (r < 0)
      return -1;
    if (r == 0) {
      *out = xstrdup(cands[i]);
      return 0;
    }
  }
  struct adr_image *v = NULL;
  size_t n = 0;
  cleanup_free char *ref = xasprintf("%s/*", adr_config_get(&ctx->config, "ADR_IMAGE_PREFIX"));
  if (adr_engine_image_list(ctx->engine, ref, &v, &n, err) < 0)
    return -1;
  if (n > 0)
    *out = xasprintf("%s:%s", v[0].repository, v[0].tag);
  adr_images_free(v, n);
  if (n == 0)
    return adr_err_set(err, ENOENT, "no image to run the helper in; build one with 'adr build' or pass --image");
  return 0;
}

int cmd_fix_owner(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("fix-owner");
  const char *image = NULL;
  int c;
  while ((c = next_opt(self, argc, argv, "+hi:", NULL)) != -1) {
    switch (c) {
    case 'i': image = optarg; break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (argc - optind > 1)
    return usage_error(self, "unexpected argument '%s'", argv[optind + 1]);
  const char *arg = optind < argc ? argv[optind] : ".";
  cleanup_free char *dir = realpath(arg, NULL);
  struct stat st;
  if (dir == NULL || stat(dir, &st) < 0)
    return errorf("fix-owner: '%s': %s", arg, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return errorf("fix-owner: '%s': not a directory", arg);
  want_uid = getuid();
  foreign = 0;
  nftw(dir, count_foreign, 64, FTW_PHYS);
  if (foreign == 0) {
    printf("nothing to fix: everything in %s belongs to uid %u\n", dir, (unsigned)want_uid);
    return EXIT_OK;
  }
  cleanup_err adr_err err = NULL;
  if (ctx_config(ctx, &err) < 0 || ctx_engine(ctx, &err) < 0)
    return report(&err);
  ctx_reap(ctx);
  cleanup_free char *img = NULL;
  if (pick_image(ctx, image, &img, &err) < 0) {
    adr_err_prefix(&err, "fix-owner");
    return report(&err);
  }
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup(img);
  s.user = xstrdup("0:0");
  s.net.kind = ADR_SPEC_NET_NONE;
  s.init = false;
  s.pids = 64;
  s.memory = 256 << 20;
  strv_push(&s.cap_add, "CHOWN");
  strv_push(&s.cap_add, "FOWNER");
  strv_push(&s.cap_add, "DAC_READ_SEARCH");
  strv_push(&s.cmd, "chown");
  strv_push(&s.cmd, "-R");
  strv_push(&s.cmd, "--no-dereference");
  strv_pushf(&s.cmd, "%u:%u", (unsigned)getuid(), (unsigned)getgid());
  strv_push(&s.cmd, "/workspace");
  adr_spec_add_bind(&s, dir, "/workspace", false);
  ctx_owner_labels(&s.labels);
  adr_spec_set_label(&s, ADR_LABEL_KIND, "fix-owner");
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(ctx->engine, &s, &id, &err) < 0) {
    adr_err_prefix(&err, "fix-owner: create sandbox");
    return report(&err);
  }
  int code = -1;
  int r = adr_engine_container_start(ctx->engine, id, &err);
  if (r == 0)
    r = adr_engine_container_wait(ctx->engine, id, &code, &err);
  if (r == 0 && code != 0)
    adr_engine_container_logs(ctx->engine, id, false, STDERR_FILENO, STDERR_FILENO, NULL);
  cleanup_err adr_err rmerr = NULL;
  adr_engine_container_remove(ctx->engine, id, true, &rmerr);
  if (r < 0) {
    adr_err_prefix(&err, "fix-owner");
    return report(&err);
  }
  if (code != 0)
    return errorf("fix-owner: chown in the helper sandbox failed (exit %d)", code);
  printf("fixed %zu entr%s in %s: now owned by %u:%u\n", foreign, foreign == 1 ? "y" : "ies", dir,
         (unsigned)getuid(), (unsigned)getgid());
  return EXIT_OK;
}
