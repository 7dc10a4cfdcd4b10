/* Unit tests for agent.h: definition parsing, loading (built-ins and a
 * user directory) and argv construction. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "agent.h"

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
  char *tmpl = xasprintf("%s/adr-test-agent.XXXXXX", t && *t ? t : "/tmp");
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

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
}

static void assert_strv(const struct strv *s, ...)
{
  va_list ap;
  va_start(ap, s);
  size_t i = 0;
  const char *want;
  while ((want = va_arg(ap, const char *)) != NULL) {
    if (i >= s->n)
      fail_msg("strv has %zu entries, missing [%s]", s->n, want);
    assert_string_equal(s->v[i], want);
    i++;
  }
  va_end(ap);
  if (i != s->n)
    fail_msg("strv has %zu entries, expected %zu (extra: [%s])", s->n, i, s->v[i]);
}

#define MINIMAL_NPM "\"npm\":{\"package\":\"p\",\"version\":\"1.0.0\"}"
#define MINIMAL_ARGS "\"args\":{\"headless\":[\"{prompt}\"]}"

static int parse(const char *json, struct adr_agent *a, adr_err *err)
{
  return adr_agent_parse(json, strlen(json), "src.json", a, err);
}

static void expect_parse_error(const char *json, const char *msg)
{
  struct adr_agent a;
  adr_err err = NULL;
  if (parse(json, &a, &err) == 0) {
    adr_agent_free(&a);
    fail_msg("accepted: %s", json);
  }
  assert_non_null(err);
  if (msg[0] == '^') {
    if (!str_has_prefix(err->msg, msg + 1))
      fail_msg("message [%s] does not start with [%s]", err->msg, msg + 1);
  } else {
    assert_string_equal(err->msg, msg);
  }
  assert_int_equal(err->errnum, EINVAL);
  /* nothing is left allocated in a on failure */
  assert_null(a.name);
  assert_null(a.binary);
  assert_null(a.configs);
  assert_null(a.env.v);
  assert_null(a.source);
  adr_err_free(&err);
}

/* ------------------------------------------------------------- parse */

static void test_parse_minimal(void **state)
{
  (void)state;
  struct adr_agent a;
  adr_err err = NULL;
  const char *j = "{\"name\":\"x\",\"binary\":\"xbin\"," MINIMAL_NPM "," MINIMAL_ARGS "}";
  assert_int_equal(parse(j, &a, &err), 0);
  assert_string_equal(a.name, "x");
  assert_string_equal(a.binary, "xbin");
  assert_string_equal(a.npm_package, "p");
  assert_string_equal(a.npm_version, "1.0.0");
  assert_string_equal(a.source, "src.json");
  assert_null(a.description);
  assert_null(a.config_file_home);
  assert_int_equal(a.n_configs, 0);
  assert_int_equal(a.env.n, 0);
  assert_int_equal(a.interactive_args.n, 0);
  assert_strv(&a.headless_args, "{prompt}", NULL);
  adr_agent_free(&a);
  assert_null(a.name);
}

static void test_parse_full(void **state)
{
  (void)state;
  const char *j =
    "{\n"
    "  \"name\": \"my-agent_1.0\",\n"
    "  \"description\": \"An agent\",\n"
    "  \"comment\": \"ignored\",\n"
    "  \"npm\": { \"package\": \"@scope/agent\", \"version\": \"2.3.4\" },\n"
    "  \"binary\": \"agent\",\n"
    "  \"config\": [\n"
    "    { \"host\": \"~/.agent\", \"home\": \".agent\" },\n"
    "    { \"host\": \"~/.agent.json\", \"home\": \".config/agent.json\", \"optional\": true },\n"
    "    { \"host\": \"/etc/agent\", \"home\": \"etc\", \"optional\": false }\n"
    "  ],\n"
    "  \"config_file\": \".agent/config.toml\",\n"
    "  \"env\": { \"A\": \"1\", \"B_2\": \"two words\", \"EMPTY\": \"\" },\n"
    "  \"args\": {\n"
    "    \"interactive\": [\"--yolo\", \"{model_args}\"],\n"
    "    \"headless\": [\"run\", \"{model_args}\", \"{prompt}\"],\n"
    "    \"model\": [\"-m\", \"{model}\"]\n"
    "  },\n"
    "  \"api_hosts\": [\"api.example.com\", \"auth.example.com\"],\n"
    "  \"login_hosts\": [\"login.example.com\", \"*.sso.example.com\"]\n"
    "}\n";
  struct adr_agent a;
  adr_err err = NULL;
  if (parse(j, &a, &err) < 0)
    fail_msg("%s", err->msg);
  assert_string_equal(a.name, "my-agent_1.0");
  assert_string_equal(a.description, "An agent");
  assert_string_equal(a.npm_package, "@scope/agent");
  assert_string_equal(a.npm_version, "2.3.4");
  assert_string_equal(a.binary, "agent");
  assert_int_equal(a.n_configs, 3);
  assert_string_equal(a.configs[0].host, "~/.agent");
  assert_string_equal(a.configs[0].home, ".agent");
  assert_false(a.configs[0].optional);
  assert_string_equal(a.configs[1].home, ".config/agent.json");
  assert_true(a.configs[1].optional);
  assert_false(a.configs[2].optional);
  assert_string_equal(a.config_file_home, ".agent/config.toml");
  assert_strv(&a.env, "A=1", "B_2=two words", "EMPTY=", NULL);
  assert_strv(&a.interactive_args, "--yolo", "{model_args}", NULL);
  assert_strv(&a.headless_args, "run", "{model_args}", "{prompt}", NULL);
  assert_strv(&a.model_args, "-m", "{model}", NULL);
  assert_strv(&a.api_hosts, "api.example.com", "auth.example.com", NULL);
  assert_strv(&a.login_hosts, "login.example.com", "*.sso.example.com", NULL);
  adr_agent_free(&a);
}

