/* The credential relay's way to a route's upstream: the name resolved by
 * c-ares (a channel per request, polled here with the stop signal), a
 * non-blocking connect to each address in turn, and the TLS handshake
 * with the certificate verified against --ca and the host name or
 * address checked. */
#include "relayd.h"
#include "sys.h"
#include "timeouts.h"
#include "util.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- resolve */

struct res {
  struct pollfd fds[16];
  nfds_t n;
  bool done;
  int status;
  struct gw_addr a[MAX_ADDRS];
  size_t na;
};

static void res_sock(void *data, ares_socket_t fd, int readable, int writable)
{
  struct res *st = data;
  nfds_t i;
  for (i = 0; i < st->n; i++)
    if (st->fds[i].fd == fd)
      break;
  short ev = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
  if (ev == 0) {
    if (i < st->n)
      st->fds[i] = st->fds[--st->n];
    return;
  }
  if (i == st->n) {
    if (st->n == ARRAY_SIZE(st->fds))
      return; /* cannot happen: a query uses a socket or two */
    st->n++;
  }
  st->fds[i] = (struct pollfd){ .fd = fd, .events = ev };
}

static void res_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
  (void)timeouts;
  struct res *st = arg;
  st->done = true;
  st->status = status;
  if (ai == NULL)
    return;
  /* IPv4 first, then IPv6, at most MAX_ADDRS */
  for (int pass = 0; pass < 2; pass++) {
    for (struct ares_addrinfo_node *n = ai->nodes; n && st->na < MAX_ADDRS; n = n->ai_next) {
      if (n->ai_addr == NULL)
        continue;
      struct gw_addr *a = &st->a[st->na];
      memset(a, 0, sizeof(*a));
      if (pass == 0 && n->ai_family == AF_INET) {
        a->family = AF_INET;
        memcpy(a->a, &((struct sockaddr_in *)n->ai_addr)->sin_addr, 4);
        st->na++;
      } else if (pass == 1 && n->ai_family == AF_INET6) {
        a->family = AF_INET6;
        memcpy(a->a, &((struct sockaddr_in6 *)n->ai_addr)->sin6_addr, 16);
        st->na++;
      }
    }
  }
  ares_freeaddrinfo(ai);
}

/* The route's upstream addresses; 0, or -1 with c->error set. */
int rl_resolve(struct rc *c, struct gw_addr *out, size_t *n)
{
  const struct gw_route *r = c->route;
  if (r->host_ip) {
    if (gw_addr_parse(r->host, strlen(r->host), &out[0]) < 0) {
      rl_set_error(c, "resolve: bad address"); /* cannot happen: checked when the routes were read */
      return -1;
    }
    *n = 1;
    return 0;
  }
  struct res st;
  memset(&st, 0, sizeof(st));
  struct ares_options ao;
  memset(&ao, 0, sizeof(ao));
  ao.sock_state_cb = res_sock;
  ao.sock_state_cb_data = &st;
  ao.flags = ARES_FLAG_NOSEARCH; /* exactly the configured name */
  ao.lookups = (char *)"fb";
  ao.timeout = GW_DNS_TIMEOUT_MS;
  ao.tries = GW_DNS_TRIES;
  ares_channel ch;
  int e = ares_init_options(
    &ch, &ao, ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
  if (e != ARES_SUCCESS) {
    rl_set_error(c, "resolve: %s", ares_strerror(e));
    return -1;
  }
  if (relayd.resolvers && (e = ares_set_servers_ports_csv(ch, relayd.resolvers)) != ARES_SUCCESS) {
    ares_destroy(ch);
    rl_set_error(c, "resolve: %s", ares_strerror(e));
    return -1;
  }
  struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT };
  ares_getaddrinfo(ch, r->host, NULL, &hints, res_done, &st);
  uint64_t deadline = gw_mono_ms() + GW_CONNECT_TIMEOUT_MS;
  bool stop = false;
  while (!st.done) {
    struct pollfd p[ARRAY_SIZE(st.fds) + 1];
    memcpy(p, st.fds, st.n * sizeof(p[0]));
    p[st.n] = (struct pollfd){ .fd = relayd.stopfd, .events = POLLIN };
    int ms = rl_ms_left(deadline);
    struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
    if (tvp) {
      long am = tv.tv_sec * 1000 + tv.tv_usec / 1000 + 1;
      if (am < ms)
        ms = (int)am;
    }
    int k = poll(p, st.n + 1, ms);
    if (k < 0 && errno != EINTR)
      break;
    if (k > 0 && (p[st.n].revents & POLLIN)) {
      stop = true;
      break;
    }
    bool any = false;
    for (nfds_t i = 0; k > 0 && i < st.n && !st.done; i++) {
      if (!p[i].revents)
        continue;
      any = true;
      ares_process_fd(ch, (p[i].revents & (POLLIN | POLLERR | POLLHUP)) ? p[i].fd : ARES_SOCKET_BAD,
                      (p[i].revents & POLLOUT) ? p[i].fd : ARES_SOCKET_BAD);
    }
    if (!any && !st.done)
      ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    if (!st.done && rl_ms_left(deadline) == 0)
      break;
  }
  bool done = st.done;
  ares_destroy(ch); /* calls back a pending query (ARES_EDESTRUCTION) */
  if (stop) {
    rl_set_error(c, "shutdown");
    return -1;
  }
  if (!done) {
    rl_set_error(c, "resolve %s: timed out", r->host);
    return -1;
  }
  if (st.status != ARES_SUCCESS || st.na == 0) {
    rl_set_error(c, "resolve %s: %s", r->host, st.status != ARES_SUCCESS ? ares_strerror(st.status) : "no address");
    return -1;
  }
  memcpy(out, st.a, st.na * sizeof(st.a[0]));
  *n = st.na;
  return 0;
}

