/*
 * test_collect_auth.c - the auth line parser on real-looking sshd, sudo, su, login and
 * logind messages and on the loghub OpenSSH and Linux samples; the auth.log tailer
 * (appends, rotation, long lines); a journald round trip through logger when journald
 * runs here; the syslog datagram split (RFC 3164 as glibc sends it, RFC 5424) and the
 * socket source on a socket in a temp dir (logger round trip, kernel sender credentials,
 * counted drops, dead/live/replaced sockets), and the auto choice of a source.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "tiers_sink.h"
#include "agent/event_json.h"
#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"

static const char *
ex(const struct agent_event *ev, const char *k)
{
    for (uint32_t i = 0; i < ev->nextra; i++)
        if (strcmp(ev->extra_keys[i], k) == 0)
            return ev->extra_vals[i];
    return NULL;
}

/* Parses and checks "k=v" pairs of want (NULL-terminated); v NULL means absent. */
static void
expect(const char *ident, const char *msg, const char *const *want)
{
    struct agent_event ev;
    int rc = agent_auth_parse(ident, 123, msg, &ev);
    if (rc != 0)
        fail_msg("'%s: %s' declined (%d)", ident, msg, rc);
    assert_int_equal(ev.kind, AGENT_EV_AUTH);
    assert_int_equal(ev.prio, AGENT_PRIO_HIGH);
    assert_int_equal(ev.proc.pid, 123);
    for (size_t i = 0; want[i]; i += 2) {
        const char *got = ex(&ev, want[i]);
        if (want[i + 1] == NULL) {
            if (got)
                fail_msg("'%s': %s=%s, expected absent", msg, want[i], got);
        } else if (!got || strcmp(got, want[i + 1]) != 0) {
            fail_msg("'%s': %s=%s, expected %s", msg, want[i], got ? got : "(absent)",
                     want[i + 1]);
        }
    }
    agent_auth_event_release(&ev);
}

static void
declined(const char *ident, const char *msg)
{
    struct agent_event ev;
    int rc = agent_auth_parse(ident, 1, msg, &ev);
    if (rc != BN_DECLINED)
        fail_msg("'%s: %s' not declined (%d)", ident, msg, rc);
    assert_int_equal(ev.nextra, 0);
}

static void
test_sshd(void **state)
{
    (void)state;
    expect("sshd", "Failed password for root from 183.62.140.253 port 45528 ssh2",
           (const char *[]){"result", "failure", "user", "root", "source_ip", "183.62.140.253",
                            "source_port", "45528", "method", "password", "program", "sshd",
                            "reason", NULL, NULL});
    expect("sshd", "Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
           (const char *[]){"result", "failure", "user", "webmaster", "reason", "invalid user",
                            "source_ip", "173.234.31.186", NULL});
    expect("sshd", "Accepted publickey for alice from 10.0.0.5 port 50022 ssh2: RSA SHA256:abc",
           (const char *[]){"result", "success", "user", "alice", "method", "publickey",
                            "source_ip", "10.0.0.5", "source_port", "50022", NULL});
    expect("sshd", "Accepted password for bob from ::1 port 1234 ssh2",
           (const char *[]){"result", "success", "source_ip", "::1", NULL});
    expect("sshd", "Invalid user webmaster from 173.234.31.186",
           (const char *[]){"result", "failure", "user", "webmaster", "reason", "invalid user",
                            "source_ip", "173.234.31.186", "source_port", NULL, NULL});
    expect("sshd", "Invalid user admin from 10.1.1.1 port 22",
           (const char *[]){"user", "admin", "source_port", "22", NULL});
    expect("sshd", "Invalid user  from 10.1.1.1 port 22",
           (const char *[]){"user", "", "source_ip", "10.1.1.1", NULL});
    expect("sshd", "Failed none for invalid user  from 10.2.2.2 port 5 ssh2",
           (const char *[]){"user", "", "method", "none", "source_ip", "10.2.2.2", NULL});
    expect("sshd", "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
           (const char *[]){"repeat", "5", "user", "root", "source_port", "42393", "result",
                            "failure", NULL});
    expect("sshd", "Disconnecting: Too many authentication failures for root [preauth]",
           (const char *[]){"user", "root", "result", "failure", NULL});
    expect("sshd", "User eve from 10.0.0.9 not allowed because not listed in AllowUsers",
           (const char *[]){"user", "eve", "source_ip", "10.0.0.9", "result", "failure", NULL});
    /* old-style ident: PAM is the only record of the attempt */
    expect("sshd(pam_unix)",
           "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4  user=root",
           (const char *[]){"user", "root", "source_ip", "218.188.2.4", "method", "pam",
                            "tty", "NODEVssh", "result", "failure", "program", "sshd", NULL});
    declined("sshd", "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root");
    declined("sshd", "Received disconnect from 1.2.3.4: 11: Bye Bye [preauth]");
    declined("sshd", "pam_unix(sshd:session): session opened for user alice by (uid=0)");
    declined("sshd", "PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root");
    declined("sshd", "Failed");
    declined("sshd", "Accepted publickey");
    declined("sshd", "message repeated 2 times: [ Received disconnect]");
    declined("sshd", "message repeated");
    declined("cron", "Failed password for root from 1.2.3.4 port 1 ssh2");
}