static void test_parse_errors(void **state)
{
  (void)state;
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"bogus\":1}",
                     "src.json: unknown field \"bogus\"");
  expect_parse_error("{\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS "}", "src.json: missing \"name\"");
  expect_parse_error("{\"name\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS "}", "src.json: missing \"binary\"");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_ARGS "}",
                     "src.json: missing \"npm\" object {\"package\", \"version\"}");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\",\"npm\":\"p@1\"," MINIMAL_ARGS "}",
                     "src.json: missing \"npm\" object {\"package\", \"version\"}");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\",\"npm\":{\"package\":\"p\"}," MINIMAL_ARGS "}",
                     "src.json: missing \"version\"");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\",\"npm\":{\"version\":\"1\"}," MINIMAL_ARGS "}",
                     "src.json: missing \"package\"");
  expect_parse_error("{\"name\":1,\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS "}",
                     "src.json: \"name\" must be a string");
  expect_parse_error("{\"name\":\"x\",\"binary\":null," MINIMAL_NPM "," MINIMAL_ARGS "}",
                     "src.json: \"binary\" must be a string");

  static const char *const bad_names[] = {
    "Bad", "has space", "-dash",      ".dot",
    "",    "a/b",       "caf\\u00e9", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
    cleanup_free char *j =
      xasprintf("{\"name\":\"%s\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS "}", bad_names[i]);
    expect_parse_error(j, "^src.json: invalid agent name \"");
  }

  const char *no_prompt = "src.json: \"args\".\"headless\" must contain \"{prompt}\"";
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "}", no_prompt);
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM ",\"args\":{\"headless\":[\"-p\"]}}", no_prompt);
  expect_parse_error(
    "{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM ",\"args\":{\"headless\":[\"--prompt={prompt}\"]}}", no_prompt);
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM ",\"args\":{\"interactive\":[\"{prompt}\"]}}",
                     no_prompt);
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM ",\"args\":[\"{prompt}\"]}",
                     "src.json: \"args\" must be an object");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM ",\"args\":{\"headless\":\"{prompt}\"}}",
                     "src.json: \"headless\" must be an array of strings");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM ",\"args\":{\"headless\":[\"{prompt}\",7]}}",
                     "src.json: \"headless\"[1] must be a string");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"api_hosts\":[1]}",
                     "src.json: \"api_hosts\"[0] must be a string");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"login_hosts\":\"a.com\"}",
                     "src.json: \"login_hosts\" must be an array of strings");
  {
    /* a login host is an allowlist entry: checked as one */
    struct adr_agent a;
    adr_err err = NULL;
    assert_int_equal(parse("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS
                           ",\"login_hosts\":[\"bad host!\"]}",
                           &a, &err),
                     -1);
    assert_non_null(strstr(err->msg, "src.json: \"login_hosts\""));
    assert_non_null(strstr(err->msg, "bad host!"));
    adr_err_free(&err);
  }

  /* config paths must stay inside HOME */
  static const char *const bad_homes[] = { "/etc", "..", "../x", "a/../../x", "a/..", "" };
  for (size_t i = 0; i < ARRAY_SIZE(bad_homes); i++) {
    cleanup_free char *j = xasprintf("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS
                                     ",\"config\":[{\"host\":\"~/.x\",\"home\":\"%s\"}]}",
                                     bad_homes[i]);
    cleanup_free char *msg =
      xasprintf("src.json: config \"home\" must be a relative path inside HOME: \"%s\"", bad_homes[i]);
    expect_parse_error(j, msg);
    cleanup_free char *j2 = xasprintf(
      "{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"config_file\":\"%s\"}", bad_homes[i]);
    expect_parse_error(j2, "src.json: \"config_file\" must be a relative path inside HOME");
  }
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS
                     ",\"config\":[{\"home\":\".x\"}]}",
                     "src.json: missing \"host\"");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"config\":[\"~/.x\"]}",
                     "src.json: missing \"host\"");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"config\":{}}",
                     "src.json: \"config\" must be an array");

  /* env */
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"env\":{\"A\":1}}",
                     "src.json: env \"A\": invalid name or non-string value");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"env\":{\"A\":null}}",
                     "src.json: env \"A\": invalid name or non-string value");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS
                     ",\"env\":{\"OK\":\"1\",\"1BAD\":\"x\"}}",
                     "src.json: env \"1BAD\": invalid name or non-string value");
  expect_parse_error("{\"name\":\"x\",\"binary\":\"x\"," MINIMAL_NPM "," MINIMAL_ARGS ",\"env\":[\"A=1\"]}",
                     "src.json: \"env\" must be an object of strings");

  /* not an object, not JSON, duplicates */
  expect_parse_error("[]", "src.json: must be a JSON object");
  expect_parse_error("\"x\"", "^src.json:");
  expect_parse_error("{", "^src.json:1: ");
  expect_parse_error("", "^src.json:");
  expect_parse_error("{\"name\":\"x\",\n\"name\":\"y\"}", "^src.json:2: ");
}

