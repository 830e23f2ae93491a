/*
 * test_engine_prefilter.c - the trigger-literal prefilter and the direct evaluators behind it:
 * the caseless memmem against a byte-by-byte reference, a randomized differential test with
 * word-sized literals (so rules do get covers) over long values (> 64 bytes, literals at the
 * very start or end) and with literals placed in the wrong field (field confusion must only
 * add candidates), and the scratch work counters.
 */
#include "unit/engine/engine_test.h"

#include "detect/engine_int.h"

static uint64_t seed_state;

static uint32_t
rnd(uint32_t n)
{
    seed_state ^= seed_state << 13;
    seed_state ^= seed_state >> 7;
    seed_state ^= seed_state << 17;
    return (uint32_t)(seed_state % n);
}

static bool
ref_memmem(const char *h, size_t hl, const char *n, size_t nl, bool cased)
{
    for (size_t i = 0; i + nl <= hl; i++) {
        size_t k = 0;
        for (; k < nl; k++) {
            unsigned char a = (unsigned char)h[i + k], b = (unsigned char)n[k];
            if (!cased) {
                a = a >= 'A' && a <= 'Z' ? (unsigned char)(a + 32) : a;
                b = b >= 'A' && b <= 'Z' ? (unsigned char)(b + 32) : b;
            }
            if (a != b)
                break;
        }
        if (k == nl)
            return true;
    }
    return false;
}

static void
test_memmem_fold(void **state)
{
    (void)state;
    static const char alpha[] = "aAbB\\.-xX\x80\xc3";
    seed_state = 0x1234567887654321ull;
    char hay[300], nd[40];
    uint8_t folded[40];
    for (int t = 0; t < 200000; t++) {
        size_t hl = rnd(2) ? rnd(20) : rnd(sizeof(hay));
        size_t nl = 1 + rnd(rnd(4) == 0 ? 39 : 4);
        for (size_t i = 0; i < hl; i++)
            hay[i] = alpha[rnd(sizeof(alpha) - 1)];
        if (hl >= nl && rnd(2)) {
            /* plant the needle, often at the very start or end */
            size_t at = rnd(3) == 0 ? 0 : rnd(2) ? hl - nl : rnd((uint32_t)(hl - nl + 1));
            memcpy(nd, hay + at, nl);
        } else {
            for (size_t i = 0; i < nl; i++)
                nd[i] = alpha[rnd(sizeof(alpha) - 1)];
        }
        bool cased = rnd(4) == 0;
        for (size_t i = 0; i < nl; i++) {
            unsigned char c = (unsigned char)nd[i];
            folded[i] = cased || c < 'A' || c > 'Z' ? c : (uint8_t)(c + 32);
        }
        bool want = ref_memmem(hay, hl, nd, nl, cased);
        bool got = bn__memmem_fold(hay, hl, folded, nl, cased);
        if (want != got)
            fail_msg("memmem: hay %zu needle %zu cased %d: want %d got %d", hl, nl, cased, want,
                     got);
    }
}

static const char *const words[] = {
    "powershell", "EncodedCommand", "\\cmd.exe", "rundll32", "Invoke-Expression", "certutil",
    "urlcache", "\\AppData\\Local\\Temp\\", "mimikatz", "sekurlsa", "vssadmin", "shadowcopy",
    "bypass", "hidden", "DownloadString", ".ps1", "regsvr32", "scrobj.dll", "whoami", "/priv",
};
static const char *const fields[] = {"Image", "CommandLine", "ParentImage", "User"};

