/* adr-gateway: a TCP connection's first bytes.  They are read until they
 * can be classified (TLS ClientHello, CONNECT, absolute-form or
 * origin-form HTTP), the (host, port) they name is decided on against the
 * policy, and a refusal is answered here: an HTTP client gets a reply that
 * says why, a TLS client a close. */
#include "gwd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- replies */

static void printable(const char *s, char *out, size_t cap)
{
  size_t o = 0;
  for (; *s && o + 1 < cap; s++)
    out[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
  out[o] = '\0';
}

static void send_reply(struct conn *c, int status, const char *reason, const char *tag, const char *body)
{
  char b[2048];
  int n = snprintf(b, sizeof(b),
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\nX-Adr-Egress: %s\r\n\r\n%s",
                   status, reason, strlen(body), tag, body);
  if (n < 0 || (size_t)n >= sizeof(b))
    return;
  ssize_t w = send(c->cw.fd, b, (size_t)n, MSG_NOSIGNAL);
  if (w > 0)
    c->bytes_down += (uint64_t)w;
}

static void host_port(const struct conn *c, char *out, size_t cap)
{
  char h[GW_HOST_MAX + 1];
  printable(c->has_host ? c->host : "(none)", h, sizeof(h));
  if (strchr(h, ':'))
    snprintf(out, cap, "[%s]:%d", h, c->port);
  else
    snprintf(out, cap, "%s:%d", h, c->port);
}

static bool looks_http(const struct conn *c)
{
  size_t i = 0;
  while (i < c->hlen && i < 24 && c->head[i] >= 'A' && c->head[i] <= 'Z')
    i++;
  return i > 0 && i < c->hlen && c->head[i] == ' ';
}

/* After a reply: log, stop writing, read and drop what the client still
 * sends (closing with unread data would reset the connection and could
 * destroy the reply), close on EOF or after GW_LINGER_MS. */
static void linger(struct conn *c)
{
  gwd_log_conn(c);
  if (c->uw.fd >= 0) {
    close(c->uw.fd);
    c->uw.fd = -1;
  }
  shutdown(c->cw.fd, SHUT_WR);
  c->st = S_LINGER;
  free(c->head);
  c->head = NULL;
  gwd_rbuf_free(&c->up);
  gwd_rbuf_free(&c->down);
  gwd_tlist_add(&gwd.t_linger, c);
  c->cw.rd = true;
  char sink[4096];
  for (;;) {
    ssize_t n = recv(c->cw.fd, sink, sizeof(sink), 0);
    if (n > 0)
      continue;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return;
    gwd_finish(c);
    return;
  }
}

void gwd_deny(struct conn *c, const char *rule, int status)
{
  c->allow = false;
  c->rule = rule;
  if (status == 0) {
    gwd_finish(c);
    return;
  }
  char hp[300], r[GW_HOST_MAX + 1], body[1024];
  host_port(c, hp, sizeof(hp));
  printable(rule, r, sizeof(r));
  if (status == 403) {
    snprintf(body, sizeof(body), "adr: egress to %s denied (%s)\n", hp, r);
    send_reply(c, 403, "Forbidden", "denied", body);
  } else if (status == 431) {
    snprintf(body, sizeof(body), "adr: request head larger than %d bytes\n", GW_HEAD_MAX);
    send_reply(c, 431, "Request Header Fields Too Large", "denied", body);
  } else {
    snprintf(body, sizeof(body), "adr: bad request (%s)\n", c->error[0] ? c->error : r);
    send_reply(c, 400, "Bad Request", "denied", body);
  }
  linger(c);
}

void gwd_fail(struct conn *c)
{
  if (c->mode == M_CONNECT || c->mode == M_ABS || c->mode == M_ORIGIN) {
    char hp[300], body[1024];
    host_port(c, hp, sizeof(hp));
    snprintf(body, sizeof(body), "adr: egress to %s failed: %s\n", hp, c->error);
    send_reply(c, 502, "Bad Gateway", "error", body);
    linger(c);
    return;
  }
  gwd_finish(c);
}

/* ---------------------------------------------------------------- classification */

static void decide(struct conn *c)
{
  struct gw_decision d;
  gw_decide(&gwd.policy, c->host, (uint16_t)c->port, &d);
  if (!d.allow) {
    gwd_deny(c, d.rule, c->mode == M_TLS ? 0 : 403);
    return;
  }
  c->allow = true;
  c->rule = d.rule;
  gwd_tlist_remove(c);
  gwd_upstream(c, &d);
}

/* A ClientHello (first byte 0x16): the name is its SNI. */
static void classify_tls(struct conn *c, bool full)
{
  c->via = "transparent";
  c->mode = M_TLS;
  snprintf(c->method, sizeof(c->method), "TLS");
  c->has_method = true;
  int r = gw_sni_parse(c->head, c->hlen, c->sni);
  if (r == GW_SNI_MORE && !full && !c->c_eof)
    return;
  if (r == GW_SNI_MORE) {
    gwd_set_error(c, full ? "ClientHello larger than %d bytes" : "client closed in the ClientHello", GW_HEAD_MAX);
    gwd_deny(c, "bad-request", 0);
  } else if (r == GW_SNI_BAD) {
    gwd_set_error(c, "malformed ClientHello");
    gwd_deny(c, "bad-request", 0);
  } else if (r == GW_SNI_NONE) {
    gwd_deny(c, "no-name", 0);
  } else {
    c->has_sni = c->has_host = true;
    memcpy(c->host, c->sni, sizeof(c->host));
    decide(c);
  }
}

/* An HTTP head, complete or not; false when it was refused (or needs more). */
static bool http_head_ok(struct conn *c, bool full)
{
  struct gw_http_head *h = &c->hh;
  int r = gw_http_parse((const char *)c->head, c->hlen, h);
  if (r == GW_HTTP_MORE && !full && !c->c_eof)
    return false;
  bool http = looks_http(c);
  if (h->method[0]) {
    memcpy(c->method, h->method, sizeof(c->method));
    c->has_method = true;
  }
  switch (r) {
  case GW_HTTP_MORE:
    gwd_set_error(c, full ? "request head larger than %d bytes" : "client closed in the request head", GW_HEAD_MAX);
    gwd_deny(c, "bad-request", http && full ? 431 : 0);
    return false;
  case GW_HTTP_BAD:
    gwd_set_error(c, http ? "malformed HTTP request" : "not TLS or HTTP");
    gwd_deny(c, "bad-request", http ? 400 : 0);
    return false;
  case GW_HTTP_HTTPS:
    c->via = "proxy";
    gwd_set_error(c, "https:// URL in a proxy request (use CONNECT)");
    gwd_deny(c, "bad-request", 400);
    return false;
  case GW_HTTP_NOHOST:
    c->via = "transparent";
    gwd_deny(c, "no-name", 403);
    return false;
  default: return true;
  }
}

static void classify_http(struct conn *c, bool full)
{
  if (!http_head_ok(c, full))
    return;
  const struct gw_http_head *h = &c->hh;
  c->has_host = true;
  memcpy(c->host, h->host, sizeof(c->host));
  if (h->form == GW_HTTP_CONNECT) {
    c->via = "proxy";
    c->mode = M_CONNECT;
    c->port = h->port;
  } else if (h->form == GW_HTTP_ABSOLUTE) {
    c->via = "proxy";
    c->mode = M_ABS;
    c->port = h->port;
  } else {
    c->via = "transparent";
    c->mode = M_ORIGIN;
  }
  decide(c);
}

static void classify(struct conn *c)
{
  bool full = c->hlen >= GW_HEAD_MAX;
  if (c->hlen == 0) {
    if (c->c_eof) {
      gwd_set_error(c, "client closed without a request");
      gwd_deny(c, "bad-request", 0);
    }
    return;
  }
  if (c->head[0] == 0x16)
    classify_tls(c, full);
  else
    classify_http(c, full);
}

void gwd_head_read(struct conn *c)
{
  while (c->cw.rd && !c->c_eof && c->hlen < GW_HEAD_MAX) {
    ssize_t n = recv(c->cw.fd, c->head + c->hlen, GW_HEAD_MAX - c->hlen, 0);
    if (n > 0) {
      c->hlen += (size_t)n;
    } else if (n == 0) {
      c->c_eof = true;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      c->cw.rd = false;
    } else if (errno != EINTR) {
      gwd_set_error(c, "client: %s", strerror(errno));
      gwd_deny(c, "bad-request", 0);
      return;
    }
  }
  classify(c);
}
