/* The five calls against the embedded server: results, views, what went on
 * the wire (recorded by the server), and bad input refused before sending. */
#include "harness.h"
#include "lro/lro_pb.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/error_details.pb-c.h"

static lro_test_server *srv;
static lro_client *cli;

static lro_future *get_sync(const char *name)
{
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(cli, name, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    return f;
}

static void test_get_succeeded(void)
{
    lro_future *f = get_sync(op_name(0));
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_OK);
    CHECK_EQ_INT(lro_future_attempts(f), 1);
    const lro_operation *op = lro_future_operation(f);
    CHECK(op != NULL);
    CHECK(lro_future_page(f) == NULL);
    CHECK_EQ_STR(lro_operation_name(op), op_name(0));
    CHECK_EQ_INT(lro_operation_done(op), 1);
    CHECK(lro_operation_error(op) == NULL);
    const char *url = NULL;
    const uint8_t *val = NULL;
    size_t len = 0;
    int present_34 = -1;
    CHECK_EQ_INT(lro_operation_response(op, &url, &val, &len, &present_34), LRO_OK);
    CHECK_EQ_INT(present_34, 1);
    CHECK_EQ_STR(url, "type.googleapis.com/google.protobuf.StringValue");
    /* Typed unpacking, and a type mismatch refused clearly. */
    ProtobufCMessage *m = NULL;
    CHECK_EQ_INT(lro_any_unpack(url, val, len, &google__protobuf__string_value__descriptor, &m),
                 LRO_OK);
    CHECK_EQ_STR(((Google__Protobuf__StringValue *)m)->value, "result-0");
    lro_message_free(m);
    m = NULL;
    CHECK_EQ_INT(lro_any_unpack(url, val, len, &google__rpc__retry_info__descriptor, &m),
                 LRO_ERR_TYPE_MISMATCH);
    CHECK(m == NULL);
    /* The opt-in protobuf-c view is the same object. */
    CHECK_EQ_STR(lro_operation_pb(op)->name, op_name(0));
    lro_future_unref(f);
}

static void test_get_failed_with_details(void)
{
    lro_future *f = get_sync(op_name(1));
    CHECK_EQ_INT(lro_future_result(f), LRO_OK); /* the RPC worked; the operation failed */
    const lro_operation *op = lro_future_operation(f);
    CHECK_EQ_INT(lro_operation_done(op), 1);
    int present_57 = -1;
    CHECK_EQ_INT(lro_operation_response(op, NULL, NULL, NULL, &present_57), LRO_OK);
    CHECK_EQ_INT(present_57, 0);
    const lro_status *err = lro_operation_error(op);
    CHECK(err != NULL);
    CHECK_EQ_INT(lro_status_code(err), LRO_CODE_INVALID_ARGUMENT);
    CHECK(strlen(lro_status_message(err)) > 0);
    CHECK(lro_status_detail_count(err) >= 1);
    const char *url = NULL;
    const uint8_t *val = NULL;
    size_t len = 0;
    CHECK_EQ_INT(lro_status_detail(err, 0, &url, &val, &len), LRO_OK);
    CHECK_EQ_STR(url, "type.googleapis.com/google.rpc.ErrorInfo");
    ProtobufCMessage *m = NULL;
    CHECK_EQ_INT(lro_any_unpack(url, val, len, &google__rpc__error_info__descriptor, &m), LRO_OK);
    CHECK(strlen(((Google__Rpc__ErrorInfo *)m)->reason) > 0);
    lro_message_free(m);
    CHECK_EQ_INT(lro_status_detail(err, 99, &url, &val, &len), LRO_ERR_INVALID_ARG);
    lro_future_unref(f);
}

static void test_get_pending_has_metadata(void)
{
    lro_future *f = get_sync(op_name(2));
    const lro_operation *op = lro_future_operation(f);
    CHECK_EQ_INT(lro_operation_done(op), 0);
    const char *url = NULL;
    int present_82 = -1;
    CHECK_EQ_INT(lro_operation_metadata(op, &url, NULL, NULL, &present_82), LRO_OK);
    CHECK_EQ_INT(present_82, 1);
    CHECK_EQ_STR(url, "type.googleapis.com/google.protobuf.Struct");
    lro_future_unref(f);
}

