#include "config.h"
#include "spec.h"
#include "agent.h"
#include "buf.h"
#include "engine.h"
#include "netpolicy.h"
#include "parse.h"
#include "paths.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define CONFIG_FILE_LIMIT (1u << 20)

static const struct adr_config_key keys[] = {
  { "ADR_AGENT", ADR_KEY_NAME, NULL, "agent used when none is named (unset: the only agent built, if just one is)" },
  { "ADR_TAG", ADR_KEY_TAG, "latest", "image tag for agent images" },
  { "ADR_MODEL_*", ADR_KEY_STRING, NULL, "default model for one agent, e.g. ADR_MODEL_PI=openai/gpt-5" },
  { "ADR_ARGS_*", ADR_KEY_STRING, NULL,
    "extra arguments for one agent, space separated, before those after '--', e.g. ADR_ARGS_CLAUDE=--verbose" },
  { "ADR_IMAGE_PREFIX", ADR_KEY_STRING, "coding-agent", "repository prefix of agent images (PREFIX/AGENT:TAG)", true },
  { "ADR_MOUNTS", ADR_KEY_MOUNTS, NULL, "extra mounts, space separated HOST:CONTAINER[:ro|rw]", true },
  { "ADR_EXTRA_CA", ADR_KEY_STRING, "auto",
    "CA certificates trusted in images and by the credential relay: auto (host's local CAs), none, or files/dirs "
    "separated by ':'",
    true },
  { "ADR_MEMORY", ADR_KEY_SIZE, "4g", "memory limit of a sandbox" },
  { "ADR_CPUS", ADR_KEY_CPUS, "2", "CPU limit of a sandbox" },
  { "ADR_PIDS", ADR_KEY_UINT, "1024", "process limit of a sandbox" },
  { "ADR_PROJECT_IMAGE", ADR_KEY_STRING, NULL,
    "the project's own image to run agents in (adr adds the agent to it; --image)" },
  { "ADR_DEVCONTAINER_ENV", ADR_KEY_STRING, NULL,
    "host variables a devcontainer.json may read with ${localEnv:NAME}, space separated (beyond USER, HOME, LANG, "
    "TZ, TERM, ...)",
    true },
  { "ADR_SCAN_ALLOW", ADR_KEY_STRING, NULL,
    "paths in images adr builds that may hold a key (the secret scan does not stop them), space separated", true },
  { "ADR_GPUS", ADR_KEY_GPUS, NULL,
    "GPUs a sandbox gets through the engine's GPU runtime: all, a count, or device=ID[,ID] (default: none)", true },
  { "ADR_HOME_SIZE", ADR_KEY_SIZE, "1g", "size of the sandbox's HOME tmpfs" },
  { "ADR_TMP_SIZE", ADR_KEY_SIZE, "1g", "size of the sandbox's /tmp tmpfs" },
  { "ADR_TIMEOUT", ADR_KEY_DURATION, NULL,
    "stop a headless run after this long (60 = seconds, 30s, 15m, 2h, 1d; at least 5s)" },
  { "ADR_SANDBOX_UID", ADR_KEY_UINT, "1000", "uid:gid the agent runs as when adr runs as root", true },
  { "ADR_NETWORK", ADR_KEY_NETMODE, NULL,
    "network mode: none, allowlist or open (default: the agent's, else allowlist)", true },
  { "ADR_ALLOW", ADR_KEY_ALLOW, NULL,
    "hosts an allowlist sandbox may reach, space separated HOST[:PORT] (*.example.com)", true },
  { "ADR_ALLOW_PRESETS", ADR_KEY_PRESETS, NULL,
    "allow presets, space separated: packages (this host's package sources)", true },
  { "ADR_DNS", ADR_KEY_STRING, NULL,
    "resolvers the egress gateway asks, space separated IP[:PORT] (default: the host's)", true },
  { "ADR_RELAY", ADR_KEY_ONOFF, "on",
    "credential relay: on (API keys stay on the host, the sandbox gets sentinels) or off", true },
  { "ADR_EGRESS_POOL", ADR_KEY_UINT, "1",
    "allowlist networks and gateways kept ready for the next runs (0-8; 0: each run makes its own)", true },
  { "ADR_WARM", ADR_KEY_UINT, "0",
    "idle sandboxes kept per repository and agent for the next 'adr start' (0-8; 0: none)", true },
  { "ADR_COORDINATOR", ADR_KEY_STRING, "http://127.0.0.1:7878",
    "the coordinator adr submit and adr runs talk to (adr serve); the environment variable wins", true },
  { "ADR_NETWORK_POOL", ADR_KEY_STRING, "10.213.0.0/16", "IPv4 prefix adr carves allowlist sandbox networks from",
    true },
  { "ADR_ENGINE", ADR_KEY_ENGINE, NULL,
    "container engine: docker, podman or auto (unset: DOCKER_HOST, the docker context, the default socket, else "
    "Podman's); the ADR_ENGINE environment variable wins",
    true },
};

