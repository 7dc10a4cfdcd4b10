/* Unit tests for the native engine's image store (store.h): a docker-archive
 * made here with libarchive is imported; layers land under their own
 * digests with overlayfs whiteouts; what would leave a layer, or lies about
 * its digest, is refused and leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "registry.h"
#include "store.h"
#include "tmpdir.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct ent {
  const char *name;
  char type; /* f file, d dir, l symlink, h hardlink, c char device */
  const char *data;
};

/* a tar of the entries, in memory */
static void tar_of(const struct ent *v, size_t n, struct buf *out)
{
  /* the layers' UTF-8 names written as a C.UTF-8 process would (the
   * store must read them whatever the reader's locale: this test's is C) */
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
  assert_non_null(utf8);
  locale_t old = uselocale(utf8);
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  size_t cap = 1 << 20, used = 0;
  char *mem = xmalloc(cap);
  assert_int_equal(archive_write_open_memory(a, mem, cap, &used), ARCHIVE_OK);
  for (size_t i = 0; i < n; i++) {
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, v[i].name);
    archive_entry_set_mtime(e, 1700000000, 0);
    switch (v[i].type) {
    case 'd':
      archive_entry_set_filetype(e, AE_IFDIR);
      archive_entry_set_perm(e, 0755);
      break;
    case 'l':
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, v[i].data);
      archive_entry_set_perm(e, 0777);
      break;
    case 'h':
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, v[i].data);
      break;
    case 'c':
      archive_entry_set_filetype(e, AE_IFCHR);
      archive_entry_set_rdev(e, makedev(1, 3));
      archive_entry_set_perm(e, 0666);
      break;
    default:
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, (la_int64_t)strlen(v[i].data));
    }
    assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
    if (v[i].type == 'f')
      archive_write_data(a, v[i].data, strlen(v[i].data));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  buf_init(out, 0);
  buf_append(out, mem, used);
  free(mem);
  uselocale(old);
  freelocale(utf8);
}

static void sha(const void *p, size_t n, char hex[65])
{
  unsigned char md[32];
  unsigned l = 0;
  EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static const struct ent layer1[] = {
  { "etc/", 'd', NULL },
  { "etc/hello", 'f', "one\n" },
  { "etc/gone", 'f', "x" },
  { "etc/hello2", 'h', "etc/hello" },
  { "opt/", 'd', NULL },
  { "opt/a", 'f', "a" },
  { "lib", 'l', "usr/lib" },
  { "etc/caf\xc3\xa9", 'f', "utf-8 name" },
  { "etc/l\xc3\xa9", 'l', "caf\xc3\xa9" },
};
static const struct ent layer2[] = {
  { "etc/.wh.gone", 'f', "" }, { "opt/.wh..wh..opq", 'f', "" }, { "opt/b", 'f', "b" },
  { "dev/null", 'c', NULL },   { "new/deep/.wh.x", 'f', "" },
};

static void gzip_of(const struct buf *in, struct buf *out)
{
  struct archive *a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  size_t cap = 1 << 20, used = 0;
  char *mem = xmalloc(cap);
  assert_int_equal(archive_write_open_memory(a, mem, cap, &used), ARCHIVE_OK);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, in->data, in->len);
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  buf_init(out, 0);
  buf_append(out, mem, used);
  free(mem);
}

/* An archive of one image of the given layers; names: OCI blobs, or the
 * legacy ID/layer.tar; lie: the second layer named for another digest. */
