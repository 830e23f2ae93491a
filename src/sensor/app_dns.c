/*
 * app_dns.c - DNS over UDP (one message per datagram) and TCP (2-byte length framing,
 * RFC 1035 4.2.2): header, questions and resource records of all three sections, emitted as
 * one struct net_dns_rec per message.
 *
 * Names follow compression pointers in any direction (forward pointers exist in the wild)
 * but at most NET_DNS_PTRS_MAX of them, which also ends loops; a name longer than its field
 * is cut and flagged. Every message that cannot be parsed is counted by reason.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define DNS_HDR         12
#define DNS_PENDING_MAX 32 /* queries remembered per flow for tx ids and rtt */
/* kept in the state itself: a flow rarely has more than one query in flight, and 32 inline
 * (1.3 KB) were most of a DNS flow's memory; more go to a heap array grown to 32 */
#define DNS_PENDING_INLINE 2
/* a pending query's name up to this length (with its NUL) is kept in the entry, a longer one
 * in an owned heap copy: most names are short, and the copy is read only when the query goes
 * unanswered, so a malloc + free per query was most of what remembering it cost */
#define DNS_QNAME_SHORT 32 /* 74% of the bench mix's query names fit (31 + NUL) */

struct dns_pending {
    uint16_t id;
    uint16_t flags;
    uint16_t qtype;
    uint16_t qclass;
    uint8_t dir;   /* the direction the query went (a reply comes the other way) */
    uint8_t has_q; /* the query had a question: 1 its name in q.s, 2 in q.heap */
    uint32_t tx_id;
    uint64_t ts_ns;
    uint64_t xv_key; /* its cross-VLAN index key (dns_xv_key), when the flow has VLANs */
    union {
        char s[DNS_QNAME_SHORT]; /* a name that fits */
        char *heap;              /* owned copy of a longer one */
    } q;
};

struct dns_state {
    bool tcp;
    bool link_local; /* mDNS or LLMNR */
    bool xvlan;      /* the flow has VLAN ids: its queries are in the cross-VLAN index */
    uint32_t next_tx;
    struct dns_pending *pending; /* inl, or a heap array of pending_cap */
    size_t n_pending;
    size_t pending_cap;
    struct dns_pending inl[DNS_PENDING_INLINE];
    struct app_acc acc[2]; /* TCP: bytes of an incomplete message per direction */
    bool skip[2];          /* TCP: lost framing after a gap, waiting for a plausible start */
};

/*
 * Reads the name at *off of msg[0..len) into out[osz] (NULL: only skip it). On return *off
 * is past the name where it started (not where pointers led). Returns 0, BN_EPARSE for a
 * bad label type, BN_ETRUNC for a name running off the bytes, BN_ETOOBIG for too many
 * pointers (which also ends loops).
 */
static int
dns_name(const uint8_t *msg, size_t len, size_t *off, char *out, size_t osz, uint8_t *trunc)
{
    static const char hexd[] = "0123456789abcdef";
    size_t pos = *off, end = 0, o = 0;
    unsigned jumps = 0;
    bool jumped = false, cut = false, any = false;
    for (;;) {
        if (pos >= len)
            return BN_ETRUNC;
        uint8_t l = msg[pos];
        if ((l & 0xc0) == 0xc0) {
            if (pos + 1 >= len)
                return BN_ETRUNC;
            if (!jumped)
                end = pos + 2;
            jumped = true;
            if (++jumps > NET_DNS_PTRS_MAX)
                return BN_ETOOBIG;
            pos = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
            continue;
        }
        if (l & 0xc0)
            return BN_EPARSE; /* 0x40 / 0x80: extended label types, obsolete */
        if (l == 0) {
            if (!jumped)
                end = pos + 1;
            break;
        }
        if (pos + 1 + l > len)
            return BN_ETRUNC;
        if (out) {
            if (any && !cut) {
                if (o + 1 < osz)
                    out[o++] = '.';
                else
                    cut = true;
            }
            /*
             * The common case: a label of printable ASCII with room for all of it is copied
             * as it is, in one pass that checks as it copies (the loop below writes exactly
             * these bytes then: no escape, no cut); otherwise the loop redoes it.
             */
            size_t i = 0;
#ifdef __SSE2__
            /*
             * A label of up to 16 bytes with 16 to read and 16 to write: one load, one
             * compare for printable (signed: bytes of 0x80 and above are below 0x21), one
             * store; what lies after the label is written over or after the NUL.
             */
            if (!cut && l <= 16 && o + 16 < osz && pos + 1 + 16 <= len) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(msg + pos + 1));
                unsigned ok = (unsigned)_mm_movemask_epi8(
                    _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8(0x7f))));
                unsigned want = (1u << l) - 1;
                if ((ok & want) == want) {
                    _mm_storeu_si128((__m128i *)(void *)(out + o), v);
                    o += l;
                    i = l;
                }
            }
