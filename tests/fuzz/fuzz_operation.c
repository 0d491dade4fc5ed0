/* libFuzzer: bytes of a GetOperation/WaitOperation response, decoded exactly
 * as the completion path does (lro_decode_response into an arena), then every
 * view walked. The same bytes through the bindings' path too: parsed into an
 * owned view (lro_operation_parse), serialized, parsed again: the second
 * serialization must equal the first. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char inline_buf[512];
    lro_arena a;
    lro_arena_init(&a, inline_buf, sizeof inline_buf);
    ProtobufCMessage *m = lro_decode_response(&a, LRO_K_GET, data, size);
    if (m != NULL) {
        fuzz_operation((const lro_operation *)m);
    } else if (!a.failed) {
        fuzz_diag(&google__longrunning__operation__descriptor, data, size);
    }
    lro_arena_free(&a);

    lro_operation *op = NULL;
    if (lro_operation_parse(data, size, &op) == LRO_OK) {
        fuzz_operation(op);
        uint8_t *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        lro_operation *again = NULL;
        if (lro_operation_serialize(op, &b1, &n1) == LRO_OK &&
            lro_operation_parse(b1, n1, &again) == LRO_OK &&
            lro_operation_serialize(again, &b2, &n2) == LRO_OK &&
            (n1 != n2 || memcmp(b1, b2, n1) != 0)) {
            abort(); /* serialize(parse(serialize(x))) must be stable */
        }
        lro_free(b1);
        lro_free(b2);
        lro_operation_destroy(again);
        lro_operation_destroy(op);
    }
    return 0;
}
