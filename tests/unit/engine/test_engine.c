/*
 * test_engine.c - Sigma matching semantics of the compiled rule set: every modifier of the
 * modifiers appendix, wildcards and escapes, case, numbers, null/exists, keywords, condition
 * forms, filters, correlation links, routing, placeholders and allocation failures. Each case
 * has a positive and a negative event, and every match is checked against the naive matcher.
 */
#include "unit/engine/engine_test.h"

static void
test_plain_and_case(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        Image: 'C:\\Windows\\System32\\cmd.exe'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(r, "Image", "c:\\windows\\system32\\CMD.EXE"), 1);
    assert_int_equal(fires(r, "Image", "C:\\Windows\\System32\\cmd.exe.bak"), 0);
    assert_int_equal(fires(r, "Other", "C:\\Windows\\System32\\cmd.exe"), 0);
    const char *c = RULE("    sel:\n        Image|cased: 'C:\\Windows\\cmd.exe'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(c, "Image", "C:\\Windows\\cmd.exe"), 1);
    assert_int_equal(fires(c, "Image", "c:\\windows\\cmd.exe"), 0);
    const char *cc = RULE("    sel:\n        Image|cased|contains: 'Evil'\n    condition: sel\n");
    assert_int_equal(fires(cc, "Image", "xxEvilxx"), 1);
    assert_int_equal(fires(cc, "Image", "xxevilxx"), 0);
}

static void
test_wildcards(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        Image: 'prog?.e*e'\n    condition: sel\n");
    assert_int_equal(fires(r, "Image", "PROGA.exe"), 1);
    assert_int_equal(fires(r, "Image", "progA.e-anything-e"), 1);
    assert_int_equal(fires(r, "Image", "prog.exe"), 0);
    assert_int_equal(fires(r, "Image", "progAB.exe"), 0);
    const char *star = RULE("    sel:\n        Image: '*'\n    condition: sel\n");
    assert_int_equal(fires(star, "Image", ""), 1);
    assert_int_equal(fires(star, "Other", "x"), 0);
    const char *empty = RULE("    sel:\n        Image: ''\n    condition: sel\n");
    assert_int_equal(fires(empty, "Image", ""), 1);
    assert_int_equal(fires(empty, "Image", "a"), 0);
}

static void
test_escapes(void **state)
{
    (void)state;
    /* \* is a literal star */
    const char *a = RULE("    sel:\n        F: 'a\\*b'\n    condition: sel\n");
    assert_int_equal(fires(a, "F", "a*b"), 1);
    assert_int_equal(fires(a, "F", "axxb"), 0);
    /* \? is a literal question mark */
    const char *q = RULE("    sel:\n        F: 'a\\?b'\n    condition: sel\n");
    assert_int_equal(fires(q, "F", "a?b"), 1);
    assert_int_equal(fires(q, "F", "axb"), 0);
    /* \\* is a backslash followed by a wildcard */
    const char *bs = RULE("    sel:\n        F: 'a\\\\*'\n    condition: sel\n");
    assert_int_equal(fires(bs, "F", "a\\anything"), 1);
    assert_int_equal(fires(bs, "F", "a\\"), 1);
    assert_int_equal(fires(bs, "F", "aanything"), 0);
    /* \\\* is a backslash and a literal star */
    const char *b3 = RULE("    sel:\n        F: 'a\\\\\\*'\n    condition: sel\n");
    assert_int_equal(fires(b3, "F", "a\\*"), 1);
    assert_int_equal(fires(b3, "F", "a\\x"), 0);
    /* \\\\ is two backslashes; a single backslash before a plain char stays */
    const char *b4 = RULE("    sel:\n        F: 'a\\\\\\\\b'\n    condition: sel\n");
    assert_int_equal(fires(b4, "F", "a\\\\b"), 1);
    assert_int_equal(fires(b4, "F", "a\\b"), 0);
    const char *b2 = RULE("    sel:\n        F: 'a\\\\b'\n    condition: sel\n");
    assert_int_equal(fires(b2, "F", "a\\b"), 1);
    assert_int_equal(fires(b2, "F", "a\\\\b"), 0);
    /* trailing backslash is literal */
    const char *t = RULE("    sel:\n        F: 'C:\\Windows\\'\n    condition: sel\n");
    assert_int_equal(fires(t, "F", "c:\\windows\\"), 1);
    assert_int_equal(fires(t, "F", "c:\\windows"), 0);
    const char *te = RULE("    sel:\n        F|endswith: '\\'\n    condition: sel\n");
    assert_int_equal(fires(te, "F", "dir\\"), 1);
    assert_int_equal(fires(te, "F", "dir/"), 0);
}

