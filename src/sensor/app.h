/*
 * app.h - application-layer records of the network sensor (DNS, HTTP, TLS, SSH), their
 * renderers (Suricata eve members and Zeek-named flat objects) and the parsers' statistics.
 *
 * Parsers (app_dns.c, app_http.c, app_tls.c, app_ssh.c; registry and content probes in
 * app.c) receive in-order bytes per direction through struct net_app_parser (sensor.h) and
 * emit one of the records below with net_emit(). A record body is only valid during the
 * emit() call. Every text field is fixed-size and NUL-terminated; a value longer than its
 * field is cut at a UTF-8-safe point, the record's `truncated` flag is set and the cut is
 * counted in net_app_stats.truncated_fields - never silent.
 *
 * pcap_cnt: the parser callbacks do not see the packet, so parsers emit with pcap_cnt 0;
 * the pipeline's sink substitutes the number of the packet being processed.
 */
#ifndef BANNIN_SENSOR_APP_H
#define BANNIN_SENSOR_APP_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "bannin/limits.h"
#include "sensor/sensor.h"

/*
 * Copies n bytes (no NUL): up to 16 with two overlapping loads and stores that stay inside
 * both ranges, instead of a call to memcpy, whose size dispatch cost more than the copy of
 * the short keys and values eve records are made of; longer ones by memcpy.
 */
static inline void
net_copy_short(char *dst, const char *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        __builtin_memcpy(&a, src, 8);
        __builtin_memcpy(&b, src + n - 8, 8);
        __builtin_memcpy(dst, &a, 8);
        __builtin_memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        __builtin_memcpy(&a, src, 4);
        __builtin_memcpy(&b, src + n - 4, 4);
        __builtin_memcpy(dst, &a, 4);
        __builtin_memcpy(dst + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    } else {
        __builtin_memcpy(dst, src, n);
    }
}

/* ---- limits (bytes include the terminating NUL) ---- */
#define NET_DNS_NAME_MAX    256   /* a presentation-form name: 253 chars + escapes cut */
#define NET_DNS_QNAME_MAX   1026  /* a question name (compression can make it long: flagged) */
#define NET_DNS_RDATA_MAX   512   /* rdata rendered as text (TXT strings, hex for others) */
#define NET_DNS_QUERIES_MAX 8     /* questions kept per message (qdcount may say more) */
#define NET_DNS_RRS_MAX     64    /* resource records kept per message, all sections */
#define NET_DNS_TCP_MSG_MAX 65535 /* a DNS-over-TCP message (the 2-byte length) */
#define NET_DNS_PTRS_MAX    64    /* compression pointers followed for one name */

#define NET_HTTP_METHOD_MAX     32
#define NET_HTTP_URI_MAX        2048
#define NET_HTTP_HOST_MAX       256
#define NET_HTTP_UA_MAX         512
#define NET_HTTP_REFERER_MAX    1024
#define NET_HTTP_CTYPE_MAX      128
#define NET_HTTP_PROTO_MAX      16
#define NET_HTTP_STATUS_MSG_MAX 64
#define NET_HTTP_LOCATION_MAX   1024
#define NET_HTTP_XFF_MAX        256
#define NET_HTTP_LINE_MAX       8192 /* one request/status/header line */
#define NET_HTTP_HEADERS_MAX    100  /* header lines in one message */
#define NET_HTTP_PENDING_MAX    32   /* pipelined requests waiting for their response */

#define NET_TLS_SNI_MAX         256
#define NET_TLS_DN_MAX          512 /* subject / issuer in X509_NAME_print_ex form */
#define NET_TLS_SERIAL_MAX      128 /* "0A:1B:..." */
#define NET_TLS_FP_MAX          64  /* SHA-1 "aa:bb:..." (59 chars) */
#define NET_TLS_JA3_STR_MAX     2048
#define NET_TLS_JA3S_STR_MAX    512
#define NET_TLS_HASH_MAX        33 /* MD5 hex */
#define NET_TLS_JA4_MAX         40 /* "t13d1516h2_8daaf6152771_b186095e22b6" */
#define NET_TLS_ALPN_N          8
#define NET_TLS_ALPN_MAX        32
#define NET_TLS_CIPHER_NAME_MAX 64
#define NET_TLS_RECORD_MAX      (16384 + 2048) /* a TLS record: 2^14 plus expansion */
#define NET_TLS_HS_MAX          (1u << 18) /* a reassembled handshake message (cert chains) */
#define NET_TLS_CERTS_MAX       10         /* certificates fingerprinted in one chain */
#define NET_TLS_SHA256_MAX      65         /* SHA-256 hex (Zeek cert_chain_fps) */
#define NET_TLS_SAN_N           32         /* subjectAltName DNS names kept */

