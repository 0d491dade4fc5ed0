/* Shared by the loop-mode tests: an embedded server, a loop-mode client and
 * a workload of concurrent calls (Get, List, await) whose callbacks check
 * the loop's contract: right thread, exactly once, sane results. */
#ifndef LRO_TEST_LOOP_COMMON_H
#define LRO_TEST_LOOP_COMMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "lro/lro.h"
#include "lro/testing.h"

#define PARENT "projects/demo/locations/global/operations"
#define NSEED 40

static inline lro_test_server *loop_start_server(void)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, NSEED), LRO_OK);
    return s;
}

/* A loop-mode client; `wakeup` may be NULL. Retries start after 10 ms. */
static inline lro_client *loop_client(lro_test_server *s, void (*wakeup)(void *), void *data)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_mode(o, LRO_MODE_LOOP), LRO_OK);
    if (wakeup != NULL) {
        CHECK_EQ_INT(lro_client_options_set_wakeup(o, wakeup, data), LRO_OK);
    }
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.initial_backoff_ms = 10;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    return c;
}

static inline const char *loop_op_name(int i)
{
    static _Thread_local char buf[128];
    snprintf(buf, sizeof buf, PARENT "/op-%05d", i);
    return buf;
}

static inline int64_t loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs `step` (one non-blocking loop iteration) until cond holds, then
 * checks it. lro_future_wait() can return before the callback is queued and
 * the fd readable, so a fixed number of non-blocking iterations can all run
 * before there is anything to do: the bound is wall time instead (120 s, a
 * hang guard only, generous enough for valgrind). */
#define LOOP_RUN_UNTIL(cond, step)                                                                 \
    do {                                                                                           \
        int64_t lend_ = loop_now_ms() + 120000;                                                    \
        while (!(cond) && loop_now_ms() < lend_) {                                                 \
            step;                                                                                  \
            if (!(cond)) {                                                                         \
                usleep(1000);                                                                      \
            }                                                                                      \
        }                                                                                          \
        CHECK(cond);                                                                               \
    } while (0)

/* Valgrind runs the same tests with fewer calls (CI sets the variable). */
static inline int loop_scale(int n)
{
    const char *v = getenv("LRO_UNDER_VALGRIND");
    return v != NULL && v[0] == '1' ? n / 10 : n;
}

/* ---- Workload ------------------------------------------------------------ */
typedef struct workload workload;
typedef struct slot {
    atomic_int calls;
    int kind; /* 0 get, 1 list, 2 await */
    int index;
    workload *w;
} slot;

struct workload {
    lro_client *c;
    int n;
    slot *slots;
    pthread_t loop_thread;
    atomic_int done;
    atomic_int wrong_thread;
    atomic_int in_callback;  /* callbacks never overlap */
    atomic_int overlapped;
    void (*on_all_done)(workload *w);
    void *user;
};

static inline void workload_cb(lro_future *f, void *ud)
{
    slot *s = ud;
    workload *w = s->w;
    if (atomic_fetch_add(&w->in_callback, 1) != 0) {
        atomic_fetch_add(&w->overlapped, 1);
    }
    if (!pthread_equal(pthread_self(), w->loop_thread)) {
        atomic_fetch_add(&w->wrong_thread, 1);
    }
    CHECK_EQ_INT(atomic_fetch_add(&s->calls, 1), 0); /* exactly once */
    int r = lro_future_result(f);
    switch (s->kind) {
    case 0:
        CHECK_EQ_INT(r, LRO_OK);
        CHECK_EQ_STR(lro_operation_name(lro_future_operation(f)), loop_op_name(s->index));
        break;
    case 1:
        CHECK_EQ_INT(r, LRO_OK);
        CHECK(lro_page_count(lro_future_page(f)) > 0);
        break;
    default:
        /* Seeded ops: i % 4 == 1 failed, the others the await uses succeeded. */
        CHECK_EQ_INT(r, s->index % 4 == 1 ? LRO_ERR_OP_FAILED : LRO_OK);
        break;
    }
    atomic_fetch_sub(&w->in_callback, 1);
    if (atomic_fetch_add(&w->done, 1) + 1 == w->n && w->on_all_done != NULL) {
        w->on_all_done(w);
    }
}

