#!/bin/bash
# bench_ingest_matrix.sh - bannind end to end (bench_ingest over mutual TLS on loopback) for
# each store layout (schema 6 event blocks, and the row layout before it), with and without
# central detection, with 100 and 1,000 agents. One fresh data directory per run; prints one
# line per run: events/s acknowledged (= durably stored), the bench's send -> ack p50/p99,
# bannind's batch receipt -> durable p50/p99 (with detection on, the same commit makes the
# batch's alerts durable) and receipt -> alert p99 (batches that raised one: with detection on
# every 5000th event is one a shipped rule alerts on), bannind CPU per event in the timed
# window (all its threads), the bench client's CPU per event, bytes on disk per event,
# bannind peak RSS.
#
#   bench/bench_ingest_matrix.sh [BUILD_DIR] [SECONDS]      (default build/release, 10 s)
#   LAYOUTS="blocks rows" DETECT="off on" SETUPS="100:1000 1000:200" (agents:batch) override
#   WRITER="off on": bannind without / with --writer-thread (default: off only)
#   SYNC="pipeline inline": the sync pipeline (default) / --sync-inline (before it)
#   DTHREAD="thread inline": central detection on its own thread (--detect-thread, the
#   default) / on the link thread (--detect-inline, before it); default: bannind's default
#   DETLOG=1: also print bannind's central detection counters after each run
#   GROUP_MS=N: bannind --group-ms N; RATE=E: bench_ingest --rate E (paced, not saturating)
#
# Everything runs on 127.0.0.1; the bench client shares the machine's cores with bannind.
set -u
B=${1:-build/release}
S=${2:-10}
LAYOUTS=${LAYOUTS:-"blocks rows"}
DETECT=${DETECT:-"off on"}
SETUPS=${SETUPS:-"100:1000 1000:200"}
WRITER=${WRITER:-off}
SYNC=${SYNC:-pipeline}
DTHREAD=${DTHREAD:-default}
GROUP_MS=${GROUP_MS:-}
RATE=${RATE:-}
for x in bannind bench_ingest; do
    [ -x "$B/$x" ] || { echo "bench_ingest_matrix: no $B/$x (build it first)" >&2; exit 2; }
done
TMP=$(mktemp -d /tmp/bn-ingest-matrix.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

printf '%-7s %-6s %-8s %-6s %-7s %-6s %-6s %9s %8s %8s %7s %7s %7s %9s %8s %6s %6s\n' layout \
    writer sync detect det-at agents batch 'events/s' 'ack p50' 'ack p99' 'rx p50' 'rx p99' 'al p99' \
    'cpu us/ev' 'cli us' 'B/ev' 'RSS MB'
for setup in $SETUPS; do
    N=${setup%%:*}
    BT=${setup##*:}
    for det in $DETECT; do
        for lay in $LAYOUTS; do
          for wr in $WRITER; do
          for sy in $SYNC; do
          for dt in $DTHREAD; do
            D="$TMP/data"
            A="$TMP/agents"
            rm -rf "$D" "$A"
            mkdir -p "$D" "$A"
            PORT=$((20000 + RANDOM % 20000))
            "$B/bannind" --data "$D" --init >/dev/null 2>&1
            T=$("$B/bannind" --data "$D" --new-token default --uses $((N + 10)) 2>/dev/null |
                tail -1)
            args=(--data "$D" --listen "127.0.0.1:$PORT" --api off --store-layout "$lay")
            [ "$det" = off ] && args+=(--no-detect)
            [ "$wr" = on ] && args+=(--writer-thread)
            [ "$sy" = inline ] && args+=(--sync-inline)
            [ "$dt" = thread ] && args+=(--detect-thread)
            [ "$dt" = inline ] && args+=(--detect-inline)
            [ -n "$GROUP_MS" ] && args+=(--group-ms "$GROUP_MS")
            bargs=()
            [ "$det" = on ] && bargs+=(--alert-every 5000)
            [ -n "$RATE" ] && bargs+=(--rate "$RATE")
            "$B/bannind" "${args[@]}" >"$TMP/bannind.log" 2>&1 &
            PID=$!
            for _ in $(seq 50); do
                grep -q 'agents on' "$TMP/bannind.log" && break
                sleep 0.1
            done
            "$B/bench_ingest" --server "127.0.0.1:$PORT" --token "$T" --dir "$A" --agents "$N" \
                --threads 2 --batch "$BT" --seconds "$S" --events 1000000000 "${bargs[@]}" \
                >"$TMP/bench.out" 2>&1 &
            BP=$!
            while kill -0 $BP 2>/dev/null && ! grep -qs 'sessions open' "$TMP/bench.out"; do
                sleep 0.05
            done
            s0=$(ticks "$PID")
            wait $BP
            s1=$(ticks "$PID")
            rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$PID/status")
            kill "$PID"
            wait "$PID" 2>/dev/null
            PID=
            line=$(grep 'events acknowledged in' "$TMP/bench.out")
            acked=$(echo "$line" | sed -E 's/.*: ([0-9]+) events acknowledged.*/\1/')
            rate=$(echo "$line" | sed -E 's/.*= ([0-9]+) events\/s.*/\1/')
            p50=$(sed -nE 's/.*p50 ([0-9.]+) ms.*/\1/p' "$TMP/bench.out")
            p99=$(sed -nE 's/.*p99 ([0-9.]+) ms.*/\1/p' "$TMP/bench.out")
            bytes=$(du -sb "$D" | cut -f1)
            # CPU of the timed window only (sessions are opened before it)
            cpu=$(python3 -c "a=${acked:-0}; print(round(($s1-$s0)/$HZ*1e6/a, 2) if a else '-')")
            bpe=$(python3 -c "a=${acked:-0}; print(int($bytes/a) if a else '-')")
            rx=$(grep 'receipt -> durable' "$TMP/bannind.log" | grep -o 'p50 [0-9]* ms, p99 [0-9]* ms')
            rx50=$(echo "$rx" | sed -nE 's/p50 ([0-9]+) ms.*/\1/p')
            rx99=$(echo "$rx" | sed -nE 's/.*p99 ([0-9]+) ms/\1/p')
            al99=$(grep 'receipt -> alert' "$TMP/bannind.log" | sed -nE 's/.*p99 ([0-9]+) ms.*/\1/p')
            cli=$(sed -nE 's/bench client CPU: ([0-9.]+) us.*/\1/p' "$TMP/bench.out")
            printf '%-7s %-6s %-8s %-6s %-7s %-6s %-6s %9s %8s %8s %7s %7s %7s %9s %8s %6s %6s\n' \
                "$lay" "$wr" "$sy" "$det" "$dt" "$N" "$BT" "${rate:--}" "${p50:--}" "${p99:--}" \
                "${rx50:--}" "${rx99:--}" "${al99:--}" "$cpu" "${cli:--}" "$bpe" "${rss:--}"
            [ -n "${DETLOG:-}" ] && grep -h 'central detection: [0-9]* events' "$TMP/bannind.log"
          done
          done
          done
        done
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
