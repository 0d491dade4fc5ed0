/* A program outside lro-c's build that embeds the test server: it links
 * liblro_testing through `pkg-config lro-testing` (which requires lro) and
 * talks to the server with the client. tests/consumers builds it shared and
 * fully static (liblro_testing.a + liblro.a in one program: no duplicate
 * symbol may exist between them). Exits 0 when every answer is right.
 *
 * It also pins the documented allocator split: the application installs a
 * tagged allocator in liblro (every block carries a magic word its free_fn
 * checks, so memory from any other allocator aborts). The client must use
 * it; the server (its own private copy of the hook) must not, and what
 * lro_test_server_get returns must go back through lro_test_free. */
#include <lro/lro.h>
#include <lro/lro_pb.h>
#include <lro/testing.h>

#include <protobuf-c/protobuf-c.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer_testing: %s:%d: expected %s\n", __FILE__, __LINE__, #cond);  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- the tagged allocator ------------------------------------------------------ */
#define TAG 0x6c726f2d74616721ull /* "lro-tag!" */
#define HDR 16                    /* keeps malloc's alignment */
static unsigned long g_allocs;    /* the client runs one I/O thread: approximate */

static void *t_malloc(size_t n, void *ctx)
{
    (void)ctx;
    unsigned char *p = malloc(n + HDR);
    if (p == NULL) {
        return NULL;
    }
    unsigned long long tag = TAG;
    memcpy(p, &tag, sizeof tag);
    __atomic_add_fetch(&g_allocs, 1, __ATOMIC_RELAXED);
    return p + HDR;
}

static unsigned char *t_check(void *q)
{
    unsigned char *p = (unsigned char *)q - HDR;
    unsigned long long tag;
    memcpy(&tag, p, sizeof tag);
    if (tag != TAG) {
        fprintf(stderr, "consumer_testing: a block not from the application's allocator reached "
                        "its free_fn\n");
        abort();
    }
    return p;
}

static void *t_realloc(void *q, size_t n, void *ctx)
{
    if (q == NULL) {
        return t_malloc(n, ctx);
    }
    unsigned char *p = realloc(t_check(q), n + HDR);
    return p != NULL ? p + HDR : NULL;
}

static void t_free(void *q, void *ctx)
{
    (void)ctx;
    if (q != NULL) {
        free(t_check(q));
    }
}

int main(void)
{
    static const lro_allocator a = {t_malloc, t_realloc, t_free, NULL};
    lro_set_allocator(&a);

    lro_test_server *s = NULL;
    EXPECT(lro_test_server_start(NULL, &s) == LRO_OK);
    if (s == NULL) {
        return 1;
    }
    /* google.protobuf.StringValue "done" */
    static const uint8_t resp[] = {0x0a, 0x04, 'd', 'o', 'n', 'e'};
    static const char url[] = "type.googleapis.com/google.protobuf.StringValue";
    EXPECT(lro_test_server_put_pending(s, "ops/build-1", NULL, NULL, 0) == LRO_OK);
    EXPECT(lro_test_server_complete(s, "ops/build-1", 0, url, resp, sizeof resp) == LRO_OK);
    EXPECT(lro_test_server_count(s) == 1);
    /* The server allocated, but not through the application's hook. */
    EXPECT(__atomic_load_n(&g_allocs, __ATOMIC_RELAXED) == 0);

    lro_client_options *o = NULL;
    lro_client *c = NULL;
    EXPECT(lro_client_options_create(&o) == LRO_OK);
    EXPECT(lro_client_options_set_target(o, lro_test_server_target(s)) == LRO_OK);
    EXPECT(lro_client_options_set_plaintext(o) == LRO_OK);
    EXPECT(lro_client_create(o, &c) == LRO_OK);
    lro_client_options_destroy(o);
    if (c == NULL) {
        lro_test_server_stop(s);
        return 1;
    }
    /* The client did allocate through it. */
    EXPECT(__atomic_load_n(&g_allocs, __ATOMIC_RELAXED) > 0);

    lro_future *f = NULL;
    EXPECT(lro_get(c, "ops/build-1", NULL, NULL, NULL, NULL, &f) == LRO_OK);
    EXPECT(lro_future_wait(f, 30000) == LRO_OK);
    EXPECT(lro_future_result(f) == LRO_OK);
    const lro_operation *op = lro_future_operation(f);
    EXPECT(op != NULL);
    if (op != NULL) {
        /* Typed access through the installed lro_pb.h and lro/pb/ headers. */
        const Google__Longrunning__Operation *pb = lro_operation_pb(op);
        EXPECT(strcmp(pb->name, "ops/build-1") == 0);
        EXPECT(pb->done);
        EXPECT(pb->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE);
        EXPECT(pb->response != NULL && strcmp(pb->response->type_url, url) == 0);
        EXPECT(pb->response != NULL && pb->response->value.len == sizeof resp &&
               memcmp(pb->response->value.data, resp, sizeof resp) == 0);
        /* protobuf-c's generic functions work through the message's own
         * descriptor: re-encoding gives the server's stored bytes. */
        uint8_t *stored = NULL;
        size_t n = 0;
        EXPECT(lro_test_server_get(s, "ops/build-1", &stored, &n) == LRO_OK);
        size_t m = protobuf_c_message_get_packed_size(&pb->base);
        uint8_t *re = malloc(m ? m : 1);
        EXPECT(re != NULL && protobuf_c_message_pack(&pb->base, re) == m);
        EXPECT(stored != NULL && re != NULL && m == n && memcmp(re, stored, n) == 0);
        free(re);
        lro_test_free(stored); /* lro_free here would abort in t_free */
    }
    lro_future_unref(f);
    EXPECT(lro_test_server_call_count(s, LRO_TEST_GET, "ops/build-1") == 1);

    lro_client_destroy(c);
    lro_test_server_stop(s);
    if (failures == 0) {
        printf("consumer_testing: ok (lro-c %s)\n", lro_version_string());
    }
    return failures == 0 ? 0 : 1;
}
