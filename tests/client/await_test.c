/* Await until done: every outcome, WaitOperation first with the UNIMPLEMENTED
 * fallback remembered per client, backoff growth, RetryInfo, the poll
 * budget, progress de-duplication, local cancel. Counts come from the
 * server's records; time only appears as lower bounds. */
#include <string.h>
#include <time.h>

#include "harness.h"

static lro_test_server *srv;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static lro_poll_policy fast_poll(void)
{
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY;
    pp.initial_delay_ms = 20;
    pp.multiplier = 1.0;
    pp.jitter = 0;
    pp.total_timeout_ms = 20000;
    return pp;
}

static lro_future *await_sync(lro_client *c, const char *name, const lro_poll_policy *pp)
{
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    return f;
}

static void test_outcomes(void)
{
    lro_client *c = make_client(srv);
    lro_poll_policy pp = fast_poll();
    /* Succeeded. */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/a-ok", NULL, NULL, 0), LRO_OK);
    static const uint8_t sv[] = {0x0a, 0x02, 'h', 'i'};
    /* Completed only once the first poll has been seen (a fixed delay from
     * now is not enough when the first connect is slow, e.g. valgrind). */
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, PARENT "/a-ok", &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/a-ok") >= 1);
    CHECK_EQ_INT(lro_test_server_complete(srv, PARENT "/a-ok", 100,
                                          "type.googleapis.com/google.protobuf.StringValue", sv,
                                          sizeof sv),
                 LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_OK);
    const lro_operation *op = lro_future_operation(f);
    CHECK(op != NULL && lro_operation_done(op));
    int present_59 = -1;
    CHECK_EQ_INT(lro_operation_response(op, NULL, NULL, NULL, &present_59), LRO_OK);
    CHECK_EQ_INT(present_59, 1);
    CHECK(lro_future_polls(f) >= 1); /* how many depends on the machine speed */
    CHECK_EQ_INT(lro_future_polls(f), lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/a-ok"));
    lro_future_unref(f);

    /* Failed, with details. */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/a-fail", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_fail(srv, PARENT "/a-fail", 100, LRO_CODE_ABORTED, "it broke",
                                      NULL, 0),
                 LRO_OK);
    f = await_sync(c, PARENT "/a-fail", &pp);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_OP_FAILED);
    const lro_status *e = lro_operation_error(lro_future_operation(f));
    CHECK_EQ_INT(lro_status_code(e), LRO_CODE_ABORTED);
    CHECK_EQ_STR(lro_status_message(e), "it broke");
    lro_future_unref(f);

    /* Cancelled remotely (helper: CancelOperation, then await). */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/a-cancel", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_cancel_and_await(c, PARENT "/a-cancel", &pp, NULL, NULL, NULL, NULL, NULL,
                                      &f),
                 LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_OP_CANCELLED);
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_CANCEL, PARENT "/a-cancel"), 1);
    lro_future_unref(f);

    /* Total timeout: the last state is kept. */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/a-slow", NULL, NULL, 0), LRO_OK);
    pp.total_timeout_ms = 300;
    f = await_sync(c, PARENT "/a-slow", &pp);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_TIMEOUT);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_DEADLINE_EXCEEDED);
    op = lro_future_operation(f);
    CHECK(op != NULL);
    CHECK_EQ_STR(lro_operation_name(op), PARENT "/a-slow");
    CHECK_EQ_INT(lro_operation_done(op), 0);
    lro_future_unref(f);

    /* RPC failure (unknown operation). */
    pp.total_timeout_ms = 20000;
    f = await_sync(c, PARENT "/a-missing", &pp);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_NOT_FOUND);
    CHECK(lro_future_operation(f) == NULL);
    lro_future_unref(f);

    /* Bad arguments never start anything. */
    pp.multiplier = 0.5;
    CHECK_EQ_INT(lro_await(c, PARENT "/x", &pp, NULL, NULL, NULL, NULL, NULL, NULL),
                 LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_await(c, "", NULL, NULL, NULL, NULL, NULL, NULL, NULL), LRO_ERR_BAD_NAME);
    lro_client_destroy(c);
}

