/*
 * future_int.h - the future layer (private): the base type of every call,
 * await and page fetch.
 *
 * A future is reference counted, finishes exactly once, and delivers its
 * callback through the client's ready queue. What a kind adds (a gRPC
 * attempt, an await's poll state) lives in a struct of that kind's file whose
 * first member is `struct lro_future`; the base reaches it only through the
 * kind's lro_future_ops. The arena's inline first block follows the kind's
 * struct in the same allocation.
 */
#ifndef LRO_FUTURE_INT_H
#define LRO_FUTURE_INT_H

#include "client_int.h"

typedef struct lro_future_ops {
    /* Local cancel (lro_future_cancel) of a future not yet done, called at
     * most once. NULL: nothing to stop. */
    void (*cancel)(lro_future *f);
    /* Frees what the kind owns, at the last reference. May be NULL. */
    void (*release)(lro_future *f);
    /* Called by lro_future_finish on the finishing thread before the result
     * is published (it may still change the result or set cb). May be NULL. */
    void (*finishing)(lro_future *f);
} lro_future_ops;

struct lro_future {
    const lro_future_ops *ops;
    atomic_int refs;
    atomic_int done;    /* 0 -> 1 once, release-ordered after the result */
    atomic_int waiters; /* threads in lro_future_wait (futex) */
    atomic_int cancel_requested;
    lro_client *client; /* counted reference on the client's memory */
    int result;
    int attempts;
    uint8_t kind;            /* lro_kind */
    uint8_t queued;          /* in the ready queue (client->ready_mu) */
    uint8_t lib_ref_dropped; /* completion released the library's reference (ready_mu) */
    const lro_status *status;
    const void *msg; /* Operation or ListOperationsResponse, in the arena */

    /* Callback (guarded by client->ready_mu). */
    lro_done_cb cb;
    void *ud;
    lro_free_fn ud_free;
    lro_ready ready;

    /* Observability (obs_int.h): NULL unless the client reports events. */
    struct lro_obs_call *obs;

    lro_arena arena; /* first block inline, right after the kind's struct */
};

/* Allocates a future of `obj_size` bytes (the kind's struct, which begins
 * with struct lro_future) followed by an inline arena block of `inline_len`
 * bytes; the kind's part is zeroed. One reference (the library's). */
LRO_HIDDEN lro_future *lro_future_alloc(lro_client *c, const lro_future_ops *ops, lro_kind kind,
                                        size_t obj_size, size_t inline_len);
/* Drops a future that never started: its callback and user data were not
 * taken over, so neither is called. */
LRO_HIDDEN void lro_future_discard(lro_future *f);
/* Publishes the result (status/msg already set), then queues the callback
 * or releases the library's reference. Exactly once per future. */
LRO_HIDDEN void lro_future_finish(lro_future *f, int result);

/* Cancels (lro_future_cancel) the future in *slot, if any, read under `mu`
 * (the lock its owner sets and clears the slot under); the cancel itself
 * runs with `mu` released. */
LRO_HIDDEN void lro_future_cancel_in_slot(pthread_mutex_t *mu, lro_future *const *slot);

/* Local outcomes (nothing the server said): the status code and message are
 * derived from `result` through one table, so they cannot disagree.
 * `why` (may be NULL) replaces the table's default text; "lro: " is
 * prefixed. set_local only sets result and status (an owner hook may use it
 * to change an outcome); finish_local also finishes. */
LRO_HIDDEN void lro_future_set_local(lro_future *f, int result, const char *why);
LRO_HIDDEN void lro_future_finish_local(lro_future *f, int result, const char *why);
/* A status made up by the library, in f's arena (a static one if even that
 * fails). */
LRO_HIDDEN const lro_status *lro_status_local(lro_future *f, int code, const char *msg);
LRO_HIDDEN const lro_status *lro_status_ok(void);

#endif /* LRO_FUTURE_INT_H */
