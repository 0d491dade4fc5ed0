/* metrics_prometheus: Prometheus metrics from lro-c's event hook.
 *
 *   metrics_prometheus        # a demo workload against an embedded server,
 *                             # then the metrics in text format on stdout
 *
 * Metrics (Prometheus text exposition format 0.0.4):
 *   lro_call_duration_seconds{method,code}  histogram, per call (retries and
 *                                            backoff included; awaits: "Await")
 *   lro_attempts_total{method,code}         counter, per RPC attempt
 *   lro_retries_total{method,reason}        counter (backoff, retry_info, ...)
 *   lro_awaits_in_flight                    gauge
 *   lro_await_polls_total{method,throttled} counter (throttled: none, budget, cap)
 *   lro_channel_state_changes_total{state}  counter
 * A real service would serve render() on /metrics; the hook part is the
 * same. The hook runs on lro-c's threads, so it only updates counters under
 * a mutex (cheap, never blocks for long). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lro/lro.h"
#include "lro/testing.h"

#define PARENT     "projects/demo/operations"
#define MAX_SERIES 64

/* Upper bounds of the latency buckets, in seconds. */
static const double k_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NB (sizeof k_bounds / sizeof k_bounds[0])

typedef struct series {
    char labels[160]; /* rendered label set, e.g. method="GetOperation",code="OK" */
    unsigned long long buckets[NB];
    unsigned long long count;
    double sum;
} series;

typedef struct metrics {
    pthread_mutex_t mu;
    series hist[MAX_SERIES];
    int nhist;
    series counters[MAX_SERIES]; /* count only; labels include the metric name */
    int ncounters;
    long awaits_in_flight;
} metrics;

static series *find(series *tab, int *n, const char *labels)
{
    for (int i = 0; i < *n; i++) {
        if (strcmp(tab[i].labels, labels) == 0) {
            return &tab[i];
        }
    }
    if (*n == MAX_SERIES) {
        return NULL; /* a real exporter would bound cardinality the same way */
    }
    series *s = &tab[(*n)++];
    memset(s, 0, sizeof *s);
    snprintf(s->labels, sizeof s->labels, "%s", labels);
    return s;
}

static void count(metrics *m, const char *metric_and_labels)
{
    series *s = find(m->counters, &m->ncounters, metric_and_labels);
    if (s != NULL) {
        s->count++;
    }
}

static const char *code_label(int code)
{
    return code < 0 ? "LOCAL" : lro_code_name(code);
}

static void on_event(const lro_event *ev, void *data)
{
    metrics *m = data;
    char key[200];
    pthread_mutex_lock(&m->mu);
    switch (ev->kind) {
    case LRO_EVENT_CALL_STARTED:
        if (strcmp(ev->method, "Await") == 0) {
            m->awaits_in_flight++;
        }
        break;
    case LRO_EVENT_ATTEMPT_FINISHED:
        snprintf(key, sizeof key, "lro_attempts_total{method=\"%s\",code=\"%s\"}", ev->method,
                 code_label(ev->code));
        count(m, key);
        break;
    case LRO_EVENT_RETRY_SCHEDULED:
        snprintf(key, sizeof key, "lro_retries_total{method=\"%s\",reason=\"%s\"}", ev->method,
                 lro_retry_reason_name(ev->reason));
        count(m, key);
        break;
    case LRO_EVENT_AWAIT_POLL:
        snprintf(key, sizeof key, "lro_await_polls_total{method=\"%s\",throttled=\"%s\"}",
                 ev->method,
                 ev->flags & LRO_POLL_THROTTLED_BUDGET ? "budget"
                 : ev->flags & LRO_POLL_THROTTLED_CAP  ? "cap"
                                                       : "none");
        count(m, key);
        break;
    case LRO_EVENT_CALL_FINISHED: {
        if (strcmp(ev->method, "Await") == 0) {
            m->awaits_in_flight--;
        }
        /* An RPC status when there is one; a local outcome otherwise. */
        snprintf(key, sizeof key, "method=\"%s\",code=\"%s\"", ev->method, code_label(ev->code));
        series *s = find(m->hist, &m->nhist, key);
        if (s != NULL) {
            double secs = (double)ev->duration_ns / 1e9;
            for (size_t b = 0; b < NB; b++) {
                s->buckets[b] += secs <= k_bounds[b];
            }
            s->count++;
            s->sum += secs;
        }
        break;
    }
    case LRO_EVENT_CHANNEL_STATE:
        snprintf(key, sizeof key, "lro_channel_state_changes_total{state=\"%s\"}",
                 lro_channel_state_name(ev->channel_state));
        count(m, key);
        break;
    default:
        break; /* kinds added later */
    }
    pthread_mutex_unlock(&m->mu);
}

