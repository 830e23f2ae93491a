/*
 * frame.c - frames of the agent <-> manager link (include/bannin/wire.h): headers, control
 * messages, and event batches (zstd body, Ed25519 signature over the session nonce).
 *
 * Both programs use it: the manager decodes what agents send (untrusted: every length is
 * bounded by limits.h and refusals say what and where), the agent encodes batches from its
 * spool.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/wire.h"

/* ---- byte order ---------------------------------------------------------------------- */

static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static int fail(struct bn_wire_err *e, int code, const char *fmt, ...) BN_PRINTF(3, 4);

static int
fail(struct bn_wire_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *
bn_wire_type_name(int type)
{
    static const char *const names[] = {"?",          "enroll",     "enroll_ok",  "hello",
                                        "welcome",    "batch",      "ack",        "heartbeat",
                                        "error",      "action",     "result",     "result_ack",
                                        "file_offer", "file_chunk", "file_end",   "file_status"};
    if (type >= BN_WIRE_ENROLL && type <= BN_WIRE_TYPE_LAST)
        return names[type];
    return "unknown";
}

void
bn_wire_hdr_encode(uint8_t *p, int type, uint32_t len)
{
    put32(p, BN_WIRE_MAGIC);
    p[4] = (uint8_t)type;
    p[5] = 0;
    p[6] = p[7] = 0;
    put32(p + 8, len);
}

int
bn_wire_hdr_decode(const uint8_t *p, size_t n, int *type, uint32_t *len, struct bn_wire_err *e)
{
    *type = 0;
    *len = 0;
    if (n < BN_WIRE_HDR)
        return fail(e, BN_EPROTO, "frame header: %zu bytes, need %u", n, BN_WIRE_HDR);
    if (get32(p) != BN_WIRE_MAGIC)
        return fail(e, BN_EPROTO, "frame header: bad magic 0x%08x (not a Bannin link peer?)",
                    get32(p));
    if (p[4] < BN_WIRE_ENROLL || p[4] > BN_WIRE_TYPE_LAST)
        return fail(e, BN_EPROTO, "frame header: unknown frame type %u", p[4]);
    if (p[5] || p[6] || p[7])
        return fail(e, BN_EPROTO, "frame header: flags/reserved bytes must be zero");
    uint32_t l = get32(p + 8);
    if (l > BN_WIRE_FRAME_MAX)
        return fail(e, BN_ETOOBIG, "%s frame of %u bytes is over the limit of %u",
                    bn_wire_type_name(p[4]), l, BN_WIRE_FRAME_MAX);
    *type = p[4];
    *len = l;
    return 0;
}

/* ---- field writer -------------------------------------------------------------------- */

struct wr {
    struct bn_buf *out;
    size_t start; /* where the frame's header begins */
    int rc;
};

static void
wr_begin(struct wr *w, struct bn_buf *out, int type)
{
    uint8_t h[BN_WIRE_HDR];
    w->out = out;
    w->start = out->len;
    bn_wire_hdr_encode(h, type, 0);
    w->rc = bn_buf_append(out, h, sizeof(h));
}

static void
wr_bytes(struct wr *w, const void *p, size_t n)
{
    if (!w->rc && n)
        w->rc = bn_buf_append(w->out, p, n);
}

static void
wr_u8(struct wr *w, uint8_t v)
{
    wr_bytes(w, &v, 1);
}

static void
wr_u32(struct wr *w, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    wr_bytes(w, b, 4);
}

static void
wr_u64(struct wr *w, uint64_t v)
{
    uint8_t b[8];
    put64(b, v);
    wr_bytes(w, b, 8);
}

static void
wr_str(struct wr *w, struct bn_str s, size_t max)
{
    if (!w->rc && s.len > max)
        w->rc = BN_ETOOBIG;
    wr_u32(w, (uint32_t)s.len);
    wr_bytes(w, s.p, s.len);
}

static int
wr_end(struct wr *w)
{
    if (w->rc) {
        if (w->out->len > w->start)
            w->out->len = w->start;
        return w->rc;
    }
    size_t len = w->out->len - w->start - BN_WIRE_HDR;
    if (len > BN_WIRE_FRAME_MAX) {
        w->out->len = w->start;
        return BN_ETOOBIG;
    }
    put32((uint8_t *)w->out->p + w->start + 8, (uint32_t)len);
    return 0;
}

/* ---- field reader -------------------------------------------------------------------- */

struct rd {
    const uint8_t *p;
    size_t n, off;
    const char *what; /* frame name for messages */
    struct bn_wire_err *e;
    int rc;
};

static void
rd_init(struct rd *r, const uint8_t *p, size_t n, const char *what, struct bn_wire_err *e)
{
    r->p = p;
    r->n = n;
    r->off = 0;
    r->what = what;
    r->e = e;
    r->rc = 0;
}

static const uint8_t *
rd_take(struct rd *r, size_t k, const char *field)
{
    if (r->rc)
        return NULL;
    if (r->n - r->off < k) {
        r->rc = fail(r->e, BN_EPROTO, "%s frame: field '%s' at byte %zu: %zu bytes left, need %zu",
                     r->what, field, r->off, r->n - r->off, k);
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += k;
    return q;
}

static uint8_t
rd_u8(struct rd *r, const char *field)
{
    const uint8_t *q = rd_take(r, 1, field);
    return q ? q[0] : 0;
}

static uint32_t
rd_u32(struct rd *r, const char *field)
{
    const uint8_t *q = rd_take(r, 4, field);
    return q ? get32(q) : 0;
}

static uint64_t
rd_u64(struct rd *r, const char *field)
{
    const uint8_t *q = rd_take(r, 8, field);
    return q ? get64(q) : 0;
}

static struct bn_str
rd_str(struct rd *r, const char *field, size_t max)
{
    struct bn_str s = {"", 0};
    size_t at = r->off;
    uint32_t len = rd_u32(r, field);
    if (r->rc)
        return s;
    if (len > max) {
        r->rc = fail(r->e, BN_ETOOBIG, "%s frame: field '%s' at byte %zu: %u bytes, limit %zu",
                     r->what, field, at, len, max);
        return s;
    }
    const uint8_t *q = rd_take(r, len, field);
    if (q) {
        s.p = (const char *)q;
        s.len = len;
    }
    return s;
}

static int
rd_end(struct rd *r)
{
    if (!r->rc && r->off != r->n)
        r->rc = fail(r->e, BN_EPROTO, "%s frame: %zu trailing bytes after the last field", r->what,
                     r->n - r->off);
    return r->rc;
}

/* Text fields that end up in logs and the store must be UTF-8 without NULs. */
static void
rd_text(struct rd *r, struct bn_str s, const char *field)
{
    if (r->rc)
        return;
    if (memchr(s.p, '\0', s.len) || !bn_utf8_valid(s.p, s.len))
        r->rc = fail(r->e, BN_EPROTO, "%s frame: field '%s' is not UTF-8 text", r->what, field);
}

/* An action type is a short name of [a-z_] (it selects an executor; never free text). */
static void
rd_name(struct rd *r, struct bn_str s, const char *field)
{
    if (r->rc)
        return;
    if (s.len == 0) {
        r->rc = fail(r->e, BN_EPROTO, "%s frame: field '%s' is empty", r->what, field);
        return;
    }
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || c == '_')) {
            r->rc = fail(r->e, BN_EPROTO,
                         "%s frame: field '%s' byte %zu is 0x%02x (only a-z and _ allowed)",
                         r->what, field, i, (unsigned char)c);
            return;
        }
    }
}

