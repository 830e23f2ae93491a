/*
 * attach.h - files uploaded by agents over the link and attached to their action's incident
 * (issue 5: the forensic package; docs/RESPONSE.md "Upload and attachment").
 *
 * The link hands every FILE_OFFER / FILE_CHUNK / FILE_END frame of a session here. A partial
 * upload lives in data_dir/attachments/partial/<action>-<sha256>.part, so an upload cut by a
 * disconnect resumes from the bytes already held (the OFFER's answer says from where). At the
 * END the size and SHA-256 are checked, the file is fsynced and renamed to
 * data_dir/attachments/<action>-<name>, and an attachments row and an audit entry
 * ("attachment.stored", actor "agent") are written. Only a forensics action's file is taken,
 * at most BN_ATTACH_SIZE_MAX bytes, from the agent the action was sent to.
 */
#ifndef BANNIN_MANAGER_ATTACH_H
#define BANNIN_MANAGER_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "manager/store.h"

/* One session's upload in progress (NULL = none). */
struct attach_up;

struct attach_peer {
    struct store *st;
    int64_t agent_id;
    const char *agent_uid;
    const uint8_t *nonce; /* the session nonce (BN_WIRE_NONCE) */
    const uint8_t *pk;    /* the agent's Ed25519 key (BN_WIRE_PK) */
    /* An ingest group is open on st: writes commit with it, so STORED is not sent now (the
     * agent sends its END again and gets STORED once the row is committed). */
    bool in_group;
};

struct attach_stats {
    uint64_t offers, chunks, bytes, stored, refused, resumed;
};

/*
 * Handles one OFFER, CHUNK or END payload. May append one FILE_STATUS frame to out (the
 * caller sends it). 0, or BN_EPROTO / BN_ETOOBIG / BN_EIO with err: a bad frame, a bad
 * signature, a chunk that does not follow the offer - the link ends the session (the agent
 * reconnects and resumes). Refusals the agent should hear (not a forensics action, too big,
 * SHA-256 mismatch) are a REFUSED status, not an error.
 */
int attach_frame(struct attach_up **up, const struct attach_peer *p, int type,
                 const uint8_t *payload, uint32_t len, struct bn_buf *out,
                 struct attach_stats *stats, char *err, size_t errsz);
/* Closes a session's upload (the partial file stays for a resume). NULL is a no-op. */
void attach_up_free(struct attach_up *up);

#endif
