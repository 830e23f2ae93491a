#!/bin/bash
# test_response_forensics.sh - issue 5's forensic package, end to end on loopback with the
# real programs: bannind <- mutual TLS <- bannin-agent (enrolled). A critical incident is
# opened by a process this test starts (a copy of sleep matching a critical rule); a
# forensics action for the incident (policy auto for forensics) makes the agent write its
# package, with a 24 MiB file of random bytes chosen so the upload takes many chunks. While
# the upload runs the manager is stopped and killed (-9) and started again: the agent
# reconnects and the upload resumes from the bytes the manager already held. Then:
#   - the incident lists one attachment whose size and SHA-256 are the agent's result's;
#   - the download is byte-identical to the package (its SHA-256 is the agent's), and the
#     chosen file inside it is byte-identical to the original;
#   - the agent deleted its local package once the manager stored it;
#   - a customer_viewer cannot list or download (403), a customer_admin can;
#   - attachment.stored and attachment.download are in the audit log.
# Usage: test_response_forensics.sh BUILD_DIR. KEEP=1 keeps the temp dir. NO_RESTART=1 leaves
# the manager running (measures request -> attachment without the restart).
set -u
BUILD=${1:?build dir}
MGR=$BUILD/bannind
AGENT=$BUILD/bannin-agent
skip() { echo "skip: $*"; exit 77; }
[ -x "$MGR" ] || skip "$MGR not built"
[ -x "$AGENT" ] || skip "$AGENT not built"
[ "$(id -u)" = 0 ] || skip "needs root (the agent watches the host)"
command -v curl >/dev/null || skip "curl missing"
command -v zstd >/dev/null || skip "zstd missing (to open the package)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 missing"

