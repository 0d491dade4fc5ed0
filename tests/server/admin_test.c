/*
 * admin_test.c - lro.testing.v1.OperationsAdmin from C, with a plain grpc
 * core client: the switch (off by default, on and off at run time), that
 * each admin method does exactly what its C API twin does (checked through
 * lro/testing.h), that admin calls are neither recorded nor faulted, and
 * that bad requests are INVALID_ARGUMENT. Runs under valgrind and ASan.
 */
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lro/testing.h"
#include "lro/testing/v1/admin.pb-c.h"
#include "tclient.h"

typedef Google__Longrunning__Operation Op;

typedef struct reply {
    int code;
    char message[300];
    uint8_t *body;
    size_t len;
} reply;

/* One unary admin call of raw request bytes. */
static void call_raw(grpc_channel *ch, const char *method, const uint8_t *req, size_t len,
                     reply *out)
{
    memset(out, 0, sizeof *out);
    char path[100];
    snprintf(path, sizeof path, "/lro.testing.v1.OperationsAdmin/%s", method);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice ps = grpc_slice_from_copied_string(path);
    gpr_timespec dl =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(20, GPR_TIMESPAN));
    grpc_call *call = grpc_channel_create_call(ch, NULL, 0, cq, ps, NULL, dl, NULL);
    grpc_slice_unref(ps);
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_metadata_array im, tm;
    grpc_metadata_array_init(&im);
    grpc_metadata_array_init(&tm);
    grpc_byte_buffer *recv = NULL;
    grpc_status_code st;
    grpc_slice details;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &im;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tm;
    ops[5].data.recv_status_on_client.status = &st;
    ops[5].data.recv_status_on_client.status_details = &details;
    CHECK_EQ_INT(grpc_call_start_batch(call, ops, 6, call, NULL), GRPC_CALL_OK);
    grpc_event ev = grpc_completion_queue_pluck(cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    CHECK(ev.type == GRPC_OP_COMPLETE && ev.success);
    out->code = (int)st;
    snprintf(out->message, sizeof out->message, "%.*s", (int)GRPC_SLICE_LENGTH(details),
             (const char *)GRPC_SLICE_START_PTR(details));
    if (recv != NULL) {
        grpc_byte_buffer_reader r;
        CHECK(grpc_byte_buffer_reader_init(&r, recv));
        grpc_slice all = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        out->len = GRPC_SLICE_LENGTH(all);
        out->body = malloc(out->len + 1);
        memcpy(out->body, GRPC_SLICE_START_PTR(all), out->len);
        grpc_slice_unref(all);
        grpc_byte_buffer_destroy(recv);
    }
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(send);
    grpc_metadata_array_destroy(&im);
    grpc_metadata_array_destroy(&tm);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

static void call_msg(grpc_channel *ch, const char *method, const ProtobufCMessage *m, reply *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n + 1);
    protobuf_c_message_pack(m, b);
    call_raw(ch, method, b, n, out);
    free(b);
}

static void expect(const reply *r, int code, const char *needle)
{
    if (r->code != code || (needle != NULL && strstr(r->message, needle) == NULL)) {
        fprintf(stderr, "expected code %d with \"%s\", got %d \"%s\"\n", code, needle ? needle : "",
                r->code, r->message);
        CHECK(0);
    }
}

static Op *stored(lro_test_server *s, const char *name)
{
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK_EQ_INT(lro_test_server_get(s, name, &b, &n), LRO_OK);
    Op *op = google__longrunning__operation__unpack(NULL, n, b);
    CHECK(op != NULL);
    lro_free(b);
    return op;
}

static void put_named(grpc_channel *ch, const char *name, reply *r)
{
    Op op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.name = (char *)name;
    Lro__Testing__V1__PutOperationRequest q = LRO__TESTING__V1__PUT_OPERATION_REQUEST__INIT;
    q.operation = &op;
    call_msg(ch, "PutOperation", &q.base, r);
}

