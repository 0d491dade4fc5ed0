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

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "server_int.h"

#define STRUCT_URL "type.googleapis.com/google.protobuf.Struct"

static int pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    *out = lro_malloc(n + 1);
    if (*out == NULL) {
        return LRO_ERR_NOMEM;
    }
    *len = protobuf_c_message_pack(m, *out);
    return LRO_OK;
}

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
    Google__Protobuf__Value v = GOOGLE__PROTOBUF__VALUE__INIT;
    v.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    v.number_value = pct;
    Google__Protobuf__Struct__FieldsEntry fe = GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT;
    fe.key = "progress";
    fe.value = &v;
    Google__Protobuf__Struct__FieldsEntry *fes[1] = {&fe};
    Google__Protobuf__Struct st = GOOGLE__PROTOBUF__STRUCT__INIT;
    st.n_fields = 1;
    st.fields = fes;
    uint8_t *b;
    size_t n;
    if (pack(&st.base, &b, &n) == LRO_OK) {
        (void)store_set_metadata(e, STRUCT_URL, b, n); /* no memory: no tick */
        lro_free(b);
    }
}

/* The serialized Operation carrying only the outcome. */
static int outcome(const op_entry *e, uint8_t **out, size_t *len)
{
    if (e->lc_fail_code != 0) {
        char msg[LRO_MAX_NAME_LEN + 64];
        snprintf(msg, sizeof msg, "simulated failure of %s", e->name);
        Google__Rpc__ErrorInfo__MetadataEntry me = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT;
        me.key = "operation";
        me.value = e->name;
        Google__Rpc__ErrorInfo__MetadataEntry *mes[1] = {&me};
        Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
        ei.reason = "SIMULATED_FAILURE";
        ei.domain = "lro-c.testing";
        ei.n_metadata = 1;
        ei.metadata = mes;
        uint8_t *eib;
        size_t eil;
        if (pack(&ei.base, &eib, &eil) != LRO_OK) {
            return LRO_ERR_NOMEM;
        }
        Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
        any.type_url = "type.googleapis.com/google.rpc.ErrorInfo";
        any.value.data = eib;
        any.value.len = eil;
        Google__Protobuf__Any *dets[1] = {&any};
        Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
        st.n_details = 1;
        st.details = dets;
        uint8_t *sb;
        size_t sl;
        int rc = pack(&st.base, &sb, &sl);
        lro_free(eib);
        if (rc != LRO_OK) {
            return rc;
        }
        rc = build_error_result(e->lc_fail_code, msg, sb, sl, out, len);
        lro_free(sb);
        return rc;
    }
    Google__Protobuf__Value v1 = GOOGLE__PROTOBUF__VALUE__INIT, v2 = GOOGLE__PROTOBUF__VALUE__INIT;
    v1.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    v1.string_value = "ok";
    v2.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    v2.string_value = e->name;
    Google__Protobuf__Struct__FieldsEntry f1 = GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT,
                                          f2 = GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT;
    f1.key = "result";
    f1.value = &v1;
    f2.key = "name";
    f2.value = &v2;
    Google__Protobuf__Struct__FieldsEntry *fes[2] = {&f1, &f2};
    Google__Protobuf__Struct st = GOOGLE__PROTOBUF__STRUCT__INIT;
    st.n_fields = 2;
    st.fields = fes;
    uint8_t *rb;
    size_t rl;
    if (pack(&st.base, &rb, &rl) != LRO_OK) {
        return LRO_ERR_NOMEM;
    }
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = STRUCT_URL;
    any.value.data = rb;
    any.value.len = rl;
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.done = 1;
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
    op.response = &any;
    int rc = pack(&op.base, out, len);
    lro_free(rb);
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
