/* Allocation-failure torture (curl's torture tests, nghttp2's failmalloc):
 * with the allocator hook installed once, fail the N-th allocation for every
 * N across a Get, a List page, a pager page, an await (Wait and Get polling)
 * and client creation. Each failure must surface as LRO_ERR_NOMEM (either the
 * call refuses to start, or it completes with LRO_ERR_NOMEM), the callback
 * must run exactly once when the call started, and every byte the library
 * allocated must be freed again (counted here, besides LSan/valgrind).
 *
 * The embedded server runs in a forked child so that its allocations (which
 * share the hook inside one process) neither count nor fail; the parent asks
 * it for fresh pending operations over a pipe. */
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "../client/harness.h"

/* ---- the counting, failing allocator --------------------------------------- */

static atomic_long g_count;   /* allocations since the last reset */
static atomic_long g_fail_at; /* fail the allocation with this number; 0 = never */
static atomic_long g_failed;  /* failures injected */
static atomic_long g_live;    /* blocks allocated and not yet freed */

static int should_fail(void)
{
    long n = atomic_fetch_add(&g_count, 1) + 1;
    long at = atomic_load(&g_fail_at);
    if (at > 0 && n == at) {
        atomic_fetch_add(&g_failed, 1);
        return 1;
    }
    return 0;
}

static void *t_malloc(size_t n, void *ctx)
{
    (void)ctx;
    if (should_fail()) {
        return NULL;
    }
    void *p = malloc(n);
    if (p) {
        atomic_fetch_add(&g_live, 1);
    }
    return p;
}

static void *t_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    if (should_fail()) {
        return NULL;
    }
    void *q = realloc(p, n);
    if (q && p == NULL) {
        atomic_fetch_add(&g_live, 1);
    }
    return q;
}

static void t_free(void *p, void *ctx)
{
    (void)ctx;
    if (p) {
        atomic_fetch_sub(&g_live, 1);
    }
    free(p);
}

static void arm(long n)
{
    atomic_store(&g_fail_at, 0);
    atomic_store(&g_count, 0);
    atomic_store(&g_failed, 0);
    atomic_store(&g_fail_at, n);
}

static void disarm(void)
{
    atomic_store(&g_fail_at, 0);
}

/* ---- the server child --------------------------------------------------------- */

static int to_srv = -1, from_srv = -1;
static pid_t srv_pid;
static char target[128];

static void server_child(int in, int out)
{
    lro_test_server *s = start_server(40);
    char line[512];
    int n = snprintf(line, sizeof line, "%s\n", lro_test_server_target(s));
    CHECK(write(out, line, (size_t)n) == n);
    FILE *fin = fdopen(in, "r");
    while (fgets(line, sizeof line, fin) != NULL) {
        char name[400];
        long delay = 0;
        if (sscanf(line, "P %399s %ld", name, &delay) == 2) {
            static const uint8_t meta[] = {0x0a, 0x05, 's', 't', 'a', 'r', 't'};
            CHECK_EQ_INT(lro_test_server_put_pending(
                             s, name, "type.googleapis.com/google.protobuf.StringValue", meta,
                             sizeof meta),
                         LRO_OK);
            static const uint8_t resp[] = {0x0a, 0x04, 'd', 'o', 'n', 'e'};
            CHECK_EQ_INT(lro_test_server_complete(s, name, delay,
                                                  "type.googleapis.com/google.protobuf.StringValue",
                                                  resp, sizeof resp),
                         LRO_OK);
        }
        if (sscanf(line, "F %399s", name) == 1) {
            /* One UNAVAILABLE with a RetryInfo detail (a details trailer to
             * decode, a retry timer to schedule), then the real answer. */
            lro_test_fault fl = LRO_TEST_FAULT_INIT;
            fl.methods = LRO_TEST_GET;
            fl.name = name;
            fl.code = LRO_CODE_UNAVAILABLE;
            fl.message = "retry me";
            fl.retry_delay_ms = 5;
            CHECK_EQ_INT(lro_test_server_add_fault(s, &fl), LRO_OK);
        }
        CHECK(write(out, "ok\n", 3) == 3);
    }
    lro_test_server_stop(s);
    _exit(0);
}

