/*
 * detect.c - central detection (see detect.h): Sigma rules and correlations over every
 * stored event, IOC matching of event fields, and agent-local alerts turned into alerts.
 *
 * Per batch: the events' JSON objects are joined into one reused NDJSON buffer (newlines
 * inside an object become spaces, which JSON allows outside strings and forbids raw inside
 * them) and read by one NDJSON reader; a record's line number is its index in the batch.
 * Every buffer is per worker and reused, so steady state allocates nothing per event.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/correlate.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/event.h"
#include "bannin/ioc.h"
#include "bannin/limits.h"
#include "bannin/log.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/sigma.h"
#include "common/hash.h"
#include "manager/detect.h"
#include "manager/metrics.h"

#define DETECT_BATCH_BYTES_MAX ((size_t)512 << 20)
#define DETECT_TENANTS_MAX 4096
#define DETECT_JSON_MAX ((size_t)BN_RECORD_MAX + 64 * 1024)

struct detect_rules {
    struct bn_ruleset *rs;
    struct bn_mapping *map;
    int64_t *tenant_of;          /* per rule index: owning tenant of an upload, 0 = all */
    bool has_owned;              /* some rule belongs to one tenant */
};

#define UPLOAD_PREFIX "upload:"

/* ---- loading ----------------------------------------------------------------------------- */

struct load_ctx {
    struct detect_load_stats *st;
    const char *name;            /* the upload being parsed, for diagnostics without a file */
};

static void
on_parse_diag(void *ctx, const struct bn_diag *d)
{
    struct load_ctx *c = ctx;
    if (c->st->failed++ == 0) {
        c->st->first = *d;
        if (!d->file[0] && c->name)
            snprintf(c->st->first.file, sizeof(c->st->first.file), "%s", c->name);
    }
}

static void
on_compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    struct load_ctx *c = ctx;
    if (c->st->failed++ == 0) {
        c->st->first = *d;
        if (!d->file[0] && rule && rule->file)
            snprintf(c->st->first.file, sizeof(c->st->first.file), "%s", rule->file);
        if (!d->line && rule)
            c->st->first.line = rule->line;
    }
}

static int
rules_finish(struct detect_rules **out, struct sigma_rule **rules, size_t n,
             struct detect_load_stats *st, struct load_ctx *lc)
{
    struct detect_rules *r = bn_calloc(1, sizeof(*r));
    if (!r) {
        for (size_t i = 0; i < n; i++)
            sigma_rule_free(rules[i]);
        return BN_ENOMEM;
    }
    int rc = bn_ruleset_compile(&r->rs, rules, n, NULL, on_compile_diag, lc);
    struct bn_diag md;
    bn_diag_clear(&md);
    if (rc == 0 && (rc = bn_mapping_load_default(&r->map, &md)) != 0)
        st->first = md;
    if (rc) {
        if (!st->first.msg[0])
            bn_diag_set(&st->first, rc, "<rules>", 0, 0, "cannot compile rules: %s",
                        bn_strerror(rc));
        detect_rules_free(r);
        return rc;
    }
    st->rules = bn_ruleset_count(r->rs);
    r->tenant_of = bn_calloc(st->rules ? st->rules : 1, sizeof(*r->tenant_of));
    if (!r->tenant_of) {
        detect_rules_free(r);
        return BN_ENOMEM;
    }
    /* uploads were parsed under the name "upload:<tenant>:<rule id>" */
    for (uint32_t i = 0; i < st->rules; i++) {
        const struct sigma_rule *sr = bn_ruleset_rule(r->rs, i);
        if (sr && sr->file && strncmp(sr->file, UPLOAD_PREFIX, strlen(UPLOAD_PREFIX)) == 0)
            r->tenant_of[i] = strtoll(sr->file + strlen(UPLOAD_PREFIX), NULL, 10);
        r->has_owned |= r->tenant_of[i] != 0;
    }
    *out = r;
    return 0;
}

int64_t
detect_rules_tenant(const struct detect_rules *r, uint32_t idx)
{
    return (r && idx < bn_ruleset_count(r->rs)) ? r->tenant_of[idx] : 0;
}

int
detect_rules_load_ex(struct detect_rules **out, const char *const *paths, size_t npaths,
                     const struct detect_upload *up, size_t nup, struct detect_load_stats *st)
{
    struct detect_load_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    *out = NULL;
    char def[4096];
    const char *defpath[1];
    if (npaths == 0) {
        /* the rules Bannin ships: $BANNIN_RULES, the installed tree, else the source tree */
        const char *env = getenv("BANNIN_RULES");
        struct stat sb;
        if (env && *env)
            snprintf(def, sizeof(def), "%s", env);
        else if (stat("/usr/share/bannin/rules/linux", &sb) == 0)
            snprintf(def, sizeof(def), "/usr/share/bannin/rules/linux");
        else
            snprintf(def, sizeof(def), "%s/rules/linux", BN_SOURCE_DIR);
        defpath[0] = def;
        paths = defpath;
        npaths = 1;
    }
    for (size_t i = 0; i < npaths; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0)
            return bn_diag_set(&st->first, -errno, paths[i], 0, 0, "cannot open rules '%s': %s",
                               paths[i], strerror(errno));
    }
    struct load_ctx lc = {st, NULL};
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    int rc = sigma_parse_paths(paths, npaths, &rules, &n, on_parse_diag, &lc);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            sigma_rule_free(rules[i]);
        bn_free(rules);
        return bn_diag_set(&st->first, rc, "<rules>", 0, 0, "cannot parse rules: %s",
                           bn_strerror(rc));
    }
    for (size_t i = 0; i < nup; i++) {
        char name[160];
        snprintf(name, sizeof(name), UPLOAD_PREFIX "%" PRId64 ":%.120s", up[i].tenant_id,
                 up[i].rule_id ? up[i].rule_id : "");
        lc.name = name;
        rc = sigma_parse_mem(up[i].yaml, up[i].len, name, &rules, &n, on_parse_diag, &lc);
        lc.name = NULL;
        if (rc) {
            for (size_t k = 0; k < n; k++)
                sigma_rule_free(rules[k]);
            bn_free(rules);
            return bn_diag_set(&st->first, rc, name, 0, 0, "cannot parse rules: %s",
                               bn_strerror(rc));
        }
    }
    rc = rules_finish(out, rules, n, st, &lc);
    bn_free(rules);
    return rc;
}

