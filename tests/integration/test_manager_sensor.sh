#!/bin/bash
# test_manager_sensor.sh - the network sensor sends its records to the manager (issue 6):
#   bannind on loopback <- mutual TLS <- bannin-sensor (enrolled with a one-use token)
#   1. a generated capture (a vertical port scan, DNS lookups - one of a name an uploaded
#      Sigma rule for Zeek dns names, one of a name on the IOC list - and HTTP to an address
#      on the IOC list) replayed with --eve beside the link: every record arrives, counts per
#      type equal the NDJSON of the same run; the sensor's scan alert, the central Sigma hit
#      and the IOC matches become alerts and incidents; the flow is found by its Community ID
#      through the event search; the agents list shows the identity as a sensor.
#   2. kill -9 of the sensor while bannind is frozen (batches in flight, unacknowledged),
#      then a restart: the spooled records arrive, seqs 1..N stored exactly once.
#   3. `bannin pcap --server --link-dir` on the same enrolment: its records are stored,
#      equal to its --eve output.
# Usage: test_manager_sensor.sh BUILD_DIR. KEEP=1 keeps the temp dir.
set -u
BUILD=${1:?build dir}
. "$(dirname "$0")/lib.sh"
MGR=$BUILD/bannind
SENSOR=$BUILD/bannin-sensor
bn_need_exec "$MGR" "$SENSOR"
bn_need_cmd curl
bn_need_python

W=$(mktemp -d /tmp/bn-msensor-XXXXXX)
MPID= SPID= GPID=
cleanup() {
    for p in $SPID $GPID $MPID; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    for p in $SPID $GPID $MPID; do wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
phase() { echo "---- $* (at ${SECONDS} s)"; }

LINK_PORT=$(free_port); API_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT/api/v1

# ---- the capture generator (python3 + struct) ----
cat > "$W/gen.py" <<'EOF'
import os, random, struct, sys, time

rng = random.Random(6)
T0 = time.time() - 600 + float(os.environ.get('TSHIFT', '0'))  # recent: inside any retention window


class Pcap:
    def __init__(self, f):
        self.f = f
        f.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, 65535, 1))

    def frame(self, ts, data):
        sec = int(ts)
        ns = min(int((ts - sec) * 1e9), 999999999)
        self.f.write(struct.pack('<IIII', sec, ns, len(data), len(data)) + data)


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(s):
    return bytes(int(x) for x in s.split('.'))


ident = [0]


def frame(src, dst, proto, seg):
    ident[0] = (ident[0] + 1) & 0xffff
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(seg), ident[0], 0x4000, 64, proto, 0,
                    ip4(src), ip4(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return b'\x02\x00' + ip4(dst) + b'\x02\x00' + ip4(src) + b'\x08\x00' + h + seg


def l4sum(src, dst, proto, seg):
    return csum(ip4(src) + ip4(dst) + struct.pack('!BBH', 0, proto, len(seg)) + seg)


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def tcp(p, ts, src, dst, sp, dp, seq, ack, flags, data=b''):
    h = struct.pack('!HHIIBBHHH', sp, dp, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags,
                    65535, 0, 0)
    c = l4sum(src, dst, 6, h + data)
    p.frame(ts, frame(src, dst, 6, h[:16] + struct.pack('!H', c) + h[18:] + data))


def udp(p, ts, src, dst, sp, dp, data):
    h = struct.pack('!HHHH', sp, dp, 8 + len(data), 0)
    c = l4sum(src, dst, 17, h + data) or 0xffff
    p.frame(ts, frame(src, dst, 17, h[:6] + struct.pack('!H', c) + data))


def dns(p, ts, cli, srv, name, answer):
    qid, cp = rng.getrandbits(16), rng.randint(1024, 65535)
    qn = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'
    q = struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0) + qn + struct.pack('!HH', 1, 1)
    udp(p, ts, cli, srv, cp, 53, q)
    an = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + ip4(answer)
    r = struct.pack('!HHHHHH', qid, 0x8180, 1, 1, 0, 0) + qn + struct.pack('!HH', 1, 1) + an
    udp(p, ts + 0.01, srv, cli, 53, cp, r)


