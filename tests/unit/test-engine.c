/* Unit tests for the Docker Engine API request building and response
 * parsing (engine.h, spec.h); no engine is contacted. */
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

/* ------------------------------------------------------- create body */

static void test_create_body_minimal(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup("img");
  char *body = adr_docker_create_body(&s);
  assert_non_null(body);
  assert_string_equal(
    body,
    "{\"AttachStderr\":true,\"AttachStdin\":false,\"AttachStdout\":true,\"Env\":[],"
    "\"HostConfig\":{\"AutoRemove\":false,\"CapDrop\":[\"ALL\"],\"CgroupnsMode\":\"private\","
    "\"ExtraHosts\":[],\"Init\":true,\"IpcMode\":\"private\",\"Mounts\":[],\"NetworkMode\":\"bridge\","
    "\"Privileged\":false,\"ReadonlyRootfs\":true,\"SecurityOpt\":[\"no-new-privileges:true\"],"
    "\"Tmpfs\":{}},"
    "\"Image\":\"img\",\"Labels\":{},\"OpenStdin\":false,\"StdinOnce\":false,\"Tty\":false}");
  free(body);
}

static void full_spec(struct adr_spec *s)
{
  adr_spec_init(s);
  s->name = xstrdup("adr-pi-1");
  s->image = xstrdup("coding-agent/pi:latest");
  strv_push(&s->cmd, "pi");
  strv_push(&s->cmd, "-p");
  strv_push(&s->cmd, "hello \"world\"\n");
  strv_push(&s->env, "A=1");
  strv_push(&s->env, "B=two words");
  s->user = xstrdup("1000:1000");
  s->workdir = xstrdup("/workspace");
  s->hostname = xstrdup("sandbox");
  s->tty = true;
  s->interactive = true;
  s->memory = 4LL << 30;
  s->nano_cpus = 1500000000LL;
  s->pids = 1024;
  s->net.kind = ADR_SPEC_NET_NONE;
  s->host_alias = true;
  adr_spec_set_seccomp(s, ADR_SECCOMP_ADR, "{}");
  adr_spec_add_bind(s, "/home/u/proj", "/workspace", false);
  adr_spec_add_tmpfs(s, "/tmp", 1ULL << 30, 0, -1, -1);
  adr_spec_add_bind(s, "/home/u/.pi", "/home/agent/.pi", true);
  adr_spec_add_tmpfs(s, "/home/agent", 512ULL << 20, 0700, 1000, 1000);
  adr_spec_add_tmpfs(s, "/run/adr", 0, 0755, 1000, -1);
  adr_spec_set_label(s, ADR_LABEL_MANAGED, "1");
  adr_spec_set_label(s, ADR_LABEL_AGENT, "pi");
  adr_spec_set_label(s, ADR_LABEL_KIND, "run");
  adr_spec_set_label(s, ADR_LABEL_AGENT, "codex"); /* replaces */
}

/* --gpus: the engine's device requests, nothing else changes; none: no
 * DeviceRequests at all. */
