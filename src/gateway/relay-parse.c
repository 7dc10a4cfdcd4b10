/* The credential relay's decision on a request head from the sandbox and
 * its rewrite for upstream (sentinel -> key), and redaction for the log.
 * Pure; nothing prints.  The sockets, threads and TLS are in relay.c, the
 * route file in relay-routes.c, body framing and the response head in
 * relay-frame.c.
 *
 * The key is a secret of the host's: it never appears in an error message,
 * and every buffer here that held it is zeroed before it is freed. */
#include "gw.h"

#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------------- request head */

static int refuse(struct gw_relay_req *q, int status, const char *rule, const char *reason)
{
  q->status = status;
  q->rule = rule;
  q->reason = reason;
  return -1;
}

/* The query parameter "key" (Gemini's) whose value is exactly the
 * sentinel: its value's offset, or -1. */
static long query_key(const char *qs, size_t ql, const char *tok, size_t tl)
{
  size_t i = 0;
  while (i <= ql) {
    const char *amp = memchr(qs + i, '&', ql - i);
    size_t e = amp ? (size_t)(amp - qs) : ql;
    if (e - i == 4 + tl && memcmp(qs + i, "key=", 4) == 0 && memcmp(qs + i + 4, tok, tl) == 0)
      return (long)(i + 4);
    i = e + 1;
  }
  return -1;
}

/* Where a credential goes: the value of x-api-key, x-goog-api-key or
 * api-key, or "Bearer VALUE" or "Basic VALUE" in Authorization (git over
 * HTTPS: the route's key is then the base64 of "user:password").  The
 * offset of the token in v when the header is one of those and carries
 * exactly tok; else -1. */
static long auth_carrier(const char *name, size_t nl, const char *v, size_t vl, const char *tok, size_t tl)
{
  if (gw_hdr_is(name, nl, "x-api-key") || gw_hdr_is(name, nl, "x-goog-api-key") || gw_hdr_is(name, nl, "api-key"))
    return vl == tl && memcmp(v, tok, tl) == 0 ? 0 : -1;
  if (gw_hdr_is(name, nl, "authorization")) {
    if (vl == 7 + tl && strncasecmp(v, "Bearer ", 7) == 0 && memcmp(v + 7, tok, tl) == 0)
      return 7;
    return vl == 6 + tl && strncasecmp(v, "Basic ", 6) == 0 && memcmp(v + 6, tok, tl) == 0 ? 6 : -1;
  }
  return -1;
}

static bool dropped(const char *name, size_t nl)
{
  return gw_hdr_is(name, nl, "connection") || gw_hdr_is(name, nl, "keep-alive") ||
         gw_hdr_is(name, nl, "proxy-connection") || gw_hdr_is(name, nl, "proxy-authorization") ||
         gw_hdr_is(name, nl, "te") || gw_hdr_is(name, nl, "upgrade") || gw_hdr_is(name, nl, "host");
}

/* One header line of a request head already checked (every line has a
 * colon): the line without its end, the name, the value (OWS trimmed). */
struct hline {
  const char *line, *name, *v;
  size_t len, nl, vl;
};

/* Fills h with the header line at *p and moves *p past it; false at the
 * empty line or hend. */
static bool next_header(const char **p, const char *hend, struct hline *h)
{
  if (!gw_head_line(p, hend, &h->line, &h->len))
    return false;
  const char *colon = memchr(h->line, ':', h->len);
  h->name = h->line;
  h->nl = (size_t)(colon - h->line);
  gw_hdr_value(colon, h->line + h->len, &h->v, &h->vl);
  return true;
}

/* A request head's parts, pointers into it (b). */
struct req {
  const char *b;
  size_t m;         /* the method's length */
  const char *eol;  /* the request line's '\n' */
  const char *hend; /* just past the head */
  const char *tgt;  /* the target, "/NAME/rest?query" */
  size_t tl;        /* its length */
  size_t ne;        /* the end of "/NAME" in it */
  size_t qpos;      /* the '?' in it, or tl */
  const char *qs;   /* the query after the '?', or NULL */
  size_t ql;
  const char *ver; /* "HTTP/1.x" */
  bool has_cl, has_te;
  uint64_t clen;
};

