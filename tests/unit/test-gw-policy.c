/* Unit tests for the gateway's policy: parsing (good and bad lines), names,
 * wildcards, ports, CIDRs, special address ranges, the decision and the
 * address filter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "policy.h"
#include "util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void load(struct gw_policy *p, const char *text)
{
  adr_err err = NULL;
  int r = gw_policy_parse(p, text, strlen(text), "pol", &err);
  if (r < 0)
    fail_msg("policy did not parse: %s", err->msg);
  adr_err_free(&err);
}

static void test_parse_good(void **state)
{
  (void)state;
  struct gw_policy p;
  load(&p,
       "# comment\n"
       "\n"
       "   \t\n"
       "allow api.example.com 443 --allow api.example.com:443\n"
       "  allow\t*.Example.ORG.\t*\tagent claude: api.anthropic.com  \r\n"
       "allow 10.1.2.3 80,443,8080 ip rule\n"
       "allow 192.168.0.0/16 * net\n"
       "allow 2001:db8::1 22 v6 literal\n"
       "allow 2001:db8::/32 1,65535 v6 net\n"
       "allow 10.9.8.7/24 * host bits\n"
       "allow under_score.example.com * u");
  assert_int_equal(p.n, 8);
  assert_int_equal(p.r[0].kind, GW_RULE_NAME);
  assert_string_equal(p.r[0].name, "api.example.com");
  assert_false(p.r[0].any_port);
  assert_int_equal(p.r[0].nports, 1);
  assert_int_equal(p.r[0].ports[0], 443);
  assert_string_equal(p.r[0].label, "--allow api.example.com:443");
  assert_int_equal(p.r[0].line, 4);
  assert_int_equal(p.r[1].kind, GW_RULE_WILDCARD);
  assert_string_equal(p.r[1].name, ".example.org");
  assert_true(p.r[1].any_port);
  assert_string_equal(p.r[1].label, "agent claude: api.anthropic.com");
  assert_int_equal(p.r[2].kind, GW_RULE_NET);
  assert_int_equal(p.r[2].prefix, 32);
  assert_int_equal(p.r[2].nports, 3);
  assert_int_equal(p.r[2].ports[2], 8080);
  assert_int_equal(p.r[3].prefix, 16);
  assert_int_equal(p.r[4].net.family, AF_INET6);
  assert_int_equal(p.r[4].prefix, 128);
  assert_int_equal(p.r[5].prefix, 32);
  assert_int_equal(p.r[5].ports[1], 65535);
  assert_int_equal(p.r[6].net.a[3], 0); /* host bits cleared */
  assert_string_equal(p.r[7].name, "under_score.example.com");
  gw_policy_free(&p);

  /* empty file, comments only */
  load(&p, "");
  assert_int_equal(p.n, 0);
  load(&p, "# nothing\n\n");
  assert_int_equal(p.n, 0);
}

