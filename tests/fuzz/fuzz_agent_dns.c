/*
 * fuzz_agent_dns.c - libFuzzer target for the agent's DNS question parser: the bytes are a
 * UDP payload any process on the host sent, so any input must parse or be refused without
 * reading outside it, for every output size.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/agent.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char out[256];
    char tiny[4];
    if (agent_bpf_dns_question(data, size, out, sizeof(out)) == 0 &&
        memchr(out, '\0', sizeof(out)) == NULL)
        __builtin_trap(); /* a success must leave a NUL-terminated name */
    (void)agent_bpf_dns_question(data, size, tiny, sizeof(tiny));
    return 0;
}
