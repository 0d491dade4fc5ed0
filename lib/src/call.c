/* The call layer: the five RPCs as futures, their attempts, retries and
 * statuses.
 *
 * The path of one Get, top to bottom of this file: validate the name, one
 * malloc (the call, whose inline arena holds the routing header, the
 * metadata array and usually the whole decoded response), protobuf-c packs
 * the request straight into a grpc slice, ONE grpc_call_start_batch with the
 * six client ops. The completion (on the I/O thread, through the call's cq
 * tag) decodes the status and the response into the arena, decides on a
 * retry, and finishes the future. */
#include <stdio.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>

#include "call_int.h"
#include "credentials_int.h"
#include "obs_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

#define ROUTING_KEY "x-goog-request-params"
#define DETAILS_KEY "grpc-status-details-bin"

/* Room in a call's inline arena: the metadata array, the routing header
 * and a typical decoded Operation fit, so a Get costs one allocation. */
#define CALL_INLINE 768

/* A retry is not started with less than this much of the overall budget
 * left: it could only end in DEADLINE_EXCEEDED and hide the status that made
 * us retry (documented with lro_retry_policy). */
#define LRO_MIN_RETRY_ATTEMPT_MS 10

/* An attempt that ends UNAVAILABLE without status details (grpc's own
 * status, not a server's) after being open this long lost its connection
 * (GOAWAY, a recycled proxy connection) rather than met a failing server,
 * which refuses a call in milliseconds: it is re-sent at once and not
 * counted against max_attempts, at most LRO_MAX_FREE_RETRIES times per call
 * (a bound, should every call be cut after a second). */
#define LRO_CUT_AFTER_MS     1000
#define LRO_MAX_FREE_RETRIES 100

/* A call: a future plus the state of its current gRPC attempt. */
typedef struct lro_call {
    lro_future base; /* first: a call is a future */
    lro_cq_tag tag;  /* the attempt's batch */
    lro_inflight link;
    /* The attempt; call != NULL while a batch is in flight (c->mu). */
    grpc_call *call;
    grpc_metadata_array recv_initial;
    grpc_metadata_array trailing;
    grpc_byte_buffer *recv_msg;
    grpc_status_code rpc_status;
    grpc_slice rpc_details;
    grpc_slice request; /* encoded request, kept for retries */
    grpc_metadata *md;
    size_t md_count;
    int64_t timeout_ms; /* per attempt; <= 0 none */
    lro_retry_policy retry;
    int64_t first_start_ns;
    int64_t attempt_start_ns;
    int free_retries;  /* re-sends after a cut connection: not counted as attempts */
    lro_channel *chan; /* the attempt's channel (c->mu) */
    /* Internal owner (an await or a pager) told of the outcome first. */
    void (*owner_hook)(lro_future *f);
    void *owner_data;
    char *tp_sent;          /* the traceparent value in md (arena), for events' span ids */
    lro_timer timer;        /* retry backoff */
    lro_credentials *creds; /* per-call credentials (a reference), or NULL */
    /* The attempt's credential headers (lro_creds_fast_md), after md_count
     * in md: references released with the attempt. */
    size_t auth_count;
} lro_call;

static inline lro_call *call_of(lro_future *f)
{
    return (lro_call *)f;
}

/* ---- Starting a call ------------------------------------------------------ */

static void call_on_complete(lro_cq_tag *t, int success);
static void call_abort(lro_inflight *l);
static void call_cancel(lro_future *f);
static void call_release(lro_future *f);

static void call_finishing(lro_future *f);

static const lro_future_ops k_call_ops = {call_cancel, call_release, call_finishing};

/* The owner's hook (an await's or a pager's), before the result is out. */
static void call_finishing(lro_future *f)
{
    lro_call *k = call_of(f);
    if (k->owner_hook != NULL) {
        k->owner_hook(f);
    }
}

void *lro_call_owner_data(const lro_future *f)
{
    return ((const lro_call *)f)->owner_data;
}

int64_t lro_call_started_ns(const lro_future *f)
{
    return ((const lro_call *)f)->first_start_ns;
}

static void call_release(lro_future *f)
{
    lro_call *k = call_of(f);
    lro_credentials_unref(k->creds);
    if (GRPC_SLICE_START_PTR(k->request) != NULL || GRPC_SLICE_LENGTH(k->request) != 0) {
        grpc_slice_unref(k->request);
    }
}

/* Builds the metadata array: routing header, client defaults, call headers.
 * Everything lives in the call's arena and stays valid until the call is
 * freed, i.e. after the last batch referencing it completed. */
