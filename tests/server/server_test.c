/*
 * server_test.c - the embedded Operations server driven by a plain grpc-core
 * client (tclient.c): lifecycle, the store, the five methods, paging.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lro/testing.h"
#include "tclient.h"

#define PARENT "projects/demo/locations/global/operations"
typedef Google__Longrunning__Operation Op;

static lro_test_server *start(const char *listen, int64_t cap)
{
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.listen = listen;
    o.wait_cap_ms = cap;
    o.threads = 2;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_OK);
    CHECK(s != NULL);
    return s;
}

static Op *op_of(const tc_result *r)
{
    CHECK_EQ_INT(r->code, 0);
    CHECK(r->has_body);
    Op *op = google__longrunning__operation__unpack(NULL, r->body_len, r->body);
    CHECK(op != NULL);
    return op;
}

static Op *get_op(grpc_channel *ch, const char *name)
{
    tc_result r;
    tc_name_call(ch, TC_GET, name, &r);
    Op *op = op_of(&r);
    tc_result_clear(&r);
    return op;
}

static int code_of(grpc_channel *ch, int method, const char *name)
{
    tc_result r;
    tc_name_call(ch, method, name, &r);
    int c = r.code;
    tc_result_clear(&r);
    return c;
}

static void test_start_stop(void)
{
    /* Bad addresses. */
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    lro_test_server *s = (lro_test_server *)0x1;
    o.listen = "no-port";
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_ERR_INVALID_ARG);
    o.listen = "unix:/nonexistent-dir-lro/x.sock";
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_ERR_IO);
    CHECK(s == (lro_test_server *)0x1); /* untouched on failure */
    lro_test_server_stop(NULL);

    /* Default: 127.0.0.1:0 -> a real port. */
    s = NULL;
    CHECK_EQ_INT(lro_test_server_start(NULL, &s), LRO_OK);
    const char *t = lro_test_server_target(s);
    CHECK(strncmp(t, "127.0.0.1:", 10) == 0 && atoi(t + 10) > 0);
    grpc_channel *ch = tc_channel(t);
    CHECK_EQ_INT(code_of(ch, TC_GET, PARENT "/nope"), LRO_CODE_NOT_FOUND);
    grpc_channel_destroy(ch);
    char fixed[64];
    snprintf(fixed, sizeof fixed, "%s", t);
    lro_test_server_stop(s);

    /* A given host:port (the one just freed). */
    s = start(fixed, 0);
    CHECK(strcmp(lro_test_server_target(s), fixed) == 0);
    ch = tc_channel(fixed);
    CHECK_EQ_INT(code_of(ch, TC_GET, PARENT "/nope"), LRO_CODE_NOT_FOUND);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);

    /* unix: path. */
    char path[128], listen[140];
    tc_unix_path(path, sizeof path);
    snprintf(listen, sizeof listen, "unix:%s", path);
    s = start(listen, 0);
    CHECK(strcmp(lro_test_server_target(s), listen) == 0);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 4), LRO_OK);
    ch = tc_channel(lro_test_server_target(s));
    Op *op = get_op(ch, PARENT "/op-00000");
    CHECK(strcmp(op->name, PARENT "/op-00000") == 0 && op->done);
    google__longrunning__operation__free_unpacked(op, NULL);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
    CHECK(access(path, F_OK) != 0); /* socket file removed */
    tc_unix_done(path);
}

