/*
 * test_config.c - declarative config tables: defaults, every type, bounds, unit suffixes,
 * YAML loading (nested maps, file:line errors, bad YAML), dump round trip, allocation
 * failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/config.h"
#include "bannin/error.h"

struct demo_conf {
    bool verbose;
    int64_t workers;
    uint64_t queue_bytes;
    int64_t flush_ms;
    char *name;
    char *log_file;
    int level;
    int64_t offset;
};

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

static const struct bn_conf_def defs[] = {
    {"verbose", BN_CONF_BOOL, "false", 0, 0, NULL, true, offsetof(struct demo_conf, verbose),
     "print more"},
    {"engine.workers", BN_CONF_INT, "4", 1, 64, NULL, false, offsetof(struct demo_conf, workers),
     "matcher threads"},
    {"engine.queue.bytes", BN_CONF_SIZE, "1m", 4096, 1ll << 32, NULL, false,
     offsetof(struct demo_conf, queue_bytes), "queue size"},
    {"engine.flush", BN_CONF_DURATION, "5s", 0, 0, NULL, true, offsetof(struct demo_conf, flush_ms),
     "flush interval"},
    {"name", BN_CONF_STRING, "bannin", 0, 0, NULL, false, offsetof(struct demo_conf, name),
     "instance name"},
    {"log.file", BN_CONF_STRING, NULL, 0, 0, NULL, true, offsetof(struct demo_conf, log_file),
     "log file (null = stderr)"},
    {"log.level", BN_CONF_ENUM, "warn", 0, 0, levels, true, offsetof(struct demo_conf, level),
     "log level"},
    {"offset", BN_CONF_INT, "0", 0, 0, NULL, false, offsetof(struct demo_conf, offset),
     "unbounded signed"},
};
#define NDEFS BN_ARRAY_SIZE(defs)

static void
init(struct demo_conf *c)
{
    memset(c, 0, sizeof(*c));
    assert_int_equal(bn_conf_defaults(defs, NDEFS, c), 0);
}

static int
set(struct demo_conf *c, const char *k, const char *v, struct bn_diag *d)
{
    return bn_conf_set(defs, NDEFS, c, k, v, d);
}

static int
load(struct demo_conf *c, const char *yaml, struct bn_diag *d)
{
    return bn_conf_load_yaml_mem(defs, NDEFS, c, yaml, strlen(yaml), "test.yml", d);
}

static void
test_defaults(void **state)
{
    (void)state;
    struct demo_conf c;
    init(&c);
    assert_false(c.verbose);
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.queue_bytes, 1u << 20);
    assert_int_equal(c.flush_ms, 5000);
    assert_string_equal(c.name, "bannin");
    assert_null(c.log_file);
    assert_int_equal(c.level, 1);
    bn_conf_release(defs, NDEFS, &c);
    assert_null(c.name);

    /* A bad default is refused (it is a bug in the table). */
    static const struct bn_conf_def bad[] = {
        {"n", BN_CONF_INT, "100", 1, 10, NULL, false, 0, "x"},
    };
    int64_t v = 0;
    assert_int_equal(bn_conf_defaults(bad, 1, &v), BN_EINVAL);
}

