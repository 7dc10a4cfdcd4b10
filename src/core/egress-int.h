/* What egress.c (a sandbox's own network and gateway) and egress-pool.c
 * (units made ahead and claimed) share. */
#ifndef ADR_EGRESS_INT_H
#define ADR_EGRESS_INT_H

#include "egress.h"
#include "gwproto.h"

/* the gateway's uid:gid: the user's, never root's */
#define EGRESS_UID(r) ((r)->uid ? (r)->uid : 65534)
#define EGRESS_GID(r) ((r)->uid ? (r)->gid : 65534)

int egress_write_text(const char *path, const char *text, unsigned mode, adr_err *err);
void egress_base_labels(const struct adr_egress_req *r, struct strv *labels, const char *kind);
/* The gateway's container, and an allowlist gateway's (its user, sysctls). */
void egress_gateway_spec(const struct adr_egress_req *r, struct adr_spec *g);
void egress_allowlist_gateway(const struct adr_egress_req *r, struct adr_spec *g);
/* An allowlist gateway's options for r's policy, listening on addr. */
void egress_allowlist_args(const struct adr_egress_req *r, const char *addr, struct strv *args);
/* what the gateway of egress_allowlist_args listens on: "tcp:PORT", "udp:PORT" */
void egress_listeners(const struct adr_egress_req *r, struct strv *out);
/* r->dir with the (empty) decision log, owned by uid:gid; the policy. */
int egress_prepare_dir(const struct adr_egress_req *r, uid_t uid, gid_t gid, adr_err *err);
int egress_write_policy(const struct adr_egress_req *r, adr_err *err);
/* The relay's files in r->dir and its options appended to cmd. */
int egress_relay_setup(const struct adr_egress_req *r, uid_t uid, gid_t gid, struct strv *cmd, adr_err *err);
/* What a failed start leaves in dir goes (a log with lines stays). */
void egress_remove_files(const char *dir);
int egress_subnet_candidates(const struct adr_egress_req *r, struct strv *subnets, struct strv *addrs, adr_err *err);
/* The engine makes plan p; it is ready once r->dir/ready_name exists. */
int egress_realise(struct adr_engine *e, const struct adr_egress_req *r, struct adr_egress_plan *p,
                   const char *ready_name, struct adr_egress_result *res, adr_err *err);
/* The sandbox spec joins the allowlist gateway of res (network, DNS,
 * proxy variables, labels). */
void egress_point_sandbox(struct adr_spec *spec, const struct adr_egress_result *res, const char *dir);

/* ------------------------------------------------------------ the pool
 * (egress-pool.c: claims and reaping; egress-pool-make.c: making) */
#define POOL_PREFIX "adr-pool-"
#define POOL_MAX 8
#define UNIT_FILE "unit" /* in the unit's dir: "ADDR\nGATEWAY-ID\nNETWORK-POOL\nHOSTNAME\n" */
#define HOLD_SUFFIX "-hold"
#define HOLD_DIR "hold"            /* the holder's own dir in the unit's: it never sees the gateway's files */
#define HELD_FILE HOLD_DIR "/held" /* the holder's ready file */
#define CLAIM_READY_MS 5000
char *pool_lock_path(const char *unit); /* STATE/pool/.UNIT.lock */
bool pool_is_unit_name(const char *s);
/* The lock, made exclusively: false when someone holds it. */
bool pool_lock_take(const char *unit, const char *holder);
/* What the gateway binary is (a unit made with another is not claimed). */
char *pool_gateway_id(const char *bin);
/* Removes the unit's holder, gateway and network. */
void pool_unit_down(struct adr_engine *e, const char *unit);
/* A unit's files in dir (a claimed one's decision log stays). */
void pool_drop_files(const char *dir);
/* pool_unit_down, pool_drop_files, and the lock (held by the caller) last. */
void pool_discard(struct adr_engine *e, const char *unit, const char *dir);
/* Waits (timeout_ms at most) until path exists, while UNIT+suffix runs. */
int pool_wait_file(struct adr_engine *e, const char *path, const char *unit, const char *suffix, int timeout_ms,
                   adr_err *err);
/* UNIT+suffix is a running container. */
bool pool_running(struct adr_engine *e, const char *unit, const char *suffix);

#endif
