/* The CA certificates the credential relay trusts (egress.h). */
#include "egress.h"

#include <errno.h>

int adr_ca_bundle(const struct strv *extra, struct buf *out, adr_err *err)
{
  const char *env = getenv("SSL_CERT_FILE");
  const char *sys[] = { env && *env ? env : "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs/ca-certificates.crt",
                        "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem" };
  bool found = false;
  for (size_t i = 0; i < ARRAY_SIZE(sys) && !found; i++) {
    struct buf b;
    buf_init(&b, 16 << 20);
    if (buf_read_file(&b, sys[i]) == 0) {
      buf_append(out, b.data, b.len);
      buf_puts(out, "\n");
      found = true;
    }
    buf_free(&b);
  }
  for (size_t i = 0; extra && i < extra->n; i++) {
    struct buf b;
    buf_init(&b, 1 << 20);
    if (buf_read_file(&b, extra->v[i]) < 0) {
      int e = errno;
      buf_free(&b);
      return adr_err_sys(err, e, "CA file '%s'", extra->v[i]);
    }
    buf_append(out, b.data, b.len);
    buf_puts(out, "\n");
    buf_free(&b);
  }
  if (!out->len)
    return adr_err_set(err, ENOENT, "no CA certificates for the credential relay (set SSL_CERT_FILE or ADR_EXTRA_CA)");
  return 0;
}
