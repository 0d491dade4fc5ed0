/* Await until done: a composite future driving a chain of child RPCs
 * (WaitOperation or GetOperation, optionally preceded by CancelOperation).
 *
 * No thread per await: between polls an await is one entry in the client's
 * timer heap; each poll is an ordinary call whose completion hook (run on
 * the I/O thread) decides what happens next. State changes are made under
 * c->mu; user code (progress and done callbacks) only ever runs from the
 * ready queue.
 *
 * Memory per await is kept small because users await 100,000s at once:
 * the await future is sized to its state (no response arena of its own),
 * the last state seen is kept as packed bytes rather than as the poll's
 * whole future, and the RPCs in flight (grpc's ~10+ KiB each) are capped per
 * client: an await beyond the cap waits in a FIFO for a slot. */
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/status.pb-c.h"

struct lro_await_state {
    char *name;        /* in the future's arena */
    lro_poll_policy pp;
    lro_call_options opts; /* deep copy in the future's arena */
    lro_progress_cb progress;
    int cancel_first;  /* still to send CancelOperation */
    int use_wait;      /* this await polls with WaitOperation */
    int polls;
    int budget_held;   /* a poll-budget token is reserved for the next poll */
    double delay_ms;   /* next Get poll delay */
    int64_t deadline_ns;
    lro_future *child; /* in flight (c->mu) */
    lro_future *last;  /* the child that returned the final (done) state, or a
                          not-done one whose packing ran out of memory */
    uint8_t *last_bytes; /* otherwise: the last state seen, packed */
    size_t last_len;
    lro_future *err;   /* child whose status ended the await */
    char *meta_type;   /* metadata last reported, for de-duplication */
    uint8_t *meta;
    size_t meta_len;
    int have_meta;
    lro_timer timer;   /* next poll or the time-out (c->mu) */
    lro_future *self;  /* the await future, for the timer callback */
    /* Waiting for an RPC slot (c->mu): links in c->aw_qhead..aw_qtail. */
    lro_await_state *qprev, *qnext;
    int queued;
};

static void start_poll(lro_future *f);
static int send_poll(lro_future *f);
static void finish_local(lro_future *f, int result, int code, const char *msg);

void lro_await_release(lro_future *f)
{
    lro_await_state *aw = f->aw;
    lro_future_unref(aw->last);
    lro_future_unref(aw->err);
    lro_free(aw->last_bytes);
    lro_free(aw->meta_type);
    lro_free(aw->meta);
    f->aw = NULL;
}

/* ---- RPC slots ---------------------------------------------------------------- */

static void queue_push_locked(lro_client *c, lro_await_state *aw)
{
    aw->qnext = NULL;
    aw->qprev = c->aw_qtail;
    if (c->aw_qtail != NULL) {
        c->aw_qtail->qnext = aw;
    } else {
        c->aw_qhead = aw;
    }
    c->aw_qtail = aw;
    aw->queued = 1;
    c->aw_queued++;
}

static void queue_unlink_locked(lro_client *c, lro_await_state *aw)
{
    if (aw->qprev != NULL) {
        aw->qprev->qnext = aw->qnext;
    } else {
        c->aw_qhead = aw->qnext;
    }
    if (aw->qnext != NULL) {
        aw->qnext->qprev = aw->qprev;
    } else {
        c->aw_qtail = aw->qprev;
    }
    aw->qprev = aw->qnext = NULL;
    aw->queued = 0;
    c->aw_queued--;
    if (aw->timer.heap_index != SIZE_MAX) {
        lro_timer_remove_locked(c, &aw->timer); /* its total-timeout timer */
    }
}

/* Takes a slot for `aw`, or queues it. 1 = slot taken, 0 = queued. A queued
 * await with a total timeout keeps its timer in the heap at the deadline,
 * so it times out on time even if no slot frees up before. */
