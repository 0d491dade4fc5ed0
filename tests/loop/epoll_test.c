/* Loop mode with a plain epoll loop (no adapter): the fd contract, budgets,
 * process() serialized across threads, then(), process() after destroy,
 * and 10,000 concurrent calls through one loop. */
#include <poll.h>
#include <sys/epoll.h>

#include "loop_common.h"

static lro_test_server *srv;

/* One epoll iteration: waits (bounded, a hang guard only) for the fd, then
 * processes at most `budget` callbacks. Returns what process returned. */
static int epoll_once(int ep, lro_client *c, int budget)
{
    struct epoll_event ev;
    int n = epoll_wait(ep, &ev, 1, 30000);
    CHECK_EQ_INT(n, 1);
    return lro_client_process(c, budget);
}

static int epoll_for(lro_client *c)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    struct epoll_event ev = {.events = EPOLLIN}; /* level-triggered */
    CHECK_EQ_INT(epoll_ctl(ep, EPOLL_CTL_ADD, lro_client_fd(c), &ev), 0);
    return ep;
}

static void test_fd_contract(void)
{
    lro_client *c = loop_client(srv, NULL, NULL);
    int ep = epoll_for(c);
    struct epoll_event ev;
    CHECK_EQ_INT(epoll_wait(ep, &ev, 1, 0), 0); /* nothing pending: not readable */
    tcounter k = {0};
    k.thread = pthread_self();
    enum { N = 50 };
    lro_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_get(c, loop_op_name(i % NSEED), NULL, tcounter_cb, &k, tcounter_free,
                             &fs[i]),
                     LRO_OK);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(fs[i]), LRO_OK); /* results are readable already */
    }
    usleep(20000);
    CHECK_EQ_INT(atomic_load(&k.calls), 0); /* ... callbacks wait for process() */
    /* Budget 7: the fd stays readable until the last one ran. */
    int total = 0;
    while (total < N) {
        int n = epoll_once(ep, c, 7);
        CHECK(n >= 0 && n <= 7);
        total += n;
        CHECK_EQ_INT(atomic_load(&k.calls), total);
    }
    CHECK_EQ_INT(epoll_wait(ep, &ev, 1, 0), 0); /* drained: not readable */
    CHECK_EQ_INT(lro_client_process(c, 0), 0);
    CHECK_EQ_INT(atomic_load(&k.frees), N);
    CHECK_EQ_INT(atomic_load(&k.wrong_thread), 0);

    /* ud_free without a callback is user code too: it waits for process(). */
    tcounter kf = {0};
    kf.thread = pthread_self();
    lro_future *nf = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(2), NULL, NULL, &kf, tcounter_free, &nf), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(nf, -1), LRO_OK);
    usleep(20000);
    CHECK_EQ_INT(atomic_load(&kf.frees), 0);
    CHECK_EQ_INT(epoll_once(ep, c, 0), 1);
    CHECK_EQ_INT(atomic_load(&kf.frees), 1);
    CHECK_EQ_INT(atomic_load(&kf.calls), 0);
    CHECK_EQ_INT(atomic_load(&kf.wrong_thread), 0);
    lro_future_unref(nf);

    /* then() on a done future: queued like a completion, fd readable again. */
    tcounter k2 = {0};
    k2.thread = pthread_self();
    lro_future *g = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(1), NULL, NULL, NULL, NULL, &g), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(g, -1), LRO_OK);
    CHECK_EQ_INT(epoll_wait(ep, &ev, 1, 0), 0); /* no callback: nothing to process */
    CHECK_EQ_INT(lro_future_then(fs[0], tcounter_cb, &k2, NULL), LRO_ERR_STATE); /* has one */
    CHECK_EQ_INT(lro_future_then(g, tcounter_cb, &k2, tcounter_free), LRO_OK);
    CHECK_EQ_INT(atomic_load(&k2.calls), 0);
    CHECK_EQ_INT(epoll_once(ep, c, 0), 1);
    lro_future_unref(g);
    CHECK_EQ_INT(atomic_load(&k2.calls), 1);
    CHECK_EQ_INT(atomic_load(&k2.frees), 1);
    for (int i = 0; i < N; i++) {
        lro_future_unref(fs[i]);
    }
    /* Stop watching the fd before destroy (it is closed there). */
    close(ep);
    /* A duplicate of the fd (what the adapters watch) made readable by a
     * pending callback is left unreadable by destroy, which ran it. */
    int dup_fd = dup(lro_client_fd(c));
    CHECK(dup_fd >= 0);
    tcounter k4 = {0};
    k4.thread = pthread_self();
    lro_future *kept = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(0), NULL, tcounter_cb, &k4, NULL, &kept), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(kept, -1), LRO_OK);
    lro_future *plain = NULL; /* no callback yet */
    CHECK_EQ_INT(lro_get(c, loop_op_name(3), NULL, NULL, NULL, NULL, &plain), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(plain, -1), LRO_OK);
    struct pollfd pd = {dup_fd, POLLIN, 0};
    CHECK_EQ_INT(poll(&pd, 1, 30000), 1);
    lro_client_destroy(c);
    CHECK_EQ_INT(atomic_load(&k4.calls), 1);
    CHECK_EQ_INT(poll(&pd, 1, 0), 0);
    close(dup_fd);
    /* The client's memory lives on through `kept`: process() and new calls
     * say it is shut down instead of touching released state. */
    CHECK_EQ_INT(lro_client_process(c, 0), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(lro_get(c, loop_op_name(0), NULL, NULL, NULL, NULL, NULL), LRO_ERR_SHUTDOWN);
    CHECK(lro_future_is_done(kept));
    tcounter k3 = {0};
    k3.thread = pthread_self();
    CHECK_EQ_INT(lro_future_then(kept, tcounter_cb, &k3, NULL), LRO_ERR_STATE); /* has one */
    lro_future *late = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(0), NULL, NULL, NULL, NULL, &late), LRO_ERR_SHUTDOWN);
    CHECK(late == NULL);
    CHECK_EQ_INT(atomic_load(&k3.calls), 0);
    /* then() after destroy runs at once, here. */
    CHECK_EQ_INT(lro_future_then(plain, tcounter_cb, &k3, NULL), LRO_OK);
    CHECK_EQ_INT(atomic_load(&k3.calls), 1);
    CHECK_EQ_INT(atomic_load(&k3.wrong_thread), 0);
    lro_future_unref(plain);
    lro_future_unref(kept);
}

