/*
 * config.c - declarative configuration tables: defaults, text values with bounds and unit
 * suffixes, YAML files, and --dump-config output.
 *
 * A component describes its settings once in an array of struct bn_conf_def; this file is
 * the only code that interprets that table, so what can be set, how it is spelled, its
 * bounds and its help text all live in one place (Redis standardConfig, nginx
 * ngx_command_t). YAML files are read with libyaml's document loader; nested maps become
 * dotted keys ("log: {level: debug}" sets "log.level"). Every error names file:line and
 * the key, in words a person can act on.
 *
 * Lifecycle: bn_conf_defaults() initialises obj (it does not free what obj held before),
 * bn_conf_set() / bn_conf_load_yaml() replace values, bn_conf_release() frees owned strings.
 * A load that fails leaves the keys set before the failing one applied: to reload, load into
 * a fresh object and swap it in only on success (the same rule as compiled rule sets).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bannin/alloc.h"
#include "bannin/config.h"
#include "bannin/error.h"
#include "bannin/limits.h"

/* Nesting of YAML maps in a config file, and nodes visited (bounds alias tricks). */
#define CONF_DEPTH_MAX 16
#define CONF_NODES_MAX 100000

/* The value of one setting after parsing, before it is stored. */
union conf_val {
    bool b;
    int64_t i;
    uint64_t u;
    int e;
    char *s;
};

/*
 * Sets d's code and message but keeps its file, line and column: bn_conf_set() callers
 * (the YAML loader, the command line) say where the text came from.
 */
static int conf_err(struct bn_diag *d, int code, const char *fmt, ...) BN_PRINTF(3, 4);

static int
conf_err(struct bn_diag *d, int code, const char *fmt, ...)
{
    if (!d)
        return code;
    d->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
    va_end(ap);
    return code;
}

static const char *
type_name(enum bn_conf_type t)
{
    switch (t) {
    case BN_CONF_BOOL: return "bool";
    case BN_CONF_INT: return "integer";
    case BN_CONF_SIZE: return "size";
    case BN_CONF_DURATION: return "duration";
    case BN_CONF_STRING: return "string";
    case BN_CONF_ENUM: return "enum";
    }
    return "?";
}

static const struct bn_conf_def *
find_def(const struct bn_conf_def *defs, size_t n, const char *key, size_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        if (defs[i].key && strcmp(defs[i].key, key) == 0) {
            if (idx)
                *idx = i;
            return &defs[i];
        }
    }
    return NULL;
}

/* True if some key of the table lies under "prefix." (a section that exists). */
static bool
has_section(const struct bn_conf_def *defs, size_t n, const char *prefix, size_t plen)
{
    for (size_t i = 0; i < n; i++) {
        const char *k = defs[i].key;
        if (k && strncmp(k, prefix, plen) == 0 && k[plen] == '.')
            return true;
    }
    return false;
}

static bool
bounded(const struct bn_conf_def *def)
{
    return def->min != 0 || def->max != 0;
}

static bool
ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