static void
test_sudo_su_login(void **state)
{
    (void)state;
    expect("sudo", "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u",
           (const char *[]){"result", "success", "user", "alice", "target_user", "root", "tty",
                            "pts/0", "command", "/usr/bin/id -u", "method", "sudo", NULL});
    expect("sudo", "alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh -c a ; b",
           (const char *[]){"result", "failure", "reason", "3 incorrect password attempts",
                            "tty", "pts/1", "target_user", "root", "command", "/bin/sh -c a ; b",
                            NULL});
    expect("sudo", "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/ ; USER=root ; COMMAND=/bin/bash",
           (const char *[]){"result", "failure", "user", "mallory", "reason", "user NOT in sudoers",
                            NULL});
    expect("sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice",
           (const char *[]){"result", "failure", "user", "alice", "target_user", "alice", "tty",
                            "/dev/pts/0", "source_ip", NULL, NULL});
    declined("sudo", "pam_unix(sudo:session): session closed for user root");
    declined("sudo", "alice : some unknown notice ; TTY=pts/0");
    expect("su", "(to root) alice on pts/0",
           (const char *[]){"result", "success", "user", "alice", "target_user", "root", "tty",
                            "pts/0", NULL});
    expect("su", "FAILED SU (to root) alice on pts/0",
           (const char *[]){"result", "failure", "user", "alice", "target_user", "root", NULL});
    expect("su", "pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=pts/0 ruser=alice rhost=  user=root",
           (const char *[]){"result", "failure", "user", "alice", "target_user", "root", NULL});
    expect("su", "pam_unix(su:session): session opened for user root(uid=0) by alice(uid=1000)",
           (const char *[]){"result", "success", "user", "alice", "target_user", "root", NULL});
    expect("su(pam_unix)", "session opened for user news by (uid=0)",
           (const char *[]){"result", "success", "target_user", "news", "user", NULL, NULL});
    declined("su(pam_unix)", "session closed for user news");
    expect("login", "FAILED LOGIN (1) on '/dev/tty1' FOR 'root', Authentication failure",
           (const char *[]){"result", "failure", "user", "root", "tty", "/dev/tty1", "reason",
                            "Authentication failure", NULL});
    expect("login", "ROOT LOGIN  on '/dev/tty1'",
           (const char *[]){"result", "success", "user", "root", "tty", "/dev/tty1", NULL});
    expect("login(pam_unix)", "session opened for user root by LOGIN(uid=0)",
           (const char *[]){"result", "success", "user", "root", NULL});
    expect("systemd-logind", "New session 42 of user alice.",
           (const char *[]){"result", "success", "user", "alice", "session", "42", NULL});
    declined("systemd-logind", "Removed session 42.");
    declined("systemd-logind", "New session 42 of");
    expect("gdm(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=:0 ruser= rhost=",
           (const char *[]){"result", "failure", "tty", ":0", "program", "gdm", NULL});
}

static void
test_hostile(void **state)
{
    (void)state;
    struct agent_event ev;
    assert_int_equal(agent_auth_parse(NULL, 0, "x", &ev), BN_EINVAL);
    assert_int_equal(agent_auth_parse("sshd", 0, NULL, &ev), BN_EINVAL);
    assert_int_equal(agent_auth_parse("sshd", 0, "x", NULL), BN_EINVAL);
    /* a huge user name is cut, not copied whole */
    size_t n = 100000;
    char *m = malloc(n + 64);
    assert_non_null(m);
    memcpy(m, "Failed password for ", 20);
    memset(m + 20, 'u', n);
    memcpy(m + 20 + n, " from 1.2.3.4 port 9 ssh2", 26);
    assert_int_equal(agent_auth_parse("sshd", 0, m, &ev), 0);
    assert_true(strlen(ex(&ev, "user")) <= 256);
    agent_auth_event_release(&ev);
    /* non-UTF-8 bytes are kept as they are */
    assert_int_equal(agent_auth_parse("sshd", 0, "Invalid user \xff\xfe from 1.2.3.4", &ev), 0);
    assert_string_equal(ex(&ev, "user"), "\xff\xfe");
    agent_auth_event_release(&ev);
    /* fuzz regression: the reason text where the user name should be */
    assert_int_equal(agent_auth_parse("sshd", 0, "User  not allowed because \x1b[%", &ev), 0);
    assert_null(ex(&ev, "user"));
    assert_string_equal(ex(&ev, "reason"), "not allowed because \x1b[%");
    agent_auth_event_release(&ev);
    /* a very long ident */
    memset(m, 's', n);
    m[n] = '\0';
    assert_int_equal(agent_auth_parse(m, 0, "Failed password for a from b port 1", &ev),
                     BN_DECLINED);
    /* nested "message repeated" */
    assert_int_equal(agent_auth_parse("sshd", 0,
                                      "message repeated 2 times: [ message repeated 3 times: [ "
                                      "Failed password for root from 1.1.1.1 port 2 ssh2]]",
                                      &ev),
                     0);
    agent_auth_event_release(&ev);
    /* allocation failures propagate and leave nothing behind */
    for (unsigned long k = 1; k < 12; k++) {
        bn_alloc_fail_after(k);
        int rc = agent_auth_parse("sudo", 0,
                                  "alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id", &ev);
        bn_alloc_fail_after(0);
        if (rc == 0)
            agent_auth_event_release(&ev);
        else
            assert_int_equal(rc, BN_ENOMEM);
    }
    free(m);
}

