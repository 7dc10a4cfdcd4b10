/* adr team status and adr team watch: what the agents of a team are doing
 * (core/team.h detects stalls). */
#include "cmd.h"
#include "fmt.h"
#include "team.h"

#include <jansson.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static void print_json(const struct adr_team_info *ti, size_t n, time_t now)
{
  json_t *arr = json_array();
  for (size_t s = 0; s < n; s++) {
    json_t *ag = json_array();
    for (size_t i = 0; i < ti[s].n; i++)
      json_array_append_new(ag, json_pack("{s:s, s:s, s:I}", "name", ti[s].agents[i].name, "state",
                                          adr_team_state_name(ti[s].agents[i].state), "since",
                                          (json_int_t)ti[s].agents[i].since));
    json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:s?, s:o}", "session", ti[s].name, "created",
                                         (json_int_t)ti[s].created, "uptime", (json_int_t)(now - ti[s].created),
                                         "workspace", ti[s].workspace, "agents", ag));
  }
  char *out = json_dumps(arr, JSON_INDENT(2));
  puts(out);
  free(out);
  json_decref(arr);
}

static void print_text(const struct adr_team_info *ti, size_t n, time_t now)
{
  if (n == 0) {
    printf("no adr team sessions\n");
    return;
  }
  for (size_t s = 0; s < n; s++) {
    cleanup_free char *up = adr_fmt_uptime((time_t)ti[s].created, now);
    printf("%s  up %s  %s\n", ti[s].name, up, ti[s].workspace ? ti[s].workspace : "");
    for (size_t i = 0; i < ti[s].n; i++) {
      const struct adr_team_agent *a = &ti[s].agents[i];
      if (a->state == ADR_TEAM_STALLED)
        printf("  %-20s %s (no change for %lds)\n", a->name, adr_team_state_name(a->state), a->since);
      else
        printf("  %-20s %s\n", a->name, adr_team_state_name(a->state));
    }
  }
}

int team_status(struct adr_ctx *ctx, const char *team, bool json)
{
  cleanup_err adr_err err = NULL;
  if (adr_team_need_tmux(&err) < 0)
    return report(&err);
  cleanup_strv struct strv teams = { 0 };
  if (team) {
    if (!adr_team_exists(team))
      return errorf("team status: no session '%s'", team);
    strv_push(&teams, team);
  } else if (adr_team_list(&teams, &err) < 0) {
    return report(&err);
  }
  struct adr_team_info *ti;
  int r = adr_team_collect(&ctx->s, &teams, ADR_TEAM_STALL_ROUNDS, &ti, &err);
  if (r == 0 && json)
    print_json(ti, teams.n, time(NULL));
  else if (r == 0)
    print_text(ti, teams.n, time(NULL));
  adr_team_info_free(ti, teams.n);
  return r < 0 ? report(&err) : EXIT_OK;
}

static volatile sig_atomic_t stop_watch;
static void on_int(int sig)
{
  (void)sig;
  stop_watch = 1;
}

/* "name=STATE" of each agent as last shown: a line when it changes. */
static void show_state(struct strv *prev, const struct adr_team_agent *a, const char *tbuf)
{
  cleanup_free char *key = xasprintf("%s=%s", a->name, adr_team_state_name(a->state));
  if (strv_contains(prev, key))
    return;
  printf("%s %-20s %s\n", tbuf, a->name, adr_team_state_name(a->state));
  size_t nl = strlen(a->name);
  for (size_t k = 0; k < prev->n; k++)
    if (strncmp(prev->v[k], a->name, nl) == 0 && prev->v[k][nl] == '=') {
      free(prev->v[k]);
      prev->v[k] = TAKE_PTR(key);
      return;
    }
  strv_push(prev, key);
}

/* recent output: the last non-empty lines of the agent's pane */
static void show_output(const char *team, const struct adr_team_agent *a, const char *tbuf)
{
  struct adr_team_pane *p;
  size_t n;
  cleanup_err adr_err err = NULL;
  if (adr_team_panes(team, &p, &n, &err) < 0)
    return;
  const struct adr_team_pane *pp = adr_team_pane_named(p, n, a->name);
  char *lines[3];
  size_t nl = pp ? adr_team_pane_tail(pp, lines, 3) : 0;
  for (size_t k = 0; k < nl; k++) {
    printf("%s %-20s | %.160s\n", tbuf, a->name, lines[k]);
    free(lines[k]);
  }
  adr_team_panes_free(p, n);
}

int team_watch(struct adr_ctx *ctx, const char *team, const char *only)
{
  cleanup_err adr_err err = NULL;
  if (adr_team_need_tmux(&err) < 0)
    return report(&err);
  if (!adr_team_exists(team))
    return errorf("team watch: no session '%s'", team);
  struct sigaction sa = { .sa_handler = on_int };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  cleanup_strv struct strv one = { 0 }, prev = { 0 };
  strv_push(&one, team);
  printf("watching %s every %ds (Ctrl-C stops)\n", team, ADR_TEAM_STALL_INTERVAL);
  fflush(stdout);
  while (!stop_watch && adr_team_exists(team)) {
    struct adr_team_info *ti;
    if (adr_team_collect(&ctx->s, &one, 0, &ti, &err) < 0) {
      adr_team_info_free(ti, 1);
      break;
    }
    char tbuf[16];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(tbuf, sizeof(tbuf), "%H:%M:%S", localtime_r(&now, &tmv));
    for (size_t i = 0; i < ti[0].n; i++) {
      const struct adr_team_agent *a = &ti[0].agents[i];
      if (only && !streq(only, a->name))
        continue;
      show_state(&prev, a, tbuf);
      if (a->state == ADR_TEAM_RUNNING && a->since < ADR_TEAM_STALL_INTERVAL + 1)
        show_output(team, a, tbuf);
    }
    fflush(stdout);
    adr_team_info_free(ti, 1);
    for (int k = 0; k < ADR_TEAM_STALL_INTERVAL * 10 && !stop_watch; k++)
      usleep(100000);
  }
  return EXIT_OK;
}
