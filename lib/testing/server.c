/*
 * server.c - lifecycle of the embedded Operations server: start, the
 * completion-queue threads, answering and freeing calls, stop.
 *
 * Each serving thread owns one completion queue and keeps several requests
 * outstanding per method, so incoming calls spread over the threads without
 * a shared queue (the benchmarks must not find the server to be the
 * bottleneck). Calls are bound to the queue that announced them; any thread
 * may answer a call (grpc_call_start_batch is thread-safe), and the answer's
 * completion always comes back to the owning thread, which frees the call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "server_int.h"

const char *const srv_method_paths[SRV_METHODS] = {
    "/google.longrunning.Operations/ListOperations",
    "/google.longrunning.Operations/GetOperation",
    "/google.longrunning.Operations/DeleteOperation",
    "/google.longrunning.Operations/CancelOperation",
    "/google.longrunning.Operations/WaitOperation",
};

/* Requests kept outstanding per method and thread. A burst larger than this
 * is not lost: grpc queues the calls until the next request is posted. */
#define SLOTS_PER_METHOD 8
#define SLOTS_UNKNOWN    2

/* Calls that have arrived and are not freed yet; stop waits for zero before
 * shutting the queues down, because starting a batch on a call whose queue
 * is shut down aborts inside grpc. */
static void active_add(lro_test_server *s, int d);

void srv_call_free(srv_call *c)
{
    lro_test_server *s = c->s;
    int had_call = c->call != NULL;
    if (c->payload != NULL) {
        grpc_byte_buffer_destroy(c->payload);
    }
    if (c->send_bb != NULL) {
        grpc_byte_buffer_destroy(c->send_bb);
    }
    grpc_slice_unref(c->status_msg);
    if (c->has_trailer) {
        grpc_slice_unref(c->trailer.value);
    }
    grpc_metadata_array_destroy(&c->md);
    lro_free(c->identity);
    if (c->method == M_UNKNOWN) {
        grpc_call_details_destroy(&c->details);
    }
    if (c->req != NULL) {
        protobuf_c_message_free_unpacked((ProtobufCMessage *)c->req, lro_pb_allocator());
    }
    if (c->call != NULL) {
        grpc_call_unref(c->call);
    }
    lro_free(c);
    if (had_call) {
        active_add(s, -1);
    }
}

static void active_add(lro_test_server *s, int d)
{
    /* A leaf lock of its own: calls are freed with s->mu held, too. */
    pthread_mutex_lock(&s->active_mu);
    s->active += d;
    if (s->active == 0) {
        pthread_cond_broadcast(&s->active_cond);
    }
    pthread_mutex_unlock(&s->active_mu);
}

void srv_drop(srv_call *c)
{
    grpc_call_cancel(c->call, NULL);
    srv_call_free(c);
}

static void answer_bb(srv_call *c, int code, const char *msg, grpc_byte_buffer *bb,
                      const uint8_t *trailer_bin, size_t trailer_len)
{
    records_set_code(c->s, c->record_seq, code);
    c->send_bb = bb;
    c->status_msg = grpc_slice_from_copied_string(msg != NULL ? msg : "");
    if (trailer_bin != NULL) {
        c->trailer.key = grpc_slice_from_static_string("grpc-status-details-bin");
        c->trailer.value = grpc_slice_from_copied_buffer((const char *)trailer_bin, trailer_len);
        c->has_trailer = 1;
    }
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    /* Always sent: in grpc 1.51 a status without initial metadata is held
     * until the call is cancelled. */
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (bb != NULL) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = bb;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)code;
    ops[n].data.send_status_from_server.status_details = &c->status_msg;
    ops[n].data.send_status_from_server.trailing_metadata_count = c->has_trailer ? 1 : 0;
    ops[n++].data.send_status_from_server.trailing_metadata = c->has_trailer ? &c->trailer : NULL;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->tag_kind = TAG_ANSWER;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) {
        srv_drop(c);
    }
}

/* BIG fault: appends an unknown length-delimited field (number 1000) of
 * zeros so the message reaches `want` bytes. Parsers skip unknown fields,
 * so the answer stays a valid message of the expected type. */
