/*
 * test_mapping.c - the shipped mapping files (one record of each source kind -> expected
 * logsource, field names and ids), bad mapping files (file:line diagnostics), the logsource
 * taxonomy helper, the builder's key cache, its shape cache (records of a remembered key
 * sequence must come out exactly as a fresh builder makes them) and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/limits.h"
#include "bannin/mapping.h"
#include "bannin/record.h"
#include "detect/mapping_int.h"

static struct bn_mapping *g_map;
static struct bn_fieldtab *g_ft;

/* Field names rules would use: events must carry these ids. */
static const char *const g_fields[] = {
    "Image", "CommandLine", "EventID", "Channel", "Provider_Name", "Security_UserID",
    "NewProcessName", "ParentImage", "TargetObject", "EventType", "type", "a0", "exe",
    "message", "program", "query", "id.orig_h", "SubjectUserName", "User", "Computer",
};

static int
setup(void **state)
{
    (void)state;
    struct bn_diag d;
    char buf[1024];
    int rc = bn_mapping_load_default(&g_map, &d);
    if (rc) {
        fprintf(stderr, "load_default: %s\n", bn_diag_format(&d, buf, sizeof(buf)));
        return -1;
    }
    g_ft = bn_fieldtab_new();
    for (size_t i = 0; i < BN_ARRAY_SIZE(g_fields); i++) {
        uint32_t id;
        if (bn_fieldtab_intern(g_ft, g_fields[i], strlen(g_fields[i]), &id))
            return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    bn_mapping_free(g_map);
    bn_fieldtab_free(g_ft);
    return 0;
}

/* Builds a record from "key", "value" pairs (NULL-terminated); "#num:" prefix = number. */
static void
make_record(struct bn_record *r, const char *format, const char *const *kv)
{
    assert_int_equal(bn_record_init(r), 0);
    r->format = format;
    for (size_t i = 0; kv[i]; i += 2) {
        const char *v = kv[i + 1];
        enum bn_vtype t = BN_VT_STR;
        if (!strncmp(v, "#num:", 5)) {
            v += 5;
            t = BN_VT_NUM;
        }
        assert_int_equal(bn_record_add(r, kv[i], strlen(kv[i]), v, strlen(v), t), 0);
    }
}

/* Returns the first value named name (by mapped name), or NULL. */
static const struct bn_fval *
by_name(const struct bn_event *ev, const char *name)
{
    for (uint32_t i = 0; i < ev->nvals; i++)
        if (ev->vals[i].name_len == strlen(name) && !memcmp(ev->vals[i].name, name,
                                                            ev->vals[i].name_len))
            return &ev->vals[i];
    return NULL;
}

static void
want_value(const struct bn_event *ev, const char *name, const char *val)
{
    const struct bn_fval *v = by_name(ev, name);
    if (!v)
        fail_msg("no field '%s' in event", name);
    assert_int_equal(v->len, strlen(val));
    assert_memory_equal(v->s, val, v->len);
    uint32_t id = bn_fieldtab_lookup(g_ft, name, strlen(name));
    assert_int_equal(v->field, id);
    if (id != BN_FIELD_NONE) {
        const struct bn_fval *f = bn_event_first(ev, id);
        assert_non_null(f);
    }
}

static int
count_values(const struct bn_event *ev, const char *name)
{
    int n = 0;
    for (uint32_t i = 0; i < ev->nvals; i++)
        if (ev->vals[i].name_len == strlen(name) && !memcmp(ev->vals[i].name, name,
                                                            ev->vals[i].name_len))
            n++;
    return n;
}

static void
expect_ls(const struct bn_event *ev, const char *p, const char *c, const char *s)
{
    if (p) assert_non_null(ev->product), assert_string_equal(ev->product, p);
    else assert_null(ev->product);
    if (c) assert_non_null(ev->category), assert_string_equal(ev->category, c);
    else assert_null(ev->category);
    if (s) assert_non_null(ev->service), assert_string_equal(ev->service, s);
    else assert_null(ev->service);
    if (p || c || s) {
        const char *pp, *cc, *ss;
        assert_true(ev->ls_id < bn_mapping_ls_count(g_map));
        assert_int_equal(bn_mapping_ls_get(g_map, ev->ls_id, &pp, &cc, &ss), 0);
        assert_ptr_equal(pp, ev->product);
        assert_ptr_equal(cc, ev->category);
        assert_ptr_equal(ss, ev->service);
    }
}

/* Builds ev from kv with a fresh builder and checks every value got into the event. */
static struct bn_evbuilder *
build(struct bn_event *ev, struct bn_record *r, const char *format, const char *const *kv)
{
    make_record(r, format, kv);
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
    assert_non_null(b);
    assert_int_equal(bn_event_init(ev, bn_fieldtab_count(g_ft)), 0);
    assert_int_equal(bn_evbuilder_build(b, r, ev), 0);
    assert_ptr_equal(ev->rec, r);
    assert_true(ev->nvals >= r->n);
    return b;
}

static void
done(struct bn_evbuilder *b, struct bn_event *ev, struct bn_record *r)
{
    bn_evbuilder_free(b);
    bn_event_release(ev);
    bn_record_release(r);
}

static void
test_evtx_sysmon_process_creation(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "Event.#attributes.xmlns", "http://schemas.microsoft.com/win/2004/08/events/event",
        "Event.System.Provider.#attributes.Name", "Microsoft-Windows-Sysmon",
        "Event.System.EventID", "#num:1",
        "Event.System.TimeCreated.#attributes.SystemTime", "2025-11-26T05:11:27.927693Z",
        "Event.System.Channel", "Microsoft-Windows-Sysmon/Operational",
        "Event.System.Computer", "swachchhanda",
        "Event.System.Security.#attributes.UserID", "S-1-5-18",
        "Event.EventData.Image", "C:\\Users\\x\\GRB_NET.exe",
        "Event.EventData.CommandLine", "GRB_NET.exe -m:scan",
        "Event.EventData.ParentImage", "C:\\Windows\\System32\\cmd.exe",
        NULL};
    struct bn_record r;
    struct bn_event ev;
    struct bn_evbuilder *b = build(&ev, &r, "json", kv);
    expect_ls(&ev, "windows", "process_creation", "sysmon");
    want_value(&ev, "Image", "C:\\Users\\x\\GRB_NET.exe");
    want_value(&ev, "CommandLine", "GRB_NET.exe -m:scan");
    want_value(&ev, "EventID", "1");
    want_value(&ev, "Channel", "Microsoft-Windows-Sysmon/Operational");
    want_value(&ev, "Provider_Name", "Microsoft-Windows-Sysmon");
    want_value(&ev, "Security_UserID", "S-1-5-18");
    want_value(&ev, "Computer", "swachchhanda");
    want_value(&ev, "Event_xmlns", "http://schemas.microsoft.com/win/2004/08/events/event");
    assert_int_equal(by_name(&ev, "EventID")->type, BN_VT_NUM);
    assert_non_null(ev.host);
    assert_int_equal(ev.host_len, strlen("swachchhanda"));
    assert_memory_equal(ev.host, "swachchhanda", ev.host_len);
    assert_int_equal(ev.ts_ns, 1764133887927693000LL);
    /* A second build through the cache gives the same result. */
    assert_int_equal(bn_evbuilder_build(b, &r, &ev), 0);
    expect_ls(&ev, "windows", "process_creation", "sysmon");
    want_value(&ev, "Image", "C:\\Users\\x\\GRB_NET.exe");
    done(b, &ev, &r);
}

