/*
 * bench_server - the embedded Operations server (lro/testing.h) as a
 * stand-alone process for the benchmarks.
 *
 *   bench_server [--threads T] [--get-ops N] [--list-ops N]
 *                [--pending N --over-ms D --start-ms S] [--max-streams M]
 *                [--max-conn-age-ms A [--max-conn-age-grace-ms G]]
 *
 * Listens on 127.0.0.1:0 and prints the bound target on its first line.
 * Store contents:
 *   --get-ops N    N seeded operations under "bench/get" (unary scenarios
 *                  read "bench/get/op-00000")
 *   --list-ops N   N seeded operations under "bench/list"
 *   --pending N    N pending operations "bench/await/op-NNNNNN", the i-th
 *                  completed at S + i * D / N ms after start (a hash table
 *                  and a timer heap: a million is fine, ~0.3 KB each)
 * Front-end behaviour:
 *   --max-streams M          HTTP/2 max concurrent streams per connection
 *   --max-conn-age-ms A      GOAWAY to every connection after A ms (+-10 %),
 *   --max-conn-age-grace-ms G  calls still open G ms later are cut
 * Then it reads commands on stdin, one per line, and answers one line each:
 *   cpu            "cpu <user+sys microseconds of this process>"
 *   calls          "calls <get> <wait> <list>" (RPCs received so far)
 *   mem            "mem <VmRSS kB> <VmHWM kB>" of this process
 * It stops (cleanly) when stdin closes, or on SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "lro/testing.h"

static long long cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* A "kB" field of /proc/self/status, or -1. */
static long status_kb(const char *key)
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

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static long arg_long(int argc, char **argv, const char *key, long def)
{
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], key) == 0) {
            return strtol(argv[i + 1], NULL, 10);
        }
    }
    return def;
}

int main(int argc, char **argv)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    so.threads = (int)arg_long(argc, argv, "--threads", 2);
    so.record_limit = -1; /* no per-call records: counters only */
    so.wait_cap_ms = 60000;
    long get_ops = arg_long(argc, argv, "--get-ops", 16);
    long list_ops = arg_long(argc, argv, "--list-ops", 0);
    long pending = arg_long(argc, argv, "--pending", 0);
    long over_ms = arg_long(argc, argv, "--over-ms", 20000);
    long start_ms = arg_long(argc, argv, "--start-ms", 2000);
    so.max_concurrent_streams = (int32_t)arg_long(argc, argv, "--max-streams", 0);
    so.max_connection_age_ms = arg_long(argc, argv, "--max-conn-age-ms", 0);
    so.max_connection_age_grace_ms = arg_long(argc, argv, "--max-conn-age-grace-ms", 0);

    lro_test_server *s = NULL;
    int rc = lro_test_server_start(&so, &s);
    if (rc != LRO_OK) {
        fprintf(stderr, "bench_server: start: %s\n", lro_strerror(rc));
        return 1;
    }
    if (get_ops > 0 && lro_test_server_seed(s, "bench/get", (int)get_ops) != LRO_OK) {
        fprintf(stderr, "bench_server: seed failed\n");
        return 1;
    }
    if (list_ops > 0 && lro_test_server_seed(s, "bench/list", (int)list_ops) != LRO_OK) {
        fprintf(stderr, "bench_server: seed failed\n");
        return 1;
    }
    static const uint8_t resp[] = {0x0a, 0x02, 'o', 'k'}; /* StringValue "ok" */
    for (long i = 0; i < pending; i++) {
        char name[64];
        snprintf(name, sizeof name, "bench/await/op-%06ld", i);
        if (lro_test_server_put_pending(s, name, NULL, NULL, 0) != LRO_OK ||
            lro_test_server_complete(s, name, start_ms + i * over_ms / pending,
                                     "type.googleapis.com/google.protobuf.StringValue", resp,
                                     sizeof resp) != LRO_OK) {
            fprintf(stderr, "bench_server: put pending failed\n");
            return 1;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("%s\n", lro_test_server_target(s));
    fflush(stdout);

    char line[256];
    while (!g_stop && fgets(line, sizeof line, stdin) != NULL) {
        if (strncmp(line, "cpu", 3) == 0) {
            printf("cpu %lld\n", cpu_us());
        } else if (strncmp(line, "calls", 5) == 0) {
            printf("calls %llu %llu %llu\n",
                   (unsigned long long)lro_test_server_call_count(s, LRO_TEST_GET, NULL),
                   (unsigned long long)lro_test_server_call_count(s, LRO_TEST_WAIT, NULL),
                   (unsigned long long)lro_test_server_call_count(s, LRO_TEST_LIST, NULL));
        } else if (strncmp(line, "mem", 3) == 0) {
            printf("mem %ld %ld\n", status_kb("VmRSS"), status_kb("VmHWM"));
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    lro_test_server_stop(s);
    return 0;
}
