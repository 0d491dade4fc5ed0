/*
 * frontend_test.c - the embedded server behaving like a real front end:
 * a stream limit per connection, connection recycling (max age + grace),
 * operations that progress and finish by themselves (lifecycle), and the
 * google.rpc.ErrorInfo every error carries. Driven by the plain grpc-core
 * client (tclient.c), so nothing of lro-c's client is involved.
 *
 * No timing is asserted: waits are bounded (call deadlines, polling loops
 * with a generous cap) and only decide pass/fail by what was observed.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/support/time.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lro/testing.h"
#include "tclient.h"

#define PARENT "projects/demo/locations/global/operations"
typedef Google__Longrunning__Operation Op;

/* Polls cond-like counters: returns 1 once call_count(methods) >= n. */
static int wait_count(lro_test_server *s, unsigned methods, uint64_t n, int64_t cap_ms)
{
    int64_t end = tc_now_ms() + cap_ms;
    while (lro_test_server_call_count(s, methods, NULL) < n) {
        if (tc_now_ms() > end) {
            return 0;
        }
        usleep(2000);
    }
    return 1;
}

/* ---- ErrorInfo on every error ------------------------------------------ */

/* The ErrorInfo (first detail) of a result's trailer; checks domain. */
static Google__Rpc__ErrorInfo *error_info(const tc_result *r, Google__Rpc__Status **st_out)
{
    CHECK(r->details != NULL);
    Google__Rpc__Status *st = google__rpc__status__unpack(NULL, r->details_len, r->details);
    CHECK(st != NULL && st->code == r->code && st->n_details >= 1);
    CHECK_EQ_STR(st->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo");
    Google__Rpc__ErrorInfo *ei = google__rpc__error_info__unpack(NULL, st->details[0]->value.len,
                                                                 st->details[0]->value.data);
    CHECK(ei != NULL);
    CHECK_EQ_STR(ei->domain, "lro-c.testing");
    *st_out = st;
    return ei;
}

static const char *meta(const Google__Rpc__ErrorInfo *ei, const char *key)
{
    for (size_t i = 0; i < ei->n_metadata; i++) {
        if (strcmp(ei->metadata[i]->key, key) == 0) {
            return ei->metadata[i]->value;
        }
    }
    return NULL;
}

/* A call by name that must fail with `code` and an ErrorInfo with `reason`
 * and metadata {"method": method}. */
static void check_name_error(grpc_channel *ch, int m, const char *name, int code,
                             const char *reason, const char *method)
{
    tc_result r;
    tc_name_call(ch, m, name, &r);
    CHECK_EQ_INT(r.code, code);
    Google__Rpc__Status *st;
    Google__Rpc__ErrorInfo *ei = error_info(&r, &st);
    CHECK_EQ_STR(ei->reason, reason);
    CHECK_EQ_STR(meta(ei, "method"), method);
    google__rpc__error_info__free_unpacked(ei, NULL);
    google__rpc__status__free_unpacked(st, NULL);
    tc_result_clear(&r);
}

static void test_error_info_everywhere(void)
{
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(NULL, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 8), LRO_OK);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    Google__Rpc__Status *st;
    Google__Rpc__ErrorInfo *ei;
    tc_result r;

    /* NOT_FOUND */
    check_name_error(ch, TC_GET, PARENT "/nope", LRO_CODE_NOT_FOUND, "OPERATION_NOT_FOUND",
                     "GetOperation");

    /* A bad page token: INVALID_REQUEST + BadRequest naming the field. */
    uint8_t *b;
    size_t n = tc_enc_list(PARENT, "", 5, "bogus", &b);
    tc_do(ch, TC_LIST, b, n, NULL, 5000, &r);
    free(b);
    CHECK_EQ_INT(r.code, LRO_CODE_INVALID_ARGUMENT);
    ei = error_info(&r, &st);
    CHECK_EQ_STR(ei->reason, "INVALID_REQUEST");
    CHECK_EQ_STR(meta(ei, "method"), "ListOperations");
    CHECK_EQ_INT(st->n_details, 2);
    CHECK_EQ_STR(st->details[1]->type_url, "type.googleapis.com/google.rpc.BadRequest");
    Google__Rpc__BadRequest *br = google__rpc__bad_request__unpack(NULL, st->details[1]->value.len,
                                                                   st->details[1]->value.data);
    CHECK(br != NULL && br->n_field_violations == 1);
    CHECK_EQ_STR(br->field_violations[0]->field, "page_token");
    CHECK(strlen(br->field_violations[0]->description) > 0);
    google__rpc__bad_request__free_unpacked(br, NULL);
    google__rpc__error_info__free_unpacked(ei, NULL);
    google__rpc__status__free_unpacked(st, NULL);
    tc_result_clear(&r);

    /* Unknown method. */
    n = tc_enc_name(TC_GET, PARENT "/op-00000", &b);
    tc_do(ch, TC_BOGUS, b, n, NULL, 5000, &r);
    free(b);
    CHECK_EQ_INT(r.code, LRO_CODE_UNIMPLEMENTED);
    ei = error_info(&r, &st);
    CHECK_EQ_STR(ei->reason, "METHOD_NOT_IMPLEMENTED");
    google__rpc__error_info__free_unpacked(ei, NULL);
    google__rpc__status__free_unpacked(st, NULL);
    tc_result_clear(&r);

    /* A fault by name suffix: hits op-00003 only, with its own reason and
     * a RetryInfo after the ErrorInfo. */
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.methods = LRO_TEST_GET;
    f.name_suffix = "op-00003";
    f.times = 2;
    f.code = LRO_CODE_UNAVAILABLE;
    f.retry_delay_ms = 200;
    f.reason = "BACKEND_BUSY";
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    tc_name_call(ch, TC_GET, PARENT "/op-00000", &r);
    CHECK_EQ_INT(r.code, LRO_CODE_OK);
    tc_result_clear(&r);
    for (int i = 0; i < 2; i++) {
        tc_name_call(ch, TC_GET, PARENT "/op-00003", &r);
        CHECK_EQ_INT(r.code, LRO_CODE_UNAVAILABLE);
        ei = error_info(&r, &st);
        CHECK_EQ_STR(ei->reason, "BACKEND_BUSY");
        CHECK_EQ_INT(st->n_details, 2);
        CHECK_EQ_STR(st->details[1]->type_url, "type.googleapis.com/google.rpc.RetryInfo");
        google__rpc__error_info__free_unpacked(ei, NULL);
        google__rpc__status__free_unpacked(st, NULL);
        tc_result_clear(&r);
    }
    tc_name_call(ch, TC_GET, PARENT "/op-00003", &r);
    CHECK_EQ_INT(r.code, LRO_CODE_OK); /* x2 used up */
    tc_result_clear(&r);

    /* A 0.1-sized fault struct (no name_suffix/reason) is still accepted;
     * one smaller than that is not. */
    lro_test_fault old = LRO_TEST_FAULT_INIT;
    old.struct_size = (uint32_t)offsetof(lro_test_fault, name_suffix);
    old.methods = LRO_TEST_DELETE;
    old.code = LRO_CODE_PERMISSION_DENIED;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &old), LRO_OK);
    old.struct_size -= 1;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &old), LRO_ERR_INVALID_ARG);
    check_name_error(ch, TC_DELETE, PARENT "/op-00004", LRO_CODE_PERMISSION_DENIED,
                     "INJECTED_FAULT", "DeleteOperation");

    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

