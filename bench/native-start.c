/* Benchmark (issue 17): start-to-exit of a no-op in the native engine's
 * sandbox (src/engine/native/sandbox.h: every namespace, the overlayfs of
 * the image's layers, adr's hardening and seccomp policy) against
 * `docker run --rm --network none IMAGE true` with the same kind of
 * hardening, paired in one run (alternating, N each, after one warm-up of
 * each).  The image is exported by the engine into a store of its own
 * first (not timed).  Prints a markdown snippet for docs/benchmarks.md.
 *
 * Usage: build/tests/native-bench [N] [IMAGE]   (bench/native.sh) */
#include "builtin.h"
#include "engine.h"
#include "spec.h"
#include "sandbox.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double rank(double *v, int n, double q)
{
  qsort(v, (size_t)n, sizeof(*v), cmp);
  int i = (int)(q * n + 0.999999) - 1;
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static double docker_run(const char *image)
{
  const char *argv[] = { "docker",
                         "run",
                         "--rm",
                         "--network",
                         "none",
                         "--cap-drop",
                         "ALL",
                         "--security-opt",
                         "no-new-privileges",
                         "--read-only",
                         "--user",
                         "1000:1000",
                         image,
                         "true",
                         NULL };
  double t0 = now_ms();
  pid_t pid;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (posix_spawnp(&pid, "docker", &fa, NULL, (char *const *)argv, environ) != 0)
    exit(2);
  int st;
  waitpid(pid, &st, 0);
  posix_spawn_file_actions_destroy(&fa);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    exit(3);
  return now_ms() - t0;
}

/* The same no-op through the engine interface on the native engine: what
 * adr run does (create, attach and start, wait, remove), supervisor and
 * all. */
static int engine_run(struct adr_engine *ne, const char *image, adr_err *err)
{
  static unsigned seq;
  struct adr_spec s;
  adr_spec_init(&s);
  s.name = xasprintf("adr-bench-%d-%u", (int)getpid(), ++seq);
  s.image = xstrdup(image);
  strv_push(&s.cmd, "true");
  s.user = xstrdup("1000:1000");
  adr_spec_set_net(&s, ADR_SPEC_NET_NONE, NULL, NULL);
  s.memory = 256ll << 20;
  s.pids = 128;
  adr_spec_add_tmpfs(&s, "/tmp", 16u << 20, 01777, -1, -1);
  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  adr_spec_set_seccomp(&s, ADR_SECCOMP_ADR, (const char *)sc->data);
  cleanup_free char *id = NULL;
  int code = -1, r = adr_engine_container_create(ne, &s, &id, err);
  adr_spec_free(&s);
  if (r < 0 || adr_engine_container_start(ne, id, err) < 0 || adr_engine_container_wait(ne, id, &code, err) < 0)
    return -1;
  if (adr_engine_container_remove(ne, id, true, err) < 0)
    return -1;
  return code == 0 ? 0 : adr_err_set(err, EIO, "the no-op exited %d", code);
}

int main(int argc, char **argv)
{
  int n = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 20;
  if (n < 1)
    n = 20;
  const char *image = argc > 2 ? argv[2] : "debian:bookworm-slim";
  adr_err err = NULL;
  struct adr_engine *e = NULL;
  cleanup_free char *ep = adr_engine_endpoint(&err);
  char dir[] = "/tmp/adr-native-bench.XXXXXX";
  if (!ep || adr_engine_open(&e, ep, &err) < 0 || !mkdtemp(dir)) {
    fprintf(stderr, "native-bench: no engine\n");
    return 1;
  }
  cleanup_free char *tar = xasprintf("%s/image.tar", dir), *root = xasprintf("%s/store", dir);
  int fd = open(tar, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  struct adr_nstore s;
  struct adr_nimage im;
  if (fd < 0 || adr_engine_image_save(e, image, fd, &err) < 0 || lseek(fd, 0, SEEK_SET) != 0 ||
      adr_nstore_open(&s, root, &err) < 0 || adr_nstore_import(&s, fd, NULL, &err) < 0 ||
      adr_nstore_image(&s, image, &im, &err) != 0) {
    fprintf(stderr, "native-bench: %s: %s\n", image, err ? err->msg : "not imported");
    return 1;
  }
  close(fd);
  unlink(tar);
  struct strv layers = { 0 }, av = { 0 }, env = { 0 }, tmpfs = { 0 };
  for (size_t i = 0; i < im.layers.n; i++)
    strv_push_take(&layers, adr_nstore_layer_dir(&s, im.layers.v[i]));
  strv_push(&av, "true");
  strv_push(&env, "PATH=/usr/local/bin:/usr/bin:/bin");
  strv_push(&tmpfs, "/tmp");
  cleanup_free char *rd = xasprintf("%s/run", dir);
  mkdir(rd, 0700);
  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  cleanup_free char *cache = xasprintf("%s/cache", dir);
  mkdir(cache, 0700);
  struct adr_native_box b = { .layers = &layers,
                              .argv = &av,
                              .env = &env,
                              .uid = 1000,
                              .gid = 1000,
                              .seccomp = (const char *)sc->data,
                              .tmpfs = &tmpfs,
                              .run_dir = rd,
                              .cache_dir = cache };
  cleanup_free char *nroot = xasprintf("%s/engine", dir);
  struct adr_engine *ne = NULL;
  if (adr_engine_open_as(&ne, "native", nroot, &err) < 0) {
    fprintf(stderr, "native-bench: %s\n", err->msg);
    return 1;
  }
  double *nat = calloc((size_t)n, sizeof(double)), *dock = calloc((size_t)n, sizeof(double)),
         *eng = calloc((size_t)n, sizeof(double));
  for (int i = -1; i < n; i++) { /* -1: the warm-up of each (and the engine's import of the image) */
    double t0 = now_ms();
    int st = -1;
    if (adr_native_run(&b, &st, &err) < 0 || st != 0) {
      fprintf(stderr, "native-bench: %s\n", err ? err->msg : "the no-op failed");
      return 1;
    }
    double tn = now_ms() - t0;
    t0 = now_ms();
    if (engine_run(ne, image, &err) < 0) {
      fprintf(stderr, "native-bench: engine: %s\n", err ? err->msg : "?");
      return 1;
    }
    double te = now_ms() - t0, td = docker_run(image);
    if (i >= 0) {
      nat[i] = tn;
      eng[i] = te;
      dock[i] = td;
    }
  }
  adr_engine_close(ne);
  double nm = rank(nat, n, 0.5), np = rank(nat, n, 0.9), dm = rank(dock, n, 0.5), dp = rank(dock, n, 0.9),
         em = rank(eng, n, 0.5), ep90 = rank(eng, n, 0.9);
  printf("| what (%d runs each, alternating) | median | p90 |\n|---|---|---|\n", n);
  printf(
    "| native sandbox, `true` (namespaces, overlayfs of %zu layer(s), seccomp, no capabilities) | %.1f ms | %.1f ms "
    "|\n",
    im.layers.n, nm, np);
  printf(
    "| native engine through the engine interface: create, start (its supervisor), wait, remove | %.1f ms | "
    "%.1f ms |\n",
    em, ep90);
  printf("| `docker run --rm --network none --cap-drop ALL --read-only ... true` | %.1f ms | %.1f ms |\n", dm, dp);
  printf("| **ratio native sandbox / docker** | **%.3f** | **%.3f** |\n", nm / dm, np / dp);
  printf("| **ratio native engine / docker** | **%.3f** | **%.3f** |\n", em / dm, ep90 / dp);
  adr_nimage_free(&im);
  adr_nstore_close(&s);
  adr_engine_close(e);
  cleanup_free char *cmd = xasprintf("rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}
