/* Linked into the static adr-gateway only (-Wl,--wrap=...): Debian's
 * static libcrypto refers to dlopen (loadable engines and providers) and
 * to getaddrinfo/gethostbyname (BIO_lookup), none of which the relay ever
 * calls.  In a static binary those would pull in glibc's dynamic loader
 * and NSS (and warn at link time); these stand-ins fail instead.  Name
 * resolution is c-ares's, and OpenSSL is initialised without its
 * configuration file, so nothing asks for a module to load. */
#include <netdb.h>
#include <stddef.h>

void *__wrap_dlopen(const char *file, int mode);
int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res);
struct hostent *__wrap_gethostbyname(const char *name);

void *__wrap_dlopen(const char *file, int mode)
{
  (void)file;
  (void)mode;
  return NULL;
}

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
  (void)node;
  (void)service;
  (void)hints;
  *res = NULL;
  return EAI_FAIL;
}

struct hostent *__wrap_gethostbyname(const char *name)
{
  (void)name;
  h_errno = NO_RECOVERY;
  return NULL;
}
