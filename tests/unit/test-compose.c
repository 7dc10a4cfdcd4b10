/* The compose reader: YAML (anchors, merge keys), interpolation, the
 * services' fields, what widens the sandbox refused, files merged, the
 * start order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "compose.h"
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
  if (strcmp(name, "DB_TAG") == 0)
    return "from-host";
  return NULL;
}

static int setup(void **state)
{
  (void)state;
  return tmp_make("test-compose");
}

static int teardown(void **state)
{
  (void)state;
  return tmp_remove();
}

static int parse(const char *text, const char *dotenv, struct adr_compose *c, struct strv *withheld, adr_err *err)
{
  struct adr_compose_vars v = { .root = dir, .getenv_fn = fake_env, .withheld = withheld };
  return adr_compose_parse(text, strlen(text), "compose.yaml", dir, dotenv, &v, c, err);
}

static void test_services(void **state)
{
  (void)state;
  free(tmp_put("app/Dockerfile", "FROM debian\n"));
  free(tmp_put("db/init.sql", "select 1;\n"));
  free(tmp_put("db.env", "# the database\nPOSTGRES_DB=app\nBARE\n"));
  const char *y =
    "x-common: &common\n"
    "  environment:\n"
    "    TZ: UTC\n"
    "  working_dir: /srv\n"
    "  restart: always\n"
    "services:\n"
    "  app:\n"
    "    build:\n"
    "      context: app\n"
    "      args: [\"V=1\"]\n"
    "    command: sleep infinity\n"
    "    depends_on:\n"
    "      db: { condition: service_healthy }\n"
    "  db:\n"
    "    <<: *common\n"
    "    image: \"adr-test/postgres:${DB_TAG:-1}\"\n"
    "    env_file: db.env\n"
    "    environment:\n"
    "      - POSTGRES_PASSWORD=${PW}\n"
    "      - KEY=${ANTHROPIC_API_KEY:-none}\n"
    "      - COST=$$5\n"
    "    command: [\"postgres\", \"-c\", \"fsync=off\"]\n"
    "    entrypoint: 'sh -c \"exec \\\"$$@\\\"\" --'\n"
    "    user: postgres\n"
    "    healthcheck:\n"
    "      test: [\"CMD-SHELL\", \"pg_isready -U postgres\"]\n"
    "      interval: 1s\n"
    "      timeout: 1m30s\n"
    "      start_period: 500ms\n"
    "      retries: 30\n"
    "    volumes:\n"
    "      - ./db/init.sql:/docker-entrypoint-initdb.d/init.sql:ro\n"
    "      - pgdata:/var/lib/postgresql/data\n"
    "    tmpfs: /run/postgresql\n"
    "    ports: [\"5432:5432\"]\n"
    "volumes:\n"
    "  pgdata: {}\n";
  struct adr_compose c;
  struct strv withheld = { 0 };
  adr_err err = NULL;
  if (parse(y, "PW=secret\n", &c, &withheld, &err) < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(c.n, 2);
  const struct adr_compose_service *app = adr_compose_find(&c, "app"), *db = adr_compose_find(&c, "db");
  assert_non_null(app);
  assert_non_null(db);
  assert_null(app->image);
  cleanup_free char *actx = xasprintf("%s/app", dir), *adf = xasprintf("%s/app/Dockerfile", dir);
  char *rctx = realpath(actx, NULL), *rdf = realpath(adf, NULL);
  assert_string_equal(app->build_context, rctx);
  assert_string_equal(app->build_dockerfile, rdf);
  free(rctx);
  free(rdf);
  assert_string_equal(app->build_args.v[0], "V=1");
  assert_int_equal(app->command.n, 2);
  assert_string_equal(app->command.v[1], "infinity");
  assert_string_equal(app->depends_on.v[0], "db");
  /* the host's DB_TAG is not for a project file: the default */
  assert_string_equal(db->image, "adr-test/postgres:1");
  cleanup_free char *env = strv_join(&db->env, " ");
  /* a merge key is shallow: db's own environment is the whole of it */
  assert_string_equal(env, "POSTGRES_DB=app POSTGRES_PASSWORD=secret KEY=none COST=$5");
  assert_string_equal(db->working_dir, "/srv");
  assert_int_equal(withheld.n, 2);
  assert_string_equal(withheld.v[0], "DB_TAG");
  assert_string_equal(withheld.v[1], "ANTHROPIC_API_KEY");
  cleanup_free char *cmd = strv_join(&db->command, "|"), *ep = strv_join(&db->entrypoint, "|");
  assert_string_equal(cmd, "postgres|-c|fsync=off");
  assert_string_equal(ep, "sh|-c|exec \"$@\"|--");
  assert_string_equal(db->user, "postgres");
  cleanup_free char *ht = strv_join(&db->health_test, "|");
  assert_string_equal(ht, "CMD-SHELL|pg_isready -U postgres");
  assert_int_equal(db->health_interval_ms, 1000);
  assert_int_equal(db->health_timeout_ms, 90000);
  assert_int_equal(db->health_start_ms, 500);
  assert_int_equal(db->health_retries, 30);
  assert_int_equal(db->binds.n, 1);
  cleanup_free char *sqlp = xasprintf("%s/db/init.sql", dir);
  char *rsql = realpath(sqlp, NULL);
  cleanup_free char *want = xasprintf("%s:/docker-entrypoint-initdb.d/init.sql:ro", rsql);
  free(rsql);
  assert_string_equal(db->binds.v[0], want);
  assert_string_equal(db->tmpfs.v[0], "/run/postgresql");
  /* said: the named volume, the ports */
  cleanup_free char *w = strv_join(&c.warnings, "\n");
  assert_non_null(strstr(w, "service 'db': volume pgdata:/var/lib/postgresql/data is not kept"));
  assert_non_null(strstr(w, "service 'db': 'ports' are not published"));
  /* the start order beside the agent's service (app): db */
  struct strv order = { 0 };
  assert_int_equal(adr_compose_order(&c, "app", NULL, &order, &err), 0);
  assert_int_equal(order.n, 1);
  assert_string_equal(order.v[0], "db");
  strv_free(&order);
  strv_free(&withheld);
  adr_compose_free(&c);
}

