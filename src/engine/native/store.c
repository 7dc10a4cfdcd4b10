/* The native engine's image store (store.h). */
#include "store.h"
#include "jsonv.h"
#include "buf.h"
#include "fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <locale.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define JSON_MAX (4u << 20) /* a manifest or config kept in memory */
#define WH ".wh."
#define WH_OPAQUE ".wh..wh..opq"

void adr_nimage_free(struct adr_nimage *im)
{
  free(im->id);
  strv_free(&im->layers);
  strv_free(&im->env);
  strv_free(&im->entrypoint);
  strv_free(&im->cmd);
  free(im->workdir);
  free(im->user);
  memset(im, 0, sizeof(*im));
}

int adr_nstore_open(struct adr_nstore *s, const char *root, adr_err *err)
{
  memset(s, 0, sizeof(*s));
  static const char *const subs[] = { "layers/sha256", "images", "tags" };
  for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
    cleanup_free char *d = xasprintf("%s/%s", root, subs[i]);
    if (adr_mkdir_p(d, 0700, err) < 0)
      return -1;
  }
  /* resolved: extraction refuses a symlink anywhere on a path */
  s->root = realpath(root, NULL);
  if (!s->root)
    return adr_err_sys(err, errno, "store '%s'", root);
  s->root_user = geteuid() == 0;
  return 0;
}

void adr_nstore_close(struct adr_nstore *s)
{
  free(s->root);
  s->root = NULL;
}

char *adr_nstore_layer_dir(const struct adr_nstore *s, const char *diff_id)
{
  const char *hex = str_has_prefix(diff_id, "sha256:") ? diff_id + 7 : diff_id;
  return xasprintf("%s/layers/sha256/%s", s->root, hex);
}

static bool hex64(const char *s)
{
  size_t n = 0;
  for (; s[n]; n++)
    if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
      return false;
  return n == 64;
}

static void hex_of(const unsigned char *md, char out[65])
{
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *w)
{
  (void)st;
  (void)w;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 32, FTW_DEPTH | FTW_PHYS); }

/* ---------------------------------------------------------------- a layer */

/* A layer blob, read through the outer archive in two stages: raw (the
 * blob as stored: the bytes already peeked first, then the rest; its
 * SHA-256 is the digest it is named for) decompressed by libarchive when
 * it is gzip or zstd, and the tar read from that (its SHA-256 is the diff
 * ID the layer is stored under). */
struct inner {
  struct archive *outer, *raw;
  EVP_MD_CTX *blob, *diff;
  const char *pre;
  size_t npre;
  char buf[65536], dbuf[65536];
};

static la_ssize_t raw_read(struct archive *a, void *ud, const void **out)
{
  (void)a;
  struct inner *in = ud;
  if (in->npre) {
    *out = in->pre;
    la_ssize_t n = (la_ssize_t)in->npre;
    EVP_DigestUpdate(in->blob, in->pre, in->npre);
    in->npre = 0;
    return n;
  }
  la_ssize_t n = archive_read_data(in->outer, in->buf, sizeof(in->buf));
  if (n > 0)
    EVP_DigestUpdate(in->blob, in->buf, (size_t)n);
  *out = in->buf;
  return n < 0 ? -1 : n;
}

static la_ssize_t inner_read(struct archive *a, void *ud, const void **out)
{
  (void)a;
  struct inner *in = ud;
  la_ssize_t n = archive_read_data(in->raw, in->dbuf, sizeof(in->dbuf));
  if (n > 0)
    EVP_DigestUpdate(in->diff, in->dbuf, (size_t)n);
  *out = in->dbuf;
  return n < 0 ? -1 : n;
}

static void digest_hex(EVP_MD_CTX *m, char hex[65])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdl = 0;
  EVP_DigestFinal_ex(m, md, &mdl);
  EVP_MD_CTX_free(m);
  hex_of(md, hex);
}

