/* The engine interface.  Commands talk to sandboxes only through this; the
 * Docker Engine API implementation lives in docker/ (it also serves
 * Podman's compatible socket).  Other engines add an ops table. */
#ifndef ADR_ENGINE_H
#define ADR_ENGINE_H

#include "err.h"
#include "spec.h"
#include "util.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct adr_image {
  char *id;
  char *repository; /* "coding-agent/pi" */
  char *tag;        /* "latest" */
  int64_t size;     /* bytes */
  time_t created;
  struct strv labels; /* key=value */
  struct strv layers; /* inspect only: the layers' digests (sha256:...), base first */
};
void adr_image_free(struct adr_image *im);
void adr_images_free(struct adr_image *v, size_t n);

struct adr_container {
  char *id;
  char *name;
  char *image;
  char *state; /* created, running, exited, ... */
  time_t created;
  int exit_code;
  char *health; /* inspect only: starting, healthy, unhealthy; NULL: no health check */
  struct strv labels;
};
void adr_container_free(struct adr_container *c);
void adr_containers_free(struct adr_container *v, size_t n);
/* A container of v (an entry with a NULL id counts as gone) has this name. */
bool adr_container_listed(const struct adr_container *v, size_t n, const char *name);
const char *adr_labels_get(const struct strv *labels, const char *key);

struct adr_network_req {
  const char *name;
  bool internal;       /* no route out of the network */
  const char *subnet;  /* "10.213.4.0/28", NULL = the engine picks */
  struct strv options; /* driver options key=value */
  struct strv labels;
};
struct adr_network {
  char *id;
  char *name;
  time_t created;
  struct strv labels;
};
void adr_networks_free(struct adr_network *v, size_t n);

/* Build events streamed while an image builds. */
enum adr_build_event_kind { ADR_BUILD_STEP, ADR_BUILD_OUTPUT, ADR_BUILD_DONE };
struct adr_build_event {
  enum adr_build_event_kind kind;
  const char *text; /* a step line ("Step 3/9 : RUN ..."), output, or image id */
};
typedef void (*adr_build_cb)(const struct adr_build_event *ev, void *ud);

struct adr_build_req {
  const char *tag;         /* "repo:tag" */
  const void *context_tar; /* a tar archive holding the Dockerfile */
  size_t context_len;
  const char *dockerfile; /* path inside the context */
  struct strv build_args; /* KEY=VALUE */
  struct strv labels;     /* key=value */
  bool no_cache;
  bool pull;
};

/* Streams for attach/exec: the engine reads stdin from in_fd (-1 = none)
 * and writes to out_fd/err_fd. With a tty, output is raw on out_fd. */
struct adr_attach {
  int in_fd, out_fd, err_fd;
  bool tty;
  /* Called once the stream is connected (start the container here). */
  int (*on_ready)(void *ud, adr_err *err);
  /* wake_fd readable -> on_wake(ud) (signals, timers); <0 stops the pump. */
  int wake_fd;
  int (*on_wake)(void *ud);
  void *ud;
  const char *detach_keys; /* attach only: e.g. "ctrl-p,ctrl-q"; NULL = engine default */
};

/* A sandbox's egress, engine-neutral.  src/core/egress.c decides it (the
 * mode, the gateway's program, files, arguments, identity and limits as a
 * spec, the subnets an allowlist network may take) and writes the files
 * the gateway reads; the engine realises it:
 *
 *   ADR_EGRESS_ALLOWLIST  a network with no route out (and none to the
 *                         host) whose only other member is the gateway, at
 *                         the address of the subnet the engine could make;
 *                         the gateway has the engine's outbound network too.
 *                         Or (the native engine) a loopback-only namespace
 *                         the sandbox joins, where the gateway's listeners
 *                         are made (plan->listen) and handed to it: then
 *                         the address is 127.0.0.1
 *   ADR_EGRESS_OPEN       the gateway holds a network namespace with a route
 *                         out (it blackholes the metadata addresses); the
 *                         sandbox joins it
 *
 * What the engine makes is named after the sandbox (SANDBOX-gw, the
 * gateway; SANDBOX-net, the network) so that egress_down needs only the
 * name, and labelled (plan->gateway.labels, plan->net_labels) so that a
 * killed adr's leftovers are found. */
enum adr_egress_mode { ADR_EGRESS_ALLOWLIST, ADR_EGRESS_OPEN };
#define ADR_EGRESS_GW_SUFFIX "-gw"
#define ADR_EGRESS_NET_SUFFIX "-net"
/* An argument of plan->gateway.cmd that the engine replaces with the
 * gateway's address on the sandbox's network (allowlist). */
#define ADR_EGRESS_ADDR "{egress-address}"

