/* Agent images as adr uses them: whether one is there, which agent is the
 * only one built, building the base and agent images (progress streamed
 * to the caller), and the images adr fix-owner's helper can run in. */
#ifndef ADR_IMAGES_H
#define ADR_IMAGES_H

#include "agent.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "util.h"

/* 0 present, 1 absent, -1 error. */
int adr_images_present(struct adr_engine *e, const char *ref, adr_err *err);
/* Every image PREFIX/ *:*. */
int adr_images_list(struct adr_engine *e, const char *prefix, struct adr_image **out, size_t *n, adr_err *err);

/* No agent named and no ADR_AGENT: the one agent whose image (with tag,
 * NULL: ADR_TAG) is built into *out; none or several is an error that
 * lists them. */
int adr_images_pick_agent(struct adr_engine *e, const struct adr_agents *agents, const struct adr_config *c,
                          const char *tag, char **out, adr_err *err);

/* One image to build: its tag, the built-in Dockerfile, build arguments
 * and labels. */
struct adr_images_job {
  char *image;
  const char *dockerfile;
  struct strv args, labels;
  struct strv files;             /* "NAME=PATH": host files in the context */
  const struct strv *scan_allow; /* borrowed: paths the secret scan lets through (ADR_SCAN_ALLOW) */
};
/* adr/base:TAG, and PREFIX/AGENT:TAG on top of it (registry: the host's
 * npm registry, NULL: npm's default). */
void adr_images_job_base(struct adr_images_job *j, const char *tag, const char *registry);
void adr_images_job_agent(struct adr_images_job *j, const struct adr_agent *a, const char *prefix, const char *tag,
                          const char *registry);
/* The project image (ID project_id) with agent a (from its image, ID
 * agent_id) added: image (adr_layout_project_image). */
void adr_images_job_project(struct adr_images_job *j, const struct adr_agent *a, const char *image,
                            const char *project_id, const char *agent_id);
/* sshd added to the image of ID base_id (adr start --ssh):
 * adr_layout_ssh_image. */
void adr_images_job_ssh(struct adr_images_job *j, const char *base_id);
/* adr/runner:TAG on adr/base:TAG: adr runner in a container (a Swarm
 * service, a DaemonSet), with the binaries adr_bin and gateway_bin. */
void adr_images_job_runner(struct adr_images_job *j, const char *tag, const char *adr_bin, const char *gateway_bin);
void adr_images_job_free(struct adr_images_job *j);
static inline void adr_images_job_cleanup(struct adr_images_job *j) { adr_images_job_free(j); }
#define cleanup_images_job __attribute__((cleanup(adr_images_job_cleanup)))
/* Builds it (cas: extra CA certificates trusted inside), streaming
 * progress to cb. */
int adr_images_build(struct adr_engine *e, const struct adr_images_job *j, const struct strv *cas, bool no_cache,
                     adr_build_cb cb, void *ud, adr_err *err);

/* The image adr fix-owner's helper runs in: wanted, else the base image,
 * else debian:bookworm-slim, else the first agent image (PREFIX). */
int adr_images_pick_helper(struct adr_engine *e, const char *prefix, const char *wanted, char **out, adr_err *err);

#endif