static char *
corpus(const char *rel)
{
    const char *base = getenv("BN_CORPORA");
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", base ? base : "../shared/corpora", rel);
    return path;
}

struct tally {
    unsigned lines, events, fail, ok, with_ip, with_user;
};

/* Runs every line of a loghub syslog file through the splitter-equivalent and parser. */
static int
run_corpus(const char *rel, struct tally *t, unsigned *want_fail, unsigned *want_ok)
{
    FILE *f = fopen(corpus(rel), "r");
    if (!f)
        return -1;
    char line[8192];
    memset(t, 0, sizeof(*t));
    *want_fail = *want_ok = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        t->lines++;
        /* "Mon dd hh:mm:ss host ident[pid]: msg" */
        char *p = line;
        for (int i = 0; i < 4 && p; i++) {
            p = strchr(p, ' ');
            while (p && *p == ' ')
                p++;
        }
        if (!p)
            continue;
        char *colon = strstr(p, ": ");
        if (!colon)
            continue;
        *colon = '\0';
        char *msg = colon + 2;
        char *br = strrchr(p, '[');
        if (br)
            *br = '\0';
        unsigned wf0 = *want_fail, wo0 = *want_ok;
        /* independent expectation from plain substring tests */
        if (strcmp(p, "sshd") == 0) {
            if (strstr(msg, "Failed ") == msg || strstr(msg, "Invalid user ") == msg ||
                strstr(msg, "Disconnecting: Too many authentication failures") == msg ||
                (strstr(msg, "message repeated") == msg && strstr(msg, "[ Failed ")))
                (*want_fail)++;
            if (strstr(msg, "Accepted ") == msg)
                (*want_ok)++;
        } else if (strstr(p, "(pam_unix)")) {
            if (strstr(msg, "authentication failure;") == msg)
                (*want_fail)++;
            if ((strncmp(p, "su(", 3) == 0 || strncmp(p, "login(", 6) == 0) &&
                strstr(msg, "session opened for user "))
                (*want_ok)++;
        }
        struct agent_event ev;
        if (agent_auth_parse(p, 0, msg, &ev) == 0) {
            t->events++;
            bool failed = strcmp(ex(&ev, "result"), "failure") == 0;
            if (failed)
                t->fail++;
            else
                t->ok++;
            if (failed != (*want_fail != wf0) || !failed != (*want_ok != wo0))
                fprintf(stderr, "unexpected outcome: %s: %s\n", p, msg);
            if (ex(&ev, "source_ip"))
                t->with_ip++;
            if (ex(&ev, "user") || ex(&ev, "target_user"))
                t->with_user++;
            agent_auth_event_release(&ev);
        } else if (*want_fail != wf0 || *want_ok != wo0) {
            fprintf(stderr, "unexpectedly declined: %s: %s\n", p, msg);
        }
    }
    fclose(f);
    return 0;
}

static void
test_loghub_openssh(void **state)
{
    (void)state;
    struct tally t;
    unsigned wf, wo;
    if (run_corpus("logs/syslog/loghub/OpenSSH/OpenSSH_2k.log", &t, &wf, &wo) < 0) {
        fprintf(stderr, "skipping: corpus OpenSSH_2k.log not found (BN_CORPORA)\n");
        skip();
    }
    fprintf(stderr, "OpenSSH_2k: %u lines, %u auth events (%u failures, %u successes)\n",
            t.lines, t.events, t.fail, t.ok);
    assert_int_equal(t.lines, 2000);
    assert_int_equal(t.fail, wf);
    assert_int_equal(t.ok, wo);
    assert_true(t.fail > 600);
    /* every sshd outcome names where it came from, except the three "Disconnecting: Too
     * many authentication failures for X" lines, which carry no address */
    assert_int_equal(t.with_ip, t.events - 3);
    assert_int_equal(t.with_user, t.events);
}

static void
test_loghub_linux(void **state)
{
    (void)state;
    struct tally t;
    unsigned wf, wo;
    if (run_corpus("logs/syslog/loghub/Linux/Linux_2k.log", &t, &wf, &wo) < 0) {
        fprintf(stderr, "skipping: corpus Linux_2k.log not found (BN_CORPORA)\n");
        skip();
    }
    fprintf(stderr, "Linux_2k: %u lines, %u auth events (%u failures, %u successes)\n",
            t.lines, t.events, t.fail, t.ok);
    assert_int_equal(t.fail, wf);
    assert_int_equal(t.ok, wo);
    assert_true(t.fail > 400);
    assert_true(t.ok >= 80); /* su sessions for news and cyrus, login root */
}

static bool
is_auth_user(const struct sink_rec *r, const void *arg)
{
    char b[128];
    return r->kind == AGENT_EV_AUTH && sink_extra(r, "user", b, sizeof(b)) &&
           strcmp(b, (const char *)arg) == 0;
}

