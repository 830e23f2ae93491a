/*
 * ndr_ioc.c - IOC matches against the manager's lists (bannin/ioc.h): flow addresses at
 * flow end, DNS query names, HTTP hosts, TLS server names and JA3/JA3S/JA4 fingerprints.
 * The set is borrowed (ndr_set_ioc) and immutable while the detector uses it; lookups
 * allocate nothing. Repeats for the same source and indicator fold into one alert per
 * de-duplication window.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bannin/ioc.h"

#include "sensor/app.h"
#include "sensor/ndr_int.h"

static void
ioc_alert(struct ndr *d, const struct net_record *rec, enum ndr_sig sig,
          const struct bn_ioc_match *m, const char *seen, struct net_sink *sink)
{
    const struct net_flow *f = rec->flow;
    if (!f)
        return;
    struct net_alert a;
    ndr_alert_init(&a, sig, &f->cli);
    a.dst = ndr_addr(&f->srv);
    a.has_dst = 1;
    a.sport = f->cport;
    a.dport = f->sport;
    a.has_ports = 1;
    a.proto = f->proto;
    a.first_ns = f->first_ns;
    a.last_ns = rec->ts_ns ? rec->ts_ns : d->now_ns;
    a.score = 100;
    const char *src = m->source && m->source[0] ? m->source : NULL;
    const char *why = m->comment && m->comment[0] ? m->comment : NULL;
    if (strcasecmp(seen, m->value) == 0)
        ndr_alert_detail(&a, "%s '%.80s' is listed%s%.40s%s%s%.60s", bn_ioc_type_name(m->type),
                         seen, src ? " (source " : "", src ? src : "", src ? ")" : "",
                         why ? ": " : "", why ? why : "");
    else
        ndr_alert_detail(&a, "%s '%.80s' is listed as '%.80s'%s%.40s%s%s%.60s",
                         bn_ioc_type_name(m->type), seen, m->value, src ? " (source " : "",
                         src ? src : "", src ? ")" : "", why ? ": " : "", why ? why : "");
    uint64_t disc = ndr_hash(d, m->value, strlen(m->value)) ^ (uint64_t)sig;
    ndr_alert_emit(d, sink, &a, disc, f, rec->pcap_cnt);
}

static void
match_str(struct ndr *d, const struct net_record *rec, int type, enum ndr_sig sig, const char *s,
          size_t max, struct net_sink *sink)
{
    size_t n = strnlen(s, max);
    if (n == 0)
        return;
    struct bn_ioc_match m;
    d->st.ioc_lookups++;
    if (bn_ioc_match(d->ioc, type, s, n, &m))
        ioc_alert(d, rec, sig, &m, s, sink);
}

static void
match_addr(struct ndr *d, const struct net_record *rec, const struct net_addr *a,
           struct net_sink *sink)
{
    struct bn_ioc_match m;
    char txt[64];
    d->st.ioc_lookups++;
    if (bn_ioc_match_addr(d->ioc, a->fam == 6 ? AF_INET6 : AF_INET, a->a, &m))
        ioc_alert(d, rec, NDR_SIG_IOC_IP, &m, net_addr_str(a, txt, sizeof(txt)), sink);
}

void
ndr_ioc_record(struct ndr *d, const struct net_record *rec, struct net_sink *sink)
{
    switch (rec->type) {
    case NET_REC_FLOW: {
        const struct net_flow *f = rec->body ? rec->body : rec->flow;
        if (!f)
            break;
        struct net_record r = *rec;
        r.flow = f;
        if (!ndr_ignored(d, &f->cli)) {
            match_addr(d, &r, &f->srv, sink);
            match_addr(d, &r, &f->cli, sink);
        }
        break;
    }
    case NET_REC_DNS: {
        const struct net_dns_rec *r = rec->body;
        if (!rec->flow)
            break;
        if (!r->is_response) {
            size_t nq = BN_MIN((size_t)r->n_queries, (size_t)NET_DNS_QUERIES_MAX);
            for (size_t i = 0; i < nq; i++)
                match_str(d, rec, BN_IOC_DOMAIN, NDR_SIG_IOC_DOMAIN, r->queries[i].name,
                          NET_DNS_NAME_MAX, sink);
            break;
        }
        /* A name resolving to a listed address: the host is about to connect (or would have,
         * had something not stopped it). */
        size_t nr = BN_MIN((size_t)r->n_rrs, (size_t)NET_DNS_RRS_MAX);
        for (size_t i = 0; i < nr; i++)
            if (r->rrs[i].section == NET_DNS_ANSWER &&
                (r->rrs[i].type == 1 || r->rrs[i].type == 28))
                match_str(d, rec, BN_IOC_IP, NDR_SIG_IOC_IP, r->rrs[i].rdata, NET_DNS_RDATA_MAX,
                          sink);
        break;
    }
    case NET_REC_HTTP: {
        const struct net_http_rec *r = rec->body;
        if (rec->flow && r->has_request)
            match_str(d, rec, BN_IOC_DOMAIN, NDR_SIG_IOC_DOMAIN, r->host, NET_HTTP_HOST_MAX, sink);
        break;
    }
    case NET_REC_TLS: {
        const struct net_tls_rec *r = rec->body;
        if (!rec->flow)
            break;
        match_str(d, rec, BN_IOC_SNI, NDR_SIG_IOC_SNI, r->sni, NET_TLS_SNI_MAX, sink);
        match_str(d, rec, BN_IOC_JA3, NDR_SIG_IOC_JA3, r->ja3_hash, NET_TLS_HASH_MAX, sink);
        match_str(d, rec, BN_IOC_JA3, NDR_SIG_IOC_JA3, r->ja3s_hash, NET_TLS_HASH_MAX, sink);
        match_str(d, rec, BN_IOC_JA4, NDR_SIG_IOC_JA4, r->ja4, NET_TLS_JA4_MAX, sink);
        break;
    }
    default: break;
    }
}
