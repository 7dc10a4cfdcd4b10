/* Allow presets: the hosts this machine's package sources use (apt, npm,
 * pip, the workspace's git remotes), read from the host's own configuration. */
#include "netpolicy.h"
#include "buf.h"
#include "gwproto.h"
#include "policy.h"
#include "paths.h"
#include "proc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ presets */

static void push_url(struct strv *out, const char *url)
{
  char *h = NULL;
  unsigned port = 0;
  if (adr_url_host_port(url, &h, &port) < 0)
    return;
  char *e = strchr(h, ':') ? xasprintf("[%s]:%u", h, port) : xasprintf("%s:%u", h, port);
  if (!strv_contains(out, e))
    strv_push(out, e);
  free(e);
  free(h);
}

void adr_apt_sources_hosts(const char *text, struct strv *out)
{
  cleanup_free char *copy = xstrdup(text);
  char *save = NULL;
  for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    while (*line == ' ' || *line == '\t')
      line++;
    if (*line == '#')
      continue;
    char *hash = strchr(line, '#');
    if (hash)
      *hash = '\0';
    if (str_has_prefix(line, "deb ") || str_has_prefix(line, "deb-src ")) {
      char *p = strchr(line, ' ');
      while (*p == ' ')
        p++;
      if (*p == '[') { /* options */
        char *close = strchr(p, ']');
        if (!close)
          continue;
        p = close + 1;
        while (*p == ' ')
          p++;
      }
      char *end = p + strcspn(p, " \t");
      *end = '\0';
      push_url(out, p);
    } else if (strncasecmp(line, "URIs:", 5) == 0) {
      char *s2 = NULL;
      for (char *u = strtok_r(line + 5, " \t", &s2); u; u = strtok_r(NULL, " \t", &s2))
        push_url(out, u);
    }
  }
}

static void read_small(const char *path, struct buf *b)
{
  buf_init(b, 1u << 20);
  if (buf_read_file(b, path) < 0)
    buf_reset(b);
}

static void apt_hosts(struct strv *out)
{
  struct buf b;
  read_small("/etc/apt/sources.list", &b);
  if (b.len)
    adr_apt_sources_hosts(b.data, out);
  buf_free(&b);
  DIR *d = opendir("/etc/apt/sources.list.d");
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!str_has_suffix(de->d_name, ".list") && !str_has_suffix(de->d_name, ".sources"))
      continue;
    cleanup_free char *p = xasprintf("/etc/apt/sources.list.d/%s", de->d_name);
    read_small(p, &b);
    if (b.len)
      adr_apt_sources_hosts(b.data, out);
    buf_free(&b);
  }
  closedir(d);
}

/* Calls fn(key, value, out) for each KEY=VALUE line of a small config file
 * (npmrc, pip.conf), both trimmed of blanks. */
static void conf_pairs(const char *path, void (*fn)(const char *, char *, struct strv *), struct strv *out)
{
  struct buf b;
  read_small(path, &b);
  if (b.len) {
    cleanup_free char *copy = xstrdup(b.data);
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      char *eq = strchr(l, '=');
      if (!eq)
        continue;
      *eq = '\0';
      char *k = l, *v = eq + 1;
      while (*k == ' ' || *k == '\t')
        k++;
      size_t kl = strlen(k);
      while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
        k[--kl] = '\0';
      while (*v == ' ' || *v == '\t')
        v++;
      fn(k, v, out);
    }
  }
  buf_free(&b);
}

/* registry=URL and @scope:registry=URL */
static void npmrc_pair(const char *k, char *v, struct strv *out)
{
  if (streq(k, "registry") || str_has_suffix(k, ":registry")) {
    v[strcspn(v, " \r")] = '\0';
    push_url(out, v);
  }
}

/* Every blank-separated URL of list (modified). */
static void push_urls(struct strv *out, char *list)
{
  char *save = NULL;
  for (char *u = strtok_r(list, " \t\r\n", &save); u; u = strtok_r(NULL, " \t\r\n", &save))
    push_url(out, u);
}

/* index-url and extra-index-url (several URLs allowed) */
static void pip_pair(const char *k, char *v, struct strv *out)
{
  if (streq(k, "index-url") || streq(k, "extra-index-url"))
    push_urls(out, v);
}

