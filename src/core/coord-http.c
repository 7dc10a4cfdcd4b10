/* The coordinator over HTTP (coord.h): libmicrohttpd, a thread per
 * connection (a claim may wait for work), bodies read up to
 * adr_coord_body_max (413 beyond, without reading the rest), HTTPS when
 * given a certificate. */
#include "coord.h"
#include "buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
  struct buf body;
  bool too_big;
};

static const char *query_arg(void *ud, const char *key)
{
  return MHD_lookup_connection_value(ud, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result send_json(struct MHD_Connection *mc, int status, char *body)
{
  struct MHD_Response *r = MHD_create_response_from_buffer(body ? strlen(body) : 0, body ? body : (char *)"",
                                                           body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r)
    return MHD_NO;
  if (body)
    MHD_add_response_header(r, "Content-Type", "application/json");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  enum MHD_Result ret = MHD_queue_response(mc, (unsigned)status, r);
  MHD_destroy_response(r);
  return ret;
}

/* ------------------------------------------------------------ SSE */

/* GET /v1/runs/ID/events with Accept: text/event-stream: the events as
 * they come, "id:", "event:" and one "data:" line of JSON each, until the
 * run has ended; a comment line every 15 s keeps the connection. */
struct sse {
  struct adr_coord *c;
  int64_t id, last;
  bool ended;
  struct buf pending;
  size_t off;
};

static void sse_add(struct sse *s, json_t *events)
{
  size_t i;
  json_t *e;
  json_array_foreach (events, i, e) {
    char *d = json_dumps(e, JSON_COMPACT);
    json_int_t eid = json_integer_value(json_object_get(e, "id"));
    buf_printf(&s->pending, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)eid,
               json_string_value(json_object_get(e, "kind")), d ? d : "{}");
    free(d);
    if (eid > s->last)
      s->last = eid;
  }
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
  (void)pos;
  struct sse *s = cls;
  while (s->off >= s->pending.len) {
    if (s->ended)
      return MHD_CONTENT_READER_END_OF_STREAM;
    buf_reset(&s->pending);
    s->off = 0;
    json_t *ev = NULL;
    cleanup_err adr_err err = NULL;
    if (adr_coord_events(s->c, s->id, s->last, 15, &ev, &s->ended, &err) != 0)
      return MHD_CONTENT_READER_END_WITH_ERROR;
    if (json_array_size(ev) == 0 && !s->ended)
      buf_printf(&s->pending, ": waiting\n\n");
    sse_add(s, ev);
    json_decref(ev);
  }
  size_t n = s->pending.len - s->off < max ? s->pending.len - s->off : max;
  memcpy(out, s->pending.data + s->off, n);
  s->off += n;
  return (ssize_t)n;
}

static void sse_free(void *cls)
{
  struct sse *s = cls;
  buf_free(&s->pending);
  free(s);
}

/* The first batch came from adr_coord_handle (the checks are its); the
 * rest streams. */
static enum MHD_Result send_sse(struct MHD_Connection *mc, struct adr_coord *c, int64_t id, const char *body)
{
  json_t *j = json_loads(body, 0, NULL);
  struct sse *s = xcalloc(1, sizeof(*s));
  s->c = c;
  s->id = id;
  s->ended = json_is_true(json_object_get(j, "ended"));
  buf_init(&s->pending, 0);
  sse_add(s, json_object_get(j, "events"));
  json_decref(j);
  struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, s, sse_free);
  if (!r) {
    sse_free(s);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  enum MHD_Result ret = MHD_queue_response(mc, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
  (void)version;
  struct adr_coord *c = cls;
  struct conn *cn = *con_cls;
  if (!cn) { /* the headers: the body comes in the next calls */
    cn = xcalloc(1, sizeof(*cn));
    buf_init(&cn->body, adr_coord_body_max(url));
    *con_cls = cn;
    return MHD_YES;
  }
  if (*upload_size) {
    if (!cn->too_big && buf_append(&cn->body, upload, *upload_size) < 0)
      cn->too_big = true;
    *upload_size = 0;
    return MHD_YES;
  }
  struct adr_coord_req rq = {
    .method = method,
    .path = url,
    .arg = query_arg,
    .ud = mc,
    .auth = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
    .body = cn->body.data ? cn->body.data : "",
    .body_len = cn->too_big ? adr_coord_body_max(url) + 1 : cn->body.len,
  };
  struct adr_coord_resp rs;
  adr_coord_handle(c, &rq, &rs);
  const char *accept = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
  long long id = 0;
  char tail[16] = "";
  if (rs.status == 200 && accept && strstr(accept, "text/event-stream") && streq(method, "GET") &&
      sscanf(url, "/v1/runs/%lld/%15s", &id, tail) == 2 && streq(tail, "events")) {
    enum MHD_Result r = send_sse(mc, c, id, rs.body);
    free(rs.body);
    return r;
  }
  return send_json(mc, rs.status, rs.body);
}

static void on_done(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode toe)
{
  (void)cls;
  (void)mc;
  (void)toe;
  struct conn *cn = *con_cls;
  if (cn) {
    buf_free(&cn->body);
    free(cn);
  }
  *con_cls = NULL;
}

/* HOST:PORT cut in place: the host without [] (returned), *port after the
 * last ':' (NULL when there is none). */
static char *split_listen(char *s, char **port)
{
  char *colon = strrchr(s, ':');
  *port = colon ? colon + 1 : NULL;
  if (colon)
    *colon = '\0';
  if (*s == '[') {
    s++;
    char *rb = strchr(s, ']');
    if (rb)
      *rb = '\0';
  }
  return s;
}

bool adr_coord_loopback(const char *listen)
{
  cleanup_free char *copy = xstrdup(listen ? listen : "");
  char *port;
  const char *h = split_listen(copy, &port);
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, h, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, h, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6);
  return streq(h, "localhost");
}

/* HOST:PORT (HOST an address, [v6] or localhost) into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, adr_err *err)
{
  cleanup_free char *copy = xstrdup(listen);
  char *ps;
  const char *h = split_listen(copy, &ps);
  if (!ps || !*ps)
    return adr_err_set(err, EINVAL, "--listen '%s': HOST:PORT", listen);
  char *end = NULL;
  long port = strtol(ps, &end, 10);
  if (*end || port < 0 || port > 65535)
    return adr_err_set(err, EINVAL, "--listen '%s': a port is 0 to 65535", listen);
  if (streq(h, "localhost"))
    h = "127.0.0.1";
  memset(ss, 0, sizeof(*ss));
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
  } else if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
  } else {
    return adr_err_set(err, EINVAL, "--listen '%s': the host is an IP address (or localhost)", listen);
  }
  return 0;
}

static char *read_pem(const char *path, adr_err *err)
{
  struct buf b;
  buf_init(&b, 1u << 20);
  if (buf_read_file(&b, path) < 0 || !b.data) {
    buf_free(&b);
    adr_err_sys(err, errno ? errno : EINVAL, "'%s'", path);
    return NULL;
  }
  return b.data;
}

int adr_coord_serve(struct adr_coord *c, const char *listen, const char *tls_cert, const char *tls_key, int stop_fd,
                    void (*ready)(const char *addr, void *ud), void *ud, adr_err *err)
{
  struct sockaddr_storage ss;
  if (parse_listen(listen, &ss, err) < 0)
    return -1;
  if (!!tls_cert != !!tls_key)
    return adr_err_set(err, EINVAL, "HTTPS needs both a certificate and its key");
  cleanup_free char *cert = tls_cert ? read_pem(tls_cert, err) : NULL;
  cleanup_free char *key = cert && tls_key ? read_pem(tls_key, err) : NULL;
  if (tls_cert && (!cert || !key))
    return adr_err_prefix(err, "HTTPS");
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  if (cert)
    flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls[] = {
    { MHD_OPTION_HTTPS_MEM_CERT, 0, cert },
    { MHD_OPTION_HTTPS_MEM_KEY, 0, key },
    { MHD_OPTION_END, 0, NULL },
  };
  struct MHD_Daemon *d = MHD_start_daemon(
    flags, 0, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
    on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512,
    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_ARRAY, cert ? tls : tls + 2, MHD_OPTION_END);
  if (!d)
    return adr_err_set(err, EADDRINUSE, "listen on %s: the address is in use or not this host's", listen);
  /* the port the kernel chose, for --listen HOST:0 */
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  unsigned port = di ? di->port : 0;
  cleanup_free char *host = xstrdup(listen);
  *strrchr(host, ':') = '\0';
  cleanup_free char *addr = xasprintf("%s://%s:%u", cert ? "https" : "http", host, port);
  if (ready)
    ready(addr, ud);
  struct pollfd p = { .fd = stop_fd, .events = POLLIN };
  while (poll(&p, 1, -1) < 0 && errno == EINTR)
    ;
  MHD_stop_daemon(d);
  return 0;
}
