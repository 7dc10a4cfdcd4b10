/* Secrets in images (scan.h). */
#include "scan.h"
#include "spec.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------ the patterns */

static bool alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool tokch(char c) { return alnum(c) || c == '_' || c == '-'; }
static bool b64(char c) { return alnum(c) || c == '+' || c == '/' || c == '='; }

/* chars of class from p (at most max, within end) */
static size_t span(const char *p, const char *end, bool (*cls)(char), size_t max)
{
  size_t n = 0;
  while (p + n < end && n < max && cls(p[n]))
    n++;
  return n;
}

/* "-----BEGIN [WORDS ]PRIVATE KEY-----" (or "... PRIVATE KEY BLOCK-----")
 * followed by a base64 body of 64 characters at least */
static bool pem_key(const char *p, const char *end)
{
  const char *q = p + 11; /* past "-----BEGIN " */
  size_t words = 0;
  while (q < end && words < 40 && ((*q >= 'A' && *q <= 'Z') || *q == ' ' || *q == '-'))
    q++, words++;
  const char *tail[] = { "PRIVATE KEY-----", "PRIVATE KEY BLOCK-----" };
  bool got = false;
  for (size_t i = 0; i < 2 && !got; i++) {
    size_t tl = strlen(tail[i]);
    /* the words end with the tail */
    for (const char *s = p + 11; s <= q && s + tl <= end; s++)
      if (memcmp(s, tail[i], tl) == 0) {
        q = s + tl;
        got = true;
        break;
      }
  }
  if (!got)
    return false;
  /* header lines (Proc-Type:, DEK-Info:, Comment:) and blank lines */
  for (int line = 0; line < 6 && q < end; line++) {
    while (q < end && (*q == '\r' || *q == '\n'))
      q++;
    const char *eol = memchr(q, '\n', (size_t)(end - q));
    const char *colon = memchr(q, ':', eol ? (size_t)(eol - q) : (size_t)(end - q));
    if (!colon || !eol)
      break;
    q = eol + 1;
  }
  size_t body = 0;
  while (q < end && body < 64) {
    if (b64(*q))
      body++;
    else if (*q != '\r' && *q != '\n')
      break;
    q++;
  }
  return body >= 64;
}

const char *adr_scan_text(const char *data, size_t len, size_t *at)
{
  const char *end = data + len;
  static const struct {
    const char *prefix;
    const char *what;
  } kinds[] = {
    { "-----BEGIN ", "a private key" },  { "AKIA", "an AWS access key" },       { "ghp_", "a GitHub token" },
    { "gho_", "a GitHub token" },        { "ghu_", "a GitHub token" },          { "ghs_", "a GitHub token" },
    { "ghr_", "a GitHub token" },        { "github_pat_", "a GitHub token" },   { "npm_", "an npm token" },
    { "xoxb-", "a Slack token" },        { "xoxp-", "a Slack token" },          { "xoxa-", "a Slack token" },
    { "xoxr-", "a Slack token" },        { "sk-ant-", "an Anthropic API key" }, { "sk-proj-", "an OpenAI API key" },
    { "T3BlbkFJ", "an OpenAI API key" },
  };
  for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
    size_t pl = strlen(kinds[k].prefix);
    for (const char *p = data; p < end;) {
      const char *h = memmem(p, (size_t)(end - p), kinds[k].prefix, pl);
      if (!h)
        break;
      p = h + 1;
      bool boundary = h == data || !alnum(h[-1]);
      const char *t = h + pl;
      bool hit = false;
      switch (k) {
      case 0: hit = pem_key(h, end); break;
      case 1: { /* AKIA + 16, not AWS's documentation examples */
        size_t n = span(t, end, alnum, 17);
        hit = boundary && n == 16 && !(memcmp(t + 9, "EXAMPLE", 7) == 0);
        for (size_t i = 0; hit && i < 16; i++)
          hit = (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9');
        break;
      }
      case 2:
      case 3:
      case 4:
      case 5:
      case 6: hit = boundary && span(t, end, alnum, 37) == 36; break;
      case 7: hit = boundary && span(t, end, tokch, 83) == 82; break;
      case 8: hit = boundary && span(t, end, alnum, 37) == 36; break;
      case 9:
      case 10:
      case 11:
      case 12: hit = boundary && span(t, end, tokch, 200) >= 20; break;
      case 13: { /* sk-ant-KIND00-BODY */
        size_t a = span(t, end, alnum, 20);
        hit = boundary && a >= 3 && t + a < end && t[a] == '-' && isdigit((unsigned char)t[a - 1]) &&
              isdigit((unsigned char)t[a - 2]) && span(t + a + 1, end, tokch, 200) >= 80;
        break;
      }
      case 14: hit = boundary && span(t, end, tokch, 300) >= 80; break;
      case 15: { /* the marker inside a legacy sk-... key */
        const char *s = h;
        while (s > data && h - s < 64 && tokch(s[-1]))
          s--;
        hit = s + 3 <= h && memcmp(s, "sk-", 3) == 0 && (s == data || !alnum(s[-1])) && span(t, end, tokch, 100) >= 16;
        if (hit)
          h = s;
        break;
      }
      default: break;
      }
      if (hit) {
        if (at)
          *at = (size_t)(h - data);
        return kinds[k].what;
      }
    }
  }
  return NULL;
}

