/*
 * reader_syslog.c - syslog text files: RFC 3164 ("<PRI>Mmm dd hh:mm:ss host prog[pid]: msg",
 * also without <PRI> as /var/log/auth.log and /var/log/messages are written, and with the
 * ISO 8601 timestamp rsyslog writes) and RFC 5424 ("<PRI>1 TS HOST APP PROCID MSGID [SD] MSG").
 *
 * Keys of a record (the mapping layer maps these to Sigma fields):
 *   facility   PRI / 8 as a number, when a PRI is present
 *   severity   PRI % 8 as a number, when a PRI is present
 *   version    the RFC 5424 version ("1")
 *   timestamp  the timestamp text as written (rec->ts_ns holds the parsed time)
 *   host       the host name
 *   program    the tag / APP-NAME ("sshd", "sshd(pam_unix)", "syslogd 1.4.1")
 *   pid        the "[pid]" of the tag / PROCID
 *   msgid      the RFC 5424 MSGID
 *   sd.<id>.<param>  RFC 5424 structured data parameters
 *   message    the free text, leading and trailing blanks removed
 * RFC 5424 nil values ("-") produce no key.
 *
 * Year-less RFC 3164 timestamps take the year of the file's modification time (the current
 * year for memory input); a line whose month lies after the mtime month belongs to the
 * year before, and a jump back of six months or more (Dec -> Jan) starts a new year.
 * Forward jumps never go back a year: a log may span most of a year.
 */
#include <stdio.h>
#include <string.h>

#include "input/reader_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/limits.h"
#include "bannin/pool.h"

#define TAG_MAX 64 /* longest tag (program[pid]) before a line is taken as untagged */

struct sstate {
    uint64_t line;
    int ref_year;   /* year of the file's mtime */
    int ref_month;
    int year;       /* year assumed for the current year-less line; 0 = not set */
    int prev_month;
};

static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static int
month_of(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (p[0] == months[i * 3] && p[1] == months[i * 3 + 1] && p[2] == months[i * 3 + 2])
            return i + 1;
    return 0;
}

static void
civil_from_days(int64_t z, int *y, int *m)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)((int64_t)yoe + era * 400 + (mm <= 2));
    *m = (int)mm;
}

static bool
d2(const char *p, int *v)
{
    if ((p[0] < '0' || p[0] > '9') || (p[1] < '0' || p[1] > '9'))
        return false;
    *v = (p[0] - '0') * 10 + (p[1] - '0');
    return true;
}

/* "Mmm dd hh:mm:ss" (day may be space-padded). Returns its length or 0. */
static size_t
bsd_ts(const char *p, const char *end, int *mon, int *day, int *h, int *mi, int *s)
{
    if (end - p < 15 || p[3] != ' ' || p[6] != ' ' || p[9] != ':' || p[12] != ':')
        return 0;
    *mon = month_of(p);
    if (!*mon)
        return 0;
    char dd[2] = {p[4] == ' ' ? '0' : p[4], p[5]};
    if (!d2(dd, day) || !d2(p + 7, h) || !d2(p + 10, mi) || !d2(p + 13, s))
        return 0;
    if (*day < 1 || *day > 31 || *h > 23 || *mi > 59 || *s > 60)
        return 0;
    return 15;
}

/* An ISO 8601 timestamp token: "YYYY-MM-DDTHH:MM:SS..." up to the next space. */
static size_t
iso_ts(const char *p, const char *end, int64_t *ns)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    size_t n = sp ? (size_t)(sp - p) : (size_t)(end - p);
    if (n < 19 || p[10] != 'T')
        return 0;
    if (bn_time_parse(p, n, ns))
        return 0;
    return n;
}

static int
add(struct bn_record *rec, const char *k, const char *v, size_t n)
{
    return bn_record_add(rec, k, strlen(k), v, n, BN_VT_STR);
}

static int
add_num(struct bn_record *rec, const char *k, unsigned v)
{
    char tmp[16];
    int n = snprintf(tmp, sizeof(tmp), "%u", v);
    char *c = bn_pool_strndup(rec->pool, tmp, (size_t)n);
    if (!c)
        return BN_ENOMEM;
    return bn_record_add(rec, k, strlen(k), c, (size_t)n, BN_VT_NUM);
}

static const char *
skip_sp(const char *p, const char *end)
{
    while (p < end && *p == ' ')
        p++;
    return p;
}

static const char *
token_end(const char *p, const char *end)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    return sp ? sp : end;
}

