/* Unit tests for the typed sandbox spec (spec.h): the hardening every
 * engine MUST apply is on by default and comes from the spec's fields,
 * adr_spec_check refuses what no engine may create, and the Docker engine
 * maps each typed field to its Engine API form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "spec.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

/* spec.h's MUST list, as adr_spec_init and the builders leave it. */
static void test_must_defaults(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  assert_true(s.read_only_root);
  assert_true(s.no_new_privileges);
  assert_true(s.drop_all_caps);
  assert_int_equal(s.cap_add.n, 0);
  assert_true(s.ipc_private);
  assert_true(s.cgroupns_private);
  assert_false(s.privileged);
  assert_true(s.swap_limited);
  assert_true(s.init);
  assert_int_equal(s.restart, ADR_RESTART_NO);
  assert_int_equal(s.net.kind, ADR_SPEC_NET_OUTBOUND);
  assert_false(s.host_alias);
  assert_int_equal(s.seccomp, ADR_SECCOMP_ENGINE);

  adr_spec_add_bind(&s, "/h", "/c", false);
  assert_true(s.mounts[0].rprivate);
  adr_spec_add_tmpfs(&s, "/tmp", 0, 0, -1, -1);
  assert_true(s.mounts[1].nosuid);
  assert_true(s.mounts[1].nodev);
  assert_false(s.mounts[1].noexec);
  assert_int_equal(s.mounts[1].size, ADR_TMPFS_DEFAULT_SIZE);
  assert_int_equal(s.mounts[1].mode, ADR_TMPFS_DEFAULT_MODE);
  assert_int_equal(s.mounts[1].uid, -1);
  assert_int_equal(s.mounts[1].gid, -1);
  adr_spec_add_tmpfs(&s, "/home/agent", 4096, 0700, 1000, -1);
  assert_int_equal(s.mounts[2].gid, 1000); /* the uid's group when none is named */
}

/* Every MUST item reaches the Engine API from its field: turned off, it
 * leaves the body; nothing is hard-coded in the adapter. */
static void test_must_from_fields(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup("img");
  s.memory = 1 << 20;
  adr_spec_add_bind(&s, "/h", "/c", true);
  adr_spec_add_tmpfs(&s, "/t", 4096, 0755, -1, -1);
  cleanup_free char *on = adr_docker_create_body(&s);
  const char *want_on[] = { "\"ReadonlyRootfs\":true", "\"CapDrop\":[\"ALL\"]",
                            "\"IpcMode\":\"private\"", "\"CgroupnsMode\":\"private\"",
                            "\"Privileged\":false",    "\"MemorySwap\":1048576",
                            "\"Init\":true",           "\"Propagation\":\"rprivate\"",
                            "no-new-privileges:true",  "\"rw,nosuid,nodev,exec,size=4096,mode=755\"" };
  for (size_t i = 0; i < ARRAY_SIZE(want_on); i++)
    if (!strstr(on, want_on[i]))
      fail_msg("missing %s in %s", want_on[i], on);

  s.read_only_root = s.drop_all_caps = s.ipc_private = s.cgroupns_private = false;
  s.swap_limited = s.init = s.no_new_privileges = false;
  s.mounts[0].rprivate = false;
  s.mounts[1].nosuid = s.mounts[1].nodev = false;
  s.mounts[1].noexec = true;
  cleanup_free char *off = adr_docker_create_body(&s);
  const char *gone[] = { "\"ReadonlyRootfs\":true", "CapDrop",     "IpcMode",          "CgroupnsMode", "MemorySwap",
                         "\"Init\":true",           "Propagation", "no-new-privileges" };
  for (size_t i = 0; i < ARRAY_SIZE(gone); i++)
    if (strstr(off, gone[i]))
      fail_msg("%s still in %s", gone[i], off);
  assert_non_null(strstr(off, "\"rw,suid,dev,noexec,size=4096,mode=755\""));
  assert_non_null(strstr(off, "\"Memory\":1048576"));
}

static void want_check(struct adr_spec *s, int errnum, const char *msg)
{
  adr_err err = NULL;
  int r = adr_spec_check(s, &err);
  if (errnum == 0) {
    if (r != 0)
      fail_msg("refused: %s", err->msg);
    return;
  }
  assert_int_equal(r, -1);
  assert_int_equal(err->errnum, errnum);
  if (msg)
    assert_string_equal(err->msg, msg);
  adr_err_free(&err);
}