int
detect_rules_load(struct detect_rules **out, const char *const *paths, size_t npaths,
                  struct detect_load_stats *st)
{
    return detect_rules_load_ex(out, paths, npaths, NULL, 0, st);
}


int
detect_rules_load_mem(struct detect_rules **out, const char *buf, size_t len, const char *name,
                      struct detect_load_stats *st)
{
    struct detect_load_stats dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof(*st));
    *out = NULL;
    struct load_ctx lc = {st, NULL};
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    int rc = sigma_parse_mem(buf, len, name ? name : "<rules>", &rules, &n, on_parse_diag, &lc);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            sigma_rule_free(rules[i]);
        bn_free(rules);
        return rc;
    }
    rc = rules_finish(out, rules, n, st, &lc);
    bn_free(rules);
    return rc;
}

void
detect_rules_free(struct detect_rules *r)
{
    if (!r)
        return;
    bn_ruleset_free(r->rs);
    bn_mapping_free(r->map);
    bn_free(r->tenant_of);
    bn_free(r);
}

size_t
detect_rules_count(const struct detect_rules *r)
{
    return r ? bn_ruleset_count(r->rs) : 0;
}

struct validate_ctx {
    struct bn_diag *d;
    bool failed;
};

static void
on_validate_parse(void *ctx, const struct bn_diag *d)
{
    struct validate_ctx *v = ctx;
    if (!v->failed && v->d)
        *v->d = *d;
    v->failed = true;
}

static void
on_validate_compile(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    (void)rule;
    on_validate_parse(ctx, d);
}

int
detect_rule_validate(const char *yaml, size_t len, char *id, size_t id_size, char *title,
                     size_t title_size, struct bn_diag *d)
{
    bn_diag_clear(d);
    if (id && id_size)
        id[0] = '\0';
    if (title && title_size)
        title[0] = '\0';
    if (len > BN_RULE_FILE_MAX)
        return bn_diag_set(d, BN_ETOOBIG, "<upload>", 0, 0,
                           "rule of %zu bytes is over the %u byte limit (BN_RULE_FILE_MAX)", len,
                           (unsigned)BN_RULE_FILE_MAX);
    struct validate_ctx v = {d, false};
    struct sigma_rule **rules = NULL;
    size_t n = 0;
    int rc = sigma_parse_mem(yaml, len, "<upload>", &rules, &n, on_validate_parse, &v);
    if (rc == 0 && v.failed)
        rc = d && d->code ? d->code : BN_EPARSE;
    if (rc == 0 && n == 0)
        rc = bn_diag_set(d, BN_EPARSE, "<upload>", 1, 1, "no Sigma rule in the upload");
    if (rc == 0) {
        if (id && rules[0]->id)
            snprintf(id, id_size, "%s", rules[0]->id);
        if (title && rules[0]->title)
            snprintf(title, title_size, "%s", rules[0]->title);
        if (!rules[0]->id || !rules[0]->id[0])
            rc = bn_diag_set(d, BN_EPARSE, "<upload>", rules[0]->line, 1,
                             "the rule has no 'id' (rules are enabled, disabled and replaced "
                             "by id)");
    }
    if (rc) {
        for (size_t i = 0; i < n; i++)
            sigma_rule_free(rules[i]);
        bn_free(rules);
        return rc;
    }
    struct bn_ruleset *rs = NULL;
    rc = bn_ruleset_compile(&rs, rules, n, NULL, on_validate_compile, &v);
    bn_free(rules);
    bn_ruleset_free(rs);
    if (rc == 0 && v.failed)
        rc = d && d->code ? d->code : BN_EUNSUP;
    return rc;
}

/* ---- the worker -------------------------------------------------------------------------- */

struct tenant_iocs {
    int64_t tenant_id;
    const struct bn_ioc_set *set;
};

struct detect {
    const struct detect_rules *rules;
    detect_emit_cb cb;
    void *ctx;
    struct mgr_metrics *metrics;
    struct bn_scratch *scratch;
    struct bn_evbuilder *eb;
    struct bn_correlator *corr;
    struct bn_event ev;
    struct bn_buf batch;         /* joined NDJSON of a batch */
    struct bn_buf json;          /* one alert's context JSON */
    struct bn_buf tags;
    struct triage_field *fields;
    size_t cap_fields;
    struct tenant_iocs *iocs;
    size_t niocs;
    uint32_t *hitbuf;            /* hits of the current tenant's rules (uploads of others out) */
    uint64_t *disabled;          /* hashes of (tenant, rule id), open addressing, 0 = empty */
    size_t ndisabled, cap_disabled;
    /* the event being processed (for correlation alerts raised while feeding it) */
    const struct store_event *cur;
    const struct bn_record *cur_rec;
    const struct bn_record *fields_rec; /* the event whose fields alerts carry (lazy) */
    bool fields_ready;
    int64_t cur_tenant;
    int64_t now_ns;
    int emit_rc;
    struct detect_stats stats;
};

static void on_corr(void *ctx, const struct bn_corr_alert *ca);

int
detect_new(struct detect **out, const struct detect_rules *rules, detect_emit_cb cb, void *ctx,
           struct mgr_metrics *metrics)
{
    *out = NULL;
    if (!rules || !cb)
        return BN_EINVAL;
    struct detect *d = bn_calloc(1, sizeof(*d));
    if (!d)
        return BN_ENOMEM;
    d->rules = rules;
    d->cb = cb;
    d->ctx = ctx;
    d->metrics = metrics;
    bn_buf_init(&d->batch, DETECT_BATCH_BYTES_MAX);
    bn_buf_init(&d->json, DETECT_JSON_MAX);
    bn_buf_init(&d->tags, 64 << 10);
    d->scratch = bn_scratch_new(rules->rs);
    d->eb = bn_evbuilder_new(rules->map, bn_ruleset_fields(rules->rs));
    d->corr = bn_correlator_new(rules->rs, on_corr, d);
    d->hitbuf = bn_calloc(bn_ruleset_count(rules->rs) + 1, sizeof(*d->hitbuf));
    if (!d->scratch || !d->eb || !d->corr || !d->hitbuf ||
        bn_event_init(&d->ev, bn_fieldtab_count(bn_ruleset_fields(rules->rs))) != 0) {
        detect_free(d);
        return BN_ENOMEM;
    }
    *out = d;
    return 0;
}

