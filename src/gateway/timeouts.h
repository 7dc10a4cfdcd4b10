/* adr-gateway's clocks, in one place: the epoll loop (loop.c and its
 * pieces) and the credential relay (relay.c) give a peer the same time for
 * the same step. */
#ifndef ADR_GW_TIMEOUTS_H
#define ADR_GW_TIMEOUTS_H

/* a client's request head (HTTP head, ClientHello, a DNS-over-TCP query)
 * must be complete within this; also the idle time of a DNS-over-TCP
 * connection between queries */
#define GW_HEAD_TIMEOUT_MS 30000
/* a TCP connect upstream, per address; the relay's TLS handshake too */
#define GW_CONNECT_TIMEOUT_MS 10000
/* after a refusal or an error reply: how long the client's remaining bytes
 * are read and dropped, so the close does not reset the reply away */
#define GW_LINGER_MS 2000
/* c-ares, per try and tries per server */
#define GW_DNS_TIMEOUT_MS 3000
#define GW_DNS_TRIES 2
/* TCP keepalive on relayed connections: first probe, interval, probes */
#define GW_KEEPALIVE_IDLE_S 60
#define GW_KEEPALIVE_INTVL_S 20
#define GW_KEEPALIVE_CNT 6

/* the credential relay only */
#define GW_RELAY_IDLE_MS (10 * 60 * 1000) /* no byte either way: the request ends */
#define GW_RELAY_REPLY_TIMEOUT_MS 5000    /* sending the relay's own reply (an error) */
#define GW_RELAY_STOP_WAIT_MS 5000        /* gw_relay_stop(): for the requests in flight */

#endif
