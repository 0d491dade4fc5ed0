/* Serialized bytes of the views (operation, page, status) and the way back:
 * what a binding needs to hand its users native protobuf objects, or to keep
 * an Operation and resume awaiting it in another process. The views are the
 * protobuf-c structs themselves (see views.c), so serializing is one pack and
 * parsing one unpack with lro's allocator, depth-checked like every decode of
 * bytes that came from outside. */
#include <string.h>

#include "json_int.h"
#include "lro/lro_pb.h"
#include "lro_int.h"

/* Parsed messages nest at most this deep (as the JSON writer's limit):
 * protobuf-c's unpack recurses without a bound of its own. */
#define LRO_BYTES_MAX_DEPTH 100

static int serialize(const ProtobufCMessage *m, const char *what, uint8_t **out, size_t *len)
{
    lro_error_clear();
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s_serialize: out is NULL", what);
    }
    if (m == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s_serialize: the %s is NULL", what, what + 4);
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    /* One byte more so that an empty message still gets a distinct,
     * lro_free'able buffer (never NULL on success). */
    uint8_t *buf = lro_malloc(n + 1);
    if (buf == NULL) {
        return LRO_ERR_NOMEM;
    }
    size_t packed = protobuf_c_message_pack(m, buf);
    if (packed != n) {
        lro_free(buf);
        return lro_fail(LRO_ERR_INTERNAL, "%s_serialize: packed %zu bytes, expected %zu", what,
                        packed, n);
    }
    buf[n] = 0;
    *out = buf;
    if (len) {
        *len = n;
    }
    return LRO_OK;
}

static int parse(const ProtobufCMessageDescriptor *d, const char *what, const uint8_t *data,
                 size_t len, ProtobufCMessage **out)
{
    lro_error_clear();
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s_parse: out is NULL", what);
    }
    if (data == NULL && len > 0) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s_parse: data is NULL with len %zu", what, len);
    }
    static const uint8_t empty[1] = {0};
    if (data == NULL) {
        data = empty;
    }
    if (lro_pb_check_depth(d, data, len, LRO_BYTES_MAX_DEPTH) != 0) {
        return lro_fail(LRO_ERR_DECODE, "%s_parse: messages nested more than %d deep", what,
                        LRO_BYTES_MAX_DEPTH);
    }
    int nomem = 0;
    ProtobufCMessage *m = lro_json_unpack(d, data, len, &nomem);
    if (m == NULL) {
        if (nomem) {
            return LRO_ERR_NOMEM;
        }
        return lro_fail(LRO_ERR_DECODE, "%s_parse: %zu bytes do not decode as %s", what, len,
                        d->name);
    }
    *out = m;
    return LRO_OK;
}

int lro_operation_serialize(const lro_operation *op, uint8_t **out, size_t *len)
{
    return serialize((const ProtobufCMessage *)op, "lro_operation", out, len);
}

int lro_page_serialize(const lro_page *p, uint8_t **out, size_t *len)
{
    return serialize((const ProtobufCMessage *)p, "lro_page", out, len);
}

int lro_status_serialize(const lro_status *s, uint8_t **out, size_t *len)
{
    return serialize((const ProtobufCMessage *)s, "lro_status", out, len);
}

int lro_operation_parse(const uint8_t *data, size_t len, lro_operation **out)
{
    return parse(&google__longrunning__operation__descriptor, "lro_operation", data, len,
                 (ProtobufCMessage **)out);
}

int lro_page_parse(const uint8_t *data, size_t len, lro_page **out)
{
    return parse(&google__longrunning__list_operations_response__descriptor, "lro_page", data, len,
                 (ProtobufCMessage **)out);
}

int lro_status_parse(const uint8_t *data, size_t len, lro_status **out)
{
    return parse(&google__rpc__status__descriptor, "lro_status", data, len,
                 (ProtobufCMessage **)out);
}

void lro_operation_destroy(lro_operation *op)
{
    lro_json_free_message((ProtobufCMessage *)op);
}

void lro_page_destroy(lro_page *p)
{
    lro_json_free_message((ProtobufCMessage *)p);
}

void lro_status_destroy(lro_status *s)
{
    lro_json_free_message((ProtobufCMessage *)s);
}
