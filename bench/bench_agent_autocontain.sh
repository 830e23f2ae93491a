#!/bin/bash
# bench_agent_autocontain.sh - issue 5's agent-local path: from the exec of a malicious binary
# to containment in effect, with the real bannin-agent (tier bpf) and no manager round trip.
#   kill_tree: the agent (root namespace, response.autonomous_actions kill_tree) kills each
#              exec of a copy of sleep that matches a critical rule; time = Popen() (fork+exec)
#              -> the child is reaped after SIGKILL.
#   isolate:   ONLY inside a network namespace this script makes: bannind and the agent run
#              in netns bn-autoc-bench-$$ (enrolled on 127.0.0.1), autonomous_actions
#              isolate; time = Popen() -> `nft list table inet bannin_isolate` succeeds in
#              the namespace (polled: adds the ~2-4 ms of one nft run to each figure). After
#              each round the isolation is released (`bannin-agent action release`) and the
#              process killed by this script.
# Prints p50 / p99 / max per mode. Usage: bench_agent_autocontain.sh BUILD_DIR [ROUNDS=30]
# [MODES="kill_tree isolate"]. Root only (eBPF, netns). Goal (issue 5): p99 <= 100 ms.
set -u
BUILD=${1:?build dir}
ROUNDS=${2:-30}
MODES=${3:-kill_tree isolate}
AGENT=$(realpath "$BUILD/bannin-agent")
MGR=$(realpath "$BUILD/bannind" 2> /dev/null || echo "$BUILD/bannind")
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
"$AGENT" --check 2> /dev/null | grep -q '^tier: bpf' || { echo "tier bpf unavailable"; exit 77; }
W=$(mktemp -d /tmp/bn-autoc-bench-XXXXXX)
chmod 755 "$W"
NS=bn-autoc-bench-$$
APID= MPID=
cleanup() {
    for p in $APID $MPID; do kill "$p" 2> /dev/null; done
    for p in $APID $MPID; do wait "$p" 2> /dev/null; done
    ip netns del "$NS" 2> /dev/null
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/rules"
cat > "$W/rules/crit.yml" << EOF
title: Bannin autonomous containment bench
id: 2d0c8a51-autoc-bench-$$
status: test
level: critical
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: $W/bn-autoc-evil
  condition: sel
EOF
cp /bin/sleep "$W/bn-autoc-evil"

cat > "$W/drive.py" << 'EOF'
import os, subprocess, sys, time
mode, rounds, evil, agent, state = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def table():
    return subprocess.run(["nft", "list", "table", "inet", "bannin_isolate"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
lat, misses = [], 0
for i in range(rounds):
    t0 = time.monotonic_ns()
    p = subprocess.Popen([evil, "600"])
    if mode == "kill_tree":
        try:
            p.wait(timeout=10)
            lat.append((time.monotonic_ns() - t0) / 1e6)
        except subprocess.TimeoutExpired:
            misses += 1
            p.kill(); p.wait()
    else:
        deadline = t0 + 10_000_000_000
        while not table() and time.monotonic_ns() < deadline:
            time.sleep(0.002)  # each nft run is an exec the agent sees too: do not flood it
        if table():
            lat.append((time.monotonic_ns() - t0) / 1e6)
        else:
            misses += 1
        p.kill(); p.wait()
        subprocess.run([agent, "action", "release", "{}", "--state-dir", state],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic_ns() + 5_000_000_000
        while table() and time.monotonic_ns() < end:
            time.sleep(0.01)
    time.sleep(0.1)
lat.sort()
def pct(q):
    return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
print("all ms:", " ".join("%.0f" % x for x in lat), file=sys.stderr)
print("%-9s rounds %d contained %d missed %d  p50 %.1f ms  p99 %.1f ms  max %.1f ms" %
      (mode, rounds, len(lat), misses, pct(0.50), pct(0.99), lat[-1] if lat else float("nan")))
EOF

start_agent() { # NAME ACTIONS [prefix...]
    local name=$1 actions=$2
    shift 2
    mkdir -p "$W/$name"
    printf 'collect:\n  files: false\n  auth: false\nlimits:\n  cpu_percent: 800\nresponse:\n  autonomous: true\n  autonomous_actions: %s\n  baseline: false\n' \
        "$actions" > "$W/$name/agent.yml"
    "$@" "$AGENT" --config "$W/$name/agent.yml" --tier bpf --no-builtin-rules --rules "$W/rules" \
        --output "$W/$name/out.ndjson" --spool "$W/$name/spool" --duration 900 \
        ${LINKARGS:-} > "$W/$name/agent.log" 2>&1 &
    APID=$!
    for _ in $(seq 1 150); do
        grep -q '"status":"started"' "$W/$name/out.ndjson" 2> /dev/null && break
        sleep 0.1
    done
    grep -q '"status":"started"' "$W/$name/out.ndjson" || { tail "$W/$name/agent.log"; exit 1; }
    sleep 0.5
}

for mode in $MODES; do
    case $mode in
    kill_tree)
        start_agent kt kill_tree
        python3 "$W/drive.py" kill_tree "$ROUNDS" "$W/bn-autoc-evil" "$AGENT" "$W/kt/respond"
        kill "$APID"; wait "$APID" 2> /dev/null; APID=
        ;;
    isolate)
        [ -x "$MGR" ] || { echo "isolate: $MGR not built"; continue; }
        ip netns add "$NS" || { echo "isolate: no netns"; continue; }
        ip netns exec "$NS" ip link set lo up
        "$MGR" --data "$W/mgr" --init > /dev/null 2>&1
        ip netns exec "$NS" "$MGR" --data "$W/mgr" --listen 127.0.0.1:17443 \
            --api 127.0.0.1:17444 > "$W/bannind.log" 2>&1 &
        MPID=$!
        sleep 1
        ETOK=$("$MGR" --data "$W/mgr" --new-token default --uses 1 2> /dev/null)
        mkdir -p "$W/iso"
        ip netns exec "$NS" "$AGENT" enroll --server 127.0.0.1:17443 --token "$ETOK" \
            --dir "$W/iso/link" > /dev/null 2>&1 || { echo "isolate: enrolment failed"; continue; }
        LINKARGS="--link-dir $W/iso/link" start_agent iso isolate ip netns exec "$NS"
        ip netns exec "$NS" python3 "$W/drive.py" isolate "$ROUNDS" "$W/bn-autoc-evil" \
            "$AGENT" "$W/iso/respond"
        kill "$APID"; wait "$APID" 2> /dev/null; APID=
        # the executor's own time (151 DurationUs), to tell it from detection and polling
        python3 -c '
import json, sys
d = sorted(json.loads(l).get("DurationUs", 0) / 1000 for l in open(sys.argv[1])
           if "\"EventID\":151" in l and "\"Action\":\"isolate\"" in l)
if d:
    print("isolate executor (151 DurationUs): p50 %.1f ms  p99 %.1f ms  max %.1f ms" %
          (d[len(d) // 2], d[min(len(d) - 1, int(0.99 * len(d)))], d[-1]))' "$W/iso/out.ndjson"
        ;;
    esac
done
