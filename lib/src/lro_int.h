/*
 * lro_int.h - private declarations shared by lro-c's source files.
 * Nothing here is part of the ABI.
 */
#ifndef LRO_INT_H
#define LRO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lro/longrunning.h"

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
/* The start of every public call on a client and a name: clears
 * lro_last_error(), then LRO_ERR_INVALID_ARG for a NULL client or what
 * lro_check_name() says of the name (with its text). */
LRO_HIDDEN int lro_call_begin(const void *client, const char *name);
LRO_HIDDEN int lro_check_name_n(const char *name, size_t len);
/* The same check for a string that is not a name (a filter, a page token):
 * `what` names it in the lro_last_error() text. */
LRO_HIDDEN int lro_check_text(const char *s, const char *what);
/* LRO_OK or LRO_ERR_BAD_HEADER: gRPC metadata rules (lowercase key of
 * [0-9a-z_.-], not reserved ("grpc-*", pseudo headers, "te", ...); printable
 * ASCII value without CR/LF unless the key ends in "-bin"). The _n form takes
 * the value's length (any bytes for "-bin" keys); the other uses strlen.
 * Sets lro_last_error() on failure, naming the key, never quoting the value. */
LRO_HIDDEN int lro_check_header(const char *key, const char *value);
LRO_HIDDEN int lro_check_header_n(const char *key, const char *value, size_t value_len);

/* ---- errors.c: the per-thread text behind lro_last_error() ---- */
/* Clears the text; public functions that record one call it on entry. */
LRO_HIDDEN void lro_error_clear(void);
/* Formats the text (printf-style, truncated to 255 bytes) and returns rc,
 * so that `return lro_fail(LRO_ERR_INVALID_ARG, "...", ...);` reads as one
 * statement. Never pass a secret (token or header value) to it. */
LRO_HIDDEN int lro_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- abi.c: versioned structs and argument normalisers (one copy each) ---- */
/* Validates a caller's versioned struct and copies it over `dst`, which
 * holds the defaults and is dst_size bytes (the current sizeof). src's
 * struct_size must be one of known_sizes[0..n_known) (each <= dst_size):
 * min(struct_size, dst_size) bytes are copied, the rest keeps the defaults,
 * and dst's struct_size becomes dst_size. Otherwise LRO_ERR_INVALID_ARG with
 * "<what>.struct_size N is not a size this library knows (a, b)". `src`
 * NULL leaves the defaults (LRO_OK). */
LRO_HIDDEN int lro_versioned_copy(void *dst, size_t dst_size, const void *src,
                                  const uint32_t *known_sizes, size_t n_known, const char *what);
/* Retry policy: versioned copy over LRO_RETRY_POLICY_INIT plus range checks
 * (in == NULL is LRO_ERR_INVALID_ARG). */
LRO_HIDDEN int lro_retry_normalize(const lro_retry_policy *in, lro_retry_policy *out);
/* List arguments (NULL = defaults): versioned copy, page_size >= 0, filter
 * and page_token (when not empty) valid UTF-8 text. */
LRO_HIDDEN int lro_list_args_normalize(const lro_list_args *in, lro_list_args *out);
/* Poll policy (NULL = defaults): versioned copy plus range checks. */
LRO_HIDDEN int lro_poll_policy_normalize(const lro_poll_policy *in, lro_poll_policy *out);
/* Call options (NULL = defaults): versioned copy, header_size resolved
 * (0.1's struct size means 0.1's header layout), every header checked. The
 * headers are NOT copied: read them with lro_call_header(). */
LRO_HIDDEN int lro_call_options_normalize(const lro_call_options *in, lro_call_options *out);
/* Header i of normalised options, whatever the caller's lro_header layout;
 * value_len is always the real length (strlen resolved). */
LRO_HIDDEN void lro_call_header(const lro_call_options *o, size_t i, lro_header *out);

/* ---- views.c ---- */
/* 1 and the delay in *ms when the status carries a google.rpc.RetryInfo
 * delay, else 0 (the library's own short-circuit form of
 * lro_status_retry_delay_ms). */
LRO_HIDDEN int lro_status_has_retry_delay(const lro_status *s, int64_t *ms);
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
    uint32_t left; /* 32 bits: one per future, and no block is near 4 GiB */
    int failed;    /* an allocation failed (out of memory) */
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
