/*
 * faults.c - fault injection: per method and per name, the first matching
 * fault with hits left decides how a call is answered. Faults are counted
 * when they hit, so "K times then success" is exact under concurrency.
 */
#include <stddef.h>
#include <string.h>

#include "google/protobuf/duration.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "server_int.h"

/* Not a valid message: a length-delimited field 1 that claims 5 bytes and
 * has 1. Every protobuf parser rejects it. */
static const uint8_t default_garbage[] = {0x0a, 0x05, 'x'};
/* A grpc-status-details-bin value that is not a google.rpc.Status (an
 * unterminated varint tag). */
static const uint8_t bad_details[] = {0xff, 0xff, 0xff, 0xff};

/* A copy of n bytes with room for one more (so n == 0 is not NULL). */
static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    uint8_t *b = lro_malloc(n + 1);
    if (b != NULL && n > 0) {
        memcpy(b, p, n);
    }
    return b;
}

static void fault_free(srv_fault *f)
{
    LRO_FREE_ALL(f->name, f->message, f->details, f->garbage, f->name_suffix, f->reason, f);
}

int lro_test_server_add_fault(lro_test_server *s, const lro_test_fault *given)
{
    /* Sizes shipped: 0.1's (without name_suffix and reason: they read as
     * NULL) and today's; any other is refused (ABI rule 1, lro/common.h). */
    static const uint32_t sizes[] = {offsetof(lro_test_fault, name_suffix),
                                     sizeof(lro_test_fault)};
    lro_test_fault fcopy = LRO_TEST_FAULT_INIT;
    if (given == NULL ||
        lro_versioned_copy(&fcopy, sizeof fcopy, given, sizes, 2, "lro_test_fault") != LRO_OK) {
        return LRO_ERR_INVALID_ARG;
    }
    const lro_test_fault *in = &fcopy;
    if (s == NULL ||
        (unsigned)in->kind > LRO_TEST_FAULT_BAD_DETAILS || (in->methods & ~LRO_TEST_ALL) != 0) {
        return LRO_ERR_INVALID_ARG;
    }
    if ((in->kind == LRO_TEST_FAULT_STATUS || in->kind == LRO_TEST_FAULT_BAD_DETAILS) &&
        (in->code <= 0 || in->code > 16)) {
        return LRO_ERR_INVALID_ARG;
    }
    if ((in->kind == LRO_TEST_FAULT_LATENCY && in->latency_ms < 0) ||
        (in->garbage == NULL && in->garbage_len > 0) ||
        (in->details_status == NULL && in->details_len > 0)) {
        return LRO_ERR_INVALID_ARG;
    }
    if (in->details_status != NULL) {
        /* Refuse now what could not be sent later. */
        Google__Rpc__Status *st =
            google__rpc__status__unpack(lro_pb_allocator(), in->details_len, in->details_status);
        if (st == NULL) {
            return LRO_ERR_INVALID_ARG;
        }
        google__rpc__status__free_unpacked(st, lro_pb_allocator());
    }
    srv_fault *f = lro_calloc(1, sizeof *f);
    if (f == NULL) {
        return LRO_ERR_NOMEM;
    }
    f->f = *in;
    int ok = 1;
    if (in->name != NULL) {
        ok &= (f->name = lro_strdup(in->name)) != NULL;
    }
    if (in->message != NULL) {
        ok &= (f->message = lro_strdup(in->message)) != NULL;
    }
    if (in->details_status != NULL) {
        ok &= (f->details = dup_bytes(in->details_status, in->details_len)) != NULL;
    }
    if (in->garbage != NULL) {
        ok &= (f->garbage = dup_bytes(in->garbage, in->garbage_len)) != NULL;
    }
    if (in->name_suffix != NULL) {
        ok &= (f->name_suffix = lro_strdup(in->name_suffix)) != NULL;
    }
    if (in->reason != NULL) {
        ok &= (f->reason = lro_strdup(in->reason)) != NULL;
    }
    if (!ok) {
        fault_free(f);
        return LRO_ERR_NOMEM;
    }
    pthread_mutex_lock(&s->fault_mu);
    if (s->faults_tail != NULL) {
        s->faults_tail->next = f;
    } else {
        s->faults = f;
    }
    s->faults_tail = f;
    pthread_mutex_unlock(&s->fault_mu);
    return LRO_OK;
}

