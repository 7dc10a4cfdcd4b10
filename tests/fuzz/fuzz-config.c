/* Fuzz target for the KEY=VALUE parser and the config loader.
 *
 * Built with -DADR_LIBFUZZER and -fsanitize=fuzzer (meson -Dfuzz=true, clang)
 * this is a libFuzzer target; otherwise, linked with replay.c, a replay program that runs
 * every file of the directories (or files) given as arguments through the
 * same entry point, so the corpus is a regression test:
 *
 *   fuzz-config-replay tests/fuzz/corpus/config
 *
 * Besides "no crash, no leak, no undefined behaviour" it checks properties:
 * every value the parser returns is read back unchanged after adr_kv_quote,
 * and every duration it accepts is printed in a form it accepts again. */
#include "config.h"
#include "parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *value)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-config: property violated: %s (value [%s])\n", what, value ? value : "(null)");
  abort();
}

static int one_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  (void)line;
  (void)err;
  (void)key;
  char **got = ud;
  free(*got);
  *got = value ? xstrdup(value) : NULL;
  return 0;
}

static int kv_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  (void)ud;
  (void)err;
  check(line > 0, "line numbers start at 1", key);
  check(adr_valid_env_name(key, strlen(key)), "keys are valid names", key);
  if (value == NULL)
    return 0;

  /* adr_kv_quote round trip (unless quoting made the line longer than a
   * line may be: escapes can double a value's length) */
  adr_err e2 = NULL;
  cleanup_free char *q = adr_kv_quote(value);
  cleanup_free char *text = xasprintf("%s=%s\n", key, q);
  if (strlen(text) - 1 <= ADR_KV_MAX_LINE) {
    char *back = NULL;
    int r = adr_kv_parse(text, strlen(text), "quoted", 0, one_cb, &back, &e2);
    if (r < 0)
      fprintf(stderr, "fuzz-config: quoted value does not parse: %s\n", e2->msg);
    check(r == 0, "quoted value parses", value);
    check(back != NULL && strcmp(back, value) == 0, "quoted value reads back unchanged", value);
    free(back);
    adr_err_free(&e2);
  }

  /* the scalar parsers on arbitrary text */
  uint64_t u;
  int64_t i;
  if (adr_parse_duration(value, &u, &e2) == 0) {
    cleanup_free char *f = adr_format_duration(u);
    uint64_t u2 = 0;
    check(adr_parse_duration(f, &u2, &e2) == 0 && u2 == u, "formatted duration parses back", value);
  }
  adr_err_free(&e2);
  adr_parse_size(value, &u, &e2);
  adr_err_free(&e2);
  if (adr_parse_cpus(value, &i, &e2) == 0)
    check(i > 0, "cpus are positive", value);
  adr_err_free(&e2);
  char *k = NULL, *v = NULL;
  if (adr_parse_env(value, &k, &v, &e2) == 0) {
    free(k);
    free(v);
  }
  adr_err_free(&e2);
  if (value[0] == '/') {
    char *n = adr_path_normalize(value);
    check(n[0] == '/' && strstr(n, "//") == NULL && strstr(n, "/./") == NULL, "normalised path", value);
    free(n);
  }
  char *prov = NULL, *name = NULL;
  adr_split_model(value, &prov, &name);
  free(prov);
  free(name);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;

  struct adr_config c;
  adr_config_init(&c);
  adr_err err = NULL;
  if (adr_config_load_buf(&c, s, size, "fuzz", &err) < 0)
    check(err != NULL && err->msg != NULL, "errors carry a message", NULL);
  adr_err_free(&err);
  for (size_t i = 0; i < c.n; i++)
    check(c.e[i].value != NULL && c.e[i].origin != NULL, "entries are complete", c.e[i].key);
  adr_config_free(&c);

  if (adr_kv_parse(s, size, "fuzz", ADR_KV_ALLOW_BARE, kv_cb, NULL, &err) < 0)
    check(err != NULL && strncmp(err->msg, "fuzz", 4) == 0, "errors name the file", NULL);
  adr_err_free(&err);
  return 0;
}
