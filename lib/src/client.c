/* The client layer: lifetime, the I/O thread, the timer heap, the ready
 * queue, the in-flight list and wake-ups. Knows nothing of calls, awaits or
 * pagers: it runs what they hand it (cq tags, timers, ready entries). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "client_int.h"
#include "credentials_int.h"

static _Thread_local const lro_client *tls_io_client;

int lro_on_io_thread(const lro_client *c)
{
    return tls_io_client == c;
}

void lro_client_ref_mem(lro_client *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void free_default_md(lro_client *c)
{
    for (size_t i = 0; i < c->default_md_count; i++) {
        grpc_slice_unref(c->default_md[i].key);
        grpc_slice_unref(c->default_md[i].value);
    }
    lro_free(c->default_md);
    c->default_md = NULL;
    c->default_md_count = 0;
}

void lro_client_unref_mem(lro_client *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) {
        return;
    }
    /* Last reference: the client was destroyed and no future points here. */
    lro_credentials_unref(c->creds);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->ready_mu);
    pthread_mutex_destroy(&c->process_mu);
    pthread_mutex_destroy(&c->post_mu);
    lro_heap_free(&c->timers);
    lro_free(c);
    grpc_shutdown();
}

int lro_client_closing(const lro_client *c)
{
    return atomic_load_explicit(&c->closing, memory_order_acquire);
}

/* ---- Timers (caller holds c->mu) -------------------------------------------- */

int lro_timer_add_locked(lro_client *c, lro_timer *t)
{
    return lro_heap_push(&c->timers, &t->node);
}

int lro_timer_remove_locked(lro_client *c, lro_timer *t)
{
    return lro_heap_remove(&c->timers, &t->node);
}

void lro_timer_fire_now_locked(lro_client *c, lro_timer *t)
{
    if (lro_heap_remove(&c->timers, &t->node)) {
        t->node.key = 0;
        (void)lro_heap_push(&c->timers, &t->node); /* reuses the slot just freed */
    }
}

double lro_rand01_locked(lro_client *c)
{
    /* xorshift64*: jitter only needs to decorrelate clients, not secrecy. */
    uint64_t x = c->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Fires every timer due at `upto`. Each is removed from the heap before its
 * callback runs, with the lock released (fire() may start RPCs or add
 * timers). `cancelled`: the client is being destroyed. */
static void fire_timers(lro_client *c, int64_t upto, int cancelled)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        lro_heap_node *n = lro_heap_pop_due(&c->timers, upto);
        pthread_mutex_unlock(&c->mu);
        if (n == NULL) {
            return;
        }
        LRO_TIMER_OF(n)->fire(LRO_TIMER_OF(n), cancelled);
    }
}

/* ---- In-flight list (caller holds c->mu) ------------------------------------- */

void lro_inflight_add_locked(lro_client *c, lro_inflight *l)
{
    l->prev = NULL;
    l->next = c->inflight;
    if (l->next) {
        l->next->prev = l;
    }
    c->inflight = l;
    l->linked = 1;
    atomic_fetch_add(&c->inflight_count, 1);
}

void lro_inflight_remove_locked(lro_client *c, lro_inflight *l)
{
    if (!l->linked) {
        return;
    }
    if (l->prev) {
        l->prev->next = l->next;
    } else {
        c->inflight = l->next;
    }
    if (l->next) {
        l->next->prev = l->prev;
    }
    l->prev = l->next = NULL;
    l->linked = 0;
    atomic_fetch_sub(&c->inflight_count, 1);
}

/* ---- Ready queue ---------------------------------------------------------------- */

int lro_ready_push_locked(lro_client *c, lro_ready *r)
{
    int was_empty = c->ready_head == NULL;
    r->next = NULL;
    if (c->ready_tail) {
        c->ready_tail->next = r;
    } else {
        c->ready_head = r;
    }
    c->ready_tail = r;
    return was_empty;
}

/* Tells whoever runs callbacks that there is work: loop mode signals the
 * eventfd / wakeup hook on the empty -> non-empty edge; thread mode wakes
 * the I/O thread unless we are on it. */
void lro_client_signal_ready(lro_client *c, int was_empty)
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