static void
test_contains_startswith_endswith(void **state)
{
    (void)state;
    const char *c = RULE("    sel:\n        CommandLine|contains: ' -enc '\n    condition: sel\n");
    assert_int_equal(fires(c, "CommandLine", "powershell -ENC abc"), 1);
    assert_int_equal(fires(c, "CommandLine", "powershell -encx abc"), 0);
    const char *s = RULE("    sel:\n        Image|startswith: 'C:\\Users\\'\n    condition: sel\n");
    assert_int_equal(fires(s, "Image", "c:\\users\\bob\\a.exe"), 1);
    assert_int_equal(fires(s, "Image", "d:\\c:\\users\\"), 0);
    const char *e = RULE("    sel:\n        Image|endswith: '\\cmd.exe'\n    condition: sel\n");
    assert_int_equal(fires(e, "Image", "C:\\x\\CMD.exe"), 1);
    assert_int_equal(fires(e, "Image", "C:\\x\\cmd.exe "), 0);
    /* a value list is OR-ed */
    const char *l = RULE("    sel:\n        Image|endswith:\n            - '\\a.exe'\n"
                         "            - '\\b.exe'\n    condition: sel\n");
    assert_int_equal(fires(l, "Image", "x\\b.exe"), 1);
    assert_int_equal(fires(l, "Image", "x\\c.exe"), 0);
    /* wildcards inside contains */
    const char *w = RULE("    sel:\n        CommandLine|contains: 'a*b?c'\n    condition: sel\n");
    assert_int_equal(fires(w, "CommandLine", "xxAzzzBxCyy"), 1);
    assert_int_equal(fires(w, "CommandLine", "xxAzzzBCyy"), 0);
}

static void
test_all(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        CommandLine|contains|all:\n            - 'vssadmin'\n"
                         "            - 'delete'\n            - 'shadows'\n    condition: sel\n");
    assert_int_equal(fires(r, "CommandLine", "vssadmin.exe Delete Shadows /all"), 1);
    assert_int_equal(fires(r, "CommandLine", "vssadmin.exe list shadows"), 0);
    /* all over a multi-valued field: each value may come from a different element */
    assert_int_equal(fires(r, "CommandLine", "vssadmin delete", "CommandLine", "shadows"), 1);
}

static void
test_re(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        CommandLine|re: 'ab+c$'\n    condition: sel\n");
    assert_int_equal(fires(r, "CommandLine", "xxabbbc"), 1);
    assert_int_equal(fires(r, "CommandLine", "xxABBBC"), 0);
    assert_int_equal(fires(r, "CommandLine", "xxabbbcd"), 0);
    const char *i = RULE("    sel:\n        CommandLine|re|i: '^ab+c'\n    condition: sel\n");
    assert_int_equal(fires(i, "CommandLine", "ABBC"), 1);
    assert_int_equal(fires(i, "CommandLine", "xABBC"), 0);
    const char *m = RULE("    sel:\n        CommandLine|re|m: '^second$'\n    condition: sel\n");
    assert_int_equal(fires(m, "CommandLine", "first\nsecond\nthird"), 1);
    assert_int_equal(fires(m, "CommandLine", "first second"), 0);
    const char *sm = RULE("    sel:\n        CommandLine|re: '^second$'\n    condition: sel\n");
    assert_int_equal(fires(sm, "CommandLine", "first\nsecond\nthird"), 0);
    const char *s = RULE("    sel:\n        CommandLine|re|s: 'a.b'\n    condition: sel\n");
    assert_int_equal(fires(s, "CommandLine", "a\nb"), 1);
    const char *ns = RULE("    sel:\n        CommandLine|re: 'a.b'\n    condition: sel\n");
    assert_int_equal(fires(ns, "CommandLine", "a\nb"), 0);
    const char *bad = RULE("    sel:\n        CommandLine|re: 'a(b'\n    condition: sel\n");
    assert_int_equal(fires(bad, "CommandLine", "ab"), BN_EPARSE);
}

