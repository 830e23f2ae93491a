/*
 * config.c - every setting of bannin-agent in one table (key, type, default, bounds,
 * reloadable, help). The YAML loader, --dump-config and docs/AGENT.md's key list all come
 * from agent_conf_defs; nested YAML maps are dotted keys ("output: {stdout: true}").
 */
#include <stddef.h>
#include <string.h>

#include "bannin/config.h"
#include "bannin/error.h"

#include "agent/agent.h"

static const char *const tier_names[] = {"auto", "bpf", "netlink", "poll", NULL};
/* indexes are enum agent_bpf_syscalls values */
static const char *const bpf_syscall_names[] = {"auto", "tracepoint", "raw", NULL};
/* indexes are enum agent_auth_source values */
static const char *const auth_source_names[] = {"auto", "journald", "file", "socket", NULL};
/* indexes are enum sigma_level values */
static const char *const level_names[] = {"none", "informational", "low", "medium", "high",
                                          "critical", NULL};

#define OFF(f) offsetof(struct agent_config, f)

/* Paths an intruder writes to persist or to hide, plus the places they stage tools. */
#define FILES_INCLUDE_DEFAULT                                                                  \
    "/etc,/root,/home,/var/spool/cron,/usr/lib/systemd,/lib/systemd,/usr/local/bin,"           \
    "/usr/local/sbin,/usr/bin,/usr/sbin,/tmp,/var/tmp,/dev/shm,/boot,/lib/modules,"              \
    "/usr/lib/modules,/opt"
#define FILES_EXCLUDE_DEFAULT "/etc/ld.so.cache,/home/*/.cache,/root/.cache"

