/* Docker engine: the spec <-> Engine API JSON mapping and the parsers of
 * list and inspect bodies.  No I/O: unit-tested with exact bodies. */
#include "docker.h"

#include <errno.h>

void docker_labels_from_json(json_t *obj, struct strv *out)
{
  const char *k;
  json_t *v;
  json_object_foreach (obj, k, v) {
    const char *s = json_string_value(v);
    strv_pushf(out, "%s=%s", k, s ? s : "");
  }
}

json_t *docker_labels_json(const struct strv *s)
{
  json_t *o = json_object();
  for (size_t i = 0; i < s->n; i++) {
    const char *eq = strchr(s->v[i], '=');
    cleanup_free char *k = eq ? xstrndup(s->v[i], (size_t)(eq - s->v[i])) : xstrdup(s->v[i]);
    json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
  }
  return o;
}

/* Mounts: binds in Mounts, tmpfs in Tmpfs with their options as text. */
static void mounts_json(const struct adr_spec *s, json_t *h)
{
  json_t *mounts = json_array();
  json_t *tmpfs = json_object();
  for (size_t i = 0; i < s->n_mounts; i++) {
    const struct adr_spec_mount *m = &s->mounts[i];
    if (m->type == ADR_MOUNT_BIND) {
      json_t *b = json_pack("{s:s, s:s, s:s, s:b}", "Type", "bind", "Source", m->source, "Target", m->target,
                            "ReadOnly", m->readonly);
      if (m->rprivate)
        json_object_set_new(b, "BindOptions", json_pack("{s:s}", "Propagation", "rprivate"));
      json_array_append_new(mounts, b);
    } else {
      cleanup_free char *own =
        m->uid >= 0 ? xasprintf(",uid=%ld,gid=%ld", m->uid, m->gid >= 0 ? m->gid : m->uid) : xstrdup("");
      cleanup_free char *opts =
        xasprintf("%s,%s,%s,%s,size=%llu,mode=%o%s", m->readonly ? "ro" : "rw", m->nosuid ? "nosuid" : "suid",
                  m->nodev ? "nodev" : "dev", m->noexec ? "noexec" : "exec", (unsigned long long)m->size, m->mode, own);
      json_object_set_new(tmpfs, m->target, json_string(opts));
    }
  }
  json_object_set_new(h, "Mounts", mounts);
  json_object_set_new(h, "Tmpfs", tmpfs);
}

/* The hardening of spec.h's MUST list and the limits, as HostConfig. */
static void security_json(const struct adr_spec *s, json_t *h)
{
  json_object_set_new(h, "ReadonlyRootfs", json_boolean(s->read_only_root));
  if (s->drop_all_caps)
    json_object_set_new(h, "CapDrop", json_pack("[s]", "ALL"));
  if (s->cap_add.n)
    json_object_set_new(h, "CapAdd", adr_json_strv(&s->cap_add));
  json_t *secopt = json_array();
  if (s->no_new_privileges)
    json_array_append_new(secopt, json_string("no-new-privileges:true"));
  if (s->seccomp == ADR_SECCOMP_ADR && s->seccomp_profile) {
    cleanup_free char *o = xasprintf("seccomp=%s", s->seccomp_profile);
    json_array_append_new(secopt, json_string(o));
  } else if (s->seccomp == ADR_SECCOMP_NONE) {
    json_array_append_new(secopt, json_string("seccomp=unconfined"));
  }
  json_object_set_new(h, "SecurityOpt", secopt);
  if (s->memory) {
    json_object_set_new(h, "Memory", json_integer(s->memory));
    if (s->swap_limited)
      json_object_set_new(h, "MemorySwap", json_integer(s->memory));
  }
  if (s->nano_cpus)
    json_object_set_new(h, "NanoCpus", json_integer(s->nano_cpus));
  if (s->pids)
    json_object_set_new(h, "PidsLimit", json_integer(s->pids));
  if (s->gpus.count || s->gpus.device_ids.n) /* the engine's GPU runtime (NVIDIA's) picks them */
    json_object_set_new(h, "DeviceRequests",
                        json_pack("[{s:s, s:i, s:o, s:[[s]], s:{}}]", "Driver", "", "Count",
                                  s->gpus.device_ids.n ? 0 : s->gpus.count, "DeviceIDs",
                                  s->gpus.device_ids.n ? adr_json_strv(&s->gpus.device_ids) : json_null(),
                                  "Capabilities", "gpu", "Options"));
  json_object_set_new(h, "Init", json_boolean(s->init));
  if (s->ipc_private)
    json_object_set_new(h, "IpcMode", json_string("private"));
  if (s->cgroupns_private)
    json_object_set_new(h, "CgroupnsMode", json_string("private"));
  json_object_set_new(h, "Privileged", json_boolean(s->privileged));
}

