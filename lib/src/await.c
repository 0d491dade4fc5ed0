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

#include "call_int.h"
#include "obs_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/status.pb-c.h"

/* What many awaits share: the normalised poll policy, a deep copy of the
 * call options and the progress callback. Awaits started with equal ones
 * (the usual case: a batch of thousands) share one copy, found through a
 * small per-client cache, instead of ~170 bytes each. */
typedef struct lro_await_cfg {
    int refs; /* c->mu */
    lro_poll_policy pp;
    lro_call_options opts; /* deep copy in `arena` */
    lro_progress_cb progress;
    lro_arena arena;
} lro_await_cfg;

/* State only some awaits need, allocated when first needed: a run of
 * transient poll failures, and the metadata last reported to a progress
 * callback. */
typedef struct await_aux {
    /* The run of transient failures (UNAVAILABLE, a turn's own
     * DEADLINE_EXCEEDED, RetryInfo): retried with backoff until the transient
     * budget or the total timeout runs out. since_ns 0: none. */
    int64_t streak_since_ns;
    double streak_delay_ms;
    int streak_attempts;
    int streak_code;
    char *streak_msg; /* the last failure's message */
    char *meta_type;  /* metadata last reported, for de-duplication */
    uint8_t *meta;
    size_t meta_len;
    int have_meta;
} await_aux;

/* One await: kept small (about 250 bytes with a short name), because users
 * await up to a million operations in one process. */
typedef struct lro_awaiter {
    lro_future base; /* first: an await is a future */
    lro_await_cfg *cfg;
    await_aux *aux; /* NULL until needed */
    union {
        /* Before the end: the poll in flight (c->mu), not a reference. */
        lro_future *child;
        /* At the end (has_end): the child whose answer ended the await, a
         * reference: its final state (end_is_state) or its failure. */
        lro_future *end;
    };
    /* The last not-done state seen, packed, behind a 4-byte length; NULL
     * when it was only {name, done: false} (rebuilt at the end). */
    uint8_t *last_state;
    int64_t deadline_ns;
    int polls;
    unsigned cancel_first : 1; /* still to send CancelOperation */
    unsigned use_wait : 1;     /* this await polls with WaitOperation */
    unsigned budget_held : 1;  /* a poll-budget token is reserved for the next poll */
    unsigned queued : 1;       /* waiting for an RPC slot (c->mu) */
    unsigned has_end : 1;
    unsigned end_is_state : 1;
    unsigned seen_state : 1; /* a not-done state was seen */
    unsigned reported : 1;   /* progress was called at least once */
    lro_timer timer;         /* next poll, the time-out, or a place in the slot queue (c->mu) */
    /* Waiting for an RPC slot (c->mu): links in c->aw.qhead..qtail. */
    struct lro_awaiter *qprev, *qnext;
    char name[]; /* the operation's name, NUL-terminated */
} lro_awaiter;

static inline lro_awaiter *await_of(lro_future *f)
{
    return (lro_awaiter *)f;
}

static void start_poll(lro_future *f);
static int send_poll(lro_future *f);
static void finish_local(lro_future *f, int result, const char *why);
static void await_cancel(lro_future *f);
static void await_release(lro_future *f);
static void cfg_release(lro_client *c, lro_await_cfg *k);

static const lro_future_ops k_await_ops = {await_cancel, await_release, NULL};
static const char k_cancelled_why[] = "await cancelled locally; the operation was not touched";

static void await_release(lro_future *f)
{
    lro_awaiter *aw = await_of(f);
    if (aw->has_end) {
        lro_future_unref(aw->end);
    }
    lro_free(aw->last_state);
    if (aw->aux != NULL) {
        lro_free(aw->aux->streak_msg);
        lro_free(aw->aux->meta_type);
        lro_free(aw->aux->meta);
        lro_free(aw->aux);
    }
    cfg_release(f->client, aw->cfg);
}

/* The side state, allocated on first need; NULL when memory ran out. */
static await_aux *aux_of(lro_awaiter *aw)
{
    if (aw->aux == NULL) {
        aw->aux = lro_calloc(1, sizeof *aw->aux);
    }
    return aw->aux;
}

/* ---- Poll budget (c->mu) --------------------------------------------------------- */

