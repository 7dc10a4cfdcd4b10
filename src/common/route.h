/* Routes to nowhere (route.c). */
#ifndef ADR_ROUTE_H
#define ADR_ROUTE_H

#include "err.h"

#include <stdbool.h>

/* Adds an "unreachable" route for CIDR (IPv4 or IPv6; a bare address is
 * a /32 or /128) in the current network namespace's main table.
 * *skipped is set, and 0 returned, for an IPv6 CIDR when the namespace
 * has no IPv6.  Errors begin "WHAT CIDR: ".  Needs CAP_NET_ADMIN over the namespace. */
int adr_blackhole(const char *what, const char *cidr, bool *skipped, adr_err *err);

#endif
