/*
 * client.c - the agent's side of the link (include/bannin/wire.h): a blocking TLS 1.3
 * connection with bounded socket timeouts, enrolment (keys, CSR, CA pinning by the token's
 * fingerprint, files in the link directory) and session opening (HELLO -> WELCOME).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "bannin/alloc.h"
#include "bannin/buf.h"
#include "bannin/error.h"
#include "bannin/log.h"
#include "bannin/wire.h"
#include "bannin/hex.h"

struct bn_wire_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    struct bn_buf in;
    size_t consumed; /* bytes of in handed out by the last recv */
};

static int seterr(char *err, size_t errsz, int code, const char *fmt, ...) BN_PRINTF(4, 5);

static int
seterr(char *err, size_t errsz, int code, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const char *
ossl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_get_error();
    if (!e)
        snprintf(buf, size, "connection closed");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

static int
split_hostport(const char *hp, char *host, size_t hsize, char *port, size_t psize)
{
    const char *colon;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb[1] != ':')
            return BN_EINVAL;
        snprintf(host, hsize, "%.*s", (int)(rb - hp - 1), hp + 1);
        colon = rb + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon)
            return BN_EINVAL;
        snprintf(host, hsize, "%.*s", (int)(colon - hp), hp);
    }
    snprintf(port, psize, "%s", colon + 1);
    return host[0] && port[0] ? 0 : BN_EINVAL;
}

static int
tcp_connect(const char *hp, int timeout_ms, char *err, size_t errsz)
{
    char host[256], port[16];
    if (split_hostport(hp, host, sizeof(host), port, sizeof(port)) != 0)
        return seterr(err, errsz, BN_EINVAL, "server '%s' is not HOST:PORT", hp);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return seterr(err, errsz, BN_ENOTFOUND, "cannot resolve '%s': %s", host, gai_strerror(g));
    int fd = -1, rc = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            int pr = poll(&p, 1, timeout_ms);
            if (pr == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && !soerr) {
                rc = 0;
                break;
            }
            rc = pr == 0 ? -ETIMEDOUT : soerr ? -soerr : -errno;
        } else {
            rc = -errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc)
        return seterr(err, errsz, rc, "cannot connect to %s: %s", hp, strerror(-rc));
    /* blocking from here on, every call bounded by the socket timeouts */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Enrolment: the server's chain must hold the pinned CA, and it must have signed the leaf. */
static int
check_pin(SSL *ssl, const char *pin, char *err, size_t errsz)
{
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    if (!leaf || !chain)
        return seterr(err, errsz, BN_EDENIED, "server sent no certificate");
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *x = sk_X509_value(chain, i);
        unsigned char md[32];
        unsigned int n = 0;
        char fp[65];
        if (!X509_digest(x, EVP_sha256(), md, &n) || n != 32)
            continue;
        bn_hex_encode(md, 32, fp);
        if (strcasecmp(fp, pin) != 0)
            continue;
        EVP_PKEY *capub = X509_get0_pubkey(x);
        if (capub && X509_verify(leaf, capub) == 1 && X509_check_issued(x, leaf) == X509_V_OK &&
            X509_cmp_current_time(X509_get0_notAfter(leaf)) > 0)
            return 0;
        ERR_clear_error();
        return seterr(err, errsz, BN_EDENIED,
                      "server certificate is not signed by the pinned CA %.16s...", pin);
    }
    return seterr(err, errsz, BN_EDENIED,
                  "server is not the manager the token was made for (CA %.16s... not in its "
                  "chain)",
                  pin);
}

