/* adr team (also installed as adr-tmux): several persistent agents side by
 * side in one tmux session, one pane each.
 *
 * The agents are ordinary persistent agents (adr start: own branch and
 * worktree unless --shared-workspace), labelled with their team; each pane
 * runs `adr attach NAME`.  What tmux knows: session adr-SESSION, its
 * environment ADR_WORKSPACE, and per pane the options @adr_name (instance
 * name), @adr_agent (its persistent agent name), @adr_hash/@adr_changed
 * (the last snapshot and when it last changed, for stall detection).
 * tmux is driven with argv vectors only (src/lib/tmux.c). */
#include "cmd.h"
#include "fmt.h"
#include "paths.h"
#include "tmux.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { OPT_AGENT = 256, OPT_SHARED, OPT_ALL, OPT_JSON };

const struct option team_options[] = {
  { "agent", required_argument, NULL, OPT_AGENT },
  { "workspace", required_argument, NULL, 'w' },
  { "shared-workspace", no_argument, NULL, OPT_SHARED },
  { "all", no_argument, NULL, OPT_ALL },
  { "json", no_argument, NULL, OPT_JSON },
  { "help", no_argument, NULL, 'h' },
  { 0 },
};

const char team_help[] =
  "Runs several agents side by side in a tmux session adr-SESSION, one pane\n"
  "each, titled with the agent's name.  Each is a persistent agent (see\n"
  "'adr start'): in a git repository it works on its own branch and\n"
  "worktree unless --shared-workspace.\n\n"
  "Subcommands:\n"
  "  start SESSION --agent TYPE[:NAME]... [-w DIR] [--shared-workspace]\n"
  "        NAME explicit (pi:main), generated (pi -> pi-1, pi-2) or '*'\n"
  "        (pi:*, generated too); unique in the session\n"
  "  attach SESSION              the session in your terminal (alias: inject)\n"
  "  send SESSION --agent NAME|--all PROMPT\n"
  "        types PROMPT into the agent's pane (bracketed paste, then Enter)\n"
  "  status [SESSION] [--json]   sessions, uptime, workspace; each agent\n"
  "        RUNNING, STALLED (no change in its pane for 2 checks 3 s apart;\n"
  "        with the time since its last change) or EXITED\n"
  "  watch SESSION [--agent NAME]  every 3 s: state changes and new output\n"
  "  merge SESSION               merge the agents' branches one after another\n"
  "        (in name order), stopping at the first conflict\n"
  "  stop SESSION                close the panes and remove the sandboxes;\n"
  "        an agent whose branch holds unmerged work keeps its (stopped)\n"
  "        sandbox, worktree and branch\n\n"
  "Needs tmux >= 3.0.  ADR_TMUX_SOCKET=PATH selects a tmux server.\n\n"
  "Examples:\n"
  "  adr team start dev --agent claude:lead --agent pi --agent pi\n"
  "  adr team send dev --agent pi-1 'write the tests for parse.c'\n"
  "  adr team status dev\n";

#define STALL_ROUNDS 2
#define STALL_INTERVAL 3

static bool session_name_valid(const char *s)
{
  return adr_agent_name_valid(s) && strlen(s) <= 40;
}

static char *session_of(const char *s) { return xasprintf("adr-%s", s); }

static int need_tmux(adr_err *err)
{
  int v = adr_tmux_version(err);
  if (v < 0)
    return -1;
  if (v < 300)
    return adr_err_set(err, ENOTSUP, "tmux %d.%d is too old: adr team needs tmux >= 3.0", v / 100, v % 100);
  return 0;
}

static bool session_exists(const char *sess)
{
  cleanup_err adr_err e = NULL;
  cleanup_free char *t = xasprintf("=%s", sess);
  return adr_tmux(NULL, &e, "has-session", "-t", t, NULL) == 0;
}

/* ------------------------------------------------------------ panes */

struct pane {
  char *id;        /* %N */
  char *name;      /* instance name */
  char *agent;     /* persistent agent name */
  bool dead;
  char *hash;      /* @adr_hash */
  long changed;    /* @adr_changed */
};

static void panes_free(struct pane *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(p[i].id);
    free(p[i].name);
    free(p[i].agent);
    free(p[i].hash);
  }
  free(p);
}

static int list_panes(const char *sess, struct pane **out, size_t *n, adr_err *err)
{
  *out = NULL;
  *n = 0;
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 20);
  cleanup_free char *t = xasprintf("=%s", sess);
  if (adr_tmux(&b, err, "list-panes", "-s", "-t", t, "-F",
               "#{pane_id}\t#{@adr_name}\t#{@adr_agent}\t#{pane_dead}\t#{@adr_hash}\t#{@adr_changed}", NULL) < 0)
    return -1;
  struct pane *v = NULL;
  size_t m = 0;
  char *save = NULL;
  for (char *l = b.data ? strtok_r(b.data, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
    char *f[6] = { 0 };
    int k = 0;
    for (char *p = l; k < 6; k++) {
      f[k] = p;
      char *tab = strchr(p, '\t');
      if (!tab) {
        k++;
        break;
      }
      *tab = '\0';
      p = tab + 1;
    }
    if (k < 6 || !*f[1])
      continue; /* not one of ours */
    v = xrealloc(v, (m + 1) * sizeof(*v));
    v[m] = (struct pane){ xstrdup(f[0]), xstrdup(f[1]), xstrdup(f[2]), streq(f[3], "1"), xstrdup(f[4]),
                          strtol(f[5], NULL, 10) };
    m++;
  }
  *out = v;
  *n = m;
  return 0;
}