static void
test_tail_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn_authlog_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], old[256];
    snprintf(path, sizeof(path), "%s/auth.log", dir);
    snprintf(old, sizeof(old), "%s/auth.log.1", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Nov 25 10:00:00 host sshd[100]: Failed password for early from 1.2.3.4 port 1 ssh2\n");
    fclose(f);
    sink_reset();
    struct agent_auth_conf conf = {.log_path = path, .prefer_file = true, .from_start = true};
    struct bn_diag d;
    void *st = NULL;
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), 0);
    assert_true(sink_wait(is_auth_user, "early", 3000) >= 0);

    /* appended: RFC 3339 stamp, a line cut in two writes, a very long line */
    f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "2026-11-25T10:00:01.5+00:00 host sudo[200]: carol : TTY=pts/0 ; PWD=/ ; "
               "USER=root ; COMMAND=/bin/id\n");
    fprintf(f, "Nov 25 10:00:02 host su[300]: FAILED SU (to root) da");
    fflush(f);
    usleep(300 * 1000);
    fprintf(f, "ve on pts/3\n");
    fprintf(f, "Nov 25 10:00:03 host sshd[1]: Failed password for ");
    for (int i = 0; i < 20000; i++)
        fputc('L', f);
    fprintf(f, " from 1.1.1.1 port 2 ssh2\n");
    fprintf(f, "Nov 25 10:00:04 host sshd[2]: Accepted publickey for after from 9.9.9.9 port 3 ssh2\n");
    fclose(f);
    long i = sink_wait(is_auth_user, "carol", 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].proc.pid, 200);
    i = sink_wait(is_auth_user, "dave", 3000);
    assert_true(i >= 0);
    char b[64];
    assert_string_equal(sink_extra(&sink_recs[i], "result", b, sizeof(b)), "failure");
    assert_true(sink_wait(is_auth_user, "after", 3000) >= 0);

    /* rotation: the file is renamed and a new one written */
    assert_int_equal(rename(path, old), 0);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "Nov 25 10:01:00 host sshd[5]: Invalid user rotated from 4.4.4.4\n");
    fclose(f);
    assert_true(sink_wait(is_auth_user, "rotated", 3000) >= 0);
    char desc[512] = "";
    agent_collector_auth.describe(NULL, st, desc, sizeof(desc));
    assert_non_null(strstr(desc, "rotations 1"));
    assert_non_null(strstr(desc, "long lines cut 1"));
    agent_collector_auth.stop(NULL, st);
    unlink(path);
    unlink(old);
    rmdir(dir);
    sink_reset();
}

static void
test_probe_and_journal(void **state)
{
    (void)state;
    struct bn_diag d;
    bn_diag_clear(&d);
    int rc = agent_collector_auth.probe(NULL, &d);
    if (rc < 0) {
        assert_non_null(strstr(d.msg, "auth"));
        fprintf(stderr, "auth probe: %s\n", d.msg);
    }
    if (access("/run/systemd/journal/socket", F_OK) != 0) {
        fprintf(stderr, "skipping journald round trip: journald is not running here\n");
        skip();
    }
    sink_reset();
    void *st = NULL;
    assert_int_equal(agent_collector_auth.start(NULL, &st, &d), 0);
    usleep(300 * 1000);
    pid_t c = fork();
    if (c == 0) {
        execl("/usr/bin/logger", "logger", "-t", "sudo",
              "bnjournaluser : 1 incorrect password attempt ; TTY=pts/9 ; PWD=/ ; USER=root ; "
              "COMMAND=/bin/true",
              (char *)NULL);
        _exit(127);
    }
    int ws;
    waitpid(c, &ws, 0);
    long i = sink_wait(is_auth_user, "bnjournaluser", 5000);
    agent_collector_auth.stop(NULL, st);
    assert_true(i >= 0);
    sink_reset();
}

/*
 * The log text rides along as "message" (keyword rules such as "incorrect password attempt"
 * or "user NOT in sudoers" match on it), in the JSON line too; it is cut at AUTH_LINE_MAX
 * (8192 bytes), not at the token limit.
 */
