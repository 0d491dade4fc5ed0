/*
 * lifecycle.c - operations that progress and finish by themselves
 * (lro_test_server_set_lifecycle), so a client in any language pointed at
 * `lroctl serve` sees operations move without anyone steering the server.
 *
 * Each adopted operation has one timer embedded in its store entry, in the
 * server's one timer heap: a progress tick rewrites its metadata and re-arms
 * the timer; the last tick finishes it through store_finish(), which answers
 * held Waits like lro_test_server_complete() does. Everything runs with
 * s->mu held (timer thread or the caller of a store function).
 */
#include <stdio.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "server_int.h"

static void arm(lro_test_server *s, op_entry *e, int64_t when)
{
    heap_remove(s, &e->lc_timer);
    e->lc_timer.node.key = when;
    /* Out of memory for the heap: the operation simply stays pending. */
    (void)heap_push(s, &e->lc_timer);
}

void lifecycle_adopt(lro_test_server *s, op_entry *e)
{
    if (!s->lc_on || e->done || lro_heap_armed(&e->lc_timer.node) || atomic_load(&s->stopping)) {
        return;
    }
    uint64_t n = s->lc_adopted++;
    int every = s->lc.fail_every;
    e->lc_fail_code = every > 0 && n % (uint64_t)every == (uint64_t)every - 1 ? s->lc.fail_code : 0;
    e->lc_born = lro_now_ms();
    e->lc_end = e->lc_born + s->lc.complete_after_ms;
    int64_t first = s->lc.progress_every_ms > 0 ? e->lc_born : e->lc_end;
    arm(s, e, first); /* the first tick reports 0 % at once */
}

/* Metadata: Struct {"progress": pct}. */
static void set_progress(op_entry *e, double pct)
{
    const srv_field progress = {"progress", NULL, pct};
    Google__Protobuf__Any a;
    if (srv_pack_struct(&a, &progress, 1) == LRO_OK) {
        /* No memory: no tick. */
        (void)store_set_metadata(e, a.type_url, a.value.data, a.value.len);
    }
    lro_free(a.value.data);
}

/* The serialized Operation carrying only the outcome: an error with an
 * ErrorInfo naming the operation, or the response Struct {"result": "ok",
 * "name": name}. */
static int outcome(const op_entry *e, uint8_t **out, size_t *len)
{
    Google__Protobuf__Any a, *dets[1] = {&a};
    int rc;
    if (e->lc_fail_code != 0) {
        char msg[LRO_MAX_NAME_LEN + 64];
        snprintf(msg, sizeof msg, "simulated failure of %s", e->name);
        rc = srv_pack_error_info(&a, "SIMULATED_FAILURE", "lro-c.testing", "operation", e->name);
        if (rc == LRO_OK) {
            rc = build_error_op(e->lc_fail_code, msg, dets, 1, out, len);
        }
    } else {
        const srv_field f[2] = {{"result", "ok", 0}, {"name", e->name, 0}};
        rc = srv_pack_struct(&a, f, 2);
        if (rc == LRO_OK) {
            rc = build_response_result(a.type_url, a.value.data, a.value.len, out, len);
        }
    }
    lro_free(a.value.data);
    return rc;
}

void lifecycle_fire(lro_test_server *s, op_entry *e)
{
    if (e->done || !s->lc_on) {
        return;
    }
    int64_t now = lro_now_ms();
    if (now >= e->lc_end) {
        uint8_t *b;
        size_t n;
        if (outcome(e, &b, &n) == LRO_OK) {
            (void)store_finish(s, e->name, b, n);
            lro_free(b);
        } else {
            arm(s, e, now + 100); /* out of memory: try again shortly */
        }
        return;
    }
    int64_t span = e->lc_end - e->lc_born;
    set_progress(e, (double)((now - e->lc_born) * 100 / span));
    int64_t next = now + s->lc.progress_every_ms;
    arm(s, e, next < e->lc_end ? next : e->lc_end);
}

int lro_test_server_set_lifecycle(lro_test_server *s, const lro_test_lifecycle *lc)
{
    if (s == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lc != NULL && (lc->struct_size < sizeof *lc || lc->complete_after_ms <= 0 ||
                       lc->complete_after_ms > (int64_t)1 << 40 || lc->progress_every_ms < 0 ||
                       lc->progress_every_ms > (int64_t)1 << 40 || lc->fail_every < 0 ||
                       (lc->fail_every > 0 && (lc->fail_code <= 0 || lc->fail_code > 16)))) {
        return LRO_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->mu);
    srv_store *st = &s->store;
    if (lc == NULL) {
        s->lc_on = 0;
        for (size_t i = 0; i < st->n; i++) {
            heap_remove(s, &st->vec[i]->lc_timer);
        }
    } else {
        s->lc = *lc;
        s->lc_on = 1;
        for (size_t i = 0; i < st->n; i++) {
            lifecycle_adopt(s, st->vec[i]);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return LRO_OK;
}
