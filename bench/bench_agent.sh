#!/usr/bin/env bash
# bench_agent.sh - what bannin-agent costs the machine it watches (see bench/README.md,
# section "bannin-agent"). Usage, as root:
#
#   bench/bench_agent.sh [BUILD_DIR]        (default build/release; RelWithDebInfo is fine)
#
# In one run, with and without the agent (tier 1 eBPF, default configuration, --output to a
# file under /tmp), alternating and repeated REPS times (default 3; medians reported):
#   1. exec storm: 20,000 short processes (a C loop: posix_spawn + wait of a copy of /bin/true
#      outside the temporary directories); 1b. the same from /tmp, where each exec also raises
#      a local alert (rule "Process Executed From A Temporary Directory")
#   2. file storm: create + write + close + unlink of 20,000 files in a directory under /tmp
#      (a default files.include prefix, so every operation is reported)
#   3. build-like: make -j2 of this repo's src/common and src/input with gcc -O0 -c (PASSES times)
#   4. sustained exec rate: execs paced at 1k, 2k, 5k, 10k /s for ~RATE_SECS s each (first the
#      machine's own exec capacity without the agent); a rate passes when every exec is in the
#      output, the heartbeat's shed is 0 and the ring buffer drop counter (read with bpftool)
#      is 0. Exit events are "normal" priority and may be sampled over the CPU budget
#      (limits.cpu_percent, 5 by default): they are counted and shown, and the rates are run
#      a second time with limits.cpu_percent: 100 to show what the budget costs.
# The agent's own CPU comes from /proc/<pid>/stat (all threads), its peak RSS from VmHWM.
# Tunables (environment): REPS, EXECS, FILES, PASSES, RATES, RATE_SECS, KEEP=1 (keep /tmp data),
# EXEDIR (where the storm's binary is copied; default the build dir, never a temporary one).
# Needs root, gcc, make, python3; bpftool for the ring-buffer counter (else "n/a").
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
build=${1:-build/release}
REPS=${REPS:-3}
EXECS=${EXECS:-20000}
FILES=${FILES:-20000}
PASSES=${PASSES:-10}
RATES=${RATES:-"1000 2000 5000 10000"}
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
    [ "${KEEP:-0}" = 1 ] && { echo "data kept in $tmp"; return; }
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the drivers (C, compiled here) ----
cat > "$tmp/drv.c" <<'EOF'
/* drv.c - workload drivers for bench_agent.sh.
 *   drv exec N PATH          N x (posix_spawn PATH; wait), prints "<execs> <seconds>"
 *   drv rate R SECS PATH     spawn PATH paced at R/s for SECS s (up to 256 in flight),
 *                            prints "<execs> <seconds>"
 *   drv files N DIR          N x (open O_CREAT, write 64 B, close, unlink), prints "<n> <s>" */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
