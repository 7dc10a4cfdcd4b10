/* Unit tests for fmt.h (sizes, ages, uptimes, tables) and buf.h (bounded
 * buffers, line splitting, atomic writes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "fmt.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *make_tmpdir(void)
{
  const char *t = getenv("TMPDIR");
  char *tmpl = xasprintf("%s/adr-test-fmt.XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(tmpl));
  return tmpl;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* ---------------------------------------------------------------- fmt */

static void test_fmt_size(void **state)
{
  (void)state;
  static const struct {
    int64_t b;
    const char *want;
  } cases[] = {
    { 0, "0B" },
    { 1, "1B" },
    { 999, "999B" },
    { 1000, "1.00kB" },
    { 1500, "1.50kB" },
    { 12345, "12.3kB" },
    { 123456, "123kB" },
    { 1000000, "1.00MB" },
    { 705000000, "705MB" },
    { 705123456, "705MB" },
    { 1234567890, "1.23GB" },
    { 1000000000000LL, "1.00TB" },
    { 1000000000000000LL, "1000TB" },
    { -5, "-5B" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *s = adr_fmt_size(cases[i].b);
    if (strcmp(s, cases[i].want) != 0)
      fail_msg("fmt_size(%lld) = %s, want %s", (long long)cases[i].b, s, cases[i].want);
    free(s);
  }
}

static void test_fmt_age(void **state)
{
  (void)state;
  const time_t now = 1700000000;
  static const struct {
    int64_t ago;
    const char *want;
  } cases[] = {
    { 0, "just now" },
    { 1, "just now" },
    { 30, "less than a minute ago" },
    { 59, "less than a minute ago" },
    { 60, "a minute ago" },
    { 119, "a minute ago" },
    { 120, "2 minutes ago" },
    { 3599, "59 minutes ago" },
    { 3600, "an hour ago" },
    { 7200, "2 hours ago" },
    { 86399, "23 hours ago" },
    { 86400, "a day ago" },
    { 2 * 86400, "2 days ago" },
    { 7 * 86400, "a week ago" },
    { 20 * 86400, "2 weeks ago" },
    { 30 * 86400, "a month ago" },
    { 90 * 86400, "3 months ago" },
    { 365 * 86400, "a year ago" },
    { 3 * 365 * 86400, "3 years ago" },
    { -500, "just now" }, /* clock skew: in the future */
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *s = adr_fmt_age(now - cases[i].ago, now);
    if (strcmp(s, cases[i].want) != 0)
      fail_msg("fmt_age(%lld s ago) = %s, want %s", (long long)cases[i].ago, s, cases[i].want);
    free(s);
  }
  char *s = adr_fmt_age(0, now);
  assert_string_equal(s, "unknown");
  free(s);
}

static void test_fmt_uptime(void **state)
{
  (void)state;
  const time_t now = 1700000000;
  static const struct {
    int64_t up;
    const char *want;
  } cases[] = {
    { 0, "0s" },
    { 59, "59s" },
    { 60, "1m" },
    { 3599, "59m" },
    { 3600, "1h00m" },
    { 3 * 3600 + 12 * 60 + 5, "3h12m" },
    { 86399, "23h59m" },
    { 86400, "1d00h" },
    { 86400 + 2 * 3600 + 59, "1d02h" },
    { 400 * 86400LL, "400d00h" },
    { -10, "0s" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *s = adr_fmt_uptime(now - cases[i].up, now);
    if (strcmp(s, cases[i].want) != 0)
      fail_msg("fmt_uptime(%lld) = %s, want %s", (long long)cases[i].up, s, cases[i].want);
    free(s);
  }
}

static void test_table(void **state)
{
  (void)state;
  static const char *const hdr[] = { "AGENT", "SIZE", "CREATED" };
  struct adr_table t;
  adr_table_init(&t, 3, hdr);
  const char *r1[] = { "claude", "705MB", "2 days ago" };
  const char *r2[] = { "pi", NULL, "just now" };
  adr_table_add(&t, r1);
  adr_table_add(&t, r2);
  assert_int_equal(t.nrows, 3);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  adr_table_print(&t, f);
  fclose(f);
  assert_string_equal(text,
                      "AGENT    SIZE    CREATED\n"
                      "claude   705MB   2 days ago\n"
                      "pi               just now\n");
  free(text);
  adr_table_free(&t);
  assert_null(t.cells);
}

/* buf_put_sh_word: what sh reads back is the string, and the bound holds */
static void test_buf_sh_word(void **state)
{
  (void)state;
  static const char *const words[] = { "", "plain", "it's", "''", "a b\tc\n$HOME `id` \\ \"q\" ;|&*?", "'x'y'" };
  for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "printf %s ");
    assert_int_equal(buf_put_sh_word(&b, words[i]), 0);
    FILE *f = popen(b.data, "r");
    assert_non_null(f);
    char got[256] = "";
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = 0;
    assert_int_equal(pclose(f), 0);
    assert_string_equal(got, words[i]);
    buf_free(&b);
  }
  struct buf b;
  buf_init(&b, 0);
  buf_put_sh_word(&b, "a'b");
  assert_string_equal(b.data, "'a'\\''b'");
  buf_free(&b);
  buf_init(&b, 6);
  assert_int_equal(buf_put_sh_word(&b, "a'b"), -1);
  assert_true(b.overflow);
  buf_free(&b);
}