static void
test_cidr(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        DestinationIp|cidr:\n            - '10.0.0.0/8'\n"
                         "            - '192.168.1.0/25'\n            - 'fe80::/10'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(r, "DestinationIp", "10.200.3.4"), 1);
    assert_int_equal(fires(r, "DestinationIp", "192.168.1.127"), 1);
    assert_int_equal(fires(r, "DestinationIp", "192.168.1.128"), 0);
    assert_int_equal(fires(r, "DestinationIp", "11.0.0.1"), 0);
    assert_int_equal(fires(r, "DestinationIp", "fe80::1"), 1);
    assert_int_equal(fires(r, "DestinationIp", "fec0::1"), 0);
    assert_int_equal(fires(r, "DestinationIp", "not an ip"), 0);
    const char *bad = RULE("    sel:\n        DestinationIp|cidr: '10.0.0.0/33'\n"
                           "    condition: sel\n");
    assert_int_equal(fires(bad, "DestinationIp", "10.0.0.1"), BN_EPARSE);
}

static void
test_base64(void **state)
{
    (void)state;
    /* base64('http://') = aHR0cDovLw== */
    const char *r = RULE("    sel:\n        F|base64: 'http://'\n    condition: sel\n");
    assert_int_equal(fires(r, "F", "aHR0cDovLw=="), 1);
    assert_int_equal(fires(r, "F", "aHR0cDovLw"), 0);
    const char *c = RULE("    sel:\n        F|base64|contains: 'http://'\n    condition: sel\n");
    assert_int_equal(fires(c, "F", "xxaHR0cDovLw==yy"), 1);
    assert_int_equal(fires(c, "F", "http://"), 0);
    /* base64offset: the three shifted encodings of 'http://' (pySigma values) */
    const char *o = RULE("    sel:\n        F|base64offset|contains: 'http://'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(o, "F", "zzaHR0cDovL"), 1);   /* offset 0 */
    assert_int_equal(fires(o, "F", "zzodHRwOi8v"), 1);   /* offset 1 */
    assert_int_equal(fires(o, "F", "zzh0dHA6Ly"), 1);    /* offset 2 */
    assert_int_equal(fires(o, "F", "aHR0cDpvL"), 0);
    /* base64 of something with a wildcard is an error */
    const char *w = RULE("    sel:\n        F|base64: 'a*'\n    condition: sel\n");
    assert_int_equal(fires(w, "F", "x"), BN_EPARSE);
}

static void
test_utf16(void **state)
{
    (void)state;
    /* wide|base64offset|contains: 'cmd' in UTF-16LE is 63 00 6d 00 64 00; offset 0 b64 'YwBtAGQA' */
    const char *r = RULE("    sel:\n        F|wide|base64offset|contains: 'cmd'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(r, "F", "xxYwBtAGQAyy"), 1);
    assert_int_equal(fires(r, "F", "xxY21kyy"), 0); /* base64('cmd') without utf16 */

    struct bn_ruleset *rs = compile_yaml(
        RULE("    le:\n        F|utf16le|contains: 'ab'\n    be:\n        G|utf16be: 'ab'\n"
             "    bom:\n        H|utf16|startswith: 'a'\n    condition: le or be or bom\n"),
        NULL, NULL);
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    struct {
        const char *field;
        const char *val;
        size_t len;
        size_t want;
    } cases[] = {
        {"F", "x\0a\0b\0y", 8, 1},
        {"F", "ab", 2, 0},
        {"G", "\0a\0b", 4, 1},
        {"G", "a\0b\0", 4, 0},
        {"H", "\xff\xfe" "a\0zz", 6, 1},
        {"H", "a\0zz", 4, 0},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(cases); i++) {
        struct bn_event ev;
        ev_make(rs, &ev);
        uint32_t id = bn_fieldtab_lookup(ft, cases[i].field, 1);
        assert_int_equal(bn_event_add(&ev, id, cases[i].field, 1, cases[i].val, cases[i].len,
                                      BN_VT_STR, 0),
                         0);
        uint32_t hits[4];
        assert_int_equal(match_both(rs, &ev, hits, 4), cases[i].want);
        bn_event_release(&ev);
    }
    bn_ruleset_free(rs);
}

static void
test_windash(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        CommandLine|windash|contains: ' -exec bypass'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(r, "CommandLine", "powershell -exec bypass"), 1);
    assert_int_equal(fires(r, "CommandLine", "powershell /exec bypass"), 1);
    assert_int_equal(fires(r, "CommandLine", "powershell \xe2\x80\x93" "exec bypass"), 1);
    assert_int_equal(fires(r, "CommandLine", "powershell \xe2\x80\x94" "exec bypass"), 1);
    assert_int_equal(fires(r, "CommandLine", "powershell \xe2\x80\x95" "exec bypass"), 1);
    assert_int_equal(fires(r, "CommandLine", "powershell +exec bypass"), 0);
    /* only dashes at the start of a word are replaced: 'a-b' stays */
    const char *m = RULE("    sel:\n        CommandLine|windash|contains: 'x a-b'\n"
                         "    condition: sel\n");
    assert_int_equal(fires(m, "CommandLine", "x a-b"), 1);
    assert_int_equal(fires(m, "CommandLine", "x a/b"), 0);
}

static void
test_numeric(void **state)
{
    (void)state;
    const char *eq = RULE("    sel:\n        EventID: 1\n    condition: sel\n");
    assert_int_equal(fires(eq, "EventID", "1"), 1);
    assert_int_equal(fires(eq, "EventID", "01"), 1);
    assert_int_equal(fires(eq, "EventID", "11"), 0);
    assert_int_equal(fires(eq, "EventID", "x"), 0);
    const char *str = RULE("    sel:\n        EventID: '1'\n    condition: sel\n");
    assert_int_equal(fires(str, "EventID", "1"), 1);
    assert_int_equal(fires(str, "EventID", "01"), 0);
    const char *hex = RULE("    sel:\n        T: 0x17\n    condition: sel\n");
    assert_int_equal(fires(hex, "T", "0x17"), 1);
    assert_int_equal(fires(hex, "T", "0x18"), 0);
    const char *lt = RULE("    sel:\n        N|lt: 10\n    condition: sel\n");
    assert_int_equal(fires(lt, "N", "9"), 1);
    assert_int_equal(fires(lt, "N", "10"), 0);
    assert_int_equal(fires(lt, "N", "abc"), 0);
    const char *lte = RULE("    sel:\n        N|lte: 10\n    condition: sel\n");
    assert_int_equal(fires(lte, "N", "10"), 1);
    assert_int_equal(fires(lte, "N", "10.5"), 0);
    const char *gt = RULE("    sel:\n        N|gt: 2.5\n    condition: sel\n");
    assert_int_equal(fires(gt, "N", "3"), 1);
    assert_int_equal(fires(gt, "N", "2.5"), 0);
    const char *gte = RULE("    sel:\n        N|gte: -3\n    condition: sel\n");
    assert_int_equal(fires(gte, "N", "-3"), 1);
    assert_int_equal(fires(gte, "N", "-4"), 0);
}

static void
test_neq(void **state)
{
    (void)state;
    const char *s = RULE("    sel:\n        User|neq: 'SYSTEM'\n    condition: sel\n");
    assert_int_equal(fires(s, "User", "bob"), 1);
    assert_int_equal(fires(s, "User", "system"), 0);
    assert_int_equal(fires(s, "Other", "bob"), 0);
    const char *n = RULE("    sel:\n        Port|neq:\n            - 80\n            - 443\n"
                         "    condition: sel\n");
    assert_int_equal(fires(n, "Port", "8080"), 1);
    assert_int_equal(fires(n, "Port", "443"), 0);
    assert_int_equal(fires(n, "Port", "http"), 0);
}

static void
test_null_exists(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        A: x\n    empty:\n        B: null\n"
                         "    condition: sel and empty\n");
    assert_int_equal(fires(r, "A", "x"), 1);
    assert_int_equal(fires(r, "A", "x", "B", (const char *)NULL), 1);
    assert_int_equal(fires(r, "A", "x", "B", ""), 1);
    assert_int_equal(fires(r, "A", "x", "B", "v"), 0);
    const char *nn = RULE("    sel:\n        A: x\n    f:\n        B: null\n"
                          "    condition: sel and not f\n");
    assert_int_equal(fires(nn, "A", "x", "B", "v"), 1);
    assert_int_equal(fires(nn, "A", "x"), 0);
    const char *e = RULE("    sel:\n        B|exists: true\n    condition: sel\n");
    assert_int_equal(fires(e, "B", ""), 1);
    assert_int_equal(fires(e, "B", (const char *)NULL), 1);
    assert_int_equal(fires(e, "A", "x"), 0);
    const char *ne = RULE("    sel:\n        B|exists: false\n    condition: sel\n");
    assert_int_equal(fires(ne, "A", "x"), 1);
    assert_int_equal(fires(ne, "B", "y"), 0);
}

