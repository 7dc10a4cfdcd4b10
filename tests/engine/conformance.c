/* The engine conformance suite: what any adr engine must do, driven through
 * the engine interface (src/engine/engine.h) against a real engine: the
 * one ADR_ENGINE / DOCKER_HOST select, as adr itself would pick it.
 *
 *   build/tests/engine-conformance          (scripts/test.sh: layer "engine")
 *
 * ADR_CONFORMANCE_IMAGE names the image (default debian:bookworm-slim: it
 * needs only sh, cat, grep).  Every sandbox carries the label
 * dev.adr.conformance=PID and is removed by the test that made it, and once
 * more at the end.  Each hardening item is observed from inside the sandbox
 * and has a control: the same probe in a sandbox with the item turned off
 * must see the difference, so a probe that cannot see anything fails. */
#include "builtin.h"
#include "engine.h"
#include "spec.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct adr_engine *E;
static const char *IMAGE;
static char LABEL[64]; /* dev.adr.conformance=PID */
static unsigned SEQ;

#define CONF_LABEL_KEY "dev.adr.conformance"

static void fail_err(const char *what, adr_err *err) { fail_msg("%s: %s", what, *err ? (*err)->msg : "(no message)"); }

/* A sandbox spec with the hardening adr applies to agents (what
 * adr_spec_init gives, plus the tmpfs and limits adr run sets), running
 * `sh -c SCRIPT`. */
static void base_spec(struct adr_spec *s, const char *script)
{
  adr_spec_init(s);
  s->name = xasprintf("adr-conformance-%d-%u", (int)getpid(), ++SEQ);
  s->image = xstrdup(IMAGE);
  strv_push(&s->cmd, "sh");
  strv_push(&s->cmd, "-c");
  strv_push(&s->cmd, script);
  s->user = xstrdup("1000:1000");
  s->workdir = xstrdup("/");
  adr_spec_set_net(s, ADR_SPEC_NET_NONE, NULL, NULL);
  s->memory = 256ll << 20;
  s->nano_cpus = 1000000000ll;
  s->pids = 128;
  adr_spec_add_tmpfs(s, "/tmp", 16u << 20, 01777, -1, -1);
  strv_push(&s->labels, LABEL);
  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  assert_non_null(sc);
  adr_spec_set_seccomp(s, ADR_SECCOMP_ADR, (const char *)sc->data);
}

/* Creates the sandbox, attaches (before start, so nothing is lost), starts
 * it, waits: *out holds stdout, *errout stderr (both NUL-terminated). */
struct collect {
  const char *id;
};

static int start_cb(void *ud, adr_err *err)
{
  struct collect *c = ud;
  return adr_engine_container_start(E, c->id, err);
}

static char *slurp_fd(int fd)
{
  struct strv parts = { 0 };
  size_t total = 0;
  char buf[4096];
  ssize_t n;
  lseek(fd, 0, SEEK_SET);
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    strv_push_take(&parts, xstrndup(buf, (size_t)n));
    total += (size_t)n;
  }
  char *out = xmalloc(total + 1), *o = out;
  for (size_t i = 0; i < parts.n; i++) {
    size_t l = strlen(parts.v[i]);
    memcpy(o, parts.v[i], l);
    o += l;
  }
  *o = '\0';
  strv_free(&parts);
  return out;
}

static int tmpfile_fd(void)
{
  char path[] = "/tmp/adr-conformance-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  return fd;
}

/* Runs a spec to its end; returns the exit code. */
static int run_spec(struct adr_spec *s, char **out, char **errout)
{
  adr_err err = NULL;
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(E, s, &id, &err) < 0)
    fail_err("create", &err);
  int ofd = tmpfile_fd(), efd = tmpfile_fd();
  struct collect c = { .id = id };
  struct adr_attach at = {
    .in_fd = -1, .out_fd = ofd, .err_fd = efd, .tty = false, .on_ready = start_cb, .wake_fd = -1, .ud = &c
  };
  if (adr_engine_container_attach(E, id, &at, &err) < 0)
    fail_err("attach", &err);
  int code = -1;
  if (adr_engine_container_wait(E, id, &code, &err) < 0)
    fail_err("wait", &err);
  if (out)
    *out = slurp_fd(ofd);
  if (errout)
    *errout = slurp_fd(efd);
  close(ofd);
  close(efd);
  if (adr_engine_container_remove(E, id, true, &err) < 0)
    fail_err("remove", &err);
  return code;
}

