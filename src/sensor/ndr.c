/*
 * ndr.c - the network detector's frame: configuration table, signature descriptions,
 * lifecycle, dispatch of packets and records to the families (ndr_scan.c, ndr_sweep.c,
 * ndr_brute.c, ndr_beacon.c, ndr_dnstun.c, ndr_lateral.c, ndr_exfil.c, ndr_ioc.c), the
 * capture-time housekeeping, alert de-duplication and the eve "alert" rendering.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/config.h"
#include "bannin/diag.h"
#include "bannin/error.h"

#include "sensor/ndr_int.h"

/* ---- signatures ---- */

#define CAT_SCAN   "Detection of a Network Scan"
#define CAT_BRUTE  "Attempted User Privilege Gain"
#define CAT_TROJAN "A Network Trojan was detected"
#define CAT_BAD    "Potentially Bad Traffic"
#define CAT_IOC    "Known Bad Indicator"

#define SIG(e, name, cat, sev, mitre, key) [e] = {NDR_SID_BASE + e, name, cat, sev, mitre, key}

static const struct ndr_sig_info sig_info[NDR_SIG__COUNT] = {
    SIG(NDR_SIG_SCAN_VERTICAL, "BANNIN NDR vertical port scan", CAT_SCAN, 3, "T1046",
        "scan_vertical"),
    SIG(NDR_SIG_SCAN_HORIZONTAL, "BANNIN NDR horizontal port scan", CAT_SCAN, 3, "T1046",
        "scan_horizontal"),
    SIG(NDR_SIG_SWEEP_ICMP, "BANNIN NDR ICMP host sweep", CAT_SCAN, 3, "T1018", "sweep_icmp"),
    SIG(NDR_SIG_SWEEP_ARP, "BANNIN NDR ARP host sweep", CAT_SCAN, 3, "T1018", "sweep_arp"),
    SIG(NDR_SIG_BRUTE_SSH, "BANNIN NDR SSH brute force", CAT_BRUTE, 2, "T1110.001", "brute_ssh"),
    SIG(NDR_SIG_BRUTE_RDP, "BANNIN NDR RDP brute force", CAT_BRUTE, 2, "T1110.001", "brute_rdp"),
    SIG(NDR_SIG_BEACON, "BANNIN NDR periodic beaconing", CAT_TROJAN, 2, "T1071", "beacon"),
    SIG(NDR_SIG_DNS_TUNNEL, "BANNIN NDR DNS tunnelling", CAT_TROJAN, 2, "T1071.004", "dns_tunnel"),
    SIG(NDR_SIG_DNS_DGA, "BANNIN NDR DGA-like domain lookups", CAT_TROJAN, 2, "T1568.002",
        "dns_dga"),
    SIG(NDR_SIG_LATERAL, "BANNIN NDR new internal lateral fan-out", CAT_BAD, 2, "T1021", "lateral"),
    SIG(NDR_SIG_EXFIL, "BANNIN NDR large outbound transfer", CAT_BAD, 2, "T1048", "exfil"),
    SIG(NDR_SIG_IOC_IP, "BANNIN NDR IOC IP address", CAT_IOC, 1, "T1071", "ioc_ip"),
    SIG(NDR_SIG_IOC_DOMAIN, "BANNIN NDR IOC domain", CAT_IOC, 1, "T1071", "ioc_domain"),
    SIG(NDR_SIG_IOC_SNI, "BANNIN NDR IOC TLS server name", CAT_IOC, 1, "T1071.001", "ioc_sni"),
    SIG(NDR_SIG_IOC_JA3, "BANNIN NDR IOC JA3 fingerprint", CAT_IOC, 1, "T1071.001", "ioc_ja3"),
    SIG(NDR_SIG_IOC_JA4, "BANNIN NDR IOC JA4 fingerprint", CAT_IOC, 1, "T1071.001", "ioc_ja4"),
};

const struct ndr_sig_info *
ndr_sig_info(enum ndr_sig sig)
{
    return (unsigned)sig < NDR_SIG__COUNT ? &sig_info[sig] : NULL;
}

/* ---- configuration ---- */

#define OFF(f) offsetof(struct ndr_config, f)
#define MS_DAY 86400000ll