/* ---- field tables ---------------------------------------------------------------------- */

/*
 * Most frames are a fixed sequence of fields: a table per frame lists them in wire order
 * (what kind, the message member, the name refusals use, the size limit), and one writer and
 * one reader walk it. Checks across fields follow the read in the frame's decoder.
 */
enum wf_kind {
    WF_U32,   /* uint32_t */
    WF_U64,   /* uint64_t */
    WF_STR,   /* struct bn_str, length-prefixed, at most max bytes, any bytes */
    WF_TEXT,  /* WF_STR that must be UTF-8 without NULs */
    WF_NAME,  /* WF_STR of [a-z_], not empty */
    WF_BYTES, /* const uint8_t * to exactly max bytes */
};

struct wf {
    int kind; /* enum wf_kind */
    const char *name;
    size_t off; /* of the member in the message struct */
    size_t max;
};

/* clang-format off */
#define WF(kind, T, member, name, max)                                                             \
    {                                                                                              \
        kind, name, offsetof(T, member), max                                                       \
    }
/* clang-format on */

static void
wr_fields(struct wr *w, const struct wf *f, size_t n, const void *m)
{
    for (size_t i = 0; i < n; i++) {
        const char *at = (const char *)m + f[i].off;
        if (f[i].kind == WF_U32) {
            uint32_t v;
            memcpy(&v, at, sizeof(v));
            wr_u32(w, v);
        } else if (f[i].kind == WF_U64) {
            uint64_t v;
            memcpy(&v, at, sizeof(v));
            wr_u64(w, v);
        } else if (f[i].kind == WF_BYTES) {
            const uint8_t *v;
            memcpy(&v, at, sizeof(v));
            wr_bytes(w, v, f[i].max);
        } else {
            struct bn_str v;
            memcpy(&v, at, sizeof(v));
            wr_str(w, v, f[i].max);
        }
    }
}

static void
rd_fields(struct rd *r, const struct wf *f, size_t n, void *m)
{
    for (size_t i = 0; i < n; i++) {
        char *at = (char *)m + f[i].off;
        if (f[i].kind == WF_U32) {
            uint32_t v = rd_u32(r, f[i].name);
            memcpy(at, &v, sizeof(v));
        } else if (f[i].kind == WF_U64) {
            uint64_t v = rd_u64(r, f[i].name);
            memcpy(at, &v, sizeof(v));
        } else if (f[i].kind == WF_BYTES) {
            const uint8_t *v = rd_take(r, f[i].max, f[i].name);
            memcpy(at, &v, sizeof(v));
        } else {
            struct bn_str v = rd_str(r, f[i].name, f[i].max);
            if (f[i].kind == WF_TEXT)
                rd_text(r, v, f[i].name);
            else if (f[i].kind == WF_NAME)
                rd_name(r, v, f[i].name);
            memcpy(at, &v, sizeof(v));
        }
    }
}

/* Encodes a frame of type whose payload is exactly the fields of m. */
static int
wr_frame(struct bn_buf *out, int type, const struct wf *f, size_t n, const void *m)
{
    struct wr w;
    wr_begin(&w, out, type);
    wr_fields(&w, f, n, m);
    return wr_end(&w);
}

