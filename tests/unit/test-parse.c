/* Unit tests for parse.h: KEY=VALUE files, scalars, env, mounts, paths,
 * models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "parse.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

/* Records every assignment as "LINE:KEY=VALUE" (or "LINE:KEY" when bare). */
static int collect_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  (void)err;
  struct strv *out = ud;
  if (value)
    strv_pushf(out, "%u:%s=%s", line, key, value);
  else
    strv_pushf(out, "%u:%s", line, key);
  return 0;
}

static int kv(const char *data, size_t len, unsigned flags, struct strv *out, adr_err *err)
{
  return adr_kv_parse(data, len, "f.env", flags, collect_cb, out, err);
}

/* Parses a whole string; asserts success and the exact list of assignments
 * (NULL-terminated).  Everything is freed before a failure is reported, so
 * that a failing check does not add leak reports under ASan. */
static void expect_kv(const char *data, unsigned flags, ...)
{
  struct strv out = { 0 };
  adr_err err = NULL;
  char why[512] = "";
  if (kv(data, strlen(data), flags, &out, &err) < 0) {
    snprintf(why, sizeof(why), "parse failed: %s", err ? err->msg : "?");
  } else {
    va_list ap;
    va_start(ap, flags);
    size_t i = 0;
    const char *want;
    while (!why[0] && (want = va_arg(ap, const char *)) != NULL) {
      if (i >= out.n)
        snprintf(why, sizeof(why), "missing assignment [%s]", want);
      else if (strcmp(out.v[i], want) != 0)
        snprintf(why, sizeof(why), "got [%s], want [%s]", out.v[i], want);
      i++;
    }
    va_end(ap);
    if (!why[0] && i != out.n)
      snprintf(why, sizeof(why), "unexpected extra assignment [%s]", out.v[i]);
  }
  adr_err_free(&err);
  strv_free(&out);
  if (why[0])
    fail_msg("parsing [%s]: %s", data, why);
}

/* Parses a string that must fail with exactly this message. */
static void expect_kv_error(const char *data, size_t len, unsigned flags, const char *msg)
{
  struct strv out = { 0 };
  adr_err err = NULL;
  char why[512] = "";
  if (kv(data, len, flags, &out, &err) == 0)
    snprintf(why, sizeof(why), "accepted");
  else if (err == NULL || strcmp(err->msg, msg) != 0)
    snprintf(why, sizeof(why), "message [%s], want [%s]", err ? err->msg : "(none)", msg);
  adr_err_free(&err);
  strv_free(&out);
  if (why[0])
    fail_msg("parsing [%.100s]: %s", data, why);
}

