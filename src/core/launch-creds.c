/* The plan's credentials: the agent's keys stay on the host; the sandbox
 * gets sentinels, and the relay in its egress gateway swaps them. */
#include "launch-int.h"
#include "paths.h"
#include "secret.h"

#include <errno.h>
#include <string.h>

/* No mount (nor the workspace) reaches credentials past the planner. */
static int check_mounts(struct adr_launch *l, bool relay, adr_err *err)
{
  cleanup_free char *sdir = adr_state_dir(), *cdir = adr_config_dir();
  struct adr_creds_guard g = {
    .agents = l->agents,
    .agent = l->agent,
    .home = l->home,
    .state_dir = sdir,
    .config_dir = cdir,
    .relay = relay,
  };
  cleanup_strv struct strv notes = { 0 };
  struct adr_mount wsm = { .host = l->ws, .container = (char *)ADR_SANDBOX_WORKSPACE };
  if (adr_creds_mount_check(&wsm, &g, &notes, err) < 0)
    return adr_err_prefix(err, "workspace");
  for (size_t i = 0; i < l->mounts.n; i++)
    if (adr_creds_mount_check(&l->mounts.v[i], &g, &notes, err) < 0)
      return -1;
  for (size_t i = 0; i < notes.n; i++)
    adr_emit(&l->ev, ADR_EVENT_WARNING, "%s", notes.v[i]);
  return 0;
}

static void zero_strv(struct strv *v)
{
  for (size_t i = 0; i < v->n; i++)
    explicit_bzero(v->v[i], strlen(v->v[i]));
}

/* What the planner took (keys, base URLs, configs it rewrote) never goes
 * in as the user passed it; a -e that looks like a key the relay does not
 * carry is refused. */
static int take_env(struct adr_launch *l, adr_err *err)
{
  const struct adr_creds_plan *p = &l->creds;
  struct strv kept = { 0 };
  for (size_t i = 0; i < l->ro.env.n; i++) {
    size_t n = strcspn(l->ro.env.v[i], "=");
    bool taken = false;
    for (size_t k = 0; k < p->drop_env.n && !taken; k++)
      taken = strlen(p->drop_env.v[k]) == n && strncmp(p->drop_env.v[k], l->ro.env.v[i], n) == 0;
    if (!taken)
      strv_push(&kept, l->ro.env.v[i]);
  }
  for (size_t i = 0; i < kept.n; i++) {
    size_t n = strcspn(kept.v[i], "=");
    cleanup_free char *k = xstrndup(kept.v[i], n);
    if (adr_creds_secret_name(k)) {
      zero_strv(&kept);
      strv_free(&kept);
      return adr_err_set(err, EPERM,
                         "-e %s: looks like a credential, and %s's relay does not carry it: keys do not enter the "
                         "sandbox (name it in the agent's config, see 'man adr-run' CREDENTIALS, or use --no-relay)",
                         k, l->agent->name);
    }
  }
  for (size_t i = 0; i < p->env.n; i++)
    strv_push(&kept, p->env.v[i]);
  zero_strv(&l->ro.env);
  strv_free(&l->ro.env);
  l->ro.env = kept;
  return 0;
}

/* adr_creds_in.getenv takes no user data */
static _Thread_local const struct adr_launch *creds_launch;
static const char *creds_getenv(const char *key) { return launch_getenv(creds_launch, key); }

static int plan_relay(struct adr_launch *l, adr_err *err)
{
  cleanup_free char *sdir = adr_secret_dir();
  creds_launch = l;
  struct adr_creds_in ci = {
    .agent = l->agent,
    .host_home = l->home,
    .config_dir = l->cfgdir,
    .config_file = l->cfgfile,
    .user_env = &l->ro.env,
    .secrets_dir = sdir,
    .getenv = creds_getenv,
    .mcp = &l->mcp,
  };
  if (adr_creds_plan(&ci, &l->creds, err) < 0)
    return -1;
  if (l->o->git_push) {
    if (l->pol.mode == ADR_NET_NONE)
      return launch_usage(err, "--git-push: the sandbox has no network (--network none)");
    if (adr_creds_git_push(&l->creds, l->ws, err) < 0)
      return -1;
    cleanup_free char *hosts = strv_join(&l->creds.git_hosts, ", ");
    adr_emit(&l->ev, ADR_EVENT_INFO, "git push over https through the relay: %s", hosts);
  }
  for (size_t i = 0; i < l->creds.notes.n; i++)
    adr_emit(&l->ev, ADR_EVENT_WARNING, "%s: %s", l->agent->name, l->creds.notes.v[i]);
  if (take_env(l, err) < 0)
    return -1;
  l->ro.stage_hide = &l->creds.hide;
  l->ro.pre_args = &l->creds.args;
  if (l->creds.n_routes && l->pol.mode == ADR_NET_NONE)
    adr_emit(&l->ev, ADR_EVENT_HINT, "no network: the credential relay is off, the agent cannot reach its API");
  for (size_t i = 0; i < l->creds.mcp_hosts.n; i++)
    if (adr_netpolicy_add(&l->pol, l->creds.mcp_hosts.v[i], "mcp.json:", err) < 0)
      return -1;
  if (l->creds.mcp_names.n) {
    cleanup_free char *names = strv_join(&l->creds.mcp_names, ", ");
    adr_emit(&l->ev, ADR_EVENT_INFO, "MCP servers for %s: %s", l->agent->name, names);
  }
  return 0;
}

