/* adr-gateway's credential relay: sockets, threads, name resolution and TLS.
 * The decisions and rewrites are in relay-parse.c, relay-routes.c and
 * relay-frame.c.
 *
 * One acceptor thread; one thread per request (at most GW_RELAY_MAX_CONNS;
 * beyond, 503).  Every socket is non-blocking and every wait is a poll(2)
 * that also watches stopfd, so gw_relay_stop() ends everything at once.
 * A request's path through here:
 *
 *   head (30 s, 64 KiB) -> decision (refusals answered by the relay itself)
 *   -> resolve (c-ares, a channel of its own) -> connect (10 s)
 *   -> TLS handshake (10 s, certificate verified against --ca, host name or
 *      address checked) -> the rewritten head, then both directions as
 *      bytes arrive (10 min idle) -> upstream closes -> the client is closed.
 *
 * Relay threads have every signal blocked: the gateway's main loop takes
 * SIGTERM through its signalfd. */
#include "relay.h"
#include "sys.h"
#include "timeouts.h"
#include "util.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_CHUNK 16384
#define MAX_ADDRS 4
#define DISCARD_MAX 65536 /* bytes a client may send after its request */
#define THREAD_STACK (512 * 1024)
#define RESP_OUT_MAX (2 * GW_RELAY_HEAD_MAX + 64)

static struct {
  struct gw_routes routes;
  SSL_CTX *ctx;
  int lfd, stopfd;
  char *resolvers;
  const char *sandbox;
  void (*log)(const struct gw_logrec *r);
  pthread_t acceptor;
  bool started, ares_ok;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned live;
} R = { .lfd = -1, .stopfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* One request. */
struct rc {
  int cfd, ufd;
  SSL *ssl;
  uint64_t t0;
  char client[64];
  /* for the log line */
  bool allow;
  const char *rule;
  const struct gw_route *route;
  char method[48], name[96], path[1024];
  bool has_method, has_name, has_path;
  int status;
  char upstream[64];
  bool has_upstream;
  char error[256];
  uint64_t bytes_up, bytes_down;
  /* buffers */
  char *head; /* the client's head (holds the sentinel only) */
  size_t hlen;
  char *out; /* the rewritten head: holds the key, zeroed before it is freed */
  size_t outlen;
  struct gw_relay_req q;
};

/* ---------------------------------------------------------------- helpers */

static int ms_left(uint64_t deadline)
{
  uint64_t now = gw_mono_ms();
  if (now >= deadline)
    return 0;
  uint64_t d = deadline - now;
  return d > INT_MAX ? INT_MAX : (int)d;
}

__attribute__((format(printf, 2, 3))) static void set_error(struct rc *c, const char *fmt, ...)
{
  if (c->error[0])
    return; /* the first cause is the one that matters */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof(c->error), fmt, ap);
  va_end(ap);
}

enum { W_TIMEOUT = 0, W_READY = 1, W_STOP = -1 };

/* Wait for ev on fd (and for the stop signal) until deadline. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
  for (;;) {
    struct pollfd p[2] = { { .fd = fd, .events = ev }, { .fd = R.stopfd, .events = POLLIN } };
    int n = poll(p, 2, ms_left(deadline));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || (p[1].revents & POLLIN))
      return W_STOP;
    if (n == 0)
      return ms_left(deadline) ? W_READY : W_TIMEOUT; /* spurious: the caller retries */
    return W_READY;
  }
}

static bool stopping(void)
{
  struct pollfd p = { .fd = R.stopfd, .events = POLLIN };
  return poll(&p, 1, 0) > 0;
}

