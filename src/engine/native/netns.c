/* The native engine's networks: loopback, and the holder of a sandbox's
 * allowlist network.
 *
 * The holder is a process in a user namespace and a network namespace of
 * its own (loopback only: no route anywhere, nothing of the host's).  It
 * makes the egress gateway's listening sockets on 127.0.0.1 there, gives
 * them to its caller over a socket pair, and then only waits: it keeps the
 * namespace for the sandbox, which joins it (sandbox.c), while the gateway,
 * on the host's network, accepts on those sockets and connects out.  A
 * socket belongs to the namespace it was made in, wherever it is used, so
 * no veth, bridge, route or firewall rule is needed, root or not. */
#include "sandbox.h"
#include "fs.h"
#include "route.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOLDER_MAX_FDS 64

int adr_native_write_map(pid_t pid, const char *what, const char *text, adr_err *err)
{
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
  return adr_write_existing(path, text) < 0 ? adr_err_sys(err, errno, "write %s", path) : 0;
}

void adr_native_stdio_null(void)
{
  int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (dn >= 0) {
    dup2(dn, 0);
    dup2(dn, 1);
    dup2(dn, 2);
    close(dn);
  }
}

int adr_native_lo_up(void)
{
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  struct ifreq ifr = { 0 };
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int saved = errno;
  close(s);
  errno = saved;
  return r;
}

/* "tcp:PORT" / "udp:PORT" */
static int parse_listen(const char *s, int *type, uint16_t *port)
{
  const char *p;
  if (str_has_prefix(s, "tcp:"))
    *type = SOCK_STREAM;
  else if (str_has_prefix(s, "udp:"))
    *type = SOCK_DGRAM;
  else
    return -1;
  p = s + 4;
  char *end;
  errno = 0;
  long v = strtol(p, &end, 10);
  if (end == p || *end || errno || v < 1 || v > 65535)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

/* the holder's message to its caller: a reason, then it exits */
static __attribute__((noreturn)) void holder_say(int sock, const char *why)
{
  char msg[256];
  int n = snprintf(msg, sizeof(msg), "network holder: %s", why);
  if (n > 0 && send(sock, msg, (size_t)n, MSG_NOSIGNAL) < 0)
    _exit(1);
  _exit(1);
}

static __attribute__((noreturn)) void holder_fail(int sock, const char *what)
{
  char why[200];
  snprintf(why, sizeof(why), "%s: %s", what, strerror(errno));
  holder_say(sock, why);
}

static __attribute__((noreturn)) void holder(int sock, const struct adr_native_holder_req *rq, pid_t parent)
{
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent)
    _exit(1);
  if (sock != 3 && dup3(sock, 3, O_CLOEXEC) == 3)
    sock = 3;
  syscall(SYS_close_range, 4U, ~0U, 0U);
  prctl(PR_SET_NAME, "adr-netns", 0, 0, 0);
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
    holder_fail(sock, "new user and network namespaces");
  char c = 0;
  if (send(sock, &c, 1, MSG_NOSIGNAL) != 1 || recv(sock, &c, 1, 0) != 1 || c != 1)
    _exit(1); /* the caller reports */
  if (adr_native_lo_up() < 0)
    holder_fail(sock, "loopback up");
  for (size_t i = 0; rq->blackholes && i < rq->blackholes->n; i++) {
    adr_err e = NULL;
    bool skipped;
    if (adr_blackhole("blackhole", rq->blackholes->v[i], &skipped, &e) < 0)
      holder_say(sock, e->msg);
  }
  const struct strv *want = rq->listen;
  int fds[HOLDER_MAX_FDS];
  size_t n = 0;
  for (size_t i = 0; want && i < want->n; i++) {
    int type;
    uint16_t port;
    if (parse_listen(want->v[i], &type, &port) < 0) {
      errno = EINVAL;
      holder_fail(sock, want->v[i]);
    }
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr = { .s_addr = htonl(INADDR_LOOPBACK) } };
    if (fd < 0 || (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (type == SOCK_STREAM && listen(fd, 1024) < 0))
      holder_fail(sock, want->v[i]);
    fds[n++] = fd;
  }
  /* the sockets, then nothing but waiting: the namespace lives as long as
   * this process (and whoever joined it) */
  char buf[CMSG_SPACE(sizeof(fds))];
  memset(buf, 0, sizeof(buf));
  char ok = 1;
  struct iovec iov = { .iov_base = &ok, .iov_len = 1 };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (n) {
    m.msg_control = buf;
    m.msg_controllen = CMSG_SPACE(n * sizeof(int));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(n * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
  }
  if (sendmsg(sock, &m, MSG_NOSIGNAL) != 1)
    _exit(1);
  for (size_t i = 0; i < n; i++)
    close(fds[i]);
  close(sock);
  adr_native_stdio_null();
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGTERM);
  sigprocmask(SIG_SETMASK, &all, NULL);
  signal(SIGTERM, SIG_DFL);
  for (;;)
    pause();
}

