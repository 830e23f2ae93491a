/*
 * agent.h - what the parts of bannin-agent share: the telemetry event, the collector
 * interface, the process table and the emit path into the agent's loop.
 *
 * Threads: collectors run on their own threads (or are polled by the loop); they fill a
 * struct agent_event and call agent_emit(), which copies it into the loop's bounded queue.
 * The loop thread enriches events from the process table, runs local detection, and writes
 * them to the spool and to --stdout/--output. Nothing an emitter hands over is lost
 * silently: when the queue is full the event is shed by priority and counted.
 */
#ifndef BANNIN_AGENT_H
#define BANNIN_AGENT_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bannin/config.h"
#include "bannin/diag.h"

/* Sysmon-for-Linux event ids where one exists; ours start at 100. */
enum agent_kind {
    AGENT_EV_PROCESS_CREATE = 1,   /* Sysmon 1 */
    AGENT_EV_NET_CONNECT = 3,      /* Sysmon 3: connect, accept, listen, UDP flow */
    AGENT_EV_PROCESS_TERMINATE = 5,/* Sysmon 5 */
    AGENT_EV_FILE_CREATE = 11,     /* Sysmon 11 */
    AGENT_EV_DNS_QUERY = 22,       /* Sysmon 22 */
    AGENT_EV_FILE_DELETE = 23,     /* Sysmon 23 */
    AGENT_EV_FILE_WRITE = 100,     /* close after write */
    AGENT_EV_FILE_RENAME = 101,
    AGENT_EV_FILE_ATTR = 102,      /* chmod / chown */
    AGENT_EV_AUTH = 110,           /* sshd, sudo, su, login: success or failure */
    AGENT_EV_MODULE_LOAD = 120,
    AGENT_EV_BPF_LOAD = 121,
    AGENT_EV_TAMPER = 122,         /* attempts to stop or modify the agent */
    AGENT_EV_STATUS = 130,         /* agent health, tier changes, degradation, drops */
    AGENT_EV_ALERT = 140,          /* a local detection */
};

/* Shedding priority: lower sheds first. */
enum agent_prio {
    AGENT_PRIO_BULK = 0,      /* ordinary file events */
    AGENT_PRIO_NORMAL = 1,    /* process exit, DNS */
    AGENT_PRIO_HIGH = 2,      /* exec, network, auth, persistence, module/BPF loads */
    AGENT_PRIO_CRITICAL = 3,  /* alerts, tamper, status */
};

enum agent_tier {
    AGENT_TIER_NONE = 0,
    AGENT_TIER_BPF = 1,       /* eBPF CO-RE (tp_btf / raw tracepoints) */
    AGENT_TIER_NETLINK = 2,   /* netlink proc connector + /proc + fanotify */
    AGENT_TIER_POLL = 3,      /* /proc polling */
};

#define AGENT_PATH_MAX 4096
#define AGENT_CMDLINE_MAX 32768   /* longer command lines are truncated and flagged */
#define AGENT_COMM_MAX 16
#define AGENT_EXTRAS_MAX 32       /* free-form key/value extras of one event (extra_json: 32 bits) */

/* Process identity and the context every event carries (filled by the process table). */
struct agent_proc {
    pid_t pid, ppid;
    uint64_t start_ns;           /* boot-relative start time: pid + start_ns is unique */
    uid_t uid, euid, loginuid;
    gid_t gid, egid;
    uint32_t sessionid;
    char comm[AGENT_COMM_MAX];
    char *exe;                   /* owned by the event/table entry that holds it */
    char *cmdline;               /* argv joined by spaces (bytes kept as they are) */
    char *cwd;
    char *tty;
    char *cgroup;                /* cgroup path; container id derived from it */
    char container_id[65];
    char sha256[65];             /* hex, "" if not computed */
    bool cmdline_truncated;
    bool exe_deleted;
};

/* A file as the kernel names it: device (user-space dev_t), inode, size and mtime. */
struct agent_file_id {
    bool valid;
    uint64_t dev, ino, size;
    int64_t mtime_ns;
};

