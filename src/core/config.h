/* Configuration: built-in defaults < global file < project .adr < flags.
 *
 * Files are KEY=VALUE (see parse.h).  The global file is
 * ${XDG_CONFIG_HOME:-~/.config}/adr/config; the project file is the nearest
 * `.adr` found walking up from the current directory.  Every value carries
 * its origin so `adr config` can say where it came from. */
#ifndef ADR_CONFIG_H
#define ADR_CONFIG_H

#include "err.h"
#include "util.h"

#include <stdbool.h>

enum adr_key_type {
  ADR_KEY_STRING,
  ADR_KEY_SIZE,
  ADR_KEY_DURATION,
  ADR_KEY_UINT,
  ADR_KEY_CPUS,
  ADR_KEY_NAME, /* an agent name */
  ADR_KEY_TAG,  /* an image tag */
  ADR_KEY_MOUNTS,
  ADR_KEY_NETMODE, /* none, allowlist, open */
  ADR_KEY_ALLOW,   /* allow entries */
  ADR_KEY_PRESETS, /* allow presets */
  ADR_KEY_ONOFF,   /* on, off */
  ADR_KEY_ENGINE,  /* an engine name (engine.h), or auto */
  ADR_KEY_GPUS,    /* all, a count, device=ID[,ID] */
};

struct adr_config_key {
  const char *name; /* "ADR_TAG"; a trailing '*' makes it a prefix (ADR_MODEL_*) */
  enum adr_key_type type;
  const char *def; /* default, NULL = unset */
  const char *help;
  bool host_only; /* ignored in a project .adr: an agent can write one in its workspace */
};

struct adr_config_entry {
  char *key;
  char *value;
  char *origin; /* "default", "FILE:LINE", "command line" */
};

#define ADR_CONFIG_MAX_WARNINGS 16

struct adr_config {
  struct adr_config_entry *e;
  size_t n, cap;
  char *global_path;  /* may not exist */
  char *project_path; /* NULL when no .adr was found */
  bool loading_project;
  struct strv warnings; /* "FILE:LINE: unknown key 'X'" (once per key) */
  struct strv unknown;  /* keys warned about (at most ADR_CONFIG_MAX_WARNINGS) */
};

const struct adr_config_key *adr_config_keys(size_t *n);
const struct adr_config_key *adr_config_key_find(const char *name);
/* Checks a value against its key's type; unknown keys are not an error
 * here (the caller decides). */
int adr_config_validate(const char *key, const char *value, adr_err *err);

void adr_config_init(struct adr_config *c); /* defaults only */
void adr_config_free(struct adr_config *c);
static inline void adr_config_cleanup(struct adr_config *c) { adr_config_free(c); }
#define cleanup_config __attribute__((cleanup(adr_config_cleanup)))

/* Loads defaults, the global file and the nearest .adr from cwd. */
int adr_config_load(struct adr_config *c, const char *cwd, adr_err *err);
/* Loads one file on top (missing file: ok when !must_exist). */
int adr_config_load_file(struct adr_config *c, const char *path, bool must_exist, adr_err *err);
/* Parses a buffer on top (the fuzzed entry point). */
int adr_config_load_buf(struct adr_config *c, const char *data, size_t len, const char *fname, adr_err *err);
void adr_config_put(struct adr_config *c, const char *key, const char *value, const char *origin);
const char *adr_config_get(const struct adr_config *c, const char *key);
/* A list key's words (spaces, tabs, commas) appended to out. */
void adr_config_get_list(const struct adr_config *c, const char *key, struct strv *out);
const struct adr_config_entry *adr_config_entry(const struct adr_config *c, const char *key);

char *adr_config_global_path(void);
/* ADR_ENGINE for a command that may not have loaded the config (c NULL):
 * c's value, else the global file's (the key is host-only, so no project
 * file sets it); NULL when unset or unreadable. */
char *adr_config_engine(const struct adr_config *c);
char *adr_config_find_project(const char *cwd); /* NULL when none */

/* Replace KEY's line in place (keeping comments and order) or append it.
 * Creates the file (and its directory) when missing. */
int adr_config_file_set(const char *path, const char *key, const char *value, adr_err *err);
/* Remove KEY's line(s). */
int adr_config_file_unset(const char *path, const char *key, adr_err *err);

#endif
