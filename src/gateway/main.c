/* adr-gateway: the egress gateway of an adr sandbox.
 *
 * One epoll loop, non-blocking sockets, c-ares in the loop.  Every TCP
 * connection (proxy port and transparent ports alike) is read until it can
 * be classified (TLS ClientHello, CONNECT, absolute-form or origin-form
 * HTTP), decided on against the policy, resolved, connected and relayed
 * through two bounded buffers.  DNS questions are answered from the policy
 * alone.  One JSON log line per connection and per DNS query.
 *
 * Client and upstream sockets are edge-triggered: a side's "rd"/"wr" flag
 * says it may have more to give/take, and is cleared by EAGAIN.  Work cut
 * short for fairness goes on the run queue.  Connections are freed only at
 * the end of a loop iteration (and never while a c-ares query refers to
 * them), so an event for a finished connection is simply skipped.
 *
 * With --relay, the credential relay (relay.c) runs beside the loop in
 * threads of its own; the decision log is the one thing they share. */
#include "gw.h"
#include "relay.h"
#include "sys.h"
#include "util.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RBUF_CAP 65536
#define HEAD_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 10000
#define LINGER_MS 2000
#define MAX_ADDRS 4
#define ARES_TAG (1ull << 63)

enum wtype { W_LISTEN, W_DNS_UDP, W_CLIENT, W_UPSTREAM, W_SIGNAL };

struct conn;
struct listener;

struct watch {
  enum wtype t;
  int fd;
  bool rd, wr;
  struct conn *c;
  struct listener *l;
};

struct listener {
  struct watch w;
  uint16_t port;
  bool dns;
};

enum cstate { S_HEAD, S_RESOLVE, S_CONNECT, S_RELAY, S_LINGER, S_DNS };
enum cmode { M_NONE, M_CONNECT, M_ABS, M_ORIGIN, M_TLS };

struct rbuf {
  uint8_t *b;
  size_t off, len;
  /* the relay proper goes through a pipe with splice(2): bytes move from
   * socket to socket inside the kernel, never copied into the gateway.
   * pr/pw -1: no pipe (not relaying yet, or none could be made: then the
   * bytes go through b). pl: bytes in the pipe. */
  int pr, pw;
  size_t pl;
  /* the last splice into the pipe found it full (EAGAIN while it held
   * bytes): read again once some drained, whatever the socket says */
  bool stalled;
};

struct tlist {
  struct conn *head, *tail;
  uint64_t ms;
};

struct conn {
  struct watch cw, uw;
  enum cstate st;
  enum cmode mode;
  struct conn *prev, *next;   /* live connections */
  struct conn *tprev, *tnext; /* timer list */
  struct tlist *tl;
  uint64_t deadline;
  struct conn *rnext; /* run queue */
  bool queued;
  struct conn *gnext; /* graveyard */
  uint64_t t0;
  char client[64];
  uint16_t lport;
  uint8_t *head;
  size_t hlen;
  const char *via;
  char method[24];
  char host[GW_HOST_MAX + 1];
  int port;
  char sni[GW_HOST_MAX + 1];
  bool has_sni, has_method, has_host;
  bool allow;
  const char *rule;
  char error[256];
  struct gw_http_head hh;
  char name[GW_NAME_MAX + 1];
  struct gw_addr addrs[MAX_ADDRS];
  size_t naddr, ai;
  int last_errno;
  char upstream[64];
  bool has_upstream;
  struct rbuf up, down;
  bool c_eof, u_eof, u_shut, c_shut;
  uint64_t bytes_up, bytes_down;
  bool ares_pending, logged, dead;
};

struct ares_watch {
  int fd;
  uint32_t ev;
};

static struct {
  int ep;
  int logfd;
  int reserve_fd;
  const char *sandbox;
  struct gw_policy policy;
  struct in_addr bind, answer;
  uint16_t dns_port, proxy_port, relay_port; /* relay_port 0: no relay */
  unsigned max_conns, nconns;
  ares_channel ch;
  unsigned ares_queries;
  struct ares_watch *aw;
  size_t naw;
  struct conn *live;
  struct conn *runq;
  struct conn *grave;
  struct tlist t_head, t_connect, t_linger;
  uint64_t now;
  bool stop;
  uint64_t log_size, log_max;
  bool log_full;
  const uint16_t *ports; /* the transparent ports it listens on */
  size_t nports;
} g;

/* One of the gateway's own sockets: connecting there would loop. */
static bool is_self(const struct gw_addr *a, int port)
{
  if (a->family != AF_INET || (memcmp(a->a, &g.bind, 4) != 0 && memcmp(a->a, &g.answer, 4) != 0))
    return false;
  if (port == g.proxy_port || port == g.dns_port || (g.relay_port && port == g.relay_port))
    return true;
  for (size_t i = 0; i < g.nports; i++)
    if (g.ports[i] == port)
      return true;
  return false;
}

/* ---------------------------------------------------------------- helpers */

static uint64_t mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void keepalive(int fd)
{
  int one = 1, idle = 60, intvl = 20, cnt = 6;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

static int ep_add(int fd, uint32_t ev, void *ptr)
{
  struct epoll_event e = { .events = ev, .data.ptr = ptr };
  return epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &e);
}

/* The log is capped (--log-max): a sandbox flooding the gateway with
 * requests must not fill the host's disk.  One last line says so.  The
 * relay's threads write here too: one line at a time. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void write_log(const struct gw_logrec *r)
{
  char line[GW_LOG_LINE_MAX];
  size_t n = gw_log_format(r, line, sizeof(line));
  pthread_mutex_lock(&log_mu);
  if (g.log_full) {
    pthread_mutex_unlock(&log_mu);
    return;
  }
  if (g.log_size + n > g.log_max) {
    struct gw_logrec full = *r;
    full.rule = "log-full";
    full.error = "decision log reached --log-max; later decisions are not logged";
    n = gw_log_format(&full, line, sizeof(line));
    g.log_full = true;
  }
  g.log_size += n;
  ssize_t w;
  do
    w = write(g.logfd, line, n);
  while (w < 0 && errno == EINTR);
  pthread_mutex_unlock(&log_mu);
}

static void log_conn(struct conn *c)
{
  if (c->logged)
    return;
  c->logged = true;
  struct gw_logrec r = {
    .sandbox = g.sandbox,
    .client = c->client,
    .via = c->via,
    .method = c->has_method ? c->method : NULL,
    .host = c->has_host ? c->host : NULL,
    .port = c->port,
    .sni = c->has_sni ? c->sni : NULL,
    .allow = c->allow,
    .rule = c->rule,
    .bytes_up = c->bytes_up,
    .bytes_down = c->bytes_down,
    .duration_ms = mono_ms() - c->t0,
    .upstream = c->has_upstream ? c->upstream : NULL,
    .error = c->error[0] ? c->error : NULL,
  };
  clock_gettime(CLOCK_REALTIME, &r.time);
  write_log(&r);
}

__attribute__((format(printf, 2, 3))) static void set_error(struct conn *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof(c->error), fmt, ap);
  va_end(ap);
}

/* ---------------------------------------------------------------- timers, queues */