static void test_get(grpc_channel *ch, lro_test_server *s)
{
    Op *op = get_op(ch, PARENT "/op-00000");
    CHECK(op->done && op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE);
    CHECK(strcmp(op->response->type_url, "type.googleapis.com/google.protobuf.StringValue") == 0);
    Google__Protobuf__StringValue *sv = google__protobuf__string_value__unpack(
        NULL, op->response->value.len, op->response->value.data);
    CHECK(sv != NULL && strcmp(sv->value, "result-0") == 0);
    google__protobuf__string_value__free_unpacked(sv, NULL);
    google__longrunning__operation__free_unpacked(op, NULL);

    op = get_op(ch, PARENT "/op-00001");
    CHECK(op->done && op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR);
    CHECK_EQ_INT(op->error->code, 3);
    CHECK_EQ_INT(op->error->n_details, 1);
    CHECK(strcmp(op->error->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo") == 0);
    Google__Rpc__ErrorInfo *ei = google__rpc__error_info__unpack(
        NULL, op->error->details[0]->value.len, op->error->details[0]->value.data);
    CHECK(ei != NULL && strcmp(ei->reason, "SEEDED_FAILURE") == 0);
    google__rpc__error_info__free_unpacked(ei, NULL);
    google__longrunning__operation__free_unpacked(op, NULL);

    op = get_op(ch, PARENT "/op-00006");
    CHECK(!op->done && op->metadata != NULL);
    CHECK(strcmp(op->metadata->type_url, "type.googleapis.com/google.protobuf.Struct") == 0);
    Google__Protobuf__Struct *st =
        google__protobuf__struct__unpack(NULL, op->metadata->value.len, op->metadata->value.data);
    CHECK(st != NULL && st->n_fields == 1 && strcmp(st->fields[0]->key, "progress") == 0);
    CHECK(st->fields[0]->value->number_value == 6.0);
    google__protobuf__struct__free_unpacked(st, NULL);
    google__longrunning__operation__free_unpacked(op, NULL);

    op = get_op(ch, PARENT "/op-00003");
    CHECK(op->done &&
          strcmp(op->response->type_url, "type.googleapis.com/google.protobuf.Struct") == 0);
    google__longrunning__operation__free_unpacked(op, NULL);

    CHECK_EQ_INT(code_of(ch, TC_GET, PARENT "/op-99999"), LRO_CODE_NOT_FOUND);
    CHECK_EQ_INT(code_of(ch, TC_GET, ""), LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(code_of(ch, TC_GET, "bad\x01name"), LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(code_of(ch, TC_GET, "bad\xff\xfe utf8"), LRO_CODE_INVALID_ARGUMENT);

    /* Bytes that are not a request, for every method: INVALID_ARGUMENT. */
    const uint8_t junk[] = {0x0a, 0x7f, 'x'};
    for (int m = TC_LIST; m <= TC_WAIT; m++) {
        tc_result r;
        tc_do(ch, m, junk, sizeof junk, NULL, 5000, &r);
        CHECK_EQ_INT(r.code, LRO_CODE_INVALID_ARGUMENT);
        /* The status also travels as google.rpc.Status in the trailer. */
        Google__Rpc__Status *rs = google__rpc__status__unpack(NULL, r.details_len, r.details);
        CHECK(rs != NULL && rs->code == LRO_CODE_INVALID_ARGUMENT);
        /* ... with an ErrorInfo first, as Google's servers send it. */
        CHECK(rs->n_details >= 1);
        CHECK(strcmp(rs->details[0]->type_url, "type.googleapis.com/google.rpc.ErrorInfo") == 0);
        google__rpc__status__free_unpacked(rs, NULL);
        tc_result_clear(&r);
    }

    /* Unknown method: UNIMPLEMENTED, not a hang. */
    uint8_t *b;
    size_t n = tc_enc_name(TC_GET, PARENT "/op-00000", &b);
    tc_result r;
    tc_do(ch, TC_BOGUS, b, n, NULL, 5000, &r);
    CHECK_EQ_INT(r.code, LRO_CODE_UNIMPLEMENTED);
    tc_result_clear(&r);
    free(b);
    (void)s;
}

typedef struct page {
    Google__Longrunning__ListOperationsResponse *resp;
    int code;
} page;

static page list(grpc_channel *ch, const char *parent, const char *filter, int32_t size,
                 const char *token)
{
    uint8_t *b;
    size_t n = tc_enc_list(parent, filter, size, token, &b);
    tc_result r;
    tc_do(ch, TC_LIST, b, n, NULL, 10000, &r);
    free(b);
    page p = {NULL, r.code};
    if (r.code == 0) {
        CHECK(r.has_body);
        p.resp = google__longrunning__list_operations_response__unpack(NULL, r.body_len, r.body);
        CHECK(p.resp != NULL);
    }
    tc_result_clear(&r);
    return p;
}

static void page_free(page *p)
{
    if (p->resp != NULL) {
        google__longrunning__list_operations_response__free_unpacked(p->resp, NULL);
    }
}

/* Walks every page; returns how many ops, checks order and uniqueness. */
static int walk(grpc_channel *ch, const char *parent, const char *filter, int32_t size,
                int skip_index)
{
    char token[256] = "";
    int seen = 0, last = -1, pages = 0;
    for (;;) {
        page p = list(ch, parent, filter, size, token);
        CHECK_EQ_INT(p.code, 0);
        pages++;
        CHECK(p.resp->n_operations <= (size_t)(size == 0 ? 50 : size));
        for (size_t i = 0; i < p.resp->n_operations; i++) {
            const char *nm = p.resp->operations[i]->name;
            CHECK(strncmp(nm, parent, strlen(parent)) == 0);
            int idx = atoi(strrchr(nm, '-') + 1);
            CHECK(idx > last); /* stable insertion order, no repeats */
            CHECK(idx != skip_index);
            last = idx;
            seen++;
        }
        if (p.resp->next_page_token[0] == '\0') {
            page_free(&p);
            break;
        }
        CHECK(p.resp->n_operations == (size_t)(size == 0 ? 50 : size));
        CHECK(strlen(p.resp->next_page_token) < sizeof token);
        strcpy(token, p.resp->next_page_token);
        page_free(&p);
    }
    CHECK(pages >= 1);
    return seen;
}

static void test_list(grpc_channel *ch, lro_test_server *s)
{
    CHECK_EQ_INT(lro_test_server_seed(s, "projects/other", 5), LRO_OK);
    /* 237 under PARENT: 59 pending (i % 4 == 2), 178 done. */
    CHECK_EQ_INT(walk(ch, PARENT, "", 10, -1), 237);
    CHECK_EQ_INT(walk(ch, PARENT, "", 0, -1), 237);
    CHECK_EQ_INT(walk(ch, PARENT, "done=true", 7, -1), 178);
    CHECK_EQ_INT(walk(ch, PARENT, "done = false", 13, -1), 59);
    CHECK_EQ_INT(walk(ch, "projects/other", "", 2, -1), 5);
    CHECK_EQ_INT(walk(ch, "projects/none", "", 2, -1), 0);

    page p = list(ch, PARENT, "", 0, NULL);
    CHECK_EQ_INT(p.resp->n_operations, 50); /* default page size */
    char tok[256];
    strcpy(tok, p.resp->next_page_token);
    CHECK(tok[0] != '\0');
    page_free(&p);
    /* Token bound to parent and filter. */
    CHECK_EQ_INT(list(ch, "projects/other", "", 0, tok).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, PARENT, "done=true", 0, tok).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, PARENT, "", 0, "garbage-token").code, LRO_CODE_INVALID_ARGUMENT);
    tok[3] = tok[3] == 'A' ? 'B' : 'A'; /* edited */
    CHECK_EQ_INT(list(ch, PARENT, "", 0, tok).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, PARENT, "", -1, NULL).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, "", "", 0, NULL).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, PARENT, "name=foo", 0, NULL).code, LRO_CODE_INVALID_ARGUMENT);

    /* Cap: page_size > 1000 gives 1000. */
    CHECK_EQ_INT(lro_test_server_seed(s, "projects/big", 1003), LRO_OK);
    p = list(ch, "projects/big", "", 5000, NULL);
    CHECK_EQ_INT(p.resp->n_operations, 1000);
    CHECK(p.resp->next_page_token[0] != '\0');
    strcpy(tok, p.resp->next_page_token);
    page_free(&p);
    p = list(ch, "projects/big", "", 5000, tok);
    CHECK_EQ_INT(p.resp->n_operations, 3);
    CHECK(p.resp->next_page_token[0] == '\0'); /* last page */
    page_free(&p);

    /* Stable across a delete between pages: nothing skipped or repeated. */
    p = list(ch, PARENT, "", 10, NULL);
    strcpy(tok, p.resp->next_page_token);
    page_free(&p);
    CHECK_EQ_INT(code_of(ch, TC_DELETE, PARENT "/op-00012"), 0);
    int rest = 0;
    while (tok[0] != '\0') {
        p = list(ch, PARENT, "", 10, tok);
        CHECK_EQ_INT(p.code, 0);
        rest += (int)p.resp->n_operations;
        for (size_t i = 0; i < p.resp->n_operations; i++) {
            CHECK(strcmp(p.resp->operations[i]->name, PARENT "/op-00012") != 0);
        }
        strcpy(tok, p.resp->next_page_token);
        page_free(&p);
    }
    CHECK_EQ_INT(rest, 226);
    CHECK_EQ_INT(walk(ch, PARENT, "", 10, 12), 236);
}

