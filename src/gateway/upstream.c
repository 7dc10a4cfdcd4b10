/* adr-gateway: an allowed connection's way out.  Names are resolved by
 * c-ares inside the loop (its sockets are in the epoll set, tagged
 * ARES_TAG), the addresses filtered by the policy once more (special
 * ranges), then tried in order, each connect non-blocking with its
 * timeout.  Once connected, what the client sent so far is queued for
 * upstream and the relay proper starts (conn.c). */
#include "gwd.h"
#include "sys.h"
#include "timeouts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* One of the gateway's own sockets: connecting there would loop.  With
 * listeners it was given (made in the sandbox's namespace, not this one)
 * an address here is never one of them. */
static bool is_self(const struct gw_addr *a, int port)
{
  if (gw_listeners_given())
    return false;
  if (a->family != AF_INET || (memcmp(a->a, &gwd.bind, 4) != 0 && memcmp(a->a, &gwd.answer, 4) != 0))
    return false;
  if (port == gwd.proxy_port || port == gwd.dns_port || (gwd.relay_port && port == gwd.relay_port))
    return true;
  for (size_t i = 0; i < gwd.nports; i++)
    if (gwd.ports[i] == port)
      return true;
  return false;
}

static void keepalive(int fd)
{
  int one = 1, idle = GW_KEEPALIVE_IDLE_S, intvl = GW_KEEPALIVE_INTVL_S, cnt = GW_KEEPALIVE_CNT;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

/* ---------------------------------------------------------------- connect */

void gwd_connected(struct conn *c)
{
  gwd_tlist_remove(c);
  c->has_upstream = true;
  c->st = S_RELAY;
  keepalive(c->cw.fd);
  keepalive(c->uw.fd);
  size_t hl = c->hh.head_len;
  if (c->mode == M_CONNECT) {
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
    gwd_rbuf_put(&c->down, ok, sizeof(ok) - 1);
    if (c->hlen > hl)
      gwd_rbuf_put(&c->up, c->head + hl, c->hlen - hl);
  } else if (c->mode == M_ABS) {
    /* bare-LF lines become CRLF: up to twice the head, plus the headers added */
    char *out = xmalloc(2 * GW_HEAD_MAX + 1024);
    long n = gw_http_rewrite((const char *)c->head, &c->hh, out, 2 * GW_HEAD_MAX + 1024);
    if (n < 0) { /* cannot happen: the rewrite is at most the head plus a few headers */
      free(out);
      gwd_set_error(c, "rewrite: head too large");
      gwd_finish(c);
      return;
    }
    gwd_rbuf_put(&c->up, out, (size_t)n);
    free(out);
    if (c->hlen > hl)
      gwd_rbuf_put(&c->up, c->head + hl, c->hlen - hl);
  } else {
    gwd_rbuf_put(&c->up, c->head, c->hlen);
  }
  free(c->head);
  c->head = NULL;
  gwd_pipe_open(&c->up);
  gwd_pipe_open(&c->down);
  c->uw.wr = true;
  c->cw.rd = true;
  c->cw.wr = true;
  gwd_pump(c);
}

/* A non-blocking connect to a; 0 (in progress or done: *done), -1 with
 * errno. */
static int connect_to(const struct gw_addr *a, int port, int *fdp, bool *done)
{
  int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_storage ss;
  socklen_t sl = gw_addr_sockaddr(a, port, &ss);
  int r = connect(fd, (struct sockaddr *)&ss, sl);
  if (r < 0 && errno != EINPROGRESS) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  *fdp = fd;
  *done = r == 0;
  return 0;
}

/* The next address, until one connects (or is connecting); none left: the
 * last error. */
static void connect_next(struct conn *c)
{
  while (c->ai < c->naddr) {
    const struct gw_addr *a = &c->addrs[c->ai++];
    if (is_self(a, c->port)) {
      c->last_errno = ELOOP; /* itself, whatever a broad rule says */
      continue;
    }
    int fd;
    bool done;
    if (connect_to(a, c->port, &fd, &done) < 0) {
      c->last_errno = errno;
      continue;
    }
    gw_addr_format(a, c->port, c->upstream, sizeof(c->upstream));
    c->uw = (struct watch){ .t = W_UPSTREAM, .fd = fd, .c = c };
    if (gwd_ep_add(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &c->uw) < 0) {
      c->last_errno = errno;
      close(fd);
      c->uw.fd = -1;
      continue;
    }
    c->st = S_CONNECT;
    gwd_tlist_add(&gwd.t_connect, c);
    if (done)
      gwd_connected(c);
    return;
  }
  if (c->last_errno == ELOOP)
    gwd_set_error(c, "connect: refused: that is the gateway itself");
  else
    gwd_set_error(c, "connect: %s", strerror(c->last_errno ? c->last_errno : ECONNREFUSED));
  gwd_fail(c);
}

void gwd_connect_failed(struct conn *c, int e)
{
  close(c->uw.fd);
  c->uw.fd = -1;
  c->last_errno = e;
  gwd_tlist_remove(c);
  connect_next(c);
}

/* ---------------------------------------------------------------- resolve */

/* One question in flight per name: connections to a name already being
 * resolved wait for that answer (a build opening a hundred connections to
 * one registry asks once, and a slow resolver is not flooded). */
struct lookup {
  struct lookup *next;
  struct conn *waiters; /* through conn.lnext */
  char name[GW_NAME_MAX + 1];
};

static struct lookup *lookups;

/* c's answer: the addresses the policy lets through for its port, tried
 * in order; none is a denial */
static void resolved_one(struct conn *c, const struct gw_addr *v, size_t n)
{
  struct gw_addr mine[64];
  memcpy(mine, v, n * sizeof(v[0]));
  const char *reason = NULL;
  size_t k = gw_filter_addrs(&gwd.policy, (uint16_t)c->port, mine, n, MAX_ADDRS, &reason);
  if (k == 0) {
    gwd_deny(c, reason, c->mode == M_TLS ? 0 : 403);
    return;
  }
  memcpy(c->addrs, mine, k * sizeof(mine[0]));
  c->naddr = k;
  c->ai = 0;
  connect_next(c);
}

static void on_resolved(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
  (void)timeouts;
  struct lookup *l = arg, **pp;
  for (pp = &lookups; *pp != l; pp = &(*pp)->next)
    ;
  *pp = l->next;
  gwd.ares_queries--;
  struct gw_addr v[64];
  size_t n = 0;
  for (struct ares_addrinfo_node *a = res && status == ARES_SUCCESS ? res->nodes : NULL; a && n < ARRAY_SIZE(v);
       a = a->ai_next) {
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
  if (res)
    ares_freeaddrinfo(res);
  struct conn *c = l->waiters;
  free(l);
  while (c) {
    struct conn *next = c->lnext;
    c->lnext = NULL;
    c->ares_pending = false;
    if (!c->dead && status != ARES_SUCCESS) {
      gwd_set_error(c, "resolve: %s", ares_strerror(status));
      gwd_fail(c);
    } else if (!c->dead) {
      resolved_one(c, v, n);
    }
    c = next;
  }
}

void gwd_upstream(struct conn *c, const struct gw_decision *d)
{
  if (d->is_ip) {
    c->addrs[0] = d->addr;
    c->naddr = 1;
    c->ai = 0;
    connect_next(c);
    return;
  }
  memcpy(c->name, d->name, sizeof(c->name));
  c->st = S_RESOLVE;
  c->ares_pending = true;
  struct lookup *l;
  for (l = lookups; l; l = l->next)
    if (strcmp(l->name, c->name) == 0) {
      c->lnext = l->waiters;
      l->waiters = c;
      return;
    }
  l = xcalloc(1, sizeof(*l));
  memcpy(l->name, c->name, sizeof(l->name));
  l->waiters = c;
  l->next = lookups;
  lookups = l;
  gwd.ares_queries++;
  struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT };
  ares_getaddrinfo(gwd.ch, l->name, NULL, &hints, on_resolved, l); /* may call back at once (hosts file) */
}

/* ---------------------------------------------------------------- c-ares in the loop */

static void ares_sock_cb(void *data, ares_socket_t fd, int readable, int writable)
{
  (void)data;
  size_t i;
  for (i = 0; i < gwd.naw; i++)
    if (gwd.aw[i].fd == fd)
      break;
  uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
  struct epoll_event e = { .events = ev, .data.u64 = ARES_TAG | (uint32_t)fd };
  if (ev == 0) {
    if (i < gwd.naw) {
      epoll_ctl(gwd.ep, EPOLL_CTL_DEL, fd, NULL);
      gwd.aw[i] = gwd.aw[--gwd.naw];
    }
    return;
  }
  if (i == gwd.naw) {
    gwd.aw = xrealloc(gwd.aw, (gwd.naw + 1) * sizeof(*gwd.aw));
    gwd.aw[gwd.naw++] = (struct ares_watch){ .fd = fd, .ev = ev };
    epoll_ctl(gwd.ep, EPOLL_CTL_ADD, fd, &e);
  } else if (gwd.aw[i].ev != ev) {
    gwd.aw[i].ev = ev;
    epoll_ctl(gwd.ep, EPOLL_CTL_MOD, fd, &e);
  }
}

int gwd_resolver_init(const struct strv *resolvers, adr_err *err)
{
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
  ao.timeout = GW_DNS_TIMEOUT_MS;
  ao.tries = GW_DNS_TRIES;
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  r = ares_init_options(&gwd.ch, &ao, mask);
  if (r != ARES_SUCCESS)
    return adr_err_set(err, 0, "c-ares: %s", ares_strerror(r));
  if (resolvers->n) {
    cleanup_free char *csv = NULL;
    if (gwd_resolvers_csv(resolvers, &csv, err) < 0)
      return -1;
    r = ares_set_servers_ports_csv(gwd.ch, csv);
    if (r != ARES_SUCCESS)
      return adr_err_set(err, 0, GW_OPT_RESOLVER " %s: %s", csv, ares_strerror(r));
  }
  return 0;
}

void gwd_resolver_free(void)
{
  ares_destroy(gwd.ch);
  ares_library_cleanup();
  free(gwd.aw);
  gwd.aw = NULL;
  gwd.naw = 0;
}
