/*
 * json_int.h - private pieces of the proto3 JSON writer (json.c, json_wkt.c).
 * Nothing here is part of the ABI.
 */
#ifndef LRO_JSON_INT_H
#define LRO_JSON_INT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "lro_int.h"

/* Deepest message nesting printed or decoded (protobuf's own default
 * recursion limit). Counts every message level, map entries included when
 * bytes are checked before decoding. */
#define LRO_JSON_MAX_DEPTH 100

/* Internal error: nesting too deep. Reported as LRO_ERR_DECODE, but unlike a
 * plain LRO_ERR_DECODE it is never turned into the Any fallback. */
#define LRO_JSON_ERR_DEPTH (-1000)

struct lro_registry;

typedef struct lro_jw {
    const struct lro_registry *reg; /* Any types beyond the compiled ones; may be NULL */
    char *buf;
    size_t len, cap;
    int err;    /* first error (LRO_ERR_NOMEM, LRO_ERR_DECODE, ..._DEPTH), else 0 */
    int pretty; /* LRO_JSON_PRETTY */
    int indent; /* open JSON containers, for pretty printing */
    int depth;  /* open messages */
} lro_jw;

/* ---- json.c: output primitives ---- */
LRO_HIDDEN void lro_jw_put(lro_jw *w, const char *s, size_t n);
LRO_HIDDEN void lro_jw_puts(lro_jw *w, const char *s);
LRO_HIDDEN void lro_jw_fail(lro_jw *w, int err); /* keeps the first error */
/* A JSON string with escaping; invalid UTF-8 becomes U+FFFD. */
LRO_HIDDEN void lro_jw_string(lro_jw *w, const char *s, size_t n);
LRO_HIDDEN void lro_jw_base64(lro_jw *w, const uint8_t *p, size_t n);
/* Shortest text that reads back as the same double (is_float: float). */
LRO_HIDDEN void lro_jw_number(lro_jw *w, double v, int is_float);
/* Containers: `first` is the caller's "no member written yet" flag. */
LRO_HIDDEN void lro_jw_open(lro_jw *w, char c, int *first);
LRO_HIDDEN void lro_jw_sep(lro_jw *w, int *first);      /* before an element */
LRO_HIDDEN void lro_jw_key(lro_jw *w, int *first, const char *k); /* escaped */
LRO_HIDDEN void lro_jw_close(lro_jw *w, char c, int first);

/* ---- json.c: reflection ---- */
/* Any message, special forms included; m == NULL prints the default instance
 * of `d`. Bounded by LRO_JSON_MAX_DEPTH. */
LRO_HIDDEN void lro_jw_message(lro_jw *w, const ProtobufCMessageDescriptor *d,
                               const ProtobufCMessage *m);
/* The fields of m (d's type; NULL: none) inside an already open object. */
LRO_HIDDEN void lro_jw_fields(lro_jw *w, const ProtobufCMessageDescriptor *d,
                              const ProtobufCMessage *m, int *first);
/* One singular value of field f stored at p (p points into the message). */
LRO_HIDDEN void lro_jw_value(lro_jw *w, const ProtobufCFieldDescriptor *f, const void *p);
/* Map field f of m as a JSON object (sorted by key, last duplicate wins). */
LRO_HIDDEN void lro_jw_map(lro_jw *w, const ProtobufCFieldDescriptor *f,
                           const ProtobufCMessage *m);

/* ---- json_wkt.c: well-known types, Any and its type registry ---- */
/* google.protobuf.Any m (w->depth already counts it): {"@type": url, fields}
 * or {"@type": url, "value": <special form>}; {} when empty; the fallback
 * {"@type": url, "value": "<base64>"} for an unknown type, bytes that do not
 * decode, or a packed message with no JSON form (e.g. a NaN number_value). */
LRO_HIDDEN void lro_jw_any(lro_jw *w, const ProtobufCMessage *m);

