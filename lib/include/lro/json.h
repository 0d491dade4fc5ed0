/*
 * lro/json.h - proto3 JSON for operations, list pages and statuses.
 *
 * The output follows the proto3 JSON mapping the way protobuf's own printers
 * (python json_format, checked field by field in tests/json) print it:
 *   - lowerCamelCase names (protoc's json_name rule: drop '_', upper-case the
 *     next letter); fields in field-number order;
 *   - proto3 default values omitted (0, "", false, empty bytes/lists/maps);
 *     a member of a oneof is printed whenever it is the one set, even if zero;
 *     a submessage is printed whenever present, even if empty ({});
 *   - int64/uint64/sint64/fixed64/sfixed64 as strings, 32-bit ints as numbers;
 *     float/double as the shortest text that reads back to the same value
 *     (float: at least 6 significant digits, as protobuf prints it), NaN and
 *     infinities as "NaN", "Infinity", "-Infinity";
 *   - bytes as standard base64 with padding; enums by name (number if unknown);
 *   - map fields as objects with string keys, sorted by key; when the wire
 *     carried a key twice, the last entry wins (as when parsing);
 *   - strings escaped for JSON (\" \\ \n \r \t \b \f, other control characters
 *     as \u00XX); valid UTF-8 is copied as it is; each maximal invalid UTF-8
 *     sequence becomes U+FFFD, so the output is always valid UTF-8 JSON;
 *   - well-known types in their special forms: Duration "1.500s" (0, 3, 6 or
 *     9 fraction digits), Timestamp "2024-01-02T03:04:05.120Z" (RFC 3339, UTC,
 *     same fraction rule), wrappers (DoubleValue ... BytesValue) as their bare
 *     value, Struct as an object, ListValue as an array, Value as its JSON
 *     value (a Value with no kind set prints null), NullValue null, Empty {},
 *     FieldMask "a.displayName,b" (paths in lowerCamelCase, comma-joined);
 *   - google.protobuf.Any: {} when empty; {"@type": URL, <fields>} for a
 *     message lro-c knows; {"@type": URL, "value": <special form>} when the
 *     packed message is a well-known type with a special form (Duration,
 *     Timestamp, wrappers, Struct, Value, ListValue, Any). lro-c knows every
 *     message of google.longrunning, google.rpc.Status and all google.rpc
 *     error details (ErrorInfo, RetryInfo, DebugInfo, QuotaFailure,
 *     PreconditionFailure, BadRequest, RequestInfo, ResourceInfo, Help,
 *     LocalizedMessage) and the well-known types above; the type is the name
 *     after the last '/' of the URL (the whole URL when it has no '/').
 *     Any other type is expanded when a type registry holding it is in use
 *     (lro/registry.h: lro_json_set_registry() for these functions, or the
 *     _reg variants); its fields print under their json_name.
 *
 * THE FALLBACK (lossless): an Any whose type lro-c does not know, whose bytes
 * do not decode as that type, or whose message has no JSON form (a Duration
 * or Timestamp out of range, a NaN/infinite Value.number_value, or a
 * FieldMask path with no lowerCamelCase form, anywhere
 * inside it) prints as
 *     {"@type": "<the URL as sent>", "value": "<standard base64 of the raw bytes>"}
 * (only the innermost Any around the problem; the rest prints normally).
 * Official printers fail the whole conversion in these cases instead. Note
 * protobuf-c is more lenient than other decoders (it does not check UTF-8),
 * so some bytes that python would refuse decode and print here.
 *
 * Layout: compact (no whitespace outside strings) by default; LRO_JSON_PRETTY gives
 * python's json.dumps(indent=2): newlines, two spaces per level, ": " after
 * keys, {} and [] for empty containers. Output is UTF-8, NUL-terminated, no
 * trailing newline.
 *
 * Returns LRO_OK and sets *out (and *len, the length without the NUL, when
 * len is not NULL); the caller frees *out with lro_free(). On error *out and
 * *len are untouched and nothing is leaked:
 *   LRO_ERR_INVALID_ARG  a NULL message or out, or a message whose descriptor
 *                        does not match its field's type;
 *   LRO_ERR_DECODE       messages nested more than 100 deep (Any and Struct
 *                        nesting included; guards against hostile input), or
 *                        a value with no JSON form outside any Any (see the
 *                        fallback above);
 *   LRO_ERR_NOMEM        an allocation failed.
 *
 * Limits: protobuf-c keeps strings as C strings, so a string with an
 * embedded U+0000 prints only up to it. Maps are recognised by protoc's naming of map
 * entries (protobuf-c 1.4.1 has no map flag): a repeated field "foo_bar" of
 * the nested type "FooBarEntry" with fields key = 1 and value = 2.
 *
 * Thread-safe. The functions below use the process-wide registry set with
 * lro_json_set_registry() (none by default).
 */
#ifndef LRO_JSON_H
#define LRO_JSON_H

#include "lro/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Formatting flags (bitwise or). */
#define LRO_JSON_PRETTY 1u /* two-space indentation and newlines */

/* lro_operation_to_json(op) == lro_message_to_json((const ProtobufCMessage *)op);
 * likewise for pages (ListOperationsResponse) and statuses (google.rpc.Status). */
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
