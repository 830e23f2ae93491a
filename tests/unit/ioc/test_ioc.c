/*
 * test_ioc.c - IOC sets: every indicator type, normalisation (case, defanging, mapped
 * IPv6, trailing dots), CIDR longest match, CSV quoting and counted skips with line numbers,
 * STIX 2.1 bundles (OR patterns, unsupported syntax, revoked and expired indicators), limits,
 * and clean failure at every allocation.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/ioc.h"
#include "bannin/limits.h"

#define S(x) x, strlen(x)

static const char *const sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static void
test_types(void **state)
{
    (void)state;
    struct bn_ioc_set *set = bn_ioc_set_new();
    struct bn_diag d;
    assert_non_null(set);
    assert_int_equal(bn_ioc_add(set, BN_IOC_SHA256, S(sha256), "feed", "empty file", &d), 0);
    assert_int_equal(bn_ioc_add(set, -2, S("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"), NULL,
                                NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_MD5, S("d41d8cd98f00b204e9800998ecf8427e"), NULL,
                                NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("203.0.113.7"), NULL, NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("2001:db8::1"), NULL, NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, S("Evil.Example."), NULL, NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_URL, S("hxxp://Bad[.]Example/Path?q=A"), NULL,
                                NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_SNI, S("c2.test"), NULL, NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_JA3, S("e7d705a3286e19ea42f587b344ee6865"), NULL,
                                NULL, &d), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_JA4, S("t13d1516h2_8daaf6152771_b186095e22b6"),
                                NULL, NULL, &d), 0);
    assert_int_equal(bn_ioc_count(set, BN_IOC_TYPES), 10);
    /* duplicates after normalisation */
    assert_int_equal(bn_ioc_add(set, BN_IOC_SHA256, S("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649"
                                                      "B934CA495991B7852B855"), NULL, NULL, &d),
                     BN_EEXIST);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("::ffff:203.0.113.7"), NULL, NULL, &d),
                     BN_EEXIST);
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, S("evil.example"), NULL, NULL, &d),
                     BN_EEXIST);
    /* bad values */
    assert_int_equal(bn_ioc_add(set, BN_IOC_SHA256, S("abc"), NULL, NULL, &d), BN_EINVAL);
    assert_non_null(strstr(d.msg, "64 hex digits"));
    assert_int_equal(bn_ioc_add(set, -2, S("abcd"), NULL, NULL, &d), BN_EINVAL);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("300.1.1.1"), NULL, NULL, &d), BN_EINVAL);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("10.0.0.0/33"), NULL, NULL, &d), BN_EINVAL);
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, S("a..b"), NULL, NULL, &d), BN_EINVAL);
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, S("a b.com"), NULL, NULL, &d), BN_EINVAL);
    assert_int_equal(bn_ioc_add(set, BN_IOC_URL, S("no-scheme.example/x"), NULL, NULL, &d),
                     BN_EINVAL);
    assert_int_equal(bn_ioc_add(set, 99, S("x"), NULL, NULL, &d), BN_EINVAL);

    struct bn_ioc_match m;
    assert_true(bn_ioc_match_hash(set, S("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA49599"
                                         "1B7852B855"), &m));
    assert_int_equal(m.type, BN_IOC_SHA256);
    assert_string_equal(m.value, sha256);
    assert_string_equal(m.source, "feed");
    assert_string_equal(m.comment, "empty file");
    assert_true(bn_ioc_match_hash(set, S("da39a3ee5e6b4b0d3255bfef95601890afd80709"), &m));
    assert_int_equal(m.type, BN_IOC_SHA1);
    assert_true(bn_ioc_match(set, BN_IOC_MD5, S("D41D8CD98F00B204E9800998ECF8427E"), NULL));
    assert_false(bn_ioc_match_hash(set, S("d41d8cd98f00b204e9800998ecf8427f"), NULL));
    /* the MD5 is not a JA3 just because it has the same length */
    assert_false(bn_ioc_match(set, BN_IOC_JA3, S("d41d8cd98f00b204e9800998ecf8427e"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_JA3, S("E7D705A3286E19EA42F587B344EE6865"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_JA4, S("T13D1516H2_8DAAF6152771_B186095E22B6"), NULL));

    assert_true(bn_ioc_match(set, BN_IOC_IP, S("203.0.113.7"), &m));
    assert_string_equal(m.value, "203.0.113.7");
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("::ffff:203.0.113.7"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("[2001:db8:0::1]"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("203.0.113.8"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("not-an-ip"), NULL));
    uint8_t a4[4] = {203, 0, 113, 7};
    assert_true(bn_ioc_match_addr(set, AF_INET, a4, NULL));
    uint8_t a6[16];
    assert_int_equal(inet_pton(AF_INET6, "::ffff:203.0.113.7", a6), 1);
    assert_true(bn_ioc_match_addr(set, AF_INET6, a6, NULL));

    assert_true(bn_ioc_match(set, BN_IOC_DOMAIN, S("evil.example"), &m));
    assert_string_equal(m.value, "evil.example");
    assert_true(bn_ioc_match(set, BN_IOC_DOMAIN, S("WWW.cdn.Evil.Example."), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_DOMAIN, S("notevil.example"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_DOMAIN, S("example"), NULL));
    /* SNI: exact SNI entries, and domain entries with their subdomains */
    assert_true(bn_ioc_match(set, BN_IOC_SNI, S("C2.test"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_SNI, S("x.c2.test"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_SNI, S("x.evil.example"), NULL));

    assert_true(bn_ioc_match(set, BN_IOC_URL, S("HTTP://BAD.example/Path?q=A"), &m));
    assert_string_equal(m.value, "http://bad.example/Path?q=A");
    assert_false(bn_ioc_match(set, BN_IOC_URL, S("http://bad.example/path?q=A"), NULL));
    bn_ioc_set_free(set);
    bn_ioc_set_free(NULL);
}

static void
test_cidr(void **state)
{
    (void)state;
    struct bn_ioc_set *set = bn_ioc_set_new();
    struct bn_ioc_match m;
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("10.0.0.0/8"), "a", NULL, NULL), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("10.1.2.77/24"), "b", NULL, NULL), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("10.1.2.0/24"), "c", NULL, NULL), BN_EEXIST);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("2001:db8:abcd::/48"), "v6", NULL, NULL), 0);
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("10.200.1.1"), &m));
    assert_string_equal(m.value, "10.0.0.0/8");
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("10.1.2.3"), &m));
    assert_string_equal(m.value, "10.1.2.0/24");
    assert_string_equal(m.source, "b");
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("11.0.0.1"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("2001:db8:abcd:12::5"), &m));
    assert_string_equal(m.value, "2001:db8:abcd::/48");
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("2001:db8:abce::5"), NULL));
    /* a v4 range does not catch v6 addresses and vice versa */
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("a00::1"), NULL));
    /* 0.0.0.0/0 catches every IPv4 address */
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("0.0.0.0/0"), NULL, NULL, NULL), 0);
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("192.0.2.1"), &m));
    assert_string_equal(m.value, "0.0.0.0/0");
    bn_ioc_set_free(set);
}