void
detect_free(struct detect *d)
{
    if (!d)
        return;
    bn_correlator_free(d->corr);
    bn_evbuilder_free(d->eb);
    bn_scratch_free(d->scratch);
    if (d->ev.first)
        bn_event_release(&d->ev);
    bn_buf_release(&d->batch);
    bn_buf_release(&d->json);
    bn_buf_release(&d->tags);
    bn_free(d->fields);
    bn_free(d->hitbuf);
    bn_free(d->iocs);
    bn_free(d->disabled);
    bn_free(d);
}

void
detect_get_stats(const struct detect *d, struct detect_stats *st)
{
    *st = d->stats;
}

int
detect_set_iocs(struct detect *d, int64_t tenant_id, const struct bn_ioc_set *set)
{
    for (size_t i = 0; i < d->niocs; i++) {
        if (d->iocs[i].tenant_id != tenant_id)
            continue;
        if (set) {
            d->iocs[i].set = set;
        } else {
            d->iocs[i] = d->iocs[--d->niocs];
        }
        return 0;
    }
    if (!set)
        return 0;
    if (d->niocs >= DETECT_TENANTS_MAX)
        return BN_ETOOBIG;
    struct tenant_iocs *n = bn_reallocarray(d->iocs, d->niocs + 1, sizeof(*n));
    if (!n)
        return BN_ENOMEM;
    d->iocs = n;
    d->iocs[d->niocs++] = (struct tenant_iocs){tenant_id, set};
    return 0;
}

static const struct bn_ioc_set *
iocs_of(const struct detect *d, int64_t tenant_id)
{
    for (size_t i = 0; i < d->niocs; i++)
        if (d->iocs[i].tenant_id == tenant_id)
            return d->iocs[i].set;
    return NULL;
}

static uint64_t
rule_hash(int64_t tenant, const char *rule_id)
{
    uint64_t h = bn__hash(rule_id, strlen(rule_id), (uint64_t)tenant * 0x9e3779b97f4a7c15ull + 1);
    return h ? h : 1;
}

static bool
disabled_has(const struct detect *d, uint64_t h)
{
    if (!d->ndisabled)
        return false;
    size_t mask = d->cap_disabled - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        if (d->disabled[i] == h)
            return true;
        if (d->disabled[i] == 0)
            return false;
    }
}

int
detect_set_rule_enabled(struct detect *d, int64_t tenant_id, const char *rule_id, bool enabled)
{
    if (!rule_id || !rule_id[0])
        return BN_EINVAL;
    uint64_t h = rule_hash(tenant_id, rule_id);
    if (enabled) {
        if (!disabled_has(d, h))
            return 0;
        /* rebuild without h (rare: an analyst re-enables a rule) */
        size_t cap = d->cap_disabled;
        uint64_t *old = d->disabled;
        uint64_t *n = bn_calloc(cap, sizeof(*n));
        if (!n)
            return BN_ENOMEM;
        for (size_t i = 0; i < cap; i++) {
            if (!old[i] || old[i] == h)
                continue;
            size_t j = old[i] & (cap - 1);
            while (n[j])
                j = (j + 1) & (cap - 1);
            n[j] = old[i];
        }
        bn_free(old);
        d->disabled = n;
        d->ndisabled--;
        return 0;
    }
    if (disabled_has(d, h))
        return 0;
    if ((d->ndisabled + 1) * 2 > d->cap_disabled) {
        size_t cap = d->cap_disabled ? d->cap_disabled * 2 : 64;
        if (cap > (size_t)BN_TRIAGE_OPEN_MAX * 4)
            return BN_ETOOBIG;
        uint64_t *n = bn_calloc(cap, sizeof(*n));
        if (!n)
            return BN_ENOMEM;
        for (size_t i = 0; i < d->cap_disabled; i++) {
            if (!d->disabled[i])
                continue;
            size_t j = d->disabled[i] & (cap - 1);
            while (n[j])
                j = (j + 1) & (cap - 1);
            n[j] = d->disabled[i];
        }
        bn_free(d->disabled);
        d->disabled = n;
        d->cap_disabled = cap;
    }
    size_t j = h & (d->cap_disabled - 1);
    while (d->disabled[j])
        j = (j + 1) & (d->cap_disabled - 1);
    d->disabled[j] = h;
    d->ndisabled++;
    return 0;
}

static bool
rule_disabled(const struct detect *d, int64_t tenant, const char *rule_id)
{
    return d->ndisabled && rule_id &&
           (disabled_has(d, rule_hash(tenant, rule_id)) || disabled_has(d, rule_hash(0, rule_id)));
}

/* ---- record helpers ---------------------------------------------------------------------- */

/* Copies the first value of key in rec into out (NUL-terminated, cut to fit): record values
 * are not NUL-terminated. Returns out, or NULL when the key is absent. */
static const char *
rec_get(const struct bn_record *rec, const char *key, char *out, size_t size)
{
    const struct bn_kv *kv = bn_record_get(rec, key);
    if (!kv || !kv->val || size == 0)
        return NULL;
    size_t n = kv->val_len < size - 1 ? kv->val_len : size - 1;
    memcpy(out, kv->val, n);
    out[n] = '\0';
    return out;
}

static int
level_of(enum sigma_level l)
{
    switch (l) {
    case SIGMA_LEVEL_INFORMATIONAL:
        return 0;
    case SIGMA_LEVEL_LOW:
        return 1;
    case SIGMA_LEVEL_MEDIUM:
        return 2;
    case SIGMA_LEVEL_HIGH:
        return 3;
    case SIGMA_LEVEL_CRITICAL:
        return 4;
    default:
        return 1;
    }
}

static int
fields_fill(struct detect *d, const struct bn_record *rec, size_t *n)
{
    if (rec->n > d->cap_fields) {
        struct triage_field *f = bn_reallocarray(d->fields, rec->n, sizeof(*f));
        if (!f)
            return BN_ENOMEM;
        d->fields = f;
        d->cap_fields = rec->n;
    }
    for (uint32_t i = 0; i < rec->n; i++) {
        d->fields[i].name = rec->kv[i].key;
        d->fields[i].name_len = rec->kv[i].key_len;
        d->fields[i].value = rec->kv[i].val ? rec->kv[i].val : "";
        d->fields[i].value_len = rec->kv[i].val ? rec->kv[i].val_len : 0;
    }
    *n = rec->n;
    return 0;
}

