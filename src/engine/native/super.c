/* The native engine's supervisor (native.h): one process per running
 * sandbox, with no parent but init, that holds what Docker's daemon holds
 * for a container: the program's terminal or pipes, its log, its exit
 * status, the clients attached to it.  It holds the record's lock while
 * it lives, so that "running" is a lock held and a supervisor killed with
 * -9 is seen at once (its sandbox dies with it: PR_SET_PDEATHSIG).
 *
 * And the clients: attach and logs -f read frames from its socket (the
 * log from an offset, then what comes); when the socket is gone before
 * the end frame came, the rest is in the log. */
#include "native.h"
#include "buf.h"
#include "fs.h"
#include "proc.h"
#include "sandbox.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

bool nat_lock_held(int fd)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
  return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

int nat_lock_wait(int fd)
{
  struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
  while (fcntl(fd, F_OFD_SETLKW, &fl) < 0)
    if (errno != EINTR)
      return -1;
  fl.l_type = F_UNLCK; /* a reader holds nothing once it knows */
  fcntl(fd, F_OFD_SETLK, &fl);
  return 0;
}

int nat_lock_take(int fd)
{
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
  for (int i = 0; i < 100; i++) { /* a waiter that has just taken it to learn the end lets go at once */
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
      return 0;
    if (errno != EAGAIN && errno != EACCES && errno != EINTR)
      return -1;
    struct timespec ts = { 0, 10 * 1000000 };
    nanosleep(&ts, NULL);
  }
  errno = EBUSY;
  return -1;
}

void nat_sock_path(char *out, size_t len, int dirfd, const char *name)
{
  snprintf(out, len, "/proc/self/fd/%d/%s", dirfd, name);
}

static void put32(unsigned char *p, uint32_t v)
{
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}
static uint32_t get32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put64(unsigned char *p, int64_t v)
{
  put32(p, (uint32_t)((uint64_t)v >> 32));
  put32(p + 4, (uint32_t)v);
}
static int64_t get64(const unsigned char *p) { return (int64_t)((uint64_t)get32(p) << 32 | get32(p + 4)); }