/* NetworkMode, ExtraHosts (the host alias), Dns; and on c the fixed
 * address on an attached network. */
static void network_json(const struct adr_spec *s, json_t *c, json_t *h)
{
  cleanup_free char *mode = NULL;
  switch (s->net.kind) {
  case ADR_SPEC_NET_NONE: mode = xstrdup("none"); break;
  case ADR_SPEC_NET_JOIN: mode = xasprintf("container:%s", s->net.name); break;
  case ADR_SPEC_NET_ATTACH: mode = xstrdup(s->net.name); break;
  case ADR_SPEC_NET_OUTBOUND:
  default: mode = xstrdup("bridge"); break;
  }
  json_object_set_new(h, "NetworkMode", json_string(mode));
  json_t *hosts = json_array();
  if (s->host_alias)
    json_array_append_new(hosts, json_string("host.docker.internal:host-gateway"));
  json_object_set_new(h, "ExtraHosts", hosts);
  if (s->dns.n)
    json_object_set_new(h, "Dns", adr_json_strv(&s->dns));
  if (s->net.kind == ADR_SPEC_NET_ATTACH && (s->net.ipv4 || s->net.aliases.n)) {
    json_t *ep = json_object();
    if (s->net.ipv4)
      json_object_set_new(ep, "IPAMConfig", json_pack("{s:s}", "IPv4Address", s->net.ipv4));
    if (s->net.aliases.n)
      json_object_set_new(ep, "Aliases", adr_json_strv(&s->net.aliases));
    json_object_set_new(c, "NetworkingConfig", json_pack("{s:{s:o}}", "EndpointsConfig", s->net.name, ep));
  }
}

/* Config.Healthcheck: durations in nanoseconds */
static void health_json(const struct adr_spec *s, json_t *c)
{
  const struct adr_spec_health *hc = &s->health;
  if (!hc->test.n && !hc->interval_ms && !hc->timeout_ms && !hc->start_period_ms && !hc->retries)
    return;
  json_t *h = json_object();
  if (hc->test.n)
    json_object_set_new(h, "Test", adr_json_strv(&hc->test));
  if (hc->interval_ms)
    json_object_set_new(h, "Interval", json_integer(hc->interval_ms * 1000000));
  if (hc->timeout_ms)
    json_object_set_new(h, "Timeout", json_integer(hc->timeout_ms * 1000000));
  if (hc->start_period_ms)
    json_object_set_new(h, "StartPeriod", json_integer(hc->start_period_ms * 1000000));
  if (hc->retries)
    json_object_set_new(h, "Retries", json_integer(hc->retries));
  json_object_set_new(c, "Healthcheck", h);
}

static const char *restart_name(enum adr_restart r)
{
  switch (r) {
  case ADR_RESTART_UNLESS_STOPPED: return "unless-stopped";
  case ADR_RESTART_ON_FAILURE: return "on-failure";
  case ADR_RESTART_ALWAYS: return "always";
  case ADR_RESTART_NO:
  default: return NULL;
  }
}

