#!/usr/bin/env bash
# test_sensor_ndr.sh - the built-in network detections (src/sensor/ndr*.c) end to end through
# `bannin pcap`: a pcap writer below (python3 + struct, no scapy) builds one capture per
# attack (vertical and horizontal TCP scans, a UDP scan answered by ICMP port unreachable,
# ICMP and ARP sweeps, SSH brute force, a 60 s beacon over an hour, a DNS TXT tunnel, DGA
# lookups, an SMB fan-out, a 1.2 GB upload) and benign
# captures (bursty browsing, normal DNS, an SSH session, monitoring pings, ARP; a 1.5 GB
# backup to an internal host). Each attack must raise its detection and nothing else; the
# benign captures nothing. Gigabyte captures go through a FIFO, never to disk.
#
# Then every suricata-verify and Zeek trace goes through the detections, and none may raise
# an NDR alert except the traces in ALLOW below, which truly hold that behaviour.
# Skips (77) without `bannin pcap`; the corpus part is skipped without the corpora.
set -uo pipefail
build=${1:?usage: test_sensor_ndr.sh BUILD_DIR}
bannin="$build/bannin"
corpora=${BN_CORPORA:-../shared/corpora}

if [ ! -x "$bannin" ] || ! "$bannin" pcap --help >/dev/null 2>&1; then
    echo "SKIP: $bannin has no working 'pcap' command"
    exit 77
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# ---- the pcap writer ----
cat >"$tmp/gen.py" <<'EOF'
import os, random, struct, sys

out = sys.argv[1]
rng = random.Random(20240607)
FIFO = sys.argv[2:4] if len(sys.argv) > 3 else None  # scenario, path
T0 = 1700000000.0


class Pcap:
    """pcap with nanosecond timestamps, Ethernet frames."""

    def __init__(self, path, snaplen=65535):
        self.f = open(path, 'wb')
        self.snap = snaplen
        self.f.write(struct.pack('<IHHiIII', 0xa1b23c4d, 2, 4, 0, 0, snaplen, 1))

    def frame(self, ts, data, wire=None):
        wire = wire or len(data)
        data = data[:self.snap]
        sec = int(ts)
        ns = int(round((ts - sec) * 1e9))
        if ns >= 1000000000:
            sec, ns = sec + 1, ns - 1000000000
        self.f.write(struct.pack('<IIII', sec, ns, len(data), wire))
        self.f.write(data)

    def close(self):
        self.f.close()


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(s):
    return bytes(int(x) for x in s.split('.'))


def mac(ip):
    return b'\x02\x00' + ip4(ip)


def eth(src, dst, etype, payload):
    return dst + src + struct.pack('!H', etype) + payload


ident = [0]


