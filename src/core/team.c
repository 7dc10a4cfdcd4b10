/* adr team (team.h): sessions, members, the members' sandboxes. */
#include "team.h"
#include "buf.h"
#include "git.h"
#include "images.h"
#include "layout.h"
#include "reap.h"
#include "spec.h"
#include "tmux.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

bool adr_team_name_valid(const char *team) { return adr_agent_name_valid(team) && strlen(team) <= 40; }

int adr_team_need_tmux(adr_err *err)
{
  int v = adr_tmux_version(err);
  if (v < 0)
    return -1;
  if (v < 300)
    return adr_err_set(err, ENOTSUP, "tmux %d.%d is too old: adr team needs tmux >= 3.0", v / 100, v % 100);
  return 0;
}

/* "=adr-TEAM" (the session exactly) or "=adr-TEAM:" (its window) */
static char *target(const char *team, const char *suffix)
{
  cleanup_free char *sess = adr_layout_team_session(team);
  return xasprintf("=%s%s", sess, suffix);
}

bool adr_team_exists(const char *team)
{
  cleanup_err adr_err e = NULL;
  cleanup_free char *t = target(team, "");
  return adr_tmux(NULL, &e, "has-session", "-t", t, NULL) == 0;
}

int adr_team_list(struct strv *out, adr_err *err)
{
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 20);
  cleanup_err adr_err e = NULL;
  if (adr_tmux(&b, &e, "list-sessions", "-F", "#{session_name}", NULL) < 0) {
    /* no server running: no sessions */
    if (strstr(e->msg, "no server") || strstr(e->msg, "No such file") || strstr(e->msg, "error connecting"))
      return 0;
    adr_err_move(err, &e);
    return -1;
  }
  char *save = NULL;
  for (char *l = b.data ? strtok_r(b.data, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
    const char *team = adr_layout_team_of_session(l);
    if (team)
      strv_push(out, team);
  }
  return 0;
}

/* ------------------------------------------------------------ members */

void adr_team_members_free(struct adr_team_member *m, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(m[i].type);
    free(m[i].name);
    free(m[i].agent);
  }
  free(m);
}

/* The first TYPE-N that no spec names explicitly and no member has. */
static char *generated_name(const char *type, const struct strv *specs, const struct adr_team_member *m, size_t k)
{
  for (unsigned x = 1;; x++) {
    char *cand = adr_layout_team_member(type, x);
    bool taken = false;
    for (size_t j = 0; j < specs->n && !taken; j++) {
      /* explicit names anywhere in the list are reserved */
      const char *c2 = strchr(specs->v[j], ':');
      taken = c2 && streq(c2 + 1, cand);
    }
    for (size_t j = 0; j < k && !taken; j++)
      taken = streq(m[j].name, cand);
    if (!taken)
      return cand;
    free(cand);
  }
}

int adr_team_members(const char *team, const struct strv *specs, const struct adr_agents *agents,
                     struct adr_team_member **out, size_t *n, adr_err *err)
{
  struct adr_team_member *m = xcalloc(specs->n ? specs->n : 1, sizeof(*m));
  size_t k = 0;
  for (size_t i = 0; i < specs->n; i++) {
    const char *s = specs->v[i];
    const char *colon = strchr(s, ':');
    cleanup_free char *type = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
    const char *want = colon ? colon + 1 : NULL;
    if (!adr_agents_find(agents, type)) {
      adr_agents_unknown(agents, type, err);
      goto fail;
    }
    cleanup_free char *name = NULL;
    if (want && *want && !streq(want, "*")) {
      if (!adr_agent_name_valid(want) || strlen(want) > 40) {
        adr_err_set(err, EINVAL, "--agent '%s': invalid name '%s' (lowercase letters, digits, '-', '_', '.')", s, want);
        goto fail;
      }
      name = xstrdup(want);
    } else {
      name = generated_name(type, specs, m, k);
    }
    for (size_t j = 0; j < k; j++)
      if (streq(m[j].name, name)) {
        adr_err_set(err, EEXIST, "--agent '%s': the name '%s' is used twice in this session", s, name);
        goto fail;
      }
    m[k].agent = adr_layout_team_agent(team, name);
    m[k].type = TAKE_PTR(type);
    m[k].name = TAKE_PTR(name);
    k++;
  }
  *out = m;
  *n = k;
  return 0;
fail:
  adr_team_members_free(m, k);
  return -1;
}