static int
parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(yes); i++) {
        if (ieq(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (ieq(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return BN_EINVAL;
}

/*
 * Parses the leading unsigned decimal number of s into *out and points *end after it.
 * Leading blanks, signs, hex and octal are refused: config numbers are plain decimals.
 */
static int
parse_udec(const char *s, uint64_t *out, const char **end)
{
    if (!isdigit((unsigned char)s[0]))
        return BN_EINVAL;
    uint64_t v = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        unsigned digit = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return BN_ETOOBIG;
        v = v * 10 + digit;
        p++;
    }
    *out = v;
    *end = p;
    return 0;
}

/* Skips the blanks allowed between a number and its unit ("64 kb", "10 s"). */
static const char *
skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int
check_bounds(const struct bn_conf_def *def, int64_t v, const char *value, struct bn_diag *d)
{
    if (bounded(def) && (v < def->min || v > def->max))
        return conf_err(d, BN_EINVAL,
                        "value '%s' of '%s' is out of range [%" PRId64 ", %" PRId64 "]", value,
                        def->key, def->min, def->max);
    return 0;
}

static int
parse_int(const struct bn_conf_def *def, const char *value, int64_t *out, struct bn_diag *d)
{
    const char *p = value;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    uint64_t u;
    const char *end;
    int rc = parse_udec(p, &u, &end);
    if (rc == 0 && *end != '\0')
        rc = BN_EINVAL;
    if (rc == BN_EINVAL)
        return conf_err(d, BN_EINVAL, "value '%s' of '%s' is not an integer", value, def->key);
    if (rc != 0 || (!neg && u > INT64_MAX) || (neg && u > (uint64_t)INT64_MAX + 1))
        return conf_err(d, BN_EINVAL, "value '%s' of '%s' does not fit in 64 bits", value,
                        def->key);
    int64_t v = neg ? (u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u) : (int64_t)u;
    rc = check_bounds(def, v, value, d);
    if (rc == 0)
        *out = v;
    return rc;
}

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", 1ull << 10},
    {"kb", 1ull << 10},
    {"kib", 1ull << 10},
    {"m", 1ull << 20},
    {"mb", 1ull << 20},
    {"mib", 1ull << 20},
    {"g", 1ull << 30},
    {"gb", 1ull << 30},
    {"gib", 1ull << 30},
};

static const struct unit duration_units[] = {
    {"", 1},
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"min", 60 * 1000},
    {"h", 3600 * 1000},
    {"d", 86400 * 1000},
};

/* Parses "<decimal>[ ]<unit>" against a unit table; case-insensitive units. */
static int
parse_with_unit(const struct bn_conf_def *def, const char *value, const struct unit *units,
                size_t nunits, uint64_t *out, struct bn_diag *d)
{
    const char *what = def->type == BN_CONF_SIZE ? "size" : "duration";
    const char *hint = def->type == BN_CONF_SIZE ? "a number with an optional k, m or g suffix"
                                                 : "a number with an optional ms, s, m, h or d "
                                                   "suffix";
    if (value[0] == '-')
        return conf_err(d, BN_EINVAL, "%s '%s' of '%s' must not be negative", what, value,
                        def->key);
    uint64_t num;
    const char *end;
    int rc = parse_udec(value, &num, &end);
    if (rc == BN_ETOOBIG)
        return conf_err(d, BN_EINVAL, "%s '%s' of '%s' is too large", what, value, def->key);
    if (rc != 0)
        return conf_err(d, BN_EINVAL, "%s '%s' of '%s' is not valid: expected %s", what, value,
                        def->key, hint);
    const char *u = skip_blanks(end);
    if (u != end && *u == '\0')
        u = end; /* trailing blanks alone are not a unit */
    for (size_t i = 0; i < nunits; i++) {
        if (!ieq(u, units[i].name))
            continue;
        if (units[i].mult != 0 && num > UINT64_MAX / units[i].mult)
            return conf_err(d, BN_EINVAL, "%s '%s' of '%s' is too large", what, value, def->key);
        *out = num * units[i].mult;
        return 0;
    }
    return conf_err(d, BN_EINVAL, "%s '%s' of '%s' has an unknown unit '%s': expected %s", what,
                    value, def->key, u, hint);
}

static int
parse_value(const struct bn_conf_def *def, const char *value, union conf_val *out,
            struct bn_diag *d)
{
    memset(out, 0, sizeof(*out));
    int rc;
    switch (def->type) {
    case BN_CONF_BOOL:
        if (parse_bool(value, &out->b) != 0)
            return conf_err(d, BN_EINVAL,
                            "value '%s' of '%s' is not a boolean: expected true or false", value,
                            def->key);
        return 0;
    case BN_CONF_INT: return parse_int(def, value, &out->i, d);
    case BN_CONF_SIZE:
    case BN_CONF_DURATION: {
        uint64_t u = 0;
        if (def->type == BN_CONF_SIZE)
            rc = parse_with_unit(def, value, size_units, BN_ARRAY_SIZE(size_units), &u, d);
        else
            rc = parse_with_unit(def, value, duration_units, BN_ARRAY_SIZE(duration_units), &u, d);
        if (rc != 0)
            return rc;
        if (def->type == BN_CONF_DURATION && u > INT64_MAX)
            return conf_err(d, BN_EINVAL, "duration '%s' of '%s' is too large", value, def->key);
        if (bounded(def) && (u > INT64_MAX || (int64_t)u < def->min || (int64_t)u > def->max))
            return conf_err(d, BN_EINVAL,
                            "value '%s' of '%s' is out of range [%" PRId64 ", %" PRId64 "]", value,
                            def->key, def->min, def->max);
        if (def->type == BN_CONF_SIZE)
            out->u = u;
        else
            out->i = (int64_t)u;
        return 0;
    }
    case BN_CONF_STRING:
        out->s = bn_strdup(value);
        if (!out->s)
            return conf_err(d, BN_ENOMEM, "out of memory setting '%s'", def->key);
        return 0;
    case BN_CONF_ENUM:
        for (int i = 0; def->enum_values && def->enum_values[i]; i++) {
            if (ieq(value, def->enum_values[i])) {
                out->e = i;
                return 0;
            }
        }
        {
            char list[256] = "";
            size_t off = 0;
            for (int i = 0; def->enum_values && def->enum_values[i] && off < sizeof(list); i++) {
                int w = snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                 def->enum_values[i]);
                if (w < 0)
                    break;
                off += (size_t)w;
            }
            return conf_err(d, BN_EINVAL, "value '%s' of '%s' is not one of: %s", value, def->key,
                            list);
        }
    }
    return conf_err(d, BN_EINVAL, "key '%s' has an unknown type %d", def->key, (int)def->type);
}

