/* Futures: one per call, reference counted, completed exactly once; and the
 * ready queue through which every callback is delivered. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"

lro_future *lro_future_new(lro_client *c, lro_kind kind)
{
    return lro_future_new_sized(c, kind, LRO_FUTURE_INLINE);
}

lro_future *lro_future_new_sized(lro_client *c, lro_kind kind, size_t inline_len)
{
    lro_future *f = lro_malloc(offsetof(lro_future, inline_buf) + inline_len);
    if (f == NULL) {
        return NULL;
    }
    /* Only the header is cleared; inline_buf is the arena's and needs no zeroing. */
    memset(f, 0, offsetof(lro_future, inline_buf));
    atomic_init(&f->refs, 1); /* the library's reference */
    f->client = c;
    f->kind = kind;
    f->timer.heap_index = SIZE_MAX;
    lro_arena_init(&f->arena, f->inline_buf, inline_len);
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
    if (GRPC_SLICE_START_PTR(f->request) != NULL || GRPC_SLICE_LENGTH(f->request) != 0) {
        grpc_slice_unref(f->request);
    }
    if (f->aw != NULL) {
        lro_await_release(f);
    }
    lro_arena_free(&f->arena);
    lro_client *c = f->client;
    lro_free(f);
    lro_client_unref_mem(c);
}

static void futex_wake_all(atomic_int *addr)
{
    syscall(SYS_futex, (int *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* Appends f to the ready queue (caller holds c->ready_mu); returns whether
 * the queue was empty before. */
static int push_ready_locked(lro_client *c, lro_future *f)
{
    int was_empty = c->ready_head == NULL;
    f->queued = 1;
    f->ready_next = NULL;
    if (c->ready_tail) {
        c->ready_tail->ready_next = f;
    } else {
        c->ready_head = f;
    }
    c->ready_tail = f;
    return was_empty;
}

/* Tells whoever runs callbacks that there is work: loop mode signals the
 * eventfd / wakeup hook on the empty -> non-empty edge; thread mode wakes
 * the I/O thread unless we are on it. */
static void signal_ready(lro_client *c, int was_empty)
{
    if (c->mode == LRO_MODE_LOOP) {
        if (was_empty) {
            uint64_t one = 1;
            if (c->event_fd >= 0) {
                ssize_t w = write(c->event_fd, &one, sizeof one);
                (void)w;
            }
            if (c->wakeup != NULL) {
                c->wakeup(c->wakeup_data);
            }
        }
    } else if (!lro_on_io_thread(c)) {
        lro_client_wake_io(c);
    }
}

/* Called once per future, on whichever thread learned the outcome. */
void lro_future_finish(lro_future *f, int result)
{
    lro_client *c = f->client;
    f->result = result;
    if (f->on_finish != NULL) {
        f->on_finish(f);
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
    if (queue) {
        /* The library's reference moves into the ready queue. */
        was_empty = push_ready_locked(c, f);
    } else {
        f->lib_ref_dropped = 1;
    }
    lro_free_fn ud_free = queue ? NULL : f->ud_free;
    void *ud = f->ud;
    if (!queue) {
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
    signal_ready(c, was_empty);
}

int lro_client_drain_ready(lro_client *c, int max)
{
    int ran = 0;
    /* A callback may destroy the client: keep its memory until we are done. */
    lro_client_ref_mem(c);
    while (max <= 0 || ran < max) {
        pthread_mutex_lock(&c->ready_mu);
        lro_future *f = c->ready_head;
        if (f == NULL) {
            pthread_mutex_unlock(&c->ready_mu);
            break;
        }
        c->ready_head = f->ready_next;
        if (c->ready_head == NULL) {
            c->ready_tail = NULL;
        }
        f->queued = 0;
        if (f->cb == NULL) {
            /* A ud_free-only delivery: a then() from now on must queue
             * itself (as for any finished future), not wait for a queueing
             * that already happened. */
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
        ran++;
    }
    lro_client_unref_mem(c);
    return ran;
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
    pthread_mutex_lock(&c->mu);
    int closed = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (closed) {
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
    int was_empty = push_ready_locked(c, f);
    pthread_mutex_unlock(&c->ready_mu);
    signal_ready(c, was_empty);
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

int lro_future_attempts(const lro_future *f)
{
    return f != NULL ? f->attempts : 0;
}
