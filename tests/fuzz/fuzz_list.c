/* libFuzzer: bytes of a ListOperations response, decoded as the completion
 * path does, then every page view walked. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lro_arena a;
    lro_arena_init(&a, NULL, 0);
    ProtobufCMessage *m = lro_decode_response(&a, LRO_K_LIST, data, size);
    if (m != NULL) {
        fuzz_page((const lro_page *)m);
    } else if (!a.failed) {
        fuzz_diag(&google__longrunning__list_operations_response__descriptor, data, size);
    }
    lro_arena_free(&a);
    /* Cancel/Delete answer google.protobuf.Empty: unknown fields must be
     * skipped safely too. */
    lro_arena_init(&a, NULL, 0);
    (void)lro_decode_response(&a, LRO_K_DELETE, data, size);
    lro_arena_free(&a);
    return 0;
}