/* Starts n concurrent calls, a third each of Get, List (page size 10) and
 * await (on operations already done), from the calling (loop) thread. */
static inline void workload_start(workload *w, lro_client *c, int n)
{
    w->c = c;
    w->n = n;
    w->slots = calloc((size_t)n, sizeof *w->slots);
    CHECK(w->slots != NULL);
    w->loop_thread = pthread_self();
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 10;
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.wait_timeout_ms = 5000;
    for (int i = 0; i < n; i++) {
        slot *s = &w->slots[i];
        s->w = w;
        s->kind = i % 3;
        s->index = i % NSEED;
        if (s->kind == 2 && s->index % 4 == 2) {
            s->index++; /* i % 4 == 2 stays pending forever */
        }
        int rc;
        if (s->kind == 0) {
            rc = lro_get(c, loop_op_name(s->index), NULL, workload_cb, s, NULL, NULL);
        } else if (s->kind == 1) {
            rc = lro_list(c, PARENT, &la, NULL, workload_cb, s, NULL, NULL);
        } else {
            rc = lro_await(c, loop_op_name(s->index), &pp, NULL, NULL, workload_cb, s, NULL, NULL);
        }
        CHECK_EQ_INT(rc, LRO_OK);
    }
}

/* After the loop: every callback ran exactly once, on the loop thread. */
static inline void workload_check_and_free(workload *w)
{
    CHECK_EQ_INT(atomic_load(&w->done), w->n);
    for (int i = 0; i < w->n; i++) {
        CHECK_EQ_INT(atomic_load(&w->slots[i].calls), 1);
    }
    CHECK_EQ_INT(atomic_load(&w->wrong_thread), 0);
    CHECK_EQ_INT(atomic_load(&w->overlapped), 0);
    free(w->slots);
    w->slots = NULL;
}

/* A counter callback that records its thread. */
typedef struct tcounter {
    atomic_int calls;
    atomic_int frees;
    atomic_int wrong_thread;
    atomic_int last_result;
    pthread_t thread;
} tcounter;

static inline void tcounter_cb(lro_future *f, void *ud)
{
    tcounter *k = ud;
    if (!pthread_equal(pthread_self(), k->thread)) {
        atomic_fetch_add(&k->wrong_thread, 1);
    }
    atomic_store(&k->last_result, lro_future_result(f));
    atomic_fetch_add(&k->calls, 1);
}

static inline void tcounter_free(void *ud)
{
    tcounter *k = ud;
    if (!pthread_equal(pthread_self(), k->thread)) {
        atomic_fetch_add(&k->wrong_thread, 1);
    }
    atomic_fetch_add(&k->frees, 1);
}

/* Completes operation `name` once the server has seen `polls` GetOperation
 * calls for it: proves the await's backoff timers fired, without timing. */
typedef struct completer {
    lro_test_server *srv;
    const char *name;
    uint64_t polls;
    pthread_t th;
} completer;

static inline void *completer_main(void *p)
{
    completer *k = p;
    while (lro_test_server_call_count(k->srv, LRO_TEST_GET, k->name) < k->polls) {
        usleep(1000);
    }
    CHECK_EQ_INT(lro_test_server_complete(k->srv, k->name, 0, NULL, NULL, 0), LRO_OK);
    return NULL;
}

static inline void completer_start(completer *k, lro_test_server *srv, const char *name,
                                   uint64_t polls)
{
    k->srv = srv;
    k->name = name;
    k->polls = polls;
    CHECK_EQ_INT(pthread_create(&k->th, NULL, completer_main, k), 0);
}

#endif
