/* Starting the five RPCs, their completion, retries and statuses.
 *
 * Hot path of one Get: validate the name, one malloc (the future, whose
 * inline buffer holds the routing header, the metadata array and usually the
 * whole decoded response), protobuf-c packs the request straight into a grpc
 * slice, ONE grpc_call_start_batch with the six client ops. On completion the
 * response is unpacked into the future's arena. */
#include <stdio.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/support/time.h>

#include "client_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"

#define ROUTING_KEY "x-goog-request-params"
#define DETAILS_KEY "grpc-status-details-bin"

static const Google__Rpc__Status k_status_ok = GOOGLE__RPC__STATUS__INIT;

const lro_status *lro_status_ok(void)
{
    return (const lro_status *)&k_status_ok;
}

/* A status made up by the library for a local outcome, stored in the
 * future's arena. Falls back to a static one when even that fails. */
const lro_status *lro_status_local(lro_future *f, int code, const char *msg)
{
    static Google__Rpc__Status nomem = {PROTOBUF_C_MESSAGE_INIT(&google__rpc__status__descriptor),
                                        LRO_CODE_RESOURCE_EXHAUSTED,
                                        (char *)"lro: out of memory", 0, NULL};
    Google__Rpc__Status *s = lro_arena_alloc(&f->arena, sizeof *s);
    char *m = s ? lro_arena_strndup(&f->arena, msg, strlen(msg)) : NULL;
    if (s == NULL || m == NULL) {
        return (const lro_status *)&nomem;
    }
    google__rpc__status__init(s);
    s->code = code;
    s->message = m;
    return (const lro_status *)s;
}

/* ---- Starting a call ------------------------------------------------------ */

static int pack_request(lro_future *f, const ProtobufCMessage *req)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    f->request = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(f->request));
    return LRO_OK;
}

/* Builds the metadata array: routing header, client defaults, call headers.
 * Everything lives in the future's arena and stays valid until the future
 * is freed, i.e. after the last batch referencing it completed. */
static int build_metadata(lro_future *f, const char *name, const lro_call_options *opts)
{
    lro_client *c = f->client;
    size_t extra = opts ? opts->header_count : 0;
    size_t n = 1 + c->default_md_count + extra;
    grpc_metadata *md = lro_arena_alloc(&f->arena, n * sizeof *md);
    size_t name_len = strlen(name);
    char *val = lro_arena_alloc(&f->arena, sizeof "name=" + 3 * name_len);
    if (md == NULL || val == NULL) {
        return LRO_ERR_NOMEM;
    }
    memset(md, 0, n * sizeof *md);
    memcpy(val, "name=", 5);
    size_t vlen = 5 + lro_url_escape(name, name_len, val + 5);
    md[0].key = grpc_slice_from_static_string(ROUTING_KEY);
    md[0].value = grpc_slice_from_static_buffer(val, vlen);
    size_t i = 1;
    for (size_t k = 0; k < c->default_md_count; k++) {
        md[i].key = c->default_md[k].key; /* owned by the client, outlives calls */
        md[i].value = c->default_md[k].value;
        i++;
    }
    for (size_t k = 0; k < extra; k++) {
        lro_header hh;
        lro_call_header(opts, k, &hh); /* abi.c: the caller's layout, real length */
        const lro_header *h = &hh;
        size_t kl = strlen(h->key), vl = h->value_len;
        char *kk = lro_arena_strndup(&f->arena, h->key, kl);
        char *vv = lro_arena_strndup(&f->arena, h->value, vl);
        if (kk == NULL || vv == NULL) {
            return LRO_ERR_NOMEM;
        }
        md[i].key = grpc_slice_from_static_buffer(kk, kl);
        md[i].value = grpc_slice_from_static_buffer(vv, vl);
        i++;
    }
    f->md = md;
    f->md_count = i;
    return LRO_OK;
}

