/* spans_otel: OpenTelemetry-shaped spans from lro-c's event hook, one JSON
 * object per line (the fields of OTLP's Span: traceId, spanId,
 * parentSpanId, name, kind, startTimeUnixNano, endTimeUnixNano, status,
 * attributes), ready for a collector's file receiver or any log shipper.
 *
 *   spans_otel        # a traced demo workload against an embedded server
 *
 * The span tree of one traced call (the caller passes its traceparent in
 * lro_call_options):
 *   caller's span (parent-id of the traceparent)
 *     "lro GetOperation"            one per call (span id made up here)
 *       "GetOperation attempt 1"    one per attempt: span id = the event's
 *       "GetOperation attempt 2"    span_id, which lro-c sent to the server
 *                                   as the parent of the server's spans
 * An await is one span ("lro Await") and each of its polls a call span
 * under it, with its attempts below. Without a traceparent lro-c reports no
 * trace context; this exporter then starts a trace of its own. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lro/lro.h"
#include "lro/testing.h"

#define PARENT   "projects/demo/operations"
#define MAX_OPEN 64

typedef struct open_span {
    uint64_t call_id; /* 0: free slot */
    char trace_id[33];
    char span_id[17];
    char parent[17];
    char name[96];
    char op[160];
    int64_t start_ns;
    /* The attempt in flight (one at a time per call). */
    char att_span[17];
    int64_t att_start_ns;
    int attempt;
} open_span;

typedef struct exporter {
    pthread_mutex_t mu;
    open_span open[MAX_OPEN];
    uint64_t rng;
    FILE *out;
    int spans;
} exporter;

static void rand_hex(exporter *x, char *out, int digits)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < digits; i++) {
        x->rng ^= x->rng << 13;
        x->rng ^= x->rng >> 7;
        x->rng ^= x->rng << 17;
        out[i] = hex[x->rng & 15];
    }
    out[digits] = '\0';
}

static open_span *slot(exporter *x, uint64_t id)
{
    for (int i = 0; i < MAX_OPEN; i++) {
        if (x->open[i].call_id == id) {
            return &x->open[i];
        }
    }
    return NULL;
}

/* JSON string body: the names lro-c reports are printable, but escape
 * anyway. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        } else if (*p < 0x20) {
            fprintf(out, "\\u%04x", *p);
        } else {
            fputc(*p, out);
        }
    }
    fputc('"', out);
}

static void emit(exporter *x, const char *trace, const char *span, const char *parent,
                 const char *name, int64_t start, int64_t end, int code, const char *method,
                 const char *op, int attempt, int polls)
{
    FILE *o = x->out;
    fprintf(o, "{\"traceId\":\"%s\",\"spanId\":\"%s\",\"parentSpanId\":\"%s\",\"name\":", trace,
            span, parent);
    json_str(o, name);
    /* kind 3 = SPAN_KIND_CLIENT; status code 1 = OK, 2 = ERROR. */
    fprintf(o,
            ",\"kind\":3,\"startTimeUnixNano\":\"%" PRId64 "\",\"endTimeUnixNano\":\"%" PRId64
            "\",\"status\":{\"code\":%d,\"message\":\"%s\"},\"attributes\":{"
            "\"rpc.system\":\"grpc\",\"rpc.service\":\"google.longrunning.Operations\","
            "\"rpc.method\":\"%s\",\"rpc.grpc.status_code\":%d,\"lro.operation.name\":",
            start, end, code == 0 ? 1 : 2, code >= 0 ? lro_code_name(code) : "LOCAL", method, code);
    json_str(o, op);
    if (attempt > 0) { /* an attempt span: its number; a call span: how many */
        fprintf(o, ",\"%s\":%d", polls < 0 ? "lro.attempts" : "lro.attempt", attempt);
    }
    if (polls > 0) { /* an await */
        fprintf(o, ",\"lro.polls\":%d", polls);
    }
    fprintf(o, "}}\n");
    x->spans++;
}

