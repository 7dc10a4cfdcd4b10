/* adr-gateway: the pure parts (TLS ClientHello, HTTP heads, DNS messages,
 * log lines, the credential relay's route file and rewrites; the policy,
 * decisions and address classes are in src/common/policy.h, which adr
 * compiles too).  Nothing here does I/O except gw_routes_load(); nothing
 * prints.  The event loop is in loop.c.
 *
 * Every parser takes (pointer, length) of bytes a peer sent and never reads
 * outside them; every output goes into a caller's bounded buffer. */
#ifndef ADR_GW_H
#define ADR_GW_H

#include "err.h"
#include "gwproto.h"
#include "policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define GW_HOST_MAX 255   /* any host string we keep (names, literals, SNI) */
#define GW_HEAD_MAX 16384 /* bytes we read before a request must be classified */

/* ---------------------------------------------------------------- TLS */

enum {
  GW_SNI_MORE = 0,  /* need more bytes */
  GW_SNI_OK = 1,    /* out holds the host name (1..255 bytes, NUL-terminated) */
  GW_SNI_NONE = -1, /* a complete ClientHello without server_name host_name */
  GW_SNI_BAD = -2,  /* not a well-formed ClientHello */
};
/* buf holds the first len bytes the client sent (first byte 0x16).  The
 * ClientHello may span several records; it must fit in GW_HEAD_MAX bytes. */
int gw_sni_parse(const uint8_t *buf, size_t len, char *out /* GW_HOST_MAX + 1 */);

/* ---------------------------------------------------------------- HTTP */

enum gw_http_form { GW_HTTP_CONNECT, GW_HTTP_ABSOLUTE, GW_HTTP_ORIGIN };

enum {
  GW_HTTP_MORE = 0,
  GW_HTTP_OK = 1,
  GW_HTTP_BAD = -1,    /* not HTTP, or malformed (400) */
  GW_HTTP_HTTPS = -2,  /* https:// absolute-form (400) */
  GW_HTTP_NOHOST = -3, /* origin-form without Host */
};

struct gw_http_head {
  enum gw_http_form form;
  char method[24];
  char host[GW_HOST_MAX + 1]; /* brackets stripped */
  uint16_t port;              /* CONNECT/absolute: from the target; origin: 0 */
  size_t head_len;            /* bytes up to and including the empty line */
  /* absolute-form: the authority and the origin-form target within buf */
  size_t auth_off, auth_len, path_off, path_len;
  bool path_empty; /* "http://host" with no path: send "/" */
  char version[9]; /* "HTTP/1.0" or "HTTP/1.1" */
};

/* Classify and parse the head in buf[0..len).  GW_HTTP_MORE when the head is
 * not complete yet (the caller treats MORE at GW_HEAD_MAX bytes as too big). */
int gw_http_parse(const char *buf, size_t len, struct gw_http_head *h);

/* HTTP helpers the proxy and the relay share. */
bool gw_tchar(unsigned char c); /* a token character (RFC 9110) */
/* The end of a head: offset just past "\r\n\r\n" (or a bare-LF empty
 * line), 0 if absent. */
size_t gw_head_end(const char *b, size_t len);
/* The header line at *next (without its line end) in *line, *len; moves
 * *next past it; false at the empty line or hend.  Heads end in '\n'. */
bool gw_head_line(const char **next, const char *hend, const char **line, size_t *len);
bool gw_hdr_is(const char *name, size_t nl, const char *want); /* case-insensitive name */
/* A header line's value: between its colon and lend, OWS trimmed. */
void gw_hdr_value(const char *colon, const char *lend, const char **v, size_t *vl);
/* Appends n bytes at out[*o] if they fit in cap; false (nothing written) if not. */
bool gw_put(char *out, size_t cap, size_t *o, const char *s, size_t n);
/* The head of an absolute-form request rewritten for the origin server:
 * origin-form target, Host from the URL, hop-by-hop headers dropped,
 * "Connection: close".  Returns the length written, -1 if cap is too small. */
long gw_http_rewrite(const char *buf, const struct gw_http_head *h, char *out, size_t cap);

