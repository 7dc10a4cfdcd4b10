/* Unit tests for egress.h against a fake engine: core builds an
 * engine-neutral plan (the gateway's sandbox and arguments, the subnets,
 * the labels), the engine realises it, and core points the sandbox's spec
 * at what the engine made.  No engine is contacted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "creds.h"
#include "egress.h"
#include "gwproto.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the fake engine was asked. */
static struct {
  int up_calls, down_calls;
  enum adr_egress_mode mode;
  char *sandbox, *gw_name, *gw_user, *gw_hostname, *ready_file, *pool, *down_sandbox;
  struct strv cmd, caps, sysctls, gw_labels, subnets, addrs, net_labels, listen;
  char *listen_arg;
  bool join; /* answer allowlist as the native engine does: a namespace joined, 127.0.0.1 */
  enum adr_restart restart;
  bool host_alias, init;
  int64_t memory, pids;
  int fail; /* errno to fail egress_up with */
} fake;

static void fake_reset(void)
{
  free(fake.sandbox);
  free(fake.gw_name);
  free(fake.gw_user);
  free(fake.gw_hostname);
  free(fake.ready_file);
  free(fake.pool);
  free(fake.down_sandbox);
  free(fake.listen_arg);
  struct strv *v[] = { &fake.cmd,     &fake.caps,  &fake.sysctls,    &fake.gw_labels,
                       &fake.subnets, &fake.addrs, &fake.net_labels, &fake.listen };
  for (size_t i = 0; i < ARRAY_SIZE(v); i++)
    strv_free(v[i]);
  memset(&fake, 0, sizeof(fake));
}

