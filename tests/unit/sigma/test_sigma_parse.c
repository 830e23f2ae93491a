/*
 * test_sigma_parse.c - Sigma rule YAML to struct sigma_rule, from the specification:
 * metadata, every detection form, value typing, modifiers, conditions, multi-document
 * collections, correlation and filter rules, diagnostics, limits, allocation failures and
 * the directory walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/pool.h"
#include "bannin/sigma.h"

#define DIAGS_MAX 16

struct parsed {
    struct sigma_rule **rules;
    size_t n;
    int rc;
    int ndiags;
    struct bn_diag diags[DIAGS_MAX];
};

static void
collect(void *ctx, const struct bn_diag *d)
{
    struct parsed *p = ctx;
    if (p->ndiags < DIAGS_MAX)
        p->diags[p->ndiags] = *d;
    p->ndiags++;
}

static void
parse(struct parsed *p, const char *yaml)
{
    memset(p, 0, sizeof(*p));
    p->rc = sigma_parse_mem(yaml, strlen(yaml), "t.yml", &p->rules, &p->n, collect, p);
}

static void
release(struct parsed *p)
{
    for (size_t i = 0; i < p->n; i++)
        sigma_rule_free(p->rules[i]);
    bn_free(p->rules);
    p->rules = NULL;
    p->n = 0;
}

/* Parses yaml that must give exactly one rule and no diagnostic. */
static struct sigma_rule *
parse_one(struct parsed *p, const char *yaml)
{
    parse(p, yaml);
    assert_int_equal(p->rc, 0);
    if (p->ndiags)
        fail_msg("unexpected diagnostic %lu:%lu: %s", p->diags[0].line, p->diags[0].col,
                 p->diags[0].msg);
    assert_int_equal(p->n, 1);
    return p->rules[0];
}

/* Parses yaml that must give no rule and exactly one diagnostic. */
static const struct bn_diag *
parse_fail(struct parsed *p, const char *yaml, int code, const char *msg_part)
{
    parse(p, yaml);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->n, 0);
    if (p->ndiags != 1)
        fail_msg("want one diagnostic, got %d", p->ndiags);
    const struct bn_diag *d = &p->diags[0];
    if (d->code != code)
        fail_msg("code %d, want %d: %s", d->code, code, d->msg);
    if (msg_part && !strstr(d->msg, msg_part))
        fail_msg("message '%s' lacks '%s'", d->msg, msg_part);
    assert_string_equal(d->file, "t.yml");
    return d;
}

static const struct sigma_search *
search(const struct sigma_rule *r, const char *name)
{
    for (uint32_t i = 0; i < r->nsearches; i++)
        if (strcmp(r->searches[i].name, name) == 0)
            return &r->searches[i];
    fail_msg("no search '%s'", name);
    return NULL;
}

#define HEAD "title: T\nlogsource:\n    product: windows\n"

static void
test_metadata(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p,
        "title: Whoami Execution\n"
        "id: 929a690e-bef0-4204-a928-ef5e620d6fcc\n"
        "name: whoami_exec\n"
        "related:\n"
        "    - id: 08fbc97d-0a2f-491c-ae21-8ffcfd3174e9\n"
        "      type: derived\n"
        "taxonomy: sigma\n"
        "status: test\n"
        "description: Detects a whoami.exe execution\n"
        "license: DRL-1.1\n"
        "author: Florian Roth\n"
        "references:\n"
        "    - https://example.org/a\n"
        "    - https://example.org/b\n"
        "date: 2019-10-23\n"
        "modified: 2023-04-14\n"
        "logsource:\n"
        "    category: process_creation\n"
        "    product: windows\n"
        "    service: sysmon\n"
        "    definition: 'Requirements: Sysmon'\n"
        "    custom: ignored\n"
        "detection:\n"
        "    selection:\n"
        "        Image: 'C:\\Windows\\System32\\whoami.exe'\n"
        "    condition: selection\n"
        "fields:\n"
        "    - CommandLine\n"
        "    - ParentImage\n"
        "falsepositives:\n"
        "    - Admin activity\n"
        "level: high\n"
        "tags:\n"
        "    - attack.discovery\n"
        "    - attack.t1033\n"
        "scope:\n"
        "    - server\n"
        "my_custom_attribute: {a: 1}\n");
    assert_int_equal(r->kind, SIGMA_KIND_DETECTION);
    assert_string_equal(r->file, "t.yml");
    assert_int_equal(r->line, 1);
    assert_string_equal(r->title, "Whoami Execution");
    assert_string_equal(r->id, "929a690e-bef0-4204-a928-ef5e620d6fcc");
    assert_string_equal(r->name, "whoami_exec");
    assert_string_equal(r->status, "test");
    assert_string_equal(r->description, "Detects a whoami.exe execution");
    assert_string_equal(r->license, "DRL-1.1");
    assert_string_equal(r->author, "Florian Roth");
    assert_string_equal(r->date, "2019-10-23");
    assert_string_equal(r->modified, "2023-04-14");
    assert_int_equal(r->level, SIGMA_LEVEL_HIGH);
    assert_int_equal(r->nreferences, 2);
    assert_string_equal(r->references[1], "https://example.org/b");
    assert_int_equal(r->ntags, 2);
    assert_string_equal(r->tags[0], "attack.discovery");
    assert_string_equal(r->tags[1], "attack.t1033");
    assert_int_equal(r->nfalsepositives, 1);
    assert_string_equal(r->falsepositives[0], "Admin activity");
    assert_int_equal(r->nfields, 2);
    assert_string_equal(r->fields[0], "CommandLine");
    assert_string_equal(r->logsource.category, "process_creation");
    assert_string_equal(r->logsource.product, "windows");
    assert_string_equal(r->logsource.service, "sysmon");
    assert_string_equal(r->logsource.definition, "Requirements: Sysmon");
    assert_int_equal(r->nsearches, 1);
    assert_string_equal(r->cond_text, "selection");
    assert_int_equal(r->cond->op, SIGMA_C_ID);
    assert_string_equal(r->cond->name, "selection");
    release(&p);
}

static void
test_levels(void **state)
{
    (void)state;
    static const char *const names[] = {"informational", "low", "medium", "high", "critical"};
    for (int i = 0; i < 5; i++) {
        char buf[512];
        struct parsed p;
        snprintf(buf, sizeof(buf),
                 HEAD "detection:\n    sel:\n        a: 1\n    condition: sel\nlevel: %s\n",
                 names[i]);
        const struct sigma_rule *r = parse_one(&p, buf);
        assert_int_equal(r->level, SIGMA_LEVEL_INFORMATIONAL + i);
        release(&p);
    }
    struct parsed p;
    const struct sigma_rule *r =
        parse_one(&p, HEAD "detection:\n    sel:\n        a: 1\n    condition: sel\n");
    assert_int_equal(r->level, SIGMA_LEVEL_NONE);
    release(&p);
    const struct bn_diag *d = parse_fail(
        &p, HEAD "detection:\n    sel:\n        a: 1\n    condition: sel\nlevel: severe\n",
        BN_EPARSE, "unknown level 'severe'");
    assert_int_equal(d->line, 8);
    assert_int_equal(d->col, 8);
    release(&p);
}

