/* Every edit of a struct adr_spec made by hand, in one place: adr_run_spec
 * (runspec.c) makes a sandbox's spec from its inputs; what only the launch
 * knows goes in here (labels, a persistent agent's terminal and git, the
 * idmapped mount sources, the relay's address), and adr fix-owner's helper
 * spec is made here whole. */
#include "launch-int.h"
#include "devcontainer.h"
#include "fs.h"
#include "idmap.h"
#include "layout.h"
#include "egress.h"

#include <stdlib.h>
#include <string.h>

int launch_spec_finish(struct adr_launch *l, adr_err *err)
{
  struct adr_spec *s = &l->spec;
  struct adr_layout_sandbox ls = {
    .persistent = l->o->persistent,
    .identity_dir = l->identity_dir,
    .idmap_dir = l->idmap_dir,
    .name = l->pname,
    .scope = l->scope,
    .team = l->o->team,
    .wt = l->made_wt ? &l->wt : NULL,
  };
  cleanup_strv struct strv labels = { 0 };
  adr_layout_sandbox_labels(&ls, &labels);
  adr_spec_set_labels(s, &labels);
  launch_devcontainer_wrap(l);
  if (!l->o->persistent)
    return 0;
  if (l->dc && l->dc->forward_ports.n) { /* adr port forwards them */
    cleanup_free char *ports = strv_join(&l->dc->forward_ports, ",");
    adr_spec_set_label(s, ADR_LABEL_PORTS, ports);
  }
  return launch_spec_agent(s, &l->repo, l->made_wt ? &l->wt : NULL, err);
}

int launch_spec_agent(struct adr_spec *s, const struct adr_repo *repo, const struct adr_worktree *wt, adr_err *err)
{
  /* its stdin stays open across attach and detach */
  s->detachable = true;
  if (wt) {
    if (adr_worktree_mounts(repo, wt, s, err) < 0)
      return -1;
    /* no background gc inside: packed-refs is read-only there */
    strv_push(&s->env, "GIT_CONFIG_COUNT=2");
    strv_push(&s->env, "GIT_CONFIG_KEY_0=gc.auto");
    strv_push(&s->env, "GIT_CONFIG_VALUE_0=0");
    strv_push(&s->env, "GIT_CONFIG_KEY_1=maintenance.auto");
    strv_push(&s->env, "GIT_CONFIG_VALUE_1=false");
  }
  return 0;
}

/* When adr runs as root, bind sources go through idmapped mounts so that
 * the unprivileged sandbox uid owns what root owns. */
int launch_spec_idmap(struct adr_launch *l, uid_t uid, gid_t gid, adr_err *err)
{
  struct adr_spec *s = &l->spec;
  if (adr_mkdir_p(l->idmap_dir, 0700, err) < 0)
    return -1;
  for (size_t i = 0; i < s->n_mounts; i++) {
    struct adr_spec_mount *m = &s->mounts[i];
    if (m->type != ADR_MOUNT_BIND)
      continue;
    char *dst = adr_layout_idmap_entry(l->idmap_dir, i);
    if (adr_idmap_mount(m->source, dst, uid, gid, err) < 0) {
      free(dst);
      return -1;
    }
    free(m->source);
    m->source = dst;
  }
  return 0;
}

static void subst_all(struct strv *v, const char *url)
{
  for (size_t i = 0; i < v->n; i++)
    if (strstr(v->v[i], ADR_RELAY_PLACEHOLDER)) {
      char *s = adr_creds_subst(v->v[i], url);
      free(v->v[i]);
      v->v[i] = s;
    }
}

int launch_spec_relay(struct adr_launch *l, adr_err *err)
{
  if (!l->creds.n_routes && !l->creds.n_overlays)
    return 0;
  cleanup_free char *url = l->relay_url ? xstrdup(l->relay_url) : adr_egress_relay_url(&l->spec);
  if (!url)
    url = xstrdup("http://127.0.0.1:9"); /* no network: nothing answers */
  subst_all(&l->spec.env, url);
  subst_all(&l->spec.cmd, url);
  for (size_t i = 0; i < l->creds.n_overlays; i++) {
    cleanup_free char *c2 = adr_creds_subst(l->creds.overlays[i].content, url);
    if (adr_stage_overlay_write(l->identity_dir, l->creds.overlays[i].rel, c2, err) < 0)
      return -1;
  }
  return 0;
}

void adr_launch_chown_spec(struct adr_spec *s, const char *image, const char *dir, uid_t uid, gid_t gid)
{
  s->image = xstrdup(image);
  s->user = xstrdup("0:0");
  s->net.kind = ADR_SPEC_NET_NONE;
  s->init = false;
  s->pids = 64;
  s->memory = 256 << 20;
  strv_push(&s->cap_add, "CHOWN");
  strv_push(&s->cap_add, "FOWNER");
  strv_push(&s->cap_add, "DAC_READ_SEARCH");
  strv_push(&s->cmd, "chown");
  strv_push(&s->cmd, "-R");
  strv_push(&s->cmd, "--no-dereference");
  strv_pushf(&s->cmd, "%u:%u", (unsigned)uid, (unsigned)gid);
  strv_push(&s->cmd, "/workspace");
  adr_spec_add_bind(s, dir, "/workspace", false);
  cleanup_strv struct strv labels = { 0 };
  adr_layout_helper_labels("fix-owner", &labels);
  adr_spec_set_labels(s, &labels);
}