static const struct pane *pane_named(const struct pane *p, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (streq(p[i].name, name))
      return &p[i];
  return NULL;
}

/* ------------------------------------------------------------ start */

struct member {
  char *type;  /* agent type */
  char *name;  /* instance name */
  char *pname; /* persistent agent name: SESSION.NAME */
};

static int parse_members(const struct strv *specs, const struct adr_agents *agents, struct member **out,
                         size_t *n, adr_err *err)
{
  struct member *m = xcalloc(specs->n ? specs->n : 1, sizeof(*m));
  size_t k = 0;
  for (size_t i = 0; i < specs->n; i++) {
    const char *s = specs->v[i];
    const char *colon = strchr(s, ':');
    char *type = colon ? xstrndup(s, (size_t)(colon - s)) : xstrdup(s);
    const char *want = colon ? colon + 1 : NULL;
    if (!adr_agents_find(agents, type)) {
      adr_agents_unknown(agents, type, err);
      free(type);
      goto fail;
    }
    char *name = NULL;
    if (want && *want && !streq(want, "*")) {
      if (!adr_agent_name_valid(want) || strlen(want) > 40) {
        adr_err_set(err, EINVAL, "--agent '%s': invalid name '%s' (lowercase letters, digits, '-', '_', '.')", s, want);
        free(type);
        goto fail;
      }
      name = xstrdup(want);
    } else {
      for (unsigned x = 1; !name; x++) {
        char *cand = xasprintf("%s-%u", type, x);
        bool taken = false;
        for (size_t j = 0; j < specs->n && !taken; j++) {
          /* explicit names anywhere in the list are reserved */
          const char *c2 = strchr(specs->v[j], ':');
          taken = c2 && streq(c2 + 1, cand);
        }
        for (size_t j = 0; j < k && !taken; j++)
          taken = streq(m[j].name, cand);
        if (taken)
          free(cand);
        else
          name = cand;
      }
    }
    for (size_t j = 0; j < k; j++)
      if (streq(m[j].name, name)) {
        adr_err_set(err, EEXIST, "--agent '%s': the name '%s' is used twice in this session", s, name);
        free(type);
        free(name);
        goto fail;
      }
    m[k].type = type;
    m[k].name = name;
    k++;
  }
  *out = m;
  *n = k;
  return 0;
fail:
  for (size_t j = 0; j < k; j++) {
    free(m[j].type);
    free(m[j].name);
  }
  free(m);
  return -1;
}

static void members_free(struct member *m, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(m[i].type);
    free(m[i].name);
    free(m[i].pname);
  }
  free(m);
}

static char *self_exe(void)
{
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return xstrdup("adr");
  buf[n] = '\0';
  return xstrdup(buf);
}

/* Starts the members' sandboxes in parallel: one child per member running
 * adr start (forked, no exec: same binary, same code path). */
