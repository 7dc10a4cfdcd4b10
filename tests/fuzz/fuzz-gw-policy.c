/* Fuzz target for the policy parser and the decision.  Built as a
 * libFuzzer target with -Dfuzz=true (clang), else as a corpus replay test
 * with replay.c; see fuzz-config.c.
 *
 * Properties: errors name the file and a line; every rule is complete; a
 * name rule's own name on one of its ports is allowed; a network rule's own
 * address on one of its ports is allowed; the log line of any label is one
 * line of JSON. */
#include "gw.h"
#include "policy.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, const char *ctx)
{
  if (ok)
    return;
  fprintf(stderr, "fuzz-gw-policy: property violated: %s [%s]\n", what, ctx ? ctx : "");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct gw_policy p;
  adr_err err = NULL;
  if (gw_policy_parse(&p, (const char *)data, size, "fuzz", &err) < 0) {
    check(err && strncmp(err->msg, "fuzz:", 5) == 0, "errors name file:line", err ? err->msg : NULL);
    adr_err_free(&err);
    return 0;
  }
  for (size_t i = 0; i < p.n; i++) {
    const struct gw_rule *r = &p.r[i];
    check(r->label && r->label[0], "label", NULL);
    check(r->any_port || r->nports > 0, "ports", r->label);
    uint16_t port = r->any_port ? 443 : r->ports[0];
    struct gw_decision d;
    char host[GW_HOST_MAX + 1];
    if (r->kind == GW_RULE_NAME) {
      snprintf(host, sizeof(host), "%s", r->name);
    } else if (r->kind == GW_RULE_WILDCARD) {
      snprintf(host, sizeof(host), "x%s", r->name);
      if (strlen(host) > GW_NAME_MAX)
        continue;
    } else {
      inet_ntop(r->net.family, r->net.a, host, sizeof(host));
    }
    gw_decide(&p, host, port, &d);
    check(d.allow, "a rule's own host is allowed", host);
    check(d.is_ip == (r->kind == GW_RULE_NET), "literal iff network rule", host);
    char line[GW_LOG_LINE_MAX];
    struct gw_logrec lr = {
      .sandbox = "s", .client = "c", .via = "proxy", .host = host, .port = port, .allow = true, .rule = r->label
    };
    size_t n = gw_log_format(&lr, line, sizeof(line));
    check(n > 2 && line[n - 1] == '\n' && memchr(line, '\n', n - 1) == NULL, "one log line", r->label);
  }
  gw_policy_free(&p);
  return 0;
}