static char *make_tmpdir(void)
{
  const char *t = getenv("TMPDIR");
  char *tmpl = xasprintf("%s/adr-test-parse.XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(tmpl));
  /* realpath: TMPDIR may itself contain a symlink */
  char *real = realpath(tmpl, NULL);
  assert_non_null(real);
  free(tmpl);
  return real;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

/* ------------------------------------------------------------- adr_kv_parse */

static void test_kv_blank_and_comments(void **state)
{
  (void)state;
  expect_kv("", 0, NULL);
  expect_kv("\n\n\n", 0, NULL);
  expect_kv("   \n\t\n# comment\n   # indented comment\n\t#\n", 0, NULL);
  expect_kv("\n# c\n\nA=1\n\n# c\nB=2", 0, "4:A=1", "7:B=2", NULL);
}

static void test_kv_export(void **state)
{
  (void)state;
  expect_kv("export A=1\nexport\tB=2\nexport   C = 3 \n", 0, "1:A=1", "2:B=2", "3:C=3", NULL);
  /* "export" is only a prefix when followed by a blank */
  expect_kv("export=1\nexportX=2\n", 0, "1:export=1", "2:exportX=2", NULL);
  expect_kv("export A='q' # c\n", 0, "1:A=q", NULL);
  expect_kv("export K\n", ADR_KV_ALLOW_BARE, "1:K", NULL);
}

static void test_kv_unquoted(void **state)
{
  (void)state;
  expect_kv("A=hello world  # comment\n", 0, "1:A=hello world", NULL);
  expect_kv("A=a#b\n", 0, "1:A=a#b", NULL); /* '#' not after a blank */
  expect_kv("A=x\t# tab comment\n", 0, "1:A=x", NULL);
  expect_kv("A=   spaced   \n", 0, "1:A=spaced", NULL);
  expect_kv("A=\n", 0, "1:A=", NULL);
  expect_kv("A=   \n", 0, "1:A=", NULL);
  expect_kv("A=x=y=z\n", 0, "1:A=x=y=z", NULL);
  expect_kv("A = 1\n", 0, "1:A=1", NULL);
  expect_kv("  \tA=1\n", 0, "1:A=1", NULL);
  expect_kv("A=$HOME/x\n", 0, "1:A=$HOME/x", NULL);       /* no expansion */
  expect_kv("A=it's \"x\"\n", 0, "1:A=it's \"x\"", NULL); /* quotes mid-value are literal */
  expect_kv("_a1=1\n", 0, "1:_a1=1", NULL);
}

/* Documented grammar: 'surrounding blanks trimmed, " #" starts a comment'.
 * So `A= # comment` is an empty value, like in a shell or dotenv. */
static void test_kv_unquoted_comment_only(void **state)
{
  (void)state;
  expect_kv("A= # just a comment\n", 0, "1:A=", NULL);
  expect_kv("A=\t# tab, then a comment\n", 0, "1:A=", NULL);
  expect_kv("A=#not-a-comment\n", 0, "1:A=#not-a-comment", NULL);
  expect_kv("A=x#y # z\n", 0, "1:A=x#y", NULL);
}

static void test_kv_single_quotes(void **state)
{
  (void)state;
  expect_kv("A='literal $HOME \\n \\\\ \"dq\"'\n", 0, "1:A=literal $HOME \\n \\\\ \"dq\"", NULL);
  expect_kv("A='  padded  '\n", 0, "1:A=  padded  ", NULL);
  expect_kv("A=''\n", 0, "1:A=", NULL);
  expect_kv("A='x' # comment\n", 0, "1:A=x", NULL);
  expect_kv("A='x'   \n", 0, "1:A=x", NULL);
  expect_kv("A='a # b'\n", 0, "1:A=a # b", NULL);
  expect_kv("A=  'lead blanks before quote'\n", 0, "1:A=lead blanks before quote", NULL);
}

static void test_kv_double_quotes(void **state)
{
  (void)state;
  expect_kv("A=\"a\\\"b\\\\c\\$d\\ne\\tf\\`g\"\n", 0, "1:A=a\"b\\c$d\ne\tf`g", NULL);
  /* unknown escapes keep their backslash */
  expect_kv("A=\"\\q\\x41\"\n", 0, "1:A=\\q\\x41", NULL);
  expect_kv("A=\"\"\n", 0, "1:A=", NULL);
  expect_kv("A=\"it's # not a comment\"  # comment\n", 0, "1:A=it's # not a comment", NULL);
  expect_kv("A=\"  padded  \"\n", 0, "1:A=  padded  ", NULL);
  expect_kv("A=\"$HOME\"\n", 0, "1:A=$HOME", NULL);
}

static void test_kv_errors(void **state)
{
  (void)state;
  const char *s;
  s = "A=1\nNOEQUALS\n";
  expect_kv_error(s, strlen(s), 0, "f.env:2: missing '=' (expected KEY=VALUE)");
  s = "A=1\n\n  NOEQ  # comment\n";
  expect_kv_error(s, strlen(s), 0, "f.env:3: missing '=' (expected KEY=VALUE)");
  s = "1A=x\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: invalid key (letters, digits and '_', not starting with a digit)");
  s = "A-B=x\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: invalid key (letters, digits and '_', not starting with a digit)");
  s = "=x\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: missing key before '='");
  s = "A B=1\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: invalid key (expected KEY=VALUE)");
  s = "A=\"abc\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: unterminated double quote");
  s = "A=\"abc\\\"\n"; /* the escaped quote does not close */
  expect_kv_error(s, strlen(s), 0, "f.env:1: unterminated double quote");
  s = "A=\"multi\nline\"\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: unterminated double quote");
  s = "X=1\nA='abc\n";
  expect_kv_error(s, strlen(s), 0, "f.env:2: unterminated single quote");
  s = "A=\"x\"y\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: unexpected text after closing quote");
  s = "A='x' y\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: unexpected text after closing quote");
  s = "A='it''s'\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: unexpected text after closing quote");
  /* errors stop parsing: nothing after the bad line is reported */
  struct strv out = { 0 };
  adr_err err = NULL;
  s = "A=1\nB\nC=3\n";
  assert_true(kv(s, strlen(s), 0, &out, &err) < 0);
  assert_int_equal(out.n, 1);
  assert_string_equal(out.v[0], "1:A=1");
  assert_int_equal(err->errnum, EINVAL);
  adr_err_free(&err);
  strv_free(&out);
}

static void test_kv_nul_byte(void **state)
{
  (void)state;
  const char s[] = "A=1\nB=x\0y\n";
  expect_kv_error(s, sizeof(s) - 1, 0, "f.env: contains a NUL byte (not a text file?)");
  const char s2[] = "\0";
  expect_kv_error(s2, 1, ADR_KV_ALLOW_BARE, "f.env: contains a NUL byte (not a text file?)");
}

static void test_kv_long_line(void **state)
{
  (void)state;
  size_t n = ADR_KV_MAX_LINE + 64;
  char *s = xmalloc(n + 1);
  /* exactly ADR_KV_MAX_LINE bytes is fine */
  memcpy(s, "A=", 2);
  memset(s + 2, 'x', ADR_KV_MAX_LINE - 2);
  s[ADR_KV_MAX_LINE] = '\n';
  struct strv out = { 0 };
  adr_err err = NULL;
  assert_int_equal(kv(s, ADR_KV_MAX_LINE + 1, 0, &out, &err), 0);
  assert_int_equal(out.n, 1);
  strv_free(&out);
  /* one more byte is not */
  memcpy(s, "B=1\nA=", 6);
  memset(s + 6, 'x', ADR_KV_MAX_LINE - 1);
  expect_kv_error(s, 4 + ADR_KV_MAX_LINE + 1, 0, "f.env:2: line too long (over 65536 bytes)");
  free(s);
}

static void test_kv_crlf(void **state)
{
  (void)state;
  expect_kv("A=1\r\nB='x'\r\nC=\"y\"  \r\n# c\r\n\r\nD=two words # c\r\nE=\r\n", 0, "1:A=1", "2:B=x", "3:C=y",
            "6:D=two words", "7:E=", NULL);
  expect_kv("A=last\r", 0, "1:A=last", NULL);
  expect_kv("K\r\nL=1\r\n", ADR_KV_ALLOW_BARE, "1:K", "2:L=1", NULL);
  /* a CR inside the line is data */
  expect_kv("A=\"a\rb\"\r\n", 0, "1:A=a\rb", NULL);
}

