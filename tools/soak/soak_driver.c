/* Soak driver: ONE client, N mixed calls (Get / List page / Cancel / Delete /
 * await / Wait) kept W in flight, against the embedded server running in a
 * forked child process. A sampler thread writes VmRSS (from /proc/self/status)
 * once a second to a CSV; at the end the slope of RSS after warm-up is
 * printed (least squares, KiB per minute and KiB per 100k calls).
 *
 *   soak_driver [calls=1000000] [window=64] [csv=soak_rss.csv] [warmup_s=15]
 *
 * Not a test: figures are for the report (tools/soak/soak.sh runs it). */
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lro/lro.h"
#include "lro/testing.h"

#define PARENT "projects/soak/locations/global/operations"
#define NOPS 400

static sem_t window;
static atomic_long done_calls, bad_results, callbacks;
static atomic_int stop_sampler;
static long long per_result[32];
static pthread_mutex_t res_mu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

typedef struct sample {
    double t;
    long calls;
    long kb;
} sample;
static sample samples[100000];
static int nsamples;
static const char *csv_path;

static void *sampler(void *arg)
{
    (void)arg;
    FILE *csv = fopen(csv_path, "w");
    if (csv) {
        fprintf(csv, "t_s,calls_done,rss_kb\n");
    }
    double t0 = now_s();
    while (!atomic_load(&stop_sampler) && nsamples < 100000) {
        sample s = {now_s() - t0, atomic_load(&done_calls), rss_kb()};
        samples[nsamples++] = s;
        if (csv) {
            fprintf(csv, "%.1f,%ld,%ld\n", s.t, s.calls, s.kb);
            fflush(csv);
        }
        for (int i = 0; i < 10 && !atomic_load(&stop_sampler); i++) {
            usleep(100000);
        }
    }
    if (csv) {
        fclose(csv);
    }
    return NULL;
}

static void on_done(lro_future *f, void *ud)
{
    (void)ud;
    int r = lro_future_result(f);
    /* Expected outcomes of the mix: OK; RPC errors (NOT_FOUND for deletes of
     * unknown names, ...) and the local cancels we asked for are fine;
     * NOMEM/SHUTDOWN/DECODE/INTERNAL are not. */
    if (r != LRO_OK && r != LRO_ERR_RPC && r != LRO_ERR_OP_FAILED && r != LRO_ERR_OP_CANCELLED &&
        r != LRO_ERR_CANCELLED &&
        r != LRO_ERR_TIMEOUT) {
        atomic_fetch_add(&bad_results, 1);
    }
    pthread_mutex_lock(&res_mu);
    per_result[-r < 32 && r <= 0 ? -r : 31]++;
    pthread_mutex_unlock(&res_mu);
    atomic_fetch_add(&callbacks, 1);
}

static void on_free(void *ud)
{
    (void)ud;
    atomic_fetch_add(&done_calls, 1);
    sem_post(&window);
}

static pid_t start_server_child(char *target, size_t cap, int *keep)
{
    int out[2], in[2];
    if (pipe(out) != 0 || pipe(in) != 0) {
        exit(2);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(out[0]);
        close(in[1]);
        lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
        so.listen = "127.0.0.1:0";
        so.record_limit = -1; /* the server keeps no records: its memory is flat too */
        so.wait_cap_ms = 50;
        lro_test_server *s = NULL;
        if (lro_test_server_start(&so, &s) != LRO_OK || lro_test_server_seed(s, PARENT, NOPS)) {
            _exit(3);
        }
        dprintf(out[1], "%s\n", lro_test_server_target(s));
        char c;
        while (read(in[0], &c, 1) > 0) {
        }
        lro_test_server_stop(s);
        _exit(0);
    }
    close(out[1]);
    close(in[0]);
    size_t n = 0;
    while (n < cap - 1 && read(out[0], target + n, 1) == 1 && target[n] != '\n') {
        n++;
    }
    target[n] = '\0';
    close(out[0]);
    *keep = in[1];
    return pid;
}