static void test_wait_first_then_fallback(void)
{
    lro_client *c = make_client(srv);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT; /* AUTO */
    pp.initial_delay_ms = 20;
    /* A server with WaitOperation: no Get at all. */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/w-ok", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_complete(srv, PARENT "/w-ok", 200, NULL, NULL, 0), LRO_OK);
    lro_future *f = await_sync(c, PARENT "/w-ok", &pp);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/w-ok"), 1);
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/w-ok"), 0);
    lro_future_unref(f);
    lro_client_destroy(c);

    /* A server without it: one UNIMPLEMENTED per client, then Get polling. */
    c = make_client(srv);
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_WAIT;
    fl.times = -1;
    fl.code = LRO_CODE_UNIMPLEMENTED;
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    uint64_t waits0 = lro_test_server_call_count(srv, LRO_TEST_WAIT, NULL);
    for (int i = 0; i < 20; i++) {
        char name[128];
        snprintf(name, sizeof name, PARENT "/fb-%d", i);
        CHECK_EQ_INT(lro_test_server_put_pending(srv, name, NULL, NULL, 0), LRO_OK);
        CHECK_EQ_INT(lro_test_server_complete(srv, name, 50, NULL, NULL, 0), LRO_OK);
        f = await_sync(c, name, &pp);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        CHECK(lro_test_server_call_count(srv, LRO_TEST_GET, name) >= 1);
        lro_future_unref(f);
    }
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_WAIT, NULL) - waits0, 1);
    /* WAIT_ONLY surfaces UNIMPLEMENTED instead of falling back. */
    pp.method = LRO_AWAIT_WAIT_ONLY;
    f = await_sync(c, op_name(2), &pp);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNIMPLEMENTED);
    lro_future_unref(f);
    lro_test_server_clear_faults(srv);
    lro_client_destroy(c);
}

static void test_backoff_growth(void)
{
    lro_client *c = make_client(srv);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/b-exp", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/b-flat", NULL, NULL, 0), LRO_OK);
    lro_poll_policy exp = fast_poll();
    exp.initial_delay_ms = 10;
    exp.multiplier = 2.0;
    exp.max_delay_ms = 100000;
    exp.total_timeout_ms = 1000;
    lro_poll_policy flat = exp;
    flat.multiplier = 1.0;
    lro_future *fe = NULL, *ff = NULL;
    CHECK_EQ_INT(lro_await(c, PARENT "/b-exp", &exp, NULL, NULL, NULL, NULL, NULL, &fe), LRO_OK);
    CHECK_EQ_INT(lro_await(c, PARENT "/b-flat", &flat, NULL, NULL, NULL, NULL, NULL, &ff), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(fe, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(ff, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(fe), LRO_ERR_TIMEOUT);
    uint64_t ne = lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/b-exp");
    uint64_t nf = lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/b-flat");
    fprintf(stderr, "  polls in 1 s: exponential %llu, flat %llu\n", (unsigned long long)ne,
            (unsigned long long)nf);
    /* Delays 10,20,40,...: at most 7 polls fit in 1000 ms, whatever the
     * machine's speed (a slow machine only makes fewer). */
    CHECK(ne >= 2 && ne <= 8);
    CHECK_EQ_INT(ne, lro_future_polls(fe));
    CHECK(nf > ne);
    lro_future_unref(fe);
    lro_future_unref(ff);
    lro_client_destroy(c);
}

static void test_retry_info_on_poll(void)
{
    lro_client *c = make_client(srv);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/ri", NULL, NULL, 0), LRO_OK);
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.name = PARENT "/ri";
    fl.times = 1;
    fl.code = LRO_CODE_RESOURCE_EXHAUSTED;
    fl.message = "quota";
    fl.retry_delay_ms = 400;
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    CHECK_EQ_INT(lro_test_server_complete(srv, PARENT "/ri", 0, NULL, NULL, 0), LRO_OK);
    lro_poll_policy pp = fast_poll();
    int64_t t0 = now_ms();
    lro_future *f = await_sync(c, PARENT "/ri", &pp);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK(now_ms() - t0 >= 400); /* lower bound only */
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/ri"), 2);
    lro_future_unref(f);
    lro_test_server_clear_faults(srv);
    lro_client_destroy(c);
}

static void test_poll_budget(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_poll_budget(o, -1, 1), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_poll_budget(o, 20, 2), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    lro_poll_policy pp = fast_poll();
    pp.initial_delay_ms = 1; /* they would poll ~1000 times a second each */
    pp.total_timeout_ms = 1000;
    lro_future *fs[10];
    uint64_t before = lro_test_server_call_count(srv, LRO_TEST_GET, NULL);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(lro_await(c, op_name(2 + 4 * i), &pp, NULL, NULL, NULL, NULL, NULL, &fs[i]),
                     LRO_OK);
    }
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(fs[i]), LRO_ERR_TIMEOUT);
        lro_future_unref(fs[i]);
    }
    uint64_t n = lro_test_server_call_count(srv, LRO_TEST_GET, NULL) - before;
    fprintf(stderr, "  10 awaits for 1 s under a 20/s budget: %llu polls\n",
            (unsigned long long)n);
    /* 2 (burst) + 20/s * ~1 s; never more, however fast the machine. */
    CHECK(n >= 2 && n <= 24);
    lro_client_destroy(c);
}