def http(p, ts, cli, srv, cp, host):
    cs, ss = rng.getrandbits(32), rng.getrandbits(32)
    tcp(p, ts, cli, srv, cp, 80, cs, 0, SYN)
    tcp(p, ts + 0.001, srv, cli, 80, cp, ss, cs + 1, SYN | ACK)
    tcp(p, ts + 0.002, cli, srv, cp, 80, cs + 1, ss + 1, ACK)
    req = ('GET /update.bin HTTP/1.1\r\nHost: %s\r\nUser-Agent: bannin-test\r\n\r\n' %
           host).encode()
    tcp(p, ts + 0.003, cli, srv, cp, 80, cs + 1, ss + 1, ACK | PSH, req)
    body = b'x' * 100
    resp = (b'HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n'
            b'Content-Length: 100\r\n\r\n' + body)
    tcp(p, ts + 0.010, srv, cli, 80, cp, ss + 1, cs + 1 + len(req), ACK | PSH, resp)
    c2, s2 = cs + 1 + len(req), ss + 1 + len(resp)
    tcp(p, ts + 0.011, cli, srv, cp, 80, c2, s2, ACK)
    tcp(p, ts + 0.020, cli, srv, cp, 80, c2, s2, FIN | ACK)
    tcp(p, ts + 0.021, srv, cli, 80, cp, s2, c2 + 1, FIN | ACK)
    tcp(p, ts + 0.022, cli, srv, cp, 80, c2 + 1, s2 + 1, ACK)


mode, out = sys.argv[1], sys.argv[2]
f = open(out, 'wb')
p = Pcap(f)
if mode == 'main':
    # a vertical scan: 150 ports of one host, answered by RSTs
    for port in range(1, 151):
        s = rng.getrandbits(32)
        t = T0 + port * 0.002
        tcp(p, t, '10.66.0.9', '10.66.0.10', 61000, port, s, 0, SYN)
        tcp(p, t + 0.0003, '10.66.0.10', '10.66.0.9', port, 61000, 0, s + 1, RST | ACK)
    t = T0 + 5
    for i in range(5):
        dns(p, t + i, '10.66.0.5', '10.66.0.53', 'www%d.benign.example' % i, '192.0.2.%d' % (i + 1))
    dns(p, t + 6, '10.66.0.5', '10.66.0.53', 'pool.sigma-test.example', '192.0.2.50')
    dns(p, t + 7, '10.66.0.7', '10.66.0.53', 'cdn.ioc-test.example', '192.0.2.60')
    dns(p, t + 7.5, '10.66.0.8', '10.66.0.53', 'xmr.supportxmr.com', '192.0.2.70')
    http(p, t + 8, '10.66.0.5', '198.51.100.77', 50123, 'files.example.net')
else:
    # a stream of DNS lookups
    for i in range(int(sys.argv[3])):
        dns(p, T0 + 20 + i * 0.01, '10.66.1.%d' % (i % 200 + 1), '10.66.0.53',
            'host%d.stream.example' % i, '192.0.2.%d' % (i % 250 + 1))
f.close()
EOF
"$PY" "$W/gen.py" main "$W/main.pcap" || { bad "capture generator"; exit 1; }

# ---- the manager, a Sigma rule for Zeek dns names, an IOC list ----
mkdir -p "$W/rules"
cat > "$W/rules/zeek_dns_sigma_test.yml" <<'EOF'
title: DNS lookup of the test mining pool
id: 6d1b2c3a-0000-4000-8000-00000000b6e6
status: test
description: A Zeek dns query for the test pool domain (bannin test_manager_sensor.sh)
logsource:
  product: zeek
  service: dns
detection:
  selection:
    query|endswith: '.sigma-test.example'
  condition: selection
level: high
tags:
  - attack.command_and_control
  - attack.t1071.004
EOF
# SigmaHQ's Zeek rules too, when the corpus is there (zeek_dns_mining_pools fires on the
# xmr.supportxmr.com lookup)
SIGMAHQ=${BN_CORPORA:-../shared/corpora}/sigma/rules/rules/network/zeek
RULES=(--rules "$W/rules")
[ -d "$SIGMAHQ" ] && RULES+=(--rules "$SIGMAHQ") || echo "info: no SigmaHQ corpus at $SIGMAHQ: own rule only"
bn_mgr_init "$W/mgr" "$W/init.txt" || { bad "bannind --init"; exit 1; }
bn_mgr_start "$W/bannind.log" --data "$W/mgr" --listen "127.0.0.1:$LINK_PORT" \
    --api "127.0.0.1:$API_PORT" "${RULES[@]}" || { cat "$W/bannind.log"; bad "API not up"; exit 1; }
