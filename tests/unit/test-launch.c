/* Unit tests for launch.h without an engine (a fake ops table where one is
 * asked): the plan phase's decisions and errors (usage errors marked as
 * such), its warnings as events, the image phase's verdict, and the
 * escalation of a run that is interrupted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "launch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ the fake engine */

static int kills[4], n_kills;

static int fake_image_inspect(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err)
{
  (void)e, (void)out, (void)err;
  return strstr(ref, "missing") ? 1 : 0;
}

static int fake_container_list(struct adr_engine *e, const struct strv *f, bool all, struct adr_container **out,
                               size_t *n, adr_err *err)
{
  (void)e, (void)f, (void)all, (void)err;
  *out = NULL;
  *n = 0;
  return 0;
}

static int fake_container_kill(struct adr_engine *e, const char *id, int sig, adr_err *err)
{
  (void)e, (void)id, (void)err;
  if (n_kills < 4)
    kills[n_kills++] = sig;
  return 0;
}

static const struct adr_engine_ops fake_ops = {
  .name = "fake",
  .image_inspect = fake_image_inspect,
  .container_list = fake_container_list,
  .container_kill = fake_container_kill,
};

/* ------------------------------------------------------------ fixture */

struct fixture {
  char dir[64];
  char *work;
  struct adr_config config;
  struct adr_agents agents;
  struct adr_launch_opts o;
  struct strv env, allow, presets;
  struct strv events; /* "W:text", "H:text", "I:text" */
  struct adr_engine engine;
};

static const char *no_env(const char *key) { return streq(key, "ADR_TEST_SET") ? "v" : NULL; }

static void record(const struct adr_event *ev, void *ud)
{
  struct fixture *f = ud;
  strv_pushf(&f->events, "%c:%s",
             ev->kind == ADR_EVENT_WARNING ? 'W'
             : ev->kind == ADR_EVENT_HINT  ? 'H'
                                           : 'I',
             ev->text);
}

static int setup(void **state)
{
  struct fixture *f = xcalloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/adr-test-launch-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  setenv("HOME", f->dir, 1);
  cleanup_free char *st = xasprintf("%s/state", f->dir), *cf = xasprintf("%s/config", f->dir);
  setenv("XDG_STATE_HOME", st, 1);
  setenv("XDG_CONFIG_HOME", cf, 1);
  f->work = xasprintf("%s/work", f->dir);
  assert_int_equal(mkdir(f->work, 0700), 0);
  adr_config_init(&f->config);
  adr_err err = NULL;
  assert_int_equal(adr_agents_load(&f->agents, "/nonexistent-adr-agents", &err), 0);
  f->o = (struct adr_launch_opts){
    .cwd = f->work, .agent = "pi", .getenv = no_env, .env = &f->env, .allow = &f->allow, .presets = &f->presets
  };
  f->engine.ops = &fake_ops;
  n_kills = 0;
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f->work);
  adr_config_free(&f->config);
  adr_agents_free(&f->agents);
  strv_free(&f->env);
  strv_free(&f->allow);
  strv_free(&f->presets);
  strv_free(&f->events);
  free(f);
  return 0;
}

/* Plans f->o: 0, or the error's status with its message in *msg. */
static int plan(struct fixture *f, struct adr_launch *l, char **msg)
{
  struct adr_events ev = { record, f };
  adr_launch_init(l, &f->o, &f->config, &f->agents, &ev);
  adr_err err = NULL;
  if (adr_launch_plan(l, &err) == 0)
    return 0;
  int status = err->status;
  if (msg)
    *msg = xstrdup(err->msg);
  adr_err_free(&err);
  return status;
}

static bool has_event(const struct fixture *f, const char *prefix)
{
  for (size_t i = 0; i < f->events.n; i++)
    if (str_has_prefix(f->events.v[i], prefix))
      return true;
  return false;
}

/* ------------------------------------------------------------ tests */

static void test_plan_defaults(void **state)
{
  struct fixture *f = *state;
  f->o.prompt = "fix it";
  f->o.memory = "1g";
  cleanup_launch struct adr_launch l;
  assert_int_equal(plan(f, &l, NULL), 0);
  assert_true(l.headless);
  assert_string_equal(l.image, "coding-agent/pi:latest");
  assert_int_equal(l.memory, 1u << 30);
  assert_int_equal(l.pids, 1024);
  assert_int_equal(l.timeout, 0);
  assert_int_equal(l.pol.mode, ADR_NET_ALLOWLIST);
  assert_string_equal(l.ws, f->work);
  assert_int_equal(f->events.n, 0);
  /* nothing is made by a plan: the teardown has nothing to undo */
  adr_launch_teardown(&l);
}