/* Clears m (size bytes) and reads the fields of a frame called what into it; the caller adds
 * its checks across fields and ends with rd_end. */
static void
rd_frame(struct rd *r, const uint8_t *p, size_t n, const char *what, struct bn_wire_err *e,
         const struct wf *f, size_t nf, void *m, size_t size)
{
    memset(m, 0, size);
    rd_init(r, p, n, what, e);
    rd_fields(r, f, nf, m);
}

/* ---- control messages ---------------------------------------------------------------- */

static const struct wf enroll_fields[] = {
    WF(WF_TEXT, struct bn_wire_enroll, token, "token", BN_WIRE_TOKEN_MAX),
    WF(WF_TEXT, struct bn_wire_enroll, csr_pem, "csr", BN_WIRE_PEM_MAX),
    WF(WF_BYTES, struct bn_wire_enroll, sign_pk, "sign_pk", BN_WIRE_PK),
    WF(WF_TEXT, struct bn_wire_enroll, hostname, "hostname", BN_WIRE_NAME_MAX),
    WF(WF_TEXT, struct bn_wire_enroll, version, "version", BN_WIRE_NAME_MAX),
    WF(WF_U64, struct bn_wire_enroll, heartbeat_ms, "heartbeat_ms", 0),
};

int
bn_wire_enroll_encode(struct bn_buf *out, const struct bn_wire_enroll *m)
{
    return wr_frame(out, BN_WIRE_ENROLL, enroll_fields, BN_ARRAY_SIZE(enroll_fields), m);
}

static void
rd_interval(struct rd *r, uint64_t ms)
{
    if (!r->rc && (ms < 100 || ms > 86400000ull))
        r->rc = fail(r->e, BN_EPROTO, "%s frame: heartbeat interval %llu ms outside 100..86400000",
                     r->what, (unsigned long long)ms);
}

int
bn_wire_enroll_decode(const uint8_t *p, size_t n, struct bn_wire_enroll *m, struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "enroll", e, enroll_fields, BN_ARRAY_SIZE(enroll_fields), m, sizeof(*m));
    rd_interval(&r, m->heartbeat_ms);
    return rd_end(&r);
}

static const struct wf enroll_ok_fields[] = {
    WF(WF_TEXT, struct bn_wire_enroll_ok, cert_pem, "cert", BN_WIRE_PEM_MAX),
    WF(WF_TEXT, struct bn_wire_enroll_ok, server_ca_pem, "server_ca", BN_WIRE_PEM_MAX),
    WF(WF_TEXT, struct bn_wire_enroll_ok, uid, "uid", BN_WIRE_NAME_MAX),
    WF(WF_U64, struct bn_wire_enroll_ok, tenant_id, "tenant_id", 0),
    WF(WF_U64, struct bn_wire_enroll_ok, agent_id, "agent_id", 0),
};

int
bn_wire_enroll_ok_encode(struct bn_buf *out, const struct bn_wire_enroll_ok *m)
{
    return wr_frame(out, BN_WIRE_ENROLL_OK, enroll_ok_fields, BN_ARRAY_SIZE(enroll_ok_fields), m);
}

int
bn_wire_enroll_ok_decode(const uint8_t *p, size_t n, struct bn_wire_enroll_ok *m,
                         struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "enroll_ok", e, enroll_ok_fields, BN_ARRAY_SIZE(enroll_ok_fields), m,
             sizeof(*m));
    return rd_end(&r);
}

static const struct wf hello_fields[] = {
    WF(WF_TEXT, struct bn_wire_hello, hostname, "hostname", BN_WIRE_NAME_MAX),
    WF(WF_TEXT, struct bn_wire_hello, version, "version", BN_WIRE_NAME_MAX),
    WF(WF_U64, struct bn_wire_hello, heartbeat_ms, "heartbeat_ms", 0),
    WF(WF_U64, struct bn_wire_hello, acked_seq, "acked_seq", 0),
    WF(WF_U64, struct bn_wire_hello, next_seq, "next_seq", 0),
};

int
bn_wire_hello_encode(struct bn_buf *out, const struct bn_wire_hello *m)
{
    return wr_frame(out, BN_WIRE_HELLO, hello_fields, BN_ARRAY_SIZE(hello_fields), m);
}

int
bn_wire_hello_decode(const uint8_t *p, size_t n, struct bn_wire_hello *m, struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "hello", e, hello_fields, BN_ARRAY_SIZE(hello_fields), m, sizeof(*m));
    rd_interval(&r, m->heartbeat_ms);
    return rd_end(&r);
}

static const struct wf welcome_fields[] = {
    WF(WF_BYTES, struct bn_wire_welcome, nonce, "nonce", BN_WIRE_NONCE),
    WF(WF_U64, struct bn_wire_welcome, agent_id, "agent_id", 0),
    WF(WF_U64, struct bn_wire_welcome, last_seq, "last_seq", 0),
};

int
bn_wire_welcome_encode(struct bn_buf *out, const struct bn_wire_welcome *m)
{
    return wr_frame(out, BN_WIRE_WELCOME, welcome_fields, BN_ARRAY_SIZE(welcome_fields), m);
}

int
bn_wire_welcome_decode(const uint8_t *p, size_t n, struct bn_wire_welcome *m, struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "welcome", e, welcome_fields, BN_ARRAY_SIZE(welcome_fields), m, sizeof(*m));
    return rd_end(&r);
}

