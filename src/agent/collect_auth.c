/*
 * collect_auth.c - logins and privilege changes: sshd, sudo, su, login and
 * systemd-logind outcomes from journald (libsystemd sd_journal, following new entries)
 * or, without journald, from tailing /var/log/auth.log across rotations.
 *
 * The parser turns one message into an AGENT_EV_AUTH with extras (user, target_user,
 * source_ip, source_port, method, tty, result, reason, command, program). Lines that are
 * not an outcome (disconnects, session closes, PAM chatter) are declined. sshd's own
 * "pam_unix(sshd:auth)" lines are declined because sshd logs "Failed ..." for the same
 * attempt; old-style "sshd(pam_unix)" idents, which have no such line, are kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define AUTH_LINE_MAX 8192  /* longer log lines are cut */
#define AUTH_TOKEN_MAX 256  /* longer user names, hosts, ttys are cut */

/* ---- parser ---- */

static int
add_n(struct agent_event *ev, const char *key, const char *val, size_t len)
{
    if (ev->nextra >= BN_ARRAY_SIZE(ev->extra_keys))
        return 0;
    if (strcmp(key, "message") == 0) {
        if (len > AUTH_LINE_MAX)
            len = AUTH_LINE_MAX;
    } else if (len > AUTH_TOKEN_MAX && strcmp(key, "command") != 0) {
        len = AUTH_TOKEN_MAX;
    }
    char *v = bn_strndup(val, len);
    if (!v)
        return BN_ENOMEM;
    ev->extra_keys[ev->nextra] = key;
    ev->extra_vals[ev->nextra++] = v;
    return 0;
}

static int
add(struct agent_event *ev, const char *key, const char *val)
{
    return add_n(ev, key, val, strlen(val));
}

static const char *
get(const struct agent_event *ev, const char *key)
{
    for (uint32_t i = 0; i < ev->nextra; i++)
        if (strcmp(ev->extra_keys[i], key) == 0)
            return ev->extra_vals[i];
    return NULL;
}

void
agent_auth_event_release(struct agent_event *ev)
{
    if (!ev)
        return;
    for (uint32_t i = 0; i < ev->nextra && i < BN_ARRAY_SIZE(ev->extra_vals); i++)
        bn_free(ev->extra_vals[i]);
    memset(ev, 0, sizeof(*ev));
}

/* If s starts with prefix, returns what follows. */
static const char *
skip_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

/* Reads a blank-delimited token at *p into [*tok, *len); advances *p. False if none. */
static bool
token(const char **p, const char **tok, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t')
        e++;
    *tok = s;
    *len = (size_t)(e - s);
    *p = e;
    return *len > 0;
}

/* Expects the literal word w next; advances past it. */
static bool
word(const char **p, const char *w)
{
    const char *t;
    size_t n;
    const char *s = *p;
    if (!token(&s, &t, &n) || n != strlen(w) || memcmp(t, w, n) != 0)
        return false;
    *p = s;
    return true;
}

/* The value of "key=" in a PAM "a=b c=d" list (value may be empty). */
static bool
pam_kv(const char *s, const char *key, const char **val, size_t *len)
{
    size_t kl = strlen(key);
    for (const char *p = s; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p == s || p[-1] == ' ' || p[-1] == ';') && p[kl] == '=') {
            const char *v = p + kl + 1;
            size_t n = 0;
            while (v[n] && v[n] != ' ' && v[n] != ';')
                n++;
            *val = v;
            *len = n;
            return true;
        }
    }
    return false;
}

/* "... from HOST port N [ssh2]" tail of sshd lines. */
static int
ssh_from(struct agent_event *ev, const char *p)
{
    const char *t;
    size_t n;
    int rc = 0;
    if (!word(&p, "from") || !token(&p, &t, &n))
        return 0;
    if ((rc = add_n(ev, "source_ip", t, n)) < 0)
        return rc;
    if (word(&p, "port") && token(&p, &t, &n))
        return add_n(ev, "source_port", t, n);
    return 0;
}

