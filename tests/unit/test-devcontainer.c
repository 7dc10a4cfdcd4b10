/* devcontainer.json: JSONC, the fields adr reads, variables, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "devcontainer.h"
#include "tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fake_env(const char *name)
{
  if (strcmp(name, "HOME") == 0)
    return "/home/u";
  if (strcmp(name, "ANTHROPIC_API_KEY") == 0)
    return "sk-host-secret";
  if (strcmp(name, "PROJ_REGION") == 0)
    return "eu-1";
  return NULL;
}

static const struct adr_devcontainer_vars vars = { .local_workspace = "/src/app",
                                                   .container_workspace = "/workspace",
                                                   .getenv_fn = fake_env };

static char *write_file(const char *rel, const char *text)
{
  char *p = tmp_put(rel, text);
  assert_non_null(p);
  return p;
}

static int setup(void **state)
{
  (void)state;
  return tmp_make("test-devcontainer");
}

static int teardown(void **state)
{
  (void)state;
  return tmp_remove();
}

static void strip_is(const char *in, const char *want)
{
  adr_err err = NULL;
  char *got = adr_jsonc_strip(in, strlen(in), &err);
  assert_non_null(got);
  assert_string_equal(got, want);
  free(got);
}

static void test_jsonc(void **state)
{
  (void)state;
  strip_is("{\"a\": 1}", "{\"a\": 1}");                                 /* strict JSON stays as it is */
  strip_is("{\"a\": 1, // one\n}", "{\"a\": 1 \n}");                    /* line comment, trailing comma */
  strip_is("[1, 2, /* c */ ]", "[1, 2   ]");                            /* a comment, then ]: trailing */
  strip_is("{\"u\": \"http://x/*y*/\"}", "{\"u\": \"http://x/*y*/\"}"); /* in a string: not comments */
  strip_is("{\"q\": \"a\\\"//b\"}", "{\"q\": \"a\\\"//b\"}");           /* an escaped quote */
  strip_is("/* a\nb */{}", "\n {}");                                    /* lines kept for the line numbers */
  adr_err err = NULL;
  assert_null(adr_jsonc_strip("{\"a\": 1 /* open", 15, &err));
  assert_string_equal(err->msg, "line 1: a comment is not closed");
  adr_err_free(&err);
  assert_null(adr_jsonc_strip("{\n\"a", 4, &err));
  assert_string_equal(err->msg, "line 2: a string is not closed");
  adr_err_free(&err);
}

