/*
 * lro/future.h - futures (the result of every call) and borrowed views of
 * what came back: operations, list pages, statuses.
 *
 * Lifetime: a future is reference counted. The library holds one reference
 * until the call's callback has returned; `*out` of the starting function is
 * another. Views returned by lro_future_*() and by the view accessors below
 * are borrowed: they stay valid exactly as long as the future they came from
 * (so lro_future_ref() the future to keep a view). Strings are NUL-terminated
 * UTF-8 as the server sent them. Nothing returned by a view is freed by the
 * caller.
 *
 * Thread safety: every function is thread-safe. A future's result fields are
 * written once, before it is marked done, and never change afterwards.
 */
#ifndef LRO_FUTURE_H
#define LRO_FUTURE_H

#include "lro/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lro_operation lro_operation; /* google.longrunning.Operation */
typedef struct lro_page lro_page;           /* ListOperationsResponse */
typedef struct lro_status lro_status;       /* google.rpc.Status */

/* ---- Futures ------------------------------------------------------------ */
LRO_API lro_future *lro_future_ref(lro_future *f); /* returns f */
LRO_API void lro_future_unref(lro_future *f);      /* NULL is fine */

/* 1 once the result is known, else 0. */
LRO_API int lro_future_is_done(const lro_future *f);

/* Blocks until done or timeout_ms passes (< 0: forever; 0: just checks).
 * LRO_OK when done, LRO_ERR_TIMEOUT otherwise, LRO_ERR_STATE if waiting could
 * never end (called on the client's I/O thread in thread mode for a future of
 * that client that is not done).
 * A future is marked done before its callback is queued, so a callback always
 * sees it done; the other side of that order: in loop mode this may return
 * a moment before lro_client_fd() turns readable for the same completion
 * (the callback then runs in a later lro_client_process()). Waking from it
 * costs a thread hand-off; the callback and lro_future_then() do not. */
LRO_API int lro_future_wait(lro_future *f, int64_t timeout_ms);

/* Attaches the callback later (when the call was started with cb == NULL).
 * At most one callback per future: LRO_ERR_STATE if one is set. If the future
 * is already done, cb is scheduled like any completion (thread mode: on the
 * I/O thread; loop mode: next lro_client_process()); after the client was
 * destroyed it runs right away on the caller's thread. */
LRO_API int lro_future_then(lro_future *f, lro_done_cb cb, void *user_data, lro_free_fn ud_free);

/* LOCAL cancel: abandons our in-flight RPC (or backoff/poll timer). The
 * server is not told anything beyond the HTTP/2 stream reset; this is NOT the
 * CancelOperation RPC (see lro_cancel). The future completes (if it has not
 * already) with LRO_ERR_CANCELLED. Idempotent; LRO_OK. */
LRO_API int lro_future_cancel(lro_future *f);

/* The outcome (layer 1): LRO_OK, LRO_ERR_RPC (see lro_future_status),
 * LRO_ERR_DECODE, LRO_ERR_CANCELLED, LRO_ERR_SHUTDOWN, LRO_ERR_NOMEM, the
 * await outcomes..., or LRO_ERR_NOT_DONE before completion. */
LRO_API int lro_future_result(const lro_future *f);

/* The RPC status (layer 2) of the last attempt, or NULL before completion.
 * Never NULL once done: LRO_CODE_OK on success; for local outcomes a status
 * the library made up (CANCELLED for local cancel/shutdown, INTERNAL naming
 * the decode failure for LRO_ERR_DECODE, ...). */
LRO_API const lro_status *lro_future_status(const lro_future *f);

/* Get / Wait / await: the operation received, or NULL (not done, failed, or
 * not a call that returns an Operation). For an await that timed out: the
 * last state seen. */
LRO_API const lro_operation *lro_future_operation(const lro_future *f);

/* List: the page received, or NULL. */
LRO_API const lro_page *lro_future_page(const lro_future *f);

/* How many RPC attempts the call made (retries included). */
LRO_API int lro_future_attempts(const lro_future *f);

/* ---- Operation views ------------------------------------------------------ */
LRO_API const char *lro_operation_name(const lro_operation *op); /* never NULL */
LRO_API int lro_operation_done(const lro_operation *op);         /* 0 or 1 */

/* metadata / response Any. Return LRO_OK, or LRO_ERR_INVALID_ARG when op
 * is NULL; absence is not an error (ABI rule 3 in lro/common.h): *present
 * is set to 1 when the operation has it and the out-pointers are filled,
 * else *present = 0 and they are set to NULL / NULL / 0. Every out-pointer
 * may be NULL. (0.1 returned 1 / 0 instead.) */
LRO_API int lro_operation_metadata(const lro_operation *op, const char **type_url,
                                   const uint8_t **value, size_t *len, int *present);
LRO_API int lro_operation_response(const lro_operation *op, const char **type_url,
                                   const uint8_t **value, size_t *len, int *present);
/* The operation's error (layer 3), or NULL when it has none. */
LRO_API const lro_status *lro_operation_error(const lro_operation *op);

/* ---- Status views -------------------------------------------------------- */
LRO_API int lro_status_code(const lro_status *s);            /* LRO_CODE_* */
LRO_API const char *lro_status_message(const lro_status *s); /* never NULL */
LRO_API size_t lro_status_detail_count(const lro_status *s);
/* Detail i (an Any). LRO_OK, or LRO_ERR_INVALID_ARG when i is out of range. */
LRO_API int lro_status_detail(const lro_status *s, size_t i, const char **type_url,
                              const uint8_t **value, size_t *len);
