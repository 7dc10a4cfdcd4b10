#include "spec.h"

#include <openssl/evp.h>

#include <errno.h>

void adr_spec_init(struct adr_spec *s)
{
  memset(s, 0, sizeof(*s));
  s->net.kind = ADR_SPEC_NET_OUTBOUND;
  s->restart = ADR_RESTART_NO;
  /* the MUST list of spec.h */
  s->read_only_root = true;
  s->no_new_privileges = true;
  s->drop_all_caps = true;
  s->ipc_private = true;
  s->cgroupns_private = true;
  s->privileged = false;
  s->swap_limited = true;
  s->init = true;
  s->seccomp = ADR_SECCOMP_ENGINE; /* adr's policy is data the builder passes (adr_spec_set_seccomp) */
}

void adr_spec_free(struct adr_spec *s)
{
  free(s->name);
  free(s->image);
  strv_free(&s->cmd);
  strv_free(&s->env);
  free(s->user);
  free(s->workdir);
  free(s->hostname);
  for (size_t i = 0; i < s->n_mounts; i++) {
    free(s->mounts[i].source);
    free(s->mounts[i].target);
  }
  free(s->mounts);
  strv_free(&s->labels);
  strv_free(&s->cap_add);
  strv_free(&s->gpus.device_ids);
  free(s->net.name);
  free(s->net.ipv4);
  strv_free(&s->net.aliases);
  strv_free(&s->health.test);
  strv_free(&s->dns);
  strv_free(&s->entrypoint);
  strv_free(&s->sysctls);
  free(s->seccomp_profile);
  memset(s, 0, sizeof(*s));
}

static struct adr_spec_mount *add_mount(struct adr_spec *s)
{
  s->mounts = xrealloc(s->mounts, (s->n_mounts + 1) * sizeof(*s->mounts));
  struct adr_spec_mount *m = &s->mounts[s->n_mounts++];
  memset(m, 0, sizeof(*m));
  m->uid = m->gid = -1;
  return m;
}

void adr_spec_add_bind(struct adr_spec *s, const char *source, const char *target, bool readonly)
{
  struct adr_spec_mount *m = add_mount(s);
  m->type = ADR_MOUNT_BIND;
  m->source = xstrdup(source);
  m->target = xstrdup(target);
  m->readonly = readonly;
  m->rprivate = true;
}

void adr_spec_add_tmpfs(struct adr_spec *s, const char *target, uint64_t size, unsigned mode, long uid, long gid)
{
  struct adr_spec_mount *m = add_mount(s);
  m->type = ADR_MOUNT_TMPFS;
  m->target = xstrdup(target);
  m->nosuid = true;
  m->nodev = true;
  m->noexec = false;
  m->size = size ? size : ADR_TMPFS_DEFAULT_SIZE;
  m->mode = mode ? mode : ADR_TMPFS_DEFAULT_MODE;
  m->uid = uid;
  m->gid = uid >= 0 && gid < 0 ? uid : gid;
}

void adr_spec_set_label(struct adr_spec *s, const char *key, const char *value)
{
  size_t kl = strlen(key);
  for (size_t i = 0; i < s->labels.n; i++) {
    if (strncmp(s->labels.v[i], key, kl) == 0 && s->labels.v[i][kl] == '=') {
      free(s->labels.v[i]);
      s->labels.v[i] = xasprintf("%s=%s", key, value);
      return;
    }
  }
  strv_pushf(&s->labels, "%s=%s", key, value);
}

void adr_spec_set_labels(struct adr_spec *s, const struct strv *kv)
{
  for (size_t i = 0; i < kv->n; i++) {
    const char *eq = strchr(kv->v[i], '=');
    if (!eq)
      continue;
    cleanup_free char *key = xstrndup(kv->v[i], (size_t)(eq - kv->v[i]));
    adr_spec_set_label(s, key, eq + 1);
  }
}

void adr_spec_set_net(struct adr_spec *s, enum adr_spec_net_kind kind, const char *name, const char *ipv4)
{
  free(s->net.name);
  free(s->net.ipv4);
  s->net.kind = kind;
  s->net.name = name ? xstrdup(name) : NULL;
  s->net.ipv4 = ipv4 ? xstrdup(ipv4) : NULL;
  if (kind != ADR_SPEC_NET_ATTACH)
    strv_free(&s->net.aliases);
  if (kind == ADR_SPEC_NET_JOIN) {
    free(s->hostname);
    s->hostname = NULL;
    s->host_alias = false;
    strv_free(&s->dns);
  }
}

void adr_spec_set_seccomp(struct adr_spec *s, enum adr_seccomp mode, const char *profile)
{
  free(s->seccomp_profile);
  s->seccomp = mode;
  s->seccomp_profile = mode == ADR_SECCOMP_ADR && profile ? xstrdup(profile) : NULL;
}

static const char *strv_non_utf8(const struct strv *v)
{
  for (size_t i = 0; i < v->n; i++)
    if (!utf8_valid(v->v[i]))
      return v->v[i];
  return NULL;
}

const char *adr_spec_non_utf8(const struct adr_spec *s)
{
  const char *single[] = { s->name,     s->image,    s->user,     s->workdir,
                           s->hostname, s->net.name, s->net.ipv4, s->seccomp_profile };
  for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
    if (single[i] && !utf8_valid(single[i]))
      return single[i];
  const struct strv *lists[] = { &s->cmd,        &s->env,     &s->labels,      &s->cap_add,    &s->dns,
                                 &s->entrypoint, &s->sysctls, &s->net.aliases, &s->health.test };
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    const char *bad = strv_non_utf8(lists[i]);
    if (bad)
      return bad;
  }
  for (size_t i = 0; i < s->n_mounts; i++) {
    if (s->mounts[i].source && !utf8_valid(s->mounts[i].source))
      return s->mounts[i].source;
    if (s->mounts[i].target && !utf8_valid(s->mounts[i].target))
      return s->mounts[i].target;
  }
  return NULL;
}

