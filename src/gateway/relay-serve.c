/* The credential relay: one request, in its own thread.  Its head is read
 * (GW_HEAD_TIMEOUT_MS, GW_RELAY_HEAD_MAX) and decided on
 * (gw_relay_request: refusals are answered here), the upstream reached
 * (relay-up.c), the rewritten head sent, then both directions relayed as
 * bytes arrive until the response is complete. */
#include "relayd.h"
#include "sys.h"
#include "timeouts.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- relaying */

/* Both directions until upstream closes (or something fails).
 *
 * Kept as one function, over the ~120-line rule, on purpose: it is one
 * poll loop whose steps (to upstream, from the client, from upstream,
 * the response head, to the client) share a dozen pieces of state, among
 * them the buffer that holds the key until the head is sent, and jump
 * between each other (an interim 1xx head is parsed again without a
 * read).  Cut into functions, that state would travel in a struct
 * through every call and the order of the steps, which the key's
 * zeroing and the response's completeness depend on, would be harder to
 * read, not easier. */
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
    rl_set_error(c, "malformed chunked request body");
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
          rl_ssl_why(s, sizeof(s));
          rl_set_error(c, "upstream: write: %s", s);
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
          rl_set_error(c, "malformed chunked request body");
          goto out;
        }
        upp = cbuf;
        upn = k;
        discarded += (size_t)n - k;
      } else if (n == 0) {
        rl_set_error(c, "client closed before the response ended");
        goto out;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        cev |= POLLIN;
      } else if (errno != EINTR) {
        rl_set_error(c, "client: %s", strerror(errno));
        goto out;
      }
    }
    if (discarded > DISCARD_MAX) {
      rl_set_error(c, "client sent more than %d bytes after its request", DISCARD_MAX);
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
      int n = SSL_read(ssl, final_head ? dbuf : resp + rlen, final_head ? IO_CHUNK : (int)(GW_RELAY_HEAD_MAX - rlen));
      if (n > 0) {
        prog = true;
        if (final_head) {
          dnp = dbuf;
          dnn = gw_body_feed(&rbody, (const uint8_t *)dbuf, (size_t)n); /* nothing past the body */
          if (rbody.bad) {
            rl_set_error(c, "upstream: malformed chunked response body");
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
          rl_ssl_why(s, sizeof(s));
          rl_set_error(c, "upstream: read: %s", s);
          if (!final_head && c->bytes_down == 0)
            rl_reply(c, 502, "upstream connection failed");
          goto out;
        }
      }
    }
    goto to_client;

  parse : {
    int st;
    size_t hl, dl;
    if (dout == NULL)
      dout = xmalloc(RESP_OUT_MAX);
    int k = gw_relay_response(resp, rlen, head_request, &st, &hl, &rbody, dout, RESP_OUT_MAX, &dl);
    if (k == GW_HTTP_MORE && rlen < GW_RELAY_HEAD_MAX)
      goto to_client;
    if (k != 1) {
      rl_set_error(
        c, k == GW_HTTP_MORE ? "upstream response head larger than %d bytes" : "malformed upstream response head",
        GW_RELAY_HEAD_MAX);
      if (c->bytes_down == 0)
        rl_reply(c, 502, "bad upstream response");
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
        rl_set_error(c, "upstream: malformed chunked response body");
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
        rl_set_error(c, "client: %s", n < 0 ? strerror(errno) : "closed");
        goto out;
      }
    }
    if (final_head && rbody.done && dnn == 0)
      break; /* the whole response reached the client */
    if (u_eof && dnn == 0 && (final_head || !reparse)) {
      if (!final_head) {
        rl_set_error(c, "upstream closed without a response");
        if (c->bytes_down == 0)
          rl_reply(c, 502, "upstream closed without a response");
        goto out;
      }
      if (final_head && !rbody.done && rbody.kind != GW_BODY_UNTIL_CLOSE)
        rl_set_error(c, "upstream closed before the end of the response");
      break; /* done */
    }
    if (prog) {
      idle = gw_mono_ms() + GW_RELAY_IDLE_MS;
      continue;
    }
    struct pollfd p[3] = {
      { .fd = cev ? c->cfd : -1, .events = cev },
      { .fd = uev ? c->ufd : -1, .events = uev },
      { .fd = relayd.stopfd, .events = POLLIN },
    };
    int k = poll(p, 3, rl_ms_left(idle));
    if (k < 0 && errno != EINTR) {
      rl_set_error(c, "poll: %s", strerror(errno));
      goto out;
    }
    if (k > 0 && (p[2].revents & POLLIN)) {
      rl_set_error(c, "shutdown");
      goto out;
    }
    if (k == 0 && rl_ms_left(idle) == 0) {
      rl_set_error(c, "idle for %d s", GW_RELAY_IDLE_MS / 1000);
      if (c->bytes_down == 0)
        rl_reply(c, 504, "upstream timed out");
      goto out;
    }
  }
  /* upstream closed and everything reached the client */
  ERR_clear_error();
  SSL_shutdown(ssl); /* best effort, never waited for */
  ERR_clear_error();
  close(c->ufd);
  c->ufd = -1;
  rl_linger(c->cfd);
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
    gw_relay_redact(&relayd.routes, q->method, strlen(q->method), c->method, sizeof(c->method));
    c->has_method = true;
  }
  if (q->has_path) {
    gw_relay_redact(&relayd.routes, c->head + q->name_off, q->name_len, c->name, sizeof(c->name));
    gw_relay_redact(&relayd.routes, c->head + q->path_off, q->path_len, c->path, sizeof(c->path));
    c->has_name = c->has_path = true;
  }
}