static int
parse_sshd(const char *m, struct agent_event *ev)
{
    const char *p, *t;
    size_t n;
    int rc = 0;

    if ((p = skip_prefix(m, "message repeated "))) {
        /* "message repeated 5 times: [ Failed password for root from ...]" */
        const char *b = strstr(p, ": [");
        if (!b)
            return BN_DECLINED;
        if (!token(&p, &t, &n) || (rc = add_n(ev, "repeat", t, n)) < 0)
            return rc < 0 ? rc : BN_DECLINED;
        char inner[AUTH_LINE_MAX];
        size_t il = strlen(b + 3);
        if (il >= sizeof(inner))
            il = sizeof(inner) - 1;
        memcpy(inner, b + 3, il);
        inner[il] = '\0';
        while (il > 0 && (inner[il - 1] == ']' || inner[il - 1] == ' '))
            inner[--il] = '\0';
        const char *q = inner;
        while (*q == ' ')
            q++;
        return parse_sshd(q, ev);
    }
    if ((p = skip_prefix(m, "Accepted ")) || (p = skip_prefix(m, "Failed "))) {
        bool ok = m[0] == 'A';
        if (!token(&p, &t, &n))
            return BN_DECLINED;
        if ((rc = add_n(ev, "method", t, n)) < 0)
            return rc;
        if (!word(&p, "for"))
            return BN_DECLINED;
        if (word(&p, "invalid")) {
            if (!word(&p, "user"))
                return BN_DECLINED;
            if ((rc = add(ev, "reason", "invalid user")) < 0)
                return rc;
        }
        /* user names may be empty ("Failed none for invalid user  from") */
        const char *save = p;
        if (word(&save, "from")) {
            if ((rc = add(ev, "user", "")) < 0)
                return rc;
        } else {
            if (!token(&p, &t, &n) || (rc = add_n(ev, "user", t, n)) < 0)
                return rc < 0 ? rc : BN_DECLINED;
        }
        if ((rc = ssh_from(ev, p)) < 0)
            return rc;
        return add(ev, "result", ok ? "success" : "failure");
    }
    if ((p = skip_prefix(m, "Invalid user "))) {
        const char *save = p;
        if (word(&save, "from")) {
            rc = add(ev, "user", "");
        } else {
            rc = token(&p, &t, &n) ? add_n(ev, "user", t, n) : 0;
        }
        if (rc < 0 || (rc = ssh_from(ev, p)) < 0 || (rc = add(ev, "reason", "invalid user")) < 0)
            return rc;
        return add(ev, "result", "failure");
    }
    if ((p = skip_prefix(m, "Disconnecting: Too many authentication failures"))) {
        if (word(&p, "for")) {
            if (word(&p, "invalid"))
                (void)word(&p, "user");
            if (token(&p, &t, &n) && (rc = add_n(ev, "user", t, n)) < 0)
                return rc;
        }
        if ((rc = add(ev, "reason", "too many authentication failures")) < 0)
            return rc;
        return add(ev, "result", "failure");
    }
    const char *why;
    if ((p = skip_prefix(m, "User ")) && (why = strstr(p, " not allowed because ")) != NULL) {
        /* "User eve from 10.0.0.9 not allowed because ...": the user is the first word
         * only if it comes before the reason */
        if (token(&p, &t, &n) && t < why && (rc = add_n(ev, "user", t, n)) < 0)
            return rc;
        if (p < why && (rc = ssh_from(ev, p)) < 0)
            return rc;
        if ((rc = add(ev, "reason", why + 1)) < 0)
            return rc;
        return add(ev, "result", "failure");
    }
    return BN_DECLINED;
}

