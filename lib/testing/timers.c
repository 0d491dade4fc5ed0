/*
 * timers.c - every delay of the server (delayed completion, WaitOperation
 * timeouts, latency faults) on ONE thread with a min-heap, so a thousand
 * held Waits cost a thousand heap entries, not a thousand threads.
 * grpc core has no C alarm to use instead.
 *
 * Timers are owned by what they delay (embedded srv_timer); the heap keeps
 * each one's index so that an answered Wait can be taken out in O(log n).
 * Everything here runs with s->mu held.
 */
#include <errno.h>
#include <time.h>

#include "server_int.h"

static int earlier(const srv_timer *a, const srv_timer *b)
{
    return a->when_ms < b->when_ms;
}

static void place(srv_heap *h, size_t i, srv_timer *t)
{
    h->v[i] = t;
    t->idx = i;
}

static void sift_up(srv_heap *h, size_t i)
{
    srv_timer *t = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!earlier(t, h->v[p])) {
            break;
        }
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, t);
}

static void sift_down(srv_heap *h, size_t i)
{
    srv_timer *t = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        srv_timer *best = t;
        if (l < h->n && earlier(h->v[l], best)) {
            m = l;
            best = h->v[l];
        }
        if (l + 1 < h->n && earlier(h->v[l + 1], best)) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        place(h, i, h->v[m]);
        i = m;
    }
    place(h, i, t);
}

int heap_push(lro_test_server *s, srv_timer *t)
{
    srv_heap *h = &s->heap;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        srv_timer **v = lro_realloc(h->v, cap * sizeof *v);
        if (v == NULL) {
            t->idx = SIZE_MAX;
            return LRO_ERR_NOMEM;
        }
        h->v = v;
        h->cap = cap;
    }
    h->v[h->n] = t;
    t->idx = h->n++;
    sift_up(h, t->idx);
    if (h->v[0] == t) {
        pthread_cond_broadcast(&s->cond); /* the earliest changed */
    }
    return LRO_OK;
}

void heap_remove(lro_test_server *s, srv_timer *t)
{
    srv_heap *h = &s->heap;
    size_t i = t->idx;
    if (i == SIZE_MAX || i >= h->n || h->v[i] != t) {
        return;
    }
    t->idx = SIZE_MAX;
    h->n--;
    if (i == h->n) {
        return;
    }
    place(h, i, h->v[h->n]);
    sift_down(h, i);
    sift_up(h, h->v[i]->idx);
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
        if (s->heap.n == 0) {
            pthread_cond_wait(&s->cond, &s->mu);
            continue;
        }
        srv_timer *t = s->heap.v[0];
        int64_t now = lro_now_ms();
        if (t->when_ms > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (t->when_ms - now) * 1000000;
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
