/* The libevent adapter against the embedded server: every callback on the
 * loop thread, exactly once, nothing between dispatches, await timers with
 * no help from the loop, 10,000 concurrent calls through one event_base,
 * shutdown (detach, destroy) from inside a callback. */
#include "lro/adapters/libevent.h"
#include "loop_common.h"

static lro_test_server *srv;

static void test_nothing_runs_between_dispatches(void)
{
    struct event_base *base = event_base_new();
    CHECK(base != NULL);
    lro_client *c = loop_client(srv, NULL, NULL);
    lro_event_attachment *a = NULL;
    CHECK_EQ_INT(lro_event_attach(base, c, &a), LRO_OK);
    tcounter k = {0};
    k.thread = pthread_self();
    enum { N = 20 };
    lro_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_get(c, loop_op_name(i), NULL, tcounter_cb, &k, tcounter_free, &fs[i]),
                     LRO_OK);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], -1), LRO_OK);
    }
    usleep(20000);
    CHECK_EQ_INT(atomic_load(&k.calls), 0); /* results in, callbacks wait for the loop */
    LOOP_RUN_UNTIL(atomic_load(&k.calls) >= N, event_base_loop(base, EVLOOP_NONBLOCK));
    CHECK_EQ_INT(atomic_load(&k.calls), N);
    CHECK_EQ_INT(atomic_load(&k.frees), N);
    CHECK_EQ_INT(atomic_load(&k.wrong_thread), 0);
    for (int i = 0; i < N; i++) {
        lro_future_unref(fs[i]);
    }
    lro_event_detach(a);
    lro_client_destroy(c);
    event_base_free(base);
}

/* A bounded budget per wake-up: 200 ready callbacks need several
 * dispatches of LRO_EVENT_BUDGET, and none is lost between them. */
static void test_budget_per_wakeup(void)
{
    struct event_base *base = event_base_new();
    lro_client *c = loop_client(srv, NULL, NULL);
    lro_event_attachment *a = NULL;
    CHECK_EQ_INT(lro_event_attach(base, c, &a), LRO_OK);
    tcounter k = {0};
    k.thread = pthread_self();
    enum { N = 200 };
    lro_future *last = NULL;
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_get(c, loop_op_name(i % NSEED), NULL, tcounter_cb, &k, NULL,
                             i == N - 1 ? &last : NULL),
                     LRO_OK);
    }
    while (lro_client_inflight(c) > 0) {
        usleep(1000);
    }
    int rounds = 0;
    while (atomic_load(&k.calls) < N) {
        int before = atomic_load(&k.calls);
        event_base_loop(base, EVLOOP_ONCE); /* blocks until the fd is readable */
        CHECK(atomic_load(&k.calls) - before <= LRO_EVENT_BUDGET);
        rounds++;
    }
    CHECK(rounds >= N / LRO_EVENT_BUDGET);
    CHECK_EQ_INT(atomic_load(&k.calls), N);
    CHECK_EQ_INT(atomic_load(&k.wrong_thread), 0);
    lro_future_unref(last);
    lro_event_detach(a);
    lro_client_destroy(c);
    event_base_free(base);
}

typedef struct timers_ctx {
    lro_event_attachment *a;
    atomic_int left;
    tcounter k;
} timers_ctx;

static void timers_cb(lro_future *f, void *ud)
{
    timers_ctx *t = ud;
    tcounter_cb(f, &t->k);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    if (atomic_fetch_sub(&t->left, 1) == 1) {
        lro_event_detach(t->a); /* from inside a callback: freed after process */
    }
}

static void test_timers_need_no_servicing(void)
{
    struct event_base *base = event_base_new();
    lro_client *c = loop_client(srv, NULL, NULL);
    timers_ctx t = {0};
    t.k.thread = pthread_self();
    atomic_store(&t.left, 2);
    CHECK_EQ_INT(lro_event_attach(base, c, &t.a), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/ev-slow", NULL, NULL, 0), LRO_OK);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY;
    pp.initial_delay_ms = 20;
    lro_future *aw = NULL;
    CHECK_EQ_INT(lro_await(c, PARENT "/ev-slow", &pp, NULL, NULL, timers_cb, &t, NULL, &aw),
                 LRO_OK);
    /* The server completes it after the third poll: two backoff timers. */
    completer done_later;
    completer_start(&done_later, srv, PARENT "/ev-slow", 3);
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.name = loop_op_name(8);
    fl.times = 2;
    fl.code = LRO_CODE_UNAVAILABLE;
    fl.message = "try again";
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    lro_future *g = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(8), NULL, timers_cb, &t, NULL, &g), LRO_OK);
    /* Only the client's fd is watched: dispatch returns when the detach in
     * the last callback leaves the base without events. */
    CHECK_EQ_INT(event_base_dispatch(base), 1);
    CHECK_EQ_INT(atomic_load(&t.k.calls), 2);
    CHECK_EQ_INT(atomic_load(&t.k.wrong_thread), 0);
    pthread_join(done_later.th, NULL);
    CHECK(lro_future_polls(aw) >= 3);
    CHECK_EQ_INT(lro_future_attempts(g), 3);
    lro_future_unref(aw);
    lro_future_unref(g);
    lro_test_server_clear_faults(srv);
    lro_client_destroy(c);
    event_base_free(base);
}