/* "pam_unix(svc:auth): authentication failure; logname= uid=0 ... rhost=R user=U" */
static int
parse_pam_failure(const char *prog, const char *kv, struct agent_event *ev)
{
    const char *v;
    size_t n;
    int rc = 0;
    bool switching = strcmp(prog, "su") == 0 || strcmp(prog, "sudo") == 0;

    if ((rc = add(ev, "method", "pam")) < 0)
        return rc;
    if (switching) {
        /* who tried (ruser, else logname) to become whom (user) */
        if ((pam_kv(kv, "ruser", &v, &n) && n) || (pam_kv(kv, "logname", &v, &n) && n)) {
            if ((rc = add_n(ev, "user", v, n)) < 0)
                return rc;
        }
        if (pam_kv(kv, "user", &v, &n) && n && (rc = add_n(ev, "target_user", v, n)) < 0)
            return rc;
    } else if (pam_kv(kv, "user", &v, &n) && (rc = add_n(ev, "user", v, n)) < 0) {
        return rc;
    }
    if (pam_kv(kv, "rhost", &v, &n) && n && (rc = add_n(ev, "source_ip", v, n)) < 0)
        return rc;
    if (pam_kv(kv, "tty", &v, &n) && n && (rc = add_n(ev, "tty", v, n)) < 0)
        return rc;
    if ((rc = add(ev, "reason", "authentication failure")) < 0)
        return rc;
    return add(ev, "result", "failure");
}

/* "session opened for user news by (uid=0)" / "... for user root(uid=0) by alice(uid=1000)" */
static int
parse_session_opened(const char *prog, const char *p, struct agent_event *ev)
{
    const char *t;
    size_t n;
    int rc = 0;
    if (!token(&p, &t, &n))
        return BN_DECLINED;
    size_t un = 0;
    while (un < n && t[un] != '(')
        un++;
    const char *target = t;
    size_t tn = un;
    const char *by = NULL;
    size_t bn = 0;
    if (word(&p, "by") && token(&p, &by, &bn)) {
        size_t k = 0;
        while (k < bn && by[k] != '(')
            k++;
        bn = k;
    }
    if (strcmp(prog, "login") == 0) {
        if ((rc = add_n(ev, "user", target, tn)) < 0)
            return rc;
    } else {
        if (bn && (rc = add_n(ev, "user", by, bn)) < 0)
            return rc;
        if ((rc = add_n(ev, "target_user", target, tn)) < 0)
            return rc;
    }
    if ((rc = add(ev, "method", "pam")) < 0)
        return rc;
    return add(ev, "result", "success");
}

static int
parse_sudo(const char *m, struct agent_event *ev)
{
    /* "alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id" */
    const char *p = m, *t;
    size_t n;
    int rc = 0;
    if (!token(&p, &t, &n) || !word(&p, ":"))
        return BN_DECLINED;
    if ((rc = add_n(ev, "user", t, n)) < 0)
        return rc;
    while (*p == ' ')
        p++;
    bool failed = false;
    const char *semi = strstr(p, " ; ");
    if (!skip_prefix(p, "TTY=") && !skip_prefix(p, "PWD=")) {
        /* a reason first: "3 incorrect password attempts", "user NOT in sudoers" */
        size_t rl = semi ? (size_t)(semi - p) : strlen(p);
        if ((rc = add_n(ev, "reason", p, rl)) < 0)
            return rc;
        failed = strstr(p, "incorrect password") || strstr(p, "NOT in sudoers") ||
                 strstr(p, "NOT allowed") || strstr(p, "a password is required") ||
                 strstr(p, "unknown user") || strstr(p, "command not allowed");
        if (!failed)
            return BN_DECLINED;
        p = semi ? semi + 3 : p + rl;
    }
    /* "K=V ; K=V ; COMMAND=..." (the command runs to the end and may hold " ; ") */
    while (*p) {
        const char *end = strstr(p, " ; ");
        const char *eq = strchr(p, '=');
        if (!eq)
            break;
        if (skip_prefix(p, "COMMAND=")) {
            if ((rc = add(ev, "command", p + 8)) < 0)
                return rc;
            break;
        }
        size_t vl = end ? (size_t)(end - eq - 1) : strlen(eq + 1);
        if (end && end < eq)
            vl = 0;
        const char *key = NULL;
        if (skip_prefix(p, "TTY="))
            key = "tty";
        else if (skip_prefix(p, "USER="))
            key = "target_user";
        else if (skip_prefix(p, "PWD="))
            key = "cwd";
        if (key && (rc = add_n(ev, key, eq + 1, vl)) < 0)
            return rc;
        if (!end)
            break;
        p = end + 3;
    }
    if ((rc = add(ev, "method", "sudo")) < 0)
        return rc;
    return add(ev, "result", failed ? "failure" : "success");
}