/* METHOD SP TARGET SP HTTP/1.x, the target /NAME/rest?query; 0, or -1
 * refused. */
static int request_line(struct req *x, struct gw_relay_req *q)
{
  const char *b = x->b;
  size_t m = x->m;
  const char *eol = x->eol;
  size_t ll = (size_t)(eol - b);
  if (ll > 0 && b[ll - 1] == '\r')
    ll--;
  if (m + 1 > ll)
    return refuse(q, 400, "bad-request", "malformed request line");
  const char *tgt = b + m + 1;
  const char *sp = memchr(tgt, ' ', ll - m - 1);
  if (sp == NULL || sp == tgt)
    return refuse(q, 400, "bad-request", "malformed request line");
  size_t tl = (size_t)(sp - tgt);
  const char *ver = sp + 1;
  if (ll - (size_t)(ver - b) != 8 || (memcmp(ver, "HTTP/1.1", 8) != 0 && memcmp(ver, "HTTP/1.0", 8) != 0))
    return refuse(q, 400, "bad-request", "not HTTP/1.0 or HTTP/1.1");
  for (size_t i = 0; i < tl; i++)
    if ((unsigned char)tgt[i] <= 0x20 || (unsigned char)tgt[i] >= 0x7f || tgt[i] == '#')
      return refuse(q, 400, "bad-request", "malformed request target");
  if (tgt[0] != '/')
    return refuse(q, 400, "bad-request", "the request target must be /ROUTE/PATH");

  /* /NAME/rest?query */
  size_t qpos = tl;
  const char *qm = memchr(tgt, '?', tl);
  if (qm)
    qpos = (size_t)(qm - tgt);
  size_t ne = 1;
  while (ne < qpos && tgt[ne] != '/')
    ne++;
  q->name_off = (size_t)(tgt - b) + 1;
  q->name_len = ne - 1;
  q->path_off = (size_t)(tgt - b) + ne;
  q->path_len = qpos - ne;
  q->has_path = true;
  x->tgt = tgt;
  x->tl = tl;
  x->ne = ne;
  x->qpos = qpos;
  x->qs = qm ? qm + 1 : NULL;
  x->ql = qm ? tl - qpos - 1 : 0;
  x->ver = ver;
  return 0;
}

/* The headers: well-formed; at most one Host; the body's framing. */
static int check_headers(struct req *x, struct gw_relay_req *q)
{
  const char *p = x->eol + 1;
  size_t nhost = 0;
  size_t l;
  for (const char *next = p; gw_head_line(&next, x->hend, &p, &l);) {
    if (memchr(p, '\r', l) || memchr(p, '\0', l) || p[0] == ' ' || p[0] == '\t')
      return refuse(q, 400, "bad-request", "malformed header");
    const char *colon = memchr(p, ':', l);
    if (colon == NULL || colon == p)
      return refuse(q, 400, "bad-request", "malformed header");
    for (const char *c = p; c < colon; c++)
      if (!gw_tchar((unsigned char)*c))
        return refuse(q, 400, "bad-request", "malformed header");
    size_t nl = (size_t)(colon - p);
    const char *v;
    size_t vl;
    gw_hdr_value(colon, p + l, &v, &vl);
    if (gw_hdr_is(p, nl, "host"))
      nhost++;
    if (gw_hdr_is(p, nl, "content-length")) {
      if (x->has_cl || vl == 0 || vl > 18)
        return refuse(q, 400, "bad-request", "bad Content-Length");
      x->clen = 0;
      for (size_t i = 0; i < vl; i++) {
        if (v[i] < '0' || v[i] > '9')
          return refuse(q, 400, "bad-request", "bad Content-Length");
        x->clen = x->clen * 10 + (uint64_t)(v[i] - '0');
      }
      x->has_cl = true;
    }
    if (gw_hdr_is(p, nl, "transfer-encoding")) {
      if (x->has_te || !(vl == 7 && strncasecmp(v, "chunked", 7) == 0))
        return refuse(q, 400, "bad-request", "unsupported Transfer-Encoding (only chunked)");
      x->has_te = true;
    }
  }
  if (nhost > 1)
    return refuse(q, 400, "bad-request", "more than one Host header");
  if (x->has_cl && x->has_te)
    return refuse(q, 400, "bad-request", "both Content-Length and Transfer-Encoding");
  return 0;
}

