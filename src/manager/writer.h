/*
 * writer.h - the manager's store writer thread (experimental, `bannind --writer-thread`):
 * the link's loop thread does TLS, signature checks and batch decoding, and hands each
 * decoded batch to this thread as a job; the thread takes every queued job (up to a group
 * bound), runs the caller's group function on them (insert, detection, one commit) and
 * hands the finished jobs back (writer_done), waking the loop with the notify callback.
 *
 * The queue is bounded by its user: the link keeps at most one batch per connection in
 * flight (a connection is not read while its batch waits for the commit).
 */
#ifndef BANNIN_MANAGER_WRITER_H
#define BANNIN_MANAGER_WRITER_H

#include <stdbool.h>
#include <stddef.h>

/* Embedded at the start of the caller's job. */
struct writer_job {
    struct writer_job *next;
    size_t events; /* counted against the group bound */
};

/* Runs on the writer thread with the jobs of one group (a FIFO list). */
typedef void (*writer_group_fn)(void *ctx, struct writer_job *list);
/* Runs on the writer thread after a group is done: wake the consumer (uv_async_send). */
typedef void (*writer_notify_fn)(void *ctx);

struct writer;

/* Starts the thread. group_events_max: a group takes jobs until it holds this many events
 * (at least one job). 0 or a BN_E* code. */
int writer_new(struct writer **out, writer_group_fn group, writer_notify_fn notify, void *ctx,
               size_t group_events_max);
/* Queues a job (thread-safe). */
void writer_push(struct writer *w, struct writer_job *job);
/* Takes the finished jobs, oldest first (thread-safe); NULL when none. */
struct writer_job *writer_done(struct writer *w);
/* Blocks until nothing is queued or running. */
void writer_drain(struct writer *w);
/* Jobs queued or running now. */
size_t writer_inflight(struct writer *w);
/* Stops and joins the thread (jobs still queued are run first). NULL is a no-op. The
 * finished jobs not taken are left for the caller: take them with writer_done before. */
void writer_free(struct writer *w);

#endif