void adr_scan_result_free(struct adr_scan_result *r)
{
  for (size_t i = 0; i < r->n; i++)
    free(r->v[i].path);
  free(r->v);
  memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------ the layers */

/* a layer tar inside the exported image, read through the outer archive
 * while its SHA-256 (the layer's digest) is taken */
struct inner {
  struct archive *outer;
  EVP_MD_CTX *md;
  char buf[65536];
};

static la_ssize_t inner_read(struct archive *a, void *ud, const void **out)
{
  (void)a;
  struct inner *in = ud;
  la_ssize_t n = archive_read_data(in->outer, in->buf, sizeof(in->buf));
  if (n > 0)
    EVP_DigestUpdate(in->md, in->buf, (size_t)n);
  *out = in->buf;
  return n < 0 ? -1 : n;
}

struct layer_findings {
  char digest[72]; /* sha256:HEX */
  struct adr_scan_finding *v;
  size_t n;
};

/* one layer's files: findings into lf */
static void scan_layer(struct inner *in, struct layer_findings *lf, const struct strv *allow,
                       struct adr_scan_result *res, char *file, size_t cap)
{
  struct archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  if (archive_read_open(a, in, NULL, inner_read, NULL) != ARCHIVE_OK) {
    archive_read_free(a);
    return;
  }
  struct archive_entry *e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) != AE_IFREG)
      continue;
    int64_t size = archive_entry_size(e);
    if (size <= 0)
      continue;
    if ((uint64_t)size > cap) {
      res->skipped++;
      continue;
    }
    la_ssize_t got = 0, n;
    while (got < size && (n = archive_read_data(a, file + got, (size_t)(size - got))) > 0)
      got += n;
    res->files++;
    const char *name = archive_entry_pathname(e);
    /* a program or library (a NUL early on) is not where a key is left:
     * those that carry one carry it on purpose (libgnutls's test key) */
    if (!name || memchr(file, 0, (size_t)(got < 4096 ? got : 4096)))
      continue;
    const char *what = adr_scan_text(file, (size_t)got, NULL);
    if (!what)
      continue;
    while (name[0] == '.' && name[1] == '/')
      name += 2;
    cleanup_free char *path = xasprintf("/%s", name);
    if (allow && strv_contains(allow, path))
      continue;
    lf->v = xrealloc(lf->v, (lf->n + 1) * sizeof(*lf->v));
    lf->v[lf->n++] = (struct adr_scan_finding){ .path = TAKE_PTR(path), .what = what };
  }
  archive_read_free(a);
}

struct saver {
  struct adr_engine *e;
  const char *image;
  int fd;
  adr_err err;
  int ret;
};

static void *save_main(void *arg)
{
  struct saver *s = arg;
  s->ret = adr_engine_image_save(s->e, s->image, s->fd, &s->err);
  close(s->fd);
  return NULL;
}