/* a path inside the layer: relative, no ".." component */
static bool rel_ok(const char *p)
{
  if (!p || !*p || p[0] == '/')
    return false;
  for (const char *c = p; *c;) {
    size_t n = strcspn(c, "/");
    if (n == 2 && c[0] == '.' && c[1] == '.')
      return false;
    c += n;
    while (*c == '/')
      c++;
  }
  return true;
}

/* The directory dir/rel opened without following a symlink or leaving dir */
static int open_beneath(int dirfd, const char *rel)
{
  struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                          .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
  return (int)syscall(SYS_openat2, dirfd, *rel ? rel : ".", &how, sizeof(how));
}

/* dir/rel's directories, made one by one, none through a symlink */
static int mkdirs_beneath(int top, const char *rel)
{
  cleanup_free char *p = xstrdup(rel);
  for (char *c = p;; c++) {
    if (*c != '/' && *c)
      continue;
    char was = *c;
    *c = '\0';
    if (*p && mkdirat(top, p, 0755) < 0 && errno != EEXIST)
      return -1;
    int fd = open_beneath(top, p);
    if (fd < 0)
      return -1;
    close(fd);
    if (!was)
      return 0;
    *c = '/';
  }
}

/* ".wh.NAME" -> a whiteout at NAME; ".wh..wh..opq" -> its directory opaque */
static int whiteout(const struct adr_nstore *s, int top, const char *name, adr_err *err)
{
  cleanup_free char *dir = xstrdup(name);
  char *slash = strrchr(dir, '/');
  const char *base = slash ? slash + 1 : dir;
  if (slash)
    *slash = '\0';
  else
    dir[0] = '\0';
  cleanup_free char *b = xstrdup(base);
  if (slash && mkdirs_beneath(top, dir) < 0)
    return adr_err_sys(err, errno, "whiteout '%s'", name);
  int fd = open_beneath(top, dir);
  if (fd < 0)
    return adr_err_sys(err, errno, "whiteout '%s'", name);
  int r;
  if (streq(b, WH_OPAQUE)) /* user.*: what overlayfs reads in a user namespace (userxattr); trusted.* too as root */
    r = fsetxattr(fd, "user.overlay.opaque", "y", 1, 0) < 0 ||
            (s->root_user && fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
          ? -1
          : 0;
  else
    r = mknodat(fd, b + strlen(WH), S_IFCHR | 0000, makedev(0, 0));
  int e = errno;
  close(fd);
  return r < 0 && e != EEXIST ? adr_err_sys(err, e, "whiteout '%s'", name) : 0;
}

static int unpack(const struct adr_nstore *s, struct inner *in, const char *tmp, adr_err *err)
{
  struct archive *a = archive_read_new();
  archive_read_support_format_tar(a);
  struct archive *w = archive_write_disk_new();
  int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_UNLINK;
  if (s->root_user)
    flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(w, flags);
  int top = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ret = 0;
  if (top < 0) {
    ret = adr_err_sys(err, errno, "open '%s'", tmp);
  } else if (archive_read_open(a, in, NULL, inner_read, NULL) != ARCHIVE_OK) {
    ret = adr_err_set(err, EINVAL, "not a tar: %s", archive_error_string(a));
  } else {
    struct archive_entry *e;
    int hr;
    while (ret == 0 && (hr = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
      cleanup_free char *name = xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
      while (name[0] == '.' && name[1] == '/')
        memmove(name, name + 2, strlen(name + 2) + 1);
      size_t nl = strlen(name);
      while (nl > 1 && name[nl - 1] == '/')
        name[--nl] = '\0';
      if (streq(name, ".") || !*name)
        continue; /* the layer's root */
      if (!rel_ok(name)) {
        ret = adr_err_set(err, EPERM, "entry '%s' leaves the layer", name);
        break;
      }
      const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
      if (str_has_prefix(base, WH)) {
        ret = whiteout(s, top, name, err);
        continue;
      }
      mode_t ft = archive_entry_filetype(e);
      if (ft == AE_IFCHR || ft == AE_IFBLK || ft == AE_IFSOCK)
        continue; /* the runtime makes /dev */
      const char *hl = archive_entry_hardlink(e);
      cleanup_free char *hlp = NULL;
      if (hl) {
        cleanup_free char *h = xstrdup(hl);
        while (h[0] == '.' && h[1] == '/')
          memmove(h, h + 2, strlen(h + 2) + 1);
        if (!rel_ok(h)) {
          ret = adr_err_set(err, EPERM, "entry '%s' links outside the layer ('%s')", name, hl);
          break;
        }
        hlp = xasprintf("%s/%s", tmp, h);
        archive_entry_set_hardlink(e, hlp);
      }
      cleanup_free char *path = xasprintf("%s/%s", tmp, name);
      archive_entry_set_pathname(e, path);
      if (archive_write_header(w, e) != ARCHIVE_OK) {
        ret = adr_err_set(err, EIO, "entry '%s': %s", name, archive_error_string(w));
        break;
      }
      const void *blk;
      size_t sz;
      la_int64_t off;
      int dr;
      while ((dr = archive_read_data_block(a, &blk, &sz, &off)) == ARCHIVE_OK)
        if (archive_write_data_block(w, blk, sz, off) != ARCHIVE_OK) {
          dr = ARCHIVE_FATAL;
          break;
        }
      if (dr != ARCHIVE_EOF || archive_write_finish_entry(w) != ARCHIVE_OK)
        ret = adr_err_set(err, EIO, "entry '%s': %s", name, archive_error_string(dr != ARCHIVE_EOF ? a : w));
    }
    if (ret == 0 && hr != ARCHIVE_EOF)
      ret = adr_err_set(err, EIO, "%s", archive_error_string(a));
  }
  if (top >= 0)
    close(top);
  archive_write_free(w); /* sets the directories' times and modes */
  archive_read_free(a);
  return ret;
}

/* One layer from the outer archive's current entry (pre: its first bytes,
 * already read): unpacked under its own digest in *hex; want: the digest
 * its name claims, checked. */
static int layer(const struct adr_nstore *s, struct archive *outer, const char *pre, size_t npre, const char *want,
                 const char *ename, char hex[65], adr_err *err)
{
  cleanup_free char *tmp = xasprintf("%s/layers/tmp-XXXXXX", s->root);
  if (!mkdtemp(tmp))
    return adr_err_sys(err, errno, "mkdtemp in '%s/layers'", s->root);
  chmod(tmp, 0755);
  struct inner *in = xcalloc(1, sizeof(*in));
  *in = (struct inner){ .outer = outer, .blob = EVP_MD_CTX_new(), .diff = EVP_MD_CTX_new(), .pre = pre, .npre = npre };
  if (!in->blob || !in->diff || EVP_DigestInit_ex(in->blob, EVP_sha256(), NULL) != 1 ||
      EVP_DigestInit_ex(in->diff, EVP_sha256(), NULL) != 1)
    abort(); /* out of memory */
  in->raw = archive_read_new();
  archive_read_support_filter_all(in->raw);
  archive_read_support_format_raw(in->raw);
  struct archive_entry *re;
  int r = 0;
  if (archive_read_open(in->raw, in, NULL, raw_read, NULL) != ARCHIVE_OK ||
      archive_read_next_header(in->raw, &re) != ARCHIVE_OK)
    r = adr_err_set(err, EINVAL, "not a layer: %s", archive_error_string(in->raw));
  else
    r = unpack(s, in, tmp, err);
  char sink[65536];
  la_ssize_t n;
  while (r == 0 && (n = archive_read_data(in->raw, sink, sizeof(sink))) > 0) /* the rest, for the digests */
    EVP_DigestUpdate(in->diff, sink, (size_t)n);
  while ((n = archive_read_data(outer, sink, sizeof(sink))) > 0)
    EVP_DigestUpdate(in->blob, sink, (size_t)n);
  archive_read_free(in->raw);
  char bhex[65];
  digest_hex(in->blob, bhex);
  digest_hex(in->diff, hex);
  free(in);
  if (r == 0 && want && !streq(want, bhex))
    r = adr_err_set(err, EINVAL, "its content is sha256:%s, not the sha256:%s it is named for", bhex, want);
  cleanup_free char *final = xasprintf("%s/layers/sha256/%s", s->root, hex);
  if (r == 0 && rename(tmp, final) < 0 && errno != EEXIST && errno != ENOTEMPTY)
    r = adr_err_sys(err, errno, "rename to '%s'", final);
  if (r < 0)
    adr_err_prefix(err, "layer '%s'", ename);
  rm_tree(tmp); /* gone after the rename; else what was unpacked */
  return r;
}

/* ---------------------------------------------------------------- images */

struct kept {
  struct strv names;  /* outer entries kept in memory (JSON) */
  struct strv texts;  /* their contents, same index */
  struct strv lnames; /* outer entries that were layers */
  struct strv lhex;   /* their digests, same index */
};

static void kept_free(struct kept *k)
{
  strv_free(&k->names);
  strv_free(&k->texts);
  strv_free(&k->lnames);
  strv_free(&k->lhex);
}

static const char *kept_get(const struct strv *names, const struct strv *vals, const char *name)
{
  for (size_t i = 0; i < names->n; i++)
    if (streq(names->v[i], name))
      return vals->v[i];
  return NULL;
}

static char *tag_file(const struct adr_nstore *s, const char *tag)
{
  struct buf b;
  buf_init(&b, 0);
  buf_printf(&b, "%s/tags/", s->root);
  for (const char *c = tag; *c; c++)
    if (*c == '/' || *c == '%')
      buf_printf(&b, "%%%02X", (unsigned char)*c);
    else
      buf_append(&b, c, 1);
  return buf_steal(&b);
}

int adr_nstore_tags(const struct adr_nstore *s, struct strv *tags)
{
  cleanup_free char *dir = xasprintf("%s/tags", s->root);
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : -1;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    /* tag_file's names undone: %2F is '/', %25 '%' */
    cleanup_free char *slashed = adr_str_replace(de->d_name, "%2F", "/");
    strv_push_take(tags, adr_str_replace(slashed, "%25", "%"));
  }
  closedir(d);
  return 0;
}

static bool tag_ok(const char *t)
{
  if (!*t || strlen(t) > 255)
    return false;
  for (const char *c = t; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("._-/:@", *c)))
      return false;
  return !strstr(t, "..");
}