static void start_child(void)
{
    int a[2], b[2];
    CHECK_EQ_INT(pipe(a), 0);
    CHECK_EQ_INT(pipe(b), 0);
    srv_pid = fork();
    CHECK(srv_pid >= 0);
    if (srv_pid == 0) {
        close(a[1]);
        close(b[0]);
        server_child(a[0], b[1]);
    }
    close(a[0]);
    close(b[1]);
    to_srv = a[1];
    from_srv = b[0];
    size_t n = 0;
    while (n < sizeof target - 1) {
        ssize_t r = read(from_srv, target + n, 1);
        CHECK(r == 1);
        if (target[n] == '\n') {
            break;
        }
        n++;
    }
    target[n] = '\0';
}

static void srv_pending(const char *name, long delay_ms)
{
    char line[512];
    int n = snprintf(line, sizeof line, "P %s %ld\n", name, delay_ms);
    CHECK(write(to_srv, line, (size_t)n) == n);
    char ok[3];
    CHECK(read(from_srv, ok, 3) == 3);
}

static void srv_fault(const char *name)
{
    char line[512];
    int n = snprintf(line, sizeof line, "F %s\n", name);
    CHECK(write(to_srv, line, (size_t)n) == n);
    char ok[3];
    CHECK(read(from_srv, ok, 3) == 3);
}