static int build_metadata(lro_call *k, const char *name, const lro_call_options *opts)
{
    lro_client *c = k->base.client;
    lro_arena *a = &k->base.arena;
    size_t extra = opts->header_count;
    /* + room for the credential headers each attempt adds (client's and call's). */
    size_t creds_room = (c->creds != NULL ? LRO_CREDS_MAX_MD : 0) +
                        (opts->credentials != NULL ? LRO_CREDS_MAX_MD : 0);
    size_t n = 1 + c->default_md_count + extra + (opts->traceparent != NULL) +
               (opts->tracestate != NULL) + creds_room;
    grpc_metadata *md = lro_arena_alloc(a, n * sizeof *md);
    size_t name_len = strlen(name);
    char *val = lro_arena_alloc(a, sizeof "name=" + 3 * name_len);
    if (md == NULL || val == NULL) {
        return LRO_ERR_NOMEM;
    }
    memset(md, 0, n * sizeof *md);
    memcpy(val, "name=", 5);
    size_t vlen = 5 + lro_url_escape(name, name_len, val + 5);
    md[0].key = grpc_slice_from_static_string(ROUTING_KEY);
    md[0].value = grpc_slice_from_static_buffer(val, vlen);
    size_t i = 1;
    for (size_t j = 0; j < c->default_md_count; j++) {
        md[i].key = c->default_md[j].key; /* owned by the client, outlives calls */
        md[i].value = c->default_md[j].value;
        i++;
    }
    for (size_t j = 0; j < extra; j++) {
        lro_header hh;
        lro_call_header(opts, j, &hh); /* abi.c: the caller's layout, real length */
        const lro_header *h = &hh;
        size_t kl = strlen(h->key), vl = h->value_len;
        char *kk = lro_arena_strndup(a, h->key, kl);
        char *vv = lro_arena_strndup(a, h->value, vl);
        if (kk == NULL || vv == NULL) {
            return LRO_ERR_NOMEM;
        }
        md[i].key = grpc_slice_from_static_buffer(kk, kl);
        md[i].value = grpc_slice_from_static_buffer(vv, vl);
        i++;
    }
    /* W3C trace context (checked by lro_call_options_normalize). */
    const char *tc_key[2] = {"traceparent", "tracestate"};
    const char *tc_val[2] = {opts->traceparent, opts->tracestate};
    for (int j = 0; j < 2; j++) {
        if (tc_val[j] != NULL) {
            size_t vl = strlen(tc_val[j]);
            char *vv = lro_arena_strndup(a, tc_val[j], vl);
            if (vv == NULL) {
                return LRO_ERR_NOMEM;
            }
            k->tp_sent = j == 0 ? vv : k->tp_sent;
            md[i].key = grpc_slice_from_static_string(tc_key[j]);
            md[i].value = grpc_slice_from_static_buffer(vv, vl);
            i++;
        }
    }
    k->md = md;
    k->md_count = i;
    return LRO_OK;
}

static gpr_timespec attempt_deadline(const lro_call *k)
{
    if (k->timeout_ms <= 0) {
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    }
    int64_t ms = k->timeout_ms;
    if (k->retry.total_timeout_ms > 0) {
        /* The overall budget also caps each attempt. */
        int64_t left = k->retry.total_timeout_ms - (lro_now_ns() - k->first_start_ns) / 1000000;
        if (left < ms) {
            ms = left > 1 ? left : 1;
        }
    }
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* The attempt's credential headers (kept until the attempt ends). */
static void release_auth(lro_call *k)
{
    for (size_t i = 0; i < k->auth_count; i++) {
        grpc_slice_unref(k->md[k->md_count + i].value);
    }
    k->auth_count = 0;
}

/* Starts one attempt (caller holds c->mu; the call is in the in-flight
 * list). Returns LRO_ERR_INTERNAL when grpc refused: the caller then
 * finishes the call or reports the error. */
static int start_attempt(lro_call *k)
{
    lro_future *f = &k->base;
    lro_client *c = f->client;
    f->attempts++;
    k->attempt_start_ns = lro_now_ns();
    k->chan = lro_pool_pick_locked(c, f->kind);
    k->call =
        grpc_channel_create_registered_call(k->chan->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                            k->chan->methods[f->kind], attempt_deadline(k), NULL);
    if (k->call == NULL) {
        lro_pool_release_locked(c, k->chan);
        return LRO_ERR_INTERNAL;
    }
    /* Credentials: the client's (unless grpc's channel credentials carry
     * them) and the call's own (lro_call_options.credentials), both sent.
     * Cached headers go with the attempt's metadata; when either needs a
     * token fetched or refreshed, grpc's call credentials do it all. */
    k->auth_count = 0;
    if (c->creds != NULL || k->creds != NULL) {
        grpc_metadata *extra = k->md + k->md_count;
        /* On TLS, a token goes as grpc's call credentials (cheaper than a
         * header grpc validates byte by byte), unless both sets carry one:
         * a call holds one set of call credentials, so both tokens then
         * travel as headers. */
        int ta = lro_creds_has_token(c->creds), tb = lro_creds_has_token(k->creds);
        grpc_call *tls = c->plaintext || (ta && tb) ? NULL : k->call;
        int a = c->creds != NULL ? lro_creds_fast_md(c->creds, c->plaintext, extra, tls) : 0;
        int b = a >= 0 && k->creds != NULL
                    ? lro_creds_fast_md(k->creds, c->plaintext, extra + a, tls)
                    : 0;
        if (a < 0 || b < 0) {
            for (int i = 0; i < (a > 0 ? a : 0); i++) {
                grpc_slice_unref(extra[i].value);
            }
            /* Prepared (built, checked) before: fails only on a grpc bug. */
            if (lro_creds_apply_slow(c->creds, k->creds, k->call) != LRO_OK) {
                grpc_call_unref(k->call);
                k->call = NULL;
                lro_pool_release_locked(c, k->chan);
                return LRO_ERR_INTERNAL;
            }
        } else {
            k->auth_count = (size_t)(a + b);
        }
    }
    grpc_metadata_array_init(&k->recv_initial);
    grpc_metadata_array_init(&k->trailing);
    k->recv_msg = NULL;
    k->rpc_details = grpc_empty_slice();
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&k->request, 1);

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = k->md_count + k->auth_count;
    ops[0].data.send_initial_metadata.metadata = k->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &k->recv_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &k->recv_msg;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &k->trailing;
    ops[5].data.recv_status_on_client.status = &k->rpc_status;
    ops[5].data.recv_status_on_client.status_details = &k->rpc_details;

    grpc_call_error e = grpc_call_start_batch(k->call, ops, 6, &k->tag, NULL);
    grpc_byte_buffer_destroy(send); /* the batch took the slices it needs */
    if (e != GRPC_CALL_OK) {
        release_auth(k);
        grpc_metadata_array_destroy(&k->recv_initial);
        grpc_metadata_array_destroy(&k->trailing);
        grpc_call_unref(k->call);
        k->call = NULL;
        lro_pool_release_locked(c, k->chan);
        return LRO_ERR_INTERNAL;
    }
    /* A local cancel or destroy that raced with the start found call == NULL;
     * apply it now that there is a call to cancel. */
    if (atomic_load(&f->cancel_requested)) {
        grpc_call_cancel(k->call, NULL);
    }
    return LRO_OK;
}

