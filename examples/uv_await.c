/* uv_await: await 1,000 long-running operations from ONE libuv loop thread.
 *
 *   uv_await                     # against an embedded demo server
 *   uv_await TARGET NAME...      # against your server (plaintext)
 *
 * No thread per operation and no timer in the loop: lro-c's I/O thread runs
 * the polls and their backoff; the loop only runs the callbacks. */
#include <stdio.h>
#include <string.h>

#include "lro/adapters/libuv.h"
#include "lro/lro.h"
#include "lro/testing.h"

#define DEMO_OPS 1000

typedef struct app {
    lro_client *client;
    lro_uv_attachment *attachment;
    int left, succeeded, failed, other;
} app;

static void on_done(lro_future *f, void *user_data)
{
    app *a = user_data;
    switch (lro_future_result(f)) {
    case LRO_OK: a->succeeded++; break;            /* done with a response */
    case LRO_ERR_OP_FAILED: a->failed++; break;    /* done with an error */
    default: a->other++; break;                    /* RPC error, timeout... */
    }
    if (--a->left == 0) {
        /* Shut down from inside a callback: detach, then destroy. */
        lro_uv_detach(a->attachment);
        lro_client_destroy(a->client);
    }
}

/* A demo server: DEMO_OPS pending operations that finish over ~2 s, one in
 * four with an error. Returns the server; fills names[]. */
static lro_test_server *demo_server(char names[][64])
{
    lro_test_server *s = NULL;
    if (lro_test_server_start(NULL, &s) != LRO_OK) {
        return NULL;
    }
    for (int i = 0; i < DEMO_OPS; i++) {
        snprintf(names[i], 64, "projects/demo/operations/job-%04d", i);
        lro_test_server_put_pending(s, names[i], NULL, NULL, 0);
        if (i % 4 == 3) {
            lro_test_server_fail(s, names[i], 2 * i, LRO_CODE_ABORTED, "demo failure", NULL, 0);
        } else {
            lro_test_server_complete(s, names[i], 2 * i, NULL, NULL, 0);
        }
    }
    return s;
}

int main(int argc, char **argv)
{
    static char demo_names[DEMO_OPS][64];
    lro_test_server *server = NULL;
    const char *target;
    int n;
    if (argc >= 3) {
        target = argv[1];
        n = argc - 2;
    } else {
        server = demo_server(demo_names);
        if (server == NULL) {
            fprintf(stderr, "uv_await: cannot start the demo server\n");
            return 1;
        }
        target = lro_test_server_target(server);
        n = DEMO_OPS;
    }

    lro_client_options *o = NULL;
    lro_client_options_create(&o);
    lro_client_options_set_target(o, target);
    lro_client_options_set_plaintext(o);
    lro_client_options_set_mode(o, LRO_MODE_LOOP); /* callbacks on our loop */
    app a = {0};
    int rc = lro_client_create(o, &a.client);
    lro_client_options_destroy(o);
    if (rc != LRO_OK) {
        fprintf(stderr, "uv_await: %s\n", lro_strerror(rc));
        return 1;
    }
    uv_loop_t *loop = uv_default_loop();
    lro_uv_attach(loop, a.client, &a.attachment);

    lro_poll_policy policy = LRO_POLL_POLICY_INIT;
    policy.total_timeout_ms = 60000;
    a.left = n;
    for (int i = 0; i < n; i++) {
        const char *name = server ? demo_names[i] : argv[2 + i];
        rc = lro_await(a.client, name, &policy, NULL, NULL, on_done, &a, NULL, NULL);
        if (rc != LRO_OK) {
            fprintf(stderr, "uv_await: %s: %s\n", name, lro_strerror(rc));
            return 1;
        }
    }
    uv_run(loop, UV_RUN_DEFAULT); /* returns once the last callback detached */
    uv_loop_close(loop);
    printf("uv_await: awaited %d operations on one loop thread: %d succeeded, %d failed, "
           "%d other\n",
           n, a.succeeded, a.failed, a.other);
    lro_test_server_stop(server);
    return a.other == 0 ? 0 : 1;
}