static void test_kv_allow_bare(void **state)
{
  (void)state;
  expect_kv("A\n  B  \nC # comment\nexport D\nE=1\n", ADR_KV_ALLOW_BARE, "1:A", "2:B", "3:C", "4:D", "5:E=1", NULL);
  const char *s = "1A\n";
  expect_kv_error(s, strlen(s), ADR_KV_ALLOW_BARE, "f.env:1: invalid key (expected KEY=VALUE)");
  s = "A\n";
  expect_kv_error(s, strlen(s), 0, "f.env:1: missing '=' (expected KEY=VALUE)");
}

static int failing_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  (void)value;
  int *calls = ud;
  (*calls)++;
  if (strcmp(key, "BAD") == 0)
    return adr_err_set(err, ERANGE, "line %u: %s rejected", line, key);
  return 0;
}

static void test_kv_callback_error(void **state)
{
  (void)state;
  int calls = 0;
  adr_err err = NULL;
  const char *s = "A=1\nBAD=2\nC=3\n";
  assert_true(adr_kv_parse(s, strlen(s), "x", 0, failing_cb, &calls, &err) < 0);
  assert_int_equal(calls, 2);
  assert_string_equal(err->msg, "line 2: BAD rejected");
  assert_int_equal(err->errnum, ERANGE);
  adr_err_free(&err);
}

static void test_valid_env_name(void **state)
{
  (void)state;
  assert_true(adr_valid_env_name("A", 1));
  assert_true(adr_valid_env_name("_", 1));
  assert_true(adr_valid_env_name("a_B9", 4));
  assert_true(adr_valid_env_name("AB=", 2));
  assert_false(adr_valid_env_name("", 0));
  assert_false(adr_valid_env_name("9A", 2));
  assert_false(adr_valid_env_name("A-B", 3));
  assert_false(adr_valid_env_name("A.B", 3));
  assert_false(adr_valid_env_name("\xc3\xa9", 2));
}

/* ------------------------------------------------------------- adr_kv_quote */

static void roundtrip(const char *value)
{
  cleanup_free char *q = adr_kv_quote(value);
  cleanup_free char *line = xasprintf("K=%s\n", q);
  struct strv out = { 0 };
  adr_err err = NULL;
  if (kv(line, strlen(line), 0, &out, &err) < 0)
    fail_msg("quoted [%s] as [%s]: %s", value, q, err->msg);
  assert_int_equal(out.n, 1);
  cleanup_free char *want = xasprintf("1:K=%s", value);
  assert_string_equal(out.v[0], want);
  strv_free(&out);
  /* and with CRLF and an export prefix */
  cleanup_free char *line2 = xasprintf("export K=%s\r\n", q);
  assert_int_equal(kv(line2, strlen(line2), 0, &out, &err), 0);
  assert_string_equal(out.v[0], want);
  strv_free(&out);
}

static void test_kv_quote_roundtrip(void **state)
{
  (void)state;
  static const char *const values[] = {
    "",
    "plain",
    "a/b:c,d@e%f+g=h~i-j_k.l",
    "two words",
    " leading",
    "trailing ",
    "   ",
    "it's",
    "'",
    "''",
    "\"",
    "say \"hi\"",
    "$HOME",
    "${HOME}",
    "`id`",
    "$(id)",
    "back\\slash",
    "\\",
    "ends with backslash\\",
    "\\n is not a newline",
    "new\nline",
    "\n",
    "tab\there",
    "cr\rhere",
    "cr at end\r",
    "#hash",
    "a #b",
    "a # b",
    "=",
    "x=y",
    "~",
    "~/x",
    "caf\xc3\xa9",
    "\x01\x7f",
    "mixed '\"$`\\\n\t # all",
  };
  for (size_t i = 0; i < ARRAY_SIZE(values); i++)
    roundtrip(values[i]);
}

static void test_kv_quote_plain(void **state)
{
  (void)state;
  char *q = adr_kv_quote("4g");
  assert_string_equal(q, "4g");
  free(q);
  q = adr_kv_quote("openai/gpt-5");
  assert_string_equal(q, "openai/gpt-5");
  free(q);
  q = adr_kv_quote("");
  assert_string_equal(q, "\"\"");
  free(q);
  q = adr_kv_quote("a b");
  assert_string_equal(q, "\"a b\"");
  free(q);
  q = adr_kv_quote("$x\"\\\n");
  assert_string_equal(q, "\"\\$x\\\"\\\\\\n\"");
  free(q);
}

/* ---------------------------------------------------------------- durations */

static void expect_duration(const char *s, uint64_t want)
{
  uint64_t v = 0;
  adr_err err = NULL;
  if (adr_parse_duration(s, &v, &err) < 0)
    fail_msg("duration '%s': %s", s, err->msg);
  assert_int_equal(v, want);
}

static void expect_duration_error(const char *s, const char *needle)
{
  uint64_t v = 12345;
  adr_err err = NULL;
  assert_true(adr_parse_duration(s, &v, &err) < 0);
  assert_non_null(err);
  if (strstr(err->msg, needle) == NULL)
    fail_msg("duration '%s': message [%s] lacks [%s]", s ? s : "(null)", err->msg, needle);
  assert_int_equal(err->errnum, EINVAL);
  assert_int_equal(v, 12345); /* untouched */
  adr_err_free(&err);
}