/* Writes every metric in the text exposition format. */
static void render(metrics *m, FILE *out)
{
    pthread_mutex_lock(&m->mu);
    fprintf(out, "# HELP lro_call_duration_seconds Duration of lro-c calls and awaits.\n"
                 "# TYPE lro_call_duration_seconds histogram\n");
    for (int i = 0; i < m->nhist; i++) {
        series *s = &m->hist[i];
        for (size_t b = 0; b < NB; b++) {
            fprintf(out, "lro_call_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", s->labels,
                    k_bounds[b], s->buckets[b]);
        }
        fprintf(out, "lro_call_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", s->labels,
                s->count);
        fprintf(out, "lro_call_duration_seconds_sum{%s} %.6f\n", s->labels, s->sum);
        fprintf(out, "lro_call_duration_seconds_count{%s} %llu\n", s->labels, s->count);
    }
    const char *families[][2] = {
        {"lro_attempts_total", "RPC attempts by method and status code."},
        {"lro_retries_total", "Retries scheduled, by why the delay is what it is."},
        {"lro_await_polls_total", "Await polls answered, by method and throttling."},
        {"lro_channel_state_changes_total", "Channel connectivity changes."},
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        fprintf(out, "# HELP %s %s\n# TYPE %s counter\n", families[f][0], families[f][1],
                families[f][0]);
        size_t fl = strlen(families[f][0]);
        for (int i = 0; i < m->ncounters; i++) {
            if (strncmp(m->counters[i].labels, families[f][0], fl) == 0 &&
                m->counters[i].labels[fl] == '{') {
                fprintf(out, "%s %llu\n", m->counters[i].labels, m->counters[i].count);
            }
        }
    }
    fprintf(out,
            "# HELP lro_awaits_in_flight Awaits started and not finished.\n"
            "# TYPE lro_awaits_in_flight gauge\nlro_awaits_in_flight %ld\n",
            m->awaits_in_flight);
    pthread_mutex_unlock(&m->mu);
}

int main(void)
{
    static metrics m;
    pthread_mutex_init(&m.mu, NULL);
    lro_test_server *server = NULL;
    if (lro_test_server_start(NULL, &server) != LRO_OK ||
        lro_test_server_seed(server, PARENT, 20) != LRO_OK) {
        fprintf(stderr, "metrics_prometheus: cannot start the demo server\n");
        return 1;
    }
    /* The workload's troubles: 3 UNAVAILABLE answers (retried with
     * backoff), one with a RetryInfo delay, and no WaitOperation. */
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.methods = LRO_TEST_GET;
    f.code = LRO_CODE_UNAVAILABLE;
    f.times = 3;
    lro_test_server_add_fault(server, &f);
    f.times = 1;
    f.retry_delay_ms = 20;
    lro_test_server_add_fault(server, &f);
    f.methods = LRO_TEST_WAIT;
    f.code = LRO_CODE_UNIMPLEMENTED;
    f.times = -1;
    f.retry_delay_ms = -1;
    lro_test_server_add_fault(server, &f);

    lro_client_options *o = NULL;
    lro_client_options_create(&o);
    lro_client_options_set_target(o, lro_test_server_target(server));
    lro_client_options_set_plaintext(o);
    lro_client_options_set_event_hook(o, on_event, &m);
    lro_client *c = NULL;
    if (lro_client_create(o, &c) != LRO_OK) {
        fprintf(stderr, "metrics_prometheus: %s\n", lro_last_error());
        return 1;
    }
    lro_client_options_destroy(o);

    /* 20 Gets (one of a name that does not exist: NOT_FOUND). */
    lro_future *fs[21];
    for (int i = 0; i < 21; i++) {
        char name[64];
        snprintf(name, sizeof name, PARENT "/op-%05d", i);
        if (lro_get(c, name, NULL, NULL, NULL, NULL, &fs[i]) != LRO_OK) {
            fprintf(stderr, "metrics_prometheus: %s\n", lro_last_error());
            return 1;
        }
    }
    for (int i = 0; i < 21; i++) {
        lro_future_wait(fs[i], -1);
        lro_future_unref(fs[i]);
    }
    /* 3 awaits of operations that finish within 100 ms. */
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, PARENT "/pending-%d", i);
        lro_test_server_put_pending(server, name, NULL, NULL, 0);
        lro_test_server_complete(server, name, 50 + 25 * i, NULL, NULL, 0);
        lro_await(c, name, &pp, NULL, NULL, NULL, NULL, NULL, &fs[i]);
    }
    for (int i = 0; i < 3; i++) {
        lro_future_wait(fs[i], -1);
        lro_future_unref(fs[i]);
    }
    lro_client_destroy(c);
    lro_test_server_stop(server);
    render(&m, stdout);
    return 0;
}