int
bn_wire_connect(struct bn_wire_conn **out, const char *hostport, const struct bn_wire_tls *t,
                int timeout_ms, char *err, size_t errsz)
{
    char why[256];
    *out = NULL;
    struct bn_wire_conn *c = bn_calloc(1, sizeof(*c));
    if (!c)
        return BN_ENOMEM;
    c->fd = -1;
    bn_buf_init(&c->in, BN_WIRE_HDR + BN_WIRE_FRAME_MAX + (64u << 10));
    int rc = 0;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) {
        rc = seterr(err, errsz, BN_EINTERNAL, "TLS: %s", ossl_reason(why, sizeof(why)));
        goto fail;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(c->ctx, TLS1_3_VERSION);
    if (t->ca_file) {
        if (SSL_CTX_load_verify_locations(c->ctx, t->ca_file, NULL) != 1) {
            rc = seterr(err, errsz, BN_EIO, "cannot load CA '%s': %s", t->ca_file,
                        ossl_reason(why, sizeof(why)));
            goto fail;
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    } else if (t->pin_fp) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL); /* checked by pin below */
    } else {
        rc = seterr(err, errsz, BN_EINVAL, "no way to authenticate the server (CA or pin)");
        goto fail;
    }
    if (t->cert_file &&
        (SSL_CTX_use_certificate_file(c->ctx, t->cert_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_use_PrivateKey_file(c->ctx, t->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(c->ctx) != 1)) {
        rc = seterr(err, errsz, BN_EIO, "cannot load the agent certificate '%s': %s", t->cert_file,
                    ossl_reason(why, sizeof(why)));
        goto fail;
    }
    c->fd = tcp_connect(hostport, timeout_ms, err, errsz);
    if (c->fd < 0) {
        rc = c->fd;
        c->fd = -1;
        goto fail;
    }
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        rc = seterr(err, errsz, BN_EINTERNAL, "TLS: %s", ossl_reason(why, sizeof(why)));
        goto fail;
    }
    if (SSL_connect(c->ssl) != 1) {
        long vr = SSL_get_verify_result(c->ssl);
        if (vr != X509_V_OK)
            rc = seterr(err, errsz, BN_EDENIED, "TLS handshake with %s: server certificate: %s",
                        hostport, X509_verify_cert_error_string(vr));
        else
            rc = seterr(err, errsz, BN_EPROTO, "TLS handshake with %s: %s", hostport,
                        ossl_reason(why, sizeof(why)));
        ERR_clear_error();
        goto fail;
    }
    if (t->pin_fp && (rc = check_pin(c->ssl, t->pin_fp, err, errsz)) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    bn_wire_close(c);
    return rc;
}

void
bn_wire_close(struct bn_wire_conn *c)
{
    if (!c)
        return;
    if (c->ssl)
        SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    bn_buf_release(&c->in);
    ERR_clear_error();
    bn_free(c);
}

int
bn_wire_fd(const struct bn_wire_conn *c)
{
    return c->fd;
}

int
bn_wire_send(struct bn_wire_conn *c, const void *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        size_t w = 0;
        if (SSL_write_ex(c->ssl, (const char *)p + off, n - off, &w) != 1) {
            ERR_clear_error();
            return BN_EIO;
        }
        off += w;
    }
    return 0;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
bn_wire_recv(struct bn_wire_conn *c, int timeout_ms, int *type, const uint8_t **payload,
             uint32_t *len, struct bn_wire_err *e)
{
    *type = 0;
    *payload = NULL;
    *len = 0;
    if (c->consumed) {
        memmove(c->in.p, c->in.p + c->consumed, c->in.len - c->consumed);
        c->in.len -= c->consumed;
        c->consumed = 0;
    }
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (c->in.len >= BN_WIRE_HDR) {
            int rc = bn_wire_hdr_decode((const uint8_t *)c->in.p, c->in.len, type, len, e);
            if (rc)
                return rc;
            if (c->in.len - BN_WIRE_HDR >= *len) {
                *payload = (const uint8_t *)c->in.p + BN_WIRE_HDR;
                c->consumed = BN_WIRE_HDR + *len;
                return 0;
            }
        }
        if (!SSL_pending(c->ssl)) {
            int left = (int)(deadline - mono_ms());
            if (left < 0)
                left = 0;
            struct pollfd p = {c->fd, POLLIN, 0};
            int pr = poll(&p, 1, left);
            if (pr == 0)
                return BN_AGAIN;
            if (pr < 0 && errno != EINTR)
                return BN_EIO;
            if (pr < 0)
                continue;
        }
        if (bn_buf_reserve(&c->in, 16384) != 0)
            return BN_ETOOBIG;
        size_t got = 0;
        if (SSL_read_ex(c->ssl, c->in.p + c->in.len, 16384, &got) != 1) {
            int err = SSL_get_error(c->ssl, 0);
            ERR_clear_error();
            if (err == SSL_ERROR_ZERO_RETURN)
                return BN_EOF;
            if (err == SSL_ERROR_WANT_READ)
                continue;
            if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
                return BN_AGAIN;
            return err == SSL_ERROR_SYSCALL && errno == 0 ? BN_EOF : BN_EIO;
        }
        c->in.len += got;
    }
}

/* ---- enrolment ------------------------------------------------------------------------- */