static void
gen_item(char *buf, size_t cap, size_t *len)
{
    const char *f = fields[rnd(BN_ARRAY_SIZE(fields))];
    const char *a = words[rnd(BN_ARRAY_SIZE(words))];
    const char *b = words[rnd(BN_ARRAY_SIZE(words))];
    switch (rnd(12)) {
    case 0:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s: '%s'\n", f, a);
        break;
    case 1:
        *len += (size_t)snprintf(buf + *len, cap - *len,
                                 "        %s|contains:\n            - '%s'\n            - '%s'\n",
                                 f, a, b);
        break;
    case 2:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|startswith: '%s'\n", f, a);
        break;
    case 3:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|endswith: '%s'\n", f, a);
        break;
    case 4:
        *len += (size_t)snprintf(buf + *len, cap - *len,
                                 "        %s|contains|all:\n            - '%s'\n            - '%s'\n",
                                 f, a, b);
        break;
    case 5:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|contains|cased: '%s'\n", f,
                                 a);
        break;
    case 6:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|windash|contains: ' -%s'\n",
                                 f, a[0] == '\\' || a[0] == '/' || a[0] == '.' ? "enc" : a);
        break;
    case 7:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s: '*%s*%s'\n", f, a, b);
        break;
    case 8:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s: '%s?%s*'\n", f, a, b);
        break;
    case 9:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|re: '(?i)%s'\n", f, "cmd");
        break;
    case 10:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|contains: 'ab'\n", f);
        break;
    default:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|base64offset|contains: '%s'\n",
                                 f, a);
        break;
    }
}

static const char *const conds[] = {
    "sel1", "sel1 and sel2", "sel1 or not sel2", "1 of sel*", "all of sel*",
    "(sel1 or sel2) and not sel3", "kw and sel1", "kw or sel2", "kw",
};

static size_t
gen_rule(char *buf, size_t cap, int r)
{
    size_t len = (size_t)snprintf(buf, cap,
                                  "title: p%d\nlogsource:\n    product: windows\n%sdetection:\n",
                                  r, rnd(2) ? "    category: process_creation\n" : "");
    for (int s = 1; s <= 3; s++) {
        len += (size_t)snprintf(buf + len, cap - len, "    sel%d:\n", s);
        int nitems = 1 + (int)rnd(2);
        for (int i = 0; i < nitems; i++)
            gen_item(buf, cap, &len);
    }
    len += (size_t)snprintf(buf + len, cap - len, "    kw:\n        - '%s'\n",
                            words[rnd(BN_ARRAY_SIZE(words))]);
    len += (size_t)snprintf(buf + len, cap - len, "    condition: %s\n",
                            conds[rnd(BN_ARRAY_SIZE(conds))]);
    return len;
}

/* A value of 0..n words with filler; long ones exceed 64 bytes, words often at an edge. */
static void
gen_value(char *out, size_t cap)
{
    size_t k = 0;
    int n = (int)rnd(6);
    if (rnd(3) == 0) {
        /* long filler first so the literal sits at the very end of a > 64-byte value */
        size_t fill = 64 + rnd(120);
        for (size_t i = 0; i < fill && k + 1 < cap; i++)
            out[k++] = "abcdefgh ;:_0123"[rnd(16)];
    }
    for (int i = 0; i < n && k + 40 < cap; i++) {
        const char *w = words[rnd(BN_ARRAY_SIZE(words))];
        if (rnd(2)) {
            int lead = (int)rnd(4);
            for (int j = 0; j < lead; j++)
                out[k++] = rnd(2) ? ' ' : 'z';
        }
        if (rnd(5) == 0) {
            out[k++] = ' ';
            out[k++] = rnd(2) ? '/' : '-';
            w = rnd(2) ? "enc" : words[rnd(BN_ARRAY_SIZE(words))];
        }
        size_t wl = strlen(w);
        for (size_t j = 0; j < wl; j++) {
            char c = w[j];
            if (rnd(3) == 0 && c >= 'a' && c <= 'z')
                c = (char)(c - 32);
            out[k++] = c;
        }
    }
    if (rnd(4) == 0 && k + 64 < cap) /* and sometimes a long tail after it */
        for (int i = 0; i < 70; i++)
            out[k++] = "ijklmnop -/"[rnd(11)];
    out[k] = '\0';
}

