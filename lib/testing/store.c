/*
 * store.c - the operations the embedding program controls.
 *
 * Each operation is kept serialized (a google.longrunning.Operation), so Get,
 * Wait and List answer with a copy of bytes and never re-encode on the hot
 * path; only the rare edits (complete, fail, cancel, metadata) unpack and
 * repack. Entries sit in a vector ordered by an insertion sequence number
 * (List order, stable: replacing keeps the number, a page token stores the
 * number to resume at, so deletes and inserts between pages neither skip nor
 * repeat anything), and in a hash table by name.
 */
#include <stdio.h>
#include <string.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "server_int.h"

#define OP_DESC google__longrunning__operation__descriptor
typedef Google__Longrunning__Operation Op;

uint64_t srv_hash(const void *p, size_t n, uint64_t h)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

size_t srv_locked_count(pthread_mutex_t *mu, const size_t *n)
{
    pthread_mutex_lock(mu);
    size_t v = *n;
    pthread_mutex_unlock(mu);
    return v;
}

static size_t bucket_of(const srv_store *st, const char *name)
{
    return (size_t)(srv_hash(name, strlen(name), SRV_FNV_SEED) & (st->nbuckets - 1));
}

void store_init(srv_store *st)
{
    memset(st, 0, sizeof *st);
    st->nbuckets = 1024;
    st->buckets = lro_calloc(st->nbuckets, sizeof *st->buckets);
    st->next_seq = 1;
}

static void entry_free(op_entry *e)
{
    lro_free(e->name);
    lro_free(e->bytes);
    lro_free(e);
}

void store_free(lro_test_server *s)
{
    srv_store *st = &s->store;
    for (size_t i = 0; i < st->n; i++) {
        entry_free(st->vec[i]);
    }
    lro_free(st->vec);
    lro_free(st->buckets);
    memset(st, 0, sizeof *st);
}

op_entry *store_find(srv_store *st, const char *name)
{
    for (op_entry *e = st->buckets[bucket_of(st, name)]; e != NULL; e = e->hnext) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

size_t store_lower_bound(srv_store *st, uint64_t seq)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->vec[mid]->seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int grow_buckets(srv_store *st)
{
    size_t nb = st->nbuckets * 2;
    op_entry **b = lro_calloc(nb, sizeof *b);
    if (b == NULL) {
        return LRO_ERR_NOMEM;
    }
    op_entry **old = st->buckets;
    size_t on = st->nbuckets;
    st->buckets = b;
    st->nbuckets = nb;
    for (size_t i = 0; i < on; i++) {
        for (op_entry *e = old[i], *next; e != NULL; e = next) {
            next = e->hnext;
            size_t k = bucket_of(st, e->name);
            e->hnext = b[k];
            b[k] = e;
        }
    }
    lro_free(old);
    return LRO_OK;
}

void waiter_add(op_entry *e, srv_call *c)
{
    c->wentry = e;
    c->wprev = NULL;
    c->wnext = e->waiters;
    if (e->waiters != NULL) {
        e->waiters->wprev = c;
    }
    e->waiters = c;
}

void waiter_remove(srv_call *c)
{
    op_entry *e = c->wentry;
    if (e == NULL) {
        return;
    }
    if (c->wprev != NULL) {
        c->wprev->wnext = c->wnext;
    } else {
        e->waiters = c->wnext;
    }
    if (c->wnext != NULL) {
        c->wnext->wprev = c->wprev;
    }
    c->wentry = NULL;
    c->wprev = c->wnext = NULL;
}

/* Answers every held Wait on e: with its bytes, or NOT_FOUND when gone. */
static void answer_waiters(lro_test_server *s, op_entry *e, int gone)
{
    while (e->waiters != NULL) {
        srv_call *c = e->waiters;
        waiter_remove(c);
        heap_remove(s, &c->timer);
        if (gone) {
            srv_answer_error(c, LRO_CODE_NOT_FOUND, "operation deleted while waiting");
        } else {
            srv_answer(c, LRO_CODE_OK, "", e->bytes, e->len, NULL, 0);
        }
    }
}

/* Takes ownership of bytes on success. */
static int store_put_bytes(lro_test_server *s, const char *name, uint8_t *bytes, size_t len,
                           bool done)
{
    srv_store *st = &s->store;
    op_entry *e = store_find(st, name);
    if (e != NULL) {
        lro_free(e->bytes);
        e->bytes = bytes;
        e->len = len;
        e->done = done;
        if (done) {
            heap_remove(s, &e->lc_timer); /* nothing left to schedule */
            answer_waiters(s, e, 0);
        } else {
            lifecycle_adopt(s, e);
        }
        return LRO_OK;
    }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 256;
        op_entry **v = lro_realloc(st->vec, cap * sizeof *v);
        if (v == NULL) {
            return LRO_ERR_NOMEM;
        }
        st->vec = v;
        st->cap = cap;
    }
    if (st->n >= st->nbuckets && grow_buckets(st) != LRO_OK) {
        return LRO_ERR_NOMEM;
    }
    e = lro_calloc(1, sizeof *e);
    if (e == NULL || (e->name = lro_strdup(name)) == NULL) {
        lro_free(e);
        return LRO_ERR_NOMEM;
    }
    e->seq = st->next_seq++;
    e->bytes = bytes;
    e->len = len;
    e->done = done;
    e->lc_timer.node.index = SIZE_MAX;
    e->lc_timer.kind = TIMER_LIFECYCLE;
    e->lc_timer.owner = e;
    size_t k = bucket_of(st, name);
    e->hnext = st->buckets[k];
    st->buckets[k] = e;
    st->vec[st->n++] = e;
    if (!done) {
        lifecycle_adopt(s, e);
    }
    return LRO_OK;
}

