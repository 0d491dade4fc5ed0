/*
 * pagetoken.c - ListOperations page tokens.
 *
 * A token is opaque to clients but checkable by us: base64url (no padding)
 * of 21 bytes
 *     version (1) | resume sequence number (8, LE) | hash(parent, filter) (8)
 *     | check (4)
 * The sequence number (not an index) makes paging stable while operations
 * are added or deleted between pages. The hash binds the token to the
 * request it continues: AIP-158 wants a different parent or filter with an
 * old token rejected. The check catches edited or truncated tokens, so
 * clients that fabricate tokens get INVALID_ARGUMENT rather than a random
 * page. It is not a MAC: this is a test server.
 */
#include <string.h>

#include "server_int.h"

#define TOKEN_VERSION 1
#define TOKEN_BYTES 21
#define CHECK_KEY 0x6c726f2d632d7067ull /* "lro-c-pg" */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static uint64_t bind_hash(const char *parent, const char *filter)
{
    uint64_t h = srv_hash(parent, strlen(parent) + 1, SRV_FNV_SEED);
    return srv_hash(filter, strlen(filter), h);
}

static uint32_t check_of(const uint8_t *b)
{
    return (uint32_t)srv_hash(b, TOKEN_BYTES - 4, SRV_FNV_SEED ^ CHECK_KEY);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

char *pagetoken_make(uint64_t seq, const char *parent, const char *filter)
{
    uint8_t b[TOKEN_BYTES];
    b[0] = TOKEN_VERSION;
    put_le(b + 1, seq, 8);
    put_le(b + 9, bind_hash(parent, filter), 8);
    put_le(b + 17, check_of(b), 4);
    char *out = lro_malloc(TOKEN_BYTES / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < TOKEN_BYTES; i += 3) { /* 21 = 7 * 3: no tail */
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_val(char c)
{
    const char *p = c != '\0' ? strchr(b64, c) : NULL;
    return p != NULL ? (int)(p - b64) : -1;
}

int pagetoken_parse(const char *tok, const char *parent, const char *filter, uint64_t *seq,
                    int *mismatch)
{
    *mismatch = 0;
    if (tok == NULL || strlen(tok) != TOKEN_BYTES / 3 * 4) {
        return LRO_ERR_INVALID_ARG;
    }
    uint8_t b[TOKEN_BYTES];
    for (size_t i = 0, o = 0; i < TOKEN_BYTES / 3 * 4; i += 4) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            int d = b64_val(tok[i + (size_t)k]);
            if (d < 0) {
                return LRO_ERR_INVALID_ARG;
            }
            v = v << 6 | (uint32_t)d;
        }
        b[o++] = (uint8_t)(v >> 16);
        b[o++] = (uint8_t)(v >> 8);
        b[o++] = (uint8_t)v;
    }
    if (b[0] != TOKEN_VERSION || get_le(b + 17, 4) != check_of(b)) {
        return LRO_ERR_INVALID_ARG;
    }
    if (get_le(b + 9, 8) != bind_hash(parent, filter)) {
        *mismatch = 1;
        return LRO_ERR_INVALID_ARG;
    }
    *seq = get_le(b + 1, 8);
    return LRO_OK;
}