static void
run_seed(uint64_t seed)
{
    seed_state = seed;
    size_t cap = 1u << 16;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    struct sigma_rule **rules = NULL;
    size_t nr = 0;
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    for (int r = 0; r < 200; r++) {
        size_t len = gen_rule(yaml, cap, r);
        assert_int_equal(sigma_parse_mem(yaml, len, "gen.yml", &rules, &nr, parse_diag_cb, &dc),
                         0);
    }
    struct bn_ruleset *rs = NULL;
    assert_int_equal(bn_ruleset_compile(&rs, rules, nr, NULL, diag_cb, &dc), 0);
    bn_free(rules);
    if (dc.n)
        print_message("%d diagnostics, last: %s\n", dc.n, dc.msg);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    /* word literals give most rules a cover: the prefilter is really exercised */
    assert_true(st.literals > 10);
    assert_true(st.always_eval < st.detection_rules / 2);
    struct bn_scratch *s = bn_scratch_new(rs);
    assert_non_null(s);
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    static char vals[8][400];
    size_t total = 0;
    for (int e = 0; e < 1500; e++) {
        struct bn_event ev;
        ev_make(rs, &ev);
        ev.product = "windows";
        ev.category = rnd(2) ? "process_creation" : NULL;
        int nv = 1 + (int)rnd(7);
        for (int k = 0; k < nv; k++) {
            /* any field: a rule's literal often lands in another field than the rule's */
            const char *f = fields[rnd(BN_ARRAY_SIZE(fields))];
            gen_value(vals[k], sizeof(vals[k]));
            uint32_t id = bn_fieldtab_lookup(ft, f, strlen(f));
            assert_int_equal(bn_event_add(&ev, id, f, strlen(f), vals[k], strlen(vals[k]),
                                          BN_VT_STR, 0),
                             0);
        }
        const uint32_t *h1, *h2;
        size_t n1, n2;
        static uint32_t copy[512];
        assert_int_equal(bn_ruleset_match(rs, s, &ev, &h1, &n1), 0);
        assert_true(n1 <= 512);
        memcpy(copy, h1, n1 * sizeof(*h1));
        assert_int_equal(bn_ruleset_match_naive(rs, s, &ev, &h2, &n2), 0);
        if (n1 != n2 || memcmp(copy, h2, n1 * sizeof(*h2)) != 0) {
            for (size_t i = 0; i < BN_MAX(n1, n2); i++)
                print_message("  fast %d naive %d\n", i < n1 ? (int)copy[i] : -1,
                              i < n2 ? (int)h2[i] : -1);
            for (uint32_t k = 0; k < ev.nvals; k++)
                print_message("  %s = '%s'\n", ev.vals[k].name, ev.vals[k].s);
            fail_msg("seed %llu event %d: fast %zu hits, naive %zu", (unsigned long long)seed, e,
                     n1, n2);
        }
        total += n1;
        bn_event_release(&ev);
    }
    assert_true(total > 100);
    struct bn_scratch_stats ss;
    bn_scratch_stats(s, &ss);
    /* naive calls do not count; the prefilter must cut work below "every rule" */
    assert_int_equal(ss.events, 1500);
    assert_true(ss.scans > 0 && ss.scans <= ss.events);
    assert_true(ss.candidates < ss.events * bn_ruleset_count(rs));
    assert_int_equal(ss.hits, total);
    bn_scratch_free(s);
    bn_ruleset_free(rs);
    free(yaml);
}

static void
test_diff_long_values_field_confusion(void **state)
{
    (void)state;
    for (uint64_t seed = 11; seed <= 18; seed++)
        run_seed(seed * 0x9e3779b97f4a7c15ull);
}

/* Literal at the end of a long value, in the rule's field; and the same text in another
 * field only (a prefilter hit that must not match). */
