/* The channel pool (issue 15): against a server that allows only a few
 * concurrent streams per connection, held WaitOperations never starve
 * ordinary calls; held calls spread over as many connections as needed;
 * destroy with calls spread over channels completes each exactly once. */
#include <string.h>

#include "harness.h"

#define STREAMS 10

static lro_test_server *start_limited(void)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    so.max_concurrent_streams = STREAMS;
    so.wait_cap_ms = 60000;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 8), LRO_OK);
    return s;
}

static lro_client *make_pool_client(lro_test_server *s, int channels)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_max_streams(o, STREAMS), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_channels(o, channels), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_channels(o, 0), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_max_streams(o, 0), LRO_ERR_INVALID_ARG);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    return c;
}

static char *pending_name(int i)
{
    static _Thread_local char buf[96];
    snprintf(buf, sizeof buf, "operations/held-%04d", i);
    return buf;
}

/* Awaits that stay pending, each holding a WaitOperation for 30 s. */
static void start_held_awaits(lro_test_server *s, lro_client *c, int n, counter *k)
{
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_WAIT_ONLY;
    pp.wait_timeout_ms = 30000;
    pp.total_timeout_ms = 0;
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(lro_test_server_put_pending(s, pending_name(i), NULL, NULL, 0), LRO_OK);
        CHECK_EQ_INT(lro_await(c, pending_name(i), &pp, NULL, NULL, count_cb, k, count_free, NULL),
                     LRO_OK);
    }
    /* Held: the server saw every Wait. */
    WAIT_UNTIL(lro_test_server_call_count(s, LRO_TEST_WAIT, NULL) >= (uint64_t)n);
}

static void test_gets_not_starved_by_held_waits(void)
{
    lro_test_server *s = start_limited();
    lro_client *c = make_pool_client(s, 2);
    const int held = 6 * STREAMS; /* six connections' worth */
    counter k = {0};
    start_held_awaits(s, c, held, &k);
    /* Held calls went to their own connections: 2 short + enough held ones
     * for 60 Waits at 9 each. */
    size_t nch = lro_client_channels(c);
    fprintf(stderr, "  %d held Waits over %zu channels\n", held, nch);
    CHECK(nch >= 2 + (size_t)((held + STREAMS - 2) / (STREAMS - 1)));
    /* Gets on the same client answer well within a deadline that a Get
     * queued behind a held Wait (30 s) would miss. */
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.timeout_ms = slow_ms(5000);
    lro_retry_policy one = LRO_RETRY_POLICY_INIT;
    one.max_attempts = 1;
    co.retry = &one;
    for (int i = 0; i < 20; i++) {
        lro_future *f = NULL;
        CHECK_EQ_INT(lro_get(c, op_name(i % 8), &co, NULL, NULL, NULL, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        lro_future_unref(f);
    }
    CHECK_EQ_INT(atomic_load(&k.calls), 0); /* the awaits are still held */
    /* Each held await ends exactly once when its operation completes. */
    for (int i = 0; i < held; i++) {
        CHECK_EQ_INT(lro_test_server_complete(s, pending_name(i), 0, NULL, NULL, 0), LRO_OK);
    }
    WAIT_UNTIL(atomic_load(&k.calls) == held);
    CHECK_EQ_INT(atomic_load(&k.last_result), LRO_OK);
    lro_client_destroy(c);
    CHECK_EQ_INT(atomic_load(&k.calls), held);
    CHECK_EQ_INT(atomic_load(&k.frees), held);
    lro_test_server_stop(s);
}

static void test_destroy_across_channels(void)
{
    lro_test_server *s = start_limited();
    lro_client *c = make_pool_client(s, 3);
    const int held = 4 * STREAMS;
    counter k = {0};
    start_held_awaits(s, c, held, &k);
    /* Plain calls too, some of them plain held Waits of their own. */
    counter g = {0};
    for (int i = 0; i < 30; i++) {
        if (i % 3 == 0) {
            CHECK_EQ_INT(lro_wait(c, pending_name(i), 30000, NULL, count_cb, &g, count_free, NULL),
                         LRO_OK);
        } else {
            CHECK_EQ_INT(lro_get(c, op_name(i % 8), NULL, count_cb, &g, count_free, NULL), LRO_OK);
        }
    }
    lro_client_destroy(c);
    /* Exactly once each, on destroy at the latest. */
    CHECK_EQ_INT(atomic_load(&k.calls), held);
    CHECK_EQ_INT(atomic_load(&k.frees), held);
    CHECK_EQ_INT(atomic_load(&k.last_result), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&g.calls), 30);
    CHECK_EQ_INT(atomic_load(&g.frees), 30);
    lro_test_server_stop(s);
}

/* The server goes away and comes back on the same port: every channel of
 * the pool reconnects on its own. */
static void test_pool_reconnects(void)
{
    lro_test_server *s = start_limited();
    char target[64];
    snprintf(target, sizeof target, "%s", lro_test_server_target(s));
    lro_client *c = make_pool_client(s, 2);
    counter k = {0};
    start_held_awaits(s, c, 2 * STREAMS, &k);
    lro_test_server_stop(s);
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = target;
    so.max_concurrent_streams = STREAMS;
    s = NULL;
    int64_t end = harness_now_ms() + 10000;
    while (lro_test_server_start(&so, &s) != LRO_OK && harness_now_ms() < end) {
        usleep(50 * 1000);
    }
    CHECK(s != NULL);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 8), LRO_OK);
    for (int i = 0; i < 2 * STREAMS; i++) {
        CHECK_EQ_INT(lro_test_server_put_pending(s, pending_name(i), NULL, NULL, 0), LRO_OK);
        CHECK_EQ_INT(lro_test_server_complete(s, pending_name(i), 0, NULL, NULL, 0), LRO_OK);
    }
    WAIT_UNTIL(atomic_load(&k.calls) == 2 * STREAMS);
    CHECK_EQ_INT(atomic_load(&k.last_result), LRO_OK);
    for (int i = 0; i < 4; i++) { /* both short channels, round robin */
        lro_future *f = NULL;
        CHECK_EQ_INT(lro_get(c, op_name(i), NULL, NULL, NULL, NULL, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        lro_future_unref(f);
    }
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

int main(void)
{
    RUN(test_gets_not_starved_by_held_waits);
    RUN(test_destroy_across_channels);
    RUN(test_pool_reconnects);
    return 0;
}
