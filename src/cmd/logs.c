/* adr logs: what a persistent agent printed, or (--egress) what its
 * egress gateway decided. */
#include "cmd.h"
#include "agent.h"
#include "egress.h"
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

const struct option logs_options[] = {
  { "follow", no_argument, NULL, 'f' },
  { "egress", no_argument, NULL, 'E' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char logs_help[] =
  "Prints the output of the agent NAME (its terminal, for interactive\n"
  "agents).\n\n"
  "Options:\n"
  "  -f, --follow   keep printing as it comes, until the agent stops or Ctrl-C\n"
  "      --egress   the egress gateway's decisions instead, one JSON object a\n"
  "                 line (time, client, method, host, port, sni, verdict, rule,\n"
  "                 bytes each way, duration); NAME may also be the sandbox\n"
  "                 name of a finished 'adr run'\n\n"
  "Examples:\n"
  "  adr logs -f fixer\n"
  "  adr logs --egress fixer | jq -r 'select(.verdict==\"deny\") | .host'\n";

/* Copies the log from *off on; returns 0, or -1 with err. */
static int copy_from(int fd, off_t *off, adr_err *err)
{
  char buf[65536];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), *off);
    if (n < 0)
      return adr_err_sys(err, errno, "read");
    if (n == 0)
      return 0;
    for (ssize_t w = 0; w < n;) {
      ssize_t k = write(STDOUT_FILENO, buf + w, (size_t)(n - w));
      if (k < 0)
        return adr_err_sys(err, errno, "write");
      w += k;
    }
    *off += n;
  }
}

static int egress_logs(struct adr_ctx *ctx, const char *name, bool follow)
{
  cleanup_err adr_err err = NULL;
  cleanup_free char *sandbox = NULL;
  struct pagent a;
  int r = pagent_find(ctx, name, &a, &err);
  if (r == 0) {
    sandbox = xstrdup(a.c.name[0] == '/' ? a.c.name + 1 : a.c.name);
    pagent_free(&a);
  } else if (adr_agent_name_valid(name) && name[0] != '.') { /* an 'adr run' sandbox */
    adr_err_free(&err);
    sandbox = xstrdup(name);
  } else {
    return report(&err);
  }
  cleanup_free char *state = adr_state_dir();
  cleanup_free char *dir = xasprintf("%s/egress/%s", state, sandbox);
  cleanup_free char *path = adr_egress_log_path(dir);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return errorf("no egress log for '%s' (only allowlist sandboxes have one)", name);
    return errorf("egress log of '%s': %s", name, strerror(errno));
  }
  off_t off = 0;
  if (copy_from(fd, &off, &err) < 0)
    return report(&err);
  if (!follow)
    return EXIT_OK;
  /* until the sandbox stops (not its gateway: the engine restarts a gateway
   * that crashed, and its lines go on) */
  for (unsigned i = 1;; i++) {
    struct timespec d = { 0, 200 * 1000 * 1000 };
    nanosleep(&d, NULL);
    if (copy_from(fd, &off, &err) < 0)
      return report(&err);
    if (i % 5 == 0) {
      if (ctx_engine(ctx, &err) < 0)
        return report(&err);
      struct adr_container c = { 0 };
      int ir = adr_engine_container_inspect(ctx->engine, sandbox, &c, &err);
      bool gone = ir != 0 || !streq(c.state, "running");
      adr_container_free(&c);
      if (gone) {
        adr_err_free(&err);
        return copy_from(fd, &off, &err) < 0 ? report(&err) : EXIT_OK;
      }
    }
  }
}

int cmd_logs(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("logs");
  bool follow = false, egress = false;
  int c;
  while ((c = next_opt(self, argc, argv, "hf", NULL)) != -1) {
    switch (c) {
    case 'f': follow = true; break;
    case 'E': egress = true; break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  int bad = one_agent_arg(self, argc, argv);
  if (bad)
    return bad;
  if (egress)
    return egress_logs(ctx, argv[optind], follow);
  struct pagent a;
  if ((bad = one_agent(ctx, self, argc, argv, &a)) != 0)
    return bad;
  cleanup_err adr_err err = NULL;
  int r = adr_engine_container_logs(ctx->engine, a.c.id, follow, STDOUT_FILENO, STDERR_FILENO, &err);
  pagent_free(&a);
  if (r < 0) {
    adr_err_prefix(&err, "logs of '%s'", argv[optind]);
    return report(&err);
  }
  return EXIT_OK;
}
