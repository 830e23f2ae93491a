/*
 * event_json.c - agent events as Sysmon-for-Linux NDJSON lines (see event_json.h).
 *
 * Field names and value forms follow the samples under rules/linux: numbers for ids and
 * ports, "true"/"false" strings for Initiated, "SHA256=<upper hex>" for Hashes, user names
 * rather than uids. Our own additions live under "bannin.".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/event_json.h"
#include "bannin/error.h"
#include "bannin/hex.h"
#include "bannin/limits.h"
#include "bannin/pool.h"
#include "bannin/record.h"
#include "bannin/timeutil.h"

#define CHANNEL "Linux-Sysmon/Operational"

/* ---- host identity ----------------------------------------------------------------- */

static char host_name[256];
static uint32_t boot_word; /* first 32 bits of the boot id */
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static uint32_t
parse_boot_word(const char *s)
{
    uint32_t v = 0;
    for (int i = 0; i < 8 && s[i]; i++) {
        char c = s[i];
        uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
                     : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
                                            : 0;
        v = v << 4 | d;
    }
    return v;
}

static void
host_init(void)
{
    char id[64] = "";
    if (!host_name[0] && gethostname(host_name, sizeof(host_name) - 1) != 0)
        snprintf(host_name, sizeof(host_name), "localhost");
    if (!boot_word) {
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
        if (f) {
            if (!fgets(id, sizeof(id), f))
                id[0] = '\0';
            fclose(f);
        }
        boot_word = parse_boot_word(id);
    }
}

void
agent_json_set_host(const char *computer, const char *boot_id)
{
    pthread_once(&host_once, host_init);
    if (computer)
        snprintf(host_name, sizeof(host_name), "%s", computer);
    if (boot_id)
        boot_word = parse_boot_word(boot_id);
}

/* Writes v as n (even) lower-case hex digits at p, two a step. */
static char *
put_hex(char *p, uint32_t v, int n)
{
    for (int i = n - 2; i >= 0; i -= 2) {
        memcpy(p + i, bn_hex_pairs + 2 * (v & 0xff), 2);
        v >>= 8;
    }
    return p + n;
}

const char *
agent_process_guid(pid_t pid, uint64_t start_ns, char *buf, size_t size)
{
    pthread_once(&host_once, host_init);
    /* {boot-start(48 bits of ns, 3 groups)-start low 16 + pid} : unique per boot and process,
     * "{%08x-%04x-%04x-%04x-%04x%08x}" written by hand (this runs twice per event) */
    char g[40], *p = g;
    *p++ = '{';
    p = put_hex(p, boot_word, 8);
    *p++ = '-';
    p = put_hex(p, (uint32_t)(start_ns >> 48) & 0xffff, 4);
    *p++ = '-';
    p = put_hex(p, (uint32_t)(start_ns >> 32) & 0xffff, 4);
    *p++ = '-';
    p = put_hex(p, (uint32_t)(start_ns >> 16) & 0xffff, 4);
    *p++ = '-';
    p = put_hex(p, (uint32_t)start_ns & 0xffff, 4);
    p = put_hex(p, (uint32_t)pid, 8);
    *p++ = '}';
    *p = '\0';
    if (size) {
        size_t n = BN_MIN((size_t)(p - g), size - 1);
        memcpy(buf, g, n);
        buf[n] = '\0';
    }
    return buf;
}

const char *
agent_tier_name(enum agent_tier t)
{
    switch (t) {
    case AGENT_TIER_BPF:
        return "bpf";
    case AGENT_TIER_NETLINK:
        return "netlink";
    case AGENT_TIER_POLL:
        return "poll";
    default:
        return "none";
    }
}

/* ---- user names -------------------------------------------------------------------- */

#define USER_CACHE 64

struct user_ent {
    uid_t uid;
    bool used;
    char name[64];
};

static struct user_ent users[USER_CACHE];
static unsigned user_next;
static pthread_mutex_t user_mu = PTHREAD_MUTEX_INITIALIZER;
/* bumped (under user_mu) whenever the shared cache changes: a thread's memo of what it
 * found there is good only while the generation is the one it saw */
static _Atomic unsigned user_gen;

/* A thread's last few names found in the shared cache (an event names two or three users,
 * nearly always the same ones): no lock, scan or printf per name. */
