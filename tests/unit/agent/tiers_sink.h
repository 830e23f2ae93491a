/*
 * tiers_sink.h - an agent_emit() for the tier 2/3 collector tests: events are copied into
 * an in-memory list the test searches, instead of the agent's queue. Defining agent_emit
 * here keeps the agent's loop (agent.c) out of these test executables.
 */
#ifndef BANNIN_TESTS_TIERS_SINK_H
#define BANNIN_TESTS_TIERS_SINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bannin/config.h" /* struct bn_conf_def, used by agent.h */
#include "agent/agent.h"

#define SINK_MAX 200000

struct sink_rec {
    enum agent_kind kind;
    enum agent_tier tier;
    struct agent_proc proc;      /* strings owned by the sink */
    struct agent_proc parent;
    char *path, *path2;
    const char *category;
    int exit_code;
    uint32_t mode;
    uid_t new_uid;
    gid_t new_gid;
    uint8_t proto, family;
    bool initiated, listen;
    uint8_t saddr[16], daddr[16];
    uint16_t sport, dport;
    char extras[2048];           /* "k=v\n" lines */
};

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sink_rec *sink_recs;
static size_t sink_n;
static size_t sink_dropped;

static char *
sink_dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
sink_copy_proc(struct agent_proc *d, const struct agent_proc *s)
{
    *d = *s;
    d->exe = sink_dup(s->exe);
    d->cmdline = sink_dup(s->cmdline);
    d->cwd = sink_dup(s->cwd);
    d->tty = sink_dup(s->tty);
    d->cgroup = sink_dup(s->cgroup);
}

static void
sink_free_proc(struct agent_proc *p)
{
    free(p->exe);
    free(p->cmdline);
    free(p->cwd);
    free(p->tty);
    free(p->cgroup);
}

int
agent_emit(struct agent *a, const struct agent_event *ev)
{
    (void)a;
    pthread_mutex_lock(&sink_lock);
    if (!sink_recs)
        sink_recs = calloc(SINK_MAX, sizeof(*sink_recs));
    if (!sink_recs || sink_n >= SINK_MAX) {
        sink_dropped++;
        pthread_mutex_unlock(&sink_lock);
        return 0;
    }
    struct sink_rec *r = &sink_recs[sink_n];
    memset(r, 0, sizeof(*r));
    r->kind = ev->kind;
    r->tier = ev->tier;
    sink_copy_proc(&r->proc, &ev->proc);
    sink_copy_proc(&r->parent, &ev->parent);
    r->path = sink_dup(ev->path);
    r->path2 = sink_dup(ev->path2);
    r->category = ev->category;
    r->exit_code = ev->exit_code;
    r->mode = ev->mode;
    r->new_uid = ev->new_uid;
    r->new_gid = ev->new_gid;
    r->proto = ev->proto;
    r->family = ev->family;
    r->initiated = ev->initiated;
    r->listen = ev->listen;
    memcpy(r->saddr, ev->saddr, 16);
    memcpy(r->daddr, ev->daddr, 16);
    r->sport = ev->sport;
    r->dport = ev->dport;
    size_t off = 0;
    for (uint32_t i = 0; i < ev->nextra && i < 16; i++) {
        int k = snprintf(r->extras + off, sizeof(r->extras) - off, "%s=%s\n",
                         ev->extra_keys[i], ev->extra_vals[i] ? ev->extra_vals[i] : "");
        if (k < 0 || (size_t)k >= sizeof(r->extras) - off)
            break;
        off += (size_t)k;
    }
    sink_n++;
    pthread_mutex_unlock(&sink_lock);
    return 0;
}

static void
sink_reset(void)
{
    pthread_mutex_lock(&sink_lock);
    for (size_t i = 0; i < sink_n; i++) {
        sink_free_proc(&sink_recs[i].proc);
        sink_free_proc(&sink_recs[i].parent);
        free(sink_recs[i].path);
        free(sink_recs[i].path2);
    }
    sink_n = 0;
    sink_dropped = 0;
    pthread_mutex_unlock(&sink_lock);
}

static void
sink_done(void)
{
    sink_reset();
    free(sink_recs);
    sink_recs = NULL;
}

typedef bool (*sink_pred)(const struct sink_rec *r, const void *arg);

/* Waits up to ms for a record matching pred; returns a copy index or -1. */
static long
sink_wait(sink_pred pred, const void *arg, int ms)
{
    size_t seen = 0;
    for (int waited = 0;; waited += 10) {
        pthread_mutex_lock(&sink_lock);
        for (size_t i = 0; i < sink_n; i++) {
            if (pred(&sink_recs[i], arg)) {
                pthread_mutex_unlock(&sink_lock);
                return (long)i;
            }
        }
        seen = sink_n;
        pthread_mutex_unlock(&sink_lock);
        if (waited >= ms)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    (void)seen;
    return -1;
}

/* The value of extra key k in r, copied into buf, or NULL. */
static const char *
sink_extra(const struct sink_rec *r, const char *k, char *buf, size_t size)
{
    size_t kl = strlen(k);
    const char *p = r->extras;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        if (strncmp(p, k, kl) == 0 && p[kl] == '=') {
            size_t n = (size_t)(nl - p - (long)kl - 1);
            if (n >= size)
                n = size - 1;
            memcpy(buf, p + kl + 1, n);
            buf[n] = '\0';
            return buf;
        }
        p = nl + 1;
    }
    return NULL;
}

#endif
