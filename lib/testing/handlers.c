/*
 * handlers.c - the five google.longrunning.Operations methods.
 *
 * Bad input never crashes the server: undecodable bytes, empty or malformed
 * names, bad filters and page tokens are answered INVALID_ARGUMENT.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "server_int.h"

#define LIST_DEFAULT_PAGE 50
#define LIST_MAX_PAGE     1000

static const ProtobufCMessageDescriptor *const req_desc[SRV_METHODS] = {
    &google__longrunning__list_operations_request__descriptor,
    &google__longrunning__get_operation_request__descriptor,
    &google__longrunning__delete_operation_request__descriptor,
    &google__longrunning__cancel_operation_request__descriptor,
    &google__longrunning__wait_operation_request__descriptor,
};

static const char *req_name(const srv_call *c)
{
    if (c->req == NULL) {
        return "";
    }
    switch (c->method) {
    case M_LIST:
        return ((Google__Longrunning__ListOperationsRequest *)c->req)->name;
    case M_GET:
        return ((Google__Longrunning__GetOperationRequest *)c->req)->name;
    case M_DELETE:
        return ((Google__Longrunning__DeleteOperationRequest *)c->req)->name;
    case M_CANCEL:
        return ((Google__Longrunning__CancelOperationRequest *)c->req)->name;
    default:
        return ((Google__Longrunning__WaitOperationRequest *)c->req)->name;
    }
}

void handle_arrival(srv_call *c)
{
    srv_decode_request(c, req_desc[c->method]);
    const char *name = req_name(c);
    /* Credentials first (auth.c; nothing configured: only the client
     * certificate's subject is noted). The identity goes into the record. */
    char why[300] = "";
    int authed = srv_auth_check(c, why, sizeof why);
    records_add(c, name);
    if (!authed) {
        srv_answer_error(c, LRO_CODE_UNAUTHENTICATED, why);
        return;
    }
    if (c->req == NULL) {
        srv_answer_error(c, LRO_CODE_INVALID_ARGUMENT, "request message missing or not decodable");
        return;
    }
    if (faults_apply(c, name)) {
        return;
    }
    handle_call(c);
}

static int bad_name(srv_call *c, const char *name, const char *what)
{
    if (lro_check_name(name) == LRO_OK) {
        return 0;
    }
    char msg[128];
    snprintf(msg, sizeof msg,
             "%s must be non-empty UTF-8 without control characters, "
             "at most %d bytes",
             what, LRO_MAX_NAME_LEN);
    srv_answer_error_ex(c, LRO_CODE_INVALID_ARGUMENT, msg, NULL, "name");
    return 1;
}

static void not_found(srv_call *c)
{
    srv_answer_error(c, LRO_CODE_NOT_FOUND, "operation not found");
}

static void do_get(srv_call *c, const char *name)
{
    lro_test_server *s = c->s;
    pthread_mutex_lock(&s->mu);
    op_entry *e = store_find(&s->store, name);
    grpc_slice sl = e != NULL ? grpc_slice_from_copied_buffer((const char *)e->bytes, e->len)
                              : grpc_empty_slice();
    pthread_mutex_unlock(&s->mu);
    if (e == NULL) {
        not_found(c);
    } else {
        srv_answer_slice(c, LRO_CODE_OK, "", &sl, NULL, 0);
    }
}

static void do_delete(srv_call *c, const char *name)
{
    lro_test_server *s = c->s;
    pthread_mutex_lock(&s->mu);
    int rc = store_delete(s, name);
    pthread_mutex_unlock(&s->mu);
    if (rc != LRO_OK) {
        not_found(c);
    } else {
        srv_answer_empty(c);
    }
}

