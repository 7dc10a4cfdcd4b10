/* Fuzz target for agent definitions (adr_agent_parse) and the argv built
 * from them (adr_agent_argv).
 *
 * Built with -DADR_LIBFUZZER and -fsanitize=fuzzer (meson -Dfuzz=true, clang)
 * this is a libFuzzer target; otherwise it is a replay program that runs
 * every file of the directories (or files) given as arguments:
 *
 *   fuzz-agent-replay tests/fuzz/corpus/agent */
#include "agent.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-agent: property violated: %s\n", what);
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct adr_agent a;
  adr_err err = NULL;
  if (adr_agent_parse((const char *)data, size, "fuzz.json", &a, &err) < 0) {
    check(err != NULL && strncmp(err->msg, "fuzz.json", 9) == 0, "errors name the source");
    check(a.name == NULL && a.configs == NULL && a.source == NULL, "nothing left on failure");
    adr_err_free(&err);
    return 0;
  }
  check(adr_agent_name_valid(a.name), "valid name");
  check(a.binary && a.npm_package && a.npm_version, "required fields");
  check(strv_contains(&a.headless_args, "{prompt}"), "headless has {prompt}");
  for (size_t i = 0; i < a.n_configs; i++)
    check(a.configs[i].home[0] != '/' && strstr(a.configs[i].home, "..") == NULL, "config home inside HOME");

  static const char *const models[] = { NULL, "", "m", "prov/name", "/x", "a/b/c", "{model}" };
  char *extra[] = { "--extra", "{prompt}" };
  for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
    for (int headless = 0; headless < 2; headless++) {
      struct strv out = { 0 };
      if (adr_agent_argv(&a, headless, "the prompt", models[i], extra, 2, &out, &err) == 0) {
        check(out.n >= 3 && strcmp(out.v[0], a.binary) == 0, "argv starts with the binary");
        check(strcmp(out.v[out.n - 1], "{prompt}") == 0, "extra args come last, verbatim");
        if (headless) {
          bool found = false;
          for (size_t k = 0; k < out.n; k++)
            found |= strcmp(out.v[k], "the prompt") == 0;
          check(found, "headless argv holds the prompt");
        }
      } else {
        check(err != NULL, "argv errors carry a message");
      }
      adr_err_free(&err);
      strv_free(&out);
    }
  }
  adr_agent_free(&a);
  return 0;
}

#ifndef ADR_LIBFUZZER
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

static int replay_file(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  char *buf = xmalloc(cap);
  size_t r;
  while ((r = fread(buf + len, 1, cap - len, f)) > 0) {
    len += r;
    if (len == cap)
      buf = xrealloc(buf, cap *= 2);
  }
  fclose(f);
  /* an exact-size copy, so that reading past the input is caught by ASan */
  uint8_t *exact = xmalloc(len ? len : 1);
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv)
{
  unsigned long n = 0;
  int bad = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
      bad = 1;
      continue;
    }
    if (!S_ISDIR(st.st_mode)) {
      bad |= replay_file(argv[i]) < 0;
      n++;
      continue;
    }
    struct dirent **list = NULL;
    int m = scandir(argv[i], &list, NULL, by_name);
    if (m < 0) {
      fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
      bad = 1;
      continue;
    }
    for (int j = 0; j < m; j++) {
      cleanup_free char *p = xasprintf("%s/%s", argv[i], list[j]->d_name);
      free(list[j]);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
        bad |= replay_file(p) < 0;
        n++;
      }
    }
    free(list);
  }
  printf("%s: ran %lu inputs\n", argv[0], n);
  if (n == 0) {
    fprintf(stderr, "%s: no inputs (usage: %s CORPUS_DIR|FILE...)\n", argv[0], argv[0]);
    return 1;
  }
  return bad;
}
#endif
