/*
 * wire.h - the agent <-> manager protocol (docs/MANAGER.md, "The link and ingest").
 *
 * Everything travels inside TLS 1.3 as frames: a 12-byte header (magic "BNW1", type, flags,
 * reserved, payload length; big-endian) and a payload of fixed-order fields (u8/u32/u64
 * big-endian; strings and byte strings as a u32 length then the bytes). Event batches are
 * zstd-compressed and signed with the agent's Ed25519 key over the session nonce the manager
 * handed out, so a batch recorded in one session fails verification in any other.
 *
 * Decoders take untrusted bytes: every length is checked against include/bannin/limits.h
 * ("wire" section) and a refusal says what was wrong and where in bn_wire_err.
 */
#ifndef BANNIN_WIRE_H
#define BANNIN_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "bannin/buf.h"
#include "bannin/common.h"
#include "bannin/hex.h"
#include "bannin/limits.h"

#define BN_WIRE_MAGIC 0x424e5731u /* "BNW1" */
#define BN_WIRE_HDR   12u
#define BN_WIRE_NONCE 32u
#define BN_WIRE_PK    32u /* Ed25519 public key */
#define BN_WIRE_SK    64u /* Ed25519 secret key (libsodium layout) */
#define BN_WIRE_SIG   64u

enum bn_wire_type {
    BN_WIRE_ENROLL = 1,    /* agent -> manager: token, CSR, signing key, host name */
    BN_WIRE_ENROLL_OK = 2, /* manager -> agent: certificate, CAs, agent uid and id */
    BN_WIRE_HELLO = 3,     /* agent -> manager, first frame of a session */
    BN_WIRE_WELCOME = 4,   /* manager -> agent: session nonce, last stored seq */
    BN_WIRE_BATCH = 5,     /* agent -> manager: signed, compressed events */
    BN_WIRE_ACK = 6,       /* manager -> agent: the batch is durable */
    BN_WIRE_HEARTBEAT = 7, /* agent -> manager: health */
    BN_WIRE_ERROR = 8,     /* either way: code and reason, then the sender closes */
    BN_WIRE_ACTION = 9,    /* manager -> agent: a response action to execute (docs/RESPONSE.md) */
    BN_WIRE_RESULT = 10,   /* agent -> manager: the outcome of an action */
    BN_WIRE_RESULT_ACK = 11, /* manager -> agent: the result is stored (the agent forgets it) */
    BN_WIRE_FILE_OFFER = 12, /* agent -> manager: a file of an action to upload (signed) */
    BN_WIRE_FILE_CHUNK = 13, /* agent -> manager: bytes of it at an offset (signed) */
    BN_WIRE_FILE_END = 14,   /* agent -> manager: all sent, size and SHA-256 (signed) */
    BN_WIRE_FILE_STATUS = 15, /* manager -> agent: send from offset / stored / refused */
};
#define BN_WIRE_TYPE_LAST BN_WIRE_FILE_STATUS

/* Outcome of an action in a RESULT frame. */
enum bn_wire_action_status {
    BN_WIRE_ACT_DONE = 0,    /* ran; its own ok/error is in the result JSON */
    BN_WIRE_ACT_FAILED = 1,  /* refused by the agent (bad parameters, unknown type) */
    BN_WIRE_ACT_EXPIRED = 2, /* arrived after its expiry: not run */
};

enum bn_wire_codec {
    BN_WIRE_CODEC_NONE = 0,
    BN_WIRE_CODEC_ZSTD = 1,
};

/* Why a frame was refused (what, where, why), for logs and the ERROR frame. */
struct bn_wire_err {
    char msg[200];
};

/* Name of a frame type ("batch"), or "unknown". */
const char *bn_wire_type_name(int type);

/*
 * Checks the 12-byte header at p (n >= BN_WIRE_HDR): magic, type, reserved bits and the
 * length bound. Returns 0 with *type and *len, or BN_EPROTO / BN_ETOOBIG with e.
 */
int bn_wire_hdr_decode(const uint8_t *p, size_t n, int *type, uint32_t *len, struct bn_wire_err *e);
/* Writes a header for a payload of len bytes into p (BN_WIRE_HDR bytes). */
void bn_wire_hdr_encode(uint8_t *p, int type, uint32_t len);

