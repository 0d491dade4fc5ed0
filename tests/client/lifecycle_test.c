/* Every started call completes exactly once: local cancel, deadline, dead
 * server, client destroy with calls in flight, destroy from a callback, and
 * loop mode's "callbacks only inside lro_client_process". */
#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "harness.h"

static lro_test_server *srv;

static void test_local_cancel(void)
{
    lro_client *c = make_client(srv);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/held", NULL, NULL, 0), LRO_OK);
    counter k = {0};
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_wait(c, PARENT "/held", 25000, NULL, count_cb, &k, count_free, &f), LRO_OK);
    WAIT_UNTIL(lro_test_server_call_count(srv, LRO_TEST_WAIT, PARENT "/held") == 1);
    CHECK_EQ_INT(lro_future_cancel(f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_CANCELLED);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_CANCELLED);
    CHECK_EQ_INT(lro_future_cancel(f), LRO_OK); /* idempotent */
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    CHECK_EQ_INT(atomic_load(&k.last_result), LRO_ERR_CANCELLED);
    /* Local cancel did not touch the operation on the server. */
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_EQ_INT(lro_test_server_get(srv, PARENT "/held", &bytes, &len), LRO_OK);
    lro_test_free(bytes);
    lro_future *g = NULL;
    CHECK_EQ_INT(lro_get(c, PARENT "/held", NULL, NULL, NULL, NULL, &g), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(g, -1), LRO_OK);
    CHECK_EQ_INT(lro_operation_done(lro_future_operation(g)), 0);
    lro_future_unref(g);
    lro_future_unref(f);
    lro_client_destroy(c);
}

static void test_deadline(void)
{
    lro_client *c = make_client_ex(lro_test_server_target(srv), LRO_MODE_THREAD, 1);
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.name = op_name(3);
    fl.kind = LRO_TEST_FAULT_LATENCY;
    fl.latency_ms = 2000;
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.timeout_ms = 100;
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c, op_name(3), &co, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_DEADLINE_EXCEEDED);
    lro_future_unref(f);
    lro_test_server_clear_faults(srv);
    lro_client_destroy(c);
}

static void test_dead_server(void)
{
    /* A port nobody listens on: UNAVAILABLE after the retries. */
    lro_test_server *tmp = start_server(0);
    char target[128];
    snprintf(target, sizeof target, "%s", lro_test_server_target(tmp));
    lro_test_server_stop(tmp);
    lro_client *c = make_client_ex(target, LRO_MODE_THREAD, 2);
    counter k = {0};
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c, "projects/p/operations/x", NULL, count_cb, &k, count_free, &f),
                 LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAVAILABLE);
    CHECK_EQ_INT(lro_future_attempts(f), 2);
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    lro_future_unref(f);
    lro_client_destroy(c);
}

#define NHELD 1000

