/* lroctl demo: a short tour of lro-c against the embedded server, started in
 * this process with seeded operations. Each step prints the command it
 * stands for and what came back. Finishes in a few seconds. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "lro/testing.h"
#include "lroctl.h"

#define PARENT "projects/demo/locations/global/operations"

static void step(const char *title, const char *cmdline)
{
    printf("\n== %s\n$ lroctl %s\n", title, cmdline);
    fflush(stdout);
}

static int show_page(const conn_opts *co, lro_future *f)
{
    if (lro_future_result(f) != LRO_OK) {
        return report_failure("list", f);
    }
    const lro_page *p = lro_future_page(f);
    print_text_header();
    for (size_t i = 0; i < lro_page_count(p); i++) {
        print_text_row(lro_page_operation(p, i));
    }
    printf("(%zu operations, next page token: %s)\n", lro_page_count(p),
           lro_page_next_token(p)[0] ? lro_page_next_token(p) : "none - last page");
    (void)co;
    return EXIT_OK;
}

static lro_future *sync_call(lro_future *f)
{
    lro_future_wait(f, -1);
    return f;
}

/* One step: `lroctl <cmd> PARENT/<op><flags>` with lro_get, lro_cancel or
 * lro_delete; a Get prints the operation (in co's format), the others "{}"
 * or "<cmd> failed". */
static void demo_step(lro_client *c, const conn_opts *co, const char *title, const char *cmd,
                      simple_call call, const char *op, const char *flags)
{
    char cmdline[512], name[256];
    snprintf(name, sizeof name, "%s/%s", PARENT, op);
    snprintf(cmdline, sizeof cmdline, "%s %s%s", cmd, name, flags);
    step(title, cmdline);
    lro_future *f = NULL;
    call(c, name, NULL, NULL, NULL, NULL, &f);
    int ok = lro_future_result(sync_call(f)) == LRO_OK;
    if (call == lro_get) {
        if (ok) {
            print_operation(co, lro_future_operation(f));
        }
    } else if (ok) {
        printf("{}\n");
    } else {
        printf("%s failed\n", cmd);
    }
    lro_future_unref(f);
}

/* Moves the awaited operation along like a real backend would. */
typedef struct mover {
    lro_test_server *srv;
    const char *name;
} mover;

static void *move_progress(void *arg)
{
    mover *m = arg;
    for (int pct = 20; pct <= 80; pct += 20) {
        usleep(350 * 1000);
        /* google.protobuf.Struct {"progressPercent": pct}, hand-encoded:
         * fields entry (1) { key (1) "progressPercent", value (2) { number (2) } } */
        uint8_t buf[64];
        const char *key = "progressPercent";
        size_t kl = strlen(key);
        double v = pct;
        size_t n = 0;
        buf[n++] = 0x0a;
        buf[n++] = (uint8_t)(2 + kl + 2 + 9);
        buf[n++] = 0x0a;
        buf[n++] = (uint8_t)kl;
        memcpy(buf + n, key, kl);
        n += kl;
        buf[n++] = 0x12;
        buf[n++] = 9;
        buf[n++] = 0x11; /* Value.number_value, fixed64 */
        memcpy(buf + n, &v, 8);
        n += 8;
        lro_test_server_set_metadata(m->srv, m->name, "type.googleapis.com/google.protobuf.Struct",
                                     buf, n);
    }
    usleep(350 * 1000);
    static const uint8_t result[] = {0x0a, 0x09, 'a', 'l', 'l', ' ', 'd', 'o', 'n', 'e', '!'};
    lro_test_server_complete(m->srv, m->name, 0, "type.googleapis.com/google.protobuf.StringValue",
                             result, sizeof result);
    return NULL;
}

static void on_progress(const lro_operation *op, void *ud)
{
    (void)ud;
    double p = progress_of(op);
    printf("   progress: %g%%\n", p);
    fflush(stdout);
}

