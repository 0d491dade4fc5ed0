/*
 * bench_client - the C benchmark clients.
 *
 *   bench_client --target HOST:PORT --client KIND [--calls N] [--inflight K]
 *                [--warmup W] [--latency 1] [--page-size P] [--expect N]
 *
 * KIND:
 *   floor         raw grpc core: registered call, request encoded ONCE, the
 *                 same six-op batch and headers as lro-c, no decoding.
 *   lro-callback  lro_get with a callback; the callback starts the next call.
 *   lro-future    lro_get returning futures; the main thread waits on the
 *                 oldest and starts a new one (a ring of K futures).
 *   await-poll    lro_await of N operations "bench/await/op-NNNNNN", polling
 *   await-wait    the same with WaitOperation
 *   million       await-poll under its own name (--calls 1000000)
 *   frontend      --awaits N held awaits (default options) + GetOperation at
 *                 --get-rate R/s for --duration-ms D on the same client
 *                 (--control 1: also a second client's Gets, no awaits)
 *   list          lro_pager_step over "bench/list" with --page-size P
 *
 * Unary kinds run W warm-up calls, then N measured calls with K in flight,
 * between CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT("measured"), so a
 * callgrind run reports the measured phase alone. One JSON line on stdout.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <valgrind/callgrind.h>

#include "bench_common.h"
#include "google/longrunning/operations.pb-c.h"
#include "lro/lro.h"

static const char *g_target;
static long g_calls, g_warmup;
static int g_inflight, g_latency;

/* ---- floor: raw grpc core ---------------------------------------------- */

typedef struct fcall {
    grpc_call *call;
    grpc_metadata_array init_md, trail_md;
    grpc_byte_buffer *recv;
    grpc_status_code status;
    grpc_slice details;
    int64_t t0;
} fcall;

typedef struct floor_ctx {
    grpc_channel *ch;
    grpc_completion_queue *cq;
    void *method;
    grpc_slice request; /* encoded once */
    grpc_metadata md[1];
    fcall *slots;
} floor_ctx;

static void floor_start(floor_ctx *fc, fcall *c)
{
    if (g_latency) {
        c->t0 = bench_now_ns(); /* like lro-c's: before anything of the call */
    }
    gpr_timespec dl = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                   gpr_time_from_millis(BENCH_TIMEOUT_MS, GPR_TIMESPAN));
    c->call = grpc_channel_create_registered_call(fc->ch, NULL, GRPC_PROPAGATE_DEFAULTS, fc->cq,
                                                  fc->method, dl, NULL);
    grpc_metadata_array_init(&c->init_md);
    grpc_metadata_array_init(&c->trail_md);
    c->recv = NULL;
    c->details = grpc_empty_slice();
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&fc->request, 1);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = 1;
    ops[0].data.send_initial_metadata.metadata = fc->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->trail_md;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    if (grpc_call_start_batch(c->call, ops, 6, c, NULL) != GRPC_CALL_OK) {
        fprintf(stderr, "floor: start_batch failed\n");
        exit(1);
    }
    grpc_byte_buffer_destroy(send);
}

/* Runs n calls, k in flight; returns the number of failed calls. */
static long floor_phase(floor_ctx *fc, long n, int k, int64_t *lat)
{
    long started = 0, done = 0, errors = 0;
    for (int i = 0; i < k && started < n; i++, started++) {
        floor_start(fc, &fc->slots[i]);
    }
    while (done < n) {
        grpc_event ev =
            grpc_completion_queue_next(fc->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            fprintf(stderr, "floor: queue event %d\n", ev.type);
            exit(1);
        }
        fcall *c = ev.tag;
        if (lat != NULL) {
            lat[done] = bench_now_ns() - c->t0;
        }
        if (!ev.success || c->status != GRPC_STATUS_OK || c->recv == NULL) {
            errors++;
        }
        if (c->recv != NULL) {
            grpc_byte_buffer_destroy(c->recv);
        }
        grpc_metadata_array_destroy(&c->init_md);
        grpc_metadata_array_destroy(&c->trail_md);
        grpc_slice_unref(c->details);
        grpc_call_unref(c->call);
        done++;
        if (started < n) {
            started++;
            floor_start(fc, c);
        }
    }
    return errors;
}

