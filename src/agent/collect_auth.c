/*
 * collect_auth.c - logins and privilege changes: sshd, sudo, su, login and
 * systemd-logind outcomes from journald (libsystemd sd_journal, following new entries),
 * from tailing /var/log/auth.log across rotations, or, on hosts with neither (no syslog
 * daemon at all), from syslog datagrams received on a Unix socket the agent binds itself
 * (/dev/log by default): RFC 3164 lines as glibc's syslog() sends them, RFC 5424 too, with
 * the sender's pid and uid from the kernel (SCM_CREDENTIALS).
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
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define AUTH_LINE_MAX 8192  /* longer log lines are cut */
#define AUTH_TOKEN_MAX 256  /* longer user names, hosts, ttys are cut */
#define AUTH_DGRAM_MAX 65536 /* longer syslog datagrams are cut (counted) */
#define AUTH_IDENT_MAX 64   /* longer syslog tags are malformed */
#define AUTH_SD_MAX 4096    /* RFC 5424 structured data longer than this is malformed */

/* The agent's accessors (agent.c). Weak: the collector tests link without the agent. */
extern const struct agent_config *agent_conf(const struct agent *a) __attribute__((weak));
extern enum agent_tier agent_tier_in_use(const struct agent *a) __attribute__((weak));

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
    if (strcmp(prog, "sshd-session") == 0) /* OpenSSH 9.8+: the per-connection binary */
        prog[4] = '\0';

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
    /* logsource.service of the JSON line (rules are written per service: sudo, sshd, ...) */
    if (rc == 0)
        rc = add(ev, "service", prog);
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

/* ---- syslog datagram split (socket source) ---- */

static const char months3[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of an RFC 3164 "Mmm dd hh:mm:ss" stamp at p (day may be space-padded), or 0. */
static size_t
bsd_stamp(const char *p)
{
    bool mon = false;
    for (int i = 0; i < 12 && !mon; i++)
        mon = p[0] == months3[i * 3] && p[0] && p[1] == months3[i * 3 + 1] &&
              p[2] == months3[i * 3 + 2];
    if (!mon || p[3] != ' ' || !(p[4] == ' ' || is_digit(p[4])) || !is_digit(p[5]) ||
        p[6] != ' ' || !is_digit(p[7]) || !is_digit(p[8]) || p[9] != ':' || !is_digit(p[10]) ||
        !is_digit(p[11]) || p[12] != ':' || !is_digit(p[13]) || !is_digit(p[14]))
        return 0;
    return 15;
}

/* Length of an ISO 8601 stamp "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm)" at p, or 0. */
static size_t
iso_stamp(const char *p)
{
    if (strnlen(p, 11) < 11)
        return 0;
    if (!is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) || !is_digit(p[3]) ||
        p[4] != '-' || p[10] != 'T')
        return 0;
    size_t n = 0;
    while (p[n] && p[n] != ' ' && n < 64)
        n++;
    return p[n] == ' ' || p[n] == '\0' ? n : 0;
}

/*
 * "ident[pid]:" or "ident:" at [t, t+n): sets ident (NUL-terminated in place) and pid.
 * False if the token is not a tag.
 */
static bool
take_tag(char *t, size_t n, struct agent_syslog_msg *m)
{
    if (n < 2 || t[n - 1] != ':')
        return false;
    n--;
    pid_t pid = 0;
    if (t[n - 1] == ']') {
        size_t b = n - 1;
        while (b > 0 && t[b - 1] != '[')
            b--;
        if (b == 0)
            return false;
        /* digits only, at most 10 */
        size_t dn = n - 1 - b;
        if (dn == 0 || dn > 10)
            return false;
        long long v = 0;
        for (size_t i = b; i < n - 1; i++) {
            if (!is_digit(t[i]))
                return false;
            v = v * 10 + (t[i] - '0');
        }
        if (v > 0x7fffffff)
            return false;
        pid = (pid_t)v;
        n = b - 1;
    }
    if (n == 0 || n > AUTH_IDENT_MAX)
        return false;
    t[n] = '\0';
    m->ident = t;
    m->pid = pid;
    return true;
}