static int start_sandboxes(struct adr_ctx *ctx, const char *session, const char *ws, bool shared,
                           struct member *m, size_t n)
{
  pid_t *pids = xcalloc(n, sizeof(*pids));
  fflush(stdout);
  fflush(stderr);
  for (size_t i = 0; i < n; i++) {
    pid_t p = fork();
    if (p < 0) {
      pids[i] = -1;
      continue;
    }
    if (p == 0) {
      struct strv a = { 0 };
      strv_push(&a, "start");
      strv_push(&a, m[i].type);
      strv_push(&a, "--name");
      strv_push(&a, m[i].pname);
      strv_push(&a, "-w");
      strv_push(&a, ws);
      strv_push(&a, "--yes");
      if (shared)
        strv_push(&a, "--no-worktree");
      struct adr_ctx child = { .prog = ctx->prog, .cwd = ctx->cwd };
      optind = 0; /* glibc: a full getopt reset */
      int r = run_main(&child, (int)a.n, a.v, true, session);
      fflush(stdout);
      _exit(r);
    }
    pids[i] = p;
  }
  int failed = 0;
  for (size_t i = 0; i < n; i++) {
    int st = 0;
    if (pids[i] < 0 || waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      failed++;
  }
  free(pids);
  return failed;
}

static int remove_members(struct adr_ctx *ctx, const char *session, const char *scope);
static char *scope_of(const char *ws);

static int team_start(struct adr_ctx *ctx, const char *session, const struct strv *specs, const char *workspace,
                      bool shared)
{
  cleanup_err adr_err err = NULL;
  if (specs->n == 0)
    return errorf("team start: name at least one agent (--agent TYPE[:NAME])");
  if (need_tmux(&err) < 0 || ctx_config(ctx, &err) < 0 || ctx_agents(ctx, &err) < 0)
    return report(&err);
  cleanup_free char *sess = session_of(session);
  if (session_exists(sess))
    return errorf("team start: session '%s' already exists (tmux session %s)", session, sess);
  struct member *m;
  size_t n;
  if (parse_members(specs, &ctx->agents, &m, &n, &err) < 0) {
    adr_err_prefix(&err, "team start");
    return report(&err);
  }
  for (size_t i = 0; i < n; i++)
    m[i].pname = xasprintf("%s.%s", session, m[i].name);
  cleanup_free char *ws = realpath(workspace ? workspace : (ctx->cwd ? ctx->cwd : "."), NULL);
  if (!ws) {
    members_free(m, n);
    return errorf("team start: workspace '%s': %s", workspace ? workspace : ".", strerror(errno));
  }
  /* images first, once (a child would ask each on its own) */
  if (ctx_engine(ctx, &err) < 0) {
    members_free(m, n);
    return report(&err);
  }
  for (size_t i = 0; i < n; i++) {
    cleanup_free char *img = agent_image(ctx, m[i].type, NULL);
    int have = adr_engine_image_inspect(ctx->engine, img, NULL, &err);
    if (have != 0) {
      members_free(m, n);
      if (have < 0)
        return report(&err);
      return errorf("team start: image '%s' not found; build it with 'adr build %s'", img, m[i].type);
    }
  }
  int failed = start_sandboxes(ctx, session, ws, shared, m, n);
  if (failed) {
    cleanup_free char *sc = scope_of(ws);
    remove_members(ctx, session, sc);
    members_free(m, n);
    return errorf("team start: %d of %zu agents did not start; nothing was kept", failed, n);
  }

  /* the session: one window, a pane per agent running adr attach */
  cleanup_free char *exe = self_exe();
  cleanup_buf struct buf b;
  buf_init(&b, 4096);
  int ret = EXIT_FAIL;
  for (size_t i = 0; i < n; i++) {
    buf_reset(&b);
    int r;
    if (i == 0)
      r = adr_tmux(&b, &err, "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", sess, "-x", "200", "-y", "50",
                   "-c", ws, "-e", "ADR_TEAM_SESSION=1", "--", exe, "attach", m[i].pname, NULL);
    else {
      cleanup_free char *t = xasprintf("=%s:", sess);
      r = adr_tmux(&b, &err, "split-window", "-d", "-P", "-F", "#{pane_id}", "-t", t, "-c", ws, "--", exe,
                   "attach", m[i].pname, NULL);
      if (r == 0) {
        cleanup_err adr_err e2 = NULL;
        adr_tmux(NULL, &e2, "select-layout", "-t", t, "tiled", NULL);
      }
    }
    if (r < 0)
      goto fail;
    cleanup_free char *pane = xstrdup(adr_git_trim(&b));
    if (adr_tmux(NULL, &err, "set-option", "-p", "-t", pane, "@adr_name", m[i].name, NULL) < 0 ||
        adr_tmux(NULL, &err, "set-option", "-p", "-t", pane, "@adr_agent", m[i].pname, NULL) < 0 ||
        adr_tmux(NULL, &err, "set-option", "-p", "-t", pane, "remain-on-exit", "on", NULL) < 0 ||
        adr_tmux(NULL, &err, "select-pane", "-t", pane, "-T", m[i].name, NULL) < 0)
      goto fail;
  }
  {
    cleanup_free char *t = xasprintf("=%s", sess);
    cleanup_free char *w = xasprintf("=%s:", sess);
    if (adr_tmux(NULL, &err, "set-environment", "-t", t, "ADR_WORKSPACE", ws, NULL) < 0 ||
        adr_tmux(NULL, &err, "set-option", "-w", "-t", w, "pane-border-status", "top", NULL) < 0 ||
        adr_tmux(NULL, &err, "set-option", "-w", "-t", w, "pane-border-format", " #{@adr_name} ", NULL) < 0)
      goto fail;
  }
  printf("team '%s' started in tmux session %s:", session, sess);
  for (size_t i = 0; i < n; i++)
    printf(" %s (%s)", m[i].name, m[i].type);
  printf("\n");
  hintf("'adr team attach %s' to watch them, 'adr team send %s --agent NAME PROMPT' to talk to one", session,
        session);
  ret = EXIT_OK;
  members_free(m, n);
  return ret;
fail:
  adr_err_prefix(&err, "team start");
  ret = report(&err);
  {
    cleanup_err adr_err e3 = NULL;
    cleanup_free char *t = xasprintf("=%s", sess);
    adr_tmux(NULL, &e3, "kill-session", "-t", t, NULL);
  }
  {
    cleanup_free char *sc = scope_of(ws);
    remove_members(ctx, session, sc);
  }
  members_free(m, n);
  return ret;
}

/* ------------------------------------------------------------ members */

/* The repository (or directory) a workspace belongs to, as adr start
 * labels it. */
static char *scope_of(const char *ws)
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

/* The team's agents; scope NULL: the team's workspace as tmux knows it,
 * else the current directory's repository. */
static int team_agents_in(struct adr_ctx *ctx, const char *session, const char *scope, struct pagent **v,
                          size_t *n, adr_err *err)
{
  if (ctx_engine(ctx, err) < 0)
    return -1;
  struct pagent *all;
  size_t m;
  if (pagent_list(ctx, scope, &all, &m, err) < 0)
    return -1;
  size_t k = 0;
  for (size_t i = 0; i < m; i++) {
    const char *t = adr_labels_get(&all[i].c.labels, ADR_LABEL_TEAM);
    if (streq(t, session))
      all[k++] = all[i];
    else
      pagent_free(&all[i]);
  }
  *v = all;
  *n = k;
  return 0;
}

static char *team_scope(struct adr_ctx *ctx, const char *session)
{
  cleanup_free char *sess = session_of(session);
  cleanup_free char *t = xasprintf("=%s", sess);
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 16);
  cleanup_err adr_err e = NULL;
  if (adr_tmux(&b, &e, "show-environment", "-t", t, "ADR_WORKSPACE", NULL) == 0 && b.data &&
      str_has_prefix(adr_git_trim(&b), "ADR_WORKSPACE="))
    return scope_of(b.data + 14);
  return scope_of(ctx->cwd ? ctx->cwd : ".");
}