static int run_floor(void)
{
    grpc_init();
    floor_ctx fc;
    memset(&fc, 0, sizeof fc);
    grpc_arg args[1];
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_ENABLE_RETRIES; /* as lro-c: retries are not grpc's */
    args[0].value.integer = 0;
    grpc_channel_args cargs = {1, args};
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    fc.ch = grpc_channel_create(g_target, cr, &cargs);
    grpc_channel_credentials_release(cr);
    fc.cq = grpc_completion_queue_create_for_next(NULL);
    fc.method = grpc_channel_register_call(fc.ch, "/google.longrunning.Operations/GetOperation",
                                           NULL, NULL);
    Google__Longrunning__GetOperationRequest req = GOOGLE__LONGRUNNING__GET_OPERATION_REQUEST__INIT;
    req.name = (char *)BENCH_GET_NAME;
    size_t len = google__longrunning__get_operation_request__get_packed_size(&req);
    fc.request = grpc_slice_malloc(len);
    google__longrunning__get_operation_request__pack(&req, GRPC_SLICE_START_PTR(fc.request));
    fc.md[0].key = grpc_slice_from_static_string(BENCH_ROUTING_KEY);
    fc.md[0].value = grpc_slice_from_static_string(BENCH_ROUTING_VALUE);
    fc.slots = calloc((size_t)g_inflight, sizeof *fc.slots);
    int64_t *lat = g_latency ? calloc((size_t)g_calls, sizeof *lat) : NULL;

    long werr = floor_phase(&fc, g_warmup, g_inflight, NULL);
    CALLGRIND_ZERO_STATS;
    long sw0 = bench_ctxsw();
    int64_t cpu0 = bench_cpu_us(), t0 = bench_now_ns();
    long errors = floor_phase(&fc, g_calls, g_inflight, lat);
    int64_t t1 = bench_now_ns(), cpu1 = bench_cpu_us();
    long sw1 = bench_ctxsw();
    CALLGRIND_DUMP_STATS_AT("measured");
    bench_print_unary("floor", g_calls, g_inflight, t1 - t0, cpu1 - cpu0, sw1 - sw0, errors + werr,
                      lat, lat ? (size_t)g_calls : 0);

    grpc_slice_unref(fc.request);
    grpc_channel_destroy(fc.ch);
    grpc_completion_queue_shutdown(fc.cq);
    while (grpc_completion_queue_next(fc.cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(fc.cq);
    grpc_shutdown();
    free(fc.slots);
    free(lat);
    return errors + werr ? 1 : 0;
}

/* ---- lro-c clients --------------------------------------------------- */

/* budget > 0: a client-wide cap on poll RPCs per second (burst budget/10). */
static int g_await_rpcs = -1; /* --await-rpcs: cap on await RPCs; -1 = library default */

/* lro-callback-hook: the same client with an event hook that does nothing,
 * to measure what reporting events costs per call (bench/README.md). */
static int g_event_hook;

static void noop_hook(const lro_event *ev, void *data)
{
    (void)ev;
    (void)data;
}

static lro_client *make_client_budget(double budget)
{
    lro_client_options *o = NULL;
    lro_client *c = NULL;
    if (lro_client_options_create(&o) != LRO_OK ||
        lro_client_options_set_target(o, g_target) != LRO_OK ||
        lro_client_options_set_plaintext(o) != LRO_OK ||
        (budget > 0 &&
         lro_client_options_set_poll_budget(o, budget, (int)(budget / 10)) != LRO_OK) ||
        (g_await_rpcs >= 0 && lro_client_options_set_max_await_rpcs(o, g_await_rpcs) != LRO_OK) ||
        (g_event_hook && lro_client_options_set_event_hook(o, noop_hook, NULL) != LRO_OK) ||
        lro_client_create(o, &c) != LRO_OK) {
        fprintf(stderr, "lro client create failed\n");
        exit(1);
    }
    lro_client_options_destroy(o);
    return c;
}

static lro_client *make_client(void)
{
    return make_client_budget(0);
}

typedef struct cb_phase {
    lro_client *c;
    long n, started, done, errors;
    int64_t *lat;
    int64_t *t0; /* per in-flight call, indexed by slot */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int finished;
} cb_phase;

typedef struct cb_slot {
    cb_phase *p;
    int64_t t0;
} cb_slot;

static void get_cb(lro_future *f, void *ud);

static void cb_start(cb_phase *p, cb_slot *s)
{
    if (g_latency) {
        s->t0 = bench_now_ns();
    }
    if (lro_get(p->c, BENCH_GET_NAME, NULL, get_cb, s, NULL, NULL) != LRO_OK) {
        fprintf(stderr, "lro_get failed\n");
        exit(1);
    }
}

/* Runs on the client's I/O thread, one at a time: plain counters suffice. */
static void get_cb(lro_future *f, void *ud)
{
    cb_slot *s = ud;
    cb_phase *p = s->p;
    if (p->lat != NULL) {
        p->lat[p->done] = bench_now_ns() - s->t0;
    }
    if (lro_future_result(f) != LRO_OK || lro_future_operation(f) == NULL) {
        p->errors++;
    }
    p->done++;
    if (p->started < p->n) {
        p->started++;
        cb_start(p, s);
    } else if (p->done == p->n) {
        pthread_mutex_lock(&p->mu);
        p->finished = 1;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static long callback_phase(lro_client *c, cb_slot *slots, long n, int k, int64_t *lat)
{
    cb_phase p;
    memset(&p, 0, sizeof p);
    p.c = c;
    p.n = n;
    p.lat = lat;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    int first = (int)(n < k ? n : k);
    for (int i = 0; i < first; i++) {
        slots[i].p = &p;
    }
    /* The callbacks may start calls as soon as the first is out, so claim
     * the initial ones up front. */
    p.started = first;
    for (int i = 0; i < first; i++) {
        cb_start(&p, &slots[i]);
    }
    pthread_mutex_lock(&p.mu);
    while (!p.finished) {
        pthread_cond_wait(&p.cv, &p.mu);
    }
    pthread_mutex_unlock(&p.mu);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    return p.errors;
}

static long future_phase(lro_client *c, lro_future **ring, int64_t *t0s, long n, int k,
                         int64_t *lat)
{
    long errors = 0, done = 0;
    for (long i = 0; i < n + k; i++) {
        int slot = (int)(i % k);
        lro_future *f = ring[slot];
        if (f != NULL) {
            lro_future_wait(f, -1);
            if (lat != NULL) {
                lat[done] = bench_now_ns() - t0s[slot];
            }
            if (lro_future_result(f) != LRO_OK || lro_future_operation(f) == NULL) {
                errors++;
            }
            lro_future_unref(f);
            ring[slot] = NULL;
            done++;
        }
        if (i < n) {
            if (lat != NULL) {
                t0s[slot] = bench_now_ns();
            }
            if (lro_get(c, BENCH_GET_NAME, NULL, NULL, NULL, NULL, &ring[slot]) != LRO_OK) {
                fprintf(stderr, "lro_get failed\n");
                exit(1);
            }
        }
    }
    return errors;
}

static int run_lro_unary(int use_futures)
{
    lro_client *c = make_client();
    cb_slot *slots = calloc((size_t)g_inflight, sizeof *slots);
    lro_future **ring = calloc((size_t)g_inflight, sizeof *ring);
    int64_t *t0s = calloc((size_t)g_inflight, sizeof *t0s);
    int64_t *lat = g_latency ? calloc((size_t)g_calls, sizeof *lat) : NULL;
    long werr = use_futures ? future_phase(c, ring, t0s, g_warmup, g_inflight, NULL)
                            : callback_phase(c, slots, g_warmup, g_inflight, NULL);
    CALLGRIND_ZERO_STATS;
    long sw0 = bench_ctxsw();
    int64_t cpu0 = bench_cpu_us(), t0 = bench_now_ns();
    long errors = use_futures ? future_phase(c, ring, t0s, g_calls, g_inflight, lat)
                              : callback_phase(c, slots, g_calls, g_inflight, lat);
    int64_t t1 = bench_now_ns(), cpu1 = bench_cpu_us();
    long sw1 = bench_ctxsw();
    CALLGRIND_DUMP_STATS_AT("measured");
    bench_print_unary(use_futures    ? (g_event_hook ? "lro-c-future-hook" : "lro-c-future")
                      : g_event_hook ? "lro-c-callback-hook"
                                     : "lro-c-callback",
                      g_calls, g_inflight,
                      t1 - t0, cpu1 - cpu0, sw1 - sw0, errors + werr, lat, lat ? (size_t)g_calls : 0);
    lro_client_destroy(c);
    free(slots);
    free(ring);
    free(t0s);
    free(lat);
    return errors + werr ? 1 : 0;
}

/* ---- allocation counting --------------------------------------------- */

/* Counting allocator: lro-c's own allocations only (grpc's are not seen). */
static atomic_llong g_alloc_bytes, g_alloc_count; /* cumulative */
static atomic_llong g_live_bytes;                 /* in use now */

typedef struct hdr {
    size_t size;
    size_t pad;
} hdr;

static void *count_malloc(size_t n, void *ctx)
{
    (void)ctx;
    hdr *h = malloc(sizeof *h + n);
    if (h == NULL) {
        return NULL;
    }
    h->size = n;
    atomic_fetch_add(&g_alloc_bytes, (long long)n);
    atomic_fetch_add(&g_live_bytes, (long long)n);
    atomic_fetch_add(&g_alloc_count, 1);
    return h + 1;
}

static void count_free(void *p, void *ctx)
{
    (void)ctx;
    if (p != NULL) {
        hdr *h = (hdr *)p - 1;
        atomic_fetch_sub(&g_live_bytes, (long long)h->size);
        free(h);
    }
}

static void *count_realloc(void *p, size_t n, void *ctx)
{
    if (p == NULL) {
        return count_malloc(n, ctx);
    }
    size_t old = ((hdr *)p - 1)->size;
    hdr *h = realloc((hdr *)p - 1, sizeof *h + n);
    if (h == NULL) {
        return NULL;
    }
    atomic_fetch_add(&g_live_bytes, (long long)n - (long long)old);
    if (n > old) {
        atomic_fetch_add(&g_alloc_bytes, (long long)(n - old));
    }
    atomic_fetch_add(&g_alloc_count, 1);
    h->size = n;
    return h + 1;
}

static void use_counting_allocator(void)
{
    static const lro_allocator a = {count_malloc, count_realloc, count_free, NULL};
    lro_set_allocator(&a);
}

/* ---- await at scale ---------------------------------------------------- */

static atomic_int *g_reports;   /* callbacks per operation */
static atomic_int g_done_total; /* operations reported (first time) */
static atomic_int g_wrong;      /* wrong outcome or name */
static atomic_long g_polls;

static void op_name(char *buf, size_t n, long i)
{
    snprintf(buf, n, "bench/await/op-%06ld", i);
}

static void await_cb(lro_future *f, void *ud)
{
    long i = (long)(intptr_t)ud;
    char want[64];
    op_name(want, sizeof want, i);
    const lro_operation *op = lro_future_operation(f);
    if (lro_future_result(f) != LRO_OK || op == NULL || strcmp(lro_operation_name(op), want) != 0 ||
        !lro_operation_done(op)) {
        if (atomic_fetch_add(&g_wrong, 1) < 3) {
            const lro_status *st = lro_future_status(f);
            fprintf(
                stderr, "await %s: %s, status %s: %s\n", want, lro_err_name(lro_future_result(f)),
                st ? lro_code_name(lro_status_code(st)) : "-", st ? lro_status_message(st) : "-");
        }
    }
    atomic_fetch_add(&g_polls, lro_future_polls(f));
    if (atomic_fetch_add(&g_reports[i], 1) == 0) {
        atomic_fetch_add(&g_done_total, 1);
    }
}

/* Poll schedule of the await scenarios (--initial-delay-ms, --max-delay-ms;
 * the million scenario spaces its polls further apart). */
static long g_initial_delay_ms = 1000, g_max_delay_ms = 4000;

/* scenario: "await" or "million" (the same measurement, its own row). */
static int run_await(int use_wait, double budget, const char *scenario)
{
    long n = g_calls;
    g_reports = calloc((size_t)n, sizeof *g_reports);
    if (g_reports == NULL) {
        fprintf(stderr, "await: out of memory\n");
        return 1;
    }
    /* Touch the counters now so that their pages are in the RSS baseline,
     * not charged to the awaits. */
    memset((void *)g_reports, 0, (size_t)n * sizeof *g_reports);
    use_counting_allocator();
    lro_client *c = make_client_budget(budget);
    /* Warm up: connection and grpc's threads exist before the baseline. */
    lro_future *w = NULL;
    if (lro_get(c, "bench/await/op-000000", NULL, NULL, NULL, NULL, &w) != LRO_OK ||
        lro_future_wait(w, -1) != LRO_OK) {
        fprintf(stderr, "await warm-up failed\n");
        return 1;
    }
    lro_future_unref(w);
    long rss0 = bench_status_field("VmRSS"), thr0 = bench_status_field("Threads");
    long long live0 = atomic_load(&g_live_bytes), live_peak = live0;
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.initial_delay_ms = g_initial_delay_ms;
    pp.multiplier = 1.5;
    pp.max_delay_ms = g_max_delay_ms;
    pp.jitter = 0.2;
    pp.total_timeout_ms = 600000;
    pp.method = use_wait ? LRO_AWAIT_WAIT_ONLY : LRO_AWAIT_POLL_ONLY;
    pp.wait_timeout_ms = 60000;
    int64_t cpu0 = bench_cpu_us(), t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        char name[64];
        op_name(name, sizeof name, i);
        if (lro_await(c, name, &pp, NULL, NULL, await_cb, (void *)(intptr_t)i, NULL, NULL) !=
            LRO_OK) {
            fprintf(stderr, "lro_await failed\n");
            return 1;
        }
    }
    int64_t t_started = bench_now_ns();
    long rss_peak = bench_status_field("VmRSS"), thr_max = bench_status_field("Threads");
    long rss_all_started = rss_peak;
    long long live_all_started = atomic_load(&g_live_bytes);
    size_t max_inflight = lro_client_inflight(c);
    live_peak = live_all_started;
    while (atomic_load(&g_done_total) < n) {
        usleep(100000);
        long long lv = atomic_load(&g_live_bytes);
        size_t fl = lro_client_inflight(c);
        max_inflight = fl > max_inflight ? fl : max_inflight;
        live_peak = lv > live_peak ? lv : live_peak;
        long r = bench_status_field("VmRSS"), t = bench_status_field("Threads");
        rss_peak = r > rss_peak ? r : rss_peak;
        thr_max = t > thr_max ? t : thr_max;
        if (bench_now_ns() - t0 > (pp.total_timeout_ms + 60000) * 1000000LL) {
            fprintf(stderr, "await: gave up 60 s after the awaits' total timeout\n");
            break;
        }
    }
    int64_t t1 = bench_now_ns(), cpu1 = bench_cpu_us();
    long thr_after = bench_status_field("Threads");
    size_t channels = lro_client_channels(c);
    /* Reported before the destroy: an await still open here (after the
     * give-up) ends inside lro_client_destroy, and counts as reported. */
    long before_destroy = atomic_load(&g_done_total);
    lro_client_destroy(c);
    long once = 0, twice = 0, never = 0;
    for (long i = 0; i < n; i++) {
        int r = atomic_load(&g_reports[i]);
        once += r == 1;
        twice += r > 1;
        never += r == 0;
    }
    printf("{\"scenario\":\"%s\",\"client\":\"lro-c-%s\",\"operations\":%ld,"
           "\"reported_once\":%ld,\"reported_twice\":%ld,\"never_reported\":%ld,"
           "\"wrong_outcome\":%d,\"exactly_once\":%s,\"wall_s\":%.2f,\"start_all_s\":%.3f,"
           "\"cpu_s\":%.2f,\"threads_before\":%ld,\"threads_max\":%ld,\"threads_after\":%ld,"
           "\"polls_per_op\":%.3f,\"rss_before_kb\":%ld,\"rss_all_started_kb\":%ld,"
           "\"rss_peak_kb\":%ld,\"rss_bytes_per_op\":%.0f,\"poll_budget_per_s\":%.0f,"
           "\"lro_live_bytes_per_op_all_started\":%.0f,\"lro_live_bytes_per_op_peak\":%.0f,"
           "\"max_rpcs_in_flight\":%zu,\"max_await_rpcs\":%d,\"channels_end\":%zu,"
           "\"initial_delay_ms\":%ld,\"max_delay_ms\":%ld,\"reported_before_destroy\":%ld}\n",
           scenario,
           use_wait ? (g_await_rpcs == 0 ? "wait-nocap" : "wait")
                    : (budget > 0 ? "poll-budget" : (g_await_rpcs == 0 ? "poll-nocap" : "poll")),
           n, once, twice, never, atomic_load(&g_wrong),
           once == n && atomic_load(&g_wrong) == 0 ? "true" : "false", (double)(t1 - t0) / 1e9,
           (double)(t_started - t0) / 1e9, (double)(cpu1 - cpu0) / 1e6, thr0, thr_max, thr_after,
           (double)atomic_load(&g_polls) / (double)n, rss0, rss_all_started, rss_peak,
           (double)(rss_peak - rss0) * 1024.0 / (double)n, budget,
           (double)(live_all_started - live0) / (double)n, (double)(live_peak - live0) / (double)n,
           max_inflight, g_await_rpcs >= 0 ? g_await_rpcs : LRO_DEFAULT_MAX_AWAIT_RPCS, channels,
           g_initial_delay_ms, g_max_delay_ms, before_destroy);
    fflush(stdout);
    free(g_reports);
    return once == n && atomic_load(&g_wrong) == 0 ? 0 : 1;
}

/* ---- frontend: ordinary calls beside thousands of held awaits -------- */

/* Against a server that allows 100 concurrent streams per connection: N
 * awaits with the default client options and poll policy (AUTO: each holds
 * a WaitOperation, under the default cap on await RPCs), then GetOperation
 * at a fixed rate on the same client. With --awaits 0 the same Gets alone:
 * the baseline (run.sh runs it first, against a fresh server).
 * --control 1 adds a second client in the same process, without awaits,
 * sending its own Get 5 ms after each Get of the first: a baseline measured
 * at the same moments, so that a stall of the shared machine shows in both.
 * Latency of a Get: from just before lro_get to its callback. */

typedef struct fe_gets {
    int64_t *t0, *lat;
    atomic_long done, failed;
} fe_gets;

static fe_gets g_fe[2]; /* [0] the client with the awaits, [1] the control */

/* user_data: the Get's index, bit 40 set for the control client. */
#define FE_CONTROL_BIT (1LL << 40)

static void fe_get_cb(lro_future *f, void *ud)
{
    long long v = (long long)(intptr_t)ud;
    fe_gets *g = &g_fe[(v & FE_CONTROL_BIT) != 0];
    long k = (long)(v & (FE_CONTROL_BIT - 1));
    g->lat[k] = bench_now_ns() - g->t0[k];
    if (lro_future_result(f) != LRO_OK || lro_future_operation(f) == NULL) {
        if (atomic_fetch_add(&g->failed, 1) < 3) {
            const lro_status *st = lro_future_status(f);
            fprintf(stderr, "frontend get %ld: %s, status %s: %s\n", k,
                    lro_err_name(lro_future_result(f)),
                    st ? lro_code_name(lro_status_code(st)) : "-",
                    st ? lro_status_message(st) : "-");
        }
    }
    atomic_fetch_add(&g->done, 1);
}

static void fe_send(lro_client *c, fe_gets *g, long k, long long flag)
{
    g->t0[k] = bench_now_ns();
    if (lro_get(c, BENCH_GET_NAME, NULL, fe_get_cb, (void *)(intptr_t)(k | flag), NULL, NULL) !=
        LRO_OK) {
        fprintf(stderr, "frontend: lro_get refused\n");
        g->lat[k] = 0;
        atomic_fetch_add(&g->failed, 1);
        atomic_fetch_add(&g->done, 1);
    }
}

static void sleep_until_ns(int64_t t)
{
    struct timespec ts = {(time_t)(t / 1000000000LL), (long)(t % 1000000000LL)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

typedef struct fe_result {
    long done, failed;
    double p50_ms, p99_ms, max_ms, mean_ms;
} fe_result;

/* Figures of one client's Gets; logs the slowest ones and when they were
 * sent (whether slow calls cluster, e.g. when held Waits turn over). */
static fe_result fe_figures(fe_gets *g, long gets, int64_t g0, const char *who)
{
    fe_result r;
    memset(&r, 0, sizeof r);
    r.done = atomic_load(&g->done);
    r.failed = atomic_load(&g->failed) + (gets - r.done);
    if (r.done == 0) {
        return r;
    }
    /* Before the percentiles, which sort the latencies in place. */
    for (int rank = 0; rank < 3; rank++) {
        long worst = 0;
        for (long k = 1; k < r.done; k++) {
            worst = g->lat[k] > g->lat[worst] ? k : worst;
        }
        fprintf(stderr, "frontend %s: slow Get #%ld sent at %.3f s: %.3f ms\n", who, worst,
                (double)(g->t0[worst] - g0) / 1e9, (double)g->lat[worst] / 1e6);
        g->lat[worst] = -g->lat[worst]; /* out of the next scans */
    }
    double sum = 0;
    for (long k = 0; k < r.done; k++) {
        g->lat[k] = g->lat[k] < 0 ? -g->lat[k] : g->lat[k];
        sum += (double)g->lat[k];
    }
    r.mean_ms = sum / (double)r.done / 1e6;
    r.p50_ms = bench_percentile_us(g->lat, (size_t)r.done, 50, 0) / 1000;
    r.p99_ms = bench_percentile_us(g->lat, (size_t)r.done, 99, 1) / 1000;
    r.max_ms = bench_percentile_us(g->lat, (size_t)r.done, 100, 1) / 1000;
    return r;
}

static int fe_alloc(fe_gets *g, long gets)
{
    g->t0 = calloc((size_t)gets, sizeof *g->t0);
    g->lat = calloc((size_t)gets, sizeof *g->lat);
    return g->t0 != NULL && g->lat != NULL ? 0 : -1;
}

static int fe_warm(lro_client *c)
{
    lro_future *w = NULL;
    int ok = lro_get(c, BENCH_GET_NAME, NULL, NULL, NULL, NULL, &w) == LRO_OK &&
             lro_future_wait(w, -1) == LRO_OK && lro_future_result(w) == LRO_OK;
    lro_future_unref(w);
    return ok ? 0 : -1;
}

static int run_frontend(long rate, long duration_ms, long n, int control)
{
    if (rate <= 0 || duration_ms <= 0 || n < 0) {
        fprintf(stderr, "frontend: bad --get-rate/--duration-ms/--awaits\n");
        return 2;
    }
    long gets = rate * duration_ms / 1000;
    g_reports = calloc((size_t)(n > 0 ? n : 1), sizeof *g_reports);
    if (g_reports == NULL || fe_alloc(&g_fe[0], gets) != 0 ||
        (control && fe_alloc(&g_fe[1], gets) != 0)) {
        fprintf(stderr, "frontend: out of memory\n");
        return 1;
    }
    lro_client *c = make_client(); /* default options: pool, caps, timeouts */
    lro_client *cc = control ? make_client() : NULL;
    if (fe_warm(c) != 0 || (cc != NULL && fe_warm(cc) != 0)) {
        fprintf(stderr, "frontend warm-up failed\n");
        return 1;
    }
    long thr0 = bench_status_field("Threads"), thr_max = thr0;
    lro_poll_policy pp = LRO_POLL_POLICY_INIT; /* the default policy */
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        char name[64];
        op_name(name, sizeof name, i);
        if (lro_await(c, name, &pp, NULL, NULL, await_cb, (void *)(intptr_t)i, NULL, NULL) !=
            LRO_OK) {
            fprintf(stderr, "lro_await failed\n");
            return 1;
        }
    }
    /* Let the awaits take their streams before the Gets begin (the same
     * pause in the baseline). */
    sleep_until_ns(bench_now_ns() + 1000000000LL);
    size_t inflight_at_start = lro_client_inflight(c), ch_max = lro_client_channels(c);
    int64_t g0 = bench_now_ns(), period = 1000000000LL / rate;
    for (long k = 0; k < gets; k++) {
        sleep_until_ns(g0 + k * period);
        fe_send(c, &g_fe[0], k, 0);
        if (cc != NULL) {
            sleep_until_ns(g0 + k * period + period / 2);
            fe_send(cc, &g_fe[1], k, FE_CONTROL_BIT);
        }
        if (k % 10 == 0) {
            size_t ch = lro_client_channels(c);
            long t = bench_status_field("Threads");
            ch_max = ch > ch_max ? ch : ch_max;
            thr_max = t > thr_max ? t : thr_max;
        }
    }
    while (
        (atomic_load(&g_fe[0].done) < gets || (cc != NULL && atomic_load(&g_fe[1].done) < gets)) &&
        bench_now_ns() - g0 < (duration_ms + 120000) * 1000000LL) {
        usleep(10000);
    }
    int64_t g1 = bench_now_ns();
    /* Then every await to its end: the operations complete after the Gets. */
    while (atomic_load(&g_done_total) < n && bench_now_ns() - t0 < 900LL * 1000000000LL) {
        usleep(100000);
        size_t ch = lro_client_channels(c);
        ch_max = ch > ch_max ? ch : ch_max;
    }
    int64_t t1 = bench_now_ns();
    size_t ch_end = lro_client_channels(c);
    lro_client_destroy(c);
    if (cc != NULL) {
        lro_client_destroy(cc);
    }
    long once = 0, twice = 0, never = 0;
    for (long i = 0; i < n; i++) {
        int r = atomic_load(&g_reports[i]);
        once += r == 1;
        twice += r > 1;
        never += r == 0;
    }
    fe_result r = fe_figures(&g_fe[0], gets, g0, n > 0 ? "with awaits" : "baseline");
    fe_result rc;
    memset(&rc, 0, sizeof rc);
    if (cc != NULL) {
        rc = fe_figures(&g_fe[1], gets, g0, "control");
    }
    long errors = r.failed + rc.failed + (n - once) + atomic_load(&g_wrong);
    printf("{\"scenario\":\"frontend\",\"client\":\"%s\",\"errors\":%ld,\"awaits\":%ld,"
           "\"gets\":%ld,\"get_rate_per_s\":%ld,\"get_phase_s\":%.2f,\"get_failures\":%ld,"
           "\"get_p50_ms\":%.3f,\"get_p99_ms\":%.3f,\"get_max_ms\":%.3f,\"get_mean_ms\":%.3f,"
           "\"reported_once\":%ld,\"reported_twice\":%ld,\"never_reported\":%ld,"
           "\"wrong_outcome\":%d,\"exactly_once\":%s,\"rpcs_in_flight_at_start\":%zu,"
           "\"channels_max\":%zu,\"channels_end\":%zu,\"threads_before\":%ld,"
           "\"threads_max\":%ld,\"wall_s\":%.2f",
           n > 0 ? "lro-c-frontend" : "lro-c-frontend-baseline", errors, n, gets, rate,
           (double)(g1 - g0) / 1e9, r.failed, r.p50_ms, r.p99_ms, r.max_ms, r.mean_ms, once, twice,
           never, atomic_load(&g_wrong), once == n && atomic_load(&g_wrong) == 0 ? "true" : "false",
           inflight_at_start, ch_max, ch_end, thr0, thr_max, (double)(t1 - t0) / 1e9);
    if (cc != NULL) {
        printf(",\"control_get_failures\":%ld,\"control_get_p50_ms\":%.3f,"
               "\"control_get_p99_ms\":%.3f,\"control_get_max_ms\":%.3f,"
               "\"control_get_mean_ms\":%.3f",
               rc.failed, rc.p50_ms, rc.p99_ms, rc.max_ms, rc.mean_ms);
    }
    printf("}\n");
    fflush(stdout);
    free(g_reports);
    for (int i = 0; i < 2; i++) {
        free(g_fe[i].t0);
        free(g_fe[i].lat);
    }
    return errors == 0 ? 0 : 1;
}

/* ---- list -------------------------------------------------------------- */

static int run_list(int page_size, long expect)
{
    use_counting_allocator();
    lro_client *c = make_client();
    /* Warm up the connection with one small page. */
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 1;
    lro_future *w = NULL;
    if (lro_list(c, "bench/list", &la, NULL, NULL, NULL, NULL, &w) != LRO_OK ||
        lro_future_wait(w, -1) != LRO_OK || lro_future_result(w) != LRO_OK) {
        fprintf(stderr, "list warm-up failed\n");
        return 1;
    }
    lro_future_unref(w);
    la.page_size = page_size;
    lro_pager *p = NULL;
    if (lro_pager_create(c, "bench/list", &la, NULL, &p) != LRO_OK) {
        fprintf(stderr, "pager create failed\n");
        return 1;
    }
    struct mallinfo2 m0 = mallinfo2();
    long long b0 = atomic_load(&g_alloc_bytes), n0 = atomic_load(&g_alloc_count);
    int64_t cpu0 = bench_cpu_us(), t0 = bench_now_ns();
    long ops = 0, names_ok = 0;
    const lro_operation *op;
    int rc;
    while ((rc = lro_pager_step(p, 60000, &op)) == LRO_OK) {
        names_ok += strncmp(lro_operation_name(op), "bench/list/op-", 14) == 0;
        ops++;
    }
    int64_t t1 = bench_now_ns(), cpu1 = bench_cpu_us();
    long long b1 = atomic_load(&g_alloc_bytes), n1 = atomic_load(&g_alloc_count);
    struct mallinfo2 m1 = mallinfo2();
    lro_pager_destroy(p);
    lro_client_destroy(c);
    int ok = rc == LRO_ERR_END && ops == expect && names_ok == ops;
    printf("{\"scenario\":\"list\",\"client\":\"lro-c-pager\",\"page_size\":%d,"
           "\"operations\":%ld,\"complete\":%s,\"wall_s\":%.3f,\"ops_per_s\":%.0f,"
           "\"cpu_us_per_op\":%.3f,\"lro_bytes_per_op\":%.1f,\"lro_allocs_per_op\":%.4f,"
           "\"heap_in_use_delta_kb\":%lld,\"maxrss_kb\":%ld}\n",
           page_size, ops, ok ? "true" : "false", (double)(t1 - t0) / 1e9,
           (double)ops / ((double)(t1 - t0) / 1e9), (double)(cpu1 - cpu0) / (double)ops,
           (double)(b1 - b0) / (double)ops, (double)(n1 - n0) / (double)ops,
           ((long long)m1.uordblks - (long long)m0.uordblks) / 1024, bench_maxrss_kb());
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    g_target = bench_arg(argc, argv, "--target", NULL);
    const char *kind = bench_arg(argc, argv, "--client", "floor");
    g_calls = bench_arg_long(argc, argv, "--calls", 200000);
    g_inflight = (int)bench_arg_long(argc, argv, "--inflight", 256);
    g_warmup = bench_arg_long(argc, argv, "--warmup", 2000);
    g_latency = (int)bench_arg_long(argc, argv, "--latency", 0);
    g_await_rpcs = (int)bench_arg_long(argc, argv, "--await-rpcs", -1);
    if (g_target == NULL || g_calls <= 0 || g_inflight <= 0 || g_warmup < 0) {
        fprintf(stderr, "usage: bench_client --target T --client KIND [--calls N] ...\n");
        return 2;
    }
    if (strcmp(kind, "floor") == 0) {
        return run_floor();
    }
    if (strcmp(kind, "lro-callback") == 0) {
        return run_lro_unary(0);
    }
    if (strcmp(kind, "lro-callback-hook") == 0) {
        g_event_hook = 1;
        return run_lro_unary(0);
    }
    if (strcmp(kind, "lro-future") == 0) {
        return run_lro_unary(1);
    }
    if (strcmp(kind, "lro-future-hook") == 0) {
        g_event_hook = 1; /* calls start on this thread: events are posted to the I/O thread */
        return run_lro_unary(1);
    }
    g_initial_delay_ms = bench_arg_long(argc, argv, "--initial-delay-ms", 1000);
    g_max_delay_ms = bench_arg_long(argc, argv, "--max-delay-ms", 4000);
    if (strcmp(kind, "await-poll") == 0) {
        return run_await(0, (double)bench_arg_long(argc, argv, "--poll-budget", 0), "await");
    }
    if (strcmp(kind, "await-wait") == 0) {
        return run_await(1, 0, "await");
    }
    if (strcmp(kind, "million") == 0) {
        return run_await(0, (double)bench_arg_long(argc, argv, "--poll-budget", 0), "million");
    }
    if (strcmp(kind, "frontend") == 0) {
        return run_frontend(bench_arg_long(argc, argv, "--get-rate", 100),
                            bench_arg_long(argc, argv, "--duration-ms", 30000),
                            bench_arg_long(argc, argv, "--awaits", 0),
                            (int)bench_arg_long(argc, argv, "--control", 0));
    }
    if (strcmp(kind, "list") == 0) {
        return run_list((int)bench_arg_long(argc, argv, "--page-size", 100),
                        bench_arg_long(argc, argv, "--expect", 100000));
    }
    fprintf(stderr, "unknown --client %s\n", kind);
    return 2;
}
