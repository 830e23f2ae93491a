/*
 * app_ssh.c - SSH: the identification line of each side (RFC 4253 4.2; other lines before
 * it are allowed from the server) and the cleartext KEXINIT that follows (RFC 4253 7.1),
 * from which HASSH (client) and HASSHServer are computed
 * (https://github.com/salesforce/hassh): md5("kex;enc;mac;comp") over the client-to-server
 * lists for the client and the server-to-client lists for the server. Everything after the
 * key exchange is encrypted and ignored. One struct net_ssh_rec per flow, emitted when both
 * KEXINITs were seen or at flow end.
 */
#include <netinet/in.h>
#include <string.h>

#include "sensor/app_int.h"
#include "bannin/alloc.h"
#include "bannin/error.h"

#define SSH_PRE_LINES_MAX 32 /* lines a server may send before its identification */

enum sstate {
    S_BANNER = 0,
    S_PACKET,
    S_DONE,
};

struct sdir {
    enum sstate state;
    struct app_acc acc;
    unsigned pre_lines;
};

/*
 * The record and the name-lists (26 KB) exist only from the first identification line until
 * the record is emitted (both KEXINITs, or flow end): an SSH session that goes on for hours
 * keeps ~100 bytes of parser state.
 */
struct ssh_work {
    struct net_ssh_rec rec;
    /* name-lists of each side's KEXINIT, kept for negotiation */
    char lists[2][5][NET_SSH_HASSH_STR_MAX]; /* kex, hostkey, enc (own dir), mac, comp */
};

struct ssh_state {
    struct sdir d[2];
    struct ssh_work *w; /* NULL before the first identification line and once emitted */
    bool emitted;
};

/* The work area, allocated on first use; NULL once emitted or out of memory. */
static struct ssh_work *
ssh_work(struct ssh_state *st)
{
    if (st->w || st->emitted)
        return st->w;
    st->w = bn_calloc(1, sizeof(*st->w));
    if (!st->w)
        app_err(NET_APP_SSH, NET_APP_ERR_NOMEM);
    return st->w;
}

int
app_ssh_probe(const uint8_t *d, size_t n, enum net_dir dir)
{
    (void)dir;
    static const char s[] = "SSH-";
    size_t k = BN_MIN(n, sizeof(s) - 1);
    if (memcmp(d, s, k) != 0)
        return 0;
    return n >= sizeof(s) - 1 ? 1 : -1;
}

static void
banner(struct ssh_state *st, enum net_dir dir, const uint8_t *s, size_t n)
{
    struct ssh_work *w = ssh_work(st);
    if (!w)
        return;
    struct net_ssh_side *side = dir == NET_TOSERVER ? &w->rec.client : &w->rec.server;
    uint8_t *t = &w->rec.truncated;
    side->has_banner = 1;
    app_copy(side->banner, sizeof(side->banner), s, n, t);
    const uint8_t *p = s + 4, *e = s + n;
    const uint8_t *dash = memchr(p, '-', (size_t)(e - p));
    if (!dash) {
        app_copy(side->proto_version, sizeof(side->proto_version), p, (size_t)(e - p), t);
        app_err(NET_APP_SSH, NET_APP_ERR_MALFORMED);
        return;
    }
    app_copy(side->proto_version, sizeof(side->proto_version), p, (size_t)(dash - p), t);
    const uint8_t *sw = dash + 1, *sp = sw;
    while (sp < e && *sp != ' ')
        sp++;
    app_copy(side->software_version, sizeof(side->software_version), sw, (size_t)(sp - sw), t);
}

/* Reads a name-list (uint32 length + bytes) into dst; false if it runs off the payload. */
static bool
name_list(const uint8_t **p, const uint8_t *e, char *dst, size_t dsz, uint8_t *trunc)
{
    if (e - *p < 4)
        return false;
    size_t l = app_be32(*p);
    *p += 4;
    if ((size_t)(e - *p) < l)
        return false;
    app_copy(dst, dsz, *p, l, trunc);
    *p += l;
    return true;
}

/* The first entry of client list c that server list s also has (RFC 4253 7.1). */
static void
negotiate(const char *c, const char *s, char *dst, size_t dsz)
{
    dst[0] = '\0';
    while (*c) {
        size_t cl = strcspn(c, ",");
        const char *q = s;
        while (*q) {
            size_t ql = strcspn(q, ",");
            if (ql == cl && !memcmp(q, c, cl)) {
                app_copy(dst, dsz, c, cl, NULL);
                return;
            }
            q += ql + (q[ql] == ',');
        }
        c += cl + (c[cl] == ',');
    }
}

