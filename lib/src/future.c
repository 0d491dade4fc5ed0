/* Futures: the base type of every call, await and page fetch: reference
 * counted, completed exactly once, callbacks delivered through the client's
 * ready queue. What each kind adds is reached through its lro_future_ops. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "future_int.h"
#include "obs_int.h"
#include "google/rpc/status.pb-c.h"

static void deliver(lro_ready *r);

lro_future *lro_future_alloc(lro_client *c, const lro_future_ops *ops, lro_kind kind,
                             size_t obj_size, size_t inline_len)
{
    if (inline_len > 0) {
        obj_size = (obj_size + 15u) & ~(size_t)15u; /* the arena block is 16-aligned */
    }
    lro_future *f = lro_malloc(obj_size + inline_len);
    if (f == NULL) {
        return NULL;
    }
    /* Only the structs are cleared; the inline block is the arena's. */
    memset(f, 0, obj_size);
    f->ops = ops;
    atomic_init(&f->refs, 1); /* the library's reference */
    f->client = c;
    f->kind = kind;
    f->ready.run = deliver;
    lro_arena_init(&f->arena, inline_len > 0 ? (char *)f + obj_size : NULL, inline_len);
    lro_client_ref_mem(c);
    return f;
}

lro_future *lro_future_ref(lro_future *f)
{
    if (f != NULL) {
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
    }
    return f;
}

