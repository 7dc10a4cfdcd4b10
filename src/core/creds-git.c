/* --git-push: the agent pushes over HTTPS to the workspace's own remotes,
 * through the relay; the credential stays on the host.
 *
 * For each host of the workspace's https remotes: the user's credential
 * from their own git credential helpers (`git credential fill`, run from /,
 * outside any repository, so that no repository configuration the agent
 * could have written runs on the host: only the user's global and system
 * configuration), a relay route whose paths are only those remotes' smart-HTTP
 * endpoints, and in the sandbox git configuration (GIT_CONFIG_* variables):
 * the host's URLs rewritten to the route, and "Authorization: Basic
 * SENTINEL" sent to it.  The relay swaps the sentinel for the base64 of
 * user:password.  git 2.39 (the images') has no proactive Basic auth of its
 * own, and the relay's 401 has no challenge: the header is sent up front. */
#include "creds-int.h"
#include "gwproto.h"
#include "proc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

int adr_git_https_split(const char *url, char **origin, char **path)
{
  *origin = *path = NULL;
  if (!str_has_prefix(url, "https://"))
    return -1;
  const char *auth = url + 8;
  size_t alen = strcspn(auth, "/?#");
  if (alen == 0 || auth[alen] != '/')
    return -1;
  const char *at = memchr(auth, '@', alen); /* user[:password]@: not ours to keep */
  const char *host = at ? at + 1 : auth;
  size_t hlen = alen - (size_t)(host - auth);
  const char *p = auth + alen;
  size_t plen = strcspn(p, "?#");
  while (plen > 1 && p[plen - 1] == '/')
    plen--;
  if (hlen == 0 || plen < 2)
    return -1;
  for (size_t i = 0; i < hlen; i++)
    if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
          (host[i] >= '0' && host[i] <= '9') || strchr(".-:[]", host[i])))
      return -1;
  for (size_t i = 0; i < plen; i++)
    if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f || strchr("%\\;", p[i]))
      return -1;
  *path = xstrndup(p, plen);
  if (strstr(*path, "//") || strstr(*path, "/.")) {
    free(*path);
    *path = NULL;
    return -1;
  }
  *origin = xasprintf("https://%.*s", (int)hlen, host);
  return 0;
}

/* the remotes' URLs (fetch and push), as git prints the workspace's
 * configuration: no hook, no fsmonitor, nothing runs */
static int remote_urls(const char *ws, struct strv *urls, adr_err *err)
{
  const char *argv[] = {
    "git", "-C", ws, "-c", "core.fsmonitor=false", "config", "--get-regexp", "^remote\\..*\\.(push)?url$", NULL
  };
  cleanup_buf struct buf out;
  buf_init(&out, 1 << 20);
  struct adr_proc pr = { .argv = argv, .out = &out };
  int rc = adr_proc_run(&pr, err);
  if (rc < 0)
    return -1;
  for (char *line = out.data, *nl; rc == 0 && line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    const char *sp = strchr(line, ' ');
    if (sp && !strv_contains(urls, sp + 1))
      strv_push(urls, sp + 1);
  }
  return 0;
}

/* The user's credential for origin, from their git credential helpers:
 * base64(user:password) in *basic. */
static int credential(const char *origin, const char *path, char **basic, adr_err *err)
{
  cleanup_free char *in = xasprintf("protocol=https\nhost=%s\npath=%s\n\n", origin + 8, path + 1);
  const char *argv[] = { "git", "-c", "core.fsmonitor=false", "credential", "fill", NULL };
  const char *env[] = { "GIT_TERMINAL_PROMPT=0", NULL };
  const char *unset[] = { "GIT_ASKPASS", "SSH_ASKPASS", "GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG_PARAMETERS", NULL };
  cleanup_buf struct buf out, eout;
  buf_init(&out, 64 << 10);
  buf_init(&eout, 4096);
  struct adr_proc pr = {
    .argv = argv, .dir = "/", .env = env, .unset = unset, .out = &out, .errout = &eout, .input = in
  };
  int rc = adr_proc_run(&pr, err);
  const char *user = NULL, *pass = NULL;
  for (char *line = out.data, *nl; rc == 0 && line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    if (str_has_prefix(line, "username="))
      user = line + 9;
    else if (str_has_prefix(line, "password="))
      pass = line + 9;
  }
  int ret = -1;
  if (rc < 0) {
    adr_err_prefix(err, "--git-push: git credential fill");
  } else if (rc != 0 || !user || !pass || !*user || !*pass) {
    adr_err_set(err, ENOENT,
                "--git-push: no credential for %s from your git credential helpers (store one: git credential "
                "approve, or a push from the host)",
                origin);
  } else {
    cleanup_free char *up = xasprintf("%s:%s", user, pass);
    size_t n = strlen(up);
    *basic = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)*basic, (const unsigned char *)up, (int)n);
    explicit_bzero(up, n);
    ret = 0;
  }
  if (out.data)
    explicit_bzero(out.data, out.len);
  return ret;
}

