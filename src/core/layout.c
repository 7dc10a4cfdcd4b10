#include "layout.h"
#include "proc.h"
#include "buf.h"
#include "engine.h"
#include "image.h"
#include "paths.h"
#include "spec.h"
#include "worktree.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ names */

char *adr_layout_suffix(void)
{
  unsigned char b[4];
  if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
    unsigned v = (unsigned)getpid() ^ (unsigned)time(NULL);
    memcpy(b, &v, sizeof(b));
  }
  return xasprintf("%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

char *adr_layout_run_name(const char *agent, const char *suffix) { return xasprintf("adr-%s-%s", agent, suffix); }

char *adr_layout_scope_key(const char *scope)
{
  /* FNV-1a, 32 bits: short and stable, enough to tell repositories apart
   * in sandbox names (labels carry the full path) */
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)scope; *p; p++)
    h = (h ^ *p) * 16777619u;
  return xasprintf("%08x", h);
}

char *adr_layout_agent_sandbox(const char *name, const char *scope)
{
  cleanup_free char *key = adr_layout_scope_key(scope);
  return xasprintf("adr-%s-%s", name, key);
}

char *adr_layout_agent_name(const char *agent, unsigned n)
{
  return n <= 1 ? xstrdup(agent) : xasprintf("%s-%u", agent, n);
}

char *adr_layout_warm_name(const char *suffix) { return xasprintf("warm-%s", suffix); }

char *adr_layout_agent_branch(const char *name) { return xasprintf("adr/%s", name); }

char *adr_layout_gateway(const char *sandbox) { return xasprintf("%s-gw", sandbox); }

char *adr_layout_image(const char *prefix, const char *agent, const char *tag)
{
  return xasprintf("%s/%s:%s", prefix ? prefix : "coding-agent", agent, tag ? tag : "latest");
}

char *adr_layout_image_repo(const char *prefix, const char *agent) { return xasprintf("%s/%s", prefix, agent); }

char *adr_layout_image_filter(const char *prefix) { return xasprintf("%s/*", prefix); }

char *adr_layout_base_image(const char *tag) { return xasprintf("%s:%s", ADR_BASE_IMAGE_REPO, tag); }
static const char *id_hex(const char *id)
{
  const char *c = id ? strchr(id, ':') : NULL;
  return c ? c + 1 : id ? id : "";
}

char *adr_layout_project_image(const char *agent, const char *project_id, const char *agent_id)
{
  return xasprintf("adr-project/%s:%.12s-%.12s", agent, id_hex(project_id), id_hex(agent_id));
}

char *adr_layout_ssh_image(const char *base_id) { return xasprintf("adr-ssh/image:%.12s", id_hex(base_id)); }

char *adr_layout_runner_image(const char *tag) { return xasprintf("adr/runner:%s", tag); }

char *adr_layout_team_session(const char *team) { return xasprintf("adr-%s", team); }

const char *adr_layout_team_of_session(const char *session)
{
  return str_has_prefix(session, "adr-") && session[4] ? session + 4 : NULL;
}

char *adr_layout_team_agent(const char *team, const char *name) { return xasprintf("%s.%s", team, name); }

char *adr_layout_team_member(const char *type, unsigned n) { return xasprintf("%s-%u", type, n); }

/* ------------------------------------------------------------ labels */

char *adr_layout_boot_id(void)
{
  struct buf b;
  buf_init(&b, 256);
  char *r = NULL;
  if (buf_read_file(&b, "/proc/sys/kernel/random/boot_id") == 0) {
    size_t n = strcspn(b.data, "\n");
    r = xstrndup(b.data, n);
  }
  buf_free(&b);
  return r ? r : xstrdup("unknown");
}

void adr_layout_owner_labels(struct strv *labels)
{
  cleanup_free char *b = adr_layout_boot_id();
  strv_pushf(labels, ADR_LABEL_MANAGED "=1");
  strv_pushf(labels, ADR_LABEL_OWNER_PID "=%d:%llu", (int)getpid(), adr_proc_start_time(getpid()));
  strv_pushf(labels, ADR_LABEL_OWNER_BOOT "=%s", b);
}

static bool pid_alive(const char *pid, const char *b, const char *boot)
{
  if (b == NULL || !streq(b, boot))
    return false;
  int p = 0;
  unsigned long long st = 0;
  if (sscanf(pid, "%d:%llu", &p, &st) != 2 || p <= 0)
    return false;
  if (kill(p, 0) < 0 && errno == ESRCH)
    return false;
  return adr_proc_start_time(p) == st;
}

bool adr_layout_owner_alive(const struct strv *labels, const char *boot)
{
  const char *pid = adr_labels_get(labels, ADR_LABEL_OWNER_PID);
  if (pid == NULL)
    return true; /* not transient: persistent sandboxes are never reaped here */
  return pid_alive(pid, adr_labels_get(labels, ADR_LABEL_OWNER_BOOT), boot);
}

char *adr_layout_owner_token(void)
{
  cleanup_free char *b = adr_layout_boot_id();
  return xasprintf("%d:%llu %s", (int)getpid(), adr_proc_start_time(getpid()), b);
}

bool adr_layout_token_alive(const char *token, const char *boot)
{
  char pid[64], b[128];
  if (!token || sscanf(token, "%63s %127s", pid, b) != 2)
    return false;
  return pid_alive(pid, b, boot);
}