typedef struct progress_log {
    atomic_int n;
    char seen[16][8];
} progress_log;

static void on_progress(const lro_operation *op, void *ud)
{
    progress_log *pl = ud;
    const uint8_t *v = NULL;
    size_t len = 0;
    int present_257 = -1;
    CHECK_EQ_INT(lro_operation_metadata(op, NULL, &v, &len, &present_257), LRO_OK);
    CHECK_EQ_INT(present_257, 1);
    int i = atomic_load(&pl->n);
    if (i < 16 && len >= 2 && len - 2 < sizeof pl->seen[0]) {
        memcpy(pl->seen[i], v + 2, len - 2);
        pl->seen[i][len - 2] = '\0';
    }
    atomic_fetch_add(&pl->n, 1);
}

static void set_progress(const char *name, const char *pct)
{
    uint8_t buf[16];
    size_t n = strlen(pct);
    buf[0] = 0x0a;
    buf[1] = (uint8_t)n;
    memcpy(buf + 2, pct, n);
    CHECK_EQ_INT(lro_test_server_set_metadata(srv, name,
                                              "type.googleapis.com/google.protobuf.StringValue",
                                              buf, n + 2),
                 LRO_OK);
}

static void test_progress_dedup(void)
{
    lro_client *c = make_client(srv);
    const char *name = PARENT "/prog";
    CHECK_EQ_INT(lro_test_server_put_pending(srv, name, NULL, NULL, 0), LRO_OK);
    set_progress(name, "0%");
    lro_poll_policy pp = fast_poll();
    progress_log pl;
    memset(&pl, 0, sizeof pl);
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, &pp, NULL, on_progress, NULL, &pl, NULL, &f), LRO_OK);
    const char *steps[] = {"10%", "10%", "50%", "50%", "90%"};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        uint64_t at = lro_test_server_call_count(srv, LRO_TEST_GET, name);
        WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_GET, name) >= at + 3);
        set_progress(name, steps[s]);
    }
    uint64_t at = lro_test_server_call_count(srv, LRO_TEST_GET, name);
    WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_GET, name) >= at + 3);
    CHECK_EQ_INT(lro_test_server_complete(srv, name, 0, NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    /* Many polls, four distinct values: four progress calls, in order. */
    WAIT_UNTIL(atomic_load(&pl.n) == 4);
    usleep(50000);
    CHECK_EQ_INT(atomic_load(&pl.n), 4);
    CHECK_EQ_STR(pl.seen[0], "0%");
    CHECK_EQ_STR(pl.seen[1], "10%");
    CHECK_EQ_STR(pl.seen[2], "50%");
    CHECK_EQ_STR(pl.seen[3], "90%");
    CHECK(lro_future_polls(f) > 8);
    lro_future_unref(f);
    lro_client_destroy(c);
}

/* Progress under the default method against a server that implements
 * WaitOperation: the first state at once, then each change within the
 * progress interval, although the server would hold a Wait for 10 s. */
static void test_progress_with_wait(void)
{
    lro_client *c = make_client(srv);
    const char *name = PARENT "/prog-wait";
    CHECK_EQ_INT(lro_test_server_put_pending(srv, name, NULL, NULL, 0), LRO_OK);
    set_progress(name, "0%");
    lro_poll_policy pp = LRO_POLL_POLICY_INIT; /* AUTO */
    pp.wait_timeout_ms = 10000;
    pp.progress_interval_ms = 200;
    progress_log pl;
    memset(&pl, 0, sizeof pl);
    uint64_t waits0 = lro_test_server_call_count(srv, LRO_TEST_WAIT, name);
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, &pp, NULL, on_progress, NULL, &pl, NULL, &f), LRO_OK);
    WAIT_UNTIL(atomic_load(&pl.n) == 1); /* the first state, from a Get */
    set_progress(name, "50%");
    WAIT_UNTIL(atomic_load(&pl.n) == 2);
    set_progress(name, "90%");
    WAIT_UNTIL(atomic_load(&pl.n) == 3);
    CHECK_EQ_INT(lro_test_server_complete(srv, name, 0, NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(atomic_load(&pl.n), 3);
    CHECK_EQ_STR(pl.seen[0], "0%");
    CHECK_EQ_STR(pl.seen[1], "50%");
    CHECK_EQ_STR(pl.seen[2], "90%");
    /* It waited with WaitOperation (turns cut to the interval), not Gets. */
    CHECK(lro_test_server_call_count(srv, LRO_TEST_WAIT, name) > waits0);
    lro_test_record *r = lro_test_server_last_record(srv, LRO_TEST_WAIT, name);
    CHECK(r != NULL);
    CHECK(lro_test_record_wait_timeout_ms(r) <= 200);
    lro_test_record_free(r);
    lro_future_unref(f);
    lro_client_destroy(c);
}

static void test_local_cancel_stops_polling(void)
{
    lro_client *c = make_client(srv);
    const char *name = PARENT "/stopme";
    CHECK_EQ_INT(lro_test_server_put_pending(srv, name, NULL, NULL, 0), LRO_OK);
    lro_poll_policy pp = fast_poll();
    counter k = {0};
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, &pp, NULL, NULL, count_cb, &k, count_free, &f), LRO_OK);
    WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_GET, name) >= 3);
    CHECK_EQ_INT(lro_future_cancel(f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_CANCELLED);
    uint64_t at = lro_test_server_call_count(srv, LRO_TEST_GET, name);
    usleep(200000); /* ten poll intervals */
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_GET, name), at);
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    /* The operation itself was not cancelled. */
    lro_future *g = NULL;
    CHECK_EQ_INT(lro_get(c, name, NULL, NULL, NULL, NULL, &g), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(g, -1), LRO_OK);
    CHECK_EQ_INT(lro_operation_done(lro_future_operation(g)), 0);
    lro_future_unref(g);
    lro_future_unref(f);
    /* Destroy with awaits waiting on timers and on Waits. */
    counter k2 = {0};
    for (int i = 0; i < 20; i++) {
        lro_poll_policy p2 = fast_poll();
        p2.method = i % 2 ? LRO_AWAIT_AUTO : LRO_AWAIT_POLL_ONLY;
        p2.initial_delay_ms = 5000;
        CHECK_EQ_INT(lro_await(c, name, &p2, NULL, NULL, count_cb, &k2, count_free, NULL), LRO_OK);
    }
    usleep(50000);
    lro_client_destroy(c);
    CHECK_EQ_INT(atomic_load(&k2.calls), 20);
    CHECK_EQ_INT(atomic_load(&k2.frees), 20);
    CHECK_EQ_INT(atomic_load(&k2.last_result), LRO_ERR_SHUTDOWN);
}

