/*
 * uplink.c - the agent's link thread (see uplink.h): spool -> signed batches -> manager,
 * acks back into the spool, heartbeats, reconnects with backoff and jitter.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"

#include "agent/uplink.h"

#define WINDOW_MAX 64

struct uplink {
    struct uplink_conf c;
    char dir[4096], server[300], host[256];
    struct bn_wire_ident id;
    pthread_t thr;
    bool running;
    _Atomic bool stop;
    pthread_mutex_t mu; /* stats, stop wait */
    pthread_cond_t cv;
    struct uplink_stats st;
    struct bn_wire_packer *packer;
    struct bn_buf frame;
    struct bn_buf health;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* Sleeps ms unless stopped. Returns true when stopping. */
static bool
nap(struct uplink *u, int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000l;
    if (dl.tv_nsec >= 1000000000l) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000l;
    }
    pthread_mutex_lock(&u->mu);
    while (!atomic_load(&u->stop) && pthread_cond_timedwait(&u->cv, &u->mu, &dl) != ETIMEDOUT)
        ;
    pthread_mutex_unlock(&u->mu);
    return atomic_load(&u->stop);
}

static void
set_error(struct uplink *u, const char *msg)
{
    pthread_mutex_lock(&u->mu);
    size_t n = strnlen(msg, sizeof(u->st.last_error) - 1); /* cut long reasons */
    memcpy(u->st.last_error, msg, n);
    u->st.last_error[n] = '\0';
    pthread_mutex_unlock(&u->mu);
}

#define STAT_ADD(u, f, n)                                                                          \
    do {                                                                                           \
        pthread_mutex_lock(&(u)->mu);                                                              \
        (u)->st.f += (n);                                                                          \
        pthread_mutex_unlock(&(u)->mu);                                                            \
    } while (0)

/* Fills the packer from the spool (under its lock). Returns the number of events. */
static size_t
fill(struct uplink *u)
{
    size_t max_ev = u->c.batch_events, max_raw = u->c.batch_bytes;
    bn_wire_packer_reset(u->packer);
    pthread_mutex_lock(u->c.spool_mu);
    while (bn_wire_packer_count(u->packer) < max_ev &&
           bn_wire_packer_raw_len(u->packer) < max_raw) {
        struct agent_spool_rec r;
        if (agent_spool_next(u->c.spool, &r) != 0)
            break;
        int rc = bn_wire_packer_add(u->packer, r.seq, r.data, r.len);
        if (rc) {
            /* full (or refused): this record goes in the next batch */
            agent_spool_rewind(u->c.spool, r.seq - 1);
            if (!bn_wire_packer_count(u->packer)) {
                BN_ERROR("uplink", "spool record %llu of %zu bytes cannot be sent: %s",
                         (unsigned long long)r.seq, r.len, bn_strerror(rc));
                agent_spool_rewind(u->c.spool, r.seq); /* skip it, counted in the log */
                continue;
            }
            break;
        }
    }
    pthread_mutex_unlock(u->c.spool_mu);
    return bn_wire_packer_count(u->packer);
}

static int
send_heartbeat(struct uplink *u, struct bn_wire_conn *conn)
{
    int tier = 0;
    bn_buf_reset(&u->health);
    if (u->c.health)
        u->c.health(u->c.health_ctx, &u->health, &tier);
    if (!u->health.len)
        bn_buf_puts(&u->health, "{}");
    struct bn_wire_heartbeat hb = {(uint64_t)wall_ns(),
                                   (uint32_t)(tier < 0 || tier > 3 ? 0 : tier),
                                   {u->health.p, u->health.len}};
    bn_buf_reset(&u->frame);
    int rc = bn_wire_heartbeat_encode(&u->frame, &hb);
    if (!rc)
        rc = bn_wire_send(conn, u->frame.p, u->frame.len);
    if (!rc)
        STAT_ADD(u, heartbeats, 1);
    return rc;
}

#define RESULT_RESEND_MS 5000 /* an unacknowledged result is sent again after this */

