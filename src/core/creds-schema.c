/* The "credentials" object of an agent definition: its schema, checked when
 * a definition is loaded, and the API families' paths the relay serves. */
#include "creds.h"

#include "buf.h"
#include "gwproto.h"
#include "parse.h"
#include "paths.h"
#include "runspec.h"
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The upstream paths the relay serves, per API family, relative to the
 * upstream's base URL (which may or may not end in the version). */
static const char *const paths_anthropic[] = {
  "/v1/messages", "/v1/messages/count_tokens", "/v1/models", "/v1/models/*",
  "/messages",    "/messages/count_tokens",    "/models",    "/models/*",
  NULL,
};
static const char *const paths_openai[] = {
  "/chat/completions",    "/responses",    "/responses/*",    "/completions", "/embeddings",  "/models", "/models/*",
  "/v1/chat/completions", "/v1/responses", "/v1/responses/*", "/v1/models",   "/v1/models/*", NULL,
};
static const char *const paths_gemini[] = {
  "/v1beta/models", "/v1beta/models/*", "/v1/models", "/v1/models/*", "/models", "/models/*", NULL,
};

const char *const *adr_relay_api_paths(const char *api)
{
  if (streq(api, "anthropic"))
    return paths_anthropic;
  if (streq(api, "openai"))
    return paths_openai;
  if (streq(api, "gemini"))
    return paths_gemini;
  return NULL;
}

/* ---- the definition ---------------------------------------------------- */

static bool rel_ok(const char *p) { return *p && p[0] != '/' && !strstr(p, ".."); }

static int want_str(json_t *o, const char *k, bool required, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, k);
  if (!v && !required)
    return 0;
  if (!json_is_string(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be a string", ctx, k);
  return 0;
}

static int want_strs(json_t *o, const char *k, const char *ctx, adr_err *err)
{
  json_t *v = json_object_get(o, k), *x;
  size_t i;
  if (!v)
    return 0;
  if (!json_is_array(v))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be an array of strings", ctx, k);
  json_array_foreach (v, i, x)
    if (!json_is_string(x))
      return adr_err_set(err, EINVAL, "%s: \"%s\"[%zu] must be a string", ctx, k, i);
  return 0;
}

static int want_rel(json_t *o, const char *k, bool required, const char *ctx, adr_err *err)
{
  if (want_str(o, k, required, ctx, err) < 0)
    return -1;
  json_t *v = json_object_get(o, k);
  if (v && !rel_ok(json_string_value(v)))
    return adr_err_set(err, EINVAL, "%s: \"%s\" must be a path relative to HOME", ctx, k);
  return 0;
}

static int want_only(json_t *o, const char *const *known, const char *ctx, adr_err *err)
{
  const char *k;
  json_t *v;
  json_object_foreach (o, k, v) {
    bool ok = false;
    for (size_t i = 0; known[i]; i++)
      ok = ok || streq(k, known[i]);
    if (!ok)
      return adr_err_set(err, EINVAL, "%s: unknown field \"%s\"", ctx, k);
  }
  return 0;
}

static bool route_name_ok(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > GW_ROUTE_NAME_MAX)
    return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
      return false;
  return true;
}

/* a route's "key_json": [{"path", "at"}]: JSON files and the member in
 * each that may hold the route's key */
static int check_key_json(json_t *a, const char *ctx, adr_err *err)
{
  size_t i;
  json_t *x;
  if (!a)
    return 0;
  if (!json_is_array(a))
    return adr_err_set(err, EINVAL, "%s: \"key_json\" must be an array", ctx);
  json_array_foreach (a, i, x) {
    cleanup_free char *c = xasprintf("%s.key_json[%zu]", ctx, i);
    static const char *const kj[] = { "path", "at", NULL };
    if (!json_is_object(x))
      return adr_err_set(err, EINVAL, "%s must be an object", c);
    if (want_only(x, kj, c, err) < 0 || want_rel(x, "path", true, c, err) < 0 || want_str(x, "at", true, c, err) < 0)
      return -1;
  }
  return 0;
}