#endif
            if (!cut && i < l && o + l < osz) {
                const uint8_t *lab = msg + pos + 1;
                unsigned bad = 0;
                for (size_t k = 0; k < l; k++) {
                    out[o + k] = (char)lab[k];
                    bad |= (unsigned)(lab[k] - 0x21) > 0x7e - 0x21;
                }
                if (!bad) {
                    o += l;
                    i = l;
                }
            }
            for (; i < l && !cut; i++) {
                uint8_t c = msg[pos + 1 + i];
                if (c > 0x20 && c < 0x7f) {
                    if (o + 1 < osz)
                        out[o++] = (char)c;
                    else
                        cut = true;
                } else {
                    if (o + 4 < osz) {
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hexd[c >> 4];
                        out[o++] = hexd[c & 15];
                    } else {
                        cut = true;
                    }
                }
            }
        }
        any = true;
        pos += 1 + l;
        if (cut && jumped)
            break; /* the field is full and the end is known: the rest would be dropped */
    }
    if (out) {
        if (!any && osz > 6) {
            memcpy(out, "<root>", 6);
            o = 6;
        }
        out[o] = '\0';
        if (cut) {
            net_app_stats()->truncated_fields++;
            if (trunc)
                *trunc = 1;
        }
    }
    *off = end;
    return 0;
}

static int
name_err(int rc)
{
    app_err(NET_APP_DNS, rc == BN_ETOOBIG ? NET_APP_ERR_NAME_LOOP : NET_APP_ERR_MALFORMED);
    return rc;
}

/* Renders character-strings (TXT, HINFO) joined without separator, like Suricata. */
static void
dns_strings(const uint8_t *d, size_t n, struct net_dns_rr *rr, uint8_t *trunc)
{
    uint8_t tmp[NET_DNS_RDATA_MAX];
    size_t t = 0;
    bool cut = false;
    for (size_t i = 0; i < n;) {
        size_t l = d[i];
        size_t take = BN_MIN(l, n - i - 1);
        if (t + take > sizeof(tmp)) {
            take = sizeof(tmp) - t;
            cut = true;
        }
        memcpy(tmp + t, d + i + 1, take);
        t += take;
        i += 1 + l;
        if (cut)
            break;
    }
    app_copy(rr->rdata, sizeof(rr->rdata), tmp, t, trunc);
    if (cut && !*trunc) {
        *trunc = 1;
        net_app_stats()->truncated_fields++;
    }
}

/* TXT: one entry per character-string, the record's header repeated (an empty TXT: one ""). */
static void
dns_txt(const uint8_t *d, size_t n, struct net_dns_rec *rec)
{
    struct net_dns_rr *first = &rec->rrs[rec->n_rrs];
    size_t i = 0;
    bool one = false;
    while (i < n || !one) {
        if (rec->n_rrs >= NET_DNS_RRS_MAX) {
            app_dropped(1);
            rec->truncated = 1;
            return;
        }
        struct net_dns_rr *rr = &rec->rrs[rec->n_rrs];
        if (rr != first) {
            memcpy(rr->name, first->name, sizeof(rr->name));
            rr->section = first->section;
            rr->name_truncated = first->name_truncated;
            rr->type = first->type;
            rr->rclass = first->rclass;
            rr->ttl = first->ttl;
            memset(rr->n, 0, sizeof(rr->n));
        }
        rr->txt_more = rr != first;
        rr->rdata2[0] = '\0';
        size_t l = i < n ? d[i] : 0;
        size_t take = i < n ? BN_MIN(l, n - i - 1) : 0;
        if (take < l)
            app_err(NET_APP_DNS, NET_APP_ERR_MALFORMED);
        uint8_t t = 0;
        app_copy(rr->rdata, sizeof(rr->rdata), i < n ? d + i + 1 : d, take, &t);
        rec->truncated |= t | rr->name_truncated;
        rec->n_rrs++;
        one = true;
        i += 1 + l;
    }
}