const struct bn_conf_def ndr_conf_defs[] = {
    {"ndr.internal", BN_CONF_STRING, "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7", 0, 0, NULL,
     false, OFF(internal),
     "comma-separated CIDRs of the internal networks (lateral movement, outbound transfers, "
     "beacons)"},
    {"ndr.ignore_src", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(ignore_src),
     "comma-separated CIDRs whose traffic is never alerted on (vulnerability scanners, "
     "monitoring, backup servers)"},
    {"ndr.ignore_dst", BN_CONF_STRING, "", 0, 0, NULL, false, OFF(ignore_dst),
     "comma-separated CIDRs never alerted on as a destination (your update servers, backup "
     "provider, scanned test ranges); IOC matches still alert"},
    {"ndr.dedup_window", BN_CONF_DURATION, "1h", 1000, 7 * MS_DAY, NULL, false, OFF(dedup_ms),
     "one alert per source and signature in this window; repeats are counted in the next"},
    {"ndr.max_sources", BN_CONF_INT, "65536", 64, 16777216, NULL, false, OFF(max_sources),
     "entries in each per-source table; the least recently seen is evicted and counted"},
    {"ndr.scan.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(scan_enabled),
     "detect TCP SYN port scans"},
    {"ndr.scan.window", BN_CONF_DURATION, "60s", 1000, MS_DAY, NULL, false, OFF(scan_window_ms),
     "window in which probes are counted"},
    {"ndr.scan.vertical_ports", BN_CONF_INT, "100", 2, 65536, NULL, false, OFF(scan_vertical_ports),
     "distinct ports probed on one host"},
    {"ndr.scan.horizontal_hosts", BN_CONF_INT, "64", 2, 16777216, NULL, false,
     OFF(scan_horizontal_hosts), "distinct hosts probed on one port"},
    {"ndr.scan.fail_percent", BN_CONF_INT, "80", 0, 100, NULL, false, OFF(scan_fail_pct),
     "share of those probes left unanswered or refused"},
    {"ndr.scan.probes_max", BN_CONF_INT, "262144", 1024, 67108864, NULL, false,
     OFF(scan_probes_max), "(source, target, port) probes remembered"},
    {"ndr.sweep.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(sweep_enabled),
     "detect ICMP echo and ARP host sweeps"},
    {"ndr.sweep.window", BN_CONF_DURATION, "60s", 1000, MS_DAY, NULL, false, OFF(sweep_window_ms),
     "window in which swept hosts are counted"},
    {"ndr.sweep.icmp_hosts", BN_CONF_INT, "64", 2, 16777216, NULL, false, OFF(sweep_icmp_hosts),
     "distinct hosts sent an ICMP echo request"},
    {"ndr.sweep.arp_hosts", BN_CONF_INT, "64", 2, 16777216, NULL, false, OFF(sweep_arp_hosts),
     "distinct addresses asked for with ARP who-has"},
    {"ndr.brute.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(brute_enabled),
     "detect SSH and RDP brute force"},
    {"ndr.brute.window", BN_CONF_DURATION, "5m", 1000, MS_DAY, NULL, false, OFF(brute_window_ms),
     "window in which short connections are counted"},
    {"ndr.brute.attempts", BN_CONF_INT, "20", 2, 1000000, NULL, false, OFF(brute_attempts),
     "short established connections from one client to one server"},
    {"ndr.brute.short", BN_CONF_DURATION, "30s", 100, MS_DAY, NULL, false, OFF(brute_short_ms),
     "a connection shorter than this is an attempt"},
    {"ndr.brute.max_bytes", BN_CONF_SIZE, "20k", 0, 0, NULL, false, OFF(brute_max_bytes),
     "... and whose server sent fewer payload bytes than this"},
    {"ndr.beacon.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(beacon_enabled),
     "detect periodic connections (command and control beacons)"},
    {"ndr.beacon.min_connections", BN_CONF_INT, "12", 4, NDR_BEACON_RING, NULL, false,
     OFF(beacon_min_conns), "connections to one server and port before scoring"},
    {"ndr.beacon.min_period", BN_CONF_DURATION, "10s", 100, MS_DAY, NULL, false,
     OFF(beacon_min_period_ms), "a shorter median interval is not a beacon"},
    {"ndr.beacon.max_period", BN_CONF_DURATION, "6h", 1000, 7 * MS_DAY, NULL, false,
     OFF(beacon_max_period_ms), "a longer median interval is not a beacon"},
    {"ndr.beacon.min_span", BN_CONF_DURATION, "10m", 1000, 30 * MS_DAY, NULL, false,
     OFF(beacon_min_span_ms), "time from the first to the last connection scored"},
    {"ndr.beacon.score", BN_CONF_INT, "70", 1, 100, NULL, false, OFF(beacon_score),
     "alert at or above this periodicity score"},
    {"ndr.beacon.pairs_max", BN_CONF_INT, "16384", 64, 16777216, NULL, false, OFF(beacon_pairs_max),
     "(client, server, port) pairs tracked"},
    {"ndr.beacon.external_only", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(beacon_external_only),
     "score only servers outside the internal networks"},
    {"ndr.beacon.ignore_ports", BN_CONF_STRING, "53,123,5353", 0, 0, NULL, false,
     OFF(beacon_ignore_ports), "server ports whose periodic traffic is expected (DNS, NTP)"},
    {"ndr.dns.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(dns_enabled),
     "detect DNS tunnelling and DGA-like lookups"},
    {"ndr.dns.window", BN_CONF_DURATION, "5m", 1000, MS_DAY, NULL, false, OFF(dns_window_ms),
     "window in which queries are counted"},
    {"ndr.dns.tunnel_names", BN_CONF_INT, "50", 2, 1000000, NULL, false, OFF(dns_tunnel_names),
     "distinct names under one domain from one client"},
    {"ndr.dns.tunnel_label_len", BN_CONF_INT, "24", 1, 253, NULL, false, OFF(dns_tunnel_label_len),
     "... with subdomain parts at least this long on average"},
    {"ndr.dns.tunnel_txt", BN_CONF_INT, "30", 2, 1000000, NULL, false, OFF(dns_tunnel_txt),
     "TXT/NULL queries for distinct long names under one domain from one client"},
    {"ndr.dns.dga_names", BN_CONF_INT, "10", 2, 1000000, NULL, false, OFF(dns_dga_names),
     "distinct machine-generated-looking domains looked up by one client"},
    {"ndr.dns.domains_max", BN_CONF_INT, "65536", 64, 16777216, NULL, false, OFF(dns_domains_max),
     "(client, domain) entries tracked"},
    {"ndr.lateral.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(lateral_enabled),
     "detect new internal fan-out over remote-administration ports"},
    {"ndr.lateral.window", BN_CONF_DURATION, "10m", 1000, MS_DAY, NULL, false,
     OFF(lateral_window_ms), "window in which new servers are counted"},
    {"ndr.lateral.hosts", BN_CONF_INT, "20", 2, 16777216, NULL, false, OFF(lateral_hosts),
     "distinct internal servers one client newly connects to"},
    {"ndr.lateral.ports", BN_CONF_STRING, "22,135,445,3389,5985,5986", 0, 0, NULL, false,
     OFF(lateral_ports), "lateral-movement ports: SSH, RPC, SMB, RDP, WinRM"},
    {"ndr.lateral.known_max", BN_CONF_INT, "262144", 1024, 67108864, NULL, false,
     OFF(lateral_known_max), "(client, server) pairs remembered as already seen"},
    {"ndr.lateral.learn", BN_CONF_DURATION, "0", 0, 30 * MS_DAY, NULL, false, OFF(lateral_learn_ms),
     "from the first packet on, only learn pairs for this long"},
    {"ndr.exfil.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(exfil_enabled),
     "detect unusually large outbound transfers"},
    {"ndr.exfil.window", BN_CONF_DURATION, "1h", 1000, 7 * MS_DAY, NULL, false,
     OFF(exfil_window_ms), "window in which bytes to one external host are summed"},
    {"ndr.exfil.bytes", BN_CONF_SIZE, "1g", 1024, 1ll << 50, NULL, false, OFF(exfil_bytes),
     "bytes one internal host sends to one external host in the window"},
    {"ndr.exfil.ratio", BN_CONF_INT, "10", 1, 1000000, NULL, false, OFF(exfil_ratio),
     "... and at least this many times what it received from it"},
    {"ndr.ioc.enabled", BN_CONF_BOOL, "true", 0, 0, NULL, false, OFF(ioc_enabled),
     "match IPs, domains, TLS SNI and JA3/JA4 against the manager's IOC lists"},
};
const size_t ndr_conf_ndefs = BN_ARRAY_SIZE(ndr_conf_defs);

