/* Unit tests for creds.h (the credential planner, with the six built-in
 * agent definitions), secret.h (adr's secret store) and the staging of a
 * plan by runspec.h: real keys go to relay routes only; the sandbox's side
 * (variables, arguments, staged files) holds sentinels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent.h"
#include "buf.h"
#include "creds.h"
#include "parse.h"
#include "paths.h"
#include "runspec.h"
#include "secret.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
  char home[64];
  char secrets[96];
  struct adr_agents agents;
  struct strv user_env;
  struct strv host_env;
};

static struct fx *F; /* for the getenv callback */

static const char *fake_getenv(const char *name)
{
  size_t n = strlen(name);
  for (size_t i = 0; i < F->host_env.n; i++)
    if (strncmp(F->host_env.v[i], name, n) == 0 && F->host_env.v[i][n] == '=')
      return F->host_env.v[i] + n + 1;
  return NULL;
}

static int setup(void **state)
{
  struct fx *f = xcalloc(1, sizeof(*f));
  snprintf(f->home, sizeof(f->home), "/tmp/adr-creds-XXXXXX");
  if (!mkdtemp(f->home))
    return -1;
  snprintf(f->secrets, sizeof(f->secrets), "%s/secrets", f->home);
  adr_err err = NULL;
  cleanup_free char *none = xasprintf("%s/no-agents", f->home);
  if (adr_agents_load(&f->agents, none, &err) < 0) {
    print_error("%s\n", err->msg);
    return -1;
  }
  F = f;
  *state = f;
  return 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *w)
{
  (void)st;
  (void)w;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int teardown(void **state)
{
  struct fx *f = *state;
  nftw(f->home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  adr_agents_free(&f->agents);
  strv_free(&f->user_env);
  strv_free(&f->host_env);
  free(f);
  return 0;
}

static void put(struct fx *f, const char *rel, const char *text)
{
  cleanup_free char *p = xasprintf("%s/%s", f->home, rel);
  char *slash = strrchr(p, '/');
  *slash = '\0';
  adr_err err = NULL;
  assert_int_equal(adr_mkdir_p(p, 0700, &err), 0);
  *slash = '/';
  assert_int_equal(write_file_atomic(p, text, strlen(text), 0600), 0);
}

static void plan(struct fx *f, const char *agent, struct adr_creds_plan *p)
{
  struct adr_creds_in in = {
    .agent = adr_agents_find(&f->agents, agent),
    .host_home = f->home,
    .user_env = &f->user_env,
    .secrets_dir = f->secrets,
    .getenv = fake_getenv,
  };
  assert_non_null(in.agent);
  adr_err err = NULL;
  assert_int_equal(adr_creds_plan(&in, p, &err), 0);
}

static const char *env_of(const struct strv *env, const char *name)
{
  size_t n = strlen(name);
  for (size_t i = 0; i < env->n; i++)
    if (strncmp(env->v[i], name, n) == 0 && env->v[i][n] == '=')
      return env->v[i] + n + 1;
  return NULL;
}

/* provider ID's options.NAME */
static json_t *jp(json_t *provs, const char *id, const char *name)
{
  return json_object_get(json_object_get(json_object_get(provs, id), "options"), name);
}

static const char *overlay(const struct adr_creds_plan *p, const char *rel)
{
  for (size_t i = 0; i < p->n_overlays; i++)
    if (streq(p->overlays[i].rel, rel))
      return p->overlays[i].content;
  return NULL;
}

/* no real key anywhere on the sandbox's side of a plan */
static void assert_clean(const struct adr_creds_plan *p, const char *key)
{
  for (size_t i = 0; i < p->env.n; i++)
    assert_null(strstr(p->env.v[i], key));
  for (size_t i = 0; i < p->args.n; i++)
    assert_null(strstr(p->args.v[i], key));
  for (size_t i = 0; i < p->n_overlays; i++)
    assert_null(strstr(p->overlays[i].content, key));
}

static void test_claude_env_and_settings(void **state)
{
  struct fx *f = *state;
  strv_push(&f->host_env, "ANTHROPIC_API_KEY=sk-host-env-1");
  put(f, ".claude/settings.json",
      "{\"env\": {\"ANTHROPIC_API_KEY\": \"sk-in-settings\", \"ANTHROPIC_AUTH_TOKEN\": \"tok-in-settings\","
      " \"OTHER\": \"x\"}, \"model\": \"m\"}");
  put(f, ".claude/.credentials.json", "{\"claudeAiOauth\": {\"accessToken\": \"oauth-secret\"}}");
  struct adr_creds_plan p;
  plan(f, "claude", &p);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].name, "anthropic");
  assert_string_equal(p.routes[0].upstream, "https://api.anthropic.com");
  assert_string_equal(p.routes[0].key, "sk-host-env-1"); /* the environment before the config file */
  assert_string_equal(p.routes[0].source, "the environment");
  assert_true(str_has_prefix(p.routes[0].sentinel, "adr-sentinel-"));
  assert_int_equal(strlen(p.routes[0].sentinel), 13 + 32);
  assert_string_equal(env_of(&p.env, "ANTHROPIC_API_KEY"), p.routes[0].sentinel);
  assert_string_equal(env_of(&p.env, "ANTHROPIC_BASE_URL"), ADR_RELAY_PLACEHOLDER "/anthropic");
  assert_true(strv_contains(&p.hide, ".claude/.credentials.json"));
  assert_true(strv_contains(&p.drop_env, "ANTHROPIC_API_KEY"));
  assert_true(strv_contains(&p.drop_env, "ANTHROPIC_AUTH_TOKEN"));
  /* settings.json: the key became the sentinel, the other login is gone,
   * everything else is kept */
  const char *s = overlay(&p, ".claude/settings.json");
  assert_non_null(s);
  json_t *j = json_loads(s, 0, NULL);
  assert_non_null(j);
  json_t *env = json_object_get(j, "env");
  assert_string_equal(json_string_value(json_object_get(env, "ANTHROPIC_API_KEY")), p.routes[0].sentinel);
  assert_null(json_object_get(env, "ANTHROPIC_AUTH_TOKEN"));
  assert_string_equal(json_string_value(json_object_get(env, "OTHER")), "x");
  assert_string_equal(json_string_value(json_object_get(j, "model")), "m");
  json_decref(j);
  assert_clean(&p, "sk-host-env-1");
  assert_clean(&p, "sk-in-settings");
  assert_clean(&p, "tok-in-settings");
  assert_int_equal(p.notes.n, 0); /* a key is relayed: the login file needs no word */
  /* the route file: the key, the sentinel, the declared paths */
  cleanup_free char *rf = adr_creds_route_file(&p);
  cleanup_free char *want = xasprintf(
    "route anthropic https://api.anthropic.com\nsentinel %s\nkey sk-host-env-1\n"
    "path /v1/messages\n",
    p.routes[0].sentinel);
  assert_non_null(strstr(rf, want));
  assert_non_null(strstr(rf, "path /v1/messages/count_tokens\n"));
  assert_null(strstr(rf, "path /v1/complete\n"));
  adr_creds_plan_free(&p);
}