static void test_destroy_with_calls_in_flight(void)
{
    lro_client *c = make_client(srv);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/forever", NULL, NULL, 0), LRO_OK);
    static counter ks[NHELD];
    lro_future *kept = NULL;
    memset(ks, 0, sizeof ks);
    for (int i = 0; i < NHELD; i++) {
        CHECK_EQ_INT(lro_wait(c, PARENT "/forever", 25000, NULL, count_cb, &ks[i], count_free,
                              i == 0 ? &kept : NULL),
                     LRO_OK);
    }
    CHECK_EQ_INT(lro_client_inflight(c), NHELD);
    lro_client_destroy(c);
    /* Thread mode: every callback ran before destroy returned. */
    for (int i = 0; i < NHELD; i++) {
        CHECK_EQ_INT(atomic_load(&ks[i].calls), 1);
        CHECK_EQ_INT(atomic_load(&ks[i].frees), 1);
        CHECK_EQ_INT(atomic_load(&ks[i].last_result), LRO_ERR_SHUTDOWN);
    }
    /* A future kept past destroy stays readable (zombie client). */
    CHECK_EQ_INT(lro_future_result(kept), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(lro_future_cancel(kept), LRO_OK);
    lro_future_unref(kept);
}

static lro_client *g_self_destroy;
static atomic_int g_after_destroy;
static atomic_long g_io_tid; /* the thread the callback (and teardown) ran on */

static int thread_alive(long tid)
{
    char path[64];
    struct stat st;
    snprintf(path, sizeof path, "/proc/self/task/%ld", tid);
    return stat(path, &st) == 0;
}

static void destroy_from_cb(lro_future *f, void *ud)
{
    (void)f;
    counter *k = ud;
    atomic_store(&g_io_tid, (long)syscall(SYS_gettid));
    atomic_fetch_add(&k->calls, 1);
    lro_client_destroy(g_self_destroy);
    /* After destroy, new calls are refused (the memory is still alive
     * because this callback's future holds it). */
    int rc = lro_get(g_self_destroy, "projects/p/operations/x", NULL, NULL, NULL, NULL, NULL);
    atomic_store(&g_after_destroy, rc);
}

static void test_destroy_from_callback(void)
{
    g_self_destroy = make_client(srv);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/forever2", NULL, NULL, 0), LRO_OK);
    counter first = {0}, held[10];
    memset(held, 0, sizeof held);
    for (int i = 0; i < 10; i++) {
        CHECK_EQ_INT(lro_wait(g_self_destroy, PARENT "/forever2", 25000, NULL, count_cb, &held[i],
                              count_free, NULL),
                     LRO_OK);
    }
    CHECK_EQ_INT(lro_get(g_self_destroy, op_name(0), NULL, destroy_from_cb, &first, count_free,
                         NULL),
                 LRO_OK);
    WAIT_UNTIL(atomic_load(&first.frees) == 1);
    for (int i = 0; i < 10; i++) {
        WAIT_UNTIL(atomic_load(&held[i].frees) == 1);
        CHECK_EQ_INT(atomic_load(&held[i].calls), 1);
        CHECK_EQ_INT(atomic_load(&held[i].last_result), LRO_ERR_SHUTDOWN);
    }
    CHECK_EQ_INT(atomic_load(&first.calls), 1);
    CHECK_EQ_INT(atomic_load(&g_after_destroy), LRO_ERR_SHUTDOWN);
    /* The I/O thread finishes the teardown on its own and then exits: wait
     * (bounded) for that thread to be gone, so the leak checkers see
     * everything released (a fixed sleep was too short under valgrind). */
    long tid = atomic_load(&g_io_tid);
    CHECK(tid > 0);
    WAIT_UNTIL(!thread_alive(tid));
}

static pthread_t g_loop_thread;
static atomic_int g_wrong_thread;

static void loop_cb(lro_future *f, void *ud)
{
    counter *k = ud;
    if (!pthread_equal(pthread_self(), g_loop_thread)) {
        atomic_fetch_add(&g_wrong_thread, 1);
    }
    count_cb(f, k);
}

static void test_loop_mode(void)
{
    g_loop_thread = pthread_self();
    lro_client *c = make_client_ex(lro_test_server_target(srv), LRO_MODE_LOOP, 0);
    int fd = lro_client_fd(c);
    CHECK(fd >= 0);
    counter k = {0};
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c, op_name(0), NULL, loop_cb, &k, count_free, &f), LRO_OK);
    /* The result arrives (future done) but the callback waits for process. */
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    usleep(20000);
    CHECK_EQ_INT(atomic_load(&k.calls), 0);
    struct pollfd p = {fd, POLLIN, 0};
    /* wait() can return before the callback is queued and the fd readable:
     * poll for it (bounded) rather than assume it. */
    CHECK_EQ_INT(poll(&p, 1, (int)slow_ms(5000)), 1);
    CHECK_EQ_INT(lro_client_process(c, 0), 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    CHECK_EQ_INT(atomic_load(&k.frees), 1);
    CHECK_EQ_INT(poll(&p, 1, 0), 0); /* drained: no longer readable */
    CHECK_EQ_INT(lro_client_process(c, 0), 0);
    lro_future_unref(f);
    /* Many calls, processed in slices of max 7. */
    counter many = {0};
    for (int i = 0; i < 100; i++) {
        CHECK_EQ_INT(lro_get(c, op_name(i % 30), NULL, loop_cb, &many, NULL, NULL), LRO_OK);
    }
    int total = 0;
    while (total < 100) {
        CHECK_EQ_INT(poll(&p, 1, (int)slow_ms(5000)), 1);
        int n = lro_client_process(c, 7);
        CHECK(n >= 0 && n <= 7);
        total += n;
    }
    CHECK_EQ_INT(atomic_load(&many.calls), 100);
    /* Destroy in loop mode with calls in flight: callbacks run right here. */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/forever3", NULL, NULL, 0), LRO_OK);
    counter held = {0};
    for (int i = 0; i < 50; i++) {
        CHECK_EQ_INT(lro_wait(c, PARENT "/forever3", 25000, NULL, loop_cb, &held, count_free, NULL),
                     LRO_OK);
    }
    lro_client_destroy(c);
    CHECK_EQ_INT(atomic_load(&held.calls), 50);
    CHECK_EQ_INT(atomic_load(&held.frees), 50);
    CHECK_EQ_INT(atomic_load(&held.last_result), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&g_wrong_thread), 0);
    /* Thread mode refuses process(). */
    lro_client *t = make_client(srv);
    CHECK_EQ_INT(lro_client_process(t, 0), LRO_ERR_STATE);
    CHECK_EQ_INT(lro_client_fd(t), -1);
    lro_client_destroy(t);
}