static void
kexinit(struct ssh_state *st, enum net_dir dir, const uint8_t *pl, size_t n)
{
    struct ssh_work *w = ssh_work(st);
    if (!w)
        return;
    struct net_ssh_side *side = dir == NET_TOSERVER ? &w->rec.client : &w->rec.server;
    char(*lists)[NET_SSH_HASSH_STR_MAX] = w->lists[dir];
    uint8_t *t = &w->rec.truncated;
    char all[10][NET_SSH_HASSH_STR_MAX / 2];
    const uint8_t *p = pl + 17, *e = pl + n; /* msg type + 16-byte cookie */
    if (n < 17) {
        app_err(NET_APP_SSH, NET_APP_ERR_MALFORMED);
        return;
    }
    for (int i = 0; i < 10; i++) {
        if (!name_list(&p, e, all[i], sizeof(all[i]), t)) {
            app_err(NET_APP_SSH, NET_APP_ERR_MALFORMED);
            return;
        }
    }
    /* this side's own direction: c2s lists for the client, s2c for the server */
    int o = dir == NET_TOSERVER ? 0 : 1;
    const char *kex = all[0], *enc = all[2 + o], *mac = all[4 + o], *comp = all[6 + o];
    size_t len = strlen(kex) + strlen(enc) + strlen(mac) + strlen(comp) + 3;
    if (len + 1 > sizeof(side->hassh_string)) {
        *t = 1;
        net_app_stats()->truncated_fields++;
        side->hassh_string[0] = side->hassh[0] = '\0';
    } else {
        char *h = side->hassh_string;
        size_t k = 0;
        const char *parts[4] = {kex, enc, mac, comp};
        for (int i = 0; i < 4; i++) {
            size_t l = strlen(parts[i]);
            memcpy(h + k, parts[i], l);
            k += l;
            if (i < 3)
                h[k++] = ';';
        }
        h[k] = '\0';
        app_md5_hex(h, k, side->hassh);
    }
    side->has_kexinit = 1;
    /* keep the c2s lists of both sides for the negotiated algorithms */
    app_copy(lists[0], NET_SSH_HASSH_STR_MAX, all[0], strlen(all[0]), NULL);
    app_copy(lists[1], NET_SSH_HASSH_STR_MAX, all[1], strlen(all[1]), NULL);
    app_copy(lists[2], NET_SSH_HASSH_STR_MAX, all[2], strlen(all[2]), NULL);
    app_copy(lists[3], NET_SSH_HASSH_STR_MAX, all[4], strlen(all[4]), NULL);
    app_copy(lists[4], NET_SSH_HASSH_STR_MAX, all[6], strlen(all[6]), NULL);
}

static void
ssh_finish(struct ssh_state *st, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct ssh_work *w = st->w;
    if (st->emitted || !w || !(w->rec.client.has_banner || w->rec.server.has_banner))
        return;
    st->emitted = true;
    struct net_ssh_rec *r = &w->rec;
    if (r->client.has_kexinit && r->server.has_kexinit) {
        char(*c)[NET_SSH_HASSH_STR_MAX] = w->lists[NET_TOSERVER];
        char(*s)[NET_SSH_HASSH_STR_MAX] = w->lists[NET_TOCLIENT];
        negotiate(c[0], s[0], r->kex_alg, sizeof(r->kex_alg));
        negotiate(c[1], s[1], r->host_key_alg, sizeof(r->host_key_alg));
        negotiate(c[2], s[2], r->cipher_alg, sizeof(r->cipher_alg));
        negotiate(c[3], s[3], r->mac_alg, sizeof(r->mac_alg));
        negotiate(c[4], s[4], r->compression_alg, sizeof(r->compression_alg));
    }
    app_emit(sink, NET_REC_SSH, ts_ns, f, r);
    bn_free(w); /* a record body lives only during the emit */
    st->w = NULL;
}

