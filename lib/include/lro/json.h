/*
 * lro/json.h - proto3 JSON for operations, list pages and statuses.
 *
 * The output follows the proto3 JSON mapping the way official clients print
 * it: lowerCamelCase names, default values omitted, int64/uint64 as strings,
 * bytes as base64, enums by name, google.protobuf.Any as an object with
 * "@type" and the fields of the packed message when lro-c knows its type (the
 * well-known types Struct/Value/ListValue, the wrappers, Duration, Timestamp,
 * Empty, FieldMask-free set, and google.rpc.Status, ErrorInfo, RetryInfo and
 * the other google.rpc error details, google.longrunning messages).
 * An Any of an unknown type prints as {"@type": URL, "value": "<base64>"}
 * (the documented fallback: the raw bytes, lossless). Output is UTF-8, no
 * trailing newline.
 *
 * Thread-safe; the result is a new NUL-terminated string freed with lro_free().
 */
#ifndef LRO_JSON_H
#define LRO_JSON_H

#include "lro/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Formatting flags. */
#define LRO_JSON_PRETTY 1u /* two-space indentation and newlines */

LRO_API int lro_operation_to_json(const lro_operation *op, unsigned flags, char **out,
                                  size_t *len);
LRO_API int lro_page_to_json(const lro_page *p, unsigned flags, char **out, size_t *len);
LRO_API int lro_status_to_json(const lro_status *s, unsigned flags, char **out, size_t *len);
/* Any protobuf-c message (the JSON writer is reflection-driven). */
LRO_API int lro_message_to_json(const struct ProtobufCMessage *m, unsigned flags, char **out,
                                size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* LRO_JSON_H */