static void copy_strv(struct strv *dst, const struct strv *src)
{
  for (size_t i = 0; src && i < src->n; i++)
    strv_push(dst, src->v[i]);
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

static int fake_up(struct adr_engine *e, struct adr_egress_plan *p, struct adr_egress_result *res, adr_err *err)
{
  (void)e;
  fake.up_calls++;
  fake.mode = p->mode;
  fake.sandbox = dup_or_null(p->sandbox);
  fake.gw_name = dup_or_null(p->gateway.name);
  fake.gw_user = dup_or_null(p->gateway.user);
  fake.gw_hostname = dup_or_null(p->gateway.hostname);
  fake.ready_file = dup_or_null(p->ready_file);
  fake.pool = dup_or_null(p->pool);
  copy_strv(&fake.cmd, &p->gateway.cmd);
  copy_strv(&fake.caps, &p->gateway.cap_add);
  copy_strv(&fake.sysctls, &p->gateway.sysctls);
  copy_strv(&fake.gw_labels, &p->gateway.labels);
  copy_strv(&fake.subnets, p->subnets);
  copy_strv(&fake.addrs, p->addrs);
  copy_strv(&fake.net_labels, p->net_labels);
  copy_strv(&fake.listen, p->listen);
  fake.listen_arg = dup_or_null(p->listen_arg);
  fake.restart = p->gateway.restart;
  fake.host_alias = p->gateway.host_alias;
  fake.init = p->gateway.init;
  fake.memory = p->gateway.memory;
  fake.pids = p->gateway.pids;
  if (fake.fail)
    return adr_err_set(err, fake.fail, "fake engine refuses");
  memset(res, 0, sizeof(*res));
  if (p->mode == ADR_EGRESS_ALLOWLIST && fake.join) {
    res->net.kind = ADR_SPEC_NET_JOIN;
    res->net.name = xstrdup(p->gateway.name);
    res->addr = xstrdup("127.0.0.1");
  } else if (p->mode == ADR_EGRESS_ALLOWLIST) {
    res->net.kind = ADR_SPEC_NET_ATTACH;
    res->net.name = xasprintf("%s" ADR_EGRESS_NET_SUFFIX, p->sandbox);
    res->addr = xstrdup(p->addrs->v[1]); /* as if the first subnet were taken */
  } else {
    res->net.kind = ADR_SPEC_NET_JOIN;
    res->net.name = xstrdup(p->gateway.name);
  }
  return 0;
}

static int fake_down(struct adr_engine *e, const char *sandbox, adr_err *err)
{
  (void)e;
  (void)err;
  fake.down_calls++;
  fake.down_sandbox = xstrdup(sandbox);
  return 0;
}

static const struct adr_engine_ops fake_ops = {
  .name = "fake",
  .caps = ADR_ENG_CAP_EGRESS,
  .egress_up = fake_up,
  .egress_down = fake_down,
};
static const struct adr_engine_ops bare_ops = { .name = "bare" };

struct fixture {
  char dir[64];
  char *egress_dir;
  struct adr_netpolicy policy;
  struct adr_engine engine;
  struct strv resolvers, labels;
  struct adr_egress_req req;
  struct adr_spec spec;
};

static int setup(void **state)
{
  struct fixture *f = xcalloc(1, sizeof(*f));
  snprintf(f->dir, sizeof(f->dir), "/tmp/adr-egress-XXXXXX");
  if (!mkdtemp(f->dir))
    return -1;
  f->egress_dir = xasprintf("%s/egress/adr-x-1", f->dir);
  f->policy.mode = ADR_NET_ALLOWLIST;
  adr_err err = NULL;
  if (adr_netpolicy_add(&f->policy, "example.com:8443", "test", &err) < 0)
    return -1;
  f->engine.ops = &fake_ops;
  strv_push(&f->resolvers, "192.0.2.53");
  strv_push(&f->labels, "dev.adr.pid=42");
  f->req = (struct adr_egress_req){
    .sandbox = "adr-x-1",
    .policy = &f->policy,
    .image = "img",
    .gateway_bin = "/usr/bin/true",
    .dir = f->egress_dir,
    .pool = "10.213.0.0/16",
    .resolvers = &f->resolvers,
    .labels = &f->labels,
    .uid = getuid() ? getuid() : 1000,
    .gid = getgid() ? getgid() : 1000,
  };
  adr_spec_init(&f->spec);
  f->spec.image = xstrdup("agent");
  f->spec.hostname = xstrdup("adr-x");
  f->spec.host_alias = true;
  fake_reset();
  *state = f;
  return 0;
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st;
  (void)ftw;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static int teardown(void **state)
{
  struct fixture *f = *state;
  nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  free(f->egress_dir);
  adr_netpolicy_free(&f->policy);
  strv_free(&f->resolvers);
  strv_free(&f->labels);
  adr_spec_free(&f->spec);
  fake_reset();
  free(f);
  return 0;
}

static bool has(const struct strv *v, const char *s) { return strv_contains(v, s); }

static const char *env_get(const struct adr_spec *s, const char *key) { return adr_labels_get(&s->env, key); }

static bool file_exists(const char *dir, const char *name)
{
  cleanup_free char *p = xasprintf("%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

static void test_allowlist_plan(void **state)
{
  struct fixture *f = *state;
  adr_err err = NULL;
  if (adr_egress_up(&f->engine, &f->req, &f->spec, &err) < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(fake.up_calls, 1);
  assert_int_equal(fake.mode, ADR_EGRESS_ALLOWLIST);
  assert_string_equal(fake.sandbox, "adr-x-1");
  assert_string_equal(fake.gw_name, "adr-x-1-gw");
  assert_string_equal(fake.pool, "10.213.0.0/16");
  cleanup_free char *ready = xasprintf("%s/ready", f->egress_dir);
  assert_string_equal(fake.ready_file, ready);
  /* the gateway's sandbox: the engine fills in only its address */
  size_t bind = 0;
  for (size_t i = 0; i + 1 < fake.cmd.n; i++)
    if (streq(fake.cmd.v[i], "--bind"))
      bind = i + 1;
  assert_true(bind > 0);
  assert_string_equal(fake.cmd.v[bind], ADR_EGRESS_ADDR);
  assert_true(has(&fake.cmd, "8443"));
  assert_true(has(&fake.cmd, "192.0.2.53"));
  assert_true(has(&fake.sysctls, "net.ipv4.ip_forward=0"));
  assert_int_equal(fake.caps.n, 0);
  assert_int_equal(fake.restart, ADR_RESTART_UNLESS_STOPPED);
  assert_true(fake.host_alias);
  assert_false(fake.init);
  assert_int_equal(fake.memory, 512ll << 20);
  assert_int_equal(fake.pids, 64);
  cleanup_free char *user = xasprintf("%u:%u", (unsigned)f->req.uid, (unsigned)f->req.gid);
  assert_string_equal(fake.gw_user, user);
  assert_true(has(&fake.gw_labels, "dev.adr.kind=gateway"));
  assert_true(has(&fake.gw_labels, "dev.adr.for=adr-x-1"));
  assert_true(has(&fake.gw_labels, "dev.adr.pid=42"));
  assert_true(has(&fake.net_labels, "dev.adr.kind=network"));
  assert_true(has(&fake.net_labels, "dev.adr.network=allowlist"));
  /* subnets: distinct /28s of the pool, the gateway at .2 of each */
  assert_true(fake.subnets.n >= 2);
  assert_int_equal(fake.subnets.n, fake.addrs.n);
  for (size_t i = 0; i < fake.subnets.n; i++) {
    assert_true(str_has_prefix(fake.subnets.v[i], "10.213."));
    assert_non_null(strstr(fake.subnets.v[i], "/28"));
    for (size_t k = 0; k < i; k++)
      assert_string_not_equal(fake.subnets.v[i], fake.subnets.v[k]);
  }
  assert_true(file_exists(f->egress_dir, "policy"));
  assert_true(file_exists(f->egress_dir, "egress.jsonl"));

  /* the sandbox: what the engine made, with the address it chose */
  const char *addr = fake.addrs.v[1];
  assert_int_equal(f->spec.net.kind, ADR_SPEC_NET_ATTACH);
  assert_string_equal(f->spec.net.name, "adr-x-1-net");
  assert_null(f->spec.net.ipv4);
  assert_int_equal(f->spec.dns.n, 1);
  assert_string_equal(f->spec.dns.v[0], addr);
  assert_false(f->spec.host_alias);
  assert_string_equal(f->spec.hostname, "adr-x");
  cleanup_free char *proxy = xasprintf("http://%s:%d", addr, GW_PROXY_PORT);
  assert_string_equal(env_get(&f->spec, "HTTPS_PROXY"), proxy);
  assert_string_equal(adr_labels_get(&f->spec.labels, ADR_LABEL_NETMODE), "allowlist");
  cleanup_free char *relay = adr_egress_relay_url(&f->spec);
  cleanup_free char *want_relay = xasprintf("http://%s:%d", addr, GW_RELAY_PORT);
  assert_string_equal(relay, want_relay);
  adr_err err2 = NULL;
  assert_int_equal(adr_spec_check(&f->spec, &err2), 0);

  /* down: the engine removes its objects, core the files but the log */
  assert_int_equal(adr_egress_down(&f->engine, "adr-x-1", f->egress_dir, &err), 0);
  assert_int_equal(fake.down_calls, 1);
  assert_string_equal(fake.down_sandbox, "adr-x-1");
  assert_false(file_exists(f->egress_dir, "policy"));
  assert_true(file_exists(f->egress_dir, "egress.jsonl"));
}

static void test_open_plan(void **state)
{
  struct fixture *f = *state;
  f->policy.mode = ADR_NET_OPEN;
  adr_err err = NULL;
  if (adr_egress_up(&f->engine, &f->req, &f->spec, &err) < 0)
    fail_msg("%s", err->msg);
  assert_int_equal(fake.mode, ADR_EGRESS_OPEN);
  assert_string_equal(fake.gw_user, "0:0");
  assert_true(has(&fake.caps, "NET_ADMIN"));
  assert_true(has(&fake.caps, "SETPCAP"));
  assert_string_equal(fake.gw_hostname, "adr-x"); /* the sandbox's, which joins it */
  assert_true(has(&fake.cmd, "--hold"));
  assert_false(has(&fake.cmd, ADR_EGRESS_ADDR));
  assert_int_equal(fake.subnets.n, 0);
  assert_int_equal(f->spec.net.kind, ADR_SPEC_NET_JOIN);
  assert_string_equal(f->spec.net.name, "adr-x-1-gw");
  assert_null(f->spec.hostname);
  assert_false(f->spec.host_alias);
  assert_string_equal(adr_labels_get(&f->spec.labels, ADR_LABEL_NETMODE), "open");
  cleanup_free char *relay = adr_egress_relay_url(&f->spec);
  cleanup_free char *want_relay = xasprintf("http://127.0.0.1:%d", GW_RELAY_PORT);
  assert_string_equal(relay, want_relay);
  assert_int_equal(adr_spec_check(&f->spec, &err), 0);
}

/* The plan's listeners, and an engine that answers with a namespace the
 * sandbox joins (native): no resolver or hostname of the sandbox's own
 * (they come with the namespace), everything at 127.0.0.1 */
static void test_allowlist_joined(void **state)
{
  struct fixture *f = *state;
  fake.join = true;
  adr_err err = NULL;
  if (adr_egress_up(&f->engine, &f->req, &f->spec, &err) < 0)
    fail_msg("%s", err->msg);
  cleanup_free char *proxy_l = xasprintf("tcp:%d", GW_PROXY_PORT), *dns_u = xasprintf("udp:%d", GW_DNS_PORT),
                    *dns_t = xasprintf("tcp:%d", GW_DNS_PORT);
  assert_true(has(&fake.listen, proxy_l));
  assert_true(has(&fake.listen, "tcp:8443")); /* the policy's port */
  assert_true(has(&fake.listen, dns_u));
  assert_true(has(&fake.listen, dns_t));
  for (size_t i = 0; i < fake.listen.n; i++) /* each once */
    for (size_t k = 0; k < i; k++)
      assert_string_not_equal(fake.listen.v[i], fake.listen.v[k]);
  assert_string_equal(fake.listen_arg, GW_OPT_LISTEN_FD);
  assert_int_equal(f->spec.net.kind, ADR_SPEC_NET_JOIN);
  assert_string_equal(f->spec.net.name, "adr-x-1-gw");
  assert_int_equal(f->spec.dns.n, 0);
  assert_null(f->spec.hostname);
  cleanup_free char *proxy = xasprintf("http://127.0.0.1:%d", GW_PROXY_PORT);
  assert_string_equal(env_get(&f->spec, "HTTPS_PROXY"), proxy);
  assert_string_equal(adr_labels_get(&f->spec.labels, ADR_LABEL_NETMODE), "allowlist");
  cleanup_free char *relay = adr_egress_relay_url(&f->spec);
  cleanup_free char *want_relay = xasprintf("http://127.0.0.1:%d", GW_RELAY_PORT);
  assert_string_equal(relay, want_relay);
  assert_int_equal(adr_spec_check(&f->spec, &err), 0);
}

static void test_none_needs_no_engine(void **state)
{
  struct fixture *f = *state;
  f->policy.mode = ADR_NET_NONE;
  f->engine.ops = &bare_ops;
  adr_err err = NULL;
  assert_int_equal(adr_egress_up(&f->engine, &f->req, &f->spec, &err), 0);
  assert_int_equal(f->spec.net.kind, ADR_SPEC_NET_NONE);
  assert_false(f->spec.host_alias);
  assert_null(adr_egress_relay_url(&f->spec));
}

/* A failed realisation leaves no files; an engine without egress says so. */
static void test_failures(void **state)
{
  struct fixture *f = *state;
  fake.fail = EADDRINUSE;
  adr_err err = NULL;
  assert_int_equal(adr_egress_up(&f->engine, &f->req, &f->spec, &err), -1);
  assert_int_equal(err->errnum, EADDRINUSE);
  adr_err_free(&err);
  assert_int_equal(access(f->egress_dir, F_OK), -1); /* the dir went with its empty log */
  assert_int_equal(f->spec.net.kind, ADR_SPEC_NET_OUTBOUND);

  f->engine.ops = &bare_ops;
  assert_int_equal(adr_egress_up(&f->engine, &f->req, &f->spec, &err), -1);
  assert_int_equal(err->errnum, ENOTSUP);
  assert_string_equal(err->msg,
                      "network 'allowlist': the bare engine has no egress gateway yet; use --network none "
                      "(ADR_NETWORK=none) or a Docker or Podman engine (ADR_ENGINE=docker)");
  adr_err_free(&err);

  f->engine.ops = &fake_ops;
  f->req.pool = "10.0.0.0/30";
  assert_int_equal(adr_egress_up(&f->engine, &f->req, &f->spec, &err), -1);
  assert_int_equal(err->errnum, EINVAL);
  adr_err_free(&err);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_allowlist_plan, setup, teardown),
    cmocka_unit_test_setup_teardown(test_open_plan, setup, teardown),
    cmocka_unit_test_setup_teardown(test_allowlist_joined, setup, teardown),
    cmocka_unit_test_setup_teardown(test_none_needs_no_engine, setup, teardown),
    cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
