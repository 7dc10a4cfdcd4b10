#include "session.h"
#include "util.h"

#include <string.h>

int adr_session_config(struct adr_session *s, adr_err *err)
{
  if (s->config_loaded)
    return 0;
  adr_config_init(&s->config);
  s->config_loaded = true;
  return adr_config_load(&s->config, s->cwd, err);
}

int adr_session_agents(struct adr_session *s, adr_err *err)
{
  if (s->agents_loaded)
    return 0;
  if (adr_agents_load(&s->agents, NULL, err) < 0)
    return -1;
  s->agents_loaded = true;
  return 0;
}

int adr_session_engine(struct adr_session *s, adr_err *err)
{
  if (s->engine)
    return 0;
  /* ADR_ENGINE from the environment, else the config's (loaded or not) */
  cleanup_free char *name = adr_config_engine(s->config_loaded ? &s->config : NULL);
  return adr_engine_open_default(&s->engine, name, err);
}

void adr_session_free(struct adr_session *s)
{
  if (s->config_loaded)
    adr_config_free(&s->config);
  if (s->agents_loaded)
    adr_agents_free(&s->agents);
  adr_engine_close(s->engine);
  free(s->cwd);
  memset(s, 0, sizeof(*s));
}

int adr_session_about(struct adr_session *s, struct adr_about *out, adr_err *err)
{
  memset(out, 0, sizeof(*out));
  if (adr_session_engine(s, err) < 0)
    return -1;
  out->kind = s->engine->ops->name;
  out->endpoint = s->engine->endpoint;
  return adr_engine_version(s->engine, &out->version, &out->api, err);
}

void adr_session_about_free(struct adr_about *a)
{
  free(a->version);
  free(a->api);
  memset(a, 0, sizeof(*a));
}
