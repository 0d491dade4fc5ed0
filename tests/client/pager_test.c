/* The pager: async pages, blocking row iteration, resume from a saved
 * token, bad tokens, and "never fetches a page twice" (counted on the server). */
#include "harness.h"

static lro_test_server *srv;
static lro_client *cli;

static void test_step_all(void)
{
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 7;
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    CHECK_EQ_STR(lro_pager_page_token(p), "");
    uint64_t before = lro_test_server_call_count(srv, LRO_TEST_LIST, PARENT);
    const lro_operation *op = NULL;
    int n = 0, rc;
    while ((rc = lro_pager_step(p, -1, &op)) == LRO_OK) {
        CHECK_EQ_STR(lro_operation_name(op), op_name(n));
        n++;
    }
    CHECK_EQ_INT(rc, LRO_ERR_END);
    CHECK_EQ_INT(n, 50);
    CHECK_EQ_INT(lro_pager_done(p), 1);
    CHECK(lro_pager_page_token(p) == NULL);
    /* 50 / 7 -> 8 pages, each fetched exactly once. */
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_LIST, PARENT) - before, 8);
    CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_ERR_END);
    CHECK_EQ_INT(lro_pager_next_page(p, NULL, NULL, NULL, NULL), LRO_ERR_END);
    CHECK_EQ_INT(lro_test_server_call_count(srv, LRO_TEST_LIST, PARENT) - before, 8);
    lro_pager_destroy(p);
}

static void test_async_pages_and_resume(void)
{
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 20;
    la.filter = "done=true";
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    lro_future *f = NULL;
    counter k = {0};
    /* Hold the first page on the server so a second fetch finds it in flight. */
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_LIST;
    fl.kind = LRO_TEST_FAULT_LATENCY;
    fl.latency_ms = 300;
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    CHECK_EQ_INT(lro_pager_next_page(p, count_cb, &k, count_free, &f), LRO_OK);
    /* One fetch at a time. */
    CHECK_EQ_INT(lro_pager_next_page(p, NULL, NULL, NULL, NULL), LRO_ERR_STATE);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    CHECK_EQ_INT(lro_page_count(lro_future_page(f)), 20);
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    /* Save the token, throw the pager away, resume in a new one. */
    char saved[512];
    snprintf(saved, sizeof saved, "%s", lro_pager_page_token(p));
    CHECK(saved[0] != '\0');
    CHECK_EQ_STR(saved, lro_page_next_token(lro_future_page(f)));
    lro_future_unref(f);
    lro_pager_destroy(p);
    la.page_token = saved;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    const lro_operation *op = NULL;
    int n = 0;
    while (lro_pager_step(p, -1, &op) == LRO_OK) {
        CHECK_EQ_INT(lro_operation_done(op), 1);
        n++;
    }
    /* done=true among 50: all but i % 4 == 2 (12 of them) = 38; 20 already seen. */
    CHECK_EQ_INT(n, 18);
    lro_pager_destroy(p);
}

static void test_bad_token(void)
{
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_token = "garbage-token";
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    const lro_operation *op = NULL;
    CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_pager_status(p)), LRO_CODE_INVALID_ARGUMENT);
    /* The pager did not advance: the same token is tried again. */
    CHECK_EQ_STR(lro_pager_page_token(p), "garbage-token");
    lro_pager_destroy(p);
    /* Invalid arguments are refused up front. */
    la.page_token = NULL;
    la.page_size = -3;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(lro_pager_create(cli, "", NULL, NULL, &p), LRO_ERR_BAD_NAME);
}

/* Steps a pager of page_size through its first page, then makes the next
 * List fail `times` times with `code`: the step reports the status, and the
 * steps after it go on, in order, to the end of the 50 operations. Returns
 * the pager (the caller destroys it). */