static int
write_file(const char *dir, const char *name, const void *p, size_t n, mode_t mode)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, p, n);
    int rc = w == (ssize_t)n ? 0 : w < 0 ? -errno : BN_EIO;
    if (!rc && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    if (!rc && rename(tmp, path) != 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* Reads a whole small file into buf (NUL-terminated). Returns its length or -errno. */
static ssize_t
read_file(const char *dir, const char *name, char *buf, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, size - 1);
    if (n < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    close(fd);
    buf[n] = '\0';
    return n;
}

static char *
make_csr(EVP_PKEY *key, const char *cn)
{
    X509_REQ *req = X509_REQ_new();
    char *out = NULL;
    if (!req)
        return NULL;
    X509_NAME *name = X509_REQ_get_subject_name(req);
    BIO *b = NULL;
    if (X509_REQ_set_version(req, 0) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
                                   0) &&
        X509_REQ_set_pubkey(req, key) && X509_REQ_sign(req, key, EVP_sha256()) > 0 &&
        (b = BIO_new(BIO_s_mem())) && PEM_write_bio_X509_REQ(b, req)) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        if (n > 0)
            out = bn_strndup(p, (size_t)n);
    }
    BIO_free(b);
    X509_REQ_free(req);
    return out;
}

/* Receives one frame, turning the manager's ERROR into err. */
static int
expect(struct bn_wire_conn *c, int want, int timeout_ms, const uint8_t **p, uint32_t *len,
       char *err, size_t errsz)
{
    int type;
    struct bn_wire_err e;
    int rc = bn_wire_recv(c, timeout_ms, &type, p, len, &e);
    if (rc == BN_AGAIN)
        return seterr(err, errsz, -ETIMEDOUT, "no answer from the manager in %d ms", timeout_ms);
    if (rc == BN_EOF)
        return seterr(err, errsz, BN_EIO, "the manager closed the connection");
    if (rc == BN_EPROTO || rc == BN_ETOOBIG)
        return seterr(err, errsz, rc, "%s", e.msg);
    if (rc)
        return seterr(err, errsz, rc, "receiving from the manager: %s", bn_strerror(rc));
    if (type == BN_WIRE_ERROR) {
        struct bn_wire_error m;
        if (bn_wire_error_decode(*p, *len, &m, &e) != 0)
            return seterr(err, errsz, BN_EPROTO, "%s", e.msg);
        int code = m.code ? -(int)m.code : BN_EDENIED;
        if (code != BN_EDENIED && code != BN_EPROTO && code != BN_ETOOBIG && code != BN_EIO)
            code = BN_EDENIED;
        return seterr(err, errsz, code, "manager refused: %.*s", (int)m.msg.len, m.msg.p);
    }
    if (type != want)
        return seterr(err, errsz, BN_EPROTO, "manager sent %s where %s was expected",
                      bn_wire_type_name(type), bn_wire_type_name(want));
    return 0;
}