void adr_native_holder_free(struct adr_native_holder *h)
{
  /* slirp4netns and the holder live on: they end with the caller */
  for (size_t i = 0; i < h->n; i++)
    close(h->fds[i]);
  free(h->fds);
  h->fds = NULL;
  h->n = 0;
}

/* ------------------------------------------------------------ outbound */

#define SLIRP "slirp4netns"

/* slirp4netns on PATH: its path, or NULL */
static char *slirp_path(void)
{
  const char *path = getenv("PATH");
  cleanup_free char *dup = xstrdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  char *save = NULL;
  for (char *d = strtok_r(dup, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
    char *p = xasprintf("%s/" SLIRP, d);
    if (access(p, X_OK) == 0)
      return p;
    free(p);
  }
  return NULL;
}

int adr_native_outbound_check(adr_err *err)
{
  cleanup_free char *p = slirp_path();
  if (!p)
    return adr_err_set(err, ENOENT, "no " SLIRP " on PATH (Debian and Ubuntu: apt install " SLIRP ")");
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return adr_err_sys(err, errno, "/dev/net/tun, which " SLIRP " needs, cannot be opened by this user");
  close(fd);
  return 0;
}

/* slirp4netns for h's namespace: a tap device with an address, a default
 * route and a DNS forwarder (ADR_NATIVE_SLIRP_DNS), through the host's
 * sockets; the host's loopback stays out of reach.  Sandboxed and
 * filtered as it offers; it ends when h->slirp_exit closes. */
static int slirp_start(struct adr_native_holder *h, adr_err *err)
{
  cleanup_free char *bin = slirp_path();
  if (!bin)
    return adr_err_set(err, ENOENT, "no " SLIRP " on PATH (Debian and Ubuntu: apt install " SLIRP ")");
  int rp[2], xp[2], ep[2];
  if (pipe2(rp, O_CLOEXEC) < 0)
    return adr_err_sys(err, errno, "pipe");
  if (pipe2(xp, O_CLOEXEC) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
    int saved = errno;
    close(rp[0]);
    close(rp[1]);
    return adr_err_sys(err, saved, "pipe");
  }
  char pid[16];
  snprintf(pid, sizeof(pid), "%d", (int)h->pid);
  char *argv[] = { bin,
                   (char *)"--configure",
                   (char *)"--mtu=65520",
                   (char *)"--disable-host-loopback",
                   (char *)"--enable-sandbox",
                   (char *)"--enable-seccomp",
                   (char *)"--exit-fd=3",
                   (char *)"--ready-fd=4",
                   pid,
                   (char *)"tap0",
                   NULL };
  pid_t me = getpid();
  pid_t c = fork();
  if (c < 0) {
    int saved = errno;
    for (int i = 0; i < 2; i++) {
      close(rp[i]);
      close(xp[i]);
      close(ep[i]);
    }
    return adr_err_sys(err, saved, "fork");
  }
  if (c == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != me)
      _exit(127);
    /* 3: the exit pipe, 4: the ready pipe, 2: its reasons; nothing else */
    int x = fcntl(xp[0], F_DUPFD_CLOEXEC, 10), r = fcntl(rp[1], F_DUPFD_CLOEXEC, 10),
        e = fcntl(ep[1], F_DUPFD_CLOEXEC, 10);
    int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (x < 0 || r < 0 || e < 0 || dn < 0 || dup2(dn, 0) < 0 || dup2(dn, 1) < 0 || dup2(e, 2) < 0 || dup2(x, 3) < 0 ||
        dup2(r, 4) < 0)
      _exit(127);
    syscall(SYS_close_range, 5U, ~0U, 0U);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execv(bin, argv);
    _exit(127);
  }
  close(rp[1]);
  close(xp[0]);
  close(ep[1]);
  struct pollfd pf = { .fd = rp[0], .events = POLLIN };
  int pr;
  while ((pr = poll(&pf, 1, 10000)) < 0 && errno == EINTR)
    ;
  char one = 0;
  bool ready = pr == 1 && read(rp[0], &one, 1) == 1;
  close(rp[0]);
  if (!ready) {
    kill(c, SIGKILL);
    char why[512];
    ssize_t n;
    while ((n = read(ep[0], why, sizeof(why) - 1)) < 0 && errno == EINTR)
      ;
    close(ep[0]);
    close(xp[1]);
    while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
      ;
    why[n > 0 ? n : 0] = '\0';
    char *nl = strchr(why, '\n');
    if (nl)
      *nl = '\0';
    return adr_err_set(err, EIO, SLIRP " did not configure the network%s%s", n > 0 ? ": " : "",
                       n > 0 ? why : (pr == 0 ? " within 10 s" : ""));
  }
  close(ep[0]);
  h->slirp = c;
  h->slirp_exit = xp[1];
  return 0;
}