static void
test_evtx_security_4688_and_text(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "Event.System.EventID.#attributes.Qualifiers", "0",
        "Event.System.EventID.#text", "#num:4688",
        "Event.System.Channel", "Security",
        "Event.EventData.SubjectUserName", "alice",
        "Event.EventData.NewProcessName", "C:\\Windows\\System32\\whoami.exe",
        "Event.EventData.ParentProcessName", "C:\\Windows\\explorer.exe",
        "Event.EventData.CommandLine", "whoami /all",
        NULL};
    struct bn_record r;
    struct bn_event ev;
    struct bn_evbuilder *b = build(&ev, &r, "evtx", kv);
    expect_ls(&ev, "windows", "process_creation", "security");
    want_value(&ev, "EventID", "4688");
    want_value(&ev, "EventID_Qualifiers", "0");
    want_value(&ev, "Image", "C:\\Windows\\System32\\whoami.exe");
    want_value(&ev, "NewProcessName", "C:\\Windows\\System32\\whoami.exe");
    want_value(&ev, "ParentImage", "C:\\Windows\\explorer.exe");
    want_value(&ev, "User", "alice");
    want_value(&ev, "SubjectUserName", "alice");
    want_value(&ev, "CommandLine", "whoami /all");
    /* No time field in the record and none from the reader. */
    assert_int_equal(ev.ts_ns, INT64_MIN);
    done(b, &ev, &r);
}

static void
test_evtx_userdata_registry_other_channels(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const clear[] = {
        "Event.System.EventID", "#num:1102", "Event.System.Channel", "Security",
        "Event.UserData.LogFileCleared.SubjectUserName", "bob", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "json", clear);
    expect_ls(&ev, "windows", NULL, "security");
    want_value(&ev, "SubjectUserName", "bob");
    assert_null(by_name(&ev, "Image")); /* no aliases outside 4688 */
    done(b, &ev, &r);

    static const char *const del[] = {
        "Event.System.EventID", "#num:12",
        "Event.System.Channel", "Microsoft-Windows-Sysmon/Operational",
        "Event.EventData.EventType", "DeleteKey",
        "Event.EventData.TargetObject", "HKLM\\Software\\x", NULL};
    b = build(&ev, &r, "json", del);
    expect_ls(&ev, "windows", "registry_delete", "sysmon");
    done(b, &ev, &r);

    static const char *const add[] = {
        "Event.System.EventID", "#num:12",
        "Event.System.Channel", "Microsoft-Windows-Sysmon/Operational",
        "Event.EventData.EventType", "CreateKey", NULL};
    b = build(&ev, &r, "json", add);
    expect_ls(&ev, "windows", "registry_add", "sysmon");
    done(b, &ev, &r);

    static const char *const ps[] = {
        "Event.System.EventID", "#num:4104",
        "Event.System.Channel", "Microsoft-Windows-PowerShell/Operational",
        "Event.EventData.ScriptBlockText", "IEX", NULL};
    b = build(&ev, &r, "json", ps);
    expect_ls(&ev, "windows", "ps_script", "powershell");
    done(b, &ev, &r);

    static const char *const sched[] = {
        "Event.System.EventID", "#num:142",
        "Event.System.Channel", "Microsoft-Windows-TaskScheduler/Operational", NULL};
    b = build(&ev, &r, "json", sched);
    expect_ls(&ev, "windows", NULL, "taskscheduler");
    done(b, &ev, &r);

    static const char *const unknown_channel[] = {
        "Event.System.EventID", "#num:7", "Event.System.Channel", "Something/Odd", NULL};
    b = build(&ev, &r, "json", unknown_channel);
    expect_ls(&ev, "windows", NULL, NULL);
    done(b, &ev, &r);
}

