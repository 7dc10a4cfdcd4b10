/* The launch's image and prepare phases: the names, a persistent agent's
 * worktree, the host state, the spec, the egress gateway and network. */
#include "launch-int.h"
#include "images.h"
#include "buf.h"
#include "builtin.h"
#include "egress.h"
#include "fs.h"
#include "image.h"
#include "layout.h"
#include "pagent.h"
#include "reap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a layer's build said: its Dockerfile's own verdict. */
struct layer_build {
  struct adr_launch *l;
  char *why; /* the "adr-layer-error: ..." line */
};

static void layer_build_event(const struct adr_build_event *ev, void *ud)
{
  struct layer_build *lb = ud;
  const char *s = ev->text ? ev->text : "";
  if (ev->kind == ADR_BUILD_STEP) { /* "Step 3/19 : COPY ...": its start */
    size_t n = strcspn(s, "\n");
    adr_emit(&lb->l->ev, ADR_EVENT_INFO, "  %.*s%s", (int)(n > 60 ? 60 : n), s, n > 60 ? "..." : "");
  }
  /* a line of the output (the step's own text holds the words too) */
  if (ev->kind == ADR_BUILD_OUTPUT && str_has_prefix(s, "adr-layer-error: ") && !lb->why)
    lb->why = xstrndup(s + 17, strcspn(s + 17, "\n"));
}

/* A layer adr adds (job) to image `on` (for messages: `what 'on'`), built
 * unless it is there; it becomes the launch's image. */
static int layer(struct adr_launch *l, struct adr_images_job *job, const char *what, const char *on,
                 const char *building, adr_err *err)
{
  struct adr_image dim = { 0 };
  int have = adr_engine_image_inspect(l->engine, job->image, &dim, err);
  if (have < 0)
    return -1;
  if (have == 1) {
    adr_emit(&l->ev, ADR_EVENT_INFO, "%s", building);
    cleanup_strv struct strv cas = { 0 };
    struct layer_build lb = { .l = l };
    int r =
      adr_extra_ca_files(adr_config_get(l->config, "ADR_EXTRA_CA"), "/usr/local/share/ca-certificates", &cas, err);
    cleanup_strv struct strv allow = { 0 };
    adr_config_get_list(l->config, "ADR_SCAN_ALLOW", &allow);
    job->scan_allow = &allow;
    if (r == 0)
      r = adr_images_build(l->engine, job, &cas, false, layer_build_event, &lb, err);
    job->scan_allow = NULL;
    if (r < 0) {
      if (lb.why) {
        adr_err_free(err);
        adr_err_set(err, EINVAL, "%s '%s': %s", what, on, lb.why);
      } else if (*err && (*err)->msg && strstr((*err)->msg, "/bin/sh")) {
        adr_err_free(err);
        adr_err_set(err, EINVAL, "%s '%s' has no /bin/sh: adr needs a shell and a POSIX userland in it", what, on);
      } else {
        adr_err_prefix(err, "build %s on %s '%s'", job->image, what, on);
      }
      free(lb.why);
      return -1;
    }
    free(lb.why);
    if (adr_engine_image_inspect(l->engine, job->image, &dim, err) != 0)
      return adr_err_set(err, EIO, "%s '%s': the built layer %s is not there", what, on, job->image);
  }
  free(l->image);
  l->image = xstrdup(job->image);
  free(l->image_id);
  l->image_id = TAKE_PTR(dim.id);
  adr_image_free(&dim);
  return 0;
}

/* The agent on the project's image (--image): the layer that adds it,
 * built once per project image and agent image (by their IDs). */
static int project_image(struct adr_launch *l, adr_err *err)
{
  struct adr_image pim = { 0 };
  int have = adr_engine_image_inspect(l->engine, l->project_image, &pim, err);
  if (have != 0) {
    adr_image_free(&pim);
    if (have == 1)
      adr_err_set(err, ENOENT, "project image '%s' not found; build or pull it first", l->project_image);
    return -1;
  }
  cleanup_free char *derived = adr_layout_project_image(l->agent->name, pim.id, l->image_id);
  cleanup_images_job struct adr_images_job job;
  adr_images_job_project(&job, l->agent, derived, pim.id, l->image_id);
  adr_image_free(&pim);
  cleanup_free char *building =
    xasprintf("adding %s to the project image %s (once per image and agent version)", l->agent->name, l->project_image);
  return layer(l, &job, "project image", l->project_image, building, err);
}

