/* adr-gateway: listeners and accept, a connection's two buffers, and the
 * relay proper (pump: client <-> upstream through splice(2) pipes, or
 * through the buffers before that). */
#include "gwd.h"
#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

void gwd_set_error(struct conn *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof(c->error), fmt, ap);
  va_end(ap);
}

/* ---------------------------------------------------------------- buffers */

void gwd_rbuf_free(struct rbuf *b)
{
  free(b->b);
  b->b = NULL;
  b->off = b->len = 0;
}

void gwd_pipe_open(struct rbuf *b)
{
  int fds[2];
  b->pr = b->pw = -1;
  b->pl = 0;
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    b->pr = fds[0];
    b->pw = fds[1];
  }
}

void gwd_pipe_close(struct rbuf *b)
{
  if (b->pr >= 0)
    close(b->pr);
  if (b->pw >= 0)
    close(b->pw);
  b->pr = b->pw = -1;
  b->pl = 0;
}

bool gwd_rbuf_put(struct rbuf *b, const void *p, size_t n)
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

/* ---------------------------------------------------------------- relay */

/* Bytes in flight from src to dst: the buffer's and the pipe's. */
static size_t inflight(const struct rbuf *b) { return b->len + b->pl; }

static const char *side(const struct conn *c, const struct watch *w) { return w == &c->cw ? "client" : "upstream"; }

/* splice(2) src -> pipe -> dst; the buffer (the head, a 200 reply) is
 * flushed before any spliced byte, so order is kept. */
static int move_splice(struct conn *c, struct watch *src, struct watch *dst, struct rbuf *b, bool *eof, uint64_t *count)
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
      gwd_set_error(c, "%s: %s", side(c, src), strerror(errno));
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
      gwd_set_error(c, "%s: %s", side(c, dst), strerror(errno));
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
      gwd_set_error(c, "%s: %s", side(c, src), strerror(errno));
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
        gwd_rbuf_free(b); /* idle connections hold no buffers */
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      dst->wr = false;
    } else if (n < 0 && errno != EINTR) {
      gwd_set_error(c, "%s: %s", side(c, dst), strerror(errno));
      return -1;
    }
  }
  if (b->b && b->len == 0)
    gwd_rbuf_free(b);
  return prog;
}

static bool can_progress(const struct conn *c)
{
  return (c->cw.rd && !c->c_eof && !c->up.stalled && inflight(&c->up) < RBUF_CAP) || (c->uw.wr && inflight(&c->up)) ||
         (c->uw.rd && !c->u_eof && !c->down.stalled && inflight(&c->down) < RBUF_CAP) ||
         (c->cw.wr && inflight(&c->down));
}

