/* The binding-facing conventions of lro/common.h, against the embedded
 * server on loopback:
 *  - LRO_OK + `present` out-parameters (metadata, response, RetryInfo delay);
 *  - binary "-bin" header values with NUL bytes reach the server intact,
 *    client-wide and per call, while NUL in a text value is refused;
 *  - lro_last_error(): the texts, cleared by a successful call, per thread,
 *    and never a token or header value. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "lro/lro.h"
#include "lro/testing.h"

#define PARENT "projects/p/locations/l/operations"
#define SECRET "sekrit-t0ken-9f8e7d"

static lro_test_server *g_srv;

static const char *op_name(int i)
{
    static char buf[128];
    snprintf(buf, sizeof buf, PARENT "/op-%05d", i);
    return buf;
}

static lro_client *make_client(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(g_srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    return c;
}

static lro_future *get_done(lro_client *c, const char *name, const lro_call_options *co)
{
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c, name, co, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, 60000), LRO_OK);
    return f;
}

#define CHECK_HAS(hay, needle)                                                                     \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL) {                                                     \
            fprintf(stderr, "%s:%d: \"%s\" not in \"%s\"\n", __FILE__, __LINE__, (needle), (hay)); \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- return convention ---------------------------------------------------- */

static void test_present_out_parameters(void)
{
    lro_client *c = make_client();
    /* op 0: done with a StringValue response, no metadata. */
    lro_future *f = get_done(c, op_name(0), NULL);
    const lro_operation *op = lro_future_operation(f);
    CHECK(op != NULL);
    const char *url = "x";
    const uint8_t *val = (const uint8_t *)"x";
    size_t len = 99;
    int present = -1;
    CHECK_EQ_INT(lro_operation_response(op, &url, &val, &len, &present), LRO_OK);
    CHECK_EQ_INT(present, 1);
    CHECK_EQ_STR(url, "type.googleapis.com/google.protobuf.StringValue");
    CHECK(val != NULL && len > 0);
    CHECK_EQ_INT(lro_operation_metadata(op, &url, &val, &len, &present), LRO_OK);
    CHECK_EQ_INT(present, 0);                      /* absent is not an error... */
    CHECK(url == NULL && val == NULL && len == 0); /* ...and leaves nothing stale */
    CHECK_EQ_INT(lro_operation_response(op, NULL, NULL, NULL, NULL), LRO_OK); /* all optional */
    /* No RetryInfo on an OK status. */
    int64_t ms = 42;
    CHECK_EQ_INT(lro_status_retry_delay_ms(lro_future_status(f), &ms, &present), LRO_OK);
    CHECK_EQ_INT(present, 0);
    CHECK_EQ_INT(ms, 0);
    lro_future_unref(f);

    /* op 2: pending with metadata, no response. */
    f = get_done(c, op_name(2), NULL);
    op = lro_future_operation(f);
    CHECK_EQ_INT(lro_operation_metadata(op, &url, NULL, &len, &present), LRO_OK);
    CHECK_EQ_INT(present, 1);
    CHECK_EQ_STR(url, "type.googleapis.com/google.protobuf.Struct");
    CHECK_EQ_INT(lro_operation_response(op, &url, NULL, NULL, &present), LRO_OK);
    CHECK_EQ_INT(present, 0);
    lro_future_unref(f);

    /* NULL views are an error, and say "absent" too. */
    present = -1;
    CHECK_EQ_INT(lro_operation_metadata(NULL, NULL, NULL, NULL, &present), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(present, 0);
    CHECK_EQ_INT(lro_status_retry_delay_ms(NULL, &ms, &present), LRO_ERR_INVALID_ARG);
    CHECK_EQ_INT(present, 0);

    /* A RetryInfo delay is found and reported with LRO_OK, never as 1. */
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.name = op_name(1);
    fl.code = LRO_CODE_RESOURCE_EXHAUSTED;
    fl.message = "slow down";
    fl.retry_delay_ms = 2500;
    CHECK_EQ_INT(lro_test_server_add_fault(g_srv, &fl), LRO_OK);
    lro_retry_policy once = LRO_RETRY_POLICY_INIT;
    once.max_attempts = 1;
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.retry = &once;
    f = get_done(c, op_name(1), &co);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_retry_delay_ms(lro_future_status(f), &ms, &present), LRO_OK);
    CHECK_EQ_INT(present, 1);
    CHECK_EQ_INT(ms, 2500);
    lro_future_unref(f);
    lro_test_server_clear_faults(g_srv);
    lro_client_destroy(c);
}