/* ---- The per-client cap on await RPCs in flight --------------------------- */

static lro_client *client_with_cap(int cap)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_max_await_rpcs(o, -1), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_max_await_rpcs(o, cap), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    return c;
}

/* Wait RPCs the server holds right now on names starting with `prefix`. */
static int held_waits(const char *prefix)
{
    int n = 0;
    size_t k = lro_test_server_record_count(srv);
    for (size_t i = 0; i < k; i++) {
        lro_test_record *r = lro_test_server_record(srv, i);
        if (r != NULL && lro_test_record_method(r) == LRO_TEST_WAIT &&
            strncmp(lro_test_record_name(r), prefix, strlen(prefix)) == 0 &&
            lro_test_record_code(r) == -1) {
            n++;
        }
        lro_test_record_free(r);
    }
    return n;
}

static void test_cap_wait_turns(void)
{
    /* Six WaitOperation awaits through two slots: never more than two held,
     * the rest queued; each Wait's server timeout (the turn) is 150 ms, so
     * the last one queued completes first when its operation does. */
    enum { N = 6 };
    lro_client *c = client_with_cap(2);
    char names[N][96];
    counter k[N];
    lro_future *fs[N];
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_WAIT_ONLY;
    pp.wait_timeout_ms = 150;
    pp.total_timeout_ms = 60000;
    lro_test_server_clear_records(srv);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], PARENT "/cap-w%d", i);
        CHECK_EQ_INT(lro_test_server_put_pending(srv, names[i], NULL, NULL, 0), LRO_OK);
        memset(&k[i], 0, sizeof k[i]);
        CHECK_EQ_INT(lro_await(c, names[i], &pp, NULL, NULL, count_cb, &k[i], count_free, &fs[i]),
                     LRO_OK);
    }
    CHECK(lro_client_awaits_queued(c) >= N - 2);
    WAIT_UNTIL(held_waits(PARENT "/cap-w") == 2);
    /* Through several turns, the server never holds more than two. */
    int max_held = 0;
    for (int t = 0; t < 60; t++) {
        int h = held_waits(PARENT "/cap-w");
        max_held = h > max_held ? h : max_held;
        usleep(10000);
    }
    CHECK(max_held <= 2);
    CHECK(lro_client_inflight(c) <= 2);
    /* The last in the queue: done only on the server; its turn comes. */
    CHECK_EQ_INT(lro_test_server_complete(srv, names[N - 1], 0, NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(fs[N - 1], 30000), LRO_OK);
    CHECK_EQ_INT(lro_future_result(fs[N - 1]), LRO_OK);
    for (int i = 0; i < N - 1; i++) {
        CHECK(!lro_future_is_done(fs[i]));
        CHECK_EQ_INT(lro_test_server_complete(srv, names[i], 0, NULL, NULL, 0), LRO_OK);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], 30000), LRO_OK);
        CHECK_EQ_INT(lro_future_result(fs[i]), LRO_OK);
        CHECK_EQ_STR(lro_operation_name(lro_future_operation(fs[i])), names[i]);
        WAIT_UNTIL(atomic_load(&k[i].frees) == 1);
        CHECK_EQ_INT(atomic_load(&k[i].calls), 1);
        lro_future_unref(fs[i]);
    }
    CHECK_EQ_INT((int)lro_client_awaits_queued(c), 0);
    lro_client_destroy(c);
}

