/* One client awaits 10,000 operations at once: each reported exactly once
 * with the right outcome, and no thread per operation (the process's thread
 * count with 10,000 awaits in flight is within grpc's own small pool of the
 * count with none). */
#include <stdio.h>

#include "harness.h"

#define N 10000

static atomic_int calls[N];
static atomic_int right[N];

static int thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "Threads: %d", &n) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return n;
}

static void done_cb(lro_future *f, void *ud)
{
    int i = (int)(intptr_t)ud;
    int want = i % 3 == 0 ? LRO_ERR_OP_FAILED : LRO_OK;
    const lro_operation *op = lro_future_operation(f);
    if (lro_future_result(f) == want && op && strcmp(lro_operation_name(op), op_name(i)) == 0) {
        atomic_store(&right[i], 1);
    }
    atomic_fetch_add(&calls[i], 1);
}

static void run(lro_test_server *srv, lro_await_method method)
{
    for (int i = 0; i < N; i++) {
        atomic_store(&calls[i], 0);
        atomic_store(&right[i], 0);
        CHECK_EQ_INT(lro_test_server_put_pending(srv, op_name(i), NULL, NULL, 0), LRO_OK);
    }
    lro_client *c = make_client(srv);
    /* Warm up the channel so its threads exist before we count. */
    lro_future *w = NULL;
    CHECK_EQ_INT(lro_get(c, op_name(0), NULL, NULL, NULL, NULL, &w), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(w, -1), LRO_OK);
    lro_future_unref(w);
    int threads_before = thread_count();
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = method;
    pp.initial_delay_ms = 200;
    pp.multiplier = 1.5;
    pp.max_delay_ms = 1000;
    pp.total_timeout_ms = 120000;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_await(c, op_name(i), &pp, NULL, NULL, done_cb, (void *)(intptr_t)i, NULL,
                               NULL),
                     LRO_OK);
    }
    /* Completions spread over ~2 s, a third of them failing. */
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0) {
            CHECK_EQ_INT(lro_test_server_fail(srv, op_name(i), i % 2000, LRO_CODE_INTERNAL, "x",
                                              NULL, 0),
                         LRO_OK);
        } else {
            CHECK_EQ_INT(lro_test_server_complete(srv, op_name(i), i % 2000, NULL, NULL, 0),
                         LRO_OK);
        }
    }
    int threads_during = thread_count();
    int all = 0;
    for (int spins = 0; spins < 120000 && !all; spins++) {
        all = 1;
        for (int i = 0; i < N && all; i++) {
            all = atomic_load(&calls[i]) >= 1;
        }
        if (!all) {
            usleep(1000);
        }
    }
    CHECK(all);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(atomic_load(&calls[i]), 1);
        wrong += !atomic_load(&right[i]);
    }
    CHECK_EQ_INT(wrong, 0);
    fprintf(stderr, "  %s: %d awaits, threads %d before / %d during, %llu Get + %llu Wait RPCs\n",
            method == LRO_AWAIT_POLL_ONLY ? "polling" : "WaitOperation", N, threads_before,
            threads_during, (unsigned long long)lro_test_server_call_count(srv, LRO_TEST_GET, NULL),
            (unsigned long long)lro_test_server_call_count(srv, LRO_TEST_WAIT, NULL));
    /* grpc core may start a helper thread of its own under load (its timer
     * and executor pools are dynamic); what must not happen is anything that
     * grows with the number of operations. */
    CHECK(threads_during <= threads_before + 4);
    lro_client_destroy(c);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(atomic_load(&calls[i]), 1);
    }
    lro_test_server_clear(srv);
}

int main(void)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.threads = 2;
    so.record_limit = -1;
    lro_test_server *srv = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &srv), LRO_OK);
    fprintf(stderr, "== polling\n");
    run(srv, LRO_AWAIT_POLL_ONLY);
    fprintf(stderr, "== WaitOperation\n");
    run(srv, LRO_AWAIT_AUTO);
    lro_test_server_stop(srv);
    fprintf(stderr, "scale_test: all passed\n");
    return 0;
}