/* ---- control messages ----------------------------------------------------------------- */

/* Strings point into the decoded payload (borrowed) and are not NUL-terminated: use len. */
struct bn_wire_enroll {
    struct bn_str token;
    struct bn_str csr_pem;
    const uint8_t *sign_pk; /* BN_WIRE_PK bytes */
    struct bn_str hostname;
    struct bn_str version;
    uint64_t heartbeat_ms; /* the agent's heartbeat interval (silence = 3 of them) */
};

struct bn_wire_enroll_ok {
    struct bn_str cert_pem;      /* the agent's client certificate */
    struct bn_str server_ca_pem; /* the CA the manager's server certificate chains to */
    struct bn_str uid;
    uint64_t tenant_id;
    uint64_t agent_id;
};

struct bn_wire_hello {
    struct bn_str hostname;
    struct bn_str version;
    uint64_t heartbeat_ms;
    uint64_t acked_seq; /* the agent's highest acknowledged seq */
    uint64_t next_seq; /* the seq its next event gets (0 = not told); at or below the stored seq the
                          session is refused */
};

struct bn_wire_welcome {
    const uint8_t *nonce; /* BN_WIRE_NONCE bytes */
    uint64_t agent_id;
    uint64_t last_seq; /* highest seq the manager has stored for this agent */
};

struct bn_wire_ack {
    uint64_t first_seq, last_seq;
    uint32_t inserted, dups;
};

struct bn_wire_heartbeat {
    uint64_t ts_ns;
    uint32_t tier;
    struct bn_str health_json; /* at most BN_WIRE_HEALTH_MAX bytes */
};

struct bn_wire_error {
    uint32_t code; /* -BN_E* */
    struct bn_str msg;
};

/* ACTION: the manager asks the agent to run one response action (respond.h). */
struct bn_wire_action {
    uint64_t action_id;  /* the manager's id, echoed in the RESULT */
    struct bn_str type;  /* [a-z_], at most BN_WIRE_ACTION_TYPE_MAX bytes */
    struct bn_str params; /* JSON object text, at most BN_WIRE_ACTION_PARAMS_MAX bytes */
    uint64_t expires_ns; /* unix ns after which the agent must not run it (0 = never) */
};

/* RESULT: what came of an action. */
struct bn_wire_result {
    uint64_t action_id;
    uint32_t status;      /* enum bn_wire_action_status */
    struct bn_str result; /* JSON object text, at most BN_WIRE_RESULT_MAX bytes */
};

/*
 * File upload (a forensic package attached to its action's incident; docs/RESPONSE.md "Upload
 * and attachment"). The agent OFFERs (action, name, size, SHA-256); the manager answers a
 * FILE_STATUS: SEND from the offset it already holds (resume after a reconnect), STORED (it
 * has the whole file: the agent may delete its copy) or REFUSED (with the reason; the agent
 * keeps its copy). The agent then sends CHUNKs at increasing offsets and an END; the manager
 * checks size and SHA-256 and answers STORED or REFUSED. OFFER, CHUNK and END are signed
 * like batches: Ed25519 over a domain ("BNO1", "BNC1", "BNE1") || session nonce || the
 * payload up to the signature, so a frame recorded in one session fails in any other.
 */
enum bn_wire_file_state {
    BN_WIRE_FILE_SEND = 0,    /* send chunks from offset */
    BN_WIRE_FILE_STORED = 1,  /* the manager holds the whole file (verified) */
    BN_WIRE_FILE_REFUSED = 2, /* not accepted: message says why */
};

struct bn_wire_file_offer {
    uint64_t action_id;
    struct bn_str name; /* [A-Za-z0-9._-], 1..BN_ATTACH_NAME_MAX bytes, not "." or ".." */
    uint64_t size;
    const uint8_t *sha256; /* 32 bytes */
    const uint8_t *sig;    /* decoded: BN_WIRE_SIG bytes; ignored by the encoder */
    const uint8_t *signed_part;
    size_t signed_len;
};

struct bn_wire_file_chunk {
    uint64_t action_id;
    uint64_t offset;
    const uint8_t *data; /* 1..BN_WIRE_CHUNK_MAX bytes */
    uint32_t len;
    const uint8_t *sig;
    const uint8_t *signed_part;
    size_t signed_len;
};

