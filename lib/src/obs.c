/* What futures, calls and awaits report to the event hook (obs_int.h):
 * fills lro_event from a future's state and hands it to the client layer. */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "obs_int.h"

static const char *const k_method[] = {
    [LRO_K_GET] = "GetOperation",
    [LRO_K_LIST] = "ListOperations",
    [LRO_K_CANCEL] = "CancelOperation",
    [LRO_K_DELETE] = "DeleteOperation",
    [LRO_K_WAIT] = "WaitOperation",
    [LRO_K_COUNT] = "Unknown",
    [LRO_K_AWAIT] = "Await",
};

static const char *method_of(const lro_future *f)
{
    unsigned k = (unsigned)f->kind;
    return k < sizeof k_method / sizeof k_method[0] && k_method[k] ? k_method[k] : "Unknown";
}

/* An event about `f` with the fields every kind carries. */
static void ev_init(lro_event *ev, const lro_future *f, int32_t kind)
{
    const lro_obs_call *o = f->obs;
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->call_id = o->id;
    ev->parent_id = o->parent;
    ev->method = o->method;
    ev->name = o->name;
    ev->code = -1;
    if (o->trace_id[0] != '\0') {
        ev->trace_id = o->trace_id;
        ev->parent_span_id = o->parent_span;
    }
}

static int is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

void lro_obs_call_started(lro_future *f, const char *name, const lro_future *parent, char *tp,
                          int rewrite)
{
    lro_client *c = f->client;
    lro_obs_call *o = lro_arena_alloc(&f->arena, sizeof *o);
    const char *nm = o ? lro_arena_strndup(&f->arena, name, strlen(name)) : NULL;
    if (o == NULL || nm == NULL) {
        return; /* unobserved rather than failed: events are best effort */
    }
    memset(o, 0, sizeof *o);
    o->id = atomic_fetch_add_explicit(&c->obs.next_id, 1, memory_order_relaxed) + 1;
    o->parent = parent != NULL && parent->obs != NULL ? parent->obs->id : 0;
    o->name = nm;
    o->method = method_of(f);
    int64_t now = lro_now_ns();
    o->start_ns = now;
    /* "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", already
     * validated by abi.c; checked again because a mistake here would send a
     * malformed header. */
    if (tp != NULL && strlen(tp) >= 55 && tp[2] == '-' && tp[35] == '-' && tp[52] == '-' &&
        is_hex(tp + 3, 32) && is_hex(tp + 36, 16)) {
        memcpy(o->trace_id, tp + 3, 32);
        memcpy(o->parent_span, tp + 36, 16);
        o->tp = rewrite ? tp : NULL;
    }
    o->owner = f;
    f->obs = o;
    if (!lro_on_io_thread(c)) {
        atomic_init(&o->deferred, LRO_OBS_DEFERRED); /* lro_obs_post sends it */
        return;
    }
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_CALL_STARTED);
    lro_events_emit(c, &ev, now);
}

/* The deferred events of f, with the times they happened. */
static void emit_deferred(lro_future *f)
{
    lro_obs_call *o = f->obs;
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_CALL_STARTED);
    lro_events_emit(f->client, &ev, o->start_ns);
    if (o->deferred_attempt) {
        ev_init(&ev, f, LRO_EVENT_ATTEMPT_STARTED);
        ev.attempt = 1;
        ev.span_id = o->span[0] ? o->span : NULL;
        lro_events_emit(f->client, &ev, o->attempt_start_ns);
    }
}

/* Before any event of f: its deferred ones go out first, once, whichever
 * thread gets here first (the I/O thread, or rarely the starting thread
 * finishing an await at once); a thread that finds them being delivered
 * waits the two hook calls out, so the order per call holds. */
