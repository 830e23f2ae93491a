/*
 * sigma_parse.c - Sigma rule files (YAML) to struct sigma_rule trees.
 *
 * Two passes per YAML document. The first turns libyaml events into a small node tree in a
 * per-file scratch pool (line/column of every node, scalar style, aliases resolved), checking
 * nesting depth, string sizes and alias expansion on the way. The second walks that tree and
 * builds the rule in its own pool: metadata, logsource, detection searches with typed values
 * and modifiers, the condition (sigma_cond.c), correlation and filter sections.
 *
 * Sigma 1 collections are handled on the tree: `action: global` documents are deep-merged
 * under each following document, `action: reset` forgets them and `action: repeat` merges a
 * document over the previous rule. Every problem becomes one diagnostic with file:line:col
 * for the document it is in; the other documents of the file still load.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/pool.h"
#include "bannin/sigma.h"

/* Nodes a document may expand to through aliases before it is rejected (billion laughs). */
#define YNODES_MAX (1u << 20)
/* Key comparisons a global/repeat merge may make. */
#define MERGE_WORK_MAX (1u << 20)
/* Anchors in one document (looked up linearly by every alias; rules rarely use any). */
#define ANCHORS_MAX 128
/* Keys of any one YAML map (checked for duplicates pairwise, so kept small). */
#define MAP_KEYS_MAX 1024
/* Block size of each rule's pool: a typical rule needs a few kilobytes. */
#define RULE_POOL_BLOCK 4096

/* ------------------------------------------------------------------------------------- */
/* YAML node tree                                                                         */

enum ytype {
    Y_SCALAR = 0,
    Y_SEQ,
    Y_MAP,
};

struct ynode {
    enum ytype type;
    uint32_t n;           /* children; a map counts keys and values */
    unsigned line, col;   /* 1-based */
    bool typed;           /* plain scalar without explicit tag: may be null, bool or number */
    bool quoted;          /* single- or double-quoted scalar (for condition columns) */
    const char *s;        /* scalar text, NUL-terminated, may hold NUL bytes */
    size_t len;
    struct ynode *child, *last, *next;
    uint64_t weight;      /* nodes in this subtree, aliases expanded */
};

struct anchor {
    const char *name;
    struct ynode *node;    /* set once the anchored node is complete */
    struct ynode *pending; /* the anchored container while it is still open */
    struct anchor *next;
};

/* State of one file being parsed. */
struct fparse {
    const char *name;
    struct bn_pool *sp;      /* scratch: trees of every document of the file */
    sigma_diag_cb cb;
    void *cbctx;
    struct sigma_rule ***rules;
    size_t *n;

    /* tree building for the current document */
    struct ynode *stack[BN_RULE_DEPTH_MAX + 1];
    unsigned depth;
    struct ynode *root;
    struct anchor *anchors;
    unsigned nanchors;
    bool doc_failed;
    unsigned doc_line;
    struct bn_diag d;

    /* collections */
    struct ynode *global;
    struct ynode *prev;
};

static void
report(struct fparse *f, const struct bn_diag *d)
{
    if (f->cb)
        f->cb(f->cbctx, d);
}

static int
ferr(struct fparse *f, int code, unsigned line, unsigned col, const char *fmt, ...)
    BN_PRINTF(5, 6);

