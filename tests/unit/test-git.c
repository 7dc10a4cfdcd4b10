/* Unit tests for proc.h, git.h and worktree.h: child processes with argv
 * vectors and bounded output, branch names, the checks that keep adr's own
 * git from following metadata an agent rewrote, and worktrees of a real
 * (temporary) repository. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "git.h"
#include "proc.h"
#include "worktree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_proc_argv_env_status(void **state)
{
  (void)state;
  cleanup_buf struct buf out, eb;
  buf_init(&out, 0);
  buf_init(&eb, 0);
  adr_err err = NULL;
  /* arguments are never split or interpreted by a shell */
  const char *argv[] = { "printf", "%s|%s|%s", "a b", "$(x)", "'q'", NULL };
  struct adr_proc p = { .argv = argv, .out = &out, .errout = &eb };
  assert_int_equal(adr_proc_run(&p, &err), 0);
  assert_string_equal(out.data, "a b|$(x)|'q'");

  buf_reset(&out);
  setenv("ADR_TEST_DROP", "1", 1);
  const char *env[] = { "ADR_TEST_NEW=2", NULL };
  const char *unset[] = { "ADR_TEST_DROP", NULL };
  const char *sh[] = { "sh", "-c", "echo ${ADR_TEST_DROP:-none} $ADR_TEST_NEW; pwd; echo err >&2; exit 7", NULL };
  struct adr_proc q = { .argv = sh, .dir = "/", .env = env, .unset = unset, .out = &out, .errout = &eb };
  assert_int_equal(adr_proc_run(&q, &err), 7);
  assert_string_equal(out.data, "none 2\n/\n");
  assert_string_equal(eb.data, "err\n");

  const char *missing[] = { "adr-no-such-program", NULL };
  struct adr_proc m = { .argv = missing, .out = &out, .errout = &eb };
  int r = adr_proc_run(&m, &err);
  assert_true(r == -1 || r == 127);
  adr_err_free(&err);
}

static void test_proc_stdin_is_null_and_no_fd_leaks(void **state)
{
  (void)state;
  cleanup_buf struct buf out;
  buf_init(&out, 0);
  adr_err err = NULL;
  /* an fd of ours (O_CLOEXEC, as all of adr's) does not reach the child;
   * its stdin is /dev/null */
  int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  cleanup_free char *script =
    xasprintf("test -e /proc/self/fd/%d && echo leaked || echo kept; readlink /proc/self/fd/0", fd);
  const char *argv[] = { "sh", "-c", script, NULL };
  struct adr_proc p = { .argv = argv, .out = &out };
  assert_int_equal(adr_proc_run(&p, &err), 0);
  close(fd);
  assert_string_equal(out.data, "kept\n/dev/null\n");
}

static void test_branch_names(void **state)
{
  (void)state;
  const char *good[] = { "adr/x", "feature/a-b_c.d", "x", "adr/agent-2" };
  const char *bad[] = { "",   "-x", "a..b", "a b",    "a~b",  "a^b", "a:b",  "a?b", "a*b", "a[b",  "a\\b",
                        "a/", "/a", "a//b", "a.lock", "a/.b", ".a",  "a@{b", "@",   "a.",  "a\x7f" };
  for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
    if (!adr_branch_name_valid(good[i]))
      fail_msg("rejected good branch name '%s'", good[i]);
  for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
    if (adr_branch_name_valid(bad[i]))
      fail_msg("accepted bad branch name '%s'", bad[i]);
}