static void
test_detection_forms(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p, HEAD
        "detection:\n"
        "    map:\n"
        "        EventLog: Security\n"
        "        EventID:\n"
        "            - 517\n"
        "            - 1102\n"
        "    listofmaps:\n"
        "        - Image|endswith: '\\example.exe'\n"
        "        - Description|contains: 'Test executable'\n"
        "    keywords:\n"
        "        - 'EVILSERVICE'\n"
        "        - 'svchost.exe -n evil'\n"
        "    onekeyword: mimikatz\n"
        "    allkeywords:\n"
        "        '|all':\n"
        "            - 'OabVirtualDirectory'\n"
        "            - ' -ExternalUrl '\n"
        "    condition: map or listofmaps or keywords or onekeyword or allkeywords\n");
    assert_int_equal(r->nsearches, 5);

    const struct sigma_search *s = search(r, "map");
    assert_int_equal(s->nalts, 1);
    assert_int_equal(s->alts[0].nitems, 2);
    assert_string_equal(s->alts[0].items[0].field, "EventLog");
    assert_int_equal(s->alts[0].items[0].nvalues, 1);
    assert_string_equal(s->alts[0].items[0].values[0].s, "Security");
    assert_string_equal(s->alts[0].items[1].field, "EventID");
    assert_int_equal(s->alts[0].items[1].nvalues, 2);
    assert_int_equal(s->alts[0].items[1].values[1].type, SIGMA_V_NUM);
    assert_int_equal(s->alts[0].items[1].values[1].i, 1102);
    assert_int_equal(s->line, 5);
    assert_int_equal(s->col, 5);
    assert_int_equal(s->alts[0].items[1].line, 7);
    assert_int_equal(s->alts[0].items[1].col, 9);
    assert_int_equal(s->alts[0].items[1].values[0].line, 8);
    assert_int_equal(s->alts[0].items[1].values[0].col, 15);

    s = search(r, "listofmaps");
    assert_int_equal(s->nalts, 2);
    assert_int_equal(s->alts[0].nitems, 1);
    assert_string_equal(s->alts[0].items[0].field, "Image");
    assert_int_equal(s->alts[0].items[0].nmods, 1);
    assert_int_equal(s->alts[0].items[0].mods[0], SIGMA_MOD_ENDSWITH);
    assert_string_equal(s->alts[1].items[0].field, "Description");
    assert_int_equal(s->alts[1].items[0].mods[0], SIGMA_MOD_CONTAINS);

    s = search(r, "keywords");
    assert_int_equal(s->nalts, 1);
    assert_int_equal(s->alts[0].nitems, 1);
    assert_null(s->alts[0].items[0].field);
    assert_int_equal(s->alts[0].items[0].nvalues, 2);
    assert_string_equal(s->alts[0].items[0].values[1].s, "svchost.exe -n evil");

    s = search(r, "onekeyword");
    assert_null(s->alts[0].items[0].field);
    assert_int_equal(s->alts[0].items[0].nvalues, 1);
    assert_string_equal(s->alts[0].items[0].values[0].s, "mimikatz");

    s = search(r, "allkeywords");
    assert_null(s->alts[0].items[0].field);
    assert_int_equal(s->alts[0].items[0].nmods, 1);
    assert_int_equal(s->alts[0].items[0].mods[0], SIGMA_MOD_ALL);
    assert_int_equal(s->alts[0].items[0].nvalues, 2);
    release(&p);
}

static void
test_detection_errors(void **state)
{
    (void)state;
    struct parsed p;
    parse_fail(&p, HEAD "detection:\n    sel:\n        - a: 1\n        - x\n    condition: sel\n",
               BN_EPARSE, "mixes maps and plain values");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n    condition: sel\n", BN_EPARSE,
               "search 'sel' is empty");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel: {}\n    condition: sel\n", BN_EPARSE, "empty map");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel: []\n    condition: sel\n", BN_EPARSE,
               "empty list");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        a: {b: 1}\n    condition: sel\n",
               BN_EPARSE, "value of 'a' is a map");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        a: [[1]]\n    condition: sel\n",
               BN_EPARSE, "nested lists");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        a: []\n    condition: sel\n", BN_EPARSE,
               "empty list of values");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        a: 1\n        a: 2\n    condition: sel\n",
               BN_EPARSE, "duplicate key 'a'");
    release(&p);
    const struct bn_diag *d = parse_fail(&p, HEAD "detection:\n    sel:\n        a: 1\n",
                                         BN_EPARSE, "'detection' has no 'condition'");
    assert_int_equal(d->line, 4);
    assert_int_equal(d->col, 1);
    release(&p);
    parse_fail(&p, HEAD "detection:\n    condition: sel\n", BN_EPARSE, "defines no search");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        a: [x, null]\n    condition: sel\n",
               BN_EPARSE, "null cannot be part of a value list");
    release(&p);
    parse_fail(&p, HEAD "detection: [a]\n", BN_EPARSE, "must be a map");
    release(&p);
}

