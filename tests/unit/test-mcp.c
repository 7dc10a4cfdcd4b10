/* Unit tests for mcp.h (mcp.json: the reader, secret references, each
 * dialect's entry) and its part in the credential plan (creds-mcp.c): a
 * secret goes to a sidecar's environment or a relay route, never to the
 * sandbox's side. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent.h"
#include "creds.h"
#include "mcp.h"
#include "secret.h"
#include "tmpdir.h"

#include <jansson.h>
#include <string.h>

#define SIDE_KEY "side-secret-0123456789abcdef"
#define REMOTE_KEY "remote-secret-0123456789abcdef"

static const char full[] =
  "{\"mcpServers\": {"
  " \"side\": {\"command\": \"node\", \"args\": [\"/opt/s.js\"], \"env\": {\"PROBE_TOKEN\": \"${secret:SIDE}\","
  "   \"MODE\": \"x\"}},"
  " \"inside\": {\"command\": \"npx\", \"args\": [\"-y\", \"pkg\"], \"env\": {\"DEBUG\": \"1\"}},"
  " \"remote\": {\"url\": \"https://mcp.example.internal/mcp?x=1\","
  "   \"headers\": {\"Authorization\": \"Bearer ${secret:REMOTE}\", \"X-Trace\": \"on\"}},"
  " \"open\": {\"url\": \"http://127.0.0.1:8080/mcp\"},"
  " \"codex_only\": {\"command\": \"true\", \"agents\": [\"codex\"]}"
  "}}";

static void parse_ok(const char *text, struct adr_mcp *m)
{
  adr_err err = NULL;
  int r = adr_mcp_parse(text, strlen(text), "mcp.json", m, &err);
  if (r < 0)
    print_error("%s\n", err->msg);
  assert_int_equal(r, 0);
}

static const struct adr_mcp_server *find(const struct adr_mcp *m, const char *name)
{
  for (size_t i = 0; i < m->n; i++)
    if (streq(m->v[i].name, name))
      return &m->v[i];
  return NULL;
}

static void test_parse(void **state)
{
  (void)state;
  struct adr_mcp m;
  parse_ok(full, &m);
  assert_int_equal(m.n, 5);
  const struct adr_mcp_server *s = find(&m, "side");
  assert_int_equal(s->kind, ADR_MCP_STDIO);
  assert_true(s->secret);
  assert_string_equal(s->env.v[0], "PROBE_TOKEN=${secret:SIDE}");
  assert_false(find(&m, "inside")->secret);
  s = find(&m, "remote");
  assert_int_equal(s->kind, ADR_MCP_HTTP);
  assert_true(s->secret);
  assert_false(find(&m, "open")->secret);
  assert_true(adr_mcp_for(find(&m, "codex_only"), "codex"));
  assert_false(adr_mcp_for(find(&m, "codex_only"), "claude"));
  assert_true(adr_mcp_for(find(&m, "side"), "claude"));
  adr_mcp_free(&m);
  /* a file that is not there: no servers */
  adr_err err = NULL;
  assert_int_equal(adr_mcp_load("/nonexistent/mcp.json", &m, &err), 0);
  assert_int_equal(m.n, 0);
}