/* Checks a caller's call options and copies them (shallow) over the
 * defaults, with the retry policy they name or the client's. */
static int call_options_read(lro_client *c, const lro_call_options *in, lro_call_options *o,
                             lro_retry_policy *retry)
{
    int rc = lro_call_options_normalize(in, o); /* abi.c */
    if (rc != LRO_OK) {
        return rc;
    }
    *retry = c->retry;
    if (o->retry != NULL && lro_retry_normalize(o->retry, retry) != LRO_OK) {
        return LRO_ERR_INVALID_ARG;
    }
    return LRO_OK;
}

/* A new call, not yet started: request packed, headers built. */
static int call_new(lro_client *c, lro_kind kind, const char *name, const ProtobufCMessage *req,
                    int64_t extra_timeout_ms, const lro_call_options *opts, lro_call **out)
{
    lro_call_options o;
    lro_retry_policy retry;
    int rc = call_options_read(c, opts, &o, &retry);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_call *k = (lro_call *)lro_future_alloc(c, &k_call_ops, kind, sizeof *k, CALL_INLINE);
    if (k == NULL) {
        return LRO_ERR_NOMEM;
    }
    k->tag.done = call_on_complete;
    k->link.abort = call_abort;
    k->timer.node.index = SIZE_MAX;
    k->retry = retry;
    int64_t t = o.timeout_ms == 0 ? c->default_timeout_ms : o.timeout_ms;
    k->timeout_ms = t > 0 ? t + extra_timeout_ms : 0;
    k->first_start_ns = lro_now_ns();
    rc = build_metadata(k, name, &o);
    if (rc == LRO_OK && o.credentials != NULL) {
        /* the call holds the credentials until it is freed */
        lro_credentials *cr = (lro_credentials *)o.credentials;
        rc = lro_creds_prepare_call(cr);
        if (rc == LRO_OK) {
            k->creds = lro_credentials_ref(cr);
        }
    }
    if (rc != LRO_OK) {
        lro_future_discard(&k->base);
        return rc;
    }
    size_t n = protobuf_c_message_get_packed_size(req);
    k->request = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(k->request));
    *out = k;
    return LRO_OK;
}