int lro_client_drain_ready(lro_client *c, int max)
{
    int ran = 0;
    /* A callback may destroy the client: keep its memory until we are done. */
    lro_client_ref_mem(c);
    while (max <= 0 || ran < max) {
        pthread_mutex_lock(&c->ready_mu);
        lro_ready *r = c->ready_head;
        if (r != NULL) {
            c->ready_head = r->next;
            if (c->ready_head == NULL) {
                c->ready_tail = NULL;
            }
        }
        pthread_mutex_unlock(&c->ready_mu);
        if (r == NULL) {
            break;
        }
        r->run(r);
        ran++;
    }
    lro_client_unref_mem(c);
    return ran;
}

/* ---- Work posted to the I/O thread ------------------------------------------- */

void lro_client_post_io(lro_client *c, lro_ready *r, int wake)
{
    r->next = NULL;
    pthread_mutex_lock(&c->post_mu);
    int was_empty = c->post_head == NULL;
    if (c->post_tail != NULL) {
        c->post_tail->next = r;
    } else {
        c->post_head = r;
    }
    c->post_tail = r;
    atomic_store_explicit(&c->posted, 1, memory_order_release);
    pthread_mutex_unlock(&c->post_mu);
    if (was_empty && wake) {
        lro_client_wake_io(c);
    }
}

int lro_client_unpost_io(lro_client *c, lro_ready *r)
{
    int found = 0;
    pthread_mutex_lock(&c->post_mu);
    lro_ready *prev = NULL;
    for (lro_ready *e = c->post_head; e != NULL; prev = e, e = e->next) {
        if (e == r) {
            if (prev != NULL) {
                prev->next = e->next;
            } else {
                c->post_head = e->next;
            }
            if (c->post_tail == e) {
                c->post_tail = prev;
            }
            atomic_store_explicit(&c->posted, c->post_head != NULL, memory_order_relaxed);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&c->post_mu);
    return found;
}

/* On the I/O thread: runs what was posted, a batch at a time (an entry may
 * post more; they run on the next call). */
static void run_posted(lro_client *c)
{
    if (!atomic_load_explicit(&c->posted, memory_order_acquire)) {
        return;
    }
    pthread_mutex_lock(&c->post_mu);
    lro_ready *r = c->post_head;
    c->post_head = c->post_tail = NULL;
    atomic_store_explicit(&c->posted, 0, memory_order_relaxed);
    pthread_mutex_unlock(&c->post_mu);
    while (r != NULL) {
        lro_ready *next = r->next;
        r->run(r);
        r = next;
    }
}

/* ---- Wake-ups ------------------------------------------------------------ */

/* Makes the I/O thread return from grpc_completion_queue_next() soon. grpc
 * core has no public "post an event" call; a connectivity watch with a
 * deadline in the past completes at once (measured: ~4 us) and is the
 * cheapest public way to put an event on our queue. Coalesced: at most one
 * wake-up is outstanding. */
void lro_client_wake_io(lro_client *c)
{
    if (lro_on_io_thread(c)) {
        return; /* it re-reads the heap and ready queue before sleeping */
    }
    if (atomic_exchange(&c->wake_pending, 1)) {
        return;
    }
    /* Held across the watch: end_iteration() sets cq_shut under mu, so
     * the queue cannot be shut down between the check and the watch (grpc
     * asserts when a tag is added to a shut-down queue). Seen possible in
     * destroy(): the I/O thread may shut the queue as soon as the last
     * cancelled call completes, while destroy is about to wake it. */
    pthread_mutex_lock(&c->mu);
    if (c->cq_shut) {
        pthread_mutex_unlock(&c->mu);
        atomic_store(&c->wake_pending, 0);
        return;
    }
    grpc_channel *ch = c->pool.unary[0].ch;
    grpc_connectivity_state s = grpc_channel_check_connectivity_state(ch, 0);
    grpc_channel_watch_connectivity_state(ch, s, gpr_inf_past(GPR_CLOCK_MONOTONIC), c->cq,
                                          &c->wake_tag);
    pthread_mutex_unlock(&c->mu);
}

/* ---- The I/O thread ------------------------------------------------------ */

/* End of one I/O-thread iteration, under a single lock: once the client is
 * closing and nothing is left in flight, shut the queue down (the thread
 * then sees GRPC_QUEUE_SHUTDOWN and leaves); otherwise return how long the
 * next wait may last (until the earliest timer). Runs after the ready queue
 * was drained, so a destroy() from a callback is seen here. */
static gpr_timespec end_iteration(lro_client *c)
{
    pthread_mutex_lock(&c->mu);
    lro_heap_node *top = lro_heap_top(&c->timers);
    int go = c->closing && !c->cq_shut && atomic_load(&c->inflight_count) == 0 && top == NULL;
    if (go) {
        c->cq_shut = 1;
    }
    /* Closing: the timers left are fired (as cancelled) at once. */
    int64_t due = top == NULL ? INT64_MAX : c->closing ? 0 : top->key;
    pthread_mutex_unlock(&c->mu);
    if (go) {
        grpc_completion_queue_shutdown(c->cq);
    }
    if (due == INT64_MAX) {
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    }
    int64_t now = lro_now_ns();
    int64_t wait = due > now ? due - now : 0;
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(wait, GPR_TIMESPAN));
}