static void test_sources_in_order(void **state)
{
  struct fx *f = *state;
  put(f, ".claude/settings.json", "{\"env\": {\"ANTHROPIC_API_KEY\": \"from-file\"}}");
  struct adr_creds_plan p;
  plan(f, "claude", &p);
  assert_string_equal(p.routes[0].key, "from-file");
  adr_creds_plan_free(&p);

  strv_push(&f->host_env, "ANTHROPIC_API_KEY=from-env");
  plan(f, "claude", &p);
  assert_string_equal(p.routes[0].key, "from-env");
  adr_creds_plan_free(&p);

  adr_err err = NULL;
  assert_int_equal(adr_secret_set(f->secrets, "ANTHROPIC_API_KEY", "from-secret", 11, &err), 0);
  plan(f, "claude", &p);
  assert_string_equal(p.routes[0].key, "from-secret");
  assert_string_equal(p.routes[0].source, "adr secret");
  adr_creds_plan_free(&p);

  strv_push(&f->user_env, "ANTHROPIC_API_KEY=from-flag");
  strv_push(&f->user_env, "ANTHROPIC_BASE_URL=https://proxy.test:8443/anthropic/");
  plan(f, "claude", &p);
  assert_string_equal(p.routes[0].key, "from-flag");
  assert_string_equal(p.routes[0].upstream, "https://proxy.test:8443/anthropic"); /* no trailing slash */
  assert_true(strv_contains(&p.drop_env, "ANTHROPIC_BASE_URL"));
  adr_creds_plan_free(&p);

  /* a base URL that is not https: not relayed, and the key not passed */
  strv_free(&f->user_env);
  strv_push(&f->user_env, "ANTHROPIC_BASE_URL=http://plain.test");
  plan(f, "claude", &p);
  assert_int_equal(p.n_routes, 0);
  assert_int_equal(p.notes.n, 1);
  assert_non_null(strstr(p.notes.v[0], "not an https URL"));
  assert_true(strv_contains(&p.drop_env, "ANTHROPIC_API_KEY"));
  assert_null(env_of(&p.env, "ANTHROPIC_API_KEY"));
  adr_creds_plan_free(&p);
}

static void test_no_key_notes_login(void **state)
{
  struct fx *f = *state;
  put(f, ".claude/.credentials.json", "{}");
  struct adr_creds_plan p;
  plan(f, "claude", &p);
  assert_int_equal(p.n_routes, 0);
  assert_int_equal(p.notes.n, 1);
  assert_non_null(strstr(p.notes.v[0], "setup-token"));
  assert_true(strv_contains(&p.hide, ".claude/.credentials.json"));
  /* no key anywhere: the variables that would give one, for the warning */
  assert_false(p.key_seen);
  assert_int_equal(p.key_names.n, 3);
  assert_string_equal(p.key_names.v[0], "ANTHROPIC_API_KEY");
  assert_true(strv_contains(&p.key_names, "CLAUDE_CODE_OAUTH_TOKEN"));
  adr_creds_plan_free(&p);
  /* control: a key found makes a route, and nothing is "missing" */
  strv_push(&f->host_env, "ANTHROPIC_API_KEY=sk-ant-real");
  plan(f, "claude", &p);
  assert_int_equal(p.n_routes, 1);
  assert_true(p.key_seen);
  assert_int_equal(p.key_names.n, 0);
  adr_creds_plan_free(&p);
}

