/*
 * worker.c - what collectors share: their reader thread (started with a stop eventfd,
 * stopped by signalling and joining) and the status event that reports lost events.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
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

bool
agent_worker_wait(struct agent_worker *w, int fd)
{
    struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = w->stopfd, .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        return pfd[1].revents == 0;
    }
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

void
agent_collector_lost(struct agent *a, enum agent_tier tier, const char *collector,
                     const char *why, const char *counter, uint64_t count)
{
    struct agent_event ev;
    struct timespec ts;
    char n[32];
    memset(&ev, 0, sizeof(ev));
    clock_gettime(CLOCK_REALTIME, &ts);
    ev.kind = AGENT_EV_STATUS;
    ev.prio = AGENT_PRIO_CRITICAL;
    ev.tier = tier;
    ev.ts_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    ev.proc.pid = getpid();
    snprintf(n, sizeof(n), "%" PRIu64, count);
    ev.extra_keys[0] = "collector";
    ev.extra_vals[0] = (char *)collector;
    ev.extra_keys[1] = "status";
    ev.extra_vals[1] = (char *)why;
    ev.extra_keys[2] = counter;
    ev.extra_vals[2] = n;
    ev.nextra = 3;
    (void)agent_emit(a, &ev); /* a critical event; if even it is refused, it was counted */
}
