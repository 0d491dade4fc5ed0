/*
 * faults_test.c - fault injection, call records, and stopping with calls in
 * flight, driven by the plain grpc-core client (tclient.c).
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/support/time.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lro/testing.h"
#include "tclient.h"

#define PARENT "projects/demo/locations/global/operations"
#define OP0    PARENT "/op-00000"
#define OP1    PARENT "/op-00001"
#define OP2    PARENT "/op-00002"
typedef Google__Longrunning__Operation Op;

static lro_test_server *start(const char *listen, int64_t record_limit)
{
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.listen = listen;
    o.record_limit = record_limit;
    o.threads = 2;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 8), LRO_OK);
    return s;
}

static void test_status_k_times(grpc_channel *ch, lro_test_server *s)
{
    /* Extra detail given by the embedder: an ErrorInfo. */
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.reason = "BUSY";
    uint8_t eib[64];
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "type.googleapis.com/google.rpc.ErrorInfo";
    any.value.data = eib;
    any.value.len = google__rpc__error_info__pack(&ei, eib);
    Google__Protobuf__Any *dets[1] = {&any};
    Google__Rpc__Status given = GOOGLE__RPC__STATUS__INIT;
    given.n_details = 1;
    given.details = dets;
    uint8_t gb[128];
    size_t gl = google__rpc__status__pack(&given, gb);

    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.methods = LRO_TEST_GET;
    f.name = OP0;
    f.times = 2;
    f.kind = LRO_TEST_FAULT_STATUS;
    f.code = LRO_CODE_UNAVAILABLE;
    f.message = "try later";
    f.details_status = gb;
    f.details_len = gl;
    f.retry_delay_ms = 1500;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);

    uint64_t before = lro_test_server_call_count(s, LRO_TEST_GET, OP0);
    for (int i = 0; i < 2; i++) {
        tc_result r;
        tc_name_call(ch, TC_GET, OP0, &r);
        CHECK_EQ_INT(r.code, LRO_CODE_UNAVAILABLE);
        CHECK(strcmp(r.message, "try later") == 0);
        CHECK(r.details != NULL);
        Google__Rpc__Status *st = google__rpc__status__unpack(NULL, r.details_len, r.details);
        CHECK(st != NULL && st->code == LRO_CODE_UNAVAILABLE && st->n_details == 2);
        CHECK(strcmp(st->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo") == 0);
        CHECK(strcmp(st->details[1]->type_url, "type.googleapis.com/google.rpc.RetryInfo") == 0);
        Google__Rpc__RetryInfo *ri = google__rpc__retry_info__unpack(
            NULL, st->details[1]->value.len, st->details[1]->value.data);
        CHECK(ri != NULL && ri->retry_delay != NULL);
        CHECK_EQ_INT(ri->retry_delay->seconds, 1);
        CHECK_EQ_INT(ri->retry_delay->nanos, 500000000);
        google__rpc__retry_info__free_unpacked(ri, NULL);
        google__rpc__status__free_unpacked(st, NULL);
        tc_result_clear(&r);
    }
    /* Other names and methods are not hit. */
    tc_result r;
    tc_name_call(ch, TC_GET, OP1, &r);
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
    /* Third time: success. */
    tc_name_call(ch, TC_GET, OP0, &r);
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, OP0) - before, 3);
    lro_test_record *rec = lro_test_server_last_record(s, LRO_TEST_GET, OP0);
    CHECK(rec != NULL && lro_test_record_code(rec) == 0);
    lro_test_record_free(rec);

    /* Bad fault arguments. */
    lro_test_fault bad = LRO_TEST_FAULT_INIT;
    bad.code = 0;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &bad), LRO_ERR_INVALID_ARG);
    bad.code = 5;
    bad.kind = (lro_test_fault_kind)42;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &bad), LRO_ERR_INVALID_ARG);
}