static int
bad(struct agent_syslog_msg *m, const char *why)
{
    m->why = why;
    return BN_EFORMAT;
}

/* RFC 5424 after "<PRI>1 ": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG] */
static int
split_5424(char *p, struct agent_syslog_msg *m)
{
    char *f[5];
    for (int i = 0; i < 5; i++) {
        if (*p == ' ' || *p == '\0')
            return bad(m, "RFC 5424 header field missing");
        f[i] = p;
        while (*p && *p != ' ')
            p++;
        if (*p != ' ')
            return bad(m, "RFC 5424 header ends early");
        *p++ = '\0';
        if (strlen(f[i]) > 255)
            return bad(m, "RFC 5424 header field longer than 255 bytes");
    }
    m->rfc5424 = true;
    m->host = strcmp(f[1], "-") ? f[1] : "";
    if (strcmp(f[2], "-") == 0)
        return bad(m, "RFC 5424 message without APP-NAME");
    if (strlen(f[2]) > AUTH_IDENT_MAX)
        return bad(m, "APP-NAME longer than 64 bytes");
    m->ident = f[2];
    m->pid = 0;
    if (strcmp(f[3], "-") != 0) {
        char *e;
        long v = strtol(f[3], &e, 10);
        if (*e == '\0' && v > 0 && v <= 0x7fffffff)
            m->pid = (pid_t)v;
    }
    /* STRUCTURED-DATA: "-" or [id k="v" ...]... with \", \\ and \] escaped in values */
    char *sd = p;
    if (*p == '-') {
        p++;
    } else if (*p == '[') {
        while (*p == '[') {
            bool quoted = false;
            p++;
            for (;;) {
                if (*p == '\0')
                    return bad(m, "RFC 5424 structured data not closed");
                if (quoted && *p == '\\' && p[1]) {
                    p += 2;
                    continue;
                }
                if (*p == '"')
                    quoted = !quoted;
                else if (*p == ']' && !quoted)
                    break;
                p++;
            }
            p++;
            if (p - sd > AUTH_SD_MAX)
                return bad(m, "RFC 5424 structured data longer than 4096 bytes");
        }
    } else {
        return bad(m, "RFC 5424 structured data is neither '-' nor '['");
    }
    if (*p == ' ')
        p++;
    else if (*p != '\0')
        return bad(m, "RFC 5424 structured data not followed by a blank");
    if ((unsigned char)p[0] == 0xef && (unsigned char)p[1] == 0xbb && (unsigned char)p[2] == 0xbf)
        p += 3; /* the UTF-8 BOM */
    m->msg = p;
    return 0;
}

