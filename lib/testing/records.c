/*
 * records.c - what clients sent, so tests can assert on it: one record per
 * call (method, request fields, every request header, the deadline as it
 * was at arrival, the code we answered) in a bounded ring, plus exact call
 * counters per method and per name that never drop anything.
 */
#include <string.h>

#include <grpc/support/time.h>

#include "google/longrunning/operations.pb-c.h"
#include "server_int.h"

void records_init(srv_records *r, int64_t limit)
{
    memset(r, 0, sizeof *r);
    r->cap = limit > 0 ? (size_t)limit : 0;
    r->next_seq = 1;
    r->nbuckets = 256;
    r->buckets = lro_calloc(r->nbuckets, sizeof *r->buckets);
}

static void record_free(lro_test_record *rec)
{
    if (rec == NULL) {
        return;
    }
    lro_free(rec->name);
    lro_free(rec->filter);
    lro_free(rec->page_token);
    lro_free(rec->identity);
    for (size_t i = 0; i < rec->n_headers; i++) {
        lro_free(rec->headers[i].key);
        lro_free(rec->headers[i].value);
    }
    lro_free(rec->headers);
    lro_free(rec);
}

static void ring_clear(srv_records *r)
{
    for (size_t i = 0; i < r->n; i++) {
        record_free(r->ring[(r->start + i) % r->ring_alloc]);
    }
    r->n = 0;
    r->start = 0;
    lro_free(r->ring);
    r->ring = NULL;
    r->ring_alloc = 0;
}

void records_free(srv_records *r)
{
    ring_clear(r);
    for (size_t i = 0; i < r->nbuckets && r->buckets != NULL; i++) {
        for (srv_counter *c = r->buckets[i], *next; c != NULL; c = next) {
            next = c->next;
            lro_free(c->name);
            lro_free(c);
        }
    }
    lro_free(r->buckets);
    r->buckets = NULL;
}

static char *dup_or_empty(const char *s)
{
    return lro_strdup(s != NULL ? s : "");
}

static char *slice_dup(grpc_slice sl, size_t *len)
{
    size_t n = GRPC_SLICE_LENGTH(sl);
    char *p = lro_malloc(n + 1);
    if (p != NULL) {
        memcpy(p, GRPC_SLICE_START_PTR(sl), n);
        p[n] = '\0';
    }
    if (len != NULL) {
        *len = n;
    }
    return p;
}

static int64_t deadline_ms(gpr_timespec d)
{
    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) >= 0 || d.tv_sec == INT64_MAX) {
        return -1;
    }
    int64_t ms = gpr_time_to_millis(gpr_time_sub(d, gpr_now(d.clock_type)));
    return ms < 0 ? 0 : ms;
}

static lro_test_record *make_record(srv_call *c, const char *name)
{
    lro_test_record *rec = lro_calloc(1, sizeof *rec);
    if (rec == NULL) {
        return NULL;
    }
    rec->method = 1u << c->method;
    rec->code = -1; /* not answered yet */
    rec->wait_timeout_ms = -1;
    rec->deadline_ms = deadline_ms(c->deadline);
    rec->name = dup_or_empty(name);
    const char *filter = "", *token = "";
    if (c->method == M_LIST && c->req != NULL) {
        Google__Longrunning__ListOperationsRequest *q = c->req;
        filter = q->filter;
        token = q->page_token;
        rec->page_size = q->page_size;
        rec->partial = q->return_partial_success != 0;
    }
    if (c->method == M_WAIT && c->req != NULL) {
        Google__Longrunning__WaitOperationRequest *q = c->req;
        if (q->timeout != NULL) {
            rec->wait_timeout_ms = q->timeout->seconds * 1000 + q->timeout->nanos / 1000000;
        }
    }
    rec->filter = dup_or_empty(filter);
    rec->page_token = dup_or_empty(token);
    rec->identity = dup_or_empty(c->identity);
    int ok = rec->name != NULL && rec->filter != NULL && rec->page_token != NULL &&
             rec->identity != NULL;
    if (ok && c->md.count > 0) {
        rec->headers = lro_calloc(c->md.count, sizeof *rec->headers);
        ok = rec->headers != NULL;
        for (size_t i = 0; ok && i < c->md.count; i++) {
            srv_header *h = &rec->headers[i];
            rec->n_headers++;
            h->key = slice_dup(c->md.metadata[i].key, NULL);
            h->value = slice_dup(c->md.metadata[i].value, &h->value_len);
            ok = h->key != NULL && h->value != NULL;
        }
    }
    if (!ok) {
        record_free(rec);
        return NULL;
    }
    return rec;
}