static int slot_take_locked(lro_client *c, lro_await_state *aw)
{
    if (c->aw_cap > 0 && (c->aw_inflight >= c->aw_cap || c->aw_qhead != NULL)) {
        if (aw->deadline_ns != 0) {
            aw->timer.due_ns = aw->deadline_ns;
            if (lro_timer_add_locked(c, &aw->timer) != LRO_OK) {
                return -1;
            }
        }
        queue_push_locked(c, aw); /* behind those already waiting: FIFO */
        return 0;
    }
    c->aw_inflight++;
    return 1;
}

/* Gives a slot back; when an await is queued (and the client not closing)
 * the slot passes straight to it, and it is returned for the caller to send
 * once the lock is dropped. */
static lro_future *slot_release_locked(lro_client *c)
{
    c->aw_inflight--;
    if (c->closing || c->aw_qhead == NULL ||
        (c->aw_cap > 0 && c->aw_inflight >= c->aw_cap)) {
        return NULL;
    }
    lro_await_state *next = c->aw_qhead;
    queue_unlink_locked(c, next);
    c->aw_inflight++;
    return next->self;
}

static void slot_release(lro_client *c)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        lro_future *next = slot_release_locked(c);
        pthread_mutex_unlock(&c->mu);
        if (next == NULL || send_poll(next) == 0) {
            return; /* the slot is idle, or `next` holds it now */
        }
        /* `next` could not send (and is finished): pass the slot on. A loop,
         * not recursion: a run of failures must not grow the stack. */
    }
}

void lro_await_shutdown_queue(lro_client *c)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        lro_await_state *aw = c->aw_qhead;
        if (aw != NULL) {
            queue_unlink_locked(c, aw);
        }
        pthread_mutex_unlock(&c->mu);
        if (aw == NULL) {
            return;
        }
        finish_local(aw->self, LRO_ERR_SHUTDOWN, LRO_CODE_CANCELLED, "lro: client destroyed");
    }
}

size_t lro_client_awaits_queued(const lro_client *c)
{
    if (c == NULL) {
        return 0;
    }
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    size_t n = c->aw_queued;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return n;
}

static void finish_await(lro_future *f, int result, const lro_status *status)
{
    lro_await_state *aw = f->aw;
    f->status = status;
    if (aw->last != NULL) {
        f->msg = aw->last->msg; /* the child may not be published yet: read it raw */
    } else if (aw->last_bytes != NULL) {
        /* Our own packing of a message we decoded: only memory can fail here,
         * and then the view is NULL (documented as "no state seen"). */
        f->msg = lro_decode_response(&f->arena, LRO_K_GET, aw->last_bytes, aw->last_len);
        lro_free(aw->last_bytes);
        aw->last_bytes = NULL;
    }
    lro_future_finish(f, result);
}

static void finish_local(lro_future *f, int result, int code, const char *msg)
{
    finish_await(f, result, lro_status_local(f, code, msg));
}

static int metadata_changed(lro_await_state *aw, const lro_operation *op)
{
    const char *url = NULL;
    const uint8_t *val = NULL;
    size_t len = 0;
    int has = 0;
    lro_operation_metadata(op, &url, &val, &len, &has);
    if (!has) {
        return 0;
    }
    if (aw->have_meta && aw->meta_len == len && strcmp(aw->meta_type, url) == 0 &&
        (len == 0 || memcmp(aw->meta, val, len) == 0)) {
        return 0;
    }
    char *t = lro_strdup(url);
    uint8_t *m = lro_memdup(val, len);
    if (t == NULL || m == NULL) {
        /* Without memory to remember it we may report the same progress
         * twice later; reporting it now is still right. */
        lro_free(t);
        lro_free(m);
        return 1;
    }
    lro_free(aw->meta_type);
    lro_free(aw->meta);
    aw->meta_type = t;
    aw->meta = m;
    aw->meta_len = len;
    aw->have_meta = 1;
    return 1;
}

/* Remembers a not-done state as packed bytes (~100 B) instead of keeping the
 * poll's future (~1.2 KiB with its arena) alive until the next poll. */
