/*
 * obs_int.h - what the future, call and await layers report (private).
 *
 * Each report point in future.c, call.c and await.c is one line guarded by
 * a cheap test (LRO_OBS_ON for a new call, f->obs for everything after), so
 * a client without an event hook pays one untaken branch per point. obs.c
 * fills an lro_event from the future's state and hands it to the client
 * layer (lro_events_emit). It belongs to the future layer: it reads
 * struct lro_future and nothing above it; call.c and await.c pass what only
 * they know (codes, byte counts, flags) as arguments.
 */
#ifndef LRO_OBS_INT_H
#define LRO_OBS_INT_H

#include "future_int.h"

#define LRO_OBS_ON(c) __builtin_expect((c)->obs.on != 0, 0)

/* Per observed call or await, in its arena. */
typedef struct lro_obs_call {
    uint64_t id, parent;
    const char *name;
    int64_t start_ns;         /* lro_now_ns() at CALL_STARTED */
    int64_t attempt_start_ns; /* of the attempt in flight */
    /* ATTEMPT_FINISHED's time until the call goes on (a retry scheduled or
     * an attempt started), else 0: a call that ends in the completion that
     * ended its attempt reports CALL_FINISHED at that time, one clock read
     * fewer per call. */
    int64_t attempt_end_ns;
    const char *method; /* the call's method name, for every event */
    char *tp;          /* the traceparent value the call sends (writable, 55 chars), or NULL */
    char trace_id[33]; /* "" when no traceparent */
    char parent_span[17];
    char span[17]; /* the current attempt's span id */
    /* Awaits. */
    int polls;
    int poll_flags;            /* LRO_POLL_THROTTLED_* of the poll being prepared */
    int64_t throttle_since_ns; /* 0: not held back */
    int64_t throttle_ns;       /* of the poll in flight */
    int64_t poll_sent_ns;
    uint64_t meta_hash; /* progress detection: hash of the last metadata seen */
    int have_meta;
    /* Started on a thread other than the I/O thread: CALL_STARTED (and the
     * first ATTEMPT_STARTED) wait, with their times, for the I/O thread
     * (LRO_OBS_LIVE / DEFERRED / EMITTING). */
    atomic_int deferred;
    int deferred_attempt;
    lro_future *owner;
    lro_ready post; /* in the client's list for the I/O thread (lro_obs_post) */
} lro_obs_call;

/* Events are handed to the hook on the I/O thread. A call or await started
 * on another thread records its CALL_STARTED (and first ATTEMPT_STARTED)
 * with their times; lro_obs_post() then hands them to the I/O thread, which
 * delivers them before anything the call completes (and before any later
 * event of the same call, whoever reports it first). */
enum { LRO_OBS_LIVE = 0, LRO_OBS_DEFERRED = 1, LRO_OBS_EMITTING = 2 };

/* CALL_STARTED (call sites test LRO_OBS_ON(c) first). name: the operation
 * or collection; parent: the await this call polls for, or NULL; tp: the
 * traceparent value as the call will send it: writable (rewrite 1, in the
 * call's arena) so each attempt gets its own span id, or read-only (0, an
 * await's copy). Allocates f->obs; without memory the call goes unobserved. */
LRO_HIDDEN void lro_obs_call_started(lro_future *f, const char *name, const lro_future *parent,
                                     char *tp, int rewrite);
/* ATTEMPT_STARTED, before the attempt is created (f->attempts not yet
 * counted); writes a fresh span id into the traceparent the attempt sends. */
LRO_HIDDEN void lro_obs_attempt_started(lro_future *f);
/* After CALL_STARTED (and a call's first ATTEMPT_STARTED), before the call
 * can complete: posts the deferred events to the I/O thread, holding a
 * reference on f until they went out. A no-op when f is unobserved or was
 * started on the I/O thread. */
LRO_HIDDEN void lro_obs_post(lro_future *f);
/* A call refused at start (its starting function returns an error, no
 * future exists): deferred events are dropped unseen; events already
 * delivered are closed with CALL_FINISHED (f->result set). */
LRO_HIDDEN void lro_obs_refused(lro_future *f);
LRO_HIDDEN void lro_obs_attempt_finished(lro_future *f, int code, size_t request_bytes,
                                         size_t response_bytes);
LRO_HIDDEN void lro_obs_retry(lro_future *f, int64_t delay_ns, int reason);
/* CALL_FINISHED, from lro_future_finish (f->result and f->status set). */
LRO_HIDDEN void lro_obs_finished(lro_future *f);
/* Awaits: the next poll is held back (flag LRO_POLL_THROTTLED_*), a poll
 * (or an await's cancel) is being sent, a poll answered (`child`, its
 * result set; extra_flags: LRO_POLL_FALLBACK as await.c knows it). */
LRO_HIDDEN void lro_obs_throttled(lro_future *f, int flag);
LRO_HIDDEN void lro_obs_poll_sent(lro_future *f);
LRO_HIDDEN void lro_obs_await_poll(lro_future *f, const lro_future *child, int extra_flags);

#endif /* LRO_OBS_INT_H */
