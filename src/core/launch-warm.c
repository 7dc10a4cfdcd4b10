/* Warm sandboxes (ADR_WARM=N): for an agent in a repository, N hardened
 * sandboxes made ahead, each with its worktree (branch adr/warm-XXXXXXXX
 * at HEAD), its identity, its mounts and a unit of the egress pool, whose
 * first process (adr-gateway --exec-claim) waits for the program to run.
 *
 * A start claims one when the sandbox it would make is that one but for
 * names: the digest of the spec it would get with the warm sandbox's
 * paths equals the one the warm sandbox carries (dev.adr.warm), its
 * image and policy included.  The claim renames the branch (and moves it
 * to HEAD), renames the container and the egress dir's link, writes the
 * name, branch and base where pagent.c reads them (IDENTITY/warm/agent: a
 * container's labels cannot change) and last the program, which then
 * runs.  Anything else the start asks for makes a sandbox anew.
 *
 * An idle warm sandbox is no agent: adr ls, attach, rm never see it;
 * adr prune removes them.  Files: IDENTITY/warm/{claim,taken,agent,relay}
 * (layout.h). */
#include "launch-int.h"
#include "buf.h"
#include "egress.h"
#include "fs.h"
#include "gwproto.h"
#include "layout.h"
#include "log.h"
#include "pagent.h"
#include "reap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The claim file inside: the identity dir is mounted at /run/adr. */
#define WARM_CLAIM_IN "/run/adr/warm/claim"

unsigned adr_launch_warm_size(const struct adr_config *c, const char *(*getenv_fn)(const char *))
{
  return launch_count(c, getenv_fn, "ADR_WARM", 0);
}

unsigned launch_warm_size(const struct adr_launch *l) { return adr_launch_warm_size(l->config, l->o->getenv); }

bool launch_warm_fits(const struct adr_launch *l)
{
  const char *b = l->o->branch;
  /* a branch adr/X: the refs directory mounted writable is the same */
  return l->o->persistent && !l->o->no_worktree && !l->o->team && !l->o->ssh && !l->compose && !l->creds.n_sidecars &&
         !(l->o->ssh_agent && l->o->ssh_agent->n) && !l->o->git_push && l->pol.mode != ADR_NET_OPEN &&
         (!b || (str_has_prefix(b, "adr/") && !strchr(b + 4, '/'))) && launch_warm_size(l) > 0;
}

/* The spec l would get with another sandbox's names and worktree. */
static int spec_as(const struct adr_launch *l, const char *cname, const char *identity, const struct adr_worktree *wt,
                   struct adr_spec *s, adr_err *err)
{
  struct adr_run_opts ro = l->ro;
  cleanup_free char *overlay = adr_layout_overlay_dir(identity);
  ro.name = cname;
  ro.workspace = wt->path;
  ro.identity_dir = identity;
  ro.overlay_dir = overlay;
  if (adr_run_spec(&ro, l->agent, s, err) < 0 || launch_spec_agent(s, &l->repo, wt, err) < 0)
    return -1;
  return 0;
}

static void extra_free(struct strv *x)
{
  for (size_t i = 0; i < x->n; i++)
    explicit_bzero(x->v[i], strlen(x->v[i]));
  strv_free(x);
}

/* What else makes the sandbox: the image as it is now, the network policy,
 * the relay's routes (keys: digested, never kept), the staged rewrites. */
static void extra_of(const struct adr_launch *l, struct strv *x)
{
  strv_push(x, l->image_id ? l->image_id : "");
  strv_push(x, adr_netmode_name(l->pol.mode));
  for (size_t i = 0; i < l->pol.n; i++)
    strv_pushf(x, "%s %s", l->pol.v[i].pattern, l->pol.v[i].ports);
  if (l->creds.n_routes && l->pol.mode != ADR_NET_NONE) {
    char *r = adr_creds_route_file(&l->creds);
    strv_push(x, r);
    explicit_bzero(r, strlen(r));
    free(r);
  }
  for (size_t i = 0; i < l->creds.n_overlays; i++)
    strv_pushf(x, "%s\n%s", l->creds.overlays[i].rel, l->creds.overlays[i].content);
  static const char *const keys[] = { "ADR_DNS", "ADR_NETWORK_POOL", "ADR_EXTRA_CA" };
  for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
    const char *v = adr_config_get(l->config, keys[i]);
    strv_pushf(x, "%s=%s", keys[i], v ? v : "");
  }
}