static int spawn(const char *path) {
    pid_t pid;
    char *argv[] = {(char *)path, NULL};
    int rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
    if (rc) { fprintf(stderr, "posix_spawn %s: %s\n", path, strerror(rc)); exit(1); }
    return 0;
}
int main(int argc, char **argv) {
    if (argc != 4 && argc != 5) return 2;
    double t0 = now();
    long n = strtol(argv[2], NULL, 10), done = 0;
    if (!strcmp(argv[1], "exec")) {
        for (; done < n; done++) {
            spawn(argv[3]);
            while (wait(NULL) < 0 && errno == EINTR) ;
        }
    } else if (!strcmp(argv[1], "rate") && argc == 5) {
        double secs = strtod(argv[3], NULL), end = t0 + secs;
        long inflight = 0;
        for (;;) {
            double t = now();
            if (t >= end) break;
            long due = (long)((t - t0) * (double)n);
            while (inflight > 0 && waitpid(-1, NULL, WNOHANG) > 0) inflight--;
            if (done >= due) { usleep(50); continue; }
            while (done < due && now() < end) {
                while (inflight >= 256) { if (wait(NULL) > 0) inflight--; }
                spawn(argv[4]);
                done++, inflight++;
                while (inflight > 0 && waitpid(-1, NULL, WNOHANG) > 0) inflight--;
            }
        }
        while (inflight > 0 && wait(NULL) > 0) inflight--;
    } else if (!strcmp(argv[1], "files")) {
        char p[4096];
        static const char data[64] = "bannin agent bench file storm payload 0123456789abcdef";
        for (; done < n; done++) {
            snprintf(p, sizeof(p), "%s/f%ld", argv[3], done);
            int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data)) {
                perror(p);
                return 1;
            }
            close(fd);
            unlink(p);
        }
    } else {
        return 2;
    }
    printf("%ld %.6f\n", done, now() - t0);
    return 0;
}
EOF
gcc -O2 -o "$tmp/drv" "$tmp/drv.c" || exit 1
# the exec-storm targets: copies of /bin/true under names we can count in the agent's output,
# one outside the temporary directories (an ordinary process storm) and one in /tmp, where
# the rule "Process Executed From A Temporary Directory" makes every exec an alert too
cp /bin/true "$tmp/bn_true"
exedir=${EXEDIR:-$(realpath "$build")}/bench_agent.$$
case $exedir in /tmp/*|/var/tmp/*|/dev/shm/*)
    echo "bench_agent: $exedir is a temporary directory: set EXEDIR to another one" >&2; exit 1 ;;
esac
mkdir -p "$exedir" && cp /bin/true "$exedir/bn_true" || exit 1
# the rate target: a static binary that only exits (the cheapest exec there is)
printf '%s\n' 'void _start(void){__asm__ volatile("mov $60,%eax\n xor %edi,%edi\n syscall");}' \
    > "$tmp/tiny.c"
gcc -O2 -static -nostdlib -o "$tmp/bn_tiny" "$tmp/tiny.c" || exit 1

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
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f", (b - a) / a * 100}'; }

echo "== bannin-agent overhead: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "   agent $agent_bin (build type ${btype:-?}), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $REPS repetitions alternating without/with (order flipped every repetition); medians"

# run_workload KIND -> prints wall seconds
run_workload() {
    case $1 in
    exec) "$tmp/drv" exec "$EXECS" "$exedir/bn_true" | cut -d' ' -f2 ;;
    exectmp) "$tmp/drv" exec "$EXECS" "$tmp/bn_true" | cut -d' ' -f2 ;;
    files) rm -rf "$tmp/files"; mkdir -p "$tmp/files"
           "$tmp/drv" files "$FILES" "$tmp/files" | cut -d' ' -f2 ;;
    build) local t0 t1
           t0=$(date +%s.%N)
           for _ in $(seq "$PASSES"); do
               rm -rf "$tmp/proj/obj"
               make -s -C "$tmp/proj" -j2 >/dev/null 2>"$tmp/make.err" ||
                   { echo "build failed:" >&2; cat "$tmp/make.err" >&2; exit 1; }
           done
           t1=$(date +%s.%N)
           awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}' ;;
    esac
}

declare -A R
measure() { # KIND LABEL
    local kind=$1 label=$2 without=() with=() cpu=() rss=() extra=()
    for rep in $(seq "$REPS"); do
        local order="off on"
        [ $((rep % 2)) = 0 ] && order="on off"
        for mode in $order; do
            if [ $mode = off ]; then
                without+=("$(run_workload "$kind")")
                continue
            fi
            agent_start
            local c0 w c1 n hwm
            c0=$(cpu_ticks "$apid")
            w=$(run_workload "$kind")
            with+=("$w")
            case $kind in
            exec) n=$(agent_wait_count 1 "$exedir/bn_true" "$EXECS") ;;
            exectmp) n=$(agent_wait_count 1 "$tmp/bn_true" "$EXECS")
                     n="$n (alerts $(grep -c '"EventID":140,' "$out"))" ;;
            files) sleep 1; n=$(grep -c "\"TargetFilename\":\"$tmp/files/f" "$out") ;;
            build) sleep 1; n=$(grep -c '^{"Channel":"Linux-Sysmon/Operational","EventID":1,' "$out") ;;
            esac
            c1=$(cpu_ticks "$apid")
            hwm=$(hwm_kb "$apid")
            agent_stop
            cpu+=("$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w="$w" 'BEGIN {printf "%.1f", c / hz / w * 100}')")
            rss+=("$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')")
            extra+=("$n events, shed $SHED sampled $SAMPLED")
        done
    done
    local m0 m1
    m0=$(median "${without[@]}")
    m1=$(median "${with[@]}")
    printf '   %-11s without %7.2f s  with %7.2f s  slowdown %6s %%  agent CPU %5s %% of a core  peak RSS %5s MB\n' \
        "$label" "$m0" "$m1" "$(pct "$m0" "$m1")" "$(median "${cpu[@]}")" "$(median "${rss[@]}")"
    echo "               runs without: ${without[*]}  with: ${with[*]}"
    echo "               agent per run: CPU% ${cpu[*]}; RSS MB ${rss[*]}; $(IFS=';'; echo "${extra[*]}")"
    R[$kind.slow]=$(pct "$m0" "$m1")
    R[$kind.rss]=$(median "${rss[@]}")
}

echo "== 1. exec storm: $EXECS x spawn+wait of a copy of /bin/true (outside the temporary directories)"
measure exec "exec storm"
echo "== 1b. the same from /tmp: every exec also raises a local alert (rule: process executed from a temporary directory)"
measure exectmp "exec /tmp"
echo "== 2. file storm: $FILES x create+write+close+unlink in $tmp/files (under /tmp)"
echo "      (every operation is reported: create, close-after-write and delete = 3 events per file;"
echo "       above limits.bulk_per_sec=5000 bulk file events are sampled 1 in 16, so 'events' counts what was written)"
measure files "file storm"
echo "== 3. build-like: $PASSES x make -j2 of src/common + src/input ($(ls src/common/*.c src/input/*.c | wc -l) files, gcc -O0 -c)"
measure build "build-like"

echo "== 4. sustained exec rate (static no-op binary, paced for ${RATE_SECS} s per rate; one agent per rate)"
read -r done secs < <("$tmp/drv" rate 1000000 "$RATE_SECS" "$tmp/bn_tiny")
cap=$(awk -v d="$done" -v s="$secs" 'BEGIN {printf "%.0f", d / s}')
echo "   exec capacity of this machine without the agent (one unpaced driver): $cap/s"
printf 'limits:\n  cpu_percent: 100\n' > "$tmp/nobudget.yml"
best=0 best_all=0
for conf in "" "$tmp/nobudget.yml"; do
    if [ -z "$conf" ]; then echo "   default configuration (limits.cpu_percent 5):"
    else echo "   limits.cpu_percent: 100 (no sampling for the CPU budget):"; fi
    for rate in $RATES; do
        agent_start "$conf"
        c0=$(cpu_ticks "$apid")
        read -r done secs < <("$tmp/drv" rate "$rate" "$RATE_SECS" "$tmp/bn_tiny")
        n=$(agent_wait_count 1 "$tmp/bn_tiny" "$done")
        sleep 0.5
        c1=$(cpu_ticks "$apid")
        rb=$(rb_drops "$apid")
        hwm=$(hwm_kb "$apid")
        agent_stop
        shed=$SHED sampled=$SAMPLED
        exits=$(grep -c "^{\"Channel\":\"Linux-Sysmon/Operational\",\"EventID\":5,.*\"Image\":\"$tmp/bn_tiny\"" "$out")
        achieved=$(awk -v d="$done" -v s="$secs" 'BEGIN {printf "%.0f", d / s}')
        ok=no
        [ "$n" = "$done" ] && [ "$shed" = 0 ] && { [ "$rb" = 0 ] || [ "$rb" = n/a ]; } && ok=yes
        printf '     target %6d/s achieved %5d/s: %6d execs, %6d exec events, %6d exit events; shed %s, sampled %s, ring-buffer drops %s; agent CPU %5.1f %%, RSS %5.1f MB; no exec dropped: %s\n' \
            "$rate" "$achieved" "$done" "$n" "$exits" "$shed" "$sampled" "$rb" \
            "$(awk -v c=$((c1 - c0)) -v hz="$hz" -v w="$secs" 'BEGIN {printf "%.1f", c / hz / w * 100}')" \
            "$(awk -v k="$hwm" 'BEGIN {printf "%.1f", k / 1024}')" "$ok"
        if [ $ok = yes ] && [ "$achieved" -gt "$best" ] && [ -z "$conf" ]; then best=$achieved; fi
        if [ $ok = yes ] && [ "$exits" = "$done" ] && [ "$achieved" -gt "$best_all" ]; then best_all=$achieved; fi
    done
done
echo "   highest exec rate reached with no exec dropped (default configuration): $best/s (machine without agent: $cap/s)"
echo "   highest exec rate with every exec AND exit event kept (any configuration above): $best_all/s"

echo "== goals: build-like <= 2 % (${R[build.slow]} %), exec storm <= 5 % (${R[exec.slow]} %; from /tmp with an alert each ${R[exectmp.slow]} %), RSS <= 30 MB (${R[exec.rss]} / ${R[exectmp.rss]} / ${R[files.rss]} / ${R[build.rss]} MB), zero drops at 10,000 execs/s (best $best/s)"
echo "== published anchors: Tetragon +10.6 % on a kernel build; Falco 0.7 % CPU at 2.4k events/s, 291 MB RSS, dd slowed 55 %; osquery watchdog kills its worker above 200 MB"
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
