#!/usr/bin/env bash
# test_sensor_pcap.sh - the network sensor end to end.
#
# 1. `bannin pcap` on a capture this script writes (TCP session, DNS over UDP, ICMP echo, a
#    fragmented datagram, truncated and non-IP frames): eve flow records, counters, the Zeek
#    conn rendering and the summary's drop counts are checked field by field.
# 2. `bannin pcap` on suricata-verify captures (when ../shared/corpora is there): flow records
#    compared with the flow checks Suricata's own test suite makes.
# 3. `bannin-sensor -i` live in a pair of network namespaces joined by veth: ping and a TCP
#    exchange, then the flow records and the exit counters. Needs root and iproute2.
set -uo pipefail
build=${1:?usage: test_sensor_pcap.sh BUILD_DIR}
bannin="$build/bannin"
sensor="$build/bannin-sensor"
corpora=${BN_CORPORA:-../shared/corpora}
sv="$corpora/network/suricata-verify/tests"
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

if [ ! -x "$bannin" ] || [ ! -x "$sensor" ]; then
    echo "SKIP: $bannin or $sensor not built"
    exit 77
fi
tmp=$(mktemp -d)
ns_a=bn-netcore-a-$$
ns_b=bn-netcore-b-$$
sensor_pid=
server_pid=
cleanup() {
    [ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    ip netns del "$ns_a" 2>/dev/null
    ip netns del "$ns_b" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- 1. a capture written here ----
python3 - "$tmp/gen.pcap" <<'PY'
import struct, sys

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def ip4(src, dst, proto, payload, ident=1, frag=0):
    a = bytes(map(int, src.split("."))); b = bytes(map(int, dst.split(".")))
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, a, b)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def eth(payload, t=0x0800):
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + struct.pack("!H", t) + payload

def tcp(sp, dp, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 0x50, flags, 65535, 0, 0) + data

def udp(sp, dp, data):
    return struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data

C, S = "192.0.2.10", "198.51.100.20"
pk = []
t = 1700000000.0
def add(frame, dt=0.001, snap=None):
    global t
    t += dt
    pk.append((t, frame if snap is None else frame[:snap], len(frame)))

# TCP: handshake, request, response, client closes first
req = b"GET /index.html HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t\r\n\r\n"
resp = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"
add(eth(ip4(C, S, 6, tcp(40001, 80, 1000, 0, 0x02))))
add(eth(ip4(S, C, 6, tcp(80, 40001, 5000, 1001, 0x12))))
add(eth(ip4(C, S, 6, tcp(40001, 80, 1001, 5001, 0x10))))
add(eth(ip4(C, S, 6, tcp(40001, 80, 1001, 5001, 0x18, req))))
add(eth(ip4(S, C, 6, tcp(80, 40001, 5001, 1001 + len(req), 0x18, resp))))
add(eth(ip4(C, S, 6, tcp(40001, 80, 1001 + len(req), 5001 + len(resp), 0x11))))
add(eth(ip4(S, C, 6, tcp(80, 40001, 5001 + len(resp), 1002 + len(req), 0x11))))
add(eth(ip4(C, S, 6, tcp(40001, 80, 1002 + len(req), 5002 + len(resp), 0x10))), dt=2.0)
# DNS query and answer
q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x07example\x04test\x00" + struct.pack("!HH", 1, 1)
a = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + b"\x07example\x04test\x00" + struct.pack("!HH", 1, 1) \
    + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 7])
add(eth(ip4(C, "192.0.2.53", 17, udp(53001, 53, q))))
add(eth(ip4("192.0.2.53", C, 17, udp(53, 53001, a))))
# ICMP echo request and reply
icmp = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"x" * 32
add(eth(ip4(C, S, 1, icmp)))
add(eth(ip4(S, C, 1, struct.pack("!BBHHH", 0, 0, 0, 7, 1) + b"x" * 32)))
# a UDP datagram in two fragments, second first
dg = udp(7000, 7001, b"F" * 64)
add(eth(ip4(C, S, 17, dg[32:], ident=99, frag=4)))
add(eth(ip4(C, S, 17, dg[:32], ident=99, frag=0x2000)))
# a frame cut by the snap length inside the IP header, and a non-IP frame (LLDP)
add(eth(ip4(C, S, 6, tcp(1, 2, 3, 4, 0x02))), snap=20)
add(eth(b"\x02\x07\x04\0\0\0\0\0\0\0", t=0x88cc))

