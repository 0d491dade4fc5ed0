/* libFuzzer: bytes of a GetOperation/WaitOperation response, decoded exactly
 * as the completion path does (lro_decode_response into an arena), then every
 * view walked. */
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
    return 0;
}
