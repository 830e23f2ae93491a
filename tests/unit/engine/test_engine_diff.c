/*
 * test_engine_diff.c - randomized differential test: many generated rules (wildcards,
 * escapes, modifiers, keywords, numeric and null/exists items, nested conditions, several
 * logsources) and many generated events; the fast matcher must report exactly what the naive
 * oracle reports for every event.
 */
#include "unit/engine/engine_test.h"

static uint64_t seed_state;

static uint32_t
rnd(uint32_t n)
{
    seed_state ^= seed_state << 13;
    seed_state ^= seed_state >> 7;
    seed_state ^= seed_state << 17;
    return (uint32_t)(seed_state % n);
}

static const char *const fields[] = {"Image", "CommandLine", "User", "Num", "Other"};
static const char alpha[] = "abAB-/\\.x1 ";

static void
gen_text(char *out, size_t cap, bool wild)
{
    size_t n = 1 + rnd(5), k = 0;
    for (size_t i = 0; i < n && k + 3 < cap; i++) {
        if (wild && rnd(6) == 0)
            out[k++] = rnd(2) ? '*' : '?';
        else
            out[k++] = alpha[rnd(sizeof(alpha) - 1)];
    }
    out[k] = '\0';
}

static void
gen_item(char *buf, size_t cap, size_t *len)
{
    const char *f = fields[rnd(4)];
    char v[32], v2[32];
    gen_text(v, sizeof(v), true);
    gen_text(v2, sizeof(v2), true);
    switch (rnd(14)) {
    case 0:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s: '%s'\n", f, v);
        break;
    case 1:
        *len += (size_t)snprintf(buf + *len, cap - *len,
                                 "        %s|contains:\n            - '%s'\n            - '%s'\n",
                                 f, v, v2);
        break;
    case 2:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|startswith: '%s'\n", f, v);
        break;
    case 3:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|endswith: '%s'\n", f, v);
        break;
    case 4:
        *len += (size_t)snprintf(buf + *len, cap - *len,
                                 "        %s|contains|all:\n            - '%s'\n            - '%s'\n",
                                 f, v, v2);
        break;
    case 5:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|contains|cased: '%s'\n", f,
                                 v);
        break;
    case 6:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|re: '%s'\n", f,
                                 rnd(2) ? "a.b" : "^[ab]+$");
        break;
    case 7:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|windash|contains: ' -%s'\n",
                                 f, rnd(2) ? "ab" : "x");
        break;
    case 8:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|neq: '%s'\n", f, v);
        break;
    case 9:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|exists: %s\n", f,
                                 rnd(2) ? "true" : "false");
        break;
    case 10:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s: null\n", f);
        break;
    case 11:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        Num|%s: %u\n",
                                 rnd(2) ? "lt" : "gte", rnd(20));
        break;
    case 12:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        Num: %u\n", rnd(20));
        break;
    default:
        *len += (size_t)snprintf(buf + *len, cap - *len, "        %s|endswith: '\\%s'\n", f, v);
        break;
    }
}

static const char *const conds[] = {
    "sel1", "sel1 and sel2", "sel1 or not sel2", "1 of sel*", "all of sel*",
    "not sel1", "(sel1 or sel2) and not sel3", "1 of them", "sel3 and not 1 of sel1",
    "kw and sel1", "kw or sel2",
};

static size_t
gen_rule(char *buf, size_t cap, int r)
{
    size_t len = 0;
    {
        const char *prod = rnd(3) == 0 ? "linux" : "windows";
        len += (size_t)snprintf(buf + len, cap - len,
                                "title: r%d\nlogsource:\n    product: %s\n%s"
                                "detection:\n",
                                r, prod,
                                rnd(2) ? "    category: process_creation\n" : "");
        for (int s = 1; s <= 3; s++) {
            len += (size_t)snprintf(buf + len, cap - len, "    sel%d:\n", s);
            int nitems = 1 + (int)rnd(2);
            for (int i = 0; i < nitems; i++)
                gen_item(buf, cap, &len);
        }
        char kw[32];
        gen_text(kw, sizeof(kw), true);
        len += (size_t)snprintf(buf + len, cap - len, "    kw:\n        - '%s'\n", kw);
        len += (size_t)snprintf(buf + len, cap - len, "    condition: %s\n",
                                conds[rnd(BN_ARRAY_SIZE(conds))]);
    }
    return len;
}