#define USER_MEMO 4
static _Thread_local struct {
    unsigned gen;
    unsigned n, next;
    struct {
        uid_t uid;
        uint8_t len;
        char name[64];
    } e[USER_MEMO];
} user_memo;

/* Writes the name of uid (or the number when it has none) into buf (64 bytes at least); returns its
 * length. */
static size_t
user_name(uid_t uid, char *buf, size_t size)
{
    unsigned gen = atomic_load_explicit(&user_gen, memory_order_acquire);
    if (user_memo.gen != gen) {
        user_memo.gen = gen;
        user_memo.n = 0;
    }
    for (unsigned i = 0; i < user_memo.n; i++)
        if (user_memo.e[i].uid == uid) {
            size_t n = BN_MIN((size_t)user_memo.e[i].len, size - 1);
            memcpy(buf, user_memo.e[i].name, n);
            buf[n] = '\0';
            return n;
        }
    pthread_mutex_lock(&user_mu);
    for (unsigned i = 0; i < USER_CACHE; i++)
        if (users[i].used && users[i].uid == uid) {
            snprintf(buf, size, "%s", users[i].name);
            if (atomic_load_explicit(&user_gen, memory_order_relaxed) == gen) {
                unsigned k = user_memo.n < USER_MEMO ? user_memo.n++ : user_memo.next++ % USER_MEMO;
                user_memo.e[k].uid = uid;
                size_t n = strlen(users[i].name);
                user_memo.e[k].len = (uint8_t)n;
                memcpy(user_memo.e[k].name, users[i].name, n + 1);
            }
            pthread_mutex_unlock(&user_mu);
            return strlen(buf);
        }
    pthread_mutex_unlock(&user_mu);

    struct passwd pw, *res = NULL;
    char tmp[4096];
    if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res && res->pw_name &&
        strlen(res->pw_name) < 64)
        snprintf(buf, size, "%s", res->pw_name);
    else
        snprintf(buf, size, "%u", (unsigned)uid);

    pthread_mutex_lock(&user_mu);
    struct user_ent *e = &users[user_next++ % USER_CACHE];
    e->uid = uid;
    e->used = true;
    snprintf(e->name, sizeof(e->name), "%s", buf);
    atomic_fetch_add_explicit(&user_gen, 1, memory_order_release);
    pthread_mutex_unlock(&user_mu);
    return strlen(buf);
}

/* ---- embedded JSON ------------------------------------------------------------------ */

/*
 * Alerts carry the triggering event and the ancestry as JSON text built by the agent; they
 * are written as nested values only when the text is one well-formed JSON value (strings
 * valid UTF-8 with no raw control bytes, nesting at most BN_JSON_DEPTH_MAX), else as a
 * string, so a bad value can never break the line.
 */
static const char *json_value(const char *p, int depth);