static const struct wf ack_fields[] = {
    WF(WF_U64, struct bn_wire_ack, first_seq, "first_seq", 0),
    WF(WF_U64, struct bn_wire_ack, last_seq, "last_seq", 0),
    WF(WF_U32, struct bn_wire_ack, inserted, "inserted", 0),
    WF(WF_U32, struct bn_wire_ack, dups, "dups", 0),
};

int
bn_wire_ack_encode(struct bn_buf *out, const struct bn_wire_ack *m)
{
    return wr_frame(out, BN_WIRE_ACK, ack_fields, BN_ARRAY_SIZE(ack_fields), m);
}

int
bn_wire_ack_decode(const uint8_t *p, size_t n, struct bn_wire_ack *m, struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "ack", e, ack_fields, BN_ARRAY_SIZE(ack_fields), m, sizeof(*m));
    if (!r.rc && m->last_seq < m->first_seq)
        r.rc = fail(e, BN_EPROTO, "ack frame: last_seq %llu before first_seq %llu",
                    (unsigned long long)m->last_seq, (unsigned long long)m->first_seq);
    return rd_end(&r);
}

static const struct wf heartbeat_fields[] = {
    WF(WF_U64, struct bn_wire_heartbeat, ts_ns, "ts_ns", 0),
    WF(WF_U32, struct bn_wire_heartbeat, tier, "tier", 0),
    WF(WF_TEXT, struct bn_wire_heartbeat, health_json, "health", BN_WIRE_HEALTH_MAX),
};

int
bn_wire_heartbeat_encode(struct bn_buf *out, const struct bn_wire_heartbeat *m)
{
    return wr_frame(out, BN_WIRE_HEARTBEAT, heartbeat_fields, BN_ARRAY_SIZE(heartbeat_fields), m);
}

int
bn_wire_heartbeat_decode(const uint8_t *p, size_t n, struct bn_wire_heartbeat *m,
                         struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "heartbeat", e, heartbeat_fields, BN_ARRAY_SIZE(heartbeat_fields), m,
             sizeof(*m));
    if (!r.rc && m->tier > 3)
        r.rc = fail(e, BN_EPROTO, "heartbeat frame: tier %u is not 0..3", m->tier);
    return rd_end(&r);
}

int
bn_wire_error_encode(struct bn_buf *out, int code, const char *msg)
{
    struct wr w;
    struct bn_str s = {msg, strlen(msg)};
    if (s.len > BN_WIRE_ERRMSG_MAX)
        s.len = BN_WIRE_ERRMSG_MAX;
    wr_begin(&w, out, BN_WIRE_ERROR);
    wr_u32(&w, (uint32_t)(code < 0 ? -code : code));
    wr_str(&w, s, BN_WIRE_ERRMSG_MAX);
    return wr_end(&w);
}

int
bn_wire_error_decode(const uint8_t *p, size_t n, struct bn_wire_error *m, struct bn_wire_err *e)
{
    static const struct wf fields[] = {
        WF(WF_U32, struct bn_wire_error, code, "code", 0),
        WF(WF_STR, struct bn_wire_error, msg, "message", BN_WIRE_ERRMSG_MAX),
    };
    struct rd r;
    rd_frame(&r, p, n, "error", e, fields, BN_ARRAY_SIZE(fields), m, sizeof(*m));
    return rd_end(&r);
}

/* ---- response actions ------------------------------------------------------------------ */

/* Every action-scoped frame names its action: id 0 is never valid. */
static void
rd_action_id(struct rd *r, uint64_t id)
{
    if (!r->rc && id == 0)
        r->rc = fail(r->e, BN_EPROTO, "%s frame: action_id 0 is not a valid id", r->what);
}

static const struct wf action_fields[] = {
    WF(WF_U64, struct bn_wire_action, action_id, "action_id", 0),
    WF(WF_NAME, struct bn_wire_action, type, "type", BN_WIRE_ACTION_TYPE_MAX),
    WF(WF_TEXT, struct bn_wire_action, params, "params", BN_WIRE_ACTION_PARAMS_MAX),
    WF(WF_U64, struct bn_wire_action, expires_ns, "expires_ns", 0),
};

int
bn_wire_action_encode(struct bn_buf *out, const struct bn_wire_action *m)
{
    return wr_frame(out, BN_WIRE_ACTION, action_fields, BN_ARRAY_SIZE(action_fields), m);
}

int
bn_wire_action_decode(const uint8_t *p, size_t n, struct bn_wire_action *m, struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "action", e, action_fields, BN_ARRAY_SIZE(action_fields), m, sizeof(*m));
    rd_action_id(&r, m->action_id);
    return rd_end(&r);
}

static const struct wf result_fields[] = {
    WF(WF_U64, struct bn_wire_result, action_id, "action_id", 0),
    WF(WF_U32, struct bn_wire_result, status, "status", 0),
    WF(WF_TEXT, struct bn_wire_result, result, "result", BN_WIRE_RESULT_MAX),
};

int
bn_wire_result_encode(struct bn_buf *out, const struct bn_wire_result *m)
{
    return wr_frame(out, BN_WIRE_RESULT, result_fields, BN_ARRAY_SIZE(result_fields), m);
}

int
bn_wire_result_decode(const uint8_t *p, size_t n, struct bn_wire_result *m, struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "result", e, result_fields, BN_ARRAY_SIZE(result_fields), m, sizeof(*m));
    if (!r.rc && m->status > BN_WIRE_ACT_EXPIRED)
        r.rc = fail(e, BN_EPROTO, "result frame: status %u is not 0..2", m->status);
    rd_action_id(&r, m->action_id);
    return rd_end(&r);
}

