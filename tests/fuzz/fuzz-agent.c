/* Fuzz target for agent definitions (adr_agent_parse) and the argv built
 * from them (adr_agent_argv).
 *
 * Built with -DADR_LIBFUZZER and -fsanitize=fuzzer (meson -Dfuzz=true, clang)
 * this is a libFuzzer target; otherwise, linked with replay.c, a replay program that runs
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
  char e0[] = "--extra", e1[] = "{prompt}";
  char *extra[] = { e0, e1 };
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
