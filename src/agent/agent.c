/*
 * agent.c - the core of bannin-agent: the agent object, the bounded emit queue that every
 * collector feeds, and the loop thread that enriches each event from the process table,
 * filters file events, runs local Sigma detection (with correlations) and writes events and
 * alerts to the spool and to --stdout / --output.
 *
 * Queue: one FIFO per priority under one mutex, with a total bound. A full queue evicts the
 * oldest event of the lowest priority below the incoming one, or refuses the incoming event;
 * either way the drop is counted by priority and kind. The loop takes events oldest first
 * across the priorities (an arrival number), so order is kept while nothing is shed.
 *
 * Budgets: every limits.check_interval the loop measures its own CPU (getrusage) and RSS;
 * above a budget it samples bulk and normal events (keep 1 of 2^shift, counted) and emits a
 * status event; it relaxes step by step when back under. The agent degrades, never exits.
 *
 * Tiers: agent_start probes the collectors in tier order (bpf, netlink, poll) or only the
 * forced one; every tier that cannot be used and every collector that fails is a status
 * event, so a degraded agent is never silent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/correlate.h"
#include "bannin/engine.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/mapping.h"
#include "bannin/reader.h"
#include "bannin/record.h"
#include "bannin/sigma.h"
#include "bannin/timeutil.h"

#include "bannin/wire.h"

#include "agent/agent.h"
#include "agent/event_json.h"
#include "agent/persist.h"
#include "agent/proctable.h"
#include "agent/spool.h"
#include "agent/action_queue.h"
#include "agent/respond.h"
#include "agent/respond_log.h"
#include "agent/uplink.h"


/* Collectors: weak, so the agent builds while they are being written; missing ones are
 * reported by --check and skipped. See agent_collectors_linked below for strong refs. */
extern const struct agent_collector_ops agent_collector_bpf __attribute__((weak));
extern const struct agent_collector_ops agent_collector_proc_connector __attribute__((weak));
extern const struct agent_collector_ops agent_collector_fanotify __attribute__((weak));
extern const struct agent_collector_ops agent_collector_proc_poll __attribute__((weak));
extern const struct agent_collector_ops agent_collector_auth __attribute__((weak));
/* Weak too: reading the eBPF counters must not pull the collector into programs (tests)
 * that do not link it. */
#pragma weak agent_bpf_stats
#pragma weak agent_auth_stats
extern int agent_fanotify_start_conf(struct agent *a, const struct agent_fanotify_conf *conf,
                                     void **state, struct bn_diag *d) __attribute__((weak));
extern int agent_poll_start_conf(struct agent *a, const struct agent_poll_conf *conf,
                                 void **state, struct bn_diag *d) __attribute__((weak));
extern int agent_bpf_start_conf(struct agent *a, const struct agent_bpf_conf *conf,
                                void **state, struct bn_diag *d) __attribute__((weak));

#define AGENT_COLLECTORS_MAX 8
#define AGENT_PATHS_MAX 64
#define AGENT_JSON_MAX (4u << 20)
#define AGENT_DRAIN_BATCH 256
/* Records of a drained batch wait here to be spooled with one write (their events and
 * alerts): beyond this many records or bytes the loop spools what it has and goes on. */
#define AGENT_PEND_RECS 1024
#define AGENT_PEND_BYTES (8u << 20)
#define AGENT_OUT_BUF (256u << 10) /* stdio buffer of an --output file */
/* An --output file is flushed at most this often while ordinary events flow (by the drained
 * batch, the collector's next empty poll or the loop's idle wait, whichever comes first): a
 * write() per drained batch cost a syscall per event or two at a few thousand events/s, and
 * one per ring-buffer poll (~30-40 us into ext4 each) ~10 % of the agent's CPU at a build's
 * rate. A batch that wrote a critical record (an alert, tamper or status event) flushes at
 * its end. The spool has its own durability rules. */
#define AGENT_FLUSH_NS (100 * 1000000ll)
/* How often live processes of the table are checked for having vanished without an exit
 * event (lost in the ring buffer or shed from a full queue). */
#define AGENT_SWEEP_NS (30 * 1000000000ll)
/* After a wakeup the loop lingers this long before draining, so that a burst of events costs
 * one wakeup (and one output write) per batch instead of one per event: at a few thousand
 * events per second the per-event futex wakeups and context switches of the loop thread cost
 * more CPU than the processing itself. It bounds the added latency of an event. */
#define AGENT_LINGER_NS (2 * 1000000l)
/* A burst of at most this many queued events is processed on the emitter's thread when the
 * loop sleeps (bigger ones, or more than AGENT_HELP_BATCHES batches, are the loop's). */
#define AGENT_HELP_MAX AGENT_DRAIN_BATCH
#define AGENT_HELP_BATCHES 4
#define AGENT_ANCESTOR_CMDLINE_MAX 4096 /* bytes of each ancestor command line in an alert */
#define ALERT_RECENT_SLOTS 1024           /* remembered (rule, process, file) alerts */
#define ALERT_REPEAT_NS 2000000000LL      /* a file alert repeated within this is not re-raised */
#define AGENT_SAMPLE_SHIFT_MAX 6
/* Autonomous containment: jobs waiting for the worker (more are dropped and counted), and
 * processes remembered as contained (direct-mapped; an overwritten slot can at worst let one
 * process be contained twice, never skip a new one). */
#define CONTAIN_QUEUE 64
#define CONTAIN_SEEN_SLOTS 1024
#define AGENT_RATE_KEEP_SHIFT 4       /* over the bulk rate, keep 1 of 16 */
#define AGENT_NORMAL_SAMPLE_LAG 2     /* normal events are sampled from this shift on */

struct qent {
    uint64_t order;
    struct agent_event ev;
    struct qent *next_free;      /* on the agent's free list */
};

/* Queue entries popped are kept for reuse (at most this many): an entry is ~1 KB, and its
 * malloc per event made glibc consolidate its fast bins each time (~4 % of the agent's CPU
 * in an exec storm). */
#define QENT_FREE_MAX 512

struct qring {
    struct qent **v;
    size_t head, n;
};

struct running {
    const struct agent_collector_ops *ops;
    void *state;
};

struct agent {
    struct agent_config conf;
    char host[256];

    /* queue (mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct qring q[4];
    pthread_mutex_t qfree_mu;      /* the free list of queue entries */
    struct qent *qfree;
    size_t nqfree;
    size_t cap, total;
    uint64_t arrival;
    struct agent_counters cnt;
    uint64_t sample_ctr, rate_ctr;
    int64_t rate_sec;
    uint64_t rate_count;
    bool stopping;
    bool loop_waiting;             /* the loop sleeps on cv: only then is a wakeup needed */
    /* The loop's work (draining the queue, enrichment, detection, output, timers) runs under
     * work_mu: on the loop thread, or on an emitter's thread at the end of a small burst
     * while the loop sleeps (agent_emit_burst_end: no hand-off wakeup at low rates). */
    pthread_mutex_t work_mu;
    struct qent **batch;           /* work_mu: the drained batch (AGENT_DRAIN_BATCH) */
    int64_t help_cpu_ns;           /* work_mu: thread CPU of the loop's work done by emitters */
    bool burst_done;               /* an emitter's burst ended: no need to linger for more */
    _Atomic uint32_t sample_shift;

    /* loop thread */
    pthread_t loop;
    bool loop_running;
    bool started;

    /* collectors */
    struct running col[AGENT_COLLECTORS_MAX];
    size_t ncol;
    _Atomic int tier;              /* written by agent_start, read by the loop */

    /* enrichment and filters (loop thread) */
    struct agent_proctable *pt;
    char *inc_buf, *exc_buf;
    const char *inc[AGENT_PATHS_MAX], *exc[AGENT_PATHS_MAX];
    size_t ninc, nexc;
    struct agent_fanotify_conf fan;
    char bpf_paths[2 * AGENT_BPF_PATHS_MAX][64]; /* prefixes handed to the eBPF collector */
    bool bpf_files;                /* the eBPF collector traces file operations */

    /* detection (loop thread) */
    struct bn_ruleset *rs;
    struct bn_scratch *scratch;
    struct bn_mapping *map;
    struct bn_evbuilder *eb;
    struct bn_event bev;
    struct bn_record drec;         /* the event being matched, as read from its NDJSON line */
    bool drec_ok;                  /* drec initialised */
    bool drec_direct;              /* drec holds the record of a->json, built as it was
                                    * rendered (else detection parses the line) */
    struct bn_correlator *corr;
    struct agent_event *cur;       /* the event being matched, for correlation alerts */
    const struct agent_event *matching; /* the event whose NDJSON line a->json holds */
    /* per event kind whose logsource is fixed: does any detection rule apply to it?
     * (0 = not known yet, learned from the first event of the kind; 1 = yes; 2 = no:
     * such events are not read back and matched at all) */
    uint8_t kind_routed[AGENT_EV_ALERT + 1];
    /* Recent alerts by (rule, process, file), so that one write seen as create and as
     * close-after-write raises one alert: direct-mapped, newest wins. */
    struct {
        uint64_t key;
        int64_t ts_ns;
    } recent[ALERT_RECENT_SLOTS];
    size_t nrules;

    /* output (loop thread) */
    FILE *out;
    bool out_owned;
    char *out_buf;                 /* the --output file's stdio buffer (AGENT_OUT_BUF) */
    struct bn_buf json;          /* the event being processed, as written */
    struct bn_buf ajson;         /* alerts */
    struct agent_spool *spool;
    pthread_mutex_t spool_mu;      /* the spool is shared with the uplink thread */
    /* With a spool, rendered records wait in pend until the loop has processed its drained
     * batch, then go to the spool with one agent_spool_append_many and after that to the
     * output. Each record's bannin.seq is predicted (spool's next seq + records waiting)
     * when it is rendered. Under spool_mu: the response worker spools what waits before
     * its own event, so seqs and the order of an alert and its containment hold. */
    struct bn_buf pend;            /* records back to back, each followed by '\n' */
    struct bn_buf pend_fix;        /* records whose seq had to be rewritten */
    struct pend_rec {
        size_t off, len;           /* in pend (or pend_fix when fixed), '\n' excluded */
        uint64_t seq;              /* predicted seq, as in the JSON */
        uint64_t seq0;             /* the seq predicted when it was rendered */
        uint64_t trig;             /* an alert: its trigger's seq0 (0: none) */
        enum agent_prio prio;
        bool fixed;
        bool refused;              /* the spool refused it: it has no seq */
    } *pend_recs;
    uint64_t out_trig;             /* loop thread: trigger seq of the alert being output */
    struct iovec *pend_iov;        /* scratch of the spool write */
    enum agent_prio *pend_prio;
    size_t pend_n, pend_spooled, pend_cap;
    uint64_t pend_errors;          /* records the spool refused or failed, for the loop */
    bool batching;                 /* loop thread: a drained batch is being processed */
    pthread_mutex_t col_mu;        /* collector states vs. the heartbeat reading their stats */
    bool cols_closing;             /* under col_mu: collectors are being stopped and freed */
    struct uplink *uplink;
    /* response actions (respond.c) run by the manager through the uplink */
    struct respond *respond;
    struct action_queue *actions;
    char respond_dir[4096];

    /* autonomous containment (response.autonomous): the loop queues a job per process, one
     * worker runs it through agent_respond_ex (source "local"); the loop never waits */
    struct contain_job {
        pid_t pid;
        uint64_t start_ns;
        char rule[128];
    } contain_q[CONTAIN_QUEUE];
    size_t contain_head, contain_n;
    pthread_mutex_t contain_mu;
    pthread_cond_t contain_cv;
    pthread_t contain_thr;
    bool contain_running, contain_stop;
    uint64_t contain_seen[CONTAIN_SEEN_SLOTS]; /* (pid, start_ns) already contained (loop) */
    const char *contain_actions[2];            /* in the configured order */
    size_t ncontain_actions;

    /* budgets and heartbeat (loop thread) */
    int64_t next_budget_ns, next_hb_ns;
    int64_t out_flushed_ns;        /* when the --output file was last flushed */
    int64_t next_sweep_ns;         /* next agent_proctable_sweep */
    _Atomic bool out_dirty;        /* written since (read by an emitter to flush) */
    bool out_urgent;               /* work_mu: a critical record is among what was written */
    int64_t last_cpu_ns, last_wall_ns, last_loop_cpu_ns;
    /* Until the collectors have started, and at the first check after, a budget check only
     * takes a baseline: their start-up (eBPF verification, /proc snapshots) is not the
     * steady cost the budget is about. */
    _Atomic bool budget_armed;     /* collectors started */
    _Atomic bool budget_rebase;    /* the next check takes a baseline */
    bool cur_gone;                 /* the event being processed: its process has exited */
    bool collectors_over;          /* over the CPU budget outside the loop (reported once) */
};

/* The agent whose loop runs on this thread (NULL on other threads). */
static _Thread_local struct agent *tl_loop;
/* agent_emit_burst_begin/end: this thread's emits do not wake the loop one by one */
static _Thread_local bool tl_burst;

static int64_t
now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

/* ---- events ---- */

/* Frees s unless it lies in ev's string block (freed as a whole). */
static void
free_str(const struct agent_event *ev, char *s)
{
    if (s && !(ev->strblk && (uintptr_t)s >= (uintptr_t)ev->strblk &&
               (uintptr_t)s < (uintptr_t)ev->strblk + ev->strblk_len))
        bn_free(s);
}