static void test_cancel_delete(grpc_channel *ch, lro_test_server *s)
{
    /* Pending -> done with error CANCELLED. */
    CHECK_EQ_INT(code_of(ch, TC_CANCEL, PARENT "/op-00002"), 0);
    Op *op = get_op(ch, PARENT "/op-00002");
    CHECK(op->done && op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR);
    CHECK_EQ_INT(op->error->code, 1);
    CHECK(op->metadata != NULL); /* progress kept */
    google__longrunning__operation__free_unpacked(op, NULL);
    /* Done -> unchanged. */
    uint8_t *before, *after;
    size_t nb, na;
    CHECK_EQ_INT(lro_test_server_get(s, PARENT "/op-00000", &before, &nb), LRO_OK);
    CHECK_EQ_INT(code_of(ch, TC_CANCEL, PARENT "/op-00000"), 0);
    CHECK_EQ_INT(lro_test_server_get(s, PARENT "/op-00000", &after, &na), LRO_OK);
    CHECK(nb == na && memcmp(before, after, nb) == 0);
    lro_test_free(before);
    lro_test_free(after);
    CHECK_EQ_INT(code_of(ch, TC_CANCEL, PARENT "/op-77777"), LRO_CODE_NOT_FOUND);
    CHECK_EQ_INT(code_of(ch, TC_CANCEL, ""), LRO_CODE_INVALID_ARGUMENT);

    size_t count = lro_test_server_count(s);
    CHECK_EQ_INT(code_of(ch, TC_DELETE, PARENT "/op-00003"), 0);
    CHECK_EQ_INT(lro_test_server_count(s), count - 1);
    CHECK_EQ_INT(code_of(ch, TC_GET, PARENT "/op-00003"), LRO_CODE_NOT_FOUND);
    CHECK_EQ_INT(code_of(ch, TC_DELETE, PARENT "/op-00003"), LRO_CODE_NOT_FOUND);
    CHECK_EQ_INT(code_of(ch, TC_DELETE, ""), LRO_CODE_INVALID_ARGUMENT);
}

