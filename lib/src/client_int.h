/*
 * client_int.h - the client layer (private): channel, completion queue, the
 * I/O thread, the timer heap, the ready queue and the in-flight list.
 *
 * lro-c is four layers, each in its own files, and each uses only the ones
 * before it:
 *   client   client.c, options.c  (this header)
 *   future   future.c             (future_int.h: the base type of every call)
 *   call     call.c               (call_int.h: one RPC, its attempts, retries)
 *   await    await.c, pager.c     (built on calls)
 * A lower layer reaches a higher one only through a function pointer it was
 * handed (lro_cq_tag.done, lro_timer.fire, lro_ready.run, lro_inflight.abort,
 * lro_future_ops), never by name.
 *
 * One client = one channel + one completion queue + one I/O thread that
 * blocks in grpc_completion_queue_next() with a deadline equal to the
 * earliest timer. Every completion and every due timer runs on that thread;
 * what it finishes is pushed on the ready queue; thread mode drains the queue
 * right there, loop mode hands it to lro_client_process() through an eventfd
 * / wakeup hook.
 *
 * Locks (none is held while user code runs, except process_mu):
 *   c->process_mu loop mode: held by lro_client_process() / destroy's final
 *                 drain WHILE user callbacks run, so callbacks of one client
 *                 never run concurrently
 *   c->mu         in-flight list, timer heap, await slots, closing (written)
 *   c->ready_mu   ready queue and each future's callback fields
 * Order: process_mu, then mu, then ready_mu; never the other way round.
 * `closing` is written under mu and is atomic, so code holding ready_mu can
 * read it without taking mu.
 */
#ifndef LRO_CLIENT_INT_H
#define LRO_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <grpc/grpc.h>

#include "events_int.h"
#include "lro/lro.h"
#include "lro_int.h"

/* The RPC methods, in the order of the client's registered-call table; the
 * kinds after LRO_K_COUNT are futures that are not one RPC. */
typedef enum lro_kind {
    /* 0..4: the methods, the index into every channel's table */
    LRO_K_GET,
    LRO_K_LIST,
    LRO_K_CANCEL,
    LRO_K_DELETE,
    LRO_K_WAIT,
    LRO_K_COUNT,    /* how many methods */
    LRO_K_AWAIT = 6 /* an await: not one RPC */
} lro_kind;

/* A tag on the client's completion queue: the I/O thread calls done() with
 * grpc's success flag. */
typedef struct lro_cq_tag {
    void (*done)(struct lro_cq_tag *t, int success);
} lro_cq_tag;

/* Anything that sits in the client's timer heap. fire() runs on the I/O
 * thread with no lock held, after the timer left the heap; `cancelled` is 1
 * when the client is being destroyed. */
typedef struct lro_timer {
    lro_heap_node node; /* key: due time, lro_now_ns() clock */
    void (*fire)(struct lro_timer *t, int cancelled);
} lro_timer;
#define LRO_TIMER_OF(n) ((lro_timer *)(void *)(n)) /* node is the first member */

/* An entry of the ready queue: run() is called with no lock held, on the
 * thread that dispatches the client's callbacks. */
typedef struct lro_ready {
    struct lro_ready *next;
    void (*run)(struct lro_ready *r);
} lro_ready;

/* An entry of the in-flight list (c->mu): destroy calls abort() under c->mu
 * for each, to stop its RPC; the entry leaves the list when it finishes. */
typedef struct lro_inflight {
    struct lro_inflight *prev, *next;
    void (*abort)(struct lro_inflight *l);
    int linked;
} lro_inflight;

#define LRO_AWAIT_CFG_CACHE 4

/* Per-client state of awaits (await.c), kept here because it lives as long
 * as the client; client.c only initialises it from the options. Guarded by
 * c->mu except the atomic. */
typedef struct lro_client_awaits {
    atomic_int wait_unimplemented; /* the server answered WaitOperation UNIMPLEMENTED */
    double budget_rate;            /* poll budget; 0 = none */
    double budget_burst;
    double budget_tokens;
    int64_t budget_last_ns;
    int cap;      /* await RPCs in flight at most; 0 = no cap */
    int inflight; /* await RPCs in flight */
    size_t queued;
    struct lro_awaiter *qhead, *qtail; /* awaits waiting for a slot (await.c) */
    /* The configurations awaits used last (not owned; await.c). */
    struct lro_await_cfg *cfg_cache[LRO_AWAIT_CFG_CACHE];
    unsigned cfg_next;
} lro_client_awaits;

/* One channel of the client's pool (channels.c). `held`: held calls
 * (WaitOperation) in flight on it (c->mu). */
typedef struct lro_channel {
    grpc_channel *ch;
    void *methods[LRO_K_COUNT]; /* registered call handles, by lro_kind */
    int held;
    int index; /* >= 1000: a held-call channel */
} lro_channel;

/* Held-call channels a client opens at most; past that, held calls share
 * the least loaded one (and may queue there, never on a short-call one). */
#define LRO_MAX_HELD_CHANNELS 64

typedef struct lro_channel_pool {
    char *target;
    grpc_channel_credentials *creds; /* for channels opened later */
    grpc_arg *args;                  /* copies, + one slot for the index */
    size_t nargs;
    lro_channel *unary; /* short calls, round robin; fixed at create */
    int n_unary;
    unsigned rr;
    lro_channel **held; /* held calls, opened as needed */
    int n_held, cap_held, max_held_channels;
    int held_budget; /* held calls per channel at most */
} lro_channel_pool;

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
    int max_await_rpcs;                  /* 0 = no cap */
    int channels;                        /* short-call channels */
    int max_streams;                     /* the peer's streams per connection */
    struct lro_credentials *credentials; /* a reference, or NULL */
    lro_event_hook event_hook;           /* events.c */
    void *event_data;
};