static void test_duration_ok(void **state)
{
  (void)state;
  expect_duration("30s", 30);
  expect_duration("15m", 15 * 60);
  expect_duration("2h", 2 * 3600);
  expect_duration("1d", 86400);
  expect_duration("1s", 1);
  expect_duration("90m", 5400);
  expect_duration("007m", 7 * 60);
  expect_duration("36500d", 36500ULL * 86400); /* 100 years */
  /* a bare number is seconds; units in either case */
  expect_duration("60", 60);
  expect_duration("1H", 3600);
  expect_duration("1M", 60);
  expect_duration("2D", 2 * 86400);
  expect_duration("45S", 45);
}

static void test_duration_errors(void **state)
{
  (void)state;
  expect_duration_error("1.5h", "decimals");
  expect_duration_error("1,5h", "decimals");
  expect_duration_error("10x", "unit");
  expect_duration_error("10x", "'x'");
  expect_duration_error("5ms", "unit 'ms'");
  expect_duration_error("5 m", "unit");
  expect_duration_error("0s", "between 1s");
  expect_duration_error("", "unit");
  expect_duration_error(NULL, "unit");
  expect_duration_error("-1m", "unit");
  expect_duration_error("+1m", "unit");
  expect_duration_error(" 1m", "unit");
  expect_duration_error("m", "unit");
  expect_duration_error("0", "between 1s");
  expect_duration_error("1Ms", "unit 'Ms'");
  expect_duration_error("36501d", "100 years");
  expect_duration_error("99999999999999999999s", "invalid duration");
  expect_duration_error("1h30m", "unit");
}