/* --ssh: sshd in the sandbox's image, built once per image. */
static int ssh_image(struct adr_launch *l, adr_err *err)
{
  cleanup_images_job struct adr_images_job job;
  adr_images_job_ssh(&job, l->image_id);
  cleanup_free char *on = xstrdup(l->image);
  cleanup_free char *building = xasprintf("adding sshd to %s (--ssh; once per image)", on);
  return layer(l, &job, "--ssh: image", on, building, err);
}

int adr_launch_image(struct adr_launch *l, adr_err *err)
{
  adr_reap(l->engine);
  struct adr_image im = { 0 };
  int have = adr_engine_image_inspect(l->engine, l->image, &im, err);
  if (have == 0) {
    free(l->image_id);
    l->image_id = TAKE_PTR(im.id);
  }
  adr_image_free(&im);
  if (have == 1)
    adr_err_set(err, ENOENT, "image '%s' not found; build it with 'adr build %s%s%s'", l->image, l->agent->name,
                l->o->tag ? " --tag " : "", l->o->tag ? l->o->tag : "");
  if (have == 0 && (launch_devcontainer_image(l, err) < 0 || (l->project_image && project_image(l, err) < 0) ||
                    (l->o->ssh && ssh_image(l, err) < 0)))
    return -1;
  return have;
}

/* ".NAME.starting" holding our pid while a start makes the worktree and the
 * sandbox: created exclusively, so two starts of one name cannot both get
 * here; a marker of a dead adr is taken over. */
static int start_marker(const char *path, const char *name, adr_err *err)
{
  char pid[32];
  snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
  for (int attempt = 0; attempt < 2; attempt++) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      ssize_t w = write(fd, pid, strlen(pid));
      close(fd);
      if (w != (ssize_t)strlen(pid)) {
        unlink(path);
        return adr_err_sys(err, EIO, "write '%s'", path);
      }
      return 0;
    }
    if (errno != EEXIST)
      return adr_err_sys(err, errno, "create '%s'", path);
    cleanup_buf struct buf b;
    buf_init(&b, 64);
    long other = buf_read_file(&b, path) == 0 && b.data ? strtol(b.data, NULL, 10) : 0;
    if (other > 0 && (kill((pid_t)other, 0) == 0 || errno == EPERM))
      return adr_err_set(err, EEXIST, "an agent named '%s' is being started by another adr (pid %ld)", name, other);
    unlink(path); /* left by a killed adr */
  }
  return adr_err_set(err, EEXIST, "an agent named '%s' is being started by another adr", name);
}

static int agent_exists(const struct adr_launch *l, adr_err *err)
{
  return adr_err_set(err, EEXIST, "an agent named '%s' already exists in %s (see 'adr ls')", l->pname, l->scope);
}

char *launch_take_marker(struct adr_launch *l, adr_err *err)
{
  /* a marker that a start is under way, so that no other adr takes the
   * half-made worktree for an orphan */
  cleanup_free char *dir0 = adr_layout_worktrees_dir(l->scope);
  if (adr_mkdir_p(dir0, 0700, err) < 0)
    return NULL;
  /* the path without symlinks: git records it so in the worktree's
   * metadata, which adr checks before every git call */
  char *dir = realpath(dir0, NULL);
  if (!dir) {
    adr_err_sys(err, errno, "'%s'", dir0);
    return NULL;
  }
  cleanup_free char *marker = adr_layout_start_marker(dir, l->pname);
  if (start_marker(marker, l->pname, err) < 0) {
    free(dir);
    return NULL; /* not ours: never remove it */
  }
  l->marker = TAKE_PTR(marker);
  return dir;
}

/* The agent's own branch and worktree, under the start marker. */
static int make_worktree(struct adr_launch *l, adr_err *err)
{
  cleanup_free char *br = l->o->branch ? xstrdup(l->o->branch) : adr_layout_agent_branch(l->pname);
  cleanup_free char *dir = launch_take_marker(l, err);
  if (!dir)
    return -1;
  cleanup_free char *wtpath = adr_layout_worktree(dir, l->pname);
  if (adr_worktree_add(&l->repo, wtpath, br, &l->wt, err) < 0)
    return adr_err_prefix(err, "start '%s'", l->pname);
  l->made_wt = true;
  free(l->ws);
  l->ws = xstrdup(l->wt.path);
  return 0;
}