static void
test_winlogbeat_and_flat(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const wlb[] = {
        "@timestamp", "2024-01-02T03:04:05.5Z",
        "winlog.channel", "Microsoft-Windows-Sysmon/Operational",
        "winlog.event_id", "1",
        "winlog.computer_name", "ws1",
        "winlog.provider_name", "Microsoft-Windows-Sysmon",
        "winlog.event_data.Image", "C:\\a.exe",
        "winlog.event_data.CommandLine", "a.exe -x",
        "host.name", "ws1.example", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "ndjson", wlb);
    expect_ls(&ev, "windows", "process_creation", "sysmon");
    want_value(&ev, "Image", "C:\\a.exe");
    want_value(&ev, "CommandLine", "a.exe -x");
    want_value(&ev, "EventID", "1");
    want_value(&ev, "Channel", "Microsoft-Windows-Sysmon/Operational");
    want_value(&ev, "Provider_Name", "Microsoft-Windows-Sysmon");
    assert_memory_equal(ev.host, "ws1", 3);
    assert_int_equal(ev.ts_ns, 1704164645500000000LL);
    done(b, &ev, &r);

    static const char *const flat[] = {
        "Channel", "Security", "EventID", "#num:4688", "Computer", "dc1",
        "NewProcessName", "C:\\Windows\\System32\\net.exe", NULL};
    b = build(&ev, &r, "ndjson", flat);
    expect_ls(&ev, "windows", "process_creation", "security");
    want_value(&ev, "Image", "C:\\Windows\\System32\\net.exe");
    done(b, &ev, &r);
}

static void
test_linux_agent(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const kv[] = {
        "Channel", "Linux-Sysmon/Operational", "EventID", "#num:1", "Computer", "web1",
        "Image", "/usr/bin/curl", "CommandLine", "curl http://x", "ParentImage", "/bin/bash",
        "UtcTime", "2024-05-06 07:08:09.123", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "ndjson", kv);
    expect_ls(&ev, "linux", "process_creation", NULL);
    want_value(&ev, "Image", "/usr/bin/curl");
    want_value(&ev, "ParentImage", "/bin/bash");
    assert_memory_equal(ev.host, "web1", 4);
    assert_int_equal(ev.ts_ns, 1714979289123000000LL);
    done(b, &ev, &r);

    static const char *const del[] = {
        "Channel", "Linux-Sysmon/Operational", "EventID", "23", "TargetFilename", "/tmp/x",
        NULL};
    b = build(&ev, &r, "ndjson", del);
    expect_ls(&ev, "linux", "file_delete", NULL);
    done(b, &ev, &r);
}

static void
test_auditd(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const kv[] = {
        "type", "SYSCALL", "type", "EXECVE", "type", "PATH", "serial", "#num:24287",
        "SYSCALL.arch", "c000003e", "SYSCALL.syscall", "59", "SYSCALL.exe", "/usr/bin/getcap",
        "SYSCALL.comm", "getcap", "SYSCALL.key", "exec",
        "EXECVE.argc", "3", "EXECVE.a0", "getcap", "EXECVE.a1", "-r", "EXECVE.a2", "/",
        "PATH.name", "/usr/bin/getcap", "PATH.name", "/lib64/ld-linux-x86-64.so.2",
        "node", "h1", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "auditd", kv);
    expect_ls(&ev, "linux", NULL, "auditd");
    want_value(&ev, "exe", "/usr/bin/getcap");
    want_value(&ev, "a0", "getcap");
    want_value(&ev, "comm", "getcap");
    want_value(&ev, "key", "exec");
    assert_int_equal(count_values(&ev, "type"), 3);
    assert_int_equal(count_values(&ev, "name"), 2);
    /* The three record types are values of the field "type", in order. */
    uint32_t tid = bn_fieldtab_lookup(g_ft, "type", 4);
    const struct bn_fval *v = bn_event_first(&ev, tid);
    assert_non_null(v);
    assert_memory_equal(v->s, "SYSCALL", 7);
    v = bn_event_next(&ev, v);
    assert_memory_equal(v->s, "EXECVE", 6);
    v = bn_event_next(&ev, v);
    assert_memory_equal(v->s, "PATH", 4);
    assert_null(bn_event_next(&ev, v));
    assert_memory_equal(ev.host, "h1", 2);
    done(b, &ev, &r);

    /* A mapping may also derive the type values from the key prefixes. */
    static const char *const emit =
        "source: a\ndetect: [ {format: auditd} ]\nproduct: linux\nservice: auditd\n"
        "record_type_field: type\n";
    struct bn_mapping *m;
    struct bn_diag d;
    assert_int_equal(bn_mapping_load_mem(&m, emit, strlen(emit), "emit.yml", &d), 0);
    static const char *const kv2[] = {"SYSCALL.exe", "/bin/x", "SYSCALL.comm", "x",
                                      "EXECVE.a0", "x", "PATH.name", "/a", "PATH.name", "/b",
                                      NULL};
    make_record(&r, "auditd", kv2);
    b = bn_evbuilder_new(m, g_ft);
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    assert_int_equal(bn_evbuilder_build(b, &r, &ev), 0);
    assert_int_equal(count_values(&ev, "type"), 3);
    assert_int_equal(ev.nvals, 8);
    want_value(&ev, "type", "SYSCALL");
    want_value(&ev, "exe", "/bin/x");
    done(b, &ev, &r);
    bn_mapping_free(m);
}

static void
test_syslog_journal(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const sshd[] = {
        "host", "combo", "program", "sshd", "pid", "1234",
        "message", "Failed password for root from 1.2.3.4", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "syslog", sshd);
    expect_ls(&ev, "linux", NULL, "sshd");
    want_value(&ev, "message", "Failed password for root from 1.2.3.4");
    done(b, &ev, &r);

    static const char *const kern[] = {"host", "combo", "program", "kernel", "message", "x",
                                       NULL};
    b = build(&ev, &r, "syslog", kern);
    expect_ls(&ev, "linux", NULL, "syslog");
    done(b, &ev, &r);

    static const char *const jr[] = {
        "__REALTIME_TIMESTAMP", "1700000000000000", "_HOSTNAME", "box",
        "SYSLOG_IDENTIFIER", "sudo", "MESSAGE", "alice : TTY=pts/0 ; COMMAND=/bin/sh", NULL};
    b = build(&ev, &r, "journal", jr);
    expect_ls(&ev, "linux", NULL, "sudo");
    want_value(&ev, "program", "sudo");
    want_value(&ev, "message", "alice : TTY=pts/0 ; COMMAND=/bin/sh");
    assert_memory_equal(ev.host, "box", 3);
    done(b, &ev, &r);
}