/* ---- max_concurrent_streams -------------------------------------------- */

static void test_stream_limit(void)
{
    enum { N = 4 };
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.max_concurrent_streams = N;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, PARENT "/held", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, PARENT "/other", NULL, NULL, 0), LRO_OK);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);

    /* N Waits held by the server take every stream of the one connection. */
    uint8_t *b;
    size_t n = tc_enc_wait(PARENT "/held", 60000, &b);
    tc_call *waits[N];
    for (int i = 0; i < N; i++) {
        waits[i] = tc_start(ch, cq, TC_WAIT, b, n, NULL, 60000);
    }
    free(b);
    CHECK(wait_count(s, LRO_TEST_WAIT, N, 30000));
    /* One more call on the same connection queues in the client: the server
     * never hears of it while the Waits are held. (A server without the
     * limit would see it at once; give it every chance to arrive.) */
    n = tc_enc_name(TC_GET, PARENT "/other", &b);
    tc_call *get = tc_start(ch, cq, TC_GET, b, n, NULL, 60000);
    free(b);
    usleep(300000);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, NULL), 0);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_WAIT, NULL), N);
    /* Finishing the operation frees the streams; the queued Get goes out. */
    CHECK_EQ_INT(lro_test_server_complete(s, PARENT "/held", 0, NULL, NULL, 0), LRO_OK);
    int seen_get = 0;
    for (int i = 0; i < N + 1; i++) {
        tc_call *c = tc_next(cq);
        CHECK_EQ_INT(tc_result_of(c)->code, LRO_CODE_OK);
        seen_get += c == get;
        tc_call_free(c);
    }
    CHECK_EQ_INT(seen_get, 1);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, NULL), 1);
    (void)waits;
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);

    /* Bad values are refused. */
    o.max_concurrent_streams = -1;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_ERR_INVALID_ARG);
    o.max_concurrent_streams = 0;
    o.max_connection_age_ms = -5;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_ERR_INVALID_ARG);
    o.max_connection_age_ms = 0;
    o.max_connection_age_grace_ms = -1;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_ERR_INVALID_ARG);
}

