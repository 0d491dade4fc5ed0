/*
 * server_load.c - a rough load check of the embedded server (not a test and
 * not the project's benchmark): a raw grpc-core client keeps `inflight`
 * GetOperation calls going over one channel for `total` calls and prints
 * calls/s. Client and server share the process (and this machine's cores),
 * so read it as "the server keeps up", not as a figure to publish.
 *
 * Usage: server_load [threads] [total] [inflight] [record_limit]
 */
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "lro/testing.h"
#include "tclient.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int total = argc > 2 ? atoi(argv[2]) : 20000;
    int inflight = argc > 3 ? atoi(argv[3]) : 64;
    long long limit = argc > 4 ? atoll(argv[4]) : -1;
    grpc_init();
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.threads = threads;
    o.record_limit = limit;
    lro_test_server *s;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, "projects/p/operations", 100), LRO_OK);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    uint8_t *b;
    size_t n = tc_enc_name(TC_GET, "projects/p/operations/op-00042", &b);
    tc_call *warm = tc_start(ch, cq, TC_GET, b, n, NULL, 10000);
    tc_call_free(tc_next(cq));
    (void)warm;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    double t0 = now_s();
    int started = 0, done = 0, bad = 0;
    for (; started < inflight && started < total; started++) {
        tc_start(ch, cq, TC_GET, b, n, NULL, 60000);
    }
    while (done < total) {
        tc_call *c = tc_next(cq);
        bad += tc_result_of(c)->code != 0;
        tc_call_free(c);
        done++;
        if (started < total) {
            tc_start(ch, cq, TC_GET, b, n, NULL, 60000);
            started++;
        }
    }
    double dt = now_s() - t0;
    getrusage(RUSAGE_SELF, &r1);
    double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                          r0.ru_stime.tv_sec) +
                 (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                          r0.ru_stime.tv_usec) /
                     1e6;
    printf("threads=%d total=%d inflight=%d records=%lld: %.0f calls/s, process CPU %.2f s "
           "(client+server) for %.2f s wall, %d errors\n",
           threads, total, inflight, limit, total / dt, cpu, dt, bad);
    free(b);
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
    grpc_shutdown();
    return bad != 0;
}
