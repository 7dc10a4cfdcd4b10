/* Unit tests for layout.h: the names, labels and state paths that the code
 * making an object and the code cleaning up after a killed adr must agree
 * on; and for pagent.h's reading of them back (state, labels, scope). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "layout.h"
#include "pagent.h"
#include "spec.h"
#include "worktree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_names(void **state)
{
  (void)state;
  cleanup_free char *sfx = adr_layout_suffix();
  assert_int_equal(strlen(sfx), 8);
  assert_int_equal(strspn(sfx, "0123456789abcdef"), 8);
  cleanup_free char *run = adr_layout_run_name("pi", "0a1b2c3d");
  assert_string_equal(run, "adr-pi-0a1b2c3d");
  /* FNV-1a of the scope: stable across releases (it is in live sandbox names) */
  cleanup_free char *key = adr_layout_scope_key("/home/u/repo");
  cleanup_free char *key2 = adr_layout_scope_key("/home/u/repo");
  cleanup_free char *key3 = adr_layout_scope_key("/home/u/repo2");
  assert_string_equal(key, key2);
  assert_string_not_equal(key, key3);
  cleanup_free char *empty = adr_layout_scope_key("");
  assert_string_equal(empty, "811c9dc5"); /* the FNV-1a offset basis */
  cleanup_free char *sb = adr_layout_agent_sandbox("fixer", "/home/u/repo");
  cleanup_free char *want = xasprintf("adr-fixer-%s", key);
  assert_string_equal(sb, want);
  cleanup_free char *n1 = adr_layout_agent_name("pi", 1), *n3 = adr_layout_agent_name("pi", 3);
  assert_string_equal(n1, "pi");
  assert_string_equal(n3, "pi-3");
  cleanup_free char *br = adr_layout_agent_branch("fixer"), *gw = adr_layout_gateway("adr-pi-1");
  assert_string_equal(br, "adr/fixer");
  assert_string_equal(gw, "adr-pi-1-gw");
  cleanup_free char *img = adr_layout_image(NULL, "pi", NULL), *img2 = adr_layout_image("p", "claude", "t");
  assert_string_equal(img, "coding-agent/pi:latest");
  assert_string_equal(img2, "p/claude:t");
  cleanup_free char *repo = adr_layout_image_repo("p", "pi"), *filt = adr_layout_image_filter("p");
  assert_string_equal(repo, "p/pi");
  assert_string_equal(filt, "p/*");
  cleanup_free char *base = adr_layout_base_image("latest");
  assert_string_equal(base, "adr/base:latest");
  cleanup_free char *runner = adr_layout_runner_image("v2");
  assert_string_equal(runner, "adr/runner:v2");
  /* the project layer: named by both images' IDs, so a new one of either is a new layer */
  cleanup_free char *proj =
    adr_layout_project_image("pi", "sha256:0123456789abcdef0123", "sha256:fedcba9876543210fedc");
  assert_string_equal(proj, "adr-project/pi:0123456789ab-fedcba987654");
  cleanup_free char *ssh = adr_layout_ssh_image("sha256:00112233445566778899");
  assert_string_equal(ssh, "adr-ssh/image:001122334455");
}

static void test_team_names(void **state)
{
  (void)state;
  cleanup_free char *sess = adr_layout_team_session("dev");
  assert_string_equal(sess, "adr-dev");
  assert_string_equal(adr_layout_team_of_session(sess), "dev");
  assert_null(adr_layout_team_of_session("adr-"));
  assert_null(adr_layout_team_of_session("work"));
  cleanup_free char *ag = adr_layout_team_agent("dev", "pi-1"), *mem = adr_layout_team_member("pi", 2);
  assert_string_equal(ag, "dev.pi-1");
  assert_string_equal(mem, "pi-2");
}

static void test_owner_labels(void **state)
{
  (void)state;
  cleanup_strv struct strv l = { 0 };
  adr_layout_owner_labels(&l);
  assert_string_equal(adr_labels_get(&l, ADR_LABEL_MANAGED), "1");
  cleanup_free char *boot = adr_layout_boot_id();
  assert_string_equal(adr_labels_get(&l, ADR_LABEL_OWNER_BOOT), boot);
  /* ours: alive; another boot, a dead pid, a recycled pid: not */
  assert_true(adr_layout_owner_alive(&l, boot));
  assert_false(adr_layout_owner_alive(&l, "another-boot"));
  cleanup_strv struct strv dead = { 0 }, recycled = { 0 }, none = { 0 };
  strv_pushf(&dead, ADR_LABEL_OWNER_PID "=%d:1", (int)0x3ffffff0);
  strv_pushf(&dead, ADR_LABEL_OWNER_BOOT "=%s", boot);
  assert_false(adr_layout_owner_alive(&dead, boot));
  strv_pushf(&recycled, ADR_LABEL_OWNER_PID "=%d:1", (int)getpid());
  strv_pushf(&recycled, ADR_LABEL_OWNER_BOOT "=%s", boot);
  assert_false(adr_layout_owner_alive(&recycled, boot));
  /* no owner: a persistent agent, never reaped */
  assert_true(adr_layout_owner_alive(&none, boot));
}

