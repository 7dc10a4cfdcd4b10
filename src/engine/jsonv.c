#include "jsonv.h"

json_t *adr_json_strv(const struct strv *s)
{
  json_t *a = json_array();
  for (size_t i = 0; i < s->n; i++)
    json_array_append_new(a, json_string(s->v[i]));
  return a;
}

void adr_strv_json(json_t *a, struct strv *out)
{
  size_t i;
  json_t *x;
  json_array_foreach (a, i, x)
    if (json_is_string(x))
      strv_push(out, json_string_value(x));
}
