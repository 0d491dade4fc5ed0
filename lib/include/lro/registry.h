/*
 * lro/registry.h - a type registry loaded at run time, so that the JSON of
 * operations and statuses expands any message type, not only the ones
 * compiled into lro-c.
 *
 * A service's metadata and response types (Speech's LongRunningRecognize*,
 * Dialogflow's ExportAgentResponse, ...) reach lro-c as google.protobuf.Any.
 * Without their definitions the JSON writer can only print the lossless
 * fallback {"@type": URL, "value": "<base64>"}, which official JSON parsers
 * reject. A registry holds those definitions: load it with binary
 * FileDescriptorSets, as protoc writes them (the same "protoset" files
 * grpcurl reads):
 *
 *     protoc --include_imports --descriptor_set_out=speech.protoset \
 *         google/cloud/speech/v1/cloud_speech.proto
 *
 * and every message type of the set is decoded and printed as proto3 JSON
 * (lro/json.h), field names from the set's json_name (a custom json_name
 * option included), wherever an Any of that type appears.
 *
 * Rules:
 *   - Types compiled into lro-c (see lro/json.h) are always used for their
 *     own names; the registry adds the others.
 *   - A file whose name (e.g. "google/protobuf/any.proto") is already in the
 *     registry is skipped, so sets built with --include_imports that share
 *     imports load one after the other. A type defined twice under
 *     different file names is an error.
 *   - Type references must be fully qualified (".pkg.Msg"), which protoc
 *     always writes; every referenced type must be in the registry after the
 *     load (build sets with --include_imports).
 *   - A load is all or nothing: after an error the registry is unchanged.
 *   - Not supported: proto2 groups (such fields are left out, so a message
 *     carrying one does not decode and prints as the fallback), extensions
 *     (ignored), editions syntax (refused). protobuf-c keeps strings as C
 *     strings: a string with an embedded U+0000 prints only up to it.
 *   - Hostile sets are refused with an error, never a crash: at most
 *     LRO_REGISTRY_MAX_SET_BYTES per load, messages declared at most 32
 *     deep, at most 65535 fields per message and per enum and 1,000,000
 *     fields and enum values per load, names at most 1024 bytes, field
 *     numbers 1..536870911 and unique, names unique. A load costs about 8
 *     times the set's size in memory (Dialogflow v2 entire: 209 KB, 1.6 MB,
 *     under 10 ms); refusing the worst 32 MiB set takes ~3 s and ~400 MB.
 *
 * Descriptors: lro_registry_find() hands out protobuf-c message descriptors
 * built from the set. protobuf_c_message_unpack(), _get_packed_size(),
 * _pack() and _free_unpacked() work with them; their message_init is NULL
 * (protobuf-c's unpack then initialises generically), so do not call
 * protobuf_c_message_init() on them. Their C layout is synthetic: reach
 * fields through the field descriptors' offsets, never through a generated
 * struct.
 *
 * Errors: functions return LRO_OK or a negative LRO_ERR_* (lro/common.h). The
 * loaders also take `char **error`: when not NULL, on failure it receives a
 * message saying which input, which file, which type and field, and what is
 * wrong (e.g. "speech.protoset: google/cloud/speech/v1/cloud_speech.proto:
 * message google.cloud.speech.v1.RecognitionConfig: field 'adaptation':
 * message type '.google.cloud.speech.v1.SpeechAdaptation' is not defined
 * (build the set with protoc --include_imports)"), to free with lro_free()
 * (NULL when even that allocation failed); on success *error is set to NULL.
 * The same text (its first 255 bytes) is in lro_last_error() right after a
 * failed load, which clears it on entry like the other recording functions.
 *
 * Thread safety: every function is thread-safe. Loads are serialised
 * against each other and may run while other threads print with the same
 * registry; a type becomes visible when its whole load has succeeded.
 */
#ifndef LRO_REGISTRY_H
#define LRO_REGISTRY_H

#include "lro/json.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ProtobufCMessageDescriptor;

typedef struct lro_registry lro_registry;

/* Largest descriptor set one load accepts (32 MiB). */
#define LRO_REGISTRY_MAX_SET_BYTES (32u * 1024u * 1024u)

/* Creates an empty registry in *out. LRO_OK, LRO_ERR_INVALID_ARG (out is
 * NULL), LRO_ERR_NOMEM (*out untouched).
 * Ownership: the caller owns one reference; release it with
 * lro_registry_destroy(). */