/* Context of one alert being built from the current event. */
struct actx {
    char host[256];
    char user[128];
    char key[512];
    char pguid[96];
    char ppguid[96];
    char eid[16];
};

/* The object an event is about, for de-duplication: file, DNS name, peer, command line. */
static void
primary_key(const struct bn_record *rec, const char *prefix, char *out, size_t size)
{
    static const char *const by_kind[] = {"TargetFilename", "QueryName", "DestinationIp",
                                          "CommandLine", "Image", "message"};
    char key[64], eid[16];
    out[0] = '\0';
    snprintf(key, sizeof(key), "%sEventID", prefix);
    const char *e = rec_get(rec, key, eid, sizeof(eid));
    long id = e ? strtol(e, NULL, 10) : 0;
    size_t start = 3; /* CommandLine */
    if (id == 11 || id == 23 || id == 100 || id == 101 || id == 102 || id == 26)
        start = 0;
    else if (id == 22)
        start = 1;
    else if (id == 3)
        start = 2;
    for (size_t i = start; i < BN_ARRAY_SIZE(by_kind); i++) {
        snprintf(key, sizeof(key), "%s%s", prefix, by_kind[i]);
        if (rec_get(rec, key, out, size))
            return;
    }
}

static void
actx_fill(struct actx *c, const struct store_event *se, const struct bn_event *ev,
          const struct bn_record *rec)
{
    memset(c, 0, sizeof(*c));
    if (se && se->host && se->host[0])
        snprintf(c->host, sizeof(c->host), "%s", se->host);
    else if (ev && ev->host)
        snprintf(c->host, sizeof(c->host), "%.*s", (int)BN_MIN(ev->host_len, 255), ev->host);
    else if (rec)
        rec_get(rec, "Computer", c->host, sizeof(c->host));
    if (se && se->user && se->user[0])
        snprintf(c->user, sizeof(c->user), "%s", se->user);
    else if (rec && !rec_get(rec, "User", c->user, sizeof(c->user)))
        rec_get(rec, "user", c->user, sizeof(c->user));
    if (rec) {
        rec_get(rec, "ProcessGuid", c->pguid, sizeof(c->pguid));
        rec_get(rec, "ParentProcessGuid", c->ppguid, sizeof(c->ppguid));
    }
}

static int fields_fill(struct detect *d, const struct bn_record *rec, size_t *n);

static int
emit(struct detect *d, struct triage_alert_in *a)
{
    d->stats.alerts++;
    /* the event's fields (for suppressions) are gathered only when an alert needs them */
    if (!a->fields && d->fields_rec) {
        size_t n = 0;
        if (d->fields_ready || fields_fill(d, d->fields_rec, &n) == 0) {
            d->fields_ready = true;
            a->fields = d->fields;
            a->nfields = d->fields_rec->n;
        }
    }
    int rc = d->cb(d->ctx, a);
    if (rc && !d->emit_rc)
        d->emit_rc = rc;
    return rc;
}

/* {"source":..,"rule":{..},<extra>"event":<raw>} into d->json */
static int
ctx_json(struct detect *d, const char *source, const struct sigma_rule *r, const char *extra,
         const struct store_event *se)
{
    struct bn_buf *b = &d->json;
    bn_buf_reset(b);
    int rc = bn_buf_printf(b, "{\"source\":\"%s\"", source);
    if (r && rc == 0) {
        rc = bn_buf_puts(b, ",\"rule\":{\"id\":\"");
        rc = rc ? rc : bn_buf_json_escape(b, r->id ? r->id : "", r->id ? strlen(r->id) : 0);
        rc = rc ? rc : bn_buf_puts(b, "\",\"title\":\"");
        rc = rc ? rc
                : bn_buf_json_escape(b, r->title ? r->title : "", r->title ? strlen(r->title) : 0);
        rc = rc ? rc : bn_buf_printf(b, "\",\"level\":\"%s\",\"tags\":[", sigma_level_name(r->level));
        for (uint32_t i = 0; rc == 0 && i < r->ntags; i++) {
            rc = bn_buf_puts(b, i ? ",\"" : "\"");
            rc = rc ? rc : bn_buf_json_escape(b, r->tags[i], strlen(r->tags[i]));
            rc = rc ? rc : bn_buf_putc(b, '"');
        }
        rc = rc ? rc : bn_buf_puts(b, "]}");
    }
    if (extra && rc == 0)
        rc = bn_buf_printf(b, ",%s", extra);
    if (se && se->json && rc == 0) {
        rc = bn_buf_puts(b, ",\"event\":");
        /* the event is the agent's JSON object as stored: embed it as is when it fits */
        rc = rc ? rc : bn_buf_append(b, se->json, se->json_len);
    }
    rc = rc ? rc : bn_buf_putc(b, '}');
    if (rc == BN_ETOOBIG) {
        /* an event near the record limit: keep the alert, without the event */
        bn_buf_reset(b);
        rc = bn_buf_printf(b, "{\"source\":\"%s\",\"event_omitted\":\"too big\"}", source);
    }
    return rc;
}

static void
tags_of(struct detect *d, const struct sigma_rule *r)
{
    bn_buf_reset(&d->tags);
    for (uint32_t i = 0; i < r->ntags; i++)
        bn_buf_printf(&d->tags, "%s%s", i ? "," : "", r->tags[i]);
    if (!d->tags.p)
        bn_buf_puts(&d->tags, "");
}

