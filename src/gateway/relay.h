/* adr-gateway: the credential relay (relay.c).
 *
 * The sandbox holds a sentinel instead of an API key and sends its API
 * requests in plain HTTP to the relay (/ROUTE/PATH); the relay checks the
 * sentinel, puts the real key in its place and forwards the request over
 * verified TLS to the route's upstream.  One thread per request (at most
 * GW_RELAY_MAX_CONNS), blocking nothing on the gateway's epoll loop. */
#ifndef ADR_GW_RELAY_H
#define ADR_GW_RELAY_H

#include "gw.h"

#include <netinet/in.h>

struct gw_relay_conf {
  const char *routes; /* the route file */
  const char *ca;     /* PEM bundle that upstream certificates are verified against */
  struct in_addr bind;
  uint16_t port;
  const char *sandbox;
  const char *resolvers; /* c-ares servers ("1.2.3.4:53,[::1]:53"), or NULL: /etc/resolv.conf */
  /* writes one decision line; called from relay threads, so it must be
   * thread-safe */
  void (*log)(const struct gw_logrec *r);
};

/* Load the routes and the CA bundle, listen.  No thread yet: call this
 * before privileges are dropped (the files may need them), and
 * gw_relay_start() after (capabilities are per thread: a thread started
 * earlier would keep them). */
int gw_relay_init(const struct gw_relay_conf *c, adr_err *err);
int gw_relay_start(adr_err *err);
/* Stop accepting, end the requests in flight (each logs its line, error
 * "shutdown"), free everything; the keys are zeroed. */
void gw_relay_stop(void);

#endif
