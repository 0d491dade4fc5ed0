/* Borrowed views over decoded messages. The opaque view types are the
 * protobuf-c structs themselves (no copies): lro_operation is a
 * Google__Longrunning__Operation, lro_page a ListOperationsResponse,
 * lro_status a Google__Rpc__Status. */
#include <string.h>

#include "lro/lro_pb.h"
#include "json_int.h"
#include "lro_int.h"
#include "google/rpc/error_details.pb-c.h"

#define OP(p) ((const Google__Longrunning__Operation *)(p))
#define ST(p) ((const Google__Rpc__Status *)(p))
#define PG(p) ((const Google__Longrunning__ListOperationsResponse *)(p))

const char *lro_operation_name(const lro_operation *op)
{
    return op && OP(op)->name ? OP(op)->name : "";
}

int lro_operation_done(const lro_operation *op)
{
    return op != NULL && OP(op)->done;
}

static int any_out(const Google__Protobuf__Any *a, const char **type_url, const uint8_t **value,
                   size_t *len)
{
    if (a == NULL) {
        return 0;
    }
    if (type_url) {
        *type_url = a->type_url ? a->type_url : "";
    }
    if (value) {
        *value = a->value.data;
    }
    if (len) {
        *len = a->value.len;
    }
    return 1;
}

/* The public shape of an optional Any: LRO_OK, presence in *present, and
 * out-pointers cleared when it is absent (so a binding never reads garbage). */
static int any_present(const Google__Protobuf__Any *a, const char **type_url,
                       const uint8_t **value, size_t *len, int *present)
{
    int has = any_out(a, type_url, value, len);
    if (!has) {
        if (type_url) {
            *type_url = NULL;
        }
        if (value) {
            *value = NULL;
        }
        if (len) {
            *len = 0;
        }
    }
    if (present) {
        *present = has;
    }
    return LRO_OK;
}

int lro_operation_metadata(const lro_operation *op, const char **type_url, const uint8_t **value,
                           size_t *len, int *present)
{
    if (op == NULL) {
        any_present(NULL, type_url, value, len, present);
        return LRO_ERR_INVALID_ARG;
    }
    return any_present(OP(op)->metadata, type_url, value, len, present);
}

int lro_operation_response(const lro_operation *op, const char **type_url, const uint8_t **value,
                           size_t *len, int *present)
{
    if (op == NULL) {
        any_present(NULL, type_url, value, len, present);
        return LRO_ERR_INVALID_ARG;
    }
    const Google__Protobuf__Any *a =
        OP(op)->result_case == GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE ? OP(op)->response
                                                                               : NULL;
    return any_present(a, type_url, value, len, present);
}

const lro_status *lro_operation_error(const lro_operation *op)
{
    if (op == NULL || OP(op)->result_case != GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR) {
        return NULL;
    }
    return (const lro_status *)OP(op)->error;
}

int lro_status_code(const lro_status *s)
{
    return s ? ST(s)->code : LRO_CODE_UNKNOWN;
}

const char *lro_status_message(const lro_status *s)
{
    return s && ST(s)->message ? ST(s)->message : "";
}

size_t lro_status_detail_count(const lro_status *s)
{
    return s ? ST(s)->n_details : 0;
}

int lro_status_detail(const lro_status *s, size_t i, const char **type_url, const uint8_t **value,
                      size_t *len)
{
    if (s == NULL || i >= ST(s)->n_details || ST(s)->details[i] == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    any_out(ST(s)->details[i], type_url, value, len);
    return LRO_OK;
}

int lro_status_retry_delay_ms(const lro_status *s, int64_t *ms, int *present)
{
    int64_t v = 0;
    int has = lro_status_has_retry_delay(s, &v);
    if (ms) {
        *ms = has ? v : 0;
    }
    if (present) {
        *present = has;
    }
    return s ? LRO_OK : LRO_ERR_INVALID_ARG;
}

int lro_status_has_retry_delay(const lro_status *s, int64_t *ms)
{
    if (s == NULL) {
        return 0;
    }
    for (size_t i = 0; i < ST(s)->n_details; i++) {
        const Google__Protobuf__Any *a = ST(s)->details[i];
        ProtobufCMessage *m = NULL;
        if (a == NULL ||
            lro_any_unpack(a->type_url, a->value.data, a->value.len,
                           &google__rpc__retry_info__descriptor, &m) != LRO_OK) {
            continue;
        }
        const Google__Rpc__RetryInfo *ri = (const Google__Rpc__RetryInfo *)m;
        int found = 0;
        if (ri->retry_delay != NULL && ri->retry_delay->seconds >= 0 &&
            ri->retry_delay->nanos >= 0) {
            int64_t sec = ri->retry_delay->seconds;
            /* A hostile server must not make us sleep for centuries. */
            if (sec > 86400) {
                sec = 86400;
            }
            if (ms) {
                *ms = sec * 1000 + ri->retry_delay->nanos / 1000000;
            }
            found = 1;
        }
        lro_message_free(m);
        if (found) {
            return 1;
        }
    }
    return 0;
}

size_t lro_page_count(const lro_page *p)
{
    return p ? PG(p)->n_operations : 0;
}

const lro_operation *lro_page_operation(const lro_page *p, size_t i)
{
    if (p == NULL || i >= PG(p)->n_operations) {
        return NULL;
    }
    return (const lro_operation *)PG(p)->operations[i];
}

const char *lro_page_next_token(const lro_page *p)
{
    return p && PG(p)->next_page_token ? PG(p)->next_page_token : "";
}

size_t lro_page_unreachable_count(const lro_page *p)
{
    return p ? PG(p)->n_unreachable : 0;
}

const char *lro_page_unreachable(const lro_page *p, size_t i)
{
    if (p == NULL || i >= PG(p)->n_unreachable) {
        return NULL;
    }
    return PG(p)->unreachable[i];
}

int lro_any_unpack(const char *type_url, const uint8_t *value, size_t len,
                   const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    if (type_url == NULL || desc == NULL || out == NULL || (value == NULL && len > 0)) {
        return LRO_ERR_INVALID_ARG;
    }
    /* "type.googleapis.com/google.rpc.RetryInfo": the part after the last
     * '/' must be the descriptor's full name. */
    const char *slash = strrchr(type_url, '/');
    const char *full = slash ? slash + 1 : type_url;
    if (strcmp(full, desc->name) != 0) {
        return LRO_ERR_TYPE_MISMATCH;
    }
    /* protobuf-c's unpack recurses without a limit: a server could crash us
     * with deeply nested bytes (e.g. Struct in ListValue in Struct...). */
    if (lro_pb_check_depth(desc, value, len, 100) != 0) {
        return LRO_ERR_DECODE;
    }
    int nomem = 0;
    ProtobufCMessage *m = lro_json_unpack(desc, value, len, &nomem);
    if (m == NULL) {
        return nomem ? LRO_ERR_NOMEM : LRO_ERR_DECODE;
    }
    *out = m;
    return LRO_OK;
}

void lro_message_free(ProtobufCMessage *m)
{
    lro_json_free_message(m);
}
