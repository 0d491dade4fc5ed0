/* ABI probe: compiled against the public headers only (C11 and C99
 * -pedantic), it checks the rules of lro/common.h that a binding relies on:
 *  - every versioned struct ends exactly at the end of its last member (no
 *    tail padding), with the sizes and offsets the comments promise on LP64;
 *  - struct_size is accepted for exactly the documented sizes and refused
 *    (LRO_ERR_INVALID_ARG, nothing started, a message naming the struct and
 *    the sizes) for every other value, mid-field and larger ones included;
 *  - 0.1's lro_call_options (40 bytes, {key, value} headers) still works
 *    against a real server.
 * The struct_size checks run against the embedded server on loopback. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "lro/lro.h"
#include "lro/testing.h"

#define PARENT "projects/p/locations/l/operations"

/* 0.1's layouts, as a binding written against 0.1 would declare them. */
struct header_0_1 {
    const char *key;
    const char *value;
};
struct call_options_0_1 {
    uint32_t struct_size;
    int64_t timeout_ms;
    const struct header_0_1 *headers;
    size_t header_count;
    const lro_retry_policy *retry;
};

static lro_test_server *g_srv;
static lro_client *g_client;

/* ---- layout -------------------------------------------------------------- */

/* Where int64_t sits after a char: 8 on LP64 (x86_64, aarch64), 4 on i386. */
struct align64 {
    char c;
    int64_t x;
};

#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static void test_no_tail_padding(void)
{
    /* The headers assert it at compile time; this proves the assertions are
     * real and pins the sizes the comments document. */
    CHECK_EQ_INT(sizeof(lro_retry_policy), END_OF(lro_retry_policy, reserved0));
    CHECK_EQ_INT(sizeof(lro_call_options), END_OF(lro_call_options, tracestate));
    CHECK_EQ_INT(sizeof(lro_list_args), END_OF(lro_list_args, reserved0));
    CHECK_EQ_INT(sizeof(lro_poll_policy), END_OF(lro_poll_policy, progress_interval_ms));
    CHECK_EQ_INT(sizeof(lro_header), END_OF(lro_header, value_len));
    CHECK_EQ_INT(sizeof(lro_test_server_options),
                 END_OF(lro_test_server_options, tls_client_ca_pem));
    CHECK_EQ_INT(sizeof(lro_test_fault), END_OF(lro_test_fault, reason));
    /* struct_size is the first member of every versioned struct. */
    CHECK_EQ_INT(offsetof(lro_retry_policy, struct_size), 0);
    CHECK_EQ_INT(offsetof(lro_call_options, struct_size), 0);
    CHECK_EQ_INT(offsetof(lro_list_args, struct_size), 0);
    CHECK_EQ_INT(offsetof(lro_poll_policy, struct_size), 0);
    /* No enums: the former enum members and parameters are 4 bytes whatever
     * the compiler flags (-fshort-enums). */
    CHECK_EQ_INT(sizeof(((lro_poll_policy *)0)->method), 4);
    CHECK_EQ_INT(sizeof(lro_mode), 4);
    CHECK_EQ_INT(sizeof(lro_await_method), 4);
    CHECK_EQ_INT(sizeof(((lro_test_fault *)0)->kind), 4);
    CHECK_EQ_INT(sizeof(((lro_list_args *)0)->return_partial_success), 4);
    if (sizeof(void *) == 8 && sizeof(size_t) == 8 && offsetof(struct align64, x) == 8) {
        /* LP64: the sizes named in the headers' comments (and in 0.1). */
        CHECK_EQ_INT(sizeof(lro_retry_policy), 56);
        CHECK_EQ_INT(sizeof(lro_call_options), 72);
        CHECK_EQ_INT(sizeof(struct call_options_0_1), 40);
        CHECK_EQ_INT(sizeof(lro_list_args), 40);
        CHECK_EQ_INT(sizeof(lro_poll_policy), 88);
        CHECK_EQ_INT(offsetof(lro_poll_policy, transient_budget_ms), 64); /* 0.1's size */
        CHECK_EQ_INT(offsetof(lro_poll_policy, method), 48);
        CHECK_EQ_INT(sizeof(lro_header), 24);
        CHECK_EQ_INT(sizeof(lro_test_server_options), 88);
        CHECK_EQ_INT(offsetof(lro_test_server_options, max_concurrent_streams), 56);
        CHECK_EQ_INT(sizeof(lro_test_fault), 112);
        CHECK_EQ_INT(offsetof(lro_test_fault, name_suffix), 96);
    }
}

/* ---- struct_size ------------------------------------------------------------ */

/* Calls `try_size(n)` for every n in 0..sizeof+32 and a few large values;
 * known sizes must give LRO_OK, all others LRO_ERR_INVALID_ARG with the text
 * "<what>.struct_size <n> is not a size this library knows (<known>)". */
typedef int (*try_fn)(uint32_t size);

