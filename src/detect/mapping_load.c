/*
 * mapping_load.c - reads the mapping files (*.yml, the format is docs/MAPPINGS.md) into a struct
 * bn_mapping and compiles it: detect keys get bits, logsource triples get dense ids, and the
 * field names each kind's logsource rules test get slot numbers.
 *
 * Mapping files are configuration: unknown keys, wrong types and over-limit files are
 * errors with file:line:col, never guesses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/mapping.h"
#include "bannin/pool.h"
#include "detect/mapping_int.h"

#define LIST_MAX 4096 /* entries in one list of a mapping file */

struct ctx {
    struct bn_mapping *m;
    yaml_document_t *doc;
    const char *file;
    struct bn_diag *d;
};

static int
err(struct ctx *c, const yaml_node_t *n, int code, const char *fmt, ...) BN_PRINTF(4, 5);

static int
err(struct ctx *c, const yaml_node_t *n, int code, const char *fmt, ...)
{
    char msg[BN_DIAG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bn_diag_set(c->d, code, c->file, n ? n->start_mark.line + 1 : 0,
                       n ? n->start_mark.column + 1 : 0, "%s", msg);
}

static yaml_node_t *
node(struct ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

/* A scalar as a pool string. Empty YAML values (`key:`) are the empty string. */
static int
get_str(struct ctx *c, yaml_node_t *n, const char *what, char **out, uint32_t *len)
{
    if (!n || n->type != YAML_SCALAR_NODE)
        return err(c, n, BN_EPARSE, "%s must be a string", what);
    if (n->data.scalar.length > BN_KEY_MAX)
        return err(c, n, BN_ETOOBIG, "%s is longer than %u bytes", what, BN_KEY_MAX);
    *out = bn_pool_strndup(c->m->pool, (const char *)n->data.scalar.value,
                           n->data.scalar.length);
    if (!*out)
        return BN_ENOMEM;
    if (len)
        *len = (uint32_t)n->data.scalar.length;
    return 0;
}

/* A scalar or a sequence of scalars as a pool array of strings. */
static int
get_list(struct ctx *c, yaml_node_t *n, const char *what, struct map_str **out, uint32_t *count)
{
    *out = NULL;
    *count = 0;
    if (n && n->type == YAML_SCALAR_NODE) {
        struct map_str *v = bn_pool_calloc(c->m->pool, 1, sizeof(*v));
        if (!v)
            return BN_ENOMEM;
        int rc = get_str(c, n, what, &v->s, &v->len);
        if (rc)
            return rc;
        *out = v;
        *count = 1;
        return 0;
    }
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return err(c, n, BN_EPARSE, "%s must be a string or a list of strings", what);
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > LIST_MAX)
        return err(c, n, BN_ETOOBIG, "%s has more than %d entries", what, LIST_MAX);
    struct map_str *v = bn_pool_calloc(c->m->pool, cnt ? cnt : 1, sizeof(*v));
    if (!v)
        return BN_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        int rc = get_str(c, node(c, n->data.sequence.items.start[i]), what, &v[i].s, &v[i].len);
        if (rc)
            return rc;
    }
    *out = v;
    *count = (uint32_t)cnt;
    return 0;
}

/* Same as get_list but as plain char * array. */
static int
get_names(struct ctx *c, yaml_node_t *n, const char *what, char ***out, uint32_t *count)
{
    struct map_str *v;
    int rc = get_list(c, n, what, &v, count);
    if (rc)
        return rc;
    char **names = bn_pool_calloc(c->m->pool, *count ? *count : 1, sizeof(*names));
    if (!names)
        return BN_ENOMEM;
    for (uint32_t i = 0; i < *count; i++)
        names[i] = v[i].s;
    *out = names;
    return 0;
}

static int
get_int(struct ctx *c, yaml_node_t *n, const char *what, long lo, long hi, long *out)
{
    char *s = NULL;
    int rc = get_str(c, n, what, &s, NULL);
    if (rc)
        return rc;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return err(c, n, BN_EPARSE, "%s must be an integer from %ld to %ld", what, lo, hi);
    *out = v;
    return 0;
}

static int
get_bool(struct ctx *c, yaml_node_t *n, const char *what, bool *out)
{
    char *s = NULL;
    int rc = get_str(c, n, what, &s, NULL);
    if (rc)
        return rc;
    if (!strcmp(s, "true") || !strcmp(s, "yes"))
        *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "no"))
        *out = false;
    else
        return err(c, n, BN_EPARSE, "%s must be true or false", what);
    return 0;
}

