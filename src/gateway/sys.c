/* Capabilities by raw syscalls (no libcap), routes by hand-written
 * rtnetlink, the ready file, the clock. */
#include "sys.h"
#include "gw.h"
#include "gwproto.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int gw_drop_privileges(adr_err *err)
{
  struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof(d));
  if (syscall(SYS_capget, &h, d) < 0)
    return adr_err_sys(err, errno, "capget");
  if (d[0].effective & (1u << CAP_SETPCAP)) {
    for (unsigned long c = 0; c < 64; c++) {
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
        if (errno == EINVAL)
          break; /* past the last capability this kernel knows */
        return adr_err_sys(err, errno, "drop capability %lu from the bounding set", c);
      }
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return adr_err_sys(err, errno, "clear ambient capabilities");
  memset(d, 0, sizeof(d));
  if (syscall(SYS_capset, &h, d) < 0)
    return adr_err_sys(err, errno, "capset");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return adr_err_sys(err, errno, "PR_SET_NO_NEW_PRIVS");
  return 0;
}

int gw_blackhole(const char *cidr, bool *skipped, adr_err *err)
{
  *skipped = false;
  struct gw_addr a;
  const char *slash = strchr(cidr, '/');
  size_t alen = slash ? (size_t)(slash - cidr) : strlen(cidr);
  bool v6 = memchr(cidr, ':', alen) != NULL;
  if (gw_addr_parse(cidr, alen, &a) < 0 || (v6 && a.family != AF_INET6))
    return adr_err_set(err, EINVAL, GW_OPT_BLACKHOLE " %s: not an IPv4 or IPv6 CIDR", cidr);
  unsigned maxp = a.family == AF_INET ? 32 : 128, prefix = maxp;
  if (slash) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(slash + 1, &end, 10);
    if (slash[1] < '0' || slash[1] > '9' || *end || errno || v > maxp)
      return adr_err_set(err, EINVAL, GW_OPT_BLACKHOLE " %s: bad prefix length", cidr);
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
    return adr_err_sys(err, errno, "blackhole %s: netlink socket", cidr);
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
    return adr_err_sys(err, errno, "blackhole %s: netlink send", cidr);
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return adr_err_sys(err, errno, "blackhole %s: netlink receive", cidr);
    for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)n); m = NLMSG_NEXT(m, n)) {
      if (m->nlmsg_seq != 1 || m->nlmsg_type != NLMSG_ERROR)
        continue;
      if (m->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        return adr_err_set(err, EPROTO, "blackhole %s: short netlink answer", cidr);
      const struct nlmsgerr *e = NLMSG_DATA(m);
      int code = -e->error;
      if (code == 0)
        return 0;
      if (a.family == AF_INET6 && (code == EAFNOSUPPORT || code == EOPNOTSUPP || code == EPROTONOSUPPORT)) {
        *skipped = true;
        return 0;
      }
      return adr_err_sys(err, code, "blackhole %s: add route", cidr);
    }
  }
}

int gw_write_ready(const char *path, adr_err *err)
{
  cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0)
    return adr_err_sys(err, errno, "ready file %s", path);
  char b[32];
  int n = snprintf(b, sizeof(b), "%ld\n", (long)getpid());
  if (write(fd, b, (size_t)n) != n)
    return adr_err_sys(err, errno ? errno : EIO, "ready file %s", path);
  return 0;
}

void gw_sockaddr_format(const struct sockaddr_storage *ss, char *out, size_t cap)
{
  struct gw_addr a = { 0 };
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
    a.family = AF_INET;
    memcpy(a.a, &s->sin_addr, 4);
    port = ntohs(s->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
    a.family = AF_INET6;
    memcpy(a.a, &s->sin6_addr, 16);
    port = ntohs(s->sin6_port);
  } else {
    snprintf(out, cap, "?");
    return;
  }
  gw_addr_format(&a, port, out, cap);
}

uint64_t gw_mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

socklen_t gw_addr_sockaddr(const struct gw_addr *a, int port, struct sockaddr_storage *ss)
{
  memset(ss, 0, sizeof(*ss));
  if (a->family == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    memcpy(&s->sin_addr, a->a, 4);
    return sizeof(*s);
  }
  struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
  s->sin6_family = AF_INET6;
  s->sin6_port = htons((uint16_t)port);
  memcpy(&s->sin6_addr, a->a, 16);
  return sizeof(*s);
}
