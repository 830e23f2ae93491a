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
. "$(dirname "$0")/lib.sh"
MGR=$BUILD/bannind
AGENT=$BUILD/bannin-agent
bn_need_exec "$MGR" "$AGENT"
bn_need_root "the agent watches the host"
bn_need_cmd curl
bn_need_cmd zstd "to open the package"
bn_need_python

W=$(mktemp -d /tmp/bn-resp-for-XXXXXX)
MPID= APID= EVIL=
cleanup() {
    [ -n "$EVIL" ] && kill -9 "$EVIL" 2>/dev/null
    for p in $APID $MPID; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    for p in $APID $MPID; do wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
LINK_PORT=$(free_port); API_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT/api/v1

mkdir -p "$W/rules"
bn_proc_rule "$W/rules/evil.yml" "Bannin forensics test process" \
    3c9e1d52-7a44-4f0e-8c1b-bn0resp0fore critical 'Image|contains' /bn-for-evil \
    "attack.execution, attack.t1059"
cp /bin/sleep "$W/bn-for-evil"
head -c $((24 << 20)) /dev/urandom > "$W/dropped.bin"
printf 'a small chosen file\n' > "$W/note.txt"

start_mgr() {
    bn_mgr_start "$W/bannind.log" --data "$W/mgr" --listen "127.0.0.1:$LINK_PORT" \
        --api "127.0.0.1:$API_PORT" --rules "$W/rules" -v
}
bn_mgr_init "$W/mgr" "$W/init.txt" || { echo "FAIL init"; exit 1; }
start_mgr || { echo "FAIL bannind did not start"; cat "$W/bannind.log"; exit 1; }
ADMIN=$(bn_login admin "$PASS")
[ -n "$ADMIN" ] || { echo "FAIL admin login"; cat "$W/bannind.log"; exit 1; }
TID=$(bn_default_tenant "$ADMIN")
bn_customers forensics-test-pw-1

mkdir -p "$W/agent"
bn_enroll "$AGENT" "$W/agent/link" "$W/enroll.txt" || { cat "$W/enroll.txt"; echo "FAIL enrol"; exit 1; }
"$AGENT" --link-dir "$W/agent/link" --spool "$W/agent/spool" --no-builtin-rules \
    --duration 240 > "$W/agent.log" 2>&1 & APID=$!
AID=$(bn_wait_agent "$ADMIN")
[ -n "$AID" ] && ok "agent $AID connected" || { bad "agent not seen"; tail "$W/agent.log"; exit 1; }

"$W/bn-for-evil" 600 & EVIL=$!
INC=
for _ in $(seq 1 80); do
    INC=$(bn_call "$ADMIN" GET /incidents | jq_py '
its=[i for i in d["items"] if i["severity"]>=4]
print(its[0]["id"] if its else "")')
    [ -n "$INC" ] && break
    sleep 0.25
done
[ -n "$INC" ] && ok "critical incident $INC" || { bad "no incident"; tail "$W/bannind.log"; exit 1; }

# forensics runs without approval; the playbook's own proposals stay pending (semi-managed)
bn_call "$CADMIN" PUT "/tenants/$TID/response-policy" '{"policies":{"forensics":"auto"}}' >/dev/null
[ "$(bn_status)" = 200 ] && ok "policy: forensics auto" || bad "policy: $(bn_status) $(cat "$W/body")"
bn_call "$CADMIN" POST "/agents/$AID/actions" "{\"type\":\"forensics\",\"incident_id\":$INC,\"reason\":\"evidence\",\"params\":{\"files\":[\"$W/dropped.bin\",\"$W/note.txt\"],\"events\":200}}" > "$W/req.json"
T0=$(date +%s%N)
FID=$(jq_py 'print(d.get("id",""))' < "$W/req.json")
[ -n "$FID" ] && ok "forensics action $FID requested for incident $INC" ||
    { bad "forensics request: $(bn_status) $(cat "$W/req.json")"; exit 1; }

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
    bn_call "$ADMIN" GET "/incidents/$INC/attachments" > "$W/atts.json"
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

bn_call "$ADMIN" GET "/actions/$FID" > "$W/action.json"
read -r RPATH RSIZE RSHA < <(jq_py 'r=d["result"]; print(r["path"], r["size"], r["sha256"])' < "$W/action.json")
read -r ASIZE ASHA ANAME < <(jq_py 'a=d["items"][0]; print(a["size"], a["sha256"], a["name"])' < "$W/atts.json")
[ "$RSIZE" = "$ASIZE" ] && [ "$RSHA" = "$ASHA" ] &&
    ok "attachment size $ASIZE and SHA-256 $ASHA are the agent's result's" ||
    bad "result $RSIZE $RSHA vs attachment $ASIZE $ASHA"
[ "$ANAME" = "$(basename "$RPATH")" ] && ok "named $ANAME" || bad "name $ANAME vs $RPATH"

curl -s -D "$W/dl.hdr" -o "$W/dl.tar.zst" -w '%{http_code}' -H "Authorization: Bearer $CADMIN" \
    "$API/attachments/$ATT" > "$W/status"
[ "$(bn_status)" = 200 ] || bad "customer_admin download: $(bn_status)"
HSHA=$(tr -d '\r' < "$W/dl.hdr" | sed -n 's/^[Xx]-[Cc]ontent-[Ss][Hh][Aa]256: *//p')
[ "$HSHA" = "$RSHA" ] && ok "X-Content-SHA256 header is the package's SHA-256" ||
    bad "X-Content-SHA256 '$HSHA', agent said $RSHA"
if [ -x "$BUILD/bannin" ]; then
    BANNIN_SERVER=${API%/api/v1} BANNIN_TOKEN=$CADMIN "$BUILD/bannin" api attachments download \
        "$ATT" --out "$W/dl2.tar.zst" > "$W/cli.out" 2>&1 &&
        cmp -s "$W/dl2.tar.zst" "$W/dl.tar.zst" && grep -q "sha256 $RSHA (as the server" "$W/cli.out" &&
        ok "bannin api attachments download: same bytes, checked against the header" ||
        bad "bannin api attachments download: $(cat "$W/cli.out")"
fi
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

curl -s -H "Authorization: Bearer $ADMIN" "${API%/api/v1}/metrics" > "$W/metrics"
grep -q '^bannin_attach_stored_total 1$' "$W/metrics" &&
    grep -q '^bannin_attach_bytes_total [1-9]' "$W/metrics" &&
    { [ "${NO_RESTART:-0}" = 1 ] || grep -q '^bannin_attach_resumed_total [1-9]' "$W/metrics"; } &&
    ok "/metrics counts the upload: $(grep '^bannin_attach_' "$W/metrics" | tr '\n' ' ')" ||
    bad "/metrics: $(grep '^bannin_attach_' "$W/metrics" | tr '\n' ' ')"

bn_call "$CVIEW" GET "/incidents/$INC/attachments" >/dev/null
[ "$(bn_status)" = 403 ] && ok "customer_viewer cannot list attachments (403)" || bad "viewer list: $(bn_status)"
bn_call "$CVIEW" GET "/attachments/$ATT" >/dev/null
[ "$(bn_status)" = 403 ] && ok "customer_viewer cannot download (403)" || bad "viewer download: $(bn_status)"
bn_call "$ADMIN" GET "/attachments/999999" >/dev/null
[ "$(bn_status)" = 404 ] && ok "unknown attachment: 404" || bad "unknown attachment: $(bn_status)"

bn_call "$ADMIN" GET "/audit?limit=200" > "$W/audit.json"
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