static int
rule_alert(struct detect *d, uint32_t idx, const struct store_event *se,
           const struct bn_record *rec, const struct triage_field *fields, size_t nfields)
{
    const struct sigma_rule *r = bn_ruleset_rule(d->rules->rs, idx);
    if (!r)
        return 0;
    int64_t owner = d->rules->tenant_of[idx];
    if (owner && owner != d->cur_tenant)
        return 0; /* another tenant's uploaded rule */
    if (rule_disabled(d, d->cur_tenant, r->id)) {
        d->stats.disabled_hits++;
        return 0;
    }
    struct actx c;
    actx_fill(&c, se, &d->ev, rec);
    if (rec)
        primary_key(rec, "", c.key, sizeof(c.key));
    int rc = ctx_json(d, "central", r, NULL, se);
    if (rc)
        return rc;
    tags_of(d, r);
    char rid[64];
    snprintf(rid, sizeof(rid), "%s", r->id ? r->id : (r->title ? r->title : "rule"));
    struct triage_alert_in a = {
        .tenant_id = d->cur_tenant,
        .agent_id = se ? se->agent_id : 0,
        .seq = se ? se->seq : -1,
        .rule_id = rid,
        .rule_title = r->title,
        .level = level_of(r->level),
        .confidence = 70,
        .tags = d->tags.p,
        .host = c.host,
        .user = c.user,
        .key = c.key,
        .process_guid = c.pguid,
        .parent_guid = c.ppguid,
        .source = "central",
        .event_ts_ns = se ? se->ts_ns : 0,
        .received_ns = se ? se->received_ns : 0,
        .fields = fields,
        .nfields = nfields,
        .json = d->json.p,
    };
    return emit(d, &a);
}

static void
on_corr(void *ctx, const struct bn_corr_alert *ca)
{
    struct detect *d = ctx;
    const struct sigma_rule *r = bn_ruleset_rule(d->rules->rs, ca->rule);
    if (!r || d->emit_rc)
        return;
    int64_t tenant = ca->tenant ? strtoll(ca->tenant, NULL, 10) : d->cur_tenant;
    int64_t owner = d->rules->tenant_of[ca->rule];
    if (owner && owner != tenant)
        return;
    if (rule_disabled(d, tenant, r->id)) {
        d->stats.disabled_hits++;
        return;
    }
    d->stats.corr_alerts++;
    struct actx c;
    memset(&c, 0, sizeof(c));
    struct bn_buf extra;
    bn_buf_init(&extra, 64 << 10);
    int rc = bn_buf_printf(&extra, "\"correlation\":{\"count\":%" PRIu64 ",\"first_ns\":%" PRId64
                                   ",\"last_ns\":%" PRId64 ",\"group\":{",
                           ca->count, ca->first_ns, ca->last_ns);
    size_t ko = 0;
    for (size_t i = 0; rc == 0 && i < ca->ngroup; i++) {
        const char *n = ca->group_names[i], *v = ca->group_values[i] ? ca->group_values[i] : "";
        rc = bn_buf_puts(&extra, i ? ",\"" : "\"");
        rc = rc ? rc : bn_buf_json_escape(&extra, n, strlen(n));
        rc = rc ? rc : bn_buf_puts(&extra, "\":\"");
        rc = rc ? rc : bn_buf_json_escape(&extra, v, strlen(v));
        rc = rc ? rc : bn_buf_putc(&extra, '"');
        if (strcasecmp(n, "Computer") == 0 || strcasecmp(n, "host") == 0 ||
            strcasecmp(n, "Hostname") == 0)
            snprintf(c.host, sizeof(c.host), "%s", v);
        else if (strcasecmp(n, "User") == 0 || strcasecmp(n, "user") == 0 ||
                 strcasecmp(n, "TargetUserName") == 0)
            snprintf(c.user, sizeof(c.user), "%s", v);
        if (ko < sizeof(c.key) - 1)
            ko += (size_t)snprintf(c.key + ko, sizeof(c.key) - ko, "%s%s=%s", i ? "," : "", n, v);
    }
    rc = rc ? rc : bn_buf_puts(&extra, "}}");
    /* the event that completed the condition, when it was this batch's */
    const struct store_event *se = d->cur;
    if (rc == 0)
        rc = ctx_json(d, "central", r, extra.p, se);
    bn_buf_release(&extra);
    if (rc) {
        d->stats.match_errors++;
        return;
    }
    tags_of(d, r);
    char rid[64];
    snprintf(rid, sizeof(rid), "%s", r->id ? r->id : (r->title ? r->title : "correlation"));
    struct triage_alert_in a = {
        .tenant_id = tenant,
        .agent_id = se ? se->agent_id : 0,
        .seq = se ? se->seq : -1,
        .rule_id = rid,
        .rule_title = r->title,
        .level = level_of(r->level),
        .confidence = 80,
        .tags = d->tags.p,
        .host = c.host,
        .user = c.user,
        .key = c.key,
        .source = "central",
        .event_ts_ns = ca->last_ns,
        .received_ns = se ? se->received_ns : 0,
        .json = d->json.p,
    };
    emit(d, &a);
}

/* ---- IOC matching ------------------------------------------------------------------------ */

enum ioc_field {
    IF_NONE = 0,
    IF_HASHES,       /* "SHA256=..,MD5=.." */
    IF_HASH,
    IF_IP,
    IF_IP_LIST,      /* QueryResults: "type: 5 a.b;1.2.3.4;::ffff:5.6.7.8;" */
    IF_DOMAIN,
    IF_SNI,
    IF_URL,
    IF_JA3,
    IF_JA4,
};

#define KN(s) s, sizeof(s) - 1

static enum ioc_field
ioc_field_kind(const char *k, size_t n)
{
    /* by length first: most keys of an event are rejected without a compare */
    static const struct {
        const char *name;
        size_t len;
        enum ioc_field kind;
    } names[] = {
        {KN("md5"), IF_HASH},           {KN("ja3"), IF_JA3},
        {KN("ja4"), IF_JA4},            {KN("sni"), IF_SNI},
        {KN("url"), IF_URL},            {KN("URL"), IF_URL},
        {KN("Hash"), IF_HASH},          {KN("sha1"), IF_HASH},
        {KN("ja3s"), IF_JA3},           {KN("query"), IF_DOMAIN},
        {KN("Hashes"), IF_HASHES},      {KN("sha256"), IF_HASH},
        {KN("SHA256"), IF_HASH},        {KN("src_ip"), IF_IP},
        {KN("dst_ip"), IF_IP},          {KN("dest_ip"), IF_IP},
        {KN("SourceIp"), IF_IP},        {KN("source_ip"), IF_IP},
        {KN("IpAddress"), IF_IP},       {KN("id.resp_h"), IF_IP},
        {KN("id.orig_h"), IF_IP},       {KN("QueryName"), IF_DOMAIN},
        {KN("server_name"), IF_SNI},    {KN("QueryResults"), IF_IP_LIST},
        {KN("DestinationIp"), IF_IP},   {KN("dns.question.name"), IF_DOMAIN},
        {KN("DestinationHostname"), IF_DOMAIN},
        /* the sensor's EVE records */
        {KN("tls.sni"), IF_SNI},        {KN("tls.ja4"), IF_JA4},
        {KN("dns.rrname"), IF_DOMAIN},  {KN("tls.ja3.hash"), IF_JA3},
        {KN("tls.ja3s.hash"), IF_JA3},  {KN("http.hostname"), IF_DOMAIN},
        {KN("dns.query.rrname"), IF_DOMAIN},
    };
    static const uint32_t lens = (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7) |
                                 (1u << 8) | (1u << 9) | (1u << 10) | (1u << 11) | (1u << 12) |
                                 (1u << 13) | (1u << 16) | (1u << 17) | (1u << 19);
    if (n < 3 || n > 19 || !(lens & (1u << n)))
        return IF_NONE;
    for (size_t i = 0; i < BN_ARRAY_SIZE(names); i++)
        if (names[i].len == n && names[i].name[0] == k[0] && memcmp(names[i].name, k, n) == 0)
            return names[i].kind;
    return IF_NONE;
}