static void sweep(const char *what, size_t cur_size, const uint32_t *known, size_t n_known,
                  const char *known_text, try_fn try_size, int check_text)
{
    static const uint32_t big[] = {1000, 4096, 65536, UINT32_MAX};
    size_t n_sizes = cur_size + 33 + sizeof big / sizeof big[0];
    for (size_t i = 0; i < n_sizes; i++) {
        uint32_t n = i <= cur_size + 32 ? (uint32_t)i : big[i - cur_size - 33];
        int ok = 0;
        for (size_t k = 0; k < n_known; k++) {
            ok |= known[k] == n;
        }
        int rc = try_size(n);
        if (ok) {
            if (rc != LRO_OK) {
                fprintf(stderr, "%s.struct_size %u refused: %s\n", what, n, lro_last_error());
            }
            CHECK_EQ_INT(rc, LRO_OK);
            continue;
        }
        if (rc != LRO_ERR_INVALID_ARG) {
            fprintf(stderr, "%s.struct_size %u: rc %d\n", what, n, rc);
        }
        CHECK_EQ_INT(rc, LRO_ERR_INVALID_ARG);
        if (check_text) {
            char want[160];
            snprintf(want, sizeof want, "%s.struct_size %u is not a size this library knows (%s)",
                     what, n, known_text);
            if (strstr(lro_last_error(), want) == NULL) {
                fprintf(stderr, "want \"%s\" in \"%s\"\n", want, lro_last_error());
                CHECK(0);
            }
        }
    }
}

/* Big enough for any size the sweep reads (only the first 4 bytes are read
 * for a refused size; the rest must never be). */
static union {
    unsigned char bytes[256];
    lro_retry_policy retry;
    lro_call_options call;
    lro_list_args list;
    lro_poll_policy poll;
    lro_test_server_options so;
    lro_test_fault fault;
} g_buf;

static int try_retry(uint32_t size)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    g_buf.retry = (lro_retry_policy)LRO_RETRY_POLICY_INIT;
    g_buf.retry.struct_size = size;
    int rc = lro_client_options_set_retry(o, &g_buf.retry);
    lro_client_options_destroy(o);
    return rc;
}

/* A Get that must finish (found) when it started. */
static int finish(int rc, lro_future *f)
{
    if (rc == LRO_OK) {
        CHECK_EQ_INT(lro_future_wait(f, 60000), LRO_OK);
        int r = lro_future_result(f);
        lro_future_unref(f);
        return r;
    }
    CHECK(f == (lro_future *)0x1); /* untouched when refused */
    return rc;
}

static int try_call(uint32_t size)
{
    g_buf.call = (lro_call_options)LRO_CALL_OPTIONS_INIT;
    g_buf.call.struct_size = size;
    lro_future *f = (lro_future *)0x1;
    int rc = lro_get(g_client, PARENT "/op-00000", &g_buf.call, NULL, NULL, NULL, &f);
    return finish(rc, f);
}

/* The retry policy inside call options is checked by the same rules. */
static int try_call_retry(uint32_t size)
{
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.struct_size = size;
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.retry = &rp;
    lro_future *f = (lro_future *)0x1;
    int rc = lro_get(g_client, PARENT "/op-00000", &co, NULL, NULL, NULL, &f);
    return finish(rc, f);
}

static int try_list(uint32_t size)
{
    g_buf.list = (lro_list_args)LRO_LIST_ARGS_INIT;
    g_buf.list.struct_size = size;
    g_buf.list.page_size = 2;
    lro_future *f = (lro_future *)0x1;
    int rc = lro_list(g_client, PARENT, &g_buf.list, NULL, NULL, NULL, NULL, &f);
    return finish(rc, f);
}

static int try_pager(uint32_t size)
{
    g_buf.list = (lro_list_args)LRO_LIST_ARGS_INIT;
    g_buf.list.struct_size = size;
    lro_pager *p = (lro_pager *)0x1;
    int rc = lro_pager_create(g_client, PARENT, &g_buf.list, NULL, &p);
    if (rc == LRO_OK) {
        lro_pager_destroy(p);
    } else {
        CHECK(p == (lro_pager *)0x1);
    }
    return rc;
}

static int try_poll(uint32_t size)
{
    g_buf.poll = (lro_poll_policy)LRO_POLL_POLICY_INIT;
    g_buf.poll.struct_size = size;
    lro_future *f = (lro_future *)0x1;
    /* op-00000 is done: the await ends after its first poll. */
    int rc = lro_await(g_client, PARENT "/op-00000", &g_buf.poll, NULL, NULL, NULL, NULL, NULL, &f);
    return finish(rc, f);
}

static int try_server_options(uint32_t size)
{
    g_buf.so = (lro_test_server_options)LRO_TEST_SERVER_OPTIONS_INIT;
    g_buf.so.struct_size = size;
    lro_test_server *s = (lro_test_server *)0x1;
    int rc = lro_test_server_start(&g_buf.so, &s);
    if (rc == LRO_OK) {
        lro_test_server_stop(s);
    } else {
        CHECK(s == (lro_test_server *)0x1);
    }
    return rc;
}

