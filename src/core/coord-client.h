/* A client of the coordinator (coord.h, docs/api.md): adr submit, adr
 * runs, and the runner call it. */
#ifndef ADR_COORD_CLIENT_H
#define ADR_COORD_CLIENT_H

#include "err.h"

/* method path (with its query) at base ("http://HOST:PORT"), with the
 * bearer token (NULL: none) and a JSON body (NULL: none): the HTTP status
 * and the reply's body (the caller frees it), or -1 when no reply came. */
int adr_coord_call(const char *base, const char *token, const char *method, const char *path, const char *body,
                   long *status, char **reply, adr_err *err);

#endif
