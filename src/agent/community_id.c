/*
 * community_id.c - Community ID v1 flow hashes (see community_id.h), with libcrypto's SHA-1.
 */
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/community_id.h"
#include "bannin/error.h"

int
agent_community_id(uint16_t seed, int family, uint8_t proto, const uint8_t *saddr,
                   const uint8_t *daddr, uint16_t sport, uint16_t dport, char *out,
                   size_t size)
{
    uint8_t buf[2 + 16 + 16 + 4 + 4];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const uint8_t *a = saddr, *b = daddr;
    uint16_t pa = sport, pb = dport;
    size_t alen, n = 0;
    bool ports;
    int cmp;

    if (out && size)
        out[0] = '\0';
    if (!out || size < AGENT_COMMUNITY_ID_LEN || !saddr || !daddr)
        return BN_EINVAL;
    if (family == AF_INET)
        alen = 4;
    else if (family == AF_INET6)
        alen = 16;
    else
        return BN_EINVAL;
    ports = proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_SCTP;
    /* Order the endpoints: the smaller address (then port) goes first. */
    cmp = memcmp(saddr, daddr, alen);
    if (cmp > 0 || (cmp == 0 && ports && sport > dport)) {
        a = daddr;
        b = saddr;
        pa = dport;
        pb = sport;
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
    if (EVP_Digest(buf, n, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return BN_EINTERNAL;
    out[0] = '1';
    out[1] = ':';
    /* 20 bytes -> 28 base64 characters and a NUL */
    EVP_EncodeBlock((unsigned char *)out + 2, md, (int)mdlen);
    return 0;
}
