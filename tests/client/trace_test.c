/* W3C trace context in lro_call_options: sent on every attempt of a call
 * (retries included) and on every poll of an await; malformed values are
 * refused before anything is sent. Against the embedded server, which
 * records each call's headers. */
#include <string.h>

#include "harness.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TS "vendor=opaque,other=1"

static void check_every_record(lro_test_server *s, unsigned methods, const char *name,
                               size_t want_at_least)
{
    size_t seen = 0;
    for (size_t i = 0; i < lro_test_server_record_count(s); i++) {
        lro_test_record *r = lro_test_server_record(s, i);
        if ((lro_test_record_method(r) & methods) && strcmp(lro_test_record_name(r), name) == 0) {
            const char *tp = lro_test_record_header(r, "traceparent");
            const char *ts = lro_test_record_header(r, "tracestate");
            CHECK(tp != NULL && strcmp(tp, TP) == 0);
            CHECK(ts != NULL && strcmp(ts, TS) == 0);
            seen++;
        }
        lro_test_record_free(r);
    }
    CHECK(seen >= want_at_least);
}

static void test_every_attempt(void)
{
    lro_test_server *s = start_server(4);
    lro_client *c = make_client_ex(lro_test_server_target(s), LRO_MODE_THREAD, 4);
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.methods = LRO_TEST_GET;
    f.times = 2;
    f.code = LRO_CODE_UNAVAILABLE;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.traceparent = TP;
    co.tracestate = TS;
    lro_future *fu = NULL;
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, &fu), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(fu, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(fu), LRO_OK);
    CHECK_EQ_INT(lro_future_attempts(fu), 3);
    lro_future_unref(fu);
    check_every_record(s, LRO_TEST_GET, op_name(0), 3);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

static void test_every_poll(void)
{
    lro_test_server *s = start_server(0);
    lro_client *c = make_client(s);
    const char *name = "operations/traced";
    CHECK_EQ_INT(lro_test_server_put_pending(s, name, NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_complete(s, name, 300, NULL, NULL, 0), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.traceparent = TP;
    co.tracestate = TS;
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY;
    pp.initial_delay_ms = 20;
    pp.max_delay_ms = 40;
    lro_future *fu = NULL;
    /* The options are copied: a stack buffer gone after the call is fine. */
    char tp[64];
    strcpy(tp, TP);
    co.traceparent = tp;
    CHECK_EQ_INT(lro_await(c, name, &pp, &co, NULL, NULL, NULL, NULL, &fu), LRO_OK);
    memset(tp, 'x', sizeof tp - 1);
    CHECK_EQ_INT(lro_future_wait(fu, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(fu), LRO_OK);
    CHECK(lro_future_polls(fu) >= 3);
    check_every_record(s, LRO_TEST_GET, name, (size_t)lro_future_polls(fu));
    lro_future_unref(fu);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

static void test_refused(void)
{
    lro_test_server *s = start_server(1);
    lro_client *c = make_client(s);
    const char *bad[] = {
        "",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero parent */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* uppercase */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* length */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lro_call_options co = LRO_CALL_OPTIONS_INIT;
        co.traceparent = bad[i];
        CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, NULL), LRO_ERR_INVALID_ARG);
        CHECK(strstr(lro_last_error(), "traceparent") != NULL);
    }
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.tracestate = TS; /* without traceparent */
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, NULL), LRO_ERR_INVALID_ARG);
    co.traceparent = TP;
    co.tracestate = "bad\nvalue";
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, NULL), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_ALL, NULL), 0);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

int main(void)
{
    RUN(test_every_attempt);
    RUN(test_every_poll);
    RUN(test_refused);
    return 0;
}