static void test_parse_errors(void **state)
{
  (void)state;
  static const struct {
    const char *json, *want;
  } cases[] = {
    { "[]", "an object with \"mcpServers\"" },
    { "{\"mcpServers\": {}, \"x\": 1}", "unknown field \"x\"" },
    { "{\"mcpServers\": {\"a b\": {\"command\": \"x\"}}}", "server 'a b': a name is" },
    { "{\"mcpServers\": {\"a\": {}}}", "either \"command\" (stdio) or \"url\"" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"url\": \"https://h\"}}}", "either" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"bogus\": 1}}}", "unknown field \"bogus\"" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"GITHUB_TOKEN\": \"ghp_literal\"}}}}",
      "env GITHUB_TOKEN holds a literal value that looks like a credential" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"K\": \"${secret:bad name}\"}}}}",
      "write a secret as ${secret:NAME}" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"env\": {\"K\": \"${secret:A}${secret:B}\"}}}}",
      "write a secret as" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://h/m\", \"headers\": {\"Authorization\": \"Bearer abc\"}}}}",
      "header Authorization holds a literal credential" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://h/m\", \"headers\": {\"X-Other\": \"${secret:A}\"}}}}",
      "the relay puts a secret only in" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://h/m\", \"headers\": {\"Authorization\": \"Token ${secret:A}\"}}}}",
      "the relay puts a secret only in" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"http://h/m\", \"headers\": {\"x-api-key\": \"${secret:A}\"}}}}",
      "must be https" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://h/m\", \"headers\": {\"x-api-key\": \"${secret:A}\", "
      "\"api-key\": \"${secret:B}\"}}}}",
      "one secret per remote server" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://u:p@h/m\"}}}", "without credentials" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"ftp://h/m\"}}}", "an http(s) URL" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://h/${secret:A}\"}}}", "a secret in the URL" },
    { "{\"mcpServers\": {\"a\": {\"url\": \"https://h/m\", \"env\": {}}}}", "are for a stdio server" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"headers\": {}}}}", "are for a remote server" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"network\": \"host\"}}}", "\"network\" must be" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"type\": \"sse\"}}}", "\"type\" must be \"stdio\"" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\", \"agents\": [\"../x\"]}}}", "is not an agent name" },
    { "{\"mcpServers\": {\"a\": {\"command\": \"x\"}, \"a\": {\"command\": \"y\"}}}", "duplicate" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    struct adr_mcp m;
    adr_err err = NULL;
    int r = adr_mcp_parse(cases[i].json, strlen(cases[i].json), "mcp.json", &m, &err);
    if (r == 0 || !strstr(err->msg, cases[i].want))
      print_error("case %zu: %s\n", i, r == 0 ? "accepted" : err->msg);
    assert_int_equal(r, -1);
    assert_non_null(strstr(err->msg, cases[i].want));
    assert_true(str_has_prefix(err->msg, "mcp.json"));
    adr_err_free(&err);
  }
}

static void test_secret_ref(void **state)
{
  (void)state;
  char *name = NULL;
  assert_true(adr_mcp_secret_ref("Bearer ${secret:GH_TOKEN}", &name));
  assert_string_equal(name, "GH_TOKEN");
  free(name);
  assert_false(adr_mcp_secret_ref("plain", &name));
  assert_null(name);
  cleanup_free char *s = adr_mcp_secret_subst("Bearer ${secret:GH_TOKEN}!", "S");
  assert_string_equal(s, "Bearer S!");
}

static json_t *entry(const char *dialect, enum adr_mcp_kind kind)
{
  static struct strv args, env, headers;
  strv_free(&args);
  strv_free(&env);
  strv_free(&headers);
  strv_push(&args, "-y");
  strv_push(&env, "K=v");
  strv_push(&headers, "X-A=b");
  struct adr_mcp_entry e = {
    .name = "srv", .kind = kind, .command = "cmd", .args = &args, .env = &env, .url = "https://h/m", .headers = &headers
  };
  return adr_mcp_json_entry(dialect, &e);
}

static void test_dialects(void **state)
{
  (void)state;
  json_t *j = entry("claude", ADR_MCP_STDIO);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "stdio");
  assert_string_equal(json_string_value(json_object_get(j, "command")), "cmd");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "args"), 0)), "-y");
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "env"), "K")), "v");
  json_decref(j);
  j = entry("claude", ADR_MCP_HTTP);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "http");
  assert_string_equal(json_string_value(json_object_get(j, "url")), "https://h/m");
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "headers"), "X-A")), "b");
  json_decref(j);
  j = entry("gemini", ADR_MCP_HTTP);
  assert_string_equal(json_string_value(json_object_get(j, "httpUrl")), "https://h/m");
  assert_null(json_object_get(j, "type"));
  json_decref(j);
  j = entry("copilot", ADR_MCP_STDIO);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "local");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "tools"), 0)), "*");
  json_decref(j);
  j = entry("opencode", ADR_MCP_STDIO);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "local");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "command"), 0)), "cmd");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "command"), 1)), "-y");
  assert_string_equal(json_string_value(json_object_get(json_object_get(j, "environment"), "K")), "v");
  json_decref(j);
  j = entry("opencode", ADR_MCP_HTTP);
  assert_string_equal(json_string_value(json_object_get(j, "type")), "remote");
  json_decref(j);
  /* codex: a TOML inline table, strings escaped */
  struct strv args = { 0 }, env = { 0 };
  strv_push(&args, "say \"hi\"\\");
  strv_push(&env, "K=a\nb");
  struct adr_mcp_entry e = { .name = "srv", .kind = ADR_MCP_STDIO, .command = "node", .args = &args, .env = &env };
  cleanup_free char *a = adr_mcp_codex_arg(&e);
  assert_string_equal(a, "mcp_servers.srv={command=\"node\",args=[\"say \\\"hi\\\"\\\\\"],env={\"K\"=\"a\\u000ab\"}}");
  strv_free(&args);
  strv_free(&env);
  struct strv h = { 0 };
  strv_push(&h, "Authorization=Bearer S");
  struct adr_mcp_entry r = { .name = "r", .kind = ADR_MCP_HTTP, .url = "http://x/m", .headers = &h };
  cleanup_free char *b = adr_mcp_codex_arg(&r);
  assert_string_equal(b, "mcp_servers.r={url=\"http://x/m\",http_headers={\"Authorization\"=\"Bearer S\"}}");
  strv_free(&h);
  assert_true(adr_mcp_dialect_valid("codex"));
  assert_false(adr_mcp_dialect_json("codex"));
  assert_false(adr_mcp_dialect_valid("cursor"));
}