static int
ferr(struct fparse *f, int code, unsigned line, unsigned col, const char *fmt, ...)
{
    char msg[BN_DIAG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bn_diag_set(&f->d, code, f->name, line, col, "%s", msg);
}

static char *
pool_memdup(struct bn_pool *pool, const char *s, size_t n)
{
    char *p = bn_pool_alloc(pool, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static struct ynode *
ynode_new(struct fparse *f, enum ytype type, const yaml_mark_t *m)
{
    struct ynode *y = bn_pool_calloc(f->sp, 1, sizeof(*y));
    if (!y)
        return NULL;
    y->type = type;
    y->line = (unsigned)m->line + 1;
    y->col = (unsigned)m->column + 1;
    y->weight = 1;
    return y;
}

static void
ynode_append(struct ynode *parent, struct ynode *child)
{
    child->next = NULL;
    if (parent->last)
        parent->last->next = child;
    else
        parent->child = child;
    parent->last = child;
    parent->n++;
}

/* Adds a finished (or container start) node to the current parent. */
static int
tree_add(struct fparse *f, struct ynode *y, const yaml_char_t *anchor, bool container)
{
    if (f->depth == 0) {
        if (f->root)
            return ferr(f, BN_EPARSE, y->line, y->col, "more than one root node in a document");
        f->root = y;
    } else {
        struct ynode *parent = f->stack[f->depth - 1];
        ynode_append(parent, y);
    }
    if (anchor) {
        if (++f->nanchors > ANCHORS_MAX)
            return ferr(f, BN_ETOOBIG, y->line, y->col, "more than %u YAML anchors in a document",
                        ANCHORS_MAX);
        struct anchor *a = bn_pool_calloc(f->sp, 1, sizeof(*a));
        if (!a || !(a->name = bn_pool_strdup(f->sp, (const char *)anchor)))
            return BN_ENOMEM;
        /* An open container cannot be aliased yet (no cycles): see tree_end(). */
        a->node = container ? NULL : y;
        a->pending = container ? y : NULL;
        a->next = f->anchors;
        f->anchors = a;
    }
    if (container) {
        if (f->depth >= BN_RULE_DEPTH_MAX)
            return ferr(f, BN_ETOOBIG, y->line, y->col,
                        "YAML nesting deeper than BN_RULE_DEPTH_MAX (%d)", BN_RULE_DEPTH_MAX);
        f->stack[f->depth++] = y;
    } else if (f->depth > 0) {
        struct ynode *parent = f->stack[f->depth - 1];
        parent->weight += y->weight;
        if (parent->weight > YNODES_MAX)
            return ferr(f, BN_ETOOBIG, y->line, y->col,
                        "document expands to more than %u YAML nodes (alias bomb?)", YNODES_MAX);
    }
    return 0;
}

static int
tree_end(struct fparse *f)
{
    if (f->depth == 0)
        return ferr(f, BN_EINTERNAL, 0, 0, "unbalanced YAML events");
    struct ynode *y = f->stack[--f->depth];
    /* Complete: anchors naming it may now be used by aliases. */
    for (struct anchor *a = f->anchors; a; a = a->next) {
        if (a->pending == y) {
            a->node = y;
            a->pending = NULL;
        }
    }
    if (f->depth > 0) {
        struct ynode *parent = f->stack[f->depth - 1];
        parent->weight += y->weight;
        if (parent->weight > YNODES_MAX)
            return ferr(f, BN_ETOOBIG, y->line, y->col,
                        "document expands to more than %u YAML nodes (alias bomb?)", YNODES_MAX);
    }
    return 0;
}

static int
tree_alias(struct fparse *f, const yaml_event_t *ev)
{
    const char *name = (const char *)ev->data.alias.anchor;
    unsigned line = (unsigned)ev->start_mark.line + 1, col = (unsigned)ev->start_mark.column + 1;
    struct anchor *a;
    for (a = f->anchors; a; a = a->next)
        if (strcmp(a->name, name) == 0)
            break;
    if (!a)
        return ferr(f, BN_EPARSE, line, col, "unknown YAML alias '*%.64s'", name);
    if (!a->node)
        return ferr(f, BN_EPARSE, line, col,
                    "YAML alias '*%.64s' refers to a node that contains it", name);
    struct ynode *copy = bn_pool_alloc(f->sp, sizeof(*copy));
    if (!copy)
        return BN_ENOMEM;
    *copy = *a->node; /* children are shared: the tree is read-only once built */
    copy->next = NULL;
    copy->line = line;
    copy->col = col;
    return tree_add(f, copy, NULL, false);
}

/* ------------------------------------------------------------------------------------- */
/* Tree helpers                                                                           */

static bool
ykey_is(const struct ynode *k, const char *s)
{
    size_t n = strlen(s);
    return k->type == Y_SCALAR && k->len == n && memcmp(k->s, s, n) == 0;
}

static bool
ykey_eq(const struct ynode *a, const struct ynode *b)
{
    return a->type == Y_SCALAR && b->type == Y_SCALAR && a->len == b->len &&
           memcmp(a->s, b->s, a->len) == 0;
}

static struct ynode *
ymap_get(const struct ynode *map, const char *key)
{
    if (!map || map->type != Y_MAP)
        return NULL;
    for (struct ynode *k = map->child; k && k->next; k = k->next->next)
        if (ykey_is(k, key))
            return k->next;
    return NULL;
}

static bool
ynull(const struct ynode *y)
{
    if (!y)
        return true;
    if (y->type != Y_SCALAR || !y->typed)
        return false;
    return y->len == 0 || (y->len == 1 && y->s[0] == '~') || strcmp(y->s, "null") == 0 ||
           strcmp(y->s, "Null") == 0 || strcmp(y->s, "NULL") == 0;
}

/* Deep merge of Sigma 1 collections: over wins, maps merge recursively, `action` dropped. */
static struct ynode *
ymerge(struct fparse *f, const struct ynode *base, const struct ynode *over, bool top,
       uint64_t *work, int *rc)
{
    if (!base || base->type != Y_MAP || over->type != Y_MAP)
        return (struct ynode *)over;
    struct ynode *m = bn_pool_alloc(f->sp, sizeof(*m));
    if (!m) {
        *rc = BN_ENOMEM;
        return NULL;
    }
    *m = *over;
    m->child = m->last = m->next = NULL;
    m->n = 0;
    for (int pass = 0; pass < 2; pass++) {
        const struct ynode *src = pass == 0 ? base : over;
        for (struct ynode *k = src->child; k && k->next; k = k->next->next) {
            struct ynode *v = k->next, *ov = NULL, *ok = NULL;
            if (top && ykey_is(k, "action"))
                continue;
            /* Pass 0 looks the base key up in over; pass 1 skips keys base already had. */
            const struct ynode *other = pass == 0 ? over : base;
            for (struct ynode *k2 = other->child; k2 && k2->next; k2 = k2->next->next) {
                if (++*work > MERGE_WORK_MAX) {
                    *rc = ferr(f, BN_ETOOBIG, k->line, k->col,
                               "merging 'action: global' documents is too much work");
                    return NULL;
                }
                if (ykey_eq(k, k2)) {
                    ok = k2;
                    ov = k2->next;
                    break;
                }
            }
            if (pass == 1 && ov)
                continue; /* already merged in pass 0 */
            struct ynode *nk = bn_pool_alloc(f->sp, sizeof(*nk));
            struct ynode *nv = NULL;
            if (!nk) {
                *rc = BN_ENOMEM;
                return NULL;
            }
            if (pass == 0 && ov) {
                *nk = *ok;
                nv = ymerge(f, v, ov, false, work, rc);
                if (!nv)
                    return NULL;
            } else {
                *nk = *k;
                nv = v;
            }
            struct ynode *cv = bn_pool_alloc(f->sp, sizeof(*cv));
            if (!cv) {
                *rc = BN_ENOMEM;
                return NULL;
            }
            *cv = *nv;
            ynode_append(m, nk);
            ynode_append(m, cv);
        }
    }
    return m;
}

/* ------------------------------------------------------------------------------------- */
/* Rule building                                                                          */

struct conv {
    struct fparse *f;
    struct sigma_rule *r;
    struct bn_pool *pool;
};

static int
cerr(struct conv *c, int code, const struct ynode *at, const char *fmt, ...) BN_PRINTF(4, 5);

static int
cerr(struct conv *c, int code, const struct ynode *at, const char *fmt, ...)
{
    char msg[BN_DIAG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    unsigned line = at ? at->line : c->f->doc_line, col = at ? at->col : 0;
    return bn_diag_set(&c->f->d, code, c->f->name, line, col, "%s", msg);
}

/* A printable, bounded excerpt of a scalar for messages. */
static int
exlen(const struct ynode *y)
{
    if (y->type != Y_SCALAR)
        return 0;
    size_t n = strnlen(y->s, BN_MIN(y->len, 80));
    return (int)n;
}

static const char *
ytype_name(const struct ynode *y)
{
    return y->type == Y_MAP ? "a map" : y->type == Y_SEQ ? "a list" : "a plain value";
}

/* YAML forbids duplicate keys; PyYAML silently keeps the last one. Reject them instead. */
static int
check_dup_keys(struct conv *c, const struct ynode *map, const char *where)
{
    if (map->n / 2 > MAP_KEYS_MAX)
        return cerr(c, BN_ETOOBIG, map, "%s has more than %d keys", where, MAP_KEYS_MAX);
    for (const struct ynode *k = map->child; k && k->next; k = k->next->next)
        for (const struct ynode *k2 = map->child; k2 != k; k2 = k2->next->next)
            if (ykey_eq(k, k2))
                return cerr(c, BN_EPARSE, k, "duplicate key '%.*s' in %s (first at line %u)",
                            exlen(k), k->s, where, k2->line);
    return 0;
}

static int
get_str(struct conv *c, const struct ynode *k, const struct ynode *v, const char **out)
{
    if (ynull(v))
        return 0;
    if (v->type != Y_SCALAR)
        return cerr(c, BN_EPARSE, v, "'%.*s' must be a string, not %s", exlen(k), k->s,
                    ytype_name(v));
    if (!(*out = pool_memdup(c->pool, v->s, v->len)))
        return BN_ENOMEM;
    return 0;
}

/* A list of strings; a single scalar is a list of one. */
static int
get_strlist(struct conv *c, const struct ynode *k, const struct ynode *v, const char ***out,
            uint32_t *n)
{
    *out = NULL;
    *n = 0;
    if (ynull(v))
        return 0;
    if (v->type == Y_MAP)
        return cerr(c, BN_EPARSE, v, "'%.*s' must be a list of strings, not a map", exlen(k),
                    k->s);
    uint32_t cnt = v->type == Y_SCALAR ? 1 : v->n;
    if (cnt > BN_RULE_VALUES_MAX)
        return cerr(c, BN_ETOOBIG, v, "'%.*s' has more than BN_RULE_VALUES_MAX (%d) entries",
                    exlen(k), k->s, BN_RULE_VALUES_MAX);
    const char **arr = bn_pool_calloc(c->pool, cnt ? cnt : 1, sizeof(*arr));
    if (!arr)
        return BN_ENOMEM;
    uint32_t i = 0;
    const struct ynode *e = v->type == Y_SCALAR ? v : v->child;
    for (; e && i < cnt; e = v->type == Y_SCALAR ? NULL : e->next) {
        if (e->type != Y_SCALAR)
            return cerr(c, BN_EPARSE, e, "entries of '%.*s' must be strings, not %s", exlen(k),
                        k->s, ytype_name(e));
        if (ynull(e))
            continue;
        if (!(arr[i++] = pool_memdup(c->pool, e->s, e->len)))
            return BN_ENOMEM;
    }
    *out = arr;
    *n = i;
    return 0;
}

static bool
all_digits(const char *s, size_t n, int base)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = base == 16 ? ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                                (ch >= 'A' && ch <= 'F'))
                  : base == 8 ? (ch >= '0' && ch <= '7')
                              : (ch >= '0' && ch <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* YAML 1.2 core schema float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool
is_float(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        if (!all_digits(s + i, n - i, 10))
            return false;
        i = n;
    }
    return i == n;
}

/* Types a plain scalar the way the YAML 1.2 core schema does; quoted ones stay strings. */
static void
type_scalar(const struct ynode *y, struct sigma_value *v)
{
    const char *s = y->s;
    size_t n = y->len;

    v->type = SIGMA_V_STR;
    if (!y->typed)
        return;
    if (ynull(y)) {
        v->type = SIGMA_V_NULL;
        return;
    }
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
        v->type = SIGMA_V_BOOL;
        v->b = true;
        return;
    }
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
        v->type = SIGMA_V_BOOL;
        v->b = false;
        return;
    }
    if (memchr(s, '\0', n))
        return;
    size_t sign = (n > 0 && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    int base = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o') && all_digits(s + 2, n - 2,
                                                                         s[1] == 'x' ? 16 : 8))
        base = s[1] == 'x' ? 16 : 8;
    else if (all_digits(s + sign, n - sign, 10))
        base = 10;
    if (base) {
        v->type = SIGMA_V_NUM;
        errno = 0;
        if (base == 10) {
            long long ll = strtoll(s, NULL, 10);
            if (errno == 0) {
                v->i = ll;
                v->is_int = true;
                v->num = (double)ll;
            } else {
                v->num = strtod(s, NULL);
            }
        } else {
            unsigned long long u = strtoull(s + 2, NULL, base);
            if (errno == 0 && u <= INT64_MAX) {
                v->i = (int64_t)u;
                v->is_int = true;
                v->num = (double)u;
            } else {
                v->num = (double)u;
            }
        }
        return;
    }
    if (is_float(s, n)) {
        v->type = SIGMA_V_NUM;
        v->num = strtod(s, NULL);
        return;
    }
    const char *t = s + sign;
    if (!strcmp(t, ".inf") || !strcmp(t, ".Inf") || !strcmp(t, ".INF")) {
        v->type = SIGMA_V_NUM;
        v->num = s[0] == '-' ? -INFINITY : INFINITY;
        return;
    }
    if (!sign && (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))) {
        v->type = SIGMA_V_NUM;
        v->num = NAN;
    }
}

