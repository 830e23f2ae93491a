/*
 * action_queue_respond.c - the agent's action queue: the generic queue (action_queue.c, in
 * bannin_link, shared with the network sensor, which refuses actions) running each action
 * through the agent's executors (respond.c).
 */
#include "agent/action_queue.h"
#include "agent/respond_log.h"

static int
run_action(void *ctx, uint64_t action_id, const char *type, const char *params, size_t params_len,
           struct bn_buf *out)
{
    return agent_respond_ex(ctx, action_id, "manager", type, params, params_len, out);
}

int
action_queue_new(struct action_queue **out, struct respond *r, const char *state_dir)
{
    return action_queue_new_exec(out, run_action, r, state_dir);
}