static void test_store_api(grpc_channel *ch, lro_test_server *s)
{
    /* put: a full serialized Operation. */
    Op in = GOOGLE__LONGRUNNING__OPERATION__INIT;
    in.name = "store/x";
    in.done = 1;
    uint8_t buf[256];
    size_t n = google__longrunning__operation__pack(&in, buf);
    CHECK_EQ_INT(lro_test_server_put(s, buf, n), LRO_OK);
    Op *op = get_op(ch, "store/x");
    CHECK(op->done && op->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT__NOT_SET);
    google__longrunning__operation__free_unpacked(op, NULL);
    const uint8_t junk[] = {0x0a, 0x09};
    CHECK_EQ_INT(lro_test_server_put(s, junk, sizeof junk), LRO_ERR_INVALID_ARG);
    in.name = "";
    n = google__longrunning__operation__pack(&in, buf);
    CHECK(lro_test_server_put(s, buf, n) != LRO_OK);

    /* pending + metadata updates + complete now. */
    CHECK_EQ_INT(
        lro_test_server_put_pending(s, "store/p", "type.example/M", (const uint8_t *)"a", 1),
        LRO_OK);
    CHECK_EQ_INT(
        lro_test_server_set_metadata(s, "store/p", "type.example/M", (const uint8_t *)"bb", 2),
        LRO_OK);
    CHECK_EQ_INT(lro_test_server_set_metadata(s, "store/none", NULL, NULL, 0), LRO_ERR_INVALID_ARG);
    op = get_op(ch, "store/p");
    CHECK(!op->done && op->metadata->value.len == 2 &&
          memcmp(op->metadata->value.data, "bb", 2) == 0);
    google__longrunning__operation__free_unpacked(op, NULL);
    CHECK_EQ_INT(lro_test_server_fail(s, "store/p", 0, 9, "nope", NULL, 0), LRO_OK);
    op = get_op(ch, "store/p");
    CHECK(op->done && op->error->code == 9 && strcmp(op->error->message, "nope") == 0);
    CHECK(op->metadata != NULL && op->metadata->value.len == 2);
    google__longrunning__operation__free_unpacked(op, NULL);
    CHECK_EQ_INT(lro_test_server_complete(s, "store/p", 0, NULL, NULL, 0), LRO_ERR_STATE);
    CHECK_EQ_INT(lro_test_server_complete(s, "store/none", 0, NULL, NULL, 0), LRO_ERR_INVALID_ARG);
    uint8_t *out;
    size_t len;
    CHECK_EQ_INT(lro_test_server_get(s, "store/none", &out, &len), LRO_ERR_INVALID_ARG);
}