static void test_options_misuse(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(NULL), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    lro_client *c = (lro_client *)0x1;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG); /* no target */
    CHECK(c == (lro_client *)0x1);
    CHECK_EQ_INT(lro_client_options_set_target(o, ""), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_target(o, "a\nb"), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_max_receive_size(o, 0), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_default_timeout_ms(o, -1), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_lb_policy(o, "round_robin\"}"), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_lb_policy(o, "round_robin"), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_tls(o, "not a pem"), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_mode(o, (lro_mode)7), LRO_ERR_INVALID_ARG);
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 0;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_ERR_INVALID_ARG);
    rp = (lro_retry_policy)LRO_RETRY_POLICY_INIT;
    rp.jitter = 2;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, "bad token\r\n", 0), LRO_ERR_INVALID_ARG);
    /* round_robin over a two-address target works. */
    char target[256];
    lro_test_server *s2 = start_server(4);
    snprintf(target, sizeof target, "ipv4:%s,%s", lro_test_server_target(srv),
             lro_test_server_target(s2));
    CHECK_EQ_INT(lro_client_options_set_target(o, target), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    /* round_robin only picks subchannels that are READY: the second one may
     * take a few calls to connect on a loaded machine, so call until both
     * servers have seen calls (bounded). */
    int calls = 0;
    while (calls < 2000 && (lro_test_server_call_count(s2, LRO_TEST_GET, op_name(0)) == 0 ||
                            lro_test_server_call_count(srv, LRO_TEST_GET, op_name(0)) == 0)) {
        lro_future *f = NULL;
        CHECK_EQ_INT(lro_get(c, op_name(0), NULL, NULL, NULL, NULL, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        lro_future_unref(f);
        calls++;
        if (calls % 50 == 0) {
            usleep(10000);
        }
    }
    /* Both servers got calls. */
    CHECK(lro_test_server_call_count(s2, LRO_TEST_GET, op_name(0)) > 0);
    CHECK(lro_test_server_call_count(srv, LRO_TEST_GET, op_name(0)) > 0);
    lro_client_destroy(c);
    lro_test_server_stop(s2);
    lro_client_destroy(NULL);
    lro_client_options_destroy(NULL);
    lro_future_unref(NULL);
}

int main(void)
{
    srv = start_server(40);
    RUN(test_options_misuse);
    RUN(test_local_cancel);
    RUN(test_deadline);
    RUN(test_dead_server);
    RUN(test_destroy_with_calls_in_flight);
    RUN(test_destroy_from_callback);
    RUN(test_loop_mode);
    lro_test_server_stop(srv);
    fprintf(stderr, "lifecycle_test: all passed\n");
    return 0;
}
