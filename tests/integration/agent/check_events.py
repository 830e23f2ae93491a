#!/usr/bin/env python3
"""check_events.py TIER EVENTS.ndjson FACTS.jsonl - check bannin-agent's NDJSON against
the workload of test_agent_events.sh (FACTS: one JSON object per step, with the pids and
ports that really happened) and against what TIER promises in docs/AGENT.md.

Prints one line per check; exits 1 if any check failed."""
import json
import os
import sys

tier, events_path, facts_path = sys.argv[1:4]
events = []
bad_lines = 0
with open(events_path, encoding="utf-8", errors="strict") as f:
    for line in f:
        try:
            events.append(json.loads(line))
        except ValueError:
            bad_lines += 1
facts = {}
with open(facts_path) as f:
    for line in f:
        o = json.loads(line)
        facts[o["what"]] = o

failed = 0


def check(ok, what, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + detail))
    if not ok:
        failed += 1
    return ok


def ev(eid, **kw):
    return [e for e in events if e.get("EventID") == eid and all(e.get(k) == v for k, v in kw.items())]


def show(es):
    return "; ".join(json.dumps(e)[:400] for e in es[:3]) or "none"


check(bad_lines == 0, "every line is JSON", "%d bad lines" % bad_lines)
check(all(e.get("bannin.tier") == tier for e in events), "every event names tier " + tier,
      show([e for e in events if e.get("bannin.tier") != tier]))
st = [e.get("status") for e in ev(130)]
check("started" in st and "stopping" in st, "status started and stopping", str(st[:10]))
# Never silent about where auth outcomes come from: at tiers 1 and 2 the agent either says
# it bound a syslog socket itself ("auth_source") or that it has no auth source ("degraded").
if tier in ("bpf", "netlink"):
    check(any("auth" in (e.get("detail") or "") for e in ev(130, status="degraded") + ev(130, status="auth_source")),
          "auth source (or its absence) reported in a status event", str(st))

# 1. short-lived /bin/echo with 40 arguments
f = facts["echo"]
es = ev(1, ProcessId=f["pid"])
if tier == "bpf":
    if check(len(es) == 1, "echo: one exec event for pid %d" % f["pid"], show(es)):
        e = es[0]
        check(e.get("CommandLine") == f["cmdline"], "echo: full argv (40 arguments)",
              repr(e.get("CommandLine")))
        check(e.get("Image", "").endswith("/echo"), "echo: Image", e.get("Image", ""))
        check(e.get("ParentProcessId") == f["shell"] and e.get("ParentImage", "").endswith("/bash"),
              "echo: parent is the test shell", show(es))
        check(not e.get("bannin.truncated"), "echo: not truncated")
        # the exec record carries the working directory: there even though echo is gone
        # before the agent could read /proc/<pid>/cwd
        check(e.get("CurrentDirectory") == os.path.realpath(f["cwd"]), "echo: CurrentDirectory",
              "%r, want %r" % (e.get("CurrentDirectory"), f["cwd"]))
    ex = ev(5, ProcessId=f["pid"])
    check(len(ex) == 1 and ex[0].get("bannin.ExitCode") == 0, "echo: exit with code 0", show(ex))
    # the working directory walked across a mount, from inside it and from its root
    f = facts["mnt_cwd"]
    for pid, cwd in zip(f["pids"], f["cwds"]):
        es = ev(1, ProcessId=pid)
        check(len(es) == 1 and es[0].get("CurrentDirectory") == cwd,
              "CurrentDirectory across a mount (%s)" % cwd, show(es))
elif tier == "netlink":
    if check(len(es) == 1, "echo: one exec event for pid %d" % f["pid"], show(es)):
        e = es[0]
        gone = e.get("proc_gone") not in (None, "", False, "false")
        full = e.get("CommandLine") == f["cmdline"]
        check(full or gone, "echo: full argv or flagged proc_gone",
              repr(e.get("CommandLine")))
        print("info echo: argv %s" % ("kept" if full else "lost, proc_gone"))
        check(e.get("ParentProcessId") == f["shell"], "echo: parent pid is the test shell", show(es))
    ex = ev(5, ProcessId=f["pid"])
    check(len(ex) == 1, "echo: exit event", show(ex))
else:
    # Tier 3 polls /proc every second: a process this short may be missed; if seen, right.
    for e in es:
        check(e.get("CommandLine") in (f["cmdline"], "", None), "echo (seen by the poller): argv",
              repr(e.get("CommandLine")))
    print("info echo: %s by the poller" % ("seen" if es else "not seen (allowed)"))