static void
test_csv(void **state)
{
    (void)state;
    const char csv[] =
        "\xef\xbb\xbftype,value,source,comment\n"
        "# a comment\n"
        "\n"
        "ip,198.51.100.9,abuse.ch,\"botnet C2, port 443\"\r\n"
        "domain,\"bad.\"\"quoted\"\".example\"\n"          /* line 5: bad domain value */
        "hash,44d88612fea8a8f36de82e1278abb02f,,EICAR\n"
        "frobnicator,x\n"                                  /* line 7: unknown type */
        "justonefield\n"                                   /* line 8: syntax */
        "url,\"http://x.example/a\"junk\n"                 /* line 9: syntax */
        "cidr,192.0.2.0/24,,\"multi\nline comment\"\n"    /* lines 10-11 */
        "ip,198.51.100.9,dup\n"                            /* line 12: duplicate */
        "domain,evil[.]test";                              /* no final newline */
    struct bn_ioc_set *set = bn_ioc_set_new();
    struct bn_ioc_load_stats st;
    struct bn_diag d;
    assert_int_equal(bn_ioc_load_csv(set, csv, sizeof(csv) - 1, "feed.csv", NULL, &st, &d), 0);
    assert_int_equal(st.records, 9);
    assert_int_equal(st.added, 4);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.skipped_value, 1);
    assert_int_equal(st.skipped_type, 1);
    assert_int_equal(st.skipped_syntax, 2);
    /* the first problem, with its place */
    assert_string_equal(d.file, "feed.csv");
    assert_int_equal(d.line, 5);
    assert_non_null(strstr(d.msg, "not a DNS name"));
    struct bn_ioc_match m;
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("198.51.100.9"), &m));
    assert_string_equal(m.source, "abuse.ch");
    assert_string_equal(m.comment, "botnet C2, port 443");
    assert_true(bn_ioc_match_hash(set, S("44d88612fea8a8f36de82e1278abb02f"), &m));
    assert_string_equal(m.source, "feed.csv"); /* the file name when the line has none */
    assert_string_equal(m.comment, "EICAR");
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("192.0.2.200"), &m));
    assert_string_equal(m.comment, "multi\nline comment");
    assert_true(bn_ioc_match(set, BN_IOC_DOMAIN, S("www.evil.test"), NULL));

    /* an unterminated quote is reported at its line */
    const char bad[] = "ip,1.2.3.4\nip,\"5.6.7.8\n";
    assert_int_equal(bn_ioc_load_csv(set, S(bad), "b.csv", NULL, &st, &d), 0);
    assert_int_equal(st.added, 1);
    assert_int_equal(st.skipped_syntax, 1);
    assert_int_equal(d.line, 2);
    assert_non_null(strstr(d.msg, "not closed"));

    /* a line over the limit is skipped, the next one loads */
    size_t big = BN_IOC_CSV_LINE_MAX + 100;
    char *huge = malloc(big + 64);
    memcpy(huge, "url,http://a/", 13);
    memset(huge + 13, 'a', big - 13);
    memcpy(huge + big, "\nip,9.9.9.9\n", 12);
    assert_int_equal(bn_ioc_load_csv(set, huge, big + 12, "h.csv", NULL, &st, &d), 0);
    assert_int_equal(st.skipped_syntax, 1);
    assert_int_equal(st.added, 1);
    assert_non_null(strstr(d.msg, "BN_IOC_CSV_LINE_MAX"));
    free(huge);
    bn_ioc_set_free(set);
}

