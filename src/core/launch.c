/* The launch (launch.h): set-up, and the plan phase: everything decided
 * from the options, the configuration and the agent's definition before
 * the engine is asked anything. */
#include "launch-int.h"
#include "devcontainer.h"
#include "forward.h"
#include "fs.h"
#include "layout.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int launch_usage(adr_err *err, const char *fmt, ...)
{
  char *msg = NULL;
  va_list ap;
  va_start(ap, fmt);
  int r = vasprintf(&msg, fmt, ap);
  va_end(ap);
  adr_err_set(err, EINVAL, "%s", r < 0 ? "invalid option" : msg);
  free(msg);
  if (err && *err)
    (*err)->status = ADR_LAUNCH_USAGE;
  return -1;
}

const char *launch_getenv(const struct adr_launch *l, const char *key)
{
  return l->o->getenv ? l->o->getenv(key) : getenv(key);
}

unsigned launch_count(const struct adr_config *c, const char *(*getenv_fn)(const char *), const char *key,
                      unsigned dflt)
{
  /* the environment wins, as for ADR_ENGINE: ADR_EGRESS_POOL=0 adr run ... */
  const char *env = getenv_fn ? getenv_fn(key) : getenv(key);
  uint64_t n = dflt;
  if (adr_parse_uint(env && *env ? env : adr_config_get(c, key), UINT32_MAX, &n) < 0)
    n = dflt;
  return n > 8 ? 8 : (unsigned)n;
}

unsigned adr_launch_pool_size(const struct adr_config *c, const char *(*getenv_fn)(const char *))
{
  return launch_count(c, getenv_fn, "ADR_EGRESS_POOL", 1);
}

unsigned launch_pool_size(const struct adr_launch *l)
{
  /* units made ahead are networks and gateways an engine keeps: one
   * without networks (native) makes each when it is needed */
  if (l->engine && !adr_engine_can(l->engine, ADR_ENG_CAP_NETWORKS))
    return 0;
  return adr_launch_pool_size(l->config, l->o->getenv);
}

void adr_mounts_free(struct adr_mounts *m)
{
  for (size_t i = 0; i < m->n; i++)
    adr_mount_free(&m->v[i]);
  free(m->v);
  memset(m, 0, sizeof(*m));
}

int adr_mounts_add(struct adr_mounts *m, const char *spec, const char *cwd, const char *home, adr_err *err)
{
  struct adr_mount mt;
  if (adr_parse_mount(spec, cwd, home, &mt, err) < 0)
    return -1;
  for (size_t i = 0; i < m->n; i++)
    if (streq(m->v[i].container, mt.container)) {
      adr_err_set(err, EINVAL, "invalid mount '%s': '%s' is already mounted", spec, mt.container);
      adr_mount_free(&mt);
      return -1;
    }
  m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
  m->v[m->n++] = mt;
  return 0;
}

void adr_launch_init(struct adr_launch *l, const struct adr_launch_opts *o, const struct adr_config *config,
                     const struct adr_agents *agents, const struct adr_events *ev)
{
  memset(l, 0, sizeof(*l));
  l->o = o;
  l->config = config;
  l->agents = agents;
  if (ev)
    l->ev = *ev;
  l->timer_fd = -1;
  adr_spec_init(&l->spec);
}