static gpr_timespec attempt_deadline(const lro_future *f)
{
    if (f->timeout_ms <= 0) {
        return gpr_inf_future(GPR_CLOCK_MONOTONIC);
    }
    int64_t ms = f->timeout_ms;
    if (f->retry.total_timeout_ms > 0) {
        /* The overall budget also caps each attempt. */
        int64_t left = f->retry.total_timeout_ms - (lro_now_ns() - f->first_start_ns) / 1000000;
        if (left < ms) {
            ms = left > 1 ? left : 1;
        }
    }
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

static void list_remove_locked(lro_client *c, lro_future *f)
{
    if (!f->in_list) {
        return;
    }
    if (f->prev) {
        f->prev->next = f->next;
    } else {
        c->inflight = f->next;
    }
    if (f->next) {
        f->next->prev = f->prev;
    }
    f->prev = f->next = NULL;
    f->in_list = 0;
}

/* Starts one attempt. Called with the future registered in the in-flight
 * list; returns an LRO_ERR_* when grpc refused (the caller then finishes or
 * reports the error). */
static int start_attempt(lro_future *f)
{
    lro_client *c = f->client;
    f->attempts++;
    f->call = grpc_channel_create_registered_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                                  c->methods[f->kind], attempt_deadline(f), NULL);
    if (f->call == NULL) {
        return LRO_ERR_INTERNAL;
    }
    grpc_metadata_array_init(&f->recv_initial);
    grpc_metadata_array_init(&f->trailing);
    f->recv_msg = NULL;
    f->rpc_details = grpc_empty_slice();
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&f->request, 1);

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = f->md_count;
    ops[0].data.send_initial_metadata.metadata = f->md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &f->recv_initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &f->recv_msg;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &f->trailing;
    ops[5].data.recv_status_on_client.status = &f->rpc_status;
    ops[5].data.recv_status_on_client.status_details = &f->rpc_details;

    grpc_call_error e = grpc_call_start_batch(f->call, ops, 6, f, NULL);
    grpc_byte_buffer_destroy(send); /* the batch took the slices it needs */
    if (e != GRPC_CALL_OK) {
        grpc_metadata_array_destroy(&f->recv_initial);
        grpc_metadata_array_destroy(&f->trailing);
        grpc_call_unref(f->call);
        f->call = NULL;
        return LRO_ERR_INTERNAL;
    }
    /* A local cancel or destroy that raced with the start found call == NULL;
     * apply it now that there is a call to cancel. */
    if (atomic_load(&f->cancel_requested)) {
        grpc_call_cancel(f->call, NULL);
    }
    return LRO_OK;
}

static int start_call(lro_client *c, lro_kind kind, const char *name, const ProtobufCMessage *req,
                      int64_t extra_timeout_ms, const lro_call_options *opts, lro_done_cb cb,
                      void *ud, lro_free_fn ud_free, lro_future **out, const lro_start_ext *ext)
{
    lro_call_options o;
    int nrc = lro_call_options_normalize(opts, &o); /* abi.c */
    if (nrc != LRO_OK) {
        return nrc;
    }
    lro_retry_policy retry = c->retry;
    if (o.retry != NULL && lro_retry_normalize(o.retry, &retry) != LRO_OK) {
        return LRO_ERR_INVALID_ARG;
    }

    lro_future *f = lro_future_new(c, kind);
    if (f == NULL) {
        return LRO_ERR_NOMEM;
    }
    f->cb = cb;
    f->ud = ud;
    f->ud_free = ud_free;
    f->retry = retry;
    if (ext != NULL) {
        f->on_finish = ext->on_finish;
        f->owner = ext->owner;
    }
    int64_t t = o.timeout_ms == 0 ? c->default_timeout_ms : o.timeout_ms;
    f->timeout_ms = t > 0 ? t + extra_timeout_ms : 0;
    f->first_start_ns = lro_now_ns();

    int rc = build_metadata(f, name, &o);
    if (rc == LRO_OK) {
        rc = pack_request(f, req);
    }
    if (rc != LRO_OK) {
        f->cb = NULL;
        f->ud_free = NULL;
        lro_future_unref(f);
        return rc;
    }

    pthread_mutex_lock(&c->mu);
    if (c->closing) {
        pthread_mutex_unlock(&c->mu);
        f->cb = NULL;
        f->ud_free = NULL;
        lro_future_unref(f);
        return LRO_ERR_SHUTDOWN;
    }
    f->next = c->inflight;
    if (f->next) {
        f->next->prev = f;
    }
    c->inflight = f;
    f->in_list = 1;
    atomic_fetch_add(&c->inflight_count, 1);
    /* The caller's reference is taken before the batch can complete. */
    if (out != NULL) {
        lro_future_ref(f);
    }
    if (ext != NULL && ext->slot != NULL) {
        *ext->slot = f;
    }
    rc = start_attempt(f);
    if (rc != LRO_OK) {
        list_remove_locked(c, f);
        atomic_fetch_sub(&c->inflight_count, 1);
        if (ext != NULL && ext->slot != NULL) {
            *ext->slot = NULL;
        }
        pthread_mutex_unlock(&c->mu);
        if (out != NULL) {
            lro_future_unref(f);
        }
        f->cb = NULL;
        f->ud_free = NULL;
        lro_future_unref(f);
        return rc;
    }
    pthread_mutex_unlock(&c->mu);
    if (out != NULL) {
        *out = f;
    }
    return LRO_OK;
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

ProtobufCMessage *lro_decode_response(lro_arena *a, lro_kind kind, const uint8_t *data,
                                      size_t len)
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
    Google__Rpc__Status *d = (Google__Rpc__Status *)unpack_into(
        a, &google__rpc__status__descriptor, details, details_len);
    if (d == NULL) {
        return a->failed ? LRO_ERR_NOMEM : LRO_ERR_DECODE;
    }
    s->n_details = d->n_details;
    s->details = d->details;
    return LRO_OK;
}

