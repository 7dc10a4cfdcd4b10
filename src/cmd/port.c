/* adr port: a persistent agent's ports on the host's loopback until
 * interrupted (forward.h: an exec per connection, nothing published). */
#include "cmd.h"
#include "forward.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <unistd.h>

/* clang-format off */
static const struct option port_options[] = {
  { "help", no_argument, NULL, 'h' },
  { 0 },
};
/* clang-format on */

static const char port_help[] =
  "Forwards ports of the running agent NAME to 127.0.0.1 on this host until\n"
  "interrupted (Ctrl-C) or the agent stops.  PORT is a port in the sandbox,\n"
  "HOST:PORT one the sandbox reaches (a compose service); without any, the\n"
  "forwardPorts of the agent's devcontainer.json.  The host port is the same\n"
  "number, or another when that one is taken here (said).  Nothing is\n"
  "published and nothing listens in the sandbox's network: each connection\n"
  "is an exec in the sandbox, so it works in every network mode.\n\n"
  "Examples:\n"
  "  adr port web 3000\n"
  "  adr port web 3000 db:5432\n"
  "  adr port web            # its devcontainer.json's forwardPorts\n";

static int port_exec(struct adr_ctx *ctx, const struct adr_cmd_entry *self, struct cmd_args *a)
{
  if (a->argc < 1)
    return usage_error(self, "which agent? (see 'adr ls')");
  const char *name = a->argv[0];
  cleanup_strv struct strv ports = { 0 };
  for (int i = 1; i < a->argc; i++) {
    cleanup_free char *host = NULL;
    unsigned p;
    cleanup_err adr_err err = NULL;
    if (adr_forward_parse(a->argv[i], &host, &p, &err) < 0)
      return usage_error(self, "%s", err->msg);
    strv_push(&ports, a->argv[i]);
  }
  cleanup_pagent struct adr_pagent ag = { 0 };
  int bad = find_agent(ctx, name, &ag);
  if (bad)
    return bad;
  if (!ports.n) {
    const char *lab = adr_labels_get(&ag.c.labels, ADR_LABEL_PORTS);
    cleanup_free char *copy = xstrdup(lab ? lab : "");
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      strv_push(&ports, t);
    if (!ports.n)
      return usage_error(self, "'%s' has no forwardPorts: name the ports (adr port %s PORT...)", name, name);
  }
  if (!adr_pagent_running(&ag))
    return errorf("'%s' is not running (%s)", name, ag.c.state);
  /* Ctrl-C and the like end it: taken as events, not as handlers */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
  if (sfd < 0)
    return errorf("signalfd: %s", strerror(errno));
  cleanup_strv struct strv said = { 0 };
  struct adr_forward *f = NULL;
  cleanup_err adr_err err = NULL;
  if (adr_forward_start(ctx->s.engine, ag.c.id, &ports, &said, &f, &err) < 0) {
    close(sfd);
    adr_err_prefix(&err, "forward ports of '%s'", name);
    return report(&err);
  }
  for (size_t i = 0; i < said.n; i++)
    printf("forwarding %s\n", said.v[i]);
  printf("(Ctrl-C to stop)\n");
  fflush(stdout);
  /* until a signal, or the agent stops (looked at every 2 s) */
  int ret = 0;
  for (;;) {
    struct pollfd p = { .fd = sfd, .events = POLLIN };
    int r = poll(&p, 1, 2000);
    if (r > 0)
      break;
    cleanup_err adr_err e2 = NULL;
    int running = adr_sandbox_running(ctx->s.engine, ag.c.id, &e2);
    if (running <= 0) {
      ret = errorf("'%s' stopped: no more forwarding", name);
      break;
    }
  }
  adr_forward_stop(f);
  close(sfd);
  return ret;
}

const struct adr_cmd_entry cmd_port_entry = {
  .name = "port",
  .summary = "forward a persistent agent's ports to 127.0.0.1",
  .usage = "adr port NAME [PORT|HOST:PORT...]",
  .help = port_help,
  .options = port_options,
  .shortopts = "h",
  .complete = "names",
  .flags = CMD_ENGINE,
  .exec = port_exec,
};