/* A persistent agent: its repository (or workspace), name and worktree. */
static int prepare_agent(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  int rr = adr_repo_find(l->ws, &l->repo, err);
  if (rr < 0)
    return -1;
  if (rr == 0)
    adr_reap_starts(l->engine, &l->repo, &l->ev);
  if (rr == 1 && o->branch)
    return adr_err_set(err, EINVAL, "--branch: '%s' is not in a git repository", l->ws);
  if (o->branch && (!str_has_prefix(o->branch, "adr/") || !o->branch[4]))
    return adr_err_set(
      err, EINVAL, "--branch '%s': an agent's branch must start with 'adr/' (the only refs it can write)", o->branch);
  if (o->no_worktree && o->branch)
    return adr_err_set(err, EINVAL, "--branch and --no-worktree cannot be combined");
  l->scope = xstrdup(rr == 0 ? l->repo.top : l->ws);
  l->pname = o->name ? xstrdup(o->name) : adr_pagent_free_name(l->engine, l->scope, l->agent->name, err);
  if (!l->pname)
    return -1;
  l->cname = adr_layout_agent_sandbox(l->pname, l->scope);
  int taken = adr_pagent_exists(l->engine, l->scope, l->pname, err);
  if (taken < 0)
    return -1;
  if (taken)
    return agent_exists(l, err);
  if (rr == 0 && !o->no_worktree) {
    if (!l->warm_make && launch_warm_fits(l)) { /* a warm sandbox made ahead, if one fits */
      int c = launch_warm_claim(l, err);
      if (c <= 0)
        return c;
    }
    return make_worktree(l, err);
  }
  return 0;
}

/* The name is free before anything is made under it: the identity files,
 * idmapped mounts, NAME-gw and NAME-net of a live sandbox of that name are
 * not ours to replace. */
static int name_free(struct adr_launch *l, adr_err *err)
{
  struct adr_container live = { 0 };
  int lr = adr_engine_container_inspect(l->engine, l->cname, &live, err);
  adr_container_free(&live);
  if (lr < 0)
    return -1;
  if (lr == 1)
    return 0;
  if (l->o->persistent)
    return agent_exists(l, err);
  return adr_err_set(err, EEXIST, "create sandbox '%s': name in use", l->cname);
}

void launch_fill_ro(struct adr_launch *l)
{
  const struct adr_launch_opts *o = l->o;
  struct adr_run_opts *ro = &l->ro;
  const struct adr_builtin_file *sc = adr_builtin_find("seccomp.json");
  bool root = getuid() == 0;
  uint64_t sbx = 1000;
  adr_parse_uint(adr_config_get(l->config, "ADR_SANDBOX_UID"), UINT32_MAX - 1, &sbx);
  ro->name = l->cname;
  ro->image = l->image;
  ro->workspace = l->ws;
  ro->host_home = l->home;
  ro->config_dir = l->cfgdir;
  ro->config_file = l->cfgfile;
  ro->prompt = o->prompt;
  ro->headless = l->headless;
  ro->shell = o->shell;
  ro->command = o->command;
  ro->interactive = !l->headless;
  /* a persistent agent gets a terminal whether or not adr start has one:
   * adr attach brings one later */
  ro->tty = !l->headless && (o->persistent || o->tty);
  ro->model = l->model;
  ro->term = o->term;
  ro->mounts = l->mounts.v;
  ro->n_mounts = l->mounts.n;
  ro->agent_args = l->agent_args.v;
  ro->n_agent_args = l->agent_args.n;
  ro->uid = root ? (uid_t)sbx : getuid();
  ro->gid = root ? (gid_t)sbx : getgid();
  ro->memory = (int64_t)l->memory;
  ro->nano_cpus = l->nano_cpus;
  ro->gpus = &l->gpus;
  ro->pids = l->pids;
  ro->home_size = l->home_size;
  ro->tmp_size = l->tmp_size;
  ro->unsafe = o->unsafe;
  ro->seccomp_profile = sc && sc->len > 2 ? (const char *)sc->data : NULL;
  free(l->identity_dir);
  free(l->overlay_dir);
  free(l->idmap_dir);
  l->identity_dir = adr_layout_state_path(ADR_STATE_IDENTITY, l->cname);
  ro->identity_dir = l->identity_dir;
  l->overlay_dir = adr_layout_overlay_dir(l->identity_dir);
  ro->overlay_dir = l->overlay_dir;
  /* an engine whose user namespace maps the sandbox's user to the caller
   * needs no idmapped mounts */
  bool idmap = root && !(l->engine && adr_engine_can(l->engine, ADR_ENG_CAP_USERNS));
  l->idmap_dir = idmap ? adr_layout_state_path(ADR_STATE_IDMAP, l->cname) : NULL;
}