/* Parses the rdata of rr at msg[off..off+rdlen). Returns 0 or BN_EPARSE. */
static int
dns_rdata(const uint8_t *msg, size_t len, size_t off, size_t rdlen, struct net_dns_rr *rr,
          uint8_t *trunc)
{
    const uint8_t *d = msg + off;
    size_t p = off;
    int rc = 0;
    rr->rdata[0] = rr->rdata2[0] = '\0';
    if (off + rdlen > len)
        return BN_EPARSE;
    switch (rr->type) {
    case 1: { /* A: the dotted quad, as inet_ntop prints it */
        if (rdlen != 4)
            return BN_EPARSE;
        _Static_assert(sizeof(rr->rdata) >= 16, "a dotted quad fits rdata");
        rr->rdata[net_ip4_dotted(rr->rdata, d)] = '\0';
        return 0;
    }
    case 28: { /* AAAA: Suricata prints all eight groups with leading zeros */
        if (rdlen != 16)
            return BN_EPARSE;
        size_t o = 0;
        static const char hexd[] = "0123456789abcdef";
        for (size_t i = 0; i < 16; i++) {
            if (i && !(i & 1))
                rr->rdata[o++] = ':';
            rr->rdata[o++] = hexd[d[i] >> 4];
            rr->rdata[o++] = hexd[d[i] & 15];
        }
        rr->rdata[o] = '\0';
        return 0;
    }
    case 2:  /* NS */
    case 5:  /* CNAME */
    case 12: /* PTR */
    case 39: /* DNAME */
        rc = dns_name(msg, off + rdlen, &p, rr->rdata, sizeof(rr->rdata), trunc);
        return rc ? rc : 0;
    case 15: /* MX */
        if (rdlen < 3)
            return BN_EPARSE;
        rr->n[0] = app_be16(d);
        p += 2;
        return dns_name(msg, off + rdlen, &p, rr->rdata, sizeof(rr->rdata), trunc);
    case 33: /* SRV */
        if (rdlen < 7)
            return BN_EPARSE;
        rr->n[0] = app_be16(d);
        rr->n[1] = app_be16(d + 2);
        rr->n[2] = app_be16(d + 4);
        p += 6;
        return dns_name(msg, off + rdlen, &p, rr->rdata, sizeof(rr->rdata), trunc);
    case 6: /* SOA */
        rc = dns_name(msg, off + rdlen, &p, rr->rdata, sizeof(rr->rdata), trunc);
        if (!rc)
            rc = dns_name(msg, off + rdlen, &p, rr->rdata2, sizeof(rr->rdata2), trunc);
        if (rc)
            return rc;
        if (p + 20 > off + rdlen)
            return BN_EPARSE;
        for (size_t i = 0; i < 5; i++)
            rr->n[i] = app_be32(msg + p + 4 * i);
        return 0;
    case 16: /* TXT */
    case 99: /* SPF */ dns_strings(d, rdlen, rr, trunc); return 0;
    case 44: /* SSHFP: algorithm, type, fingerprint (hex) */
        if (rdlen < 2)
            return BN_EPARSE;
        rr->n[0] = d[0];
        rr->n[1] = d[1];
        if (!app_hex(rr->rdata, sizeof(rr->rdata), d + 2, rdlen - 2, ':', false) && rdlen > 2) {
            *trunc = 1;
            net_app_stats()->truncated_fields++;
        }
        return 0;
    case 46: /* RRSIG: type covered ... signer (for Zeek); raw bytes for eve */
        if (rdlen >= 18) {
            rr->n[0] = app_be16(d);
            size_t q = off + 18;
            if (dns_name(msg, off + rdlen, &q, rr->rdata2, sizeof(rr->rdata2), trunc))
                rr->rdata2[0] = '\0';
        }
        app_copy(rr->rdata, sizeof(rr->rdata), d, rdlen, trunc);
        return 0;
    case 43: /* DS: key tag, algorithm, digest type */
        if (rdlen >= 4) {
            rr->n[0] = d[2];
            rr->n[1] = d[3];
        }
        app_copy(rr->rdata, sizeof(rr->rdata), d, rdlen, trunc);
        return 0;
    case 29: /* LOC (RFC 1876): version, size, horizontal and vertical precision (Zeek) */
        if (rdlen >= 4) {
            rr->n[0] = d[0];
            rr->n[1] = d[1];
            rr->n[2] = d[2];
            rr->n[3] = d[3];
        }
        app_copy(rr->rdata, sizeof(rr->rdata), d, rdlen, trunc);
        return 0;
    case 48: /* DNSKEY: flags, protocol, algorithm */
        if (rdlen >= 4)
            rr->n[0] = d[3];
        app_copy(rr->rdata, sizeof(rr->rdata), d, rdlen, trunc);
        return 0;
    default: /* NULL and everything else: the raw bytes, as Suricata logs them */
        app_copy(rr->rdata, sizeof(rr->rdata), d, rdlen, trunc);
        return 0;
    }
}