struct adr_egress_plan {
  enum adr_egress_mode mode;
  const char *sandbox; /* the sandbox's name */
  /* the gateway (open mode: the holder) as a sandbox: name SANDBOX-gw,
   * program, mounts, user, capabilities, sysctls, limits, restart policy,
   * labels.  Its network is the engine's to give (the engine may complete
   * this spec: network, address). */
  struct adr_spec gateway;
  const char *ready_file; /* host path the gateway creates once it serves */
  int ready_timeout_ms;   /* 0: 10 s */
  /* allowlist */
  const struct strv *subnets;    /* IPv4 /28s to try, in order ("10.213.4.16/28"); the engine
                                   skips those the host routes (adr_host_routes) */
  const struct strv *addrs;      /* the gateway's address in each */
  const char *pool;              /* where they were carved from, for messages */
  const struct strv *net_labels; /* key=value, for the network */
  /* what the gateway listens on ("tcp:PORT", "udp:PORT"), for an engine
   * that makes the listeners itself, in the namespace the sandbox joins,
   * and gives them to the gateway as descriptors, each as the two
   * arguments "listen_arg FD" (the native engine: no bridge, no veth) */
  const struct strv *listen;
  const char *listen_arg;
};

struct adr_egress_result {
  struct adr_spec_net net; /* the sandbox's network: attached to the allowlist
                                   network (the engine picks its address), or joined
                                   to the holder */
  char *addr;              /* allowlist: the gateway's address, the sandbox's
                                   resolver and proxy */
};
void adr_egress_result_free(struct adr_egress_result *r);
struct adr_engine;
/* For engines' egress_up: waits until the gateway id wrote ready, or ended
 * (an error with the last line it wrote), or timeout_ms passed. */
int adr_egress_wait_ready(struct adr_engine *e, const char *id, const char *ready, int timeout_ms, adr_err *err);

/* What an engine can do, for callers that adapt (an engine without
 * ADR_ENG_CAP_BUILD cannot make adr's images; one without _EGRESS cannot
 * run allowlist or open sandboxes).  An op an engine lacks fails with
 * ENOTSUP whether or not its bit is tested first. */
enum {
  ADR_ENG_CAP_BUILD = 1u << 0,    /* image_build from a Dockerfile context */
  ADR_ENG_CAP_NETWORKS = 1u << 1, /* network_create/remove/connect/list */
  ADR_ENG_CAP_LABELS = 1u << 2,   /* labels kept on sandboxes and networks, and list filters on them */
  ADR_ENG_CAP_RESTART = 1u << 3,  /* restart policies: sandboxes outlive adr and come back with the engine */
  ADR_ENG_CAP_EGRESS = 1u << 4,   /* egress_up/egress_down */
  ADR_ENG_CAP_EXEC = 1u << 5,     /* container_exec */
  ADR_ENG_CAP_ATTACH = 1u << 6,   /* container_attach to a running sandbox, with detach keys */
  ADR_ENG_CAP_LOGS = 1u << 7,     /* container_logs after the fact */
  ADR_ENG_CAP_STATE = 1u << 8,    /* the state store: state_get/state_set/state_list */
  ADR_ENG_CAP_USERNS = 1u << 9,   /* the sandbox's user is the caller outside (a user namespace that
                                     maps only it): what it writes to a bind mount is the caller's
                                     without idmapped mounts */
};

struct adr_engine;
struct adr_engine_ops {
  const char *name; /* "docker", "podman" */
  unsigned caps;    /* ADR_ENG_CAP_* */
  /* Connects to e->endpoint (set by the caller) and fills e->priv,
   * e->api_version; on failure adr_engine_close undoes what it did. */
  int (*open)(struct adr_engine *e, adr_err *err);
  void (*close)(struct adr_engine *e);
  int (*ping)(struct adr_engine *e, adr_err *err);
  int (*version)(struct adr_engine *e, char **version, char **api, adr_err *err);

  int (*image_list)(struct adr_engine *e, const char *reference, struct adr_image **out, size_t *n, adr_err *err);
  /* 0 found, 1 absent, <0 error */
  int (*image_inspect)(struct adr_engine *e, const char *ref, struct adr_image *out, adr_err *err);
  int (*image_build)(struct adr_engine *e, const struct adr_build_req *req, adr_build_cb cb, void *ud, char **image_id,
                     adr_err *err);
  int (*image_remove)(struct adr_engine *e, const char *ref, adr_err *err);
  /* the image as a tar archive of its layers (docker save / OCI layout), written to fd */
  int (*image_save)(struct adr_engine *e, const char *ref, int fd, adr_err *err);
  /* names ref repo:tag too */
  int (*image_tag)(struct adr_engine *e, const char *ref, const char *repo, const char *tag, adr_err *err);