static void
test_trigger_edges(void **state)
{
    (void)state;
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml("title: t\nlogsource:\n    product: windows\n"
                                         "detection:\n    sel1:\n"
                                         "        CommandLine|endswith: 'sekurlsa::logonpasswords'\n"
                                         "    sel2:\n"
                                         "        Image|endswith: '\\mimikatz.exe'\n"
                                         "    condition: 1 of sel*\n",
                                         NULL, &dc);
    assert_non_null(rs);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    assert_int_equal(st.always_eval, 0);
    /* an OR is covered by a literal of each operand */
    assert_int_equal(st.literals, 2);
    char longv[200];
    memset(longv, 'a', sizeof(longv));
    memcpy(longv + sizeof(longv) - 24, "SEKURLSA::LogonPasswords", 24);
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    uint32_t cl = bn_fieldtab_lookup(ft, "CommandLine", 11);
    uint32_t im = bn_fieldtab_lookup(ft, "Image", 5);
    struct bn_scratch *s = bn_scratch_new(rs);
    assert_non_null(s);
    const uint32_t *h;
    size_t n;
    struct bn_event ev;
    ev_make(rs, &ev);
    ev.product = "windows";
    bn_event_add(&ev, cl, "CommandLine", 11, longv, sizeof(longv), BN_VT_STR, 0);
    bn_event_add(&ev, im, "Image", 5, "C:\\x\\MIMIKATZ.EXE", 17, BN_VT_STR, 0);
    assert_int_equal(bn_ruleset_match(rs, s, &ev, &h, &n), 0);
    assert_int_equal(n, 1);
    bn_event_release(&ev);
    /* swapped fields: both literals hit the prefilter, the rule must not match */
    ev_make(rs, &ev);
    ev.product = "windows";
    bn_event_add(&ev, im, "Image", 5, longv, sizeof(longv), BN_VT_STR, 0);
    bn_event_add(&ev, cl, "CommandLine", 11, "C:\\x\\MIMIKATZ.EXE", 17, BN_VT_STR, 0);
    assert_int_equal(bn_ruleset_match(rs, s, &ev, &h, &n), 0);
    assert_int_equal(n, 0);
    struct bn_scratch_stats ss;
    bn_scratch_stats(s, &ss);
    assert_int_equal(ss.events, 2);
    assert_int_equal(ss.scans, 2);
    assert_int_equal(ss.candidates, 2);
    assert_int_equal(ss.hits, 1);
    bn_event_release(&ev);
    /* no trigger at all: no candidate */
    ev_make(rs, &ev);
    ev.product = "windows";
    bn_event_add(&ev, im, "Image", 5, "C:\\Windows\\explorer.exe", 23, BN_VT_STR, 0);
    assert_int_equal(bn_ruleset_match(rs, s, &ev, &h, &n), 0);
    assert_int_equal(n, 0);
    bn_scratch_stats(s, &ss);
    assert_int_equal(ss.candidates, 2);
    bn_event_release(&ev);
    bn_scratch_free(s);
    bn_ruleset_free(rs);
}

/* windash values get one dash-free trigger, not one per dash variant. */
static void
test_windash_single_trigger(void **state)
{
    (void)state;
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml("title: t\nlogsource:\n    product: windows\n"
                                         "detection:\n    sel:\n"
                                         "        CommandLine|windash|contains: ' -encodedcommand'\n"
                                         "    condition: sel\n",
                                         NULL, &dc);
    assert_non_null(rs);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    assert_int_equal(st.literals, 1);
    assert_int_equal(st.always_eval, 0);
    assert_int_equal(fires_opts("title: t\nlogsource:\n    product: windows\n"
                                "detection:\n    sel:\n"
                                "        CommandLine|windash|contains: ' -encodedcommand'\n"
                                "    condition: sel\n",
                                NULL, "CommandLine", "powershell \xe2\x80\x94" "EncodedCommand x",
                                NULL),
                     1);
    bn_ruleset_free(rs);
}


/* Required literals of regexes: what every match must contain, or nothing when unsure. */
static void
check_re_lit(const char *re, const char *want)
{
    uint8_t out[48];
    uint32_t n = bn__re_required_lit(re, strlen(re), out, sizeof(out));
    if (n != strlen(want) || memcmp(out, want, n) != 0)
        fail_msg("'%s': got '%.*s' (%u), want '%s'", re, (int)n, (const char *)out, n, want);
}