struct agent_event {
    enum agent_kind kind;
    enum agent_prio prio;
    enum agent_tier tier;        /* who saw it */
    int64_t ts_ns;               /* wall clock, ns since the epoch */
    uint64_t seq;                /* assigned by the spool: per-agent, strictly increasing */
    struct agent_proc proc;      /* the acting process */
    struct agent_proc parent;    /* its parent (process events) */
    /* network */
    uint8_t proto;               /* IPPROTO_TCP / IPPROTO_UDP */
    uint8_t family;              /* AF_INET / AF_INET6 */
    bool initiated;              /* true: outbound (connect); false: inbound (accept) */
    bool listen;
    uint8_t saddr[16], daddr[16];
    uint16_t sport, dport;
    char community_id[64];
    /* DNS */
    char *query;
    char *answers;
    /* files */
    char *path;                  /* TargetFilename */
    char *path2;                 /* rename target */
    uint32_t mode;               /* chmod */
    uid_t new_uid;               /* chown */
    gid_t new_gid;
    /* process exit */
    int exit_code;
    /* auth, module, bpf, tamper, status: free-form key/value extras */
    const char *extra_keys[AGENT_EXTRAS_MAX];
    char *extra_vals[AGENT_EXTRAS_MAX];
    uint32_t nextra;
    /* bit i: extra_vals[i] ("trigger", "ancestry" of an alert) is JSON text the agent built
     * itself, written as a nested value without being checked again */
    uint32_t extra_json;
    const char *category;        /* e.g. "persistence" for a persistence-path write */
    /* exec at tier 1: the executed file as the kernel saw it, so its SHA-256 is found in the
     * cache without a stat() */
    struct agent_file_id exe_id;
    /* an exit sampled away over budget: not written, not matched, but the process table
     * still learns that the process ended (else its entry would stay "live") */
    bool table_only;
    /* agent_persist_tag has looked at path and path2 (the collector did): the loop does not
     * classify them again */
    bool persist_tagged;
    /* agent_event_copy: one owned block holding the copies of all the strings above (one
     * allocation per queued event, not one per string); strings outside it (added later,
     * by enrichment) are owned one by one. NULL for events built any other way. */
    char *strblk;
    size_t strblk_len;
};

struct agent;

/* A collector: one source of telemetry at one tier. */
struct agent_collector_ops {
    const char *name;            /* "bpf", "proc_connector", "fanotify", "proc_poll", "auth" */
    enum agent_tier tier;
    /* Can this collector run here? 0, or an error with a reason in d (shown by --check). */
    int (*probe)(struct agent *a, struct bn_diag *d);
    /* Starts collecting (own thread or fds added to the loop). 0 or an error with d. */
    int (*start)(struct agent *a, void **state, struct bn_diag *d);
    /* Stops and frees state. */
    void (*stop)(struct agent *a, void *state);
    /* Appends a human-readable description of what it sees (and not) to buf for --check. */
    void (*describe)(struct agent *a, void *state, char *buf, size_t size);
};

/*
 * Hands an event to the agent (thread-safe). The event is copied (strings too), so the
 * caller keeps ownership of ev. Returns 0, or BN_ETOOBIG if it was shed (already counted).
 */
int agent_emit(struct agent *a, const struct agent_event *ev);

/*
 * Brackets a burst of agent_emit() calls from one thread (the eBPF collector: the records of
 * one ring-buffer poll). Inside the burst the loop is not woken per event (only when a whole
 * drained batch is waiting); agent_emit_burst_end wakes it once for the burst, which it then
 * takes without lingering. Only saves wakeups: nothing waits longer than the burst itself.
 */
void agent_emit_burst_begin(struct agent *a);
void agent_emit_burst_end(struct agent *a);

/* Releases the strings an event owns (used by code that built events with heap strings;
 * also an agent_event_copy's block). */
void agent_event_release(struct agent_event *ev);

/* ---- agent-tiers: tier 2 and 3 collectors (collect_proc.c, collect_fanotify.c,
 * collect_poll.c, collect_auth.c) ---- */
extern const struct agent_collector_ops agent_collector_proc_connector;
extern const struct agent_collector_ops agent_collector_fanotify;
extern const struct agent_collector_ops agent_collector_proc_poll;
extern const struct agent_collector_ops agent_collector_auth;

