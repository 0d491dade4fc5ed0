/* The default logger (LRO_LOG) and grpc's lines routed through it, with a
 * bearer token and an API key on every call and grpc's HTTP trace on (which
 * prints request headers): every line on stderr is captured to a file and
 * none may contain a secret. Its own binary: LRO_LOG, GRPC_TRACE and
 * GRPC_VERBOSITY are read once per process. */
#include <string.h>

#include "harness.h"
#include "lro/events.h"

static char *slurp_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

int main(void)
{
    setenv("LRO_LOG", "debug", 1);
    setenv("GRPC_VERBOSITY", "DEBUG", 1);
    setenv("GRPC_TRACE", "http", 1);
    const char *dir = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/log_test_stderr.txt", dir);
    int saved = dup(2);
    CHECK(freopen(path, "w", stderr) != NULL);

    CHECK_EQ_INT(lro_log_route_grpc(1), LRO_OK);
    lro_test_server *s = start_server(2);
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, "SEKRETbearer0", 1), LRO_OK);
    CHECK_EQ_INT(lro_client_options_add_header(o, "x-api-key", "SEKRETapikey1"), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    f.code = LRO_CODE_UNAVAILABLE;
    f.times = 1;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &f), LRO_OK);
    lro_header h = {"x-goog-api-key", "SEKRETcallkey2", 0};
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.headers = &h;
    co.header_count = 1;
    lro_future *fu = NULL;
    CHECK_EQ_INT(lro_get(c, op_name(1), &co, NULL, NULL, NULL, &fu), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(fu, -1), LRO_OK);
    CHECK_EQ_INT(lro_future_result(fu), LRO_OK);
    lro_future_unref(fu);
    CHECK_EQ_INT(lro_get(c, "operations/nope", NULL, NULL, NULL, NULL, &fu), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(fu, -1), LRO_OK);
    lro_future_unref(fu);
    lro_client_destroy(c);
    lro_test_server_stop(s);
    CHECK_EQ_INT(lro_log_route_grpc(0), LRO_OK);
    fflush(stderr);
    dup2(saved, 2);

    const char *all = slurp_file(path);
    /* lro-c's own lines, at each level the workload produces. */
    CHECK(strstr(all, "lro: info: creating a client: target 127.0.0.1:") != NULL);
    CHECK(strstr(all, "lro: debug: event kind=CALL_STARTED") != NULL);
    CHECK(strstr(all, "lro: debug: event kind=ATTEMPT_FINISHED") != NULL);
    CHECK(strstr(all, "lro: info: GetOperation " PARENT "/op-00001: attempt 1 ended UNAVAILABLE, "
                      "retry in ") != NULL);
    CHECK(strstr(all, "lro: warn: GetOperation operations/nope failed: NOT_FOUND") != NULL);
    CHECK(strstr(all, "lro: info: channel 0: READY") != NULL);
    /* grpc's lines came through the same path (its HTTP trace prints the
     * request headers, authorization included). */
    CHECK(strstr(all, "\ngrpc: ") != NULL);
    int leaked = strstr(all, "SEKRET") != NULL;
    if (leaked) {
        const char *p = strstr(all, "SEKRET");
        const char *b = p;
        while (b > all && b[-1] != '\n') {
            b--;
        }
        fprintf(stderr, "leaked in: %.300s\n", b);
    }
    CHECK(!leaked);
    fprintf(stderr, "log_test: %zu bytes of log, no secret\n", strlen(all));
    return 0;
}
