/*
 * persist.h - which file paths are persistence or tamper points.
 *
 * Every file collector (eBPF, fanotify, polling) runs its events through
 * agent_persist_tag() so that a write to a crontab, a systemd unit, a shell profile,
 * authorized_keys, the account databases, sudoers, ld.so.preload, PAM or the kernel
 * module directories carries a category, and is kept at high priority when the spool
 * has to shed.
 */
#ifndef BANNIN_AGENT_PERSIST_H
#define BANNIN_AGENT_PERSIST_H

#include "agent/agent.h"

/*
 * Classifies path (borrowed, absolute; "//", "/./" and ".." are resolved lexically).
 * Returns a static category string such as "persistence.cron", "persistence.systemd",
 * "persistence.shell_profile", "persistence.authorized_keys", "persistence.account",
 * "persistence.sudoers", "persistence.ld_preload", "persistence.pam",
 * "persistence.kernel_module", "persistence.ssh", "persistence.autostart" or
 * "tamper.agent", or NULL when the path is not sensitive (or too long or relative).
 */
const char *agent_persist_classify(const char *path);

/*
 * Sets ev->category from ev->path, else ev->path2 (a rename onto a sensitive path
 * counts), and raises ev->prio to AGENT_PRIO_HIGH when one matches; otherwise leaves them
 * alone. Either way sets ev->persist_tagged, so the loop does not classify the same paths
 * a second time. Returns the category or NULL.
 */
const char *agent_persist_tag(struct agent_event *ev);

#endif