/*
 * Parses one DNS message into rec. Returns 0, or a negative code when the header or the
 * questions are unusable (nothing to report). Damage in the record sections ends the list
 * there: what was parsed is kept, the error is counted.
 */
static int
dns_parse(const uint8_t *msg, size_t len, struct net_dns_rec *rec)
{
    if (len < DNS_HDR) {
        app_err(NET_APP_DNS, NET_APP_ERR_TRUNCATED);
        return BN_ETRUNC;
    }
    rec->id = app_be16(msg);
    rec->flags = app_be16(msg + 2);
    rec->is_response = (rec->flags >> 15) & 1;
    rec->opcode = (rec->flags >> 11) & 0xf;
    rec->aa = (rec->flags >> 10) & 1;
    rec->tc = (rec->flags >> 9) & 1;
    rec->rd = (rec->flags >> 8) & 1;
    rec->ra = (rec->flags >> 7) & 1;
    rec->z = (rec->flags >> 6) & 1;
    rec->ad = (rec->flags >> 5) & 1;
    rec->cd = (rec->flags >> 4) & 1;
    rec->rcode = rec->flags & 0xf;
    rec->qdcount = app_be16(msg + 4);
    rec->ancount = app_be16(msg + 6);
    rec->nscount = app_be16(msg + 8);
    rec->arcount = app_be16(msg + 10);
    rec->n_queries = rec->n_rrs = 0;
    rec->truncated = 0;

    size_t off = DNS_HDR;
    for (unsigned i = 0; i < rec->qdcount; i++) {
        struct net_dns_query *q =
            rec->n_queries < NET_DNS_QUERIES_MAX ? &rec->queries[rec->n_queries] : NULL;
        uint8_t qt = 0;
        int rc = q ? dns_name(msg, len, &off, q->name, sizeof(q->name), &qt)
                   : dns_name(msg, len, &off, NULL, 0, NULL);
        if (rc)
            return name_err(rc);
        if (off + 4 > len) {
            app_err(NET_APP_DNS, NET_APP_ERR_TRUNCATED);
            return BN_ETRUNC;
        }
        if (q) {
            q->type = app_be16(msg + off);
            q->qclass = app_be16(msg + off + 2);
            q->name_truncated = qt;
            rec->truncated |= qt;
            rec->n_queries++;
        } else {
            app_dropped(1);
            rec->truncated = 1;
        }
        off += 4;
    }

    const uint16_t counts[3] = {rec->ancount, rec->nscount, rec->arcount};
    for (unsigned s = 0; s < 3; s++) {
        for (unsigned i = 0; i < counts[s]; i++) {
            if (rec->n_rrs >= NET_DNS_RRS_MAX) {
                app_dropped(1);
                rec->truncated = 1;
                goto skip_rr;
            }
            struct net_dns_rr *rr = &rec->rrs[rec->n_rrs];
            memset(rr->n, 0, sizeof(rr->n));
            rr->section = (uint8_t)s;
            rr->name_truncated = 0;
            rr->txt_more = 0;
            int rc = dns_name(msg, len, &off, rr->name, sizeof(rr->name), &rr->name_truncated);
            if (rc) {
                name_err(rc);
                return 0;
            }
            if (off + 10 > len) {
                app_err(NET_APP_DNS, NET_APP_ERR_TRUNCATED);
                return 0;
            }
            rr->type = app_be16(msg + off);
            rr->rclass = app_be16(msg + off + 2);
            rr->ttl = app_be32(msg + off + 4);
            size_t rdlen = app_be16(msg + off + 8);
            off += 10;
            if (off + rdlen > len) {
                app_err(NET_APP_DNS, NET_APP_ERR_TRUNCATED);
                return 0;
            }
            if (rr->type == 41) { /* OPT pseudo-record: EDNS, not an answer */
                off += rdlen;
                continue;
            }
            uint8_t t = 0;
            if (rr->type == 16) {
                /* Suricata logs each character-string of a TXT record as its own answer */
                dns_txt(msg + off, rdlen, rec);
                off += rdlen;
                continue;
            }
            if (dns_rdata(msg, len, off, rdlen, rr, &t)) {
                app_err(NET_APP_DNS, NET_APP_ERR_MALFORMED);
                rr->rdata[0] = '\0';
            }
            rec->truncated |= t | rr->name_truncated;
            rec->n_rrs++;
            off += rdlen;
            continue;
        skip_rr:
            rc = dns_name(msg, len, &off, NULL, 0, NULL);
            if (rc || off + 10 > len || off + 10 + app_be16(msg + off + 8) > len) {
                app_err(NET_APP_DNS, NET_APP_ERR_TRUNCATED);
                return 0;
            }
            off += 10 + app_be16(msg + off + 8);
        }
    }
    return 0;
}