void lro_future_unref(lro_future *f)
{
    if (f == NULL || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    if (f->ops->release != NULL) {
        f->ops->release(f);
    }
    lro_arena_free(&f->arena);
    lro_client *c = f->client;
    lro_free(f);
    lro_client_unref_mem(c);
}

void lro_future_discard(lro_future *f)
{
    f->cb = NULL;
    f->ud_free = NULL;
    lro_future_unref(f);
}

/* ---- Outcomes ---------------------------------------------------------------- */

static const Google__Rpc__Status k_status_ok = GOOGLE__RPC__STATUS__INIT;

const lro_status *lro_status_ok(void)
{
    return (const lro_status *)&k_status_ok;
}

const lro_status *lro_status_local(lro_future *f, int code, const char *msg)
{
    static Google__Rpc__Status nomem = {PROTOBUF_C_MESSAGE_INIT(&google__rpc__status__descriptor),
                                        LRO_CODE_RESOURCE_EXHAUSTED,
                                        (char *)"lro: out of memory", 0, NULL};
    Google__Rpc__Status *s = lro_arena_alloc(&f->arena, sizeof *s);
    char *m = s ? lro_arena_strndup(&f->arena, msg, strlen(msg)) : NULL;
    if (s == NULL || m == NULL) {
        return (const lro_status *)&nomem;
    }
    google__rpc__status__init(s);
    s->code = code;
    s->message = m;
    return (const lro_status *)s;
}

/* Every outcome the library makes up itself: result, the status code it
 * carries, and the default text. */
static const struct {
    int result;
    int code;
    const char *text;
} k_local[] = {
    {LRO_ERR_SHUTDOWN, LRO_CODE_CANCELLED, "client destroyed"},
    {LRO_ERR_CANCELLED, LRO_CODE_CANCELLED, "cancelled locally (lro_future_cancel)"},
    {LRO_ERR_NOMEM, LRO_CODE_RESOURCE_EXHAUSTED, "out of memory"},
    {LRO_ERR_TIMEOUT, LRO_CODE_DEADLINE_EXCEEDED, "timed out"},
    {LRO_ERR_DECODE, LRO_CODE_INTERNAL, "invalid response"},
    {LRO_ERR_INTERNAL, LRO_CODE_INTERNAL, "internal error (grpc refused to start the call)"},
};

void lro_future_set_local(lro_future *f, int result, const char *why)
{
    int code = LRO_CODE_UNKNOWN;
    const char *text = lro_strerror(result);
    for (size_t i = 0; i < sizeof k_local / sizeof k_local[0]; i++) {
        if (k_local[i].result == result) {
            code = k_local[i].code;
            text = k_local[i].text;
            break;
        }
    }
    if (result == LRO_ERR_NOMEM) {
        why = NULL; /* no room for anything longer: the static text */
    }
    char msg[800];
    snprintf(msg, sizeof msg, "lro: %s", why != NULL ? why : text);
    f->result = result;
    f->status = lro_status_local(f, code, msg);
}

void lro_future_finish_local(lro_future *f, int result, const char *why)
{
    lro_future_set_local(f, result, why);
    lro_future_finish(f, result);
}

/* ---- Completion and delivery ----------------------------------------------------- */

static void futex_wake_all(atomic_int *addr)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Called once per future, on whichever thread learned the outcome. */
void lro_future_finish(lro_future *f, int result)
{
    lro_client *c = f->client;
    f->result = result;
    if (f->obs != NULL) { /* before the owner's hook: a call's events precede its await's */
        lro_obs_finished(f);
    }
    if (f->ops->finishing != NULL) {
        f->ops->finishing(f);
    }
    atomic_store_explicit(&f->done, 1, memory_order_release);
    if (atomic_load(&f->waiters) > 0) {
        futex_wake_all(&f->done);
    }

    pthread_mutex_lock(&c->ready_mu);
    /* Loop mode: ud_free is user code too (a binding's decref may need the
     * loop thread), so it is delivered through the queue even without cb. */
    int queue = f->cb != NULL || (c->mode == LRO_MODE_LOOP && f->ud_free != NULL);
    int was_empty = 0;
    lro_free_fn ud_free = NULL;
    void *ud = f->ud;
    if (queue) {
        /* The library's reference moves into the ready queue. */
        f->queued = 1;
        was_empty = lro_ready_push_locked(c, &f->ready);
    } else {
        f->lib_ref_dropped = 1;
        ud_free = f->ud_free;
        f->ud_free = NULL;
    }
    pthread_mutex_unlock(&c->ready_mu);

    if (!queue) {
        if (ud_free != NULL) {
            ud_free(ud);
        }
        lro_future_unref(f);
        return;
    }
    lro_client_signal_ready(c, was_empty);
}

/* The ready queue's entry point: runs the callback (and the user data's
 * destructor) of a finished future, then drops the queue's reference. */
static void deliver(lro_ready *r)
{
    lro_future *f = (lro_future *)((char *)r - offsetof(lro_future, ready));
    lro_client *c = f->client;
    pthread_mutex_lock(&c->ready_mu);
    f->queued = 0;
    if (f->cb == NULL) {
        /* A ud_free-only delivery: a then() from now on must queue itself
         * (as for any finished future), not wait for a queueing that
         * already happened. */
        f->lib_ref_dropped = 1;
    }
    lro_done_cb cb = f->cb;
    void *ud = f->ud;
    lro_free_fn ud_free = f->ud_free;
    f->ud_free = NULL;
    pthread_mutex_unlock(&c->ready_mu);

    if (cb != NULL) {
        cb(f, ud); /* NULL: a loop-mode ud_free-only delivery */
    }
    if (ud_free != NULL) {
        ud_free(ud);
    }
    lro_future_unref(f);
}

int lro_future_is_done(const lro_future *f)
{
    return f != NULL && atomic_load_explicit(&f->done, memory_order_acquire);
}

int lro_future_wait(lro_future *f, int64_t timeout_ms)
{
    if (f == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lro_future_is_done(f)) {
        return LRO_OK;
    }
    if (timeout_ms == 0) {
        return LRO_ERR_TIMEOUT;
    }
    if (lro_on_io_thread(f->client)) {
        return LRO_ERR_STATE; /* the thread that would complete it is us */
    }
    int64_t deadline = timeout_ms > 0 ? lro_now_ns() + timeout_ms * 1000000 : INT64_MAX;
    atomic_fetch_add(&f->waiters, 1);
    int rc = LRO_OK;
    while (!atomic_load_explicit(&f->done, memory_order_acquire)) {
        struct timespec ts, *tsp = NULL;
        if (deadline != INT64_MAX) {
            int64_t left = deadline - lro_now_ns();
            if (left <= 0) {
                rc = LRO_ERR_TIMEOUT;
                break;
            }
            ts.tv_sec = left / 1000000000;
            ts.tv_nsec = left % 1000000000;
            tsp = &ts;
        }
        syscall(SYS_futex, (int *)&f->done, FUTEX_WAIT_PRIVATE, 0, tsp, NULL, 0);
    }
    atomic_fetch_sub(&f->waiters, 1);
    return rc;
}

int lro_future_then(lro_future *f, lro_done_cb cb, void *user_data, lro_free_fn ud_free)
{
    if (f == NULL || cb == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_client *c = f->client;
    pthread_mutex_lock(&c->ready_mu);
    if (f->cb != NULL) {
        pthread_mutex_unlock(&c->ready_mu);
        return LRO_ERR_STATE;
    }
    /* User data given at start without a callback is never handed to any
     * callback: release it now rather than lose its destructor. */
    lro_free_fn old_free = f->ud_free;
    void *old_ud = f->ud;
    f->cb = cb;
    f->ud = user_data;
    f->ud_free = ud_free;
    if (!f->lib_ref_dropped) {
        /* Not finished yet (finish() reads cb under this lock): it will be
         * queued normally. */
        pthread_mutex_unlock(&c->ready_mu);
        if (old_free != NULL) {
            old_free(old_ud);
        }
        return LRO_OK;
    }
    if (lro_client_closing(c)) {
        pthread_mutex_unlock(&c->ready_mu);
        /* No dispatch context is left: run here (documented). */
        f->ud_free = NULL;
        cb(f, user_data);
        if (ud_free != NULL) {
            ud_free(user_data);
        }
        return LRO_OK;
    }
    /* Already finished: queue it with a reference of its own. */
    lro_future_ref(f);
    f->queued = 1;
    int was_empty = lro_ready_push_locked(c, &f->ready);
    pthread_mutex_unlock(&c->ready_mu);
    lro_client_signal_ready(c, was_empty);
    return LRO_OK;
}

int lro_future_result(const lro_future *f)
{
    if (f == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    return lro_future_is_done(f) ? f->result : LRO_ERR_NOT_DONE;
}

const lro_status *lro_future_status(const lro_future *f)
{
    return lro_future_is_done(f) ? f->status : NULL;
}

const lro_operation *lro_future_operation(const lro_future *f)
{
    if (!lro_future_is_done(f) ||
        !(f->kind == LRO_K_GET || f->kind == LRO_K_WAIT || f->kind == LRO_K_AWAIT)) {
        return NULL;
    }
    return (const lro_operation *)f->msg;
}

const lro_page *lro_future_page(const lro_future *f)
{
    if (!lro_future_is_done(f) || f->kind != LRO_K_LIST) {
        return NULL;
    }
    return (const lro_page *)f->msg;
}

int lro_future_cancel(lro_future *f)
{
    if (f == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lro_future_is_done(f) || atomic_exchange(&f->cancel_requested, 1)) {
        return LRO_OK;
    }
    if (f->ops->cancel != NULL) {
        f->ops->cancel(f);
    }
    return LRO_OK;
}

void lro_future_cancel_in_slot(pthread_mutex_t *mu, lro_future *const *slot)
{
    pthread_mutex_lock(mu);
    lro_future *f = *slot != NULL ? lro_future_ref(*slot) : NULL;
    pthread_mutex_unlock(mu);
    if (f != NULL) {
        lro_future_cancel(f);
        lro_future_unref(f);
    }
}

int lro_future_attempts(const lro_future *f)
{
    return f != NULL ? f->attempts : 0;
}
