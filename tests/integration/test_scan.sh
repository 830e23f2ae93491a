#!/bin/sh
# test_scan.sh - `bannin scan` end to end: exit codes (0 none, 1 matches, 2 errors), text and
# --json output, a rule file that does not compile is skipped with file:line, a .tar.gz
# bundle, the size cap and a missing path counted in the summary.
# Usage: test_scan.sh BUILD_DIR
set -eu
B=${1:?build dir}
BN=$B/bannin
[ -x "$BN" ] || { echo "skip: $BN not built"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
T=$(mktemp -d /tmp/bn-scan-it-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$T/rules" "$T/data/sub"
cat >"$T/rules/web.yar" <<'R'
rule Webshell_Eval : webshell php {
  strings: $e = "eval($_POST[" ascii
  condition: $e
}
R
printf 'rule Bad {\n  condition: $nope\n}\n' >"$T/rules/bad.yar"
printf '<?php eval($_POST["c"]); ?>\n' >"$T/data/sub/x.php"
printf 'clean\n' >"$T/data/clean.txt"
head -c 200000 /dev/zero >"$T/data/big.bin"
printf 'eval($_POST[' >>"$T/data/big.bin"

# matches: exit 1, the match on stdout, the bad file reported with its line
set +e
"$BN" scan -r "$T/rules" "$T/data" >"$T/out" 2>"$T/err"; rc=$?
set -e
[ $rc = 1 ] || { cat "$T/err"; fail "exit $rc, want 1"; }
grep -q "^Webshell_Eval web.yar $T/data/sub/x.php \[webshell,php\]$" "$T/out" || fail "text match: $(cat "$T/out")"
grep -q "^Webshell_Eval web.yar $T/data/big.bin" "$T/out" || fail "big.bin not matched"
grep -q "bad.yar:2: error: undefined string \"\$nope\"\|bad.yar:3: error: undefined string \"\$nope\"" "$T/err" || fail "no file:line for bad.yar: $(cat "$T/err")"
grep -q "rules: 1 compiled from 1 of 2 files (1 files skipped" "$T/err" || fail "rule summary: $(cat "$T/err")"

# --json and --max-size: big.bin skipped and counted
set +e
"$BN" scan -r "$T/rules" --json --max-size 100k "$T/data" >"$T/out" 2>"$T/err"; rc=$?
set -e
[ $rc = 1 ] || fail "json exit $rc"
python3 - "$T/out" "$T/data/sub/x.php" <<'P'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows == [{"rule": "Webshell_Eval", "namespace": "web.yar", "tags": ["webshell", "php"],
                 "file": sys.argv[2]}], rows
P
grep -q "skipped 1 over the size cap" "$T/err" || fail "size cap not counted: $(cat "$T/err")"

# no match: exit 0
"$BN" scan -r "$T/rules/web.yar" "$T/data/clean.txt" >"$T/out" 2>"$T/err" || fail "clean exit $?"
[ ! -s "$T/out" ] || fail "output on clean file"

# a bundle
tar -czf "$T/rules.tar.gz" -C "$T/rules" .
set +e
"$BN" scan -r "$T/rules.tar.gz" "$T/data/sub" >"$T/out" 2>"$T/err"; rc=$?
set -e
[ $rc = 1 ] || fail "bundle exit $rc"
grep -q "rules.tar.gz!./bad.yar:" "$T/err" || fail "bundle member not named: $(cat "$T/err")"

# errors: a missing path (exit 2, counted), no usable rule (exit 2), usage (exit 2)
set +e
"$BN" scan -r "$T/rules" "$T/data/clean.txt" "$T/missing" >"$T/out" 2>"$T/err"; rc=$?
[ $rc = 2 ] || fail "missing path exit $rc"
grep -q "1 errors" "$T/err" || fail "error not counted: $(cat "$T/err")"
"$BN" scan -r "$T/rules/bad.yar" "$T/data" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "no rules exit $rc"
env -u BANNIN_YARA_RULES "$BN" scan "$T/data" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || fail "usage exit $rc"
set -e
echo "test_scan: ok"