static void
test_stix(void **state)
{
    (void)state;
    const char bundle[] =
        "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":["
        "{\"type\":\"identity\",\"id\":\"identity--1\",\"name\":\"ACME CERT\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--a\",\"name\":\"C2 address\","
        " \"pattern_type\":\"stix\",\"pattern\":\"[ipv4-addr:value = '203.0.113.50']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--b\",\"pattern_type\":\"stix\","
        " \"pattern\":\"[domain-name:value = 'bad.example' OR domain-name:value = "
        "'worse.example'] OR [file:hashes.'SHA-256' = '" 
        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--c\",\"pattern_type\":\"stix\","
        " \"pattern\":\"[file:name = 'x' AND file:size = 3]\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--d\",\"pattern_type\":\"sigma\","
        " \"pattern\":\"title: x\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--e\",\"revoked\":true,"
        " \"pattern\":\"[ipv4-addr:value = '203.0.113.51']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--f\",\"valid_until\":\"2001-01-01T00:00:00Z\","
        " \"pattern\":\"[ipv4-addr:value = '203.0.113.52']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--g\","
        " \"pattern\":\"[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f' OR "
        "url:value = 'http://x.test/it\\\\'s']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--h\","
        " \"pattern\":\"[email-addr:value = 'a@b.c']\"},"
        "{\"type\":\"indicator\",\"id\":\"indicator--i\","
        " \"pattern\":\"[ipv6-addr:value = '2001:db8::/32'] OR [ipv4-addr:value = 'bogus']\"},"
        "17"
        "]}";
    struct bn_ioc_set *set = bn_ioc_set_new();
    struct bn_ioc_load_stats st;
    struct bn_diag d;
    int64_t now = 1764000000LL * 1000000000LL;
    assert_int_equal(bn_ioc_load_stix(set, S(bundle), "b.json", "acme", now, &st, &d), 0);
    assert_int_equal(st.records, 11);
    assert_int_equal(st.skipped_other, 1);
    assert_int_equal(st.added, 7);
    assert_int_equal(st.skipped_expired, 2);
    assert_int_equal(st.skipped_type, 2);   /* sigma pattern, email only */
    assert_int_equal(st.skipped_syntax, 2); /* AND, the number 17 */
    assert_int_equal(st.skipped_value, 1);  /* 'bogus' */
    struct bn_ioc_match m;
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("203.0.113.50"), &m));
    assert_string_equal(m.source, "acme");
    assert_string_equal(m.comment, "C2 address");
    assert_true(bn_ioc_match(set, BN_IOC_DOMAIN, S("a.worse.example"), &m));
    assert_string_equal(m.comment, "indicator--b");
    assert_true(bn_ioc_match_hash(set, S(sha256), NULL));
    assert_true(bn_ioc_match_hash(set, S("44d88612fea8a8f36de82e1278abb02f"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_URL, S("http://x.test/it's"), NULL));
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("2001:db8:1::1"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("203.0.113.51"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("203.0.113.52"), NULL));

    /* not JSON: line and column */
    assert_int_equal(bn_ioc_load_stix(set, S("{\n \"type\": bundle}"), "x.json", NULL, 0, &st,
                                      &d), BN_EPARSE);
    assert_int_equal(d.line, 2);
    assert_true(d.col > 0);
    assert_int_equal(bn_ioc_load_stix(set, S("{\"type\":\"report\"}"), "x.json", NULL, 0, &st,
                                      &d), BN_EPARSE);
    assert_int_equal(bn_ioc_load_stix(set, S("{\"type\":\"bundle\",\"objects\":3}"), "x.json",
                                      NULL, 0, &st, &d), BN_EPARSE);
    /* one bare indicator */
    assert_int_equal(bn_ioc_load_stix(set, S("{\"type\":\"indicator\",\"pattern\":"
                                             "\"[domain-name:value = 'solo.test']\"}"),
                                      "x.json", NULL, 0, &st, &d), 0);
    assert_int_equal(st.added, 1);
    bn_ioc_set_free(set);
}

