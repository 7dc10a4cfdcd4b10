/* The credential relay's small pieces: waits that watch the stop signal,
 * sending with a deadline, the relay's own replies, lingering after the
 * last byte, and the log line of a request. */
#include "relayd.h"
#include "sys.h"
#include "timeouts.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

int rl_ms_left(uint64_t deadline)
{
  uint64_t now = gw_mono_ms();
  if (now >= deadline)
    return 0;
  uint64_t d = deadline - now;
  return d > INT_MAX ? INT_MAX : (int)d;
}

void rl_set_error(struct rc *c, const char *fmt, ...)
{
  if (c->error[0])
    return; /* the first cause is the one that matters */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof(c->error), fmt, ap);
  va_end(ap);
}

/* Wait for ev on fd (and for the stop signal) until deadline. */
int rl_wait_fd(int fd, short ev, uint64_t deadline)
{
  for (;;) {
    struct pollfd p[2] = { { .fd = fd, .events = ev }, { .fd = relayd.stopfd, .events = POLLIN } };
    int n = poll(p, 2, rl_ms_left(deadline));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 || (p[1].revents & POLLIN))
      return W_STOP;
    if (n == 0)
      return rl_ms_left(deadline) ? W_READY : W_TIMEOUT; /* spurious: the caller retries */
    return W_READY;
  }
}

bool rl_stopping(void)
{
  struct pollfd p = { .fd = relayd.stopfd, .events = POLLIN };
  return poll(&p, 1, 0) > 0;
}

void rl_nodelay(int fd)
{
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int rl_send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (rl_wait_fd(fd, POLLOUT, deadline) != W_READY)
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
void rl_reply(struct rc *c, int status, const char *reason)
{
  char body[256], b[768];
  int bl = snprintf(body, sizeof(body), "{\"error\":\"adr relay: %s\"}\n", reason);
  int n = snprintf(b, sizeof(b),
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                   "Connection: close\r\n\r\n%s",
                   status, status_text(status), bl, body);
  c->status = status;
  if (n > 0 && (size_t)n < sizeof(b) &&
      rl_send_all(c->cfd, b, (size_t)n, gw_mono_ms() + GW_RELAY_REPLY_TIMEOUT_MS) == 0)
    c->bytes_down += (uint64_t)n;
}

/* After the last byte to the client: no more writing, and read (and drop)
 * what it still sends until it closes, so that closing does not reset the
 * connection under the answer's tail. */
void rl_linger(int fd)
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
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && rl_wait_fd(fd, POLLIN, deadline) == W_READY &&
        rl_ms_left(deadline))
      continue;
    break;
  }
}

void rl_log_line(struct rc *c)
{
  const struct gw_route *r = c->route;
  struct gw_logrec l = {
    .sandbox = relayd.sandbox,
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
    .route = r             ? r->name
             : c->has_name ? c->name
                           : NULL,
    .path = c->has_path ? c->path : NULL,
    .status = c->status,
  };
  clock_gettime(CLOCK_REALTIME, &l.time);
  relayd.log(&l);
}
