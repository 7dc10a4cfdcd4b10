/* The native engine's sandbox (src/engine/native/sandbox.h) on a real
 * image: the conformance image (ADR_CONFORMANCE_IMAGE, default
 * debian:bookworm-slim), exported by the engine into a store of its own.
 * Each hardening item is observed from inside, with a control where one
 * can be had: a workspace file written inside is the caller's outside; the
 * root is read-only while /tmp and the workspace are not; no capability,
 * none in the bounding set, no-new-privileges, the seccomp filter (what it
 * refuses, unshare, works without it); its own pid and network namespaces;
 * /proc's masked paths; a set-up failure (no such program) named. */
#include "buf.h"
#include "builtin.h"
#include "engine.h"
#include "sandbox.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

static char DIR_[64];
static struct adr_nstore S;
static struct adr_nimage IM;
static struct strv LAYERS;
static unsigned SEQ;

static int group_setup(void **state)
{
  (void)state;
  adr_err err = NULL;
  struct adr_engine *e = NULL;
  cleanup_free char *ep = adr_engine_endpoint(&err);
  if (!ep || adr_engine_open(&e, ep, &err) < 0) {
    fprintf(stderr, "native-run: no engine: %s\n", err ? err->msg : "?");
    return -1;
  }
  const char *image = getenv("ADR_CONFORMANCE_IMAGE");
  if (!image || !*image)
    image = "debian:bookworm-slim";
  snprintf(DIR_, sizeof(DIR_), "/tmp/adr-native-run.XXXXXX");
  if (!mkdtemp(DIR_))
    return -1;
  cleanup_free char *tar = xasprintf("%s/image.tar", DIR_), *root = xasprintf("%s/store", DIR_);
  int fd = open(tar, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || adr_engine_image_save(e, image, fd, &err) < 0 || lseek(fd, 0, SEEK_SET) != 0 ||
      adr_nstore_open(&S, root, &err) < 0 || adr_nstore_import(&S, fd, NULL, &err) < 0 ||
      adr_nstore_image(&S, image, &IM, &err) != 0) {
    fprintf(stderr, "native-run: %s: %s\n", image, err ? err->msg : "not imported");
    return -1;
  }
  close(fd);
  unlink(tar);
  adr_engine_close(e);
  for (size_t i = 0; i < IM.layers.n; i++)
    strv_push_take(&LAYERS, adr_nstore_layer_dir(&S, IM.layers.v[i]));
  return 0;
}

static int group_teardown(void **state)
{
  (void)state;
  adr_nimage_free(&IM);
  strv_free(&LAYERS);
  adr_nstore_close(&S);
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", DIR_);
  return system(cmd) == 0 ? 0 : -1;
}

/* sh -c SCRIPT in a sandbox (script "!PROG": PROG itself): its exit
 * status, its stdout in *out */
static struct adr_ncgroup_limits LIMITS; /* for the next run */
static struct strv WARNINGS;
static bool NO_LANDLOCK; /* for the next run: the control */

