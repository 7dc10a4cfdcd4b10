/* A dev container's compose files (devcontainer.json's dockerComposeFile):
 * the services, as much of the Compose specification as adr runs.
 *
 * Read with libyaml (anchors, aliases, "<<" merge keys), bounded in bytes,
 * nodes (aliases expanded) and depth.  ${VAR}, ${VAR:-default},
 * ${VAR-default}, ${VAR:?message}, $VAR and $$ take their values from the
 * project's .env (next to the first file), and from the host's environment
 * only for the names devcontainer.json's ${localEnv:X} may read
 * (devcontainer.h): a repository cannot copy the user's secrets in.
 * Several files merge as Compose merges them (services by name; a later
 * file's keys win, environments merge).
 *
 * What would widen the sandbox is refused by name (privileged, cap_add,
 * devices, network_mode, pid, ipc, a host path outside the project ...);
 * what adr leaves out is said in warnings (ports: the services are the
 * agent's only; named volumes: the data lives as long as the sandbox).
 * Only reading: launch-services.c runs them. */
#ifndef ADR_COMPOSE_H
#define ADR_COMPOSE_H

#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

#define ADR_COMPOSE_MAX (1u << 20) /* bytes of a compose file */
#define ADR_COMPOSE_NODES 100000   /* YAML nodes, aliases expanded */
#define ADR_COMPOSE_DEPTH 64
#define ADR_COMPOSE_SERVICES 32

struct adr_compose_service {
  char *name;
  char *image;                            /* NULL: built */
  char *build_context, *build_dockerfile; /* absolute; NULL: no build */
  struct strv build_args;                 /* KEY=VALUE */
  struct strv env;                        /* KEY=VALUE: environment, env_file */
  struct strv command;                    /* argv; empty: the image's */
  struct strv entrypoint;                 /* argv; empty: the image's */
  char *user, *working_dir;
  struct strv depends_on;  /* service names */
  struct strv binds;       /* "HOST:CONTAINER:ro|rw", HOST inside the project */
  struct strv tmpfs;       /* absolute paths */
  struct strv health_test; /* "CMD" ARG..., "CMD-SHELL" S, "NONE"; empty: the image's */
  int64_t health_interval_ms, health_timeout_ms, health_start_ms;
  int health_retries;
};

struct adr_compose {
  struct adr_compose_service *v;
  size_t n;
  struct strv warnings; /* what adr leaves out, one line each */
};
void adr_compose_free(struct adr_compose *c);

struct adr_compose_vars {
  const char *root; /* the project (workspace): host paths must be inside it */
  const char *(*getenv_fn)(const char *name);
  const struct strv *env_allow; /* as adr_devcontainer_vars */
  struct strv *withheld;        /* out: host names asked for and not given */
};

/* The files, merged in order: 0, or -1 with err naming the file and key. */
int adr_compose_load(const struct strv *files, const struct adr_compose_vars *v, struct adr_compose *c, adr_err *err);
/* One file's text (file: its name in messages; dir: where its relative
 * paths are; dotenv: the .env's text or NULL), for tests and fuzzing. */
int adr_compose_parse(const char *text, size_t len, const char *file, const char *dir, const char *dotenv,
                      const struct adr_compose_vars *v, struct adr_compose *c, adr_err *err);

const struct adr_compose_service *adr_compose_find(const struct adr_compose *c, const char *name);

/* The services to start beside the agent's (agent): those in run (NULL
 * or empty: all) but the agent's, with what each depends on, each after
 * its dependencies.  A name that is not a service, or a cycle, is an
 * error. */
int adr_compose_order(const struct adr_compose *c, const char *agent, const struct strv *run, struct strv *order,
                      adr_err *err);

#endif
