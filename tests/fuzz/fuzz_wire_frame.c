/*
 * fuzz_wire_frame.c - libFuzzer target for the manager's frame decoder: the bytes an agent
 * (or anyone who reaches the port with a valid certificate) sends after the TLS handshake.
 * The input is a stream of frames; each is checked like the link does it (header, then the
 * message of its type; batches are parsed, verified against a fixed key and unpacked).
 * Nothing may crash, leak, loop or read out of bounds, and decoded fields stay in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/error.h"
#include "bannin/wire.h"

static struct bn_wire_unpacker *unpacker;

static void
message(int type, const uint8_t *p, size_t n)
{
    struct bn_wire_err e;
    switch (type) {
    case BN_WIRE_ENROLL: {
        struct bn_wire_enroll m;
        if (bn_wire_enroll_decode(p, n, &m, &e) == 0 &&
            (m.token.len > BN_WIRE_TOKEN_MAX || m.csr_pem.len > BN_WIRE_PEM_MAX))
            abort();
        break;
    }
    case BN_WIRE_ENROLL_OK: {
        struct bn_wire_enroll_ok m;
        bn_wire_enroll_ok_decode(p, n, &m, &e);
        break;
    }
    case BN_WIRE_HELLO: {
        struct bn_wire_hello m;
        bn_wire_hello_decode(p, n, &m, &e);
        break;
    }
    case BN_WIRE_WELCOME: {
        struct bn_wire_welcome m;
        bn_wire_welcome_decode(p, n, &m, &e);
        break;
    }
    case BN_WIRE_ACK: {
        struct bn_wire_ack m;
        if (bn_wire_ack_decode(p, n, &m, &e) == 0 && m.last_seq < m.first_seq)
            abort();
        break;
    }
    case BN_WIRE_HEARTBEAT: {
        struct bn_wire_heartbeat m;
        if (bn_wire_heartbeat_decode(p, n, &m, &e) == 0 && m.health_json.len > BN_WIRE_HEALTH_MAX)
            abort();
        break;
    }
    case BN_WIRE_ERROR: {
        struct bn_wire_error m;
        bn_wire_error_decode(p, n, &m, &e);
        break;
    }
    case BN_WIRE_ACTION: {
        struct bn_wire_action m;
        if (bn_wire_action_decode(p, n, &m, &e) == 0 &&
            (m.type.len > BN_WIRE_ACTION_TYPE_MAX || m.params.len > BN_WIRE_ACTION_PARAMS_MAX ||
             m.action_id == 0))
            abort();
        break;
    }
    case BN_WIRE_RESULT_ACK: {
        uint64_t id;
        if (bn_wire_result_ack_decode(p, n, &id, &e) == 0 && id == 0)
            abort();
        break;
    }
    case BN_WIRE_RESULT: {
        struct bn_wire_result m;
        if (bn_wire_result_decode(p, n, &m, &e) == 0 &&
            (m.result.len > BN_WIRE_RESULT_MAX || m.status > BN_WIRE_ACT_EXPIRED))
            abort();
        break;
    }
    case BN_WIRE_BATCH: {
        struct bn_wire_batch b;
        static const uint8_t nonce[BN_WIRE_NONCE], pk[BN_WIRE_PK];
        if (bn_wire_batch_parse(p, n, &b, &e) != 0)
            break;
        bn_wire_batch_verify(&b, nonce, pk);
        const struct bn_wire_event *ev;
        size_t k;
        if (bn_wire_unpack(unpacker, &b, &ev, &k, &e) == 0) {
            if (k != b.count || ev[0].seq != b.first_seq || ev[k - 1].seq != b.last_seq)
                abort();
            for (size_t i = 0; i < k; i++)
                if (ev[i].len > BN_WIRE_EVENT_MAX || (i && ev[i].seq <= ev[i - 1].seq))
                    abort();
        }
        break;
    }
    case BN_WIRE_FILE_OFFER: {
        struct bn_wire_file_offer m;
        static const uint8_t nonce[BN_WIRE_NONCE], pk[BN_WIRE_PK];
        if (bn_wire_file_offer_decode(p, n, &m, &e) == 0) {
            if (m.action_id == 0 || m.name.len == 0 || m.name.len > BN_ATTACH_NAME_MAX ||
                memchr(m.name.p, '/', m.name.len) || m.signed_len + BN_WIRE_SIG != n)
                abort();
            bn_wire_file_verify(type, m.signed_part, m.signed_len, m.sig, nonce, pk);
        }
        break;
    }
    case BN_WIRE_FILE_CHUNK: {
        struct bn_wire_file_chunk m;
        if (bn_wire_file_chunk_decode(p, n, &m, &e) == 0 &&
            (m.len == 0 || m.len > BN_WIRE_CHUNK_MAX || m.offset + m.len > BN_ATTACH_SIZE_MAX ||
             m.signed_len + BN_WIRE_SIG != n))
            abort();
        break;
    }
    case BN_WIRE_FILE_END: {
        struct bn_wire_file_end m;
        if (bn_wire_file_end_decode(p, n, &m, &e) == 0 && m.signed_len + BN_WIRE_SIG != n)
            abort();
        break;
    }
    case BN_WIRE_FILE_STATUS: {
        struct bn_wire_file_status m;
        if (bn_wire_file_status_decode(p, n, &m, &e) == 0 &&
            (m.state > BN_WIRE_FILE_REFUSED || m.msg.len > BN_WIRE_ERRMSG_MAX))
            abort();
        break;
    }
    default: abort(); /* the header check lets no other type through */
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!unpacker && bn_wire_unpacker_new(&unpacker) != 0)
        return 0;
    size_t off = 0;
    while (size - off >= BN_WIRE_HDR) {
        int type;
        uint32_t len;
        struct bn_wire_err e;
        if (bn_wire_hdr_decode(data + off, size - off, &type, &len, &e) != 0)
            break;
        if (len > BN_WIRE_FRAME_MAX)
            abort();
        off += BN_WIRE_HDR;
        if (size - off < len)
            break; /* the link waits for more bytes */
        message(type, data + off, len);
        off += len;
    }
    return 0;
}