/* Counters of what a tier 2/3 reader could not see in full (for --check and heartbeats). */
struct agent_tier_proc_stats {
    uint64_t reads;
    uint64_t gone;               /* process exited before /proc could be read */
    uint64_t cmdline_truncated;  /* command lines cut at AGENT_CMDLINE_MAX */
    uint64_t path_truncated;     /* exe/cwd cut at AGENT_PATH_MAX */
};

/*
 * Reads /proc/<pid> (under proc_root, "/proc" when NULL) into p, cleared first: stat (ppid,
 * comm, start time), status (uids, gids), loginuid, sessionid, exe, cmdline, cwd, cgroup.
 * Strings in p are owned (agent_tier_proc_release frees them). What cannot be read stays
 * empty. Returns 0, -ENOENT when the process is gone, -ESRCH when it is a zombie (then p
 * keeps pid, ppid, comm and start time from its stat); in both cases p keeps the command
 * line, exe and cwd if they were read before it went. BN_ENOMEM. st may be NULL.
 */
int agent_tier_proc_read(const char *proc_root, pid_t pid, struct agent_proc *p,
                         struct agent_tier_proc_stats *st);
/* Frees the strings of p and clears it. */
void agent_tier_proc_release(struct agent_proc *p);

/* Settings of the fanotify collector; the ops' start() uses agent_fanotify_default_conf. */
#define AGENT_FANOTIFY_PATHS_MAX 64
struct agent_fanotify_conf {
    const char *include[AGENT_FANOTIFY_PATHS_MAX]; /* path prefixes reported (borrowed) */
    size_t ninclude;
    const char *exclude[AGENT_FANOTIFY_PATHS_MAX]; /* prefixes never reported (borrowed) */
    size_t nexclude;
    bool ignore_self;            /* drop events caused by the agent's own pid */
};
extern const struct agent_fanotify_conf agent_fanotify_default_conf;
/* start() with explicit settings (conf is copied, its strings too). */
int agent_fanotify_start_conf(struct agent *a, const struct agent_fanotify_conf *conf,
                              void **state, struct bn_diag *d);

/* Settings of the /proc poller; the ops' start() uses 1000 ms, processes and network. */
struct agent_poll_conf {
    unsigned interval_ms;        /* 0 = 1000 */
    bool procs;                  /* new pid -> create, vanished pid -> terminate */
    bool net;                    /* /proc/net/{tcp,tcp6,udp,udp6} new sockets */
    const char *proc_root;       /* "/proc" when NULL (borrowed) */
};
int agent_poll_start_conf(struct agent *a, const struct agent_poll_conf *conf, void **state,
                          struct bn_diag *d);

/*
 * Parses one auth log message of program ident (e.g. "sshd", "sudo", "su", "login",
 * "systemd-logind"; pid may be 0) into ev (cleared first) as AGENT_EV_AUTH with extras
 * user, target_user, source_ip, source_port, method, tty, result ("success"/"failure"),
 * reason, command, program. Extra values are owned: agent_event_release or
 * agent_auth_event_release frees them. Returns 0, BN_DECLINED when the line is not an
 * auth outcome, or BN_ENOMEM.
 */
int agent_auth_parse(const char *ident, pid_t pid, const char *msg, struct agent_event *ev);
/* Frees the extras agent_auth_parse allocated and clears ev. */
void agent_auth_event_release(struct agent_event *ev);
/* Where the auth collector reads (auth.source). */
enum agent_auth_source {
    AGENT_AUTH_AUTO = 0,         /* journald, else the file, else the syslog socket */
    AGENT_AUTH_JOURNALD = 1,
    AGENT_AUTH_FILE = 2,
    AGENT_AUTH_SOCKET = 3,       /* bind socket_path and receive syslog datagrams */
};
/* Settings of the auth collector (strings borrowed). */
struct agent_auth_conf {
    const char *log_path;        /* "/var/log/auth.log" when NULL */
    bool prefer_file;            /* skip journald (as source = AGENT_AUTH_FILE) */
    bool from_start;             /* read the file from its start (tests), not its end */
    int source;                  /* enum agent_auth_source */
    const char *socket_path;     /* syslog socket bound by the socket source; "/dev/log" if NULL */
    bool auto_bind;              /* auto: bind socket_path when journald and the file are
                                  * missing and nothing listens there */
};
/* One syslog datagram split by agent_syslog_split (pointers into the caller's buffer). */
struct agent_syslog_msg {
    int facility, severity;      /* from <PRI>; 1 (user) and 5 (notice) when there is none */
    bool has_pri, rfc5424;
    const char *host;            /* "" when absent (glibc's syslog() sends none) */
    const char *ident;           /* tag / APP-NAME, without "[pid]" */
    pid_t pid;                   /* "[pid]" / PROCID, 0 when absent */
    const char *msg;
    const char *why;             /* what is wrong when BN_EFORMAT is returned */
};
/*
 * Splits the syslog datagram buf[0..len) (buf[len] must be writable; NULs inside become
 * blanks, trailing NUL/CR/LF are cut) as sent to /dev/log: RFC 3164 "<PRI>Mmm dd hh:mm:ss
 * [host ]ident[pid]: msg" (glibc omits the host) or RFC 5424 "<PRI>1 TS HOST APP PROCID
 * MSGID SD MSG". 0, or BN_EFORMAT with m->why.
 */
