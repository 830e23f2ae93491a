#!/usr/bin/env bash
# run-hunt-demo.sh - the offline demo: hunt with Bannin's own rules
# over the sample intrusion logs, then (when ../shared/corpora is beside the checkout) the
# whole SigmaHQ rule set over SigmaHQ's regression logs.
set -uo pipefail
build=${1:-build/release}
cd "$(dirname "$0")/.."
bannin="$build/bannin"
if [ ! -x "$bannin" ]; then
  echo "run-demo: $bannin is missing; build first (make run does)" >&2
  exit 2
fi

echo "== 1. Bannin's own rules over the sample intrusion (samples/README.md tells the story)"
echo "   $bannin hunt -r rules/ samples/"
"$bannin" hunt --no-progress -r rules/ samples/
rc=$?
if [ "$rc" -ge 2 ]; then
  echo "run-demo: hunt over the samples failed (exit $rc)" >&2
  exit "$rc"
fi

corpora=../shared/corpora
if [ -d "$corpora/sigma/rules/rules" ] && [ -d "$corpora/sigma/regression/regression_data" ]; then
  echo
  echo "== 2. The SigmaHQ rule set over SigmaHQ's regression logs (EVTX)"
  set -- -r "$corpora/sigma/rules/rules" -r "$corpora/sigma/rules/rules-emerging-threats" \
         -r "$corpora/sigma/rules/rules-threat-hunting" -r "$corpora/sigma/rules/rules-compliance" \
         -r "$corpora/sigma/rules/rules-dfir"
  echo "   $bannin hunt $* --min-level high $corpora/sigma/regression/regression_data (evtx files)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  find "$corpora/sigma/regression/regression_data" -name '*.evtx' > "$tmp/list"
  mapfile -t evtx < "$tmp/list"
  "$bannin" hunt --no-progress "$@" --min-level high "${evtx[@]}" > "$tmp/alerts"
  rc=$?
  head -n 40 "$tmp/alerts"
  n=$(wc -l < "$tmp/alerts")
  [ "$n" -gt 41 ] && echo "   ... $((n - 41)) more alerts (run it yourself with --json for all of them)"
  if [ "$rc" -ge 2 ]; then
    echo "run-demo: hunt over the SigmaHQ regression logs failed (exit $rc)" >&2
    exit "$rc"
  fi
else
  echo
  echo "(../shared/corpora is not beside this checkout: skipping the SigmaHQ part of the demo)"
fi
exit 0
