/* adr-gateway: start-up and teardown.  The gateway proper is an epoll loop
 * (loop.c; gwd.h lists its pieces); --hold is open mode's namespace holder
 * (hold.c); the credential relay (relay.c) runs beside either. */
#include "gwd.h"
#include "relay.h"
#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void raise_nofile(unsigned want)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return;
  rlim_t w = want;
  if (rl.rlim_cur >= w)
    return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > w ? w : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

int gwd_block_signals(sigset_t *set)
{
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  return sigprocmask(SIG_BLOCK, set, NULL);
}

int gwd_relay_init(const struct opts *o, struct in_addr bind, adr_err *err)
{
  cleanup_free char *csv = NULL;
  if (gwd_resolvers_csv(&o->resolvers, &csv, err) < 0)
    return -1;
  struct gw_relay_conf rc = { .routes = o->relay,
                              .ca = o->ca,
                              .bind = bind,
                              .port = o->relay_port,
                              .sandbox = o->sandbox,
                              .resolvers = csv,
                              .log = gwd_write_log };
  if (gw_relay_init(&rc, err) < 0)
    return -1;
  gwd.relay_port = o->relay_port;
  return 0;
}

/* SIGTERM and SIGINT through a signalfd in the loop. */
static struct watch sigw = { .t = W_SIGNAL, .fd = -1 };

/* Everything but the loop: the policy, the log, epoll, c-ares, the
 * listeners, the relay, signals; then privileges go. */
static int setup(const struct opts *o, adr_err *err)
{
  if (inet_pton(AF_INET, o->bind, &gwd.bind) != 1)
    return adr_err_set(err, EINVAL, GW_OPT_BIND ": not an IPv4 address: '%s'", o->bind);
  gwd.answer = gwd.bind;
  if (o->answer && inet_pton(AF_INET, o->answer, &gwd.answer) != 1)
    return adr_err_set(err, EINVAL, GW_OPT_ANSWER ": not an IPv4 address: '%s'", o->answer);
  gwd.sandbox = o->sandbox;
  gwd.dns_port = o->dns_port;
  gwd.proxy_port = o->proxy_port;
  gwd.max_conns = o->max_conns;
  raise_nofile(6 * o->max_conns + 256); /* client, upstream, two pipes */

  if (gw_policy_load(&gwd.policy, o->policy, err) < 0 || gwd_log_open(o->log, o->log_max, err) < 0)
    return -1;
  gwd.ep = epoll_create1(EPOLL_CLOEXEC);
  if (gwd.ep < 0)
    return adr_err_sys(err, errno, "epoll");
  gwd.reserve_fd = eventfd(0, EFD_CLOEXEC);
  if (gwd_resolver_init(&o->resolvers, err) < 0 || gwd_listen_all(o, err) < 0)
    return -1;
  if (o->relay && gwd_relay_init(o, gwd.bind, err) < 0)
    return -1;

  sigset_t set;
  if (gwd_block_signals(&set) < 0)
    return adr_err_sys(err, errno, "sigprocmask");
  sigw.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigw.fd < 0 || gwd_ep_add(sigw.fd, EPOLLIN, &sigw) < 0)
    return adr_err_sys(err, errno, "signalfd");

  if (gw_drop_privileges(err) < 0)
    return -1;
  if (o->relay && gw_relay_start(err) < 0) /* its threads start without capabilities */
    return -1;
  if (o->ready && gw_write_ready(o->ready, err) < 0)
    return -1;
  return 0;
}

static void teardown(void)
{
  gwd_resolver_free();
  gwd_bury();
  gwd_listen_close();
  gw_policy_free(&gwd.policy);
  close(sigw.fd);
  close(gwd.ep);
  gwd_log_close();
  if (gwd.reserve_fd >= 0)
    close(gwd.reserve_fd);
}

static int run_gateway(struct opts *o, adr_err *err)
{
  if (setup(o, err) < 0)
    return -1;
  int lr = gwd_loop();
  int le = errno;
  if (o->relay)
    gw_relay_stop(); /* the requests in flight log their lines */
  if (lr < 0)
    return adr_err_sys(err, le, "epoll_wait");
  teardown();
  return 0;
}

int main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], GW_OPT_EXEC_CLAIM) == 0) { /* a warm sandbox's, not a gateway */
    cleanup_err adr_err err = NULL;
    int r = gwd_exec_claim(argv[2], &err);
    if (r < 0)
      fprintf(stderr, "adr-gateway: %s\n", err && err->msg ? err->msg : "failed");
    return r < 0 ? 126 : 0;
  }
  /* it may hold API keys (the relay): no core dumps, no ptrace by its own
   * uid's other processes */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  struct opts o;
  cleanup_err adr_err err = NULL;
  int r = gwd_opts_parse(argc, argv, &o, &err);
  if (r == 0 && o.wait_claim)
    r = gwd_wait_claim(&o, &err);
  if (r == 0)
    r = o.hold ? gwd_run_hold(&o, &err) : run_gateway(&o, &err);
  gwd_opts_free(&o);
  if (r < 0) {
    fprintf(stderr, "adr-gateway: %s\n", err && err->msg ? err->msg : "failed");
    return 1;
  }
  return 0;
}
