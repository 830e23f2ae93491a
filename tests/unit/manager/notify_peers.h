/*
 * notify_peers.h - real loopback peers for the notification tests: an HTTP server thread that
 * records requests and answers with a settable status, an SMTP server thread that accepts
 * mail, and syslog receivers (UDP socket, TCP listener). Test-only; no mocks of our code.
 */
#ifndef BANNIN_TEST_NOTIFY_PEERS_H
#define BANNIN_TEST_NOTIFY_PEERS_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_REQ_MAX 64

struct http_req {
    char head[4096];
    char *body;
    size_t body_len;
};

struct http_peer {
    int fd;
    int port;
    pthread_t th;
    atomic_int stop;
    atomic_int status;          /* answer with this HTTP status */
    pthread_mutex_t mu;
    struct http_req reqs[PEER_REQ_MAX];
    int nreq;
};

static inline int
peer_listen(int type, int port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        (type == SOCK_STREAM && listen(fd, 16) != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline int
peer_port(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

/* Reads until the predicate-terminated message is complete or 5 s pass. */
static inline ssize_t
peer_read(int fd, char *buf, size_t cap, size_t have)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0)
        return -1;
    ssize_t r = read(fd, buf + have, cap - have - 1);
    if (r > 0)
        buf[have + (size_t)r] = '\0';
    return r;
}

static inline void
http_serve_one(struct http_peer *h, int c)
{
    char buf[65536];
    size_t have = 0;
    char *end = NULL;
    buf[0] = '\0';
    while (!(end = strstr(buf, "\r\n\r\n"))) {
        ssize_t r = peer_read(c, buf, sizeof(buf), have);
        if (r <= 0)
            return;
        have += (size_t)r;
        if (have + 1 >= sizeof(buf))
            return;
    }
    size_t hl = (size_t)(end - buf) + 4;
    size_t clen = 0;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (cl)
        clen = strtoul(cl + 17, NULL, 10);
    while (have < hl + clen) {
        ssize_t r = peer_read(c, buf, sizeof(buf), have);
        if (r <= 0)
            return;
        have += (size_t)r;
    }
    pthread_mutex_lock(&h->mu);
    if (h->nreq < PEER_REQ_MAX) {
        struct http_req *q = &h->reqs[h->nreq++];
        size_t n = hl < sizeof(q->head) ? hl : sizeof(q->head) - 1;
        memcpy(q->head, buf, n);
        q->head[n] = '\0';
        q->body = malloc(clen + 1);
        memcpy(q->body, buf + hl, clen);
        q->body[clen] = '\0';
        q->body_len = clen;
    }
    pthread_mutex_unlock(&h->mu);
    char resp[128];
    int st = atomic_load(&h->status);
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", st);
    (void)!write(c, resp, (size_t)n);
}

static inline void *
http_main(void *arg)
{
    struct http_peer *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd p = {.fd = h->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        http_serve_one(h, c);
        close(c);
    }
    return NULL;
}

/* Starts an HTTP peer on port (0 = any free port). Returns 0 or -1. */
static inline int
http_peer_start(struct http_peer *h, int port, int status)
{
    memset(h, 0, sizeof(*h));
    h->fd = peer_listen(SOCK_STREAM, port);
    if (h->fd < 0)
        return -1;
    h->port = peer_port(h->fd);
    atomic_store(&h->status, status);
    pthread_mutex_init(&h->mu, NULL);
    return pthread_create(&h->th, NULL, http_main, h) == 0 ? 0 : -1;
}

static inline int
http_peer_count(struct http_peer *h)
{
    pthread_mutex_lock(&h->mu);
    int n = h->nreq;
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* Stops the peer (its port is closed: the channel is "down"); requests stay readable. */
static inline void
http_peer_stop(struct http_peer *h)
{
    atomic_store(&h->stop, 1);
    pthread_join(h->th, NULL);
    close(h->fd);
}

static inline void
http_peer_free(struct http_peer *h)
{
    for (int i = 0; i < h->nreq; i++)
        free(h->reqs[i].body);
    pthread_mutex_destroy(&h->mu);
}

/* ---- SMTP -------------------------------------------------------------------------------- */

struct smtp_peer {
    int fd;
    int port;
    pthread_t th;
    char from[256];
    char rcpt[4][256];
    int nrcpt;
    char data[65536];
    int done;
};

static inline int
smtp_line(int c, char *buf, size_t cap, size_t *have, char *line, size_t lcap)
{
    for (;;) {
        char *nl = memchr(buf, '\n', *have);
        if (nl) {
            size_t l = (size_t)(nl - buf) + 1;
            size_t n = l < lcap ? l : lcap - 1;
            memcpy(line, buf, n);
            line[n] = '\0';
            memmove(buf, buf + l, *have - l);
            *have -= l;
            return 0;
        }
        ssize_t r = peer_read(c, buf, cap, *have);
        if (r <= 0)
            return -1;
        *have += (size_t)r;
    }
}

static inline void
smtp_say(int c, const char *s)
{
    (void)!write(c, s, strlen(s));
}

static inline void *
smtp_main(void *arg)
{
    struct smtp_peer *s = arg;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, 10000) <= 0)
        return NULL;
    int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return NULL;
    char buf[8192], line[2048];
    size_t have = 0;
    smtp_say(c, "220 peer ESMTP test\r\n");
    while (smtp_line(c, buf, sizeof(buf), &have, line, sizeof(line)) == 0) {
        if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
            smtp_say(c, "250-peer\r\n250 8BITMIME\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
            snprintf(s->from, sizeof(s->from), "%.250s", line + 10);
            s->from[strcspn(s->from, "\r\n")] = '\0';
            smtp_say(c, "250 ok\r\n");
        } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            if (s->nrcpt < 4) {
                snprintf(s->rcpt[s->nrcpt], sizeof(s->rcpt[0]), "%.250s", line + 8);
                s->rcpt[s->nrcpt][strcspn(s->rcpt[s->nrcpt], "\r\n")] = '\0';
                s->nrcpt++;
            }
            smtp_say(c, "250 ok\r\n");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            smtp_say(c, "354 end with .\r\n");
            size_t dl = 0;
            while (smtp_line(c, buf, sizeof(buf), &have, line, sizeof(line)) == 0) {
                if (strcmp(line, ".\r\n") == 0)
                    break;
                size_t l = strlen(line);
                if (dl + l + 1 < sizeof(s->data)) {
                    memcpy(s->data + dl, line, l);
                    dl += l;
                    s->data[dl] = '\0';
                }
            }
            smtp_say(c, "250 queued as 1\r\n");
            s->done = 1;
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            smtp_say(c, "221 bye\r\n");
            break;
        } else {
            smtp_say(c, "502 not implemented\r\n");
        }
    }
    close(c);
    return NULL;
}

static inline int
smtp_peer_start(struct smtp_peer *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = peer_listen(SOCK_STREAM, 0);
    if (s->fd < 0)
        return -1;
    s->port = peer_port(s->fd);
    return pthread_create(&s->th, NULL, smtp_main, s) == 0 ? 0 : -1;
}

static inline void
smtp_peer_stop(struct smtp_peer *s)
{
    pthread_join(s->th, NULL);
    close(s->fd);
}

#endif
