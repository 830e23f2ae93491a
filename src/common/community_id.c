/*
 * community_id.c - Community ID v1 flow hashes (see bannin/community_id.h), with libcrypto's
 * SHA-1. Used by the agent (socket events) and the sensor (flows), so both sides agree.
 */
#include <netinet/in.h>
/*
 * SHA-1 by the low-level functions (deprecated in OpenSSL 3.0, still exported, same
 * assembly): EVP_Digest made and freed a context and the provider's state in it per call,
 * two mallocs and 2.5 times the hashing of the 40 bytes (124 against 50 ns), per flow.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "bannin/community_id.h"
#include "bannin/error.h"

/* The spec's icmp_port_equivalents: a type's counterpart, or -1 for one-way messages. */
static int
icmp4_peer(uint16_t type)
{
    switch (type) {
    case 8: return 0;    /* echo request / reply */
    case 0: return 8;
    case 13: return 14;  /* timestamp */
    case 14: return 13;
    case 15: return 16;  /* information */
    case 16: return 15;
    case 10: return 9;   /* router solicitation / advertisement */
    case 9: return 10;
    case 17: return 18;  /* address mask */
    case 18: return 17;
    default: return -1;
    }
}

static int
icmp6_peer(uint16_t type)
{
    switch (type) {
    case 128: return 129; /* echo request / reply */
    case 129: return 128;
    case 133: return 134; /* router solicitation / advertisement */
    case 134: return 133;
    case 135: return 136; /* neighbor solicitation / advertisement */
    case 136: return 135;
    case 130: return 131; /* multicast listener query / report */
    case 131: return 130;
    case 144: return 145; /* home agent address discovery */
    case 145: return 144;
    default: return -1;
    }
}

int
bn_icmp_peer_type(uint8_t proto, uint8_t type)
{
    if (proto == IPPROTO_ICMP)
        return icmp4_peer(type);
    if (proto == IPPROTO_ICMPV6)
        return icmp6_peer(type);
    return -1;
}

int
bn_community_id(uint16_t seed, int family, uint8_t proto, const uint8_t *saddr,
                const uint8_t *daddr, uint16_t sport, uint16_t dport, char *out, size_t size)
{
    uint8_t buf[2 + 16 + 16 + 4 + 4];
    uint8_t md[SHA_DIGEST_LENGTH];
    SHA_CTX sha;
    const uint8_t *a = saddr, *b = daddr;
    uint16_t pa = sport, pb = dport;
    size_t alen, n = 0;
    bool ports, one_way = false;
    int cmp;

    if (out && size)
        out[0] = '\0';
    if (!out || size < BN_COMMUNITY_ID_LEN || !saddr || !daddr)
        return BN_EINVAL;
    if (family == AF_INET)
        alen = 4;
    else if (family == AF_INET6)
        alen = 16;
    else
        return BN_EINVAL;
    ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP ||
            proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
    if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
        int peer = proto == IPPROTO_ICMP ? icmp4_peer(sport) : icmp6_peer(sport);
        if (peer >= 0)
            pb = (uint16_t)peer;
        else
            one_way = true;
    }
    /* Order the endpoints: the smaller address (then port) goes first. */
    cmp = memcmp(saddr, daddr, alen);
    if (!one_way && (cmp > 0 || (cmp == 0 && ports && pa > pb))) {
        a = daddr;
        b = saddr;
        uint16_t t = pa;
        pa = pb;
        pb = t;
    }
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, a, alen);
    n += alen;
    memcpy(buf + n, b, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (ports) {
        buf[n++] = (uint8_t)(pa >> 8);
        buf[n++] = (uint8_t)pa;
        buf[n++] = (uint8_t)(pb >> 8);
        buf[n++] = (uint8_t)pb;
    }
    if (!SHA1_Init(&sha) || !SHA1_Update(&sha, buf, n) || !SHA1_Final(md, &sha))
        return BN_EINTERNAL;
    out[0] = '1';
    out[1] = ':';
    /* 20 bytes -> 28 base64 characters and a NUL */
    EVP_EncodeBlock((unsigned char *)out + 2, md, (int)sizeof(md));
    return 0;
}