void faults_free(lro_test_server *s)
{
    for (srv_fault *f = s->faults, *next; f != NULL; f = next) {
        next = f->next;
        fault_free(f);
    }
    s->faults = s->faults_tail = NULL;
}

void lro_test_server_clear_faults(lro_test_server *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->fault_mu);
    faults_free(s);
    pthread_mutex_unlock(&s->fault_mu);
}

/* The google.rpc.Status for a STATUS fault: an ErrorInfo (unless the given
 * details have one), the given details, and RetryInfo when asked. */
static int status_trailer(const srv_fault *f, int method, uint8_t **out, size_t *len)
{
    Google__Rpc__Status *given = NULL;
    if (f->details != NULL) {
        given = google__rpc__status__unpack(lro_pb_allocator(), f->f.details_len, f->details);
    }
    srv_status_spec sp = {f->f.code,
                          f->message != NULL ? f->message : "injected fault",
                          f->reason != NULL ? f->reason : "INJECTED_FAULT",
                          method,
                          NULL,
                          given,
                          f->f.retry_delay_ms};
    int rc = srv_build_status(&sp, out, len);
    if (given != NULL) {
        google__rpc__status__free_unpacked(given, lro_pb_allocator());
    }
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int faults_apply(srv_call *c, const char *name)
{
    lro_test_server *s = c->s;
    unsigned bit = 1u << c->method;
    int kind = -1, code = 0;
    char *message = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t latency = 0;
    size_t big = 0;

    pthread_mutex_lock(&s->fault_mu);
    for (srv_fault *f = s->faults; f != NULL; f = f->next) {
        if (f->f.times == 0 || (f->f.methods != 0 && !(f->f.methods & bit)) ||
            (f->name != NULL && (name == NULL || strcmp(f->name, name) != 0)) ||
            (f->name_suffix != NULL && (name == NULL || !ends_with(name, f->name_suffix)))) {
            continue;
        }
        if (f->f.times > 0) {
            f->f.times--;
        }
        /* Copy what the answer needs: the fault may be cleared as soon as
         * the lock is released. */
        kind = (int)f->f.kind;
        code = f->f.code;
        message = lro_strdup(f->message != NULL ? f->message : "injected fault");
        latency = f->f.latency_ms;
        big = f->f.big_size;
        if (kind == LRO_TEST_FAULT_STATUS && status_trailer(f, c->method, &buf, &len) != LRO_OK) {
            buf = NULL;
        } else if (kind == LRO_TEST_FAULT_GARBAGE && f->garbage != NULL) {
            buf = dup_bytes(f->garbage, f->f.garbage_len);
            len = f->f.garbage_len;
        }
        break;
    }
    pthread_mutex_unlock(&s->fault_mu);

    int taken = 1;
    switch (kind) {
    case LRO_TEST_FAULT_STATUS:
        srv_answer(c, code, message, NULL, 0, buf, len);
        break;
    case LRO_TEST_FAULT_BAD_DETAILS:
        srv_answer(c, code, message, NULL, 0, bad_details, sizeof bad_details);
        break;
    case LRO_TEST_FAULT_GARBAGE:
        if (buf != NULL) {
            srv_answer(c, LRO_CODE_OK, "", buf, len, NULL, 0);
        } else {
            srv_answer(c, LRO_CODE_OK, "", default_garbage, sizeof default_garbage, NULL, 0);
        }
        break;
    case LRO_TEST_FAULT_DISCONNECT:
        /* The record first: the client may look at it as soon as the
         * socket is gone. Sockets before the cancel, so the client sees the
         * connection drop (UNAVAILABLE) rather than a cancel (CANCELLED). */
        records_set_code(s, c->record_seq, LRO_CODE_UNAVAILABLE);
        disconnect_call(c);
        srv_drop(c);
        break;
    case LRO_TEST_FAULT_BIG:
        c->pad_to = big;
        taken = 0;
        break;
    case LRO_TEST_FAULT_LATENCY:
        pthread_mutex_lock(&s->mu);
        taken = 0;
        if (!atomic_load(&s->stopping) && latency > 0) {
            c->timer.kind = TIMER_LATENCY;
            c->timer.owner = c;
            c->timer.node.key = lro_now_ms() + latency;
            taken = heap_push(s, &c->timer) == LRO_OK;
        }
        pthread_mutex_unlock(&s->mu);
        break;
    default:
        taken = 0;
        break;
    }
    lro_free(message);
    lro_free(buf);
    return taken;
}
