#!/usr/bin/env python3
"""make_bench_pcap.py - build the network sensor's benchmark captures.

Two kinds, both classic pcap (microsecond timestamps, Ethernet):

  mix    Real traffic, replicated: every Ethernet pcap of the suricata-verify tests whose checks
         concern dns/tls/http and every Zeek trace under Traces/{dns,http,tls} (the corpora in
         ../shared/corpora/network; read, never copied into the project). The sources are
         merged by time into one base sequence (each source starts 50 us after the previous
         one; inside a source, gaps over 60 s become 1 s and time never goes back), then the base sequence is repeated R times, replica k shifted by k * 1 ms, and
         the replicas merged by time, so R copies of every flow are live at once. Replica k
         rewrites every IPv4 address a to a XOR m_k (m_k a hash of k on the low 24 bits; the
         first octet is kept) and every IPv6 address's last 32 bits likewise; the IPv4 header
         and TCP/UDP checksums are updated incrementally (RFC 1624). Ports, payloads, sizes
         and the packet order within a flow are untouched. R is chosen to reach --packets.

  flows  N distinct concurrent flows built by code, for memory per flow: half UDP DNS (a query
         for host<i>.example.com, type A, and its answer), half TCP HTTP (SYN, SYN-ACK, a
         GET /<i> request with ACK, a 200 response with a 5-byte body); no FIN, so every flow
         is still open at the end; client 10.x.y.z and ports unique per flow, servers in
         198.18.0.0/24; 10 us between flows (1 M flows span 10 s: no flow times out).
         Checksums are correct.

Usage:
  make_bench_pcap.py mix --packets 3000000 -o mix.pcap [--corpus DIR]
  make_bench_pcap.py flows --flows 1000000 -o flows.pcap
Prints one JSON line: {"file", "packets", "bytes" (captured), "wire_bytes", "flows"?, ...}.
"""

import argparse
import heapq
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "corpora", "network"))
LINKTYPE_ETHERNET = 1