/* One manifest.json item: its config checked against the layers read,
 * the image written. */
static int image(const struct adr_nstore *s, json_t *item, const struct kept *k, struct strv *ids, adr_err *err)
{
  const char *cfgname = json_string_value(json_object_get(item, "Config"));
  const char *cfg = cfgname ? kept_get(&k->names, &k->texts, cfgname) : NULL;
  if (!cfg)
    return adr_err_set(err, EINVAL, "manifest.json: config '%s' is not in the archive", cfgname ? cfgname : "?");
  unsigned char md[32];
  unsigned mdl = 0;
  EVP_Digest(cfg, strlen(cfg), md, &mdl, EVP_sha256(), NULL);
  char idhex[65];
  hex_of(md, idhex);
  json_error_t je;
  json_t *c = json_loads(cfg, 0, &je);
  if (!c)
    return adr_err_set(err, EINVAL, "config '%s': %s", cfgname, je.text);
  int ret = -1;
  cleanup_free char *path = NULL;
  json_t *diff = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
  json_t *layers = json_object_get(item, "Layers");
  if (!json_is_array(layers) || !json_is_array(diff) || json_array_size(layers) != json_array_size(diff)) {
    adr_err_set(err, EINVAL, "config '%s': its layers and the manifest's differ", cfgname);
    goto out;
  }
  struct adr_nimage im = { .id = xasprintf("sha256:%s", idhex) };
  size_t i;
  json_t *l;
  json_array_foreach (layers, i, l) {
    const char *hex = json_is_string(l) ? kept_get(&k->lnames, &k->lhex, json_string_value(l)) : NULL;
    const char *d = json_string_value(json_array_get(diff, i));
    if (!hex || !d || !str_has_prefix(d, "sha256:") || !streq(d + 7, hex)) {
      adr_err_set(err, EINVAL, "config '%s': layer %zu is %s%s, the archive's is %s", cfgname, i, d ? "" : "missing",
                  d ? d : "", hex ? hex : "missing");
      adr_nimage_free(&im);
      goto out;
    }
    strv_pushf(&im.layers, "sha256:%s", hex);
  }
  json_t *cc = json_object_get(c, "config");
  adr_strv_json(json_object_get(cc, "Env"), &im.env);
  adr_strv_json(json_object_get(cc, "Entrypoint"), &im.entrypoint);
  adr_strv_json(json_object_get(cc, "Cmd"), &im.cmd);
  json_t *rec = json_pack("{s:s, s:[], s:[], s:[], s:[], s:s, s:s}", "id", im.id, "layers", "env", "entrypoint", "cmd",
                          "workdir", json_string_value(json_object_get(cc, "WorkingDir")) ?: "", "user",
                          json_string_value(json_object_get(cc, "User")) ?: "");
  const struct strv *lists[] = { &im.layers, &im.env, &im.entrypoint, &im.cmd };
  const char *keys[] = { "layers", "env", "entrypoint", "cmd" };
  for (size_t k2 = 0; k2 < 4; k2++)
    for (size_t j = 0; j < lists[k2]->n; j++)
      json_array_append_new(json_object_get(rec, keys[k2]), json_string(lists[k2]->v[j]));
  char *text = json_dumps(rec, JSON_INDENT(2));
  json_decref(rec);
  path = xasprintf("%s/images/%s.json", s->root, idhex);
  int wr = write_file_atomic(path, text, strlen(text), 0600);
  free(text);
  if (wr < 0) {
    adr_err_sys(err, errno, "write '%s'", path);
    adr_nimage_free(&im);
    goto out;
  }
  json_t *tags = json_object_get(item, "RepoTags");
  json_array_foreach (tags, i, l) {
    const char *t = json_string_value(l);
    if (!t || !tag_ok(t))
      continue;
    cleanup_free char *tf = tag_file(s, t);
    if (write_file_atomic(tf, im.id, strlen(im.id), 0600) < 0) {
      adr_err_sys(err, errno, "write '%s'", tf);
      adr_nimage_free(&im);
      goto out;
    }
  }
  if (ids)
    strv_push(ids, im.id);
  adr_nimage_free(&im);
  ret = 0;
out:
  json_decref(c);
  return ret;
}