static int
send_result(void *ctx, uint64_t id, uint32_t status, const char *json, size_t len)
{
    void **a = ctx;
    struct uplink *u = a[0];
    struct bn_wire_conn *conn = a[1];
    struct bn_wire_result m = {id, status, {json, len}};
    bn_buf_reset(&u->frame);
    int rc = bn_wire_result_encode(&u->frame, &m);
    if (rc == BN_ETOOBIG) {
        /* never over the limit in practice (executors bound their results): say so */
        static const char big[] = "{\"ok\":false,\"error\":\"result over the frame limit\"}";
        struct bn_wire_result m2 = {id, BN_WIRE_ACT_FAILED, {big, sizeof(big) - 1}};
        rc = bn_wire_result_encode(&u->frame, &m2);
    }
    if (!rc)
        rc = bn_wire_send(conn, u->frame.p, u->frame.len);
    if (!rc)
        STAT_ADD(u, results_sent, 1);
    return rc;
}

/* An ACTION frame: handed to the worker (never run here). A bad frame ends the session. */
static int
on_action(struct uplink *u, struct bn_wire_conn *conn, const uint8_t *p, uint32_t len,
          char *err, size_t errsz)
{
    struct bn_wire_action m;
    struct bn_wire_err e;
    int rc = bn_wire_action_decode(p, len, &m, &e);
    if (rc) {
        snprintf(err, errsz, "bad action frame from the manager: %s", e.msg);
        return rc;
    }
    STAT_ADD(u, actions_received, 1);
    if (!u->c.actions) {
        static const char no[] = "{\"ok\":false,\"error\":\"response actions are not enabled on "
                                 "this agent\"}";
        void *a[2] = {u, conn};
        return send_result(a, m.action_id, BN_WIRE_ACT_FAILED, no, sizeof(no) - 1);
    }
    rc = action_queue_push(u->c.actions, m.action_id, m.type.p, m.type.len, m.params.p,
                           m.params.len, m.expires_ns);
    if (rc)
        BN_WARN("uplink", "action %llu not queued: %s", (unsigned long long)m.action_id,
                bn_strerror(rc));
    return 0;
}

/* ---- file uploads (docs/RESPONSE.md "Upload and attachment") ------------------------------ */

#define UPLOAD_CHUNK     (256u << 10) /* bytes per FILE_CHUNK */
#define UPLOAD_BURST     4            /* chunks per loop turn (the link stays responsive) */
#define UPLOAD_RESEND_MS 3000         /* an unanswered OFFER or END is sent again */

enum { UP_IDLE = 0, UP_OFFERED, UP_SENDING, UP_ENDED };

struct upload {
    struct action_upload a;
    int fd;
    int phase;
    uint64_t off;
    int64_t t_ms;
    uint8_t *buf;
};

static void
upload_close(struct upload *up)
{
    if (up->fd >= 0)
        close(up->fd);
    up->fd = -1;
    up->phase = UP_IDLE;
}

static int
upload_send_offer(struct uplink *u, struct bn_wire_conn *conn, struct upload *up,
                  const uint8_t *nonce)
{
    struct bn_wire_file_offer m = {up->a.id,     {up->a.name, strlen(up->a.name)},
                                   up->a.size,   up->a.sha256,
                                   NULL,         NULL,
                                   0};
    bn_buf_reset(&u->frame);
    int rc = bn_wire_file_offer_encode(&u->frame, &m, nonce, u->id.sk);
    if (!rc)
        rc = bn_wire_send(conn, u->frame.p, u->frame.len);
    up->phase = UP_OFFERED;
    up->t_ms = mono_ms();
    return rc;
}

static int
upload_send_end(struct uplink *u, struct bn_wire_conn *conn, struct upload *up,
                const uint8_t *nonce)
{
    struct bn_wire_file_end m = {up->a.id, up->a.size, up->a.sha256, NULL, NULL, 0};
    bn_buf_reset(&u->frame);
    int rc = bn_wire_file_end_encode(&u->frame, &m, nonce, u->id.sk);
    if (!rc)
        rc = bn_wire_send(conn, u->frame.p, u->frame.len);
    up->phase = UP_ENDED;
    up->t_ms = mono_ms();
    return rc;
}