int
bn_wire_result_ack_encode(struct bn_buf *out, uint64_t action_id)
{
    struct wr w;
    wr_begin(&w, out, BN_WIRE_RESULT_ACK);
    wr_u64(&w, action_id);
    return wr_end(&w);
}

int
bn_wire_result_ack_decode(const uint8_t *p, size_t n, uint64_t *action_id, struct bn_wire_err *e)
{
    struct rd r;
    rd_init(&r, p, n, "result_ack", e);
    *action_id = rd_u64(&r, "action_id");
    rd_action_id(&r, *action_id);
    return rd_end(&r);
}

/* ---- signed frames (batches, file upload) ---------------------------------------------- */

#define SIG_DOMAIN "BNB1" /* batches; file upload frames: file_domain() */

/* A signed frame carries, last, an Ed25519ph signature over a 4-byte domain (what kind of
 * frame), the session nonce and the payload before the signature. */
static void
sig_start(crypto_sign_state *st, const char *domain, const uint8_t *nonce)
{
    crypto_sign_init(st);
    crypto_sign_update(st, (const uint8_t *)domain, 4);
    crypto_sign_update(st, nonce, BN_WIRE_NONCE);
}

/* Signs what w wrote after the header and appends the signature. */
static void
wr_sign(struct wr *w, const char *domain, const uint8_t *nonce, const uint8_t *sk)
{
    if (w->rc)
        return;
    uint8_t sig[BN_WIRE_SIG];
    crypto_sign_state st;
    sig_start(&st, domain, nonce);
    crypto_sign_update(&st, (const uint8_t *)w->out->p + w->start + BN_WIRE_HDR,
                       w->out->len - w->start - BN_WIRE_HDR);
    crypto_sign_final_create(&st, sig, NULL, sk);
    wr_bytes(w, sig, sizeof(sig));
}

static int
sig_verify(const char *domain, const uint8_t *signed_part, size_t signed_len, const uint8_t *sig,
           const uint8_t *nonce, const uint8_t *pk)
{
    crypto_sign_state st;
    sig_start(&st, domain, nonce);
    crypto_sign_update(&st, signed_part, signed_len);
    return crypto_sign_final_verify(&st, sig, pk) == 0 ? 0 : BN_EPROTO;
}

/* Reads the closing signature; what came before it (from the payload's start) is signed. */
static const uint8_t *
rd_sig(struct rd *r, const uint8_t **signed_part, size_t *signed_len)
{
    *signed_part = r->p;
    *signed_len = r->off;
    return rd_take(r, BN_WIRE_SIG, "signature");
}

/* ---- file upload ----------------------------------------------------------------------- */

static const char *
file_domain(int type)
{
    return type == BN_WIRE_FILE_OFFER ? "BNO1" : type == BN_WIRE_FILE_CHUNK ? "BNC1" : "BNE1";
}

int
bn_wire_file_verify(int type, const uint8_t *signed_part, size_t signed_len, const uint8_t *sig,
                    const uint8_t *nonce, const uint8_t *pk)
{
    if (!sig || !signed_part)
        return BN_EPROTO;
    return sig_verify(file_domain(type), signed_part, signed_len, sig, nonce, pk);
}

