/* Awaits ride out transient failures for their budget (issue 20): a server
 * that answers UNAVAILABLE for a while, a server that is down and comes
 * back on the same port, a server that never recovers (the await ends at
 * its total timeout with the last status and how long it tried), and a
 * permanent error that still ends the await at once. Against the embedded
 * server on loopback. */
#include <stdio.h>
#include <string.h>

#include "harness.h"

/* Awaits with short delays so that a test takes seconds, not minutes. */
static lro_poll_policy fast_policy(int64_t total_ms, int method)
{
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.initial_delay_ms = 20;
    pp.max_delay_ms = 200;
    pp.total_timeout_ms = total_ms;
    pp.method = method;
    pp.wait_timeout_ms = 500;
    return pp;
}

/* Poll RPCs of the await itself are not retried by the call layer here, so
 * every transient failure reaches the await (the worst case). */
static lro_client *client_no_call_retries(lro_test_server *s)
{
    return make_client_ex(lro_test_server_target(s), LRO_MODE_THREAD, 1);
}

static void add_status_fault(lro_test_server *s, unsigned methods, int code, int times)
{
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.methods = methods;
    f.times = times;
    f.code = code;
    f.message = code == LRO_CODE_UNAVAILABLE ? "server overloaded (test)" : "no such thing (test)";
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
}

/* UNAVAILABLE for the first eight polls, then the real answer: the await
 * succeeds, where one poll's own retries (here: none) would have given up. */