/* ---- max connection age ------------------------------------------------ */

static void test_connection_age(void)
{
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.max_connection_age_ms = 500;
    o.max_connection_age_grace_ms = 300;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, PARENT "/held", NULL, NULL, 0), LRO_OK);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));

    /* A Wait the server would hold for 20 s is cut when the connection's
     * age and grace have passed: UNAVAILABLE, well before its own end (the
     * call's deadline is 20 s, so DEADLINE_EXCEEDED or OK would mean the
     * connection was never recycled). */
    uint8_t *b;
    size_t n = tc_enc_wait(PARENT "/held", 20000, &b);
    tc_result r;
    tc_do(ch, TC_WAIT, b, n, NULL, 25000, &r);
    CHECK_EQ_INT(r.code, LRO_CODE_UNAVAILABLE);
    fprintf(stderr, "  held Wait ended: %s\n", r.message);
    tc_result_clear(&r);
    /* The channel reconnects: the next call works. */
    tc_set_wait_for_ready(1);
    tc_do(ch, TC_WAIT, b, n, NULL, 25000, &r);
    tc_set_wait_for_ready(0);
    CHECK(r.code == LRO_CODE_UNAVAILABLE); /* held again, cut again */
    tc_result_clear(&r);
    free(b);
    tc_name_call(ch, TC_GET, PARENT "/held", &r);
    CHECK_EQ_INT(r.code, LRO_CODE_OK);
    tc_result_clear(&r);
    CHECK(lro_test_server_call_count(s, LRO_TEST_WAIT, NULL) == 2);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

/* ---- lifecycle ---------------------------------------------------------- */

static Op *get_op(lro_test_server *s, const char *name)
{
    uint8_t *b;
    size_t n;
    if (lro_test_server_get(s, name, &b, &n) != LRO_OK) {
        return NULL;
    }
    Op *op = google__longrunning__operation__unpack(NULL, n, b);
    lro_free(b);
    CHECK(op != NULL);
    return op;
}

static double progress_of(const Op *op)
{
    if (op->metadata == NULL) {
        return -1;
    }
    CHECK_EQ_STR(op->metadata->type_url, "type.googleapis.com/google.protobuf.Struct");
    Google__Protobuf__Struct *st =
        google__protobuf__struct__unpack(NULL, op->metadata->value.len, op->metadata->value.data);
    CHECK(st != NULL && st->n_fields == 1);
    CHECK_EQ_STR(st->fields[0]->key, "progress");
    double v = st->fields[0]->value->number_value;
    google__protobuf__struct__free_unpacked(st, NULL);
    return v;
}

