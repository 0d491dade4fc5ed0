/*
 * demo_server.c - runs the embedded Operations server for a client written
 * elsewhere (the python3-grpcio interop test). Seeds 20 operations under
 * projects/demo/locations/global/operations, completes op-00006 after
 * 300 ms, prints the target on the first line of stdout, serves until stdin
 * reaches EOF, then prints what it recorded ("calls <n>", "header <key>
 * <value in the first call>") and stops.
 *
 * Usage: demo_server [listen-address] [header-key-to-report]
 */
#include <stdio.h>
#include <string.h>

#include "lro/testing.h"

#define PARENT "projects/demo/locations/global/operations"

int main(int argc, char **argv)
{
    lro_test_server_options o = LRO_TEST_SERVER_OPTIONS_INIT;
    o.listen = argc > 1 ? argv[1] : NULL;
    o.wait_cap_ms = 10000;
    lro_test_server *s;
    int rc = lro_test_server_start(&o, &s);
    if (rc != LRO_OK) {
        fprintf(stderr, "demo_server: start: %s\n", lro_strerror(rc));
        return 1;
    }
    if (lro_test_server_seed(s, PARENT, 20) != LRO_OK ||
        lro_test_server_complete(s, PARENT "/op-00006", 300,
                                 "type.googleapis.com/google.protobuf.Empty", NULL, 0) != LRO_OK) {
        fprintf(stderr, "demo_server: seed failed\n");
        lro_test_server_stop(s);
        return 1;
    }
    printf("%s\n", lro_test_server_target(s));
    fflush(stdout);
    char buf[256];
    while (fgets(buf, sizeof buf, stdin) != NULL) {
    }
    printf("calls %llu\n", (unsigned long long)lro_test_server_call_count(s, 0, NULL));
    const char *key = argc > 2 ? argv[2] : "x-goog-request-params";
    lro_test_record *r = lro_test_server_record(s, 0); /* the first call */
    const char *v = lro_test_record_header(r, key);
    printf("header %s %s\n", key, v != NULL ? v : "(none)");
    lro_test_record_free(r);
    lro_test_server_stop(s);
    return 0;
}
