/* The libuv adapter against the embedded server: every callback on the loop
 * thread, exactly once, nothing between loop iterations, await timers with
 * no help from the loop, 10,000 concurrent calls through one loop, and
 * shutdown (detach, destroy) from inside a callback. */
#include "lro/adapters/libuv.h"
#include "loop_common.h"

static lro_test_server *srv;

/* Runs the loop until no handle is left (every attachment detached and its
 * memory released), then closes it. */
static void finish_loop(uv_loop_t *loop)
{
    CHECK_EQ_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
}

static void test_nothing_runs_between_iterations(void)
{
    uv_loop_t loop;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    lro_client *c = loop_client(srv, NULL, NULL);
    lro_uv_attachment *a = NULL;
    CHECK_EQ_INT(lro_uv_attach(&loop, c, &a), LRO_OK);
    tcounter k = {0};
    k.thread = pthread_self();
    enum { N = 20 };
    lro_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_get(c, loop_op_name(i), NULL, tcounter_cb, &k, tcounter_free, &fs[i]),
                     LRO_OK);
    }
    /* Every result is in (the futures are done), yet no callback ran: the
     * loop has not iterated. */
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], -1), LRO_OK);
    }
    usleep(20000);
    CHECK_EQ_INT(atomic_load(&k.calls), 0);
    CHECK_EQ_INT(atomic_load(&k.frees), 0);
    LOOP_RUN_UNTIL(atomic_load(&k.calls) >= N, uv_run(&loop, UV_RUN_NOWAIT));
    CHECK_EQ_INT(atomic_load(&k.calls), N);
    CHECK_EQ_INT(atomic_load(&k.frees), N);
    CHECK_EQ_INT(atomic_load(&k.wrong_thread), 0);
    for (int i = 0; i < N; i++) {
        lro_future_unref(fs[i]);
    }
    lro_uv_detach(a);
    lro_client_destroy(c);
    finish_loop(&loop);
}

/* ---- Timers: await polls with backoff and retry backoff, loop untouched. */
typedef struct timers_ctx {
    lro_uv_attachment *a;
    atomic_int left;
    tcounter k;
} timers_ctx;

static void timers_cb(lro_future *f, void *ud)
{
    timers_ctx *t = ud;
    tcounter_cb(f, &t->k);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    if (atomic_fetch_sub(&t->left, 1) == 1) {
        lro_uv_detach(t->a); /* the loop then has nothing left and returns */
    }
}

static void test_timers_need_no_servicing(void)
{
    uv_loop_t loop;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    lro_client *c = loop_client(srv, NULL, NULL);
    timers_ctx t = {0};
    t.k.thread = pthread_self();
    atomic_store(&t.left, 2);
    CHECK_EQ_INT(lro_uv_attach(&loop, c, &t.a), LRO_OK);
    /* An await that polls with GetOperation and backs off (20 ms, x1.5)
     * until the server completes the operation (after the third poll). */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/uv-slow", NULL, NULL, 0), LRO_OK);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY;
    pp.initial_delay_ms = 20;
    lro_future *aw = NULL;
    CHECK_EQ_INT(lro_await(c, PARENT "/uv-slow", &pp, NULL, NULL, timers_cb, &t, NULL, &aw),
                 LRO_OK);
    /* The server completes it after the third poll: two backoff timers. */
    completer done_later;
    completer_start(&done_later, srv, PARENT "/uv-slow", 3);
    /* A Get answered UNAVAILABLE twice: two retry backoffs, then success. */
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.name = loop_op_name(4);
    fl.times = 2;
    fl.code = LRO_CODE_UNAVAILABLE;
    fl.message = "try again";
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    lro_future *g = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(4), NULL, timers_cb, &t, NULL, &g), LRO_OK);

    /* The loop only watches the client's fd; no timer of its own. */
    CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(atomic_load(&t.k.calls), 2);
    CHECK_EQ_INT(atomic_load(&t.k.wrong_thread), 0);
    pthread_join(done_later.th, NULL);
    CHECK(lro_future_polls(aw) >= 3);
    CHECK_EQ_INT(lro_future_attempts(g), 3);
    lro_future_unref(aw);
    lro_future_unref(g);
    lro_test_server_clear_faults(srv);
    lro_client_destroy(c);
    finish_loop(&loop);
}

/* ---- 10,000 concurrent calls through one loop. */
static void detach_when_done(workload *w)
{
    lro_uv_detach(w->user);
}

