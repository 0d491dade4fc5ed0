/*
 * lro_int.h - private declarations shared by lro-c's source files.
 * Nothing here is part of the ABI.
 */
#ifndef LRO_INT_H
#define LRO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lro/common.h"

#define LRO_HIDDEN __attribute__((visibility("hidden")))

/* ---- alloc.c: every allocation of ours goes through the user's hook ---- */
LRO_HIDDEN void *lro_malloc(size_t n);
LRO_HIDDEN void *lro_calloc(size_t n, size_t size);
LRO_HIDDEN void *lro_realloc(void *p, size_t n);
LRO_HIDDEN char *lro_strdup(const char *s);
LRO_HIDDEN char *lro_strndup(const char *s, size_t n);
LRO_HIDDEN void *lro_memdup(const void *p, size_t n);
/* The same hook in protobuf-c's shape, for unpack/free of messages that live
 * outside an arena. */
struct ProtobufCAllocator;
LRO_HIDDEN struct ProtobufCAllocator *lro_pb_allocator(void);

/* ---- names.c: names and headers, checked before anything is sent ---- */
/* LRO_OK or LRO_ERR_BAD_NAME: non-empty, <= LRO_MAX_NAME_LEN bytes, valid
 * UTF-8 (no overlongs, no surrogates), no C0/DEL control characters. */
LRO_HIDDEN int lro_check_name(const char *name);
LRO_HIDDEN int lro_check_name_n(const char *name, size_t len);
/* LRO_OK or LRO_ERR_BAD_HEADER: gRPC metadata rules (lowercase key of
 * [0-9a-z_.-], not reserved ("grpc-*", pseudo headers, "te", ...); printable
 * ASCII value without CR/LF unless the key ends in "-bin"). */
LRO_HIDDEN int lro_check_header(const char *key, const char *value);
/* Percent-escapes `in` for x-goog-request-params: keeps [A-Za-z0-9-_.~/],
 * escapes every other byte as %XX. Returns the length written; `out` must
 * have room for 3 * len + 1 bytes. NUL-terminates. */
LRO_HIDDEN size_t lro_url_escape(const char *in, size_t len, char *out);

/* ---- wirediag.c: why bytes do not decode ---- */
/* Writes into out (always NUL-terminated) the first structural problem of
 * `data` read as `desc`: "truncated length-delimited field 1 (name) of
 * google.longrunning.Operation: 100 bytes announced, 3 left", "invalid wire
 * type 7 on field 1 ...", "wire type 0 where field 5 (response) ... needs
 * 2", nested messages included; a generic "N bytes do not decode as T" when
 * the wire format itself is sound. For error messages after a failed unpack. */
struct ProtobufCMessageDescriptor;
LRO_HIDDEN void lro_wire_diagnose(const struct ProtobufCMessageDescriptor *desc,
                                  const uint8_t *data, size_t len, char *out, size_t cap);

/* ---- arena.c: bump allocation for decoded responses ---- */
/* A chain of blocks; frees everything at once. The first block may be
 * supplied inline by the owner. Used as a ProtobufCAllocator so that
 * decoding a response costs one allocation instead of one per field. */
typedef struct lro_arena_block lro_arena_block;
typedef struct lro_arena {
    lro_arena_block *head; /* malloc'd blocks, newest first */
    char *cur;
    size_t left;
    int failed; /* an allocation failed (out of memory) */
} lro_arena;
LRO_HIDDEN void lro_arena_init(lro_arena *a, void *inline_buf, size_t inline_len);
LRO_HIDDEN void *lro_arena_alloc(lro_arena *a, size_t n);
/* Makes sure at least n contiguous bytes are available (one block). */
LRO_HIDDEN int lro_arena_reserve(lro_arena *a, size_t n);
LRO_HIDDEN char *lro_arena_strndup(lro_arena *a, const char *s, size_t n);
LRO_HIDDEN void lro_arena_free(lro_arena *a);
/* A ProtobufCAllocator that allocates from `a` and never frees. */
LRO_HIDDEN void lro_arena_pb_allocator(lro_arena *a, struct ProtobufCAllocator *out);

/* ---- heap.c: the indexed min-heap every timer lives in ---- */
/* A node is embedded in what it times; `key` is its due time (any clock, the
 * owner's choice) and `index` its slot, SIZE_MAX while not in a heap. The
 * owner's lock guards the heap and its nodes. */
typedef struct lro_heap_node {
    int64_t key;
    size_t index;
} lro_heap_node;
typedef struct lro_heap {
    lro_heap_node **v;
    size_t n, cap;
} lro_heap;
#define LRO_HEAP_NODE_INIT { 0, SIZE_MAX }
/* LRO_OK or LRO_ERR_NOMEM (the node is then not in the heap). */
LRO_HIDDEN int lro_heap_push(lro_heap *h, lro_heap_node *n);
/* 1 when n was in h and is now out, 0 when it was not in h. */
LRO_HIDDEN int lro_heap_remove(lro_heap *h, lro_heap_node *n);
/* The earliest node if its key is <= now, taken out of the heap; else NULL. */
LRO_HIDDEN lro_heap_node *lro_heap_pop_due(lro_heap *h, int64_t now);
static inline lro_heap_node *lro_heap_top(const lro_heap *h)
{
    return h->n ? h->v[0] : NULL;
}
static inline int lro_heap_armed(const lro_heap_node *n)
{
    return n->index != SIZE_MAX;
}
LRO_HIDDEN void lro_heap_free(lro_heap *h);

/* ---- time ---- */
LRO_HIDDEN int64_t lro_now_ms(void);   /* CLOCK_MONOTONIC */
LRO_HIDDEN int64_t lro_now_ns(void);

#endif /* LRO_INT_H */
