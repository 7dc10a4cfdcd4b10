/* The native engine's image store (src/engine/native/store.h) against what
 * a real engine exports: the image (ADR_CONFORMANCE_IMAGE, default
 * debian:bookworm-slim) saved through the Engine API and imported.  Its
 * layers must be the engine's own (the same diff IDs, each checked against
 * the content), its tag must resolve, /bin/sh must be in it, and a second
 * import must find everything there. */
#include "engine.h"
#include "store.h"
#include "tarball.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static void test_import_from_engine(void **state)
{
  (void)state;
  adr_err err = NULL;
  struct adr_engine *e = NULL;
  cleanup_free char *ep = adr_engine_endpoint(&err);
  if (!ep || adr_engine_open(&e, ep, &err) < 0)
    fail_msg("no engine: %s", err ? err->msg : "?");
  const char *image = getenv("ADR_CONFORMANCE_IMAGE");
  if (!image || !*image)
    image = "debian:bookworm-slim";
  struct adr_image info = { 0 };
  if (adr_engine_image_inspect(e, image, &info, &err) != 0)
    fail_msg("image %s: %s", image, err ? err->msg : "not in the engine");
  char dir[] = "/tmp/adr-native-import.XXXXXX";
  assert_non_null(mkdtemp(dir));
  cleanup_free char *tar = xasprintf("%s/image.tar", dir), *root = xasprintf("%s/store", dir);
  int fd = open(tar, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  assert_true(fd >= 0);
  if (adr_engine_image_save(e, image, fd, &err) < 0)
    fail_msg("save %s: %s", image, err->msg);
  struct adr_nstore s;
  assert_int_equal(adr_nstore_open(&s, root, &err), 0);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    struct strv ids = { 0 };
    if (adr_nstore_import(&s, fd, &ids, &err) < 0)
      fail_msg("import (round %d): %s", round, err->msg);
    assert_true(ids.n >= 1);
    struct adr_nimage im;
    assert_int_equal(adr_nstore_image(&s, image, &im, &err), 0);
    assert_string_equal(im.id, info.id);
    assert_int_equal(im.layers.n, info.layers.n);
    for (size_t i = 0; i < im.layers.n; i++)
      assert_string_equal(im.layers.v[i], info.layers.v[i]);
    bool sh = false;
    for (size_t i = 0; i < im.layers.n; i++) {
      cleanup_free char *l = adr_nstore_layer_dir(&s, im.layers.v[i]);
      cleanup_free char *a = xasprintf("%s/bin/sh", l), *b = xasprintf("%s/usr/bin/sh", l);
      struct stat st;
      sh = sh || lstat(a, &st) == 0 || lstat(b, &st) == 0;
    }
    assert_true(sh);
    adr_nimage_free(&im);
    strv_free(&ids);
  }
  close(fd);
  adr_nstore_close(&s);
  adr_image_free(&info);
  adr_engine_close(e);
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* ADR_ENGINE=native adr build: a Docker engine that answers builds, and
 * the image is in the native store at once; a rebuild replaces the tag's
 * image there.  With no engine to build: what to do instead. */
static int build_one(struct adr_engine *n, const char *tag, const char *label, char **id, adr_err *err)
{
  cleanup_free char *df = xasprintf("FROM debian:bookworm-slim\nLABEL adr.test.build=%s\n", label);
  struct adr_tar *t = adr_tar_new();
  struct buf ctx;
  buf_init(&ctx, 0);
  if (adr_tar_add(t, "Dockerfile", df, strlen(df), 0644, err) < 0 || adr_tar_finish(t, &ctx, err) < 0) {
    adr_tar_free(t);
    return -1;
  }
  adr_tar_free(t);
  struct adr_build_req req = {
    .tag = tag, .context_tar = ctx.data, .context_len = ctx.len, .dockerfile = "Dockerfile"
  };
  int r = adr_engine_image_build(n, &req, NULL, NULL, id, err);
  buf_free(&ctx);
  return r;
}

static void test_build_through_docker(void **state)
{
  (void)state;
  adr_err err = NULL;
  char dir[] = "/tmp/adr-native-build.XXXXXX";
  assert_non_null(mkdtemp(dir));
  struct adr_engine *n = NULL;
  if (adr_engine_open_as(&n, "native", dir, &err) < 0)
    fail_msg("native: %s", err->msg);
  cleanup_free char *tag = xasprintf("adr-native-build-test/%d:1", (int)getpid());
  cleanup_free char *id1 = NULL, *id2 = NULL;
  if (build_one(n, tag, "one", &id1, &err) < 0)
    fail_msg("build: %s", err->msg);
  struct adr_image im = { 0 };
  assert_int_equal(adr_engine_image_inspect(n, tag, &im, &err), 0);
  cleanup_free char *first = xstrdup(im.id);
  adr_image_free(&im);
  if (build_one(n, tag, "two", &id2, &err) < 0)
    fail_msg("rebuild: %s", err->msg);
  assert_int_equal(adr_engine_image_inspect(n, tag, &im, &err), 0);
  assert_string_not_equal(im.id, first); /* the tag's new image, not the old one */
  adr_image_free(&im);
  /* the Docker engine's, as it built them (the control: it has the tag) */
  struct adr_engine *d = NULL;
  cleanup_free char *ep = adr_engine_endpoint(&err);
  assert_non_null(ep);
  assert_int_equal(adr_engine_open_as(&d, "docker", ep, &err), 0);
  assert_int_equal(adr_engine_image_inspect(d, tag, &im, &err), 0);
  adr_image_free(&im);
  cleanup_free char *rmi = xasprintf("docker rmi -f '%s' >/dev/null 2>&1", tag);
  assert_int_equal(system(rmi), 0);
  adr_engine_close(d);
  adr_engine_close(n);

  /* no engine answers: one message that says what to do */
  char *old = getenv("DOCKER_HOST") ? xstrdup(getenv("DOCKER_HOST")) : NULL;
  setenv("DOCKER_HOST", "unix:///nonexistent/adr-no-engine.sock", 1);
  assert_int_equal(adr_engine_open_as(&n, "native", dir, &err), 0);
  cleanup_free char *id3 = NULL;
  assert_int_equal(build_one(n, tag, "three", &id3, &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  assert_non_null(strstr(err->msg, "no Docker or Podman engine answers"));
  assert_non_null(strstr(err->msg, "adr image import"));
  adr_err_free(&err);
  adr_engine_close(n);
  if (old)
    setenv("DOCKER_HOST", old, 1);
  else
    unsetenv("DOCKER_HOST");
  free(old);
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_import_from_engine),
    cmocka_unit_test(test_build_through_docker),
  };
  return cmocka_run_group_tests_name("native image store, from the engine", tests, NULL, NULL);
}