static bool
ioc_seen(const char **seen, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (seen[i] == v)
            return true;
    return false;
}

static int
ioc_alert(struct detect *d, const struct bn_ioc_match *m, const char *field, const char *observed,
          size_t olen, const struct store_event *se, const struct bn_record *rec,
          const struct triage_field *fields, size_t nfields)
{
    d->stats.ioc_matches++;
    mgr_metric_add(d->metrics, MGR_M_IOC_MATCHES, 1);
    struct actx c;
    actx_fill(&c, se, &d->ev, rec);
    snprintf(c.key, sizeof(c.key), "%s", m->value);
    struct bn_buf extra;
    bn_buf_init(&extra, 64 << 10);
    int rc = bn_buf_printf(&extra, "\"ioc\":{\"type\":\"%s\",\"value\":\"", bn_ioc_type_name(m->type));
    rc = rc ? rc : bn_buf_json_escape(&extra, m->value, strlen(m->value));
    rc = rc ? rc : bn_buf_puts(&extra, "\",\"field\":\"");
    rc = rc ? rc : bn_buf_json_escape(&extra, field, strlen(field));
    rc = rc ? rc : bn_buf_puts(&extra, "\",\"observed\":\"");
    rc = rc ? rc : bn_buf_json_escape(&extra, observed, BN_MIN(olen, 2048));
    rc = rc ? rc : bn_buf_puts(&extra, "\",\"source\":\"");
    rc = rc ? rc : bn_buf_json_escape(&extra, m->source, strlen(m->source));
    rc = rc ? rc : bn_buf_puts(&extra, "\",\"comment\":\"");
    rc = rc ? rc : bn_buf_json_escape(&extra, m->comment, strlen(m->comment));
    rc = rc ? rc : bn_buf_puts(&extra, "\"}");
    if (rc == 0)
        rc = ctx_json(d, "ioc", NULL, extra.p, se);
    bn_buf_release(&extra);
    if (rc)
        return rc;
    bool hash = m->type == BN_IOC_SHA256 || m->type == BN_IOC_SHA1 || m->type == BN_IOC_MD5;
    char rid[32], title[256];
    snprintf(rid, sizeof(rid), "ioc.%s", bn_ioc_type_name(m->type));
    if (rule_disabled(d, d->cur_tenant, rid)) {
        d->stats.disabled_hits++;
        return 0;
    }
    snprintf(title, sizeof(title), "IOC match: %s %.120s%s%.60s%s", bn_ioc_type_name(m->type),
             m->value, m->source[0] ? " (" : "", m->source, m->source[0] ? ")" : "");
    struct triage_alert_in a = {
        .tenant_id = d->cur_tenant,
        .agent_id = se ? se->agent_id : 0,
        .seq = se ? se->seq : -1,
        .rule_id = rid,
        .rule_title = title,
        .level = 3,
        .confidence = 90,
        .tags = hash ? "attack.execution" : "attack.command_and_control",
        .host = c.host,
        .user = c.user,
        .key = c.key,
        .process_guid = c.pguid,
        .parent_guid = c.ppguid,
        .source = "ioc",
        .event_ts_ns = se ? se->ts_ns : 0,
        .received_ns = se ? se->received_ns : 0,
        .fields = fields,
        .nfields = nfields,
        .json = d->json.p,
    };
    return emit(d, &a);
}

static int
ioc_scan(struct detect *d, const struct bn_ioc_set *set, const struct store_event *se,
         const struct bn_record *rec, const struct triage_field *fields, size_t nfields)
{
    const char *seen[16];
    size_t nseen = 0;
    for (uint32_t i = 0; i < rec->n; i++) {
        const struct bn_kv *kv = &rec->kv[i];
        if (!kv->val || kv->val_len == 0)
            continue;
        enum ioc_field f = ioc_field_kind(kv->key, kv->key_len);
        if (f == IF_NONE)
            continue;
        struct bn_ioc_match m;
        const char *v = kv->val;
        size_t n = kv->val_len;
        /* values that hold several observables are split */
        const char *p = v, *end = v + n;
        while (p < end) {
            const char *q = p;
            size_t len;
            if (f == IF_HASHES || f == IF_IP_LIST) {
                while (q < end && *q != ',' && *q != ';')
                    q++;
                len = (size_t)(q - p);
            } else {
                q = end;
                len = n;
            }
            const char *tok = p;
            size_t tl = len;
            while (tl && *tok == ' ') {
                tok++;
                tl--;
            }
            bool hit = false;
            switch (f) {
            case IF_HASHES: {
                const char *eq = memchr(tok, '=', tl);
                if (eq) {
                    tl -= (size_t)(eq + 1 - tok);
                    tok = eq + 1;
                }
                hit = bn_ioc_match_hash(set, tok, tl, &m);
                break;
            }
            case IF_HASH:
                hit = bn_ioc_match_hash(set, tok, tl, &m);
                break;
            case IF_IP:
            case IF_IP_LIST:
                if (f == IF_IP_LIST && tl > 5 && memcmp(tok, "type:", 5) == 0)
                    break; /* a record type, then a name: not an address */
                hit = bn_ioc_match(set, BN_IOC_IP, tok, tl, &m);
                break;
            case IF_DOMAIN:
                hit = bn_ioc_match(set, BN_IOC_DOMAIN, tok, tl, &m);
                break;
            case IF_SNI:
                hit = bn_ioc_match(set, BN_IOC_SNI, tok, tl, &m);
                break;
            case IF_URL:
                hit = bn_ioc_match(set, BN_IOC_URL, tok, tl, &m);
                break;
            case IF_JA3:
                hit = bn_ioc_match(set, BN_IOC_JA3, tok, tl, &m);
                break;
            case IF_JA4:
                hit = bn_ioc_match(set, BN_IOC_JA4, tok, tl, &m);
                break;
            default:
                break;
            }
            if (hit && !ioc_seen(seen, nseen, m.value)) {
                if (nseen < BN_ARRAY_SIZE(seen))
                    seen[nseen++] = m.value;
                char field[BN_FIELD_NAME_MAX];
                snprintf(field, sizeof(field), "%.*s", (int)BN_MIN(kv->key_len, 255), kv->key);
                int rc = ioc_alert(d, &m, field, tok, tl, se, rec, fields, nfields);
                if (rc)
                    return rc;
            }
            p = q + 1;
        }
    }
    return 0;
}