static grpc_slice pad_body(grpc_slice body, size_t want)
{
    size_t n = GRPC_SLICE_LENGTH(body);
    if (want < n + 3) {
        return body;
    }
    size_t room = want - n - 2; /* field 1000, wire type 2: 0xc2 0x3e */
    size_t p = room - 1;
    while (p > 0 && srv_varint_len(p) + p > room) {
        p--;
    }
    grpc_slice out = grpc_slice_malloc(n + 2 + srv_varint_len(p) + p);
    uint8_t *w = GRPC_SLICE_START_PTR(out);
    memcpy(w, GRPC_SLICE_START_PTR(body), n);
    w += n;
    *w++ = 0xc2;
    *w++ = 0x3e;
    w = srv_put_varint(w, p);
    memset(w, 0, p);
    grpc_slice_unref(body);
    return out;
}

void srv_answer_slice(srv_call *c, int code, const char *msg, grpc_slice *body,
                      const uint8_t *trailer_bin, size_t trailer_len)
{
    grpc_byte_buffer *bb = NULL;
    if (body != NULL && c->pad_to > 0 && code == LRO_CODE_OK) {
        *body = pad_body(*body, c->pad_to);
    }
    if (body != NULL) {
        bb = grpc_raw_byte_buffer_create(body, 1);
        grpc_slice_unref(*body); /* the byte buffer took its own reference */
    }
    answer_bb(c, code, msg, bb, trailer_bin, trailer_len);
}

void srv_answer(srv_call *c, int code, const char *msg, const uint8_t *body, size_t body_len,
                const uint8_t *trailer_bin, size_t trailer_len)
{
    if (body == NULL) {
        answer_bb(c, code, msg, NULL, trailer_bin, trailer_len);
        return;
    }
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)body, body_len);
    srv_answer_slice(c, code, msg, &sl, trailer_bin, trailer_len);
}

void srv_answer_empty(srv_call *c)
{
    grpc_slice e = grpc_empty_slice();
    srv_answer_slice(c, LRO_CODE_OK, "", &e, NULL, 0);
}

void srv_decode_request(srv_call *c, const ProtobufCMessageDescriptor *d)
{
    if (c->payload == NULL) {
        return;
    }
    grpc_byte_buffer_reader r;
    if (grpc_byte_buffer_reader_init(&r, c->payload)) {
        grpc_slice raw = grpc_byte_buffer_reader_readall(&r);
        grpc_byte_buffer_reader_destroy(&r);
        c->req = protobuf_c_message_unpack(d, lro_pb_allocator(), GRPC_SLICE_LENGTH(raw),
                                           GRPC_SLICE_START_PTR(raw));
        grpc_slice_unref(raw);
    }
    grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
}

static void request_one(srv_thread *t, int method)
{
    lro_test_server *s = t->s;
    srv_call *c = lro_calloc(1, sizeof *c);
    if (c == NULL) {
        return;
    }
    c->tag_kind = TAG_REQUEST;
    c->s = s;
    c->t = t;
    c->method = method;
    c->timer.node.index = SIZE_MAX;
    c->timer.owner = c;
    grpc_metadata_array_init(&c->md);
    grpc_call_error rc;
    if (method == M_UNKNOWN) {
        grpc_call_details_init(&c->details);
        rc = grpc_server_request_call(s->server, &c->call, &c->details, &c->md, t->cq, t->cq, c);
    } else {
        void *rm = method >= M_ADMIN_BASE ? s->admin_rm[method - M_ADMIN_BASE] : s->rm[method];
        rc = grpc_server_request_registered_call(s->server, rm, &c->call, &c->deadline, &c->md,
                                                 &c->payload, t->cq, t->cq, c);
    }
    if (rc != GRPC_CALL_OK) {
        srv_call_free(c);
    }
}

static void on_request(srv_call *c, int ok)
{
    lro_test_server *s = c->s;
    if (!ok || c->call == NULL) {
        srv_call_free(c); /* shutting down: the request was failed */
        return;
    }
    active_add(s, 1);
    if (!atomic_load(&s->stopping)) {
        request_one(c->t, c->method); /* keep the slot count constant */
    }
    if (c->method == M_UNKNOWN) {
        srv_answer_error(c, LRO_CODE_UNIMPLEMENTED, "unknown method");
        return;
    }
    if (c->method >= M_ADMIN_BASE) {
        admin_arrival(c);
        return;
    }
    handle_arrival(c);
}

