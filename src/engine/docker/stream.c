/* Docker engine: hijacked attach and exec streams, their stdout/stderr
 * demultiplexing, and logs. */
#include "docker.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

static int write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        struct pollfd pf = { .fd = fd, .events = POLLOUT };
        poll(&pf, 1, -1);
        continue;
      }
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Demultiplexes the engine's stdout/stderr framing: 8-byte headers
 * [stream, 0, 0, 0, size32be] followed by size bytes. */
struct demux {
  unsigned char hdr[8];
  size_t hdr_have;
  size_t remaining;
  int stream;
  int out_fd, err_fd;
  bool raw;
};

static int demux_feed(struct demux *m, const char *p, size_t n)
{
  if (m->raw)
    return m->out_fd >= 0 ? write_all(m->out_fd, p, n) : 0;
  while (n > 0) {
    if (m->remaining == 0) {
      size_t take = 8 - m->hdr_have;
      if (take > n)
        take = n;
      memcpy(m->hdr + m->hdr_have, p, take);
      m->hdr_have += take;
      p += take;
      n -= take;
      if (m->hdr_have < 8)
        return 0;
      m->hdr_have = 0;
      m->stream = m->hdr[0];
      m->remaining = ((size_t)m->hdr[4] << 24) | ((size_t)m->hdr[5] << 16) | ((size_t)m->hdr[6] << 8) | m->hdr[7];
      continue;
    }
    size_t take = m->remaining < n ? m->remaining : n;
    int fd = m->stream == 2 ? m->err_fd : m->out_fd;
    if (fd >= 0 && write_all(fd, p, take) < 0)
      return -1;
    p += take;
    n -= take;
    m->remaining -= take;
  }
  return 0;
}

static int demux_chunk(const char *p, size_t n, void *ud) { return demux_feed(ud, p, n); }

/* Opens a raw connection to the engine (unix or tcp). */
static int raw_connect(struct adr_engine *e, adr_err *err)
{
  struct docker *d = D(e);
  if (d->http.unix_path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return adr_err_sys(err, errno, "socket");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(d->http.unix_path) >= sizeof(sa.sun_path)) {
      close(fd);
      return adr_err_set(err, ENAMETOOLONG, "engine socket path too long: %s", d->http.unix_path);
    }
    memcpy(sa.sun_path, d->http.unix_path, strlen(d->http.unix_path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
      int saved = errno;
      close(fd);
      adr_err_sys(err, saved, "cannot connect to the engine at %s", e->endpoint);
      if (err && *err && saved == ENOENT)
        (*err)->errnum = ECONNREFUSED; /* not "no such container" */
      return -1;
    }
    return fd;
  }
  const char *hp = d->http.base_url + strlen("http://");
  const char *colon = strrchr(hp, ':');
  cleanup_free char *host = xstrndup(hp, (size_t)(colon - hp));
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
  int g = getaddrinfo(host, colon + 1, &hints, &res);
  if (g != 0)
    return adr_err_set(err, EHOSTUNREACH, "cannot connect to the engine at %s: %s", e->endpoint, gai_strerror(g));
  int fd = -1;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
      break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return adr_err_set(err, ECONNREFUSED, "cannot connect to the engine at %s (is the Docker daemon running?)",
                       e->endpoint);
  return fd;
}

#define RESP_HEADER_LIMIT 16384

/* Sends a request that upgrades to a raw stream and reads the response
 * headers. Returns the connected fd; any bytes read past the headers are
 * left in *extra. */
