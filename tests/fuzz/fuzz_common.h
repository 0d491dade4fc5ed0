/* Shared by the libFuzzer targets: walk every view of a decoded message the
 * way a user (or the JSON writer) would, so a decode that "succeeds" with
 * inconsistent pointers is caught by ASan/UBSan too. */
#ifndef LRO_FUZZ_COMMON_H
#define LRO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "call_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lro/future.h"

static volatile size_t fuzz_sink;

static inline void fuzz_touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    size_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += b[i];
    }
    fuzz_sink += acc;
}

static inline void fuzz_any(const char *url, const uint8_t *val, size_t len)
{
    fuzz_touch(url, strlen(url));
    fuzz_touch(val, len);
    static const ProtobufCMessageDescriptor *const descs[] = {
        &google__protobuf__struct__descriptor, &google__protobuf__string_value__descriptor,
        &google__rpc__status__descriptor, &google__rpc__error_info__descriptor,
        &google__longrunning__operation__descriptor};
    for (size_t i = 0; i < sizeof descs / sizeof descs[0]; i++) {
        ProtobufCMessage *m = NULL;
        /* Use the descriptor's own name so the type check passes and the
         * bytes are decoded. */
        char u[160];
        snprintf(u, sizeof u, "type.googleapis.com/%s", descs[i]->name);
        if (lro_any_unpack(u, val, len, descs[i], &m) == LRO_OK) {
            fuzz_sink += protobuf_c_message_get_packed_size(m);
            lro_message_free(m);
        }
    }
    ProtobufCMessage *m = NULL;
    if (lro_any_unpack(url, val, len, &google__protobuf__struct__descriptor, &m) == LRO_OK) {
        lro_message_free(m);
    }
}

static inline void fuzz_status(const lro_status *s)
{
    if (s == NULL) {
        return;
    }
    fuzz_sink += (size_t)lro_status_code(s);
    fuzz_touch(lro_status_message(s), strlen(lro_status_message(s)));
    size_t n = lro_status_detail_count(s);
    for (size_t i = 0; i < n; i++) {
        const char *url;
        const uint8_t *val;
        size_t len;
        if (lro_status_detail(s, i, &url, &val, &len) == LRO_OK) {
            fuzz_any(url, val, len);
        }
    }
    int64_t ms = 0;
    int present = 0;
    if (lro_status_retry_delay_ms(s, &ms, &present) == LRO_OK && present) {
        fuzz_sink += (size_t)ms;
    }
}

static inline void fuzz_operation(const lro_operation *op)
{
    fuzz_touch(lro_operation_name(op), strlen(lro_operation_name(op)));
    fuzz_sink += (size_t)lro_operation_done(op);
    const char *url;
    const uint8_t *val;
    size_t len;
    int present = 0;
    if (lro_operation_metadata(op, &url, &val, &len, &present) == LRO_OK && present) {
        fuzz_any(url, val, len);
    }
    if (lro_operation_response(op, &url, &val, &len, &present) == LRO_OK && present) {
        fuzz_any(url, val, len);
    }
    fuzz_status(lro_operation_error(op));
}

/* After a failed decode: the diagnosis must be a bounded C string. */
static inline void fuzz_diag(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t n)
{
    char why[200];
    memset(why, 'x', sizeof why);
    lro_wire_diagnose(d, data, n, why, sizeof why);
    if (memchr(why, '\0', sizeof why) == NULL || why[0] == '\0') {
        __builtin_trap();
    }
}

static inline void fuzz_page(const lro_page *p)
{
    size_t n = lro_page_count(p);
    for (size_t i = 0; i < n; i++) {
        fuzz_operation(lro_page_operation(p, i));
    }
    fuzz_touch(lro_page_next_token(p), strlen(lro_page_next_token(p)));
    for (size_t i = 0; i < lro_page_unreachable_count(p); i++) {
        fuzz_touch(lro_page_unreachable(p, i), strlen(lro_page_unreachable(p, i)));
    }
}

#endif