/* The value of "KEY: value" / "KEY value" lines in probe output. */
static char *field(const char *text, const char *key)
{
  size_t kl = strlen(key);
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len > kl && strncmp(p, key, kl) == 0 && (p[kl] == ':' || p[kl] == ' ' || p[kl] == '=')) {
      const char *v = p + kl + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      return xstrndup(v, len - (size_t)(v - p));
    }
    p = nl ? nl + 1 : NULL;
  }
  return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static void test_ping_version(void **state)
{
  (void)state;
  adr_err err = NULL;
  if (adr_engine_ping(E, &err) < 0)
    fail_err("ping", &err);
  cleanup_free char *v = NULL, *api = NULL;
  if (adr_engine_version(E, &v, &api, &err) < 0)
    fail_err("version", &err);
  assert_non_null(v);
  assert_true(*v);
}

static void test_run_streams_exit(void **state)
{
  (void)state;
  struct adr_spec s;
  base_spec(&s, "echo to-stdout; echo to-stderr >&2; exit 7");
  cleanup_free char *out = NULL, *errout = NULL;
  int code = run_spec(&s, &out, &errout);
  adr_spec_free(&s);
  assert_int_equal(code, 7);
  assert_string_equal(out, "to-stdout\n");
  assert_string_equal(errout, "to-stderr\n");
}

static void test_env_user_workdir(void **state)
{
  (void)state;
  struct adr_spec s;
  base_spec(&s, "echo \"$GREETING\"; id -u; id -g; pwd");
  strv_push(&s.env, "GREETING=hello world");
  free(s.workdir);
  s.workdir = xstrdup("/tmp");
  cleanup_free char *out = NULL;
  assert_int_equal(run_spec(&s, &out, NULL), 0);
  adr_spec_free(&s);
  assert_string_equal(out, "hello world\n1000\n1000\n/tmp\n");
}

static void test_exec_logs_kill_labels(void **state)
{
  (void)state;
  adr_err err = NULL;
  struct adr_spec s;
  base_spec(&s, "echo started; exec sleep 60");
  cleanup_free char *id = NULL;
  if (adr_engine_container_create(E, &s, &id, &err) < 0)
    fail_err("create", &err);
  if (adr_engine_container_start(E, id, &err) < 0)
    fail_err("start", &err);

  /* state and labels, by inspect and by a label filter */
  struct adr_container c;
  assert_int_equal(adr_engine_container_inspect(E, s.name, &c, &err), 0);
  assert_string_equal(c.state, "running");
  cleanup_free char *want = xstrdup(strchr(LABEL, '=') + 1);
  assert_non_null(adr_labels_get(&c.labels, CONF_LABEL_KEY));
  assert_string_equal(adr_labels_get(&c.labels, CONF_LABEL_KEY), want);
  adr_container_free(&c);
  struct strv f = { 0 };
  strv_push(&f, LABEL);
  struct adr_container *v = NULL;
  size_t n = 0;
  if (adr_engine_container_list(E, &f, false, &v, &n, &err) < 0)
    fail_err("list", &err);
  bool found = false;
  for (size_t i = 0; i < n; i++)
    found |= streq(v[i].name, s.name);
  adr_containers_free(v, n);
  assert_true(found);
  /* control: a filter on another value finds nothing of ours */
  strv_free(&f);
  strv_push(&f, CONF_LABEL_KEY "=nobody");
  if (adr_engine_container_list(E, &f, true, &v, &n, &err) < 0)
    fail_err("list", &err);
  adr_containers_free(v, n);
  assert_int_equal(n, 0);
  strv_free(&f);

  /* exec: output and exit status of a command in the running sandbox */
  struct strv cmd = { 0 };
  strv_push(&cmd, "sh");
  strv_push(&cmd, "-c");
  strv_push(&cmd, "echo from-exec; exit 3");
  int ofd = tmpfile_fd();
  struct adr_attach at = { .in_fd = -1, .out_fd = ofd, .err_fd = ofd, .wake_fd = -1 };
  int code = -1;
  if (adr_engine_container_exec(E, id, &cmd, &at, &code, &err) < 0)
    fail_err("exec", &err);
  strv_free(&cmd);
  cleanup_free char *eo = slurp_fd(ofd);
  close(ofd);
  assert_int_equal(code, 3);
  assert_string_equal(eo, "from-exec\n");

  /* logs of what the sandbox printed */
  int lfd = tmpfile_fd();
  if (adr_engine_container_logs(E, id, false, lfd, lfd, &err) < 0)
    fail_err("logs", &err);
  cleanup_free char *lo = slurp_fd(lfd);
  close(lfd);
  assert_string_equal(lo, "started\n");

  /* kill: SIGKILL ends it with 128 + 9 */
  if (adr_engine_container_kill(E, id, SIGKILL, &err) < 0)
    fail_err("kill", &err);
  if (adr_engine_container_wait(E, id, &code, &err) < 0)
    fail_err("wait", &err);
  assert_int_equal(code, 137);
  assert_int_equal(adr_engine_container_inspect(E, id, &c, &err), 0);
  assert_string_equal(c.state, "exited");
  adr_container_free(&c);

  /* removed: gone for inspect, and a second removal says so */
  if (adr_engine_container_remove(E, id, true, &err) < 0)
    fail_err("remove", &err);
  assert_int_equal(adr_engine_container_inspect(E, id, &c, &err), 1);
  adr_err_free(&err);
  adr_spec_free(&s);
}

