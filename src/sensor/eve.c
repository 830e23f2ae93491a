/*
 * eve.c - the sensor's records as Suricata eve.json lines (one JSON object per line).
 *
 * Field names and shapes follow Suricata's eve schema wherever we produce the same thing, so
 * tools reading Suricata output read ours and the suricata-verify checks apply: the common
 * header (timestamp, flow_id, in_iface, event_type, vlan, src_ip, src_port, dest_ip,
 * dest_port, proto, ip_v, pcap_cnt, app_proto, community_id), flow records ("flow" and
 * "tcp" members), the application members rendered by app_eve.c (net_app_eve) and alert
 * members rendered by ndr.c (net_alert_eve). IPv6 addresses are written fully expanded, as
 * Suricata does; times are UTC with "+0000".
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/hex.h"
#include "sensor/app.h"
#include "sensor/ndr.h"
#include "sensor/pipeline.h"

#define NET_EVE_TIME_LEN 31 /* "YYYY-MM-DDTHH:MM:SS.uuuuuu+0000" */

#define TRY(x)                                                                                 \
    do {                                                                                       \
        int rc_ = (x);                                                                         \
        if (rc_)                                                                               \
            return rc_;                                                                        \
    } while (0)

/*
 * Offline (no iface), the lines are batched in e->b and written EVE_BATCH bytes at a time:
 * the callers' FILE buffers are 4 KiB whatever setvbuf was asked (glibc ignores the size
 * without a buffer), and a write(2) per 4 KiB was 5 % of `bannin pcap`. Live capture, and a
 * FILE that is unbuffered or line buffered (the manager link's spool: a record written is
 * on disk), get each line at once as before. net_eve_flush writes the batch out; the
 * pipeline calls it wherever it flushes its FILEs, and before a Zeek line to the same FILE.
 */
#define EVE_BATCH (256u << 10)

static bool
eve_batching(const struct net_eve *e)
{
    return !e->iface && __fbufsize(e->fp) != 1 && !__flbf(e->fp);
}

void
net_eve_init(struct net_eve *e, FILE *fp, const char *iface)
{
    memset(e, 0, sizeof(*e));
    e->fp = fp;
    e->iface = iface;
    /* room for a full batch plus one line of the usual bound (checked per line) */
    bn_buf_init(&e->b, fp && !iface ? EVE_BATCH + NET_EVE_LINE_MAX : NET_EVE_LINE_MAX);
}

/*
 * Writes the batch to the FILE's descriptor itself when it has one: stdio would copy most of
 * it through the FILE's buffer first (fwrite fills what is left of that buffer, writes it,
 * and buffers the tail). What the FILE holds goes first, so the order is kept. Whatever a
 * write(2) failed to take goes through fwrite as before, so a failure leaves the FILE in the
 * state it did (its error flag, fclose's result).
 */
