/* In-memory ustar archives (image build contexts). */
#ifndef ADR_TARBALL_H
#define ADR_TARBALL_H

#include "buf.h"
#include "err.h"

struct adr_tar;
struct adr_tar *adr_tar_new(void);
int adr_tar_add(struct adr_tar *t, const char *name, const void *data, size_t len, unsigned mode, adr_err *err);
int adr_tar_add_dir(struct adr_tar *t, const char *name, adr_err *err);
/* Finishes the archive; returns its bytes in out (caller frees with buf_free). */
int adr_tar_finish(struct adr_tar *t, struct buf *out, adr_err *err);
void adr_tar_free(struct adr_tar *t);

#endif
