/* adr-gateway: process set-up (capabilities, routes, ready file), clocks. */
#ifndef ADR_GW_SYS_H
#define ADR_GW_SYS_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Clear the bounding set (when we may), the ambient set, and permitted,
 * effective and inheritable; then PR_SET_NO_NEW_PRIVS. */
int gw_drop_privileges(adr_err *err);

#include "route.h" /* adr_blackhole */

/* "ADDR:PORT" (IPv6 in brackets) of a socket address, "?" for another family. */
void gw_sockaddr_format(const struct sockaddr_storage *ss, char *out, size_t cap);

struct gw_addr;
/* The socket address of an address and port; returns its length. */
socklen_t gw_addr_sockaddr(const struct gw_addr *a, int port, struct sockaddr_storage *ss);

/* The listening sockets given to the gateway (--listen-fd N, repeated):
 * made by whoever runs it, in a network namespace the gateway need not
 * be in (the native engine's sandboxes).  Each is taken once. */
void gw_inherit_add(int fd);
/* were any given */
bool gw_listeners_given(void);
/* A socket of type (SOCK_STREAM listening, or SOCK_DGRAM) on at:port:
 * the inherited one of that type and port when any was given (and none
 * other is made then), else one made here.  what, if not NULL, begins its
 * errors. */
int gw_listener(struct in_addr at, uint16_t port, int type, int backlog, const char *what, adr_err *err);

/* CLOCK_MONOTONIC in milliseconds: every timeout's clock. */
uint64_t gw_mono_ms(void);

/* "<pid>\n" into path (O_CREAT|O_TRUNC, 0644). */
int gw_write_ready(const char *path, adr_err *err);

#endif