static size_t
eve_write_fd(FILE *fp, const char *p, size_t n)
{
    int fd = fileno(fp);
    size_t done = 0;
    if (fd < 0 || fflush(fp) != 0)
        return 0;
    while (done < n) {
        ssize_t w = write(fd, p + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    return done;
}

/*
 * Writes out the batch's first n bytes and keeps the rest at its start. When write(2) does
 * not take all n, the whole rest of the batch goes through fwrite and is dropped, as when n
 * is all of it (its lines counted as errors if fwrite fails too).
 */
static void
eve_flush_n(struct net_eve *e, size_t n)
{
    if (!e->fp || !e->b.len)
        return;
    size_t done = eve_write_fd(e->fp, e->b.p, n);
    if (done == n && n < e->b.len) {
        memmove(e->b.p, e->b.p + n, e->b.len - n);
        e->b.len -= n;
        e->b.p[e->b.len] = '\0';
        return;
    }
    if (done < e->b.len && fwrite(e->b.p + done, 1, e->b.len - done, e->fp) != e->b.len - done) {
        /* the lines of the batch were counted written: they were not */
        uint64_t k = 0;
        for (const char *q = e->b.p; (q = memchr(q, '\n', e->b.len - (size_t)(q - e->b.p)));
             q++)
            k++;
        e->lines -= BN_MIN(k, e->lines);
        e->errors += k;
    }
    bn_buf_reset(&e->b);
}

void
net_eve_flush(struct net_eve *e)
{
    eve_flush_n(e, e->b.len);
}

/*
 * A full batch goes out up to the next multiple of EVE_BATCH in the file, the rest (part of
 * a line) stays: writes of 256 KiB at aligned offsets let the page cache take them in large
 * folios (ext4 has them in recent kernels), where an unaligned stream of writes gets small
 * ones, each with its own lookup, block reservation and memory charge. write(2)'s share of
 * a --no-ndr run on the bench mix went from 5.1 to 4.0 % (Linux 6.18, ext4). Not a file (a
 * pipe): all of it, as before.
 */
static void
eve_flush_batch(struct net_eve *e)
{
    off_t pos = lseek(fileno(e->fp), 0, SEEK_CUR);
    size_t n = e->b.len;
    if (pos >= 0 && (size_t)(pos % EVE_BATCH) + n > EVE_BATCH)
        n = EVE_BATCH - (size_t)(pos % EVE_BATCH);
    eve_flush_n(e, n);
}

void
net_eve_release(struct net_eve *e)
{
    net_eve_flush(e);
    bn_buf_release(&e->b);
}

/* Two decimal digits of v (below 100) at out[0..1]. */
static inline void
dig2(char *out, unsigned v)
{
    memcpy(out, bn_dec_pairs + 2 * v, 2);
}

/*
 * Formats by hand (no printf) and keeps the last second's date and time: records come in
 * time order, so gmtime_r runs about once per second of traffic, not once per record.
 */
const char *
net_eve_time(uint64_t ns, char *buf, size_t size)
{
    static _Thread_local time_t last_s = -1;
    static _Thread_local char last[20]; /* "YYYY-MM-DDTHH:MM:SS" */
    time_t s = (time_t)(ns / 1000000000ull);
    unsigned us = (unsigned)((ns / 1000u) % 1000000u);

    if (size < NET_EVE_TIME_LEN + 1) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    if (s != last_s) {
        struct tm tm;
        if (!gmtime_r(&s, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
            snprintf(buf, size, "1970-01-01T00:00:00.000000+0000");
            return buf;
        }
        unsigned y = (unsigned)(tm.tm_year + 1900);
        dig2(last, y / 100);
        dig2(last + 2, y % 100);
        last[4] = '-';
        dig2(last + 5, (unsigned)tm.tm_mon + 1);
        last[7] = '-';
        dig2(last + 8, (unsigned)tm.tm_mday);
        last[10] = 'T';
        dig2(last + 11, (unsigned)tm.tm_hour);
        last[13] = ':';
        dig2(last + 14, (unsigned)tm.tm_min);
        last[16] = ':';
        dig2(last + 17, (unsigned)tm.tm_sec);
        last[19] = '\0';
        last_s = s;
    }
    memcpy(buf, last, 19);
    buf[19] = '.';
    dig2(buf + 20, us / 10000);
    dig2(buf + 22, us / 100 % 100);
    dig2(buf + 24, us % 100);
    memcpy(buf + 26, "+0000", 6);
    return buf;
}

/* ---- direct formatting: the hot path renders without printf ---- */

#define LIT(b, s) net_buf_add((b), (s), sizeof(s) - 1)

static int
put_cstr(struct bn_buf *b, const char *s)
{
    return net_buf_add(b, s, strlen(s));
}

/* ,"key":<unsigned>. Inlined so the key's copy has a constant length; one bounds check. */
static inline __attribute__((always_inline)) int
put_kv_u(struct bn_buf *b, const char *key_lit, size_t key_len, uint64_t v)
{
    char tmp[24];
    size_t i = bn_u64_dec(tmp, v), n = sizeof(tmp) - i;

    if (key_len + n < b->cap - b->len) {
        char *o = b->p + b->len;
        memcpy(o, key_lit, key_len);
        net_copy_short(o + key_len, tmp + i, n);
        b->len += key_len + n;
        b->p[b->len] = '\0';
        return 0;
    }
    TRY(net_buf_add(b, key_lit, key_len));
    return net_buf_add(b, tmp + i, n);
}

#define KV_U(b, lit, v) put_kv_u((b), (lit), sizeof(lit) - 1, (v))

/* ,"key":"<escaped val>" (key_open: the literal ,"key":" and its length) */
static int
put_str_n(struct bn_buf *b, const char *key_open, size_t key_len, const char *val)
{
    TRY(net_buf_add(b, key_open, key_len));
    TRY(bn_buf_json_escape(b, val, strlen(val)));
    return net_buf_putc(b, '"');
}

#define put_str(b, key, val) put_str_n((b), ",\"" key "\":\"", sizeof(",\"" key "\":\"") - 1, (val))

/*
 * put_str_n for a value of our own making (a name from one of our tables, a Community ID:
 * printable ASCII without '"' or '\\'), which escaping would copy unchanged: copied in place
 * with one bounds check.
 */
static int
put_str_c_n(struct bn_buf *b, const char *key_open, size_t key_len, const char *val)
{
    size_t n = strlen(val);

    if (key_len + n + 1 < b->cap - b->len) {
        char *o = b->p + b->len;
        net_copy_short(o, key_open, key_len);
        net_copy_short(o + key_len, val, n);
        o[key_len + n] = '"';
        o[key_len + n + 1] = '\0';
        b->len += key_len + n + 1;
        return 0;
    }
    return put_str_n(b, key_open, key_len, val);
}

#define put_str_c(b, key, val)                                                                 \
    put_str_c_n((b), ",\"" key "\":\"", sizeof(",\"" key "\":\"") - 1, (val))

static bool
has_ports(uint8_t proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
}

/* ,"event_type":"<type>" */
static int
put_type(struct bn_buf *b, enum net_rec_type t)
{
    switch (t) {
    case NET_REC_FLOW: return LIT(b, ",\"event_type\":\"flow\"");
    case NET_REC_DNS: return LIT(b, ",\"event_type\":\"dns\"");
    case NET_REC_HTTP: return LIT(b, ",\"event_type\":\"http\"");
    case NET_REC_TLS: return LIT(b, ",\"event_type\":\"tls\"");
    case NET_REC_SSH: return LIT(b, ",\"event_type\":\"ssh\"");
    case NET_REC_ALERT: return LIT(b, ",\"event_type\":\"alert\"");
    default: return LIT(b, ",\"event_type\":\"unknown\"");
    }
}

#define MAC_LEN 17 /* "xx:xx:xx:xx:xx:xx" */

/* "xx:xx:xx:xx:xx:xx" at buf (MAC_LEN bytes and a NUL), a byte's two digits at a time. */
static const char *
mac_str(const uint8_t *m, char *buf)
{
    for (int i = 0; i < 6; i++) {
        memcpy(buf + i * 3, bn_hex_pairs + 2 * m[i], 2);
        buf[i * 3 + 2] = ':';
    }
    buf[MAC_LEN] = '\0';
    return buf;
}

/* ,"ether":{"src_mac":"..","dest_mac":".."} */
static int
put_ether(struct bn_buf *b, const uint8_t *src, const uint8_t *dst)
{
    static const char k1[] = ",\"ether\":{\"src_mac\":\"", k2[] = "\",\"dest_mac\":\"";
    char m1[24], m2[24];

    if (sizeof(k1) + sizeof(k2) + 2 * MAC_LEN + 2 < b->cap - b->len) {
        /* written in place: the MACs' NULs land where the next piece goes */
        char *o = b->p + b->len;
        memcpy(o, k1, sizeof(k1) - 1);
        o += sizeof(k1) - 1;
        mac_str(src, o);
        o += MAC_LEN;
        memcpy(o, k2, sizeof(k2) - 1);
        o += sizeof(k2) - 1;
        mac_str(dst, o);
        o += MAC_LEN;
        memcpy(o, "\"}", 3);
        b->len = (size_t)(o + 2 - b->p);
        return 0;
    }
    TRY(net_buf_add(b, k1, sizeof(k1) - 1));
    TRY(net_buf_add(b, mac_str(src, m1), MAC_LEN));
    TRY(net_buf_add(b, k2, sizeof(k2) - 1));
    TRY(net_buf_add(b, mac_str(dst, m2), MAC_LEN));
    return LIT(b, "\"}");
}

/* An address as net_addr_eve writes it (dotted quad, or IPv6 fully expanded) at o, which
 * has room for 40 bytes; returns the end (no NUL). */
static char *
addr_at(char *o, const struct net_addr *a)
{
    static const char hex[] = "0123456789abcdef";

    if (a->fam != 6)
        return o + net_ip4_dotted(o, a->a);
    for (int i = 0; i < 16; i += 2) {
        if (i)
            *o++ = ':';
        *o++ = hex[a->a[i] >> 4];
        *o++ = hex[a->a[i] & 15];
        *o++ = hex[a->a[i + 1] >> 4];
        *o++ = hex[a->a[i + 1] & 15];
    }
    return o;
}

/* ,"key":"<address>" */
static int
put_addr(struct bn_buf *b, const char *key_lit, size_t key_len, const struct net_addr *a)
{
    char buf[48];

    if (key_len + 41 < b->cap - b->len) {
        /* net_addr_eve's text written in place */
        char *o = b->p + b->len;
        net_copy_short(o, key_lit, key_len);
        o = addr_at(o + key_len, a);
        *o++ = '"';
        *o = '\0';
        b->len = (size_t)(o - b->p);
        return 0;
    }
    TRY(net_buf_add(b, key_lit, key_len));
    TRY(put_cstr(b, net_addr_eve(a, buf, sizeof(buf))));
    return net_buf_putc(b, '"');
}

#define KV_ADDR(b, lit, a) put_addr((b), (lit), sizeof(lit) - 1, (a))

static int header_general(const struct net_eve *e, const struct net_record *r, struct bn_buf *b);
static int header_tail(const struct net_record *r, struct bn_buf *b);

/* Writes ,"key":<v> at o (key a literal); returns the end. */
#define AT_U(o, lit, v) at_u((o), (lit), sizeof(lit) - 1, (v))

static inline __attribute__((always_inline)) char *
at_u(char *o, const char *key_lit, size_t key_len, uint64_t v)
{
    char tmp[24];
    size_t i = bn_u64_dec(tmp, v);
    memcpy(o, key_lit, key_len);
    net_copy_short(o + key_len, tmp + i, sizeof(tmp) - i);
    return o + key_len + sizeof(tmp) - i;
}

#define AT_LIT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

/*
 * The header's lead (timestamp to ip_v) of a record with a flow, offline and without VLANs
 * (nearly all), written in place behind one bounds check: the same bytes as header_general,
 * which takes every other case. False when it does not apply.
 */
/* Room endpoints_at needs: two IPv6 addresses, ports, the protocol's name, keys. */
#define ENDPOINTS_ROOM 256

/*
 * A flow record's endpoints, src_ip to ip_v, written at o (ENDPOINTS_ROOM bytes of room); DNS
 * records carry the packet's direction (a response comes from the server). Returns the end,
 * NUL-terminated.
 */
static char *
endpoints_at(char *o, const struct net_record *r, const struct net_flow *f)
{
    char pbuf[8];
    bool rev = r->type == NET_REC_DNS && r->dir == NET_TOCLIENT;

    o = AT_LIT(o, ",\"src_ip\":\"");
    o = addr_at(o, rev ? &f->srv : &f->cli);
    *o++ = '"';
    if (has_ports(f->proto))
        o = AT_U(o, ",\"src_port\":", rev ? f->sport : f->cport);
    o = AT_LIT(o, ",\"dest_ip\":\"");
    o = addr_at(o, rev ? &f->cli : &f->srv);
    *o++ = '"';
    if (has_ports(f->proto))
        o = AT_U(o, ",\"dest_port\":", rev ? f->cport : f->sport);
    o = AT_LIT(o, ",\"proto\":\"");
    const char *pn = net_proto_name(f->proto, pbuf, sizeof(pbuf));
    size_t pl = strlen(pn);
    net_copy_short(o, pn, pl);
    o = AT_U(o + pl, "\",\"ip_v\":", f->ip_v);
    *o = '\0';
    return o;
}

static bool
header_lead_fast(const struct net_eve *e, const struct net_record *r, struct bn_buf *b)
{
    static const struct {
        const char *lit;
        uint8_t len;
    } types[] = {
#define TY(t, s) [t] = {s, sizeof(s) - 1}
        TY(NET_REC_FLOW, ",\"event_type\":\"flow\""),
        TY(NET_REC_DNS, ",\"event_type\":\"dns\""),
        TY(NET_REC_HTTP, ",\"event_type\":\"http\""),
        TY(NET_REC_TLS, ",\"event_type\":\"tls\""),
        TY(NET_REC_SSH, ",\"event_type\":\"ssh\""),
#undef TY
    };
    const struct net_flow *f = r->flow;

    if (!f || (e && e->iface) || f->vlan[0] || (unsigned)r->type >= BN_ARRAY_SIZE(types) ||
        !types[r->type].lit || 512 >= b->cap - b->len)
        return false;
    char *o = b->p + b->len;
    o = AT_LIT(o, "{\"timestamp\":\"");
    net_eve_time(r->type == NET_REC_FLOW ? f->last_ns : r->ts_ns, o, NET_EVE_TIME_LEN + 1);
    o += NET_EVE_TIME_LEN;
    *o++ = '"';
    o = AT_U(o, ",\"flow_id\":", f->id);
    memcpy(o, types[r->type].lit, types[r->type].len);
    o += types[r->type].len;
    b->len = (size_t)(endpoints_at(o, r, f) - b->p);
    return true;
}

/* The common header: endpoints from the flow, or from the alert when there is no flow. */
static int
header(const struct net_eve *e, const struct net_record *r, struct bn_buf *b)
{
    if (header_lead_fast(e, r, b))
        return header_tail(r, b);
    return header_general(e, r, b);
}

/* The header's lead, any record (header_lead_fast takes the common case). */
static int
header_general(const struct net_eve *e, const struct net_record *r, struct bn_buf *b)
{
    const struct net_flow *f = r->flow;
    char tbuf[48], pbuf[8];

    TRY(LIT(b, "{\"timestamp\":\""));
    TRY(net_buf_add(b,
                    net_eve_time(r->type == NET_REC_FLOW && f ? f->last_ns : r->ts_ns, tbuf,
                                 sizeof(tbuf)),
                    NET_EVE_TIME_LEN));
    TRY(net_buf_putc(b, '"'));
    if (f)
        TRY(KV_U(b, ",\"flow_id\":", f->id));
    if (e && e->iface)
        TRY(put_str(b, "in_iface", e->iface));
    TRY(put_type(b, r->type));
    if (f && f->vlan[0]) {
        TRY(KV_U(b, ",\"vlan\":[", f->vlan[0]));
        if (f->vlan[1])
            TRY(KV_U(b, ",", f->vlan[1]));
        if (f->vlan[1] && f->vlan3)
            TRY(KV_U(b, ",", f->vlan3));
        TRY(net_buf_putc(b, ']'));
    }
    if (f) {
        TRY(bn_buf_reserve(b, ENDPOINTS_ROOM));
        b->len = (size_t)(endpoints_at(b->p + b->len, r, f) - b->p);
    } else if (r->type == NET_REC_ALERT && r->body) {
        const struct net_alert *a = r->body;
        TRY(KV_ADDR(b, ",\"src_ip\":\"", &a->src));
        if (a->has_ports)
            TRY(KV_U(b, ",\"src_port\":", a->sport));
        if (a->has_dst) {
            TRY(KV_ADDR(b, ",\"dest_ip\":\"", &a->dst));
            if (a->has_ports)
                TRY(KV_U(b, ",\"dest_port\":", a->dport));
        }
        if (a->proto) {
            TRY(LIT(b, ",\"proto\":\""));
            TRY(put_cstr(b, net_proto_name(a->proto, pbuf, sizeof(pbuf))));
            TRY(net_buf_putc(b, '"'));
        }
        TRY(KV_U(b, ",\"ip_v\":", a->src.fam == 6 ? 6 : 4));
    }
    return header_tail(r, b);
}

/* The header after ip_v: MACs, pcap_cnt, app_proto. */
static int
header_tail(const struct net_record *r, struct bn_buf *b)
{
    const struct net_flow *f = r->flow;

    if (!r->eth && r->type != NET_REC_FLOW && f && f->nmacs[0] && f->nmacs[1]) {
        /* emitted without a packet (flow end): the flow's first MAC on each side */
        bool hdr_rev = r->type == NET_REC_DNS && r->dir == NET_TOCLIENT;
        TRY(put_ether(b, f->macs[hdr_rev ? 1 : 0][0], f->macs[hdr_rev ? 0 : 1][0]));
    }
    if (r->eth && r->type != NET_REC_FLOW && f) {
        /* oriented like src_ip/dest_ip: swap when the packet went the other way */
        bool pkt_rev = r->eth_dir == NET_TOCLIENT;
        bool hdr_rev = r->type == NET_REC_DNS && r->dir == NET_TOCLIENT;
        const uint8_t *src = r->eth + 6, *dst = r->eth;
        if (pkt_rev != hdr_rev) {
            src = r->eth;
            dst = r->eth + 6;
        }
        TRY(put_ether(b, src, dst));
    }
    if (r->pcap_cnt && r->type != NET_REC_FLOW)
        TRY(KV_U(b, ",\"pcap_cnt\":", r->pcap_cnt));
    if (f && f->app != NET_APP_UNKNOWN)
        TRY(put_str_c(b, "app_proto", net_app_name((enum net_app)f->app)));
    if (f && f->app_orig != NET_APP_UNKNOWN && r->type == NET_REC_FLOW)
        TRY(put_str_c(b, "app_proto_orig", net_app_name((enum net_app)f->app_orig)));
    if (f && f->app_tc != NET_APP_UNKNOWN && f->app_tc != f->app && r->type == NET_REC_FLOW)
        TRY(put_str_c(b, "app_proto_tc", net_app_name((enum net_app)f->app_tc)));
    return 0;
}

static int
put_hex2(struct bn_buf *b, uint8_t v)
{
    static const char hex[] = "0123456789abcdef";
    char o[2] = {hex[v >> 4], hex[v & 15]};

    return net_buf_add(b, o, 2);
}

static int
tcp_member(const struct net_flow *f, struct bn_buf *b)
{
    static const struct {
        uint8_t bit;
        const char *member; /* ,"name":true (11 bytes) */
    } names[] = {
        {NET_TCP_SYN, ",\"syn\":true"}, {NET_TCP_FIN, ",\"fin\":true"},
        {NET_TCP_RST, ",\"rst\":true"}, {NET_TCP_PSH, ",\"psh\":true"},
        {NET_TCP_ACK, ",\"ack\":true"}, {NET_TCP_URG, ",\"urg\":true"},
        {NET_TCP_ECE, ",\"ecn\":true"}, {NET_TCP_CWR, ",\"cwr\":true"},
    };
    uint8_t all = f->tcp_flags[0] | f->tcp_flags[1];

    TRY(LIT(b, ",\"tcp\":{\"tcp_flags\":\""));
    TRY(put_hex2(b, all));
    TRY(LIT(b, "\",\"tcp_flags_ts\":\""));
    TRY(put_hex2(b, f->tcp_flags[NET_TOSERVER]));
    TRY(LIT(b, "\",\"tcp_flags_tc\":\""));
    TRY(put_hex2(b, f->tcp_flags[NET_TOCLIENT]));
    TRY(net_buf_putc(b, '"'));
    for (size_t i = 0; i < BN_ARRAY_SIZE(names); i++)
        if (all & names[i].bit)
            TRY(net_buf_add(b, names[i].member, 11));
    if (f->tcp_state != NET_TCP_NONE)
        TRY(put_str_c(b, "state", net_tcp_state_name(f->tcp_state)));
    if (f->gaps[0] || f->gaps[1]) {
        TRY(KV_U(b, ",\"gap_ts\":", f->gaps[0]));
        TRY(KV_U(b, ",\"gap_tc\":", f->gaps[1]));
    }
    return net_buf_putc(b, '}');
}

static int
flow_body(const struct net_flow *f, struct bn_buf *b)
{
    char t1[48], t2[48];
    uint64_t age = f->last_ns / 1000000000ull - f->first_ns / 1000000000ull;

    if (f->proto == IPPROTO_ICMP || f->proto == IPPROTO_ICMPV6) {
        TRY(KV_U(b, ",\"icmp_type\":", f->icmp_type[0]));
        TRY(KV_U(b, ",\"icmp_code\":", f->icmp_code[0]));
        if (f->pkts[NET_TOCLIENT]) {
            TRY(KV_U(b, ",\"response_icmp_type\":", f->icmp_type[1]));
            TRY(KV_U(b, ",\"response_icmp_code\":", f->icmp_code[1]));
        }
    }
    if (512 < b->cap - b->len) {
        /* the "flow" member in place behind one bounds check (the same bytes as below) */
        char *o = b->p + b->len;
        o = AT_U(o, ",\"flow\":{\"pkts_toserver\":", f->pkts[0]);
        o = AT_U(o, ",\"pkts_toclient\":", f->pkts[1]);
        o = AT_U(o, ",\"bytes_toserver\":", f->bytes[0]);
        o = AT_U(o, ",\"bytes_toclient\":", f->bytes[1]);
        o = AT_LIT(o, ",\"start\":\"");
        net_eve_time(f->first_ns, o, NET_EVE_TIME_LEN + 1);
        o = AT_LIT(o + NET_EVE_TIME_LEN, "\",\"end\":\"");
        net_eve_time(f->last_ns, o, NET_EVE_TIME_LEN + 1);
        o = AT_U(o + NET_EVE_TIME_LEN, "\",\"age\":", age);
        o = AT_LIT(o, ",\"state\":\"");
        const char *nm = net_flow_state_name(f->state);
        size_t nl = strlen(nm);
        net_copy_short(o, nm, nl);
        o = AT_LIT(o + nl, "\",\"reason\":\"");
        nm = net_flow_end_name(f->end);
        nl = strlen(nm);
        net_copy_short(o, nm, nl);
        o += nl;
        o = f->alerted ? AT_LIT(o, "\",\"alerted\":true}") : AT_LIT(o, "\",\"alerted\":false}");
        *o = '\0';
        b->len = (size_t)(o - b->p);
    } else {
        TRY(KV_U(b, ",\"flow\":{\"pkts_toserver\":", f->pkts[0]));
        TRY(KV_U(b, ",\"pkts_toclient\":", f->pkts[1]));
        TRY(KV_U(b, ",\"bytes_toserver\":", f->bytes[0]));
        TRY(KV_U(b, ",\"bytes_toclient\":", f->bytes[1]));
        TRY(LIT(b, ",\"start\":\""));
        TRY(net_buf_add(b, net_eve_time(f->first_ns, t1, sizeof(t1)), NET_EVE_TIME_LEN));
        TRY(LIT(b, "\",\"end\":\""));
        TRY(net_buf_add(b, net_eve_time(f->last_ns, t2, sizeof(t2)), NET_EVE_TIME_LEN));
        TRY(KV_U(b, "\",\"age\":", age));
        TRY(LIT(b, ",\"state\":\""));
        TRY(put_cstr(b, net_flow_state_name(f->state)));
        TRY(LIT(b, "\",\"reason\":\""));
        TRY(put_cstr(b, net_flow_end_name(f->end)));
        TRY(f->alerted ? LIT(b, "\",\"alerted\":true}") : LIT(b, "\",\"alerted\":false}"));
    }
    if (f->community_id[0])
        TRY(put_str_c(b, "community_id", f->community_id));
    if (f->nmacs[0] || f->nmacs[1]) {
        char m[24];
        TRY(LIT(b, ",\"ether\":{\"src_macs\":["));
        for (unsigned i = 0; i < f->nmacs[0]; i++) {
            TRY(i ? LIT(b, ",\"") : net_buf_putc(b, '"'));
            TRY(net_buf_add(b, mac_str(f->macs[0][i], m), MAC_LEN));
            TRY(net_buf_putc(b, '"'));
        }
        TRY(LIT(b, "],\"dest_macs\":["));
        for (unsigned i = 0; i < f->nmacs[1]; i++) {
            TRY(i ? LIT(b, ",\"") : net_buf_putc(b, '"'));
            TRY(net_buf_add(b, mac_str(f->macs[1][i], m), MAC_LEN));
            TRY(net_buf_putc(b, '"'));
        }
        TRY(LIT(b, "]}"));
    }
    if (f->proto == IPPROTO_ESP)
        TRY(KV_U(b, ",\"spi\":", (unsigned)f->cport << 16 | f->sport));
    if (f->proto == IPPROTO_TCP)
        TRY(tcp_member(f, b));
    return 0;
}

int
net_eve_render(const struct net_eve *e, const struct net_record *r, struct bn_buf *b)
{
    if (r->type != NET_REC_FLOW && r->type != NET_REC_ALERT)
        net_app_eve_prefetch(r->type, r->body);
    TRY(header(e, r, b));
    switch (r->type) {
    case NET_REC_FLOW:
        if (!r->flow)
            return BN_EINVAL;
        TRY(flow_body(r->flow, b));
        break;
    case NET_REC_ALERT:
        if (!r->body)
            return BN_EINVAL;
        TRY(net_buf_putc(b, ','));
        TRY(net_alert_eve(r->body, b));
        if (r->flow && r->flow->community_id[0])
            TRY(put_str_c(b, "community_id", r->flow->community_id));
        break;
    default:
        if (!r->body)
            return BN_EINVAL;
        TRY(net_buf_putc(b, ','));
        TRY(net_app_eve(r->type, r->body, b));
        if (r->flow && r->flow->community_id[0])
            TRY(put_str_c(b, "community_id", r->flow->community_id));
        break;
    }
    return net_buf_putc(b, '}');
}

void
net_eve_write(struct net_eve *e, const struct net_record *r)
{
    if (!e->fp)
        return;
    if (r->type == NET_REC_FLOW && r->flow && r->flow->zeek_only)
        return; /* a flow Suricata does not make (flow.c): Zeek's conn.log only */
    bool batch = eve_batching(e);
    if (!batch)
        net_eve_flush(e); /* the FILE changed mode: keep the order */
    size_t start = e->b.len;
    int rc = net_eve_render(e, r, &e->b);
    if (rc == 0)
        rc = net_buf_putc(&e->b, '\n');
    if (rc == 0 && e->b.len - start > NET_EVE_LINE_MAX)
        rc = BN_ETOOBIG; /* the bound of one line, as without batching */
    if (rc != 0) {
        e->b.len = start; /* drop the partial line */
        e->b.p[start] = '\0';
        if (rc != BN_DECLINED) /* declined: no eve form (app.h: unanswered queries, mDNS) */
            e->errors++;
        return;
    }
    e->lines++;
    if (!batch)
        net_eve_flush(e);
    else if (e->b.len >= EVE_BATCH)
        eve_flush_batch(e);
}
