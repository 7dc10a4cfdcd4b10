/* Unit tests for runspec.h: the inputs of `adr run` become a sandbox spec
 * and, through the Docker engine, exactly this Engine API create body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "engine.h"
#include "runspec.h"
#include "parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char agent_json[] =
  "{ \"name\": \"demo\", \"description\": \"d\","
  "  \"npm\": { \"package\": \"@x/demo\", \"version\": \"1.2.3\" }, \"binary\": \"demo\","
  "  \"config\": [ { \"host\": \"~/.demo\", \"home\": \".demo\" },"
  "              { \"host\": \"~/.demo.json\", \"home\": \".demo.json\", \"optional\": true } ],"
  "  \"config_file\": \".demo.json\","
  "  \"env\": { \"DEMO_TELEMETRY\": \"0\" },"
  "  \"args\": { \"interactive\": [\"--yolo\", \"{model_args}\"],"
  "            \"headless\": [\"-p\", \"{model_args}\", \"{prompt}\"],"
  "            \"model\": [\"--model\", \"{model}\"] } }";

struct fixture {
  char dir[64];
  struct adr_agent agent;
  struct adr_run_opts o;
};

static int setup(void **state)
{
  struct fixture *f = xcalloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/adr-runspec-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  adr_err err = NULL;
  if (adr_agent_parse(agent_json, sizeof(agent_json) - 1, "demo.json", &f->agent, &err) < 0) {
    print_error("%s\n", err->msg);
    return -1;
  }
  /* the host has ~/.demo but no ~/.demo.json */
  cleanup_free char *cfg = xasprintf("%s/.demo", f->dir);
  mkdir(cfg, 0700);
  f->o = (struct adr_run_opts){
    .name = "adr-demo-1",
    .image = "coding-agent/demo:latest",
    .workspace = "/src/proj",
    .host_home = f->dir,
    .headless = true,
    .prompt = "fix the \"bug\"",
    .uid = 1000,
    .gid = 1001,
    .memory = 4LL << 30,
    .nano_cpus = 2000000000,
    .pids = 1024,
    .home_size = 1ULL << 30,
    .tmp_size = 512ULL << 20,
    .seccomp_profile = "{\"defaultAction\":\"SCMP_ACT_ERRNO\"}",
  };
  *state = f;
  return 0;
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *cfg = xasprintf("%s/.demo", f->dir);
  rmdir(cfg);
  rmdir(f->dir);
  adr_agent_free(&f->agent);
  strv_free(&f->o.env);
  free(f);
  return 0;
}

static char *body_of(struct fixture *f)
{
  cleanup_spec struct adr_spec s;
  adr_err err = NULL;
  if (adr_run_spec(&f->o, &f->agent, &s, &err) < 0) {
    print_error("%s\n", err->msg);
    adr_err_free(&err);
    return NULL;
  }
  return adr_docker_create_body(&s);
}

/* The whole body of a headless run, byte for byte. */
static void test_headless_exact(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *body = body_of(f);
  assert_non_null(body);
  cleanup_free char *want = xasprintf(
    "{\"AttachStderr\":true,\"AttachStdin\":false,\"AttachStdout\":true,"
    "\"Cmd\":[\"/usr/local/bin/adr-entry\",\"demo\",\"-p\",\"fix the \\\"bug\\\"\"],"
    "\"Env\":[\"HOME=/home/agent\",\"USER=agent\",\"LOGNAME=agent\",\"SHELL=/bin/bash\",\"LANG=C.UTF-8\","
    "\"ADR_AGENT=demo\",\"ADR_SANDBOX=1\",\"DEMO_TELEMETRY=0\"],"
    "\"HostConfig\":{\"AutoRemove\":false,\"CapDrop\":[\"ALL\"],\"CgroupnsMode\":\"private\","
    "\"ExtraHosts\":[\"host.docker.internal:host-gateway\"],\"Init\":true,\"IpcMode\":\"private\","
    "\"Memory\":4294967296,\"MemorySwap\":4294967296,"
    "\"Mounts\":[{\"BindOptions\":{\"Propagation\":\"rprivate\"},\"ReadOnly\":false,\"Source\":\"/src/proj\","
    "\"Target\":\"/workspace\",\"Type\":\"bind\"},"
    "{\"BindOptions\":{\"Propagation\":\"rprivate\"},\"ReadOnly\":true,\"Source\":\"%s/.demo\","
    "\"Target\":\"/run/adr-stage/.demo\",\"Type\":\"bind\"}],"
    "\"NanoCpus\":2000000000,\"NetworkMode\":\"bridge\",\"PidsLimit\":1024,\"Privileged\":false,"
    "\"ReadonlyRootfs\":true,"
    "\"SecurityOpt\":[\"no-new-privileges:true\",\"seccomp={\\\"defaultAction\\\":\\\"SCMP_ACT_ERRNO\\\"}\"],"
    "\"Tmpfs\":{\"/home/agent\":\"rw,nosuid,nodev,exec,size=1073741824,mode=700,uid=1000,gid=1001\","
    "\"/run/adr\":\"rw,nosuid,nodev,exec,size=1048576,mode=755,uid=1000,gid=1001\","
    "\"/tmp\":\"rw,nosuid,nodev,exec,size=536870912,mode=1777\"}},"
    "\"Hostname\":\"adr-demo\",\"Image\":\"coding-agent/demo:latest\","
    "\"Labels\":{\"dev.adr.agent\":\"demo\",\"dev.adr.managed\":\"1\",\"dev.adr.workspace\":\"/src/proj\"},"
    "\"OpenStdin\":false,\"StdinOnce\":false,\"Tty\":false,\"User\":\"1000:1001\",\"WorkingDir\":\"/workspace\"}",
    f->dir);
  assert_string_equal(body, want);
}