static void test_cap_poll(void)
{
    /* GetOperation polling through one slot: every poll is sequential, all
     * complete, and the poll counts add up on the server. */
    enum { N = 5 };
    lro_client *c = client_with_cap(1);
    lro_poll_policy pp = fast_poll();
    lro_future *fs[N];
    char names[N][96];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], PARENT "/cap-p%d", i);
        CHECK_EQ_INT(lro_test_server_put_pending(srv, names[i], NULL, NULL, 0), LRO_OK);
        CHECK_EQ_INT(lro_await(c, names[i], &pp, NULL, NULL, NULL, NULL, NULL, &fs[i]), LRO_OK);
    }
    CHECK(lro_client_inflight(c) <= 1);
    for (int i = 0; i < N; i++) {
        WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_GET, names[i]) >= 1);
        CHECK_EQ_INT(lro_test_server_complete(srv, names[i], 0, NULL, NULL, 0), LRO_OK);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], 30000), LRO_OK);
        CHECK_EQ_INT(lro_future_result(fs[i]), LRO_OK);
        CHECK_EQ_INT(lro_future_polls(fs[i]),
                     lro_test_server_call_count(srv, LRO_TEST_GET, names[i]));
        lro_future_unref(fs[i]);
    }
    lro_client_destroy(c);
}