static void test_pi_models(void **state)
{
  struct fx *f = *state;
  strv_push(&f->host_env, "MY_KEY=from-env-ref");
  put(
    f, ".pi/agent/models.json",
    "{\"providers\": {"
    " \"Mock One\": {\"baseUrl\": \"https://m.test/v1\", \"api\": \"openai-completions\", \"apiKey\": \"literal-k\","
    "   \"models\": [{\"id\": \"x\"}]},"
    " \"ref\": {\"baseUrl\": \"https://r.test\", \"api\": \"anthropic-messages\", \"apiKey\": \"${MY_KEY}\"},"
    " \"local\": {\"baseUrl\": \"http://localhost:11434/v1\", \"api\": \"openai-completions\", \"apiKey\": \"dummy\"},"
    " \"cmd\": {\"baseUrl\": \"https://c.test\", \"api\": \"openai-completions\", \"apiKey\": \"!pass show k\"},"
    " \"unset\": {\"baseUrl\": \"https://u.test\", \"api\": \"openai-completions\", \"apiKey\": \"$NOT_SET\"}"
    "}}");
  put(f, ".pi/agent/auth.json", "{\"anthropic\": {\"type\": \"api_key\", \"key\": \"auth-json-key\"}}");
  struct adr_creds_plan p;
  plan(f, "pi", &p);
  assert_int_equal(p.n_routes, 2);
  assert_string_equal(p.routes[0].name, "mock-one");
  assert_string_equal(p.routes[0].upstream, "https://m.test/v1");
  assert_string_equal(p.routes[0].api, "openai");
  assert_string_equal(p.routes[0].key, "literal-k");
  assert_string_equal(p.routes[1].name, "ref");
  assert_string_equal(p.routes[1].api, "anthropic");
  assert_string_equal(p.routes[1].key, "from-env-ref");
  const char *s = overlay(&p, ".pi/agent/models.json");
  json_t *j = json_loads(s, 0, NULL);
  json_t *pv = json_object_get(j, "providers");
  json_t *one = json_object_get(pv, "Mock One");
  assert_string_equal(json_string_value(json_object_get(one, "baseUrl")), ADR_RELAY_PLACEHOLDER "/mock-one");
  assert_string_equal(json_string_value(json_object_get(one, "apiKey")), p.routes[0].sentinel);
  assert_non_null(json_object_get(one, "models"));
  /* not relayable: no key in the copy */
  assert_null(json_object_get(json_object_get(pv, "local"), "apiKey"));
  assert_null(json_object_get(json_object_get(pv, "cmd"), "apiKey"));
  /* a reference to nothing is no credential: kept as written */
  assert_string_equal(json_string_value(json_object_get(json_object_get(pv, "unset"), "apiKey")), "$NOT_SET");
  json_decref(j);
  assert_int_equal(p.notes.n, 2);
  assert_true(strv_contains(&p.hide, ".pi/agent/auth.json"));
  assert_clean(&p, "literal-k");
  assert_clean(&p, "from-env-ref");
  assert_clean(&p, "auth-json-key");
  adr_creds_plan_free(&p);
}

static void test_pi_headers_bare_names_fail_closed(void **state)
{
  struct fx *f = *state;
  strv_push(&f->host_env, "PI_BARE=bare-real");
  put(f, ".pi/agent/models.json",
      "{\"providers\": {"
      " \"h\": {\"baseUrl\": \"https://h.test/v1\", \"api\": \"openai-completions\", \"apiKey\": \"PI_BARE\","
      "   \"headers\": {\"X-Token\": \"hdr-secret\"}},"
      " \"dup\": {\"baseUrl\": \"https://d.test/v1\", \"api\": \"openai-completions\", \"apiKey\": \"dup-real\","
      "   \"notes\": \"the key again: dup-real\"}"
      "}}");
  struct adr_creds_plan p;
  plan(f, "pi", &p);
  assert_int_equal(p.n_routes, 2);
  assert_string_equal(p.routes[0].key, "bare-real");
  assert_true(strv_contains(&p.drop_env, "PI_BARE"));
  /* the header's token is dropped; the key left in another field becomes
   * the sentinel there too, and the copy is staged */
  const char *c0 = overlay(&p, ".pi/agent/models.json");
  assert_non_null(c0);
  cleanup_free char *again = xasprintf("the key again: %s", p.routes[1].sentinel);
  assert_non_null(strstr(c0, again));
  assert_clean(&p, "hdr-secret");
  assert_clean(&p, "dup-real");
  assert_clean(&p, "bare-real");
  adr_creds_plan_free(&p);
  /* the key's last 20 characters inside some other text: the copy is not
   * staged (fail closed), and the note names the host file */
  put(f, ".pi/agent/models.json",
      "{\"providers\": {\"h\": {\"baseUrl\": \"https://h.test/v1\", \"api\": \"openai-completions\","
      " \"apiKey\": \"sk-0123456789-abcdefghijklmnopqrst\", \"n\": \"ends abcdefghijklmnopqrst.\"}}}");
  plan(f, "pi", &p);
  assert_null(overlay(&p, ".pi/agent/models.json"));
  assert_true(strv_contains(&p.hide, ".pi/agent/models.json"));
  bool said = false;
  for (size_t i = 0; i < p.notes.n; i++)
    said = said || (strstr(p.notes.v[i], "a key the relay carries is left in it") &&
                    strstr(p.notes.v[i], "/.pi/agent/models.json"));
  assert_true(said);
  assert_clean(&p, "abcdefghijklmnopqrst");
  adr_creds_plan_free(&p);
  /* without the duplicate the copy is staged, headers gone */
  put(f, ".pi/agent/models.json",
      "{\"providers\": {\"h\": {\"baseUrl\": \"https://h.test/v1\", \"api\": \"openai-completions\","
      " \"apiKey\": \"PI_BARE\", \"headers\": {\"X-Token\": \"hdr-secret\"}}}}");
  plan(f, "pi", &p);
  const char *c = overlay(&p, ".pi/agent/models.json");
  assert_non_null(c);
  assert_null(strstr(c, "headers"));
  assert_clean(&p, "hdr-secret");
  adr_creds_plan_free(&p);
}

static void test_claude_json_and_dropped_vars(void **state)
{
  struct fx *f = *state;
  put(f, ".claude.json", "{\"primaryApiKey\": \"sk-console\", \"theme\": \"dark\"}");
  put(f, ".claude/settings.json", "{\"env\": {\"ANTHROPIC_CUSTOM_HEADERS\": \"X-Auth: h-secret\", \"A\": \"b\"}}");
  strv_push(&f->user_env, "AWS_BEARER_TOKEN_BEDROCK=bedrock-secret");
  struct adr_creds_plan p;
  plan(f, "claude", &p);
  /* primaryApiKey (a Console login) is relayed: the copy holds the sentinel */
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].key, "sk-console");
  const char *cj = overlay(&p, ".claude.json");
  assert_non_null(cj);
  cleanup_free char *pk = xasprintf("\"primaryApiKey\": \"%s\"", p.routes[0].sentinel);
  assert_non_null(strstr(cj, pk));
  assert_non_null(strstr(cj, "dark"));
  assert_true(strv_contains(&p.drop_env, "AWS_BEARER_TOKEN_BEDROCK"));
  assert_null(strstr(overlay(&p, ".claude/settings.json"), "h-secret"));
  assert_clean(&p, "sk-console");
  assert_clean(&p, "bedrock-secret");
  assert_int_equal(p.notes.n, 2);
  adr_creds_plan_free(&p);
  assert_true(adr_creds_secret_name("ANTHROPIC_API_KEY"));
  assert_true(adr_creds_secret_name("gh_token"));
  assert_true(adr_creds_secret_name("DB_PASSWORD"));
  assert_false(adr_creds_secret_name("DEBUG"));
  assert_false(adr_creds_secret_name("CLAUDE_CODE_MAX_RETRIES"));
}

