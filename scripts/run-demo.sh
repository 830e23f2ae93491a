#!/usr/bin/env bash
# run-demo.sh - what `make run` does: the real thing on embedded defaults.
#
#   1. bannind with its SQLite store in a local data directory (run/manager by default; kept
#      between runs), a first tenant "default" (semi-managed: nothing is ever contained
#      without an operator) and a provider_admin "admin" whose password is printed once;
#   2. a local bannin-agent enrolled against it over mutual TLS (a one-use token), sending
#      its telemetry and local alerts;
#   3. where the API is and how to use it; it stays up until interrupted (Ctrl-C stops both).
#
# Environment: BN_RUN_DIR (data, default run/), BN_API (127.0.0.1:8080), BN_LINK
# (127.0.0.1:7443), BN_NO_AGENT=1 (manager only), BN_DURATION=N (stop after N s; tests).
# The hunt demo of earlier versions is `scripts/run-hunt-demo.sh`.
set -uo pipefail
build=${1:-build/release}
cd "$(dirname "$0")/.."
repo=$PWD
bannind="$build/bannind"
agent="$build/bannin-agent"
bannin="$build/bannin"
for b in "$bannind" "$agent" "$bannin"; do
  if [ ! -x "$b" ]; then
    echo "run-demo: $b is missing; build first (make run does)" >&2
    exit 2
  fi
done
run=${BN_RUN_DIR:-$repo/run}
api=${BN_API:-127.0.0.1:8080}
link=${BN_LINK:-127.0.0.1:7443}
mkdir -p "$run/manager" "$run/agent"
chmod 700 "$run"

mpid=
apid=
stop() {
  trap - INT TERM EXIT
  # the agent first, so its last batches reach the manager before that stops
  [ -n "$apid" ] && kill -TERM "$apid" 2>/dev/null && wait "$apid" 2>/dev/null
  [ -n "$mpid" ] && kill -TERM "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
  echo
  echo "run-demo: stopped (data kept in $run; remove it to start afresh)"
}
trap stop EXIT
trap 'exit 0' INT TERM

echo "== bannind: data in $run/manager"
if [ ! -e "$run/manager/.initialised" ]; then
  # --init prints the admin password once; it is not stored anywhere in clear
  "$bannind" --data "$run/manager" --init | tee "$run/manager/init.txt.tmp" || exit 1
  grep -v -i password "$run/manager/init.txt.tmp" > "$run/manager/init.txt"
  rm -f "$run/manager/init.txt.tmp"
  touch "$run/manager/.initialised"
  echo "   (write the password down: it is shown only this once)"
else
  echo "   tenant 'default' and user 'admin' exist already (password shown at the first run)"
fi

"$bannind" --data "$run/manager" --listen "$link" --api "$api" &
mpid=$!
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/${api%:*}/${api##*:}") 2>/dev/null && break
  kill -0 "$mpid" 2>/dev/null || { echo "run-demo: bannind exited" >&2; exit 1; }
  sleep 0.1
done
echo "== API:  http://$api/api/v1   (OpenAPI: docs/openapi.yaml; metrics: http://$api/metrics)"
echo "== link: $link (agents, mutual TLS 1.3)"

if [ "${BN_NO_AGENT:-0}" != 1 ]; then
  if [ ! -e "$run/agent/link/agent.crt" ] && [ ! -e "$run/agent/link/cert.pem" ] &&
     [ ! -e "$run/agent/.enrolled" ]; then
    token=$("$bannind" --data "$run/manager" --new-token default --uses 1 --ttl 600) || exit 1
    "$agent" enroll --server "$link" --token "$token" --dir "$run/agent/link" || exit 1
    touch "$run/agent/.enrolled"
  fi
  "$agent" --server "$link" --link-dir "$run/agent/link" --spool "$run/agent/spool" \
      --output "$run/agent/events.ndjson" &
  apid=$!
  echo "== bannin-agent (pid $apid): enrolled, events also in $run/agent/events.ndjson"
fi

cat <<EOF

Try it (in another shell):
  export BANNIN_SERVER=http://$api
  export BANNIN_TOKEN=\$(BANNIN_PASSWORD='<password printed above>' $bannin api login admin)
  $bannin api agents list
  bash -c 'history -c'; cp /bin/true /tmp/bn-demo && chmod u+s /tmp/bn-demo   # two alerts
  $bannin api incidents list
The tenant is semi-managed: Bannin proposes, an operator decides; nothing here isolates or
firewalls this machine. Ctrl-C stops the manager and the agent.
EOF

if [ -n "${BN_DURATION:-}" ]; then
  sleep "$BN_DURATION"
  exit 0
fi
wait "$mpid"
