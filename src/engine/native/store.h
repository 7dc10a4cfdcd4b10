/* The native engine's image store (issue 17, first part): images without a
 * daemon, as a content-addressed cache of unpacked layers that overlayfs
 * stacks: what the native engine (ops.c) reads images from.
 *
 *   ROOT/layers/sha256/HEX/      a layer, unpacked: HEX is the SHA-256 of
 *                                its uncompressed tar (the diff ID), taken
 *                                while it was read, never the name it came
 *                                under; complete once it is there (made
 *                                under a temporary name, then renamed)
 *   ROOT/images/HEX.json         an image: its layers in order and the
 *                                config that matters to a sandbox
 *   ROOT/tags/NAME               the image ID a name points at
 *
 * Layers are unpacked for overlayfs: a whiteout ".wh.NAME" becomes the
 * character device 0/0 at NAME, an opaque directory (".wh..wh..opq") gets
 * the overlay.opaque xattr (trusted.* as root, user.* otherwise, for
 * overlayfs's userxattr mounts).  Extraction refuses absolute paths, ".."
 * and writing through a symlink; device nodes (other than whiteouts) are
 * left out: the runtime makes /dev.  Ownership is kept as root only. */
#ifndef ADR_NATIVE_STORE_H
#define ADR_NATIVE_STORE_H

#include "err.h"
#include "util.h"

#include <stdbool.h>

struct adr_nimage {
  char *id;           /* sha256:HEX of the config */
  struct strv layers; /* sha256:HEX diff IDs, bottom first */
  struct strv env;    /* KEY=VALUE */
  struct strv entrypoint, cmd;
  char *workdir, *user;
};
void adr_nimage_free(struct adr_nimage *im);

struct adr_nstore {
  char *root;
  bool root_user; /* running as root: trusted.* xattrs, ownership kept */
};

int adr_nstore_open(struct adr_nstore *s, const char *root, adr_err *err);
void adr_nstore_close(struct adr_nstore *s);

/* Imports every image of an archive read from fd: a docker-archive
 * (`docker save`, the Engine API's /images/get; the legacy and the
 * OCI-layout form) or an OCI image layout alone (index.json; an image
 * index: this machine's platform).  Layers may be gzip or zstd.  Layers already in the store are not unpacked again.  The images'
 * IDs go to ids (may be NULL); their RepoTags become tags. */
int adr_nstore_import(struct adr_nstore *s, int fd, struct strv *ids, adr_err *err);

/* An image by tag or ID: 0, 1 when there is none, -1 error. */
int adr_nstore_image(const struct adr_nstore *s, const char *ref, struct adr_nimage *im, adr_err *err);
/* Every tag in the store, pushed to tags; -1 with errno. */
int adr_nstore_tags(const struct adr_nstore *s, struct strv *tags);
/* The directory of a layer (sha256:HEX), unpacked. */
char *adr_nstore_layer_dir(const struct adr_nstore *s, const char *diff_id);

#endif