static char *archive_of(const struct ent *const *layers, const size_t *nl, size_t n, bool legacy, bool lie, bool gz,
                        bool oci)
{
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  char *path = xasprintf("%s/img-%d-%d-%d-%d.tar", dir, legacy, lie, gz, oci);
  assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
  json_t *diff = json_array(), *lnames = json_array();
  for (size_t i = 0; i < n; i++) {
    struct buf t;
    tar_of(layers[i], nl[i], &t);
    char hex[65];
    sha(t.data, t.len, hex);
    json_array_append_new(diff, json_sprintf("sha256:%s", hex));
    if (gz) { /* the blob gzip-compressed, named by that: its diff ID stays the tar's */
      struct buf z;
      gzip_of(&t, &z);
      buf_free(&t);
      t = z;
      sha(t.data, t.len, hex);
    }
    cleanup_free char *name =
      legacy ? xasprintf("%zu/layer.tar", i)
             : xasprintf("blobs/sha256/%s",
                         lie && i == 1 ? "0000000000000000000000000000000000000000000000000000000000000000" : hex);
    json_array_append_new(lnames, json_string(name));
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)t.len);
    archive_write_header(a, e);
    archive_write_data(a, t.data, t.len);
    archive_entry_free(e);
    buf_free(&t);
  }
  json_t *cfg = json_pack("{s:{s:s, s:o}, s:{s:[s], s:[s], s:s, s:s}}", "rootfs", "type", "layers", "diff_ids", diff,
                          "config", "Env", "PATH=/usr/bin", "Cmd", "sh", "WorkingDir", "/w", "User", "1000");
  char *ct = json_dumps(cfg, JSON_COMPACT);
  char chex[65];
  sha(ct, strlen(ct), chex);
  cleanup_free char *cname = xasprintf("blobs/sha256/%s", chex);
  json_t *man =
    json_pack("[{s:s, s:[s], s:o}]", "Config", cname, "RepoTags", "example.internal/img:1", "Layers", lnames);
  char *mt = json_dumps(man, JSON_COMPACT);
  const char *names[] = { cname, "manifest.json", NULL };
  const char *texts[] = { ct, mt, NULL };
  cleanup_free char *oman = NULL, *oidx = NULL, *omname = NULL;
  if (oci) { /* an OCI layout alone: index.json -> manifest blob -> config, layers */
    json_t *om = json_object(), *ls = json_array(), *x;
    size_t k;
    json_object_set_new(om, "config", json_pack("{s:s+}", "digest", "sha256:", cname + 13));
    json_array_foreach (lnames, k, x)
      json_array_append_new(ls, json_pack("{s:s+}", "digest", "sha256:", json_string_value(x) + 13));
    json_object_set_new(om, "layers", ls);
    oman = json_dumps(om, JSON_COMPACT);
    json_decref(om);
    char mhex[65];
    sha(oman, strlen(oman), mhex);
    omname = xasprintf("blobs/sha256/%s", mhex);
    json_t *ix = json_pack("{s:[{s:s+, s:{s:s}}]}", "manifests", "digest", "sha256:", omname + 13, "annotations",
                           "io.containerd.image.name", "example.internal/img:1");
    oidx = json_dumps(ix, JSON_COMPACT);
    json_decref(ix);
    names[1] = omname;
    texts[1] = oman;
    names[2] = "index.json";
    texts[2] = oidx;
  }
  for (int i = 0; i < 3 && names[i]; i++) { /* after the layers, as docker writes them */
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, names[i]);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)strlen(texts[i]));
    archive_write_header(a, e);
    archive_write_data(a, texts[i], strlen(texts[i]));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  free(ct);
  free(mt);
  json_decref(cfg);
  json_decref(man);
  return path;
}

static int import(struct adr_nstore *s, const char *path, struct strv *ids, adr_err *err)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  int r = adr_nstore_import(s, fd, ids, err);
  close(fd);
  return r;
}

static int setup(void **state)
{
  (void)state;
  return tmp_make("adr-nstore");
}

static int teardown(void **state)
{
  (void)state;
  return tmp_remove();
}