  int (*container_create)(struct adr_engine *e, const struct adr_spec *spec, char **id, adr_err *err);
  int (*container_start)(struct adr_engine *e, const char *id, adr_err *err);
  /* Connects to the container's streams, runs until they close. Call
   * before start so that no output is lost. Blocks. */
  int (*container_attach)(struct adr_engine *e, const char *id, const struct adr_attach *a, adr_err *err);
  int (*container_wait)(struct adr_engine *e, const char *id, int *exit_code, adr_err *err);
  int (*container_kill)(struct adr_engine *e, const char *id, int sig, adr_err *err);
  int (*container_stop)(struct adr_engine *e, const char *id, int timeout_s, adr_err *err);
  int (*container_remove)(struct adr_engine *e, const char *id, bool force, adr_err *err);
  /* A new name for a container, running or not; EEXIST when it is taken. */
  int (*container_rename)(struct adr_engine *e, const char *id, const char *name, adr_err *err);
  /* 0 found, 1 absent, <0 error */
  int (*container_inspect)(struct adr_engine *e, const char *id, struct adr_container *out, adr_err *err);
  /* label filters "key" or "key=value"; all=false lists only running ones */
  int (*container_list)(struct adr_engine *e, const struct strv *label_filters, bool all, struct adr_container **out,
                        size_t *n, adr_err *err);
  int (*container_resize)(struct adr_engine *e, const char *id, unsigned rows, unsigned cols, adr_err *err);
  int (*container_logs)(struct adr_engine *e, const char *id, bool follow, int out_fd, int err_fd, adr_err *err);
  /* Runs cmd in the running container with a's streams; blocks until it ends. */
  int (*container_exec)(struct adr_engine *e, const char *id, const struct strv *cmd, const struct adr_attach *a,
                        int *exit_code, adr_err *err);

  /* err->errnum EADDRINUSE: the subnet is taken; EEXIST: the name is */
  int (*network_create)(struct adr_engine *e, const struct adr_network_req *req, char **id, adr_err *err);
  int (*network_remove)(struct adr_engine *e, const char *id, adr_err *err);
  /* ipv4: a fixed address on net (NULL = the engine picks) */
  int (*network_connect)(struct adr_engine *e, const char *net, const char *container, const char *ipv4, adr_err *err);
  int (*network_list)(struct adr_engine *e, const struct strv *label_filters, struct adr_network **out, size_t *n,
                      adr_err *err);

  /* The state store: what adr records about a sandbox (the ADR_LABEL_*
   * keys of spec.h: owner, workspace, branch, egress mode ...), kept by
   * the engine with the sandbox so that it goes when the sandbox goes.
   * Engines with labels keep it in them (Docker: the container's labels,
   * set at create from spec.labels); an engine without labels keeps a
   * store of its own and fills spec.labels into it at create.
   * state_get: 0 found (*value: the key's value, NULL when unset), 1 no
   * such sandbox.  state_set: changes one key of an existing sandbox;
   * EROFS where the engine fixes them at create (Docker) and the value
   * differs.  state_list: the sandboxes, running or not, whose state
   * matches every filter ("key" or "key=value"), with their labels. */
  int (*state_get)(struct adr_engine *e, const char *sandbox, const char *key, char **value, adr_err *err);
  int (*state_set)(struct adr_engine *e, const char *sandbox, const char *key, const char *value, adr_err *err);
  int (*state_list)(struct adr_engine *e, const struct strv *filters, struct adr_container **out, size_t *n,
                    adr_err *err);

  /* Makes the plan's network objects and starts its gateway, waiting
   * until it serves; on failure nothing it made is left. */
  int (*egress_up)(struct adr_engine *e, struct adr_egress_plan *plan, struct adr_egress_result *res, adr_err *err);
  /* Removes what egress_up made for sandbox (absent objects are fine). */
  int (*egress_down)(struct adr_engine *e, const char *sandbox, adr_err *err);
};

struct adr_engine {
  const struct adr_engine_ops *ops;
  char *endpoint; /* "unix:///var/run/docker.sock" */
  char *api_version;
  void *priv;
  /* what the engine said while it worked that the user should know (a
   * limit it could not set): the caller takes them */
  struct strv warnings;
};

/* e's warnings so far, moved to the end of out. */
void adr_engine_take_warnings(struct adr_engine *e, struct strv *out);

/* Has the engine every capability in caps (ADR_ENG_CAP_*)? */
static inline bool adr_engine_can(const struct adr_engine *e, unsigned caps) { return (e->ops->caps & caps) == caps; }

