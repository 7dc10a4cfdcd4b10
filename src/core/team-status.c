/* adr team (team.h): panes, prompts typed into them, stall detection. */
#include "team.h"
#include "buf.h"
#include "fs.h"
#include "git.h"
#include "layout.h"
#include "tmux.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PANE_FORMAT "#{pane_id}\t#{@adr_name}\t#{@adr_agent}\t#{pane_dead}\t#{@adr_hash}\t#{@adr_changed}"

void adr_team_panes_free(struct adr_team_pane *p, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(p[i].id);
    free(p[i].name);
    free(p[i].agent);
    free(p[i].hash);
  }
  free(p);
}

void adr_team_parse_panes(char *text, struct adr_team_pane **out, size_t *n)
{
  struct adr_team_pane *v = NULL;
  size_t m = 0;
  char *save = NULL;
  for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
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
    v[m] = (struct adr_team_pane){ xstrdup(f[0]),    xstrdup(f[1]), xstrdup(f[2]),
                                   streq(f[3], "1"), xstrdup(f[4]), strtol(f[5], NULL, 10) };
    m++;
  }
  *out = v;
  *n = m;
}

int adr_team_panes(const char *team, struct adr_team_pane **out, size_t *n, adr_err *err)
{
  *out = NULL;
  *n = 0;
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 20);
  cleanup_free char *sess = adr_layout_team_session(team);
  cleanup_free char *t = xasprintf("=%s", sess);
  if (adr_tmux(&b, err, "list-panes", "-s", "-t", t, "-F", PANE_FORMAT, NULL) < 0)
    return -1;
  adr_team_parse_panes(b.data, out, n);
  return 0;
}

const struct adr_team_pane *adr_team_pane_named(const struct adr_team_pane *p, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (streq(p[i].name, name))
      return &p[i];
  return NULL;
}

int adr_team_send(const struct adr_team_pane *pane, const char *text, adr_err *err)
{
  cleanup_free char *tmp = adr_layout_send_template();
  cleanup_free char *dir = xstrdup(tmp);
  *strrchr(dir, '/') = '\0';
  if (adr_mkdir_p(dir, 0700, err) < 0)
    return -1;
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
  if (adr_tmux(NULL, err, "paste-buffer", "-p", "-d", "-b", bufname, "-t", pane->id, NULL) < 0)
    return -1;
  return adr_tmux(NULL, err, "send-keys", "-t", pane->id, "Enter", NULL);
}

size_t adr_team_pane_tail(const struct adr_team_pane *pane, char **lines, size_t max)
{
  cleanup_err adr_err err = NULL;
  cleanup_buf struct buf b;
  buf_init(&b, 4 << 20);
  if (adr_tmux(&b, &err, "capture-pane", "-p", "-t", pane->id, NULL) < 0 || !b.data || max == 0)
    return 0;
  size_t n = 0;
  char *save = NULL;
  for (char *l = strtok_r(b.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char *q = l;
    while (*q == ' ')
      q++;
    if (!*q)
      continue;
    if (n == max) {
      free(lines[0]);
      memmove(lines, lines + 1, (max - 1) * sizeof(*lines));
      n--;
    }
    lines[n++] = xstrdup(l);
  }
  return n;
}

/* ------------------------------------------------------------ status */

static const char *const state_names[] = { "RUNNING", "STALLED", "EXITED" };

const char *adr_team_state_name(enum adr_team_state s) { return state_names[s]; }

enum adr_team_state adr_team_classify(bool dead, bool running, bool changed, long since)
{
  if (dead || !running)
    return ADR_TEAM_EXITED;
  if (changed || since < ADR_TEAM_STALL_ROUNDS * ADR_TEAM_STALL_INTERVAL)
    return ADR_TEAM_RUNNING;
  return ADR_TEAM_STALLED;
}

char *adr_team_hash(const char *data, size_t len)
{
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)data[i]) * 1099511628211ULL;
  return xasprintf("%016llx", (unsigned long long)h);
}

static char *snapshot_hash(const char *pane)
{
  cleanup_err adr_err err = NULL;
  cleanup_buf struct buf b;
  buf_init(&b, 4 << 20);
  if (adr_tmux(&b, &err, "capture-pane", "-p", "-t", pane, NULL) < 0)
    return xstrdup("");
  return adr_team_hash(b.data ? b.data : "", b.len);
}

/* One check of every pane: compares with the last snapshot, records a
 * change (in p and in the pane's options); changed[i] says whether pane i
 * changed. */
static void check_panes(struct adr_team_pane *p, size_t n, bool *changed, time_t now)
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

/* What one team's panes did over the checks. */
struct scan {
  struct adr_team_pane *p;
  size_t n;
  bool *any; /* changed in this command's own rounds, or (rounds 0) since the last check */
  bool *had; /* a snapshot from an earlier check existed */
};