static void test_plan_no_key(void **state)
{
  struct fixture *f = *state;
  f->o.agent = "claude";
  f->o.prompt = "fix it";
  cleanup_launch struct adr_launch l;
  assert_int_equal(plan(f, &l, NULL), 0);
  /* no key anywhere (the host's environment is not asked): said before
   * anything starts; the agent's API hosts are then allowed directly */
  assert_true(has_event(f, "W:no API key found for claude"));
  assert_true(has_event(f, "H:give it one with 'adr secret set"));
  assert_int_equal(l.creds.n_routes, 0);
  bool api = false;
  for (size_t i = 0; i < l.pol.n; i++)
    api = api || streq(l.pol.v[i].pattern, "api.anthropic.com");
  assert_true(api);
}

static void test_plan_usage_errors(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *msg = NULL;
  cleanup_launch struct adr_launch l;

  f->o.tag = "bad tag";
  assert_int_equal(plan(f, &l, &msg), ADR_LAUNCH_USAGE);
  assert_true(str_has_prefix(msg, "--tag: "));
  adr_launch_free(&l);
  free(msg);
  f->o.tag = NULL;

  f->o.name = "Bad";
  assert_int_equal(plan(f, &l, &msg), ADR_LAUNCH_USAGE);
  assert_string_equal(msg, "--name 'Bad': use lowercase letters, digits, '-', '_', '.'");
  adr_launch_free(&l);
  free(msg);
  f->o.name = NULL;

  f->o.network = "bogus";
  assert_int_equal(plan(f, &l, &msg), ADR_LAUNCH_USAGE);
  assert_true(str_has_prefix(msg, "--network: "));
  adr_launch_free(&l);
  free(msg);

  f->o.network = "none";
  strv_push(&f->allow, "example.com");
  assert_int_equal(plan(f, &l, &msg), ADR_LAUNCH_USAGE);
  assert_string_equal(msg, "--allow and --allow-preset need --network allowlist (not none)");
  adr_launch_free(&l);
  free(msg);
  f->o.network = NULL;
  strv_free(&f->allow);

  strv_push(&f->presets, "nope");
  assert_int_equal(plan(f, &l, &msg), ADR_LAUNCH_USAGE);
  assert_string_equal(msg, "--allow-preset 'nope': unknown preset (packages)");
  adr_launch_free(&l);
  free(msg);
  strv_free(&f->presets);

  strv_push(&f->env, "1BAD=x");
  assert_int_equal(plan(f, &l, &msg), ADR_LAUNCH_USAGE);
  assert_true(str_has_prefix(msg, "-e: "));
}

static void test_plan_errors(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *msg = NULL;
  cleanup_launch struct adr_launch l;

  f->o.agent = "nosuch";
  assert_int_equal(plan(f, &l, &msg), 1);
  assert_true(str_has_prefix(msg, "unknown agent 'nosuch'"));
  adr_launch_free(&l);
  free(msg);
  f->o.agent = "pi";

  f->o.memory = "1k";
  assert_int_equal(plan(f, &l, &msg), 1);
  assert_string_equal(msg, "--memory 1k: at least 6m");
  adr_launch_free(&l);
  free(msg);
  f->o.memory = NULL;

  f->o.timeout = "2s";
  f->o.prompt = "x";
  assert_int_equal(plan(f, &l, &msg), 1);
  assert_string_equal(msg, "--timeout '2s': must be at least 5s");
  adr_launch_free(&l);
  free(msg);
  f->o.timeout = NULL;

  f->o.workspace = f->dir; /* HOME itself */
  assert_int_equal(plan(f, &l, &msg), 1);
  assert_non_null(strstr(msg, "refusing to give an agent your whole home directory"));
  adr_launch_free(&l);
  free(msg);
  f->o.workspace = "/nonexistent-adr-ws";
  assert_int_equal(plan(f, &l, &msg), 1);
  assert_true(str_has_prefix(msg, "workspace '/nonexistent-adr-ws': "));
}