const struct adr_config_key *adr_config_keys(size_t *n)
{
  *n = ARRAY_SIZE(keys);
  return keys;
}

const struct adr_config_key *adr_config_key_find(const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    size_t l = strlen(keys[i].name);
    if (keys[i].name[l - 1] == '*') {
      if (strncmp(name, keys[i].name, l - 1) == 0 && name[l - 1] != '\0')
        return &keys[i];
    } else if (strcmp(name, keys[i].name) == 0) {
      return &keys[i];
    }
  }
  return NULL;
}

static bool valid_tag(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > 128 || s[0] == '.' || s[0] == '-')
    return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
          *p == '-'))
      return false;
  return true;
}

int adr_config_validate(const char *key, const char *value, adr_err *err)
{
  const struct adr_config_key *k = adr_config_key_find(key);
  if (k == NULL)
    return 0;
  uint64_t u;
  int64_t i;
  switch (k->type) {
  case ADR_KEY_STRING:
  case ADR_KEY_MOUNTS: /* paths are checked when a run uses them */ return 0;
  case ADR_KEY_SIZE: return adr_parse_size(value, &u, err);
  case ADR_KEY_DURATION:
    if (*value == '\0')
      return 0;
    return adr_parse_duration(value, &u, err);
  case ADR_KEY_CPUS: return adr_parse_cpus(value, &i, err);
  case ADR_KEY_GPUS: {
    if (*value == '\0')
      return 0;
    struct adr_spec_gpus g = { 0 };
    int r = adr_parse_gpus(value, &g, err);
    strv_free(&g.device_ids);
    return r;
  }
  case ADR_KEY_UINT:
    if (adr_parse_uint(value, UINT32_MAX - 1, &u) < 0)
      return adr_err_set(err, EINVAL, "invalid number '%s'", value);
    return 0;
  case ADR_KEY_NAME:
    if (!adr_agent_name_valid(value))
      return adr_err_set(err, EINVAL, "invalid agent name '%s' (lowercase letters, digits, '-', '_', '.')", value);
    return 0;
  case ADR_KEY_TAG:
    if (!valid_tag(value))
      return adr_err_set(err, EINVAL, "invalid image tag '%s'", value);
    return 0;
  case ADR_KEY_ONOFF:
    if (streq(value, "on") || streq(value, "off"))
      return 0;
    return adr_err_set(err, EINVAL, "'%s': expected on or off", value);
  case ADR_KEY_ENGINE:
    if (streq(value, "auto"))
      return 0;
    for (const char *const *n = adr_engine_names(); *n; n++)
      if (streq(*n, value))
        return 0;
    return adr_err_set(err, EINVAL, "unknown engine '%s' (docker, podman, auto)", value);
  case ADR_KEY_NETMODE: {
    enum adr_netmode m;
    return adr_netmode_parse(value, &m, err);
  }
  case ADR_KEY_ALLOW: {
    struct adr_netpolicy p = { 0 };
    int r = adr_netpolicy_add_list(&p, value, "ADR_ALLOW", err);
    adr_netpolicy_free(&p);
    return r;
  }
  case ADR_KEY_PRESETS: {
    cleanup_free char *c = xstrdup(value);
    char *save = NULL;
    for (char *t = strtok_r(c, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
      bool ok = false;
      for (const char *const *n = adr_netpolicy_preset_names(); *n; n++)
        ok = ok || streq(*n, t);
      if (!ok)
        return adr_err_set(err, EINVAL, "unknown allow preset '%s' (packages)", t);
    }
    return 0;
  }
  }
  return 0;
}

void adr_config_put(struct adr_config *c, const char *key, const char *value, const char *origin)
{
  for (size_t i = 0; i < c->n; i++) {
    if (strcmp(c->e[i].key, key) == 0) {
      free(c->e[i].value);
      free(c->e[i].origin);
      c->e[i].value = xstrdup(value);
      c->e[i].origin = xstrdup(origin);
      return;
    }
  }
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 32;
    c->e = xrealloc(c->e, c->cap * sizeof(*c->e));
  }
  c->e[c->n].key = xstrdup(key);
  c->e[c->n].value = xstrdup(value);
  c->e[c->n].origin = xstrdup(origin);
  c->n++;
}