def ipv4(src, dst, proto, payload, total=None):
    ident[0] = (ident[0] + 1) & 0xffff
    total = total or 20 + len(payload)
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, total, ident[0], 0x4000, 64, proto, 0,
                    ip4(src), ip4(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def l4sum(src, dst, proto, seg):
    return csum(ip4(src) + ip4(dst) + struct.pack('!BBH', 0, proto, len(seg)) + seg)


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def tcp(src, dst, sp, dp, seq, ack, flags, data=b''):
    h = struct.pack('!HHIIBBHHH', sp, dp, seq & 0xffffffff, ack & 0xffffffff, 5 << 4, flags,
                    65535, 0, 0)
    c = l4sum(src, dst, 6, h + data)
    return h[:16] + struct.pack('!H', c) + h[18:] + data


def udp(src, dst, sp, dp, data):
    h = struct.pack('!HHHH', sp, dp, 8 + len(data), 0)
    c = l4sum(src, dst, 17, h + data) or 0xffff
    return h[:6] + struct.pack('!H', c) + data


class Net:
    def __init__(self, path, snaplen=65535):
        self.p = Pcap(path, snaplen)

    def ip(self, ts, src, dst, proto, payload, total=None):
        fr = eth(mac(src), mac(dst), 0x0800, ipv4(src, dst, proto, payload, total))
        wire = 14 + total if total else None
        self.p.frame(ts, fr, wire)

    def tcp(self, ts, src, dst, sp, dp, seq, ack, flags, data=b'', total=None):
        self.ip(ts, src, dst, 6, tcp(src, dst, sp, dp, seq, ack, flags, data), total)

    def udp(self, ts, src, dst, sp, dp, data):
        self.ip(ts, src, dst, 17, udp(src, dst, sp, dp, data))

    def icmp_echo(self, ts, src, dst, reply, seq):
        body = struct.pack('!BBHHH', 0 if reply else 8, 0, 0, 0x1234, seq) + b'x' * 48
        body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
        self.ip(ts, src, dst, 1, body)

    def arp(self, ts, op, sip, tip):
        body = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, mac(sip), ip4(sip),
                           b'\0' * 6 if op == 1 else mac(tip), ip4(tip))
        dst = b'\xff' * 6 if op == 1 else mac(tip)
        self.p.frame(ts, eth(mac(sip), dst, 0x0806, body + b'\0' * 18))

    def syn_probe(self, ts, src, dst, sp, dp, answer):
        seq = rng.getrandbits(32)
        self.tcp(ts, src, dst, sp, dp, seq, 0, SYN)
        if answer == 'open':
            srv = rng.getrandbits(32)
            self.tcp(ts + 0.0003, dst, src, dp, sp, srv, seq + 1, SYN | ACK)
            self.tcp(ts + 0.0004, src, dst, sp, dp, seq + 1, 0, RST)
        elif answer == 'closed':
            self.tcp(ts + 0.0003, dst, src, dp, sp, 0, seq + 1, RST | ACK)

    def conn(self, ts, cli, srv, cp, sp, exchanges, dur, mss=1448):
        """A whole TCP connection: handshake, (dir, bytes) exchanges spread over dur, FIN."""
        cs, ss = rng.getrandbits(32), rng.getrandbits(32)
        self.tcp(ts, cli, srv, cp, sp, cs, 0, SYN)
        self.tcp(ts + 0.001, srv, cli, sp, cp, ss, cs + 1, SYN | ACK)
        self.tcp(ts + 0.002, cli, srv, cp, sp, cs + 1, ss + 1, ACK)
        cs += 1
        ss += 1
        segs = []
        for d, data in exchanges:
            for i in range(0, len(data), mss):
                segs.append((d, data[i:i + mss]))
        step = (dur - 0.01) / (len(segs) + 1) if segs else 0
        t = ts + 0.003
        for d, chunk in segs:
            t += step
            if d == 'up':
                self.tcp(t, cli, srv, cp, sp, cs, ss, ACK | PSH, chunk)
                cs += len(chunk)
            else:
                self.tcp(t, srv, cli, sp, cp, ss, cs, ACK | PSH, chunk)
                ss += len(chunk)
        t = ts + dur
        self.tcp(t, cli, srv, cp, sp, cs, ss, FIN | ACK)
        self.tcp(t + 0.001, srv, cli, sp, cp, ss, cs + 1, FIN | ACK)
        self.tcp(t + 0.002, cli, srv, cp, sp, cs + 1, ss + 1, ACK)

    def bulk(self, ts, cli, srv, cp, sp, up, dur, seg=65000):
        """A large upload in 64 KB segments (as a capture with offload sees them), whole
        packets without checksums (the decoder does not verify them)."""
        cs, ss = rng.getrandbits(32), rng.getrandbits(32)
        self.tcp(ts, cli, srv, cp, sp, cs, 0, SYN)
        self.tcp(ts + 0.001, srv, cli, sp, cp, ss, cs + 1, SYN | ACK)
        self.tcp(ts + 0.002, cli, srv, cp, sp, cs + 1, ss + 1, ACK)
        cs += 1
        ss += 1
        n = up // seg
        zeros = bytes(seg)
        for i in range(n):
            t = ts + 0.003 + dur * i / n
            h = struct.pack('!HHIIBBHHH', cp, sp, cs & 0xffffffff, ss, 5 << 4, ACK, 65535, 0, 0)
            self.ip(t, cli, srv, 6, h + zeros)
            cs += seg
            if i % 16 == 15:
                self.tcp(t + 0.0001, srv, cli, sp, cp, ss, cs, ACK)
        t = ts + dur
        self.tcp(t, cli, srv, cp, sp, cs, ss, FIN | ACK)
        self.tcp(t + 0.001, srv, cli, sp, cp, ss, cs + 1, FIN | ACK)

    def close(self):
        self.p.close()