static size_t
seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static size_t
map_len(const yaml_node_t *n)
{
    return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static int
need_map(struct ctx *c, yaml_node_t *n, const char *what)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return err(c, n, BN_EPARSE, "%s must be a mapping", what);
    if (map_len(n) > LIST_MAX)
        return err(c, n, BN_ETOOBIG, "%s has more than %d entries", what, LIST_MAX);
    return 0;
}

static int
need_seq(struct ctx *c, yaml_node_t *n, const char *what)
{
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return err(c, n, BN_EPARSE, "%s must be a list", what);
    if (seq_len(n) > LIST_MAX)
        return err(c, n, BN_ETOOBIG, "%s has more than %d entries", what, LIST_MAX);
    return 0;
}

/* Key text of a mapping pair, or NULL (with an error) when the key is not a scalar. */
static const char *
pair_key(struct ctx *c, yaml_node_pair_t *p, yaml_node_t **kn, int *rc)
{
    *kn = node(c, p->key);
    if (!*kn || (*kn)->type != YAML_SCALAR_NODE) {
        *rc = err(c, *kn, BN_EPARSE, "mapping keys must be strings");
        return NULL;
    }
    return (const char *)(*kn)->data.scalar.value;
}

static int
parse_clause(struct ctx *c, yaml_node_t *n, struct map_clause *cl)
{
    int rc = need_map(c, n, "a detect clause");
    if (rc)
        return rc;
    cl->line = n->start_mark.line + 1;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn, *vn = node(c, p->value);
        const char *k = pair_key(c, p, &kn, &rc);
        if (!k)
            return rc;
        if (!strcmp(k, "format")) {
            rc = get_str(c, vn, "detect format", &cl->format, NULL);
        } else if (!strcmp(k, "keys")) {
            rc = get_names(c, vn, "detect keys", &cl->keys, &cl->nkeys);
        } else if (!strcmp(k, "values")) {
            rc = need_map(c, vn, "detect values");
            if (rc)
                return rc;
            size_t cnt = map_len(vn);
            cl->values = bn_pool_calloc(c->m->pool, cnt ? cnt : 1, sizeof(*cl->values));
            if (!cl->values)
                return BN_ENOMEM;
            for (size_t i = 0; i < cnt && !rc; i++) {
                yaml_node_pair_t *q = &vn->data.mapping.pairs.start[i];
                struct map_dvals *dv = &cl->values[i];
                rc = get_str(c, node(c, q->key), "detect value key", &dv->key, NULL);
                if (!rc)
                    rc = get_list(c, node(c, q->value), "detect values", &dv->vals, &dv->nvals);
            }
            cl->nvalues = (uint32_t)cnt;
        } else {
            return err(c, kn, BN_EPARSE, "unknown key '%s' in detect clause (format, keys, values)",
                       k);
        }
        if (rc)
            return rc;
    }
    if (!cl->format && !cl->nkeys && !cl->nvalues)
        return err(c, n, BN_EPARSE, "detect clause needs format, keys or values");
    return 0;
}