static void
test_message(void **state)
{
    (void)state;
    struct agent_event ev;
    const char *line = "alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; "
                       "USER=root ; COMMAND=/usr/bin/cat /etc/shadow";
    char padded[256];
    snprintf(padded, sizeof(padded), "   %s", line);
    assert_int_equal(agent_auth_parse("sudo", 77, padded, &ev), 0);
    assert_string_equal(ex(&ev, "message"), line);
    assert_string_equal(ex(&ev, "program"), "sudo");
    struct bn_buf b;
    bn_buf_init(&b, 1 << 20);
    assert_int_equal(agent_event_to_json(&ev, &b), 0);
    assert_non_null(strstr(b.p, "\"message\":\"alice : 3 incorrect password attempts ; "));
    assert_non_null(strstr(b.p, "\"program\":\"sudo\""));
    bn_buf_release(&b);
    agent_auth_event_release(&ev);

    assert_int_equal(agent_auth_parse("sshd", 0, "Failed password for invalid user admin "
                                                 "from 203.0.113.9 port 50022 ssh2", &ev), 0);
    assert_string_equal(ex(&ev, "message"),
                        "Failed password for invalid user admin from 203.0.113.9 port 50022 ssh2");
    agent_auth_event_release(&ev);

    /* a 20 KB sudo command: the command extra keeps it whole, message is cut at 8192 */
    size_t n = 20000;
    char *big = bn_malloc(n + 1);
    assert_non_null(big);
    int h = snprintf(big, n + 1, "mallory : user NOT in sudoers ; TTY=pts/2 ; PWD=/ ; "
                                 "USER=root ; COMMAND=/bin/echo ");
    memset(big + h, 'x', n - (size_t)h);
    big[n] = '\0';
    assert_int_equal(agent_auth_parse("sudo", 5, big, &ev), 0);
    assert_int_equal(strlen(ex(&ev, "message")), 8192);
    assert_memory_equal(ex(&ev, "message"), big, 8192);
    assert_string_equal(ex(&ev, "reason"), "user NOT in sudoers");
    agent_auth_event_release(&ev);
    bn_free(big);

    /* declined lines carry nothing */
    declined("sudo", "pam_unix(sudo:session): session closed for user root");
}

/* ---- the syslog socket source ---- */

/* Splits a copy of text (len bytes, or strlen) and checks ident, pid, host, facility, msg. */
static void
split_ok(const char *text, size_t len, const char *ident, pid_t pid, const char *host,
         int facility, int severity, const char *msg)
{
    if (len == 0)
        len = strlen(text);
    char *b = malloc(len + 1);
    assert_non_null(b);
    memcpy(b, text, len);
    struct agent_syslog_msg m;
    int rc = agent_syslog_split(b, len, &m);
    if (rc != 0)
        fail_msg("'%s' refused: %s", text, m.why);
    assert_string_equal(m.ident, ident);
    assert_int_equal(m.pid, pid);
    assert_string_equal(m.host, host);
    assert_int_equal(m.facility, facility);
    assert_int_equal(m.severity, severity);
    assert_string_equal(m.msg, msg);
    free(b);
}

static void
split_bad(const char *text, const char *why_part)
{
    size_t len = strlen(text);
    char *b = malloc(len + 1);
    assert_non_null(b);
    memcpy(b, text, len);
    struct agent_syslog_msg m;
    assert_int_equal(agent_syslog_split(b, len, &m), BN_EFORMAT);
    assert_non_null(m.why);
    if (!strstr(m.why, why_part))
        fail_msg("'%s': reason '%s' does not say '%s'", text, m.why, why_part);
    free(b);
}

static void
test_syslog_split(void **state)
{
    (void)state;
    /* as glibc's syslog() sends them (captured from sudo 1.9.13p3 on Debian 12): no host */
    split_ok("<81>Nov 26 03:05:29 sudo:   nobody : user NOT in sudoers ; PWD=/work/main ; "
             "USER=root ; COMMAND=/usr/bin/true",
             0, "sudo", 0, "", 10, 1,
             "  nobody : user NOT in sudoers ; PWD=/work/main ; USER=root ; COMMAND=/usr/bin/true");
    split_ok("<83>Nov 26 03:05:29 sudo: pam_unix(sudo:auth): conversation failed", 0, "sudo", 0,
             "", 10, 3, "pam_unix(sudo:auth): conversation failed");
    split_ok("<38>Nov  6 10:00:00 sshd[812]: Failed password for root from ::1 port 5 ssh2", 0,
             "sshd", 812, "", 4, 6, "Failed password for root from ::1 port 5 ssh2");
    /* with a host (logger --rfc3164, relays), an ISO stamp, no PRI, trailing NUL / LF */
    split_ok("<13>Nov 26 03:09:10 vm sudo[26451]: z : a", 0, "sudo", 26451, "vm", 1, 5, "z : a");
    split_ok("<86>2026-11-26T03:05:29.5+01:00 h su[3]: FAILED SU (to root) d on pts/3\n", 0,
             "su", 3, "h", 10, 6, "FAILED SU (to root) d on pts/3");
    split_ok("login[9]: ROOT LOGIN  on '/dev/tty1'", 0, "login", 9, "", 1, 5,
             "ROOT LOGIN  on '/dev/tty1'");
    split_ok("<86>Nov 26 03:05:29 sshd(pam_unix)[7]: x\0\0", 29 + 13, "sshd(pam_unix)", 7, "",
             10, 6, "x");
    /* a NUL inside is shown as a blank, not a silent cut */
    split_ok("<86>Nov 26 03:05:29 su: a\0b", 28, "su", 0, "", 10, 6, "a b");
    /* RFC 5424 (logger --rfc5424): structured data with escapes skipped, BOM removed */
    split_ok("<81>1 2026-11-26T03:09:10.326972+00:00 vm sudo - - [timeQuality tzKnown=\"1\" "
             "isSynced=\"0\"] y : a",
             0, "sudo", 0, "vm", 10, 1, "y : a");
    split_ok("<86>1 2026-11-26T03:05:29Z - sshd 4242 ID47 [a@1 x=\"q\\]\\\"z\"][b@2] "
             "\xef\xbb\xbf" "Accepted publickey for al from 10.0.0.1 port 2 ssh2",
             0, "sshd", 4242, "", 10, 6, "Accepted publickey for al from 10.0.0.1 port 2 ssh2");
    split_ok("<86>1 - - login - - -", 0, "login", 0, "", 10, 6, "");
    /* refused, each with its reason */
    split_bad("", "empty");
    split_bad("\n\0", "empty");
    split_bad("<999>Nov 26 03:05:29 x: y", "PRI");
    split_bad("<>x: y", "PRI");
    split_bad("<12", "PRI");
    split_bad("<14>Nov 26 03:05:29 no tag here at all", "tag");
    split_bad("<14>Nov 26 03:05:29 ", "tag");
    split_bad("<14>1 2026-11-26T03:05:29Z host", "RFC 5424");
    split_bad("<14>1 2026-11-26T03:05:29Z host - - - x", "APP-NAME");
    split_bad("<14>1 2026-11-26T03:05:29Z host app - - [unclosed x=\"]", "not closed");
    split_bad("<14>1 - - app - - x", "structured data");
    char tag[200];
    memset(tag, 'i', 100);
    memcpy(tag + 100, ": m", 4);
    split_bad(tag, "tag"); /* a 100-byte ident */
    split_bad("<14>Nov 26 03:05:29 h sudo[12x]: m", "tag");
    split_bad("<14>Nov 26 03:05:29 h sudo[99999999999]: m", "tag");
    struct agent_syslog_msg m;
    assert_int_equal(agent_syslog_split(NULL, 0, &m), BN_EFORMAT);
}

