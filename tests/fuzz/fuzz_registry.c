/* libFuzzer: the type registry's descriptor-set loader (lro/registry.h).
 * Input: the bytes of a FileDescriptorSet (seeds: sets protoc made of
 * proto/ and tests/registry/testdata). Never crashes, and when a set loads,
 * every message type it declares must have a descriptor protobuf-c can use:
 *   - fields strictly sorted by number, each found again by number and by
 *     name through protobuf-c's own lookups (ranges and name index sound);
 *   - every field, has_ flag, count and oneof case inside sizeof_message,
 *     and naturally aligned;
 *   - decoding the input itself and the empty message with it, printing the
 *     result as JSON, re-encoding and decoding again all work without a
 *     memory error (ASan/UBSan) and the output is NUL-terminated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "json_int.h"
#include "lro/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t type_bytes(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 8;
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static void check_descriptor(const ProtobufCMessageDescriptor *d)
{
    if (d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC ||
        d->sizeof_message < sizeof(ProtobufCMessage)) {
        __builtin_trap();
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t sz = f->label == PROTOBUF_C_LABEL_REPEATED ? sizeof(void *) : type_bytes(f->type);
        if ((i > 0 && d->fields[i - 1].id >= f->id) ||
            protobuf_c_message_descriptor_get_field(d, f->id) != f ||
            protobuf_c_message_descriptor_get_field_by_name(d, f->name) != f ||
            f->offset + sz > d->sizeof_message || f->offset % (sz > 8 ? 8 : sz) != 0 ||
            f->quantifier_offset + 4 > d->sizeof_message || f->quantifier_offset % 4 != 0) {
            __builtin_trap();
        }
        if ((f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_ENUM) &&
            f->descriptor == NULL) {
            __builtin_trap();
        }
        if (f->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumDescriptor *e = f->descriptor;
            for (unsigned k = 0; k < e->n_values; k++) {
                if (e->values[k].value != INT32_MAX &&
                    protobuf_c_enum_descriptor_get_value(e, e->values[k].value) != &e->values[k]) {
                    __builtin_trap();
                }
            }
        }
    }
}

static void exercise(const lro_registry *r, const char *name, const uint8_t *data, size_t size)
{
    const ProtobufCMessageDescriptor *d = lro_registry_find(r, name);
    if (d == NULL) {
        return; /* a file skipped as a duplicate of one loaded before */
    }
    check_descriptor(d);
    /* The empty message, the input itself, and fixed payloads of common
     * shapes (fields 1 and 2 as string/bytes, a nested entry, varints), so
     * that a mutated set meets real data without the fuzzer having to
     * invent a payload that matches it. */
    static const uint8_t p1[] = {0x0a, 0x01, 'x', 0x12, 0x03, 'a', 'b', 'c'};
    static const uint8_t p2[] = {0x0a, 0x08, 0x0a, 0x01, 'k', 0x12, 0x03, 0x08, 0x01, 0x00};
    static const uint8_t p3[] = {0x08, 0x07, 0x10, 0x01, 0x18, 0x80, 0x01, 0x2a, 0x00};
    const uint8_t *inputs[5] = {(const uint8_t *)"", data, p1, p2, p3};
    size_t lens[5] = {0, size, sizeof p1, sizeof p2, sizeof p3};
    for (int k = 0; k < 5; k++) {
        char *out = NULL;
        size_t len = 0;
        if (lro_registry_bytes_to_json(r, name, inputs[k], lens[k], k == 1 ? LRO_JSON_PRETTY : 0,
                                       &out, &len) == LRO_OK) {
            if (strlen(out) != len) {
                __builtin_trap();
            }
            lro_free(out);
        }
        if (lro_pb_check_depth(d, inputs[k], lens[k], LRO_JSON_MAX_DEPTH) != 0) {
            continue;
        }
        ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, lens[k], inputs[k]);
        if (m == NULL) {
            continue;
        }
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *buf = malloc(n + 1);
        if (protobuf_c_message_pack(m, buf) != n) {
            __builtin_trap();
        }
        ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, n, buf);
        if (again == NULL && d->n_fields > 0) {
            /* What we encoded must decode (required fields were present). */
            __builtin_trap();
        }
        if (again != NULL) {
            protobuf_c_message_free_unpacked(again, NULL);
        }
        free(buf);
        protobuf_c_message_free_unpacked(m, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lro_registry *r = NULL;
    if (lro_registry_create(&r) != LRO_OK) {
        return 0;
    }
    char *err = NULL;
    int rc = lro_registry_add_set(r, data, size, "fuzz", &err);
    if (rc != LRO_OK) {
        if (err == NULL || strncmp(err, "fuzz: ", 6) != 0) {
            __builtin_trap(); /* every failure says why */
        }
        lro_free(err);
        lro_registry_destroy(r);
        return 0;
    }
    /* The names of the top-level and nested messages, read with the
     * compiled descriptor.proto (the loader accepted the bytes). */
    Google__Protobuf__FileDescriptorSet *set =
        google__protobuf__file_descriptor_set__unpack(NULL, size, data);
    size_t budget = 64; /* types exercised per input */
    for (size_t i = 0; set != NULL && i < set->n_file && budget > 0; i++) {
        const Google__Protobuf__FileDescriptorProto *fp = set->file[i];
        for (size_t j = 0; j < fp->n_message_type && budget > 0; j++, budget--) {
            char name[2200];
            const Google__Protobuf__DescriptorProto *dp = fp->message_type[j];
            snprintf(name, sizeof name, "%s%s%s", fp->package ? fp->package : "",
                     fp->package && fp->package[0] ? "." : "", dp->name ? dp->name : "");
            exercise(r, name, data, size);
            for (size_t k = 0; k < dp->n_nested_type && budget > 0; k++, budget--) {
                char nested[4400];
                snprintf(nested, sizeof nested, "%s.%s", name,
                         dp->nested_type[k]->name ? dp->nested_type[k]->name : "");
                exercise(r, nested, data, size);
            }
        }
    }
    if (set != NULL) {
        google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    }
    /* A second load of the same bytes: every file is skipped. */
    size_t before = lro_registry_message_count(r);
    if (lro_registry_add_set(r, data, size, "fuzz", NULL) != LRO_OK ||
        lro_registry_message_count(r) != before) {
        __builtin_trap();
    }
    lro_registry_destroy(r);
    return 0;
}
