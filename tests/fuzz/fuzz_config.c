/*
 * fuzz_config.c - libFuzzer target for the YAML config loader (bn_conf_load_yaml_mem) and,
 * through it, every value parser (bool, int, size, duration, string, enum) and the dump.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bannin/config.h"

struct fuzz_conf {
    bool b;
    int64_t i;
    uint64_t size;
    int64_t dur;
    char *s;
    char *s2;
    int e;
    int64_t any;
};

static const char *const names[] = {"low", "medium", "high", NULL};

static const struct bn_conf_def defs[] = {
    {"b", BN_CONF_BOOL, "true", 0, 0, NULL, true, offsetof(struct fuzz_conf, b), "bool"},
    {"a.i", BN_CONF_INT, "3", -5, 100, NULL, false, offsetof(struct fuzz_conf, i), "int"},
    {"a.size", BN_CONF_SIZE, "1k", 0, 0, NULL, false, offsetof(struct fuzz_conf, size), "size"},
    {"a.b.dur", BN_CONF_DURATION, "1s", 10, 86400000, NULL, true, offsetof(struct fuzz_conf, dur),
     "duration"},
    {"s", BN_CONF_STRING, "x", 0, 0, NULL, false, offsetof(struct fuzz_conf, s), "string"},
    {"a.b.c.s2", BN_CONF_STRING, NULL, 0, 0, NULL, false, offsetof(struct fuzz_conf, s2), "s"},
    {"e", BN_CONF_ENUM, "low", 0, 0, names, false, offsetof(struct fuzz_conf, e), "enum"},
    {"any", BN_CONF_INT, "0", 0, 0, NULL, false, offsetof(struct fuzz_conf, any), "int"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_conf c;
    struct bn_diag d;
    memset(&c, 0, sizeof(c));
    if (bn_conf_defaults(defs, BN_ARRAY_SIZE(defs), &c) != 0)
        return 0;
    if (bn_conf_load_yaml_mem(defs, BN_ARRAY_SIZE(defs), &c, (const char *)data, size, "fuzz",
                              &d) == 0) {
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            bn_conf_dump(defs, BN_ARRAY_SIZE(defs), &c, f);
            fclose(f);
        }
    } else {
        char buf[1024];
        bn_diag_format(&d, buf, sizeof(buf));
    }
    bn_conf_release(defs, BN_ARRAY_SIZE(defs), &c);
    return 0;
}