static void
test_value_typing(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p, HEAD
        "detection:\n"
        "    sel:\n"
        "        v:\n"
        "            - 4624\n"         /* 0 */
        "            - -12\n"          /* 1 */
        "            - 0x17\n"         /* 2 */
        "            - 1.5\n"          /* 3 */
        "            - true\n"         /* 4 */
        "            - False\n"        /* 5 */
        "            - '4624'\n"       /* 6 */
        "            - \"true\"\n"     /* 7 */
        "            - ''\n"           /* 8 */
        "            - !!str 42\n"     /* 9 */
        "            - 10.0.0.1\n"     /* 10 */
        "            - 2019-10-23\n"   /* 11 */
        "            - yes\n"          /* 12 */
        "            - 1e3\n"          /* 13 */
        "            - 99999999999999999999\n" /* 14 */
        "            - 0o17\n"         /* 15 */
        "    n1:\n"
        "        a: null\n"
        "    n2:\n"
        "        a: ~\n"
        "    n3:\n"
        "        a:\n"
        "    n4:\n"
        "        a: 'null'\n"
        "    condition: 1 of them\n");
    const struct sigma_item *it = &search(r, "sel")->alts[0].items[0];
    assert_int_equal(it->nvalues, 16);
    const struct sigma_value *v = it->values;
    assert_int_equal(v[0].type, SIGMA_V_NUM);
    assert_true(v[0].is_int);
    assert_int_equal(v[0].i, 4624);
    assert_string_equal(v[0].s, "4624");
    assert_int_equal(v[1].type, SIGMA_V_NUM);
    assert_int_equal(v[1].i, -12);
    assert_int_equal(v[2].type, SIGMA_V_NUM);
    assert_int_equal(v[2].i, 0x17);
    assert_string_equal(v[2].s, "0x17");
    assert_int_equal(v[3].type, SIGMA_V_NUM);
    assert_false(v[3].is_int);
    assert_true(v[3].num > 1.49 && v[3].num < 1.51);
    assert_string_equal(v[3].s, "1.5");
    assert_int_equal(v[4].type, SIGMA_V_BOOL);
    assert_true(v[4].b);
    assert_string_equal(v[4].s, "true");
    assert_int_equal(v[5].type, SIGMA_V_BOOL);
    assert_false(v[5].b);
    assert_int_equal(v[6].type, SIGMA_V_STR);
    assert_string_equal(v[6].s, "4624");
    assert_int_equal(v[7].type, SIGMA_V_STR);
    assert_int_equal(v[8].type, SIGMA_V_STR);
    assert_int_equal(v[8].len, 0);
    assert_string_equal(v[8].s, "");
    assert_int_equal(v[9].type, SIGMA_V_STR);
    assert_string_equal(v[9].s, "42");
    assert_int_equal(v[10].type, SIGMA_V_STR);
    assert_int_equal(v[11].type, SIGMA_V_STR);
    assert_int_equal(v[12].type, SIGMA_V_STR); /* YAML 1.2: yes is a string */
    assert_int_equal(v[13].type, SIGMA_V_NUM);
    assert_false(v[13].is_int);
    assert_true(v[13].num > 999.0 && v[13].num < 1001.0);
    assert_int_equal(v[14].type, SIGMA_V_NUM);
    assert_false(v[14].is_int);
    assert_string_equal(v[14].s, "99999999999999999999");
    assert_int_equal(v[15].type, SIGMA_V_NUM);
    assert_int_equal(v[15].i, 15);

    for (int i = 1; i <= 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%d", i);
        const struct sigma_value *nv = &search(r, name)->alts[0].items[0].values[0];
        assert_int_equal(nv->type, SIGMA_V_NULL);
        assert_null(nv->s);
    }
    assert_int_equal(search(r, "n4")->alts[0].items[0].values[0].type, SIGMA_V_STR);
    release(&p);
}

static void
test_strings_kept_as_written(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p, HEAD
        "detection:\n"
        "    sel:\n"
        "        a: 'C:\\Windows\\*\\cmd.exe'\n"
        "        b: C:\\foo\\\\*bar?\n"
        "        c: \"tab\\there\"\n"
        "        d: \"nul\\0byte\"\n"
        "        e: 'it''s'\n"
        "        f: |\n"
        "            line1\n"
        "            line2\n"
        "        g: '%name%'\n"
        "    condition: sel\n");
    const struct sigma_map *m = &search(r, "sel")->alts[0];
    assert_string_equal(m->items[0].values[0].s, "C:\\Windows\\*\\cmd.exe");
    assert_string_equal(m->items[1].values[0].s, "C:\\foo\\\\*bar?");
    assert_string_equal(m->items[2].values[0].s, "tab\there");
    assert_int_equal(m->items[3].values[0].len, 8);
    assert_memory_equal(m->items[3].values[0].s, "nul\0byte", 9);
    assert_string_equal(m->items[4].values[0].s, "it's");
    assert_string_equal(m->items[5].values[0].s, "line1\nline2\n");
    assert_string_equal(m->items[6].values[0].s, "%name%");
    release(&p);
}

struct mod_case {
    const char *key;
    const char *value;
    int mods[4];
    int nmods;
};

static void
test_every_modifier(void **state)
{
    (void)state;
    static const struct mod_case cases[] = {
        {"f|contains", "x", {SIGMA_MOD_CONTAINS}, 1},
        {"f|startswith", "x", {SIGMA_MOD_STARTSWITH}, 1},
        {"f|endswith", "x", {SIGMA_MOD_ENDSWITH}, 1},
        {"f|contains|all", "[a, b]", {SIGMA_MOD_CONTAINS, SIGMA_MOD_ALL}, 2},
        {"f|re", "'^a.*$'", {SIGMA_MOD_RE}, 1},
        {"f|re|i", "x", {SIGMA_MOD_RE, SIGMA_MOD_RE_I}, 2},
        {"f|re|m|s", "x", {SIGMA_MOD_RE, SIGMA_MOD_RE_M, SIGMA_MOD_RE_S}, 3},
        {"f|re|i|m|s", "x", {SIGMA_MOD_RE, SIGMA_MOD_RE_I, SIGMA_MOD_RE_M, SIGMA_MOD_RE_S}, 4},
        {"f|cidr", "10.0.0.0/8", {SIGMA_MOD_CIDR}, 1},
        {"f|base64", "x", {SIGMA_MOD_BASE64}, 1},
        {"f|base64offset|contains", "x", {SIGMA_MOD_BASE64OFFSET, SIGMA_MOD_CONTAINS}, 2},
        {"f|utf16le|base64", "x", {SIGMA_MOD_UTF16LE, SIGMA_MOD_BASE64}, 2},
        {"f|wide|base64offset", "x", {SIGMA_MOD_UTF16LE, SIGMA_MOD_BASE64OFFSET}, 2},
        {"f|utf16be", "x", {SIGMA_MOD_UTF16BE}, 1},
        {"f|utf16", "x", {SIGMA_MOD_UTF16}, 1},
        {"f|windash|contains", "' -f '", {SIGMA_MOD_WINDASH, SIGMA_MOD_CONTAINS}, 2},
        {"f|lt", "5", {SIGMA_MOD_LT}, 1},
        {"f|lte", "5", {SIGMA_MOD_LTE}, 1},
        {"f|gt", "5", {SIGMA_MOD_GT}, 1},
        {"f|gte", "5.5", {SIGMA_MOD_GTE}, 1},
        {"f|neq", "x", {SIGMA_MOD_NEQ}, 1},
        {"f|exists", "true", {SIGMA_MOD_EXISTS}, 1},
        {"f|exists", "false", {SIGMA_MOD_EXISTS}, 1},
        {"f|fieldref", "OtherField", {SIGMA_MOD_FIELDREF}, 1},
        {"f|fieldref|neq", "OtherField", {SIGMA_MOD_FIELDREF, SIGMA_MOD_NEQ}, 2},
        {"f|cased", "CamelCase", {SIGMA_MOD_CASED}, 1},
        {"f|expand", "'%Servers%'", {SIGMA_MOD_EXPAND}, 1},
        {"f|minute", "5", {SIGMA_MOD_MINUTE}, 1},
        {"f|hour", "23", {SIGMA_MOD_HOUR}, 1},
        {"f|day", "1", {SIGMA_MOD_DAY}, 1},
        {"f|week", "52", {SIGMA_MOD_WEEK}, 1},
        {"f|month", "12", {SIGMA_MOD_MONTH}, 1},
        {"f|year", "2024", {SIGMA_MOD_YEAR}, 1},
        {"f|hour|gte", "20", {SIGMA_MOD_HOUR, SIGMA_MOD_GTE}, 2},
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(cases); i++) {
        char buf[512];
        struct parsed p;
        snprintf(buf, sizeof(buf), HEAD "detection:\n    sel:\n        %s: %s\n    condition: sel\n",
                 cases[i].key, cases[i].value);
        const struct sigma_rule *r = parse_one(&p, buf);
        const struct sigma_item *it = &r->searches[0].alts[0].items[0];
        assert_string_equal(it->field, "f");
        assert_int_equal(it->nmods, cases[i].nmods);
        uint32_t mask = 0;
        for (int j = 0; j < cases[i].nmods; j++) {
            assert_int_equal(it->mods[j], cases[i].mods[j]);
            mask |= 1u << cases[i].mods[j];
        }
        assert_int_equal(it->modmask, mask);
        release(&p);
    }
}