static void test_stop_and_name_in_use(void **state)
{
  (void)state;
  adr_err err = NULL;
  struct adr_spec s;
  base_spec(&s, "trap 'exit 0' TERM; while :; do sleep 0.1; done");
  cleanup_free char *id = NULL, *id2 = NULL;
  if (adr_engine_container_create(E, &s, &id, &err) < 0)
    fail_err("create", &err);
  /* a second sandbox of the same name is refused, and says so */
  assert_int_equal(adr_engine_container_create(E, &s, &id2, &err), -1);
  assert_non_null(err);
  assert_int_equal(err->errnum == EEXIST || err->errnum == 409, true);
  adr_err_free(&err);
  if (adr_engine_container_start(E, id, &err) < 0)
    fail_err("start", &err);
  /* renamed while it runs: found by the new name only; a taken name is refused */
  cleanup_free char *renamed = xasprintf("%s-renamed", s.name);
  if (adr_engine_container_rename(E, id, renamed, &err) < 0)
    fail_err("rename", &err);
  struct adr_container c = { 0 };
  assert_int_equal(adr_engine_container_inspect(E, renamed, &c, &err), 0);
  assert_string_equal(c.id, id);
  adr_container_free(&c);
  assert_int_equal(adr_engine_container_inspect(E, s.name, &c, &err), 1);
  if (adr_engine_container_create(E, &s, &id2, &err) < 0) /* the old name is free again */
    fail_err("create", &err);
  assert_int_equal(adr_engine_container_rename(E, id, s.name, &err), -1);
  assert_int_equal(err->errnum, EEXIST);
  adr_err_free(&err);
  if (adr_engine_container_remove(E, id2, true, &err) < 0)
    fail_err("remove", &err);
  if (adr_engine_container_stop(E, id, 10, &err) < 0)
    fail_err("stop", &err);
  int code = -1;
  if (adr_engine_container_wait(E, id, &code, &err) < 0)
    fail_err("wait", &err);
  assert_int_equal(code, 0); /* SIGTERM reached the process (through init) */
  if (adr_engine_container_remove(E, id, true, &err) < 0)
    fail_err("remove", &err);
  adr_spec_free(&s);
}

/* ------------------------------------------------------------ hardening */