static srv_counter *counter_for(srv_records *r, const char *name)
{
    size_t k = (size_t)(srv_hash(name, strlen(name), SRV_FNV_SEED) & (r->nbuckets - 1));
    for (srv_counter *c = r->buckets[k]; c != NULL; c = c->next) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    return NULL;
}

static void count(srv_records *r, int method, const char *name)
{
    r->total[method]++;
    srv_counter *c = counter_for(r, name);
    if (c == NULL) {
        if (r->ncounters >= r->nbuckets * 4) {
            /* Keep chains short: double the table. */
            size_t nb = r->nbuckets * 2;
            srv_counter **b = lro_calloc(nb, sizeof *b);
            if (b != NULL) {
                for (size_t i = 0; i < r->nbuckets; i++) {
                    for (srv_counter *x = r->buckets[i], *next; x != NULL; x = next) {
                        next = x->next;
                        size_t k =
                            (size_t)(srv_hash(x->name, strlen(x->name), SRV_FNV_SEED) & (nb - 1));
                        x->next = b[k];
                        b[k] = x;
                    }
                }
                lro_free(r->buckets);
                r->buckets = b;
                r->nbuckets = nb;
            }
        }
        c = lro_calloc(1, sizeof *c);
        if (c == NULL || (c->name = lro_strdup(name)) == NULL) {
            lro_free(c);
            return; /* out of memory: the per-name count is lost, totals are not */
        }
        size_t k = (size_t)(srv_hash(name, strlen(name), SRV_FNV_SEED) & (r->nbuckets - 1));
        c->next = r->buckets[k];
        r->buckets[k] = c;
        r->ncounters++;
    }
    c->n[method]++;
}

void records_add(srv_call *c, const char *name)
{
    lro_test_server *s = c->s;
    if (name == NULL) {
        name = "";
    }
    /* Build outside the lock: copying headers is the expensive part. */
    lro_test_record *rec = s->rec.cap > 0 ? make_record(c, name) : NULL;
    pthread_mutex_lock(&s->rec_mu);
    srv_records *r = &s->rec;
    count(r, c->method, name);
    if (rec != NULL) {
        rec->seq = r->next_seq++;
        c->record_seq = rec->seq;
        if (r->n == r->ring_alloc && r->ring_alloc < r->cap) {
            /* Grow while nothing has been dropped yet (start is 0). */
            size_t na = r->ring_alloc ? r->ring_alloc * 2 : 64;
            if (na > r->cap) {
                na = r->cap;
            }
            lro_test_record **v = lro_realloc(r->ring, na * sizeof *v);
            if (v != NULL) {
                r->ring = v;
                r->ring_alloc = na;
            }
        }
        if (r->n < r->ring_alloc) {
            r->ring[(r->start + r->n) % r->ring_alloc] = rec;
            r->n++;
        } else if (r->n > 0 && r->n == r->cap) {
            record_free(r->ring[r->start]); /* full: drop the oldest */
            r->ring[r->start] = rec;
            r->start = (r->start + 1) % r->ring_alloc;
        } else {
            record_free(rec);
            c->record_seq = 0;
        }
    }
    pthread_mutex_unlock(&s->rec_mu);
}

void records_set_code(lro_test_server *s, uint64_t seq, int code)
{
    if (seq == 0) {
        return;
    }
    pthread_mutex_lock(&s->rec_mu);
    srv_records *r = &s->rec;
    if (r->n > 0) {
        /* Records are kept in seq order: the first one tells the offset. */
        uint64_t first = r->ring[r->start]->seq;
        if (seq >= first && seq - first < r->n) {
            lro_test_record *rec = r->ring[(r->start + (size_t)(seq - first)) % r->ring_alloc];
            if (rec->seq == seq) {
                rec->code = code;
            }
        }
    }
    pthread_mutex_unlock(&s->rec_mu);
}

/* ---- public API ---- */

uint64_t lro_test_server_call_count(lro_test_server *s, unsigned methods, const char *name)
{
    if (s == NULL) {
        return 0;
    }
    if (methods == 0) {
        methods = LRO_TEST_ALL;
    }
    uint64_t n = 0;
    pthread_mutex_lock(&s->rec_mu);
    srv_counter *c = name != NULL ? counter_for(&s->rec, name) : NULL;
    for (int m = 0; m < SRV_METHODS; m++) {
        if (methods & (1u << m)) {
            n += name == NULL ? s->rec.total[m] : c != NULL ? c->n[m] : 0;
        }
    }
    pthread_mutex_unlock(&s->rec_mu);
    return n;
}

