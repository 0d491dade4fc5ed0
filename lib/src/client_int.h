/*
 * client_int.h - the client, its calls and futures (private).
 *
 * One client = one channel + one completion queue + one I/O thread that
 * blocks in grpc_completion_queue_next() with a deadline equal to the
 * earliest timer. Everything that completes (RPC batches, timers) is turned
 * into "future done" on that thread and pushed on the ready queue; thread
 * mode drains the queue right there, loop mode hands it to
 * lro_client_process() through an eventfd / wakeup hook.
 *
 * Locks (never held while user code runs):
 *   c->mu        in-flight list, timer heap, closing flags
 *   c->ready_mu  ready queue and each future's callback fields
 *   c->process_mu loop mode: held by lro_client_process() / destroy's final
 *                drain WHILE user callbacks run (the one lock that is), so
 *                callbacks of one client never run concurrently
 * Order: process_mu before mu before ready_mu (never the other way round).
 */
#ifndef LRO_CLIENT_INT_H
#define LRO_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <grpc/grpc.h>
#include <grpc/byte_buffer.h>

#include "lro/lro.h"
#include "lro_int.h"

typedef enum lro_kind {
    LRO_K_GET = 0,
    LRO_K_LIST = 1,
    LRO_K_CANCEL = 2,
    LRO_K_DELETE = 3,
    LRO_K_WAIT = 4,
    LRO_K_COUNT = 5, /* number of RPC methods; kinds below are composites */
    LRO_K_AWAIT = 6
} lro_kind;

typedef struct lro_await_state lro_await_state;

/* Anything that sits in the client's timer heap. */
typedef struct lro_timer {
    int64_t due_ns;
    size_t heap_index; /* SIZE_MAX when not in the heap */
    void (*fire)(struct lro_timer *t, int cancelled);
} lro_timer;

#define LRO_FUTURE_INLINE 768

/* A retry is not started with less than this much of the overall budget
 * left: it could only end in DEADLINE_EXCEEDED and hide the status that made
 * us retry (documented with lro_retry_policy). */
#define LRO_MIN_RETRY_ATTEMPT_MS 10

struct lro_future {
    atomic_int refs;
    atomic_int done;     /* 0 -> 1 once, release-ordered after the result */
    atomic_int waiters;  /* threads in lro_future_wait (futex) */
    atomic_int cancel_requested;
    lro_client *client;  /* counted reference on the client's memory */
    lro_kind kind;
    int result;
    int attempts;
    const lro_status *status;
    const void *msg;     /* Operation or ListOperationsResponse, in arena */

    /* Callback (guarded by client->ready_mu). */
    lro_done_cb cb;
    void *ud;
    lro_free_fn ud_free;
    int queued;          /* in the ready queue */
    int lib_ref_dropped; /* completion released the library's reference */
    lro_future *ready_next;

    /* In-flight list (guarded by client->mu). */
    lro_future *prev, *next;
    int in_list;

    /* The RPC being attempted; call != NULL while a batch is in flight. */
    grpc_call *call;
    grpc_metadata_array recv_initial;
    grpc_metadata_array trailing;
    grpc_byte_buffer *recv_msg;
    grpc_status_code rpc_status;
    grpc_slice rpc_details;
    grpc_slice request; /* encoded request, kept for retries */
    grpc_metadata *md;
    size_t md_count;
    int64_t timeout_ms; /* per attempt; <= 0 none */
    lro_retry_policy retry;
    int64_t first_start_ns;
    lro_timer timer; /* retry backoff */

    /* Internal owner (an await or a pager) told of the outcome first, on the
     * finishing thread, before the result is published; it may set cb. */
    void (*on_finish)(lro_future *f);
    void *owner;
    lro_await_state *aw; /* kind LRO_K_AWAIT */

    lro_arena arena;
    /* The arena's first block: LRO_FUTURE_INLINE bytes for calls, sized to
     * fit for awaits (which hold no decoded response of their own). */
    _Alignas(16) char inline_buf[];
};

/* Internal extras for starting a call on behalf of an await or a pager. */
typedef struct lro_start_ext {
    void (*on_finish)(lro_future *f);
    void *owner;
    lro_future **slot; /* set to the new future under c->mu before it starts */
} lro_start_ext;

struct lro_client_options {
    char *target;
    int plaintext;
    char *root_pem;
    int tls_set;
    char *tls_server_name;
    char *token;
    int token_allow_plaintext;
    int64_t default_timeout_ms;
    lro_header *headers; /* owned copies */
    size_t header_count;
    int64_t max_receive;
    char *lb_policy;
    char *user_agent;
    lro_mode mode;
    void (*wakeup)(void *);
    void *wakeup_data;
    lro_retry_policy retry;
    double budget_rate;
    int budget_burst;
    int max_await_rpcs; /* 0 = no cap */
};

struct lro_client {
    atomic_int refs; /* 1 for the client itself + 1 per live future */
    lro_mode mode;
    grpc_channel *channel;
    grpc_completion_queue *cq;
    void *methods[LRO_K_COUNT]; /* registered call handles */
    pthread_t io_thread;
    int io_started;
    int64_t default_timeout_ms;
    lro_retry_policy retry;
    grpc_metadata *default_md; /* default headers (+ authorization), owned slices */
    size_t default_md_count;