static void
ssh_data(void *vst, struct net_flow *f, enum net_dir dir, const uint8_t *d, size_t n,
         uint64_t ts_ns, struct net_sink *sink)
{
    struct ssh_state *st = vst;
    if (!st || (unsigned)dir > 1)
        return;
    struct sdir *sd = &st->d[dir];
    while (n > 0 && sd->state != S_DONE) {
        if (sd->state == S_BANNER) {
            const uint8_t *lf = memchr(d, '\n', n);
            size_t take = lf ? (size_t)(lf - d) + 1 : n;
            if (sd->acc.len + take > NET_SSH_BANNER_MAX + 1) {
                app_err(NET_APP_SSH, NET_APP_ERR_LIMIT);
                sd->state = S_DONE;
                return;
            }
            if (app_acc_add(&sd->acc, d, take, NET_SSH_BANNER_MAX + 1) != 0) {
                app_err(NET_APP_SSH, NET_APP_ERR_NOMEM);
                sd->state = S_DONE;
                return;
            }
            d += take;
            n -= take;
            if (!lf)
                return;
            size_t l = sd->acc.len - 1;
            if (l && sd->acc.p[l - 1] == '\r')
                l--;
            if (l >= 4 && !memcmp(sd->acc.p, "SSH-", 4)) {
                banner(st, dir, sd->acc.p, l);
                sd->state = S_PACKET;
            } else if (++sd->pre_lines > SSH_PRE_LINES_MAX || dir == NET_TOSERVER) {
                app_err(NET_APP_SSH, NET_APP_ERR_UNEXPECTED);
                sd->state = S_DONE;
            }
            sd->acc.len = 0;
            continue;
        }
        /* S_PACKET: the first binary packet should be KEXINIT */
        if (app_acc_add(&sd->acc, d, n, NET_SSH_PKT_MAX + 4) != 0) {
            app_err(NET_APP_SSH, NET_APP_ERR_LIMIT);
            sd->state = S_DONE;
            return;
        }
        n = 0;
        if (sd->acc.len < 6)
            return;
        size_t plen = app_be32(sd->acc.p);
        if (plen > NET_SSH_PKT_MAX || plen < 2) {
            app_err(NET_APP_SSH, NET_APP_ERR_MALFORMED);
            sd->state = S_DONE;
            break;
        }
        if (sd->acc.len < 4 + plen)
            return;
        size_t pad = sd->acc.p[4];
        if (pad + 1 > plen) {
            app_err(NET_APP_SSH, NET_APP_ERR_MALFORMED);
            sd->state = S_DONE;
            break;
        }
        const uint8_t *pl = sd->acc.p + 5;
        size_t pn = plen - pad - 1;
        if (pn >= 1 && pl[0] == 20)
            kexinit(st, dir, pl, pn);
        else
            app_err(NET_APP_SSH, NET_APP_ERR_UNEXPECTED);
        sd->state = S_DONE;
    }
    if (sd->state == S_DONE)
        app_acc_release(&sd->acc);
    if (st->d[0].state == S_DONE && st->d[1].state == S_DONE)
        ssh_finish(st, f, ts_ns, sink);
}

static void *
ssh_open(struct net_flow *f)
{
    (void)f;
    struct ssh_state *st = net_slab_state_new(sizeof(*st));
    if (!st)
        app_err(NET_APP_SSH, NET_APP_ERR_NOMEM);
    return st;
}

static void
ssh_gap(void *vst, struct net_flow *f, enum net_dir dir, size_t n)
{
    struct ssh_state *st = vst;
    (void)f, (void)n;
    if (!st || (unsigned)dir > 1 || st->d[dir].state == S_DONE)
        return;
    app_err(NET_APP_SSH, NET_APP_ERR_GAP);
    st->d[dir].state = S_DONE;
    app_acc_release(&st->d[dir].acc);
}

static void
ssh_close(void *vst, struct net_flow *f, uint64_t ts_ns, struct net_sink *sink)
{
    struct ssh_state *st = vst;
    if (!st)
        return;
    ssh_finish(st, f, ts_ns, sink);
    for (int i = 0; i < 2; i++)
        app_acc_release(&st->d[i].acc);
    bn_free(st->w);
    net_slab_state_free(st, sizeof(*st));
}

const struct net_app_parser net_app_ssh = {
    .name = "ssh",
    .app = NET_APP_SSH,
    .proto = IPPROTO_TCP,
    .ports = {22, 0, 0, 0},
    .probe = app_ssh_probe,
    .open = ssh_open,
    .data = ssh_data,
    .gap = ssh_gap,
    .close = ssh_close,
};