TOKEN=$(bn_login admin "$PASS")
[ -n "$TOKEN" ] || { bad "login"; exit 1; }
TID=$(bn_api GET /tenants | jq_py 'print([t["id"] for t in d["items"] if t["name"]=="default"][0])')
bn_api POST /ioc-lists "{\"name\":\"sensor-test\",\"tenant_id\":$TID,\"format\":\"csv\",\"content\":\"type,value\\nip,198.51.100.77\\ndomain,ioc-test.example\\n\"}" > "$W/ioc.json"
grep -q '"entries":2' "$W/ioc.json" && ok "IOC list imported (an address and a domain)" ||
    bad "IOC import: $(cat "$W/ioc.json")"

phase "manager up"
# ---- enrolment ----
bn_enroll "$SENSOR" "$W/link" "$W/enroll.txt" --host span-sensor-1 &&
    ok "sensor enrolled: $(head -c 90 "$W/enroll.txt")" || { cat "$W/enroll.txt"; bad "enrol"; exit 1; }

SID=$(sed -n 's/^enrolled as sensor \([0-9]*\) .*/\1/p' "$W/enroll.txt")
# every stored event of the sensor through the event search, oldest first: [{seq, event}]
cat > "$W/events.py" <<'EOF'
import json, sys, urllib.parse, urllib.request
api, token, sid, out = sys.argv[1:5]
items, cursor = [], None
while True:
    q = {'agent_id': sid, 'limit': '1000'}
    if cursor:
        q['cursor'] = cursor
    req = urllib.request.Request(api + '/events?' + urllib.parse.urlencode(q),
                                 headers={'Authorization': 'Bearer ' + token})
    d = json.load(urllib.request.urlopen(req))
    items += [{'seq': i['seq'], 'event': i['event']} for i in d['items']]
    cursor = d.get('next_cursor')
    if not cursor:
        break
items.sort(key=lambda i: i['seq'])
json.dump(items, open(out, 'w'))
print(len(items))
EOF
events() { "$PY" "$W/events.py" "$API" "$TOKEN" "$SID" "$1"; }

phase "1. a capture with --eve beside the link"
"$SENSOR" -r "$W/main.pcap" --link-dir "$W/link" --eve "$W/run1.eve" --heartbeat 500 \
    --drain 30 2> "$W/run1.err"
rc=$?
[ $rc = 0 ] && ok "sensor run 1 exited 0" || bad "sensor run 1 exit $rc: $(tail -c 600 "$W/run1.err")"
events "$W/ev1.json" >/dev/null
"$PY" - "$W/ev1.json" "$W/run1.eve" <<'EOF' || fails=$((fails + 1))
import collections, json, sys
eve = collections.Counter(json.loads(l)['event_type'] for l in open(sys.argv[2]))
rows = [(i['seq'], i['event']) for i in json.load(open(sys.argv[1]))]
got = collections.Counter(j['event_type'] for _, j in rows)
stats = got.pop('stats', 0)
bad = 0
def check(c, what):
    global bad
    print(('ok   ' if c else 'FAIL ') + what)
    bad += 0 if c else 1
check(got == eve, 'records stored per type equal the NDJSON of the run: %s (eve %s)'
      % (dict(got), dict(eve)))
check(stats >= 1, '%d stats record(s) of the sensor stored' % stats)
seqs = [s for s, _ in rows]
check(seqs == list(range(1, len(seqs) + 1)), 'seqs 1..%d, no hole, no repeat' % len(seqs))
lines = [json.loads(l) for l in open(sys.argv[2])]
stored = [j for _, j in rows if j['event_type'] != 'stats']
check(stored == lines, 'each record stored as the NDJSON line has it, in order')
sys.exit(1 if bad else 0)
EOF