#define NET_SSH_BANNER_MAX    256 /* RFC 4253: at most 255 bytes incl. CR LF */
#define NET_SSH_HASSH_STR_MAX 2048
#define NET_SSH_ALG_MAX       64    /* the first algorithm of a name-list (Zeek's *_alg) */
#define NET_SSH_PKT_MAX       35000 /* an SSH binary packet (RFC 4253 6.1) */

/* ---- DNS ---- */

enum net_dns_section {
    NET_DNS_ANSWER = 0,
    NET_DNS_AUTHORITY,
    NET_DNS_ADDITIONAL,
};

struct net_dns_query {
    uint16_t type;
    uint16_t qclass;
    uint8_t name_truncated; /* eve rrname_truncated */
    char name[NET_DNS_QNAME_MAX];
};

/*
 * One resource record. rdata holds the text form: the address for A/AAAA, the name for
 * CNAME/NS/PTR/MX (exchange)/SRV (target)/SOA (mname), one TXT character-string (each
 * string is its own entry, txt_more marks the followers), the fingerprint for SSHFP, the raw
 * bytes for NULL and other types (Suricata's rendering). n[] carries the numbers: MX
 * preference in n[0]; SRV priority, weight, port in n[0..2]; SOA serial, refresh, retry,
 * expire, minimum in n[0..4]; SSHFP algorithm, type; RRSIG type covered (signer in rdata2);
 * DS algorithm, digest type; DNSKEY algorithm (Zeek's renderings of the DNSSEC types).
 */
struct net_dns_rr {
    uint8_t section; /* enum net_dns_section */
    uint8_t name_truncated;
    uint8_t txt_more; /* TXT: another character-string of the previous record */
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    uint32_t n[5];
    char name[NET_DNS_NAME_MAX];
    char rdata[NET_DNS_RDATA_MAX];
    char rdata2[NET_DNS_NAME_MAX]; /* SOA rname */
};

struct net_dns_rec {
    uint8_t is_response;
    uint8_t tcp; /* carried over TCP */
    uint8_t opcode;
    uint8_t rcode; /* the 4-bit header rcode (extended rcode not merged) */
    uint8_t aa, tc, rd, ra, z, ad, cd;
    uint8_t truncated;  /* a name, rdata or the record list was cut (see stats) */
    uint8_t unanswered; /* a query never answered, reported at flow end: Zeek only */
    uint8_t link_local; /* mDNS / LLMNR (UDP 5353 / 5355): Zeek logs them as DNS,
                         * Suricata does not (eve declines them) */
    uint16_t id;
    uint16_t flags;                              /* the header's flags word as sent */
    uint16_t qdcount, ancount, nscount, arcount; /* counts as sent */
    uint32_t tx_id;                              /* transaction number within the flow */
    uint64_t rtt_ns;                             /* response: time since the matching query */
    uint8_t query_seen; /* response: the query it answers was seen (other direction) */
    uint16_t n_queries;
    uint16_t n_rrs;
    struct net_dns_query queries[NET_DNS_QUERIES_MAX];
    struct net_dns_rr rrs[NET_DNS_RRS_MAX];
};

/* ---- HTTP ---- */

/*
 * All the headers of one message in order, as Suricata's request_headers / response_headers
 * arrays list them: HTTP/2 messages always (HPACK-decoded, with dynamic table size updates
 * as entries of their own), HTTP/1 ones with net_app_http_dump_headers(). Bounded by
 * BN_NET_HTTP_HDRLIST_MAX entries and BN_NET_HTTP_HDRBYTES_MAX bytes; what does not fit is
 * counted (net_app_stats.dropped) and flags the record truncated. Built by app_http*.c.
 */
struct net_http_hdr {
    uint32_t name_off, name_len; /* into net_http_hdrs.bytes */
    uint32_t value_off, value_len;
    uint32_t size_update; /* is_size_update: the new HPACK table size */
    uint8_t is_size_update;
};

