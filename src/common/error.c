/*
 * error.c - text for BN_E* codes and -errno values.
 */
#include <string.h>

#include "bannin/error.h"
#include "bannin/common.h"

const char *
bn_strerror(int err)
{
    switch (err) {
    case BN_OK: return "success";
    case BN_ENOMEM: return "out of memory";
    case BN_EINVAL: return "invalid argument";
    case BN_ETOOBIG: return "over a size limit";
    case BN_EPARSE: return "malformed input";
    case BN_EUNSUP: return "unsupported feature";
    case BN_ENOTFOUND: return "not found";
    case BN_EIO: return "input/output error";
    case BN_EFORMAT: return "unrecognised format";
    case BN_ETRUNC: return "truncated input";
    case BN_EEXIST: return "already exists";
    case BN_EINTERNAL: return "internal library error";
    case BN_ECORRUPT: return "stored data is corrupt";
    case BN_EDENIED: return "not allowed";
    case BN_EFULL: return "out of space";
    case BN_EPROTO: return "protocol violation";
    case BN_AGAIN: return "need more input";
    case BN_DECLINED: return "declined";
    case BN_EOF: return "end of input";
    default:
        break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}