static Op *op_unpack(const uint8_t *b, size_t n)
{
    return (Op *)protobuf_c_message_unpack(&OP_DESC, lro_pb_allocator(), n, b);
}

static void op_free(Op *op)
{
    if (op != NULL) {
        protobuf_c_message_free_unpacked(&op->base, lro_pb_allocator());
    }
}

int store_finish(lro_test_server *s, const char *name, const uint8_t *result_op, size_t len)
{
    op_entry *e = store_find(&s->store, name);
    if (e == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (e->done) {
        return LRO_ERR_STATE;
    }
    Op *cur = op_unpack(e->bytes, e->len);
    Op *res = op_unpack(result_op, len);
    int rc = LRO_ERR_NOMEM;
    if (cur != NULL && res != NULL) {
        /* Borrow res's result into cur for packing, then put both back so
         * each message frees what it owns. */
        Google__Longrunning__Operation__ResultCase c0 = cur->result_case;
        void *p0;
        void *p1;
        memcpy(&p0, &cur->error, sizeof p0);
        memcpy(&p1, &res->error, sizeof p1);
        cur->result_case = res->result_case;
        memcpy(&cur->error, &p1, sizeof p1);
        cur->done = 1;
        uint8_t *b;
        size_t n;
        rc = srv_pack(&cur->base, &b, &n);
        cur->result_case = c0;
        memcpy(&cur->error, &p0, sizeof p0);
        if (rc == LRO_OK) {
            rc = store_put_bytes(s, name, b, n, true);
            if (rc != LRO_OK) {
                lro_free(b);
            }
        }
    }
    op_free(cur);
    op_free(res);
    return rc;
}

int store_delete(lro_test_server *s, const char *name)
{
    srv_store *st = &s->store;
    size_t k = bucket_of(st, name);
    op_entry **pp = &st->buckets[k];
    while (*pp != NULL && strcmp((*pp)->name, name) != 0) {
        pp = &(*pp)->hnext;
    }
    op_entry *e = *pp;
    if (e == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    *pp = e->hnext;
    size_t i = store_lower_bound(st, e->seq);
    memmove(&st->vec[i], &st->vec[i + 1], (st->n - i - 1) * sizeof *st->vec);
    st->n--;
    heap_remove(s, &e->lc_timer);
    answer_waiters(s, e, 1);
    entry_free(e);
    return LRO_OK;
}

/* ---- building operations ---- */

static void any_set(Google__Protobuf__Any *a, const char *type_url, const uint8_t *v, size_t n)
{
    google__protobuf__any__init(a);
    a->type_url = (char *)type_url;
    a->value.data = (uint8_t *)v;
    a->value.len = n;
}

int build_error_op(int code, const char *message, Google__Protobuf__Any *const *details, size_t n,
                   uint8_t **out, size_t *len)
{
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = code;
    st.message = (char *)(message != NULL ? message : "");
    st.n_details = n;
    st.details = (Google__Protobuf__Any **)details;
    Op op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.done = 1;
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
    op.error = &st;
    return srv_pack(&op.base, out, len);
}

int build_error_result(int code, const char *message, const uint8_t *details_status,
                       size_t details_len, uint8_t **out, size_t *len)
{
    if (details_status == NULL) {
        return build_error_op(code, message, NULL, 0, out, len);
    }
    Google__Rpc__Status *det =
        google__rpc__status__unpack(lro_pb_allocator(), details_len, details_status);
    if (det == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    int rc = build_error_op(code, message, det->details, det->n_details, out, len);
    google__rpc__status__free_unpacked(det, lro_pb_allocator());
    return rc;
}

int build_response_result(const char *type_url, const uint8_t *resp, size_t resp_len, uint8_t **out,
                          size_t *len)
{
    Op op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    Google__Protobuf__Any any;
    op.done = 1;
    if (type_url != NULL) {
        any_set(&any, type_url, resp, resp_len);
        op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
        op.response = &any;
    }
    return srv_pack(&op.base, out, len);
}

/* ---- public API ---- */

int lro_test_server_put(lro_test_server *s, const uint8_t *operation, size_t len)
{
    if (s == NULL || (operation == NULL && len > 0)) {
        return LRO_ERR_INVALID_ARG;
    }
    Op *op = op_unpack(operation, len);
    if (op == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    int rc = lro_check_name(op->name) == LRO_OK ? LRO_OK : LRO_ERR_BAD_NAME;
    uint8_t *copy = NULL;
    if (rc == LRO_OK && (copy = lro_malloc(len + 1)) == NULL) {
        rc = LRO_ERR_NOMEM;
    } else if (rc == LRO_OK && len > 0) {
        memcpy(copy, operation, len);
    }
    if (rc == LRO_OK) {
        pthread_mutex_lock(&s->mu);
        rc = store_put_bytes(s, op->name, copy, len, op->done != 0);
        pthread_mutex_unlock(&s->mu);
        if (rc != LRO_OK) {
            lro_free(copy);
        }
    }
    op_free(op);
    return rc;
}

static int put_op(lro_test_server *s, const Op *op)
{
    uint8_t *b;
    size_t n;
    int rc = srv_pack(&op->base, &b, &n);
    if (rc != LRO_OK) {
        return rc;
    }
    pthread_mutex_lock(&s->mu);
    rc = store_put_bytes(s, op->name, b, n, op->done != 0);
    pthread_mutex_unlock(&s->mu);
    if (rc != LRO_OK) {
        lro_free(b);
    }
    return rc;
}

int lro_test_server_put_pending(lro_test_server *s, const char *name, const char *meta_type_url,
                                const uint8_t *meta, size_t meta_len)
{
    if (s == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lro_check_name(name) != LRO_OK) {
        return LRO_ERR_BAD_NAME;
    }
    Op op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    Google__Protobuf__Any any;
    op.name = (char *)name;
    if (meta_type_url != NULL) {
        any_set(&any, meta_type_url, meta, meta_len);
        op.metadata = &any;
    }
    return put_op(s, &op);
}

int lro_test_server_set_metadata(lro_test_server *s, const char *name, const char *meta_type_url,
                                 const uint8_t *meta, size_t meta_len)
{
    if (s == NULL || name == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->mu);
    op_entry *e = store_find(&s->store, name);
    int rc = e != NULL ? store_set_metadata(e, meta_type_url, meta, meta_len) : LRO_ERR_INVALID_ARG;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_set_metadata(op_entry *e, const char *meta_type_url, const uint8_t *meta, size_t meta_len)
{
    Op *op = op_unpack(e->bytes, e->len);
    if (op == NULL) {
        return LRO_ERR_NOMEM;
    }
    Google__Protobuf__Any any, *old = op->metadata;
    op->metadata = NULL;
    if (meta_type_url != NULL) {
        any_set(&any, meta_type_url, meta, meta_len);
        op->metadata = &any;
    }
    uint8_t *b;
    size_t n;
    int rc = srv_pack(&op->base, &b, &n);
    op->metadata = old;
    if (rc == LRO_OK) {
        lro_free(e->bytes);
        e->bytes = b;
        e->len = n;
    }
    op_free(op);
    return rc;
}

/* Finishes now or arms a timer; takes ownership of result. */
static int finish_later(lro_test_server *s, const char *name, int64_t delay_ms, uint8_t *result,
                        size_t len)
{
    pthread_mutex_lock(&s->mu);
    op_entry *e = store_find(&s->store, name);
    int rc = e == NULL ? LRO_ERR_INVALID_ARG : e->done ? LRO_ERR_STATE : LRO_OK;
    if (rc == LRO_OK && delay_ms <= 0) {
        rc = store_finish(s, name, result, len);
    } else if (rc == LRO_OK) {
        srv_completion *sc = lro_calloc(1, sizeof *sc);
        if (sc == NULL || (sc->name = lro_strdup(name)) == NULL) {
            lro_free(sc);
            rc = LRO_ERR_NOMEM;
        } else {
            sc->op_result = result;
            sc->op_result_len = len;
            sc->timer.kind = TIMER_COMPLETE;
            sc->timer.owner = sc;
            sc->timer.node.key = lro_now_ms() + delay_ms;
            rc = heap_push(s, &sc->timer);
            if (rc == LRO_OK) {
                result = NULL; /* the timer owns it now */
            } else {
                lro_free(sc->name);
                lro_free(sc);
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    lro_free(result);
    return rc;
}

int lro_test_server_complete(lro_test_server *s, const char *name, int64_t delay_ms,
                             const char *resp_type_url, const uint8_t *resp, size_t resp_len)
{
    if (s == NULL || name == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    uint8_t *b;
    size_t n;
    int rc = build_response_result(resp_type_url, resp, resp_len, &b, &n);
    return rc != LRO_OK ? rc : finish_later(s, name, delay_ms, b, n);
}

int lro_test_server_fail(lro_test_server *s, const char *name, int64_t delay_ms, int code,
                         const char *message, const uint8_t *details_status, size_t details_len)
{
    if (s == NULL || name == NULL || code <= 0 || code > 16) {
        return LRO_ERR_INVALID_ARG;
    }
    uint8_t *b;
    size_t n;
    int rc = build_error_result(code, message, details_status, details_len, &b, &n);
    return rc != LRO_OK ? rc : finish_later(s, name, delay_ms, b, n);
}

/* Seeded operation i of parent, by i % 4: done with a StringValue, failed
 * (INVALID_ARGUMENT with an ErrorInfo), pending with a progress Struct as
 * metadata, or done with a Struct. */
static int seed_one(lro_test_server *s, const char *parent, int i)
{
    char name[LRO_MAX_NAME_LEN + 32], text[64], idx[16];
    snprintf(name, sizeof name, "%s/op-%05d", parent, i);
    snprintf(idx, sizeof idx, "%d", i);
    Op op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.name = name;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT, *dets[1] = {&any};
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    int rc;
    switch (i % 4) {
    case 0: {
        snprintf(text, sizeof text, "result-%d", i);
        Google__Protobuf__StringValue sv = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
        sv.value = text;
        rc = srv_pack_any(&any, "type.googleapis.com/google.protobuf.StringValue", &sv.base);
        op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
        op.response = &any;
        break;
    }
    case 1:
        rc = srv_pack_error_info(&any, "SEEDED_FAILURE", "lro-c.test", "index", idx);
        snprintf(text, sizeof text, "seeded failure %d", i);
        st.code = LRO_CODE_INVALID_ARGUMENT;
        st.message = text;
        st.n_details = 1;
        st.details = dets;
        op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
        op.error = &st;
        break;
    case 2: {
        const srv_field progress = {"progress", NULL, (double)(i % 100)};
        rc = srv_pack_struct(&any, &progress, 1);
        op.metadata = &any;
        break;
    }
    default: {
        snprintf(text, sizeof text, "result-%d", i);
        const srv_field f[2] = {{"index", NULL, (double)i}, {"result", text, 0}};
        rc = srv_pack_struct(&any, f, 2);
        op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
        op.response = &any;
        break;
    }
    }
    op.done = op.result_case != GOOGLE__LONGRUNNING__OPERATION__RESULT__NOT_SET;
    if (rc == LRO_OK) {
        rc = put_op(s, &op);
    }
    lro_free(any.value.data);
    return rc;
}

int lro_test_server_seed(lro_test_server *s, const char *parent, int n)
{
    if (s == NULL || n < 0 || n > 100000) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lro_check_name(parent) != LRO_OK || strlen(parent) > LRO_MAX_NAME_LEN - 10) {
        return LRO_ERR_BAD_NAME;
    }
    for (int i = 0; i < n; i++) {
        int rc = seed_one(s, parent, i);
        if (rc != LRO_OK) {
            return rc;
        }
    }
    return LRO_OK;
}

int lro_test_server_get(lro_test_server *s, const char *name, uint8_t **out, size_t *len)
{
    if (s == NULL || name == NULL || out == NULL || len == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->mu);
    op_entry *e = store_find(&s->store, name);
    int rc = LRO_ERR_INVALID_ARG;
    if (e != NULL) {
        uint8_t *b = lro_memdup(e->bytes, e->len > 0 ? e->len : 1);
        rc = b != NULL ? LRO_OK : LRO_ERR_NOMEM;
        if (b != NULL) {
            *out = b;
            *len = e->len;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void lro_test_free(void *p)
{
    /* The server's allocator, whichever copy of it this library links. */
    lro_free(p);
}

size_t lro_test_server_count(lro_test_server *s)
{
    return s != NULL ? srv_locked_count(&s->mu, &s->store.n) : 0;
}

void lro_test_server_clear(lro_test_server *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    while (s->store.n > 0) {
        store_delete(s, s->store.vec[s->store.n - 1]->name);
    }
    pthread_mutex_unlock(&s->mu);
}
