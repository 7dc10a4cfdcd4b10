/* adr-gateway's credential relay: its listening socket, the acceptor and
 * the threads, set-up and stop.  The other parts are listed in relayd.h;
 * the decisions and rewrites are in relay-parse.c, relay-routes.c and
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
#include "relayd.h"
#include "sys.h"
#include "timeouts.h"
#include "util.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct relayd relayd = { .lfd = -1, .stopfd = -1, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* ---------------------------------------------------------------- a request's thread */

static void *worker(void *arg)
{
  struct rc *c = arg;
  rl_serve(c);
  rl_log_line(c);
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
  pthread_mutex_lock(&relayd.mu);
  relayd.live--;
  pthread_cond_broadcast(&relayd.cv);
  pthread_mutex_unlock(&relayd.mu);
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
  struct gw_logrec l = { .sandbox = relayd.sandbox,
                         .client = client,
                         .via = "relay",
                         .port = -1,
                         .rule = "overload",
                         .error = why,
                         .bytes_down = w > 0 ? (uint64_t)w : 0,
                         .relay = true,
                         .status = 503 };
  clock_gettime(CLOCK_REALTIME, &l.time);
  relayd.log(&l);
}

static void *acceptor(void *arg)
{
  (void)arg;
  pthread_attr_t at;
  pthread_attr_init(&at);
  pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&at, THREAD_STACK);
  for (;;) {
    struct pollfd p[2] = { { .fd = relayd.lfd, .events = POLLIN }, { .fd = relayd.stopfd, .events = POLLIN } };
    int k = poll(p, 2, -1);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0 || (p[1].revents & POLLIN))
      break;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(relayd.lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        poll(NULL, 0, 50); /* out of something: do not spin */
      continue;
    }
    char client[64];
    gw_sockaddr_format(&ss, client, sizeof(client));
    pthread_mutex_lock(&relayd.mu);
    bool full = relayd.live >= GW_RELAY_MAX_CONNS;
    if (!full)
      relayd.live++;
    pthread_mutex_unlock(&relayd.mu);
    if (full) {
      overload(fd, client, "too many connections");
      continue;
    }
    rl_nodelay(fd);
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
      pthread_mutex_lock(&relayd.mu);
      relayd.live--;
      pthread_mutex_unlock(&relayd.mu);
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
  if (SSL_CTX_load_verify_file(relayd.ctx, path) != 1) {
    char s[200];
    rl_ssl_why(s, sizeof(s));
    return adr_err_set(err, EINVAL, GW_OPT_CA " %s: not a PEM certificate bundle (%s)", path, s);
  }
  STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(relayd.ctx));
  if (objs == NULL || sk_X509_OBJECT_num(objs) == 0)
    return adr_err_set(err, EINVAL, GW_OPT_CA " %s: no certificate in it", path);
  return 0;
}

static void cleanup(void)
{
  if (relayd.ctx)
    SSL_CTX_free(relayd.ctx);
  relayd.ctx = NULL;
  gw_routes_free(&relayd.routes);
  if (relayd.lfd >= 0)
    close(relayd.lfd);
  if (relayd.stopfd >= 0)
    close(relayd.stopfd);
  relayd.lfd = relayd.stopfd = -1;
  free(relayd.resolvers);
  relayd.resolvers = NULL;
  if (relayd.ares_ok)
    ares_library_cleanup();
  relayd.ares_ok = false;
}

int gw_relay_init(const struct gw_relay_conf *conf, adr_err *err)
{
  relayd.sandbox = conf->sandbox;
  relayd.log = conf->log;
  relayd.resolvers = conf->resolvers ? xstrdup(conf->resolvers) : NULL;
  if (gw_routes_load(&relayd.routes, conf->routes, err) < 0)
    goto fail;
  if (OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS,
                       NULL) != 1) {
    adr_err_set(err, 0, "OpenSSL: cannot initialise");
    goto fail;
  }
  relayd.ctx = SSL_CTX_new(TLS_client_method());
  if (relayd.ctx == NULL) {
    adr_err_set(err, 0, "OpenSSL: cannot make a TLS context");
    goto fail;
  }
  SSL_CTX_set_min_proto_version(relayd.ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(relayd.ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(relayd.ctx,
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(relayd.ctx, SSL_VERIFY_PEER, NULL);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(relayd.ctx, alpn, sizeof(alpn) - 1);
  if (load_ca(conf->ca, err) < 0)
    goto fail;
  int e = ares_library_init(ARES_LIB_INIT_ALL);
  if (e != ARES_SUCCESS) {
    adr_err_set(err, 0, "c-ares: %s", ares_strerror(e));
    goto fail;
  }
  relayd.ares_ok = true;

  relayd.stopfd = eventfd(0, EFD_CLOEXEC);
  if (relayd.stopfd < 0) {
    adr_err_sys(err, errno, "eventfd");
    goto fail;
  }
  relayd.lfd = gw_listener(conf->bind, conf->port, SOCK_STREAM, 256, GW_OPT_RELAY_PORT, err);
  if (relayd.lfd < 0)
    goto fail;
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
  int e = pthread_create(&relayd.acceptor, &at, acceptor, NULL);
  pthread_attr_destroy(&at);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (e != 0)
    return adr_err_sys(err, e, "relay thread");
  relayd.started = true;
  return 0;
}

void gw_relay_stop(void)
{
  if (relayd.started) {
    uint64_t one = 1;
    ssize_t w = write(relayd.stopfd, &one, sizeof(one));
    (void)w;
    pthread_join(relayd.acceptor, NULL);
    relayd.started = false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += GW_RELAY_STOP_WAIT_MS / 1000;
    pthread_mutex_lock(&relayd.mu);
    int e = 0;
    while (relayd.live > 0 && e != ETIMEDOUT)
      e = pthread_cond_timedwait(&relayd.cv, &relayd.mu, &ts);
    unsigned left = relayd.live;
    pthread_mutex_unlock(&relayd.mu);
    if (left > 0)
      return; /* a thread still runs (cannot happen but for a stuck write): leave it its data */
  }
  cleanup();
}