/* Real sudo 1.9 lines (and OpenSSH 9.8's sshd-session), as the socket source gets them. */
static void
test_sudo_real(void **state)
{
    (void)state;
    expect("sudo", "  nobody : user NOT in sudoers ; PWD=/work/main ; USER=root ; "
                   "COMMAND=/usr/bin/true",
           (const char *[]){"result", "failure", "user", "nobody", "target_user", "root",
                            "reason", "user NOT in sudoers", "cwd", "/work/main", "command",
                            "/usr/bin/true", "tty", NULL, "service", "sudo", "program", "sudo",
                            NULL});
    expect("sudo", "   alice : a password is required ; TTY=pts/0 ; PWD=/home/alice ; "
                   "USER=root ; COMMAND=/usr/bin/id",
           (const char *[]){"result", "failure", "user", "alice", "reason",
                            "a password is required", "tty", "pts/0", "command", "/usr/bin/id",
                            NULL});
    expect("sudo", "   alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; "
                   "USER=root ; COMMAND=/usr/bin/apt update",
           (const char *[]){"result", "failure", "reason", "3 incorrect password attempts",
                            "command", "/usr/bin/apt update", "service", "sudo", NULL});
    expect("sudo", "  bob : 1 incorrect password attempt ; TTY=pts/1 ; PWD=/ ; USER=www-data ; "
                   "COMMAND=/bin/ls",
           (const char *[]){"result", "failure", "target_user", "www-data", NULL});
    expect("sudo", "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 "
                   "tty=/dev/pts/0 ruser=alice rhost=  user=alice",
           (const char *[]){"result", "failure", "user", "alice", "reason",
                            "authentication failure", "method", "pam", NULL});
    expect("sudo", "    root : PWD=/root ; USER=postgres ; COMMAND=/usr/bin/psql",
           (const char *[]){"result", "success", "user", "root", "target_user", "postgres",
                            "command", "/usr/bin/psql", "method", "sudo", NULL});
    expect("sshd-session", "Failed password for root from 192.0.2.7 port 4711 ssh2",
           (const char *[]){"result", "failure", "program", "sshd", "service", "sshd", NULL});
    declined("sudo", "pam_unix(sudo:auth): conversation failed");
    declined("sudo", "pam_unix(sudo:auth): auth could not identify password for [nobody]");
    declined("sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)");
}

static bool
is_status(const struct sink_rec *r, const void *arg)
{
    char b[1024];
    return r->kind == AGENT_EV_STATUS && sink_extra(r, "status", b, sizeof(b)) &&
           strcmp(b, (const char *)arg) == 0;
}

/* A status event whose extras hold arg's text after the '|' and whose status is before it. */
static bool
is_status_with(const struct sink_rec *r, const void *arg)
{
    const char *a = arg, *bar = strchr(a, '|');
    char b[1024];
    return r->kind == AGENT_EV_STATUS && sink_extra(r, "status", b, sizeof(b)) &&
           strlen(b) == (size_t)(bar - a) && strncmp(b, a, (size_t)(bar - a)) == 0 &&
           strstr(r->extras, bar + 1);
}

/* Sends one datagram to path; 0 or -errno. */
static int
send_dgram(const char *path, const void *data, size_t len)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    return n == (ssize_t)len ? 0 : -e;
}

static void
run_wait(char *const argv[])
{
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int ws;
    assert_int_equal(waitpid(c, &ws, 0), c);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
}

