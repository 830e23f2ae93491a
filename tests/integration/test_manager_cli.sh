#!/bin/bash
# test_manager_cli.sh - the `bannin api` nouns beyond the admin basics, against a real
# bannind: IOC lists imported from CSV and from a STIX 2.1 bundle (format guessed from the
# file), their entries and deletion; a webhook channel created with --url and "send test"
# received by a listener on loopback; the response policy set and read back; response actions
# listed and an action on an unknown host refused; suppressions; SOC and Prometheus metrics;
# attachments; and the client's own errors (bad KEY=VALUE, an existing --out file).
# Usage: test_manager_cli.sh BUILD_DIR (CTest passes it).
set -u
BUILD=${1:?build dir}
. "$(dirname "$0")/lib.sh"
MGR=$BUILD/bannind
CLI=$BUILD/bannin
bn_need_exec "$MGR" "$CLI"
bn_need_python
WORK=$(mktemp -d /tmp/bn-cli-itest-XXXXXX)
MPID=
LPID=
cleanup() {
    [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
    [ -n "$LPID" ] && kill "$LPID" 2>/dev/null && wait "$LPID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- bannind"; tail -n 20 "$WORK/mgr.log" 2>/dev/null
    exit 1
}

DATA=$WORK/data
bn_mgr_init "$DATA" "$WORK/init.txt" || fail "bannind --init printed no password"
PW=$PASS
bn_mgr_start_any "$WORK/mgr.log" --data "$DATA" --listen 127.0.0.1:0 --api 127.0.0.1:0 ||
    fail "bannind exited at start or printed no API address"
export BANNIN_SERVER=http://127.0.0.1:$APORT
BANNIN_TOKEN=$(BANNIN_PASSWORD=$PW "$CLI" api login admin) || fail "admin login"
export BANNIN_TOKEN
api() { "$CLI" api --json "$@"; }

# --- IOC lists: CSV and STIX 2.1, the format guessed from the content
printf 'type,value,source\nip,203.0.113.7,feed\ndomain,evil.example,feed\nip,not-an-ip,feed\n' \
    > "$WORK/iocs.csv"
api iocs import csv-feed "$WORK/iocs.csv" --tenant 1 --source test > "$WORK/out" 2>&1 ||
    fail "iocs import csv: $(cat "$WORK/out")"
grep -q '"format": "csv"' "$WORK/out" || fail "csv not recognised: $(cat "$WORK/out")"
grep -q '"entries": 2' "$WORK/out" || fail "csv entries: $(cat "$WORK/out")"
CSV_ID=$(sed -n 's/^  "id": \([0-9]*\),*/\1/p' "$WORK/out" | head -1)
cat > "$WORK/bundle.json" <<'JSON'
{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
 {"type": "indicator", "spec_version": "2.1",
  "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
  "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
  "pattern": "[domain-name:value = 'c2.bad.example']", "pattern_type": "stix",
  "valid_from": "2026-01-01T00:00:00Z"},
 {"type": "indicator", "spec_version": "2.1",
  "id": "indicator--a932fcc6-e032-476c-826f-cb970a5a1ade",
  "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
  "pattern": "[ipv4-addr:value = '198.51.100.9']", "pattern_type": "stix",
  "valid_from": "2026-01-01T00:00:00Z"}]}
JSON
api iocs import stix-feed "$WORK/bundle.json" --tenant 1 > "$WORK/out" 2>&1 ||
    fail "iocs import stix: $(cat "$WORK/out")"
grep -q '"format": "stix"' "$WORK/out" || fail "stix not recognised: $(cat "$WORK/out")"
grep -q '"entries": 2' "$WORK/out" || fail "stix entries: $(cat "$WORK/out")"
"$CLI" api iocs list > "$WORK/out" || fail "iocs list"
grep -q 'csv-feed' "$WORK/out" && grep -q 'stix-feed' "$WORK/out" ||
    fail "iocs list (table): $(cat "$WORK/out")"
"$CLI" api iocs entries "$CSV_ID" > "$WORK/out" || fail "iocs entries"
grep -q '203.0.113.7' "$WORK/out" && grep -q 'evil.example' "$WORK/out" ||
    fail "iocs entries: $(cat "$WORK/out")"
api iocs delete "$CSV_ID" > "$WORK/out" 2>&1 || fail "iocs delete: $(cat "$WORK/out")"
if api iocs entries "$CSV_ID" > "$WORK/out" 2>&1; then fail "deleted list still readable"; fi
grep -q '404' "$WORK/out" || fail "deleted list: $(cat "$WORK/out")"