static int
parse_su(const char *m, struct agent_event *ev)
{
    /* "(to root) alice on pts/0", "FAILED SU (to root) alice on pts/0" (also "FAILED su") */
    const char *p = m, *t;
    size_t n;
    int rc = 0;
    bool failed = false;
    if ((p = skip_prefix(m, "FAILED SU ")) || (p = skip_prefix(m, "FAILED su ")))
        failed = true;
    else
        p = m;
    if (!(p = skip_prefix(p, "(to ")))
        return BN_DECLINED;
    const char *close = strchr(p, ')');
    if (!close)
        return BN_DECLINED;
    if ((rc = add_n(ev, "target_user", p, (size_t)(close - p))) < 0)
        return rc;
    p = close + 1;
    if (token(&p, &t, &n) && (rc = add_n(ev, "user", t, n)) < 0)
        return rc;
    if (word(&p, "on") && token(&p, &t, &n) && (rc = add_n(ev, "tty", t, n)) < 0)
        return rc;
    if ((rc = add(ev, "method", "su")) < 0)
        return rc;
    return add(ev, "result", failed ? "failure" : "success");
}

static int
parse_login(const char *m, struct agent_event *ev)
{
    /* "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure"
     * "ROOT LOGIN  on '/dev/tty1'" */
    const char *p, *q;
    int rc = 0;
    bool failed;
    if (skip_prefix(m, "FAILED LOGIN"))
        failed = true;
    else if (skip_prefix(m, "ROOT LOGIN") || skip_prefix(m, "LOGIN ON"))
        failed = false;
    else
        return BN_DECLINED;
    if ((p = strstr(m, " on '")) && (q = strchr(p + 5, '\'')) &&
        (rc = add_n(ev, "tty", p + 5, (size_t)(q - p - 5))) < 0)
        return rc;
    if ((p = strstr(m, " FOR '")) && (q = strchr(p + 6, '\''))) {
        if ((rc = add_n(ev, "user", p + 6, (size_t)(q - p - 6))) < 0)
            return rc;
        if (q[1] == ',' && (rc = add(ev, "reason", q[2] == ' ' ? q + 3 : q + 2)) < 0)
            return rc;
    } else if (skip_prefix(m, "ROOT LOGIN") && (rc = add(ev, "user", "root")) < 0) {
        return rc;
    } else if ((p = skip_prefix(m, "LOGIN ON ")) && (p = strstr(p, " BY "))) {
        const char *t;
        size_t n;
        p += 4;
        if (token(&p, &t, &n) && (rc = add_n(ev, "user", t, n)) < 0)
            return rc;
    }
    if ((rc = add(ev, "method", "login")) < 0)
        return rc;
    return add(ev, "result", failed ? "failure" : "success");
}

