/* Unit tests for the engine registry (engine.h): which engine ADR_ENGINE
 * chooses and where it is found, the unknown-engine error, capability
 * flags, and the ENOTSUP of an operation an engine lacks.  Discovery is
 * driven by environment variables and files in a scratch directory; no
 * engine is contacted except a socket that does not exist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "engine.h"
#include "fs.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[64];

static void write_text(const char *path, const char *text)
{
  FILE *f = fopen(path, "we");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* A clean environment: no engine variables, DOCKER_CONFIG and
 * XDG_RUNTIME_DIR in the scratch directory. */
static int setup(void **state)
{
  (void)state;
  snprintf(scratch, sizeof(scratch), "/tmp/adr-registry-XXXXXX");
  if (!mkdtemp(scratch))
    return -1;
  const char *unset[] = { "ADR_ENGINE", "DOCKER_HOST", "DOCKER_CONTEXT", "CONTAINER_HOST" };
  for (size_t i = 0; i < ARRAY_SIZE(unset); i++)
    unsetenv(unset[i]);
  cleanup_free char *cfg = xasprintf("%s/docker", scratch);
  cleanup_free char *rt = xasprintf("%s/run", scratch);
  mkdir(cfg, 0700);
  mkdir(rt, 0700);
  setenv("DOCKER_CONFIG", cfg, 1);
  setenv("XDG_RUNTIME_DIR", rt, 1);
  return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
  (void)st;
  (void)f;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int teardown(void **state)
{
  (void)state;
  return nftw(scratch, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void expect_locate(const char *name, const char *engine, const char *endpoint)
{
  const char *got = NULL;
  cleanup_free char *ep = NULL;
  adr_err err = NULL;
  if (adr_engine_locate(name, &got, &ep, &err) < 0)
    fail_msg("locate %s: %s", name ? name : "(null)", err->msg);
  assert_string_equal(got, engine);
  assert_string_equal(ep, endpoint);
}

static void test_names(void **state)
{
  (void)state;
  const char *const *n = adr_engine_names();
  assert_string_equal(n[0], "docker");
  assert_string_equal(n[1], "podman");
  assert_string_equal(n[2], "native");
  assert_null(n[3]);
}

/* unset, "" and "auto" are Docker's discovery as before ADR_ENGINE. */
static void test_auto_and_docker(void **state)
{
  (void)state;
  setenv("DOCKER_HOST", "tcp://10.1.2.3:2375", 1);
  expect_locate(NULL, "docker", "tcp://10.1.2.3:2375");
  expect_locate("", "docker", "tcp://10.1.2.3:2375");
  expect_locate("auto", "docker", "tcp://10.1.2.3:2375");
  expect_locate("docker", "docker", "tcp://10.1.2.3:2375");
  unsetenv("DOCKER_HOST");
  /* docker alone never falls back to Podman: the default socket */
  cleanup_free char *pdir = xasprintf("%s/run/podman", scratch);
  cleanup_free char *psock = xasprintf("%s/podman.sock", pdir);
  mkdir(pdir, 0700);
  write_text(psock, "");
  expect_locate("docker", "docker", "unix:///var/run/docker.sock");
  struct stat st;
  if (stat("/var/run/docker.sock", &st) == 0) {
    expect_locate(NULL, "docker", "unix:///var/run/docker.sock");
  } else { /* no Docker here: auto finds Podman's socket and says so */
    cleanup_free char *want = xasprintf("unix://%s", psock);
    expect_locate(NULL, "podman", want);
  }
}

/* The current docker context's endpoint (config.json, or DOCKER_CONTEXT). */
static void test_docker_context(void **state)
{
  (void)state;
  cleanup_free char *meta = xasprintf("%s/docker/contexts/meta/abc", scratch);
  adr_err err = NULL;
  assert_int_equal(adr_mkdir_p(meta, 0700, &err), 0);
  cleanup_free char *mj = xasprintf("%s/meta.json", meta);
  write_text(mj, "{\"Name\":\"remote\",\"Endpoints\":{\"docker\":{\"Host\":\"tcp://10.9.9.9:2375\"}}}");
  cleanup_free char *cj = xasprintf("%s/docker/config.json", scratch);
  write_text(cj, "{\"currentContext\":\"remote\"}");
  expect_locate(NULL, "docker", "tcp://10.9.9.9:2375");
  setenv("DOCKER_CONTEXT", "default", 1); /* wins over config.json */
  expect_locate("docker", "docker", "unix:///var/run/docker.sock");
  setenv("DOCKER_CONTEXT", "gone", 1);
  const char *engine = NULL;
  char *ep = (char *)"sentinel";
  assert_int_equal(adr_engine_locate(NULL, &engine, &ep, &err), -1);
  assert_null(ep);
  assert_int_equal(err->errnum, ENOENT);
  assert_string_equal(err->msg,
                      "docker context 'gone' not found (set DOCKER_HOST or run 'docker context use default')");
  adr_err_free(&err);
  unsetenv("DOCKER_CONTEXT");
}

/* podman: CONTAINER_HOST, else the user's socket, else root's; never
 * Docker's. */
static void test_podman(void **state)
{
  (void)state;
  setenv("DOCKER_HOST", "tcp://10.1.2.3:2375", 1); /* not podman's */
  setenv("CONTAINER_HOST", "unix:///run/user/7/podman/podman.sock", 1);
  expect_locate("podman", "podman", "unix:///run/user/7/podman/podman.sock");
  unsetenv("CONTAINER_HOST");
  cleanup_free char *pdir = xasprintf("%s/run/podman", scratch);
  cleanup_free char *psock = xasprintf("%s/podman.sock", pdir);
  mkdir(pdir, 0700);
  write_text(psock, "");
  cleanup_free char *want = xasprintf("unix://%s", psock);
  expect_locate("podman", "podman", want);
  unlink(psock);
  struct stat st;
  if (stat("/run/podman/podman.sock", &st) == 0)
    return; /* root's socket exists here */
  const char *engine = NULL;
  char *ep = NULL;
  adr_err err = NULL;
  assert_int_equal(adr_engine_locate("podman", &engine, &ep, &err), -1);
  assert_int_equal(err->errnum, ENOENT);
  assert_true(str_has_prefix(err->msg, "no Podman socket at $XDG_RUNTIME_DIR/podman/podman.sock"));
  adr_err_free(&err);
  unsetenv("DOCKER_HOST");
}

/* An unknown ADR_ENGINE: a clear error naming it and the known ones,
 * wherever the name comes from. */
static void test_unknown(void **state)
{
  (void)state;
  static const char want[] = "unknown engine 'containerd' in ADR_ENGINE (known: docker, podman, native, auto)";
  const char *engine = NULL;
  char *ep = NULL;
  adr_err err = NULL;
  assert_int_equal(adr_engine_locate("containerd", &engine, &ep, &err), -1);
  assert_int_equal(err->errnum, EINVAL);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);

  struct adr_engine *e = NULL;
  assert_int_equal(adr_engine_open_as(&e, "containerd", "unix:///x.sock", &err), -1);
  assert_null(e);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);

  /* the environment wins over the config file's value */
  setenv("ADR_ENGINE", "containerd", 1);
  assert_int_equal(adr_engine_open_default(&e, "docker", &err), -1);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
  assert_null(adr_engine_endpoint(&err));
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
  setenv("ADR_ENGINE", "bad\nname", 1);
  assert_int_equal(adr_engine_open_default(&e, NULL, &err), -1);
  assert_null(strchr(err->msg, '\n')); /* shown escaped */
  adr_err_free(&err);
  unsetenv("ADR_ENGINE");
  assert_int_equal(adr_engine_open_default(&e, "lxc", &err), -1);
  assert_string_equal(err->msg, "unknown engine 'lxc' in ADR_ENGINE (known: docker, podman, native, auto)");
  adr_err_free(&err);

  /* the config key takes the same names */
  assert_int_equal(adr_config_validate("ADR_ENGINE", "podman", &err), 0);
  assert_int_equal(adr_config_validate("ADR_ENGINE", "auto", &err), 0);
  assert_int_equal(adr_config_validate("ADR_ENGINE", "lxc", &err), -1);
  assert_string_equal(err->msg, "unknown engine 'lxc' (docker, podman, auto)");
  adr_err_free(&err);
  assert_true(adr_config_key_find("ADR_ENGINE")->host_only);
}

/* An engine that is not there: a transport error, never ENOENT (callers
 * read that as "no such sandbox"). */
static void test_unreachable(void **state)
{
  (void)state;
  cleanup_free char *sock = xasprintf("unix://%s/none.sock", scratch);
  struct adr_engine *e = NULL;
  adr_err err = NULL;
  assert_int_equal(adr_engine_open_as(&e, "podman", sock, &err), -1);
  assert_null(e);
  assert_int_not_equal(err->errnum, ENOENT);
  assert_non_null(strstr(err->msg, "cannot connect to the engine at"));
  adr_err_free(&err);
}

static void test_caps_and_unsupported(void **state)
{
  (void)state;
  struct adr_engine d = { .ops = &adr_docker_ops };
  assert_true(adr_engine_can(&d, ADR_ENG_CAP_BUILD | ADR_ENG_CAP_NETWORKS | ADR_ENG_CAP_LABELS));
  assert_true(adr_engine_can(&d, ADR_ENG_CAP_EXEC | ADR_ENG_CAP_ATTACH | ADR_ENG_CAP_LOGS | ADR_ENG_CAP_RESTART));
  assert_true(adr_engine_can(&d, ADR_ENG_CAP_EGRESS | ADR_ENG_CAP_STATE));
  assert_int_equal(adr_docker_ops.caps, adr_podman_ops.caps);
  assert_string_equal(adr_podman_ops.name, "podman");

  static const struct adr_engine_ops bare = { .name = "bare" };
  struct adr_engine b = { .ops = &bare };
  assert_false(adr_engine_can(&b, ADR_ENG_CAP_BUILD));
  assert_true(adr_engine_can(&b, 0));
  adr_err err = NULL;
  assert_int_equal(adr_engine_ping(&b, &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  assert_string_equal(err->msg, "ping: not supported by the bare engine");
  adr_err_free(&err);
  assert_int_equal(adr_engine_network_create(&b, NULL, NULL, &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  adr_err_free(&err);
  char *v = NULL;
  assert_int_equal(adr_engine_state_get(&b, "x", ADR_LABEL_AGENT, &v, &err), -1);
  assert_string_equal(err->msg, "state get: not supported by the bare engine");
  adr_err_free(&err);
  assert_int_equal(adr_engine_egress_down(&b, "x", &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  adr_err_free(&err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_names),
    cmocka_unit_test_setup_teardown(test_auto_and_docker, setup, teardown),
    cmocka_unit_test_setup_teardown(test_docker_context, setup, teardown),
    cmocka_unit_test_setup_teardown(test_podman, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unreachable, setup, teardown),
    cmocka_unit_test(test_caps_and_unsupported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
