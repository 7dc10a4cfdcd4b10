/* A route to nowhere ("unreachable") in the current network namespace's
 * main table, over rtnetlink: what adr-gateway's holder does for the
 * metadata addresses in its own namespace, and the native engine's network
 * holder in the one it keeps. */
#include "route.h"
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int adr_blackhole(const char *what, const char *cidr, bool *skipped, adr_err *err)
{
  *skipped = false;
  struct gw_addr a;
  const char *slash = strchr(cidr, '/');
  size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
  bool v6 = memchr(cidr, ':', alen) != NULL;
  if (gw_addr_parse(cidr, alen, &a) < 0 || (v6 && a.family != AF_INET6))
    return adr_err_set(err, EINVAL, "%s %s: not an IPv4 or IPv6 CIDR", what, cidr);
  unsigned maxp = a.family == AF_INET ? 32 : 128, prefix = maxp;
  if (slash) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(slash + 1, &end, 10);
    if (slash[1] < '0' || slash[1] > '9' || *end || errno || v > maxp)
      return adr_err_set(err, EINVAL, "%s %s: bad prefix length", what, cidr);
    prefix = (unsigned)v;
  }
  for (unsigned b = prefix; b < maxp; b++)
    a.a[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
  if (a.family == AF_INET6 && access("/proc/sys/net/ipv6", F_OK) != 0) {
    *skipped = true;
    return 0;
  }

  cleanup_close int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return adr_err_sys(err, errno, "%s %s: netlink socket", what, cidr);
  struct {
    struct nlmsghdr n;
    struct rtmsg r;
    char attrs[64];
  } req;
  memset(&req, 0, sizeof(req));
  req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
  req.n.nlmsg_type = RTM_NEWROUTE;
  req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  req.n.nlmsg_seq = 1;
  req.r.rtm_family = (unsigned char)a.family;
  req.r.rtm_dst_len = (unsigned char)prefix;
  req.r.rtm_table = RT_TABLE_MAIN;
  req.r.rtm_protocol = RTPROT_STATIC;
  req.r.rtm_scope = RT_SCOPE_UNIVERSE;
  req.r.rtm_type = RTN_UNREACHABLE;
  if (prefix > 0) {
    size_t al = a.family == AF_INET ? 4 : 16;
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
    rta->rta_type = RTA_DST;
    rta->rta_len = (unsigned short)RTA_LENGTH(al);
    memcpy(RTA_DATA(rta), a.a, al);
    req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + RTA_ALIGN(rta->rta_len);
  }
  struct sockaddr_nl k = { .nl_family = AF_NETLINK };
  if (sendto(fd, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&k, sizeof(k)) < 0)
    return adr_err_sys(err, errno, "%s %s: netlink send", what, cidr);
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return adr_err_sys(err, errno, "%s %s: netlink receive", what, cidr);
    for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n)) {
      if (m->nlmsg_seq != 1 || m->nlmsg_type != NLMSG_ERROR)
        continue;
      if (m->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        return adr_err_set(err, EPROTO, "%s %s: short netlink answer", what, cidr);
      const struct nlmsgerr *e = NLMSG_DATA(m);
      int code = -e->error;
      if (code == 0)
        return 0;
      if (a.family == AF_INET6 && (code == EAFNOSUPPORT || code == EOPNOTSUPP || code == EPROTONOSUPPORT)) {
        *skipped = true;
        return 0;
      }
      return adr_err_sys(err, code, "%s %s: add route", what, cidr);
    }
  }
}
