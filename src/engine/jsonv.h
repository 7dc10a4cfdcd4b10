/* String lists to and from JSON arrays, for the engines' JSON (Docker's
 * Engine API bodies, the native engine's records and image configs). */
#ifndef ADR_JSONV_H
#define ADR_JSONV_H

#include "util.h"

#include <jansson.h>

/* A new array of s's strings. */
json_t *adr_json_strv(const struct strv *s);
/* The strings of array a pushed to out (other values and a non-array:
 * nothing). */
void adr_strv_json(json_t *a, struct strv *out);

#endif
