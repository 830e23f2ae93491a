/*
 * worker.c - collector threads: start with a stop eventfd, stop by signalling and joining.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "agent/worker.h"

void
agent_worker_init(struct agent_worker *w)
{
    memset(w, 0, sizeof(*w));
    w->stopfd = -1;
}

int
agent_worker_start(struct agent_worker *w, const char *name, void *(*fn)(void *), void *arg,
                   struct bn_diag *d)
{
    w->stopfd = eventfd(0, EFD_CLOEXEC);
    if (w->stopfd < 0)
        return bn_diag_set(d, -errno, name, 0, 0, "eventfd failed: %s", strerror(errno));
    int rc = pthread_create(&w->thread, NULL, fn, arg);
    if (rc)
        return bn_diag_set(d, -rc, name, 0, 0, "cannot start thread: %s", strerror(rc));
    w->running = true;
    return 0;
}

void
agent_worker_stop(struct agent_worker *w)
{
    if (w->running) {
        uint64_t one = 1;
        if (write(w->stopfd, &one, sizeof(one)) < 0)
            pthread_cancel(w->thread);
        pthread_join(w->thread, NULL);
        w->running = false;
    }
    if (w->stopfd >= 0)
        close(w->stopfd);
    w->stopfd = -1;
}