/* ---- binary headers --------------------------------------------------------- */

static void test_binary_header_with_nul(void)
{
    static const char client_bin[] = {'a', '\0', 'b', '\0', '\xff'};
    static const char call_bin[] = {'\0', '\x01', '\0'};
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(g_srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_add_header_n(o, "x-client-bin", client_bin, sizeof client_bin),
                 LRO_OK);
    /* NUL in a text value: refused, with the reason, not cut short. */
    CHECK_EQ_INT(lro_client_options_add_header_n(o, "x-text", "a\0b", 3), LRO_ERR_BAD_HEADER);
    CHECK_HAS(lro_last_error(), "header 'x-text' value has byte 0x00 at 1");
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);

    lro_header h[2] = {{"x-call-bin", call_bin, sizeof call_bin}, {"x-plain", "text", 0}};
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.headers = h;
    co.header_count = 2;
    lro_future *f = get_done(c, op_name(0), &co);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);

    lro_test_record *r = lro_test_server_last_record(g_srv, LRO_TEST_GET, op_name(0));
    CHECK(r != NULL);
    size_t n = 0;
    const char *v = lro_test_record_header_n(r, "x-client-bin", &n);
    CHECK(v != NULL);
    CHECK_EQ_INT(n, sizeof client_bin);
    CHECK(memcmp(v, client_bin, n) == 0);
    v = lro_test_record_header_n(r, "x-call-bin", &n);
    CHECK(v != NULL);
    CHECK_EQ_INT(n, sizeof call_bin);
    CHECK(memcmp(v, call_bin, n) == 0);
    CHECK_EQ_STR(lro_test_record_header_n(r, "x-plain", &n), "text"); /* value_len 0 = strlen */
    CHECK_EQ_INT(n, 4);
    lro_test_record_free(r);

    /* Per call, NUL in a text value is refused before anything is sent. */
    lro_header bad = {"x-plain", "a\0b", 3};
    co.headers = &bad;
    co.header_count = 1;
    f = (lro_future *)0x1;
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, &f), LRO_ERR_BAD_HEADER);
    CHECK(f == (lro_future *)0x1);
    CHECK_HAS(lro_last_error(), "header 'x-plain' value has byte 0x00 at 1");
    lro_client_destroy(c);
}

/* ---- lro_last_error ------------------------------------------------------------ */

