/* libFuzzer: the embedded server's page-token parser. Input: token, NUL,
 * parent, NUL, filter. Invariant: a token that parses round-trips through
 * pagetoken_make to the same string (no two tokens for one position). */
#include <stdlib.h>
#include <string.h>

#include "server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 3);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    const char *tok = buf;
    const char *parent = tok + strlen(tok) + 1;
    if (parent > buf + size) {
        parent = buf + size + 1;
    }
    const char *filter = parent + strlen(parent) + 1;
    if (filter > buf + size + 1) {
        filter = buf + size + 2;
    }
    uint64_t seq = 0;
    int mismatch = 0;
    if (pagetoken_parse(tok, parent, filter, &seq, &mismatch) == LRO_OK) {
        char *again = pagetoken_make(seq, parent, filter);
        if (again == NULL || strcmp(again, tok) != 0) {
            __builtin_trap();
        }
        lro_free(again);
    }
    /* And every token we make parses back. */
    char *t = pagetoken_make(size * 7919u, parent, filter);
    if (t != NULL) {
        if (pagetoken_parse(t, parent, filter, &seq, &mismatch) != LRO_OK ||
            seq != size * 7919u) {
            __builtin_trap();
        }
        lro_free(t);
    }
    free(buf);
    return 0;
}
