#!/bin/bash
# test_agent_spool.sh - kill -9 the spool while it appends, many times: after every kill,
# reopening recovers the directory, every record whose append returned is there exactly
# once with the seq it was given, seqs strictly increase in spool order, and the next
# writer continues above every seq handed out before.
# Usage: test_agent_spool.sh BUILD_DIR (CTest passes it).
set -u
BUILD=${1:?build dir}
BIN=$BUILD/unit_agent_test_spool
if [ ! -x "$BIN" ]; then
    echo "skip: $BIN not built"
    exit 77
fi
WORK=$(mktemp -d /tmp/bn-spool-int-XXXXXX)
WPID=
cleanup() {
    [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

SPOOL=$WORK/spool
ROUNDS=${ROUNDS:-8}
: > "$WORK/acked"
for round in $(seq 1 "$ROUNDS"); do
    # No timeout(1) wrapper: kill -9 must hit the writer itself (it runs until killed).
    "$BIN" --writer "$SPOOL" "r$round" > "$WORK/out.$round" 2> "$WORK/err.$round" &
    WPID=$!
    # Let it write for a varying while, then kill it in the middle of whatever it does.
    sleep "0.$((RANDOM % 4 + 1))"
    kill -9 "$WPID" 2>/dev/null
    wait "$WPID" 2>/dev/null
    WPID=
    [ -s "$WORK/err.$round" ] && fail "writer round $round: $(cat "$WORK/err.$round")"
    # Lines the writer finished printing are appends that returned (a last partial line is not).
    sed -n '/^[0-9][0-9]* r[0-9]* [0-9][0-9]*$/p' "$WORK/out.$round" >> "$WORK/acked"
    n=$(wc -l < "$WORK/out.$round")
    [ "$n" -gt 0 ] || fail "round $round wrote nothing"

    timeout 60 "$BIN" --dump "$SPOOL" > "$WORK/dump" 2> "$WORK/dump.err" ||
        fail "dump after round $round: $(cat "$WORK/dump.err")"
    # Seqs strictly increasing in spool order (no duplicates).
    awk 'NR > 1 && $1 <= prev { print "seq " $1 " after " prev; bad = 1 } { prev = $1 }
         END { exit bad }' "$WORK/dump" || fail "seqs not increasing after round $round"
    # Every returned append is present with its seq and payload.
    missing=$(sort "$WORK/acked" | comm -23 - <(sort "$WORK/dump") | head -5)
    [ -z "$missing" ] || fail "records lost after round $round: $missing"
    # The new round's seqs are above every seq of earlier rounds.
    if [ "$round" -gt 1 ]; then
        first=$(head -1 "$WORK/out.$round" | cut -d' ' -f1)
        [ "$first" -gt "$prev_max" ] || fail "round $round restarted at seq $first <= $prev_max"
    fi
    prev_max=$(tail -1 "$WORK/dump" | cut -d' ' -f1)
    echo "round $round: $n appends returned, $(wc -l < "$WORK/dump") records, $(cat "$WORK/dump.err")"
done
echo "PASS: $(wc -l < "$WORK/acked") acknowledged appends over $ROUNDS kill -9 rounds, all present once"