/*
 * Reports the query pending at index i as never answered (a record for Zeek's dns.log, which
 * logs such queries; it has no eve form: the request was written when seen) and removes it.
 */
/*
 * A struct net_dns_rec is ~75 KB (bounded arrays for every section); allocating one per
 * message was a large share of the sensor's malloc time. Records are built in per-thread
 * scratch instead: one for the message being parsed, one for the unanswered query a message
 * can push out while it is being handled. Sinks must not keep the pointer (sensor.h).
 */
static __thread struct net_dns_rec dns_scratch_msg;
static __thread struct net_dns_rec dns_scratch_unanswered;

/*
 * Queries and replies on different VLANs (asymmetric routing on a trunk): Suricata's flows
 * and ours key on the VLAN ids, Zeek's connections do not, so Zeek pairs the reply with its
 * query (rtt, qtype, one dns.log row) where we see two flows. Queries of flows that carry
 * VLAN ids are also entered in a small per-thread index keyed by the endpoints (without
 * VLANs) and the message id; a reply with no query in its own flow looks there. Only Zeek's
 * rendering uses the pairing (eve has none). An entry is removed with its query, so the
 * index never points to a freed state; when the probe window is full the oldest entry is
 * overwritten (counted as a dropped item: that reply stays unpaired).
 */
#define DNS_XV_SLOTS 1024u
#define DNS_XV_PROBE 8u

struct dns_xv {
    uint64_t key; /* 0 = empty */
    struct dns_state *st;
};
static __thread struct dns_xv dns_xv[DNS_XV_SLOTS];

/* The key of a query sent in direction qdir of f with message id: endpoints, no VLAN. */
static uint64_t
dns_xv_key(const struct net_flow *f, enum net_dir qdir, uint16_t id)
{
    bool ts = qdir == NET_TOSERVER;
    const struct net_addr *a = ts ? &f->cli : &f->srv, *b = ts ? &f->srv : &f->cli;
    uint16_t pa = ts ? f->cport : f->sport, pb = ts ? f->sport : f->cport;
    uint64_t h = 0xcbf29ce484222325ull;
    uint8_t v[40];
    memcpy(v, a->a, 16);
    memcpy(v + 16, b->a, 16);
    v[32] = (uint8_t)(pa >> 8);
    v[33] = (uint8_t)pa;
    v[34] = (uint8_t)(pb >> 8);
    v[35] = (uint8_t)pb;
    v[36] = (uint8_t)(id >> 8);
    v[37] = (uint8_t)id;
    v[38] = f->proto;
    v[39] = a->fam;
    for (size_t i = 0; i < sizeof(v); i++)
        h = (h ^ v[i]) * 0x100000001b3ull;
    return h | 1;
}