static void release_grpc(lro_client *c)
{
    grpc_completion_queue_destroy(c->cq);
    c->cq = NULL;
    lro_pool_close(c);
    free_default_md(c);
    if (c->event_fd >= 0) {
        /* Nothing writes it after the final drain: leave it unreadable, so a
         * loop still watching a duplicate (an adapter not yet detached) is
         * not woken to process a destroyed client. */
        uint64_t v;
        ssize_t r = read(c->event_fd, &v, sizeof v);
        (void)r;
        close(c->event_fd);
        c->event_fd = -1;
    }
}

static void wake_done(lro_cq_tag *t, int success)
{
    (void)success;
    lro_client *c = (lro_client *)((char *)t - offsetof(lro_client, wake_tag));
    atomic_store(&c->wake_pending, 0);
}

static void *io_main(void *arg)
{
    lro_client *c = arg;
    tls_io_client = c;
    gpr_timespec deadline = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(c->cq, deadline, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        /* Before the completion: what a caller posted when it started a
         * call (its first events) precedes whatever the call completes. */
        run_posted(c);
        if (ev.type == GRPC_OP_COMPLETE) {
            lro_cq_tag *t = ev.tag;
            t->done(t, ev.success);
        }
        /* Destroy: every timer is fired at once, as cancelled, here rather
         * than on the destroying thread, so what its futures report still
         * comes from the I/O thread. */
        int closing = atomic_load(&c->closing);
        fire_timers(c, closing ? INT64_MAX : lro_now_ns(), closing);
        if (c->mode == LRO_MODE_THREAD) {
            lro_client_drain_ready(c, 0);
        }
        deadline = end_iteration(c);
    }
    run_posted(c);
    if (c->mode == LRO_MODE_THREAD) {
        lro_client_drain_ready(c, 0);
    }
    pthread_mutex_lock(&c->mu);
    int self_destroy = c->destroy_on_io;
    pthread_mutex_unlock(&c->mu);
    if (self_destroy) {
        /* destroy() was called from one of our callbacks and returned at
         * once; finishing the teardown is ours. */
        pthread_detach(pthread_self());
        release_grpc(c);
        lro_client_unref_mem(c);
    }
    tls_io_client = NULL;
    return NULL;
}

/* ---- Create / destroy ---------------------------------------------------- */

static int add_default_md(lro_client *c, const char *key, const char *value, size_t value_len)
{
    grpc_metadata *m = lro_realloc(c->default_md, (c->default_md_count + 1) * sizeof *m);
    if (m == NULL) {
        return LRO_ERR_NOMEM;
    }
    c->default_md = m;
    memset(&m[c->default_md_count], 0, sizeof m[0]);
    m[c->default_md_count].key = grpc_slice_from_copied_string(key);
    /* By length: a "-bin" value may contain NUL bytes. */
    m[c->default_md_count].value = grpc_slice_from_copied_buffer(value, value_len);
    c->default_md_count++;
    return LRO_OK;
}

