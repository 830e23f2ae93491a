#!/bin/bash
# test_manager_kill9.sh - kill -9 of bannind during sustained ingest, 20 times in a row:
# simulated agents (bench_ingest, the real wire client over mutual TLS) keep sending signed
# batches and log every acknowledged range; bannind is killed at a random moment and
# restarted, over and over. At the end every acknowledged event is in the store exactly
# once, nothing is stored twice, and SQLite's integrity check passes.
# Usage: test_manager_kill9.sh BUILD_DIR (CTest passes it).
set -u
BUILD=${1:?build dir}
MGR=$BUILD/bannind
CLI=$BUILD/bench_ingest
for b in "$MGR" "$CLI"; do
    if [ ! -x "$b" ]; then
        echo "skip: $b not built"
        exit 77
    fi
done
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }
WORK=$(mktemp -d /tmp/bn-mgr-kill9-XXXXXX)
MPID=
CPID=
cleanup() {
    [ -n "$CPID" ] && kill -9 "$CPID" 2>/dev/null
    [ -n "$MPID" ] && kill -9 "$MPID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    tail -5 "$WORK/mgr.log" "$WORK/cli.log" 2>/dev/null
    exit 1
}

ROUNDS=${ROUNDS:-20}
PORT=$((20000 + RANDOM % 20000))
DATA=$WORK/data
# --init with --new-token prints the admin password and a token, then exits
"$MGR" --data "$DATA" --init --new-token default --uses 10 > "$WORK/init.txt" ||
    fail "bannind --init"
TOKEN=$(tail -1 "$WORK/init.txt")

start_mgr() {
    "$MGR" --data "$DATA" --listen "127.0.0.1:$PORT" --api off >> "$WORK/mgr.log" 2>&1 &
    MPID=$!
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        kill -0 "$MPID" 2>/dev/null || fail "bannind exited at start"
        sleep 0.05
    done
    fail "bannind does not listen on $PORT"
}

start_mgr
# 4 agents, batches of 200 events, unbounded: runs until told to stop
"$CLI" --server "127.0.0.1:$PORT" --token "$TOKEN" --dir "$WORK/agents" --agents 4 \
    --threads 2 --batch 200 --events 1000000000 --acked "$WORK/acked" > "$WORK/cli.out" \
    2> "$WORK/cli.log" &
CPID=$!
for round in $(seq 1 "$ROUNDS"); do
    sleep "0.$((RANDOM % 6 + 3))"
    kill -9 "$MPID" 2>/dev/null
    wait "$MPID" 2>/dev/null
    MPID=
    kill -0 "$CPID" 2>/dev/null || fail "the client died in round $round"
    n=$(wc -l < "$WORK/acked")
    echo "round $round: bannind killed, $n batches acknowledged so far"
    start_mgr
done
sleep 1
kill -TERM "$CPID"
wait "$CPID"
CPID=
kill -TERM "$MPID"
wait "$MPID"
MPID=

DB=$DATA/bannin.db
[ -s "$WORK/acked" ] || fail "nothing was acknowledged"
ic=$(sqlite3 "$DB" "PRAGMA integrity_check;")
[ "$ic" = "ok" ] || fail "integrity_check: $ic"
# the acknowledged ranges into the database, then every acknowledged seq must be stored once
sqlite3 "$DB" <<EOF || fail "loading the acknowledged ranges"
CREATE TEMP TABLE acked(uid TEXT, first INTEGER, last INTEGER);
.mode list
.separator " "
.import $WORK/acked acked
CREATE TABLE IF NOT EXISTS test_kill9_result AS
SELECT
  (SELECT count(*) FROM acked) AS ranges,
  (SELECT sum(last - first + 1) FROM acked) AS acked_events,
  (SELECT count(*) FROM acked a
     WHERE (SELECT count(*) FROM events e JOIN agents g ON g.id = e.agent_id
            WHERE g.uid = a.uid AND e.seq BETWEEN a.first AND a.last)
           != a.last - a.first + 1) AS incomplete,
  (SELECT count(*) FROM events) AS stored,
  (SELECT count(*) FROM (SELECT agent_id, seq FROM events GROUP BY agent_id, seq
                         HAVING count(*) > 1)) AS twice;
EOF
read -r ranges acked_events incomplete stored twice < <(sqlite3 -separator ' ' "$DB" \
    "SELECT ranges, acked_events, incomplete, stored, twice FROM test_kill9_result;")
echo "acknowledged: $ranges batches, $acked_events events; stored: $stored events"
[ "$incomplete" = "0" ] || fail "$incomplete acknowledged batches are not all in the store"
[ "$twice" = "0" ] || fail "$twice events stored twice"
[ "$stored" -ge "$acked_events" ] || fail "fewer events stored than acknowledged"
grep -q "refusals 0" "$WORK/cli.out" || fail "the manager refused batches: $(cat "$WORK/cli.out")"
echo "PASS: $ROUNDS kill -9 rounds, $acked_events acknowledged events all stored exactly once," \
    "integrity ok"