/* ---- agent-local alerts (EventID 140) ---------------------------------------------------- */

static int
agent_alert(struct detect *d, const struct store_event *se, const struct bn_record *rec,
            const struct triage_field *fields, size_t nfields)
{
    char rid[128], title[256], level[32], tags[1024], group[512];
    struct actx c;
    actx_fill(&c, se, NULL, rec);
    if (!rec_get(rec, "rule_id", rid, sizeof(rid)) || !rid[0]) {
        if (!rec_get(rec, "rule_title", rid, sizeof(rid)))
            snprintf(rid, sizeof(rid), "agent.alert");
    }
    if (!rec_get(rec, "rule_title", title, sizeof(title)))
        snprintf(title, sizeof(title), "%s", rid);
    if (!rec_get(rec, "rule_level", level, sizeof(level)))
        level[0] = '\0';
    if (!rec_get(rec, "rule_tags", tags, sizeof(tags)))
        tags[0] = '\0';
    if (rule_disabled(d, d->cur_tenant, rid)) {
        d->stats.disabled_hits++;
        return 0;
    }
    if (rec_get(rec, "group", group, sizeof(group)) && group[0])
        snprintf(c.key, sizeof(c.key), "%s", group);
    else
        primary_key(rec, "trigger.", c.key, sizeof(c.key));
    if (!c.key[0])
        primary_key(rec, "", c.key, sizeof(c.key));
    int lv = triage_level_parse(level);
    int rc = ctx_json(d, "agent", NULL, NULL, se);
    if (rc)
        return rc;
    d->stats.agent_alerts++;
    struct triage_alert_in a = {
        .tenant_id = d->cur_tenant,
        .agent_id = se ? se->agent_id : 0,
        .seq = se ? se->seq : -1,
        .rule_id = rid,
        .rule_title = title,
        .level = lv < 0 ? 2 : lv,
        .confidence = 70,
        .tags = tags,
        .host = c.host,
        .user = c.user,
        .key = c.key,
        .process_guid = c.pguid,
        .parent_guid = c.ppguid,
        .source = "agent",
        .event_ts_ns = se ? se->ts_ns : 0,
        .received_ns = se ? se->received_ns : 0,
        .fields = fields,
        .nfields = nfields,
        .json = d->json.p,
    };
    return emit(d, &a);
}

/* ---- the sensor's alerts (EVE "alert" records) ------------------------------------------- */

static bool
kv_is(const struct bn_record *rec, const char *key, const char *val)
{
    const struct bn_kv *kv = bn_record_get(rec, key);
    size_t l = strlen(val);
    return kv && kv->val && kv->val_len == l && memcmp(kv->val, val, l) == 0;
}