static void test_opencode_env_config(void **state)
{
  struct fx *f = *state;
  strv_push(&f->user_env,
            "OPENCODE_CONFIG_CONTENT={\"provider\":{\"mock\":{\"npm\":\"@ai-sdk/openai-compatible\","
            "\"options\":{\"baseURL\":\"https://m.test/v1\",\"apiKey\":\"{env:OC_KEY}\"}}},"
            "\"model\":\"mock/m\"}");
  strv_push(&f->user_env, "OC_KEY=oc-real");
  put(f, ".config/opencode/opencode.json",
      "{\"provider\": {\"anthropic\": {\"options\": {\"apiKey\": \"file-anth-key\"}}}}");
  struct adr_creds_plan p;
  plan(f, "opencode", &p);
  assert_int_equal(p.n_routes, 2);
  assert_string_equal(p.routes[0].name, "anthropic"); /* the built-in provider's upstream */
  assert_string_equal(p.routes[0].upstream, "https://api.anthropic.com/v1");
  assert_string_equal(p.routes[1].name, "mock");
  assert_string_equal(p.routes[1].key, "oc-real");
  assert_true(strv_contains(&p.drop_env, "OPENCODE_CONFIG_CONTENT"));
  assert_true(strv_contains(&p.drop_env, "OC_KEY"));
  const char *c = env_of(&p.env, "OPENCODE_CONFIG_CONTENT");
  assert_non_null(c);
  assert_non_null(strstr(c, p.routes[1].sentinel));
  assert_non_null(strstr(c, ADR_RELAY_PLACEHOLDER "/mock"));
  assert_non_null(strstr(c, "\"model\":\"mock/m\""));
  assert_clean(&p, "oc-real");
  assert_clean(&p, "file-anth-key");
  adr_creds_plan_free(&p);
}

/* opencode's own login file (auth.json, hidden): an API key there serves
 * a provider of the config that has none, and a built-in provider that
 * the config does not name (added to the sandbox's OPENCODE_CONFIG_CONTENT) */
static void test_opencode_auth_json(void **state)
{
  struct fx *f = *state;
  put(f, ".local/share/opencode/auth.json",
      "{\"mock\": {\"type\": \"api\", \"key\": \"auth-mock\"}, \"anthropic\": {\"type\": \"api\", \"key\": "
      "\"auth-anth\"},"
      " \"github-copilot\": {\"type\": \"oauth\", \"refresh\": \"r-secret\"}, \"nobase\": {\"type\": \"api\", \"key\": "
      "\"nb\"}}");
  strv_push(&f->user_env,
            "OPENCODE_CONFIG_CONTENT={\"provider\":{\"mock\":{\"npm\":\"@ai-sdk/openai-compatible\","
            "\"options\":{\"baseURL\":\"https://m.test/v1\"}}}}");
  struct adr_creds_plan p;
  plan(f, "opencode", &p);
  assert_int_equal(p.n_routes, 2);
  assert_string_equal(p.routes[0].name, "mock");
  assert_string_equal(p.routes[0].key, "auth-mock");
  assert_string_equal(p.routes[0].upstream, "https://m.test/v1");
  assert_string_equal(p.routes[1].name, "anthropic");
  assert_string_equal(p.routes[1].key, "auth-anth");
  assert_string_equal(p.routes[1].upstream, "https://api.anthropic.com/v1");
  const char *c = env_of(&p.env, "OPENCODE_CONFIG_CONTENT");
  json_t *j = json_loads(c, 0, NULL);
  json_t *pv = json_object_get(j, "provider");
  assert_string_equal(json_string_value(jp(pv, "mock", "apiKey")), p.routes[0].sentinel);
  assert_string_equal(json_string_value(jp(pv, "anthropic", "apiKey")), p.routes[1].sentinel);
  assert_string_equal(json_string_value(jp(pv, "anthropic", "baseURL")), ADR_RELAY_PLACEHOLDER "/anthropic");
  assert_null(json_object_get(pv, "github-copilot"));
  json_decref(j);
  assert_true(strv_contains(&p.hide, ".local/share/opencode/auth.json"));
  assert_int_equal(p.notes.n, 1); /* nobase */
  assert_clean(&p, "auth-mock");
  assert_clean(&p, "auth-anth");
  assert_clean(&p, "r-secret");
  adr_creds_plan_free(&p);
  /* without a config variable of the user's: one is made for them */
  strv_free(&f->user_env);
  plan(f, "opencode", &p);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].name, "anthropic");
  assert_non_null(strstr(env_of(&p.env, "OPENCODE_CONFIG_CONTENT"), p.routes[0].sentinel));
  adr_creds_plan_free(&p);
}