/* An attachment name is a plain file name: [A-Za-z0-9._-], not "." or "..". */
static int
name_ok(struct bn_str s)
{
    if (s.len == 0 || s.len > BN_ATTACH_NAME_MAX)
        return 0;
    if ((s.len == 1 && s.p[0] == '.') || (s.len == 2 && s.p[0] == '.' && s.p[1] == '.'))
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int
bn_wire_file_offer_encode(struct bn_buf *out, const struct bn_wire_file_offer *m,
                          const uint8_t *nonce, const uint8_t *sk)
{
    if (!name_ok(m->name) || m->action_id == 0)
        return BN_EINVAL;
    struct wr w;
    wr_begin(&w, out, BN_WIRE_FILE_OFFER);
    wr_u64(&w, m->action_id);
    wr_str(&w, m->name, BN_ATTACH_NAME_MAX);
    wr_u64(&w, m->size);
    wr_bytes(&w, m->sha256, 32);
    wr_sign(&w, file_domain(BN_WIRE_FILE_OFFER), nonce, sk);
    return wr_end(&w);
}

int
bn_wire_file_offer_decode(const uint8_t *p, size_t n, struct bn_wire_file_offer *m,
                          struct bn_wire_err *e)
{
    struct rd r;
    memset(m, 0, sizeof(*m));
    rd_init(&r, p, n, "file_offer", e);
    m->action_id = rd_u64(&r, "action_id");
    size_t name_at = r.off;
    m->name = rd_str(&r, "name", BN_ATTACH_NAME_MAX);
    if (!r.rc && !name_ok(m->name))
        r.rc = fail(e, BN_EPROTO,
                    "file_offer frame: field 'name' at byte %zu is not a plain file name "
                    "([A-Za-z0-9._-], 1..%u bytes, not . or ..)",
                    name_at, BN_ATTACH_NAME_MAX);
    m->size = rd_u64(&r, "size");
    m->sha256 = rd_take(&r, 32, "sha256");
    m->sig = rd_sig(&r, &m->signed_part, &m->signed_len);
    rd_action_id(&r, m->action_id);
    return rd_end(&r);
}

int
bn_wire_file_chunk_encode(struct bn_buf *out, const struct bn_wire_file_chunk *m,
                          const uint8_t *nonce, const uint8_t *sk)
{
    if (m->len == 0 || m->action_id == 0)
        return BN_EINVAL;
    if (m->len > BN_WIRE_CHUNK_MAX)
        return BN_ETOOBIG;
    struct wr w;
    wr_begin(&w, out, BN_WIRE_FILE_CHUNK);
    wr_u64(&w, m->action_id);
    wr_u64(&w, m->offset);
    wr_u32(&w, m->len);
    wr_bytes(&w, m->data, m->len);
    wr_sign(&w, file_domain(BN_WIRE_FILE_CHUNK), nonce, sk);
    return wr_end(&w);
}

int
bn_wire_file_chunk_decode(const uint8_t *p, size_t n, struct bn_wire_file_chunk *m,
                          struct bn_wire_err *e)
{
    struct rd r;
    memset(m, 0, sizeof(*m));
    rd_init(&r, p, n, "file_chunk", e);
    m->action_id = rd_u64(&r, "action_id");
    m->offset = rd_u64(&r, "offset");
    struct bn_str d = rd_str(&r, "data", BN_WIRE_CHUNK_MAX);
    m->data = (const uint8_t *)d.p;
    m->len = (uint32_t)d.len;
    m->sig = rd_sig(&r, &m->signed_part, &m->signed_len);
    rd_action_id(&r, m->action_id);
    if (!r.rc && m->len == 0)
        r.rc = fail(e, BN_EPROTO, "file_chunk frame: empty chunk at offset %llu",
                    (unsigned long long)m->offset);
    if (!r.rc && (m->offset > BN_ATTACH_SIZE_MAX || m->len > BN_ATTACH_SIZE_MAX - m->offset))
        r.rc = fail(e, BN_ETOOBIG,
                    "file_chunk frame: bytes %llu..%llu are past the attachment limit of %llu",
                    (unsigned long long)m->offset, (unsigned long long)(m->offset + m->len),
                    (unsigned long long)BN_ATTACH_SIZE_MAX);
    return rd_end(&r);
}

/* The signed part of FILE_END; the signature follows. */
static const struct wf file_end_fields[] = {
    WF(WF_U64, struct bn_wire_file_end, action_id, "action_id", 0),
    WF(WF_U64, struct bn_wire_file_end, size, "size", 0),
    WF(WF_BYTES, struct bn_wire_file_end, sha256, "sha256", 32),
};

int
bn_wire_file_end_encode(struct bn_buf *out, const struct bn_wire_file_end *m,
                        const uint8_t *nonce, const uint8_t *sk)
{
    if (m->action_id == 0)
        return BN_EINVAL;
    struct wr w;
    wr_begin(&w, out, BN_WIRE_FILE_END);
    wr_fields(&w, file_end_fields, BN_ARRAY_SIZE(file_end_fields), m);
    wr_sign(&w, file_domain(BN_WIRE_FILE_END), nonce, sk);
    return wr_end(&w);
}

int
bn_wire_file_end_decode(const uint8_t *p, size_t n, struct bn_wire_file_end *m,
                        struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "file_end", e, file_end_fields, BN_ARRAY_SIZE(file_end_fields), m,
             sizeof(*m));
    m->sig = rd_sig(&r, &m->signed_part, &m->signed_len);
    rd_action_id(&r, m->action_id);
    return rd_end(&r);
}

static const struct wf file_status_fields[] = {
    WF(WF_U64, struct bn_wire_file_status, action_id, "action_id", 0),
    WF(WF_U32, struct bn_wire_file_status, state, "state", 0),
    WF(WF_U64, struct bn_wire_file_status, offset, "offset", 0),
    WF(WF_TEXT, struct bn_wire_file_status, msg, "message", BN_WIRE_ERRMSG_MAX),
};

int
bn_wire_file_status_encode(struct bn_buf *out, const struct bn_wire_file_status *m)
{
    return wr_frame(out, BN_WIRE_FILE_STATUS, file_status_fields, BN_ARRAY_SIZE(file_status_fields),
                    m);
}

int
bn_wire_file_status_decode(const uint8_t *p, size_t n, struct bn_wire_file_status *m,
                           struct bn_wire_err *e)
{
    struct rd r;
    rd_frame(&r, p, n, "file_status", e, file_status_fields, BN_ARRAY_SIZE(file_status_fields), m,
             sizeof(*m));
    if (!r.rc && m->state > BN_WIRE_FILE_REFUSED)
        r.rc = fail(e, BN_EPROTO, "file_status frame: state %u is not 0..2", m->state);
    rd_action_id(&r, m->action_id);
    return rd_end(&r);
}

/* ---- batches --------------------------------------------------------------------------- */