static void test_cap_queued_cancel_timeout_destroy(void)
{
    lro_client *c = client_with_cap(1);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_WAIT_ONLY;
    pp.wait_timeout_ms = 30000; /* the first one keeps the only slot */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/cap-q0", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/cap-q1", NULL, NULL, 0), LRO_OK);
    counter k0 = {0}, k1 = {0}, k2 = {0}, k3 = {0};
    lro_future *f0 = NULL, *f1 = NULL, *f2 = NULL, *f3 = NULL;
    CHECK_EQ_INT(lro_await(c, PARENT "/cap-q0", &pp, NULL, NULL, count_cb, &k0, count_free, &f0),
                 LRO_OK);
    CHECK_EQ_INT(lro_await(c, PARENT "/cap-q1", &pp, NULL, NULL, count_cb, &k1, count_free, &f1),
                 LRO_OK);
    CHECK_EQ_INT((int)lro_client_awaits_queued(c), 1);

    /* Local cancel of a queued await: finishes at once, never sent. */
    CHECK_EQ_INT(lro_future_cancel(f1), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f1, 30000), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f1), LRO_ERR_CANCELLED);
    CHECK(!lro_future_is_done(f0));
    CHECK_EQ_INT((int)lro_client_awaits_queued(c), 0);
    CHECK_EQ_INT((int)lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/cap-q1"), 0);

    /* The total timeout of a queued await is kept while it waits. */
    lro_poll_policy short_pp = pp;
    short_pp.total_timeout_ms = 200;
    int64_t t0 = now_ms();
    CHECK_EQ_INT(lro_await(c, PARENT "/cap-q1", &short_pp, NULL, NULL, count_cb, &k2, count_free,
                           &f2),
                 LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f2, 30000), LRO_OK);
    CHECK(now_ms() - t0 >= 190);
    CHECK_EQ_INT(lro_future_result(f2), LRO_ERR_TIMEOUT);
    CHECK(lro_future_operation(f2) == NULL); /* never polled: no state seen */
    CHECK(!lro_future_is_done(f0));
    CHECK_EQ_INT((int)lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/cap-q1"), 0);

    /* Destroy with one held and one queued: each finishes once, SHUTDOWN. */
    CHECK_EQ_INT(lro_await(c, PARENT "/cap-q1", &pp, NULL, NULL, count_cb, &k3, count_free, &f3),
                 LRO_OK);
    CHECK_EQ_INT((int)lro_client_awaits_queued(c), 1);
    lro_client_destroy(c);
    CHECK_EQ_INT(lro_future_result(f0), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(lro_future_result(f3), LRO_ERR_SHUTDOWN);
    lro_future *all[4] = {f0, f1, f2, f3};
    counter *ks[4] = {&k0, &k1, &k2, &k3};
    for (int i = 0; i < 4; i++) {
        WAIT_UNTIL(atomic_load(&ks[i]->frees) == 1);
        CHECK_EQ_INT(atomic_load(&ks[i]->calls), 1);
        lro_future_unref(all[i]);
    }
}

static void test_last_state_after_polls(void)
{
    /* The last state is kept packed between polls: a timeout after several
     * polls reports the metadata of the latest one. */
    lro_client *c = make_client(srv);
    static const uint8_t m1[] = {0x0a, 0x01, '1'};
    static const uint8_t m2[] = {0x0a, 0x01, '2'};
    const char *ty = "type.googleapis.com/google.protobuf.StringValue";
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/last", ty, m1, sizeof m1), LRO_OK);
    lro_poll_policy pp = fast_poll();
    pp.total_timeout_ms = 400;
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, PARENT "/last", &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/last") >= 1);
    CHECK_EQ_INT(lro_test_server_set_metadata(srv, PARENT "/last", ty, m2, sizeof m2), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, 30000), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_TIMEOUT);
    const lro_operation *op = lro_future_operation(f);
    CHECK(op != NULL);
    CHECK_EQ_STR(lro_operation_name(op), PARENT "/last");
    const char *url = NULL;
    const uint8_t *val = NULL;
    size_t len = 0;
    int present_546 = -1;
    CHECK_EQ_INT(lro_operation_metadata(op, &url, &val, &len, &present_546), LRO_OK);
    CHECK_EQ_INT(present_546, 1);
    CHECK_EQ_STR(url, ty);
    /* The timeout can only land after a poll that saw m2 when there was one
     * after the change; the server's count tells. */
    if (lro_test_server_call_count(srv, LRO_TEST_GET, PARENT "/last") >= 2) {
        CHECK(len == sizeof m2 && memcmp(val, m2, len) == 0);
    }
    lro_future_unref(f);
    lro_client_destroy(c);
}

int main(void)
{
    srv = start_server(50);
    RUN(test_outcomes);
    RUN(test_wait_first_then_fallback);
    RUN(test_backoff_growth);
    RUN(test_retry_info_on_poll);
    RUN(test_poll_budget);
    RUN(test_progress_dedup);
    RUN(test_progress_with_wait);
    RUN(test_local_cancel_stops_polling);
    RUN(test_cap_wait_turns);
    RUN(test_cap_poll);
    RUN(test_cap_queued_cancel_timeout_destroy);
    RUN(test_last_state_after_polls);
    lro_test_server_stop(srv);
    fprintf(stderr, "await_test: all passed\n");
    return 0;
}
