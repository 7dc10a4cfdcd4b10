/* The gateway's log line: one JSON object, keys in a fixed order. */
#include "gw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct out {
  char *p;
  size_t cap, n;
};

static void raw(struct out *o, const char *s, size_t n)
{
  if (o->cap - o->n <= n) /* keep room for the NUL */
    n = o->cap - o->n - 1;
  memcpy(o->p + o->n, s, n);
  o->n += n;
}

static void lit(struct out *o, const char *s) { raw(o, s, strlen(s)); }

/* A JSON string (or null), cut at 255 input bytes, control bytes, DEL and
 * non-ASCII as \u00XX. */
static void str(struct out *o, const char *s)
{
  if (s == NULL) {
    lit(o, "null");
    return;
  }
  lit(o, "\"");
  size_t n = strnlen(s, GW_HOST_MAX);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e[8];
    if (c == '"' || c == '\\') {
      e[0] = '\\';
      e[1] = (char)c;
      raw(o, e, 2);
    } else if (c < 0x20 || c >= 0x7f) {
      snprintf(e, sizeof(e), "\\u%04x", c);
      raw(o, e, 6);
    } else {
      raw(o, (const char *)&c, 1);
    }
  }
  lit(o, "\"");
}

static void num(struct out *o, uint64_t v)
{
  char b[24];
  snprintf(b, sizeof(b), "%" PRIu64, v);
  lit(o, b);
}

size_t gw_log_format(const struct gw_logrec *r, char *buf, size_t cap)
{
  struct out o = { buf, cap, 0 };
  if (cap < 2)
    return 0;
  struct tm tm;
  time_t t = r->time.tv_sec;
  char ts[64];
  gmtime_r(&t, &tm);
  size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + tl, sizeof(ts) - tl, ".%03ldZ", r->time.tv_nsec / 1000000);
  lit(&o, "{\"time\":");
  str(&o, ts);
  lit(&o, ",\"sandbox\":");
  str(&o, r->sandbox);
  lit(&o, ",\"client\":");
  str(&o, r->client);
  lit(&o, ",\"via\":");
  str(&o, r->via);
  lit(&o, ",\"method\":");
  str(&o, r->method);
  lit(&o, ",\"host\":");
  str(&o, r->host);
  lit(&o, ",\"port\":");
  if (r->port < 0)
    lit(&o, "null");
  else
    num(&o, (uint64_t)r->port);
  lit(&o, ",\"sni\":");
  str(&o, r->sni);
  lit(&o, ",\"verdict\":");
  lit(&o, r->allow ? "\"allow\"" : "\"deny\"");
  lit(&o, ",\"rule\":");
  str(&o, r->rule);
  lit(&o, ",\"bytes_up\":");
  num(&o, r->bytes_up);
  lit(&o, ",\"bytes_down\":");
  num(&o, r->bytes_down);
  lit(&o, ",\"duration_ms\":");
  num(&o, r->duration_ms);
  lit(&o, ",\"upstream\":");
  str(&o, r->upstream);
  lit(&o, ",\"error\":");
  str(&o, r->error);
  if (r->dns) {
    lit(&o, ",\"qtype\":");
    str(&o, r->qtype);
  }
  if (r->relay) {
    lit(&o, ",\"route\":");
    str(&o, r->route);
    lit(&o, ",\"path\":");
    str(&o, r->path);
    lit(&o, ",\"status\":");
    if (r->status < 0)
      lit(&o, "null");
    else
      num(&o, (uint64_t)r->status);
  }
  lit(&o, "}\n");
  buf[o.n] = '\0';
  return o.n;
}
