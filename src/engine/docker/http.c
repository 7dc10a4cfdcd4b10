#include "http.h"
#include "log.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

void adr_http_resp_free(struct adr_http_resp *r)
{
  buf_free(&r->body);
  free(r->api_version);
  r->api_version = NULL;
  r->status = 0;
}

int adr_http_open(struct adr_http *h, const char *endpoint, adr_err *err)
{
  memset(h, 0, sizeof(*h));
  h->connect_timeout_ms = 10000;
  if (str_has_prefix(endpoint, "unix://")) {
    const char *p = endpoint + strlen("unix://");
    if (*p != '/')
      return adr_err_set(err, EINVAL, "invalid engine address '%s': unix socket path must be absolute", endpoint);
    h->unix_path = xstrdup(p);
    h->base_url = xstrdup("http://localhost");
  } else if (str_has_prefix(endpoint, "tcp://") || str_has_prefix(endpoint, "http://")) {
    const char *p = strstr(endpoint, "://") + 3;
    if (*p == '\0' || *p == '/')
      return adr_err_set(err, EINVAL, "invalid engine address '%s': missing host", endpoint);
    size_t n = strcspn(p, "/");
    cleanup_free char *hostport = xstrndup(p, n);
    h->base_url = xasprintf("http://%s%s", hostport, strchr(hostport, ':') ? "" : ":2375");
  } else if (str_has_prefix(endpoint, "https://") || str_has_prefix(endpoint, "ssh://") ||
             str_has_prefix(endpoint, "npipe://")) {
    return adr_err_set(err, ENOTSUP, "engine address '%s': only unix:// and tcp:// are supported", endpoint);
  } else {
    return adr_err_set(err, EINVAL, "invalid engine address '%s': expected unix:///PATH or tcp://HOST:PORT", endpoint);
  }
  h->endpoint = xstrdup(endpoint);
  CURL *c = curl_easy_init();
  if (c == NULL)
    return adr_err_set(err, ENOMEM, "initialise libcurl");
  h->curl = c;
  return 0;
}

void adr_http_close(struct adr_http *h)
{
  if (h->curl)
    curl_easy_cleanup(h->curl);
  free(h->unix_path);
  free(h->base_url);
  free(h->endpoint);
  memset(h, 0, sizeof(*h));
}

char *adr_http_escape(const char *s)
{
  char *e = curl_easy_escape(NULL, s, 0);
  char *r = xstrdup(e ? e : "");
  curl_free(e);
  return r;
}

struct xfer {
  struct adr_http_resp *resp;
  adr_http_chunk_cb cb;
  void *ud;
  CURL *curl;
  int cb_failed;
  bool overflow;
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
  struct xfer *x = ud;
  size_t len = size * n;
  static const char name[] = "api-version:";
  if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
    const char *v = p + sizeof(name) - 1;
    size_t vl = len - (sizeof(name) - 1);
    while (vl && (*v == ' ' || *v == '\t'))
      v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
      vl--;
    if (vl < 16) {
      free(x->resp->api_version);
      x->resp->api_version = xstrndup(v, vl);
    }
  }
  return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
  struct xfer *x = ud;
  size_t len = size * n;
  if (x->cb) {
    long status = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 400) {
      if (x->cb(p, len, x->ud) < 0) {
        x->cb_failed = 1;
        return 0;
      }
      return len;
    }
  }
  if (buf_append(&x->resp->body, p, len) < 0) {
    x->overflow = true;
    return 0;
  }
  return len;
}

static int perform(struct adr_http *h, const char *method, const char *path, const char *content_type, const void *body,
                   size_t body_len, adr_http_chunk_cb cb, void *ud, struct adr_http_resp *resp, adr_err *err)
{
  CURL *c = h->curl;
  memset(resp, 0, sizeof(*resp));
  buf_init(&resp->body, ADR_HTTP_BODY_LIMIT);
  struct xfer x = { .resp = resp, .cb = cb, .ud = ud, .curl = c };
  cleanup_free char *url = xasprintf("%s%s", h->base_url, path);
  struct curl_slist *hdrs = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";

  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  if (h->unix_path)
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->unix_path);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(c, CURLOPT_USERAGENT,
                   "adr/"
                   "1");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
  } else if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
  } else if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  }
  if (content_type) {
    cleanup_free char *ct = xasprintf("Content-Type: %s", content_type);
    hdrs = curl_slist_append(hdrs, ct);
  }
  hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

  adr_debug("engine: %s %s", method, path);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hdrs);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
  adr_debug("engine: %s %s -> %ld", method, path, resp->status);

  if (x.overflow)
    return adr_err_set(err, EFBIG, "engine response to %s %s is larger than %u MiB", method, path,
                       ADR_HTTP_BODY_LIMIT >> 20);
  if (x.cb_failed)
    return adr_err_set(err, ECANCELED, "%s %s: aborted while reading the response", method, path);
  if (rc != CURLE_OK) {
    long oserr = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT) {
      const char *why = oserr ? strerror((int)oserr) : (errbuf[0] ? errbuf : curl_easy_strerror(rc));
      /* never ENOENT: callers read that as "no such container" */
      return adr_err_set(err, oserr && oserr != ENOENT ? (int)oserr : ECONNREFUSED,
                         "cannot connect to the engine at %s: %s (is the Docker daemon running?)", h->endpoint, why);
    }
    return adr_err_set(err, EIO, "engine request %s %s: %s", method, path, errbuf[0] ? errbuf : curl_easy_strerror(rc));
  }
  return 0;
}

int adr_http_request(struct adr_http *h, const char *method, const char *path, const char *content_type,
                     const void *body, size_t body_len, struct adr_http_resp *resp, adr_err *err)
{
  return perform(h, method, path, content_type, body, body_len, NULL, NULL, resp, err);
}

int adr_http_stream(struct adr_http *h, const char *method, const char *path, const char *content_type,
                    const void *body, size_t body_len, adr_http_chunk_cb cb, void *ud, struct adr_http_resp *resp,
                    adr_err *err)
{
  return perform(h, method, path, content_type, body, body_len, cb, ud, resp, err);
}
