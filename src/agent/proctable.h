/*
 * proctable.h - the agent's process table: what is known about every process, keyed by pid
 * and start time, so events can carry the parent and the whole ancestry chain even after
 * the parents have exited, and pid reuse is never mistaken for the same process.
 *
 * Facts come from /proc/<pid>/{stat,status,exe,cmdline,cwd,loginuid,sessionid,cgroup}, read
 * with hard limits (long command lines are cut at AGENT_CMDLINE_MAX and flagged), and from
 * collectors that saw the exec. The SHA-256 of executables is cached by device, inode, size
 * and mtime, so an unchanged binary is hashed once.
 *
 * Start times: start_ns is boot-relative (task->start_boottime in BPF, starttime of
 * /proc/<pid>/stat). /proc only has clock-tick resolution, so two start times are the same
 * process when they fall in the same tick; 0 means unknown and matches any start time.
 *
 * Thread-safety: every function takes the table's own lock, so collectors may use it too.
 */
#ifndef BANNIN_AGENT_PROCTABLE_H
#define BANNIN_AGENT_PROCTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/agent.h"

struct agent_proctable;

struct agent_proctable_opts {
    size_t max_entries;         /* live + exited processes kept (0 = 65536) */
    int64_t exited_keep_ns;     /* how long an exited process without descendants in the
                                   table stays (0 = 5 s); one with descendants stays while
                                   they do */
    size_t exited_max;          /* exited entries waiting for expiry at most (0 = 4096): at
                                   a higher exit rate the oldest go first (counted: evicted),
                                   so a process storm cannot grow the table for exited_keep */
    bool hash;                  /* compute SHA-256 of executables */
    uint64_t hash_max_bytes;    /* larger executables are not hashed (0 = 256 MiB) */
    size_t hash_cache_slots;    /* SHA-256 cache entries (0 = 4096) */
    const char *proc_root;      /* "/proc" unless a test says otherwise (borrowed) */
};

struct agent_proctable_stats {
    uint64_t entries;           /* processes in the table now */
    uint64_t exited;            /* of which exited (kept for ancestry) */
    uint64_t inserts;
    uint64_t reused;            /* a pid came back with another start time */
    uint64_t evicted;           /* dropped at max_entries or exited_max before their time */
    uint64_t expired;           /* exited entries dropped after exited_keep_ns */
    uint64_t swept;             /* live entries found gone (their exit event was lost) */
    uint64_t proc_reads;
    uint64_t proc_read_errors;  /* processes gone or unreadable */
    uint64_t cmdline_truncated; /* command lines cut at AGENT_CMDLINE_MAX */
    uint64_t path_truncated;    /* exe/cwd/cgroup cut at AGENT_PATH_MAX */
    uint64_t hash_hits;
    uint64_t hash_misses;
    uint64_t hash_errors;       /* unreadable or over hash_max_bytes */
    uint64_t hash_errors_cached; /* of which answered from the cache: that version of the
                                  * file failed before (over the limit, a read error) */
};

/* Returns 0 and an owned table in *out, or BN_ENOMEM. opts may be NULL (defaults). */
int agent_proctable_new(struct agent_proctable **out, const struct agent_proctable_opts *opts);
/* Frees the table and every entry; NULL is a no-op. */
void agent_proctable_free(struct agent_proctable *pt);

/*
 * Reads /proc/<pid> (under proc_root) into p, which is cleared first; strings in p are
 * owned (agent_proc_release frees them). Hashes the executable if the table hashes.
 * Returns 0, -ENOENT / -ESRCH if the process is gone, or BN_ENOMEM. pt may be NULL (no
 * hashing, default limits, no counters).
 */
int agent_proc_read(struct agent_proctable *pt, pid_t pid, struct agent_proc *p);
/* Frees the strings of p and clears it. */
void agent_proc_release(struct agent_proc *p);
/* Deep copy: dst is cleared first and gets owned strings. 0 or BN_ENOMEM (dst left clear). */
int agent_proc_copy(struct agent_proc *dst, const struct agent_proc *src);
/* True when a and b may be the same process start (same clock tick, or either unknown). */
bool agent_proc_same_start(uint64_t a, uint64_t b);

/*
 * Records what is known of a process (copied; p stays the caller's). An entry with the same
 * pid and start is updated (fields p leaves empty keep their value); a different start time
 * for a live pid means the pid was reused: the old entry is marked exited and kept.
 * Returns 0 or BN_ENOMEM.
 */