static json_t *kept_json(const struct kept *k, const char *digest)
{
  if (!digest || !str_has_prefix(digest, "sha256:") || !hex64(digest + 7))
    return NULL;
  cleanup_free char *name = xasprintf("blobs/sha256/%s", digest + 7);
  const char *t = kept_get(&k->names, &k->texts, name);
  return t ? json_loads(t, 0, NULL) : NULL;
}

/* An OCI image layout's index.json as docker's manifest.json would say it
 * (one item per image; an image index: this machine's platform), or NULL */
static char *oci_manifests(const struct kept *k)
{
  const char *idx = kept_get(&k->names, &k->texts, "index.json");
  json_t *index = idx ? json_loads(idx, 0, NULL) : NULL;
  if (!index)
    return NULL;
#if defined(__aarch64__)
  const char *arch = "arm64";
#else
  const char *arch = "amd64";
#endif
  json_t *out = json_array();
  size_t i;
  json_t *d;
  json_array_foreach (json_object_get(index, "manifests"), i, d) {
    json_t *m = kept_json(k, json_string_value(json_object_get(d, "digest")));
    json_t *ann = json_object_get(d, "annotations");
    if (m && json_object_get(m, "manifests")) { /* an image index: the platform's manifest */
      json_t *pick = NULL, *x;
      size_t j;
      json_array_foreach (json_object_get(m, "manifests"), j, x) {
        json_t *pl = json_object_get(x, "platform");
        const char *a = json_string_value(json_object_get(pl, "architecture"));
        const char *os = json_string_value(json_object_get(pl, "os"));
        if (!pick && a && os && streq(a, arch) && streq(os, "linux"))
          pick = kept_json(k, json_string_value(json_object_get(x, "digest")));
      }
      json_decref(m);
      m = pick;
    }
    const char *cfg = m ? json_string_value(json_object_get(json_object_get(m, "config"), "digest")) : NULL;
    if (!cfg || !str_has_prefix(cfg, "sha256:")) {
      json_decref(m);
      continue;
    }
    json_t *item = json_object(), *layers = json_array(), *tags = json_array(), *l;
    json_object_set_new(item, "Config", json_sprintf("blobs/sha256/%s", cfg + 7));
    size_t j;
    json_array_foreach (json_object_get(m, "layers"), j, l) {
      const char *ld = json_string_value(json_object_get(l, "digest"));
      if (ld && str_has_prefix(ld, "sha256:"))
        json_array_append_new(layers, json_sprintf("blobs/sha256/%s", ld + 7));
    }
    const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
    if (!name)
      name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
    if (name)
      json_array_append_new(tags, json_string(name));
    json_object_set_new(item, "Layers", layers);
    json_object_set_new(item, "RepoTags", tags);
    json_array_append_new(out, item);
    json_decref(m);
  }
  json_decref(index);
  char *text = json_array_size(out) ? json_dumps(out, JSON_COMPACT) : NULL;
  json_decref(out);
  return text;
}

