/* Shared between the files of the launch (launch*.c); not an API. */
#ifndef ADR_LAUNCH_INT_H
#define ADR_LAUNCH_INT_H

#include "launch.h"

#include <stdarg.h>

/* An error in the options: err->status ADR_LAUNCH_USAGE. */
int launch_usage(adr_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *launch_getenv(const struct adr_launch *l, const char *key);
/* A count of things kept ready (0-8): the environment's KEY, else the
 * configuration's, else dflt. */
unsigned launch_count(const struct adr_config *c, const char *(*getenv_fn)(const char *), const char *key,
                      unsigned dflt);
/* ADR_EGRESS_POOL: how many egress units to keep ready (0-8). */
unsigned launch_pool_size(const struct adr_launch *l);

/* launch-creds.c: the plan's credentials (the relay) and the hosts the
 * agent's API needs. */
int launch_plan_creds(struct adr_launch *l, adr_err *err);

/* launch-prepare.c: l->ro from the plan and l->cname (no host state is
 * written), and the policy with its presets (once). */
void launch_fill_ro(struct adr_launch *l);
/* The start marker of l->pname (l->marker): the scope's worktrees dir
 * (resolved), or NULL when another start of that name is under way. */
char *launch_take_marker(struct adr_launch *l, adr_err *err);

/* launch-devcontainer.c: the project's dev container (devcontainer.json) */
/* found (unless --no-devcontainer or --image), read, checked; its
 * environment and workspace mounts into the plan */
int launch_plan_devcontainer(struct adr_launch *l, adr_err *err);
/* its image (named, or built from its Dockerfile) as l->project_image */
int launch_devcontainer_image(struct adr_launch *l, adr_err *err);
/* An image built from context with dockerfile and build_args, once per
 * content (a stamp of the context skips even the archive when nothing
 * changed): its tag adr-devcontainer/REPO[-SERVICE]:DIGEST in *out. what
 * names it in events. */
int launch_dc_build(struct adr_launch *l, const char *what, const char *context, const char *dockerfile,
                    const struct strv *build_args, const char *service, char **out, adr_err *err);
/* remoteEnv and the lifecycle commands, in the sandbox before the agent */
int launch_devcontainer_wrap(struct adr_launch *l);

/* launch-services.c: the dev container's compose services */
/* read (plan): the agent's service as the project image and environment,
 * the order of the others (host names a file asked for and did not get
 * go to withheld) */
int launch_plan_services(struct adr_launch *l, struct strv *withheld, adr_err *err);
/* made (prepare, after the egress): their network, each service (built,
 * started, healthy), the agent's namespace holder on their network */
int launch_services_up(struct adr_launch *l, adr_err *err);
/* after the sandbox is made: it joins their network (allowlist) */
int launch_services_join(struct adr_launch *l, adr_err *err);
void launch_services_free(struct adr_launch *l);

/* a container's last lines of output, as one line (" | " between) */
char *launch_last_lines(struct adr_engine *e, const char *id);

/* launch-mcp.c: mcp.json's servers */
/* read (plan; not with --no-mcp), for the credential planner */
int launch_plan_mcp(struct adr_launch *l, adr_err *err);
/* launch-sidecar.c: sidecars beside the sandbox (MCP servers with
 * secrets, --ssh-agent's filter); made in prepare, before the sandbox, each
 * serving its socket; the sandbox's label */
int launch_sidecars_up(struct adr_launch *l, adr_err *err);
/* --ssh-agent: SSH_AUTH_SOCK and the hosts' keys from known_hosts (plan) */
int launch_plan_ssh_agent(struct adr_launch *l, adr_err *err);

/* launch-ssh.c: --ssh's host key, authorized keys and sshd_config in the
 * identity directory, and the label */
int launch_ssh_files(struct adr_launch *l, adr_err *err);

/* launch-warm.c: warm sandboxes (ADR_WARM) */
/* ADR_WARM (the environment's, else the configuration's): 0-8, default 0 */
unsigned launch_warm_size(const struct adr_launch *l);
/* l is a start a warm sandbox can stand in for: a worktree of its own on
 * a branch adr/NAME, allowlist or none, no team */
bool launch_warm_fits(const struct adr_launch *l);
/* In place of making the worktree: 0 a warm sandbox was claimed (l
 * describes it; it runs), 1 none fits (make one as usual), -1 error. */
int launch_warm_claim(struct adr_launch *l, adr_err *err);
/* l makes a warm sandbox: after launch_spec_finish, its digest label, the
 * waiting first process */
int launch_warm_spec(struct adr_launch *l, adr_err *err);
/* Keeps want idle warm sandboxes like l's for its repository and agent
 * (removes those that differ): how many are ready, or -1. */
int launch_warm_fill(struct adr_engine *e, const struct adr_launch *l, unsigned want, adr_err *err);

/* launch-spec.c: every hand edit of the spec adr_run_spec made. */
/* a persistent agent's terminal and git (wt: its worktree, NULL: none) */
int launch_spec_agent(struct adr_spec *s, const struct adr_repo *repo, const struct adr_worktree *wt, adr_err *err);
/* the sandbox's labels, and a persistent agent's terminal and git */
int launch_spec_finish(struct adr_launch *l, adr_err *err);
/* adr as root: bind sources through idmapped mounts */
int launch_spec_idmap(struct adr_launch *l, uid_t uid, gid_t gid, adr_err *err);
/* the relay's address, once known, where the plan left a placeholder */
int launch_spec_relay(struct adr_launch *l, adr_err *err);

#endif