int
bn_wire_batch_parse(const uint8_t *p, size_t n, struct bn_wire_batch *b, struct bn_wire_err *e)
{
    struct rd r;
    memset(b, 0, sizeof(*b));
    rd_init(&r, p, n, "batch", e);
    b->first_seq = rd_u64(&r, "first_seq");
    b->last_seq = rd_u64(&r, "last_seq");
    b->count = rd_u32(&r, "count");
    b->codec = rd_u8(&r, "codec");
    b->raw_len = rd_u32(&r, "raw_len");
    if (r.rc)
        return r.rc;
    if (b->count == 0 || b->count > BN_WIRE_BATCH_EVENTS_MAX)
        return fail(e, b->count ? BN_ETOOBIG : BN_EPROTO, "batch frame: %u events (must be 1..%u)",
                    b->count, BN_WIRE_BATCH_EVENTS_MAX);
    if (b->first_seq == 0 || b->last_seq < b->first_seq || b->last_seq > (uint64_t)INT64_MAX ||
        b->last_seq - b->first_seq < (uint64_t)b->count - 1)
        return fail(e, BN_EPROTO, "batch frame: seqs %llu..%llu cannot hold %u events",
                    (unsigned long long)b->first_seq, (unsigned long long)b->last_seq, b->count);
    if (b->codec != BN_WIRE_CODEC_NONE && b->codec != BN_WIRE_CODEC_ZSTD)
        return fail(e, BN_EUNSUP, "batch frame: unknown codec %u", b->codec);
    if (b->raw_len > BN_WIRE_BATCH_RAW_MAX)
        return fail(e, BN_ETOOBIG, "batch frame: %u decompressed bytes over the limit of %u",
                    b->raw_len, BN_WIRE_BATCH_RAW_MAX);
    if (b->raw_len < (uint64_t)b->count * 12)
        return fail(e, BN_EPROTO, "batch frame: %u raw bytes cannot hold %u records", b->raw_len,
                    b->count);
    struct bn_str body = rd_str(&r, "body", BN_WIRE_FRAME_MAX);
    b->body = (const uint8_t *)body.p;
    b->body_len = (uint32_t)body.len;
    if (!r.rc && b->codec == BN_WIRE_CODEC_NONE && b->body_len != b->raw_len)
        return fail(e, BN_EPROTO, "batch frame: uncompressed body of %u bytes, raw_len says %u",
                    b->body_len, b->raw_len);
    b->sig = rd_sig(&r, &b->signed_part, &b->signed_len);
    return rd_end(&r);
}

int
bn_wire_batch_verify(const struct bn_wire_batch *b, const uint8_t *nonce, const uint8_t *pk)
{
    return sig_verify(SIG_DOMAIN, b->signed_part, b->signed_len, b->sig, nonce, pk);
}

struct bn_wire_unpacker {
    ZSTD_DCtx *z;
    uint8_t *raw;
    size_t raw_cap;
    struct bn_wire_event *ev;
    size_t ev_cap;
};

int
bn_wire_unpacker_new(struct bn_wire_unpacker **out)
{
    struct bn_wire_unpacker *u = bn_calloc(1, sizeof(*u));
    *out = NULL;
    if (sodium_init() < 0) {
        bn_free(u);
        return BN_EINTERNAL;
    }
    if (!u)
        return BN_ENOMEM;
    u->z = ZSTD_createDCtx();
    if (!u->z) {
        bn_free(u);
        return BN_ENOMEM;
    }
    *out = u;
    return 0;
}

void
bn_wire_unpacker_free(struct bn_wire_unpacker *u)
{
    if (!u)
        return;
    ZSTD_freeDCtx(u->z);
    bn_free(u->raw);
    bn_free(u->ev);
    bn_free(u);
}

int
bn_wire_unpack(struct bn_wire_unpacker *u, const struct bn_wire_batch *b,
               const struct bn_wire_event **ev, size_t *n, struct bn_wire_err *e)
{
    *ev = NULL;
    *n = 0;
    const uint8_t *raw;
    if (b->codec == BN_WIRE_CODEC_ZSTD) {
        unsigned long long fsz = ZSTD_getFrameContentSize(b->body, b->body_len);
        if (fsz == ZSTD_CONTENTSIZE_ERROR)
            return fail(e, BN_EPROTO, "batch body: not a zstd frame");
        if (fsz != ZSTD_CONTENTSIZE_UNKNOWN && fsz != b->raw_len)
            return fail(e, BN_EPROTO, "batch body: zstd frame says %llu bytes, raw_len %u", fsz,
                        b->raw_len);
        if (u->raw_cap < (size_t)b->raw_len + 1) {
            uint8_t *nr = bn_realloc(u->raw, (size_t)b->raw_len + 1);
            if (!nr)
                return BN_ENOMEM;
            u->raw = nr;
            u->raw_cap = (size_t)b->raw_len + 1;
        }
        /* one byte of room more than announced: a body that decompresses to more is caught */
        size_t got =
            ZSTD_decompressDCtx(u->z, u->raw, (size_t)b->raw_len + 1, b->body, b->body_len);
        if (ZSTD_isError(got))
            return fail(e, BN_EPROTO, "batch body: zstd: %s", ZSTD_getErrorName(got));
        if (got != b->raw_len)
            return fail(e, BN_EPROTO, "batch body: decompressed to %zu bytes, raw_len says %u", got,
                        b->raw_len);
        raw = u->raw;
    } else {
        raw = b->body;
    }
    if (u->ev_cap < b->count) {
        struct bn_wire_event *ne = bn_reallocarray(u->ev, b->count, sizeof(*ne));
        if (!ne)
            return BN_ENOMEM;
        u->ev = ne;
        u->ev_cap = b->count;
    }
    size_t off = 0;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        if (b->raw_len - off < 12)
            return fail(e, BN_EPROTO, "batch body: record %u at byte %zu: header cut short", i,
                        off);
        uint64_t seq = get64(raw + off);
        uint32_t len = get32(raw + off + 8);
        off += 12;
        if (len > BN_WIRE_EVENT_MAX)
            return fail(e, BN_ETOOBIG, "batch body: record %u (seq %llu): %u bytes over %u", i,
                        (unsigned long long)seq, len, BN_WIRE_EVENT_MAX);
        if (b->raw_len - off < len)
            return fail(e, BN_EPROTO, "batch body: record %u at byte %zu: %u bytes, %zu left", i,
                        off - 12, len, b->raw_len - off);
        if (i == 0 ? seq != b->first_seq : seq <= prev)
            return fail(e, BN_EPROTO, "batch body: record %u: seq %llu out of order", i,
                        (unsigned long long)seq);
        u->ev[i].seq = seq;
        u->ev[i].data = (const char *)raw + off;
        u->ev[i].len = len;
        off += len;
        prev = seq;
    }
    if (prev != b->last_seq)
        return fail(e, BN_EPROTO, "batch body: last record has seq %llu, the header says %llu",
                    (unsigned long long)prev, (unsigned long long)b->last_seq);
    if (off != b->raw_len)
        return fail(e, BN_EPROTO, "batch body: %zu bytes after the last record",
                    (size_t)b->raw_len - off);
    *ev = u->ev;
    *n = b->count;
    return 0;
}