static void
test_fieldref(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        TargetUser|fieldref: SubjectUser\n"
                         "    condition: sel\n");
    assert_int_equal(fires(r, "TargetUser", "Bob", "SubjectUser", "bob"), 1);
    assert_int_equal(fires(r, "TargetUser", "bob", "SubjectUser", "alice"), 0);
    assert_int_equal(fires(r, "TargetUser", "bob"), 0);
    const char *n = RULE("    sel:\n        TargetUser|fieldref|neq: SubjectUser\n"
                         "    condition: sel\n");
    assert_int_equal(fires(n, "TargetUser", "bob", "SubjectUser", "alice"), 1);
    assert_int_equal(fires(n, "TargetUser", "bob", "SubjectUser", "bob"), 0);
}

static void
test_expand(void **state)
{
    (void)state;
    const char *vals[] = {"admin*", "root"};
    struct bn_placeholder ph = {"Administrators", vals, 2};
    struct bn_compile_opts o = {&ph, 1, false};
    const char *r = RULE("    sel:\n        User|expand: '%Administrators%'\n    condition: sel\n");
    assert_int_equal(fires_opts(r, &o, "User", "Admin_bob", NULL), 1);
    assert_int_equal(fires_opts(r, &o, "User", "ROOT", NULL), 1);
    assert_int_equal(fires_opts(r, &o, "User", "bob", NULL), 0);
    const char *lit = RULE("    sel:\n        User|expand: 'x\\%Administrators%'\n"
                           "    condition: sel\n");
    assert_int_equal(fires_opts(lit, &o, "User", "x%Administrators%", NULL), 1);
    assert_int_equal(fires_opts(lit, &o, "User", "xroot", NULL), 0);
    const char *plain = RULE("    sel:\n        User: '%Administrators%'\n    condition: sel\n");
    assert_int_equal(fires_opts(plain, &o, "User", "%administrators%", NULL), 1);
    assert_int_equal(fires_opts(plain, &o, "User", "root", NULL), 0);

    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(
        RULE("    sel:\n        User|expand: '%Servers%'\n    condition: sel\n"), &o, &dc);
    assert_int_equal(bn_ruleset_count(rs), 0);
    assert_int_equal(dc.code, BN_EUNSUP);
    assert_non_null(strstr(dc.msg, "%Servers%"));
    assert_non_null(strstr(dc.msg, "test.yml:"));
    bn_ruleset_free(rs);
}

