/* A build context from a directory, as a client of the Engine API must
 * make it: the files under the directory that its .dockerignore does not
 * exclude, in a tar archive (libarchive, pax), with the Dockerfile in it.
 * The engine never reads the host's files itself. */
#ifndef ADR_CONTEXT_H
#define ADR_CONTEXT_H

#include "buf.h"
#include "err.h"
#include "util.h"

#include <stdbool.h>

#define ADR_CONTEXT_MAX (1ull << 30) /* bytes of a context's archive */

/* .dockerignore's patterns (lines; "#" comments; "!" exceptions; "**"
 * any number of directories), in order: the last that matches a path, or
 * one of its parent directories, decides. */
struct adr_ignore {
  struct strv pats; /* cleaned, without the "!" */
  bool *negate;
};
void adr_ignore_free(struct adr_ignore *ig);
void adr_ignore_parse(const char *text, struct adr_ignore *ig);
bool adr_ignore_match(const struct adr_ignore *ig, const char *rel);

/* The context of dir with dockerfile (a path, inside dir or not): the
 * archive in *tar, the Dockerfile's name in it (*df_name), the SHA-256 of
 * the archive (*digest: the same files give the same digest). */
int adr_context_from_dir(const char *dir, const char *dockerfile, struct buf *tar, char **df_name, char **digest,
                         adr_err *err);

/* A stamp of the same context without reading a byte of its files: a
 * SHA-256 of each entry's name, mode, size, mtime, ctime, inode and link
 * target (and the Dockerfile's). A changed file changes the stamp; an
 * unchanged stamp means the archive's digest is the one made before. */
int adr_context_stamp(const char *dir, const char *dockerfile, char **stamp, adr_err *err);

#endif
