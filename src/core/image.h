/* Image build inputs: build contexts (Dockerfile + extra CA certificates)
 * and build arguments derived from the host, e.g. its npm registry. */
#ifndef ADR_IMAGE_H
#define ADR_IMAGE_H

#include "agent.h"
#include "buf.h"
#include "config.h"
#include "err.h"

#define ADR_BASE_IMAGE_REPO "adr/base"

/* Files of the CA certificates to trust, from ADR_EXTRA_CA:
 * "auto" = *.crt under /usr/local/share/ca-certificates (the host's locally
 * added CAs), "none", or ':'-separated files/directories.  Each must be PEM. */
int adr_extra_ca_files(const char *setting, const char *auto_dir, struct strv *files, adr_err *err);

/* A tar build context: `Dockerfile` (the built-in named) + certs/. */
/* files: "NAME=PATH" host files added to the context as NAME (mode 0755;
 * NULL: none). */
int adr_build_context(const char *dockerfile_name, const struct strv *ca_files, const struct strv *files,
                      struct buf *tar, adr_err *err);

/* The registry npm uses on this host (npm_config_registry, ~/.npmrc), or NULL. */
char *adr_host_npm_registry(void);

#endif