static int
parse_ls_spec(struct ctx *c, yaml_node_t *n, struct map_ls_spec *ls)
{
    int rc = need_map(c, n, "a logsource rule");
    if (rc)
        return rc;
    ls->line = n->start_mark.line + 1;
    yaml_node_t *when = NULL, *has = NULL, *alias = NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn, *vn = node(c, p->value);
        const char *k = pair_key(c, p, &kn, &rc);
        if (!k)
            return rc;
        if (!strcmp(k, "when"))
            rc = need_map(c, vn, "when"), when = vn;
        else if (!strcmp(k, "has"))
            has = vn;
        else if (!strcmp(k, "alias"))
            rc = need_map(c, vn, "alias"), alias = vn;
        else if (!strcmp(k, "product"))
            rc = get_str(c, vn, "product", &ls->product, NULL);
        else if (!strcmp(k, "category"))
            rc = get_str(c, vn, "category", &ls->category, NULL);
        else if (!strcmp(k, "service"))
            rc = get_str(c, vn, "service", &ls->service, NULL);
        else
            return err(c, kn, BN_EPARSE,
                       "unknown key '%s' in logsource rule (when, has, alias, product, category, "
                       "service)", k);
        if (rc)
            return rc;
    }
    char **has_names = NULL;
    uint32_t nhas = 0;
    if (has && (rc = get_names(c, has, "has", &has_names, &nhas)))
        return rc;
    size_t nwhen = when ? map_len(when) : 0;
    ls->conds = bn_pool_calloc(c->m->pool, nwhen + nhas + 1, sizeof(*ls->conds));
    if (!ls->conds)
        return BN_ENOMEM;
    for (size_t i = 0; i < nwhen; i++) {
        yaml_node_pair_t *q = &when->data.mapping.pairs.start[i];
        struct map_cond_spec *cs = &ls->conds[ls->nconds++];
        if ((rc = get_str(c, node(c, q->key), "when field", &cs->name, NULL)))
            return rc;
        if ((rc = get_list(c, node(c, q->value), "when values", &cs->vals, &cs->nvals)))
            return rc;
        if (!cs->nvals)
            return err(c, node(c, q->value), BN_EPARSE, "when '%s' lists no values", cs->name);
    }
    for (uint32_t i = 0; i < nhas; i++) {
        struct map_cond_spec *cs = &ls->conds[ls->nconds++];
        cs->name = has_names[i];
        cs->exists = true;
    }
    if (alias) {
        size_t na = map_len(alias);
        ls->alias_from = bn_pool_calloc(c->m->pool, na + 1, sizeof(char *));
        ls->alias_to = bn_pool_calloc(c->m->pool, na + 1, sizeof(char *));
        if (!ls->alias_from || !ls->alias_to)
            return BN_ENOMEM;
        for (size_t i = 0; i < na; i++) {
            yaml_node_pair_t *q = &alias->data.mapping.pairs.start[i];
            if ((rc = get_str(c, node(c, q->key), "alias source", &ls->alias_from[i], NULL)) ||
                (rc = get_str(c, node(c, q->value), "alias target", &ls->alias_to[i], NULL)))
                return rc;
        }
        ls->nalias = (uint32_t)na;
    }
    if (!ls->product && !ls->category && !ls->service)
        return err(c, n, BN_EPARSE, "logsource rule sets none of product, category, service");
    return 0;
}

/* Parses the `list:` value of key name into a pool array of n elements of size each, calling
 * one() for every element. */
static int
parse_seq(struct ctx *c, yaml_node_t *n, const char *what, size_t size, void **out, uint32_t *cnt,
          int (*one)(struct ctx *, yaml_node_t *, void *))
{
    int rc = need_seq(c, n, what);
    if (rc)
        return rc;
    size_t len = seq_len(n);
    char *arr = bn_pool_calloc(c->m->pool, len ? len : 1, size);
    if (!arr)
        return BN_ENOMEM;
    for (size_t i = 0; i < len; i++)
        if ((rc = one(c, node(c, n->data.sequence.items.start[i]), arr + i * size)))
            return rc;
    *out = arr;
    *cnt = (uint32_t)len;
    return 0;
}

static int
one_clause(struct ctx *c, yaml_node_t *n, void *p)
{
    return parse_clause(c, n, p);
}

static int
one_ls(struct ctx *c, yaml_node_t *n, void *p)
{
    return parse_ls_spec(c, n, p);
}

static int
one_strip(struct ctx *c, yaml_node_t *n, void *p)
{
    struct map_strip *s = p;
    int rc = need_map(c, n, "a strip entry");
    if (rc)
        return rc;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *kn, *vn = node(c, q->value);
        const char *k = pair_key(c, q, &kn, &rc);
        long v;
        if (!k)
            return rc;
        if (!strcmp(k, "prefix"))
            rc = get_str(c, vn, "strip prefix", &s->prefix, &s->plen);
        else if (!strcmp(k, "to"))
            rc = get_str(c, vn, "strip to", &s->to, NULL);
        else if (!strcmp(k, "skip")) {
            rc = get_int(c, vn, "strip skip", 0, 16, &v);
            s->skip = (uint32_t)v;
        } else
            return err(c, kn, BN_EPARSE, "unknown key '%s' in strip entry (prefix, to, skip)", k);
        if (rc)
            return rc;
    }
    if (!s->prefix || !s->plen)
        return err(c, n, BN_EPARSE, "strip entry needs a non-empty prefix");
    if (!s->to && !(s->to = bn_pool_strdup(c->m->pool, "")))
        return BN_ENOMEM;
    return 0;
}