int
bn_wire_enroll_run(const char *hostport, const char *token, const char *dir, const char *hostname,
                   uint64_t heartbeat_ms, int timeout_ms, struct bn_wire_ident *id, char *err,
                   size_t errsz)
{
    memset(id, 0, sizeof(*id));
    /* bnt1.<32 hex>.<64 hex CA fingerprint> */
    size_t tl = strlen(token);
    if (tl != 102 || strncmp(token, "bnt1.", 5) != 0 || token[37] != '.')
        return seterr(err, errsz, BN_EINVAL,
                      "token is not in the form bnt1.<secret>.<ca sha256> (as 'bannin tokens "
                      "create' prints it)");
    char pin[65];
    snprintf(pin, sizeof(pin), "%s", token + 38);
    if (sodium_init() < 0)
        return seterr(err, errsz, BN_EINTERNAL, "libsodium cannot start");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return seterr(err, errsz, -errno, "cannot create '%s': %s", dir, strerror(errno));

    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *csr = NULL;
    struct bn_wire_conn *c = NULL;
    struct bn_buf b;
    bn_buf_init(&b, BN_WIRE_HDR + BN_WIRE_FRAME_MAX);
    int rc;
    uint8_t pk[BN_WIRE_PK], sk[BN_WIRE_SK];
    crypto_sign_keypair(pk, sk);
    if (!key || !(csr = make_csr(key, hostname))) {
        rc = seterr(err, errsz, BN_EINTERNAL, "cannot make the agent key and CSR");
        goto out;
    }
    struct bn_wire_tls t = {NULL, pin, NULL, NULL};
    if ((rc = bn_wire_connect(&c, hostport, &t, timeout_ms, err, errsz)) != 0)
        goto out;
    struct bn_wire_enroll m = {{token, tl},
                               {csr, strlen(csr)},
                               pk,
                               {hostname, strlen(hostname)},
                               {BN_VERSION, strlen(BN_VERSION)},
                               heartbeat_ms};
    if ((rc = bn_wire_enroll_encode(&b, &m)) != 0 || (rc = bn_wire_send(c, b.p, b.len)) != 0) {
        rc = seterr(err, errsz, rc, "cannot send the enrolment request: %s", bn_strerror(rc));
        goto out;
    }
    const uint8_t *p;
    uint32_t len;
    if ((rc = expect(c, BN_WIRE_ENROLL_OK, timeout_ms, &p, &len, err, errsz)) != 0)
        goto out;
    struct bn_wire_enroll_ok ok;
    struct bn_wire_err e;
    if ((rc = bn_wire_enroll_ok_decode(p, len, &ok, &e)) != 0) {
        rc = seterr(err, errsz, rc, "%s", e.msg);
        goto out;
    }
    if (ok.uid.len >= sizeof(id->uid)) {
        rc = seterr(err, errsz, BN_EPROTO, "agent uid from the manager is too long");
        goto out;
    }
    /* the files: key first, enrolment last (its presence means a complete enrolment) */
    BIO *kb = BIO_new(BIO_s_mem());
    char *kp = NULL;
    long kn = kb && PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL)
                  ? BIO_get_mem_data(kb, &kp)
                  : 0;
    char skhex[2 * BN_WIRE_SK + 2];
    bn_hex_encode(sk, BN_WIRE_SK, skhex);
    size_t skl = strlen(skhex);
    skhex[skl] = '\n';
    char info[1024];
    int il = snprintf(info, sizeof(info), "server=%s\nuid=%.*s\ntenant=%llu\nagent=%llu\n",
                      hostport, (int)ok.uid.len, ok.uid.p, (unsigned long long)ok.tenant_id,
                      (unsigned long long)ok.agent_id);
    rc = kn > 0 ? write_file(dir, "agent.key", kp, (size_t)kn, 0600) : BN_EINTERNAL;
    BIO_free(kb);
    if (!rc)
        rc = write_file(dir, "sign.key", skhex, skl + 1, 0600);
    if (!rc)
        rc = write_file(dir, "agent.crt", ok.cert_pem.p, ok.cert_pem.len, 0644);
    if (!rc)
        rc = write_file(dir, "server-ca.crt", ok.server_ca_pem.p, ok.server_ca_pem.len, 0644);
    if (!rc)
        rc = write_file(dir, "enrolment", info, (size_t)il, 0644);
    if (rc) {
        rc = seterr(err, errsz, rc, "cannot write the enrolment into '%s': %s", dir,
                    bn_strerror(rc));
        goto out;
    }
    rc = bn_wire_ident_load(dir, id, err, errsz);
out:
    sodium_memzero(sk, sizeof(sk));
    bn_buf_release(&b);
    bn_wire_close(c);
    bn_free(csr);
    EVP_PKEY_free(key);
    return rc;
}

int
bn_wire_enroll_main(const struct bn_wire_enroll_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},
        {"dir", required_argument, NULL, 'd'},
        {"host", required_argument, NULL, 'H'},
        {"heartbeat", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *server = NULL, *token = NULL, *dir = cli->dir, *host = NULL;
    long long hb = cli->heartbeat_ms;
    char hostbuf[256];
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 's': server = optarg; break;
        case 't': token = optarg; break;
        case 'd': dir = optarg; break;
        case 'H': host = optarg; break;
        case 'b': {
            char *end;
            hb = strtoll(optarg, &end, 10);
            if (*end || hb < 100 || hb > 86400000) {
                fprintf(stderr, "%s enroll: bad --heartbeat '%s' (100..86400000 ms)\n", cli->prog,
                        optarg);
                return 2;
            }
            break;
        }
        case 'h': cli->usage(0); return 0;
        default: cli->usage(1); return 2;
        }
    }
    if (!server || !token || optind < argc) {
        fprintf(stderr, "%s enroll: --server HOST:PORT and --token TOKEN are needed\n", cli->prog);
        cli->usage(1);
        return 2;
    }
    if (!host) {
        if (gethostname(hostbuf, sizeof(hostbuf) - 1) != 0)
            snprintf(hostbuf, sizeof(hostbuf), "%s", cli->host_fallback);
        hostbuf[sizeof(hostbuf) - 1] = '\0';
        host = hostbuf;
    }
    struct bn_wire_ident id;
    char err[512];
    int rc =
        bn_wire_enroll_run(server, token, dir, host, (uint64_t)hb, 15000, &id, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "%s enroll: %s\n", cli->prog, err);
        return 1;
    }
    printf("enrolled as %s %lld (uid %s) of tenant %lld with %s; link directory %s\n", cli->role,
           (long long)id.agent_id, id.uid, (long long)id.tenant_id, server, dir);
    sodium_memzero(id.sk, sizeof(id.sk));
    return 0;
}

