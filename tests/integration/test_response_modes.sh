#!/bin/bash
# test_response_modes.sh - issue 5's service modes end to end on loopback, with the real
# programs: bannind <- mutual TLS <- bannin-agent (enrolled). A process this test starts
# (a copy of sleep named bn-resp-evil) matches a critical Sigma rule at the manager; triage
# opens a critical incident and the response playbook proposes isolate of the host,
# kill_tree of the process and a forensic package of the host.
#   semi-managed: all three wait for approval and nothing runs; a customer_viewer's approve
#     is 403, an analyst's too; a customer_admin approves the kill_tree (the process dies, the
#     result comes back and is audited) and rejects the isolate (never executed here).
#   fully-managed (isolate forbidden by the tenant's policy, so it never runs on this host):
#     the same incident is contained with no human; exec -> process killed latency measured.
#   objection window (3 s): kill_tree waits in pending_objection with the process alive, runs
#     when the window passes; a customer_viewer cannot object, a customer_admin's objection
#     keeps the process alive past the window; both audited.
#   exec blocking: the agent marks a tmpfs of this test (response.block_marks); a block_add
#     by SHA-256 through the API reaches it; the blocked file's exec fails with EPERM, another
#     file on the same tmpfs runs, and the denial (EventID 152) is found through the API;
#   bad requests: unknown host, invalid SHA-256, a path outside policy, a viewer asking ->
#     4xx with a clear error, each audited.
# Usage: test_response_modes.sh BUILD_DIR. KEEP=1 keeps the temp dir. ROUNDS=N full-mode runs.
set -u
BUILD=${1:?build dir}
. "$(dirname "$0")/lib.sh"
MGR=$BUILD/bannind
AGENT=$BUILD/bannin-agent
bn_need_exec "$MGR" "$AGENT"
bn_need_root "the agent watches the host"
bn_need_cmd curl
bn_need_python