static int try_fault(uint32_t size)
{
    g_buf.fault = (lro_test_fault)LRO_TEST_FAULT_INIT;
    g_buf.fault.struct_size = size;
    g_buf.fault.name = "no-such-name"; /* never matches: harmless when added */
    g_buf.fault.code = LRO_CODE_UNAVAILABLE;
    return lro_test_server_add_fault(g_srv, &g_buf.fault);
}

static void test_struct_sizes(void)
{
    const uint32_t retry[] = {sizeof(lro_retry_policy)};
    const uint32_t call[] = {sizeof(struct call_options_0_1), sizeof(lro_call_options)};
    const uint32_t list[] = {sizeof(lro_list_args)};
    const uint32_t poll[] = {offsetof(lro_poll_policy, transient_budget_ms),
                             sizeof(lro_poll_policy)};
    const uint32_t so[] = {offsetof(lro_test_server_options, tls_cert_chain_pem),
                           offsetof(lro_test_server_options, max_concurrent_streams),
                           sizeof(lro_test_server_options)};
    const uint32_t fault[] = {offsetof(lro_test_fault, name_suffix), sizeof(lro_test_fault)};
    char t_retry[16], t_call[32], t_list[16], t_poll[32];
    snprintf(t_retry, sizeof t_retry, "%u", retry[0]);
    snprintf(t_call, sizeof t_call, "%u, %u", call[0], call[1]);
    snprintf(t_list, sizeof t_list, "%u", list[0]);
    snprintf(t_poll, sizeof t_poll, "%u, %u", poll[0], poll[1]);
    sweep("lro_retry_policy", sizeof(lro_retry_policy), retry, 1, t_retry, try_retry, 1);
    sweep("lro_retry_policy", sizeof(lro_retry_policy), retry, 1, t_retry, try_call_retry, 1);
    sweep("lro_call_options", sizeof(lro_call_options), call, 2, t_call, try_call, 1);
    sweep("lro_list_args", sizeof(lro_list_args), list, 1, t_list, try_list, 1);
    sweep("lro_list_args", sizeof(lro_list_args), list, 1, t_list, try_pager, 1);
    sweep("lro_poll_policy", sizeof(lro_poll_policy), poll, 2, t_poll, try_poll, 1);
    /* lro/testing.h is not one of the functions that record a text. */
    sweep("lro_test_server_options", sizeof(lro_test_server_options), so, 3, "", try_server_options,
          0);
    sweep("lro_test_fault", sizeof(lro_test_fault), fault, 2, "", try_fault, 0);
    lro_test_server_clear_faults(g_srv);
}

/* ---- 0.1 call options against a real server ------------------------------- */

static void test_call_options_0_1(void)
{
    struct header_0_1 h[2] = {{"x-old-one", "1"}, {"x-old-two", "two"}};
    struct call_options_0_1 co = {sizeof co, 5000, h, 2, NULL};
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(g_client, PARENT "/op-00001", (const lro_call_options *)(void *)&co, NULL,
                         NULL, NULL, &f),
                 LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, 60000), LRO_OK);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(g_srv, LRO_TEST_GET, PARENT "/op-00001");
    CHECK(r != NULL);
    CHECK_EQ_STR(lro_test_record_header(r, "x-old-one"), "1");
    CHECK_EQ_STR(lro_test_record_header(r, "x-old-two"), "two");
    /* timeout_ms 5000 was read from the 0.1 struct (the client default is 30 s;
     * grpc may round the header up a little). */
    CHECK(lro_test_record_deadline_ms(r) > 0 && lro_test_record_deadline_ms(r) < 10000);
    lro_test_record_free(r);

    /* Today's struct with header_size = 0.1's header size reads 0.1's layout. */
    lro_call_options nco = LRO_CALL_OPTIONS_INIT;
    nco.headers = (const lro_header *)(const void *)h;
    nco.header_count = 2;
    nco.header_size = sizeof h[0];
    CHECK_EQ_INT(lro_get(g_client, PARENT "/op-00002", &nco, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, 60000), LRO_OK);
    lro_future_unref(f);
    r = lro_test_server_last_record(g_srv, LRO_TEST_GET, PARENT "/op-00002");
    CHECK(r != NULL);
    CHECK_EQ_STR(lro_test_record_header(r, "x-old-two"), "two");
    lro_test_record_free(r);

    /* Any other header_size is refused. */
    nco.header_size = sizeof(lro_header) + 8;
    f = (lro_future *)0x1;
    CHECK_EQ_INT(lro_get(g_client, PARENT "/op-00002", &nco, NULL, NULL, NULL, &f),
                 LRO_ERR_INVALID_ARG);
    CHECK(f == (lro_future *)0x1);
    CHECK(strstr(lro_last_error(), "lro_call_options.header_size") != NULL);
}

int main(void)
{
    RUN(test_no_tail_padding);
    CHECK_EQ_INT(lro_test_server_start(NULL, &g_srv), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(g_srv, PARENT, 4), LRO_OK);
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(g_srv)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &g_client), LRO_OK);
    lro_client_options_destroy(o);
    RUN(test_struct_sizes);
    RUN(test_call_options_0_1);
    lro_client_destroy(g_client);
    lro_test_server_stop(g_srv);
    fprintf(stderr, "OK\n");
    return 0;
}