static void test_check(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  want_check(&s, EINVAL, "sandbox without an image");
  s.image = xstrdup("img");
  want_check(&s, 0, NULL);
  s.privileged = true;
  want_check(&s, EPERM, "a privileged sandbox is never made");
  s.privileged = false;

  /* networks that do not hold together */
  s.net.ipv4 = xstrdup("10.0.0.2");
  want_check(&s, EINVAL, "a fixed address or a name needs a network adr made");
  free(s.net.ipv4);
  s.net.ipv4 = NULL;
  strv_push(&s.net.aliases, "db");
  want_check(&s, EINVAL, "a fixed address or a name needs a network adr made");
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, "adr-x-net", "10.0.0.2");
  strv_push(&s.net.aliases, "db");
  want_check(&s, 0, NULL);
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, NULL, NULL);
  want_check(&s, EINVAL, "attaching to a network needs its name");
  s.hostname = xstrdup("h");
  s.host_alias = true;
  strv_push(&s.dns, "10.0.0.2");
  adr_spec_set_net(&s, ADR_SPEC_NET_JOIN, "adr-x-gw", NULL);
  assert_null(s.hostname); /* joining takes them from the holder */
  assert_false(s.host_alias);
  assert_int_equal(s.dns.n, 0);
  want_check(&s, 0, NULL);
  strv_push(&s.net.aliases, "db");
  want_check(&s, EINVAL, "a sandbox that joins 'adr-x-gw' takes its address, hostname, hosts and resolvers");
  strv_free(&s.net.aliases);
  s.host_alias = true;
  want_check(&s, EINVAL, "a sandbox that joins 'adr-x-gw' takes its address, hostname, hosts and resolvers");
  s.host_alias = false;
  adr_spec_set_net(&s, ADR_SPEC_NET_JOIN, "", NULL);
  want_check(&s, EINVAL, NULL);
  adr_spec_set_net(&s, ADR_SPEC_NET_NONE, NULL, NULL);

  /* adr's seccomp policy is its text */
  s.seccomp = ADR_SECCOMP_ADR;
  want_check(&s, EINVAL, "adr's seccomp policy is missing its text");
  adr_spec_set_seccomp(&s, ADR_SECCOMP_ADR, "{}");
  want_check(&s, 0, NULL);
  adr_spec_set_seccomp(&s, ADR_SECCOMP_NONE, "{}");
  assert_null(s.seccomp_profile);

  /* not UTF-8, wherever it is */
  strv_push(&s.sysctls, "net.x=\xff");
  want_check(&s, EILSEQ, NULL);
}

static char *body_field(const struct adr_spec *s, const char *obj, const char *key)
{
  cleanup_free char *body = adr_docker_create_body(s);
  json_t *j = json_loads(body, 0, NULL);
  json_t *o = obj ? json_object_get(j, obj) : j;
  char *v = json_dumps(json_object_get(o, key), JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  return v ? v : xstrdup("absent");
}

static void expect_field(const struct adr_spec *s, const char *obj, const char *key, const char *want)
{
  cleanup_free char *v = body_field(s, obj, key);
  if (!streq(v, want))
    fail_msg("%s.%s: %s, want %s", obj ? obj : "", key, v, want);
}

/* The typed fields in the Docker engine's terms. */
static void test_docker_mapping(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup("img");
  expect_field(&s, "HostConfig", "NetworkMode", "\"bridge\"");
  expect_field(&s, "HostConfig", "ExtraHosts", "[]");
  s.host_alias = true;
  expect_field(&s, "HostConfig", "ExtraHosts", "[\"host.docker.internal:host-gateway\"]");
  adr_spec_set_net(&s, ADR_SPEC_NET_NONE, NULL, NULL);
  expect_field(&s, "HostConfig", "NetworkMode", "\"none\"");
  adr_spec_set_net(&s, ADR_SPEC_NET_JOIN, "adr-pi-1-gw", NULL);
  expect_field(&s, "HostConfig", "NetworkMode", "\"container:adr-pi-1-gw\"");
  expect_field(&s, "HostConfig", "ExtraHosts", "[]");
  expect_field(&s, NULL, "NetworkingConfig", "absent");
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, "adr-pi-1-net", NULL);
  expect_field(&s, "HostConfig", "NetworkMode", "\"adr-pi-1-net\"");
  expect_field(&s, NULL, "NetworkingConfig", "absent");
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, "adr-pi-1-net", "10.213.4.18");
  expect_field(&s, NULL, "NetworkingConfig",
               "{\"EndpointsConfig\":{\"adr-pi-1-net\":{\"IPAMConfig\":{\"IPv4Address\":\"10.213.4.18\"}}}}");
  /* a service's names on its network */
  strv_push(&s.net.aliases, "db");
  expect_field(&s, NULL, "NetworkingConfig",
               "{\"EndpointsConfig\":{\"adr-pi-1-net\":{\"Aliases\":[\"db\"],\"IPAMConfig\":{\"IPv4Address\":"
               "\"10.213.4.18\"}}}}");
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, "adr-pi-1-svc", NULL);
  expect_field(&s, NULL, "NetworkingConfig", "{\"EndpointsConfig\":{\"adr-pi-1-svc\":{\"Aliases\":[\"db\"]}}}");
  /* names go with the attached network only */
  adr_spec_set_net(&s, ADR_SPEC_NET_NONE, NULL, NULL);
  assert_int_equal(s.net.aliases.n, 0);
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, "adr-pi-1-net", "10.213.4.18");

  /* a health check: durations in ns; none by default */
  expect_field(&s, NULL, "Healthcheck", "absent");
  strv_push(&s.health.test, "CMD-SHELL");
  strv_push(&s.health.test, "pg_isready");
  s.health.interval_ms = 500;
  s.health.retries = 3;
  expect_field(&s, NULL, "Healthcheck",
               "{\"Interval\":500000000,\"Retries\":3,\"Test\":[\"CMD-SHELL\",\"pg_isready\"]}");

  expect_field(&s, "HostConfig", "RestartPolicy", "absent");
  s.restart = ADR_RESTART_UNLESS_STOPPED;
  expect_field(&s, "HostConfig", "RestartPolicy", "{\"MaximumRetryCount\":0,\"Name\":\"unless-stopped\"}");
  s.restart = ADR_RESTART_ON_FAILURE;
  expect_field(&s, "HostConfig", "RestartPolicy", "{\"MaximumRetryCount\":0,\"Name\":\"on-failure\"}");
  s.restart = ADR_RESTART_ALWAYS;
  expect_field(&s, "HostConfig", "RestartPolicy", "{\"MaximumRetryCount\":0,\"Name\":\"always\"}");

  expect_field(&s, "HostConfig", "SecurityOpt", "[\"no-new-privileges:true\"]");
  adr_spec_set_seccomp(&s, ADR_SECCOMP_ADR, "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}");
  expect_field(&s, "HostConfig", "SecurityOpt",
               "[\"no-new-privileges:true\",\"seccomp={\\\"defaultAction\\\":\\\"SCMP_ACT_ERRNO\\\"}\"]");
  adr_spec_set_seccomp(&s, ADR_SECCOMP_NONE, NULL);
  expect_field(&s, "HostConfig", "SecurityOpt", "[\"no-new-privileges:true\",\"seccomp=unconfined\"]");
  adr_spec_set_seccomp(&s, ADR_SECCOMP_ENGINE, NULL);
  expect_field(&s, "HostConfig", "SecurityOpt", "[\"no-new-privileges:true\"]");
}