static void finish_decode_error(lro_future *f, const char *what, const char *why)
{
    char msg[400];
    snprintf(msg, sizeof msg, "lro: %s: %s", what, why);
    f->status = lro_status_local(f, LRO_CODE_INTERNAL, msg);
    lro_future_finish(f, LRO_ERR_DECODE);
}

/* Builds the RPC status from grpc's code, message and the details trailer.
 * Returns LRO_ERR_DECODE (status describes it) when the trailer is garbage. */
static int build_rpc_status(lro_future *f)
{
    const uint8_t *det = NULL;
    size_t det_len = 0;
    for (size_t i = 0; i < f->trailing.count; i++) {
        if (!grpc_slice_str_cmp(f->trailing.metadata[i].key, DETAILS_KEY)) {
            /* Through a pointer: a small (inlined) slice keeps its bytes
             * inside the grpc_slice itself, so a local copy would not do. */
            const grpc_slice *v = &f->trailing.metadata[i].value;
            det = GRPC_SLICE_START_PTR(*v);
            det_len = GRPC_SLICE_LENGTH(*v);
            if (det == NULL) {
                det = (const uint8_t *)""; /* present but empty: no details */
            }
            break;
        }
    }
    Google__Rpc__Status *s = NULL;
    int rc = lro_decode_status(&f->arena, (int)f->rpc_status,
                               (const char *)GRPC_SLICE_START_PTR(f->rpc_details),
                               GRPC_SLICE_LENGTH(f->rpc_details), det, det_len, &s);
    if (rc == LRO_ERR_DECODE) {
        char why[200], msg[640];
        lro_wire_diagnose(&google__rpc__status__descriptor, det, det_len, why, sizeof why);
        snprintf(msg, sizeof msg,
                 "lro: malformed grpc-status-details-bin trailer (%zu bytes do not "
                 "decode as google.rpc.Status: %s); the server said %s: %.300s",
                 det_len, why, lro_code_name(s->code), s->message);
        f->status = lro_status_local(f, LRO_CODE_INTERNAL, msg);
        return LRO_ERR_DECODE;
    }
    if (rc != LRO_OK) {
        return rc;
    }
    f->status = (const lro_status *)s;
    return LRO_OK;
}

/* Releases the attempt's grpc resources; with `leave` the future also
 * leaves the in-flight list in the same critical section (one lock per
 * completion on the hot path). */
