/*
 * test_app_ssh.c - the SSH parser: identification lines of both sides (with lines before the
 * server's), KEXINIT -> HASSH / HASSHServer (hashes from an independent MD5), negotiated
 * algorithms for Zeek, segmentation, limits and hostile packets. Also the content probes of
 * the identified-only protocols (SMB, RDP, SMTP, FTP), port hints and the stats JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit/sensor/app_test.h"

#define CLI_HASSH_STR                                                                              \
    "curve25519-sha256,diffie-hellman-group14-sha256;aes128-ctr,aes256-gcm@openssh.com;"           \
    "hmac-sha2-256;none,zlib@openssh.com"
#define CLI_HASSH "7b3f76e580e44aea1e396d8af55a8228" /* python3 hashlib.md5 */
#define SRV_HASSH_STR                                                                              \
    "curve25519-sha256;aes256-gcm@openssh.com,aes128-ctr;hmac-sha2-512,hmac-sha2-256;none"
#define SRV_HASSH "6366fa3d29b08bc22455979d272a023f"

static void
name_list(struct at_bytes *m, const char *s)
{
    at_u32(m, (uint32_t)strlen(s));
    at_str_bytes(m, s);
}

/* A binary packet carrying KEXINIT with the ten name-lists. */
static void
kexinit(struct at_bytes *m, const char *const lists[10])
{
    struct at_bytes p;
    p.n = 0;
    at_u8(&p, 20);
    for (int i = 0; i < 16; i++)
        at_u8(&p, (unsigned)i);
    for (int i = 0; i < 10; i++)
        name_list(&p, lists[i]);
    at_u8(&p, 0);
    at_u32(&p, 0);
    unsigned pad = 8 - ((p.n + 5) % 8) + 4;
    at_u32(m, (uint32_t)(p.n + pad + 1));
    at_u8(m, pad);
    at_put(m, p.b, p.n);
    for (unsigned i = 0; i < pad; i++)
        at_u8(m, 0);
}

static const char *const cli_lists[10] = {
    "curve25519-sha256,diffie-hellman-group14-sha256",
    "ssh-ed25519,rsa-sha2-512",
    "aes128-ctr,aes256-gcm@openssh.com",
    "aes128-ctr,aes256-gcm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-256",
    "none,zlib@openssh.com",
    "none,zlib@openssh.com",
    "",
    "",
};
static const char *const srv_lists[10] = {
    "curve25519-sha256",
    "rsa-sha2-512,ssh-ed25519",
    "aes256-gcm@openssh.com,aes128-ctr",
    "aes256-gcm@openssh.com,aes128-ctr",
    "hmac-sha2-512,hmac-sha2-256",
    "hmac-sha2-512,hmac-sha2-256",
    "none",
    "none",
    "",
    "",
};

static void
session(struct at_run *r, size_t step)
{
    struct at_bytes c, s;
    c.n = s.n = 0;
    at_str_bytes(&c, "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u1\r\n");
    kexinit(&c, cli_lists);
    at_str_bytes(&s, "Welcome\r\nSSH-2.0-OpenSSH_9.2p1\r\n");
    kexinit(&s, srv_lists);
    at_feed_steps(r, NET_TOSERVER, c.b, c.n, step);
    at_feed_steps(r, NET_TOCLIENT, s.b, s.n, step);
}