static void
dns_xv_add(struct dns_state *st, uint64_t key)
{
    size_t home = key & (DNS_XV_SLOTS - 1), pick = home;
    for (size_t i = 0; i < DNS_XV_PROBE; i++) {
        size_t j = (home + i) & (DNS_XV_SLOTS - 1);
        if (!dns_xv[j].key) {
            pick = j;
            goto put;
        }
    }
    app_dropped(1); /* the window is full: the entry at home is forgotten */
put:
    dns_xv[pick].key = key;
    dns_xv[pick].st = st;
}

static void
dns_xv_del(const struct dns_state *st, uint64_t key)
{
    size_t home = key & (DNS_XV_SLOTS - 1);
    for (size_t i = 0; i < DNS_XV_PROBE; i++) {
        size_t j = (home + i) & (DNS_XV_SLOTS - 1);
        if (dns_xv[j].key == key && dns_xv[j].st == st) {
            dns_xv[j].key = 0;
            dns_xv[j].st = NULL;
            return;
        }
    }
}

static struct dns_state *
dns_xv_find(const struct dns_state *self, uint64_t key)
{
    size_t home = key & (DNS_XV_SLOTS - 1);
    for (size_t i = 0; i < DNS_XV_PROBE; i++) {
        size_t j = (home + i) & (DNS_XV_SLOTS - 1);
        if (dns_xv[j].key == key && dns_xv[j].st != self)
            return dns_xv[j].st;
    }
    return NULL;
}

/* Forgets pending query i of st (its name and its index entry). */
static void
pending_drop(struct dns_state *st, const struct net_flow *f, size_t i)
{
    struct dns_pending *pd = &st->pending[i];
    (void)f;
    if (st->xvlan)
        dns_xv_del(st, pd->xv_key);
    if (pd->has_q == 2)
        bn_free(pd->q.heap);
    memmove(st->pending + i, st->pending + i + 1, (st->n_pending - i - 1) * sizeof(*pd));
    st->n_pending--;
}

static void
dns_unanswered(struct dns_state *st, struct net_flow *f, size_t i, struct net_sink *sink)
{
    struct dns_pending *pd = &st->pending[i];
    struct net_dns_rec *rec = &dns_scratch_unanswered;
    {
        memset(rec, 0, offsetof(struct net_dns_rec, queries));
        rec->unanswered = 1;
        rec->tcp = st->tcp;
        rec->link_local = st->link_local;
        rec->id = pd->id;
        rec->flags = pd->flags;
        rec->rd = (pd->flags >> 8) & 1;
        rec->opcode = (pd->flags >> 11) & 0xf;
        rec->tx_id = pd->tx_id;
        if (pd->has_q) {
            struct net_dns_query *q = &rec->queries[0];
            const char *name = pd->has_q == 2 ? pd->q.heap : pd->q.s;
            app_copy(q->name, sizeof(q->name), name, strlen(name), NULL);
            q->type = pd->qtype;
            q->qclass = pd->qclass;
            q->name_truncated = 0;
            rec->n_queries = 1;
        }
        app_emit(sink, NET_REC_DNS, pd->ts_ns, f, rec);
    }
    pending_drop(st, f, i);
}

