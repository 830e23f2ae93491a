#!/usr/bin/env bash
# bench_sensor.sh - offline throughput and memory of the network sensor (`bannin pcap`),
# side by side in one run with nDPI's ndpiReader (Debian libndpi-bin) on the same captures.
#
#   bench/bench_sensor.sh [--update-readme]
#
# Environment: BUILD (release build dir, default build/bench-sensor), WORK (captures and logs,
# default /tmp/bn-bench-sensor), PACKETS (mix size, default 3000000), FLOWS (flows capture,
# default 1000000), RUNS (alternating runs per tool, default 3; the median is reported),
# CMAKE_ARGS (extra configure arguments, e.g. -DBN_WERROR=OFF).
#
# Captures (bench/make_bench_pcap.py, built once into $WORK):
#   mix.pcap          real corpus traffic (suricata-verify dns/tls/http pcaps + Zeek dns/http/tls
#                     traces) replicated with remapped addresses until PACKETS packets
#   flows.pcap        FLOWS concurrent synthetic flows (half DNS over UDP, half HTTP over TCP)
#   flows-small.pcap  the same with FLOWS/100 flows: the baseline for memory per flow
# Figures: packets/s and Gbit/s per core = packets (captured bits) / CPU seconds (user+sys:
# both programs are single-threaded on a file; ndpiReader's wall clock includes ~1 s of
# sleeping at exit, so CPU time is the fair clock); wall-clock figures are printed too.
# Memory per million flows = (peak RSS on flows.pcap - peak RSS on flows-small.pcap) scaled.
# bannin writes its eve NDJSON to a file in $WORK (the records are the point), ndpiReader
# prints its summary (to a log; no per-flow listing without -v). bannin runs with its default
# flow table bound on the mix (evictions are reported) and with room for every flow on the
# flows captures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build/bench-sensor}
WORK=${WORK:-/tmp/bn-bench-sensor}
PACKETS=${PACKETS:-3000000}
FLOWS=${FLOWS:-1000000}
RUNS=${RUNS:-3}
UPDATE_README=0
[ "${1:-}" = "--update-readme" ] && UPDATE_README=1

