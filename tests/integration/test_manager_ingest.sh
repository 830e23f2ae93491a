#!/bin/bash
# test_manager_ingest.sh - the real thing over loopback: bannind with a fresh data directory,
# a real bannin-agent enrolled with a token from it, events arriving in the store. Then the
# manager goes away while the agent keeps working: what happens meanwhile waits in the
# agent's spool and arrives once the manager is back (nothing lost, nothing twice). A
# revoked agent is refused, and a used-up token cannot enrol again.
# Usage: test_manager_ingest.sh BUILD_DIR (CTest passes it).
set -u
BUILD=${1:?build dir}
MGR=$BUILD/bannind
AGENT=$BUILD/bannin-agent
for b in "$MGR" "$AGENT"; do
    if [ ! -x "$b" ]; then
        echo "skip: $b not built"
        exit 77
    fi
done
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }
if [ "$(id -u)" != 0 ]; then
    echo "skip: the agent needs root to watch processes"
    exit 77
fi
WORK=$(mktemp -d /tmp/bn-mgr-ingest-XXXXXX)
MPID=
APID=
cleanup() {
    [ -n "$APID" ] && kill -9 "$APID" 2>/dev/null
    [ -n "$MPID" ] && kill -9 "$MPID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    echo "--- bannind"; tail -n 20 "$WORK/mgr.log" 2>/dev/null
    echo "--- agent"; tail -n 20 "$WORK/agent.log" 2>/dev/null
    exit 1
}

PORT=$((20000 + RANDOM % 20000))
DATA=$WORK/data
DB=$DATA/bannin.db
"$MGR" --data "$DATA" --init --new-token default > "$WORK/init.txt" || fail "bannind --init"
grep -q '^password: ' "$WORK/init.txt" || fail "--init printed no password"
TOKEN=$(tail -1 "$WORK/init.txt")

start_mgr() {
    "$MGR" --data "$DATA" --listen "127.0.0.1:$PORT" --api off -v >> "$WORK/mgr.log" 2>&1 &
    MPID=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        kill -0 "$MPID" 2>/dev/null || fail "bannind exited at start"
        sleep 0.05
    done
    fail "bannind does not listen on $PORT"
}

# wait_sql SQL WANT SECONDS: until the query prints WANT
wait_sql() {
    local got=
    for _ in $(seq 1 $(($3 * 10))); do
        got=$(sqlite3 "$DB" "$1" 2>/dev/null)
        [ "$got" = "$2" ] && return 0
        sleep 0.1
    done
    fail "waited $3 s for [$1] = $2, got '$got'"
}

# stored events containing $1 (or $3) within $2 s; read through the store (bannind --grep), since
# event JSON is kept in compressed blocks that plain SQL cannot read
wait_grep() {
    local got=
    for _ in $(seq 1 $(($2 * 5))); do
        got=$("$MGR" --data "$DATA" --grep "$1" 2>/dev/null)
        [ "${got:-0}" -gt 0 ] 2>/dev/null && return 0
        if [ -n "${3:-}" ]; then
            got=$("$MGR" --data "$DATA" --grep "$3" 2>/dev/null)
            [ "${got:-0}" -gt 0 ] 2>/dev/null && return 0
        fi
        sleep 0.2
    done
    fail "waited $2 s for a stored event containing '$1'${3:+ or '$3'}, got '$got'"
}

start_mgr
"$AGENT" enroll --server "127.0.0.1:$PORT" --token "$TOKEN" --dir "$WORK/link" \
    --host itest-host > "$WORK/enroll.txt" 2>&1 || fail "enroll: $(cat "$WORK/enroll.txt")"
for f in agent.key agent.crt server-ca.crt sign.key enrolment; do
    [ -s "$WORK/link/$f" ] || fail "enrolment left no $f"
done
[ "$(stat -c %a "$WORK/link/agent.key")" = 600 ] || fail "agent.key is not 0600"
[ "$(stat -c %a "$WORK/link/sign.key")" = 600 ] || fail "sign.key is not 0600"
# the token was for one use
if "$AGENT" enroll --server "127.0.0.1:$PORT" --token "$TOKEN" --dir "$WORK/link2" \
    > "$WORK/enroll2.txt" 2>&1; then
    fail "a used-up token enrolled a second agent"
