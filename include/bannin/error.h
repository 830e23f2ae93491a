/*
 * error.h - libbannin error codes.
 *
 * Fallible functions return 0 on success or a negative BN_E* code. Syscall failures are
 * returned as -errno, so bn_strerror() understands both.
 */
#ifndef BANNIN_ERROR_H
#define BANNIN_ERROR_H

enum bn_err {
    BN_OK = 0,
    BN_ENOMEM = -10001,   /* allocation failed */
    BN_EINVAL = -10002,   /* invalid argument or input */
    BN_ETOOBIG = -10003,  /* a hard limit from limits.h was exceeded */
    BN_EPARSE = -10004,   /* malformed input; details in the diagnostic */
    BN_EUNSUP = -10005,   /* valid input using a feature we do not support */
    BN_ENOTFOUND = -10006, /* named thing does not exist */
    BN_EIO = -10007,      /* read or write failed */
    BN_EFORMAT = -10008,  /* input is not in the expected format */
    BN_ETRUNC = -10009,   /* input ended early */
    BN_EEXIST = -10010,   /* already exists */
    BN_EINTERNAL = -10011, /* a library we use failed in an unexpected way */
    BN_ECORRUPT = -10012, /* stored data failed an integrity check */
    BN_EDENIED = -10013,  /* not allowed: role, tenant, policy or credentials */
    BN_EFULL = -10014,    /* out of space (disk or a bound that stops accepting) */
    BN_EPROTO = -10015,   /* a peer broke the protocol (bad frame, signature, sequence) */
    /* States, not errors (nginx NGX_AGAIN / NGX_DECLINED): */
    BN_AGAIN = -10100,    /* need more bytes */
    BN_DECLINED = -10101, /* not mine / nothing to do */
    BN_EOF = -10102,      /* end of input */
};

/* Returns a static description of a BN_E* code or of -errno. Never NULL. */
const char *bn_strerror(int err);

#endif