void
agent_event_release(struct agent_event *ev)
{
    if (!ev)
        return;
    struct agent_proc *ps[2] = {&ev->proc, &ev->parent};
    for (int i = 0; i < 2; i++) {
        free_str(ev, ps[i]->exe);
        free_str(ev, ps[i]->cmdline);
        free_str(ev, ps[i]->cwd);
        free_str(ev, ps[i]->tty);
        free_str(ev, ps[i]->cgroup);
        ps[i]->exe = ps[i]->cmdline = ps[i]->cwd = ps[i]->tty = ps[i]->cgroup = NULL;
    }
    free_str(ev, ev->query);
    free_str(ev, ev->answers);
    free_str(ev, ev->path);
    free_str(ev, ev->path2);
    ev->query = ev->answers = ev->path = ev->path2 = NULL;
    for (uint32_t i = 0; i < ev->nextra && i < AGENT_EXTRAS_MAX; i++) {
        free_str(ev, ev->extra_vals[i]);
        ev->extra_vals[i] = NULL;
    }
    ev->nextra = 0;
    bn_free(ev->strblk);
    ev->strblk = NULL;
    ev->strblk_len = 0;
}

static int
dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = bn_strdup(src);
    return *dst ? 0 : BN_ENOMEM;
}

/* The string fields of an event, in one order (agent_event_copy). */
#define EV_STRS(ev)                                                                              \
    {&(ev)->proc.exe,     &(ev)->proc.cmdline,   &(ev)->proc.cwd,   &(ev)->proc.tty,             \
     &(ev)->proc.cgroup,  &(ev)->parent.exe,     &(ev)->parent.cmdline, &(ev)->parent.cwd,       \
     &(ev)->parent.tty,   &(ev)->parent.cgroup,  &(ev)->query,      &(ev)->answers,              \
     &(ev)->path,         &(ev)->path2}
#define EV_NSTRS 14

/* The copies go into one block: this runs for every queued event (two per process), and a
 * malloc per string was ~6 % of the agent's CPU in an exec storm. */
int
agent_event_copy(struct agent_event *dst, const struct agent_event *src)
{
    *dst = *src;
    dst->nextra = src->nextra > AGENT_EXTRAS_MAX ? AGENT_EXTRAS_MAX : src->nextra;
    dst->strblk = NULL;
    dst->strblk_len = 0;
    char **d[EV_NSTRS] = EV_STRS(dst);
    char *const *s[EV_NSTRS] = EV_STRS(src);
    size_t len[EV_NSTRS + AGENT_EXTRAS_MAX], total = 0;
    for (size_t i = 0; i < EV_NSTRS; i++) {
        len[i] = *s[i] ? strlen(*s[i]) + 1 : 0;
        total += len[i];
    }
    for (uint32_t i = 0; i < dst->nextra; i++) {
        len[EV_NSTRS + i] = src->extra_vals[i] ? strlen(src->extra_vals[i]) + 1 : 0;
        total += len[EV_NSTRS + i];
    }
    char *blk = total ? bn_malloc(total) : NULL;
    if (total && !blk) {
        memset(dst, 0, sizeof(*dst));
        return BN_ENOMEM;
    }
    char *p = blk;
    for (size_t i = 0; i < EV_NSTRS; i++) {
        *d[i] = NULL;
        if (len[i]) {
            memcpy(p, *s[i], len[i]);
            *d[i] = p;
            p += len[i];
        }
    }
    for (uint32_t i = 0; i < AGENT_EXTRAS_MAX; i++) {
        dst->extra_vals[i] = NULL;
        if (i < dst->nextra && len[EV_NSTRS + i]) {
            memcpy(p, src->extra_vals[i], len[EV_NSTRS + i]);
            dst->extra_vals[i] = p;
            p += len[EV_NSTRS + i];
        }
    }
    dst->strblk = blk;
    dst->strblk_len = total;
    return 0;
}

/* Adds an owned copy of val under a static key. */
static int
add_extra(struct agent_event *ev, const char *key, const char *val)
{
    if (ev->nextra >= AGENT_EXTRAS_MAX)
        return BN_ETOOBIG;
    char *v = bn_strdup(val ? val : "");
    if (!v)
        return BN_ENOMEM;
    ev->extra_keys[ev->nextra] = key;
    ev->extra_vals[ev->nextra++] = v;
    return 0;
}

static int
add_extra_u64(struct agent_event *ev, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return add_extra(ev, key, buf);
}

/* ---- the queue ---- */

static void
count_shed(struct agent *a, const struct agent_event *ev)
{
    a->cnt.shed++;
    a->cnt.shed_by_prio[ev->prio & 3]++;
    if ((unsigned)ev->kind <= AGENT_EV_ALERT)
        a->cnt.shed_by_kind[ev->kind]++;
}

/* Low-priority events are sampled over budget or over the bulk rate. Called with mu held.
 * Returns true to keep. */
static bool
sample_keep(struct agent *a, const struct agent_event *ev)
{
    if (ev->prio > AGENT_PRIO_NORMAL)
        return true;
    if (ev->prio == AGENT_PRIO_BULK && a->conf.bulk_rate > 0) {
        int64_t sec = now_ns(CLOCK_MONOTONIC) / 1000000000ll;
        if (sec != a->rate_sec) {
            a->rate_sec = sec;
            a->rate_count = 0;
        }
        if (++a->rate_count > (uint64_t)a->conf.bulk_rate &&
            (a->rate_ctr++ & ((1u << AGENT_RATE_KEEP_SHIFT) - 1)) != 0)
            return false;
    }
    /* bulk events are sampled first; normal ones (exits, DNS) only two steps later */
    uint32_t shift = atomic_load(&a->sample_shift);
    if (ev->prio == AGENT_PRIO_NORMAL)
        shift = shift > AGENT_NORMAL_SAMPLE_LAG ? shift - AGENT_NORMAL_SAMPLE_LAG : 0;
    if (shift && (a->sample_ctr++ & ((1ull << shift) - 1)) != 0)
        return false;
    return true;
}

void
agent_emit_burst_begin(struct agent *a)
{
    (void)a;
    tl_burst = true;
}

static void help_work(struct agent *a);
static void out_flush_due(struct agent *a, int64_t after_ns);

/* Wakes the loop for what is queued (mu held): it takes it without lingering. */
static void
wake_loop_locked(struct agent *a)
{
    if (a->total > 0) {
        a->burst_done = true;
        if (a->loop_waiting)
            pthread_cond_signal(&a->cv);
    }
}

/*
 * The end of an emitter's burst. While the loop sleeps, a small burst is processed right
 * here, on the emitter's thread (the loop's work is serialized by work_mu): at low rates
 * that saves the hand-off (a futex wakeup and a context switch of the loop per ring-buffer
 * poll). A bigger burst, or one arriving while the loop works, wakes the loop once. A burst
 * that brought nothing flushes the --output file if it has waited AGENT_FLUSH_NS, so the
 * loop needs no wakeup of its own for that either.
 */
void
agent_emit_burst_end(struct agent *a)
{
    if (!tl_burst)
        return;
    tl_burst = false;
    pthread_mutex_lock(&a->mu);
    bool queued = a->total > 0;
    bool help = queued && a->loop_waiting && a->total <= AGENT_HELP_MAX && !a->stopping;
    if (!help)
        wake_loop_locked(a);
    pthread_mutex_unlock(&a->mu);
    if (!help && (queued || !atomic_load(&a->out_dirty)))
        return;
    if (pthread_mutex_trylock(&a->work_mu) != 0) {
        /* the loop is at work (it flushes, and takes what is queued) */
        if (help) {
            pthread_mutex_lock(&a->mu);
            wake_loop_locked(a);
            pthread_mutex_unlock(&a->mu);
        }
        return;
    }
    if (help)
        help_work(a);
    else
        out_flush_due(a, AGENT_FLUSH_NS);
    pthread_mutex_unlock(&a->work_mu);
}

/* A queue entry: from the free list, else a new one (NULL when out of memory). */
static struct qent *
qent_get(struct agent *a)
{
    pthread_mutex_lock(&a->qfree_mu);
    struct qent *e = a->qfree;
    if (e) {
        a->qfree = e->next_free;
        a->nqfree--;
    }
    pthread_mutex_unlock(&a->qfree_mu);
    return e ? e : bn_malloc(sizeof(*e));
}

/* Gives back an entry whose event was released or moved out (NULL is fine). */
static void
qent_put(struct agent *a, struct qent *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&a->qfree_mu);
    if (a->nqfree < QENT_FREE_MAX) {
        e->next_free = a->qfree;
        a->qfree = e;
        a->nqfree++;
        e = NULL;
    }
    pthread_mutex_unlock(&a->qfree_mu);
    bn_free(e);
}

int
agent_emit(struct agent *a, const struct agent_event *ev)
{
    if (!a || !ev)
        return BN_EINVAL;
    unsigned prio = ev->prio & 3;
    pthread_mutex_lock(&a->mu);
    a->cnt.emitted++;
    bool keep = sample_keep(a, ev);
    if (!keep)
        a->cnt.sampled++;
    pthread_mutex_unlock(&a->mu);
    /* a sampled exit still goes through the queue, bare, so the table ends the process in
     * order after its exec (its strings are not copied, nothing is written or matched) */
    bool marker = !keep && ev->kind == AGENT_EV_PROCESS_TERMINATE && ev->proc.pid > 0;
    if (!keep && !marker)
        return BN_ETOOBIG;
    struct agent_event bare;
    if (marker) {
        memset(&bare, 0, sizeof(bare));
        bare.kind = AGENT_EV_PROCESS_TERMINATE;
        bare.prio = ev->prio;
        bare.ts_ns = ev->ts_ns;
        bare.proc.pid = ev->proc.pid;
        bare.proc.start_ns = ev->proc.start_ns;
        bare.table_only = true;
        ev = &bare;
    }

    struct qent *e = qent_get(a);
    if (!e || agent_event_copy(&e->ev, ev) != 0) {
        qent_put(a, e);
        pthread_mutex_lock(&a->mu);
        count_shed(a, ev);
        pthread_mutex_unlock(&a->mu);
        return BN_ETOOBIG;
    }
    e->ev.prio = (enum agent_prio)prio;

    struct qent *victim = NULL;
    pthread_mutex_lock(&a->mu);
    if (a->total >= a->cap) {
        for (unsigned p = 0; p < prio; p++) {
            struct qring *r = &a->q[p];
            if (r->n) {
                victim = r->v[r->head];
                r->head = (r->head + 1) % a->cap;
                r->n--;
                a->total--;
                count_shed(a, &victim->ev);
                break;
            }
        }
        if (!victim) {
            count_shed(a, &e->ev);
            pthread_mutex_unlock(&a->mu);
            agent_event_release(&e->ev);
            qent_put(a, e);
            return BN_ETOOBIG;
        }
    }
    struct qring *r = &a->q[prio];
    e->order = a->arrival++;
    r->v[(r->head + r->n) % a->cap] = e;
    r->n++;
    a->total++;
    if (!marker)
        a->cnt.queued++;
    if (a->loop_waiting && (!tl_burst || a->total >= AGENT_DRAIN_BATCH))
        pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    if (victim) {
        agent_event_release(&victim->ev);
        qent_put(a, victim);
    }
    return marker ? BN_ETOOBIG : 0; /* the event itself was sampled away (counted) */
}

/* Takes the oldest queued entry of any priority off its ring, or NULL; a->mu held. */
static struct qent *
queue_take_locked(struct agent *a)
{
    struct qring *best = NULL;
    for (unsigned p = 0; p < 4; p++) {
        struct qring *r = &a->q[p];
        if (r->n && (!best || r->v[r->head]->order < best->v[best->head]->order))
            best = r;
    }
    if (!best)
        return NULL;
    struct qent *e = best->v[best->head];
    best->head = (best->head + 1) % a->cap;
    best->n--;
    a->total--;
    if (!e->ev.table_only) /* a sampled exit's marker is no event */
        a->cnt.processed++;
    return e;
}

int
agent_queue_pop(struct agent *a, struct agent_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    pthread_mutex_lock(&a->mu);
    struct qent *e = queue_take_locked(a);
    pthread_mutex_unlock(&a->mu);
    if (!e)
        return BN_EOF;
    *ev = e->ev;
    qent_put(a, e);
    return 0;
}

/*
 * Takes up to max of the oldest queued entries into out, in arrival order, as agent_queue_pop
 * would one by one, under one lock of the queue. Their events are processed where they lie
 * (no 1.2 KB copy of each into a batch array) and the entries go back with qent_put_many.
 * Returns how many.
 */
static size_t
queue_take_many(struct agent *a, struct qent **out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&a->mu);
    for (struct qent *e; n < max && (e = queue_take_locked(a));)
        out[n++] = e;
    pthread_mutex_unlock(&a->mu);
    return n;
}

/* Gives back n entries whose events were released, under one lock of the free list. The last
 * one goes on top: the next event reuses the entry touched last. */
static void
qent_put_many(struct agent *a, struct qent **es, size_t n)
{
    pthread_mutex_lock(&a->qfree_mu);
    size_t i = 0;
    for (; i < n && a->nqfree < QENT_FREE_MAX; i++) {
        es[i]->next_free = a->qfree;
        a->qfree = es[i];
        a->nqfree++;
    }
    pthread_mutex_unlock(&a->qfree_mu);
    for (; i < n; i++)
        bn_free(es[i]);
}

/* ---- output ---- */

/* The seq the next record added to pend will get (spool_mu held). */
static uint64_t
pend_next_seq(struct agent *a)
{
    struct agent_spool_stats st;
    agent_spool_stats(a->spool, &st);
    return st.next_seq + (a->pend_n - a->pend_spooled);
}