static const char PROBE[] =
  "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status;"
  "if ( : >/probe-root ) 2>/dev/null; then echo 'root: writable'; else echo 'root: read-only'; fi;"
  "echo \"tmpfs: $(awk '$2 == \"/tmp\" { print $4 }' /proc/mounts)\";"
  /* a private cgroup namespace shows every hierarchy at its root */
  "echo \"cgroup-outside: $(grep -cv ':/$' /proc/self/cgroup)\";"
  /* the limits, cgroup v2 or v1 */
  "c=/sys/fs/cgroup;"
  "cat $c/pids.max $c/pids/pids.max 2>/dev/null | sed 's/^/pids: /';"
  "cat $c/memory.max $c/memory/memory.limit_in_bytes 2>/dev/null | sed 's/^/memory: /';"
  "cat $c/memory.swap.max 2>/dev/null | sed 's/^/swap-v2: /';"
  "cat $c/memory/memory.memsw.limit_in_bytes 2>/dev/null | sed 's/^/memsw-v1: /';"
  "echo \"ipc: $(readlink /proc/self/ns/ipc)\";"
  "echo \"devices: $(ls /dev | tr '\\n' ' ')\";"
  /* AF_VSOCK: reaches the kernel under an engine's default profile
                             * (ENODEV here), refused by adr's policy (EPERM) */
  "perl -e 'use Socket; socket(my $s, 40, 2, 0) and print \"vsock: allowed\\n\""
  " or print \"vsock: $!\\n\"'";

static char *probe(struct adr_spec *s)
{
  char *out = NULL;
  cleanup_free char *errout = NULL;
  int code = run_spec(s, &out, &errout);
  if (code != 0)
    fail_msg("probe exited %d: %s%s", code, out, errout);
  return out;
}

static void test_hardening_observed(void **state)
{
  (void)state;
  struct adr_spec s;
  base_spec(&s, PROBE);
  cleanup_free char *out = probe(&s);
  adr_spec_free(&s);
  cleanup_free char *capeff = field(out, "CapEff"), *capbnd = field(out, "CapBnd"), *nnp = field(out, "NoNewPrivs"),
                    *sec = field(out, "Seccomp"), *root = field(out, "root"), *tmpfs = field(out, "tmpfs"),
                    *cg = field(out, "cgroup-outside"), *pids = field(out, "pids"), *mem = field(out, "memory"),
                    *swap2 = field(out, "swap-v2"), *memsw = field(out, "memsw-v1"), *ipc = field(out, "ipc"),
                    *dev = field(out, "devices");
  /* no capabilities, not even in the bounding set */
  assert_string_equal(capeff, "0000000000000000");
  assert_string_equal(capbnd, "0000000000000000");
  assert_string_equal(nnp, "1");
  assert_string_equal(root, "read-only");
  assert_non_null(strstr(tmpfs, "nosuid"));
  assert_non_null(strstr(tmpfs, "nodev"));
  assert_string_equal(cg, "0");
  assert_non_null(pids);
  assert_string_equal(pids, "128");
  assert_non_null(mem);
  assert_string_equal(mem, "268435456");
  /* swap = memory: no swap beyond the memory limit */
  if (swap2)
    assert_string_equal(swap2, "0");
  if (memsw)
    assert_string_equal(memsw, "268435456");
  /* a private IPC namespace: not the host's */
  char host_ipc[128] = "";
  ssize_t l = readlink("/proc/self/ns/ipc", host_ipc, sizeof(host_ipc) - 1);
  assert_true(l > 0);
  host_ipc[l] = '\0';
  assert_string_not_equal(ipc, host_ipc);
  /* a minimal /dev: no disks, no memory devices */
  assert_null(strstr(dev, "mem "));
  assert_null(strstr(dev, "sda"));
  assert_string_equal(sec, "2");
}