static void
run_seed(uint64_t seed, bool ignore_ls)
{
    seed_state = seed;
    size_t cap = 1u << 16;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    struct sigma_rule **rules = NULL;
    size_t nr = 0;
    struct diagcap dc;
    memset(&dc, 0, sizeof(dc));
    for (int r = 0; r < 150; r++) {
        size_t len = gen_rule(yaml, cap, r);
        assert_int_equal(sigma_parse_mem(yaml, len, "gen.yml", &rules, &nr, parse_diag_cb, &dc),
                         0);
    }
    struct bn_compile_opts o = {NULL, 0, ignore_ls};
    struct bn_ruleset *rs = NULL;
    assert_int_equal(bn_ruleset_compile(&rs, rules, nr, &o, diag_cb, &dc), 0);
    bn_free(rules);
    if (dc.n)
        print_message("%d diagnostics, last: %s\n", dc.n, dc.msg);
    assert_true(bn_ruleset_count(rs) > 100);
    struct bn_scratch *s = bn_scratch_new(rs);
    assert_non_null(s);
    const struct bn_fieldtab *ft = bn_ruleset_fields(rs);
    char vals[8][32];
    size_t total = 0;
    for (int e = 0; e < 1500; e++) {
        struct bn_event ev;
        ev_make(rs, &ev);
        ev.product = rnd(3) == 0 ? "linux" : "windows";
        ev.category = rnd(2) ? "process_creation" : NULL;
        int nv = (int)rnd(8);
        for (int k = 0; k < nv; k++) {
            const char *f = fields[rnd(BN_ARRAY_SIZE(fields))];
            if (strcmp(f, "Num") == 0 && rnd(2))
                snprintf(vals[k], sizeof(vals[k]), "%u", rnd(25));
            else
                gen_text(vals[k], sizeof(vals[k]), false);
            if (rnd(3) == 0) /* often reuse rule-like text: contains a windash flag */
                snprintf(vals[k], sizeof(vals[k]), "%s -ab", rnd(2) ? "cmd" : "x");
            bool null = rnd(10) == 0;
            uint32_t id = bn_fieldtab_lookup(ft, f, strlen(f));
            assert_int_equal(bn_event_add(&ev, id, f, strlen(f), null ? NULL : vals[k],
                                          null ? 0 : strlen(vals[k]),
                                          null ? BN_VT_NULL : BN_VT_STR, 0),
                             0);
        }
        const uint32_t *h1, *h2;
        size_t n1, n2;
        uint32_t copy[256];
        assert_int_equal(bn_ruleset_match(rs, s, &ev, &h1, &n1), 0);
        assert_true(n1 <= 256);
        memcpy(copy, h1, n1 * sizeof(*h1));
        assert_int_equal(bn_ruleset_match_naive(rs, s, &ev, &h2, &n2), 0);
        if (n1 != n2 || memcmp(copy, h2, n1 * sizeof(*h2)) != 0) {
            for (size_t i = 0; i < BN_MAX(n1, n2); i++)
                print_message("  fast %d naive %d\n", i < n1 ? (int)copy[i] : -1,
                              i < n2 ? (int)h2[i] : -1);
            for (uint32_t k = 0; k < ev.nvals; k++)
                print_message("  %s = '%s'\n", ev.vals[k].name,
                              ev.vals[k].s ? ev.vals[k].s : "(null)");
            fail_msg("seed %llu event %d: fast %zu hits, naive %zu", (unsigned long long)seed, e,
                     n1, n2);
        }
        total += n1;
        bn_event_release(&ev);
    }
    /* the generator must produce matches at all, or the test proves nothing */
    assert_true(total > 100);
    bn_scratch_free(s);
    bn_ruleset_free(rs);
    free(yaml);
}

static void
test_diff_routed(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 6; seed++)
        run_seed(seed * 0x9e3779b97f4a7c15ull, false);
}

static void
test_diff_ignore_logsource(void **state)
{
    (void)state;
    for (uint64_t seed = 7; seed <= 9; seed++)
        run_seed(seed * 0x9e3779b97f4a7c15ull, true);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_routed),
        cmocka_unit_test(test_diff_ignore_logsource),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