/* adr_run_spec's inputs, and the identity files it mounts. */
static int run_opts(struct adr_launch *l, adr_err *err)
{
  launch_fill_ro(l);
  /* passwd/group made here and mounted read-only: the agent cannot edit
   * its own identity (the image's /etc/passwd points into /run/adr) */
  return adr_identity_write(l->identity_dir, l->ro.uid, l->ro.gid, err);
}

/* The workspace's git config is the agent's to write (in a plain run): say
 * which hosts it contributed, so a poisoned remote is seen. */
static void hint_git_remotes(struct adr_launch *l)
{
  struct buf gb;
  buf_init(&gb, 0);
  for (size_t i = 0; i < l->pol.n; i++)
    if (str_has_prefix(l->pol.v[i].label, "preset packages (git remote):"))
      buf_printf(&gb, "%s%s:%s", gb.len ? ", " : "", l->pol.v[i].pattern, l->pol.v[i].ports);
  if (gb.len) {
    cleanup_free char *shown = adr_str_escape(gb.data, 400);
    adr_emit(&l->ev, ADR_EVENT_HINT, "allowed from the workspace's git remotes: %s", shown);
  }
  buf_free(&gb);
}

/* The policy's presets, before a warm sandbox's digest is compared. */
static int prepare_policy(struct adr_launch *l, adr_err *err)
{
  for (size_t i = 0; l->pol.mode == ADR_NET_ALLOWLIST && i < l->presets.n; i++)
    if (adr_netpolicy_preset(&l->pol, l->presets.v[i], l->ws, err) < 0)
      return -1;
  if (!l->warm_make)
    hint_git_remotes(l);
  return 0;
}

/* A warm sandbox takes a unit of the pool: made now when none is free
 * (its name must not be in the names of its network objects: it changes). */
static int claim_for_warm(struct adr_launch *l, const struct adr_egress_req *er, adr_err *err)
{
  cleanup_free char *host = adr_run_hostname(l->agent);
  /* another adr may be filling the pool (then this fill does nothing) or
   * take the unit made here first: again, for a while */
  for (int i = 0; i < 300; i++) {
    int up = adr_egress_pool_claim(l->engine, er, &l->spec, &l->egress_unit, &l->relay_url, err);
    if (up != 1)
      return up;
    int have = adr_egress_pool_fill(l->engine, er, host, adr_egress_pool_free() + 1, err);
    if (have < 0)
      return -1;
    if (have == 0)
      usleep(100 * 1000);
  }
  return adr_err_set(err, EAGAIN, "no free egress unit for a warm sandbox (another adr kept making them)");
}

