/*
 * lro/adapters/libevent.h - run an lro-c client's callbacks on a libevent 2
 * event_base.
 *
 * Header-only, public API only. Link with -levent (or -levent_core). Needs
 * POSIX (fcntl, close).
 *
 *     lro_client_options_set_mode(o, LRO_MODE_LOOP);   // before create
 *     lro_event_attachment *a;
 *     lro_event_attach(base, client, &a);
 *     ... event_base_dispatch(base): callbacks run on the loop thread ...
 *     lro_event_detach(a);       // then
 *     lro_client_destroy(client);
 *
 * How it works: a persistent EV_READ event on (a duplicate of)
 * lro_client_fd(); when it fires the adapter calls
 * lro_client_process(client, LRO_EVENT_BUDGET). The budget bounds the work
 * per wake-up; the client keeps its fd readable while more are pending.
 * Timers, retries and await polls run on lro-c's own I/O thread.
 *
 * Threading: attach, detach and dispatch on the loop thread.
 * Shutdown: lro_event_detach() then lro_client_destroy(), anywhere on the
 * loop thread, including inside one of the client's callbacks (the
 * attachment is then freed when lro_client_process returns to the adapter).
 * If a callback destroys the client without detaching, the attachment
 * notices (LRO_ERR_SHUTDOWN), stops watching and never touches the client
 * again; lro_event_detach() must still be called once.
 */
#ifndef LRO_ADAPTERS_LIBEVENT_H
#define LRO_ADAPTERS_LIBEVENT_H

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "lro/client.h"

#ifndef LRO_EVENT_BUDGET
#define LRO_EVENT_BUDGET 64 /* callbacks per wake-up and client */
#endif

typedef struct lro_event_attachment {
    struct event *ev;
    lro_client *client; /* NULL once the client was destroyed under us */
    int fd;             /* our duplicate of lro_client_fd() */
    int processing;     /* inside lro_client_process: defer the free */
    int detached;
} lro_event_attachment;

/* A close-on-exec duplicate of fd, or -1. F_DUPFD_CLOEXEC is POSIX.1-2008;
 * without it (strict C, no feature macros) dup + FD_CLOEXEC does the same. */
static inline int lro_event__dup(int fd)
{
#ifdef F_DUPFD_CLOEXEC
    return fcntl(fd, F_DUPFD_CLOEXEC, 0);
#else
    int d = dup(fd);
    if (d >= 0) {
        fcntl(d, F_SETFD, FD_CLOEXEC);
    }
    return d;
#endif
}

static inline void lro_event__free(lro_event_attachment *a)
{
    event_free(a->ev);
    close(a->fd);
    free(a);
}

static inline void lro_event__on_read(evutil_socket_t fd, short what, void *arg)
{
    lro_event_attachment *a = (lro_event_attachment *)arg;
    (void)fd;
    (void)what;
    if (a->detached || a->client == NULL) {
        return;
    }
    a->processing = 1;
    int rc = lro_client_process(a->client, LRO_EVENT_BUDGET);
    a->processing = 0;
    /* Do not touch the client after a detach or a destroy in a callback. */
    if (a->detached) {
        lro_event__free(a); /* detached from inside a callback */
        return;
    }
    if (rc == LRO_ERR_SHUTDOWN) {
        a->client = NULL;
        event_del(a->ev);
    }
}

/* Starts delivering `c`'s callbacks on `base`. `c` must be in LRO_MODE_LOOP.
 * On success *out is set (release it with lro_event_detach). Returns LRO_OK,
 * LRO_ERR_INVALID_ARG (NULL argument, thread-mode client), LRO_ERR_NOMEM or
 * LRO_ERR_IO (*out untouched). */
static inline int lro_event_attach(struct event_base *base, lro_client *c,
                                   lro_event_attachment **out)
{
    if (base == NULL || c == NULL || out == NULL || lro_client_fd(c) < 0) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_event_attachment *a = (lro_event_attachment *)calloc(1, sizeof *a);
    if (a == NULL) {
        return LRO_ERR_NOMEM;
    }
    /* A duplicate: the client closes its own fd at destroy; ours is closed
     * only after the event is gone. */
    a->fd = lro_event__dup(lro_client_fd(c));
    if (a->fd < 0) {
        free(a);
        return LRO_ERR_IO;
    }
    a->client = c;
    a->ev = event_new(base, a->fd, EV_READ | EV_PERSIST, lro_event__on_read, a);
    if (a->ev == NULL) {
        close(a->fd);
        free(a);
        return LRO_ERR_NOMEM;
    }
    if (event_add(a->ev, NULL) != 0) {
        lro_event__free(a);
        return LRO_ERR_IO;
    }
    *out = a;
    return LRO_OK;
}

/* Stops delivering callbacks and frees the attachment (at once, or when the
 * adapter's lro_client_process returns if called from inside a callback).
 * Does not destroy the client. NULL is fine; call it once per attachment. */
static inline void lro_event_detach(lro_event_attachment *a)
{
    if (a == NULL || a->detached) {
        return;
    }
    a->detached = 1;
    a->client = NULL;
    event_del(a->ev);
    if (!a->processing) {
        lro_event__free(a);
    }
}

#endif /* LRO_ADAPTERS_LIBEVENT_H */