static void
dns_message(struct dns_state *st, struct net_flow *f, enum net_dir dir, const uint8_t *msg,
            size_t len, uint64_t ts_ns, struct net_sink *sink)
{
    struct net_dns_rec *rec = &dns_scratch_msg;
    if (dns_parse(msg, len, rec) == 0) {
        rec->tcp = st->tcp;
        rec->link_local = st->link_local;
        rec->rtt_ns = 0;
        rec->query_seen = 0;
        rec->unanswered = 0;
        rec->tx_id = st->next_tx++; /* Suricata 8: every message is its own transaction */
        if (!rec->is_response) {
            if (st->n_pending == st->pending_cap && st->pending_cap < DNS_PENDING_MAX) {
                size_t cap = BN_MIN(st->pending_cap * 2, (size_t)DNS_PENDING_MAX);
                struct dns_pending *np = bn_malloc(cap * sizeof(*np));
                if (np) {
                    memcpy(np, st->pending, st->n_pending * sizeof(*np));
                    if (st->pending != st->inl)
                        bn_free(st->pending);
                    st->pending = np;
                    st->pending_cap = cap;
                } else {
                    app_err(NET_APP_DNS, NET_APP_ERR_NOMEM);
                }
            }
            if (st->n_pending == st->pending_cap)
                dns_unanswered(st, f, 0, sink); /* the oldest never will be */
            struct dns_pending *pd = &st->pending[st->n_pending++];
            pd->id = rec->id;
            pd->flags = rec->flags;
            pd->qtype = pd->qclass = 0;
            pd->dir = (uint8_t)dir;
            pd->has_q = 0;
            pd->tx_id = rec->tx_id;
            pd->ts_ns = ts_ns;
            pd->xv_key = 0;
            if (st->xvlan) {
                pd->xv_key = dns_xv_key(f, dir, rec->id);
                dns_xv_add(st, pd->xv_key);
            }
            if (rec->n_queries) {
                pd->qtype = rec->queries[0].type;
                pd->qclass = rec->queries[0].qclass;
                const char *name = rec->queries[0].name;
                size_t nl = strlen(name);
                if (nl < sizeof(pd->q.s)) {
                    memcpy(pd->q.s, name, nl + 1);
                    pd->has_q = 1;
                } else if ((pd->q.heap = bn_strdup(name)) != NULL) {
                    pd->has_q = 2;
                } else {
                    app_err(NET_APP_DNS, NET_APP_ERR_NOMEM);
                }
            }
        } else {
            size_t i = 0;
            while (i < st->n_pending &&
                   (st->pending[i].id != rec->id || st->pending[i].dir == (uint8_t)dir))
                i++;
            struct dns_state *qst = st;
            if (i == st->n_pending && f) {
                /* the query may have come on another VLAN (Zeek pairs them) */
                enum net_dir qdir = dir == NET_TOSERVER ? NET_TOCLIENT : NET_TOSERVER;
                uint64_t key = dns_xv_key(f, qdir, rec->id);
                qst = dns_xv_find(st, key);
                i = 0;
                while (qst && i < qst->n_pending &&
                       (qst->pending[i].id != rec->id || qst->pending[i].xv_key != key))
                    i++;
                if (!qst)
                    qst = st, i = st->n_pending;
            }
            if (i < qst->n_pending) {
                rec->query_seen = 1;
                uint64_t qts = qst->pending[i].ts_ns;
                rec->rtt_ns = ts_ns >= qts ? ts_ns - qts : 0;
                pending_drop(qst, f, i);
            }
        }
        app_emit(sink, NET_REC_DNS, ts_ns, f, rec);
    }
}

/* ---- probes ---- */

/* Does msg look like a DNS message? 1 yes, 0 no, -1 cut short before deciding. */
static int
dns_plausible(const uint8_t *msg, size_t len)
{
    if (len < DNS_HDR)
        return -1;
    uint16_t flags = app_be16(msg + 2);
    unsigned opcode = (flags >> 11) & 0xf;
    uint16_t qd = app_be16(msg + 4), an = app_be16(msg + 6), ns = app_be16(msg + 8);
    uint16_t ar = app_be16(msg + 10);
    bool resp = flags & 0x8000;
    if (opcode > 6 || (!resp && (an > 16 || ns > 16)) || ar > 512)
        return 0;
    if (qd == 0)
        return resp && an + ns + ar > 0 ? 1 : 0;
    size_t off = DNS_HDR;
    char name[NET_DNS_QNAME_MAX];
    int rc = dns_name(msg, len, &off, name, sizeof(name), NULL);
    if (rc == BN_ETRUNC) /* ran off the bytes offered: all labels so far were fine */
        return len + 2 >= NET_PROBE_MAX ? 1 : -1;
    if (rc == BN_EPARSE)
        return 0;
    if (rc)
        return 1; /* a pointer loop in a well-formed header: hostile DNS, still DNS */
    if (off + 4 > len)
        return -1;
    uint16_t qclass = app_be16(msg + off + 2);
    return (qclass == 1 || qclass == 3 || qclass == 4 || qclass == 255 || (qclass & 0x7fff) == 1)
               ? 1
               : 0;
}

int
app_dns_probe_udp(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    int r = dns_plausible(d, n);
    return r < 0 ? 0 : r; /* a datagram is whole: no more bytes will come */
}

int
app_dns_probe_tcp(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    if (n < 2)
        return -1;
    size_t l = app_be16(d);
    if (l < DNS_HDR)
        return 0;
    return dns_plausible(d + 2, BN_MIN(n - 2, l));
}