static int start_call(lro_client *c, lro_kind kind, const char *name, const ProtobufCMessage *req,
                      int64_t extra_timeout_ms, const lro_call_options *opts, lro_done_cb cb,
                      void *ud, lro_free_fn ud_free, lro_future **out, const lro_call_owner *owner)
{
    lro_call *k;
    int rc = call_new(c, kind, name, req, extra_timeout_ms, opts, &k);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_future *f = &k->base;
    f->cb = cb;
    f->ud = ud;
    f->ud_free = ud_free;
    if (owner != NULL) {
        k->owner_hook = owner->on_finish;
        k->owner_data = owner->owner;
    }
    if (LRO_OBS_ON(c)) { /* here, not under c->mu: the hook is user code */
        lro_obs_call_started(f, name, owner ? owner->parent : NULL, k->tp_sent, 1);
    }
    if (f->obs != NULL) {
        lro_obs_attempt_started(f);
        lro_obs_post(f); /* before the batch: it may complete at once */
    }

    pthread_mutex_lock(&c->mu);
    rc = c->closing ? LRO_ERR_SHUTDOWN : LRO_OK;
    if (rc == LRO_OK) {
        lro_inflight_add_locked(c, &k->link);
        if (owner != NULL && owner->slot != NULL) {
            *owner->slot = f;
        }
        /* The caller's reference is taken before the batch can complete. */
        if (out != NULL) {
            *out = lro_future_ref(f);
        }
        rc = start_attempt(k);
        if (rc != LRO_OK) {
            lro_inflight_remove_locked(c, &k->link);
            if (owner != NULL && owner->slot != NULL) {
                *owner->slot = NULL;
            }
            if (out != NULL) {
                *out = NULL;
                lro_future_unref(f); /* not the last: the library's is left */
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    if (rc != LRO_OK) {
        if (f->obs != NULL) {
            f->result = rc;
            lro_obs_refused(f);
        }
        lro_future_discard(f);
    }
    return rc;
}

/* ---- Completion ------------------------------------------------------------ */

/* Reads a (possibly multi-slice) byte buffer into one contiguous region.
 * Returns a slice the caller unrefs. */
static grpc_slice flatten(grpc_byte_buffer *bb)
{
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        return grpc_slice_ref(bb->data.raw.slice_buffer.slices[0]);
    }
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb)) {
        return grpc_empty_slice();
    }
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return s;
}

static const ProtobufCMessageDescriptor *response_desc(lro_kind k)
{
    switch (k) {
    case LRO_K_LIST:
        return &google__longrunning__list_operations_response__descriptor;
    case LRO_K_CANCEL:
    case LRO_K_DELETE:
        return &google__protobuf__empty__descriptor;
    default:
        return &google__longrunning__operation__descriptor;
    }
}

/* Unpacks `len` bytes as `desc` into the arena `a`. */
static ProtobufCMessage *unpack_into(lro_arena *a, const ProtobufCMessageDescriptor *desc,
                                     const uint8_t *data, size_t len)
{
    /* Decoded size is close to the wire size plus the message structs; when
     * that fits the future's inline buffer the decode allocates nothing.
     * Bigger responses take one block (more only for pathological ones). */
    size_t want = len + desc->sizeof_message + 160;
    if (desc == &google__longrunning__list_operations_response__descriptor) {
        want += 2 * len; /* many small messages: struct overhead per operation */
    }
    if (lro_arena_reserve(a, want) != LRO_OK) {
        return NULL;
    }
    ProtobufCAllocator pa;
    lro_arena_pb_allocator(a, &pa);
    return protobuf_c_message_unpack(desc, &pa, len, data);
}

ProtobufCMessage *lro_decode_response(lro_arena *a, lro_kind kind, const uint8_t *data, size_t len)
{
    return unpack_into(a, response_desc(kind), data, len);
}

int lro_decode_status(lro_arena *a, int code, const char *msg, size_t msg_len,
                      const uint8_t *details, size_t details_len, Google__Rpc__Status **out)
{
    Google__Rpc__Status *s = lro_arena_alloc(a, sizeof *s);
    if (s == NULL) {
        return LRO_ERR_NOMEM;
    }
    google__rpc__status__init(s);
    s->code = (int32_t)code;
    s->message = lro_arena_strndup(a, msg, msg_len);
    if (s->message == NULL) {
        return LRO_ERR_NOMEM;
    }
    *out = s;
    if (details == NULL) {
        return LRO_OK;
    }
    Google__Rpc__Status *d = (Google__Rpc__Status *)unpack_into(a, &google__rpc__status__descriptor,
                                                                details, details_len);
    if (d == NULL) {
        return a->failed ? LRO_ERR_NOMEM : LRO_ERR_DECODE;
    }
    s->n_details = d->n_details;
    s->details = d->details;
    return LRO_OK;
}

/* Builds the RPC status from grpc's code, message and the details trailer.
 * Returns LRO_ERR_DECODE (with a local status that says why) when the
 * trailer is garbage. */
