/* A client of the coordinator (coord.h): one HTTP/JSON call with libcurl,
 * the reply read up to a bound. */
#include "coord-client.h"
#include "buf.h"
#include "util.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#define REPLY_MAX (64u << 20) /* a run's bundle, in base64, fits */

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
  struct buf *b = ud;
  return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

int adr_coord_call(const char *base, const char *token, const char *method, const char *path, const char *body,
                   long *status, char **reply, adr_err *err)
{
  *reply = NULL;
  *status = 0;
  if (!base || !(str_has_prefix(base, "http://") || str_has_prefix(base, "https://")))
    return adr_err_set(err, EINVAL, "coordinator '%s': an http:// or https:// URL", base ? base : "");
  CURL *c = curl_easy_init();
  if (!c)
    return adr_err_set(err, ENOMEM, "curl");
  size_t bl = strlen(base);
  cleanup_free char *url = xasprintf("%.*s%s", (int)(bl && base[bl - 1] == '/' ? bl - 1 : bl), base, path);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  cleanup_free char *auth = token ? xasprintf("Authorization: Bearer %s", token) : NULL;
  if (auth)
    h = curl_slist_append(h, auth);
  struct buf b;
  buf_init(&b, REPLY_MAX);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L); /* a claim waits up to 30 s */
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(h);
  if (auth)
    explicit_bzero(auth, strlen(auth));
  if (rc != CURLE_OK) {
    curl_easy_cleanup(c);
    buf_free(&b);
    return adr_err_set(err, ECONNREFUSED, "coordinator %s: %s", base, curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(c);
  *reply = b.data ? b.data : xstrdup("");
  return 0;
}