/* ---------------------------------------------------------------- buf */

static void test_buf_bounded(void **state)
{
  (void)state;
  struct buf b;
  buf_init(&b, 10);
  assert_int_equal(buf_append(&b, "abcdef", 6), 0);
  assert_false(b.overflow);
  assert_int_equal(buf_append(&b, "12345", 5), -1);
  assert_true(b.overflow);
  assert_int_equal(b.len, 6);
  assert_string_equal(b.data, "abcdef");
  /* up to the limit exactly is fine */
  assert_int_equal(buf_append(&b, "1234", 4), 0);
  assert_int_equal(b.len, 10);
  assert_string_equal(b.data, "abcdef1234");
  assert_int_equal(buf_append(&b, "x", 1), -1);
  assert_int_equal(buf_append(&b, "", 0), 0);
  assert_int_equal(buf_puts(&b, "y"), -1);
  assert_int_equal(buf_printf(&b, "%d", 7), -1);
  /* a size that would wrap around */
  assert_int_equal(buf_append(&b, "x", SIZE_MAX), -1);
  assert_int_equal(b.len, 10);
  buf_consume(&b, 4);
  assert_string_equal(b.data, "ef1234");
  assert_int_equal(b.len, 6);
  buf_consume(&b, 100);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.data, "");
  buf_reset(&b);
  assert_false(b.overflow);
  assert_int_equal(buf_printf(&b, "%s-%03d", "n", 7), 0);
  assert_string_equal(b.data, "n-007");
  buf_free(&b);
  assert_null(b.data);
}

static void test_buf_unbounded_and_steal(void **state)
{
  (void)state;
  struct buf b;
  buf_init(&b, 0);
  char *s = buf_steal(&b);
  assert_non_null(s);
  assert_string_equal(s, "");
  free(s);
  char chunk[1000];
  memset(chunk, 'q', sizeof(chunk));
  for (int i = 0; i < 1000; i++)
    assert_int_equal(buf_append(&b, chunk, sizeof(chunk)), 0);
  assert_int_equal(b.len, 1000000);
  assert_int_equal(b.data[b.len], '\0');
  s = buf_steal(&b);
  assert_int_equal(strlen(s), 1000000);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  free(s);
}

/* ------------------------------------------------------- line splitter */

struct lines {
  struct strv v;
  int fail_on; /* return -1 on this line number (1-based), 0 = never */
};

static int line_cb_collect(const char *line, size_t len, void *ud)
{
  struct lines *l = ud;
  assert_int_equal(strlen(line), len); /* NUL-terminated at len */
  strv_push_take(&l->v, xstrndup(line, len));
  if (l->fail_on && (int)l->v.n == l->fail_on)
    return -1;
  return 0;
}