void gwd_pump(struct conn *c)
{
  if (c->dead || c->st != S_RELAY)
    return;
  for (int round = 0; round < 16; round++) {
    int a = move(c, &c->cw, &c->uw, &c->up, &c->c_eof, &c->bytes_up);
    int b = a < 0 ? -1 : move(c, &c->uw, &c->cw, &c->down, &c->u_eof, &c->bytes_down);
    if (a < 0 || b < 0) {
      gwd_finish(c);
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
    gwd_finish(c);
    return;
  }
  if (can_progress(c))
    gwd_runq_add(c);
}

/* ---------------------------------------------------------------- listeners */

static struct listener *listeners;
static size_t nlisteners;

static int listen_on(uint16_t port, int type, bool dns, adr_err *err)
{
  int fd = gw_listener(gwd.bind, port, type, 1024, NULL, err);
  if (fd < 0)
    return -1;
  listeners = xrealloc(listeners, (nlisteners + 1) * sizeof(*listeners));
  struct listener *l = &listeners[nlisteners++];
  l->w = (struct watch){ .t = type == SOCK_DGRAM ? W_DNS_UDP : W_LISTEN, .fd = fd };
  l->port = port;
  l->dns = dns;
  return 0;
}

/* The proxy port, every transparent port (once), DNS over UDP and TCP. */
int gwd_listen_all(const struct opts *o, adr_err *err)
{
  if (listen_on(o->proxy_port, SOCK_STREAM, false, err) < 0)
    return -1;
  gwd.ports = o->ports;
  gwd.nports = o->nports;
  for (size_t i = 0; i < o->nports; i++) {
    bool dup = o->ports[i] == o->proxy_port;
    for (size_t j = 0; j < i; j++)
      dup |= o->ports[j] == o->ports[i];
    if (!dup && listen_on(o->ports[i], SOCK_STREAM, false, err) < 0)
      return -1;
  }
  if (listen_on(o->dns_port, SOCK_DGRAM, true, err) < 0 || listen_on(o->dns_port, SOCK_STREAM, true, err) < 0)
    return -1;
  for (size_t i = 0; i < nlisteners; i++) { /* the array has stopped moving */
    listeners[i].w.l = &listeners[i];
    if (gwd_ep_add(listeners[i].w.fd, EPOLLIN, &listeners[i].w) < 0)
      return adr_err_sys(err, errno, "epoll");
  }
  return 0;
}

void gwd_listen_close(void)
{
  for (size_t i = 0; i < nlisteners; i++)
    close(listeners[i].w.fd);
  free(listeners);
  listeners = NULL;
  nlisteners = 0;
}

/* ---------------------------------------------------------------- accept */

static void log_overload(const char *client, uint16_t port, bool dns)
{
  struct gw_logrec r = { .sandbox = gwd.sandbox,
                         .client = client,
                         .via = dns                      ? "dns"
                                : port == gwd.proxy_port ? "proxy"
                                                         : "transparent",
                         .port = port,
                         .rule = "overload",
                         .error = "too many connections",
                         .dns = dns };
  clock_gettime(CLOCK_REALTIME, &r.time);
  gwd_write_log(&r);
}

/* Out of descriptors: accept with the reserve and close, so the listener
 * does not stay readable for ever. */
static void accept_with_reserve(struct listener *l)
{
  struct sockaddr_storage ss;
  socklen_t sl = sizeof(ss);
  close(gwd.reserve_fd);
  int fd = accept4(l->w.fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
  if (fd >= 0) {
    char client[64];
    gw_sockaddr_format(&ss, client, sizeof(client));
    log_overload(client, l->port, l->dns);
    close(fd);
  }
  gwd.reserve_fd = eventfd(0, EFD_CLOEXEC);
}

/* A connection for the accepted fd, on the live list; NULL (fd closed,
 * its line logged) when it cannot be had. */
static struct conn *conn_new(struct listener *l, int fd, const struct sockaddr_storage *ss)
{
  char client[64];
  gw_sockaddr_format(ss, client, sizeof(client));
  struct sockaddr_storage ls;
  socklen_t lsl = sizeof(ls);
  uint16_t lport = l->port;
  if (getsockname(fd, (struct sockaddr *)&ls, &lsl) == 0 && ls.ss_family == AF_INET)
    lport = ntohs(((struct sockaddr_in *)&ls)->sin_port);
  if (gwd.nconns >= gwd.max_conns) {
    log_overload(client, lport, l->dns);
    close(fd);
    return NULL;
  }
  struct conn *c = xcalloc(1, sizeof(*c));
  c->up.pr = c->up.pw = c->down.pr = c->down.pw = -1;
  c->cw = (struct watch){ .t = W_CLIENT, .fd = fd, .c = c, .rd = true };
  c->uw.fd = -1;
  c->t0 = gw_mono_ms();
  memcpy(c->client, client, sizeof(c->client));
  c->lport = lport;
  c->via = lport == gwd.proxy_port ? "proxy" : "transparent";
  c->port = lport;
  c->st = l->dns ? S_DNS : S_HEAD;
  c->head = xmalloc(GW_HEAD_MAX);
  c->next = gwd.live;
  if (gwd.live)
    gwd.live->prev = c;
  gwd.live = c;
  gwd.nconns++;
  if (gwd_ep_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->cw) < 0) {
    gwd_set_error(c, "epoll: %s", strerror(errno));
    c->rule = "overload";
    gwd_finish(c);
    return NULL;
  }
  return c;
}

void gwd_accept(struct listener *l)
{
  for (int k = 0; k < 64; k++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(l->w.fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      if ((errno == EMFILE || errno == ENFILE) && gwd.reserve_fd >= 0) {
        accept_with_reserve(l);
        continue;
      }
      return;
    }
    struct conn *c = conn_new(l, fd, &ss);
    if (c == NULL)
      continue;
    gwd_tlist_add(&gwd.t_head, c);
    if (l->dns)
      gwd_dns_tcp(c);
    else
      gwd_head_read(c);
  }
}