char *adr_docker_create_body(const struct adr_spec *s)
{
  if (adr_spec_non_utf8(s))
    return NULL; /* JSON cannot carry it; never send a body with pieces missing */
  json_t *c = json_object();
  json_object_set_new(c, "Image", json_string(s->image));
  if (s->entrypoint.n)
    json_object_set_new(c, "Entrypoint", adr_json_strv(&s->entrypoint));
  if (s->cmd.n)
    json_object_set_new(c, "Cmd", adr_json_strv(&s->cmd));
  json_object_set_new(c, "Env", adr_json_strv(&s->env));
  if (s->user)
    json_object_set_new(c, "User", json_string(s->user));
  if (s->workdir)
    json_object_set_new(c, "WorkingDir", json_string(s->workdir));
  if (s->hostname)
    json_object_set_new(c, "Hostname", json_string(s->hostname));
  json_object_set_new(c, "Tty", json_boolean(s->tty));
  json_object_set_new(c, "OpenStdin", json_boolean(s->interactive));
  json_object_set_new(c, "StdinOnce", json_boolean(s->interactive && !s->detachable));
  json_object_set_new(c, "AttachStdin", json_boolean(s->interactive));
  json_object_set_new(c, "AttachStdout", json_true());
  json_object_set_new(c, "AttachStderr", json_true());
  json_object_set_new(c, "Labels", docker_labels_json(&s->labels));
  health_json(s, c);

  json_t *h = json_object();
  mounts_json(s, h);
  security_json(s, h);
  network_json(s, c, h);
  if (s->sysctls.n) {
    json_t *sc = json_object();
    for (size_t i = 0; i < s->sysctls.n; i++) {
      const char *eq = strchr(s->sysctls.v[i], '=');
      if (!eq)
        continue;
      cleanup_free char *k = xstrndup(s->sysctls.v[i], (size_t)(eq - s->sysctls.v[i]));
      json_object_set_new(sc, k, json_string(eq + 1));
    }
    json_object_set_new(h, "Sysctls", sc);
  }
  const char *restart = restart_name(s->restart);
  if (restart)
    json_object_set_new(h, "RestartPolicy", json_pack("{s:s, s:i}", "Name", restart, "MaximumRetryCount", 0));
  json_object_set_new(h, "AutoRemove", json_false());
  json_object_set_new(c, "HostConfig", h);

  char *out = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(c);
  return out;
}