/* The network the policy allows: made before the sandbox, which joins it. */
static int prepare_egress(struct adr_launch *l, adr_err *err)
{
  l->egress_dir = adr_layout_state_path(ADR_STATE_EGRESS, l->cname);
  l->gateway_bin = l->pol.mode == ADR_NET_NONE ? NULL : adr_gateway_bin(err);
  if (l->pol.mode != ADR_NET_NONE && !l->gateway_bin)
    return -1;
  const char *gwbin = l->gateway_bin;
  cleanup_strv struct strv resolvers = { 0 }, glabels = { 0 };
  adr_config_get_list(l->config, "ADR_DNS", &resolvers);
  adr_layout_gateway_labels(l->o->persistent, &glabels);
  struct adr_egress_req er = {
    .sandbox = l->cname,
    .policy = &l->pol,
    .image = l->image,
    .gateway_bin = gwbin,
    .dir = l->egress_dir,
    .pool = adr_config_get(l->config, "ADR_NETWORK_POOL"),
    .resolvers = &resolvers,
    .labels = &glabels,
    .uid = getuid(),
    .gid = getgid(),
  };
  cleanup_free char *routes = NULL;
  cleanup_buf struct buf ca;
  buf_init(&ca, 0);
  if (l->creds.n_routes && l->pol.mode != ADR_NET_NONE) {
    cleanup_strv struct strv cas = { 0 };
    if (adr_extra_ca_files(adr_config_get(l->config, "ADR_EXTRA_CA"), "/usr/local/share/ca-certificates", &cas, err) <
          0 ||
        adr_ca_bundle(&cas, &ca, err) < 0)
      return -1;
    routes = adr_creds_route_file(&l->creds);
    er.relay = routes;
    er.ca_pem = ca.data;
  }
  int up = 1;
  er.own_interface = l->o->persistent;
  if (l->warm_make && l->pol.mode == ADR_NET_ALLOWLIST)
    up = claim_for_warm(l, &er, err);
  else if (launch_pool_size(l) > 0 && !l->compose) /* a unit made ahead, if one is free (a unit's holder
                                                     cannot join a sandbox's services) */
    up = adr_egress_pool_claim(l->engine, &er, &l->spec, &l->egress_unit, &l->relay_url, err);
  if (up == 1)
    up = adr_egress_up(l->engine, &er, &l->spec, err);
  if (routes)
    explicit_bzero(routes, strlen(routes));
  if (up < 0)
    return -1;
  l->egress_made = l->pol.mode != ADR_NET_NONE;
  return 0;
}

int adr_launch_prepare(struct adr_launch *l, adr_err *err)
{
  if (prepare_policy(l, err) < 0)
    return -1;
  if (l->o->persistent) {
    if (prepare_agent(l, err) < 0)
      return -1;
    if (l->warm_claimed)
      return 0; /* it runs already */
  } else {
    cleanup_free char *suffix = adr_layout_suffix();
    l->cname = l->o->name ? xstrdup(l->o->name) : adr_layout_run_name(l->agent->name, suffix);
  }
  if (name_free(l, err) < 0 || run_opts(l, err) < 0 || adr_run_spec(&l->ro, l->agent, &l->spec, err) < 0)
    return -1;
  /* the staged copies exist before their mounts are made (idmapped ones
   * too); the relay's address goes in once the network is up */
  for (size_t i = 0; i < l->creds.n_overlays; i++)
    if (adr_stage_overlay_write(l->identity_dir, l->creds.overlays[i].rel, l->creds.overlays[i].content, err) < 0)
      return -1;
  if (launch_spec_finish(l, err) < 0 || (l->warm_make && launch_warm_spec(l, err) < 0))
    return -1;
  if (l->idmap_dir && launch_spec_idmap(l, l->ro.uid, l->ro.gid, err) < 0)
    return -1;
  if (prepare_egress(l, err) < 0)
    return -1;
  if (l->warm_make && l->relay_url) { /* for the start that claims it: its command may name the relay */
    cleanup_free char *rf = adr_layout_warm_file(l->identity_dir, "relay");
    if (write_file_atomic(rf, l->relay_url, strlen(l->relay_url), 0644) < 0)
      return adr_err_sys(err, errno, "write '%s'", rf);
  }
  if (launch_spec_relay(l, err) < 0 || launch_services_up(l, err) < 0 || launch_sidecars_up(l, err) < 0)
    return -1;
  return l->o->ssh ? launch_ssh_files(l, err) : 0;
}

int adr_launch_warm_starts(struct adr_launch *l, adr_err *err)
{
  int have = adr_launch_image(l, err);
  if (have != 0)
    return -1;
  if (prepare_policy(l, err) < 0)
    return -1;
  int rr = adr_repo_find(l->ws, &l->repo, err);
  if (rr < 0)
    return -1;
  if (rr == 1)
    return adr_err_set(err, ENOTDIR, "'%s' is not in a git repository: warm sandboxes stand in for 'adr start' there",
                       l->ws);
  l->scope = xstrdup(l->repo.top);
  l->pname = adr_layout_warm_name("template"); /* no sandbox of its own: names for the plan's paths */
  l->cname = adr_layout_agent_sandbox(l->pname, l->scope);
  launch_fill_ro(l);
  if (!launch_warm_fits(l))
    return 0;
  return launch_warm_fill(l->engine, l, launch_warm_size(l), err);
}