static void on_event(const lro_event *ev, void *data)
{
    exporter *x = data;
    pthread_mutex_lock(&x->mu);
    open_span *s = ev->kind == LRO_EVENT_CALL_STARTED ? slot(x, 0) : slot(x, ev->call_id);
    if (s == NULL) {
        pthread_mutex_unlock(&x->mu); /* not tracked (table full, or a channel event) */
        return;
    }
    switch (ev->kind) {
    case LRO_EVENT_CALL_STARTED: {
        memset(s, 0, sizeof *s);
        s->call_id = ev->call_id;
        open_span *p = ev->parent_id ? slot(x, ev->parent_id) : NULL;
        if (p != NULL) { /* a poll: under its await's span */
            strcpy(s->trace_id, p->trace_id);
            strcpy(s->parent, p->span_id);
        } else if (ev->trace_id != NULL) { /* under the caller's span */
            snprintf(s->trace_id, sizeof s->trace_id, "%s", ev->trace_id);
            snprintf(s->parent, sizeof s->parent, "%s", ev->parent_span_id);
        } else { /* a root of our own */
            rand_hex(x, s->trace_id, 32);
        }
        rand_hex(x, s->span_id, 16);
        snprintf(s->name, sizeof s->name, "lro %s", ev->method);
        snprintf(s->op, sizeof s->op, "%s", ev->name);
        s->start_ns = ev->time_unix_ns;
        break;
    }
    case LRO_EVENT_ATTEMPT_STARTED:
        s->attempt = ev->attempt;
        s->att_start_ns = ev->time_unix_ns;
        if (ev->span_id != NULL) {
            snprintf(s->att_span, sizeof s->att_span, "%s", ev->span_id); /* what the server saw */
        } else {
            rand_hex(x, s->att_span, 16);
        }
        break;
    case LRO_EVENT_ATTEMPT_FINISHED: {
        char name[128];
        snprintf(name, sizeof name, "%s attempt %d", ev->method, ev->attempt);
        emit(x, s->trace_id, s->att_span, s->span_id, name, s->att_start_ns, ev->time_unix_ns,
             ev->code, ev->method, s->op, ev->attempt, 0);
        break;
    }
    case LRO_EVENT_CALL_FINISHED:
        emit(x, s->trace_id, s->span_id, s->parent, s->name, s->start_ns, ev->time_unix_ns,
             ev->code, ev->method, s->op, ev->attempts, ev->polls > 0 ? ev->polls : -1);
        s->call_id = 0;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&x->mu);
}

int main(void)
{
    static exporter x;
    pthread_mutex_init(&x.mu, NULL);
    x.rng = 0x2545F4914F6CDD1DULL;
    x.out = stdout;
    lro_test_server *server = NULL;
    if (lro_test_server_start(NULL, &server) != LRO_OK ||
        lro_test_server_seed(server, PARENT, 4) != LRO_OK) {
        fprintf(stderr, "spans_otel: cannot start the demo server\n");
        return 1;
    }
    lro_test_fault f = LRO_TEST_FAULT_INIT; /* the first Get is retried once */
    f.methods = LRO_TEST_GET;
    f.code = LRO_CODE_UNAVAILABLE;
    f.times = 1;
    lro_test_server_add_fault(server, &f);
    lro_client_options *o = NULL;
    lro_client_options_create(&o);
    lro_client_options_set_target(o, lro_test_server_target(server));
    lro_client_options_set_plaintext(o);
    lro_client_options_set_event_hook(o, on_event, &x);
    lro_client *c = NULL;
    if (lro_client_create(o, &c) != LRO_OK) {
        fprintf(stderr, "spans_otel: %s\n", lro_last_error());
        return 1;
    }
    lro_client_options_destroy(o);

    /* The caller's span, as its tracing library would pass it on. */
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    lro_future *fu = NULL;
    lro_get(c, PARENT "/op-00000", &co, NULL, NULL, NULL, &fu);
    lro_future_wait(fu, -1);
    lro_future_unref(fu);

    lro_test_server_put_pending(server, PARENT "/traced-await", NULL, NULL, 0);
    lro_test_server_complete(server, PARENT "/traced-await", 50, NULL, NULL, 0);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.wait_timeout_ms = 10000;
    lro_await(c, PARENT "/traced-await", &pp, &co, NULL, NULL, NULL, NULL, &fu);
    lro_future_wait(fu, -1);
    lro_future_unref(fu);

    lro_client_destroy(c);
    lro_test_server_stop(server);
    fprintf(stderr, "spans_otel: %d spans\n", x.spans);
    return 0;
}
