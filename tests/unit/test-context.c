/* Build contexts from directories: .dockerignore, the archive, its digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "context.h"
#include "tmpdir.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void put(const char *rel, const char *text)
{
  char *p = tmp_put(rel, text);
  assert_non_null(p);
  free(p);
}

static int setup(void **state)
{
  (void)state;
  return tmp_make("test-context");
}

static int teardown(void **state)
{
  (void)state;
  return tmp_remove();
}

static void test_ignore(void **state)
{
  (void)state;
  struct adr_ignore ig;
  adr_ignore_parse("# comment\n node_modules \n*.log\n!important.log\n/build/\ndocs/**/*.tmp\n**/secret\n./a/../c\n",
                   &ig);
  assert_int_equal(ig.pats.n, 7);
  assert_string_equal(ig.pats.v[3], "build");
  assert_string_equal(ig.pats.v[6], "c");
  assert_true(adr_ignore_match(&ig, "node_modules"));
  assert_true(adr_ignore_match(&ig, "node_modules/x/y.js")); /* a parent matches */
  assert_false(adr_ignore_match(&ig, "src/node_modules"));   /* patterns are from the root */
  assert_true(adr_ignore_match(&ig, "x.log"));
  assert_false(adr_ignore_match(&ig, "sub/x.log")); /* '*' is one level */
  assert_false(adr_ignore_match(&ig, "important.log"));
  assert_true(adr_ignore_match(&ig, "build/out.o"));
  assert_true(adr_ignore_match(&ig, "docs/a/b/c.tmp"));
  assert_true(adr_ignore_match(&ig, "docs/c.tmp")); /* ** is zero or more */
  assert_true(adr_ignore_match(&ig, "deep/down/secret"));
  assert_true(adr_ignore_match(&ig, "secret"));
  assert_false(adr_ignore_match(&ig, "main.c"));
  adr_ignore_free(&ig);
}

/* the names in a tar, sorted, joined by spaces */
static int by_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *sorted_names(const struct buf *tar)
{
  struct archive *a = archive_read_new();
  archive_read_support_format_all(a);
  assert_int_equal(archive_read_open_memory(a, tar->data, tar->len), ARCHIVE_OK);
  struct strv v = { 0 };
  struct archive_entry *e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK)
    strv_push(&v, archive_entry_pathname(e));
  archive_read_free(a);
  qsort(v.v, v.n, sizeof(char *), by_str);
  char *s = strv_join(&v, " ");
  strv_free(&v);
  return s;
}

static void test_context(void **state)
{
  (void)state;
  put("Dockerfile", "FROM scratch\n");
  put("main.c", "int main;\n");
  put("x.log", "noise\n");
  put("important.log", "kept\n");
  put("node_modules/a/index.js", "x\n");
  put(".dockerignore", "node_modules\n*.log\n!important.log\n");
  put(".devcontainer/Dockerfile", "FROM debian\n");
  cleanup_free char *df = xasprintf("%s/Dockerfile", dir);
  struct buf tar;
  char *dfn = NULL, *dg = NULL;
  adr_err err = NULL;
  if (adr_context_from_dir(dir, df, &tar, &dfn, &dg, &err) < 0)
    fail_msg("%s", err->msg);
  assert_string_equal(dfn, "Dockerfile");
  cleanup_free char *n = sorted_names(&tar);
  assert_string_equal(n, ".devcontainer/ .devcontainer/Dockerfile .dockerignore Dockerfile important.log main.c");
  /* the same files: the same digest; a change: another */
  struct buf tar2;
  char *dfn2 = NULL, *dg2 = NULL;
  assert_int_equal(adr_context_from_dir(dir, df, &tar2, &dfn2, &dg2, &err), 0);
  assert_string_equal(dg, dg2);
  assert_int_equal(strlen(dg), 64);
  buf_free(&tar2);
  free(dfn2);
  free(dg2);
  put("x.log", "ignored: no change\n");
  assert_int_equal(adr_context_from_dir(dir, df, &tar2, &dfn2, &dg2, &err), 0);
  assert_string_equal(dg, dg2);
  buf_free(&tar2);
  free(dfn2);
  free(dg2);
  put("main.c", "int main(void) { return 0; }\n");
  assert_int_equal(adr_context_from_dir(dir, df, &tar2, &dfn2, &dg2, &err), 0);
  assert_string_not_equal(dg, dg2);
  buf_free(&tar2);
  free(dfn2);
  free(dg2);
  /* a Dockerfile outside the context is added under a name of its own */
  cleanup_free char *sub = xasprintf("%s/.devcontainer", dir), *outer = xasprintf("%s/Dockerfile", dir);
  put(".devcontainer/app/file", "f\n");
  assert_int_equal(adr_context_from_dir(sub, outer, &tar2, &dfn2, &dg2, &err), 0);
  assert_string_equal(dfn2, ".adr-dockerfile");
  cleanup_free char *n2 = sorted_names(&tar2);
  assert_string_equal(n2, ".adr-dockerfile Dockerfile app/ app/file");
  buf_free(&tar2);
  free(dfn2);
  free(dg2);
  buf_free(&tar);
  free(dfn);
  free(dg);
  /* errors name the culprit */
  cleanup_free char *nodir = xasprintf("%s/nope", dir);
  assert_int_equal(adr_context_from_dir(nodir, df, &tar2, &dfn2, &dg2, &err), -1);
  cleanup_free char *want = xasprintf("build context '%s': not a directory", nodir);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
  assert_int_equal(adr_context_from_dir(dir, nodir, &tar2, &dfn2, &dg2, &err), -1);
  cleanup_free char *want2 = xasprintf("Dockerfile '%s': not a file", nodir);
  assert_string_equal(err->msg, want2);
  adr_err_free(&err);
}