static void test_codex_args_and_auth(void **state)
{
  struct fx *f = *state;
  put(f, ".codex/auth.json", "{\"OPENAI_API_KEY\": \"sk-auth-json\", \"tokens\": {\"t\": \"tok-x\"}}");
  struct adr_creds_plan p;
  plan(f, "codex", &p);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].key, "sk-auth-json");
  assert_string_equal(p.routes[0].upstream, "https://api.openai.com/v1");
  assert_true(strv_contains(&p.hide, ".codex/auth.json"));
  assert_null(overlay(&p, ".codex/auth.json")); /* a source, never staged */
  assert_int_equal(p.args.n, 4);
  assert_string_equal(p.args.v[1], "model_provider=\"adr-relay\"");
  assert_non_null(strstr(p.args.v[3], "base_url=\"" ADR_RELAY_PLACEHOLDER "/openai\""));
  assert_non_null(strstr(p.args.v[3], "env_key=\"OPENAI_API_KEY\""));
  assert_string_equal(env_of(&p.env, "OPENAI_API_KEY"), p.routes[0].sentinel);
  assert_clean(&p, "sk-auth-json");
  assert_clean(&p, "tok-x");
  adr_creds_plan_free(&p);
}

static void test_gemini_dotenv_and_settings(void **state)
{
  struct fx *f = *state;
  put(f, ".gemini/.env",
      "# mine\nexport GEMINI_API_KEY=\"g-real\"\nGOOGLE_CLOUD_PROJECT=p1\n"
      "export  GEMINI_API_KEY=g-two\nexport\tGEMINI_API_KEY=g-three\nGEMINI_API_KEY = g-four\n"
      "GEMINI_API_KEY: g-five\n");
  struct adr_creds_plan p;
  plan(f, "gemini", &p);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].key, "g-five"); /* the last assignment wins, as in dotenv */
  const char *e = overlay(&p, ".gemini/.env");
  assert_non_null(e);
  const char *sn = p.routes[0].sentinel;
  cleanup_free char *want = xasprintf(
    "# mine\nGEMINI_API_KEY=%s\nGOOGLE_CLOUD_PROJECT=p1\nGEMINI_API_KEY=%s\n"
    "GEMINI_API_KEY=%s\nGEMINI_API_KEY=%s\nGEMINI_API_KEY=%s\n",
    sn, sn, sn, sn, sn);
  assert_string_equal(e, want);
  const char *s = overlay(&p, ".gemini/settings.json"); /* made: the key's auth type */
  assert_non_null(s);
  assert_non_null(strstr(s, "\"selectedType\": \"gemini-api-key\""));
  assert_clean(&p, "g-real");
  assert_clean(&p, "g-two");
  assert_clean(&p, "g-three");
  assert_clean(&p, "g-four");
  assert_true(strv_contains(&p.hide, ".gemini/mcp-oauth-tokens.json"));
  adr_creds_plan_free(&p);
}

static void test_copilot_needs_base(void **state)
{
  struct fx *f = *state;
  strv_push(&f->user_env, "COPILOT_PROVIDER_API_KEY=cp-real");
  struct adr_creds_plan p;
  plan(f, "copilot", &p);
  assert_int_equal(p.n_routes, 0);
  assert_true(strv_contains(&p.drop_env, "COPILOT_PROVIDER_API_KEY")); /* never passed */
  assert_int_equal(p.notes.n, 1);
  /* a key found but not relayed is not "no key found": the note says why */
  assert_true(p.key_seen);
  assert_int_equal(p.key_names.n, 0);
  adr_creds_plan_free(&p);
  strv_push(&f->host_env, "COPILOT_PROVIDER_BASE_URL=https://byok.test/v1");
  strv_push(&f->host_env, "GH_TOKEN=gh-x");
  plan(f, "copilot", &p);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].name, "provider");
  assert_string_equal(env_of(&p.env, "COPILOT_PROVIDER_BASE_URL"), ADR_RELAY_PLACEHOLDER "/provider");
  assert_int_equal(p.notes.n, 0);
  adr_creds_plan_free(&p);
}

static void test_unreadable_config_is_hidden(void **state)
{
  struct fx *f = *state;
  put(f, ".claude/settings.json", "{ not json, \"ANTHROPIC_API_KEY\": \"sk-x\" ");
  struct adr_creds_plan p;
  plan(f, "claude", &p);
  assert_true(strv_contains(&p.hide, ".claude/settings.json"));
  assert_null(overlay(&p, ".claude/settings.json"));
  assert_int_equal(p.notes.n, 1);
  adr_creds_plan_free(&p);
}

static void test_definition_errors(void **state)
{
  (void)state;
  const char *bad[] = {
    "[]",
    "{\"x\": 1}",
    "{\"hide\": [\"/abs\"]}",
    "{\"hide\": [\"../up\"]}",
    "{\"routes\": [{\"name\": \"Bad_Name\", \"api\": \"openai\", \"upstream\": \"https://a\", \"key_env\": [\"K\"]}]}",
    "{\"routes\": [{\"name\": \"a\", \"api\": \"smtp\", \"upstream\": \"https://a\", \"key_env\": [\"K\"]}]}",
    "{\"routes\": [{\"name\": \"a\", \"api\": \"openai\", \"key_env\": [\"K\"]}]}",
    "{\"routes\": [{\"name\": \"a\", \"api\": \"openai\", \"upstream\": \"https://a\", \"key_env\": []}]}",
    "{\"env_files\": [{\"path\": \"a\"}]}",
    "{\"providers\": [{\"at\": \"p\", \"base\": \"b\", \"key\": \"k\", \"api\": \"a\", \"apis\": {}}]}",
    "{\"providers\": [{\"path\": \"a\", \"at\": \"p\", \"base\": \"b\", \"key\": \"k\", \"api\": \"a\", \"apis\": "
    "{\"x\": \"ftp\"}}]}",
    "{\"json_set\": [{\"path\": \"a\", \"at\": \"b\", \"value\": 1}]}",
    "{\"hide_if\": [{\"path\": \"a\", \"contains\": [1]}]}",
    "{\"routes\": [{\"name\": \"a\", \"api\": \"openai\", \"upstream\": \"https://a\", \"key_env\": [\"K\"], "
    "\"drop_env\": \"X\"}]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    json_t *j = json_loads(bad[i], 0, NULL);
    assert_non_null(j);
    adr_err err = NULL;
    assert_int_equal(adr_creds_check(j, "t.json", &err), -1);
    assert_non_null(strstr(err->msg, "t.json: \"credentials\""));
    adr_err_free(&err);
    json_decref(j);
  }
}