static void test_create_body_gpus(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  full_spec(&s);
  char *plain = adr_docker_create_body(&s);
  assert_null(strstr(plain, "DeviceRequests"));
  s.gpus.count = -1;
  char *all = adr_docker_create_body(&s);
  json_t *j = json_loads(all, 0, NULL);
  json_t *h = json_object_get(j, "HostConfig");
  char *dr = json_dumps(json_object_get(h, "DeviceRequests"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(
    dr, "[{\"Capabilities\":[[\"gpu\"]],\"Count\":-1,\"DeviceIDs\":null,\"Driver\":\"\",\"Options\":{}}]");
  free(dr);
  /* the hardening is the same as without */
  json_object_del(h, "DeviceRequests");
  json_t *p = json_loads(plain, 0, NULL);
  assert_true(json_equal(j, p));
  json_decref(j);
  json_decref(p);
  free(all);
  free(plain);
  s.gpus.count = 0;
  strv_push(&s.gpus.device_ids, "0");
  strv_push(&s.gpus.device_ids, "GPU-3a9c");
  char *ids = adr_docker_create_body(&s);
  j = json_loads(ids, 0, NULL);
  dr = json_dumps(json_object_get(json_object_get(j, "HostConfig"), "DeviceRequests"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(dr,
                      "[{\"Capabilities\":[[\"gpu\"]],\"Count\":0,\"DeviceIDs\":[\"0\",\"GPU-3a9c\"],\"Driver\":\"\","
                      "\"Options\":{}}]");
  free(dr);
  json_decref(j);
  free(ids);
}

static void test_create_body_full(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  full_spec(&s);
  assert_int_equal(s.labels.n, 3);
  char *body = adr_docker_create_body(&s);
  assert_non_null(body);
  assert_string_equal(
    body,
    "{\"AttachStderr\":true,\"AttachStdin\":true,\"AttachStdout\":true,"
    "\"Cmd\":[\"pi\",\"-p\",\"hello \\\"world\\\"\\n\"],"
    "\"Env\":[\"A=1\",\"B=two words\"],"
    "\"HostConfig\":{\"AutoRemove\":false,\"CapDrop\":[\"ALL\"],\"CgroupnsMode\":\"private\","
    "\"ExtraHosts\":[\"host.docker.internal:host-gateway\"],\"Init\":true,\"IpcMode\":\"private\","
    "\"Memory\":4294967296,\"MemorySwap\":4294967296,"
    "\"Mounts\":["
    "{\"BindOptions\":{\"Propagation\":\"rprivate\"},\"ReadOnly\":false,\"Source\":\"/home/u/proj\","
    "\"Target\":\"/workspace\",\"Type\":\"bind\"},"
    "{\"BindOptions\":{\"Propagation\":\"rprivate\"},\"ReadOnly\":true,\"Source\":\"/home/u/.pi\","
    "\"Target\":\"/home/agent/.pi\",\"Type\":\"bind\"}],"
    "\"NanoCpus\":1500000000,\"NetworkMode\":\"none\",\"PidsLimit\":1024,\"Privileged\":false,"
    "\"ReadonlyRootfs\":true,\"SecurityOpt\":[\"no-new-privileges:true\",\"seccomp={}\"],"
    "\"Tmpfs\":{"
    "\"/home/agent\":\"rw,nosuid,nodev,exec,size=536870912,mode=700,uid=1000,gid=1000\","
    "\"/run/adr\":\"rw,nosuid,nodev,exec,size=67108864,mode=755,uid=1000,gid=1000\","
    "\"/tmp\":\"rw,nosuid,nodev,exec,size=1073741824,mode=1777\"}},"
    "\"Hostname\":\"sandbox\",\"Image\":\"coding-agent/pi:latest\","
    "\"Labels\":{\"dev.adr.agent\":\"codex\",\"dev.adr.kind\":\"run\",\"dev.adr.managed\":\"1\"},"
    "\"OpenStdin\":true,\"StdinOnce\":true,\"Tty\":true,\"User\":\"1000:1000\",\"WorkingDir\":\"/workspace\"}");
  free(body);
}

/* The security-relevant fields, checked structurally. */
static void test_create_body_hardening(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  full_spec(&s);
  char *body = adr_docker_create_body(&s);
  json_error_t je;
  json_t *j = json_loads(body, 0, &je);
  free(body);
  assert_non_null(j);
  json_t *h = json_object_get(j, "HostConfig");
  assert_true(json_is_true(json_object_get(h, "ReadonlyRootfs")));
  assert_true(json_is_false(json_object_get(h, "Privileged")));
  json_t *capdrop = json_object_get(h, "CapDrop");
  assert_int_equal(json_array_size(capdrop), 1);
  assert_string_equal(json_string_value(json_array_get(capdrop, 0)), "ALL");
  assert_null(json_object_get(h, "CapAdd"));
  json_t *so = json_object_get(h, "SecurityOpt");
  bool nnp = false;
  for (size_t i = 0; i < json_array_size(so); i++)
    nnp |= streq(json_string_value(json_array_get(so, i)), "no-new-privileges:true");
  assert_true(nnp);
  json_t *tmp = json_object_get(json_object_get(h, "Tmpfs"), "/tmp");
  assert_string_equal(json_string_value(tmp), "rw,nosuid,nodev,exec,size=1073741824,mode=1777");
  json_t *m = json_array_get(json_object_get(h, "Mounts"), 1);
  assert_true(json_is_true(json_object_get(m, "ReadOnly")));
  assert_string_equal(json_string_value(json_object_get(m, "Type")), "bind");
  assert_int_equal(json_integer_value(json_object_get(h, "MemorySwap")),
                   json_integer_value(json_object_get(h, "Memory")));
  json_decref(j);
}

static void test_create_body_hardening_off(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup("adr/base:latest");
  s.read_only_root = false;
  s.no_new_privileges = false;
  s.drop_all_caps = false;
  s.init = false;
  strv_push(&s.cap_add, "CHOWN");
  strv_push(&s.cap_add, "DAC_OVERRIDE");
  adr_spec_add_tmpfs(&s, "/x", 4096, 01700, 0, 0);
  char *body = adr_docker_create_body(&s);
  assert_string_equal(
    body,
    "{\"AttachStderr\":true,\"AttachStdin\":false,\"AttachStdout\":true,\"Env\":[],"
    "\"HostConfig\":{\"AutoRemove\":false,\"CapAdd\":[\"CHOWN\",\"DAC_OVERRIDE\"],"
    "\"CgroupnsMode\":\"private\",\"ExtraHosts\":[],\"Init\":false,\"IpcMode\":\"private\","
    "\"Mounts\":[],\"NetworkMode\":\"bridge\",\"Privileged\":false,\"ReadonlyRootfs\":false,"
    "\"SecurityOpt\":[],\"Tmpfs\":{\"/x\":\"rw,nosuid,nodev,exec,size=4096,mode=1700,uid=0,gid=0\"}},"
    "\"Image\":\"adr/base:latest\",\"Labels\":{},\"OpenStdin\":false,\"StdinOnce\":false,\"Tty\":false}");
  free(body);
}

/* Strings that JSON cannot carry (not UTF-8: a Latin-1 directory name)
 * must not make the body silently lose a mount or a variable: either the
 * body is refused (NULL) or everything in the spec is in it. */
static void test_create_body_never_drops(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup("img");
  strv_push(&s.env, "LANG=C");
  strv_push(&s.env, "NAME=caf\xe9");
  adr_spec_add_bind(&s, "/home/u/caf\xe9", "/workspace", false);
  adr_spec_add_tmpfs(&s, "/tmp/\xff", 0, 0, -1, -1);
  adr_spec_set_label(&s, ADR_LABEL_WORKSPACE, "/home/u/caf\xe9");
  char *body = adr_docker_create_body(&s);
  adr_spec_free(&s);
  if (body == NULL)
    return; /* refused: fine */
  json_t *j = json_loads(body, 0, NULL);
  json_t *h = json_object_get(j, "HostConfig");
  size_t n_env = json_array_size(json_object_get(j, "Env"));
  size_t n_mounts = json_array_size(json_object_get(h, "Mounts"));
  size_t n_tmpfs = json_object_size(json_object_get(h, "Tmpfs"));
  size_t n_labels = json_object_size(json_object_get(j, "Labels"));
  json_decref(j);
  bool dropped = n_env != 2 || n_mounts != 1 || n_tmpfs != 1 || n_labels != 1;
  if (dropped)
    print_error("body: %s\n", body);
  free(body);
  if (dropped)
    fail_msg(
      "create body silently dropped spec entries holding non-UTF-8 strings: env %zu/2, "
      "mounts %zu/1, tmpfs %zu/1, labels %zu/1",
      n_env, n_mounts, n_tmpfs, n_labels);
}

static void test_spec_labels(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  assert_true(s.read_only_root);
  assert_true(s.no_new_privileges);
  assert_true(s.drop_all_caps);
  assert_true(s.init);
  adr_spec_set_label(&s, "a.b", "1");
  adr_spec_set_label(&s, "a", "2");
  adr_spec_set_label(&s, "a.b", "3");
  adr_spec_set_label(&s, "a", "x=y");
  assert_int_equal(s.labels.n, 2);
  assert_string_equal(s.labels.v[0], "a.b=3");
  assert_string_equal(s.labels.v[1], "a=x=y");
  assert_string_equal(adr_labels_get(&s.labels, "a"), "x=y");
}

/* ------------------------------------------------------------ images */

static const char images_json[] =
  "[\n"
  " {\"Containers\":-1,\"Created\":1700000000,\"Id\":\"sha256:aaa\",\n"
  "  \"Labels\":{\"dev.adr.managed\":\"1\",\"dev.adr.agent\":\"pi\",\"odd\":null},\n"
  "  \"ParentId\":\"\",\"RepoDigests\":[\"coding-agent/pi@sha256:0123\"],\n"
  "  \"RepoTags\":[\"coding-agent/pi:latest\",\"coding-agent/pi:0.87.1\"],\n"
  "  \"SharedSize\":-1,\"Size\":705123456,\"VirtualSize\":705123456},\n"
  " {\"Containers\":-1,\"Created\":1600000000,\"Id\":\"sha256:bbb\",\"Labels\":null,\n"
  "  \"ParentId\":\"\",\"RepoDigests\":[],\"RepoTags\":[\"<none>:<none>\"],\"SharedSize\":-1,\"Size\":5},\n"
  " {\"Id\":\"sha256:ccc\",\"RepoDigests\":[\"x@sha256:1\"],\"RepoTags\":null,\"Size\":6,\"Created\":1},\n"
  " {\"Id\":\"sha256:ddd\",\"RepoTags\":[\"localhost:5000/x:1\",\"localhost:5000/noTag\",42],\n"
  "  \"Created\":1700000100,\"Size\":42,\"Labels\":{}},\n"
  " {\"Id\":\"sha256:eee\",\"RepoTags\":[\"registry.example.com:443/team/agent:v2.0\"],\"Size\":1}\n"
  "]\n";

static void test_parse_images(void **state)
{
  (void)state;
  struct adr_image *v = NULL;
  size_t n = 0;
  adr_err err = NULL;
  assert_int_equal(adr_docker_parse_images(images_json, sizeof(images_json) - 1, &v, &n, &err), 0);
  assert_int_equal(n, 4);

  assert_string_equal(v[0].repository, "coding-agent/pi");
  assert_string_equal(v[0].tag, "latest");
  assert_string_equal(v[0].id, "sha256:aaa");
  assert_int_equal(v[0].size, 705123456);
  assert_int_equal(v[0].created, 1700000000);
  assert_int_equal(v[0].labels.n, 3);
  assert_string_equal(adr_labels_get(&v[0].labels, ADR_LABEL_MANAGED), "1");
  assert_string_equal(adr_labels_get(&v[0].labels, ADR_LABEL_AGENT), "pi");
  assert_string_equal(adr_labels_get(&v[0].labels, "odd"), "");

  assert_string_equal(v[1].repository, "coding-agent/pi");
  assert_string_equal(v[1].tag, "0.87.1");
  assert_string_equal(v[1].id, "sha256:aaa");
  assert_int_equal(v[1].labels.n, 3);

  assert_string_equal(v[2].repository, "localhost:5000/x");
  assert_string_equal(v[2].tag, "1");
  assert_string_equal(v[2].id, "sha256:ddd");
  assert_int_equal(v[2].size, 42);
  assert_int_equal(v[2].labels.n, 0);

  assert_string_equal(v[3].repository, "registry.example.com:443/team/agent");
  assert_string_equal(v[3].tag, "v2.0");
  assert_int_equal(v[3].created, 0);

  adr_images_free(v, n);
}

static void test_parse_images_edge(void **state)
{
  (void)state;
  struct adr_image *v = (struct adr_image *)1;
  size_t n = 99;
  adr_err err = NULL;
  assert_int_equal(adr_docker_parse_images("[]", 2, &v, &n, &err), 0);
  assert_int_equal(n, 0);
  assert_null(v);
  /* objects that are not images are skipped */
  const char *odd = "[1, \"x\", null, {}, {\"RepoTags\":{}}]";
  assert_int_equal(adr_docker_parse_images(odd, strlen(odd), &v, &n, &err), 0);
  assert_int_equal(n, 0);

  assert_true(adr_docker_parse_images("{}", 2, &v, &n, &err) < 0);
  assert_string_equal(err->msg, "list images: unexpected response from the engine (not an array)");
  assert_int_equal(err->errnum, EPROTO);
  adr_err_free(&err);
  const char *bad = "[{\"Id\":";
  assert_true(adr_docker_parse_images(bad, strlen(bad), &v, &n, &err) < 0);
  assert_true(str_has_prefix(err->msg, "list images: unexpected response from the engine ("));
  adr_err_free(&err);
  /* len is honoured: trailing bytes are not parsed */
  const char *trail = "[]garbage";
  assert_int_equal(adr_docker_parse_images(trail, 2, &v, &n, &err), 0);
}

/* ------------------------------------------------------- build lines */

static void expect_build_event(const char *line, enum adr_build_event_kind kind, const char *text)
{
  struct adr_build_event ev = { .kind = (enum adr_build_event_kind) - 1, .text = "sentinel" };
  char *owned = (char *)"sentinel";
  adr_err err = NULL;
  if (adr_docker_parse_build_line(line, strlen(line), &ev, &owned, &err) < 0)
    fail_msg("%s: %s", line, err->msg);
  assert_int_equal(ev.kind, kind);
  if (text) {
    assert_non_null(ev.text);
    assert_string_equal(ev.text, text);
    assert_ptr_equal(ev.text, owned);
  } else {
    assert_null(ev.text);
    assert_null(owned);
  }
  free(owned);
}

static void test_build_lines(void **state)
{
  (void)state;
  expect_build_event("{\"stream\":\"Step 1/9 : FROM node:22-bookworm-slim\\n\"}", ADR_BUILD_STEP,
                     "Step 1/9 : FROM node:22-bookworm-slim\n");
  expect_build_event("{\"stream\":\" ---> Running in 0123abcd\\n\"}", ADR_BUILD_OUTPUT, " ---> Running in 0123abcd\n");
  expect_build_event("{\"stream\":\"added 12 packages in 3s\\n\"}", ADR_BUILD_OUTPUT, "added 12 packages in 3s\n");
  expect_build_event("{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"abc\"}", ADR_BUILD_OUTPUT,
                     "Pulling fs layer");
  expect_build_event("{\"aux\":{\"ID\":\"sha256:4f5e\"}}", ADR_BUILD_DONE, "sha256:4f5e");
  expect_build_event("{\"aux\":{\"ID\":\"sha256:4f5e\"}}\r", ADR_BUILD_DONE, "sha256:4f5e");
  expect_build_event("{\"aux\":{\"Digest\":\"sha256:1\"}}", ADR_BUILD_OUTPUT, NULL);
  expect_build_event("{}", ADR_BUILD_OUTPUT, NULL);
  expect_build_event("{\"stream\":42}", ADR_BUILD_OUTPUT, NULL);
}

static void expect_build_error(const char *line, size_t len, int errnum, const char *msg)
{
  struct adr_build_event ev = { 0 };
  char *owned = (char *)"sentinel";
  adr_err err = NULL;
  char why[512] = "";
  if (adr_docker_parse_build_line(line, len, &ev, &owned, &err) == 0)
    snprintf(why, sizeof(why), "accepted");
  else if (owned != NULL)
    snprintf(why, sizeof(why), "owned text set on error");
  else if (strcmp(err->msg, msg) != 0)
    snprintf(why, sizeof(why), "message [%s], want [%s]", err->msg, msg);
  else if (err->errnum != errnum)
    snprintf(why, sizeof(why), "errnum %d, want %d", err->errnum, errnum);
  adr_err_free(&err);
  if (why[0])
    fail_msg("build line [%.*s]: %s", (int)(len < 100 ? len : 100), line, why);
}

static void test_build_errors(void **state)
{
  (void)state;
  const char *l;
  l =
    "{\"errorDetail\":{\"code\":1,\"message\":\"The command '/bin/sh -c false' returned a non-zero code: 1\\n\"},"
    "\"error\":\"The command '/bin/sh -c false' returned a non-zero code: 1\"}";
  expect_build_error(l, strlen(l), EIO, "The command '/bin/sh -c false' returned a non-zero code: 1");
  l = "{\"error\":\"only error\\r\\n\\n\"}";
  expect_build_error(l, strlen(l), EIO, "only error");
  l = "{\"error\":\"e\",\"errorDetail\":{}}";
  expect_build_error(l, strlen(l), EIO, "e");
  l = "garbage";
  expect_build_error(l, strlen(l), EPROTO, "build: unexpected output from the engine: garbage");
  l = "[1,2]";
  expect_build_error(l, strlen(l), EPROTO, "build: unexpected output from the engine: [1,2]");
  l = "";
  expect_build_error(l, 0, EPROTO, "build: unexpected output from the engine: ");
  /* long garbage is cut in the message */
  char longl[300];
  memset(longl, 'z', sizeof(longl) - 1);
  longl[sizeof(longl) - 1] = '\0';
  struct adr_build_event ev;
  char *owned;
  adr_err err = NULL;
  assert_true(adr_docker_parse_build_line(longl, strlen(longl), &ev, &owned, &err) < 0);
  assert_true(strlen(err->msg) < 200);
  adr_err_free(&err);
}

/* The line is (pointer, length): bytes after len are not part of it and
 * must not show up in the message (nor be read: the caller's buffer need
 * not be NUL-terminated). */
static void test_build_error_honours_len(void **state)
{
  (void)state;
  const char buf[] = "garbageNEXT-LINE-DATA";
  expect_build_error(buf, 7, EPROTO, "build: unexpected output from the engine: garbage");
}

/* -------------------------------------------------------- misc helpers */

static void test_api_version_cmp(void **state)
{
  (void)state;
  assert_int_equal(adr_api_version_cmp("1.41", "1.41"), 0);
  assert_true(adr_api_version_cmp("1.40", "1.41") < 0);
  assert_true(adr_api_version_cmp("1.41", "1.40") > 0);
  assert_true(adr_api_version_cmp("1.9", "1.10") < 0); /* numeric, not lexical */
  assert_true(adr_api_version_cmp("1.43", "1.5") > 0);
  assert_true(adr_api_version_cmp("2.0", "1.43") > 0);
  assert_true(adr_api_version_cmp("1.99", "2.0") < 0);
  assert_int_equal(adr_api_version_cmp("1.41", "1.41.0"), 0);
  assert_int_equal(adr_api_version_cmp("1", "1.0"), 0);
}

static void test_labels_get(void **state)
{
  (void)state;
  cleanup_strv struct strv l = { 0 };
  strv_push(&l, "ab=2");
  strv_push(&l, "a=1");
  strv_push(&l, "a.b=3");
  strv_push(&l, "empty=");
  strv_push(&l, "eq=x=y");
  strv_push(&l, "novalue");
  assert_string_equal(adr_labels_get(&l, "a"), "1");
  assert_string_equal(adr_labels_get(&l, "ab"), "2");
  assert_string_equal(adr_labels_get(&l, "a.b"), "3");
  assert_string_equal(adr_labels_get(&l, "empty"), "");
  assert_string_equal(adr_labels_get(&l, "eq"), "x=y");
  assert_null(adr_labels_get(&l, "b"));
  assert_null(adr_labels_get(&l, "novalue"));
  assert_null(adr_labels_get(&l, "novalu"));
  assert_null(adr_labels_get(&l, ""));
  struct strv none = { 0 };
  assert_null(adr_labels_get(&none, "a"));
}

/* Errors carry errno values only, never an HTTP status. */
static void test_docker_errno(void **state)
{
  (void)state;
  static const struct {
    long status;
    int errnum;
  } t[] = {
    { 200, 0 },      { 201, 0 },      { 204, 0 },     { 304, 0 }, /* 304: already started/stopped */
    { 400, EINVAL }, { 401, EACCES }, { 403, EPERM }, { 404, ENOENT },  { 406, EINVAL }, { 409, EEXIST },
    { 413, EFBIG },  { 418, EINVAL }, { 500, EIO },   { 501, ENOTSUP }, { 502, EIO },    { 503, EAGAIN },
  };
  for (size_t i = 0; i < ARRAY_SIZE(t); i++)
    if (adr_docker_errno(t[i].status) != t[i].errnum)
      fail_msg("HTTP %ld: errno %d, want %d", t[i].status, adr_docker_errno(t[i].status), t[i].errnum);
  /* no status ever leaks through as an errno value */
  for (long st = 100; st < 600; st++) {
    int e = adr_docker_errno(st);
    assert_true(e == 0 || (e != st && e < 200));
  }
}

/* The fields the egress gateway and allowlist sandboxes need. */
static void test_create_body_network(void **state)
{
  (void)state;
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  s.image = xstrdup("img");
  adr_spec_set_net(&s, ADR_SPEC_NET_ATTACH, "adr-x-net", "10.213.0.2");
  strv_push(&s.dns, "10.213.0.2");
  strv_push(&s.entrypoint, "/usr/local/libexec/adr-gateway");
  strv_push(&s.sysctls, "net.ipv4.ip_unprivileged_port_start=0");
  s.restart = ADR_RESTART_UNLESS_STOPPED;
  char *body = adr_docker_create_body(&s);
  json_t *j = json_loads(body, 0, NULL);
  free(body);
  assert_non_null(j);
  json_t *h = json_object_get(j, "HostConfig");
  assert_string_equal(json_string_value(json_object_get(h, "NetworkMode")), "adr-x-net");
  assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Dns"), 0)), "10.213.0.2");
  assert_string_equal(
    json_string_value(json_object_get(json_object_get(h, "Sysctls"), "net.ipv4.ip_unprivileged_port_start")), "0");
  assert_string_equal(json_string_value(json_object_get(json_object_get(h, "RestartPolicy"), "Name")),
                      "unless-stopped");
  assert_string_equal(json_string_value(json_array_get(json_object_get(j, "Entrypoint"), 0)),
                      "/usr/local/libexec/adr-gateway");
  json_t *ep = json_object_get(json_object_get(json_object_get(j, "NetworkingConfig"), "EndpointsConfig"), "adr-x-net");
  assert_string_equal(json_string_value(json_object_get(json_object_get(ep, "IPAMConfig"), "IPv4Address")),
                      "10.213.0.2");
  json_decref(j);
  /* without them: none of the keys */
  cleanup_spec struct adr_spec m;
  adr_spec_init(&m);
  m.image = xstrdup("img");
  body = adr_docker_create_body(&m);
  j = json_loads(body, 0, NULL);
  free(body);
  h = json_object_get(j, "HostConfig");
  assert_null(json_object_get(h, "Dns"));
  assert_null(json_object_get(h, "Sysctls"));
  assert_null(json_object_get(h, "RestartPolicy"));
  assert_null(json_object_get(j, "Entrypoint"));
  assert_null(json_object_get(j, "NetworkingConfig"));
  json_decref(j);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_create_body_minimal),
    cmocka_unit_test(test_create_body_network),
    cmocka_unit_test(test_create_body_full),
    cmocka_unit_test(test_create_body_gpus),
    cmocka_unit_test(test_create_body_hardening),
    cmocka_unit_test(test_create_body_hardening_off),
    cmocka_unit_test(test_create_body_never_drops),
    cmocka_unit_test(test_spec_labels),
    cmocka_unit_test(test_parse_images),
    cmocka_unit_test(test_parse_images_edge),
    cmocka_unit_test(test_build_lines),
    cmocka_unit_test(test_build_errors),
    cmocka_unit_test(test_build_error_honours_len),
    cmocka_unit_test(test_api_version_cmp),
    cmocka_unit_test(test_labels_get),
    cmocka_unit_test(test_docker_errno),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