# 2. three-deep chain: outer sh -> inner sh -> sleep
f = facts["chain"]
outer = ev(1, ProcessId=f["pid"])
if check(len(outer) == 1, "chain: outer sh exec", show(outer)):
    o = outer[0]
    check(f["marker"] in o.get("CommandLine", "") and o.get("ParentProcessId") == f["shell"],
          "chain: outer command line and parent", show(outer))
    inner = [e for e in ev(1, ParentProcessGuid=o["ProcessGuid"])
             if f["marker"] in e.get("CommandLine", "")]
    if check(len(inner) == 1, "chain: inner sh linked by ParentProcessGuid", show(ev(1, ParentProcessId=o["ProcessId"]))):
        i = inner[0]
        check(i.get("ParentProcessId") == o["ProcessId"] and i.get("ParentImage") == o["Image"]
              and i.get("ParentCommandLine") == o["CommandLine"],
              "chain: inner ParentProcessId/ParentImage/ParentCommandLine", show(inner))
        check(i.get("CommandLine") == "sh -c sleep %s && : %s" % (f["nap"], f["marker"]),
              "chain: inner command line", repr(i.get("CommandLine")))
        sl = ev(1, ParentProcessGuid=i["ProcessGuid"])
        if check(len(sl) == 1, "chain: sleep linked to inner sh", show(ev(1, ParentProcessId=i["ProcessId"]))):
            s = sl[0]
            check(s.get("CommandLine") == "sleep " + f["nap"] and s.get("Image", "").endswith("/sleep"),
                  "chain: sleep command line and Image", show(sl))
            check(s.get("ParentImage") == i["Image"] and s.get("ParentCommandLine") == i["CommandLine"]
                  and s.get("ParentProcessId") == i["ProcessId"],
                  "chain: sleep ParentImage/ParentCommandLine", show(sl))

# 3. TCP over loopback
srv, cli = facts["tcp_server"], facts["tcp_client"]
port, cport = srv["port"], cli["local_port"]
if tier == "bpf":
    ls = [e for e in ev(3, ProcessId=srv["pid"]) if e.get("bannin.Listen")]
    check(len(ls) == 1 and ls[0].get("SourcePort") == port and ls[0].get("SourceIp") == "127.0.0.1",
          "tcp: listen by the server pid on its port", show(ev(3, ProcessId=srv["pid"])))
    co = ev(3, ProcessId=cli["pid"], Initiated="true", DestinationPort=port)
    ok = check(len(co) == 1, "tcp: connect by the client pid", show(ev(3, ProcessId=cli["pid"])))
    if ok:
        c = co[0]
        check(c.get("SourceIp") == "127.0.0.1" and c.get("DestinationIp") == "127.0.0.1"
              and c.get("SourcePort") == cport and c.get("Protocol") == "tcp",
              "tcp: connect 5-tuple", show(co))
    ac = [e for e in ev(3, ProcessId=srv["pid"], Initiated="false") if not e.get("bannin.Listen")]
    if check(len(ac) == 1, "tcp: accept attributed to the server pid", show(ev(3, ProcessId=srv["pid"]))):
        a = ac[0]
        check(a.get("SourcePort") == cport and a.get("DestinationPort") == port,
              "tcp: accept ports", show(ac))
        if ok:
            cid = co[0].get("CommunityId", "")
            check(cid.startswith("1:") and a.get("CommunityId") == cid,
                  "tcp: both ends carry the same Community ID", cid + " vs " + a.get("CommunityId", ""))
elif tier == "poll":
    # /proc/net/tcp: the client's socket (held 2.5 s) with its owner found through /proc/<pid>/fd.
    mine = [e for e in ev(3) if port in (e.get("SourcePort"), e.get("DestinationPort"))]
    co = [e for e in mine if e.get("ProcessId") == cli["pid"]]
    check(len(co) >= 1 and any(e.get("DestinationPort") == port and e.get("SourcePort") == cport for e in co),
          "tcp: client socket seen by the poller with its pid", show(mine))
    sv = [e for e in mine if e.get("ProcessId") == srv["pid"]]
    check(len(sv) >= 1, "tcp: server socket seen by the poller with its pid", show(mine))
else:
    print("info tcp: tier 2 has no network collector (docs/AGENT.md)")