static void test_switch(lro_test_server *s, grpc_channel *ch)
{
    reply r;
    put_named(ch, "ops/a", &r);
    expect(&r, LRO_CODE_UNIMPLEMENTED, "lroctl serve --admin");
    CHECK_EQ_INT(lro_test_server_count(s), 0); /* refused means not done */
    CHECK_EQ_INT(lro_test_server_enable_admin(NULL, 1), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_test_server_enable_admin(s, 1), LRO_OK);
    put_named(ch, "ops/a", &r);
    expect(&r, LRO_CODE_OK, NULL);
    Op *back = google__longrunning__operation__unpack(NULL, r.len, r.body);
    CHECK(back != NULL);
    CHECK_EQ_STR(back->name, "ops/a");
    CHECK(!back->done);
    google__longrunning__operation__free_unpacked(back, NULL);
    free(r.body);
    CHECK_EQ_INT(lro_test_server_count(s), 1);
    CHECK_EQ_INT(lro_test_server_enable_admin(s, 0), LRO_OK);
    put_named(ch, "ops/b", &r);
    expect(&r, LRO_CODE_UNIMPLEMENTED, NULL);
    CHECK_EQ_INT(lro_test_server_count(s), 1);
    CHECK_EQ_INT(lro_test_server_enable_admin(s, 1), LRO_OK);
}

static void test_complete_and_fail(lro_test_server *s, grpc_channel *ch)
{
    reply r;
    put_named(ch, "ops/c", &r);
    free(r.body);
    Google__Protobuf__StringValue sv = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    sv.value = "fine";
    uint8_t svb[16];
    size_t svn = google__protobuf__string_value__pack(&sv, svb);
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "type.googleapis.com/google.protobuf.StringValue";
    any.value.data = svb;
    any.value.len = svn;
    Lro__Testing__V1__CompleteOperationRequest cq =
        LRO__TESTING__V1__COMPLETE_OPERATION_REQUEST__INIT;
    cq.name = "ops/c";
    cq.result_case = LRO__TESTING__V1__COMPLETE_OPERATION_REQUEST__RESULT_RESPONSE;
    cq.response = &any;
    call_msg(ch, "CompleteOperation", &cq.base, &r);
    expect(&r, LRO_CODE_OK, NULL);
    free(r.body);
    Op *op = stored(s, "ops/c");
    CHECK(op->done);
    CHECK_EQ_INT(op->result_case, GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE);
    CHECK_EQ_STR(op->response->type_url, any.type_url);
    CHECK_EQ_INT(op->response->value.len, svn);
    CHECK(memcmp(op->response->value.data, svb, svn) == 0);
    google__longrunning__operation__free_unpacked(op, NULL);
    call_msg(ch, "CompleteOperation", &cq.base, &r);
    expect(&r, LRO_CODE_FAILED_PRECONDITION, "done already");

    /* Fail with an ErrorInfo detail: kept as given. */
    put_named(ch, "ops/f", &r);
    free(r.body);
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.reason = "BROKEN";
    ei.domain = "example.com";
    uint8_t eib[64];
    Google__Protobuf__Any det = GOOGLE__PROTOBUF__ANY__INIT, *dets[1] = {&det};
    det.type_url = "type.googleapis.com/google.rpc.ErrorInfo";
    det.value.data = eib;
    det.value.len = google__rpc__error_info__pack(&ei, eib);
    Google__Rpc__Status err = GOOGLE__RPC__STATUS__INIT;
    err.code = LRO_CODE_DATA_LOSS;
    err.message = "lost";
    err.n_details = 1;
    err.details = dets;
    Lro__Testing__V1__FailOperationRequest fq = LRO__TESTING__V1__FAIL_OPERATION_REQUEST__INIT;
    fq.name = "ops/f";
    fq.error = &err;
    call_msg(ch, "FailOperation", &fq.base, &r);
    expect(&r, LRO_CODE_OK, NULL);
    free(r.body);
    op = stored(s, "ops/f");
    CHECK(op->done && op->error != NULL);
    CHECK_EQ_INT(op->error->code, LRO_CODE_DATA_LOSS);
    CHECK_EQ_STR(op->error->message, "lost");
    CHECK_EQ_INT(op->error->n_details, 1);
    CHECK_EQ_STR(op->error->details[0]->type_url, det.type_url);
    google__longrunning__operation__free_unpacked(op, NULL);

    fq.name = "ops/none";
    call_msg(ch, "FailOperation", &fq.base, &r);
    expect(&r, LRO_CODE_NOT_FOUND, NULL);
    err.code = 0;
    fq.name = "ops/f";
    call_msg(ch, "FailOperation", &fq.base, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "error.code");
}