static void
test_timeparts(void **state)
{
    (void)state;
    const char *h = RULE("    sel:\n        UtcTime|hour|gte: 20\n    condition: sel\n");
    assert_int_equal(fires(h, "UtcTime", "2024-03-05 21:10:00.123"), 1);
    assert_int_equal(fires(h, "UtcTime", "2024-03-05T08:10:00Z"), 0);
    assert_int_equal(fires(h, "UtcTime", "garbage"), 0);
    const char *mi = RULE("    sel:\n        UtcTime|minute: 10\n    condition: sel\n");
    assert_int_equal(fires(mi, "UtcTime", "2024-03-05T08:10:00Z"), 1);
    assert_int_equal(fires(mi, "UtcTime", "2024-03-05T08:11:00Z"), 0);
    const char *d = RULE("    sel:\n        UtcTime|day|lt: 6\n    condition: sel\n");
    assert_int_equal(fires(d, "UtcTime", "2024-03-05"), 1);
    assert_int_equal(fires(d, "UtcTime", "2024-03-06"), 0);
    const char *w = RULE("    sel:\n        UtcTime|week: 1\n    condition: sel\n");
    assert_int_equal(fires(w, "UtcTime", "2024-12-30 00:00:00"), 1); /* ISO week 1 of 2025 */
    assert_int_equal(fires(w, "UtcTime", "2024-12-29 00:00:00"), 0); /* week 52 */
    const char *mo = RULE("    sel:\n        UtcTime|month|gt: 6\n    condition: sel\n");
    assert_int_equal(fires(mo, "UtcTime", "2024-07-01"), 1);
    assert_int_equal(fires(mo, "UtcTime", "2024-06-30"), 0);
    const char *y = RULE("    sel:\n        UtcTime|year: 2024\n    condition: sel\n");
    assert_int_equal(fires(y, "UtcTime", "2024-07-01"), 1);
    assert_int_equal(fires(y, "UtcTime", "2023-07-01"), 0);
}

static void
test_keywords(void **state)
{
    (void)state;
    const char *r = RULE("    keywords:\n        - 'event::clear'\n        - 'sekurlsa'\n"
                         "    condition: keywords\n");
    assert_int_equal(fires(r, "Unnamed", "mimikatz # Event::Clear now"), 1);
    assert_int_equal(fires(r, "CommandLine", "x sekurlsa::logonpasswords"), 1);
    assert_int_equal(fires(r, "CommandLine", "event:clear"), 0);
    const char *a = RULE("    keywords:\n        '|all':\n            - 'OabVirtualDirectory'\n"
                         "            - ' -ExternalUrl '\n    condition: keywords\n");
    assert_int_equal(fires(a, "P", "Set-OabVirtualDirectory -ExternalUrl http://x"), 1);
    assert_int_equal(fires(a, "P", "Set-OabVirtualDirectory", "Q", "a -ExternalUrl b"), 1);
    assert_int_equal(fires(a, "P", "Set-OabVirtualDirectory -InternalUrl x"), 0);
    const char *w = RULE("    keywords:\n        - 'a*z'\n    condition: keywords\n");
    assert_int_equal(fires(w, "P", "xxa123zxx"), 1);
    assert_int_equal(fires(w, "P", "xxz123axx"), 0);
}

