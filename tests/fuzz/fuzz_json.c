/* libFuzzer: the JSON writer over arbitrary decoded messages. NOT BUILT YET:
 * lib/src/json.c lands from another branch; tests/fuzz/run.sh builds this
 * target only when lib/src/json.c exists (and BUILD.bazel tags it manual).
 * Input: 1 selector byte, then the bytes to decode. Invariant: the output is
 * NUL-terminated, *len == strlen, and it is valid UTF-8 (fuzz-checked). */
#include "fuzz_common.h"
#include "google/protobuf/any.pb-c.h"
#include "lro/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t utf8_ok(const unsigned char *s, size_t n)
{
    /* Same rules the client applies to names (minus the control bytes). */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t l = c < 0x80 ? 1 : (c >= 0xc2 && c <= 0xdf) ? 2 : (c >= 0xe0 && c <= 0xef) ? 3
                                                              : (c >= 0xf0 && c <= 0xf4) ? 4
                                                                                         : 0;
        if (l == 0 || i + l > n) {
            return 0;
        }
        for (size_t k = 1; k < l; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return 0;
            }
        }
        i += l;
    }
    return 1;
}

static void check_out(int rc, char *out, size_t len)
{
    if (rc == LRO_OK) {
        if (out == NULL || strlen(out) != len || !utf8_ok((unsigned char *)out, len)) {
            __builtin_trap();
        }
        lro_free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned sel = data[0];
    unsigned flags = (sel & 0x80) ? LRO_JSON_PRETTY : 0;
    data++;
    size--;
    lro_arena a;
    lro_arena_init(&a, NULL, 0);
    char *out = NULL;
    size_t len = 0;
    switch (sel & 3) {
    case 0: {
        ProtobufCMessage *m = lro_decode_response(&a, LRO_K_GET, data, size);
        if (m != NULL) {
            check_out(lro_operation_to_json((const lro_operation *)m, flags, &out, &len), out,
                      len);
        }
        break;
    }
    case 1: {
        ProtobufCMessage *m = lro_decode_response(&a, LRO_K_LIST, data, size);
        if (m != NULL) {
            check_out(lro_page_to_json((const lro_page *)m, flags, &out, &len), out, len);
        }
        break;
    }
    case 2: {
        Google__Rpc__Status *s = NULL;
        if (lro_decode_status(&a, 2, "m", 1, data, size, &s) == LRO_OK) {
            check_out(lro_status_to_json((const lro_status *)s, flags, &out, &len), out, len);
        }
        break;
    }
    default: {
        /* Any well-known or error-detail type, reflection-driven. */
        static const ProtobufCMessageDescriptor *const d[] = {
            &google__protobuf__struct__descriptor, &google__protobuf__value__descriptor,
            &google__protobuf__any__descriptor, &google__rpc__error_info__descriptor,
            &google__rpc__retry_info__descriptor, &google__rpc__bad_request__descriptor,
            &google__protobuf__string_value__descriptor,
            &google__protobuf__bytes_value__descriptor};
        const ProtobufCMessageDescriptor *desc = d[(sel >> 2) % (sizeof d / sizeof d[0])];
        ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, data);
        if (m != NULL) {
            check_out(lro_message_to_json(m, flags, &out, &len), out, len);
            protobuf_c_message_free_unpacked(m, NULL);
        }
        break;
    }
    }
    lro_arena_free(&a);
    return 0;
}