int
agent_syslog_split(char *buf, size_t len, struct agent_syslog_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->facility = 1;
    m->severity = 5;
    m->host = "";
    m->ident = "";
    m->msg = "";
    if (!buf)
        return bad(m, "no data");
    while (len > 0 && (buf[len - 1] == '\0' || buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (len == 0)
        return bad(m, "empty datagram");
    /* a NUL inside would cut the text silently: make it visible */
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0' || buf[i] == '\n')
            buf[i] = ' ';
    char *p = buf;
    if (*p == '<') {
        int v = 0, nd = 0;
        p++;
        while (is_digit(*p) && nd < 4) {
            v = v * 10 + (*p++ - '0');
            nd++;
        }
        if (nd == 0 || nd > 3 || *p != '>' || v > 191)
            return bad(m, "bad <PRI> (1 to 3 digits, at most 191)");
        p++;
        m->has_pri = true;
        m->facility = v / 8;
        m->severity = v % 8;
        if (p[0] >= '1' && p[0] <= '9' && p[1] == ' ')
            return split_5424(p + 2, m);
    }
    /* RFC 3164: stamp (BSD or ISO, optional), then "[host ]tag: msg" */
    size_t sl = bsd_stamp(p);
    if (!sl)
        sl = iso_stamp(p);
    p += sl;
    while (*p == ' ')
        p++;
    char *t1 = p;
    size_t n1 = strcspn(t1, " ");
    if (n1 > 0 && take_tag(t1, n1, m)) {
        p = t1 + n1 + (t1[n1] == ' ');
    } else {
        char *t2 = t1 + n1;
        while (*t2 == ' ')
            t2++;
        size_t n2 = strcspn(t2, " ");
        if (n1 == 0 || n1 > 255 || n2 == 0 || !take_tag(t2, n2, m))
            return bad(m, "no 'ident:' or 'ident[pid]:' tag");
        char *after = t2 + n2 + (t2[n2] == ' ');
        t1[n1] = '\0';
        m->host = t1;
        p = after;
    }
    m->msg = p; /* as written after "tag: " (sudo right-aligns its user name with blanks) */
    return 0;
}

/* ---- collector ---- */

enum auth_src { SRC_NONE, SRC_JOURNAL, SRC_FILE, SRC_SOCKET };

struct auth_state {
    struct agent *agent;
    struct agent_auth_conf conf;
    char log_path[AGENT_PATH_MAX];
    char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    enum auth_src src;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_uint_fast64_t lines, events, long_lines, rotations, emit_errors;
    /* socket source */
    int fd;
    dev_t sock_dev;
    ino_t sock_ino;
    bool took_stale;             /* a dead socket was left at the path: replaced */
    bool gone_once;              /* the path was missing at the last check */
    atomic_bool replaced;        /* another process's socket is at the path now */
    atomic_uint_fast64_t datagrams, malformed, other, rebinds, spoof_suspects;
    pthread_mutex_t why_mu;
    char last_why[96];           /* why the last malformed datagram was refused */
    int64_t next_malformed_note; /* malformed datagrams are reported at most once a minute */
    uint64_t malformed_noted;
};

static const char *auth_idents[] = {"sshd", "sshd-session", "sudo", "su", "login",
                                    "systemd-logind"};

static bool
journald_running(void)
{
    return access("/run/systemd/journal/socket", F_OK) == 0 ||
           access("/run/systemd/journal/stdout", F_OK) == 0;
}

/* journald runs and its journal opens for us (0), else a negative errno. */
static int
journal_usable(void)
{
    if (!journald_running())
        return -ENOENT;
    sd_journal *j = NULL;
    int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
    if (r < 0)
        return r;
    sd_journal_close(j);
    return 0;
}

/* The collector's settings: the agent's (auth.*) when started by the agent, else defaults. */
static void
conf_of(struct agent *a, struct agent_auth_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->auto_bind = true;
    const struct agent_config *ac = a && agent_conf ? agent_conf(a) : NULL;
    if (!ac)
        return;
    c->source = ac->auth_source;
    if (ac->auth_file && ac->auth_file[0])
        c->log_path = ac->auth_file;
    if (ac->auth_socket && ac->auth_socket[0])
        c->socket_path = ac->auth_socket;
    c->auto_bind = ac->auth_auto_bind;
}

/* What is at a socket path: nothing, a dead socket, a live receiver, or something else. */
enum sock_at { AT_NOTHING, AT_STALE, AT_LIVE, AT_OTHER, AT_ERROR };

static enum sock_at
socket_at(const char *path, char *why, size_t size)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return AT_NOTHING;
        snprintf(why, size, "cannot stat '%s': %s", path, strerror(errno));
        return AT_ERROR;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(why, size, "'%s' exists and is not a socket (%s)", path,
                 S_ISLNK(st.st_mode) ? "a symbolic link, e.g. to journald's" : "left alone");
        return AT_OTHER;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, size, "socket: %s", strerror(errno));
        return AT_ERROR;
    }
    int r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (r == 0) {
        snprintf(why, size, "another process (a syslog daemon, another agent?) receives on '%s'", path);
        return AT_LIVE;
    }
    if (e == ECONNREFUSED)
        return AT_STALE;
    snprintf(why, size, "cannot test '%s': %s", path, strerror(e));
    return AT_ERROR;
}

/*
 * Which source start() would use, without side effects: 0 and *src, or an error with the
 * reason in d. *note says why a socket would be bound.
 */
