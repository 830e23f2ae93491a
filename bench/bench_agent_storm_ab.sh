#!/bin/bash
# bench_agent_storm_ab.sh - exec-storm cost of one or more bannin-agent builds, paired per round
# (see bench/README.md, "bannin-agent overhead"). As root:
#
#   bench/bench_agent_storm_ab.sh ROUNDS N AGENT...
#
# Each round runs the storm (N x posix_spawn + wait of a copy of /bin/true outside the
# temporary directories, after 500 untimed spawns) without an agent and with each AGENT (a
# bannin-agent binary, or a wrapper that execs one, e.g. under `nice -n 5`), in an order that
# rotates every round; every AGENT run starts a fresh agent (default configuration, --output
# to a temporary file) and waits for its "started" status. Reports per AGENT: medians of the
# storm's wall clock and CPU (user+sys of its process tree), the paired per-round median of
# agent/none - 1 with a bootstrap 95 % confidence interval, the mean, and the agent's CPU
# ticks per run (start-up included).
set -u
[ $# -ge 3 ] || { sed -n 2,14p "$0" >&2; exit 2; }
rounds=$1 n=$2; shift 2
agents=("$@")
repo=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/bn_storm_ab.XXXXXX)
exedir=/var/lib/bn_storm_ab.$$
apid=
cleanup() {
    [ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
    rm -rf "$tmp" "$exedir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
gcc -O2 -o "$tmp/drv" "$repo/bench/agent_drv.c" || exit 1
mkdir -p "$exedir" && cp /bin/true "$exedir/bn_true" || exit 1
res=$tmp/rounds.txt
: > "$res"
nm=$((${#agents[@]} + 1))
for r in $(seq 1 "$rounds"); do
    for k in $(seq 0 $((nm - 1))); do
        m=$(((k + r) % nm))
        apid=
        if [ "$m" -gt 0 ]; then
            out=$tmp/agent.ndjson
            rm -f "$out"
            "${agents[$((m - 1))]}" --output "$out" --duration 600 2> "$tmp/agent.err" &
            apid=$!
            for _ in $(seq 200); do
                grep -q '"status":"started"' "$out" 2>/dev/null && break
                kill -0 "$apid" 2>/dev/null || { echo "agent did not start:" >&2; cat "$tmp/agent.err" >&2; exit 1; }
                sleep 0.05
            done
            sleep 0.5
        fi
        "$tmp/drv" exec 500 "$exedir/bn_true" > /dev/null
        read -r w c _ < <("$tmp/drv" cpu "$tmp/drv" exec "$n" "$exedir/bn_true")
        a=0
        if [ -n "$apid" ]; then
            a=$(awk '{print $14 + $15}' "/proc/$apid/stat")
            kill -TERM "$apid"
            wait "$apid" 2>/dev/null
            apid=
        fi
        echo "$r $m $w $c $a" >> "$res"
    done
done
python3 - "$res" "$nm" "${agents[@]}" <<'PY'
import random, statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
nm, names = int(sys.argv[2]), sys.argv[3:]
d = {}
for r, m, w, c, a in rows:
    d.setdefault(int(r), {})[int(m)] = (float(w), float(c), float(a))
random.seed(1)
def ci(x):
    bs = sorted(st.median(random.choices(x, k=len(x))) for _ in range(4000))
    return bs[100], bs[3899]
print("rounds %d; storm without agent: median wall %.3f s, CPU %.3f s" % (
    len(d), st.median(v[0][0] for v in d.values()), st.median(v[0][1] for v in d.values())))
for m in range(1, nm):
    print("%s:" % names[m - 1])
    for i, what in ((0, "wall"), (1, "cpu")):
        rat = [(v[m][i] / v[0][i] - 1) * 100 for v in d.values()]
        lo, hi = ci(rat)
        print("  %-4s median %.3f s; paired median %+.1f %% (95 %% CI %+.1f .. %+.1f), mean %+.1f %%" % (
            what, st.median(v[m][i] for v in d.values()), st.median(rat), lo, hi, st.mean(rat)))
    print("  agent CPU ticks per run (start included): median %.0f" % st.median(v[m][2] for v in d.values()))
PY