static void route_name(const char *origin, char *want, size_t cap)
{
  int n = snprintf(want, cap, "git-%s", origin + 8);
  for (int i = 0; i < n && (size_t)i < cap - 1; i++) {
    char c = want[i];
    want[i] = (c >= 'A' && c <= 'Z')                               ? (char)(c - 'A' + 'a')
              : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) ? c
                                                                   : '-';
  }
}

int adr_creds_git_push(struct adr_creds_plan *p, const char *ws, adr_err *err)
{
  cleanup_strv struct strv urls = { 0 }, origins = { 0 }, paths = { 0 };
  if (remote_urls(ws, &urls, err) < 0)
    return adr_err_prefix(err, "--git-push: the workspace's remotes");
  for (size_t i = 0; i < urls.n; i++) {
    char *o = NULL, *pa = NULL;
    if (adr_git_https_split(urls.v[i], &o, &pa) == 0) {
      strv_push(&origins, o);
      strv_push(&paths, pa);
    }
    free(o);
    free(pa);
  }
  if (!origins.n)
    return adr_err_set(err, ENOENT, "--git-push: '%s' has no https remote (ssh remotes: --ssh-agent)", ws);
  struct planner pl = { .p = p };
  size_t nk = 0;
  for (size_t i = 0; i < origins.n; i++) {
    bool seen = false;
    for (size_t k = 0; k < i; k++)
      seen = seen || streq(origins.v[k], origins.v[i]);
    if (seen)
      continue;
    char *basic = NULL;
    if (credential(origins.v[i], paths.v[i], &basic, err) < 0)
      return -1;
    char want[GW_ROUTE_NAME_MAX + 1];
    route_name(origins.v[i], want, sizeof(want));
    cleanup_free char *src = xasprintf("--git-push %s", origins.v[i]);
    const char *rn = cp_route_add(&pl, want, origins.v[i], "git", basic, src);
    explicit_bzero(basic, strlen(basic));
    free(basic);
    struct adr_relay_route *rt = &p->routes[p->n_routes - 1];
    for (size_t k = i; k < origins.n; k++) {
      if (!streq(origins.v[k], origins.v[i]))
        continue;
      static const char *const ends[] = { "/info/refs", "/git-upload-pack", "/git-receive-pack" };
      for (size_t e = 0; e < ARRAY_SIZE(ends); e++) {
        cleanup_free char *pp = xasprintf("%s%s", paths.v[k], ends[e]);
        if (!strv_contains(&rt->paths, pp))
          strv_push(&rt->paths, pp);
      }
    }
    strv_pushf(&p->env, "GIT_CONFIG_KEY_%zu=url." ADR_RELAY_PLACEHOLDER "/%s/.insteadOf", nk, rn);
    strv_pushf(&p->env, "GIT_CONFIG_VALUE_%zu=%s/", nk++, origins.v[i]);
    strv_pushf(&p->env, "GIT_CONFIG_KEY_%zu=http." ADR_RELAY_PLACEHOLDER "/%s/.extraHeader", nk, rn);
    strv_pushf(&p->env, "GIT_CONFIG_VALUE_%zu=Authorization: Basic %s", nk++, rt->sentinel);
    strv_pushf(&p->git_hosts, "%s", origins.v[i] + 8);
  }
  strv_pushf(&p->env, "GIT_CONFIG_COUNT=%zu", nk);
  return 0;
}
