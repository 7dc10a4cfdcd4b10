/* The native engine's registry client: an image pulled from an OCI
 * registry (the distribution API, v2) without a daemon, into the store.
 *
 * The reference names its registry (HOST[:PORT]/NAME[:TAG|@DIGEST]): adr
 * writes no registry host of its own.  HTTPS, but plain HTTP for loopback
 * hosts (as Docker treats them) and the hosts ADR_INSECURE_REGISTRIES
 * lists.  Anonymous Bearer tokens are fetched when the registry asks
 * (WWW-Authenticate).  An image index picks this machine's platform.
 * Manifests and configs are checked against their digests here; the
 * layers are streamed into a docker-archive with their digests as names,
 * which the store's import checks as it unpacks them. */
#include "registry.h"
#include "buf.h"
#include "spec.h"
#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MANIFEST_MAX (4u << 20)

struct ref {
  char *host, *name, *tag; /* tag: a tag or a sha256: digest */
};

static void ref_free(struct ref *r)
{
  free(r->host);
  free(r->name);
  free(r->tag);
}

/* sha256: and 64 lowercase hex digits */
static bool sha256_ref(const char *d)
{
  if (!d || !str_has_prefix(d, "sha256:") || strlen(d) != 71)
    return false;
  for (const char *p = d + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

int adr_registry_parse_ref(const char *s, char **host, char **name, char **tag, adr_err *err)
{
  const char *slash = strchr(s, '/');
  if (!slash || slash == s)
    return adr_err_set(err, EINVAL, "image '%s': name its registry (HOST[:PORT]/NAME[:TAG])", s);
  cleanup_free char *h = xstrndup(s, (size_t)(slash - s));
  if (!strchr(h, '.') && !strchr(h, ':') && !streq(h, "localhost"))
    return adr_err_set(err, EINVAL, "image '%s': '%s' is not a registry host (HOST[:PORT]/NAME[:TAG])", s, h);
  const char *rest = slash + 1;
  const char *at = strchr(rest, '@'), *colon = strrchr(rest, ':');
  size_t nl = at ? (size_t)(at - rest) : colon && !strchr(colon, '/') ? (size_t)(colon - rest) : strlen(rest);
  cleanup_free char *n = xstrndup(rest, nl);
  const char *t = at ? at + 1 : colon && !strchr(colon, '/') ? colon + 1 : "latest";
  if (!*n || !*t)
    return adr_err_set(err, EINVAL, "image '%s': no name or tag", s);
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-/", *p)))
      return adr_err_set(err, EINVAL, "image '%s': '%s' is not a repository name", s, n);
  if (at && !sha256_ref(t))
    return adr_err_set(err, EINVAL, "image '%s': '%s' is not a sha256:HEX digest", s, t);
  for (const char *p = t; !at && *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("._-", *p)))
      return adr_err_set(err, EINVAL, "image '%s': '%s' is not a tag or digest", s, t);
  *host = xstrdup(h);
  *name = xstrdup(n);
  *tag = xstrdup(t);
  return 0;
}

static bool loopback(const char *host)
{
  return str_has_prefix(host, "localhost") || str_has_prefix(host, "127.") || str_has_prefix(host, "[::1]");
}

static bool insecure(const char *host)
{
  cleanup_free char *h = xstrdup(host);
  char *c = h[0] == '[' ? strchr(h, ']') : strchr(h, ':');
  if (c && h[0] == '[')
    c[1] = '\0';
  else if (c)
    *c = '\0';
  if (streq(h, "localhost") || str_has_prefix(h, "127.") || streq(h, "[::1]"))
    return true;
  const char *list = getenv("ADR_INSECURE_REGISTRIES");
  if (!list)
    return false;
  cleanup_free char *l = xstrdup(list);
  char *save = NULL;
  for (char *t = strtok_r(l, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
    if (streq(t, host) || streq(t, h))
      return true;
  return false;
}

/* ------------------------------------------------------------ http */

struct pull {
  CURL *c;
  struct ref r;
  char *base; /* https://HOST/v2/NAME */
  char *token;
};

struct sink {
  CURL *c;
  struct buf *b;      /* small bodies */
  struct archive *ar; /* or a blob into the archive */
  EVP_MD_CTX *md;     /* and its digest */
  uint64_t got, want; /* bytes */
  char www[1024];     /* WWW-Authenticate */
  char ctype[256];
  bool failed;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
  struct sink *s = ud;
  size_t len = sz * n;
  if (s->b)
    return buf_append(s->b, p, len) < 0 ? 0 : len;
  long code = 0;
  curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200)
    return len; /* a challenge's or a redirect's body: not the blob */
  s->got += len;
  if (s->got > s->want || archive_write_data(s->ar, p, len) != (la_ssize_t)len) {
    s->failed = true;
    return 0;
  }
  EVP_DigestUpdate(s->md, p, len);
  return len;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
  struct sink *s = ud;
  size_t len = sz * n;
  char *dst = NULL;
  size_t cap = 0, skip = 0;
  if (len > 17 && strncasecmp(p, "WWW-Authenticate:", 17) == 0) {
    dst = s->www;
    cap = sizeof(s->www);
    skip = 17;
  } else if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0) {
    dst = s->ctype;
    cap = sizeof(s->ctype);
    skip = 13;
  }
  if (dst) {
    while (skip < len && p[skip] == ' ')
      skip++;
    size_t l = len - skip;
    while (l && (p[skip + l - 1] == '\r' || p[skip + l - 1] == '\n'))
      l--;
    snprintf(dst, cap, "%.*s", (int)l, p + skip);
  }
  return len;
}

/* the value of key="..." in a WWW-Authenticate header */
static char *auth_param(const char *h, const char *key)
{
  cleanup_free char *pat = xasprintf("%s=\"", key);
  const char *p = strstr(h, pat);
  if (!p)
    return NULL;
  p += strlen(pat);
  const char *e = strchr(p, '"');
  return e ? xstrndup(p, (size_t)(e - p)) : NULL;
}

static long get(struct pull *pl, const char *url, const char *accept, struct sink *s, adr_err *err);

/* an anonymous token for the scope the registry named */
static int fetch_token(struct pull *pl, const char *www, adr_err *err)
{
  if (strncasecmp(www, "Bearer ", 7) != 0)
    return adr_err_set(err, EACCES,
                       "registry %s: it wants '%.40s' authentication (only anonymous Bearer tokens are "
                       "supported)",
                       pl->r.host, www);
  cleanup_free char *realm = auth_param(www, "realm"), *service = auth_param(www, "service"),
                    *scope = auth_param(www, "scope");
  if (!realm || !str_has_prefix(realm, "https://"))
    return adr_err_set(err, EACCES, "registry %s: no https token realm in its challenge", pl->r.host);
  char *es = service ? curl_easy_escape(pl->c, service, 0) : NULL,
       *sc = scope ? curl_easy_escape(pl->c, scope, 0) : NULL;
  cleanup_free char *url =
    xasprintf("%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?", es ? es : "", sc ? sc : "");
  curl_free(es);
  curl_free(sc);
  struct buf b;
  buf_init(&b, 1 << 16);
  struct sink s = { .b = &b };
  long st = get(pl, url, NULL, &s, err);
  json_t *j = st == 200 && b.data ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  buf_free(&b);
  const char *t = j ? json_string_value(json_object_get(j, "token")) : NULL;
  if (!t && j)
    t = json_string_value(json_object_get(j, "access_token"));
  if (!t) {
    json_decref(j);
    return st < 0 ? -1 : adr_err_set(err, EACCES, "registry %s: no token from %s (HTTP %ld)", pl->r.host, realm, st);
  }
  free(pl->token);
  pl->token = xstrdup(t);
  json_decref(j);
  return 0;
}

/* GET url: the HTTP status, or -1 with err (transport) */
static long get(struct pull *pl, const char *url, const char *accept, struct sink *s, adr_err *err)
{
  CURL *c = pl->c;
  curl_easy_reset(c);
  struct curl_slist *hs = NULL;
  if (accept) {
    cleanup_free char *a = xasprintf("Accept: %s", accept);
    hs = curl_slist_append(hs, a);
  }
  if (pl->token && !strstr(url, "service=")) {
    cleanup_free char *a = xasprintf("Authorization: Bearer %s", pl->token);
    hs = curl_slist_append(hs, a);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* blobs redirect to storage */
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, insecure(pl->r.host) ? "http,https" : "https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (loopback(pl->r.host))
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* this machine's registry: never through a proxy */
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(hs);
  long st = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
  if (rc != CURLE_OK && !(s->failed && st >= 400)) {
    if (s->failed)
      return adr_err_set(err, EPROTO, "%s: the blob is larger than its manifest says", url), -1;
    return adr_err_set(err, EHOSTUNREACH, "%s: %s", url, curl_easy_strerror(rc)), -1;
  }
  return st;
}

/* GET with the token dance: the status after at most one challenge */
static long get_auth(struct pull *pl, const char *url, const char *accept, struct sink *s, adr_err *err)
{
  long st = get(pl, url, accept, s, err);
  if (st != 401)
    return st;
  if (fetch_token(pl, s->www, err) < 0)
    return -1;
  if (s->b)
    buf_reset(s->b);
  s->got = 0;
  return get(pl, url, accept, s, err);
}

/* a manifest (or index) by tag or digest, checked against its digest */
static json_t *manifest(struct pull *pl, const char *ref, adr_err *err)
{
  static const char accept[] =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
  cleanup_free char *url = xasprintf("%s/manifests/%s", pl->base, ref);
  struct buf b;
  buf_init(&b, MANIFEST_MAX);
  struct sink s = { .b = &b };
  long st = get_auth(pl, url, accept, &s, err);
  json_t *j = NULL;
  if (st == 200 && b.data) {
    if (str_has_prefix(ref, "sha256:")) {
      cleanup_free char *h = adr_sha256_hex(b.data, b.len);
      if (!streq(h, ref + 7)) {
        buf_free(&b);
        adr_err_set(err, EPROTO, "%s: the manifest does not match its digest", url);
        return NULL;
      }
    }
    j = json_loadb(b.data, b.len, 0, NULL);
  }
  buf_free(&b);
  if (st == 404)
    adr_err_set(err, ENOENT, "no such image in the registry (%s)", ref);
  else if (st > 0 && st != 200)
    adr_err_set(err, EIO, "%s: HTTP %ld", url, st);
  else if (st == 200 && !j)
    adr_err_set(err, EPROTO, "%s: the manifest is not JSON", url);
  return j;
}

static bool is_index(json_t *m)
{
  const char *mt = json_string_value(json_object_get(m, "mediaType"));
  return json_is_array(json_object_get(m, "manifests")) ||
         (mt && (strstr(mt, "image.index") || strstr(mt, "manifest.list")));
}

static const char *this_arch(void)
{
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "";
#endif
}

/* a blob into the archive as blobs/sha256/HEX, size from the manifest */
static int blob(struct pull *pl, struct archive *ar, json_t *desc, char **hex_out, adr_err *err)
{
  const char *dg = json_string_value(json_object_get(desc, "digest"));
  json_int_t size = json_integer_value(json_object_get(desc, "size"));
  if (!dg || !str_has_prefix(dg, "sha256:") || strlen(dg) != 71 || size <= 0)
    return adr_err_set(err, EPROTO, "%s/%s: a layer or config without a sha256 digest and size", pl->r.host,
                       pl->r.name);
  for (const char *p = dg + 7; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return adr_err_set(err, EPROTO, "%s: not a sha256 digest", dg);
  cleanup_free char *name = xasprintf("blobs/sha256/%s", dg + 7), *url = xasprintf("%s/blobs/%s", pl->base, dg);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, size);
  if (archive_write_header(ar, e) != ARCHIVE_OK) {
    archive_entry_free(e);
    return adr_err_set(err, EIO, "pull: %s", archive_error_string(ar));
  }
  archive_entry_free(e);
  struct sink s = { .c = pl->c, .ar = ar, .md = EVP_MD_CTX_new(), .want = (uint64_t)size };
  EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
  long st = get_auth(pl, url, NULL, &s, err);
  unsigned char md[32];
  unsigned l = 0;
  EVP_DigestFinal_ex(s.md, md, &l);
  EVP_MD_CTX_free(s.md);
  if (st < 0)
    return -1;
  if (st != 200)
    return adr_err_set(err, st == 404 ? ENOENT : EIO, "%s: HTTP %ld", url, st);
  if (s.got != (uint64_t)size)
    return adr_err_set(err, EPROTO, "%s: %llu bytes, its manifest says %lld", url, (unsigned long long)s.got,
                       (long long)size);
  char hex[65];
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  if (!streq(hex, dg + 7))
    return adr_err_set(err, EPROTO, "%s: the blob does not match its digest", url);
  if (hex_out)
    *hex_out = xstrdup(hex);
  return 0;
}

static int add_text(struct archive *ar, const char *name, const char *text, adr_err *err)
{
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, (la_int64_t)strlen(text));
  int r =
    archive_write_header(ar, e) == ARCHIVE_OK && archive_write_data(ar, text, strlen(text)) == (la_ssize_t)strlen(text);
  archive_entry_free(e);
  return r ? 0 : adr_err_set(err, EIO, "pull: %s", archive_error_string(ar));
}

int adr_registry_pull(const char *ref, int fd, adr_err *err)
{
  struct pull pl = { 0 };
  if (adr_registry_parse_ref(ref, &pl.r.host, &pl.r.name, &pl.r.tag, err) < 0)
    return -1;
  pl.c = curl_easy_init();
  pl.base = xasprintf("%s://%s/v2/%s", insecure(pl.r.host) ? "http" : "https", pl.r.host, pl.r.name);
  struct archive *ar = archive_write_new();
  archive_write_set_format_pax_restricted(ar);
  int ret = -1;
  json_t *m = NULL, *cfgdesc, *layers, *l, *man = NULL;
  cleanup_free char *cfghex = NULL;
  char *cn = NULL, *tag = NULL, *mt = NULL;
  if (!pl.c || archive_write_open_fd(ar, fd) != ARCHIVE_OK) {
    adr_err_set(err, EIO, "pull %s: set-up", ref);
    goto out;
  }
  if (!(m = manifest(&pl, pl.r.tag, err)))
    goto out;
  if (is_index(m)) { /* this machine's platform */
    const char *pick = NULL;
    size_t i;
    json_t *d;
    json_array_foreach (json_object_get(m, "manifests"), i, d) {
      json_t *p = json_object_get(d, "platform");
      if (streq(json_string_value(json_object_get(p, "os")), "linux") &&
          streq(json_string_value(json_object_get(p, "architecture")), this_arch()) && !pick)
        pick = json_string_value(json_object_get(d, "digest"));
    }
    if (!pick) {
      adr_err_set(err, ENOENT, "pull %s: no image for linux/%s in its index", ref, this_arch());
      goto out;
    }
    if (!sha256_ref(pick)) {
      adr_err_set(err, EPROTO, "pull %s: its index names '%.80s', not a sha256 digest", ref, pick);
      goto out;
    }
    cleanup_free char *dg = xstrdup(pick);
    json_decref(m);
    if (!(m = manifest(&pl, dg, err)))
      goto out;
  }
  cfgdesc = json_object_get(m, "config");
  layers = json_object_get(m, "layers");
  if (!json_is_object(cfgdesc) || !json_is_array(layers)) {
    adr_err_set(err, EPROTO, "pull %s: the manifest has no config or layers", ref);
    goto out;
  }
  if (blob(&pl, ar, cfgdesc, &cfghex, err) < 0)
    goto out;
  man = json_array();
  json_t *item = json_object(), *lnames = json_array(), *tags = json_array();
  size_t i;
  json_array_foreach (layers, i, l) {
    cleanup_free char *hex = NULL;
    if (blob(&pl, ar, l, &hex, err) < 0) {
      json_decref(item);
      json_decref(lnames);
      json_decref(tags);
      goto out;
    }
    cleanup_free char *n = xasprintf("blobs/sha256/%s", hex);
    json_array_append_new(lnames, json_string(n));
  }
  cn = xasprintf("blobs/sha256/%s", cfghex);
  if (!str_has_prefix(pl.r.tag, "sha256:"))
    tag = xasprintf("%s/%s:%s", pl.r.host, pl.r.name, pl.r.tag);
  if (tag)
    json_array_append_new(tags, json_string(tag));
  json_object_set_new(item, "Config", json_string(cn));
  json_object_set_new(item, "RepoTags", tags);
  json_object_set_new(item, "Layers", lnames);
  json_array_append_new(man, item);
  mt = json_dumps(man, JSON_COMPACT);
  if (add_text(ar, "manifest.json", mt, err) < 0)
    goto out;
  if (archive_write_close(ar) != ARCHIVE_OK) {
    adr_err_set(err, EIO, "pull %s: %s", ref, archive_error_string(ar));
    goto out;
  }
  ret = 0;
out:
  free(cn);
  free(tag);
  free(mt);
  if (ret < 0 && *err && !str_has_prefix((*err)->msg, "pull "))
    adr_err_prefix(err, "pull %s", ref);
  json_decref(m);
  json_decref(man);
  archive_write_free(ar);
  if (pl.c)
    curl_easy_cleanup(pl.c);
  free(pl.base);
  free(pl.token);
  ref_free(&pl.r);
  return ret;
}