static int
plan(const struct agent_auth_conf *c, enum auth_src *src, char *note, size_t nsize,
     struct bn_diag *d)
{
    const char *log = c->log_path ? c->log_path : "/var/log/auth.log";
    const char *sock = c->socket_path ? c->socket_path : "/dev/log";
    char why[AGENT_PATH_MAX + 128] = "";
    int source = c->prefer_file && c->source == AGENT_AUTH_AUTO ? AGENT_AUTH_FILE : c->source;

    *src = SRC_NONE;
    note[0] = '\0';
    switch (source) {
    case AGENT_AUTH_JOURNALD: {
        int r = journal_usable();
        if (r == -ENOENT)
            return bn_diag_set(d, BN_EUNSUP, "auth", 0, 0,
                               "auth: source journald, but journald is not running (no "
                               "/run/systemd/journal/socket)");
        if (r < 0)
            return bn_diag_set(d, r, "auth", 0, 0, "auth: cannot open the journal: %s",
                               strerror(-r));
        *src = SRC_JOURNAL;
        return 0;
    }
    case AGENT_AUTH_FILE:
        if (access(log, R_OK) < 0)
            return bn_diag_set(d, -errno, "auth", 0, 0, "auth: cannot read '%s': %s", log,
                               strerror(errno));
        *src = SRC_FILE;
        return 0;
    case AGENT_AUTH_SOCKET:
        break;
    default:
        /* a journal we cannot open (permissions) falls through to the file */
        if (journal_usable() == 0) {
            *src = SRC_JOURNAL;
            return 0;
        }
        if (access(log, R_OK) == 0) {
            *src = SRC_FILE;
            return 0;
        }
        if (!c->auto_bind)
            return bn_diag_set(d, BN_EUNSUP, "auth", 0, 0,
                               "auth: journald is not running (no "
                               "/run/systemd/journal/socket), '%s' cannot be read (%s) and "
                               "auth.auto_bind is off: no login or sudo outcomes",
                               log, strerror(errno));
        break;
    }
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return bn_diag_set(d, BN_EINVAL, "auth", 0, 0,
                           "auth: socket path '%s' is longer than 107 bytes", sock);
    switch (socket_at(sock, why, sizeof(why))) {
    case AT_NOTHING:
        snprintf(note, nsize, "nothing was bound at '%s'", sock);
        break;
    case AT_STALE:
        snprintf(note, nsize, "a dead socket was left at '%s' (nobody receiving): replaced",
                 sock);
        break;
    default:
        if (source == AGENT_AUTH_SOCKET)
            return bn_diag_set(d, BN_EEXIST, "auth", 0, 0, "auth: cannot bind '%s': %s", sock,
                               why);
        return bn_diag_set(d, BN_EUNSUP, "auth", 0, 0,
                           "auth: journald is not running, '%s' cannot be read, and %s: set "
                           "auth.file to the file that receiver writes",
                           log, why);
    }
    if (source != AGENT_AUTH_SOCKET) {
        size_t n = strlen(note);
        snprintf(note + n, nsize - n, "; no journald and no readable '%s'", log);
    }
    *src = SRC_SOCKET;
    return 0;
}

static int
auth_probe(struct agent *a, struct bn_diag *d)
{
    struct agent_auth_conf c;
    enum auth_src src;
    char note[AGENT_PATH_MAX + 256];
    conf_of(a, &c);
    return plan(&c, &src, note, sizeof(note), d);
}

static enum agent_tier
tier_of(struct auth_state *s)
{
    enum agent_tier t = s->agent && agent_tier_in_use ? agent_tier_in_use(s->agent)
                                                      : AGENT_TIER_NONE;
    return t == AGENT_TIER_NONE ? AGENT_TIER_NETLINK : t;
}

/* A status event from this collector ("auth_source", "degraded"). */
static void
auth_status(struct auth_state *s, const char *what, const char *detail)
{
    struct agent_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = AGENT_EV_STATUS;
    ev.prio = AGENT_PRIO_CRITICAL;
    ev.tier = tier_of(s);
    ev.ts_ns = now_ns();
    ev.proc.pid = getpid();
    if (add(&ev, "status", what) == 0 && add(&ev, "detail", detail) == 0 &&
        agent_emit(s->agent, &ev) < 0)
        atomic_fetch_add(&s->emit_errors, 1);
    agent_auth_event_release(&ev);
}