void adr_launch_free(struct adr_launch *l)
{
  for (size_t i = 0; i < l->ro.env.n; i++)
    explicit_bzero(l->ro.env.v[i], strlen(l->ro.env.v[i]));
  strv_free(&l->ro.env);
  adr_netpolicy_free(&l->pol);
  adr_mcp_free(&l->mcp);
  free(l->ssh_sock);
  strv_free(&l->ssh_keys);
  strv_free(&l->gpus.device_ids);
  strv_free(&l->agent_args);
  strv_free(&l->presets);
  free(l->home);
  free(l->ws);
  free(l->cfgdir);
  free(l->cfgfile);
  adr_mounts_free(&l->mounts);
  adr_creds_plan_free(&l->creds);
  strv_free(&l->overlay_rels);
  free(l->image);
  free(l->project_image);
  launch_services_free(l);
  adr_forward_stop(l->fwd);
  if (l->dc) {
    adr_devcontainer_free(l->dc);
    free(l->dc);
  }
  free(l->image_id);
  free(l->cname);
  free(l->scope);
  free(l->pname);
  free(l->marker);
  adr_repo_free(&l->repo);
  adr_worktree_free(&l->wt);
  free(l->identity_dir);
  free(l->overlay_dir);
  free(l->idmap_dir);
  free(l->egress_dir);
  free(l->egress_unit);
  free(l->relay_url);
  free(l->gateway_bin);
  adr_spec_free(&l->spec);
  free(l->id);
  if (l->timer_fd >= 0)
    close(l->timer_fd);
  memset(l, 0, sizeof(*l));
  l->timer_fd = -1;
}

/* ------------------------------------------------------------ plan */

/* ADR_MODEL_AGENT, ADR_ARGS_AGENT: the agent's name in capitals, '-'
 * and '.' as '_' */
static char *agent_key(const char *what, const char *agent)
{
  char *k = xasprintf("ADR_%s_%s", what, agent);
  for (char *p = k; *p; p++)
    *p = (*p == '-' || *p == '.') ? '_' : (char)toupper((unsigned char)*p);
  return k;
}

/* limits: flag > config */
static int plan_limits(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  const struct adr_config *c = l->config;
  /* a timeout is for headless runs; an interactive session gets one only
   * when --timeout asks for it on the command line */
  const char *ts = o->timeout ? o->timeout : adr_config_get(c, "ADR_TIMEOUT");
  l->timeout_text = ts;
  if (ts && *ts) {
    cleanup_free char *tsrc =
      o->timeout ? xstrdup("--timeout") : xasprintf("ADR_TIMEOUT (%s)", adr_config_entry(c, "ADR_TIMEOUT")->origin);
    if (adr_parse_duration(ts, &l->timeout, err) < 0)
      return adr_err_prefix(err, "%s", tsrc);
    if (l->timeout < ADR_TIMEOUT_MIN)
      return adr_err_set(err, EINVAL, "%s '%s': must be at least %us", tsrc, ts, ADR_TIMEOUT_MIN);
  }
  if (!l->headless && !o->persistent && l->timeout) {
    if (o->timeout)
      adr_emit(&l->ev, ADR_EVENT_WARNING, "this interactive session will be stopped after %s (--timeout)", ts);
    else
      l->timeout = 0;
  }
  if (adr_parse_size(o->memory ? o->memory : adr_config_get(c, "ADR_MEMORY"), &l->memory, err) < 0 ||
      adr_parse_cpus(o->cpus ? o->cpus : adr_config_get(c, "ADR_CPUS"), &l->nano_cpus, err) < 0 ||
      adr_parse_size(adr_config_get(c, "ADR_HOME_SIZE"), &l->home_size, err) < 0 ||
      adr_parse_size(adr_config_get(c, "ADR_TMP_SIZE"), &l->tmp_size, err) < 0)
    return -1;
  if (l->memory && l->memory < (6u << 20))
    return adr_err_set(err, EINVAL, "--memory %s: at least 6m", o->memory ? o->memory : "");
  const char *gpus = o->gpus ? o->gpus : adr_config_get(c, "ADR_GPUS");
  if (gpus && *gpus && adr_parse_gpus(gpus, &l->gpus, err) < 0)
    return -1;
  const char *pids = o->pids ? o->pids : adr_config_get(c, "ADR_PIDS");
  uint64_t u = 0;
  if (adr_parse_uint(pids, 1u << 22, &u) < 0 || u == 0)
    return adr_err_set(err, EINVAL, "invalid process limit '%s'", pids);
  l->pids = (int64_t)u;
  return 0;
}

