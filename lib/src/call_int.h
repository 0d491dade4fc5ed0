/*
 * call_int.h - the call layer (private): one RPC with its attempts and
 * retries, as a future. What awaits and pagers (and tests/fuzz) use of it.
 */
#ifndef LRO_CALL_INT_H
#define LRO_CALL_INT_H

#include "future_int.h"

/* A call started on behalf of an await or a pager: the owner's hook runs
 * when the call finishes (lro_future.on_finish), and *slot is set to the new
 * future under c->mu before its first attempt starts (so that the owner can
 * cancel it at once). `parent` only names the await in events. */
typedef struct lro_call_owner {
    void (*on_finish)(lro_future *f);
    void *owner;
    lro_future **slot;
    lro_future *parent; /* events: the await this call serves, or NULL */
} lro_call_owner;

/* The `owner` given at start. */
LRO_HIDDEN void *lro_call_owner_data(const lro_future *f);
/* When the call started (lro_now_ns clock), before any retry. */
LRO_HIDDEN int64_t lro_call_started_ns(const lro_future *f);

/* Get, Cancel, Delete or Wait (wait_timeout_ms: the server-side timeout, 0 =
 * none) on `name`, with no user callback. Returns as lro_get() does. */
LRO_HIDDEN int lro_call_start_named(lro_client *c, lro_kind kind, const char *name,
                                    int64_t wait_timeout_ms, const lro_call_options *opts,
                                    const lro_call_owner *owner);
/* lro_list() with an owner. */
LRO_HIDDEN int lro_call_start_list(lro_client *c, const char *parent, const lro_list_args *args,
                                   const lro_call_options *opts, lro_done_cb cb, void *user_data,
                                   lro_free_fn ud_free, lro_future **out,
                                   const lro_call_owner *owner);
/* Deep copy of call options (headers, retry policy) into an arena, checked
 * as a call would check them. */
LRO_HIDDEN int lro_call_options_copy(const lro_call_options *in, lro_call_options *out,
                                     lro_arena *a);

/* The completion path's decoders, also the entry points of tests/fuzz:
 * lro_decode_response unpacks a response of `kind` into `a` (NULL when the
 * bytes do not decode or memory ran out: a->failed tells which).
 * lro_decode_status builds the RPC status from code, message and the
 * grpc-status-details-bin value (details NULL: no trailer) into `a`;
 * returns LRO_OK, LRO_ERR_NOMEM, or LRO_ERR_DECODE with *out still set to
 * the status without details (so the caller can name what the server said). */
struct Google__Rpc__Status;
struct ProtobufCMessage;
LRO_HIDDEN struct ProtobufCMessage *lro_decode_response(lro_arena *a, lro_kind kind,
                                                        const uint8_t *data, size_t len);
LRO_HIDDEN int lro_decode_status(lro_arena *a, int code, const char *msg, size_t msg_len,
                                 const uint8_t *details, size_t details_len,
                                 struct Google__Rpc__Status **out);

#endif /* LRO_CALL_INT_H */
