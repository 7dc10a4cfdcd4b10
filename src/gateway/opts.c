/* adr-gateway's command line: two modes, the gateway proper and --hold
 * (open mode's namespace holder), each with its own options and the
 * credential relay's (--relay ...) in both.  The flags' names are the
 * contract with adr (gwproto.h): adr's egress.c passes them. */
#include "gwd.h"
#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
  fputs("usage: adr-gateway " GW_OPT_POLICY " FILE " GW_OPT_LOG " FILE " GW_OPT_SANDBOX " NAME " GW_OPT_BIND
        " IPV4 [" GW_OPT_ANSWER
        " IPV4]\n"
        "                   [" GW_OPT_DNS_PORT " N] [" GW_OPT_PROXY_PORT " N] [" GW_OPT_PORT " N]... [" GW_OPT_RESOLVER
        " IP[:PORT]]...\n"
        "                   [" GW_OPT_READY " PATH] [" GW_OPT_MAX_CONNS " N] [" GW_OPT_LOG_MAX
        " BYTES] [" GW_OPT_LISTEN_FD
        " N]...\n"
        "                   [" GW_OPT_RELAY " FILE " GW_OPT_CA " FILE [" GW_OPT_RELAY_PORT
        " N]]\n"
        "       adr-gateway " GW_OPT_WAIT_CLAIM " FILE [" GW_OPT_READY
        " PATH]\n"
        "       adr-gateway " GW_OPT_HOLD " [" GW_OPT_BLACKHOLE " CIDR]... [" GW_OPT_READY
        " PATH]\n"
        "                   [" GW_OPT_RELAY " FILE " GW_OPT_CA " FILE " GW_OPT_LOG " FILE " GW_OPT_SANDBOX
        " NAME [" GW_OPT_RELAY_PORT
        " N]\n"
        "                    [" GW_OPT_RESOLVER " IP[:PORT]]... [" GW_OPT_LOG_MAX " BYTES]]\n",
        f);
}

static int parse_port(const char *opt, const char *s, uint16_t *out, adr_err *err)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (s[0] < '0' || s[0] > '9' || *end || errno || v < 1 || v > 65535)
    return adr_err_set(err, EINVAL, "%s: bad port '%s'", opt, s);
  *out = (uint16_t)v;
  return 0;
}

/* IP[:PORT] / [IPv6]:PORT / IPv6 -> "1.2.3.4:53" / "[::1]:53" */
static int parse_resolver(const char *s, char *out, size_t cap, adr_err *err)
{
  struct gw_addr a;
  uint16_t port = 53;
  const char *colon = strrchr(s, ':');
  size_t alen = strlen(s);
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (rb == NULL)
      goto bad;
    alen = (size_t)(rb - s) + 1;
    if (rb[1] == ':') {
      if (parse_port(GW_OPT_RESOLVER, rb + 2, &port, err) < 0)
        return -1;
    } else if (rb[1]) {
      goto bad;
    }
  } else if (colon && strchr(s, ':') == colon) { /* one colon: IPv4:PORT */
    alen = (size_t)(colon - s);
    if (parse_port(GW_OPT_RESOLVER, colon + 1, &port, err) < 0)
      return -1;
  }
  if (gw_addr_parse(s, alen, &a) < 0)
    goto bad;
  char t[INET6_ADDRSTRLEN];
  inet_ntop(a.family, a.a, t, sizeof(t));
  snprintf(out, cap, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", t, port);
  return 0;
bad:
  return adr_err_set(err, EINVAL, GW_OPT_RESOLVER ": bad address '%s' (want IP or IP:PORT)", s);
}

int gwd_resolvers_csv(const struct strv *rv, char **out, adr_err *err)
{
  *out = NULL;
  for (size_t i = 0; i < rv->n; i++) {
    char one[80];
    if (parse_resolver(rv->v[i], one, sizeof(one), err) < 0) {
      free(*out);
      *out = NULL;
      return -1;
    }
    char *n = xasprintf("%s%s%s", *out ? *out : "", *out ? "," : "", one);
    free(*out);
    *out = n;
  }
  return 0;
}

/* ---------------------------------------------------------------- options */

enum {
  O_POLICY = 256,
  O_LOG,
  O_SANDBOX,
  O_BIND,
  O_ANSWER,
  O_DNS_PORT,
  O_PROXY_PORT,
  O_PORT,
  O_RESOLVER,
  O_READY,
  O_MAX_CONNS,
  O_HOLD,
  O_BLACKHOLE,
  O_HELP,
  O_LOG_MAX,
  O_RELAY,
  O_RELAY_PORT,
  O_CA,
  O_WAIT_CLAIM,
  O_LISTEN_FD
};

