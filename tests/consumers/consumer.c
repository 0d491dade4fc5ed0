/* A program that is not part of lro-c's build: tests/consumers copies it to a
 * temporary directory and builds it against an installed lro-c, with plain
 * cc + pkg-config, with CMake and statically. It uses lro only (not the
 * test server: that is consumer_testing.c). Usage: consumer TARGET (an
 * `lroctl serve` seeded with 20 operations). Exits 0 when every answer is
 * the expected one. */
#include <lro/lro.h>
#include <lro/lro_pb.h>  /* installed with the generated headers it needs */
#include <lro/testing.h> /* installed too; only compiled against here */

#include <stdio.h>
#include <string.h>

#define PARENT "projects/demo/locations/global/operations"

static int failures;

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "consumer: %s:%d: expected %s\n", __FILE__, __LINE__, #cond);          \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer TARGET\n");
        return 2;
    }
    EXPECT(lro_version() == LRO_VERSION_NUMBER);
    EXPECT(strcmp(lro_version_string(), LRO_VERSION_STRING) == 0);

    lro_client_options *o = NULL;
    lro_client *c = NULL;
    EXPECT(lro_client_options_create(&o) == LRO_OK);
    EXPECT(lro_client_options_set_target(o, argv[1]) == LRO_OK);
    EXPECT(lro_client_options_set_plaintext(o) == LRO_OK);
    EXPECT(lro_client_create(o, &c) == LRO_OK);
    lro_client_options_destroy(o);
    if (c == NULL) {
        return 1;
    }

    /* Get: op-00000 is done with a StringValue "result-0". */
    lro_future *f = NULL;
    EXPECT(lro_get(c, PARENT "/op-00000", NULL, NULL, NULL, NULL, &f) == LRO_OK);
    EXPECT(lro_future_wait(f, 30000) == LRO_OK);
    EXPECT(lro_future_result(f) == LRO_OK);
    const lro_operation *op = lro_future_operation(f);
    EXPECT(op != NULL);
    if (op != NULL) {
        const char *url = NULL;
        const uint8_t *v = NULL;
        size_t n = 0;
        EXPECT(strcmp(lro_operation_name(op), PARENT "/op-00000") == 0);
        EXPECT(lro_operation_done(op) == 1);
        int present = 0;
        EXPECT(lro_operation_response(op, &url, &v, &n, &present) == LRO_OK && present == 1);
        EXPECT(url && strcmp(url, "type.googleapis.com/google.protobuf.StringValue") == 0);
        char *json = NULL;
        EXPECT(lro_operation_to_json(op, 0, &json, NULL) == LRO_OK);
        EXPECT(json && strstr(json, "\"result-0\"") != NULL);
        lro_free(json);
    }
    lro_future_unref(f);

    /* An unknown name: the RPC fails with NOT_FOUND. */
    f = NULL;
    EXPECT(lro_get(c, PARENT "/nope", NULL, NULL, NULL, NULL, &f) == LRO_OK);
    EXPECT(lro_future_wait(f, 30000) == LRO_OK);
    EXPECT(lro_future_result(f) == LRO_ERR_RPC);
    EXPECT(lro_status_code(lro_future_status(f)) == LRO_CODE_NOT_FOUND);
    lro_future_unref(f);

    /* List: the first page of 5, in order, with a token for the next one. */
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 5;
    f = NULL;
    EXPECT(lro_list(c, PARENT, &la, NULL, NULL, NULL, NULL, &f) == LRO_OK);
    EXPECT(lro_future_wait(f, 30000) == LRO_OK);
    EXPECT(lro_future_result(f) == LRO_OK);
    const lro_page *pg = lro_future_page(f);
    EXPECT(pg != NULL && lro_page_count(pg) == 5);
    for (size_t i = 0; pg != NULL && i < lro_page_count(pg); i++) {
        char want[128];
        snprintf(want, sizeof want, PARENT "/op-%05zu", i);
        EXPECT(strcmp(lro_operation_name(lro_page_operation(pg, i)), want) == 0);
    }
    EXPECT(pg != NULL && lro_page_next_token(pg)[0] != '\0');
    lro_future_unref(f);

    /* The pager walks all 20. */
    lro_pager *p = NULL;
    EXPECT(lro_pager_create(c, PARENT, &la, NULL, &p) == LRO_OK);
    int rows = 0, rc;
    const lro_operation *row;
    while ((rc = lro_pager_step(p, 30000, &row)) == LRO_OK) {
        rows++;
    }
    EXPECT(rc == LRO_ERR_END);
    EXPECT(rows == 20);
    lro_pager_destroy(p);

    /* The same answer as protobuf-c structs (lro_pb.h): op-00003 succeeded
     * with a google.protobuf.Struct response. */
    f = NULL;
    EXPECT(lro_get(c, PARENT "/op-00003", NULL, NULL, NULL, NULL, &f) == LRO_OK);
    EXPECT(lro_future_wait(f, 30000) == LRO_OK);
    EXPECT(lro_future_result(f) == LRO_OK);
    if (lro_future_operation(f) != NULL) {
        const Google__Longrunning__Operation *pb = lro_operation_pb(lro_future_operation(f));
        EXPECT(strcmp(pb->name, PARENT "/op-00003") == 0);
        EXPECT(pb->done);
        EXPECT(pb->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE);
        EXPECT(strcmp(pb->response->type_url, "type.googleapis.com/google.protobuf.Struct") == 0);
    }
    lro_future_unref(f);

    lro_client_destroy(c);
    if (failures == 0) {
        printf("consumer: ok (lro-c %s)\n", lro_version_string());
    }
    return failures == 0 ? 0 : 1;
}