/* Adds program, pid and message from "prog[pid]: msg" (or an untagged message). */
static int
tag_and_message(struct bn_record *rec, const char *p, const char *end)
{
    int rc = 0;
    const char *lim = p + BN_MIN((size_t)(end - p), (size_t)TAG_MAX + 1);
    const char *colon = NULL;
    for (const char *q = p; q < lim; q++) {
        if (*q == ':' && (q + 1 == end || q[1] == ' ')) {
            colon = q;
            break;
        }
    }
    if (colon && colon > p) {
        const char *te = colon;
        if (te[-1] == ']') {
            const char *lb = te - 1;
            while (lb > p && lb[-1] >= '0' && lb[-1] <= '9')
                lb--;
            if (lb > p && lb[-1] == '[' && lb < te - 1) {
                rc = add(rec, "pid", lb, (size_t)(te - 1 - lb));
                te = lb - 1;
            }
        }
        if (!rc && te > p)
            rc = add(rec, "program", p, (size_t)(te - p));
        p = colon + 1;
        while (p < end && *p == ' ')
            p++;
    }
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (!rc)
        rc = add(rec, "message", p, (size_t)(end - p));
    return rc;
}

/* RFC 5424 structured data: "[id k="v" ...][id2 ...]" or "-". Sets *out past it. */
static int
structured_data(struct bn_record *rec, const char *p, const char *end, const char **out)
{
    if (p < end && *p == '-') {
        *out = p + 1;
        return 0;
    }
    while (p < end && *p == '[') {
        const char *id = ++p;
        while (p < end && *p != ' ' && *p != ']')
            p++;
        size_t idlen = (size_t)(p - id);
        if (p >= end || idlen == 0)
            return BN_EPARSE;
        for (;;) {
            p = skip_sp(p, end);
            if (p >= end)
                return BN_EPARSE;
            if (*p == ']') {
                p++;
                break;
            }
            const char *name = p;
            while (p < end && *p != '=' && *p != ' ' && *p != ']')
                p++;
            if (p + 1 >= end || *p != '=' || p[1] != '"' || p == name)
                return BN_EPARSE;
            size_t nlen = (size_t)(p - name);
            p += 2;
            const char *v = p;
            char *val = bn_pool_alloc(rec->pool, (size_t)(end - p) + 1);
            if (!val)
                return BN_ENOMEM;
            size_t vn = 0;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end && (p[1] == '"' || p[1] == '\\' || p[1] == ']'))
                    p++;
                val[vn++] = *p++;
            }
            if (p >= end)
                return BN_EPARSE;
            p++;
            (void)v;
            size_t klen = 3 + idlen + 1 + nlen;
            if (klen > BN_KEY_MAX)
                return BN_ETOOBIG;
            char *key = bn_pool_alloc(rec->pool, klen + 1);
            if (!key)
                return BN_ENOMEM;
            memcpy(key, "sd.", 3);
            memcpy(key + 3, id, idlen);
            key[3 + idlen] = '.';
            memcpy(key + 4 + idlen, name, nlen);
            key[klen] = '\0';
            val[vn] = '\0';
            int rc = bn_record_add(rec, key, klen, val, vn, BN_VT_STR);
            if (rc)
                return rc;
        }
    }
    *out = p;
    return 0;
}

static int
parse_5424(struct bn_record *rec, const char *p, const char *end)
{
    int rc;
    /* TIMESTAMP HOSTNAME APP-NAME PROCID MSGID */
    static const char *const names[] = {"timestamp", "host", "program", "pid", "msgid"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(names); i++) {
        if (p >= end)
            return BN_EPARSE;
        const char *te = token_end(p, end);
        if (te == p)
            return BN_EPARSE;
        if (!(te - p == 1 && *p == '-')) {
            if (i == 0) {
                int64_t ns;
                if (bn_time_parse(p, (size_t)(te - p), &ns))
                    return BN_EPARSE;
                rec->ts_ns = ns;
            }
            if ((rc = add(rec, names[i], p, (size_t)(te - p))))
                return rc;
        }
        p = te < end ? te + 1 : te;
    }
    if (p < end) {
        if ((rc = structured_data(rec, p, end, &p)))
            return rc;
    }
    if (p < end && *p == ' ')
        p++;
    if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    if (p < end)
        return add(rec, "message", p, (size_t)(end - p));
    return 0;
}