/* Adds a rendered record to pend (spool_mu held). Returns 0 or BN_ENOMEM / BN_ETOOBIG. */
static int
pend_add(struct agent *a, const char *p, size_t len, enum agent_prio prio, uint64_t seq,
         uint64_t trig)
{
    if (a->pend_n == a->pend_cap) {
        size_t cap = a->pend_cap ? a->pend_cap * 2 : 64;
        if (cap > AGENT_PEND_RECS)
            return BN_ETOOBIG;
        struct pend_rec *r = bn_reallocarray(a->pend_recs, cap, sizeof(*r));
        if (!r)
            return BN_ENOMEM;
        a->pend_recs = r;
        struct iovec *v = bn_reallocarray(a->pend_iov, cap, sizeof(*v));
        if (!v)
            return BN_ENOMEM;
        a->pend_iov = v;
        enum agent_prio *q = bn_reallocarray(a->pend_prio, cap, sizeof(*q));
        if (!q)
            return BN_ENOMEM;
        a->pend_prio = q;
        a->pend_cap = cap;
    }
    size_t off = a->pend.len;
    if (bn_buf_append(&a->pend, p, len) != 0 || bn_buf_putc(&a->pend, '\n') != 0) {
        a->pend.len = off;
        return BN_ENOMEM;
    }
    a->pend_recs[a->pend_n++] = (struct pend_rec){off, len, seq, seq, trig, prio, false, false};
    return 0;
}

static const char *
pend_data(const struct agent *a, const struct pend_rec *r)
{
    return (r->fixed ? a->pend_fix.p : a->pend.p) + r->off;
}

/*
 * Rewrites the number old after key (`"key":old`, or `"key":"old"` when quoted) in waiting
 * record i to neu, in pend_fix (spool_mu held): the last such occurrence when last, else the
 * first. Returns whether it was found.
 */
static bool
pend_rewrite(struct agent *a, size_t i, const char *key, bool quoted, uint64_t old, uint64_t neu,
             bool last)
{
    struct pend_rec *r = &a->pend_recs[i];
    const char *d = pend_data(a, r);
    char pat[64], rep[64];
    int kl = snprintf(pat, sizeof(pat), "\"%s\":%s", key, quoted ? "\"" : "");
    int pl = kl + snprintf(pat + kl, sizeof(pat) - (size_t)kl, "%" PRIu64, old);
    int rl = snprintf(rep, sizeof(rep), "%" PRIu64, neu);
    size_t at = SIZE_MAX;
    for (size_t n = 0; n + (size_t)pl <= r->len; n++) {
        size_t s0 = last ? r->len - (size_t)pl - n : n;
        size_t end = s0 + (size_t)pl;
        /* a whole number: not a prefix of a longer one */
        if (memcmp(d + s0, pat, (size_t)pl) == 0 &&
            (end == r->len || d[end] < '0' || d[end] > '9')) {
            at = s0 + (size_t)kl;
            break;
        }
    }
    if (at == SIZE_MAX)
        return false;
    size_t ol = (size_t)(pl - kl), off = a->pend_fix.len, len = r->len - ol + (size_t)rl;
    if (bn_buf_reserve(&a->pend_fix, len + 1) != 0)
        return false;
    d = pend_data(a, r); /* pend_fix may have moved */
    bn_buf_append(&a->pend_fix, d, at);
    bn_buf_append(&a->pend_fix, rep, (size_t)rl);
    bn_buf_append(&a->pend_fix, d + at + ol, r->len - at - ol);
    bn_buf_putc(&a->pend_fix, '\n');
    r->off = off;
    r->len = len;
    r->fixed = true;
    return true;
}

/* Rewrites the "bannin.seq" of waiting record i (predicted, but records before it were
 * refused by the spool or went in ahead of it) to seq (spool_mu held). The record's own seq
 * is the last "bannin.seq" key (an alert embeds its trigger's before it). */
static void
pend_fix_seq(struct agent *a, size_t i, uint64_t seq)
{
    struct pend_rec *r = &a->pend_recs[i];
    if (pend_rewrite(a, i, "bannin.seq", false, r->seq, seq, true))
        r->seq = seq;
}

/*
 * An alert waiting at j whose trigger is a record of this batch before `done` (spooled or
 * refused: final) that the spool refused or gave another seq (spool_mu held): its
 * trigger_seq and its embedded trigger's bannin.seq are set to the seq the trigger has now,
 * or 0 when it was refused (it is in no spool; the embedded copy is all there is). A trigger
 * not final yet is left for a later call.
 */
static void
pend_fix_trigger(struct agent *a, size_t j, size_t done)
{
    struct pend_rec *r = &a->pend_recs[j];
    if (!r->trig)
        return;
    for (size_t k = j; k-- > 0;) {
        const struct pend_rec *t = &a->pend_recs[k];
        if (t->seq0 < r->trig)
            break; /* spooled in an earlier batch: it kept its seq */
        if (t->seq0 != r->trig)
            continue;
        if (k >= done)
            return;
        uint64_t now = t->refused ? 0 : t->seq;
        if (now != t->seq0) {
            pend_rewrite(a, j, "trigger_seq", true, t->seq0, now, false);
            pend_rewrite(a, j, "bannin.seq", false, t->seq0, now, false);
        }
        break;
    }
    r->trig = 0;
}

/*
 * Spools the records waiting in pend (spool_mu held): one agent_spool_append_many for the
 * run whose predicted seqs hold, the common case. A record the spool refuses shifts the
 * seqs of those after it: each of them then has its bannin.seq rewritten and is spooled on
 * its own, exactly as if it had been appended when it was rendered. Failures are counted in
 * pend_errors.
 */
static void
pend_spool(struct agent *a)
{
    size_t i = a->pend_spooled, n = a->pend_n;
    for (size_t j = i; j < n; j++) {
        a->pend_iov[j].iov_base = (void *)pend_data(a, &a->pend_recs[j]);
        a->pend_iov[j].iov_len = a->pend_recs[j].len;
        a->pend_prio[j] = a->pend_recs[j].prio;
    }
    bool moved = false; /* a record before i was refused or given another seq */
    while (i < n) {
        struct agent_spool_stats st;
        agent_spool_stats(a->spool, &st);
        if (moved)
            for (size_t j = i; j < n; j++)
                if (a->pend_recs[j].trig) {
                    pend_fix_trigger(a, j, i);
                    a->pend_iov[j].iov_base = (void *)pend_data(a, &a->pend_recs[j]);
                    a->pend_iov[j].iov_len = a->pend_recs[j].len;
                }
        size_t m = i;
        while (m < n && a->pend_recs[m].seq == st.next_seq + (m - i))
            m++;
        if (m == i) {
            pend_fix_seq(a, i, st.next_seq);
            moved = true;
            a->pend_iov[i].iov_base = (void *)pend_data(a, &a->pend_recs[i]);
            a->pend_iov[i].iov_len = a->pend_recs[i].len;
            m = i + 1;
        }
        size_t done = 0;
        int rc = agent_spool_append_many(a->spool, a->pend_iov + i, a->pend_prio + i, m - i,
                                         NULL, &done);
        if (rc == 0) {
            i = m;
            continue;
        }
        /* record i + done was refused (counted by the spool) or its write failed */
        a->pend_errors++;
        a->pend_recs[i + done].refused = true;
        moved = true;
        i += done + 1;
    }
    a->pend_spooled = n;
}

/* Loop thread: spools what waits, then writes it to the output in order. */
static void
pend_flush(struct agent *a)
{
    if (!a->spool)
        return;
    pthread_mutex_lock(&a->spool_mu);
    pend_spool(a);
    size_t n = a->pend_n;
    uint64_t errors = a->pend_errors;
    a->pend_errors = 0;
    pthread_mutex_unlock(&a->spool_mu);
    a->cnt.spool_errors += errors;
    if (!n)
        return;
    /* The records are spooled: nobody else touches pend until it is reset below. */
    if (a->out) {
        size_t i = 0;
        while (i < n) {
            const struct pend_rec *r = &a->pend_recs[i];
            const char *p = pend_data(a, r);
            size_t len = r->len + 1, j = i + 1;
            /* untouched records lie back to back in pend: one fwrite for the run */
            while (!r->fixed && j < n && !a->pend_recs[j].fixed &&
                   a->pend_recs[j].off == r->off + len)
                len += a->pend_recs[j++].len + 1;
            if (fwrite(p, 1, len, a->out) != len)
                a->cnt.output_errors++;
            for (size_t k = i; k < j; k++)
                a->out_urgent |= a->pend_recs[k].prio == AGENT_PRIO_CRITICAL;
            i = j;
        }
        a->out_dirty = true;
    }
    pthread_mutex_lock(&a->spool_mu);
    a->pend_n = a->pend_spooled = 0;
    bn_buf_reset(&a->pend);
    bn_buf_reset(&a->pend_fix);
    pthread_mutex_unlock(&a->spool_mu);
}

static bool detect_wanted(const struct agent *a, const struct agent_event *ev);

/* Serializes ev into b (kept there for detection) and writes it to the spool and the output:
 * with a spool, at the end of the drained batch (pend_flush), else now. An event detection
 * will match gets its record built while it is rendered into a->json (a->drec_direct). */
static void
output_event(struct agent *a, struct agent_event *ev, struct bn_buf *b)
{
    bool want_rec = b == &a->json && a->drec_ok && detect_wanted(a, ev);
    if (b == &a->json)
        a->drec_direct = false;
    if (a->spool && (a->pend_n >= AGENT_PEND_RECS || a->pend.len >= AGENT_PEND_BYTES))
        pend_flush(a);
    for (int tries = 0;; tries++) {
        bn_buf_reset(b);
        if (a->spool) {
            pthread_mutex_lock(&a->spool_mu);
            ev->seq = pend_next_seq(a);
            pthread_mutex_unlock(&a->spool_mu);
        }
        int jrc = want_rec ? agent_event_to_json_rec_copy(ev, b, &a->drec, "agent",
                                                          &a->drec_direct)
                           : agent_event_to_json(ev, b);
        if (jrc != 0) {
            bn_buf_reset(b);
            a->cnt.output_errors++;
            return;
        }
        if (!a->spool)
            break;
        pthread_mutex_lock(&a->spool_mu);
        /* the response worker may have spooled an event since: render again */
        if (ev->seq != pend_next_seq(a) && tries < 2) {
            pthread_mutex_unlock(&a->spool_mu);
            continue;
        }
        int rc = pend_add(a, b->p, b->len, ev->prio, ev->seq, a->out_trig);
        pthread_mutex_unlock(&a->spool_mu);
        if (rc == 0) {
            if (!a->batching)
                pend_flush(a);
            return;
        }
        /* no room to wait: what waits goes first, then this record on its own */
        pend_flush(a);
        uint64_t seq = 0;
        pthread_mutex_lock(&a->spool_mu);
        int src = agent_spool_append(a->spool, b->p, b->len, ev->prio, &seq);
        pthread_mutex_unlock(&a->spool_mu);
        if (src != 0)
            a->cnt.spool_errors++;
        break;
    }
    if (a->out) {
        if (fwrite(b->p, 1, b->len, a->out) != b->len || fputc('\n', a->out) == EOF)
            a->cnt.output_errors++;
        a->out_dirty = true;
        a->out_urgent |= ev->prio == AGENT_PRIO_CRITICAL;
    }
}

/* ---- detection ---- */

static void
ancestor_json(void *ctx, size_t i, const struct agent_proc *p)
{
    struct bn_buf *b = ctx;
    bn_buf_printf(b, "%s{\"ProcessId\":%d,\"Image\":\"", i ? "," : "", (int)p->pid);
    if (p->exe)
        bn_buf_json_escape(b, p->exe, strlen(p->exe));
    bn_buf_puts(b, "\",\"CommandLine\":\"");
    if (p->cmdline) /* the event itself has the full one */
        bn_buf_json_escape(b, p->cmdline, strnlen(p->cmdline, AGENT_ANCESTOR_CMDLINE_MAX));
    bn_buf_printf(b, "\",\"UserId\":%u}", (unsigned)p->uid);
}

/* Appends the ancestry of ev's process as a JSON array to b (written while the process
 * table is locked: no copy of each ancestor). */
static void
ancestry_json(struct agent *a, const struct agent_event *ev, struct bn_buf *b)
{
    bn_buf_putc(b, '[');
    if (a->conf.ancestry_max && ev->proc.pid > 0)
        agent_proctable_ancestry_each(a->pt, ev->proc.pid, ev->proc.start_ns,
                                      (size_t)a->conf.ancestry_max, ancestor_json, b);
    bn_buf_putc(b, ']');
}

/* True if rule idx already alerted on this process and file within ALERT_REPEAT_NS; else
 * remembers this one. Correlation alerts are not passed here. */
static bool
alert_repeated(struct agent *a, uint32_t idx, const struct agent_event *ev)
{
    uint64_t h = 0xcbf29ce484222325ull;
    const uint64_t parts[3] = {idx, (uint64_t)ev->proc.pid, ev->proc.start_ns};
    for (size_t i = 0; i < 3; i++) {
        h ^= parts[i];
        h *= 0x100000001b3ull;
    }
    for (const char *c = ev->path ? ev->path : ""; *c; c++) {
        h ^= (unsigned char)*c;
        h *= 0x100000001b3ull;
    }
    h |= 1; /* 0 marks an empty slot */
    size_t slot = (size_t)(h >> 32) % ALERT_RECENT_SLOTS;
    if (a->recent[slot].key == h && ev->ts_ns - a->recent[slot].ts_ns >= 0 &&
        ev->ts_ns - a->recent[slot].ts_ns < ALERT_REPEAT_NS) {
        a->cnt.alerts_repeated++;
        return true;
    }
    a->recent[slot].key = h;
    a->recent[slot].ts_ns = ev->ts_ns;
    return false;
}