static void
test_modifier_errors(void **state)
{
    (void)state;
    struct parsed p;
    const struct bn_diag *d =
        parse_fail(&p, HEAD "detection:\n    sel:\n        f|contians: x\n    condition: sel\n",
                   BN_EPARSE, "unknown modifier 'contians'");
    assert_int_equal(d->line, 6);
    assert_int_equal(d->col, 9);
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|i: x\n    condition: sel\n", BN_EPARSE,
               "must follow 're'");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|contains|s: x\n    condition: sel\n",
               BN_EPARSE, "must follow 're'");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|contains|all: x\n    condition: sel\n",
               BN_EPARSE, "'all' on 'f|contains|all' needs a list of two or more");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|all: [x]\n    condition: sel\n",
               BN_EPARSE, "two or more");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|exists: 'true'\n    condition: sel\n",
               BN_EPARSE, "'exists' on 'f' takes a single unquoted true or false");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|exists: [true, false]\n    condition: sel\n",
               BN_EPARSE, "'exists'");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|gt: '5'\n    condition: sel\n",
               BN_EPARSE, "unquoted numbers");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f||contains: x\n    condition: sel\n",
               BN_EPARSE, "empty modifier");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    sel:\n        f|contains|contains|contains|contains|"
                        "contains|contains|contains|contains|contains: x\n    condition: sel\n",
               BN_ETOOBIG, "BN_MODIFIERS_MAX");
    release(&p);
}

static void
test_conditions(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p, HEAD
        "detection:\n"
        "    selection_a:\n        a: 1\n"
        "    selection_b:\n        b: 1\n"
        "    filter_x:\n        c: 1\n"
        "    _hidden:\n        d: 1\n"
        "    condition: 1 of selection_* and not filter_x or all of them and _hidden\n");
    assert_int_equal(r->cond->op, SIGMA_C_OR);
    assert_int_equal(r->cond->a->op, SIGMA_C_AND);
    assert_int_equal(r->cond->a->a->op, SIGMA_C_ONE_OF);
    assert_string_equal(r->cond->a->a->name, "selection_*");
    assert_int_equal(r->cond->b->a->op, SIGMA_C_ALL_OF_THEM);
    release(&p);

    /* a list of conditions is OR-ed */
    r = parse_one(&p, HEAD
        "detection:\n"
        "    a:\n        x: 1\n"
        "    b:\n        y: 1\n"
        "    c:\n        z: 1\n"
        "    condition:\n"
        "        - a and b\n"
        "        - c\n");
    assert_int_equal(r->cond->op, SIGMA_C_OR);
    assert_int_equal(r->cond->a->op, SIGMA_C_AND);
    assert_int_equal(r->cond->b->op, SIGMA_C_ID);
    assert_string_equal(r->cond->b->name, "c");
    assert_string_equal(r->cond_text, "(a and b) or (c)");
    release(&p);
}

static void
test_condition_errors(void **state)
{
    (void)state;
    struct parsed p;
    const struct bn_diag *d = parse_fail(&p, HEAD
        "detection:\n"
        "    selection:\n        a: 1\n"
        "    condition: selection and not filter\n",
        BN_EPARSE, "condition names 'filter' but detection has no search of that name");
    assert_int_equal(d->line, 7);
    assert_int_equal(d->col, 34);
    release(&p);

    d = parse_fail(&p, HEAD
        "detection:\n"
        "    selection:\n        a: 1\n"
        "    condition: 'selection and 1 of filter*'\n",
        BN_EPARSE, "pattern 'filter*' in the condition matches no search");
    assert_int_equal(d->line, 7);
    assert_int_equal(d->col, 31); /* the quote counts */
    release(&p);

    parse_fail(&p, HEAD "detection:\n    _x:\n        a: 1\n    condition: 1 of them\n",
               BN_EPARSE, "not starting with '_'");
    release(&p);

    d = parse_fail(&p, HEAD "detection:\n    selection:\n        a: 1\n"
                   "    condition: selection | count() by SourceIp > 5\n",
                   BN_EUNSUP,
                   "Sigma 1 aggregation '| count()' is not supported; rewrite it as a "
                   "correlation rule");
    assert_int_equal(d->line, 7);
    assert_int_equal(d->col, 26);
    release(&p);

    parse_fail(&p, HEAD "detection:\n    selection:\n        a: 1\n    timeframe: 5m\n"
                        "    condition: selection\n",
               BN_EUNSUP, "timeframe");
    release(&p);

    d = parse_fail(&p, HEAD "detection:\n    selection:\n        a: 1\n    condition: (selection\n",
                   BN_EPARSE, "never closed");
    assert_int_equal(d->line, 7);
    assert_int_equal(d->col, 16);
    release(&p);
}