    pthread_mutex_t mu;
    lro_future *inflight; /* head of the in-flight list */
    atomic_size_t inflight_count;
    lro_timer **heap;
    size_t heap_len, heap_cap;
    int closing;         /* destroy started: refuse new calls */
    int destroy_on_io;   /* destroy was called from a callback on the I/O thread */
    int cq_shut;         /* grpc_completion_queue_shutdown called */
    atomic_int io_sleeping;
    atomic_int wake_pending;
    int64_t io_deadline_ns; /* what the I/O thread is sleeping until (mu) */
    uint64_t rng;           /* jitter (mu) */

    pthread_mutex_t ready_mu;
    lro_future *ready_head, *ready_tail;
    pthread_mutex_t process_mu; /* loop mode: one drain at a time (process, destroy) */

    /* Awaits. */
    atomic_int wait_unimplemented; /* the server answered WaitOperation UNIMPLEMENTED */
    double budget_rate;            /* poll budget (mu); 0 = none */
    double budget_burst;
    double budget_tokens;
    int64_t budget_last_ns;
    /* Await RPCs in flight and the awaits queued for a slot (mu). */
    int aw_cap;                 /* 0 = no cap */
    int aw_inflight;
    size_t aw_queued;
    lro_await_state *aw_qhead, *aw_qtail;

    /* Loop mode. */
    int event_fd;
    void (*wakeup)(void *);
    void *wakeup_data;
};

/* client.c */
LRO_HIDDEN void lro_client_ref_mem(lro_client *c);
LRO_HIDDEN void lro_client_unref_mem(lro_client *c);
LRO_HIDDEN void lro_client_wake_io(lro_client *c);
LRO_HIDDEN int lro_on_io_thread(const lro_client *c);
/* Timer heap (caller holds c->mu). */
LRO_HIDDEN int lro_timer_add_locked(lro_client *c, lro_timer *t);
LRO_HIDDEN int lro_timer_remove_locked(lro_client *c, lro_timer *t);
LRO_HIDDEN double lro_rand01_locked(lro_client *c);

/* future.c */
LRO_HIDDEN lro_future *lro_future_new(lro_client *c, lro_kind kind);
LRO_HIDDEN lro_future *lro_future_new_sized(lro_client *c, lro_kind kind, size_t inline_len);
/* Publishes the result (status/msg already set), then queues the callback
 * or releases the library's reference. Exactly once per future. */
LRO_HIDDEN void lro_future_finish(lro_future *f, int result);
/* Runs queued callbacks; max <= 0 means all. Returns how many ran. */
LRO_HIDDEN int lro_client_drain_ready(lro_client *c, int max);

/* call.c */
LRO_HIDDEN int lro_start_get_ext(lro_client *c, lro_kind kind, const char *name,
                                 int64_t wait_timeout_ms, const lro_call_options *opts,
                                 const lro_start_ext *ext);
LRO_HIDDEN int lro_list_ext(lro_client *c, const char *parent, const lro_list_args *args,
                            const lro_call_options *opts, lro_done_cb cb, void *user_data,
                            lro_free_fn ud_free, lro_future **out, const lro_start_ext *ext);
/* Deep copy of call options (headers, retry policy) into an arena. */
LRO_HIDDEN int lro_call_options_copy(const lro_call_options *in, lro_call_options *out,
                                     lro_arena *a);
/* Poll budget: 0 when a token was taken; else a token was RESERVED and the
 * result is the ns until it may be used: the caller sends its poll then,
 * without asking again (caller holds c->mu). */
LRO_HIDDEN int64_t lro_budget_take_locked(lro_client *c, int64_t now_ns);
/* await.c */
LRO_HIDDEN void lro_await_release(lro_future *f);
LRO_HIDDEN int lro_await_cancel(lro_future *f);
/* Destroy: every await queued for an RPC slot finishes with LRO_ERR_SHUTDOWN
 * (c->closing is set, so no slot is handed out any more). */
LRO_HIDDEN void lro_await_shutdown_queue(lro_client *c);
/* Copies a caller's (possibly older, shorter) policy over the defaults and
 * validates it. LRO_OK or LRO_ERR_INVALID_ARG (out untouched). */
LRO_HIDDEN int lro_retry_normalize(const lro_retry_policy *in, lro_retry_policy *out);
LRO_HIDDEN void lro_call_on_complete(lro_future *f, int success);
LRO_HIDDEN const lro_status *lro_status_ok(void);
LRO_HIDDEN const lro_status *lro_status_local(lro_future *f, int code, const char *msg);
/* The completion path's decoders, also the entry points of tests/fuzz:
 * lro_decode_response unpacks a response of `kind` into `a` (NULL when the
 * bytes do not decode or memory ran out: a->failed tells which).
 * lro_decode_status builds the RPC status from code, message and the
 * grpc-status-details-bin value (details NULL: no trailer) into `a`;
 * returns LRO_OK, LRO_ERR_NOMEM, or LRO_ERR_DECODE with *out still set to
 * the status without details (so the caller can name what the server said). */
struct Google__Rpc__Status;
LRO_HIDDEN struct ProtobufCMessage *lro_decode_response(lro_arena *a, lro_kind kind,
                                                        const uint8_t *data, size_t len);
LRO_HIDDEN int lro_decode_status(lro_arena *a, int code, const char *msg, size_t msg_len,
                                 const uint8_t *details, size_t details_len,
                                 struct Google__Rpc__Status **out);

#endif /* LRO_CLIENT_INT_H */