static void
test_zeek(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const dns[] = {
        "_path", "dns", "ts", "#num:1364481363.243", "uid", "CxYz", "id.orig_h", "10.0.0.1",
        "id.resp_p", "#num:53", "query", "evil.example", "qtype_name", "A", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "ndjson", dns);
    expect_ls(&ev, "zeek", NULL, "dns");
    want_value(&ev, "query", "evil.example");
    want_value(&ev, "id.orig_h", "10.0.0.1");
    assert_int_equal(ev.ts_ns, 1364481363243000000LL);
    done(b, &ev, &r);

    static const char *const http[] = {
        "ts", "#num:1.5", "uid", "C1", "id.orig_h", "10.0.0.2", "method", "GET", "uri", "/a",
        NULL};
    b = build(&ev, &r, "ndjson", http);
    expect_ls(&ev, "zeek", NULL, "http");
    done(b, &ev, &r);
}

static void
test_unknown_and_override(void **state)
{
    (void)state;
    struct bn_record r;
    struct bn_event ev;
    static const char *const odd[] = {"foo", "1", "bar.baz", "2", NULL};
    struct bn_evbuilder *b = build(&ev, &r, "ndjson", odd);
    expect_ls(&ev, NULL, NULL, NULL);
    assert_int_equal(ev.ls_id, BN_FIELD_NONE);
    assert_int_equal(ev.nvals, 2);
    want_value(&ev, "bar.baz", "2");
    assert_int_equal(by_name(&ev, "foo")->field, BN_FIELD_NONE);
    done(b, &ev, &r);

    /* A known triple keeps the mapping's id. */
    static const char *const known[] = {"logsource.product", "linux", "logsource.category",
                                        "process_creation", "Image", "/bin/x", NULL};
    b = build(&ev, &r, "ndjson", known);
    expect_ls(&ev, "linux", "process_creation", NULL);
    want_value(&ev, "Image", "/bin/x");
    done(b, &ev, &r);

    static const char *const novel[] = {"logsource.product", "aws", "logsource.service",
                                        "cloudtrail", "eventName", "ConsoleLogin", NULL};
    b = build(&ev, &r, "ndjson", novel);
    assert_string_equal(ev.product, "aws");
    assert_string_equal(ev.service, "cloudtrail");
    assert_null(ev.category);
    assert_int_equal(ev.ls_id, BN_FIELD_NONE);
    done(b, &ev, &r);
}

static void
test_logsource_applies(void **state)
{
    (void)state;
    assert_true(bn_logsource_applies("windows", "process_creation", NULL, "windows",
                                     "process_creation", "sysmon"));
    assert_true(bn_logsource_applies("windows", NULL, "sysmon", "windows", "process_creation",
                                     "sysmon"));
    assert_false(bn_logsource_applies("windows", NULL, "security", "windows",
                                      "process_creation", "sysmon"));
    assert_false(bn_logsource_applies("linux", "process_creation", NULL, "windows",
                                      "process_creation", "sysmon"));
    assert_true(bn_logsource_applies("windows", "registry_event", NULL, "windows",
                                     "registry_set", "sysmon"));
    assert_false(bn_logsource_applies("windows", "registry_set", NULL, "windows",
                                      "registry_add", "sysmon"));
    assert_true(bn_logsource_applies("linux", NULL, "syslog", "linux", NULL, "sshd"));
    assert_false(bn_logsource_applies("linux", NULL, "syslog", "linux", NULL, "auditd"));
    assert_true(bn_logsource_applies("linux", NULL, "auth", "linux", NULL, "sudo"));
    assert_false(bn_logsource_applies("linux", NULL, "auth", "linux", NULL, "cron"));
    assert_false(bn_logsource_applies("windows", NULL, NULL, NULL, NULL, NULL));
    assert_true(bn_logsource_applies(NULL, NULL, NULL, NULL, NULL, NULL));
}

/* Many distinct keys: the cache starts over between records and stays correct. */
static void
test_cache_reset(void **state)
{
    (void)state;
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
    struct bn_event ev;
    struct bn_record r;
    char key[64];
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    assert_int_equal(bn_record_init(&r), 0);
    r.format = "ndjson";
    for (int rec = 0; rec < 40; rec++) {
        bn_record_reset(&r);
        assert_int_equal(bn_record_add(&r, "Channel", 7, "Security", 8, BN_VT_STR), 0);
        assert_int_equal(bn_record_add(&r, "EventID", 7, "4688", 4, BN_VT_NUM), 0);
        for (int i = 0; i < 4000; i++) {
            int n = snprintf(key, sizeof(key), "k%d_%d", rec, i);
            assert_int_equal(bn_record_add_copy(&r, key, (size_t)n, "v", 1, BN_VT_STR), 0);
        }
        assert_int_equal(bn_evbuilder_build(b, &r, &ev), 0);
        assert_int_equal(ev.nvals, 4002);
        expect_ls(&ev, "windows", "process_creation", "security");
        snprintf(key, sizeof(key), "k%d_3999", rec);
        assert_non_null(by_name(&ev, key));
    }
    bn_record_release(&r);
    bn_event_release(&ev);
    bn_evbuilder_free(b);
}

/* --- shape cache ---------------------------------------------------------------------------- */

