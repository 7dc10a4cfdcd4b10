/* A project's dev container definition (.devcontainer/devcontainer.json,
 * or .devcontainer.json): read as JSON with comments and trailing commas
 * (the spec's "JSONC"), its variables substituted, into the fields adr
 * uses.  Only reading: what adr makes of it is the launch's. */
#ifndef ADR_DEVCONTAINER_H
#define ADR_DEVCONTAINER_H

#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>

#define ADR_DEVCONTAINER_MAX (1u << 20) /* bytes of devcontainer.json */

struct adr_devcontainer {
  char *file;                /* the file read */
  char *image;               /* "image" */
  char *dockerfile;          /* "build.dockerfile" (or "dockerFile"), absolute */
  char *context;             /* "build.context", absolute (default: the file's directory) */
  struct strv build_args;    /* "build.args": KEY=VALUE */
  struct strv container_env; /* "containerEnv": KEY=VALUE */
  struct strv remote_env;    /* "remoteEnv": KEY=VALUE */
  char *remote_user, *container_user;
  struct strv mounts;        /* "mounts": the strings, and objects as "type=...,source=...,target=..." */
  char *workspace_folder;    /* "workspaceFolder" */
  struct strv post_create;   /* "postCreateCommand" as an argv (a string: sh -c STRING) */
  struct strv post_start;    /* "postStartCommand" */
  struct strv forward_ports; /* "forwardPorts": "N" or "HOST:N" */
  struct strv compose_files; /* "dockerComposeFile", absolute */
  char *service;             /* "service" */
  struct strv run_services;  /* "runServices" */
  struct strv features;      /* the names of "features" (adr refuses them) */
};

void adr_devcontainer_free(struct adr_devcontainer *d);
static inline void adr_devcontainer_cleanup(struct adr_devcontainer *d) { adr_devcontainer_free(d); }
#define cleanup_devcontainer __attribute__((cleanup(adr_devcontainer_cleanup)))

/* JSONC text (comments, trailing commas) as strict JSON: a new string, or
 * NULL with err (an unterminated comment or string). */
char *adr_jsonc_strip(const char *text, size_t len, adr_err *err);

/* Variables the file may use: ${localWorkspaceFolder},
 * ${localWorkspaceFolderBasename}, ${containerWorkspaceFolder},
 * ${localEnv:NAME} and ${localEnv:NAME:DEFAULT} (getenv_fn: the host's).
 *
 * A project file is not the user's: it may not copy the host's secrets
 * into the sandbox (${localEnv:ANTHROPIC_API_KEY}). ${localEnv:NAME} gives
 * the host's value only for the harmless names below and those in
 * env_allow (the user's own configuration); any other NAME is withheld:
 * it takes its DEFAULT (or ""), and is added to *withheld to be said. */
#define ADR_DEVCONTAINER_ENV_HARMLESS "USER", "LOGNAME", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "SHELL"
struct adr_devcontainer_vars {
  const char *local_workspace;     /* the host's workspace */
  const char *container_workspace; /* where it is in the sandbox */
  const char *(*getenv_fn)(const char *name);
  const struct strv *env_allow; /* more names the host's environment may give (NULL: none) */
  struct strv *withheld;        /* out: names asked for and not given (NULL: not kept) */
};
/* NAME is one the host's environment may give a project file. */
bool adr_devcontainer_env_allowed(const struct adr_devcontainer_vars *v, const char *name);

/* The definition in workspace: 0 with *path (the caller frees it), 1 when
 * there is none. */
int adr_devcontainer_find(const char *workspace, char **path);

/* Reads path: 0, or -1 with err naming the file and the field. */
int adr_devcontainer_load(const char *path, const struct adr_devcontainer_vars *vars, struct adr_devcontainer *d,
                          adr_err *err);

#endif