static json_t *spec_json(struct fixture *f)
{
  cleanup_free char *body = body_of(f);
  assert_non_null(body);
  json_t *j = json_loads(body, 0, NULL);
  assert_non_null(j);
  return j;
}

static bool env_has(json_t *j, const char *kv)
{
  json_t *env = json_object_get(j, "Env"), *v;
  size_t i;
  json_array_foreach (env, i, v)
    if (streq(json_string_value(v), kv))
      return true;
  return false;
}

/* Model, interactive with a TTY, agent arguments after "--", user env last
 * (so it wins over the agent's), extra mounts after the staged config. */
static void test_interactive_model_env_mounts(void **state)
{
  struct fixture *f = *state;
  char a0[] = "--verbose", a1[] = "x y";
  char *args[] = { a0, a1 };
  char h0[] = "/data", c0[] = "/data", h1[] = "/out", c1[] = "/mnt/out";
  struct adr_mount m[] = { { .host = h0, .container = c0, .readonly = true },
                           { .host = h1, .container = c1, .readonly = false } };
  f->o.headless = false;
  f->o.prompt = NULL;
  f->o.tty = f->o.interactive = true;
  f->o.term = "screen-256color";
  f->o.model = "big-model";
  f->o.agent_args = args;
  f->o.n_agent_args = 2;
  f->o.mounts = m;
  f->o.n_mounts = 2;
  strv_push(&f->o.env, "DEMO_TELEMETRY=1");
  json_t *j = spec_json(f);
  json_t *cmd = json_object_get(j, "Cmd");
  assert_int_equal(json_array_size(cmd), 7);
  const char *want[] = { "/usr/local/bin/adr-entry", "demo", "--yolo", "--model", "big-model", "--verbose", "x y" };
  for (size_t i = 0; i < 7; i++)
    assert_string_equal(json_string_value(json_array_get(cmd, i)), want[i]);
  assert_true(json_is_true(json_object_get(j, "Tty")));
  assert_true(json_is_true(json_object_get(j, "OpenStdin")));
  assert_true(env_has(j, "TERM=screen-256color"));
  /* the user's value comes after the agent's: the engine keeps the last */
  json_t *env = json_object_get(j, "Env");
  size_t n = json_array_size(env);
  assert_string_equal(json_string_value(json_array_get(env, n - 1)), "DEMO_TELEMETRY=1");
  json_t *mounts = json_object_get(json_object_get(j, "HostConfig"), "Mounts");
  assert_int_equal(json_array_size(mounts), 4);
  assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 2), "Target")), "/data");
  assert_true(json_is_true(json_object_get(json_array_get(mounts, 2), "ReadOnly")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(mounts, 3), "Target")), "/mnt/out");
  assert_true(json_is_false(json_object_get(json_array_get(mounts, 3), "ReadOnly")));
  json_decref(j);
}