struct net_http_hdrs {
    uint32_t n;
    uint32_t len; /* bytes used */
    struct net_http_hdr h[BN_NET_HTTP_HDRLIST_MAX];
    char bytes[BN_NET_HTTP_HDRBYTES_MAX];
};

/* HTTP/2 frames of one stream (or one frame of stream 0) that eve's "http2" object shows. */
struct net_http2_side {
    uint16_t n_settings;
    uint8_t has_error_code, has_priority, multiple; /* multiple: 1 error_code, 2 priority */
    uint32_t error_code;
    uint32_t priority; /* weight */
    struct {
        uint16_t id;
        uint32_t value;
    } settings[16]; /* more are counted as dropped */
};

struct net_http2_info {
    uint32_t stream_id;
    struct net_http2_side side[2]; /* [NET_TOSERVER] request, [NET_TOCLIENT] response */
};

/*
 * Eve output options, process-wide (set before the pipeline starts), as Suricata's eve-log
 * type options: HTTP/1 header lists (http dump-all-headers: both; off by default), the
 * extended HTTP fields (http extended: yes, the default: method, protocol, status, referer,
 * redirect, length), TLS records of resumed sessions (tls session-resumption, default on).
 */
void net_app_http_dump_headers(bool on);
void net_app_http_extended(bool on);
bool net_app_http_extended_on(void);
void net_app_tls_session_resumption(bool on);
bool net_app_tls_session_resumption_on(void);

/*
 * One HTTP transaction: a request and the response that answered it (has_request /
 * has_response say which sides were seen). Emitted when the response ends, or at flow end
 * for a request without response.
 */
struct net_http_rec {
    uint8_t has_request;
    uint8_t has_response;
    uint8_t truncated;
    uint8_t req_chunked;
    uint8_t resp_chunked;
    uint8_t http09;            /* HTTP/0.9: a request line without version, a bare response */
    uint8_t zeek_empty;        /* the empty entry Zeek logs when a connection that carried an
                                * HTTP/0.9 exchange ends: http.log only, no eve form */
    uint16_t port;             /* port from the Host header (0 = none) */
    int status;                /* 0 = no response */
    uint32_t trans_depth;      /* 1-based position in the flow (Zeek trans_depth) */
    uint32_t tx_id;            /* 0-based (eve tx_id; restarts inside a CONNECT tunnel) */
    uint64_t request_body_len; /* body bytes seen (decoded from chunks) */
    uint64_t response_body_len;
    char method[NET_HTTP_METHOD_MAX];
    char uri[NET_HTTP_URI_MAX];
    char host[NET_HTTP_HOST_MAX];
    char user_agent[NET_HTTP_UA_MAX];
    char referer[NET_HTTP_REFERER_MAX];
    char req_content_type[NET_HTTP_CTYPE_MAX];
    char content_type[NET_HTTP_CTYPE_MAX]; /* response Content-Type */
    char protocol[NET_HTTP_PROTO_MAX];     /* "HTTP/1.1" (request line; else status line) */
    char status_msg[NET_HTTP_STATUS_MSG_MAX];
    char status_string[16]; /* the status token when it is not a number (eve) */
    char location[NET_HTTP_LOCATION_MAX];
    char xff[NET_HTTP_XFF_MAX];
    /* HTTP/2 (version2) and header lists: NULL when absent; owned by the parser */
    uint8_t version2;
    uint64_t content_length; /* HTTP/2: the content-length header (has_content_length) */
    uint8_t has_content_length;
    const struct net_http_hdrs *hdrs[2]; /* [NET_TOSERVER] request, [NET_TOCLIENT] response */
    const struct net_http2_info *h2;
};

/* ---- TLS ---- */

struct net_tls_cert {
    char subject[NET_TLS_DN_MAX];
    char issuer[NET_TLS_DN_MAX];
    char serial[NET_TLS_SERIAL_MAX];
    char fingerprint[NET_TLS_FP_MAX];
    int64_t not_before; /* seconds since the epoch */
    int64_t not_after;
};

/*
 * One TLS session's handshake metadata, emitted once per flow: at the server's
 * ServerHelloDone (TLS <= 1.2, as Suricata logs it), else at the first application data
 * record (TLS 1.3, resumption), at the ServerHello for QUIC, or at flow end with whatever
 * was collected. established is set only when protected records were seen both ways before
 * the record was emitted.
 */