static void test_get_not_found(void)
{
    lro_future *f = get_sync(PARENT "/no-such-op");
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_NOT_FOUND);
    CHECK(lro_future_operation(f) == NULL);
    lro_future_unref(f);
}

static void test_bad_names_never_call_back(void)
{
    counter k = {0};
    char longname[LRO_MAX_NAME_LEN + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"", "a\nb", "bad\x01name", "\xff\xfe", "\xc0\xaf", "\xed\xa0\x80",
                         longname};
    lro_future *f = (lro_future *)0x1;
    CHECK_EQ_INT(lro_get(cli, NULL, NULL, count_cb, &k, count_free, &f), LRO_ERR_BAD_NAME);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(lro_get(cli, bad[i], NULL, count_cb, &k, count_free, &f), LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_cancel(cli, bad[i], NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_delete(cli, bad[i], NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_wait(cli, bad[i], 0, NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_list(cli, bad[i], NULL, NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
    }
    CHECK(f == (lro_future *)0x1); /* *out untouched on failure */
    /* A name of exactly the limit is fine (the server answers NOT_FOUND). */
    longname[LRO_MAX_NAME_LEN] = '\0';
    lro_future *g = get_sync(longname);
    CHECK_EQ_INT(lro_status_code(lro_future_status(g)), LRO_CODE_NOT_FOUND);
    lro_future_unref(g);
    CHECK_EQ_INT(lro_get(NULL, "x", NULL, NULL, NULL, NULL, NULL), LRO_ERR_INVALID_ARG);
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = -1;
    CHECK_EQ_INT(lro_list(cli, PARENT, &la, NULL, count_cb, &k, NULL, NULL), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_wait(cli, "x", -5, NULL, count_cb, &k, NULL, NULL), LRO_ERR_INVALID_ARG);
    /* Nothing was sent and nothing was called. */
    usleep(20000);
    CHECK_EQ_INT(atomic_load(&k.calls), 0);
    CHECK_EQ_INT(atomic_load(&k.frees), 0);
}

static void test_routing_and_headers(void)
{
    lro_header hs[2] = {{"x-test-one", "1", 0}, {"x-test-two", "two words", 0}};
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.headers = hs;
    co.header_count = 2;
    co.timeout_ms = 7000;
    const char *name = PARENT "/op-00004";
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(cli, name, &co, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(srv, LRO_TEST_GET, name);
    CHECK(r != NULL);
    CHECK_EQ_STR(lro_test_record_name(r), name);
    CHECK_EQ_STR(lro_test_record_header(r, "x-goog-request-params"), "name=" PARENT "/op-00004");
    CHECK_EQ_STR(lro_test_record_header(r, "x-test-one"), "1");
    CHECK_EQ_STR(lro_test_record_header(r, "x-test-two"), "two words");
    CHECK(strstr(lro_test_record_header(r, "user-agent"), "lro-c/") != NULL);
    int64_t dl = lro_test_record_deadline_ms(r);
    fprintf(stderr, "  deadline seen by the server: %lld ms\n", (long long)dl);
    /* grpc-timeout is sent in coarse units and rounded up, so allow a little. */
    CHECK(dl > 5000 && dl <= 7100);
    lro_test_record_free(r);

    /* Escaping of the routing header: space, '%', '?', non-ASCII. */
    const char *odd = "projects/a b/ops/x%y?z\xc3\xa9";
    f = get_sync(odd);
    lro_future_unref(f);
    r = lro_test_server_last_record(srv, LRO_TEST_GET, odd);
    CHECK(r != NULL);
    CHECK_EQ_STR(lro_test_record_header(r, "x-goog-request-params"),
                 "name=projects/a%20b/ops/x%25y%3Fz%C3%A9");
    lro_test_record_free(r);

    /* Headers that must never be sent. */
    const lro_header bad[] = {{"X-Upper", "v", 0}, {"x-crlf", "a\r\nb", 0}, {"", "v", 0},
                              {"grpc-timeout", "1S", 0}, {"x-nl", "a\nb", 0}, {"bad key", "v", 0},
                              {":authority", "evil", 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        co.headers = &bad[i];
        co.header_count = 1;
        CHECK_EQ_INT(lro_get(cli, name, &co, NULL, NULL, NULL, NULL), LRO_ERR_BAD_HEADER);
    }
}

static void test_default_headers_and_token(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_add_header(o, "x-default", "d"), LRO_OK);
    CHECK_EQ_INT(lro_client_options_add_header(o, "X-Bad", "d"), LRO_ERR_BAD_HEADER);
    CHECK_EQ_INT(lro_client_options_set_user_agent(o, "mytool/1.0"), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, "s3cret-token", 0), LRO_OK);
    lro_client *c2 = (lro_client *)0x1;
    /* A bearer token over plaintext is refused unless explicitly allowed. */
    CHECK_EQ_INT(lro_client_create(o, &c2), LRO_ERR_INVALID_ARG);
    CHECK(c2 == (lro_client *)0x1);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, "s3cret-token", 1), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &c2), LRO_OK);
    lro_client_options_destroy(o);
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c2, op_name(8), NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(srv, LRO_TEST_GET, op_name(8));
    CHECK_EQ_STR(lro_test_record_header(r, "x-default"), "d");
    CHECK_EQ_STR(lro_test_record_header(r, "authorization"), "Bearer s3cret-token");
    CHECK(strncmp(lro_test_record_header(r, "user-agent"), "mytool/1.0 lro-c/", 17) == 0);
    lro_test_record_free(r);
    lro_client_destroy(c2);
}

static void test_list_pages(void)
{
    /* 37 seeded operations, pages of 10: 4 pages, every op exactly once. */
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 10;
    char token[1024] = "";
    int seen = 0, pages = 0;
    for (;;) {
        la.page_token = token;
        lro_future *f = NULL;
        CHECK_EQ_INT(lro_list(cli, PARENT, &la, NULL, NULL, NULL, NULL, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        const lro_page *p = lro_future_page(f);
        CHECK(p != NULL);
        CHECK(lro_future_operation(f) == NULL);
        for (size_t i = 0; i < lro_page_count(p); i++) {
            CHECK_EQ_STR(lro_operation_name(lro_page_operation(p, i)), op_name(seen));
            seen++;
        }
        CHECK(lro_page_operation(p, lro_page_count(p)) == NULL);
        CHECK_EQ_INT(lro_page_unreachable_count(p), 0);
        pages++;
        snprintf(token, sizeof token, "%s", lro_page_next_token(p));
        lro_future_unref(f);
        if (token[0] == '\0') {
            break;
        }
    }
    CHECK_EQ_INT(seen, 37);
    CHECK_EQ_INT(pages, 4);
    /* Filter done=false: only the pending ones (i % 4 == 2 -> 9 of 37). */
    la.page_size = 100;
    la.page_token = NULL;
    la.filter = "done=false";
    la.return_partial_success = 1;
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_list(cli, PARENT, &la, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_page_count(lro_future_page(f)), 9);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(srv, LRO_TEST_LIST, PARENT);
    CHECK_EQ_STR(lro_test_record_filter(r), "done=false");
    CHECK_EQ_INT(lro_test_record_page_size(r), 100);
    CHECK_EQ_INT(lro_test_record_partial(r), 1);
    CHECK_EQ_STR(lro_test_record_header(r, "x-goog-request-params"), "name=" PARENT);
    lro_test_record_free(r);
    /* A bad page token is the server's INVALID_ARGUMENT, reported as such. */
    la.filter = NULL;
    la.page_token = "not-a-token";
    CHECK_EQ_INT(lro_list(cli, PARENT, &la, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_INVALID_ARGUMENT);
    CHECK(lro_future_page(f) == NULL);
    lro_future_unref(f);
}

static void test_cancel_delete_wait(void)
{
    counter k = {0};
    /* Remote cancel of a pending operation. */
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_cancel(cli, op_name(6), NULL, count_cb, &k, count_free, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK(lro_future_operation(f) == NULL);
    lro_future_unref(f);
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    f = get_sync(op_name(6));
    CHECK_EQ_INT(lro_operation_done(lro_future_operation(f)), 1);
    CHECK_EQ_INT(lro_status_code(lro_operation_error(lro_future_operation(f))), LRO_CODE_CANCELLED);
    lro_future_unref(f);
    /* Cancel of an unknown name: NOT_FOUND. */
    CHECK_EQ_INT(lro_cancel(cli, PARENT "/nope", NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_NOT_FOUND);
    lro_future_unref(f);
    /* Delete, then it is gone. */
    CHECK_EQ_INT(lro_delete(cli, op_name(5), NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    f = get_sync(op_name(5));
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_NOT_FOUND);
    lro_future_unref(f);
    /* Wait: held by the server until the operation completes. */
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/w1", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_wait(cli, PARENT "/w1", 20000, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_test_server_complete(srv, PARENT "/w1", 100, NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_operation_done(lro_future_operation(f)), 1);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(srv, LRO_TEST_WAIT, PARENT "/w1");
    CHECK_EQ_INT(lro_test_record_wait_timeout_ms(r), 20000);
    lro_test_record_free(r);
    /* Wait with a short server timeout on something that stays pending. */
    CHECK_EQ_INT(lro_wait(cli, op_name(10), 200, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_operation_done(lro_future_operation(f)), 0);
    lro_future_unref(f);
}

static void test_then_and_wait_timeout(void)
{
    CHECK_EQ_INT(lro_test_server_put_pending(srv, PARENT "/t1", NULL, NULL, 0), LRO_OK);
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_wait(cli, PARENT "/t1", 20000, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_is_done(f), 0);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_NOT_DONE);
    CHECK(lro_future_status(f) == NULL);
    CHECK_EQ_INT(lro_future_wait(f, 0), LRO_ERR_TIMEOUT);
    CHECK_EQ_INT(lro_future_wait(f, 30), LRO_ERR_TIMEOUT);
    counter k = {0};
    CHECK_EQ_INT(lro_future_then(f, count_cb, &k, count_free), LRO_OK);
    CHECK_EQ_INT(lro_future_then(f, count_cb, &k, count_free), LRO_ERR_STATE);
    CHECK_EQ_INT(lro_test_server_complete(srv, PARENT "/t1", 0, NULL, NULL, 0), LRO_OK);
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    CHECK_EQ_INT(atomic_load(&k.last_result), LRO_OK);
    /* then() on a future that is already done still runs, once. */
    counter k2 = {0};
    CHECK_EQ_INT(lro_future_then(f, count_cb, &k2, count_free), LRO_ERR_STATE);
    lro_future_unref(f);
    CHECK_EQ_INT(lro_get(cli, op_name(0), NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_then(f, count_cb, &k2, count_free), LRO_OK);
    WAIT_UNTIL(atomic_load(&k2.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k2.calls), 1);
    lro_future_unref(f);
}

static void test_errors_texts(void)
{
    CHECK_EQ_STR(lro_err_name(LRO_ERR_BAD_NAME), "LRO_ERR_BAD_NAME");
    CHECK(strstr(lro_strerror(LRO_ERR_SHUTDOWN), "shut down") != NULL);
    CHECK_EQ_STR(lro_err_name(-999), "LRO_ERR_UNKNOWN");
    CHECK_EQ_STR(lro_code_name(LRO_CODE_UNAVAILABLE), "UNAVAILABLE");
    CHECK_EQ_STR(lro_code_name(17), "UNKNOWN_CODE");
    CHECK_EQ_INT(lro_version(), LRO_VERSION_NUMBER);
    CHECK_EQ_STR(lro_version_string(), LRO_VERSION_STRING);
}

int main(void)
{
    srv = start_server(37);
    cli = make_client(srv);
    RUN(test_errors_texts);
    RUN(test_get_succeeded);
    RUN(test_get_failed_with_details);
    RUN(test_get_pending_has_metadata);
    RUN(test_get_not_found);
    RUN(test_bad_names_never_call_back);
    RUN(test_routing_and_headers);
    RUN(test_default_headers_and_token);
    RUN(test_list_pages);
    RUN(test_cancel_delete_wait);
    RUN(test_then_and_wait_timeout);
    lro_client_destroy(cli);
    lro_test_server_stop(srv);
    fprintf(stderr, "calls_test: all passed\n");
    return 0;
}
