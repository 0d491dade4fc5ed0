/*
 * lro/longrunning.h - what users actually want from long-running operations:
 * "every operation under this parent" (the pager) and "tell me when this
 * operation finishes" (await), for thousands at once.
 *
 * Timeouts, three kinds, never mixed:
 *  - lro_call_options.timeout_ms: deadline of ONE RPC attempt.
 *  - lro_retry_policy.total_timeout_ms: all attempts of one logical RPC.
 *  - lro_poll_policy.total_timeout_ms: the whole await, however many polls.
 *
 * Every function is thread-safe unless its comment says otherwise.
 */
#ifndef LRO_LONGRUNNING_H
#define LRO_LONGRUNNING_H

#include "lro/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Pager ----------------------------------------------------------------------- */
typedef struct lro_pager lro_pager;

/* A pager over `parent` with the given filter/page size; args->page_token
 * resumes a listing from a token saved earlier (lro_pager_page_token). The
 * arguments are copied. Nothing is sent until the first page is asked for.
 * Refusals (bad name, args or options) say why in lro_last_error(). */
LRO_API int lro_pager_create(lro_client *c, const char *parent, const lro_list_args *args,
                             const lro_call_options *opts, lro_pager **out);
/* Frees the pager; a page fetch in flight is cancelled locally (its callback
 * still runs once). Futures handed out stay valid. NULL is fine. */
LRO_API void lro_pager_destroy(lro_pager *p);

/* Asynchronously fetches the next page (one ListOperations RPC, with the
 * call's retry policy); the future's lro_future_page() is that page. Returns
 * LRO_ERR_END when the last page was already fetched, LRO_ERR_STATE while a
 * fetch is in flight. A failed fetch does not advance the pager: asking again
 * retries the same token. A page obtained is never fetched again. */
LRO_API int lro_pager_next_page(lro_pager *p, lro_done_cb cb, void *user_data,
                                lro_free_fn ud_free, lro_future **out);

/* The token that fetches the next page: save it to resume later with
 * lro_list_args.page_token. "" before the first page (or when resuming from
 * the start); NULL after the last page. Borrowed until the next call on p.
 * Not thread-safe against a concurrent next_page completing: read it from
 * the page callback or after the future is done. */
LRO_API const char *lro_pager_page_token(const lro_pager *p);
/* 1 when the last page has been fetched. */
LRO_API int lro_pager_done(const lro_pager *p);

/* Blocking row iterator: stores the next operation in *op (borrowed; valid
 * until the pager moves past its page or is destroyed) and returns LRO_OK;
 * LRO_ERR_END after the last one; on a failed page fetch the error result
 * (LRO_ERR_RPC...) with the failed future's status in lro_pager_status().
 * Fetches pages as needed, waiting at most timeout_ms for each (< 0 forever;
 * LRO_ERR_TIMEOUT then, and calling again keeps waiting for the same page).
 * Not for the client's I/O thread (LRO_ERR_STATE). Use one pager from one
 * thread at a time. */
LRO_API int lro_pager_step(lro_pager *p, int64_t timeout_ms, const lro_operation **op);
/* Status of the last page fetch (NULL before any). Borrowed as above. */
LRO_API const lro_status *lro_pager_status(const lro_pager *p);
/* The unreachable locations reported so far, across pages. */
LRO_API size_t lro_pager_unreachable_count(const lro_pager *p);
LRO_API const char *lro_pager_unreachable(const lro_pager *p, size_t i);

/* ---- Await until done --------------------------------------------------------- */
/* How an await asks: an int32_t, not an enum (ABI rule 2, lro/common.h). */
typedef int32_t lro_await_method;
enum {
    LRO_AWAIT_AUTO = 0,      /* WaitOperation; on UNIMPLEMENTED switch to polling,
                                remembered per client */
    LRO_AWAIT_POLL_ONLY = 1, /* GetOperation with backoff */
    LRO_AWAIT_WAIT_ONLY = 2  /* WaitOperation; UNIMPLEMENTED is an error */
};

typedef struct lro_poll_policy {
    uint32_t struct_size;
    int64_t initial_delay_ms; /* first poll comes right away; then this */
    double multiplier;        /* delay growth per poll */
    int64_t max_delay_ms;     /* cap of a single delay */
    double jitter;            /* 0..1: each delay shortened by up to this fraction */
    int64_t total_timeout_ms; /* whole await; 0 = no limit */
    lro_await_method method;
    int64_t wait_timeout_ms;  /* server-side timeout asked of each WaitOperation */
    /* Appended in 1.0. Transient failures of a poll (after the poll's own
     * retries): codes in transient_codes (bit 1u << LRO_CODE_x; 0 = the
     * default UNAVAILABLE and DEADLINE_EXCEEDED) and any answer carrying a
     * google.rpc.RetryInfo are retried with the delays above (RetryInfo's
     * delay instead when given) until total_timeout_ms, or until a run of
     * such failures has lasted transient_budget_ms (0 = no limit of its
     * own). Then the await ends LRO_ERR_RPC with the last status, its
     * message followed by "(retried for S s, N attempts)". A poll cut by
     * an UNAVAILABLE that no server wrote (grpc's own, without details)
     * after it had been open for 1 s or more (a connection recycled by the
     * server or a proxy) is sent again at once. Any other
     * code ends the await at once. */
    int64_t transient_budget_ms;
    uint32_t transient_codes;
    uint32_t reserved0; /* keeps the struct free of padding; set 0 */
    /* Appended in 1.0. With a progress callback, the longest a change of
     * metadata may go unreported: WaitOperation turns are cut to this (each
     * turn answers with the state as it is then), and Get polls are never
     * spaced further apart. Costs at most one poll RPC per interval per
     * await, and only for awaits that have a progress callback. 0 = no
     * limit (Wait turns of wait_timeout_ms; progress shows only when a
     * turn ends). */
    int64_t progress_interval_ms;
} lro_poll_policy;
LRO_ASSERT_NO_TAIL_PADDING(lro_poll_policy, progress_interval_ms);
/* struct_size values accepted (LP64): 64 (0.1) and 88 (1.0). `method` is
 * int32_t at offset 48 as 0.1's enum was on every common ABI. */