const struct adr_config_entry *adr_config_entry(const struct adr_config *c, const char *key)
{
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->e[i].key, key) == 0)
      return &c->e[i];
  return NULL;
}

void adr_config_get_list(const struct adr_config *c, const char *key, struct strv *out)
{
  const char *v = adr_config_get(c, key);
  if (!v || !*v)
    return;
  cleanup_free char *copy = xstrdup(v);
  char *save = NULL;
  for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save))
    strv_push(out, t);
}

const char *adr_config_get(const struct adr_config *c, const char *key)
{
  const struct adr_config_entry *e = adr_config_entry(c, key);
  return e ? e->value : NULL;
}

void adr_config_init(struct adr_config *c)
{
  memset(c, 0, sizeof(*c));
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
    if (keys[i].def)
      adr_config_put(c, keys[i].name, keys[i].def, "default");
}

void adr_config_free(struct adr_config *c)
{
  for (size_t i = 0; i < c->n; i++) {
    free(c->e[i].key);
    free(c->e[i].value);
    free(c->e[i].origin);
  }
  free(c->e);
  free(c->global_path);
  free(c->project_path);
  strv_free(&c->warnings);
  strv_free(&c->unknown);
  memset(c, 0, sizeof(*c));
}

struct load_ctx {
  struct adr_config *c;
  const char *fname;
};

static int load_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  struct load_ctx *l = ud;
  if (adr_config_key_find(key) == NULL) {
    /* once per key, and a bounded number in all: a file of garbage must
     * not cost quadratic time or a screen of warnings */
    struct adr_config *c = l->c;
    if (c->unknown.n > ADR_CONFIG_MAX_WARNINGS || strv_contains(&c->unknown, key))
      return 0;
    if (c->unknown.n == ADR_CONFIG_MAX_WARNINGS) {
      strv_pushf(&c->warnings, "%s:%u: more unknown keys (not shown)", l->fname, line);
      strv_push(&c->unknown, "");
      return 0;
    }
    strv_push(&c->unknown, key);
    strv_pushf(&c->warnings, "%s:%u: unknown key '%s' (ignored)", l->fname, line, key);
    return 0;
  }
  if (l->c->loading_project && adr_config_key_find(key)->host_only) {
    strv_pushf(
      &l->c->warnings,
      "%s:%u: %s is ignored in a project file (an agent can write one); set it with 'adr config set' or a flag",
      l->fname, line, key);
    return 0;
  }
  if (adr_config_validate(key, value, err) < 0)
    return adr_err_prefix(err, "%s:%u: %s", l->fname, line, key);
  cleanup_free char *origin = xasprintf("%s:%u", l->fname, line);
  adr_config_put(l->c, key, value, origin);
  return 0;
}

int adr_config_load_buf(struct adr_config *c, const char *data, size_t len, const char *fname, adr_err *err)
{
  struct load_ctx l = { c, fname };
  return adr_kv_parse(data, len, fname, 0, load_cb, &l, err);
}

int adr_config_load_file(struct adr_config *c, const char *path, bool must_exist, adr_err *err)
{
  cleanup_buf struct buf b;
  buf_init(&b, CONFIG_FILE_LIMIT);
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
    return adr_err_set(err, EINVAL, "config file '%s': not a regular file", path);
  if (buf_read_file(&b, path) < 0) {
    if (errno == ENOENT && !must_exist)
      return 0;
    if (errno == EFBIG)
      return adr_err_set(err, EFBIG, "config file '%s': larger than 1 MiB", path);
    return adr_err_sys(err, errno, "read config file '%s'", path);
  }
  return adr_config_load_buf(c, b.data, b.len, path, err);
}

char *adr_config_global_path(void)
{
  cleanup_free char *d = adr_config_dir();
  return xasprintf("%s/config", d);
}