/* getopt_long wants the names without their dashes */
#define LONGOPT(flag, has_arg, val) \
  {                                 \
    &(flag)[2], has_arg, NULL, val  \
  }

/* clang-format off */
static const struct option longopts[] = {
  LONGOPT(GW_OPT_POLICY, required_argument, O_POLICY),
  LONGOPT(GW_OPT_LOG, required_argument, O_LOG),
  LONGOPT(GW_OPT_SANDBOX, required_argument, O_SANDBOX),
  LONGOPT(GW_OPT_BIND, required_argument, O_BIND),
  LONGOPT(GW_OPT_ANSWER, required_argument, O_ANSWER),
  LONGOPT(GW_OPT_DNS_PORT, required_argument, O_DNS_PORT),
  LONGOPT(GW_OPT_PROXY_PORT, required_argument, O_PROXY_PORT),
  LONGOPT(GW_OPT_PORT, required_argument, O_PORT),
  LONGOPT(GW_OPT_RESOLVER, required_argument, O_RESOLVER),
  LONGOPT(GW_OPT_READY, required_argument, O_READY),
  LONGOPT(GW_OPT_MAX_CONNS, required_argument, O_MAX_CONNS),
  LONGOPT(GW_OPT_HOLD, no_argument, O_HOLD),
  LONGOPT(GW_OPT_BLACKHOLE, required_argument, O_BLACKHOLE),
  LONGOPT(GW_OPT_HELP, no_argument, O_HELP),
  LONGOPT(GW_OPT_LOG_MAX, required_argument, O_LOG_MAX),
  LONGOPT(GW_OPT_RELAY, required_argument, O_RELAY),
  LONGOPT(GW_OPT_RELAY_PORT, required_argument, O_RELAY_PORT),
  LONGOPT(GW_OPT_CA, required_argument, O_CA),
  LONGOPT(GW_OPT_WAIT_CLAIM, required_argument, O_WAIT_CLAIM),
  LONGOPT(GW_OPT_LISTEN_FD, required_argument, O_LISTEN_FD),
  { NULL, 0, NULL, 0 },
};
/* clang-format on */

/* What the options seen so far allow: the relay's options go with --hold
 * when --relay does; the gateway's own never do. */
struct seen {
  unsigned gw_only; /* how many */
  bool relay_opt, relay_port_set;
};

static int take_number(int ch, const char *arg, struct opts *o, adr_err *err)
{
  char *end;
  errno = 0;
  if (ch == O_MAX_CONNS) {
    unsigned long v = strtoul(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < 1 || v > 1000000)
      return adr_err_set(err, EINVAL, GW_OPT_MAX_CONNS ": bad number '%s'", arg);
    o->max_conns = (unsigned)v;
    return 0;
  }
  unsigned long long v = strtoull(arg, &end, 10);
  if (arg[0] < '0' || arg[0] > '9' || *end || errno || v < 4096)
    return adr_err_set(err, EINVAL, GW_OPT_LOG_MAX ": bad size '%s' (bytes, at least 4096)", arg);
  o->log_max = v;
  return 0;
}