/* The delay of the status's google.rpc.RetryInfo detail. LRO_OK, or
 * LRO_ERR_INVALID_ARG when s is NULL. *present = 1 and *ms = the delay when
 * the status carries one, else *present = 0 and *ms = 0. ms and present may
 * be NULL. (0.1 returned 1 / 0 instead.) */
LRO_API int lro_status_retry_delay_ms(const lro_status *s, int64_t *ms, int *present);

/* ---- List page views -------------------------------------------------------- */
LRO_API size_t lro_page_count(const lro_page *p);
LRO_API const lro_operation *lro_page_operation(const lro_page *p, size_t i); /* NULL if OOR */
LRO_API const char *lro_page_next_token(const lro_page *p); /* "" on the last page */
LRO_API size_t lro_page_unreachable_count(const lro_page *p);
LRO_API const char *lro_page_unreachable(const lro_page *p, size_t i); /* NULL if OOR */

/* ---- Serialized bytes (for bindings) -------------------------------------
 * The wire-format bytes of a view, so a binding can hand its users native
 * protobuf objects (python's Operation.FromString, Go's proto.Unmarshal...)
 * or store an Operation and resume it later. Added in 1.0.
 *
 * lro_*_serialize: copies the message's serialized bytes into a new buffer
 * (*out, freed with lro_free(); never NULL on success, also for 0 bytes) and
 * its length into *len (len may be NULL). The view is only read: any view
 * works, borrowed or parsed, from any thread and from inside any callback,
 * the progress callback's borrowed `op` included (copy there, the bytes
 * outlive the callback). Returns LRO_OK; LRO_ERR_INVALID_ARG for a NULL view
 * or out; LRO_ERR_NOMEM. On error *out and *len are untouched. The text of
 * a failure is in lro_last_error(). Thread-safe.
 *
 * Fields lro-c's protos do not declare (a newer server's) are kept and
 * serialized back; serializing what lro_*_parse made of these bytes gives
 * the same bytes again (fuzzed in tests/fuzz/fuzz_operation). */
LRO_API int lro_operation_serialize(const lro_operation *op, uint8_t **out, size_t *len);
LRO_API int lro_page_serialize(const lro_page *p, uint8_t **out, size_t *len);
LRO_API int lro_status_serialize(const lro_status *s, uint8_t **out, size_t *len);

/* lro_*_parse: the other way: decodes a google.longrunning.Operation,
 * ListOperationsResponse or google.rpc.Status from `len` bytes at `data`
 * (copied; data may be NULL when len is 0, which gives the empty message)
 * into a new OWNED view, which works with every view accessor above
 * (lro_operation_name, lro_operation_response, lro_page_operation,
 * lro_status_detail, lro/json.h's printers, ...) and is freed with the
 * matching lro_*_destroy (NULL is fine). Views obtained from an owned view
 * (lro_page_operation, lro_operation_error) live as long as it.
 * Returns LRO_OK and sets *out; LRO_ERR_INVALID_ARG (NULL out, or NULL data
 * with len > 0); LRO_ERR_DECODE when the bytes do not decode as that message
 * or nest messages more than 100 deep; LRO_ERR_NOMEM. *out is untouched on
 * error; the reason is in lro_last_error(). An owned view is immutable, so
 * it may be read from several threads at once; destroy it once, after every
 * reader is done.
 *
 * Resuming a saved operation: everything an await needs is the name, so
 *     lro_operation *op;
 *     if (lro_operation_parse(saved, saved_len, &op) == LRO_OK) {
 *         if (!lro_operation_done(op))
 *             lro_await(client, lro_operation_name(op), NULL, NULL, NULL, cb, ud, NULL, &f);
 *         lro_operation_destroy(op);   (lro_await copied the name)
 *     }
 * and a finished one is already its own result (lro_operation_response /
 * lro_operation_error). */
LRO_API int lro_operation_parse(const uint8_t *data, size_t len, lro_operation **out);
LRO_API int lro_page_parse(const uint8_t *data, size_t len, lro_page **out);
LRO_API int lro_status_parse(const uint8_t *data, size_t len, lro_status **out);
LRO_API void lro_operation_destroy(lro_operation *op); /* NULL is fine */
LRO_API void lro_page_destroy(lro_page *p);            /* NULL is fine */
LRO_API void lro_status_destroy(lro_status *s);        /* NULL is fine */

/* ---- Typed unpacking of an Any ------------------------------------------
 * Decodes (type_url, value) as the protobuf-c message type `desc` (a
 * `const ProtobufCMessageDescriptor *`, e.g. &google__rpc__retry_info__descriptor
 * from your own protoc-c output). The type URL must end in "/" + the
 * descriptor's full name: LRO_ERR_TYPE_MISMATCH otherwise, LRO_ERR_DECODE when
 * the bytes do not decode, LRO_ERR_NOMEM. On success *out is a new message
 * the caller frees with lro_message_free(). */
struct ProtobufCMessageDescriptor;
struct ProtobufCMessage;
LRO_API int lro_any_unpack(const char *type_url, const uint8_t *value, size_t len,
                           const struct ProtobufCMessageDescriptor *desc,
                           struct ProtobufCMessage **out);
LRO_API void lro_message_free(struct ProtobufCMessage *m); /* NULL is fine */

#ifdef __cplusplus
}
#endif
#endif /* LRO_FUTURE_H */