static void
test_socket_source(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn_authsock_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[96], b[256];
    assert_int_equal(chmod(dir, 0755), 0); /* user nobody sends to it below */
    snprintf(path, sizeof(path), "%s/log", dir);
    struct agent_auth_conf conf = {.source = AGENT_AUTH_SOCKET, .socket_path = path};
    struct bn_diag d;
    bn_diag_clear(&d);
    void *st = NULL;
    sink_reset();

    /* something that is not a socket at the path is left alone */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), BN_EEXIST);
    assert_non_null(strstr(d.msg, "not a socket"));
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
    /* a live receiver is not taken over */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int other = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
    bn_diag_clear(&d);
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), BN_EEXIST);
    assert_non_null(strstr(d.msg, "another process"));
    /* ... but a dead one (its receiver gone, e.g. an agent killed with -9) is replaced */
    close(other);
    bn_diag_clear(&d);
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), 0);
    long i = sink_wait(is_status, "auth_source", 2000);
    assert_true(i >= 0);
    assert_non_null(strstr(sink_recs[i].extras, "dead socket"));
    struct stat sst;
    assert_int_equal(stat(path, &sst), 0);
    assert_true(S_ISSOCK(sst.st_mode));
    assert_int_equal(sst.st_mode & 0777, 0666);

    /* 1. glibc's format, sent by util-linux logger (the same local header as syslog()) */
    if (access("/usr/bin/logger", X_OK) == 0) {
        run_wait((char *const[]){"/usr/bin/logger", "-u", path, "-t", "sudo", "-p",
                                 "authpriv.alert",
                                 "  bnsockuser : user NOT in sudoers ; PWD=/ ; USER=root ; "
                                 "COMMAND=/usr/bin/true",
                                 NULL});
        run_wait((char *const[]){"/usr/bin/logger", "-u", path, "--rfc5424", "-t", "sshd",
                                 "-p", "auth.info",
                                 "Failed password for bn5424 from 198.51.100.4 port 22 ssh2",
                                 NULL});
        i = sink_wait(is_auth_user, "bnsockuser", 3000);
        assert_true(i >= 0);
        assert_string_equal(sink_extra(&sink_recs[i], "result", b, sizeof(b)), "failure");
        assert_string_equal(sink_extra(&sink_recs[i], "target_user", b, sizeof(b)), "root");
        assert_string_equal(sink_extra(&sink_recs[i], "service", b, sizeof(b)), "sudo");
        assert_string_equal(sink_extra(&sink_recs[i], "sender_uid", b, sizeof(b)), "0");
        assert_true(sink_recs[i].proc.pid > 0 && sink_recs[i].proc.pid != getpid());
        i = sink_wait(is_auth_user, "bn5424", 3000);
        assert_true(i >= 0);
        assert_string_equal(sink_extra(&sink_recs[i], "source_ip", b, sizeof(b)),
                            "198.51.100.4");
    } else {
        fprintf(stderr, "no /usr/bin/logger: the logger round trip is not run\n");
    }
    /* 2. by hand: the pid the line claims vs the kernel's */
    const char *l = "<85>Nov 26 03:05:29 su[1]: FAILED SU (to root) bnclaim on pts/9";
    assert_int_equal(send_dgram(path, l, strlen(l)), 0);
    i = sink_wait(is_auth_user, "bnclaim", 3000);
    assert_true(i >= 0);
    assert_int_equal(sink_recs[i].proc.pid, getpid());
    assert_string_equal(sink_extra(&sink_recs[i], "claimed_pid", b, sizeof(b)), "1");
    /* 3. another user forging a sudo line for someone else is flagged */
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(3);
        const char *f2 = "<81>Nov 26 03:05:29 sudo: bnforged : TTY=pts/0 ; PWD=/ ; USER=root ; "
                         "COMMAND=/bin/sh";
        _exit(send_dgram(path, f2, strlen(f2)) == 0 ? 0 : 4);
    }
    int ws;
    assert_int_equal(waitpid(c, &ws, 0), c);
    bool forged = getuid() == 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    if (forged) {
        i = sink_wait(is_auth_user, "bnforged", 3000);
        assert_true(i >= 0);
        assert_string_equal(sink_extra(&sink_recs[i], "sender_uid", b, sizeof(b)), "65534");
        assert_string_equal(sink_extra(&sink_recs[i], "sender_mismatch", b, sizeof(b)), "true");
    }
    /* 4. not auth (counted), malformed (counted, with the reason), oversized (cut, counted) */
    l = "<30>Nov 26 03:05:29 cron[5]: (root) CMD (true)";
    assert_int_equal(send_dgram(path, l, strlen(l)), 0);
    assert_int_equal(send_dgram(path, "<999>x", 6), 0);
    size_t big = 70000;
    char *bb = malloc(big);
    assert_non_null(bb);
    int h = snprintf(bb, big, "<38>Nov 26 03:05:29 sshd[77]: Failed password for bnbig from "
                              "1.2.3.4 port 1 ssh2 ");
    memset(bb + h, 'p', big - (size_t)h);
    assert_int_equal(send_dgram(path, bb, big), 0);
    free(bb);
    i = sink_wait(is_auth_user, "bnbig", 3000);
    assert_true(i >= 0);
    char desc[1024] = "";
    for (int k = 0; k < 100; k++) {
        desc[0] = '\0';
        agent_collector_auth.describe(NULL, st, desc, sizeof(desc));
        if (strstr(desc, "not auth 1,"))
            break;
        usleep(20 * 1000);
    }
    fprintf(stderr, "%s", desc);
    assert_non_null(strstr(desc, "malformed 1 (last: bad <PRI>"));
    assert_non_null(strstr(desc, "not auth 1,"));
    assert_non_null(strstr(desc, "long lines cut 1"));
    assert_non_null(strstr(desc, forged ? "sender mismatches 1" : "sender mismatches 0"));

    /* the malformed one is said in a status event too (at most one a minute) */
    i = sink_wait(is_status_with, "auth_malformed|1 malformed syslog datagrams", 3000);
    assert_true(i >= 0);
    assert_non_null(strstr(sink_recs[i].extras, "bad <PRI>"));
    struct agent_auth_stats as;
    agent_auth_stats(st, &as);
    assert_int_equal(as.malformed, 1);
    assert_int_equal(as.other, 1);
    assert_int_equal(as.long_lines, 1);
    assert_true(as.datagrams >= 5 && as.events >= 3 && as.events == as.lines);
    agent_auth_stats(NULL, &as);
    assert_int_equal(as.datagrams, 0);

    /* 5. removed by someone: bound again; replaced by another receiver: said, and left */
    unlink(path);
    i = sink_wait(is_status_with, "auth_source|was removed by someone; bound again", 8000);
    assert_true(i >= 0);
    assert_int_equal(access(path, F_OK), 0);
    l = "<85>Nov 26 03:05:29 su: FAILED SU (to root) bnrebound on pts/9";
    assert_int_equal(send_dgram(path, l, strlen(l)), 0);
    assert_true(sink_wait(is_auth_user, "bnrebound", 3000) >= 0);
    unlink(path);
    other = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
    i = sink_wait(is_status, "degraded", 5000);
    assert_true(i >= 0);
    assert_non_null(strstr(sink_recs[i].extras, "replaced by another process"));
    agent_collector_auth.stop(NULL, st);
    /* the last word: what the socket got, drops included */
    i = sink_wait(is_status_with, "auth_source|closing", 10);
    assert_true(i >= 0);
    assert_non_null(strstr(sink_recs[i].extras, "malformed 1 (last: bad <PRI>"));
    assert_non_null(strstr(sink_recs[i].extras, "not auth 1, cut 1"));
    /* not ours any more: left in place */
    assert_int_equal(access(path, F_OK), 0);
    close(other);
    unlink(path);

    /* stop removes our own socket */
    bn_diag_clear(&d);
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), 0);
    assert_int_equal(access(path, F_OK), 0);
    agent_collector_auth.stop(NULL, st);
    assert_int_equal(access(path, F_OK), -1);
    rmdir(dir);
    sink_reset();
}