int cmd_demo(int argc, char **argv)
{
    (void)argv;
    if (argc > 0) {
        die_msg("demo: takes no arguments");
        return EXIT_USAGE;
    }
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    lro_test_server *srv = NULL;
    int rc = lro_test_server_start(&so, &srv);
    if (rc != LRO_OK || lro_test_server_seed(srv, PARENT, 12) != LRO_OK) {
        die_msg("demo: cannot start the embedded server: %s", lro_strerror(rc));
        lro_test_server_stop(srv);
        return EXIT_LOCAL;
    }
    printf("lro-c %s demo: an embedded google.longrunning.Operations server is listening on %s\n"
           "with 12 seeded operations under %s.\n",
           lro_version_string(), lro_test_server_target(srv), PARENT);

    conn_opts co;
    conn_opts_init(&co);
    co.target = lro_test_server_target(srv);
    co.plaintext = 1;
    lro_client *c = NULL;
    rc = connect_client(&co, &c);
    if (rc != EXIT_OK) {
        lro_test_server_stop(srv);
        return rc;
    }
    char cmdline[512];
    int status = EXIT_OK;

    /* 1. List, page by page. */
    snprintf(cmdline, sizeof cmdline, "list %s --page-size 5 --format text", PARENT);
    step("List the first page (5 per page)", cmdline);
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 5;
    lro_pager *pager = NULL;
    lro_pager_create(c, PARENT, &la, NULL, &pager);
    lro_future *f = NULL;
    int page = 1;
    while (lro_pager_next_page(pager, NULL, NULL, NULL, &f) == LRO_OK) {
        if (page > 1) {
            snprintf(cmdline, sizeof cmdline, "list %s --page-size 5 --page-token <token> "
                     "--format text", PARENT);
            step("...and the next page, with the token from the previous one", cmdline);
        }
        status |= show_page(&co, sync_call(f));
        lro_future_unref(f);
        page++;
    }
    lro_pager_destroy(pager);

    /* 2. Get a succeeded and a failed operation. */
    demo_step(c, &co, "Get an operation that succeeded", "get", lro_get, "op-00000", "");
    demo_step(c, &co, "Get an operation that failed (its error carries details)", "get", lro_get,
              "op-00001", "");

    /* 3. Cancel a pending one (remote cancel), then look at it. */
    demo_step(c, &co, "Cancel a running operation (CancelOperation)", "cancel", lro_cancel,
              "op-00002", "");
    co.format = FMT_TEXT;
    demo_step(c, &co, "It is now done, with error CANCELLED", "get", lro_get, "op-00002",
              " --format text");
    co.format = FMT_JSON;

    /* 4. Await one while its progress advances. */
    snprintf(cmdline, sizeof cmdline, "wait %s/op-00006", PARENT);
    step("Await an operation while the server moves it along", cmdline);
    mover m = {srv, PARENT "/op-00006"};
    pthread_t th;
    pthread_create(&th, NULL, move_progress, &m);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY; /* show polling; WaitOperation works too */
    pp.initial_delay_ms = 100;
    pp.multiplier = 1.3;
    pp.max_delay_ms = 400;
    pp.total_timeout_ms = 20000;
    lro_await(c, PARENT "/op-00006", &pp, NULL, on_progress, NULL, NULL, NULL, &f);
    sync_call(f);
    pthread_join(th, NULL);
    printf("   finished after %d polls: %s\n", lro_future_polls(f),
           lro_future_result(f) == LRO_OK ? "succeeded" : lro_strerror(lro_future_result(f)));
    if (lro_future_operation(f) != NULL) {
        print_operation(&co, lro_future_operation(f));
    }
    lro_future_unref(f);

    /* 5. Delete one, then it is gone. */
    demo_step(c, &co, "Delete an operation", "delete", lro_delete, "op-00003", "");
    snprintf(cmdline, sizeof cmdline, "get %s/op-00003", PARENT);
    step("Getting it now fails with NOT_FOUND (exit code 15)", cmdline);
    lro_get(c, PARENT "/op-00003", NULL, NULL, NULL, NULL, &f);
    int code = report_failure("get", sync_call(f));
    fflush(stderr);
    printf("(exit code would be %d)\n", code);
    lro_future_unref(f);

    printf("\nDone. Try it against your own server:\n"
           "  lroctl --target HOST:PORT list projects/P/locations/L/operations\n"
           "or run this server standalone with: lroctl serve --listen 127.0.0.1:50051\n");
    lro_client_destroy(c);
    lro_test_server_stop(srv);
    return status;
}