/* 0 when a token was taken; else a token was RESERVED and the result is the
 * ns until it may be used: the caller sends its poll then, without asking
 * again. */
static int64_t budget_take_locked(lro_client *c, int64_t now_ns)
{
    lro_client_awaits *b = &c->aw;
    if (b->budget_rate <= 0) {
        return 0;
    }
    double elapsed = (double)(now_ns - b->budget_last_ns) / 1e9;
    b->budget_last_ns = now_ns;
    b->budget_tokens += elapsed * b->budget_rate;
    if (b->budget_tokens > b->budget_burst) {
        b->budget_tokens = b->budget_burst;
    }
    if (b->budget_tokens >= 1.0) {
        b->budget_tokens -= 1.0;
        return 0;
    }
    /* No token now: reserve the next one (the balance goes negative) and
     * tell the caller when it is theirs. Waiting polls are thus spaced
     * 1/rate apart; without the reservation every waiting await got the
     * same short delay, and 100,000 timers kept waking together to ask
     * again, starving the I/O thread. */
    b->budget_tokens -= 1.0;
    int64_t wait = (int64_t)(-b->budget_tokens / b->budget_rate * 1e9);
    return wait > 0 ? wait : 1;
}

/* ---- RPC slots ---------------------------------------------------------------- */

static void queue_push_locked(lro_client *c, lro_awaiter *aw)
{
    aw->qnext = NULL;
    aw->qprev = c->aw.qtail;
    if (c->aw.qtail != NULL) {
        c->aw.qtail->qnext = aw;
    } else {
        c->aw.qhead = aw;
    }
    c->aw.qtail = aw;
    aw->queued = 1;
    c->aw.queued++;
}

static void queue_unlink_locked(lro_client *c, lro_awaiter *aw)
{
    if (aw->qprev != NULL) {
        aw->qprev->qnext = aw->qnext;
    } else {
        c->aw.qhead = aw->qnext;
    }
    if (aw->qnext != NULL) {
        aw->qnext->qprev = aw->qprev;
    } else {
        c->aw.qtail = aw->qprev;
    }
    aw->qprev = aw->qnext = NULL;
    aw->queued = 0;
    c->aw.queued--;
}

/* Takes a slot for `aw`, or queues it. 1 = slot taken, 0 = queued. A queued
 * await with a total timeout keeps its timer in the heap at the deadline,
 * so it times out on time even if no slot frees up before. */
static int slot_take_locked(lro_client *c, lro_awaiter *aw)
{
    if (c->aw.cap > 0 && (c->aw.inflight >= c->aw.cap || c->aw.qhead != NULL)) {
        /* Always in the heap while queued: at the deadline, or never due.
         * So a queued await times out on time even if no slot frees up,
         * and the client's destroy (which fires every timer as cancelled)
         * finishes it without knowing what an await is. */
        aw->timer.node.key = aw->deadline_ns != 0 ? aw->deadline_ns : INT64_MAX;
        if (lro_timer_add_locked(c, &aw->timer) != LRO_OK) {
            return -1;
        }
        queue_push_locked(c, aw); /* behind those already waiting: FIFO */
        return 0;
    }
    c->aw.inflight++;
    return 1;
}

/* Gives a slot back; when an await is queued (and the client not closing)
 * the slot passes straight to it, and it is returned for the caller to send
 * once the lock is dropped. */