LRO_API int lro_registry_create(lro_registry **out);

/* Releases the caller's reference. The memory (and every descriptor
 * lro_registry_find() returned) lives on while lro_json_set_registry() still
 * holds the registry or a conversion that uses it through the process-wide
 * setting is running, and goes with the last of them. NULL is fine. After
 * this call the caller must not use r again. */
LRO_API void lro_registry_destroy(lro_registry *r);

/* Adds the message and enum types of a binary FileDescriptorSet (`data`,
 * `len` bytes; copied, so the caller keeps it). LRO_OK, or with nothing
 * added:
 *   LRO_ERR_INVALID_ARG  r is NULL, data is NULL with len > 0, or the set is
 *                        well-formed but not acceptable (a type that is not
 *                        defined, a duplicate name or number, a bad name, a
 *                        limit passed, an invalid default value);
 *   LRO_ERR_DECODE       the bytes are not a FileDescriptorSet;
 *   LRO_ERR_UNSUPPORTED  a file uses editions syntax;
 *   LRO_ERR_NOMEM        an allocation failed.
 * `source` names the input in error messages (NULL: "descriptor set"). */
LRO_API int lro_registry_add_set(lro_registry *r, const void *data, size_t len, const char *source,
                                 char **error);

/* lro_registry_add_set() of a file's contents; its path names it in error
 * messages. Adds LRO_ERR_IO (the file cannot be read; the error says why). */
LRO_API int lro_registry_add_file(lro_registry *r, const char *path, char **error);

/* Number of message types the registry holds (map entries included). */
LRO_API size_t lro_registry_message_count(const lro_registry *r);

/* The registry's descriptor of a message type, by full name
 * ("google.cloud.speech.v1.LongRunningRecognizeResponse") or type URL
 * (anything up to the last '/' is ignored); NULL when r or name is NULL or
 * the registry has no such type (compiled-in types are not looked at).
 * Lifetime: as long as the registry (see lro_registry_destroy()). */
LRO_API const struct ProtobufCMessageDescriptor *lro_registry_find(const lro_registry *r,
                                                                   const char *name);

/* Decodes `len` bytes of `data` as the message type `type` (full name or
 * type URL; the registry's types first, then lro-c's compiled ones) and
 * prints it as JSON (lro/json.h), expanding Any through r. *out as for
 * lro_message_to_json(). LRO_ERR_INVALID_ARG (a NULL argument other than r,
 * or data NULL with len > 0), LRO_ERR_TYPE_MISMATCH (no such type),
 * LRO_ERR_DECODE (the bytes do not decode, nest more than 100 deep, or hold
 * a value with no JSON form), LRO_ERR_NOMEM. For bindings that hold
 * serialized messages. r may be NULL (compiled-in types only). */
LRO_API int lro_registry_bytes_to_json(const lro_registry *r, const char *type, const void *data,
                                       size_t len, unsigned flags, char **out, size_t *out_len);

/* ---- JSON with a registry -------------------------------------------------
 * Like lro_operation_to_json() & co. (lro/json.h), with Any payloads looked
 * up in r too (r may be NULL: compiled-in types only, not the process-wide
 * registry). The caller keeps r alive during the call. */
LRO_API int lro_operation_to_json_reg(const lro_operation *op, const lro_registry *r,
                                      unsigned flags, char **out, size_t *len);
LRO_API int lro_page_to_json_reg(const lro_page *p, const lro_registry *r, unsigned flags,
                                 char **out, size_t *len);
LRO_API int lro_status_to_json_reg(const lro_status *s, const lro_registry *r, unsigned flags,
                                   char **out, size_t *len);
LRO_API int lro_message_to_json_reg(const struct ProtobufCMessage *m, const lro_registry *r,
                                    unsigned flags, char **out, size_t *len);

/* Makes r the process-wide registry that lro_operation_to_json(),
 * lro_page_to_json(), lro_status_to_json() and lro_message_to_json() use
 * (NULL: none, the default). Takes a reference of its own, so the caller may
 * lro_registry_destroy() r right after; the previous registry's reference is
 * released. A conversion running concurrently keeps the registry it started
 * with. Always LRO_OK. Good for programs (lroctl) and bindings that load
 * their types once; libraries should prefer the _reg functions. */
LRO_API int lro_json_set_registry(lro_registry *r);

#ifdef __cplusplus
}
#endif
#endif /* LRO_REGISTRY_H */
