/*
 * api_json.c - request bodies: jansson parses, this file holds them to the API's limits
 * (size, depth, value count, string length) and reads typed fields with errors that name the
 * field. Every refusal says what, where (line:column or field) and why.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "manager/api_int.h"
#include "bannin/error.h"
#include "bannin/limits.h"

int
api_error_set(struct api_error *err, int status, const char *code, const char *field,
              const char *fmt, ...)
{
    if (!err)
        return BN_EINVAL;
    err->status = status;
    snprintf(err->code, sizeof(err->code), "%s", code);
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return BN_EINVAL;
}

/* Finds where nesting first passes the limit, outside strings; 0 when it never does. */
static size_t
depth_exceeded_at(const char *p, size_t n, unsigned max, unsigned long *line,
                  unsigned long *col)
{
    unsigned depth = 0;
    int in_str = 0, esc = 0;
    *line = 1;
    *col = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        (*col)++;
        if (c == '\n') {
            (*line)++;
            *col = 0;
        }
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return i + 1;
        } else if (c == ']' || c == '}') {
            if (depth > 0)
                depth--;
        }
    }
    return 0;
}

struct walk {
    size_t values;
    struct api_error *err;
};

static int
walk_value(const json_t *v, unsigned depth, struct walk *w, const char *where)
{
    if (++w->values > BN_API_JSON_VALUES_MAX)
        return api_error_set(w->err, 413, "body_too_large", where,
                             "body has more than %u values", (unsigned)BN_API_JSON_VALUES_MAX);
    if (depth > BN_API_JSON_DEPTH_MAX)
        return api_error_set(w->err, 400, "invalid_json", where,
                             "body is nested deeper than %u levels",
                             (unsigned)BN_API_JSON_DEPTH_MAX);
    if (json_is_string(v)) {
        if (json_string_length(v) > BN_API_STRING_MAX)
            return api_error_set(w->err, 413, "body_too_large", where,
                                 "a string is longer than %u bytes",
                                 (unsigned)BN_API_STRING_MAX);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            if (walk_value(c, depth + 1, w, depth == 0 ? k : where) < 0)
                return BN_EINVAL;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            if (walk_value(c, depth + 1, w, where) < 0)
                return BN_EINVAL;
        }
    }
    return 0;
}

json_t *
api_body_parse(const char *p, size_t n, size_t max, struct api_error *err)
{
    if (n > max) {
        api_error_set(err, 413, "body_too_large", NULL, "body has %zu bytes, the limit is %zu",
                      n, max);
        return NULL;
    }
    if (n == 0) {
        api_error_set(err, 400, "invalid_json", NULL, "body is empty: a JSON object is expected");
        return NULL;
    }
    unsigned long line, col;
    if (depth_exceeded_at(p, n, BN_API_JSON_DEPTH_MAX, &line, &col)) {
        api_error_set(err, 400, "invalid_json", NULL,
                      "body:%lu:%lu: nested deeper than %u levels", line, col,
                      (unsigned)BN_API_JSON_DEPTH_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        api_error_set(err, 400, "invalid_json", NULL, "body:%d:%d: %s", je.line, je.column,
                      je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        api_error_set(err, 400, "invalid_json", NULL, "body must be a JSON object");
        return NULL;
    }
    struct walk w = {0, err};
    if (walk_value(j, 1, &w, "") < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

int
api_body_keys(const json_t *obj, const char *const *allowed, struct api_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        int ok = 0;
        for (size_t i = 0; allowed[i]; i++) {
            if (strcmp(k, allowed[i]) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            char list[200] = "";
            size_t off = 0;
            for (size_t i = 0; allowed[i] && off < sizeof(list); i++) {
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                 allowed[i]);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return api_error_set(err, 400, "unknown_field", k,
                                 "unknown field '%.64s' (known: %s)", k, list);
        }
    }
    return 0;
}

int
api_body_str(const json_t *obj, const char *key, int required, size_t maxlen, const char **out,
             struct api_error *err)
{
    *out = NULL;
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return api_error_set(err, 400, "missing_field", key, "field '%s' is required", key);
        return 0;
    }
    if (!json_is_string(v))
        return api_error_set(err, 400, "invalid_field", key, "field '%s' must be a string",
                             key);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0)
        return api_error_set(err, 400, "invalid_field", key, "field '%s' must not be empty",
                             key);
    if (n > maxlen)
        return api_error_set(err, 400, "invalid_field", key,
                             "field '%s' has %zu bytes, at most %zu are allowed", key, n,
                             maxlen);
    if (strlen(s) != n)
        return api_error_set(err, 400, "invalid_field", key, "field '%s' contains a NUL byte",
                             key);
    *out = s;
    return 0;
}

int
api_body_int(const json_t *obj, const char *key, int required, int64_t min, int64_t max,
             int64_t *out, struct api_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return api_error_set(err, 400, "missing_field", key, "field '%s' is required", key);
        return 0; /* *out keeps the caller's default */
    }
    if (!json_is_integer(v))
        return api_error_set(err, 400, "invalid_field", key, "field '%s' must be an integer",
                             key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return api_error_set(err, 400, "invalid_field", key,
                             "field '%s' is %" PRId64 ", it must be in %" PRId64 "..%" PRId64,
                             key, (int64_t)x, min, max);
    *out = (int64_t)x;
    return 0;
}

int
api_body_bool(const json_t *obj, const char *key, int required, int *out, struct api_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        if (required)
            return api_error_set(err, 400, "missing_field", key, "field '%s' is required", key);
        return 0;
    }
    if (!json_is_boolean(v))
        return api_error_set(err, 400, "invalid_field", key,
                             "field '%s' must be true or false", key);
    *out = json_is_true(v);
    return 0;
}