static void test_transient_then_success(void)
{
    for (int method = LRO_AWAIT_AUTO; method <= LRO_AWAIT_POLL_ONLY; method++) {
        lro_test_server *s = start_server(0);
        lro_client *c = client_no_call_retries(s);
        const char *name = "operations/flaky";
        CHECK_EQ_INT(lro_test_server_put_pending(s, name, NULL, NULL, 0), LRO_OK);
        CHECK_EQ_INT(lro_test_server_complete(s, name, 300, NULL, NULL, 0), LRO_OK);
        add_status_fault(s, LRO_TEST_GET | LRO_TEST_WAIT, LRO_CODE_UNAVAILABLE, 8);
        lro_poll_policy pp = fast_policy(slow_ms(20000), method);
        lro_future *f = NULL;
        CHECK_EQ_INT(lro_await(c, name, &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        CHECK(lro_future_polls(f) >= 9); /* eight failures, then at least one answer */
        CHECK(lro_operation_done(lro_future_operation(f)));
        lro_future_unref(f);
        lro_client_destroy(c);
        lro_test_server_stop(s);
    }
}

/* A server that never recovers: the await ends at its total timeout with
 * the last transient status, and says how long and how often it tried. */
static void test_persistent_unavailable_ends_at_budget(void)
{
    lro_test_server *s = start_server(0);
    lro_client *c = client_no_call_retries(s);
    const char *name = "operations/never";
    CHECK_EQ_INT(lro_test_server_put_pending(s, name, NULL, NULL, 0), LRO_OK);
    add_status_fault(s, LRO_TEST_GET | LRO_TEST_WAIT, LRO_CODE_UNAVAILABLE, -1);
    int64_t total = 1500;
    lro_poll_policy pp = fast_policy(total, LRO_AWAIT_AUTO);
    int64_t t0 = harness_now_ms();
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    int64_t took = harness_now_ms() - t0;
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    const lro_status *st = lro_future_status(f);
    CHECK_EQ_INT(lro_status_code(st), LRO_CODE_UNAVAILABLE);
    const char *msg = lro_status_message(st);
    fprintf(stderr, "persistent UNAVAILABLE: %lld ms, %d polls: %s\n", (long long)took,
            lro_future_polls(f), msg);
    CHECK(strstr(msg, "server overloaded (test)") != NULL);
    CHECK(strstr(msg, "(retried for ") != NULL);
    CHECK(strstr(msg, " attempts)") != NULL);
    /* It kept trying: gave up no earlier than the budget allows (the last
     * backoff may end the run up to one max_delay early). */
    CHECK(took >= total - pp.max_delay_ms - 50);
    CHECK(lro_future_polls(f) >= 5);
    lro_future_unref(f);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

/* A permanent error in the middle of an await ends it at once, with the
 * server's status as it is. */
static void test_permanent_error_ends_at_once(void)
{
    lro_test_server *s = start_server(0);
    lro_client *c = client_no_call_retries(s);
    const char *name = "operations/vanishing";
    CHECK_EQ_INT(lro_test_server_put_pending(s, name, NULL, NULL, 0), LRO_OK);
    add_status_fault(s, LRO_TEST_GET | LRO_TEST_WAIT, LRO_CODE_UNAVAILABLE, 2);
    add_status_fault(s, LRO_TEST_GET | LRO_TEST_WAIT, LRO_CODE_NOT_FOUND, 1);
    lro_poll_policy pp = fast_policy(slow_ms(30000), LRO_AWAIT_POLL_ONLY);
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_NOT_FOUND);
    CHECK(strstr(lro_status_message(lro_future_status(f)), "retried") == NULL);
    CHECK_EQ_INT(lro_future_polls(f), 3); /* two transient failures, then the permanent one */
    lro_future_unref(f);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

/* A transient budget smaller than the total timeout ends the streak first. */
static void test_transient_budget(void)
{
    lro_test_server *s = start_server(0);
    lro_client *c = client_no_call_retries(s);
    const char *name = "operations/budgeted";
    CHECK_EQ_INT(lro_test_server_put_pending(s, name, NULL, NULL, 0), LRO_OK);
    add_status_fault(s, LRO_TEST_GET | LRO_TEST_WAIT, LRO_CODE_UNAVAILABLE, -1);
    lro_poll_policy pp = fast_policy(slow_ms(60000), LRO_AWAIT_POLL_ONLY);
    pp.transient_budget_ms = 400;
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, name, &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(20000)), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK(strstr(lro_status_message(lro_future_status(f)), "(retried for 0.") != NULL);
    lro_future_unref(f);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

typedef struct done_log {
    atomic_int calls;
    atomic_int ok;
    atomic_int *per_op;
} done_log;

typedef struct op_ctx {
    done_log *log;
    int index;
} op_ctx;

static void await_done(lro_future *f, void *ud)
{
    op_ctx *o = ud;
    atomic_fetch_add(&o->log->per_op[o->index], 1);
    if (lro_future_result(f) == LRO_OK) {
        atomic_fetch_add(&o->log->ok, 1);
    }
    atomic_fetch_add(&o->log->calls, 1);
}

/* The server goes away in the middle of many awaits and comes back on the
 * same port a while later (a rollout): every await completes, exactly once,
 * with its real outcome. */
static void test_server_restart_mid_await(void)
{
    const int n = getenv("LRO_UNDER_VALGRIND") ? 100 : 1000;
    lro_test_server *s = start_server(0);
    char target[64];
    snprintf(target, sizeof target, "%s", lro_test_server_target(s));
    lro_client *c = make_client_ex(target, LRO_MODE_THREAD, 0);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(lro_test_server_put_pending(s, op_name(i), NULL, NULL, 0), LRO_OK);
    }
    done_log log = {0};
    log.per_op = calloc((size_t)n, sizeof *log.per_op);
    op_ctx *ctx = calloc((size_t)n, sizeof *ctx);
    lro_poll_policy pp = fast_policy(slow_ms(60000), LRO_AWAIT_AUTO);
    for (int i = 0; i < n; i++) {
        ctx[i].log = &log;
        ctx[i].index = i;
        CHECK_EQ_INT(lro_await(c, op_name(i), &pp, NULL, NULL, await_done, &ctx[i], NULL, NULL),
                     LRO_OK);
    }
    usleep(300 * 1000); /* the awaits are holding WaitOperations or polling */
    lro_test_server_stop(s);
    usleep(2000 * 1000); /* down: polls fail fast (connection refused) */
    CHECK_EQ_INT(atomic_load(&log.calls), 0);

    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = target;
    s = NULL;
    /* The port may linger a moment after the old listener closed. */
    int64_t end = harness_now_ms() + 10000;
    while (lro_test_server_start(&so, &s) != LRO_OK && harness_now_ms() < end) {
        usleep(50 * 1000);
    }
    CHECK(s != NULL);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(lro_test_server_put_pending(s, op_name(i), NULL, NULL, 0), LRO_OK);
        CHECK_EQ_INT(lro_test_server_complete(s, op_name(i), 0, NULL, NULL, 0), LRO_OK);
    }
    WAIT_UNTIL(atomic_load(&log.calls) == n);
    CHECK_EQ_INT(atomic_load(&log.ok), n);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(atomic_load(&log.per_op[i]), 1);
    }
    lro_client_destroy(c);
    CHECK_EQ_INT(atomic_load(&log.calls), n); /* nothing more on destroy */
    lro_test_server_stop(s);
    free(log.per_op);
    free(ctx);
}