W=$(mktemp -d /tmp/bn-resp-XXXXXX)
MPID= APID=
EVIL_PIDS=
cleanup() {
    for p in $EVIL_PIDS; do kill -9 "$p" 2>/dev/null; done
    for p in $APID $MPID; do kill "$p" 2>/dev/null; done
    for p in $APID $MPID; do wait "$p" 2>/dev/null; done
    mountpoint -q "$W/blk" 2>/dev/null && umount "$W/blk"
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
LINK_PORT=$(free_port); API_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT/api/v1

# the critical rule (central detection): our own process, nothing else on the host (this
# run's directory in the pattern: a concurrent run's process must not match)
mkdir -p "$W/rules"
bn_proc_rule "$W/rules/evil.yml" "Bannin response test process" \
    7b1f5a40-5e7c-4d8e-9a61-bn0resp0test critical 'Image|contains' "$W/bn-resp-evil" \
    "attack.execution, attack.t1059"
cp /bin/sleep "$W/bn-resp-evil"

bn_mgr_init "$W/mgr" "$W/init.txt" || { echo "FAIL init"; exit 1; }
bn_mgr_start "$W/bannind.log" --data "$W/mgr" --listen "127.0.0.1:$LINK_PORT" \
    --api "127.0.0.1:$API_PORT" --rules "$W/rules"
ADMIN=$(bn_login admin "$PASS")
[ -n "$ADMIN" ] || { echo "FAIL admin login"; cat "$W/bannind.log"; exit 1; }
TID=$(bn_default_tenant "$ADMIN")
bn_customers response-test-pw-1
[ -n "$CADMIN" ] && [ -n "$CVIEW" ] && ok "customer_admin and customer_viewer of tenant default" ||
    bad "customer logins"

mkdir -p "$W/agent" "$W/blk"
# exec blocking applies only to this test's own tmpfs (a hung permission listener would hang
# every exec it covers: the agent's blocker has its own watchdog, and the tmpfs goes in cleanup)
mount -t tmpfs -o size=16m tmpfs "$W/blk" || bn_skip "cannot mount a tmpfs"
cp /bin/true "$W/blk/evil-true" && printf 'x' >> "$W/blk/evil-true"
cp /bin/true "$W/blk/ok-true" && printf 'y' >> "$W/blk/ok-true"
chmod +x "$W/blk/evil-true" "$W/blk/ok-true"
printf 'response:\n  block_marks: %s\n' "$W/blk" > "$W/agent.yml"
bn_enroll "$AGENT" "$W/agent/link" "$W/enroll.txt" || { cat "$W/enroll.txt"; echo "FAIL enrol"; exit 1; }
"$AGENT" --config "$W/agent.yml" --link-dir "$W/agent/link" --spool "$W/agent/spool" \
    --no-builtin-rules --duration 240 > "$W/agent.log" 2>&1 & APID=$!
AID=$(bn_wait_agent "$ADMIN")
[ -n "$AID" ] && ok "agent $AID connected" || { bad "agent not seen"; tail "$W/agent.log"; exit 1; }
sleep 2

actions_of() { # TOKEN INCIDENT -> "type:state ..." sorted, each once (another process on
    # this host that trips the same critical rule, e.g. a concurrent run of this test, adds a
    # kill_tree of its own to the host's incident)
    bn_call "$1" GET "/actions?incident_id=$2" |
        jq_py 'print(" ".join(sorted(set("%s:%s" % (a["type"], a["state"]) for a in d["items"]))))'
}
kill_id() { # TOKEN INCIDENT PID -> id of the kill_tree action for PID
    bn_call "$1" GET "/actions?incident_id=$2" |
        jq_py "print([a['id'] for a in d['items'] if a['type']=='kill_tree' and (a.get('params') or {}).get('pid')==$3][0])"
}
action_id() { # TOKEN INCIDENT TYPE
    bn_call "$1" GET "/actions?incident_id=$2" |
        jq_py "print([a['id'] for a in d['items'] if a['type']=='$3'][0])"
}
wait_incident() { # -> id of the newest open incident with our rule
    for _ in $(seq 1 80); do
        i=$(bn_call "$ADMIN" GET /incidents | jq_py '
its=[i for i in d["items"] if i["severity"]>=4 and i["status"] not in ("resolved","false_positive")]
print(its[0]["id"] if its else "")')
        [ -n "$i" ] && { echo "$i"; return 0; }
        sleep 0.25
    done
    return 1
}

# ---- semi-managed (the default) ----
"$W/bn-resp-evil" 600 & EVIL=$!; EVIL_PIDS="$EVIL_PIDS $EVIL"
INC=$(wait_incident) && ok "critical incident $INC for pid $EVIL" ||
    { bad "no critical incident: $(bn_call "$ADMIN" GET /incidents)"; tail "$W/bannind.log"; exit 1; }
sleep 1
got=$(actions_of "$ADMIN" "$INC")
[ "$got" = "forensics:pending_approval isolate:pending_approval kill_tree:pending_approval" ] &&
    ok "semi: playbook proposed $got" || bad "semi: actions '$got'"
KID=$(kill_id "$ADMIN" "$INC" "$EVIL"); IID=$(action_id "$ADMIN" "$INC" isolate)
bn_call "$ADMIN" GET "/actions/$KID" | grep -q "\"pid\":$EVIL" && ok "kill_tree names pid $EVIL" ||
    bad "kill_tree params: $(cat "$W/body")"
sleep 2
kill -0 "$EVIL" 2>/dev/null && ok "semi: nothing ran before approval" || bad "semi: process died unapproved"
bn_call "$CVIEW" POST "/actions/$KID/approve" '{"reason":"viewer tries"}' >/dev/null
[ "$(bn_status)" = 403 ] && ok "customer_viewer approve -> 403: $(cat "$W/body")" || bad "viewer approve: $(bn_status)"
bn_call "$CVIEW" POST "/agents/$AID/actions" '{"type":"kill","params":{"pid":4242}}' >/dev/null
[ "$(bn_status)" = 403 ] && ok "customer_viewer request -> 403" || bad "viewer request: $(bn_status)"
kill -0 "$EVIL" 2>/dev/null || bad "process died after refused approvals"
T0=$(date +%s%N)
bn_call "$CADMIN" POST "/actions/$KID/approve" '{"reason":"confirmed ransomware"}' >/dev/null
[ "$(bn_status)" = 200 ] && ok "customer_admin approved kill_tree" || bad "approve: $(bn_status) $(cat "$W/body")"
for _ in $(seq 1 300); do kill -0 "$EVIL" 2>/dev/null || break; sleep 0.01; done
T1=$(date +%s%N)
kill -0 "$EVIL" 2>/dev/null && bad "process alive after approval" ||
    ok "approval -> process killed in $(( (T1 - T0) / 1000000 )) ms"
wait "$EVIL" 2>/dev/null
for _ in $(seq 1 50); do
    st=$(bn_call "$ADMIN" GET "/actions/$KID" | jq_py 'print(d["state"], bool((d.get("result") or {}).get("ok")))')
    [ "$st" = "done True" ] && break; sleep 0.1
done
[ "$st" = "done True" ] && ok "result came back: $(bn_call "$ADMIN" GET "/actions/$KID" | jq_py 'print(json.dumps(d["result"]))')" ||
    bad "kill_tree state: $st"
bn_call "$CADMIN" POST "/actions/$IID/reject" '{"reason":"contain by hand"}' >/dev/null
[ "$(bn_status)" = 200 ] && ok "customer_admin rejected isolate (never executed here)" || bad "reject: $(bn_status)"
bn_call "$ADMIN" GET "/audit?limit=200" > "$W/audit.json"
"$PY" - "$W/audit.json" <<'EOF' || fails=$((fails + 1))
import json, sys
items = json.load(open(sys.argv[1]))["items"]
acts = [i["action"] + "/" + i["actor"] for i in items]
bad = 0
for want in ("action.request/playbook", "action.refused/cviewer", "action.approve/cadmin",
             "action.result/agent", "action.reject/cadmin"):
    hit = want in acts
    print(("ok   " if hit else "FAIL ") + "audit has " + want)
    bad += 0 if hit else 1
sys.exit(1 if bad else 0)
EOF

# ---- bad requests ----
expect() { # TOKEN BODY AGENT WANT_STATUS WORD
    bn_call "$1" POST "/agents/$3/actions" "$2" >/dev/null
    if [ "$(bn_status)" = "$4" ] && grep -q "$5" "$W/body"; then ok "refused $4: $(head -c 140 "$W/body")"
    else bad "want $4 '$5', got $(bn_status) $(cat "$W/body")"; fi
}
expect "$CADMIN" '{"type":"kill","params":{"pid":50}}' 99999 404 "unknown host"
expect "$CADMIN" '{"type":"block_add","params":{"sha256":"1234"}}' "$AID" 400 "64 hexadecimal"
expect "$CADMIN" '{"type":"quarantine","params":{"path":"/etc/shadow"}}' "$AID" 400 "outside the response path policy"
expect "$CADMIN" '{"type":"wipe_disk"}' "$AID" 400 "unknown action type"
n=$(bn_call "$ADMIN" GET "/audit?limit=300" | jq_py 'print(len([i for i in d["items"] if i["action"]=="action.refused"]))')
[ "${n:-0}" -ge 6 ] && ok "$n refusals audited" || bad "refusals audited: $n"

# ---- fully-managed: no human; isolate forbidden so it never runs on this host ----
bn_call "$ADMIN" PATCH "/incidents/$INC" '{"status":"resolved"}' >/dev/null
bn_call "$ADMIN" PATCH "/tenants/$TID" '{"mode":"full"}' >/dev/null
[ "$(bn_status)" = 200 ] || bad "tenant mode full: $(bn_status) $(cat "$W/body")"
# (forensics forbidden too: a package per round would queue behind the next round's kill_tree;
# test_response_forensics.sh covers it)
bn_call "$CADMIN" PUT "/tenants/$TID/response-policy" '{"policies":{"isolate":"forbidden","forensics":"forbidden"}}' >/dev/null
[ "$(bn_status)" = 200 ] && ok "policy: isolate and forensics forbidden, mode full" || bad "policy: $(bn_status) $(cat "$W/body")"
LAT=
for round in $(seq 1 "${ROUNDS:-3}"); do
    cp /bin/sleep "$W/bn-resp-evil-$round" # a new binary: a new alert and incident
    T0=$(date +%s%N)
    "$W/bn-resp-evil-$round" 600 & EVIL=$!; EVIL_PIDS="$EVIL_PIDS $EVIL"
    for _ in $(seq 1 1000); do kill -0 "$EVIL" 2>/dev/null || break; sleep 0.005; done
    T1=$(date +%s%N)
    if kill -0 "$EVIL" 2>/dev/null; then bad "full: process $EVIL not contained in 5 s"; continue; fi
    wait "$EVIL" 2>/dev/null
    LAT="$LAT $(( (T1 - T0) / 1000000 ))"
    INC2=$(bn_call "$ADMIN" GET /incidents | jq_py '
its=[i for i in d["items"] if i["severity"]>=4 and i["status"] not in ("resolved","false_positive")]
print(its[0]["id"] if its else "")')
    [ -n "$INC2" ] && bn_call "$ADMIN" PATCH "/incidents/$INC2" '{"status":"resolved"}' >/dev/null
done
if [ -n "$LAT" ]; then
    ok "full: contained with no human; exec -> killed (ms):$LAT"
    "$PY" -c 'import sys; v=sorted(int(x) for x in sys.argv[1:]); q=lambda p: v[min(len(v)-1, int(p*len(v)))]; print("exec->containment through the manager: n=%d p50=%d ms p99=%d ms max=%d ms (goal <= 1000)" % (len(v), q(0.5), q(0.99), v[-1]))' $LAT
fi
sleep 0.5
bn_call "$ADMIN" GET "/actions?limit=50" > "$W/actions.json"
"$PY" - "$W/actions.json" <<'EOF' || fails=$((fails + 1))
import json, sys
items = json.load(open(sys.argv[1]))["items"]
full = [a for a in items if a["requested_by"] == "playbook" and a["approved_by"] == "policy:auto"]
iso = [a for a in items if a["type"] == "isolate" and a["state"] not in ("rejected", "pending_approval")]
bad = 0
ok = full and all(a["type"] == "kill_tree" and a["state"] == "done" for a in full)
print(("ok   " if ok else "FAIL ") + "full: %d kill_tree actions queued by policy and done" % len(full))
bad += 0 if ok else 1
print(("ok   " if not iso else "FAIL ") + "isolate never sent to this host (%d)" % len(iso))
bad += 1 if iso else 0
sys.exit(1 if bad else 0)
EOF

# ---- fully-managed, "contain unless someone objects within N seconds" ----
bn_call "$CADMIN" PUT "/tenants/$TID/response-policy" '{"objection_window_s":3}' >/dev/null
[ "$(bn_status)" = 200 ] && grep -q '"objection_window_s":3' "$W/body" &&
    ok "policy: objection window 3 s" || bad "objection window: $(bn_status) $(cat "$W/body")"
newest_inc() {
    bn_call "$ADMIN" GET /incidents | jq_py '
its=[i for i in d["items"] if i["severity"]>=4 and i["status"] not in ("resolved","false_positive")]
print(its[0]["id"] if its else "")'
}
for what in wait object; do
    cp /bin/sleep "$W/bn-resp-evil-$what"
    T0=$(date +%s%N)
    "$W/bn-resp-evil-$what" 600 & EVIL=$!; EVIL_PIDS="$EVIL_PIDS $EVIL"
    KOB=
    for _ in $(seq 1 80); do
        INC3=$(newest_inc)
        [ -n "$INC3" ] && KOB=$(bn_call "$ADMIN" GET "/actions?incident_id=$INC3&state=pending_objection" |
            jq_py 'k=[a["id"] for a in d["items"] if a["type"]=="kill_tree"]; print(k[0] if k else "")')
        [ -n "$KOB" ] && break
        sleep 0.1
    done
    if [ -z "$KOB" ]; then bad "$what: no kill_tree waiting for objections"; continue; fi
    kill -0 "$EVIL" 2>/dev/null && ok "$what: kill_tree $KOB waits in pending_objection, process alive" ||
        bad "$what: the process died inside the objection window"
    if [ "$what" = object ]; then
        bn_call "$CVIEW" POST "/actions/$KOB/reject" '{"reason":"viewer objects"}' >/dev/null
        [ "$(bn_status)" = 403 ] && ok "object: a customer_viewer cannot object (403)" || bad "viewer object: $(bn_status)"
        bn_call "$CADMIN" POST "/actions/$KOB/reject" '{"reason":"planned maintenance job"}' >/dev/null
        [ "$(bn_status)" = 200 ] && ok "object: customer_admin objected" || bad "objection: $(bn_status) $(cat "$W/body")"
        sleep 5
        kill -0 "$EVIL" 2>/dev/null && ok "object: after the window the process is still alive" ||
            bad "object: the process was killed despite the objection"
        st=$(bn_call "$ADMIN" GET "/actions/$KOB" | jq_py 'print(d["state"])')
        [ "$st" = rejected ] && ok "object: action $KOB rejected" || bad "object: state $st"
        kill -9 "$EVIL" 2>/dev/null; wait "$EVIL" 2>/dev/null
    else
        for _ in $(seq 1 1000); do kill -0 "$EVIL" 2>/dev/null || break; sleep 0.01; done
        T1=$(date +%s%N)
        if kill -0 "$EVIL" 2>/dev/null; then
            bad "wait: process not contained after the window"
        else
            ok "wait: no objection - contained $(( (T1 - T0) / 1000000 )) ms after the exec (window 3 s)"
        fi
        wait "$EVIL" 2>/dev/null
    fi
    [ -n "$INC3" ] && bn_call "$ADMIN" PATCH "/incidents/$INC3" '{"status":"resolved"}' >/dev/null
done
bn_call "$ADMIN" GET "/audit?limit=300" > "$W/audit2.json"
for a in action.object action.objection_window_passed; do
    grep -q "\"$a\"" "$W/audit2.json" && ok "audit has $a" || bad "audit lacks $a"
done
bn_call "$CADMIN" PUT "/tenants/$TID/response-policy" '{"objection_window_s":0}' >/dev/null

# ---- exec blocking through the manager ----
SHA=$(sha256sum "$W/blk/evil-true" | cut -d' ' -f1)
"$W/blk/evil-true" && ok "before block_add the file runs" || bad "evil-true does not run before blocking"
bn_call "$CADMIN" POST "/agents/$AID/actions" "{\"type\":\"block_add\",\"params\":{\"sha256\":\"$SHA\"},\"reason\":\"dropped by the intruder\"}" > "$W/block.json"
BID=$(jq_py 'print(d.get("id",""))' < "$W/block.json")
[ -n "$BID" ] || bad "block_add request: $(bn_status) $(cat "$W/block.json")"
if [ -n "$BID" ] && bn_call "$ADMIN" GET "/actions/$BID" | grep -q '"state":"pending_approval"'; then
    bn_call "$CADMIN" POST "/actions/$BID/approve" '{"reason":"block it"}' >/dev/null
fi
st=
for _ in $(seq 1 60); do
    st=$(bn_call "$ADMIN" GET "/actions/$BID" | jq_py 'print(d.get("state",""))')
    { [ "$st" = done ] || [ "$st" = failed ]; } && break
    sleep 0.25
done
[ "$st" = done ] && ok "block_add by SHA-256 done on the agent" ||
    bad "block_add state '$st': $(bn_call "$ADMIN" GET "/actions/$BID")"
out=$("$W/blk/evil-true" 2>&1); rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q "Operation not permitted"; then
    ok "blocked exec fails with EPERM: $out"
else
    bad "blocked exec: rc $rc '$out'"
fi
"$W/blk/ok-true" && ok "another file on the marked tmpfs still runs" || bad "ok-true blocked"
found=
for _ in $(seq 1 40); do
    # by EventID: the host's own activity floods a plain "newest N" search
    bn_call "$ADMIN" GET "/events?event_id=152&limit=200" > "$W/events.json"
    if grep -q '"EventID": *152' "$W/events.json" && grep -q "$SHA" "$W/events.json"; then
        found=1
        break
    fi
    sleep 0.25
done
[ -n "$found" ] && ok "the denial (EventID 152, with the SHA-256) is stored and found through the API" ||
    bad "no EventID 152 event for the blocked exec"

if [ "$fails" -ne 0 ]; then
    echo "--- bannind log"; tail -n 30 "$W/bannind.log"
    echo "--- agent log"; tail -n 20 "$W/agent.log"
    echo "FAIL: $fails check(s)"
    exit 1
fi
echo "PASS: semi-managed approval flow, refusals audited, fully-managed containment, exec blocking"