static lro_future *slot_release_locked(lro_client *c)
{
    c->aw.inflight--;
    if (c->closing || c->aw.qhead == NULL || (c->aw.cap > 0 && c->aw.inflight >= c->aw.cap)) {
        return NULL;
    }
    lro_awaiter *next = c->aw.qhead;
    queue_unlink_locked(c, next);
    lro_timer_remove_locked(c, &next->timer); /* its place-in-queue timer */
    c->aw.inflight++;
    return &next->base;
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

size_t lro_client_awaits_queued(const lro_client *c)
{
    if (c == NULL) {
        return 0;
    }
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    size_t n = c->aw.queued;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return n;
}

/* Keeps `child` as the one that ended the await (under c->mu: the slot is
 * the in-flight child's, which await_cancel reads). */
static void set_end(lro_awaiter *aw, lro_future *child, int is_state)
{
    lro_client *c = aw->base.client;
    lro_future_ref(child);
    pthread_mutex_lock(&c->mu);
    aw->end = child;
    aw->has_end = 1;
    aw->end_is_state = is_state != 0;
    pthread_mutex_unlock(&c->mu);
}

/* The await's operation view: the final state, or the last one seen. */
static void publish_last_state(lro_future *f)
{
    lro_awaiter *aw = await_of(f);
    if (aw->end_is_state) {
        f->msg = aw->end->msg; /* the child may not be published yet: read it raw */
    } else if (aw->last_state != NULL) {
        /* Our own packing of a message we decoded: only memory can fail here,
         * and then the view is NULL (documented as "no state seen"). */
        uint32_t len;
        memcpy(&len, aw->last_state, sizeof len);
        f->msg = lro_decode_response(&f->arena, LRO_K_GET, aw->last_state + sizeof len, len);
        lro_free(aw->last_state);
        aw->last_state = NULL;
    } else if (aw->seen_state) {
        /* It was {name, done: false}: rebuild that. */
        Google__Longrunning__Operation *op = lro_arena_alloc(&f->arena, sizeof *op);
        if (op != NULL) {
            google__longrunning__operation__init(op);
            op->name = aw->name;
            f->msg = op;
        }
    }
}

static void finish_await(lro_future *f, int result, const lro_status *status)
{
    f->status = status;
    publish_last_state(f);
    lro_future_finish(f, result);
}

/* A local outcome (status from the future layer's table). */
static void finish_local(lro_future *f, int result, const char *why)
{
    lro_future_set_local(f, result, why);
    publish_last_state(f);
    lro_future_finish(f, result);
}

static int metadata_changed(lro_awaiter *aw, const lro_operation *op)
{
    const char *url = NULL;
    const uint8_t *val = NULL;
    size_t len = 0;
    int has = 0;
    lro_operation_metadata(op, &url, &val, &len, &has);
    await_aux *x = aux_of(aw);
    if (!has || x == NULL) {
        /* Without memory to remember it we may report the same progress
         * twice later; reporting a change now is still right. */
        return has;
    }
    if (x->have_meta && x->meta_len == len && strcmp(x->meta_type, url) == 0 &&
        (len == 0 || memcmp(x->meta, val, len) == 0)) {
        return 0;
    }
    char *t = lro_strdup(url);
    uint8_t *m = lro_memdup(val, len);
    if (t == NULL || m == NULL) {
        lro_free(t);
        lro_free(m);
        return 1;
    }
    lro_free(x->meta_type);
    lro_free(x->meta);
    x->meta_type = t;
    x->meta = m;
    x->meta_len = len;
    x->have_meta = 1;
    return 1;
}

/* Remembers a not-done state as packed bytes rather than keeping the poll's
 * future (~1.2 KiB with its arena) alive until the next poll; nothing at all
 * when the state is only {name, done: false} (the common case for a
 * service that reports no metadata). */
static void keep_last_state(lro_awaiter *aw, lro_future *child)
{
    const Google__Longrunning__Operation *op = child->msg;
    aw->seen_state = 1;
    lro_free(aw->last_state);
    aw->last_state = NULL;
    if (op->metadata == NULL &&
        op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT__NOT_SET &&
        op->base.n_unknown_fields == 0 && strcmp(op->name ? op->name : "", aw->name) == 0) {
        return;
    }
    size_t n = protobuf_c_message_get_packed_size(&op->base);
    uint32_t len = (uint32_t)n;
    uint8_t *b = n <= UINT32_MAX ? lro_malloc(sizeof len + n) : NULL;
    if (b == NULL) {
        return; /* documented: the view may then be older or absent */
    }
    memcpy(b, &len, sizeof len);
    protobuf_c_message_pack(&op->base, b + sizeof len);
    aw->last_state = b;
}

static void progress_trampoline(lro_future *child, void *ud)
{
    lro_future *f = ud;
    const lro_operation *op = lro_future_operation(child);
    if (op != NULL && f->ops == &k_await_ops && await_of(f)->cfg->progress != NULL &&
        !lro_future_is_done(f)) {
        await_of(f)->cfg->progress(op, f->ud);
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
    lro_awaiter *aw = await_of(f);
    int64_t due = lro_now_ns() + delay_ns;
    if (aw->deadline_ns != 0 && due > aw->deadline_ns) {
        due = aw->deadline_ns;
    }
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        finish_local(f, LRO_ERR_SHUTDOWN, NULL);
        return;
    }
    /* A local cancel that found neither a child nor a timer (it came while
     * we were between the two) is honoured here: fire at once. */
    aw->timer.node.key = atomic_load(&f->cancel_requested) ? 0 : due;
    int rc = lro_timer_add_locked(c, &aw->timer);
    pthread_mutex_unlock(&c->mu);
    if (rc != LRO_OK) {
        finish_local(f, LRO_ERR_NOMEM, NULL);
        return;
    }
    lro_client_wake_io(c); /* no-op on the I/O thread */
}

static int64_t next_get_delay_ns(lro_future *f)
{
    lro_awaiter *aw = await_of(f);
    lro_client *c = f->client;
    /* The k-th poll is followed by initial * multiplier^(k-1): computed
     * from the poll count, so that no await stores its own delay. */
    double d = (double)aw->cfg->pp.initial_delay_ms;
    for (int i = 1; i < aw->polls && d < (double)aw->cfg->pp.max_delay_ms; i++) {
        d *= aw->cfg->pp.multiplier;
    }
    if (d > (double)aw->cfg->pp.max_delay_ms) {
        d = (double)aw->cfg->pp.max_delay_ms;
    }
    if (aw->cfg->progress != NULL && aw->cfg->pp.progress_interval_ms > 0 &&
        d > (double)aw->cfg->pp.progress_interval_ms) {
        d = (double)aw->cfg->pp.progress_interval_ms; /* a change must show within the interval */
    }
    pthread_mutex_lock(&c->mu);
    double r = lro_rand01_locked(c);
    pthread_mutex_unlock(&c->mu);
    d *= 1.0 - aw->cfg->pp.jitter * r;
    return (int64_t)(d * 1e6);
}

/* ---- Transient failures ---------------------------------------------------------- */

/* A poll cut after this long by an UNAVAILABLE without details (grpc's own
 * status, not one a server wrote) is taken for a recycled connection (GOAWAY
 * at a max connection age, a proxy's idle timeout) rather than a failing
 * server: a server that is down fails a call in milliseconds, while a cut
 * stream had been open (a held WaitOperation). The first such failure of a
 * streak is re-sent at once. */
#define CUT_AFTER_NS (1000LL * 1000000)

static void streak_end(lro_awaiter *aw)
{
    if (aw->aux != NULL) {
        aw->aux->streak_since_ns = 0;
        aw->aux->streak_attempts = 0;
        lro_free(aw->aux->streak_msg);
        aw->aux->streak_msg = NULL;
    }
}

/* Ends the await with the streak's last status, saying how long and how
 * often it tried. */
static void finish_streak(lro_future *f)
{
    const await_aux *x = await_of(f)->aux; /* set: a streak is running */
    char msg[640];
    snprintf(msg, sizeof msg, "%s (retried for %.1f s, %d attempts)",
             x->streak_msg ? x->streak_msg : "", (double)(lro_now_ns() - x->streak_since_ns) / 1e9,
             x->streak_attempts);
    finish_await(f, LRO_ERR_RPC, lro_status_local(f, x->streak_code, msg));
}

/* The poll failed with `child`'s status. When that is transient, schedules
 * the next poll (or ends the await when the budget is spent) and returns 1;
 * returns 0 for a permanent failure. */
static int transient_failure(lro_future *f, lro_future *child)
{
    lro_awaiter *aw = await_of(f);
    const lro_status *s = child->status;
    int code = lro_status_code(s);
    int64_t ri_ms = 0;
    int from_server = lro_status_has_retry_delay(s, &ri_ms);
    if (!from_server &&
        !(code >= 0 && code <= 16 && (aw->cfg->pp.transient_codes & (1u << code)))) {
        return 0;
    }
    await_aux *x = aux_of(aw);
    if (x == NULL) {
        return 0; /* no memory to track the run: end with this status */
    }
    int64_t now = lro_now_ns();
    int64_t turn_start = lro_call_started_ns(child);
    int first = x->streak_since_ns == 0;
    if (first) {
        x->streak_since_ns = turn_start;
        x->streak_delay_ms =
            (double)(aw->cfg->pp.initial_delay_ms > 0 ? aw->cfg->pp.initial_delay_ms : 100);
    }
    x->streak_attempts += child->attempts;
    x->streak_code = code;
    char *m = lro_strdup(lro_status_message(s));
    if (m != NULL) {
        lro_free(x->streak_msg);
        x->streak_msg = m;
    }
    double delay_ms;
    if (from_server) {
        delay_ms = (double)ri_ms; /* the server knows best; no jitter */
    } else if (first && code == LRO_CODE_UNAVAILABLE && lro_status_detail_count(s) == 0 &&
               now - turn_start >= CUT_AFTER_NS) {
        delay_ms = 0; /* a recycled connection: ask again at once */
    } else {
        lro_client *c = f->client;
        pthread_mutex_lock(&c->mu);
        double r = lro_rand01_locked(c);
        pthread_mutex_unlock(&c->mu);
        delay_ms = x->streak_delay_ms * (1.0 - aw->cfg->pp.jitter * r);
        x->streak_delay_ms *= aw->cfg->pp.multiplier;
        if (x->streak_delay_ms > (double)aw->cfg->pp.max_delay_ms) {
            x->streak_delay_ms = (double)aw->cfg->pp.max_delay_ms;
        }
    }
    int64_t due = now + (int64_t)(delay_ms * 1e6);
    int64_t budget_end = aw->cfg->pp.transient_budget_ms > 0
                             ? x->streak_since_ns + aw->cfg->pp.transient_budget_ms * 1000000
                             : 0;
    if ((budget_end != 0 && due >= budget_end) ||
        (aw->deadline_ns != 0 && due >= aw->deadline_ns)) {
        finish_streak(f); /* the next try would come after the budget */
        return 1;
    }
    schedule(f, due - now);
    return 1;
}

/* Completion hook of every child, on the thread that finished it. */
static void child_done(lro_future *child)
{
    lro_future *f = lro_call_owner_data(child);
    lro_awaiter *aw = await_of(f);
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    aw->child = NULL;
    int closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    /* This child's slot goes to the next queued await first: it was waiting
     * longer than whatever this await does next. */
    slot_release(c);

    if (closing || child->result == LRO_ERR_SHUTDOWN) {
        finish_local(f, LRO_ERR_SHUTDOWN, NULL);
        return;
    }
    if (atomic_load(&f->cancel_requested)) {
        finish_local(f, LRO_ERR_CANCELLED, k_cancelled_why);
        return;
    }
    int r = child->result;
    if (child->kind == LRO_K_CANCEL) {
        if (r != LRO_OK) {
            set_end(aw, child, 0);
            finish_await(f, r, child->status);
            return;
        }
        aw->cancel_first = 0;
        start_poll(f);
        return;
    }
    aw->polls++;
    if (f->obs != NULL) {
        /* Fallback: a Get because the server has no WaitOperation, or the
         * Wait whose answer just said so. */
        int fb = aw->cfg->pp.method == LRO_AWAIT_AUTO &&
                 (child->kind == LRO_K_GET ? atomic_load(&c->aw.wait_unimplemented)
                                           : r == LRO_ERR_RPC && lro_status_code(child->status) ==
                                                                     LRO_CODE_UNIMPLEMENTED);
        lro_obs_await_poll(f, child, fb ? LRO_POLL_FALLBACK : 0);
    }
    if (r == LRO_OK) {
        streak_end(aw);
        /* Hooks run before the child is marked done: use the raw result. */
        const lro_operation *op = (const lro_operation *)child->msg;
        if (lro_operation_done(op)) {
            set_end(aw, child, 1);
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
        int changed = aw->cfg->progress != NULL && metadata_changed(aw, op);
        if (aw->cfg->progress != NULL && (changed || !aw->reported)) {
            aw->reported = 1;
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
        aw->cfg->pp.method == LRO_AWAIT_AUTO) {
        /* The server has no WaitOperation: poll with Get from now on, and
         * tell every other await of this client. */
        atomic_store(&c->aw.wait_unimplemented, 1);
        aw->use_wait = 0;
        schedule(f, 0);
        return;
    }
    if (r == LRO_ERR_RPC && transient_failure(f, child)) {
        return; /* retried later, or ended with the streak's status */
    }
    set_end(aw, child, 0);
    finish_await(f, r, s);
}

/* The await's timer: poll now, or give up at the deadline. */
static void timer_fire(lro_timer *t, int cancelled)
{
    lro_awaiter *aw = (lro_awaiter *)((char *)t - offsetof(lro_awaiter, timer));
    lro_future *f = &aw->base;
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    if (aw->queued) {
        queue_unlink_locked(c, aw); /* the deadline came while waiting for a slot */
    }
    pthread_mutex_unlock(&c->mu);
    if (cancelled) {
        finish_local(f, LRO_ERR_SHUTDOWN, NULL);
        return;
    }
    if (atomic_load(&f->cancel_requested)) {
        finish_local(f, LRO_ERR_CANCELLED, k_cancelled_why);
        return;
    }
    if (aw->deadline_ns != 0 && lro_now_ns() >= aw->deadline_ns && aw->aux != NULL &&
        aw->aux->streak_since_ns != 0) {
        finish_streak(f); /* still failing when the time ran out */
        return;
    }
    if (aw->deadline_ns != 0 && lro_now_ns() >= aw->deadline_ns) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "await gave up after %lld ms (total_timeout_ms); %d polls, last state kept",
                 (long long)aw->cfg->pp.total_timeout_ms, aw->polls);
        finish_local(f, LRO_ERR_TIMEOUT, msg);
        return;
    }
    start_poll(f);
}

/* Sends the next child RPC: a poll-budget token first, then an RPC slot. */
static void start_poll(lro_future *f)
{
    lro_awaiter *aw = await_of(f);
    lro_client *c = f->client;
    if (!aw->cancel_first && aw->budget_held) {
        aw->budget_held = 0; /* reserved when this poll was scheduled */
    } else if (!aw->cancel_first) {
        pthread_mutex_lock(&c->mu);
        int64_t wait = budget_take_locked(c, lro_now_ns());
        pthread_mutex_unlock(&c->mu);
        if (wait > 0) {
            if (f->obs != NULL) {
                lro_obs_throttled(f, LRO_POLL_THROTTLED_BUDGET);
            }
            aw->budget_held = 1;
            schedule(f, wait);
            return;
        }
    }
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        finish_local(f, LRO_ERR_SHUTDOWN, NULL);
        return;
    }
    if (atomic_load(&f->cancel_requested)) {
        /* A local cancel that found the await between states (no child, no
         * timer, not queued) is honoured here rather than after a queue. */
        pthread_mutex_unlock(&c->mu);
        finish_local(f, LRO_ERR_CANCELLED, k_cancelled_why);
        return;
    }
    int got = slot_take_locked(c, aw);
    if (got == 0 && f->obs != NULL) { /* under c->mu: once queued, aw may go at any time */
        lro_obs_throttled(f, LRO_POLL_THROTTLED_CAP);
    }
    int timed = aw->deadline_ns != 0; /* once queued, aw may go at any time */
    pthread_mutex_unlock(&c->mu);
    if (got < 0) {
        finish_local(f, LRO_ERR_NOMEM, NULL);
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
    lro_awaiter *aw = await_of(f);
    lro_client *c = f->client;
    lro_kind kind = aw->cancel_first ? LRO_K_CANCEL : aw->use_wait ? LRO_K_WAIT : LRO_K_GET;
    if (kind == LRO_K_WAIT && atomic_load(&c->aw.wait_unimplemented) &&
        aw->cfg->pp.method == LRO_AWAIT_AUTO) {
        aw->use_wait = 0;
        kind = LRO_K_GET;
    }
    if (kind == LRO_K_WAIT && aw->cfg->progress != NULL && aw->polls == 0) {
        kind = LRO_K_GET; /* the first state, reported at once */
    }
    int64_t wt = 0;
    if (kind == LRO_K_WAIT) {
        wt = aw->cfg->pp.wait_timeout_ms;
        if (aw->cfg->progress != NULL && aw->cfg->pp.progress_interval_ms > 0 &&
            (wt == 0 || aw->cfg->pp.progress_interval_ms < wt)) {
            wt = aw->cfg->pp.progress_interval_ms; /* each turn ends with the state as it is */
        }
        if (aw->deadline_ns != 0) {
            int64_t left = (aw->deadline_ns - lro_now_ns()) / 1000000;
            if (left < wt) {
                wt = left > 1 ? left : 1;
            }
        }
    }
    lro_call_owner owner = {child_done, f, &aw->child, f};
    if (f->obs != NULL) {
        lro_obs_poll_sent(f);
    }
    int rc = lro_call_start_named(c, kind, aw->name, wt, &aw->cfg->opts, &owner);
    if (rc == LRO_OK) {
        if (atomic_load(&f->cancel_requested)) {
            /* Cancelled while the child was being created: cancel the child. */
            lro_future_cancel_in_slot(&c->mu, &aw->child);
        }
        return 0;
    }
    if (rc == LRO_ERR_SHUTDOWN) {
        finish_local(f, rc, NULL);
    } else if (rc == LRO_ERR_NOMEM) {
        /* The poll could not start for lack of memory: the same status every
         * other out-of-memory outcome carries, not an INTERNAL error. */
        finish_local(f, rc, NULL);
    } else {
        finish_local(f, rc, NULL);
    }
    return 1;
}

/* ---- Shared configurations (c->mu) ----------------------------------------------- */

static int str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int pp_equal(const lro_poll_policy *a, const lro_poll_policy *b)
{
    return a->initial_delay_ms == b->initial_delay_ms && a->multiplier == b->multiplier &&
           a->max_delay_ms == b->max_delay_ms && a->jitter == b->jitter &&
           a->total_timeout_ms == b->total_timeout_ms && a->method == b->method &&
           a->wait_timeout_ms == b->wait_timeout_ms &&
           a->transient_budget_ms == b->transient_budget_ms &&
           a->transient_codes == b->transient_codes &&
           a->progress_interval_ms == b->progress_interval_ms;
}

/* `o` (normalised, the caller's layout) against a cached deep copy. */
static int opts_equal(const lro_call_options *o, const lro_call_options *copy)
{
    if (o->timeout_ms != copy->timeout_ms || o->header_count != copy->header_count ||
        o->credentials != copy->credentials || !str_eq(o->traceparent, copy->traceparent) ||
        !str_eq(o->tracestate, copy->tracestate) || (o->retry == NULL) != (copy->retry == NULL)) {
        return 0;
    }
    for (size_t i = 0; i < o->header_count; i++) {
        lro_header h, k;
        lro_call_header(o, i, &h);
        lro_call_header(copy, i, &k);
        if (strcmp(h.key, k.key) != 0 || h.value_len != k.value_len ||
            memcmp(h.value, k.value, h.value_len) != 0) {
            return 0;
        }
    }
    lro_retry_policy r;
    if (o->retry != NULL &&
        (lro_retry_normalize(o->retry, &r) != LRO_OK || memcmp(&r, copy->retry, sizeof r) != 0)) {
        return 0;
    }
    return 1;
}

/* A shared configuration equal to (pp, opts, progress): one of the few the
 * client used last, or a new one. NULL when out of memory or the options
 * are refused (*rc says which). */
static lro_await_cfg *cfg_get(lro_client *c, const lro_poll_policy *pp,
                              const lro_call_options *opts, lro_progress_cb progress, int *rc)
{
    lro_call_options o;
    *rc = lro_call_options_normalize(opts, &o);
    if (*rc != LRO_OK) {
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < LRO_AWAIT_CFG_CACHE; i++) {
        lro_await_cfg *k = c->aw.cfg_cache[i];
        if (k != NULL && k->progress == progress && pp_equal(&k->pp, pp) &&
            opts_equal(&o, &k->opts)) {
            k->refs++;
            pthread_mutex_unlock(&c->mu);
            return k;
        }
    }
    pthread_mutex_unlock(&c->mu);
    lro_await_cfg *k = lro_calloc(1, sizeof *k);
    if (k == NULL) {
        *rc = LRO_ERR_NOMEM;
        return NULL;
    }
    lro_arena_init(&k->arena, NULL, 0);
    *rc = lro_call_options_copy(opts, &k->opts, &k->arena);
    if (*rc != LRO_OK) {
        lro_arena_free(&k->arena);
        lro_free(k);
        return NULL;
    }
    k->pp = *pp;
    k->progress = progress;
    k->refs = 1;
    /* Remembered (not owned: it leaves the cache when its last await goes). */
    pthread_mutex_lock(&c->mu);
    c->aw.cfg_cache[c->aw.cfg_next++ % LRO_AWAIT_CFG_CACHE] = k;
    pthread_mutex_unlock(&c->mu);
    return k;
}

static void cfg_release(lro_client *c, lro_await_cfg *k)
{
    if (k == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    int last = --k->refs == 0;
    if (last) {
        for (int i = 0; i < LRO_AWAIT_CFG_CACHE; i++) {
            if (c->aw.cfg_cache[i] == k) {
                c->aw.cfg_cache[i] = NULL;
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (last) {
        lro_arena_free(&k->arena);
        lro_free(k);
    }
}

/* ---- Starting an await ------------------------------------------------------------ */

static int await_start(lro_client *c, const char *name, const lro_poll_policy *policy,
                       const lro_call_options *opts, lro_progress_cb progress, lro_done_cb cb,
                       void *user_data, lro_free_fn ud_free, lro_future **out, int cancel_first)
{
    lro_poll_policy pp;
    int rc = lro_call_begin(c, name);
    rc = rc != LRO_OK ? rc : lro_poll_policy_normalize(policy, &pp); /* abi.c */
    if (rc != LRO_OK) {
        return rc;
    }
    if (lro_client_closing(c)) {
        return LRO_ERR_SHUTDOWN;
    }
    if (pp.transient_codes == 0) {
        pp.transient_codes = (1u << LRO_CODE_UNAVAILABLE) | (1u << LRO_CODE_DEADLINE_EXCEEDED);
    }
    lro_await_cfg *cfg = cfg_get(c, &pp, opts, progress, &rc);
    if (cfg == NULL) {
        return rc;
    }
    /* One allocation: the await with its name (no inline arena: only a
     * local outcome or the last state's decoding at the end use it). */
    size_t name_len = strlen(name);
    lro_awaiter *aw = (lro_awaiter *)lro_future_alloc(
        c, &k_await_ops, LRO_K_AWAIT, offsetof(lro_awaiter, name) + name_len + 1, 0);
    if (aw == NULL) {
        cfg_release(c, cfg);
        return LRO_ERR_NOMEM;
    }
    lro_future *f = &aw->base;
    memcpy(aw->name, name, name_len + 1);
    aw->cfg = cfg;
    aw->cancel_first = cancel_first != 0;
    aw->use_wait = pp.method != LRO_AWAIT_POLL_ONLY;
    aw->deadline_ns = pp.total_timeout_ms > 0 ? lro_now_ns() + pp.total_timeout_ms * 1000000 : 0;
    aw->timer.node.index = SIZE_MAX;
    aw->timer.fire = timer_fire;

    f->cb = cb;
    f->ud = user_data;
    f->ud_free = ud_free;
    if (out != NULL) {
        *out = lro_future_ref(f);
    }
    if (LRO_OBS_ON(c)) {
        lro_obs_call_started(f, aw->name, NULL, (char *)aw->cfg->opts.traceparent, 0);
        lro_obs_post(f);
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
    return f != NULL && f->ops == &k_await_ops ? ((const lro_awaiter *)f)->polls : 0;
}

/* Local cancel of an await (lro_future_cancel): stop the poll in flight, or
 * make the pending timer due now (also the one a queued await holds); the
 * completion hook or the timer then finishes it with LRO_ERR_CANCELLED. */
static void await_cancel(lro_future *f)
{
    lro_client *c = f->client;
    lro_awaiter *aw = await_of(f);
    pthread_mutex_lock(&c->mu);
    lro_future *child = !aw->has_end && aw->child ? lro_future_ref(aw->child) : NULL;
    if (aw->queued) {
        queue_unlink_locked(c, aw);
    }
    if (child == NULL) {
        lro_timer_fire_now_locked(c, &aw->timer);
    }
    pthread_mutex_unlock(&c->mu);
    if (child != NULL) {
        lro_future_cancel(child);
        lro_future_unref(child);
    } else {
        lro_client_wake_io(c);
    }
}
