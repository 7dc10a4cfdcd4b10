#include "spec.h"

void adr_spec_init(struct adr_spec *s)
{
  memset(s, 0, sizeof(*s));
  s->read_only_root = true;
  s->no_new_privileges = true;
  s->drop_all_caps = true;
  s->init = true;
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
  strv_free(&s->extra_hosts);
  strv_free(&s->cap_add);
  free(s->network);
  free(s->ipv4);
  strv_free(&s->dns);
  strv_free(&s->entrypoint);
  strv_free(&s->sysctls);
  free(s->restart);
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
}

void adr_spec_add_tmpfs(struct adr_spec *s, const char *target, uint64_t size, unsigned mode, long uid, long gid)
{
  struct adr_spec_mount *m = add_mount(s);
  m->type = ADR_MOUNT_TMPFS;
  m->target = xstrdup(target);
  m->size = size;
  m->mode = mode;
  m->uid = uid;
  m->gid = gid;
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

static const char *strv_non_utf8(const struct strv *v)
{
  for (size_t i = 0; i < v->n; i++)
    if (!utf8_valid(v->v[i]))
      return v->v[i];
  return NULL;
}

const char *adr_spec_non_utf8(const struct adr_spec *s)
{
  const char *single[] = { s->name, s->image, s->user, s->workdir, s->hostname, s->network, s->seccomp_profile };
  for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++)
    if (single[i] && !utf8_valid(single[i]))
      return single[i];
  const struct strv *lists[] = { &s->cmd, &s->env, &s->labels, &s->extra_hosts, &s->cap_add };
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