static int build_rpc_status(lro_call *k)
{
    lro_future *f = &k->base;
    const uint8_t *det = NULL;
    size_t det_len = 0;
    for (size_t i = 0; i < k->trailing.count; i++) {
        if (!grpc_slice_str_cmp(k->trailing.metadata[i].key, DETAILS_KEY)) {
            /* Through a pointer: a small (inlined) slice keeps its bytes
             * inside the grpc_slice itself, so a local copy would not do. */
            const grpc_slice *v = &k->trailing.metadata[i].value;
            det = GRPC_SLICE_START_PTR(*v);
            det_len = GRPC_SLICE_LENGTH(*v);
            if (det == NULL) {
                det = (const uint8_t *)""; /* present but empty: no details */
            }
            break;
        }
    }
    Google__Rpc__Status *s = NULL;
    int rc = lro_decode_status(&f->arena, (int)k->rpc_status,
                               (const char *)GRPC_SLICE_START_PTR(k->rpc_details),
                               GRPC_SLICE_LENGTH(k->rpc_details), det, det_len, &s);
    if (rc == LRO_ERR_DECODE) {
        char why[200], msg[720];
        lro_wire_diagnose(&google__rpc__status__descriptor, det, det_len, why, sizeof why);
        snprintf(msg, sizeof msg,
                 "malformed grpc-status-details-bin trailer (%zu bytes do not "
                 "decode as google.rpc.Status: %s); the server said %s: %.300s",
                 det_len, why, lro_code_name(s->code), s->message);
        lro_future_set_local(f, LRO_ERR_DECODE, msg);
        return LRO_ERR_DECODE;
    }
    if (rc != LRO_OK) {
        return rc;
    }
    f->status = (const lro_status *)s;
    return LRO_OK;
}

/* Releases the attempt's grpc resources; with `leave` the call also leaves
 * the in-flight list in the same critical section (one lock per completion
 * on the hot path). */
static void release_attempt(lro_call *k, int leave)
{
    release_auth(k);
    grpc_metadata_array_destroy(&k->recv_initial);
    grpc_metadata_array_destroy(&k->trailing);
    grpc_slice_unref(k->rpc_details);
    if (k->recv_msg != NULL) {
        grpc_byte_buffer_destroy(k->recv_msg);
        k->recv_msg = NULL;
    }
    /* call_cancel() and destroy's call_abort() read k->call under c->mu:
     * clear it under the same lock before the call goes away. */
    lro_client *c = k->base.client;
    pthread_mutex_lock(&c->mu);
    grpc_call *call = k->call;
    k->call = NULL;
    lro_pool_release_locked(c, k->chan);
    if (leave) {
        lro_inflight_remove_locked(c, &k->link);
    }
    pthread_mutex_unlock(&c->mu);
    grpc_call_unref(call);
}

/* Leaves the in-flight list for good. */
static void detach(lro_call *k)
{
    lro_client *c = k->base.client;
    pthread_mutex_lock(&c->mu);
    lro_inflight_remove_locked(c, &k->link);
    pthread_mutex_unlock(&c->mu);
}

/* ---- Retries ----------------------------------------------------------------- */

static void retry_fire(lro_timer *t, int cancelled);

/* Whether an attempt starting at `start_ns` would still have a useful slice
 * (LRO_MIN_RETRY_ATTEMPT_MS) of the overall budget; always with no budget. */
static int budget_leaves_room(const lro_call *k, int64_t start_ns)
{
    return k->retry.total_timeout_ms <= 0 ||
           start_ns + LRO_MIN_RETRY_ATTEMPT_MS * 1000000 <=
               k->first_start_ns + k->retry.total_timeout_ms * 1000000;
}

/* Schedules the next attempt at `due` (1), unless the overall budget would
 * leave it no useful slice (0); LRO_ERR_NOMEM when the timer could not be
 * queued. */
static int retry_at(lro_call *k, int64_t due)
{
    lro_client *c = k->base.client;
    if (!budget_leaves_room(k, due)) {
        return 0; /* the next attempt would not get a useful slice of the budget */
    }
    pthread_mutex_lock(&c->mu);
    int rc = c->closing ? LRO_ERR_SHUTDOWN : LRO_OK;
    if (rc == LRO_OK) {
        k->timer.node.key = due;
        k->timer.fire = retry_fire;
        rc = lro_timer_add_locked(c, &k->timer);
    }
    pthread_mutex_unlock(&c->mu);
    return rc == LRO_OK ? 1 : rc == LRO_ERR_NOMEM ? rc : 0;
}

/* Decides whether the failed attempt (status already built) should be tried
 * again; if so schedules it and returns 1. Returns LRO_ERR_NOMEM when a
 * retry was due but its timer could not be queued. */