static void
test_session(void **state)
{
    (void)state;
    at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
    session(&run, 1u << 20);
    assert_int_equal(run.sink.n, 1); /* both KEXINITs seen: reported without waiting */
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "ssh.client.proto_version"), "2.0");
    assert_string_equal(at_str(e, "ssh.client.software_version"), "OpenSSH_8.4p1");
    assert_string_equal(at_str(e, "ssh.server.software_version"), "OpenSSH_9.2p1");
    assert_string_equal(at_str(e, "ssh.client.hassh.string"), CLI_HASSH_STR);
    assert_string_equal(at_str(e, "ssh.client.hassh.hash"), CLI_HASSH);
    assert_string_equal(at_str(e, "ssh.server.hassh.string"), SRV_HASSH_STR);
    assert_string_equal(at_str(e, "ssh.server.hassh.hash"), SRV_HASSH);
    const char *z = run.sink.zeek[0];
    assert_string_equal(at_str(z, "_path"), "ssh");
    assert_int_equal(at_int(z, "version"), 2);
    assert_string_equal(at_str(z, "client"), "SSH-2.0-OpenSSH_8.4p1 Debian-5+deb11u1");
    assert_string_equal(at_str(z, "server"), "SSH-2.0-OpenSSH_9.2p1");
    assert_string_equal(at_str(z, "kex_alg"), "curve25519-sha256");
    assert_string_equal(at_str(z, "host_key_alg"), "ssh-ed25519");
    assert_string_equal(at_str(z, "cipher_alg"), "aes128-ctr");
    assert_string_equal(at_str(z, "mac_alg"), "hmac-sha2-256");
    assert_string_equal(at_str(z, "compression_alg"), "none");
    assert_string_equal(at_str(z, "hassh"), CLI_HASSH);
    assert_string_equal(at_str(z, "hasshServer"), SRV_HASSH);

    char *whole = strdup(e);
    for (size_t step = 1; step < 12; step += 5) {
        struct at_run r2;
        at_open(&r2, &net_app_ssh, IPPROTO_TCP, 22);
        session(&r2, step);
        assert_int_equal(r2.sink.n, 1);
        assert_string_equal(r2.sink.eve[0], whole);
        at_done(&r2);
    }
    free(whole);
}

static void
test_banners_only(void **state)
{
    (void)state;
    at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
    at_feed(&run, NET_TOCLIENT, "SSH-1.99-Cisco-1.25\r\n", 21);
    at_feed(&run, NET_TOSERVER, "SSH-2.0-PuTTY_Release_0.78\n", 27);
    assert_int_equal(run.sink.n, 0);
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    const char *e = run.sink.eve[0];
    assert_string_equal(at_str(e, "ssh.server.proto_version"), "1.99");
    assert_string_equal(at_str(e, "ssh.client.software_version"), "PuTTY_Release_0.78");
    assert_false(at_has(e, "ssh.client.hassh"));
    assert_int_equal(at_int(run.sink.zeek[0], "version"), 2);
}

static void
test_hostile(void **state)
{
    (void)state;
    struct net_app_stats *st = net_app_stats();
    uint64_t lim = st->errors[NET_APP_SSH][NET_APP_ERR_LIMIT];
    uint64_t mal = st->errors[NET_APP_SSH][NET_APP_ERR_MALFORMED];

    /* an identification line without end */
    char big[600];
    memset(big, 'x', sizeof(big));
    memcpy(big, "SSH-2.0-", 8);
    at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
    at_feed(&run, NET_TOSERVER, big, sizeof(big));
    assert_int_equal(st->errors[NET_APP_SSH][NET_APP_ERR_LIMIT], lim + 1);
    at_done(&run);

    /* a packet length of 4 GB, and a KEXINIT whose name-list runs off the packet */
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 4, 20, 0, 0, 0};
    at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
    at_feed(&run, NET_TOSERVER, "SSH-2.0-x\r\n", 11);
    at_feed(&run, NET_TOSERVER, huge, sizeof(huge));
    assert_int_equal(st->errors[NET_APP_SSH][NET_APP_ERR_MALFORMED], mal + 1);
    at_done(&run);

    struct at_bytes k;
    k.n = 0;
    kexinit(&k, cli_lists);
    k.b[4 + 1 + 17 + 2] = 0xff; /* first name-list length: 65327 */
    at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
    at_feed(&run, NET_TOSERVER, "SSH-2.0-x\r\n", 11);
    at_feed(&run, NET_TOSERVER, k.b, k.n);
    at_close(&run);
    assert_int_equal(st->errors[NET_APP_SSH][NET_APP_ERR_MALFORMED], mal + 2);
    assert_false(at_has(run.sink.eve[0], "ssh.client.hassh"));
    at_done(&run);

    /* every prefix of a client stream */
    struct at_bytes c;
    c.n = 0;
    at_str_bytes(&c, "SSH-2.0-OpenSSH_8.4\r\n");
    kexinit(&c, cli_lists);
    for (size_t n = 0; n < c.n; n += 3) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, c.b, n);
        at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
        at_feed(&run, NET_TOSERVER, copy, n);
        at_done(&run);
        free(copy);
    }
}