/* ---- Several threads calling process(): callbacks never overlap. */
typedef struct par_ctx {
    lro_client *c;
    int n;
    atomic_int done;
    atomic_int inside;
    atomic_int overlapped;
    atomic_int calls[2000];
} par_ctx;

static par_ctx g_par;

static void par_cb(lro_future *f, void *ud)
{
    (void)f;
    atomic_int *mine = ud;
    if (atomic_fetch_add(&g_par.inside, 1) != 0) {
        atomic_fetch_add(&g_par.overlapped, 1);
    }
    CHECK_EQ_INT(atomic_fetch_add(mine, 1), 0);
    usleep(50); /* widen the window an overlap would need */
    atomic_fetch_sub(&g_par.inside, 1);
    atomic_fetch_add(&g_par.done, 1);
}

static void *par_loop(void *arg)
{
    (void)arg;
    while (atomic_load(&g_par.done) < g_par.n) {
        int n = lro_client_process(g_par.c, 3);
        CHECK(n >= 0);
        if (n == 0) {
            usleep(100);
        }
    }
    return NULL;
}

static void test_process_from_several_threads(void)
{
    g_par.c = loop_client(srv, NULL, NULL);
    g_par.n = loop_scale(2000);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(pthread_create(&th[i], NULL, par_loop, NULL), 0);
    }
    for (int i = 0; i < g_par.n; i++) {
        CHECK_EQ_INT(lro_get(g_par.c, loop_op_name(i % NSEED), NULL, par_cb, &g_par.calls[i], NULL,
                             NULL),
                     LRO_OK);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
    }
    CHECK_EQ_INT(atomic_load(&g_par.done), g_par.n);
    CHECK_EQ_INT(atomic_load(&g_par.overlapped), 0);
    lro_client_destroy(g_par.c);
}

/* ---- 10,000 concurrent calls, destroy from the last callback. */
static void destroy_when_done(workload *w)
{
    *(int *)w->user = 1;
}

static void test_many_calls_one_loop(void)
{
    lro_client *c = loop_client(srv, NULL, NULL);
    int ep = epoll_for(c);
    int stop = 0;
    workload w = {0};
    w.user = &stop;
    w.on_all_done = destroy_when_done;
    workload_start(&w, c, loop_scale(10000));
    while (!stop) {
        CHECK(epoll_once(ep, c, 256) >= 0);
    }
    workload_check_and_free(&w);
    close(ep);
    lro_client_destroy(c);
}