static void
test_required_keys(void **state)
{
    (void)state;
    struct parsed p;
    const struct bn_diag *d = parse_fail(
        &p, "logsource:\n    product: x\ndetection:\n    s:\n        a: 1\n    condition: s\n",
        BN_EPARSE, "no 'title'");
    assert_int_equal(d->line, 1);
    release(&p);
    parse_fail(&p, "title: x\nlogsource:\n    product: x\n", BN_EPARSE, "no 'detection'");
    release(&p);
    parse_fail(&p, "title: x\ndetection:\n    s:\n        a: 1\n    condition: s\n", BN_EPARSE,
               "no 'logsource'");
    release(&p);
    parse_fail(&p, "- a\n- b\n", BN_EPARSE, "must be a map");
    release(&p);
    parse_fail(&p, "title: [a]\n", BN_EPARSE, "'title' must be a string");
    release(&p);
    parse_fail(&p, "title: a\ntitle: b\n", BN_EPARSE, "duplicate key 'title'");
    release(&p);
    parse_fail(&p, "title: a\nlogsource: {product: x, product: y}\n", BN_EPARSE,
               "duplicate key 'product' in logsource");
    release(&p);
    parse_fail(&p, HEAD "detection:\n    s: {a: 1}\n    condition: s\n    condition: s\n",
               BN_EPARSE, "duplicate key 'condition' in detection");
    release(&p);
}

static void
test_yaml_errors(void **state)
{
    (void)state;
    struct parsed p;
    const struct bn_diag *d = parse_fail(&p,
        "title: x\n"
        "logsource:\n"
        "    product: x\n"
        "detection:\n"
        "    sel:\n"
        "        a: 'unterminated\n"
        "    condition: sel\n",
        BN_EPARSE, "YAML syntax error");
    assert_true(d->line >= 6);
    assert_true(d->col > 0);
    release(&p);

    d = parse_fail(&p, "title: x\n  bad: indent\n", BN_EPARSE, "YAML syntax error");
    assert_int_equal(d->line, 2);
    release(&p);

    parse_fail(&p, "a: *nope\n", BN_EPARSE, "unknown YAML alias");
    release(&p);
}

static void
test_aliases_and_anchors(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p, HEAD
        "detection:\n"
        "    sel:\n"
        "        Image: &img ['a.exe', 'b.exe']\n"
        "        ParentImage: *img\n"
        "    condition: sel\n");
    const struct sigma_map *m = &r->searches[0].alts[0];
    assert_int_equal(m->items[1].nvalues, 2);
    assert_string_equal(m->items[1].values[1].s, "b.exe");
    release(&p);
}

static void
test_multidoc_collections(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p,
        "action: global\n"
        "title: Base\n"
        "level: high\n"
        "detection:\n"
        "    selection:\n"
        "        EventID: 1\n"
        "    condition: selection and not filter\n"
        "---\n"
        "logsource:\n"
        "    product: windows\n"
        "detection:\n"
        "    filter:\n"
        "        User: SYSTEM\n"
        "---\n"
        "title: Second\n"
        "logsource:\n"
        "    product: linux\n"
        "detection:\n"
        "    filter:\n"
        "        User: root\n"
        "---\n"
        "action: repeat\n"
        "logsource:\n"
        "    product: macos\n"
        "---\n"
        "action: reset\n"
        "---\n"
        "title: Standalone\n"
        "logsource:\n"
        "    product: x\n"
        "detection:\n"
        "    s:\n"
        "        a: 1\n"
        "    condition: s\n"
        "---\n");
    assert_int_equal(p.rc, 0);
    if (p.ndiags)
        fail_msg("%lu: %s", p.diags[0].line, p.diags[0].msg);
    assert_int_equal(p.n, 4);
    const struct sigma_rule *a = p.rules[0], *b = p.rules[1], *c = p.rules[2], *d = p.rules[3];
    assert_string_equal(a->title, "Base");
    assert_int_equal(a->level, SIGMA_LEVEL_HIGH);
    assert_string_equal(a->logsource.product, "windows");
    assert_int_equal(a->nsearches, 2);
    assert_string_equal(search(a, "selection")->alts[0].items[0].field, "EventID");
    assert_string_equal(search(a, "filter")->alts[0].items[0].values[0].s, "SYSTEM");
    assert_string_equal(a->cond_text, "selection and not filter");
    assert_int_equal(a->line, 9);
    assert_string_equal(b->title, "Second");
    assert_string_equal(b->logsource.product, "linux");
    assert_string_equal(search(b, "filter")->alts[0].items[0].values[0].s, "root");
    assert_int_equal(b->level, SIGMA_LEVEL_HIGH);
    /* repeat: the previous rule with a new logsource */
    assert_string_equal(c->title, "Second");
    assert_string_equal(c->logsource.product, "macos");
    assert_string_equal(search(c, "filter")->alts[0].items[0].values[0].s, "root");
    /* reset: nothing inherited */
    assert_string_equal(d->title, "Standalone");
    assert_int_equal(d->level, SIGMA_LEVEL_NONE);
    assert_int_equal(d->nsearches, 1);
    release(&p);

    parse(&p, "action: repeat\ntitle: x\n");
    assert_int_equal(p.n, 0);
    assert_int_equal(p.ndiags, 1);
    assert_non_null(strstr(p.diags[0].msg, "without a previous rule"));
    release(&p);
    parse(&p, "action: bogus\ntitle: x\n");
    assert_int_equal(p.ndiags, 1);
    assert_non_null(strstr(p.diags[0].msg, "unknown action 'bogus'"));
    release(&p);
}

static void
test_bad_document_skipped(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p,
        HEAD "detection:\n    s:\n        a: 1\n    condition: s\n"
        "---\n"
        HEAD "detection:\n    s:\n        a|bogus: 1\n    condition: s\n"
        "---\n"
        "title: T3\nlogsource:\n    product: x\ndetection:\n    s:\n        a: 1\n"
        "    condition: s\n");
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.n, 2);
    assert_int_equal(p.ndiags, 1);
    assert_int_equal(p.diags[0].line, 14);
    assert_int_equal(p.diags[0].col, 9);
    assert_string_equal(p.rules[1]->title, "T3");
    assert_int_equal(p.rules[1]->line, 17); /* first line of the document's content */
    release(&p);
}

static const char spec_correlation[] =
    "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
    "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\n"
    "status: experimental\n"
    "correlation:\n"
    "    type: temporal_ordered\n"
    "    rules:\n"
    "        - multiple_failed_login\n"
    "        - successful_login\n"
    "    group-by:\n"
    "        - User\n"
    "    timespan: 10m\n"
    "falsepositives:\n"
    "    - Unlikely\n"
    "level: high\n"
    "---\n"
    "title: Multiple failed logons\n"
    "name: multiple_failed_login\n"
    "correlation:\n"
    "    type: event_count\n"
    "    rules:\n"
    "        - failed_login\n"
    "    group-by:\n"
    "        - User\n"
    "    timespan: 10m\n"
    "    condition:\n"
    "        gte: 10\n"
    "---\n"
    "title: Single failed login\n"
    "name: failed_login\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 529\n"
    "            - 4625\n"
    "    condition: selection\n"
    "---\n"
    "title: Successful login\n"
    "name: successful_login\n"
    "logsource:\n"
    "    product: windows\n"
    "    service: security\n"
    "detection:\n"
    "    selection:\n"
    "        EventID:\n"
    "            - 528\n"
    "            - 4624\n"
    "    condition: selection\n";