/* Like make_record, but keys and values are copied: no two records share key addresses. */
static void
make_record_copy(struct bn_record *r, const char *format, const char *const *kv)
{
    assert_int_equal(bn_record_init(r), 0);
    r->format = format;
    for (size_t i = 0; kv[i]; i += 2) {
        const char *v = kv[i + 1];
        enum bn_vtype t = BN_VT_STR;
        if (!strncmp(v, "#num:", 5)) {
            v += 5;
            t = BN_VT_NUM;
        }
        if (!strcmp(v, "#null")) {
            assert_int_equal(bn_record_add_copy(r, kv[i], strlen(kv[i]), NULL, 0, BN_VT_NULL),
                             0);
            continue;
        }
        assert_int_equal(bn_record_add_copy(r, kv[i], strlen(kv[i]), v, strlen(v), t), 0);
    }
}

static void
str_same(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

/* Checks that a (from a long-lived builder) is value for value what b (a fresh one) is. */
static void
ev_same(const struct bn_event *a, const struct bn_event *b)
{
    assert_ptr_equal(a->rec, b->rec);
    assert_int_equal(a->nfields, b->nfields);
    assert_int_equal(a->nvals, b->nvals);
    for (uint32_t i = 0; i < a->nvals; i++) {
        const struct bn_fval *x = &a->vals[i], *y = &b->vals[i];
        assert_int_equal(x->len, y->len);
        if (!x->s || !y->s)
            assert_ptr_equal(x->s, y->s);
        else
            assert_memory_equal(x->s, y->s, x->len);
        assert_int_equal(x->field, y->field);
        assert_int_equal(x->next, y->next);
        assert_int_equal(x->kv, y->kv);
        assert_int_equal(x->type, y->type);
        assert_int_equal(x->name_len, y->name_len);
        assert_memory_equal(x->name, y->name, x->name_len);
    }
    for (uint32_t f = 0; f < a->nfields; f++)
        assert_int_equal(a->first[f], b->first[f]);
    str_same(a->product, b->product);
    str_same(a->category, b->category);
    str_same(a->service, b->service);
    assert_int_equal(a->ls_id, b->ls_id);
    assert_true(a->ts_ns == b->ts_ns);
    assert_ptr_equal(a->host, b->host);
    assert_int_equal(a->host_len, b->host_len);
}

/* Builds r with b into ev and checks it against a fresh builder of mapping m. */
static void
build_check(const struct bn_mapping *m, struct bn_evbuilder *b, const struct bn_record *r,
            struct bn_event *ev)
{
    struct bn_evbuilder *fresh = bn_evbuilder_new(m, g_ft);
    struct bn_event ref;
    assert_non_null(fresh);
    assert_int_equal(bn_event_init(&ref, ev->nfields), 0);
    assert_int_equal(bn_evbuilder_build(b, r, ev), 0);
    assert_int_equal(bn_evbuilder_build(fresh, r, &ref), 0);
    ev_same(ev, &ref);
    bn_event_release(&ref);
    bn_evbuilder_free(fresh);
}

static struct bn__evbuilder_stats
stats(const struct bn_evbuilder *b)
{
    struct bn__evbuilder_stats st;
    bn__evbuilder_stats(b, &st);
    return st;
}

/* The same keys again: the shape is found, nothing is decided again, values are this
 * record's; another value of a deciding key changes the logsource with the same shape. */
static void
test_shape_reuse(void **state)
{
    (void)state;
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
    struct bn_event ev;
    struct bn_record r1, r2, r3, r4;
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    static const char *const a[] = {
        "Channel", "Linux-Sysmon/Operational", "EventID", "#num:1", "Computer", "web1",
        "Image", "/usr/bin/curl", "CommandLine", "curl http://x", "UtcTime",
        "2024-05-06 07:08:09.123", NULL};
    static const char *const a2[] = {
        "Channel", "Linux-Sysmon/Operational", "EventID", "#num:1", "Computer", "db22",
        "Image", "/usr/bin/wget", "CommandLine", "wget -q http://y", "UtcTime",
        "2024-05-06 07:08:10.000", NULL};
    static const char *const del[] = {
        "Channel", "Linux-Sysmon/Operational", "EventID", "#num:23", "Computer", "web1",
        "Image", "/usr/bin/rm", "CommandLine", "rm /tmp/x", "UtcTime",
        "2024-05-06 07:08:11.000", NULL};
    make_record_copy(&r1, "ndjson", a);
    make_record_copy(&r2, "ndjson", a2);
    make_record_copy(&r3, "ndjson", del);
    make_record_copy(&r4, "ndjson", a);

    build_check(g_map, b, &r1, &ev);
    expect_ls(&ev, "linux", "process_creation", NULL);
    struct bn__evbuilder_stats st = stats(b);
    assert_int_equal(st.shape_misses, 1);
    assert_int_equal(st.shape_hits, 0);
    assert_int_equal(st.plans, 1);

    build_check(g_map, b, &r2, &ev);
    expect_ls(&ev, "linux", "process_creation", NULL);
    want_value(&ev, "Image", "/usr/bin/wget");
    want_value(&ev, "CommandLine", "wget -q http://y");
    assert_memory_equal(ev.host, "db22", 4);
    assert_int_equal(ev.ts_ns, 1714979290000000000LL);
    st = stats(b);
    assert_int_equal(st.shape_misses, 1);
    assert_int_equal(st.shape_hits, 1);
    assert_int_equal(st.decisions, 1); /* Channel and EventID unchanged */
    assert_int_equal(st.plans, 1);

    /* EventID 23: same keys, other logsource */
    build_check(g_map, b, &r3, &ev);
    expect_ls(&ev, "linux", "file_delete", NULL);
    want_value(&ev, "Image", "/usr/bin/rm");
    st = stats(b);
    assert_int_equal(st.shape_hits, 2);
    assert_int_equal(st.decisions, 2);

    /* and back */
    build_check(g_map, b, &r4, &ev);
    expect_ls(&ev, "linux", "process_creation", NULL);
    want_value(&ev, "Image", "/usr/bin/curl");
    st = stats(b);
    assert_int_equal(st.shape_misses, 1);
    assert_int_equal(st.shape_hits, 3);
    assert_int_equal(st.decisions, 3);

    bn_record_release(&r1);
    bn_record_release(&r2);
    bn_record_release(&r3);
    bn_record_release(&r4);
    bn_event_release(&ev);
    bn_evbuilder_free(b);
}

/* Keys of the same lengths but other bytes, one key more or less, another format: each is
 * another shape and maps as such. */
static void
test_shape_change(void **state)
{
    (void)state;
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
    struct bn_event ev;
    struct bn_record r;
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    static const char *const base[] = {"Channel", "Security", "EventID", "#num:4688",
                                       "NewProcessName", "C:\\a.exe", "User", "u", NULL};
    /* same key lengths (same fingerprint), one byte differs */
    static const char *const near[] = {"Channel", "Security", "EventID", "#num:4688",
                                       "NewProcessNamf", "C:\\a.exe", "User", "u", NULL};
    static const char *const more[] = {"Channel", "Security", "EventID", "#num:4688",
                                       "NewProcessName", "C:\\a.exe", "User", "u",
                                       "CommandLine", "a.exe /x", NULL};
    static const char *const fewer[] = {"Channel", "Security", "EventID", "#num:4688",
                                        "NewProcessName", "C:\\a.exe", NULL};

    make_record_copy(&r, "ndjson", base);
    build_check(g_map, b, &r, &ev);
    expect_ls(&ev, "windows", "process_creation", "security");
    want_value(&ev, "Image", "C:\\a.exe"); /* 4688 alias */
    want_value(&ev, "NewProcessName", "C:\\a.exe");
    bn_record_release(&r);

    make_record_copy(&r, "ndjson", near);
    build_check(g_map, b, &r, &ev);
    assert_null(by_name(&ev, "NewProcessName"));
    assert_null(by_name(&ev, "Image"));
    assert_non_null(by_name(&ev, "NewProcessNamf"));
    assert_int_equal(stats(b).shape_misses, 2);
    bn_record_release(&r);

    make_record_copy(&r, "ndjson", more);
    build_check(g_map, b, &r, &ev);
    want_value(&ev, "CommandLine", "a.exe /x");
    want_value(&ev, "Image", "C:\\a.exe");
    assert_int_equal(ev.nvals, 6);
    bn_record_release(&r);

    make_record_copy(&r, "ndjson", fewer);
    build_check(g_map, b, &r, &ev);
    assert_null(by_name(&ev, "User"));
    assert_int_equal(ev.nvals, 4);
    assert_int_equal(stats(b).shape_misses, 4);
    assert_int_equal(stats(b).shape_hits, 0);
    bn_record_release(&r);

    /* base again: remembered; then the same keys from another reader format */
    make_record_copy(&r, "ndjson", base);
    build_check(g_map, b, &r, &ev);
    assert_int_equal(stats(b).shape_hits, 1);
    bn_record_release(&r);
    make_record_copy(&r, "json", base);
    build_check(g_map, b, &r, &ev);
    assert_int_equal(stats(b).shape_misses, 5);
    bn_record_release(&r);

    /* an event of another size: the template is made again for it */
    struct bn_event small;
    assert_int_equal(bn_event_init(&small, 3), 0);
    make_record_copy(&r, "ndjson", base);
    uint64_t plans = stats(b).plans;
    build_check(g_map, b, &r, &small);
    assert_int_equal(stats(b).plans, plans + 1);
    build_check(g_map, b, &r, &ev);
    bn_record_release(&r);
    bn_event_release(&small);

    bn_event_release(&ev);
    bn_evbuilder_free(b);
}

/* Deciding values that switch kind, logsource rule and alias, null values and logsource.*
 * overrides, all with one key sequence. */
static void
test_shape_deciding_values(void **state)
{
    (void)state;
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
    struct bn_event ev;
    struct bn_record r;
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    static const char *const chans[] = {"Microsoft-Windows-Sysmon/Operational", "Security",
                                        "Linux-Sysmon/Operational", "System", "#null",
                                        "security", ""};
    static const char *const ids[] = {"#num:1", "#num:4688", "#num:23", "#num:13", "#null",
                                      "abc", "#num:4624"};
    static const char *const prods[] = {"linux", "aws", "windows", "#null", ""};
    for (size_t c = 0; c < BN_ARRAY_SIZE(chans); c++)
        for (size_t i = 0; i < BN_ARRAY_SIZE(ids); i++) {
            const char *kv[] = {"Channel", chans[c], "EventID", ids[i], "NewProcessName",
                                "C:\\n.exe", "Image", "C:\\i.exe", "Computer", "h", NULL};
            make_record_copy(&r, "ndjson", kv);
            build_check(g_map, b, &r, &ev);
            bn_record_release(&r);
            for (size_t p = 0; p < BN_ARRAY_SIZE(prods); p++) {
                const char *ko[] = {"Channel", chans[c], "EventID", ids[i],
                                    "logsource.product", prods[p], "Image", "x", NULL};
                make_record_copy(&r, "ndjson", ko);
                build_check(g_map, b, &r, &ev);
                if (p == 1)
                    assert_string_equal(ev.product, "aws");
                bn_record_release(&r);
            }
        }
    assert_int_equal(stats(b).shape_misses, 2); /* two key sequences */
    bn_event_release(&ev);
    bn_evbuilder_free(b);
}

/* More shapes than the builder remembers, round robin and in random order, EVTX-style
 * keys, auditd record types (a mapping that emits them): all as a fresh builder makes them. */
static void
test_shape_many(void **state)
{
    (void)state;
    struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
    struct bn_event ev;
    struct bn_record r;
    char keys[24][32];
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    for (int s = 0; s < 24; s++)
        snprintf(keys[s], sizeof(keys[s]), "Event.EventData.F%d", s);
    /* 24 shapes: the common System part plus one shape-specific key */
    for (int round = 0; round < 3; round++)
        for (int s = 0; s < 24; s++) {
            const char *kv[] = {"Event.System.Channel", "Microsoft-Windows-Sysmon/Operational",
                                "Event.System.EventID", s % 2 ? "#num:1" : "#num:3",
                                "Event.System.Computer", "pc", keys[s], "v",
                                "Event.EventData.Image", "C:\\x.exe", NULL};
            make_record_copy(&r, "json", kv);
            build_check(g_map, b, &r, &ev);
            expect_ls(&ev, "windows", s % 2 ? "process_creation" : "network_connection",
                      "sysmon");
            bn_record_release(&r);
        }
    struct bn__evbuilder_stats st = stats(b);
    assert_int_equal(st.shape_misses, 72); /* round robin over 24 with room for fewer */
    /* a few shapes alternating: all remembered after the first of each */
    for (int i = 0; i < 40; i++) {
        int s = (i * 7) % 5;
        const char *kv[] = {"Event.System.Channel", "Microsoft-Windows-Sysmon/Operational",
                            "Event.System.EventID", "#num:1", keys[s], "v", NULL};
        make_record_copy(&r, "json", kv);
        build_check(g_map, b, &r, &ev);
        bn_record_release(&r);
    }
    assert_int_equal(stats(b).shape_misses, st.shape_misses + 5);

    /* pseudo-random mix of shapes and values */
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 400; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int s = (int)(x % 12);
        const char *kv[] = {"Event.System.Channel", x & 64 ? "Security" : "System",
                            "Event.System.EventID", x & 128 ? "#num:4688" : "#num:7045",
                            keys[s], (x >> 8) & 1 ? "#null" : "v",
                            "Event.EventData.NewProcessName", "C:\\y.exe", NULL};
        make_record_copy(&r, "json", kv);
        build_check(g_map, b, &r, &ev);
        bn_record_release(&r);
    }
    bn_event_release(&ev);
    bn_evbuilder_free(b);

    /* record types derived from key prefixes, through the template */
    static const char *const emit =
        "source: a\ndetect: [ {format: auditd} ]\nproduct: linux\nservice: auditd\n"
        "record_type_field: type\nrecord_type_emit: true\nhost: [node]\n";
    struct bn_mapping *m;
    struct bn_diag d;
    assert_int_equal(bn_mapping_load_mem(&m, emit, strlen(emit), "emit.yml", &d), 0);
    b = bn_evbuilder_new(m, g_ft);
    assert_non_null(b);
    assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
    for (int i = 0; i < 3; i++) {
        const char *kv[] = {"SYSCALL.exe", i ? "/bin/y" : "/bin/x", "SYSCALL.comm", "x",
                            "EXECVE.a0", "x", "PATH.name", "/a", "PATH.name", "/b",
                            "node", i == 1 ? "" : "n1", NULL};
        make_record_copy(&r, "auditd", kv);
        build_check(m, b, &r, &ev);
        assert_int_equal(count_values(&ev, "type"), 3);
        want_value(&ev, "type", "SYSCALL");
        want_value(&ev, "exe", i ? "/bin/y" : "/bin/x");
        bn_record_release(&r);
    }
    assert_int_equal(stats(b).shape_hits, 2);
    bn_event_release(&ev);
    bn_evbuilder_free(b);
    bn_mapping_free(m);
}