/* Option combinations that cannot work, refused before anything is built. */
static int check_create_args(const lro_client_options *o, lro_client **out)
{
    if (o == NULL || out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_client_create: %s is NULL",
                        o == NULL ? "options" : "out");
    }
    if (o->target == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "no target: call lro_client_options_set_target");
    }
    if (o->token != NULL && o->plaintext && !o->token_allow_plaintext) {
        /* a bearer token in clear text on the wire */
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "bearer token over plaintext: set allow_plaintext or use TLS");
    }
    if (o->token != NULL && o->credentials != NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "both a bearer token and credentials: use one (e.g. "
                                             "lro_credentials_create_access_token)");
    }
    if (o->mode == LRO_MODE_THREAD && o->wakeup != NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "a wakeup hook needs LRO_MODE_LOOP (lro_client_options_set_mode)");
    }
    return LRO_OK;
}

/* The client struct with the options' values, its locks and its grpc_init()
 * reference; NULL when out of memory. Nothing else is opened yet. */
static lro_client *client_alloc(const lro_client_options *o)
{
    lro_client *c = lro_calloc(1, sizeof *c);
    if (c == NULL) {
        return NULL;
    }
    atomic_init(&c->refs, 1);
    c->mode = o->mode;
    c->default_timeout_ms = o->default_timeout_ms;
    c->retry = o->retry;
    c->aw.budget_rate = o->budget_rate;
    c->aw.budget_burst = o->budget_burst;
    c->aw.budget_tokens = o->budget_burst;
    c->aw.budget_last_ns = lro_now_ns();
    c->aw.cap = o->max_await_rpcs;
    c->wake_tag.done = wake_done;
    c->event_fd = -1;
    c->wakeup = o->wakeup;
    c->wakeup_data = o->wakeup_data;
    lro_events_init(c, o);
    c->rng = (uint64_t)lro_now_ns() ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ULL;
    if (c->rng == 0) {
        c->rng = 1;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->ready_mu, NULL);
    pthread_mutex_init(&c->process_mu, NULL);
    pthread_mutex_init(&c->post_mu, NULL);
    grpc_init(); /* released by lro_client_unref_mem */
    return c;
}

/* Headers every call sends: the options' own, then the bearer token. */
static int add_client_headers(lro_client *c, const lro_client_options *o)
{
    int rc = LRO_OK;
    for (size_t i = 0; i < o->header_count && rc == LRO_OK; i++) {
        rc = add_default_md(c, o->headers[i].key, o->headers[i].value, o->headers[i].value_len);
    }
    if (rc == LRO_OK && o->token != NULL) {
        size_t n = strlen(o->token) + sizeof "Bearer ";
        char *v = lro_malloc(n);
        if (v == NULL) {
            return LRO_ERR_NOMEM;
        }
        snprintf(v, n, "Bearer %s", o->token);
        rc = add_default_md(c, "authorization", v, n - 1);
        memset(v, 0, n); /* no credential left in freed memory */
        lro_free(v);
    }
    return rc;
}

static int open_event_fd(lro_client *c)
{
    c->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->event_fd < 0) {
        return lro_fail(LRO_ERR_IO, "cannot create the eventfd of loop mode: %s", strerror(errno));
    }
    return LRO_OK;
}

/* Channel (with its arguments and credentials), completion queue and the
 * registered methods. */