/* ---------------------------------------------------------------- DNS */

#define GW_DNS_MAX 4096 /* largest query we look at */

enum { GW_DNS_NOERROR = 0, GW_DNS_FORMERR = 1, GW_DNS_NXDOMAIN = 3, GW_DNS_NOTIMP = 4, GW_DNS_REFUSED = 5 };

struct gw_dns_query {
  uint16_t id, flags;
  char name[GW_HOST_MAX + 1]; /* text form, no trailing dot, "" for the root */
  bool name_ok;               /* every label LDH/underscore (else never allowed) */
  uint16_t qtype, qclass;
  size_t qend; /* offset just after the question */
};

/* 0: a query with one question (q filled); GW_DNS_FORMERR / GW_DNS_NOTIMP:
 * answer with that rcode and no question (gw_dns_error); -1: drop silently
 * (too short for a header, or a response). */
int gw_dns_parse(const uint8_t *m, size_t len, struct gw_dns_query *q);
/* The answer to q: rcode, and one A record (TTL 10) when a4 != NULL.
 * Returns the length, 0 if cap is too small. */
size_t gw_dns_answer(const uint8_t *m, const struct gw_dns_query *q, int rcode, const uint8_t *a4, uint8_t *out,
                     size_t cap);
/* A header-only answer with rcode (m has at least 12 bytes). */
size_t gw_dns_error(const uint8_t *m, int rcode, uint8_t *out, size_t cap);
/* "A", "AAAA", ... or "TYPE65280" into out (16 bytes). */
const char *gw_dns_type_name(uint16_t t, char *out);

/* ---------------------------------------------------------------- log */

struct gw_logrec {
  struct timespec time; /* CLOCK_REALTIME */
  const char *sandbox, *client, *via, *method, *host;
  int port;
  const char *sni;
  bool allow;
  const char *rule;
  uint64_t bytes_up, bytes_down, duration_ms;
  const char *upstream, *error;
  const char *qtype; /* DNS lines only (then always present) */
  bool dns;
  /* credential relay lines only (then always present, after "error"):
   * the route, the path after it (never the query), the HTTP status the
   * client got (upstream's or the relay's own; < 0: none) */
  bool relay;
  const char *route, *path;
  int status;
};

/* One JSON line with its newline into out.  Returns the length (cap GW_LOG_LINE_MAX
 * always suffices: every string is cut to 255 bytes before escaping). */
#define GW_LOG_LINE_MAX 32768
size_t gw_log_format(const struct gw_logrec *r, char *out, size_t cap);

/* ---------------------------------------------------------------- credential relay */

/* The route file (one per sandbox, written by adr): see gwproto.h, which
 * holds its format and limits; read by relay-routes.c. */

#define GW_RELAY_HEAD_MAX 65536                         /* request and response heads */
#define GW_RELAY_OUT_MAX (2 * GW_RELAY_HEAD_MAX + 8192) /* a rewritten head */

struct gw_route {
  char name[GW_ROUTE_NAME_MAX + 1];
  char host[GW_HOST_MAX + 1]; /* normalised DNS name, or the IP literal (no brackets) */
  bool host_ip;
  uint16_t port;
  char *authority; /* the Host header: "api.test", "api.test:8443", "[::1]:8443" */
  char *base;      /* "" or "/v1" (no trailing slash) */
  char *sentinel, *key;
  size_t sentinel_len, key_len;
  char **paths;
  size_t npaths;
  unsigned line;
};

struct gw_routes {
  struct gw_route *r;
  size_t n;
};

/* Errors read "FILE:LINE: why" (one line, never a token). */
int gw_routes_parse(struct gw_routes *rs, const char *buf, size_t len, const char *file, adr_err *err);
int gw_routes_load(struct gw_routes *rs, const char *path, adr_err *err);
/* Zeroes the tokens before freeing them. */
void gw_routes_free(struct gw_routes *rs);
const struct gw_route *gw_route_find(const struct gw_routes *rs, const char *name, size_t len);

/* The path checks: starts with '/', printable ASCII only, no '%', '\',
 * '#', "//", "." or ".." segment. */
