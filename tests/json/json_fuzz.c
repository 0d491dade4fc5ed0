/* Fuzz target: arbitrary bytes decoded as an Operation, a list page, a
 * status or an Any, printed compact and pretty. Must never crash, leak or
 * trip a sanitizer. Build with clang -fsanitize=fuzzer,address,undefined;
 * without -DLRO_LIBFUZZER it is a replay driver for files named on the
 * command line (json_fuzz_replay, run by bazel test). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "json_int.h"
#include "lro/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ProtobufCMessageDescriptor *const types[] = {
        &google__longrunning__operation__descriptor,
        &google__longrunning__list_operations_response__descriptor,
        &google__rpc__status__descriptor,
        &google__protobuf__any__descriptor,
    };
    if (size < 1) {
        return 0;
    }
    const ProtobufCMessageDescriptor *d = types[data[0] % 4];
    unsigned flags = (data[0] & 4) ? LRO_JSON_PRETTY : 0;
    char *out = NULL;
    size_t len = 0;
    int rc = lro_json_from_bytes(d, data + 1, size - 1, flags, &out, &len);
    if (rc == LRO_OK) {
        if (strlen(out) != len) {
            abort();
        }
        lro_free(out);
    } else if (rc != LRO_ERR_DECODE && rc != LRO_ERR_NOMEM) {
        abort();
    }
    return 0;
}

#ifndef LRO_LIBFUZZER
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (f == NULL) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
    }
    printf("replayed %d input(s)\n", argc - 1);
    return 0;
}
#endif