struct net_tls_rec {
    uint8_t has_client_hello;
    uint8_t has_server_hello;
    uint8_t has_cert;
    uint8_t resumed;     /* abbreviated handshake: session id or ticket reused */
    uint8_t established; /* both sides switched to encrypted application data */
    uint8_t truncated;
    uint8_t quic;                /* JA4 'q' instead of 't' */
    uint8_t dtls;                /* JA4 'd' instead of 't' */
    uint16_t client_version;     /* legacy_version of the ClientHello */
    uint16_t client_max_version; /* highest non-GREASE of legacy and supported_versions (JA4) */
    uint16_t client_tls_version; /* first TLS 1.3 flavour in supported_versions, else legacy */
    uint16_t version;            /* negotiated (supported_versions in ServerHello, else legacy) */
    uint16_t cipher;             /* chosen cipher suite */
    uint16_t curve;              /* key_share group of the ServerHello (TLS 1.3), 0 = unknown */
    uint8_t n_client_alpn;
    char client_alpn[NET_TLS_ALPN_N][NET_TLS_ALPN_MAX];
    char server_alpn[NET_TLS_ALPN_MAX];
    char sni[NET_TLS_SNI_MAX];
    char ja3[NET_TLS_JA3_STR_MAX];
    char ja3_hash[NET_TLS_HASH_MAX];
    char ja3s[NET_TLS_JA3S_STR_MAX];
    char ja3s_hash[NET_TLS_HASH_MAX];
    char ja4[NET_TLS_JA4_MAX];
    uint8_t n_chain; /* certificates in the server's chain (fingerprinted) */
    char chain_fp[NET_TLS_CERTS_MAX][NET_TLS_SHA256_MAX]; /* SHA-256 of each DER cert */
    struct net_tls_cert cert;                             /* the server's (first) certificate */
    uint8_t n_san;
    char san[NET_TLS_SAN_N][NET_TLS_SNI_MAX]; /* its subjectAltName DNS names */
};

/* ---- SSH ---- */

struct net_ssh_side {
    uint8_t has_banner;
    uint8_t has_kexinit;
    char banner[NET_SSH_BANNER_MAX];           /* the identification line without CR LF */
    char proto_version[16];                    /* "2.0" */
    char software_version[NET_SSH_BANNER_MAX]; /* "OpenSSH_8.4p1" (comments excluded) */
    char hassh[NET_TLS_HASH_MAX];
    char hassh_string[NET_SSH_HASSH_STR_MAX];
};

/*
 * One SSH session: emitted when both KEXINITs have been seen (or at flow end). Zeek's
 * negotiated algorithms are the first client entry the server also offers.
 */
struct net_ssh_rec {
    uint8_t truncated;
    struct net_ssh_side client;
    struct net_ssh_side server;
    /* negotiated (client-to-server direction), set when both KEXINITs were seen */
    char kex_alg[NET_SSH_ALG_MAX];
    char host_key_alg[NET_SSH_ALG_MAX];
    char cipher_alg[NET_SSH_ALG_MAX];
    char mac_alg[NET_SSH_ALG_MAX];
    char compression_alg[NET_SSH_ALG_MAX];
};

/* ---- statistics ---- */

enum net_app_err {
    NET_APP_ERR_TRUNCATED = 0, /* message ended before its declared length (flow ended) */
    NET_APP_ERR_MALFORMED,     /* impossible length, count or encoding */
    NET_APP_ERR_LIMIT,         /* a size limit above was exceeded: message skipped */
    NET_APP_ERR_NAME_LOOP,     /* DNS compression loop or pointer limit */
    NET_APP_ERR_GAP,           /* bytes missing in the stream: parser gave up or resynced */
    NET_APP_ERR_UNEXPECTED,    /* valid bytes in a state where they make no sense */
    NET_APP_ERR_CERT,          /* a certificate OpenSSL could not decode */
    NET_APP_ERR_NOMEM,
    NET_APP_ERR__COUNT,
};

/*
 * Parser counters for one capture thread. The pipeline binds its instance to the thread
 * with net_app_stats_bind() before feeding parsers and reads it when reporting.
 */
struct net_app_stats {
    uint64_t records[NET_REC__COUNT]; /* records emitted by type */
    uint64_t truncated_fields;        /* text values cut to fit a field */
    uint64_t dropped_items;           /* queries / RRs / ALPNs / certs beyond the limits */
    uint64_t errors[NET_APP__COUNT][NET_APP_ERR__COUNT]; /* parse errors by protocol, reason */
    uint64_t probes[NET_APP__COUNT];                     /* flows identified per protocol */
};