static void stop_child(void)
{
    close(to_srv);
    int st = 0;
    CHECK_EQ_INT(waitpid(srv_pid, &st, 0), srv_pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(from_srv);
}

/* ---- one torture loop per scenario --------------------------------------------- */

typedef enum {
    SC_GET,
    SC_LIST,
    SC_PAGER,
    SC_AWAIT_WAIT,
    SC_AWAIT_POLL,
    SC_GET_RETRY,
    SC_AWAIT_QUEUED
} scenario;
static const char *const sc_names[] = {"get",
                                       "list page",
                                       "pager page",
                                       "await (Wait)",
                                       "await (Get polling)",
                                       "get (UNAVAILABLE+RetryInfo, retry)",
                                       "two awaits through one RPC slot (one queued)"};

/* Runs the scenario once with allocation number n failing (0 = none).
 * Returns 1 when a failure was injected. */
static lro_mode g_mode = LRO_MODE_THREAD;

/* Loop mode: callbacks only run inside lro_client_process(). */
static void pump_until_freed(lro_client *c, counter *k)
{
    for (int i = 0; i < 60000 && atomic_load(&k->frees) == 0; i++) {
        if (g_mode == LRO_MODE_LOOP) {
            CHECK(lro_client_process(c, 0) >= 0);
        }
        usleep(1000);
    }
    CHECK_EQ_INT(atomic_load(&k->frees), 1);
}

static int run_once(scenario sc, long n, int iter)
{
    long live0 = atomic_load(&g_live);
    lro_client *c = NULL;
    if (sc == SC_AWAIT_QUEUED) {
        /* Built before arming: only the awaits are under test. */
        lro_client_options *o = NULL;
        CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
        CHECK_EQ_INT(lro_client_options_set_target(o, target), LRO_OK);
        CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
        CHECK_EQ_INT(lro_client_options_set_mode(o, g_mode), LRO_OK);
        CHECK_EQ_INT(lro_client_options_set_max_await_rpcs(o, 1), LRO_OK);
        CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
        lro_client_options_destroy(o);
    } else {
        c = make_client_ex(target, g_mode, sc == SC_GET_RETRY ? 2 : 1);
    }
    char name[128], name2[140];
    snprintf(name, sizeof name, PARENT "/aw-%d-%d-%ld", (int)sc, iter, n);
    snprintf(name2, sizeof name2, "%s-b", name);
    counter k2 = {0};
    lro_future *f2 = NULL;
    if (sc == SC_AWAIT_QUEUED) {
        srv_pending(name, 40);
        srv_pending(name2, 40);
    } else if (sc == SC_AWAIT_WAIT) {
        srv_pending(name, 0);
    } else if (sc == SC_AWAIT_POLL) {
        srv_pending(name, 40);
    } else if (sc == SC_GET_RETRY) {
        srv_pending(name, 0);
        srv_fault(name);
    }
    counter k = {0};
    lro_future *f = NULL;
    lro_pager *pg = NULL;
    int rc = LRO_ERR_INVALID_ARG;
    arm(n);
    switch (sc) {
    case SC_GET:
        rc = lro_get(c, op_name(2), NULL, count_cb, &k, count_free, &f);
        break;
    case SC_LIST: {
        lro_list_args la = LRO_LIST_ARGS_INIT;
        la.page_size = 25;
        rc = lro_list(c, PARENT, &la, NULL, count_cb, &k, count_free, &f);
        break;
    }
    case SC_PAGER: {
        lro_list_args la = LRO_LIST_ARGS_INIT;
        la.page_size = 25;
        rc = lro_pager_create(c, PARENT, &la, NULL, &pg);
        if (rc == LRO_OK) {
            rc = lro_pager_next_page(pg, count_cb, &k, count_free, &f);
        }
        break;
    }
    case SC_GET_RETRY:
        rc = lro_get(c, name, NULL, count_cb, &k, count_free, &f);
        break;
    case SC_AWAIT_WAIT:
    case SC_AWAIT_POLL: {
        lro_poll_policy pp = LRO_POLL_POLICY_INIT;
        pp.method = sc == SC_AWAIT_WAIT ? LRO_AWAIT_AUTO : LRO_AWAIT_POLL_ONLY;
        pp.initial_delay_ms = 10;
        pp.max_delay_ms = 20;
        rc = lro_await(c, name, &pp, NULL, NULL, count_cb, &k, count_free, &f);
        break;
    }
    case SC_AWAIT_QUEUED: {
        /* The second await queues for the one slot, with a deadline timer. */
        lro_poll_policy pp = LRO_POLL_POLICY_INIT;
        pp.method = LRO_AWAIT_POLL_ONLY;
        pp.initial_delay_ms = 10;
        pp.max_delay_ms = 20;
        pp.total_timeout_ms = 60000;
        rc = lro_await(c, name, &pp, NULL, NULL, count_cb, &k, count_free, &f);
        if (rc == LRO_OK) {
            int rc2 = lro_await(c, name2, &pp, NULL, NULL, count_cb, &k2, count_free, &f2);
            CHECK(rc2 == LRO_OK || rc2 == LRO_ERR_NOMEM);
        }
        break;
    }
    }
    if (rc != LRO_OK) {
        /* Did not start: only for lack of memory, and nothing is called. */
        disarm();
        CHECK_EQ_INT(rc, LRO_ERR_NOMEM);
        CHECK(f == NULL);
        usleep(1000);
        CHECK_EQ_INT(atomic_load(&k.calls), 0);
        CHECK_EQ_INT(atomic_load(&k.frees), 0);
    } else {
        if (f2 != NULL) {
            /* The queued one: exactly once, done or out of memory. */
            CHECK_EQ_INT(lro_future_wait(f2, 60000), LRO_OK);
            pump_until_freed(c, &k2);
            CHECK_EQ_INT(atomic_load(&k2.calls), 1);
            int r2 = lro_future_result(f2);
            CHECK(r2 == LRO_OK || r2 == LRO_ERR_NOMEM);
            CHECK(r2 != LRO_OK || lro_operation_done(lro_future_operation(f2)));
            lro_future_unref(f2);
        }
        CHECK_EQ_INT(lro_future_wait(f, 60000), LRO_OK);
        pump_until_freed(c, &k);
        disarm();
        CHECK_EQ_INT(atomic_load(&k.calls), 1);
        int res = lro_future_result(f);
        if (res != LRO_OK) {
            if (res != LRO_ERR_NOMEM) {
                fprintf(stderr, "%s: fail at %ld: result %s, status %s \"%s\"\n", sc_names[sc],
                        n, lro_err_name(res), lro_code_name(lro_status_code(lro_future_status(f))),
                        lro_status_message(lro_future_status(f)));
            }
            CHECK_EQ_INT(res, LRO_ERR_NOMEM);
            CHECK(lro_future_status(f) != NULL);
            CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_RESOURCE_EXHAUSTED);
        } else {
            CHECK(sc != SC_GET || lro_future_operation(f) != NULL);
            CHECK(sc != SC_LIST || lro_page_count(lro_future_page(f)) == 25);
            CHECK(sc < SC_AWAIT_WAIT || lro_operation_done(lro_future_operation(f)));
            CHECK(sc != SC_GET_RETRY || lro_future_attempts(f) == 2);
        }
        lro_future_unref(f);
    }
    int injected = atomic_load(&g_failed) > 0;
    lro_pager_destroy(pg);
    lro_client_destroy(c);
    long live = atomic_load(&g_live);
    if (live != live0) {
        fprintf(stderr, "%s: fail at %ld: %ld blocks leaked\n", sc_names[sc], n, live - live0);
    }
    CHECK_EQ_INT(live, live0);
    return injected;
}