size_t
ndr_conf_defs_at(struct bn_conf_def *out, size_t max, size_t base)
{
    size_t n = BN_MIN(max, ndr_conf_ndefs);
    for (size_t i = 0; i < n; i++) {
        out[i] = ndr_conf_defs[i];
        out[i].offset += base;
    }
    return n;
}

int
ndr_config_init(struct ndr_config *c)
{
    memset(c, 0, sizeof(*c));
    int rc = bn_conf_defaults(ndr_conf_defs, ndr_conf_ndefs, c);
    if (rc)
        ndr_config_release(c);
    return rc;
}

int
ndr_config_load(struct ndr_config *c, const char *path, struct bn_diag *d)
{
    int rc = bn_conf_load_yaml(ndr_conf_defs, ndr_conf_ndefs, c, path, d);
    if (rc)
        return rc;
    char err[BN_DIAG_MSG_MAX / 2];
    rc = ndr_check_config(c, err, sizeof(err));
    if (rc)
        bn_diag_set(d, rc, path, 0, 0, "%s", err);
    return rc;
}

void
ndr_config_release(struct ndr_config *c)
{
    bn_conf_release(ndr_conf_defs, ndr_conf_ndefs, c);
    memset(c, 0, sizeof(*c));
}

/* Copies src into dst, duplicating the strings. */
static int
config_copy(struct ndr_config *dst, const struct ndr_config *src)
{
    *dst = *src;
    dst->internal = dst->ignore_src = dst->ignore_dst = NULL;
    dst->lateral_ports = dst->beacon_ignore_ports = NULL;
    dst->internal = bn_strdup(src->internal ? src->internal : "");
    dst->ignore_src = bn_strdup(src->ignore_src ? src->ignore_src : "");
    dst->ignore_dst = bn_strdup(src->ignore_dst ? src->ignore_dst : "");
    dst->lateral_ports = bn_strdup(src->lateral_ports ? src->lateral_ports : "");
    dst->beacon_ignore_ports = bn_strdup(src->beacon_ignore_ports ? src->beacon_ignore_ports : "");
    if (!dst->internal || !dst->ignore_src || !dst->ignore_dst || !dst->lateral_ports ||
        !dst->beacon_ignore_ports)
        return BN_ENOMEM;
    return 0;
}