static int schedule_retry(lro_call *k)
{
    lro_future *f = &k->base;
    lro_client *c = f->client;
    const lro_retry_policy *p = &k->retry;
    const Google__Rpc__Status *s = (const Google__Rpc__Status *)f->status;
    if (s->code < 0 || s->code > 16 || !(p->retry_codes & (1u << s->code))) {
        return 0;
    }
    if (atomic_load(&f->cancel_requested)) {
        return 0;
    }
    int64_t now = lro_now_ns();
    if (s->code == LRO_CODE_UNAVAILABLE && s->n_details == 0 &&
        now - k->attempt_start_ns >= LRO_CUT_AFTER_MS * 1000000 &&
        k->free_retries < LRO_MAX_FREE_RETRIES) {
        /* The attempt had been open a while before an UNAVAILABLE that no
         * server wrote (grpc's own, without details: "enter idle", "Socket
         * closed" ...): its connection was closed under it (GOAWAY at a
         * server's max connection age, a proxy recycling connections). Not
         * the server failing, so not an attempt against the policy, and no
         * backoff. A server's own UNAVAILABLE, slow or not, is an attempt. */
        k->free_retries++;
        int sr = retry_at(k, now);
        if (sr == 1 && f->obs != NULL) {
            lro_obs_retry(f, 0, LRO_RETRY_CONNECTION_CUT);
        }
        return sr;
    }
    int counted = f->attempts - k->free_retries;
    if (counted >= p->max_attempts) {
        return 0;
    }
    double backoff = (double)p->initial_backoff_ms;
    for (int i = 1; i < counted; i++) {
        backoff *= p->multiplier;
        if (backoff > (double)p->max_backoff_ms) {
            break;
        }
    }
    if (backoff > (double)p->max_backoff_ms) {
        backoff = (double)p->max_backoff_ms;
    }
    int64_t server_ms;
    int from_server = lro_status_has_retry_delay(f->status, &server_ms);
    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    double delay;
    if (from_server) {
        delay = (double)server_ms; /* the server knows best; no jitter */
    } else {
        double r = lro_rand01_locked(c);
        delay = backoff * (1.0 - p->jitter * r);
    }
    pthread_mutex_unlock(&c->mu);
    int sr = retry_at(k, now + (int64_t)(delay * 1e6));
    if (sr == 1 && f->obs != NULL) {
        lro_obs_retry(f, (int64_t)(delay * 1e6),
                      from_server ? LRO_RETRY_SERVER_DELAY : LRO_RETRY_BACKOFF);
    }
    return sr;
}

static void retry_fire(lro_timer *t, int cancelled)
{
    lro_call *k = (lro_call *)((char *)t - offsetof(lro_call, timer));
    lro_future *f = &k->base;
    lro_client *c = f->client;
    if (cancelled || atomic_load(&f->cancel_requested)) {
        detach(k);
        if (cancelled) {
            lro_future_finish_local(f, LRO_ERR_SHUTDOWN, "client destroyed while waiting to retry");
        } else {
            lro_future_finish_local(f, LRO_ERR_CANCELLED,
                                    "cancelled locally while waiting to retry");
        }
        return;
    }
    if (!budget_leaves_room(k, lro_now_ns())) {
        /* The timer fired late (a busy I/O thread, or grpc's clock and ours
         * disagreeing by a millisecond): an attempt with a sliver of budget
         * could only end in DEADLINE_EXCEEDED and hide the status that made
         * us retry. End with that status instead. */
        detach(k);
        lro_future_finish(f, LRO_ERR_RPC);
        return;
    }
    if (f->obs != NULL) {
        lro_obs_attempt_started(f);
    }
    pthread_mutex_lock(&c->mu);
    int rc = c->closing ? LRO_ERR_SHUTDOWN : start_attempt(k);
    pthread_mutex_unlock(&c->mu);
    if (rc != LRO_OK) {
        detach(k);
        lro_future_finish_local(f, rc, NULL);
    }
}

/* ---- Completion of an attempt --------------------------------------------------- */

/* The attempt answered OK: decode its response into the arena and finish. */
static void finish_ok(lro_call *k)
{
    lro_future *f = &k->base;
    const ProtobufCMessageDescriptor *desc = response_desc(f->kind);
    if (k->recv_msg == NULL) {
        release_attempt(k, 1);
        lro_future_finish_local(f, LRO_ERR_DECODE,
                                "no response message: the server sent status OK alone");
        return;
    }
    grpc_slice flat = flatten(k->recv_msg);
    size_t len = GRPC_SLICE_LENGTH(flat);
    ProtobufCMessage *m = unpack_into(&f->arena, desc, GRPC_SLICE_START_PTR(flat), len);
    char why[360];
    if (m == NULL && !f->arena.failed) {
        char diag[200];
        lro_wire_diagnose(desc, GRPC_SLICE_START_PTR(flat), len, diag, sizeof diag);
        snprintf(why, sizeof why, "invalid response: %zu bytes do not decode as %s: %s", len,
                 desc->name, diag);
    }
    grpc_slice_unref(flat);
    release_attempt(k, 1);
    if (m == NULL) {
        lro_future_finish_local(f, f->arena.failed ? LRO_ERR_NOMEM : LRO_ERR_DECODE, why);
        return;
    }
    f->msg = m;
    f->status = lro_status_ok();
    lro_future_finish(f, LRO_OK);
}