int adr_spec_check(const struct adr_spec *s, adr_err *err)
{
  const char *bad = adr_spec_non_utf8(s);
  if (bad) {
    cleanup_free char *shown = adr_str_escape(bad, 120);
    return adr_err_set(err, EILSEQ, "'%s' is not valid UTF-8 (the engine API cannot carry it)", shown);
  }
  if (s->privileged)
    return adr_err_set(err, EPERM, "a privileged sandbox is never made");
  if (s->image == NULL || *s->image == '\0')
    return adr_err_set(err, EINVAL, "sandbox without an image");
  switch (s->net.kind) {
  case ADR_SPEC_NET_OUTBOUND:
  case ADR_SPEC_NET_NONE:
    if (s->net.ipv4 || s->net.aliases.n)
      return adr_err_set(err, EINVAL, "a fixed address or a name needs a network adr made");
    break;
  case ADR_SPEC_NET_JOIN:
    if (!s->net.name || !*s->net.name)
      return adr_err_set(err, EINVAL, "joining a network namespace needs the sandbox that holds it");
    if (s->net.ipv4 || s->net.aliases.n || s->hostname || s->host_alias || s->dns.n)
      return adr_err_set(err, EINVAL, "a sandbox that joins '%s' takes its address, hostname, hosts and resolvers",
                         s->net.name);
    break;
  case ADR_SPEC_NET_ATTACH:
    if (!s->net.name || !*s->net.name)
      return adr_err_set(err, EINVAL, "attaching to a network needs its name");
    break;
  default: return adr_err_set(err, EINVAL, "unknown network kind %d", (int)s->net.kind);
  }
  if (s->seccomp == ADR_SECCOMP_ADR && (!s->seccomp_profile || !*s->seccomp_profile))
    return adr_err_set(err, EINVAL, "adr's seccomp policy is missing its text");
  return 0;
}

/* ------------------------------------------------------------ digest */

/* Every value with a tag and a length: no two specs feed the same bytes. */
static void d_bytes(EVP_MD_CTX *c, char tag, const void *p, size_t n)
{
  uint64_t len = n;
  EVP_DigestUpdate(c, &tag, 1);
  EVP_DigestUpdate(c, &len, sizeof(len));
  if (n)
    EVP_DigestUpdate(c, p, n);
}
static void d_str(EVP_MD_CTX *c, char tag, const char *s) { d_bytes(c, s ? tag : '0', s ? s : "", s ? strlen(s) : 0); }
static void d_int(EVP_MD_CTX *c, char tag, int64_t v) { d_bytes(c, tag, &v, sizeof(v)); }
static void d_strv(EVP_MD_CTX *c, char tag, const struct strv *v)
{
  d_int(c, tag, (int64_t)v->n);
  for (size_t i = 0; i < v->n; i++)
    d_str(c, tag, v->v[i]);
}

static char *hex_of(const unsigned char *md, unsigned n)
{
  char *hex = xmalloc(2 * n + 1);
  for (unsigned i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

char *adr_sha256_hex(const void *data, size_t len)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(len ? data : "", len, md, &n, EVP_sha256(), NULL);
  return hex_of(md, n);
}

char *adr_spec_digest(const struct adr_spec *s, const struct strv *extra)
{
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
    abort(); /* out of memory */
  d_str(c, 'i', s->image);
  d_strv(c, 'e', &s->env);
  d_str(c, 'u', s->user);
  d_str(c, 'w', s->workdir);
  d_str(c, 'h', s->hostname);
  d_int(c, 'm', (int64_t)s->n_mounts);
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct adr_spec_mount *m = &s->mounts[i];
    d_int(c, 't', m->type);
    d_str(c, 's', m->source);
    d_str(c, 'd', m->target);
    d_int(c, 'f', m->readonly | m->rprivate << 1 | m->nosuid << 2 | m->nodev << 3 | m->noexec << 4);
    d_int(c, 'z', (int64_t)m->size);
    d_int(c, 'o', m->mode);
    d_int(c, 'U', m->uid);
    d_int(c, 'G', m->gid);
  }
  d_int(c, 'a', s->host_alias);
  d_strv(c, 'E', &s->entrypoint);
  d_strv(c, 'S', &s->sysctls);
  d_int(c, 'r', s->restart);
  d_int(c, 'T', s->tty | s->interactive << 1 | s->detachable << 2);
  d_int(c, 'M', s->memory);
  d_int(c, 'C', s->nano_cpus);
  d_int(c, 'P', s->pids);
  d_int(c, 'g', s->gpus.count);
  d_strv(c, 'D', &s->gpus.device_ids);
  d_strv(c, 'q', &s->health.test);
  d_int(c, 'v', s->health.interval_ms);
  d_int(c, 'V', s->health.timeout_ms);
  d_int(c, 'y', s->health.start_period_ms);
  d_int(c, 'Y', s->health.retries);
  d_int(c, 'H',
        s->read_only_root | s->no_new_privileges << 1 | s->drop_all_caps << 2 | s->ipc_private << 3 |
          s->cgroupns_private << 4 | s->privileged << 5 | s->swap_limited << 6 | s->init << 7);
  d_strv(c, 'c', &s->cap_add);
  d_int(c, 'k', s->seccomp);
  d_str(c, 'K', s->seccomp_profile);
  if (extra)
    d_strv(c, 'x', extra);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(c, md, &n);
  EVP_MD_CTX_free(c);
  return hex_of(md, n);
}
