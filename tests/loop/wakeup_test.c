/* Loop mode without an fd: a condition-variable loop woken only by the
 * wakeup hook. The hook is coalesced (fewer calls than completions), may be
 * called from any thread, and a loop that processes with a budget is woken
 * again for what it left behind. */
#include <errno.h>
#include <time.h>

#include "loop_common.h"

static lro_test_server *srv;

typedef struct cv_loop {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
    atomic_int hook_calls;
    atomic_int hook_calls_here; /* made on `here` (the loop thread) */
    pthread_t here;
} cv_loop;

static void hook(void *data)
{
    cv_loop *l = data;
    pthread_mutex_lock(&l->mu);
    l->pending = 1;
    if (pthread_equal(pthread_self(), l->here)) {
        atomic_fetch_add(&l->hook_calls_here, 1);
    }
    atomic_fetch_add(&l->hook_calls, 1);
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* Sleeps until the hook fired (bounded: a hang guard, not a timing check). */
static void cv_wait(cv_loop *l)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    pthread_mutex_lock(&l->mu);
    while (!l->pending) {
        int rc = pthread_cond_timedwait(&l->cv, &l->mu, &ts);
        CHECK(rc != ETIMEDOUT); /* a lost wake-up */
    }
    l->pending = 0;
    pthread_mutex_unlock(&l->mu);
}

static void cv_init(cv_loop *l)
{
    memset(l, 0, sizeof *l);
    l->here = pthread_self();
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
}

static void cv_free(cv_loop *l)
{
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
}

static void test_coalesced_and_rearmed(void)
{
    cv_loop l;
    cv_init(&l);
    lro_client *c = loop_client(srv, hook, &l);
    tcounter k = {0};
    k.thread = pthread_self();
    int n = loop_scale(1000);
    lro_future **fs = calloc((size_t)n, sizeof *fs);
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(lro_get(c, loop_op_name(i % NSEED), NULL, tcounter_cb, &k, tcounter_free,
                             &fs[i]),
                     LRO_OK);
    }
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], -1), LRO_OK);
    }
    /* n completions, nothing processed: one empty -> non-empty transition. */
    CHECK_EQ_INT(atomic_load(&l.hook_calls), 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 0);
    /* Budget 16 and no fd: each process() that leaves work behind must
     * call the hook again, or this loop would sleep forever. */
    int rounds = 0;
    while (atomic_load(&k.calls) < n) {
        cv_wait(&l);
        int ran = lro_client_process(c, 16);
        CHECK(ran >= 0 && ran <= 16);
        rounds++;
    }
    CHECK(rounds >= n / 16);
    CHECK(atomic_load(&l.hook_calls) < n); /* coalesced */
    /* From any thread: the first call came from the I/O thread, the
     * re-arms from process() on this one. */
    CHECK(atomic_load(&l.hook_calls_here) >= n / 16 - 1);
    CHECK(atomic_load(&l.hook_calls_here) < atomic_load(&l.hook_calls));
    CHECK_EQ_INT(atomic_load(&k.frees), n);
    CHECK_EQ_INT(atomic_load(&k.wrong_thread), 0);

    /* then() on a done future: delivered through the same queue and hook
     * (the hook comes from then()'s thread, or from the I/O thread when
     * then() raced with the end of the completion). */
    int before = atomic_load(&l.hook_calls);
    tcounter k2 = {0};
    k2.thread = pthread_self();
    lro_future *g = NULL;
    CHECK_EQ_INT(lro_get(c, loop_op_name(1), NULL, NULL, NULL, NULL, &g), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(g, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_then(g, tcounter_cb, &k2, NULL), LRO_OK);
    cv_wait(&l);
    CHECK(atomic_load(&l.hook_calls) > before);
    CHECK_EQ_INT(lro_client_process(c, 0), 1);
    CHECK_EQ_INT(atomic_load(&k2.calls), 1);
    lro_future_unref(g);
    for (int i = 0; i < n; i++) {
        lro_future_unref(fs[i]);
    }
    free(fs);
    lro_client_destroy(c);
    cv_free(&l);
}

/* A loop thread of its own, woken only by the hook, with calls in flight
 * (Get, List, await) started from that thread: every callback runs there,
 * exactly once. */
typedef struct loop_arg {
    cv_loop *l;
    lro_client *c;
    workload *w;
    int n;
} loop_arg;

static void *loop_main(void *p)
{
    loop_arg *a = p;
    workload_start(a->w, a->c, a->n);
    while (atomic_load(&a->w->done) < a->n) {
        cv_wait(a->l);
        CHECK(lro_client_process(a->c, 64) >= 0);
    }
    /* Shut down on the loop thread; the hook is not called after this. */
    lro_client_destroy(a->c);
    return NULL;
}

static void test_hook_driven_loop_thread(void)
{
    cv_loop l;
    cv_init(&l);
    workload w = {0};
    loop_arg a = {&l, loop_client(srv, hook, &l), &w, loop_scale(10000)};
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, loop_main, &a), 0);
    pthread_join(th, NULL);
    workload_check_and_free(&w);
    CHECK(atomic_load(&l.hook_calls) <= a.n);
    fprintf(stderr, "   %d completions, %d hook calls\n", a.n, atomic_load(&l.hook_calls));
    cv_free(&l);
}

static void test_hook_refused_in_thread_mode(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_wakeup(o, hook, NULL), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG);
    CHECK(c == NULL);
    lro_client_options_destroy(o);
}

int main(void)
{
    srv = loop_start_server();
    RUN(test_hook_refused_in_thread_mode);
    RUN(test_coalesced_and_rearmed);
    RUN(test_hook_driven_loop_thread);
    lro_test_server_stop(srv);
    fprintf(stderr, "wakeup_test: all passed\n");
    return 0;
}