static void test_secret_store(void **state)
{
  struct fx *f = *state;
  adr_err err = NULL;
  assert_int_equal(adr_secret_set(f->secrets, "B_KEY", "v2", 2, &err), 0);
  assert_int_equal(adr_secret_set(f->secrets, "A_KEY", "v1", 2, &err), 0);
  struct stat st;
  cleanup_free char *p = xasprintf("%s/A_KEY", f->secrets);
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(stat(f->secrets, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  char *v = NULL;
  assert_int_equal(adr_secret_get(f->secrets, "A_KEY", &v, &err), 0);
  assert_string_equal(v, "v1");
  free(v);
  assert_int_equal(adr_secret_get(f->secrets, "NOPE", &v, &err), 1);
  struct strv names = { 0 };
  assert_int_equal(adr_secret_list(f->secrets, &names, &err), 0);
  assert_int_equal(names.n, 2);
  assert_string_equal(names.v[0], "A_KEY");
  strv_free(&names);
  /* bad names and values */
  assert_int_equal(adr_secret_set(f->secrets, "../x", "v", 1, &err), -1);
  adr_err_free(&err);
  assert_int_equal(adr_secret_set(f->secrets, "K", "has space", 9, &err), -1);
  adr_err_free(&err);
  assert_int_equal(adr_secret_set(f->secrets, "K", "", 0, &err), -1);
  adr_err_free(&err);
  /* a file others can read is refused, not used */
  chmod(p, 0644);
  assert_int_equal(adr_secret_get(f->secrets, "A_KEY", &v, &err), -1);
  assert_non_null(strstr(err->msg, "0600"));
  adr_err_free(&err);
  assert_int_equal(adr_secret_remove(f->secrets, "A_KEY", &err), 0);
  assert_int_equal(adr_secret_remove(f->secrets, "A_KEY", &err), 1);
}

/* runspec: hidden files are not staged, rewritten copies are, the rest of
 * the directory is bound entry by entry */
static void test_staging(void **state)
{
  struct fx *f = *state;
  put(f, ".claude/settings.json", "{}");
  put(f, ".claude/.credentials.json", "{}");
  put(f, ".claude/agents/a.md", "x");
  put(f, ".claude/CLAUDE.md", "x");
  const struct adr_agent *a = adr_agents_find(&f->agents, "claude");
  struct strv hide = { 0 }, ovl = { 0 };
  strv_push(&hide, ".claude/.credentials.json");
  strv_push(&ovl, ".claude/settings.json");
  struct adr_run_opts o = {
    .name = "n",
    .image = "i",
    .workspace = "/w",
    .host_home = f->home,
    .uid = 1000,
    .gid = 1000,
    .stage_hide = &hide,
    .stage_overlays = &ovl,
    .overlay_dir = "/state/run/n/stage",
  };
  struct adr_spec s;
  adr_err err = NULL;
  assert_int_equal(adr_run_spec(&o, a, &s, &err), 0);
  bool agents = false, md = false, settings = false;
  for (size_t i = 0; i < s.n_mounts; i++) {
    const struct adr_spec_mount *m = &s.mounts[i];
    if (!m->source)
      continue;
    assert_null(strstr(m->source, ".credentials.json"));
    assert_false(streq(m->target, ADR_SANDBOX_STAGE "/.claude")); /* not whole */
    if (streq(m->target, ADR_SANDBOX_STAGE "/.claude/agents"))
      agents = true;
    if (streq(m->target, ADR_SANDBOX_STAGE "/.claude/CLAUDE.md"))
      md = true;
    if (streq(m->target, ADR_SANDBOX_STAGE "/.claude/settings.json")) {
      assert_string_equal(m->source, "/state/run/n/stage/.claude/settings.json");
      settings = true;
    }
  }
  assert_true(agents && md && settings);
  adr_spec_free(&s);
  strv_free(&hide);
  strv_free(&ovl);
}

/* --config-file FILE: the planner reads FILE in place of ~/.claude.json;
 * its copy keeps onboarding, trust and MCP state, holds the sentinel where
 * the key was and approves the sentinel; FILE itself is never staged. */
static void test_claude_config_file(void **state)
{
  struct fx *f = *state;
  const char *key = "sk-ant-api03-0123456789abcdefghijKLMNOPQRST";
  put(f, ".claude.json", "{\"theme\": \"default-file\"}");
  cleanup_free char *cfg = xasprintf("%s/copy/claude.json", f->home);
  cleanup_free char *text = xasprintf(
    "{\"hasCompletedOnboarding\": true, \"theme\": \"from-copy\", \"primaryApiKey\": \"%s\","
    " \"customApiKeyResponses\": {\"approved\": [\"%s\"], \"rejected\": []},"
    " \"projects\": {\"/workspace\": {\"hasTrustDialogAccepted\": true, \"note\": \"k=%s\"}},"
    " \"mcpServers\": {\"m\": {\"command\": \"x\"}}}",
    key, key + strlen(key) - 20, key);
  put(f, "copy/claude.json", text);
  struct adr_creds_in in = {
    .agent = adr_agents_find(&f->agents, "claude"),
    .host_home = f->home,
    .config_file = cfg,
    .user_env = &f->user_env,
    .secrets_dir = f->secrets,
    .getenv = fake_getenv,
  };
  struct adr_creds_plan p;
  adr_err err = NULL;
  assert_int_equal(adr_creds_plan(&in, &p, &err), 0);
  assert_int_equal(p.n_routes, 1);
  assert_string_equal(p.routes[0].key, key);
  const char *sen = p.routes[0].sentinel;
  const char *c = overlay(&p, ".claude.json");
  assert_non_null(c);
  json_error_t je;
  json_t *j = json_loads(c, 0, &je);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "theme")), "from-copy");
  assert_true(json_is_true(json_object_get(j, "hasCompletedOnboarding")));
  assert_non_null(json_object_get(json_object_get(j, "mcpServers"), "m"));
  assert_string_equal(json_string_value(json_object_get(j, "primaryApiKey")), sen);
  json_t *appr = json_object_get(json_object_get(j, "customApiKeyResponses"), "approved");
  assert_int_equal(json_array_size(appr), 1); /* the key's tail became the sentinel's, once */
  assert_string_equal(json_string_value(json_array_get(appr, 0)), sen + strlen(sen) - 20);
  json_decref(j);
  assert_string_equal(env_of(&p.env, "ANTHROPIC_API_KEY"), sen);
  assert_clean(&p, key);
  assert_clean(&p, key + strlen(key) - 20);
  for (size_t i = 0; i < p.notes.n; i++)
    assert_null(strstr(p.notes.v[i], "not staged"));
  /* staging: the copy, never FILE, never ~/.claude.json */
  struct strv ovl = { 0 };
  for (size_t i = 0; i < p.n_overlays; i++)
    strv_push(&ovl, p.overlays[i].rel);
  struct adr_run_opts o = {
    .name = "n",
    .image = "i",
    .workspace = "/w",
    .host_home = f->home,
    .config_file = cfg,
    .uid = 1000,
    .gid = 1000,
    .stage_hide = &p.hide,
    .stage_overlays = &ovl,
    .overlay_dir = "/state/run/n/stage",
  };
  struct adr_spec s;
  assert_int_equal(adr_run_spec(&o, in.agent, &s, &err), 0);
  int copies = 0;
  for (size_t i = 0; i < s.n_mounts; i++) {
    const struct adr_spec_mount *m = &s.mounts[i];
    if (!m->source)
      continue;
    assert_false(streq(m->source, cfg));
    assert_false(str_has_prefix(m->source, f->home) && strstr(m->source, "/.claude.json"));
    if (streq(m->target, ADR_SANDBOX_STAGE "/.claude.json")) {
      assert_string_equal(m->source, "/state/run/n/stage/.claude.json");
      copies++;
    }
  }
  assert_int_equal(copies, 1);
  adr_spec_free(&s);
  strv_free(&ovl);
  adr_creds_plan_free(&p);

  /* control: the same run without --config-file stages the default file's copy */
  in.config_file = NULL;
  assert_int_equal(adr_creds_plan(&in, &p, &err), 0);
  assert_non_null(strstr(overlay(&p, ".claude.json"), "default-file"));
  adr_creds_plan_free(&p);

  /* a --config-file adr cannot read as claude's JSON is refused, not staged */
  put(f, "copy/claude.json", "not json, key: sk-in-a-broken-file");
  in.config_file = cfg;
  assert_int_equal(adr_creds_plan(&in, &p, &err), -1);
  assert_non_null(strstr(err->msg, "--config-file"));
  assert_null(strstr(err->msg, "sk-in-a-broken-file"));
  adr_err_free(&err);
  adr_creds_plan_free(&p);
}