/* Prints m in its special form and returns 1 when d is a well-known type
 * with one (Duration, Timestamp, wrappers, Struct, Value, ListValue, Any);
 * returns 0 (nothing written) otherwise. */
LRO_HIDDEN int lro_jw_wkt(lro_jw *w, const ProtobufCMessageDescriptor *d,
                          const ProtobufCMessage *m);
/* 1 when d is a well-known type with a special form (lro_jw_wkt prints it). */
LRO_HIDDEN int lro_json_special(const ProtobufCMessageDescriptor *d);
/* Descriptor for the message named after the last '/' of type_url (the whole
 * string when there is no '/'), among every message of gen/; NULL if unknown. */
LRO_HIDDEN const ProtobufCMessageDescriptor *lro_json_find_type(const char *type_url);
/* 0 when `data` nests messages of type d at most max_depth levels deep
 * (d itself is level 1); -1 when deeper. Malformed bytes return 0: the
 * decoder rejects them. Bounds protobuf-c's recursive unpack, which has no
 * limit of its own. */
LRO_HIDDEN int lro_pb_check_depth(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len, int max_depth);
/* Decodes with lro's allocator; *nomem tells an allocation failure from bad
 * bytes when NULL is returned. Free with lro_json_free_message(). */
LRO_HIDDEN ProtobufCMessage *lro_json_unpack(const ProtobufCMessageDescriptor *d,
                                             const uint8_t *data, size_t len, int *nomem);
LRO_HIDDEN void lro_json_free_message(ProtobufCMessage *m);

/* Fuzz-friendly entry point: decodes `data` as a message of type d (depth
 * checked first) and prints it. Never crashes on any input. LRO_OK,
 * LRO_ERR_INVALID_ARG, LRO_ERR_DECODE (bytes do not decode / too deep /
 * unprintable value), LRO_ERR_NOMEM. */
LRO_HIDDEN int lro_json_from_bytes(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                   size_t len, unsigned flags, char **out, size_t *out_len);
/* The same, with Any types looked up in r too (NULL: compiled ones only). */
LRO_HIDDEN int lro_json_from_bytes_reg(const ProtobufCMessageDescriptor *d,
                                       const struct lro_registry *r, const void *data,
                                       size_t len, unsigned flags, char **out, size_t *out_len);

/* ---- registry.c: types loaded at run time (lro/registry.h) ---- */
/* The json_name the descriptor set gave field f of d (a registry type), or
 * NULL for compiled types (then lowerCamel of the name). */
LRO_HIDDEN const char *lro_registry_json_name(const ProtobufCMessageDescriptor *d,
                                              const ProtobufCFieldDescriptor *f);
/* protobuf_c_message_init() that also works for registry descriptors
 * (whose message_init is NULL). */
LRO_HIDDEN void lro_registry_init_message(const ProtobufCMessageDescriptor *d,
                                          ProtobufCMessage *m);
LRO_HIDDEN void lro_registry_ref_(struct lro_registry *r);
LRO_HIDDEN void lro_registry_unref_(struct lro_registry *r); /* NULL is fine */

/* The size and alignment of a field's value in a protobuf-c message struct
 * (of one element, for a repeated field). Shared by the JSON writer and the
 * registry, which lays out the structs of types it builds at run time. */
static inline size_t lro_pb_type_size(ProtobufCType t, size_t *align)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM: /* protoc-c forces enums to int size */
        *align = _Alignof(int32_t);
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *align = _Alignof(int64_t);
        return 8;
    case PROTOBUF_C_TYPE_DOUBLE:
        *align = _Alignof(double);
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        *align = _Alignof(protobuf_c_boolean);
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        *align = _Alignof(void *);
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        *align = _Alignof(ProtobufCBinaryData);
        return sizeof(ProtobufCBinaryData);
    }
    *align = 1;
    return 0;
}

#endif /* LRO_JSON_INT_H */