static void
test_re_required_lit(void **state)
{
    (void)state;
    check_re_lit("(?i)\\bcmd\\.exe", "cmd.exe");
    check_re_lit("powershell.*-enc", "powershell");
    check_re_lit("abc|defgh", "");            /* top-level alternation */
    check_re_lit("(a|b)longlit", "longlit");  /* alternation inside a group */
    check_re_lit("abcd?x", "abc");            /* optional atom */
    check_re_lit("abcd*", "abc");
    check_re_lit("ab+cd", "ab");
    check_re_lit("ab{2}cde", "cde");
    check_re_lit("ab{0,3}cd", "cd");
    check_re_lit("xy{literal", "literal");    /* '{' that is no quantifier */
    check_re_lit("[abc]defg", "defg");
    check_re_lit("[]x|]yyy", "yyy");          /* ']' and '|' inside a class */
    check_re_lit("[[:alpha:]]zzz", "zzz");
    check_re_lit("[^\\]]qqq", "qqq");
    check_re_lit("\\x41bcdef", "");           /* escapes with arguments: give up */
    check_re_lit("\\Qa.b\\Ecdef", "");
    check_re_lit("(\\w)\\1abcd", "");         /* backreference */
    check_re_lit("(?x)a b c d", "");          /* extended mode */
    check_re_lit("(?ix:abc)defg", "");
    check_re_lit("foo(?#c)barbaz", "");
    check_re_lit("(?i:abc)defg", "defg");
    check_re_lit("(?-i)abcdef", "abcdef");
    check_re_lit("(*UTF)abcdef", "");
    check_re_lit("a)bcdef", "");
    check_re_lit("\\\\\\\\server\\\\share", "\\\\server\\share");
    check_re_lit("^abc\\sdefg$", "defg");
    check_re_lit("abc\xc3\xa9xyzw", "xyzw");  /* non-ASCII breaks runs */
    check_re_lit("(abc", "");
    check_re_lit("[abc", "");
    check_re_lit("abc\\", "");
    check_re_lit("", "");
    check_re_lit("0123456789012345678901234567890123456789012345678901234567890123456789",
                 "012345678901234567890123456789012345678901234567");
}

/* A regex with a required literal gets a trigger instead of being evaluated on every event;
 * matching stays exact (case, other fields, keywords). */
static void
test_re_trigger(void **state)
{
    (void)state;
    static const char *const rule = RULE("    sel:\n"
                                         "        CommandLine|re: '(?i)\\bcmd\\.exe\\s+/c'\n"
                                         "    condition: sel\n");
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(rule, NULL, &dc);
    assert_non_null(rs);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    assert_int_equal(st.always_eval, 0);
    assert_int_equal(st.literals, 1);
    bn_ruleset_free(rs);
    assert_int_equal(fires(rule, "CommandLine", "C:\\Windows\\CMD.EXE /c whoami"), 1);
    assert_int_equal(fires(rule, "CommandLine", "C:\\Windows\\xcmd.exe /c whoami"), 0);
    assert_int_equal(fires(rule, "CommandLine", "cmd.ex /c", "Image", "cmd.exe /c"), 0);
    assert_int_equal(fires(rule, "Image", "cmd.exe /c"), 0);
    /* a case-sensitive regex: the caseless trigger hits, the regex decides */
    static const char *const cased = RULE("    sel:\n"
                                          "        CommandLine|re: 'Invoke-[A-Z]\\w+Shell'\n"
                                          "    condition: sel\n");
    assert_int_equal(fires(cased, "CommandLine", "x Invoke-PowerShell y"), 1);
    assert_int_equal(fires(cased, "CommandLine", "x invoke-powershell y"), 0);
    /* keywords: every value is scanned */
    static const char *const kw = RULE("    kw:\n"
                                       "        '|re': 'mimi[k]atz'\n"
                                       "    condition: kw\n");
    assert_int_equal(fires(kw, "User", "x", "ParentImage", "C:\\mimikatz.exe"), 1);
    assert_int_equal(fires(kw, "User", "mimi", "ParentImage", "katz"), 0);
    /* without a usable literal the rule stays always-evaluated and exact */
    static const char *const alt = RULE("    sel:\n"
                                        "        CommandLine|re: 'certutil|bitsadmin'\n"
                                        "    condition: sel\n");
    rs = compile_yaml(alt, NULL, &dc);
    assert_non_null(rs);
    bn_ruleset_stats(rs, &st);
    assert_int_equal(st.always_eval, 1);
    bn_ruleset_free(rs);
    assert_int_equal(fires(alt, "CommandLine", "BITSADMIN /transfer"), 0);
    assert_int_equal(fires(alt, "CommandLine", "bitsadmin /transfer"), 1);
}

