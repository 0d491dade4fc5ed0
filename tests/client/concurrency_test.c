/* 8 threads issue 10,000 mixed calls on one client at once; every callback
 * runs exactly once and each result matches the server's store. */
#include "harness.h"

#define THREADS 8
#define PER_THREAD 1250
#define NOPS 64

static lro_test_server *srv;
static lro_client *cli;

typedef struct slot {
    atomic_int calls;
    int kind; /* 0 get, 1 list, 2 get-unknown, 3 wait(short) */
    int idx;
    atomic_int ok;
} slot;

static slot slots[THREADS * PER_THREAD];
static int per_thread = PER_THREAD;

static void check_cb(lro_future *f, void *ud)
{
    slot *s = ud;
    int good = 0;
    switch (s->kind) {
    case 0: {
        const lro_operation *op = lro_future_operation(f);
        good = lro_future_result(f) == LRO_OK && op != NULL &&
               strcmp(lro_operation_name(op), op_name(s->idx)) == 0 &&
               lro_operation_done(op) == (s->idx % 4 != 2);
        break;
    }
    case 1: {
        const lro_page *p = lro_future_page(f);
        good = lro_future_result(f) == LRO_OK && p != NULL && lro_page_count(p) == 10 &&
               strcmp(lro_operation_name(lro_page_operation(p, 0)), op_name(0)) == 0;
        break;
    }
    case 2:
        good = lro_future_result(f) == LRO_ERR_RPC &&
               lro_status_code(lro_future_status(f)) == LRO_CODE_NOT_FOUND;
        break;
    default: {
        const lro_operation *op = lro_future_operation(f);
        good = lro_future_result(f) == LRO_OK && op != NULL &&
               lro_operation_done(op) == (s->idx % 4 != 2);
        break;
    }
    }
    atomic_store(&s->ok, good);
    atomic_fetch_add(&s->calls, 1);
}

static void *issuer(void *arg)
{
    int t = (int)(intptr_t)arg;
    lro_list_args la = LRO_LIST_ARGS_INIT;
    la.page_size = 10;
    for (int i = 0; i < per_thread; i++) {
        slot *s = &slots[t * per_thread + i];
        s->kind = (t + i) % 4;
        s->idx = (t * 7 + i) % NOPS;
        int rc;
        switch (s->kind) {
        case 0:
            rc = lro_get(cli, op_name(s->idx), NULL, check_cb, s, NULL, NULL);
            break;
        case 1:
            rc = lro_list(cli, PARENT, &la, NULL, check_cb, s, NULL, NULL);
            break;
        case 2:
            rc = lro_get(cli, PARENT "/missing", NULL, check_cb, s, NULL, NULL);
            break;
        default:
            rc = lro_wait(cli, op_name(s->idx), 1, NULL, check_cb, s, NULL, NULL);
            break;
        }
        CHECK_EQ_INT(rc, LRO_OK);
    }
    return NULL;
}

int main(void)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.threads = 2;
    so.record_limit = -1;
    CHECK_EQ_INT(lro_test_server_start(&so, &srv), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(srv, PARENT, NOPS), LRO_OK);
    cli = make_client(srv);
    /* Under valgrind every call is ~50x slower: 1,250 calls prove the same
     * exactly-once property without running into the 30 s call deadlines. */
    per_thread = getenv("LRO_UNDER_VALGRIND") ? PER_THREAD / 8 : PER_THREAD;
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        CHECK_EQ_INT(pthread_create(&th[t], NULL, issuer, (void *)(intptr_t)t), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    int total = THREADS * per_thread;
    WAIT_UNTIL(lro_client_inflight(cli) == 0);
    int bad = 0;
    for (int i = 0; i < total; i++) {
        WAIT_UNTIL(atomic_load(&slots[i].calls) >= 1);
        CHECK_EQ_INT(atomic_load(&slots[i].calls), 1);
        if (!atomic_load(&slots[i].ok)) {
            fprintf(stderr, "slot %d kind %d idx %d: wrong result\n", i, slots[i].kind,
                    slots[i].idx);
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(lro_test_server_call_count(srv, 0, NULL), total);
    lro_client_destroy(cli);
    for (int i = 0; i < total; i++) {
        CHECK_EQ_INT(atomic_load(&slots[i].calls), 1);
    }
    lro_test_server_stop(srv);
    fprintf(stderr, "concurrency_test: %d calls from %d threads, each completed once\n", total,
            THREADS);
    return 0;
}