/* ---- CIDR and port lists ---- */

static int list_err(char *err, size_t size, const char *fmt, ...) BN_PRINTF(3, 4);

static int
list_err(char *err, size_t size, const char *fmt, ...)
{
    if (err && size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, size, fmt, ap);
        va_end(ap);
    }
    return BN_EINVAL;
}

/* Next comma-separated item of *p (blanks trimmed) into buf; false at the end. */
static bool
next_item(const char **p, char *buf, size_t size, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (!*s)
        return false;
    const char *e = s;
    while (*e && *e != ',')
        e++;
    *p = e;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *len = (size_t)(e - s);
    size_t n = BN_MIN(*len, size - 1);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

int
ndr_cidrs_parse(struct ndr_cidrs *out, const char *list, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    const char *p = list ? list : "";
    char item[80];
    size_t len;
    while (next_item(&p, item, sizeof(item), &len)) {
        if (len >= sizeof(item))
            return list_err(err, err_size, "CIDR '%.40s...' is too long", item);
        if (out->n >= NDR_CIDR_MAX)
            return list_err(err, err_size, "more than %d CIDRs in one list", NDR_CIDR_MAX);
        struct ndr_cidr *c = &out->v[out->n];
        char *slash = strchr(item, '/');
        long bits = -1;
        if (slash) {
            *slash = '\0';
            char *end;
            if (!isdigit((unsigned char)slash[1]))
                return list_err(err, err_size, "CIDR '%s/%s': prefix length is not a number", item,
                                slash + 1);
            bits = strtol(slash + 1, &end, 10);
            if (*end)
                return list_err(err, err_size, "CIDR '%s/%s': prefix length is not a number", item,
                                slash + 1);
        }
        if (inet_pton(AF_INET, item, c->a) == 1) {
            c->fam = 4;
            if (bits < 0)
                bits = 32;
            if (bits > 32)
                return list_err(err, err_size, "CIDR '%s/%ld': an IPv4 prefix is at most 32", item,
                                bits);
        } else if (inet_pton(AF_INET6, item, c->a) == 1) {
            c->fam = 6;
            if (bits < 0)
                bits = 128;
            if (bits > 128)
                return list_err(err, err_size, "CIDR '%s/%ld': an IPv6 prefix is at most 128", item,
                                bits);
        } else {
            return list_err(err, err_size, "'%s' is not an IPv4 or IPv6 address", item);
        }
        c->bits = (uint8_t)bits;
        if (c->fam == 4) {
            c->mask4 = bits ? 0xffffffffu << (32 - bits) : 0;
            c->net4 = ((uint32_t)c->a[0] << 24 | (uint32_t)c->a[1] << 16 | (uint32_t)c->a[2] << 8 |
                       c->a[3]) &
                      c->mask4;
        }
        out->n++;
    }
    return 0;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

bool
ndr_cidrs_match(const struct ndr_cidrs *c, const struct net_addr *a)
{
    if (a->fam == 4) {
        uint32_t v =
            (uint32_t)a->a[0] << 24 | (uint32_t)a->a[1] << 16 | (uint32_t)a->a[2] << 8 | a->a[3];
        for (size_t i = 0; i < c->n; i++)
            if (c->v[i].fam == 4 && (v & c->v[i].mask4) == c->v[i].net4)
                return true;
        return false;
    }
    for (size_t i = 0; i < c->n; i++) {
        const struct ndr_cidr *r = &c->v[i];
        if (r->fam == a->fam && prefix_match(a->a, r->a, r->bits))
            return true;
        /* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv4 networks. */
        if (r->fam == 4 && a->fam == 6) {
            static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            if (memcmp(a->a, mapped, 12) == 0 && prefix_match(a->a + 12, r->a, r->bits))
                return true;
        }
    }
    return false;
}

int
ndr_ports_parse(uint16_t *ports, size_t max, const char *list, char *err, size_t err_size)
{
    const char *p = list ? list : "";
    char item[16];
    size_t len, n = 0;
    while (next_item(&p, item, sizeof(item), &len)) {
        char *end;
        long v = strtol(item, &end, 10);
        if (len >= sizeof(item) || !isdigit((unsigned char)item[0]) || *end || v < 1 || v > 65535)
            return list_err(err, err_size, "port '%s' is not a number in 1..65535", item);
        if (n >= max)
            return list_err(err, err_size, "more than %zu ports in one list", max);
        ports[n++] = (uint16_t)v;
    }
    return (int)n;
}

int
ndr_check_config(const struct ndr_config *cfg, char *err, size_t err_size)
{
    struct ndr_cidrs c;
    uint16_t ports[NDR_PORTS_MAX];
    char msg[160];
    int rc;
    if ((rc = ndr_cidrs_parse(&c, cfg->internal, msg, sizeof(msg))) < 0)
        return list_err(err, err_size, "ndr.internal: %s", msg);
    if ((rc = ndr_cidrs_parse(&c, cfg->ignore_src, msg, sizeof(msg))) < 0)
        return list_err(err, err_size, "ndr.ignore_src: %s", msg);
    if ((rc = ndr_cidrs_parse(&c, cfg->ignore_dst, msg, sizeof(msg))) < 0)
        return list_err(err, err_size, "ndr.ignore_dst: %s", msg);
    if ((rc = ndr_ports_parse(ports, NDR_PORTS_MAX, cfg->lateral_ports, msg, sizeof(msg))) < 0)
        return list_err(err, err_size, "ndr.lateral.ports: %s", msg);
    if ((rc = ndr_ports_parse(ports, NDR_PORTS_MAX, cfg->beacon_ignore_ports, msg, sizeof(msg))) <
        0)
        return list_err(err, err_size, "ndr.beacon.ignore_ports: %s", msg);
    if (cfg->beacon_min_period_ms > cfg->beacon_max_period_ms)
        return list_err(err, err_size, "ndr.beacon.min_period is above ndr.beacon.max_period");
    return 0;
}

/* ---- lifecycle ---- */

struct dedup_key {
    struct net_addr src;
    uint8_t sig;
    uint64_t disc;
};

struct dedup_val {
    uint64_t last_emit_ns;
    uint32_t pending; /* triggers folded since the last alert */
};

struct ndr *
ndr_new(const struct ndr_config *cfg)
{
    struct ndr_config defaults;
    bool own_defaults = false;
    if (!cfg) {
        if (ndr_config_init(&defaults) != 0)
            return NULL;
        cfg = &defaults;
        own_defaults = true;
    }
    struct ndr *d = NULL;
    if (ndr_check_config(cfg, NULL, 0) != 0 || sodium_init() < 0)
        goto out;
    d = bn_calloc(1, sizeof(*d));
    if (!d)
        goto out;
    if (config_copy(&d->cfg, cfg) != 0)
        goto fail;
    ndr_cidrs_parse(&d->internal, d->cfg.internal, NULL, 0);
    ndr_cidrs_parse(&d->ignore, d->cfg.ignore_src, NULL, 0);
    ndr_cidrs_parse(&d->ignore_dst, d->cfg.ignore_dst, NULL, 0);
    d->n_lateral_ports =
        (size_t)ndr_ports_parse(d->lateral_ports, NDR_PORTS_MAX, d->cfg.lateral_ports, NULL, 0);
    d->n_beacon_ignore = (size_t)ndr_ports_parse(d->beacon_ignore, NDR_PORTS_MAX,
                                                 d->cfg.beacon_ignore_ports, NULL, 0);
    randombytes_buf(d->hkey, sizeof(d->hkey));
    if (ndr_tab_init(&d->dedup, "dedup", sizeof(struct dedup_key), sizeof(struct dedup_val),
                     (size_t)d->cfg.max_sources, d->hkey) != 0 ||
        ndr_scan_init(d) != 0 || ndr_sweep_init(d) != 0 || ndr_brute_init(d) != 0 ||
        ndr_beacon_init(d) != 0 || ndr_dns_init(d) != 0 || ndr_lateral_init(d) != 0 ||
        ndr_exfil_init(d) != 0)
        goto fail;
    goto out;
fail:
    ndr_free(d);
    d = NULL;
out:
    if (own_defaults)
        ndr_config_release(&defaults);
    return d;
}

#define ALL_TABLES(d)                                                                              \
    &(d)->dedup, &(d)->scan_probe, &(d)->scan_v, &(d)->scan_h, &(d)->sweep_pair, &(d)->sweep_src,  \
        &(d)->brute, &(d)->beacon, &(d)->dns_dom, &(d)->dns_cli, &(d)->lat_known, &(d)->lat_src,   \
        &(d)->exfil

void
ndr_free(struct ndr *d)
{
    if (!d)
        return;
    struct ndr_tab *tabs[] = {ALL_TABLES(d)};
    for (size_t i = 0; i < BN_ARRAY_SIZE(tabs); i++)
        ndr_tab_release(tabs[i]);
    ndr_exfil_release(d);
    ndr_config_release(&d->cfg);
    bn_free(d);
}

void
ndr_set_ioc(struct ndr *d, const struct bn_ioc_set *iocs)
{
    d->ioc = iocs;
}

void
ndr_stats(const struct ndr *d, struct ndr_stats *st)
{
    *st = d->st;
    struct ndr *m = (struct ndr *)d; /* the table list macro takes addresses only */
    const struct ndr_tab *tabs[] = {ALL_TABLES(m)};
    st->entries = st->evictions = 0;
    for (size_t i = 0; i < BN_ARRAY_SIZE(tabs); i++) {
        st->entries += tabs[i]->n;
        st->evictions += tabs[i]->evictions;
        st->nomem += tabs[i]->nomem;
    }
}

int
ndr_stats_json(const struct ndr_stats *st, struct bn_buf *b)
{
    int rc = bn_buf_printf(b,
                           "{\"packets\":%llu,\"records\":%llu,\"entries\":%llu,"
                           "\"evictions\":%llu,\"nomem\":%llu,\"ioc_lookups\":%llu",
                           (unsigned long long)st->packets, (unsigned long long)st->records,
                           (unsigned long long)st->entries, (unsigned long long)st->evictions,
                           (unsigned long long)st->nomem, (unsigned long long)st->ioc_lookups);
    static const char *const names[] = {",\"alerts\":{", ",\"suppressed\":{", ",\"ignored\":{"};
    for (int part = 0; part < 3 && !rc; part++) {
        const uint64_t *v = part == 0 ? st->alerts : part == 1 ? st->suppressed : st->ignored;
        rc = bn_buf_puts(b, names[part]);
        for (size_t i = 0; i < NDR_SIG__COUNT && !rc; i++)
            rc = bn_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", sig_info[i].key,
                               (unsigned long long)v[i]);
        if (!rc)
            rc = bn_buf_putc(b, '}');
    }
    return rc ? rc : bn_buf_putc(b, '}');
}

/* ---- clock and dispatch ---- */

static uint64_t
ms(int64_t v)
{
    return (uint64_t)v * NDR_NS_PER_MS;
}

static void
expire(struct ndr_tab *t, uint64_t now, uint64_t keep_ns)
{
    if (now > keep_ns)
        ndr_tab_expire(t, now - keep_ns);
}

static void
housekeep(struct ndr *d, struct net_sink *sink)
{
    uint64_t now = d->now_ns;
    ndr_exfil_flush(d, sink);
    const struct ndr_config *c = &d->cfg;
    d->housekept_ns = now;
    expire(&d->dedup, now, ms(c->dedup_ms));
    expire(&d->scan_probe, now, ms(c->scan_window_ms));
    expire(&d->scan_v, now, ms(c->scan_window_ms));
    expire(&d->scan_h, now, ms(c->scan_window_ms));
    expire(&d->sweep_pair, now, ms(c->sweep_window_ms));
    expire(&d->sweep_src, now, ms(c->sweep_window_ms));
    expire(&d->brute, now, ms(c->brute_window_ms));
    /* A beacon pair goes quiet for a few periods before it is forgotten. */
    expire(&d->beacon, now, 3 * ms(c->beacon_max_period_ms));
    expire(&d->dns_dom, now, ms(c->dns_window_ms));
    expire(&d->dns_cli, now, ms(c->dns_window_ms));
    expire(&d->lat_src, now, ms(c->lateral_window_ms));
    expire(&d->exfil, now, ms(c->exfil_window_ms));
    /* lat_known is the baseline: only its bound evicts from it. */
}

static void
advance(struct ndr *d, uint64_t ts_ns, struct net_sink *sink)
{
    if (ts_ns == 0)
        return;
    if (d->first_ns == 0)
        d->first_ns = ts_ns;
    if (ts_ns > d->now_ns)
        d->now_ns = ts_ns;
    if (d->now_ns - d->housekept_ns >= NDR_HOUSEKEEP_NS)
        housekeep(d, sink);
}

void
ndr_packet(struct ndr *d, const struct net_pkt *p, struct net_sink *sink)
{
    ndr_packet_flow(d, p, NULL, sink);
}

void
ndr_packet_flow(struct ndr *d, const struct net_pkt *p, struct net_flow *f,
                struct net_sink *sink)
{
    d->st.packets++;
    advance(d, p->ts_ns, sink);
    if (ndr_ignored(d, &p->src))
        return;
    if (p->is_arp) {
        if (d->cfg.sweep_enabled)
            ndr_sweep_packet(d, p, sink);
        return;
    }
    if (p->proto == 6 && d->cfg.scan_enabled)
        ndr_scan_packet(d, p, f, sink);
    if ((p->proto == 1 || p->proto == 58) && d->cfg.sweep_enabled)
        ndr_sweep_packet(d, p, sink);
    if (d->cfg.exfil_enabled)
        ndr_exfil_packet(d, p, f, sink);
}

void
ndr_record(struct ndr *d, const struct net_record *rec, struct net_sink *sink)
{
    if (rec->type == NET_REC_ALERT)
        return; /* our own alerts (and Sigma's) come back through a fan-out sink */
    if (rec->type == NET_REC_FLOW && rec->flow && rec->flow->zeek_only)
        return; /* a flow only Zeek makes (flow.c): the detectors see Suricata's flows */
    d->st.records++;
    advance(d, rec->ts_ns, sink);
    const struct net_flow *f = rec->flow;
    if (rec->type == NET_REC_FLOW && (rec->body || rec->flow)) {
        f = rec->body ? rec->body : rec->flow;
        if (!ndr_ignored(d, &f->cli)) {
            if (d->cfg.scan_enabled)
                ndr_scan_flow(d, f, rec->ts_ns, sink);
            if (d->cfg.brute_enabled)
                ndr_brute_flow(d, f, rec->ts_ns, sink);
            if (d->cfg.beacon_enabled)
                ndr_beacon_flow(d, f, rec->ts_ns, sink);
            if (d->cfg.lateral_enabled)
                ndr_lateral_flow(d, f, rec->ts_ns, sink);
        }
    } else if (rec->type == NET_REC_DNS && d->cfg.dns_enabled && f && rec->body &&
               !ndr_ignored(d, &f->cli)) {
        ndr_dns_record(d, rec, sink);
    }
    if (d->cfg.ioc_enabled && d->ioc)
        ndr_ioc_record(d, rec, sink);
}

void
ndr_tick(struct ndr *d, uint64_t now_ns, struct net_sink *sink)
{
    advance(d, now_ns, sink);
}

void
ndr_flush(struct ndr *d, struct net_sink *sink)
{
    if (d->now_ns)
        housekeep(d, sink);
}

/* ---- alerts ---- */

void
ndr_alert_init(struct net_alert *a, enum ndr_sig sig, const struct net_addr *src)
{
    memset(a, 0, sizeof(*a));
    a->sig = (uint8_t)sig;
    a->src = ndr_addr(src);
    a->count = 1;
}

void
ndr_alert_detail(struct net_alert *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->detail, sizeof(a->detail), fmt, ap);
    va_end(ap);
}