/* Where the head may end, in the bytes from..len (and the three before). */
static bool maybe_end(const char *b, size_t from, size_t len)
{
  size_t s = from > 3 ? from - 3 : 0;
  return memmem(b + s, len - s, "\n\n", 2) || memmem(b + s, len - s, "\n\r\n", 3);
}

void rl_serve(struct rc *c)
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
        r = gw_relay_request(&relayd.routes, c->head, c->hlen, &c->q, c->out, GW_RELAY_OUT_MAX, &c->outlen);
        if (r != GW_HTTP_MORE)
          break;
      }
      if (c->hlen == GW_RELAY_HEAD_MAX) {
        c->rule = "head-too-large";
        rl_set_error(c, "request head larger than %d bytes", GW_RELAY_HEAD_MAX);
        rl_reply(c, 431, "request head too large");
        rl_linger(c->cfd);
        return;
      }
      continue;
    }
    if (n == 0) {
      c->rule = "bad-request";
      rl_set_error(c, "client closed in the request head");
      return;
    }
    if (errno == EINTR)
      continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c->rule = "bad-request";
      rl_set_error(c, "client: %s", strerror(errno));
      return;
    }
    int w = rl_wait_fd(c->cfd, POLLIN, deadline);
    if (w == W_STOP) {
      c->rule = "shutdown";
      rl_set_error(c, "shutdown");
      return;
    }
    if (w == W_TIMEOUT) {
      c->rule = "bad-request";
      rl_set_error(c, "no complete request within %d s", GW_HEAD_TIMEOUT_MS / 1000);
      rl_reply(c, 408, "no complete request in time");
      rl_linger(c->cfd);
      return;
    }
  }
  log_fields(c);
  if (r < 0) {
    c->route = c->q.route; /* NULL when the route is unknown */
    c->rule = c->q.rule;
    rl_reply(c, c->q.status, c->q.reason);
    rl_linger(c->cfd);
    return;
  }
  c->allow = true;
  c->route = c->q.route;
  c->rule = c->q.rule;

  struct gw_addr addrs[MAX_ADDRS];
  size_t na = 0;
  if (rl_resolve(c, addrs, &na) < 0) {
    if (!rl_stopping())
      rl_reply(c, 502, "upstream name not resolved");
    rl_linger(c->cfd);
    return;
  }
  int e = 0;
  for (size_t i = 0; i < na && c->ufd < 0; i++)
    if ((e = rl_connect_one(c, &addrs[i])) < 0 && e == -ECANCELED)
      break;
  if (c->ufd < 0) {
    rl_set_error(c, "connect %s: %s", c->upstream, e == -ECANCELED ? "shutdown" : strerror(-e));
    if (e != -ECANCELED)
      rl_reply(c, 502, "upstream connection failed");
    rl_linger(c->cfd);
    return;
  }
  const char *why;
  if (rl_handshake(c, &why) < 0) {
    if (!rl_stopping())
      rl_reply(c, 502, why);
    rl_linger(c->cfd);
    return;
  }
  relay(c);
}