static int team_agents(struct adr_ctx *ctx, const char *session, struct pagent **v, size_t *n, adr_err *err)
{
  cleanup_free char *scope = team_scope(ctx, session);
  return team_agents_in(ctx, session, scope, v, n, err);
}

/* Removes the team's sandboxes; one whose branch holds work that would be
 * lost is stopped and kept (reported).  Returns the number kept. */
static int remove_members(struct adr_ctx *ctx, const char *session, const char *scope)
{
  cleanup_err adr_err err = NULL;
  struct pagent *v;
  size_t n;
  if (team_agents_in(ctx, session, scope, &v, &n, &err) < 0) {
    report(&err);
    return -1;
  }
  int kept = 0;
  for (size_t i = 0; i < n; i++) {
    struct pagent *a = &v[i];
    /* stopped first: nothing may change between the check and removal */
    if (pagent_running(a) && adr_engine_container_stop(ctx->engine, a->c.id, 10, &err) < 0) {
      warnf("stop '%s': %s; kept", a->name, err->msg);
      adr_err_free(&err);
      kept++;
      continue;
    }
    pagent_egress(ctx, a, true);
    if (a->has_worktree) {
      adr_repo_free(&a->repo);
      struct adr_worktree_state st;
      if (adr_repo_find(a->scope, &a->repo, &err) != 0 || adr_worktree_state(&a->repo, &a->wt, &st, &err) < 0) {
        warnf("%s: %s", a->name, err ? err->msg : "not in a git repository any more");
        adr_err_free(&err);
        kept++;
        continue;
      }
      bool work = st.unmerged > 0 || st.changes.n > 0;
      adr_worktree_state_free(&st);
      if (work) {
        printf("kept '%s' (stopped): its branch %s holds work; 'adr merge %s' or 'adr rm --force %s'\n", a->name,
               a->wt.branch, a->name, a->name);
        kept++;
        continue;
      }
      if (adr_worktree_remove(&a->repo, &a->wt, true, &err) < 0) {
        warnf("%s: %s", a->name, err->msg);
        adr_err_free(&err);
      }
    }
    pagent_remove_host_state(a);
    if (adr_engine_container_remove(ctx->engine, a->c.id, true, &err) < 0) {
      warnf("remove sandbox of '%s': %s", a->name, err->msg);
      adr_err_free(&err);
    } else {
      pagent_egress(ctx, a, false);
    }
  }
  pagents_free(v, n);
  return kept;
}

/* ------------------------------------------------------------ send */

static int paste(const char *pane, const char *text, adr_err *err)
{
  cleanup_free char *state = adr_state_dir();
  if (adr_mkdir_p(state, 0700, err) < 0)
    return -1;
  cleanup_free char *tmp = xasprintf("%s/.send-XXXXXX", state);
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0)
    return adr_err_sys(err, errno, "create '%s'", tmp);
  size_t len = strlen(text), off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w <= 0) {
      close(fd);
      unlink(tmp);
      return adr_err_sys(err, errno, "write '%s'", tmp);
    }
    off += (size_t)w;
  }
  close(fd);
  cleanup_free char *bufname = xasprintf("adr-send-%ld", (long)getpid());
  int r = adr_tmux(NULL, err, "load-buffer", "-b", bufname, tmp, NULL);
  unlink(tmp);
  if (r < 0)
    return -1;
  /* bracketed paste: a TUI takes newlines as text, not as Enter */
  if (adr_tmux(NULL, err, "paste-buffer", "-p", "-d", "-b", bufname, "-t", pane, NULL) < 0)
    return -1;
  return adr_tmux(NULL, err, "send-keys", "-t", pane, "Enter", NULL);
}