static void test_full(void **state)
{
  (void)state;
  cleanup_free char *p =
    write_file(".devcontainer/devcontainer.json",
               "// the project's environment\n"
               "{\n"
               "  \"name\": \"app\", /* ignored by adr */\n"
               "  \"build\": { \"dockerfile\": \"Dockerfile\", \"context\": \"..\",\n"
               "             \"args\": { \"V\": \"1\", \"N\": 2, }, },\n"
               "  \"containerEnv\": { \"A\": \"${localEnv:HOME}/x\", \"B\": "
               "\"${localWorkspaceFolderBasename}\",\n"
               "                    \"C\": \"${localEnv:NOPE:fallback}\", \"D\": \"${localEnv:NOPE}\" },\n"
               "  \"remoteEnv\": { \"PATH\": \"${containerEnv:PATH}:/x\" },\n"
               "  \"remoteUser\": \"vscode\", \"containerUser\": \"root\",\n"
               "  \"mounts\": [\"source=${localWorkspaceFolder}/c,target=/c,type=bind\",\n"
               "             { \"type\": \"volume\", \"source\": \"v\", \"target\": \"/v\" }],\n"
               "  \"workspaceFolder\": \"${containerWorkspaceFolder}/sub\",\n"
               "  \"postCreateCommand\": \"make deps && echo 'ok'\",\n"
               "  \"postStartCommand\": [\"make\", \"serve\"],\n"
               "  \"forwardPorts\": [3000, \"db:5432\"],\n"
               "  \"features\": { \"features.example.internal/node:1\": {} },\n"
               "}\n");
  cleanup_free char *found = NULL;
  assert_int_equal(adr_devcontainer_find(dir, &found), 0);
  assert_string_equal(found, p);
  struct adr_devcontainer d;
  adr_err err = NULL;
  if (adr_devcontainer_load(p, &vars, &d, &err) < 0)
    fail_msg("%s", err->msg);
  assert_null(d.image);
  cleanup_free char *df = xasprintf("%s/.devcontainer/Dockerfile", dir), *ctx = xasprintf("%s/.devcontainer/..", dir);
  assert_string_equal(d.dockerfile, df);
  assert_string_equal(d.context, ctx);
  assert_int_equal(d.build_args.n, 2);
  assert_string_equal(d.build_args.v[0], "V=1");
  assert_string_equal(d.build_args.v[1], "N=2");
  assert_int_equal(d.container_env.n, 4);
  assert_string_equal(d.container_env.v[0], "A=/home/u/x");
  assert_string_equal(d.container_env.v[1], "B=app");
  assert_string_equal(d.container_env.v[2], "C=fallback");
  assert_string_equal(d.container_env.v[3], "D=");
  assert_string_equal(d.remote_env.v[0], "PATH=${containerEnv:PATH}:/x"); /* for the sandbox to resolve */
  assert_string_equal(d.remote_user, "vscode");
  assert_string_equal(d.container_user, "root");
  assert_int_equal(d.mounts.n, 2);
  assert_string_equal(d.mounts.v[0], "source=/src/app/c,target=/c,type=bind");
  assert_string_equal(d.mounts.v[1], "type=volume,source=v,target=/v");
  assert_string_equal(d.workspace_folder, "/workspace/sub");
  assert_int_equal(d.post_create.n, 3);
  assert_string_equal(d.post_create.v[0], "/bin/sh");
  assert_string_equal(d.post_create.v[2], "make deps && echo 'ok'");
  assert_int_equal(d.post_start.n, 2);
  assert_string_equal(d.post_start.v[1], "serve");
  assert_int_equal(d.forward_ports.n, 2);
  assert_string_equal(d.forward_ports.v[0], "3000");
  assert_string_equal(d.forward_ports.v[1], "db:5432");
  assert_int_equal(d.features.n, 1);
  assert_string_equal(d.features.v[0], "features.example.internal/node:1");
  adr_devcontainer_free(&d);
}

static void test_image_compose_and_find(void **state)
{
  (void)state;
  cleanup_free char *none = NULL;
  assert_int_equal(adr_devcontainer_find(dir, &none), 1);
  assert_null(none);
  cleanup_free char *p = write_file(".devcontainer.json", "{ \"image\": \"debian:bookworm-slim\" }");
  cleanup_free char *found = NULL;
  assert_int_equal(adr_devcontainer_find(dir, &found), 0);
  assert_string_equal(found, p);
  struct adr_devcontainer d;
  adr_err err = NULL;
  assert_int_equal(adr_devcontainer_load(p, NULL, &d, &err), 0);
  assert_string_equal(d.image, "debian:bookworm-slim");
  assert_null(d.dockerfile);
  adr_devcontainer_free(&d);
  /* .devcontainer/devcontainer.json comes first */
  cleanup_free char *p2 = write_file(".devcontainer/devcontainer.json",
                                     "{ \"dockerComposeFile\": \"compose.yml\", \"service\": \"app\", "
                                     "\"runServices\": [\"db\"] }");
  cleanup_free char *found2 = NULL;
  assert_int_equal(adr_devcontainer_find(dir, &found2), 0);
  assert_string_equal(found2, p2);
  assert_int_equal(adr_devcontainer_load(p2, NULL, &d, &err), 0);
  cleanup_free char *cf = xasprintf("%s/.devcontainer/compose.yml", dir);
  assert_int_equal(d.compose_files.n, 1);
  assert_string_equal(d.compose_files.v[0], cf);
  assert_string_equal(d.service, "app");
  assert_string_equal(d.run_services.v[0], "db");
  adr_devcontainer_free(&d);
}