static int
one_replace(struct ctx *c, yaml_node_t *n, void *p)
{
    struct map_replace *r = p;
    int rc = need_map(c, n, "a replace entry");
    if (rc)
        return rc;
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < n->data.mapping.pairs.top; q++) {
        yaml_node_t *kn, *vn = node(c, q->value);
        const char *k = pair_key(c, q, &kn, &rc);
        if (!k)
            return rc;
        if (!strcmp(k, "from"))
            rc = get_str(c, vn, "replace from", &r->from, &r->flen);
        else if (!strcmp(k, "to"))
            rc = get_str(c, vn, "replace to", &r->to, NULL);
        else if (!strcmp(k, "suffix"))
            rc = get_bool(c, vn, "replace suffix", &r->suffix);
        else
            return err(c, kn, BN_EPARSE, "unknown key '%s' in replace entry (from, to, suffix)",
                       k);
        if (rc)
            return rc;
    }
    if (!r->from || !r->flen)
        return err(c, n, BN_EPARSE, "replace entry needs a non-empty from");
    if (!r->to && !(r->to = bn_pool_strdup(c->m->pool, "")))
        return BN_ENOMEM;
    return 0;
}

static int
parse_kind(struct ctx *c, yaml_node_t *root, struct map_kind *k)
{
    int rc = need_map(c, root, "a mapping file");
    if (rc)
        return rc;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn, *vn = node(c, p->value);
        const char *key = pair_key(c, p, &kn, &rc);
        long v;
        if (!key)
            return rc;
        if (!strcmp(key, "source")) {
            rc = get_str(c, vn, "source", &k->name, NULL);
        } else if (!strcmp(key, "description")) {
            rc = get_str(c, vn, "description", &k->description, NULL);
        } else if (!strcmp(key, "priority")) {
            rc = get_int(c, vn, "priority", -1000, 1000, &v);
            k->priority = (int)v;
        } else if (!strcmp(key, "detect")) {
            rc = parse_seq(c, vn, "detect", sizeof(struct map_clause), (void **)&k->clauses,
                           &k->nclauses, one_clause);
        } else if (!strcmp(key, "product")) {
            rc = get_str(c, vn, "product", &k->product, NULL);
        } else if (!strcmp(key, "category")) {
            rc = get_str(c, vn, "category", &k->category, NULL);
        } else if (!strcmp(key, "service")) {
            rc = get_str(c, vn, "service", &k->service, NULL);
        } else if (!strcmp(key, "rename")) {
            if ((rc = need_map(c, vn, "rename")))
                return rc;
            size_t n = map_len(vn);
            k->rn_from = bn_pool_calloc(c->m->pool, n + 1, sizeof(char *));
            k->rn_to = bn_pool_calloc(c->m->pool, n + 1, sizeof(char *));
            if (!k->rn_from || !k->rn_to)
                return BN_ENOMEM;
            for (size_t i = 0; i < n && !rc; i++) {
                yaml_node_pair_t *q = &vn->data.mapping.pairs.start[i];
                rc = get_str(c, node(c, q->key), "rename source", &k->rn_from[i], NULL);
                if (!rc)
                    rc = get_str(c, node(c, q->value), "rename target", &k->rn_to[i], NULL);
            }
            k->nrename = (uint32_t)n;
        } else if (!strcmp(key, "strip")) {
            rc = parse_seq(c, vn, "strip", sizeof(struct map_strip), (void **)&k->strips,
                           &k->nstrips, one_strip);
        } else if (!strcmp(key, "replace")) {
            rc = parse_seq(c, vn, "replace", sizeof(struct map_replace), (void **)&k->replaces,
                           &k->nreplaces, one_replace);
        } else if (!strcmp(key, "record_type_field")) {
            rc = get_str(c, vn, "record_type_field", &k->type_field, NULL);
        } else if (!strcmp(key, "record_type_emit")) {
            rc = get_bool(c, vn, "record_type_emit", &k->type_emit);
        } else if (!strcmp(key, "host")) {
            rc = get_names(c, vn, "host", &k->host, &k->nhost);
        } else if (!strcmp(key, "time")) {
            rc = get_names(c, vn, "time", &k->time, &k->ntime);
        } else if (!strcmp(key, "logsources")) {
            rc = parse_seq(c, vn, "logsources", sizeof(struct map_ls_spec), (void **)&k->specs,
                           &k->nspecs, one_ls);
        } else if (!strcmp(key, "logsources_from")) {
            rc = get_str(c, vn, "logsources_from", &k->ls_from, NULL);
            k->ls_from_line = kn->start_mark.line + 1;
        } else {
            return err(c, kn, BN_EPARSE,
                       "unknown key '%s' (source, description, priority, detect, product, "
                       "category, service, rename, strip, replace, record_type_field, "
                       "record_type_emit, host, "
                       "time, logsources, logsources_from)", key);
        }
        if (rc)
            return rc;
    }
    if (!k->name || !*k->name)
        return err(c, root, BN_EPARSE, "missing 'source:' (the name of this source kind)");
    if (!k->nclauses)
        return err(c, root, BN_EPARSE, "source '%s' has no 'detect:' clause", k->name);
    if (k->ls_from && k->nspecs)
        return err(c, root, BN_EPARSE, "source '%s' has both logsources and logsources_from",
                   k->name);
    return 0;
}

