#!/usr/bin/env python3
"""check_rules.py EVENTS.ndjson FACTS.jsonl - check the local alerts (EventID 140) of
test_agent_rules.sh.

FACTS lines: {"what":"attack","pid":P,"want":[[title, text], ...]} - every title must
fire on a process of the attack phase (P itself or a descendant: P in the alert's
ancestry), on a trigger event whose NDJSON contains text; {"what":"benign","pid":B} - no
alert of level medium or above on B or its descendants.
Alerts of other processes on the host (other tests, builds) are counted, not judged.
Exits 1 if any check failed."""
import json
import sys

events_path, facts_path = sys.argv[1:3]
alerts = []
with open(events_path, encoding="utf-8") as f:
    for line in f:
        e = json.loads(line)
        if e.get("EventID") == 140:
            alerts.append(e)
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


def nested(v, empty):
    """Alerts carry trigger and ancestry as JSON objects (older agents: as JSON text)."""
    if v is None:
        return empty
    return json.loads(v) if isinstance(v, str) else v


def pids(a):
    try:
        anc = nested(a.get("ancestry"), [])
    except ValueError:
        anc = []
    return [a.get("ProcessId")] + [x.get("ProcessId") for x in anc if isinstance(x, dict)]


def line(a):
    return "%s [%s] pid %s %s: %s" % (a.get("rule_title"), a.get("rule_level"), a.get("ProcessId"),
                                      a.get("Image"), (a.get("CommandLine") or "")[:160])


def under(pid):
    return [a for a in alerts if pid in pids(a)]


# Every alert is well formed: rule fields, the trigger as JSON text of the kind it names
# (trigger_kind is written as a string, "1", while EventID is a number), the ancestry as a
# JSON array.
malformed = []
for a in alerts:
    try:
        t = nested(a["trigger"], {})
        anc = nested(a["ancestry"], [])
        if not isinstance(t, dict):
            raise TypeError("trigger is not an object")
        ok = (a.get("rule_id") and a.get("rule_title") and a.get("rule_level")
              and str(t.get("EventID")) == str(a.get("trigger_kind")) and isinstance(anc, list))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        malformed.append(a)
check(not malformed, "every alert carries rule_id/title/level, its trigger and ancestry",
      "; ".join(json.dumps(a)[:300] for a in malformed[:3]))

att = facts["attack"]
mine = under(att["pid"])
print("attack phase: %d alerts on its processes" % len(mine))
for a in mine:
    print("  " + line(a))
for title, text in att["want"]:
    hits = [a for a in mine if a.get("rule_title") == title
            and text in json.dumps(nested(a.get("trigger"), {}), ensure_ascii=False, separators=(",", ":"))]
    check(bool(hits), "attack: '%s' fired (trigger with %r)" % (title, text),
          "alerts with that title: " + "; ".join(line(a) for a in alerts if a.get("rule_title") == title)[:600])

ben = facts["benign"]
bad_levels = ("medium", "high", "critical")
bmine = under(ben["pid"])
for a in bmine:
    print("  benign workload alert: " + line(a) + " (rule " + a.get("rule_id", "") + ")")
loud = [a for a in bmine if a.get("rule_level") in bad_levels]
check(not loud, "benign workload: no alert of level medium or above (%d alerts in all)" % len(bmine),
      "; ".join(line(a) for a in loud))

others = len(alerts) - len(mine) - len(bmine)
print("info: %d alerts on other processes of this host during the run (not judged)" % others)
print("%d alerts, %d checks failed" % (len(alerts), failed))
sys.exit(1 if failed else 0)