static void
test_conditions(void **state)
{
    (void)state;
    const char *det = "    selection_a:\n        A: '1'\n    selection_b:\n        B: '1'\n"
                      "    _hidden:\n        C: '1'\n    filter_x:\n        D: '1'\n";
    char buf[2048];
    struct {
        const char *cond;
        const char *a, *b, *c, *d;
        int want;
    } cases[] = {
        {"1 of selection_*", "1", "0", "0", "0", 1},
        {"1 of selection_*", "0", "0", "1", "0", 0},
        {"all of selection_*", "1", "1", "0", "0", 1},
        {"all of selection_*", "1", "0", "0", "0", 0},
        {"1 of them", "0", "0", "0", "1", 1},
        {"1 of them", "0", "0", "1", "0", 0},
        {"all of them", "1", "1", "0", "1", 1},
        {"all of them", "1", "1", "1", "0", 0},
        {"selection_a and not filter_x", "1", "0", "0", "0", 1},
        {"selection_a and not filter_x", "1", "0", "0", "1", 0},
        {"selection_a and (selection_b or _hidden)", "1", "0", "1", "0", 1},
        {"selection_a and (selection_b or _hidden)", "1", "0", "0", "1", 0},
        {"not 1 of selection*", "0", "0", "1", "1", 1},
        {"not 1 of selection*", "0", "1", "1", "1", 0},
        {"1 of selection_* and not 1 of filter*", "0", "1", "0", "0", 1},
        {"1 of selection_* and not 1 of filter*", "0", "1", "0", "1", 0},
        {"all of sel*_a or _hidden", "0", "0", "1", "0", 1},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(cases); i++) {
        snprintf(buf, sizeof(buf), RULE("%s    condition: %s\n"), det, cases[i].cond);
        int got = fires(buf, "A", cases[i].a, "B", cases[i].b, "C", cases[i].c, "D", cases[i].d);
        if (got != cases[i].want)
            fail_msg("condition '%s' case %zu: got %d want %d", cases[i].cond, i, got,
                     cases[i].want);
    }
    /* a list of conditions is OR-ed */
    const char *lst = RULE("    a:\n        A: '1'\n    b:\n        B: '1'\n"
                           "    condition:\n        - a\n        - b\n");
    assert_int_equal(fires(lst, "A", "0", "B", "1"), 1);
    assert_int_equal(fires(lst, "A", "0", "B", "0"), 0);
    /* an unknown identifier makes the rule fail with a diagnostic */
    assert_int_equal(fires(RULE("    a:\n        A: '1'\n    condition: a and nope\n"), "A", "1"),
                     BN_EPARSE);
    /* list of maps: OR of ANDs */
    const char *lm = RULE("    sel:\n        - A: '1'\n          B: '1'\n        - C: '1'\n"
                          "    condition: sel\n");
    assert_int_equal(fires(lm, "A", "1", "B", "1"), 1);
    assert_int_equal(fires(lm, "C", "1"), 1);
    assert_int_equal(fires(lm, "A", "1", "B", "0"), 0);
}

static void
test_multivalue_field(void **state)
{
    (void)state;
    const char *r = RULE("    sel:\n        Tag: 'b'\n    condition: sel\n");
    assert_int_equal(fires(r, "Tag", "a", "Tag", "b", "Tag", "c"), 1);
    assert_int_equal(fires(r, "Tag", "a", "Tag", "c"), 0);
}

static const char *const filter_yaml =
    "title: rar\nid: 6f3e2987-db24-4c78-a860-b4f4095a7095\nname: rar_rule\n"
    "logsource:\n    product: windows\n    category: process_creation\n"
    "detection:\n    sel:\n        Image|endswith: '\\rar.exe'\n    condition: sel\n"
    "---\n"
    "title: other\nid: 22222222-2222-2222-2222-222222222222\n"
    "logsource:\n    product: windows\n    category: process_creation\n"
    "detection:\n    sel:\n        Image|endswith: '\\rar.exe'\n    condition: sel\n"
    "---\n"
    "title: Filter admins\nlogsource:\n    category: process_creation\n    product: windows\n"
    "filter:\n    rules:\n        - rar_rule\n    selection:\n        User|startswith: 'adm_'\n"
    "    condition: selection\n";