/* Parses one file's bytes into a new kind of m. */
static int
add_file(struct bn_mapping *m, const char *buf, size_t len, const char *name, struct bn_diag *d)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false;
    int rc = 0;
    struct ctx c = {.m = m, .doc = &doc, .file = name, .d = d};

    if (len > BN_MAPPING_FILE_MAX)
        return bn_diag_set(d, BN_ETOOBIG, name, 0, 0,
                           "mapping file is larger than BN_MAPPING_FILE_MAX (%u bytes)",
                           BN_MAPPING_FILE_MAX);
    if (m->nkinds >= MAP_KINDS_MAX)
        return bn_diag_set(d, BN_ETOOBIG, name, 0, 0, "more than %d mapping files",
                           MAP_KINDS_MAX);
    if (!yaml_parser_initialize(&parser))
        return BN_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        if (parser.error == YAML_MEMORY_ERROR)
            rc = BN_ENOMEM;
        else
            rc = bn_diag_set(d, BN_EPARSE, name, parser.problem_mark.line + 1,
                             parser.problem_mark.column + 1, "invalid YAML: %s",
                             parser.problem ? parser.problem : "parse error");
        goto out;
    }
    have_doc = true;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = bn_diag_set(d, BN_EPARSE, name, 1, 1, "empty mapping file");
        goto out;
    }
    struct map_kind *k = &m->kinds[m->nkinds];
    memset(k, 0, sizeof(*k));
    k->order = m->nkinds;
    k->def_ls = BN_FIELD_NONE;
    k->type_emit = true;
    if (!(k->file = bn_pool_strdup(m->pool, name))) {
        rc = BN_ENOMEM;
        goto out;
    }
    if ((rc = parse_kind(&c, root, k)))
        goto out;
    for (uint32_t i = 0; i < m->nkinds; i++)
        if (!strcmp(m->kinds[i].name, k->name)) {
            rc = bn_diag_set(d, BN_EEXIST, name, 1, 1, "source '%s' is also defined in '%s'",
                             k->name, m->kinds[i].file);
            goto out;
        }
    m->nkinds++;
    /* A second document would be ignored silently: refuse it. */
    yaml_document_delete(&doc);
    have_doc = false;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = parser.error == YAML_MEMORY_ERROR ? BN_ENOMEM
             : bn_diag_set(d, BN_EPARSE, name, parser.problem_mark.line + 1,
                           parser.problem_mark.column + 1, "invalid YAML: %s",
                           parser.problem ? parser.problem : "parse error");
        if (rc)
            m->nkinds--;
        goto out;
    }
    have_doc = true;
    if (yaml_document_get_root_node(&doc)) {
        m->nkinds--;
        rc = bn_diag_set(d, BN_EPARSE, name, doc.start_mark.line + 1, 1,
                         "a mapping file holds one YAML document");
    }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

/* --- compile -------------------------------------------------------------------------- */

static int
triple_id(struct bn_mapping *m, const char *p, const char *c, const char *s, uint32_t *id)
{
    for (uint32_t i = 0; i < m->ntriples; i++) {
        const struct map_triple *t = &m->triples[i];
        if (((!t->product && !p) || (t->product && p && !strcmp(t->product, p))) &&
            ((!t->category && !c) || (t->category && c && !strcmp(t->category, c))) &&
            ((!t->service && !s) || (t->service && s && !strcmp(t->service, s)))) {
            *id = i;
            return 0;
        }
    }
    if (m->ntriples == m->triples_cap) {
        uint32_t cap = m->triples_cap ? m->triples_cap * 2 : 32;
        struct map_triple *t = bn_reallocarray(m->triples, cap, sizeof(*t));
        if (!t)
            return BN_ENOMEM;
        m->triples = t;
        m->triples_cap = cap;
    }
    m->triples[m->ntriples] = (struct map_triple){p, c, s};
    *id = m->ntriples++;
    return 0;
}

