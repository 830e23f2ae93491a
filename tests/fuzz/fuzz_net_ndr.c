/*
 * fuzz_net_ndr.c - libFuzzer target for the network detections (src/sensor/ndr*.c): the
 * bytes script a stream of packets, flow ends and DNS records as hostile traffic would
 * shape them (addresses from a small space so state collides, ports, flags, clock jumps
 * forward and back, arbitrary query names) through a detector whose tables are bounded at
 * a few dozen entries, so eviction, window roll-over and de-duplication run all the time.
 * The tail of the input is parsed as the CIDR and port lists of the configuration.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "bannin/alloc.h"

#include "sensor/app.h"
#include "sensor/ndr.h"
#include "sensor/ndr_int.h"

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint8_t
u8(struct cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

static uint16_t
u16(struct cursor *c)
{
    return (uint16_t)(u8(c) | u8(c) << 8);
}

static struct net_addr
addr(struct cursor *c)
{
    struct net_addr a;
    memset(&a, 0, sizeof(a));
    uint8_t b = u8(c);
    if (b & 0x80) {
        a.fam = 6;
        a.a[0] = 0xfd;
        a.a[15] = b & 0x3f;
    } else {
        a.fam = 4;
        a.a[0] = b & 0x40 ? 10 : 198;
        a.a[1] = b & 0x40 ? 0 : 51;
        a.a[2] = 100;
        a.a[3] = b & 0x3f;
    }
    return a;
}

static void
emit(struct net_sink *self, const struct net_record *rec)
{
    (void)self;
    if (rec->type == NET_REC_ALERT) {
        const struct net_alert *a = rec->body;
        struct bn_buf b;
        bn_buf_init(&b, 4096);
        if (net_alert_eve(a, &b) == 0 && memchr(a->detail, '\0', sizeof(a->detail)) == NULL)
            __builtin_trap(); /* details are always terminated */
        bn_buf_release(&b);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct net_dns_rec dns;
    struct ndr_config cfg;
    if (ndr_config_init(&cfg) != 0)
        return 0;
    cfg.max_sources = 64;
    cfg.scan_probes_max = 1024;
    cfg.beacon_pairs_max = 64;
    cfg.dns_domains_max = 64;
    cfg.lateral_known_max = 1024;
    cfg.scan_vertical_ports = 4;
    cfg.scan_horizontal_hosts = 4;
    cfg.sweep_icmp_hosts = 4;
    cfg.sweep_arp_hosts = 4;
    cfg.brute_attempts = 3;
    cfg.beacon_min_conns = 4;
    cfg.beacon_min_span_ms = 1000;
    cfg.beacon_min_period_ms = 100;
    cfg.dns_tunnel_names = 3;
    cfg.dns_tunnel_txt = 3;
    cfg.dns_dga_names = 3;
    cfg.lateral_hosts = 3;
    cfg.exfil_bytes = 4096;
    struct ndr *d = ndr_new(&cfg);
    ndr_config_release(&cfg);
    if (!d)
        return 0;
    struct net_sink sink;
    memset(&sink, 0, sizeof(sink));
    sink.emit = emit;
    struct cursor c = {data, size};
    uint64_t now = 1700000000ull * 1000000000ull;
    size_t ops = 0;
    while (c.n > 0 && ops++ < 4096) {
        uint8_t op = u8(&c);
        /* Time moves mostly forward, sometimes back (out-of-order flows, clock steps). */
        int64_t step = (int64_t)(int16_t)u16(&c) * 10000000ll;
        now = (uint64_t)((int64_t)now + step);
        switch (op % 5) {
        case 0: { /* a TCP, UDP or ICMP packet */
            struct net_pkt p;
            memset(&p, 0, sizeof(p));
            p.ts_ns = now;
            p.src = addr(&c);
            p.dst = addr(&c);
            uint8_t k = u8(&c);
            p.proto = k % 3 == 0 ? 6 : k % 3 == 1 ? 17 : (p.src.fam == 6 ? 58 : 1);
            p.sport = u16(&c);
            p.dport = u16(&c);
            p.tcp_flags = u8(&c);
            p.payload_len = u16(&c);
            p.ip_len = p.payload_len + (uint32_t)u16(&c) * 16;
            ndr_packet(d, &p, &sink);
            break;
        }
        case 1: { /* ARP */
            struct net_pkt p;
            memset(&p, 0, sizeof(p));
            p.ts_ns = now;
            p.is_arp = 1;
            p.arp_op = u8(&c) & 3;
            p.src = addr(&c);
            p.dst = addr(&c);
            ndr_packet(d, &p, &sink);
            break;
        }
        case 2: { /* a flow ends */
            struct net_flow f;
            memset(&f, 0, sizeof(f));
            f.cli = addr(&c);
            f.srv = addr(&c);
            f.cport = u16(&c);
            f.sport = u16(&c);
            f.proto = u8(&c) & 1 ? 6 : 17;
            f.app = u8(&c) % NET_APP__COUNT;
            f.first_ns = now - (uint64_t)u16(&c) * 1000000ull;
            f.last_ns = now;
            f.tcp_flags[0] = u8(&c);
            f.tcp_flags[1] = u8(&c);
            f.payload_bytes[0] = (uint64_t)u16(&c) << (u8(&c) & 31);
            f.payload_bytes[1] = (uint64_t)u16(&c) << (u8(&c) & 31);
            struct net_record r = {NET_REC_FLOW, now, &f, 0, &f};
            ndr_record(d, &r, &sink);
            break;
        }
        case 3: { /* a DNS message with a name from the input */
            struct net_flow f;
            memset(&f, 0, sizeof(f));
            f.cli = addr(&c);
            f.srv = addr(&c);
            f.sport = 53;
            f.proto = 17;
            memset(&dns, 0, sizeof(dns));
            dns.is_response = u8(&c) & 1;
            dns.rcode = u8(&c) & 15;
            dns.n_queries = u8(&c) % (NET_DNS_QUERIES_MAX + 2); /* may claim more than kept */
            dns.queries[0].type = u16(&c);
            size_t len = u8(&c);
            len = BN_MIN(len, c.n);
            len = BN_MIN(len, sizeof(dns.queries[0].name) - 1);
            memcpy(dns.queries[0].name, c.p, len);
            c.p += len;
            c.n -= len;
            for (size_t i = 1; i < NET_DNS_QUERIES_MAX; i++)
                dns.queries[i] = dns.queries[0];
            struct net_record r = {NET_REC_DNS, now, &f, 0, &dns};
            ndr_record(d, &r, &sink);
            break;
        }
        default: ndr_tick(d, now, &sink); break;
        }
    }
    ndr_flush(d, &sink);
    struct ndr_stats st;
    ndr_stats(d, &st);
    if (st.entries > 64 * 12 + 1024 * 3)
        __builtin_trap(); /* a table grew past its bound */
    ndr_free(d);

    /* The rest of the input as configuration lists. */
    char list[256];
    size_t len = BN_MIN(c.n, sizeof(list) - 1);
    memcpy(list, c.p, len);
    list[len] = '\0';
    struct ndr_cidrs cidrs;
    uint16_t ports[NDR_PORTS_MAX];
    char err[128];
    (void)ndr_cidrs_parse(&cidrs, list, err, sizeof(err));
    (void)ndr_ports_parse(ports, NDR_PORTS_MAX, list, err, sizeof(err));
    return 0;
}