static void test_errors(void **state)
{
  (void)state;
  static const struct {
    const char *text, *msg;
  } t[] = {
    { "{ \"image\": 1 }", "'image' is a string" },
    { "{ }", "names no 'image', 'build.dockerfile' or 'dockerComposeFile'" },
    { "{ \"dockerComposeFile\": \"c.yml\" }", "'dockerComposeFile' needs a 'service'" },
    { "{ \"image\": \"x\", \"postCreateCommand\": { \"a\": \"b\" } }",
      "'postCreateCommand' as an object (commands in parallel) is not supported by adr: use a string or a list" },
    { "{ \"image\": \"x\", \"containerEnv\": { \"A-B\": \"1\" } }",
      "'containerEnv': 'A-B' is not an environment variable name" },
    { "{ \"image\": \"x\", \"forwardPorts\": [70000] }", "'forwardPorts'[0] is a port (1-65535) or \"HOST:PORT\"" },
    { "{ \"image\": \"x\", \"mounts\": [ { \"source\": \"/a\" } ] }", "'mounts'[0] has no target" },
    { "{ \"image\": \"x\", \"image\": \"y\" }", "duplicate object key" },
    { "[1]", "not a JSON object" },
    { "{ \"image\": \"x\" /* open", "a comment is not closed" },
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    cleanup_free char *p = write_file("bad.json", t[i].text);
    struct adr_devcontainer d;
    adr_err err = NULL;
    if (adr_devcontainer_load(p, &vars, &d, &err) != -1)
      fail_msg("accepted: %s", t[i].text);
    if (!strstr(err->msg, t[i].msg) || strncmp(err->msg, p, strlen(p)) != 0)
      fail_msg("%s: got '%s', want the file and '%s'", t[i].text, err->msg, t[i].msg);
    adr_err_free(&err);
  }
}

/* ${localEnv:X}: the host's value only for harmless names and those the
 * user allows; a secret is withheld (its default, or empty) and named */
static void test_local_env(void **state)
{
  (void)state;
  cleanup_free char *p = write_file(".devcontainer.json",
                                    "{ \"image\": \"i\", \"containerEnv\": {\n"
                                    "  \"H\": \"${localEnv:HOME}\",\n"
                                    "  \"K\": \"${localEnv:ANTHROPIC_API_KEY}\",\n"
                                    "  \"D\": \"${localEnv:ANTHROPIC_API_KEY:none}\",\n"
                                    "  \"R\": \"${env:PROJ_REGION}\" } }\n");
  struct strv withheld = { 0 }, allow = { 0 };
  struct adr_devcontainer_vars v = vars;
  v.withheld = &withheld;
  struct adr_devcontainer d;
  adr_err err = NULL;
  assert_int_equal(adr_devcontainer_load(p, &v, &d, &err), 0);
  assert_string_equal(d.container_env.v[0], "H=/home/u");
  assert_string_equal(d.container_env.v[1], "K=");
  assert_string_equal(d.container_env.v[2], "D=none");
  assert_string_equal(d.container_env.v[3], "R=");
  assert_int_equal(withheld.n, 2);
  assert_string_equal(withheld.v[0], "ANTHROPIC_API_KEY");
  assert_string_equal(withheld.v[1], "PROJ_REGION");
  adr_devcontainer_free(&d);
  strv_free(&withheld);
  /* the user's configuration allows a name: then it is given */
  strv_push(&allow, "PROJ_REGION");
  v.env_allow = &allow;
  assert_int_equal(adr_devcontainer_load(p, &v, &d, &err), 0);
  assert_string_equal(d.container_env.v[1], "K=");
  assert_string_equal(d.container_env.v[3], "R=eu-1");
  assert_int_equal(withheld.n, 1);
  adr_devcontainer_free(&d);
  strv_free(&withheld);
  strv_free(&allow);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_jsonc),
    cmocka_unit_test_setup_teardown(test_full, setup, teardown),
    cmocka_unit_test_setup_teardown(test_image_compose_and_find, setup, teardown),
    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_local_env, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
