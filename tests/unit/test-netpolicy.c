/* Unit tests for netpolicy.h: allow entries, the gateway's policy file,
 * intercepted ports, the pieces of the packages preset, subnet picking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "netpolicy.h"

#include <stdlib.h>
#include <string.h>

static void test_modes(void **state)
{
  (void)state;
  enum adr_netmode m;
  adr_err err = NULL;
  assert_int_equal(adr_netmode_parse("none", &m, &err), 0);
  assert_int_equal(m, ADR_NET_NONE);
  assert_int_equal(adr_netmode_parse("open", &m, &err), 0);
  assert_int_equal(m, ADR_NET_OPEN);
  assert_int_equal(adr_netmode_parse("allowlist", &m, &err), 0);
  assert_int_equal(m, ADR_NET_ALLOWLIST);
  assert_int_equal(adr_netmode_parse("bridge", &m, &err), -1);
  assert_string_equal(err->msg, "invalid network mode 'bridge' (none, allowlist, open)");
  adr_err_free(&err);
  assert_int_equal(adr_netmode_parse("", &m, &err), -1);
  adr_err_free(&err);
}

struct good {
  const char *entry, *pattern, *ports;
  bool ip;
};

static void test_entries_good(void **state)
{
  (void)state;
  static const struct good g[] = {
    { "example.com", "example.com", "80,443", false },
    { "Example.COM.", "example.com", "80,443", false },
    { "api.example.com:8443", "api.example.com", "8443", false },
    { "*.example.com", "*.example.com", "80,443", false },
    { "*.example.com:*", "*.example.com", "*", false },
    { "under_score.example.com:1", "under_score.example.com", "1", false },
    { "10.1.2.3", "10.1.2.3", "80,443", true },
    { "10.1.2.3:65535", "10.1.2.3", "65535", true },
    { "10.0.0.0/8:22", "10.0.0.0/8", "22", true },
    { "[2001:db8::1]:443", "2001:db8::1", "443", true },
    { "2001:DB8:0::1", "2001:db8::1", "80,443", true },
    { "fd00::/8", "fd00::/8", "80,443", true },
    { "[fd00::]/8", NULL, NULL, false }, /* rejected below */
  };
  for (size_t i = 0; i < sizeof(g) / sizeof(g[0]) - 1; i++) {
    struct adr_netpolicy p = { 0 };
    adr_err err = NULL;
    if (adr_netpolicy_add(&p, g[i].entry, "t", &err) < 0)
      fail_msg("%s: %s", g[i].entry, err->msg);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.v[0].pattern, g[i].pattern);
    assert_string_equal(p.v[0].ports, g[i].ports);
    assert_int_equal(p.v[0].ip, g[i].ip);
    char want[128];
    snprintf(want, sizeof(want), "t %s", g[i].entry);
    assert_string_equal(p.v[0].label, want);
    adr_netpolicy_free(&p);
  }
}

static void test_entries_bad(void **state)
{
  (void)state;
  static const char *const bad[][2] = {
    { "", "empty or too long" },
    { "ex*ample.com", "wildcards only as a leading '*.'" },
    { "*example.com", "wildcards only as a leading '*.'" },
    { "*.*.example.com", "wildcards only as a leading '*.'" },
    { "*", "wildcards only" },
    { "example.com:0", "invalid port '0'" },
    { "example.com:65536", "invalid port '65536'" },
    { "example.com:08", "invalid port '08'" },
    { "example.com:", "invalid port ''" },
    { "example.com:http", "invalid port 'http'" },
    { "exa mple.com", "unexpected character" },
    { "-bad.example.com", "is not a host name" },
    { "bad-.example.com", "is not a host name" },
    { "a..b", "is not a host name" },
    { "http://example.com", "invalid port '//example.com'" },
    { "10.0.0.0/33", "not an address/prefix" },
    { "[2001:db8::1", "missing ']'" },
    { "[2001:db8::1]x", "expected ':PORT' after ']'" },
    { "caf\xc3\xa9.example", "unexpected character" },
    /* adr's checks pass, the gateway's parser refuses: caught here, never
     * a gateway that will not start */
    { "example.123", "bad host name 'example.123'" },
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct adr_netpolicy p = { 0 };
    adr_err err = NULL;
    if (adr_netpolicy_add(&p, bad[i][0], "t", &err) == 0)
      fail_msg("'%s' was accepted", bad[i][0]);
    if (!strstr(err->msg, bad[i][1]))
      fail_msg("'%s': message '%s' lacks '%s'", bad[i][0], err->msg, bad[i][1]);
    assert_int_equal(p.n, 0);
    adr_err_free(&err);
    adr_netpolicy_free(&p);
  }
  /* a 64-byte label */
  char longlabel[80];
  memset(longlabel, 'a', 64);
  memcpy(longlabel + 64, ".com", 5);
  struct adr_netpolicy p = { 0 };
  adr_err err = NULL;
  assert_int_equal(adr_netpolicy_add(&p, longlabel, "t", &err), -1);
  adr_err_free(&err);
}