static void
test_ident_probes(void **state)
{
    (void)state;
    static const uint8_t smb1[] = {0, 0, 0, 0x2f, 0xff, 'S', 'M', 'B', 0x72};
    static const uint8_t smb2[] = {0, 0, 0, 0x40, 0xfe, 'S', 'M', 'B', 0x40};
    static const uint8_t notsmb[] = {0, 0, 0, 0x40, 0xfe, 'X', 'M', 'B', 0x40};
    assert_int_equal(app_probe_smb(smb1, sizeof(smb1), NET_TOSERVER), 1);
    assert_int_equal(app_probe_smb(smb2, sizeof(smb2), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_smb(notsmb, sizeof(notsmb), NET_TOSERVER), 0);
    assert_int_equal(app_probe_smb(smb1, 4, NET_TOSERVER), -1);
    uint8_t nbss[72] = {0x81, 0, 0, 68};
    assert_int_equal(app_probe_smb(nbss, sizeof(nbss), NET_TOSERVER), 1);
    static const uint8_t nbss_ok[4] = {0x82, 0, 0, 0};
    assert_int_equal(app_probe_smb(nbss_ok, sizeof(nbss_ok), NET_TOCLIENT), 1);
    nbss[3] = 67;
    assert_int_equal(app_probe_smb(nbss, sizeof(nbss), NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, smb2, sizeof(smb2), NET_TOSERVER), NET_APP_SMB);

    /* TPKT + X.224 Connection Request with an RDP cookie */
    static const uint8_t rdp_cr[] = {3, 0, 0, 0x2b, 0x26, 0xe0, 0, 0, 0, 0, 0, 'C', 'o', 'o'};
    static const uint8_t rdp_cc[] = {3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0};
    assert_int_equal(app_probe_rdp(rdp_cr, sizeof(rdp_cr), NET_TOSERVER), 1);
    assert_int_equal(app_probe_rdp(rdp_cc, sizeof(rdp_cc), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_rdp(rdp_cc, sizeof(rdp_cc), NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, rdp_cr, sizeof(rdp_cr), NET_TOSERVER),
                     NET_APP_RDP);

    static const char smtp_banner[] = "220 mx.example.com ESMTP Postfix\r\n";
    static const char ftp_banner[] = "220 ProFTPD 1.3.5 Server ready.\r\n";
    static const char neutral[] = "220 welcome\r\n";
    const uint8_t *sb = (const uint8_t *)smtp_banner, *fb = (const uint8_t *)ftp_banner;
    assert_int_equal(app_probe_smtp(sb, strlen(smtp_banner), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_ftp(sb, strlen(smtp_banner), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_ftp(fb, strlen(ftp_banner), NET_TOCLIENT), 1);
    assert_int_equal(app_probe_smtp(fb, strlen(ftp_banner), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_smtp(sb, 10, NET_TOCLIENT), -1); /* no end of line yet */
    assert_int_equal(app_probe_smtp((const uint8_t *)neutral, strlen(neutral), NET_TOCLIENT), 0);
    assert_int_equal(app_probe_ftp((const uint8_t *)neutral, strlen(neutral), NET_TOCLIENT), 0);
    /* the client's first command decides an ambiguous greeting */
    assert_int_equal(app_probe_smtp((const uint8_t *)"EHLO client\r\n", 13, NET_TOSERVER), 1);
    assert_int_equal(app_probe_ftp((const uint8_t *)"USER anonymous\r\n", 16, NET_TOSERVER), 1);
    assert_int_equal(app_probe_ftp((const uint8_t *)"EHLO client\r\n", 13, NET_TOSERVER), 0);
    assert_int_equal(net_app_identify(IPPROTO_TCP, (const uint8_t *)"EHLO x\r\n", 8, NET_TOSERVER),
                     NET_APP_SMTP);
    assert_int_equal(
        net_app_identify(IPPROTO_TCP, (const uint8_t *)"SSH-2.0-x\r\n", 11, NET_TOCLIENT),
        NET_APP_SSH);
    uint8_t ones[20];
    memset(ones, 1, sizeof(ones));
    assert_int_equal(net_app_identify(IPPROTO_TCP, ones, sizeof(ones), NET_TOSERVER),
                     NET_APP_UNKNOWN);
    /* three bytes could still be the start of a DNS-over-TCP message */
    assert_int_equal(net_app_identify(IPPROTO_TCP, ones, 3, NET_TOSERVER), -1);

    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 445), NET_APP_SMB);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 3389), NET_APP_RDP);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 25), NET_APP_SMTP);
    assert_int_equal(net_app_port_hint(IPPROTO_TCP, 21), NET_APP_FTP);
    assert_int_equal(net_app_port_hint(IPPROTO_UDP, 443), NET_APP_UNKNOWN);
    assert_non_null(net_app_parser_for(NET_APP_RDP, IPPROTO_TCP));
    assert_ptr_equal(net_app_parser_for(NET_APP_DNS, IPPROTO_UDP), &net_app_dns_udp);
    assert_null(net_app_parser_for(NET_APP_SSH, IPPROTO_UDP));
    assert_string_equal(net_app_name(NET_APP_SMB), "smb");
    assert_string_equal(net_app_name((enum net_app)200), "unknown");
}

