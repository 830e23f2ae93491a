#!/bin/bash
# test_agent_events.sh - bannin-agent against real activity, once per collection tier
# (bpf, netlink, poll, each forced with --tier): start the agent, wait for its "started"
# status event, run a workload, stop it with SIGTERM and check the NDJSON with python3
# (agent/check_events.py) against what each tier promises in docs/AGENT.md:
#   - /bin/echo with 40 distinct arguments (tier 1: full argv; tier 2: argv or proc_gone;
#     tier 3: may miss it), with its exit;
#   - a three-deep chain sh -c "sh -c 'sleep ...'": Parent* fields and Guid links;
#   - a TCP connect to a loopback listener opened here: both ends, owning pids, CommunityId;
#   - file create/modify/rename/delete in a temp dir, with the acting ProcessId;
#   - persistence: /etc/cron.d/bannin-itest-$$ (a comment line only, removed by the trap)
#     and <tmp>/home/u/.ssh/authorized_keys (classified by basename: the real
#     /root/.ssh is never touched);
#   - a kernel module load attempt (finit_module on an empty file: fails, tier 1 reports it);
#   - a failed sudo: `sudo -S true </dev/null` as user nobody (not in sudoers), which sudo
#     itself logs with syslog(). Without journald and auth.log (this host, CI) nothing
#     listens on /dev/log: at tier bpf the agent binds it on its own (auth.source auto), at
#     tier netlink because it is told to (auth.source socket), with detection on so that
#     rules/linux/lnx_sudo_auth_failure.yml fires; /dev/log must be gone after the agent
#     stops. With journald or auth.log and a live /dev/log the existing source is used;
#     with a live /dev/log and neither, or without sudo, the step is skipped with a message.
# Usage: test_agent_events.sh BUILD_DIR (CTest passes it). TIERS="bpf netlink" limits the
# tiers; KEEP=1 keeps the temp dir (events and facts per tier) for a look afterwards.
set -u
BUILD=${1:?build dir}
HERE=$(cd "$(dirname "$0")" && pwd)
AGENT=$BUILD/bannin-agent
HELP=$HERE/agent/itest_helpers.py
CHECK=$HERE/agent/check_events.py
skip() { echo "skip: $*"; exit 77; }
[ -x "$AGENT" ] || skip "$AGENT not built"
[ "$(id -u)" = 0 ] || skip "needs root (eBPF, proc connector, fanotify)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 missing"
[ "$(uname -m)" = x86_64 ] || skip "the module-load step uses the x86-64 syscall number"

# Tier 1 sees the syscalls it watches through per-syscall tracepoints (collect.bpf_syscalls
# auto). A kernel built without module support has no init_module/finit_module (and no
# tracepoint for them): the attempt of step 6 then reaches only the raw sys_enter program. On
# such a kernel tier 1 runs twice: the default tracepoint path (everything but the module
# step, which it cannot see there: docs/AGENT.md, known gaps) and collect.bpf_syscalls: raw.
MOD_TP=1
if [ ! -e /sys/kernel/tracing/events/syscalls/sys_enter_finit_module ] &&
   [ ! -e /sys/kernel/debug/tracing/events/syscalls/sys_enter_finit_module ]; then
    MOD_TP=0
    echo "note: no finit_module tracepoint (a kernel without modules): tier bpf runs with collect.bpf_syscalls auto, then raw"
fi
BPF_SC=auto
MODULE_SEEN=1