/*
 * Autonomous containment (loop thread): a local alert at or above response.autonomous_level
 * queues the configured actions for the triggering process, once per process (pid +
 * start time). Never the agent itself, pid 1 or a kernel thread. Never blocks: a full queue
 * drops the job and counts it.
 */
static void
contain_request(struct agent *a, const struct sigma_rule *rule, const struct agent_event *ev)
{
    if (!a->conf.autonomous || !ev ||
        (int)rule->level < a->conf.autonomous_level || rule->level == SIGMA_LEVEL_NONE)
        return;
    pid_t pid = ev->proc.pid;
    if (pid <= 1 || pid == getpid() || ev->kind == AGENT_EV_STATUS)
        return;
    if (ev->proc.ppid == 2 || ev->proc.pid == 2)
        return; /* kernel threads */
    uint64_t h = 0xcbf29ce484222325ull;
    const uint64_t parts[2] = {(uint64_t)pid, ev->proc.start_ns};
    for (size_t i = 0; i < 2; i++) {
        h ^= parts[i];
        h *= 0x100000001b3ull;
    }
    h |= 1;
    size_t slot = (size_t)(h >> 32) % CONTAIN_SEEN_SLOTS;
    if (a->contain_seen[slot] == h) {
        pthread_mutex_lock(&a->mu);
        a->cnt.contain_deduped++;
        pthread_mutex_unlock(&a->mu);
        return;
    }
    bool queued = false;
    pthread_mutex_lock(&a->contain_mu);
    if (a->contain_running && !a->contain_stop && a->contain_n < CONTAIN_QUEUE) {
        struct contain_job *j = &a->contain_q[(a->contain_head + a->contain_n) % CONTAIN_QUEUE];
        j->pid = pid;
        j->start_ns = ev->proc.start_ns;
        snprintf(j->rule, sizeof(j->rule), "%s", rule->id ? rule->id : "");
        a->contain_n++;
        queued = true;
        a->contain_seen[slot] = h; /* only once queued: a dropped job is tried again */
        pthread_cond_signal(&a->contain_cv);
    }
    pthread_mutex_unlock(&a->contain_mu);
    pthread_mutex_lock(&a->mu);
    if (queued)
        a->cnt.contain_requested++;
    else
        a->cnt.contain_dropped++;
    pthread_mutex_unlock(&a->mu);
    if (!queued)
        BN_WARN("agent", "autonomous containment of pid %d dropped: %d jobs waiting", (int)pid,
                CONTAIN_QUEUE);
}

/* Builds and outputs one alert for rule idx triggered by ev. */
static void
raise_alert(struct agent *a, uint32_t idx, const struct agent_event *ev, const char *group,
            uint64_t count)
{
    const struct sigma_rule *rule = bn_ruleset_rule(a->rs, idx);
    struct agent_event al;
    memset(&al, 0, sizeof(al));
    al.kind = AGENT_EV_ALERT;
    al.prio = AGENT_PRIO_CRITICAL;
    al.tier = ev ? ev->tier : (enum agent_tier)a->tier;
    al.ts_ns = now_ns(CLOCK_REALTIME);
    struct bn_buf tags, trig, anc;
    bn_buf_init(&tags, 64 << 10);
    bn_buf_init(&trig, AGENT_JSON_MAX);
    bn_buf_init(&anc, 1 << 20);
    for (uint32_t i = 0; i < rule->ntags; i++)
        bn_buf_printf(&tags, "%s%s", i ? "," : "", rule->tags[i]);
    int rc = 0;
    if (ev) {
        rc = agent_proc_copy(&al.proc, &ev->proc);
        if (!rc)
            rc = agent_proc_copy(&al.parent, &ev->parent);
        if (!rc && ev->path)
            rc = dup_str(&al.path, ev->path);
        if (!rc && ev->path2)
            rc = dup_str(&al.path2, ev->path2);
        if (!rc) {
            /* the event being matched was just serialized into a->json: reuse it */
            if (ev == a->matching && a->json.len)
                rc = bn_buf_append(&trig, a->json.p, a->json.len);
            else
                agent_event_to_json(ev, &trig);
        }
        ancestry_json(a, ev, &anc);
    }
    if (!rc)
        rc = add_extra(&al, "rule_id", rule->id ? rule->id : "");
    if (!rc)
        rc = add_extra(&al, "rule_title", rule->title ? rule->title : "");
    if (!rc)
        rc = add_extra(&al, "rule_level", sigma_level_name(rule->level));
    if (!rc)
        rc = add_extra(&al, "rule_tags", tags.p ? tags.p : "");
    if (!rc && ev)
        rc = add_extra_u64(&al, "trigger_kind", (uint64_t)ev->kind);
    if (!rc && ev && ev->seq)
        rc = add_extra_u64(&al, "trigger_seq", ev->seq);
    /* both are JSON this agent wrote (every string escaped, invalid UTF-8 replaced): they
     * are embedded without a second validation pass */
    if (!rc && trig.len) {
        al.extra_json |= 1u << al.nextra;
        rc = add_extra(&al, "trigger", trig.p);
    }
    if (!rc && anc.len) {
        al.extra_json |= 1u << al.nextra;
        rc = add_extra(&al, "ancestry", anc.p);
    }
    if (!rc && group)
        rc = add_extra(&al, "group", group);
    if (!rc && count)
        rc = add_extra_u64(&al, "count", count);
    bn_buf_release(&tags);
    bn_buf_release(&trig);
    bn_buf_release(&anc);
    if (rc)
        a->cnt.match_errors++;
    a->cnt.alerts++;
    a->out_trig = ev ? ev->seq : 0;
    output_event(a, &al, &a->ajson);
    a->out_trig = 0;
    /* after the alert is out: the 150/151 events of the containment follow it */
    contain_request(a, rule, ev);
    agent_event_release(&al);
    agent_proc_release(&al.proc);
    agent_proc_release(&al.parent);
}

static void
on_corr(void *ctx, const struct bn_corr_alert *ca)
{
    struct agent *a = ctx;
    char group[512];
    size_t off = 0;
    group[0] = '\0';
    for (size_t i = 0; i < ca->ngroup && off < sizeof(group); i++)
        off += (size_t)snprintf(group + off, sizeof(group) - off, "%s%s=%s", i ? "," : "",
                                ca->group_names[i], ca->group_values[i] ? ca->group_values[i] : "");
    raise_alert(a, ca->rule, a->cur, group, ca->count);
}

/*
 * Matches the event as it was written: the NDJSON line in a->json (Sysmon-for-Linux fields,
 * "Channel": "Linux-Sysmon/Operational" + EventID, logsource.* for our own kinds) read back
 * as a record, so rules see exactly the fields the output carries.
 */
/* Whether any detection rule of the set applies to the logsource the mapping gave bev. */
static bool
any_rule_applies(const struct agent *a, const struct bn_event *bev)
{
    size_t n = bn_ruleset_count(a->rs);
    for (uint32_t i = 0; i < n; i++) {
        const struct sigma_rule *r = bn_ruleset_rule(a->rs, i);
        /* correlation rules only see the hits of detection rules; filters only narrow them */
        if (r && r->kind == SIGMA_KIND_DETECTION &&
            bn_logsource_applies(r->logsource.product, r->logsource.category,
                                 r->logsource.service, bev->product, bev->category,
                                 bev->service))
            return true;
    }
    return false;
}

/* Whether detect() will match ev (its kind is not known to have no rule). */
static bool
detect_wanted(const struct agent *a, const struct agent_event *ev)
{
    if (!a->rs || ev->kind == AGENT_EV_STATUS || ev->kind == AGENT_EV_ALERT)
        return false;
    /* the logsource of an auth event depends on its service; every other kind has one */
    bool fixed = (unsigned)ev->kind <= AGENT_EV_ALERT && ev->kind != AGENT_EV_AUTH;
    return !(fixed && a->kind_routed[ev->kind] == 2);
}

static void
detect(struct agent *a, struct agent_event *ev)
{
    if (!a->json.len || !detect_wanted(a, ev))
        return;
    bool fixed = (unsigned)ev->kind <= AGENT_EV_ALERT && ev->kind != AGENT_EV_AUTH;
    struct bn_record *rec = &a->drec;
    struct bn_diag d;
    /* the line as the NDJSON reader would read it, into a record kept from event to event:
     * built beside the line when it was rendered, else parsed from it */
    if (!a->drec_direct &&
        bn_record_parse_ndjson(rec, a->json.p, a->json.len, "agent", &d) != 0) {
        a->cnt.match_errors++;
        goto out;
    }
    bn_event_clear(&a->bev);
    if (bn_evbuilder_build(a->eb, rec, &a->bev) != 0) {
        a->cnt.match_errors++;
        goto out;
    }
    if (a->bev.ts_ns == INT64_MIN)
        a->bev.ts_ns = ev->ts_ns;
    if (fixed && !a->kind_routed[ev->kind]) {
        a->kind_routed[ev->kind] = any_rule_applies(a, &a->bev) ? 1 : 2;
        if (a->kind_routed[ev->kind] == 2)
            goto out;
    }
    const uint32_t *hits;
    size_t nhits;
    if (bn_ruleset_match(a->rs, a->scratch, &a->bev, &hits, &nhits) != 0) {
        a->cnt.match_errors++;
        goto out;
    }
    /* hits is borrowed from the scratch: raising an alert does not match, so it stays valid */
    a->matching = ev;
    for (size_t i = 0; i < nhits; i++)
        if (bn_ruleset_rule_alerts(a->rs, hits[i]) &&
            bn_ruleset_rule(a->rs, hits[i])->kind != SIGMA_KIND_FILTER &&
            !(ev->path && alert_repeated(a, hits[i], ev)))
            raise_alert(a, hits[i], ev, NULL, 0);
    if (a->corr && nhits) {
        a->cur = ev;
        bn_correlator_feed(a->corr, NULL, &a->bev, hits, nhits);
        a->cur = NULL;
    }
out:
    a->matching = NULL;
    a->drec_direct = false;
}

/* ---- enrichment and filters ---- */

static bool
is_file_kind(enum agent_kind k)
{
    return k == AGENT_EV_FILE_CREATE || k == AGENT_EV_FILE_DELETE || k == AGENT_EV_FILE_WRITE ||
           k == AGENT_EV_FILE_RENAME || k == AGENT_EV_FILE_ATTR;
}

/* Prefix match on whole components; a "*" component matches any one component. */
static bool
path_under(const char *path, const char *prefix)
{
    const char *p = path, *q = prefix;
    while (*q) {
        if (q[0] == '*' && (q[1] == '/' || q[1] == '\0') && (q == prefix || q[-1] == '/')) {
            while (*p && *p != '/')
                p++;
            q++;
            continue;
        }
        if (*p != *q)
            return false;
        p++;
        q++;
    }
    return *p == '\0' || *p == '/' || q[-1] == '/';
}

static bool
file_wanted(const struct agent *a, const struct agent_event *ev)
{
    const char *paths[2] = {ev->path, ev->path2};
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; paths[k] && i < a->nexc; i++)
            if (path_under(paths[k], a->exc[i]))
                return false;
    if (ev->category)
        return true;
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; paths[k] && i < a->ninc; i++)
            if (path_under(paths[k], a->inc[i]))
                return true;
    return a->ninc == 0;
}

/* Fills what the collector left empty from a table entry. */
static int
fill_proc(struct agent_proc *dst, const struct agent_proc *src)
{
    return agent_proc_fill(dst, src, AGENT_PF_ALL);
}

/* "/proc/<pid>/<what>" into buf (64 bytes), without printf: this runs for every exec. */
static void
proc_path(char *buf, pid_t pid, const char *what)
{
    char digits[16];
    size_t n = 0, off = 6;
    unsigned v = pid > 0 ? (unsigned)pid : 0;

    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < sizeof(digits));
    memcpy(buf, "/proc/", 6);
    while (n)
        buf[off++] = digits[--n];
    buf[off++] = '/';
    size_t wl = strnlen(what, 64 - off - 1);
    memcpy(buf + off, what, wl);
    buf[off + wl] = '\0';
}