struct bn_wire_file_end {
    uint64_t action_id;
    uint64_t size;
    const uint8_t *sha256;
    const uint8_t *sig;
    const uint8_t *signed_part;
    size_t signed_len;
};

struct bn_wire_file_status {
    uint64_t action_id;
    uint32_t state; /* enum bn_wire_file_state */
    uint64_t offset;
    struct bn_str msg; /* at most BN_WIRE_ERRMSG_MAX bytes */
};

/* Encoders of the signed frames: sign with sk (BN_WIRE_SK) over the session nonce. */
int bn_wire_file_offer_encode(struct bn_buf *out, const struct bn_wire_file_offer *m,
                              const uint8_t *nonce, const uint8_t *sk);
int bn_wire_file_chunk_encode(struct bn_buf *out, const struct bn_wire_file_chunk *m,
                              const uint8_t *nonce, const uint8_t *sk);
int bn_wire_file_end_encode(struct bn_buf *out, const struct bn_wire_file_end *m,
                            const uint8_t *nonce, const uint8_t *sk);
int bn_wire_file_status_encode(struct bn_buf *out, const struct bn_wire_file_status *m);
/* Decoders check fields and bounds, not the signature (bn_wire_file_verify). */
int bn_wire_file_offer_decode(const uint8_t *p, size_t n, struct bn_wire_file_offer *m,
                              struct bn_wire_err *e);
int bn_wire_file_chunk_decode(const uint8_t *p, size_t n, struct bn_wire_file_chunk *m,
                              struct bn_wire_err *e);
int bn_wire_file_end_decode(const uint8_t *p, size_t n, struct bn_wire_file_end *m,
                            struct bn_wire_err *e);
int bn_wire_file_status_decode(const uint8_t *p, size_t n, struct bn_wire_file_status *m,
                               struct bn_wire_err *e);
/* Checks a decoded OFFER/CHUNK/END's signature (type: its frame type): 0 or BN_EPROTO. */
int bn_wire_file_verify(int type, const uint8_t *signed_part, size_t signed_len,
                        const uint8_t *sig, const uint8_t *nonce, const uint8_t *pk);

/*
 * Encoders append one whole frame (header and payload) to out. Return 0, BN_ETOOBIG when a
 * field is over its limit or out is full, BN_ENOMEM.
 */
int bn_wire_enroll_encode(struct bn_buf *out, const struct bn_wire_enroll *m);
int bn_wire_enroll_ok_encode(struct bn_buf *out, const struct bn_wire_enroll_ok *m);
int bn_wire_hello_encode(struct bn_buf *out, const struct bn_wire_hello *m);
int bn_wire_welcome_encode(struct bn_buf *out, const struct bn_wire_welcome *m);
int bn_wire_ack_encode(struct bn_buf *out, const struct bn_wire_ack *m);
int bn_wire_heartbeat_encode(struct bn_buf *out, const struct bn_wire_heartbeat *m);
int bn_wire_error_encode(struct bn_buf *out, int code, const char *msg);
int bn_wire_action_encode(struct bn_buf *out, const struct bn_wire_action *m);
int bn_wire_result_encode(struct bn_buf *out, const struct bn_wire_result *m);
int bn_wire_result_ack_encode(struct bn_buf *out, uint64_t action_id);

/*
 * Decoders take a payload (the bytes after the header, borrowed; the result points into
 * them). Trailing bytes, short fields and over-limit lengths are refused: BN_EPROTO or
 * BN_ETOOBIG with e.
 */
int bn_wire_enroll_decode(const uint8_t *p, size_t n, struct bn_wire_enroll *m,
                          struct bn_wire_err *e);
int bn_wire_enroll_ok_decode(const uint8_t *p, size_t n, struct bn_wire_enroll_ok *m,
                             struct bn_wire_err *e);
int bn_wire_hello_decode(const uint8_t *p, size_t n, struct bn_wire_hello *m,
                         struct bn_wire_err *e);
int bn_wire_welcome_decode(const uint8_t *p, size_t n, struct bn_wire_welcome *m,
                           struct bn_wire_err *e);
int bn_wire_ack_decode(const uint8_t *p, size_t n, struct bn_wire_ack *m, struct bn_wire_err *e);
int bn_wire_heartbeat_decode(const uint8_t *p, size_t n, struct bn_wire_heartbeat *m,
                             struct bn_wire_err *e);