static lro_pager *fail_page_then_resume(int32_t page_size, int times, int code, const char *message)
{
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = page_size;
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    const lro_operation *op = NULL;
    int n = 0;
    for (; n < page_size; n++) {
        CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_OK);
    }
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_LIST;
    fl.times = times;
    fl.code = code;
    fl.message = message;
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_pager_status(p)), code);
    int rc;
    while ((rc = lro_pager_step(p, -1, &op)) == LRO_OK) {
        CHECK_EQ_STR(lro_operation_name(op), op_name(n));
        n++;
    }
    CHECK_EQ_INT(rc, LRO_ERR_END);
    CHECK_EQ_INT(n, 50);
    return p;
}

static void test_failed_page_then_retry(void)
{
    /* The second page fails once (non-retryable code): the pager keeps its
     * place and the next step fetches the same page again. */
    lro_pager_destroy(fail_page_then_resume(25, 1, LRO_CODE_PERMISSION_DENIED, "not now"));
}

/* The next page fails with UNAVAILABLE on every attempt the call's retry
 * policy allows (a server briefly down): the pager reports it, keeps its
 * place, and the next step resumes with that page; the pages it already
 * returned are never asked for again (counted in the server's records). */
static void test_transient_failure_resumes(void)
{
    lro_test_server_clear_records(srv);
    /* 4: the default retry policy's attempts. */
    lro_pager *p = fail_page_then_resume(20, 4, LRO_CODE_UNAVAILABLE, "down for a moment");
    /* Page 1 once; page 2 four times failed + once answered; page 3 once. */
    size_t first = 0, lists = 0;
    for (size_t i = 0; i < lro_test_server_record_count(srv); i++) {
        lro_test_record *r = lro_test_server_record(srv, i);
        if (lro_test_record_method(r) == LRO_TEST_LIST) {
            lists++;
            first += lro_test_record_page_token(r)[0] == '\0';
        }
        lro_test_record_free(r);
    }
    CHECK_EQ_INT((int)first, 1);
    CHECK_EQ_INT((int)lists, 1 + 5 + 1);
    lro_pager_destroy(p);
}

static void test_unreachable(void)
{
    const char *locs[] = {"projects/demo/locations/us-east1", "projects/demo/locations/eu-west4"};
    CHECK_EQ_INT(lro_test_server_set_unreachable(srv, PARENT, locs, 2), LRO_OK);
    /* Without return_partial_success the server refuses the whole listing. */
    lro_retry_policy once = LRO_RETRY_POLICY_INIT;
    once.max_attempts = 1;
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.retry = &once;
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, NULL, &co, &p), LRO_OK);
    const lro_operation *op = NULL;
    CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_pager_status(p)), LRO_CODE_UNAVAILABLE);
    lro_pager_destroy(p);
    /* With it: every operation, and the unreachable locations surfaced. */
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 16;
    la.return_partial_success = 1;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    int n = 0;
    while (lro_pager_step(p, -1, &op) == LRO_OK) {
        n++;
    }
    CHECK_EQ_INT(n, 50);
    CHECK_EQ_INT(lro_pager_unreachable_count(p), 2);
    CHECK_EQ_STR(lro_pager_unreachable(p, 0), locs[0]);
    CHECK_EQ_STR(lro_pager_unreachable(p, 1), locs[1]);
    CHECK(lro_pager_unreachable(p, 2) == NULL);
    lro_pager_destroy(p);
    /* A single page shows them too. */
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_list(cli, PARENT, &la, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
    CHECK_EQ_INT(lro_page_unreachable_count(lro_future_page(f)), 2);
    CHECK_EQ_STR(lro_page_unreachable(lro_future_page(f), 1), locs[1]);
    lro_future_unref(f);
    CHECK_EQ_INT(lro_test_server_set_unreachable(srv, PARENT, NULL, 0), LRO_OK);
}

int main(void)
{
    srv = start_server(50);
    cli = make_client(srv);
    RUN(test_step_all);
    RUN(test_async_pages_and_resume);
    RUN(test_bad_token);
    RUN(test_failed_page_then_retry);
    RUN(test_unreachable);
    RUN(test_transient_failure_resumes);
    lro_client_destroy(cli);
    lro_test_server_stop(srv);
    fprintf(stderr, "pager_test: all passed\n");
    return 0;
}