# --- a webhook channel and "send test", received by a listener on loopback
cat > "$WORK/listen.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length', 0))
        with open(sys.argv[2], 'ab') as f:
            f.write(self.rfile.read(n) + b'\n')
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
open(sys.argv[1], 'w').write(str(s.server_address[1]))
s.serve_forever()
PY
"$PY" "$WORK/listen.py" "$WORK/lport" "$WORK/hooks" &
LPID=$!
for _ in $(seq 1 100); do [ -s "$WORK/lport" ] && break; sleep 0.05; done
[ -s "$WORK/lport" ] || fail "webhook listener did not start"
LPORT=$(cat "$WORK/lport")
api channels create soc-hook --type webhook --tenant 1 \
    --url "http://127.0.0.1:$LPORT/hook" > "$WORK/out" 2>&1 ||
    fail "channels create: $(cat "$WORK/out")"
CH_ID=$(sed -n 's/^  "id": \([0-9]*\),*/\1/p' "$WORK/out" | head -1)
[ -n "$CH_ID" ] || fail "no channel id: $(cat "$WORK/out")"
api channels test "$CH_ID" > "$WORK/out" 2>&1 || fail "channels test: $(cat "$WORK/out")"
grep -q '"delivered": true' "$WORK/out" || fail "test not delivered: $(cat "$WORK/out")"
[ -s "$WORK/hooks" ] || fail "the listener received nothing"
"$CLI" api channels list > "$WORK/out" || fail "channels list"
grep -q 'soc-hook' "$WORK/out" || fail "channels list: $(cat "$WORK/out")"
if api channels create bad --type webhook --set port > "$WORK/out" 2>&1; then
    fail "a malformed --set was sent"
fi
grep -q 'KEY=VALUE' "$WORK/out" || fail "--set error: $(cat "$WORK/out")"
api channels delete "$CH_ID" > "$WORK/out" 2>&1 || fail "channels delete: $(cat "$WORK/out")"

# --- response policy and actions
api policy set 1 --type isolate=approval --type kill_tree=auto --approval-timeout 900 \
    --objection-window 120 > "$WORK/out" 2>&1 || fail "policy set: $(cat "$WORK/out")"
api policy get 1 > "$WORK/out" 2>&1 || fail "policy get: $(cat "$WORK/out")"
grep -q '"isolate": "approval"' "$WORK/out" && grep -q '"kill_tree": "auto"' "$WORK/out" &&
    grep -q '"approval_timeout_s": 900' "$WORK/out" &&
    grep -q '"objection_window_s": 120' "$WORK/out" || fail "policy get: $(cat "$WORK/out")"
if api policy set 1 --type isolate=sometimes > "$WORK/out" 2>&1; then
    fail "a bad policy value was accepted"
fi
grep -q '400' "$WORK/out" || fail "bad policy: $(cat "$WORK/out")"
if api actions request 4242 kill_tree --param pid=4242 --reason test > "$WORK/out" 2>&1; then
    fail "an action on an unknown host was filed"
fi
grep -q '404' "$WORK/out" || fail "unknown host: $(cat "$WORK/out")"
api actions list > "$WORK/out" 2>&1 || fail "actions list: $(cat "$WORK/out")"
grep -q '"items": \[\]' "$WORK/out" || fail "actions list: $(cat "$WORK/out")"
if api actions approve 77 > "$WORK/out" 2>&1; then fail "approved a missing action"; fi
grep -q '404' "$WORK/out" || fail "approve missing: $(cat "$WORK/out")"

# --- suppressions, metrics, attachments
api suppressions list --all > "$WORK/out" 2>&1 || fail "suppressions list: $(cat "$WORK/out")"
if api suppressions delete 5 > "$WORK/out" 2>&1; then fail "deleted a missing suppression"; fi
api metrics soc --per-rule > "$WORK/out" 2>&1 || fail "metrics soc: $(cat "$WORK/out")"
grep -q '"items"' "$WORK/out" || fail "metrics soc: $(cat "$WORK/out")"
"$CLI" api metrics prometheus > "$WORK/out" 2>&1 || fail "metrics prometheus"
grep -q '^bannin_' "$WORK/out" || fail "prometheus: $(head -5 "$WORK/out")"
if api attachments list 99 > "$WORK/out" 2>&1; then fail "attachments of a missing incident"; fi
grep -q '404' "$WORK/out" || fail "attachments list: $(cat "$WORK/out")"
touch "$WORK/exists"
if api attachments download 1 --out "$WORK/exists" > "$WORK/out" 2>&1; then
    fail "download wrote over an existing file"
fi

# every state change above is in the audit log
api audit list --limit 200 > "$WORK/audit" || fail "audit list"
for a in ioc_list.create ioc_list.delete channel.create channel.test channel.delete \
    response.policy; do
    grep -q "\"$a\"" "$WORK/audit" || fail "no $a in the audit log"
done
echo "ok: bannin api iocs, channels, policy, actions, suppressions, metrics, attachments"