static void process_event(srv_thread *t, grpc_event ev)
{
    if (ev.type != GRPC_OP_COMPLETE) {
        return;
    }
    int kind = *(int *)ev.tag;
    if (kind == TAG_SHUTDOWN) {
        pthread_mutex_lock(&t->s->mu);
        t->s->shutdown_seen = 1;
        pthread_cond_broadcast(&t->s->cond);
        pthread_mutex_unlock(&t->s->mu);
    } else if (kind == TAG_REQUEST) {
        on_request(ev.tag, ev.success);
    } else {
        srv_call_free(ev.tag); /* TAG_ANSWER */
    }
}

static void *cq_thread(void *arg)
{
    srv_thread *t = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) {
            break;
        }
        process_event(t, ev);
    }
    return NULL;
}

/* Only when a serving thread could not be created (start failed half-way):
 * stop serves that thread's queue itself until shutdown is complete. */
static int serve_orphans(lro_test_server *s)
{
    int any = 0;
    for (int i = 0; i < s->nthreads; i++) {
        srv_thread *t = &s->threads[i];
        if (!t->started) {
            any = 1;
            gpr_timespec dl =
                gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(5, GPR_TIMESPAN));
            process_event(t, grpc_completion_queue_next(t->cq, dl, NULL));
        }
    }
    return any;
}

/* Splits "host:port" into a reportable target once the port is known. */
static char *tcp_target(const char *listen, int port)
{
    const char *colon = strrchr(listen, ':');
    size_t hl = (size_t)(colon - listen);
    char host[300];
    if (hl == 0 || (hl == 7 && memcmp(listen, "0.0.0.0", 7) == 0)) {
        strcpy(host, "127.0.0.1");
    } else if ((hl == 4 && memcmp(listen, "[::]", 4) == 0)) {
        strcpy(host, "[::1]");
    } else if (hl < sizeof host) {
        memcpy(host, listen, hl);
        host[hl] = '\0';
    } else {
        return NULL;
    }
    char buf[340];
    snprintf(buf, sizeof buf, "%s:%d", host, port);
    return lro_strdup(buf);
}

static void free_server(lro_test_server *s)
{
    store_free(s);
    faults_free(s);
    srv_auth_free(s);
    srv_unreachable_free(s);
    records_free(&s->rec);
    lro_heap_free(&s->heap);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rec_mu);
    pthread_mutex_destroy(&s->fault_mu);
    pthread_mutex_destroy(&s->active_mu);
    pthread_cond_destroy(&s->cond);
    pthread_cond_destroy(&s->active_cond);
    lro_free(s->threads);
    lro_free(s->target);
    lro_free(s->unix_path);
    lro_free(s);
}

