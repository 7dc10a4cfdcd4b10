#include "pagent.h"
#include "agent.h"
#include "buf.h"
#include "layout.h"
#include "spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
  [ADR_PAGENT_UNKNOWN] = "unknown",       [ADR_PAGENT_CREATED] = "created",
  [ADR_PAGENT_RUNNING] = "running",       [ADR_PAGENT_PAUSED] = "paused",
  [ADR_PAGENT_RESTARTING] = "restarting", [ADR_PAGENT_REMOVING] = "removing",
  [ADR_PAGENT_EXITED] = "exited",         [ADR_PAGENT_DEAD] = "dead",
};

enum adr_pagent_state adr_pagent_state_parse(const char *engine_state)
{
  for (size_t i = 1; engine_state && i < ARRAY_SIZE(state_names); i++)
    if (streq(engine_state, state_names[i]))
      return (enum adr_pagent_state)i;
  return ADR_PAGENT_UNKNOWN;
}

const char *adr_pagent_state_name(enum adr_pagent_state s)
{
  return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : state_names[0];
}

void adr_pagent_free(struct adr_pagent *a)
{
  free(a->warm);
  adr_container_free(&a->c);
  adr_repo_free(&a->repo);
  memset(a, 0, sizeof(*a));
}

void adr_pagents_free(struct adr_pagent *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    adr_pagent_free(&v[i]);
  free(v);
}

const char *adr_pagent_sandbox(const struct adr_pagent *a)
{
  return a->c.name && a->c.name[0] == '/' ? a->c.name + 1 : a->c.name;
}

int adr_pagent_warm_parse(char *text, char *f[4])
{
  char *p = text;
  for (size_t i = 0; i < 4; i++) {
    char *nl = p ? strchr(p, '\n') : NULL;
    if (!nl)
      return -1;
    *nl = '\0';
    f[i] = p;
    p = nl + 1;
  }
  if (*p || !adr_agent_name_valid(f[0]) || !adr_branch_name_valid(f[1]) || !str_has_prefix(f[1], "adr/"))
    return -1;
  for (const char *c = f[2]; *c; c++) /* a commit id */
    if (!strchr("0123456789abcdef", *c))
      return -1;
  return *f[3] && !adr_agent_name_valid(f[3]) ? -1 : 0;
}

/* A warm sandbox: what the start that claimed it named it (the file
 * "agent": name, branch, base, team, a line each), else idle. */
static void warm_fill(struct adr_pagent *a)
{
  const char *ident = adr_labels_get(&a->c.labels, ADR_LABEL_IDENTITY);
  a->warm_idle = true;
  if (!ident || !adr_layout_in_area(ADR_STATE_IDENTITY, ident))
    return;
  cleanup_free char *path = adr_layout_warm_file(ident, "agent");
  struct buf b;
  buf_init(&b, 4096);
  if (buf_read_file(&b, path) < 0 || !b.data) {
    buf_free(&b);
    return;
  }
  char *f[4];
  if (adr_pagent_warm_parse(b.data, f) < 0) {
    buf_free(&b);
    return;
  }
  a->warm = b.data; /* the fields point into it */
  a->warm_idle = false;
  a->name = f[0];
  a->wt.branch = f[1];
  a->wt.base = f[2];
  a->team = *f[3] ? f[3] : NULL;
}

void adr_pagent_fill(struct adr_pagent *a)
{
  const struct strv *l = &a->c.labels;
  a->state = adr_pagent_state_parse(a->c.state);
  a->name = adr_labels_get(l, ADR_LABEL_NAME);
  a->agent = adr_labels_get(l, ADR_LABEL_AGENT);
  a->scope = adr_labels_get(l, ADR_LABEL_SCOPE);
  a->team = adr_labels_get(l, ADR_LABEL_TEAM);
  a->wt.branch = (char *)adr_labels_get(l, ADR_LABEL_BRANCH);
  a->wt.path = (char *)adr_labels_get(l, ADR_LABEL_WORKTREE);
  a->wt.gitdir = (char *)adr_labels_get(l, ADR_LABEL_GITDIR);
  a->wt.base = (char *)adr_labels_get(l, ADR_LABEL_BASE);
  a->has_worktree = a->wt.branch && a->wt.path && a->wt.gitdir;
  a->workspace = adr_labels_get(l, ADR_LABEL_WORKSPACE);
  free(a->warm);
  a->warm = NULL;
  a->warm_idle = false;
  if (adr_labels_get(l, ADR_LABEL_WARM))
    warm_fill(a);
}

int adr_pagent_scope(const char *cwd, struct adr_repo *repo, char **scope, adr_err *err)
{
  cwd = cwd ? cwd : ".";
  int r = adr_repo_find(cwd, repo, err);
  if (r < 0)
    return -1;
  if (r == 0) {
    *scope = xstrdup(repo->top);
    return 0;
  }
  char *real = realpath(cwd, NULL);
  if (!real)
    return adr_err_sys(err, errno, "current directory");
  *scope = real;
  return 1;
}