static void test_unimplemented(grpc_channel *ch, lro_test_server *s)
{
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.methods = LRO_TEST_WAIT | LRO_TEST_CANCEL | LRO_TEST_DELETE;
    f.times = -1;
    f.code = LRO_CODE_UNIMPLEMENTED;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    for (int i = 0; i < 3; i++) {
        tc_result r;
        tc_name_call(ch, i == 0 ? TC_WAIT : i == 1 ? TC_CANCEL : TC_DELETE, OP2, &r);
        CHECK_EQ_INT(r.code, LRO_CODE_UNIMPLEMENTED);
        tc_result_clear(&r);
    }
    tc_result r;
    tc_name_call(ch, TC_WAIT, OP2, &r);
    CHECK_EQ_INT(r.code, LRO_CODE_UNIMPLEMENTED); /* forever */
    tc_result_clear(&r);
    tc_name_call(ch, TC_GET, OP2, &r);
    CHECK_EQ_INT(r.code, 0); /* Get is not affected */
    tc_result_clear(&r);
    CHECK_EQ_INT(lro_test_server_count(s), 8); /* nothing was deleted */
    lro_test_server_clear_faults(s);
    tc_name_call(ch, TC_CANCEL, OP2, &r);
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
}

static void test_latency(grpc_channel *ch, lro_test_server *s)
{
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.kind = LRO_TEST_FAULT_LATENCY;
    f.latency_ms = 200;
    f.name = OP1;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    int64_t t0 = tc_now_ms();
    tc_result r;
    tc_name_call(ch, TC_GET, OP1, &r);
    CHECK(tc_now_ms() - t0 >= 190); /* lower bound only */
    CHECK_EQ_INT(r.code, 0);
    Op *op = google__longrunning__operation__unpack(NULL, r.body_len, r.body);
    CHECK(op != NULL && strcmp(op->name, OP1) == 0);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);
    lro_test_server_clear_faults(s);
}

static void test_garbage_big_baddetails(grpc_channel *ch, lro_test_server *s)
{
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.kind = LRO_TEST_FAULT_GARBAGE;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    tc_result r;
    tc_name_call(ch, TC_GET, OP0, &r);
    CHECK_EQ_INT(r.code, 0);
    CHECK(r.has_body && r.body_len > 0);
    CHECK(google__longrunning__operation__unpack(NULL, r.body_len, r.body) == NULL);
    tc_result_clear(&r);
    /* Chosen garbage bytes are sent as given. */
    const uint8_t g[] = {0xde, 0xad, 0xbe, 0xef};
    f.garbage = g;
    f.garbage_len = sizeof g;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    tc_name_call(ch, TC_GET, OP0, &r);
    CHECK(r.code == 0 && r.body_len == 4 && memcmp(r.body, g, 4) == 0);
    tc_result_clear(&r);

    lro_test_fault big = LRO_TEST_FAULT_INIT;
    big.kind = LRO_TEST_FAULT_BIG;
    big.big_size = 3u << 20;
    big.methods = LRO_TEST_GET | LRO_TEST_LIST;
    big.times = 2;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &big), LRO_OK);
    tc_name_call(ch, TC_GET, OP0, &r);
    CHECK_EQ_INT(r.code, 0);
    CHECK(r.body_len >= big.big_size - 8 && r.body_len <= big.big_size);
    Op *op = google__longrunning__operation__unpack(NULL, r.body_len, r.body);
    CHECK(op != NULL && strcmp(op->name, OP0) == 0 && op->done);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);
    uint8_t *b;
    size_t n = tc_enc_list(PARENT, "", 0, NULL, &b);
    tc_do(ch, TC_LIST, b, n, NULL, 10000, &r);
    free(b);
    CHECK_EQ_INT(r.code, 0);
    CHECK(r.body_len >= big.big_size - 8);
    Google__Longrunning__ListOperationsResponse *lr =
        google__longrunning__list_operations_response__unpack(NULL, r.body_len, r.body);
    CHECK(lr != NULL && lr->n_operations == 8);
    google__longrunning__list_operations_response__free_unpacked(lr, NULL);
    tc_result_clear(&r);

    lro_test_fault bd = LRO_TEST_FAULT_INIT;
    bd.kind = LRO_TEST_FAULT_BAD_DETAILS;
    bd.code = LRO_CODE_INTERNAL;
    bd.message = "bad details";
    bd.methods = LRO_TEST_DELETE;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &bd), LRO_OK);
    tc_name_call(ch, TC_DELETE, OP0, &r);
    CHECK_EQ_INT(r.code, LRO_CODE_INTERNAL);
    CHECK(strcmp(r.message, "bad details") == 0);
    CHECK(r.details != NULL && r.details_len > 0);
    CHECK(google__rpc__status__unpack(NULL, r.details_len, r.details) == NULL);
    tc_result_clear(&r);
    CHECK_EQ_INT(lro_test_server_count(s), 8);
    lro_test_server_clear_faults(s);
}