/* An agent whose definition does not read its --config-file: the file is
 * staged as it is unless it holds a relayed key (then the run is refused). */
static void test_config_file_unread(void **state)
{
  struct fx *f = *state;
  const char *def =
    "{\"name\": \"mine\", \"npm\": {\"package\": \"mine\", \"version\": \"1.0.0\"}, \"binary\": \"mine\", \"args\": "
    "{\"headless\": [\"{prompt}\"]},"
    " \"config\": [{\"host\": \"~/.mine\", \"home\": \".mine\"}], \"config_file\": \".mine.toml\","
    " \"credentials\": {\"routes\": [{\"name\": \"o\", \"api\": \"openai\","
    " \"upstream\": \"https://o.test/v1\", \"key_env\": [\"MINE_API_KEY\"]}]}}";
  struct adr_agent a = { 0 };
  adr_err err = NULL;
  if (adr_agent_parse(def, strlen(def), "test", &a, &err) < 0)
    fail_msg("%s", err->msg);
  strv_push(&f->host_env, "MINE_API_KEY=mine-real-key-0123456789");
  put(f, "m.toml", "model = \"x\"\n");
  cleanup_free char *cfg = xasprintf("%s/m.toml", f->home);
  struct adr_creds_in in = {
    .agent = &a,
    .host_home = f->home,
    .config_file = cfg,
    .user_env = &f->user_env,
    .getenv = fake_getenv,
  };
  struct adr_creds_plan p;
  if (adr_creds_plan(&in, &p, &err) < 0) /* control: no key in it */
    fail_msg("%s", err->msg);
  assert_int_equal(p.n_routes, 1);
  assert_null(overlay(&p, ".mine.toml"));
  adr_creds_plan_free(&p);
  put(f, "m.toml", "key = \"mine-real-key-0123456789\"\n");
  assert_int_equal(adr_creds_plan(&in, &p, &err), -1);
  assert_non_null(strstr(err->msg, "holds the o key"));
  assert_null(strstr(err->msg, "mine-real-key"));
  adr_err_free(&err);
  adr_creds_plan_free(&p);
  adr_agent_free(&a);
}

static int check_mount(struct fx *f, const char *host, const char *target, bool relay, struct strv *notes, char **msg)
{
  cleanup_free char *st = xasprintf("%s/.local/state/adr", f->home);
  cleanup_free char *cf = xasprintf("%s/.config/adr", f->home);
  struct adr_creds_guard g = {
    .agents = &f->agents,
    .agent = adr_agents_find(&f->agents, "claude"),
    .home = f->home,
    .state_dir = st,
    .config_dir = cf,
    .relay = relay,
  };
  cleanup_free char *h = host[0] == '/' ? xstrdup(host) : xasprintf("%s/%s", f->home, host);
  cleanup_free char *rh = realpath(h, NULL);
  assert_non_null(rh);
  struct adr_mount m = { .host = rh, .container = (char *)target };
  adr_err err = NULL;
  int r = adr_creds_mount_check(&m, &g, notes, &err);
  *msg = err ? xstrdup(err->msg) : NULL;
  adr_err_free(&err);
  return r;
}