static void
test_correlation_file(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, spec_correlation);
    assert_int_equal(p.ndiags, 0);
    assert_int_equal(p.n, 4);
    const struct sigma_rule *r = p.rules[0];
    assert_int_equal(r->kind, SIGMA_KIND_CORRELATION);
    assert_int_equal(r->level, SIGMA_LEVEL_HIGH);
    assert_int_equal(r->corr.type, SIGMA_CORR_TEMPORAL_ORDERED);
    assert_int_equal(r->corr.nrules, 2);
    assert_string_equal(r->corr.rules[1], "successful_login");
    assert_int_equal(r->corr.ngroup_by, 1);
    assert_string_equal(r->corr.group_by[0], "User");
    assert_int_equal(r->corr.timespan_ms, 600000);
    /* temporal default: all referenced rules must match */
    assert_int_equal(r->corr.nconds, 1);
    assert_int_equal(r->corr.conds[0].cmp, SIGMA_CMP_GTE);
    assert_int_equal(r->corr.conds[0].value, 2);
    assert_false(r->corr.generate);

    r = p.rules[1];
    assert_int_equal(r->kind, SIGMA_KIND_CORRELATION);
    assert_string_equal(r->name, "multiple_failed_login");
    assert_int_equal(r->corr.type, SIGMA_CORR_EVENT_COUNT);
    assert_int_equal(r->corr.nconds, 1);
    assert_int_equal(r->corr.conds[0].cmp, SIGMA_CMP_GTE);
    assert_int_equal(r->corr.conds[0].value, 10);
    assert_int_equal(p.rules[2]->kind, SIGMA_KIND_DETECTION);
    assert_string_equal(p.rules[2]->name, "failed_login");
    assert_int_equal(p.rules[3]->kind, SIGMA_KIND_DETECTION);
    release(&p);
}

static void
test_correlation_types(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p,
        "title: vc\n"
        "correlation:\n"
        "    type: value_count\n"
        "    rules: base_rule\n"
        "    group-by: fieldC\n"
        "    timespan: 30s\n"
        "    condition:\n"
        "        gt: 100\n"
        "        lte: 200\n"
        "        field: User\n"
        "    generate: true\n");
    assert_int_equal(r->corr.type, SIGMA_CORR_VALUE_COUNT);
    assert_int_equal(r->corr.nrules, 1);
    assert_string_equal(r->corr.rules[0], "base_rule");
    assert_int_equal(r->corr.ngroup_by, 1);
    assert_int_equal(r->corr.timespan_ms, 30000);
    assert_int_equal(r->corr.nconds, 2);
    assert_int_equal(r->corr.conds[0].cmp, SIGMA_CMP_GT);
    assert_int_equal(r->corr.conds[0].value, 100);
    assert_int_equal(r->corr.conds[1].cmp, SIGMA_CMP_LTE);
    assert_int_equal(r->corr.conds[1].value, 200);
    assert_string_equal(r->corr.field, "User");
    assert_true(r->corr.generate);
    release(&p);

    r = parse_one(&p,
        "title: temporal\n"
        "correlation:\n"
        "    type: temporal\n"
        "    rules: [a, b, c]\n"
        "    aliases:\n"
        "        internal_ip:\n"
        "            a: destination.ip\n"
        "            b: source.ip\n"
        "        remote_ip:\n"
        "            a: source.ip\n"
        "            b: destination.ip\n"
        "    group-by:\n"
        "        - internal_ip\n"
        "        - remote_ip\n"
        "    timespan: 2h\n"
        "    condition:\n"
        "        eq: 2\n");
    assert_int_equal(r->corr.type, SIGMA_CORR_TEMPORAL);
    assert_int_equal(r->corr.nrules, 3);
    assert_int_equal(r->corr.timespan_ms, 2 * 3600 * 1000LL);
    assert_int_equal(r->corr.naliases, 2);
    assert_string_equal(r->corr.aliases[0].name, "internal_ip");
    assert_int_equal(r->corr.aliases[0].n, 2);
    assert_string_equal(r->corr.aliases[0].rules[1], "b");
    assert_string_equal(r->corr.aliases[0].fields[1], "source.ip");
    assert_string_equal(r->corr.aliases[1].fields[0], "source.ip");
    assert_int_equal(r->corr.nconds, 1);
    assert_int_equal(r->corr.conds[0].cmp, SIGMA_CMP_EQ);
    release(&p);

    static const struct {
        const char *ts;
        int64_t ms;
    } spans[] = {{"1s", 1000}, {"5m", 300000}, {"1h", 3600000}, {"1d", 86400000},
                 {"90m", 5400000}, {"1w", 604800000}};
    for (size_t i = 0; i < BN_ARRAY_SIZE(spans); i++) {
        char buf[256];
        snprintf(buf, sizeof(buf),
                 "title: t\ncorrelation:\n    type: event_count\n    rules: [a]\n"
                 "    group-by: [x]\n    timespan: %s\n    condition:\n        neq: 3\n",
                 spans[i].ts);
        r = parse_one(&p, buf);
        assert_int_equal(r->corr.timespan_ms, spans[i].ms);
        assert_int_equal(r->corr.conds[0].cmp, SIGMA_CMP_NEQ);
        release(&p);
    }
}

