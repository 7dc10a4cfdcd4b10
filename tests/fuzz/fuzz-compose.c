/* Fuzz target for the compose reader: YAML with anchors, aliases and
 * merge keys, interpolation, the services' fields.  Besides "no crash, no
 * leak, no undefined behaviour": the alias bound holds (a service count
 * within the limit), and a file that loads names every service it lists
 * once. */
#include "compose.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fake_env(const char *name) { return strcmp(name, "HOME") == 0 ? "/home/u" : NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct strv withheld = { 0 };
  struct adr_compose_vars v = { .root = "/nonexistent-root", .getenv_fn = fake_env, .withheld = &withheld };
  struct adr_compose c;
  adr_err err = NULL;
  if (adr_compose_parse((const char *)data, size, "compose.yaml", "/nonexistent-root", "A=1\nB=two\n", &v, &c, &err) ==
      0) {
    if (c.n == 0 || c.n > ADR_COMPOSE_SERVICES) {
      fprintf(stderr, "fuzz-compose: %zu services\n", c.n);
      abort();
    }
    for (size_t i = 0; i < c.n; i++)
      if (adr_compose_find(&c, c.v[i].name) != &c.v[i]) {
        fprintf(stderr, "fuzz-compose: service '%s' twice\n", c.v[i].name);
        abort();
      }
    struct strv order = { 0 };
    adr_compose_order(&c, c.v[0].name, NULL, &order, &err);
    strv_free(&order);
  }
  adr_err_free(&err);
  adr_compose_free(&c);
  strv_free(&withheld);
  return 0;
}