# 4. files
f = facts["files"]
a, b = f["created"], f["renamed"]
if tier in ("bpf", "netlink"):
    pid = f["pid"]
    cr = ev(11, TargetFilename=a)
    check(len(cr) >= 1 and all(e.get("ProcessId") == pid for e in cr), "files: create with the acting pid", show(cr))
    wr = ev(100, TargetFilename=a)
    check(len(wr) >= 2 and all(e.get("ProcessId") == pid for e in wr),
          "files: two close-after-write (create, append) with the pid", show(wr))
    rn = ev(101, TargetFilename=b)
    check(len(rn) == 1 and rn[0].get("SourceFilename") == a and rn[0].get("ProcessId") == pid,
          "files: rename source/target with the pid", show(rn))
    de = ev(23, TargetFilename=b)
    check(len(de) == 1 and de[0].get("ProcessId") == pid, "files: delete with the pid", show(de))
else:
    fe = [e for e in events if e.get("TargetFilename") in (a, b)]
    check(not fe, "files: tier 3 has no file events", show(fe))

# 5. persistence (written by the test shell itself)
f = facts["persist"]
if tier in ("bpf", "netlink"):
    for path, cat in ((f["cron"], "persistence.cron"), (f["keys"], "persistence.authorized_keys")):
        es = [e for e in events if e.get("EventID") in (11, 100) and e.get("TargetFilename") == path]
        check(len(es) >= 1 and all(e.get("bannin.category") == cat and e.get("ProcessId") == f["pid"] for e in es),
              "persistence: %s -> %s by the shell" % (path, cat), show(es))

# 6. module load attempt
f = facts["module"]
es = ev(120, ProcessId=f["pid"])
if tier == "bpf" and os.environ.get("BN_MODULE_SEEN", "1") == "0":
    check(f["result"] == -1, "module: finit_module failed as it should (errno %d)" % f["errno"])
    print("info module: this kernel has no finit_module tracepoint; the tracepoint path "
          "cannot see the attempt (%d events; the raw run checks it)" % len(es))
elif tier == "bpf":
    check(f["result"] == -1, "module: finit_module failed as it should (errno %d)" % f["errno"])
    if check(len(es) == 1 and es[0].get("syscall") == "313"
             and es[0].get("bannin.category") == "persistence.kernel_module",
             "module: the failed attempt is reported (EventID 120, syscall, category)", show(ev(120))):
        # The module file is named from /proc/<pid>/fd/<fd> by the collector after the
        # fact: a loader that closes the fd or exits at once can beat it (known gap, about
        # 1 run in 5 here). When a name is there it must be the right one.
        name = es[0].get("TargetFilename")
        if name is None:
            print("info module: file name not resolved (fd closed before the collector read it)")
        else:
            check(name.endswith("/not-a-module.ko"), "module: the file loaded", name)
else:
    check(not es, "module: not a tier-%s event" % tier, show(es))

# 7. failed sudo as nobody (sudo logs "nobody : user NOT in sudoers ; ..." with syslog())
f = facts["sudo"]
if f["mode"] == "skip":
    print("info sudo: step skipped (see the note above)")
else:
    if f["mode"] == "socket":
        bound = [e for e in ev(130, status="auth_source") if "'/dev/log', bound by the agent" in (e.get("detail") or "")]
        check(len(bound) == 1, "sudo: the agent says it bound /dev/log itself", show(ev(130)))
    es = [e for e in ev(110) if e.get("user") == f["user"] and e.get("logsource.service") == "sudo"]
    if check(len(es) >= 1, "sudo: the failed sudo of %s is an auth event" % f["user"], show(ev(110))):
        e = [x for x in es if x.get("reason") == "user NOT in sudoers"] or es
        e = e[0]
        check(e.get("result") == "failure" and e.get("target_user") == "root"
              and e.get("reason") == "user NOT in sudoers" and e.get("command") == "/usr/bin/true"
              and e.get("program") == "sudo" and "user NOT in sudoers" in (e.get("message") or ""),
              "sudo: result failure, target root, reason, command, message", json.dumps(e))
        if f["mode"] == "socket":
            # the socket source carries the kernel's view of the sender: sudo's pid, real uid
            check(e.get("ProcessId") == f["pid"] and e.get("sender_uid") == str(f["uid"])
                  and "sender_mismatch" not in e,
                  "sudo: sender pid %d and uid %d from the kernel" % (f["pid"], f["uid"]), json.dumps(e))
    if f.get("rules"):
        al = [e for e in ev(140) if "sudo" in json.dumps(e).lower()]
        check(any("2f696847-9725-4cba-87d1-532c39f3bb31" in json.dumps(e) for e in al),
              "sudo: rule lnx_sudo_auth_failure fired", show(al or ev(140)))

print("%s: %d events, %d checks failed" % (tier, len(events), failed))
sys.exit(1 if failed else 0)