static void
test_bool(void **state)
{
    (void)state;
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    const char *yes[] = {"true", "yes", "on", "1", "TRUE", "Yes"};
    const char *no[] = {"false", "no", "off", "0", "False"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(yes); i++) {
        c.verbose = false;
        assert_int_equal(set(&c, "verbose", yes[i], &d), 0);
        assert_true(c.verbose);
    }
    for (size_t i = 0; i < BN_ARRAY_SIZE(no); i++) {
        c.verbose = true;
        assert_int_equal(set(&c, "verbose", no[i], &d), 0);
        assert_false(c.verbose);
    }
    c.verbose = true;
    assert_int_equal(set(&c, "verbose", "maybe", &d), BN_EINVAL);
    assert_true(c.verbose); /* unchanged on error */
    assert_non_null(strstr(d.msg, "not a boolean"));
    assert_int_equal(set(&c, "verbose", "", &d), BN_EINVAL);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_int_bounds(void **state)
{
    (void)state;
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    assert_int_equal(set(&c, "engine.workers", "1", &d), 0);
    assert_int_equal(c.workers, 1);
    assert_int_equal(set(&c, "engine.workers", "64", &d), 0);
    assert_int_equal(c.workers, 64);
    assert_int_equal(set(&c, "engine.workers", "+8", &d), 0);
    assert_int_equal(c.workers, 8);
    assert_int_equal(set(&c, "engine.workers", "0", &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "out of range [1, 64]"));
    assert_int_equal(set(&c, "engine.workers", "65", &d), BN_EINVAL);
    assert_int_equal(set(&c, "engine.workers", "-1", &d), BN_EINVAL);
    assert_int_equal(set(&c, "engine.workers", "4x", &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "not an integer"));
    assert_int_equal(set(&c, "engine.workers", " 4", &d), BN_EINVAL);
    assert_int_equal(set(&c, "engine.workers", "0x10", &d), BN_EINVAL);
    assert_int_equal(set(&c, "engine.workers", "", &d), BN_EINVAL);
    assert_int_equal(set(&c, "engine.workers", "-", &d), BN_EINVAL);
    assert_int_equal(c.workers, 8);

    /* Unbounded: the whole int64 range, and no further. */
    assert_int_equal(set(&c, "offset", "-9223372036854775808", &d), 0);
    assert_true(c.offset == INT64_MIN);
    assert_int_equal(set(&c, "offset", "9223372036854775807", &d), 0);
    assert_true(c.offset == INT64_MAX);
    assert_int_equal(set(&c, "offset", "9223372036854775808", &d), BN_EINVAL);
    assert_int_equal(set(&c, "offset", "-9223372036854775809", &d), BN_EINVAL);
    assert_int_equal(set(&c, "offset", "99999999999999999999999", &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "64 bits"));
    assert_true(c.offset == INT64_MAX);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_size_suffixes(void **state)
{
    (void)state;
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    static const struct {
        const char *text;
        uint64_t want;
    } ok[] = {
        {"4096", 4096},     {"8k", 8192},     {"8K", 8192},       {"8kb", 8192},
        {"8KiB", 8192},     {"2m", 2u << 20}, {"2 MB", 2u << 20}, {"1g", 1ull << 30},
        {"4g", 4ull << 30}, {"5000b", 5000},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(ok); i++) {
        assert_int_equal(set(&c, "engine.queue.bytes", ok[i].text, &d), 0);
        assert_true(c.queue_bytes == ok[i].want);
    }
    const char *bad[] = {"4t",
                         "1x",
                         "k",
                         "-1k",
                         "1.5m",
                         "",
                         "1 k b",
                         "4097g",
                         "99999999999999999999g",
                         "18446744073709551615g"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(bad); i++) {
        assert_int_not_equal(set(&c, "engine.queue.bytes", bad[i], &d), 0);
        assert_int_equal(d.code, BN_EINVAL);
    }
    assert_int_equal(set(&c, "engine.queue.bytes", "4095", &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "out of range"));
    assert_int_equal(set(&c, "engine.queue.bytes", "5g", &d), BN_EINVAL);
    assert_int_equal(set(&c, "engine.queue.bytes", "1q", &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "unknown unit 'q'"));
    assert_true(c.queue_bytes == 5000);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_duration_suffixes(void **state)
{
    (void)state;
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    static const struct {
        const char *text;
        int64_t want;
    } ok[] = {
        {"250", 250},    {"250ms", 250},   {"3s", 3000},    {"2m", 120000}, {"2min", 120000},
        {"1h", 3600000}, {"1d", 86400000}, {"10 S", 10000}, {"0", 0},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(ok); i++) {
        assert_int_equal(set(&c, "engine.flush", ok[i].text, &d), 0);
        assert_true(c.flush_ms == ok[i].want);
    }
    const char *bad[] = {"-1s", "1w", "s", "1.5h", "", "106751991167301d", "1sec"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(bad); i++)
        assert_int_equal(set(&c, "engine.flush", bad[i], &d), BN_EINVAL);
    assert_int_equal(c.flush_ms, 0);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_string_enum(void **state)
{
    (void)state;
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    assert_int_equal(set(&c, "name", "edge-1", &d), 0);
    assert_string_equal(c.name, "edge-1");
    assert_int_equal(set(&c, "name", "", &d), 0);
    assert_string_equal(c.name, "");
    assert_int_equal(set(&c, "log.level", "DEBUG", &d), 0);
    assert_int_equal(c.level, 3);
    assert_int_equal(set(&c, "log.level", "trace", &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "error, warn, info, debug"));
    assert_int_equal(c.level, 3);

    /* Unknown key: BN_ENOTFOUND; the caller's position in d is kept. */
    bn_diag_set(&d, 0, "<command line>", 3, 0, "%s", "");
    assert_int_equal(set(&c, "nmae", "x", &d), BN_ENOTFOUND);
    assert_string_equal(d.file, "<command line>");
    assert_int_equal(d.line, 3);
    assert_non_null(strstr(d.msg, "unknown key 'nmae'"));
    assert_int_equal(set(&c, NULL, "x", NULL), BN_EINVAL);
    assert_int_equal(set(&c, "name", NULL, NULL), BN_EINVAL);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_yaml_nested(void **state)
{
    (void)state;
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    const char *y = "# comment\n"
                    "verbose: yes\n"
                    "engine:\n"
                    "  workers: 16\n"
                    "  queue:\n"
                    "    bytes: 64k\n"
                    "  flush: 2m\n"
                    "name: 'edge \"1\"'\n"
                    "log.level: info\n"
                    "log: {file: /var/log/bannin.log}\n";
    assert_int_equal(load(&c, y, &d), 0);
    assert_int_equal(d.code, 0);
    assert_true(c.verbose);
    assert_int_equal(c.workers, 16);
    assert_int_equal(c.queue_bytes, 65536);
    assert_int_equal(c.flush_ms, 120000);
    assert_string_equal(c.name, "edge \"1\"");
    assert_int_equal(c.level, 2);
    assert_string_equal(c.log_file, "/var/log/bannin.log");

    /* null clears a string; "null" quoted is a string. */
    assert_int_equal(load(&c, "log:\n  file: ~\nname: \"null\"\n", &d), 0);
    assert_null(c.log_file);
    assert_string_equal(c.name, "null");

    /* Empty documents set nothing. */
    assert_int_equal(load(&c, "", &d), 0);
    assert_int_equal(load(&c, "# only a comment\n", &d), 0);
    assert_int_equal(load(&c, "---\n", &d), 0);
    assert_int_equal(c.workers, 16);
    bn_conf_release(defs, NDEFS, &c);
}

/* Loads y into a fresh config and checks the error: code, line and a message fragment. */
static void
expect_error(const char *y, int code, unsigned long line, const char *fragment)
{
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    int rc = load(&c, y, &d);
    if (rc != code || d.line != line || !strstr(d.msg, fragment)) {
        char buf[1024];
        print_error("yaml <<%s>>: rc %d want %d, got '%s' want line %lu and '%s'\n", y, rc, code,
                    bn_diag_format(&d, buf, sizeof(buf)), line, fragment);
        fail();
    }
    assert_string_equal(d.file, "test.yml");
    assert_int_equal(d.code, code);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_yaml_errors(void **state)
{
    (void)state;
    expect_error("verbose: true\nengine:\n  wrokers: 3\n", BN_ENOTFOUND, 3,
                 "unknown key 'engine.wrokers'");
    expect_error("verbose: true\n\nfoo:\n  bar: 1\n", BN_ENOTFOUND, 3, "unknown section 'foo'");
    expect_error("engine: 4\n", BN_EINVAL, 1, "'engine' is a section");
    expect_error("engine:\n  workers: 100\n", BN_EINVAL, 2, "out of range");
    expect_error("engine:\n  workers: [1, 2]\n", BN_EINVAL, 2, "not a list");
    expect_error("engine:\n  workers:\n", BN_EINVAL, 2, "needs a value");
    expect_error("verbose: true\nverbose: false\n", BN_EINVAL, 2, "set twice (first on line 1)");
    expect_error("- a\n- b\n", BN_EINVAL, 1, "must be a map");
    expect_error("just text\n", BN_EINVAL, 1, "must be a map");
    expect_error("? [a, b]\n: 1\n", BN_EINVAL, 1, "plain names");
    expect_error("verbose: true\n  bad indent: 1\n", BN_EPARSE, 2, "bad YAML");
    expect_error("name: \"unterminated\n", BN_EPARSE, 2, "bad YAML");
    expect_error("verbose: [\n", BN_EPARSE, 2, "bad YAML");
    expect_error("verbose: *nosuch\n", BN_EPARSE, 1, "bad YAML");
    expect_error("verbose: true\n---\nname: x\n", BN_EINVAL, 3, "second one");
    expect_error("log:\n  level: loud\n", BN_EINVAL, 2, "not one of");
    /* Columns point at the value. */
    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    assert_int_equal(load(&c, "engine:\n  flush:   7x\n", &d), BN_EINVAL);
    assert_int_equal(d.line, 2);
    assert_int_equal(d.col, 12);
    bn_conf_release(defs, NDEFS, &c);

    /* Deep nesting stops with a limit, not a stack overflow. */
    char deep[4096] = "";
    size_t off = 0;
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(deep + off, sizeof(deep) - off, "%*sengine:\n", i * 2, "");
    init(&c);
    assert_int_not_equal(load(&c, deep, &d), 0);
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_yaml_file(void **state)
{
    (void)state;
    char path[] = "/tmp/bn_conf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *y = "engine:\n  workers: 2\n  flush: 1h\n";
    assert_int_equal(write(fd, y, strlen(y)), (ssize_t)strlen(y));
    close(fd);

    struct demo_conf c;
    struct bn_diag d;
    init(&c);
    assert_int_equal(bn_conf_load_yaml(defs, NDEFS, &c, path, &d), 0);
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.flush_ms, 3600000);
    unlink(path);
    int rc = bn_conf_load_yaml(defs, NDEFS, &c, path, &d);
    assert_true(rc < 0);
    assert_string_equal(d.file, path);
    assert_non_null(strstr(d.msg, "cannot open"));
    bn_conf_release(defs, NDEFS, &c);
}

static void
test_dump_roundtrip(void **state)
{
    (void)state;
    struct demo_conf a, b;
    struct bn_diag d;
    init(&a);
    assert_int_equal(load(&a,
                          "verbose: on\nengine: {workers: 7, flush: 90s, queue.bytes: 3m}\n"
                          "name: \"tab\\there \\\"q\\\" \\\\ #x\"\nlog: {level: debug}\n"
                          "offset: -12\n",
                          &d),
                     0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    bn_conf_dump(defs, NDEFS, &a, f);
    fclose(f);
    assert_non_null(strstr(text, "engine.flush: 90s\n"));
    assert_non_null(strstr(text, "engine.queue.bytes: 3m\n"));
    assert_non_null(strstr(text, "# matcher threads [integer 1..64; default 4]\n"));
    assert_non_null(strstr(text, "log.file: null\n"));

    init(&b);
    if (load(&b, text, &d) != 0) {
        char buf[1024];
        print_error("%s\n%s\n", text, bn_diag_format(&d, buf, sizeof(buf)));
        fail();
    }
    assert_int_equal(a.verbose, b.verbose);
    assert_int_equal(a.workers, b.workers);
    assert_true(a.queue_bytes == b.queue_bytes);
    assert_int_equal(a.flush_ms, b.flush_ms);
    assert_string_equal(a.name, b.name);
    assert_null(b.log_file);
    assert_int_equal(a.level, b.level);
    assert_int_equal(a.offset, b.offset);
    free(text);
    bn_conf_release(defs, NDEFS, &a);
    bn_conf_release(defs, NDEFS, &b);
}

/* Every allocation in turn fails: each call either succeeds or reports BN_ENOMEM, never leaks. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    const char *y = "name: a\nlog: {file: /x, level: info}\nengine: {workers: 3}\n";
    bool succeeded = false;
    for (unsigned long i = 1; i < 200 && !succeeded; i++) {
        struct demo_conf c;
        memset(&c, 0, sizeof(c));
        struct bn_diag d;
        bn_alloc_fail_after(i);
        int rc = bn_conf_defaults(defs, NDEFS, &c);
        if (rc == 0)
            rc = load(&c, y, &d);
        bn_alloc_fail_after(0);
        if (rc == 0) {
            succeeded = true;
            assert_string_equal(c.log_file, "/x");
        } else {
            assert_int_equal(rc, BN_ENOMEM);
        }
        bn_conf_release(defs, NDEFS, &c);
    }
    assert_true(succeeded);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_bool),
        cmocka_unit_test(test_int_bounds),        cmocka_unit_test(test_size_suffixes),
        cmocka_unit_test(test_duration_suffixes), cmocka_unit_test(test_string_enum),
        cmocka_unit_test(test_yaml_nested),       cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_yaml_file),         cmocka_unit_test(test_dump_roundtrip),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