void adr_layout_sandbox_labels(const struct adr_layout_sandbox *s, struct strv *labels)
{
  strv_pushf(labels, ADR_LABEL_IDENTITY "=%s", s->identity_dir);
  if (s->persistent) {
    strv_push(labels, ADR_LABEL_KIND "=agent");
    strv_pushf(labels, ADR_LABEL_NAME "=%s", s->name);
    strv_pushf(labels, ADR_LABEL_SCOPE "=%s", s->scope);
    if (s->team)
      strv_pushf(labels, ADR_LABEL_TEAM "=%s", s->team);
    if (s->wt) {
      strv_pushf(labels, ADR_LABEL_BRANCH "=%s", s->wt->branch);
      strv_pushf(labels, ADR_LABEL_WORKTREE "=%s", s->wt->path);
      strv_pushf(labels, ADR_LABEL_GITDIR "=%s", s->wt->gitdir);
      strv_pushf(labels, ADR_LABEL_BASE "=%s", s->wt->base);
    }
  } else {
    adr_layout_owner_labels(labels);
    strv_push(labels, ADR_LABEL_KIND "=run");
  }
  if (s->idmap_dir)
    strv_pushf(labels, ADR_LABEL_IDMAP "=%s", s->idmap_dir);
}

void adr_layout_gateway_labels(bool persistent, struct strv *labels)
{
  if (!persistent)
    adr_layout_owner_labels(labels);
}

void adr_layout_helper_labels(const char *kind, struct strv *labels)
{
  adr_layout_owner_labels(labels);
  strv_pushf(labels, ADR_LABEL_KIND "=%s", kind);
}

void adr_layout_base_image_labels(struct strv *labels)
{
  strv_push(labels, ADR_LABEL_MANAGED "=1");
  strv_push(labels, ADR_LABEL_KIND "=base");
}

void adr_layout_agent_image_labels(const char *agent, const char *npm_package, const char *npm_version,
                                   struct strv *labels)
{
  strv_push(labels, ADR_LABEL_MANAGED "=1");
  strv_pushf(labels, ADR_LABEL_AGENT "=%s", agent);
  strv_pushf(labels, "dev.adr.npm=%s@%s", npm_package, npm_version);
}

void adr_layout_filter_managed(struct strv *filters) { strv_push(filters, ADR_LABEL_MANAGED); }

void adr_layout_filter_agents(const char *scope, struct strv *filters)
{
  strv_push(filters, ADR_LABEL_MANAGED);
  strv_push(filters, ADR_LABEL_KIND "=agent");
  if (scope)
    strv_pushf(filters, ADR_LABEL_SCOPE "=%s", scope);
}

void adr_layout_filter_warm(const char *scope, const char *agent, struct strv *filters)
{
  adr_layout_filter_agents(scope, filters);
  strv_push(filters, ADR_LABEL_WARM);
  if (agent)
    strv_pushf(filters, ADR_LABEL_AGENT "=%s", agent);
}

void adr_layout_filter_worktree(const char *path, struct strv *filters)
{
  strv_pushf(filters, ADR_LABEL_WORKTREE "=%s", path);
}

/* ------------------------------------------------------------ host state */

static const char *const area_names[] = {
  [ADR_STATE_IDENTITY] = "run",        [ADR_STATE_IDMAP] = "mnt", [ADR_STATE_EGRESS] = "egress",
  [ADR_STATE_WORKTREES] = "worktrees", [ADR_STATE_POOL] = "pool",
};

char *adr_layout_area(enum adr_state_area area)
{
  cleanup_free char *state = adr_state_dir();
  return xasprintf("%s/%s", state, area_names[area]);
}

char *adr_layout_state_path(enum adr_state_area area, const char *name)
{
  cleanup_free char *state = adr_state_dir();
  return xasprintf("%s/%s/%s", state, area_names[area], name);
}

bool adr_layout_in_area(enum adr_state_area area, const char *path)
{
  if (path == NULL)
    return false;
  cleanup_free char *state = adr_state_dir();
  cleanup_free char *prefix = xasprintf("%s/%s/", state, area_names[area]);
  return str_has_prefix(path, prefix) && !strstr(path, "/../");
}

char *adr_layout_overlay_dir(const char *identity_dir) { return xasprintf("%s/stage", identity_dir); }

char *adr_layout_idmap_entry(const char *dir, size_t n) { return xasprintf("%s/%zu", dir, n); }

char *adr_layout_egress_file(const char *sandbox, const char *file)
{
  cleanup_free char *state = adr_state_dir();
  return xasprintf("%s/egress/%s/%s", state, sandbox, file);
}

char *adr_layout_worktrees_dir(const char *scope)
{
  cleanup_free char *key = adr_layout_scope_key(scope);
  return adr_layout_state_path(ADR_STATE_WORKTREES, key);
}

char *adr_layout_worktree(const char *dir, const char *name) { return xasprintf("%s/%s", dir, name); }

char *adr_layout_start_marker(const char *dir, const char *name) { return xasprintf("%s/.%s.starting", dir, name); }

char *adr_layout_start_marker_name(const char *file)
{
  size_t l = strlen(file);
  if (file[0] != '.' || l < 11 || !streq(file + l - 9, ".starting"))
    return NULL;
  return xstrndup(file + 1, l - 10);
}

char *adr_layout_send_template(void)
{
  cleanup_free char *state = adr_state_dir();
  return xasprintf("%s/.send-XXXXXX", state);
}

char *adr_layout_warm_file(const char *identity_dir, const char *file)
{
  return xasprintf("%s/warm%s%s", identity_dir, *file ? "/" : "", file);
}
