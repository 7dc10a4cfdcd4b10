/* adr team: several persistent agents side by side in one tmux session,
 * one pane each.
 *
 * The agents are ordinary persistent agents (launch.h: own branch and
 * worktree unless shared), labelled with their team; each pane runs
 * `adr attach NAME`.  What tmux knows: session adr-TEAM, its environment
 * ADR_WORKSPACE, and per pane the options @adr_name (member name),
 * @adr_agent (its persistent agent), @adr_hash/@adr_changed (the last
 * snapshot and when it last changed, for stall detection).  tmux is driven
 * with argv vectors only (tmux.c). */
#ifndef ADR_TEAM_H
#define ADR_TEAM_H

#include "agent.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "event.h"
#include "pagent.h"
#include "session.h"
#include "util.h"

#include <stdbool.h>
#include <time.h>

/* A pane is STALLED after this many checks this many seconds apart
 * without a change. */
#define ADR_TEAM_STALL_ROUNDS 2
#define ADR_TEAM_STALL_INTERVAL 3

bool adr_team_name_valid(const char *team);
/* tmux >= 3.0 is there. */
int adr_team_need_tmux(adr_err *err);
/* The team's tmux session exists. */
bool adr_team_exists(const char *team);
/* The teams (tmux sessions adr-TEAM) of the tmux server; none without one. */
int adr_team_list(struct strv *teams, adr_err *err);

/* ------------------------------------------------------------ members */

struct adr_team_member {
  char *type;  /* agent type */
  char *name;  /* member name, unique in the team */
  char *agent; /* its persistent agent: TEAM.NAME */
};
/* TYPE[:NAME] specs -> members: NAME explicit, or generated (TYPE-1,
 * TYPE-2, ... past every name given explicitly) for none or '*'. */
int adr_team_members(const char *team, const struct strv *specs, const struct adr_agents *agents,
                     struct adr_team_member **out, size_t *n, adr_err *err);
void adr_team_members_free(struct adr_team_member *m, size_t n);
/* Every member's image (PREFIX/TYPE:TAG) is there; err says which is not. */
int adr_team_images(struct adr_engine *e, const struct adr_config *c, const struct adr_team_member *m, size_t n,
                    adr_err *err);

/* The session: one window, a pane per member running `exe attach AGENT`
 * in ws.  On failure the caller closes it (adr_team_close). */
int adr_team_open(const char *team, const char *ws, const char *exe, const struct adr_team_member *m, size_t n,
                  adr_err *err);
/* Kills the session; quiet when it is gone. */
int adr_team_close(const char *team, adr_err *err);

/* The repository (or directory) of a workspace, as a persistent agent's
 * scope labels it. */
char *adr_team_scope_of(const char *ws);
/* The team's scope: its workspace as tmux knows it, else cwd's. */
char *adr_team_scope(const char *team, const char *cwd);
/* The team's agents in scope. */
int adr_team_agents(struct adr_engine *e, const char *team, const char *scope, struct adr_pagent **v, size_t *n,
                    adr_err *err);
/* Stops and removes the team's sandboxes; one whose branch holds work that
 * would be lost is stopped and kept (an INFO event says so).  Returns the
 * number kept, or -1 with err. */
int adr_team_remove(struct adr_engine *e, const char *team, const char *scope, const struct adr_events *ev,
                    adr_err *err);

/* ------------------------------------------------------------ panes */

struct adr_team_pane {
  char *id;    /* %N */
  char *name;  /* member name */
  char *agent; /* its persistent agent */
  bool dead;
  char *hash;   /* @adr_hash */
  long changed; /* @adr_changed */
};
void adr_team_panes_free(struct adr_team_pane *p, size_t n);
/* Parses tmux list-panes output (the format adr_team_panes asks for);
 * panes that are not a member's are left out. */
void adr_team_parse_panes(char *text, struct adr_team_pane **out, size_t *n);
int adr_team_panes(const char *team, struct adr_team_pane **out, size_t *n, adr_err *err);
const struct adr_team_pane *adr_team_pane_named(const struct adr_team_pane *p, size_t n, const char *name);
/* Types text into a pane: bracketed paste (a TUI takes newlines as text,
 * not as Enter), then Enter. */
int adr_team_send(const struct adr_team_pane *pane, const char *text, adr_err *err);
/* The last non-empty lines of a pane (up to max, oldest first, each
 * owned); 0 when it cannot be read. */
size_t adr_team_pane_tail(const struct adr_team_pane *pane, char **lines, size_t max);

/* ------------------------------------------------------------ status */

enum adr_team_state { ADR_TEAM_RUNNING, ADR_TEAM_STALLED, ADR_TEAM_EXITED };
const char *adr_team_state_name(enum adr_team_state s);
/* dead/running: the pane's process and the agent's sandbox; changed: its
 * pane changed during the checks; since: seconds since it last changed. */
enum adr_team_state adr_team_classify(bool dead, bool running, bool changed, long since);
/* A snapshot's hash, as @adr_hash stores it. */
char *adr_team_hash(const char *data, size_t len);

struct adr_team_agent {
  char *name;
  enum adr_team_state state;
  long since; /* seconds since its pane last changed */
};
struct adr_team_info {
  char *name;
  long created;
  char *workspace;
  struct adr_team_agent *agents;
  size_t n;
};
/* Checks every pane of the teams rounds+1 times ADR_TEAM_STALL_INTERVAL
 * apart (rounds 0: once, against the snapshot the last check stored) and
 * classifies each agent.  *out has teams->n entries even on failure. */
int adr_team_collect(struct adr_session *s, const struct strv *teams, int rounds, struct adr_team_info **out,
                     adr_err *err);
void adr_team_info_free(struct adr_team_info *ti, size_t n);

#endif