/* The sentinel: exactly the value of an auth header, or the query's
 * "key"; anywhere else (another header, the path, another parameter) the
 * key would go where an API may echo it back: refused.  0 with *qk (the
 * offset of the query's key value, or -1), or -1 refused. */
static int check_sentinel(const struct req *x, const struct gw_route *r, struct gw_relay_req *q, long *qk)
{
  static const char misplaced[] = "the credential may only be in an auth header or ?key=";
  const char *qs = x->qs;
  size_t ql = x->ql;
  *qk = qs ? query_key(qs, ql, r->sentinel, r->sentinel_len) : -1;
  bool found = *qk >= 0;
  if (memmem(x->tgt, x->qpos, r->sentinel, r->sentinel_len))
    return refuse(q, 400, "sentinel-misplaced", misplaced);
  if (qs) {
    const char *hit = memmem(qs, ql, r->sentinel, r->sentinel_len);
    if (hit && (*qk < 0 || (size_t)(hit - qs) != (size_t)*qk ||
                memmem(hit + 1, ql - (size_t)(hit - qs) - 1, r->sentinel, r->sentinel_len)))
      return refuse(q, 400, "sentinel-misplaced", misplaced);
  }
  struct hline h;
  for (const char *p = x->eol + 1; next_header(&p, x->hend, &h);) {
    bool has = memmem(h.v, h.vl, r->sentinel, r->sentinel_len) != NULL;
    if (has && (dropped(h.name, h.nl) || auth_carrier(h.name, h.nl, h.v, h.vl, r->sentinel, r->sentinel_len) < 0))
      return refuse(q, 400, "sentinel-misplaced", misplaced);
    found = found || has;
  }
  if (!found)
    return refuse(q, 401, "no-sentinel", "missing or wrong credentials");
  return 0;
}

/* The head for upstream: the key where the sentinel was, nothing else
 * changed but the target's base path, Host and the hop-by-hop headers.
 * False when it does not fit in cap (*o: the bytes written). */
static bool rewrite(const struct req *x, const struct gw_route *r, long qk, char *out, size_t cap, size_t *o)
{
  const char *qs = x->qs;
  size_t ql = x->ql;
  bool ok = gw_put(out, cap, o, x->b, x->m) && gw_put(out, cap, o, " ", 1) &&
            gw_put(out, cap, o, r->base, strlen(r->base)) && gw_put(out, cap, o, x->tgt + x->ne, x->qpos - x->ne);
  if (ok && qs) {
    ok = gw_put(out, cap, o, "?", 1);
    if (qk >= 0)
      ok = ok && gw_put(out, cap, o, qs, (size_t)qk) && gw_put(out, cap, o, r->key, r->key_len) &&
           gw_put(out, cap, o, qs + qk + (long)r->sentinel_len, ql - (size_t)qk - r->sentinel_len);
    else
      ok = ok && gw_put(out, cap, o, qs, ql);
  }
  ok = ok && gw_put(out, cap, o, " ", 1) && gw_put(out, cap, o, x->ver, 8) && gw_put(out, cap, o, "\r\nHost: ", 8) &&
       gw_put(out, cap, o, r->authority, strlen(r->authority)) && gw_put(out, cap, o, "\r\n", 2);
  struct hline h;
  for (const char *p = x->eol + 1; ok && next_header(&p, x->hend, &h);) {
    long at = auth_carrier(h.name, h.nl, h.v, h.vl, r->sentinel, r->sentinel_len);
    if (dropped(h.name, h.nl)) {
      /* not passed on */
    } else if (at >= 0) {
      ok = gw_put(out, cap, o, h.name, h.nl) && gw_put(out, cap, o, ": ", 2) && gw_put(out, cap, o, h.v, (size_t)at) &&
           gw_put(out, cap, o, r->key, r->key_len) && gw_put(out, cap, o, "\r\n", 2);
    } else {
      ok = gw_put(out, cap, o, h.line, h.len) && gw_put(out, cap, o, "\r\n", 2);
    }
  }
  return ok && gw_put(out, cap, o, "Connection: close\r\n\r\n", 21);
}

