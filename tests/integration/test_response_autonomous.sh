#!/bin/bash
# test_response_autonomous.sh - issue 5's agent-local autonomous containment with the real
# bannin-agent (tier bpf, the host's processes) and no round trip to a manager.
#
# Phase 1 (no manager at all): response.autonomous on, autonomous_actions kill_tree, a test
#   rule at level critical matching a copy of sleep under this test's temp dir, another at
#   level high matching a second copy. The critical one is killed by the agent on its own
#   (SIGKILL, measured exec -> gone); the high one is left alone (below the level). The
#   agent's --output holds the alert (140), the request (150, Source local, Action
#   kill_tree, the pid and start_ns) and the result (151, Status ok), and a heartbeat counts
#   contain_requested / contain_ran. With the default configuration autonomous is false.
# Phase 2 (isolate, only inside a network namespace this test makes): bannind and the agent
#   both run in netns bn-autoc-$$ (the agent still sees every process of the host through
#   eBPF; its nftables calls act on its own namespace); the agent is enrolled with the
#   manager on 127.0.0.1 there. autonomous_actions "isolate,kill_tree": the critical process
#   is killed, table inet bannin_isolate is present in the namespace and never in the root
#   namespace, the manager link stays up. Skipped (77) when bannind or netns are missing.
# Usage: test_response_autonomous.sh BUILD_DIR   (KEEP=1 keeps the temp dir)
set -u
BUILD=${1:?build dir}
. "$(dirname "$0")/lib.sh"
AGENT=$BUILD/bannin-agent
MGR=$BUILD/bannind
bn_need_exec "$AGENT"
bn_need_root "the agent watches the host"
bn_need_python
"$AGENT" --check 2> /dev/null | grep -q '^tier: bpf' || bn_skip "tier 1 (eBPF) cannot run here"

