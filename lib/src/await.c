/* Await until done: a composite future driving a chain of child RPCs
 * (WaitOperation or GetOperation, optionally preceded by CancelOperation).
 *
 * No thread per await: between polls an await is one entry in the client's
 * timer heap; each poll is an ordinary call whose completion hook (run on
 * the I/O thread) decides what happens next. State changes are made under
 * c->mu; user code (progress and done callbacks) only ever runs from the
 * ready queue. */
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/status.pb-c.h"

struct lro_await_state {
    char *name;
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
    lro_future *last;  /* last child that returned an operation */
    lro_future *err;   /* child whose status ended the await */
    char *meta_type;   /* metadata last reported, for de-duplication */
    uint8_t *meta;
    size_t meta_len;
    int have_meta;
    lro_timer timer;   /* next poll or the time-out (c->mu) */
    lro_future *self;  /* the await future, for the timer callback */
};

static void start_poll(lro_future *f);

void lro_await_release(lro_future *f)
{
    lro_await_state *aw = f->aw;
    lro_future_unref(aw->last);
    lro_future_unref(aw->err);
    lro_free(aw->meta_type);
    lro_free(aw->meta);
    lro_free(aw->name);
    f->aw = NULL;
}

static void finish_await(lro_future *f, int result, const lro_status *status)
{
    lro_await_state *aw = f->aw;
    f->status = status;
    if (aw->last != NULL) {
        f->msg = aw->last->msg; /* the child may not be published yet: read it raw */
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
    int has = lro_operation_metadata(op, &url, &val, &len);
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
        lro_future_unref(aw->last);
        aw->last = lro_future_ref(child);
        if (lro_operation_done(op)) {
            const lro_status *e = lro_operation_error(op);
            int res = LRO_OK;
            if (e != NULL) {
                res = lro_status_code(e) == LRO_CODE_CANCELLED ? LRO_ERR_OP_CANCELLED
                                                               : LRO_ERR_OP_FAILED;
            }
            finish_await(f, res, lro_status_ok());
            return;
        }
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
    if (r == LRO_ERR_RPC && lro_status_retry_delay_ms(s, &ri_ms)) {
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

/* Sends the next child RPC (respecting the poll budget). */
static void start_poll(lro_future *f)
{
    lro_await_state *aw = f->aw;
    lro_client *c = f->client;
    lro_kind kind = aw->cancel_first ? LRO_K_CANCEL : aw->use_wait ? LRO_K_WAIT : LRO_K_GET;
    if (kind == LRO_K_WAIT && atomic_load(&c->wait_unimplemented) &&
        aw->pp.method == LRO_AWAIT_AUTO) {
        aw->use_wait = 0;
        kind = LRO_K_GET;
    }
    if (kind != LRO_K_CANCEL && aw->budget_held) {
        aw->budget_held = 0; /* reserved when this poll was scheduled */
    } else if (kind != LRO_K_CANCEL) {
        pthread_mutex_lock(&c->mu);
        int64_t wait = lro_budget_take_locked(c, lro_now_ns());
        pthread_mutex_unlock(&c->mu);
        if (wait > 0) {
            aw->budget_held = 1;
            schedule(f, wait);
            return;
        }
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
    if (rc == LRO_OK && atomic_load(&f->cancel_requested)) {
        /* Cancelled while the child was being created: cancel the child. */
        pthread_mutex_lock(&c->mu);
        lro_future *child = aw->child ? lro_future_ref(aw->child) : NULL;
        pthread_mutex_unlock(&c->mu);
        if (child != NULL) {
            lro_future_cancel(child);
            lro_future_unref(child);
        }
        return;
    }
    if (rc == LRO_ERR_SHUTDOWN) {
        finish_local(f, rc, LRO_CODE_CANCELLED, "lro: client destroyed");
    } else if (rc == LRO_ERR_NOMEM) {
        /* The poll could not start for lack of memory: the same status every
         * other out-of-memory outcome carries, not an INTERNAL error. */
        finish_local(f, rc, LRO_CODE_RESOURCE_EXHAUSTED, "lro: out of memory");
    } else if (rc != LRO_OK) {
        finish_local(f, rc, LRO_CODE_INTERNAL, lro_strerror(rc));
    }
}

static int await_start(lro_client *c, const char *name, const lro_poll_policy *policy,
                       const lro_call_options *opts, lro_progress_cb progress, lro_done_cb cb,
                       void *user_data, lro_free_fn ud_free, lro_future **out, int cancel_first)
{
    if (c == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    int rc = lro_check_name(name);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    if (policy != NULL) {
        if (policy->struct_size < offsetof(lro_poll_policy, multiplier)) {
            return LRO_ERR_INVALID_ARG;
        }
        memcpy(&pp, policy, policy->struct_size < sizeof pp ? policy->struct_size : sizeof pp);
        pp.struct_size = sizeof pp;
    }
    if (pp.initial_delay_ms < 0 || !(pp.multiplier >= 1.0 && pp.multiplier <= 100.0) ||
        pp.max_delay_ms < 0 || !(pp.jitter >= 0.0 && pp.jitter <= 1.0) ||
        pp.total_timeout_ms < 0 || pp.wait_timeout_ms < 0 ||
        (pp.method != LRO_AWAIT_AUTO && pp.method != LRO_AWAIT_POLL_ONLY &&
         pp.method != LRO_AWAIT_WAIT_ONLY)) {
        return LRO_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&c->mu);
    int closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    if (closing) {
        return LRO_ERR_SHUTDOWN;
    }
    lro_future *f = lro_future_new(c, LRO_K_AWAIT);
    if (f == NULL) {
        return LRO_ERR_NOMEM;
    }
    lro_await_state *aw = lro_arena_alloc(&f->arena, sizeof *aw);
    char *nm = lro_strdup(name);
    if (aw == NULL || nm == NULL) {
        lro_free(nm);
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
    if (child == NULL && aw->timer.heap_index != SIZE_MAX) {
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