def dns_name(n):
    return b''.join(bytes([len(l)]) + l.encode() for l in n.split('.')) + b'\0'


def dns(ts, net, cli, srv, name, qtype, rcode=0, answer=None):
    qid = rng.getrandbits(16)
    cp = rng.randint(1024, 65535)
    q = struct.pack('!HHHHHH', qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + struct.pack(
        '!HH', qtype, 1)
    net.udp(ts, cli, srv, cp, 53, q)
    if rcode is None:
        return
    an = b''
    if rcode == 0 and answer is not None:
        if qtype == 16:
            rd = bytes([len(answer)]) + answer
        else:
            rd = ip4(answer)
        an = b'\xc0\x0c' + struct.pack('!HHIH', qtype, 1, 60, len(rd)) + rd
    r = struct.pack('!HHHHHH', qid, 0x8180 | rcode, 1, 1 if an else 0, 0, 0) + dns_name(
        name) + struct.pack('!HH', qtype, 1) + an
    net.udp(ts + 0.02, srv, cli, 53, cp, r)


def rand_label(n, alphabet='abcdefghijklmnopqrstuvwxyz234567'):
    return ''.join(rng.choice(alphabet) for _ in range(n))


def ssh_attempt(net, t, cli, srv, cp):
    net.conn(t, cli, srv, cp, 22, [('down', b'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3\r\n'),
                                   ('up', b'SSH-2.0-libssh_0.9.6\r\n'),
                                   ('up', os.urandom(1400)), ('down', os.urandom(1100)),
                                   ('up', os.urandom(300)), ('down', os.urandom(900)),
                                   ('up', os.urandom(200)), ('down', os.urandom(100))],
             rng.uniform(2, 5))


if FIFO:
    # Bulk transfers, whole packets written into a FIFO: gigabytes without disk space.
    n = Net(FIFO[1])
    if FIFO[0] == 'exfil':
        # 1.2 GB uploaded to an external host in 20 minutes.
        n.bulk(T0, '192.168.1.10', '198.51.100.20', 51515, 443, 1200 * 10**6, 1200)
    else:
        # A 1.5 GB backup to an internal file server.
        n.bulk(T0, '192.168.1.20', '192.168.1.30', 49700, 445, 1500 * 10**6, 1500)
    n.close()
    sys.exit(0)

# --- attacks ---
n = Net(out + '/scan_vertical.pcap')
for p in range(1, 1001):
    n.syn_probe(T0 + p * 0.001, '203.0.113.50', '192.168.1.10', 61000, p,
                'open' if p in (22, 80, 443) else 'closed')
n.close()

n = Net(out + '/scan_horizontal.pcap')
for h in range(1, 255):
    n.syn_probe(T0 + h * 0.005, '10.0.0.66', '10.0.1.%d' % h, 40000 + h, 445,
                'open' if h % 25 == 0 else 'filtered')
n.close()

n = Net(out + '/scan_udp.pcap')
for p in range(1, 1001):
    t = T0 + p * 0.002
    q = b'\0' * 32
    n.udp(t, '203.0.113.50', '192.168.1.10', 53000, p, q)
    if p in (53, 123, 161):
        n.udp(t + 0.0003, '192.168.1.10', '203.0.113.50', p, 53000, b'\1' * 48)
    else:
        # ICMP port unreachable quoting the probe's IP header and first 8 bytes.
        orig = ipv4('203.0.113.50', '192.168.1.10', 17, udp('203.0.113.50', '192.168.1.10',
                                                              53000, p, q))[:28]
        body = struct.pack('!BBHI', 3, 3, 0, 0) + orig
        body = body[:2] + struct.pack('!H', csum(body)) + body[4:]
        n.ip(t + 0.0003, '192.168.1.10', '203.0.113.50', 1, body)
n.close()

n = Net(out + '/sweep_icmp.pcap')
for h in range(1, 255):
    n.icmp_echo(T0 + h * 0.01, '192.168.1.66', '192.168.1.%d' % h, False, h)
    if h % 12 == 0:
        n.icmp_echo(T0 + h * 0.01 + 0.0005, '192.168.1.%d' % h, '192.168.1.66', True, h)
n.close()

n = Net(out + '/sweep_arp.pcap')
for h in range(1, 255):
    n.arp(T0 + h * 0.004, 1, '192.168.1.66', '192.168.1.%d' % h)
    if h < 20:
        n.arp(T0 + h * 0.004 + 0.0001, 2, '192.168.1.%d' % h, '192.168.1.66')
n.close()

n = Net(out + '/brute_ssh.pcap')
for i in range(50):
    ssh_attempt(n, T0 + i * 6, '203.0.113.9', '192.168.1.22', 42000 + i)
n.close()

n = Net(out + '/beacon.pcap')
for i in range(60):
    t = T0 + 60 * i + rng.uniform(-6, 6)
    n.conn(t, '192.168.1.10', '198.51.100.7', 40000 + i, 443,
           [('up', os.urandom(350)), ('down', os.urandom(900))], 0.3)
n.close()

n = Net(out + '/dns_tunnel.pcap')
for i in range(200):
    name = '%s.%s.%d.t.evil-tunnel.com' % (rand_label(60), rand_label(30), i)
    dns(T0 + i * 0.5, n, '192.168.1.77', '192.168.1.1', name, 16, 0,
        os.urandom(40).hex()[:60].encode())
n.close()

n = Net(out + '/dga.pcap')
tlds = ['com', 'net', 'info', 'ru', 'biz']
for i in range(50):
    name = '%s.%s' % (rand_label(rng.randint(10, 16), 'abcdefghijklmnopqrstuvwxyz'), tlds[i % 5])
    dns(T0 + i * 0.3, n, '192.168.1.99', '192.168.1.1', name, 1, 3)
n.close()

n = Net(out + '/lateral_smb.pcap')
neg = b'\0\0\0\x44' + b'\xfeSMB' + b'\x40\x00' + b'\0' * 58
for h in range(1, 31):
    n.conn(T0 + h * 4, '192.168.1.50', '192.168.2.%d' % h, 49000 + h, 445,
           [('up', neg), ('down', b'\0\0\0\x80' + b'\xfeSMB' + os.urandom(124)),
            ('up', os.urandom(900)), ('down', os.urandom(1200))], 3)
n.close()


# --- benign ---
popular = ['www.google.com', 'fonts.gstatic.com', 'en.wikipedia.org', 'github.com',
           'stackoverflow.com', 'www.youtube.com', 'login.microsoftonline.com',
           'www.bbc.co.uk', 'd1x2y3z4abcd.cloudfront.net', 'e1234.dscb.akamaiedge.net',
           'deb.debian.org', 'slack.com', 'zoom.us', 'www.amazon.com', 'www.nytimes.com',
           'news.ycombinator.com', 'pypi.org', 'registry.npmjs.org', 'mail.google.com',
           'open.spotify.com', 'www.paypal.com', 'www.reddit.com']
n = Net(out + '/benign.pcap')
events = []
t = T0
port = 40000
while t < T0 + 1800:
    t += rng.expovariate(1 / 60.0)
    for i in range(rng.randint(3, 20)):
        k = rng.randrange(len(popular))
        ts = t + rng.uniform(0, 3)
        port = port + 1 if port < 60000 else 40000
        events.append((ts, 'dns', popular[k], port))
        events.append((ts + 0.03, 'https', k, port))
for i in range(300):
    events.append((T0 + rng.uniform(0, 1800), 'dns2', popular[rng.randrange(len(popular))], 0))
for s in range(0, 1800, 30):
    events.append((T0 + s, 'ping', None, 0))
for i in range(60):
    events.append((T0 + rng.uniform(0, 1800), 'arp', None, 0))
events.sort(key=lambda e: e[0])
# The long flows first (their packets interleave with the rest in capture order).
n.conn(T0 + 1, '192.168.1.10', '10.0.0.5', 51000, 22,
       [('down', b'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'), ('up', b'SSH-2.0-OpenSSH_9.2p1\r\n')] +
       [('up' if i % 3 else 'down', os.urandom(rng.randint(60, 1400))) for i in range(400)],
       1500)
for ts, kind, arg, p in events:
    if kind == 'dns':
        dns(ts, n, '192.168.1.10', '192.168.1.1', arg, 1, 0,
            '151.101.1.%d' % (1 + popular.index(arg)))
    elif kind == 'dns2':
        dns(ts, n, '192.168.1.11', '192.168.1.1', arg, 28 if rng.random() < 0.5 else 1, 0, None)
    elif kind == 'https':
        n.conn(ts, '192.168.1.10', '151.101.1.%d' % (1 + arg), p, 443,
               [('up', b'\x16\x03\x01' + os.urandom(500)),
                ('down', os.urandom(rng.randint(5000, 80000)))],
               rng.uniform(0.2, 30))
    elif kind == 'ping':
        for i in range(8):
            n.icmp_echo(ts + i * 0.001, '192.168.1.5', '192.168.1.%d' % (30 + i), False, i)
            n.icmp_echo(ts + i * 0.001 + 0.0003, '192.168.1.%d' % (30 + i), '192.168.1.5', True, i)
    elif kind == 'arp':
        who = '192.168.1.%d' % rng.randint(2, 40)
        n.arp(ts, 1, who, '192.168.1.1')
        n.arp(ts + 0.0001, 2, '192.168.1.1', who)
n.close()
EOF

# The capture file format needs packets in time order within a file: the benign capture
# mixes long flows with short ones, so it is sorted by timestamp after writing.
cat >"$tmp/sort.py" <<'EOF'
import struct, sys
path = sys.argv[1]
data = open(path, 'rb').read()
hdr, off, recs = data[:24], 24, []
while off < len(data):
    sec, ns, cap, wire = struct.unpack_from('<IIII', data, off)
    recs.append(((sec, ns), data[off:off + 16 + cap]))
    off += 16 + cap
recs.sort(key=lambda r: r[0])
with open(path, 'wb') as f:
    f.write(hdr)
    for _, r in recs:
        f.write(r)
EOF

mkdir -p "$tmp/pcap"
if ! python3 "$tmp/gen.py" "$tmp/pcap"; then
    echo "FAIL the pcap writer failed"
    exit 1
fi
python3 "$tmp/sort.py" "$tmp/pcap/benign.pcap"

# ---- each scenario raises its detection, and only it ----
cat >"$tmp/count.py" <<'EOF'
import json, sys
counts = {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get('event_type') != 'alert':
        continue
    det = e['alert'].get('metadata', {}).get('bannin_detection')
    if det:
        counts[det[0]] = counts.get(det[0], 0) + 1
        print('   ', det[0], e['alert']['detail'], file=sys.stderr)
print(' '.join('%s=%d' % kv for kv in sorted(counts.items())))
EOF

check() {
    local name=$1 want=$2
    local got
    "$bannin" pcap -q --eve "$tmp/$name.json" "$tmp/pcap/$name.pcap" 2>"$tmp/$name.err"
    got=$(python3 "$tmp/count.py" "$tmp/$name.json" 2>"$tmp/$name.detail")
    if [ "$got" = "$want" ]; then
        echo "ok   $name: ${got:-no alerts}"
    else
        echo "FAIL $name: got '${got}', want '${want}'"
        cat "$tmp/$name.detail" "$tmp/$name.err"
        fails=$((fails + 1))
    fi
}

check scan_vertical "scan_vertical=1"
check scan_horizontal "scan_horizontal=1"
check scan_udp "scan_vertical=1"
check sweep_icmp "sweep_icmp=1"
check sweep_arp "sweep_arp=1"
check brute_ssh "brute_ssh=1"
check beacon "beacon=1"
check dns_tunnel "dns_tunnel=1"
check dga "dns_dga=1"
check lateral_smb "lateral=1"
# Gigabyte captures are written into a FIFO that bannin reads as it is written.
fifo_check() {
    local name=$1 scenario=$2 want=$3 writer
    mkfifo "$tmp/pcap/$name.pcap"
    python3 "$tmp/gen.py" "$tmp/pcap" "$scenario" "$tmp/pcap/$name.pcap" &
    writer=$!
    check "$name" "$want"
    if ! wait "$writer"; then
        echo "FAIL the $name pcap writer failed"
        fails=$((fails + 1))
    fi
}
fifo_check exfil_upload exfil "exfil=1"
fifo_check benign_backup backup ""
check benign ""

# ---- settings and IOC lists from files (--ndr-config, --ioc) ----
# A vertical-scan threshold above the scan's 1,000 ports: the same capture raises nothing.
printf 'ndr:\n  scan:\n    vertical_ports: 5000\n' > "$tmp/ndr.yml"
"$bannin" pcap -q --ndr-config "$tmp/ndr.yml" --eve "$tmp/scan_cfg.json" \
    "$tmp/pcap/scan_vertical.pcap" 2>"$tmp/scan_cfg.err"
got=$(python3 "$tmp/count.py" "$tmp/scan_cfg.json" 2>/dev/null)
if [ -z "$got" ]; then
    echo "ok   --ndr-config: vertical_ports 5000 silences the 1,000-port scan"
else
    echo "FAIL --ndr-config: got '$got'"; cat "$tmp/scan_cfg.err"; fails=$((fails + 1))
fi
printf 'ndr:\n  scan:\n    vertical_ports: 1\n' > "$tmp/ndr_bad.yml"
if "$bannin" pcap -q --ndr-config "$tmp/ndr_bad.yml" "$tmp/pcap/benign.pcap" \
        >/dev/null 2>"$tmp/ndr_bad.err"; then
    echo "FAIL --ndr-config: an out-of-range value was accepted"; fails=$((fails + 1))
else
    echo "ok   --ndr-config: out-of-range value refused: $(head -c 160 "$tmp/ndr_bad.err")"
fi
# An IOC list naming a server the benign capture talks to: IOC alerts, and only those.
dst=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event_type") == "flow" and not e["dest_ip"].startswith(("10.", "192.168.", "172.")):
        print(e["dest_ip"]); break' "$tmp/benign.json")
printf 'type,value,source\nip,%s,test-feed\nip,not-an-address,test-feed\n' "$dst" > "$tmp/ioc.csv"
"$bannin" pcap -q --ioc "$tmp/ioc.csv" --eve "$tmp/benign_ioc.json" "$tmp/pcap/benign.pcap" \
    2>"$tmp/ioc.err"
got=$(python3 "$tmp/count.py" "$tmp/benign_ioc.json" 2>/dev/null)
case "$got" in
ioc*=[0-9]*)
    if [ "${got#* }" = "$got" ]; then
        echo "ok   --ioc: traffic to $dst matched the list: $got"
    else
        echo "FAIL --ioc: more than IOC alerts: $got"; fails=$((fails + 1))
    fi ;;
*) echo "FAIL --ioc: no IOC alert for $dst (got '$got')"; cat "$tmp/ioc.err"; fails=$((fails + 1)) ;;
esac
if grep -q "1 entries skipped" "$tmp/ioc.err"; then
    echo "ok   --ioc: the bad line is counted and reported: $(head -c 160 "$tmp/ioc.err")"