static void
test_correlation_errors(void **state)
{
    (void)state;
    struct parsed p;
#define CORR(body) "title: t\ncorrelation:\n" body
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    timespan: 5x\n"
                        "    condition: {gte: 1}\n"),
               BN_EPARSE, "timespan '5x'");
    release(&p);
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    condition: {gte: 1}\n"),
               BN_EPARSE, "needs a 'timespan'");
    release(&p);
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    timespan: 0m\n"
                        "    condition: {gte: 1}\n"),
               BN_EPARSE, "greater than zero");
    release(&p);
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    timespan: 5m\n"),
               BN_EPARSE, "needs a 'condition'");
    release(&p);
    parse_fail(&p, CORR("    type: value_count\n    rules: [a]\n    timespan: 5m\n"
                        "    condition: {gte: 2}\n"),
               BN_EPARSE, "needs 'field'");
    release(&p);
    parse_fail(&p, CORR("    type: value_sum\n    rules: [a]\n    timespan: 5m\n"
                        "    condition: {gte: 2, field: bytes}\n"),
               BN_EUNSUP, "correlation type 'value_sum' is not supported");
    release(&p);
    parse_fail(&p, CORR("    type: bogus\n    rules: [a]\n    timespan: 5m\n"), BN_EPARSE,
               "unknown correlation type 'bogus'");
    release(&p);
    parse_fail(&p, CORR("    type: temporal\n    timespan: 5m\n"), BN_EPARSE, "needs 'rules'");
    release(&p);
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    timespan: 5m\n"
                        "    condition: {gte: '10'}\n"),
               BN_EPARSE, "unquoted integer");
    release(&p);
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    timespan: 5m\n"
                        "    condition: {more: 10}\n"),
               BN_EPARSE, "unknown correlation condition 'more'");
    release(&p);
    parse_fail(&p, "correlation:\n    type: temporal\n    rules: [a]\n    timespan: 5m\n",
               BN_EPARSE, "correlation rule has no 'title'");
    release(&p);
    /* found by fuzzing: a repeated key must not be parsed twice into the same arrays */
    parse_fail(&p, CORR("    type: temporal\n    rules: [a]\n    timespan: 5m\n"
                        "    aliases:\n        x: {a: f}\n    aliases:\n        y: {a: g}\n"),
               BN_EPARSE, "duplicate key 'aliases' in correlation");
    release(&p);
    parse_fail(&p, CORR("    type: temporal\n    rules: [a]\n    timespan: 5m\n"
                        "    aliases:\n        x: {a: f, a: g}\n"),
               BN_EPARSE, "duplicate key 'a' in an alias");
    release(&p);
    parse_fail(&p, CORR("    type: event_count\n    rules: [a]\n    timespan: 5m\n"
                        "    condition: {gte: 1, gte: 2}\n"),
               BN_EPARSE, "duplicate key 'gte'");
    release(&p);
#undef CORR
}

static void
test_filter(void **state)
{
    (void)state;
    struct parsed p;
    const struct sigma_rule *r = parse_one(&p,
        "title: Filter Administrator account\n"
        "description: The valid administrator account start with adm_\n"
        "logsource:\n"
        "    category: process_creation\n"
        "    product: windows\n"
        "filter:\n"
        "    rules:\n"
        "        - 6f3e2987-db24-4c78-a860-b4f4095a7095 # Data Compressed - rar.exe\n"
        "        - df0841c0-9846-4e9f-ad8a-7df91571771b # Login on jump host\n"
        "    selection:\n"
        "        User|startswith: 'adm_'\n"
        "    condition: selection\n");
    assert_int_equal(r->kind, SIGMA_KIND_FILTER);
    assert_int_equal(r->filter.nrules, 2);
    assert_string_equal(r->filter.rules[1], "df0841c0-9846-4e9f-ad8a-7df91571771b");
    assert_int_equal(r->nsearches, 1);
    assert_string_equal(r->searches[0].name, "selection");
    assert_int_equal(r->searches[0].alts[0].items[0].mods[0], SIGMA_MOD_STARTSWITH);
    assert_int_equal(r->cond->op, SIGMA_C_ID);
    release(&p);

    parse_fail(&p,
               "title: f\nlogsource:\n    product: x\nfilter:\n    selection:\n        a: 1\n"
               "    condition: selection\n",
               BN_EPARSE, "filter needs 'rules'");
    release(&p);
    parse_fail(&p,
               "title: f\nlogsource:\n    product: x\nfilter:\n    rules: [x]\n"
               "    selection:\n        a: 1\n",
               BN_EPARSE, "'filter' has no 'condition'");
    release(&p);
}

static void
test_limits(void **state)
{
    (void)state;
    struct parsed p;
    /* nesting */
    char deep[4096] = "a: ";
    for (int i = 0; i < BN_RULE_DEPTH_MAX + 2; i++)
        snprintf(deep + strlen(deep), sizeof(deep) - strlen(deep), "[");
    for (int i = 0; i < BN_RULE_DEPTH_MAX + 2; i++)
        snprintf(deep + strlen(deep), sizeof(deep) - strlen(deep), "]");
    parse_fail(&p, deep, BN_ETOOBIG, "BN_RULE_DEPTH_MAX");
    release(&p);

    /* alias expansion bomb */
    const char *bomb =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    parse_fail(&p, bomb, BN_ETOOBIG, "alias");
    release(&p);

    /* too many values in one item */
    size_t cap = 32 * (BN_RULE_VALUES_MAX + 10) + 256, len = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    len += (size_t)snprintf(big, cap, HEAD "detection:\n    sel:\n        a:\n");
    for (int i = 0; i <= BN_RULE_VALUES_MAX; i++)
        len += (size_t)snprintf(big + len, cap - len, "        - v%d\n", i);
    snprintf(big + len, cap - len, "    condition: sel\n");
    parse_fail(&p, big, BN_ETOOBIG, "BN_RULE_VALUES_MAX");
    release(&p);

    /* too many fields in one map (duplicate detection is pairwise, so maps stay small) */
    len = (size_t)snprintf(big, cap, HEAD "detection:\n    sel:\n");
    for (int i = 0; i <= 1024; i++)
        len += (size_t)snprintf(big + len, cap - len, "        f%d: 1\n", i);
    snprintf(big + len, cap - len, "    condition: sel\n");
    parse_fail(&p, big, BN_ETOOBIG, "search 'sel' has more than 1024 keys");
    release(&p);

    /* too many searches */
    len = (size_t)snprintf(big, cap, HEAD "detection:\n");
    for (int i = 0; i <= BN_RULE_SEARCHES_MAX; i++)
        len += (size_t)snprintf(big + len, cap - len, "    s%d: {a: 1}\n", i);
    snprintf(big + len, cap - len, "    condition: s1\n");
    parse_fail(&p, big, BN_ETOOBIG, "BN_RULE_SEARCHES_MAX");
    release(&p);
    free(big);

    /* a file over BN_RULE_FILE_MAX is rejected without being parsed */
    memset(&p, 0, sizeof(p));
    p.rc = sigma_parse_mem("x", (size_t)BN_RULE_FILE_MAX + 1, "t.yml", &p.rules, &p.n, collect,
                           &p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.ndiags, 1);
    assert_int_equal(p.diags[0].code, BN_ETOOBIG);
    release(&p);

    /* documents per file */
    size_t dcap = (BN_RULE_DOCS_MAX + 2) * 16 + 16;
    char *docs = malloc(dcap);
    assert_non_null(docs);
    len = 0;
    for (int i = 0; i < BN_RULE_DOCS_MAX + 2; i++)
        len += (size_t)snprintf(docs + len, dcap - len, "---\n~\n"); /* empty documents */
    parse(&p, docs);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.ndiags, 1);
    assert_int_equal(p.diags[0].code, BN_ETOOBIG);
    assert_non_null(strstr(p.diags[0].msg, "BN_RULE_DOCS_MAX"));
    release(&p);
    free(docs);
}