static void *
target(const struct bn_conf_def *def, void *obj)
{
    return (char *)obj + def->offset;
}

/* Stores a parsed value; consumes v.s for strings (the old string is freed). */
static void
store(const struct bn_conf_def *def, void *obj, union conf_val *v)
{
    void *t = target(def, obj);
    switch (def->type) {
    case BN_CONF_BOOL: *(bool *)t = v->b; break;
    case BN_CONF_INT:
    case BN_CONF_DURATION: *(int64_t *)t = v->i; break;
    case BN_CONF_SIZE: *(uint64_t *)t = v->u; break;
    case BN_CONF_STRING:
        bn_free(*(char **)t);
        *(char **)t = v->s;
        v->s = NULL;
        break;
    case BN_CONF_ENUM: *(int *)t = v->e; break;
    }
}

/* Sets def to "no value": NULL for strings; other types have no null and refuse. */
static int
set_null(const struct bn_conf_def *def, void *obj, struct bn_diag *d)
{
    if (def->type != BN_CONF_STRING)
        return conf_err(d, BN_EINVAL, "'%s' needs a value (%s)", def->key, type_name(def->type));
    char **t = target(def, obj);
    bn_free(*t);
    *t = NULL;
    return 0;
}

int
bn_conf_defaults(const struct bn_conf_def *defs, size_t n, void *obj)
{
    /* Initialise first so that a failure below leaves nothing to free but what we set. */
    for (size_t i = 0; i < n; i++) {
        void *t = target(&defs[i], obj);
        switch (defs[i].type) {
        case BN_CONF_BOOL: *(bool *)t = false; break;
        case BN_CONF_INT:
        case BN_CONF_DURATION: *(int64_t *)t = 0; break;
        case BN_CONF_SIZE: *(uint64_t *)t = 0; break;
        case BN_CONF_STRING: *(char **)t = NULL; break;
        case BN_CONF_ENUM: *(int *)t = 0; break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!defs[i].key)
            return BN_EINVAL;
        if (!defs[i].def)
            continue;
        union conf_val v;
        int rc = parse_value(&defs[i], defs[i].def, &v, NULL);
        if (rc != 0) {
            bn_conf_release(defs, n, obj);
            return rc;
        }
        store(&defs[i], obj, &v);
    }
    return 0;
}

int
bn_conf_set(const struct bn_conf_def *defs, size_t n, void *obj, const char *key, const char *value,
            struct bn_diag *d)
{
    if (!key || !value)
        return conf_err(d, BN_EINVAL, "missing key or value");
    const struct bn_conf_def *def = find_def(defs, n, key, NULL);
    if (!def)
        return conf_err(d, BN_ENOTFOUND, "unknown key '%s'", key);
    union conf_val v;
    int rc = parse_value(def, value, &v, d);
    if (rc != 0)
        return rc;
    store(def, obj, &v);
    return 0;
}

