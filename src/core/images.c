#include "images.h"
#include "scan.h"
#include "buf.h"
#include "builtin.h"
#include "image.h"
#include "layout.h"
#include "spec.h"

#include <errno.h>

int adr_images_present(struct adr_engine *e, const char *ref, adr_err *err)
{
  return adr_engine_image_inspect(e, ref, NULL, err);
}

int adr_images_list(struct adr_engine *e, const char *prefix, struct adr_image **out, size_t *n, adr_err *err)
{
  cleanup_free char *ref = adr_layout_image_filter(prefix);
  return adr_engine_image_list(e, ref, out, n, err);
}

int adr_images_pick_agent(struct adr_engine *e, const struct adr_agents *agents, const struct adr_config *c,
                          const char *tag, char **out, adr_err *err)
{
  cleanup_strv struct strv built = { 0 }, all = { 0 };
  const char *prefix = adr_config_get(c, "ADR_IMAGE_PREFIX");
  for (size_t i = 0; i < agents->n; i++) {
    cleanup_free char *img = adr_layout_image(prefix, agents->v[i].name, tag ? tag : adr_config_get(c, "ADR_TAG"));
    int r = adr_images_present(e, img, err);
    if (r < 0)
      return -1;
    if (r == 0)
      strv_push(&built, agents->v[i].name);
  }
  if (built.n == 1) {
    *out = xstrdup(built.v[0]);
    return 0;
  }
  const struct strv *names = &built;
  if (built.n == 0) {
    for (size_t i = 0; i < agents->n; i++)
      strv_push(&all, agents->v[i].name);
    names = &all;
  }
  cleanup_free char *list = strv_join(names, ", ");
  if (built.n == 0)
    return adr_err_set(err, EINVAL,
                       "no agent named, ADR_AGENT is not set and no agent is built; build one with 'adr "
                       "build AGENT' (%s)",
                       *list ? list : "none defined");
  return adr_err_set(err, EINVAL,
                     "no agent named and ADR_AGENT is not set; built: %s (name one, or 'adr config set "
                     "ADR_AGENT NAME')",
                     list);
}

void adr_images_job_base(struct adr_images_job *j, const char *tag, const char *registry)
{
  memset(j, 0, sizeof(*j));
  j->image = adr_layout_base_image(tag);
  j->dockerfile = "images/base.Dockerfile";
  strv_pushf(&j->args, "NPM_REGISTRY=%s", registry ? registry : "");
  adr_layout_base_image_labels(&j->labels);
}

void adr_images_job_agent(struct adr_images_job *j, const struct adr_agent *a, const char *prefix, const char *tag,
                          const char *registry)
{
  memset(j, 0, sizeof(*j));
  j->image = adr_layout_image(prefix, a->name, tag);
  j->dockerfile = "images/agent.Dockerfile";
  cleanup_free char *base = adr_layout_base_image(tag);
  strv_pushf(&j->args, "BASE_IMAGE=%s", base);
  strv_pushf(&j->args, "NPM_PACKAGE=%s", a->npm_package);
  strv_pushf(&j->args, "NPM_VERSION=%s", a->npm_version);
  strv_pushf(&j->args, "AGENT_BINARY=%s", a->binary);
  strv_pushf(&j->args, "AGENT_NAME=%s", a->name);
  strv_pushf(&j->args, "NPM_REGISTRY=%s", registry ? registry : "");
  adr_layout_agent_image_labels(a->name, a->npm_package, a->npm_version, &j->labels);
}

void adr_images_job_project(struct adr_images_job *j, const struct adr_agent *a, const char *image,
                            const char *project_id, const char *agent_id)
{
  memset(j, 0, sizeof(*j));
  j->image = xstrdup(image);
  j->dockerfile = "images/project.Dockerfile";
  strv_pushf(&j->args, "PROJECT_IMAGE=%s", project_id);
  strv_pushf(&j->args, "AGENT_IMAGE=%s", agent_id);
  strv_pushf(&j->args, "NPM_PACKAGE=%s", a->npm_package);
  strv_pushf(&j->args, "AGENT_BINARY=%s", a->binary);
  strv_push(&j->labels, ADR_LABEL_MANAGED "=1");
  strv_push(&j->labels, ADR_LABEL_KIND "=project-image");
  strv_pushf(&j->labels, ADR_LABEL_AGENT "=%s", a->name);
  strv_pushf(&j->labels, "dev.adr.project-image=%s", project_id);
}