static void
enrich(struct agent *a, struct agent_event *ev)
{
    struct agent_proc t;
    if (ev->proc.pid <= 0)
        return;
    if (ev->kind == AGENT_EV_PROCESS_CREATE && (!ev->proc.ppid || !ev->proc.start_ns)) {
        /* the collector did not say who the parent is: /proc does (read into the table
         * first, so the update below merges into a complete entry) */
        if (agent_proctable_get(a->pt, ev->proc.pid, ev->proc.start_ns, &t) == 0) {
            if (!ev->proc.ppid)
                ev->proc.ppid = t.ppid;
            if (!ev->proc.start_ns)
                ev->proc.start_ns = t.start_ns;
            agent_proc_release(&t);
        }
    }
    if (ev->kind == AGENT_EV_PROCESS_CREATE && !ev->proc.cwd && !a->cur_gone) {
        /* the eBPF exec record has no working directory: one readlink while it lives */
        char path[64], buf[AGENT_PATH_MAX + 1];
        proc_path(path, ev->proc.pid, "cwd");
        ssize_t n = readlink(path, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            ev->proc.cwd = bn_strdup(buf);
        }
    }
    if (ev->kind == AGENT_EV_PROCESS_CREATE && (ev->proc.exe || ev->proc.cmdline)) {
        if (a->conf.hash && !ev->proc.sha256[0]) {
            char path[64];
            proc_path(path, ev->proc.pid, "exe");
            /* tier 1 names the file as the kernel saw it: a cache hit needs no stat() */
            if (agent_proctable_sha256_id(a->pt, &ev->exe_id, path, ev->proc.sha256) != 0 &&
                ev->proc.exe && !ev->proc.exe_deleted)
                agent_proctable_sha256(a->pt, ev->proc.exe, ev->proc.sha256);
        }
        agent_proctable_update(a->pt, &ev->proc);
    }
    /* what the output of this kind shows of the process (a process exit: who it was, not
     * its command line or directory); only that is copied from the table */
    unsigned own = ev->kind == AGENT_EV_PROCESS_TERMINATE ? AGENT_PF_EXE | AGENT_PF_CGROUP
                                                          : AGENT_PF_ALL;
    agent_proctable_fill(a->pt, ev->proc.pid, ev->proc.start_ns, &ev->proc, own);
    if (ev->kind == AGENT_EV_PROCESS_CREATE && ev->proc.exe && !ev->proc.sha256[0] &&
        a->conf.hash && !ev->proc.exe_deleted)
        agent_proctable_sha256(a->pt, ev->proc.exe, ev->proc.sha256);
    /* the parent: events and alerts show its image, command line and user; an exit event
     * shows none of it, unless a rule looks at exits (its alert would carry the parent) */
    if (ev->kind == AGENT_EV_PROCESS_TERMINATE && a->kind_routed[AGENT_EV_PROCESS_TERMINATE] == 2)
        return;
    pid_t ppid = ev->parent.pid ? ev->parent.pid : ev->proc.ppid;
    if (ppid > 0 && ppid != ev->proc.pid) {
        size_t n = 0;
        if (agent_proctable_fill(a->pt, ppid, ev->parent.start_ns, &ev->parent,
                                 AGENT_PF_EXE | AGENT_PF_CMDLINE) == 0) {
            /* filled */
        } else if (agent_proctable_ancestry(a->pt, ev->proc.pid, ev->proc.start_ns, &t, 1,
                                            &n) == 0 && n == 1) {
            /* the parent is gone: the table remembers who it was */
            if (t.pid == ppid)
                fill_proc(&ev->parent, &t);
            agent_proc_release(&t);
        }
        ev->parent.pid = ppid;
    }
}

int
agent_process(struct agent *a, struct agent_event *ev)
{
    if (!ev->ts_ns)
        ev->ts_ns = now_ns(CLOCK_REALTIME);
    if (ev->table_only) {
        if (ev->kind == AGENT_EV_PROCESS_TERMINATE && ev->proc.pid > 0)
            agent_proctable_exit(a->pt, ev->proc.pid, ev->proc.start_ns, ev->ts_ns);
        agent_event_release(ev);
        return 0;
    }
    if (ev->kind != AGENT_EV_STATUS && ev->kind != AGENT_EV_ALERT)
        enrich(a, ev);
    if (is_file_kind(ev->kind)) {
        if (!ev->category && !ev->persist_tagged)
            agent_persist_tag(ev);
        if (!file_wanted(a, ev)) {
            a->cnt.filtered++;
            agent_event_release(ev);
            return 0;
        }
    }
    output_event(a, ev, &a->json);
    detect(a, ev);
    if (ev->kind == AGENT_EV_PROCESS_TERMINATE && ev->proc.pid > 0)
        agent_proctable_exit(a->pt, ev->proc.pid, ev->proc.start_ns, ev->ts_ns);
    agent_event_release(ev);
    return 0;
}

/* ---- status, budgets, heartbeat ---- */

static void
status_event(struct agent *a, const char *what, const char *detail)
{
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_STATUS;
    ev.prio = AGENT_PRIO_CRITICAL;
    ev.tier = a->tier;
    ev.ts_ns = now_ns(CLOCK_REALTIME);
    ev.proc.pid = getpid();
    add_extra(&ev, "status", what);
    if (detail)
        add_extra(&ev, "detail", detail);
    if (tl_loop == a)
        agent_process(a, &ev); /* on the loop thread: straight to the output */
    else
        agent_emit(a, &ev);
    agent_event_release(&ev);
}

static const char *
tier_name(enum agent_tier t)
{
    switch (t) {
    case AGENT_TIER_BPF: return "bpf";
    case AGENT_TIER_NETLINK: return "netlink";
    case AGENT_TIER_POLL: return "poll";
    default: return "none";
    }
}

static uint64_t
rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long size = 0, res = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2)
        res = 0;
    fclose(f);
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

static int64_t
cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ll +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ll;
}

/* Sanitizer builds carry shadow memory and run several times slower: the budgets are
 * scaled so a test build measures the same pressure as a release build would. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_BUDGET_SCALE 8
#define CPU_BUDGET_SCALE 4
#else
#define RSS_BUDGET_SCALE 1
#define CPU_BUDGET_SCALE 1
#endif

/*
 * Sampling only saves what happens after agent_emit: the loop's work (enrichment, JSON,
 * spool, detection). When the process is over its CPU budget but the loop itself uses less
 * than half of it, the cost is in the collectors and dropping events would lose data for
 * nothing: that is reported (once per episode) instead of escalating.
 */
static void
check_budget(struct agent *a, int64_t mono)
{
    /* the loop's work: this thread's CPU and what emitters did of it (help_work) */
    int64_t cpu = cpu_ns(), loop_cpu = now_ns(CLOCK_THREAD_CPUTIME_ID) + a->help_cpu_ns;
    double pct = 0, loop_pct = 0;
    bool rebase = atomic_exchange(&a->budget_rebase, false) || !atomic_load(&a->budget_armed);
    if (!rebase && a->last_wall_ns && mono > a->last_wall_ns) {
        double wall = (double)(mono - a->last_wall_ns);
        pct = 100.0 * (double)(cpu - a->last_cpu_ns) / wall;
        loop_pct = 100.0 * (double)(loop_cpu - a->last_loop_cpu_ns) / wall;
    }
    a->last_cpu_ns = cpu;
    a->last_loop_cpu_ns = loop_cpu;
    a->last_wall_ns = mono;
    uint64_t rss = rss_bytes();
    double cpu_budget = (double)a->conf.cpu_percent * CPU_BUDGET_SCALE;
    uint64_t rss_budget = a->conf.rss_max * RSS_BUDGET_SCALE;
    bool cpu_over = pct > cpu_budget;
    bool helps = loop_pct >= cpu_budget / 2;
    bool over = (cpu_over && helps) || rss > rss_budget;
    bool calm = (pct < cpu_budget / 2 || !helps) && rss < rss_budget;
    uint32_t shift = atomic_load(&a->sample_shift);
    uint32_t nshift = shift;
    if (over && shift < AGENT_SAMPLE_SHIFT_MAX)
        nshift = shift + 1;
    else if (calm && shift > 0)
        nshift = shift - 1;
    atomic_store(&a->sample_shift, nshift);
    pthread_mutex_lock(&a->mu);
    a->cnt.cpu_percent = pct;
    a->cnt.rss_bytes = rss;
    a->cnt.sample_shift = nshift;
    pthread_mutex_unlock(&a->mu);
    char detail[200];
    if (nshift != shift) {
        snprintf(detail, sizeof(detail),
                 "cpu %.1f%% (loop %.1f%%, budget %" PRId64 "%%), rss %" PRIu64
                 " KiB (budget %" PRIu64 " KiB): keeping 1 of %u bulk events, 1 of %u normal "
                 "ones",
                 pct, loop_pct, (int64_t)cpu_budget, rss >> 10, rss_budget >> 10, 1u << nshift,
                 1u << (nshift > AGENT_NORMAL_SAMPLE_LAG ? nshift - AGENT_NORMAL_SAMPLE_LAG : 0));
        status_event(a, nshift > shift ? "degraded" : (nshift ? "recovering" : "recovered"),
                     detail);
    }
    bool collectors_over = cpu_over && !helps;
    if (collectors_over && !a->collectors_over) {
        snprintf(detail, sizeof(detail),
                 "cpu %.1f%% over the budget of %" PRId64 "%% in the collectors (loop %.1f%%): "
                 "events are kept, sampling would not lower it",
                 pct, (int64_t)cpu_budget, loop_pct);
        status_event(a, "over_budget", detail);
    }
    a->collectors_over = collectors_over;
}

static void
heartbeat(struct agent *a)
{
    struct agent_counters c;
    agent_counters(a, &c);
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_STATUS;
    ev.prio = AGENT_PRIO_CRITICAL;
    ev.tier = a->tier;
    ev.ts_ns = now_ns(CLOCK_REALTIME);
    ev.proc.pid = getpid();
    char buf[64];
    add_extra(&ev, "status", "heartbeat");
    add_extra(&ev, "tier", tier_name(a->tier));
    add_extra_u64(&ev, "events", c.processed);
    add_extra_u64(&ev, "shed", c.shed);
    add_extra_u64(&ev, "sampled", c.sampled);
    add_extra_u64(&ev, "filtered", c.filtered);
    add_extra_u64(&ev, "alerts", c.alerts);
    add_extra_u64(&ev, "alerts_repeated", c.alerts_repeated);
    if (a->conf.autonomous) {
        add_extra_u64(&ev, "contain_requested", c.contain_requested);
        add_extra_u64(&ev, "contain_deduped", c.contain_deduped);
        add_extra_u64(&ev, "contain_dropped", c.contain_dropped);
        add_extra_u64(&ev, "contain_ran", c.contain_ran);
        add_extra_u64(&ev, "contain_failed", c.contain_failed);
    }
    add_extra_u64(&ev, "queue_depth", c.queue_depth);
    snprintf(buf, sizeof(buf), "%.2f", c.cpu_percent);
    add_extra(&ev, "cpu_percent", buf);
    add_extra_u64(&ev, "rss_bytes", c.rss_bytes);
    add_extra_u64(&ev, "sample_shift", c.sample_shift);
    if (a->spool) {
        struct agent_spool_stats st;
        pthread_mutex_lock(&a->spool_mu);
        agent_spool_stats(a->spool, &st);
        pthread_mutex_unlock(&a->spool_mu);
        add_extra_u64(&ev, "spool_bytes", st.bytes);
        add_extra_u64(&ev, "spool_depth", st.next_seq - 1 - st.acked_seq);
        add_extra_u64(&ev, "spool_dropped", st.dropped[0] + st.dropped[1] + st.dropped[2] +
                                            st.dropped[3]);
    }
    struct agent_proctable_stats ps;
    agent_proctable_stats(a->pt, &ps);
    add_extra_u64(&ev, "processes", ps.entries);
    if (ps.evicted) /* exited processes ended early (process.exited_max / max_entries) */
        add_extra_u64(&ev, "processes_evicted", ps.evicted);
    if (a->uplink) {
        /* the manager link: connected or not, how far acknowledged, the last refusal */
        struct uplink_stats us;
        uplink_stats(a->uplink, &us);
        add_extra(&ev, "link", us.connected ? "connected" : "disconnected");
        add_extra_u64(&ev, "link_acked_seq", us.acked_seq);
        add_extra_u64(&ev, "link_events_acked", us.events_acked);
        add_extra_u64(&ev, "uploads_stored", us.uploads_stored);
        add_extra_u64(&ev, "uploads_refused", us.uploads_refused);
        add_extra_u64(&ev, "upload_bytes", us.upload_bytes);
        if (!us.connected && us.last_error[0])
            add_extra(&ev, "link_error", us.last_error);
    }
    add_extra_u64(&ev, "truncated", ps.cmdline_truncated + ps.path_truncated);
    /* agent_stop frees the collectors while this loop still runs: read their stats only
     * while they are not being stopped */
    pthread_mutex_lock(&a->col_mu);
    for (size_t i = 0; !a->cols_closing && i < a->ncol; i++) {
        if (agent_bpf_stats && &agent_collector_bpf && a->col[i].ops == &agent_collector_bpf) {
            /* events the kernel side could not hand over (ring buffer full) */
            struct agent_bpf_stats bs;
            agent_bpf_stats(a->col[i].state, &bs);
            add_extra_u64(&ev, "bpf_drops", bs.drops);
            /* quiet spells of the ring-buffer reader (every record wakes it then) */
            add_extra_u64(&ev, "bpf_idle_spells", bs.idle_spells);
        }
        if (agent_auth_stats && &agent_collector_auth &&
            a->col[i].ops == &agent_collector_auth) {
            /* login and sudo outcomes: what was parsed, refused or cut */
            struct agent_auth_stats as;
            agent_auth_stats(a->col[i].state, &as);
            add_extra_u64(&ev, "auth_events", as.events);
            add_extra_u64(&ev, "auth_malformed", as.malformed);
            add_extra_u64(&ev, "auth_cut", as.long_lines);
            add_extra_u64(&ev, "auth_emit_errors", as.emit_errors);
        }
    }
    pthread_mutex_unlock(&a->col_mu);
    agent_process(a, &ev);
}

static void
timers(struct agent *a)
{
    int64_t mono = now_ns(CLOCK_MONOTONIC);
    if (mono >= a->next_budget_ns) {
        check_budget(a, mono);
        if (mono >= a->next_sweep_ns) {
            if (a->next_sweep_ns)
                agent_proctable_sweep(a->pt, now_ns(CLOCK_REALTIME));
            a->next_sweep_ns = mono + AGENT_SWEEP_NS;
        }
        agent_proctable_expire(a->pt, now_ns(CLOCK_REALTIME));
        if (a->corr)
            bn_correlator_expire(a->corr, now_ns(CLOCK_REALTIME));
        a->next_budget_ns = mono + a->conf.budget_ms * 1000000ll;
    }
    if (a->spool) {
        pthread_mutex_lock(&a->spool_mu);
        agent_spool_tick(a->spool);
        pthread_mutex_unlock(&a->spool_mu);
    }
    if (mono >= a->next_hb_ns) {
        heartbeat(a);
        a->next_hb_ns = mono + a->conf.heartbeat_ms * 1000000ll;
    }
}

