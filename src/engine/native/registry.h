/* The native engine's registry client (registry.c): an image from an OCI
 * registry, as a docker-archive the store imports. */
#ifndef ADR_NATIVE_REGISTRY_H
#define ADR_NATIVE_REGISTRY_H

#include "err.h"

/* HOST[:PORT]/NAME[:TAG|@sha256:HEX]: its parts (TAG default "latest");
 * a reference without a registry host is an error (adr names none). */
int adr_registry_parse_ref(const char *ref, char **host, char **name, char **tag, adr_err *err);
/* Pulls ref and writes it to fd as a docker-archive (manifest.json, blobs
 * by digest; the tag HOST/NAME:TAG). */
int adr_registry_pull(const char *ref, int fd, adr_err *err);

#endif