/* The calls, adr_engine_*(): every caller goes through them. */
#include "calls.h"

/* The engines adr knows, NULL-terminated: "docker", "podman", "native". */
const char *const *adr_engine_names(void);
/* Which engine and where it listens.  name is ADR_ENGINE's value:
 *   NULL, "" or "auto"  Docker's discovery: DOCKER_HOST, else the current
 *                       docker context's endpoint (DOCKER_CONTEXT or
 *                       ~/.docker/config.json's currentContext), else the
 *                       default socket, else Podman's (then it is podman)
 *   "docker"            the same without the Podman fallback
 *   "podman"            CONTAINER_HOST, else $XDG_RUNTIME_DIR/podman/podman.sock,
 *                       else /run/podman/podman.sock
 *   "native"            no daemon (native/): the endpoint is its state
 *                       directory, adr_native_root()
 * auto takes the native engine when no engine is configured (no
 * DOCKER_HOST, no docker context) and the default sockets take no
 * connection (adr_engine_auto_native() then says so, for the one message);
 * a configured engine that does not answer stays an error. 
 * *engine is a static name; *endpoint is the caller's.  An unknown name
 * fails with EINVAL naming it and the known ones. */
int adr_engine_locate(const char *name, const char **engine, char **endpoint, adr_err *err);
/* Opens engine (a name of adr_engine_names) at endpoint and negotiates
 * the API version. */
int adr_engine_open_as(struct adr_engine **e, const char *engine, const char *endpoint, adr_err *err);
/* Both, for the engine $ADR_ENGINE names, else configured (the ADR_ENGINE
 * config key; NULL: auto). */
int adr_engine_open_default(struct adr_engine **e, const char *configured, adr_err *err);
/* The same by halves, with $ADR_ENGINE only: its endpoint, and that
 * engine (docker when auto) opened at endpoint. */
char *adr_engine_endpoint(adr_err *err);
int adr_engine_open(struct adr_engine **e, const char *endpoint, adr_err *err);
void adr_engine_close(struct adr_engine *e);
/* A second connection to e's engine (another process's: after a fork). */
int adr_engine_reopen(const struct adr_engine *e, struct adr_engine **out, adr_err *err);
static inline void adr_engine_cleanup(struct adr_engine **e)
{
  if (*e)
    adr_engine_close(*e);
  *e = NULL;
}
#define cleanup_engine __attribute__((cleanup(adr_engine_cleanup)))

/* For engines that make networks: does the host route any of subnet's
 * addresses already (a LAN, a VPN)?  A network made there would be
 * unreachable from the sandbox and shadow the host's. */
bool adr_host_routes(const char *subnet);

/* The Docker implementation (also Podman's), exposed for the registry and
 * for unit tests of request building. */
extern const struct adr_engine_ops adr_docker_ops;
extern const struct adr_engine_ops adr_podman_ops;
extern const struct adr_engine_ops adr_native_ops;
/* $ADR_NATIVE_ROOT, else ${XDG_DATA_HOME:-~/.local/share}/adr/native */
char *adr_native_root(void);
/* Imports the images of a docker-archive or OCI layout read from fd into
 * the native engine e's store; ids (may be NULL) gets their IDs. */
int adr_native_import(struct adr_engine *e, int fd, struct strv *ids, adr_err *err);
/* Pulls ref (HOST[:PORT]/NAME[:TAG|@DIGEST]) from its registry into the
 * native engine e's store (native/registry.c); ids gets its ID. */
int adr_native_pull(struct adr_engine *e, const char *ref, struct strv *ids, adr_err *err);
/* Did auto pick the native engine because no engine answered? */
bool adr_engine_auto_native(void);
int adr_docker_open(struct adr_engine *e, adr_err *err);
/* Docker's discovery (see adr_engine_locate); podman_fallback: try
 * Podman's sockets when the default socket is absent (*is_podman then). */
char *adr_docker_endpoint(bool podman_fallback, bool *is_podman, adr_err *err);
char *adr_podman_endpoint(adr_err *err);
/* Engine API JSON for POST /containers/create (caller frees with free()). */
char *adr_docker_create_body(const struct adr_spec *spec);
/* Parses the body of GET /images/json. */
int adr_docker_parse_images(const char *json, size_t len, struct adr_image **out, size_t *n, adr_err *err);
/* Parses one line of the /build stream; fills ev (text points into *owned). */
int adr_docker_parse_build_line(const char *line, size_t len, struct adr_build_event *ev, char **owned, adr_err *err);
/* The errno value of an Engine API status (0 below 400: 304 is "already"). */
int adr_docker_errno(long status);
/* "1.41" style version comparison. */
int adr_api_version_cmp(const char *a, const char *b);

#endif