command -v ndpiReader >/dev/null || { echo "bench_sensor: ndpiReader missing (apt-get install libndpi-bin)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_sensor: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
mkdir -p "$WORK"

echo "== release build in $BUILD" >&2
# shellcheck disable=SC2086
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBN_SANITIZE=OFF ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD" -j2 --target bannin-cli >/dev/null
BANNIN=$BUILD/bannin
[ -x "$BANNIN" ] || BANNIN=$(find "$BUILD" -maxdepth 2 -name bannin -type f -perm -u+x | head -1)
[ -x "$BANNIN" ] || { echo "bench_sensor: no bannin in $BUILD" >&2; exit 2; }

make_pcap() {  # name kind args...
    local name=$1; shift
    if [ ! -s "$WORK/$name.pcap" ] || [ ! -s "$WORK/$name.json" ]; then
        echo "== building $WORK/$name.pcap" >&2
        python3 "$ROOT/bench/make_bench_pcap.py" "$@" -o "$WORK/$name.pcap" > "$WORK/$name.json"
    fi
}
make_pcap mix mix --packets "$PACKETS"
make_pcap flows flows --flows "$FLOWS"
make_pcap flows-small flows --flows $((FLOWS / 100))

jget() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# run TOOL PCAP TAG [bannin options...]: one timed run; prints "wall cpu rss_kb"
run() {
    local tool=$1 pcap=$2 tag=$3 log=$WORK/$3.log
    shift 3
    cat "$pcap" > /dev/null  # page cache warm for both tools
    # the previous run's eve output goes before the timed run: truncating a 265 MB file in
    # bannin's open(O_TRUNC) is the harness's cleanup, not the sensor's work (~0.08 s sys)
    rm -f "$WORK/$tag.eve.json"
    if [ "$tool" = bannin ]; then
        /usr/bin/time -v -o "$log.time" "$BANNIN" pcap "$@" --eve "$WORK/$tag.eve.json" "$pcap" \
            > "$log" 2>&1 || { echo "bench_sensor: bannin failed, see $log" >&2; exit 1; }
    else
        /usr/bin/time -v -o "$log.time" ndpiReader -i "$pcap" > "$log" 2>&1 \
            || { echo "bench_sensor: ndpiReader failed, see $log" >&2; exit 1; }
    fi
    python3 - "$log.time" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def g(rx):
    return re.search(rx, t).group(1)
w = g(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)").split(":")
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
cpu = float(g(r"User time \(seconds\): (\S+)")) + float(g(r"System time \(seconds\): (\S+)"))
print("%.3f %.3f %s" % (wall, cpu, g(r"Maximum resident set size \(kbytes\): (\d+)")))
EOF
}

median() { python3 -c "import statistics,sys; print(statistics.median(map(float, sys.argv[1:])))" "$@"; }

declare -A WALL CPU RSS
for tool in bannin ndpi; do WALL[$tool]=""; CPU[$tool]=""; RSS[$tool]=""; done
echo "== mix.pcap: $RUNS alternating runs per tool" >&2
for i in $(seq 1 "$RUNS"); do
    for tool in bannin ndpi; do
        read -r w c r < <(run "$tool" "$WORK/mix.pcap" "mix-$tool-$i")
        echo "   run $i $tool: wall ${w}s cpu ${c}s rss ${r} KB" >&2
        WALL[$tool]+=" $w"; CPU[$tool]+=" $c"; RSS[$tool]+=" $r"
    done
done
echo "== bannin modes on mix.pcap ($RUNS alternating runs each, median)" >&2
MF_CPU=""; MA_CPU=""
for i in $(seq 1 "$RUNS"); do
    read -r _ c _ < <(run bannin "$WORK/mix.pcap" mix-flows-only --no-app --no-ndr)
    MF_CPU+=" $c"
    read -r _ c _ < <(run bannin "$WORK/mix.pcap" mix-no-ndr --no-ndr)
    MA_CPU+=" $c"
    echo "   run $i: flows only cpu ${MF_CPU##* }s, no detections cpu ${c}s" >&2
done
# shellcheck disable=SC2086
mode_flows=$(median $MF_CPU)
# shellcheck disable=SC2086
mode_app=$(median $MA_CPU)
echo "== flows captures (memory per flow)" >&2
# room for every flow (the default table bound, 65,536, would evict and cap memory)
MF=$((FLOWS * 2)); [ "$MF" -gt 16777216 ] && MF=16777216
read -r _ _ bf < <(run bannin "$WORK/flows.pcap" flows-bannin --max-flows "$MF")
read -r _ _ bs < <(run bannin "$WORK/flows-small.pcap" flows-small-bannin --max-flows "$MF")
read -r _ _ nf < <(run ndpi "$WORK/flows.pcap" flows-ndpi)
read -r _ _ ns < <(run ndpi "$WORK/flows-small.pcap" flows-small-ndpi)

PK=$(jget "$WORK/mix.json" packets)
BY=$(jget "$WORK/mix.json" bytes)
NFL=$(jget "$WORK/flows.json" flows)
NFS=$(jget "$WORK/flows-small.json" flows)
EVE=$WORK/mix-bannin-1.eve.json

python3 - "$PK" "$BY" "$NFL" "$NFS" "$bf" "$bs" "$nf" "$ns" "$EVE" "$WORK" "$RUNS" \
    "${WALL[bannin]}" "${CPU[bannin]}" "${RSS[bannin]}" \
    "${WALL[ndpi]}" "${CPU[ndpi]}" "${RSS[ndpi]}" "$mode_flows" "$mode_app" "$MA_CPU" \
    > "$WORK/result.md" <<'EOF'
import collections, json, re, statistics, sys, datetime, os
(pk, by, nfl, nfs, bf, bs, nf, ns) = [int(x) for x in sys.argv[1:9]]
eve, work, runs = sys.argv[9], sys.argv[10], int(sys.argv[11])
def fl(s): return [float(x) for x in s.split()]
bw, bc, br, nw, nc, nr = (fl(x) for x in sys.argv[12:18])
mode_flows, mode_app = float(sys.argv[18]), float(sys.argv[19])
MA_RAW = sys.argv[20].split()
med = statistics.median
types = collections.Counter()
try:
    with open(eve) as f:
        for line in f:
            m = re.search(r'"event_type":"([a-z_]+)"', line)
            types[m.group(1) if m else "?"] += 1
except OSError:
    pass
def grab(log, rx):
    try:
        t = open(log).read()
    except OSError:
        return "-"
    m = re.search(rx, t)
    return m.group(1).strip() if m else "-"
def ndpi_self(log):
    return grab(log, r"nDPI throughput:\s+(.*)")
def rate(c): return pk / c
def gbps(c): return by * 8 / c / 1e9
bcm, ncm, bwm, nwm = med(bc), med(nc), med(bw), med(nw)
# bytes per flow == MB (10^6 bytes) per million flows
mem_b = (bf - bs) * 1024 / (nfl - nfs)
mem_n = (nf - ns) * 1024 / (nfl - nfs)
src = json.load(open(os.path.join(work, "mix.json")))
print("Run %s UTC on %s (%d cores, load %s); median of %d alternating runs per tool." % (
    datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), os.uname().nodename,
    os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg()), runs))
