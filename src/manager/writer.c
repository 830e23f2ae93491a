/*
 * writer.c - the store writer thread and its job queues (see writer.h).
 */
#include <pthread.h>
#include <stddef.h>

#include "bannin/alloc.h"
#include "bannin/error.h"

#include "manager/writer.h"

struct writer {
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* work queued, or stop */
    pthread_cond_t idle; /* the queue ran empty */
    struct writer_job *qhead, *qtail;
    struct writer_job *dhead, *dtail;
    size_t inflight; /* queued + running */
    bool stop;
    writer_group_fn group;
    writer_notify_fn notify;
    void *ctx;
    size_t group_max;
};

static void *
writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->qhead && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->qhead)
            break; /* stop, nothing left */
        /* one group: jobs until the bound */
        struct writer_job *list = w->qhead, *last = w->qhead;
        size_t ev = last->events, n = 1;
        while (last->next && ev + last->next->events <= w->group_max) {
            last = last->next;
            ev += last->events;
            n++;
        }
        w->qhead = last->next;
        if (!w->qhead)
            w->qtail = NULL;
        last->next = NULL;
        pthread_mutex_unlock(&w->mu);

        w->group(w->ctx, list);

        pthread_mutex_lock(&w->mu);
        if (w->dtail)
            w->dtail->next = list;
        else
            w->dhead = list;
        w->dtail = last;
        pthread_mutex_unlock(&w->mu);
        /* before the count drops: writer_drain returns only after the last notify */
        w->notify(w->ctx);
        pthread_mutex_lock(&w->mu);
        w->inflight -= n;
        if (!w->inflight)
            pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int
writer_new(struct writer **out, writer_group_fn group, writer_notify_fn notify, void *ctx,
           size_t group_events_max)
{
    *out = NULL;
    struct writer *w = bn_calloc(1, sizeof(*w));
    if (!w)
        return BN_ENOMEM;
    w->group = group;
    w->notify = notify;
    w->ctx = ctx;
    w->group_max = group_events_max ? group_events_max : 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle, NULL);
    if (pthread_create(&w->thr, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        bn_free(w);
        return BN_EINTERNAL;
    }
    *out = w;
    return 0;
}

void
writer_push(struct writer *w, struct writer_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->qtail)
        w->qtail->next = job;
    else
        w->qhead = job;
    w->qtail = job;
    w->inflight++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

struct writer_job *
writer_done(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    struct writer_job *l = w->dhead;
    w->dhead = w->dtail = NULL;
    pthread_mutex_unlock(&w->mu);
    return l;
}

void
writer_drain(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->inflight)
        pthread_cond_wait(&w->idle, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

size_t
writer_inflight(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    size_t n = w->inflight;
    pthread_mutex_unlock(&w->mu);
    return n;
}

void
writer_free(struct writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thr, NULL);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    bn_free(w);
}