static void test_wait(lro_test_server *s0)
{
    (void)s0;
    lro_test_server *s = start(NULL, 300); /* cap 300 ms */
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    CHECK_EQ_INT(lro_test_server_put_pending(s, "w/1", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, "w/2", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_put_pending(s, "w/3", NULL, NULL, 0), LRO_OK);

    /* Completed later (delay 100 ms, inside the cap): Wait returns done. */
    CHECK_EQ_INT(lro_test_server_complete(s, "w/1", 100, "type.example/R", (const uint8_t *)"r", 1),
                 LRO_OK);
    int64_t t0 = tc_now_ms();
    uint8_t *b;
    size_t n = tc_enc_wait("w/1", 5000, &b);
    tc_result r;
    tc_do(ch, TC_WAIT, b, n, NULL, 10000, &r);
    free(b);
    Op *op = op_of(&r);
    CHECK(op->done && strcmp(op->response->type_url, "type.example/R") == 0);
    CHECK(tc_now_ms() - t0 >= 90);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);

    /* Timeout 50 ms: returns not done. */
    n = tc_enc_wait("w/2", 50, &b);
    tc_do(ch, TC_WAIT, b, n, NULL, 10000, &r);
    free(b);
    op = op_of(&r);
    CHECK(!op->done);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);
    lro_test_record *rec = lro_test_server_last_record(s, LRO_TEST_WAIT, "w/2");
    CHECK(rec != NULL && lro_test_record_wait_timeout_ms(rec) == 50);
    lro_test_record_free(rec);

    /* Cap: a 60 s timeout is held 300 ms at most (the client deadline of
     * 20 s would otherwise end it with DEADLINE_EXCEEDED). */
    t0 = tc_now_ms();
    n = tc_enc_wait("w/2", 60000, &b);
    tc_do(ch, TC_WAIT, b, n, NULL, 20000, &r);
    free(b);
    op = op_of(&r);
    CHECK(!op->done);
    CHECK(tc_now_ms() - t0 >= 250);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);

    /* No timeout: the cap too; unknown: NOT_FOUND; done: at once. */
    tc_name_call(ch, TC_WAIT, "w/3", &r);
    op = op_of(&r);
    CHECK(!op->done);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);
    CHECK_EQ_INT(code_of(ch, TC_WAIT, "w/none"), LRO_CODE_NOT_FOUND);
    CHECK_EQ_INT(code_of(ch, TC_WAIT, ""), LRO_CODE_INVALID_ARGUMENT);
    tc_name_call(ch, TC_WAIT, "w/1", &r);
    op = op_of(&r);
    CHECK(op->done);
    google__longrunning__operation__free_unpacked(op, NULL);
    tc_result_clear(&r);

    /* Delete while waiting: NOT_FOUND. */
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    n = tc_enc_wait("w/3", 5000, &b);
    tc_call *c = tc_start(ch, cq, TC_WAIT, b, n, NULL, 10000);
    free(b);
    while (lro_test_server_call_count(s, LRO_TEST_WAIT, "w/3") < 2) {
        usleep(1000);
    }
    usleep(20000); /* let the handler hold it (order is not asserted on) */
    CHECK_EQ_INT(code_of(ch, TC_DELETE, "w/3"), 0);
    CHECK(tc_next(cq) == c);
    CHECK(tc_result_of(c)->code == LRO_CODE_NOT_FOUND || tc_result_of(c)->code == 0);
    tc_call_free(c);
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