int agent_syslog_split(char *buf, size_t len, struct agent_syslog_msg *m);
/* What the auth collector read and could not use (for heartbeats, --check and tests). */
struct agent_auth_stats {
    uint64_t lines;              /* messages of auth programs / facilities parsed */
    uint64_t events;             /* auth outcomes emitted */
    uint64_t long_lines;         /* lines / datagrams cut (8 KiB lines, 64 KiB datagrams) */
    uint64_t datagrams;          /* socket source: datagrams received */
    uint64_t malformed;          /* socket source: datagrams refused by agent_syslog_split */
    uint64_t other;              /* socket source: other programs' messages (not auth) */
    uint64_t sender_mismatch;    /* socket source: sender uid neither root nor the user's */
    uint64_t emit_errors;        /* agent_emit() refused (shed) */
};
/* Fills st from a started auth collector's state (NULL state: zeros). */
void agent_auth_stats(void *state, struct agent_auth_stats *st);
int agent_auth_start_conf(struct agent *a, const struct agent_auth_conf *conf, void **state,
                          struct bn_diag *d);
/* ---- end agent-tiers ---- */

/* ---- agent-core: the agent object, its settings, queue and loop (agent.c, config.c) ---- */
/* Settings (config.c holds the table: agent_conf_defs). Lists are comma-separated. */
struct agent_config {
    bool out_stdout;             /* output.stdout */
    char *out_file;              /* output.file: NDJSON file ("" = none) */
    char *spool_dir;             /* output.spool_dir ("" = no spool) */
    uint64_t spool_max;          /* output.spool_max */
    int tier;                    /* collect.tier: 0 auto, else enum agent_tier */
    bool auth;                   /* collect.auth */
    int auth_source;             /* auth.source: enum agent_auth_source */
    char *auth_file;             /* auth.file */
    char *auth_socket;           /* auth.syslog_socket */
    bool auth_auto_bind;         /* auth.auto_bind */
    bool files;                  /* collect.files */
    bool fanotify_with_bpf;      /* collect.fanotify_with_bpf */
    int bpf_syscalls;            /* collect.bpf_syscalls: enum agent_bpf_syscalls */
    int64_t bpf_poll_ms;         /* collect.bpf_poll_ms: ring-buffer poll interval */
    char *files_include;         /* files.include: path prefixes reported */
    char *files_exclude;         /* files.exclude: path prefixes never reported */
    int64_t queue_events;        /* limits.queue_events: events waiting for the loop */
    int64_t bulk_rate;           /* limits.bulk_per_sec: bulk events/s before sampling (0 = off) */
    int64_t cpu_percent;         /* limits.cpu_percent: CPU budget of one core */
    uint64_t rss_max;            /* limits.rss_max: memory budget */
    int64_t budget_ms;           /* limits.check_interval */
    int64_t heartbeat_ms;        /* heartbeat.interval */
    bool detect;                 /* detect.enabled */
    bool builtin_rules;          /* detect.builtin: Bannin's rules/linux */
    char *rules_dirs;            /* detect.rules: more rule directories */
    char *sigmahq_dir;           /* detect.sigmahq: SigmaHQ rules/linux ("" = off) */
    int64_t ancestry_max;        /* detect.ancestry_max: ancestors carried by an alert */
    bool hash;                   /* process.hash: SHA-256 of executables */
    uint64_t hash_max;           /* process.hash_max */
    int64_t proc_keep_ms;        /* process.exited_keep */
    int64_t proc_max;            /* process.max_entries */
    int64_t proc_exited_max;     /* process.exited_max */
    char *host;                  /* agent.host ("" = gethostname) */
    char *server;                /* server.address: manager HOST:PORT ("" = the enrolled one) */
    char *link_dir;              /* server.dir: enrolment directory ("" = no link) */
    char *block_marks;           /* response.block_marks: where exec blocking applies */
    bool block_fail_closed;      /* response.block_fail_closed */
    int64_t block_deadline_us;   /* response.block_deadline_us */
    bool baseline;               /* response.baseline: first configuration baseline */
    bool autonomous;             /* response.autonomous: contain on local detections */
    int autonomous_level;        /* response.autonomous_level: enum sigma_level */
    char *autonomous_actions;    /* response.autonomous_actions: kill_tree, isolate */
};
extern const struct bn_conf_def agent_conf_defs[];
extern const size_t agent_conf_ndefs;
/* Sets every key of c to its default. 0 or BN_ENOMEM. */
int agent_config_init(struct agent_config *c);
/* Loads a YAML file over c (unknown keys are errors with file:line in d). */
int agent_config_load(struct agent_config *c, const char *path, struct bn_diag *d);
/* Frees the strings of c. */
void agent_config_release(struct agent_config *c);
/*
 * Splits a comma-separated list (blanks trimmed, empty items skipped) into at most max
 * items pointing into buf (a copy of list; size bytes). Returns the item count.
 */
