/*
 * timers.c - every delay of the server (delayed completion, WaitOperation
 * timeouts, latency faults) on ONE thread with a min-heap, so a thousand
 * held Waits cost a thousand heap entries, not a thousand threads.
 * grpc core has no C alarm to use instead.
 *
 * Timers are owned by what they delay (embedded srv_timer); the heap is
 * the library's own (lib/src/heap.c), which keeps each node's index so that
 * an answered Wait can be taken out in O(log n).
 * Everything here runs with s->mu held.
 */
#include <errno.h>
#include <time.h>

#include "server_int.h"

int heap_push(lro_test_server *s, srv_timer *t)
{
    int rc = lro_heap_push(&s->heap, &t->node);
    if (rc == LRO_OK && lro_heap_top(&s->heap) == &t->node) {
        pthread_cond_broadcast(&s->cond); /* the earliest changed */
    }
    return rc;
}

void heap_remove(lro_test_server *s, srv_timer *t)
{
    lro_heap_remove(&s->heap, &t->node);
}

static void fire(lro_test_server *s, srv_timer *t)
{
    if (t->kind == TIMER_WAIT) {
        wait_timed_out(t->owner);
    } else if (t->kind == TIMER_LIFECYCLE) {
        lifecycle_fire(s, t->owner);
    } else if (t->kind == TIMER_LATENCY) {
        /* The real answer may take s->mu (and may hold the call again as a
         * Wait): run it unlocked. The call is no longer in the heap, so
         * nothing else can reach it meanwhile. */
        srv_call *c = t->owner;
        pthread_mutex_unlock(&s->mu);
        handle_call(c);
        pthread_mutex_lock(&s->mu);
    } else {
        srv_completion *sc = t->owner;
        /* The operation may be gone or done by now: then there is nothing
         * left to complete. */
        (void)store_finish(s, sc->name, sc->op_result, sc->op_result_len);
        lro_free(sc->name);
        lro_free(sc->op_result);
        lro_free(sc);
    }
}

static void *timer_thread(void *arg)
{
    lro_test_server *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->timer_stop) {
        lro_heap_node *top = lro_heap_top(&s->heap);
        if (top == NULL) {
            pthread_cond_wait(&s->cond, &s->mu);
            continue;
        }
        srv_timer *t = SRV_TIMER(top);
        int64_t now = lro_now_ms();
        if (top->key > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (top->key - now) * 1000000;
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
            continue;
        }
        heap_remove(s, t);
        fire(s, t);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int timers_start(lro_test_server *s)
{
    if (pthread_create(&s->timer_th, NULL, timer_thread, s) != 0) {
        return LRO_ERR_NOMEM;
    }
    s->timer_started = 1;
    return LRO_OK;
}

void timers_stop(lro_test_server *s)
{
    if (!s->timer_started) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->timer_stop = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->timer_th, NULL);
    s->timer_started = 0;
}
