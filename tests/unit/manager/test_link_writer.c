/*
 * test_link_writer.c - the store writer thread's queue (src/manager/writer.c): groups taken
 * in order and cut at the event bound (a job over the bound alone), every job handed back
 * once in FIFO order, drain waits for the last notify, jobs still queued at free are run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "manager/writer.h"

struct job {
    struct writer_job wj;
    int id;
    int group; /* the group that ran it */
};

struct ctx {
    pthread_mutex_t mu;
    int groups;
    size_t max_group_events;
    int notifies;
    int order_ok;
    int last_id;
    int hold; /* the first group waits until released, so later pushes queue up */
};

static void
group(void *p, struct writer_job *list)
{
    struct ctx *c = p;
    while (__atomic_load_n(&c->hold, __ATOMIC_ACQUIRE))
        usleep(1000);
    pthread_mutex_lock(&c->mu);
    c->groups++;
    size_t ev = 0;
    for (struct writer_job *w = list; w; w = w->next) {
        struct job *j = (struct job *)w;
        j->group = c->groups;
        ev += w->events;
        if (j->id != c->last_id + 1)
            c->order_ok = 0;
        c->last_id = j->id;
    }
    if (ev > c->max_group_events)
        c->max_group_events = ev;
    pthread_mutex_unlock(&c->mu);
}

static void
notify(void *p)
{
    struct ctx *c = p;
    pthread_mutex_lock(&c->mu);
    c->notifies++;
    pthread_mutex_unlock(&c->mu);
}

static void
test_groups_and_order(void **state)
{
    (void)state;
    struct ctx c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 1, 0, 1};
    struct writer *w;
    assert_int_equal(writer_new(&w, group, notify, &c, 1000), 0);
    enum { N = 40 };
    struct job jobs[N];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < N; i++) {
        jobs[i].id = i + 1;
        jobs[i].wj.events = i == 7 ? 5000 : 300; /* one over the bound: a group of its own */
        writer_push(w, &jobs[i].wj);
    }
    assert_true(writer_inflight(w) > 0);
    __atomic_store_n(&c.hold, 0, __ATOMIC_RELEASE);
    writer_drain(w);
    assert_int_equal(writer_inflight(w), 0);
    /* every job back once, oldest first */
    int n = 0, prev = 0;
    for (struct writer_job *x = writer_done(w); x; x = x->next) {
        struct job *j = (struct job *)x;
        assert_int_equal(j->id, prev + 1);
        assert_true(j->group > 0);
        prev = j->id;
        n++;
    }
    assert_int_equal(n, N);
    assert_null(writer_done(w));
    assert_int_equal(c.order_ok, 1);
    /* at most 1000 events per group except the 5000-event job alone */
    assert_int_equal(c.max_group_events, 5000);
    assert_true(jobs[6].group != jobs[7].group && jobs[7].group != jobs[8].group);
    for (int i = 0; i + 1 < N; i++)
        if (i != 6 && i != 7 && jobs[i].group == jobs[i + 1].group)
            assert_true(jobs[i].wj.events + jobs[i + 1].wj.events <= 1000);
    /* one notify per group, all of them before drain returned */
    assert_int_equal(c.notifies, c.groups);
    assert_true(c.groups >= 2 && c.groups < N);
    writer_free(w);
}

static void
test_free_runs_queued(void **state)
{
    (void)state;
    struct ctx c = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 1, 0, 0};
    struct writer *w;
    assert_int_equal(writer_new(&w, group, notify, &c, 10), 0);
    struct job jobs[5];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 5; i++) {
        jobs[i].id = i + 1;
        jobs[i].wj.events = 10;
        writer_push(w, &jobs[i].wj);
    }
    writer_free(w);
    assert_int_equal(c.last_id, 5);
    assert_int_equal(c.groups, 5);
    for (int i = 0; i < 5; i++)
        assert_true(jobs[i].group > 0);
    writer_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_and_order),
        cmocka_unit_test(test_free_runs_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