/* A fault added over gRPC hits Operations calls; admin calls are neither
 * faulted nor recorded. */
static void test_faults_and_calls(lro_test_server *s, grpc_channel *ch)
{
    reply r;
    lro_test_server_clear_records(s);
    uint64_t before = lro_test_server_call_count(s, 0, NULL);
    Lro__Testing__V1__Method m = LRO__TESTING__V1__METHOD__GET_OPERATION;
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = LRO_CODE_ABORTED;
    st.message = "injected";
    Lro__Testing__V1__Fault f = LRO__TESTING__V1__FAULT__INIT;
    f.n_methods = 1;
    f.methods = &m;
    f.name = "ops/a";
    f.times = 2;
    f.status = &st;
    Lro__Testing__V1__AddFaultRequest aq = LRO__TESTING__V1__ADD_FAULT_REQUEST__INIT;
    aq.fault = &f;
    call_msg(ch, "AddFault", &aq.base, &r);
    expect(&r, LRO_CODE_OK, NULL);
    CHECK_EQ_INT(r.len, 0); /* google.protobuf.Empty */
    free(r.body);
    tc_result tr;
    for (int i = 0; i < 3; i++) {
        tc_name_call(ch, TC_GET, "ops/a", &tr);
        CHECK_EQ_INT(tr.code, i < 2 ? LRO_CODE_ABORTED : LRO_CODE_OK);
        tc_result_clear(&tr);
    }
    /* The admin calls above and below do not count. */
    CHECK_EQ_INT(lro_test_server_call_count(s, 0, NULL) - before, 3);

    Lro__Testing__V1__ListCallsRequest lq = LRO__TESTING__V1__LIST_CALLS_REQUEST__INIT;
    lq.name = "ops/a";
    call_msg(ch, "ListCalls", &lq.base, &r);
    expect(&r, LRO_CODE_OK, NULL);
    Lro__Testing__V1__ListCallsResponse *lr =
        lro__testing__v1__list_calls_response__unpack(NULL, r.len, r.body);
    CHECK(lr != NULL);
    CHECK_EQ_INT(lr->n_calls, 3);
    CHECK_EQ_INT(lr->total, 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(lr->calls[i]->method, LRO__TESTING__V1__METHOD__GET_OPERATION);
        CHECK_EQ_STR(lr->calls[i]->name, "ops/a");
        CHECK_EQ_INT(lr->calls[i]->code, i < 2 ? LRO_CODE_ABORTED : LRO_CODE_OK);
        int ua = 0;
        for (size_t k = 0; k < lr->calls[i]->n_headers; k++) {
            const Lro__Testing__V1__Header *h = lr->calls[i]->headers[k];
            ua |= strcmp(h->key, "user-agent") == 0 && strstr(h->value, "grpc-c/") != NULL;
        }
        CHECK(ua); /* grpc core's own user agent, as text */
        /* tclient's name calls have a 10 s deadline (grpc-timeout rounds up). */
        const Google__Protobuf__Duration *dl = lr->calls[i]->deadline;
        CHECK(dl != NULL && dl->seconds >= 5 && dl->seconds * 1000 + dl->nanos / 1000000 <= 10250);
    }
    lro__testing__v1__list_calls_response__free_unpacked(lr, NULL);
    free(r.body);

    Lro__Testing__V1__ClearCallsRequest cc = LRO__TESTING__V1__CLEAR_CALLS_REQUEST__INIT;
    call_msg(ch, "ClearCalls", &cc.base, &r);
    expect(&r, LRO_CODE_OK, NULL);
    free(r.body);
    CHECK_EQ_INT(lro_test_server_record_count(s), 0);

    /* ClearFaults: a forever fault stops applying. */
    f.times = -1;
    call_msg(ch, "AddFault", &aq.base, &r);
    free(r.body);
    tc_name_call(ch, TC_GET, "ops/a", &tr);
    CHECK_EQ_INT(tr.code, LRO_CODE_ABORTED);
    tc_result_clear(&tr);
    Lro__Testing__V1__ClearFaultsRequest cf = LRO__TESTING__V1__CLEAR_FAULTS_REQUEST__INIT;
    call_msg(ch, "ClearFaults", &cf.base, &r);
    expect(&r, LRO_CODE_OK, NULL);
    free(r.body);
    tc_name_call(ch, TC_GET, "ops/a", &tr);
    CHECK_EQ_INT(tr.code, LRO_CODE_OK);
    tc_result_clear(&tr);
}

