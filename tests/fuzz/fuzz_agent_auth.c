/*
 * fuzz_agent_auth.c - libFuzzer target for the agent's auth line parser and its
 * persistence path classifier: the input is "ident\nmessage"; any bytes must parse or be
 * declined without a crash or a leak. The message is also classified as a file path.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/persist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *msg = strchr(buf, '\n');
    const char *ident = "sshd";
    if (msg) {
        *msg++ = '\0';
        ident = buf;
    } else {
        msg = buf;
    }
    struct agent_event ev;
    if (agent_auth_parse(ident, 1, msg, &ev) == 0)
        agent_auth_event_release(&ev);
    (void)agent_persist_classify(msg);
    free(buf);
    return 0;
}
