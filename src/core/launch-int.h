/* Shared between the files of the launch (launch*.c); not an API. */
#ifndef ADR_LAUNCH_INT_H
#define ADR_LAUNCH_INT_H

#include "launch.h"

#include <stdarg.h>

/* An error in the options: err->status ADR_LAUNCH_USAGE. */
int launch_usage(adr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *launch_getenv(const struct adr_launch *l, const char *key);
/* ADR_EGRESS_POOL: how many egress units to keep ready (0-8). */
unsigned launch_pool_size(const struct adr_launch *l);

/* launch-creds.c: the plan's credentials (the relay) and the hosts the
 * agent's API needs. */
int launch_plan_creds(struct adr_launch *l, adr_err *err);

/* launch-spec.c: every hand edit of the spec adr_run_spec made. */
/* the sandbox's labels, and a persistent agent's terminal and git */
int launch_spec_finish(struct adr_launch *l, adr_err *err);
/* adr as root: bind sources through idmapped mounts */
int launch_spec_idmap(struct adr_launch *l, uid_t uid, gid_t gid, adr_err *err);
/* the relay's address, once known, where the plan left a placeholder */
int launch_spec_relay(struct adr_launch *l, adr_err *err);

#endif