/* Allocations failing while shapes are made or re-decided leave the builder usable: after
 * the failure every record still builds as a fresh builder makes it. */
static void
test_shape_alloc_failures(void **state)
{
    (void)state;
    static const char *const a[] = {"Channel", "Security", "EventID", "#num:4688",
                                    "NewProcessName", "C:\\a.exe", "Computer", "c", NULL};
    static const char *const a2[] = {"Channel", "Microsoft-Windows-Sysmon/Operational",
                                     "EventID", "#num:1", "NewProcessName", "C:\\b.exe",
                                     "Computer", "d", NULL};
    static const char *const c[] = {"Event.System.EventID", "#num:1", "Event.System.Channel",
                                    "Microsoft-Windows-Sysmon/Operational",
                                    "Event.EventData.Image", "C:\\x.exe", NULL};
    struct bn_record r[3];
    make_record_copy(&r[0], "ndjson", a);
    make_record_copy(&r[1], "ndjson", a2);
    make_record_copy(&r[2], "json", c);
    bool clean = false;
    for (unsigned long n = 1; n < 100000 && !clean; n++) {
        struct bn_evbuilder *b = bn_evbuilder_new(g_map, g_ft);
        struct bn_event ev;
        assert_non_null(b);
        assert_int_equal(bn_event_init(&ev, bn_fieldtab_count(g_ft)), 0);
        bn_alloc_fail_after(n);
        clean = true;
        for (int i = 0; i < 6; i++) {
            int rc = bn_evbuilder_build(b, &r[i % 3], &ev);
            if (rc) {
                assert_int_equal(rc, BN_ENOMEM);
                clean = false;
            }
        }
        bn_alloc_fail_after(0);
        for (int i = 0; i < 6; i++)
            build_check(g_map, b, &r[i % 3], &ev);
        bn_event_release(&ev);
        bn_evbuilder_free(b);
    }
    assert_true(clean);
    for (int i = 0; i < 3; i++)
        bn_record_release(&r[i]);
}

