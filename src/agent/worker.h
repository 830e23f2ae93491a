/*
 * worker.h - the reader thread a collector runs, with the eventfd that tells it to stop.
 * The thread polls `stopfd` beside its own descriptors and returns when it is readable.
 */
#ifndef BANNIN_AGENT_WORKER_H
#define BANNIN_AGENT_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "bannin/diag.h"

struct agent_worker {
    pthread_t thread;
    int stopfd;     /* readable once agent_worker_stop() asks the thread to return */
    bool running;
};

struct agent;

/*
 * Reports that a collector lost events (a queue overflow, a socket overrun): a critical
 * status event naming the collector, why, and the running count under `counter`.
 */
void agent_collector_lost(struct agent *a, enum agent_tier tier, const char *collector,
                          const char *why, const char *counter, uint64_t count);

/* Prepares an embedded worker (no thread, no descriptor). */
void agent_worker_init(struct agent_worker *w);
/* Creates the stop eventfd and starts fn(arg). 0, or -errno with d naming who (`name`). */
int agent_worker_start(struct agent_worker *w, const char *name, void *(*fn)(void *), void *arg,
                       struct bn_diag *d);
/* In the worker's thread: blocks until fd is readable (true) or a stop was asked for or
 * poll failed (false). EINTR is retried. */
bool agent_worker_wait(struct agent_worker *w, int fd);
/* Signals the thread, joins it and closes the eventfd. Safe on a worker never started. */
void agent_worker_stop(struct agent_worker *w);

#endif