static void torture(scenario sc)
{
    long n = 1;
    int iter = 0;
    /* A run where nothing failed means N passed the last allocation. */
    while (run_once(sc, n, iter++)) {
        n++;
        CHECK(n < 100000);
    }
    fprintf(stderr, "  %s%s: failed each of allocations 1..%ld, then a clean run\n",
            g_mode == LRO_MODE_LOOP ? "[loop mode] " : "", sc_names[sc], n - 1);
    CHECK(n > 1); /* at least one allocation was exercised */
}

static void test_client_create(void)
{
    long live0 = atomic_load(&g_live);
    long n = 1;
    for (;; n++) {
        arm(n);
        lro_client_options *o = NULL;
        int rc = lro_client_options_create(&o);
        if (rc == LRO_OK) {
            rc = lro_client_options_set_target(o, target);
        }
        if (rc == LRO_OK) {
            rc = lro_client_options_set_plaintext(o);
        }
        if (rc == LRO_OK) {
            rc = lro_client_options_add_header(o, "x-test", "v");
        }
        if (rc == LRO_OK) {
            rc = lro_client_options_set_bearer_token(o, "secret-token", 1);
        }
        lro_client *c = NULL;
        if (rc == LRO_OK) {
            rc = lro_client_create(o, &c);
        }
        int injected = atomic_load(&g_failed) > 0;
        disarm();
        CHECK(rc == LRO_OK || rc == LRO_ERR_NOMEM);
        CHECK((rc == LRO_OK) == (c != NULL));
        lro_client_destroy(c);
        lro_client_options_destroy(o);
        CHECK_EQ_INT(atomic_load(&g_live), live0);
        if (!injected) {
            CHECK_EQ_INT(rc, LRO_OK);
            break;
        }
    }
    fprintf(stderr, "  client create: failed each of allocations 1..%ld\n", n - 1);
}

int main(void)
{
    /* The server child is forked before anything touches grpc or the hook. */
    start_child();
    static const lro_allocator a = {t_malloc, t_realloc, t_free, NULL};
    lro_set_allocator(&a);
    RUN(test_client_create);
    fprintf(stderr, "== torture\n");
    torture(SC_GET);
    torture(SC_LIST);
    torture(SC_PAGER);
    torture(SC_AWAIT_WAIT);
    torture(SC_AWAIT_POLL);
    torture(SC_GET_RETRY);
    torture(SC_AWAIT_QUEUED);
    /* Loop mode: the same, with callbacks delivered by lro_client_process. */
    g_mode = LRO_MODE_LOOP;
    torture(SC_GET);
    torture(SC_LIST);
    torture(SC_AWAIT_POLL);
    torture(SC_GET_RETRY);
    torture(SC_AWAIT_QUEUED);
    stop_child();
    fprintf(stderr, "alloc_fail_test: all passed\n");
    return 0;
}
