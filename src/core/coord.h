/* The coordinator (adr serve): the HTTP/JSON API over the run queue
 * (queue.h) that clients submit runs to and runners claim them from.  The
 * requests are handled here without a transport (adr_coord_handle: unit
 * tests call it directly); coord-http.c serves them with libmicrohttpd.
 * docs/api.md lists every endpoint.
 *
 * Authentication: bearer tokens of two roles, client and runner, stored
 * hashed (SHA-256) in a tokens file ("ROLE HASH NAME" lines, mode 0600);
 * or none at all when the server listens on loopback only and is told so
 * (one machine, one user). */
#ifndef ADR_COORD_H
#define ADR_COORD_H

#include "err.h"
#include "queue.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADR_COORD_BODY_MAX (1u << 20)    /* a request body: 413 beyond */
#define ADR_COORD_WAIT_MAX 30            /* seconds a claim may wait for work */
#define ADR_COORD_OUTPUT_MAX (64u << 10) /* the text of one output event */
#define ADR_COORD_BUNDLE_MAX (32u << 20) /* a run's bundle, in bytes */
/* A request body's bound for path: ADR_COORD_BODY_MAX, or room for a
 * bundle in base64 (POST /v1/runs/ID/bundle). */
size_t adr_coord_body_max(const char *path);

struct adr_coord_opts {
  const char *store;        /* queue.h's sqlite:PATH or postgresql://... */
  const char *tokens_file;  /* NULL with no_auth */
  bool no_auth;             /* every request is every role's (loopback only: the caller checks) */
  const char *profiles_dir; /* NAME.json each; NULL: none */
  int64_t lease_ms;         /* a claim's lease (default 60 s) */
  int max_attempts;         /* claims of a run before it is lost (default 3) */
  int64_t (*now_ms)(void);  /* the clock (tests); NULL: the real one */
};

struct adr_coord;
int adr_coord_open(const struct adr_coord_opts *o, struct adr_coord **c, adr_err *err);
void adr_coord_close(struct adr_coord *c);

struct adr_coord_req {
  const char *method, *path;
  const char *(*arg)(void *ud, const char *key); /* a query argument, NULL when absent */
  void *ud;
  const char *auth; /* the Authorization header */
  const char *body;
  size_t body_len;
};
struct adr_coord_resp {
  int status;
  char *body; /* JSON, or NULL (204) */
};
/* Handles one request (blocks up to wait_s for a claim): rs->status and
 * rs->body (the caller frees it). */
void adr_coord_handle(struct adr_coord *c, const struct adr_coord_req *rq, struct adr_coord_resp *rs);

/* The events of run id after event after, as a JSON array (waiting up to
 * wait_s for one); *ended when the run has ended and these are its last.
 * 0, 1 when there is no such run, -1. */
int adr_coord_events(struct adr_coord *c, int64_t id, int64_t after, int wait_s, json_t **events, bool *ended,
                     adr_err *err);

/* A new token of role ("client" or "runner") named name, its hash added to
 * file (made 0600): the token, shown once (the caller frees it). */
int adr_coord_token_add(const char *file, const char *role, const char *name, char **token, adr_err *err);

/* Serves c over HTTP at listen ("HOST:PORT"; with tls_cert and tls_key
 * PEM files, HTTPS) until stop_fd is readable; ready(addr) once it
 * listens. */
int adr_coord_serve(struct adr_coord *c, const char *listen, const char *tls_cert, const char *tls_key, int stop_fd,
                    void (*ready)(const char *addr, void *ud), void *ud, adr_err *err);

/* listen names a loopback address (127.0.0.0/8, ::1, localhost). */
bool adr_coord_loopback(const char *listen);

#endif
