/* Unit tests for the native sandbox's seccomp translation (sandbox.h):
 * adr's policy becomes libseccomp rules; what cannot be translated is
 * refused with the rule named, never dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "builtin.h"
#include "sandbox.h"

#include <string.h>

static void test_adr_policy(void **state)
{
  (void)state;
  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  assert_non_null(sc);
  adr_err err = NULL;
  if (adr_native_seccomp_check((const char *)sc->data, &err) < 0)
    fail_msg("%s", err->msg);
}

static void test_refused(void **state)
{
  (void)state;
  static const struct {
    const char *json, *want;
  } cases[] = {
    { "{", "seccomp policy:" },
    { "{\"defaultAction\": \"SCMP_ACT_TRACE\"}", "default action 'SCMP_ACT_TRACE' is not supported" },
    { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_LOG\"}]}",
      "rule 0: action 'SCMP_ACT_LOG' is not supported" },
    { "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ALLOW\","
      " \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_BOGUS\"}]}]}",
      "rule 0: argument 0 is not supported" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
    adr_err err = NULL;
    assert_int_equal(adr_native_seccomp_check(cases[i].json, &err), -1);
    if (!strstr(err->msg, cases[i].want))
      print_error("case %zu: %s\n", i, err->msg);
    assert_non_null(strstr(err->msg, cases[i].want));
    adr_err_free(&err);
  }
  /* the control: a small valid policy */
  adr_err err = NULL;
  assert_int_equal(adr_native_seccomp_check("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [{\"names\": "
                                            "[\"read\", \"no_such_call\"], \"action\": \"SCMP_ACT_ALLOW\"}]}",
                                            &err),
                   0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_adr_policy),
    cmocka_unit_test(test_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