fi
grep -q "token" "$WORK/enroll2.txt" || fail "no reason for the refused token: $(cat "$WORK/enroll2.txt")"

# the agent at tier poll (any kernel), heartbeats every second
cat > "$WORK/agent.yml" <<EOF
heartbeat:
  interval: 1s
collect:
  tier: poll
  auth: false
  files: false
detect:
  builtin: false
EOF
"$AGENT" --config "$WORK/agent.yml" --spool "$WORK/spool" --link-dir "$WORK/link" -v \
    > "$WORK/agent.out" 2> "$WORK/agent.log" &
APID=$!
MARK1=$((RANDOM + 100000))
sleep 2
( exec -a "bannin-itest-$MARK1" sleep 3 ) &
wait_grep "bannin-itest-$MARK1" 20 "sleep 3"
wait_sql "SELECT count(*) FROM agents WHERE hostname = 'itest-host' AND health_json LIKE '%spool_depth%';" 1 10
echo "events arrive: $(sqlite3 "$DB" 'SELECT count(*) FROM events;') stored so far"

# the manager goes away; the agent spools; the manager comes back; everything arrives
kill -TERM "$MPID"
wait "$MPID"
MPID=
MARK2=$((RANDOM + 200000))
before=$(sqlite3 "$DB" "SELECT max(seq) FROM events;")
( exec -a "bannin-itest-$MARK2" sleep 3 ) &
sleep 4
start_mgr
wait_grep "bannin-itest-$MARK2" 30
# kill -9 the agent in the middle of its work, start it again: what it spooled is sent once
kill -9 "$APID"
wait "$APID" 2>/dev/null
"$AGENT" --config "$WORK/agent.yml" --spool "$WORK/spool" --link-dir "$WORK/link" -v \
    >> "$WORK/agent.out" 2>> "$WORK/agent.log" &
APID=$!
MARK3=$((RANDOM + 300000))
sleep 1
( exec -a "bannin-itest-$MARK3" sleep 3 ) &
wait_grep "bannin-itest-$MARK3" 30
# stop the agent: it drains its spool before it exits
kill -TERM "$APID"
wait "$APID"
APID=
sleep 0.5
max=$(sqlite3 "$DB" "SELECT max(seq) FROM events;")
[ "$max" -gt "$before" ] || fail "nothing stored after the manager came back"
# no seq stored twice, no hole below the highest stored seq (nothing was shed here)
read -r n distinct lo hi < <(sqlite3 -separator ' ' "$DB" \
    "SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM events;")
[ "$n" = "$distinct" ] || fail "$((n - distinct)) events stored twice"
[ "$lo" = 1 ] || fail "the first stored seq is $lo, not 1"
[ "$n" = "$hi" ] || fail "holes: $n events stored for seqs 1..$hi"
grep -q "gap" "$WORK/mgr.log" && fail "the manager saw a gap: $(grep gap "$WORK/mgr.log" | head -2)"

# revocation: the agent is refused when it comes back
AID=$(sqlite3 "$DB" "SELECT id FROM agents WHERE hostname = 'itest-host';")
sqlite3 "$DB" "UPDATE agents SET revoked = 1 WHERE id = $AID;"
"$AGENT" --config "$WORK/agent.yml" --spool "$WORK/spool" --link-dir "$WORK/link" \
    --duration 3 > /dev/null 2> "$WORK/agent2.log" || fail "agent run 2: $(cat "$WORK/agent2.log")"
grep -q "revoked" "$WORK/agent2.log" || fail "the revoked agent was not told: $(cat "$WORK/agent2.log")"
n2=$(sqlite3 "$DB" "SELECT count(*) FROM events;")
[ "$n2" = "$n" ] || fail "a revoked agent's events were stored ($n2 > $n)"
kill -TERM "$MPID"
wait "$MPID"
MPID=
echo "PASS: enrolment, $n events 1..$hi stored once, spooled across a manager outage," \
    "agent killed -9 and restarted, used-up token and revoked agent refused"