/* 1000 Waits held at once cost no thread each; completing the operation
 * answers them all. */
static void test_many_waits(void)
{
    const int N = getenv("LRO_UNDER_VALGRIND") ? 200 : 1000;
    /* Cap and Wait timeout far beyond the client deadline: only the
     * completion can answer these Waits in time (a server that forgot its
     * waiters would end them DEADLINE_EXCEEDED, and the test fails). */
    lro_test_server *s = start(NULL, 120000);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    CHECK_EQ_INT(lro_test_server_put_pending(s, "many/1", NULL, NULL, 0), LRO_OK);
    /* Warm the connection so grpc's own threads are already there. */
    CHECK_EQ_INT(code_of(ch, TC_GET, "many/1"), 0);
    int threads_before = tc_thread_count();
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    uint8_t *b;
    size_t n = tc_enc_wait("many/1", 120000, &b);
    tc_call **calls = calloc((size_t)N, sizeof *calls);
    for (int i = 0; i < N; i++) {
        calls[i] = tc_start(ch, cq, TC_WAIT, b, n, NULL, 20000);
    }
    free(b);
    while (lro_test_server_call_count(s, LRO_TEST_WAIT, "many/1") < (uint64_t)N) {
        usleep(2000);
    }
    int threads_during = tc_thread_count();
    fprintf(stderr, "threads before %d, with %d waits held %d\n", threads_before, N,
            threads_during);
    CHECK(threads_during <= threads_before + 2);
    CHECK_EQ_INT(lro_test_server_complete(s, "many/1", 0, NULL, NULL, 0), LRO_OK);
    int done = 0;
    for (int i = 0; i < N; i++) {
        tc_call *c = tc_next(cq);
        tc_result *r = tc_result_of(c);
        CHECK_EQ_INT(r->code, 0);
        Op *op = google__longrunning__operation__unpack(NULL, r->body_len, r->body);
        CHECK(op != NULL && op->done);
        google__longrunning__operation__free_unpacked(op, NULL);
        done++;
        tc_call_free(c);
    }
    CHECK_EQ_INT(done, N);
    free(calls);
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

/* Hostile requests: never a crash, always an answer, the server keeps
 * serving. Random bytes (fixed seed), oversized names, tokens, filters. */
static void test_hostile(grpc_channel *ch)
{
    uint32_t x = 12345;
    uint8_t buf[64];
    int answered = 0;
    for (int i = 0; i < 250; i++) {
        size_t n = (size_t)(i % 64);
        for (size_t k = 0; k < n; k++) {
            x = x * 1103515245u + 12345u;
            buf[k] = (uint8_t)(x >> 16);
        }
        tc_result r;
        tc_do(ch, i % 5, buf, n, NULL, 5000, &r);
        /* Whatever decodes is answered as a request; never DEADLINE/UNAVAILABLE. */
        CHECK(r.code == 0 || r.code == LRO_CODE_INVALID_ARGUMENT || r.code == LRO_CODE_NOT_FOUND);
        answered++;
        tc_result_clear(&r);
    }
    CHECK_EQ_INT(answered, 250);
    char *big = malloc(LRO_MAX_NAME_LEN + 2);
    memset(big, 'a', LRO_MAX_NAME_LEN + 1);
    big[LRO_MAX_NAME_LEN + 1] = '\0';
    CHECK_EQ_INT(code_of(ch, TC_GET, big), LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(code_of(ch, TC_WAIT, big), LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, big, "", 0, NULL).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, PARENT, big, 0, NULL).code, LRO_CODE_INVALID_ARGUMENT);
    CHECK_EQ_INT(list(ch, PARENT, "", 0, big).code, LRO_CODE_INVALID_ARGUMENT);
    big[LRO_MAX_NAME_LEN] = '\0'; /* exactly the limit: fine, just unknown */
    CHECK_EQ_INT(code_of(ch, TC_GET, big), LRO_CODE_NOT_FOUND);
    free(big);
    CHECK_EQ_INT(code_of(ch, TC_GET, PARENT "/op-00000"), 0); /* still serving */
}