size_t agent_config_split(const char *list, char *buf, size_t size, const char **items,
                          size_t max);

/* Counters of the agent (heartbeats, --check, tests). */
struct agent_counters {
    uint64_t emitted;            /* events handed to agent_emit */
    uint64_t queued;             /* accepted into the queue */
    uint64_t processed;          /* taken off the queue by the loop */
    uint64_t shed;               /* dropped because the queue was full */
    uint64_t shed_by_prio[4];
    uint64_t shed_by_kind[AGENT_EV_ALERT + 1];
    uint64_t sampled;            /* low-priority events sampled away over budget or rate */
    uint64_t filtered;           /* file events outside include / inside exclude */
    uint64_t alerts;             /* local detections */
    uint64_t alerts_repeated;    /* the same rule, process and file again within 2 s: not re-raised */
    uint64_t match_errors;
    uint64_t output_errors;
    uint64_t spool_errors;
    /* autonomous containment (response.autonomous) */
    uint64_t contain_requested;  /* local alerts at or above the level: containment asked */
    uint64_t contain_deduped;    /* the same process again: already contained or queued */
    uint64_t contain_dropped;    /* the containment queue was full (never blocks the loop) */
    uint64_t contain_ran;        /* actions run by the containment worker */
    uint64_t contain_failed;     /* of those, refused or with "ok":false */
    uint32_t queue_depth;        /* events waiting now */
    uint32_t sample_shift;       /* keep 1 of 2^shift low-priority events (0 = all) */
    double cpu_percent;          /* last measured */
    uint64_t rss_bytes;          /* last measured */
};

/* Returns 0 and an owned agent (conf is copied) with its queue, process table and rules;
 * nothing runs yet. Errors come with d. */
int agent_new(struct agent **out, const struct agent_config *conf, struct bn_diag *d);
/* Stops what runs and frees; NULL is a no-op. */
void agent_free(struct agent *a);
/* The settings of a (borrowed). */
const struct agent_config *agent_conf(const struct agent *a);
/* The tier in use (AGENT_TIER_NONE before agent_start). */
enum agent_tier agent_tier_in_use(const struct agent *a);
/* Probes collectors, starts the best tier (or the forced one) and the loop thread. */
int agent_start(struct agent *a, struct bn_diag *d);
/* Stops collectors, drains the queue through the loop, stops the loop; idempotent. */
void agent_stop(struct agent *a);
/* Prints the tier each collector can run at and why not (--check): probes every collector
 * and calls describe() with a NULL state. 0 if a tier is usable. */