static void test_seccomp_policy(void **state)
{
  (void)state;
  /* adr's policy: a filter (mode 2) that refuses what an engine's default
   * lets through (an AF_VSOCK socket) */
  struct adr_spec s;
  base_spec(&s, PROBE);
  cleanup_free char *out = probe(&s);
  adr_spec_free(&s);
  cleanup_free char *sec = field(out, "Seccomp"), *vsock = field(out, "vsock");
  assert_string_equal(sec, "2");
  assert_string_equal(vsock, "Operation not permitted");
  /* control: the engine's own default profile lets the call reach the
   * kernel, so the probe can see the difference.  The native engine's
   * default is adr's policy: there it refuses the call too, and the
   * control is a sandbox with no filter at all. */
  bool native = streq(E->ops->name, "native");
  base_spec(&s, PROBE);
  adr_spec_set_seccomp(&s, ADR_SECCOMP_ENGINE, NULL);
  cleanup_free char *out2 = probe(&s);
  adr_spec_free(&s);
  cleanup_free char *vsock2 = field(out2, "vsock");
  if (native) {
    assert_string_equal(vsock2, "Operation not permitted");
    base_spec(&s, PROBE);
    adr_spec_set_seccomp(&s, ADR_SECCOMP_NONE, NULL);
    cleanup_free char *out3 = probe(&s);
    adr_spec_free(&s);
    cleanup_free char *vsock3 = field(out3, "vsock");
    assert_string_not_equal(vsock3, "Operation not permitted");
  } else {
    assert_string_not_equal(vsock2, "Operation not permitted");
  }
}

/* Controls: each item turned off must be seen from inside, so the probe
 * above can tell a hardened sandbox from one that is not. */
static void test_hardening_controls(void **state)
{
  (void)state;
  struct adr_spec s;
  base_spec(&s, PROBE);
  s.read_only_root = false;
  s.no_new_privileges = false;
  s.drop_all_caps = false;
  s.ipc_private = false;
  s.cgroupns_private = false;
  s.pids = 0;
  adr_spec_set_seccomp(&s, ADR_SECCOMP_NONE, NULL);
  free(s.user);
  s.user = xstrdup("0:0");
  cleanup_free char *out = probe(&s);
  adr_spec_free(&s);
  cleanup_free char *capbnd = field(out, "CapBnd"), *nnp = field(out, "NoNewPrivs"), *root = field(out, "root"),
                    *sec = field(out, "Seccomp"), *cg = field(out, "cgroup-outside"), *pids = field(out, "pids"),
                    *vsock = field(out, "vsock");
  assert_string_not_equal(capbnd, "0000000000000000");
  assert_string_equal(nnp, "0");
  assert_string_equal(root, "writable");
  assert_string_equal(sec, "0");
  assert_string_not_equal(vsock, "Operation not permitted");
  /* the host's cgroup namespace shows the sandbox's real cgroup path */
  assert_string_not_equal(cg, "0");
  assert_non_null(pids);
  assert_string_not_equal(pids, "128");
}

/* ------------------------------------------------------------ egress */

/* A stand-in gateway on the engine's terms: it writes its network
 * namespace (and, given one, its address) into a host directory, serves
 * one line on TCP 8080 (perl, in the image), then says it is ready. */
static void egress_plan(struct adr_egress_plan *p, enum adr_egress_mode mode, const char *sandbox, const char *dir,
                        struct strv *subnets, struct strv *addrs, struct strv *net_labels)
{
  memset(p, 0, sizeof(*p));
  p->mode = mode;
  p->sandbox = sandbox;
  struct adr_spec *g = &p->gateway;
  adr_spec_init(g);
  g->name = xasprintf("%s" ADR_EGRESS_GW_SUFFIX, sandbox);
  g->image = xstrdup(IMAGE);
  g->user = xstrdup("0:0");
  g->pids = 64;
  g->memory = 128ll << 20;
  strv_push(&g->labels, LABEL);
  adr_spec_add_bind(g, dir, "/egress", false);
  strv_push(&g->cmd, "sh");
  strv_push(&g->cmd, "-c");
  strv_push(&g->cmd,
            "readlink /proc/self/ns/net >/egress/netns; echo \"$0\" >/egress/addr;"
            "perl -e 'use IO::Socket::INET; my $s = @ARGV == 2 && $ARGV[0] eq \"--listen-fd\""
            " ? IO::Socket::INET->new_from_fd($ARGV[1], \"r\") : IO::Socket::INET->new(LocalPort => 8080,"
            " Listen => 5, ReuseAddr => 1) or die; open(my $r, \">\", \"/egress/ready\"); close $r;"
            " while (my $c = $s->accept) { print $c \"hello from the gateway\\n\"; close $c }' -- \"$@\"");
  strv_push(&g->cmd, mode == ADR_EGRESS_ALLOWLIST ? ADR_EGRESS_ADDR : "none");
  /* for an engine that makes the listener in the sandbox's namespace */
  static char tcp8080[] = "tcp:8080";
  static char *listen_v[] = { tcp8080, NULL };
  static const struct strv listen = { .v = listen_v, .n = 1 };
  p->listen = &listen;
  p->listen_arg = "--listen-fd";
  p->ready_file = xasprintf("%s/ready", dir);
  p->ready_timeout_ms = 20000;
  if (mode == ADR_EGRESS_ALLOWLIST) {
    /* two candidates from adr's default pool; the engine skips what is taken */
    strv_push(subnets, "10.213.251.0/28");
    strv_push(subnets, "10.213.251.16/28");
    strv_push(addrs, "10.213.251.2");
    strv_push(addrs, "10.213.251.18");
    strv_push(net_labels, LABEL);
    p->subnets = subnets;
    p->addrs = addrs;
    p->net_labels = net_labels;
    p->pool = "10.213.251.0/24";
  }
}