static void detach_when_done(workload *w)
{
    lro_event_detach(w->user);
}

static void test_many_calls_one_loop(void)
{
    struct event_base *base = event_base_new();
    lro_client *c = loop_client(srv, NULL, NULL);
    lro_event_attachment *a = NULL;
    CHECK_EQ_INT(lro_event_attach(base, c, &a), LRO_OK);
    workload w = {0};
    w.user = a;
    w.on_all_done = detach_when_done;
    workload_start(&w, c, loop_scale(10000));
    CHECK_EQ_INT(event_base_dispatch(base), 1);
    workload_check_and_free(&w);
    lro_client_destroy(c);
    event_base_free(base);
}

typedef struct shut_ctx {
    lro_client *c;
    lro_event_attachment *a;
    int detach, destroy;
    atomic_int ran;
    int after_get, after_process;
} shut_ctx;

static void shut_cb(lro_future *f, void *ud)
{
    (void)f;
    shut_ctx *s = ud;
    atomic_fetch_add(&s->ran, 1);
    CHECK_EQ_INT(lro_client_process(s->c, 0), LRO_ERR_STATE); /* no nesting */
    if (s->detach) {
        lro_event_detach(s->a);
    }
    if (s->destroy) {
        lro_client_destroy(s->c);
        s->after_get = lro_get(s->c, loop_op_name(0), NULL, NULL, NULL, NULL, NULL);
        s->after_process = lro_client_process(s->c, 0);
    }
}

static void run_shutdown_case(int detach, int destroy)
{
    struct event_base *base = event_base_new();
    shut_ctx s = {0};
    s.detach = detach;
    s.destroy = destroy;
    s.c = loop_client(srv, NULL, NULL);
    CHECK_EQ_INT(lro_event_attach(base, s.c, &s.a), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/ev-held", NULL, NULL, 0), LRO_OK);
    tcounter held = {0};
    held.thread = pthread_self();
    uint64_t before = lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/ev-held");
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(lro_wait(s.c, PARENT "/ev-held", 20000, NULL, tcounter_cb, &held,
                              tcounter_free, NULL),
                     LRO_OK);
    }
    while (lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/ev-held") < before + 10) {
        usleep(1000);
    }
    CHECK_EQ_INT(lro_get(s.c, loop_op_name(1), NULL, shut_cb, &s, NULL, NULL), LRO_OK);
    CHECK_EQ_INT(event_base_dispatch(base), 1); /* no event left */
    CHECK_EQ_INT(atomic_load(&s.ran), 1);
    if (destroy) {
        CHECK_EQ_INT(s.after_get, LRO_ERR_SHUTDOWN);
        CHECK_EQ_INT(s.after_process, LRO_ERR_SHUTDOWN);
        CHECK_EQ_INT(atomic_load(&held.calls), 10);
    } else {
        CHECK_EQ_INT(atomic_load(&held.calls), 0);
        lro_client_destroy(s.c);
        CHECK_EQ_INT(atomic_load(&held.calls), 10);
    }
    CHECK_EQ_INT(atomic_load(&held.frees), 10);
    CHECK_EQ_INT(atomic_load(&held.last_result), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&held.wrong_thread), 0);
    if (!detach) {
        lro_event_detach(s.a);
    }
    event_base_free(base);
}

static void test_detach_and_destroy_in_callback(void)
{
    run_shutdown_case(1, 1);
}

static void test_destroy_in_callback_without_detach(void)
{
    run_shutdown_case(0, 1);
}

static void test_detach_in_callback(void)
{
    run_shutdown_case(1, 0);
}

int main(void)
{
    srv = loop_start_server();
    RUN(test_nothing_runs_between_dispatches);
    RUN(test_budget_per_wakeup);
    RUN(test_timers_need_no_servicing);
    RUN(test_many_calls_one_loop);
    RUN(test_detach_and_destroy_in_callback);
    RUN(test_destroy_in_callback_without_detach);
    RUN(test_detach_in_callback);
    lro_test_server_stop(srv);
    libevent_global_shutdown();
    fprintf(stderr, "event_test: all passed\n");
    return 0;
}