static const char *
json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *
json_string(const char *p)
{
    const unsigned char *u = (const unsigned char *)p + 1;
    for (;;) {
        unsigned c = *u;
        if (c == '"')
            return (const char *)u + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            u++;
            if (*u == 'u') {
                for (int i = 1; i <= 4; i++) {
                    unsigned h = u[i];
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                          (h >= 'A' && h <= 'F')))
                        return NULL;
                }
                u += 5;
            } else if (*u && strchr("\"\\/bfnrt", *u)) {
                u++;
            } else {
                return NULL;
            }
            continue;
        }
        if (c < 0x80) {
            u++;
            continue;
        }
        /* UTF-8: lead byte, continuation count, no overlongs or surrogates */
        int n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return NULL;
        }
        for (int i = 1; i <= n; i++) {
            if ((u[i] & 0xc0) != 0x80)
                return NULL;
            cp = cp << 6 | (u[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return NULL;
        u += n + 1;
    }
}

static const char *
json_number(const char *p)
{
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static const char *
json_container(const char *p, int depth)
{
    char close = *p == '{' ? '}' : ']';
    bool obj = *p == '{';
    if (depth >= BN_JSON_DEPTH_MAX)
        return NULL;
    p = json_ws(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (obj) {
            if (*p != '"' || !(p = json_string(p)))
                return NULL;
            p = json_ws(p);
            if (*p != ':')
                return NULL;
            p = json_ws(p + 1);
        }
        if (!(p = json_value(p, depth + 1)))
            return NULL;
        p = json_ws(p);
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = json_ws(p + 1);
    }
}

static const char *
json_value(const char *p, int depth)
{
    switch (*p) {
    case '{':
    case '[':
        return json_container(p, depth);
    case '"':
        return json_string(p);
    case 't':
        return strncmp(p, "true", 4) ? NULL : p + 4;
    case 'f':
        return strncmp(p, "false", 5) ? NULL : p + 5;
    case 'n':
        return strncmp(p, "null", 4) ? NULL : p + 4;
    default:
        return json_number(p);
    }
}

/* True if s is exactly one JSON object or array (blanks around it allowed). */
static bool
json_embeddable(const char *s)
{
    if (!s)
        return false;
    s = json_ws(s);
    if (*s != '{' && *s != '[')
        return false;
    const char *e = json_value(s, 0);
    return e && *json_ws(e) == '\0';
}

/* ---- writer ------------------------------------------------------------------------ */

/* Members written, for the record agent_event_to_json_rec builds beside the line. */
#define WPAIRS_MAX 96

struct w {
    struct bn_buf *b;
    int rc;
    bool first;
    bool rec;                    /* collect pairs */
    bool rec_bad;                /* a member the reader would not read back byte for byte */
    /* where a string value the reader would unescape back to its own bytes (ASCII with
     * quotes, backslashes or control characters) is copied for the record, or NULL: then
     * such a value makes the record bad (agent_event_to_json_rec_copy) */
    struct bn_pool *copy_pool;
    uint32_t npairs;
    /* the UtcTime member this writer wrote from a time (pairs index, else UINT32_MAX) and
     * the time the reader parses back from its text: the record needs no parse of it */
    uint32_t utc_pair;
    int64_t utc_ns;
    /* not cleared when a writer starts (2.3 KB per event): only pairs[0..npairs) are read */
    struct wpair {
        const char *k;           /* borrowed: a literal or the event's extra key */
        const char *copy;        /* the value's unescaped copy in copy_pool, or NULL */
        uint32_t kl;
        uint32_t off, len;       /* the value in b (when copy is NULL) */
        uint8_t type;            /* enum bn_vtype */
    } pairs[WPAIRS_MAX];
};

/* Notes a member whose value is b->p[off..off+len) (the key was written as it is). */
static void
pair(struct w *w, const char *k, size_t kl, size_t off, size_t len, enum bn_vtype t)
{
    if (!w->rec || w->rec_bad || w->rc)
        return;
    if (w->npairs == WPAIRS_MAX || off > UINT32_MAX || len > UINT32_MAX) {
        w->rec_bad = true;
        return;
    }
    w->pairs[w->npairs++] = (struct wpair){k, NULL, (uint32_t)kl, (uint32_t)off, (uint32_t)len, t};
}

/* Room for m more bytes and the NUL at the end of the buffer: where they go, or NULL with
 * w->rc set (as bn_buf_append of m bytes would fail: past the maximum, out of memory). The
 * writer appends in place, without a call per piece. */
static inline char *
room(struct w *w, size_t m)
{
    struct bn_buf *b = w->b;
    if (w->rc)
        return NULL;
    if (b->len + m >= b->cap && (w->rc = bn_buf_reserve(b, m)) != 0)
        return NULL;
    return b->p + b->len;
}

/* Ends an in-place append at p. */
static inline void
done(struct w *w, char *p)
{
    *p = '\0';
    w->b->len = (size_t)(p - w->b->p);
}

/* Appends n bytes at once. */
static inline void
raw_n(struct w *w, const char *s, size_t n)
{
    char *p = room(w, n);
    if (p) {
        memcpy(p, s, n);
        done(w, p + n);
    }
}

static void
raw(struct w *w, const char *s)
{
    raw_n(w, s, strlen(s));
}

/* `,"key":` (and the opening quote of a string value when quote) in one append, for a key of
 * n < 120 bytes that needs no escaping (our own keys never do). */
static void
key_plain(struct w *w, const char *k, size_t n, bool quote)
{
    size_t m = n + 3 + !w->first + quote;
    char *p = room(w, m);
    if (!p)
        return;
    if (!w->first)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, k, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    if (quote)
        *p++ = '"';
    w->first = false;
    done(w, p);
}

/* Writes the key of the next member; quote: and the opening quote of a string value. */
static void
key_ex(struct w *w, const char *k, bool quote)
{
    if (w->rc)
        return;
    size_t n = strlen(k);
    bool plain = n < 120;
    for (size_t i = 0; plain && i < n; i++) {
        unsigned char c = (unsigned char)k[i];
        plain = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
    }
    if (plain) {
        key_plain(w, k, n, quote);
        return;
    }
    w->rec_bad = true; /* the reader would hold the key unescaped: not done here */
    if (!w->first)
        raw(w, ",");
    w->first = false;
    raw(w, "\"");
    if (!w->rc)
        w->rc = bn_buf_json_escape(w->b, k, n);
    raw(w, quote ? "\":\"" : "\":");
}

/* The key of a nested value (an alert's trigger and ancestry): not part of a record. */
static void
key(struct w *w, const char *k)
{
    w->rec_bad = true;
    key_ex(w, k, false);
}

/* Keys the NDJSON reader takes a record's time from (reader_json.c ts_keys): a record built
 * here only knows UtcTime's. */
static bool
ts_key(const char *k)
{
    static const char *const keys[] = {"Event.System.TimeCreated.#attributes.SystemTime",
                                       "__REALTIME_TIMESTAMP",
                                       "@timestamp",
                                       "Event.EventData.UtcTime",
                                       "UtcTime",
                                       "timestamp",
                                       "ts",
                                       "EventTime",
                                       "TimeCreated",
                                       "time"};
    for (size_t i = 0; i < BN_ARRAY_SIZE(keys); i++)
        if (!strcmp(k, keys[i]))
            return true;
    return false;
}

/* Whether the JSON reader reads the escaped text of v[0..n) back as v's own bytes: ASCII
 * without NUL (quotes, backslashes and control characters are escaped and unescaped back;
 * invalid UTF-8 would come back as U+FFFD, so anything at or above 0x80 is left to the
 * reader). */
static bool
unescapes_to_itself(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)v[i];
        if (c == 0 || c >= 0x80)
            return false;
    }
    return true;
}