/* Flushes the --output file if it was written and last flushed at least after_ns ago, or
 * holds a critical record (work_mu held). */
static void
out_flush_due(struct agent *a, int64_t after_ns)
{
    if (!a->out || !atomic_load(&a->out_dirty))
        return;
    int64_t mono = now_ns(CLOCK_MONOTONIC);
    if (a->out_urgent || mono - a->out_flushed_ns >= after_ns) {
        fflush(a->out);
        atomic_store(&a->out_dirty, false);
        a->out_urgent = false;
        a->out_flushed_ns = mono;
    }
}

/* Drains and processes one batch, then spools and writes it (work_mu held). Returns the
 * number of queue entries taken. */
static size_t
work_batch(struct agent *a)
{
    size_t n = 0;
    a->batching = true;
    if (a->batch) {
        struct qent **batch = a->batch;
        n = queue_take_many(a, batch, AGENT_DRAIN_BATCH);
        for (size_t i = 0; i < n; i++) {
            struct agent_event *ev = &batch[i]->ev;
            /* a process whose exit is already queued behind its exec has no
             * /proc/<pid>/cwd left to read: skip the readlink */
            a->cur_gone = false;
            if (ev->kind == AGENT_EV_PROCESS_CREATE && !ev->proc.cwd)
                for (size_t j = i + 1; j < n && !a->cur_gone; j++)
                    a->cur_gone = batch[j]->ev.kind == AGENT_EV_PROCESS_TERMINATE &&
                                  batch[j]->ev.proc.pid == ev->proc.pid;
            agent_process(a, ev);
            a->cur_gone = false;
        }
        qent_put_many(a, batch, n);
    } else {
        struct agent_event ev;
        for (; n < AGENT_DRAIN_BATCH && agent_queue_pop(a, &ev) == 0; n++)
            agent_process(a, &ev);
    }
    /* the batch's events and alerts: to the spool with one write, then to the output;
     * each counts as spooled from here */
    a->batching = false;
    pend_flush(a);
    /* stdio writes when its buffer fills; here the time bound and critical records */
    out_flush_due(a, AGENT_FLUSH_NS);
    return n;
}

/* The loop's work on an emitter's thread (work_mu held, the loop sleeping): what is queued,
 * at most AGENT_HELP_BATCHES batches; anything left wakes the loop. Its CPU time counts as
 * the loop's for the budget. The timers stay the loop's (the heartbeat reads collector
 * state that an emitter's own collector may be tearing down). */
static void
help_work(struct agent *a)
{
    struct agent *prev = tl_loop;
    tl_loop = a; /* status events from this work go straight to the output, as on the loop */
    int64_t t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < AGENT_HELP_BATCHES && work_batch(a) > 0; i++)
        ;
    a->help_cpu_ns += now_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    tl_loop = prev;
    pthread_mutex_lock(&a->mu);
    wake_loop_locked(a);
    pthread_mutex_unlock(&a->mu);
}

static void *
loop_main(void *arg)
{
    struct agent *a = arg;
    tl_loop = a;
    a->next_budget_ns = now_ns(CLOCK_MONOTONIC) + a->conf.budget_ms * 1000000ll;
    a->next_hb_ns = now_ns(CLOCK_MONOTONIC) + a->conf.heartbeat_ms * 1000000ll;
    a->last_cpu_ns = cpu_ns();
    a->last_loop_cpu_ns = now_ns(CLOCK_THREAD_CPUTIME_ID);
    a->last_wall_ns = now_ns(CLOCK_MONOTONIC);
    bool linger = false;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        bool idle = a->total == 0 && !a->stopping;
        if (idle) {
            /* nothing to do: sleep until an event, the output's flush time or 200 ms */
            int64_t wait_ns = 200 * 1000000ll;
            if (a->out_dirty) {
                int64_t due = a->out_flushed_ns + AGENT_FLUSH_NS - now_ns(CLOCK_MONOTONIC);
                wait_ns = due < 0 ? 0 : BN_MIN(due, wait_ns);
            }
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += wait_ns / 1000000000ll;
            dl.tv_nsec += wait_ns % 1000000000ll;
            if (dl.tv_nsec >= 1000000000l) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000l;
            }
            a->loop_waiting = true;
            if (wait_ns > 0)
                pthread_cond_timedwait(&a->cv, &a->mu, &dl);
            a->loop_waiting = false;
            linger = a->total > 0 && a->total < AGENT_DRAIN_BATCH && !a->stopping &&
                     !a->burst_done;
        }
        a->burst_done = false;
        bool done = a->stopping && a->total == 0;
        pthread_mutex_unlock(&a->mu);
        if (done)
            break;
        if (linger) {
            /* woken by the first event of a burst: let the burst gather (emitters do not
             * signal while the loop is not waiting) */
            struct timespec ls = {0, AGENT_LINGER_NS};
            nanosleep(&ls, NULL);
            linger = false;
        }
        pthread_mutex_lock(&a->work_mu);
        if (idle)
            out_flush_due(a, AGENT_FLUSH_NS);
        work_batch(a);
        timers(a);
        pthread_mutex_unlock(&a->work_mu);
    }
    pthread_mutex_lock(&a->work_mu);
    heartbeat(a);
    if (a->corr)
        bn_correlator_expire(a->corr, INT64_MAX);
    if (a->out)
        fflush(a->out);
    pthread_mutex_unlock(&a->work_mu);
    return NULL;
}

/* ---- lifecycle ---- */

static void
compile_diag(void *ctx, const struct sigma_rule *rule, const struct bn_diag *d)
{
    (void)ctx;
    char buf[700];
    BN_INFO("agent", "rule '%s' not loaded: %s", rule && rule->title ? rule->title : "?",
            bn_diag_format(d, buf, sizeof(buf)));
}

static void
parse_diag(void *ctx, const struct bn_diag *d)
{
    (void)ctx;
    char buf[700];
    BN_INFO("agent", "rule not loaded: %s", bn_diag_format(d, buf, sizeof(buf)));
}

static int
load_rules(struct agent *a, struct bn_diag *d)
{
    const char *paths[AGENT_PATHS_MAX + 2];
    char *buf = NULL;
    size_t n = 0;
    int rc = 0;
    struct sigma_rule **rules = NULL;
    size_t nrules = 0;
    char def[512];

    if (a->conf.builtin_rules) {
        const char *env = getenv("BANNIN_RULES");
        struct stat st;
        if (env && *env)
            snprintf(def, sizeof(def), "%s", env);
        else if (stat("/usr/share/bannin/rules/linux", &st) == 0)
            snprintf(def, sizeof(def), "/usr/share/bannin/rules/linux");
        else
            snprintf(def, sizeof(def), "%s/rules/linux", BN_SOURCE_DIR);
        paths[n++] = def;
    }
    if (a->conf.rules_dirs && *a->conf.rules_dirs) {
        size_t sz = strlen(a->conf.rules_dirs) + 1;
        buf = bn_malloc(sz);
        if (!buf)
            return BN_ENOMEM;
        n += agent_config_split(a->conf.rules_dirs, buf, sz, paths + n, AGENT_PATHS_MAX - 1);
    }
    if (a->conf.sigmahq_dir && *a->conf.sigmahq_dir)
        paths[n++] = a->conf.sigmahq_dir;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            rc = bn_diag_set(d, BN_ENOTFOUND, paths[i], 0, 0, "cannot open rules '%s': %s",
                             paths[i], strerror(errno));
            goto out;
        }
    }
    rc = sigma_parse_paths(paths, n, &rules, &nrules, parse_diag, a);
    if (rc) {
        bn_diag_set(d, rc, "<rules>", 0, 0, "cannot parse rules: %s", bn_strerror(rc));
        goto out;
    }
    rc = bn_ruleset_compile(&a->rs, rules, nrules, NULL, compile_diag, a);
    nrules = 0;
    if (rc) {
        bn_diag_set(d, rc, "<rules>", 0, 0, "cannot compile rules: %s", bn_strerror(rc));
        goto out;
    }
    a->nrules = bn_ruleset_count(a->rs);
    rc = bn_mapping_load_default(&a->map, d);
    if (rc)
        goto out;
    a->scratch = bn_scratch_new(a->rs);
    a->eb = bn_evbuilder_new(a->map, bn_ruleset_fields(a->rs));
    a->corr = bn_correlator_new(a->rs, on_corr, a);
    a->drec_ok = bn_record_init(&a->drec) == 0;
    if (!a->scratch || !a->eb || !a->corr || !a->drec_ok ||
        bn_event_init(&a->bev, bn_fieldtab_count(bn_ruleset_fields(a->rs))) != 0) {
        rc = bn_diag_set(d, BN_ENOMEM, "<rules>", 0, 0, "out of memory loading rules");
        goto out;
    }
out:
    for (size_t i = 0; i < nrules; i++)
        sigma_rule_free(rules[i]);
    bn_free(rules);
    bn_free(buf);
    return rc;
}

static int
split_owned(const char *list, char **buf, const char **items, size_t *n)
{
    *n = 0;
    size_t sz = (list ? strlen(list) : 0) + 1;
    *buf = bn_malloc(sz);
    if (!*buf)
        return BN_ENOMEM;
    *n = agent_config_split(list ? list : "", *buf, sz, items, AGENT_PATHS_MAX);
    return 0;
}

static int
dup_config(struct agent_config *dst, const struct agent_config *src)
{
    /* every string key of the table, so a new key can never be shared (and freed twice) */
    *dst = *src;
    return bn_conf_copy_strings(agent_conf_defs, agent_conf_ndefs, dst, src);
}

int
agent_new(struct agent **out, const struct agent_config *conf, struct bn_diag *d)
{
    *out = NULL;
    int rc;
    struct agent *a = bn_calloc(1, sizeof(*a));
    if (!a)
        return bn_diag_set(d, BN_ENOMEM, "<agent>", 0, 0, "out of memory");
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->qfree_mu, NULL);
    pthread_mutex_init(&a->work_mu, NULL);
    pthread_mutex_init(&a->spool_mu, NULL);
    pthread_mutex_init(&a->col_mu, NULL);
    pthread_mutex_init(&a->contain_mu, NULL);
    pthread_cond_init(&a->contain_cv, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* without it (no memory) the loop pops and processes one event at a time */
    a->batch = bn_malloc(AGENT_DRAIN_BATCH * sizeof(*a->batch));
    bn_buf_init(&a->json, AGENT_JSON_MAX);
    bn_buf_init(&a->ajson, AGENT_JSON_MAX);
    bn_buf_init(&a->pend, AGENT_PEND_BYTES + AGENT_JSON_MAX + 1);
    bn_buf_init(&a->pend_fix, AGENT_PEND_BYTES + AGENT_JSON_MAX + 1);
    rc = dup_config(&a->conf, conf);
    if (rc) {
        bn_free(a);
        return bn_diag_set(d, BN_ENOMEM, "<agent>", 0, 0, "out of memory");
    }
    if (*a->conf.host)
        snprintf(a->host, sizeof(a->host), "%s", a->conf.host);
    else if (gethostname(a->host, sizeof(a->host) - 1) != 0)
        snprintf(a->host, sizeof(a->host), "localhost");

    a->cap = (size_t)a->conf.queue_events;
    for (int p = 0; p < 4; p++) {
        a->q[p].v = bn_calloc(a->cap, sizeof(*a->q[p].v));
        if (!a->q[p].v) {
            rc = bn_diag_set(d, BN_ENOMEM, "<agent>", 0, 0, "out of memory for the queue");
            goto out;
        }
    }
    struct agent_proctable_opts po = {
        .max_entries = (size_t)a->conf.proc_max,
        .exited_keep_ns = a->conf.proc_keep_ms * 1000000ll,
        .exited_max = (size_t)a->conf.proc_exited_max,
        .hash = a->conf.hash,
        .hash_max_bytes = a->conf.hash_max,
    };
    rc = agent_proctable_new(&a->pt, &po);
    if (rc) {
        bn_diag_set(d, rc, "<agent>", 0, 0, "out of memory for the process table");
        goto out;
    }
    if (split_owned(a->conf.files_include, &a->inc_buf, a->inc, &a->ninc) ||
        split_owned(a->conf.files_exclude, &a->exc_buf, a->exc, &a->nexc)) {
        rc = bn_diag_set(d, BN_ENOMEM, "<agent>", 0, 0, "out of memory");
        goto out;
    }
    a->fan.ignore_self = true;
    for (size_t i = 0; i < a->ninc && i < AGENT_FANOTIFY_PATHS_MAX; i++)
        a->fan.include[a->fan.ninclude++] = a->inc[i];
    for (size_t i = 0; i < a->nexc && i < AGENT_FANOTIFY_PATHS_MAX; i++)
        a->fan.exclude[a->fan.nexclude++] = a->exc[i];

    if (a->conf.detect) {
        rc = load_rules(a, d);
        if (rc)
            goto out;
    }
    if (a->conf.out_stdout) {
        a->out = stdout;
    } else if (*a->conf.out_file) {
        a->out = fopen(a->conf.out_file, "ae");
        if (!a->out) {
            rc = bn_diag_set(d, -errno, a->conf.out_file, 0, 0, "cannot open output '%s': %s",
                             a->conf.out_file, strerror(errno));
            goto out;
        }
        a->out_owned = true;
        /* the loop flushes every AGENT_FLUSH_NS: a buffer that holds that much is one write.
         * glibc ignores the size when it is given no buffer (it then uses st_blksize, 4 KiB:
         * a write() every ~6 events), so the buffer is ours. */
        a->out_buf = bn_malloc(AGENT_OUT_BUF);
        setvbuf(a->out, a->out_buf, _IOFBF, a->out_buf ? AGENT_OUT_BUF : 0);
    }
    if (*a->conf.spool_dir) {
        struct agent_spool_opts so;
        agent_spool_opts_init(&so);
        so.dir = a->conf.spool_dir;
        so.max_bytes = a->conf.spool_max;
        rc = agent_spool_open(&a->spool, &so);
        if (rc) {
            bn_diag_set(d, rc, a->conf.spool_dir, 0, 0, "cannot open spool '%s': %s",
                        a->conf.spool_dir, bn_strerror(rc));
            goto out;
        }
    }
    *out = a;
    a = NULL;
    rc = 0;
out:
    agent_free(a);
    return rc;
}