with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for ts, fr, wl in pk:
        f.write(struct.pack("<IIII", int(ts), int(round((ts % 1) * 1e6)), len(fr), wl) + fr)
PY
# a Sigma rule over Zeek conn records (what SigmaHQ's rules/network/zeek rules look at)
mkdir -p "$tmp/rules"
cat > "$tmp/rules/conn.yml" <<'YML'
title: Test web connection completed
id: 3f0c6c1e-6a52-4c1b-9d0e-b7b1f1d8a001
status: test
logsource:
    product: zeek
    service: conn
detection:
    selection:
        id.resp_p: 80
        conn_state: SF
    condition: selection
level: high
tags:
    - attack.t1071.001
YML
"$bannin" pcap --no-ndr --rules "$tmp/rules" --eve "$tmp/gen.eve" --zeek "$tmp/gen.zeek" \
    --stats "$tmp/gen.stats" "$tmp/gen.pcap" > "$tmp/gen.summary" 2>&1 ||
    fail "bannin pcap on the generated capture"
python3 - "$tmp" <<'PY' || fails=$((fails + 1))
import json, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/gen.eve")]
zk = [json.loads(l) for l in open(d + "/gen.zeek")]
st = json.loads(open(d + "/gen.stats").read())["stats"]
summary = open(d + "/gen.summary").read()
bad = []
def check(cond, what):
    if not cond: bad.append(what)
flows = {(e["proto"], e.get("dest_port")): e for e in ev if e["event_type"] == "flow"}
t = flows.get(("TCP", 80))
check(t is not None, "a TCP flow to port 80")
if t:
    check(t["src_ip"] == "192.0.2.10" and t["src_port"] == 40001, "TCP client is the SYN sender")
    check(t["flow"]["pkts_toserver"] == 5 and t["flow"]["pkts_toclient"] == 3, "TCP packet counts")
    check(t["flow"]["state"] == "closed" and t["tcp"]["state"] == "closed", "TCP closed: %s" % t["tcp"])
    check(t["tcp"]["tcp_flags_ts"] == "1b" and t["tcp"]["tcp_flags_tc"] == "1b", "TCP flags")
    check(t["flow"]["age"] == 2 and t["flow"]["reason"] == "shutdown", "TCP age/reason")
    check(t.get("app_proto") == "http", "TCP app_proto http: %s" % t.get("app_proto"))
    check(t["community_id"].startswith("1:") and len(t["community_id"]) == 30, "community id")
    check("02:00:00:00:00:01" in t["ether"]["src_macs"], "client MAC")
u = flows.get(("UDP", 53))
check(u is not None and u["flow"]["pkts_toclient"] == 1 and u.get("app_proto") == "dns", "DNS flow")
i = [e for e in ev if e["event_type"] == "flow" and e["proto"] == "ICMP"]
check(len(i) == 1 and i[0]["icmp_type"] == 8 and i[0]["response_icmp_type"] == 0, "ICMP echo flow")
fr = flows.get(("UDP", 7001))
check(fr is not None and fr["flow"]["bytes_toserver"] == 20 + 8 + 64, "reassembled datagram flow")
dns = [e for e in ev if e["event_type"] == "dns"]
check(any(e["dns"].get("type") == "response" and e["src_port"] == 53 for e in dns),
      "DNS response written from the server's side")
conn = [z for z in zk if z["_path"] == "conn" and z["id.resp_p"] == 80]
check(len(conn) == 1 and conn[0]["conn_state"] == "SF" and conn[0]["history"] == "ShADdFf",
      "Zeek conn record: %s" % conn)
check(conn and conn[0]["uid"] == t["community_id"], "Zeek uid is the community id")
dec = st["decoder"]
check(dec["packets"] == 16 and dec["truncated"] == 1 and dec["unsupported"] == 1
      and dec["non_ip"] == 1 and dec["frag_pending"] == 1 and dec["frag_reassembled"] == 1,
      "decoder counters %s" % dec)
check(dec["packets"] == dec["decoded"] + dec["truncated"] + dec["malformed"] + dec["unsupported"]
      + dec["frag_pending"] + dec["frag_dropped"], "every packet accounted for")