static int team_send(const char *session, const char *agent, bool all, const char *prompt)
{
  cleanup_err adr_err err = NULL;
  if (need_tmux(&err) < 0)
    return report(&err);
  cleanup_free char *sess = session_of(session);
  if (!session_exists(sess))
    return errorf("team send: no session '%s' (see 'adr team status')", session);
  struct pane *p;
  size_t n;
  if (list_panes(sess, &p, &n, &err) < 0)
    return report(&err);
  int ret = EXIT_OK;
  if (!all) {
    const struct pane *t = pane_named(p, n, agent);
    if (!t) {
      ret = errorf("team send: no agent '%s' in session '%s'", agent, session);
    } else if (t->dead) {
      ret = errorf("team send: '%s' has exited", agent);
    } else if (paste(t->id, prompt, &err) < 0) {
      adr_err_prefix(&err, "team send to '%s'", agent);
      ret = report(&err);
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      if (p[i].dead)
        continue;
      if (paste(p[i].id, prompt, &err) < 0) {
        adr_err_prefix(&err, "team send to '%s'", p[i].name);
        ret = report(&err);
      }
    }
  }
  panes_free(p, n);
  return ret;
}

/* ------------------------------------------------------------ status */

static char *snapshot_hash(const char *pane)
{
  cleanup_err adr_err err = NULL;
  cleanup_buf struct buf b;
  buf_init(&b, 4 << 20);
  if (adr_tmux(&b, &err, "capture-pane", "-p", "-t", pane, NULL) < 0)
    return xstrdup("");
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < b.len; i++)
    h = (h ^ (unsigned char)b.data[i]) * 1099511628211ULL;
  return xasprintf("%016llx", (unsigned long long)h);
}

enum astate { A_RUNNING, A_STALLED, A_EXITED };
static const char *const astate_name[] = { "RUNNING", "STALLED", "EXITED" };

struct agent_status {
  char *name;
  enum astate state;
  long since; /* seconds since the pane last changed */
};

/* One check of every pane: compares with the last snapshot, records a
 * change (in p and in the pane's options).  Returns per pane whether it
 * changed. */
static void check_panes(struct pane *p, size_t n, bool *changed, time_t now)
{
  for (size_t i = 0; i < n; i++) {
    char *h = snapshot_hash(p[i].id);
    changed[i] = !streq(h, p[i].hash);
    if (!changed[i]) {
      free(h);
      continue;
    }
    cleanup_err adr_err e = NULL;
    cleanup_free char *ts = xasprintf("%ld", (long)now);
    adr_tmux(NULL, &e, "set-option", "-p", "-t", p[i].id, "@adr_hash", h, NULL);
    adr_tmux(NULL, &e, "set-option", "-p", "-t", p[i].id, "@adr_changed", ts, NULL);
    p[i].changed = now;
    free(p[i].hash);
    p[i].hash = h;
  }
}

struct session_info {
  char *name;   /* without adr- */
  long created;
  char *workspace;
  struct agent_status *agents;
  size_t n;
};

static int sessions_list(struct strv *out, adr_err *err)
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
  for (char *l = b.data ? strtok_r(b.data, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save))
    if (str_has_prefix(l, "adr-") && l[4])
      strv_push(out, l + 4);
  return 0;
}