/* --- bad files ---------------------------------------------------------------------------- */

static void
expect_bad(const char *text, int code, unsigned long line, const char *needle)
{
    struct bn_mapping *m = (void *)1;
    struct bn_diag d;
    char buf[1024];
    int rc = bn_mapping_load_mem(&m, text, strlen(text), "bad.yml", &d);
    assert_null(m);
    if (rc != code || d.line != line || !strstr(d.msg, needle))
        fail_msg("want %d at line %lu with '%s', got %d: %s", code, line, needle, rc,
                 bn_diag_format(&d, buf, sizeof(buf)));
    assert_string_equal(d.file, "bad.yml");
}

static void
test_bad_files(void **state)
{
    (void)state;
    expect_bad("source: x\ndetect:\n  - format: y\nbogus: 1\n", BN_EPARSE, 4,
               "unknown key 'bogus'");
    expect_bad("source: x\ndetect:\n  - format: y\n    keyz: [a]\n", BN_EPARSE, 4,
               "unknown key 'keyz' in detect clause");
    expect_bad("source: x\ndetect: [ {format: y} ]\nlogsources:\n  - when: {a: 1}\n"
               "    categroy: z\n", BN_EPARSE, 5, "unknown key 'categroy'");
    expect_bad("source: x\ndetect:\n  - format: y\nstrip:\n  - to: a\n", BN_EPARSE, 5,
               "non-empty prefix");
    expect_bad("source: x\ndetect: [ {format: y} ]\npriority: high\n", BN_EPARSE, 3,
               "integer");
    expect_bad("source: x\n  detect: : [\n", BN_EPARSE, 2, "invalid YAML");
    expect_bad("detect:\n  - format: y\n", BN_EPARSE, 1, "missing 'source:'");
    expect_bad("source: x\n", BN_EPARSE, 1, "no 'detect:'");
    expect_bad("source: x\ndetect: [ {format: y} ]\nlogsources_from: nope\n", BN_ENOTFOUND, 3,
               "unknown source 'nope'");
    expect_bad("source: x\ndetect: [ {format: y} ]\nlogsources:\n  - when: {a: 1}\n",
               BN_EPARSE, 4, "sets none of");
    expect_bad("source: x\ndetect: [ {format: y} ]\nhost: {a: b}\n", BN_EPARSE, 3,
               "string or a list");
    expect_bad("source: x\ndetect: [ {format: y} ]\n---\nsource: z\n", BN_EPARSE, 3,
               "one YAML document");
    expect_bad("- a\n- b\n", BN_EPARSE, 1, "must be a mapping");
    expect_bad("", BN_EPARSE, 1, "empty");

    /* Over the size limit. */
    size_t big = BN_MAPPING_FILE_MAX + 1;
    char *text = malloc(big + 1);
    assert_non_null(text);
    memset(text, '#', big);
    text[big] = 0;
    struct bn_mapping *m;
    struct bn_diag d;
    assert_int_equal(bn_mapping_load_mem(&m, text, big, "big.yml", &d), BN_ETOOBIG);
    assert_non_null(strstr(d.msg, "BN_MAPPING_FILE_MAX"));
    free(text);

    /* A directory without mapping files, and one that does not exist. */
    assert_int_equal(bn_mapping_load_dir(&m, BN_SOURCE_DIR "/include", &d), BN_ENOTFOUND);
    assert_true(bn_mapping_load_dir(&m, "/nonexistent/bannin", &d) < 0);
    assert_non_null(strstr(d.msg, "cannot open"));
}