int lro_test_server_start(const lro_test_server_options *o, lro_test_server **out)
{
    lro_test_server_options def = LRO_TEST_SERVER_OPTIONS_INIT;
    /* Sizes shipped: 0.1 without and with the TLS fields, and today's. */
    static const uint32_t sizes[] = {offsetof(lro_test_server_options, tls_cert_chain_pem),
                                     offsetof(lro_test_server_options, max_concurrent_streams),
                                     sizeof(lro_test_server_options)};
    if (out == NULL ||
        lro_versioned_copy(&def, sizeof def, o, sizes, 3, "lro_test_server_options") != LRO_OK) {
        return LRO_ERR_INVALID_ARG;
    }
    const char *listen = def.listen != NULL ? def.listen : "127.0.0.1:0";
    int is_unix = strncmp(listen, "unix:", 5) == 0;
    if (def.threads < 0 || def.threads > 64 || strlen(listen) > 256 ||
        (is_unix && listen[5] == '\0') || (!is_unix && strrchr(listen, ':') == NULL) ||
        ((def.tls_cert_chain_pem == NULL) != (def.tls_private_key_pem == NULL)) ||
        (def.tls_client_ca_pem != NULL && def.tls_cert_chain_pem == NULL) ||
        def.max_concurrent_streams < 0 || def.max_connection_age_ms < 0 ||
        def.max_connection_age_grace_ms < 0 || def.max_connection_age_ms > INT32_MAX ||
        def.max_connection_age_grace_ms > INT32_MAX) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_test_server *s = lro_calloc(1, sizeof *s);
    if (s == NULL) {
        return LRO_ERR_NOMEM;
    }
    s->nthreads = def.threads > 0 ? def.threads : 1;
    s->wait_cap_ms = def.wait_cap_ms > 0 ? def.wait_cap_ms : 30000;
    s->record_limit = def.record_limit == 0 ? 10000 : def.record_limit;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->rec_mu, NULL);
    pthread_mutex_init(&s->fault_mu, NULL);
    pthread_mutex_init(&s->active_mu, NULL);
    pthread_cond_init(&s->active_cond, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* lro_now_ms's clock */
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    store_init(&s->store);
    records_init(&s->rec, s->record_limit);
    s->shutdown_tag = TAG_SHUTDOWN;
    s->threads = lro_calloc((size_t)s->nthreads, sizeof *s->threads);
    if (s->threads == NULL || s->store.buckets == NULL || s->rec.buckets == NULL) {
        free_server(s);
        return LRO_ERR_NOMEM;
    }
    if (is_unix) {
        s->unix_path = lro_strdup(listen + 5);
        s->target = lro_strdup(listen);
    }

    grpc_init();
    /* Front-end behaviour comes from grpc core's own server arguments: the
     * limit is announced in the HTTP/2 SETTINGS frame, and recycling sends a
     * real GOAWAY, so clients meet exactly what a proxy would do to them. */
    grpc_arg args[3];
    size_t nargs = 0;
    if (def.max_concurrent_streams > 0) {
        args[nargs].type = GRPC_ARG_INTEGER;
        args[nargs].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
        args[nargs++].value.integer = def.max_concurrent_streams;
    }
    if (def.max_connection_age_ms > 0) {
        args[nargs].type = GRPC_ARG_INTEGER;
        args[nargs].key = (char *)GRPC_ARG_MAX_CONNECTION_AGE_MS;
        args[nargs++].value.integer = (int)def.max_connection_age_ms;
        if (def.max_connection_age_grace_ms > 0) {
            args[nargs].type = GRPC_ARG_INTEGER;
            args[nargs].key = (char *)GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS;
            args[nargs++].value.integer = (int)def.max_connection_age_grace_ms;
        }
    }
    grpc_channel_args cargs = {nargs, args};
    s->server = grpc_server_create(nargs > 0 ? &cargs : NULL, NULL);
    for (int i = 0; i < SRV_METHODS; i++) {
        s->rm[i] = grpc_server_register_method(s->server, srv_method_paths[i], NULL,
                                               GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
    admin_register(s);
    for (int i = 0; i < s->nthreads; i++) {
        s->threads[i].s = s;
        s->threads[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->threads[i].cq, NULL);
    }
    grpc_server_credentials *creds;
    if (def.tls_cert_chain_pem != NULL && def.tls_private_key_pem != NULL) {
        /* grpc copies the PEM text. */
        grpc_ssl_pem_key_cert_pair pair = {def.tls_private_key_pem, def.tls_cert_chain_pem};
        /* With a client CA: mutual TLS, a verified client certificate is
         * required (auth.c records its subject). */
        grpc_ssl_client_certificate_request_type req =
            def.tls_client_ca_pem != NULL
                ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
        creds = grpc_ssl_server_credentials_create_ex(def.tls_client_ca_pem, &pair, 1, req, NULL);
    } else {
        creds = grpc_insecure_server_credentials_create();
    }
    int port = grpc_server_add_http2_port(s->server, listen, creds);
    grpc_server_credentials_release(creds);
    if (port > 0 && !is_unix) {
        s->port = port;
        s->target = tcp_target(listen, port);
    }
    if (port <= 0 || s->target == NULL) {
        grpc_server_destroy(s->server);
        for (int i = 0; i < s->nthreads; i++) {
            grpc_completion_queue_shutdown(s->threads[i].cq);
            while (grpc_completion_queue_next(s->threads[i].cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                              NULL)
                       .type != GRPC_QUEUE_SHUTDOWN) {
            }
            grpc_completion_queue_destroy(s->threads[i].cq);
        }
        grpc_shutdown();
        int err = port <= 0 ? LRO_ERR_IO : LRO_ERR_NOMEM;
        free_server(s);
        return err;
    }
    grpc_server_start(s->server);
    for (int i = 0; i < s->nthreads; i++) {
        srv_thread *t = &s->threads[i];
        for (int m = 0; m < SRV_METHODS; m++) {
            for (int k = 0; k < SLOTS_PER_METHOD; k++) {
                request_one(t, m);
            }
        }
        for (int k = 0; k < SLOTS_UNKNOWN; k++) {
            request_one(t, M_UNKNOWN);
        }
        for (int m = 0; m < SRV_ADMIN_METHODS; m++) {
            request_one(t, M_ADMIN_BASE + m); /* low traffic: one slot each */
        }
        t->started = pthread_create(&t->th, NULL, cq_thread, t) == 0;
    }
    int all_started = 1;
    for (int i = 0; i < s->nthreads; i++) {
        all_started &= s->threads[i].started;
    }
    if (!all_started || timers_start(s) != LRO_OK) {
        lro_test_server_stop(s);
        return LRO_ERR_NOMEM;
    }
    *out = s;
    return LRO_OK;
}

const char *lro_test_server_target(const lro_test_server *s)
{
    return s != NULL ? s->target : NULL;
}

/* Frees the calls we hold (Waits, latency) without answering: the clients
 * see CANCELLED from grpc_server_cancel_all_calls. s->mu held. */
static void drop_held(lro_test_server *s)
{
    lro_heap_node *n;
    while ((n = lro_heap_top(&s->heap)) != NULL) {
        srv_timer *t = SRV_TIMER(n);
        heap_remove(s, t);
        if (t->kind == TIMER_LIFECYCLE) {
            continue; /* embedded in its op_entry, freed with the store */
        }
        if (t->kind == TIMER_COMPLETE) {
            srv_completion *sc = t->owner;
            lro_free(sc->name);
            lro_free(sc->op_result);
            lro_free(sc);
        } else {
            srv_call *c = t->owner;
            if (c->wentry != NULL) {
                waiter_remove(c);
            }
            srv_drop(c);
        }
    }
}

void lro_test_server_stop(lro_test_server *s)
{
    if (s == NULL) {
        return;
    }
    /* 1. No new held calls, no timer work: from now on handlers answer at
     *    once instead of holding. */
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stopping, 1);
    pthread_mutex_unlock(&s->mu);
    timers_stop(s);
    /* 2. No new calls; cancel the ones in flight. */
    grpc_server_shutdown_and_notify(s->server, s->threads[0].cq, &s->shutdown_tag);
    grpc_server_cancel_all_calls(s->server);
    /* 3. Release held calls, then wait for the shutdown tag and for every
     *    arrived call to be freed (their answers complete on the queues the
     *    threads are still serving). */
    pthread_mutex_lock(&s->mu);
    drop_held(s);
    pthread_mutex_unlock(&s->mu);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int seen = s->shutdown_seen;
        pthread_mutex_unlock(&s->mu);
        pthread_mutex_lock(&s->active_mu);
        long active = s->active;
        pthread_mutex_unlock(&s->active_mu);
        if (seen && active == 0) {
            break;
        }
        if (serve_orphans(s)) {
            continue; /* polled: no condition variable to sleep on */
        }
        if (!seen) {
            pthread_mutex_lock(&s->mu);
            while (!s->shutdown_seen) {
                pthread_cond_wait(&s->cond, &s->mu);
            }
            pthread_mutex_unlock(&s->mu);
        } else {
            pthread_mutex_lock(&s->active_mu);
            while (s->active > 0) {
                pthread_cond_wait(&s->active_cond, &s->active_mu);
            }
            pthread_mutex_unlock(&s->active_mu);
        }
    }
    grpc_server_destroy(s->server);
    /* 4. Queues: shut down, the threads drain them to GRPC_QUEUE_SHUTDOWN
     *    (freeing the requests still posted) and exit. */
    for (int i = 0; i < s->nthreads; i++) {
        grpc_completion_queue_shutdown(s->threads[i].cq);
    }
    for (int i = 0; i < s->nthreads; i++) {
        srv_thread *t = &s->threads[i];
        if (t->started) {
            pthread_join(t->th, NULL);
        } else {
            while (
                grpc_completion_queue_next(t->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
                GRPC_QUEUE_SHUTDOWN) {
            }
        }
        grpc_completion_queue_destroy(t->cq);
    }
    if (s->unix_path != NULL) {
        unlink(s->unix_path);
    }
    grpc_shutdown();
    free_server(s);
}