static int
make_value(struct conv *c, const struct ynode *y, struct sigma_value *v)
{
    memset(v, 0, sizeof(*v));
    v->line = y->line;
    v->col = y->col;
    type_scalar(y, v);
    if (v->type == SIGMA_V_NULL)
        return 0;
    if (!(v->s = pool_memdup(c->pool, y->s, y->len)))
        return BN_ENOMEM;
    v->len = y->len;
    return 0;
}

static bool
has_mod(const struct sigma_item *it, enum sigma_mod m)
{
    return (it->modmask & (1u << m)) != 0;
}

/* Splits `field|mod|mod` into the item. */
static int
parse_key(struct conv *c, const struct ynode *k, struct sigma_item *it)
{
    if (k->type != Y_SCALAR)
        return cerr(c, BN_EPARSE, k, "a field name must be a plain string, not %s",
                    ytype_name(k));
    if (memchr(k->s, '\0', k->len))
        return cerr(c, BN_EPARSE, k, "field name contains a NUL byte");
    const char *s = k->s, *end = k->s + k->len;
    const char *bar = memchr(s, '|', k->len);
    size_t flen = bar ? (size_t)(bar - s) : k->len;
    if (flen > BN_FIELD_NAME_MAX)
        return cerr(c, BN_ETOOBIG, k, "field name is longer than BN_FIELD_NAME_MAX (%d)",
                    BN_FIELD_NAME_MAX);
    if (flen && !(it->field = pool_memdup(c->pool, s, flen)))
        return BN_ENOMEM;
    bool seen_re = false;
    while (bar) {
        const char *m = bar + 1;
        bar = memchr(m, '|', (size_t)(end - m));
        size_t mlen = bar ? (size_t)(bar - m) : (size_t)(end - m);
        if (mlen == 0)
            return cerr(c, BN_EPARSE, k, "empty modifier in '%.*s': remove the extra '|'",
                        exlen(k), k->s);
        int mod = sigma_mod_parse(m, mlen);
        if (mod < 0)
            return cerr(c, BN_EPARSE, k,
                        "unknown modifier '%.*s' in '%.*s' (see the Sigma modifiers appendix: "
                        "contains, startswith, endswith, all, re, cidr, base64, base64offset, "
                        "utf16le, utf16be, utf16, wide, windash, lt, lte, gt, gte, neq, exists, "
                        "fieldref, cased, expand, minute, hour, day, week, month, year)",
                        (int)BN_MIN(mlen, 40), m, exlen(k), k->s);
        if ((mod == SIGMA_MOD_RE_I || mod == SIGMA_MOD_RE_M || mod == SIGMA_MOD_RE_S) &&
            !seen_re)
            return cerr(c, BN_EPARSE, k,
                        "modifier '%.*s' in '%.*s' is a regular expression flag and must "
                        "follow 're'",
                        (int)mlen, m, exlen(k), k->s);
        if (mod == SIGMA_MOD_RE)
            seen_re = true;
        if (it->nmods >= BN_MODIFIERS_MAX)
            return cerr(c, BN_ETOOBIG, k, "more than BN_MODIFIERS_MAX (%d) modifiers in '%.*s'",
                        BN_MODIFIERS_MAX, exlen(k), k->s);
        it->mods[it->nmods++] = (uint8_t)mod;
        it->modmask |= 1u << mod;
    }
    return 0;
}

static const char *
item_name(const struct sigma_item *it)
{
    return it->field ? it->field : "keywords";
}

/* Checks that need the modifiers and the values together. */
static int
check_item(struct conv *c, const struct ynode *k, const struct ynode *v, struct sigma_item *it)
{
    bool has_null = false;
    for (uint32_t i = 0; i < it->nvalues; i++)
        has_null |= it->values[i].type == SIGMA_V_NULL;
    if (has_null && it->nvalues > 1)
        return cerr(c, BN_EPARSE, v,
                    "null cannot be part of a value list of '%s'; put '%s: null' in a search "
                    "of its own",
                    item_name(it), item_name(it));
    if (has_mod(it, SIGMA_MOD_ALL) && it->nvalues < 2)
        return cerr(c, BN_EPARSE, k,
                    "'all' on '%.*s' needs a list of two or more values; with a single value "
                    "drop 'all'",
                    exlen(k), k->s);
    if (has_mod(it, SIGMA_MOD_EXISTS) &&
        (it->nvalues != 1 || it->values[0].type != SIGMA_V_BOOL))
        return cerr(c, BN_EPARSE, v, "'exists' on '%s' takes a single unquoted true or false",
                    item_name(it));
    if (has_mod(it, SIGMA_MOD_LT) || has_mod(it, SIGMA_MOD_LTE) || has_mod(it, SIGMA_MOD_GT) ||
        has_mod(it, SIGMA_MOD_GTE)) {
        for (uint32_t i = 0; i < it->nvalues; i++)
            if (it->values[i].type != SIGMA_V_NUM)
                return bn_diag_set(&c->f->d, BN_EPARSE, c->f->name, it->values[i].line,
                                   it->values[i].col,
                                   "numeric comparison on '%s' needs unquoted numbers",
                                   item_name(it));
    }
    return 0;
}

