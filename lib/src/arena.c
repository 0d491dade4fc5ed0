/* Bump arena for decoded responses. protobuf-c's unpack makes one allocation
 * per message, string and repeated field; pointing it at an arena sized from
 * the wire length turns a decode into (usually) one allocation, and freeing
 * a result into one free per block. */
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "lro_int.h"

struct lro_arena_block {
    lro_arena_block *next;
    size_t size;
    /* payload follows, max-aligned */
};

#define ALIGN 16u
#define HDR ((sizeof(lro_arena_block) + ALIGN - 1) & ~(size_t)(ALIGN - 1))
#define MIN_BLOCK 1024u

void lro_arena_init(lro_arena *a, void *inline_buf, size_t inline_len)
{
    a->head = NULL;
    a->failed = 0;
    if (inline_buf != NULL) {
        /* Align the inline buffer's start. */
        uintptr_t p = (uintptr_t)inline_buf;
        uintptr_t q = (p + ALIGN - 1) & ~(uintptr_t)(ALIGN - 1);
        size_t skip = (size_t)(q - p);
        a->cur = (char *)q;
        a->left = inline_len > skip ? (uint32_t)(inline_len - skip) : 0;
    } else {
        a->cur = NULL;
        a->left = 0;
    }
}

static int grow(lro_arena *a, size_t n)
{
    size_t want = n + HDR;
    if (want < n || want - HDR > UINT32_MAX) { /* no block is that big (messages are < 2 GiB) */
        a->failed = 1;
        return LRO_ERR_NOMEM;
    }
    if (want < MIN_BLOCK) {
        want = MIN_BLOCK;
    }
    lro_arena_block *b = lro_malloc(want);
    if (b == NULL) {
        a->failed = 1;
        return LRO_ERR_NOMEM;
    }
    b->next = a->head;
    b->size = want;
    a->head = b;
    a->cur = (char *)b + HDR;
    a->left = (uint32_t)(want - HDR);
    return LRO_OK;
}

int lro_arena_reserve(lro_arena *a, size_t n)
{
    if (a->left >= n) {
        return LRO_OK;
    }
    return grow(a, n);
}

void *lro_arena_alloc(lro_arena *a, size_t n)
{
    size_t rounded = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (rounded < n) {
        return NULL;
    }
    if (a->left < rounded && grow(a, rounded) != LRO_OK) {
        return NULL;
    }
    void *p = a->cur;
    a->cur += rounded;
    a->left -= (uint32_t)rounded;
    return p;
}

char *lro_arena_strndup(lro_arena *a, const char *s, size_t n)
{
    char *p = lro_arena_alloc(a, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void lro_arena_free(lro_arena *a)
{
    lro_arena_block *b = a->head;
    while (b != NULL) {
        lro_arena_block *next = b->next;
        lro_free(b);
        b = next;
    }
    a->head = NULL;
    a->cur = NULL;
    a->left = 0;
}

static void *arena_pb_alloc(void *ctx, size_t n)
{
    return lro_arena_alloc(ctx, n);
}

static void arena_pb_free(void *ctx, void *p)
{
    /* Freed all at once with the arena. */
    (void)ctx;
    (void)p;
}

void lro_arena_pb_allocator(lro_arena *a, ProtobufCAllocator *out)
{
    out->alloc = arena_pb_alloc;
    out->free = arena_pb_free;
    out->allocator_data = a;
}