/* A string value: escaping always lengthens, so an unchanged length means the line holds
 * the bytes themselves, as the reader would give them back. */
static void
str_val(struct w *w, const char *k, size_t kl, const char *v, size_t n)
{
    size_t off = w->b->len;
    if (!w->rc && n)
        w->rc = bn_buf_json_escape(w->b, v, n);
    if (w->rec && !w->rc && w->b->len - off != n) {
        if (!w->copy_pool || w->rec_bad || !unescapes_to_itself(v, n)) {
            w->rec_bad = true;
        } else {
            /* the reader would give back v's own bytes, decoded into its pool: so does the
             * record, from a copy (the line holds the escaped text) */
            char *c = bn_pool_strndup(w->copy_pool, v, n);
            uint32_t i = w->npairs;
            pair(w, k, kl, off, n, BN_VT_STR);
            if (!c)
                w->rec_bad = true;
            else if (!w->rec_bad && w->npairs == i + 1)
                w->pairs[i].copy = c;
            raw_n(w, "\"", 1);
            return;
        }
    }
    pair(w, k, kl, off, n, BN_VT_STR);
    raw_n(w, "\"", 1);
}

static void
str_n(struct w *w, const char *k, const char *v, size_t n)
{
    key_ex(w, k, true);
    if (w->rec && ts_key(k))
        w->rec_bad = true;
    str_val(w, k, strlen(k), v, n);
}

static void
str(struct w *w, const char *k, const char *v)
{
    str_n(w, k, v ? v : "", v ? strlen(v) : 0);
}

/* The same with a plain key of kl bytes (the macros below: a literal's length is known when
 * this compiles, so no strlen or escape check of the key per event). */
static void
str_nk(struct w *w, const char *k, size_t kl, const char *v, size_t n)
{
    key_plain(w, k, kl, true);
    str_val(w, k, kl, v, n);
}

/*
 * A member whose value the agent made itself from plain bytes only (printable ASCII, no '"'
 * or '\\': a literal, digits of a time, hex of a GUID), which escaping would copy as they
 * are: key, value and quotes in one append.
 */
static void
plain_nk(struct w *w, const char *k, size_t kl, const char *v, size_t n)
{
    key_plain(w, k, kl, true);
    char *p = room(w, n + 1);
    if (!p)
        return;
    pair(w, k, kl, w->b->len, n, BN_VT_STR);
    memcpy(p, v, n);
    p[n] = '"';
    done(w, p + n + 1);
}