void
ndr_alert_emit(struct ndr *d, struct net_sink *sink, struct net_alert *a, uint64_t disc,
               const struct net_flow *flow, uint64_t pcap_cnt)
{
    const struct ndr_sig_info *info = ndr_sig_info((enum ndr_sig)a->sig);
    if (!info || ndr_ignored(d, &a->src))
        return;
    if (a->has_dst && a->sig < NDR_SIG_IOC_IP && d->ignore_dst.n > 0 &&
        ndr_cidrs_match(&d->ignore_dst, &a->dst)) {
        d->st.ignored[a->sig]++;
        return;
    }
    struct dedup_key k;
    memset(&k, 0, sizeof(k));
    k.src = ndr_addr(&a->src);
    k.sig = a->sig;
    k.disc = disc;
    uint64_t now = d->now_ns;
    bool created;
    struct dedup_val *v = ndr_tab_put(&d->dedup, &k, now, &created);
    if (v && !created && now - v->last_emit_ns < ms(d->cfg.dedup_ms)) {
        v->pending++;
        d->st.suppressed[a->sig]++;
        return;
    }
    if (v) {
        a->count = 1 + v->pending;
        v->pending = 0;
        v->last_emit_ns = now;
    }
    a->signature_id = info->sid;
    a->signature = info->name;
    a->category = info->category;
    if (a->severity == 0)
        a->severity = info->severity;
    a->mitre = info->mitre;
    if (a->last_ns == 0)
        a->last_ns = now;
    if (a->first_ns == 0)
        a->first_ns = a->last_ns;
    d->st.alerts[a->sig]++;
    if (sink)
        net_emit(sink, NET_REC_ALERT, a->last_ns, flow, pcap_cnt, a);
}