/*
 * Sender check of a socket message (kernel credentials): sshd, login and logind log as
 * root; su and sudo keep the invoking user's real uid. Anything else may be a local user
 * forging log lines.
 */
static bool
sender_plausible(const struct agent_event *ev, uid_t uid)
{
    if (uid == 0)
        return true;
    const char *u = get(ev, "user");
    if (!u || !u[0])
        return false;
    struct passwd pw, *res = NULL;
    char pb[1024];
    if (getpwnam_r(u, &pw, pb, sizeof(pb), &res) != 0 || !res)
        return false;
    return res->pw_uid == uid;
}

static void
handle_message(struct auth_state *s, const char *ident, pid_t pid, const char *msg,
               int64_t ts_ns, const struct ucred *cred)
{
    struct agent_event ev;
    atomic_fetch_add(&s->lines, 1);
    if (agent_auth_parse(ident, pid, msg, &ev) != 0)
        return;
    ev.tier = tier_of(s);
    if (ts_ns)
        ev.ts_ns = ts_ns;
    if (cred) {
        /* the kernel's word, not the message's: who really sent it */
        char num[24];
        ev.proc.pid = cred->pid;
        ev.proc.uid = ev.proc.euid = cred->uid;
        ev.proc.gid = ev.proc.egid = cred->gid;
        snprintf(num, sizeof(num), "%u", (unsigned)cred->uid);
        int rc = add(&ev, "sender_uid", num);
        if (rc == 0 && pid && pid != cred->pid) {
            snprintf(num, sizeof(num), "%d", (int)pid);
            rc = add(&ev, "claimed_pid", num);
        }
        if (rc == 0 && !sender_plausible(&ev, cred->uid)) {
            atomic_fetch_add(&s->spoof_suspects, 1);
            rc = add(&ev, "sender_mismatch", "true");
        }
        if (rc < 0) {
            atomic_fetch_add(&s->emit_errors, 1);
            agent_auth_event_release(&ev);
            return;
        }
    }
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
        handle_message(s, ident, pid, msg, (int64_t)usec * 1000, NULL);
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
                    handle_message(s, ident, pid, msg, 0, NULL);
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
                    handle_message(s, ident, pid, msg, 0, NULL);
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

/* ---- socket source ---- */

/*
 * Binds s->sock_path (a dead socket left there is replaced; anything else is not touched)
 * as a world-writable datagram socket, as every syslog daemon does, with SO_PASSCRED.
 */
static int
sock_bind(struct auth_state *s, struct bn_diag *d)
{
    char why[AGENT_PATH_MAX + 128] = "";
    enum sock_at at = socket_at(s->sock_path, why, sizeof(why));
    if (at != AT_NOTHING && at != AT_STALE)
        return bn_diag_set(d, BN_EEXIST, "auth", 0, 0, "auth: cannot bind '%s': %s",
                           s->sock_path, why);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return bn_diag_set(d, -errno, "auth", 0, 0, "auth: socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->sock_path);
    if (at == AT_STALE) {
        unlink(s->sock_path);
        s->took_stale = true;
    }
    int one = 1, rcv = 4 << 20;
    struct stat st;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return bn_diag_set(d, -e, "auth", 0, 0, "auth: cannot bind '%s': %s", s->sock_path,
                           strerror(e));
    }
    /* syslog() from any user (su and sudo log with the caller's real uid) must reach us */
    if (chmod(s->sock_path, 0666) < 0 || stat(s->sock_path, &st) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
        int e = errno;
        unlink(s->sock_path);
        close(fd);
        return bn_diag_set(d, -e, "auth", 0, 0, "auth: cannot set up '%s': %s", s->sock_path,
                           strerror(e));
    }
    /* a burst of syslog() calls waits in the socket, not in the senders (best effort) */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    s->sock_dev = st.st_dev;
    s->sock_ino = st.st_ino;
    s->fd = fd;
    return 0;
}

/* Is the socket at the path still the one we bound? */
static bool
sock_ours(const struct auth_state *s)
{
    struct stat st;
    return lstat(s->sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->sock_dev &&
           st.st_ino == s->sock_ino;
}

static void
sock_datagram(struct auth_state *s, char *buf, size_t n, const struct ucred *cred)
{
    struct agent_syslog_msg m;
    atomic_fetch_add(&s->datagrams, 1);
    if (agent_syslog_split(buf, n, &m) != 0) {
        atomic_fetch_add(&s->malformed, 1);
        pthread_mutex_lock(&s->why_mu);
        snprintf(s->last_why, sizeof(s->last_why), "%s", m.why);
        pthread_mutex_unlock(&s->why_mu);
        return;
    }
    /* auth (4) and authpriv (10) go to the parser, and the known programs whatever their
     * facility (sshd's SyslogFacility may be LOCAL0); other programs' messages are counted */
    bool known = false;
    size_t il = strcspn(m.ident, "([");
    for (size_t i = 0; i < BN_ARRAY_SIZE(auth_idents) && !known; i++)
        known = strlen(auth_idents[i]) == il && strncmp(m.ident, auth_idents[i], il) == 0;
    if (m.facility != 4 && m.facility != 10 && !known) {
        atomic_fetch_add(&s->other, 1);
        return;
    }
    handle_message(s, m.ident, m.pid, m.msg, 0, cred);
}

/* Malformed datagrams since the last note: one status event a minute at most. */
static void
malformed_note(struct auth_state *s, int64_t now)
{
    uint64_t bad = atomic_load(&s->malformed);
    if (bad == s->malformed_noted || now < s->next_malformed_note)
        return;
    char why[sizeof(s->last_why)], detail[AGENT_PATH_MAX + 256];
    pthread_mutex_lock(&s->why_mu);
    snprintf(why, sizeof(why), "%s", s->last_why);
    pthread_mutex_unlock(&s->why_mu);
    snprintf(detail, sizeof(detail),
             "auth: %" PRIu64 " malformed syslog datagrams on '%s' (%" PRIu64
             " in all; the last: %s)",
             bad - s->malformed_noted, s->sock_path, bad, why);
    auth_status(s, "auth_malformed", detail);
    s->malformed_noted = bad;
    s->next_malformed_note = now + 60000000000ll;
}

/* Every 2 s: was our socket removed (bind it again) or replaced by another receiver? */
static void
sock_check(struct auth_state *s)
{
    char detail[AGENT_PATH_MAX + 256];
    malformed_note(s, now_ns());
    if (atomic_load(&s->replaced) || sock_ours(s))
        return;
    struct stat st;
    if (lstat(s->sock_path, &st) < 0 && errno == ENOENT) {
        /* a syslog daemon starting unlinks the path and binds it at once: bind again only
         * if it is still missing 2 s later, not in its way */
        if (!s->gone_once) {
            s->gone_once = true;
            return;
        }
        s->gone_once = false;
        struct bn_diag d;
        bn_diag_clear(&d);
        int old = s->fd;
        if (sock_bind(s, &d) == 0) {
            close(old);
            atomic_fetch_add(&s->rebinds, 1);
            snprintf(detail, sizeof(detail), "auth: '%s' was removed by someone; bound again",
                     s->sock_path);
            auth_status(s, "auth_source", detail);
            return;
        }
    }
    atomic_store(&s->replaced, true);
    snprintf(detail, sizeof(detail),
             "auth: '%s' was replaced by another process's socket (a syslog daemon started?): "
             "syslog auth messages go there now, not to the agent; restart the agent to pick "
             "the new source",
             s->sock_path);
    auth_status(s, "degraded", detail);
}

static void
socket_loop(struct auth_state *s)
{
    char *buf = bn_malloc(AUTH_DGRAM_MAX + 1);
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(struct ucred))];
    } cb;
    int64_t next_check = 0;
    if (!buf)
        return;
    while (!atomic_load(&s->stop)) {
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        int pr = poll(&pf, 1, 200);
        int64_t now = now_ns();
        if (now >= next_check) {
            sock_check(s);
            next_check = now + 2000000000ll;
        }
        if (pr <= 0)
            continue;
        /* a bounded batch, then look at the stop flag again */
        for (int k = 0; k < 256; k++) {
            struct iovec iov = {.iov_base = buf, .iov_len = AUTH_DGRAM_MAX};
            struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
                                .msg_controllen = sizeof(cb.b)};
            ssize_t n = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
            if (n < 0)
                break;
            if (mh.msg_flags & MSG_TRUNC)
                atomic_fetch_add(&s->long_lines, 1);
            const struct ucred *cred = NULL;
            struct ucred uc;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
                    c->cmsg_len >= CMSG_LEN(sizeof(uc))) {
                    memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                    cred = &uc;
                }
            }
            sock_datagram(s, buf, (size_t)n, cred);
        }
    }
    bn_free(buf);
}

