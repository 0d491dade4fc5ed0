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

static void test_failed_page_then_retry(void)
{
    /* The second page fails once (non-retryable code): the pager keeps its
     * place and the next step fetches the same page again. */
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 25;
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(cli, PARENT, &la, NULL, &p), LRO_OK);
    const lro_operation *op = NULL;
    int n = 0;
    for (; n < 25; n++) {
        CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_OK);
    }
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_LIST;
    fl.code = LRO_CODE_PERMISSION_DENIED;
    fl.message = "not now";
    CHECK_EQ_INT(lro_test_server_add_fault(srv, &fl), LRO_OK);
    CHECK_EQ_INT(lro_pager_step(p, -1, &op), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_pager_status(p)), LRO_CODE_PERMISSION_DENIED);
    int rc;
    while ((rc = lro_pager_step(p, -1, &op)) == LRO_OK) {
        CHECK_EQ_STR(lro_operation_name(op), op_name(n));
        n++;
    }
    CHECK_EQ_INT(rc, LRO_ERR_END);
    CHECK_EQ_INT(n, 50);
    lro_pager_destroy(p);
}

int main(void)
{
    srv = start_server(50);
    cli = make_client(srv);
    RUN(test_step_all);
    RUN(test_async_pages_and_resume);
    RUN(test_bad_token);
    RUN(test_failed_page_then_retry);
    lro_client_destroy(cli);
    lro_test_server_stop(srv);
    fprintf(stderr, "pager_test: all passed\n");
    return 0;
}