static void settle_slow(lro_future *f)
{
    lro_obs_call *o = f->obs;
    int st = LRO_OBS_DEFERRED;
    if (atomic_compare_exchange_strong(&o->deferred, &st, LRO_OBS_EMITTING)) {
        emit_deferred(f);
        atomic_store_explicit(&o->deferred, LRO_OBS_LIVE, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&o->deferred, memory_order_acquire) != LRO_OBS_LIVE) {
        sched_yield();
    }
}

static inline void settle(lro_future *f)
{
    if (__builtin_expect(
            atomic_load_explicit(&f->obs->deferred, memory_order_acquire) != LRO_OBS_LIVE, 0)) {
        settle_slow(f);
    }
}

static void run_deferred(lro_ready *r)
{
    lro_obs_call *o = (lro_obs_call *)((char *)r - offsetof(lro_obs_call, post));
    lro_future *f = o->owner;
    settle(f);
    lro_future_unref(f);
}

void lro_obs_post(lro_future *f)
{
    lro_obs_call *o = f->obs;
    if (o == NULL || atomic_load_explicit(&o->deferred, memory_order_relaxed) != LRO_OBS_DEFERRED) {
        return;
    }
    lro_future_ref(f);
    o->post.run = run_deferred;
    /* A short call's first events wait for the I/O thread's next round:
     * its own completion, any other event, or at the latest the channel
     * watch that a client reporting events re-arms every
     * LRO_CHANNEL_WATCH_MS. Waking the thread for each call would cost
     * about a third of a Get (measured: bench/README.md, "Event hook"). An
     * await or a held WaitOperation may take minutes and starts less
     * often: their starts are delivered at once. */
    int wake = f->kind == LRO_K_AWAIT || f->kind == LRO_K_WAIT;
    lro_client_post_io(f->client, &o->post, wake);
}

void lro_obs_refused(lro_future *f)
{
    lro_obs_call *o = f->obs;
    int st = LRO_OBS_DEFERRED;
    if (atomic_compare_exchange_strong(&o->deferred, &st, LRO_OBS_LIVE)) {
        /* Nothing was seen of it: nothing to close; the posted entry's
         * reference is dropped by whoever holds the entry. */
        if (lro_client_unpost_io(f->client, &o->post)) {
            lro_future_unref(f); /* not the last: the caller discards f */
        }
        return;
    }
    lro_obs_finished(f);
}

void lro_obs_attempt_started(lro_future *f)
{
    lro_obs_call *o = f->obs;
    /* The first attempt starts as the call does (nothing but its set-up in
     * between): one clock read fewer per call. */
    int64_t now = f->attempts == 0 ? o->start_ns : lro_now_ns();
    o->attempt_start_ns = now;
    o->attempt_end_ns = 0;
    /* Deferred (not yet posted: only this thread sees it): recorded, and
     * delivered with CALL_STARTED. */
    int later = atomic_load_explicit(&o->deferred, memory_order_relaxed) == LRO_OBS_DEFERRED &&
                !lro_on_io_thread(f->client);
    if (!later) {
        settle(f);
    }
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_ATTEMPT_STARTED);
    ev.attempt = f->attempts + 1;
    if (o->tp != NULL) {
        /* Our own span for this attempt: the server's spans become its
         * children, and the hook reports it under the caller's span. The
         * previous attempt's batch completed, so grpc no longer reads the
         * bytes being rewritten. */
        static const char hex[] = "0123456789abcdef";
        uint64_t id = lro_events_span_id(f->client);
        for (int i = 15; i >= 0; i--) {
            o->span[i] = hex[id & 15];
            id >>= 4;
        }
        o->span[16] = '\0';
        memcpy(o->tp + 36, o->span, 16);
        ev.span_id = o->span;
    }
    if (later) {
        o->deferred_attempt = 1;
        return;
    }
    lro_events_emit(f->client, &ev, now);
}