int gw_relay_request(const struct gw_routes *rs, const char *b, size_t len, struct gw_relay_req *q, char *out,
                     size_t cap, size_t *outlen)
{
  memset(q, 0, sizeof(*q));
  *outlen = 0;
  /* the method (upper-case letters, '-', '_') and one space: anything else
   * is refused at once, without waiting for a whole head */
  size_t m = 0;
  while (m < len && m < sizeof(q->method) && ((b[m] >= 'A' && b[m] <= 'Z') || b[m] == '-' || b[m] == '_'))
    m++;
  if (m == sizeof(q->method) || (m < len && (m == 0 || b[m] != ' ')))
    return refuse(q, 400, "bad-request", "malformed request");
  size_t end = gw_head_end(b, len);
  if (end == 0)
    return GW_HTTP_MORE;
  memcpy(q->method, b, m);
  q->method[m] = '\0';
  q->head_len = end;

  struct req x = { .b = b, .m = m, .eol = memchr(b, '\n', end), .hend = b + end };
  if (request_line(&x, q) < 0 || check_headers(&x, q) < 0)
    return -1;

  /* the route, the path */
  const struct gw_route *r = gw_route_find(rs, x.tgt + 1, x.ne - 1);
  if (r == NULL)
    return refuse(q, 404, "unknown-route", "unknown route");
  q->route = r;
  const char *rest = x.tgt + x.ne;
  if (!gw_relay_path_ok(rest, x.qpos - x.ne))
    return refuse(q, 403, "path-not-allowed", "path not allowed");
  const char *pat = gw_route_match(r, rest, x.qpos - x.ne);
  if (pat == NULL)
    return refuse(q, 403, "path-not-allowed", "path not allowed");

  /* only the methods the APIs use */
  if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "POST") != 0)
    return refuse(q, 405, "method-not-allowed", "method not allowed");

  long qk;
  if (check_sentinel(&x, r, q, &qk) < 0)
    return -1;
  size_t o = 0;
  if (!rewrite(&x, r, qk, out, cap, &o)) {
    explicit_bzero(out, o);
    return refuse(q, 431, "head-too-large", "request head too large");
  }
  *outlen = o;
  q->rule = pat;
  gw_body_init(&q->body, x.has_te ? GW_BODY_CHUNKED : x.has_cl ? GW_BODY_LENGTH : GW_BODY_NONE, x.clen);
  return 1;
}

/* ---------------------------------------------------------------- log */

void gw_relay_redact(const struct gw_routes *rs, const char *in, size_t len, char *out, size_t cap)
{
  static const char mark[] = "[redacted]";
  size_t o = 0;
  if (cap == 0)
    return;
  size_t i = 0;
  while (i < len) {
    size_t hit = 0;
    for (size_t k = 0; k < rs->n && !hit; k++) {
      const struct gw_route *r = &rs->r[k];
      if (r->sentinel_len && r->sentinel_len <= len - i && memcmp(in + i, r->sentinel, r->sentinel_len) == 0)
        hit = r->sentinel_len;
      else if (r->key_len && r->key_len <= len - i && memcmp(in + i, r->key, r->key_len) == 0)
        hit = r->key_len;
    }
    if (hit) {
      if (cap - o <= sizeof(mark) - 1)
        break;
      memcpy(out + o, mark, sizeof(mark) - 1);
      o += sizeof(mark) - 1;
      i += hit;
      continue;
    }
    if (cap - o <= 1)
      break;
    out[o++] = in[i++];
  }
  out[o] = '\0';
}
