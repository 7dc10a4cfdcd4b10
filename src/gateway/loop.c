/* adr-gateway: the egress gateway of an adr sandbox.
 *
 * One epoll loop, non-blocking sockets, c-ares in the loop.  Every TCP
 * connection (proxy port and transparent ports alike) is read until it can
 * be classified (TLS ClientHello, CONNECT, absolute-form or origin-form
 * HTTP), decided on against the policy, resolved, connected and relayed
 * through two bounded buffers.  DNS questions are answered from the policy
 * alone.  One JSON log line per connection and per DNS query.  gwd.h says
 * which file does which part.
 *
 * With --relay, the credential relay (relay.c) runs beside the loop in
 * threads of its own; the decision log is the one thing they share.
 *
 * This file: the loop itself, the timers, the run queue, and the end of a
 * connection. */
#include "gwd.h"
#include "sys.h"
#include "timeouts.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

struct gwd gwd;

int gwd_ep_add(int fd, uint32_t ev, void *ptr)
{
  struct epoll_event e = { .events = ev, .data.ptr = ptr };
  return epoll_ctl(gwd.ep, EPOLL_CTL_ADD, fd, &e);
}

/* ---------------------------------------------------------------- timers, queues */

void gwd_tlist_remove(struct conn *c)
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
void gwd_tlist_add(struct tlist *l, struct conn *c)
{
  gwd_tlist_remove(c);
  c->deadline = gwd.now + l->ms;
  c->tl = l;
  c->tprev = l->tail;
  c->tnext = NULL;
  if (l->tail)
    l->tail->tnext = c;
  else
    l->head = c;
  l->tail = c;
}

void gwd_runq_add(struct conn *c)
{
  if (c->queued)
    return;
  c->queued = true;
  c->rnext = gwd.runq;
  gwd.runq = c;
}

/* ---------------------------------------------------------------- the end of a connection */

void gwd_finish(struct conn *c)
{
  if (c->dead)
    return;
  if (c->st != S_DNS)
    gwd_log_conn(c);
  c->dead = true;
  gwd_tlist_remove(c);
  if (c->cw.fd >= 0)
    close(c->cw.fd);
  if (c->uw.fd >= 0)
    close(c->uw.fd);
  c->cw.fd = c->uw.fd = -1;
  if (c->prev)
    c->prev->next = c->next;
  else
    gwd.live = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->prev = c->next = NULL;
  gwd.nconns--;
  free(c->head);
  c->head = NULL;
  gwd_rbuf_free(&c->up);
  gwd_rbuf_free(&c->down);
  gwd_pipe_close(&c->up);
  gwd_pipe_close(&c->down);
  c->gnext = gwd.grave;
  gwd.grave = c;
}

void gwd_bury(void)
{
  struct conn **pp = &gwd.grave;
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

/* The log line of every open connection, then no more connections. */
static void shutdown_all(void)
{
  while (gwd.live) {
    struct conn *c = gwd.live;
    if (c->st == S_HEAD) {
      c->rule = "shutdown";
    } else if (c->st == S_RESOLVE || c->st == S_CONNECT) {
      if (!c->error[0])
        gwd_set_error(c, "shutdown");
    }
    gwd_finish(c);
  }
  while (gwd.runq) {
    gwd.runq->queued = false;
    gwd.runq = gwd.runq->rnext;
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
  case S_HEAD: gwd_head_read(c); break;
  case S_RELAY: gwd_pump(c); break;
  case S_DNS: gwd_dns_tcp(c); break;
  case S_LINGER: {
    char sink[4096];
    for (;;) {
      ssize_t n = recv(c->cw.fd, sink, sizeof(sink), 0);
      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        break;
      gwd_finish(c);
      break;
    }
    break;
  }
  default: break; /* resolving or connecting: the flags are enough for later */
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
      gwd_connect_failed(c, e);
    else
      gwd_connected(c);
    return;
  }
  if (c->st == S_RELAY)
    gwd_pump(c);
}

static void on_event(const struct epoll_event *e)
{
  uint32_t ev = e->events;
  if (e->data.u64 & ARES_TAG) {
    int fd = (int)(uint32_t)e->data.u64;
    ares_process_fd(gwd.ch, (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD,
                    (ev & EPOLLOUT) ? fd : ARES_SOCKET_BAD);
    return;
  }
  struct watch *w = e->data.ptr;
  switch (w->t) {
  case W_LISTEN: gwd_accept(w->l); break;
  case W_DNS_UDP: gwd_dns_udp(w->l); break;
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
      gwd.stop = true;
    break;
  }
  }
}

/* ---------------------------------------------------------------- timeouts */

static void on_timeout(struct conn *c)
{
  switch (c->st) {
  case S_HEAD:
    gwd_set_error(c, "no complete request within %d s", GW_HEAD_TIMEOUT_MS / 1000);
    gwd_deny(c, "bad-request", 0);
    break;
  case S_CONNECT: gwd_connect_failed(c, ETIMEDOUT); break;
  default: gwd_finish(c); break;
  }
}

static void expire(struct tlist *l)
{
  while (l->head && l->head->deadline <= gwd.now) {
    struct conn *c = l->head;
    gwd_tlist_remove(c);
    on_timeout(c);
  }
}

/* epoll_wait's timeout: the first timer's, c-ares's, 0 with work queued,
 * else none (-1). */
static int next_timeout(void)
{
  int timeout = -1;
  uint64_t next = UINT64_MAX;
  struct tlist *lists[] = { &gwd.t_head, &gwd.t_connect, &gwd.t_linger };
  for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
    if (lists[i]->head && lists[i]->head->deadline < next)
      next = lists[i]->head->deadline;
  if (next != UINT64_MAX)
    timeout = next <= gwd.now ? 0 : (int)(next - gwd.now);
  if (gwd.ares_queries) {
    struct timeval tv, *tvp = ares_timeout(gwd.ch, NULL, &tv);
    if (tvp) {
      int ms = (int)(tvp->tv_sec * 1000 + tvp->tv_usec / 1000) + 1;
      if (timeout < 0 || ms < timeout)
        timeout = ms;
    }
  }
  if (gwd.runq)
    timeout = 0;
  return timeout;
}

/* ---------------------------------------------------------------- the loop */

int gwd_loop(void)
{
  struct epoll_event evs[256];
  gwd.t_head.ms = GW_HEAD_TIMEOUT_MS;
  gwd.t_connect.ms = GW_CONNECT_TIMEOUT_MS;
  gwd.t_linger.ms = GW_LINGER_MS;
  gwd.now = gw_mono_ms();
  while (!gwd.stop) {
    int n = epoll_wait(gwd.ep, evs, (int)ARRAY_SIZE(evs), next_timeout());
    if (n < 0 && errno != EINTR)
      return -1;
    gwd.now = gw_mono_ms();
    for (int i = 0; i < n && !gwd.stop; i++)
      on_event(&evs[i]);
    if (gwd.stop)
      break;
    if (gwd.ares_queries)
      ares_process_fd(gwd.ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    expire(&gwd.t_head);
    expire(&gwd.t_connect);
    expire(&gwd.t_linger);
    struct conn *q = gwd.runq;
    gwd.runq = NULL;
    while (q) {
      struct conn *c = q;
      q = c->rnext;
      c->queued = false;
      gwd_pump(c);
    }
    gwd_bury();
  }
  shutdown_all();
  return 0;
}
