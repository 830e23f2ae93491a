#!/usr/bin/env bash
# bench_agent.sh - what bannin-agent costs the machine it watches (see bench/README.md,
# section "bannin-agent"). Usage, as root:
#
#   bench/bench_agent.sh [BUILD_DIR]        (default build/release; RelWithDebInfo is fine)
#
# 0. syscall cost (in the calling process, where the eBPF programs run): a getppid() loop, an
#    open+close read-only loop and an open-for-write+close loop outside the watched prefixes,
#    without the agent, with its raw sys_enter/sys_exit programs (collect.bpf_syscalls: raw)
#    and with its per-syscall tracepoints (the default), alternating SYSREPS times (default 5).
# Then, with and without the agent (tier 1 eBPF, default configuration, --output to a
# file under /tmp), alternating and repeated REPS times (default 5; medians and min-max):
# each workload's wall clock AND its own CPU time (user+sys of its whole process tree, from
# wait4: the eBPF programs run in the workload's context, so their cost shows there even
# when wall clock is noise), plus the agent's CPU and peak RSS, and the paired estimate: the
# median of the per-repetition slowdowns (a repetition's two runs are adjacent in time) with
# its bootstrap 95 % CI, for wall clock, for the workload's CPU and for the machine's CPU (the
# workload's plus the agent's: what a fully loaded machine gives up).
#   1. exec storm: 20,000 short processes (a C loop: posix_spawn + wait of a copy of /bin/true
#      outside the temporary directories); 1b. the same from /tmp, where each exec also raises
#      a local alert (rule "Process Executed From A Temporary Directory")
#   2. file storm: create + write + close + unlink of 20,000 files in a directory under /tmp
#      (a default files.include prefix, so every operation is reported)
#   2b. syscall-heavy dd: dd if=/dev/zero of=/dev/null bs=1 count=DDCOUNT (default 2,000,000:
#      4 M read/write syscalls no program watches; they pay only the syscall-tracing slow path
#      that any syscall tracepoint puts every process on), the workload of Falco's published
#      "dd slowed 55 %" anchor
#   3. build-like: make -j2 of this repo's src/common and src/input with gcc -O0 -c (PASSES times)
#   4. sustained exec rate: a 632-byte static binary that only calls exit (built here with
#      -nostdlib), spawned with vfork+execve by DRIVERS processes (default 4) paced at 1k,
#      2k, 5k, 10k /s and unpaced ("max") for ~RATE_SECS s each (first the machine's own exec
#      capacity without the agent); a rate passes when every exec is in the
#      output, the heartbeat's shed is 0 and the ring buffer drop counter (read with bpftool)
#      is 0. Exit events are "normal" priority and may be sampled over the CPU budget
#      (limits.cpu_percent, 5 by default): they are counted and shown, and the rates are run
#      a second time with limits.cpu_percent: 100 to show what the budget costs.
# The agent's own CPU comes from /proc/<pid>/stat (all threads), its peak RSS from VmHWM.
# Tunables (environment): REPS, SYSREPS, EXECS, FILES, PASSES, RATES, RATE_SECS, DRIVERS,
# DDCOUNT, SECTIONS (default "0 1 1b 2 2b 3 4"), KEEP=1 (keep /tmp data), EXEDIR (where the storm's
# binaries are copied; default the build dir, never a temporary one).
# Needs root, gcc, make, python3; bpftool for the ring-buffer counter (else "n/a").
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${1:-build/release}
REPS=${REPS:-5}
SYSREPS=${SYSREPS:-5}
DRIVERS=${DRIVERS:-4}
SECTIONS=" ${SECTIONS:-0 1 1b 2 2b 3 4} "
EXECS=${EXECS:-20000}
FILES=${FILES:-20000}
DDCOUNT=${DDCOUNT:-2000000}
PASSES=${PASSES:-10}
RATES=${RATES:-"1000 2000 5000 10000 max"}
RATE_SECS=${RATE_SECS:-5}

if [ "$(id -u)" != 0 ]; then
    echo "bench_agent: needs root (the agent loads eBPF programs)" >&2
    exit 77
fi
for t in gcc make python3; do
    command -v $t >/dev/null || { echo "bench_agent: needs $t" >&2; exit 77; }
done
if [ ! -x "$build/bannin-agent" ]; then
    [ -f "$build/CMakeCache.txt" ] ||
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
    cmake --build "$build" -j2 --target bannin-agent >/dev/null || exit 1
fi
agent_bin=$(realpath "$build/bannin-agent")
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)