/* Starts the next upload, sends chunks, resends an unanswered OFFER/END. 0 or a send error. */
static int
upload_step(struct uplink *u, struct bn_wire_conn *conn, struct upload *up, const uint8_t *nonce)
{
    if (!u->c.actions)
        return 0;
    while (up->phase == UP_IDLE) {
        /* oldest first; one that cannot start is given up (done), so the next one comes */
        if (action_queue_upload_next(u->c.actions, 0, &up->a) != 0)
            return 0;
        up->fd = open(up->a.path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat sb;
        if (up->fd < 0 || fstat(up->fd, &sb) != 0 || (uint64_t)sb.st_size != up->a.size) {
            BN_WARN("uplink", "package '%s' of action %llu cannot be uploaded: %s",
                    up->a.path, (unsigned long long)up->a.id,
                    up->fd < 0 ? strerror(errno) : "its size changed since the action");
            upload_close(up);
            action_queue_upload_done(u->c.actions, up->a.id, false);
            STAT_ADD(u, uploads_refused, 1);
            continue;
        }
        return upload_send_offer(u, conn, up, nonce);
    }
    int64_t now = mono_ms();
    if (up->phase == UP_OFFERED && now - up->t_ms > UPLOAD_RESEND_MS)
        return upload_send_offer(u, conn, up, nonce);
    if (up->phase == UP_ENDED && now - up->t_ms > UPLOAD_RESEND_MS)
        return upload_send_end(u, conn, up, nonce);
    for (int i = 0; up->phase == UP_SENDING && i < UPLOAD_BURST; i++) {
        if (up->off >= up->a.size)
            return upload_send_end(u, conn, up, nonce);
        size_t want = (size_t)BN_MIN((uint64_t)UPLOAD_CHUNK, up->a.size - up->off);
        ssize_t k = pread(up->fd, up->buf, want, (off_t)up->off);
        if (k <= 0) {
            BN_WARN("uplink", "reading '%s' at byte %llu: %s (upload given up; the package stays)",
                    up->a.path, (unsigned long long)up->off,
                    k < 0 ? strerror(errno) : "short file");
            upload_close(up);
            action_queue_upload_done(u->c.actions, up->a.id, false);
            STAT_ADD(u, uploads_refused, 1);
            return 0;
        }
        struct bn_wire_file_chunk m = {up->a.id, up->off, up->buf, (uint32_t)k, NULL, NULL, 0};
        bn_buf_reset(&u->frame);
        int rc = bn_wire_file_chunk_encode(&u->frame, &m, nonce, u->id.sk);
        if (!rc)
            rc = bn_wire_send(conn, u->frame.p, u->frame.len);
        if (rc)
            return rc;
        up->off += (uint64_t)k;
        STAT_ADD(u, upload_bytes, (uint64_t)k);
    }
    return 0;
}

/* A FILE_STATUS frame from the manager. A bad one ends the session. */
static int
upload_status(struct uplink *u, struct upload *up, const uint8_t *p, uint32_t len, char *err,
              size_t errsz)
{
    struct bn_wire_file_status m;
    struct bn_wire_err e;
    if (bn_wire_file_status_decode(p, len, &m, &e) != 0) {
        snprintf(err, errsz, "bad file_status frame: %s", e.msg);
        return BN_EPROTO;
    }
    if (up->phase == UP_IDLE || m.action_id != up->a.id)
        return 0; /* an answer to an OFFER/END sent again for an upload already settled */
    if (m.state == BN_WIRE_FILE_SEND) {
        if (up->phase != UP_OFFERED)
            return 0;
        if (m.offset > up->a.size) {
            snprintf(err, errsz, "file_status: resume at %llu past the file's %llu bytes",
                     (unsigned long long)m.offset, (unsigned long long)up->a.size);
            return BN_EPROTO;
        }
        if (m.offset)
            BN_INFO("uplink", "upload of action %llu resumes at byte %llu of %llu",
                    (unsigned long long)up->a.id, (unsigned long long)m.offset,
                    (unsigned long long)up->a.size);
        up->off = m.offset;
        up->phase = UP_SENDING;
        return 0;
    }
    uint64_t id = up->a.id;
    upload_close(up);
    if (m.state == BN_WIRE_FILE_STORED) {
        BN_INFO("uplink", "package '%s' of action %llu stored by the manager: deleted here",
                up->a.path, (unsigned long long)id);
        action_queue_upload_done(u->c.actions, id, true);
        STAT_ADD(u, uploads_stored, 1);
    } else {
        BN_WARN("uplink", "the manager refused the package '%s' of action %llu: %.*s (kept here)",
                up->a.path, (unsigned long long)id, (int)m.msg.len, m.msg.p);
        action_queue_upload_done(u->c.actions, id, false);
        STAT_ADD(u, uploads_refused, 1);
    }
    return 0;
}

/* One session: returns when the connection fails or the uplink stops. */
static void session_loop(struct uplink *u, struct bn_wire_conn *conn, const uint8_t *nonce,
                         struct upload *up, void **rctx, char *err, size_t errsz);

static void
session(struct uplink *u, struct bn_wire_conn *conn, const uint8_t *nonce)
{
    char err[300];
    void *rctx[2] = {u, conn};
    struct upload up;
    memset(&up, 0, sizeof(up));
    up.fd = -1;
    if (u->c.actions) {
        action_queue_session(u->c.actions);
        up.buf = bn_malloc(UPLOAD_CHUNK);
        if (!up.buf) {
            set_error(u, "out of memory for uploads");
            return;
        }
    }
    session_loop(u, conn, nonce, &up, rctx, err, sizeof(err));
    upload_close(&up);
    bn_free(up.buf);
}

static void
session_loop(struct uplink *u, struct bn_wire_conn *conn, const uint8_t *nonce, struct upload *up,
             void **rctx, char *err, size_t errsz)
{
    uint64_t inflight[WINDOW_MAX], inflight_n[WINDOW_MAX];
    unsigned head = 0, count = 0;
    int64_t next_hb = 0, last_progress = mono_ms();
    while (!atomic_load(&u->stop)) {
        int64_t now = mono_ms();
        if (u->c.actions && action_queue_results(u->c.actions, RESULT_RESEND_MS, send_result,
                                                 rctx) != 0) {
            set_error(u, "sending an action result failed");
            return;
        }
        if (now >= next_hb) {
            if (send_heartbeat(u, conn) != 0) {
                set_error(u, "heartbeat: send failed");
                return;
            }
            next_hb = now + u->c.heartbeat_ms;
        }
        while (count < u->c.window) {
            size_t n = fill(u);
            if (!n)
                break;
            bn_buf_reset(&u->frame);
            int rc = bn_wire_packer_seal(u->packer, nonce, u->id.sk, &u->frame);
            if (!rc)
                rc = bn_wire_send(conn, u->frame.p, u->frame.len);
            if (rc) {
                snprintf(err, errsz, "sending a batch: %s", bn_strerror(rc));
                set_error(u, err);
                return;
            }
            if (!count)
                last_progress = now;
            inflight[(head + count) % WINDOW_MAX] = bn_wire_packer_last_seq(u->packer);
            inflight_n[(head + count) % WINDOW_MAX] = n;
            count++;
            STAT_ADD(u, batches_sent, 1);
        }
        if (upload_step(u, conn, up, nonce) != 0) {
            set_error(u, "sending a file upload frame failed");
            return;
        }
        int wait = count ? 500 : 200;
        if (up->phase == UP_SENDING)
            wait = 0; /* chunks to send: only look at what has arrived */
        else if (up->phase != UP_IDLE && wait > 50)
            wait = 50;
        if (u->c.actions) {
            /* an action may be running: look for its result soon */
            struct action_queue_stats as;
            action_queue_get_stats(u->c.actions, &as);
            if (as.received > as.ran + as.expired + as.refused_full + as.duplicates)
                wait = 20;
        }
        int64_t to_hb = next_hb - mono_ms();
        if (to_hb < wait)
            wait = to_hb < 0 ? 0 : (int)to_hb;
        int type;
        const uint8_t *p;
        uint32_t len;
        struct bn_wire_err e;
        int rc = bn_wire_recv(conn, wait, &type, &p, &len, &e);
        if (rc == BN_AGAIN) {
            if (count && mono_ms() - last_progress > u->c.ack_timeout_ms) {
                set_error(u, "no acknowledgement in time: reconnecting");
                return;
            }
            continue;
        }
        if (rc) {
            snprintf(err, errsz, "receiving: %s", rc == BN_EPROTO ? e.msg : bn_strerror(rc));
            set_error(u, err);
            return;
        }
        if (type == BN_WIRE_ERROR) {
            struct bn_wire_error m;
            if (bn_wire_error_decode(p, len, &m, &e) == 0)
                snprintf(err, errsz, "manager refused: %.*s", (int)m.msg.len, m.msg.p);
            else
                snprintf(err, errsz, "manager sent a bad error frame: %s", e.msg);
            BN_WARN("uplink", "%s", err);
            set_error(u, err);
            STAT_ADD(u, refusals, 1);
            return;
        }
        if (type == BN_WIRE_ACTION) {
            if (on_action(u, conn, p, len, err, errsz) != 0) {
                set_error(u, err);
                return;
            }
            continue;
        }
        if (type == BN_WIRE_FILE_STATUS) {
            if (upload_status(u, up, p, len, err, errsz) != 0) {
                set_error(u, err);
                return;
            }
            continue;
        }
        if (type == BN_WIRE_RESULT_ACK) {
            uint64_t aid;
            if (bn_wire_result_ack_decode(p, len, &aid, &e) != 0) {
                snprintf(err, errsz, "bad result_ack frame: %s", e.msg);
                set_error(u, err);
                return;
            }
            if (u->c.actions && action_queue_ack(u->c.actions, aid) == 0)
                STAT_ADD(u, results_acked, 1);
            continue;
        }
        struct bn_wire_ack ack;
        if (type != BN_WIRE_ACK || bn_wire_ack_decode(p, len, &ack, &e) != 0 || !count ||
            ack.last_seq != inflight[head]) {
            snprintf(err, errsz, "unexpected %s frame from the manager",
                     bn_wire_type_name(type));
            set_error(u, err);
            return;
        }
        pthread_mutex_lock(u->c.spool_mu);
        rc = agent_spool_ack(u->c.spool, ack.last_seq);
        pthread_mutex_unlock(u->c.spool_mu);
        if (rc)
            BN_WARN("uplink", "cannot record the ack of seq %llu: %s",
                    (unsigned long long)ack.last_seq, bn_strerror(rc));
        pthread_mutex_lock(&u->mu);
        u->st.batches_acked++;
        u->st.events_acked += inflight_n[head];
        u->st.acked_seq = ack.last_seq;
        pthread_mutex_unlock(&u->mu);
        head = (head + 1) % WINDOW_MAX;
        count--;
        last_progress = mono_ms();
    }
}

static void *
uplink_main(void *arg)
{
    struct uplink *u = arg;
    int64_t backoff = u->c.backoff_min_ms;
    bool warned = false;
    char err[512];
    while (!atomic_load(&u->stop)) {
        struct agent_spool_stats ss;
        pthread_mutex_lock(u->c.spool_mu);
        agent_spool_stats(u->c.spool, &ss);
        agent_spool_rewind(u->c.spool, ss.acked_seq);
        pthread_mutex_unlock(u->c.spool_mu);
        struct bn_wire_hello h = {{u->host, strlen(u->host)},
                                  {BN_VERSION, strlen(BN_VERSION)},
                                  (uint64_t)u->c.heartbeat_ms,
                                  ss.acked_seq,
                                  ss.next_seq};
        struct bn_wire_conn *conn = NULL;
        uint8_t nonce[BN_WIRE_NONCE];
        uint64_t last = 0;
        int rc = bn_wire_session_open(&conn, &u->id, u->server, &h, 10000, nonce, &last, err,
                                      sizeof(err));
        if (rc) {
            STAT_ADD(u, connect_failures, 1);
            set_error(u, err);
            if (!warned)
                BN_WARN("uplink", "cannot reach the manager: %s (retrying with backoff)", err);
            warned = true;
            /* full jitter over [backoff/2, backoff] */
            uint32_t r = randombytes_uniform((uint32_t)(backoff / 2 + 1));
            if (nap(u, backoff / 2 + r))
                break;
            backoff = BN_MIN(backoff * 2, u->c.backoff_max_ms);
            continue;
        }
        if (warned)
            BN_WARN("uplink", "connected to the manager again");
        warned = false;
        backoff = u->c.backoff_min_ms;
        BN_INFO("uplink", "session open (acked %llu, manager has %llu)",
                (unsigned long long)ss.acked_seq, (unsigned long long)last);
        pthread_mutex_lock(&u->mu);
        u->st.connects++;
        u->st.connected = true;
        pthread_mutex_unlock(&u->mu);
        int64_t started = mono_ms();
        session(u, conn, nonce);
        bn_wire_close(conn);
        pthread_mutex_lock(&u->mu);
        u->st.connected = false;
        pthread_mutex_unlock(&u->mu);
        /* unacknowledged batches are read again from the spool by the next session */
        if (!atomic_load(&u->stop) && mono_ms() - started < 1000) {
            /* a session that fails at once (refused): back off as for a failed connect */
            uint32_t r = randombytes_uniform((uint32_t)(backoff / 2 + 1));
            if (nap(u, backoff / 2 + r))
                break;
            backoff = BN_MIN(backoff * 2, u->c.backoff_max_ms);
        }
    }
    return NULL;
}

int
uplink_start(struct uplink **out, const struct uplink_conf *c, char *err, size_t errsz)
{
    *out = NULL;
    if (!c->spool || !c->spool_mu || !c->link_dir) {
        snprintf(err, errsz, "the manager link needs a spool (output.spool_dir)");
        return BN_EINVAL;
    }
    struct uplink *u = bn_calloc(1, sizeof(*u));
    if (!u)
        return BN_ENOMEM;
    u->c = *c;
    snprintf(u->dir, sizeof(u->dir), "%s", c->link_dir);
    snprintf(u->server, sizeof(u->server), "%s", c->server ? c->server : "");
    snprintf(u->host, sizeof(u->host), "%s", c->hostname ? c->hostname : "");
    u->c.link_dir = u->dir;
    u->c.server = u->server;
    u->c.hostname = u->host;
    if (!u->c.batch_events || u->c.batch_events > BN_WIRE_BATCH_EVENTS_MAX)
        u->c.batch_events = 2000;
    if (!u->c.batch_bytes || u->c.batch_bytes > BN_WIRE_BATCH_RAW_MAX / 2)
        u->c.batch_bytes = 1u << 20;
    if (!u->c.window || u->c.window > WINDOW_MAX)
        u->c.window = 4;
    if (u->c.backoff_min_ms <= 0)
        u->c.backoff_min_ms = 250;
    if (u->c.backoff_max_ms < u->c.backoff_min_ms)
        u->c.backoff_max_ms = BN_MAX(30000, u->c.backoff_min_ms);
    if (u->c.ack_timeout_ms <= 0)
        u->c.ack_timeout_ms = 30000;
    if (u->c.heartbeat_ms < 100)
        u->c.heartbeat_ms = 60000;
    pthread_mutex_init(&u->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&u->cv, &ca);
    pthread_condattr_destroy(&ca);
    bn_buf_init(&u->frame, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    bn_buf_init(&u->health, BN_WIRE_HEALTH_MAX);
    int rc = bn_wire_ident_load(u->dir, &u->id, err, errsz);
    if (!rc)
        rc = bn_wire_packer_new(&u->packer, 1);
    if (!rc && pthread_create(&u->thr, NULL, uplink_main, u) != 0)
        rc = BN_EINTERNAL;
    if (rc) {
        uplink_stop(u);
        return rc;
    }
    u->running = true;
    *out = u;
    return 0;
}

void
uplink_stop(struct uplink *u)
{
    if (!u)
        return;
    if (u->running) {
        /* connected: give what is left in the spool up to 2 s to be acknowledged */
        for (int i = 0; i < 200; i++) {
            struct agent_spool_stats ss;
            pthread_mutex_lock(u->c.spool_mu);
            agent_spool_stats(u->c.spool, &ss);
            pthread_mutex_unlock(u->c.spool_mu);
            pthread_mutex_lock(&u->mu);
            bool connected = u->st.connected;
            pthread_mutex_unlock(&u->mu);
            if (!connected || ss.acked_seq + 1 >= ss.next_seq)
                break;
            struct timespec ts = {0, 10 * 1000000l};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&u->mu);
        atomic_store(&u->stop, true);
        pthread_cond_broadcast(&u->cv);
        pthread_mutex_unlock(&u->mu);
        pthread_join(u->thr, NULL);
    }
    bn_wire_packer_free(u->packer);
    bn_buf_release(&u->frame);
    bn_buf_release(&u->health);
    sodium_memzero(u->id.sk, sizeof(u->id.sk));
    pthread_cond_destroy(&u->cv);
    pthread_mutex_destroy(&u->mu);
    bn_free(u);
}

void
uplink_stats(struct uplink *u, struct uplink_stats *s)
{
    pthread_mutex_lock(&u->mu);
    *s = u->st;
    pthread_mutex_unlock(&u->mu);
}