int adr_creds_check(json_t *d, const char *ctx0, adr_err *err)
{
  cleanup_free char *ctx = xasprintf("%s: \"credentials\"", ctx0);
  if (!json_is_object(d))
    return adr_err_set(err, EINVAL, "%s must be an object", ctx);
  static const char *const top[] = { "hide",     "hide_if",     "env_files", "routes", "providers",
                                     "json_set", "not_relayed", "comment",   NULL };
  if (want_only(d, top, ctx, err) < 0 || want_strs(d, "hide", ctx, err) < 0)
    return -1;
  size_t i;
  json_t *x;
  json_array_foreach (json_object_get(d, "hide"), i, x)
    if (!rel_ok(json_string_value(x)))
      return adr_err_set(err, EINVAL, "%s: \"hide\"[%zu] must be a path relative to HOME", ctx, i);
  static const char *const ef[] = { "path", "json", "dotenv", NULL };
  static const char *const rt[] = { "name",     "api",  "upstream", "base_env", "key_env",
                                    "key_json", "args", "drop_env", NULL };
  static const char *const pv[] = { "path", "env",     "at",     "base",          "key",       "api",
                                    "apis", "builtin", "prefix", "secret_fields", "auth_path", NULL };
  static const char *const hi[] = { "path", "contains", NULL };
  static const char *const js[] = { "path", "at", "value", "when", "tail", "append", NULL };
  static const char *const nr[] = { "path", "env", "why", NULL };
  const char *lists[] = { "env_files", "routes", "providers", "json_set", "not_relayed", "hide_if" };
  const char *const *fields[] = { ef, rt, pv, js, nr, hi };
  for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
    json_t *a = json_object_get(d, lists[l]);
    if (!a)
      continue;
    if (!json_is_array(a))
      return adr_err_set(err, EINVAL, "%s: \"%s\" must be an array", ctx, lists[l]);
    json_array_foreach (a, i, x) {
      cleanup_free char *c = xasprintf("%s.%s[%zu]", ctx, lists[l], i);
      if (!json_is_object(x))
        return adr_err_set(err, EINVAL, "%s must be an object", c);
      if (want_only(x, fields[l], c, err) < 0)
        return -1;
      int r = 0;
      switch (l) {
      case 0:
        r = want_rel(x, "path", true, c, err) < 0 || want_str(x, "json", false, c, err) < 0 ? -1 : 0;
        if (r == 0 && !json_object_get(x, "json") && !json_is_true(json_object_get(x, "dotenv")))
          r = adr_err_set(err, EINVAL, "%s: needs \"json\" (where the variables are) or \"dotenv\": true", c);
        break;
      case 1:
        if (want_str(x, "name", true, c, err) < 0 || want_str(x, "api", true, c, err) < 0 ||
            want_str(x, "upstream", false, c, err) < 0 || want_str(x, "base_env", false, c, err) < 0 ||
            want_strs(x, "key_env", c, err) < 0 || want_strs(x, "args", c, err) < 0 ||
            want_strs(x, "drop_env", c, err) < 0)
          return -1;
        if (!route_name_ok(json_string_value(json_object_get(x, "name"))))
          return adr_err_set(err, EINVAL, "%s: \"name\" must be 1-" GW_STR(GW_ROUTE_NAME_MAX) " of a-z, 0-9, '-'", c);
        if (!adr_relay_api_paths(json_string_value(json_object_get(x, "api"))))
          return adr_err_set(err, EINVAL, "%s: \"api\" must be anthropic, openai or gemini", c);
        if (json_array_size(json_object_get(x, "key_env")) == 0)
          return adr_err_set(err, EINVAL, "%s: \"key_env\" must name at least one variable", c);
        if (!json_object_get(x, "upstream") && !json_object_get(x, "base_env"))
          return adr_err_set(err, EINVAL, "%s: needs \"upstream\" or \"base_env\"", c);
        if (check_key_json(json_object_get(x, "key_json"), c, err) < 0)
          return -1;
        break;
      case 2:
        if (want_rel(x, "path", false, c, err) < 0 || want_str(x, "env", false, c, err) < 0 ||
            want_str(x, "at", true, c, err) < 0 || want_str(x, "base", true, c, err) < 0 ||
            want_str(x, "key", true, c, err) < 0 || want_str(x, "api", true, c, err) < 0 ||
            want_str(x, "prefix", false, c, err) < 0 || want_strs(x, "secret_fields", c, err) < 0 ||
            want_rel(x, "auth_path", false, c, err) < 0)
          return -1;
        if (!json_object_get(x, "path") && !json_object_get(x, "env"))
          return adr_err_set(err, EINVAL, "%s: needs \"path\" or \"env\"", c);
        if (!json_is_object(json_object_get(x, "apis")))
          return adr_err_set(err, EINVAL, "%s: \"apis\" must map the agent's API names to anthropic, openai, gemini",
                             c);
        {
          const char *k;
          json_t *v;
          json_object_foreach (json_object_get(x, "apis"), k, v)
            if (!json_is_string(v) || !adr_relay_api_paths(json_string_value(v)))
              return adr_err_set(err, EINVAL, "%s: \"apis\".\"%s\" must be anthropic, openai or gemini", c, k);
          json_t *b = json_object_get(x, "builtin");
          if (b && !json_is_object(b))
            return adr_err_set(err, EINVAL, "%s: \"builtin\" must be an object", c);
          json_object_foreach (b, k, v) {
            if (!json_is_object(v) || !json_is_string(json_object_get(v, "upstream")) ||
                !json_is_string(json_object_get(v, "api")) ||
                !adr_relay_api_paths(json_string_value(json_object_get(v, "api"))))
              return adr_err_set(err, EINVAL, "%s: \"builtin\".\"%s\" needs \"upstream\" and \"api\"", c, k);
          }
        }
        break;
      case 3: /* "value": a string, or null to remove */
        if (want_rel(x, "path", true, c, err) < 0 || want_str(x, "at", true, c, err) < 0 ||
            want_str(x, "when", false, c, err) < 0)
          return -1;
        if (!json_is_string(json_object_get(x, "value")) && !json_is_null(json_object_get(x, "value")))
          return adr_err_set(err, EINVAL, "%s: \"value\" must be a string or null", c);
        if (json_object_get(x, "tail") &&
            (!json_is_integer(json_object_get(x, "tail")) || json_integer_value(json_object_get(x, "tail")) < 1 ||
             json_integer_value(json_object_get(x, "tail")) > 64))
          return adr_err_set(err, EINVAL, "%s: \"tail\" must be an integer from 1 to 64", c);
        if (json_object_get(x, "append") && !json_is_boolean(json_object_get(x, "append")))
          return adr_err_set(err, EINVAL, "%s: \"append\" must be true or false", c);
        if (json_is_string(json_object_get(x, "value")) &&
            strstr(json_string_value(json_object_get(x, "value")), "{sentinel}") && !json_object_get(x, "when"))
          return adr_err_set(err, EINVAL, "%s: a \"value\" with {sentinel} needs \"when\" (the route)", c);
        break;
      case 5:
        if (want_rel(x, "path", true, c, err) < 0 || want_strs(x, "contains", c, err) < 0)
          return -1;
        break;
      case 4:
        if (want_rel(x, "path", false, c, err) < 0 || want_str(x, "env", false, c, err) < 0 ||
            want_str(x, "why", true, c, err) < 0)
          return -1;
        break;
      }
      if (r < 0)
        return -1;
    }
  }
  return 0;
}