static int
parse_logind(const char *m, struct agent_event *ev)
{
    /* "New session 3 of user alice." */
    const char *p = skip_prefix(m, "New session "), *t;
    size_t n;
    int rc = 0;
    if (!p || !token(&p, &t, &n))
        return BN_DECLINED;
    if ((rc = add_n(ev, "session", t, n)) < 0)
        return rc;
    if (!word(&p, "of") || !word(&p, "user") || !token(&p, &t, &n))
        return BN_DECLINED;
    if (n && t[n - 1] == '.')
        n--;
    if ((rc = add_n(ev, "user", t, n)) < 0)
        return rc;
    if ((rc = add(ev, "method", "session")) < 0)
        return rc;
    return add(ev, "result", "success");
}

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
agent_auth_parse(const char *ident, pid_t pid, const char *msg, struct agent_event *ev)
{
    char prog[64];
    const char *p;
    int rc = 0;

    if (ev)
        memset(ev, 0, sizeof(*ev));
    if (!ident || !msg || !ev)
        return BN_EINVAL;
    /* "sshd(pam_unix)" -> program "sshd", style "pam" */
    size_t pl = strcspn(ident, "([");
    bool pam_ident = ident[pl] == '(' && strncmp(ident + pl, "(pam_unix)", 10) == 0;
    if (pl >= sizeof(prog))
        pl = sizeof(prog) - 1;
    memcpy(prog, ident, pl);
    prog[pl] = '\0';
    while (*msg == ' ')
        msg++;
    if (strcmp(prog, "su-l") == 0)
        prog[2] = '\0';

    rc = BN_DECLINED;
    if ((p = strstr(msg, "authentication failure;")) &&
        (pam_ident || skip_prefix(msg, "pam_unix(") || skip_prefix(msg, "pam_sss(")) &&
        !(strcmp(prog, "sshd") == 0 && !pam_ident)) {
        rc = parse_pam_failure(prog, p + 23, ev);
    } else if ((p = strstr(msg, "session opened for user ")) &&
               (strcmp(prog, "su") == 0 || strcmp(prog, "login") == 0)) {
        rc = parse_session_opened(prog, p + 24, ev);
    } else if (strcmp(prog, "sshd") == 0) {
        rc = parse_sshd(msg, ev);
    } else if (strcmp(prog, "sudo") == 0) {
        rc = parse_sudo(msg, ev);
    } else if (strcmp(prog, "su") == 0) {
        rc = parse_su(msg, ev);
    } else if (strcmp(prog, "login") == 0) {
        rc = parse_login(msg, ev);
    } else if (strcmp(prog, "systemd-logind") == 0) {
        rc = parse_logind(msg, ev);
    }
    if (rc == 0 && !get(ev, "result"))
        rc = BN_DECLINED;
    if (rc == 0)
        rc = add(ev, "program", prog);
    /* the log text as written: Sigma keyword rules for sshd / sudo / su match on it */
    if (rc == 0)
        rc = add(ev, "message", msg);
    if (rc < 0) {
        agent_auth_event_release(ev);
        return rc;
    }
    ev->kind = AGENT_EV_AUTH;
    ev->prio = AGENT_PRIO_HIGH;
    ev->ts_ns = now_ns();
    ev->proc.pid = pid;
    ev->proc.loginuid = (uid_t)-1;
    return 0;
}

/* ---- syslog line split (auth.log) ---- */

/*
 * Splits "Mmm dd hh:mm:ss host ident[pid]: msg" or "2026-01-02T03:04:05.6+00:00 host
 * ident[pid]: msg" into ident, pid and msg (pointers into line, which is modified).
 */
static bool
split_syslog(char *line, const char **ident, pid_t *pid, const char **msg)
{
    const char *t;
    size_t n;
    const char *p = line;
    int fields = (line[0] >= '0' && line[0] <= '9') ? 2 : 4; /* stamp (+2 for BSD) + host */
    for (int i = 0; i < fields; i++)
        if (!token(&p, &t, &n))
            return false;
    while (*p == ' ')
        p++;
    char *id = (char *)p;
    char *colon = strstr(id, ": ");
    if (!colon)
        return false;
    *colon = '\0';
    *msg = colon + 2;
    *pid = 0;
    char *br = strrchr(id, '[');
    if (br && colon[-1] == ']') {
        *pid = (pid_t)strtol(br + 1, NULL, 10);
        *br = '\0';
    }
    if (strchr(id, ' '))
        return false;
    *ident = id;
    return true;
}

/* ---- collector ---- */

struct auth_state {
    struct agent *agent;
    struct agent_auth_conf conf;
    char log_path[AGENT_PATH_MAX];
    bool use_journal;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_uint_fast64_t lines, events, long_lines, rotations, emit_errors;
};

static const char *auth_idents[] = {"sshd", "sudo", "su", "login", "systemd-logind"};

static bool
journald_running(void)
{
    return access("/run/systemd/journal/socket", F_OK) == 0 ||
           access("/run/systemd/journal/stdout", F_OK) == 0;
}

