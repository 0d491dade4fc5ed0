/*
 * admin.c - lro.testing.v1.OperationsAdmin (proto/lro/testing/v1/admin.proto):
 * the embedded server's control API over gRPC, so a test written in any
 * language can steer `lroctl serve --admin` the way a C test steers the
 * server through lro/testing.h.
 *
 * Each method validates its request, then calls the public lro_test_server_*
 * function that does the same thing in C: the admin API can never do more
 * (or differently) than the C API it mirrors. The methods are registered on
 * every server, next to google.longrunning.Operations, and answer
 * UNIMPLEMENTED until lro_test_server_enable_admin() turns them on: grpc
 * core only takes registrations before the server starts, and a switch lets
 * the C API turn admin on after start.
 *
 * Admin calls are not recorded, counted or faulted: ListCalls shows what the
 * code under test sent, not what the test harness did.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lro/testing/v1/admin.pb-c.h"
#include "server_int.h"

typedef Google__Protobuf__Duration Duration;

/* Declaration order of admin.proto; index = c->method - M_ADMIN_BASE. */
enum {
    A_PUT,
    A_COMPLETE,
    A_FAIL,
    A_SET_METADATA,
    A_ADD_FAULT,
    A_CLEAR_FAULTS,
    A_LIST_CALLS,
    A_CLEAR_CALLS
};

static const char *const admin_paths[SRV_ADMIN_METHODS] = {
    "/lro.testing.v1.OperationsAdmin/PutOperation",
    "/lro.testing.v1.OperationsAdmin/CompleteOperation",
    "/lro.testing.v1.OperationsAdmin/FailOperation",
    "/lro.testing.v1.OperationsAdmin/SetMetadata",
    "/lro.testing.v1.OperationsAdmin/AddFault",
    "/lro.testing.v1.OperationsAdmin/ClearFaults",
    "/lro.testing.v1.OperationsAdmin/ListCalls",
    "/lro.testing.v1.OperationsAdmin/ClearCalls",
};

static const ProtobufCMessageDescriptor *const admin_req[SRV_ADMIN_METHODS] = {
    &lro__testing__v1__put_operation_request__descriptor,
    &lro__testing__v1__complete_operation_request__descriptor,
    &lro__testing__v1__fail_operation_request__descriptor,
    &lro__testing__v1__set_metadata_request__descriptor,
    &lro__testing__v1__add_fault_request__descriptor,
    &lro__testing__v1__clear_faults_request__descriptor,
    &lro__testing__v1__list_calls_request__descriptor,
    &lro__testing__v1__clear_calls_request__descriptor,
};

#define MS_HOUR (3600LL * 1000)
#define MS_DAY  (24 * MS_HOUR)
#define MAX_BIG (64u << 20)