static char *digest_as(const struct adr_launch *l, const char *cname, const char *identity,
                       const struct adr_worktree *wt, adr_err *err)
{
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  if (spec_as(l, cname, identity, wt, &s, err) < 0)
    return NULL;
  struct strv x = { 0 };
  extra_of(l, &x);
  char *d = adr_spec_digest(&s, &x);
  extra_free(&x);
  return d;
}

int launch_warm_spec(struct adr_launch *l, adr_err *err)
{
  cleanup_free char *d = digest_as(l, l->cname, l->identity_dir, &l->wt, err);
  cleanup_free char *bin = d ? adr_gateway_bin(err) : NULL;
  if (!bin)
    return -1;
  adr_spec_set_label(&l->spec, ADR_LABEL_WARM, d);
  strv_free(&l->spec.cmd);
  strv_push(&l->spec.cmd, GW_BIN_IN);
  strv_push(&l->spec.cmd, GW_OPT_EXEC_CLAIM);
  strv_push(&l->spec.cmd, WARM_CLAIM_IN);
  adr_spec_add_bind(&l->spec, bin, GW_BIN_IN, true);
  cleanup_free char *dir = adr_layout_warm_file(l->identity_dir, "");
  return adr_mkdir_p(dir, 0755, err);
}

/* ------------------------------------------------------------ listing */

struct warm {
  struct adr_pagent a; /* its labels: name, branch, base as made */
  const char *cname, *identity, *unit, *digest;
};

static void warms_free(struct warm *v, size_t n)
{
  for (size_t i = 0; i < n; i++)
    adr_pagent_free(&v[i].a);
  free(v);
}

/* The warm sandboxes of scope and agent (NULL, NULL: all), idle or not. */
static int warm_list(struct adr_engine *e, const char *scope, const char *agent, struct warm **out, size_t *n,
                     adr_err *err)
{
  cleanup_strv struct strv f = { 0 };
  adr_layout_filter_warm(scope, agent, &f);
  struct adr_container *c = NULL;
  size_t m = 0;
  if (adr_engine_container_list(e, &f, true, &c, &m, err) < 0)
    return -1;
  struct warm *v = xcalloc(m ? m : 1, sizeof(*v));
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    struct warm *w = &v[k];
    w->a.c = c[i];
    adr_pagent_fill(&w->a);
    w->cname = adr_pagent_sandbox(&w->a);
    w->identity = adr_labels_get(&w->a.c.labels, ADR_LABEL_IDENTITY);
    w->unit = adr_labels_get(&w->a.c.labels, ADR_LABEL_EGRESS_UNIT);
    w->digest = adr_labels_get(&w->a.c.labels, ADR_LABEL_WARM);
    if (w->unit && !adr_egress_pool_unit_name(w->unit))
      w->unit = NULL;
    /* what a user could have written is used only when it is adr's */
    if (w->cname && w->identity && adr_layout_in_area(ADR_STATE_IDENTITY, w->identity) && w->digest &&
        w->a.has_worktree && adr_layout_in_area(ADR_STATE_WORKTREES, w->a.wt.path))
      k++;
    else
      adr_pagent_free(&w->a);
  }
  free(c);
  *out = v;
  *n = k;
  return 0;
}

/* A warm sandbox that is of no use (stale, or a claim failed half way):
 * all of it goes; its branch holds nothing (the agent never ran).  The
 * branch is the one its worktree has checked out, when git can tell (a
 * killed claim may have made the agent's already). */
static void discard(struct adr_engine *e, const struct adr_repo *repo, struct warm *w, const char *cname,
                    const char *branch)
{
  struct adr_teardown t;
  adr_teardown_of_pagent(&w->a, &t);
  struct adr_worktree wt = w->a.wt;
  wt.branch = (char *)branch;
  cleanup_buf struct buf cur;
  buf_init(&cur, 4096);
  cleanup_err adr_err e0 = NULL;
  if (repo && adr_git_wt(repo, wt.gitdir, wt.path, true, &cur, &e0, "symbolic-ref", "--short", "HEAD", NULL) == 0 &&
      str_has_prefix(adr_git_trim(&cur), "adr/"))
    wt.branch = cur.data;
  t.sandbox = cname;
  t.repo = repo;
  t.wt = repo ? &wt : NULL;
  t.delete_branch = true;
  cleanup_err adr_err e1 = NULL;
  adr_teardown_stop(e, &t, true, &e1);
  adr_teardown(e, &t, NULL, &e1);
  adr_debug("warm: removed %s", cname);
}

