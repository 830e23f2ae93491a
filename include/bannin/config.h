/*
 * config.h - declarative configuration tables (Redis standardConfig, nginx ngx_command_t).
 *
 * Each component declares its settings once: key, type, default, bounds, whether it can be
 * reloaded, and help text. The same table fills defaults, parses YAML files (nested maps
 * become dotted keys), rejects unknown keys with file:line, and prints --dump-config.
 */
#ifndef BANNIN_CONFIG_H
#define BANNIN_CONFIG_H

#include <stdio.h>

#include "bannin/common.h"
#include "bannin/diag.h"

enum bn_conf_type {
    BN_CONF_BOOL = 0,  /* bool */
    BN_CONF_INT,       /* int64_t within [min, max] */
    BN_CONF_SIZE,      /* uint64_t bytes, accepts k/m/g suffixes */
    BN_CONF_DURATION,  /* int64_t milliseconds, accepts ms/s/m/h/d suffixes */
    BN_CONF_STRING,    /* char * owned by the object (bn_conf_release frees it) */
    BN_CONF_ENUM,      /* int index into enum_values */
};

struct bn_conf_def {
    const char *key;
    enum bn_conf_type type;
    const char *def;                 /* default, as text */
    int64_t min, max;                /* INT, SIZE, DURATION bounds (0, 0 = unbounded) */
    const char *const *enum_values;  /* ENUM: NULL-terminated names */
    bool reloadable;
    size_t offset;                   /* offsetof() the target in the config object */
    const char *help;
};

/* Sets every key of obj to its default. 0 or an error (a bad default is a bug). */
int bn_conf_defaults(const struct bn_conf_def *defs, size_t n, void *obj);
/* Sets one key from text. 0, or BN_ENOTFOUND / BN_EINVAL with d (file/line left as given). */
int bn_conf_set(const struct bn_conf_def *defs, size_t n, void *obj, const char *key,
                const char *value, struct bn_diag *d);
/* Loads a YAML file of (nested) maps. Unknown keys and bad values are errors with file:line. */
int bn_conf_load_yaml(const struct bn_conf_def *defs, size_t n, void *obj, const char *path,
                      struct bn_diag *d);
/* Same as bn_conf_load_yaml for YAML text in memory (borrowed); name is used in d.
 * Used by tests and fuzz targets. */
int bn_conf_load_yaml_mem(const struct bn_conf_def *defs, size_t n, void *obj, const char *buf,
                          size_t len, const char *name, struct bn_diag *d);
/* Prints every key with its current value and help, as YAML. */
void bn_conf_dump(const struct bn_conf_def *defs, size_t n, const void *obj, FILE *out);
/* Frees owned strings of obj. */
void bn_conf_release(const struct bn_conf_def *defs, size_t n, void *obj);
/*
 * After a struct copy (*dst = *src), gives dst its own copy of every STRING key so the two
 * objects can be released separately. 0, or BN_ENOMEM (dst's strings released, all NULL).
 */
int bn_conf_copy_strings(const struct bn_conf_def *defs, size_t n, void *dst, const void *src);

#endif
