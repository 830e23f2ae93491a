/*
 * respond_block.h - exec blocking (issue 5): deny execution of files by SHA-256, by path
 * (exact or prefix) or by YARA rule, through fanotify FAN_OPEN_EXEC_PERM permission events.
 *
 * A listener thread (FAN_CLASS_CONTENT group) marks the configured mounts / directories and
 * answers every exec permission event. It runs only while the block list is non-empty and at
 * least one mark is configured. The host never hangs on the agent:
 *   - each answer has a deadline (conf.deadline_us, default 20 ms from the event's read);
 *     when deciding would take longer (hashing a big file), the policy answers (fail-open:
 *     allow, fail-closed: deny) and the timeout is counted; the hash is still finished and
 *     cached afterwards (up to BN_RESP_BLOCK_HASH_MAX bytes) so the next exec is decided
 *     properly;
 *   - a watchdog thread removes the marks and answers pending events by policy if the
 *     listener stops making progress for conf.watchdog_ms (counted as a watchdog trip).
 * Content verdicts (SHA-256, YARA) are cached per file version, keyed by (dev, ino, size,
 * mtime, ctime), in a bounded direct-mapped cache; a change of the rules invalidates it.
 * Path rules are checked on every event (a path is not a property of the inode).
 *
 * The block list persists in <state_dir>/block_list.json (written atomically) and is loaded
 * by resp_block_new.
 *
 * Params and results (JSON):
 *   block_add    {"sha256":"<64 hex>"} | {"path":"/abs/path" or "/prefix/"} | {"yara":"rule ..."}
 *                optional "comment":"..."          -> {"ok":true,"id":N,"rules":count}
 *   block_remove {"id":N} | the same key as block_add -> {"ok":true,"removed":N,"rules":count}
 *   block_list   {}                                -> {"ok":true,"rules":[...],"stats":{...},
 *                                                      "listening":bool,"marks":[...]}
 * A path ending in '/' is a prefix rule; otherwise the path must match exactly.
 */
#ifndef BANNIN_AGENT_RESPOND_BLOCK_H
#define BANNIN_AGENT_RESPOND_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/respond.h"

struct resp_block;

/* One denied exec, reported after the answer was written (borrowed for the call). */
struct resp_block_denial {
    pid_t pid;             /* the process that tried to exec */
    const char *path;      /* the file's path as seen by the agent ("" when unknown) */
    const char *sha256;    /* lower-case hex, or NULL when not computed */
    const char *rule_kind; /* "sha256", "path", "prefix", "yara" or "timeout" (policy) */
    const char *rule;      /* the rule's value (the hash, the path, the YARA rule name) */
    uint64_t rule_id;      /* 0 for a policy denial after a timeout */
};

/* Called from the listener thread for every denied exec; must not block for long. */
typedef void (*resp_block_deny_cb)(void *ctx, const struct resp_block_denial *d);

/* Configuration; zeroed fields take the defaults. */
struct resp_block_conf {
    const char *const *marks; /* mount points (mount mark) or directories (their children) */
    size_t n_marks;           /* 0: no marks, nothing is blocked (the default) */
    uint32_t deadline_us;     /* answer deadline; default BN_RESP_BLOCK_DEADLINE_US */
    uint32_t watchdog_ms;     /* listener stall before marks are removed; default 2000 */
    bool fail_closed;         /* on timeout: deny (true) or allow (false, the default) */
    bool no_cache;            /* disable the decision cache (benchmarks: cold decisions) */
    uint32_t cache_slots;     /* power of two; default BN_RESP_BLOCK_CACHE_SLOTS */
    uint32_t latency_samples; /* keep the last N decision latencies (benchmarks); 0: none */
    int nice;                 /* listener thread's nice: 0 = default -10, 20 = unchanged */
    int rt_priority;          /* 1..99: run the listener SCHED_FIFO (the watchdog stays
                                 normal; RT throttling bounds a runaway); 0 = off */
    int slice_us;             /* not SCHED_FIFO: the listener's requested EEVDF slice
                                 (sched_setattr sched_runtime, Linux >= 6.12), which keeps
                                 the process its answer wakes from preempting it and lets it
                                 preempt sooner on an event; 0 = 100 us, -1 = kernel default */
    resp_block_deny_cb on_deny;
    void *deny_ctx;
};

