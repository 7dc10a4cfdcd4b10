/* Secrets in images: every image adr builds is scanned before it gets
 * its name, and is not named (it is removed) when a layer the build made
 * holds a private key or an API key, with the file named.
 *
 * What counts (adr_scan_text): a PEM or OpenSSH private key with its
 * base64 body, AWS access key IDs (not AWS's documented examples),
 * GitHub, npm, Slack, Anthropic and OpenAI tokens in their own formats.
 * Code that merely mentions a format ("-----BEGIN PRIVATE KEY-----" in a
 * string, followed by anything but a key) does not count, nor do binary
 * files (a NUL in the first 4 KiB: programs and libraries, which carry
 * their own keys on purpose).
 *
 * Only the layers the build made are scanned: those above the base image
 * (the last FROM of the Dockerfile), all of them when that cannot be
 * told.  Files are read from the engine's export of the image (libarchive,
 * streamed: nothing is written to disk). */
#ifndef ADR_SCAN_H
#define ADR_SCAN_H

#include "engine.h"
#include "err.h"
#include "util.h"

#include <stdbool.h>
#include <stddef.h>

#define ADR_SCAN_FILE_MAX (32u << 20) /* bytes of a file that are read; larger ones are skipped */

/* The first secret in data (len bytes, any content): its kind ("a
 * private key", "an AWS access key", ...) and offset, or NULL. */
const char *adr_scan_text(const char *data, size_t len, size_t *at);

struct adr_scan_finding {
  char *path; /* in the image, "/root/.ssh/id_rsa" */
  const char *what;
};
struct adr_scan_result {
  struct adr_scan_finding *v;
  size_t n;
  size_t layers, files; /* scanned */
  size_t skipped;       /* files over ADR_SCAN_FILE_MAX */
};
void adr_scan_result_free(struct adr_scan_result *r);

/* Scans image (an ID or name) of e's engine: the layers above base (an
 * image's name or ID; NULL: every layer). Paths in allow (absolute, as in
 * the image) are not reported. */
int adr_image_scan(const struct adr_engine *e, const char *image, const char *base, const struct strv *allow,
                   struct adr_scan_result *res, adr_err *err);

/* The base image of a Dockerfile's last stage, with build_args (KEY=VALUE)
 * and the ARGs' defaults put in; NULL when the last stage is built FROM
 * an earlier stage or FROM scratch, or cannot be told. */
char *adr_dockerfile_base(const char *dockerfile, const struct strv *build_args);

/* An image build whose result is scanned before it is named: req->tag is
 * given only when no secret is found (the image is removed otherwise, and
 * err names the file). base: as adr_image_scan's (NULL: from the
 * Dockerfile, when dockerfile_text is given). */
int adr_image_build_scanned(struct adr_engine *e, const struct adr_build_req *req, const char *dockerfile_text,
                            const struct strv *allow, adr_build_cb cb, void *ud, char **image_id, adr_err *err);

#endif
