/* A tiny TCP peer under the test's control, on 127.0.0.1:
 *  - PROXY: forwards every accepted connection to an upstream port; reset()
 *    aborts every live connection with an RST (SO_LINGER 0) mid-call.
 *  - SILENT: accepts TCP and reads, but never writes a byte (no HTTP/2).
 *  - HTTP1: answers anything with an HTTP/1.1 response, then closes.
 * Threads + blocking sockets; a poll timeout lets each thread see stop/reset. */
#ifndef LRO_TEST_TCPCTL_H
#define LRO_TEST_TCPCTL_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

typedef enum { TCPCTL_PROXY, TCPCTL_SILENT, TCPCTL_HTTP1 } tcpctl_mode;

#define TCPCTL_MAX_CONN 64

typedef struct tcpctl {
    tcpctl_mode mode;
    int lfd;
    int port;
    int upstream_port;
    atomic_int stop;
    atomic_int reset_gen; /* bumped by tcpctl_reset() */
    atomic_int accepted;
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_t conns[TCPCTL_MAX_CONN];
    int nconns;
    char target[64];
} tcpctl;

typedef struct tcpctl_conn {
    tcpctl *t;
    int fd;
} tcpctl_conn;

static inline void tcpctl_abort_fd(int fd)
{
    struct linger l = {1, 0}; /* close() sends RST */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static inline int tcpctl_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static inline void *tcpctl_conn_main(void *arg)
{
    tcpctl_conn *cc = arg;
    tcpctl *t = cc->t;
    int gen = atomic_load(&t->reset_gen);
    int up = -1;
    if (t->mode == TCPCTL_PROXY) {
        up = tcpctl_connect(t->upstream_port);
        if (up < 0) {
            tcpctl_abort_fd(cc->fd);
            free(cc);
            return NULL;
        }
    }
    char buf[16384];
    int sent_http1 = 0;
    for (;;) {
        if (atomic_load(&t->stop) || atomic_load(&t->reset_gen) != gen) {
            break;
        }
        struct pollfd p[2] = {{cc->fd, POLLIN, 0}, {up, POLLIN, 0}};
        int n = poll(p, up >= 0 ? 2 : 1, 20);
        if (n <= 0) {
            continue;
        }
        int done = 0;
        for (int i = 0; i < (up >= 0 ? 2 : 1) && !done; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            ssize_t r = read(p[i].fd, buf, sizeof buf);
            if (r <= 0) {
                done = 1;
                break;
            }
            if (t->mode == TCPCTL_PROXY) {
                int to = i == 0 ? up : cc->fd;
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(to, buf + off, (size_t)(r - off));
                    if (w <= 0) {
                        done = 1;
                        break;
                    }
                    off += w;
                }
            } else if (t->mode == TCPCTL_HTTP1 && !sent_http1) {
                static const char resp[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                           "Connection: close\r\n\r\n";
                ssize_t w = write(cc->fd, resp, sizeof resp - 1);
                (void)w;
                sent_http1 = 1;
                done = 1;
            }
            /* SILENT: swallow the bytes. */
        }
        if (done) {
            break;
        }
    }
    tcpctl_abort_fd(cc->fd);
    if (up >= 0) {
        tcpctl_abort_fd(up);
    }
    free(cc);
    return NULL;
}

static inline void *tcpctl_accept_main(void *arg)
{
    tcpctl *t = arg;
    while (!atomic_load(&t->stop)) {
        struct pollfd p = {t->lfd, POLLIN, 0};
        if (poll(&p, 1, 20) <= 0) {
            continue;
        }
        int fd = accept(t->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        atomic_fetch_add(&t->accepted, 1);
        tcpctl_conn *cc = malloc(sizeof *cc);
        CHECK(cc != NULL);
        cc->t = t;
        cc->fd = fd;
        pthread_mutex_lock(&t->mu);
        if (t->nconns == TCPCTL_MAX_CONN) {
            pthread_mutex_unlock(&t->mu);
            close(fd);
            free(cc);
            continue;
        }
        CHECK_EQ_INT(pthread_create(&t->conns[t->nconns++], NULL, tcpctl_conn_main, cc), 0);
        pthread_mutex_unlock(&t->mu);
    }
    return NULL;
}

/* upstream_port is only used in PROXY mode. */
static inline tcpctl *tcpctl_start(tcpctl_mode mode, int upstream_port)
{
    tcpctl *t = calloc(1, sizeof *t);
    CHECK(t != NULL);
    t->mode = mode;
    t->upstream_port = upstream_port;
    pthread_mutex_init(&t->mu, NULL);
    t->lfd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(t->lfd >= 0);
    int one = 1;
    setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ_INT(bind(t->lfd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ_INT(listen(t->lfd, 64), 0);
    socklen_t al = sizeof a;
    CHECK_EQ_INT(getsockname(t->lfd, (struct sockaddr *)&a, &al), 0);
    t->port = ntohs(a.sin_port);
    snprintf(t->target, sizeof t->target, "127.0.0.1:%d", t->port);
    CHECK_EQ_INT(pthread_create(&t->acceptor, NULL, tcpctl_accept_main, t), 0);
    return t;
}

/* Aborts (RST) every connection open now; new ones are accepted as before. */
static inline void tcpctl_reset(tcpctl *t)
{
    atomic_fetch_add(&t->reset_gen, 1);
}

static inline void tcpctl_stop(tcpctl *t)
{
    atomic_store(&t->stop, 1);
    pthread_join(t->acceptor, NULL);
    for (int i = 0; i < t->nconns; i++) {
        pthread_join(t->conns[i], NULL);
    }
    close(t->lfd);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* Port of "127.0.0.1:PORT". */
static inline int tcpctl_port_of(const char *target)
{
    const char *p = strrchr(target, ':');
    CHECK(p != NULL);
    return atoi(p + 1);
}

#endif