static int
parse_values(struct conv *c, const struct ynode *k, const struct ynode *v, struct sigma_item *it)
{
    if (v->type == Y_MAP)
        return cerr(c, BN_EPARSE, v,
                    "value of '%.*s' is a map; a field takes a value or a list of values",
                    exlen(k), k->s);
    uint32_t cnt = v->type == Y_SCALAR ? 1 : v->n;
    if (cnt == 0)
        return cerr(c, BN_EPARSE, v, "'%.*s' has an empty list of values", exlen(k), k->s);
    if (cnt > BN_RULE_VALUES_MAX)
        return cerr(c, BN_ETOOBIG, v, "'%.*s' has more than BN_RULE_VALUES_MAX (%d) values",
                    exlen(k), k->s, BN_RULE_VALUES_MAX);
    it->values = bn_pool_calloc(c->pool, cnt, sizeof(*it->values));
    if (!it->values)
        return BN_ENOMEM;
    const struct ynode *e = v->type == Y_SCALAR ? v : v->child;
    for (uint32_t i = 0; i < cnt && e; i++, e = e->next) {
        if (e->type != Y_SCALAR)
            return cerr(c, BN_EPARSE, e,
                        "values of '%.*s' must be plain values; nested %s are not allowed",
                        exlen(k), k->s, e->type == Y_MAP ? "maps" : "lists");
        int rc = make_value(c, e, &it->values[i]);
        if (rc)
            return rc;
        it->nvalues++;
    }
    return check_item(c, k, v, it);
}

/* A YAML map: AND of `field|mods: values` items. */
static int
parse_map(struct conv *c, const struct ynode *name, const struct ynode *m, struct sigma_map *out)
{
    uint32_t n = m->n / 2;
    char where[128];
    if (n == 0)
        return cerr(c, BN_EPARSE, m, "search '%.*s' has an empty map", exlen(name), name->s);
    snprintf(where, sizeof(where), "search '%.*s'", exlen(name), name->s);
    int drc = check_dup_keys(c, m, where);
    if (drc)
        return drc;
    out->items = bn_pool_calloc(c->pool, n, sizeof(*out->items));
    if (!out->items)
        return BN_ENOMEM;
    for (const struct ynode *k = m->child; k && k->next; k = k->next->next) {
        struct sigma_item *it = &out->items[out->nitems];
        it->line = k->line;
        it->col = k->col;
        int rc = parse_key(c, k, it);
        if (!rc)
            rc = parse_values(c, k, k->next, it);
        if (rc)
            return rc;
        out->nitems++;
    }
    return 0;
}

/* A list of plain values (or one value): a keyword item with no field. */
static int
parse_keywords(struct conv *c, const struct ynode *name, const struct ynode *v,
               struct sigma_map *out)
{
    out->items = bn_pool_calloc(c->pool, 1, sizeof(*out->items));
    if (!out->items)
        return BN_ENOMEM;
    struct sigma_item *it = &out->items[0];
    it->line = v->line;
    it->col = v->col;
    int rc = parse_values(c, name, v, it);
    if (rc)
        return rc;
    out->nitems = 1;
    return 0;
}

static int
parse_search(struct conv *c, const struct ynode *k, const struct ynode *v, struct sigma_search *s)
{
    int rc;
    if (k->type != Y_SCALAR || k->len == 0 || memchr(k->s, '\0', k->len))
        return cerr(c, BN_EPARSE, k, "search identifiers must be non-empty plain strings");
    if (!(s->name = pool_memdup(c->pool, k->s, k->len)))
        return BN_ENOMEM;
    s->line = k->line;
    s->col = k->col;
    if (ynull(v))
        return cerr(c, BN_EPARSE, v, "search '%.*s' is empty: give it a map of fields or a list",
                    exlen(k), k->s);
    if (v->type == Y_MAP) {
        if (!(s->alts = bn_pool_calloc(c->pool, 1, sizeof(*s->alts))))
            return BN_ENOMEM;
        s->nalts = 1;
        return parse_map(c, k, v, &s->alts[0]);
    }
    if (v->type == Y_SCALAR) {
        if (!(s->alts = bn_pool_calloc(c->pool, 1, sizeof(*s->alts))))
            return BN_ENOMEM;
        s->nalts = 1;
        return parse_keywords(c, k, v, &s->alts[0]);
    }
    if (v->n == 0)
        return cerr(c, BN_EPARSE, v, "search '%.*s' is an empty list", exlen(k), k->s);
    uint32_t nmaps = 0, nscalars = 0;
    for (const struct ynode *e = v->child; e; e = e->next) {
        nmaps += e->type == Y_MAP;
        nscalars += e->type == Y_SCALAR;
    }
    if (nmaps == v->n) {
        if (nmaps > BN_RULE_VALUES_MAX)
            return cerr(c, BN_ETOOBIG, v, "search '%.*s' has more than %d alternatives",
                        exlen(k), k->s, BN_RULE_VALUES_MAX);
        if (!(s->alts = bn_pool_calloc(c->pool, nmaps, sizeof(*s->alts))))
            return BN_ENOMEM;
        for (const struct ynode *e = v->child; e; e = e->next) {
            if ((rc = parse_map(c, k, e, &s->alts[s->nalts])) != 0)
                return rc;
            s->nalts++;
        }
        return 0;
    }
    if (nscalars == v->n) {
        if (!(s->alts = bn_pool_calloc(c->pool, 1, sizeof(*s->alts))))
            return BN_ENOMEM;
        s->nalts = 1;
        return parse_keywords(c, k, v, &s->alts[0]);
    }
    return cerr(c, BN_EPARSE, v,
                "search '%.*s' mixes %s; use a list of maps (OR of field matches) or a list "
                "of plain keywords",
                exlen(k), k->s, nmaps ? "maps and plain values" : "nested lists and values");
}