int adr_image_scan(const struct adr_engine *e, const char *image, const char *base, const struct strv *allow,
                   struct adr_scan_result *res, adr_err *err)
{
  memset(res, 0, sizeof(*res));
  struct adr_engine *own = NULL;
  if (adr_engine_reopen(e, &own, err) < 0)
    return -1;
  /* the layers the build made: the image's above the base's */
  struct adr_image im = { 0 }, bi = { 0 };
  cleanup_strv struct strv fresh = { 0 };
  int r = adr_engine_image_inspect(own, image, &im, err);
  if (r != 0) {
    adr_engine_close(own);
    return r < 0 ? -1 : adr_err_set(err, ENOENT, "image '%s' not found", image);
  }
  size_t from = 0;
  if (base) {
    cleanup_err adr_err e2 = NULL;
    if (adr_engine_image_inspect(own, base, &bi, &e2) == 0 && bi.layers.n <= im.layers.n) {
      from = bi.layers.n;
      for (size_t i = 0; i < bi.layers.n; i++)
        if (!streq(bi.layers.v[i], im.layers.v[i]))
          from = 0; /* not built on it after all: all of them */
    }
  }
  for (size_t i = from; i < im.layers.n; i++)
    strv_push(&fresh, im.layers.v[i]);
  adr_image_free(&bi);
  cleanup_free char *id = xstrdup(im.id);
  adr_image_free(&im);
  if (!fresh.n) {
    adr_engine_close(own);
    return 0;
  }
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) < 0) {
    adr_engine_close(own);
    return adr_err_sys(err, errno, "pipe");
  }
  struct saver sv = { .e = own, .image = id, .fd = pfd[1] };
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t th;
  int tr = pthread_create(&th, NULL, save_main, &sv);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (tr != 0) {
    close(pfd[0]);
    close(pfd[1]);
    adr_engine_close(own);
    return adr_err_sys(err, tr, "scan thread");
  }
  char *file = malloc(ADR_SCAN_FILE_MAX);
  struct layer_findings *layers = NULL;
  size_t nl = 0;
  struct archive *outer = archive_read_new();
  archive_read_support_format_tar(outer);
  int ret = 0;
  if (!file || archive_read_open_fd(outer, pfd[0], 65536) != ARCHIVE_OK) {
    ret = adr_err_set(err, EIO, "scan image '%s': %s", image, file ? archive_error_string(outer) : "out of memory");
  } else {
    struct archive_entry *ent;
    int hr;
    while ((hr = archive_read_next_header(outer, &ent)) == ARCHIVE_OK) {
      const char *name = archive_entry_pathname(ent);
      size_t nlen = name ? strlen(name) : 0;
      bool legacy = nlen > 10 && streq(name + nlen - 10, "/layer.tar");
      bool blob = name && str_has_prefix(name, "blobs/sha256/");
      if (archive_entry_filetype(ent) != AE_IFREG || !(legacy || blob))
        continue;
      if (blob) { /* named by its digest: only the fresh ones are read */
        cleanup_free char *dg = xasprintf("sha256:%s", name + 13);
        if (!strv_contains(&fresh, dg))
          continue;
      }
      struct inner in = { .outer = outer, .md = EVP_MD_CTX_new() };
      if (!in.md || EVP_DigestInit_ex(in.md, EVP_sha256(), NULL) != 1)
        abort(); /* out of memory */
      layers = xrealloc(layers, (nl + 1) * sizeof(*layers));
      struct layer_findings *lf = &layers[nl++];
      memset(lf, 0, sizeof(*lf));
      scan_layer(&in, lf, allow, res, file, ADR_SCAN_FILE_MAX);
      /* the rest of the entry, for its digest */
      char sink[65536];
      la_ssize_t n;
      while ((n = archive_read_data(outer, sink, sizeof(sink))) > 0)
        EVP_DigestUpdate(in.md, sink, (size_t)n);
      unsigned char md[EVP_MAX_MD_SIZE];
      unsigned mdl = 0;
      EVP_DigestFinal_ex(in.md, md, &mdl);
      EVP_MD_CTX_free(in.md);
      memcpy(lf->digest, "sha256:", 7);
      for (unsigned i = 0; i < mdl && i < 32; i++)
        snprintf(lf->digest + 7 + 2 * i, 3, "%02x", md[i]);
      res->layers++;
    }
    if (hr != ARCHIVE_EOF)
      ret = adr_err_set(err, EIO, "scan image '%s': %s", image, archive_error_string(outer));
  }
  archive_read_free(outer);
  close(pfd[0]); /* a saver still writing stops */
  pthread_join(th, NULL);
  if (ret == 0 && sv.ret < 0) {
    adr_err_move(err, &sv.err);
    ret = adr_err_prefix(err, "save image '%s'", image);
  }
  adr_err_free(&sv.err);
  adr_engine_close(own);
  free(file);
  /* the findings of the fresh layers only */
  for (size_t i = 0; i < nl; i++) {
    bool keep = ret == 0 && strv_contains(&fresh, layers[i].digest);
    for (size_t j = 0; j < layers[i].n; j++) {
      if (keep) {
        res->v = xrealloc(res->v, (res->n + 1) * sizeof(*res->v));
        res->v[res->n++] = layers[i].v[j];
      } else {
        free(layers[i].v[j].path);
      }
    }
    free(layers[i].v);
  }
  free(layers);
  return ret;
}