static void keep_last_state(lro_await_state *aw, lro_future *child)
{
    const ProtobufCMessage *m = (const ProtobufCMessage *)child->msg;
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = lro_malloc(n ? n : 1);
    lro_free(aw->last_bytes);
    aw->last_bytes = NULL;
    lro_future_unref(aw->last);
    aw->last = NULL;
    if (b == NULL) {
        aw->last = lro_future_ref(child); /* costlier, but the state is kept */
        return;
    }
    protobuf_c_message_pack(m, b);
    aw->last_bytes = b;
    aw->last_len = n;
}

static void progress_trampoline(lro_future *child, void *ud)
{
    lro_future *f = ud;
    const lro_operation *op = lro_future_operation(child);
    if (op != NULL && f->aw != NULL && f->aw->progress != NULL && !lro_future_is_done(f)) {
        f->aw->progress(op, f->ud);
    }
}

static void unref_future(void *p)
{
    lro_future_unref(p);
}

/* Schedules the next poll `delay_ns` from now, or the time-out if the
 * deadline comes first. Called on the I/O thread (or the starter). */
static void schedule(lro_future *f, int64_t delay_ns)
{
    lro_client *c = f->client;
    lro_await_state *aw = f->aw;
    int64_t due = lro_now_ns() + delay_ns;
    if (aw->deadline_ns != 0 && due > aw->deadline_ns) {
        due = aw->deadline_ns;
    }
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        finish_local(f, LRO_ERR_SHUTDOWN, LRO_CODE_CANCELLED, "lro: client destroyed");
        return;
    }
    /* A local cancel that found neither a child nor a timer (it came while
     * we were between the two) is honoured here: fire at once. */
    aw->timer.due_ns = atomic_load(&f->cancel_requested) ? 0 : due;
    int rc = lro_timer_add_locked(c, &aw->timer);
    pthread_mutex_unlock(&c->mu);
    if (rc != LRO_OK) {
        finish_local(f, LRO_ERR_NOMEM, LRO_CODE_RESOURCE_EXHAUSTED, "lro: out of memory");
        return;
    }
    lro_client_wake_io(c); /* no-op on the I/O thread */
}

static int64_t next_get_delay_ns(lro_future *f)
{
    lro_await_state *aw = f->aw;
    lro_client *c = f->client;
    double d = aw->delay_ms;
    aw->delay_ms *= aw->pp.multiplier;
    if (aw->delay_ms > (double)aw->pp.max_delay_ms) {
        aw->delay_ms = (double)aw->pp.max_delay_ms;
    }
    if (d > (double)aw->pp.max_delay_ms) {
        d = (double)aw->pp.max_delay_ms;
    }
    pthread_mutex_lock(&c->mu);
    double r = lro_rand01_locked(c);
    pthread_mutex_unlock(&c->mu);
    d *= 1.0 - aw->pp.jitter * r;
    return (int64_t)(d * 1e6);
}