static int collect(struct adr_ctx *ctx, const struct strv *sessions, struct session_info **out, int rounds,
                   adr_err *err)
{
  size_t ns = sessions->n;
  struct session_info *si = xcalloc(ns ? ns : 1, sizeof(*si));
  struct pane **panes = xcalloc(ns ? ns : 1, sizeof(*panes));
  size_t *np = xcalloc(ns ? ns : 1, sizeof(*np));
  bool **any = xcalloc(ns ? ns : 1, sizeof(*any));
  bool **had = xcalloc(ns ? ns : 1, sizeof(*had)); /* a snapshot from an earlier check existed */
  int ret = 0;
  time_t now = time(NULL);
  for (size_t s = 0; s < ns; s++) {
    si[s].name = xstrdup(sessions->v[s]);
    cleanup_free char *sess = session_of(sessions->v[s]);
    cleanup_free char *t = xasprintf("=%s", sess);
    cleanup_buf struct buf b;
    buf_init(&b, 1 << 16);
    cleanup_err adr_err e = NULL;
    cleanup_free char *tw = xasprintf("=%s:", sess);
    if (adr_tmux(&b, &e, "display-message", "-p", "-t", tw, "#{session_created}", NULL) == 0)
      si[s].created = strtol(b.data ? b.data : "0", NULL, 10);
    buf_reset(&b);
    if (adr_tmux(&b, &e, "show-environment", "-t", t, "ADR_WORKSPACE", NULL) == 0 && b.data &&
        str_has_prefix(b.data, "ADR_WORKSPACE="))
      si[s].workspace = xstrdup(adr_git_trim(&b) + 14);
    if (list_panes(sess, &panes[s], &np[s], err) < 0) {
      ret = -1;
      goto out;
    }
    any[s] = xcalloc(np[s] ? np[s] : 1, sizeof(bool));
    had[s] = xcalloc(np[s] ? np[s] : 1, sizeof(bool));
    for (size_t i = 0; i < np[s]; i++)
      had[s][i] = panes[s][i].hash[0] != '\0';
  }
  /* rounds of checks STALL_INTERVAL apart; the first compares with what
   * the last status or watch stored */
  for (int r = 0; r <= rounds; r++) {
    if (r > 0)
      sleep(STALL_INTERVAL);
    now = time(NULL);
    for (size_t s = 0; s < ns; s++) {
      bool *ch = xcalloc(np[s] ? np[s] : 1, sizeof(bool));
      check_panes(panes[s], np[s], ch, now);
      for (size_t i = 0; i < np[s]; i++)
        if (ch[i] && (r > 0 || (rounds == 0 && had[s][i])))
          any[s][i] = true; /* a change in this command's own rounds, or (watch) since the last check */
      free(ch);
    }
  }
  /* sandbox states */
  struct pagent *agents = NULL;
  size_t na = 0;
  if (ctx_engine(ctx, err) < 0 || pagent_list(ctx, NULL, &agents, &na, err) < 0) {
    ret = -1;
    goto out;
  }
  for (size_t s = 0; s < ns; s++) {
    si[s].agents = xcalloc(np[s] ? np[s] : 1, sizeof(struct agent_status));
    si[s].n = np[s];
    for (size_t i = 0; i < np[s]; i++) {
      struct agent_status *as = &si[s].agents[i];
      as->name = xstrdup(panes[s][i].name);
      bool running = false;
      for (size_t k = 0; k < na; k++)
        if (streq(agents[k].name, panes[s][i].agent) && pagent_running(&agents[k]))
          running = true;
      as->since = panes[s][i].changed ? (long)(now - panes[s][i].changed) : 0;
      if (panes[s][i].dead || !running)
        as->state = A_EXITED;
      else if (any[s][i] || as->since < STALL_ROUNDS * STALL_INTERVAL)
        as->state = A_RUNNING;
      else
        as->state = A_STALLED;
    }
  }
  pagents_free(agents, na);
out:
  for (size_t s = 0; s < ns; s++) {
    panes_free(panes[s], np[s]);
    free(any[s]);
    free(had[s]);
  }
  free(panes);
  free(np);
  free(any);
  free(had);
  *out = si;
  return ret;
}

static void sessions_info_free(struct session_info *si, size_t n)
{
  for (size_t s = 0; s < n; s++) {
    for (size_t i = 0; i < si[s].n; i++)
      free(si[s].agents[i].name);
    free(si[s].agents);
    free(si[s].name);
    free(si[s].workspace);
  }
  free(si);
}

static int team_status(struct adr_ctx *ctx, const char *session, bool json)
{
  cleanup_err adr_err err = NULL;
  if (need_tmux(&err) < 0)
    return report(&err);
  struct strv sessions = { 0 };
  if (session) {
    cleanup_free char *sess = session_of(session);
    if (!session_exists(sess))
      return errorf("team status: no session '%s'", session);
    strv_push(&sessions, session);
  } else if (sessions_list(&sessions, &err) < 0) {
    return report(&err);
  }
  struct session_info *si;
  if (collect(ctx, &sessions, &si, STALL_ROUNDS, &err) < 0) {
    sessions_info_free(si, sessions.n);
    strv_free(&sessions);
    return report(&err);
  }
  time_t now = time(NULL);
  if (json) {
    json_t *arr = json_array();
    for (size_t s = 0; s < sessions.n; s++) {
      json_t *ag = json_array();
      for (size_t i = 0; i < si[s].n; i++)
        json_array_append_new(ag, json_pack("{s:s, s:s, s:I}", "name", si[s].agents[i].name, "state",
                                            astate_name[si[s].agents[i].state], "since",
                                            (json_int_t)si[s].agents[i].since));
      json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s?, s:o}", "session", si[s].name, "created",
                                           (json_int_t)si[s].created, "uptime", (json_int_t)(now - si[s].created),
                                           "workspace", si[s].workspace, "agents", ag));
    }
    char *out = json_dumps(arr, JSON_INDENT(2));
    puts(out);
    free(out);
    json_decref(arr);
  } else if (sessions.n == 0) {
    printf("no adr team sessions\n");
  } else {
    for (size_t s = 0; s < sessions.n; s++) {
      cleanup_free char *up = adr_fmt_uptime((time_t)si[s].created, now);
      printf("%s  up %s  %s\n", si[s].name, up, si[s].workspace ? si[s].workspace : "");
      for (size_t i = 0; i < si[s].n; i++) {
        const struct agent_status *a = &si[s].agents[i];
        if (a->state == A_STALLED)
          printf("  %-20s %s (no change for %lds)\n", a->name, astate_name[a->state], a->since);
        else
          printf("  %-20s %s\n", a->name, astate_name[a->state]);
      }
    }
  }
  sessions_info_free(si, sessions.n);
  strv_free(&sessions);
  return EXIT_OK;
}