static bool
glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *back = NULL;
    while (*s) {
        if (*pat == '*') {
            star = ++pat;
            back = s;
        } else if (*pat == *s) {
            pat++;
            s++;
        } else if (star) {
            pat = star;
            s = ++back;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static const struct sigma_search *
find_search(const struct sigma_rule *r, const char *name)
{
    for (uint32_t i = 0; i < r->nsearches; i++)
        if (strcmp(r->searches[i].name, name) == 0)
            return &r->searches[i];
    return NULL;
}

/* Converts a column of the condition text into the file position of that character. */
static void
cond_pos(const struct ynode *cn, unsigned long ccol, unsigned long *line, unsigned long *col)
{
    *line = cn->line;
    *col = cn->col + (cn->quoted ? 1 : 0) + (ccol ? ccol - 1 : 0);
}

/* Every identifier must name a search, every pattern match one. Loops down left chains. */
static int
check_cond(struct conv *c, const struct ynode *cn, const struct sigma_cond *x)
{
    while (x) {
        unsigned long line, col;
        switch (x->op) {
        case SIGMA_C_AND:
        case SIGMA_C_OR: {
            int rc = check_cond(c, cn, x->b);
            if (rc)
                return rc;
            x = x->a;
            continue;
        }
        case SIGMA_C_NOT:
            x = x->a;
            continue;
        case SIGMA_C_ID:
            if (!find_search(c->r, x->name)) {
                cond_pos(cn, x->col, &line, &col);
                return bn_diag_set(&c->f->d, BN_EPARSE, c->f->name, line, col,
                                   "condition names '%.64s' but detection has no search of "
                                   "that name",
                                   x->name);
            }
            return 0;
        case SIGMA_C_ONE_OF:
        case SIGMA_C_ALL_OF:
            for (uint32_t i = 0; i < c->r->nsearches; i++)
                if (glob_match(x->name, c->r->searches[i].name))
                    return 0;
            cond_pos(cn, x->col, &line, &col);
            return bn_diag_set(&c->f->d, BN_EPARSE, c->f->name, line, col,
                               "pattern '%.64s' in the condition matches no search", x->name);
        case SIGMA_C_ONE_OF_THEM:
        case SIGMA_C_ALL_OF_THEM:
            for (uint32_t i = 0; i < c->r->nsearches; i++)
                if (c->r->searches[i].name[0] != '_')
                    return 0;
            cond_pos(cn, x->col, &line, &col);
            return bn_diag_set(&c->f->d, BN_EPARSE, c->f->name, line, col,
                               "'of them' needs at least one search not starting with '_'");
        }
        return 0;
    }
    return 0;
}

static int
parse_one_cond(struct conv *c, const struct ynode *cn, struct sigma_cond **out)
{
    struct bn_diag cd;
    if (cn->type != Y_SCALAR || ynull(cn))
        return cerr(c, BN_EPARSE, cn, "condition must be a string such as 'selection and not "
                                      "filter'");
    int rc = sigma_cond_parse(cn->s, cn->len, c->pool, out, &cd);
    if (rc == BN_ENOMEM)
        return rc;
    if (rc) {
        unsigned long line, col;
        cond_pos(cn, cd.col, &line, &col);
        return bn_diag_set(&c->f->d, rc, c->f->name, line, col, "%s", cd.msg);
    }
    return check_cond(c, cn, *out);
}

/* condition: a string, or a list of strings OR-ed together. */
static int
parse_condition(struct conv *c, const struct ynode *owner, const struct ynode *cn)
{
    int rc;
    struct sigma_rule *r = c->r;
    if (!cn)
        return cerr(c, BN_EPARSE, owner, "'%.*s' has no 'condition'; add e.g. 'condition: "
                                         "selection'",
                    owner->type == Y_SCALAR ? exlen(owner) : 0, owner->s ? owner->s : "");
    if (cn->type == Y_SEQ) {
        if (cn->n == 0)
            return cerr(c, BN_EPARSE, cn, "condition is an empty list");
        size_t total = 0;
        for (const struct ynode *e = cn->child; e; e = e->next) {
            struct sigma_cond *one = NULL;
            if ((rc = parse_one_cond(c, e, &one)) != 0)
                return rc;
            total += e->len + 8;
            if (!r->cond) {
                r->cond = one;
            } else {
                struct sigma_cond *o = bn_pool_calloc(c->pool, 1, sizeof(*o));
                if (!o)
                    return BN_ENOMEM;
                o->op = SIGMA_C_OR;
                o->a = r->cond;
                o->b = one;
                o->col = 1;
                r->cond = o;
            }
        }
        char *t = bn_pool_alloc(c->pool, total + 1), *p = t;
        if (!t)
            return BN_ENOMEM;
        for (const struct ynode *e = cn->child; e; e = e->next) {
            if (p != t) {
                memcpy(p, " or ", 4);
                p += 4;
            }
            *p++ = '(';
            memcpy(p, e->s, e->len);
            p += e->len;
            *p++ = ')';
        }
        *p = '\0';
        r->cond_text = t;
        return 0;
    }
    if ((rc = parse_one_cond(c, cn, &r->cond)) != 0)
        return rc;
    if (!(r->cond_text = pool_memdup(c->pool, cn->s, cn->len)))
        return BN_ENOMEM;
    return 0;
}

/* detection: (or filter:) searches plus condition. skip_rules ignores the filter's `rules`. */
static int
parse_detection(struct conv *c, const struct ynode *k, const struct ynode *det, bool skip_rules)
{
    struct sigma_rule *r = c->r;
    const struct ynode *cond = NULL, *timeframe = NULL;
    int rc;

    if (det->type != Y_MAP)
        return cerr(c, BN_EPARSE, det, "'%.*s' must be a map of searches and a condition",
                    exlen(k), k->s);
    uint32_t n = 0;
    for (const struct ynode *sk = det->child; sk && sk->next; sk = sk->next->next)
        n++;
    if (n > BN_RULE_SEARCHES_MAX + 3)
        return cerr(c, BN_ETOOBIG, det, "more than BN_RULE_SEARCHES_MAX (%d) searches",
                    BN_RULE_SEARCHES_MAX);
    if (!skip_rules && (rc = check_dup_keys(c, det, "detection")) != 0)
        return rc;
    r->searches = bn_pool_calloc(c->pool, n ? n : 1, sizeof(*r->searches));
    if (!r->searches)
        return BN_ENOMEM;
    for (const struct ynode *sk = det->child; sk && sk->next; sk = sk->next->next) {
        if (ykey_is(sk, "condition")) {
            cond = sk->next;
            continue;
        }
        if (ykey_is(sk, "timeframe")) {
            timeframe = sk;
            continue;
        }
        if (skip_rules && ykey_is(sk, "rules"))
            continue;
        for (const struct ynode *k2 = det->child; k2 != sk; k2 = k2->next->next)
            if (ykey_eq(sk, k2))
                return cerr(c, BN_EPARSE, sk, "duplicate search '%.*s' (first at line %u)",
                            exlen(sk), sk->s, k2->line);
        if (r->nsearches >= BN_RULE_SEARCHES_MAX)
            return cerr(c, BN_ETOOBIG, sk, "more than BN_RULE_SEARCHES_MAX (%d) searches",
                        BN_RULE_SEARCHES_MAX);
        if ((rc = parse_search(c, sk, sk->next, &r->searches[r->nsearches])) != 0)
            return rc;
        r->nsearches++;
    }
    if (r->nsearches == 0)
        return cerr(c, BN_EPARSE, det, "'%.*s' defines no search", exlen(k), k->s);
    if ((rc = parse_condition(c, k ? k : det, cond)) != 0)
        return rc;
    if (timeframe)
        return cerr(c, BN_EUNSUP, timeframe,
                    "Sigma 1 'timeframe' in detection is not supported; rewrite it as a "
                    "correlation rule with 'timespan'");
    return 0;
}

/* 30s, 5m, 1h, 2d, 1w -> milliseconds. */
static int
parse_timespan(struct conv *c, const struct ynode *v, int64_t *ms)
{
    if (!v || v->type != Y_SCALAR || ynull(v))
        return cerr(c, BN_EPARSE, v, "correlation needs a 'timespan' such as 30s, 5m, 1h or 1d");
    const char *s = v->s;
    size_t n = v->len;
    if (n < 2 || !all_digits(s, n - 1, 10) || n > 19)
        goto bad;
    int64_t unit;
    switch (s[n - 1]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = 86400 * 1000; break;
    case 'w': unit = 7LL * 86400 * 1000; break;
    default: goto bad;
    }
    int64_t num = strtoll(s, NULL, 10);
    if (num <= 0)
        return cerr(c, BN_EPARSE, v, "timespan '%.*s' must be greater than zero", exlen(v), s);
    if (num > INT64_MAX / unit)
        return cerr(c, BN_ETOOBIG, v, "timespan '%.*s' is too long", exlen(v), s);
    *ms = num * unit;
    return 0;
bad:
    return cerr(c, BN_EPARSE, v,
                "timespan '%.*s' is not a number followed by s, m, h, d or w (e.g. 5m)", exlen(v),
                s);
}

static int
parse_corr_condition(struct conv *c, const struct ynode *cv, struct sigma_correlation *co)
{
    static const struct {
        const char *name;
        enum sigma_cmp cmp;
    } cmps[] = {
        {"gt", SIGMA_CMP_GT}, {"gte", SIGMA_CMP_GTE}, {"lt", SIGMA_CMP_LT},
        {"lte", SIGMA_CMP_LTE}, {"eq", SIGMA_CMP_EQ}, {"neq", SIGMA_CMP_NEQ},
    };
    if (cv->type != Y_MAP)
        return cerr(c, BN_EPARSE, cv,
                    "correlation condition must be a map such as 'gte: 10', not %s",
                    ytype_name(cv));
    int drc = check_dup_keys(c, cv, "the correlation condition");
    if (drc)
        return drc;
    for (const struct ynode *k = cv->child; k && k->next; k = k->next->next) {
        const struct ynode *v = k->next;
        if (ykey_is(k, "field")) {
            if (v->type == Y_SEQ) {
                if (v->n != 1 || v->child->type != Y_SCALAR)
                    return cerr(c, BN_EUNSUP, v,
                                "correlation on more than one 'field' is not supported");
                v = v->child;
            }
            int rc = get_str(c, k, v, &co->field);
            if (rc)
                return rc;
            continue;
        }
        size_t i;
        for (i = 0; i < BN_ARRAY_SIZE(cmps); i++)
            if (ykey_is(k, cmps[i].name))
                break;
        if (i == BN_ARRAY_SIZE(cmps))
            return cerr(c, BN_EPARSE, k,
                        "unknown correlation condition '%.*s' (use gt, gte, lt, lte, eq, neq "
                        "or field)",
                        exlen(k), k->s);
        struct sigma_value val;
        if (v->type != Y_SCALAR)
            return cerr(c, BN_EPARSE, v, "'%.*s' needs an integer", exlen(k), k->s);
        memset(&val, 0, sizeof(val));
        type_scalar(v, &val);
        if (val.type != SIGMA_V_NUM || !val.is_int)
            return cerr(c, BN_EPARSE, v, "'%.*s' needs an unquoted integer, not '%.*s'",
                        exlen(k), k->s, exlen(v), v->s);
        if (co->nconds >= BN_ARRAY_SIZE(co->conds))
            return cerr(c, BN_EPARSE, k, "too many comparisons in the correlation condition");
        co->conds[co->nconds].cmp = cmps[i].cmp;
        co->conds[co->nconds].value = val.i;
        co->nconds++;
    }
    return 0;
}

static int
parse_aliases(struct conv *c, const struct ynode *av, struct sigma_correlation *co)
{
    if (ynull(av))
        return 0;
    if (av->type != Y_MAP)
        return cerr(c, BN_EPARSE, av, "'aliases' must map alias names to {rule: field} maps");
    int rc = check_dup_keys(c, av, "aliases");
    if (rc)
        return rc;
    uint32_t n = av->n / 2;
    co->naliases = 0;
    co->aliases = bn_pool_calloc(c->pool, n ? n : 1, sizeof(*co->aliases));
    if (!co->aliases)
        return BN_ENOMEM;
    for (const struct ynode *k = av->child; k && k->next; k = k->next->next) {
        const struct ynode *m = k->next;
        struct sigma_alias *a = &co->aliases[co->naliases];
        if (k->type != Y_SCALAR || m->type != Y_MAP)
            return cerr(c, BN_EPARSE, m, "alias '%.*s' must map rule names to field names",
                        exlen(k), k->s);
        if (!(a->name = pool_memdup(c->pool, k->s, k->len)))
            return BN_ENOMEM;
        if ((rc = check_dup_keys(c, m, "an alias")) != 0)
            return rc;
        uint32_t mn = m->n / 2;
        a->rules = bn_pool_calloc(c->pool, mn ? mn : 1, sizeof(*a->rules));
        a->fields = bn_pool_calloc(c->pool, mn ? mn : 1, sizeof(*a->fields));
        if (!a->rules || !a->fields)
            return BN_ENOMEM;
        for (const struct ynode *rk = m->child; rk && rk->next; rk = rk->next->next) {
            if (rk->type != Y_SCALAR || rk->next->type != Y_SCALAR || ynull(rk->next))
                return cerr(c, BN_EPARSE, rk, "alias '%.*s': each rule needs one field name",
                            exlen(k), k->s);
            if (!(a->rules[a->n] = pool_memdup(c->pool, rk->s, rk->len)) ||
                !(a->fields[a->n] = pool_memdup(c->pool, rk->next->s, rk->next->len)))
                return BN_ENOMEM;
            a->n++;
        }
        co->naliases++;
    }
    return 0;
}

static int
parse_bool(struct conv *c, const struct ynode *k, const struct ynode *v, bool *out)
{
    struct sigma_value val;
    memset(&val, 0, sizeof(val));
    if (v->type == Y_SCALAR)
        type_scalar(v, &val);
    if (v->type != Y_SCALAR || val.type != SIGMA_V_BOOL)
        return cerr(c, BN_EPARSE, v, "'%.*s' must be true or false", exlen(k), k->s);
    *out = val.b;
    return 0;
}

static int
parse_correlation(struct conv *c, const struct ynode *root, const struct ynode *cv)
{
    static const char *const unsup[] = {"value_sum", "value_avg", "value_percentile"};
    struct sigma_correlation *co = &c->r->corr;
    const struct ynode *type = NULL, *rules = NULL, *rulesk = NULL, *timespan = NULL;
    const struct ynode *cond = NULL;
    int rc;

    if (cv->type != Y_MAP)
        return cerr(c, BN_EPARSE, cv, "'correlation' must be a map with type, rules, "
                                      "group-by, timespan and condition");
    if ((rc = check_dup_keys(c, cv, "correlation")) != 0)
        return rc;
    for (const struct ynode *k = cv->child; k && k->next; k = k->next->next) {
        const struct ynode *v = k->next;
        if (ykey_is(k, "type"))
            type = v;
        else if (ykey_is(k, "rules")) {
            rulesk = k;
            rules = v;
        }
        else if (ykey_is(k, "timespan"))
            timespan = v;
        else if (ykey_is(k, "condition"))
            cond = v;
        else if (ykey_is(k, "group-by")) {
            if ((rc = get_strlist(c, k, v, &co->group_by, &co->ngroup_by)) != 0)
                return rc;
        } else if (ykey_is(k, "field")) {
            if ((rc = get_str(c, k, v, &co->field)) != 0)
                return rc;
        } else if (ykey_is(k, "aliases")) {
            if ((rc = parse_aliases(c, v, co)) != 0)
                return rc;
        } else if (ykey_is(k, "generate")) {
            if ((rc = parse_bool(c, k, v, &co->generate)) != 0)
                return rc;
        }
    }
    /* The specification lists `generate` at the top level, pySigma inside `correlation`. */
    for (const struct ynode *k = root->child; k && k->next; k = k->next->next)
        if (ykey_is(k, "generate") && (rc = parse_bool(c, k, k->next, &co->generate)) != 0)
            return rc;

    if (!type || type->type != Y_SCALAR || ynull(type))
        return cerr(c, BN_EPARSE, type ? type : cv,
                    "correlation needs a 'type' (event_count, value_count, temporal or "
                    "temporal_ordered)");
    if (ykey_is(type, "event_count"))
        co->type = SIGMA_CORR_EVENT_COUNT;
    else if (ykey_is(type, "value_count"))
        co->type = SIGMA_CORR_VALUE_COUNT;
    else if (ykey_is(type, "temporal"))
        co->type = SIGMA_CORR_TEMPORAL;
    else if (ykey_is(type, "temporal_ordered"))
        co->type = SIGMA_CORR_TEMPORAL_ORDERED;
    else {
        for (size_t i = 0; i < BN_ARRAY_SIZE(unsup); i++)
            if (ykey_is(type, unsup[i]))
                return cerr(c, BN_EUNSUP, type,
                            "correlation type '%s' is not supported (supported: event_count, "
                            "value_count, temporal, temporal_ordered)",
                            unsup[i]);
        return cerr(c, BN_EPARSE, type,
                    "unknown correlation type '%.*s' (use event_count, value_count, temporal "
                    "or temporal_ordered)",
                    exlen(type), type->s);
    }
    if (!rules)
        return cerr(c, BN_EPARSE, cv, "correlation needs 'rules': the names or ids of the "
                                      "rules it correlates");
    if ((rc = get_strlist(c, rulesk, rules, &co->rules, &co->nrules)) != 0)
        return rc;
    if (co->nrules == 0)
        return cerr(c, BN_EPARSE, rules, "correlation 'rules' is empty");
    if ((rc = parse_timespan(c, timespan ? timespan : cv, &co->timespan_ms)) != 0)
        return rc;
    if (cond && !ynull(cond) && (rc = parse_corr_condition(c, cond, co)) != 0)
        return rc;
    switch (co->type) {
    case SIGMA_CORR_EVENT_COUNT:
    case SIGMA_CORR_VALUE_COUNT:
        if (co->nconds == 0)
            return cerr(c, BN_EPARSE, cond ? cond : cv,
                        "%s correlation needs a 'condition' such as 'gte: 10'",
                        co->type == SIGMA_CORR_EVENT_COUNT ? "event_count" : "value_count");
        if (co->type == SIGMA_CORR_VALUE_COUNT && !co->field)
            return cerr(c, BN_EPARSE, cond ? cond : cv,
                        "value_count correlation needs 'field' in its condition: the field "
                        "whose distinct values are counted");
        break;
    case SIGMA_CORR_TEMPORAL:
    case SIGMA_CORR_TEMPORAL_ORDERED:
        if (co->nconds == 0) {
            co->conds[0].cmp = SIGMA_CMP_GTE;
            co->conds[0].value = co->nrules;
            co->nconds = 1;
        }
        break;
    }
    return 0;
}

static int
parse_filter(struct conv *c, const struct ynode *k, const struct ynode *fv)
{
    int rc;
    if (fv->type != Y_MAP)
        return cerr(c, BN_EPARSE, fv, "'filter' must be a map with rules, searches and a "
                                      "condition");
    if ((rc = check_dup_keys(c, fv, "filter")) != 0)
        return rc;
    const struct ynode *rules = ymap_get(fv, "rules");
    if (!rules || ynull(rules))
        return cerr(c, BN_EPARSE, fv, "filter needs 'rules': the names or ids of the rules "
                                      "it applies to");
    if ((rc = get_strlist(c, k, rules, &c->r->filter.rules, &c->r->filter.nrules)) != 0)
        return rc;
    if (c->r->filter.nrules == 0)
        return cerr(c, BN_EPARSE, rules, "filter 'rules' is empty");
    return parse_detection(c, k, fv, true);
}

static int
parse_logsource(struct conv *c, const struct ynode *k, const struct ynode *v)
{
    int rc = 0;
    if (ynull(v))
        return 0;
    if (v->type != Y_MAP)
        return cerr(c, BN_EPARSE, v, "'logsource' must be a map of product, category, service");
    if ((rc = check_dup_keys(c, v, "logsource")) != 0)
        return rc;
    for (const struct ynode *lk = v->child; lk && lk->next && !rc; lk = lk->next->next) {
        if (ykey_is(lk, "product"))
            rc = get_str(c, lk, lk->next, &c->r->logsource.product);
        else if (ykey_is(lk, "category"))
            rc = get_str(c, lk, lk->next, &c->r->logsource.category);
        else if (ykey_is(lk, "service"))
            rc = get_str(c, lk, lk->next, &c->r->logsource.service);
        else if (ykey_is(lk, "definition"))
            rc = get_str(c, lk, lk->next, &c->r->logsource.definition);
    }
    (void)k;
    return rc;
}

/* Builds c->r from a document's root map. */
static int
convert(struct conv *c, const struct ynode *root)
{
    struct sigma_rule *r = c->r;
    const struct ynode *det = NULL, *detk = NULL, *corr = NULL, *filt = NULL, *filtk = NULL;
    const struct ynode *logsource = NULL;
    int rc = 0;

    if (root->type != Y_MAP)
        return cerr(c, BN_EPARSE, root,
                    "a rule document must be a map (title, logsource, detection, ...), not %s",
                    ytype_name(root));
    if ((rc = check_dup_keys(c, root, "the rule")) != 0)
        return rc;
    for (const struct ynode *k = root->child; k && k->next && !rc; k = k->next->next) {
        const struct ynode *v = k->next;
        if (k->type != Y_SCALAR)
            return cerr(c, BN_EPARSE, k, "top-level keys must be plain strings");
        if (ykey_is(k, "title"))
            rc = get_str(c, k, v, &r->title);
        else if (ykey_is(k, "id"))
            rc = get_str(c, k, v, &r->id);
        else if (ykey_is(k, "name"))
            rc = get_str(c, k, v, &r->name);
        else if (ykey_is(k, "status"))
            rc = get_str(c, k, v, &r->status);
        else if (ykey_is(k, "description"))
            rc = get_str(c, k, v, &r->description);
        else if (ykey_is(k, "author"))
            rc = get_str(c, k, v, &r->author);
        else if (ykey_is(k, "date"))
            rc = get_str(c, k, v, &r->date);
        else if (ykey_is(k, "modified"))
            rc = get_str(c, k, v, &r->modified);
        else if (ykey_is(k, "license"))
            rc = get_str(c, k, v, &r->license);
        else if (ykey_is(k, "level")) {
            const char *lv = NULL;
            rc = get_str(c, k, v, &lv);
            if (!rc && lv && (r->level = sigma_level_parse(lv)) == SIGMA_LEVEL_NONE)
                rc = cerr(c, BN_EPARSE, v,
                          "unknown level '%.*s' (use informational, low, medium, high or "
                          "critical)",
                          exlen(v), v->s);
        } else if (ykey_is(k, "tags"))
            rc = get_strlist(c, k, v, &r->tags, &r->ntags);
        else if (ykey_is(k, "references"))
            rc = get_strlist(c, k, v, &r->references, &r->nreferences);
        else if (ykey_is(k, "falsepositives"))
            rc = get_strlist(c, k, v, &r->falsepositives, &r->nfalsepositives);
        else if (ykey_is(k, "fields"))
            rc = get_strlist(c, k, v, &r->fields, &r->nfields);
        else if (ykey_is(k, "logsource")) {
            logsource = v;
            rc = parse_logsource(c, k, v);
        } else if (ykey_is(k, "detection")) {
            detk = k;
            det = v;
        } else if (ykey_is(k, "correlation"))
            corr = v;
        else if (ykey_is(k, "filter")) {
            filtk = k;
            filt = v;
        }
        /* related, taxonomy, scope, action and custom attributes are accepted as they are */
    }
    if (rc)
        return rc;
    if (corr) {
        r->kind = SIGMA_KIND_CORRELATION;
        if (!r->title)
            return cerr(c, BN_EPARSE, root, "correlation rule has no 'title'");
        return parse_correlation(c, root, corr);
    }
    if (filt) {
        r->kind = SIGMA_KIND_FILTER;
        if (!r->title)
            return cerr(c, BN_EPARSE, root, "filter has no 'title'");
        if (!logsource)
            return cerr(c, BN_EPARSE, root, "filter has no 'logsource'");
        return parse_filter(c, filtk, filt);
    }
    r->kind = SIGMA_KIND_DETECTION;
    if (!r->title)
        return cerr(c, BN_EPARSE, root, "rule has no 'title'");
    if (!det)
        return cerr(c, BN_EPARSE, root,
                    "rule has no 'detection' (nor 'correlation' or 'filter')");
    if (!logsource)
        return cerr(c, BN_EPARSE, root,
                    "rule has no 'logsource'; add one with product, category or service");
    return parse_detection(c, detk, det, false);
}

void
sigma_rule_free(struct sigma_rule *r)
{
    if (r)
        bn_pool_free(r->pool);
}

static int
append_rule(struct fparse *f, struct sigma_rule *r)
{
    struct sigma_rule **arr = bn_reallocarray(*f->rules, *f->n + 1, sizeof(*arr));
    if (!arr)
        return BN_ENOMEM;
    arr[(*f->n)++] = r;
    *f->rules = arr;
    return 0;
}

/* Turns a finished document tree into a rule (or updates the collection state). */
static int
finish_doc(struct fparse *f)
{
    struct ynode *doc = f->root;
    uint64_t work = 0;
    int rc = 0;

    if (!doc || ynull(doc))
        return 0; /* empty document, e.g. a trailing '---' */
    if (doc->type == Y_MAP) {
        const struct ynode *action = ymap_get(doc, "action");
        if (action) {
            if (ykey_is(action, "global")) {
                f->global = doc;
                return 0;
            }
            if (ykey_is(action, "reset")) {
                f->global = NULL;
                return 0;
            }
            if (ykey_is(action, "repeat")) {
                if (!f->prev)
                    return ferr(f, BN_EPARSE, action->line, action->col,
                                "'action: repeat' without a previous rule to repeat");
                doc = ymerge(f, f->prev, doc, true, &work, &rc);
            } else {
                return ferr(f, BN_EPARSE, action->line, action->col,
                            "unknown action '%.*s' (use global, reset or repeat)",
                            exlen(action), action->s);
            }
        } else if (f->global) {
            doc = ymerge(f, f->global, doc, true, &work, &rc);
        }
        if (!doc)
            return rc;
        f->prev = doc;
    }

    struct bn_pool *pool = bn_pool_new(RULE_POOL_BLOCK);
    if (!pool)
        return BN_ENOMEM;
    struct sigma_rule *r = bn_pool_calloc(pool, 1, sizeof(*r));
    if (!r) {
        bn_pool_free(pool);
        return BN_ENOMEM;
    }
    r->pool = pool;
    r->line = doc->line; /* first line of the document's content (after any '---') */
    struct conv c = {.f = f, .r = r, .pool = pool};
    if (!(r->file = bn_pool_strdup(pool, f->name)))
        rc = BN_ENOMEM;
    else
        rc = convert(&c, doc);
    if (!rc)
        rc = append_rule(f, r);
    if (rc)
        bn_pool_free(pool);
    return rc;
}

static int
yaml_error(struct fparse *f, const yaml_parser_t *p)
{
    if (p->error == YAML_MEMORY_ERROR)
        return BN_ENOMEM;
    unsigned line = (unsigned)p->problem_mark.line + 1, col = (unsigned)p->problem_mark.column + 1;
    if (p->context)
        return ferr(f, BN_EPARSE, line, col, "YAML syntax error: %s %s (line %lu)",
                    p->problem ? p->problem : "invalid input", p->context,
                    (unsigned long)p->context_mark.line + 1);
    return ferr(f, BN_EPARSE, line, col, "YAML syntax error: %s",
                p->problem ? p->problem : "invalid input");
}

int
sigma_parse_mem(const char *buf, size_t len, const char *name, struct sigma_rule ***rules,
                size_t *n, sigma_diag_cb cb, void *ctx)
{
    struct fparse *f = NULL;
    yaml_parser_t parser;
    bool parser_ok = false, done = false;
    unsigned ndocs = 0;
    int rc = 0;

    if (!rules || !n || (!buf && len))
        return BN_EINVAL;
    f = bn_calloc(1, sizeof(*f));
    if (!f)
        return BN_ENOMEM;
    f->name = name ? name : "<input>";
    f->cb = cb;
    f->cbctx = ctx;
    f->rules = rules;
    f->n = n;
    if (len > BN_RULE_FILE_MAX) {
        ferr(f, BN_ETOOBIG, 0, 0, "rule file is %zu bytes, larger than BN_RULE_FILE_MAX (%u)",
             len, (unsigned)BN_RULE_FILE_MAX);
        report(f, &f->d);
        goto out;
    }
    if (!(f->sp = bn_pool_new(0))) {
        rc = BN_ENOMEM;
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = BN_ENOMEM;
        goto out;
    }
    parser_ok = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)(buf ? buf : ""), len);

    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = yaml_error(f, &parser);
            if (rc != BN_ENOMEM) {
                report(f, &f->d);
                rc = 0;
            }
            break;
        }
        int erc = 0;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            f->depth = 0;
            f->root = NULL;
            f->anchors = NULL;
            f->nanchors = 0;
            f->doc_failed = false;
            f->doc_line = (unsigned)ev.start_mark.line + 1;
            bn_diag_clear(&f->d);
            if (++ndocs > BN_RULE_DOCS_MAX) {
                ferr(f, BN_ETOOBIG, f->doc_line, 1,
                     "more than BN_RULE_DOCS_MAX (%d) YAML documents in one file; the rest "
                     "is ignored",
                     BN_RULE_DOCS_MAX);
                report(f, &f->d);
                done = true;
            }
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (!f->doc_failed)
                erc = finish_doc(f);
            if (erc && erc != BN_ENOMEM) {
                report(f, &f->d);
                erc = 0;
            }
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
        case YAML_ALIAS_EVENT:
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (f->doc_failed)
                break;
            if (ev.type == YAML_ALIAS_EVENT) {
                erc = tree_alias(f, &ev);
            } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
                erc = tree_end(f);
            } else if (ev.type == YAML_SCALAR_EVENT) {
                if (ev.data.scalar.length > BN_RULE_STRING_MAX) {
                    erc = ferr(f, BN_ETOOBIG, (unsigned)ev.start_mark.line + 1,
                               (unsigned)ev.start_mark.column + 1,
                               "value is %zu bytes, longer than BN_RULE_STRING_MAX (%u)",
                               ev.data.scalar.length, (unsigned)BN_RULE_STRING_MAX);
                    break;
                }
                struct ynode *y = ynode_new(f, Y_SCALAR, &ev.start_mark);
                if (!y) {
                    erc = BN_ENOMEM;
                    break;
                }
                const char *tag = (const char *)ev.data.scalar.tag;
                y->typed = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                           (!tag || strcmp(tag, YAML_STR_TAG) != 0);
                y->quoted = ev.data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                            ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
                y->len = ev.data.scalar.length;
                if (!(y->s = pool_memdup(f->sp, (const char *)ev.data.scalar.value, y->len))) {
                    erc = BN_ENOMEM;
                    break;
                }
                erc = tree_add(f, y, ev.data.scalar.anchor, false);
            } else {
                bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
                struct ynode *y = ynode_new(f, seq ? Y_SEQ : Y_MAP, &ev.start_mark);
                if (!y) {
                    erc = BN_ENOMEM;
                    break;
                }
                erc = tree_add(f, y, seq ? ev.data.sequence_start.anchor
                                         : ev.data.mapping_start.anchor,
                               true);
            }
            if (erc && erc != BN_ENOMEM) {
                report(f, &f->d);
                f->doc_failed = true;
                erc = 0;
            }
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (erc) {
            rc = erc;
            break;
        }
    }
out:
    if (parser_ok)
        yaml_parser_delete(&parser);
    if (f)
        bn_pool_free(f->sp);
    bn_free(f);
    return rc;
}