/* ---------------------------------------------------------------- connect, TLS */

int rl_connect_one(struct rc *c, const struct gw_addr *a)
{
  int port = c->route->port;
  struct sockaddr_storage ss;
  socklen_t sl = gw_addr_sockaddr(a, port, &ss);
  gw_addr_format(a, port, c->upstream, sizeof(c->upstream));
  int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int e = 0;
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
    if (errno != EINPROGRESS) {
      e = errno;
    } else {
      int w = rl_wait_fd(fd, POLLOUT, gw_mono_ms() + GW_CONNECT_TIMEOUT_MS);
      socklen_t el = sizeof(e);
      if (w == W_STOP)
        e = ECANCELED;
      else if (w == W_TIMEOUT)
        e = ETIMEDOUT;
      else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
        e = errno;
    }
  }
  if (e) {
    close(fd);
    return -e;
  }
  rl_nodelay(fd);
  c->ufd = fd;
  c->has_upstream = true;
  return 0;
}

/* The OpenSSL error queue as one short line (never holds request data). */
void rl_ssl_why(char *out, size_t cap)
{
  unsigned long e = ERR_peek_last_error();
  if (e)
    ERR_error_string_n(e, out, cap);
  else
    snprintf(out, cap, "%s", errno ? strerror(errno) : "connection closed");
  ERR_clear_error();
}

/* 0, or -1 with the reply's reason in *why. */
int rl_handshake(struct rc *c, const char **why)
{
  const struct gw_route *r = c->route;
  ERR_clear_error();
  c->ssl = SSL_new(relayd.ctx);
  if (c->ssl == NULL || SSL_set_fd(c->ssl, c->ufd) != 1) {
    rl_set_error(c, "TLS: cannot set up a session");
    *why = "upstream TLS failed";
    return -1;
  }
  bool ok;
  if (r->host_ip) { /* no SNI for an address; the certificate must name it */
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), r->host) == 1;
  } else {
    SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = SSL_set_tlsext_host_name(c->ssl, r->host) == 1 && SSL_set1_host(c->ssl, r->host) == 1;
  }
  if (!ok) {
    rl_set_error(c, "TLS: cannot set the name to verify");
    *why = "upstream TLS failed";
    return -1;
  }
  SSL_set_connect_state(c->ssl);
  uint64_t deadline = gw_mono_ms() + GW_CONNECT_TIMEOUT_MS;
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int k = SSL_do_handshake(c->ssl);
    if (k == 1)
      return 0;
    int e = SSL_get_error(c->ssl, k);
    int w;
    if (e == SSL_ERROR_WANT_READ)
      w = rl_wait_fd(c->ufd, POLLIN, deadline);
    else if (e == SSL_ERROR_WANT_WRITE)
      w = rl_wait_fd(c->ufd, POLLOUT, deadline);
    else
      break;
    if (w == W_STOP) {
      rl_set_error(c, "shutdown");
      *why = "shutting down";
      return -1;
    }
    if (w == W_TIMEOUT) {
      rl_set_error(c, "TLS handshake: timed out after %d s", GW_CONNECT_TIMEOUT_MS / 1000);
      *why = "upstream TLS handshake timed out";
      return -1;
    }
  }
  long v = SSL_get_verify_result(c->ssl);
  if (v != X509_V_OK) {
    rl_set_error(c, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(v));
    ERR_clear_error();
    *why = "upstream certificate verification failed";
    return -1;
  }
  char s[200];
  rl_ssl_why(s, sizeof(s));
  rl_set_error(c, "TLS handshake: %s", s);
  *why = "upstream TLS handshake failed";
  return -1;
}