void docker_container_from_json(json_t *j, struct adr_container *c, bool inspect)
{
  memset(c, 0, sizeof(*c));
  const char *s = json_string_value(json_object_get(j, "Id"));
  c->id = xstrdup(s ? s : "");
  if (inspect) {
    s = json_string_value(json_object_get(j, "Name"));
    c->name = xstrdup(s ? (s[0] == '/' ? s + 1 : s) : "");
    json_t *st = json_object_get(j, "State");
    s = json_string_value(json_object_get(st, "Status"));
    c->state = xstrdup(s ? s : "");
    c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
    s = json_string_value(json_object_get(json_object_get(st, "Health"), "Status"));
    c->health = s ? xstrdup(s) : NULL;
    json_t *cfg = json_object_get(j, "Config");
    s = json_string_value(json_object_get(cfg, "Image"));
    c->image = xstrdup(s ? s : "");
    docker_labels_from_json(json_object_get(cfg, "Labels"), &c->labels);
    const char *created = json_string_value(json_object_get(j, "Created"));
    struct tm tm = { 0 };
    if (created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
      c->created = timegm(&tm);
  } else {
    json_t *names = json_object_get(j, "Names");
    s = json_string_value(json_array_get(names, 0));
    c->name = xstrdup(s ? (s[0] == '/' ? s + 1 : s) : "");
    s = json_string_value(json_object_get(j, "State"));
    c->state = xstrdup(s ? s : "");
    s = json_string_value(json_object_get(j, "Image"));
    c->image = xstrdup(s ? s : "");
    c->created = (time_t)json_integer_value(json_object_get(j, "Created"));
    docker_labels_from_json(json_object_get(j, "Labels"), &c->labels);
    /* the list has no exit code field, only "Exited (N) 2 minutes ago" */
    s = json_string_value(json_object_get(j, "Status"));
    if (s && str_has_prefix(s, "Exited ("))
      c->exit_code = (int)strtol(s + 8, NULL, 10);
  }
}

int adr_docker_parse_images(const char *json, size_t len, struct adr_image **out, size_t *n, adr_err *err)
{
  json_error_t je;
  json_t *arr = json_loadb(json, len, 0, &je);
  if (!arr || !json_is_array(arr)) {
    json_decref(arr);
    return adr_err_set(err, EPROTO, "list images: unexpected response from the engine (%s)",
                       arr ? "not an array" : je.text);
  }
  struct adr_image *v = NULL;
  size_t cnt = 0;
  size_t i;
  json_t *im;
  json_array_foreach (arr, i, im) {
    json_t *tags = json_object_get(im, "RepoTags");
    size_t j;
    json_t *t;
    json_array_foreach (tags, j, t) {
      const char *rt = json_string_value(t);
      if (!rt || streq(rt, "<none>:<none>"))
        continue;
      const char *colon = strrchr(rt, ':');
      if (!colon || strchr(colon, '/'))
        continue;
      v = xrealloc(v, (cnt + 1) * sizeof(*v));
      struct adr_image *x = &v[cnt++];
      memset(x, 0, sizeof(*x));
      x->repository = xstrndup(rt, (size_t)(colon - rt));
      x->tag = xstrdup(colon + 1);
      const char *id = json_string_value(json_object_get(im, "Id"));
      x->id = xstrdup(id ? id : "");
      x->size = json_integer_value(json_object_get(im, "Size"));
      x->created = (time_t)json_integer_value(json_object_get(im, "Created"));
      docker_labels_from_json(json_object_get(im, "Labels"), &x->labels);
    }
  }
  json_decref(arr);
  *out = v;
  *n = cnt;
  return 0;
}

int adr_docker_parse_build_line(const char *line, size_t len, struct adr_build_event *ev, char **owned, adr_err *err)
{
  *owned = NULL;
  json_error_t je;
  json_t *j = json_loadb(line, len, 0, &je);
  if (!j || !json_is_object(j)) {
    json_decref(j);
    return adr_err_set(err, EPROTO, "build: unexpected output from the engine: %.*s", (int)(len < 80 ? len : 80), line);
  }
  int ret = 0;
  const char *s;
  json_t *aux = json_object_get(j, "aux");
  if ((s = json_string_value(json_object_get(j, "error")))) {
    const char *detail = json_string_value(json_object_get(json_object_get(j, "errorDetail"), "message"));
    ret = adr_err_set(err, EIO, "%s", detail ? detail : s);
    if (*err) {
      /* trim trailing newline */
      size_t l = strlen((*err)->msg);
      while (l && ((*err)->msg[l - 1] == '\n' || (*err)->msg[l - 1] == '\r'))
        (*err)->msg[--l] = '\0';
    }
  } else if (aux && (s = json_string_value(json_object_get(aux, "ID")))) {
    *owned = xstrdup(s);
    ev->kind = ADR_BUILD_DONE;
    ev->text = *owned;
  } else if ((s = json_string_value(json_object_get(j, "stream")))) {
    *owned = xstrdup(s);
    ev->kind = str_has_prefix(s, "Step ") ? ADR_BUILD_STEP : ADR_BUILD_OUTPUT;
    ev->text = *owned;
  } else if ((s = json_string_value(json_object_get(j, "status")))) {
    *owned = xstrdup(s);
    ev->kind = ADR_BUILD_OUTPUT;
    ev->text = *owned;
  } else {
    ev->kind = ADR_BUILD_OUTPUT;
    ev->text = NULL;
  }
  json_decref(j);
  return ret;
}