void adr_images_job_ssh(struct adr_images_job *j, const char *base_id)
{
  memset(j, 0, sizeof(*j));
  j->image = adr_layout_ssh_image(base_id);
  j->dockerfile = "images/ssh.Dockerfile";
  strv_pushf(&j->args, "BASE_IMAGE=%s", base_id);
  strv_push(&j->labels, ADR_LABEL_MANAGED "=1");
  strv_push(&j->labels, ADR_LABEL_KIND "=ssh-image");
}

void adr_images_job_runner(struct adr_images_job *j, const char *tag, const char *adr_bin, const char *gateway_bin)
{
  memset(j, 0, sizeof(*j));
  j->image = adr_layout_runner_image(tag);
  j->dockerfile = "images/runner.Dockerfile";
  cleanup_free char *base = adr_layout_base_image(tag);
  strv_pushf(&j->args, "BASE_IMAGE=%s", base);
  strv_pushf(&j->files, "bin/adr=%s", adr_bin);
  strv_pushf(&j->files, "bin/adr-gateway=%s", gateway_bin);
  strv_push(&j->labels, ADR_LABEL_MANAGED "=1");
  strv_push(&j->labels, ADR_LABEL_KIND "=runner-image");
}

void adr_images_job_free(struct adr_images_job *j)
{
  free(j->image);
  strv_free(&j->files);
  strv_free(&j->args);
  strv_free(&j->labels);
  memset(j, 0, sizeof(*j));
}

int adr_images_build(struct adr_engine *e, const struct adr_images_job *j, const struct strv *cas, bool no_cache,
                     adr_build_cb cb, void *ud, adr_err *err)
{
  cleanup_buf struct buf tar;
  buf_init(&tar, 0);
  if (adr_build_context(j->dockerfile, cas, &j->files, &tar, err) < 0)
    return -1;
  struct adr_build_req req = {
    .tag = j->image, .context_tar = tar.data, .context_len = tar.len, .dockerfile = "Dockerfile", .no_cache = no_cache
  };
  req.build_args = j->args;
  req.labels = j->labels;
  const struct adr_builtin_file *df = adr_builtin_find(j->dockerfile);
  return adr_image_build_scanned(e, &req, df ? (const char *)df->data : NULL, j->scan_allow, cb, ud, NULL, err);
}

int adr_images_pick_helper(struct adr_engine *e, const char *prefix, const char *wanted, char **out, adr_err *err)
{
  if (wanted) {
    int r = adr_images_present(e, wanted, err);
    if (r < 0)
      return -1;
    if (r == 1)
      return adr_err_set(err, ENOENT, "image '%s' not found", wanted);
    *out = xstrdup(wanted);
    return 0;
  }
  cleanup_free char *base = adr_layout_base_image("latest");
  const char *cands[] = { base, "debian:bookworm-slim" };
  for (size_t i = 0; i < ARRAY_SIZE(cands); i++) {
    int r = adr_images_present(e, cands[i], err);
    if (r < 0)
      return -1;
    if (r == 0) {
      *out = xstrdup(cands[i]);
      return 0;
    }
  }
  struct adr_image *v = NULL;
  size_t n = 0;
  if (adr_images_list(e, prefix, &v, &n, err) < 0)
    return -1;
  if (n > 0)
    *out = xasprintf("%s:%s", v[0].repository, v[0].tag);
  adr_images_free(v, n);
  if (n == 0)
    return adr_err_set(err, ENOENT, "no image to run the helper in; build one with 'adr build' or pass --image");
  return 0;
}
