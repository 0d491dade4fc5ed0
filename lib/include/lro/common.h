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
 * library you are running with. The shared library's SONAME carries MAJOR:
 * liblro.so.1 since 1.0.0, whose ABI differs from 0.1's (liblro.so.0) as
 * described under "ABI rules" below. */
#define LRO_VERSION_MAJOR 1
#define LRO_VERSION_MINOR 0
#define LRO_VERSION_PATCH 0
#define LRO_VERSION_STRING "1.0.0"
#define LRO_VERSION_NUMBER                                                                         \
    ((LRO_VERSION_MAJOR * 10000) + (LRO_VERSION_MINOR * 100) + LRO_VERSION_PATCH)

/* ---- ABI rules ------------------------------------------------------------
 * What a binding author (ctypes, cgo, Rust FFI, N-API...) may rely on, and
 * what the library keeps to across minor versions of one SONAME:
 *
 *  1. Versioned structs. A public struct whose first member is
 *     `uint32_t struct_size` (lro_call_options, lro_retry_policy,
 *     lro_list_args, lro_poll_policy, and lro/testing.h's option structs) is
 *     versioned: the caller sets struct_size to sizeof the struct as it was
 *     compiled (the LRO_*_INIT macros do it). Fields are only ever appended,
 *     and the library reads only the bytes the caller declared; fields the
 *     caller does not know keep their documented defaults.
 *     - struct_size must be EXACTLY one of the sizes this library has shipped
 *       for that struct (each struct's comment lists them, for LP64
 *       platforms). Anything else (a smaller size, one ending inside a
 *       field, a larger size from newer headers) is LRO_ERR_INVALID_ARG with
 *       a message in lro_last_error(): never a silent guess.
 *     - No tail padding: sizeof(struct) == offset of the end of its last
 *       member (reserved fields fill the gap; each header checks it with a
 *       static assertion), so a field appended later always changes sizeof
 *       and padding bytes can never be mistaken for a new field.
 *     - `reserved*` fields: set them to 0 (the INIT macros do); this version
 *       ignores them.
 *  2. No C enum type in a public struct or as a by-value parameter: their
 *     size depends on compiler flags (-fshort-enums). Such values are
 *     int32_t with named constants (e.g. lro_mode, lro_await_method).
 *  3. One return convention. A function that can fail returns LRO_OK (0) or
 *     a negative LRO_ERR_* code, nothing else; "present / found" is an
 *     out-parameter (`int *present`), never a positive return value. The
 *     functions that return something else never fail and say so: 0/1
 *     predicates (lro_future_is_done, lro_operation_done, ...), counts and
 *     views. One documented exception: lro_client_process() returns how many
 *     callbacks it ran (>= 0) or a negative error, like read(2). So the one
 *     test a binding needs for every int-returning function is `rc < 0`.
 *  4. Errors without an RPC status carry a text: lro_last_error() below.
 *  5. Strings are NUL-terminated UTF-8 unless a length goes with them
 *     (lro_header.value_len for binary header values).
 */

/* Runtime version as LRO_VERSION_NUMBER would compute it. */
LRO_API int lro_version(void);
/* Runtime version string, static storage (e.g. "1.0.0"). */
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

/* What was wrong, in words, for a failure that has no RPC status: e.g.
 * "bearer token over plaintext: set allow_plaintext or use TLS",
 * "lro_list_args.struct_size 12 is not a size this library knows (40)",
 * "name has invalid UTF-8 at byte 3", "header key 'grpc-foo' is reserved".
 *
 * Per thread: the text describes the most recent call ON THIS THREAD of a
 * function that records one, so concurrent threads never see each other's
 * messages and no extra parameter is needed (one call after the failing one,
 * from any language). Why not an error-out parameter: every starter and
 * setter would need one more argument, and bindings would allocate a buffer
 * per call for the rare failure.
 *
 * Recorded by: lro_client_options_* setters, lro_client_create, lro_get,
 * lro_list, lro_cancel, lro_delete, lro_wait, lro_await,
 * lro_cancel_and_await, lro_pager_create, lro_registry_add_set and
 * lro_registry_add_file. Each of them clears the text on
 * entry and sets it when it returns an error, so right after one of them
 * failed the text is about that failure ("" only when the code says it all,
 * e.g. LRO_ERR_NOMEM or LRO_ERR_SHUTDOWN). Other functions may change it
 * (lro_pager_next_page starts a List the same way), so read it right after
 * the failing call, before the next lro_* call on this thread.
 *
 * Never NULL; "" when nothing was recorded. Static per-thread storage: valid
 * until the next lro_* call on the same thread (copy it to keep it). Never
 * contains a secret: bearer token values and header values are not quoted,
 * only header keys and positions. */
LRO_API const char *lro_last_error(void);
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

/* ---- Static assertions for the ABI rules (usable as C99, C11 and C++11).
 * LRO_STATIC_ASSERT(condition, unique_identifier) at file scope. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define LRO_STATIC_ASSERT(cond, id) static_assert(cond, #id)
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define LRO_STATIC_ASSERT(cond, id) _Static_assert(cond, #id)
#else
/* C99: an array type of negative size does not compile. */
#define LRO_STATIC_ASSERT(cond, id) typedef char lro_static_assert_##id[(cond) ? 1 : -1]
#endif
/* Offset of the first byte after `member` of struct `type`. */
#define LRO_END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
/* A versioned struct has no tail padding (ABI rule 1). */
#define LRO_ASSERT_NO_TAIL_PADDING(type, last_member)                                              \
    LRO_STATIC_ASSERT(sizeof(type) == LRO_END_OF(type, last_member), type##_has_no_tail_padding)

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