static void tlist_remove(struct conn *c)
{
  struct tlist *l = c->tl;
  if (l == NULL)
    return;
  if (c->tprev)
    c->tprev->tnext = c->tnext;
  else
    l->head = c->tnext;
  if (c->tnext)
    c->tnext->tprev = c->tprev;
  else
    l->tail = c->tprev;
  c->tprev = c->tnext = NULL;
  c->tl = NULL;
}

/* Every list has one timeout, so appending keeps it sorted. */
static void tlist_add(struct tlist *l, struct conn *c)
{
  tlist_remove(c);
  c->deadline = g.now + l->ms;
  c->tl = l;
  c->tprev = l->tail;
  c->tnext = NULL;
  if (l->tail)
    l->tail->tnext = c;
  else
    l->head = c;
  l->tail = c;
}

static void runq_add(struct conn *c)
{
  if (c->queued)
    return;
  c->queued = true;
  c->rnext = g.runq;
  g.runq = c;
}

static void rbuf_free(struct rbuf *b)
{
  free(b->b);
  b->b = NULL;
  b->off = b->len = 0;
}

static void pipe_open(struct rbuf *b)
{
  int fds[2];
  b->pr = b->pw = -1;
  b->pl = 0;
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    b->pr = fds[0];
    b->pw = fds[1];
  }
}

static void pipe_close(struct rbuf *b)
{
  if (b->pr >= 0)
    close(b->pr);
  if (b->pw >= 0)
    close(b->pw);
  b->pr = b->pw = -1;
  b->pl = 0;
}

static bool rbuf_put(struct rbuf *b, const void *p, size_t n)
{
  if (b->b == NULL) {
    b->b = xmalloc(RBUF_CAP);
    b->off = b->len = 0;
  }
  if (RBUF_CAP - b->len < n)
    return false;
  if (RBUF_CAP - b->off - b->len < n) {
    memmove(b->b, b->b + b->off, b->len);
    b->off = 0;
  }
  memcpy(b->b + b->off + b->len, p, n);
  b->len += n;
  return true;
}

/* The end of a connection: its log line (once), its sockets. */
static void finish(struct conn *c)
{
  if (c->dead)
    return;
  if (c->st != S_DNS)
    log_conn(c);
  c->dead = true;
  tlist_remove(c);
  if (c->cw.fd >= 0)
    close(c->cw.fd);
  if (c->uw.fd >= 0)
    close(c->uw.fd);
  c->cw.fd = c->uw.fd = -1;
  if (c->prev)
    c->prev->next = c->next;
  else
    g.live = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  g.nconns--;
  free(c->head);
  c->head = NULL;
  rbuf_free(&c->up);
  rbuf_free(&c->down);
  pipe_close(&c->up);
  pipe_close(&c->down);
  c->gnext = g.grave;
  g.grave = c;
}

static void bury(void)
{
  struct conn **pp = &g.grave;
  while (*pp) {
    struct conn *c = *pp;
    if (c->ares_pending || c->queued) {
      pp = &c->gnext;
      continue;
    }
    *pp = c->gnext;
    free(c);
  }
}

/* ---------------------------------------------------------------- replies */

static void printable(const char *s, char *out, size_t cap)
{
  size_t o = 0;
  for (; *s && o + 1 < cap; s++)
    out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  out[o] = '\0';
}

static void send_reply(struct conn *c, int status, const char *reason, const char *tag, const char *body)
{
  char b[2048];
  int n = snprintf(b, sizeof(b),
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\nX-Adr-Egress: %s\r\n\r\n%s",
                   status, reason, strlen(body), tag, body);
  if (n < 0 || (size_t)n >= sizeof(b))
    return;
  ssize_t w = send(c->cw.fd, b, (size_t)n, MSG_NOSIGNAL);
  if (w > 0)
    c->bytes_down += (uint64_t)w;
}

static void host_port(const struct conn *c, char *out, size_t cap)
{
  char h[GW_HOST_MAX + 1];
  printable(c->has_host ? c->host : "(none)", h, sizeof(h));
  if (strchr(h, ':'))
    snprintf(out, cap, "[%s]:%d", h, c->port);
  else
    snprintf(out, cap, "%s:%d", h, c->port);
}

static bool looks_http(const struct conn *c)
{
  size_t i = 0;
  while (i < c->hlen && i < 24 && c->head[i] >= 'A' && c->head[i] <= 'Z')
    i++;
  return i > 0 && i < c->hlen && c->head[i] == ' ';
}

/* After a reply: log, stop writing, read and drop what the client still
 * sends (closing with unread data would reset the connection and could
 * destroy the reply), close on EOF or after LINGER_MS. */
static void linger(struct conn *c)
{
  log_conn(c);
  if (c->uw.fd >= 0) {
    close(c->uw.fd);
    c->uw.fd = -1;
  }
  shutdown(c->cw.fd, SHUT_WR);
  c->st = S_LINGER;
  free(c->head);
  c->head = NULL;
  rbuf_free(&c->up);
  rbuf_free(&c->down);
  tlist_add(&g.t_linger, c);
  c->cw.rd = true;
  char sink[4096];
  for (;;) {
    ssize_t n = recv(c->cw.fd, sink, sizeof(sink), 0);
    if (n > 0)
      continue;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    finish(c);
    return;
  }
}

/* A denial: status 0 closes without a reply. */
static void deny(struct conn *c, const char *rule, int status)
{
  c->allow = false;
  c->rule = rule;
  if (status == 0) {
    finish(c);
    return;
  }
  char hp[300], r[GW_HOST_MAX + 1], body[1024];
  host_port(c, hp, sizeof(hp));
  printable(rule, r, sizeof(r));
  if (status == 403) {
    snprintf(body, sizeof(body), "adr: egress to %s denied (%s)\n", hp, r);
    send_reply(c, 403, "Forbidden", "denied", body);
  } else if (status == 431) {
    snprintf(body, sizeof(body), "adr: request head larger than %d bytes\n", GW_HEAD_MAX);
    send_reply(c, 431, "Request Header Fields Too Large", "denied", body);
  } else {
    snprintf(body, sizeof(body), "adr: bad request (%s)\n", c->error[0] ? c->error : r);
    send_reply(c, 400, "Bad Request", "denied", body);
  }
  linger(c);
}

/* An allowed connection that could not be made. */
static void fail(struct conn *c)
{
  if (c->mode == M_CONNECT || c->mode == M_ABS || c->mode == M_ORIGIN) {
    char hp[300], body[1024];
    host_port(c, hp, sizeof(hp));
    snprintf(body, sizeof(body), "adr: egress to %s failed: %s\n", hp, c->error);
    send_reply(c, 502, "Bad Gateway", "error", body);
    linger(c);
    return;
  }
  finish(c);
}

/* ---------------------------------------------------------------- relay */

/* Bytes in flight from src to dst: the buffer's and the pipe's. */
static size_t inflight(const struct rbuf *b) { return b->len + b->pl; }

/* splice(2) src -> pipe -> dst; the buffer (the head, a 200 reply) is
 * flushed before any spliced byte, so order is kept. */