static void call_on_complete(lro_cq_tag *t, int success)
{
    lro_call *k = (lro_call *)((char *)t - offsetof(lro_call, tag));
    lro_future *f = &k->base;
    (void)success; /* RECV_STATUS_ON_CLIENT always completes with a status */
    if (f->obs != NULL) {
        lro_obs_attempt_finished(f, (int)k->rpc_status, GRPC_SLICE_LENGTH(k->request),
                                 k->recv_msg ? grpc_byte_buffer_length(k->recv_msg) : 0);
    }

    /* A response that made it is delivered even if a local cancel or a
     * destroy raced with it: cancelling is best effort. */
    if (k->rpc_status == GRPC_STATUS_OK) {
        finish_ok(k);
        return;
    }
    int closing = lro_client_closing(f->client);
    if (closing || atomic_load(&f->cancel_requested)) {
        release_attempt(k, 1);
        if (closing) {
            lro_future_finish_local(f, LRO_ERR_SHUTDOWN,
                                    "client destroyed with the call in flight");
        } else {
            lro_future_finish_local(f, LRO_ERR_CANCELLED, NULL);
        }
        return;
    }

    /* A failed token provider: UNAUTHENTICATED, not a retryable UNAVAILABLE. */
    lro_creds_fix_status(&k->rpc_status, k->rpc_details);
    /* A bare "Socket closed" while connecting: say what it usually means. */
    lro_creds_explain(f->client->connect_hint, k->rpc_status, &k->rpc_details);
    int rc = build_rpc_status(k);
    release_attempt(k, 0);
    if (rc == LRO_OK) {
        int sr = schedule_retry(k);
        if (sr == 1) {
            return; /* still in the in-flight list; retry_fire takes over */
        }
        /* LRO_ERR_NOMEM: a retry was due; ending with the attempt's status
         * would hide why it did not happen. */
        rc = sr == LRO_ERR_NOMEM ? sr : LRO_OK;
    }
    detach(k);
    if (rc == LRO_ERR_NOMEM) {
        lro_future_finish_local(f, rc, NULL);
    } else {
        lro_future_finish(f, rc == LRO_OK ? LRO_ERR_RPC : rc);
    }
}

/* ---- Stopping a call ---------------------------------------------------------- */

/* Destroy (caller holds c->mu): the attempt in flight ends CANCELLED, and
 * its completion sees the client closing. */
static void call_abort(lro_inflight *l)
{
    lro_call *k = (lro_call *)((char *)l - offsetof(lro_call, link));
    if (k->call != NULL) {
        grpc_call_cancel(k->call, NULL);
    }
}

/* lro_future_cancel(): cancel the attempt in flight, or make a pending
 * retry's timer due now; either path then finishes with LRO_ERR_CANCELLED. */