static void
test_env_override(void **state)
{
    (void)state;
    struct bn_mapping *m;
    struct bn_diag d;
    setenv("BANNIN_MAPPINGS", "/nonexistent/bannin-mappings", 1);
    assert_true(bn_mapping_load_default(&m, &d) < 0);
    assert_string_equal(d.file, "/nonexistent/bannin-mappings");
    setenv("BANNIN_MAPPINGS", BN_SOURCE_DIR "/mappings", 1);
    assert_int_equal(bn_mapping_load_default(&m, &d), 0);
    bn_mapping_free(m);
    unsetenv("BANNIN_MAPPINGS");
}

/* Every allocation of loading and building may fail: errors propagate, nothing leaks. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    static const char *const kv[] = {
        "Event.System.EventID", "#num:4688", "Event.System.Channel", "Security",
        "Event.EventData.NewProcessName", "C:\\x.exe", "Event.UserData.A.B", "c", NULL};
    struct bn_record r;
    make_record(&r, "json", kv);
    bool ok = false;
    for (unsigned long n = 1; n < 100000 && !ok; n++) {
        struct bn_mapping *m = NULL;
        struct bn_evbuilder *b = NULL;
        struct bn_event ev;
        struct bn_diag d;
        bool have_ev = false;
        bn_alloc_fail_after(n);
        int rc = bn_mapping_load_default(&m, &d);
        if (rc == 0)
            b = bn_evbuilder_new(m, g_ft);
        if (b && bn_event_init(&ev, bn_fieldtab_count(g_ft)) == 0)
            have_ev = true;
        if (have_ev) {
            rc = bn_evbuilder_build(b, &r, &ev);
            if (rc == 0) {
                ok = true;
                assert_non_null(ev.category);
            } else {
                assert_int_equal(rc, BN_ENOMEM);
            }
        } else if (rc) {
            assert_int_equal(rc, BN_ENOMEM);
        }
        bn_alloc_fail_after(0);
        if (have_ev)
            bn_event_release(&ev);
        bn_evbuilder_free(b);
        bn_mapping_free(m);
    }
    assert_true(ok);
    bn_record_release(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_evtx_sysmon_process_creation),
        cmocka_unit_test(test_evtx_security_4688_and_text),
        cmocka_unit_test(test_evtx_userdata_registry_other_channels),
        cmocka_unit_test(test_winlogbeat_and_flat),
        cmocka_unit_test(test_linux_agent),
        cmocka_unit_test(test_auditd),
        cmocka_unit_test(test_syslog_journal),
        cmocka_unit_test(test_zeek),
        cmocka_unit_test(test_unknown_and_override),
        cmocka_unit_test(test_logsource_applies),
        cmocka_unit_test(test_cache_reset),
        cmocka_unit_test(test_shape_reuse),
        cmocka_unit_test(test_shape_change),
        cmocka_unit_test(test_shape_deciding_values),
        cmocka_unit_test(test_shape_many),
        cmocka_unit_test(test_shape_alloc_failures),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_env_override),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