char *adr_config_engine(const struct adr_config *c)
{
  if (c) {
    const char *v = adr_config_get(c, "ADR_ENGINE");
    return v ? xstrdup(v) : NULL;
  }
  cleanup_config struct adr_config g;
  adr_config_init(&g);
  cleanup_free char *path = adr_config_global_path();
  cleanup_err adr_err err = NULL;
  if (adr_config_load_file(&g, path, false, &err) < 0)
    return NULL; /* the commands that load the config report it */
  const char *v = adr_config_get(&g, "ADR_ENGINE");
  return v ? xstrdup(v) : NULL;
}

char *adr_config_find_project(const char *cwd)
{
  cleanup_free char *dir = adr_path_normalize(cwd);
  for (;;) {
    cleanup_free char *p = xasprintf("%s%s.adr", dir, streq(dir, "/") ? "" : "/");
    struct stat st;
    if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
      return xstrdup(p);
    if (streq(dir, "/"))
      return NULL;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
      dir[1] = '\0';
    else
      *slash = '\0';
  }
}

int adr_config_load(struct adr_config *c, const char *cwd, adr_err *err)
{
  c->global_path = adr_config_global_path();
  if (adr_config_load_file(c, c->global_path, false, err) < 0)
    return -1;
  c->project_path = cwd ? adr_config_find_project(cwd) : NULL;
  c->loading_project = true;
  int r = c->project_path ? adr_config_load_file(c, c->project_path, true, err) : 0;
  c->loading_project = false;
  return r;
}

/* ------------------------------------------------------------ file edits */

struct find_ctx {
  const char *key;
  unsigned *lines;
  size_t n;
};

static int find_cb(const char *key, const char *value, unsigned line, void *ud, adr_err *err)
{
  (void)value;
  (void)err;
  struct find_ctx *f = ud;
  if (strcmp(key, f->key) == 0) {
    f->lines = xrealloc(f->lines, (f->n + 1) * sizeof(unsigned));
    f->lines[f->n++] = line;
  }
  return 0;
}

static int rewrite(const char *path, const char *key, const char *value, adr_err *err)
{
  cleanup_buf struct buf in;
  buf_init(&in, CONFIG_FILE_LIMIT);
  bool exists = true;
  if (buf_read_file(&in, path) < 0) {
    if (errno != ENOENT)
      return adr_err_sys(err, errno, "read '%s'", path);
    exists = false;
    buf_append(&in, "", 0);
  }
  struct find_ctx f = { key, NULL, 0 };
  if (adr_kv_parse(in.data, in.len, path, ADR_KV_ALLOW_BARE, find_cb, &f, err) < 0) {
    free(f.lines);
    return adr_err_prefix(err, "cannot edit a malformed file");
  }
  cleanup_free char *line_text = NULL;
  if (value) {
    cleanup_free char *q = adr_kv_quote(value);
    line_text = xasprintf("%s=%s", key, q);
    if (strlen(line_text) > ADR_KV_MAX_LINE) {
      free(f.lines);
      return adr_err_set(err, E2BIG, "value of %s too long (a line holds at most %d bytes)", key, ADR_KV_MAX_LINE);
    }
  }
  struct buf out;
  buf_init(&out, 0);
  buf_append(&out, "", 0);
  const char *p = in.data, *end = in.data + in.len;
  unsigned lineno = 0;
  bool done = false;
  while (p < end) {
    lineno++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    bool match = false;
    for (size_t i = 0; i < f.n; i++)
      if (f.lines[i] == lineno)
        match = true;
    if (match) {
      if (line_text && !done) {
        buf_puts(&out, line_text);
        buf_append(&out, "\n", 1);
      }
      done = true;
    } else {
      buf_append(&out, p, len);
      buf_append(&out, "\n", 1);
    }
    p = nl ? nl + 1 : end;
  }
  free(f.lines);
  if (!done && line_text) {
    buf_puts(&out, line_text);
    buf_append(&out, "\n", 1);
  }
  struct stat st;
  unsigned mode = exists && stat(path, &st) == 0 ? (st.st_mode & 07777) : 0644;
  int r = write_file_atomic(path, out.data, out.len, mode);
  int saved = errno;
  buf_free(&out);
  if (r < 0)
    return adr_err_sys(err, saved, "write '%s'", path);
  return 0;
}

int adr_config_file_set(const char *path, const char *key, const char *value, adr_err *err)
{
  cleanup_free char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  if (slash && slash != dir) {
    *slash = '\0';
    if (adr_mkdir_p(dir, 0755, err) < 0)
      return -1;
  }
  return rewrite(path, key, value, err);
}

int adr_config_file_unset(const char *path, const char *key, adr_err *err) { return rewrite(path, key, NULL, err); }