/* network policy: flag > config > agent definition > allowlist */
static int plan_network(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  const struct adr_config *c = l->config;
  size_t n_allow = o->allow ? o->allow->n : 0, n_presets = o->presets ? o->presets->n : 0;
  const char *ms = o->network ? o->network : adr_config_get(c, "ADR_NETWORK");
  if (!ms || !*ms)
    ms = l->agent->network ? l->agent->network : "allowlist";
  if (adr_netmode_parse(ms, &l->pol.mode, err) < 0)
    return o->network ? launch_usage(err, "--network: %s", (*err)->msg) : -1;
  if (l->pol.mode != ADR_NET_ALLOWLIST && (n_allow || n_presets))
    return launch_usage(err, "--allow and --allow-preset need --network allowlist (not %s)",
                        adr_netmode_name(l->pol.mode));
  if (adr_netpolicy_add_list(&l->pol, adr_config_get(c, "ADR_ALLOW"), "ADR_ALLOW", err) < 0)
    return -1;
  for (size_t i = 0; i < n_allow; i++)
    if (adr_netpolicy_add(&l->pol, o->allow->v[i], "--allow", err) < 0)
      return adr_err_prefix(err, "--allow");
  for (size_t i = 0; i < n_presets; i++)
    strv_push(&l->presets, o->presets->v[i]);
  if (l->pol.mode == ADR_NET_ALLOWLIST)
    adr_config_get_list(c, "ADR_ALLOW_PRESETS", &l->presets);
  for (size_t i = 0; i < l->presets.n; i++) {
    bool ok = false;
    for (const char *const *pn = adr_netpolicy_preset_names(); *pn; pn++)
      ok = ok || streq(*pn, l->presets.v[i]);
    if (!ok)
      return launch_usage(err, "--allow-preset '%s': unknown preset (packages)", l->presets.v[i]);
  }
  return 0;
}

/* workspace and the config paths to stage */
static int plan_paths(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  const char *cwd = o->cwd ? o->cwd : ".";
  l->home = adr_home_dir();
  l->ws = realpath(o->workspace ? o->workspace : cwd, NULL);
  if (l->ws == NULL)
    return adr_err_set(err, errno, "workspace '%s': %s", o->workspace ? o->workspace : ".", strerror(errno));
  struct stat st;
  if (stat(l->ws, &st) < 0 || !S_ISDIR(st.st_mode))
    return adr_err_set(err, ENOTDIR, "workspace '%s': not a directory", o->workspace ? o->workspace : l->ws);
  if (streq(l->ws, "/") || streq(l->ws, l->home))
    return adr_err_set(err, EPERM, "workspace '%s': refusing to give an agent your whole %s", l->ws,
                       streq(l->ws, "/") ? "filesystem" : "home directory");
  l->cfgdir = o->config_dir ? realpath(o->config_dir, NULL) : NULL;
  if (o->config_dir && l->cfgdir == NULL)
    return adr_err_set(err, errno, "config directory '%s': %s", o->config_dir, strerror(errno));
  l->cfgfile = o->config_file ? realpath(o->config_file, NULL) : NULL;
  if (o->config_file && l->cfgfile == NULL)
    return adr_err_set(err, errno, "config file '%s': %s", o->config_file, strerror(errno));
  return 0;
}

static int plan_mounts(struct adr_launch *l, adr_err *err)
{
  const char *cwd = l->o->cwd ? l->o->cwd : l->ws;
  const char *cfg_mounts = adr_config_get(l->config, "ADR_MOUNTS");
  if (cfg_mounts) {
    cleanup_free char *copy = xstrdup(cfg_mounts);
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
      if (adr_mounts_add(&l->mounts, tok, cwd, l->home, err) < 0)
        return adr_err_prefix(err, "ADR_MOUNTS (%s)", adr_config_entry(l->config, "ADR_MOUNTS")->origin);
  }
  for (size_t i = 0; l->o->mounts && i < l->o->mounts->n; i++)
    if (adr_mounts_add(&l->mounts, l->o->mounts->v[i], cwd, l->home, err) < 0)
      return -1;
  return 0;
}