/* One option and its argument. */
static int take(int ch, const char *arg, struct opts *o, struct seen *s, adr_err *err)
{
  switch (ch) {
  case O_POLICY: o->policy = arg; return 0;
  case O_LOG: o->log = arg; return 0;
  case O_SANDBOX: o->sandbox = arg; return 0;
  case O_BIND: o->bind = arg; return 0;
  case O_ANSWER: o->answer = arg; return 0;
  case O_READY: o->ready = arg; return 0;
  case O_HOLD: o->hold = true; return 0;
  case O_BLACKHOLE: strv_push(&o->blackholes, arg); return 0;
  case O_RESOLVER: strv_push(&o->resolvers, arg); return 0;
  case O_RELAY: o->relay = arg; return 0;
  case O_CA: o->ca = arg; return 0;
  case O_WAIT_CLAIM: o->wait_claim = arg; return 0;
  case O_RELAY_PORT: s->relay_port_set = true; return parse_port(GW_OPT_RELAY_PORT, arg, &o->relay_port, err);
  case O_DNS_PORT: return parse_port(GW_OPT_DNS_PORT, arg, &o->dns_port, err);
  case O_PROXY_PORT: return parse_port(GW_OPT_PROXY_PORT, arg, &o->proxy_port, err);
  case O_PORT: {
    uint16_t p;
    if (parse_port(GW_OPT_PORT, arg, &p, err) < 0)
      return -1;
    o->ports = xrealloc(o->ports, (o->nports + 1) * sizeof(*o->ports));
    o->ports[o->nports++] = p;
    return 0;
  }
  case O_LISTEN_FD: {
    char *end;
    errno = 0;
    long fd = strtol(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end || errno || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
      return adr_err_set(err, EINVAL, GW_OPT_LISTEN_FD ": '%s' is not an open descriptor (3 or more)", arg);
    gw_inherit_add((int)fd);
    return 0;
  }
  case O_MAX_CONNS:
  case O_LOG_MAX: return take_number(ch, arg, o, err);
  default: return adr_err_set(err, EINVAL, "unknown option"); /* not reached: the caller knows them */
  }
}

/* The combinations, once every option is in. */
static int check(const struct opts *o, const struct seen *s, adr_err *err)
{
  if (o->wait_claim) {
    if (s->gw_only > 1 || s->relay_opt || o->hold || o->relay || o->blackholes.n)
      return adr_err_set(err, EINVAL,
                         GW_OPT_WAIT_CLAIM ": only " GW_OPT_READY " goes with it (the claim brings the rest)");
    return 0;
  }
  if (!o->relay && (o->ca || s->relay_port_set))
    return adr_err_set(err, EINVAL, "%s: only with " GW_OPT_RELAY, o->ca ? GW_OPT_CA : GW_OPT_RELAY_PORT);
  if (o->relay && !o->ca)
    return adr_err_set(
      err, EINVAL, GW_OPT_RELAY ": needs " GW_OPT_CA " FILE (the certificates upstream servers are verified against)");
  if (o->hold) {
    if (s->gw_only || (s->relay_opt && !o->relay))
      return adr_err_set(err, EINVAL,
                         GW_OPT_HOLD ": only " GW_OPT_BLACKHOLE ", " GW_OPT_READY " and " GW_OPT_RELAY
                                     " (with " GW_OPT_CA ", " GW_OPT_RELAY_PORT ", " GW_OPT_LOG ", " GW_OPT_SANDBOX
                                     ", " GW_OPT_RESOLVER ", " GW_OPT_LOG_MAX ") go with it");
    const char *missing = !o->relay ? NULL : !o->log ? GW_OPT_LOG : !o->sandbox ? GW_OPT_SANDBOX : NULL;
    if (missing)
      return adr_err_set(err, EINVAL, "%s: required with " GW_OPT_RELAY, missing);
    return 0;
  }
  if (o->blackholes.n)
    return adr_err_set(err, EINVAL, GW_OPT_BLACKHOLE ": only with " GW_OPT_HOLD);
  const char *missing = !o->policy    ? GW_OPT_POLICY
                        : !o->log     ? GW_OPT_LOG
                        : !o->sandbox ? GW_OPT_SANDBOX
                        : !o->bind    ? GW_OPT_BIND
                                      : NULL;
  if (missing)
    return adr_err_set(err, EINVAL, "%s: required", missing);
  return 0;
}

int gwd_opts_parse(int argc, char **argv, struct opts *o, adr_err *err)
{
  *o = (struct opts){ .dns_port = GW_DNS_PORT,
                      .proxy_port = GW_PROXY_PORT,
                      .relay_port = GW_RELAY_PORT,
                      .max_conns = 4096,
                      .log_max = 256ull << 20 };
  struct seen s = { 0 };
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    /* with --hold: its own options, and the relay's (with --relay) */
    if (ch == O_RELAY_PORT || ch == O_CA || ch == O_LOG || ch == O_SANDBOX || ch == O_LOG_MAX || ch == O_RESOLVER)
      s.relay_opt = true;
    else if (ch != O_HOLD && ch != O_BLACKHOLE && ch != O_READY && ch != O_HELP && ch != O_RELAY && ch != O_LISTEN_FD &&
             ch != '?' && ch != ':')
      s.gw_only++;
    if (ch == O_HELP) {
      usage(stdout);
      return 1;
    }
    if (ch == '?' || ch == ':') {
      if (optopt >= O_POLICY)
        return adr_err_set(err, EINVAL, "%s: needs an argument", argv[optind - 1]);
      return adr_err_set(err, EINVAL, "%s: unknown option", argv[optind - 1]);
    }
    if (take(ch, optarg, o, &s, err) < 0)
      return -1;
  }
  if (optind < argc)
    return adr_err_set(err, EINVAL, "%s: unexpected argument", argv[optind]);
  return check(o, &s, err);
}

void gwd_opts_free(struct opts *o)
{
  free(o->ports);
  o->ports = NULL;
  strv_free(&o->resolvers);
  strv_free(&o->blackholes);
  free(o->claim_buf);
  o->claim_buf = NULL;
}
