/*
 * respond_isolate.h - host network isolation (issue 5): isolate, release, isolation_status.
 *
 * Isolation is an nftables table `inet bannin_isolate` whose base chains (input, output,
 * forward) hook at priority -400, before every other table (conntrack sits at -200, iptables
 * compat tables at -300..0): a drop there is final whatever later tables say. The table
 * accepts loopback, the manager endpoints (TCP to addr:port and the replies) and, when asked,
 * DNS servers; IPv6 neighbour discovery; everything else in, out and forwarded is counted and
 * dropped. nftables rather than eBPF: it is atomic (one netlink transaction), visible to the
 * operator (`nft list table inet bannin_isolate`), needs no BPF program per interface and
 * covers forwarded traffic (containers, VMs) in the same table.
 *
 * Persistence: state_dir/isolation.json (isolated, manager endpoints, since, by, reason) and
 * state_dir/isolation.ruleset (the stateless `nft list ruleset` taken before isolating).
 * resp_isolate_new() re-applies the table when the state says isolated (agent restart,
 * reboot); a watchdog thread checks the table every 200 ms and re-applies it within a second
 * when it was removed or altered locally (`nft flush ruleset`). After every apply the table
 * is listed and compared with what was loaded (verified). resp_isolate_free() stops the
 * watchdog but leaves the host isolated: only release ends isolation.
 *
 * Actions (params: a JSON object, params_len bytes; the result object is appended to out):
 *   isolate           {"manager":["192.0.2.1:7443","[2001:db8::1]:7443"], "dns":["192.0.2.53"],
 *                      "by":"analyst@x", "reason":"..."}   manager: 1..BN_RESP_ISO_ENDPOINTS_MAX
 *                     IP literals with port (a single string is accepted too); dns optional;
 *                     without "manager" the endpoints of resp_isolate_set_manager() are used.
 *                     Isolating an isolated host replaces the allow list, keeps the saved
 *                     ruleset. Result: {"ok":true,"verified":true,"apply_us":N,...state}.
 *   release           {"by":"...","reason":"..."}: deletes the table; if the rest of the
 *                     ruleset is no longer the saved one it is restored exactly.
 *                     Result: {"ok":true,"restored":bool,...}.
 *   isolation_status  {}: {"ok":true,"isolated":bool,"verified":bool,"manager":[...],
 *                     "since":..., "reapplied":N, "counters":{"input":{"packets":..,
 *                     "bytes":..},"output":..,"forward":..}, ...}.
 * Each returns 0 when the action ran (success or failure in "ok"/"error"), BN_EINVAL for bad
 * parameters (a result saying why is written), BN_ENOMEM.
 * All calls are thread-safe (one mutex with the watchdog); every nftables call is a netlink
 * round trip in the caller's network namespace (bounded by the kernel, typically < 5 ms).
 */
#ifndef BANNIN_AGENT_RESPOND_ISOLATE_H
#define BANNIN_AGENT_RESPOND_ISOLATE_H

#include <stddef.h>
#include <stdint.h>

#include "respond.h"

/* Hard limits of the isolate executor (kept here because limits.h is shared and being edited;
 * they may move to limits.h's "respond" section). */
#define BN_RESP_ISO_ENDPOINTS_MAX 16          /* manager endpoints in one isolate request */
#define BN_RESP_ISO_DNS_MAX 4                 /* DNS servers allowed while isolated */
#define BN_RESP_ISO_TEXT_MAX 512              /* bytes of "by", "reason", one endpoint */
#define BN_RESP_ISO_RULESET_MAX (4u << 20)    /* bytes of the saved pre-isolation ruleset */
#define BN_RESP_ISO_STATE_MAX (64u << 10)     /* bytes of isolation.json */
#define BN_RESP_ISO_WATCH_MS 200              /* watchdog period */

struct resp_isolate;

/* Borrows paths for the call (state_dir copied). Re-applies isolation if the state says so and
 * starts the watchdog. Returns 0, BN_ENOMEM, BN_EIO (state dir), BN_EINTERNAL (libnftables). */
int resp_isolate_new(struct resp_isolate **out, const struct respond_paths *paths);
/* Stops the watchdog; the isolation table stays in place. NULL is a no-op. */
void resp_isolate_free(struct resp_isolate *m);

int resp_isolate(struct resp_isolate *m, const char *params, size_t len, struct bn_buf *out);
int resp_release(struct resp_isolate *m, const char *params, size_t len, struct bn_buf *out);
int resp_isolation_status(struct resp_isolate *m, const char *params, size_t len,
                          struct bn_buf *out);

/* Sets the endpoints an isolate request without "manager" keeps open (the agent passes its
 * uplink's resolved server address; local autonomous containment sends no params). Each is an
 * IP literal with port as in "manager". Returns 0 or BN_EINVAL (logged). */
int resp_isolate_set_manager(struct resp_isolate *m, const char *const *endpoints, size_t n);

/* Validates isolate params without touching the firewall (fuzzing, the manager's checks):
 * appends {"ok":true,"manager":[canonical endpoints],"dns":[...]} and returns 0, or the
 * error result and BN_EINVAL; BN_ENOMEM. */
int resp_isolate_check(const char *params, size_t len, struct bn_buf *out);

/* Times the watchdog re-applied the table since resp_isolate_new (tests, health). */
uint64_t resp_isolate_reapplied(struct resp_isolate *m);

#endif