int bn_wire_error_decode(const uint8_t *p, size_t n, struct bn_wire_error *m,
                         struct bn_wire_err *e);
int bn_wire_action_decode(const uint8_t *p, size_t n, struct bn_wire_action *m,
                          struct bn_wire_err *e);
int bn_wire_result_decode(const uint8_t *p, size_t n, struct bn_wire_result *m,
                          struct bn_wire_err *e);
/* RESULT_ACK payload: u64 action_id (not 0). */
int bn_wire_result_ack_decode(const uint8_t *p, size_t n, uint64_t *action_id,
                              struct bn_wire_err *e);

/* ---- event batches ------------------------------------------------------------------- */

/*
 * BATCH payload: u64 first_seq, u64 last_seq, u32 count, u8 codec, u32 raw_len, body (u32
 * length + bytes), signature (64 bytes). The body decompresses to exactly raw_len bytes of
 * count records "u64 seq, u32 len, bytes" with strictly increasing seqs from first_seq to
 * last_seq. The signature is Ed25519 over "BNB1" || session nonce || the payload up to the
 * signature.
 */
struct bn_wire_batch {
    uint64_t first_seq, last_seq;
    uint32_t count;
    uint8_t codec;
    uint32_t raw_len;
    const uint8_t *body;
    uint32_t body_len;
    const uint8_t *sig;
    const uint8_t *signed_part; /* the payload up to the signature */
    size_t signed_len;
};

/* One event of a batch: data borrowed from the unpacker, valid until its next use. */
struct bn_wire_event {
    uint64_t seq;
    const char *data;
    uint32_t len;
};

/* Parses the BATCH payload's fields (nothing is decompressed or verified yet). */
int bn_wire_batch_parse(const uint8_t *p, size_t n, struct bn_wire_batch *b, struct bn_wire_err *e);
/* Checks the signature with the agent's public key and the session nonce: 0 or BN_EPROTO. */
int bn_wire_batch_verify(const struct bn_wire_batch *b, const uint8_t *nonce, const uint8_t *pk);

/* Decompresses and splits batches; reusable (keeps its buffers). */
struct bn_wire_unpacker;
int bn_wire_unpacker_new(struct bn_wire_unpacker **out);
void bn_wire_unpacker_free(struct bn_wire_unpacker *u);
/*
 * Decompresses b's body and splits it into events. Returns 0 with *ev (borrowed until the
 * next call) and *n == b->count, or BN_EPROTO / BN_ETOOBIG with e (size mismatch, bad
 * record framing, seqs out of order or not matching first/last, a record too long).
 */
int bn_wire_unpack(struct bn_wire_unpacker *u, const struct bn_wire_batch *b,
                   const struct bn_wire_event **ev, size_t *n, struct bn_wire_err *e);

/* Builds batches: add events, then seal one signed BATCH frame. Reusable. */
struct bn_wire_packer;
int bn_wire_packer_new(struct bn_wire_packer **out, int zstd_level);
void bn_wire_packer_free(struct bn_wire_packer *p);
/* Starts a new batch (forgets the events added so far). */
void bn_wire_packer_reset(struct bn_wire_packer *p);
/* Events and raw bytes in the batch being built. */
size_t bn_wire_packer_count(const struct bn_wire_packer *p);
size_t bn_wire_packer_raw_len(const struct bn_wire_packer *p);
uint64_t bn_wire_packer_last_seq(const struct bn_wire_packer *p);
/*
 * Adds one event (data borrowed, copied). seq must be greater than the previous one's.
 * BN_ETOOBIG when the event or the batch would go over the limits (the batch is unchanged:
 * seal it and start another), BN_EINVAL for a seq out of order.
 */
int bn_wire_packer_add(struct bn_wire_packer *p, uint64_t seq, const void *data, size_t len);
/* Compresses, signs (sk: BN_WIRE_SK bytes) and appends the BATCH frame to out. */
int bn_wire_packer_seal(struct bn_wire_packer *p, const uint8_t *nonce, const uint8_t *sk,
                        struct bn_buf *out);

/* ---- helpers ----------------------------------------------------------------------- */