static char *read_small(const char *dir, const char *name)
{
  cleanup_free char *path = xasprintf("%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  char *t = slurp_fd(fd);
  close(fd);
  t[strcspn(t, "\n")] = '\0';
  return t;
}

static void egress_case(enum adr_egress_mode mode)
{
  adr_err err = NULL;
  char dir[] = "/tmp/adr-conformance-egress-XXXXXX";
  assert_non_null(mkdtemp(dir));
  cleanup_free char *sandbox = xasprintf("adr-conformance-%d-%u", (int)getpid(), ++SEQ);
  struct strv subnets = { 0 }, addrs = { 0 }, net_labels = { 0 };
  struct adr_egress_plan p;
  egress_plan(&p, mode, sandbox, dir, &subnets, &addrs, &net_labels);
  struct adr_egress_result res;
  if (adr_engine_egress_up(E, &p, &res, &err) < 0) {
    /* open mode where the engine has no way out to give (native, rootless
     * without a usable /dev/net/tun, or without slirp4netns): a clear
     * error, which this checks on its own before it skips */
    if (mode == ADR_EGRESS_OPEN && !adr_engine_can(E, ADR_ENG_CAP_NETWORKS) &&
        str_has_prefix(err->msg, "network 'open' on the native engine: ")) {
      int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
      bool tun = fd >= 0;
      if (fd >= 0)
        close(fd);
      bool slirp = access("/usr/bin/slirp4netns", X_OK) == 0 || access("/usr/local/bin/slirp4netns", X_OK) == 0;
      if (tun && slirp)
        fail_err("egress_up (open, with /dev/net/tun and slirp4netns)", &err);
      assert_true(strstr(err->msg, tun ? "slirp4netns" : "/dev/net/tun") != NULL);
      printf("conformance: %s\n", err->msg);
      adr_err_free(&err);
      adr_spec_free(&p.gateway);
      free((char *)p.ready_file);
      rmdir(dir);
      skip();
    }
    fail_err("egress_up", &err);
  }
  cleanup_free char *gw_ns = read_small(dir, "netns"), *gw_addr = read_small(dir, "addr");
  assert_non_null(gw_ns);

  /* a sandbox on what the engine made: it reaches the gateway */
  struct adr_spec s;
  const char *probe_net =
    "readlink /proc/self/ns/net;"
    "if awk '$2 == \"00000000\" { f = 1 } END { exit !f }' /proc/net/route; then echo route; else echo no-route; fi;"
    "exec 3<>/dev/tcp/$GW/8080 && head -1 <&3";
  base_spec(&s, "");
  free(s.cmd.v[0]);
  s.cmd.v[0] = xstrdup("bash");
  free(s.cmd.v[2]);
  s.cmd.v[2] = xstrdup(probe_net);
  adr_spec_set_net(&s, res.net.kind, res.net.name, res.net.ipv4);
  strv_pushf(&s.env, "GW=%s", mode == ADR_EGRESS_ALLOWLIST ? res.addr : "127.0.0.1");
  cleanup_free char *out = NULL, *errout = NULL;
  int code = run_spec(&s, &out, &errout);
  adr_spec_free(&s);
  if (code != 0)
    fail_msg("sandbox on the egress network exited %d: %s%s", code, out, errout);
  char *route = strchr(out, '\n');
  assert_non_null(route);
  *route++ = '\0';
  char *l2 = strchr(route, '\n');
  assert_non_null(l2);
  *l2++ = '\0';
  /* open: a way out (a default route); allowlist in a namespace of the
   * engine's (native): none, the gateway only (a Docker network may have
   * one: its bridge has no way out) */
  if (mode == ADR_EGRESS_OPEN)
    assert_string_equal(route, "route");
  else if (res.net.kind == ADR_SPEC_NET_JOIN)
    assert_string_equal(route, "no-route");
  if (mode == ADR_EGRESS_OPEN && adr_engine_can(E, ADR_ENG_CAP_NETWORKS)) {
    /* joined: the same network namespace as the holder */
    assert_string_equal(out, gw_ns);
  } else if (mode == ADR_EGRESS_OPEN) {
    /* joined to a namespace the engine keeps (native), which the gateway
     * (on the host's network) serves through the listener it was given */
    assert_string_not_equal(out, gw_ns);
  } else if (res.net.kind == ADR_SPEC_NET_JOIN) {
    /* joined to a namespace the engine keeps, where the gateway's
     * listener was made (native): not the gateway's (the host's), and the
     * gateway at the loopback address there */
    assert_string_not_equal(out, gw_ns);
    cleanup_free char *mine = xcalloc(1, 64);
    assert_true(readlink("/proc/self/ns/net", mine, 63) > 0);
    assert_string_not_equal(out, mine);
    assert_string_equal(res.addr, "127.0.0.1");
    assert_string_equal(gw_addr, res.addr);
  } else {
    /* attached to a network of its own (isolation itself is what the
     * network probes of tests/integration prove); the gateway at the
     * address the plan gave, in a namespace of its own */
    assert_int_equal(res.net.kind, ADR_SPEC_NET_ATTACH);
    assert_string_not_equal(out, gw_ns);
    assert_non_null(res.addr);
    assert_string_equal(gw_addr, res.addr);
    assert_true(streq(res.addr, "10.213.251.2") || streq(res.addr, "10.213.251.18"));
  }
  assert_string_equal(l2, "hello from the gateway\n");

  /* down: the gateway (and the network) are gone, and a second down is fine */
  if (adr_engine_egress_down(E, sandbox, &err) < 0)
    fail_err("egress_down", &err);
  struct adr_container c;
  assert_int_equal(adr_engine_container_inspect(E, p.gateway.name, &c, &err), 1);
  adr_err_free(&err);
  struct strv f = { 0 };
  strv_push(&f, LABEL);
  struct adr_network *nv = NULL;
  size_t nn = 0;
  if (adr_engine_can(E, ADR_ENG_CAP_NETWORKS) && adr_engine_network_list(E, &f, &nv, &nn, &err) < 0)
    fail_err("network list", &err);
  adr_networks_free(nv, nn);
  strv_free(&f);
  assert_int_equal(nn, 0);
  if (adr_engine_egress_down(E, sandbox, &err) < 0)
    fail_err("second egress_down", &err);

  adr_spec_free(&p.gateway);
  free((char *)p.ready_file);
  free(res.net.name);
  free(res.net.ipv4);
  free(res.addr);
  strv_free(&subnets);
  strv_free(&addrs);
  strv_free(&net_labels);
  const char *files[] = { "netns", "addr", "ready" };
  for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
    cleanup_free char *fp = xasprintf("%s/%s", dir, files[i]);
    unlink(fp);
  }
  rmdir(dir);
}