phase "alerts"
# alerts: the sensor's scan alert, the central Sigma hit on the Zeek rendering, IOC matches
for _ in $(seq 1 20); do
    bn_api GET "/alerts?limit=100" > "$W/alerts.json"
    grep -q 'sensor\.' "$W/alerts.json" && grep -q '"ioc.ip"\|ioc\.ip' "$W/alerts.json" && break
    sleep 0.5
done
"$PY" - "$W/alerts.json" "$([ -d "$SIGMAHQ" ] && echo 1 || echo 0)" <<'EOF' || fails=$((fails + 1))
import json, sys
al = json.load(open(sys.argv[1]))['items']
bad = 0
def check(c, what):
    global bad
    print(('ok   ' if c else 'FAIL ') + what)
    bad += 0 if c else 1
def find(pred):
    return [a for a in al if pred(a)]
scan = find(lambda a: a['rule_id'].startswith('sensor.') and 'scan' in a.get('rule_title', '').lower())
check(len(scan) == 1 and scan[0].get('host') == '10.66.0.9',
      "the sensor's vertical-scan alert is a manager alert about the scanner: %s"
      % [(a['rule_id'], a.get('rule_title'), a.get('host')) for a in scan])
sig = find(lambda a: a['rule_id'] == '6d1b2c3a-0000-4000-8000-00000000b6e6')
check(len(sig) == 1 and sig[0].get('host') == '10.66.0.5' and sig[0].get('source') == 'central',
      'central Sigma (Zeek dns rule) on the sensor record: %s'
      % [(a['rule_id'], a.get('host'), a.get('source')) for a in sig])
ipm = find(lambda a: a['rule_id'] == 'ioc.ip')
check(len(ipm) >= 1 and all(a.get('host') == '10.66.0.5' for a in ipm),
      'IOC address 198.51.100.77 matched (HTTP and its flow): %s'
      % [(a['rule_id'], a.get('host'), a.get('count')) for a in ipm])
dom = find(lambda a: a['rule_id'] == 'ioc.domain')
check(len(dom) >= 1 and dom[0].get('host') == '10.66.0.7',
      'IOC domain ioc-test.example matched on the DNS lookup: %s'
      % [(a['rule_id'], a.get('host'), a.get('count')) for a in dom])
if sys.argv[2] == '1':
    xmr = find(lambda a: a['rule_id'] == 'bf74135c-18e8-4a72-a926-0e4f47888c19')
    check(len(xmr) == 1 and xmr[0].get('host') == '10.66.0.8',
          "SigmaHQ's zeek_dns_mining_pools on the sensor's DNS record: %s"
          % [(a['rule_id'], a.get('rule_title'), a.get('host')) for a in xmr])
check(all(a.get('incident_id') for a in scan + sig + ipm + dom), 'every one of them is in an incident')
sys.exit(1 if bad else 0)
EOF
bn_api GET "/incidents?limit=100" > "$W/incidents.json"
ninc=$(jq_py 'print(len(d["items"]))' < "$W/incidents.json")
[ "${ninc:-0}" -ge 2 ] && ok "$ninc incidents (scanner, clients)" || bad "incidents: $(head -c 400 "$W/incidents.json")"