static void
test_filters(void **state)
{
    (void)state;
    struct bn_ruleset *rs = compile_yaml(filter_yaml, NULL, NULL);
    assert_int_equal(bn_ruleset_count(rs), 3);
    assert_false(bn_ruleset_rule_alerts(rs, 2)); /* the filter itself */
    struct bn_event ev;
    ev_make(rs, &ev);
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    uint32_t img = bn_fieldtab_lookup(ft, "Image", 5), usr = bn_fieldtab_lookup(ft, "User", 4);
    assert_int_not_equal(usr, BN_FIELD_NONE);
    bn_event_add(&ev, img, "Image", 5, "C:\\rar.exe", 10, BN_VT_STR, 0);
    bn_event_add(&ev, usr, "User", 4, "adm_bob", 7, BN_VT_STR, 0);
    uint32_t hits[4];
    assert_int_equal(match_both(rs, &ev, hits, 4), 1);
    assert_int_equal(hits[0], 1); /* only the unfiltered rule */
    bn_event_clear(&ev);
    ev.product = "windows";
    ev.category = "process_creation";
    bn_event_add(&ev, img, "Image", 5, "C:\\rar.exe", 10, BN_VT_STR, 0);
    bn_event_add(&ev, usr, "User", 4, "bob", 3, BN_VT_STR, 0);
    assert_int_equal(match_both(rs, &ev, hits, 4), 2);
    bn_event_release(&ev);
    bn_ruleset_free(rs);

    /* a filter for another logsource does not apply */
    const char *other = "title: a\nname: a\nlogsource:\n    product: windows\n"
                        "    category: process_creation\n"
                        "detection:\n    sel:\n        Image: x\n    condition: sel\n---\n"
                        "title: f\nlogsource:\n    product: linux\nfilter:\n    rules:\n"
                        "        - a\n    selection:\n        Image: x\n    condition: selection\n";
    assert_int_equal(fires(other, "Image", "x"), 1);
}

static void
test_routing(void **state)
{
    (void)state;
    struct bn_ruleset *rs = compile_yaml(
        "title: win\nlogsource:\n    product: windows\n    service: security\n"
        "detection:\n    sel:\n        A: x\n    condition: sel\n---\n"
        "title: any\nlogsource:\n    category: process_creation\n"
        "detection:\n    sel:\n        A: x\n    condition: sel\n---\n"
        "title: linux\nlogsource:\n    product: Linux\n"
        "detection:\n    sel:\n        A: x\n    condition: sel\n---\n"
        "title: nots\nlogsource:\n    product: linux\n"
        "detection:\n    sel:\n        A: x\n    condition: not sel\n",
        NULL, NULL);
    assert_int_equal(bn_ruleset_count(rs), 4);
    struct bn_event ev;
    ev_make(rs, &ev);
    uint32_t a = bn_fieldtab_lookup(bn_ruleset_fields(rs), "A", 1);
    bn_event_add(&ev, a, "A", 1, "x", 1, BN_VT_STR, 0);
    uint32_t hits[8];
    ev.product = "windows";
    ev.category = NULL;
    ev.service = "security";
    assert_int_equal(match_both(rs, &ev, hits, 8), 1);
    assert_int_equal(hits[0], 0);
    ev.product = "linux";
    ev.service = NULL;
    ev.category = "process_creation";
    assert_int_equal(match_both(rs, &ev, hits, 8), 2);
    assert_int_equal(hits[0], 1);
    assert_int_equal(hits[1], 2);
    bn_event_clear(&ev);
    ev.product = "LINUX";
    bn_event_add(&ev, a, "A", 1, "y", 1, BN_VT_STR, 0);
    assert_int_equal(match_both(rs, &ev, hits, 8), 1);
    assert_int_equal(hits[0], 3);
    bn_event_release(&ev);
    bn_ruleset_free(rs);

    /* ignore_logsource: every rule for every event */
    struct bn_compile_opts o = {NULL, 0, true};
    rs = compile_yaml("title: win\nlogsource:\n    product: windows\n"
                      "detection:\n    sel:\n        A: x\n    condition: sel\n",
                      &o, NULL);
    ev_make(rs, &ev);
    ev.product = "macos";
    a = bn_fieldtab_lookup(bn_ruleset_fields(rs), "A", 1);
    bn_event_add(&ev, a, "A", 1, "x", 1, BN_VT_STR, 0);
    assert_int_equal(match_both(rs, &ev, hits, 8), 1);
    bn_event_release(&ev);
    bn_ruleset_free(rs);
}