/* Counters since the module was created. */
struct resp_block_stats {
    uint64_t events; /* exec permission events read */
    uint64_t allowed;
    uint64_t denied;
    uint64_t cache_hits;
    uint64_t cache_misses;
    uint64_t cache_evictions;
    uint64_t hashed;   /* files hashed */
    uint64_t timeouts; /* answers given by policy because the deadline passed */
    uint64_t errors;   /* events that could not be examined (answered by policy) */
    uint64_t too_big;  /* files over the hash / YARA size limit (answered by policy) */
    uint64_t watchdog_trips;
    uint64_t queue_overflows; /* FAN_Q_OVERFLOW seen */
};

/* Creates the module with default configuration (no marks: nothing is blocked) and loads
 * the persisted block list from paths->state_dir (may be NULL: no persistence). */
int resp_block_new(struct resp_block **out, const struct respond_paths *paths);
/* Same with a configuration (borrowed: strings are copied). */
int resp_block_new_conf(struct resp_block **out, const struct respond_paths *paths,
                        const struct resp_block_conf *conf);
/* Stops the listener (pending events are answered by the kernel: allowed) and frees m. */
void resp_block_free(struct resp_block *m);

/*
 * Replaces the marks, deadline, watchdog, policy, priority and callback (conf borrowed;
 * cache_slots, no_cache and latency_samples are fixed at creation) and restarts the listener
 * when rules exist; also re-arms after a watchdog trip. Returns 0, BN_ETOOBIG, BN_EINVAL or
 * BN_ENOMEM (m unchanged).
 */
int resp_block_configure(struct resp_block *m, const struct resp_block_conf *conf);
/* Sets (or clears, cb NULL) the denial callback after creation; safe while listening. */
void resp_block_set_deny_cb(struct resp_block *m, resp_block_deny_cb cb, void *ctx);
/* Copies the counters. */
void resp_block_stats(struct resp_block *m, struct resp_block_stats *out);
/* True while the listener thread runs with its marks in place. */
bool resp_block_listening(struct resp_block *m);
/* Copies up to max of the recorded decision latencies, oldest first: ns the wall time from
 * the event's read to the answer's delivery (to the answer's write() plus that write's CPU
 * time: the kernel releases the exec inside it), cpu the listener's CPU time for it (either
 * may be NULL). Returns the count. */
size_t resp_block_latencies(struct resp_block *m, uint32_t *ns, uint32_t *cpu, size_t max);
/* The same, with ret the wall time to the answer's write() returning and preempted 1 when
 * the listener lost the CPU on that return (to the process its answer woke). */
size_t resp_block_latencies_ex(struct resp_block *m, uint32_t *ns, uint32_t *ret, uint32_t *cpu,
                               uint8_t *preempted, size_t max);

/*
 * Parses a persisted block list (the block_list.json format, len bytes) and appends its rules
 * to m. On failure err (errlen bytes) says where and why, and the rules before the bad one
 * stay. Returns 0, BN_EPARSE, BN_ETOOBIG or BN_ENOMEM. Used at start-up and by the fuzzer.
 */
int resp_block_load_text(struct resp_block *m, const char *text, size_t len, char *err,
                         size_t errlen);

/* Actions: params is a JSON object of len bytes (borrowed); the result is appended to out. */
int resp_block_add(struct resp_block *m, const char *params, size_t len, struct bn_buf *out);
int resp_block_remove(struct resp_block *m, const char *params, size_t len, struct bn_buf *out);
int resp_block_list(struct resp_block *m, const char *params, size_t len, struct bn_buf *out);

#endif
