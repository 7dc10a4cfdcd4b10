/* adr image: the native engine's image store (import, ls). */
#include "cmd.h"
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* clang-format off */
static const struct option image_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char image_help[] =
  "The native engine's images (ADR_ENGINE=native: sandboxes without a\n"
  "daemon).  It imports an image a Docker or Podman engine has by itself\n"
  "the first time a sandbox needs it; without one, import an archive that\n"
  "`docker save` (or `podman save`, or any OCI image layout in a tar) made\n"
  "on another machine.  The native engine builds no image: adr build needs\n"
  "a Docker or Podman engine.\n"
  "\n"
  "  import FILE...  import each archive (- : standard input); gzip or zstd\n"
  "                  layers are fine, layers already stored are not\n"
  "                  unpacked again\n"
  "  pull REF...     pull each image from its registry: HOST[:PORT]/NAME[:TAG]\n"
  "                  or @sha256:DIGEST (HTTPS; HTTP for loopback hosts and\n"
  "                  those ADR_INSECURE_REGISTRIES lists; anonymous tokens)\n"
  "  ls              the images in the store\n"
  "\n"
  "The store is $ADR_NATIVE_ROOT, else ~/.local/share/adr/native.\n"
  "\n"
  "Examples:\n"
  "  docker save coding-agent/claude:latest | ssh box adr image import -\n"
  "  adr image import agent.tar && ADR_ENGINE=native adr run claude\n"
  "  adr image pull registry.example.internal:5000/coding-agent/pi:latest\n";

static int open_native(struct adr_engine **e, adr_err *err)
{
  cleanup_free char *root = adr_native_root();
  return adr_engine_open_as(e, "native", root, err);
}

static int image_import(struct adr_engine *e, int argc, char **argv)
{
  for (int i = 0; i < argc; i++) {
    bool std = streq(argv[i], "-");
    int fd = std ? 0 : open(argv[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return errorf("import '%s': %s", argv[i], strerror(errno));
    cleanup_err adr_err err = NULL;
    cleanup_strv struct strv tags = { 0 };
    int r = adr_native_import(e, fd, &tags, &err);
    if (!std)
      close(fd);
    if (r < 0) {
      adr_err_prefix(&err, "import '%s'", argv[i]);
      return report(&err);
    }
    for (size_t k = 0; k < tags.n; k++)
      printf("imported %s\n", tags.v[k]);
  }
  return EXIT_OK;
}

static int image_pull(struct adr_engine *e, int argc, char **argv)
{
  for (int i = 0; i < argc; i++) {
    cleanup_err adr_err err = NULL;
    cleanup_strv struct strv ids = { 0 };
    if (adr_native_pull(e, argv[i], &ids, &err) < 0)
      return report(&err);
    for (size_t k = 0; k < ids.n; k++)
      printf("pulled %s %s\n", argv[i], ids.v[k]);
  }
  return EXIT_OK;
}

static int image_ls(struct adr_engine *e)
{
  cleanup_err adr_err err = NULL;
  struct adr_image *v = NULL;
  size_t n = 0;
  if (adr_engine_image_list(e, NULL, &v, &n, &err) < 0)
    return report(&err);
  printf("%-40s %-12s %s\n", "REPOSITORY", "TAG", "IMAGE ID");
  for (size_t i = 0; i < n; i++) {
    const char *id = v[i].id && str_has_prefix(v[i].id, "sha256:") ? v[i].id + 7 : v[i].id ? v[i].id : "";
    printf("%-40s %-12s %.12s\n", v[i].repository ? v[i].repository : "<none>", v[i].tag ? v[i].tag : "<none>", id);
  }
  adr_images_free(v, n);
  return EXIT_OK;
}

static int image_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)ctx;
  if (args->argc < 1)
    return usage_error(self, "what to do: import, pull or ls");
  const char *verb = args->argv[0];
  if (streq(verb, "import") && args->argc < 2)
    return usage_error(self, "import: which archive (a file, or - for standard input)");
  if (streq(verb, "pull") && args->argc < 2)
    return usage_error(self, "pull: which image (HOST[:PORT]/NAME[:TAG])");
  if (streq(verb, "ls") && args->argc > 1)
    return usage_error(self, "unexpected argument '%s'", args->argv[1]);
  if (!streq(verb, "import") && !streq(verb, "ls") && !streq(verb, "pull"))
    return usage_error(self, "unknown subcommand '%s' (import, pull, ls)", verb);
  cleanup_err adr_err err = NULL;
  cleanup_engine struct adr_engine *e = NULL;
  if (open_native(&e, &err) < 0)
    return report(&err);
  if (streq(verb, "pull"))
    return image_pull(e, args->argc - 1, args->argv + 1);
  return streq(verb, "ls") ? image_ls(e) : image_import(e, args->argc - 1, args->argv + 1);
}

const struct adr_cmd_entry cmd_image_entry = {
  .name = "image",
  .summary = "the native engine's images: import an archive, pull, list them",
  .usage = "adr image import FILE...\n       adr image pull REF...\n       adr image ls",
  .help = image_help,
  .options = image_options,
  .shortopts = "+h",
  .complete = "",
  .exec = image_exec,
};