static int
sensor_alert(struct detect *d, const struct store_event *se, const struct bn_record *rec)
{
    char sid[32], rid[48], title[256], sev[8], score[16], src[64], dst[64], tags[512];
    struct actx c;
    memset(&c, 0, sizeof(c));
    rec_get(rec, "alert.signature_id", sid, sizeof(sid));
    snprintf(rid, sizeof(rid), "sensor.%s", sid);
    if (rule_disabled(d, d->cur_tenant, rid)) {
        d->stats.disabled_hits++;
        return 0;
    }
    if (!rec_get(rec, "alert.signature", title, sizeof(title)))
        snprintf(title, sizeof(title), "%s", rid);
    /* Suricata orders severity 1 (high) .. 4 (informational) */
    long sv = rec_get(rec, "alert.severity", sev, sizeof(sev)) ? strtol(sev, NULL, 10) : 3;
    int level = sv <= 1 ? 3 : sv == 2 ? 2 : sv == 3 ? 1 : 0;
    long conf = rec_get(rec, "alert.score", score, sizeof(score)) ? strtol(score, NULL, 10) : 0;
    /* ATT&CK techniques of the signature as Sigma tags */
    tags[0] = '\0';
    size_t tl = 0;
    for (uint32_t i = 0; i < rec->n && tl < sizeof(tags) - 40; i++) {
        const struct bn_kv *kv = &rec->kv[i];
        if (kv->key_len != 33 || memcmp(kv->key, "alert.metadata.mitre_technique_id", 33) != 0 ||
            !kv->val || kv->val_len == 0 || kv->val_len > 20)
            continue;
        tl += (size_t)snprintf(tags + tl, sizeof(tags) - tl, "%sattack.%.*s", tl ? "," : "",
                               (int)kv->val_len, kv->val);
    }
    for (char *p = tags; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    /* the actor (scanner, beaconing client) is the host the incident is about */
    if (!rec_get(rec, "src_ip", src, sizeof(src)))
        src[0] = '\0';
    if (!rec_get(rec, "dest_ip", dst, sizeof(dst)))
        dst[0] = '\0';
    snprintf(c.host, sizeof(c.host), "%s", src[0] ? src : (se && se->host ? se->host : ""));
    snprintf(c.key, sizeof(c.key), "%s>%s", src, dst);
    int rc = ctx_json(d, "sensor", NULL, NULL, se);
    if (rc)
        return rc;
    d->stats.sensor_alerts++;
    struct triage_alert_in a = {
        .tenant_id = d->cur_tenant,
        .agent_id = se ? se->agent_id : 0,
        .seq = se ? se->seq : -1,
        .rule_id = rid,
        .rule_title = title,
        .level = level,
        .confidence = conf > 0 && conf <= 100 ? (int)conf : 60,
        .tags = tags,
        .host = c.host,
        .key = c.key,
        .source = "sensor",
        .event_ts_ns = se ? se->ts_ns : 0,
        .received_ns = se ? se->received_ns : 0,
        .json = d->json.p,
    };
    return emit(d, &a);
}

/* ---- batches ----------------------------------------------------------------------------- */

static int
one_event(struct detect *d, const struct store_event *se, const struct bn_record *rec,
          const struct bn_ioc_set *iocs, const struct bn_ioc_set *global)
{
    d->stats.events++;
    d->fields_rec = rec;
    d->fields_ready = false;
    const size_t nfields = 0;
    int rc = 0;
    if (se->event_id == 140 || (se->event_id == 0 && bn_record_get(rec, "rule_id") &&
                                bn_record_get(rec, "trigger_kind"))) {
        /* the agent already matched this one: take its alert, match nothing again */
        return agent_alert(d, se, rec, NULL, nfields);
    }
    if (kv_is(rec, "event_type", "alert") && bn_record_get(rec, "alert.signature_id"))
        return sensor_alert(d, se, rec); /* the sensor's own detection */
    bn_event_clear(&d->ev);
    if (bn_evbuilder_build(d->eb, rec, &d->ev) != 0) {
        d->stats.match_errors++;
        return 0;
    }
    if (d->ev.ts_ns == INT64_MIN)
        d->ev.ts_ns = se->ts_ns ? se->ts_ns : d->now_ns;
    const uint32_t *hits;
    size_t nhits = 0;
    if (bn_ruleset_match(d->rules->rs, d->scratch, &d->ev, &hits, &nhits) != 0) {
        d->stats.match_errors++;
    } else if (nhits) {
        if (d->rules->has_owned) {
            /* another tenant's uploaded rules neither alert nor feed correlations here */
            size_t k = 0;
            for (size_t i = 0; i < nhits; i++) {
                int64_t owner = d->rules->tenant_of[hits[i]];
                if (!owner || owner == d->cur_tenant)
                    d->hitbuf[k++] = hits[i];
            }
            hits = d->hitbuf;
            nhits = k;
        }
        d->stats.rule_hits += nhits;
        /* hits are borrowed from the scratch; emitting does not match, so they stay valid */
        for (size_t i = 0; i < nhits && rc == 0; i++) {
            const struct sigma_rule *r = bn_ruleset_rule(d->rules->rs, hits[i]);
            if (r && r->kind == SIGMA_KIND_DETECTION &&
                bn_ruleset_rule_alerts(d->rules->rs, hits[i]))
                rc = rule_alert(d, hits[i], se, rec, NULL, nfields);
        }
        if (rc == 0) {
            char tenant[24];
            snprintf(tenant, sizeof(tenant), "%" PRId64, d->cur_tenant);
            d->cur = se;
            d->cur_rec = rec;
            bn_correlator_feed(d->corr, tenant, &d->ev, hits, nhits);
            d->cur = NULL;
            d->cur_rec = NULL;
            if (d->emit_rc)
                rc = d->emit_rc;
        }
    }
    if (rc == 0 && iocs)
        rc = ioc_scan(d, iocs, se, rec, NULL, nfields);
    if (rc == 0 && global && global != iocs)
        rc = ioc_scan(d, global, se, rec, NULL, nfields);
    return rc;
}

int
detect_batch(struct detect *d, int64_t tenant_id, const struct store_event *ev, size_t n,
             int64_t now_ns)
{
    if (n == 0)
        return 0;
    d->cur_tenant = tenant_id;
    d->now_ns = now_ns;
    d->emit_rc = 0;
    bn_buf_reset(&d->batch);
    for (size_t i = 0; i < n; i++) {
        size_t at = d->batch.len;
        int rc = bn_buf_append(&d->batch, ev[i].json ? ev[i].json : "", ev[i].json_len);
        if (rc == 0)
            rc = bn_buf_putc(&d->batch, '\n');
        if (rc) {
            /* a batch over the buffer limit: run what fits, then the rest */
            d->batch.len = at;
            if (i == 0)
                return rc;
            int r1 = detect_batch(d, tenant_id, ev, i, now_ns);
            return r1 ? r1 : detect_batch(d, tenant_id, ev + i, n - i, now_ns);
        }
        char *p = d->batch.p + at;
        for (char *nl = memchr(p, '\n', ev[i].json_len); nl;
             nl = memchr(nl + 1, '\n', ev[i].json_len - (size_t)(nl + 1 - p)))
            *nl = ' ';
    }
    struct bn_reader *r = NULL;
    struct bn_diag dg;
    int rc = bn_reader_open_mem(&r, d->batch.p, d->batch.len, "batch", BN_FMT_NDJSON, &dg);
    if (rc)
        return rc;
    const struct bn_ioc_set *iocs = iocs_of(d, tenant_id);
    const struct bn_ioc_set *global = iocs_of(d, 0);
    uint64_t seen = 0;
    rc = 0;
    for (;;) {
        struct bn_record *rec;
        int nr = bn_reader_next(r, &rec, &dg);
        if (nr == BN_EOF)
            break;
        if (nr != 0) {
            if (bn_reader_done(r))
                break;
            continue;
        }
        seen++;
        if (rec->line == 0 || rec->line > n) {
            d->stats.match_errors++;
            continue;
        }
        const struct store_event *se = &ev[rec->line - 1];
        rc = one_event(d, se, rec, iocs, global);
        if (rc)
            break;
    }
    if (rc == 0 && seen < n)
        d->stats.unreadable += n - seen;
    d->fields_rec = NULL; /* it lived in the reader */
    bn_reader_free(r);
    mgr_metric_add(d->metrics, MGR_M_DETECT_EVENTS, n);
    return rc;
}

void
detect_tick(struct detect *d, int64_t now_ns)
{
    d->now_ns = now_ns;
    d->cur = NULL;
    d->fields_rec = NULL;
    bn_correlator_expire(d->corr, now_ns);
}
