/* --ssh-agent HOST...: the user's ssh-agent, forwarded into the sandbox
 * through a filter that signs only for the named hosts.
 *
 * The filter (a sidecar, launch-mcp.c) speaks the agent protocol on both
 * sides.  It passes the list of keys; it passes a signature request only
 * on a connection whose last session binding (OpenSSH's
 * session-bind@openssh.com, which the real agent verifies: the host key
 * signed the session) names one of the hosts' keys from the user's
 * known_hosts, and only for a user-authentication request of that very
 * session.  Everything else (adding, removing, locking, other extensions)
 * is refused without reaching the real agent.  Needs OpenSSH 8.9 or later
 * on both sides (the client in the image sends the binding). */
#ifndef ADR_SSHAGENT_H
#define ADR_SSHAGENT_H

#include "err.h"
#include "util.h"

/* where the sandbox finds the filtered agent */
#define ADR_SSH_AGENT_DIR "/run/adr/ssh"
#define ADR_SSH_AGENT_SOCK ADR_SSH_AGENT_DIR "/agent.sock"
/* where the filter finds the user's agent */
#define ADR_SSH_AGENT_UPSTREAM "/run/adr-ssh-upstream.sock"

/* The key blobs (base64) of `ssh-keygen -F` output: revoked and CA lines
 * left out. */
void adr_ssh_keygen_keys(const char *out, struct strv *blobs);
/* HOST or HOST:PORT -> what known_hosts names it by: "host", "[host]:port" */
char *adr_ssh_known_name(const char *host);
/* The host keys known_hosts (the user's file) holds for host; an error
 * when it holds none ("connect once from the host first"). */
int adr_ssh_known_keys(const char *known_hosts, const char *host, struct strv *blobs, adr_err *err);

/* node -e FILTER LISTEN UPSTREAM BLOB...: the filter */
extern const char adr_ssh_filter_js[];
/* node connect.js HOST PORT: ssh's ProxyCommand in allowlist mode, a
 * CONNECT through $HTTPS_PROXY (the egress gateway) */
extern const char adr_ssh_connect_js[];

#endif
