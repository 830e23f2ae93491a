/*
 * fuzz_agent_syslog.c - libFuzzer target for the framing of the auth collector's syslog
 * socket source: the input is one datagram as a program would send it to /dev/log (RFC
 * 3164 as glibc's syslog() writes it, RFC 5424, or anything). It must be split or refused
 * with a reason, without a crash, a leak or a read past the datagram; what splits goes on
 * to the auth line parser as the collector does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0; /* the collector's datagram buffer */
    /* exactly size + 1 bytes: the split may write the terminator at buf[size] only */
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = 'X'; /* not a terminator: the split must put its own */
    struct agent_syslog_msg m;
    if (agent_syslog_split(buf, size, &m) == 0) {
        if (!m.ident || !m.msg || !m.host || strlen(m.ident) > 64 || m.facility < 0 ||
            m.facility > 23 || m.severity < 0 || m.severity > 7 || m.pid < 0)
            abort();
        struct agent_event ev;
        if (agent_auth_parse(m.ident, m.pid, m.msg, &ev) == 0)
            agent_auth_event_release(&ev);
    } else if (!m.why || !m.why[0]) {
        abort(); /* a refusal always says why */
    }
    free(buf);
    return 0;
}