W=$(mktemp -d /tmp/bn-autoc-XXXXXX)
chmod 755 "$W"
NS=bn-autoc-$$
APID= MPID= EVIL_PIDS=
cleanup() {
    for p in $EVIL_PIDS; do kill -9 "$p" 2> /dev/null; done
    for p in $APID $MPID; do kill "$p" 2> /dev/null; done
    for p in $APID $MPID; do wait "$p" 2> /dev/null; done
    ip netns del "$NS" 2> /dev/null
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

mkdir -p "$W/rules"
bn_proc_rule "$W/rules/crit.yml" "Bannin autonomous containment test (critical)" \
    "2d0c8a51-autoc-crit-$$" critical 'Image|endswith' "$W/bn-autoc-evil"
bn_proc_rule "$W/rules/high.yml" "Bannin autonomous containment test (high)" \
    "2d0c8a51-autoc-high-$$" high 'Image|endswith' "$W/bn-autoc-meh"
# a second critical rule on the same process: one containment per process (deduplicated)
bn_proc_rule "$W/rules/crit2.yml" "Bannin autonomous containment test (critical, second rule)" \
    "2d0c8a51-autoc-crit2-$$" critical 'Image|contains' /bn-autoc-evi
cp /bin/sleep "$W/bn-autoc-evil"
cp /bin/sleep "$W/bn-autoc-meh"

# off by default: nothing on this machine is contained unless the configuration says so
"$AGENT" --dump-config 2> /dev/null | "$PY" -c '
import sys
t = sys.stdin.read()
sys.exit(0 if "response.autonomous: false" in t and
         "response.autonomous_level: \"critical\"" in t and
         "response.autonomous_actions: \"kill_tree\"" in t else 1)' &&
    ok "defaults: response.autonomous false, level critical, actions kill_tree" ||
    bad "defaults of response.autonomous* (see --dump-config)"

# start_agent NAME ACTIONS [netns-prefix...] ; waits for "started"
start_agent() {
    local name=$1 actions=$2
    shift 2
    mkdir -p "$W/$name"
    cat > "$W/$name/agent.yml" << EOF
collect:
  files: false
  auth: false
heartbeat:
  interval: 1s
limits:
  cpu_percent: 800
response:
  autonomous: true
  autonomous_actions: $actions
  baseline: false
EOF
    "$@" "$AGENT" --config "$W/$name/agent.yml" --tier bpf --no-builtin-rules --rules "$W/rules" \
        --output "$W/$name/out.ndjson" --spool "$W/$name/spool" --duration 120 \
        ${LINKARGS:-} > "$W/$name/agent.log" 2>&1 &
    APID=$!
    for _ in $(seq 1 150); do
        grep -q '"status":"started"' "$W/$name/out.ndjson" 2> /dev/null && break
        kill -0 "$APID" 2> /dev/null || break
        sleep 0.1
    done
    grep -q '"status":"started"' "$W/$name/out.ndjson" 2> /dev/null || {
        bad "$name: agent did not start"
        tail -20 "$W/$name/agent.log"
        exit 1
    }
    sleep 0.5
}
stop_agent() {
    kill "$APID" 2> /dev/null
    wait "$APID" 2> /dev/null
    APID=
}

# run_evil BIN -> prints "pid ms-until-gone" (ms = -1 if still alive after 10 s)
run_evil() {
    local t0 pid t1
    t0=$(now_ms)
    "$1" 600 &
    pid=$!
    EVIL_PIDS="$EVIL_PIDS $pid"
    for _ in $(seq 1 2000); do
        kill -0 "$pid" 2> /dev/null || break
        [ $(($(now_ms) - t0)) -gt 10000 ] && break
        sleep 0.005
    done
    if kill -0 "$pid" 2> /dev/null; then
        echo "$pid -1"
    else
        t1=$(now_ms)
        wait "$pid" 2> /dev/null
        echo "$pid $((t1 - t0)) $?"
    fi
}

# check_events OUT PID ACTION... : 140 alert, then 150/151 of each action, Source local
check_events() {
    "$PY" - "$@" << 'EOF'
import json, sys
out, pid, actions = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
evs = []
for line in open(out, errors="replace"):
    try:
        evs.append(json.loads(line))
    except ValueError:
        pass
alert = [e for e in evs if e.get("EventID") == 140 and e.get("ProcessId") == pid]
if not alert:
    sys.exit("no alert (EventID 140) for pid %d" % pid)
errs = []
for act in actions:
    req = [e for e in evs if e.get("EventID") == 150 and e.get("Action") == act
           and e.get("Source") == "local"
           and (act != "kill_tree" or (e.get("Params") or {}).get("pid") == pid)]
    res = [e for e in evs if e.get("EventID") == 151 and e.get("Action") == act
           and e.get("Source") == "local"]
    if act == "kill_tree":
        res = [e for e in res if pid in ((e.get("Result") or {}).get("pids") or [])]
    if not req:
        errs.append("no 150 request of %s" % act)
    elif act == "kill_tree" and not req[0]["Params"].get("start_ns"):
        errs.append("kill_tree without the start_ns guard")
    if not res:
        errs.append("no 151 result of %s" % act)
    elif res[0].get("Status") != "ok":
        errs.append("%s result %s: %s" % (act, res[0].get("Status"), res[0].get("Result")))
nalerts = len(alert)
kills = [e for e in evs if e.get("EventID") == 150 and e.get("Action") == "kill_tree"
         and (e.get("Params") or {}).get("pid") == pid]
if len(kills) > 1:
    errs.append("%d kill_tree requests for one process (not deduplicated)" % len(kills))
hb = [e for e in evs if e.get("EventID") == 130 and "contain_ran" in json.dumps(e)]
if not hb:
    errs.append("no heartbeat with contain_* counters")
elif nalerts >= 2 and int(hb[-1].get("contain_deduped", 0)) < 1:
    errs.append("%d alerts on pid %d but contain_deduped is 0" % (nalerts, pid))
if errs:
    sys.exit("; ".join(errs))
print("%d alerts, %s 150/151 with Source local; heartbeat: %s" % (
    nalerts, ",".join(actions), json.dumps({k: v for k, v in hb[-1].items() if k.startswith("contain_")}
                                  or hb[-1].get("EventData", ""))[:300]))
EOF
}

# a bad action list is refused at start with the reason
mkdir -p "$W/bad"
printf 'response:\n  autonomous: true\n  autonomous_actions: kill_tree, reboot\n  baseline: false\n' \
    > "$W/bad/agent.yml"
timeout -k 5 60 "$AGENT" --config "$W/bad/agent.yml" --tier bpf --no-builtin-rules \
    --rules "$W/rules" --output "$W/bad/out.ndjson" --spool "$W/bad/spool" --duration 5 \
    > "$W/bad/agent.log" 2>&1
BRC=$?
[ "$BRC" != 0 ] && grep -q "autonomous_actions: 'reboot' is not kill_tree or isolate" "$W/bad/agent.log" &&
    ok "autonomous_actions 'reboot' refused at start (exit $BRC)" ||
    { bad "bad autonomous_actions not refused (exit $BRC)"; tail -3 "$W/bad/agent.log"; }

# ---- phase 1: kill_tree, no manager ----
start_agent p1 kill_tree
read -r EPID EMS ERC <<< "$(run_evil "$W/bn-autoc-evil")"
if [ "$EMS" = -1 ]; then
    bad "critical process $EPID not contained within 10 s"
else
    ok "critical process $EPID killed by the agent ${EMS} ms after exec (exit status $ERC)"
    [ "$ERC" = 137 ] || bad "exit status $ERC, expected 137 (SIGKILL)"
fi
"$W/bn-autoc-meh" 600 &
MPID_MEH=$!
EVIL_PIDS="$EVIL_PIDS $MPID_MEH"
sleep 2
if kill -0 "$MPID_MEH" 2> /dev/null; then
    ok "high-level process $MPID_MEH left alone (below response.autonomous_level)"
    kill -9 "$MPID_MEH"
    wait "$MPID_MEH" 2> /dev/null
else
    bad "high-level process $MPID_MEH was contained (level is critical)"
fi
grep -q "\"ProcessId\":$MPID_MEH" "$W/p1/out.ndjson" &&
    grep '"EventID":140' "$W/p1/out.ndjson" | grep -q "$MPID_MEH" ||
    bad "no alert for the high-level process (the rule should still alert)"
sleep 1.5 # a heartbeat after the containment
stop_agent
if msg=$(check_events "$W/p1/out.ndjson" "$EPID" kill_tree 2>&1); then
    ok "p1: $msg"
else
    bad "p1 events: $msg"
fi
grep -c '"Action":"isolate"' "$W/p1/out.ndjson" | grep -qx 0 || bad "p1 asked for isolate"

# ---- phase 2: isolate + kill_tree, only inside a network namespace ----
if ! command -v nft > /dev/null; then
    echo "skip phase 2: nft missing"
elif [ ! -x "$MGR" ]; then
    echo "skip phase 2: $MGR not built"
elif ! ip netns add "$NS" 2> /dev/null; then
    echo "skip phase 2: cannot create a network namespace"
else
    ROOT_HAD=0
    nft list table inet bannin_isolate > /dev/null 2>&1 && ROOT_HAD=1
    ip netns exec "$NS" ip link set lo up
    PORT=17443
    "$MGR" --data "$W/mgr" --init > "$W/init.txt" 2>&1 || { cat "$W/init.txt"; bad "bannind --init"; }
    ip netns exec "$NS" "$MGR" --data "$W/mgr" --listen "127.0.0.1:$PORT" \
        --api "127.0.0.1:$((PORT + 1))" > "$W/bannind.log" 2>&1 &
    MPID=$!
    for _ in $(seq 1 100); do
        ip netns exec "$NS" curl -sf "http://127.0.0.1:$((PORT + 1))/api/v1/health" \
            > /dev/null 2>&1 && break
        sleep 0.2
    done
    ETOK=$("$MGR" --data "$W/mgr" --new-token default --uses 1 2> /dev/null)
    mkdir -p "$W/p2"
    ip netns exec "$NS" "$AGENT" enroll --server "127.0.0.1:$PORT" --token "$ETOK" \
        --dir "$W/p2/link" > "$W/enroll.txt" 2>&1 || {
        cat "$W/enroll.txt"
        bad "enrol"
        exit 1
    }
    LINKARGS="--link-dir $W/p2/link" start_agent p2 "isolate, kill_tree" ip netns exec "$NS"
    read -r EPID EMS ERC <<< "$(run_evil "$W/bn-autoc-evil")"
    [ "$EMS" != -1 ] && ok "p2: critical process $EPID killed ${EMS} ms after exec" ||
        bad "p2: critical process $EPID not contained"
    for _ in $(seq 1 50); do
        ip netns exec "$NS" nft list table inet bannin_isolate > /dev/null 2>&1 && break
        sleep 0.1
    done
    ip netns exec "$NS" nft list table inet bannin_isolate > /dev/null 2>&1 &&
        ok "p2: table inet bannin_isolate in effect in $NS" ||
        bad "p2: no isolation table in $NS"
    if [ "$ROOT_HAD" = 0 ] && nft list table inet bannin_isolate > /dev/null 2>&1; then
        bad "p2: the ROOT namespace got an isolation table (removing it)"
        nft delete table inet bannin_isolate
    fi
    sleep 1.5
    grep '"EventID":130' "$W/p2/out.ndjson" | tail -1 | grep -q '"link":"connected"' &&
        ok "p2: the manager link stays up while isolated" ||
        bad "p2: manager link not connected in the last heartbeat"
    # what the agent did reached the manager through the spool and the link
    API=http://127.0.0.1:$((PORT + 1))/api/v1
    PASS=$(sed -n 's/^password: //p' "$W/init.txt")
    TOK=$(ip netns exec "$NS" curl -s -X POST "$API/auth/login" \
        -d "{\"username\":\"admin\",\"password\":\"$PASS\"}" |
        "$PY" -c 'import sys,json; print(json.load(sys.stdin).get("token",""))' 2> /dev/null)
    found=
    for _ in $(seq 1 40); do
        # by EventID: the host's own activity floods a plain "newest N" search
        for ev in 150 151; do
            ip netns exec "$NS" curl -s -H "Authorization: Bearer $TOK" \
                "$API/events?event_id=$ev&limit=200"
        done > "$W/mgr_events.json"
        "$PY" - "$W/mgr_events.json" << 'EOF' && found=1 && break
import json, re, sys
t = open(sys.argv[1]).read()
ok = all(re.search(r'"EventID": *%d' % i, t) for i in (150, 151)) and \
    re.search(r'"Source": *"local"', t) and re.search(r'"Action": *"isolate"', t)
sys.exit(0 if ok else 1)
EOF
        sleep 0.25
    done
    [ -n "$found" ] && ok "p2: the local 150/151 events are stored by the manager (GET /events)" ||
        bad "p2: the manager has no local 150/151 events"
    stop_agent
    if msg=$(check_events "$W/p2/out.ndjson" "$EPID" isolate kill_tree 2>&1); then
        ok "p2: $msg"
    else
        bad "p2 events: $msg"
    fi
fi

[ "$fails" = 0 ] && echo "PASS test_response_autonomous" && exit 0
echo "$fails failure(s)"
[ "${KEEP:-0}" = 1 ] || tail -5 "$W"/p*/agent.log
exit 1
