/* The agent skill (skill.h). */
#include "skill.h"
#include "buf.h"
#include "builtin.h"
#include "fs.h"
#include "parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *adr_skill_text(size_t *len)
{
  const struct adr_builtin_file *f = adr_builtin_find("skill/" ADR_SKILL_NAME "/SKILL.md");
  *len = f ? f->len : 0;
  return f ? (const char *)f->data : "";
}

const char *adr_skill_state_name(enum adr_skill_state s)
{
  switch (s) {
  case ADR_SKILL_WRITTEN: return "installed";
  case ADR_SKILL_UPDATED: return "updated";
  case ADR_SKILL_UNCHANGED: return "up to date";
  case ADR_SKILL_KEPT: return "kept: not adr's (--force to replace or remove it)";
  case ADR_SKILL_REMOVED: return "removed";
  case ADR_SKILL_ABSENT: return "not installed";
  default: return "?";
  }
}

void adr_skill_results_free(struct adr_skill_result *v, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(v[i].agent);
    free(v[i].path);
  }
  free(v);
}

/* 0 with the state, -1 with err */
static int one(const char *path, bool remove, bool force, enum adr_skill_state *st, adr_err *err)
{
  size_t len;
  const char *text = adr_skill_text(&len);
  struct buf have;
  buf_init(&have, 1 << 20);
  int r = buf_read_file(&have, path);
  int rerr = errno;
  bool exists = r == 0;
  bool ours = exists && have.data && strstr(have.data, ADR_SKILL_MARKER);
  bool same = exists && have.len == len && memcmp(have.data, text, len) == 0;
  buf_free(&have);
  if (!exists && rerr != ENOENT)
    return adr_err_sys(err, rerr, "read '%s'", path);
  if (remove) {
    if (!exists) {
      *st = ADR_SKILL_ABSENT;
      return 0;
    }
    if (!ours && !force) {
      *st = ADR_SKILL_KEPT;
      return 0;
    }
    if (unlink(path) < 0)
      return adr_err_sys(err, errno, "remove '%s'", path);
    cleanup_free char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    rmdir(dir); /* only when nothing else is there */
    *st = ADR_SKILL_REMOVED;
    return 0;
  }
  if (same) {
    *st = ADR_SKILL_UNCHANGED;
    return 0;
  }
  if (exists && !ours && !force) {
    *st = ADR_SKILL_KEPT;
    return 0;
  }
  cleanup_free char *dir = xstrdup(path);
  *strrchr(dir, '/') = '\0';
  if (adr_mkdir_p(dir, 0755, err) < 0)
    return -1;
  if (write_file_atomic(path, text, len, 0644) < 0)
    return adr_err_sys(err, errno, "write '%s'", path);
  *st = exists ? ADR_SKILL_UPDATED : ADR_SKILL_WRITTEN;
  return 0;
}

int adr_skill_apply(const struct adr_agents *agents, const struct strv *only, const char *home, bool remove, bool force,
                    struct adr_skill_result **out, size_t *n, adr_err *err)
{
  *out = NULL;
  *n = 0;
  for (size_t i = 0; only && i < only->n; i++) {
    const struct adr_agent *a = adr_agents_find(agents, only->v[i]);
    if (!a)
      return adr_agents_unknown(agents, only->v[i], err);
    if (!a->skills_dir)
      return adr_err_set(err, ENOTSUP, "agent '%s' has no skills directory (its definition has no \"skills\")",
                         a->name);
  }
  struct adr_skill_result *v = xcalloc(agents->n ? agents->n : 1, sizeof(*v));
  size_t cnt = 0;
  int ret = 0;
  for (size_t i = 0; i < agents->n && ret == 0; i++) {
    const struct adr_agent *a = &agents->v[i];
    if (!a->skills_dir || (only && only->n && !strv_contains(only, a->name)))
      continue;
    cleanup_free char *dir = adr_path_expand_home(a->skills_dir, home);
    struct adr_skill_result *r = &v[cnt++];
    r->agent = xstrdup(a->name);
    r->path = xasprintf("%s/" ADR_SKILL_NAME "/SKILL.md", dir);
    ret = one(r->path, remove, force, &r->state, err);
    if (ret < 0)
      adr_err_prefix(err, "%s", a->name);
  }
  *out = v;
  *n = cnt;
  return ret;
}