static void release_attempt_ex(lro_future *f, int leave)
{
    grpc_metadata_array_destroy(&f->recv_initial);
    grpc_metadata_array_destroy(&f->trailing);
    grpc_slice_unref(f->rpc_details);
    if (f->recv_msg != NULL) {
        grpc_byte_buffer_destroy(f->recv_msg);
        f->recv_msg = NULL;
    }
    /* lro_future_cancel() and destroy's cancel_all() read f->call under
     * c->mu: clear it under the same lock before the call goes away. */
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    grpc_call *call = f->call;
    f->call = NULL;
    if (leave) {
        list_remove_locked(c, f);
        atomic_fetch_sub(&c->inflight_count, 1);
    }
    pthread_mutex_unlock(&c->mu);
    grpc_call_unref(call);
}

static void release_attempt(lro_future *f)
{
    release_attempt_ex(f, 0);
}

/* Leaves the in-flight list for good. */
static void detach(lro_future *f)
{
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    list_remove_locked(c, f);
    atomic_fetch_sub(&c->inflight_count, 1);
    pthread_mutex_unlock(&c->mu);
}

static void retry_fire(lro_timer *t, int cancelled);

/* Whether an attempt starting at `start_ns` would still have a useful slice
 * (LRO_MIN_RETRY_ATTEMPT_MS) of the overall budget; always with no budget. */
static int budget_leaves_room(const lro_future *f, int64_t start_ns)
{
    return f->retry.total_timeout_ms <= 0 ||
           start_ns + LRO_MIN_RETRY_ATTEMPT_MS * 1000000 <=
               f->first_start_ns + f->retry.total_timeout_ms * 1000000;
}

/* Decides whether the failed attempt in `f` (status already built) should be
 * tried again; if so schedules it and returns 1. Returns LRO_ERR_NOMEM when
 * a retry was due but its timer could not be queued. */
static int schedule_retry(lro_future *f)
{
    lro_client *c = f->client;
    const Google__Rpc__Status *s = (const Google__Rpc__Status *)f->status;
    if (s->code < 0 || s->code > 16 || !(f->retry.retry_codes & (1u << s->code))) {
        return 0;
    }
    if (f->attempts >= f->retry.max_attempts || atomic_load(&f->cancel_requested)) {
        return 0;
    }
    double backoff = (double)f->retry.initial_backoff_ms;
    for (int i = 1; i < f->attempts; i++) {
        backoff *= f->retry.multiplier;
        if (backoff > (double)f->retry.max_backoff_ms) {
            break;
        }
    }
    if (backoff > (double)f->retry.max_backoff_ms) {
        backoff = (double)f->retry.max_backoff_ms;
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
        delay = backoff * (1.0 - f->retry.jitter * r);
    }
    int64_t due = lro_now_ns() + (int64_t)(delay * 1e6);
    if (!budget_leaves_room(f, due)) {
        pthread_mutex_unlock(&c->mu);
        return 0; /* the next attempt would not get a useful slice of the budget */
    }
    f->timer.due_ns = due;
    f->timer.fire = retry_fire;
    int rc = lro_timer_add_locked(c, &f->timer);
    pthread_mutex_unlock(&c->mu);
    return rc == LRO_OK ? 1 : rc;
}

static void retry_fire(lro_timer *t, int cancelled)
{
    lro_future *f = (lro_future *)((char *)t - offsetof(lro_future, timer));
    lro_client *c = f->client;
    if (cancelled || atomic_load(&f->cancel_requested)) {
        /* Keep the last attempt's status as it is, but the outcome is local. */
        int shut = cancelled;
        detach(f);
        f->status = lro_status_local(f, LRO_CODE_CANCELLED,
                                     shut ? "lro: client destroyed while waiting to retry"
                                          : "lro: cancelled locally while waiting to retry");
        lro_future_finish(f, shut ? LRO_ERR_SHUTDOWN : LRO_ERR_CANCELLED);
        return;
    }
    if (!budget_leaves_room(f, lro_now_ns())) {
        /* The timer fired late (a busy I/O thread, or grpc's clock and ours
         * disagreeing by a millisecond): an attempt with a sliver of budget
         * could only end in DEADLINE_EXCEEDED and hide the status that made
         * us retry. End with that status instead. */
        detach(f);
        lro_future_finish(f, LRO_ERR_RPC);
        return;
    }
    pthread_mutex_lock(&c->mu);
    int rc = c->closing ? LRO_ERR_SHUTDOWN : start_attempt(f);
    pthread_mutex_unlock(&c->mu);
    if (rc != LRO_OK) {
        detach(f);
        f->status = lro_status_local(f, LRO_CODE_CANCELLED, "lro: client destroyed");
        lro_future_finish(f, rc);
    }
}