bool gw_relay_path_ok(const char *p, size_t len);
/* The first of the route's patterns that path (already checked) matches;
 * NULL if none.  "/x/" + "*" matches "/x/" and one or more bytes after it;
 * any other pattern only itself. */
const char *gw_route_match(const struct gw_route *r, const char *p, size_t len);

/* Body framing: which bytes after a head are its body (Content-Length,
 * chunked, none, or, for a response only, all until the connection
 * closes), so that nothing after a request goes upstream and the relay
 * knows when a response is complete. */
enum gw_body_kind { GW_BODY_NONE, GW_BODY_LENGTH, GW_BODY_CHUNKED, GW_BODY_UNTIL_CLOSE };
struct gw_body {
  enum gw_body_kind kind;
  uint64_t left; /* LENGTH: bytes to go; CHUNKED: data bytes left in the chunk */
  int st;        /* CHUNKED: where in the framing */
  unsigned line; /* CHUNKED: bytes in the current size or trailer line */
  bool done, bad;
};
void gw_body_init(struct gw_body *b, enum gw_body_kind kind, uint64_t length);
/* How many of p[0..n) belong to the body.  Sets done after its last byte;
 * bad (and returns the count before the offending byte) on malformed
 * chunked framing. */
size_t gw_body_feed(struct gw_body *b, const uint8_t *p, size_t n);

struct gw_relay_req {
  int status;         /* when refused: the relay's reply (400, 401, 403, 404, 431) */
  const char *rule;   /* refused: "bad-request", "unknown-route", ...; allowed: the path pattern */
  const char *reason; /* refused: for the reply body ("path not allowed", ...) */
  const struct gw_route *route;
  char method[24];
  size_t head_len;           /* the request head, up to and including the empty line */
  size_t name_off, name_len; /* the first path segment (the route name) in buf */
  size_t path_off, path_len; /* the path after the route name, without the query, in buf */
  bool has_path;
  struct gw_body body;
};

/* The request head in buf[0..len) from the sandbox, decided on and
 * rewritten for the route's upstream: target = BASEPATH + path (+ query),
 * Host = the upstream's, hop-by-hop headers dropped, "Connection: close",
 * every sentinel in header values and the query replaced by the key.
 * Returns GW_HTTP_MORE (0) while the head is incomplete (the caller refuses
 * with 431 at GW_RELAY_HEAD_MAX), 1 with out[0..*outlen) the head to send,
 * -1 when refused (q->status, q->rule, q->reason).  out needs
 * GW_RELAY_OUT_MAX bytes (a rewrite that does not fit is a 431). */
int gw_relay_request(const struct gw_routes *rs, const char *buf, size_t len, struct gw_relay_req *q, char *out,
                     size_t cap, size_t *outlen);

/* An upstream response head in buf[0..len): GW_HTTP_MORE, 1 (status,
 * head_len, the body's framing (head_request: the request was HEAD), and
 * out[0..*outlen) the head with Connection and Keep-Alive dropped and,
 * unless it is an interim 1xx, "Connection: close" added) or -1
 * (malformed).  out needs
 * 2 * head_len + 32 bytes. */
int gw_relay_response(const char *buf, size_t len, bool head_request, int *status, size_t *head_len,
                      struct gw_body *body, char *out, size_t cap, size_t *outlen);

/* in[0..len) with every route's sentinel and key replaced by "[redacted]",
 * NUL-terminated in out (cut when out is full, never inside a token).
 * For what the relay logs of what the sandbox sent. */
void gw_relay_redact(const struct gw_routes *rs, const char *in, size_t len, char *out, size_t cap);

/* claim-parse.c: a pooled gateway's claim file (--wait-claim), len bytes
 * of NUL-terminated arguments, as an argv of len's pointers into buf behind
 * "adr-gateway" (*argc counts it; NULL-terminated; caller frees *argv, not
 * its strings).  -1: empty, larger than GW_CLAIM_MAX, not NUL-terminated,
 * or an empty argument. */
#define GW_CLAIM_MAX (64u << 10)
int gw_claim_split(char *buf, size_t len, char ***argv, size_t *argc);

#endif