static void test_parse_bad(void **state)
{
  (void)state;
  static const struct {
    const char *text;
    const char *want;
  } cases[] = {
    { "deny x.com * l\n", "pol:1: unknown directive 'deny'" },
    { "# ok\nallow x.com *\n", "pol:2: incomplete rule" },
    { "allow x.com\n", "pol:1: incomplete rule" },
    { "allow\n", "pol:1: incomplete rule" },
    { "ALLOW x.com * l\n", "pol:1: unknown directive" },
    { "allow x..com * l\n", "pol:1: bad host name 'x..com'" },
    { "allow -bad-.com * l\n", "pol:1: bad host name" },
    { "allow exa$mple.com * l\n", "pol:1: bad host name" },
    { "allow *.com. * l\nallow a*.b.com * l\n", "pol:2: bad host name 'a*.b.com'" },
    { "allow *.*.com * l\n", "pol:1: bad wildcard" },
    { "allow * * l\n", "pol:1: bad host name" },
    { "allow *. * l\n", "pol:1: bad wildcard" },
    { "allow x.com 0 l\n", "pol:1: bad port list '0'" },
    { "allow x.com 65536 l\n", "pol:1: bad port list" },
    { "allow x.com 80, l\n", "pol:1: bad port list" },
    { "allow x.com ,80 l\n", "pol:1: bad port list" },
    { "allow x.com 80,,443 l\n", "pol:1: bad port list" },
    { "allow x.com *,80 l\n", "pol:1: bad port list" },
    { "allow x.com http l\n", "pol:1: bad port list" },
    { "allow x.com 000080 l\n", "pol:1: bad port list" },
    { "allow 1.2.3 * l\n", "pol:1: bad address '1.2.3'" },
    { "allow 1.2.3.256 * l\n", "pol:1: bad address" },
    { "allow 1.2.3.4/33 * l\n", "pol:1: bad prefix length" },
    { "allow 1.2.3.4/ * l\n", "pol:1: bad prefix length" },
    { "allow 1.2.3.4/x * l\n", "pol:1: bad prefix length" },
    { "allow ::1/129 * l\n", "pol:1: bad prefix length" },
    { "allow [::1] * l\n", "pol:1: bad address" },
    { "allow ::ffff:1.2.3.4 * l\n", "pol:1: IPv4-mapped address" },
    { "allow 2001:db8::g * l\n", "pol:1: bad address" },
    { "allow x.com/24 * l\n", "pol:1: bad address" },
    { "allow x.123 * l\n", "pol:1: bad host name" },
    { "allow x.com * l\x01\n", "pol:1: control byte 0x01" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct gw_policy p;
    adr_err err = NULL;
    int r = gw_policy_parse(&p, cases[i].text, strlen(cases[i].text), "pol", &err);
    if (r == 0)
      fail_msg("case %zu parsed: %s", i, cases[i].text);
    assert_non_null(err);
    if (strstr(err->msg, cases[i].want) == NULL)
      fail_msg("case %zu: got [%s], want [%s]", i, err->msg, cases[i].want);
    assert_int_equal(p.n, 0);
    adr_err_free(&err);
  }
  /* a NUL byte, an over-long line, a 64-label name */
  struct gw_policy p;
  adr_err err = NULL;
  assert_int_equal(gw_policy_parse(&p, "allow a\0b * l\n", 14, "pol", &err), -1);
  assert_non_null(strstr(err->msg, "pol:1: NUL byte"));
  adr_err_free(&err);
  char *big = xmalloc(GW_POLICY_MAX_LINE + 100);
  memset(big, 'a', GW_POLICY_MAX_LINE + 99);
  memcpy(big, "allow ", 6);
  big[GW_POLICY_MAX_LINE + 99] = '\0';
  assert_int_equal(gw_policy_parse(&p, big, strlen(big), "pol", &err), -1);
  assert_non_null(strstr(err->msg, "pol:1: line longer"));
  adr_err_free(&err);
  free(big);
}

static void test_policy_load(void **state)
{
  (void)state;
  struct gw_policy p;
  adr_err err = NULL;
  assert_int_equal(gw_policy_load(&p, "/nonexistent/adr-policy", &err), -1);
  assert_non_null(strstr(err->msg, "policy /nonexistent/adr-policy: No such file"));
  adr_err_free(&err);
  char path[] = "/tmp/adr-test-gw-policy.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "allow a.example 1 l\n\nallow b..example 1 l\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  assert_int_equal(gw_policy_load(&p, path, &err), -1);
  char *want = xasprintf("%s:3: bad host name", path);
  assert_non_null(strstr(err->msg, want));
  free(want);
  adr_err_free(&err);
  unlink(path);
}

static void test_names(void **state)
{
  (void)state;
  char out[GW_NAME_MAX + 1];
  assert_int_equal(gw_name_normalize("API.Example.COM.", 16, out), 0);
  assert_string_equal(out, "api.example.com");
  assert_int_equal(gw_name_normalize("a", 1, out), 0);
  assert_int_equal(gw_name_normalize("x_y.example", 11, out), 0);
  static const char *bad[] = { "",          ".",       "a..b",        ".a",         "a.b..", "a b",   "a/b",
                               "a\x80.com", "1.2.3.4", "example.123", "2130706433", "a.-",   "a%eth0" };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
    if (gw_name_normalize(bad[i], strlen(bad[i]), out) == 0)
      fail_msg("accepted bad name [%s]", bad[i]);
  /* label and name length limits */
  char n[300];
  memset(n, 'a', 63);
  memcpy(n + 63, ".com", 5);
  assert_int_equal(gw_name_normalize(n, strlen(n), out), 0);
  memset(n, 'a', 64);
  memcpy(n + 64, ".com", 5);
  assert_int_equal(gw_name_normalize(n, strlen(n), out), -1);
  size_t o = 0;
  while (o < 250) {
    memcpy(n + o, "abcdefghi.", 10);
    o += 10;
  }
  memcpy(n + o, "com", 4); /* 253 bytes */
  assert_int_equal(strlen(n), 253);
  assert_int_equal(gw_name_normalize(n, 253, out), 0);
  n[253] = '.'; /* a trailing dot is fine */
  assert_int_equal(gw_name_normalize(n, 254, out), 0);
  memcpy(n + 253, "x", 2); /* 254 bytes */
  assert_int_equal(gw_name_normalize(n, 254, out), -1);
}

static void test_decide_names(void **state)
{
  (void)state;
  struct gw_policy p;
  load(&p,
       "allow *.example.test 443 wild\n"
       "allow example.test 443,8443 exact\n"
       "allow other.test * any\n"
       "allow api.example.test 80 later\n");
  struct gw_decision d;
  static const struct {
    const char *host;
    int port;
    bool allow;
    const char *rule;
  } cases[] = {
    { "example.test", 443, true, "exact" },
    { "EXAMPLE.TEST.", 8443, true, "exact" },
    { "a.example.test", 443, true, "wild" },
    { "a.b.example.test", 443, true, "wild" },
    { "evilexample.test", 443, false, "no-match" },
    { "example.test.evil", 443, false, "no-match" },
    { "xexample.test", 443, false, "no-match" },
    { "example.test", 80, false, "port" },
    { "a.example.test", 80, false, "port" },
    { "api.example.test", 80, true, "later" }, /* the first rule matching name AND port */
    { "api.example.test", 443, true, "wild" },
    { "other.test", 1, true, "any" },
    { "other.test", 65535, true, "any" },
    { "nope.test", 443, false, "no-match" },
    { "bad..name", 443, false, "bad-name" },
    { "bad name", 443, false, "bad-name" },
    { "", 443, false, "bad-name" },
    { "127.1", 443, false, "bad-name" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    gw_decide(&p, cases[i].host, (uint16_t)cases[i].port, &d);
    if (d.allow != cases[i].allow || strcmp(d.rule, cases[i].rule) != 0)
      fail_msg("%s:%d: got %s (%s), want %s (%s)", cases[i].host, cases[i].port, d.allow ? "allow" : "deny", d.rule,
               cases[i].allow ? "allow" : "deny", cases[i].rule);
    assert_false(d.is_ip);
  }
  gw_decide(&p, "A.Example.Test.", 443, &d);
  assert_string_equal(d.name, "a.example.test");
  /* DNS: any name rule, ports ignored */
  assert_non_null(gw_policy_match_name(&p, "example.test"));
  assert_string_equal(gw_policy_match_name(&p, "api.example.test")->label, "wild");
  assert_null(gw_policy_match_name(&p, "evilexample.test"));
  gw_policy_free(&p);
}

static void test_decide_ips(void **state)
{
  (void)state;
  struct gw_policy p;
  load(&p,
       "allow 10.0.0.0/8 443 ten\n"
       "allow 1.2.3.4 * one\n"
       "allow 2001:db8::/32 80 doc\n"
       "allow ::1 * lo6\n"
       "allow 0.0.0.0/0 9999 everything-v4\n"
       "allow 169.254.170.2 9999 ecs-exact\n");
  struct gw_decision d;
  static const struct {
    const char *host;
    int port;
    bool allow;
    const char *rule;
  } cases[] = {
    { "10.1.2.3", 443, true, "ten" },
    { "10.255.255.255", 443, true, "ten" },
    { "10.1.2.3", 80, false, "ip-literal" },
    { "11.0.0.0", 443, false, "ip-literal" },
    { "1.2.3.4", 1, true, "one" },
    { "1.2.3.5", 1, false, "ip-literal" },
    { "2001:db8::5", 80, true, "doc" },
    { "[2001:db8:ffff::1]", 80, true, "doc" },
    { "2001:db9::1", 80, false, "ip-literal" },
    { "2001:db8::5", 81, false, "ip-literal" },
    { "::1", 5, true, "lo6" },
    { "[::1]", 5, true, "lo6" },
    { "::2", 5, false, "ip-literal" },
    { "::ffff:1.2.3.4", 7, true, "one" }, /* mapped: judged as IPv4 */
    { "8.8.8.8", 9999, true, "everything-v4" },
    { "8.8.8.8", 9998, false, "ip-literal" },
    /* metadata addresses: a broad CIDR never opens them, only an exact rule */
    { "169.254.169.254", 9999, false, "metadata" },
    { "100.100.100.200", 9999, false, "metadata" },
    { "169.254.170.2", 9999, true, "ecs-exact" },
    { "169.254.170.3", 9999, true, "everything-v4" },
  };
  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    gw_decide(&p, cases[i].host, (uint16_t)cases[i].port, &d);
    if (d.allow != cases[i].allow || strcmp(d.rule, cases[i].rule) != 0 || !d.is_ip)
      fail_msg("%s:%d: got %s (%s), want %s (%s)", cases[i].host, cases[i].port, d.allow ? "allow" : "deny", d.rule,
               cases[i].allow ? "allow" : "deny", cases[i].rule);
  }
  gw_policy_free(&p);
}

static struct gw_addr A(const char *s) {
  struct gw_addr a;
  if (gw_addr_parse(s, strlen(s), &a) < 0)
    fail_msg("bad test address %s", s);
  return a;
}

static void
test_special(void **state)
{
  (void)state;
  static const char *special[] = {
    "0.0.0.0",     "0.1.2.3",     "10.0.0.1",        "100.64.0.1",        "100.127.255.255",
    "127.0.0.1",   "127.255.0.1", "169.254.169.254", "172.16.0.1",        "172.31.255.255",
    "192.168.1.1", "224.0.0.1",   "239.1.1.1",       "240.0.0.1",         "255.255.255.255",
    "::",          "::1",         "fc00::1",         "fd00:ec2::254",     "fe80::1",
    "febf::1",     "ff02::1",     "64:ff9b::a00:1",  "2002:0a00:0001::1",
  };
  static const char *public[] = {
    "1.1.1.1",         "9.255.255.255",   "11.0.0.0",       "100.63.255.255",    "100.128.0.0", "126.255.255.255",
    "128.0.0.0",       "169.253.0.1",     "172.15.255.255", "172.32.0.0",        "192.167.1.1", "192.169.0.0",
    "223.255.255.255", "2001:4860::8888", "fec0::1",        "2002:0808:0808::1", "::2",
  };
  for (size_t i = 0; i < ARRAY_SIZE(special); i++) {
    struct gw_addr a = A(special[i]);
    if (!gw_addr_special(&a))
      fail_msg("%s should be special", special[i]);
  }
  for (size_t i = 0; i < ARRAY_SIZE(public); i++) {
    struct gw_addr a = A(public[i]);
    if (gw_addr_special(&a))
      fail_msg("%s should not be special", public[i]);
  }
  /* IPv4-mapped IPv6 is judged by its embedded address (as raw v6 too) */
  struct gw_addr m = { .family = AF_INET6, .a = { [10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1 } };
  assert_true(gw_addr_special(&m));
  m.a[12] = 8;
  assert_false(gw_addr_special(&m));
  struct gw_addr md = A("169.254.169.254"), md6 = A("fd00:ec2::254"), nmd = A("169.254.169.253");
  assert_true(gw_addr_metadata(&md));
  assert_true(gw_addr_metadata(&md6));
  assert_false(gw_addr_metadata(&nmd));
  char s[64];
  gw_addr_format(&md6, 80, s, sizeof(s));
  assert_string_equal(s, "[fd00:ec2::254]:80");
  gw_addr_format(&md, 443, s, sizeof(s));
  assert_string_equal(s, "169.254.169.254:443");
}

static void test_filter(void **state)
{
  (void)state;
  struct gw_policy p;
  load(&p, "allow 127.0.0.1 8080 lo\nallow fd00::/8 * ula\n");
  const char *reason;
  struct gw_addr v[8];
  size_t n;

  /* public addresses pass; IPv4 first; duplicates once */
  v[0] = A("2001:4860::1");
  v[1] = A("8.8.8.8");
  v[2] = A("8.8.4.4");
  v[3] = A("8.8.8.8");
  n = gw_filter_addrs(&p, 443, v, 4, 4, &reason);
  assert_int_equal(n, 3);
  assert_int_equal(v[0].family, AF_INET);
  assert_int_equal(v[0].a[3], 8);
  assert_int_equal(v[1].a[3], 4);
  assert_int_equal(v[2].family, AF_INET6);
  assert_null(reason);

  /* private ones are dropped unless listed for that port */
  v[0] = A("127.0.0.1");
  v[1] = A("10.0.0.1");
  n = gw_filter_addrs(&p, 443, v, 2, 4, &reason);
  assert_int_equal(n, 0);
  assert_string_equal(reason, "private-address");
  v[0] = A("127.0.0.1");
  n = gw_filter_addrs(&p, 8080, v, 1, 4, &reason);
  assert_int_equal(n, 1);

  /* metadata among them names the reason */
  v[0] = A("10.0.0.1");
  v[1] = A("169.254.169.254");
  n = gw_filter_addrs(&p, 80, v, 2, 4, &reason);
  assert_int_equal(n, 0);
  assert_string_equal(reason, "metadata");
  v[0] = A("fd00:ec2::254"); /* covered by fd00::/8, but only an exact rule opens metadata */
  n = gw_filter_addrs(&p, 80, v, 1, 4, &reason);
  assert_int_equal(n, 0);
  assert_string_equal(reason, "metadata");
  v[0] = A("fd00::1"); /* the rest of fd00::/8 is listed: usable (the control) */
  n = gw_filter_addrs(&p, 80, v, 1, 4, &reason);
  assert_int_equal(n, 1);

  /* a mapped address is judged, and kept, as IPv4 */
  struct gw_addr m = { .family = AF_INET6, .a = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 } };
  memmove(m.a + 12, (uint8_t[]){ 127, 0, 0, 1 }, 4);
  v[0] = m;
  n = gw_filter_addrs(&p, 443, v, 1, 4, &reason);
  assert_int_equal(n, 0);
  v[0] = m;
  n = gw_filter_addrs(&p, 8080, v, 1, 4, &reason);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].family, AF_INET);

  /* at most max */
  for (int i = 0; i < 8; i++) {
    char s[32];
    snprintf(s, sizeof(s), "8.8.8.%d", i + 1);
    v[i] = A(s);
  }
  n = gw_filter_addrs(&p, 443, v, 8, 4, &reason);
  assert_int_equal(n, 4);
  gw_policy_free(&p);
}

static void test_addr_parse(void **state)
{
  (void)state;
  struct gw_addr a;
  assert_int_equal(gw_addr_parse("[::1]", 5, &a), 0);
  assert_int_equal(a.family, AF_INET6);
  assert_int_equal(gw_addr_parse("[1.2.3.4]", 9, &a), -1);
  assert_int_equal(gw_addr_parse("1.2.3.4 ", 8, &a), -1);
  assert_int_equal(gw_addr_parse("01.2.3.4", 8, &a), -1);
  assert_int_equal(gw_addr_parse("0x7f.0.0.1", 10, &a), -1);
  assert_int_equal(gw_addr_parse("", 0, &a), -1);
  assert_int_equal(gw_addr_parse("::ffff:127.0.0.1", 16, &a), 0);
  assert_int_equal(a.family, AF_INET);
  assert_int_equal(a.a[0], 127);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_bad),    cmocka_unit_test(test_policy_load),
    cmocka_unit_test(test_names),      cmocka_unit_test(test_decide_names), cmocka_unit_test(test_decide_ips),
    cmocka_unit_test(test_special),    cmocka_unit_test(test_filter),       cmocka_unit_test(test_addr_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
