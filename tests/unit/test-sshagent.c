/* Unit tests for sshagent.h: the host keys --ssh-agent takes from
 * `ssh-keygen -F` output, and how known_hosts names a host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sshagent.h"

#include <string.h>

static void test_keygen_keys(void **state)
{
  (void)state;
  static const char out[] =
    "# Host [10.0.0.1]:2222 found: line 1\n"
    "|1|abc=|def= ssh-ed25519 AAAAC3NzaOne\n"
    "# Host [10.0.0.1]:2222 found: line 4\n"
    "[10.0.0.1]:2222 ecdsa-sha2-nistp256 AAAAE2Two comment here\n"
    "@revoked [10.0.0.1]:2222 ssh-rsa AAAAB3Revoked\n"
    "@cert-authority *.example.internal ssh-ed25519 AAAAC3Ca\n"
    "[10.0.0.1]:2222 ssh-ed25519 AAAAC3NzaOne\n"
    "short line\n";
  struct strv v = { 0 };
  adr_ssh_keygen_keys(out, &v);
  assert_int_equal(v.n, 2);
  assert_string_equal(v.v[0], "AAAAC3NzaOne");
  assert_string_equal(v.v[1], "AAAAE2Two");
  strv_free(&v);
  adr_ssh_keygen_keys("", &v);
  adr_ssh_keygen_keys(NULL, &v);
  assert_int_equal(v.n, 0);
}

static void test_known_name(void **state)
{
  (void)state;
  static const struct {
    const char *in, *want;
  } cases[] = {
    { "git.example.internal", "git.example.internal" },
    { "git.example.internal:22", "git.example.internal" },
    { "git.example.internal:2222", "[git.example.internal]:2222" },
    { "[10.0.0.1]:2222", "[10.0.0.1]:2222" },
    { "fd00::1", "fd00::1" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    char *s = adr_ssh_known_name(cases[i].in);
    assert_string_equal(s, cases[i].want);
    free(s);
  }
}

static void test_known_keys_missing(void **state)
{
  (void)state;
  struct strv v = { 0 };
  adr_err err = NULL;
  assert_int_equal(adr_ssh_known_keys("/nonexistent/known_hosts", "h.example.internal", &v, &err), -1);
  assert_non_null(strstr(err->msg, "--ssh-agent h.example.internal: no host key"));
  adr_err_free(&err);
  assert_int_equal(v.n, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_keygen_keys),
    cmocka_unit_test(test_known_name),
    cmocka_unit_test(test_known_keys_missing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