static void call_cancel(lro_future *f)
{
    lro_call *k = call_of(f);
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    if (k->call != NULL) {
        grpc_call_cancel(k->call, NULL);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    lro_timer_fire_now_locked(c, &k->timer);
    pthread_mutex_unlock(&c->mu);
    lro_client_wake_io(c);
}

/* ---- The five calls ------------------------------------------------------------ */

/* Get, Cancel, Delete and Wait: requests that carry the operation's name
 * (and, for Wait, a timeout). Names are validated here, for every caller. */
static int start_named(lro_client *c, lro_kind kind, const char *name, int64_t wait_timeout_ms,
                       const lro_call_options *opts, lro_done_cb cb, void *user_data,
                       lro_free_fn ud_free, lro_future **out, const lro_call_owner *owner)
{
    int rc = lro_call_begin(c, name);
    if (rc == LRO_OK && wait_timeout_ms < 0) {
        rc = lro_fail(LRO_ERR_INVALID_ARG, "server_timeout_ms is negative");
    }
    if (rc != LRO_OK) {
        return rc;
    }
    /* Get, Cancel and Delete requests are one shape (the name alone); Wait
     * adds a timeout. */
    static const ProtobufCMessageDescriptor *const k_desc[LRO_K_COUNT] = {
        [LRO_K_GET] = &google__longrunning__get_operation_request__descriptor,
        [LRO_K_CANCEL] = &google__longrunning__cancel_operation_request__descriptor,
        [LRO_K_DELETE] = &google__longrunning__delete_operation_request__descriptor,
        [LRO_K_WAIT] = &google__longrunning__wait_operation_request__descriptor,
    };
    _Static_assert(offsetof(Google__Longrunning__GetOperationRequest, name) ==
                           offsetof(Google__Longrunning__CancelOperationRequest, name) &&
                       offsetof(Google__Longrunning__GetOperationRequest, name) ==
                           offsetof(Google__Longrunning__DeleteOperationRequest, name),
                   "Get/Cancel/Delete requests share one layout");
    if ((unsigned)kind >= LRO_K_COUNT || k_desc[kind] == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    union {
        Google__Longrunning__GetOperationRequest named;
        Google__Longrunning__WaitOperationRequest wait;
    } req;
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    int64_t extra = 0;
    protobuf_c_message_init(k_desc[kind], &req);
    if (kind != LRO_K_WAIT) {
        req.named.name = (char *)name;
    } else {
        req.wait.name = (char *)name;
        if (wait_timeout_ms > 0) {
            d.seconds = wait_timeout_ms / 1000;
            d.nanos = (int32_t)((wait_timeout_ms % 1000) * 1000000);
            req.wait.timeout = &d;
            /* The RPC deadline is the server-side timeout + the call's own. */
            extra = wait_timeout_ms;
        }
    }
    return start_call(c, kind, name, &req.named.base, extra, opts, cb, user_data, ud_free, out,
                      owner);
}

int lro_get(lro_client *c, const char *name, const lro_call_options *opts, lro_done_cb cb,
            void *user_data, lro_free_fn ud_free, lro_future **out)
{
    return start_named(c, LRO_K_GET, name, 0, opts, cb, user_data, ud_free, out, NULL);
}

int lro_cancel(lro_client *c, const char *name, const lro_call_options *opts, lro_done_cb cb,
               void *user_data, lro_free_fn ud_free, lro_future **out)
{
    return start_named(c, LRO_K_CANCEL, name, 0, opts, cb, user_data, ud_free, out, NULL);
}

int lro_delete(lro_client *c, const char *name, const lro_call_options *opts, lro_done_cb cb,
               void *user_data, lro_free_fn ud_free, lro_future **out)
{
    return start_named(c, LRO_K_DELETE, name, 0, opts, cb, user_data, ud_free, out, NULL);
}

int lro_wait(lro_client *c, const char *name, int64_t server_timeout_ms,
             const lro_call_options *opts, lro_done_cb cb, void *user_data, lro_free_fn ud_free,
             lro_future **out)
{
    return start_named(c, LRO_K_WAIT, name, server_timeout_ms, opts, cb, user_data, ud_free, out,
                       NULL);
}

int lro_list(lro_client *c, const char *parent, const lro_list_args *args,
             const lro_call_options *opts, lro_done_cb cb, void *user_data, lro_free_fn ud_free,
             lro_future **out)
{
    return lro_call_start_list(c, parent, args, opts, cb, user_data, ud_free, out, NULL);
}

int lro_call_start_list(lro_client *c, const char *parent, const lro_list_args *args,
                        const lro_call_options *opts, lro_done_cb cb, void *user_data,
                        lro_free_fn ud_free, lro_future **out, const lro_call_owner *owner)
{
    lro_list_args a;
    int rc = lro_call_begin(c, parent);
    rc = rc != LRO_OK ? rc : lro_list_args_normalize(args, &a); /* abi.c */
    if (rc != LRO_OK) {
        return rc;
    }
    Google__Longrunning__ListOperationsRequest req =
        GOOGLE__LONGRUNNING__LIST_OPERATIONS_REQUEST__INIT;
    req.name = (char *)parent;
    req.filter = (char *)(a.filter ? a.filter : "");
    req.page_size = a.page_size;
    req.page_token = (char *)(a.page_token ? a.page_token : "");
    req.return_partial_success = a.return_partial_success != 0;
    return start_call(c, LRO_K_LIST, parent, &req.base, 0, opts, cb, user_data, ud_free, out,
                      owner);
}

/* Internal starts for awaits: Get, Wait or Cancel with an owner hook and no
 * user callback. */
int lro_call_start_named(lro_client *c, lro_kind kind, const char *name, int64_t wait_timeout_ms,
                         const lro_call_options *opts, const lro_call_owner *owner)
{
    return start_named(c, kind, name, wait_timeout_ms, opts, NULL, NULL, NULL, NULL, owner);
}

int lro_call_options_copy(const lro_call_options *in, lro_call_options *out, lro_arena *a)
{
    lro_call_options o;
    int nrc = lro_call_options_normalize(in, &o); /* abi.c: size, layout, header checks */
    if (nrc != LRO_OK) {
        return nrc;
    }
    if (o.header_count > 0) {
        lro_header *h = lro_arena_alloc(a, o.header_count * sizeof *h);
        if (h == NULL) {
            return LRO_ERR_NOMEM;
        }
        for (size_t i = 0; i < o.header_count; i++) {
            lro_header in_h;
            lro_call_header(&o, i, &in_h);
            h[i].key = lro_arena_strndup(a, in_h.key, strlen(in_h.key));
            h[i].value = lro_arena_strndup(a, in_h.value, in_h.value_len);
            h[i].value_len = in_h.value_len;
            if (h[i].key == NULL || h[i].value == NULL) {
                return LRO_ERR_NOMEM;
            }
        }
        o.headers = h;
        o.header_size = sizeof *h; /* the copy is in today's layout */
    }
    const char **tc[2] = {&o.traceparent, &o.tracestate};
    for (int j = 0; j < 2; j++) {
        if (*tc[j] != NULL && (*tc[j] = lro_arena_strndup(a, *tc[j], strlen(*tc[j]))) == NULL) {
            return LRO_ERR_NOMEM;
        }
    }
    if (o.retry != NULL) {
        lro_retry_policy *r = lro_arena_alloc(a, sizeof *r);
        if (r == NULL) {
            return LRO_ERR_NOMEM;
        }
        if (lro_retry_normalize(o.retry, r) != LRO_OK) {
            return LRO_ERR_INVALID_ARG;
        }
        o.retry = r;
    }
    *out = o;
    return LRO_OK;
}
