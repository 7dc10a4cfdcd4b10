/* A small HTTP/1.1 client for the engine's API over a unix socket or TCP,
 * built on libcurl.  Response bodies are bounded; streaming endpoints hand
 * data to a callback as it arrives. */
#ifndef ADR_HTTP_H
#define ADR_HTTP_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>

struct adr_http {
  void *curl;      /* CURL* */
  char *unix_path; /* socket path, or NULL for TCP */
  char *base_url;  /* "http://localhost" or "http://HOST:PORT" */
  char *endpoint;  /* as the user wrote it, for messages */
  long connect_timeout_ms;
};

struct adr_http_resp {
  long status;
  struct buf body;   /* bounded */
  char *api_version; /* "API-Version" response header, if any */
};
void adr_http_resp_free(struct adr_http_resp *r);

/* endpoint: "unix:///path" or "tcp://host:port" (or "http://..."). */
int adr_http_open(struct adr_http *h, const char *endpoint, adr_err *err);
void adr_http_close(struct adr_http *h);

/* Body limit for buffered responses. */
#define ADR_HTTP_BODY_LIMIT (32u << 20)

/* Sends a request; buffers the response (at most ADR_HTTP_BODY_LIMIT). */
int adr_http_request(struct adr_http *h, const char *method, const char *path, const char *content_type,
                     const void *body, size_t body_len, struct adr_http_resp *resp, adr_err *err);

/* Sends a request and passes each chunk of the response body to cb as it
 * arrives (cb returns <0 to abort).  Error bodies (status >= 400) are
 * buffered into resp->body instead so they can be reported. */
typedef int (*adr_http_chunk_cb)(const char *p, size_t n, void *ud);
int adr_http_stream(struct adr_http *h, const char *method, const char *path, const char *content_type,
                    const void *body, size_t body_len, adr_http_chunk_cb cb, void *ud, struct adr_http_resp *resp,
                    adr_err *err);

/* Percent-encodes s for use in a query string. */
char *adr_http_escape(const char *s);

#endif