/* The relay found no key for the agent: say so before anything starts,
 * with the three ways to give one, and whether the agent can log in by
 * itself (its login hosts are allowlisted then; not with no network). */
static void warn_no_key(const struct adr_launch *l)
{
  const struct adr_agent *agent = l->agent;
  const struct adr_creds_plan *plan = &l->creds;
  cleanup_free char *names = strv_join(&plan->key_names, ", ");
  cleanup_free char *hosts = strv_join(&agent->login_hosts, ", ");
  const char *what;
  cleanup_free char *own = NULL;
  if (l->headless)
    what = ": the run will fail at its first request";
  else if (l->pol.mode == ADR_NET_NONE)
    what = "; with no network it cannot log in by itself either";
  else if (agent->login_hosts.n)
    what = own = xasprintf("; it can only log in by itself (its login hosts are allowed: %s)", hosts);
  else
    what = "; it can only log in by itself";
  adr_emit(&l->ev, ADR_EVENT_WARNING, "no API key found for %s (%s)%s", agent->name, names, what);
  adr_emit(&l->ev, ADR_EVENT_HINT,
           "give it one with 'adr secret set %s', in the host environment (%s=...), or use --no-relay to stage "
           "%s's own login",
           plan->key_names.v[0], plan->key_names.v[0], agent->name);
}

int launch_plan_creds(struct adr_launch *l, adr_err *err)
{
  const struct adr_launch_opts *o = l->o;
  const char *setting = adr_config_get(l->config, "ADR_RELAY");
  bool relay = !o->no_relay && !streq(setting, "off");
  if (!relay)
    adr_emit(&l->ev, ADR_EVENT_WARNING,
             "credential relay off (%s): the agent's config is staged whole and -e keys enter the sandbox",
             o->no_relay ? "--no-relay" : adr_config_entry(l->config, "ADR_RELAY")->origin);
  if (check_mounts(l, relay, err) < 0 || launch_plan_mcp(l, err) < 0)
    return -1;
  bool mcp_for = false;
  for (size_t i = 0; i < l->mcp.n; i++)
    mcp_for = mcp_for || adr_mcp_for(&l->mcp.v[i], l->agent->name);
  if (!relay && o->git_push)
    return launch_usage(err, "--git-push needs the credential relay (not --no-relay, ADR_RELAY=off)");
  if (!relay && mcp_for)
    adr_emit(&l->ev, ADR_EVENT_WARNING,
             "mcp.json's servers are not given with the relay off: their secrets would enter the sandbox");
  if (relay && plan_relay(l, err) < 0)
    return -1;
  if (launch_plan_ssh_agent(l, err) < 0)
    return -1;
  for (size_t i = 0; i < l->creds.n_overlays; i++)
    strv_push(&l->overlay_rels, l->creds.overlays[i].rel);
  l->ro.stage_overlays = &l->overlay_rels;
  /* the agent's API hosts: reached through the relay when it carries the
   * agent's keys, else directly, with its login hosts (the agent logs in
   * by itself) */
  if (!l->creds.n_agent_routes) {
    cleanup_free char *asrc = xasprintf("agent %s:", l->agent->name);
    const struct strv *hl[] = { &l->agent->api_hosts, &l->agent->login_hosts };
    for (size_t k = 0; k < ARRAY_SIZE(hl); k++)
      for (size_t i = 0; i < hl[k]->n; i++)
        if (adr_netpolicy_add(&l->pol, hl[k]->v[i], asrc, err) < 0)
          return -1;
  }
  if (relay && !l->creds.n_agent_routes && l->creds.key_names.n && !o->shell && !o->command)
    warn_no_key(l);
  return 0;
}