static int import(struct adr_nstore *s, int fd, struct strv *ids, adr_err *err);

/* Names in layers are UTF-8 (pax headers): libarchive converts them to the
 * current locale's charset, so the import runs in C.UTF-8 (this thread
 * only), whatever locale the process has. */
int adr_nstore_import(struct adr_nstore *s, int fd, struct strv *ids, adr_err *err)
{
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;
  int r = import(s, fd, ids, err);
  if (utf8) {
    uselocale(old);
    freelocale(utf8);
  }
  return r;
}

static int import(struct adr_nstore *s, int fd, struct strv *ids, adr_err *err)
{
  struct archive *outer = archive_read_new();
  archive_read_support_format_tar(outer);
  struct kept k = { 0 };
  cleanup_free char *manifest = NULL;
  int ret = 0;
  if (archive_read_open_fd(outer, fd, 65536) != ARCHIVE_OK) {
    ret = adr_err_set(err, EINVAL, "not an image archive: %s", archive_error_string(outer));
    goto out;
  }
  struct archive_entry *e;
  int hr;
  while (ret == 0 && (hr = archive_read_next_header(outer, &e)) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) != AE_IFREG)
      continue;
    cleanup_free char *name = xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
    char pre[512];
    la_ssize_t got = 0, n;
    while (got < (la_ssize_t)sizeof(pre) && (n = archive_read_data(outer, pre + got, sizeof(pre) - (size_t)got)) > 0)
      got += n;
    if (got > 0 && (pre[0] == '{' || pre[0] == '[')) { /* JSON: a manifest, a config, an index */
      struct buf b;
      buf_init(&b, JSON_MAX);
      buf_append(&b, pre, (size_t)got);
      char chunk[65536];
      while ((n = archive_read_data(outer, chunk, sizeof(chunk))) > 0)
        if (buf_append(&b, chunk, (size_t)n) < 0)
          break;
      if (!b.overflow && b.data && !memchr(b.data, 0, b.len)) {
        if (streq(name, "manifest.json"))
          manifest = buf_steal(&b);
        else {
          strv_push(&k.names, name);
          strv_push_take(&k.texts, buf_steal(&b));
        }
      }
      buf_free(&b);
      continue;
    }
    bool tar = got >= 262 && memcmp(pre + 257, "ustar", 5) == 0;
    bool gz = got >= 2 && (unsigned char)pre[0] == 0x1f && (unsigned char)pre[1] == 0x8b;
    bool zst = got >= 4 && memcmp(pre, "\x28\xb5\x2f\xfd", 4) == 0;
    if (!tar && !gz && !zst)
      continue; /* neither JSON nor a (compressed) tar: nothing an image is made of */
    const char *claimed = str_has_prefix(name, "blobs/sha256/") && hex64(name + 13) ? name + 13 : NULL;
    if (claimed && tar) { /* named by its digest, which is its diff ID: already here, nothing to unpack */
      cleanup_free char *have = xasprintf("%s/layers/sha256/%s", s->root, claimed);
      struct stat st;
      if (stat(have, &st) == 0) {
        strv_push(&k.lnames, name);
        strv_push(&k.lhex, claimed);
        continue;
      }
    }
    char hex[65];
    if (layer(s, outer, pre, (size_t)got, claimed, name, hex, err) < 0) {
      ret = -1;
      break;
    }
    strv_push(&k.lnames, name);
    strv_push(&k.lhex, hex);
  }
  if (ret == 0 && hr != ARCHIVE_EOF)
    ret = adr_err_set(err, EIO, "image archive: %s", archive_error_string(outer));
  if (ret == 0 && !manifest)
    manifest = oci_manifests(&k); /* an OCI layout without docker's manifest.json */
  if (ret == 0 && !manifest)
    ret = adr_err_set(err, EINVAL, "image archive: neither manifest.json nor an OCI index.json with an image");
  if (ret == 0) {
    json_error_t je;
    json_t *m = json_loads(manifest, 0, &je);
    if (!json_is_array(m))
      ret = adr_err_set(err, EINVAL, "manifest.json: %s", m ? "not an array" : je.text);
    size_t i;
    json_t *item;
    json_array_foreach (m, i, item)
      if (ret == 0 && image(s, item, &k, ids, err) < 0)
        ret = -1;
    json_decref(m);
  }