# the HTTP flow, found by its Community ID through the event search
CID=$("$PY" -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["event_type"] == "flow" and r.get("dest_ip") == "198.51.100.77":
        print(r["community_id"])' "$W/run1.eve")
bn_api GET "/events?field.community_id=$(printf %s "$CID" | "$PY" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')&limit=50" > "$W/cid.json"
"$PY" - "$W/cid.json" "$CID" <<'EOF' || fails=$((fails + 1))
import json, sys
items = json.load(open(sys.argv[1])).get('items', [])
types = sorted(json.loads(i['json'])['event_type'] if isinstance(i.get('json'), str)
               else i.get('json', i.get('event', {})).get('event_type') for i in items)
ok = 'flow' in types and 'http' in types
print(('ok   ' if ok else 'FAIL ') + 'event search by community_id %s finds %s' % (sys.argv[2], types))
sys.exit(0 if ok else 1)
EOF

bn_api GET /agents > "$W/agents.json"
"$PY" - "$W/agents.json" <<'EOF' || fails=$((fails + 1))
import json, sys
ags = json.load(open(sys.argv[1]))['items']
a = [x for x in ags if x.get('hostname') == 'span-sensor-1']
h = a[0].get('health') if a else None
if isinstance(h, str):
    h = json.loads(h)
ok = bool(a) and isinstance(h, dict) and h.get('kind') == 'sensor' and 'link' in h
print(('ok   ' if ok else 'FAIL ') + 'the agents list shows span-sensor-1 as a sensor: %s'
      % json.dumps(h)[:300])
sys.exit(0 if ok else 1)
EOF

phase "2. kill -9 while the manager is frozen, then a restart"
"$PY" "$W/gen.py" stream "$W/stream.pcap" 15000
"$SENSOR" -r "$W/stream.pcap" --link-dir "$W/link" --heartbeat 500 2> "$W/run2.err" & SPID=$!
# the newest DNS record's seq at the manager (newest first by event time)
newest_dns() {
    bn_api GET "/events?agent_id=$SID&field.event_type=dns&limit=1" |
        jq_py 'print(d["items"][0]["seq"] if d["items"] else 0)'
}
base=$(newest_dns)
n=$base
for _ in $(seq 1 150); do
    n=$(newest_dns)
    [ "$n" -gt $((base + 300)) ] && break
    sleep 0.1
done
kill -STOP "$MPID"
sleep 1.5   # the sensor goes on: records spooled, batches sent, no acknowledgement
kill -9 "$SPID"; wait "$SPID" 2>/dev/null; SPID=
kill -CONT "$MPID"
when="during the capture"
grep -q '"reason":"exit"' "$W/run2.err" && when="after the capture, waiting for acknowledgements"
[ "$n" -gt "$base" ] && ok "sensor killed with -9 $when while bannind was frozen (records up to seq $n stored before)" ||
    bad "no stream record reached the manager before the kill"
"$PY" "$W/gen.py" stream "$W/tail.pcap" 20
phase "restart"
"$SENSOR" -r "$W/tail.pcap" --link-dir "$W/link" --heartbeat 500 --drain 30 2> "$W/run3.err"
rc=$?
[ $rc = 0 ] && ok "sensor restarted, run 3 exited 0" || bad "run 3 exit $rc: $(tail -c 600 "$W/run3.err")"
phase "run 3 done"
# seqs straight from the store (the column is plain; paging 40,000 events through the API
# under ASan would take most of a minute)
"$PY" - "$W/mgr/bannin.db" "$W/run3.err" "$SID" <<'EOF' || fails=$((fails + 1))
import json, sqlite3, sys
last = [json.loads(l) for l in open(sys.argv[2]) if l.startswith('{"event_type":"stats"')][-1]
link = last['link']
con = sqlite3.connect('file:%s?mode=ro' % sys.argv[1], uri=True)
seqs = [r[0] for r in con.execute('select seq from events where agent_id = ? order by seq',
                                  (int(sys.argv[3]),))]
# the exit stats record is spooled after its own counters were taken: one more seq
n = link['spool_next_seq']
bad = 0
def check(c, what):
    global bad
    print(('ok   ' if c else 'FAIL ') + what)
    bad += 0 if c else 1
check(link['refused'] == 0 and link['spool_dropped'] == 0 and link['spool_corrupt'] == 0,
      'nothing refused, shed or corrupt in the spool (%d records)' % n)
check('not yet acknowledged' not in open(sys.argv[2]).read(),
      'run 3 drained: every spooled record acknowledged before exit')
check(seqs == list(range(1, n + 1)),
      'after kill -9 and restart the manager holds seqs 1..%d exactly once (%d rows)'
      % (n, len(seqs)))
sys.exit(1 if bad else 0)
EOF
phase "checked"

# 3. `bannin pcap --server --link-dir` sends its records the same way (same enrolment and
#    spool: seqs go on where run 3 stopped); stored records equal its --eve output, in order
if [ -x "$BUILD/bannin" ]; then
    phase "3. bannin pcap --server"
    # 400 s later than the other captures: its records are the newest the event search lists
    TSHIFT=400 "$PY" "$W/gen.py" stream "$W/pcap.pcap" 40
    before=$("$PY" -c 'import sqlite3,sys; c=sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(c.execute("select coalesce(max(seq),0) from events where agent_id=?", (int(sys.argv[2]),)).fetchone()[0])' \
        "$W/mgr/bannin.db" "$SID")
    "$BUILD/bannin" pcap --link-dir "$W/link" --server "127.0.0.1:$LINK_PORT" --drain 30 \
        --eve "$W/pcap.eve" "$W/pcap.pcap" > "$W/pcap.out" 2> "$W/pcap.err"
    rc=$?
    [ $rc = 0 ] && ok "bannin pcap --server exited 0: $(grep '^manager' "$W/pcap.out")" ||
        bad "bannin pcap exit $rc: $(tail -c 600 "$W/pcap.err")"
    bn_api GET "/events?agent_id=$SID&limit=500" > "$W/pcap_events.json"
    "$PY" - "$W/pcap_events.json" "$before" "$W/pcap.eve" <<'EOF' || fails=$((fails + 1))
import collections, json, sys
first = int(sys.argv[2]) + 1
rows = sorted((i['seq'], i['event']) for i in json.load(open(sys.argv[1]))['items']
              if i['seq'] >= first)
lines = [json.loads(l) for l in open(sys.argv[3])]
stored = [j for _, j in rows if j['event_type'] != 'stats']
stats = [j for _, j in rows if j['event_type'] == 'stats']
got = collections.Counter(j['event_type'] for j in stored)
eve = collections.Counter(j['event_type'] for j in lines)
bad = 0
def check(c, what):
    global bad
    print(('ok   ' if c else 'FAIL ') + what)
    bad += 0 if c else 1
check(len(lines) > 0 and got == eve,
      'bannin pcap: records stored per type equal its --eve output: %s (eve %s)'
      % (dict(got), dict(eve)))
check([s for s, _ in rows] == list(range(first, first + len(rows))),
      'bannin pcap: seqs go on from %d without a hole or repeat' % first)
check(stored == lines, 'bannin pcap: each record stored as its --eve line has it, in order')
check(len(stats) == 1 and stats[0].get('reason') == 'exit' and
      stats[0].get('file', '').endswith('pcap.pcap') and rows[-1][1] is stats[0] and
      stats[0]['stats']['decoder']['packets'] > 0,
      'bannin pcap: one stats record of the file, after its records: %s'
      % json.dumps(stats)[:160])
sys.exit(1 if bad else 0)
EOF
    # no enrolment: a clear error, exit 1; a manager that does not answer: the records stay
    # spooled, a message says how many, exit 1
    mkdir -p "$W/empty"
    "$BUILD/bannin" pcap -q --link-dir "$W/empty" "$W/pcap.pcap" 2> "$W/pcap2.err"
    rc=$?
    [ $rc = 1 ] && grep -q "holds no enrolment" "$W/pcap2.err" &&
        ok "bannin pcap without an enrolment: exit 1, $(head -c 100 "$W/pcap2.err")" ||
        bad "bannin pcap without an enrolment: exit $rc: $(head -c 300 "$W/pcap2.err")"
    "$BUILD/bannin" pcap -q --link-dir "$W/link" --server 127.0.0.1:1 --drain 1 \
        "$W/pcap.pcap" 2> "$W/pcap3.err"
    rc=$?
    [ $rc = 1 ] && grep -q "[0-9]* records not yet acknowledged" "$W/pcap3.err" &&
        ok "bannin pcap, manager unreachable: exit 1, records kept in the spool" ||
        bad "bannin pcap, manager unreachable: exit $rc: $(head -c 300 "$W/pcap3.err")"
else
    echo "info: $BUILD/bannin not built: the bannin pcap --server step skipped"
fi
dups=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$API_PORT/metrics" |
    sed -n 's/^bannin_ingest_duplicates_total \([0-9]*\).*/\1/p')
echo "info $dups events the restarted sensor sent again were dropped by seq at the manager"

if [ "$fails" -ne 0 ]; then
    echo "--- bannind log"; tail -n 30 "$W/bannind.log"
    echo "--- sensor run 1"; tail -c 1500 "$W/run1.err"
    echo "FAIL: $fails check(s)"
    exit 1
fi
echo "PASS: sensor and bannin pcap records at the manager (counts equal the NDJSON), sensor/Sigma/IOC alerts and incidents, kill -9 loses nothing"