W=$(mktemp -d /tmp/bn-resp-for-XXXXXX)
MPID= APID= EVIL=
cleanup() {
    [ -n "$EVIL" ] && kill -9 "$EVIL" 2>/dev/null
    for p in $APID $MPID; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    for p in $APID $MPID; do wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LINK_PORT=$(free_port); API_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT/api/v1
jq_py() { "$PY" -c "import sys,json; d=json.load(sys.stdin); $1"; }

mkdir -p "$W/rules"
cat > "$W/rules/evil.yml" <<'EOF'
title: Bannin forensics test process
id: 3c9e1d52-7a44-4f0e-8c1b-bn0resp0fore
status: test
level: critical
tags: [attack.execution, attack.t1059]
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|contains: /bn-for-evil
  condition: sel
EOF
cp /bin/sleep "$W/bn-for-evil"
head -c $((24 << 20)) /dev/urandom > "$W/dropped.bin"
printf 'a small chosen file\n' > "$W/note.txt"

start_mgr() {
    "$MGR" --data "$W/mgr" --listen "127.0.0.1:$LINK_PORT" --api "127.0.0.1:$API_PORT" \
        --rules "$W/rules" -v >> "$W/bannind.log" 2>&1 & MPID=$!
    for _ in $(seq 1 100); do curl -sf "$API/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
"$MGR" --data "$W/mgr" --init > "$W/init.txt" 2>&1 || { cat "$W/init.txt"; echo "FAIL init"; exit 1; }
PASS=$(sed -n 's/^password: //p' "$W/init.txt")
start_mgr || { echo "FAIL bannind did not start"; cat "$W/bannind.log"; exit 1; }
login() { curl -s -X POST "$API/auth/login" -d "{\"username\":\"$1\",\"password\":\"$2\"}" |
    jq_py 'print(d.get("token",""))'; }
ADMIN=$(login admin "$PASS")
[ -n "$ADMIN" ] || { echo "FAIL admin login"; cat "$W/bannind.log"; exit 1; }
call() { # TOKEN METHOD PATH [BODY] -> body; status in $W/status
    curl -s -o "$W/body" -w '%{http_code}' -X "$2" -H "Authorization: Bearer $1" \
        -H 'Content-Type: application/json' ${4:+-d "$4"} "$API$3" > "$W/status"
    cat "$W/body"
}
status() { cat "$W/status"; }
TID=$(call "$ADMIN" GET /tenants | jq_py 'print([t["id"] for t in d["items"] if t["name"]=="default"][0])')
for u in "cadmin customer_admin" "cviewer customer_viewer"; do
    set -- $u
    call "$ADMIN" POST /users "{\"username\":\"$1\",\"password\":\"forensics-test-pw-1\",\"role\":\"$2\",\"tenant_id\":$TID}" >/dev/null
    [ "$(status)" = 201 ] || bad "create user $1: $(status) $(cat "$W/body")"
done
CADMIN=$(login cadmin forensics-test-pw-1)
CVIEW=$(login cviewer forensics-test-pw-1)

mkdir -p "$W/agent"
ETOK=$("$MGR" --data "$W/mgr" --new-token default --uses 1)
"$AGENT" enroll --server "127.0.0.1:$LINK_PORT" --token "$ETOK" --dir "$W/agent/link" \
    > "$W/enroll.txt" 2>&1 || { cat "$W/enroll.txt"; echo "FAIL enrol"; exit 1; }
"$AGENT" --link-dir "$W/agent/link" --spool "$W/agent/spool" --no-builtin-rules \
    --duration 240 > "$W/agent.log" 2>&1 & APID=$!
AID=
for _ in $(seq 1 60); do
    AID=$(call "$ADMIN" GET /agents | jq_py 'a=[x for x in d["items"] if x.get("last_seen")]; print(a[0]["id"] if a else "")')
    [ -n "$AID" ] && break
    sleep 0.5
done
[ -n "$AID" ] && ok "agent $AID connected" || { bad "agent not seen"; tail "$W/agent.log"; exit 1; }

"$W/bn-for-evil" 600 & EVIL=$!
INC=
for _ in $(seq 1 80); do
    INC=$(call "$ADMIN" GET /incidents | jq_py '
its=[i for i in d["items"] if i["severity"]>=4]
print(its[0]["id"] if its else "")')
    [ -n "$INC" ] && break
    sleep 0.25
done
[ -n "$INC" ] && ok "critical incident $INC" || { bad "no incident"; tail "$W/bannind.log"; exit 1; }

# forensics runs without approval; the playbook's own proposals stay pending (semi-managed)
call "$CADMIN" PUT "/tenants/$TID/response-policy" '{"policies":{"forensics":"auto"}}' >/dev/null
[ "$(status)" = 200 ] && ok "policy: forensics auto" || bad "policy: $(status) $(cat "$W/body")"
call "$CADMIN" POST "/agents/$AID/actions" "{\"type\":\"forensics\",\"incident_id\":$INC,\"reason\":\"evidence\",\"params\":{\"files\":[\"$W/dropped.bin\",\"$W/note.txt\"],\"events\":200}}" > "$W/req.json"
T0=$(date +%s%N)
FID=$(jq_py 'print(d.get("id",""))' < "$W/req.json")
[ -n "$FID" ] && ok "forensics action $FID requested for incident $INC" ||
    { bad "forensics request: $(status) $(cat "$W/req.json")"; exit 1; }

# stop and kill the manager while the package is on its way, then start it again
PART=
[ "${NO_RESTART:-0}" = 1 ] && echo "note NO_RESTART=1: the manager is not restarted"
for _ in $(seq 1 3000); do
    [ "${NO_RESTART:-0}" = 1 ] && break
    PART=$(ls "$W"/mgr/attachments/partial/"$FID"-*.part 2>/dev/null | head -1)
    if [ -n "$PART" ] && [ "$(stat -c %s "$PART" 2>/dev/null || echo 0)" -gt 0 ]; then
        kill -STOP "$MPID"
        break
    fi
    sleep 0.005
done
if [ -n "$PART" ]; then
    HELD=$(stat -c %s "$PART")
    kill -9 "$MPID"; wait "$MPID" 2>/dev/null
    ok "bannind killed with $HELD bytes of the package received"
    sleep 1
    start_mgr && ok "bannind started again" || { bad "bannind restart"; exit 1; }
elif [ "${NO_RESTART:-0}" != 1 ]; then
    bad "no partial upload seen in 15 s"
fi

ATT=
for _ in $(seq 1 240); do
    call "$ADMIN" GET "/incidents/$INC/attachments" > "$W/atts.json"
    ATT=$(jq_py 'print(d["items"][0]["id"] if d.get("items") else "")' < "$W/atts.json" 2>/dev/null)
    [ -n "$ATT" ] && break
    sleep 0.25
done
T1=$(date +%s%N)
[ -n "$ATT" ] && ok "attachment $ATT on incident $INC after $(( (T1 - T0) / 1000000 )) ms$([ "${NO_RESTART:-0}" = 1 ] || echo " (incl. the manager's restart)"): $(head -c 300 "$W/atts.json")" ||
    { bad "no attachment: $(cat "$W/atts.json")"; }
if [ "${NO_RESTART:-0}" = 1 ]; then
    :
elif grep -q "resumes at byte" "$W/bannind.log"; then
    ok "upload resumed after the restart: $(grep -o 'resumes at byte [0-9]* of [0-9]*' "$W/bannind.log" | head -1)"
else
    bad "the upload did not resume after the manager's restart"
fi

call "$ADMIN" GET "/actions/$FID" > "$W/action.json"
read -r RPATH RSIZE RSHA < <(jq_py 'r=d["result"]; print(r["path"], r["size"], r["sha256"])' < "$W/action.json")
read -r ASIZE ASHA ANAME < <(jq_py 'a=d["items"][0]; print(a["size"], a["sha256"], a["name"])' < "$W/atts.json")
[ "$RSIZE" = "$ASIZE" ] && [ "$RSHA" = "$ASHA" ] &&
    ok "attachment size $ASIZE and SHA-256 $ASHA are the agent's result's" ||
    bad "result $RSIZE $RSHA vs attachment $ASIZE $ASHA"
[ "$ANAME" = "$(basename "$RPATH")" ] && ok "named $ANAME" || bad "name $ANAME vs $RPATH"

curl -s -o "$W/dl.tar.zst" -w '%{http_code}' -H "Authorization: Bearer $CADMIN" \
    "$API/attachments/$ATT" > "$W/status"
[ "$(status)" = 200 ] || bad "customer_admin download: $(status)"
DSHA=$(sha256sum "$W/dl.tar.zst" | cut -d' ' -f1)
[ "$DSHA" = "$RSHA" ] && [ "$(stat -c %s "$W/dl.tar.zst")" = "$RSIZE" ] &&
    ok "download is the agent's package byte for byte (sha256 $DSHA)" ||
    bad "download sha256 $DSHA size $(stat -c %s "$W/dl.tar.zst"), agent said $RSHA $RSIZE"
tar -I zstd -xOf "$W/dl.tar.zst" "files$W/dropped.bin" > "$W/dropped.out" 2>"$W/tar.err"
cmp -s "$W/dropped.out" "$W/dropped.bin" &&
    ok "the chosen 24 MiB file inside the package is identical to the original" ||
    bad "files$W/dropped.bin in the package differs: $(cat "$W/tar.err")"
tar -I zstd -xOf "$W/dl.tar.zst" manifest.json | grep -q '"bannin-forensics/1"' &&
    ok "manifest.json present" || bad "no manifest in the download"

for _ in $(seq 1 20); do [ -e "$RPATH" ] || break; sleep 0.25; done
[ ! -e "$RPATH" ] && ok "the agent deleted its package after the manager stored it" ||
    bad "package $RPATH still on the agent"
ls "$W"/mgr/attachments/partial/*.part >/dev/null 2>&1 && bad "partial file left on the manager" ||
    ok "no partial file left on the manager"

call "$CVIEW" GET "/incidents/$INC/attachments" >/dev/null
[ "$(status)" = 403 ] && ok "customer_viewer cannot list attachments (403)" || bad "viewer list: $(status)"
call "$CVIEW" GET "/attachments/$ATT" >/dev/null
[ "$(status)" = 403 ] && ok "customer_viewer cannot download (403)" || bad "viewer download: $(status)"
call "$ADMIN" GET "/attachments/999999" >/dev/null
[ "$(status)" = 404 ] && ok "unknown attachment: 404" || bad "unknown attachment: $(status)"

call "$ADMIN" GET "/audit?limit=200" > "$W/audit.json"
n_st=$(jq_py 'print(len([i for i in d["items"] if i["action"]=="attachment.stored"]))' < "$W/audit.json")
n_dl=$(jq_py 'print(len([i for i in d["items"] if i["action"]=="attachment.download"]))' < "$W/audit.json")
[ "$n_st" = 1 ] && [ "${n_dl:-0}" -ge 1 ] && ok "audited: attachment.stored x$n_st, attachment.download x$n_dl" ||
    bad "audit: stored $n_st download $n_dl"

if [ "$fails" -ne 0 ]; then
    echo "--- bannind log"; tail -n 30 "$W/bannind.log"
    echo "--- agent log"; tail -n 30 "$W/agent.log"
    echo "FAIL: $fails check(s)"
    exit 1
fi
echo "PASS: forensic package uploaded$([ "${NO_RESTART:-0}" = 1 ] || echo " (resumed after a manager kill)"), attached, downloaded byte for byte"
