/* Docker engine: networks. */
#include "docker.h"

#include <errno.h>

int docker_network_create(struct adr_engine *e, const struct adr_network_req *req, char **id, adr_err *err)
{
  json_t *opts = json_object();
  for (size_t i = 0; i < req->options.n; i++) {
    const char *eq = strchr(req->options.v[i], '=');
    if (!eq)
      continue;
    cleanup_free char *k = xstrndup(req->options.v[i], (size_t)(eq - req->options.v[i]));
    json_object_set_new(opts, k, json_string(eq + 1));
  }
  json_t *body =
    json_pack("{s:s, s:s, s:b, s:b, s:b, s:o, s:o}", "Name", req->name, "Driver", "bridge", "Internal", req->internal,
              "CheckDuplicate", 1, "EnableIPv6", 0, "Options", opts, "Labels", docker_labels_json(&req->labels));
  if (req->subnet)
    json_object_set_new(body, "IPAM",
                        json_pack("{s:s, s:[{s:s}]}", "Driver", "default", "Config", "Subnet", req->subnet));
  json_t *out = NULL;
  cleanup_err adr_err e2 = NULL;
  int r = docker_call(e, "POST", "/networks/create", body, &out, NULL, &e2);
  json_decref(body);
  if (r < 0) {
    /* the subnet is taken (by another network or, on Podman, a route) */
    if (req->subnet && e2->msg &&
        (strstr(e2->msg, "overlap") || strstr(e2->msg, "in use") || strstr(e2->msg, "already used")))
      e2->errnum = EADDRINUSE;
    adr_err_move(err, &e2);
    return -1;
  }
  const char *nid = json_string_value(json_object_get(out, "Id"));
  if (id)
    *id = xstrdup(nid ? nid : "");
  json_decref(out);
  return 0;
}

int docker_network_connect(struct adr_engine *e, const char *net, const char *container, const char *ipv4, adr_err *err)
{
  cleanup_free char *q = docker_esc(net);
  cleanup_free char *path = xasprintf("/networks/%s/connect", q);
  json_t *body = json_pack("{s:s}", "Container", container);
  if (ipv4)
    json_object_set_new(body, "EndpointConfig", json_pack("{s:{s:s}}", "IPAMConfig", "IPv4Address", ipv4));
  int r = docker_call(e, "POST", path, body, NULL, NULL, err);
  json_decref(body);
  return r;
}

int docker_network_list(struct adr_engine *e, const struct strv *label_filters, struct adr_network **out, size_t *n,
                        adr_err *err)
{
  json_t *lab = json_array();
  for (size_t i = 0; label_filters && i < label_filters->n; i++)
    json_array_append_new(lab, json_string(label_filters->v[i]));
  json_t *f = json_pack("{s:o}", "label", lab);
  cleanup_free char *fs = json_dumps(f, JSON_COMPACT);
  json_decref(f);
  cleanup_free char *q = docker_esc(fs);
  cleanup_free char *path = xasprintf("/networks?filters=%s", q);
  json_t *j = NULL;
  if (docker_call(e, "GET", path, NULL, &j, NULL, err) < 0)
    return -1;
  *out = NULL;
  *n = 0;
  if (!json_is_array(j)) {
    json_decref(j);
    return adr_err_set(err, EPROTO, "engine returned no network list");
  }
  size_t cnt = json_array_size(j);
  *out = xcalloc(cnt ? cnt : 1, sizeof(**out));
  for (size_t i = 0; i < cnt; i++) {
    json_t *it = json_array_get(j, i);
    struct adr_network *nw = &(*out)[(*n)++];
    const char *s;
    nw->id = xstrdup((s = json_string_value(json_object_get(it, "Id"))) ? s : "");
    nw->name = xstrdup((s = json_string_value(json_object_get(it, "Name"))) ? s : "");
    const char *created = json_string_value(json_object_get(it, "Created"));
    struct tm tm = { 0 };
    if (created && strptime(created, "%Y-%m-%dT%H:%M:%S", &tm))
      nw->created = timegm(&tm);
    json_t *labels = json_object_get(it, "Labels");
    const char *k;
    json_t *v;
    json_object_foreach (labels, k, v) {
      if (json_is_string(v))
        strv_pushf(&nw->labels, "%s=%s", k, json_string_value(v));
    }
  }
  json_decref(j);
  return 0;
}

int docker_network_remove(struct adr_engine *e, const char *id, adr_err *err)
{
  cleanup_free char *q = docker_esc(id);
  cleanup_free char *path = xasprintf("/networks/%s", q);
  cleanup_err adr_err e2 = NULL;
  if (docker_call(e, "DELETE", path, NULL, NULL, NULL, &e2) < 0) {
    if (e2->errnum == ENOENT)
      return 0;
    adr_err_move(err, &e2);
    return -1;
  }
  return 0;
}