void admin_register(lro_test_server *s)
{
    for (int i = 0; i < SRV_ADMIN_METHODS; i++) {
        s->admin_rm[i] = grpc_server_register_method(s->server, admin_paths[i], NULL,
                                                     GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
}

int lro_test_server_enable_admin(lro_test_server *s, int enabled)
{
    if (s == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    atomic_store(&s->admin_on, enabled != 0);
    return LRO_OK;
}

/* ---- answering ---- */

static void bad(srv_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(srv_call *c, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_answer_error(c, LRO_CODE_INVALID_ARGUMENT, msg);
}

static void answer_msg(srv_call *c, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    grpc_slice sl = grpc_slice_malloc(n);
    protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(sl));
    srv_answer_slice(c, LRO_CODE_OK, "", &sl, NULL, 0);
}

/* An lro_test_server_* result other than LRO_OK as a status. */
static void answer_rc(srv_call *c, int rc, const char *what)
{
    char msg[200];
    switch (rc) {
    case LRO_ERR_INVALID_ARG:
        srv_answer_error(c, LRO_CODE_NOT_FOUND, "operation not found");
        break;
    case LRO_ERR_STATE:
        srv_answer_error(c, LRO_CODE_FAILED_PRECONDITION,
                         "the operation is done already (put it again to reset it)");
        break;
    case LRO_ERR_NOMEM:
        srv_answer_error(c, LRO_CODE_RESOURCE_EXHAUSTED, "out of memory");
        break;
    default:
        snprintf(msg, sizeof msg, "%s: %s", what, lro_strerror(rc));
        srv_answer_error(c, LRO_CODE_INTERNAL, msg);
        break;
    }
}

/* The outcome of an lro_test_server_* change: rc as a status, or on LRO_OK
 * the operation as stored after the change. */
static void answer_changed(srv_call *c, int rc, const char *what, const char *name)
{
    if (rc != LRO_OK) {
        answer_rc(c, rc, what);
        return;
    }
    uint8_t *b = NULL;
    size_t n = 0;
    /* Deleted in between by a client of the Operations service: say so. */
    if (lro_test_server_get(c->s, name, &b, &n) != LRO_OK) {
        srv_answer_error(c, LRO_CODE_NOT_FOUND, "operation not found (deleted meanwhile)");
        return;
    }
    srv_answer(c, LRO_CODE_OK, "", b, n, NULL, 0);
    lro_free(b);
}

/* ---- validation ---- */

static int check_name(srv_call *c, const char *name, const char *field)
{
    if (lro_check_name(name) == LRO_OK) {
        return 0;
    }
    bad(c, "%s must be non-empty UTF-8 without control characters, at most %d bytes", field,
        LRO_MAX_NAME_LEN);
    return -1;
}

/* A non-negative Duration of at most max_ms, in ms (sub-ms parts round down). */
static int check_duration(srv_call *c, const Duration *d, int64_t max_ms, const char *field,
                          int64_t *ms)
{
    if (d == NULL) {
        *ms = 0;
        return 0;
    }
    if (d->seconds < 0 || d->nanos < 0 || d->nanos > 999999999 || d->seconds > max_ms / 1000 ||
        d->seconds * 1000 + d->nanos / 1000000 > max_ms) {
        bad(c, "%s must be between 0 and %llds (seconds >= 0, 0 <= nanos < 1e9)", field,
            (long long)(max_ms / 1000));
        return -1;
    }
    *ms = d->seconds * 1000 + d->nanos / 1000000;
    return 0;
}

static int check_error_status(srv_call *c, const Google__Rpc__Status *st, const char *field)
{
    if (st == NULL) {
        bad(c, "%s is required", field);
        return -1;
    }
    if (st->code <= 0 || st->code > 16) {
        bad(c, "%s.code must be a gRPC error code 1..16, not %d", field, (int)st->code);
        return -1;
    }
    return 0;
}

static int check_any(srv_call *c, const Google__Protobuf__Any *a, const char *field)
{
    if (a != NULL && (a->type_url == NULL || a->type_url[0] == '\0')) {
        bad(c, "%s.type_url must not be empty", field);
        return -1;
    }
    return 0;
}

/* Method list -> LRO_TEST_* mask (0 = all). */
static int methods_mask(srv_call *c, size_t n, const Lro__Testing__V1__Method *m, const char *field,
                        unsigned *mask)
{
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        int v = (int)m[i];
        if (v < 1 || v > SRV_METHODS) {
            bad(c,
                "%s[%zu]: %d is not a method (LIST_OPERATIONS=1 .. WAIT_OPERATION=5; "
                "leave the list empty for all)",
                field, i, v);
            return -1;
        }
        *mask |= 1u << (v - 1); /* LIST_OPERATIONS=1 <-> LRO_TEST_LIST=0x01, ... */
    }
    return 0;
}

/* ---- the methods ---- */

static void do_put(srv_call *c, const void *req)
{
    const Lro__Testing__V1__PutOperationRequest *q = req;
    if (q->operation == NULL) {
        bad(c, "operation is required");
        return;
    }
    if (check_name(c, q->operation->name, "operation.name") < 0) {
        return;
    }
    if (q->operation->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR &&
        check_error_status(c, q->operation->error, "operation.error") < 0) {
        return;
    }
    uint8_t *b;
    size_t n;
    if (srv_pack(&q->operation->base, &b, &n) != LRO_OK) {
        answer_rc(c, LRO_ERR_NOMEM, "put");
        return;
    }
    int rc = lro_test_server_put(c->s, b, n);
    lro_free(b);
    if (rc != LRO_OK && rc != LRO_ERR_NOMEM) {
        bad(c, "operation rejected: %s", lro_strerror(rc));
        return;
    }
    answer_changed(c, rc, "put", q->operation->name);
}

/* Unknown names are NOT_FOUND before anything else is tried. */
static int check_exists(srv_call *c, const char *name)
{
    uint8_t *b = NULL;
    size_t n = 0;
    if (lro_test_server_get(c->s, name, &b, &n) != LRO_OK) {
        srv_answer_error(c, LRO_CODE_NOT_FOUND, "operation not found");
        return -1;
    }
    lro_free(b);
    return 0;
}

static void finish_with_error(srv_call *c, const char *name, int64_t delay,
                              const Google__Rpc__Status *err)
{
    uint8_t *b;
    size_t n;
    if (srv_pack(&err->base, &b, &n) != LRO_OK) {
        answer_rc(c, LRO_ERR_NOMEM, "fail");
        return;
    }
    int rc = lro_test_server_fail(c->s, name, delay, err->code, err->message, b, n);
    lro_free(b);
    answer_changed(c, rc, "fail", name);
}

static void do_complete(srv_call *c, const void *req)
{
    const Lro__Testing__V1__CompleteOperationRequest *q = req;
    int64_t delay;
    if (check_name(c, q->name, "name") < 0 ||
        check_duration(c, q->delay, MS_DAY, "delay", &delay) < 0) {
        return;
    }
    int is_resp = q->result_case == LRO__TESTING__V1__COMPLETE_OPERATION_REQUEST__RESULT_RESPONSE;
    int is_err = q->result_case == LRO__TESTING__V1__COMPLETE_OPERATION_REQUEST__RESULT_ERROR;
    if ((is_resp && check_any(c, q->response, "response") < 0) ||
        (is_err && check_error_status(c, q->error, "error") < 0) || check_exists(c, q->name) < 0) {
        return;
    }
    if (is_err) {
        finish_with_error(c, q->name, delay, q->error);
        return;
    }
    const Google__Protobuf__Any *a = is_resp ? q->response : NULL;
    int rc =
        lro_test_server_complete(c->s, q->name, delay, a != NULL ? a->type_url : NULL,
                                 a != NULL ? a->value.data : NULL, a != NULL ? a->value.len : 0);
    answer_changed(c, rc, "complete", q->name);
}

static void do_fail(srv_call *c, const void *req)
{
    const Lro__Testing__V1__FailOperationRequest *q = req;
    int64_t delay;
    if (check_name(c, q->name, "name") < 0 || check_error_status(c, q->error, "error") < 0 ||
        check_duration(c, q->delay, MS_DAY, "delay", &delay) < 0 || check_exists(c, q->name) < 0) {
        return;
    }
    finish_with_error(c, q->name, delay, q->error);
}

static void do_set_metadata(srv_call *c, const void *req)
{
    const Lro__Testing__V1__SetMetadataRequest *q = req;
    if (check_name(c, q->name, "name") < 0 || check_any(c, q->metadata, "metadata") < 0) {
        return;
    }
    const Google__Protobuf__Any *a = q->metadata;
    int rc = lro_test_server_set_metadata(c->s, q->name, a != NULL ? a->type_url : NULL,
                                          a != NULL ? a->value.data : NULL,
                                          a != NULL ? a->value.len : 0);
    answer_changed(c, rc, "set metadata", q->name);
}

static void do_add_fault(srv_call *c, const void *req)
{
    const Lro__Testing__V1__AddFaultRequest *q = req;
    const Lro__Testing__V1__Fault *in = q->fault;
    if (in == NULL) {
        bad(c, "fault is required");
        return;
    }
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    if (methods_mask(c, in->n_methods, in->methods, "fault.methods", &f.methods) < 0) {
        return;
    }
    if (in->name[0] != '\0') {
        if (check_name(c, in->name, "fault.name") < 0) {
            return;
        }
        f.name = in->name;
    }
    if (in->name_suffix[0] != '\0') {
        f.name_suffix = in->name_suffix;
    }
    f.times = in->times == 0 ? 1 : in->times < 0 ? -1 : in->times;
    int kind = (int)in->kind;
    if (kind < LRO_TEST_FAULT_STATUS || kind > LRO_TEST_FAULT_BAD_DETAILS) {
        bad(c, "fault.kind: %d is not a fault kind (STATUS=0 .. BAD_DETAILS=5)", kind);
        return;
    }
    f.kind = (lro_test_fault_kind)kind;
    int uses_status = kind == LRO_TEST_FAULT_STATUS || kind == LRO_TEST_FAULT_BAD_DETAILS;
    /* A field the kind ignores is a mistake in the test: say so rather than
     * inject something else than the test meant. */
    if (!uses_status && in->status != NULL) {
        bad(c, "fault.status only applies to kinds STATUS and BAD_DETAILS");
        return;
    }
    if (kind != LRO_TEST_FAULT_STATUS && in->retry_delay != NULL) {
        bad(c, "fault.retry_delay only applies to kind STATUS");
        return;
    }
    if (kind != LRO_TEST_FAULT_LATENCY && in->latency != NULL) {
        bad(c, "fault.latency only applies to kind LATENCY");
        return;
    }
    if (kind != LRO_TEST_FAULT_GARBAGE && in->garbage.len > 0) {
        bad(c, "fault.garbage only applies to kind GARBAGE");
        return;
    }
    if (kind != LRO_TEST_FAULT_BIG && in->big_size != 0) {
        bad(c, "fault.big_size only applies to kind BIG");
        return;
    }
    uint8_t *details = NULL;
    size_t details_len = 0;
    switch (kind) {
    case LRO_TEST_FAULT_STATUS:
    case LRO_TEST_FAULT_BAD_DETAILS:
        if (check_error_status(c, in->status, "fault.status") < 0) {
            return;
        }
        if (kind == LRO_TEST_FAULT_BAD_DETAILS && in->status->n_details > 0) {
            bad(c, "fault.status.details: a BAD_DETAILS fault sends undecodable details "
                   "instead; use kind STATUS to send these");
            return;
        }
        f.code = in->status->code;
        f.message = in->status->message;
        if (kind == LRO_TEST_FAULT_STATUS && in->status->n_details > 0) {
            if (srv_pack(&in->status->base, &details, &details_len) != LRO_OK) {
                answer_rc(c, LRO_ERR_NOMEM, "add fault");
                return;
            }
            f.details_status = details;
            f.details_len = details_len;
        }
        if (in->retry_delay != NULL && check_duration(c, in->retry_delay, MS_DAY,
                                                      "fault.retry_delay", &f.retry_delay_ms) < 0) {
            lro_free(details);
            return;
        }
        break;
    case LRO_TEST_FAULT_LATENCY:
        if (in->latency == NULL) {
            bad(c, "fault.latency is required for kind LATENCY");
            return;
        }
        if (check_duration(c, in->latency, MS_HOUR, "fault.latency", &f.latency_ms) < 0) {
            return;
        }
        break;
    case LRO_TEST_FAULT_GARBAGE:
        if (in->garbage.len > 0) {
            f.garbage = in->garbage.data;
            f.garbage_len = in->garbage.len;
        }
        break;
    case LRO_TEST_FAULT_BIG:
        if (in->big_size == 0 || in->big_size > MAX_BIG) {
            bad(c, "fault.big_size must be 1 .. %u bytes for kind BIG", MAX_BIG);
            return;
        }
        f.big_size = (size_t)in->big_size;
        break;
    default: /* DISCONNECT: nothing to set */
        break;
    }
    int rc = lro_test_server_add_fault(c->s, &f);
    lro_free(details);
    if (rc == LRO_ERR_INVALID_ARG) {
        bad(c, "fault rejected by the server (see lro_test_server_add_fault)");
    } else if (rc != LRO_OK) {
        answer_rc(c, rc, "add fault");
    } else {
        srv_answer_empty(c);
    }
}

static Duration *ms_duration(Duration *d, int64_t ms)
{
    if (ms < 0) {
        return NULL;
    }
    google__protobuf__duration__init(d);
    d->seconds = ms / 1000;
    d->nanos = (int32_t)(ms % 1000) * 1000000;
    return d;
}

/* One record as a Call; the strings point into the record. */
typedef struct call_out {
    Lro__Testing__V1__Call call;
    Duration deadline, wait_timeout;
    lro_test_record *rec;
    Lro__Testing__V1__Header *hdrs;
    Lro__Testing__V1__Header **hptrs;
} call_out;

/* A text header with a printable ASCII value goes out as a string; -bin
 * values (grpc hands them over decoded) and anything odd as bytes, which a
 * proto3 string could not carry (it must be UTF-8). */
static int printable_header(const srv_header *h)
{
    size_t kl = strlen(h->key);
    if (kl > 4 && strcmp(h->key + kl - 4, "-bin") == 0) {
        return 0;
    }
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned char ch = (unsigned char)h->value[i];
        if (ch < 0x20 || ch >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int fill_call(call_out *o, lro_test_record *r)
{
    lro__testing__v1__call__init(&o->call);
    o->rec = r;
    o->call.method = r->method != 0 ? (Lro__Testing__V1__Method)(__builtin_ctz(r->method) + 1)
                                    : LRO__TESTING__V1__METHOD__METHOD_UNSPECIFIED;
    o->call.name = r->name;
    o->call.filter = r->filter;
    o->call.page_token = r->page_token;
    o->call.page_size = r->page_size;
    o->call.return_partial_success = r->partial != 0;
    o->call.code = r->code;
    o->call.deadline = ms_duration(&o->deadline, r->deadline_ms);
    o->call.wait_timeout = ms_duration(&o->wait_timeout, r->wait_timeout_ms);
    if (r->n_headers > 0) {
        o->hdrs = lro_calloc(r->n_headers, sizeof *o->hdrs);
        o->hptrs = lro_calloc(r->n_headers, sizeof *o->hptrs);
        if (o->hdrs == NULL || o->hptrs == NULL) {
            return LRO_ERR_NOMEM;
        }
        for (size_t i = 0; i < r->n_headers; i++) {
            lro__testing__v1__header__init(&o->hdrs[i]);
            o->hdrs[i].key = r->headers[i].key;
            if (!printable_header(&r->headers[i])) {
                o->hdrs[i].binary_value.data = (uint8_t *)r->headers[i].value;
                o->hdrs[i].binary_value.len = r->headers[i].value_len;
            } else {
                o->hdrs[i].value = r->headers[i].value;
            }
            o->hptrs[i] = &o->hdrs[i];
        }
        o->call.headers = o->hptrs;
        o->call.n_headers = r->n_headers;
    }
    return LRO_OK;
}

static void do_list_calls(srv_call *c, const void *req)
{
    const Lro__Testing__V1__ListCallsRequest *q = req;
    unsigned mask;
    if (methods_mask(c, q->n_methods, q->methods, "methods", &mask) < 0) {
        return;
    }
    if (q->limit < 0) {
        bad(c, "limit must not be negative (0 = every kept call)");
        return;
    }
    lro_test_server *s = c->s;
    const char *name = q->name[0] != '\0' ? q->name : NULL;
    /* Copies of the matching records, newest last; the set may change while
     * we read it (records are added by other threads), which is fine for a
     * snapshot. */
    size_t n = lro_test_server_record_count(s), k = 0;
    lro_test_record **hits = lro_calloc(n + 1, sizeof *hits);
    if (hits == NULL) {
        answer_rc(c, LRO_ERR_NOMEM, "list calls");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        lro_test_record *r = lro_test_server_record(s, i);
        if (r == NULL) {
            break;
        }
        if ((mask != 0 && (r->method & mask) == 0) ||
            (name != NULL && strcmp(r->name, name) != 0)) {
            lro_test_record_free(r);
            continue;
        }
        hits[k++] = r;
    }
    size_t from = q->limit > 0 && (size_t)q->limit < k ? k - (size_t)q->limit : 0;
    call_out *outs = lro_calloc(k - from + 1, sizeof *outs);
    Lro__Testing__V1__Call **ptrs = lro_calloc(k - from + 1, sizeof *ptrs);
    int rc = outs != NULL && ptrs != NULL ? LRO_OK : LRO_ERR_NOMEM;
    for (size_t i = from; rc == LRO_OK && i < k; i++) {
        rc = fill_call(&outs[i - from], hits[i]);
        ptrs[i - from] = &outs[i - from].call;
    }
    if (rc == LRO_OK) {
        Lro__Testing__V1__ListCallsResponse resp = LRO__TESTING__V1__LIST_CALLS_RESPONSE__INIT;
        resp.calls = ptrs;
        resp.n_calls = k - from;
        resp.total = lro_test_server_call_count(s, mask, name);
        answer_msg(c, &resp.base);
    } else {
        answer_rc(c, rc, "list calls");
    }
    for (size_t i = 0; outs != NULL && i < k - from; i++) {
        lro_free(outs[i].hdrs);
        lro_free(outs[i].hptrs);
    }
    for (size_t i = 0; i < k; i++) {
        lro_test_record_free(hits[i]);
    }
    lro_free(outs);
    lro_free(ptrs);
    lro_free(hits);
}

static void do_clear_faults(srv_call *c, const void *req)
{
    (void)req; /* ClearFaultsRequest has no fields */
    lro_test_server_clear_faults(c->s);
    srv_answer_empty(c);
}

static void do_clear_calls(srv_call *c, const void *req)
{
    (void)req; /* ClearCallsRequest has no fields */
    lro_test_server_clear_records(c->s);
    srv_answer_empty(c);
}

/* Each method's body; it gets the request decoded as admin_req[m]. */
static void (*const admin_do[SRV_ADMIN_METHODS])(srv_call *c, const void *req) = {
    [A_PUT] = do_put,
    [A_COMPLETE] = do_complete,
    [A_FAIL] = do_fail,
    [A_SET_METADATA] = do_set_metadata,
    [A_ADD_FAULT] = do_add_fault,
    [A_CLEAR_FAULTS] = do_clear_faults,
    [A_LIST_CALLS] = do_list_calls,
    [A_CLEAR_CALLS] = do_clear_calls,
};

void admin_arrival(srv_call *c)
{
    int m = c->method - M_ADMIN_BASE;
    if (!atomic_load(&c->s->admin_on)) {
        srv_answer_error(c, LRO_CODE_UNIMPLEMENTED,
                         "lro.testing.v1.OperationsAdmin is not enabled on this server (start "
                         "it with lroctl serve --admin, or call lro_test_server_enable_admin)");
        return;
    }
    srv_decode_request(c, admin_req[m]);
    if (c->req == NULL) {
        bad(c, "request missing or not decodable as %s", admin_req[m]->name);
        return;
    }
    admin_do[m](c, c->req);
}