static int move_splice(struct conn *c, struct watch *src, struct watch *dst, struct rbuf *b, bool *eof,
                       uint64_t *count)
{
  int prog = 0;
  if (src->rd && !*eof && b->pl < RBUF_CAP && !b->stalled) {
    ssize_t n = splice(src->fd, NULL, b->pw, NULL, RBUF_CAP - b->pl, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      b->pl += (size_t)n;
      prog = 1;
    } else if (n == 0) {
      *eof = true;
      prog = 1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      /* an empty socket, or a pipe out of slots (small packets fill its 16
       * pages long before RBUF_CAP bytes): only an empty pipe tells */
      if (b->pl == 0)
        src->rd = false;
      else
        b->stalled = true;
    } else if (errno != EINTR) {
      set_error(c, "%s: %s", src == &c->cw ? "client" : "upstream", strerror(errno));
      return -1;
    }
  }
  if (dst->wr && b->pl > 0) {
    ssize_t n = splice(b->pr, NULL, dst->fd, NULL, b->pl, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      b->pl -= (size_t)n;
      *count += (uint64_t)n;
      b->stalled = false;
      prog = 1;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      dst->wr = false;
    } else if (n < 0 && errno != EINTR) {
      set_error(c, "%s: %s", dst == &c->cw ? "client" : "upstream", strerror(errno));
      return -1;
    }
  }
  return prog;
}

static int move(struct conn *c, struct watch *src, struct watch *dst, struct rbuf *b, bool *eof, uint64_t *count)
{
  if (b->pr >= 0 && b->len == 0)
    return move_splice(c, src, dst, b, eof, count);
  int prog = 0;
  /* with a pipe, the buffer only drains (what was queued before relaying) */
  if (b->pr < 0 && src->rd && !*eof && b->len < RBUF_CAP) {
    if (b->b == NULL) {
      b->b = xmalloc(RBUF_CAP);
      b->off = b->len = 0;
    }
    if (b->off + b->len == RBUF_CAP) {
      memmove(b->b, b->b + b->off, b->len);
      b->off = 0;
    }
    ssize_t n = recv(src->fd, b->b + b->off + b->len, RBUF_CAP - b->off - b->len, 0);
    if (n > 0) {
      b->len += (size_t)n;
      prog = 1;
    } else if (n == 0) {
      *eof = true;
      prog = 1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      src->rd = false;
    } else if (errno != EINTR) {
      set_error(c, "%s: %s", src == &c->cw ? "client" : "upstream", strerror(errno));
      return -1;
    }
  }
  if (dst->wr && b->len > 0) {
    ssize_t n = send(dst->fd, b->b + b->off, b->len, MSG_NOSIGNAL);
    if (n > 0) {
      b->off += (size_t)n;
      b->len -= (size_t)n;
      *count += (uint64_t)n;
      prog = 1;
      if (b->len == 0)
        rbuf_free(b); /* idle connections hold no buffers */
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      dst->wr = false;
    } else if (n < 0 && errno != EINTR) {
      set_error(c, "%s: %s", dst == &c->cw ? "client" : "upstream", strerror(errno));
      return -1;
    }
  }
  if (b->b && b->len == 0)
    rbuf_free(b);
  return prog;
}

static bool can_progress(const struct conn *c)
{
  return (c->cw.rd && !c->c_eof && !c->up.stalled && inflight(&c->up) < RBUF_CAP) ||
         (c->uw.wr && inflight(&c->up)) ||
         (c->uw.rd && !c->u_eof && !c->down.stalled && inflight(&c->down) < RBUF_CAP) ||
         (c->cw.wr && inflight(&c->down));
}

static void pump(struct conn *c)
{
  if (c->dead || c->st != S_RELAY)
    return;
  for (int round = 0; round < 16; round++) {
    int a = move(c, &c->cw, &c->uw, &c->up, &c->c_eof, &c->bytes_up);
    int b = a < 0 ? -1 : move(c, &c->uw, &c->cw, &c->down, &c->u_eof, &c->bytes_down);
    if (a < 0 || b < 0) {
      finish(c);
      return;
    }
    if (!a && !b)
      break;
  }
  if (c->c_eof && inflight(&c->up) == 0 && !c->u_shut) {
    shutdown(c->uw.fd, SHUT_WR);
    c->u_shut = true;
  }
  if (c->u_eof && inflight(&c->down) == 0 && !c->c_shut) {
    shutdown(c->cw.fd, SHUT_WR);
    c->c_shut = true;
  }
  if (c->u_shut && c->c_shut) {
    finish(c);
    return;
  }
  if (can_progress(c))
    runq_add(c);
}

static void connected(struct conn *c)
{
  tlist_remove(c);
  c->has_upstream = true;
  c->st = S_RELAY;
  keepalive(c->cw.fd);
  keepalive(c->uw.fd);
  size_t hl = c->hh.head_len;
  if (c->mode == M_CONNECT) {
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    rbuf_put(&c->down, ok, sizeof(ok) - 1);
    if (c->hlen > hl)
      rbuf_put(&c->up, c->head + hl, c->hlen - hl);
  } else if (c->mode == M_ABS) {
    /* bare-LF lines become CRLF: up to twice the head, plus the headers added */
    char *out = xmalloc(2 * GW_HEAD_MAX + 1024);
    long n = gw_http_rewrite((const char *)c->head, &c->hh, out, 2 * GW_HEAD_MAX + 1024);
    if (n < 0) { /* cannot happen: the rewrite is at most the head plus a few headers */
      free(out);
      set_error(c, "rewrite: head too large");
      finish(c);
      return;
    }
    rbuf_put(&c->up, out, (size_t)n);
    free(out);
    if (c->hlen > hl)
      rbuf_put(&c->up, c->head + hl, c->hlen - hl);
  } else {
    rbuf_put(&c->up, c->head, c->hlen);
  }
  free(c->head);
  c->head = NULL;
  pipe_open(&c->up);
  pipe_open(&c->down);
  c->uw.wr = true;
  c->cw.rd = true;
  c->cw.wr = true;
  pump(c);
}

static void connect_next(struct conn *c)
{
  while (c->ai < c->naddr) {
    const struct gw_addr *a = &c->addrs[c->ai++];
    if (is_self(a, c->port)) {
      c->last_errno = ELOOP; /* itself, whatever a broad rule says */
      continue;
    }
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      c->last_errno = errno;
      continue;
    }
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (a->family == AF_INET) {
      struct sockaddr_in *s = (struct sockaddr_in *)&ss;
      s->sin_family = AF_INET;
      s->sin_port = htons((uint16_t)c->port);
      memcpy(&s->sin_addr, a->a, 4);
      sl = sizeof(*s);
    } else {
      struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
      s->sin6_family = AF_INET6;
      s->sin6_port = htons((uint16_t)c->port);
      memcpy(&s->sin6_addr, a->a, 16);
      sl = sizeof(*s);
    }
    int r = connect(fd, (struct sockaddr *)&ss, sl);
    if (r < 0 && errno != EINPROGRESS) {
      c->last_errno = errno;
      close(fd);
      continue;
    }
    gw_addr_format(a, c->port, c->upstream, sizeof(c->upstream));
    c->uw = (struct watch){ .t = W_UPSTREAM, .fd = fd, .c = c };
    if (ep_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->uw) < 0) {
      c->last_errno = errno;
      close(fd);
      c->uw.fd = -1;
      continue;
    }
    c->st = S_CONNECT;
    tlist_add(&g.t_connect, c);
    if (r == 0)
      connected(c);
    return;
  }
  if (c->last_errno == ELOOP)
    set_error(c, "connect: refused: that is the gateway itself");
  else
    set_error(c, "connect: %s", strerror(c->last_errno ? c->last_errno : ECONNREFUSED));
  fail(c);
}