/* Each --unsafe switch removes its layer and only that one. */
static void test_unsafe_bits(void **state)
{
  struct fixture *f = *state;
  static const struct {
    const char *what;
    const char *key;
  } t[] = {
    { "writable-root", "ReadonlyRootfs" },
    { "no-seccomp", "seccomp" },
    { "new-privileges", "no-new-privileges" },
    { "no-limits", "PidsLimit" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
    f->o.unsafe = 0;
    adr_err err = NULL;
    assert_int_equal(adr_unsafe_parse(t[i].what, &f->o.unsafe, &err), 0);
    cleanup_free char *body = body_of(f);
    assert_non_null(body);
    /* the others stay */
    for (size_t k = 0; k < ARRAY_SIZE(t); k++) {
      bool present;
      if (streq(t[k].key, "ReadonlyRootfs"))
        present = strstr(body, "\"ReadonlyRootfs\":true") != NULL;
      else
        present = strstr(body, t[k].key) != NULL;
      if (k == i && present)
        fail_msg("--unsafe %s left %s in the body", t[i].what, t[k].key);
      if (k != i && !present)
        fail_msg("--unsafe %s also removed %s", t[i].what, t[k].key);
    }
    /* never negotiable: capabilities stay dropped */
    assert_non_null(strstr(body, "\"CapDrop\":[\"ALL\"]"));
    assert_non_null(strstr(body, "\"Privileged\":false"));
  }
  adr_err err = NULL;
  unsigned bits = 0;
  assert_int_equal(adr_unsafe_parse("caps", &bits, &err), -1);
  assert_string_equal(err->msg, "unknown --unsafe value 'caps' (writable-root, no-seccomp, new-privileges, no-limits)");
  adr_err_free(&err);
}

/* --gpus: the device request, and every hardening item as without it. */
static void test_gpus_keep_hardening(void **state)
{
  struct fixture *f = *state;
  f->o.unsafe = 0;
  cleanup_free char *plain = body_of(f);
  struct adr_spec_gpus g = { 0 };
  adr_err err = NULL;
  assert_int_equal(adr_parse_gpus("device=1", &g, &err), 0);
  f->o.gpus = &g;
  json_t *j = spec_json(f);
  f->o.gpus = NULL;
  json_t *h = json_object_get(j, "HostConfig");
  json_t *dr = json_array_get(json_object_get(h, "DeviceRequests"), 0);
  assert_string_equal(json_string_value(json_array_get(json_object_get(dr, "DeviceIDs"), 0)), "1");
  json_object_del(h, "DeviceRequests");
  json_t *p = json_loads(plain, 0, NULL);
  assert_true(json_equal(j, p));
  json_decref(j);
  json_decref(p);
  strv_free(&g.device_ids);
}

/* --shell runs bash instead of the agent; -c and --config-file stage
 * exactly what they name, and refuse what does not exist. */
static void test_shell_and_config(void **state)
{
  struct fixture *f = *state;
  f->o.shell = true;
  f->o.headless = false;
  f->o.prompt = NULL;
  json_t *j = spec_json(f);
  json_t *cmd = json_object_get(j, "Cmd");
  assert_int_equal(json_array_size(cmd), 2);
  assert_string_equal(json_string_value(json_array_get(cmd, 1)), "/bin/bash");
  json_decref(j);

  /* a procedural run's command, as given, behind the entry script; the
   * staged arguments are the agent's, not its */
  struct strv command = { 0 }, pre = { 0 };
  strv_push(&command, "sh");
  strv_push(&command, "-c");
  strv_push(&command, "make test");
  strv_push(&pre, "--settings=x");
  f->o.shell = false;
  f->o.command = &command;
  f->o.pre_args = &pre;
  j = spec_json(f);
  cmd = json_object_get(j, "Cmd");
  assert_int_equal(json_array_size(cmd), 4);
  assert_string_equal(json_string_value(json_array_get(cmd, 0)), "/usr/local/bin/adr-entry");
  assert_string_equal(json_string_value(json_array_get(cmd, 1)), "sh");
  assert_string_equal(json_string_value(json_array_get(cmd, 3)), "make test");
  json_decref(j);
  f->o.command = NULL;
  f->o.pre_args = NULL;
  strv_free(&command);
  strv_free(&pre);

  cleanup_spec struct adr_spec s;
  adr_err err = NULL;
  f->o.config_dir = "/nonexistent/cfg";
  assert_int_equal(adr_run_spec(&f->o, &f->agent, &s, &err), -1);
  assert_string_equal(err->msg, "config directory '/nonexistent/cfg': No such file or directory");
  adr_err_free(&err);
  adr_spec_free(&s);

  f->o.config_dir = NULL;
  f->o.config_file = f->dir; /* a directory */
  assert_int_equal(adr_run_spec(&f->o, &f->agent, &s, &err), -1);
  cleanup_free char *want = xasprintf("config file '%s': not a regular file", f->dir);
  assert_string_equal(err->msg, want);
  adr_err_free(&err);
}

/* The identity files: read-only at /run/adr instead of the tmpfs, with
 * the sandbox user's entry; written and removed on the host. */
static void test_identity(void **state)
{
  struct fixture *f = *state;
  cleanup_free char *dir = xasprintf("%s/run/x", f->dir);
  adr_err err = NULL;
  assert_int_equal(adr_identity_write(dir, 1234, 1235, &err), 0);
  cleanup_free char *pp = xasprintf("%s/passwd", dir);
  cleanup_free char *gp = xasprintf("%s/group", dir);
  cleanup_buf struct buf b;
  buf_init(&b, 0);
  assert_int_equal(buf_read_file(&b, pp), 0);
  buf_append(&b, "", 0);
  assert_string_equal(b.data,
                      "root:x:0:0:root:/root:/bin/sh\n"
                      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                      "agent:x:1234:1235:adr agent:/home/agent:/bin/bash\n");
  struct stat st;
  assert_int_equal(stat(gp, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0644);

  f->o.identity_dir = dir;
  cleanup_free char *body = body_of(f);
  assert_non_null(body);
  cleanup_free char *want = xasprintf(
    "{\"BindOptions\":{\"Propagation\":\"rprivate\"},\"ReadOnly\":true,"
    "\"Source\":\"%s\",\"Target\":\"/run/adr\",\"Type\":\"bind\"}",
    dir);
  assert_non_null(strstr(body, want));
  assert_null(strstr(body, "\"/run/adr\":\"rw"));

  assert_int_equal(adr_identity_remove(dir, &err), 0);
  assert_int_equal(access(dir, F_OK), -1);
  assert_int_equal(adr_identity_remove(dir, &err), 0); /* gone already: fine */
  cleanup_free char *run = xasprintf("%s/run", f->dir);
  rmdir(run);
}

/* A headless run without a prompt is the command layer's error; the
 * builder substitutes an empty prompt as one argument, never splits it. */
static void test_prompt_is_one_argument(void **state)
{
  struct fixture *f = *state;
  f->o.prompt = "a b; rm -rf / $(x) 'q'\n\xc3\xa9";
  json_t *j = spec_json(f);
  json_t *cmd = json_object_get(j, "Cmd");
  assert_int_equal(json_array_size(cmd), 4);
  assert_string_equal(json_string_value(json_array_get(cmd, 3)), f->o.prompt);
  json_decref(j);
}

/* The spec adr run builds, in the typed fields an engine reads: the
 * engine's outbound network with the host alias (egress narrows it),
 * adr's seccomp policy unless --unsafe no-seccomp, the MUST hardening. */
static void test_typed_fields(void **state)
{
  struct fixture *f = *state;
  cleanup_spec struct adr_spec s;
  adr_err err = NULL;
  assert_int_equal(adr_run_spec(&f->o, &f->agent, &s, &err), 0);
  assert_int_equal(s.net.kind, ADR_SPEC_NET_OUTBOUND);
  assert_null(s.net.name);
  assert_true(s.host_alias);
  assert_int_equal(s.restart, ADR_RESTART_NO);
  assert_int_equal(s.seccomp, ADR_SECCOMP_ADR);
  assert_string_equal(s.seccomp_profile, f->o.seccomp_profile);
  assert_true(s.read_only_root && s.no_new_privileges && s.drop_all_caps && s.ipc_private && s.cgroupns_private &&
              s.swap_limited && s.init);
  assert_false(s.privileged);
  assert_int_equal(s.cap_add.n, 0);
  for (size_t i = 0; i < s.n_mounts; i++) {
    if (s.mounts[i].type == ADR_MOUNT_BIND)
      assert_true(s.mounts[i].rprivate);
    else
      assert_true(s.mounts[i].nosuid && s.mounts[i].nodev);
  }
  assert_int_equal(adr_spec_check(&s, &err), 0);
  adr_spec_free(&s);

  assert_int_equal(adr_unsafe_parse("no-seccomp", &f->o.unsafe, &err), 0);
  assert_int_equal(adr_run_spec(&f->o, &f->agent, &s, &err), 0);
  assert_int_equal(s.seccomp, ADR_SECCOMP_ENGINE); /* the engine's default, not none */
  assert_null(s.seccomp_profile);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_headless_exact, setup, teardown),
    cmocka_unit_test_setup_teardown(test_interactive_model_env_mounts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unsafe_bits, setup, teardown),
    cmocka_unit_test_setup_teardown(test_shell_and_config, setup, teardown),
    cmocka_unit_test_setup_teardown(test_gpus_keep_hardening, setup, teardown),
    cmocka_unit_test_setup_teardown(test_prompt_is_one_argument, setup, teardown),
    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
    cmocka_unit_test_setup_teardown(test_typed_fields, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