/* Completion hook of every child, on the thread that finished it. */
static void child_done(lro_future *child)
{
    lro_future *f = child->owner;
    lro_await_state *aw = f->aw;
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    aw->child = NULL;
    int closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    /* This child's slot goes to the next queued await first: it was waiting
     * longer than whatever this await does next. */
    slot_release(c);

    if (closing || child->result == LRO_ERR_SHUTDOWN) {
        finish_local(f, LRO_ERR_SHUTDOWN, LRO_CODE_CANCELLED, "lro: client destroyed");
        return;
    }
    if (atomic_load(&f->cancel_requested)) {
        finish_local(f, LRO_ERR_CANCELLED, LRO_CODE_CANCELLED,
                     "lro: await cancelled locally; the operation was not touched");
        return;
    }
    int r = child->result;
    if (child->kind == LRO_K_CANCEL) {
        if (r != LRO_OK) {
            aw->err = lro_future_ref(child);
            finish_await(f, r, child->status);
            return;
        }
        aw->cancel_first = 0;
        start_poll(f);
        return;
    }
    aw->polls++;
    if (r == LRO_OK) {
        /* Hooks run before the child is marked done: use the raw result. */
        const lro_operation *op = (const lro_operation *)child->msg;
        if (lro_operation_done(op)) {
            lro_future_unref(aw->last);
            aw->last = lro_future_ref(child);
            lro_free(aw->last_bytes);
            aw->last_bytes = NULL;
            const lro_status *e = lro_operation_error(op);
            int res = LRO_OK;
            if (e != NULL) {
                res = lro_status_code(e) == LRO_CODE_CANCELLED ? LRO_ERR_OP_CANCELLED
                                                               : LRO_ERR_OP_FAILED;
            }
            finish_await(f, res, lro_status_ok());
            return;
        }
        keep_last_state(aw, child);
        if (aw->progress != NULL && metadata_changed(aw, op)) {
            /* Delivered through the ready queue like any callback, in order
             * with the await's own completion. */
            child->cb = progress_trampoline;
            child->ud = lro_future_ref(f);
            child->ud_free = unref_future;
        }
        schedule(f, aw->use_wait ? 0 : next_get_delay_ns(f));
        return;
    }
    /* The poll RPC failed (after its own retries). */
    const lro_status *s = child->status;
    int code = lro_status_code(s);
    if (r == LRO_ERR_RPC && code == LRO_CODE_UNIMPLEMENTED && child->kind == LRO_K_WAIT &&
        aw->pp.method == LRO_AWAIT_AUTO) {
        /* The server has no WaitOperation: poll with Get from now on, and
         * tell every other await of this client. */
        atomic_store(&c->wait_unimplemented, 1);
        aw->use_wait = 0;
        schedule(f, 0);
        return;
    }
    int64_t ri_ms;
    if (r == LRO_ERR_RPC && lro_status_has_retry_delay(s, &ri_ms)) {
        /* The server asked us to come back later: that is not a failure of
         * the operation. */
        schedule(f, ri_ms * 1000000);
        return;
    }
    aw->err = lro_future_ref(child);
    finish_await(f, r, s);
}

/* The await's timer: poll now, or give up at the deadline. */
static void timer_fire(lro_timer *t, int cancelled)
{
    lro_await_state *aw = (lro_await_state *)((char *)t - offsetof(lro_await_state, timer));
    lro_future *f = aw->self;
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    if (aw->queued) {
        queue_unlink_locked(c, aw); /* the deadline came while waiting for a slot */
    }
    pthread_mutex_unlock(&c->mu);
    if (cancelled) {
        finish_local(f, LRO_ERR_SHUTDOWN, LRO_CODE_CANCELLED, "lro: client destroyed");
        return;
    }
    if (atomic_load(&f->cancel_requested)) {
        finish_local(f, LRO_ERR_CANCELLED, LRO_CODE_CANCELLED,
                     "lro: await cancelled locally; the operation was not touched");
        return;
    }
    if (aw->deadline_ns != 0 && lro_now_ns() >= aw->deadline_ns) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "lro: await gave up after %lld ms (total_timeout_ms); %d polls, last state kept",
                 (long long)aw->pp.total_timeout_ms, aw->polls);
        finish_local(f, LRO_ERR_TIMEOUT, LRO_CODE_DEADLINE_EXCEEDED, msg);
        return;
    }
    start_poll(f);
}

/* Sends the next child RPC: a poll-budget token first, then an RPC slot. */
static void start_poll(lro_future *f)
{
    lro_await_state *aw = f->aw;
    lro_client *c = f->client;
    if (!aw->cancel_first && aw->budget_held) {
        aw->budget_held = 0; /* reserved when this poll was scheduled */
    } else if (!aw->cancel_first) {
        pthread_mutex_lock(&c->mu);
        int64_t wait = lro_budget_take_locked(c, lro_now_ns());
        pthread_mutex_unlock(&c->mu);
        if (wait > 0) {
            aw->budget_held = 1;
            schedule(f, wait);
            return;
        }
    }
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        finish_local(f, LRO_ERR_SHUTDOWN, LRO_CODE_CANCELLED, "lro: client destroyed");
        return;
    }
    if (atomic_load(&f->cancel_requested)) {
        /* A local cancel that found the await between states (no child, no
         * timer, not queued) is honoured here rather than after a queue. */
        pthread_mutex_unlock(&c->mu);
        finish_local(f, LRO_ERR_CANCELLED, LRO_CODE_CANCELLED,
                     "lro: await cancelled locally; the operation was not touched");
        return;
    }
    int got = slot_take_locked(c, aw);
    int timed = aw->deadline_ns != 0; /* once queued, aw may go at any time */
    pthread_mutex_unlock(&c->mu);
    if (got < 0) {
        finish_local(f, LRO_ERR_NOMEM, LRO_CODE_RESOURCE_EXHAUSTED, "lro: out of memory");
    } else if (got == 0) {
        if (timed) {
            lro_client_wake_io(c); /* it may sleep past the new deadline timer */
        }
    } else if (send_poll(f) != 0) {
        slot_release(c);
    }
}

