/* Shared set-up for the client tests: an embedded server on loopback with
 * seeded operations, and a client pointed at it. */
#ifndef LRO_TEST_HARNESS_H
#define LRO_TEST_HARNESS_H

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

static inline lro_test_server *start_server(int seed)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &s), LRO_OK);
    if (seed > 0) {
        CHECK_EQ_INT(lro_test_server_seed(s, PARENT, seed), LRO_OK);
    }
    return s;
}

static inline lro_client *make_client_ex(const char *target, lro_mode mode, int max_attempts)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, target), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_mode(o, mode), LRO_OK);
    if (max_attempts > 0) {
        lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
        rp.max_attempts = max_attempts;
        rp.initial_backoff_ms = 10;
        CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_OK);
    }
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    return c;
}

static inline lro_client *make_client(lro_test_server *s)
{
    return make_client_ex(lro_test_server_target(s), LRO_MODE_THREAD, 0);
}

static inline char *op_name(int i)
{
    static _Thread_local char buf[128];
    snprintf(buf, sizeof buf, PARENT "/op-%05d", i);
    return buf;
}

/* Counts callbacks; each test asserts "exactly once". */
typedef struct counter {
    atomic_int calls;
    atomic_int frees;
    atomic_int last_result;
} counter;

static inline void count_cb(lro_future *f, void *ud)
{
    counter *k = ud;
    atomic_store(&k->last_result, lro_future_result(f));
    atomic_fetch_add(&k->calls, 1);
}

static inline void count_free(void *ud)
{
    counter *k = ud;
    atomic_fetch_add(&k->frees, 1);
}

/* Monotonic milliseconds (for WAIT_UNTIL's wall bound and for tests that
 * measure a lower bound on elapsed time). */
static inline int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A timing window (a deadline, a budget, a bound on how long something may
 * take) scaled for the environment: x5 under valgrind (CI's valgrind
 * configuration sets LRO_UNDER_VALGRIND=1), where everything runs tens of
 * times slower. Only for windows a slow run could miss; never for lower
 * bounds a test asserts on. */
static inline int64_t slow_ms(int64_t ms)
{
    const char *v = getenv("LRO_UNDER_VALGRIND");
    return v != NULL && v[0] != '\0' && v[0] != '0' ? ms * 5 : ms;
}

/* Waits (bounded) until cond holds. The bound is wall time, not a count of
 * sleeps (a loaded machine oversleeps every usleep), and generous: it only
 * stops a broken test from hanging forever, it is not a performance
 * assertion, and it must not give up early under valgrind. */
#define WAIT_UNTIL_BOUND_MS 120000
#define WAIT_UNTIL(cond)                                                                           \
    do {                                                                                           \
        int64_t wend_ = harness_now_ms() + WAIT_UNTIL_BOUND_MS;                                    \
        while (!(cond) && harness_now_ms() < wend_) {                                              \
            usleep(1000);                                                                          \
        }                                                                                          \
        CHECK(cond);                                                                               \
    } while (0)

#endif