static void test_last_error_texts(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_STR(lro_last_error(), "");

    /* No target. */
    lro_client *c = (lro_client *)0x1;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG);
    CHECK(c == (lro_client *)0x1);
    CHECK_HAS(lro_last_error(), "no target");

    /* Token over plaintext: the reason, and never the token. */
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(g_srv)), LRO_OK);
    CHECK_EQ_STR(lro_last_error(), ""); /* a success clears the previous text */
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, SECRET, 0), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG);
    CHECK_EQ_STR(lro_last_error(), "bearer token over plaintext: set allow_plaintext or use TLS");
    /* A token the setter refuses: position only. */
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, SECRET "\n", 0), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "bearer token has a byte outside printable ASCII");
    CHECK(strstr(lro_last_error(), "sekrit") == NULL);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, "tok en" SECRET, 1), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "at byte 3");
    CHECK(strstr(lro_last_error(), "sekrit") == NULL);
    /* A header value is never quoted either, only its key. */
    CHECK_EQ_INT(lro_client_options_add_header(o, "x-key", SECRET "\r\n"), LRO_ERR_BAD_HEADER);
    CHECK_HAS(lro_last_error(), "header 'x-key' value has byte 0x0d at 19");
    CHECK(strstr(lro_last_error(), "sekrit") == NULL);
    CHECK_EQ_INT(lro_client_options_add_header(o, "authorization", "Bearer " SECRET),
                 LRO_ERR_BAD_HEADER);
    CHECK_EQ_STR(lro_last_error(), "header key 'authorization' is reserved (see lro/client.h)");
    CHECK_EQ_INT(lro_client_options_add_header(o, "grpc-anything", "1"), LRO_ERR_BAD_HEADER);
    CHECK_HAS(lro_last_error(), "'grpc-anything' is reserved");
    CHECK_EQ_INT(lro_client_options_add_header(o, "X-Upper", "1"), LRO_ERR_BAD_HEADER);
    CHECK_HAS(lro_last_error(), "header key has character 0x58 at byte 0");
    /* Setters: a few texts. */
    CHECK_EQ_INT(lro_client_options_set_mode(o, 7), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "mode 7 is not LRO_MODE_THREAD or LRO_MODE_LOOP");
    CHECK_EQ_INT(lro_client_options_set_tls(o, "/etc/ssl/ca.pem"), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "not PEM text");
    CHECK_EQ_INT(lro_client_options_set_max_await_rpcs(o, -3), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "max await RPCs -3 is not in 0..2147483647");
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 0;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "lro_retry_policy.max_attempts 0 is not in 1..1000");
    CHECK_EQ_INT(lro_client_options_set_wakeup(o, NULL, NULL), LRO_OK);
    CHECK_EQ_STR(lro_last_error(), "");

    /* The token is allowed explicitly now: the client is created. */
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, SECRET, 1), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    CHECK_EQ_STR(lro_last_error(), "");
    lro_client_options_destroy(o);

    /* Call starters. */
    lro_future *f = (lro_future *)0x1;
    CHECK_EQ_INT(lro_get(c, "", NULL, NULL, NULL, NULL, &f), LRO_ERR_BAD_NAME);
    CHECK_EQ_STR(lro_last_error(), "name is empty");
    CHECK_EQ_INT(lro_get(c, "ops/ab\xc3(", NULL, NULL, NULL, NULL, &f), LRO_ERR_BAD_NAME);
    CHECK_EQ_STR(lro_last_error(), "name has invalid UTF-8 at byte 6");
    CHECK_EQ_INT(lro_delete(c, "ops/a\tb", NULL, NULL, NULL, NULL, &f), LRO_ERR_BAD_NAME);
    CHECK_EQ_STR(lro_last_error(), "name has control character 0x09 at byte 5");
    CHECK_EQ_INT(lro_get(NULL, op_name(0), NULL, NULL, NULL, NULL, &f), LRO_ERR_INVALID_ARG);
    CHECK_EQ_STR(lro_last_error(), "client is NULL");
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.struct_size = 12;
    CHECK_EQ_INT(lro_list(c, PARENT, &la, NULL, NULL, NULL, NULL, &f), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "lro_list_args.struct_size 12 is not a size this library knows");
    la.struct_size = sizeof la;
    la.page_size = -1;
    CHECK_EQ_INT(lro_list(c, PARENT, &la, NULL, NULL, NULL, NULL, &f), LRO_ERR_INVALID_ARG);
    CHECK_EQ_STR(lro_last_error(), "lro_list_args.page_size -1 is negative");
    la.page_size = 0;
    la.filter = "done=\xff";
    lro_pager *p = NULL;
    CHECK_EQ_INT(lro_pager_create(c, PARENT, &la, NULL, &p), LRO_ERR_INVALID_ARG);
    CHECK_EQ_STR(lro_last_error(), "lro_list_args.filter has invalid UTF-8 at byte 5");
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = 9;
    CHECK_EQ_INT(lro_await(c, op_name(0), &pp, NULL, NULL, NULL, NULL, NULL, &f),
                 LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "lro_poll_policy.method 9");
    CHECK(f == (lro_future *)0x1); /* nothing started */

    /* A started call clears the text; the token went on the wire, not into
     * any text. */
    f = get_done(c, op_name(0), NULL);
    CHECK_EQ_STR(lro_last_error(), "");
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(g_srv, LRO_TEST_GET, op_name(0));
    CHECK(r != NULL);
    CHECK_EQ_STR(lro_test_record_header(r, "authorization"), "Bearer " SECRET);
    lro_test_record_free(r);
    lro_client_destroy(c);
}

/* Another thread's failure never shows on this thread. */
static void *fail_on_other_thread(void *arg)
{
    (void)arg;
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, ""), LRO_ERR_INVALID_ARG);
    CHECK_EQ_STR(lro_last_error(), "target is empty");
    lro_client_options_destroy(o);
    return NULL;
}

static void test_last_error_is_per_thread(void)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_lb_policy(o, "Round-Robin"), LRO_ERR_INVALID_ARG);
    CHECK_HAS(lro_last_error(), "lb policy has character 0x52 at byte 0");
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, fail_on_other_thread, NULL), 0);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    CHECK_HAS(lro_last_error(), "lb policy has character 0x52 at byte 0");
    lro_client_options_destroy(o);
}

int main(void)
{
    CHECK_EQ_INT(lro_test_server_start(NULL, &g_srv), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(g_srv, PARENT, 4), LRO_OK);
    RUN(test_present_out_parameters);
    RUN(test_binary_header_with_nul);
    RUN(test_last_error_texts);
    RUN(test_last_error_is_per_thread);
    lro_test_server_stop(g_srv);
    fprintf(stderr, "OK\n");
    return 0;
}