/* ---- the plan ------------------------------------------------------------ */

struct fx {
  struct adr_agents agents;
  struct adr_mcp mcp;
  char *secrets;
  struct strv user_env;
};

static int setup(void **state)
{
  if (tmp_make("adr-mcp") < 0)
    return -1;
  struct fx *f = xcalloc(1, sizeof(*f));
  adr_err err = NULL;
  cleanup_free char *none = xasprintf("%s/no-agents", dir);
  if (adr_agents_load(&f->agents, none, &err) < 0)
    return -1;
  f->secrets = xasprintf("%s/secrets", dir);
  if (adr_secret_set(f->secrets, "SIDE", SIDE_KEY, strlen(SIDE_KEY), &err) < 0 ||
      adr_secret_set(f->secrets, "REMOTE", REMOTE_KEY, strlen(REMOTE_KEY), &err) < 0)
    return -1;
  if (adr_mcp_parse(full, strlen(full), "mcp.json", &f->mcp, &err) < 0)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fx *f = *state;
  adr_agents_free(&f->agents);
  adr_mcp_free(&f->mcp);
  free(f->secrets);
  strv_free(&f->user_env);
  free(f);
  return tmp_remove();
}

static const char *no_env(const char *n)
{
  (void)n;
  return NULL;
}

static int plan(struct fx *f, const char *agent, struct adr_creds_plan *p, adr_err *err)
{
  struct adr_creds_in in = {
    .agent = adr_agents_find(&f->agents, agent),
    .host_home = dir,
    .user_env = &f->user_env,
    .secrets_dir = f->secrets,
    .getenv = no_env,
    .mcp = &f->mcp,
  };
  assert_non_null(in.agent);
  return adr_creds_plan(&in, p, err);
}

static void assert_clean(const struct adr_creds_plan *p)
{
  static const char *const keys[] = { SIDE_KEY, REMOTE_KEY };
  for (size_t k = 0; k < 2; k++) {
    for (size_t i = 0; i < p->env.n; i++)
      assert_null(strstr(p->env.v[i], keys[k]));
    for (size_t i = 0; i < p->args.n; i++)
      assert_null(strstr(p->args.v[i], keys[k]));
    for (size_t i = 0; i < p->n_overlays; i++)
      assert_null(strstr(p->overlays[i].content, keys[k]));
  }
}