static void test_plan_warnings(void **state)
{
  struct fixture *f = *state;
  f->o.timeout = "10m"; /* interactive: kept, and said */
  strv_push(&f->env, "ADR_TEST_UNSET");
  strv_push(&f->env, "ADR_TEST_SET");
  f->o.no_relay = true;
  cleanup_launch struct adr_launch l;
  assert_int_equal(plan(f, &l, NULL), 0);
  assert_int_equal(l.timeout, 600);
  assert_true(has_event(f, "W:this interactive session will be stopped after 10m (--timeout)"));
  assert_true(has_event(f, "W:-e ADR_TEST_UNSET: ADR_TEST_UNSET is not set on the host; not passed"));
  assert_true(has_event(f, "W:credential relay off (--no-relay)"));
  assert_true(strv_contains(&l.ro.env, "ADR_TEST_SET=v"));
  adr_launch_free(&l);

  /* ADR_TIMEOUT applies to headless runs only */
  f->o.timeout = NULL;
  adr_config_put(&f->config, "ADR_TIMEOUT", "1m", "test");
  assert_int_equal(plan(f, &l, NULL), 0);
  assert_int_equal(l.timeout, 0);
  adr_launch_free(&l);
  f->o.prompt = "x";
  assert_int_equal(plan(f, &l, NULL), 0);
  assert_int_equal(l.timeout, 60);
}

static void test_image(void **state)
{
  struct fixture *f = *state;
  cleanup_launch struct adr_launch l;
  assert_int_equal(plan(f, &l, NULL), 0);
  l.engine = &f->engine;
  adr_err err = NULL;
  assert_int_equal(adr_launch_image(&l, &err), 0);
  adr_launch_free(&l);

  adr_config_put(&f->config, "ADR_IMAGE_PREFIX", "x/missing", "test");
  f->o.tag = "t1";
  assert_int_equal(plan(f, &l, NULL), 0);
  l.engine = &f->engine;
  assert_string_equal(l.image, "x/missing/pi:t1");
  assert_int_equal(adr_launch_image(&l, &err), 1);
  assert_string_equal(err->msg, "image 'x/missing/pi:t1' not found; build it with 'adr build pi --tag t1'");
  adr_err_free(&err);
}

static void test_interrupt(void **state)
{
  struct fixture *f = *state;
  cleanup_launch struct adr_launch l;
  assert_int_equal(plan(f, &l, NULL), 0);
  l.engine = &f->engine;
  l.id = xstrdup("sandbox-id");
  l.code = 3;
  assert_int_equal(adr_launch_status(&l), 3);
  /* the first signal: SIGTERM (SIGKILL follows after a grace); another: SIGKILL now */
  adr_launch_interrupt(&l, SIGINT);
  assert_int_equal(n_kills, 1);
  assert_int_equal(kills[0], SIGTERM);
  assert_int_equal(adr_launch_status(&l), 128 + SIGINT);
  adr_launch_interrupt(&l, SIGTERM);
  assert_int_equal(n_kills, 2);
  assert_int_equal(kills[1], SIGKILL);
  assert_int_equal(adr_launch_status(&l), 128 + SIGINT); /* the first signal stopped it */
  adr_launch_interrupt(&l, SIGTERM);
  assert_int_equal(n_kills, 2);
  l.timed_out = true;
  assert_int_equal(adr_launch_status(&l), 124);
  free(l.id);
  l.id = NULL; /* nothing was created: no teardown call to the engine */
}

static void test_mounts(void **state)
{
  struct fixture *f = *state;
  cleanup_mounts struct adr_mounts m = { 0 };
  adr_err err = NULL;
  cleanup_free char *spec = xasprintf("%s:/data", f->work);
  assert_int_equal(adr_mounts_add(&m, spec, f->work, f->dir, &err), 0);
  assert_int_equal(adr_mounts_add(&m, spec, f->work, f->dir, &err), -1);
  assert_non_null(strstr(err->msg, "'/data' is already mounted"));
  adr_err_free(&err);
  assert_int_equal(m.n, 1);
  assert_true(m.v[0].readonly);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_plan_defaults, setup, teardown),
    cmocka_unit_test_setup_teardown(test_plan_no_key, setup, teardown),
    cmocka_unit_test_setup_teardown(test_plan_usage_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_plan_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_plan_warnings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_image, setup, teardown),
    cmocka_unit_test_setup_teardown(test_interrupt, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mounts, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
