/* adr-gateway: process set-up (capabilities, routes, ready file), clocks. */
#ifndef ADR_GW_SYS_H
#define ADR_GW_SYS_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Clear the bounding set (when we may), the ambient set, and permitted,
 * effective and inheritable; then PR_SET_NO_NEW_PRIVS. */
int gw_drop_privileges(adr_err *err);

/* Add an "unreachable" route for CIDR (IPv4 or IPv6) in the current network
 * namespace's main table (rtnetlink).  *skipped is set, and 0 returned, for
 * an IPv6 CIDR when the namespace has no IPv6. */
int gw_blackhole(const char *cidr, bool *skipped, adr_err *err);

/* "ADDR:PORT" (IPv6 in brackets) of a socket address, "?" for another family. */
void gw_sockaddr_format(const struct sockaddr_storage *ss, char *out, size_t cap);

struct gw_addr;
/* The socket address of an address and port; returns its length. */
socklen_t gw_addr_sockaddr(const struct gw_addr *a, int port, struct sockaddr_storage *ss);

/* CLOCK_MONOTONIC in milliseconds: every timeout's clock. */
uint64_t gw_mono_ms(void);

/* "<pid>\n" into path (O_CREAT|O_TRUNC, 0644). */
int gw_write_ready(const char *path, adr_err *err);

#endif