int main(int argc, char **argv)
{
    long total = argc > 1 ? atol(argv[1]) : 1000000;
    int win = argc > 2 ? atoi(argv[2]) : 64;
    csv_path = argc > 3 ? argv[3] : "soak_rss.csv";
    double warmup = argc > 4 ? atof(argv[4]) : 15.0;

    char target[128];
    int keep = -1;
    pid_t srv = start_server_child(target, sizeof target, &keep);
    if (target[0] == '\0') {
        fprintf(stderr, "server did not start\n");
        return 2;
    }
    lro_client_options *o = NULL;
    lro_client *c = NULL;
    if (lro_client_options_create(&o) || lro_client_options_set_target(o, target) ||
        lro_client_options_set_plaintext(o) || lro_client_create(o, &c)) {
        fprintf(stderr, "client create failed\n");
        return 2;
    }
    lro_client_options_destroy(o);
    sem_init(&window, 0, (unsigned)win);
    pthread_t st;
    pthread_create(&st, NULL, sampler, NULL);

    double t0 = now_s();
    unsigned rnd = 12345;
    char name[160];
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.initial_delay_ms = 5;
    pp.max_delay_ms = 20;
    pp.wait_timeout_ms = 20;
    pp.total_timeout_ms = 200;
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    lro_header hdr = {"x-soak", "1", 0};
    for (long i = 0; i < total; i++) {
        sem_wait(&window);
        rnd = rnd * 1103515245u + 12345u;
        unsigned pick = (rnd >> 8) % 100;
        int op = (int)((rnd >> 16) % NOPS);
        snprintf(name, sizeof name, PARENT "/op-%05d", op);
        co.headers = (i & 1) ? &hdr : NULL;
        co.header_count = (i & 1) ? 1 : 0;
        int rc;
        if (pick < 45) {
            rc = lro_get(c, name, &co, on_done, NULL, on_free, NULL);
        } else if (pick < 65) {
            lro_list_args la = LRO_LIST_ARGS_INIT;
            la.page_size = 10;
            rc = lro_list(c, PARENT, &la, &co, on_done, NULL, on_free, NULL);
        } else if (pick < 75) {
            rc = lro_cancel(c, name, &co, on_done, NULL, on_free, NULL);
        } else if (pick < 80) {
            snprintf(name, sizeof name, PARENT "/missing-%ld", i);
            rc = lro_delete(c, name, &co, on_done, NULL, on_free, NULL);
        } else if (pick < 92) {
            rc = lro_await(c, name, &pp, &co, NULL, on_done, NULL, on_free, NULL);
        } else {
            /* A future kept, then abandoned (local cancel) half the time. */
            lro_future *f = NULL;
            rc = lro_wait(c, name, 10, &co, on_done, NULL, on_free, &f);
            if (rc == LRO_OK) {
                if (i & 2) {
                    lro_future_cancel(f);
                }
                lro_future_unref(f);
            }
        }
        if (rc != LRO_OK) {
            fprintf(stderr, "call %ld did not start: %s\n", i, lro_err_name(rc));
            return 1;
        }
        if (i % 100000 == 0 && i > 0) {
            fprintf(stderr, "  %ld calls, %.0f calls/s, rss %ld KiB\n", i, i / (now_s() - t0),
                    rss_kb());
        }
    }
    for (int i = 0; i < win; i++) {
        sem_wait(&window);
    }
    double el = now_s() - t0;
    atomic_store(&stop_sampler, 1);
    pthread_join(st, NULL);
    lro_client_destroy(c);
    close(keep);
    waitpid(srv, NULL, 0);

    /* Least-squares slope of RSS over time and over calls, after warm-up. */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, cx = 0, cxx = 0, cxy = 0;
    int n = 0;
    long minkb = -1, maxkb = -1;
    for (int i = 0; i < nsamples; i++) {
        if (samples[i].t < warmup) {
            continue;
        }
        double x = samples[i].t, y = (double)samples[i].kb, cc = (double)samples[i].calls;
        sx += x, sy += y, sxx += x * x, sxy += x * y;
        cx += cc, cxx += cc * cc, cxy += cc * y;
        if (minkb < 0 || samples[i].kb < minkb) {
            minkb = samples[i].kb;
        }
        if (samples[i].kb > maxkb) {
            maxkb = samples[i].kb;
        }
        n++;
    }
    printf("calls: %ld in %.1f s (%.0f calls/s), callbacks %ld, unexpected results %ld\n",
           (long)atomic_load(&done_calls), el, atomic_load(&done_calls) / el,
           (long)atomic_load(&callbacks), (long)atomic_load(&bad_results));
    printf("results:");
    for (int i = 0; i < 32; i++) {
        if (per_result[i]) {
            printf(" %s=%lld", lro_err_name(-i), per_result[i]);
        }
    }
    printf("\n");
    printf("rss: start %ld KiB, end %ld KiB, after warm-up (%.0f s, %d samples) min %ld max %ld\n",
           nsamples ? samples[0].kb : -1, nsamples ? samples[nsamples - 1].kb : -1, warmup, n,
           minkb, maxkb);
    if (n >= 4) {
        /* Robust against sampling noise: mean RSS of the first and second
         * half of the post-warm-up samples. */
        double h1 = 0, h2 = 0;
        int k = 0, n1 = 0, n2 = 0;
        for (int i = 0; i < nsamples; i++) {
            if (samples[i].t < warmup) {
                continue;
            }
            if (k++ < n / 2) {
                h1 += (double)samples[i].kb, n1++;
            } else {
                h2 += (double)samples[i].kb, n2++;
            }
        }
        printf("mean rss: first half %.0f KiB, second half %.0f KiB (%+.0f KiB)\n", h1 / n1,
               h2 / n2, h2 / n2 - h1 / n1);
    }
    if (n >= 3) {
        double slope_t = (n * sxy - sx * sy) / (n * sxx - sx * sx);
        double slope_c = (n * cxy - cx * sy) / (n * cxx - cx * cx);
        printf("slope: %.2f KiB/min, %.3f KiB per 100k calls\n", slope_t * 60.0,
               slope_c * 100000.0);
    }
    return atomic_load(&bad_results) == 0 && atomic_load(&callbacks) == total ? 0 : 1;
}