static void test_format_duration(void **state)
{
  (void)state;
  static const struct {
    uint64_t s;
    const char *want;
  } cases[] = {
    { 30, "30s" },  { 59, "59s" },   { 60, "1m" },     { 900, "15m" },   { 5400, "90m" },   { 3600, "1h" },
    { 7200, "2h" }, { 86400, "1d" }, { 90000, "25h" }, { 172800, "2d" }, { 3601, "3601s" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *s = adr_format_duration(cases[i].s);
    assert_string_equal(s, cases[i].want);
    free(s);
  }
  /* whatever it prints, adr_parse_duration reads it back */
  static const uint64_t rt[] = { 1, 45, 61, 119, 3599, 3660, 86399, 86460, 604800, 31536000 };
  for (size_t i = 0; i < ARRAY_SIZE(rt); i++) {
    char *s = adr_format_duration(rt[i]);
    uint64_t back = 0;
    adr_err err = NULL;
    if (adr_parse_duration(s, &back, &err) < 0)
      fail_msg("format_duration(%llu) = %s does not parse: %s", (unsigned long long)rt[i], s, err->msg);
    assert_int_equal(back, rt[i]);
    free(s);
  }
}

/* -------------------------------------------------------------------- sizes */

static void expect_size(const char *s, uint64_t want)
{
  uint64_t v = 0;
  adr_err err = NULL;
  if (adr_parse_size(s, &v, &err) < 0)
    fail_msg("size '%s': %s", s, err->msg);
  assert_int_equal(v, want);
}

static void expect_size_error(const char *s, const char *needle)
{
  uint64_t v = 7;
  adr_err err = NULL;
  assert_true(adr_parse_size(s, &v, &err) < 0);
  if (strstr(err->msg, needle) == NULL)
    fail_msg("size '%s': message [%s] lacks [%s]", s ? s : "(null)", err->msg, needle);
  assert_int_equal(v, 7);
  adr_err_free(&err);
}

static void test_size_ok(void **state)
{
  (void)state;
  expect_size("512m", 512ULL << 20);
  expect_size("4g", 4ULL << 30);
  expect_size("1024k", 1ULL << 20);
  expect_size("2t", 2ULL << 40);
  expect_size("100", 100);
  expect_size("0", 0);
  expect_size("100b", 100);
  expect_size("100B", 100);
  expect_size("1GiB", 1ULL << 30);
  expect_size("1gb", 1ULL << 30);
  expect_size("1G", 1ULL << 30);
  expect_size("3KiB", 3ULL << 10);
  expect_size("1kb", 1024);
  expect_size("18446744073709551615", UINT64_MAX);
  expect_size("16777215t", 16777215ULL << 40);
  expect_size("17179869183g", 17179869183ULL << 30);
}

static void test_size_errors(void **state)
{
  (void)state;
  expect_size_error("", "invalid size ''");
  expect_size_error(NULL, "invalid size");
  expect_size_error("g", "invalid size 'g'");
  expect_size_error("-1", "invalid size");
  expect_size_error(" 1g", "invalid size");
  expect_size_error("1x", "unknown unit");
  expect_size_error("1p", "unknown unit");
  expect_size_error("1.5g", "unknown unit");
  expect_size_error("1 g", "unknown unit");
  expect_size_error("1g ", "unknown unit");
  expect_size_error("1gbb", "unknown unit");
  expect_size_error("1bb", "unknown unit");
  expect_size_error("1bib", "unknown unit");
  expect_size_error("lots", "invalid size 'lots'");
  expect_size_error("18446744073709551616", "out of range");
  expect_size_error("99999999999999999999999", "out of range");
  expect_size_error("16777216t", "too large");
  expect_size_error("17179869184g", "too large");
  expect_size_error("18014398509481984k", "too large");
}

/* --------------------------------------------------------------------- cpus */

static void test_cpus(void **state)
{
  (void)state;
  static const struct {
    const char *s;
    int64_t want;
  } ok[] = {
    { "2", 2000000000LL }, { "1.5", 1500000000LL },     { "0.5", 500000000LL },           { "0.25", 250000000LL },
    { "0.000000001", 1 },  { "4096", 4096000000000LL }, { "1.0000000019", 1000000001LL }, { "02", 2000000000LL },
  };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    int64_t v = 0;
    adr_err err = NULL;
    if (adr_parse_cpus(ok[i].s, &v, &err) < 0)
      fail_msg("cpus '%s': %s", ok[i].s, err->msg);
    assert_int_equal(v, ok[i].want);
  }
  static const struct {
    const char *s;
    const char *needle;
  } bad[] = {
    { "0", "greater than 0" },
    { "0.0", "greater than 0" },
    { "0.0000000001", "greater than 0" },
    { "", "expected a number" },
    { "abc", "expected a number" },
    { "1.5x", "expected a number" },
    { "-1", "expected a number" },
    { ".5", "expected a number" },
    { "1,5", "expected a number" },
    { "4097", "too large" },
    { "99999999999999999999", "too large" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    int64_t v = 3;
    adr_err err = NULL;
    assert_true(adr_parse_cpus(bad[i].s, &v, &err) < 0);
    if (strstr(err->msg, bad[i].needle) == NULL)
      fail_msg("cpus '%s': message [%s] lacks [%s]", bad[i].s, err->msg, bad[i].needle);
    assert_int_equal(v, 3);
    adr_err_free(&err);
  }
  int64_t v;
  adr_err err = NULL;
  assert_true(adr_parse_cpus(NULL, &v, &err) < 0);
  adr_err_free(&err);
}

static void test_gpus(void **state)
{
  (void)state;
  struct adr_spec_gpus g = { 0 };
  adr_err err = NULL;
  assert_int_equal(adr_parse_gpus("all", &g, &err), 0);
  assert_int_equal(g.count, -1);
  assert_int_equal(adr_parse_gpus("2", &g, &err), 0);
  assert_int_equal(g.count, 2);
  assert_int_equal(g.device_ids.n, 0);
  assert_int_equal(adr_parse_gpus("device=0,GPU-3a9c5e1d-8b2f", &g, &err), 0);
  assert_int_equal(g.count, 0);
  assert_int_equal(g.device_ids.n, 2);
  assert_string_equal(g.device_ids.v[1], "GPU-3a9c5e1d-8b2f");
  static const char *const bad[] = { "", "0", "65", "-1", "many", "device=", "device=,", "device=0;rm", "ALL" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(adr_parse_gpus(bad[i], &g, &err), -1);
    assert_non_null(strstr(err->msg, "--gpus '"));
    adr_err_free(&err);
    assert_int_equal(g.count, 0);
    assert_int_equal(g.device_ids.n, 0);
  }
  assert_int_equal(adr_parse_gpus("device=0;rm", &g, &err), -1);
  assert_string_equal(err->msg, "--gpus 'device=0;rm': device '0;rm' is not a GPU index or UUID");
  adr_err_free(&err);
  assert_int_equal(adr_parse_gpus("many", &g, &err), -1);
  assert_string_equal(err->msg, "--gpus 'many': all, a count (1 to 64) or device=ID[,ID]... (indexes or UUIDs)");
  adr_err_free(&err);
  strv_free(&g.device_ids);
}

static void test_parse_uint(void **state)
{
  (void)state;
  uint64_t v = 0;
  assert_int_equal(adr_parse_uint("0", 10, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(adr_parse_uint("10", 10, &v), 0);
  assert_int_equal(v, 10);
  assert_int_equal(adr_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
  assert_int_equal(v, UINT64_MAX);
  v = 99;
  assert_int_equal(adr_parse_uint("11", 10, &v), -1);
  assert_int_equal(adr_parse_uint("", 10, &v), -1);
  assert_int_equal(adr_parse_uint(NULL, 10, &v), -1);
  assert_int_equal(adr_parse_uint("-1", UINT64_MAX, &v), -1);
  assert_int_equal(adr_parse_uint("+1", UINT64_MAX, &v), -1);
  assert_int_equal(adr_parse_uint(" 1", UINT64_MAX, &v), -1);
  assert_int_equal(adr_parse_uint("1 ", UINT64_MAX, &v), -1);
  assert_int_equal(adr_parse_uint("0x10", UINT64_MAX, &v), -1);
  assert_int_equal(adr_parse_uint("18446744073709551616", UINT64_MAX, &v), -1);
  assert_int_equal(v, 99);
}

/* ---------------------------------------------------------------------- env */

static void test_parse_env(void **state)
{
  (void)state;
  static const struct {
    const char *s, *k, *v;
  } ok[] = {
    { "A=1", "A", "1" },
    { "A=", "A", "" },
    { "A==b", "A", "=b" },
    { "_x=a b", "_x", "a b" },
    { "PATH=/bin:/usr/bin", "PATH", "/bin:/usr/bin" },
    { "Q='x'", "Q", "'x'" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    char *k = NULL, *v = NULL;
    adr_err err = NULL;
    assert_int_equal(adr_parse_env(ok[i].s, &k, &v, &err), 0);
    assert_string_equal(k, ok[i].k);
    assert_string_equal(v, ok[i].v);
    free(k);
    free(v);
  }
  static const struct {
    const char *s, *msg;
  } bad[] = {
    { "A", "invalid environment 'A': expected KEY=VALUE" },
    { "", "invalid environment '': expected KEY=VALUE" },
    { "=x", "invalid environment '=x': bad variable name" },
    { "1A=x", "invalid environment '1A=x': bad variable name" },
    { "A B=x", "invalid environment 'A B=x': bad variable name" },
    { "A-B=x", "invalid environment 'A-B=x': bad variable name" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    char *k = NULL, *v = NULL;
    adr_err err = NULL;
    assert_true(adr_parse_env(bad[i].s, &k, &v, &err) < 0);
    assert_string_equal(err->msg, bad[i].msg);
    assert_null(k);
    assert_null(v);
    adr_err_free(&err);
  }
}

static const char *fake_lookup(const char *key)
{
  if (strcmp(key, "PRESENT") == 0)
    return "from host";
  if (strcmp(key, "EMPTY") == 0)
    return "";
  return NULL;
}

static void test_parse_env_file(void **state)
{
  (void)state;
  cleanup_free char *dir = make_tmpdir();
  cleanup_free char *path = xasprintf("%s/vars.env", dir);
  write_text(path,
             "# env file\n"
             "A=1\n"
             "PRESENT\n"
             "MISSING\n"
             "EMPTY\n"
             "export B='two words'\r\n"
             "C=\"line\\nbreak\" # c\n"
             "D=\n");
  struct strv out = { 0 }, unset = { 0 };
  adr_err err = NULL;
  assert_int_equal(adr_parse_env_file(path, fake_lookup, &out, &unset, &err), 0);
  assert_int_equal(out.n, 6);
  assert_int_equal(unset.n, 1); /* MISSING, named with its line */
  assert_non_null(strstr(unset.v[0], ":4: MISSING"));
  strv_free(&unset);
  assert_string_equal(out.v[0], "A=1");
  assert_string_equal(out.v[1], "PRESENT=from host");
  assert_string_equal(out.v[2], "EMPTY=");
  assert_string_equal(out.v[3], "B=two words");
  assert_string_equal(out.v[4], "C=line\nbreak");
  assert_string_equal(out.v[5], "D=");
  strv_free(&out);

  /* no lookup: bare keys are skipped; appends to what is there */
  strv_push(&out, "PRE=1");
  assert_int_equal(adr_parse_env_file(path, NULL, &out, NULL, &err), 0);
  assert_int_equal(out.n, 5);
  assert_string_equal(out.v[0], "PRE=1");
  assert_string_equal(out.v[1], "A=1");
  assert_string_equal(out.v[2], "B=two words");
  strv_free(&out);

  /* empty file */
  cleanup_free char *empty = xasprintf("%s/empty.env", dir);
  write_text(empty, "");
  assert_int_equal(adr_parse_env_file(empty, fake_lookup, &out, NULL, &err), 0);
  assert_int_equal(out.n, 0);

  /* malformed: the error names the file and line */
  cleanup_free char *bad = xasprintf("%s/bad.env", dir);
  write_text(bad, "A=1\nB=\"open\n");
  assert_true(adr_parse_env_file(bad, fake_lookup, &out, NULL, &err) < 0);
  cleanup_free char *want = xasprintf("%s:2: unterminated double quote", bad);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
  strv_free(&out);

  /* missing file */
  cleanup_free char *missing = xasprintf("%s/nope.env", dir);
  assert_true(adr_parse_env_file(missing, fake_lookup, &out, NULL, &err) < 0);
  cleanup_free char *want2 = xasprintf("env file '%s': %s", missing, strerror(ENOENT));
  assert_string_equal(err->msg, want2);
  assert_int_equal(err->errnum, ENOENT);
  adr_err_free(&err);

  /* a directory */
  assert_true(adr_parse_env_file(dir, fake_lookup, &out, NULL, &err) < 0);
  cleanup_free char *want3 = xasprintf("env file '%s': is a directory", dir);
  assert_string_equal(err->msg, want3);
  adr_err_free(&err);
  assert_int_equal(out.n, 0);

  rm_rf(dir);
}

/* ------------------------------------------------------------------- mounts */

struct mount_fixture {
  char *root; /* realpath'd temp dir */
  char *host; /* root/host (a directory) */
  char *home; /* root/home, holds proj/ */
  char *file; /* root/file (a regular file) */
};

static int mount_setup(void **state)
{
  struct mount_fixture *f = xcalloc(1, sizeof(*f));
  f->root = make_tmpdir();
  f->host = xasprintf("%s/host", f->root);
  f->home = xasprintf("%s/home", f->root);
  f->file = xasprintf("%s/file", f->root);
  cleanup_free char *proj = xasprintf("%s/proj", f->home);
  cleanup_free char *sub = xasprintf("%s/sub", f->host);
  cleanup_free char *link = xasprintf("%s/link", f->root);
  if (mkdir(f->host, 0755) < 0 || mkdir(f->home, 0755) < 0 || mkdir(proj, 0755) < 0 || mkdir(sub, 0755) < 0 ||
      symlink("host/sub", link) < 0)
    return -1;
  write_text(f->file, "not a dir\n");
  *state = f;
  return 0;
}

static int mount_teardown(void **state)
{
  struct mount_fixture *f = *state;
  rm_rf(f->root);
  free(f->root);
  free(f->host);
  free(f->home);
  free(f->file);
  free(f);
  return 0;
}

static void expect_mount(struct mount_fixture *f, const char *spec, const char *cwd, const char *host,
                         const char *container, bool ro)
{
  struct adr_mount m;
  adr_err err = NULL;
  if (adr_parse_mount(spec, cwd, f->home, &m, &err) < 0)
    fail_msg("mount '%s': %s", spec, err->msg);
  assert_string_equal(m.host, host);
  assert_string_equal(m.container, container);
  assert_int_equal(m.readonly, ro);
  adr_mount_free(&m);
  assert_null(m.host);
}

static void expect_mount_error(struct mount_fixture *f, const char *spec, const char *msg)
{
  struct adr_mount m;
  adr_err err = NULL;
  assert_true(adr_parse_mount(spec, f->root, f->home, &m, &err) < 0);
  assert_string_equal(err->msg, msg);
  assert_null(m.host);
  assert_null(m.container);
  adr_err_free(&err);
}

static void test_mount_ok(void **state)
{
  struct mount_fixture *f = *state;
  cleanup_free char *spec = xasprintf("%s:/data", f->host);
  expect_mount(f, spec, "/nonexistent", f->host, "/data", true); /* ro default */
  free(spec);
  spec = xasprintf("%s:/data:rw", f->host);
  expect_mount(f, spec, "/", f->host, "/data", false);
  free(spec);
  spec = xasprintf("%s:/data:ro", f->host);
  expect_mount(f, spec, "/", f->host, "/data", true);
  free(spec);
  /* container path normalised, host path resolved */
  spec = xasprintf("%s/./sub/../:/data//x/./y/..:rw", f->host);
  expect_mount(f, spec, "/", f->host, "/data/x", false);
  free(spec);
  /* a symlink resolves to its target */
  cleanup_free char *sub = xasprintf("%s/sub", f->host);
  spec = xasprintf("%s/link:/s", f->root);
  expect_mount(f, spec, "/", sub, "/s", true);
  free(spec);
  /* targets that merely start like reserved ones are fine */
  spec = xasprintf("%s:/workspace/extra", f->host);
  expect_mount(f, spec, "/", f->host, "/workspace/extra", true);
  free(spec);
  spec = xasprintf("%s:/process", f->host);
  expect_mount(f, spec, "/", f->host, "/process", true);
}

static void test_mount_relative_and_home(void **state)
{
  struct mount_fixture *f = *state;
  expect_mount(f, "host:/h", f->root, f->host, "/h", true);
  expect_mount(f, "./host/sub/..:/h:rw", f->root, f->host, "/h", false);
  cleanup_free char *sub = xasprintf("%s/sub", f->host);
  expect_mount(f, "sub:/s", f->host, sub, "/s", true);
  cleanup_free char *proj = xasprintf("%s/proj", f->home);
  expect_mount(f, "~/proj:/p", "/", proj, "/p", true);
  expect_mount(f, "~:/h", "/", f->home, "/h", true);
  expect_mount(f, "../host:/h", f->home, f->host, "/h", true);
  /* "~user" is not home expansion: it is relative to cwd */
  struct adr_mount m;
  adr_err err = NULL;
  assert_true(adr_parse_mount("~proj:/p", f->root, f->home, &m, &err) < 0);
  assert_non_null(strstr(err->msg, "host path '~proj'"));
  adr_err_free(&err);
}

static void test_mount_errors(void **state)
{
  struct mount_fixture *f = *state;
  cleanup_free char *spec = NULL;
  cleanup_free char *msg = NULL;

  spec = xasprintf("%s/nope:/x", f->root);
  msg = xasprintf("invalid mount '%s': host path '%s/nope': %s", spec, f->root, strerror(ENOENT));
  expect_mount_error(f, spec, msg);
  free(spec);
  free(msg);

  spec = xasprintf("%s:/x", f->file);
  msg = xasprintf("invalid mount '%s': host path '%s' is not a directory", spec, f->file);
  expect_mount_error(f, spec, msg);
  free(spec);
  free(msg);

  spec = xasprintf("%s:data", f->host);
  msg = xasprintf("invalid mount '%s': container path 'data' must be absolute", spec);
  expect_mount_error(f, spec, msg);
  free(spec);
  free(msg);

  static const struct {
    const char *target, *what;
  } reserved[] = {
    { "/", "cannot mount over '/'" },
    { "/proc", "cannot mount over '/proc'" },
    { "/sys", "cannot mount over '/sys'" },
    { "/dev", "cannot mount over '/dev'" },
    { "/workspace", "cannot mount over '/workspace'" },
    { "/workspace/", "cannot mount over '/workspace'" },
    { "/etc", "cannot mount over '/etc'" },
    { "/usr", "cannot mount over '/usr'" },
    { "//", "cannot mount over '/'" },
    { "/x/..", "cannot mount over '/'" },
    { "/tmp/../proc", "cannot mount over '/proc'" },
    { "/proc/1", "cannot mount under '/proc/1'" },
    { "/sys/fs/cgroup", "cannot mount under '/sys/fs/cgroup'" },
    { "/dev/shm", "cannot mount under '/dev/shm'" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
    spec = xasprintf("%s:%s", f->host, reserved[i].target);
    msg = xasprintf("invalid mount '%s': %s", spec, reserved[i].what);
    expect_mount_error(f, spec, msg);
    free(spec);
    free(msg);
  }

  spec = NULL;
  msg = NULL;
  expect_mount_error(f, "a:/b:ro:extra", "invalid mount 'a:/b:ro:extra': expected HOST:CONTAINER[:ro|rw]");
  expect_mount_error(f, "a:b:c:d:e", "invalid mount 'a:b:c:d:e': expected HOST:CONTAINER[:ro|rw]");
  expect_mount_error(f, "justone", "invalid mount 'justone': expected HOST:CONTAINER[:ro|rw]");
  expect_mount_error(f, "", "invalid mount '': expected HOST:CONTAINER[:ro|rw]");
  expect_mount_error(f, ":/x", "invalid mount ':/x': empty host path");
  expect_mount_error(f, "host:", "invalid mount 'host:': empty container path");
  expect_mount_error(f, "host:/x:", "invalid mount 'host:/x:': mode must be 'ro' or 'rw', not ''");
  expect_mount_error(f, "host:/x:RW", "invalid mount 'host:/x:RW': mode must be 'ro' or 'rw', not 'RW'");
  expect_mount_error(f, "host:/x:z", "invalid mount 'host:/x:z': mode must be 'ro' or 'rw', not 'z'");
}

/* -------------------------------------------------------------------- paths */

static void test_path_normalize(void **state)
{
  (void)state;
  static const struct {
    const char *in, *want;
  } cases[] = {
    { "/", "/" },
    { "", "/" },
    { "//", "/" },
    { "/a", "/a" },
    { "/a/", "/a" },
    { "//a//b//", "/a/b" },
    { "/a/./b", "/a/b" },
    { "/a/b/../c", "/a/c" },
    { "/..", "/" },
    { "/../../a", "/a" },
    { "/a/b/../../..", "/" },
    { "/a/../b/./../c/", "/c" },
    { "/.", "/" },
    { "/./.", "/" },
    { "/...", "/..." },
    { "/a/..b/.c", "/a/..b/.c" },
    { "/a b/c", "/a b/c" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *p = adr_path_normalize(cases[i].in);
    if (strcmp(p, cases[i].want) != 0)
      fail_msg("normalize(%s) = %s, want %s", cases[i].in, p, cases[i].want);
    free(p);
  }
}

static void test_path_expand_home(void **state)
{
  (void)state;
  static const struct {
    const char *in, *home, *want;
  } cases[] = {
    { "~", "/home/u", "/home/u" }, { "~/", "/home/u", "/home/u/" }, { "~/x/y", "/home/u", "/home/u/x/y" },
    { "~x", "/home/u", "~x" },     { "/a/~", "/home/u", "/a/~" },   { "rel", "/home/u", "rel" },
    { "~/x", NULL, "~/x" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *p = adr_path_expand_home(cases[i].in, cases[i].home);
    assert_string_equal(p, cases[i].want);
    free(p);
  }
}

/* ------------------------------------------------------------------- models */

static void test_split_model(void **state)
{
  (void)state;
  static const struct {
    const char *in, *prov, *name;
  } cases[] = {
    { "openai/gpt-5", "openai", "gpt-5" },
    { "gpt-5", NULL, "gpt-5" },
    { "openrouter/anthropic/claude", "openrouter", "anthropic/claude" },
    { "/x", NULL, "x" },
    { "p/", "p", "" },
    { "", NULL, "" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    char *p = (char *)"sentinel", *n = NULL;
    adr_split_model(cases[i].in, &p, &n);
    if (cases[i].prov)
      assert_string_equal(p, cases[i].prov);
    else
      assert_null(p);
    assert_string_equal(n, cases[i].name);
    free(p);
    free(n);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_kv_blank_and_comments),
    cmocka_unit_test(test_kv_export),
    cmocka_unit_test(test_kv_unquoted),
    cmocka_unit_test(test_kv_unquoted_comment_only),
    cmocka_unit_test(test_kv_single_quotes),
    cmocka_unit_test(test_kv_double_quotes),
    cmocka_unit_test(test_kv_errors),
    cmocka_unit_test(test_kv_nul_byte),
    cmocka_unit_test(test_kv_long_line),
    cmocka_unit_test(test_kv_crlf),
    cmocka_unit_test(test_kv_allow_bare),
    cmocka_unit_test(test_kv_callback_error),
    cmocka_unit_test(test_valid_env_name),
    cmocka_unit_test(test_kv_quote_roundtrip),
    cmocka_unit_test(test_kv_quote_plain),
    cmocka_unit_test(test_duration_ok),
    cmocka_unit_test(test_duration_errors),
    cmocka_unit_test(test_format_duration),
    cmocka_unit_test(test_size_ok),
    cmocka_unit_test(test_size_errors),
    cmocka_unit_test(test_cpus),
    cmocka_unit_test(test_gpus),
    cmocka_unit_test(test_parse_uint),
    cmocka_unit_test(test_parse_env),
    cmocka_unit_test(test_parse_env_file),
    cmocka_unit_test_setup_teardown(test_mount_ok, mount_setup, mount_teardown),
    cmocka_unit_test_setup_teardown(test_mount_relative_and_home, mount_setup, mount_teardown),
    cmocka_unit_test_setup_teardown(test_mount_errors, mount_setup, mount_teardown),
    cmocka_unit_test(test_path_normalize),
    cmocka_unit_test(test_path_expand_home),
    cmocka_unit_test(test_split_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