static void
test_file_and_alloc(void **state)
{
    (void)state;
    char path[] = "/tmp/bn-ioc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *stix = "  {\"type\":\"bundle\",\"objects\":[{\"type\":\"indicator\",\"pattern\":"
                       "\"[ipv4-addr:value = '192.0.2.9']\"}]}";
    assert_int_equal(write(fd, stix, strlen(stix)), (ssize_t)strlen(stix));
    close(fd);
    struct bn_ioc_set *set = bn_ioc_set_new();
    struct bn_ioc_load_stats st;
    struct bn_diag d;
    assert_int_equal(bn_ioc_load_file(set, path, 0, &st, &d), 0);
    assert_int_equal(st.added, 1);
    struct bn_ioc_match m;
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("192.0.2.9"), &m));
    assert_string_equal(m.source, path + 5);
    unlink(path);
    assert_int_equal(bn_ioc_load_file(set, path, 0, &st, &d), -2 /* -ENOENT */);
    assert_non_null(strstr(d.msg, "cannot open"));
    bn_ioc_set_free(set);

    /* every allocation may fail: the load fails cleanly or succeeds */
    const char csv[] = "ip,10.0.0.0/8\nip,1.2.3.4\ndomain,a.test\nsha1,"
                       "da39a3ee5e6b4b0d3255bfef95601890afd80709\n";
    for (unsigned long n = 0;; n++) {
        bn_alloc_fail_after(n);
        set = bn_ioc_set_new();
        int rc = set ? bn_ioc_load_csv(set, S(csv), "a.csv", NULL, &st, &d) : BN_ENOMEM;
        int rc2 = set ? bn_ioc_load_stix(set, S(stix), "a.json", NULL, 0, &st, &d) : BN_ENOMEM;
        bn_alloc_fail_after(0);
        bn_ioc_set_free(set);
        if (rc == 0 && rc2 == 0)
            break;
        assert_true(n < 10000);
    }
}

static int
each_cb(void *ctx, const struct bn_ioc_match *m)
{
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 512 - l, "%s=%s;", bn_ioc_type_name(m->type), m->value);
    return strcmp(m->value, "stop.test") == 0 ? 7 : 0;
}

static void
test_foreach(void **state)
{
    (void)state;
    struct bn_ioc_set *set = bn_ioc_set_new();
    char out[512] = "";
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("10.0.0.0/8"), NULL, NULL, NULL), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, S("A.test"), NULL, NULL, NULL), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_DOMAIN, S("stop.test"), NULL, NULL, NULL), 0);
    assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S("1.2.3.4"), NULL, NULL, NULL), 0);
    assert_int_equal(bn_ioc_foreach(set, each_cb, out), 7);
    assert_string_equal(out, "ip=10.0.0.0/8;domain=a.test;domain=stop.test;");
    bn_ioc_set_free(set);
}

static void
test_many(void **state)
{
    (void)state;
    struct bn_ioc_set *set = bn_ioc_set_new();
    char v[64];
    for (unsigned i = 0; i < 200000; i++) {
        snprintf(v, sizeof(v), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S(v), NULL, NULL, NULL), 0);
    }
    for (unsigned i = 0; i < 1000; i++) {
        snprintf(v, sizeof(v), "172.%u.%u.0/24", 16 + (i >> 8), i & 255);
        assert_int_equal(bn_ioc_add(set, BN_IOC_IP, S(v), NULL, NULL, NULL), 0);
    }
    assert_int_equal(bn_ioc_count(set, BN_IOC_IP), 201000);
    for (unsigned i = 0; i < 200000; i += 997) {
        snprintf(v, sizeof(v), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        assert_true(bn_ioc_match(set, BN_IOC_IP, S(v), NULL));
    }
    assert_true(bn_ioc_match(set, BN_IOC_IP, S("172.17.3.9"), NULL));
    assert_false(bn_ioc_match(set, BN_IOC_IP, S("10.4.0.0"), NULL));
    bn_ioc_set_free(set);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_stix),
        cmocka_unit_test(test_file_and_alloc),
        cmocka_unit_test(test_foreach),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