static void
test_correlation_links(void **state)
{
    (void)state;
    const char *y =
        "title: base\nname: failed_logon\nlogsource:\n    product: windows\n"
        "detection:\n    sel:\n        EventID: 4625\n    condition: sel\n---\n"
        "title: other\nid: 33333333-3333-3333-3333-333333333333\nlogsource:\n"
        "    product: windows\ndetection:\n    sel:\n        EventID: 4624\n"
        "    condition: sel\n---\n"
        "title: spray\ncorrelation:\n    type: event_count\n    rules:\n        - failed_logon\n"
        "    group-by:\n        - IpAddress\n    timespan: 5m\n    condition:\n        gte: 10\n"
        "    generate: false\n---\n"
        "title: broken\ncorrelation:\n    type: event_count\n    rules:\n        - nope\n"
        "    group-by:\n        - IpAddress\n    timespan: 5m\n    condition:\n        gte: 10\n";
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(y, NULL, &dc);
    assert_int_equal(bn_ruleset_count(rs), 3);
    assert_true(dc.n >= 1);
    assert_non_null(strstr(dc.msg, "nope"));
    assert_false(bn_ruleset_rule_alerts(rs, 0));
    assert_true(bn_ruleset_rule_alerts(rs, 1));
    size_t n;
    const uint32_t *refs = bn_ruleset_corr_refs(rs, 2, &n);
    assert_int_equal(n, 1);
    assert_int_equal(refs[0], 0);
    assert_null(bn_ruleset_corr_refs(rs, 0, &n));
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    assert_int_equal(st.detection_rules, 2);
    assert_int_equal(st.correlation_rules, 1);
    /* the base rule still matches (the correlator needs it) */
    struct bn_event ev;
    ev_make(rs, &ev);
    uint32_t id = bn_fieldtab_lookup(bn_ruleset_fields(rs), "EventID", 7);
    bn_event_add(&ev, id, "EventID", 7, "4625", 4, BN_VT_NUM, 0);
    uint32_t hits[4];
    assert_int_equal(match_both(rs, &ev, hits, 4), 1);
    assert_int_equal(hits[0], 0);
    bn_event_release(&ev);
    bn_ruleset_free(rs);
}

static void
test_bad_rule_does_not_stop_set(void **state)
{
    (void)state;
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(
        RULE("    sel:\n        A|re: '(('\n    condition: sel\n") "---\n"
        RULE("    sel:\n        A: ok\n    condition: sel\n"),
        NULL, &dc);
    assert_int_equal(bn_ruleset_count(rs), 1);
    assert_int_equal(dc.n, 1);
    assert_int_equal(dc.code, BN_EPARSE);
    assert_non_null(strstr(dc.msg, "test.yml:"));
    bn_ruleset_free(rs);
}

static void
test_alloc_failures(void **state)
{
    (void)state;
    const char *y = filter_yaml;
    unsigned long ok_at = 0;
    for (unsigned long fail = 1; fail < 100000; fail++) {
        struct sigma_rule **rules = NULL;
        size_t n = 0;
        assert_int_equal(sigma_parse_mem(y, strlen(y), "t.yml", &rules, &n, NULL, NULL), 0);
        assert_int_equal(n, 3);
        struct bn_ruleset *rs = NULL;
        bn_alloc_fail_after(fail);
        int rc = bn_ruleset_compile(&rs, rules, n, NULL, NULL, NULL);
        struct bn_scratch *s = rc == 0 ? bn_scratch_new(rs) : NULL;
        bn_alloc_fail_after(0);
        bn_free(rules);
        if (rc == 0) {
            assert_non_null(rs);
            bn_scratch_free(s);
            bn_ruleset_free(rs);
            if (s) {
                ok_at = fail;
                break;
            }
            continue;
        }
        assert_int_equal(rc, BN_ENOMEM);
        assert_null(rs);
    }
    assert_true(ok_at > 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_case),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_contains_startswith_endswith),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_re),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_utf16),
        cmocka_unit_test(test_windash),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_neq),
        cmocka_unit_test(test_null_exists),
        cmocka_unit_test(test_fieldref),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_timeparts),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_multivalue_field),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_correlation_links),
        cmocka_unit_test(test_bad_rule_does_not_stop_set),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