static int
auth_probe(struct agent *a, struct bn_diag *d)
{
    (void)a;
    if (journald_running()) {
        sd_journal *j = NULL;
        int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
        if (r >= 0) {
            sd_journal_close(j);
            return 0;
        }
        if (access("/var/log/auth.log", R_OK) == 0)
            return 0;
        return bn_diag_set(d, r, "auth", 0, 0,
                           "auth: cannot open the journal: %s; /var/log/auth.log: %s",
                           strerror(-r), strerror(errno));
    }
    if (access("/var/log/auth.log", R_OK) == 0)
        return 0;
    int e = errno;
    return bn_diag_set(d, -e, "auth", 0, 0,
                       "auth: journald is not running (no /run/systemd/journal/socket) and "
                       "/var/log/auth.log cannot be read: %s",
                       strerror(e));
}

static void
handle_message(struct auth_state *s, const char *ident, pid_t pid, const char *msg,
               int64_t ts_ns)
{
    struct agent_event ev;
    atomic_fetch_add(&s->lines, 1);
    if (agent_auth_parse(ident, pid, msg, &ev) != 0)
        return;
    ev.tier = AGENT_TIER_NETLINK;
    if (ts_ns)
        ev.ts_ns = ts_ns;
    atomic_fetch_add(&s->events, 1);
    if (agent_emit(s->agent, &ev) < 0)
        atomic_fetch_add(&s->emit_errors, 1);
    agent_auth_event_release(&ev);
}

/* Returns the value of FIELD= in a journal entry, copied into buf. */
static bool
jfield(sd_journal *j, const char *field, char *buf, size_t size)
{
    const void *data;
    size_t len, fl = strlen(field);
    if (sd_journal_get_data(j, field, &data, &len) < 0 || len <= fl + 1)
        return false;
    len -= fl + 1;
    if (len >= size)
        len = size - 1;
    memcpy(buf, (const char *)data + fl + 1, len);
    buf[len] = '\0';
    /* a NUL inside the message would cut it silently: make it visible */
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    return true;
}

static void
journal_loop(struct auth_state *s)
{
    sd_journal *j = NULL;
    char ident[64], pidb[32], *msg = NULL;

    if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM) < 0)
        return;
    msg = bn_malloc(AUTH_LINE_MAX);
    if (!msg)
        goto out;
    for (size_t i = 0; i < BN_ARRAY_SIZE(auth_idents); i++) {
        char m[96];
        snprintf(m, sizeof(m), "SYSLOG_IDENTIFIER=%s", auth_idents[i]);
        sd_journal_add_match(j, m, 0);
    }
    sd_journal_seek_tail(j);
    sd_journal_previous(j);
    while (!atomic_load(&s->stop)) {
        int r = sd_journal_next(j);
        if (r < 0)
            break;
        if (r == 0) {
            sd_journal_wait(j, 200 * 1000);
            continue;
        }
        uint64_t usec = 0;
        sd_journal_get_realtime_usec(j, &usec);
        if (!jfield(j, "SYSLOG_IDENTIFIER", ident, sizeof(ident)) ||
            !jfield(j, "MESSAGE", msg, AUTH_LINE_MAX))
            continue;
        pid_t pid = 0;
        if (jfield(j, "_PID", pidb, sizeof(pidb)))
            pid = (pid_t)strtol(pidb, NULL, 10);
        handle_message(s, ident, pid, msg, (int64_t)usec * 1000);
    }
out:
    bn_free(msg);
    sd_journal_close(j);
}