void lro_call_on_complete(lro_future *f, int success)
{
    lro_client *c = f->client;
    (void)success; /* RECV_STATUS_ON_CLIENT always completes with a status */

    /* A response that made it is delivered even if a local cancel or a
     * destroy raced with it: cancelling is best effort. */
    if (f->rpc_status == GRPC_STATUS_OK) {
        const ProtobufCMessageDescriptor *desc = response_desc(f->kind);
        if (f->recv_msg == NULL) {
            release_attempt_ex(f, 1);
            finish_decode_error(f, "no response message", "the server sent status OK alone");
            return;
        }
        grpc_slice flat = flatten(f->recv_msg);
        size_t len = GRPC_SLICE_LENGTH(flat);
        ProtobufCMessage *m = unpack_into(&f->arena, desc, GRPC_SLICE_START_PTR(flat), len);
        char why[320];
        if (m == NULL && !f->arena.failed) {
            char diag[200];
            lro_wire_diagnose(desc, GRPC_SLICE_START_PTR(flat), len, diag, sizeof diag);
            snprintf(why, sizeof why, "%zu bytes do not decode as %s: %s", len, desc->name, diag);
        }
        grpc_slice_unref(flat);
        release_attempt_ex(f, 1);
        if (m == NULL) {
            if (f->arena.failed) {
                f->status = lro_status_local(f, LRO_CODE_RESOURCE_EXHAUSTED, "lro: out of memory");
                lro_future_finish(f, LRO_ERR_NOMEM);
                return;
            }
            finish_decode_error(f, "invalid response", why);
            return;
        }
        f->msg = m;
        f->status = lro_status_ok();
        lro_future_finish(f, LRO_OK);
        return;
    }

    int closing;
    pthread_mutex_lock(&c->mu);
    closing = c->closing;
    pthread_mutex_unlock(&c->mu);
    int cancelled = atomic_load(&f->cancel_requested);
    if (closing || cancelled) {
        release_attempt_ex(f, 1);
        f->status = lro_status_local(f, LRO_CODE_CANCELLED,
                                     closing ? "lro: client destroyed with the call in flight"
                                             : "lro: cancelled locally (lro_future_cancel)");
        lro_future_finish(f, closing ? LRO_ERR_SHUTDOWN : LRO_ERR_CANCELLED);
        return;
    }

    int rc = build_rpc_status(f);
    release_attempt(f);
    if (rc == LRO_OK) {
        int sr = schedule_retry(f);
        if (sr == 1) {
            return; /* still in the in-flight list; retry_fire takes over */
        }
        if (sr == LRO_ERR_NOMEM) {
            /* A retry was due: ending with the attempt's status would hide
             * why it did not happen. */
            rc = LRO_ERR_NOMEM;
        }
    }
    detach(f);
    if (rc == LRO_ERR_NOMEM) {
        f->status = lro_status_local(f, LRO_CODE_RESOURCE_EXHAUSTED, "lro: out of memory");
    }
    lro_future_finish(f, rc == LRO_OK ? LRO_ERR_RPC : rc);
}

