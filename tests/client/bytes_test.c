/* Serialized bytes of operations, pages and statuses, and parsing them back
 * (lro/future.h, "Serialized bytes"): what a binding uses to hand out native
 * protobuf objects and to resume awaiting a saved Operation. Against the
 * embedded server: the bytes a client serializes are the server's own. */
#include <string.h>

#include "harness.h"

/* The progress callback's op is borrowed: serialize it right there. */
typedef struct progress_copy {
    atomic_int calls;
    uint8_t *bytes;
    size_t len;
} progress_copy;

static void on_progress(const lro_operation *op, void *ud)
{
    progress_copy *pc = ud;
    if (atomic_fetch_add(&pc->calls, 1) == 0) {
        CHECK_EQ_INT(lro_operation_serialize(op, &pc->bytes, &pc->len), LRO_OK);
    }
}

static void test_operation_roundtrip(void)
{
    lro_test_server *s = start_server(8);
    lro_client *c = make_client(s);
    for (int i = 0; i < 4; i++) { /* succeeded, failed (ErrorInfo), pending, Struct */
        lro_future *f = NULL;
        CHECK_EQ_INT(lro_get(c, op_name(i), NULL, NULL, NULL, NULL, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        const lro_operation *op = lro_future_operation(f);
        uint8_t *b = NULL;
        size_t n = 0;
        CHECK_EQ_INT(lro_operation_serialize(op, &b, &n), LRO_OK);
        uint8_t *want = NULL;
        size_t want_n = 0;
        CHECK_EQ_INT(lro_test_server_get(s, op_name(i), &want, &want_n), LRO_OK);
        CHECK(n == want_n && memcmp(b, want, n) == 0);
        lro_test_free(want);

        lro_operation *back = NULL;
        CHECK_EQ_INT(lro_operation_parse(b, n, &back), LRO_OK);
        CHECK_EQ_STR(lro_operation_name(back), op_name(i));
        CHECK_EQ_INT(lro_operation_done(back), lro_operation_done(op));
        CHECK_EQ_INT(lro_operation_error(back) != NULL, i % 4 == 1);
        if (i % 4 == 1) {
            const lro_status *st = lro_operation_error(back);
            CHECK_EQ_INT(lro_status_code(st), 3);
            CHECK_EQ_INT((int)lro_status_detail_count(st), 1);
            /* The status alone, through its own bytes. */
            uint8_t *sb = NULL;
            size_t sn = 0;
            CHECK_EQ_INT(lro_status_serialize(st, &sb, &sn), LRO_OK);
            lro_status *st2 = NULL;
            CHECK_EQ_INT(lro_status_parse(sb, sn, &st2), LRO_OK);
            CHECK_EQ_STR(lro_status_message(st2), lro_status_message(st));
            const char *url = NULL;
            CHECK_EQ_INT(lro_status_detail(st2, 0, &url, NULL, NULL), LRO_OK);
            CHECK_EQ_STR(url, "type.googleapis.com/google.rpc.ErrorInfo");
            lro_status_destroy(st2);
            lro_free(sb);
        }
        /* The JSON of the parsed copy is the JSON of the original. */
        char *j1 = NULL, *j2 = NULL;
        CHECK_EQ_INT(lro_operation_to_json(op, 0, &j1, NULL), LRO_OK);
        CHECK_EQ_INT(lro_operation_to_json(back, 0, &j2, NULL), LRO_OK);
        CHECK_EQ_STR(j1, j2);
        lro_free(j1);
        lro_free(j2);
        /* And it serializes to the same bytes. */
        uint8_t *b2 = NULL;
        size_t n2 = 0;
        CHECK_EQ_INT(lro_operation_serialize(back, &b2, &n2), LRO_OK);
        CHECK(n2 == n && memcmp(b2, b, n) == 0);
        lro_free(b2);
        lro_operation_destroy(back);
        lro_free(b);
        lro_future_unref(f);
    }
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

static void test_page_and_rpc_status(void)
{
    lro_test_server *s = start_server(7);
    lro_client *c = make_client(s);
    lro_list_args a = LRO_LIST_ARGS_INIT;
    a.page_size = 5;
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_list(c, PARENT, &a, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK_EQ_INT(lro_page_serialize(lro_future_page(f), &b, &n), LRO_OK);
    lro_page *pg = NULL;
    CHECK_EQ_INT(lro_page_parse(b, n, &pg), LRO_OK);
    CHECK_EQ_INT((int)lro_page_count(pg), 5);
    CHECK_EQ_STR(lro_page_next_token(pg), lro_page_next_token(lro_future_page(f)));
    CHECK(lro_page_next_token(pg)[0] != '\0');
    for (size_t i = 0; i < 5; i++) {
        CHECK_EQ_STR(lro_operation_name(lro_page_operation(pg, i)), op_name((int)i));
    }
    lro_page_destroy(pg);
    lro_free(b);
    lro_future_unref(f);

    /* An RPC's status (NOT_FOUND) as bytes, from the future. */
    CHECK_EQ_INT(lro_get(c, PARENT "/missing", NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_serialize(lro_future_status(f), &b, &n), LRO_OK);
    lro_status *st = NULL;
    CHECK_EQ_INT(lro_status_parse(b, n, &st), LRO_OK);
    CHECK_EQ_INT(lro_status_code(st), LRO_CODE_NOT_FOUND);
    CHECK_EQ_STR(lro_status_message(st), lro_status_message(lro_future_status(f)));
    lro_status_destroy(st);
    lro_free(b);
    lro_future_unref(f);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

/* Saved in one "process" (bytes), resumed in another client by name. */
static void test_resume_saved_operation(void)
{
    lro_test_server *s = start_server(0);
    const char *name = "operations/resumed";
    const uint8_t meta[] = {0x0a, 0x03, 'a', 'b', 'c'};
    CHECK_EQ_INT(lro_test_server_put_pending(s, name,
                                             "type.googleapis.com/google.protobuf."
                                             "StringValue",
                                             meta, sizeof meta),
                 LRO_OK);
    lro_client *c1 = make_client(s);
    progress_copy pc = {0};
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.initial_delay_ms = 20;
    pp.method = LRO_AWAIT_POLL_ONLY;
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c1, name, &pp, NULL, on_progress, NULL, &pc, NULL, &f), LRO_OK);
    WAIT_UNTIL(atomic_load(&pc.calls) >= 1);
    lro_future_cancel(f);
    lro_future_wait(f, -1);
    lro_future_unref(f);
    lro_client_destroy(c1);
    CHECK(pc.bytes != NULL);

    lro_operation *saved = NULL;
    CHECK_EQ_INT(lro_operation_parse(pc.bytes, pc.len, &saved), LRO_OK);
    CHECK_EQ_INT(lro_operation_done(saved), 0);
    const char *url = NULL;
    const uint8_t *v = NULL;
    size_t vn = 0;
    int present = 0;
    CHECK_EQ_INT(lro_operation_metadata(saved, &url, &v, &vn, &present), LRO_OK);
    CHECK(present && vn == sizeof meta && memcmp(v, meta, vn) == 0);

    lro_client *c2 = make_client(s);
    CHECK_EQ_INT(lro_test_server_complete(s, name, 50, NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_await(c2, lro_operation_name(saved), &pp, NULL, NULL, NULL, NULL, NULL, &f),
                 LRO_OK);
    lro_operation_destroy(saved); /* the await copied the name */
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_operation_done(lro_future_operation(f)), 1);
    lro_future_unref(f);
    lro_free(pc.bytes);
    lro_client_destroy(c2);
    lro_test_server_stop(s);
}

static void test_bad_input(void)
{
    lro_operation *op = (lro_operation *)0x1;
    uint8_t *b = (uint8_t *)0x1;
    size_t n = 7;
    CHECK_EQ_INT(lro_operation_serialize(NULL, &b, &n), LRO_ERR_INVALID_ARG);
    CHECK(b == (uint8_t *)0x1 && n == 7);
    CHECK(strstr(lro_last_error(), "NULL") != NULL);
    CHECK_EQ_INT(lro_page_serialize(NULL, &b, NULL), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_status_serialize(NULL, &b, NULL), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_operation_parse(NULL, 3, &op), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_operation_parse((const uint8_t *)"x", 1, NULL), LRO_ERR_INVALID_ARG);
    CHECK(op == (lro_operation *)0x1);
    /* Truncated: field 1 (name), length 10, 2 bytes. */
    const uint8_t bad[] = {0x0a, 0x0a, 'a', 'b'};
    CHECK_EQ_INT(lro_operation_parse(bad, sizeof bad, &op), LRO_ERR_DECODE);
    CHECK(strstr(lro_last_error(), "google.longrunning.Operation") != NULL);
    CHECK(op == (lro_operation *)0x1);
    lro_status *st = NULL;
    CHECK_EQ_INT(lro_status_parse(bad, sizeof bad, &st), LRO_ERR_DECODE);
    lro_page *pg = NULL;
    CHECK_EQ_INT(lro_page_parse(bad, sizeof bad, &pg), LRO_ERR_DECODE);
    /* Every prefix of a real operation (with an error and details) either
     * decodes or is refused: never a crash or a leak. */
    lro_test_server *s = start_server(4);
    uint8_t *full = NULL;
    size_t full_n = 0;
    CHECK_EQ_INT(lro_test_server_get(s, op_name(1), &full, &full_n), LRO_OK);
    for (size_t k = 0; k <= full_n; k++) {
        lro_operation *p = NULL;
        int rc = lro_operation_parse(full, k, &p);
        CHECK(rc == LRO_OK || rc == LRO_ERR_DECODE);
        if (rc == LRO_OK) {
            uint8_t *again = NULL;
            CHECK_EQ_INT(lro_operation_serialize(p, &again, NULL), LRO_OK);
            lro_free(again);
            lro_operation_destroy(p);
        }
    }
    lro_test_free(full);
    lro_test_server_stop(s);
    /* Empty input is the empty message, and it serializes to 0 bytes in a
     * real (lro_free'able) buffer. */
    CHECK_EQ_INT(lro_operation_parse(NULL, 0, &op), LRO_OK);
    CHECK_EQ_STR(lro_operation_name(op), "");
    CHECK_EQ_INT(lro_operation_serialize(op, &b, &n), LRO_OK);
    CHECK(b != NULL && n == 0);
    lro_free(b);
    lro_operation_destroy(op);
    lro_operation_destroy(NULL);
    lro_page_destroy(NULL);
    lro_status_destroy(NULL);
}

int main(void)
{
    test_operation_roundtrip();
    test_page_and_rpc_status();
    test_resume_saved_operation();
    test_bad_input();
    puts("bytes_test: ok");
    return 0;
}