static void test_sandbox_labels(void **state)
{
  (void)state;
  cleanup_strv struct strv run = { 0 };
  struct adr_layout_sandbox r = { .identity_dir = "/s/run/x", .idmap_dir = "/s/mnt/x" };
  adr_layout_sandbox_labels(&r, &run);
  assert_string_equal(adr_labels_get(&run, ADR_LABEL_KIND), "run");
  assert_string_equal(adr_labels_get(&run, ADR_LABEL_IDENTITY), "/s/run/x");
  assert_string_equal(adr_labels_get(&run, ADR_LABEL_IDMAP), "/s/mnt/x");
  assert_non_null(adr_labels_get(&run, ADR_LABEL_OWNER_PID));

  struct adr_worktree wt = {
    .path = (char *)"/w/a", .gitdir = (char *)"/r/.git/worktrees/a", .branch = (char *)"adr/a", .base = (char *)"abc"
  };
  struct adr_layout_sandbox p = {
    .persistent = true, .identity_dir = "/s/run/y", .name = "a", .scope = "/r", .team = "dev", .wt = &wt
  };
  cleanup_strv struct strv ag = { 0 };
  adr_layout_sandbox_labels(&p, &ag);
  /* what adr_pagent_fill reads back */
  struct adr_pagent a = { 0 };
  a.c.state = xstrdup("exited");
  a.c.labels = ag;
  memset(&ag, 0, sizeof(ag));
  strv_push(&a.c.labels, ADR_LABEL_AGENT "=pi");
  adr_pagent_fill(&a);
  assert_null(adr_labels_get(&a.c.labels, ADR_LABEL_OWNER_PID)); /* never reaped as a dead adr's */
  assert_string_equal(a.name, "a");
  assert_string_equal(a.scope, "/r");
  assert_string_equal(a.team, "dev");
  assert_string_equal(a.agent, "pi");
  assert_true(a.has_worktree);
  assert_string_equal(a.wt.branch, "adr/a");
  assert_string_equal(a.wt.base, "abc");
  assert_int_equal(a.state, ADR_PAGENT_EXITED);
  assert_false(adr_pagent_running(&a));
  adr_pagent_free(&a);
}

static void test_filters(void **state)
{
  (void)state;
  cleanup_strv struct strv f = { 0 }, all = { 0 }, w = { 0 };
  adr_layout_filter_agents("/r", &f);
  assert_int_equal(f.n, 3);
  assert_string_equal(f.v[2], ADR_LABEL_SCOPE "=/r");
  adr_layout_filter_agents(NULL, &all);
  assert_int_equal(all.n, 2);
  adr_layout_filter_worktree("/w/a", &w);
  assert_string_equal(w.v[0], ADR_LABEL_WORKTREE "=/w/a");
}

static void test_state_paths(void **state)
{
  (void)state;
  setenv("XDG_STATE_HOME", "/st", 1);
  cleanup_free char *area = adr_layout_area(ADR_STATE_IDMAP);
  assert_string_equal(area, "/st/adr/mnt");
  cleanup_free char *id = adr_layout_state_path(ADR_STATE_IDENTITY, "adr-pi-1");
  assert_string_equal(id, "/st/adr/run/adr-pi-1");
  cleanup_free char *eg = adr_layout_state_path(ADR_STATE_EGRESS, "adr-pi-1");
  assert_string_equal(eg, "/st/adr/egress/adr-pi-1");
  cleanup_free char *ov = adr_layout_overlay_dir(id);
  assert_string_equal(ov, "/st/adr/run/adr-pi-1/stage");
  cleanup_free char *ent = adr_layout_idmap_entry("/st/adr/mnt/x", 3);
  assert_string_equal(ent, "/st/adr/mnt/x/3");
  cleanup_free char *relay = adr_layout_egress_file("adr-pi-1", "relay");
  assert_string_equal(relay, "/st/adr/egress/adr-pi-1/relay");
  cleanup_free char *wd = adr_layout_worktrees_dir("/r");
  cleanup_free char *key = adr_layout_scope_key("/r");
  cleanup_free char *wdw = xasprintf("/st/adr/worktrees/%s", key);
  assert_string_equal(wd, wdw);
  cleanup_free char *tmpl = adr_layout_send_template();
  assert_string_equal(tmpl, "/st/adr/.send-XXXXXX");

  /* only what lies below the area is ever removed */
  assert_true(adr_layout_in_area(ADR_STATE_IDENTITY, "/st/adr/run/x"));
  assert_false(adr_layout_in_area(ADR_STATE_IDENTITY, "/st/adr/mnt/x"));
  assert_false(adr_layout_in_area(ADR_STATE_IDENTITY, "/st/adr/run/../../etc"));
  assert_false(adr_layout_in_area(ADR_STATE_IDMAP, "/etc"));
  assert_false(adr_layout_in_area(ADR_STATE_IDMAP, NULL));
  unsetenv("XDG_STATE_HOME");
}