/* State of one YAML load. */
struct loader {
    const struct bn_conf_def *defs;
    size_t n;
    void *obj;
    const char *name;
    struct bn_diag *d;
    yaml_document_t *doc;
    unsigned long *set_line; /* per def: line it was set on (duplicate detection), 0 = not yet */
    size_t nodes;
    char path[BN_KEY_MAX];
};

static int node_err(struct loader *l, const yaml_node_t *node, int code, const char *fmt, ...)
    BN_PRINTF(4, 5);

static int
node_err(struct loader *l, const yaml_node_t *node, int code, const char *fmt, ...)
{
    char msg[BN_DIAG_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return bn_diag_set(l->d, code, l->name, node->start_mark.line + 1, node->start_mark.column + 1,
                       "%s", msg);
}

/* True for the plain scalars YAML reads as null. */
static bool
scalar_is_null(const yaml_node_t *node)
{
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)node->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int load_map(struct loader *l, yaml_node_t *map, size_t plen, int depth);

/* Applies one `key: value` pair; l->path holds the full dotted key. */
static int
load_pair(struct loader *l, yaml_node_t *knode, yaml_node_t *vnode, size_t plen, int depth)
{
    if (vnode->type == YAML_MAPPING_NODE) {
        if (!has_section(l->defs, l->n, l->path, plen))
            return node_err(l, knode, BN_ENOTFOUND, "unknown section '%s'", l->path);
        return load_map(l, vnode, plen, depth + 1);
    }
    size_t idx;
    const struct bn_conf_def *def = find_def(l->defs, l->n, l->path, &idx);
    if (!def) {
        if (has_section(l->defs, l->n, l->path, plen))
            return node_err(l, knode, BN_EINVAL, "'%s' is a section: expected a map of keys",
                            l->path);
        return node_err(l, knode, BN_ENOTFOUND, "unknown key '%s'", l->path);
    }
    if (l->set_line[idx])
        return node_err(l, knode, BN_EINVAL, "'%s' is set twice (first on line %lu)", l->path,
                        l->set_line[idx]);
    l->set_line[idx] = knode->start_mark.line + 1;
    if (vnode->type == YAML_SEQUENCE_NODE)
        return node_err(l, vnode, BN_EINVAL, "'%s' takes a single %s, not a list", l->path,
                        type_name(def->type));
    if (vnode->type != YAML_SCALAR_NODE)
        return node_err(l, vnode, BN_EINVAL, "'%s' has no value", l->path);

    /* bn_conf_set keeps the position we put in d: point it at the value. */
    bn_diag_set(l->d, 0, l->name, vnode->start_mark.line + 1, vnode->start_mark.column + 1, "%s",
                "");
    int rc;
    if (scalar_is_null(vnode))
        rc = set_null(def, l->obj, l->d);
    else if (strlen((const char *)vnode->data.scalar.value) != vnode->data.scalar.length)
        rc = node_err(l, vnode, BN_EINVAL, "value of '%s' contains a NUL byte", l->path);
    else
        rc = bn_conf_set(l->defs, l->n, l->obj, l->path, (const char *)vnode->data.scalar.value,
                         l->d);
    return rc;
}

/* Walks a mapping whose dotted prefix is l->path[0..plen). */
static int
load_map(struct loader *l, yaml_node_t *map, size_t plen, int depth)
{
    if (depth > CONF_DEPTH_MAX)
        return node_err(l, map, BN_ETOOBIG, "maps nested deeper than %d levels", CONF_DEPTH_MAX);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        if (++l->nodes > CONF_NODES_MAX)
            return node_err(l, map, BN_ETOOBIG, "more than %d entries", CONF_NODES_MAX);
        yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
        if (!k || !v)
            return node_err(l, map, BN_EINTERNAL, "libyaml returned a broken document");
        if (k->type != YAML_SCALAR_NODE || k->data.scalar.length == 0)
            return node_err(l, k, BN_EINVAL, "keys must be plain names");
        const char *key = (const char *)k->data.scalar.value;
        size_t klen = k->data.scalar.length;
        if (strlen(key) != klen)
            return node_err(l, k, BN_EINVAL, "key contains a NUL byte");
        size_t need = plen + (plen ? 1 : 0) + klen;
        if (need >= sizeof(l->path))
            return node_err(l, k, BN_ETOOBIG, "key longer than %d bytes", BN_KEY_MAX - 1);
        size_t off = plen;
        if (plen)
            l->path[off++] = '.';
        memcpy(l->path + off, key, klen);
        l->path[need] = '\0';
        int rc = load_pair(l, k, v, need, depth);
        l->path[plen] = '\0';
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
bn_conf_load_yaml_mem(const struct bn_conf_def *defs, size_t n, void *obj, const char *buf,
                      size_t len, const char *name, struct bn_diag *d)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false;
    struct loader l = {.defs = defs, .n = n, .obj = obj, .name = name ? name : "<input>", .d = d};
    int rc = 0;

    bn_diag_clear(d);
    if (len > BN_CONFIG_FILE_MAX) {
        rc = bn_diag_set(d, BN_ETOOBIG, l.name, 0, 0,
                         "config file is larger than %u bytes (BN_CONFIG_FILE_MAX)",
                         (unsigned)BN_CONFIG_FILE_MAX);
        goto out;
    }
    l.set_line = bn_calloc(n ? n : 1, sizeof(*l.set_line));
    if (!l.set_line) {
        rc = bn_diag_set(d, BN_ENOMEM, l.name, 0, 0, "out of memory");
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        rc = bn_diag_set(d, BN_ENOMEM, l.name, 0, 0, "out of memory");
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = bn_diag_set(d, BN_EPARSE, l.name, parser.problem_mark.line + 1,
                         parser.problem_mark.column + 1, "bad YAML: %s%s%s",
                         parser.problem ? parser.problem : "unknown error",
                         parser.context ? " " : "", parser.context ? parser.context : "");
        goto out;
    }
    have_doc = true;
    l.doc = &doc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        goto out; /* empty file: nothing to set */
    if (root->type == YAML_SCALAR_NODE && scalar_is_null(root))
        goto out; /* a file holding only comments or `---` */
    if (root->type != YAML_MAPPING_NODE) {
        rc = node_err(&l, root, BN_EINVAL, "a config file must be a map of keys");
        goto out;
    }
    rc = load_map(&l, root, 0, 0);
    if (rc != 0)
        goto out;

    /* One document only: a second one is almost certainly a mistake. */
    yaml_document_t next;
    if (!yaml_parser_load(&parser, &next)) {
        rc = bn_diag_set(d, BN_EPARSE, l.name, parser.problem_mark.line + 1,
                         parser.problem_mark.column + 1, "bad YAML: %s",
                         parser.problem ? parser.problem : "unknown error");
        goto out;
    }
    yaml_node_t *nroot = yaml_document_get_root_node(&next);
    if (nroot)
        rc = bn_diag_set(d, BN_EINVAL, l.name, nroot->start_mark.line + 1, 0,
                         "a config file holds one YAML document, found a second one");
    yaml_document_delete(&next);
out:
    if (rc == 0)
        bn_diag_clear(d);
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    bn_free(l.set_line);
    return rc;
}

int
bn_conf_load_yaml(const struct bn_conf_def *defs, size_t n, void *obj, const char *path,
                  struct bn_diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    FILE *f = fopen(path, "rb");
    bn_diag_clear(d);
    if (!f) {
        rc = -errno;
        bn_diag_set(d, rc, path, 0, 0, "cannot open config file: %s", strerror(errno));
        goto out;
    }
    /* Read up to one byte past the limit so that an oversized file is told apart. */
    buf = bn_malloc(BN_CONFIG_FILE_MAX + 1);
    if (!buf) {
        rc = bn_diag_set(d, BN_ENOMEM, path, 0, 0, "out of memory");
        goto out;
    }
    len = fread(buf, 1, BN_CONFIG_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = bn_diag_set(d, BN_EIO, path, 0, 0, "cannot read config file");
        goto out;
    }
    rc = bn_conf_load_yaml_mem(defs, n, obj, buf, len, path, d);
out:
    if (f)
        fclose(f);
    bn_free(buf);
    return rc;
}

/* Writes s as a double-quoted YAML scalar. */
static void
dump_quoted(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else if (*p == '\t')
            fputs("\\t", out);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(out, "\\x%02x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* Writes v with the largest unit of names[] (ascending multipliers) that divides it exactly. */
static void
dump_units(FILE *out, uint64_t v, const struct unit *units, size_t nunits, const char *base)
{
    const struct unit *best = NULL;
    for (size_t i = 0; i < nunits; i++) {
        if (v != 0 && v % units[i].mult == 0 && (!best || units[i].mult > best->mult))
            best = &units[i];
    }
    if (!best)
        fprintf(out, "%" PRIu64 "%s", v, base);
    else
        fprintf(out, "%" PRIu64 "%s", v / best->mult, best->name);
}

/* The units --dump-config prints (a subset of what the parser accepts). */
static const struct unit size_dump_units[] = {
    {"k", 1ull << 10},
    {"m", 1ull << 20},
    {"g", 1ull << 30},
};
static const struct unit duration_dump_units[] = {
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 3600 * 1000},
    {"d", 86400 * 1000},
};

static void
dump_value(FILE *out, const struct bn_conf_def *def, const void *obj)
{
    const void *t = (const char *)obj + def->offset;
    switch (def->type) {
    case BN_CONF_BOOL: fputs(*(const bool *)t ? "true" : "false", out); break;
    case BN_CONF_INT: fprintf(out, "%" PRId64, *(const int64_t *)t); break;
    case BN_CONF_SIZE:
        dump_units(out, *(const uint64_t *)t, size_dump_units, BN_ARRAY_SIZE(size_dump_units), "");
        break;
    case BN_CONF_DURATION: {
        int64_t v = *(const int64_t *)t;
        if (v < 0)
            fprintf(out, "%" PRId64, v);
        else
            dump_units(out, (uint64_t)v, duration_dump_units, BN_ARRAY_SIZE(duration_dump_units),
                       "ms");
        break;
    }
    case BN_CONF_STRING: {
        const char *s = *(char *const *)t;
        if (s)
            dump_quoted(out, s);
        else
            fputs("null", out);
        break;
    }
    case BN_CONF_ENUM: {
        int e = *(const int *)t;
        int count = 0;
        while (def->enum_values && def->enum_values[count])
            count++;
        if (e >= 0 && e < count)
            dump_quoted(out, def->enum_values[e]);
        else
            fprintf(out, "null  # invalid index %d", e);
        break;
    }
    }
}

void
bn_conf_dump(const struct bn_conf_def *defs, size_t n, const void *obj, FILE *out)
{
    /* Flat dotted keys: the loader accepts them as they are, and grep finds them. */
    for (size_t i = 0; i < n; i++) {
        const struct bn_conf_def *def = &defs[i];
        if (!def->key)
            continue;
        fprintf(out, "# %s", def->help ? def->help : "(no help)");
        fprintf(out, " [%s", type_name(def->type));
        if (bounded(def) && def->type != BN_CONF_ENUM)
            fprintf(out, " %" PRId64 "..%" PRId64, def->min, def->max);
        if (def->type == BN_CONF_ENUM && def->enum_values) {
            fputs(":", out);
            for (int j = 0; def->enum_values[j]; j++)
                fprintf(out, "%s%s", j ? "|" : " ", def->enum_values[j]);
        }
        fprintf(out, "; default %s%s]\n", def->def ? def->def : "none",
                def->reloadable ? "; reloadable" : "");
        fprintf(out, "%s: ", def->key);
        dump_value(out, def, obj);
        fputc('\n', out);
    }
}

int
bn_conf_copy_strings(const struct bn_conf_def *defs, size_t n, void *dst, const void *src)
{
    for (size_t i = 0; i < n; i++)
        if (defs[i].type == BN_CONF_STRING)
            *(char **)target(&defs[i], dst) = NULL;
    for (size_t i = 0; i < n; i++) {
        if (defs[i].type != BN_CONF_STRING)
            continue;
        const char *from = *(char *const *)target(&defs[i], (void *)src);
        char *copy = bn_strdup(from ? from : "");
        if (!copy) {
            bn_conf_release(defs, n, dst);
            return BN_ENOMEM;
        }
        *(char **)target(&defs[i], dst) = copy;
    }
    return 0;
}

void
bn_conf_release(const struct bn_conf_def *defs, size_t n, void *obj)
{
    if (!obj)
        return;
    for (size_t i = 0; i < n; i++) {
        if (defs[i].type != BN_CONF_STRING)
            continue;
        char **t = target(&defs[i], obj);
        bn_free(*t);
        *t = NULL;
    }
}