/* ------------------------------------------------------------ claim */

/* The file is there (IDENTITY/warm/FILE). */
static bool warm_has(const struct warm *w, const char *file)
{
  cleanup_free char *p = adr_layout_warm_file(w->identity, file);
  return access(p, F_OK) == 0;
}

/* A start is taking it over right now: "taken" names a live process (a
 * killed start's claim is left half done: the sandbox is of no use). */
static bool warm_being_taken(const struct warm *w, const char *boot)
{
  cleanup_free char *p = adr_layout_warm_file(w->identity, "taken");
  cleanup_buf struct buf b;
  buf_init(&b, 256);
  if (buf_read_file(&b, p) < 0)
    return errno != ENOENT; /* unreadable: leave it be */
  return adr_layout_token_alive(b.data ? b.data : "", boot);
}

/* The program: the command the start's own sandbox would run, with the
 * warm sandbox's relay. */
static int write_claim(const struct adr_launch *l, const struct warm *w, adr_err *err)
{
  cleanup_spec struct adr_spec s;
  adr_spec_init(&s);
  if (spec_as(l, w->cname, w->identity, &w->a.wt, &s, err) < 0)
    return -1;
  cleanup_free char *rp = adr_layout_warm_file(w->identity, "relay");
  cleanup_buf struct buf relay;
  buf_init(&relay, 4096);
  bool has_relay = buf_read_file(&relay, rp) == 0 && relay.data;
  struct buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < s.cmd.n; i++) {
    const char *a = s.cmd.v[i];
    cleanup_free char *sub = has_relay && strstr(a, ADR_RELAY_PLACEHOLDER) ? adr_creds_subst(a, relay.data) : NULL;
    buf_append(&b, sub ? sub : a, strlen(sub ? sub : a) + 1);
  }
  cleanup_free char *cp = adr_layout_warm_file(w->identity, "claim");
  int r = write_file_atomic(cp, b.data, b.len, 0644);
  explicit_bzero(b.data, b.len);
  buf_free(&b);
  return r < 0 ? adr_err_sys(err, errno, "write '%s'", cp) : 0;
}

/* Takes w over for l: 0, or 1 when w was left as it was, or -1 (w is
 * broken: the caller discards it). */
