/* How many allocations of lro-c's own one Get costs, counted through the
 * allocator hook (grpc's internal allocations are not included: they are
 * the same for any grpc client). Counts are exact, not timings. The server
 * runs in a child process so that its allocations are not counted. */
#include <sys/wait.h>

#include "harness.h"

static atomic_long n_malloc, n_realloc, n_free;
static atomic_int counting;

static void *c_malloc(size_t n, void *ctx)
{
    (void)ctx;
    if (atomic_load(&counting)) {
        atomic_fetch_add(&n_malloc, 1);
    }
    return malloc(n);
}

static void *c_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    if (atomic_load(&counting)) {
        atomic_fetch_add(&n_realloc, 1);
    }
    return realloc(p, n);
}

static void c_free(void *p, void *ctx)
{
    (void)ctx;
    if (p != NULL && atomic_load(&counting)) {
        atomic_fetch_add(&n_free, 1);
    }
    free(p);
}

#define CALLS 2000

static void measure(lro_client *c, const char *label, int (*start)(lro_client *, int, lro_future **))
{
    /* Warm up (channel connected, method handles interned). */
    for (int i = 0; i < 10; i++) {
        lro_future *f = NULL;
        CHECK_EQ_INT(start(c, i, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        lro_future_unref(f);
    }
    /* The library drops its own reference a moment after a future is marked
     * done; let the warm-up's last ones go before counting starts. */
    usleep(100000);
    atomic_store(&n_malloc, 0);
    atomic_store(&n_realloc, 0);
    atomic_store(&n_free, 0);
    atomic_store(&counting, 1);
    for (int i = 0; i < CALLS; i++) {
        lro_future *f = NULL;
        CHECK_EQ_INT(start(c, i, &f), LRO_OK);
        CHECK_EQ_INT(lro_future_wait(f, -1), LRO_OK);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        lro_future_unref(f);
    }
    WAIT_UNTIL(lro_client_inflight(c) == 0);
    usleep(100000); /* same at the end */
    atomic_store(&counting, 0);
    double per = (double)(atomic_load(&n_malloc) + atomic_load(&n_realloc)) / CALLS;
    fprintf(stderr, "  %s: %.2f allocations per call (%ld malloc, %ld realloc, %ld free over %d)\n",
            label, per, atomic_load(&n_malloc), atomic_load(&n_realloc), atomic_load(&n_free),
            CALLS);
    /* Everything allocated was freed again (give or take a warm-up future
     * whose last reference went while counting: leaks proper are the asan
     * and valgrind configurations' job). */
    long diff = atomic_load(&n_malloc) - atomic_load(&n_free);
    CHECK(diff >= -10 && diff <= 10);
    if (start != NULL && strcmp(label, "Get (small operation)") == 0) {
        /* The future, whose inline buffer holds the routing header, the
         * metadata array and the decoded operation: one allocation. */
        CHECK_EQ_INT(atomic_load(&n_malloc), CALLS);
        CHECK_EQ_INT(atomic_load(&n_realloc), 0);
    } else {
        /* A page of 20: the future plus one arena block for the decode. */
        CHECK(atomic_load(&n_malloc) <= 2 * CALLS);
    }
}

static int start_get(lro_client *c, int i, lro_future **f)
{
    return lro_get(c, op_name(i % 4 == 2 ? 0 : i % 40), NULL, NULL, NULL, NULL, f);
}

static int start_list(lro_client *c, int i, lro_future **f)
{
    (void)i;
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 20;
    return lro_list(c, PARENT, &la, NULL, NULL, NULL, NULL, f);
}

/* Child: serve until the parent closes `hold`. */
static void serve(int report, int hold)
{
    lro_test_server *srv = start_server(40);
    const char *t = lro_test_server_target(srv);
    CHECK(write(report, t, strlen(t) + 1) == (ssize_t)(strlen(t) + 1));
    char b;
    while (read(hold, &b, 1) > 0) {
    }
    lro_test_server_stop(srv);
    _exit(0);
}

int main(void)
{
    int rp[2], hp[2];
    CHECK(pipe(rp) == 0 && pipe(hp) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(rp[0]);
        close(hp[1]);
        serve(rp[1], hp[0]);
    }
    close(rp[1]);
    close(hp[0]);
    lro_allocator a = {c_malloc, c_realloc, c_free, NULL};
    lro_set_allocator(&a);
    char target[128] = {0};
    size_t got = 0;
    while (got < sizeof target - 1) {
        ssize_t r = read(rp[0], target + got, sizeof target - 1 - got);
        CHECK(r > 0);
        got += (size_t)r;
        if (target[got - 1] == '\0') {
            break;
        }
    }
    lro_client *c = make_client_ex(target, LRO_MODE_THREAD, 0);
    measure(c, "Get (small operation)", start_get);
    measure(c, "List (page of 20)", start_list);
    lro_client_destroy(c);
    close(hp[1]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fprintf(stderr, "alloc_count_test: all passed\n");
    return 0;
}