static void want_error(const char *yaml, const char *msg)
{
  struct adr_compose c;
  adr_err err = NULL;
  if (parse(yaml, NULL, &c, NULL, &err) == 0)
    fail_msg("accepted: %s", yaml);
  if (!strstr(err->msg, msg))
    fail_msg("'%s' is not in '%s'", msg, err->msg);
  adr_err_free(&err);
  adr_compose_free(&c);
}

static void test_refused(void **state)
{
  (void)state;
  want_error("services:\n  a:\n    image: x\n    privileged: true\n",
             "compose.yaml: service 'a': 'privileged' is refused");
  want_error("services:\n  a:\n    image: x\n    cap_add: [SYS_ADMIN]\n", "'cap_add' is refused");
  want_error("services:\n  a:\n    image: x\n    network_mode: host\n", "'network_mode' is refused");
  want_error("services:\n  a:\n    image: x\n    pid: host\n", "'pid' is refused");
  want_error("services:\n  a:\n    image: x\n    devices: [/dev/kvm]\n", "'devices' is refused");
  want_error("services:\n  a:\n    image: x\n    volumes: [\"/etc:/host-etc\"]\n",
             "volume '/etc': a host path outside the project");
  want_error("services:\n  a:\n    image: x\n    volumes: [\"../..:/up\"]\n", "a host path outside the project");
  want_error("services:\n  a:\n    image: x\n    volumes: [\"~/.ssh:/k\"]\n", "a host path outside the project");
  want_error("services:\n  a:\n    image: x\n    env_file: /etc/passwd\n",
             "env_file '/etc/passwd' is not a file inside the project");
  want_error("services:\n  a:\n    build: /\n", "build context '/' is not a directory inside the project");
  /* what does not hold together */
  want_error("services:\n  a:\n    command: x\n", "service 'a' has no 'image' or 'build'");
  want_error("services:\n  a:\n    image: x\n    depends_on: [b]\n", "depends on 'b', which is not a service");
  want_error("services: {}\n", "no 'services'");
  want_error("- a\n", "not a mapping of services");
  want_error("services:\n  a: [1\n", "compose.yaml:");
  want_error("services:\n  \"a b\":\n    image: x\n", "'a b' is not a service name");
  want_error("services:\n  a:\n    image: ${NEEDED:?set NEEDED}\n", "NEEDED is needed: set NEEDED");
  want_error("services:\n  a:\n    image: ${BROKEN\n", "an unterminated ${...}");
  want_error("services:\n  a:\n    image: x\n    healthcheck: { test: [\"BAD\"] }\n", "starts with CMD");
  want_error("services:\n  a:\n    image: x\n    healthcheck: { interval: soon }\n", "is a duration");
  want_error("services:\n  a:\n    image: x\n    command: \"unterminated 'q\"\n", "an unterminated quote");
  want_error("include: [other.yaml]\nservices:\n  a:\n    image: x\n", "'include' is not supported by adr");
  /* unknown keys are said, not fatal */
  struct adr_compose c;
  adr_err err = NULL;
  assert_int_equal(
    parse("services:\n  a:\n    image: x\n    frobnicate: 1\n    restart: always\n", NULL, &c, NULL, &err), 0);
  assert_int_equal(c.warnings.n, 1);
  assert_non_null(strstr(c.warnings.v[0], "'frobnicate' is not supported by adr: left out"));
  adr_compose_free(&c);
}

