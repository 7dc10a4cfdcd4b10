/* adr-gateway's DNS server, over UDP and TCP: every question is answered
 * from the policy alone, never forwarded.  An allowed name's A record is
 * the gateway's own address (--answer), so that the connection comes back
 * here and is decided on again; any other name is NXDOMAIN.  One log line
 * per question.  The messages are parsed and built by dns.c. */
#include "gwd.h"
#include "sys.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

/* The log line of one answered (or dropped) query; r is filled but for
 * the time and the answer's size. */
static void log_query(struct gw_logrec *r, size_t answer_len)
{
  r->bytes_down = answer_len;
  clock_gettime(CLOCK_REALTIME, &r->time);
  gwd_write_log(r);
}

/* Answer one query (m, len) from client; returns the answer's length, 0 to
 * drop it.  Writes the log line. */
static size_t dns_answer(const uint8_t *m, size_t len, const char *client, uint8_t *out, size_t cap)
{
  struct gw_dns_query q;
  struct gw_logrec r = {
    .sandbox = gwd.sandbox, .client = client, .via = "dns", .method = "DNS", .port = gwd.dns_port, .dns = true
  };
  char tn[16], norm[GW_NAME_MAX + 1];
  int pr = gw_dns_parse(m, len, &q);
  if (pr < 0) {
    r.rule = "bad-request";
    r.error = "malformed DNS message";
    log_query(&r, 0);
    return 0;
  }
  if (pr > 0) {
    r.rule = "bad-request";
    r.error = pr == GW_DNS_NOTIMP ? "not a standard query" : "malformed DNS query";
    size_t n = gw_dns_error(m, pr, out, cap);
    log_query(&r, n);
    return n;
  }
  r.qtype = gw_dns_type_name(q.qtype, tn);
  r.host = q.name;
  const struct gw_rule *rule = NULL;
  if (!q.name_ok || gw_name_normalize(q.name, strlen(q.name), norm) < 0) {
    r.rule = "bad-name";
  } else {
    r.host = norm;
    /* reverse names never: they would name addresses, not hosts */
    if (!str_has_suffix(norm, ".in-addr.arpa") && !str_has_suffix(norm, ".ip6.arpa") && q.qtype != 12)
      rule = gw_policy_match_name(&gwd.policy, norm);
    r.rule = rule ? rule->label : "no-match";
  }
  r.allow = rule != NULL;
  const uint8_t *a4 = NULL;
  if (r.allow && q.qtype == 1 && (q.qclass == 1 || q.qclass == 255))
    a4 = (const uint8_t *)&gwd.answer;
  size_t n = gw_dns_answer(m, &q, r.allow ? GW_DNS_NOERROR : GW_DNS_NXDOMAIN, a4, out, cap);
  log_query(&r, n);
  return n;
}

void gwd_dns_udp(struct listener *l)
{
  for (int k = 0; k < 64; k++) {
    uint8_t m[GW_DNS_MAX + 1], out[GW_DNS_MAX + 64];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    ssize_t n = recvfrom(l->w.fd, m, sizeof(m), 0, (struct sockaddr *)&ss, &sl);
    if (n < 0)
      return;
    char client[64];
    gw_sockaddr_format(&ss, client, sizeof(client));
    size_t an = dns_answer(m, (size_t)n, client, out, sizeof(out));
    if (an > 0)
      sendto(l->w.fd, out, an, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&ss, sl);
  }
}

/* ---------------------------------------------------------------- TCP */

/* Send what is queued; 1 when all of it went, 0 when the socket is full,
 * -1 when the connection is done for. */
static int tcp_flush(struct conn *c)
{
  while (c->down.len && c->cw.wr) {
    ssize_t n = send(c->cw.fd, c->down.b + c->down.off, c->down.len, MSG_NOSIGNAL);
    if (n > 0) {
      c->down.off += (size_t)n;
      c->down.len -= (size_t)n;
      if (c->down.len == 0)
        gwd_rbuf_free(&c->down);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->cw.wr = false;
    } else if (!(n < 0 && errno == EINTR)) {
      return -1;
    }
  }
  return c->down.len ? 0 : 1;
}

/* Answer the complete queries in c->head (2-byte length, message); true
 * when any was.  *bad: a length no query has (the connection ends). */
static bool tcp_answer(struct conn *c, bool *bad)
{
  bool answered = false;
  *bad = false;
  while (c->hlen >= 2) {
    size_t ml = (size_t)c->head[0] << 8 | c->head[1];
    if (ml > GW_DNS_MAX || ml == 0) {
      *bad = true;
      return answered;
    }
    if (c->hlen < 2 + ml)
      break;
    uint8_t out[GW_DNS_MAX + 66];
    size_t an = dns_answer(c->head + 2, ml, c->client, out + 2, sizeof(out) - 2);
    if (an > 0) {
      out[0] = (uint8_t)(an >> 8);
      out[1] = (uint8_t)an;
      gwd_rbuf_put(&c->down, out, an + 2);
    }
    memmove(c->head, c->head + 2 + ml, c->hlen - 2 - ml);
    c->hlen -= 2 + ml;
    answered = true;
    if (c->down.len > RBUF_CAP - sizeof(out))
      break;
  }
  return answered;
}

void gwd_dns_tcp(struct conn *c)
{
  for (;;) {
    int f = tcp_flush(c);
    if (f < 0) {
      gwd_finish(c);
      return;
    }
    if (f == 0)
      break; /* wait until the answers are out */
    bool bad;
    bool answered = tcp_answer(c, &bad);
    if (bad) {
      gwd_finish(c);
      return;
    }
    if (answered) {
      gwd_tlist_add(&gwd.t_head, c); /* idle timeout starts again */
      continue;
    }
    if (!c->cw.rd || c->c_eof)
      break;
    ssize_t n = recv(c->cw.fd, c->head + c->hlen, GW_HEAD_MAX - c->hlen, 0);
    if (n > 0)
      c->hlen += (size_t)n;
    else if (n == 0)
      c->c_eof = true;
    else if (errno == EAGAIN || errno == EWOULDBLOCK)
      c->cw.rd = false;
    else if (errno != EINTR) {
      gwd_finish(c);
      return;
    }
  }
  if (c->c_eof && c->down.len == 0)
    gwd_finish(c);
}
