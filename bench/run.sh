#!/usr/bin/env bash
# run.sh - the `bannin hunt` benchmarks (see bench/README.md). Usage: bench/run.sh [BUILD_DIR]
# Needs a release build (make bench builds one) and, for the SigmaHQ figures,
# ../shared/corpora beside the checkout. Writes its data under bench/out/ (not committed).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
out=bench/out
corpora=${BN_CORPORA:-../shared/corpora}
mkdir -p "$out"
n=${BENCH_EVENTS:-300000}
sig=$corpora/sigma/rules
all_rules=(-r "$sig/rules" -r "$sig/rules-emerging-threats" -r "$sig/rules-threat-hunting"
           -r "$sig/rules-compliance" -r "$sig/rules-dfir")

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
[ -f "$out/windows.ndjson" ] || python3 bench/gen_events.py windows "$n" "$out/windows.ndjson" "$corpora"
[ -f "$out/linux.ndjson" ] || python3 bench/gen_events.py linux "$n" "$out/linux.ndjson" "$corpora"
ls -l "$out/windows.ndjson" "$out/linux.ndjson" | awk '{print "   input", $9, $5, "bytes"}'

hunt() { # hunt LABEL THREADS FILE RULES...
  local label=$1 j=$2 file=$3; shift 3
  /usr/bin/time -f "%e %M" -o "$out/time.txt" "$build/bannin" hunt --no-progress -j"$j" "$@" \
    --json -o /dev/null "$file" 2> "$out/summary.txt"
  local ev rate rss wall load
  read -r wall rss < <(tail -n 1 "$out/time.txt")
  rate=$(grep -oE '\(([0-9,]+) events/s' "$out/summary.txt" | tr -dc '0-9')
  load=$(grep -oE 'in [0-9.]+ s;|in [0-9.]+ s$' "$out/summary.txt" | head -1)
  ev=$(grep -oE '[0-9,]+ events,' "$out/summary.txt" | head -1)
  printf '   %-44s %2s thr  %10s events/s  wall %6.2f s  peak RSS %6.1f MB  (%s rules %s)\n' \
    "$label" "$j" "$(printf "%'d" "$rate")" "$wall" "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" \
    "$(grep -oE '^  rules +[0-9]+' "$out/summary.txt" | tr -dc '0-9')" "$load"
}

if [ -d "$sig/rules" ]; then
  echo "== end to end: bannin hunt, JSON alerts to /dev/null"
  hunt "SigmaHQ all rules, Windows Sysmon NDJSON" 1 "$out/windows.ndjson" "${all_rules[@]}"
  hunt "SigmaHQ all rules, Windows Sysmon NDJSON" 2 "$out/windows.ndjson" "${all_rules[@]}"
  hunt "SigmaHQ linux + ours, Linux process NDJSON" 1 "$out/linux.ndjson" -r "$sig/rules/linux" -r rules/linux
  hunt "SigmaHQ linux + ours, Linux process NDJSON" 2 "$out/linux.ndjson" -r "$sig/rules/linux" -r rules/linux
  echo "== rule load + compile (all SigmaHQ rules)"
  for i in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$build/bannin" rules check "${all_rules[@]}" > "$out/check.txt" 2>&1
    read -r wall rss < <(tail -n 1 "$out/time.txt")
    echo "   run $i: $(tail -n +2 "$out/check.txt" | grep -E '^[0-9]+ rules:' ) wall ${wall} s, peak RSS $((rss / 1024)) MB"
  done
  echo "== matcher only, fast vs naive (bench_engine)"
  "$build/bench_engine" "$sig/rules" "$sig/rules-emerging-threats" "$sig/rules-threat-hunting" \
    "$sig/rules-compliance" "$sig/rules-dfir" 2>&1 | sed 's/^/   /'
  if [ -x "$build/bench_mapping" ]; then
    echo "== record -> event mapping (bench_mapping)"
    "$build/bench_mapping" "$out/windows.ndjson" 2>&1 | sed 's/^/   /'
  fi
else
  echo "(no SigmaHQ rules at $sig: skipping the SigmaHQ benchmarks)"
fi
echo "== JSON reader alone (bench_json)"
"$build/bench_json" "$out/windows.ndjson" 2>&1 | sed 's/^/   /'