static int run(const char *script, bool seccomp, const char *ws, char **out, adr_err *err)
{
  cleanup_free char *rd = xasprintf("%s/run-%u", DIR_, ++SEQ), *of = xasprintf("%s/out-%u", DIR_, SEQ);
  mkdir(rd, 0700);
  struct strv argv = { 0 }, env = { 0 }, tmpfs = { 0 };
  if (script[0] == '!') {
    strv_push(&argv, script + 1);
  } else {
    strv_push(&argv, "sh");
    strv_push(&argv, "-c");
    strv_push(&argv, script);
  }
  strv_push(&env, "PATH=/usr/local/bin:/usr/bin:/bin");
  strv_push(&env, "HOME=/tmp");
  strv_push(&tmpfs, "/tmp");
  struct adr_native_bind bind = { .src = ws, .dst = "/workspace", .ro = false };
  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  struct adr_native_box b = {
    .layers = &LAYERS,
    .argv = &argv,
    .env = &env,
    .workdir = "/",
    .uid = 1000,
    .gid = 1000,
    .hostname = "native-test",
    .seccomp = seccomp ? (const char *)sc->data : NULL,
    .binds = ws ? &bind : NULL,
    .n_binds = ws ? 1 : 0,
    .tmpfs = &tmpfs,
    .run_dir = rd,
    .cache_dir = DIR_, /* the compiled policy: the first run compiles, the others load it */
    .limits = LIMITS,
    .warnings = &WARNINGS,
    .no_landlock = NO_LANDLOCK,
  };
  fflush(stdout);
  int saved = dup(1), fd = open(of, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  dup2(fd, 1);
  close(fd);
  int status = -1;
  int r = adr_native_run(&b, &status, err);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  struct buf o;
  buf_init(&o, 1 << 20);
  buf_read_file(&o, of);
  *out = o.data ? buf_steal(&o) : xstrdup("");
  buf_free(&o);
  strv_free(&argv);
  strv_free(&env);
  strv_free(&tmpfs);
  return r < 0 ? -1 : status;
}

static void test_identity_and_namespaces(void **state)
{
  (void)state;
  adr_err err = NULL;
  cleanup_free char *ws = xasprintf("%s/ws", DIR_);
  mkdir(ws, 0755);
  char *out = NULL;
  /* a descriptor of the caller's opened without close-on-exec must not
   * reach the sandbox (the control: it is open here) */
  int leak = open("/dev/null", O_RDONLY);
  assert_true(leak > 2 && fcntl(leak, F_GETFD) == 0);
  int st = run(
    "id -u; id -g; echo pid=$$; hostname; grep -c . /proc/net/dev; echo hi >/workspace/made;"
    "echo fds=$(ls /proc/self/fd | wc -l); echo core=$(ulimit -c)",
    true, ws, &out, &err);
  close(leak);
  if (st != 0)
    fail_msg("status %d: %s %s", st, err ? err->msg : "", out);
  print_message("%s", out);
  assert_non_null(strstr(out, "1000\n1000\npid=2\nnative-test\n3\n")); /* net/dev: 2 header lines and lo */
  assert_non_null(strstr(out, "fds=4\n"));                             /* 0, 1, 2 and ls's own */
  assert_non_null(strstr(out, "core=0\n"));
  cleanup_free char *made = xasprintf("%s/made", ws);
  struct stat sb;
  assert_int_equal(stat(made, &sb), 0);
  assert_int_equal(sb.st_uid, getuid()); /* the caller's outside */
  free(out);
}

static void test_hardening(void **state)
{
  (void)state;
  adr_err err = NULL;
  char *out = NULL;
  const char *probe =
    "grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status;"
    "touch /root-write 2>/dev/null && echo root=rw || echo root=ro;"
    "touch /tmp/x && echo tmp=rw;"
    "touch /dev/x 2>/dev/null && echo dev=rw || echo dev=ro;"
    "touch /dev/shm/x && echo shm=rw; echo x >/dev/null && echo null=rw;"
    "echo masked=$(cat /proc/timer_list | wc -c);"
    "unshare -U true 2>/dev/null && echo unshare=ok || echo unshare=refused";
  assert_int_equal(run(probe, true, NULL, &out, &err), 0);
  print_message("%s", out);
  assert_non_null(strstr(out, "CapPrm:\t0000000000000000"));
  assert_non_null(strstr(out, "CapEff:\t0000000000000000"));
  assert_non_null(strstr(out, "CapBnd:\t0000000000000000"));
  assert_non_null(strstr(out, "NoNewPrivs:\t1"));
  assert_non_null(strstr(out, "Seccomp:\t2"));
  assert_non_null(strstr(out, "root=ro"));
  assert_non_null(strstr(out, "tmp=rw"));
  assert_non_null(strstr(out, "dev=ro"));
  assert_non_null(strstr(out, "shm=rw")); /* the controls: what must stay writable is */
  assert_non_null(strstr(out, "null=rw"));
  assert_non_null(strstr(out, "masked=0\n")); /* /proc/timer_list: /dev/null */
  assert_non_null(strstr(out, "unshare=refused"));
  free(out);
  /* the controls: the same probes see the difference */
  assert_int_equal(run(probe, false, NULL, &out, &err), 0);
  assert_non_null(strstr(out, "Seccomp:\t0"));
  assert_non_null(strstr(out, "unshare=ok"));
  struct buf tl;
  buf_init(&tl, 1 << 20);
  assert_int_equal(buf_read_file(&tl, "/proc/timer_list"), 0);
  assert_true(tl.len > 0); /* on the host it has content */
  buf_free(&tl);
  free(out);
  out = NULL;
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  bool host_caps = false;
  while (f && fgets(line, sizeof(line), f))
    host_caps = host_caps || (str_has_prefix(line, "CapBnd:") && !strstr(line, "0000000000000000"));
  if (f)
    fclose(f);
  assert_true(host_caps); /* the probe's pattern matches a bounding set that is not empty */
}

static void test_setup_failure_named(void **state)
{
  (void)state;
  adr_err err = NULL;
  char *out = NULL;
  assert_int_equal(run("!/nonexistent-program", true, NULL, &out, &err), -1);
  assert_non_null(strstr(err->msg, "native sandbox: run '/nonexistent-program': No such file or directory"));
  adr_err_free(&err);
  free(out);
  /* the control: a program that is there runs */
  assert_int_equal(run("!true", true, NULL, &out, &err), 0);
  free(out);
}

/* memory and pids limits (a cgroup per sandbox), each with its control:
 * the same program without the limit */
/* Landlock, where the kernel has it: writes only beneath the writable
 * mounts and /dev's devices; /proc is writable by mount (a process's own
 * comm, attr, oom_score_adj) but not to the sandbox (the control: without
 * Landlock it is).  A kernel without Landlock must say so by its ABI. */
static void test_landlock(void **state)
{
  (void)state;
  long abi = syscall(444, NULL, 0, 1U);
  if (abi < 1) /* the engine runs without it (the other layers alone), but this test cannot */
    fail_msg("no Landlock in this kernel (%s): this test needs it", strerror(errno));
  adr_err err = NULL;
  cleanup_free char *ws = xasprintf("%s/ws-ll", DIR_);
  mkdir(ws, 0755);
  const char *probe =
    "echo probe >/proc/self/comm 2>/dev/null && echo proc=rw || echo proc=ro;"
    "echo x >/workspace/ll && echo ws=rw; echo x >/tmp/ll && echo tmp=rw;"
    "echo x >/dev/null && echo null=rw; mkfifo /tmp/f && echo fifo=ok";
  char *out = NULL;
  assert_int_equal(run(probe, true, ws, &out, &err), 0);
  print_message("%s", out);
  assert_non_null(strstr(out, "proc=ro"));
  assert_non_null(strstr(out, "ws=rw"));
  assert_non_null(strstr(out, "tmp=rw"));
  assert_non_null(strstr(out, "null=rw"));
  assert_non_null(strstr(out, "fifo=ok"));
  free(out);
  NO_LANDLOCK = true;
  assert_int_equal(run(probe, true, ws, &out, &err), 0);
  NO_LANDLOCK = false;
  assert_non_null(strstr(out, "proc=rw"));
  free(out);
}

static void test_limits(void **state)
{
  (void)state;
  adr_err err = NULL;
  char *out = NULL;
  const char *hog = "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x}";
  LIMITS = (struct adr_ncgroup_limits){ .memory = 32ll << 20 };
  strv_free(&WARNINGS);
  int st = run(hog, true, NULL, &out, &err);
  if (WARNINGS.n)
    fail_msg("limits not applied: %s", WARNINGS.v[0]);
  print_message("memory limit: status %d, %s", st, out);
  assert_null(strstr(out, "survived"));
  assert_int_not_equal(st, 0);
  free(out);
  LIMITS = (struct adr_ncgroup_limits){ 0 };
  st = run(hog, true, NULL, &out, &err);
  print_message("no limit: status %d, %s", st, out);
  assert_int_equal(st, 0);
  assert_non_null(strstr(out, "survived 100000000"));
  free(out);
  /* 30 background processes: with pids.max 10 the shell cannot fork them
   * all (dash gives up at the first fork that fails) */
  const char *forks = "i=0; while [ $i -lt 30 ]; do sleep 2 & i=$((i+1)); done; echo forked=$i";
  LIMITS = (struct adr_ncgroup_limits){ .pids = 10 };
  st = run(forks, true, NULL, &out, &err);
  print_message("pids limit: status %d, %s", st, out);
  assert_int_not_equal(st, 0);
  assert_null(strstr(out, "forked=30"));
  free(out);
  LIMITS = (struct adr_ncgroup_limits){ 0 };
  assert_int_equal(run(forks, true, NULL, &out, &err), 0);
  assert_non_null(strstr(out, "forked=30"));
  free(out);
  strv_free(&WARNINGS);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_identity_and_namespaces),
    cmocka_unit_test(test_hardening),
    cmocka_unit_test(test_setup_failure_named),
    cmocka_unit_test(test_landlock),
    cmocka_unit_test(test_limits),
  };
  return cmocka_run_group_tests_name("native sandbox", tests, group_setup, group_teardown);
}
