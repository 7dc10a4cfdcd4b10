/* Ports of a sandbox on the host's loopback (devcontainer.json's
 * forwardPorts, adr port).
 *
 * Nothing is published and nothing new listens in the sandbox's network:
 * adr listens on 127.0.0.1 on the host, and each connection it accepts is
 * an exec in the sandbox of a small connector (node, which every agent's
 * image has) to HOST:PORT as the sandbox sees it (localhost, or a compose
 * service), its stdin and stdout the connection.  So it works in every
 * network mode, none included, and the agent reaches nothing it could not
 * before; only processes on the host's loopback reach the port, and only
 * while adr forwards it. */
#ifndef ADR_FORWARD_H
#define ADR_FORWARD_H

#include "engine.h"
#include "err.h"
#include "util.h"

/* "PORT" (localhost in the sandbox) or "HOST:PORT" (a name the sandbox
 * resolves): 0 with the parts, -1 with err. */
int adr_forward_parse(const char *spec, char **host, unsigned *port, adr_err *err);

struct adr_forward;

/* Listens for each of ports on 127.0.0.1 (the same port number; another
 * when that one is taken here) and forwards into sandbox (a running
 * container of e's engine).  *said: one line per port ("127.0.0.1:3000 ->
 * 3000"), to be shown.  The work happens in threads of its own (no
 * signal reaches them), each connection on a connection of its own to the
 * engine. */
int adr_forward_start(const struct adr_engine *e, const char *sandbox, const struct strv *ports, struct strv *said,
                      struct adr_forward **out, adr_err *err);
/* Stops listening (connections under way finish on their own). */
void adr_forward_stop(struct adr_forward *f);

#endif