static void
file_loop(struct auth_state *s)
{
    int fd = -1;
    struct stat st;
    char *buf = NULL;
    size_t have = 0;
    bool first = true;
    ino_t ino = 0;
    off_t pos = 0;

    buf = bn_malloc(AUTH_LINE_MAX + 1);
    if (!buf)
        return;
    while (!atomic_load(&s->stop)) {
        if (fd < 0) {
            fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                usleep(200 * 1000);
                continue;
            }
            fstat(fd, &st);
            ino = st.st_ino;
            pos = 0;
            have = 0;
            if (first && !s->conf.from_start)
                pos = lseek(fd, 0, SEEK_END);
            first = false;
        }
        ssize_t r = read(fd, buf + have, AUTH_LINE_MAX - have);
        if (r > 0) {
            pos += r;
            have += (size_t)r;
            size_t start = 0;
            for (size_t i = 0; i < have; i++) {
                if (buf[i] != '\n')
                    continue;
                buf[i] = '\0';
                const char *ident, *msg;
                pid_t pid;
                if (split_syslog(buf + start, &ident, &pid, &msg))
                    handle_message(s, ident, pid, msg, 0);
                start = i + 1;
            }
            memmove(buf, buf + start, have - start);
            have -= start;
            if (have == AUTH_LINE_MAX) {
                /* a line longer than the buffer: parse its start, drop the rest */
                buf[have] = '\0';
                atomic_fetch_add(&s->long_lines, 1);
                const char *ident, *msg;
                pid_t pid;
                if (split_syslog(buf, &ident, &pid, &msg))
                    handle_message(s, ident, pid, msg, 0);
                have = 0;
                /* skip to the end of that line */
                char c;
                while (read(fd, &c, 1) == 1) {
                    pos++;
                    if (c == '\n')
                        break;
                }
            }
            continue;
        }
        /* at the end: rotated (new inode) or truncated? */
        struct stat now;
        if (stat(s->log_path, &now) == 0 && (now.st_ino != ino || now.st_size < pos)) {
            atomic_fetch_add(&s->rotations, 1);
            close(fd);
            fd = -1;
            continue;
        }
        usleep(100 * 1000);
    }
    if (fd >= 0)
        close(fd);
    bn_free(buf);
}

static void *
auth_thread(void *arg)
{
    struct auth_state *s = arg;
    if (s->use_journal)
        journal_loop(s);
    else
        file_loop(s);
    return NULL;
}

static void auth_stop(struct agent *a, void *state);

int
agent_auth_start_conf(struct agent *a, const struct agent_auth_conf *conf, void **state,
                      struct bn_diag *d)
{
    struct auth_state *s;
    int rc = 0;

    *state = NULL;
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, "auth", 0, 0, "out of memory");
    s->agent = a;
    if (conf)
        s->conf = *conf;
    snprintf(s->log_path, sizeof(s->log_path), "%s",
             s->conf.log_path ? s->conf.log_path : "/var/log/auth.log");
    s->conf.log_path = s->log_path;
    s->use_journal = !s->conf.prefer_file && journald_running();
    if (!s->use_journal && access(s->log_path, R_OK) < 0) {
        rc = bn_diag_set(d, -errno, "auth", 0, 0, "auth: cannot read '%s': %s", s->log_path,
                         strerror(errno));
        goto out;
    }
    rc = -pthread_create(&s->thread, NULL, auth_thread, s);
    if (rc < 0) {
        bn_diag_set(d, rc, "auth", 0, 0, "auth: cannot start thread: %s", strerror(-rc));
        goto out;
    }
    s->running = true;
    *state = s;
    s = NULL;
out:
    if (s)
        auth_stop(a, s);
    return rc;
}

static int
auth_start(struct agent *a, void **state, struct bn_diag *d)
{
    return agent_auth_start_conf(a, NULL, state, d);
}

static void
auth_stop(struct agent *a, void *state)
{
    struct auth_state *s = state;
    (void)a;
    if (!s)
        return;
    if (s->running) {
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
    }
    bn_free(s);
}

static void
auth_describe(struct agent *a, void *state, char *buf, size_t size)
{
    struct auth_state *s = state;
    (void)a;
    size_t n = strlen(buf);
    if (n >= size)
        return;
    if (!s) {
        snprintf(buf + n, size - n,
                 "auth: sshd, sudo, su, login, systemd-logind outcomes from %s\n",
                 journald_running() ? "journald" : "/var/log/auth.log");
        return;
    }
    snprintf(buf + n, size - n,
             "auth: source %s, lines %" PRIuFAST64 ", events %" PRIuFAST64
             ", long lines cut %" PRIuFAST64 ", rotations %" PRIuFAST64 "\n",
             s->use_journal ? "journald" : s->log_path, atomic_load(&s->lines),
             atomic_load(&s->events), atomic_load(&s->long_lines), atomic_load(&s->rotations));
}

const struct agent_collector_ops agent_collector_auth = {
    .name = "auth",
    .tier = AGENT_TIER_NETLINK,
    .probe = auth_probe,
    .start = auth_start,
    .stop = auth_stop,
    .describe = auth_describe,
};
