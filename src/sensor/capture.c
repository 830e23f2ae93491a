/*
 * capture.c - frames from libpcap: pcap and pcapng files, live interfaces with an optional
 * BPF filter. Timestamps are asked for in nanoseconds. Live capture uses a 64 MB kernel ring
 * and a 100 ms read timeout so the caller's loop can tick flow timeouts while idle; the
 * kernel's drop counters are reported (net_capture_kstats) because a sensor that drops must
 * say so.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "bannin/alloc.h"
#include "bannin/error.h"
#include "sensor/sensor.h"

struct net_capture {
    pcap_t *pc;
    bool live;
    bool nano;
    volatile int stop;
};

static int
finish_open(struct net_capture *c, char *err, size_t errsz)
{
    int lt = pcap_datalink(c->pc);

    if (!net_link_supported(lt)) {
        snprintf(err, errsz, "link type %d (%s) is not supported", lt,
                 pcap_datalink_val_to_name(lt) ? pcap_datalink_val_to_name(lt) : "?");
        return BN_EUNSUP;
    }
    return 0;
}

int
net_capture_open_file(struct net_capture **out, const char *path, char *err, size_t errsz)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct net_capture *c;
    int rc;

    *out = NULL;
    c = bn_calloc(1, sizeof(*c));
    if (!c)
        return BN_ENOMEM;
    c->pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
    if (!c->pc) {
        snprintf(err, errsz, "cannot open '%s': %s", path, ebuf);
        bn_free(c);
        return BN_EIO;
    }
    c->nano = pcap_get_tstamp_precision(c->pc) == PCAP_TSTAMP_PRECISION_NANO;
    rc = finish_open(c, err, errsz);
    if (rc) {
        net_capture_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int
net_capture_open_live(struct net_capture **out, const char *iface, char *err, size_t errsz)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    struct net_capture *c;
    int rc;

    *out = NULL;
    c = bn_calloc(1, sizeof(*c));
    if (!c)
        return BN_ENOMEM;
    c->live = true;
    c->pc = pcap_create(iface, ebuf);
    if (!c->pc) {
        snprintf(err, errsz, "cannot capture on '%s': %s", iface, ebuf);
        bn_free(c);
        return BN_EIO;
    }
    pcap_set_snaplen(c->pc, NET_SNAPLEN);
    pcap_set_promisc(c->pc, 1);
    pcap_set_timeout(c->pc, 100);
    pcap_set_buffer_size(c->pc, (int)NET_CAPTURE_BUFFER);
    pcap_set_tstamp_precision(c->pc, PCAP_TSTAMP_PRECISION_NANO);
    rc = pcap_activate(c->pc);
    if (rc < 0) {
        snprintf(err, errsz, "cannot capture on '%s': %s", iface, pcap_geterr(c->pc));
        net_capture_close(c);
        return BN_EIO;
    }
    c->nano = pcap_get_tstamp_precision(c->pc) == PCAP_TSTAMP_PRECISION_NANO;
    rc = finish_open(c, err, errsz);
    if (rc) {
        net_capture_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

int
net_capture_filter(struct net_capture *c, const char *filter, char *err, size_t errsz)
{
    struct bpf_program prog;

    if (pcap_compile(c->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errsz, "bad filter '%s': %s", filter, pcap_geterr(c->pc));
        return BN_EINVAL;
    }
    if (pcap_setfilter(c->pc, &prog) != 0) {
        snprintf(err, errsz, "cannot set filter '%s': %s", filter, pcap_geterr(c->pc));
        pcap_freecode(&prog);
        return BN_EINVAL;
    }
    pcap_freecode(&prog);
    return 0;
}

int
net_capture_linktype(const struct net_capture *c)
{
    return pcap_datalink(c->pc);
}

int
net_capture_next(struct net_capture *c, const uint8_t **data, uint32_t *caplen,
                 uint32_t *wirelen, uint64_t *ts_ns)
{
    struct pcap_pkthdr *h;
    const u_char *d;
    int rc;

    if (c->stop)
        return BN_EOF;
    rc = pcap_next_ex(c->pc, &h, &d);
    if (rc == 1) {
        *data = d;
        *caplen = h->caplen;
        *wirelen = h->len;
        *ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
                 (uint64_t)h->ts.tv_usec * (c->nano ? 1u : 1000u);
        return 1;
    }
    if (rc == 0)
        return 0;
    if (rc == PCAP_ERROR_BREAK)
        return BN_EOF;
    return BN_EIO;
}

void
net_capture_break(struct net_capture *c)
{
    c->stop = 1;
    pcap_breakloop(c->pc);
}

void
net_capture_kstats(struct net_capture *c, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
    struct pcap_stat ps;

    *recv = *drop = *ifdrop = 0;
    if (!c->live || pcap_stats(c->pc, &ps) != 0)
        return;
    *recv = ps.ps_recv;
    *drop = ps.ps_drop;
    *ifdrop = ps.ps_ifdrop;
}

void
net_capture_close(struct net_capture *c)
{
    if (!c)
        return;
    if (c->pc)
        pcap_close(c->pc);
    bn_free(c);
}