static void *
auth_thread(void *arg)
{
    struct auth_state *s = arg;
    if (s->src == SRC_JOURNAL)
        journal_loop(s);
    else if (s->src == SRC_SOCKET)
        socket_loop(s);
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
    char note[AGENT_PATH_MAX + 256];

    *state = NULL;
    s = bn_calloc(1, sizeof(*s));
    if (!s)
        return bn_diag_set(d, BN_ENOMEM, "auth", 0, 0, "out of memory");
    s->agent = a;
    s->fd = -1;
    pthread_mutex_init(&s->why_mu, NULL);
    if (conf)
        s->conf = *conf;
    snprintf(s->log_path, sizeof(s->log_path), "%s",
             s->conf.log_path ? s->conf.log_path : "/var/log/auth.log");
    s->conf.log_path = s->log_path;
    const char *sp = s->conf.socket_path ? s->conf.socket_path : "/dev/log";
    if (strlen(sp) >= sizeof(s->sock_path)) {
        rc = bn_diag_set(d, BN_EINVAL, "auth", 0, 0,
                         "auth: socket path '%s' is longer than 107 bytes", sp);
        goto out;
    }
    snprintf(s->sock_path, sizeof(s->sock_path), "%s", sp);
    s->conf.socket_path = s->sock_path;
    if ((rc = plan(&s->conf, &s->src, note, sizeof(note), d)) < 0)
        goto out;
    if (s->src == SRC_SOCKET && (rc = sock_bind(s, d)) < 0)
        goto out;
    rc = -pthread_create(&s->thread, NULL, auth_thread, s);
    if (rc < 0) {
        bn_diag_set(d, rc, "auth", 0, 0, "auth: cannot start thread: %s", strerror(-rc));
        goto out;
    }
    s->running = true;
    if (s->src == SRC_SOCKET) {
        char detail[AGENT_PATH_MAX + 512];
        snprintf(detail, sizeof(detail),
                 "auth: receiving syslog datagrams on '%s', bound by the agent (%s); removed "
                 "when the agent stops",
                 s->sock_path, note);
        auth_status(s, "auth_source", detail);
    }
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
    struct agent_auth_conf c;
    conf_of(a, &c);
    return agent_auth_start_conf(a, &c, state, d);
}

