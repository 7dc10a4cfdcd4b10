/* Unit tests for team.h without tmux: members from --agent specs, tmux's
 * pane listing parsed, stall detection's verdicts and snapshot hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "team.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct adr_agents agents;

static int load(void **state)
{
  (void)state;
  adr_err err = NULL;
  assert_int_equal(adr_agents_load(&agents, "/nonexistent-adr-agents", &err), 0);
  return 0;
}

static int unload(void **state)
{
  (void)state;
  adr_agents_free(&agents);
  return 0;
}

static void test_members(void **state)
{
  (void)state;
  adr_err err = NULL;
  cleanup_strv struct strv specs = { 0 };
  strv_push(&specs, "pi");
  strv_push(&specs, "claude:lead");
  strv_push(&specs, "pi:*");
  strv_push(&specs, "pi:pi-2"); /* explicit names are reserved everywhere in the list */
  struct adr_team_member *m;
  size_t n;
  assert_int_equal(adr_team_members("dev", &specs, &agents, &m, &n, &err), 0);
  assert_int_equal(n, 4);
  assert_string_equal(m[0].type, "pi");
  assert_string_equal(m[0].name, "pi-1");
  assert_string_equal(m[0].agent, "dev.pi-1");
  assert_string_equal(m[1].name, "lead");
  assert_string_equal(m[1].type, "claude");
  assert_string_equal(m[2].name, "pi-3");
  assert_string_equal(m[3].name, "pi-2");
  adr_team_members_free(m, n);
}

static void test_members_refused(void **state)
{
  (void)state;
  adr_err err = NULL;
  cleanup_strv struct strv dup = { 0 }, unknown = { 0 }, bad = { 0 };
  struct adr_team_member *m;
  size_t n;
  strv_push(&dup, "pi:a");
  strv_push(&dup, "claude:a");
  assert_int_equal(adr_team_members("dev", &dup, &agents, &m, &n, &err), -1);
  assert_non_null(strstr(err->msg, "the name 'a' is used twice"));
  adr_err_free(&err);
  strv_push(&unknown, "nosuch");
  assert_int_equal(adr_team_members("dev", &unknown, &agents, &m, &n, &err), -1);
  assert_non_null(strstr(err->msg, "nosuch"));
  adr_err_free(&err);
  strv_push(&bad, "pi:Bad");
  assert_int_equal(adr_team_members("dev", &bad, &agents, &m, &n, &err), -1);
  assert_int_equal(err->errnum, EINVAL);
  adr_err_free(&err);
  assert_true(adr_team_name_valid("dev"));
  assert_false(adr_team_name_valid("Dev"));
  assert_false(adr_team_name_valid("a123456789012345678901234567890123456789x"));
}

static void test_parse_panes(void **state)
{
  (void)state;
  char text[] =
    "%1\tpi-1\tdev.pi-1\t0\tabc\t1700000000\n"
    "%2\t\t\t0\t\t\n"             /* not one of ours */
    "%3\tlead\tdev.lead\t1\t\t\n" /* exited, never checked */
    "%4\tshort\n";                /* truncated: skipped */
  struct adr_team_pane *p;
  size_t n;
  adr_team_parse_panes(text, &p, &n);
  assert_int_equal(n, 2);
  assert_string_equal(p[0].id, "%1");
  assert_string_equal(p[0].agent, "dev.pi-1");
  assert_false(p[0].dead);
  assert_string_equal(p[0].hash, "abc");
  assert_int_equal(p[0].changed, 1700000000);
  assert_true(p[1].dead);
  assert_string_equal(p[1].hash, "");
  assert_int_equal(p[1].changed, 0);
  assert_ptr_equal(adr_team_pane_named(p, n, "lead"), &p[1]);
  assert_null(adr_team_pane_named(p, n, "nobody"));
  adr_team_panes_free(p, n);
  adr_team_parse_panes(NULL, &p, &n);
  assert_int_equal(n, 0);
}

static void test_stalls(void **state)
{
  (void)state;
  long quiet = ADR_TEAM_STALL_ROUNDS * ADR_TEAM_STALL_INTERVAL;
  /* the pane's process or the sandbox gone: exited, whatever the pane did */
  assert_int_equal(adr_team_classify(true, true, true, 0), ADR_TEAM_EXITED);
  assert_int_equal(adr_team_classify(false, false, true, 0), ADR_TEAM_EXITED);
  /* a change during the checks, or a recent one: running */
  assert_int_equal(adr_team_classify(false, true, true, 1000), ADR_TEAM_RUNNING);
  assert_int_equal(adr_team_classify(false, true, false, quiet - 1), ADR_TEAM_RUNNING);
  /* quiet for the whole window: stalled */
  assert_int_equal(adr_team_classify(false, true, false, quiet), ADR_TEAM_STALLED);
  assert_string_equal(adr_team_state_name(ADR_TEAM_RUNNING), "RUNNING");
  assert_string_equal(adr_team_state_name(ADR_TEAM_STALLED), "STALLED");
  assert_string_equal(adr_team_state_name(ADR_TEAM_EXITED), "EXITED");
}

static void test_hash(void **state)
{
  (void)state;
  cleanup_free char *e = adr_team_hash("", 0), *a = adr_team_hash("a", 1), *a2 = adr_team_hash("ab", 1);
  /* as tmux's @adr_hash holds it from earlier checks: the value must not change */
  assert_string_equal(e, "14650fb0739d0383");
  assert_string_not_equal(a, e);
  assert_string_equal(a, a2);
  assert_int_equal(strlen(e), 16);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_members),     cmocka_unit_test(test_members_refused),
    cmocka_unit_test(test_parse_panes), cmocka_unit_test(test_stalls),
    cmocka_unit_test(test_hash),
  };
  return cmocka_run_group_tests(tests, load, unload);
}
