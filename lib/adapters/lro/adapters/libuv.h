/*
 * lro/adapters/libuv.h - run an lro-c client's callbacks on a libuv loop.
 *
 * Header-only, public API only. Link with -luv. uv.h itself needs POSIX:
 * compile with -std=gnu11, or -std=c11 -D_POSIX_C_SOURCE=200809L.
 *
 *     lro_client_options_set_mode(o, LRO_MODE_LOOP);   // before create
 *     lro_uv_attachment *a;
 *     lro_uv_attach(uv_default_loop(), client, &a);
 *     ... uv_run(): every callback of `client` runs on the loop thread ...
 *     lro_uv_detach(a);          // then
 *     lro_client_destroy(client);
 *
 * How it works: a uv_poll_t watches (a duplicate of) lro_client_fd(); when it
 * is readable the adapter calls lro_client_process(client, LRO_UV_BUDGET).
 * The budget bounds the callbacks run per loop iteration so one busy client
 * cannot starve the loop; the client keeps its fd readable while more are
 * pending, so the rest run on the next iterations. Timers, retries and await
 * polls are serviced by lro-c's own I/O thread: the loop needs nothing else.
 *
 * Threading: attach, detach and uv_run on the loop thread (libuv's rule).
 * Shutdown: lro_uv_detach() then lro_client_destroy(), from anywhere on the
 * loop thread, including from inside one of the client's callbacks (the
 * remaining callbacks then run inside lro_client_destroy). If a callback
 * destroys the client without detaching, the attachment notices
 * (LRO_ERR_SHUTDOWN), stops watching and never touches the client again;
 * lro_uv_detach() must still be called once. The attachment's memory is
 * released by the loop (uv_close) on its next iteration: run the loop once
 * more before uv_loop_close().
 */
#ifndef LRO_ADAPTERS_LIBUV_H
#define LRO_ADAPTERS_LIBUV_H

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include "lro/client.h"

#ifndef LRO_UV_BUDGET
#define LRO_UV_BUDGET 64 /* callbacks per loop iteration and client */
#endif

typedef struct lro_uv_attachment {
    uv_poll_t poll;     /* first member: the handle's memory is the struct's */
    lro_client *client; /* NULL once the client was destroyed under us */
    int fd;             /* our duplicate of lro_client_fd(), closed last */
    int detached;
} lro_uv_attachment;

/* A close-on-exec duplicate of fd, or -1. F_DUPFD_CLOEXEC is POSIX.1-2008;
 * without it (strict C, no feature macros) dup + FD_CLOEXEC does the same. */
static inline int lro_uv__dup(int fd)
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

static inline void lro_uv__on_close(uv_handle_t *h)
{
    lro_uv_attachment *a = (lro_uv_attachment *)h->data;
    close(a->fd);
    free(a);
}

static inline void lro_uv__on_poll(uv_poll_t *h, int status, int events)
{
    lro_uv_attachment *a = (lro_uv_attachment *)h->data;
    (void)status; /* an eventfd has no error state worth handling: just process */
    (void)events;
    if (a->detached || a->client == NULL) {
        return;
    }
    int rc = lro_client_process(a->client, LRO_UV_BUDGET);
    /* A callback may have detached us (memory freed later by uv_close) or
     * destroyed the client (its memory may be gone): touch neither. */
    if (rc == LRO_ERR_SHUTDOWN && !a->detached) {
        a->client = NULL;
        uv_poll_stop(&a->poll);
    }
}

/* Starts delivering `c`'s callbacks on `loop`. `c` must be in LRO_MODE_LOOP.
 * On success *out is set (release it with lro_uv_detach). Returns LRO_OK,
 * LRO_ERR_INVALID_ARG (NULL argument, thread-mode client), LRO_ERR_NOMEM or
 * LRO_ERR_IO (*out untouched). */
static inline int lro_uv_attach(uv_loop_t *loop, lro_client *c, lro_uv_attachment **out)
{
    if (loop == NULL || c == NULL || out == NULL || lro_client_fd(c) < 0) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_uv_attachment *a = (lro_uv_attachment *)calloc(1, sizeof *a);
    if (a == NULL) {
        return LRO_ERR_NOMEM;
    }
    /* A duplicate: a client destroyed before we stop watching closes its fd,
     * never ours (libuv must not poll a closed or reused fd). */
    a->fd = lro_uv__dup(lro_client_fd(c));
    if (a->fd < 0) {
        free(a);
        return LRO_ERR_IO;
    }
    a->client = c;
    if (uv_poll_init(loop, &a->poll, a->fd) != 0) {
        close(a->fd);
        free(a);
        return LRO_ERR_IO;
    }
    a->poll.data = a;
    if (uv_poll_start(&a->poll, UV_READABLE, lro_uv__on_poll) != 0) {
        a->detached = 1;
        uv_close((uv_handle_t *)&a->poll, lro_uv__on_close);
        return LRO_ERR_IO;
    }
    *out = a;
    return LRO_OK;
}

/* Stops delivering callbacks; no callback of the client runs from this
 * attachment afterwards. Safe inside one of the client's callbacks. Does not
 * destroy the client. NULL is fine; call it once per attachment. */
static inline void lro_uv_detach(lro_uv_attachment *a)
{
    if (a == NULL || a->detached) {
        return;
    }
    a->detached = 1;
    a->client = NULL;
    uv_close((uv_handle_t *)&a->poll, lro_uv__on_close); /* stops it now, frees later */
}

#endif /* LRO_ADAPTERS_LIBUV_H */