/* aliases expanded are bounded: a "billion laughs" stops with an error */
static void test_bounds(void **state)
{
  (void)state;
  struct buf b;
  buf_init(&b, 0);
  buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
  for (int i = 1; i < 9; i++)
    buf_printf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i - 1, i - 1,
               i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
  buf_puts(&b, "services:\n  a:\n    image: x\n");
  want_error(b.data, "YAML nodes (aliases expanded)");
  buf_free(&b);
  buf_init(&b, 0);
  for (int i = 0; i < 70; i++)
    buf_puts(&b, "[");
  want_error(b.data, "compose.yaml");
  buf_free(&b);
}

static void test_merge_files_and_order(void **state)
{
  (void)state;
  cleanup_free char *f1 = tmp_put("compose.yaml",
                                  "services:\n"
                                  "  app: { image: app, depends_on: [cache] }\n"
                                  "  db: { image: pg, environment: { A: \"1\", B: \"2\" } }\n"
                                  "  cache: { image: redis, depends_on: [db] }\n"
                                  "  tool: { image: t }\n");
  cleanup_free char *f2 = tmp_put("compose.dev.yaml",
                                  "services:\n"
                                  "  db: { image: pg:16, environment: [\"B=3\", \"C=${FROM_DOTENV}\"] }\n");
  free(tmp_put(".env", "FROM_DOTENV=dot\n"));
  struct strv files = { 0 };
  strv_push(&files, f1);
  strv_push(&files, f2);
  struct adr_compose_vars v = { .root = dir, .getenv_fn = fake_env };
  struct adr_compose c;
  adr_err err = NULL;
  if (adr_compose_load(&files, &v, &c, &err) < 0)
    fail_msg("%s", err->msg);
  const struct adr_compose_service *db = adr_compose_find(&c, "db");
  assert_string_equal(db->image, "pg:16");
  cleanup_free char *env = strv_join(&db->env, " ");
  assert_string_equal(env, "A=1 B=3 C=dot");
  /* dependencies first; the agent's own (app) never; tool only when run */
  struct strv order = { 0 }, run = { 0 };
  assert_int_equal(adr_compose_order(&c, "app", NULL, &order, &err), 0);
  cleanup_free char *all = strv_join(&order, " ");
  assert_string_equal(all, "db cache tool");
  strv_free(&order);
  strv_push(&run, "db");
  assert_int_equal(adr_compose_order(&c, "app", &run, &order, &err), 0);
  cleanup_free char *some = strv_join(&order, " ");
  assert_string_equal(some, "db cache"); /* cache: the agent's service depends on it */
  strv_free(&order);
  strv_free(&run);
  strv_push(&run, "nope");
  assert_int_equal(adr_compose_order(&c, "app", &run, &order, &err), -1);
  assert_string_equal(err->msg, "'runServices' names 'nope', which is not a service");
  adr_err_free(&err);
  strv_free(&order);
  strv_free(&run);
  adr_compose_free(&c);
  /* a cycle */
  struct adr_compose cy;
  assert_int_equal(parse("services:\n  a: { image: x, depends_on: [b] }\n  b: { image: y, depends_on: [c] }\n"
                         "  c: { image: z, depends_on: [b] }\n  main: { image: m }\n",
                         NULL, &cy, NULL, &err),
                   0);
  assert_int_equal(adr_compose_order(&cy, "main", NULL, &order, &err), -1);
  assert_string_equal(err->msg, "services depend on each other in a cycle: a -> b -> c -> b");
  adr_err_free(&err);
  strv_free(&order);
  adr_compose_free(&cy);
  strv_free(&files);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_services, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
    cmocka_unit_test_setup_teardown(test_merge_files_and_order, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