/* adr_parse_env_file's lookup takes no user data */
static _Thread_local const struct adr_launch *env_launch;
static const char *env_lookup(const char *key) { return launch_getenv(env_launch, key); }

static int plan_env(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  cleanup_strv struct strv unset = { 0 };
  env_launch = l;
  for (size_t i = 0; o->env_files && i < o->env_files->n; i++)
    if (adr_parse_env_file(o->env_files->v[i], env_lookup, &l->ro.env, &unset, err) < 0)
      return -1;
  for (size_t i = 0; i < unset.n; i++)
    adr_emit(&l->ev, ADR_EVENT_WARNING, "--env-file %s is not set on the host; not passed", unset.v[i]);
  for (size_t i = 0; o->env && i < o->env->n; i++) {
    const char *kv = o->env->v[i];
    if (strchr(kv, '=') == NULL && adr_valid_env_name(kv, strlen(kv))) {
      const char *v = launch_getenv(l, kv);
      if (v)
        strv_pushf(&l->ro.env, "%s=%s", kv, v);
      else
        adr_emit(&l->ev, ADR_EVENT_WARNING, "-e %s: %s is not set on the host; not passed", kv, kv);
      continue;
    }
    cleanup_free char *k = NULL, *v = NULL;
    if (adr_parse_env(kv, &k, &v, err) < 0)
      return launch_usage(err, "-e: %s", (*err)->msg);
    strv_push(&l->ro.env, kv);
  }
  return 0;
}

int adr_launch_plan(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  l->agent = adr_agents_find(l->agents, o->agent);
  if (l->agent == NULL)
    return adr_agents_unknown(l->agents, o->agent, err);
  if (o->tag && adr_config_validate("ADR_TAG", o->tag, err) < 0)
    return launch_usage(err, "--tag: %s", (*err)->msg);
  if (o->name && !adr_agent_name_valid(o->name))
    return launch_usage(err, "--name '%s': use lowercase letters, digits, '-', '_', '.'", o->name);
  l->headless = o->headless || o->prompt;
  if (plan_limits(l, err) < 0 || plan_network(l, err) < 0 || plan_paths(l, err) < 0 ||
      launch_plan_devcontainer(l, err) < 0 || plan_mounts(l, err) < 0 || plan_env(l, err) < 0 ||
      launch_plan_creds(l, err) < 0)
    return -1;
  l->model = o->model;
  if (l->model == NULL) {
    cleanup_free char *mkey = agent_key("MODEL", l->agent->name);
    l->model = adr_config_get(l->config, mkey);
  }
  l->image = adr_layout_image(adr_config_get(l->config, "ADR_IMAGE_PREFIX"), l->agent->name,
                              o->tag ? o->tag : adr_config_get(l->config, "ADR_TAG"));
  /* extra agent arguments (a project's .adr may give them: they act in
   * the sandbox, which they cannot change), then the command line's */
  cleanup_free char *akey = agent_key("ARGS", l->agent->name);
  const char *extra = adr_config_get(l->config, akey);
  if (extra) {
    cleanup_free char *copy = xstrdup(extra);
    char *save = NULL;
    for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
      strv_push(&l->agent_args, w);
  }
  for (size_t i = 0; i < o->n_agent_args; i++)
    strv_push(&l->agent_args, o->agent_args[i]);
  const char *pi = o->project_image ? o->project_image : adr_config_get(l->config, "ADR_PROJECT_IMAGE");
  if (pi && *pi && !l->dc) /* a dev container names its own */
    l->project_image = xstrdup(pi);
  return 0;
}