check("truncated 1" in summary and "packets/s" in summary, "summary lists drops and speed")
al = [e for e in ev if e["event_type"] == "alert"]
check(len(al) == 1 and al[0]["alert"]["signature"] == "Test web connection completed"
      and al[0]["alert"]["severity"] == 1 and al[0]["dest_port"] == 80
      and al[0].get("community_id") == (t or {}).get("community_id"),
      "one Sigma alert on the port-80 conn record: %s" % al)
check(t and t["flow"]["alerted"] is True, "the alerted flow says so")
check(st["output"]["zeek_errors"] == 0 and st["output"]["eve_errors"] == 0, "no output errors")
for b in bad: print("FAIL generated capture:", b)
sys.exit(1 if bad else 0)
PY
echo "ok 1 generated capture"

# ---- 2. suricata-verify flow checks ----
if [ -d "$sv" ]; then
    n=0
    for t in bug-6733-syn-packet-flow-output app-layer-template base64-issue-5223 \
             decode-erspan-typeI-02 bittorrent-dht; do
        pcap=$(ls "$sv/$t"/*.pcap 2>/dev/null | head -1)
        [ -z "$pcap" ] && continue
        "$bannin" pcap -q --no-ndr --eve "$tmp/sv-$t.eve" "$pcap" || fail "bannin pcap $t"
        n=$((n + 1))
    done
    python3 - "$tmp" "$sv" <<'PY' || fails=$((fails + 1))
import json, os, sys
tmp, sv = sys.argv[1:3]
# (test, expected flow fields) straight from those tests' test.yaml
want = {
    "bug-6733-syn-packet-flow-output": {"src_ip": "147.183.77.73", "dest_port": 25,
        "flow.pkts_toserver": 1, "flow.bytes_toserver": 66, "flow.state": "new",
        "tcp.state": "syn_sent", "tcp.tcp_flags": "02"},
    "app-layer-template": {"src_ip": "10.16.1.11", "src_port": 58352, "flow.age": 20,
        "flow.bytes_toclient": 277, "flow.bytes_toserver": 419, "flow.pkts_toclient": 4,
        "flow.pkts_toserver": 6, "flow.state": "closed", "tcp.tcp_flags": "1b"},
    "base64-issue-5223": {"src_ip": "192.168.237.128", "flow.bytes_toclient": 108,
        "flow.bytes_toserver": 262, "flow.state": "established", "tcp.tcp_flags_tc": "12"},
    "decode-erspan-typeI-02": {"src_ip": "100.95.2.201", "proto": "ICMP", "vlan": [1011]},
    "bittorrent-dht": {"src_ip": "190.0.0.1", "src_port": 40000, "flow.bytes_toserver": 98,
        "flow.bytes_toclient": 89},
}
bad = 0
for t, fields in want.items():
    p = os.path.join(tmp, "sv-%s.eve" % t)
    if not os.path.exists(p):
        continue
    recs = [json.loads(l) for l in open(p)]
    def get(r, k):
        for part in k.split("."):
            if not isinstance(r, dict) or part not in r: return None
            r = r[part]
        return r
    ok = [r for r in recs if r["event_type"] == "flow" and all(get(r, k) == v for k, v in fields.items())]
    if len(ok) != 1:
        print("FAIL suricata-verify %s: no flow record with %s" % (t, fields)); bad += 1
sys.exit(1 if bad else 0)
PY
    echo "ok 2 suricata-verify flow checks ($n captures)"
else
    echo "skip 2 suricata-verify corpus not found under $corpora"
fi

# ---- 3. live capture between two network namespaces ----
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "skip 3 live capture needs root and iproute2"
else
    ip netns add "$ns_a" && ip netns add "$ns_b" &&
    ip link add bnnc-a$$ netns "$ns_a" type veth peer name bnnc-b$$ netns "$ns_b" &&
    ip -n "$ns_a" addr add 10.251.7.1/24 dev bnnc-a$$ &&
    ip -n "$ns_b" addr add 10.251.7.2/24 dev bnnc-b$$ &&
    ip -n "$ns_a" link set bnnc-a$$ up && ip -n "$ns_b" link set bnnc-b$$ up &&
    ip -n "$ns_a" link set lo up && ip -n "$ns_b" link set lo up
    if [ $? -ne 0 ]; then
        fail "cannot set up network namespaces"
    else
        ip netns exec "$ns_a" "$sensor" -i bnnc-a$$ -f "ip or ip6" --no-ndr \
            --eve "$tmp/live.eve" 2> "$tmp/live.err" &
        sensor_pid=$!
        ip netns exec "$ns_b" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.251.7.2", 8080)); s.listen(1); s.settimeout(20)
c, _ = s.accept(); d = c.recv(100); c.sendall(b"pong:" + d); c.close()' &
        server_pid=$!
        for _ in $(seq 50); do grep -q capturing "$tmp/live.err" 2>/dev/null && break; sleep 0.1; done
        sleep 0.5
        # three echo requests from a raw socket (no dependency on a ping binary)
        ip netns exec "$ns_a" python3 -c '
import socket, struct, time
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(2)
for seq in range(1, 4):
    m = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"bannin-ping-%02d" % seq
    m = m[:2] + struct.pack("!H", csum(m)) + m[4:]
    s.sendto(m, ("10.251.7.2", 0))
    s.recv(1500)
    time.sleep(0.1)' || fail "ping in the namespaces"
        ip netns exec "$ns_a" python3 -c '
import socket, time
for _ in range(50):
    try:
        s = socket.create_connection(("10.251.7.2", 8080), timeout=2); break
    except OSError: time.sleep(0.1)
s.sendall(b"ping"); print(s.recv(100).decode()); s.close()' > "$tmp/live.client" || fail "TCP exchange"
        wait "$server_pid" 2>/dev/null; server_pid=
        sleep 0.5
        kill -USR1 "$sensor_pid"   # counters on demand, capture goes on
        for _ in $(seq 50); do grep -q '"reason":"signal"' "$tmp/live.err" && break; sleep 0.1; done
        kill -TERM "$sensor_pid"; wait "$sensor_pid"; rc=$?; sensor_pid=
        [ $rc -eq 0 ] || fail "bannin-sensor exited $rc: $(tail -3 "$tmp/live.err")"
        python3 - "$tmp" <<'PY' || fails=$((fails + 1))
import json, sys
d = sys.argv[1]
ev = [json.loads(l) for l in open(d + "/live.eve")]
err = open(d + "/live.err").read()
stats = [json.loads(l) for l in err.splitlines() if l.startswith("{")]
bad = []
fl = [e for e in ev if e["event_type"] == "flow"]
icmp = [e for e in fl if e["proto"] == "ICMP"]
tcp = [e for e in fl if e["proto"] == "TCP" and e.get("dest_port") == 8080]
if not (icmp and icmp[0]["flow"]["pkts_toserver"] == 3 and icmp[0]["flow"]["pkts_toclient"] == 3):
    bad.append("ICMP flow with 3 echo requests and 3 replies: %s" % icmp)
if not (tcp and tcp[0]["src_ip"] == "10.251.7.1" and tcp[0]["flow"]["state"] == "closed"
        and tcp[0]["tcp"]["syn"] and tcp[0]["tcp"]["fin"] and tcp[0].get("in_iface")):
    bad.append("TCP flow to 8080, closed, from 10.251.7.1: %s" % tcp)
if tcp and tcp[0]["flow"]["bytes_toserver"] <= 0:
    bad.append("TCP bytes counted")
if not any(x["reason"] == "signal" for x in stats):
    bad.append("counters on SIGUSR1")
if not stats or stats[-1]["reason"] != "exit" or "kernel_dropped" not in stats[-1]["capture"]:
    bad.append("exit counters with kernel drops on stderr")
elif stats[-1]["stats"]["decoder"]["packets"] < 10:
    bad.append("decoder saw the traffic: %s" % stats[-1]["stats"]["decoder"])
for b in bad: print("FAIL live:", b)
sys.exit(1 if bad else 0)
PY
        grep -q "pong:ping" "$tmp/live.client" || fail "TCP exchange answer"
        echo "ok 3 live capture in network namespaces"
    fi
fi

if [ $fails -ne 0 ]; then
    echo "test_sensor_pcap: $fails failure(s)"
    exit 1
fi
echo "test_sensor_pcap: ok"
