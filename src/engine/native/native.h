/* The native engine's insides, shared by its files (ops.c: the engine
 * operations and the sandboxes' records; super.c: the supervisor that holds
 * a running sandbox, and its clients).
 *
 *   ROOT/store/              the image store (store.h)
 *   ROOT/cache/              compiled seccomp policies
 *   ROOT/names/NAME          a symlink to the sandbox's ID
 *   ROOT/boxes/ID/config.json  what it runs: made at create, from the spec
 *                 seccomp.json the policy, when it has one
 *                 lock        held (an OFD lock) by its supervisor while it runs
 *                 sock        the supervisor's socket (attach, stdin, resize)
 *                 init        the host pid of its pid 1 and its start time
 *                              (/proc/PID/stat's), while it runs
 *                 supervisor  the supervisor's pid
 *                 cgroups     its cgroup directories, one a line
 *                 log         what it printed, as frames (below)
 *                 status.json its exit code, once it ended
 *                 run/        where its root is put together
 *
 * A frame, in the log and on the socket: a byte for the stream (1 stdout,
 * 2 stderr; NAT_F_* on the socket only), three zero bytes, the length
 * (32 bits, big-endian), the bytes.  Clients send frames too: NAT_C_*. */
#ifndef ADR_NATIVE_H
#define ADR_NATIVE_H

#include "engine.h"
#include "sandbox.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

struct nat {
  char *root;
  struct adr_nstore store;
  char *cache;
};

enum {
  NAT_F_OUT = 1,
  NAT_F_ERR = 2,
  NAT_F_START = 0xfe, /* supervisor -> client: where the stream starts in the log (8 bytes) */
  NAT_F_END = 0xff,   /* supervisor -> client: the sandbox ended, nothing follows */
  NAT_C_ATTACH = 'A', /* client: from this log offset (8 bytes, -1: from now), flags (1 byte) */
  NAT_C_STDIN = 'I',
  NAT_C_EOF = 'E',
  NAT_C_RESIZE = 'R', /* rows, cols: 16 bits each, big-endian */
};
#define NAT_FRAME_HDR 8
#define NAT_FRAME_MAX (1u << 20)
#define NAT_ATTACH_STDIN 1

char *nat_box_dir(const struct nat *n, const char *id);
/* The sandbox's state: "created", "running" (*init: its pid 1), "exited"
 * (*code).  -1 when it has no record. */
int nat_box_state(const char *dir, const char **state, pid_t *init, int *code);

/* An egress gateway's network: the supervisor starts a network holder
 * (adr_native_holder_start) before the box, gives it the listeners made
 * there, each named by the arguments "ARG FD", and writes the holder's
 * "PID STARTTIME" to DIR/holder for the sandboxes that join it. */
struct nat_net {
  const struct strv *want; /* "tcp:PORT", "udp:PORT" */
  const char *arg;
  const struct strv *blackholes; /* routed nowhere there */
  bool outbound;                 /* a way out (slirp4netns) */
};
/* Starts box (built from the record in dir) under a supervisor of its
 * own; 0 once its program runs.  nl: NULL, or the network above. */
int nat_super_spawn(const char *dir, const struct adr_native_box *b, const struct nat_net *nl, bool interactive,
                    bool detachable, adr_err *err);
/* A client of the supervisor: a's streams from log offset from (-1: from
 * now) until the sandbox ends or a detaches (detach keys); a->on_ready is
 * called once it is connected.  A sandbox that ends before the client
 * connects (or whose supervisor is gone) has the rest of its log copied. */
int nat_attach(const char *dir, int64_t from, const struct adr_attach *a, adr_err *err);
int nat_resize(const char *dir, unsigned rows, unsigned cols, adr_err *err);
/* The log's frames from offset from to fds; *end: the offset after. */
int nat_log_copy(const char *dir, int64_t from, int out_fd, int err_fd, bool raw, int64_t *end, adr_err *err);

/* The record's lock (an open file description lock on DIR/lock): held
 * for writing by the supervisor while it lives.  Readers never take it
 * (a reader's lock could make a starting supervisor fail): they test it,
 * or wait for it. */
bool nat_lock_held(int fd);
/* Blocks until no supervisor holds it; -1 with errno. */
int nat_lock_wait(int fd);
/* The supervisor's: 0 once taken (retrying a moment), -1 when another
 * supervisor holds it. */
int nat_lock_take(int fd);

/* every byte to fd, waiting up to 5 s at a time for a slow (non-blocking)
 * peer; -1 with errno (ETIMEDOUT: it took none for 5 s) */
int nat_write_all(int fd, const void *data, size_t n);

/* an AF_UNIX path for DIR/NAME that fits: through /proc/self/fd of dirfd */
void nat_sock_path(char *out, size_t len, int dirfd, const char *name);

#endif
