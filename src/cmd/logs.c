/* adr logs: what a persistent agent printed, or (--egress) what its
 * egress gateway decided. */
#include "cmd.h"
#include "agent.h"
#include "egress.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

/* clang-format off */
static const struct option logs_options[] = {
  { "follow", no_argument, NULL, 'f' },
  { "egress", no_argument, NULL, 'E' },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char logs_help[] =
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
  cleanup_pagent struct adr_pagent a = { 0 };
  int r = adr_pagent_find(&ctx->s, name, &a, &err);
  if (r == 0) {
    sandbox = xstrdup(adr_pagent_sandbox(&a));
  } else if (adr_agent_name_valid(name) && name[0] != '.') { /* an 'adr run' sandbox */
    adr_err_free(&err);
    sandbox = xstrdup(name);
  } else {
    return report(&err);
  }
  cleanup_free char *dir = adr_layout_state_path(ADR_STATE_EGRESS, sandbox);
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
      if (adr_sandbox_running(ctx->s.engine, sandbox, &err) != 1) {
        adr_err_free(&err);
        return copy_from(fd, &off, &err) < 0 ? report(&err) : EXIT_OK;
      }
    }
  }
}

static int logs_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *args)
{
  (void)self;
  const char *name = args->argv[0];
  bool follow = args_has(args, 'f');
  if (args_has(args, 'E'))
    return egress_logs(ctx, name, follow);
  cleanup_pagent struct adr_pagent a = { 0 };
  int bad = find_agent(ctx, name, &a);
  if (bad)
    return bad;
  cleanup_err adr_err err = NULL;
  if (adr_pagent_logs(ctx->s.engine, &a, follow, STDOUT_FILENO, STDERR_FILENO, &err) < 0) {
    adr_err_prefix(&err, "logs of '%s'", name);
    return report(&err);
  }
  return EXIT_OK;
}

const struct adr_cmd_entry cmd_logs_entry = {
  .name = "logs",
  .summary = "show a persistent agent's output",
  .usage = "adr logs [-f] NAME",
  .help = logs_help,
  .options = logs_options,
  .shortopts = "hf",
  .complete = "names",
  .flags = CMD_ONE_AGENT,
  .exec = logs_exec,
};