static void test_line_splitter(void **state)
{
  (void)state;
  struct lines l = { { 0 }, 0 };
  struct line_splitter ls;
  line_splitter_init(&ls, 64, line_cb_collect, &l);
  static const char *const chunks[] = { "ab", "c\nde", "f\r\ng\n", "\n", "", "par", "t1\r", "\npart2\n", "tail" };
  for (size_t i = 0; i < ARRAY_SIZE(chunks); i++)
    assert_int_equal(line_splitter_feed(&ls, chunks[i], strlen(chunks[i])), 0);
  assert_int_equal(l.v.n, 6);
  assert_string_equal(l.v.v[0], "abc");
  assert_string_equal(l.v.v[1], "def");
  assert_string_equal(l.v.v[2], "g");
  assert_string_equal(l.v.v[3], "");
  assert_string_equal(l.v.v[4], "part1");
  assert_string_equal(l.v.v[5], "part2");
  assert_int_equal(line_splitter_finish(&ls), 0);
  assert_int_equal(l.v.n, 7);
  assert_string_equal(l.v.v[6], "tail");
  /* nothing pending: finish does nothing */
  assert_int_equal(line_splitter_finish(&ls), 0);
  assert_int_equal(l.v.n, 7);
  line_splitter_free(&ls);
  strv_free(&l.v);
}

static void test_line_splitter_byte_by_byte(void **state)
{
  (void)state;
  struct lines l = { { 0 }, 0 };
  struct line_splitter ls;
  line_splitter_init(&ls, 16, line_cb_collect, &l);
  const char *s = "one\r\ntwo\n\nthree";
  for (const char *p = s; *p; p++)
    assert_int_equal(line_splitter_feed(&ls, p, 1), 0);
  assert_int_equal(line_splitter_finish(&ls), 0);
  assert_int_equal(l.v.n, 4);
  assert_string_equal(l.v.v[0], "one");
  assert_string_equal(l.v.v[1], "two");
  assert_string_equal(l.v.v[2], "");
  assert_string_equal(l.v.v[3], "three");
  line_splitter_free(&ls);
  strv_free(&l.v);
}

static void test_line_splitter_limit(void **state)
{
  (void)state;
  struct lines l = { { 0 }, 0 };
  struct line_splitter ls;
  /* exactly max_line is fine */
  line_splitter_init(&ls, 4, line_cb_collect, &l);
  assert_int_equal(line_splitter_feed(&ls, "1234\nab\n", 8), 0);
  assert_int_equal(l.v.n, 2);
  line_splitter_free(&ls);
  strv_free(&l.v);

  /* one over in a single chunk: error, the callback gets nothing */
  line_splitter_init(&ls, 4, line_cb_collect, &l);
  assert_int_equal(line_splitter_feed(&ls, "12345\n", 6), -1);
  assert_int_equal(l.v.n, 0);
  line_splitter_free(&ls);

  /* one over across chunks, without a newline yet */
  line_splitter_init(&ls, 4, line_cb_collect, &l);
  assert_int_equal(line_splitter_feed(&ls, "ok\n12", 5), 0);
  assert_int_equal(line_splitter_feed(&ls, "3", 1), 0);
  assert_int_equal(line_splitter_feed(&ls, "45", 2), -1);
  assert_int_equal(l.v.n, 1);
  assert_string_equal(l.v.v[0], "ok");
  line_splitter_free(&ls);
  strv_free(&l.v);
}

static void test_line_splitter_cb_error(void **state)
{
  (void)state;
  struct lines l = { { 0 }, 2 };
  struct line_splitter ls;
  line_splitter_init(&ls, 100, line_cb_collect, &l);
  assert_int_equal(line_splitter_feed(&ls, "a\nb\nc\n", 6), -1);
  assert_int_equal(l.v.n, 2);
  line_splitter_free(&ls);
  strv_free(&l.v);

  /* finish passes the callback's result on */
  struct lines l2 = { { 0 }, 1 };
  line_splitter_init(&ls, 100, line_cb_collect, &l2);
  assert_int_equal(line_splitter_feed(&ls, "last", 4), 0);
  assert_int_equal(line_splitter_finish(&ls), -1);
  assert_int_equal(l2.v.n, 1);
  assert_string_equal(l2.v.v[0], "last");
  line_splitter_free(&ls);
  strv_free(&l2.v);
}