const struct bn_conf_def agent_conf_defs[] = {
    {"output.stdout", BN_CONF_BOOL, "false", 0, 0, NULL, false, OFF(out_stdout),
     "write every event as one NDJSON line to standard output"},
    {"output.file", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(out_file),
     "append every event as NDJSON to this file (\"\" = none)"},
    {"output.spool_dir", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(spool_dir),
     "durable spool directory for the manager link (\"\" = no spool; the unit sets "
     "/var/lib/bannin-agent/spool)"},
    {"output.spool_max", BN_CONF_SIZE, "256m", 1 << 20, 1ll << 40, NULL, false, OFF(spool_max),
     "bound of the spool on disk; over it bulk file events are shed first, alerts last"},
    {"collect.tier", BN_CONF_ENUM, "auto", 0, 0, tier_names, false, OFF(tier),
     "collection tier: auto (best available), bpf, netlink (proc connector + fanotify) or "
     "poll (/proc polling)"},
    {"collect.auth", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(auth),
     "read sshd, sudo, su and login outcomes from journald, auth.log or a syslog socket "
     "(tiers bpf, netlink)"},
    {"auth.source", BN_CONF_ENUM, "auto", 0, 0, auth_source_names, false, OFF(auth_source),
     "where auth outcomes come from: auto (journald, else auth.file, else auth.syslog_socket "
     "if auth.auto_bind), journald, file or socket"},
    {"auth.file", BN_CONF_STRING, "/var/log/auth.log", 0, 0, NULL, false, OFF(auth_file),
     "syslog file tailed by the file source (rotations followed)"},
    {"auth.syslog_socket", BN_CONF_STRING, "/dev/log", 0, 0, NULL, false, OFF(auth_socket),
     "datagram socket the socket source binds to receive syslog() messages (removed on stop "
     "if it is still ours)"},
    {"auth.auto_bind", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(auth_auto_bind),
     "with auth.source auto: bind auth.syslog_socket when there is no journald, no auth.file "
     "and no process listening on the socket (else login and sudo outcomes are lost)"},
    {"collect.files", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(files),
     "report file create, write, rename, delete and attribute changes (tiers bpf, netlink)"},
    {"collect.fanotify_with_bpf", BN_CONF_BOOL, "false", 0, 0, NULL, false,
     OFF(fanotify_with_bpf),
     "at tier bpf, also run fanotify for file events (each file event is then seen twice)"},
    {"collect.bpf_syscalls", BN_CONF_ENUM, "auto", 0, 0, bpf_syscall_names, false,
     OFF(bpf_syscalls),
     "how tier bpf sees the syscalls it watches: auto (per-syscall tracepoints, else raw), "
     "tracepoint (only those) or raw (raw sys_enter/sys_exit: a program run on every "
     "syscall of every process)"},
    {"collect.bpf_poll_ms", BN_CONF_INT, "15", 1, 1000, NULL, false, OFF(bpf_poll_ms),
     "tier bpf: how often the ring buffer is read when the kernel side has not woken the "
     "reader (it wakes it at 64 KiB waiting): the bound on event latency at low rates; each "
     "poll that finds records is one wakeup of the agent"},
    {"files.include", BN_CONF_STRING, FILES_INCLUDE_DEFAULT, 0, 0, NULL, false,
     OFF(files_include), "comma-separated path prefixes whose file events are reported"},
    {"files.exclude", BN_CONF_STRING, FILES_EXCLUDE_DEFAULT, 0, 0, NULL, false,
     OFF(files_exclude),
     "comma-separated path prefixes (a * matches one path component) never reported"},
    {"limits.queue_events", BN_CONF_INT, "16384", 64, 1 << 22, NULL, false, OFF(queue_events),
     "events waiting for the loop; when full, the lowest priority is shed and counted"},
    {"limits.bulk_per_sec", BN_CONF_INT, "5000", 0, 100000000, NULL, false, OFF(bulk_rate),
     "bulk file events per second before sampling starts (0 = no rate limit)"},
    {"limits.cpu_percent", BN_CONF_INT, "5", 1, 800, NULL, false, OFF(cpu_percent),
     "CPU budget (percent of one core); above it low-priority events are sampled"},
    {"limits.rss_max", BN_CONF_SIZE, "64m", 8 << 20, 1ll << 40, NULL, false, OFF(rss_max),
     "memory budget (resident set); above it low-priority events are sampled"},
    {"limits.check_interval", BN_CONF_DURATION, "1s", 100, 60000, NULL, false, OFF(budget_ms),
     "how often CPU and memory are measured against the budgets"},
    {"heartbeat.interval", BN_CONF_DURATION, "60s", 100, 86400000, NULL, false,
     OFF(heartbeat_ms), "status event with tier, counters, CPU, RSS and spool depth"},
    {"detect.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(detect),
     "run local detection on every event"},
    {"detect.builtin", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(builtin_rules),
     "load Bannin's own Linux rule pack (rules/linux; $BANNIN_RULES overrides where)"},
    {"detect.rules", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(rules_dirs),
     "comma-separated rule directories or files loaded as well"},
    {"detect.sigmahq", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(sigmahq_dir),
     "SigmaHQ rules directory to add, e.g. .../sigma/rules/linux (\"\" = off)"},
    {"detect.ancestry_max", BN_CONF_INT, "16", 0, 64, NULL, false, OFF(ancestry_max),
     "ancestors carried by an alert"},
    {"process.hash", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(hash),
     "SHA-256 of executables (cached by device, inode, size and mtime)"},
    {"process.hash_max", BN_CONF_SIZE, "256m", 0, 0, NULL, false, OFF(hash_max),
     "executables larger than this are not hashed"},
    {"process.exited_keep", BN_CONF_DURATION, "5s", 1000, 86400000, NULL, false,
     OFF(proc_keep_ms), "how long exited processes stay in the table for ancestry"},
    {"process.max_entries", BN_CONF_INT, "65536", 1024, 4194304, NULL, false, OFF(proc_max),
     "processes (live and recently exited) in the table"},
    {"process.exited_max", BN_CONF_INT, "4096", 256, 4194304, NULL, false, OFF(proc_exited_max),
     "exited processes kept for ancestry at most; above it (a process storm) the oldest "
     "leave before process.exited_keep (counted)"},
    {"agent.host", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(host),
     "host name put on events (\"\" = the system's)"},
    {"server.address", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(server),
     "manager HOST:PORT for the link (\"\" = the one enrolled with; set alone, the enrolment "
     "in /var/lib/bannin-agent/link is used)"},
    {"server.dir", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(link_dir),
     "enrolment directory of the manager link, written by 'bannin-agent enroll' (\"\" = no "
     "link unless server.address is set)"},
    {"response.block_marks", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(block_marks),
     "comma-separated mount points or directories where exec blocking (block_add actions) "
     "applies (\"\" = nowhere: blocked hashes and paths are kept but not enforced)"},
    {"response.block_fail_closed", BN_CONF_BOOL, "false", 0, 0, NULL, false,
     OFF(block_fail_closed),
     "an exec whose verdict is not ready by the deadline is denied (true) or allowed (false); "
     "every such answer is counted"},
    {"response.block_deadline_us", BN_CONF_INT, "20000", 100, 1000000, NULL, false,
     OFF(block_deadline_us), "time the exec blocker may take to answer one exec (us)"},
    {"response.baseline", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(baseline),
     "take the first baseline of persistence and configuration files at start (restore "
     "actions compare with it)"},
    {"response.autonomous", BN_CONF_BOOL, "false", 0, 0, NULL, false, OFF(autonomous),
     "contain on the agent's own, with no round trip to the manager, when a local detection "
     "at or above response.autonomous_level fires (the tenant's autonomous policy maps onto "
     "this key; off by default: nothing is contained unless asked)"},
    {"response.autonomous_level", BN_CONF_ENUM, "critical", 0, 0, level_names, false,
     OFF(autonomous_level),
     "lowest rule level that triggers autonomous containment (informational, low, medium, "
     "high, critical)"},
    {"response.autonomous_actions", BN_CONF_STRING, "kill_tree", 0, 0, NULL, false,
     OFF(autonomous_actions),
     "comma-separated actions taken autonomously, from kill_tree (the triggering process and "
     "its descendants, pid + start time checked) and isolate (the host, the manager kept "
     "reachable)"},
};
const size_t agent_conf_ndefs = sizeof(agent_conf_defs) / sizeof(agent_conf_defs[0]);

int
agent_config_init(struct agent_config *c)
{
    memset(c, 0, sizeof(*c));
    int rc = bn_conf_defaults(agent_conf_defs, agent_conf_ndefs, c);
    if (rc)
        agent_config_release(c);
    return rc;
}

int
agent_config_load(struct agent_config *c, const char *path, struct bn_diag *d)
{
    return bn_conf_load_yaml(agent_conf_defs, agent_conf_ndefs, c, path, d);
}

void
agent_config_release(struct agent_config *c)
{
    bn_conf_release(agent_conf_defs, agent_conf_ndefs, c);
    memset(c, 0, sizeof(*c));
}

size_t
agent_config_split(const char *list, char *buf, size_t size, const char **items, size_t max)
{
    size_t n = 0;
    if (!list || size == 0)
        return 0;
    size_t len = strlen(list);
    if (len >= size)
        len = size - 1; /* the caller's buffer bounds the list */
    memcpy(buf, list, len);
    buf[len] = '\0';
    char *p = buf;
    while (*p && n < max) {
        char *comma = strchr(p, ',');
        char *end = comma ? comma : p + strlen(p);
        char *next = comma ? comma + 1 : end;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        *end = '\0';
        if (*p)
            items[n++] = p;
        p = next;
    }
    return n;
}