/* ------------------------------------------------------------ watch */

static volatile sig_atomic_t stop_watch;
static void on_int(int sig)
{
  (void)sig;
  stop_watch = 1;
}

static int team_watch(struct adr_ctx *ctx, const char *session, const char *only)
{
  cleanup_err adr_err err = NULL;
  if (need_tmux(&err) < 0)
    return report(&err);
  cleanup_free char *sess = session_of(session);
  if (!session_exists(sess))
    return errorf("team watch: no session '%s'", session);
  struct sigaction sa = { .sa_handler = on_int };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  struct strv one = { 0 };
  strv_push(&one, session);
  struct strv prev = { 0 }; /* "name=STATE" */
  printf("watching %s every %ds (Ctrl-C stops)\n", session, STALL_INTERVAL);
  fflush(stdout);
  while (!stop_watch && session_exists(sess)) {
    struct session_info *si;
    if (collect(ctx, &one, &si, 0, &err) < 0) {
      sessions_info_free(si, 1);
      break;
    }
    char tbuf[16];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime_r(&now, &tmv));
    for (size_t i = 0; i < si[0].n; i++) {
      const struct agent_status *a = &si[0].agents[i];
      if (only && !streq(only, a->name))
        continue;
      cleanup_free char *key = xasprintf("%s=%s", a->name, astate_name[a->state]);
      if (!strv_contains(&prev, key)) {
        printf("%s %-20s %s\n", tbuf, a->name, astate_name[a->state]);
        /* replace the old entry for this name */
        for (size_t k = 0; k < prev.n; k++) {
          size_t nl = strlen(a->name);
          if (strncmp(prev.v[k], a->name, nl) == 0 && prev.v[k][nl] == '=') {
            free(prev.v[k]);
            prev.v[k] = xstrdup(key);
            goto shown;
          }
        }
        strv_push(&prev, key);
      shown:;
      }
      if (a->state == A_RUNNING && a->since < STALL_INTERVAL + 1) {
        /* recent output: the last non-empty lines of the pane */
        struct pane *p;
        size_t n;
        if (list_panes(sess, &p, &n, &err) == 0) {
          const struct pane *pp = pane_named(p, n, a->name);
          cleanup_buf struct buf b;
          buf_init(&b, 4 << 20);
          if (pp && adr_tmux(&b, &err, "capture-pane", "-p", "-t", pp->id, NULL) == 0 && b.data) {
            char *lines[3] = { 0 };
            char *save = NULL;
            for (char *l = strtok_r(b.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
              char *q = l;
              while (*q == ' ')
                q++;
              if (!*q)
                continue;
              lines[0] = lines[1];
              lines[1] = lines[2];
              lines[2] = l;
            }
            for (int k = 0; k < 3; k++)
              if (lines[k])
                printf("%s %-20s | %.160s\n", tbuf, a->name, lines[k]);
          }
          panes_free(p, n);
        }
        adr_err_free(&err);
      }
    }
    fflush(stdout);
    sessions_info_free(si, 1);
    for (int k = 0; k < STALL_INTERVAL * 10 && !stop_watch; k++)
      usleep(100000);
  }
  strv_free(&one);
  strv_free(&prev);
  return EXIT_OK;
}

/* ------------------------------------------------------------ stop, merge */

static int team_stop(struct adr_ctx *ctx, const char *session)
{
  cleanup_err adr_err err = NULL;
  if (need_tmux(&err) < 0)
    return report(&err);
  cleanup_free char *sess = session_of(session);
  bool had = session_exists(sess);
  cleanup_free char *scope = team_scope(ctx, session); /* before the session goes */
  if (had) {
    cleanup_free char *t = xasprintf("=%s", sess);
    if (adr_tmux(NULL, &err, "kill-session", "-t", t, NULL) < 0)
      return report(&err);
  }
  int kept = remove_members(ctx, session, scope);
  if (kept < 0)
    return EXIT_FAIL;
  printf("stopped team '%s'%s\n", session, had ? "" : " (its tmux session was already gone)");
  return EXIT_OK;
}