/* The embedding thread edits the store while clients read it: every answer
 * must be a well-formed one (ASan/valgrind watch the memory). */
static void *churn(void *arg)
{
    lro_test_server *s = arg;
    char name[64];
    for (int i = 0; i < 400; i++) {
        snprintf(name, sizeof name, "churn/op-%d", i % 16);
        CHECK(lro_test_server_put_pending(s, name, "type.example/M", (const uint8_t *)"m", 1) ==
              LRO_OK);
        (void)lro_test_server_set_metadata(s, name, "type.example/M", (const uint8_t *)"mm", 2);
        if (i % 3 == 0) {
            (void)lro_test_server_complete(s, name, i % 2, NULL, NULL, 0);
        } else if (i % 3 == 1) {
            (void)lro_test_server_fail(s, name, 0, 13, "boom", NULL, 0);
        }
        if (i % 5 == 0) {
            uint8_t *b;
            size_t n;
            if (lro_test_server_get(s, name, &b, &n) == LRO_OK) {
                lro_test_free(b);
            }
        }
    }
    return NULL;
}

static void test_concurrent_store(void)
{
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.threads = 2;
    o.wait_cap_ms = 20;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&o, &s), LRO_OK);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, churn, s) == 0);
    enum { CALLS = 300 };
    char name[64];
    for (int i = 0; i < CALLS; i++) {
        snprintf(name, sizeof name, "churn/op-%d", i % 16);
        uint8_t *b;
        size_t n;
        int m = i % 5;
        if (m == TC_LIST) {
            n = tc_enc_list("churn", i % 2 ? "done=false" : "", 4, NULL, &b);
        } else if (m == TC_WAIT) {
            n = tc_enc_wait(name, 10, &b);
        } else {
            n = tc_enc_name(m, name, &b);
        }
        tc_start(ch, cq, m, b, n, NULL, 20000);
        free(b);
        if (i % 3 == 2) {
            lro_test_server_clear(s); /* Waits on cleared names get NOT_FOUND */
        }
    }
    for (int i = 0; i < CALLS; i++) {
        tc_call *c = tc_next(cq);
        tc_result *r = tc_result_of(c);
        CHECK(r->code == 0 || r->code == LRO_CODE_NOT_FOUND);
        if (r->code == 0 && r->body_len > 0) {
            /* An Operation (Get/Wait), a ListOperationsResponse (List) or
             * Empty (Cancel/Delete, no bytes): it must decode as one. */
            Op *op = google__longrunning__operation__unpack(NULL, r->body_len, r->body);
            Google__Longrunning__ListOperationsResponse *lr =
                google__longrunning__list_operations_response__unpack(NULL, r->body_len, r->body);
            CHECK(op != NULL || lr != NULL);
            if (op != NULL) {
                google__longrunning__operation__free_unpacked(op, NULL);
            }
            if (lr != NULL) {
                google__longrunning__list_operations_response__free_unpacked(lr, NULL);
            }
        }
        tc_call_free(c);
    }
    pthread_join(th, NULL);
    CHECK_EQ_INT(lro_test_server_call_count(s, 0, NULL), CALLS);
    tc_queue_destroy(cq);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);
}

int main(void)
{
    grpc_init();
    test_start_stop();

    lro_test_server *s = start(NULL, 0);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 237), LRO_OK);
    CHECK_EQ_INT(lro_test_server_count(s), 237);
    grpc_channel *ch = tc_channel(lro_test_server_target(s));
    test_get(ch, s);
    test_list(ch, s);
    test_cancel_delete(ch, s);
    test_store_api(ch, s);
    test_hostile(ch);
    lro_test_server_clear(s);
    CHECK_EQ_INT(lro_test_server_count(s), 0);
    grpc_channel_destroy(ch);
    lro_test_server_stop(s);

    test_wait(NULL);
    test_many_waits();
    test_concurrent_store();
    grpc_shutdown();
    printf("server_test: all passed\n");
    return 0;
}