WORK=$(mktemp -d /tmp/bn-agent-ev-XXXXXX)
CRON=/etc/cron.d/bannin-itest-$$
APID=
SPID=
# Step 7: how the failed sudo reaches the agent (socket, existing or skip), decided once.
DEVLOG_OURS=
sudo_plan() {
    if ! command -v sudo > /dev/null; then
        echo "skip no sudo installed"
        return
    fi
    local at
    at=$("$PY" "$HELP" unix-dgram-state /dev/log) || at=error
    case "$at" in
        absent|stale) echo "socket /dev/log is $at: the agent binds it" ;;
        *)
            if [ -S /run/systemd/journal/socket ] || [ -r /var/log/auth.log ]; then
                echo "existing /dev/log is $at; journald or auth.log is read"
            else
                echo "skip /dev/log is $at (another receiver) and there is no journald or auth.log to read"
            fi ;;
    esac
}
SUDO_PLAN=
SUDO_MODE=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    if [ -n "$APID" ]; then
        kill "$APID" 2>/dev/null
        wait "$APID" 2>/dev/null
    fi
    rm -f "$CRON"
    local m
    for m in "$WORK"/*/mnt; do mountpoint -q "$m" 2>/dev/null && umount "$m"; done
    # an agent killed before its stop may leave its /dev/log: remove it only if nobody
    # receives on it (it is then the dead socket of our agent)
    if [ -n "$DEVLOG_OURS" ] && [ -S /dev/log ] &&
        [ "$("$PY" "$HELP" unix-dgram-state /dev/log 2>/dev/null)" = stale ]; then
        rm -f /dev/log
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# Start the agent for one tier; returns once it reported "started" (or fails).
start_agent() {
    local tier=$1 out=$2
    # --duration is a backstop; the test stops it with SIGTERM. timeout(1) bounds it too.
    # Functional test, not a budget test: the host may be busy (parallel builds), so the
    # CPU budget and bulk sampling are lifted and files are watched only where we write.
    # Step 7 (failed sudo): tier netlink is told to bind /dev/log and runs the rule pack;
    # tier bpf finds the socket source on its own (auth.source auto).
    # (auth.file points nowhere in socket mode: an old auth.log nobody writes any more must
    # not win over the socket in auto)
    local auth_src=auto detect=false auth_file=/var/log/auth.log
    [ "$SUDO_MODE" = socket ] && auth_file=$WORK/no-auth.log
    if [ "$tier" = netlink ] && [ "$SUDO_MODE" = socket ]; then
        auth_src=socket
        detect=true
    fi
    cat > "$WORK/agent.yml" <<CONF
collect:
  bpf_syscalls: $BPF_SC
files:
  include: $WORK, /etc/cron.d
limits:
  cpu_percent: 800
  bulk_per_sec: 0
detect:
  enabled: $detect
auth:
  source: $auth_src
  file: $auth_file
  syslog_socket: /dev/log
CONF
    timeout -k 5 90 "$AGENT" --config "$WORK/agent.yml" --stdout --tier "$tier" --duration 60 -v \
        > "$out" 2> "$out.err" &
    APID=$!
    local i
    for i in $(seq 1 150); do
        grep -q '"status":"started"' "$out" 2>/dev/null && return 0
        kill -0 "$APID" 2>/dev/null || { cat "$out.err"; fail "agent ($tier) exited before starting"; }
        sleep 0.1
    done
    fail "agent ($tier) did not report started within 15 s"
}

stop_agent() {
    kill -TERM "$APID" 2>/dev/null
    local rc=0
    wait "$APID" || rc=$?
    APID=
    [ "$rc" = 0 ] || { tail -20 "$1.err"; fail "agent exited with status $rc"; }
}

run_tier() {
    local tier=$1
    local run=$tier-$BPF_SC
    local out=$WORK/$run.ndjson facts=$WORK/$run.facts d=$WORK/$run
    mkdir -p "$d" "$d/home/u/.ssh"
    : > "$facts"
    # step 7's plan, again for each tier (another agent on this host may hold /dev/log now)
    SUDO_PLAN=$(sudo_plan)
    SUDO_MODE=${SUDO_PLAN%% *}
    [ "$SUDO_MODE" = socket ] && DEVLOG_OURS=1
    start_agent "$tier" "$out"
    # Give the collectors a moment after "started" (tier 3 takes its first /proc snapshot).
    sleep 1.2

    # 1. short-lived process with 40 distinct arguments
    local args=() i
    for i in $(seq -w 1 40); do args+=("bn-$tier-arg$i"); done
    /bin/echo "${args[@]}" > /dev/null &
    local epid=$!
    wait "$epid"
    echo "{\"what\":\"echo\",\"pid\":$epid,\"shell\":$$,\"cmdline\":\"/bin/echo ${args[*]}\",\"cwd\":$("$PY" -c 'import json, os; print(json.dumps(os.getcwd()))')}" >> "$facts"

    # 1b. the working directory across a mount (a tmpfs of our own): from a directory inside
    # it, and from its root (the walk meets the mount root at its first step)
    mkdir -p "$d/mnt" && mount -t tmpfs bn-itest "$d/mnt" && mkdir -p "$d/mnt/sub/dir" ||
        fail "cannot mount a tmpfs at $d/mnt"
    local mpid1 mpid2
    (cd "$d/mnt/sub/dir" && exec /bin/echo "bn-mnt1-$tier" > /dev/null) &
    mpid1=$!
    wait "$mpid1"
    (cd "$d/mnt" && exec /bin/echo "bn-mnt2-$tier" > /dev/null) &
    mpid2=$!
    wait "$mpid2"
    echo "{\"what\":\"mnt_cwd\",\"pids\":[$mpid1,$mpid2],\"cwds\":[$("$PY" -c 'import json, os, sys; print(json.dumps(os.path.realpath(sys.argv[1])))' "$d/mnt/sub/dir"),$("$PY" -c 'import json, os, sys; print(json.dumps(os.path.realpath(sys.argv[1])))' "$d/mnt")]}" >> "$facts"

    # 2. three-deep chain; tier 3 polls every second, so its chain lives longer
    local nap=0.3
    [ "$tier" = poll ] && nap=2.5
    sh -c "sh -c 'sleep $nap && : bn-chain-$tier'; : bn-chain-$tier" &
    local cpid=$!
    wait "$cpid"
    echo "{\"what\":\"chain\",\"pid\":$cpid,\"shell\":$$,\"marker\":\"bn-chain-$tier\",\"nap\":\"$nap\"}" >> "$facts"

    # 3. TCP connect to a loopback listener opened here (held 2.5 s for the poller)
    "$PY" "$HELP" tcp-server "$d/port" 2.5 > "$d/server.json" &
    SPID=$!
    for i in $(seq 1 100); do [ -s "$d/port" ] && break; sleep 0.05; done
    [ -s "$d/port" ] || fail "tcp server did not start"
    local port
    port=$(cut -d' ' -f1 "$d/port")
    "$PY" "$HELP" tcp-client "$port" 2.5 > "$d/client.json" || fail "tcp client failed"
    wait "$SPID" || fail "tcp server failed"
    SPID=
    echo "{\"what\":\"tcp_server\",$(cut -c2- "$d/server.json")" >> "$facts"
    echo "{\"what\":\"tcp_client\",$(cut -c2- "$d/client.json")" >> "$facts"

    # 4. file create / modify / rename / delete
    "$PY" "$HELP" files "$d" > "$d/files.json" || fail "file workload failed"
    echo "{\"what\":\"files\",$(cut -c2- "$d/files.json")" >> "$facts"

    # 5. persistence: a cron file (comment only) and an authorized_keys line, written by
    #    this shell itself
    echo "# bannin integration test $$ - no schedule" > "$CRON"
    echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBannintestkeyonlyBannintestkeyonly0000 itest" \
        >> "$d/home/u/.ssh/authorized_keys"
    echo "{\"what\":\"persist\",\"pid\":$$,\"cron\":\"$CRON\",\"keys\":\"$d/home/u/.ssh/authorized_keys\"}" >> "$facts"

    # 6. kernel module load attempt on an empty file (fails with EINVAL/ENOEXEC)
    : > "$d/not-a-module.ko"
    "$PY" "$HELP" finit-module "$d/not-a-module.ko" > "$d/mod.json" || fail "finit-module helper failed"
    echo "{\"what\":\"module\",$(cut -c2- "$d/mod.json")" >> "$facts"

    # 7. failed sudo as nobody: sudo asks for a password (none on stdin), then logs
    #    "nobody : user NOT in sudoers ; ..." to syslog (authpriv) and fails
    local smode=$SUDO_MODE why=${SUDO_PLAN#skip }
    if [ "$tier" = poll ]; then
        smode=skip
        why="tier 3 runs no auth collector (docs/AGENT.md)"
    fi
    if [ "$smode" = skip ]; then
        echo "note: failed-sudo step skipped at tier $tier: $why"
        echo "{\"what\":\"sudo\",\"mode\":\"skip\"}" >> "$facts"
    else
        (cd / && exec setpriv --reuid=65534 --regid=65534 --clear-groups \
            sudo -S -p '' true < /dev/null > /dev/null 2> "$d/sudo.err") &
        local spid=$!
        local src=0
        wait "$spid" || src=$?
        [ "$src" != 0 ] || fail "sudo as nobody succeeded: nobody must not be in sudoers"
        # sudo that cannot become root (nosuid mount, no_new_privs) logs nothing
        if grep -q 'effective uid is not 0\|no new privileges' "$d/sudo.err"; then
            echo "note: failed-sudo step skipped at tier $tier: sudo cannot run setuid here: $(head -1 "$d/sudo.err")"
            smode=skip
        fi
    fi
    if [ "$smode" = skip ]; then
        grep -q '"what":"sudo"' "$facts" || echo "{\"what\":\"sudo\",\"mode\":\"skip\"}" >> "$facts"
    else
        echo "{\"what\":\"sudo\",\"mode\":\"$smode\",\"pid\":$spid,\"user\":\"nobody\",\"uid\":65534,\"rules\":$( [ "$tier" = netlink ] && [ "$smode" = socket ] && echo true || echo false)}" >> "$facts"
    fi

    # Let the loop drain (tier 3 needs one more poll to see the exits), then stop.
    sleep 1.5
    stop_agent "$out"
    rm -f "$CRON"
    if [ "$SUDO_MODE" = socket ] && [ -e /dev/log ]; then
        fail "tier $tier: the agent's /dev/log is still there after it stopped"
    fi
    BN_MODULE_SEEN=$MODULE_SEEN "$PY" "$CHECK" "$tier" "$out" "$facts" ||
        fail "tier $tier ($BPF_SC): events do not match (output kept in the log above)"
}

for tier in ${TIERS:-bpf netlink poll}; do
    if [ "$tier" = bpf ] && [ "$MOD_TP" = 0 ]; then
        echo "== tier bpf, per-syscall tracepoints (the default; the module step unseen here)"
        BPF_SC=auto MODULE_SEEN=0 run_tier bpf
        echo "== tier bpf, raw sys_enter/sys_exit (collect.bpf_syscalls: raw)"
        BPF_SC=raw MODULE_SEEN=1 run_tier bpf
    else
        echo "== tier $tier"
        BPF_SC=auto MODULE_SEEN=1 run_tier "$tier"
    fi
done
echo "PASS: agent events checked at tiers ${TIERS:-bpf netlink poll}"