static int
detect_bit(struct bn_mapping *m, const struct map_kind *k, unsigned line, const char *key,
           uint32_t *bit, struct bn_diag *d)
{
    for (uint32_t i = 0; i < m->ndetect; i++)
        if (!strcmp(m->detect_keys[i], key)) {
            *bit = i;
            return 0;
        }
    if (m->ndetect >= MAP_DETECT_KEYS_MAX)
        return bn_diag_set(d, BN_ETOOBIG, k->file, line, 0,
                           "more than %d distinct detect keys in all mapping files",
                           MAP_DETECT_KEYS_MAX);
    m->detect_keys[m->ndetect] = (char *)key;
    m->detect_lens[m->ndetect] = (uint32_t)strlen(key);
    *bit = m->ndetect++;
    return 0;
}

/* Returns the index of name in the names array (adding it), or an error past max. */
static int
intern_name(struct bn_pool *pool, char ***names, uint32_t *n, char *name, uint16_t *idx)
{
    for (uint32_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name)) {
            *idx = (uint16_t)i;
            return 0;
        }
    if (*n >= MAP_SLOTS_MAX)
        return BN_ETOOBIG;
    if ((*n & (*n - 1)) == 0) { /* grow at powers of two; old arrays stay in the pool */
        uint32_t cap = *n ? *n * 2 : 8;
        char **a = bn_pool_calloc(pool, cap, sizeof(*a));
        if (!a)
            return BN_ENOMEM;
        if (*n)
            memcpy(a, *names, *n * sizeof(*a));
        *names = a;
    }
    (*names)[*n] = name;
    *idx = (uint16_t)(*n)++;
    return 0;
}

static int
compile_kind(struct bn_mapping *m, struct map_kind *k, struct bn_diag *d)
{
    int rc;
    const struct map_ls_spec *specs = k->specs;
    uint32_t nspecs = k->nspecs;

    for (uint32_t i = 0; i < k->nclauses; i++) {
        struct map_clause *cl = &k->clauses[i];
        uint32_t bit = 0;
        for (uint32_t j = 0; j < cl->nkeys; j++) {
            if ((rc = detect_bit(m, k, cl->line, cl->keys[j], &bit, d)))
                return rc;
            cl->mask |= 1ull << bit;
        }
        for (uint32_t j = 0; j < cl->nvalues; j++) {
            if ((rc = detect_bit(m, k, cl->line, cl->values[j].key, &bit, d)))
                return rc;
            cl->values[j].bit = bit;
            cl->mask |= 1ull << bit;
        }
    }
    if (k->product || k->category || k->service)
        if ((rc = triple_id(m, k->product, k->category, k->service, &k->def_ls)))
            return rc;
    if (k->ls_from) {
        const struct map_kind *src = NULL;
        for (uint32_t i = 0; i < m->nkinds; i++)
            if (!strcmp(m->kinds[i].name, k->ls_from))
                src = &m->kinds[i];
        if (!src)
            return bn_diag_set(d, BN_ENOTFOUND, k->file, k->ls_from_line, 0,
                               "logsources_from names unknown source '%s'", k->ls_from);
        if (src->ls_from)
            return bn_diag_set(d, BN_EINVAL, k->file, k->ls_from_line, 0,
                               "logsources_from '%s' itself borrows its logsources", k->ls_from);
        specs = src->specs;
        nspecs = src->nspecs;
    }

    k->host_slots = bn_pool_calloc(m->pool, k->nhost + 1, sizeof(uint16_t));
    k->time_slots = bn_pool_calloc(m->pool, k->ntime + 1, sizeof(uint16_t));
    k->rules = bn_pool_calloc(m->pool, nspecs + 1, sizeof(*k->rules));
    if (!k->host_slots || !k->time_slots || !k->rules)
        return BN_ENOMEM;
    rc = 0;
    for (uint32_t i = 0; i < k->nhost && !rc; i++)
        rc = intern_name(m->pool, &k->slot_names, &k->nslots, k->host[i], &k->host_slots[i]);
    for (uint32_t i = 0; i < k->ntime && !rc; i++)
        rc = intern_name(m->pool, &k->slot_names, &k->nslots, k->time[i], &k->time_slots[i]);
    for (uint32_t i = 0; i < nspecs && !rc; i++) {
        const struct map_ls_spec *sp = &specs[i];
        struct map_lsrule *r = &k->rules[i];
        r->conds = bn_pool_calloc(m->pool, sp->nconds + 1, sizeof(*r->conds));
        if (!r->conds)
            return BN_ENOMEM;
        for (uint32_t j = 0; j < sp->nconds && !rc; j++) {
            r->conds[j].exists = sp->conds[j].exists;
            r->conds[j].vals = sp->conds[j].vals;
            r->conds[j].nvals = sp->conds[j].nvals;
            rc = intern_name(m->pool, &k->slot_names, &k->nslots, sp->conds[j].name,
                             &r->conds[j].slot);
        }
        r->nconds = sp->nconds;
        if (!rc) {
            /* A rule inherits the kind's default for what it does not set. */
            const char *p = sp->product ? sp->product : k->product;
            const char *cat = sp->category ? sp->category : k->category;
            const char *svc = sp->service ? sp->service : k->service;
            rc = triple_id(m, p, cat, svc, &r->ls);
        }
        for (uint32_t j = 0; j < sp->nalias && !rc; j++) {
            uint16_t a, t;
            rc = intern_name(m->pool, &k->asrc, &k->nasrc, sp->alias_from[j], &a);
            if (!rc)
                rc = intern_name(m->pool, &k->atgt, &k->natgt, sp->alias_to[j], &t);
        }
        if (rc == BN_ETOOBIG)
            return bn_diag_set(d, rc, k->file, sp->line, 0,
                               "logsource rules name more than %d fields", MAP_SLOTS_MAX);
    }
    if (rc == BN_ETOOBIG)
        return bn_diag_set(d, rc, k->file, 0, 0, "more than %d host and time fields",
                           MAP_SLOTS_MAX);
    if (rc)
        return rc;
    /* Alias tables are sized by the final number of alias sources. */
    for (uint32_t i = 0; i < nspecs; i++) {
        const struct map_ls_spec *sp = &specs[i];
        struct map_lsrule *r = &k->rules[i];
        if (!sp->nalias)
            continue;
        r->alias = bn_pool_alloc(m->pool, k->nasrc * sizeof(uint16_t));
        if (!r->alias)
            return BN_ENOMEM;
        for (uint32_t j = 0; j < k->nasrc; j++)
            r->alias[j] = MAP_NONE16;
        for (uint32_t j = 0; j < sp->nalias; j++) {
            uint16_t a, t;
            (void)intern_name(m->pool, &k->asrc, &k->nasrc, sp->alias_from[j], &a);
            (void)intern_name(m->pool, &k->atgt, &k->natgt, sp->alias_to[j], &t);
            r->alias[a] = t;
        }
    }
    k->nrules = nspecs;
    return 0;
}

