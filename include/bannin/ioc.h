/*
 * ioc.h - indicator-of-compromise sets: file hashes (SHA-256, SHA-1, MD5), IPv4/IPv6
 * addresses and CIDR ranges, domains (a listed domain also matches its subdomains), URLs,
 * TLS SNI names and JA3/JA4 fingerprints.
 *
 * Loaded from CSV (type,value[,source,comment]) and STIX 2.1 bundles (indicator objects with
 * simple comparison patterns such as [ipv4-addr:value = '203.0.113.7']). Used by the
 * manager's central detection (event fields) and by the sensor (flows, DNS, TLS).
 *
 * Threading: a set is built by one thread (bn_ioc_add, bn_ioc_load_*), then is immutable and
 * may be matched by any number of threads at once without locks. A reload builds a new set.
 * Lookups allocate nothing: exact values are in one open-addressing hash table (O(1)), CIDR
 * ranges in a binary prefix trie per address family (at most 32 / 128 steps).
 */
#ifndef BANNIN_IOC_H
#define BANNIN_IOC_H

#include "bannin/common.h"
#include "bannin/diag.h"

enum bn_ioc_type {
    BN_IOC_SHA256 = 0,
    BN_IOC_SHA1,
    BN_IOC_MD5,
    BN_IOC_IP,      /* IPv4 or IPv6 address, or a CIDR range of either */
    BN_IOC_DOMAIN,  /* matches the domain and every subdomain */
    BN_IOC_URL,
    BN_IOC_SNI,     /* TLS server name: exact (case-insensitive); domains also match SNI */
    BN_IOC_JA3,
    BN_IOC_JA4,
    BN_IOC_TYPES    /* count */
};

/* Static lower-case name of a type ("sha256", "ip", ...), or "?". */
const char *bn_ioc_type_name(int type);
/*
 * Parses a type name as used in CSV files: the names above plus the aliases ipv4, ipv6,
 * cidr, ip-src/ip-dst, hostname, domain-name, sha-256, sha-1, ja3s and "hash" (SHA-256, SHA-1
 * or MD5 chosen by the value's length, returned as -2). Case-insensitive. -1 when unknown.
 */
int bn_ioc_type_parse(const char *s, size_t len);

/* What an indicator carries besides its value (all borrowed from the set). */
struct bn_ioc_match {
    int type;              /* enum bn_ioc_type */
    const char *value;     /* the indicator as listed, normalised (lower-case hex, CIDR text) */
    const char *source;    /* feed or file it came from ("" when none) */
    const char *comment;   /* description, STIX indicator name ("" when none) */
};

/* Counters of one load: every line or object not turned into an indicator is counted. */
struct bn_ioc_load_stats {
    uint64_t records;        /* CSV data lines / STIX objects seen */
    uint64_t added;          /* new indicators */
    uint64_t duplicates;     /* already in the set (first source kept) */
    uint64_t skipped_type;   /* unknown indicator type, or a STIX pattern on other objects */
    uint64_t skipped_value;  /* value not valid for its type (bad hex, bad address, ...) */
    uint64_t skipped_syntax; /* malformed CSV line or unsupported STIX pattern syntax */
    uint64_t skipped_expired;/* STIX indicators revoked or past valid_until */
    uint64_t skipped_other;  /* STIX objects that are not indicators (identity, ...) */
};

struct bn_ioc_set;

/* Returns an owned empty set, or NULL. */
struct bn_ioc_set *bn_ioc_set_new(void);
void bn_ioc_set_free(struct bn_ioc_set *set);

/*
 * Adds one indicator; value, source and comment are copied. Returns 0, BN_EEXIST when the
 * same (type, normalised value) is already present, BN_EINVAL (with d) for a value not valid
 * for its type, BN_ETOOBIG past BN_IOC_ENTRIES_MAX / BN_IOC_VALUE_MAX, or BN_ENOMEM.
 * type may be -2 ("hash": chosen by length).
 */
int bn_ioc_add(struct bn_ioc_set *set, int type, const char *value, size_t len,
               const char *source, const char *comment, struct bn_diag *d);

/*
 * Loads CSV text (RFC 4180 quoting; '#' comment lines, blank lines and a "type,value" header
 * are ignored). Bad lines are skipped and counted in st; d keeps the first one with its line
 * and column. name labels diagnostics; source (NULL = name) is used when a line has none.
 * Returns 0, or BN_ETOOBIG (file over BN_IOC_FILE_MAX, set full) / BN_ENOMEM, with d.
 * buf is borrowed.
 */
int bn_ioc_load_csv(struct bn_ioc_set *set, const char *buf, size_t len, const char *name,
                    const char *source, struct bn_ioc_load_stats *st, struct bn_diag *d);

/*
 * Loads a STIX 2.1 bundle ({"type":"bundle","objects":[...]}, or one bare indicator).
 * Indicators whose pattern is a disjunction (OR) of equality comparisons on
 * ipv4-addr:value, ipv6-addr:value, domain-name:value, url:value, file:hashes.<alg>,
 * x509-certificate:hashes.<alg> are loaded; others are skipped and counted, as are revoked
 * indicators and those whose valid_until is before now_ns (0 = do not check). Returns 0, or
 * BN_EPARSE (not JSON, not a bundle) / BN_ETOOBIG / BN_ENOMEM with d. buf is borrowed.
 */
int bn_ioc_load_stix(struct bn_ioc_set *set, const char *buf, size_t len, const char *name,
                     const char *source, int64_t now_ns, struct bn_ioc_load_stats *st,
                     struct bn_diag *d);

/* Reads path and loads it as STIX when its first non-blank byte is '{', else as CSV. */
int bn_ioc_load_file(struct bn_ioc_set *set, const char *path, int64_t now_ns,
                     struct bn_ioc_load_stats *st, struct bn_diag *d);

/* Calls cb for every indicator in the order they were added; a non-zero return stops the walk
 * and is returned. The match is borrowed for the call. */
typedef int (*bn_ioc_each_cb)(void *ctx, const struct bn_ioc_match *m);
int bn_ioc_foreach(const struct bn_ioc_set *set, bn_ioc_each_cb cb, void *ctx);

/* Number of indicators of one type (BN_IOC_TYPES = all). */
size_t bn_ioc_count(const struct bn_ioc_set *set, int type);

/*
 * Matches one observed value against the indicators of one type; m (may be NULL) is filled
 * on a hit. Normalisation is the same as on load: hashes are case-insensitive, domains are
 * lower-cased without a trailing dot and match listed parent domains, IPs are parsed (text
 * IPv4, IPv6, IPv4-mapped IPv6) and matched against addresses and CIDR ranges (the most
 * specific range wins). Values too long or malformed simply do not match.
 */
bool bn_ioc_match(const struct bn_ioc_set *set, int type, const char *s, size_t len,
                  struct bn_ioc_match *m);
/* A hash of any of the three algorithms, chosen by length (32, 40 or 64 hex digits). */
bool bn_ioc_match_hash(const struct bn_ioc_set *set, const char *s, size_t len,
                       struct bn_ioc_match *m);
/* A binary address: family AF_INET (4 bytes) or AF_INET6 (16 bytes, v4-mapped handled). */
bool bn_ioc_match_addr(const struct bn_ioc_set *set, int family, const void *addr,
                       struct bn_ioc_match *m);

#endif
