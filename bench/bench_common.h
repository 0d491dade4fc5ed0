/* bench_common.h - small helpers shared by the benchmark clients (C and C++):
 * argument parsing, CPU/RSS/thread readings, latency percentiles. */
#ifndef LRO_BENCH_COMMON_H
#define LRO_BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* The operation every unary scenario reads, and its routing header (the
 * value lro-c computes for this name: '/' is kept unescaped). */
#define BENCH_GET_NAME "bench/get/op-00000"
#define BENCH_ROUTING_KEY "x-goog-request-params"
#define BENCH_ROUTING_VALUE "name=bench/get/op-00000"
#define BENCH_TIMEOUT_MS 30000

static inline const char *bench_arg(int argc, char **argv, const char *key, const char *def)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], key) == 0) {
            return argv[i + 1];
        }
    }
    return def;
}

static inline long bench_arg_long(int argc, char **argv, const char *key, long def)
{
    const char *v = bench_arg(argc, argv, key, NULL);
    return v != NULL ? strtol(v, NULL, 10) : def;
}

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* user + system CPU of the whole process (all threads), microseconds. */
static inline int64_t bench_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* Voluntary + involuntary context switches of the process so far. */
static inline long bench_ctxsw(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw + ru.ru_nivcsw;
}

static inline long bench_maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A field of /proc/self/status ("VmRSS", "Threads"), or -1. */
static inline long bench_status_field(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return v;
}

static inline int bench_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v and returns the p-th percentile (0..100) in microseconds. */
static inline double bench_percentile_us(int64_t *v, size_t n, double p, int sorted)
{
    if (n == 0) {
        return 0;
    }
    if (!sorted) {
        qsort(v, n, sizeof *v, bench_cmp_i64);
    }
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1000.0;
}

/* The common part of a unary result line. */
static inline void bench_print_unary(const char *client, long calls, int inflight, int64_t wall_ns,
                                     int64_t cpu_us, long ctxsw, long errors, int64_t *lat,
                                     size_t nlat)
{
    printf("{\"scenario\":\"%s\",\"client\":\"%s\",\"calls\":%ld,\"inflight\":%d,"
           "\"errors\":%ld,\"wall_s\":%.3f,\"calls_per_s\":%.0f,\"cpu_us_per_call\":%.3f,"
           "\"ctxsw_per_call\":%.3f,\"maxrss_kb\":%ld",
           nlat ? "latency" : "unary", client, calls, inflight, errors, (double)wall_ns / 1e9,
           (double)calls / ((double)wall_ns / 1e9), (double)cpu_us / (double)calls,
           (double)ctxsw / (double)calls, bench_maxrss_kb());
    if (nlat) {
        double p50 = bench_percentile_us(lat, nlat, 50, 0);
        double p99 = bench_percentile_us(lat, nlat, 99, 1);
        printf(",\"p50_us\":%.1f,\"p99_us\":%.1f", p50, p99);
    }
    printf("}\n");
    fflush(stdout);
}

#endif
