/* adr fix-owner [DIR]: give every file under DIR back to the invoking user.
 * Kept for users of older launchers whose containers wrote root-owned files:
 * a short-lived helper sandbox with only CAP_CHOWN/CAP_FOWNER does the chown,
 * so no sudo is needed. adr's own sandboxes never need it. */
#include "cmd.h"
#include "images.h"
#include "launch.h"
#include "reap.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>

/* clang-format off */
static const struct option fix_owner_options[] = {
  { "image", required_argument, NULL, 'i' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char fix_owner_help[] =
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

static int fix_owner_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  const char *image = args_get(args, 'i');
  if (args->argc > 1)
    return usage_error(self, "unexpected argument '%s'", args->argv[1]);
  const char *arg = args->argc ? args->argv[0] : ".";
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
  adr_reap(ctx->s.engine);
  cleanup_free char *img = NULL;
  if (adr_images_pick_helper(ctx->s.engine, adr_config_get(&ctx->s.config, "ADR_IMAGE_PREFIX"), image, &img, &err) <
      0) {
    adr_err_prefix(&err, "fix-owner");
    return report(&err);
  }
  int code = -1;
  if (adr_launch_chown(ctx->s.engine, img, dir, getuid(), getgid(), STDERR_FILENO, &code, &err) < 0) {
    adr_err_prefix(&err, "fix-owner");
    return report(&err);
  }
  if (code != 0)
    return errorf("fix-owner: chown in the helper sandbox failed (exit %d)", code);
  printf("fixed %zu entr%s in %s: now owned by %u:%u\n", foreign, foreign == 1 ? "y" : "ies", dir, (unsigned)getuid(),
         (unsigned)getgid());
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_fix_owner_entry = {
  .name = "fix-owner",
  .summary = "give files in a directory back to you (compatibility)",
  .usage = "adr fix-owner [DIR]",
  .help = fix_owner_help,
  .options = fix_owner_options,
  .shortopts = "+hi:",
  .complete = "dirs",
  .exec = fix_owner_exec,
};