int agent_proctable_update(struct agent_proctable *pt, const struct agent_proc *p);
/*
 * Copies the entry of pid into out (owned strings). start_ns 0 picks the live entry only
 * (an exited process is found by its start time, so a stale entry is never taken for a new
 * process). If nothing is known and the process is alive, it is read from /proc and added.
 * Returns 0, BN_ENOTFOUND, or BN_ENOMEM.
 */
int agent_proctable_get(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                        struct agent_proc *out);
/* Strings agent_proc_fill / agent_proctable_fill copy (the other fields always). */
#define AGENT_PF_EXE 0x1u
#define AGENT_PF_CMDLINE 0x2u
#define AGENT_PF_CWD 0x4u
#define AGENT_PF_TTY 0x8u
#define AGENT_PF_CGROUP 0x10u
#define AGENT_PF_ALL 0x1fu
/*
 * Fills what dst leaves empty from src: the strings named in fields (copied), comm, SHA-256,
 * container id (derived from dst's cgroup if src has none), ppid, start, the flags, and the
 * ids when dst has none. Returns 0 or BN_ENOMEM.
 */
int agent_proc_fill(struct agent_proc *dst, const struct agent_proc *src, unsigned fields);
/*
 * agent_proctable_get + agent_proc_fill without the intermediate copy of the entry: only
 * what dst lacks is copied, under the table's lock. Returns 0, BN_ENOTFOUND or BN_ENOMEM.
 */
int agent_proctable_fill(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                         struct agent_proc *dst, unsigned fields);
/* Marks a process exited at now_ns; it is kept for exited_keep_ns for ancestry. */
void agent_proctable_exit(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                          int64_t now_ns);
/*
 * Marks exited (at now_ns) the live entries whose pid no longer exists: their exit event was
 * lost (ring buffer full, queue shed). Without this they would stay in the table for good.
 * Returns how many.
 */
size_t agent_proctable_sweep(struct agent_proctable *pt, int64_t now_ns);
/* Drops exited entries older than exited_keep_ns before now_ns. */
void agent_proctable_expire(struct agent_proctable *pt, int64_t now_ns);
/*
 * Fills chain[0..max) with the ancestors of (pid, start_ns): chain[0] is its parent, then
 * the grandparent, up to pid 1 or the first unknown ancestor (owned strings: release each).
 * *n is the count. Returns 0 or BN_ENOMEM (then *n is 0 and chain is clear).
 */
int agent_proctable_ancestry(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                             struct agent_proc *chain, size_t max, size_t *n);
/*
 * The same walk without copies: cb sees each ancestor (i = 0 for the parent) while the
 * table is locked; it must not call into the table and must not keep p. Returns the count.
 */
typedef void (*agent_ancestor_cb)(void *ctx, size_t i, const struct agent_proc *p);
size_t agent_proctable_ancestry_each(struct agent_proctable *pt, pid_t pid, uint64_t start_ns,
                                     size_t max, agent_ancestor_cb cb, void *ctx);
/*
 * SHA-256 of the file at path as 64 hex digits in hex (NUL-terminated), through the
 * dev+inode+size+mtime cache. Returns 0, or -errno / BN_ETOOBIG / BN_EINTERNAL (hex = "").
 */
int agent_proctable_sha256(struct agent_proctable *pt, const char *path, char hex[65]);
/*
 * The same for an executable whose identity the kernel gave (id may be NULL or not valid):
 * a cache hit under id costs no syscall; otherwise path is hashed as above and the result
 * is also remembered under id when the file read has id's size and mtime (a stat may name
 * a file by another device than the kernel's superblock: btrfs subvolumes, overlayfs).
 */
int agent_proctable_sha256_id(struct agent_proctable *pt, const struct agent_file_id *id,
                              const char *path, char hex[65]);
void agent_proctable_stats(struct agent_proctable *pt, struct agent_proctable_stats *st);

/* Sets id to the 64-hex container id of the deepest component of a cgroup path that carries
 * one ("<64 hex>", "docker-<64 hex>.scope", "cri-containerd-<64 hex>.scope", "crio-...",
 * "libpod-..."), or "" when there is none. cg may be NULL. */
void agent_container_id_from_cgroup(const char *cg, char id[65]);
/*
 * The cgroup path of a process from the text of /proc/<pid>/cgroup (owned, NULL when there
 * is no line or no memory): the first hierarchy whose path names a container (its id in
 * id), else the v2 "0::" line, else the first v1 line. Hybrid hosts list v1 lines first.
 */
char *agent_cgroup_pick(const char *text, char id[65]);

#endif