else
    echo "FAIL --ioc: the bad line was not reported"; cat "$tmp/ioc.err"; fails=$((fails + 1))
fi

# ---- the corpora stay quiet ----
# Traces that truly hold a behaviour a detection looks for (path relative to the corpus):
ALLOW=(
    # 31+ TXT queries with base64 data under auth.srv.tunnel.com: a DNS tunnel.
    "suricata-verify/tests/dns/bug-1158/input.pcap dns_tunnel"
)
net="$corpora/network"
if [ ! -d "$net/suricata-verify" ] || [ ! -d "$net/zeek" ]; then
    echo "SKIP corpus silence: corpora not found under $net (set BN_CORPORA)"
else
    find "$net/suricata-verify" "$net/zeek" -type f \( -name '*.pcap' -o -name '*.pcapng' \
        -o -name '*.trace' -o -name '*.cap' \) | sort >"$tmp/corpus.list"
    total=$(wc -l <"$tmp/corpus.list")
    # Two runs over half the files each, side by side (a pipeline and detector per file),
    # counters per file.
    split -n l/2 "$tmp/corpus.list" "$tmp/part."
    for part in "$tmp"/part.*; do
        xargs -a "$part" -d '\n' "$bannin" pcap -q --eve "$part.json" --stats "$part.stats" \
            2>"$part.err" >/dev/null &
    done
    wait
    printf '%s\n' "${ALLOW[@]}" >"$tmp/allow"
    python3 - "$tmp/allow" "$net" "$total" "$tmp"/part.?? <<'EOF'