static int
kind_cmp(const void *a, const void *b)
{
    const struct map_kind *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority > y->priority ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int
compile(struct bn_mapping *m, struct bn_diag *d)
{
    qsort(m->kinds, m->nkinds, sizeof(*m->kinds), kind_cmp);
    for (uint32_t i = 0; i < m->nkinds; i++) {
        int rc = compile_kind(m, &m->kinds[i], d);
        if (rc)
            return rc;
    }
    return 0;
}

static int
mapping_new(struct bn_mapping **out)
{
    struct bn_mapping *m = bn_calloc(1, sizeof(*m));
    if (!m)
        return BN_ENOMEM;
    m->pool = bn_pool_new(0);
    m->kinds = bn_calloc(MAP_KINDS_MAX, sizeof(*m->kinds));
    if (!m->pool || !m->kinds) {
        bn_mapping_free(m);
        return BN_ENOMEM;
    }
    *out = m;
    return 0;
}

void
bn_mapping_free(struct bn_mapping *m)
{
    if (!m)
        return;
    bn_free(m->triples);
    bn_free(m->kinds);
    bn_pool_free(m->pool);
    bn_free(m);
}

int
bn_mapping_load_mem(struct bn_mapping **out, const char *buf, size_t len, const char *name,
                    struct bn_diag *d)
{
    struct bn_mapping *m = NULL;
    int rc;

    *out = NULL;
    bn_diag_clear(d);
    if ((rc = mapping_new(&m)))
        goto out;
    if ((rc = add_file(m, buf, len, name ? name : "<input>", d)))
        goto out;
    if ((rc = compile(m, d)))
        goto out;
    *out = m;
    m = NULL;
out:
    if (rc == BN_ENOMEM && d && !d->code)
        bn_diag_set(d, rc, name ? name : "<input>", 0, 0, "out of memory loading mappings");
    bn_mapping_free(m);
    return rc;
}

/* Reads a whole file of at most BN_MAPPING_FILE_MAX bytes into an owned buffer. */
static int
read_file(const char *path, char **buf, size_t *len, struct bn_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *p = NULL;
    int rc = 0;
    struct stat st;

    *buf = NULL;
    *len = 0;
    if (fd < 0)
        return bn_diag_set(d, -errno, path, 0, 0, "cannot open mapping file: %s",
                           strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = bn_diag_set(d, -errno, path, 0, 0, "cannot stat: %s", strerror(errno));
        goto out;
    }
    if (st.st_size > (off_t)BN_MAPPING_FILE_MAX) {
        rc = bn_diag_set(d, BN_ETOOBIG, path, 0, 0,
                         "mapping file is larger than BN_MAPPING_FILE_MAX (%u bytes)",
                         BN_MAPPING_FILE_MAX);
        goto out;
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    if (!(p = bn_malloc(cap))) {
        rc = BN_ENOMEM;
        goto out;
    }
    for (;;) {
        if (n == cap) { /* the file grew while we read it */
            rc = bn_diag_set(d, BN_ETOOBIG, path, 0, 0, "mapping file changed while read");
            goto out;
        }
        ssize_t r = read(fd, p + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = bn_diag_set(d, -errno, path, 0, 0, "cannot read: %s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *buf = p;
    *len = n;
    p = NULL;
out:
    bn_free(p);
    close(fd);
    return rc;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int
bn_mapping_load_dir(struct bn_mapping **out, const char *dir, struct bn_diag *d)
{
    struct bn_mapping *m = NULL;
    DIR *dh = NULL;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    char *buf = NULL;
    int rc;

    *out = NULL;
    bn_diag_clear(d);
    if ((rc = mapping_new(&m)))
        goto out;
    if (!(dh = opendir(dir))) {
        rc = bn_diag_set(d, -errno, dir, 0, 0, "cannot open mappings directory: %s",
                         strerror(errno));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(dh))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || l < 5 || strcmp(e->d_name + l - 4, ".yml") != 0)
            continue;
        if (nnames == cap) {
            size_t nc = cap ? cap * 2 : 16;
            char **nn = bn_reallocarray(names, nc, sizeof(*nn));
            if (!nn) {
                rc = BN_ENOMEM;
                goto out;
            }
            names = nn;
            cap = nc;
        }
        size_t plen = strlen(dir) + 1 + l + 1;
        if (!(names[nnames] = bn_malloc(plen))) {
            rc = BN_ENOMEM;
            goto out;
        }
        snprintf(names[nnames++], plen, "%s/%s", dir, e->d_name);
    }
    /* Sorted, so the load order (the priority tie breaker) does not depend on readdir. */
    if (nnames)
        qsort(names, nnames, sizeof(*names), name_cmp);
    for (size_t i = 0; i < nnames; i++) {
        size_t len;
        if ((rc = read_file(names[i], &buf, &len, d)))
            goto out;
        rc = add_file(m, buf, len, names[i], d);
        bn_free(buf);
        buf = NULL;
        if (rc)
            goto out;
    }
    if (!m->nkinds) {
        rc = bn_diag_set(d, BN_ENOTFOUND, dir, 0, 0, "no *.yml mapping files");
        goto out;
    }
    if ((rc = compile(m, d)))
        goto out;
    *out = m;
    m = NULL;
out:
    if (rc == BN_ENOMEM && d && !d->code)
        bn_diag_set(d, rc, dir, 0, 0, "out of memory loading mappings");
    if (dh)
        closedir(dh);
    for (size_t i = 0; i < nnames; i++)
        bn_free(names[i]);
    bn_free(names);
    bn_free(buf);
    bn_mapping_free(m);
    return rc;
}

int
bn_mapping_load_default(struct bn_mapping **out, struct bn_diag *d)
{
    const char *env = getenv("BANNIN_MAPPINGS");
    struct stat st;

    *out = NULL;
    if (env && *env)
        return bn_mapping_load_dir(out, env, d);
#ifdef BN_SOURCE_DIR
    if (stat(BN_SOURCE_DIR "/mappings", &st) == 0 && S_ISDIR(st.st_mode))
        return bn_mapping_load_dir(out, BN_SOURCE_DIR "/mappings", d);
#endif
    (void)st;
    return bn_mapping_load_dir(out, "/usr/share/bannin/mappings", d);
}

uint32_t
bn_mapping_ls_count(const struct bn_mapping *m)
{
    return m->ntriples;
}

int
bn_mapping_ls_get(const struct bn_mapping *m, uint32_t ls, const char **product,
                  const char **category, const char **service)
{
    *product = *category = *service = NULL;
    if (ls >= m->ntriples)
        return BN_ENOTFOUND;
    *product = m->triples[ls].product;
    *category = m->triples[ls].category;
    *service = m->triples[ls].service;
    return 0;
}