static void test_lifecycle(void)
{
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(NULL, &s), LRO_OK);
    lro_test_lifecycle lc = LRO_TEST_LIFECYCLE_INIT;
    /* Bad values first. */
    CHECK_EQ_INT(lro_test_server_set_lifecycle(NULL, &lc), LRO_ERR_INVALID_ARG);
    lc.complete_after_ms = 0;
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, &lc), LRO_ERR_INVALID_ARG);
    lc.complete_after_ms = 1500;
    lc.progress_every_ms = -1;
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, &lc), LRO_ERR_INVALID_ARG);
    lc.progress_every_ms = 50;
    lc.fail_code = 0;
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, &lc), LRO_ERR_INVALID_ARG);
    lc.fail_code = LRO_CODE_ABORTED;
    lc.struct_size = 4;
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, &lc), LRO_ERR_INVALID_ARG);
    lc.struct_size = sizeof lc;

    /* Seeded: pending are op-00002 and op-00006 (adopted 0 and 1 at the
     * call); then three puts (adopted 2, 3, 4). fail_every 3: adopted 2
     * fails, the others succeed. */
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 8), LRO_OK);
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, &lc), LRO_OK);
    const char *later[3] = {PARENT "/a", PARENT "/b", PARENT "/c"};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(lro_test_server_put_pending(s, later[i], NULL, NULL, 0), LRO_OK);
    }
    /* Done operations are left as they are. */
    Op *op = get_op(s, PARENT "/op-00000");
    CHECK(op->done && op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE);
    google__longrunning__operation__free_unpacked(op, NULL);

    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    const char *names[5] = {PARENT "/op-00002", PARENT "/op-00006", later[0], later[1], later[2]};
    tc_call *calls[5];
    for (int i = 0; i < 5; i++) {
        uint8_t *b;
        size_t n = tc_enc_wait(names[i], 20000, &b);
        calls[i] = tc_start(ch, cq, TC_WAIT, b, n, NULL, 25000);
        free(b);
    }
    /* Meanwhile the metadata moves: 0 <= progress < 100, and it grows. */
    double first = -1, last = -1;
    int64_t end = tc_now_ms() + 20000;
    while (tc_now_ms() < end) {
        op = get_op(s, later[1]);
        CHECK(op != NULL);
        int done = op->done;
        double p = progress_of(op);
        google__longrunning__operation__free_unpacked(op, NULL);
        if (done) {
            break;
        }
        if (p >= 0) {
            CHECK(p < 100);
            CHECK(p >= last);
            if (first < 0) {
                first = p;
            }
            last = p;
        }
        usleep(20000);
    }
    fprintf(stderr, "  progress seen from %g to %g\n", first, last);
    CHECK(first >= 0 && last > first);

    /* The held Waits end with the outcomes, each exactly once. */
    int got[5] = {0};
    for (int i = 0; i < 5; i++) {
        tc_call *c = tc_next(cq);
        int k = 0;
        while (k < 5 && calls[k] != c) {
            k++;
        }
        CHECK(k < 5);
        got[k]++;
        tc_result *r = tc_result_of(c);
        CHECK_EQ_INT(r->code, LRO_CODE_OK);
        Op *w = google__longrunning__operation__unpack(NULL, r->body_len, r->body);
        CHECK(w != NULL && w->done);
        CHECK_EQ_STR(w->name, names[k]);
        if (k == 2) {
            CHECK(w->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR);
            CHECK_EQ_INT(w->error->code, LRO_CODE_ABORTED);
            CHECK(strstr(w->error->message, "simulated failure of") != NULL);
            CHECK_EQ_INT(w->error->n_details, 1);
            Google__Rpc__ErrorInfo *ei = google__rpc__error_info__unpack(
                NULL, w->error->details[0]->value.len, w->error->details[0]->value.data);
            CHECK(ei != NULL);
            CHECK_EQ_STR(ei->reason, "SIMULATED_FAILURE");
            CHECK_EQ_STR(ei->domain, "lro-c.testing");
            google__rpc__error_info__free_unpacked(ei, NULL);
        } else {
            CHECK(w->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE);
            CHECK_EQ_STR(w->response->type_url, "type.googleapis.com/google.protobuf.Struct");
        }
        google__longrunning__operation__free_unpacked(w, NULL);
        tc_call_free(c);
    }
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(got[i], 1);
    }

    /* A cancelled one is left alone; turning the lifecycle off stops the
     * schedule (the operation stays pending; it could never finish). */
    CHECK_EQ_INT(lro_test_server_put_pending(s, PARENT "/cancelled", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, PARENT "/frozen", NULL, NULL, 0), LRO_OK);
    tc_result r;
    tc_name_call(ch, TC_CANCEL, PARENT "/cancelled", &r);
    CHECK_EQ_INT(r.code, LRO_CODE_OK);
    tc_result_clear(&r);
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, NULL), LRO_OK);
    usleep(1800000);
    op = get_op(s, PARENT "/frozen");
    CHECK(!op->done);
    google__longrunning__operation__free_unpacked(op, NULL);
    op = get_op(s, PARENT "/cancelled");
    CHECK(op->done && op->error != NULL && op->error->code == LRO_CODE_CANCELLED);
    google__longrunning__operation__free_unpacked(op, NULL);

    /* Deleting or clearing adopted operations, and stopping with timers
     * armed, leaves nothing behind (ASan/valgrind). */
    CHECK_EQ_INT(lro_test_server_set_lifecycle(s, &lc), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, PARENT "/gone", NULL, NULL, 0), LRO_OK);
    tc_name_call(ch, TC_DELETE, PARENT "/gone", &r);
    CHECK_EQ_INT(r.code, LRO_CODE_OK);
    tc_result_clear(&r);
    for (int i = 0; i < 50; i++) {
        char nm[128];
        snprintf(nm, sizeof nm, PARENT "/bulk-%d", i);
        CHECK_EQ_INT(lro_test_server_put_pending(s, nm, NULL, NULL, 0), LRO_OK);
    }
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

int main(void)
{
    grpc_init();
    RUN(test_error_info_everywhere);
    RUN(test_stream_limit);
    RUN(test_connection_age);
    RUN(test_lifecycle);
    grpc_shutdown();
    printf("frontend_test: all passed\n");
    return 0;
}