/* ------------------------------------------------------------- load */

struct fx {
  char *root, *xdg, *user;
};

static int fx_setup(void **state)
{
  struct fx *f = xcalloc(1, sizeof(*f));
  f->root = make_tmpdir();
  f->xdg = xasprintf("%s/xdg", f->root);
  f->user = xasprintf("%s/agents", f->root);
  if (mkdir(f->xdg, 0755) < 0 || mkdir(f->user, 0755) < 0)
    return -1;
  /* never read the real ~/.config/adr/agents */
  setenv("XDG_CONFIG_HOME", f->xdg, 1);
  *state = f;
  return 0;
}

static int fx_teardown(void **state)
{
  struct fx *f = *state;
  rm_rf(f->root);
  free(f->root);
  free(f->xdg);
  free(f->user);
  free(f);
  return 0;
}

static const char *const builtin_names[] = { "claude", "codex", "copilot", "gemini", "opencode", "pi" };

static void test_load_builtins(void **state)
{
  struct fx *f = *state;
  cleanup_agents struct adr_agents l;
  adr_err err = NULL;
  if (adr_agents_load(&l, f->user, &err) < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(l.n, ARRAY_SIZE(builtin_names));
  for (size_t i = 0; i < l.n; i++) {
    assert_string_equal(l.v[i].name, builtin_names[i]);
    assert_string_equal(l.v[i].source, "built-in");
    assert_non_null(l.v[i].binary);
    assert_true(strv_contains(&l.v[i].headless_args, "{prompt}"));
    assert_ptr_equal(adr_agents_find(&l, builtin_names[i]), &l.v[i]);
  }
  assert_int_equal(l.warnings.n, 0);
  assert_null(adr_agents_find(&l, "nope"));
  assert_true(adr_agents_unknown(&l, "nope", &err) < 0);
  assert_string_equal(err->msg, "unknown agent 'nope' (known: claude, codex, copilot, gemini, opencode, pi)");
  assert_int_equal(err->errnum, ENOENT);
  adr_err_free(&err);

  /* NULL user_dir: $XDG_CONFIG_HOME/adr/agents (absent here) */
  cleanup_agents struct adr_agents l2;
  assert_int_equal(adr_agents_load(&l2, NULL, &err), 0);
  assert_int_equal(l2.n, ARRAY_SIZE(builtin_names));
  /* a user dir that does not exist is fine */
  cleanup_free char *missing = xasprintf("%s/nope", f->root);
  cleanup_agents struct adr_agents l3;
  assert_int_equal(adr_agents_load(&l3, missing, &err), 0);
  assert_int_equal(l3.n, ARRAY_SIZE(builtin_names));
}

static void test_load_user_dir(void **state)
{
  struct fx *f = *state;
  cleanup_free char *extra = xasprintf("%s/extra.json", f->user);
  cleanup_free char *pi = xasprintf("%s/pi.json", f->user);
  cleanup_free char *mismatch = xasprintf("%s/mismatch.json", f->user);
  cleanup_free char *hidden = xasprintf("%s/.hidden.json", f->user);
  cleanup_free char *txt = xasprintf("%s/notes.txt", f->user);
  write_text(extra, "{\"name\":\"extra\",\"binary\":\"extra-bin\"," MINIMAL_NPM "," MINIMAL_ARGS "}");
  write_text(pi, "{\"name\":\"pi\",\"binary\":\"pi-custom\"," MINIMAL_NPM "," MINIMAL_ARGS "}");
  write_text(mismatch, "{\"name\":\"other\",\"binary\":\"o\"," MINIMAL_NPM "," MINIMAL_ARGS "}");
  write_text(hidden, "not even json");
  write_text(txt, "not even json");
  cleanup_agents struct adr_agents l;
  adr_err err = NULL;
  if (adr_agents_load(&l, f->user, &err) < 0)
    fail_msg("%s", err->msg);
  static const char *const want[] = { "claude", "codex", "copilot", "extra", "gemini", "opencode", "other", "pi" };
  assert_int_equal(l.n, ARRAY_SIZE(want));
  for (size_t i = 0; i < l.n; i++)
    assert_string_equal(l.v[i].name, want[i]);
  const struct adr_agent *a = adr_agents_find(&l, "pi");
  assert_string_equal(a->binary, "pi-custom");
  assert_string_equal(a->source, pi);
  a = adr_agents_find(&l, "extra");
  assert_string_equal(a->source, extra);
  assert_string_equal(adr_agents_find(&l, "claude")->source, "built-in");
  assert_int_equal(l.warnings.n, 1);
  cleanup_free char *w =
    xasprintf("agent definition '%s' names agent 'other'; file name and name should match", mismatch);
  assert_string_equal(l.warnings.v[0], w);
}

static void test_load_user_dir_error(void **state)
{
  struct fx *f = *state;
  cleanup_free char *bad = xasprintf("%s/bad.json", f->user);
  write_text(bad, "{\"name\":\"bad\",\"binary\":\"b\"," MINIMAL_NPM "}");
  struct adr_agents l;
  adr_err err = NULL;
  assert_true(adr_agents_load(&l, f->user, &err) < 0);
  cleanup_free char *want = xasprintf("agent definition: %s: \"args\".\"headless\" must contain \"{prompt}\"", bad);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
  adr_agents_free(&l);
}

/* ------------------------------------------------------------- argv */

static void argv_of(const struct adr_agent *a, bool headless, const char *prompt, const char *model, char *const *extra,
                    size_t n_extra, struct strv *out)
{
  adr_err err = NULL;
  if (adr_agent_argv(a, headless, prompt, model, extra, n_extra, out, &err) < 0)
    fail_msg("argv: %s", err->msg);
}

static void test_argv_builtins(void **state)
{
  struct fx *f = *state;
  cleanup_agents struct adr_agents l;
  adr_err err = NULL;
  assert_int_equal(adr_agents_load(&l, f->user, &err), 0);
  const struct adr_agent *claude = adr_agents_find(&l, "claude");
  const struct adr_agent *pi = adr_agents_find(&l, "pi");
  const struct adr_agent *gemini = adr_agents_find(&l, "gemini");
  assert_non_null(claude);
  assert_non_null(pi);
  assert_non_null(gemini);

  struct strv out = { 0 };
  argv_of(claude, true, "fix the bug", "opus", NULL, 0, &out);
  assert_strv(&out, "claude", "-p", "--dangerously-skip-permissions", "--model", "opus", "fix the bug", NULL);
  strv_free(&out);

  argv_of(claude, false, NULL, NULL, NULL, 0, &out);
  assert_strv(&out, "claude", "--dangerously-skip-permissions", NULL);
  strv_free(&out);

  char e0[] = "--verbose", e1[] = "{prompt}";
  char *extra[] = { e0, e1 };
  argv_of(claude, false, NULL, "", extra, 2, &out);
  assert_strv(&out, "claude", "--dangerously-skip-permissions", "--verbose", "{prompt}", NULL);
  strv_free(&out);

  /* {model_args} placed before -p for gemini */
  argv_of(gemini, true, "hi", "gemini-2.5-pro", extra, 1, &out);
  assert_strv(&out, "gemini", "--yolo", "-m", "gemini-2.5-pro", "-p", "hi", "--verbose", NULL);
  strv_free(&out);

  /* pi: provider/model split */
  argv_of(pi, true, "hi", "openai/gpt-5", NULL, 0, &out);
  assert_strv(&out, "pi", "-p", "--no-session", "--provider", "openai", "--model", "gpt-5", "hi", NULL);
  strv_free(&out);
  argv_of(pi, true, "hi", "openrouter/anthropic/claude-sonnet", NULL, 0, &out);
  assert_strv(&out, "pi", "-p", "--no-session", "--provider", "openrouter", "--model", "anthropic/claude-sonnet", "hi",
              NULL);
  strv_free(&out);
  argv_of(pi, false, NULL, "anthropic/claude", extra, 1, &out);
  assert_strv(&out, "pi", "--provider", "anthropic", "--model", "claude", "--verbose", NULL);
  strv_free(&out);
  /* no model: no model args at all */
  argv_of(pi, true, "hi", NULL, NULL, 0, &out);
  assert_strv(&out, "pi", "-p", "--no-session", "hi", NULL);
  strv_free(&out);

  /* provider required but missing */
  assert_true(adr_agent_argv(pi, true, "hi", "gpt-5", NULL, 0, &out, &err) < 0);
  assert_string_equal(err->msg, "agent 'pi' needs the model as PROVIDER/MODEL, got 'gpt-5'");
  assert_int_equal(err->errnum, EINVAL);
  adr_err_free(&err);
  strv_free(&out);
  assert_true(adr_agent_argv(pi, true, "hi", "/gpt-5", NULL, 0, &out, &err) < 0);
  adr_err_free(&err);
  strv_free(&out);
}

static void test_argv_custom(void **state)
{
  (void)state;
  /* no {model_args} in the mode args: model args go after them; tokens
   * with placeholders inside are substituted */
  const char *j = "{\"name\":\"c\",\"binary\":\"cbin\"," MINIMAL_NPM
                  ","
                  "\"args\":{\"interactive\":[\"--tui\"],\"headless\":[\"run\",\"{prompt}\",\"--quiet\"],"
                  "\"model\":[\"--model={model_name}@{model_provider}\",\"{model}{model}\",\"{modelx}\"]}}";
  struct adr_agent a;
  adr_err err = NULL;
  assert_int_equal(parse(j, &a, &err), 0);
  struct strv out = { 0 };
  char e0[] = "x", e1[] = "";
  char *extra[] = { e0, e1 };
  argv_of(&a, true, "the prompt", "prov/name", extra, 2, &out);
  assert_strv(&out, "cbin", "run", "the prompt", "--quiet", "--model=name@prov", "prov/nameprov/name", "{modelx}", "x",
              "", NULL);
  strv_free(&out);
  /* no provider: {model_provider} is wanted, so this is an error */
  assert_true(adr_agent_argv(&a, false, NULL, "name", NULL, 0, &out, &err) < 0);
  adr_err_free(&err);
  strv_free(&out);
  adr_agent_free(&a);

  /* without {model_provider}, a model without '/' is fine */
  j = "{\"name\":\"d\",\"binary\":\"d\"," MINIMAL_NPM
      ","
      "\"args\":{\"headless\":[\"{model_args}\",\"{prompt}\",\"{model_args}\"],\"model\":[\"-m\",\"{model_name}\"]}}";
  assert_int_equal(parse(j, &a, &err), 0);
  argv_of(&a, true, NULL, "m1", NULL, 0, &out);
  assert_strv(&out, "d", "-m", "m1", "", "-m", "m1", NULL);
  strv_free(&out);
  argv_of(&a, true, "p", "a/b", NULL, 0, &out);
  assert_strv(&out, "d", "-m", "b", "p", "-m", "b", NULL);
  strv_free(&out);
  adr_agent_free(&a);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_minimal),
    cmocka_unit_test(test_parse_full),
    cmocka_unit_test(test_parse_errors),
    cmocka_unit_test_setup_teardown(test_load_builtins, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_load_user_dir, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_load_user_dir_error, fx_setup, fx_teardown),
    cmocka_unit_test_setup_teardown(test_argv_builtins, fx_setup, fx_teardown),
    cmocka_unit_test(test_argv_custom),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