/* Starts the child RPC on the slot the await holds. 0 when it is in flight
 * (its completion hook releases the slot); 1 when it could not start: the
 * await is then finished and the caller releases the slot. */
static int send_poll(lro_future *f)
{
    lro_await_state *aw = f->aw;
    lro_client *c = f->client;
    lro_kind kind = aw->cancel_first ? LRO_K_CANCEL : aw->use_wait ? LRO_K_WAIT : LRO_K_GET;
    if (kind == LRO_K_WAIT && atomic_load(&c->wait_unimplemented) &&
        aw->pp.method == LRO_AWAIT_AUTO) {
        aw->use_wait = 0;
        kind = LRO_K_GET;
    }
    int64_t wt = 0;
    if (kind == LRO_K_WAIT) {
        wt = aw->pp.wait_timeout_ms;
        if (aw->deadline_ns != 0) {
            int64_t left = (aw->deadline_ns - lro_now_ns()) / 1000000;
            if (left < wt) {
                wt = left > 1 ? left : 1;
            }
        }
    }
    lro_start_ext ext = {child_done, f, &aw->child};
    int rc = lro_start_get_ext(c, kind, aw->name, wt, &aw->opts, &ext);
    if (rc == LRO_OK) {
        if (atomic_load(&f->cancel_requested)) {
            /* Cancelled while the child was being created: cancel the child. */
            pthread_mutex_lock(&c->mu);
            lro_future *child = aw->child ? lro_future_ref(aw->child) : NULL;
            pthread_mutex_unlock(&c->mu);
            if (child != NULL) {
                lro_future_cancel(child);
                lro_future_unref(child);
            }
        }
        return 0;
    }
    if (rc == LRO_ERR_SHUTDOWN) {
        finish_local(f, rc, LRO_CODE_CANCELLED, "lro: client destroyed");
    } else if (rc == LRO_ERR_NOMEM) {
        /* The poll could not start for lack of memory: the same status every
         * other out-of-memory outcome carries, not an INTERNAL error. */
        finish_local(f, rc, LRO_CODE_RESOURCE_EXHAUSTED, "lro: out of memory");
    } else {
        finish_local(f, rc, LRO_CODE_INTERNAL, lro_strerror(rc));
    }
    return 1;
}

#define ROUND16(n) (((n) + 15u) & ~(size_t)15u)