/* nothing but finished layers in ROOT/layers/sha256, no tmp-* in ROOT/layers */
static size_t layers_in(const char *root)
{
  cleanup_free char *ld = xasprintf("%s/layers", root);
  DIR *d = opendir(ld);
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    assert_false(str_has_prefix(de->d_name, "tmp-"));
  closedir(d);
  cleanup_free char *sd = xasprintf("%s/layers/sha256", root);
  d = opendir(sd);
  size_t n = 0;
  while ((de = readdir(d)) != NULL)
    n += de->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_import(void **state)
{
  (void)state;
  const struct ent *ls[] = { layer1, layer2 };
  size_t nl[] = { ARRAY_SIZE(layer1), ARRAY_SIZE(layer2) };
  for (int legacy = 0; legacy < 2; legacy++) {
    cleanup_free char *root = xasprintf("%s/store-%d", dir, legacy);
    cleanup_free char *path = archive_of(ls, nl, 2, legacy, false, false, false);
    struct adr_nstore s;
    adr_err err = NULL;
    assert_int_equal(adr_nstore_open(&s, root, &err), 0);
    struct strv ids = { 0 };
    if (import(&s, path, &ids, &err) < 0)
      print_error("%s\n", err->msg);
    assert_int_equal(ids.n, 1);
    assert_int_equal(layers_in(s.root), 2);
    struct adr_nimage im;
    assert_int_equal(adr_nstore_image(&s, "example.internal/img:1", &im, &err), 0);
    assert_string_equal(im.id, ids.v[0]);
    assert_int_equal(im.layers.n, 2);
    assert_string_equal(im.env.v[0], "PATH=/usr/bin");
    assert_string_equal(im.cmd.v[0], "sh");
    assert_string_equal(im.workdir, "/w");
    assert_string_equal(im.user, "1000");
    /* the bottom layer: files, a hard link, a symlink */
    cleanup_free char *l1 = adr_nstore_layer_dir(&s, im.layers.v[0]), *l2 = adr_nstore_layer_dir(&s, im.layers.v[1]);
    cleanup_free char *hello = xasprintf("%s/etc/hello", l1), *hello2 = xasprintf("%s/etc/hello2", l1),
                      *lib = xasprintf("%s/lib", l1);
    struct stat a, b;
    assert_int_equal(stat(hello, &a), 0);
    assert_int_equal(stat(hello2, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    /* UTF-8 names (pax), whatever the process's locale */
    cleanup_free char *cafe = xasprintf("%s/etc/caf\xc3\xa9", l1);
    assert_int_equal(lstat(cafe, &a), 0);
    char target[64] = "";
    assert_int_equal(readlink(lib, target, sizeof(target) - 1), 7);
    assert_string_equal(target, "usr/lib");
    /* the top layer: whiteouts as overlayfs has them, no device node */
    cleanup_free char *gone = xasprintf("%s/etc/gone", l2), *wh = xasprintf("%s/etc/.wh.gone", l2),
                      *opt = xasprintf("%s/opt", l2), *null = xasprintf("%s/dev/null", l2),
                      *deep = xasprintf("%s/new/deep/x", l2);
    assert_int_equal(lstat(gone, &a), 0);
    assert_true(S_ISCHR(a.st_mode));
    assert_int_equal(a.st_rdev, makedev(0, 0));
    assert_int_equal(lstat(deep, &a), 0);
    assert_true(S_ISCHR(a.st_mode));
    assert_int_equal(lstat(wh, &a), -1);
    assert_int_equal(lstat(null, &a), -1);
    char v[4] = "";
    assert_int_equal(getxattr(opt, "user.overlay.opaque", v, sizeof(v)), 1);
    assert_int_equal(v[0], 'y');
    if (s.root_user)
      assert_int_equal(getxattr(opt, "trusted.overlay.opaque", v, sizeof(v)), 1);
    adr_nimage_free(&im);
    /* again: nothing new, the same image */
    struct strv again = { 0 };
    assert_int_equal(import(&s, path, &again, &err), 0);
    assert_string_equal(again.v[0], ids.v[0]);
    assert_int_equal(layers_in(s.root), 2);
    assert_int_equal(adr_nstore_image(&s, "example.internal/img:2", &im, &err), 1);
    strv_free(&again);
    strv_free(&ids);
    adr_nstore_close(&s);
  }
}

/* OCI archives may hold gzip layers: stored under the diff ID, checked
 * against the blob's own digest */
static void test_gzip_layers(void **state)
{
  (void)state;
  const struct ent *ls[] = { layer1, layer2 };
  size_t nl[] = { ARRAY_SIZE(layer1), ARRAY_SIZE(layer2) };
  cleanup_free char *root = xasprintf("%s/gz", dir), *path = archive_of(ls, nl, 2, false, false, true, false);
  cleanup_free char *plain = archive_of(ls, nl, 2, false, false, false, false);
  struct adr_nstore s;
  adr_err err = NULL;
  assert_int_equal(adr_nstore_open(&s, root, &err), 0);
  struct strv ids = { 0 };
  if (import(&s, path, &ids, &err) < 0)
    fail_msg("%s", err->msg);
  struct adr_nimage im;
  assert_int_equal(adr_nstore_image(&s, ids.v[0], &im, &err), 0);
  cleanup_free char *l1 = adr_nstore_layer_dir(&s, im.layers.v[0]), *hello = xasprintf("%s/etc/hello", l1);
  struct stat st;
  assert_int_equal(stat(hello, &st), 0);
  adr_nimage_free(&im);
  /* an OCI layout alone (index.json, a manifest blob), gzip layers: the same image */
  cleanup_free char *oci = archive_of(ls, nl, 2, false, false, true, true);
  struct strv oids = { 0 };
  if (import(&s, oci, &oids, &err) < 0)
    fail_msg("%s", err->msg);
  assert_string_equal(oids.v[0], ids.v[0]);
  assert_int_equal(adr_nstore_image(&s, "example.internal/img:1", &im, &err), 0);
  strv_free(&oids);
  /* the same layers uncompressed: the same diff IDs, nothing new */
  assert_int_equal(import(&s, plain, NULL, &err), 0);
  assert_int_equal(layers_in(s.root), 2);
  adr_nimage_free(&im);
  strv_free(&ids);
  adr_nstore_close(&s);
}

static void test_refused(void **state)
{
  (void)state;
  static const struct ent dotdot[] = { { "etc/", 'd', NULL }, { "../escape", 'f', "x" } };
  static const struct ent abs_link[] = { { "hl", 'h', "../../etc/passwd" } };
  static const struct {
    const struct ent *v;
    size_t n;
    const char *want;
  } cases[] = {
    { dotdot, ARRAY_SIZE(dotdot), "entry '../escape' leaves the layer" },
    { abs_link, ARRAY_SIZE(abs_link), "links outside the layer" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    cleanup_free char *root = xasprintf("%s/bad-%zu", dir, i);
    const struct ent *ls[] = { cases[i].v };
    size_t nl[] = { cases[i].n };
    cleanup_free char *path = archive_of(ls, nl, 1, false, false, false, false);
    struct adr_nstore s;
    adr_err err = NULL;
    assert_int_equal(adr_nstore_open(&s, root, &err), 0);
    int r = import(&s, path, NULL, &err);
    if (r == 0)
      print_error("case %zu: accepted\n", i);
    assert_int_equal(r, -1);
    if (!strstr(err->msg, cases[i].want))
      print_error("case %zu: %s\n", i, err->msg);
    assert_non_null(strstr(err->msg, cases[i].want));
    adr_err_free(&err);
    assert_int_equal(layers_in(s.root), 0);
    adr_nstore_close(&s);
  }
  /* a file written through a symlink the layer made: the symlink goes, the
   * file lands in the layer, nothing outside */
  {
    cleanup_free char *outside = xasprintf("%s/outside", dir), *root = xasprintf("%s/through", dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    struct ent through[] = { { "x", 'l', outside }, { "x/evil", 'f', "x" } };
    const struct ent *ls[] = { through };
    size_t nl[] = { ARRAY_SIZE(through) };
    cleanup_free char *path = archive_of(ls, nl, 1, false, false, false, false);
    struct adr_nstore s;
    adr_err err = NULL;
    assert_int_equal(adr_nstore_open(&s, root, &err), 0);
    struct strv ids = { 0 };
    assert_int_equal(import(&s, path, &ids, &err), 0);
    struct adr_nimage im;
    assert_int_equal(adr_nstore_image(&s, ids.v[0], &im, &err), 0);
    cleanup_free char *l = adr_nstore_layer_dir(&s, im.layers.v[0]);
    cleanup_free char *in = xasprintf("%s/x/evil", l), *out = xasprintf("%s/evil", outside);
    struct stat st;
    assert_int_equal(lstat(in, &st), 0);
    assert_int_equal(lstat(out, &st), -1);
    adr_nimage_free(&im);
    strv_free(&ids);
    adr_nstore_close(&s);
  }
  /* a layer whose name lies about its digest */
  const struct ent *ls[] = { layer1, layer2 };
  size_t nl[] = { ARRAY_SIZE(layer1), ARRAY_SIZE(layer2) };
  cleanup_free char *root = xasprintf("%s/lie", dir);
  cleanup_free char *path = archive_of(ls, nl, 2, false, true, false, false);
  struct adr_nstore s;
  adr_err err = NULL;
  assert_int_equal(adr_nstore_open(&s, root, &err), 0);
  assert_int_equal(import(&s, path, NULL, &err), -1);
  assert_non_null(strstr(err->msg, "not the sha256:0000"));
  adr_err_free(&err);
  assert_int_equal(layers_in(s.root), 1); /* the honest one stays: content-addressed */
  adr_nstore_close(&s);
}

/* Registry references: the registry is always named; tag, digest and the
 * default tag; what is not a name, tag or host is refused. */
static void test_registry_refs(void **state)
{
  (void)state;
  static const struct {
    const char *in, *host, *name, *tag;
  } ok[] = {
    { "127.0.0.1:5000/a/b:v1", "127.0.0.1:5000", "a/b", "v1" },
    { "localhost/x", "localhost", "x", "latest" },
    { "reg.example.internal/org/img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "reg.example.internal", "org/img", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
    { "reg.example.internal:443/deep/er/name:1.2-rc_3", "reg.example.internal:443", "deep/er/name", "1.2-rc_3" },
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    char *h = NULL, *n = NULL, *t = NULL;
    adr_err err = NULL;
    assert_int_equal(adr_registry_parse_ref(ok[i].in, &h, &n, &t, &err), 0);
    assert_string_equal(h, ok[i].host);
    assert_string_equal(n, ok[i].name);
    assert_string_equal(t, ok[i].tag);
    free(h);
    free(n);
    free(t);
  }
  static const char *const bad[] = { "debian",
                                     "coding-agent/pi",
                                     "/x",
                                     "reg.example.internal/",
                                     "reg.example.internal/UPPER",
                                     "reg.example.internal/a:b c",
                                     "reg.example.internal/a:",
                                     "reg.example.internal/a@sha256:0123",
                                     "reg.example.internal/a@sha512:00" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *h = NULL, *n = NULL, *t = NULL;
    adr_err err = NULL;
    assert_int_equal(adr_registry_parse_ref(bad[i], &h, &n, &t, &err), -1);
    assert_non_null(strstr(err->msg, bad[i]));
    assert_null(h);
    adr_err_free(&err);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_import, setup, teardown),
    cmocka_unit_test_setup_teardown(test_gzip_layers, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    cmocka_unit_test(test_registry_refs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