void
agent_auth_stats(void *state, struct agent_auth_stats *st)
{
    const struct auth_state *s = state;
    memset(st, 0, sizeof(*st));
    if (!s)
        return;
    st->lines = atomic_load(&s->lines);
    st->events = atomic_load(&s->events);
    st->long_lines = atomic_load(&s->long_lines);
    st->datagrams = atomic_load(&s->datagrams);
    st->malformed = atomic_load(&s->malformed);
    st->other = atomic_load(&s->other);
    st->sender_mismatch = atomic_load(&s->spoof_suspects);
    st->emit_errors = atomic_load(&s->emit_errors);
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
        if (s->src == SRC_SOCKET) {
            /* the last word on what the socket got: nothing dropped goes unsaid */
            char detail[AGENT_PATH_MAX + 512], why[sizeof(s->last_why)];
            snprintf(why, sizeof(why), "%s", s->last_why[0] ? s->last_why : "-");
            snprintf(detail, sizeof(detail),
                     "auth: closing '%s': datagrams %" PRIuFAST64 ", auth events %" PRIuFAST64
                     ", malformed %" PRIuFAST64 " (last: %s), not auth %" PRIuFAST64
                     ", cut %" PRIuFAST64 ", sender mismatches %" PRIuFAST64
                     ", emit errors %" PRIuFAST64,
                     s->sock_path, atomic_load(&s->datagrams), atomic_load(&s->events),
                     atomic_load(&s->malformed), why, atomic_load(&s->other),
                     atomic_load(&s->long_lines), atomic_load(&s->spoof_suspects),
                     atomic_load(&s->emit_errors));
            auth_status(s, "auth_source", detail);
        }
    }
    if (s->fd >= 0) {
        /* only our own socket: a syslog daemon may have taken the path since */
        if (sock_ours(s))
            unlink(s->sock_path);
        close(s->fd);
    }
    pthread_mutex_destroy(&s->why_mu);
    bn_free(s);
}