/* ---- the agent's side of the link (src/wire/client.c) ------------------------------------ */

/*
 * A blocking TLS 1.3 client connection to a manager. Used by the agent's uplink thread and
 * by tests. Socket timeouts bound every call.
 */
struct bn_wire_conn;

struct bn_wire_tls {
    const char *ca_file;   /* sessions: the server CA from enrolment (PEM) */
    const char *pin_fp;    /* enrolment: SHA-256 hex of a CA in the server's chain */
    const char *cert_file; /* client certificate (PEM), NULL for enrolment */
    const char *key_file;
};

/* Connects to "host:port" ("[v6]:port") and completes the handshake. Errors with a reason
 * in err: -errno, BN_EDENIED (pin or chain), BN_EPROTO (TLS). */
int bn_wire_connect(struct bn_wire_conn **out, const char *hostport, const struct bn_wire_tls *t,
                    int timeout_ms, char *err, size_t errsz);
void bn_wire_close(struct bn_wire_conn *c);
int bn_wire_fd(const struct bn_wire_conn *c);
/* Sends bytes (whole frames). 0 or BN_EIO. */
int bn_wire_send(struct bn_wire_conn *c, const void *p, size_t n);
/*
 * Receives one frame: waits up to timeout_ms (0 = only what is buffered), returns 0 with
 * *type and the payload (borrowed until the next call), BN_AGAIN when nothing came in time,
 * BN_EOF when the peer closed, BN_EPROTO/BN_ETOOBIG with e for a bad frame, BN_EIO.
 */
int bn_wire_recv(struct bn_wire_conn *c, int timeout_ms, int *type, const uint8_t **payload,
                 uint32_t *len, struct bn_wire_err *e);

/* What enrolment left in the agent's link directory. */
struct bn_wire_ident {
    char dir[3800];
    char server[300]; /* host:port enrolled with */
    char uid[64];
    int64_t tenant_id, agent_id;
    uint8_t pk[BN_WIRE_PK];
    uint8_t sk[BN_WIRE_SK];
};

/*
 * Enrols with the manager at hostport using token: creates the TLS key and CSR and the
 * Ed25519 signing key, pins the server CA by the token's fingerprint, and writes into dir
 * (created 0700): agent.key, agent.crt, server-ca.crt, sign.key, enrolment. Fills *id.
 * Errors with a sentence in err (BN_EDENIED for a refused token, with the manager's reason).
 */
int bn_wire_enroll_run(const char *hostport, const char *token, const char *dir,
                       const char *hostname, uint64_t heartbeat_ms, int timeout_ms,
                       struct bn_wire_ident *id, char *err, size_t errsz);
/* The `enroll` subcommand of a program that links to the manager (bannin-agent, bannin-sensor). */
struct bn_wire_enroll_cli {
    const char *prog;          /* "bannin-agent": starts every message */
    const char *role;          /* "agent": "enrolled as <role> 7 ..." */
    const char *dir;           /* default link directory (--dir) */
    long long heartbeat_ms;    /* default --heartbeat */
    const char *host_fallback; /* --host when gethostname fails */
    void (*usage)(int to_stderr);
};
/*
 * Parses --server, --token, --dir, --host, --heartbeat and --help from argv (argv[0] is the
 * subcommand), runs bn_wire_enroll_run and reports on stdout/stderr. Returns the exit status:
 * 0 enrolled (or --help), 1 enrolment failed, 2 bad command line.
 */
int bn_wire_enroll_main(const struct bn_wire_enroll_cli *cli, int argc, char **argv);
/* Loads an enrolment from dir. BN_ENOTFOUND when dir holds none, else errors with err. */
int bn_wire_ident_load(const char *dir, struct bn_wire_ident *id, char *err, size_t errsz);

/*
 * Opens a session: connects with the agent's certificate, sends HELLO, waits for WELCOME.
 * server NULL = the enrolled one. Returns 0 with *out, the session nonce and the manager's
 * last stored seq; errors with err (the manager's ERROR reason when it refused).
 */
int bn_wire_session_open(struct bn_wire_conn **out, const struct bn_wire_ident *id,
                         const char *server, const struct bn_wire_hello *hello, int timeout_ms,
                         uint8_t *nonce, uint64_t *last_seq, char *err, size_t errsz);

#endif