out:
  archive_read_free(outer);
  kept_free(&k);
  return ret;
}

int adr_nstore_image(const struct adr_nstore *s, const char *ref, struct adr_nimage *im, adr_err *err)
{
  memset(im, 0, sizeof(*im));
  cleanup_free char *id = NULL;
  const char *hex = str_has_prefix(ref, "sha256:") ? ref + 7 : NULL;
  if (!hex) {
    if (!tag_ok(ref))
      return adr_err_set(err, EINVAL, "'%s' is not an image name", ref);
    cleanup_free char *tf = tag_file(s, ref);
    struct buf b;
    buf_init(&b, 128);
    if (buf_read_file(&b, tf) < 0) {
      int e = errno;
      buf_free(&b);
      return e == ENOENT ? 1 : adr_err_sys(err, e, "read '%s'", tf);
    }
    id = buf_steal(&b);
    if (!str_has_prefix(id, "sha256:"))
      return adr_err_set(err, EINVAL, "tag file '%s' is damaged", tf);
    hex = id + 7;
  }
  if (!hex64(hex))
    return adr_err_set(err, EINVAL, "'%s' is not an image ID", ref);
  cleanup_free char *path = xasprintf("%s/images/%s.json", s->root, hex);
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  if (!j)
    return access(path, F_OK) < 0 ? 1 : adr_err_set(err, EINVAL, "%s: %s", path, je.text);
  im->id = xstrdup(json_string_value(json_object_get(j, "id")) ?: "");
  adr_strv_json(json_object_get(j, "layers"), &im->layers);
  adr_strv_json(json_object_get(j, "env"), &im->env);
  adr_strv_json(json_object_get(j, "entrypoint"), &im->entrypoint);
  adr_strv_json(json_object_get(j, "cmd"), &im->cmd);
  im->workdir = xstrdup(json_string_value(json_object_get(j, "workdir")) ?: "");
  im->user = xstrdup(json_string_value(json_object_get(j, "user")) ?: "");
  json_decref(j);
  return 0;
}