static void sh(const char *dir, const char *cmd)
{
  const char *argv[] = { "sh", "-c", cmd, NULL };
  const char *env[] = { "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x",
                        NULL };
  cleanup_buf struct buf out, eb;
  buf_init(&out, 0);
  buf_init(&eb, 0);
  adr_err err = NULL;
  struct adr_proc p = { .argv = argv, .dir = dir, .env = env, .out = &out, .errout = &eb };
  int r = adr_proc_run(&p, &err);
  if (r != 0)
    fail_msg("'%s' failed (%d): %s", cmd, r, eb.data ? eb.data : "");
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* A real repository: worktree add, mounts, state (unmerged commits and
 * changes), the metadata checks, removal. */
static void test_worktree_lifecycle(void **state)
{
  (void)state;
  char dir[] = "/tmp/adr-git-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cleanup_free char *repo_dir = xasprintf("%s/repo", dir);
  mkdir(repo_dir, 0755);
  sh(repo_dir, "git init -q && echo a > a && git add a && git commit -qm init");
  adr_err err = NULL;
  struct adr_repo r;
  assert_int_equal(adr_repo_find(repo_dir, &r, &err), 0);
  assert_string_equal(r.top, repo_dir);
  cleanup_free char *cd = xasprintf("%s/.git", repo_dir);
  assert_string_equal(r.common_dir, cd);
  struct adr_repo none;
  assert_int_equal(adr_repo_find("/", &none, &err), 1);

  cleanup_free char *wtp = xasprintf("%s/wt/one", dir);
  struct adr_worktree w;
  assert_int_equal(adr_worktree_add(&r, wtp, "adr/one", &w, &err), 0);
  assert_string_equal(w.branch, "adr/one");
  cleanup_free char *gd = xasprintf("%s/.git/worktrees/one", repo_dir);
  assert_string_equal(w.gitdir, gd);
  /* the same branch again: refused, nothing made */
  struct adr_worktree w2;
  cleanup_free char *wtp2 = xasprintf("%s/wt/two", dir);
  assert_int_equal(adr_worktree_add(&r, wtp2, "adr/one", &w2, &err), -1);
  assert_string_equal(err->msg, "branch 'adr/one' already exists");
  adr_err_free(&err);
  assert_int_equal(access(wtp2, F_OK), -1);

  /* mounts: .git read-only, the agent's parts writable, metadata read-only */
  struct adr_spec s;
  adr_spec_init(&s);
  assert_int_equal(adr_worktree_mounts(&r, &w, &s, &err), 0);
  assert_int_equal(s.n_mounts, 8);
  assert_string_equal(s.mounts[0].source, cd);
  assert_true(s.mounts[0].readonly);
  for (size_t i = 0; i < s.n_mounts; i++) {
    assert_string_equal(s.mounts[i].source, s.mounts[i].target);
    bool meta = str_has_suffix(s.mounts[i].target, "/commondir") || str_has_suffix(s.mounts[i].target, "/gitdir") ||
                str_has_suffix(s.mounts[i].target, "/config.worktree");
    if (meta || i == 0)
      assert_true(s.mounts[i].readonly);
    else
      assert_false(s.mounts[i].readonly);
  }
  adr_spec_free(&s);

  /* a commit and a change in the worktree */
  sh(wtp, "echo b > b && git add b && git commit -qm b && echo dirty > c");
  struct adr_worktree_state st;
  assert_int_equal(adr_worktree_state(&r, &w, &st, &err), 0);
  assert_int_equal(st.unmerged, 1);
  assert_int_equal(st.changes.n, 1);
  assert_string_equal(st.changes.v[0], "?? c");
  adr_worktree_state_free(&st);

  /* merged elsewhere: no longer unmerged */
  sh(repo_dir, "git branch keep adr/one");
  assert_int_equal(adr_worktree_state(&r, &w, &st, &err), 0);
  assert_int_equal(st.unmerged, 0);
  adr_worktree_state_free(&st);

  /* rewritten metadata: adr's git refuses to run */
  cleanup_free char *commondir = xasprintf("%s/commondir", w.gitdir);
  write_file(commondir, "/tmp\n");
  assert_int_equal(adr_git_wt_verify(&r, w.gitdir, w.path, &err), -1);
  assert_non_null(strstr(err->msg, "was changed"));
  adr_err_free(&err);
  write_file(commondir, "../..\n");
  cleanup_free char *cw = xasprintf("%s/config.worktree", w.gitdir);
  write_file(cw, "[core]\n\tfsmonitor = touch /tmp/adr-pwned\n");
  assert_int_equal(adr_git_wt(&r, w.gitdir, w.path, true, NULL, &err, "status", NULL), -1);
  assert_non_null(strstr(err->msg, "is not empty"));
  adr_err_free(&err);
  write_file(cw, "");
  assert_int_equal(adr_git_wt_verify(&r, w.gitdir, w.path, &err), 0);

  assert_int_equal(adr_worktree_remove(&r, &w, true, &err), 0);
  assert_int_equal(access(wtp, F_OK), -1);
  sh(repo_dir, "! git show-ref --verify --quiet refs/heads/adr/one && test $(git worktree list | wc -l) = 1");
  adr_worktree_free(&w);
  adr_repo_free(&r);
  cleanup_free char *rm = xasprintf("rm -rf '%s'", dir);
  sh("/", rm);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_proc_argv_env_status),
    cmocka_unit_test(test_proc_stdin_is_null_and_no_fd_leaks),
    cmocka_unit_test(test_branch_names),
    cmocka_unit_test(test_worktree_lifecycle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