static int hijack(struct adr_engine *e, const char *path, const char *body, struct buf *extra, int *status_out,
                  adr_err *err)
{
  struct docker *d = D(e);
  int fd = raw_connect(e, err);
  if (fd < 0)
    return -1;
  cleanup_free char *req = xasprintf(
    "POST %s%s HTTP/1.1\r\nHost: docker\r\nUser-Agent: adr\r\n"
    "Content-Type: %s\r\nContent-Length: %zu\r\n"
    "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n%s",
    d->prefix, path, body ? "application/json" : "text/plain", body ? strlen(body) : 0, body ? body : "");
  if (write_all(fd, req, strlen(req)) < 0) {
    int saved = errno;
    close(fd);
    return adr_err_sys(err, saved, "attach: write to engine");
  }
  struct buf h;
  buf_init(&h, RESP_HEADER_LIMIT);
  char tmp[4096];
  char *end = NULL;
  while (end == NULL) {
    ssize_t r = read(fd, tmp, sizeof(tmp));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      buf_free(&h);
      close(fd);
      return adr_err_set(err, EPROTO, "attach: engine closed the connection");
    }
    if (buf_append(&h, tmp, (size_t)r) < 0) {
      buf_free(&h);
      close(fd);
      return adr_err_set(err, EFBIG, "attach: response headers larger than %d bytes", RESP_HEADER_LIMIT);
    }
    end = strstr(h.data, "\r\n\r\n");
  }
  int status = 0;
  sscanf(h.data, "HTTP/1.%*d %d", &status);
  size_t hl = (size_t)(end - h.data) + 4;
  buf_append(extra, h.data + hl, h.len - hl);
  if (status_out)
    *status_out = status;
  if (status != 101 && status != 200) {
    /* error body follows; surface the engine's message */
    struct adr_http_resp r = { .status = status };
    buf_init(&r.body, 65536);
    buf_append(&r.body, h.data + hl, h.len - hl);
    buf_free(&h);
    close(fd);
    docker_api_error(&r, err);
    adr_http_resp_free(&r);
    return -1;
  }
  buf_free(&h);
  return fd;
}

