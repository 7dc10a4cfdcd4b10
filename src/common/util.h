/* Small helpers shared by the library and the commands: cleanup attributes,
 * checked allocation, string vectors. */
#ifndef ADR_UTIL_H
#define ADR_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}
static inline void fclosep(FILE **f)
{
  if (*f)
    fclose(*f);
  *f = NULL;
}

#define cleanup_free __attribute__((cleanup(freep)))
#define cleanup_close __attribute__((cleanup(closep)))
#define cleanup_file __attribute__((cleanup(fclosep)))

/* Moves ownership out of p: yields its value and leaves NULL behind, so
 * that p's cleanup attribute no longer frees what now belongs elsewhere. */
#define TAKE_PTR(p)              \
  ({                             \
    typeof(p) _take_ptr_p = (p); \
    (p) = NULL;                  \
    _take_ptr_p;                 \
  })

/* Allocation failure is not recoverable in a CLI; these abort with a
 * message rather than returning NULL into every call site. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline bool streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }
static inline bool str_has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }
bool str_has_suffix(const char *s, const char *suffix);
/* s with every occurrence of from (non-empty) replaced by to */
char *adr_str_replace(const char *s, const char *from, const char *to);
/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool utf8_valid(const char *s);
/* s made safe to show on one line: control bytes and bytes >= 0x80 as \\xNN,
 * cut with "..." after about max bytes. */
char *adr_str_escape(const char *s, size_t max);

/* A NULL-terminated vector of owned strings (argv, env, lists). */
struct strv {
  char **v;
  size_t n, cap;
};
void strv_push(struct strv *s, const char *str);
void strv_push_take(struct strv *s, char *str);
void strv_pushf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *s);
/* strv_free after zeroing every string (they may hold secrets). */
void strv_wipe(struct strv *s);
bool strv_contains(const struct strv *s, const char *str);
/* The strings joined with sep; "" for none.  Caller frees. */
char *strv_join(const struct strv *s, const char *sep);
static inline void strv_cleanup(struct strv *s) { strv_free(s); }
#define cleanup_strv __attribute__((cleanup(strv_cleanup)))

#include "banned.h"

#endif