/* SMTP STARTTLS: the TLS that follows gets the TLS parser and its record. */
static void
test_starttls(void **state)
{
    (void)state;
    static const uint8_t hello[] = {
        22, 3, 1, 0, 45, 1, 0, 0, 41, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,    0,    0, 0,
        0,  0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x13, 0x01, 1, 0,
    };
    const struct net_app_parser *smtp = net_app_parser_for(NET_APP_SMTP, IPPROTO_TCP);
    assert_non_null(smtp);
    at_open(&run, smtp, IPPROTO_TCP, 25);
    at_feed(&run, NET_TOCLIENT, "220 mx ESMTP\r\n", 14);
    at_feed(&run, NET_TOSERVER, "EHLO a\r\nSTARTTLS\r\n", 18);
    at_feed(&run, NET_TOCLIENT, "220 2.0.0 Ready to start TLS\r\n", 30);
    assert_int_equal(run.sink.n, 0);
    at_feed(&run, NET_TOSERVER, hello, sizeof(hello));
    at_close(&run);
    assert_int_equal(run.sink.n, 1);
    assert_int_equal(run.sink.type[0], NET_REC_TLS);
    assert_string_equal(at_str(run.sink.eve[0], "tls.ja3.string"), "771,4865,,,");
}

/* The N-th allocation fails, for every N: no crash, no leak. */
static void
test_alloc_failures(void **state)
{
    (void)state;
    for (unsigned long n = 1; n < 20; n++) {
        struct at_run r;
        bn_alloc_fail_after(n);
        at_open(&r, &net_app_ssh, IPPROTO_TCP, 22);
        session(&r, 13);
        bn_alloc_fail_after(0);
        at_done(&r);
    }
}

static void
test_stats_json(void **state)
{
    (void)state;
    struct net_app_stats mine, total;
    memset(&mine, 0, sizeof(mine));
    memset(&total, 0, sizeof(total));
    net_app_stats_bind(&mine);
    at_open(&run, &net_app_ssh, IPPROTO_TCP, 22);
    at_feed(&run, NET_TOSERVER, "not ssh at all\r\n", 16);
    at_feed(&run, NET_TOCLIENT, "SSH-2.0-x\r\n", 11);
    at_close(&run);
    net_app_stats_bind(NULL);
    assert_int_equal(mine.errors[NET_APP_SSH][NET_APP_ERR_UNEXPECTED], 1);
    assert_int_equal(mine.records[NET_REC_SSH], 1);
    net_app_stats_add(&total, &mine);
    net_app_stats_add(&total, &mine);
    struct bn_buf b;
    bn_buf_init(&b, 1 << 16);
    assert_int_equal(net_app_stats_json(&total, &b), 0);
    assert_int_equal(at_int(b.p, "records.ssh"), 2);
    assert_int_equal(at_int(b.p, "errors.ssh.unexpected"), 2);
    assert_int_equal(at_int(b.p, "errors.dns.name_loop"), 0);
    bn_buf_release(&b);
    assert_string_equal(net_app_err_name(NET_APP_ERR_GAP), "gap");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_session, at_teardown),
        cmocka_unit_test_teardown(test_banners_only, at_teardown),
        cmocka_unit_test_teardown(test_hostile, at_teardown),
        cmocka_unit_test(test_ident_probes),
        cmocka_unit_test_teardown(test_starttls, at_teardown),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test_teardown(test_stats_json, at_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
