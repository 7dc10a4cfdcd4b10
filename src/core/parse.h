/* Parsers for everything a user types: KEY=VALUE files (config, .adr,
 * --env-file), durations, sizes, mount specs, env assignments, models.
 * Pure functions (mount parsing also checks the host path), unit-tested and
 * fuzzed. */
#ifndef ADR_PARSE_H
#define ADR_PARSE_H

#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>

/* --- KEY=VALUE files -----------------------------------------------------
 * Grammar, one assignment per line:
 *   [export ]KEY=VALUE      KEY matches [A-Za-z_][A-Za-z0-9_]*
 *   # comment               blank lines are ignored
 * VALUE is unquoted (surrounding blanks trimmed, " #" starts a comment),
 * 'single quoted' (literal) or "double quoted" (\\ \" \$ \n \t escapes).
 * Only blanks or a comment may follow a closing quote.  NUL bytes and lines
 * longer than ADR_KV_MAX_LINE are errors.  Errors read "FILE:LINE: what". */
#define ADR_KV_MAX_LINE 65536
enum { ADR_KV_ALLOW_BARE = 1 }; /* allow a lone KEY (value NULL) */
typedef int (*adr_kv_cb)(const char *key, const char *value, unsigned line, void *ud, adr_err *err);
int adr_kv_parse(const char *data, size_t len, const char *fname, unsigned flags, adr_kv_cb cb, void *ud, adr_err *err);
bool adr_valid_env_name(const char *s, size_t len);
/* Quote a value so that adr_kv_parse reads it back unchanged. */
char *adr_kv_quote(const char *value);

/* --- Scalars ------------------------------------------------------------- */
/* "30s", "15m", "2h", "1d": a positive integer and one unit. */
int adr_parse_duration(const char *s, uint64_t *seconds, adr_err *err);
char *adr_format_duration(uint64_t seconds); /* in its largest exact unit: "15m", "90m", "2h", "45s" */
/* "512m", "4g", "1024k", "2t" or bytes; binary units; optional "b"/"ib". */
int adr_parse_size(const char *s, uint64_t *bytes, adr_err *err);
/* "1.5", "2": CPUs as a decimal, returned in nano-CPUs. */
int adr_parse_cpus(const char *s, int64_t *nanocpus, adr_err *err);
int adr_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* --gpus: "all", a count (1 to 64), or "device=ID[,ID]..." (indexes or
 * UUIDs); the spec's gpus (count, device_ids). */
struct adr_spec_gpus;
int adr_parse_gpus(const char *s, struct adr_spec_gpus *out, adr_err *err);

/* --- Environment ---------------------------------------------------------- */
/* "KEY=VALUE" -> key, value (owned).  KEY must be a valid name. */
int adr_parse_env(const char *s, char **key, char **value, adr_err *err);
/* An env file: KEY=VALUE lines (same grammar as config); a lone KEY takes
 * the value from lookup(KEY) and is skipped when that is NULL (then
 * "PATH:LINE: KEY" goes to unset, when given).  Appends "KEY=VALUE"
 * strings to out. */
typedef const char *(*adr_env_lookup)(const char *key);
int adr_parse_env_file(const char *path, adr_env_lookup lookup, struct strv *out, struct strv *unset, adr_err *err);

/* --- Mounts --------------------------------------------------------------- */
struct adr_mount {
  char *host;      /* absolute, resolved (realpath) */
  char *container; /* absolute, normalised */
  bool readonly;
};
void adr_mount_free(struct adr_mount *m);
/* HOST:CONTAINER[:ro|rw]; default ro.  "~" expands to home, a relative
 * HOST is taken from cwd; HOST must exist and be a directory. */
int adr_parse_mount(const char *spec, const char *cwd, const char *home, struct adr_mount *m, adr_err *err);

/* --- Paths ---------------------------------------------------------------- */
/* Lexically normalise an absolute path: collapse //, ., .. (never above /). */
char *adr_path_normalize(const char *path);
/* "~" / "~/x" -> home/x; other paths unchanged. */
char *adr_path_expand_home(const char *path, const char *home);

/* --- Models ----------------------------------------------------------------- */
/* Splits "provider/model" on the first '/'. No '/' -> provider NULL. */
void adr_split_model(const char *model, char **provider, char **name);

/* One dotenv line, as the dotenv packages read it (optional "export",
 * NAME, "=" or ": ", a value without quotes or trailing comment).  Returns
 * the name's length, 0 when the line is no assignment; *name and *val
 * point into line, which is modified. */
size_t adr_parse_dotenv_line(char *line, char **name, char **val);

#endif