int nat_write_all(int fd, const void *data, size_t n)
{
  const char *p = data;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0 && errno == EAGAIN) {
      struct pollfd pf = { .fd = fd, .events = POLLOUT };
      if (poll(&pf, 1, 5000) <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      continue;
    }
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int send_frame(int fd, int type, const void *data, size_t n)
{
  unsigned char h[NAT_FRAME_HDR] = { (unsigned char)type };
  put32(h + 4, (uint32_t)n);
  return nat_write_all(fd, h, sizeof(h)) < 0 || (n && nat_write_all(fd, data, n) < 0) ? -1 : 0;
}

/* ------------------------------------------------------------ supervisor */

#define MAX_CLIENTS 32

struct client {
  int fd;
  bool attached, in;
  struct buf rx;
};

struct sup {
  int dirfd, lock, log, lsock;
  int out, err, in; /* the program's: output (the terminal's master with a tty), stderr, stdin */
  bool tty, detachable;
  struct adr_native_proc proc;
  struct client c[MAX_CLIENTS];
  size_t nc;
};

static void drop_client(struct sup *s, size_t i)
{
  close(s->c[i].fd);
  buf_free(&s->c[i].rx);
  s->c[i] = s->c[--s->nc];
}

/* output of the program: to the log, then to every attached client */
static void output(struct sup *s, int stream, const char *p, size_t n)
{
  unsigned char h[NAT_FRAME_HDR] = { (unsigned char)stream };
  put32(h + 4, (uint32_t)n);
  if (nat_write_all(s->log, h, sizeof(h)) == 0)
    nat_write_all(s->log, p, n);
  for (size_t i = 0; i < s->nc;)
    if (s->c[i].attached && send_frame(s->c[i].fd, stream, p, n) < 0)
      drop_client(s, i);
    else
      i++;
}

/* the log from off to its end, to a client that attaches */
static int replay(struct sup *s, int fd, int64_t off)
{
  char b[65536];
  for (;;) {
    ssize_t r = pread(s->log, b, sizeof(b), off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return r < 0 ? -1 : 0;
    if (nat_write_all(fd, b, (size_t)r) < 0)
      return -1;
    off += r;
  }
}

/* one message of a client; -1 drops it */
static int message(struct sup *s, struct client *c, int type, const unsigned char *p, size_t n)
{
  switch (type) {
  case NAT_C_ATTACH: {
    if (n != 9)
      return -1;
    int64_t off = get64(p);
    struct stat st;
    if (fstat(s->log, &st) < 0)
      return -1;
    if (off < 0 || off > st.st_size)
      off = st.st_size;
    unsigned char o[8];
    put64(o, off);
    if (send_frame(c->fd, NAT_F_START, o, sizeof(o)) < 0 || replay(s, c->fd, off) < 0)
      return -1;
    c->attached = true;
    c->in = p[8] & NAT_ATTACH_STDIN;
    return 0;
  }
  case NAT_C_STDIN:
    if (c->in && s->in >= 0 && nat_write_all(s->in, p, n) < 0) {
      if (errno != EPIPE || s->tty)
        return -1;  /* a program that does not read: this client goes, its stdin stays */
      close(s->in); /* the program closed its stdin */
      s->in = -1;
    }
    return 0;
  case NAT_C_EOF:
    /* a program that reads stdin to its end ends with it; one that is
     * attached to and detached from again keeps it */
    if (c->in && s->in >= 0 && !s->tty && !s->detachable) {
      close(s->in);
      s->in = -1;
    }
    return 0;
  case NAT_C_RESIZE:
    if (n == 4 && s->tty) {
      struct winsize ws = { .ws_row = (unsigned short)(p[0] << 8 | p[1]),
                            .ws_col = (unsigned short)(p[2] << 8 | p[3]) };
      ioctl(s->out, TIOCSWINSZ, &ws);
    }
    return 0;
  default: return -1;
  }
}

static int client_read(struct sup *s, struct client *c)
{
  char b[65536];
  ssize_t r = read(c->fd, b, sizeof(b));
  if (r < 0 && (errno == EINTR || errno == EAGAIN))
    return 0;
  if (r <= 0 || buf_append(&c->rx, b, (size_t)r) < 0)
    return -1;
  while (c->rx.len >= NAT_FRAME_HDR) {
    const unsigned char *h = (const unsigned char *)c->rx.data;
    uint32_t n = get32(h + 4);
    if (n > NAT_FRAME_MAX)
      return -1;
    if (c->rx.len < NAT_FRAME_HDR + n)
      break;
    if (message(s, c, h[0], h + NAT_FRAME_HDR, n) < 0)
      return -1;
    buf_consume(&c->rx, NAT_FRAME_HDR + n);
  }
  return 0;
}

/* 1: more may come; 0: the end (EOF, EIO of a terminal whose every
 * holder is gone) */
static int pump_out(struct sup *s, int fd, int stream)
{
  char b[65536];
  ssize_t r = read(fd, b, sizeof(b));
  if (r < 0 && (errno == EINTR || errno == EAGAIN))
    return 1;
  if (r <= 0)
    return 0;
  output(s, stream, b, (size_t)r);
  return 1;
}

static void write_status(struct sup *s, int code)
{
  cleanup_free char *t = xasprintf("{\"exit_code\": %d, \"finished\": %lld}\n", code, (long long)time(NULL));
  char path[64];
  nat_sock_path(path, sizeof(path), s->dirfd, "status.json");
  write_file_atomic(path, t, strlen(t), 0600);
}

/* without a pidfd (kernels before 5.3): polled */
static bool exited(pid_t pid)
{
  siginfo_t si = { 0 };
  return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid != 0;
}

static __attribute__((noreturn)) void loop(struct sup *s)
{
  int pfd = (int)syscall(SYS_pidfd_open, s->proc.pid, 0);
  bool out_open = true, err_open = s->err >= 0, ended = false;
  while (!ended || out_open || err_open) {
    struct pollfd p[4 + MAX_CLIENTS];
    int np = 0, i_out = -1, i_err = -1, i_pid = -1, i_l = -1;
    if (out_open) {
      i_out = np;
      p[np++] = (struct pollfd){ .fd = s->out, .events = POLLIN };
    }
    if (err_open) {
      i_err = np;
      p[np++] = (struct pollfd){ .fd = s->err, .events = POLLIN };
    }
    if (!ended && pfd >= 0) {
      i_pid = np;
      p[np++] = (struct pollfd){ .fd = pfd, .events = POLLIN };
    }
    i_l = np;
    p[np++] = (struct pollfd){ .fd = s->lsock, .events = POLLIN };
    int first_c = np;
    for (size_t i = 0; i < s->nc; i++)
      p[np++] = (struct pollfd){ .fd = s->c[i].fd, .events = POLLIN };
    /* once it ended: what is still in the pipes, without waiting on them */
    int r = poll(p, (nfds_t)np, ended ? 0 : (pfd >= 0 ? -1 : 200));
    if (r < 0 && errno != EINTR)
      break;
    if (r < 0)
      continue;
    if (i_out >= 0 && p[i_out].revents)
      out_open = pump_out(s, s->out, NAT_F_OUT);
    else if (ended)
      out_open = false;
    if (i_err >= 0 && p[i_err].revents)
      err_open = pump_out(s, s->err, NAT_F_ERR);
    else if (ended)
      err_open = false;
    if ((i_pid >= 0 && p[i_pid].revents) || (pfd < 0 && exited(s->proc.pid)))
      ended = true;
    if (p[i_l].revents & POLLIN) {
      int c = accept4(s->lsock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (c >= 0 && s->nc < MAX_CLIENTS) {
        s->c[s->nc] = (struct client){ .fd = c };
        buf_init(&s->c[s->nc].rx, 2 * NAT_FRAME_MAX);
        s->nc++;
      } else if (c >= 0) {
        close(c);
      }
    }
    /* clients: newest first, so that a drop does not skip one */
    for (int k = np - 1; k >= first_c; k--) {
      size_t i = (size_t)(k - first_c);
      if (i < s->nc && p[k].revents && client_read(s, &s->c[i]) < 0)
        drop_client(s, i);
    }
  }
  int code = adr_native_reap(&s->proc);
  write_status(s, code);
  /* no new client; those attached hear the end */
  char path[64];
  nat_sock_path(path, sizeof(path), s->dirfd, "sock");
  unlink(path);
  close(s->lsock);
  for (size_t i = 0; i < s->nc; i++)
    if (s->c[i].attached)
      send_frame(s->c[i].fd, NAT_F_END, NULL, 0);
  nat_sock_path(path, sizeof(path), s->dirfd, "init");
  unlink(path);
  _exit(0);
}

static int listen_on(int dirfd)
{
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  nat_sock_path(a.sun_path, sizeof(a.sun_path), dirfd, "sock");
  unlink(a.sun_path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* the program's stdio: a terminal, or pipes (stdin: a pipe when it is
 * interactive, else /dev/null) */
static int make_stdio(struct sup *s, bool interactive, int stdio[3], int *close_after, size_t *nca)
{
  if (s->tty) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    char name[128];
    if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
      return -1;
    int sl = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (sl < 0)
      return -1;
    struct winsize ws = { .ws_row = 24, .ws_col = 80 };
    ioctl(m, TIOCSWINSZ, &ws);
    stdio[0] = stdio[1] = stdio[2] = sl;
    close_after[(*nca)++] = sl;
    s->out = s->in = m;
    s->err = -1;
    return 0;
  }
  int o[2], e[2];
  if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0)
    return -1;
  stdio[1] = o[1];
  stdio[2] = e[1];
  s->out = o[0];
  s->err = e[0];
  close_after[(*nca)++] = o[1];
  close_after[(*nca)++] = e[1];
  if (interactive) {
    int i[2];
    if (pipe2(i, O_CLOEXEC) < 0)
      return -1;
    stdio[0] = i[0];
    s->in = i[1];
    close_after[(*nca)++] = i[0];
  } else {
    int dn = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (dn < 0)
      return -1;
    stdio[0] = dn;
    s->in = -1;
    close_after[(*nca)++] = dn;
  }
  return 0;
}

/* DIR/NAME: "PID STARTTIME", so that a reader can tell pid's process
 * from one that took the pid since */
static int write_pid_record(int dirfd, const char *name, pid_t pid)
{
  char path[64];
  nat_sock_path(path, sizeof(path), dirfd, name);
  cleanup_free char *rec = xasprintf("%d %llu\n", (int)pid, adr_proc_start_time(pid));
  return write_file_atomic(path, rec, strlen(rec), 0600);
}

/* DIR/NAME: the lines of v */
static void write_lines(int dirfd, const char *name, const struct strv *v)
{
  char path[64];
  nat_sock_path(path, sizeof(path), dirfd, name);
  struct buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < v->n; i++)
    buf_printf(&b, "%s\n", v->v[i]);
  write_file_atomic(path, b.data ? b.data : "", b.len, 0600);
  buf_free(&b);
}

/* the supervisor's set-up; a failure goes to report, as text */
static __attribute__((noreturn)) void supervise(const char *dir, const struct adr_native_box *b,
                                                const struct nat_net *nl, bool interactive, bool detachable, int report)
{
  struct sup s = { .tty = b->tty, .detachable = detachable, .in = -1, .err = -1 };
  adr_err err = NULL;
  const char *what = "";
  prctl(PR_SET_NAME, "adr-native", 0, 0, 0);
  /* nothing of the caller's (its engine connections, its terminal) */
  if (report != 3 && dup3(report, 3, O_CLOEXEC) == 3)
    report = 3;
  syscall(SYS_close_range, 4U, ~0U, 0U);
  adr_native_stdio_null();
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  s.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char path[64];
  if (s.dirfd < 0) {
    what = "the sandbox's directory";
    goto fail;
  }
  nat_sock_path(path, sizeof(path), s.dirfd, "lock");
  s.lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (s.lock < 0 || nat_lock_take(s.lock) < 0) {
    what = "its lock (is it running already?)";
    goto fail;
  }
  nat_sock_path(path, sizeof(path), s.dirfd, "status.json");
  unlink(path);
  nat_sock_path(path, sizeof(path), s.dirfd, "log");
  s.log = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (s.log < 0) {
    what = "its log";
    goto fail;
  }
  if ((s.lsock = listen_on(s.dirfd)) < 0) {
    what = "its socket";
    goto fail;
  }
  int stdio[3], close_after[4];
  size_t nca = 0;
  if (make_stdio(&s, interactive, stdio, close_after, &nca) < 0) {
    what = "its terminal or pipes";
    goto fail;
  }
  struct adr_native_box box = *b;
  box.stdio = stdio;
  struct strv warnings = { 0 };
  box.warnings = &warnings;
  struct adr_native_holder h = { 0 };
  struct strv argv = { 0 };
  if (nl) {
    struct adr_native_holder_req rq = { .listen = nl->want, .blackholes = nl->blackholes, .outbound = nl->outbound };
    if (adr_native_holder_start(&rq, &h, &err) < 0)
      goto fail_err;
    for (size_t i = 0; i < b->argv->n; i++)
      strv_push(&argv, b->argv->v[i]);
    for (size_t i = 0; i < h.n; i++) {
      strv_push(&argv, nl->arg);
      strv_pushf(&argv, "%d", h.fds[i]);
    }
    box.argv = &argv;
    box.pass_fds = h.fds;
    box.n_pass_fds = h.n;
    if (write_pid_record(s.dirfd, "holder", h.pid) < 0) {
      what = "its network holder's record";
      goto fail;
    }
  }
  if (adr_native_spawn(&box, &s.proc, &err) < 0)
    goto fail_err;
  adr_native_holder_free(&h); /* the program has them; the holder lives on */
  strv_free(&argv);
  for (size_t i = 0; i < nca; i++)
    close(close_after[i]);
  if (s.in >= 0 && !s.tty)
    fcntl(s.in, F_SETFL, O_NONBLOCK);
  fcntl(s.out, F_SETFL, O_NONBLOCK);
  if (s.err >= 0)
    fcntl(s.err, F_SETFL, O_NONBLOCK);
  cleanup_free char *me = xasprintf("%d\n", (int)getpid());
  nat_sock_path(path, sizeof(path), s.dirfd, "supervisor");
  write_file_atomic(path, me, strlen(me), 0600);
  write_pid_record(s.dirfd, "init", s.proc.init);
  write_lines(s.dirfd, "cgroups", &s.proc.cg.dirs);
  write_lines(s.dirfd, "warnings", &warnings); /* what the caller shows: a limit that could not be had */
  strv_free(&warnings);
  if (write(report, "", 1) != 1)
    _exit(1);
  close(report);
  loop(&s);
fail:
  adr_err_sys(&err, errno, "%s", what);
fail_err:
  if (write(report, err->msg, strlen(err->msg)) < 0)
    _exit(1);
  _exit(1);
}

/* Starts a supervisor for box (the caller built it from the record):
 * double-forked, in a session of its own; 0 once the program runs. */
int nat_super_spawn(const char *dir, const struct adr_native_box *b, const struct nat_net *nl, bool interactive,
                    bool detachable, adr_err *err)
{
  int rp[2];
  if (pipe2(rp, O_CLOEXEC) < 0)
    return adr_err_sys(err, errno, "pipe");
  pid_t c = fork();
  if (c < 0) {
    close(rp[0]);
    close(rp[1]);
    return adr_err_sys(err, errno, "fork");
  }
  if (c == 0) {
    close(rp[0]);
    setsid();
    pid_t g = fork();
    if (g != 0)
      _exit(g < 0 ? 1 : 0);
    supervise(dir, b, nl, interactive, detachable, rp[1]);
  }
  close(rp[1]);
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
    ;
  char msg[600];
  ssize_t r;
  while ((r = read(rp[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
    ;
  close(rp[0]);
  if (r == 1 && msg[0] == '\0')
    return 0;
  if (r <= 0)
    return adr_err_set(err, EIO, "the sandbox's supervisor ended before it started it");
  msg[r] = '\0';
  return adr_err_set(err, EPERM, "%s", msg);
}

/* ------------------------------------------------------------ clients */

static int connect_to(const char *dir)
{
  cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return -1;
  struct sockaddr_un a = { .sun_family = AF_UNIX };
  nat_sock_path(a.sun_path, sizeof(a.sun_path), dfd, "sock");
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int nat_resize(const char *dir, unsigned rows, unsigned cols, adr_err *err)
{
  int fd = connect_to(dir);
  if (fd < 0)
    return adr_err_sys(err, errno, "resize: the sandbox is not running");
  unsigned char p[4] = { (unsigned char)(rows >> 8), (unsigned char)rows, (unsigned char)(cols >> 8),
                         (unsigned char)cols };
  int r = send_frame(fd, NAT_C_RESIZE, p, sizeof(p));
  close(fd);
  return r < 0 ? adr_err_sys(err, errno, "resize") : 0;
}

/* frames to fds; a partial frame stays in b */
struct demux {
  int out_fd, err_fd;
  bool raw;
  int64_t at;   /* log offset of what was taken */
  bool started; /* the NAT_F_START frame came */
  bool end;     /* the NAT_F_END frame came */
};

static int demux(struct demux *d, struct buf *b, bool from_log)
{
  while (b->len >= NAT_FRAME_HDR) {
    const unsigned char *h = (const unsigned char *)b->data;
    uint32_t n = get32(h + 4);
    if (n > NAT_FRAME_MAX)
      return -1;
    if (b->len < NAT_FRAME_HDR + n)
      break;
    const char *p = b->data + NAT_FRAME_HDR;
    if (h[0] == NAT_F_START && !from_log && n == 8) {
      d->at = get64(h + NAT_FRAME_HDR);
      d->started = true;
    } else if (h[0] == NAT_F_END && !from_log) {
      d->end = true;
    } else if (h[0] == NAT_F_OUT || h[0] == NAT_F_ERR) {
      int fd = h[0] == NAT_F_ERR && !d->raw ? d->err_fd : d->out_fd;
      if (fd >= 0 && nat_write_all(fd, p, n) < 0)
        return -1;
      d->at += NAT_FRAME_HDR + n;
    }
    buf_consume(b, NAT_FRAME_HDR + n);
  }
  return 0;
}

int nat_log_copy(const char *dir, int64_t from, int out_fd, int err_fd, bool raw, int64_t *end, adr_err *err)
{
  cleanup_free char *path = xasprintf("%s/log", dir);
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct demux d = { .out_fd = out_fd, .err_fd = err_fd, .raw = raw, .at = from < 0 ? 0 : from };
  if (end)
    *end = d.at;
  if (fd < 0)
    return errno == ENOENT ? 0 : adr_err_sys(err, errno, "read the log");
  struct buf b;
  buf_init(&b, 4 * NAT_FRAME_MAX);
  char chunk[65536];
  int64_t off = d.at;
  ssize_t r;
  int ret = 0;
  while ((r = pread(fd, chunk, sizeof(chunk), off)) > 0) {
    off += r;
    if (buf_append(&b, chunk, (size_t)r) < 0 || demux(&d, &b, true) < 0) {
      ret = adr_err_sys(err, errno ? errno : EIO, "copy the log");
      break;
    }
  }
  buf_free(&b);
  if (end)
    *end = d.at;
  return ret;
}

/* the bytes of "ctrl-p,ctrl-q"-style keys; 0 when none */
static size_t detach_seq(const char *keys, char *seq, size_t max)
{
  size_t n = 0;
  cleanup_free char *k = xstrdup(keys ? keys : "ctrl-p,ctrl-q");
  char *save = NULL;
  for (char *t = strtok_r(k, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save)) {
    if (str_has_prefix(t, "ctrl-") && strlen(t) == 6) {
      char c = t[5];
      if (c >= 'a' && c <= 'z')
        seq[n++] = (char)(c - 'a' + 1);
      else if (c == '@')
        seq[n++] = 0;
      else if (c >= '[' && c <= '_')
        seq[n++] = (char)(c - '[' + 27);
      else
        return 0;
    } else if (strlen(t) == 1) {
      seq[n++] = t[0];
    } else {
      return 0;
    }
  }
  return n;
}

/* asks the supervisor at sock for the log from offset from */
static int ask_attach(int sock, int64_t from, bool in)
{
  unsigned char m[9];
  put64(m, from);
  m[8] = in ? NAT_ATTACH_STDIN : 0;
  return send_frame(sock, NAT_C_ATTACH, m, sizeof(m));
}

static bool still_running(const char *dir)
{
  cleanup_free char *lock = xasprintf("%s/lock", dir);
  cleanup_close int lfd = open(lock, O_RDONLY | O_CLOEXEC);
  return lfd >= 0 && nat_lock_held(lfd);
}

int nat_attach(const char *dir, int64_t from, const struct adr_attach *a, adr_err *err)
{
  int sock = connect_to(dir);
  struct demux d = { .out_fd = a->out_fd, .err_fd = a->err_fd, .raw = a->tty, .at = from < 0 ? 0 : from };
  struct buf b;
  buf_init(&b, 4 * NAT_FRAME_MAX);
  int ret = 0;
  bool ready = false;
  if (sock < 0 && a->on_ready) {
    /* not started yet: on_ready starts it, then its supervisor answers */
    if (a->on_ready(a->ud, err) < 0) {
      buf_free(&b);
      return -1;
    }
    ready = true;
    sock = connect_to(dir);
  }
  if (sock >= 0 && from >= 0) {
    /* the log so far is read here, not replayed by the supervisor, which
     * would serve no other client while it sent a long one; it sends
     * only what came since */
    int64_t end;
    if (nat_log_copy(dir, from, a->out_fd, a->err_fd, a->tty, &end, err) < 0) {
      close(sock);
      buf_free(&b);
      return -1;
    }
    from = end;
    d.at = end;
  }
  if (sock >= 0 && ask_attach(sock, from, a->in_fd >= 0) < 0) {
    close(sock);
    sock = -1;
  }
  if (!ready && a->on_ready && a->on_ready(a->ud, err) < 0) {
    if (sock >= 0)
      close(sock);
    buf_free(&b);
    return -1;
  }
  char seq[16];
  size_t nseq = a->in_fd >= 0 && a->tty ? detach_seq(a->detach_keys, seq, sizeof(seq)) : 0, matched = 0;
  int in_fd = a->in_fd;
  bool detached = false, woken = false;
  char chunk[65536];
  for (;;) {
    while (sock >= 0 && !d.end && !detached && !woken && ret == 0) {
      struct pollfd p[3];
      int np = 0, i_in = -1, i_w = -1;
      p[np++] = (struct pollfd){ .fd = sock, .events = POLLIN };
      if (in_fd >= 0) {
        i_in = np;
        p[np++] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
      }
      if (a->wake_fd >= 0) {
        i_w = np;
        p[np++] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
      }
      if (poll(p, (nfds_t)np, -1) < 0) {
        if (errno != EINTR)
          ret = adr_err_sys(err, errno, "attach: poll");
        continue;
      }
      if (i_w >= 0 && (p[i_w].revents & POLLIN) && a->on_wake && a->on_wake(a->ud) < 0) {
        woken = true;
        break;
      }
      if (p[0].revents) {
        ssize_t r = read(sock, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR)
          continue;
        if (r <= 0) { /* gone before its end frame: again, or the rest is in the log */
          close(sock);
          sock = -1;
          buf_reset(&b);
          break;
        }
        if (buf_append(&b, chunk, (size_t)r) < 0 || demux(&d, &b, false) < 0) {
          ret = adr_err_sys(err, errno ? errno : EPROTO, "attach: write output");
          break;
        }
      }
      if (i_in >= 0 && p[i_in].revents) {
        ssize_t r = read(in_fd, chunk, sizeof(chunk));
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
          continue;
        if (r <= 0) {
          send_frame(sock, NAT_C_EOF, NULL, 0);
          in_fd = -1;
          continue;
        }
        /* the detach keys, typed in a row, are not passed on */
        for (size_t i = 0; nseq && i < (size_t)r; i++) {
          if (chunk[i] == seq[matched]) {
            if (++matched == nseq) {
              detached = true;
              r = (ssize_t)(i + 1 >= nseq ? i + 1 - nseq : 0);
              break;
            }
          } else {
            matched = chunk[i] == seq[0] ? 1 : 0;
          }
        }
        if (r > 0 && send_frame(sock, NAT_C_STDIN, chunk, (size_t)r) < 0)
          in_fd = -1;
      }
    }
    if (d.end || detached || woken || ret < 0)
      break;
    /* dropped (slow, or one client too many) while it still runs: again,
     * from where this client is; once it has ended, the log holds the rest */
    if (!still_running(dir))
      break;
    struct pollfd pw = { .fd = a->wake_fd, .events = POLLIN };
    if (poll(&pw, a->wake_fd >= 0 ? 1 : 0, 50) > 0 && a->on_wake && a->on_wake(a->ud) < 0) {
      woken = true;
      break;
    }
    if ((sock = connect_to(dir)) >= 0 && ask_attach(sock, d.started ? d.at : from, in_fd >= 0) < 0) {
      close(sock);
      sock = -1;
    }
  }
  if (sock >= 0)
    close(sock);
  if (ret == 0 && !d.end && !detached && !woken)
    ret = nat_log_copy(dir, d.started || from >= 0 ? d.at : 0, a->out_fd, a->err_fd, a->tty, NULL, err);
  buf_free(&b);
  return ret;
}
