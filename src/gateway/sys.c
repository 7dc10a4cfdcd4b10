/* Capabilities by raw syscalls (no libcap), routes by hand-written
 * rtnetlink, the ready file, the clock. */
#include "sys.h"
#include "gw.h"
#include "gwproto.h"
#include "util.h"

#include <arpa/inet.h>
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

static int *inherited;
static size_t ninherited;

void gw_inherit_add(int fd)
{
  inherited = xrealloc(inherited, (ninherited + 1) * sizeof(*inherited));
  inherited[ninherited++] = fd;
}

/* the inherited socket of this type and port, taken (-1: none) */
static int take_inherited(uint16_t port, int type)
{
  for (size_t i = 0; i < ninherited; i++) {
    int t = 0;
    socklen_t tl = sizeof(t);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (inherited[i] < 0 || getsockopt(inherited[i], SOL_SOCKET, SO_TYPE, &t, &tl) < 0 || t != type ||
        getsockname(inherited[i], (struct sockaddr *)&sa, &sl) < 0 || sa.sin_family != AF_INET ||
        ntohs(sa.sin_port) != port)
      continue;
    int fd = inherited[i];
    inherited[i] = -1;
    return fd;
  }
  return -1;
}

bool gw_listeners_given(void) { return ninherited > 0; }

int gw_listener(struct in_addr at, uint16_t port, int type, int backlog, const char *what, adr_err *err)
{
  char addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &at, addr, sizeof(addr));
  const char *proto = type == SOCK_DGRAM ? "udp" : "tcp";
  char pre[64] = "";
  if (what)
    snprintf(pre, sizeof(pre), "%s: ", what);
  if (ninherited) {
    int fd = take_inherited(port, type);
    if (fd < 0)
      return adr_err_set(err, ENOENT, "%sno listener on port %u/%s among those given (" GW_OPT_LISTEN_FD ")", pre, port,
                         proto);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
      int e = errno;
      close(fd);
      return adr_err_sys(err, e, "%slistener %u/%s", pre, port, proto);
    }
    return fd;
  }
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return adr_err_sys(err, errno, "%ssocket", pre);
  int one = 1;
  if (type == SOCK_STREAM) /* for UDP it would let two gateways share the port */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = at };
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    return adr_err_sys(err, e, "%sbind %s:%u/%s", pre, addr, port, proto);
  }
  if (type == SOCK_STREAM && listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return adr_err_sys(err, e, "%slisten %s:%u/%s", pre, addr, port, proto);
  }
  return fd;
}