static void test_disconnect(const char *listen)
{
    lro_test_server *s = start(listen, 0);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    tc_result r;
    tc_name_call(ch, TC_GET, OP0, &r); /* connected */
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.kind = LRO_TEST_FAULT_DISCONNECT;
    f.methods = LRO_TEST_GET;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    tc_name_call(ch, TC_GET, OP0, &r);
    CHECK_EQ_INT(r.code, LRO_CODE_UNAVAILABLE);
    tc_result_clear(&r);
    /* Same channel, new call: reconnects and succeeds. Once the channel
     * has noticed the drop; wait_for_ready so that a reconnect in progress
     * is waited for rather than failed fast. */
    CHECK(tc_wait_not_ready(ch, 5000));
    tc_set_wait_for_ready(1);
    tc_name_call(ch, TC_GET, OP0, &r);
    tc_set_wait_for_ready(0);
    if (r.code != 0) {
        fprintf(stderr, "after disconnect (%s): %d %s\n", listen ? listen : "tcp", r.code,
                r.message);
    }
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
    lro_test_record *rec = lro_test_server_record(s, 1);
    CHECK(rec != NULL && lro_test_record_code(rec) == LRO_CODE_UNAVAILABLE);
    lro_test_record_free(rec);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

static void test_records(void)
{
    lro_test_server *s = start(NULL, 0);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    const char *hdrs[] = {"x-goog-request-params",
                          "name=" OP0,
                          "authorization",
                          "Bearer t0k3n",
                          "x-user-thing",
                          "hello",
                          NULL};
    uint8_t *b;
    size_t n = tc_enc_name(TC_GET, OP0, &b);
    tc_result r;
    tc_do(ch, TC_GET, b, n, hdrs, 5000, &r);
    free(b);
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
    n = tc_enc_list(PARENT, "done=true", 7, NULL, &b);
    tc_do(ch, TC_LIST, b, n, NULL, -1, &r);
    free(b);
    CHECK_EQ_INT(r.code, 0);
    tc_result_clear(&r);
    tc_name_call(ch, TC_GET, "projects/x/operations/missing", &r);
    tc_result_clear(&r);

    CHECK_EQ_INT(lro_test_server_record_count(s), 3);
    lro_test_record *rec = lro_test_server_record(s, 0);
    CHECK(rec != NULL);
    CHECK_EQ_INT(lro_test_record_method(rec), LRO_TEST_GET);
    CHECK(strcmp(lro_test_record_name(rec), OP0) == 0);
    CHECK(strcmp(lro_test_record_header(rec, "x-goog-request-params"), "name=" OP0) == 0);
    CHECK(strcmp(lro_test_record_header(rec, "authorization"), "Bearer t0k3n") == 0);
    CHECK(strcmp(lro_test_record_header(rec, "x-user-thing"), "hello") == 0);
    CHECK(lro_test_record_header(rec, "x-absent") == NULL);
    int64_t dl = lro_test_record_deadline_ms(rec);
    /* grpc-timeout travels rounded up to its unit and the server converts
     * it against its own clock reading: allow a few ms above the 5000 asked. */
    if (!(dl > 0 && dl <= 5050)) {
        fprintf(stderr, "deadline seen by the server: %lld ms\n", (long long)dl);
    }
    CHECK(dl > 0 && dl <= 5050);
    CHECK_EQ_INT(lro_test_record_code(rec), 0);
    lro_test_record_free(rec);

    rec = lro_test_server_record(s, 1);
    CHECK_EQ_INT(lro_test_record_method(rec), LRO_TEST_LIST);
    CHECK(strcmp(lro_test_record_name(rec), PARENT) == 0);
    CHECK(strcmp(lro_test_record_filter(rec), "done=true") == 0);
    CHECK_EQ_INT(lro_test_record_page_size(rec), 7);
    CHECK(strcmp(lro_test_record_page_token(rec), "") == 0);
    CHECK_EQ_INT(lro_test_record_deadline_ms(rec), -1); /* no deadline */
    lro_test_record_free(rec);

    rec = lro_test_server_last_record(s, 0, NULL);
    CHECK(strcmp(lro_test_record_name(rec), "projects/x/operations/missing") == 0);
    CHECK_EQ_INT(lro_test_record_code(rec), LRO_CODE_NOT_FOUND);
    lro_test_record_free(rec);
    CHECK(lro_test_server_record(s, 3) == NULL);
    CHECK_EQ_INT(lro_test_server_call_count(s, 0, NULL), 3);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, NULL), 2);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_LIST, PARENT), 1);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, PARENT), 0);
    lro_test_server_clear_records(s);
    CHECK_EQ_INT(lro_test_server_record_count(s), 0);
    CHECK_EQ_INT(lro_test_server_call_count(s, 0, NULL), 3); /* counters stay */
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);

    /* record_limit: the oldest are dropped, counters stay exact. */
    s = start(NULL, 3);
    ch = tc_channel(lro_test_server_target(s));
    char name[64];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, PARENT "/op-%05d", i);
        tc_name_call(ch, TC_GET, name, &r);
        tc_result_clear(&r);
    }
    CHECK_EQ_INT(lro_test_server_record_count(s), 3);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, NULL), 5);
    rec = lro_test_server_record(s, 0);
    CHECK(strcmp(lro_test_record_name(rec), PARENT "/op-00002") == 0);
    lro_test_record_free(rec);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);

    /* record_limit < 0: none kept, still counted. */
    s = start(NULL, -1);
    ch = tc_channel(lro_test_server_target(s));
    tc_name_call(ch, TC_GET, OP0, &r);
    tc_result_clear(&r);
    CHECK_EQ_INT(lro_test_server_record_count(s), 0);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, OP0), 1);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