static void test_plan_claude(void **state)
{
  struct fx *f = *state;
  struct adr_creds_plan p;
  adr_err err = NULL;
  assert_int_equal(plan(f, "claude", &p, &err), 0);
  assert_clean(&p);
  /* the sidecar: the real key in its environment */
  assert_int_equal(p.n_sidecars, 1);
  assert_string_equal(p.sidecars[0].name, "side");
  assert_string_equal(p.sidecars[0].argv.v[0], "node");
  assert_non_null(strstr(p.sidecars[0].env_json, SIDE_KEY));
  /* the remote: a route of its own, one path; no agent route (no key) */
  assert_int_equal(p.n_agent_routes, 0);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].name, "mcp-remote");
  assert_string_equal(p.routes[0].upstream, "https://mcp.example.internal");
  assert_int_equal(p.routes[0].paths.n, 1);
  assert_string_equal(p.routes[0].paths.v[0], "/mcp");
  assert_string_equal(p.routes[0].key, REMOTE_KEY);
  cleanup_free char *rf = adr_creds_route_file(&p);
  assert_non_null(strstr(rf, "\npath /mcp\n"));
  assert_null(strstr(rf, "/v1/messages"));
  /* the direct one is allowlisted; the relayed one is not */
  assert_true(strv_contains(&p.mcp_hosts, "127.0.0.1:8080"));
  assert_int_equal(p.mcp_hosts.n, 1);
  /* ~/.claude.json's copy */
  const char *c = NULL;
  for (size_t i = 0; i < p.n_overlays; i++)
    if (streq(p.overlays[i].rel, ".claude.json"))
      c = p.overlays[i].content;
  assert_non_null(c);
  json_t *j = json_loads(c, 0, NULL), *s = json_object_get(j, "mcpServers");
  json_t *side = json_object_get(s, "side"), *remote = json_object_get(s, "remote");
  assert_string_equal(json_string_value(json_object_get(side, "command")), "node");
  assert_string_equal(json_string_value(json_array_get(json_object_get(side, "args"), 2)), "/run/adr/mcp/side.sock");
  assert_string_equal(json_string_value(json_object_get(remote, "url")), ADR_RELAY_PLACEHOLDER "/mcp-remote/mcp?x=1");
  cleanup_free char *bearer = xasprintf("Bearer %s", p.routes[0].sentinel);
  assert_string_equal(json_string_value(json_object_get(json_object_get(remote, "headers"), "Authorization")), bearer);
  assert_string_equal(json_string_value(json_object_get(json_object_get(remote, "headers"), "X-Trace")), "on");
  assert_string_equal(json_string_value(json_object_get(json_object_get(s, "inside"), "command")), "npx");
  assert_null(json_object_get(s, "codex_only"));
  assert_true(strv_contains(&p.mcp_names, "open"));
  assert_false(strv_contains(&p.mcp_names, "codex_only"));
  json_decref(j);
  adr_creds_plan_free(&p);
}

static void test_plan_codex_and_pi(void **state)
{
  struct fx *f = *state;
  struct adr_creds_plan p;
  adr_err err = NULL;
  assert_int_equal(plan(f, "codex", &p, &err), 0);
  assert_clean(&p);
  bool side = false, only = false;
  for (size_t i = 0; i + 1 < p.args.n; i++) {
    side = side || (streq(p.args.v[i], "-c") && str_has_prefix(p.args.v[i + 1], "mcp_servers.side={command=\"node\""));
    only = only || str_has_prefix(p.args.v[i + 1], "mcp_servers.codex_only=");
  }
  assert_true(side);
  assert_true(only);
  adr_creds_plan_free(&p);
  /* pi has no MCP client: said, nothing planned */
  assert_int_equal(plan(f, "pi", &p, &err), 0);
  assert_int_equal(p.n_sidecars, 0);
  bool said = false;
  for (size_t i = 0; i < p.notes.n; i++)
    said = said || strstr(p.notes.v[i], "no MCP client");
  assert_true(said);
  adr_creds_plan_free(&p);
}

static void test_plan_missing_secret(void **state)
{
  struct fx *f = *state;
  adr_err err = NULL;
  assert_int_equal(adr_secret_remove(f->secrets, "REMOTE", &err), 0);
  struct adr_creds_plan p;
  assert_int_equal(plan(f, "gemini", &p, &err), -1);
  assert_non_null(strstr(err->msg, "server 'remote': no secret REMOTE (store it with 'adr secret set REMOTE')"));
  adr_err_free(&err);
  adr_creds_plan_free(&p);
  assert_int_equal(adr_secret_set(f->secrets, "REMOTE", REMOTE_KEY, strlen(REMOTE_KEY), &err), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test(test_secret_ref),
    cmocka_unit_test(test_dialects),
    cmocka_unit_test_setup_teardown(test_plan_claude, setup, teardown),
    cmocka_unit_test_setup_teardown(test_plan_codex_and_pi, setup, teardown),
    cmocka_unit_test_setup_teardown(test_plan_missing_secret, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