tmp=$(mktemp -d /tmp/bn_bench_agent.XXXXXX)
apid=
cleanup() {
    if [ -n "$apid" ] && kill -0 "$apid" 2>/dev/null; then
        kill -TERM "$apid" 2>/dev/null
        sleep 1
        kill -KILL "$apid" 2>/dev/null
    fi
    [ -n "${exedir:-}" ] && rm -rf "$exedir"
    [ -n "${wfile:-}" ] && rm -f "$wfile"
    [ "${KEEP:-0}" = 1 ] && { echo "data kept in $tmp"; return; }
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the drivers (bench/agent_drv.c, compiled here) ----
gcc -O2 -o "$tmp/drv" "$repo/bench/agent_drv.c" || exit 1
# the exec-storm targets: copies of /bin/true under names we can count in the agent's output,
# one outside the temporary directories (an ordinary process storm) and one in /tmp, where
# the rule "Process Executed From A Temporary Directory" makes every exec an alert too
cp /bin/true "$tmp/bn_true"
exedir=${EXEDIR:-$(realpath "$build")}/bench_agent.$$
case $exedir in /tmp/*|/var/tmp/*|/dev/shm/*)
    echo "bench_agent: $exedir is a temporary directory: set EXEDIR to another one" >&2; exit 1 ;;
esac
mkdir -p "$exedir" && cp /bin/true "$exedir/bn_true" || exit 1
# the rate target: a static binary that only exits (the cheapest exec there is: one
# read-only page, no interpreter, no libc), outside the temporary directories
printf '%s\n' 'void _start(void){__asm__ volatile("mov $60,%eax\n xor %edi,%edi\n syscall");}' \
    > "$tmp/tiny.c"
gcc -O2 -static -nostdlib -s -Wl,--build-id=none -Wl,-z,noseparate-code \
    -o "$exedir/bn_tiny" "$tmp/tiny.c" || exit 1
# section 0's open-for-write target: outside every default files.include prefix
wfile=/run/bn_bench_agent.$$

# ---- the build-like project: src/common + src/input, gcc -O0 -c, make -j2 ----
mkdir -p "$tmp/proj"
{
    echo "SRCS := $(ls "$repo"/src/common/*.c "$repo"/src/input/*.c | tr '\n' ' ')"
    echo "OBJS := \$(patsubst $repo/%.c,obj/%.o,\$(SRCS))"
    echo "all: \$(OBJS)"
    echo "obj/%.o: $repo/%.c"
    printf '\t@mkdir -p $(dir $@) && gcc -O0 -std=gnu11 -D_GNU_SOURCE -DBN_SOURCE_DIR=\\"%s\\" ' "$repo"
    printf -- '-DBN_VERSION=\\"0\\" -I%s/include -I%s/src -isystem /usr/include/hs -c $< -o $@\n' "$repo" "$repo"
} > "$tmp/proj/Makefile"

# ---- helpers ----
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# context switches (voluntary + involuntary) of all the agent's threads: its wakeups
ctx_sw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {t += $2} END {print t + 0}'; }
hz=$(getconf CLK_TCK)
out=$tmp/agent.ndjson

# Ring-buffer drop counter (index 0 of the eBPF "counters" map) of agent PID, or n/a. The
# map is found through the agent's own file descriptors (fdinfo map_id), not by name alone:
# other agents may run on the machine.
rb_drops() {
    command -v bpftool >/dev/null || { echo n/a; return; }
    local id= i
    for i in $(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '/^map_id:/ {print $2}' | sort -un); do
        if bpftool -j map show id "$i" 2>/dev/null | grep -q '"name":"counters"'; then
            id=$i
            break
        fi
    done
    [ -n "$id" ] || { echo n/a; return; }
    bpftool -j map lookup id "$id" key 0 0 0 0 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(int(v["value"]) for v in d["formatted"]["values"]))' 2>/dev/null || echo n/a
}

agent_start() { # [CONFIG_FILE]
    rm -f "$out"
    # --duration bounds the agent even if this script dies without its trap
    "$agent_bin" ${1:+--config "$1"} --output "$out" --duration 900 2> "$tmp/agent.err" &
    apid=$!
    for _ in $(seq 200); do
        grep -q '"status":"started"' "$out" 2>/dev/null && break
        kill -0 "$apid" 2>/dev/null || { echo "agent did not start:"; cat "$tmp/agent.err"; exit 1; }
        sleep 0.05
    done
    sleep 0.5
    tier=$(grep -m1 '"status":"started"' "$out" | grep -o '"bannin.tier":"[a-z]*"' | cut -d'"' -f4)
    [ "$tier" = bpf ] || echo "   WARNING: the agent runs tier '$tier', not bpf"
}
# Waits until the agent has written WANT events whose Image is IMAGE (EventID EID), at most
# 20 s, or until the count stops growing for 2 s; prints the count.
agent_wait_count() { # EID IMAGE WANT
    local n=-1 last=-1 still=0
    for _ in $(seq 200); do
        n=$(grep -c "^{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":$1,.*\"Image\":\"$2\"" "$out" 2>/dev/null)
        [ "$n" -ge "$3" ] && break
        if [ "$n" = "$last" ]; then still=$((still + 1)); [ $still -ge 20 ] && break
        else still=0; fi
        last=$n
        sleep 0.1
    done
    echo "$n"
}
agent_stop() { # sets SHED and SAMPLED from the final heartbeat (not in a subshell: wait)
    kill -TERM "$apid" 2>/dev/null
    wait "$apid" 2>/dev/null
    apid=
    read -r SHED SAMPLED < <(grep '"status":"heartbeat"' "$out" | tail -1 | python3 -c '
import json, sys
try:
    h = json.loads(sys.stdin.read())
    print(h.get("shed", "?"), h.get("sampled", "?"))
except Exception:
    print("? ?")')
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
spread() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.4g-%.4g", lo, hi}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f", (b - a) / a * 100}'; }
# paired "A1 A2 .. / B1 B2 ..": the median of the per-repetition slowdowns (Bi / Ai - 1, %) and
# its bootstrap 95 % CI as "median lo hi": runs of one repetition are adjacent in time, so the
# pairs cancel this host's slow drifts that unpaired medians of a few runs do not
paired() {
    python3 -c 'import random, statistics as st, sys
a, b = [[float(x) for x in s.split()] for s in sys.argv[1:3]]
r = [(y / x - 1) * 100 for x, y in zip(a, b)]
random.seed(1)
bs = sorted(st.median(random.choices(r, k=len(r))) for _ in range(4000))
print("%+.1f %+.1f %+.1f" % (st.median(r), bs[100], bs[3899]))' "$1" "$2"
}

echo "== bannin-agent overhead: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "   agent $agent_bin (build type ${btype:-?}), load before: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ $SECTIONS == *" 0 "* ]]; then
    echo "== 0. syscall cost in the calling process (CPU ns per operation; $SYSREPS alternating rounds, median and min-max)"
    echo "      getppid: a syscall no program watches; open_ro: open read-only + close (both watched, stopped at entry);"
    echo "      open_w: open for write + close of $wfile (watched; outside files.include, so dropped at entry since 2026-11-26)"
    printf 'collect:\n  bpf_syscalls: raw\n' > "$tmp/raw.yml"
    printf 'collect:\n  bpf_syscalls: tracepoint\n' > "$tmp/tp.yml"
    declare -A S
    : > "$wfile"
    modes=(none raw tp)
    for r in $(seq "$SYSREPS"); do
        for i in 0 1 2; do
            m=${modes[$(( (i + r) % 3 ))]}
            [ "$m" != none ] && agent_start "$tmp/$m.yml"
            for k in getppid open_ro open_w; do
                case $k in getppid) n=2000000 ;; *) n=200000 ;; esac
                S[$m.$k]+=" $("$tmp/drv" sys "$k" "$n" "$wfile" | cut -d' ' -f3)"
            done
            [ "$m" != none ] && agent_stop
        done
    done
    for k in getppid open_ro open_w; do
        # shellcheck disable=SC2086
        printf '   %-8s no agent %7.0f ns (%s)   raw sys_enter/exit %7.0f ns (%s, %s)   per-syscall tracepoints %7.0f ns (%s, %s)\n' "$k" \
            "$(median ${S[none.$k]})" "$(spread ${S[none.$k]})" \
            "$(median ${S[raw.$k]})" "$(spread ${S[raw.$k]})" "$(pct "$(median ${S[none.$k]})" "$(median ${S[raw.$k]})")%" \
            "$(median ${S[tp.$k]})" "$(spread ${S[tp.$k]})" "$(pct "$(median ${S[none.$k]})" "$(median ${S[tp.$k]})")%"
    done
    echo "   load now: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

echo "   workloads: $REPS repetitions alternating without/with (order flipped every repetition); medians (min-max)"
# run_workload KIND -> prints "<wall s> <CPU s of the workload's process tree>"
run_workload() {
    case $1 in
    exec) "$tmp/drv" cpu "$tmp/drv" exec "$EXECS" "$exedir/bn_true" ;;
    exectmp) "$tmp/drv" cpu "$tmp/drv" exec "$EXECS" "$tmp/bn_true" ;;
    files) rm -rf "$tmp/files"; mkdir -p "$tmp/files"
           "$tmp/drv" cpu "$tmp/drv" files "$FILES" "$tmp/files" ;;
    dd) "$tmp/drv" cpu dd if=/dev/zero of=/dev/null bs=1 count="$DDCOUNT" status=none ;;
    build) "$tmp/drv" cpu sh -c 'for _ in $(seq "$1"); do
               rm -rf "$2/obj" && make -s -C "$2" -j2 > /dev/null 2> "$2/../make.err" || exit 1
           done' build "$PASSES" "$tmp/proj" ||
               { echo "build failed:" >&2; cat "$tmp/make.err" >&2; exit 1; } ;;
    esac
}

declare -A R
measure() { # KIND LABEL UNITS UNIT [SCALE SCALE_NAME] (per-unit figures in µs, or ms: 1e3 ms)
    local kind=$1 label=$2 units=$3 unit=$4 sc=${5:-1e6} scn=${6:-µs} wall0=() wall1=() cpu0=() cpu1=() acpu=() aus=() asec=() rss=() extra=() acs=()
    for rep in $(seq "$REPS"); do
        local order="off on"
        [ $((rep % 2)) = 0 ] && order="on off"
        for mode in $order; do
            local w c
            if [ $mode = off ]; then
                read -r w c _ < <(run_workload "$kind")
                wall0+=("$w") cpu0+=("$c")
                continue
            fi
            agent_start
            local c0 c1 n hwm
            c0=$(cpu_ticks "$apid")
            local s0 s1
            s0=$(ctx_sw "$apid")
            read -r w c _ < <(run_workload "$kind")
            wall1+=("$w") cpu1+=("$c")
            case $kind in
            exec) n=$(agent_wait_count 1 "$exedir/bn_true" "$EXECS") ;;
            exectmp) n=$(agent_wait_count 1 "$tmp/bn_true" "$EXECS")
                     n="$n (alerts $(grep -c '"EventID":140,' "$out"))" ;;
            files) sleep 1; n=$(grep -c "\"TargetFilename\":\"$tmp/files/f" "$out") ;;
            build) sleep 1; n=$(grep -c '^{"Channel":"Linux-Sysmon/Operational","EventID":1,' "$out") ;;
            dd) n=$(grep -c '^{"Channel":"Linux-Sysmon/Operational","EventID":1,.*"Image":"/usr/bin/dd"' "$out") ;;
            esac
            c1=$(cpu_ticks "$apid")
            s1=$(ctx_sw "$apid")
            hwm=$(hwm_kb "$apid")
            agent_stop
            acs+=("$(awk -v s=$((s1 - s0)) -v u="$units" 'BEGIN {printf "%.1f", s / u}')")
            acpu+=("$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w="$w" 'BEGIN {printf "%.1f", c / hz / w * 100}')")
            asec+=("$(awk -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN {printf "%.3f", c / hz}')")
            aus+=("$(awk -v c=$((c1 - c0)) -v hz="$hz" -v u="$units" -v sc="$sc" 'BEGIN {printf "%.1f", c / hz / u * sc}')")
            rss+=("$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')")
            extra+=("$n events, shed $SHED sampled $SAMPLED")
        done
    done
    local m0 m1 k0 k1
    m0=$(median "${wall0[@]}") m1=$(median "${wall1[@]}")
    k0=$(median "${cpu0[@]}") k1=$(median "${cpu1[@]}")
    printf '   %-11s wall    without %7.2f s (%s)  with %7.2f s (%s)  slowdown %6s %%\n' \
        "$label" "$m0" "$(spread "${wall0[@]}")" "$m1" "$(spread "${wall1[@]}")" "$(pct "$m0" "$m1")"
    printf '   %-11s its CPU without %7.2f s (%s)  with %7.2f s (%s)  slowdown %6s %%  (%s -> %s %s per %s)\n' \
        "" "$k0" "$(spread "${cpu0[@]}")" "$k1" "$(spread "${cpu1[@]}")" "$(pct "$k0" "$k1")" \
        "$(awk -v c="$k0" -v u="$units" -v sc="$sc" 'BEGIN {printf "%.1f", c / u * sc}')" \
        "$(awk -v c="$k1" -v u="$units" -v sc="$sc" 'BEGIN {printf "%.1f", c / u * sc}')" "$scn" "$unit"
    printf '   %-11s agent   CPU %s %% of a core (%s), %s %s per %s; peak RSS %s MB (%s); %s context switches per %s (%s)\n' "" \
        "$(median "${acpu[@]}")" "$(spread "${acpu[@]}")" "$(median "${aus[@]}")" "$scn" "$unit" \
        "$(median "${rss[@]}")" "$(spread "${rss[@]}")" "$(median "${acs[@]}")" "$unit" "$(spread "${acs[@]}")"
    echo "               agent per run: $(IFS=';'; echo "${extra[*]}"); load now $(cut -d' ' -f1-3 /proc/loadavg)"
    local pw pc pm mcpu=() i
    for i in "${!cpu1[@]}"; do
        mcpu+=("$(awk -v c="${cpu1[$i]}" -v a="${asec[$i]}" 'BEGIN {printf "%.3f", c + a}')")
    done
    read -r -a pw < <(paired "${wall0[*]}" "${wall1[*]}")
    read -r -a pc < <(paired "${cpu0[*]}" "${cpu1[*]}")
    read -r -a pm < <(paired "${cpu0[*]}" "${mcpu[*]}")
    printf '   %-11s paired per repetition: wall %s %% (95 %% CI %s .. %s), its CPU %s %% (95 %% CI %s .. %s)\n' "" \
        "${pw[0]}" "${pw[1]}" "${pw[2]}" "${pc[0]}" "${pc[1]}" "${pc[2]}"
    printf '   %-11s paired, the machine'"'"'s CPU (its CPU + the agent'"'"'s): %s %% (95 %% CI %s .. %s)\n' "" \
        "${pm[0]}" "${pm[1]}" "${pm[2]}"
    # every repetition's figures, so runs can be pooled or checked afterwards
    echo "               raw wall without: ${wall0[*]}; with: ${wall1[*]}"
    echo "               raw its CPU without: ${cpu0[*]}; with: ${cpu1[*]}; agent CPU s: ${asec[*]}"
    R[$kind.slow]=$(pct "$m0" "$m1")
    R[$kind.cslow]=$(pct "$k0" "$k1")
    R[$kind.pslow]="${pw[0]} % (CI ${pw[1]} .. ${pw[2]})"
    R[$kind.pcslow]="${pc[0]} % (CI ${pc[1]} .. ${pc[2]})"
    R[$kind.pmslow]="${pm[0]} % (CI ${pm[1]} .. ${pm[2]})"
    R[$kind.rss]=$(median "${rss[@]}")
}

if [[ $SECTIONS == *" 1 "* ]]; then
    echo "== 1. exec storm: $EXECS x spawn+wait of a copy of /bin/true (outside the temporary directories)"
    measure exec "exec storm" "$EXECS" process
fi
if [[ $SECTIONS == *" 1b "* ]]; then
    echo "== 1b. the same from /tmp: every exec also raises a local alert (rule: process executed from a temporary directory)"
    measure exectmp "exec /tmp" "$EXECS" process
fi
if [[ $SECTIONS == *" 2 "* ]]; then
    echo "== 2. file storm: $FILES x create+write+close+unlink in $tmp/files (under /tmp)"
    echo "      (every operation is reported: create, close-after-write and delete = 3 events per file;"
    echo "       above limits.bulk_per_sec=5000 bulk file events are sampled 1 in 16, so 'events' counts what was written)"
    measure files "file storm" "$FILES" file
fi
if [[ $SECTIONS == *" 2b "* ]]; then
    echo "== 2b. syscall-heavy dd: dd if=/dev/zero of=/dev/null bs=1 count=$DDCOUNT ($((DDCOUNT * 2)) read/write syscalls, none watched)"
    measure dd "dd bs=1" "$((DDCOUNT * 2))" syscall 1e9 ns
fi
if [[ $SECTIONS == *" 3 "* ]]; then
    echo "== 3. build-like: $PASSES x make -j2 of src/common + src/input ($(ls src/common/*.c src/input/*.c | wc -l) files, gcc -O0 -c)"
    measure build "build-like" "$PASSES" pass 1e3 ms
fi

[[ $SECTIONS == *" 4 "* ]] || { echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"; exit 0; }
echo "== 4. sustained exec rate (632-byte static no-op binary, vfork+execve by $DRIVERS driver processes, ${RATE_SECS} s per rate; one agent per rate)"
tiny=$exedir/bn_tiny
read -r done secs < <("$tmp/drv" rate 0 "$RATE_SECS" "$tiny" "$DRIVERS")
cap=$(awk -v d="$done" -v s="$secs" 'BEGIN {printf "%.0f", d / s}')
echo "   exec capacity of this machine without the agent ($DRIVERS unpaced drivers): $cap/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
printf 'limits:\n  cpu_percent: 100\n' > "$tmp/nobudget.yml"
best=0 best_all=0
for conf in "" "$tmp/nobudget.yml"; do
    if [ -z "$conf" ]; then echo "   default configuration (limits.cpu_percent 5):"
    else echo "   limits.cpu_percent: 100 (no sampling for the CPU budget):"; fi
    for rate in $RATES; do
        r=$rate
        [ "$rate" = max ] && r=0
        agent_start "$conf"
        c0=$(cpu_ticks "$apid")
        read -r done secs < <("$tmp/drv" rate "$r" "$RATE_SECS" "$tiny" "$DRIVERS")
        done=$((done + 1)) # the driver's first exec (checks that the binary runs) is not timed
        n=$(agent_wait_count 1 "$tiny" "$done")
        sleep 0.5
        c1=$(cpu_ticks "$apid")
        rb=$(rb_drops "$apid")
        hwm=$(hwm_kb "$apid")
        agent_stop
        shed=$SHED sampled=$SAMPLED
        exits=$(grep -c "^{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":5,.*\"Image\":\"$tiny\"" "$out")
        achieved=$(awk -v d="$((done - 1))" -v s="$secs" 'BEGIN {printf "%.0f", d / s}')
        ok=no
        [ "$n" = "$done" ] && [ "$shed" = 0 ] && { [ "$rb" = 0 ] || [ "$rb" = n/a ]; } && ok=yes
        printf '     target %6s/s achieved %5d/s: %6d execs, %6d exec events, %6d exit events; shed %s, sampled %s, ring-buffer drops %s; agent CPU %5.1f %% (%s µs per process), RSS %5.1f MB; no exec dropped: %s; load %s\n' \
            "$rate" "$achieved" "$done" "$n" "$exits" "$shed" "$sampled" "$rb" \
            "$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w="$secs" 'BEGIN {printf "%.1f", c / hz / w * 100}')" \
            "$(awk -v c=$((c1 - c0)) -v hz="$hz" -v d="$done" 'BEGIN {printf "%.1f", c / hz / d * 1e6}')" \
            "$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')" "$ok" "$(cut -d' ' -f1 /proc/loadavg)"
        if [ $ok = yes ] && [ "$achieved" -gt "$best" ] && [ -z "$conf" ]; then best=$achieved; fi
        if [ $ok = yes ] && [ "$exits" = "$done" ] && [ "$achieved" -gt "$best_all" ]; then best_all=$achieved; fi
    done
done
echo "   highest exec rate reached with no exec dropped (default configuration): $best/s (machine without agent: $cap/s)"
echo "   highest exec rate with every exec AND exit event kept (any configuration above): $best_all/s"

echo "== goals (medians of each mode; paired: median of the per-repetition slowdowns with its 95 % CI): build-like <= 2 % (wall ${R[build.slow]:-n/a} %, its CPU ${R[build.cslow]:-n/a} %; paired wall ${R[build.pslow]:-n/a}, its CPU ${R[build.pcslow]:-n/a}, machine CPU ${R[build.pmslow]:-n/a}), exec storm <= 5 % (wall ${R[exec.slow]:-n/a} %, its CPU ${R[exec.cslow]:-n/a} %; paired wall ${R[exec.pslow]:-n/a}, its CPU ${R[exec.pcslow]:-n/a}; from /tmp with an alert each ${R[exectmp.slow]:-n/a} / ${R[exectmp.cslow]:-n/a} %), dd bs=1 paired wall ${R[dd.pslow]:-n/a} (Falco's anchor: +55 %), RSS <= 30 MB (${R[exec.rss]:-n/a} / ${R[exectmp.rss]:-n/a} / ${R[files.rss]:-n/a} / ${R[build.rss]:-n/a} MB), zero drops at 10,000 execs/s (best $best/s)"
echo "== published anchors: Tetragon +10.6 % on a kernel build; Falco 0.7 % CPU at 2.4k events/s, 291 MB RSS, dd slowed 55 %; osquery watchdog kills its worker above 200 MB"
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
