#!/bin/bash
# test_agent_kill9.sh - kill -9 the real bannin-agent at random moments while a workload
# makes events, ten times, restarting it each time on the same spool directory. Checks:
#  - everything the spool held just before a kill (a copy taken while the agent ran, read
#    back through the spool API) is still there, byte for byte and with the same seq, after
#    the restart and at the end;
#  - seqs are strictly increasing in spool order, with no duplicates;
#  - each record's "bannin.seq" is its spool seq, and every complete line the agent wrote
#    to --output is in the spool under that seq;
#  - bannin.seq continues across restarts: a restarted agent's first event is numbered
#    above every record spooled by the agents before it.
# The spool is read two ways: the spool API (unit_agent_test_spool --dump: seq + the start
# of each payload) and an independent parser of the on-disk format (spool.h) that yields
# whole payloads; both must agree on the seqs.
# Needs root (BPF, fanotify or the proc connector). Usage: test_agent_kill9.sh BUILD_DIR.
set -u
BUILD=${1:?build dir}
AGENT=$BUILD/bannin-agent
DUMP=$BUILD/unit_agent_test_spool
for b in "$AGENT" "$DUMP"; do
    if [ ! -x "$b" ]; then
        echo "skip: $b not built"
        exit 77
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "skip: bannin-agent needs root (BPF / proc connector / fanotify)"
    exit 77
fi
if ! command -v python3 > /dev/null; then
    echo "skip: python3 is needed to read the spool and the NDJSON"
    exit 77
fi

WORK=$(mktemp -d /tmp/bn-agent-kill9-XXXXXX)
APID=
WLPID=
cleanup() {
    [ -n "$APID" ] && kill -9 "$APID" 2> /dev/null
    [ -n "$WLPID" ] && kill "$WLPID" 2> /dev/null
    wait 2> /dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    exit 1
}

SPOOL=$WORK/spool
ROUNDS=${ROUNDS:-10}

# Reads a spool directory straight from the segment files (format in src/agent/spool.h):
# prints one JSON object per record {"seq":..,"prio":..,"data":"<payload>"} in file order.
cat > "$WORK/spoolread.py" << 'PY'
import json, os, struct, sys, zlib
d = sys.argv[1]
segs = sorted(f for f in os.listdir(d) if f.startswith("seg-") and f.endswith(".bns"))
MAGIC = b"\xb5BNR"
for name in segs:
    buf = open(os.path.join(d, name), "rb").read()
    if buf[:8] != b"BNSPOOL1":
        sys.exit("bad file header in %s" % name)
    off = 16
    while off + 24 <= len(buf):
        if buf[off:off + 4] != MAGIC:
            nxt = buf.find(MAGIC, off + 1)
            if nxt < 0:
                break
            off = nxt
            continue
        plen, seq, prio = struct.unpack_from("<IQB", buf, off + 4)
        crc, = struct.unpack_from("<I", buf, off + 20)
        end = off + 24 + plen
        if end > len(buf) or zlib.crc32(buf[off + 4:off + 20] + buf[off + 24:end]) != crc:
            off += 1  # torn tail or damage: resynchronise on the next magic
            continue
        data = buf[off + 24:end].decode("utf-8", "strict")
        print(json.dumps({"seq": seq, "prio": prio, "data": data}))
        off = end
PY

# Compares an earlier reading (A) with a later one (B) of the spool, and B with itself.
#   check.py A B [OUTPUT_FILE]: every record of A is in B with the same seq and bytes; B's
#   seqs strictly increase; each payload is a JSON object whose bannin.seq is the record's
#   seq; every complete line of OUTPUT_FILE is in B under its bannin.seq.
cat > "$WORK/check.py" << 'PY'
import json, os, sys
def load(p):
    return [json.loads(l) for l in open(p, encoding="utf-8")]
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = []
prev = 0
byseq = {}
for r in b:
    if r["seq"] <= prev:
        bad.append("seq %d after %d" % (r["seq"], prev))
    prev = r["seq"]
    byseq[r["seq"]] = r["data"]
    ev = json.loads(r["data"])
    if not isinstance(ev, dict) or ev.get("bannin.seq") != r["seq"]:
        bad.append("record %d carries bannin.seq %r" % (r["seq"], ev.get("bannin.seq")))
for r in a:
    if byseq.get(r["seq"]) != r["data"]:
        bad.append("record %d seen before is %s" %
                   (r["seq"], "gone" if r["seq"] not in byseq else "changed"))
if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
    # (no output file: the agent was killed during start-up, before it opened it)
    raw = open(sys.argv[3], "rb").read()
    lines = raw.split(b"\n")
    for l in lines[:-1]:  # the last piece is a partial line (or empty)
        ev = json.loads(l.decode("utf-8"))
        s = ev["bannin.seq"]
        if byseq.get(s) != l.decode("utf-8"):
            bad.append("output line with bannin.seq %d is not in the spool as written" % s)
for m in bad[:10]:
    print(m)
sys.exit(1 if bad else 0)
PY

# spool API reading vs the format reader: same seqs, same payload prefixes.
api_vs_raw() { # DIR NAME
    local dir=$1 name=$2
    timeout 60 "$DUMP" --dump "$dir" > "$WORK/$name.api" 2> "$WORK/$name.api.err" ||
        fail "$name: spool API cannot read the spool: $(cat "$WORK/$name.api.err")"
    python3 "$WORK/spoolread.py" "$dir" > "$WORK/$name.raw" ||
        fail "$name: cannot parse the spool files"
    python3 - "$WORK/$name.api" "$WORK/$name.raw" << 'PY' || fail "$name: spool API and format reader disagree"
import json, sys
api = [l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1], encoding="utf-8")]
raw = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if len(api) != len(raw):
    sys.exit("api %d records, raw %d" % (len(api), len(raw)))
