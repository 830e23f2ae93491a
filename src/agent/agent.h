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
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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
    const char *extra_keys[16];
    char *extra_vals[16];
    uint32_t nextra;
    const char *category;        /* e.g. "persistence" for a persistence-path write */
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

/* Releases the strings an event owns (used by code that built events with heap strings). */
void agent_event_release(struct agent_event *ev);

#endif
