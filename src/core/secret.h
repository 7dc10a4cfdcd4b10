/* adr's own secret store: `adr secret set NAME`.  One file per secret,
 * DIR/NAME, mode 0600 in a 0700 directory (DIR = STATE/secrets).  Values
 * are read only on the host, by the credential planner (creds.h): they go
 * to the egress gateway's relay, never into a sandbox. */
#ifndef ADR_SECRET_H
#define ADR_SECRET_H

#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>

#define ADR_SECRET_MAX 16384

char *adr_secret_dir(void); /* STATE/secrets */
/* NAME: an environment variable name, at most 128 bytes */
bool adr_secret_name_valid(const char *name);
/* VALUE: 1..ADR_SECRET_MAX bytes of printable ASCII without spaces (API
 * keys and tokens; what a relay can put in an HTTP header) */
bool adr_secret_value_valid(const char *value, size_t len);
int adr_secret_set(const char *dir, const char *name, const char *value, size_t len, adr_err *err);
/* 0 and *out (caller frees), 1 when there is none, -1 on error */
int adr_secret_get(const char *dir, const char *name, char **out, adr_err *err);
/* 0, or 1 when there is none */
int adr_secret_remove(const char *dir, const char *name, adr_err *err);
/* sorted names */
int adr_secret_list(const char *dir, struct strv *names, adr_err *err);

#endif