/* -m and ADR_MOUNTS cannot reach credentials past the planner */
static void test_mount_guard(void **state)
{
  struct fx *f = *state;
  put(f, ".claude/settings.json", "{}");
  put(f, ".codex/auth.json", "{}");
  put(f, ".ssh/id_ed25519", "k");
  put(f, ".local/state/adr/secrets/X", "k");
  put(f, ".config/adr/config", "");
  put(f, "proj/src/a.c", "");
  put(f, "tools/x", "");
  struct strv notes = { 0 };
  char *msg = NULL;
  /* controls: ordinary directories, HOME paths other than the staged ones */
  assert_int_equal(check_mount(f, "proj", "/data", true, &notes, &msg), 0);
  assert_int_equal(check_mount(f, "tools", ADR_SANDBOX_HOME "/tools", true, &notes, &msg), 0);
  assert_int_equal(notes.n, 0);
  static const char *const refused[][3] = {
    { ".claude", "/c", "claude's configuration" }, /* the agent's own config home */
    { ".codex", "/c", "codex's configuration" },   /* another agent's */
    { ".", "/h", "adr's own state" },              /* HOME holds them all */
    { ".local", "/l", "adr's own state" },         /* holds the secret store */
    { ".local/state/adr/secrets", "/s", "adr's own state" },
    { ".config/adr", "/a", "adr's own config" },
    { ".ssh", "/s", "holds credentials" },
    { "proj", ADR_SANDBOX_HOME "/.claude", "staged configuration" },
    { "proj", ADR_SANDBOX_HOME, "staged configuration" }, /* above it */
    { "proj", ADR_SANDBOX_STAGE "/x", "staged configuration" },
    { "proj", "/run/adr", "staged configuration" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
    assert_int_equal(check_mount(f, refused[i][0], refused[i][1], true, &notes, &msg), -1);
    if (!strstr(msg, refused[i][2]))
      fail_msg("%s -> %s: '%s' lacks '%s'", refused[i][0], refused[i][1], msg, refused[i][2]);
    free(msg);
  }
  /* --no-relay: config homes and host secrets are said, adr's own and the
   * staged paths stay refused */
  assert_int_equal(check_mount(f, ".claude", "/c", false, &notes, &msg), 0);
  assert_int_equal(check_mount(f, ".ssh", "/s", false, &notes, &msg), 0);
  assert_int_equal(notes.n, 2);
  assert_int_equal(check_mount(f, ".local/state/adr", "/s", false, &notes, &msg), -1);
  free(msg);
  assert_int_equal(check_mount(f, "proj", ADR_SANDBOX_HOME "/.claude.json", false, &notes, &msg), -1);
  free(msg);
  strv_free(&notes);
}

static void test_subst_and_paths(void **state)
{
  (void)state;
  cleanup_free char *s = adr_creds_subst("x=" ADR_RELAY_PLACEHOLDER "/a," ADR_RELAY_PLACEHOLDER, "http://g:1");
  assert_string_equal(s, "x=http://g:1/a,http://g:1");
  assert_non_null(adr_relay_api_paths("gemini"));
  assert_null(adr_relay_api_paths("ftp"));
}

/* --git-push's remotes: only https, the origin without user or password,
 * the path without a trailing slash; nothing the relay would refuse */
static void test_git_https_split(void **state)
{
  (void)state;
  static const struct {
    const char *url, *origin, *path;
  } ok[] = {
    { "https://git.example.internal/org/repo.git", "https://git.example.internal", "/org/repo.git" },
    { "https://u:p@git.example.internal:8443/org/repo/", "https://git.example.internal:8443", "/org/repo" },
    { "https://[::1]:9/r.git", "https://[::1]:9", "/r.git" },
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
    char *o = NULL, *p = NULL;
    assert_int_equal(adr_git_https_split(ok[i].url, &o, &p), 0);
    assert_string_equal(o, ok[i].origin);
    assert_string_equal(p, ok[i].path);
    free(o);
    free(p);
  }
  static const char *const bad[] = {
    "git@example.internal:org/repo.git",
    "ssh://example.internal/r",
    "http://example.internal/r",
    "https://example.internal",
    "https://example.internal/",
    "https://h/a/../b",
    "https://h/a%2e%2e/b",
    "https://h//x",
    "https://h x/r",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
    char *o = NULL, *p = NULL;
    if (adr_git_https_split(bad[i], &o, &p) == 0)
      print_error("accepted: %s\n", bad[i]);
    assert_int_equal(adr_git_https_split(bad[i], &o, &p), -1);
    assert_null(o);
    assert_null(p);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_git_https_split),
    cmocka_unit_test_setup_teardown(test_claude_env_and_settings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sources_in_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_no_key_notes_login, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pi_models, setup, teardown),
    cmocka_unit_test_setup_teardown(test_pi_headers_bare_names_fail_closed, setup, teardown),
    cmocka_unit_test_setup_teardown(test_claude_json_and_dropped_vars, setup, teardown),
    cmocka_unit_test_setup_teardown(test_claude_config_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_config_file_unread, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mount_guard, setup, teardown),
    cmocka_unit_test_setup_teardown(test_opencode_env_config, setup, teardown),
    cmocka_unit_test_setup_teardown(test_opencode_auth_json, setup, teardown),
    cmocka_unit_test_setup_teardown(test_codex_args_and_auth, setup, teardown),
    cmocka_unit_test_setup_teardown(test_gemini_dotenv_and_settings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_copilot_needs_base, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unreadable_config_is_hidden, setup, teardown),
    cmocka_unit_test_setup_teardown(test_definition_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_secret_store, setup, teardown),
    cmocka_unit_test_setup_teardown(test_staging, setup, teardown),
    cmocka_unit_test_setup_teardown(test_subst_and_paths, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