/* A rule without a cover still has its literal predicates answered by the scan: they are in
 * the database (with no rules behind them) and a miss makes them false. */
static void
test_always_rule_gated(void **state)
{
    (void)state;
    static const char *const rule = RULE("    sel:\n"
                                         "        Image|endswith: '\\evil.exe'\n"
                                         "        User|contains: 'admin'\n"
                                         "    other:\n"
                                         "        CommandLine|re: '^(ab|cd)$'\n"
                                         "    condition: sel or other\n");
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(rule, NULL, &dc);
    assert_non_null(rs);
    struct bn_ruleset_stats st;
    bn_ruleset_stats(rs, &st);
    assert_int_equal(st.always_eval, 1);
    assert_int_equal(st.literals, 2);
    bn_ruleset_free(rs);
    assert_int_equal(fires(rule, "CommandLine", "xab", "Image", "C:\\EVIL.EXE", "User",
                           "CORP\\Admin"), 1);
    assert_int_equal(fires(rule, "CommandLine", "cd", "Image", "x"), 1);
    /* literals in the wrong fields, at a value's edge, split across values */
    assert_int_equal(fires(rule, "CommandLine", "ab \\evil.exe", "Image", "admin", "User",
                           "CORP\\Admin"), 0);
    assert_int_equal(fires(rule, "CommandLine", "cdx", "Image", "C:\\evil.exe\\x", "User",
                           "admin"), 0);
    assert_int_equal(fires(rule, "CommandLine", "cdx", "Image", "C:\\evil.exe", "User", "adm",
                           "User", "in"), 0);
    assert_int_equal(fires(rule, "CommandLine", "cdx", "Image", "C:\\evil.exe", "User", "adm",
                           "User", "admin"), 1);
}

/* The generation counter wraps (predicate memos keep gen << 1): results stay the same. */
static void
test_generation_wrap(void **state)
{
    (void)state;
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    struct bn_ruleset *rs = compile_yaml(RULE("    sel:\n"
                                              "        Image|endswith: '\\evil.exe'\n"
                                              "    condition: sel\n"),
                                         NULL, &dc);
    assert_non_null(rs);
    struct bn_scratch *s = bn_scratch_new(rs);
    assert_non_null(s);
    uint32_t im = bn_fieldtab_lookup(bn_ruleset_fields(rs), "Image", 5);
    struct bn_event yes, no;
    ev_make(rs, &yes);
    ev_make(rs, &no);
    yes.product = no.product = "windows";
    yes.category = no.category = "process_creation";
    bn_event_add(&yes, im, "Image", 5, "C:\\evil.exe", 11, BN_VT_STR, 0);
    bn_event_add(&no, im, "Image", 5, "C:\\good.exe", 11, BN_VT_STR, 0);
    s->gen = (1u << 31) - 3;
    const uint32_t *h;
    size_t n;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(bn_ruleset_match(rs, s, (i & 1) ? &no : &yes, &h, &n), 0);
        assert_int_equal(n, (i & 1) ? 0 : 1);
        assert_true(s->gen < 1u << 31);
    }
    bn_event_release(&yes);
    bn_event_release(&no);
    bn_scratch_free(s);
    bn_ruleset_free(rs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memmem_fold),
        cmocka_unit_test(test_trigger_edges),
        cmocka_unit_test(test_windash_single_trigger),
        cmocka_unit_test(test_diff_long_values_field_confusion),
        cmocka_unit_test(test_re_required_lit),
        cmocka_unit_test(test_re_trigger),
        cmocka_unit_test(test_always_rule_gated),
        cmocka_unit_test(test_generation_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