/* auto: journald, else the file, else the socket (when auto_bind), else an error that says so */
static void
test_auto_source(void **state)
{
    (void)state;
    char dir[] = "/tmp/bn_authauto_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char log[96], sock[96];
    snprintf(log, sizeof(log), "%s/auth.log", dir);
    snprintf(sock, sizeof(sock), "%s/log", dir);
    struct agent_auth_conf conf = {.source = AGENT_AUTH_AUTO, .log_path = log,
                                   .socket_path = sock, .auto_bind = false};
    struct bn_diag d;
    bn_diag_clear(&d);
    void *st = NULL;
    if (access("/run/systemd/journal/socket", F_OK) == 0) {
        fprintf(stderr, "skipping: journald runs here, auto would use it\n");
        rmdir(dir);
        skip();
    }
    sink_reset();
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), BN_EUNSUP);
    assert_non_null(strstr(d.msg, "auth.auto_bind is off"));
    conf.auto_bind = true;
    bn_diag_clear(&d);
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), 0);
    char desc[1024] = "";
    agent_collector_auth.describe(NULL, st, desc, sizeof(desc));
    assert_non_null(strstr(desc, sock));
    long i = sink_wait(is_status, "auth_source", 2000);
    assert_true(i >= 0);
    assert_non_null(strstr(sink_recs[i].extras, "nothing was bound"));
    agent_collector_auth.stop(NULL, st);
    assert_int_equal(access(sock, F_OK), -1);
    /* a readable file wins over the socket */
    FILE *f = fopen(log, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(agent_auth_start_conf(NULL, &conf, &st, &d), 0);
    desc[0] = '\0';
    agent_collector_auth.describe(NULL, st, desc, sizeof(desc));
    assert_non_null(strstr(desc, log));
    assert_int_equal(access(sock, F_OK), -1);
    agent_collector_auth.stop(NULL, st);
    unlink(log);
    rmdir(dir);
    sink_reset();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sshd),
        cmocka_unit_test(test_sudo_su_login),
        cmocka_unit_test(test_message),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_loghub_openssh),
        cmocka_unit_test(test_loghub_linux),
        cmocka_unit_test(test_tail_file),
        cmocka_unit_test(test_probe_and_journal),
        cmocka_unit_test(test_syslog_split),
        cmocka_unit_test(test_sudo_real),
        cmocka_unit_test(test_socket_source),
        cmocka_unit_test(test_auto_source),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sink_done();
    return rc;
}