/* the stamp: the same tree the same stamp; any change to a file in the
 * context (content, a new file, the outer Dockerfile) another, even with
 * the mtime set back; files the .dockerignore leaves out do not count */
static char *stamp_of(const char *d, const char *df)
{
  char *st = NULL;
  adr_err err = NULL;
  if (adr_context_stamp(d, df, &st, &err) < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(strlen(st), 64);
  return st;
}

static void test_stamp(void **state)
{
  (void)state;
  put("Dockerfile", "FROM scratch\n");
  put("main.c", "int main;\n");
  put("x.log", "noise\n");
  put(".dockerignore", "*.log\n");
  cleanup_free char *df = xasprintf("%s/Dockerfile", dir), *mainc = xasprintf("%s/main.c", dir);
  cleanup_free char *s0 = stamp_of(dir, df), *s1 = stamp_of(dir, df);
  assert_string_equal(s0, s1);
  put("x.log", "ignored: no change\n");
  cleanup_free char *s2 = stamp_of(dir, df);
  assert_string_equal(s0, s2);
  /* the same size, the mtime set back: the ctime still tells */
  struct stat before;
  assert_int_equal(stat(mainc, &before), 0);
  put("main.c", "int mai2;\n");
  struct timespec ts[2] = { before.st_atim, before.st_mtim };
  assert_int_equal(utimensat(AT_FDCWD, mainc, ts, 0), 0);
  cleanup_free char *s3 = stamp_of(dir, df);
  assert_string_not_equal(s0, s3);
  put("new.c", "\n");
  cleanup_free char *s4 = stamp_of(dir, df);
  assert_string_not_equal(s3, s4);
  /* a Dockerfile outside the context counts too */
  cleanup_free char *sub = xasprintf("%s/.devcontainer", dir);
  put(".devcontainer/app", "a\n");
  cleanup_free char *o1 = stamp_of(sub, df);
  put("Dockerfile", "FROM scratch\nRUN true\n");
  cleanup_free char *o2 = stamp_of(sub, df);
  assert_string_not_equal(o1, o2);
  /* errors as the archive's */
  cleanup_free char *nodir = xasprintf("%s/nope", dir);
  char *st = NULL;
  adr_err err = NULL;
  assert_int_equal(adr_context_stamp(nodir, df, &st, &err), -1);
  assert_null(st);
  cleanup_free char *want = xasprintf("build context '%s': not a directory", nodir);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_ignore),
    cmocka_unit_test_setup_teardown(test_context, setup, teardown),
    cmocka_unit_test_setup_teardown(test_stamp, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