static void connect_failed(struct conn *c, int e)
{
  close(c->uw.fd);
  c->uw.fd = -1;
  c->last_errno = e;
  tlist_remove(c);
  connect_next(c);
}

static void on_resolved(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
  (void)timeouts;
  struct conn *c = arg;
  c->ares_pending = false;
  g.ares_queries--;
  if (c->dead) {
    if (res)
      ares_freeaddrinfo(res);
    return;
  }
  if (status != ARES_SUCCESS) {
    if (res)
      ares_freeaddrinfo(res);
    set_error(c, "resolve: %s", ares_strerror(status));
    fail(c);
    return;
  }
  struct gw_addr v[64];
  size_t n = 0;
  for (struct ares_addrinfo_node *a = res->nodes; a && n < ARRAY_SIZE(v); a = a->ai_next) {
    memset(&v[n], 0, sizeof(v[n]));
    if (a->ai_family == AF_INET && a->ai_addr) {
      v[n].family = AF_INET;
      memcpy(v[n].a, &((struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
      n++;
    } else if (a->ai_family == AF_INET6 && a->ai_addr) {
      v[n].family = AF_INET6;
      memcpy(v[n].a, &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
      n++;
    }
  }
  ares_freeaddrinfo(res);
  const char *reason = NULL;
  size_t k = gw_filter_addrs(&g.policy, (uint16_t)c->port, v, n, MAX_ADDRS, &reason);
  if (k == 0) {
    deny(c, reason, c->mode == M_TLS ? 0 : 403);
    return;
  }
  memcpy(c->addrs, v, k * sizeof(v[0]));
  c->naddr = k;
  c->ai = 0;
  connect_next(c);
}

/* ---------------------------------------------------------------- classification */

static void decide(struct conn *c)
{
  struct gw_decision d;
  gw_decide(&g.policy, c->host, (uint16_t)c->port, &d);
  if (!d.allow) {
    deny(c, d.rule, c->mode == M_TLS ? 0 : 403);
    return;
  }
  c->allow = true;
  c->rule = d.rule;
  tlist_remove(c);
  if (d.is_ip) {
    c->addrs[0] = d.addr;
    c->naddr = 1;
    c->ai = 0;
    connect_next(c);
    return;
  }
  memcpy(c->name, d.name, sizeof(c->name));
  c->st = S_RESOLVE;
  c->ares_pending = true;
  g.ares_queries++;
  struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT };
  ares_getaddrinfo(g.ch, c->name, NULL, &hints, on_resolved, c); /* may call back at once (hosts file) */
}

static void classify(struct conn *c)
{
  bool full = c->hlen >= GW_HEAD_MAX;
  if (c->hlen == 0) {
    if (c->c_eof) {
      set_error(c, "client closed without a request");
      deny(c, "bad-request", 0);
    }
    return;
  }
  if (c->head[0] == 0x16) {
    c->via = "transparent";
    c->mode = M_TLS;
    snprintf(c->method, sizeof(c->method), "TLS");
    c->has_method = true;
    int r = gw_sni_parse(c->head, c->hlen, c->sni);
    if (r == GW_SNI_MORE && !full && !c->c_eof)
      return;
    if (r == GW_SNI_MORE) {
      set_error(c, full ? "ClientHello larger than %d bytes" : "client closed in the ClientHello", GW_HEAD_MAX);
      deny(c, "bad-request", 0);
    } else if (r == GW_SNI_BAD) {
      set_error(c, "malformed ClientHello");
      deny(c, "bad-request", 0);
    } else if (r == GW_SNI_NONE) {
      deny(c, "no-name", 0);
    } else {
      c->has_sni = c->has_host = true;
      memcpy(c->host, c->sni, sizeof(c->host));
      decide(c);
    }
    return;
  }
  struct gw_http_head *h = &c->hh;
  int r = gw_http_parse((const char *)c->head, c->hlen, h);
  if (r == GW_HTTP_MORE && !full && !c->c_eof)
    return;
  bool http = looks_http(c);
  if (h->method[0]) {
    memcpy(c->method, h->method, sizeof(c->method));
    c->has_method = true;
  }
  switch (r) {
  case GW_HTTP_MORE:
    set_error(c, full ? "request head larger than %d bytes" : "client closed in the request head", GW_HEAD_MAX);
    deny(c, "bad-request", http && full ? 431 : 0);
    return;
  case GW_HTTP_BAD:
    set_error(c, http ? "malformed HTTP request" : "not TLS or HTTP");
    deny(c, "bad-request", http ? 400 : 0);
    return;
  case GW_HTTP_HTTPS:
    c->via = "proxy";
    set_error(c, "https:// URL in a proxy request (use CONNECT)");
    deny(c, "bad-request", 400);
    return;
  case GW_HTTP_NOHOST:
    c->via = "transparent";
    deny(c, "no-name", 403);
    return;
  default:
    break;
  }
  c->has_host = true;
  memcpy(c->host, h->host, sizeof(c->host));
  if (h->form == GW_HTTP_CONNECT) {
    c->via = "proxy";
    c->mode = M_CONNECT;
    c->port = h->port;
  } else if (h->form == GW_HTTP_ABSOLUTE) {
    c->via = "proxy";
    c->mode = M_ABS;
    c->port = h->port;
  } else {
    c->via = "transparent";
    c->mode = M_ORIGIN;
  }
  decide(c);
}

static void head_read(struct conn *c)
{
  while (c->cw.rd && !c->c_eof && c->hlen < GW_HEAD_MAX) {
    ssize_t n = recv(c->cw.fd, c->head + c->hlen, GW_HEAD_MAX - c->hlen, 0);
    if (n > 0) {
      c->hlen += (size_t)n;
    } else if (n == 0) {
      c->c_eof = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->cw.rd = false;
    } else if (errno != EINTR) {
      set_error(c, "client: %s", strerror(errno));
      deny(c, "bad-request", 0);
      return;
    }
  }
  classify(c);
}

/* ---------------------------------------------------------------- DNS */

/* Answer one query (m, len) from client; returns the answer's length, 0 to
 * drop it.  Writes the log line. */
static size_t dns_answer(const uint8_t *m, size_t len, const char *client, uint8_t *out, size_t cap)
{
  struct gw_dns_query q;
  struct gw_logrec r = { .sandbox = g.sandbox, .client = client, .via = "dns", .method = "DNS",
                         .port = g.dns_port, .dns = true };
  char tn[16], norm[GW_NAME_MAX + 1];
  size_t n = 0;
  int pr = gw_dns_parse(m, len, &q);
  if (pr < 0) {
    r.rule = "bad-request";
    r.error = "malformed DNS message";
  } else if (pr > 0) {
    r.rule = "bad-request";
    r.error = pr == GW_DNS_NOTIMP ? "not a standard query" : "malformed DNS query";
    n = gw_dns_error(m, pr, out, cap);
  } else {
    r.qtype = gw_dns_type_name(q.qtype, tn);
    r.host = q.name;
    const struct gw_rule *rule = NULL;
    if (!q.name_ok || gw_name_normalize(q.name, strlen(q.name), norm) < 0) {
      r.rule = "bad-name";
    } else {
      r.host = norm;
      /* reverse names never: they would name addresses, not hosts */
      if (!str_has_suffix(norm, ".in-addr.arpa") && !str_has_suffix(norm, ".ip6.arpa") && q.qtype != 12)
        rule = gw_policy_match_name(&g.policy, norm);
      r.rule = rule ? rule->label : "no-match";
    }
    r.allow = rule != NULL;
    const uint8_t *a4 = NULL;
    if (r.allow && q.qtype == 1 && (q.qclass == 1 || q.qclass == 255))
      a4 = (const uint8_t *)&g.answer;
    n = gw_dns_answer(m, &q, r.allow ? GW_DNS_NOERROR : GW_DNS_NXDOMAIN, a4, out, cap);
  }
  r.bytes_down = n;
  clock_gettime(CLOCK_REALTIME, &r.time);
  write_log(&r);
  return n;
}

static void on_dns_udp(struct listener *l)
{
  for (int k = 0; k < 64; k++) {
    uint8_t m[GW_DNS_MAX + 1], out[GW_DNS_MAX + 64];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    ssize_t n = recvfrom(l->w.fd, m, sizeof(m), 0, (struct sockaddr *)&ss, &sl);
    if (n < 0)
      return;
    char client[64];
    gw_sockaddr_format(&ss, client, sizeof(client));
    size_t an = dns_answer(m, (size_t)n, client, out, sizeof(out));
    if (an > 0)
      sendto(l->w.fd, out, an, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&ss, sl);
  }
}

static void dns_tcp(struct conn *c)
{
  for (;;) {
    if (c->down.len && c->cw.wr) {
      ssize_t n = send(c->cw.fd, c->down.b + c->down.off, c->down.len, MSG_NOSIGNAL);
      if (n > 0) {
        c->down.off += (size_t)n;
        c->down.len -= (size_t)n;
        if (c->down.len == 0)
          rbuf_free(&c->down);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        c->cw.wr = false;
      else if (!(n < 0 && errno == EINTR)) {
        finish(c);
        return;
      }
    }
    if (c->down.len)
      break; /* wait until the answers are out */
    bool answered = false;
    while (c->hlen >= 2) {
      size_t ml = (size_t)c->head[0] << 8 | c->head[1];
      if (ml > GW_DNS_MAX || ml == 0) {
        finish(c);
        return;
      }
      if (c->hlen < 2 + ml)
        break;
      uint8_t out[GW_DNS_MAX + 66];
      size_t an = dns_answer(c->head + 2, ml, c->client, out + 2, sizeof(out) - 2);
      if (an > 0) {
        out[0] = (uint8_t)(an >> 8);
        out[1] = (uint8_t)an;
        rbuf_put(&c->down, out, an + 2);
      }
      memmove(c->head, c->head + 2 + ml, c->hlen - 2 - ml);
      c->hlen -= 2 + ml;
      answered = true;
      if (c->down.len > RBUF_CAP - sizeof(out))
        break;
    }
    if (answered) {
      tlist_add(&g.t_head, c); /* idle timeout starts again */
      continue;
    }
    if (!c->cw.rd || c->c_eof)
      break;
    ssize_t n = recv(c->cw.fd, c->head + c->hlen, GW_HEAD_MAX - c->hlen, 0);
    if (n > 0)
      c->hlen += (size_t)n;
    else if (n == 0)
      c->c_eof = true;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
      c->cw.rd = false;
    else if (errno != EINTR) {
      finish(c);
      return;
    }
  }
  if (c->c_eof && c->down.len == 0)
    finish(c);
}

/* ---------------------------------------------------------------- accept */

static void log_overload(const char *client, uint16_t port, bool dns)
{
  struct gw_logrec r = { .sandbox = g.sandbox, .client = client,
                         .via = dns ? "dns" : port == g.proxy_port ? "proxy" : "transparent", .port = port,
                         .rule = "overload", .error = "too many connections", .dns = dns };
  clock_gettime(CLOCK_REALTIME, &r.time);
  write_log(&r);
}

static void on_listen(struct listener *l)
{
  for (int k = 0; k < 64; k++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(l->w.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if ((errno == EMFILE || errno == ENFILE) && g.reserve_fd >= 0) {
        /* out of descriptors: accept with the reserve and close, so the
         * listener does not stay readable for ever */
        close(g.reserve_fd);
        fd = accept4(l->w.fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
        if (fd >= 0) {
          char client[64];
          gw_sockaddr_format(&ss, client, sizeof(client));
          log_overload(client, l->port, l->dns);
          close(fd);
        }
        g.reserve_fd = eventfd(0, EFD_CLOEXEC);
        continue;
      }
      return;
    }
    char client[64];
    gw_sockaddr_format(&ss, client, sizeof(client));
    struct sockaddr_storage ls;
    socklen_t lsl = sizeof(ls);
    uint16_t lport = l->port;
    if (getsockname(fd, (struct sockaddr *)&ls, &lsl) == 0 && ls.ss_family == AF_INET)
      lport = ntohs(((struct sockaddr_in *)&ls)->sin_port);
    if (g.nconns >= g.max_conns) {
      log_overload(client, lport, l->dns);
      close(fd);
      continue;
    }
    struct conn *c = xcalloc(1, sizeof(*c));
    c->up.pr = c->up.pw = c->down.pr = c->down.pw = -1;
    c->cw = (struct watch){ .t = W_CLIENT, .fd = fd, .c = c, .rd = true };
    c->uw.fd = -1;
    c->t0 = mono_ms();
    memcpy(c->client, client, sizeof(c->client));
    c->lport = lport;
    c->via = lport == g.proxy_port ? "proxy" : "transparent";
    c->port = lport;
    c->st = l->dns ? S_DNS : S_HEAD;
    c->head = xmalloc(GW_HEAD_MAX);
    c->next = g.live;
    if (g.live)
      g.live->prev = c;
    g.live = c;
    g.nconns++;
    if (ep_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->cw) < 0) {
      set_error(c, "epoll: %s", strerror(errno));
      c->rule = "overload";
      finish(c);
      continue;
    }
    tlist_add(&g.t_head, c);
    if (l->dns)
      dns_tcp(c);
    else
      head_read(c);
  }
}

/* ---------------------------------------------------------------- events */

static void on_client(struct conn *c, uint32_t ev)
{
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    c->cw.rd = true;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
    c->cw.wr = true;
  switch (c->st) {
  case S_HEAD:
    head_read(c);
    break;
  case S_RELAY:
    pump(c);
    break;
  case S_DNS:
    dns_tcp(c);
    break;
  case S_LINGER: {
    char sink[4096];
    for (;;) {
      ssize_t n = recv(c->cw.fd, sink, sizeof(sink), 0);
      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      finish(c);
      break;
    }
    break;
  }
  default:
    break; /* resolving or connecting: the flags are enough for later */
  }
}

static void on_upstream(struct conn *c, uint32_t ev)
{
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
    c->uw.rd = true;
  if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
    c->uw.wr = true;
  if (c->st == S_CONNECT) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
      return;
    int e = 0;
    socklen_t el = sizeof(e);
    if (getsockopt(c->uw.fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
      e = errno;
    if (e == 0 && (ev & EPOLLHUP))
      e = ECONNREFUSED;
    if (e)
      connect_failed(c, e);
    else
      connected(c);
    return;
  }
  if (c->st == S_RELAY)
    pump(c);
}

static void on_timeout(struct conn *c)
{
  switch (c->st) {
  case S_HEAD:
    set_error(c, "no complete request within %d s", HEAD_TIMEOUT_MS / 1000);
    deny(c, "bad-request", 0);
    break;
  case S_CONNECT:
    connect_failed(c, ETIMEDOUT);
    break;
  default:
    finish(c);
    break;
  }
}

static void expire(struct tlist *l)
{
  while (l->head && l->head->deadline <= g.now) {
    struct conn *c = l->head;
    tlist_remove(c);
    on_timeout(c);
  }
}

static void ares_sock_cb(void *data, ares_socket_t fd, int readable, int writable)
{
  (void)data;
  size_t i;
  for (i = 0; i < g.naw; i++)
    if (g.aw[i].fd == fd)
      break;
  uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
  struct epoll_event e = { .events = ev, .data.u64 = ARES_TAG | (uint32_t)fd };
  if (ev == 0) {
    if (i < g.naw) {
      epoll_ctl(g.ep, EPOLL_CTL_DEL, fd, NULL);
      g.aw[i] = g.aw[--g.naw];
    }
    return;
  }
  if (i == g.naw) {
    g.aw = xrealloc(g.aw, (g.naw + 1) * sizeof(*g.aw));
    g.aw[g.naw++] = (struct ares_watch){ .fd = fd, .ev = ev };
    epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &e);
  } else if (g.aw[i].ev != ev) {
    g.aw[i].ev = ev;
    epoll_ctl(g.ep, EPOLL_CTL_MOD, fd, &e);
  }
}

/* The log line of every open connection, then no more connections. */
static void shutdown_all(void)
{
  while (g.live) {
    struct conn *c = g.live;
    if (c->st == S_HEAD) {
      c->rule = "shutdown";
    } else if (c->st == S_RESOLVE || c->st == S_CONNECT) {
      if (!c->error[0])
        set_error(c, "shutdown");
    }
    finish(c);
  }
}

static int loop(void)
{
  struct epoll_event evs[256];
  while (!g.stop) {
    int timeout = -1;
    uint64_t next = UINT64_MAX;
    struct tlist *lists[] = { &g.t_head, &g.t_connect, &g.t_linger };
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
      if (lists[i]->head && lists[i]->head->deadline < next)
        next = lists[i]->head->deadline;
    if (next != UINT64_MAX)
      timeout = next <= g.now ? 0 : (int)(next - g.now);
    if (g.ares_queries) {
      struct timeval tv, *tvp = ares_timeout(g.ch, NULL, &tv);
      if (tvp) {
        int ms = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) + 1;
        if (timeout < 0 || ms < timeout)
          timeout = ms;
      }
    }
    if (g.runq)
      timeout = 0;
    int n = epoll_wait(g.ep, evs, (int)ARRAY_SIZE(evs), timeout);
    if (n < 0 && errno != EINTR)
      return -1;
    g.now = mono_ms();
    for (int i = 0; i < n && !g.stop; i++) {
      uint32_t ev = evs[i].events;
      if (evs[i].data.u64 & ARES_TAG) {
        int fd = (int)(uint32_t)evs[i].data.u64;
        ares_process_fd(g.ch, (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
                        (ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
        continue;
      }
      struct watch *w = evs[i].data.ptr;
      switch (w->t) {
      case W_LISTEN:
        on_listen(w->l);
        break;
      case W_DNS_UDP:
        on_dns_udp(w->l);
        break;
      case W_CLIENT:
        if (!w->c->dead)
          on_client(w->c, ev);
        break;
      case W_UPSTREAM:
        if (!w->c->dead)
          on_upstream(w->c, ev);
        break;
      case W_SIGNAL: {
        struct signalfd_siginfo si;
        if (read(w->fd, &si, sizeof(si)) > 0)
          g.stop = true;
        break;
      }
      }
    }
    if (g.stop)
      break;
    if (g.ares_queries)
      ares_process_fd(g.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    expire(&g.t_head);
    expire(&g.t_connect);
    expire(&g.t_linger);
    struct conn *q = g.runq;
    g.runq = NULL;
    while (q) {
      struct conn *c = q;
      q = c->rnext;
      c->queued = false;
      pump(c);
    }
    bury();
  }
  shutdown_all();
  while (g.runq) {
    g.runq->queued = false;
    g.runq = g.runq->rnext;
  }
  return 0;
}

/* ---------------------------------------------------------------- start-up */

static struct listener *listeners;
static size_t nlisteners;

static int listen_on(uint16_t port, int type, bool dns, adr_err *err)
{
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return adr_err_sys(err, errno, "socket");
  int one = 1;
  if (type == SOCK_STREAM) /* for UDP it would let two gateways share the port */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = g.bind };
  char addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &g.bind, addr, sizeof(addr));
  const char *proto = type == SOCK_DGRAM ? "udp" : "tcp";
  if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    int e = errno;
    close(fd);
    return adr_err_sys(err, e, "bind %s:%u/%s", addr, port, proto);
  }
  if (type == SOCK_STREAM && listen(fd, 1024) < 0) {
    int e = errno;
    close(fd);
    return adr_err_sys(err, e, "listen %s:%u/%s", addr, port, proto);
  }
  listeners = xrealloc(listeners, (nlisteners + 1) * sizeof(*listeners));
  struct listener *l = &listeners[nlisteners++];
  l->w = (struct watch){ .t = type == SOCK_DGRAM ? W_DNS_UDP : W_LISTEN, .fd = fd };
  l->port = port;
  l->dns = dns;
  return 0;
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
      if (parse_port("--resolver", rb + 2, &port, err) < 0)
        return -1;
    } else if (rb[1]) {
      goto bad;
    }
  } else if (colon && strchr(s, ':') == colon) { /* one colon: IPv4:PORT */
    alen = (size_t)(colon - s);
    if (parse_port("--resolver", colon + 1, &port, err) < 0)
      return -1;
  }
  if (gw_addr_parse(s, alen, &a) < 0)
    goto bad;
  char t[INET6_ADDRSTRLEN];
  inet_ntop(a.family, a.a, t, sizeof(t));
  snprintf(out, cap, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", t, port);
  return 0;
bad:
  return adr_err_set(err, EINVAL, "--resolver: bad address '%s' (want IP or IP:PORT)", s);
}

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

static int block_signals(sigset_t *set)
{
  sigemptyset(set);
  sigaddset(set, SIGTERM);
  sigaddset(set, SIGINT);
  signal(SIGPIPE, SIG_IGN);
  return sigprocmask(SIG_BLOCK, set, NULL);
}

struct opts {
  const char *policy, *log, *sandbox, *bind, *answer, *ready;
  const char *relay, *ca;
  uint16_t dns_port, proxy_port, relay_port;
  uint16_t *ports;
  size_t nports;
  struct strv resolvers, blackholes;
  unsigned max_conns;
  uint64_t log_max;
  bool hold;
};

/* --resolver ... as c-ares wants them: "1.2.3.4:53,[::1]:53"; *out NULL
 * when there is none (the system's). */
static int resolvers_csv(const struct strv *rv, char **out, adr_err *err)
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

static int open_log(const struct opts *o, adr_err *err)
{
  g.logfd = open(o->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (g.logfd < 0)
    return adr_err_sys(err, errno, "log %s", o->log);
  g.log_max = o->log_max;
  struct stat lst;
  if (fstat(g.logfd, &lst) == 0)
    g.log_size = (uint64_t)lst.st_size; /* a restarted gateway appends */
  return 0;
}

/* The relay's files and socket: before privileges are dropped. */
static int relay_init(const struct opts *o, struct in_addr bind, adr_err *err)
{
  cleanup_free char *csv = NULL;
  if (resolvers_csv(&o->resolvers, &csv, err) < 0)
    return -1;
  struct gw_relay_conf rc = { .routes = o->relay, .ca = o->ca, .bind = bind, .port = o->relay_port,
                              .sandbox = o->sandbox, .resolvers = csv, .log = write_log };
  if (gw_relay_init(&rc, err) < 0)
    return -1;
  g.relay_port = o->relay_port;
  return 0;
}

/* --hold: the open-network holder (blackhole routes, then nothing but
 * waiting for SIGTERM); with --relay, the relay on 127.0.0.1 of the
 * namespace the sandbox joins. */
static int run_hold(struct opts *o, adr_err *err)
{
  sigset_t set;
  block_signals(&set);
  for (size_t i = 0; i < o->blackholes.n; i++) {
    bool skipped;
    if (gw_blackhole(o->blackholes.v[i], &skipped, err) < 0)
      return -1;
  }
  if (o->relay) {
    if (open_log(o, err) < 0)
      return -1;
    struct in_addr lo = { .s_addr = htonl(INADDR_LOOPBACK) };
    g.sandbox = o->sandbox;
    if (relay_init(o, lo, err) < 0)
      return -1;
  }
  if (gw_drop_privileges(err) < 0)
    return -1;
  if (o->relay && gw_relay_start(err) < 0)
    return -1;
  if (o->ready && gw_write_ready(o->ready, err) < 0)
    return -1;
  for (;;) {
    int s = sigwaitinfo(&set, NULL);
    if (s == SIGTERM || s == SIGINT)
      break;
  }
  if (o->relay) {
    gw_relay_stop();
    close(g.logfd);
  }
  return 0;
}

static int run_gateway(struct opts *o, adr_err *err)
{
  if (inet_pton(AF_INET, o->bind, &g.bind) != 1)
    return adr_err_set(err, EINVAL, "--bind: not an IPv4 address: '%s'", o->bind);
  g.answer = g.bind;
  if (o->answer && inet_pton(AF_INET, o->answer, &g.answer) != 1)
    return adr_err_set(err, EINVAL, "--answer: not an IPv4 address: '%s'", o->answer);
  g.sandbox = o->sandbox;
  g.dns_port = o->dns_port;
  g.proxy_port = o->proxy_port;
  g.max_conns = o->max_conns;
  g.t_head.ms = HEAD_TIMEOUT_MS;
  g.t_connect.ms = CONNECT_TIMEOUT_MS;
  g.t_linger.ms = LINGER_MS;
  raise_nofile(6 * o->max_conns + 256); /* client, upstream, two pipes */

  if (gw_policy_load(&g.policy, o->policy, err) < 0)
    return -1;
  if (open_log(o, err) < 0)
    return -1;

  g.ep = epoll_create1(EPOLL_CLOEXEC);
  if (g.ep < 0)
    return adr_err_sys(err, errno, "epoll");
  g.reserve_fd = eventfd(0, EFD_CLOEXEC);

  int r = ares_library_init(ARES_LIB_INIT_ALL);
  if (r != ARES_SUCCESS)
    return adr_err_set(err, 0, "c-ares: %s", ares_strerror(r));
  struct ares_options ao;
  memset(&ao, 0, sizeof(ao));
  ao.sock_state_cb = ares_sock_cb;
  /* exactly the allowed name: no search domains appended (a wildcard name
   * that does not exist must not turn into name.corp.example) */
  ao.flags = ARES_FLAG_NOSEARCH;
  ao.lookups = (char *)"fb";
  ao.timeout = 3000;
  ao.tries = 2;
  r = ares_init_options(&g.ch, &ao, ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
  if (r != ARES_SUCCESS)
    return adr_err_set(err, 0, "c-ares: %s", ares_strerror(r));
  if (o->resolvers.n) {
    cleanup_free char *csv = NULL;
    if (resolvers_csv(&o->resolvers, &csv, err) < 0)
      return -1;
    r = ares_set_servers_ports_csv(g.ch, csv);
    if (r != ARES_SUCCESS)
      return adr_err_set(err, 0, "--resolver %s: %s", csv, ares_strerror(r));
  }

  if (listen_on(o->proxy_port, SOCK_STREAM, false, err) < 0)
    return -1;
  g.ports = o->ports;
  g.nports = o->nports;
  for (size_t i = 0; i < o->nports; i++) {
    bool dup = o->ports[i] == o->proxy_port;
    for (size_t j = 0; j < i; j++)
      dup |= o->ports[j] == o->ports[i];
    if (!dup && listen_on(o->ports[i], SOCK_STREAM, false, err) < 0)
      return -1;
  }
  if (listen_on(o->dns_port, SOCK_DGRAM, true, err) < 0 || listen_on(o->dns_port, SOCK_STREAM, true, err) < 0)
    return -1;
  for (size_t i = 0; i < nlisteners; i++) {
    listeners[i].w.l = &listeners[i];
    if (ep_add(listeners[i].w.fd, EPOLLIN, &listeners[i].w) < 0)
      return adr_err_sys(err, errno, "epoll");
  }
  if (o->relay && relay_init(o, g.bind, err) < 0)
    return -1;

  sigset_t set;
  if (block_signals(&set) < 0)
    return adr_err_sys(err, errno, "sigprocmask");
  static struct watch sigw = { .t = W_SIGNAL };
  sigw.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sigw.fd < 0 || ep_add(sigw.fd, EPOLLIN, &sigw) < 0)
    return adr_err_sys(err, errno, "signalfd");

  if (gw_drop_privileges(err) < 0)
    return -1;
  if (o->relay && gw_relay_start(err) < 0) /* its threads start without capabilities */
    return -1;
  if (o->ready && gw_write_ready(o->ready, err) < 0)
    return -1;

  g.now = mono_ms();
  int lr = loop();
  int le = errno;
  if (o->relay)
    gw_relay_stop(); /* the requests in flight log their lines */
  if (lr < 0)
    return adr_err_sys(err, le, "epoll_wait");

  ares_destroy(g.ch);
  ares_library_cleanup();
  bury();
  for (size_t i = 0; i < nlisteners; i++)
    close(listeners[i].w.fd);
  free(listeners);
  free(g.aw);
  gw_policy_free(&g.policy);
  close(sigw.fd);
  close(g.ep);
  close(g.logfd);
  if (g.reserve_fd >= 0)
    close(g.reserve_fd);
  return 0;
}

static void usage(FILE *f)
{
  fputs("usage: adr-gateway --policy FILE --log FILE --sandbox NAME --bind IPV4 [--answer IPV4]\n"
        "                   [--dns-port N] [--proxy-port N] [--port N]... [--resolver IP[:PORT]]...\n"
        "                   [--ready-file PATH] [--max-conns N] [--log-max BYTES]\n"
        "                   [--relay FILE --ca FILE [--relay-port N]]\n"
        "       adr-gateway --hold [--blackhole CIDR]... [--ready-file PATH]\n"
        "                   [--relay FILE --ca FILE --log FILE --sandbox NAME [--relay-port N]\n"
        "                    [--resolver IP[:PORT]]... [--log-max BYTES]]\n",
        f);
}

int main(int argc, char **argv)
{
  /* it may hold API keys (the relay): no core dumps, no ptrace by its own
   * uid's other processes */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  enum { O_POLICY = 256, O_LOG, O_SANDBOX, O_BIND, O_ANSWER, O_DNS_PORT, O_PROXY_PORT, O_PORT, O_RESOLVER,
         O_READY, O_MAX_CONNS, O_HOLD, O_BLACKHOLE, O_HELP, O_LOG_MAX, O_RELAY, O_RELAY_PORT, O_CA };
  static const struct option lo[] = {
    { "policy", required_argument, NULL, O_POLICY },         { "log", required_argument, NULL, O_LOG },
    { "sandbox", required_argument, NULL, O_SANDBOX },       { "bind", required_argument, NULL, O_BIND },
    { "answer", required_argument, NULL, O_ANSWER },         { "dns-port", required_argument, NULL, O_DNS_PORT },
    { "proxy-port", required_argument, NULL, O_PROXY_PORT }, { "port", required_argument, NULL, O_PORT },
    { "resolver", required_argument, NULL, O_RESOLVER },     { "ready-file", required_argument, NULL, O_READY },
    { "max-conns", required_argument, NULL, O_MAX_CONNS },   { "hold", no_argument, NULL, O_HOLD },
    { "blackhole", required_argument, NULL, O_BLACKHOLE },   { "help", no_argument, NULL, O_HELP },
    { "log-max", required_argument, NULL, O_LOG_MAX },       { "relay", required_argument, NULL, O_RELAY },
    { "relay-port", required_argument, NULL, O_RELAY_PORT }, { "ca", required_argument, NULL, O_CA },
    { NULL, 0, NULL, 0 },
  };
  struct opts o = { .dns_port = 53, .proxy_port = 3128, .relay_port = 3129, .max_conns = 4096,
                    .log_max = 256ull << 20 };
  cleanup_err adr_err err = NULL;
  bool gw_only = false, relay_opt = false, relay_port_set = false;
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    /* with --hold: its own options, and the relay's (with --relay) */
    if (ch == O_RELAY_PORT || ch == O_CA || ch == O_LOG || ch == O_SANDBOX || ch == O_LOG_MAX || ch == O_RESOLVER)
      relay_opt = true;
    else if (ch != O_HOLD && ch != O_BLACKHOLE && ch != O_READY && ch != O_HELP && ch != O_RELAY && ch != '?' &&
             ch != ':')
      gw_only = true;
    switch (ch) {
    case O_POLICY: o.policy = optarg; break;
    case O_LOG: o.log = optarg; break;
    case O_SANDBOX: o.sandbox = optarg; break;
    case O_BIND: o.bind = optarg; break;
    case O_ANSWER: o.answer = optarg; break;
    case O_READY: o.ready = optarg; break;
    case O_HOLD: o.hold = true; break;
    case O_BLACKHOLE: strv_push(&o.blackholes, optarg); break;
    case O_RESOLVER: strv_push(&o.resolvers, optarg); break;
    case O_RELAY: o.relay = optarg; break;
    case O_CA: o.ca = optarg; break;
    case O_RELAY_PORT:
      if (parse_port("--relay-port", optarg, &o.relay_port, &err) < 0)
        goto fail;
      relay_port_set = true;
      break;
    case O_DNS_PORT:
      if (parse_port("--dns-port", optarg, &o.dns_port, &err) < 0)
        goto fail;
      break;
    case O_PROXY_PORT:
      if (parse_port("--proxy-port", optarg, &o.proxy_port, &err) < 0)
        goto fail;
      break;
    case O_PORT: {
      uint16_t p;
      if (parse_port("--port", optarg, &p, &err) < 0)
        goto fail;
      o.ports = xrealloc(o.ports, (o.nports + 1) * sizeof(*o.ports));
      o.ports[o.nports++] = p;
      break;
    }
    case O_MAX_CONNS: {
      char *end;
      errno = 0;
      unsigned long v = strtoul(optarg, &end, 10);
      if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v < 1 || v > 1000000) {
        adr_err_set(&err, EINVAL, "--max-conns: bad number '%s'", optarg);
        goto fail;
      }
      o.max_conns = (unsigned)v;
      break;
    }
    case O_LOG_MAX: {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(optarg, &end, 10);
      if (optarg[0] < '0' || optarg[0] > '9' || *end || errno || v < 4096) {
        adr_err_set(&err, EINVAL, "--log-max: bad size '%s' (bytes, at least 4096)", optarg);
        goto fail;
      }
      o.log_max = v;
      break;
    }
    case O_HELP:
      usage(stdout);
      return 0;
    default:
      if (optopt >= O_POLICY)
        adr_err_set(&err, EINVAL, "%s: needs an argument", argv[optind - 1]);
      else
        adr_err_set(&err, EINVAL, "%s: unknown option", argv[optind - 1]);
      goto fail;
    }
  }
  if (optind < argc) {
    adr_err_set(&err, EINVAL, "%s: unexpected argument", argv[optind]);
    goto fail;
  }
  if (!o.relay && (o.ca || relay_port_set)) {
    adr_err_set(&err, EINVAL, "%s: only with --relay", o.ca ? "--ca" : "--relay-port");
    goto fail;
  }
  if (o.relay && !o.ca) {
    adr_err_set(&err, EINVAL, "--relay: needs --ca FILE (the certificates upstream servers are verified against)");
    goto fail;
  }
  if (o.hold) {
    if (gw_only || (relay_opt && !o.relay)) {
      adr_err_set(&err, EINVAL, "--hold: only --blackhole, --ready-file and --relay (with --ca, --relay-port, --log, "
                                "--sandbox, --resolver, --log-max) go with it");
      goto fail;
    }
    const char *missing = !o.relay ? NULL : !o.log ? "--log" : !o.sandbox ? "--sandbox" : NULL;
    if (missing) {
      adr_err_set(&err, EINVAL, "%s: required with --relay", missing);
      goto fail;
    }
    if (run_hold(&o, &err) < 0)
      goto fail;
  } else {
    if (o.blackholes.n) {
      adr_err_set(&err, EINVAL, "--blackhole: only with --hold");
      goto fail;
    }
    const char *missing = !o.policy ? "--policy" : !o.log ? "--log" : !o.sandbox ? "--sandbox" : !o.bind ? "--bind" : NULL;
    if (missing) {
      adr_err_set(&err, EINVAL, "%s: required", missing);
      goto fail;
    }
    if (run_gateway(&o, &err) < 0)
      goto fail;
  }
  free(o.ports);
  strv_free(&o.resolvers);
  strv_free(&o.blackholes);
  return 0;
fail:
  fprintf(stderr, "adr-gateway: %s\n", err && err->msg ? err->msg : "failed");
  free(o.ports);
  strv_free(&o.resolvers);
  strv_free(&o.blackholes);
  return 1;
}