/* Binds s (borrowed) as the calling thread's parser counters; NULL restores a private one. */
void net_app_stats_bind(struct net_app_stats *s);
/* Returns the calling thread's counters (never NULL). */
struct net_app_stats *net_app_stats(void);
/* Adds a to total (for reporting several threads). */
void net_app_stats_add(struct net_app_stats *total, const struct net_app_stats *a);
/* Static name of an error reason ("truncated", "malformed", ...). */
const char *net_app_err_name(enum net_app_err e);
/* Appends the counters as a JSON object (for eve "stats" records and the CLI). */
int net_app_stats_json(const struct net_app_stats *s, struct bn_buf *out);

/* ---- identification ---- */

/*
 * Identifies the protocol of a payload by content: the first bytes one direction sent.
 * Returns the protocol, NET_APP_UNKNOWN when the bytes match nothing, or -1 when more
 * bytes could decide. proto is IPPROTO_TCP or IPPROTO_UDP.
 */
int net_app_identify(uint8_t proto, const uint8_t *d, size_t n, enum net_dir dir);
/* The protocol a well-known port suggests (a hint only), NET_APP_UNKNOWN if none. */
enum net_app net_app_port_hint(uint8_t proto, uint16_t port);
/* The parser for a protocol and transport, or NULL (SMB, RDP, SMTP, FTP: stateless). */
const struct net_app_parser *net_app_parser_for(enum net_app app, uint8_t proto);

/* ---- rendering ---- */

/*
 * Appends the protocol member of an eve record, Suricata 8/9 shapes: "dns":{...} (eve dns
 * version 3), "http":{...}, "tls":{...}, "ssh":{...}, including the leading key but no
 * comma. For HTTP the top-level "tx_id":N member comes first ("tx_id":0,"http":{...}), as
 * Suricata prints it. Returns 0, BN_DECLINED for a record that has no eve form (a DNS query
 * never answered, reported at flow end for Zeek; mDNS and LLMNR, which Suricata does not log
 * as DNS: the caller writes nothing, it is not an error), BN_EINVAL for a type without body,
 * or a bn_buf error.
 *
 * Direction: a DNS response (is_response) travels server -> client, so its eve src_ip is
 * the server (Suricata 8); the other records are written client -> server.
 */
int net_app_eve(enum net_rec_type t, const void *body, struct bn_buf *out);
/* Starts loading the parts of a record net_app_eve will read (the record is usually cold: an
 * HTTP transaction is filled when its request came, long before the response emits it);
 * called before the line's header is written, so the loads overlap that work. */
void net_app_eve_prefetch(enum net_rec_type t, const void *body);

/*
 * Appends one flat JSON object with Zeek's field names (dns.log, http.log, ssl.log,
 * ssh.log): _path, ts, uid (the flow's community id), id.orig_h, id.orig_p, id.resp_h,
 * id.resp_p and the log's fields. ts_ns is the record's time. Returns 0, BN_DECLINED when
 * the record has no Zeek line of its own (a DNS query: Zeek logs the transaction once, with
 * its response, or as unanswered at flow end; the caller writes nothing, not an error), or a
 * bn_buf error.
 */
int net_app_zeek(enum net_rec_type t, const struct net_flow *f, uint64_t ts_ns, const void *body,
                 struct bn_buf *out);

/* Names used by both renderers. */
const char *net_dns_rrtype_name(uint16_t type, char *buf, size_t size); /* "A", "TYPE65" */
const char *net_dns_rcode_name(uint8_t rcode, char *buf, size_t size);  /* "NXDOMAIN" */
const char *net_tls_version_name(uint16_t v, char *buf, size_t size);   /* "TLS 1.2" */
const char *net_tls_cipher_name(uint16_t cs, char *buf, size_t size);   /* IANA name */

/* The parsers (registered in net_app_parsers[]). */
extern const struct net_app_parser net_app_dns_udp;
extern const struct net_app_parser net_app_dns_tcp;
extern const struct net_app_parser net_app_http;
extern const struct net_app_parser net_app_tls;
extern const struct net_app_parser net_app_ssh;
extern const struct net_app_parser net_app_quic; /* TLS inside QUIC Initials (UDP) */
extern const struct net_app_parser net_app_dtls; /* DTLS 1.0/1.2/1.3 hellos (UDP) */

#endif