int lro_future_cancel(lro_future *f)
{
    if (f == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    if (f->kind == LRO_K_AWAIT) {
        return lro_await_cancel(f);
    }
    if (lro_future_is_done(f) || atomic_exchange(&f->cancel_requested, 1)) {
        return LRO_OK;
    }
    lro_client *c = f->client;
    pthread_mutex_lock(&c->mu);
    if (f->call != NULL) {
        grpc_call_cancel(f->call, NULL);
        pthread_mutex_unlock(&c->mu);
        return LRO_OK;
    }
    /* Waiting for a retry: make the timer due now; the I/O thread fires it
     * and sees cancel_requested. */
    if (f->timer.heap_index != SIZE_MAX) {
        lro_timer_remove_locked(c, &f->timer);
        f->timer.due_ns = 0;
        lro_timer_add_locked(c, &f->timer); /* cannot fail: the slot was just freed */
    }
    pthread_mutex_unlock(&c->mu);
    lro_client_wake_io(c);
    return LRO_OK;
}

/* ---- The five calls ------------------------------------------------------------ */

/* Get, Cancel, Delete and Wait: requests that carry the operation's name
 * (and, for Wait, a timeout). Names are validated here, for every caller. */
static int start_named(lro_client *c, lro_kind kind, const char *name, int64_t wait_timeout_ms,
                       const lro_call_options *opts, lro_done_cb cb, void *user_data,
                       lro_free_fn ud_free, lro_future **out, const lro_start_ext *ext)
{
    lro_error_clear(); /* lro_last_error() describes this call */
    if (c == NULL || wait_timeout_ms < 0) {
        return lro_fail(LRO_ERR_INVALID_ARG, c ? "server_timeout_ms is negative" : "client is NULL");
    }
    int rc = lro_check_name(name);
    if (rc != LRO_OK) {
        return rc;
    }
    Google__Longrunning__GetOperationRequest get = GOOGLE__LONGRUNNING__GET_OPERATION_REQUEST__INIT;
    Google__Longrunning__CancelOperationRequest can =
        GOOGLE__LONGRUNNING__CANCEL_OPERATION_REQUEST__INIT;
    Google__Longrunning__DeleteOperationRequest del =
        GOOGLE__LONGRUNNING__DELETE_OPERATION_REQUEST__INIT;
    Google__Longrunning__WaitOperationRequest wait =
        GOOGLE__LONGRUNNING__WAIT_OPERATION_REQUEST__INIT;
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    const ProtobufCMessage *req;
    int64_t extra = 0;
    switch (kind) {
    case LRO_K_GET:
        get.name = (char *)name;
        req = &get.base;
        break;
    case LRO_K_CANCEL:
        can.name = (char *)name;
        req = &can.base;
        break;
    case LRO_K_DELETE:
        del.name = (char *)name;
        req = &del.base;
        break;
    case LRO_K_WAIT:
        wait.name = (char *)name;
        if (wait_timeout_ms > 0) {
            d.seconds = wait_timeout_ms / 1000;
            d.nanos = (int32_t)((wait_timeout_ms % 1000) * 1000000);
            wait.timeout = &d;
            /* The RPC deadline is the server-side timeout + the call's own. */
            extra = wait_timeout_ms;
        }
        req = &wait.base;
        break;
    default:
        return LRO_ERR_INVALID_ARG;
    }
    return start_call(c, kind, name, req, extra, opts, cb, user_data, ud_free, out, ext);
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
    return lro_list_ext(c, parent, args, opts, cb, user_data, ud_free, out, NULL);
}

int lro_list_ext(lro_client *c, const char *parent, const lro_list_args *args,
                 const lro_call_options *opts, lro_done_cb cb, void *user_data,
                 lro_free_fn ud_free, lro_future **out, const lro_start_ext *ext)
{
    lro_error_clear(); /* lro_last_error() describes this call */
    if (c == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "client is NULL");
    }
    int rc = lro_check_name(parent);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_list_args a;
    rc = lro_list_args_normalize(args, &a); /* abi.c */
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
    return start_call(c, LRO_K_LIST, parent, &req.base, 0, opts, cb, user_data, ud_free, out, ext);
}

/* Internal starts for awaits: Get, Wait or Cancel with an owner hook and no
 * user callback. */
int lro_start_get_ext(lro_client *c, lro_kind kind, const char *name, int64_t wait_timeout_ms,
                      const lro_call_options *opts, const lro_start_ext *ext)
{
    return start_named(c, kind, name, wait_timeout_ms, opts, NULL, NULL, NULL, NULL, ext);
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