static int pump(int sock, struct buf *initial, const struct adr_attach *a, bool raw, adr_err *err)
{
  struct demux m = { .out_fd = a->out_fd, .err_fd = a->err_fd, .raw = raw };
  if (initial->len && demux_feed(&m, initial->data, initial->len) < 0)
    return adr_err_sys(err, errno, "attach: write output");
  int in_fd = a->in_fd;
  char b[65536];
  for (;;) {
    struct pollfd p[3];
    int np = 0;
    p[np++] = (struct pollfd){ .fd = sock, .events = POLLIN };
    int in_i = -1, wake_i = -1;
    if (in_fd >= 0) {
      in_i = np;
      p[np++] = (struct pollfd){ .fd = in_fd, .events = POLLIN };
    }
    if (a->wake_fd >= 0) {
      wake_i = np;
      p[np++] = (struct pollfd){ .fd = a->wake_fd, .events = POLLIN };
    }
    if (poll(p, (nfds_t)np, -1) < 0) {
      if (errno == EINTR)
        continue;
      return adr_err_sys(err, errno, "attach: poll");
    }
    if (wake_i >= 0 && (p[wake_i].revents & POLLIN) && a->on_wake) {
      if (a->on_wake(a->ud) < 0)
        return 0;
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = read(sock, b, sizeof(b));
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r <= 0)
        return 0; /* stream closed: the process ended */
      if (demux_feed(&m, b, (size_t)r) < 0)
        return adr_err_sys(err, errno, "attach: write output");
    }
    if (in_i >= 0 && (p[in_i].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t r = read(in_fd, b, sizeof(b));
      if (r < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (r <= 0) {
        shutdown(sock, SHUT_WR);
        in_fd = -1;
      } else if (write_all(sock, b, (size_t)r) < 0) {
        in_fd = -1;
      }
    }
  }
}

/* POST path (body: JSON or NULL) on a hijacked connection, call a's
 * on_ready, then pump the streams until they close. */
static int hijack_pump(struct adr_engine *e, const char *path, const char *body, const struct adr_attach *a,
                       adr_err *err)
{
  struct buf extra;
  buf_init(&extra, 0);
  int sock = hijack(e, path, body, &extra, NULL, err);
  if (sock < 0) {
    buf_free(&extra);
    return -1;
  }
  int ret = 0;
  if (a->on_ready && a->on_ready(a->ud, err) < 0)
    ret = -1;
  else
    ret = pump(sock, &extra, a, a->tty, err);
  buf_free(&extra);
  close(sock);
  return ret;
}

int docker_container_attach(struct adr_engine *e, const char *id, const struct adr_attach *a, adr_err *err)
{
  cleanup_free char *q = docker_esc(id);
  cleanup_free char *dk = a->detach_keys ? docker_esc(a->detach_keys) : NULL;
  cleanup_free char *path = xasprintf("/containers/%s/attach?stream=1&stdin=%d&stdout=1&stderr=1%s%s", q,
                                      a->in_fd >= 0 ? 1 : 0, dk ? "&detachKeys=" : "", dk ? dk : "");
  return hijack_pump(e, path, NULL, a, err);
}

int docker_container_exec(struct adr_engine *e, const char *id, const struct strv *cmd, const struct adr_attach *a,
                          int *exit_code, adr_err *err)
{
  for (size_t i = 0; i < cmd->n; i++)
    if (!utf8_valid(cmd->v[i]))
      return adr_err_set(err, EILSEQ, "exec: argument %zu is not valid UTF-8", i + 1);
  cleanup_free char *q = docker_esc(id);
  cleanup_free char *path = xasprintf("/containers/%s/exec", q);
  json_t *args = json_array();
  for (size_t i = 0; i < cmd->n; i++)
    json_array_append_new(args, json_string(cmd->v[i]));
  json_t *body = json_pack("{s:b, s:b, s:b, s:b, s:o}", "AttachStdin", a->in_fd >= 0, "AttachStdout", 1, "AttachStderr",
                           1, "Tty", a->tty, "Cmd", args);
  json_t *out = NULL;
  long status = 0;
  int r = docker_call(e, "POST", path, body, &out, &status, err);
  json_decref(body);
  if (r < 0)
    return adr_err_prefix(err, "exec");
  const char *eid = json_string_value(json_object_get(out, "Id"));
  cleanup_free char *xid = eid ? xstrdup(eid) : NULL;
  json_decref(out);
  if (!xid)
    return adr_err_set(err, EPROTO, "exec: the engine returned no exec id");
  cleanup_free char *qx = docker_esc(xid);
  cleanup_free char *spath = xasprintf("/exec/%s/start", qx);
  cleanup_free char *sbody = xasprintf("{\"Detach\":false,\"Tty\":%s}", a->tty ? "true" : "false");
  if (hijack_pump(e, spath, sbody, a, err) < 0)
    return -1;
  cleanup_free char *ipath = xasprintf("/exec/%s/json", qx);
  json_t *info = NULL;
  if (docker_call(e, "GET", ipath, NULL, &info, NULL, err) < 0)
    return -1;
  json_t *ec = json_object_get(info, "ExitCode");
  *exit_code = json_is_integer(ec) ? (int)json_integer_value(ec) : 255;
  json_decref(info);
  return 0;
}

int docker_container_logs(struct adr_engine *e, const char *id, bool follow, int out_fd, int err_fd, adr_err *err)
{
  struct adr_container c;
  int r = docker_container_inspect(e, id, &c, err);
  if (r < 0)
    return -1;
  if (r == 1)
    return adr_err_set(err, ENOENT, "no such sandbox '%s'", id);
  adr_container_free(&c);
  struct docker *d = D(e);
  cleanup_free char *q = docker_esc(id);
  cleanup_free char *path =
    xasprintf("%s/containers/%s/logs?stdout=1&stderr=1&follow=%d", d->prefix, q, follow ? 1 : 0);
  /* tty containers send raw output; others are framed */
  json_t *j = NULL;
  cleanup_free char *ipath = xasprintf("/containers/%s/json", q);
  bool raw = false;
  if (docker_call(e, "GET", ipath, NULL, &j, NULL, err) < 0)
    return -1;
  raw = json_is_true(json_object_get(json_object_get(j, "Config"), "Tty"));
  json_decref(j);
  struct demux m = { .out_fd = out_fd, .err_fd = err_fd, .raw = raw };
  struct adr_http_resp resp;
  int ret = adr_http_stream(&d->http, "GET", path, NULL, NULL, 0, demux_chunk, &m, &resp, err);
  if (ret == 0 && resp.status >= 400)
    ret = docker_api_error(&resp, err);
  adr_http_resp_free(&resp);
  return ret;
}
