/*
 * reader_auditd.c - raw Linux audit logs (/var/log/audit/audit.log):
 *
 *   type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 ... key="x"
 *
 * The kernel writes one event as several records that share the serial after the ':'
 * (SYSCALL, EXECVE, CWD, PATH..., PROCTITLE, EOE). They are joined into one bn_record:
 * "type" repeats once per record type, "serial" once, and every field is keyed
 * "<TYPE>.<field>" ("SYSCALL.syscall", "EXECVE.a0", "PATH.name" repeated per PATH record).
 * The fields inside msg='...' of user-space records are flattened the same way; enriched
 * logs (log_format=ENRICHED, translated fields after a \x1d byte such as UID="root") keep
 * their upper-case names ("SYSCALL.UID"). Hex-encoded values (proctitle, comm, exe, name,
 * EXECVE arguments, ...) are decoded and quoted values unquoted.
 *
 * Records may arrive out of order. An event is complete on its EOE record, when
 * GRACE_RECORDS records of other events have arrived since its last record, at the end
 * of the file, or when more than BN_AUDIT_PENDING_MAX events are open (the oldest goes).
 */
#include <stdio.h>
#include <string.h>

#include "input/reader_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/pool.h"

#define GRACE_RECORDS 64 /* records of other events before an open event is complete */

struct aevent {
    uint64_t serial;
    int64_t ts_ns;
    char *text;         /* owned: the records, each ending in '\n' */
    size_t len;
    size_t cap;
    uint32_t nrec;
    uint64_t line;      /* line of the first record */
    uint64_t offset;
    uint64_t last_seen; /* record count when the last record joined */
    bool complete;
};

struct astate {
    struct aevent *ev;  /* open events in arrival order */
    size_t n;
    size_t cap;
    struct aevent out;  /* the event handed out last; the record points into it */
    uint64_t line;
    uint64_t nrec;
    bool eof;
};

/* Header of one record: "[node=N ]type=T msg=audit(S.MS:SERIAL):". */
struct ahdr {
    struct bn_str node;
    struct bn_str type;
    int64_t ts_ns;
    uint64_t serial;
    const char *body;   /* after "):" */
};

static bool
parse_hdr(const char *p, const char *end, struct ahdr *h)
{
    memset(h, 0, sizeof(*h));
    if (end - p > 5 && memcmp(p, "node=", 5) == 0) {
        const char *sp = memchr(p, ' ', (size_t)(end - p));
        if (!sp)
            return false;
        h->node.p = p + 5;
        h->node.len = (size_t)(sp - p - 5);
        p = sp + 1;
    }
    if (end - p < 5 || memcmp(p, "type=", 5) != 0)
        return false;
    p += 5;
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    if (!sp || sp == p)
        return false;
    h->type.p = p;
    h->type.len = (size_t)(sp - p);
    p = sp + 1;
    if (end - p < 10 || memcmp(p, "msg=audit(", 10) != 0)
        return false;
    p += 10;
    const char *ts = p;
    while (p < end && *p != ':' && *p != ')')
        p++;
    if (p >= end || *p != ':')
        return false;
    if (bn_time_parse_epoch(ts, (size_t)(p - ts), 1, &h->ts_ns))
        return false;
    p++;
    uint64_t serial = 0;
    const char *s0 = p;
    while (p < end && *p >= '0' && *p <= '9' && p - s0 < 20)
        serial = serial * 10 + (uint64_t)(*p++ - '0');
    if (p == s0 || end - p < 2 || p[0] != ')' || p[1] != ':')
        return false;
    h->serial = serial;
    h->body = p + 2;
    return true;
}

/* --- fields --- */

static const char *const hex_fields[] = {
    "proctitle", "comm", "exe", "name", "cwd", "path", "dir", "acct", "cmd", "ocomm",
    "file", "key", "data", "grp", "new_group", "old_group", "watch",
};

static bool
is_hex_field(struct bn_str type, const char *n, size_t len)
{
    if (type.len == 6 && memcmp(type.p, "EXECVE", 6) == 0 && len >= 2 && n[0] == 'a' &&
        n[1] >= '0' && n[1] <= '9')
        return true; /* a0, a1, a2[0] ... */
    for (size_t i = 0; i < BN_ARRAY_SIZE(hex_fields); i++)
        if (strlen(hex_fields[i]) == len && memcmp(hex_fields[i], n, len) == 0)
            return true;
    return false;
}

