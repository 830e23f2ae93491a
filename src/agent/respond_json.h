/*
 * respond_json.h - small helpers the response executors share for their JSON parameters and
 * results (respond.h: params are a JSON object, the result a JSON object appended to out).
 */
#ifndef BANNIN_AGENT_RESPOND_JSON_H
#define BANNIN_AGENT_RESPOND_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "bannin/buf.h"

/* Lower-case hex of n bytes into dst (2n + 1 bytes). */
void resp_hexify(char *dst, const unsigned char *src, size_t n);
/* Appends {"ok":false,"error":msg}. */
int resp_put_fail(struct bn_buf *out, const char *msg);
/* Appends a jansson object (consumed; NULL = BN_ENOMEM) as the result. */
int resp_put_json(struct bn_buf *out, json_t *o);
/*
 * Parses params (len bytes, at most BN_RESP_PARAMS_MAX) into a JSON object (an empty one
 * when there are none). On bad input writes the failure result ("params:LINE:COL: why") to
 * out and returns BN_EINVAL; BN_ENOMEM when out of memory.
 */
int resp_parse_params(const char *params, size_t len, json_t **obj, struct bn_buf *out);

#endif