static void nodelay(int fd)
{
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (wait_fd(fd, POLLOUT, deadline) != W_READY)
        return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

static const char *status_text(int status)
{
  switch (status) {
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 408: return "Request Timeout";
  case 431: return "Request Header Fields Too Large";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Error";
  }
}

/* The relay's own answer: a short JSON body.  reason is one of this file's
 * fixed strings, never anything the client or upstream sent. */
static void reply(struct rc *c, int status, const char *reason)
{
  char body[256], b[768];
  int bl = snprintf(body, sizeof(body), "{\"error\":\"adr relay: %s\"}\n", reason);
  int n = snprintf(b, sizeof(b),
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s",
                   status, status_text(status), bl, body);
  c->status = status;
  if (n > 0 && (size_t)n < sizeof(b) &&
      send_all(c->cfd, b, (size_t)n, gw_mono_ms() + GW_RELAY_REPLY_TIMEOUT_MS) == 0)
    c->bytes_down += (uint64_t)n;
}

/* After the last byte to the client: no more writing, and read (and drop)
 * what it still sends until it closes, so that closing does not reset the
 * connection under the answer's tail. */
static void linger(int fd)
{
  shutdown(fd, SHUT_WR);
  uint64_t deadline = gw_mono_ms() + GW_LINGER_MS;
  size_t total = 0;
  char sink[4096];
  while (total < (1u << 20)) {
    ssize_t n = recv(fd, sink, sizeof(sink), 0);
    if (n > 0) {
      total += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(fd, POLLIN, deadline) == W_READY &&
        ms_left(deadline))
      continue;
    break;
  }
}

static void log_line(struct rc *c)
{
  const struct gw_route *r = c->route;
  struct gw_logrec l = {
    .sandbox = R.sandbox,
    .client = c->client,
    .via = "relay",
    .method = c->has_method ? c->method : NULL,
    .host = r ? r->host : NULL,
    .port = r ? r->port : -1,
    .allow = c->allow,
    .rule = c->rule,
    .bytes_up = c->bytes_up,
    .bytes_down = c->bytes_down,
    .duration_ms = gw_mono_ms() - c->t0,
    .upstream = c->has_upstream ? c->upstream : NULL,
    .error = c->error[0] ? c->error : NULL,
    .relay = true,
    .route = r ? r->name : c->has_name ? c->name : NULL,
    .path = c->has_path ? c->path : NULL,
    .status = c->status,
  };
  clock_gettime(CLOCK_REALTIME, &l.time);
  R.log(&l);
}

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
static int resolve(struct rc *c, struct gw_addr *out, size_t *n)
{
  const struct gw_route *r = c->route;
  if (r->host_ip) {
    if (gw_addr_parse(r->host, strlen(r->host), &out[0]) < 0) {
      set_error(c, "resolve: bad address"); /* cannot happen: checked when the routes were read */
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
  int e = ares_init_options(&ch, &ao, ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS |
                                        ARES_OPT_TRIES | ARES_OPT_FLAGS);
  if (e != ARES_SUCCESS) {
    set_error(c, "resolve: %s", ares_strerror(e));
    return -1;
  }
  if (R.resolvers && (e = ares_set_servers_ports_csv(ch, R.resolvers)) != ARES_SUCCESS) {
    ares_destroy(ch);
    set_error(c, "resolve: %s", ares_strerror(e));
    return -1;
  }
  struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC, .ai_flags = ARES_AI_NOSORT };
  ares_getaddrinfo(ch, r->host, NULL, &hints, res_done, &st);
  uint64_t deadline = gw_mono_ms() + GW_CONNECT_TIMEOUT_MS;
  bool stop = false;
  while (!st.done) {
    struct pollfd p[ARRAY_SIZE(st.fds) + 1];
    memcpy(p, st.fds, st.n * sizeof(p[0]));
    p[st.n] = (struct pollfd){ .fd = R.stopfd, .events = POLLIN };
    int ms = ms_left(deadline);
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
    if (!st.done && ms_left(deadline) == 0)
      break;
  }
  bool done = st.done;
  ares_destroy(ch); /* calls back a pending query (ARES_EDESTRUCTION) */
  if (stop) {
    set_error(c, "shutdown");
    return -1;
  }
  if (!done) {
    set_error(c, "resolve %s: timed out", r->host);
    return -1;
  }
  if (st.status != ARES_SUCCESS || st.na == 0) {
    set_error(c, "resolve %s: %s", r->host, st.status != ARES_SUCCESS ? ares_strerror(st.status) : "no address");
    return -1;
  }
  memcpy(out, st.a, st.na * sizeof(st.a[0]));
  *n = st.na;
  return 0;
}

/* ---------------------------------------------------------------- connect, TLS */

static int connect_one(struct rc *c, const struct gw_addr *a)
{
  int port = c->route->port;
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof(ss));
  if (a->family == AF_INET) {
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    memcpy(&s->sin_addr, a->a, 4);
    sl = sizeof(*s);
  } else {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    memcpy(&s->sin6_addr, a->a, 16);
    sl = sizeof(*s);
  }
  gw_addr_format(a, port, c->upstream, sizeof(c->upstream));
  int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int e = 0;
  if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
    if (errno != EINPROGRESS) {
      e = errno;
    } else {
      int w = wait_fd(fd, POLLOUT, gw_mono_ms() + GW_CONNECT_TIMEOUT_MS);
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
  nodelay(fd);
  c->ufd = fd;
  c->has_upstream = true;
  return 0;
}

/* The OpenSSL error queue as one short line (never holds request data). */
static void ssl_why(char *out, size_t cap)
{
  unsigned long e = ERR_peek_last_error();
  if (e)
    ERR_error_string_n(e, out, cap);
  else
    snprintf(out, cap, "%s", errno ? strerror(errno) : "connection closed");
  ERR_clear_error();
}

/* 0, or -1 with the reply's reason in *why. */
static int handshake(struct rc *c, const char **why)
{
  const struct gw_route *r = c->route;
  ERR_clear_error();
  c->ssl = SSL_new(R.ctx);
  if (c->ssl == NULL || SSL_set_fd(c->ssl, c->ufd) != 1) {
    set_error(c, "TLS: cannot set up a session");
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
    set_error(c, "TLS: cannot set the name to verify");
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
      w = wait_fd(c->ufd, POLLIN, deadline);
    else if (e == SSL_ERROR_WANT_WRITE)
      w = wait_fd(c->ufd, POLLOUT, deadline);
    else
      break;
    if (w == W_STOP) {
      set_error(c, "shutdown");
      *why = "shutting down";
      return -1;
    }
    if (w == W_TIMEOUT) {
      set_error(c, "TLS handshake: timed out after %d s", GW_CONNECT_TIMEOUT_MS / 1000);
      *why = "upstream TLS handshake timed out";
      return -1;
    }
  }
  long v = SSL_get_verify_result(c->ssl);
  if (v != X509_V_OK) {
    set_error(c, "TLS: certificate verify failed: %s", X509_verify_cert_error_string(v));
    ERR_clear_error();
    *why = "upstream certificate verification failed";
    return -1;
  }
  char s[200];
  ssl_why(s, sizeof(s));
  set_error(c, "TLS handshake: %s", s);
  *why = "upstream TLS handshake failed";
  return -1;
}

/* ---------------------------------------------------------------- relaying */

/* Both directions until upstream closes (or something fails). */
static void relay(struct rc *c)
{
  SSL *ssl = c->ssl;
  const char *upp = c->out; /* to upstream: the head, then body bytes from cbuf */
  size_t upn = c->outlen;
  bool head_sent = false;
  struct gw_body *body = &c->q.body;
  /* the bytes of the head that were already past it: the body's first */
  size_t extra = c->hlen - c->q.head_len;
  size_t extra_body = gw_body_feed(body, (const uint8_t *)c->head + c->q.head_len, extra);
  uint64_t discarded = extra - extra_body;
  cleanup_free char *cbuf = xmalloc(IO_CHUNK);
  cleanup_free char *dbuf = xmalloc(IO_CHUNK);
  cleanup_free char *resp = xmalloc(GW_RELAY_HEAD_MAX);
  cleanup_free char *dout = NULL;
  size_t rlen = 0;
  const char *dnp = NULL; /* to the client */
  size_t dnn = 0;
  bool final_head = false, reparse = false, u_eof = false;
  struct gw_body rbody; /* the response's body: once it is complete, so is the exchange */
  bool head_request = strcmp(c->q.method, "HEAD") == 0;
  bool pending_extra = extra_body > 0;
  uint64_t idle = gw_mono_ms() + GW_RELAY_IDLE_MS;

  if (body->bad) {
    set_error(c, "malformed chunked request body");
    goto out;
  }
  for (;;) {
    bool prog = false;
    short uev = 0, cev = 0;

    /* to upstream */
    if (upn == 0 && head_sent && pending_extra) {
      upp = c->head + c->q.head_len;
      upn = extra_body;
      pending_extra = false;
    }
    if (upn > 0) {
      ERR_clear_error();
      int n = SSL_write(ssl, upp, upn > INT_MAX ? INT_MAX : (int)upn);
      if (n > 0) {
        upp += n;
        upn -= (size_t)n;
        c->bytes_up += (uint64_t)n;
        prog = true;
        if (upn == 0 && !head_sent) {
          head_sent = true;
          explicit_bzero(c->out, c->outlen);
          free(c->out);
          c->out = NULL;
        }
      } else {
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ)
          uev |= POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
          uev |= POLLOUT;
        else {
          char s[200];
          ssl_why(s, sizeof(s));
          set_error(c, "upstream: write: %s", s);
          goto out;
        }
      }
    }

    /* from the client: the body, then only its end (or a stray byte) */
    if (upn == 0 && !pending_extra && head_sent) {
      ssize_t n = recv(c->cfd, cbuf, IO_CHUNK, 0);
      if (n > 0) {
        prog = true;
        size_t k = gw_body_feed(body, (const uint8_t *)cbuf, (size_t)n);
        if (body->bad) {
          set_error(c, "malformed chunked request body");
          goto out;
        }
        upp = cbuf;
        upn = k;
        discarded += (size_t)n - k;
      } else if (n == 0) {
        set_error(c, "client closed before the response ended");
        goto out;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        cev |= POLLIN;
      } else if (errno != EINTR) {
        set_error(c, "client: %s", strerror(errno));
        goto out;
      }
    }
    if (discarded > DISCARD_MAX) {
      set_error(c, "client sent more than %d bytes after its request", DISCARD_MAX);
      goto out;
    }

    /* from upstream */
    if (dnn == 0 && !final_head && reparse) {
      reparse = false;
      goto parse;
    }
    if (dnn == 0 && !u_eof) {
      ERR_clear_error();
      errno = 0;
      int n = SSL_read(ssl, final_head ? dbuf : resp + rlen,
                       final_head ? IO_CHUNK : (int)(GW_RELAY_HEAD_MAX - rlen));
      if (n > 0) {
        prog = true;
        if (final_head) {
          dnp = dbuf;
          dnn = gw_body_feed(&rbody, (const uint8_t *)dbuf, (size_t)n); /* nothing past the body */
          if (rbody.bad) {
            set_error(c, "upstream: malformed chunked response body");
            goto out;
          }
        } else {
          rlen += (size_t)n;
          goto parse;
        }
      } else {
        int e = SSL_get_error(ssl, n);
        if (e == SSL_ERROR_WANT_READ)
          uev |= POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
          uev |= POLLOUT;
        else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
          u_eof = true, prog = true;
        else {
          char s[200];
          ssl_why(s, sizeof(s));
          set_error(c, "upstream: read: %s", s);
          if (!final_head && c->bytes_down == 0)
            reply(c, 502, "upstream connection failed");
          goto out;
        }
      }
    }
    goto to_client;

  parse: {
      int st;
      size_t hl, dl;
      if (dout == NULL)
        dout = xmalloc(RESP_OUT_MAX);
      int k = gw_relay_response(resp, rlen, head_request, &st, &hl, &rbody, dout, RESP_OUT_MAX, &dl);
      if (k == GW_HTTP_MORE && rlen < GW_RELAY_HEAD_MAX)
        goto to_client;
      if (k != 1) {
        set_error(c, k == GW_HTTP_MORE ? "upstream response head larger than %d bytes" : "malformed upstream response head",
                  GW_RELAY_HEAD_MAX);
        if (c->bytes_down == 0)
          reply(c, 502, "bad upstream response");
        goto out;
      }
      c->status = st;
      size_t rest = rlen - hl;
      if (st >= 100 && st < 200 && st != 101) {
        /* an interim response: forwarded; the next head follows */
        memmove(resp, resp + hl, rest);
        rlen = rest;
        reparse = rest > 0;
      } else {
        /* the first body bytes; fits: dl <= 2 hl + 21 */
        size_t kb = gw_body_feed(&rbody, (const uint8_t *)resp + hl, rest);
        if (rbody.bad) {
          set_error(c, "upstream: malformed chunked response body");
          goto out;
        }
        memcpy(dout + dl, resp + hl, kb);
        dl += kb;
        final_head = true;
        free(resp);
        resp = NULL;
        rlen = 0;
      }
      dnp = dout;
      dnn = dl;
      prog = true;
    }

  to_client:
    if (dnn > 0) {
      ssize_t n = send(c->cfd, dnp, dnn, MSG_NOSIGNAL);
      if (n > 0) {
        dnp += n;
        dnn -= (size_t)n;
        c->bytes_down += (uint64_t)n;
        prog = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        cev |= POLLOUT;
      } else if (!(n < 0 && errno == EINTR)) {
        set_error(c, "client: %s", n < 0 ? strerror(errno) : "closed");
        goto out;
      }
    }
    if (final_head && rbody.done && dnn == 0)
      break; /* the whole response reached the client */
    if (u_eof && dnn == 0 && (final_head || !reparse)) {
      if (!final_head) {
        set_error(c, "upstream closed without a response");
        if (c->bytes_down == 0)
          reply(c, 502, "upstream closed without a response");
        goto out;
      }
      if (final_head && !rbody.done && rbody.kind != GW_BODY_UNTIL_CLOSE)
        set_error(c, "upstream closed before the end of the response");
      break; /* done */
    }
    if (prog) {
      idle = gw_mono_ms() + GW_RELAY_IDLE_MS;
      continue;
    }
    struct pollfd p[3] = {
      { .fd = cev ? c->cfd : -1, .events = cev },
      { .fd = uev ? c->ufd : -1, .events = uev },
      { .fd = R.stopfd, .events = POLLIN },
    };
    int k = poll(p, 3, ms_left(idle));
    if (k < 0 && errno != EINTR) {
      set_error(c, "poll: %s", strerror(errno));
      goto out;
    }
    if (k > 0 && (p[2].revents & POLLIN)) {
      set_error(c, "shutdown");
      goto out;
    }
    if (k == 0 && ms_left(idle) == 0) {
      set_error(c, "idle for %d s", GW_RELAY_IDLE_MS / 1000);
      if (c->bytes_down == 0)
        reply(c, 504, "upstream timed out");
      goto out;
    }
  }
  /* upstream closed and everything reached the client */
  ERR_clear_error();
  SSL_shutdown(ssl); /* best effort, never waited for */
  ERR_clear_error();
  close(c->ufd);
  c->ufd = -1;
  linger(c->cfd);
out:
  if (c->out) {
    explicit_bzero(c->out, c->outlen);
    free(c->out);
    c->out = NULL;
  }
}

/* ---------------------------------------------------------------- one request */

static void log_fields(struct rc *c)
{
  const struct gw_relay_req *q = &c->q;
  if (q->method[0]) {
    gw_relay_redact(&R.routes, q->method, strlen(q->method), c->method, sizeof(c->method));
    c->has_method = true;
  }
  if (q->has_path) {
    gw_relay_redact(&R.routes, c->head + q->name_off, q->name_len, c->name, sizeof(c->name));
    gw_relay_redact(&R.routes, c->head + q->path_off, q->path_len, c->path, sizeof(c->path));
    c->has_name = c->has_path = true;
  }
}

/* Where the head may end, in the bytes from..len (and the three before). */
static bool maybe_end(const char *b, size_t from, size_t len)
{
  size_t s = from > 3 ? from - 3 : 0;
  return memmem(b + s, len - s, "\n\n", 2) || memmem(b + s, len - s, "\n\r\n", 3);
}

static void serve(struct rc *c)
{
  c->head = xmalloc(GW_RELAY_HEAD_MAX);
  c->out = xmalloc(GW_RELAY_OUT_MAX);
  uint64_t deadline = c->t0 + GW_HEAD_TIMEOUT_MS;
  int r = GW_HTTP_MORE;
  for (;;) {
    ssize_t n = recv(c->cfd, c->head + c->hlen, GW_RELAY_HEAD_MAX - c->hlen, 0);
    if (n > 0) {
      size_t from = c->hlen;
      c->hlen += (size_t)n;
      /* parse the first bytes (a method, or a quick 400), then only when
       * the head may have ended: no quadratic work on a trickled head */
      if (from == 0 || maybe_end(c->head, from, c->hlen)) {
        r = gw_relay_request(&R.routes, c->head, c->hlen, &c->q, c->out, GW_RELAY_OUT_MAX, &c->outlen);
        if (r != GW_HTTP_MORE)
          break;
      }
      if (c->hlen == GW_RELAY_HEAD_MAX) {
        c->rule = "head-too-large";
        set_error(c, "request head larger than %d bytes", GW_RELAY_HEAD_MAX);
        reply(c, 431, "request head too large");
        linger(c->cfd);
        return;
      }
      continue;
    }
    if (n == 0) {
      c->rule = "bad-request";
      set_error(c, "client closed in the request head");
      return;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c->rule = "bad-request";
      set_error(c, "client: %s", strerror(errno));
      return;
    }
    int w = wait_fd(c->cfd, POLLIN, deadline);
    if (w == W_STOP) {
      c->rule = "shutdown";
      set_error(c, "shutdown");
      return;
    }
    if (w == W_TIMEOUT) {
      c->rule = "bad-request";
      set_error(c, "no complete request within %d s", GW_HEAD_TIMEOUT_MS / 1000);
      reply(c, 408, "no complete request in time");
      linger(c->cfd);
      return;
    }
  }
  log_fields(c);
  if (r < 0) {
    c->route = c->q.route; /* NULL when the route is unknown */
    c->rule = c->q.rule;
    reply(c, c->q.status, c->q.reason);
    linger(c->cfd);
    return;
  }
  c->allow = true;
  c->route = c->q.route;
  c->rule = c->q.rule;

  struct gw_addr addrs[MAX_ADDRS];
  size_t na = 0;
  if (resolve(c, addrs, &na) < 0) {
    if (!stopping())
      reply(c, 502, "upstream name not resolved");
    linger(c->cfd);
    return;
  }
  int e = 0;
  for (size_t i = 0; i < na && c->ufd < 0; i++)
    if ((e = connect_one(c, &addrs[i])) < 0 && e == -ECANCELED)
      break;
  if (c->ufd < 0) {
    set_error(c, "connect %s: %s", c->upstream, e == -ECANCELED ? "shutdown" : strerror(-e));
    if (e != -ECANCELED)
      reply(c, 502, "upstream connection failed");
    linger(c->cfd);
    return;
  }
  const char *why;
  if (handshake(c, &why) < 0) {
    if (!stopping())
      reply(c, 502, why);
    linger(c->cfd);
    return;
  }
  relay(c);
}

static void *worker(void *arg)
{
  struct rc *c = arg;
  serve(c);
  log_line(c);
  if (c->ssl)
    SSL_free(c->ssl);
  if (c->ufd >= 0)
    close(c->ufd);
  close(c->cfd);
  if (c->out) {
    explicit_bzero(c->out, c->outlen);
    free(c->out);
  }
  free(c->head);
  free(c);
  OPENSSL_thread_stop();
  pthread_mutex_lock(&R.mu);
  R.live--;
  pthread_cond_broadcast(&R.cv);
  pthread_mutex_unlock(&R.mu);
  return NULL;
}

/* ---------------------------------------------------------------- accept */

/* Beyond GW_RELAY_MAX_CONNS (or no thread to be had: a pids limit): 503 at
 * once, from the acceptor (never waits). */
static void overload(int fd, const char *client, const char *why)
{
  static const char body[] = "{\"error\":\"adr relay: too many connections\"}\n";
  char b[256];
  int n = snprintf(b, sizeof(b),
                   "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   sizeof(body) - 1, body);
  ssize_t w = send(fd, b, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(fd, SHUT_WR);
  char sink[4096];
  while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
    ;
  close(fd);
  struct gw_logrec l = { .sandbox = R.sandbox, .client = client, .via = "relay", .port = -1, .rule = "overload",
                         .error = why, .bytes_down = w > 0 ? (uint64_t)w : 0, .relay = true,
                         .status = 503 };
  clock_gettime(CLOCK_REALTIME, &l.time);
  R.log(&l);
}

static void *acceptor(void *arg)
{
  (void)arg;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&at, THREAD_STACK);
  for (;;) {
    struct pollfd p[2] = { { .fd = R.lfd, .events = POLLIN }, { .fd = R.stopfd, .events = POLLIN } };
    int k = poll(p, 2, -1);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 || (p[1].revents & POLLIN))
      break;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(R.lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        poll(NULL, 0, 50); /* out of something: do not spin */
      continue;
    }
    char client[64];
    gw_sockaddr_format(&ss, client, sizeof(client));
    pthread_mutex_lock(&R.mu);
    bool full = R.live >= GW_RELAY_MAX_CONNS;
    if (!full)
      R.live++;
    pthread_mutex_unlock(&R.mu);
    if (full) {
      overload(fd, client, "too many connections");
      continue;
    }
    nodelay(fd);
    struct rc *c = xcalloc(1, sizeof(*c));
    c->cfd = fd;
    c->ufd = -1;
    c->t0 = gw_mono_ms();
    c->status = -1;
    memcpy(c->client, client, sizeof(c->client));
    pthread_t t;
    int e = pthread_create(&t, &at, worker, c);
    if (e != 0) {
      free(c);
      pthread_mutex_lock(&R.mu);
      R.live--;
      pthread_mutex_unlock(&R.mu);
      char why[128];
      snprintf(why, sizeof(why), "cannot start a thread: %s", strerror(e));
      overload(fd, client, why);
    }
  }
  pthread_attr_destroy(&at);
  OPENSSL_thread_stop();
  return NULL;
}

/* ---------------------------------------------------------------- set-up */

static int load_ca(const char *path, adr_err *err)
{
  cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return adr_err_sys(err, errno, GW_OPT_CA " %s", path);
  ERR_clear_error();
  if (SSL_CTX_load_verify_file(R.ctx, path) != 1) {
    char s[200];
    ssl_why(s, sizeof(s));
    return adr_err_set(err, EINVAL, GW_OPT_CA " %s: not a PEM certificate bundle (%s)", path, s);
  }
  STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(R.ctx));
  if (objs == NULL || sk_X509_OBJECT_num(objs) == 0)
    return adr_err_set(err, EINVAL, GW_OPT_CA " %s: no certificate in it", path);
  return 0;
}

