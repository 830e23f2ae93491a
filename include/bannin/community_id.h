/*
 * community_id.h - Community ID flow hashing (v1), the flow key Zeek, Suricata, Elastic and
 * others share, so an agent's network event can be joined with a sensor's flow record.
 *
 * v1: "1:" + base64(SHA-1(seed, saddr, daddr, proto, 0, sport, dport)) with the endpoints
 * ordered so both directions of a flow give the same id. Ports are used for TCP, UDP, SCTP,
 * ICMP and ICMPv6; for ICMP the "ports" are the type and code, except that a type with a
 * counterpart (echo request/reply, ...) uses the counterpart's type as the second port so
 * both halves of the exchange get the same id (spec: icmp_port_equivalents). Other protocols
 * hash without ports.
 */
#ifndef BANNIN_COMMUNITY_ID_H
#define BANNIN_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#define BN_COMMUNITY_ID_LEN 31  /* "1:" + 28 base64 characters, plus the NUL */

/*
 * Computes the Community ID of a flow into out (size bytes, at least BN_COMMUNITY_ID_LEN).
 * family is AF_INET (addresses: 4 bytes, borrowed) or AF_INET6 (16 bytes); ports are in host
 * byte order (ICMP/ICMPv6: sport = type, dport = code). out is "" on failure. Returns 0,
 * BN_EINVAL for a bad family or a short buffer, or BN_EINTERNAL if libcrypto fails.
 */
int bn_community_id(uint16_t seed, int family, uint8_t proto, const uint8_t *saddr,
                    const uint8_t *daddr, uint16_t sport, uint16_t dport, char *out,
                    size_t size);

/* The type of an ICMP (proto IPPROTO_ICMP) or ICMPv6 message's counterpart (echo request ->
 * echo reply, ...), or -1 for messages without one (the spec's icmp_port_equivalents). */
int bn_icmp_peer_type(uint8_t proto, uint8_t type);

#endif