/* what the holder said before it ended, as err */
static int holder_error(pid_t pid, const char *msg, ssize_t n, adr_err *err)
{
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  if (n > 1)
    return adr_err_set(err, EPERM, "%.*s", (int)n, msg);
  return adr_err_set(err, EPERM, "network holder: it ended before it served");
}

int adr_native_holder_start(const struct adr_native_holder_req *rq, struct adr_native_holder *h, adr_err *err)
{
  memset(h, 0, sizeof(*h));
  h->slirp_exit = -1;
  static const struct strv none;
  const struct strv *want = rq->listen ? rq->listen : &none;
  if (want->n > HOLDER_MAX_FDS)
    return adr_err_set(err, EINVAL, "network holder: %zu listeners (at most %d)", want->n, HOLDER_MAX_FDS);
  for (size_t i = 0; i < want->n; i++) {
    int type;
    uint16_t port;
    if (parse_listen(want->v[i], &type, &port) < 0)
      return adr_err_set(err, EINVAL, "network holder: bad listener '%s' (want tcp:PORT or udp:PORT)", want->v[i]);
  }
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
    return adr_err_sys(err, errno, "socketpair");
  uid_t hu = getuid();
  gid_t hg = getgid();
  pid_t me = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int saved = errno;
    close(sp[0]);
    close(sp[1]);
    return adr_err_sys(err, saved, "fork");
  }
  if (pid == 0) {
    close(sp[0]);
    holder(sp[1], rq, me);
  }
  close(sp[1]);
  cleanup_close int s = sp[0];
  char msg[300];
  ssize_t n;
  while ((n = recv(s, msg, sizeof(msg), 0)) < 0 && errno == EINTR)
    ;
  if (n != 1)
    return holder_error(pid, msg, n, err);
  /* the caller maps itself to root there: with every capability over
   * that namespace (its network), none outside */
  char map[64], gmap[64];
  snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)hu);
  snprintf(gmap, sizeof(gmap), "0 %u 1\n", (unsigned)hg);
  if (adr_native_write_map(pid, "setgroups", "deny", err) < 0 || adr_native_write_map(pid, "uid_map", map, err) < 0 ||
      adr_native_write_map(pid, "gid_map", gmap, err) < 0) {
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    return adr_err_prefix(err, "network holder");
  }
  char go = 1;
  if (send(s, &go, 1, MSG_NOSIGNAL) != 1)
    return holder_error(pid, "", 0, err);
  int fds[HOLDER_MAX_FDS];
  char cbuf[CMSG_SPACE(sizeof(fds))];
  struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
  struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
  while ((n = recvmsg(s, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
    ;
  size_t got = 0;
  for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; cm; cm = CMSG_NXTHDR(&m, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
      size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k && got < HOLDER_MAX_FDS; i++)
        memcpy(&fds[got++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
    }
  if (n != 1 || msg[0] != 1 || got != want->n || (m.msg_flags & MSG_CTRUNC)) {
    for (size_t i = 0; i < got; i++)
      close(fds[i]);
    return holder_error(pid, msg, n, err);
  }
  h->pid = pid;
  h->n = got;
  h->fds = xcalloc(got + 1, sizeof(int));
  memcpy(h->fds, fds, got * sizeof(int));
  if (rq->outbound && slirp_start(h, err) < 0) {
    adr_native_holder_free(h);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
    h->pid = 0;
    return -1;
  }
  return 0;
}