int agent_check(struct agent *a, FILE *out);
void agent_counters(struct agent *a, struct agent_counters *c);
/* Takes the oldest queued event into ev (owned strings). 0 or BN_EOF. For tests and the loop. */
int agent_queue_pop(struct agent *a, struct agent_event *ev);
/* The loop's work on one event: enrich, filter, detect, output (ev is consumed). Tests call
 * it directly on an agent that was not started. Returns 0 or an error (counted). */
int agent_process(struct agent *a, struct agent_event *ev);
/* Deep copy of an event (strings owned by dst). 0 or BN_ENOMEM (dst clear). */
int agent_event_copy(struct agent_event *dst, const struct agent_event *src);
/* ---- end agent-core ---- */

/* ---- agent-bpf: tier 1 eBPF collector (collect_bpf.c, bpf/agent.bpf.c) ---- */
extern const struct agent_collector_ops agent_collector_bpf;

/* Settings of the eBPF collector; the ops' start() uses agent_bpf_default_conf. */
#define AGENT_BPF_PATHS_MAX 64
/* How tier 1 sees the syscalls it watches (collect.bpf_syscalls). */
enum agent_bpf_syscalls {
    AGENT_BPF_SC_AUTO = 0,       /* per-syscall tracepoints, else the raw pair */
    AGENT_BPF_SC_TRACEPOINT = 1, /* per-syscall tracepoints only (an error if they fail) */
    AGENT_BPF_SC_RAW = 2,        /* raw sys_enter/sys_exit: a program run on every syscall */
};

struct agent_bpf_conf {
    /* File path prefixes (absolute, borrowed; at most 64 bytes; "<dir>/" + "*" + "/.ssh/"
     * is the one wildcard form). The longest matching prefix decides; no match = dropped. */
    const char *include[AGENT_BPF_PATHS_MAX];
    size_t ninclude;
    const char *exclude[AGENT_BPF_PATHS_MAX];
    size_t nexclude;
    bool files;                  /* false: no file syscalls are traced */
    bool files_all;              /* true: every file operation, no prefix filter */
    int syscalls;                /* enum agent_bpf_syscalls */
    int poll_ms;                 /* ring-buffer poll interval (0: AGENT_BPF_POLL_MS) */
};
/* Records below the BPF side's wakeup threshold wait at most this long for the reader. */
#define AGENT_BPF_POLL_MS 15
extern const struct agent_bpf_conf agent_bpf_default_conf;
/* start() with explicit settings (conf is read during the call only). */
int agent_bpf_start_conf(struct agent *a, const struct agent_bpf_conf *conf, void **state,
                         struct bn_diag *d);

/* What the eBPF collector saw and lost (for --check, heartbeats and tests). */
struct agent_bpf_stats {
    uint64_t records;            /* ring-buffer records read */
    uint64_t kernel_events;      /* records the kernel side wrote */
    uint64_t drops;              /* records lost: ring buffer full (summed over CPUs) */
    uint64_t filtered;           /* file operations outside the prefixes */
    uint64_t bad_records;        /* malformed records (never expected) */
    uint64_t emit_errors;        /* agent_emit() refused (shed) */
    uint64_t unresolved;         /* relative paths / fds whose process was already gone */
    uint64_t forks;              /* process forks seen */
    uint64_t idle_spells;        /* times the reader found the ring empty long enough to
                                  * stop timed polls (records then wake it) */
    uint64_t idle_wakeups;       /* times records woke it from such a spell */
    bool syscalls_raw;           /* watched syscalls through the raw sys_enter/sys_exit pair */
    char syscalls_why[160];      /* why raw (or "": per-syscall tracepoints) */
};
/* Fills st from a started collector's state (NULL state: zeros). */
void agent_bpf_stats(void *state, struct agent_bpf_stats *st);

/*
 * Copies the first question name of the DNS message msg (len bytes, borrowed) into out as
 * dotted text (non-printable bytes become '?'). Returns 0, BN_DECLINED for a response or
 * no question, BN_ETRUNC / BN_EFORMAT for a malformed message, BN_ETOOBIG if out is small.
 */
int agent_bpf_dns_question(const uint8_t *msg, size_t len, char *out, size_t size);
/* ---- end agent-bpf ---- */

#endif