import json, os, sys
allowf, net, total = sys.argv[1:4]
parts = sys.argv[4:]
allow = {}
for l in open(allowf):
    if l.strip():
        p, det = l.split()
        allow[os.path.normpath(os.path.join(net, p))] = det
# Alerts are attributed to files by each file's NDR counter, in the order of its run.
per_file = {}
dets = {}
for part in parts:
    order = []
    for l in open(part + '.stats'):
        s = json.loads(l)
        f = os.path.normpath(s['file'])
        per_file[f] = s['stats']
        order.append(f)
    alerts = []
    for l in open(part + '.json'):
        e = json.loads(l)
        if e.get('event_type') == 'alert':
            d = e['alert'].get('metadata', {}).get('bannin_detection')
            if d:
                alerts.append((d[0], e['alert'].get('detail', '')))
    i = 0
    for f in order:
        n = per_file[f].get('alerts', {}).get('ndr', 0)
        dets[f] = alerts[i:i + n]
        i += n
bad = 0
seen_allowed = set()
for f in per_file:
    for det, detail in dets[f]:
        if allow.get(f) == det:
            seen_allowed.add(f)
            print('ok   allowed %s in %s' % (det, os.path.relpath(f, net)))
        else:
            bad += 1
            print('FAIL %s in %s: %s' % (det, os.path.relpath(f, net), detail))
for f in allow:
    if f not in seen_allowed:
        print('note: allowed trace %s raised nothing' % os.path.relpath(f, net))
print('corpus: %d files given, %d analysed, %d NDR alerts outside the allowlist' %
      (int(total), len(per_file), bad))
sys.exit(1 if bad else 0)
EOF
    if [ $? -ne 0 ]; then
        fails=$((fails + 1))
    fi
fi

if [ $fails -ne 0 ]; then
    echo "FAIL: $fails check(s)"
    exit 1
fi
echo "PASS"