struct bn_wire_packer {
    ZSTD_CCtx *z;
    int level;
    struct bn_buf raw;
    size_t count;
    uint64_t first_seq, last_seq;
    uint8_t *cbuf;
    size_t ccap;
};

int
bn_wire_packer_new(struct bn_wire_packer **out, int zstd_level)
{
    struct bn_wire_packer *p = bn_calloc(1, sizeof(*p));
    *out = NULL;
    if (sodium_init() < 0) {
        bn_free(p);
        return BN_EINTERNAL;
    }
    if (!p)
        return BN_ENOMEM;
    p->z = ZSTD_createCCtx();
    if (!p->z) {
        bn_free(p);
        return BN_ENOMEM;
    }
    p->level = zstd_level;
    bn_buf_init(&p->raw, BN_WIRE_BATCH_RAW_MAX);
    *out = p;
    return 0;
}

void
bn_wire_packer_free(struct bn_wire_packer *p)
{
    if (!p)
        return;
    ZSTD_freeCCtx(p->z);
    bn_buf_release(&p->raw);
    bn_free(p->cbuf);
    bn_free(p);
}

void
bn_wire_packer_reset(struct bn_wire_packer *p)
{
    bn_buf_reset(&p->raw);
    p->count = 0;
    p->first_seq = p->last_seq = 0;
}

size_t
bn_wire_packer_count(const struct bn_wire_packer *p)
{
    return p->count;
}

size_t
bn_wire_packer_raw_len(const struct bn_wire_packer *p)
{
    return p->raw.len;
}

uint64_t
bn_wire_packer_last_seq(const struct bn_wire_packer *p)
{
    return p->last_seq;
}

int
bn_wire_packer_add(struct bn_wire_packer *p, uint64_t seq, const void *data, size_t len)
{
    if (seq == 0 || (p->count && seq <= p->last_seq))
        return BN_EINVAL;
    if (len > BN_WIRE_EVENT_MAX || p->count >= BN_WIRE_BATCH_EVENTS_MAX ||
        p->raw.len + 12 + len > BN_WIRE_BATCH_RAW_MAX)
        return BN_ETOOBIG;
    uint8_t h[12];
    put64(h, seq);
    put32(h + 8, (uint32_t)len);
    size_t at = p->raw.len;
    int rc = bn_buf_append(&p->raw, h, sizeof(h));
    if (!rc)
        rc = bn_buf_append(&p->raw, data, len);
    if (rc) {
        p->raw.len = at;
        return rc;
    }
    if (!p->count)
        p->first_seq = seq;
    p->last_seq = seq;
    p->count++;
    return 0;
}

int
bn_wire_packer_seal(struct bn_wire_packer *p, const uint8_t *nonce, const uint8_t *sk,
                    struct bn_buf *out)
{
    if (!p->count)
        return BN_EINVAL;
    size_t bound = ZSTD_compressBound(p->raw.len);
    if (p->ccap < bound) {
        uint8_t *nc = bn_realloc(p->cbuf, bound);
        if (!nc)
            return BN_ENOMEM;
        p->cbuf = nc;
        p->ccap = bound;
    }
    size_t clen = ZSTD_compressCCtx(p->z, p->cbuf, p->ccap, p->raw.p, p->raw.len, p->level);
    if (ZSTD_isError(clen))
        return BN_EINTERNAL;
    if (clen > BN_WIRE_FRAME_MAX - 256)
        return BN_ETOOBIG;
    struct wr w;
    wr_begin(&w, out, BN_WIRE_BATCH);
    wr_u64(&w, p->first_seq);
    wr_u64(&w, p->last_seq);
    wr_u32(&w, (uint32_t)p->count);
    wr_u8(&w, BN_WIRE_CODEC_ZSTD);
    wr_u32(&w, (uint32_t)p->raw.len);
    wr_u32(&w, (uint32_t)clen);
    wr_bytes(&w, p->cbuf, clen);
    wr_sign(&w, SIG_DOMAIN, nonce, sk);
    return wr_end(&w);
}

/* ---- helpers ---------------------------------------------------------------------------- */