static void cleanup(void)
{
  if (R.ctx)
    SSL_CTX_free(R.ctx);
  R.ctx = NULL;
  gw_routes_free(&R.routes);
  if (R.lfd >= 0)
    close(R.lfd);
  if (R.stopfd >= 0)
    close(R.stopfd);
  R.lfd = R.stopfd = -1;
  free(R.resolvers);
  R.resolvers = NULL;
  if (R.ares_ok)
    ares_library_cleanup();
  R.ares_ok = false;
}

int gw_relay_init(const struct gw_relay_conf *conf, adr_err *err)
{
  R.sandbox = conf->sandbox;
  R.log = conf->log;
  R.resolvers = conf->resolvers ? xstrdup(conf->resolvers) : NULL;
  if (gw_routes_load(&R.routes, conf->routes, err) < 0)
    goto fail;
  if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
                       NULL) != 1) {
    adr_err_set(err, 0, "OpenSSL: cannot initialise");
    goto fail;
  }
  R.ctx = SSL_CTX_new(TLS_client_method());
  if (R.ctx == NULL) {
    adr_err_set(err, 0, "OpenSSL: cannot make a TLS context");
    goto fail;
  }
  SSL_CTX_set_min_proto_version(R.ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(R.ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(R.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(R.ctx, SSL_VERIFY_PEER, NULL);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(R.ctx, alpn, sizeof(alpn) - 1);
  if (load_ca(conf->ca, err) < 0)
    goto fail;
  int e = ares_library_init(ARES_LIB_INIT_ALL);
  if (e != ARES_SUCCESS) {
    adr_err_set(err, 0, "c-ares: %s", ares_strerror(e));
    goto fail;
  }
  R.ares_ok = true;

  R.stopfd = eventfd(0, EFD_CLOEXEC);
  if (R.stopfd < 0) {
    adr_err_sys(err, errno, "eventfd");
    goto fail;
  }
  R.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (R.lfd < 0) {
    adr_err_sys(err, errno, "relay socket");
    goto fail;
  }
  int one = 1;
  setsockopt(R.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(conf->port), .sin_addr = conf->bind };
  char addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &conf->bind, addr, sizeof(addr));
  if (bind(R.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    adr_err_sys(err, errno, GW_OPT_RELAY_PORT ": bind %s:%u/tcp", addr, conf->port);
    goto fail;
  }
  if (listen(R.lfd, 256) < 0) {
    adr_err_sys(err, errno, GW_OPT_RELAY_PORT ": listen %s:%u/tcp", addr, conf->port);
    goto fail;
  }
  return 0;
fail:
  cleanup();
  return -1;
}

int gw_relay_start(adr_err *err)
{
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old); /* inherited by the acceptor, and by its workers */
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setstacksize(&at, THREAD_STACK);
  int e = pthread_create(&R.acceptor, &at, acceptor, NULL);
  pthread_attr_destroy(&at);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0)
    return adr_err_sys(err, e, "relay thread");
  R.started = true;
  return 0;
}

void gw_relay_stop(void)
{
  if (R.started) {
    uint64_t one = 1;
    ssize_t w = write(R.stopfd, &one, sizeof(one));
    (void)w;
    pthread_join(R.acceptor, NULL);
    R.started = false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += GW_RELAY_STOP_WAIT_MS / 1000;
    pthread_mutex_lock(&R.mu);
    int e = 0;
    while (R.live > 0 && e != ETIMEDOUT)
      e = pthread_cond_timedwait(&R.cv, &R.mu, &ts);
    unsigned left = R.live;
    pthread_mutex_unlock(&R.mu);
    if (left > 0)
      return; /* a thread still runs (cannot happen but for a stuck write): leave it its data */
  }
  cleanup();
}