/* Whether escaping would copy v[0..n) as it is (printable ASCII but '"' and '\\'); for the
 * short names (host, users) written on every event. */
static bool
plain_bytes(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned c = (unsigned char)v[i];
        if (c - 0x20u >= 0x60u || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* A member of a short value that is usually plain. */
static void
short_nk(struct w *w, const char *k, size_t kl, const char *v, size_t n)
{
    if (plain_bytes(v, n))
        plain_nk(w, k, kl, v, n);
    else
        str_nk(w, k, kl, v, n);
}

static void
str_k(struct w *w, const char *k, size_t kl, const char *v)
{
    str_nk(w, k, kl, v ? v : "", v ? strlen(v) : 0);
}

static void
num_k(struct w *w, const char *k, size_t kl, long long v)
{
    key_plain(w, k, kl, false);
    /* decimal by hand, two digits a step: a printf per number was a good part of an
     * event's cost (at most 20 digits: tmp keeps room for the sign) */
    char tmp[24];
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    char *p = tmp + bn_u64_dec(tmp, u);
    if (v < 0)
        *--p = '-';
    pair(w, k, kl, w->b->len, (size_t)(tmp + sizeof(tmp) - p), BN_VT_NUM);
    raw_n(w, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void
boolean_k(struct w *w, const char *k, size_t kl, bool v)
{
    key_plain(w, k, kl, false);
    pair(w, k, kl, w->b->len, v ? 4 : 5, BN_VT_BOOL);
    raw(w, v ? "true" : "false");
}

/* Members under a literal key ("" k "": only a literal compiles). */
#define STR(w, k, v) str_k(w, "" k "", sizeof(k) - 1, v)
#define STRN(w, k, v, n) str_nk(w, "" k "", sizeof(k) - 1, v, n)
#define NUM(w, k, v) num_k(w, "" k "", sizeof(k) - 1, v)
#define BOOL(w, k, v) boolean_k(w, "" k "", sizeof(k) - 1, v)
#define KEY(w, k) key_plain(w, "" k "", sizeof(k) - 1, false)
#define PLAIN(w, k, v, n) plain_nk(w, "" k "", sizeof(k) - 1, v, n)
#define SHORT(w, k, v, n) short_nk(w, "" k "", sizeof(k) - 1, v, n)

static void
utc_time(struct w *w, int64_t ns)
{
    /* the date and time of the last second formatted, per thread: events come in bursts */
    static _Thread_local int64_t last_sec = INT64_MIN;
    static _Thread_local char last[64];
    static _Thread_local bool last_ok; /* gmtime_r worked, year 0..9999 */
    char buf[72];
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec--;
    }
    if (sec != last_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        last_ok = gmtime_r(&t, &tm) != NULL;
        if (!last_ok)
            memset(&tm, 0, sizeof(tm));
        last_ok = last_ok && tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900;
        snprintf(last, sizeof(last), "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        last_sec = sec;
    }
    size_t n = strlen(last);
    memcpy(buf, last, n);
    int ms = (int)(rem / 1000000);
    buf[n] = '.';
    buf[n + 1] = (char)('0' + ms / 100);
    buf[n + 2] = (char)('0' + ms / 10 % 10);
    buf[n + 3] = (char)('0' + ms % 10);
    uint32_t at = w->npairs;
    PLAIN(w, "UtcTime", buf, n + 4); /* digits, '-', ':', ' ' and '.' */
    /* what bn_time_parse gives for this text: the formatted second and milliseconds, for a
     * four-digit year of a time whose nanoseconds fit in int64 (its range test) */
    if (last_ok && sec > INT64_MIN / 1000000000 && sec < INT64_MAX / 1000000000 &&
        w->npairs == at + 1) {
        w->utc_pair = at;
        w->utc_ns = sec * 1000000000 + (int64_t)ms * 1000000;
    }
}

static const char *
image_of(const struct agent_proc *p)
{
    if (p->exe && p->exe[0])
        return p->exe;
    return p->comm;
}

/* dst[0..n) = src[0..n) with a-z in upper case (8 bytes a step: the 64 hex digits of a
 * digest are written for every exec). */
static void
upper_ascii(char *dst, const char *src, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, src + i, 8);
        uint64_t low7 = x & ~high;
        /* per byte, bit 7: at least 'a' (0x61 + 0x1f), above 'z' (0x7b + 0x05), ASCII */
        uint64_t lower = (low7 + 0x1f * ones) & ~(low7 + 0x05 * ones) & ~x & high;
        x ^= lower >> 2; /* 0x20 off */
        memcpy(dst + i, &x, 8);
    }
    for (; i < n; i++) {
        char c = src[i];
        dst[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
    }
}

static void
proc_fields(struct w *w, const struct agent_proc *p, bool full)
{
    char guid[48], user[64];
    agent_process_guid(p->pid, p->start_ns, guid, sizeof(guid));
    PLAIN(w, "ProcessGuid", guid, strlen(guid)); /* braces, hex and '-' */
    NUM(w, "ProcessId", p->pid);
    STR(w, "Image", image_of(p));
    if (full) {
        STR(w, "CommandLine", p->cmdline);
        STR(w, "CurrentDirectory", p->cwd);
    }
    SHORT(w, "User", user, user_name(p->uid, user, sizeof(user)));
    if (full) {
        NUM(w, "LogonId", (long long)p->loginuid);
        NUM(w, "TerminalSessionId", (long long)p->sessionid);
        if (p->sha256[0]) {
            char h[80];
            size_t n = strnlen(p->sha256, 64);
            memcpy(h, "SHA256=", 7);
            upper_ascii(h + 7, p->sha256, n);
            STRN(w, "Hashes", h, 7 + n);
        }
        if (p->euid != p->uid) {
            SHORT(w, "bannin.EffectiveUser", user, user_name(p->euid, user, sizeof(user)));
        }
        if (p->tty && p->tty[0])
            STR(w, "bannin.Tty", p->tty);
    }
    if (p->container_id[0]) {
        /* the short form docker ps and crictl show; the full id beside it */
        STRN(w, "ContainerId", p->container_id, BN_MIN(strlen(p->container_id), 12));
        STR(w, "bannin.ContainerIdFull", p->container_id);
    }
}

static void
parent_fields(struct w *w, const struct agent_proc *p)
{
    char guid[48], user[64];
    if (!p->pid)
        return;
    agent_process_guid(p->pid, p->start_ns, guid, sizeof(guid));
    PLAIN(w, "ParentProcessGuid", guid, strlen(guid));
    NUM(w, "ParentProcessId", p->pid);
    STR(w, "ParentImage", image_of(p));
    STR(w, "ParentCommandLine", p->cmdline);
    SHORT(w, "ParentUser", user, user_name(p->uid, user, sizeof(user)));
}

static void
ip(struct w *w, const char *k, uint8_t family, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (family == AF_INET6) {
        /* v4-mapped addresses are written as plain IPv4, as Sysmon does */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0)
            inet_ntop(AF_INET, a + 12, buf, sizeof(buf));
        else
            inet_ntop(AF_INET6, a, buf, sizeof(buf));
    } else {
        inet_ntop(AF_INET, a, buf, sizeof(buf));
    }
    str(w, k, buf);
}

/* logsource of the kinds without a Sysmon id (and DNS, which the mapping does not map). */
static void
logsource(struct w *w, const struct agent_event *ev)
{
    const char *cat = NULL, *svc = NULL;
    switch (ev->kind) {
    case AGENT_EV_DNS_QUERY:
        cat = "dns_query";
        break;
    case AGENT_EV_FILE_WRITE:
        cat = "file_event"; /* a write is a file event for persistence rules */
        break;
    case AGENT_EV_FILE_RENAME:
        cat = "file_rename";
        break;
    case AGENT_EV_FILE_ATTR:
        cat = "file_change";
        break;
    case AGENT_EV_AUTH:
        svc = "auth";
        for (uint32_t i = 0; i < ev->nextra && i < AGENT_EXTRAS_MAX; i++)
            if (ev->extra_keys[i] && !strcmp(ev->extra_keys[i], "service") && ev->extra_vals[i] &&
                ev->extra_vals[i][0])
                svc = ev->extra_vals[i];
        break;
    case AGENT_EV_MODULE_LOAD:
        cat = "driver_load";
        break;
    case AGENT_EV_BPF_LOAD:
        cat = "bpf_load";
        break;
    case AGENT_EV_TAMPER:
        cat = "agent_tamper";
        svc = "bannin";
        break;
    case AGENT_EV_STATUS:
        cat = "agent_status";
        svc = "bannin";
        break;
    case AGENT_EV_ALERT:
        cat = "alert";
        svc = "bannin";
        break;
    default:
        return;
    }
    STR(w, "logsource.product", "linux");
    if (cat)
        STR(w, "logsource.category", cat);
    if (svc)
        STR(w, "logsource.service", svc);
}

/* The record of the line just written (w->pairs), as bn_record_parse_ndjson would read it:
 * the same keys, values (pointing at the same bytes of the line), types, raw bytes and time.
 * Returns true, or false when the record could not be built here. */
static bool
record_of(struct w *w, size_t start, struct bn_record *rec, const char *name)
{
    const struct bn_buf *out = w->b;
    if (!w->copy_pool) /* else reset when the writer started: the copies are in its pool */
        bn_record_reset(rec);
    rec->format = "ndjson";
    rec->file = name ? name : "<memory>";
    rec->index = 0;
    for (uint32_t i = 0; i < w->npairs; i++) {
        const struct wpair *pr = &w->pairs[i];
        const char *val = pr->copy ? pr->copy : out->p + pr->off;
        if (bn_record_add(rec, pr->k, pr->kl, val, pr->len, (enum bn_vtype)pr->type) != 0)
            return false;
        /* the one time key of ours (a string: reader_json.c's set_ts parses it so) */
        int64_t ns;
        if (pr->kl == 7 && !memcmp(pr->k, "UtcTime", 7)) {
            if (i == w->utc_pair)
                rec->ts_ns = w->utc_ns;
            else if (bn_time_parse(val, pr->len, &ns) == 0)
                rec->ts_ns = ns;
        }
    }
    rec->raw = out->p + start;
    rec->raw_len = out->len - start;
    rec->line = 1;
    rec->offset = 0;
    return true;
}

static int render(const struct agent_event *ev, struct w *w);

/* Starts a writer into out (pairs are left as they are: only the first npairs are read). */
static void
w_start(struct w *w, struct bn_buf *out, bool rec)
{
    w->b = out;
    w->rc = 0;
    w->first = true;
    w->rec = rec;
    w->rec_bad = false;
    w->copy_pool = NULL;
    w->npairs = 0;
    w->utc_pair = UINT32_MAX;
    w->utc_ns = 0;
}

int
agent_event_to_json(const struct agent_event *ev, struct bn_buf *out)
{
    struct w w;
    w_start(&w, out, false);
    return render(ev, &w);
}

int
agent_event_to_json_rec(const struct agent_event *ev, struct bn_buf *out, struct bn_record *rec,
                        const char *name, bool *rec_ok)
{
    struct w w;
    w_start(&w, out, rec != NULL);
    size_t start = out->len;
    *rec_ok = false;
    int rc = render(ev, &w);
    if (rc == 0 && rec && !w.rec_bad && out->len - start <= BN_RECORD_MAX)
        *rec_ok = record_of(&w, start, rec, name);
    return rc;
}

int
agent_event_to_json_rec_copy(const struct agent_event *ev, struct bn_buf *out,
                             struct bn_record *rec, const char *name, bool *rec_ok)
{
    struct w w;
    w_start(&w, out, true);
    bn_record_reset(rec);
    w.copy_pool = rec->pool;
    size_t start = out->len;
    *rec_ok = false;
    int rc = render(ev, &w);
    if (rc == 0 && !w.rec_bad && out->len - start <= BN_RECORD_MAX)
        *rec_ok = record_of(&w, start, rec, name);
    return rc;
}

static int
render(const struct agent_event *ev, struct w *w)
{
    struct bn_buf *out = w->b;
    size_t start = out->len;

    pthread_once(&host_once, host_init);
    const char *host = host_name;
    size_t host_len = strnlen(host_name, sizeof(host_name) - 1);
    raw(w, "{");
    PLAIN(w, "Channel", CHANNEL, sizeof(CHANNEL) - 1);
    NUM(w, "EventID", (long long)ev->kind);
    logsource(w, ev);
    utc_time(w, ev->ts_ns);
    SHORT(w, "Computer", host, host_len);
    if (ev->kind == AGENT_EV_AUTH)
        STRN(w, "host", host, host_len); /* the auth rules group by host, as in auth.log records */

    switch (ev->kind) {
    case AGENT_EV_PROCESS_CREATE:
        proc_fields(w, &ev->proc, true);
        parent_fields(w, &ev->parent);
        break;
    case AGENT_EV_PROCESS_TERMINATE:
        proc_fields(w, &ev->proc, false);
        NUM(w, "bannin.ExitCode", ev->exit_code);
        break;
    case AGENT_EV_NET_CONNECT:
        proc_fields(w, &ev->proc, false);
        STR(w, "Protocol", ev->proto == IPPROTO_UDP ? "udp" : "tcp");
        STR(w, "Initiated", ev->initiated ? "true" : "false");
        STR(w, "SourceIsIpv6", ev->family == AF_INET6 ? "true" : "false");
        ip(w, "SourceIp", ev->family, ev->saddr);
        NUM(w, "SourcePort", ev->sport);
        STR(w, "DestinationIsIpv6", ev->family == AF_INET6 ? "true" : "false");
        ip(w, "DestinationIp", ev->family, ev->daddr);
        NUM(w, "DestinationPort", ev->dport);
        STR(w, "DestinationHostname", "");
        if (ev->community_id[0])
            STR(w, "CommunityId", ev->community_id);
        if (ev->listen)
            BOOL(w, "bannin.Listen", true);
        break;
    case AGENT_EV_DNS_QUERY:
        proc_fields(w, &ev->proc, false);
        STR(w, "QueryName", ev->query);
        STR(w, "QueryResults", ev->answers);
        break;
    case AGENT_EV_FILE_CREATE:
    case AGENT_EV_FILE_DELETE:
    case AGENT_EV_FILE_WRITE:
        proc_fields(w, &ev->proc, false);
        STR(w, "TargetFilename", ev->path);
        break;
    case AGENT_EV_FILE_RENAME:
        proc_fields(w, &ev->proc, false);
        STR(w, "SourceFilename", ev->path);
        STR(w, "TargetFilename", ev->path2);
        break;
    case AGENT_EV_FILE_ATTR:
        proc_fields(w, &ev->proc, false);
        STR(w, "TargetFilename", ev->path);
        if (ev->mode) {
            char m[16];
            snprintf(m, sizeof(m), "%04o", (unsigned)(ev->mode & 07777));
            STR(w, "bannin.Mode", m);
        } else {
            NUM(w, "bannin.OwnerUid", (long long)ev->new_uid);
            NUM(w, "bannin.OwnerGid", (long long)ev->new_gid);
        }
        break;
    case AGENT_EV_ALERT:
        /* the acting process and its parent, as on the triggering event */
        if (ev->proc.pid) {
            proc_fields(w, &ev->proc, true);
            parent_fields(w, &ev->parent);
        }
        if (ev->path)
            STR(w, "TargetFilename", ev->path);
        break;
    default:
        if (ev->proc.pid)
            proc_fields(w, &ev->proc, ev->kind != AGENT_EV_STATUS);
        if (ev->path)
            STR(w, "TargetFilename", ev->path);
        break;
    }
    if (ev->category && ev->category[0])
        STR(w, "bannin.category", ev->category);
    for (uint32_t i = 0; i < ev->nextra && i < AGENT_EXTRAS_MAX; i++) {
        const char *k = ev->extra_keys[i];
        if (!k || !k[0] || (ev->kind == AGENT_EV_AUTH && !strcmp(k, "service")))
            continue;
        if (ev->kind == AGENT_EV_ALERT && (!strcmp(k, "trigger") || !strcmp(k, "ancestry")) &&
            ev->extra_vals[i] &&
            ((ev->extra_json >> i & 1) || json_embeddable(ev->extra_vals[i]))) {
            key(w, k);
            raw(w, ev->extra_vals[i]);
            continue;
        }
        str(w, k, ev->extra_vals[i]);
    }
    NUM(w, "bannin.seq", (long long)ev->seq);
    const char *tier = agent_tier_name(ev->tier); /* a literal */
    PLAIN(w, "bannin.tier", tier, strlen(tier));
    if (ev->proc.cmdline_truncated || ev->parent.cmdline_truncated)
        BOOL(w, "bannin.truncated", true);
    if (ev->proc.exe_deleted)
        BOOL(w, "bannin.exe_deleted", true);
    raw(w, "}");
    if (w->rc) {
        out->len = start;
        if (out->p)
            out->p[start] = '\0';
    }
    return w->rc;
}
