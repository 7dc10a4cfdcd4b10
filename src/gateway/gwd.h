/* adr-gateway's event loop: what its pieces share.  Private to the
 * executable (the parsers' interface is gw.h, the contract with adr is
 * src/common/gwproto.h).
 *
 *   main.c      start-up and teardown
 *   opts.c      the command line
 *   hold.c      --hold (open mode's namespace holder)
 *   loop.c      the epoll loop, timers, expiry, the end of a connection
 *   conn.c      listeners, accept, the two buffers and the relay proper
 *   classify.c  reading the head, classification, the decision, refusals
 *   upstream.c  resolving (c-ares in the loop) and connecting upstream
 *   dnsd.c      the DNS server (UDP and TCP); dns.c parses the messages
 *   logw.c      the decision log (shared with the relay's threads)
 *
 * Client and upstream sockets are edge-triggered: a side's "rd"/"wr" flag
 * says it may have more to give/take, and is cleared by EAGAIN.  Work cut
 * short for fairness goes on the run queue.  Connections are freed only at
 * the end of a loop iteration (and never while a c-ares query refers to
 * them), so an event for a finished connection is simply skipped. */
#ifndef ADR_GWD_H
#define ADR_GWD_H

#include "gw.h"
#include "util.h"

#include <ares.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#define RBUF_CAP 65536
#define MAX_ADDRS 4
#define ARES_TAG (1ull << 63) /* epoll data of a c-ares socket: the tag and the fd */

enum wtype { W_LISTEN, W_DNS_UDP, W_CLIENT, W_UPSTREAM, W_SIGNAL };

struct conn;
struct listener;

/* What an epoll event points at. */
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

/* Connections waiting on one timeout, oldest first. */
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
  struct conn *lnext; /* waiting on the same name's lookup (upstream.c) */
};

struct ares_watch {
  int fd;
  uint32_t ev;
};

/* The loop's state (one loop per process). */
struct gwd {
  int ep;
  int reserve_fd; /* a spare descriptor, for accepting (and closing) at EMFILE */
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
  const uint16_t *ports; /* the transparent ports it listens on */
  size_t nports;
};
extern struct gwd gwd;

/* The command line (opts.c). */
struct opts {
  const char *policy, *log, *sandbox, *bind, *answer, *ready;
  const char *relay, *ca;
  const char *wait_claim; /* a pooled gateway: the claim file it waits for */
  char *claim_buf;        /* the claim's text, which the options point into */
  uint16_t dns_port, proxy_port, relay_port;
  uint16_t *ports;
  size_t nports;
  struct strv resolvers, blackholes;
  unsigned max_conns;
  uint64_t log_max;
  bool hold;
};

/* opts.c: 0 to run, 1 after --help (printed), -1 with err. */
int gwd_opts_parse(int argc, char **argv, struct opts *o, adr_err *err);
void gwd_opts_free(struct opts *o);
/* --resolver ... as c-ares wants them: "1.2.3.4:53,[::1]:53"; *out NULL
 * when there is none (the system's). */
int gwd_resolvers_csv(const struct strv *rv, char **out, adr_err *err);

/* main.c: shared with hold.c */
int gwd_block_signals(sigset_t *set);
/* The relay's files and socket: before privileges are dropped. */
int gwd_relay_init(const struct opts *o, struct in_addr bind, adr_err *err);
/* claim.c: waits for o->wait_claim, then o holds the claim's options: 0;
 * 1 when SIGTERM ended the wait; -1 with err. */
int gwd_wait_claim(struct opts *o, adr_err *err);
/* --exec-claim FILE: waits for FILE, then execs what it names; returns 1
 * when a signal ended the wait, else -1 with err. */
int gwd_exec_claim(const char *path, adr_err *err);
/* hold.c */
int gwd_run_hold(struct opts *o, adr_err *err);

/* logw.c: the decision log, capped at max bytes; gwd_write_log is
 * thread-safe (the relay writes there too) */
int gwd_log_open(const char *path, uint64_t max, adr_err *err);
void gwd_log_close(void);
void gwd_write_log(const struct gw_logrec *r);
void gwd_log_conn(struct conn *c); /* c's line, once */

/* loop.c */
int gwd_loop(void);
int gwd_ep_add(int fd, uint32_t ev, void *ptr);
void gwd_tlist_add(struct tlist *l, struct conn *c); /* (re)starts c's timer on l */
void gwd_tlist_remove(struct conn *c);
void gwd_runq_add(struct conn *c);
void gwd_finish(struct conn *c); /* its log line (once), its sockets; freed by gwd_bury() */
void gwd_bury(void);

/* conn.c */
int gwd_listen_all(const struct opts *o, adr_err *err);
void gwd_listen_close(void);
void gwd_accept(struct listener *l);
__attribute__((format(printf, 2, 3))) void gwd_set_error(struct conn *c, const char *fmt, ...);
bool gwd_rbuf_put(struct rbuf *b, const void *p, size_t n);
void gwd_rbuf_free(struct rbuf *b);
void gwd_pipe_open(struct rbuf *b);
void gwd_pipe_close(struct rbuf *b);
void gwd_pump(struct conn *c);

/* classify.c */
void gwd_head_read(struct conn *c);
void gwd_deny(struct conn *c, const char *rule, int status); /* status 0: close without a reply */
void gwd_fail(struct conn *c);                               /* allowed, but it could not be made */

/* upstream.c */
int gwd_resolver_init(const struct strv *resolvers, adr_err *err);
void gwd_resolver_free(void);
void gwd_upstream(struct conn *c, const struct gw_decision *d); /* allowed: resolve, connect */
void gwd_connected(struct conn *c);
void gwd_connect_failed(struct conn *c, int e);

/* dnsd.c */
void gwd_dns_udp(struct listener *l);
void gwd_dns_tcp(struct conn *c);

#endif