/* Stop with held Waits, latency-held Gets and a delayed completion pending:
 * returns, every client call ends, nothing leaks (ASan / valgrind). */
static void test_stop_in_flight(void)
{
    lro_test_server *s = start(NULL, 0);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    CHECK_EQ_INT(lro_test_server_complete(s, OP2, 60000, NULL, NULL, 0), LRO_OK);
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.kind = LRO_TEST_FAULT_LATENCY;
    f.latency_ms = 60000;
    f.methods = LRO_TEST_GET;
    f.times = -1;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    enum { NW = 40, NG = 5 };
    uint8_t *b;
    size_t n = tc_enc_wait(OP2, 60000, &b);
    for (int i = 0; i < NW; i++) {
        tc_start(ch, cq, TC_WAIT, b, n, NULL, 60000);
    }
    free(b);
    n = tc_enc_name(TC_GET, OP0, &b);
    for (int i = 0; i < NG; i++) {
        tc_start(ch, cq, TC_GET, b, n, NULL, 60000);
    }
    free(b);
    while (lro_test_server_call_count(s, 0, NULL) < NW + NG) {
        usleep(2000);
    }
    usleep(50000); /* let the handlers hold them (not asserted on) */
    lro_test_record *rec = lro_test_server_record(s, 0);
    CHECK(rec != NULL && lro_test_record_code(rec) == -1); /* held, not answered */
    lro_test_record_free(rec);
    int64_t t0 = tc_now_ms();
    lro_test_server_stop(s);
    fprintf(stderr, "stop with %d calls held took %lld ms\n", NW + NG,
            (long long)(tc_now_ms() - t0));
    for (int i = 0; i < NW + NG; i++) {
        tc_call *c = tc_next(cq);
        int code = tc_result_of(c)->code;
        CHECK(code == LRO_CODE_CANCELLED || code == LRO_CODE_UNAVAILABLE);
        tc_call_free(c);
    }
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
}

int main(void)
{
    grpc_init();
    lro_test_server *s = start(NULL, 0);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    test_status_k_times(ch, s);
    test_unimplemented(ch, s);
    test_latency(ch, s);
    test_garbage_big_baddetails(ch, s);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);

    test_disconnect(NULL);
    char listen[128];
    char path[100];
    tc_unix_path(path, sizeof path);
    snprintf(listen, sizeof listen, "unix:%s", path);
    test_disconnect(listen);
    tc_unix_done(path);
    test_records();
    test_stop_in_flight();
    grpc_shutdown();
    printf("faults_test: all passed\n");
    return 0;
}