static void test_start_markers(void **state)
{
  (void)state;
  cleanup_free char *m = adr_layout_start_marker("/d", "fixer");
  assert_string_equal(m, "/d/.fixer.starting");
  cleanup_free char *wt = adr_layout_worktree("/d", "fixer");
  assert_string_equal(wt, "/d/fixer");
  cleanup_free char *n = adr_layout_start_marker_name(".fixer.starting");
  assert_string_equal(n, "fixer");
  cleanup_free char *one = adr_layout_start_marker_name(".x.starting");
  assert_string_equal(one, "x");
  assert_null(adr_layout_start_marker_name("..starting"));
  assert_null(adr_layout_start_marker_name("fixer.starting"));
  assert_null(adr_layout_start_marker_name(".fixer"));
  assert_null(adr_layout_start_marker_name(".fixer.startin"));
}

static void test_pagent_states(void **state)
{
  (void)state;
  static const char *const names[] = { "created", "running", "paused", "restarting", "removing", "exited", "dead" };
  for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
    enum adr_pagent_state s = adr_pagent_state_parse(names[i]);
    assert_int_not_equal(s, ADR_PAGENT_UNKNOWN);
    assert_string_equal(adr_pagent_state_name(s), names[i]);
  }
  assert_int_equal(adr_pagent_state_parse("running"), ADR_PAGENT_RUNNING);
  assert_int_equal(adr_pagent_state_parse(NULL), ADR_PAGENT_UNKNOWN);
  assert_int_equal(adr_pagent_state_parse("Running"), ADR_PAGENT_UNKNOWN);
  assert_int_equal(adr_pagent_state_parse(""), ADR_PAGENT_UNKNOWN);
  assert_string_equal(adr_pagent_state_name(ADR_PAGENT_UNKNOWN), "unknown");
  assert_string_equal(adr_pagent_state_name((enum adr_pagent_state)99), "unknown");

  /* a sandbox without the worktree labels works in its workspace */
  struct adr_pagent a = { 0 };
  a.c.name = xstrdup("/adr-x-1234");
  a.c.state = xstrdup("running");
  strv_push(&a.c.labels, ADR_LABEL_NAME "=x");
  strv_push(&a.c.labels, ADR_LABEL_BRANCH "=adr/x");
  strv_push(&a.c.labels, ADR_LABEL_WORKSPACE "=/w");
  adr_pagent_fill(&a);
  assert_false(a.has_worktree);
  assert_true(adr_pagent_running(&a));
  assert_string_equal(adr_pagent_sandbox(&a), "adr-x-1234");
  assert_string_equal(a.workspace, "/w");
  adr_pagent_free(&a);
}

static void test_take_ptr(void **state)
{
  (void)state;
  cleanup_free char *p = xstrdup("x");
  char *q = TAKE_PTR(p);
  assert_null(p);
  assert_string_equal(q, "x");
  free(q);
}

/* a claimed warm sandbox's IDENTITY/warm/agent */
static int warm_parse(const char *text, char *f[4], char *copy, size_t n)
{
  snprintf(copy, n, "%s", text);
  return adr_pagent_warm_parse(copy, f);
}

static void test_warm_parse(void **state)
{
  (void)state;
  char buf[512], *f[4];
  assert_int_equal(warm_parse("tests\nadr/tests\n0123abcdef\n\n", f, buf, sizeof(buf)), 0);
  assert_string_equal(f[0], "tests");
  assert_string_equal(f[1], "adr/tests");
  assert_string_equal(f[2], "0123abcdef");
  assert_string_equal(f[3], "");
  assert_int_equal(warm_parse("a\nadr/a\nabc\nteam1\n", f, buf, sizeof(buf)), 0);
  assert_string_equal(f[3], "team1");
  /* what is not such a file */
  static const char *const bad[] = {
    "",                                 /* empty */
    "tests\nadr/tests\nabc\n",          /* three lines */
    "tests\nadr/tests\nabc\n\nextra\n", /* five */
    "tests\nadr/tests\nabc\n\n\n",      /* an empty fifth */
    "Bad Name\nadr/x\nabc\n\n",         /* not an agent name */
    "x\nmain\nabc\n\n",                 /* not an adr/ branch */
    "x\nadr/a..b\nabc\n\n",             /* not a branch git takes */
    "x\nadr/x\nHEAD\n\n",               /* not a commit id */
    "x\nadr/x\nabc\nno team\n",         /* not a team name */
    "x\nadr/x\nabc\n\n"
    "\0", /* (the same as valid: NUL ends it) */
  };
  for (size_t i = 0; i + 1 < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(warm_parse(bad[i], f, buf, sizeof(buf)), -1);
  assert_int_equal(warm_parse(bad[sizeof(bad) / sizeof(bad[0]) - 1], f, buf, sizeof(buf)), 0);
  assert_int_equal(adr_pagent_warm_parse(NULL, f), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_warm_parse),   cmocka_unit_test(test_names),          cmocka_unit_test(test_team_names),
    cmocka_unit_test(test_owner_labels), cmocka_unit_test(test_sandbox_labels), cmocka_unit_test(test_filters),
    cmocka_unit_test(test_state_paths),  cmocka_unit_test(test_start_markers),  cmocka_unit_test(test_pagent_states),
    cmocka_unit_test(test_take_ptr),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