const struct agent_config *
agent_conf(const struct agent *a)
{
    return &a->conf;
}

enum agent_tier
agent_tier_in_use(const struct agent *a)
{
    return a->tier;
}

static const struct agent_collector_ops *
tier_primary(enum agent_tier t)
{
    switch (t) {
    case AGENT_TIER_BPF: return &agent_collector_bpf;
    case AGENT_TIER_NETLINK: return &agent_collector_proc_connector;
    case AGENT_TIER_POLL: return &agent_collector_proc_poll;
    default: return NULL;
    }
}

/*
 * Starts the eBPF collector with the file filters pushed into the kernel side: include
 * prefixes become "<dir>/" entries of its prefix map (longer than its limit, or with a '*'
 * it does not understand: left to the loop's filter, which sees every event anyway).
 * Sets a->bpf_files when the kernel side traces file operations.
 */
static int
start_bpf(struct agent *a, const struct agent_collector_ops *ops, void **state,
          struct bn_diag *d)
{
    if (agent_bpf_start_conf) {
        struct agent_bpf_conf bc;
        memset(&bc, 0, sizeof(bc));
        bc.files = a->conf.files;
        bc.syscalls = a->conf.bpf_syscalls;
        bc.poll_ms = (int)a->conf.bpf_poll_ms;
        for (size_t i = 0; i < a->ninc && bc.ninclude < AGENT_BPF_PATHS_MAX; i++) {
            size_t n = strlen(a->inc[i]);
            if (n == 0 || n + 2 > sizeof(a->bpf_paths[0]))
                continue;
            snprintf(a->bpf_paths[bc.ninclude], sizeof(a->bpf_paths[0]), "%s%s", a->inc[i],
                     a->inc[i][n - 1] == '/' ? "" : "/");
            bc.include[bc.ninclude] = a->bpf_paths[bc.ninclude];
            bc.ninclude++;
        }
        for (size_t i = 0; i < a->nexc && bc.nexclude < AGENT_BPF_PATHS_MAX; i++) {
            size_t n = strlen(a->exc[i]);
            if (n == 0 || strchr(a->exc[i], '*') ||
                n + 2 > sizeof(a->bpf_paths[0]))
                continue;
            char *dst = a->bpf_paths[AGENT_BPF_PATHS_MAX + bc.nexclude];
            snprintf(dst, sizeof(a->bpf_paths[0]), "%s", a->exc[i]);
            bc.exclude[bc.nexclude++] = dst;
        }
        bc.files = bc.files && bc.ninclude > 0;
        int rc = agent_bpf_start_conf(a, &bc, state, d);
        if (rc == 0)
            a->bpf_files = bc.files;
        return rc;
    }
    int rc = ops->start(a, state, d);
    if (rc == 0)
        a->bpf_files = a->conf.files;
    return rc;
}

static int
start_one(struct agent *a, const struct agent_collector_ops *ops, int kind, struct bn_diag *d)
{
    void *state = NULL;
    int rc;
    if (a->ncol >= AGENT_COLLECTORS_MAX)
        return BN_ETOOBIG;
    if (ops->probe && (rc = ops->probe(a, d)) != 0)
        return rc;
    if (kind == 3) {
        rc = start_bpf(a, ops, &state, d);
    } else if (kind == 1 && agent_fanotify_start_conf)
        rc = agent_fanotify_start_conf(a, &a->fan, &state, d);
    else if (kind == 2 && agent_poll_start_conf) {
        struct agent_poll_conf pc = {.interval_ms = 1000, .procs = true, .net = true};
        rc = agent_poll_start_conf(a, &pc, &state, d);
    } else
        rc = ops->start(a, &state, d);
    if (rc)
        return rc;
    pthread_mutex_lock(&a->col_mu);
    a->col[a->ncol].ops = ops;
    a->col[a->ncol].state = state;
    a->ncol++;
    pthread_mutex_unlock(&a->col_mu);
    return 0;
}

static int start_uplink(struct agent *a, struct bn_diag *d);

int
agent_start(struct agent *a, struct bn_diag *d)
{
    char detail[BN_DIAG_MSG_MAX + 128];
    struct bn_diag cd;
    int rc;
    a->started = false;
    /* the loop runs first so status events about tiers flow at once */
    if (pthread_create(&a->loop, NULL, loop_main, a) == 0)
        pthread_setname_np(a->loop, "bn-loop"); /* for top -H, perf and the bench */
    else
        return bn_diag_set(d, BN_EINTERNAL, "<agent>", 0, 0, "cannot start the loop thread");
    a->loop_running = true;
    a->started = true;

    enum agent_tier first = a->conf.tier ? (enum agent_tier)a->conf.tier : AGENT_TIER_BPF;
    enum agent_tier last = a->conf.tier ? (enum agent_tier)a->conf.tier : AGENT_TIER_POLL;
    for (enum agent_tier t = first; t <= last && a->tier == AGENT_TIER_NONE; t++) {
        const struct agent_collector_ops *ops = tier_primary(t);
        bn_diag_clear(&cd);
        if (!ops) {
            snprintf(detail, sizeof(detail), "tier %s not available: collector not built in",
                     tier_name(t));
            status_event(a, "tier_unavailable", detail);
            continue;
        }
        rc = start_one(a, ops, t == AGENT_TIER_POLL ? 2 : t == AGENT_TIER_BPF ? 3 : 0, &cd);
        if (rc) {
            snprintf(detail, sizeof(detail), "tier %s not available: %s: %s", tier_name(t),
                     ops->name, cd.msg[0] ? cd.msg : bn_strerror(rc));
            status_event(a, "tier_unavailable", detail);
            continue;
        }
        a->tier = t;
    }
    if (a->tier == AGENT_TIER_NONE) {
        agent_stop(a);
        return bn_diag_set(d, BN_EUNSUP, "<agent>", 0, 0,
                           a->conf.tier ? "the forced tier '%s' is not available here (see "
                                          "--check)"
                                        : "no collection tier is available here%s (see --check)",
                           a->conf.tier ? tier_name((enum agent_tier)a->conf.tier) : "");
    }
    if (a->tier != AGENT_TIER_BPF && !a->conf.tier) {
        snprintf(detail, sizeof(detail), "running at tier %s: the better tiers are unavailable",
                 tier_name(a->tier));
        status_event(a, "degraded", detail);
    }
    if (a->tier == AGENT_TIER_BPF && agent_bpf_stats &&
        a->conf.bpf_syscalls == AGENT_BPF_SC_AUTO) {
        /* the raw syscall programs cost every syscall of every process a program run */
        for (size_t i = 0; i < a->ncol; i++) {
            struct agent_bpf_stats bs;
            if (a->col[i].ops != &agent_collector_bpf)
                continue;
            agent_bpf_stats(a->col[i].state, &bs);
            if (!bs.syscalls_raw)
                continue;
            snprintf(detail, sizeof(detail),
                     "watched syscalls through the raw sys_enter/sys_exit programs (every "
                     "syscall pays a program run): %s", bs.syscalls_why);
            status_event(a, "degraded", detail);
        }
    }
    if (a->tier == AGENT_TIER_BPF || a->tier == AGENT_TIER_NETLINK) {
        /* at tier 1 the eBPF programs report file events; fanotify as well would report
         * each of them twice (and alert twice), unless asked for */
        bool fan = a->conf.files &&
                   (a->tier != AGENT_TIER_BPF || !a->bpf_files || a->conf.fanotify_with_bpf);
        const struct agent_collector_ops *extra[2] = {
            fan ? &agent_collector_fanotify : NULL,
            a->conf.auth ? &agent_collector_auth : NULL,
        };
        const char *names[2] = {"fanotify", "auth"};
        for (int i = 0; i < 2; i++) {
            if ((i == 0 && !fan) || (i == 1 && !a->conf.auth))
                continue;
            bn_diag_clear(&cd);
            if (!extra[i]) {
                snprintf(detail, sizeof(detail), "collector %s not built in: no %s events",
                         names[i], i == 0 ? "file" : "auth");
                status_event(a, "degraded", detail);
                continue;
            }
            rc = start_one(a, extra[i], i == 0 ? 1 : 0, &cd);
            if (rc) {
                snprintf(detail, sizeof(detail), "collector %s unavailable: %s", names[i],
                         cd.msg[0] ? cd.msg : bn_strerror(rc));
                status_event(a, "degraded", detail);
            }
        }
    }
    snprintf(detail, sizeof(detail), "tier %s, %zu collectors, %zu rules", tier_name(a->tier),
             a->ncol, a->nrules);
    atomic_store(&a->budget_rebase, true);
    atomic_store(&a->budget_armed, true);
    status_event(a, "started", detail);
    return start_uplink(a, d);
}

/* ---- the manager link ---- */

/* Health for the link's heartbeats (uplink thread). */
static void
uplink_health(void *ctx, struct bn_buf *out, int *tier)
{
    struct agent *a = ctx;
    struct agent_counters c;
    struct agent_spool_stats st;
    agent_counters(a, &c);
    pthread_mutex_lock(&a->spool_mu);
    agent_spool_stats(a->spool, &st);
    pthread_mutex_unlock(&a->spool_mu);
    *tier = a->tier;
    bn_buf_printf(out,
                  "{\"tier\":\"%s\",\"events\":%" PRIu64 ",\"shed\":%" PRIu64
                  ",\"sampled\":%" PRIu64 ",\"alerts\":%" PRIu64 ",\"queue_depth\":%u"
                  ",\"cpu_percent\":%.2f,\"rss_bytes\":%" PRIu64 ",\"spool_depth\":%" PRIu64
                  ",\"spool_bytes\":%" PRIu64 ",\"spool_dropped\":%" PRIu64
                  ",\"spool_corrupt\":%" PRIu64 "}",
                  tier_name(a->tier), c.processed, c.shed, c.sampled, c.alerts, c.queue_depth,
                  c.cpu_percent, c.rss_bytes, st.next_seq - 1 - st.acked_seq, st.bytes,
                  st.dropped[0] + st.dropped[1] + st.dropped[2] + st.dropped[3], st.corrupt);
}

/*
 * EventID 150/151 of response actions (worker thread): to the spool, so the manager's audit
 * trail has the endpoint's side, and to the output.
 */
static void
respond_event_sink(void *arg, const char *json, size_t len)
{
    struct agent *a = arg;
    if (a->spool) {
        uint64_t seq = 0;
        pthread_mutex_lock(&a->spool_mu);
        /* the loop's waiting records go first: their predicted seqs hold, and an alert is
         * spooled before the containment it caused */
        pend_spool(a);
        int src = agent_spool_append(a->spool, json, len, AGENT_PRIO_CRITICAL, &seq);
        pthread_mutex_unlock(&a->spool_mu);
        if (src != 0)
            BN_WARN("agent", "response event not spooled: %s", bn_strerror(src));
    }
    if (a->out) {
        flockfile(a->out);
        fwrite(json, 1, len, a->out);
        fputc('\n', a->out);
        fflush(a->out); /* rare, and not the loop's: written out at once */
        funlockfile(a->out);
    }
}

/* The response executors and the queue of the manager's actions. State beside the link
 * directory: <link dir>/../respond (/var/lib/bannin-agent/respond by default). */
static int
start_respond(struct agent *a, const char *link_dir, struct bn_diag *d)
{
    char base[4000];
    snprintf(base, sizeof(base), "%s", link_dir);
    size_t n = strlen(base);
    while (n > 1 && base[n - 1] == '/')
        base[--n] = '\0';
    char *slash = strrchr(base, '/');
    if (slash && slash != base)
        *slash = '\0';
    else if (slash)
        base[1] = '\0';
    else
        snprintf(base, sizeof(base), ".");
    snprintf(a->respond_dir, sizeof(a->respond_dir), "%s/respond", base);
    struct respond_paths rp = {a->respond_dir, NULL, NULL};
    int rc = respond_new(&a->respond, &rp);
    if (!rc) {
        /* isolation keeps the manager reachable: the named server, else the enrolled one */
        struct bn_wire_ident *id = bn_calloc(1, sizeof(*id));
        char ierr[256];
        if (*a->conf.server)
            respond_set_manager(a->respond, a->conf.server);
        else if (id && bn_wire_ident_load(link_dir, id, ierr, sizeof(ierr)) == 0)
            respond_set_manager(a->respond, id->server);
        if (id) {
            memset(id->sk, 0, sizeof(id->sk));
            bn_free(id);
        }
        respond_set_host(a->respond, a->host);
        respond_set_event_cb(a->respond, respond_event_sink, a);
        if (a->conf.block_marks && *a->conf.block_marks)
            respond_block_setup(a->respond, a->conf.block_marks, a->conf.block_fail_closed,
                                (uint32_t)a->conf.block_deadline_us);
        if (a->conf.baseline)
            respond_baseline_first(a->respond);
        rc = action_queue_new(&a->actions, a->respond, a->respond_dir);
    }
    if (rc)
        return bn_diag_set(d, rc, a->respond_dir, 0, 0, "response actions: %s",
                           bn_strerror(rc));
    return 0;
}