static int take(struct adr_launch *l, struct warm *w, const char *branch, char **now_cname, char **now_branch,
                adr_err *err)
{
  if (w->unit) /* before the rename: the reaper keeps a unit whose holder lives */
    adr_egress_pool_adopt(w->unit, l->cname);
  if (adr_engine_container_rename(l->engine, w->a.c.id, l->cname, err) < 0) {
    if (w->unit)
      adr_egress_pool_adopt(w->unit, w->cname);
    return 1;
  }
  *now_cname = xstrdup(l->cname);
  cleanup_free char *from = adr_layout_state_path(ADR_STATE_EGRESS, w->cname);
  cleanup_free char *to = adr_layout_state_path(ADR_STATE_EGRESS, l->cname);
  if (rename(from, to) < 0 && errno != ENOENT)
    return adr_err_sys(err, errno, "rename '%s'", from);
  /* the branch: its own, at HEAD as it is now.  Made before the warm one
   * goes: a refs directory that is empty for a moment is removed by git
   * and made anew, and the sandbox's mount of it would point nowhere. */
  const struct adr_worktree *wt = &w->a.wt;
  cleanup_buf struct buf head;
  buf_init(&head, 4096);
  if (adr_git_repo(&l->repo, true, &head, err, "rev-parse", "--verify", "HEAD^{commit}", NULL) < 0)
    return -1;
  const char *base = adr_git_trim(&head);
  cleanup_free char *ref = xasprintf("refs/heads/%s", branch);
  if (streq(base, wt->base ? wt->base : "")) {
    /* HEAD has not moved: the checkout stays as it is (no look at every
     * file of a large repository), only the branch is new */
    if (adr_git_repo(&l->repo, true, NULL, err, "update-ref", "-m", "adr: warm sandbox taken over", ref, base, "",
                     NULL) < 0 ||
        adr_git_wt(&l->repo, wt->gitdir, wt->path, true, NULL, err, "symbolic-ref", "HEAD", ref, NULL) < 0)
      return -1;
  } else if (adr_git_wt(&l->repo, wt->gitdir, wt->path, true, NULL, err, "-c", "core.hooksPath=/dev/null", "checkout",
                        "--quiet", "-b", branch, base, NULL) < 0) {
    return -1;
  }
  free(*now_branch);
  *now_branch = xstrdup(branch);
  if (adr_git_repo(&l->repo, true, NULL, err, "branch", "-D", "--quiet", wt->branch, NULL) < 0)
    return -1;
  cleanup_free char *ap = adr_layout_warm_file(w->identity, "agent");
  cleanup_free char *agent = xasprintf("%s\n%s\n%s\n%s\n", l->pname, branch, base, l->o->team ? l->o->team : "");
  if (write_file_atomic(ap, agent, strlen(agent), 0644) < 0)
    return adr_err_sys(err, errno, "write '%s'", ap);
  if (write_claim(l, w, err) < 0)
    return -1;
  /* l now describes it, for what the caller says and does after */
  l->id = xstrdup(w->a.c.id);
  free(l->identity_dir);
  l->identity_dir = xstrdup(w->identity);
  free(l->idmap_dir);
  l->idmap_dir = NULL;
  l->wt.path = xstrdup(wt->path);
  l->wt.gitdir = xstrdup(wt->gitdir);
  l->wt.branch = xstrdup(branch);
  l->wt.base = xstrdup(base);
  l->made_wt = true;
  l->egress_unit = w->unit ? xstrdup(w->unit) : NULL;
  cleanup_err adr_err e2 = NULL;
  l->gateway_bin = l->pol.mode == ADR_NET_NONE ? NULL : adr_gateway_bin(&e2); /* the pool's refill */
  l->warm_claimed = true;
  return 0;
}