/* ------------------------------------------------------------ Dockerfiles */

char *adr_dockerfile_base(const char *df, const struct strv *args)
{
  cleanup_strv struct strv defaults = { 0 }, stages = { 0 };
  char *base = NULL;
  cleanup_free char *copy = xstrdup(df);
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ' || *line == '\t')
      line++;
    if (strncasecmp(line, "ARG ", 4) == 0 && !base) { /* global ARGs: before the first FROM */
      char *kv = line + 4;
      while (*kv == ' ')
        kv++;
      kv[strcspn(kv, " \t\r")] = '\0';
      if (strchr(kv, '='))
        strv_push(&defaults, kv);
      continue;
    }
    if (strncasecmp(line, "FROM ", 5) != 0)
      continue;
    cleanup_strv struct strv w = { 0 };
    char *s2 = NULL;
    for (char *t = strtok_r(line + 5, " \t\r", &s2); t; t = strtok_r(NULL, " \t\r", &s2))
      if (!str_has_prefix(t, "--"))
        strv_push(&w, t);
    if (!w.n)
      continue;
    /* ${NAME} and $NAME from the build args, then the ARGs' defaults */
    const char *ref = w.v[0];
    char *val = NULL;
    if (ref[0] == '$') {
      const char *n0 = ref[1] == '{' ? ref + 2 : ref + 1;
      size_t nl = strcspn(n0, "}");
      for (size_t pass = 0; pass < 2 && !val; pass++) {
        const struct strv *src = pass == 0 ? args : &defaults;
        for (size_t i = 0; src && i < src->n && !val; i++)
          if (strncmp(src->v[i], n0, nl) == 0 && src->v[i][nl] == '=')
            val = xstrdup(src->v[i] + nl + 1);
      }
    } else if (!strchr(ref, '$')) {
      val = xstrdup(ref);
    }
    free(base);
    base = val; /* NULL: cannot be told */
    if (base && (strv_contains(&stages, base) || streq(base, "scratch"))) {
      free(base);
      base = NULL;
    }
    if (w.n >= 3 && strcasecmp(w.v[1], "AS") == 0)
      strv_push(&stages, w.v[2]);
  }
  return base;
}

/* ------------------------------------------------------------ builds */

int adr_image_build_scanned(struct adr_engine *e, const struct adr_build_req *req, const char *dockerfile_text,
                            const struct strv *allow, adr_build_cb cb, void *ud, char **image_id, adr_err *err)
{
  struct adr_build_req untagged = *req;
  untagged.tag = NULL;
  cleanup_free char *id = NULL;
  if (adr_engine_image_build(e, &untagged, cb, ud, &id, err) < 0)
    return -1;
  cleanup_free char *base = dockerfile_text ? adr_dockerfile_base(dockerfile_text, &req->build_args) : NULL;
  struct adr_scan_result res;
  if (adr_image_scan(e, id, base, allow, &res, err) < 0) {
    cleanup_err adr_err ignored = NULL;
    adr_engine_image_remove(e, id, &ignored); /* not left behind unnamed */
    return adr_err_prefix(err, "scan %s", req->tag ? req->tag : id);
  }
  if (res.n) {
    cleanup_err adr_err ignored = NULL;
    adr_engine_image_remove(e, id, &ignored);
    adr_err_set(err, EACCES,
                "image '%s': %s in %s%s; not tagged (ADR_SCAN_ALLOW=%s in your configuration if it belongs there)",
                req->tag ? req->tag : id, res.v[0].what, res.v[0].path, res.n > 1 ? " (and more)" : "", res.v[0].path);
    adr_scan_result_free(&res);
    return -1;
  }
  adr_scan_result_free(&res);
  if (req->tag) {
    cleanup_free char *repo = xstrdup(req->tag);
    char *colon = strrchr(repo, ':');
    const char *tag = "latest";
    if (colon && !strchr(colon, '/')) {
      *colon = '\0';
      tag = colon + 1;
    }
    if (adr_engine_image_tag(e, id, repo, tag, err) < 0)
      return adr_err_prefix(err, "tag %s", req->tag);
  }
  if (image_id)
    *image_id = TAKE_PTR(id);
  return 0;
}
