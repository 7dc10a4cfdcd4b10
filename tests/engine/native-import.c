/* The native engine's image store (src/engine/native/store.h) against what
 * a real engine exports: the image (ADR_CONFORMANCE_IMAGE, default
 * debian:bookworm-slim) saved through the Engine API and imported.  Its
 * layers must be the engine's own (the same diff IDs, each checked against
 * the content), its tag must resolve, /bin/sh must be in it, and a second
 * import must find everything there. */
#include "engine.h"
#include "store.h"
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

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_import_from_engine),
  };
  return cmocka_run_group_tests_name("native image store, from the engine", tests, NULL, NULL);
}