/* ---- parser callbacks ---- */

static void *
dns_open_common(bool tcp)
{
    struct dns_state *st = net_slab_state_new(sizeof(*st));
    if (!st) {
        app_err(NET_APP_DNS, NET_APP_ERR_NOMEM);
        return NULL;
    }
    st->tcp = tcp;
    st->pending = st->inl;
    st->pending_cap = DNS_PENDING_INLINE;
    return st;
}

static void *
dns_open_udp(struct net_flow *f)
{
    struct dns_state *st = dns_open_common(false);
    if (st && f) {
        st->link_local =
            f->sport == 5353 || f->sport == 5355 || f->cport == 5353 || f->cport == 5355;
        st->xvlan = f->vlan[0] || f->vlan[1] || f->vlan3;
    }
    return st;
}

static void *
dns_open_tcp(struct net_flow *f)
{
    struct dns_state *st = dns_open_common(true);
    if (st && f)
        st->xvlan = f->vlan[0] || f->vlan[1] || f->vlan3;
    return st;
}

static void
dns_data_udp(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
             uint64_t ts_ns, struct net_sink *sink)
{
    (void)dir;
    if (vst)
        dns_message(vst, f, dir, d, n, ts_ns, sink);
}

static void
dns_data_tcp(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
             uint64_t ts_ns, struct net_sink *sink)
{
    struct dns_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return;
    struct app_acc *a = &st->acc[dir];
    if (st->skip[dir]) {
        /* after a gap: accept the chunk only if it starts like a framed message */
        if (app_dns_probe_tcp(d, n, dir) != 1) {
            app_err(NET_APP_DNS, NET_APP_ERR_GAP);
            return;
        }
        st->skip[dir] = false;
    }
    /* whole messages straight from the chunk when nothing is pending */
    while (a->len == 0 && n >= 2 && (size_t)app_be16(d) + 2 <= n) {
        size_t l = app_be16(d);
        dns_message(st, f, dir, d + 2, l, ts_ns, sink);
        d += 2 + l;
        n -= 2 + l;
    }
    if (n == 0)
        return;
    if (app_acc_add(a, d, n, NET_DNS_TCP_MSG_MAX + 2) != 0) {
        app_err(NET_APP_DNS, NET_APP_ERR_LIMIT);
        a->len = 0;
        st->skip[dir] = true;
        return;
    }
    while (a->len >= 2 && (size_t)app_be16(a->p) + 2 <= a->len) {
        size_t l = app_be16(a->p);
        dns_message(st, f, dir, a->p + 2, l, ts_ns, sink);
        app_acc_consume(a, 2 + l);
    }
}

static void
dns_gap(void *vst, struct net_flow *f, enum net_dir dir, size_t n)
{
    struct dns_state *st = vst;
    (void)f, (void)n;
    if (!st || !st->tcp || (unsigned)dir > 1)
        return;
    app_err(NET_APP_DNS, NET_APP_ERR_GAP);
    st->acc[dir].len = 0;
    st->skip[dir] = true;
}

static void
dns_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct dns_state *st = vst;
    (void)ts_ns;
    if (!st)
        return;
    while (st->n_pending)
        dns_unanswered(st, f, 0, sink);
    for (int i = 0; i < 2; i++) {
        if (st->acc[i].len)
            app_err(NET_APP_DNS, NET_APP_ERR_TRUNCATED);
        app_acc_release(&st->acc[i]);
    }
    if (st->pending != st->inl)
        bn_free(st->pending);
    net_slab_state_free(st, sizeof(*st));
}

const struct net_app_parser net_app_dns_udp = {
    .name = "dns",
    .app = NET_APP_DNS,
    .proto = IPPROTO_UDP,
    .ports = {53, 5353, 5355, 0},
    .probe = app_dns_probe_udp,
    .open = dns_open_udp,
    .data = dns_data_udp,
    .gap = dns_gap,
    .close = dns_close,
};

const struct net_app_parser net_app_dns_tcp = {
    .name = "dns",
    .app = NET_APP_DNS,
    .proto = IPPROTO_TCP,
    .ports = {53, 0, 0, 0},
    .probe = app_dns_probe_tcp,
    .open = dns_open_tcp,
    .data = dns_data_tcp,
    .gap = dns_gap,
    .close = dns_close,
};