int launch_warm_claim(struct adr_launch *l, adr_err *err)
{
  launch_fill_ro(l);
  cleanup_free char *branch = l->o->branch ? xstrdup(l->o->branch) : adr_layout_agent_branch(l->pname);
  cleanup_free char *ref = xasprintf("refs/heads/%s", branch);
  cleanup_err adr_err e0 = NULL;
  if (!adr_branch_name_valid(branch) ||
      adr_git_repo(&l->repo, false, NULL, &e0, "show-ref", "--verify", "--quiet", ref, NULL) == 0)
    return 1; /* the start says what is wrong */
  struct warm *v = NULL;
  size_t n = 0;
  if (warm_list(l->engine, l->scope, l->agent->name, &v, &n, &e0) < 0 || n == 0) {
    warms_free(v, n);
    return 1;
  }
  cleanup_free char *dir = launch_take_marker(l, err);
  if (!dir) {
    warms_free(v, n);
    return -1;
  }
  cleanup_free char *token = adr_layout_owner_token();
  int r = 1;
  for (size_t i = 0; i < n && r == 1; i++) {
    struct warm *w = &v[i];
    if (w->a.warm_idle == false || !adr_pagent_running(&w->a) || warm_has(w, "taken"))
      continue;
    cleanup_free char *d = digest_as(l, w->cname, w->identity, &w->a.wt, &e0);
    adr_err_free(&e0);
    if (!d || !streq(d, w->digest)) {
      adr_debug("warm: %s differs from what this start asks for", w->cname);
      continue;
    }
    cleanup_free char *tp = adr_layout_warm_file(w->identity, "taken");
    int fd = open(tp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
      continue; /* another start's */
    ssize_t wr = write(fd, token, strlen(token));
    close(fd);
    char *now_cname = NULL, *now_branch = xstrdup(w->a.wt.branch);
    r = wr < 0 ? 1 : take(l, w, branch, &now_cname, &now_branch, &e0);
    if (r == 1) {
      unlink(tp);
    } else if (r < 0) { /* half taken: it goes, and the start makes its own */
      adr_emit(&l->ev, ADR_EVENT_WARNING, "warm sandbox '%s': %s; starting a new one", w->cname, e0->msg);
      adr_err_free(&e0);
      discard(l->engine, &l->repo, w, now_cname ? now_cname : w->cname, now_branch);
      r = 1;
    } else {
      adr_debug("warm: %s claimed as %s", w->cname, l->cname);
    }
    free(now_cname);
    free(now_branch);
  }
  warms_free(v, n);
  if (r == 1 && l->marker) { /* make_worktree takes it again */
    unlink(l->marker);
    free(l->marker);
    l->marker = NULL;
  }
  return r;
}

/* ------------------------------------------------------------ fill */

/* One warm sandbox made like t's start, started and left waiting. */
static int make_one(struct adr_engine *e, const struct adr_launch *t, adr_err *err)
{
  struct adr_launch_opts o = *t->o;
  cleanup_free char *suffix = adr_layout_suffix();
  cleanup_free char *name = adr_layout_warm_name(suffix);
  o.name = name;
  o.branch = NULL;
  o.team = NULL;
  struct adr_launch w;
  adr_launch_init(&w, &o, t->config, t->agents, NULL);
  w.warm_make = true;
  w.engine = e;
  int r = adr_launch_plan(&w, err);
  if (r == 0 && adr_launch_image(&w, err) != 0)
    r = -1;
  if (r == 0)
    r = adr_launch_prepare(&w, err);
  if (r == 0)
    r = adr_launch_create(&w, err);
  if (r == 0)
    r = adr_launch_detach(&w, err);
  if (r == 0 && w.egress_unit) /* it has an interface of its own */
    adr_egress_pool_drop_holder(e, w.egress_unit);
  if (r < 0)
    adr_launch_teardown(&w);
  else
    adr_debug("warm: made %s", w.cname);
  adr_launch_free(&w);
  return r;
}

int launch_warm_fill(struct adr_engine *e, const struct adr_launch *l, unsigned want, adr_err *err)
{
  struct warm *v = NULL;
  size_t n = 0;
  if (warm_list(e, l->scope, l->agent->name, &v, &n, err) < 0)
    return -1;
  cleanup_free char *wdir = adr_layout_worktrees_dir(l->scope);
  cleanup_free char *boot = adr_layout_boot_id();
  unsigned ready = 0;
  for (size_t i = 0; i < n; i++) {
    struct warm *w = &v[i];
    if (!w->a.warm_idle || warm_being_taken(w, boot))
      continue; /* an agent now, or being claimed */
    cleanup_free char *marker = adr_layout_start_marker(wdir, w->a.name);
    if (w->a.state == ADR_PAGENT_CREATED && access(marker, F_OK) == 0)
      continue; /* being made */
    cleanup_err adr_err e1 = NULL;
    cleanup_free char *d =
      adr_pagent_running(&w->a) && !warm_has(w, "taken") ? digest_as(l, w->cname, w->identity, &w->a.wt, &e1) : NULL;
    if (d && streq(d, w->digest) && ready < want)
      ready++;
    else
      discard(e, &l->repo, w, w->cname, w->a.wt.branch);
  }
  warms_free(v, n);
  for (; ready < want; ready++)
    if (make_one(e, l, err) < 0)
      return -1;
  return (int)ready;
}

int adr_launch_warm_drain(struct adr_engine *e, adr_err *err)
{
  struct warm *v = NULL;
  size_t n = 0;
  if (warm_list(e, NULL, NULL, &v, &n, err) < 0)
    return -1;
  int gone = 0;
  cleanup_free char *boot = adr_layout_boot_id();
  for (size_t i = 0; i < n; i++) {
    struct warm *w = &v[i];
    if (!w->a.warm_idle || warm_being_taken(w, boot) || !w->a.scope)
      continue;
    struct adr_repo repo = { 0 };
    cleanup_err adr_err e1 = NULL;
    bool in_repo = adr_repo_find(w->a.scope, &repo, &e1) == 0 && streq(repo.top, w->a.scope);
    discard(e, in_repo ? &repo : NULL, w, w->cname, w->a.wt.branch);
    adr_repo_free(&repo);
    gone++;
  }
  warms_free(v, n);
  return gone;
}