/* ------------------------------------------------------ files, atomic */

static char *slurp(const char *path, size_t limit, int *err)
{
  struct buf b;
  buf_init(&b, limit);
  if (buf_read_file(&b, path) < 0) {
    *err = errno;
    buf_free(&b);
    return NULL;
  }
  *err = 0;
  return buf_steal(&b);
}

static size_t count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  assert_non_null(d);
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
      n++;
  closedir(d);
  return n;
}

static void test_write_file_atomic(void **state)
{
  (void)state;
  cleanup_free char *dir = make_tmpdir();
  cleanup_free char *path = xasprintf("%s/out.txt", dir);
  int e = 0;

  assert_int_equal(write_file_atomic(path, "hello\n", 6, 0600), 0);
  cleanup_free char *t1 = slurp(path, 0, &e);
  assert_string_equal(t1, "hello\n");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);

  /* replaced, with a new mode; umask does not apply */
  mode_t old = umask(077);
  assert_int_equal(write_file_atomic(path, "bye", 3, 0644), 0);
  umask(old);
  cleanup_free char *t2 = slurp(path, 0, &e);
  assert_string_equal(t2, "bye");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0644);

  /* empty content */
  assert_int_equal(write_file_atomic(path, "", 0, 0644), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, 0);
  cleanup_free char *t3 = slurp(path, 0, &e);
  assert_non_null(t3);
  assert_string_equal(t3, "");

  /* no temp files left */
  assert_int_equal(count_entries(dir), 1);

  /* failure: missing directory; nothing created */
  cleanup_free char *bad = xasprintf("%s/missing/out.txt", dir);
  errno = 0;
  assert_int_equal(write_file_atomic(bad, "x", 1, 0644), -1);
  assert_int_equal(errno, ENOENT);
  /* failure: target is a directory; the temp file is cleaned up */
  cleanup_free char *sub = xasprintf("%s/sub", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_int_equal(write_file_atomic(sub, "x", 1, 0644), -1);
  assert_int_equal(count_entries(dir), 2);
  rm_rf(dir);
}

static void test_buf_read_file(void **state)
{
  (void)state;
  cleanup_free char *dir = make_tmpdir();
  cleanup_free char *path = xasprintf("%s/data", dir);
  char big[20000];
  memset(big, 'b', sizeof(big));
  assert_int_equal(write_file_atomic(path, big, sizeof(big), 0644), 0);
  int e = 0;
  char *s = slurp(path, 0, &e);
  assert_non_null(s);
  assert_int_equal(strlen(s), sizeof(big));
  free(s);
  s = slurp(path, sizeof(big), &e);
  assert_non_null(s);
  free(s);
  s = slurp(path, sizeof(big) - 1, &e);
  assert_null(s);
  assert_int_equal(e, EFBIG);
  cleanup_free char *missing = xasprintf("%s/missing", dir);
  s = slurp(missing, 0, &e);
  assert_null(s);
  assert_int_equal(e, ENOENT);
  rm_rf(dir);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fmt_size),
    cmocka_unit_test(test_fmt_age),
    cmocka_unit_test(test_fmt_uptime),
    cmocka_unit_test(test_table),
    cmocka_unit_test(test_buf_bounded),
    cmocka_unit_test(test_buf_sh_word),
    cmocka_unit_test(test_buf_unbounded_and_steal),
    cmocka_unit_test(test_line_splitter),
    cmocka_unit_test(test_line_splitter_byte_by_byte),
    cmocka_unit_test(test_line_splitter_limit),
    cmocka_unit_test(test_line_splitter_cb_error),
    cmocka_unit_test(test_write_file_atomic),
    cmocka_unit_test(test_buf_read_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
