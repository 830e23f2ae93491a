#!/bin/bash
# test_manager_api_rbac.sh - the API of a real bannind driven by the real `bannin api` client:
# --init prints the first admin's password once; the admin logs in, creates a tenant and its
# customer admin; the customer admin sees only its tenant, cannot create tenants or provider
# users, makes an enrolment token that pins the server CA; the audit log names each actor and
# verifies; bad bodies are refused and counted on /metrics.
# Usage: test_manager_api_rbac.sh BUILD_DIR (CTest passes it).
set -u
BUILD=${1:?build dir}
. "$(dirname "$0")/lib.sh"
MGR=$BUILD/bannind
CLI=$BUILD/bannin
bn_need_exec "$MGR" "$CLI"
WORK=$(mktemp -d /tmp/bn-api-itest-XXXXXX)
MPID=
cleanup() {
    [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
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
# port 0: the system picks free ports, and bannind prints where the API is
bn_mgr_start_any "$WORK/mgr.log" --data "$DATA" --listen 127.0.0.1:0 --api 127.0.0.1:0 ||
    fail "bannind exited at start or printed no API address"
export BANNIN_SERVER=http://127.0.0.1:$APORT

ADMIN=$(BANNIN_PASSWORD=$PW "$CLI" api login admin) || fail "admin login"
case "$ADMIN" in bns_*) ;; *) fail "login printed '$ADMIN'" ;; esac
if BANNIN_PASSWORD=wrong-password-x "$CLI" api login admin > "$WORK/out" 2>&1; then
    fail "a wrong password logged in"
fi
grep -q '401 unauthorized' "$WORK/out" || fail "wrong password: $(cat "$WORK/out")"

api() { BANNIN_TOKEN=$1 "$CLI" api --json "${@:2}"; }
api "$ADMIN" tenants create acme --mode full --notify-min 2 > "$WORK/t.json" ||
    fail "tenant create: $(cat "$WORK/t.json")"
TID=$(sed -n 's/^  "id": \([0-9]*\),*/\1/p' "$WORK/t.json" | head -1)
[ -n "$TID" ] || fail "no tenant id in $(cat "$WORK/t.json")"
BANNIN_NEW_PASSWORD=alice-password-1 api "$ADMIN" users create alice --role customer_admin \
    --tenant "$TID" > "$WORK/out" 2>&1 || fail "user create: $(cat "$WORK/out")"
ALICE=$(BANNIN_PASSWORD=alice-password-1 "$CLI" api login alice) || fail "alice login"

# alice sees her tenant only and cannot administer the provider side
api "$ALICE" tenants list > "$WORK/out" || fail "alice tenants list"
grep -q '"acme"' "$WORK/out" || fail "alice does not see acme"
grep -q '"default"' "$WORK/out" && fail "alice sees the default tenant"
if api "$ALICE" tenants create evil > "$WORK/out" 2>&1; then fail "alice created a tenant"; fi
grep -q '403 forbidden' "$WORK/out" || fail "tenant create by alice: $(cat "$WORK/out")"
if BANNIN_NEW_PASSWORD=evil-password-12 api "$ALICE" users create mallory \
    --role provider_admin > "$WORK/out" 2>&1; then
    fail "alice created a provider_admin"
fi
grep -q '403' "$WORK/out" || fail "escalation: $(cat "$WORK/out")"
if api "$ALICE" users list --tenant 1 > "$WORK/out" 2>&1; then
    fail "alice listed the users of tenant 1"
fi

# an enrolment token for her tenant pins the manager's server CA
api "$ALICE" enroll create --uses 2 > "$WORK/out" || fail "enroll create: $(cat "$WORK/out")"
grep -q '"token": "bnt1\.' "$WORK/out" || fail "enrolment token: $(cat "$WORK/out")"

# bad bodies are refused with the field and counted
if BANNIN_TOKEN=$ADMIN "$CLI" api raw POST /api/v1/tenants '{"name":"x","colour":1}' \
    > "$WORK/out" 2>&1; then
    fail "unknown field accepted"
fi
grep -q "unknown_field.*field 'colour'" "$WORK/out" || fail "bad body: $(cat "$WORK/out")"
BANNIN_TOKEN=$ADMIN "$CLI" api raw GET /metrics > "$WORK/metrics" || fail "metrics"
grep -q '^bannin_api_bad_body_total 1$' "$WORK/metrics" || fail "bad body not counted"
grep -q '^bannin_api_denied_total [1-9]' "$WORK/metrics" || fail "denials not counted"

# the audit log names the actors and its chain verifies
api "$ADMIN" audit list > "$WORK/audit" || fail "audit list"
for a in tenant.create user.create enrollment_token.create auth.login_failed; do
    grep -q "\"$a\"" "$WORK/audit" || fail "no $a in the audit log"
done
grep -q '"actor": "alice"' "$WORK/audit" || fail "alice's actions are not audited"

kill "$MPID"
wait "$MPID"
MPID=
"$MGR" --data "$DATA" --check > "$WORK/out" 2>&1 || fail "store check: $(cat "$WORK/out")"
echo "ok: API of a real bannind through the bannin api client"
