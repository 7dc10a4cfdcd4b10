/* What every use of adr starts from, loaded when first needed: the
 * configuration (for a directory), the agent definitions, the engine.  The
 * command line keeps one for its process; a server would keep one too. */
#ifndef ADR_SESSION_H
#define ADR_SESSION_H

#include "agent.h"
#include "config.h"
#include "engine.h"
#include "err.h"

#include <stdbool.h>

struct adr_session {
  char *cwd; /* owned; NULL: "." */
  struct adr_config config;
  bool config_loaded;
  struct adr_agents agents;
  bool agents_loaded;
  struct adr_engine *engine;
};

/* Each loads once; later calls return 0.  Warnings (unknown keys, agent
 * files skipped) stay in config.warnings and agents.warnings for the
 * caller to show. */
int adr_session_config(struct adr_session *s, adr_err *err);
int adr_session_agents(struct adr_session *s, adr_err *err);
/* Finds the engine (DOCKER_HOST, docker context, default socket) and
 * connects to it. */
int adr_session_engine(struct adr_session *s, adr_err *err);
void adr_session_free(struct adr_session *s);

/* The engine's kind, version, API version and endpoint (adr version). */
struct adr_about {
  const char *kind;     /* "docker" */
  const char *endpoint; /* "unix:///var/run/docker.sock" */
  char *version, *api;  /* owned */
};
int adr_session_about(struct adr_session *s, struct adr_about *out, adr_err *err);
void adr_session_about_free(struct adr_about *a);

#endif
