/*
 * worker.h - the reader thread a collector runs, with the eventfd that tells it to stop.
 * The thread polls `stopfd` beside its own descriptors and returns when it is readable.
 */
#ifndef BANNIN_AGENT_WORKER_H
#define BANNIN_AGENT_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "bannin/diag.h"

struct agent_worker {
    pthread_t thread;
    int stopfd;     /* readable once agent_worker_stop() asks the thread to return */
    bool running;
};

/* Prepares an embedded worker (no thread, no descriptor). */
void agent_worker_init(struct agent_worker *w);
/* Creates the stop eventfd and starts fn(arg). 0, or -errno with d naming who (`name`). */
int agent_worker_start(struct agent_worker *w, const char *name, void *(*fn)(void *), void *arg,
                       struct bn_diag *d);
/* Signals the thread, joins it and closes the eventfd. Safe on a worker never started. */
void agent_worker_stop(struct agent_worker *w);

#endif