for (s, pfx), r in zip(api, raw):
    if int(s) != r["seq"] or not r["data"].startswith(pfx):
        sys.exit("record %s differs" % s)
PY
}

# Workload: execs and file writes under /tmp (files.include), bounded.
mkdir -p "$WORK/wl"
timeout 300 bash -c '
    i=0
    while :; do
        /bin/true "kill9-workload-$i"
        echo "$i" > "'"$WORK"'/wl/f.$((i % 8))"
        i=$((i + 1))
        sleep 0.01
    done' > /dev/null 2>&1 &
WLPID=$!

: > "$WORK/all.raw"
prev_max=0
rounds_with_output=0
for round in $(seq 1 "$ROUNDS"); do
    # No timeout(1) wrapper: kill -9 must hit the agent itself. --duration bounds it if the
    # test dies before killing it.
    "$AGENT" --output "$WORK/out.$round" --spool "$SPOOL" --duration 120 \
        > "$WORK/stdout.$round" 2> "$WORK/err.$round" &
    APID=$!
    # A random moment: from during start-up to a few seconds of running.
    sleep "$((RANDOM % 3)).$((RANDOM % 10))"
    kill -0 "$APID" 2> /dev/null || fail "round $round: agent died by itself: $(tail -5 "$WORK/err.$round")"
    # What the spool holds just before the kill (read-only copy; the agent keeps writing).
    rm -rf "$WORK/snap"
    cp -a "$SPOOL" "$WORK/snap" 2> /dev/null || mkdir -p "$WORK/snap"
    sleep "0.0$((RANDOM % 10))"
    kill -9 "$APID"
    wait "$APID" 2> /dev/null
    APID=
    if ls "$WORK/snap"/seg-*.bns > /dev/null 2>&1; then
        api_vs_raw "$WORK/snap" "snap.$round"
    else
        : > "$WORK/snap.$round.raw"
    fi
    # After the kill, before the restart: a copy, so the agent itself recovers the torn tail.
    rm -rf "$WORK/dead"
    cp -a "$SPOOL" "$WORK/dead" 2> /dev/null || mkdir -p "$WORK/dead"
    if ls "$WORK/dead"/seg-*.bns > /dev/null 2>&1; then
        api_vs_raw "$WORK/dead" "dead.$round"
    else
        : > "$WORK/dead.$round.raw"
    fi
    python3 "$WORK/check.py" "$WORK/snap.$round.raw" "$WORK/dead.$round.raw" "$WORK/out.$round" ||
        fail "round $round: records spooled before the kill are missing or altered"
    python3 "$WORK/check.py" "$WORK/all.raw" "$WORK/dead.$round.raw" ||
        fail "round $round: records of earlier rounds are missing or altered"
    # bannin.seq continues: this agent's first output line is above every earlier record.
    first=$(head -1 "$WORK/out.$round" 2> /dev/null | python3 -c '
import json, sys
l = sys.stdin.readline()
try:
    print(json.loads(l)["bannin.seq"])
except Exception:
    print(0)')
    if [ "$first" != 0 ]; then
        rounds_with_output=$((rounds_with_output + 1))
        [ "$first" -gt "$prev_max" ] ||
            fail "round $round: restarted agent numbered its first event $first <= $prev_max"
    fi
    cp "$WORK/dead.$round.raw" "$WORK/all.raw"
    n=$(wc -l < "$WORK/all.raw")
    new_max=$(tail -1 "$WORK/all.raw" | python3 -c 'import json,sys; l=sys.stdin.readline(); print(json.loads(l)["seq"] if l.strip() else 0)')
    echo "round $round: killed; snapshot $(wc -l < "$WORK/snap.$round.raw") records, spool $n records (seq up to $new_max), first new seq $first"
    prev_max=$new_max
done

# A last clean run recovers the spool once more and must keep everything.
"$AGENT" --output "$WORK/out.final" --spool "$SPOOL" --duration 2 > /dev/null 2> "$WORK/err.final" &
APID=$!
wait "$APID"
rc=$?
APID=
[ "$rc" = 0 ] || fail "final clean run exited $rc: $(tail -5 "$WORK/err.final")"
api_vs_raw "$SPOOL" final
python3 "$WORK/check.py" "$WORK/all.raw" "$WORK/final.raw" "$WORK/out.final" ||
    fail "final run: earlier records missing or altered"
first=$(head -1 "$WORK/out.final" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["bannin.seq"])')
[ "$first" -gt "$prev_max" ] || fail "final run numbered its first event $first <= $prev_max"
grep -q '"status":"stopping"' "$WORK/out.final" || fail "final run did not stop cleanly"

total=$(wc -l < "$WORK/final.raw")
[ "$rounds_with_output" -ge 3 ] || fail "only $rounds_with_output of $ROUNDS rounds produced events"
[ "$total" -gt 20 ] || fail "only $total records spooled"
echo "PASS: $ROUNDS kill -9 rounds ($rounds_with_output with events), $total records in the spool, seqs strictly increasing, nothing spooled before a kill lost, bannin.seq continued across every restart"