static int open_channel(lro_client *c, const lro_client_options *o)
{
    char ua[512];
    snprintf(ua, sizeof ua, "%s%slro-c/%s", o->user_agent ? o->user_agent : "",
             o->user_agent ? " " : "", LRO_VERSION_STRING);
    char svc_cfg[160];
    grpc_arg args[6];
    size_t nargs = 0;
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[nargs++].value.integer = (int)o->max_receive;
    args[nargs].type = GRPC_ARG_STRING;
    args[nargs].key = GRPC_ARG_PRIMARY_USER_AGENT_STRING;
    args[nargs++].value.string = ua;
    /* Retries are ours (with RetryInfo and per-call policies); grpc's own
     * transparent retries would double-count attempts. */
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = GRPC_ARG_ENABLE_RETRIES;
    args[nargs++].value.integer = 0;
    if (o->lb_policy != NULL) {
        snprintf(svc_cfg, sizeof svc_cfg, "{\"loadBalancingConfig\":[{\"%s\":{}}]}", o->lb_policy);
        args[nargs].type = GRPC_ARG_STRING;
        args[nargs].key = GRPC_ARG_SERVICE_CONFIG;
        args[nargs++].value.string = svc_cfg;
    }
    if (o->tls_server_name != NULL && !o->plaintext) {
        args[nargs].type = GRPC_ARG_STRING;
        args[nargs].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        args[nargs++].value.string = o->tls_server_name;
    }
    grpc_channel_args cargs = {nargs, args};
    /* TLS roots, client certificate, call credentials (credentials.c). */
    grpc_channel_credentials *creds = NULL;
    c->plaintext = o->plaintext;
    int crc = lro_creds_channel(o, &creds, &c->creds);
    c->connect_hint = lro_creds_connect_hint(o);
    if (crc != LRO_OK) {
        return crc;
    }
    int rc = lro_pool_open(c, o->target, creds, &cargs, o->channels, o->max_streams);
    if (rc != LRO_OK) {
        return lro_fail(rc, rc == LRO_ERR_NOMEM ? "out of memory"
                                                : "grpc could not create a channel for the target");
    }
    c->cq = grpc_completion_queue_create_for_next(NULL);
    if (c->cq == NULL) {
        return lro_fail(LRO_ERR_INTERNAL, "grpc could not create a completion queue");
    }
    return LRO_OK;
}

/* The one unwind path of lro_client_create: releases whatever was opened
 * (in any combination) of a client whose I/O thread never started. */
static void discard_unstarted(lro_client *c)
{
    if (c->cq != NULL) {
        grpc_completion_queue_shutdown(c->cq); /* nothing was ever queued on it */
        grpc_completion_queue_destroy(c->cq);
        c->cq = NULL;
    }
    lro_pool_close(c);
    free_default_md(c);
    if (c->event_fd >= 0) {
        close(c->event_fd);
        c->event_fd = -1;
    }
    lro_client_unref_mem(c);
}

int lro_client_create(const lro_client_options *o, lro_client **out)
{
    lro_error_clear();
    int rc = check_create_args(o, out);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_client *c = client_alloc(o);
    if (c == NULL) {
        return LRO_ERR_NOMEM;
    }
    rc = add_client_headers(c, o);
    if (rc == LRO_OK && c->mode == LRO_MODE_LOOP) {
        rc = open_event_fd(c);
    }
    if (rc == LRO_OK) {
        rc = open_channel(c, o);
    }
    if (rc == LRO_OK) {
        int err = pthread_create(&c->io_thread, NULL, io_main, c);
        if (err != 0) {
            rc = lro_fail(LRO_ERR_INTERNAL, "cannot start the I/O thread: %s", strerror(err));
        }
    }
    if (rc != LRO_OK) {
        discard_unstarted(c);
        return rc;
    }
    c->io_started = 1;
    for (int i = 0; i < c->pool.n_unary; i++) { /* no-op without events */
        lro_events_watch_channel(c, c->pool.unary[i].ch, c->pool.unary[i].index);
    }
    *out = c;
    return LRO_OK;
}

static void drain_on_destroy(lro_client *c);

/* Stops everything in flight; completions then come back as
 * LRO_ERR_SHUTDOWN (their owners look at lro_client_closing()). Timers
 * (retry backoff, polls, awaits waiting for an RPC slot) are fired as
 * cancelled by the I/O thread once it sees `closing`, so their futures
 * finish too (io_main). */
static void cancel_all(lro_client *c)
{
    pthread_mutex_lock(&c->mu);
    for (lro_inflight *l = c->inflight; l != NULL; l = l->next) {
        l->abort(l);
    }
    pthread_mutex_unlock(&c->mu);
}

void lro_client_destroy(lro_client *c)
{
    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    atomic_store(&c->closing, 1);
    int on_io = lro_on_io_thread(c);
    if (on_io) {
        c->destroy_on_io = 1;
    }
    pthread_mutex_unlock(&c->mu);

    cancel_all(c);
    if (on_io) {
        /* Inside one of our callbacks (thread mode): the I/O thread finishes
         * the teardown after the callback returns. */
        return;
    }
    lro_client_wake_io(c);
    pthread_join(c->io_thread, NULL);
    /* Posted by a call racing with this destroy after the I/O thread's
     * last look (the call was refused: only references to drop). */
    run_posted(c);
    /* Loop mode: whatever completed but was not processed runs now, on the
     * caller's thread (documented). */
    drain_on_destroy(c);
    release_grpc(c);
    lro_client_unref_mem(c);
}

