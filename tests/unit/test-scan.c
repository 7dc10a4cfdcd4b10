/* The secret patterns (each with a near miss that must not count) and the
 * base image of a Dockerfile's last stage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *hit(const char *s) { return adr_scan_text(s, strlen(s), NULL); }

static void test_patterns(void **state)
{
  (void)state;
  static const char body[] =
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n";
  char pem[512];
  snprintf(pem, sizeof(pem), "x = 1\n-----BEGIN PRIVATE KEY-----\n%s-----END PRIVATE KEY-----\n", body);
  size_t at = 0;
  assert_string_equal(adr_scan_text(pem, strlen(pem), &at), "a private key");
  assert_int_equal(at, 6);
  snprintf(pem, sizeof(pem), "-----BEGIN OPENSSH PRIVATE KEY-----\r\n%s", body);
  assert_string_equal(hit(pem), "a private key");
  snprintf(pem, sizeof(pem), "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,AB\n\n%s",
           body);
  assert_string_equal(hit(pem), "a private key");
  /* near misses: code that builds a PEM, a public key, a short body */
  assert_null(hit("const h = \"-----BEGIN PRIVATE KEY-----\\n\" + b64 + \"\\n-----END PRIVATE KEY-----\";"));
  assert_null(hit("-----BEGIN PRIVATE KEY-----\n${key}\n-----END PRIVATE KEY-----"));
  snprintf(pem, sizeof(pem), "-----BEGIN PUBLIC KEY-----\n%s", body);
  assert_null(hit(pem));
  assert_null(hit("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----"));

  assert_string_equal(hit("aws_access_key_id = AKIAZ3MXQ7PLW4TRX2NB\n"), "an AWS access key");
  assert_null(hit("AKIAIOSFODNN7EXAMPLE"));   /* AWS's own documentation example */
  assert_null(hit("xAKIAZ3MXQ7PLW4TRX2NB"));  /* inside a word */
  assert_null(hit("AKIAZ3MXQ7PLW4TRX2NBQ"));  /* too long */
  assert_null(hit("AKIA_HEADER_NAME_FOR_X")); /* not its alphabet */
  assert_string_equal(hit("token: ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A\n"), "a GitHub token");
  assert_null(hit("ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY")); /* 34 */
  assert_string_equal(hit("//npm.example.internal/:_authToken=npm_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"),
                      "an npm token");
  assert_null(hit("const npm_config_cache = 1;"));
  assert_string_equal(hit("SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKl"), "a Slack token");
  assert_null(hit("xoxb-"));
  char ant[256];
  snprintf(ant, sizeof(ant), "ANTHROPIC_API_KEY=sk-ant-api03-%s",
           "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A_aB3dE5fG7hJ9kL");
  assert_string_equal(hit(ant), "an Anthropic API key");
  assert_null(hit("if (key.startsWith('sk-ant-api03-')) return true;"));
  assert_string_equal(hit("sk-proj-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A_aB3dE5f"),
                      "an OpenAI API key");
  assert_string_equal(hit("\"sk-aB3dE5fG7hJ9kL1mN3pQT3BlbkFJaB3dE5fG7hJ9kL1mN3pQ5\""), "an OpenAI API key");
  assert_null(hit("sk-proj-"));
  /* binary data with NULs around a key still counts; none is fine */
  char bin[128];
  memset(bin, 0, sizeof(bin));
  memcpy(bin + 50, "AKIAZ3MXQ7PLW4TRX2NB", 20);
  assert_string_equal(adr_scan_text(bin, sizeof(bin), NULL), "an AWS access key");
  assert_null(adr_scan_text(bin, 40, NULL));
}

static void test_dockerfile_base(void **state)
{
  (void)state;
  struct strv args = { 0 };
  char *b = adr_dockerfile_base("FROM debian:bookworm-slim\nRUN true\n", NULL);
  assert_string_equal(b, "debian:bookworm-slim");
  free(b);
  strv_push(&args, "BASE_IMAGE=sha256:abc");
  b = adr_dockerfile_base("ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER 0\n", &args);
  assert_string_equal(b, "sha256:abc");
  free(b);
  b = adr_dockerfile_base(
    "ARG V=12\nfrom --platform=linux/amd64 node:$V AS build\nRUN x\nFROM nginx:1\nCOPY --from=build /a /b\n", NULL);
  assert_string_equal(b, "nginx:1");
  free(b);
  b = adr_dockerfile_base("ARG V=12\nFROM node:${V}\n", NULL); /* not a whole ${NAME}: cannot be told */
  assert_null(b);
  b = adr_dockerfile_base("FROM debian AS base\nRUN x\nFROM base\nRUN y\n", NULL); /* an earlier stage */
  assert_null(b);
  b = adr_dockerfile_base("FROM scratch\nCOPY x /\n", NULL);
  assert_null(b);
  b = adr_dockerfile_base("ARG X\nFROM ${X}\n", NULL); /* no value */
  assert_null(b);
  strv_free(&args);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_patterns),
    cmocka_unit_test(test_dockerfile_base),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
