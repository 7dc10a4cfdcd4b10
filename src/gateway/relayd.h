/* adr-gateway's credential relay: what its files share.  Private to the
 * executable; the interface is relay.h.
 *
 *   relay.c        the acceptor, a thread per request, set-up and stop
 *   relay-serve.c  one request: its head, the decision, the exchange
 *   relay-up.c     resolving, connecting and TLS to the route's upstream
 *   relay-io.c     waits, the relay's own replies, the log line
 *
 * Every socket is non-blocking and every wait is a poll(2) that also
 * watches relayd.stopfd, so gw_relay_stop() ends everything at once. */
#ifndef ADR_GW_RELAYD_H
#define ADR_GW_RELAYD_H

#include "relay.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IO_CHUNK 16384
#define MAX_ADDRS 4
#define DISCARD_MAX 65536 /* bytes a client may send after its request */
#define THREAD_STACK (512 * 1024)
#define RESP_OUT_MAX (2 * GW_RELAY_HEAD_MAX + 64)

struct relayd {
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
};
extern struct relayd relayd;

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

/* relay-io.c */
int rl_ms_left(uint64_t deadline);
/* The first cause is the one that is kept. */
__attribute__((format(printf, 2, 3))) void rl_set_error(struct rc *c, const char *fmt, ...);
enum { W_TIMEOUT = 0, W_READY = 1, W_STOP = -1 };
/* Wait for ev on fd (and for the stop signal) until deadline. */
int rl_wait_fd(int fd, short ev, uint64_t deadline);
bool rl_stopping(void);
void rl_nodelay(int fd);
int rl_send_all(int fd, const char *p, size_t n, uint64_t deadline);
/* The relay's own answer; reason is a fixed string, never anything the
 * client or upstream sent. */
void rl_reply(struct rc *c, int status, const char *reason);
void rl_linger(int fd);
void rl_log_line(struct rc *c);

/* relay-up.c */
/* The route's upstream addresses; 0, or -1 with c->error set. */
int rl_resolve(struct rc *c, struct gw_addr *out, size_t *n);
/* 0 (c->ufd connected), or -errno (-ECANCELED: stopping). */
int rl_connect_one(struct rc *c, const struct gw_addr *a);
/* 0, or -1 with the reply's reason in *why. */
int rl_handshake(struct rc *c, const char **why);
/* The OpenSSL error queue as one short line (never holds request data). */
void rl_ssl_why(char *out, size_t cap);

/* relay-serve.c */
void rl_serve(struct rc *c);

#endif