/* The containment worker: runs each queued job's actions through agent_respond_ex. */
static void *
contain_main(void *arg)
{
    struct agent *a = arg;
    struct bn_buf params, res;
    bn_buf_init(&params, 4096);
    bn_buf_init(&res, 1 << 20);
    pthread_mutex_lock(&a->contain_mu);
    for (;;) {
        while (!a->contain_n && !a->contain_stop)
            pthread_cond_wait(&a->contain_cv, &a->contain_mu);
        if (!a->contain_n)
            break; /* stopping with nothing left: queued jobs still run first */
        struct contain_job j = a->contain_q[a->contain_head];
        a->contain_head = (a->contain_head + 1) % CONTAIN_QUEUE;
        a->contain_n--;
        pthread_mutex_unlock(&a->contain_mu);
        for (size_t i = 0; i < a->ncontain_actions; i++) {
            const char *type = a->contain_actions[i];
            bn_buf_reset(&params);
            bn_buf_reset(&res);
            int prc;
            if (strcmp(type, "kill_tree") == 0) {
                prc = bn_buf_printf(&params, "{\"pid\":%d,\"start_ns\":%" PRIu64 "}",
                                    (int)j.pid, j.start_ns);
            } else {
                /* the manager endpoint kept reachable is the enrolled one (respond_set_manager) */
                prc = bn_buf_puts(&params, "{\"by\":\"bannin-agent autonomous\",\"reason\":\"");
                if (!prc)
                    prc = bn_buf_printf(&params, "local detection %.100s by pid %d", j.rule,
                                        (int)j.pid);
                if (!prc)
                    prc = bn_buf_puts(&params, "\"}");
            }
            int rc = prc ? prc
                         : agent_respond_ex(a->respond, 0, "local", type, params.p, params.len,
                                            &res);
            bool ok = false;
            if (rc == 0 && res.p) {
                json_t *rj = json_loadb(res.p, res.len, 0, NULL);
                ok = rj && json_is_true(json_object_get(rj, "ok"));
                json_decref(rj);
            }
            pthread_mutex_lock(&a->mu);
            a->cnt.contain_ran++;
            if (!ok)
                a->cnt.contain_failed++;
            pthread_mutex_unlock(&a->mu);
            if (!ok)
                BN_WARN("agent", "autonomous %s of pid %d failed: %s", type, (int)j.pid,
                        res.p ? res.p : bn_strerror(rc));
        }
        pthread_mutex_lock(&a->contain_mu);
    }
    pthread_mutex_unlock(&a->contain_mu);
    bn_buf_release(&params);
    bn_buf_release(&res);
    return NULL;
}

/* Autonomous containment on: the executors (without a manager link, their state beside the
 * spool, else /var/lib/bannin-agent/respond) and the worker. */
static int
start_contain(struct agent *a, struct bn_diag *d)
{
    if (!a->conf.autonomous)
        return 0;
    char buf[256];
    const char *items[8];
    size_t n = agent_config_split(a->conf.autonomous_actions, buf, sizeof(buf), items, 8);
    a->ncontain_actions = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = strcmp(items[i], "kill_tree") == 0 ? "kill_tree"
                        : strcmp(items[i], "isolate") == 0 ? "isolate"
                                                           : NULL;
        if (!t)
            return bn_diag_set(d, BN_EINVAL, "<config>", 0, 0,
                               "response.autonomous_actions: '%s' is not kill_tree or isolate",
                               items[i]);
        bool dup = false;
        for (size_t k = 0; k < a->ncontain_actions; k++)
            dup |= a->contain_actions[k] == t;
        if (!dup && a->ncontain_actions < BN_ARRAY_SIZE(a->contain_actions))
            a->contain_actions[a->ncontain_actions++] = t;
    }
    if (!a->ncontain_actions)
        return bn_diag_set(d, BN_EINVAL, "<config>", 0, 0,
                           "response.autonomous is on but response.autonomous_actions is empty");
    if (!a->respond) {
        char base[4000];
        if (*a->conf.spool_dir) {
            snprintf(base, sizeof(base), "%s", a->conf.spool_dir);
            size_t bl = strlen(base);
            while (bl > 1 && base[bl - 1] == '/')
                base[--bl] = '\0';
            /* start_respond takes the parent of the directory it is given */
        } else {
            snprintf(base, sizeof(base), "%s", UPLINK_DIR_DEFAULT);
        }
        int rc = start_respond(a, base, d);
        if (rc)
            return rc;
    }
    pthread_mutex_lock(&a->contain_mu);
    a->contain_stop = false;
    int rc = pthread_create(&a->contain_thr, NULL, contain_main, a);
    a->contain_running = rc == 0;
    pthread_mutex_unlock(&a->contain_mu);
    if (rc)
        return bn_diag_set(d, -rc, "<agent>", 0, 0, "autonomous containment worker: %s",
                           strerror(rc));
    char detail[160];
    snprintf(detail, sizeof(detail), "autonomous containment on: %s%s%s at level %s and above",
             a->contain_actions[0], a->ncontain_actions > 1 ? "," : "",
             a->ncontain_actions > 1 ? a->contain_actions[1] : "",
             sigma_level_name((enum sigma_level)a->conf.autonomous_level));
    status_event(a, "autonomous", detail);
    return 0;
}

/* Starts the uplink when the agent is enrolled (server.dir) or a server is named. */
static int
start_uplink(struct agent *a, struct bn_diag *d)
{
    const char *dir = a->conf.link_dir;
    if (!*dir && !*a->conf.server)
        return start_contain(a, d);
    if (!*dir)
        dir = UPLINK_DIR_DEFAULT;
    if (!a->spool)
        return bn_diag_set(d, BN_EINVAL, "<agent>", 0, 0,
                           "the manager link needs a spool: set output.spool_dir (--spool)");
    struct uplink_conf uc;
    memset(&uc, 0, sizeof(uc));
    uc.link_dir = dir;
    uc.server = a->conf.server;
    uc.hostname = a->host;
    uc.heartbeat_ms = a->conf.heartbeat_ms;
    uc.spool = a->spool;
    uc.spool_mu = &a->spool_mu;
    uc.health = uplink_health;
    uc.health_ctx = a;
    int rrc = start_respond(a, dir, d);
    if (rrc)
        return rrc;
    uc.actions = a->actions;
    rrc = start_contain(a, d);
    if (rrc)
        return rrc;
    char err[512];
    int rc = uplink_start(&a->uplink, &uc, err, sizeof(err));
    if (rc)
        return bn_diag_set(d, rc, dir, 0, 0, "manager link: %s", err);
    return 0;
}

void
agent_stop(struct agent *a)
{
    if (!a)
        return;
    if (a->loop_running && !a->stopping)
        status_event(a, "stopping", a->tier ? tier_name(a->tier) : NULL);
    pthread_mutex_lock(&a->col_mu);
    a->cols_closing = true;
    pthread_mutex_unlock(&a->col_mu);
    for (size_t i = a->ncol; i-- > 0;)
        if (a->col[i].ops->stop)
            a->col[i].ops->stop(a, a->col[i].state);
    a->ncol = 0;
    if (a->loop_running) {
        pthread_mutex_lock(&a->mu);
        a->stopping = true;
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->loop, NULL);
        a->loop_running = false;
    }
    if (a->contain_running) {
        /* the loop is stopped: nothing more is queued; what is queued still runs */
        pthread_mutex_lock(&a->contain_mu);
        a->contain_stop = true;
        pthread_cond_signal(&a->contain_cv);
        pthread_mutex_unlock(&a->contain_mu);
        pthread_join(a->contain_thr, NULL);
        a->contain_running = false;
    }
    uplink_stop(a->uplink);
    a->uplink = NULL;
    /* after the uplink (it hands actions over); waits for the action running */
    action_queue_free(a->actions);
    a->actions = NULL;
    respond_free(a->respond);
    a->respond = NULL;
}

void
agent_free(struct agent *a)
{
    if (!a)
        return;
    agent_stop(a);
    struct agent_event ev;
    while (a->q[0].v && a->q[1].v && a->q[2].v && a->q[3].v && agent_queue_pop(a, &ev) == 0)
        agent_event_release(&ev);
    for (int p = 0; p < 4; p++)
        bn_free(a->q[p].v);
    agent_proctable_free(a->pt);
    bn_correlator_free(a->corr);
    bn_evbuilder_free(a->eb);
    bn_scratch_free(a->scratch);
    if (a->rs)
        bn_event_release(&a->bev);
    if (a->drec_ok)
        bn_record_release(&a->drec);
    bn_mapping_free(a->map);
    bn_ruleset_free(a->rs);
    if (a->out_owned && a->out)
        fclose(a->out);
    else if (a->out)
        fflush(a->out);
    bn_free(a->out_buf); /* after fclose: it was the stream's buffer */
    if (a->spool)
        agent_spool_close(a->spool);
    pthread_mutex_destroy(&a->spool_mu);
    pthread_mutex_destroy(&a->col_mu);
    pthread_mutex_destroy(&a->contain_mu);
    pthread_cond_destroy(&a->contain_cv);
    bn_buf_release(&a->json);
    bn_buf_release(&a->ajson);
    bn_buf_release(&a->pend);
    bn_buf_release(&a->pend_fix);
    bn_free(a->pend_recs);
    bn_free(a->pend_iov);
    bn_free(a->pend_prio);
    bn_free(a->inc_buf);
    bn_free(a->exc_buf);
    agent_config_release(&a->conf);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->work_mu);
    pthread_mutex_destroy(&a->mu);
    while (a->qfree) {
        struct qent *n = a->qfree->next_free;
        bn_free(a->qfree);
        a->qfree = n;
    }
    pthread_mutex_destroy(&a->qfree_mu);
    bn_free(a->batch);
    bn_free(a);
}

void
agent_counters(struct agent *a, struct agent_counters *c)
{
    pthread_mutex_lock(&a->mu);
    *c = a->cnt;
    c->queue_depth = (uint32_t)a->total;
    c->sample_shift = atomic_load(&a->sample_shift);
    pthread_mutex_unlock(&a->mu);
}

int
agent_check(struct agent *a, FILE *out)
{
    static const struct {
        const struct agent_collector_ops *ops;
        const char *name;
        const char *tiers;
    } all[] = {
        {&agent_collector_bpf, "bpf", "1"},
        {&agent_collector_proc_connector, "proc_connector", "2"},
        {&agent_collector_fanotify, "fanotify", "1, 2"},
        {&agent_collector_auth, "auth", "1, 2"},
        {&agent_collector_proc_poll, "proc_poll", "3"},
    };
    enum agent_tier best = AGENT_TIER_NONE;
    fprintf(out, "collectors:\n");
    for (size_t i = 0; i < BN_ARRAY_SIZE(all); i++) {
        struct bn_diag cd;
        bn_diag_clear(&cd);
        if (!all[i].ops) {
            fprintf(out, "  %-15s tier %-5s not built in\n", all[i].name, all[i].tiers);
            continue;
        }
        int rc = all[i].ops->probe ? all[i].ops->probe(a, &cd) : 0;
        if (rc) {
            fprintf(out, "  %-15s tier %-5s unavailable: %s\n", all[i].name, all[i].tiers,
                    cd.msg[0] ? cd.msg : bn_strerror(rc));
            continue;
        }
        char desc[2048] = "";
        if (all[i].ops->describe)
            all[i].ops->describe(a, NULL, desc, sizeof(desc));
        size_t dl = strlen(desc);
        while (dl && (desc[dl - 1] == '\n' || desc[dl - 1] == ' '))
            desc[--dl] = '\0';
        fprintf(out, "  %-15s tier %-5s available%s%s\n", all[i].name, all[i].tiers,
                desc[0] ? ": " : "", desc);
        enum agent_tier t = all[i].ops->tier;
        if (all[i].ops == tier_primary(t) && (best == AGENT_TIER_NONE || t < best))
            best = t;
    }
    if (a->conf.tier && tier_primary((enum agent_tier)a->conf.tier) &&
        best != (enum agent_tier)a->conf.tier) {
        /* forced: usable only if that tier's collector probed fine */
        struct bn_diag cd;
        bn_diag_clear(&cd);
        const struct agent_collector_ops *ops = tier_primary((enum agent_tier)a->conf.tier);
        best = ops->probe && ops->probe(a, &cd) ? AGENT_TIER_NONE
                                                 : (enum agent_tier)a->conf.tier;
    }
    fprintf(out, "tier: %s%s\n", tier_name(best), a->conf.tier ? " (forced)" : "");
    fprintf(out, "detection: %s, %zu rules\n", a->rs ? "on" : "off", a->nrules);
    fprintf(out, "output:%s%s%s%s\n", a->conf.out_stdout ? " stdout" : "",
            *a->conf.out_file ? " " : "", a->conf.out_file,
            a->spool ? " spool" : (!a->conf.out_stdout && !*a->conf.out_file ? " none" : ""));
    return best == AGENT_TIER_NONE ? BN_EUNSUP : 0;
}