int
net_alert_eve(const struct net_alert *a, struct bn_buf *b)
{
    int rc = bn_buf_printf(b,
                           "\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":%u,"
                           "\"rev\":1,\"signature\":\"",
                           a->signature_id);
    if (!rc && a->signature)
        rc = bn_buf_json_escape(b, a->signature, strlen(a->signature));
    if (!rc)
        rc = bn_buf_puts(b, "\",\"category\":\"");
    if (!rc && a->category)
        rc = bn_buf_json_escape(b, a->category, strlen(a->category));
    if (!rc)
        rc = bn_buf_printf(b, "\",\"severity\":%u,\"metadata\":{", (unsigned)a->severity);
    if (!rc && a->mitre && a->mitre[0]) {
        rc = bn_buf_puts(b, "\"mitre_technique_id\":[\"");
        if (!rc)
            rc = bn_buf_json_escape(b, a->mitre, strlen(a->mitre));
        if (!rc)
            rc = bn_buf_puts(b, "\"]");
    }
    const struct ndr_sig_info *info =
        a->signature_id == NDR_SID_BASE + a->sig ? ndr_sig_info((enum ndr_sig)a->sig) : NULL;
    if (!rc && info)
        rc = bn_buf_printf(b, "%s\"bannin_detection\":[\"%s\"]", a->mitre && a->mitre[0] ? "," : "",
                           info->key);
    if (!rc)
        rc = bn_buf_printf(b, "},\"score\":%.1f,\"count\":%u,\"detail\":\"", a->score,
                           (unsigned)a->count);
    if (!rc)
        rc = bn_buf_json_escape(b, a->detail, strnlen(a->detail, sizeof(a->detail)));
    if (!rc)
        rc = bn_buf_puts(b, "\"}");
    return rc;
}