/* Destroy from inside a callback while the loop still has the fd in its
 * set: process() reports it and the loop stops touching the client. */
static lro_client *g_victim;
static void destroy_cb(lro_future *f, void *ud)
{
    (void)f;
    (void)ud;
    lro_client_destroy(g_victim);
}

static void test_destroy_in_callback(void)
{
    g_victim = loop_client(srv, NULL, NULL);
    int ep = epoll_for(g_victim);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/ep-held", NULL, NULL, 0), LRO_OK);
    tcounter held = {0};
    held.thread = pthread_self();
    for (int i = 0; i < 20; i++) {
        CHECK_EQ_INT(lro_wait(g_victim, PARENT "/ep-held", 20000, NULL, tcounter_cb, &held,
                              tcounter_free, NULL),
                     LRO_OK);
    }
    CHECK_EQ_INT(lro_get(g_victim, loop_op_name(2), NULL, destroy_cb, NULL, NULL, NULL), LRO_OK);
    CHECK_EQ_INT(epoll_once(ep, g_victim, 0), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&held.calls), 20);
    CHECK_EQ_INT(atomic_load(&held.frees), 20);
    CHECK_EQ_INT(atomic_load(&held.last_result), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&held.wrong_thread), 0);
    close(ep);
}

/* ---- Destroy from another thread while the loop thread processes: the
 * final drain waits for process() (callbacks never overlap), every callback
 * runs once, and the loop's next process() says LRO_ERR_SHUTDOWN (the
 * client's memory is kept by a future the loop still holds). */
#define NRACE 400
static struct {
    lro_client *c;
    atomic_int inside, overlapped, done, stop_rc;
    atomic_int calls[NRACE];
} g_race;

static void race_cb(lro_future *f, void *ud)
{
    (void)f;
    atomic_int *mine = ud;
    if (atomic_fetch_add(&g_race.inside, 1) != 0) {
        atomic_fetch_add(&g_race.overlapped, 1);
    }
    CHECK_EQ_INT(atomic_fetch_add(mine, 1), 0);
    usleep(200);
    atomic_fetch_sub(&g_race.inside, 1);
    atomic_fetch_add(&g_race.done, 1);
}

static void *race_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int rc = lro_client_process(g_race.c, 3);
        if (rc < 0) {
            atomic_store(&g_race.stop_rc, rc);
            return NULL;
        }
        if (rc == 0) {
            usleep(100);
        }
    }
}

static void test_destroy_from_other_thread(void)
{
    g_race.c = loop_client(srv, NULL, NULL);
    lro_future *keep = NULL;
    CHECK_EQ_INT(lro_get(g_race.c, loop_op_name(0), NULL, NULL, NULL, NULL, &keep), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/ep-race", NULL, NULL, 0), LRO_OK);
    for (int i = 0; i < NRACE; i++) {
        int rc = i % 2 ? lro_wait(g_race.c, PARENT "/ep-race", 20000, NULL, race_cb,
                                  &g_race.calls[i], NULL, NULL)
                       : lro_get(g_race.c, loop_op_name(i % NSEED), NULL, race_cb,
                                 &g_race.calls[i], NULL, NULL);
        CHECK_EQ_INT(rc, LRO_OK);
    }
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, race_loop, NULL), 0);
    while (atomic_load(&g_race.done) < 20) {
        usleep(1000);
    }
    lro_client_destroy(g_race.c); /* the held Waits' callbacks run here or there */
    pthread_join(th, NULL);
    CHECK_EQ_INT(atomic_load(&g_race.stop_rc), LRO_ERR_SHUTDOWN);
    CHECK_EQ_INT(atomic_load(&g_race.done), NRACE);
    for (int i = 0; i < NRACE; i++) {
        CHECK_EQ_INT(atomic_load(&g_race.calls[i]), 1);
    }
    CHECK_EQ_INT(atomic_load(&g_race.overlapped), 0);
    lro_future_unref(keep);
}

int main(void)
{
    srv = loop_start_server();
    RUN(test_fd_contract);
    RUN(test_process_from_several_threads);
    RUN(test_many_calls_one_loop);
    RUN(test_destroy_in_callback);
    RUN(test_destroy_from_other_thread);
    lro_test_server_stop(srv);
    fprintf(stderr, "epoll_test: all passed\n");
    return 0;
}
