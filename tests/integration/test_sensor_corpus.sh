#!/usr/bin/env bash
# test_sensor_corpus.sh - the network sensor scored on real corpora nobody on the team wrote:
# suricata-verify (share of dns/tls/http/flow eve checks reproduced, per protocol) and the
# Zeek test baselines (share of conn/dns/ssl/http rows matched on key fields). Both scorers
# live in tests/tools/ (see docs/SENSOR.md, "Corpus scores").
#
# The minimums below guard against regressions: they sit a little under the measured level
# until the sensor reaches the issue's goals (printed beside each figure), then they become
# the goals. Skips (77) when the corpora, PyYAML or `bannin pcap` are missing.
set -uo pipefail
build=${1:?usage: test_sensor_corpus.sh BUILD_DIR}
bannin="$build/bannin"
corpora=${BN_CORPORA:-../shared/corpora}
sv="$corpora/network/suricata-verify"
zk="$corpora/network/zeek"

# Goals from issue 6, and the regression floors in force now (measured minus a margin).
SV_GOAL="dns=95,tls=95,http=90,flow=90"
# Measured 2026-11-26 07:25: suricata-verify dns 100 tls 95.7 http 97.6 flow 96.7;
# Zeek conn 95.0 dns 96.9 ssl 94.7 http 91.8 (docs/SENSOR.md, "Corpus scores"). TLS and flow
# have reached their goal, which is their floor. DNS and HTTP sit one check under the
# measure (DNS: 212 checks, 0.5 points each; HTTP: 83, 1.2 each), the Zeek logs one row under
# theirs: one lost check or row is tolerated, a second fails (for flow too: 151 checks).
SV_MIN=${BN_SV_MIN:-"dns=99.5,tls=95,http=96,flow=96"}
ZEEK_MIN=${BN_ZEEK_MIN:-"conn=94.6,dns=93.5,ssl=92,http=89.5"}

if [ ! -f "$sv/MANIFEST.json" ] || [ ! -f "$zk/MANIFEST.json" ]; then
    echo "SKIP: corpora not found under $corpora/network (set BN_CORPORA)"
    exit 77
fi
if ! python3 -c "import yaml" 2>/dev/null; then
    echo "SKIP: python3-yaml (PyYAML) is not installed; sv_score.py needs it"
    exit 77
fi
if [ ! -x "$bannin" ] || ! "$bannin" pcap --help >/dev/null 2>&1; then
    echo "SKIP: $bannin has no working 'pcap' command yet"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
fails=0

# The scorers' own matching rules first (hand-made records with known answers).
python3 tests/tools/sv_score.py --self-test || fails=$((fails + 1))
python3 tests/tools/zeek_score.py --self-test || fails=$((fails + 1))

echo "== suricata-verify (goal: $SV_GOAL; regression floor: $SV_MIN)"
python3 tests/tools/sv_score.py --bannin "$bannin" --corpus "$sv" --jobs "$jobs" \
    --min "$SV_MIN" --json "$tmp/sv.json"
rc=$?
if [ $rc -eq 1 ]; then
    echo "FAIL suricata-verify share below the regression floor"
    fails=$((fails + 1))
elif [ $rc -ne 0 ]; then
    echo "FAIL sv_score.py exited $rc"
    fails=$((fails + 1))
fi


echo
zeek_cmd=${BN_ZEEK_CMD:-"{bannin} pcap --no-ndr -q --zeek {out} {pcap}"}
if ! "$bannin" pcap --help 2>&1 | grep -q -- "--zeek"; then
    echo "== zeek: NOT SCORED - 'bannin pcap' has no --zeek FILE option (Zeek-named NDJSON) yet"
else
    echo "== zeek (regression floor: $ZEEK_MIN)"
    python3 tests/tools/zeek_score.py --bannin "$bannin" --corpus "$zk" --jobs "$jobs" \
        --cmd "$zeek_cmd" --min "$ZEEK_MIN" --json "$tmp/zeek.json"
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "FAIL zeek_score.py exited $rc (1: a share below the floor)"
        fails=$((fails + 1))
    fi
fi

# `bannin pcap` must not crash, trip a sanitizer or time out on any corpus pcap (a clean
# refusal, e.g. an unsupported link type, is counted in the score, not a failure here).
for js in "$tmp/sv.json" "$tmp/zeek.json"; do
    [ -f "$js" ] || continue
    python3 - "$js" <<'PY' || fails=$((fails + 1))
import json, sys
s = json.load(open(sys.argv[1]))
errs = [e for e in s.get("run_errors", s.get("errors", [])) if e["error"].startswith("CRASH")]
for e in errs[:10]:
    print("FAIL bannin on %s: %s" % (e.get("pcap", e.get("trace")), e["error"]))
sys.exit(1 if errs else 0)
PY
done

if [ $fails -ne 0 ]; then
    echo "test_sensor_corpus: $fails failure(s)"
    exit 1
fi
echo "test_sensor_corpus: ok"