/* What a warm sandbox's claim may differ in is left out of the digest;
 * everything else changes it. */
/* the known vectors */
static void test_sha256_hex(void **state)
{
  (void)state;
  cleanup_free char *empty = adr_sha256_hex(NULL, 0), *abc = adr_sha256_hex("abc", 3);
  assert_string_equal(empty, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert_string_equal(abc, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_digest(void **state)
{
  (void)state;
  struct adr_spec a, b;
  adr_spec_init(&a);
  a.image = xstrdup("coding-agent/pi:latest");
  strv_push(&a.env, "HOME=/home/agent");
  adr_spec_add_bind(&a, "/w", "/workspace", false);
  cleanup_free char *d0 = adr_spec_digest(&a, NULL);
  assert_int_equal(strlen(d0), 64);
  adr_spec_init(&b);
  b.image = xstrdup("coding-agent/pi:latest");
  strv_push(&b.env, "HOME=/home/agent");
  adr_spec_add_bind(&b, "/w", "/workspace", false);
  b.name = xstrdup("other");
  strv_push(&b.cmd, "/usr/local/bin/adr-entry");
  adr_spec_set_label(&b, "k", "v");
  adr_spec_set_net(&b, ADR_SPEC_NET_ATTACH, "net", NULL);
  cleanup_free char *d1 = adr_spec_digest(&b, NULL);
  assert_string_equal(d0, d1);
  /* each of these is a different sandbox (the controls) */
  struct strv x = { 0 };
  strv_push(&x, "allowlist");
  cleanup_free char *dx = adr_spec_digest(&a, &x);
  strv_free(&x);
  assert_string_not_equal(d0, dx);
  a.tty = true;
  cleanup_free char *d2 = adr_spec_digest(&a, NULL);
  assert_string_not_equal(d0, d2);
  a.tty = false;
  a.mounts[0].readonly = true;
  cleanup_free char *d3 = adr_spec_digest(&a, NULL);
  assert_string_not_equal(d0, d3);
  a.mounts[0].readonly = false;
  strv_push(&a.env, "X=1");
  cleanup_free char *d4 = adr_spec_digest(&a, NULL);
  assert_string_not_equal(d0, d4);
  strv_push(&a.health.test, "CMD-SHELL");
  cleanup_free char *d5 = adr_spec_digest(&a, NULL);
  assert_string_not_equal(d4, d5);
  /* the boundary between strings counts: "ab","c" is not "a","bc" */
  struct strv y1 = { 0 }, y2 = { 0 };
  strv_push(&y1, "ab");
  strv_push(&y1, "c");
  strv_push(&y2, "a");
  strv_push(&y2, "bc");
  cleanup_free char *e1 = adr_spec_digest(&b, &y1), *e2 = adr_spec_digest(&b, &y2);
  assert_string_not_equal(e1, e2);
  strv_free(&y1);
  strv_free(&y2);
  adr_spec_free(&a);
  adr_spec_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_must_defaults),  cmocka_unit_test(test_must_from_fields), cmocka_unit_test(test_check),
    cmocka_unit_test(test_docker_mapping), cmocka_unit_test(test_digest),           cmocka_unit_test(test_sha256_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