static const char *
src_name(const struct auth_state *s)
{
    switch (s->src) {
    case SRC_JOURNAL: return "journald";
    case SRC_SOCKET: return s->sock_path;
    default: return s->log_path;
    }
}

static void
auth_describe(struct agent *a, void *state, char *buf, size_t size)
{
    struct auth_state *s = state;
    size_t n = strlen(buf);
    if (n >= size)
        return;
    if (!s) {
        struct agent_auth_conf c;
        enum auth_src src;
        char note[AGENT_PATH_MAX + 256];
        struct bn_diag d;
        bn_diag_clear(&d);
        conf_of(a, &c);
        if (plan(&c, &src, note, sizeof(note), &d) < 0) {
            snprintf(buf + n, size - n, "auth: no source: %s\n", d.msg);
            return;
        }
        if (src == SRC_SOCKET)
            snprintf(buf + n, size - n,
                     "auth: sshd, sudo, su, login outcomes from syslog datagrams: the agent "
                     "would bind '%s' itself (%s)\n",
                     c.socket_path ? c.socket_path : "/dev/log", note);
        else
            snprintf(buf + n, size - n,
                     "auth: sshd, sudo, su, login, systemd-logind outcomes from %s\n",
                     src == SRC_JOURNAL ? "journald"
                                        : (c.log_path ? c.log_path : "/var/log/auth.log"));
        return;
    }
    int w = snprintf(buf + n, size - n,
                     "auth: source %s, lines %" PRIuFAST64 ", events %" PRIuFAST64
                     ", long lines cut %" PRIuFAST64 ", rotations %" PRIuFAST64 "\n",
                     src_name(s), atomic_load(&s->lines), atomic_load(&s->events),
                     atomic_load(&s->long_lines), atomic_load(&s->rotations));
    if (s->src != SRC_SOCKET || w < 0 || (size_t)w >= size - n)
        return;
    n += (size_t)w;
    char why[sizeof(s->last_why)];
    pthread_mutex_lock(&s->why_mu);
    snprintf(why, sizeof(why), "%s", s->last_why[0] ? s->last_why : "-");
    pthread_mutex_unlock(&s->why_mu);
    snprintf(buf + n, size - n,
             "auth: socket %s: datagrams %" PRIuFAST64 ", malformed %" PRIuFAST64
             " (last: %s), not auth %" PRIuFAST64 ", sender mismatches %" PRIuFAST64
             ", rebinds %" PRIuFAST64 "%s%s\n",
             s->sock_path, atomic_load(&s->datagrams), atomic_load(&s->malformed), why,
             atomic_load(&s->other), atomic_load(&s->spoof_suspects), atomic_load(&s->rebinds),
             s->took_stale ? ", replaced a dead socket" : "",
             atomic_load(&s->replaced) ? ", REPLACED by another receiver" : "");
}

const struct agent_collector_ops agent_collector_auth = {
    .name = "auth",
    .tier = AGENT_TIER_NETLINK,
    .probe = auth_probe,
    .start = auth_start,
    .stop = auth_stop,
    .describe = auth_describe,
};