static int await_start(lro_client *c, const char *name, const lro_poll_policy *policy,
                       const lro_call_options *opts, lro_progress_cb progress, lro_done_cb cb,
                       void *user_data, lro_free_fn ud_free, lro_future **out, int cancel_first)
{
    lro_error_clear(); /* lro_last_error() describes this call */
    if (c == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "client is NULL");
    }
    int rc = lro_check_name(name);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_poll_policy pp;
    rc = lro_poll_policy_normalize(policy, &pp); /* abi.c */
    if (rc != LRO_OK) {
        return rc;
    }
    pthread_mutex_lock(&c->mu);
    int closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (closing) {
        return LRO_ERR_SHUTDOWN;
    }
    /* One allocation: the future, its state and the name (call options
     * with headers may add an arena block). */
    size_t name_len = strlen(name);
    lro_future *f = lro_future_new_sized(c, LRO_K_AWAIT,
                                         ROUND16(sizeof(lro_await_state)) + ROUND16(name_len + 1) + 16);
    if (f == NULL) {
        return LRO_ERR_NOMEM;
    }
    lro_await_state *aw = lro_arena_alloc(&f->arena, sizeof *aw);
    char *nm = lro_arena_strndup(&f->arena, name, name_len);
    if (aw == NULL || nm == NULL) {
        lro_future_unref(f);
        return LRO_ERR_NOMEM;
    }
    memset(aw, 0, sizeof *aw);
    f->aw = aw;
    aw->name = nm;
    rc = lro_call_options_copy(opts, &aw->opts, &f->arena);
    if (rc != LRO_OK) {
        lro_future_unref(f);
        return rc;
    }
    aw->pp = pp;
    aw->progress = progress;
    aw->cancel_first = cancel_first;
    aw->use_wait = pp.method != LRO_AWAIT_POLL_ONLY;
    aw->delay_ms = (double)pp.initial_delay_ms;
    aw->deadline_ns = pp.total_timeout_ms > 0 ? lro_now_ns() + pp.total_timeout_ms * 1000000 : 0;
    aw->timer.heap_index = SIZE_MAX;
    aw->timer.fire = timer_fire;
    aw->self = f;

    f->cb = cb;
    f->ud = user_data;
    f->ud_free = ud_free;
    if (out != NULL) {
        *out = lro_future_ref(f);
    }
    start_poll(f);
    return LRO_OK;
}

int lro_await(lro_client *c, const char *name, const lro_poll_policy *policy,
              const lro_call_options *opts, lro_progress_cb progress, lro_done_cb cb,
              void *user_data, lro_free_fn ud_free, lro_future **out)
{
    return await_start(c, name, policy, opts, progress, cb, user_data, ud_free, out, 0);
}

int lro_cancel_and_await(lro_client *c, const char *name, const lro_poll_policy *policy,
                         const lro_call_options *opts, lro_progress_cb progress, lro_done_cb cb,
                         void *user_data, lro_free_fn ud_free, lro_future **out)
{
    return await_start(c, name, policy, opts, progress, cb, user_data, ud_free, out, 1);
}

int lro_future_polls(const lro_future *f)
{
    return f != NULL && f->aw != NULL ? f->aw->polls : 0;
}

/* Local cancel of an await: stop the poll in flight or the pending timer;
 * the hook / timer then finishes the future with LRO_ERR_CANCELLED. */
int lro_await_cancel(lro_future *f)
{
    if (lro_future_is_done(f) || atomic_exchange(&f->cancel_requested, 1)) {
        return LRO_OK;
    }
    lro_client *c = f->client;
    lro_await_state *aw = f->aw;
    pthread_mutex_lock(&c->mu);
    lro_future *child = aw->child ? lro_future_ref(aw->child) : NULL;
    if (aw->queued) {
        /* Waiting for a slot: leave the queue (and drop the deadline timer);
         * the timer path, made due now, finishes it. */
        queue_unlink_locked(c, aw);
        aw->timer.due_ns = 0;
        if (lro_timer_add_locked(c, &aw->timer) != LRO_OK) {
            /* No memory for a heap slot: finish it here instead. */
            pthread_mutex_unlock(&c->mu);
            finish_local(f, LRO_ERR_CANCELLED, LRO_CODE_CANCELLED,
                         "lro: await cancelled locally; the operation was not touched");
            return LRO_OK;
        }
    } else if (child == NULL && aw->timer.heap_index != SIZE_MAX) {
        lro_timer_remove_locked(c, &aw->timer);
        aw->timer.due_ns = 0;
        lro_timer_add_locked(c, &aw->timer); /* the slot was just freed */
    }
    pthread_mutex_unlock(&c->mu);
    if (child != NULL) {
        lro_future_cancel(child);
        lro_future_unref(child);
    } else {
        lro_client_wake_io(c);
    }
    return LRO_OK;
}