static int
hexd(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool
looks_hex(const char *v, size_t n)
{
    if (n < 2 || n % 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (hexd(v[i]) < 0)
            return false;
    return true;
}

static int
add_field(struct bn_record *rec, struct bn_str type, const char *n, size_t nlen, const char *v,
          size_t vlen)
{
    size_t klen = type.len + 1 + nlen;
    if (klen > BN_KEY_MAX)
        return BN_ETOOBIG;
    char *k = bn_pool_alloc(rec->pool, klen + 1);
    if (!k)
        return BN_ENOMEM;
    memcpy(k, type.p, type.len);
    k[type.len] = '.';
    memcpy(k + type.len + 1, n, nlen);
    k[klen] = '\0';
    return bn_record_add(rec, k, klen, v, vlen, BN_VT_STR);
}

/* Adds one name=value, decoding hex where the kernel encodes. */
static int
add_value(struct bn_record *rec, struct bn_str type, const char *n, size_t nlen, const char *v,
          size_t vlen, bool quoted)
{
    if (!quoted && is_hex_field(type, n, nlen) && looks_hex(v, vlen)) {
        size_t dn = vlen / 2;
        char *o = bn_pool_alloc(rec->pool, dn + 1);
        if (!o)
            return BN_ENOMEM;
        for (size_t i = 0; i < dn; i++)
            o[i] = (char)(hexd(v[2 * i]) << 4 | hexd(v[2 * i + 1]));
        o[dn] = '\0';
        if (nlen == 9 && memcmp(n, "proctitle", 9) == 0) {
            /* Arguments are NUL-separated; auparse shows them space-separated. */
            while (dn > 0 && o[dn - 1] == '\0')
                dn--;
            for (size_t i = 0; i < dn; i++)
                if (o[i] == '\0')
                    o[i] = ' ';
        } else if (nlen == 3 && memcmp(n, "key", 3) == 0) {
            /* Several rule keys are joined by \x01: one value each. */
            const char *s = o, *e = o + dn;
            for (;;) {
                const char *sep = memchr(s, '\x01', (size_t)(e - s));
                const char *ke = sep ? sep : e;
                int rc = add_field(rec, type, n, nlen, s, (size_t)(ke - s));
                if (rc || !sep)
                    return rc;
                s = sep + 1;
            }
        }
        return add_field(rec, type, n, nlen, o, dn);
    }
    char *c = bn_pool_strndup(rec->pool, v, vlen);
    if (!c)
        return BN_ENOMEM;
    return add_field(rec, type, n, nlen, c, vlen);
}

static inline bool
is_sep(char c)
{
    return c == ' ' || c == '\x1d' || c == '\t' || c == '\r';
}

static int parse_fields(struct bn_record *rec, struct bn_str type, const char *p,
                        const char *end, int depth);

/* "avc:  denied  { read write } for  pid=..." -> seresult, seperms; returns the rest. */
static int
parse_avc(struct bn_record *rec, struct bn_str type, const char **pp, const char *end)
{
    const char *p = *pp + 4;
    while (p < end && is_sep(*p))
        p++;
    const char *r0 = p;
    while (p < end && !is_sep(*p))
        p++;
    int rc = 0;
    if (p > r0)
        rc = add_value(rec, type, "seresult", 8, r0, (size_t)(p - r0), true);
    while (!rc && p < end && is_sep(*p))
        p++;
    if (!rc && p < end && *p == '{') {
        const char *cb = memchr(p, '}', (size_t)(end - p));
        if (cb) {
            char *o = bn_pool_alloc(rec->pool, (size_t)(cb - p) + 1);
            if (!o)
                return BN_ENOMEM;
            size_t n = 0;
            for (const char *q = p + 1; q < cb;) {
                while (q < cb && *q == ' ')
                    q++;
                const char *w = q;
                while (q < cb && *q != ' ')
                    q++;
                if (q > w) {
                    if (n)
                        o[n++] = ',';
                    memcpy(o + n, w, (size_t)(q - w));
                    n += (size_t)(q - w);
                }
            }
            o[n] = '\0';
            rc = add_field(rec, type, "seperms", 7, o, n);
            p = cb + 1;
        }
    }
    *pp = p;
    return rc;
}

static int
parse_fields(struct bn_record *rec, struct bn_str type, const char *p, const char *end,
             int depth)
{
    int rc = 0;
    while (p < end && is_sep(*p))
        p++;
    if (end - p >= 4 && memcmp(p, "avc:", 4) == 0 && (rc = parse_avc(rec, type, &p, end)))
        return rc;
    while (p < end) {
        while (p < end && is_sep(*p))
            p++;
        if (p >= end)
            break;
        if (depth > 0 && *p == '(')
            p++; /* old user messages: "(hostname=?, addr=?, terminal=cron res=success)" */
        const char *n = p;
        while (p < end && *p != '=' && !is_sep(*p))
            p++;
        if (p >= end || *p != '=') {
            continue; /* a bare word ("user", "for", ":") */
        }
        size_t nlen = (size_t)(p - n);
        p++;
        if (nlen == 0)
            continue;
        if (p < end && (*p == '"' || *p == '\'')) {
            char q = *p++;
            const char *v = p;
            const char *ce = memchr(p, q, (size_t)(end - p));
            const char *ve = ce ? ce : end;
            p = ce ? ce + 1 : end;
            if (q == '\'' && depth == 0 && memchr(v, '=', (size_t)(ve - v))) {
                /* msg='op=... exe="..." res=success': the inner fields are the fields. */
                rc = parse_fields(rec, type, v, ve, depth + 1);
            } else {
                rc = add_value(rec, type, n, nlen, v, (size_t)(ve - v), true);
            }
        } else {
            const char *v = p;
            while (p < end && !is_sep(*p))
                p++;
            const char *ve = p;
            if (depth > 0 && ve > v && ve[-1] == ',')
                ve--;
            if (depth > 0 && ve > v && ve[-1] == ')' && !memchr(v, '(', (size_t)(ve - v)))
                ve--;
            rc = add_value(rec, type, n, nlen, v, (size_t)(ve - v), false);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Turns the joined records of e into rec. */
static int
build(struct bn_record *rec, struct aevent *e)
{
    const char *p = e->text, *end = e->text + e->len;
    char sbuf[24];
    int sn = snprintf(sbuf, sizeof(sbuf), "%llu", (unsigned long long)e->serial);
    char *s = bn_pool_strndup(rec->pool, sbuf, (size_t)sn);
    if (!s)
        return BN_ENOMEM;
    int rc = bn_record_add(rec, "serial", 6, s, (size_t)sn, BN_VT_NUM);
    bool node_done = false;
    while (!rc && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct ahdr h;
        if (parse_hdr(p, le, &h)) {
            if (h.node.len && !node_done) {
                rc = bn_record_add(rec, "node", 4, h.node.p, h.node.len, BN_VT_STR);
                node_done = true;
            }
            bool seen = false;
            for (uint32_t i = 0; i < rec->n && !seen; i++)
                seen = rec->kv[i].key_len == 4 && memcmp(rec->kv[i].key, "type", 4) == 0 &&
                       rec->kv[i].val_len == h.type.len &&
                       memcmp(rec->kv[i].val, h.type.p, h.type.len) == 0;
            if (!rc && !seen)
                rc = bn_record_add(rec, "type", 4, h.type.p, h.type.len, BN_VT_STR);
            if (!rc)
                rc = parse_fields(rec, h.type, h.body, le, 0);
        }
        p = le + 1;
    }
    rec->ts_ns = e->ts_ns;
    rec->raw = e->text;
    rec->raw_len = e->len ? e->len - 1 : 0;
    rec->line = e->line;
    rec->offset = e->offset;
    return rc;
}

static void
event_release(struct aevent *e)
{
    bn_free(e->text);
    memset(e, 0, sizeof(*e));
}

/* Hands out pending event i. */
static int
emit(struct bn_reader *r, struct astate *st, size_t i, struct bn_record *rec,
     struct bn_diag *d)
{
    event_release(&st->out);
    st->out = st->ev[i];
    memmove(&st->ev[i], &st->ev[i + 1], (st->n - i - 1) * sizeof(st->ev[0]));
    st->n--;
    int rc = build(rec, &st->out);
    if (rc)
        return bn_diag_set(d, rc, r->path, st->out.line, 0,
                           rc == BN_ENOMEM ? "out of memory"
                                           : "auditd event with more fields than "
                                             "BN_RECORD_FIELDS_MAX skipped");
    return 0;
}

static int
append(struct aevent *e, const char *p, size_t n)
{
    if (e->len + n + 1 > e->cap) {
        size_t cap = BN_MAX(e->cap * 2, e->len + n + 1);
        cap = BN_MAX(cap, (size_t)512);
        char *t = bn_realloc(e->text, cap);
        if (!t)
            return BN_ENOMEM;
        e->text = t;
        e->cap = cap;
    }
    memcpy(e->text + e->len, p, n);
    e->text[e->len + n] = '\n';
    e->len += n + 1;
    return 0;
}

/* Files one record into its open event. */
static int
file_record(struct bn_reader *r, struct astate *st, const struct ahdr *h, const char *p,
            size_t n, uint64_t off, struct bn_diag *d)
{
    struct aevent *e = NULL;
    for (size_t i = st->n; i-- > 0;) {
        if (st->ev[i].serial == h->serial && st->ev[i].ts_ns == h->ts_ns &&
            !st->ev[i].complete) {
            e = &st->ev[i];
            break;
        }
    }
    if (!e) {
        if (st->n == st->cap) {
            size_t cap = st->cap ? st->cap * 2 : 16;
            struct aevent *ev = bn_reallocarray(st->ev, cap, sizeof(*ev));
            if (!ev)
                return bn_diag_set(d, BN_ENOMEM, r->path, st->line, 0, "out of memory");
            st->ev = ev;
            st->cap = cap;
        }
        e = &st->ev[st->n++];
        memset(e, 0, sizeof(*e));
        e->serial = h->serial;
        e->ts_ns = h->ts_ns;
        e->line = st->line;
        e->offset = off;
    }
    if (e->nrec >= BN_AUDIT_RECORDS_PER_EVENT_MAX)
        return bn_diag_set(d, BN_ETOOBIG, r->path, st->line, 0,
                           "auditd event %llu has more than %u records "
                           "(BN_AUDIT_RECORDS_PER_EVENT_MAX); record skipped",
                           (unsigned long long)h->serial, BN_AUDIT_RECORDS_PER_EVENT_MAX);
    if (append(e, p, n)) {
        if (e->nrec == 0)
            st->n--;
        return bn_diag_set(d, BN_ENOMEM, r->path, st->line, 0, "out of memory");
    }
    e->nrec++;
    e->last_seen = ++st->nrec;
    if (h->type.len == 3 && memcmp(h->type.p, "EOE", 3) == 0)
        e->complete = true;
    /* Events that saw no record for a while are complete; so is the oldest when over. */
    for (size_t i = 0; i < st->n; i++)
        if (st->nrec - st->ev[i].last_seen > GRACE_RECORDS)
            st->ev[i].complete = true;
    if (st->n > BN_AUDIT_PENDING_MAX)
        st->ev[0].complete = true;
    return 0;
}

static int
auditd_next(struct bn_reader *r, struct bn_record *rec, struct bn_diag *d)
{
    struct astate *st = r->state;
    for (;;) {
        for (size_t i = 0; i < st->n; i++)
            if (st->ev[i].complete)
                return emit(r, st, i, rec, d);
        if (st->eof) {
            if (st->n)
                return emit(r, st, 0, rec, d);
            return BN_EOF;
        }
        uint64_t off = bn__source_offset(r->src);
        struct bn_str line;
        int rc = bn__source_line(r->src, BN_LINE_MAX, &line);
        if (rc == BN_EOF) {
            st->eof = true;
            continue;
        }
        st->line++;
        if (rc == BN_ETOOBIG && !bn__source_failed(r->src))
            return bn_diag_set(d, rc, r->path, st->line, 0,
                               "line longer than %u bytes (BN_LINE_MAX) skipped",
                               (unsigned)BN_LINE_MAX);
        if (rc) {
            /* The stream broke: hand out what is open, then stop. */
            st->eof = true;
            const char *m = bn__source_error(r->src);
            bn_diag_set(d, rc, r->path, st->line, 0, "%s", *m ? m : bn_strerror(rc));
            if (!st->n)
                r->done = true;
            return rc;
        }
        const char *p = line.p, *end = line.p + line.len;
        while (end > p && (end[-1] == '\r' || end[-1] == ' '))
            end--;
        if (p == end)
            continue;
        struct ahdr h;
        if (!parse_hdr(p, end, &h))
            return bn_diag_set(d, BN_EPARSE, r->path, st->line, 1,
                               "not an auditd record (expected 'type=T msg=audit(S.MS:N):')");
        rc = file_record(r, st, &h, p, (size_t)(end - p), off, d);
        if (rc)
            return rc;
    }
}

static int
auditd_open(struct bn_reader *r, struct bn_diag *d)
{
    struct astate *st = bn_calloc(1, sizeof(*st));
    if (!st)
        return bn_diag_set(d, BN_ENOMEM, r->path, 0, 0, "out of memory");
    r->state = st;
    return 0;
}

static void
auditd_close(struct bn_reader *r)
{
    struct astate *st = r->state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        event_release(&st->ev[i]);
    event_release(&st->out);
    bn_free(st->ev);
    bn_free(st);
    r->state = NULL;
}

static int
auditd_probe(const unsigned char *h, size_t n)
{
    const char *p = (const char *)h, *end = p + n;
    while (p < end && (*p == '\n' || *p == '\r' || *p == ' '))
        p++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    struct ahdr hd;
    if (parse_hdr(p, le, &hd))
        return 95;
    if ((le - p > 5 && memcmp(p, "type=", 5) == 0) && memmem(p, (size_t)(le - p), "audit(", 6))
        return 60;
    return 0;
}

const struct bn_reader_ops bn__reader_auditd = {
    .name = "auditd",
    .format = BN_FMT_AUDITD,
    .probe = auditd_probe,
    .open = auditd_open,
    .next = auditd_next,
    .close = auditd_close,
};