static int scan_team(const char *team, struct adr_team_info *ti, struct scan *sc, adr_err *err)
{
  ti->name = xstrdup(team);
  cleanup_free char *sess = adr_layout_team_session(team);
  cleanup_free char *t = xasprintf("=%s", sess);
  cleanup_free char *tw = xasprintf("=%s:", sess);
  cleanup_buf struct buf b;
  buf_init(&b, 1 << 16);
  cleanup_err adr_err e = NULL;
  if (adr_tmux(&b, &e, "display-message", "-p", "-t", tw, "#{session_created}", NULL) == 0)
    ti->created = strtol(b.data ? b.data : "0", NULL, 10);
  buf_reset(&b);
  if (adr_tmux(&b, &e, "show-environment", "-t", t, "ADR_WORKSPACE", NULL) == 0 && b.data &&
      str_has_prefix(b.data, "ADR_WORKSPACE="))
    ti->workspace = xstrdup(adr_git_trim(&b) + 14);
  if (adr_team_panes(team, &sc->p, &sc->n, err) < 0)
    return -1;
  sc->any = xcalloc(sc->n ? sc->n : 1, sizeof(bool));
  sc->had = xcalloc(sc->n ? sc->n : 1, sizeof(bool));
  for (size_t i = 0; i < sc->n; i++)
    sc->had[i] = sc->p[i].hash[0] != '\0';
  return 0;
}

/* rounds of checks ADR_TEAM_STALL_INTERVAL apart; the first compares with
 * what the last status or watch stored */
static time_t check_rounds(struct scan *sc, size_t ns, int rounds)
{
  time_t now = time(NULL);
  for (int r = 0; r <= rounds; r++) {
    if (r > 0)
      sleep(ADR_TEAM_STALL_INTERVAL);
    now = time(NULL);
    for (size_t s = 0; s < ns; s++) {
      bool *ch = xcalloc(sc[s].n ? sc[s].n : 1, sizeof(bool));
      check_panes(sc[s].p, sc[s].n, ch, now);
      for (size_t i = 0; i < sc[s].n; i++)
        if (ch[i] && (r > 0 || (rounds == 0 && sc[s].had[i])))
          sc[s].any[i] = true;
      free(ch);
    }
  }
  return now;
}

static void classify_team(struct adr_team_info *ti, const struct scan *sc, const struct adr_pagent *agents, size_t na,
                          time_t now)
{
  ti->agents = xcalloc(sc->n ? sc->n : 1, sizeof(*ti->agents));
  ti->n = sc->n;
  for (size_t i = 0; i < sc->n; i++) {
    struct adr_team_agent *as = &ti->agents[i];
    as->name = xstrdup(sc->p[i].name);
    bool running = false;
    for (size_t k = 0; k < na; k++)
      if (streq(agents[k].name, sc->p[i].agent) && adr_pagent_running(&agents[k]))
        running = true;
    as->since = sc->p[i].changed ? (long)(now - sc->p[i].changed) : 0;
    as->state = adr_team_classify(sc->p[i].dead, running, sc->any[i], as->since);
  }
}

int adr_team_collect(struct adr_session *s, const struct strv *teams, int rounds, struct adr_team_info **out,
                     adr_err *err)
{
  size_t ns = teams->n;
  struct adr_team_info *ti = xcalloc(ns ? ns : 1, sizeof(*ti));
  struct scan *sc = xcalloc(ns ? ns : 1, sizeof(*sc));
  int ret = 0;
  struct adr_pagent *agents = NULL;
  size_t na = 0;
  time_t now = time(NULL);
  for (size_t i = 0; i < ns && ret == 0; i++)
    ret = scan_team(teams->v[i], &ti[i], &sc[i], err);
  if (ret == 0) {
    now = check_rounds(sc, ns, rounds);
    /* the sandboxes' states */
    ret = adr_session_engine(s, err) < 0 || adr_pagent_list(s->engine, NULL, &agents, &na, err) < 0 ? -1 : 0;
  }
  for (size_t i = 0; i < ns && ret == 0; i++)
    classify_team(&ti[i], &sc[i], agents, na, now);
  adr_pagents_free(agents, na);
  for (size_t i = 0; i < ns; i++) {
    adr_team_panes_free(sc[i].p, sc[i].n);
    free(sc[i].any);
    free(sc[i].had);
  }
  free(sc);
  *out = ti;
  return ret;
}

void adr_team_info_free(struct adr_team_info *ti, size_t n)
{
  for (size_t s = 0; s < n; s++) {
    for (size_t i = 0; i < ti[s].n; i++)
      free(ti[s].agents[i].name);
    free(ti[s].agents);
    free(ti[s].name);
    free(ti[s].workspace);
  }
  free(ti);
}
