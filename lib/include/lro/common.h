/*
 * lro/common.h - version, result codes, gRPC status codes, allocator hook.
 *
 * Three layers of "what went wrong", never mixed:
 *   1. Did the call start / what became of it locally?  An int: LRO_OK or a
 *      negative LRO_ERR_* value. Values are pinned forever (ABI).
 *   2. How did the RPC end?  An lro_status (see lro/future.h) carrying a gRPC
 *      code (LRO_CODE_*), message and details.
 *   3. How did the operation end?  Operation.error, the same lro_status type.
 *
 * Everything in this header is thread-safe except lro_set_allocator(), which
 * must be called before any other lro_* function.
 */
#ifndef LRO_COMMON_H
#define LRO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LRO_API __attribute__((visibility("default")))
#else
#define LRO_API
#endif

/* Version of the headers you compiled against; lro_version() tells which
 * library you are running with. The shared library's SONAME carries MAJOR. */
#define LRO_VERSION_MAJOR 0
#define LRO_VERSION_MINOR 1
#define LRO_VERSION_PATCH 0
#define LRO_VERSION_STRING "0.1.0"
#define LRO_VERSION_NUMBER                                                                         \
    ((LRO_VERSION_MAJOR * 10000) + (LRO_VERSION_MINOR * 100) + LRO_VERSION_PATCH)

/* Runtime version as LRO_VERSION_NUMBER would compute it. */
LRO_API int lro_version(void);
/* Runtime version string, static storage ("0.1.0"). */
LRO_API const char *lro_version_string(void);

/* ---- Result codes (layer 1). Pinned values; never reused. ---------------- */
#define LRO_OK 0
#define LRO_ERR_INVALID_ARG (-1)   /* NULL/ill-formed argument or option */
#define LRO_ERR_NOMEM (-2)         /* an allocation failed; nothing was lost */
#define LRO_ERR_BAD_NAME (-3)      /* empty, too long, not UTF-8, control chars */
#define LRO_ERR_BAD_HEADER (-4)    /* header key/value not allowed in gRPC */
#define LRO_ERR_SHUTDOWN (-5)      /* the client was destroyed (or is closing) */
#define LRO_ERR_CANCELLED (-6)     /* cancelled locally with lro_future_cancel() */
#define LRO_ERR_RPC (-7)           /* the RPC ended with a non-OK status */
#define LRO_ERR_DECODE (-8)        /* the server sent bytes that do not decode */
#define LRO_ERR_NOT_DONE (-9)      /* the future has no result yet */
#define LRO_ERR_TIMEOUT (-10)      /* a local time limit passed (wait/await) */
#define LRO_ERR_OP_FAILED (-11)    /* await: the operation finished with an error */
#define LRO_ERR_OP_CANCELLED (-12) /* await: the operation was cancelled remotely */
#define LRO_ERR_TYPE_MISMATCH (-13) /* Any's type URL is not the requested type */
#define LRO_ERR_STATE (-14)         /* not allowed now (e.g. would deadlock) */
#define LRO_ERR_INTERNAL (-15)      /* grpc refused an operation; a bug */
#define LRO_ERR_UNSUPPORTED (-16)   /* not available in this mode/build */
#define LRO_ERR_END (-17)           /* iteration finished (pager) */
#define LRO_ERR_IO (-18)            /* a file could not be read / fd error */

/* Static, never NULL: "invalid argument", ... ; unknown values get a
 * generic text. */
LRO_API const char *lro_strerror(int err);
/* Static, never NULL: "LRO_ERR_INVALID_ARG", ... */
LRO_API const char *lro_err_name(int err);

/* ---- gRPC status codes (layer 2), mirrored so no grpc header is needed. -- */
#define LRO_CODE_OK 0
#define LRO_CODE_CANCELLED 1
#define LRO_CODE_UNKNOWN 2
#define LRO_CODE_INVALID_ARGUMENT 3
#define LRO_CODE_DEADLINE_EXCEEDED 4
#define LRO_CODE_NOT_FOUND 5
#define LRO_CODE_ALREADY_EXISTS 6
#define LRO_CODE_PERMISSION_DENIED 7
#define LRO_CODE_RESOURCE_EXHAUSTED 8
#define LRO_CODE_FAILED_PRECONDITION 9
#define LRO_CODE_ABORTED 10
#define LRO_CODE_OUT_OF_RANGE 11
#define LRO_CODE_UNIMPLEMENTED 12
#define LRO_CODE_INTERNAL 13
#define LRO_CODE_UNAVAILABLE 14
#define LRO_CODE_DATA_LOSS 15
#define LRO_CODE_UNAUTHENTICATED 16

/* "OK", "CANCELLED", ... "UNAUTHENTICATED"; "UNKNOWN_CODE" otherwise. Static. */
LRO_API const char *lro_code_name(int code);

/* ---- Limits ------------------------------------------------------------- */
/* Longest operation or collection name accepted, in bytes. */
#define LRO_MAX_NAME_LEN 4096

/* ---- Memory ------------------------------------------------------------- */
/* Every allocation lro-c makes itself (futures, decoded messages, JSON text,
 * copies of options) goes through these. grpc's own allocations do not.
 * Must be called before any other lro_* function, at most once; NULL
 * restores malloc/realloc/free. Not thread-safe. */
typedef struct lro_allocator {
    void *(*malloc_fn)(size_t size, void *ctx);
    void *(*realloc_fn)(void *ptr, size_t size, void *ctx);
    void (*free_fn)(void *ptr, void *ctx);
    void *ctx;
} lro_allocator;
LRO_API void lro_set_allocator(const lro_allocator *a);

/* Frees memory that an lro_* function handed to the caller and documented as
 * "free with lro_free" (JSON text, copies). NULL is fine. Thread-safe. */
LRO_API void lro_free(void *p);

/* Destructor for user data handed to a call. Called exactly once, after the
 * call's callback returned (or, for a call without callback, when its result
 * is known). Never called when the starting function returned an error: then
 * the caller still owns user_data. */
typedef void (*lro_free_fn)(void *user_data);

#ifdef __cplusplus
}
#endif
#endif /* LRO_COMMON_H */
