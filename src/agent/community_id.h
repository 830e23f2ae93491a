/*
 * community_id.h - Community ID flow hashing (v1), the flow key Zeek, Suricata, Elastic and
 * others share, so an agent's network event can be joined with a sensor's flow record.
 *
 * v1: "1:" + base64(SHA-1(seed, saddr, daddr, proto, 0, sport, dport)) with the endpoints
 * ordered so both directions of a flow give the same id. Ports are used for TCP, UDP and
 * SCTP; other protocols hash without ports (ICMP type/code mapping is not implemented).
 */
#ifndef BANNIN_AGENT_COMMUNITY_ID_H
#define BANNIN_AGENT_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_COMMUNITY_ID_LEN 31  /* "1:" + 28 base64 characters, plus the NUL */

/*
 * Computes the Community ID of a flow into out (size bytes, at least
 * AGENT_COMMUNITY_ID_LEN). family is AF_INET (addresses: 4 bytes, borrowed) or AF_INET6
 * (16 bytes); ports are in host byte order. out is "" on failure. Returns 0, BN_EINVAL for
 * a bad family or a short buffer, or BN_EINTERNAL if libcrypto fails.
 */
int agent_community_id(uint16_t seed, int family, uint8_t proto, const uint8_t *saddr,
                       const uint8_t *daddr, uint16_t sport, uint16_t dport, char *out,
                       size_t size);

#endif