int lro_client_fd(const lro_client *c)
{
    return c != NULL && c->mode == LRO_MODE_LOOP ? c->event_fd : -1;
}

/* Loop mode: a drain is running on this thread for these clients (inside
 * lro_client_process, or destroy's final drain). Lets destroy know it is
 * called from one of the client's callbacks, and refuses a nested process()
 * (which would deadlock on process_mu). A list because one loop thread may
 * serve several clients, whose callbacks may touch each other. */
typedef struct proc_frame {
    const lro_client *c;
    struct proc_frame *prev;
} proc_frame;
static _Thread_local proc_frame *tls_proc;

static int processing_here(const lro_client *c)
{
    for (const proc_frame *f = tls_proc; f != NULL; f = f->prev) {
        if (f->c == c) {
            return 1;
        }
    }
    return 0;
}

static int is_closing(lro_client *c)
{
    return lro_client_closing(c);
}

/* Final drain of destroy(): the remaining callbacks run on the caller's
 * thread, never concurrently with a lro_client_process() on another thread
 * (process_mu), and directly when destroy was called from inside one of our
 * callbacks (this thread already holds process_mu). */
static void drain_on_destroy(lro_client *c)
{
    if (processing_here(c)) {
        lro_client_drain_ready(c, 0);
        return;
    }
    pthread_mutex_lock(&c->process_mu);
    proc_frame fr = {c, tls_proc};
    tls_proc = &fr;
    lro_client_drain_ready(c, 0);
    tls_proc = fr.prev;
    pthread_mutex_unlock(&c->process_mu);
}

int lro_client_process(lro_client *c, int max)
{
    if (c == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (c->mode != LRO_MODE_LOOP) {
        return LRO_ERR_STATE;
    }
    if (processing_here(c)) {
        /* From inside one of this client's callbacks. */
        return is_closing(c) ? LRO_ERR_SHUTDOWN : LRO_ERR_STATE;
    }
    /* A callback may destroy the client: its memory must outlive this
     * function, and nothing below may touch the eventfd after destroy. */
    lro_client_ref_mem(c);
    pthread_mutex_lock(&c->process_mu);
    if (is_closing(c)) {
        pthread_mutex_unlock(&c->process_mu);
        lro_client_unref_mem(c);
        return LRO_ERR_SHUTDOWN;
    }
    if (c->event_fd >= 0) {
        /* Clear the readiness first: anything pushed after this read makes
         * the fd readable again, so no completion can be missed. */
        uint64_t v;
        ssize_t r = read(c->event_fd, &v, sizeof v);
        (void)r;
    }
    proc_frame fr = {c, tls_proc};
    tls_proc = &fr;
    int ran = lro_client_drain_ready(c, max);
    tls_proc = fr.prev;

    /* destroy() needs process_mu for its own drain unless it was called by
     * one of the callbacks above; either way, while we hold process_mu the
     * eventfd is open or the client is closing. */
    int closed = is_closing(c);
    if (!closed) {
        /* Stopped at `max` with more pending: keep the fd readable, as the
         * contract promises, and tell a hook-driven loop to come back (the
         * queue never went empty, so no completion will call the hook). */
        pthread_mutex_lock(&c->ready_mu);
        int more = c->ready_head != NULL;
        pthread_mutex_unlock(&c->ready_mu);
        if (more) {
            uint64_t one = 1;
            ssize_t w = write(c->event_fd, &one, sizeof one);
            (void)w;
            if (c->wakeup != NULL) {
                c->wakeup(c->wakeup_data);
            }
        }
    }
    pthread_mutex_unlock(&c->process_mu);
    lro_client_unref_mem(c);
    return closed ? LRO_ERR_SHUTDOWN : ran;
}

size_t lro_client_inflight(const lro_client *c)
{
    return c ? atomic_load(&((lro_client *)c)->inflight_count) : 0;
}