/* The server recycles every connection each second (GOAWAY at a max
 * connection age, 200 ms grace) while 1,000 awaits wait for operations that
 * finish over 20 s: each await ends exactly once with its operation's real
 * outcome, none with the UNAVAILABLE of a cut WaitOperation. */
static void test_recycled_connections(void)
{
    const int under_vg = getenv("LRO_UNDER_VALGRIND") != NULL;
    const int n = under_vg ? 100 : 1000;
    const int64_t spread_ms = under_vg ? 8000 : 20000;
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    so.max_connection_age_ms = 1000;
    so.max_connection_age_grace_ms = 200;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &s), LRO_OK);
    lro_client *c = make_client(s);
    done_log log = {0};
    log.per_op = calloc((size_t)n, sizeof *log.per_op);
    op_ctx *ctx = calloc((size_t)n, sizeof *ctx);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(lro_test_server_put_pending(s, op_name(i), NULL, NULL, 0), LRO_OK);
        int64_t at = 500 + (spread_ms - 500) * i / n;
        if (i % 10 == 9) {
            CHECK_EQ_INT(
                lro_test_server_fail(s, op_name(i), at, LRO_CODE_ABORTED, "it broke", NULL, 0),
                LRO_OK);
        } else {
            CHECK_EQ_INT(lro_test_server_complete(s, op_name(i), at, NULL, NULL, 0), LRO_OK);
        }
    }
    lro_poll_policy pp = LRO_POLL_POLICY_INIT; /* AUTO: held WaitOperations */
    pp.total_timeout_ms = slow_ms(120000);
    for (int i = 0; i < n; i++) {
        ctx[i].log = &log;
        ctx[i].index = i;
        CHECK_EQ_INT(lro_await(c, op_name(i), &pp, NULL, NULL, await_done, &ctx[i], NULL, NULL),
                     LRO_OK);
    }
    WAIT_UNTIL(atomic_load(&log.calls) == n);
    CHECK_EQ_INT(atomic_load(&log.ok), n - n / 10); /* the rest failed as their operations did */
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(atomic_load(&log.per_op[i]), 1);
    }
    uint64_t waits = lro_test_server_call_count(s, LRO_TEST_WAIT, NULL);
    fprintf(stderr, "  %d awaits over %lld ms of recycling: %llu Waits\n", n, (long long)spread_ms,
            (unsigned long long)waits);
    lro_client_destroy(c);
    lro_test_server_stop(s);
    free(log.per_op);
    free(ctx);
}

int main(void)
{
    RUN(test_transient_then_success);
    RUN(test_persistent_unavailable_ends_at_budget);
    RUN(test_permanent_error_ends_at_once);
    RUN(test_transient_budget);
    RUN(test_server_restart_mid_await);
    RUN(test_recycled_connections);
    return 0;
}