static void test_egress_allowlist(void **state)
{
  (void)state;
  egress_case(ADR_EGRESS_ALLOWLIST);
}

static void test_egress_open(void **state)
{
  (void)state;
  egress_case(ADR_EGRESS_OPEN);
}

/* ------------------------------------------------------------ unsupported */

static void test_unsupported_op(void **state)
{
  (void)state;
  /* an engine without an operation answers ENOTSUP, never a NULL call */
  static const struct adr_engine_ops none = { .name = "none" };
  struct adr_engine e = { .ops = &none };
  adr_err err = NULL;
  assert_int_equal(adr_engine_ping(&e, &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  assert_non_null(strstr(err->msg, "not supported by the none engine"));
  adr_err_free(&err);
  cleanup_free char *id = NULL;
  struct adr_spec s;
  adr_spec_init(&s);
  assert_int_equal(adr_engine_container_create(&e, &s, &id, &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  adr_err_free(&err);
  adr_spec_free(&s);
}

/* ------------------------------------------------------------ set-up */

static void sweep(void)
{
  adr_err err = NULL;
  struct strv f = { 0 };
  strv_push(&f, LABEL);
  struct adr_container *v = NULL;
  size_t n = 0;
  if (adr_engine_container_list(E, &f, true, &v, &n, &err) == 0)
    for (size_t i = 0; i < n; i++)
      adr_engine_container_remove(E, v[i].id, true, NULL);
  adr_containers_free(v, n);
  struct adr_network *nv = NULL;
  size_t nn = 0;
  if (adr_engine_network_list(E, &f, &nv, &nn, &err) == 0)
    for (size_t i = 0; i < nn; i++)
      adr_engine_network_remove(E, nv[i].id, NULL);
  adr_networks_free(nv, nn);
  adr_err_free(&err);
  strv_free(&f);
}

static int group_setup(void **state)
{
  (void)state;
  adr_err err = NULL;
  cleanup_free char *ep = adr_engine_endpoint(&err);
  if (ep == NULL || adr_engine_open(&E, ep, &err) < 0) {
    fprintf(stderr, "conformance: no engine: %s\n", err ? err->msg : "?");
    adr_err_free(&err);
    return -1;
  }
  IMAGE = getenv("ADR_CONFORMANCE_IMAGE");
  if (IMAGE == NULL || *IMAGE == '\0')
    IMAGE = "debian:bookworm-slim";
  if (adr_engine_image_inspect(E, IMAGE, NULL, &err) != 0) {
    fprintf(stderr, "conformance: image %s is not in the engine%s%s\n", IMAGE, err ? ": " : "", err ? err->msg : "");
    adr_err_free(&err);
    return -1;
  }
  snprintf(LABEL, sizeof(LABEL), CONF_LABEL_KEY "=%d", (int)getpid());
  return 0;
}

static int group_teardown(void **state)
{
  (void)state;
  if (E) {
    sweep();
    adr_engine_close(E);
  }
  return 0;
}

/* argv[1]: "core" (all but egress) or "egress" (only it: exit 77, meson's
 * skip, when the engine cannot do egress); nothing: all */
int main(int argc, char **argv)
{
  const struct CMUnitTest core[] = {
    cmocka_unit_test(test_ping_version),         cmocka_unit_test(test_run_streams_exit),
    cmocka_unit_test(test_env_user_workdir),     cmocka_unit_test(test_exec_logs_kill_labels),
    cmocka_unit_test(test_stop_and_name_in_use), cmocka_unit_test(test_hardening_observed),
    cmocka_unit_test(test_seccomp_policy),       cmocka_unit_test(test_hardening_controls),
    cmocka_unit_test(test_unsupported_op),
  };
  const struct CMUnitTest egress[] = {
    cmocka_unit_test(test_egress_allowlist),
    cmocka_unit_test(test_egress_open),
  };
  const char *part = argc > 1 ? argv[1] : "";
  int failed = 0;
  if (!streq(part, "egress"))
    failed += cmocka_run_group_tests_name("engine conformance", core, group_setup, group_teardown);
  if (!streq(part, "core")) {
    adr_err err = NULL;
    cleanup_free char *ep = adr_engine_endpoint(&err);
    struct adr_engine *e = NULL;
    if (ep && adr_engine_open(&e, ep, &err) == 0 && !adr_engine_can(e, ADR_ENG_CAP_EGRESS) && streq(part, "egress")) {
      printf("conformance: the %s engine has no egress (allowlist, open): not tested\n", e->ops->name);
      adr_engine_close(e);
      return 77;
    }
    adr_engine_close(e);
    adr_err_free(&err);
    failed += cmocka_run_group_tests_name("engine conformance: egress", egress, group_setup, group_teardown);
  }
  return failed;
}
