/* Unit tests for config.h: defaults, files, precedence, origins, warnings,
 * validation and in-place edits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "config.h"
#include "parse.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------- helpers */

static char *make_tmpdir(void)
{
  const char *t = getenv("TMPDIR");
  char *tmpl = xasprintf("%s/adr-test-config.XXXXXX", t && *t ? t : "/tmp");
  assert_non_null(mkdtemp(tmpl));
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

static void mkdir_or_die(const char *path)
{
  if (mkdir(path, 0755) < 0)
    fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
  struct buf b;
  buf_init(&b, 0);
  if (buf_read_file(&b, path) < 0)
    fail_msg("read %s: %s", path, strerror(errno));
  return buf_steal(&b);
}

static void expect_entry(const struct adr_config *c, const char *key, const char *value, const char *origin)
{
  const struct adr_config_entry *e = adr_config_entry(c, key);
  if (e == NULL)
    fail_msg("%s is not set", key);
  assert_string_equal(e->key, key);
  assert_string_equal(e->value, value);
  assert_string_equal(e->origin, origin);
  assert_string_equal(adr_config_get(c, key), value);
}

/* A temp dir used as XDG_CONFIG_HOME and HOME, with a project tree:
 *   root/xdg/adr/config        the global file
 *   root/proj/.adr             the project file
 *   root/proj/a/b              cwd (the .adr is two levels up) */
struct fx {
  char *root, *xdg, *global, *proj, *project_file, *cwd;
};

static int fx_setup(void **state)
{
  struct fx *f = xcalloc(1, sizeof(*f));
  f->root = make_tmpdir();
  f->xdg = xasprintf("%s/xdg", f->root);
  cleanup_free char *adrdir = xasprintf("%s/adr", f->xdg);
  f->global = xasprintf("%s/config", adrdir);
  f->proj = xasprintf("%s/proj", f->root);
  f->project_file = xasprintf("%s/.adr", f->proj);
  cleanup_free char *a = xasprintf("%s/a", f->proj);
  f->cwd = xasprintf("%s/b", a);
  mkdir_or_die(f->xdg);
  mkdir_or_die(adrdir);
  mkdir_or_die(f->proj);
  mkdir_or_die(a);
  mkdir_or_die(f->cwd);
  setenv("XDG_CONFIG_HOME", f->xdg, 1);
  setenv("HOME", f->root, 1);
  *state = f;
  return 0;
}

static int fx_teardown(void **state)
{
  struct fx *f = *state;
  rm_rf(f->root);
  free(f->root);
  free(f->xdg);
  free(f->global);
  free(f->proj);
  free(f->project_file);
  free(f->cwd);
  free(f);
  return 0;
}

/* --------------------------------------------------------------- keys */

static void test_keys_and_defaults(void **state)
{
  (void)state;
  size_t n = 0;
  const struct adr_config_key *keys = adr_config_keys(&n);
  assert_true(n >= 10);
  for (size_t i = 0; i < n; i++) {
    assert_non_null(keys[i].name);
    assert_non_null(keys[i].help);
    if (keys[i].def) {
      adr_err err = NULL;
      if (adr_config_validate(keys[i].name, keys[i].def, &err) < 0)
        fail_msg("default of %s (%s) is invalid: %s", keys[i].name, keys[i].def, err->msg);
    }
  }
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  assert_null(adr_config_get(&c, "ADR_AGENT")); /* no default: the only built agent */
  expect_entry(&c, "ADR_TAG", "latest", "default");
  expect_entry(&c, "ADR_MEMORY", "4g", "default");
  expect_entry(&c, "ADR_CPUS", "2", "default");
  expect_entry(&c, "ADR_PIDS", "1024", "default");
  assert_null(adr_config_get(&c, "ADR_TIMEOUT"));
  assert_null(adr_config_get(&c, "ADR_MOUNTS"));
  assert_null(adr_config_get(&c, "ADR_MODEL_*"));
  assert_null(c.global_path);
  assert_null(c.project_path);
  assert_int_equal(c.warnings.n, 0);
}

static void test_key_find(void **state)
{
  (void)state;
  assert_non_null(adr_config_key_find("ADR_TAG"));
  assert_null(adr_config_key_find("ADR_TA"));
  assert_null(adr_config_key_find("ADR_TAGS"));
  assert_null(adr_config_key_find("adr_tag"));
  const struct adr_config_key *k = adr_config_key_find("ADR_MODEL_PI");
  assert_non_null(k);
  assert_string_equal(k->name, "ADR_MODEL_*");
  assert_non_null(adr_config_key_find("ADR_MODEL_X"));
  assert_null(adr_config_key_find("ADR_MODEL_"));
  assert_null(adr_config_key_find("ADR_MODEL"));
  assert_null(adr_config_key_find(""));
}

static void test_validate(void **state)
{
  (void)state;
  static const struct {
    const char *k, *v;
  } ok[] = {
    { "ADR_MEMORY", "512m" },
    { "ADR_MEMORY", "4GiB" },
    { "ADR_CPUS", "1.5" },
    { "ADR_PIDS", "0" },
    { "ADR_TIMEOUT", "15m" },
    { "ADR_TIMEOUT", "" },
    { "ADR_AGENT", "my-agent_2.x" },
    { "ADR_TAG", "v1.2.3_RC-1" },
    { "ADR_MOUNTS", "anything goes:/here" },
    { "ADR_MODEL_PI", "a/b" },
    { "UNKNOWN_KEY", "whatever" },
    { "ADR_SANDBOX_UID", "4294967294" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
    adr_err err = NULL;
    if (adr_config_validate(ok[i].k, ok[i].v, &err) < 0)
      fail_msg("%s=%s: %s", ok[i].k, ok[i].v, err->msg);
  }
  static const struct {
    const char *k, *v, *msg;
  } bad[] = {
    { "ADR_MEMORY", "lots", "invalid size 'lots': expected a number with an optional unit (k, m, g, t)" },
    { "ADR_MEMORY", "", "invalid size '': expected a number with an optional unit (k, m, g, t)" },
    { "ADR_CPUS", "0", "invalid CPU count '0': must be greater than 0" },
    { "ADR_PIDS", "-1", "invalid number '-1'" },
    { "ADR_PIDS", "4294967295", "invalid number '4294967295'" },
    { "ADR_TIMEOUT", "1.5h", "invalid duration '1.5h': decimals are not supported, use a smaller unit" },
    { "ADR_AGENT", "Claude", "invalid agent name 'Claude' (lowercase letters, digits, '-', '_', '.')" },
    { "ADR_AGENT", "", "invalid agent name '' (lowercase letters, digits, '-', '_', '.')" },
    { "ADR_AGENT", ".hidden", "invalid agent name '.hidden' (lowercase letters, digits, '-', '_', '.')" },
    { "ADR_AGENT", "a/b", "invalid agent name 'a/b' (lowercase letters, digits, '-', '_', '.')" },
    { "ADR_TAG", "-x", "invalid image tag '-x'" },
    { "ADR_TAG", ".x", "invalid image tag '.x'" },
    { "ADR_TAG", "a:b", "invalid image tag 'a:b'" },
    { "ADR_TAG", "", "invalid image tag ''" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    adr_err err = NULL;
    if (adr_config_validate(bad[i].k, bad[i].v, &err) == 0)
      fail_msg("%s=%s accepted", bad[i].k, bad[i].v);
    assert_string_equal(err->msg, bad[i].msg);
    adr_err_free(&err);
  }
}

/* ---------------------------------------------------------- put / get */

static void test_put_origins(void **state)
{
  (void)state;
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  size_t n0 = c.n;
  adr_config_put(&c, "ADR_TAG", "v1", "g:1");
  expect_entry(&c, "ADR_TAG", "v1", "g:1");
  adr_config_put(&c, "ADR_TAG", "v2", "command line");
  expect_entry(&c, "ADR_TAG", "v2", "command line");
  assert_int_equal(c.n, n0);
  /* new keys are added; many of them (growth) */
  for (int i = 0; i < 100; i++) {
    char k[32];
    snprintf(k, sizeof(k), "ADR_MODEL_A%d", i);
    adr_config_put(&c, k, k, "command line");
  }
  assert_int_equal(c.n, n0 + 100);
  expect_entry(&c, "ADR_MODEL_A99", "ADR_MODEL_A99", "command line");
  expect_entry(&c, "ADR_PIDS", "1024", "default");
}

/* ----------------------------------------------------------- load_buf */

static void test_load_buf_origins(void **state)
{
  (void)state;
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  const char *s = "# comment\n\nADR_TAG=v1\nexport ADR_MEMORY='8g'\nADR_MOUNTS=\"/a:/b /c:/d:rw\"\nADR_TAG=v2\n";
  assert_int_equal(adr_config_load_buf(&c, s, strlen(s), "/x/.adr", &err), 0);
  expect_entry(&c, "ADR_TAG", "v2", "/x/.adr:6");
  expect_entry(&c, "ADR_MEMORY", "8g", "/x/.adr:4");
  expect_entry(&c, "ADR_MOUNTS", "/a:/b /c:/d:rw", "/x/.adr:5");
  expect_entry(&c, "ADR_CPUS", "2", "default");
  assert_int_equal(c.warnings.n, 0);
  /* a bare KEY is not allowed in config files */
  s = "ADR_TAG\n";
  assert_true(adr_config_load_buf(&c, s, strlen(s), "f", &err) < 0);
  assert_string_equal(err->msg, "f:1: missing '=' (expected KEY=VALUE)");
  adr_err_free(&err);
}

static void test_model_keys(void **state)
{
  (void)state;
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  const char *s = "ADR_MODEL_PI=openai/gpt-5\nADR_MODEL_CLAUDE=opus\nADR_MODEL_=x\n";
  assert_int_equal(adr_config_load_buf(&c, s, strlen(s), "m", &err), 0);
  expect_entry(&c, "ADR_MODEL_PI", "openai/gpt-5", "m:1");
  expect_entry(&c, "ADR_MODEL_CLAUDE", "opus", "m:2");
  assert_null(adr_config_get(&c, "ADR_MODEL_"));
  assert_int_equal(c.warnings.n, 1);
  assert_string_equal(c.warnings.v[0], "m:3: unknown key 'ADR_MODEL_' (ignored)");
}

/* A file of thousands of unknown keys costs linear time and a bounded
 * number of warnings, the last one saying more were not shown. */
static void test_unknown_keys_capped(void **state)
{
  (void)state;
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  struct buf b;
  buf_init(&b, 0);
  for (int i = 0; i < 20000; i++)
    buf_printf(&b, "UNKNOWN_%d=1\n", i);
  assert_int_equal(adr_config_load_buf(&c, b.data, b.len, "big", &err), 0);
  buf_free(&b);
  assert_int_equal(c.warnings.n, ADR_CONFIG_MAX_WARNINGS + 1);
  assert_string_equal(c.warnings.v[0], "big:1: unknown key 'UNKNOWN_0' (ignored)");
  assert_string_equal(c.warnings.v[ADR_CONFIG_MAX_WARNINGS], "big:17: more unknown keys (not shown)");
}

/* config set refuses a value whose line the parser would later reject. */
static void test_file_set_too_long(void **state)
{
  (void)state;
  char dir[] = "/tmp/adr-test-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cleanup_free char *path = xasprintf("%s/config", dir);
  char *v = xmalloc(ADR_KV_MAX_LINE + 2);
  memset(v, 'x', ADR_KV_MAX_LINE + 1);
  v[ADR_KV_MAX_LINE + 1] = '\0';
  adr_err err = NULL;
  assert_int_equal(adr_config_file_set(path, "ADR_TAG", v, &err), -1);
  assert_non_null(strstr(err->msg, "too long"));
  adr_err_free(&err);
  free(v);
  assert_int_equal(access(path, F_OK), -1);
  rmdir(dir);
}

static void test_unknown_keys_warn_once(void **state)
{
  (void)state;
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  const char *s = "FOO=1\nBAR=2\nFOO=3\nFOOBAR=4\nFO=5\nBAR=6\nADR_TAG=ok\n";
  assert_int_equal(adr_config_load_buf(&c, s, strlen(s), "one", &err), 0);
  /* repeated in a second file: still once */
  s = "FOO=7\nBAZ=8\n";
  assert_int_equal(adr_config_load_buf(&c, s, strlen(s), "two", &err), 0);
  assert_int_equal(c.warnings.n, 5);
  assert_string_equal(c.warnings.v[0], "one:1: unknown key 'FOO' (ignored)");
  assert_string_equal(c.warnings.v[1], "one:2: unknown key 'BAR' (ignored)");
  assert_string_equal(c.warnings.v[2], "one:4: unknown key 'FOOBAR' (ignored)");
  assert_string_equal(c.warnings.v[3], "one:5: unknown key 'FO' (ignored)");
  assert_string_equal(c.warnings.v[4], "two:2: unknown key 'BAZ' (ignored)");
  assert_null(adr_config_get(&c, "FOO"));
  expect_entry(&c, "ADR_TAG", "ok", "one:7");
}

static void test_unknown_key_prefix_order(void **state)
{
  (void)state;
  /* a longer key seen first must not hide a shorter one */
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  const char *s = "ABC=1\nAB=2\nA=3\nAB=4\n";
  assert_int_equal(adr_config_load_buf(&c, s, strlen(s), "f", &err), 0);
  assert_int_equal(c.warnings.n, 3);
  assert_string_equal(c.warnings.v[0], "f:1: unknown key 'ABC' (ignored)");
  assert_string_equal(c.warnings.v[1], "f:2: unknown key 'AB' (ignored)");
  assert_string_equal(c.warnings.v[2], "f:3: unknown key 'A' (ignored)");
}

static void test_invalid_values(void **state)
{
  (void)state;
  static const struct {
    const char *text, *msg;
  } cases[] = {
    { "ADR_PIDS=1\nADR_MEMORY=lots\n",
      "p/.adr:2: ADR_MEMORY: invalid size 'lots': expected a number with an optional unit (k, m, g, t)" },
    { "ADR_TIMEOUT=1.5h\n",
      "p/.adr:1: ADR_TIMEOUT: invalid duration '1.5h': decimals are not supported, use a smaller unit" },
    { "\n\nADR_AGENT=Bad\n",
      "p/.adr:3: ADR_AGENT: invalid agent name 'Bad' (lowercase letters, digits, '-', '_', '.')" },
    { "ADR_TAG='has space'\n", "p/.adr:1: ADR_TAG: invalid image tag 'has space'" },
    { "ADR_CPUS=0\n", "p/.adr:1: ADR_CPUS: invalid CPU count '0': must be greater than 0" },
    { "ADR_PIDS=many\n", "p/.adr:1: ADR_PIDS: invalid number 'many'" },
    { "ADR_TIMEOUT=0s\n", "p/.adr:1: ADR_TIMEOUT: invalid duration '0s': must be between 1s and 100 years" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    cleanup_config struct adr_config c;
    adr_config_init(&c);
    adr_err err = NULL;
    assert_true(adr_config_load_buf(&c, cases[i].text, strlen(cases[i].text), "p/.adr", &err) < 0);
    assert_string_equal(err->msg, cases[i].msg);
    assert_int_equal(err->errnum, EINVAL);
    adr_err_free(&err);
  }
  /* an empty ADR_TIMEOUT is allowed (no timeout) */
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  const char *s = "ADR_TIMEOUT=\n";
  assert_int_equal(adr_config_load_buf(&c, s, strlen(s), "p", &err), 0);
  expect_entry(&c, "ADR_TIMEOUT", "", "p:1");
}

/* ---------------------------------------------------------- load files */

static void test_load_precedence(void **state)
{
  struct fx *f = *state;
  write_text(f->global, "# global\nADR_MEMORY=8g\nADR_TAG=g\nADR_CPUS=3\nGLOBAL_ONLY=1\n");
  write_text(f->project_file, "ADR_TAG=p\n\nADR_CPUS=1.5\nPROJECT_ONLY=1\n");
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  if (adr_config_load(&c, f->cwd, &err) < 0)
    fail_msg("load: %s", err->msg);
  assert_string_equal(c.global_path, f->global);
  assert_non_null(c.project_path);
  assert_string_equal(c.project_path, f->project_file);

  cleanup_free char *g2 = xasprintf("%s:2", f->global);
  cleanup_free char *p1 = xasprintf("%s:1", f->project_file);
  cleanup_free char *p3 = xasprintf("%s:3", f->project_file);
  assert_null(adr_config_get(&c, "ADR_AGENT"));
  expect_entry(&c, "ADR_MEMORY", "8g", g2);
  expect_entry(&c, "ADR_TAG", "p", p1);
  expect_entry(&c, "ADR_CPUS", "1.5", p3);

  adr_config_put(&c, "ADR_TAG", "cli", "command line");
  expect_entry(&c, "ADR_TAG", "cli", "command line");
  expect_entry(&c, "ADR_CPUS", "1.5", p3);

  assert_int_equal(c.warnings.n, 2);
  cleanup_free char *w0 = xasprintf("%s:5: unknown key 'GLOBAL_ONLY' (ignored)", f->global);
  cleanup_free char *w1 = xasprintf("%s:4: unknown key 'PROJECT_ONLY' (ignored)", f->project_file);
  assert_string_equal(c.warnings.v[0], w0);
  assert_string_equal(c.warnings.v[1], w1);
}

static void test_load_nearest_project_only(void **state)
{
  struct fx *f = *state;
  /* root/.adr further up is ignored: only the nearest .adr counts */
  cleanup_free char *far = xasprintf("%s/.adr", f->root);
  write_text(far, "ADR_PIDS=7\nADR_TAG=far\n");
  write_text(f->project_file, "ADR_TAG=near\n");
  /* a directory named .adr on the way is not a project file */
  cleanup_free char *dir_adr = xasprintf("%s/.adr", f->cwd);
  mkdir_or_die(dir_adr);
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  assert_int_equal(adr_config_load(&c, f->cwd, &err), 0);
  assert_string_equal(c.project_path, f->project_file);
  cleanup_free char *p1 = xasprintf("%s:1", f->project_file);
  expect_entry(&c, "ADR_TAG", "near", p1);
  expect_entry(&c, "ADR_PIDS", "1024", "default");
  /* cwd given with . and .. and // components */
  cleanup_free char *messy = xasprintf("%s//a/./b/../b", f->proj);
  cleanup_free char *found = adr_config_find_project(messy);
  assert_string_equal(found, f->project_file);
  /* from the project dir itself */
  free(found);
  found = adr_config_find_project(f->proj);
  assert_string_equal(found, f->project_file);
}

static void test_load_no_files(void **state)
{
  struct fx *f = *state;
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  size_t n0 = c.n;
  assert_int_equal(adr_config_load(&c, f->cwd, &err), 0);
  assert_string_equal(c.global_path, f->global);
  assert_null(c.project_path); /* assumes no .adr above the temp dir */
  assert_int_equal(c.n, n0);
  cleanup_config struct adr_config c2;
  adr_config_init(&c2);
  assert_int_equal(adr_config_load(&c2, NULL, &err), 0);
  assert_null(c2.project_path);
}

static void test_global_path_fallback(void **state)
{
  struct fx *f = *state;
  char *p = adr_config_global_path();
  assert_string_equal(p, f->global);
  free(p);
  /* a relative XDG_CONFIG_HOME is ignored (XDG spec): ~/.config */
  setenv("XDG_CONFIG_HOME", "relative/dir", 1);
  p = adr_config_global_path();
  cleanup_free char *want = xasprintf("%s/.config/adr/config", f->root);
  assert_string_equal(p, want);
  free(p);
  unsetenv("XDG_CONFIG_HOME");
  p = adr_config_global_path();
  assert_string_equal(p, want);
  free(p);
  setenv("XDG_CONFIG_HOME", f->xdg, 1);
}

static void test_load_errors(void **state)
{
  struct fx *f = *state;
  /* an invalid value in the project file: FILE:LINE: KEY: ... */
  write_text(f->project_file, "ADR_TAG=ok\nADR_MEMORY=lots\n");
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  assert_true(adr_config_load(&c, f->cwd, &err) < 0);
  cleanup_free char *want = xasprintf(
    "%s:2: ADR_MEMORY: invalid size 'lots': expected a number with an optional unit (k, m, g, t)", f->project_file);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);

  /* a syntax error in the global file */
  write_text(f->global, "ADR_TAG='open\n");
  cleanup_config struct adr_config c2;
  adr_config_init(&c2);
  assert_true(adr_config_load(&c2, f->cwd, &err) < 0);
  cleanup_free char *want2 = xasprintf("%s:1: unterminated single quote", f->global);
  assert_string_equal(err->msg, want2);
  adr_err_free(&err);

  /* load_file: must_exist, directories, size limit */
  cleanup_config struct adr_config c3;
  adr_config_init(&c3);
  cleanup_free char *missing = xasprintf("%s/missing", f->root);
  assert_int_equal(adr_config_load_file(&c3, missing, false, &err), 0);
  assert_true(adr_config_load_file(&c3, missing, true, &err) < 0);
  assert_int_equal(err->errnum, ENOENT);
  assert_non_null(strstr(err->msg, missing));
  adr_err_free(&err);
  assert_true(adr_config_load_file(&c3, f->proj, false, &err) < 0);
  cleanup_free char *want3 = xasprintf("config file '%s': not a regular file", f->proj);
  assert_string_equal(err->msg, want3);
  adr_err_free(&err);

  cleanup_free char *big = xasprintf("%s/big", f->root);
  FILE *fp = fopen(big, "w");
  assert_non_null(fp);
  for (int i = 0; i < (1 << 20) / 16 + 1; i++)
    fputs("# padding.......\n", fp);
  fclose(fp);
  assert_true(adr_config_load_file(&c3, big, true, &err) < 0);
  cleanup_free char *want4 = xasprintf("config file '%s': larger than 1 MiB", big);
  assert_string_equal(err->msg, want4);
  adr_err_free(&err);
}

/* ---------------------------------------------------------- file edits */

static void test_file_set_in_place(void **state)
{
  struct fx *f = *state;
  cleanup_free char *path = xasprintf("%s/edit.conf", f->root);
  write_text(path,
             "# header comment\n"
             "ADR_TAG=v1 # trailing\n"
             "\n"
             "export ADR_MEMORY=2g\n"
             "UNKNOWN=keep me\n"
             "# end\n");
  assert_int_equal(chmod(path, 0600), 0);
  adr_err err = NULL;
  assert_int_equal(adr_config_file_set(path, "ADR_MEMORY", "8g", &err), 0);
  cleanup_free char *t1 = read_text(path);
  assert_string_equal(t1,
                      "# header comment\n"
                      "ADR_TAG=v1 # trailing\n"
                      "\n"
                      "ADR_MEMORY=8g\n"
                      "UNKNOWN=keep me\n"
                      "# end\n");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);

  /* absent: appended */
  assert_int_equal(adr_config_file_set(path, "ADR_CPUS", "3", &err), 0);
  cleanup_free char *t2 = read_text(path);
  assert_string_equal(t2,
                      "# header comment\n"
                      "ADR_TAG=v1 # trailing\n"
                      "\n"
                      "ADR_MEMORY=8g\n"
                      "UNKNOWN=keep me\n"
                      "# end\n"
                      "ADR_CPUS=3\n");

  /* values that need quoting */
  assert_int_equal(adr_config_file_set(path, "ADR_MOUNTS", "/a b:/x /c:/d:rw", &err), 0);
  cleanup_free char *t3 = read_text(path);
  assert_non_null(strstr(t3, "\nADR_MOUNTS=\"/a b:/x /c:/d:rw\"\n"));
  /* no temp files left behind */
  cleanup_free char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
  assert_int_equal(access(tmp, F_OK), -1);
}

static void test_file_set_reload_roundtrip(void **state)
{
  struct fx *f = *state;
  cleanup_free char *path = xasprintf("%s/rt.conf", f->root);
  static const char *const values[] = {
    "two words",       "it's",  "say \"hi\"", "$HOME and `x`", "back\\slash", "multi\nline", " pad ",
    "# not a comment", "a # b", "",           "plain",         "tab\tx",
  };
  for (size_t i = 0; i < ARRAY_SIZE(values); i++) {
    adr_err err = NULL;
    assert_int_equal(adr_config_file_set(path, "ADR_MODEL_X", values[i], &err), 0);
    assert_int_equal(adr_config_file_set(path, "ADR_IMAGE_PREFIX", values[i], &err), 0);
    cleanup_config struct adr_config c;
    adr_config_init(&c);
    if (adr_config_load_file(&c, path, true, &err) < 0)
      fail_msg("reload after setting [%s]: %s", values[i], err->msg);
    cleanup_free char *o1 = xasprintf("%s:1", path);
    cleanup_free char *o2 = xasprintf("%s:2", path);
    expect_entry(&c, "ADR_MODEL_X", values[i], o1);
    expect_entry(&c, "ADR_IMAGE_PREFIX", values[i], o2);
  }
  /* replacing in place: still two lines */
  cleanup_free char *text = read_text(path);
  size_t lines = 0;
  for (const char *p = text; *p; p++)
    lines += *p == '\n';
  assert_int_equal(lines, 2);
}

static void test_file_set_duplicates_and_edge_cases(void **state)
{
  struct fx *f = *state;
  cleanup_free char *path = xasprintf("%s/dup.conf", f->root);
  adr_err err = NULL;
  /* every line of the key goes; the first is replaced */
  write_text(path, "ADR_TAG=a\nADR_CPUS=1\nexport ADR_TAG=b\nADR_TAG\n");
  assert_int_equal(adr_config_file_set(path, "ADR_TAG", "c", &err), 0);
  cleanup_free char *t1 = read_text(path);
  assert_string_equal(t1, "ADR_TAG=c\nADR_CPUS=1\n");

  /* no trailing newline */
  write_text(path, "ADR_TAG=a");
  assert_int_equal(adr_config_file_set(path, "ADR_CPUS", "2", &err), 0);
  cleanup_free char *t2 = read_text(path);
  assert_string_equal(t2, "ADR_TAG=a\nADR_CPUS=2\n");

  /* CRLF lines are kept as they are; the replaced line is LF */
  write_text(path, "# c\r\nADR_TAG=a\r\nADR_CPUS=1\r\n");
  assert_int_equal(adr_config_file_set(path, "ADR_TAG", "b", &err), 0);
  cleanup_free char *t3 = read_text(path);
  assert_string_equal(t3, "# c\r\nADR_TAG=b\nADR_CPUS=1\r\n");

  /* a prefix of another key is a different key */
  write_text(path, "ADR_MODEL_PI=x\nADR_MODEL_P=y\n");
  assert_int_equal(adr_config_file_set(path, "ADR_MODEL_P", "z", &err), 0);
  cleanup_free char *t4 = read_text(path);
  assert_string_equal(t4, "ADR_MODEL_PI=x\nADR_MODEL_P=z\n");

  /* a malformed file is not rewritten */
  write_text(path, "ADR_TAG=a\nthis is not valid\n");
  assert_true(adr_config_file_set(path, "ADR_TAG", "b", &err) < 0);
  cleanup_free char *want = xasprintf("cannot edit a malformed file: %s:2: invalid key (expected KEY=VALUE)", path);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
  cleanup_free char *t5 = read_text(path);
  assert_string_equal(t5, "ADR_TAG=a\nthis is not valid\n");
}

static void test_file_set_creates(void **state)
{
  struct fx *f = *state;
  cleanup_free char *path = xasprintf("%s/new/dirs/here/config", f->root);
  adr_err err = NULL;
  assert_int_equal(adr_config_file_set(path, "ADR_TAG", "v9", &err), 0);
  cleanup_free char *t = read_text(path);
  assert_string_equal(t, "ADR_TAG=v9\n");
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  /* a parent that is a file */
  cleanup_free char *bad = xasprintf("%s/config/sub/x", path);
  assert_true(adr_config_file_set(bad, "ADR_TAG", "v", &err) < 0);
  assert_non_null(err);
  adr_err_free(&err);
}

static void test_file_unset(void **state)
{
  struct fx *f = *state;
  cleanup_free char *path = xasprintf("%s/unset.conf", f->root);
  adr_err err = NULL;
  write_text(path, "# keep\nADR_TAG=a\nADR_CPUS=1 # c\nexport ADR_TAG='b'\n\n# tail\n");
  assert_int_equal(adr_config_file_unset(path, "ADR_TAG", &err), 0);
  cleanup_free char *t1 = read_text(path);
  assert_string_equal(t1, "# keep\nADR_CPUS=1 # c\n\n# tail\n");
  /* absent key: unchanged */
  assert_int_equal(adr_config_file_unset(path, "ADR_MEMORY", &err), 0);
  cleanup_free char *t2 = read_text(path);
  assert_string_equal(t2, t1);
  assert_int_equal(adr_config_file_unset(path, "ADR_CPUS", &err), 0);
  cleanup_free char *t3 = read_text(path);
  assert_string_equal(t3, "# keep\n\n# tail\n");
  /* reload: the defaults are back */
  cleanup_config struct adr_config c;
  adr_config_init(&c);
  assert_int_equal(adr_config_load_file(&c, path, true, &err), 0);
  expect_entry(&c, "ADR_TAG", "latest", "default");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_keys_and_defaults),
    cmocka_unit_test(test_key_find),
    cmocka_unit_test(test_validate),
    cmocka_unit_test(test_put_origins),
    cmocka_unit_test(test_load_buf_origins),
    cmocka_unit_test(test_model_keys),
    cmocka_unit_test(test_unknown_keys_warn_once),
    cmocka_unit_test(test_unknown_keys_capped),
    cmocka_unit_test(test_file_set_too_long),
    cmocka_unit_test(test_unknown_key_prefix_order),
    cmocka_unit_test(test_invalid_values),
    cmocka_unit_test_setup_teardown(test_load_precedence, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_load_nearest_project_only, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_load_no_files, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_global_path_fallback, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_load_errors, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_file_set_in_place, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_file_set_reload_roundtrip, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_file_set_duplicates_and_edge_cases, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_file_set_creates, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_file_unset, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