struct lro_client {
    atomic_int refs; /* 1 for the client itself + 1 per live future or pager */
    lro_mode mode;
    lro_channel_pool pool; /* channels.c */
    grpc_completion_queue *cq;
    pthread_t io_thread;
    int io_started;
    int64_t default_timeout_ms;
    lro_retry_policy retry;
    const char *connect_hint; /* appended to a bare "Socket closed" (credentials.c) */
    /* The options' credentials when calls apply them themselves (lro-c's
     * own token sources: lro_creds_fast_md), a reference; else NULL. */
    struct lro_credentials *creds;
    int plaintext;
    grpc_metadata *default_md; /* default headers (+ authorization), owned slices */
    size_t default_md_count;

    pthread_mutex_t mu;
    lro_inflight *inflight; /* head of the in-flight list */
    atomic_size_t inflight_count;
    lro_heap timers;    /* lro_timer nodes */
    atomic_int closing; /* destroy started: refuse new calls (written under mu) */
    int destroy_on_io;  /* destroy was called from a callback on the I/O thread */
    int cq_shut;        /* grpc_completion_queue_shutdown called */
    lro_cq_tag wake_tag;
    atomic_int wake_pending;
    uint64_t rng; /* jitter (mu) */
    lro_client_awaits aw;
    lro_client_obs obs; /* event hook (events_int.h); read-only after creation */

    pthread_mutex_t ready_mu;
    lro_ready *ready_head, *ready_tail;
    pthread_mutex_t process_mu;

    /* Work other threads hand to the I/O thread (lro_client_post_io). */
    pthread_mutex_t post_mu;
    lro_ready *post_head, *post_tail;
    atomic_int posted; /* the list is not empty: io_main looks without the lock */

    /* Loop mode. */
    int event_fd;
    void (*wakeup)(void *);
    void *wakeup_data;
};

/* channels.c. open: before the I/O thread starts; takes `creds` in all
 * cases; the args are copied. pick (c->mu): the channel for an attempt of
 * `kind` (a WaitOperation counts as held until release). close: after the
 * I/O thread ended. */
LRO_HIDDEN int lro_pool_open(lro_client *c, const char *target, grpc_channel_credentials *creds,
                             const grpc_channel_args *args, int n_unary, int max_streams);
LRO_HIDDEN lro_channel *lro_pool_pick_locked(lro_client *c, lro_kind kind);
LRO_HIDDEN void lro_pool_release_locked(lro_client *c, lro_channel *ch);
LRO_HIDDEN void lro_pool_close(lro_client *c);

/* Memory of the client: the client itself and everything that points at it
 * (futures, pagers) hold a reference; the last one frees it. */
LRO_HIDDEN void lro_client_ref_mem(lro_client *c);
LRO_HIDDEN void lro_client_unref_mem(lro_client *c);
LRO_HIDDEN int lro_client_closing(const lro_client *c);
/* Makes the I/O thread look at its heap and ready queue soon (coalesced). */
LRO_HIDDEN void lro_client_wake_io(lro_client *c);
LRO_HIDDEN int lro_on_io_thread(const lro_client *c);

/* Timer heap (caller holds c->mu). add: LRO_OK or LRO_ERR_NOMEM. remove: 1
 * when it was armed. fire_now: an armed timer is moved to "due now" (cannot
 * fail: it reuses its own slot); the caller then wakes the I/O thread. */
LRO_HIDDEN int lro_timer_add_locked(lro_client *c, lro_timer *t);
LRO_HIDDEN int lro_timer_remove_locked(lro_client *c, lro_timer *t);
LRO_HIDDEN void lro_timer_fire_now_locked(lro_client *c, lro_timer *t);
/* A uniform double in [0, 1) for jitter (caller holds c->mu). */
LRO_HIDDEN double lro_rand01_locked(lro_client *c);

/* In-flight list (caller holds c->mu). */
LRO_HIDDEN void lro_inflight_add_locked(lro_client *c, lro_inflight *l);
LRO_HIDDEN void lro_inflight_remove_locked(lro_client *c, lro_inflight *l);

/* Ready queue. push (caller holds c->ready_mu) returns whether the queue was
 * empty; after unlocking, signal_ready tells whoever dispatches callbacks. */
LRO_HIDDEN int lro_ready_push_locked(lro_client *c, lro_ready *r);
LRO_HIDDEN void lro_client_signal_ready(lro_client *c, int was_empty);
/* Runs queued entries; max <= 0 means all. Returns how many ran. */
LRO_HIDDEN int lro_client_drain_ready(lro_client *c, int max);

/* Hands `r` to the I/O thread, which runs it (in order of posting) before
 * the next completion or timer it handles, in both modes. With `wake`, the
 * thread is woken when the list was empty (a wake-up costs about as much
 * as a third of a unary call); without, `r` waits for the thread's next
 * event, which the caller knows is coming. For a thread that is not the
 * I/O thread (there, just do the work). Entries posted while the client is
 * being destroyed still run, at the latest when the I/O thread ends. */
LRO_HIDDEN void lro_client_post_io(lro_client *c, lro_ready *r, int wake);
/* Takes `r` back if the I/O thread has not taken it yet: 1 when it did
 * (r will not run), 0 when r ran or is about to. */
LRO_HIDDEN int lro_client_unpost_io(lro_client *c, lro_ready *r);

#endif /* LRO_CLIENT_INT_H */