static void do_cancel(srv_call *c, const char *name)
{
    lro_test_server *s = c->s;
    uint8_t *res = NULL;
    size_t len = 0;
    if (build_error_result(LRO_CODE_CANCELLED, "Operation was cancelled by the client", NULL, 0,
                           &res, &len) != LRO_OK) {
        srv_answer_error(c, LRO_CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    pthread_mutex_lock(&s->mu);
    /* Done operations stay as they are (cancel is then a no-op). */
    int rc =
        store_find(&s->store, name) == NULL ? LRO_ERR_INVALID_ARG : store_finish(s, name, res, len);
    pthread_mutex_unlock(&s->mu);
    lro_free(res);
    if (rc == LRO_ERR_INVALID_ARG) {
        not_found(c);
    } else if (rc == LRO_ERR_NOMEM) {
        srv_answer_error(c, LRO_CODE_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        srv_answer_empty(c);
    }
}

static int64_t deadline_left_ms(gpr_timespec d)
{
    if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) >= 0) {
        return INT64_MAX;
    }
    return gpr_time_to_millis(gpr_time_sub(d, gpr_now(d.clock_type)));
}

static void do_wait(srv_call *c, const char *name)
{
    lro_test_server *s = c->s;
    Google__Longrunning__WaitOperationRequest *q = c->req;
    int64_t hold = s->wait_cap_ms;
    if (q->timeout != NULL) {
        int64_t t = q->timeout->seconds * 1000 + q->timeout->nanos / 1000000;
        if (q->timeout->seconds < 0 || t < 0) {
            t = 0;
        }
        if (q->timeout->seconds < INT64_MAX / 2000 && t < hold) {
            hold = t;
        }
    }
    /* Past the client's deadline nobody listens: release the call then. */
    int64_t left = deadline_left_ms(c->deadline);
    if (left < hold) {
        hold = left < 0 ? 0 : left;
    }
    pthread_mutex_lock(&s->mu);
    op_entry *e = store_find(&s->store, name);
    if (e == NULL) {
        pthread_mutex_unlock(&s->mu);
        not_found(c);
        return;
    }
    if (!e->done && hold > 0 && !atomic_load(&s->stopping)) {
        c->timer.kind = TIMER_WAIT;
        c->timer.owner = c;
        c->timer.node.key = lro_now_ms() + hold;
        if (heap_push(s, &c->timer) == LRO_OK) {
            waiter_add(e, c); /* answered by completion, timeout or stop */
            pthread_mutex_unlock(&s->mu);
            return;
        }
    }
    srv_answer(c, LRO_CODE_OK, "", e->bytes, e->len, NULL, 0);
    pthread_mutex_unlock(&s->mu);
}

void wait_timed_out(srv_call *c)
{
    op_entry *e = c->wentry;
    waiter_remove(c);
    if (e != NULL) {
        srv_answer(c, LRO_CODE_OK, "", e->bytes, e->len, NULL, 0);
    } else {
        not_found(c);
    }
}

/* ---- ListOperations ---- */

enum { F_ANY, F_DONE, F_PENDING, F_BAD };

/* Supported: "", "done=true", "done=false" (spaces allowed around '=' and
 * ':' accepted for '=', as AIP-160 does for has-style checks). */
static int parse_filter(const char *f)
{
    while (isspace((unsigned char)*f)) {
        f++;
    }
    if (*f == '\0') {
        return F_ANY;
    }
    if (strncmp(f, "done", 4) != 0) {
        return F_BAD;
    }
    f += 4;
    while (isspace((unsigned char)*f)) {
        f++;
    }
    if (*f != '=' && *f != ':') {
        return F_BAD;
    }
    f++;
    while (isspace((unsigned char)*f)) {
        f++;
    }
    int r;
    if (strncasecmp(f, "true", 4) == 0) {
        r = F_DONE;
        f += 4;
    } else if (strncasecmp(f, "false", 5) == 0) {
        r = F_PENDING;
        f += 5;
    } else {
        return F_BAD;
    }
    while (isspace((unsigned char)*f)) {
        f++;
    }
    return *f == '\0' ? r : F_BAD;
}

static int list_match(const op_entry *e, const char *prefix, size_t plen, int mode)
{
    return strncmp(e->name, prefix, plen) == 0 && (mode == F_ANY || (mode == F_DONE) == e->done);
}

static void do_list(srv_call *c)
{
    lro_test_server *s = c->s;
    Google__Longrunning__ListOperationsRequest *q = c->req;
    if (bad_name(c, q->name, "name (the parent collection)")) {
        return;
    }
    int mode = parse_filter(q->filter);
    if (mode == F_BAD) {
        srv_answer_error_ex(c, LRO_CODE_INVALID_ARGUMENT,
                            "unsupported filter: use \"\", \"done=true\" or \"done=false\"", NULL,
                            "filter");
        return;
    }
    if (q->page_size < 0) {
        srv_answer_error_ex(c, LRO_CODE_INVALID_ARGUMENT, "page_size must not be negative", NULL,
                            "page_size");
        return;
    }
    size_t page = q->page_size == 0              ? LIST_DEFAULT_PAGE
                  : q->page_size > LIST_MAX_PAGE ? LIST_MAX_PAGE
                                                 : (size_t)q->page_size;
    uint64_t from = 0;
    if (q->page_token[0] != '\0') {
        int mismatch = 0;
        if (pagetoken_parse(q->page_token, q->name, q->filter, &from, &mismatch) != LRO_OK) {
            srv_answer_error_ex(c, LRO_CODE_INVALID_ARGUMENT,
                                mismatch ? "page_token was issued for a different name or filter"
                                         : "page_token is not valid",
                                NULL, "page_token");
            return;
        }
    }
    size_t plen = strlen(q->name) + 1;
    char *prefix = lro_malloc(plen + 1);
    op_entry **hits = lro_malloc(page * sizeof *hits);
    if (prefix == NULL || hits == NULL) {
        lro_free(prefix);
        lro_free(hits);
        srv_answer_error(c, LRO_CODE_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    memcpy(prefix, q->name, plen - 1);
    prefix[plen - 1] = '/';
    prefix[plen] = '\0';

    pthread_mutex_lock(&s->mu);
    /* Locations that cannot be listed: a real backend fails the whole call
     * unless the client accepts a partial answer. Reported on the first
     * page only, so a full walk sees each location once. */
    const srv_unreachable *un = srv_unreachable_find(s, q->name);
    if (un != NULL && !q->return_partial_success) {
        pthread_mutex_unlock(&s->mu);
        lro_free(prefix);
        lro_free(hits);
        srv_answer_error(c, LRO_CODE_UNAVAILABLE,
                         "some locations are unreachable; set return_partial_success to list "
                         "the others");
        return;
    }
    if (un != NULL && from != 0) {
        un = NULL;
    }
    srv_store *st = &s->store;
    size_t nh = 0, total = 0, i = store_lower_bound(st, from);
    for (; i < st->n && nh < page; i++) {
        if (list_match(st->vec[i], prefix, plen, mode)) {
            hits[nh++] = st->vec[i];
            total += 1 + srv_varint_len(st->vec[i]->len) + st->vec[i]->len;
        }
    }
    char *token = NULL;
    for (; i < st->n; i++) {
        if (list_match(st->vec[i], prefix, plen, mode)) {
            token = pagetoken_make(st->vec[i]->seq, q->name, q->filter);
            break;
        }
    }
    size_t tlen = token != NULL ? strlen(token) : 0;
    if (token != NULL) {
        total += 1 + srv_varint_len(tlen) + tlen;
    }
    for (size_t k = 0; un != NULL && k < un->n; k++) {
        size_t l = strlen(un->locations[k]);
        total += 1 + srv_varint_len(l) + l;
    }
    grpc_slice out = grpc_slice_malloc(total);
    uint8_t *w = GRPC_SLICE_START_PTR(out);
    for (size_t k = 0; k < nh; k++) {
        *w++ = 0x0a; /* ListOperationsResponse.operations = 1 */
        w = srv_put_varint(w, hits[k]->len);
        memcpy(w, hits[k]->bytes, hits[k]->len);
        w += hits[k]->len;
    }
    for (size_t k = 0; un != NULL && k < un->n; k++) {
        size_t l = strlen(un->locations[k]);
        *w++ = 0x1a; /* unreachable = 3 */
        w = srv_put_varint(w, l);
        memcpy(w, un->locations[k], l);
        w += l;
    }
    pthread_mutex_unlock(&s->mu);
    if (token != NULL) {
        *w++ = 0x12; /* next_page_token = 2 */
        w = srv_put_varint(w, tlen);
        memcpy(w, token, tlen);
    }
    lro_free(token);
    lro_free(prefix);
    lro_free(hits);
    srv_answer_slice(c, LRO_CODE_OK, "", &out, NULL, 0);
}

void handle_call(srv_call *c)
{
    const char *name = req_name(c);
    if (c->method == M_LIST) {
        do_list(c);
        return;
    }
    if (bad_name(c, name, "name")) {
        return;
    }
    switch (c->method) {
    case M_GET:
        do_get(c, name);
        break;
    case M_DELETE:
        do_delete(c, name);
        break;
    case M_CANCEL:
        do_cancel(c, name);
        break;
    default:
        do_wait(c, name);
        break;
    }
}