static int
parse_line(struct sstate *st, struct bn_record *rec, const char *p, const char *end,
           const char **why)
{
    int rc = 0;
    *why = "not a syslog line (no timestamp)";
    if (p < end && *p == '<') {
        unsigned pri = 0;
        const char *q = p + 1;
        while (q < end && *q >= '0' && *q <= '9' && q - p <= 3)
            pri = pri * 10 + (unsigned)(*q++ - '0');
        if (q < end && *q == '>' && q > p + 1 && pri <= 191) {
            if ((rc = add_num(rec, "facility", pri / 8)) || (rc = add_num(rec, "severity", pri % 8)))
                return rc;
            p = q + 1;
            if (end - p >= 2 && p[0] >= '1' && p[0] <= '9' && p[1] == ' ') {
                if ((rc = add(rec, "version", p, 1)))
                    return rc;
                *why = "malformed RFC 5424 header";
                return parse_5424(rec, p + 2, end);
            }
        }
    }
    int mon, day, h, mi, s;
    int64_t ns;
    size_t n = bsd_ts(p, end, &mon, &day, &h, &mi, &s);
    if (n) {
        if (!st->year) {
            st->year = mon > st->ref_month ? st->ref_year - 1 : st->ref_year;
        } else if (st->prev_month - mon >= 6) {
            st->year++;
        }
        st->prev_month = mon;
        int64_t secs = bn_days_from_civil(st->year, (unsigned)mon, (unsigned)day) * 86400 +
                       h * 3600 + mi * 60 + s;
        if (secs < INT64_MAX / 1000000000 - 1 && secs > INT64_MIN / 1000000000 + 1)
            rec->ts_ns = secs * 1000000000;
        /* Some daemons add fractions: "Mmm dd hh:mm:ss.mmm". */
        if (p + n < end && p[n] == '.') {
            int64_t frac = 0, scale = 100000000;
            size_t k = n + 1;
            while (p + k < end && p[k] >= '0' && p[k] <= '9') {
                frac += (p[k] - '0') * scale;
                scale /= 10;
                k++;
            }
            if (rec->ts_ns != INT64_MIN)
                rec->ts_ns += frac;
            n = k;
        }
    } else {
        n = iso_ts(p, end, &ns);
        if (!n)
            return BN_EPARSE;
        rec->ts_ns = ns;
    }
    if ((rc = add(rec, "timestamp", p, n)))
        return rc;
    p = skip_sp(p + n, end);
    const char *he = token_end(p, end);
    if (he > p && (rc = add(rec, "host", p, (size_t)(he - p))))
        return rc;
    p = skip_sp(he, end);
    return tag_and_message(rec, p, end);
}

static int
syslog_open(struct bn_reader *r, struct bn_diag *d)
{
    struct sstate *st = bn_calloc(1, sizeof(*st));
    if (!st)
        return bn_diag_set(d, BN_ENOMEM, r->path, 0, 0, "out of memory");
    int64_t mt = bn__source_mtime(r->src);
    civil_from_days(mt >= 0 ? mt / 86400 : (mt - 86399) / 86400, &st->ref_year, &st->ref_month);
    r->state = st;
    return 0;
}

static void
syslog_close(struct bn_reader *r)
{
    bn_free(r->state);
    r->state = NULL;
}

static int
syslog_next(struct bn_reader *r, struct bn_record *rec, struct bn_diag *d)
{
    struct sstate *st = r->state;
    for (;;) {
        uint64_t off = bn__source_offset(r->src);
        struct bn_str line;
        int rc = bn__source_line(r->src, BN_LINE_MAX, &line);
        if (rc == BN_EOF)
            return BN_EOF;
        st->line++;
        if (rc == BN_ETOOBIG && !bn__source_failed(r->src))
            return bn_diag_set(d, rc, r->path, st->line, 0,
                               "line longer than %u bytes (BN_LINE_MAX) skipped",
                               (unsigned)BN_LINE_MAX);
        if (rc) {
            r->done = true;
            const char *m = bn__source_error(r->src);
            return bn_diag_set(d, rc, r->path, st->line, 0, "%s", *m ? m : bn_strerror(rc));
        }
        const char *p = line.p, *end = line.p + line.len;
        while (end > p && (end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (p == end)
            continue;
        const char *why;
        rc = parse_line(st, rec, p, end, &why);
        if (rc) {
            if (rc == BN_ETOOBIG)
                why = "too many fields or a key over BN_KEY_MAX";
            else if (rc == BN_ENOMEM)
                why = "out of memory";
            return bn_diag_set(d, rc, r->path, st->line, 1, "%s", why);
        }
        rec->raw = line.p;
        rec->raw_len = (size_t)(end - line.p);
        rec->line = st->line;
        rec->offset = off;
        return 0;
    }
}

/* Scores the first lines: all syslog-shaped -> 60. */
static int
syslog_probe(const unsigned char *h, size_t n)
{
    const char *p = (const char *)h, *end = p + n;
    int seen = 0, good = 0;
    while (p < end && seen < 8) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (!nl && seen > 0)
            break; /* a cut-off last line says nothing */
        if (le > p) {
            seen++;
            const char *q = p;
            if (*q == '<') {
                const char *gt = memchr(q, '>', (size_t)BN_MIN(le - q, 5));
                if (gt)
                    q = gt + 1;
                if (le - q >= 2 && q[0] >= '1' && q[0] <= '9' && q[1] == ' ')
                    q += 2;
            }
            int mo, dd, hh, mi, ss;
            int64_t ns;
            if (bsd_ts(q, le, &mo, &dd, &hh, &mi, &ss) || iso_ts(q, le, &ns))
                good++;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (seen == 0)
        return 0;
    if (good == seen)
        return 60;
    return good * 2 > seen ? 30 : 0;
}

const struct bn_reader_ops bn__reader_syslog = {
    .name = "syslog",
    .format = BN_FMT_SYSLOG,
    .probe = syslog_probe,
    .open = syslog_open,
    .next = syslog_next,
    .close = syslog_close,
};