# --------------------------------------------------------------------------- pcap reading
def read_pcap(path):
    """[(ts_us, wirelen, bytes)] of an Ethernet classic pcap, or None if not one."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return None
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, nano = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, nano = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, nano = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        endian, nano = ">", True
    else:
        return None  # pcapng or something else
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        return None
    out, off, hdr = [], 24, struct.Struct(endian + "IIII")
    while off + 16 <= len(data):
        sec, frac, incl, orig = hdr.unpack_from(data, off)
        off += 16
        if incl > 262144 or off + incl > len(data):
            break  # truncated file: keep what was whole
        ts = sec * 1000000 + (frac // 1000 if nano else frac)
        out.append((ts, orig, data[off:off + incl]))
        off += incl
    return out


# --------------------------------------------------------------------------- checksums
def csum_add(c, a):
    c += a
    return (c & 0xFFFF) + (c >> 16)


def csum_update(old, old_words, new_words):
    """RFC 1624 eqn 3: HC' = ~(~HC + ~m + m')."""
    c = (~old) & 0xFFFF
    for w in old_words:
        c = csum_add(c, (~w) & 0xFFFF)
    for w in new_words:
        c = csum_add(c, w)
    c = csum_add(c, 0)
    return (~c) & 0xFFFF


def words(b):
    return struct.unpack("!%dH" % (len(b) // 2), b)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(words(b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


# --------------------------------------------------------------------------- rewriting
def l3_offset(pkt):
    """(offset of the IP header, ethertype) after Ethernet and up to two VLAN tags."""
    if len(pkt) < 14:
        return None, None
    off, et = 14, struct.unpack_from("!H", pkt, 12)[0]
    for _ in range(2):
        if et in (0x8100, 0x88A8) and len(pkt) >= off + 4:
            et = struct.unpack_from("!H", pkt, off + 2)[0]
            off += 4
    return off, et


def fix_l4(pkt, l4, proto, old_w, new_w, first_frag):
    if not first_frag:
        return
    if proto == 6 and len(pkt) >= l4 + 18:
        pos = l4 + 16
    elif proto == 17 and len(pkt) >= l4 + 8:
        pos = l4 + 6
        if struct.unpack_from("!H", pkt, pos)[0] == 0:
            return  # UDP over IPv4 without checksum
    else:
        return
    old = struct.unpack_from("!H", pkt, pos)[0]
    struct.pack_into("!H", pkt, pos, csum_update(old, old_w, new_w))


def rewrite(pkt, mask4, mask6):
    """Returns a copy of an Ethernet frame with its addresses remapped (best effort)."""
    off, et = l3_offset(pkt)
    if off is None:
        return pkt
    b = bytearray(pkt)
    if et == 0x0800 and len(b) >= off + 20 and (b[off] >> 4) == 4:
        ihl = (b[off] & 15) * 4
        old = bytes(b[off + 12:off + 20])
        s = struct.unpack("!I", old[:4])[0] ^ mask4
        d = struct.unpack("!I", old[4:])[0] ^ mask4
        new = struct.pack("!II", s, d)
        b[off + 12:off + 20] = new
        oc = struct.unpack_from("!H", b, off + 10)[0]
        struct.pack_into("!H", b, off + 10, csum_update(oc, words(old), words(new)))
        frag = struct.unpack_from("!H", b, off + 6)[0] & 0x1FFF
        fix_l4(b, off + ihl, b[off + 9], words(old), words(new), frag == 0)
    elif et == 0x86DD and len(b) >= off + 40 and (b[off] >> 4) == 6:
        old = bytes(b[off + 8:off + 40])
        new = bytearray(old)
        for base in (12, 28):
            v = struct.unpack_from("!I", new, base)[0] ^ mask6
            struct.pack_into("!I", new, base, v)
        b[off + 8:off + 40] = new
        nh = b[off + 6]
        if nh in (6, 17):  # no extension headers: fix the L4 checksum
            fix_l4(b, off + 40, nh, words(old), words(bytes(new)), True)
    return bytes(b)


def mix_mask(k):
    x = (k * 0x9E3779B1 + 0x7F4A7C15) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x


# --------------------------------------------------------------------------- writer
class PcapWriter:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        self.buf = bytearray()
        self.packets = 0
        self.bytes = 0
        self.wire = 0

    def write(self, ts_us, data, wirelen=None):
        wl = wirelen if wirelen is not None else len(data)
        self.buf += struct.pack("<IIII", ts_us // 1000000, ts_us % 1000000, len(data), wl)
        self.buf += data
        self.packets += 1
        self.bytes += len(data)
        self.wire += wl
        if len(self.buf) > (4 << 20):
            self.f.write(self.buf)
            self.buf = bytearray()

    def close(self):
        self.f.write(self.buf)
        self.f.close()


# --------------------------------------------------------------------------- mix
def mix_sources(corpus):
    srcs = set()
    sv = os.path.join(corpus, "suricata-verify")
    mpath = os.path.join(sv, "MANIFEST.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            for e in json.load(f):
                if set(e.get("event_types", [])) & {"dns", "tls", "http"}:
                    srcs.add(os.path.join(sv, e["pcap"]))
    for sub in ("dns", "http", "tls"):
        d = os.path.join(corpus, "zeek", "Traces", sub)
        for root, _, files in os.walk(d):
            for fn in files:
                if fn.endswith((".pcap", ".trace", ".cap")):
                    srcs.add(os.path.join(root, fn))
    return sorted(srcs)


def build_mix(a):
    base, used, skipped = [], 0, 0
    start = 0
    for path in mix_sources(a.corpus):
        pk = read_pcap(path)
        if not pk:
            skipped += 1
            continue
        used += 1
        t, prev = start, pk[0][0]
        for ts, wl, data in pk:
            gap = ts - prev
            prev = ts
            # keep the trace's own timing, but squeeze gaps over a minute to one second
            # (one capture spans five years) and never go backwards
            t += 0 if gap < 0 else (1000000 if gap > 60000000 else gap)
            base.append((t, wl, data))
        start += 50
    if not base:
        sys.exit("make_bench_pcap: no usable source pcap under %s" % a.corpus)
    base.sort(key=lambda p: p[0])  # stable: file order kept for equal times
    reps = max(1, -(-a.packets // len(base)))
    w = PcapWriter(a.output)

    def replica(k):
        m4 = mix_mask(k) & 0x00FFFFFF
        m6 = mix_mask(k + 1000003)
        shift = k * 1000
        for t, wl, data in base:
            yield (t + shift, k, wl, data, m4, m6)

    t_origin = 1700000000 * 1000000
    for t, k, wl, data, m4, m6 in heapq.merge(*(replica(k) for k in range(reps)),
                                              key=lambda x: (x[0], x[1])):
        w.write(t_origin + t, data if k == 0 else rewrite(data, m4, m6), wl)
    w.close()
    return {"file": a.output, "kind": "mix", "sources": used, "sources_skipped": skipped,
            "base_packets": len(base), "replicas": reps, "packets": w.packets,
            "bytes": w.bytes, "wire_bytes": w.wire}


# --------------------------------------------------------------------------- flows
ETH_HDR_C2S = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
ETH_HDR_S2C = bytes.fromhex("020000000001" "020000000002") + b"\x08\x00"


def ipv4(src, dst, proto, payload, ident):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64,
                    proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", checksum(h)) + h[12:]
    return h + payload


def l4_csum(src, dst, proto, seg):
    return checksum(src + dst + struct.pack("!BBH", 0, proto, len(seg)) + seg)


def udp(src, dst, sp, dp, data):
    seg = struct.pack("!HHHH", sp, dp, 8 + len(data), 0) + data
    c = l4_csum(src, dst, 17, seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp(src, dst, sp, dp, seq, ack, flags, data):
    seg = struct.pack("!HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    c = l4_csum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def dns_name(n):
    return b"".join(bytes([len(p)]) + p for p in n.encode().split(b".")) + b"\0"


def build_flows(a):
    w = PcapWriter(a.output)
    t = 1700000000 * 1000000
    for i in range(a.flows):
        cli = struct.pack("!I", (10 << 24) | (((i >> 8) & 0xFFFF) << 8) | (i & 0xFF))
        srv = bytes([198, 18, 0, 1 + i % 200])
        sp = 1024 + (i * 7919) % 64000
        if i % 2 == 0:
            qid = i & 0xFFFF
            q = dns_name("host%d.example.com" % i)
            query = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + b"\x00\x01\x00\x01"
            ans = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + b"\x00\x01\x00\x01" + \
                b"\xc0\x0c\x00\x01\x00\x01" + struct.pack("!IH", 300, 4) + srv
            w.write(t, ETH_HDR_C2S + ipv4(cli, srv, 17, udp(cli, srv, sp, 53, query), i))
            w.write(t + 2, ETH_HDR_S2C + ipv4(srv, cli, 17, udp(srv, cli, 53, sp, ans), i))
        else:
            cs, ss = (i * 2654435761) & 0xFFFFFFFF, (i * 40503) & 0xFFFFFFFF
            req = ("GET /%d HTTP/1.1\r\nHost: www%d.example.com\r\nUser-Agent: bench/1\r\n"
                   "Accept: */*\r\n\r\n" % (i, i % 1000)).encode()
            rsp = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
            w.write(t, ETH_HDR_C2S + ipv4(cli, srv, 6, tcp(cli, srv, sp, 80, cs, 0, 0x02, b""), i))
            w.write(t + 1, ETH_HDR_S2C + ipv4(srv, cli, 6, tcp(srv, cli, 80, sp, ss, cs + 1,
                                                                 0x12, b""), i))
            w.write(t + 2, ETH_HDR_C2S + ipv4(cli, srv, 6, tcp(cli, srv, sp, 80, cs + 1, ss + 1,
                                                                 0x18, req), i))
            w.write(t + 3, ETH_HDR_S2C + ipv4(srv, cli, 6, tcp(srv, cli, 80, sp, ss + 1,
                                                                 cs + 1 + len(req), 0x18, rsp), i))
        t += 10
    w.close()
    return {"file": a.output, "kind": "flows", "flows": a.flows, "packets": w.packets,
            "bytes": w.bytes, "wire_bytes": w.wire}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("kind", choices=("mix", "flows"))
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--packets", type=int, default=3000000, help="mix: at least this many")
    ap.add_argument("--flows", type=int, default=1000000, help="flows: this many flows")
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    a = ap.parse_args()
    info = build_mix(a) if a.kind == "mix" else build_flows(a)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