/* Defaults: first delay 500 ms, x1.5, max 30 s, jitter 0.2, total 1 hour,
 * AUTO, WaitOperation timeout 30 s, transient failures retried for the whole
 * total timeout, progress reported within 5 s. A poll answered with a
 * google.rpc.RetryInfo waits that long instead. */
#define LRO_POLL_POLICY_INIT                                                                       \
    { sizeof(lro_poll_policy), 500, 1.5, 30000, 0.2, 3600000, LRO_AWAIT_AUTO, 30000, 0, 0, 0, 5000 }

/* Called (on the dispatch context, like any callback) with the first state
 * the await sees (right away: its first poll is a GetOperation, also when
 * it then waits with WaitOperation), then each time a poll shows metadata
 * different from the last reported — never twice for the same bytes, and
 * within progress_interval_ms of a change. The final state goes to the done
 * callback, not here. `op` is borrowed for the duration of the call. */
typedef void (*lro_progress_cb)(const lro_operation *op, void *user_data);

/* Awaits the operation `name` until it is done. Needs nothing but the name,
 * so a process can resume watching an operation another one started.
 * Outcomes (lro_future_result):
 *   LRO_OK               done with a response   (lro_future_operation)
 *   LRO_ERR_OP_FAILED    done with an error     (lro_operation_error)
 *   LRO_ERR_OP_CANCELLED done, error code CANCELLED (cancelled remotely)
 *   LRO_ERR_TIMEOUT      total_timeout_ms passed; lro_future_operation() is
 *                        the last state seen (NULL if no poll succeeded)
 *   LRO_ERR_RPC          a poll failed for good (after its retries); status
 *   LRO_ERR_CANCELLED    lro_future_cancel(): polling stopped, server untouched
 *   LRO_ERR_SHUTDOWN     the client was destroyed
 * Costs no thread: polls are timers in the client's heap. progress,
 * user_data and ud_free as for every call (progress shares user_data). */
LRO_API int lro_await(lro_client *c, const char *name, const lro_poll_policy *policy,
                      const lro_call_options *opts, lro_progress_cb progress, lro_done_cb cb,
                      void *user_data, lro_free_fn ud_free, lro_future **out);

/* CancelOperation (remote cancel), then await the final state: the helper
 * for "stop it and tell me how it ended". A failed CancelOperation ends the
 * future with that error; UNIMPLEMENTED is surfaced as LRO_ERR_RPC too. */
LRO_API int lro_cancel_and_await(lro_client *c, const char *name, const lro_poll_policy *policy,
                                 const lro_call_options *opts, lro_progress_cb progress,
                                 lro_done_cb cb, void *user_data, lro_free_fn ud_free,
                                 lro_future **out);

/* How many poll RPCs (Get or Wait) the await made so far. */
LRO_API int lro_future_polls(const lro_future *f);

/* ---- Client-wide poll budget ------------------------------------------------
 * Caps poll RPCs (the Gets and Waits that awaits send) per second across all
 * awaits of one client: a token bucket of `burst` tokens refilled at
 * `per_second`. A poll without a token waits (a timer, no thread). 0 = no cap
 * (default). Plain lro_get/lro_wait calls are never throttled. */
LRO_API int lro_client_options_set_poll_budget(lro_client_options *o, double per_second,
                                               int burst);

/* ---- Client-wide cap on await RPCs in flight ---------------------------------
 * At most `max` poll RPCs (GetOperation, WaitOperation, and the
 * CancelOperation of lro_cancel_and_await) of this client's awaits are in
 * flight at once; an await whose next RPC finds every slot taken joins a FIFO
 * queue (no thread, no RPC, about 1 KiB of its own state) and is sent when a
 * slot frees. Why: each RPC in flight costs grpc about 10-14 KiB, and an
 * HTTP/2 server commonly allows only ~100 streams per connection, so 100,000
 * awaits each holding a WaitOperation would cost over a gigabyte and starve
 * the channel's other calls. With the cap, memory stays bounded by `max`
 * however many operations are awaited.
 * Fairness: a WaitOperation holds its slot until the operation is done or
 * the server's timeout (lro_poll_policy.wait_timeout_ms) passes; the await
 * then queues again behind the others, so with more awaits than slots they
 * take turns and wait_timeout_ms is the length of a turn.
 * Default LRO_DEFAULT_MAX_AWAIT_RPCS; 0 = no cap; < 0 is LRO_ERR_INVALID_ARG.
 * Plain calls (lro_get, lro_wait, ...) are never held back. The poll budget
 * above applies first: a poll that got its token may still queue for a slot. */
#define LRO_DEFAULT_MAX_AWAIT_RPCS 1024
LRO_API int lro_client_options_set_max_await_rpcs(lro_client_options *o, int max);
/* Awaits currently queued for an RPC slot (diagnostics). */
LRO_API size_t lro_client_awaits_queued(const lro_client *c);

#ifdef __cplusplus
}
#endif
#endif /* LRO_LONGRUNNING_H */