/* Runs argv and takes the last blank-separated field of each line of its
 * output as a URL ("URL" alone, or git's "KEY URL"). */
static void run_lines(const char *const *argv, struct strv *out)
{
  struct buf o;
  buf_init(&o, 1u << 16);
  struct buf e;
  buf_init(&e, 1u << 16);
  struct adr_proc pr = { .argv = argv, .out = &o, .errout = &e };
  cleanup_err adr_err err = NULL;
  if (adr_proc_run(&pr, &err) == 0 && o.len) {
    cleanup_free char *copy = xstrdup(o.data);
    char *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      char *sp = strrchr(l, ' ');
      push_url(out, sp ? sp + 1 : l);
    }
  }
  buf_free(&o);
  buf_free(&e);
}

static void npm_hosts(struct strv *out)
{
  size_t before = out->n;
  const char *env = getenv("npm_config_registry");
  if (!env)
    env = getenv("NPM_CONFIG_REGISTRY");
  if (env)
    push_url(out, env);
  cleanup_free char *home = adr_home_dir();
  cleanup_free char *user = xasprintf("%s/.npmrc", home);
  conf_pairs(user, npmrc_pair, out);
  conf_pairs("/etc/npmrc", npmrc_pair, out);
  if (out->n == before) { /* npm's own default, from npm itself */
    const char *argv[] = { "npm", "config", "get", "registry", NULL };
    run_lines(argv, out);
  }
}

static void pip_hosts(struct strv *out)
{
  size_t before = out->n;
  const char *envs[] = { "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL" };
  for (size_t i = 0; i < ARRAY_SIZE(envs); i++) {
    const char *v = getenv(envs[i]);
    if (!v)
      continue;
    cleanup_free char *c = xstrdup(v);
    push_urls(out, c);
  }
  cleanup_free char *home = adr_home_dir();
  cleanup_free char *a = xasprintf("%s/.config/pip/pip.conf", home);
  cleanup_free char *b = xasprintf("%s/.pip/pip.conf", home);
  conf_pairs(a, pip_pair, out);
  conf_pairs(b, pip_pair, out);
  conf_pairs("/etc/pip.conf", pip_pair, out);
  if (out->n == before) { /* pip's own default index and file host, from pip itself */
    const char *argv[] = { "python3", "-c",
                           "from pip._internal.models.index import PyPI as p\n"
                           "print(p.simple_url)\nprint('https://' + p.file_storage_domain + '/')",
                           NULL };
    run_lines(argv, out);
  }
}

static void git_hosts(const char *ws, struct strv *out)
{
  if (!ws)
    return;
  /* only what git itself prints of the workspace's configuration; no hooks,
   * no fsmonitor: "config --get-regexp" runs nothing */
  const char *argv[] = {
    "git", "-C", ws, "-c", "core.fsmonitor=false", "config", "--get-regexp", "^remote\\..*\\.(push)?url$", NULL
  };
  run_lines(argv, out);
}

static const char *const preset_names[] = { "packages", NULL };
const char *const *adr_netpolicy_preset_names(void) { return preset_names; }

int adr_netpolicy_preset(struct adr_netpolicy *p, const char *name, const char *workspace, adr_err *err)
{
  if (!streq(name, "packages"))
    return adr_err_set(err, EINVAL, "unknown allow preset '%s' (packages)", name ? name : "");
  struct {
    const char *what;
    void (*fn)(struct strv *);
  } srcs[] = { { "apt", apt_hosts }, { "npm", npm_hosts }, { "pip", pip_hosts } };
  for (size_t i = 0; i < ARRAY_SIZE(srcs) + 1; i++) {
    cleanup_strv struct strv hosts = { 0 };
    const char *what = i < ARRAY_SIZE(srcs) ? srcs[i].what : "git remote";
    if (i < ARRAY_SIZE(srcs))
      srcs[i].fn(&hosts);
    else
      git_hosts(workspace, &hosts);
    cleanup_free char *src = xasprintf("preset packages (%s):", what);
    for (size_t j = 0; j < hosts.n; j++) {
      cleanup_err adr_err e = NULL;
      adr_netpolicy_add(p, hosts.v[j], src, &e); /* an odd host in a host file is skipped */
    }
  }
  return 0;
}