print("Mix capture: %d packets, %.0f MB captured (%d corpus pcaps x %d replicas)." % (
    pk, by / 1e6, src["sources"], src["replicas"]))
print()
print("| tool | packets/s per core (CPU) | Gbit/s per core | wall-clock packets/s | peak RSS (mix) |")
print("|---|---|---|---|---|")
print("| `bannin pcap --eve` | **%s** | %.2f | %s | %.0f MB |" % (
    format(int(rate(bcm)), ","), gbps(bcm), format(int(pk / bwm), ","), med(br) / 1024))
print("| `ndpiReader` (nDPI 4.2) | %s | %.2f | %s | %.0f MB |" % (
    format(int(rate(ncm)), ","), gbps(ncm), format(int(pk / nwm), ","), med(nr) / 1024))
print()
print("- bannin (everything on) / ndpiReader (CPU time): **%.2fx** (goal >= 2x); bannin packets/s "
      "per core for flows + DNS/TLS/HTTP metadata (`--no-ndr`, the goal's scope): **%s** (goal "
      ">= 2,000,000; raw CPU seconds %s)" % (ncm / bcm, format(int(pk / mode_app), ","),
                                             " ".join(MA_RAW)))
print("- ndpiReader's own figure (processing only, mix run 1): %s" % ndpi_self(
    os.path.join(work, "mix-ndpi-1.log")))
print("- bannin modes (packets/s per core, median of %d runs each): flows only (`--no-app "
      "--no-ndr`) %s; flows + protocol metadata (`--no-ndr`) %s; everything %s" % (runs,
          format(int(pk / mode_flows), ","), format(int(pk / mode_app), ","),
          format(int(rate(bcm)), ",")))
print("- bannin on the mix: flows %s; drops %s" % (
    grab(os.path.join(work, "mix-bannin-1.log"), r"\nflows\s+(.*)"),
    grab(os.path.join(work, "mix-bannin-1.log"), r"\ndrops\s+(.*)")))
print("- ndpiReader on the mix: %s unique flows" % grab(
    os.path.join(work, "mix-ndpi-1.log"), r"Unique flows:\s+(\d+)"))
print("- flows capture: bannin flows %s; ndpiReader %s unique flows" % (
    grab(os.path.join(work, "flows-bannin.log"), r"\nflows\s+(.*)"),
    grab(os.path.join(work, "flows-ndpi.log"), r"Unique flows:\s+(\d+)")))
print("- bannin eve records on the mix: %s" % (", ".join(
    "%s %s" % (k, format(v, ",")) for k, v in types.most_common()) or "none"))
print("- memory per million concurrent flows (peak RSS, %s vs %s flows): bannin **%.0f MB**, "
      "ndpiReader %.0f MB" % (format(nfl, ","), format(nfs, ","), mem_b, mem_n))
print("- raw CPU seconds: bannin %s; ndpiReader %s" % (bc, nc))
EOF
cat "$WORK/result.md"
rm -f "$WORK"/*.eve.json

if [ "$UPDATE_README" = 1 ]; then
    python3 - "$ROOT/bench/README.md" "$WORK/result.md" <<'EOF'
import re, sys
readme, res = sys.argv[1], open(sys.argv[2]).read()
t = open(readme).read()
begin, end = "<!-- sensor:begin -->", "<!-- sensor:end -->"
m = re.search(re.escape(begin) + r".*?" + re.escape(end), t, re.S)
if not m:
    sys.exit("bench_sensor: no sensor section markers in %s" % readme)
head = t[m.start():m.end()]
# Keep the hand-written part of the section; replace only the generated figures.
gb, ge = "<!-- sensor:figures:begin -->", "<!-- sensor:figures:end -->"
if gb in head and ge in head:
    new = re.sub(re.escape(gb) + r".*?" + re.escape(ge), gb + "\n" + res + ge, head, flags=re.S)
else:
    new = head.replace(end, gb + "\n" + res + ge + "\n" + end)
open(readme, "w").write(t[:m.start()] + new + t[m.end():])
EOF
    echo "== bench/README.md sensor section updated" >&2
fi