int
bn_wire_ident_load(const char *dir, struct bn_wire_ident *id, char *err, size_t errsz)
{
    char buf[2048];
    memset(id, 0, sizeof(*id));
    ssize_t n = read_file(dir, "enrolment", buf, sizeof(buf));
    if (n == -ENOENT)
        return seterr(err, errsz, BN_ENOTFOUND,
                      "'%s' holds no enrolment (run bannin-agent "
                      "enroll)",
                      dir);
    if (n < 0)
        return seterr(err, errsz, (int)n, "cannot read '%s/enrolment': %s", dir, strerror((int)-n));
    snprintf(id->dir, sizeof(id->dir), "%s", dir);
    for (char *line = buf, *nl; line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (!strcmp(line, "server"))
            snprintf(id->server, sizeof(id->server), "%s", v);
        else if (!strcmp(line, "uid"))
            snprintf(id->uid, sizeof(id->uid), "%s", v);
        else if (!strcmp(line, "tenant"))
            id->tenant_id = strtoll(v, NULL, 10);
        else if (!strcmp(line, "agent"))
            id->agent_id = strtoll(v, NULL, 10);
    }
    n = read_file(dir, "sign.key", buf, sizeof(buf));
    if (n < 0)
        return seterr(err, errsz, (int)n, "cannot read '%s/sign.key': %s", dir, strerror((int)-n));
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        n--;
    if (!id->server[0] || !id->uid[0] ||
        bn_hex_decode(buf, (size_t)n, id->sk, BN_WIRE_SK, NULL) != 0)
        return seterr(err, errsz, BN_ECORRUPT, "enrolment in '%s' is incomplete or damaged", dir);
    sodium_memzero(buf, sizeof(buf));
    if (sodium_init() < 0)
        return BN_EINTERNAL;
    crypto_sign_ed25519_sk_to_pk(id->pk, id->sk);
    return 0;
}

int
bn_wire_session_open(struct bn_wire_conn **out, const struct bn_wire_ident *id, const char *server,
                     const struct bn_wire_hello *hello, int timeout_ms, uint8_t *nonce,
                     uint64_t *last_seq, char *err, size_t errsz)
{
    char ca[4096], crt[4096], key[4096];
    snprintf(ca, sizeof(ca), "%s/server-ca.crt", id->dir);
    snprintf(crt, sizeof(crt), "%s/agent.crt", id->dir);
    snprintf(key, sizeof(key), "%s/agent.key", id->dir);
    struct bn_wire_tls t = {ca, NULL, crt, key};
    struct bn_wire_conn *c = NULL;
    *out = NULL;
    int rc =
        bn_wire_connect(&c, server && *server ? server : id->server, &t, timeout_ms, err, errsz);
    if (rc)
        return rc;
    struct bn_buf b;
    bn_buf_init(&b, 4096);
    rc = bn_wire_hello_encode(&b, hello);
    if (!rc)
        rc = bn_wire_send(c, b.p, b.len);
    bn_buf_release(&b);
    if (rc) {
        bn_wire_close(c);
        return seterr(err, errsz, rc, "cannot send hello: %s", bn_strerror(rc));
    }
    const uint8_t *p;
    uint32_t len;
    if ((rc = expect(c, BN_WIRE_WELCOME, timeout_ms, &p, &len, err, errsz)) != 0) {
        bn_wire_close(c);
        return rc;
    }
    struct bn_wire_welcome w;
    struct bn_wire_err e;
    if ((rc = bn_wire_welcome_decode(p, len, &w, &e)) != 0) {
        bn_wire_close(c);
        return seterr(err, errsz, rc, "%s", e.msg);
    }
    memcpy(nonce, w.nonce, BN_WIRE_NONCE);
    *last_seq = w.last_seq;
    *out = c;
    return 0;
}