static void test_many_calls_one_loop(void)
{
    uv_loop_t loop;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    lro_client *c = loop_client(srv, NULL, NULL);
    lro_uv_attachment *a = NULL;
    CHECK_EQ_INT(lro_uv_attach(&loop, c, &a), LRO_OK);
    workload w = {0};
    w.user = a;
    w.on_all_done = detach_when_done;
    workload_start(&w, c, loop_scale(10000));
    CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
    workload_check_and_free(&w);
    CHECK_EQ_INT(lro_client_inflight(c), 0);
    lro_client_destroy(c);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

/* ---- Shutdown from inside a callback. */
typedef struct shut_ctx {
    lro_client *c;
    lro_uv_attachment *a;
    int detach;  /* detach before destroy */
    int destroy; /* destroy the client */
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
        lro_uv_detach(s->a);
    }
    if (s->destroy) {
        lro_client_destroy(s->c); /* the held calls' callbacks run in here */
        s->after_get = lro_get(s->c, loop_op_name(0), NULL, NULL, NULL, NULL, NULL);
        s->after_process = lro_client_process(s->c, 0);
    }
}

static void run_shutdown_case(int detach, int destroy)
{
    uv_loop_t loop;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    shut_ctx s = {0};
    s.detach = detach;
    s.destroy = destroy;
    s.c = loop_client(srv, NULL, NULL);
    CHECK_EQ_INT(lro_uv_attach(&loop, s.c, &s.a), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/uv-held", NULL, NULL, 0), LRO_OK);
    tcounter held = {0};
    held.thread = pthread_self();
    uint64_t before = lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/uv-held");
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(lro_wait(s.c, PARENT "/uv-held", 20000, NULL, tcounter_cb, &held,
                              tcounter_free, NULL),
                     LRO_OK);
    }
    while (lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/uv-held") < before + 10) {
        usleep(1000); /* until the server holds all ten */
    }
    CHECK_EQ_INT(lro_get(s.c, loop_op_name(1), NULL, shut_cb, &s, NULL, NULL), LRO_OK);
    /* Returns when nothing is left to watch: detached, or the adapter saw
     * LRO_ERR_SHUTDOWN and stopped. */
    CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(atomic_load(&s.ran), 1);
    if (destroy) {
        CHECK_EQ_INT(s.after_get, LRO_ERR_SHUTDOWN);
        CHECK_EQ_INT(s.after_process, LRO_ERR_SHUTDOWN);
        /* The held Waits completed inside destroy, on the loop thread. */
        CHECK_EQ_INT(atomic_load(&held.calls), 10);
    } else {
        /* Detached only: the held calls are still in flight, untouched. */
        CHECK_EQ_INT(atomic_load(&held.calls), 0);
        lro_client_destroy(s.c); /* ... and complete here, on this thread */
        CHECK_EQ_INT(atomic_load(&held.calls), 10);
    }
    CHECK_EQ_INT(atomic_load(&held.frees), 10);
    CHECK_EQ_INT(atomic_load(&held.last_result), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&held.wrong_thread), 0);
    if (!detach) {
        lro_uv_detach(s.a); /* still owed once; touches only the attachment */
    }
    finish_loop(&loop);
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

static void test_attach_misuse(void)
{
    uv_loop_t loop;
    CHECK_EQ_INT(uv_loop_init(&loop), 0);
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    lro_client *t = NULL;
    CHECK_EQ_INT(lro_client_create(o, &t), LRO_OK);
    lro_client_options_destroy(o);
    lro_uv_attachment *a = (lro_uv_attachment *)0x1;
    CHECK_EQ_INT(lro_uv_attach(&loop, t, &a), LRO_ERR_INVALID_ARG); /* thread mode */
    CHECK(a == (lro_uv_attachment *)0x1);
    CHECK_EQ_INT(lro_uv_attach(NULL, t, &a), LRO_ERR_INVALID_ARG);
    lro_uv_detach(NULL);
    lro_client_destroy(t);
    finish_loop(&loop);
}

int main(void)
{
    srv = loop_start_server();
    RUN(test_attach_misuse);
    RUN(test_nothing_runs_between_iterations);
    RUN(test_timers_need_no_servicing);
    RUN(test_many_calls_one_loop);
    RUN(test_detach_and_destroy_in_callback);
    RUN(test_destroy_in_callback_without_detach);
    RUN(test_detach_in_callback);
    lro_test_server_stop(srv);
    fprintf(stderr, "uv_test: all passed\n");
    return 0;
}