static int cmp_pagent_name(const void *x, const void *y)
{
  const struct pagent *a = x, *b = y;
  return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

static int team_merge(struct adr_ctx *ctx, const char *session)
{
  cleanup_err adr_err err = NULL;
  struct pagent *v;
  size_t n;
  if (team_agents(ctx, session, &v, &n, &err) < 0)
    return report(&err);
  qsort(v, n, sizeof(*v), cmp_pagent_name); /* a predictable order: by name */
  struct adr_repo repo;
  cleanup_free char *scope = NULL;
  int in = pagent_scope(ctx, &repo, &scope, &err);
  if (in < 0) {
    pagents_free(v, n);
    return report(&err);
  }
  int ret = EXIT_OK;
  size_t merged = 0;
  if (n == 0) {
    ret = errorf("team merge: no agents of team '%s'", session);
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    if (!v[i].has_worktree)
      continue;
    if (in != 0 || !streq(v[i].scope, scope)) {
      ret = errorf("team merge: run it in the repository %s", v[i].scope);
      goto out;
    }
    v[i].repo = repo; /* borrowed for pagent_merge */
    v[i].in_repo = true;
    bool conflict;
    int r = pagent_merge(ctx, &v[i], &conflict);
    memset(&v[i].repo, 0, sizeof(v[i].repo));
    if (r != EXIT_OK) {
      fprintf(stderr, "adr: team merge: stopped at '%s'; %zu merged before it\n", v[i].name, merged);
      ret = EXIT_FAIL;
      goto out;
    }
    merged++;
  }
out:
  adr_repo_free(&repo);
  pagents_free(v, n);
  return ret;
}

/* ------------------------------------------------------------ dispatch */

int cmd_team(struct adr_ctx *ctx, int argc, char **argv)
{
  const struct adr_cmd *self = adr_cmd_find("team");
  const char *workspace = NULL, *agent = NULL;
  bool shared = false, all = false, json = false;
  cleanup_strv struct strv agents = { 0 };
  int c;
  while ((c = next_opt(self, argc, argv, "hw:", NULL)) != -1) {
    switch (c) {
    case OPT_AGENT: strv_push(&agents, optarg); agent = optarg; break;
    case 'w': workspace = optarg; break;
    case OPT_SHARED: shared = true; break;
    case OPT_ALL: all = true; break;
    case OPT_JSON: json = true; break;
    case 'h': print_cmd_help(self, stdout); return EXIT_OK;
    default: return EXIT_USAGE;
    }
  }
  if (optind >= argc)
    return usage_error(self, "which subcommand? (start, attach, send, status, watch, merge, stop)");
  const char *sub = argv[optind++];
  const char *session = optind < argc ? argv[optind++] : NULL;
  if (streq(sub, "help")) {
    print_cmd_help(self, stdout);
    return EXIT_OK;
  }
  static const char *const subs[] = { "start", "attach", "inject", "send", "status", "watch", "merge", "stop" };
  bool known = false;
  for (size_t i = 0; i < ARRAY_SIZE(subs); i++)
    known |= streq(sub, subs[i]);
  if (!known)
    return usage_error(self, "unknown subcommand '%s' (start, attach, send, status, watch, merge, stop)", sub);
  if (!streq(sub, "status") && !session)
    return usage_error(self, "%s: which session?", sub);
  if (session && !session_name_valid(session))
    return usage_error(self, "invalid session name '%s' (lowercase letters, digits, '-', '_', '.')", session);
  if (streq(sub, "start")) {
    if (optind < argc)
      return usage_error(self, "start: unexpected argument '%s' (agents are given with --agent)", argv[optind]);
    return team_start(ctx, session, &agents, workspace, shared);
  }
  if (streq(sub, "attach") || streq(sub, "inject")) {
    cleanup_err adr_err err = NULL;
    if (need_tmux(&err) < 0)
      return report(&err);
    cleanup_free char *sess = session_of(session);
    if (!session_exists(sess))
      return errorf("team attach: no session '%s'", session);
    cleanup_free char *t = xasprintf("=%s", sess);
    const char *sock = getenv("ADR_TMUX_SOCKET");
    fflush(stdout);
    if (sock && *sock)
      execlp("tmux", "tmux", "-S", sock, getenv("TMUX") ? "switch-client" : "attach-session", "-t", t, (char *)NULL);
    else
      execlp("tmux", "tmux", getenv("TMUX") ? "switch-client" : "attach-session", "-t", t, (char *)NULL);
    return errorf("team attach: run tmux: %s", strerror(errno));
  }
  if (streq(sub, "send")) {
    if (!all && agents.n != 1)
      return usage_error(self, "send: name one agent with --agent NAME, or --all");
    if (optind >= argc)
      return usage_error(self, "send: what prompt?");
    if (optind + 1 < argc)
      return usage_error(self, "send: one prompt argument (quote it)");
    return team_send(session, agent, all, argv[optind]);
  }
  if (optind < argc)
    return usage_error(self, "%s: unexpected argument '%s'", sub, argv[optind]);
  if (streq(sub, "status"))
    return team_status(ctx, session, json);
  if (streq(sub, "watch"))
    return team_watch(ctx, session, agents.n ? agent : NULL);
  if (streq(sub, "stop"))
    return team_stop(ctx, session);
  if (streq(sub, "merge"))
    return team_merge(ctx, session);
  return usage_error(self, "unknown subcommand '%s' (start, attach, send, status, watch, merge, stop)", sub);
}