size_t lro_test_server_record_count(lro_test_server *s)
{
    return s != NULL ? srv_locked_count(&s->rec_mu, &s->rec.n) : 0;
}

static lro_test_record *record_copy(const lro_test_record *a)
{
    lro_test_record *b = lro_calloc(1, sizeof *b);
    if (b == NULL) {
        return NULL;
    }
    *b = *a;
    b->name = lro_strdup(a->name);
    b->filter = lro_strdup(a->filter);
    b->page_token = lro_strdup(a->page_token);
    b->identity = lro_strdup(a->identity ? a->identity : "");
    b->n_headers = 0;
    b->headers = a->n_headers ? lro_calloc(a->n_headers, sizeof *b->headers) : NULL;
    int ok = b->name && b->filter && b->page_token && b->identity &&
             (a->n_headers == 0 || b->headers);
    for (size_t i = 0; ok && i < a->n_headers; i++) {
        srv_header *h = &b->headers[i];
        b->n_headers++;
        h->key = lro_strdup(a->headers[i].key);
        h->value = lro_memdup(a->headers[i].value, a->headers[i].value_len + 1);
        h->value_len = a->headers[i].value_len;
        ok = h->key && h->value;
    }
    if (!ok) {
        record_free(b);
        return NULL;
    }
    return b;
}

lro_test_record *lro_test_server_record(lro_test_server *s, size_t i)
{
    if (s == NULL) {
        return NULL;
    }
    lro_test_record *out = NULL;
    pthread_mutex_lock(&s->rec_mu);
    if (i < s->rec.n) {
        out = record_copy(s->rec.ring[(s->rec.start + i) % s->rec.ring_alloc]);
    }
    pthread_mutex_unlock(&s->rec_mu);
    return out;
}

lro_test_record *lro_test_server_last_record(lro_test_server *s, unsigned methods, const char *name)
{
    if (s == NULL) {
        return NULL;
    }
    if (methods == 0) {
        methods = LRO_TEST_ALL;
    }
    lro_test_record *out = NULL;
    pthread_mutex_lock(&s->rec_mu);
    for (size_t i = s->rec.n; i-- > 0;) {
        lro_test_record *r = s->rec.ring[(s->rec.start + i) % s->rec.ring_alloc];
        if ((r->method & methods) && (name == NULL || strcmp(name, r->name) == 0)) {
            out = record_copy(r);
            break;
        }
    }
    pthread_mutex_unlock(&s->rec_mu);
    return out;
}

void lro_test_server_clear_records(lro_test_server *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->rec_mu);
    ring_clear(&s->rec);
    pthread_mutex_unlock(&s->rec_mu);
}

void lro_test_record_free(lro_test_record *r)
{
    record_free(r);
}

unsigned lro_test_record_method(const lro_test_record *r)
{
    return r != NULL ? r->method : 0;
}
const char *lro_test_record_name(const lro_test_record *r)
{
    return r != NULL ? r->name : NULL;
}
const char *lro_test_record_filter(const lro_test_record *r)
{
    return r != NULL ? r->filter : NULL;
}
int32_t lro_test_record_page_size(const lro_test_record *r)
{
    return r != NULL ? r->page_size : 0;
}
const char *lro_test_record_page_token(const lro_test_record *r)
{
    return r != NULL ? r->page_token : NULL;
}
int lro_test_record_partial(const lro_test_record *r)
{
    return r != NULL ? r->partial : 0;
}
int64_t lro_test_record_wait_timeout_ms(const lro_test_record *r)
{
    return r != NULL ? r->wait_timeout_ms : -1;
}
int64_t lro_test_record_deadline_ms(const lro_test_record *r)
{
    return r != NULL ? r->deadline_ms : -1;
}
const char *lro_test_record_header(const lro_test_record *r, const char *key)
{
    return lro_test_record_header_n(r, key, NULL);
}
const char *lro_test_record_header_n(const lro_test_record *r, const char *key, size_t *len)
{
    if (len != NULL) {
        *len = 0;
    }
    if (r == NULL || key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcmp(r->headers[i].key, key) == 0) {
            if (len != NULL) {
                *len = r->headers[i].value_len;
            }
            return r->headers[i].value;
        }
    }
    return NULL;
}
int lro_test_record_code(const lro_test_record *r)
{
    return r != NULL ? r->code : -1;
}

const char *lro_test_record_identity(const lro_test_record *r)
{
    return r != NULL && r->identity != NULL ? r->identity : "";
}