static void test_bad_input(lro_test_server *s, grpc_channel *ch)
{
    reply r;
    static const char *const methods[] = {"PutOperation", "CompleteOperation", "FailOperation",
                                          "SetMetadata",  "AddFault",          "ListCalls"};
    static const uint8_t junk[] = {0x0a, 0x05, 'x'};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        call_raw(ch, methods[i], junk, sizeof junk, &r);
        expect(&r, LRO_CODE_INVALID_ARGUMENT, "not decodable");
    }
    /* Names: too long, control characters. */
    char *big = malloc(LRO_MAX_NAME_LEN + 2);
    memset(big, 'n', LRO_MAX_NAME_LEN + 1);
    big[LRO_MAX_NAME_LEN + 1] = '\0';
    put_named(ch, big, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "operation.name");
    Lro__Testing__V1__SetMetadataRequest mq = LRO__TESTING__V1__SET_METADATA_REQUEST__INIT;
    mq.name = "bad\x01name";
    call_msg(ch, "SetMetadata", &mq.base, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "name");
    mq.name = "ops/nowhere";
    call_msg(ch, "SetMetadata", &mq.base, &r);
    expect(&r, LRO_CODE_NOT_FOUND, NULL);
    free(big);
    /* Fault fields that do not fit the kind are named. */
    Lro__Testing__V1__Fault f = LRO__TESTING__V1__FAULT__INIT;
    Lro__Testing__V1__AddFaultRequest aq = LRO__TESTING__V1__ADD_FAULT_REQUEST__INIT;
    aq.fault = &f;
    f.kind = LRO__TESTING__V1__FAULT_KIND__GARBAGE;
    f.big_size = 10;
    call_msg(ch, "AddFault", &aq.base, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "fault.big_size only applies");
    f.kind = LRO__TESTING__V1__FAULT_KIND__BIG;
    f.big_size = (uint64_t)1 << 40;
    call_msg(ch, "AddFault", &aq.base, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "fault.big_size must be");
    f.big_size = 0;
    f.kind = LRO__TESTING__V1__FAULT_KIND__STATUS;
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 99;
    f.status = &st;
    call_msg(ch, "AddFault", &aq.base, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "fault.status.code");
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    st.code = 14;
    d.nanos = -5;
    f.retry_delay = &d;
    call_msg(ch, "AddFault", &aq.base, &r);
    expect(&r, LRO_CODE_INVALID_ARGUMENT, "fault.retry_delay");
    /* None of it was added: a Get is answered for real. */
    tc_result tr;
    tc_name_call(ch, TC_GET, "ops/a", &tr);
    CHECK_EQ_INT(tr.code, LRO_CODE_OK);
    tc_result_clear(&tr);
    (void)s;
}

int main(void)
{
    grpc_init();
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(NULL, &s), LRO_OK);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    test_switch(s, ch);
    test_complete_and_fail(s, ch);
    test_faults_and_calls(s, ch);
    test_bad_input(s, ch);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
    grpc_shutdown();
    printf("admin_test: all passed\n");
    return 0;
}