int adr_pagent_list(struct adr_engine *e, const char *scope, struct adr_pagent **out, size_t *n, adr_err *err)
{
  *out = NULL;
  *n = 0;
  cleanup_strv struct strv f = { 0 };
  adr_layout_filter_agents(scope, &f);
  struct adr_container *v = NULL;
  size_t m = 0;
  if (adr_engine_container_list(e, &f, true, &v, &m, err) < 0)
    return -1;
  struct adr_pagent *a = xcalloc(m ? m : 1, sizeof(*a));
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    a[k].c = v[i];
    adr_pagent_fill(&a[k]);
    if (a[k].warm_idle) /* not an agent (yet) */
      adr_pagent_free(&a[k]);
    else
      k++;
  }
  free(v); /* the elements moved into a */
  *out = a;
  *n = k;
  return 0;
}

int adr_pagent_find(struct adr_session *s, const char *name, struct adr_pagent *out, adr_err *err)
{
  memset(out, 0, sizeof(*out));
  cleanup_free char *scope = NULL;
  int r = adr_pagent_scope(s->cwd, &out->repo, &scope, err);
  if (r < 0)
    return -1;
  out->in_repo = r == 0;
  struct adr_pagent *v = NULL;
  size_t n = 0;
  if (adr_session_engine(s, err) < 0 || adr_pagent_list(s->engine, scope, &v, &n, err) < 0) {
    adr_repo_free(&out->repo);
    return -1;
  }
  int found = 1;
  for (size_t i = 0; i < n && found; i++) {
    if (streq(v[i].name, name)) {
      out->c = v[i].c;
      memset(&v[i].c, 0, sizeof(v[i].c));
      adr_pagent_fill(out);
      found = 0;
    }
  }
  adr_pagents_free(v, n);
  if (found) {
    adr_err_set(err, ENOENT, "no agent named '%s' in %s (see 'adr ls')", name, scope);
    adr_repo_free(&out->repo);
  }
  return found;
}

char *adr_pagent_free_name(struct adr_engine *e, const char *scope, const char *agent, adr_err *err)
{
  struct adr_pagent *v;
  size_t n;
  if (adr_pagent_list(e, scope, &v, &n, err) < 0)
    return NULL;
  char *name = NULL;
  for (unsigned i = 1; i < 1000 && !name; i++) {
    char *cand = adr_layout_agent_name(agent, i);
    bool taken = false;
    for (size_t k = 0; k < n && !taken; k++)
      taken = streq(v[k].name, cand);
    if (taken)
      free(cand);
    else
      name = cand;
  }
  adr_pagents_free(v, n);
  if (!name)
    adr_err_set(err, EEXIST, "no free name for another '%s' agent: use --name", agent);
  return name;
}

int adr_pagent_exists(struct adr_engine *e, const char *scope, const char *name, adr_err *err)
{
  struct adr_pagent *v;
  size_t n;
  if (adr_pagent_list(e, scope, &v, &n, err) < 0)
    return -1;
  bool taken = false;
  for (size_t i = 0; i < n; i++)
    taken = taken || streq(v[i].name, name);
  adr_pagents_free(v, n);
  return taken;
}

int adr_pagent_attach(struct adr_engine *e, const struct adr_pagent *a, const struct adr_attach *io, adr_err *err)
{
  return adr_engine_container_attach(e, a->c.id, io, err);
}

int adr_pagent_resize(struct adr_engine *e, const struct adr_pagent *a, unsigned rows, unsigned cols)
{
  cleanup_err adr_err ignored = NULL;
  return adr_engine_container_resize(e, a->c.id, rows, cols, &ignored);
}

int adr_pagent_refresh(struct adr_engine *e, struct adr_pagent *a, adr_err *err)
{
  struct adr_container now = { 0 };
  int r = adr_engine_container_inspect(e, a->c.id, &now, err);
  if (r != 0)
    return r;
  free(a->c.state);
  a->c.state = TAKE_PTR(now.state);
  a->c.exit_code = now.exit_code;
  a->state = adr_pagent_state_parse(a->c.state);
  adr_container_free(&now);
  return 0;
}

int adr_pagent_exec(struct adr_engine *e, const struct adr_pagent *a, const struct strv *cmd,
                    const struct adr_attach *io, int *exit_code, adr_err *err)
{
  return adr_engine_container_exec(e, a->c.id, cmd, io, exit_code, err);
}

int adr_pagent_logs(struct adr_engine *e, const struct adr_pagent *a, bool follow, int out_fd, int err_fd, adr_err *err)
{
  return adr_engine_container_logs(e, a->c.id, follow, out_fd, err_fd, err);
}

int adr_sandbox_running(struct adr_engine *e, const char *name, adr_err *err)
{
  struct adr_container c = { 0 };
  int r = adr_engine_container_inspect(e, name, &c, err);
  bool running = r == 0 && adr_pagent_state_parse(c.state) == ADR_PAGENT_RUNNING;
  adr_container_free(&c);
  return r < 0 ? -1 : running;
}
