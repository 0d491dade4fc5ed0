/* libFuzzer: the RPC status a failed call ends with. Input: 1 byte gRPC code,
 * 1 byte message length, the message, the rest is the
 * grpc-status-details-bin trailer value; built by lro_decode_status exactly
 * as build_rpc_status does, then every detail (RetryInfo included) read. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    int code = data[0];
    size_t ml = data[1];
    if (ml > size - 2) {
        ml = size - 2;
    }
    const char *msg = (const char *)data + 2;
    const uint8_t *det = data + 2 + ml;
    size_t dl = size - 2 - ml;
    lro_arena a;
    lro_arena_init(&a, NULL, 0);
    Google__Rpc__Status *s = NULL;
    int rc = lro_decode_status(&a, code, msg, ml, det, dl, &s);
    if (rc == LRO_OK || rc == LRO_ERR_DECODE) {
        if (s == NULL || s->code != code || strlen(s->message) > ml) {
            __builtin_trap();
        }
        fuzz_status((const lro_status *)s);
    }
    if (rc == LRO_ERR_DECODE) {
        fuzz_diag(&google__rpc__status__descriptor, det, dl);
    }
    lro_arena_free(&a);
    return 0;
}