static void
test_garbage_never_crashes(void **state)
{
    (void)state;
    static const char *const inputs[] = {
        "", "---", "--- \n...\n", "null", "[]", "{}", "title", ": :", "\t", "a: b: c",
        "%YAML 1.1\n---\na: 1\n", "a: !!binary aGVsbG8=\n", "? [a]\n: b\n",
        "detection: {condition: [null]}\ntitle: x\nlogsource: {}\n",
        "title: x\nlogsource: {}\ndetection: {s: {a: 1}, condition: [s, [x]]}\n",
        "title: x\nlogsource: {}\ndetection: {s: [[a]], condition: s}\n",
        "title: x\nlogsource: {}\ndetection: {s: [{}], condition: s}\n",
        "title: x\ncorrelation: {type: temporal, rules: [{a: 1}], timespan: 1m}\n",
        "title: x\ncorrelation: {type: temporal, rules: [a], timespan: 99999999999999999d}\n",
        "title: x\ncorrelation: {type: [a]}\n",
        "title: x\ncorrelation: {type: temporal, rules: a, timespan: 1m, aliases: [x]}\n",
        "title: x\ncorrelation: {type: temporal, rules: a, timespan: 1m, aliases: {x: {a: [1]}}}\n",
        "title: x\nlogsource: {}\nfilter: [a]\n",
        "action: global\n---\naction: repeat\n",
        "\xff\xfe\x00\x00garbage",
        "a: \"\\x00\\u0000\"\n",
    };
    for (size_t i = 0; i < BN_ARRAY_SIZE(inputs); i++) {
        struct parsed p;
        parse(&p, inputs[i]);
        assert_int_equal(p.rc, 0);
        for (int j = 0; j < p.ndiags && j < DIAGS_MAX; j++)
            assert_true(p.diags[j].code < 0);
        release(&p);
    }
}

static const char typical_rule[] =
    "title: Suspicious Whoami\n"
    "id: 929a690e-bef0-4204-a928-ef5e620d6fcc\n"
    "status: test\n"
    "description: Detects whoami\n"
    "references:\n    - https://example.org\n"
    "author: someone\n"
    "date: 2019-10-23\n"
    "tags:\n    - attack.discovery\n    - attack.t1033\n"
    "logsource:\n    category: process_creation\n    product: windows\n"
    "detection:\n"
    "    selection_img:\n"
    "        - Image|endswith: '\\whoami.exe'\n"
    "        - OriginalFileName: 'whoami.exe'\n"
    "    selection_cli:\n"
    "        CommandLine|contains|all:\n            - '/priv'\n            - '/all'\n"
    "        CommandLine|re|i: '^.*whoami.*$'\n"
    "    filter_main:\n"
    "        ParentImage|startswith: 'C:\\Program Files\\'\n"
    "        EventID: 1\n"
    "    condition: all of selection_* and not 1 of filter_*\n"
    "falsepositives:\n    - Admin\n"
    "level: high\n"
    "---\n"
    "title: Corr\n"
    "correlation:\n    type: event_count\n    rules: [x]\n    group-by: [User]\n"
    "    timespan: 5m\n    condition: {gte: 3}\n";

static void
test_alloc_failures(void **state)
{
    (void)state;
    /* Fail every allocation in turn until the parse succeeds: no crash, no leak (ASan). */
    bool succeeded = false;
    unsigned long n;
    for (n = 1; n < 2000 && !succeeded; n++) {
        struct parsed p;
        memset(&p, 0, sizeof(p));
        bn_alloc_fail_after(n);
        p.rc = sigma_parse_mem(typical_rule, sizeof(typical_rule) - 1, "t.yml", &p.rules, &p.n,
                               collect, &p);
        bn_alloc_fail_after(0);
        assert_true(p.rc == 0 || p.rc == BN_ENOMEM);
        if (p.rc == 0) {
            assert_int_equal(p.ndiags, 0);
            assert_int_equal(p.n, 2);
            succeeded = true;
        }
        release(&p);
    }
    assert_true(succeeded);
    /* the loop really failed allocations (fparse, scratch pool, rule pools, array) first */
    assert_true(n > 8);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_parse_paths(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn_sigma_test_XXXXXX";
    char path[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/sub/deeper", dir);
    assert_int_equal(mkdir(path, 0700), 0);

    static const char *const files[] = {"b.yml", "a.yaml", "sub/c.yml", "sub/deeper/d.YML",
                                        "z.txt", "bad.yml"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(files); i++) {
        char text[256];
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        snprintf(text, sizeof(text),
                 "title: %s\nlogsource: {product: x}\ndetection: {s: {a: 1}, condition: s}\n",
                 files[i]);
        write_file(path, strcmp(files[i], "bad.yml") == 0 ? "title: [\n" : text);
    }
    struct parsed p;
    memset(&p, 0, sizeof(p));
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/missing.yml", dir);
    const char *paths[] = {dir, missing};
    p.rc = sigma_parse_paths(paths, 2, &p.rules, &p.n, collect, &p);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.n, 4);
    /* sorted walk: a.yaml, b.yml, sub/c.yml, sub/deeper/d.YML */
    assert_string_equal(p.rules[0]->title, "a.yaml");
    assert_string_equal(p.rules[1]->title, "b.yml");
    assert_string_equal(p.rules[2]->title, "sub/c.yml");
    assert_string_equal(p.rules[3]->title, "sub/deeper/d.YML");
    assert_non_null(strstr(p.rules[2]->file, "/sub/c.yml"));
    assert_int_equal(p.ndiags, 2);
    assert_non_null(strstr(p.diags[0].file, "bad.yml"));
    assert_int_equal(p.diags[0].code, BN_EPARSE);
    assert_non_null(strstr(p.diags[1].file, "missing.yml"));
    release(&p);

    /* a single file */
    snprintf(path, sizeof(path), "%s/b.yml", dir);
    memset(&p, 0, sizeof(p));
    assert_int_equal(sigma_parse_file(path, &p.rules, &p.n, collect, &p), 0);
    assert_int_equal(p.n, 1);
    release(&p);

    for (size_t i = 0; i < BN_ARRAY_SIZE(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/sub/deeper", dir);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_detection_forms),
        cmocka_unit_test(test_detection_errors),
        cmocka_unit_test(test_value_typing),
        cmocka_unit_test(test_strings_kept_as_written),
        cmocka_unit_test(test_every_modifier),
        cmocka_unit_test(test_modifier_errors),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_condition_errors),
        cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_aliases_and_anchors),
        cmocka_unit_test(test_multidoc_collections),
        cmocka_unit_test(test_bad_document_skipped),
        cmocka_unit_test(test_correlation_file),
        cmocka_unit_test(test_correlation_types),
        cmocka_unit_test(test_correlation_errors),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_parse_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