static void test_list_format_ports(void **state)
{
  (void)state;
  struct adr_netpolicy p = { 0 };
  adr_err err = NULL;
  assert_int_equal(
    adr_netpolicy_add_list(&p, "a.example b.example:8443, *.c.example:*  10.0.0.1:53", "ADR_ALLOW", &err), 0);
  assert_int_equal(adr_netpolicy_add(&p, "A.example", "--allow", &err), 0); /* a duplicate: first wins */
  assert_int_equal(p.n, 4);
  char *text = adr_netpolicy_format(&p);
  assert_string_equal(text,
                      "# adr egress policy (generated; one rule per line)\n"
                      "allow a.example 80,443 ADR_ALLOW a.example\n"
                      "allow b.example 8443 ADR_ALLOW b.example:8443\n"
                      "allow *.c.example * ADR_ALLOW *.c.example:*\n"
                      "allow 10.0.0.1 53 ADR_ALLOW 10.0.0.1:53\n");
  free(text);
  struct strv ports = { 0 };
  adr_netpolicy_ports(&p, &ports);
  assert_int_equal(ports.n, 3); /* 80, 443, 8443: not '*', not 53 */
  assert_string_equal(ports.v[0], "80");
  assert_string_equal(ports.v[1], "443");
  assert_string_equal(ports.v[2], "8443");
  strv_free(&ports);
  assert_int_equal(adr_netpolicy_add_list(&p, "ok.example bad*", "ADR_ALLOW", &err), -1);
  adr_err_free(&err);
  adr_netpolicy_free(&p);
}

static void test_url_host_port(void **state)
{
  (void)state;
  static const struct {
    const char *url, *host;
    unsigned port;
  } ok[] = {
    { "https://registry.example.org/", "registry.example.org", 443 },
    { "http://deb.example.net/debian", "deb.example.net", 80 },
    { "https://user:pw@Mirror.Example:8443/npm/", "mirror.example", 8443 },
    { "ssh://git@git.example.com:2222/x/y.git", "git.example.com", 2222 },
    { "git@github.example:org/repo.git", "github.example", 22 },
    { "git://code.example/r", "code.example", 9418 },
    { "https://[2001:db8::1]:444/x", "2001:db8::1", 444 },
    { "git+https://h.example/p", "h.example", 443 },
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    char *h = NULL;
    unsigned port = 0;
    if (adr_url_host_port(ok[i].url, &h, &port) != 0)
      fail_msg("%s rejected", ok[i].url);
    assert_string_equal(h, ok[i].host);
    assert_int_equal(port, ok[i].port);
    free(h);
  }
  const char *bad[] = { "file:///srv/mirror", "cdrom:[x]/",    "mirror+file:/etc/apt/m.txt", "/local/path", "https://",
                        "https://h:99999/",   "relative/dir:x" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *h = NULL;
    unsigned port = 0;
    if (adr_url_host_port(bad[i], &h, &port) == 0)
      fail_msg("%s accepted as %s:%u", bad[i], h, port);
  }
}

static void test_apt_sources(void **state)
{
  (void)state;
  struct strv out = { 0 };
  adr_apt_sources_hosts(
    "# comment https://no.example/\n"
    "deb http://deb.example.org/debian bookworm main\n"
    "deb-src [arch=amd64 signed-by=/k.gpg] https://src.example.org/debian bookworm main # x\n"
    "deb file:///srv/local ./\n"
    "Types: deb\n"
    "URIs: https://a.example/debian http://b.example/debian\n"
    "Suites: bookworm\n"
    "deb http://deb.example.org/debian bookworm-updates main\n",
    &out);
  assert_int_equal(out.n, 4);
  assert_string_equal(out.v[0], "deb.example.org:80");
  assert_string_equal(out.v[1], "src.example.org:443");
  assert_string_equal(out.v[2], "a.example:443");
  assert_string_equal(out.v[3], "b.example:80");
  strv_free(&out);
}

static void test_subnet_pick(void **state)
{
  (void)state;
  char *net = NULL, *gw = NULL;
  adr_err err = NULL;
  assert_int_equal(adr_subnet_pick("10.213.0.0/16", "adr-claude-x", 0, &net, &gw, &err), 0);
  assert_true(strncmp(net, "10.213.", 7) == 0);
  assert_non_null(strstr(net, "/28"));
  /* the gateway is the network address + 2, in the same /28 */
  unsigned a, b, c, d, ga, gb, gc, gd;
  assert_int_equal(sscanf(net, "%u.%u.%u.%u/28", &a, &b, &c, &d), 4);
  assert_int_equal(sscanf(gw, "%u.%u.%u.%u", &ga, &gb, &gc, &gd), 4);
  assert_int_equal(d % 16, 0);
  assert_int_equal(gd, d + 2);
  assert_int_equal(gc, c);
  char *net2 = NULL, *gw2 = NULL;
  assert_int_equal(adr_subnet_pick("10.213.0.0/16", "adr-claude-x", 1, &net2, &gw2, &err), 0);
  assert_string_not_equal(net, net2); /* the next attempt, the next block */
  free(net);
  free(gw);
  free(net2);
  free(gw2);
  /* a /24 pool has 16 blocks: attempts wrap around inside it */
  assert_int_equal(adr_subnet_pick("192.168.77.0/24", "s", 16, &net, &gw, &err), 0);
  assert_true(strncmp(net, "192.168.77.", 11) == 0);
  free(net);
  free(gw);
  const char *bad[] = { "10.0.0.0/25", "10.0.0.0", "fd00::/64", "nonsense", "10.0.0.0/4" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (adr_subnet_pick(bad[i], "s", 0, &net, &gw, &err) == 0)
      fail_msg("pool %s accepted", bad[i]);
    adr_err_free(&err);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_modes),         cmocka_unit_test(test_entries_good),
    cmocka_unit_test(test_entries_bad),   cmocka_unit_test(test_list_format_ports),
    cmocka_unit_test(test_url_host_port), cmocka_unit_test(test_apt_sources),
    cmocka_unit_test(test_subnet_pick),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