void lro_obs_attempt_finished(lro_future *f, int code, size_t request_bytes, size_t response_bytes)
{
    settle(f);
    lro_obs_call *o = f->obs;
    int64_t now = lro_now_ns();
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_ATTEMPT_FINISHED);
    ev.attempt = f->attempts;
    ev.code = code;
    ev.duration_ns = now - o->attempt_start_ns;
    o->attempt_end_ns = now;
    ev.request_bytes = request_bytes;
    ev.response_bytes = response_bytes;
    ev.span_id = o->span[0] ? o->span : NULL;
    lro_events_emit(f->client, &ev, now);
}

void lro_obs_retry(lro_future *f, int64_t delay_ns, int reason)
{
    settle(f);
    f->obs->attempt_end_ns = 0; /* the call goes on: its end is later */
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_RETRY_SCHEDULED);
    ev.attempt = f->attempts;
    ev.code = f->status != NULL ? lro_status_code(f->status) : -1;
    ev.delay_ns = delay_ns > 0 ? delay_ns : 0;
    ev.reason = reason;
    lro_events_emit(f->client, &ev, lro_now_ns());
}

void lro_obs_finished(lro_future *f)
{
    settle(f);
    lro_obs_call *o = f->obs;
    int64_t now = o->attempt_end_ns != 0 ? o->attempt_end_ns : lro_now_ns();
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_CALL_FINISHED);
    ev.result = f->result;
    ev.code = f->status != NULL ? lro_status_code(f->status) : -1;
    ev.duration_ns = now - o->start_ns;
    ev.attempts = f->kind == LRO_K_AWAIT ? 0 : f->attempts;
    ev.polls = o->polls;
    lro_events_emit(f->client, &ev, now);
}

void lro_obs_throttled(lro_future *f, int flag)
{
    lro_obs_call *o = f->obs;
    o->poll_flags |= flag;
    if (o->throttle_since_ns == 0) {
        o->throttle_since_ns = lro_now_ns();
    }
}

void lro_obs_poll_sent(lro_future *f)
{
    lro_obs_call *o = f->obs;
    o->poll_sent_ns = lro_now_ns();
    o->throttle_ns = o->throttle_since_ns != 0 ? o->poll_sent_ns - o->throttle_since_ns : 0;
    o->throttle_since_ns = 0;
}

/* FNV-1a over the metadata's type URL and bytes: "did it change" without
 * keeping a copy. */
static uint64_t meta_hash(const lro_operation *op, int *has)
{
    const char *url = NULL;
    const uint8_t *val = NULL;
    size_t len = 0;
    lro_operation_metadata(op, &url, &val, &len, has);
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = url ? url : ""; *p; p++) {
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    }
    for (size_t i = 0; i < len; i++) {
        h = (h ^ val[i]) * 1099511628211ULL;
    }
    return h;
}

void lro_obs_await_poll(lro_future *f, const lro_future *child, int extra_flags)
{
    settle(f);
    lro_obs_call *o = f->obs;
    int64_t now = lro_now_ns();
    o->polls++;
    lro_event ev;
    ev_init(&ev, f, LRO_EVENT_AWAIT_POLL);
    ev.method = method_of(child); /* the RPC this poll used */
    ev.attempt = o->polls;
    ev.flags = extra_flags | o->poll_flags;
    ev.throttle_ns = o->throttle_ns;
    ev.duration_ns = now - o->poll_sent_ns;
    o->poll_flags = 0;
    o->throttle_ns = 0;
    /* Hooks run before the child is marked done: the raw fields. */
    ev.code = child->status != NULL ? lro_status_code(child->status) : -1;
    if (child->result == LRO_OK && child->msg != NULL) {
        const lro_operation *op = (const lro_operation *)child->msg;
        int has = 0;
        uint64_t h = meta_hash(op, &has);
        if (has && (!o->have_meta || h != o->meta_hash)) {
            ev.flags |= LRO_POLL_PROGRESS;
            o->meta_hash = h;
            o->have_meta = 1;
        }
        if (lro_operation_done(op)) {
            ev.flags |= LRO_POLL_DONE;
        }
    } else {
        ev.flags |= LRO_POLL_FAILED;
    }
    lro_events_emit(f->client, &ev, now);
}