int adr_team_images(struct adr_engine *e, const struct adr_config *c, const struct adr_team_member *m, size_t n,
                    adr_err *err)
{
  for (size_t i = 0; i < n; i++) {
    cleanup_free char *img =
      adr_layout_image(adr_config_get(c, "ADR_IMAGE_PREFIX"), m[i].type, adr_config_get(c, "ADR_TAG"));
    int have = adr_images_present(e, img, err);
    if (have < 0)
      return -1;
    if (have == 1) {
      adr_err_set(err, ENOENT, "image '%s' not found; build it with 'adr build %s'", img, m[i].type);
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------ the session */

/* Pane i: the first makes the session, the others split its window. */
static int open_pane(const char *team, const char *ws, const char *exe, const struct adr_team_member *m, size_t i,
                     adr_err *err)
{
  cleanup_free char *sess = adr_layout_team_session(team);
  cleanup_buf struct buf b;
  buf_init(&b, 4096);
  int r;
  if (i == 0) {
    r = adr_tmux(&b, err, "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", sess, "-x", "200", "-y", "50", "-c", ws,
                 "-e", "ADR_TEAM_SESSION=1", "--", exe, "attach", m->agent, NULL);
  } else {
    cleanup_free char *t = target(team, ":");
    r = adr_tmux(&b, err, "split-window", "-d", "-P", "-F", "#{pane_id}", "-t", t, "-c", ws, "--", exe, "attach",
                 m->agent, NULL);
    if (r == 0) {
      cleanup_err adr_err e2 = NULL;
      adr_tmux(NULL, &e2, "select-layout", "-t", t, "tiled", NULL);
    }
  }
  if (r < 0)
    return -1;
  cleanup_free char *pane = xstrdup(adr_git_trim(&b));
  if (adr_tmux(NULL, err, "set-option", "-p", "-t", pane, "@adr_name", m->name, NULL) < 0 ||
      adr_tmux(NULL, err, "set-option", "-p", "-t", pane, "@adr_agent", m->agent, NULL) < 0 ||
      adr_tmux(NULL, err, "set-option", "-p", "-t", pane, "remain-on-exit", "on", NULL) < 0 ||
      adr_tmux(NULL, err, "select-pane", "-t", pane, "-T", m->name, NULL) < 0)
    return -1;
  return 0;
}

int adr_team_open(const char *team, const char *ws, const char *exe, const struct adr_team_member *m, size_t n,
                  adr_err *err)
{
  for (size_t i = 0; i < n; i++)
    if (open_pane(team, ws, exe, &m[i], i, err) < 0)
      return -1;
  cleanup_free char *t = target(team, "");
  cleanup_free char *w = target(team, ":");
  if (adr_tmux(NULL, err, "set-environment", "-t", t, "ADR_WORKSPACE", ws, NULL) < 0 ||
      adr_tmux(NULL, err, "set-option", "-w", "-t", w, "pane-border-status", "top", NULL) < 0 ||
      adr_tmux(NULL, err, "set-option", "-w", "-t", w, "pane-border-format", " #{@adr_name} ", NULL) < 0)
    return -1;
  return 0;
}

int adr_team_close(const char *team, adr_err *err)
{
  cleanup_free char *t = target(team, "");
  return adr_tmux(NULL, err, "kill-session", "-t", t, NULL);
}

/* ------------------------------------------------------------ sandboxes */

char *adr_team_scope_of(const char *ws)
{
  struct adr_repo r;
  cleanup_err adr_err e = NULL;
  if (adr_repo_find(ws, &r, &e) == 0) {
    char *s = xstrdup(r.top);
    adr_repo_free(&r);
    return s;
  }
  char *real = realpath(ws, NULL);
  return real ? real : xstrdup(ws);
}

char *adr_team_scope(const char *team, const char *cwd)
{
  cleanup_free char *t = target(team, "");
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 16);
  cleanup_err adr_err e = NULL;
  if (adr_tmux(&b, &e, "show-environment", "-t", t, "ADR_WORKSPACE", NULL) == 0 && b.data &&
      str_has_prefix(adr_git_trim(&b), "ADR_WORKSPACE="))
    return adr_team_scope_of(b.data + 14);
  return adr_team_scope_of(cwd ? cwd : ".");
}

int adr_team_agents(struct adr_engine *e, const char *team, const char *scope, struct adr_pagent **v, size_t *n,
                    adr_err *err)
{
  struct adr_pagent *all;
  size_t m;
  if (adr_pagent_list(e, scope, &all, &m, err) < 0)
    return -1;
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    if (streq(all[i].team, team))
      all[k++] = all[i];
    else
      adr_pagent_free(&all[i]);
  }
  *v = all;
  *n = k;
  return 0;
}

/* One member's sandbox, stopped first (nothing may change between the
 * check and removal): true when it is kept. */
static bool remove_one(struct adr_engine *e, struct adr_pagent *a, const struct adr_events *ev)
{
  cleanup_err adr_err err = NULL;
  struct adr_teardown t;
  adr_teardown_of_pagent(a, &t);
  if (adr_teardown_stop(e, &t, adr_pagent_running(a), &err) < 0) {
    adr_emit(ev, ADR_EVENT_WARNING, "stop '%s': %s; kept", a->name, err->msg);
    return true;
  }
  if (a->has_worktree) {
    adr_repo_free(&a->repo);
    struct adr_worktree_state st = { 0 };
    if (adr_repo_find(a->scope, &a->repo, &err) != 0 || adr_worktree_state(&a->repo, &a->wt, &st, &err) < 0) {
      adr_emit(ev, ADR_EVENT_WARNING, "%s: %s", a->name, err ? err->msg : "not in a git repository any more");
      adr_worktree_state_free(&st);
      return true;
    }
    bool work = st.unmerged > 0 || st.changes.n > 0;
    adr_worktree_state_free(&st);
    if (work) {
      adr_emit(ev, ADR_EVENT_INFO,
               "kept '%s' (stopped): its branch %s holds work; 'adr merge %s' or 'adr rm --force %s'", a->name,
               a->wt.branch, a->name, a->name);
      return true;
    }
    t.repo = &a->repo;
    t.delete_branch = true;
  }
  adr_teardown(e, &t, ev, NULL);
  return false;
}

int adr_team_remove(struct adr_engine *e, const char *team, const char *scope, const struct adr_events *ev,
                    adr_err *err)
{
  struct adr_pagent *v;
  size_t n;
  if (adr_team_agents(e, team, scope, &v, &n, err) < 0)
    return -1;
  int kept = 0;
  for (size_t i = 0; i < n; i++)
    kept += remove_one(e, &v[i], ev);
  adr_pagents_free(v, n);
  return kept;
}
