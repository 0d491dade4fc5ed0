/*
 * lro/client.h - client options, client lifetime, the five Operations calls.
 *
 * A client owns one gRPC channel and one completion queue, serviced by ONE
 * library thread (the "I/O thread") however many calls are in flight. Calls
 * never block and never start threads.
 *
 * Threading modes (chosen at creation with lro_client_options_set_mode):
 *
 *  LRO_MODE_THREAD (default)
 *    - Callbacks (done, progress, ud_free) run on the client's I/O thread,
 *      one at a time: callbacks of one client never run concurrently.
 *    - Do not block in a callback: nothing else of this client progresses
 *      meanwhile (lro_future_wait on an unfinished future of the same client
 *      returns LRO_ERR_STATE there).
 *    - lro_client_destroy() from any thread, including from a callback.
 *
 *  LRO_MODE_LOOP (an application event loop: libuv, libevent, epoll, a
 *  language runtime; see lro/adapters/libuv.h and lro/adapters/libevent.h)
 *    - Callbacks run ONLY inside lro_client_process(), on the thread that
 *      calls it, in completion order; nothing of the application runs on the
 *      I/O thread except the optional wakeup hook. Between two process calls
 *      no callback runs. Calls of lro_client_process() from several threads
 *      are serialized, so callbacks still never run concurrently.
 *    - The library's I/O thread still drives everything else: gRPC I/O,
 *      deadlines, retry backoff, await polls and their backoff, poll budget
 *      timers. The application never services a timer; it only processes
 *      completions when told to:
 *        * lro_client_fd(): an eventfd, readable while completions are
 *          pending (level-triggered; poll it for reading, never read it
 *          yourself), or
 *        * a wakeup hook (lro_client_options_set_wakeup) for loops without
 *          fds: called when completions become pending.
 *    - A future's done flag, lro_future_wait() and the views work without
 *      processing: only the CALLBACK waits for lro_client_process().
 *    - Shutdown: lro_client_destroy() runs every remaining callback on the
 *      calling thread before it returns (with LRO_ERR_SHUTDOWN for calls that
 *      were in flight). Call it on the loop thread, after stopping to watch
 *      the fd (an adapter: detach first); from inside a callback is fine.
 *
 * Both modes share one path: completions are decoded on the I/O thread and
 * pushed to a ready queue; thread mode drains it on the I/O thread itself,
 * loop mode in lro_client_process(). Ordering, exactly-once and destroy
 * semantics are therefore the same in both.
 *
 * Every function here is thread-safe unless its comment says otherwise.
 */
#ifndef LRO_CLIENT_H
#define LRO_CLIENT_H

#include "lro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lro_client lro_client;
typedef struct lro_client_options lro_client_options;
typedef struct lro_future lro_future;
struct lro_credentials; /* lro/credentials.h */

/* One callback shape for every asynchronous function in lro-c.
 * `f` is borrowed for the duration of the call: lro_future_ref() it to keep
 * it. Do not block in a callback (no lro_future_wait on an unfinished future
 * of the same client in thread mode: it returns LRO_ERR_STATE). */
typedef void (*lro_done_cb)(lro_future *f, void *user_data);

/* ---- Client options ----------------------------------------------------
 * An options object is only read by lro_client_create(), which copies every
 * value: the options may be changed or destroyed right after. Options objects
 * are NOT thread-safe; use one from one thread at a time. Setters return
 * LRO_OK, LRO_ERR_INVALID_ARG (bad value; the option is unchanged; the reason
 * in lro_last_error()) or LRO_ERR_NOMEM. */
LRO_API int lro_client_options_create(lro_client_options **out);
LRO_API void lro_client_options_destroy(lro_client_options *o); /* NULL ok */

/* gRPC target: "host:port", "dns:///host:port", "ipv4:127.0.0.1:1,127.0.0.1:2",
 * "unix:/path". Required. */
LRO_API int lro_client_options_set_target(lro_client_options *o, const char *target);

/* Transport security. Default: TLS with the system's root certificates.
 * Plaintext must be asked for explicitly. */
LRO_API int lro_client_options_set_plaintext(lro_client_options *o);
/* TLS, verifying the server against `root_pem` (PEM text, copied), or the
 * system roots when NULL. */
LRO_API int lro_client_options_set_tls(lro_client_options *o, const char *root_pem);
/* Overrides the name checked against the server certificate (tests, IPs). */
LRO_API int lro_client_options_set_tls_server_name(lro_client_options *o, const char *name);

/* Bearer token sent as "authorization: Bearer <token>" on every call. Refused
 * at lro_client_create() (LRO_ERR_INVALID_ARG) over plaintext unless
 * allow_plaintext is non-zero. The token is never logged nor put in any
 * error message. */
LRO_API int lro_client_options_set_bearer_token(lro_client_options *o, const char *token,
                                                int allow_plaintext);

/* Credentials for every call of the client (lro/credentials.h): tokens,
 * keys, quota project, client certificate. The options take a reference
 * (the caller may unref right after) and the object is frozen from now on;
 * NULL removes them. Tokens and keys are refused over plaintext at
 * lro_client_create() unless lro_credentials_allow_plaintext() was called.
 * Not together with lro_client_options_set_bearer_token (create fails).
 * Added in 1.0. */
LRO_API int lro_client_options_set_credentials(lro_client_options *o,
                                               struct lro_credentials *creds);

/* Per-call RPC deadline when a call does not set one. Default 30000 ms.
 * 0 = no deadline. (WaitOperation calls get the server-side timeout plus
 * this value.) */
LRO_API int lro_client_options_set_default_timeout_ms(lro_client_options *o, int64_t ms);
/* Adds a header sent on every call. Repeatable. Rules (lro_header below):
 * key lowercase [0-9a-z_.-] and not reserved; value printable ASCII, or any
 * bytes for a key ending in "-bin". LRO_ERR_BAD_HEADER otherwise, with the
 * reason in lro_last_error(). The NUL-terminated form: */
LRO_API int lro_client_options_add_header(lro_client_options *o, const char *key,
                                          const char *value);
/* The same with an explicit value length, for "-bin" values that contain
 * NUL bytes (value_len 0 = strlen(value), so an empty value is "" either
 * way). Added in 1.0. */
LRO_API int lro_client_options_add_header_n(lro_client_options *o, const char *key,
                                            const char *value, size_t value_len);
/* Largest response accepted, in bytes. Default 4 MiB. Larger responses end
 * the call with RESOURCE_EXHAUSTED. */
LRO_API int lro_client_options_set_max_receive_size(lro_client_options *o, int64_t bytes);
/* gRPC load-balancing policy name, e.g. "round_robin" or "pick_first". */
LRO_API int lro_client_options_set_lb_policy(lro_client_options *o, const char *policy);
/* Prefix of the user-agent header ("lro-c/<version>" is always appended). */
LRO_API int lro_client_options_set_user_agent(lro_client_options *o, const char *ua);

/* Threading mode: an int32_t, not an enum (ABI rule 2 in lro/common.h). */
typedef int32_t lro_mode;
enum { LRO_MODE_THREAD = 0, LRO_MODE_LOOP = 1 };
LRO_API int lro_client_options_set_mode(lro_client_options *o, lro_mode mode);
/* Loop mode only: `wakeup(data)` is called when completions become pending,
 * for loops that cannot watch lro_client_fd() (a condition variable, a
 * language runtime's "call soon threadsafe", uv_async_send, ...). It is
 * called from ANY thread: usually the I/O thread, but also from the thread
 * of lro_future_then() (already done future) or lro_client_process() (it
 * stopped at `max` with work left). Coalesced: once per empty -> non-empty
 * transition of the ready queue (plus the process() case above), so there
 * are usually far fewer calls than completions; a loop woken once must call
 * lro_client_process() until it returns less than its `max` (or pass 0).
 * It must be cheap, must not block, and must not call lro-c (except
 * lro_client_fd). It may be called until lro_client_destroy() returns. The fd
 * works as well when a hook is set. Setting a hook in thread mode makes
 * lro_client_create() fail with LRO_ERR_INVALID_ARG. */
LRO_API int lro_client_options_set_wakeup(lro_client_options *o, void (*wakeup)(void *data),
                                          void *data);

/* ---- Client ------------------------------------------------------------ */

/* Creates a client. On success *out is set; on failure *out is untouched.
 * Errors: LRO_ERR_INVALID_ARG (no target, token over plaintext, wakeup hook
 * in thread mode, credentials grpc refuses), LRO_ERR_NOMEM, LRO_ERR_IO (no
 * eventfd), LRO_ERR_INTERNAL; lro_last_error() says which. Connecting is lazy: a dead
 * server shows up as UNAVAILABLE on calls, not here. */
LRO_API int lro_client_create(const lro_client_options *o, lro_client **out);

/* Stops the client: every call still in flight completes
 * exactly once with LRO_ERR_SHUTDOWN (its callback runs, in thread mode on the
 * I/O thread before this returns; in loop mode right here on the caller's
 * thread), later calls are refused with LRO_ERR_SHUTDOWN, and the I/O thread
 * and channel are released. Safe from inside a callback of this client (the
 * rest of the teardown then finishes when the callback returns, on the I/O
 * thread, which then exits detached: nothing can join it, so do not
 * dlclose() the library right after such a destroy; exiting the process is
 * fine). A client holds one grpc_init() reference until its memory goes
 * (teardown finished and its last future unref'd), so an application's own
 * grpc_init()/grpc_shutdown() pairs stay balanced around it. Futures the
 * caller still holds stay valid until unref'd (the client's memory lives until
 * the last of them goes: "zombie" close). NULL is fine. Call it once.
 * Loop mode: stop watching lro_client_fd() first (it is closed here); the
 * wakeup hook is not called after this returns. A destroy from another
 * thread waits for a lro_client_process() in progress to return, then runs
 * the remaining callbacks on its own thread. */
LRO_API void lro_client_destroy(lro_client *c);

/* Loop mode: an eventfd that is readable while completions are pending.
 * Watch it for readability (level-triggered); never read or close it: only
 * lro_client_process() reads it. It is closed by lro_client_destroy(), so
 * stop watching it before (an epoll set, uv_poll, a libevent event).
 * -1 in thread mode. */
LRO_API int lro_client_fd(const lro_client *c);

/* Loop mode: runs up to `max` pending callbacks (max <= 0: all pending now) on
 * the calling thread and returns how many ran (>= 0). Never blocks (beyond
 * waiting for a concurrent lro_client_process() of this client on another
 * thread: calls are serialized). If callbacks are left over (max reached),
 * the fd stays readable and the wakeup hook is called again, so a loop may
 * bound the work per wake-up without losing any.
 * Errors: LRO_ERR_STATE in thread mode or when called from inside one of
 * this client's callbacks; LRO_ERR_SHUTDOWN when the client was destroyed,
 * including by one of the callbacks this very call ran. After
 * LRO_ERR_SHUTDOWN do not use the client again: its memory may be gone
 * (process() itself returns safely; calling it on a destroyed client whose
 * futures were all released is a use after free, like any freed handle). */
LRO_API int lro_client_process(lro_client *c, int max);

/* Number of calls started and not yet completed (diagnostics). */
LRO_API size_t lro_client_inflight(const lro_client *c);

/* ---- Connections --------------------------------------------------------------
 * A client opens `channels` connections for ordinary calls (Get, List,
 * Cancel, Delete, and the Get polls of awaits), used in turn, and separate
 * connections for held calls (WaitOperation, which the server keeps open for
 * up to its timeout), each carrying at most max_streams - max_streams/10 of
 * them; one more is opened whenever all are full (at most 64; past that the
 * least loaded one takes it). So thousands of awaits waiting with
 * WaitOperation never take the streams ordinary calls need: HTTP/2 servers
 * allow a limited number of concurrent streams per connection (Google's
 * front ends and many proxies: 100), calls beyond it queue inside grpc, and
 * grpc does not tell a client the peer's limit, hence the option. Every
 * connection reconnects with its own backoff. Defaults LRO_DEFAULT_CHANNELS
 * and LRO_DEFAULT_MAX_STREAMS; out of range (channels 1..64, max_streams
 * >= 1) is LRO_ERR_INVALID_ARG. */
#define LRO_DEFAULT_CHANNELS 1
#define LRO_DEFAULT_MAX_STREAMS 100
LRO_API int lro_client_options_set_channels(lro_client_options *o, int n);
LRO_API int lro_client_options_set_max_streams(lro_client_options *o, int n);
/* Connections (channels) the client has open now, both kinds (diagnostics). */
LRO_API size_t lro_client_channels(const lro_client *c);

/* ---- Per-call options -----------------------------------------------------
 * A small versioned struct: declare with LRO_CALL_OPTIONS_INIT and set the
 * fields you need; fields appended in later versions keep their defaults for
 * callers compiled against older headers. All values are copied when the
 * call starts. Pass NULL for all defaults. */
/* A request header (gRPC metadata entry).
 *  - key: lowercase [0-9a-z_.-], 1..1024 bytes.
 *  - value: printable ASCII (0x20..0x7e) up to 16 KiB; a key ending in
 *    "-bin" takes any bytes (NUL included: set value_len), which gRPC sends
 *    base64-encoded.
 *  - value_len: bytes of value; 0 = strlen(value) (an empty value is ""
 *    either way). Added in 1.0 (0.1's lro_header was {key, value}: see
 *    lro_call_options.header_size).
 * Reserved keys, refused with LRO_ERR_BAD_HEADER because the library or
 * gRPC owns them: "authorization" (use lro_client_options_set_bearer_token),
 * "x-goog-request-params" (every call sends name=<name>), "user-agent"
 * (lro_client_options_set_user_agent), every "grpc-*" key, HTTP/2 pseudo
 * headers (":path", ...; refused by the key rule), and "te", "host",
 * "content-type", "connection", "transfer-encoding". */
typedef struct lro_header {
    const char *key;
    const char *value;
    size_t value_len;
} lro_header;
LRO_ASSERT_NO_TAIL_PADDING(lro_header, value_len);

typedef struct lro_retry_policy {
    uint32_t struct_size;
    int max_attempts;          /* total attempts incl. the first; 1 = no retry */
    int64_t initial_backoff_ms;
    double multiplier;
    int64_t max_backoff_ms;
    double jitter;             /* 0..1, fraction of each delay randomized */
    int64_t total_timeout_ms;  /* all attempts and sleeps; 0 = unbounded */
    uint32_t retry_codes;      /* bit (1u << LRO_CODE_x) per retryable code */
    uint32_t reserved0;        /* 0; was tail padding in 0.1 (ignored) */
} lro_retry_policy;
LRO_ASSERT_NO_TAIL_PADDING(lro_retry_policy, reserved0);
/* struct_size values accepted (LP64): 56 (0.1 and 1.0). */
/* Defaults: 4 attempts, 100 ms, x2, max 5000 ms, jitter 0.2, total 0,
 * UNAVAILABLE only. A server's google.rpc.RetryInfo delay replaces the
 * computed backoff for that attempt. With a total budget, a retry that would
 * start with less than 10 ms of it left is not made: the call ends with the
 * last attempt's status (e.g. UNAVAILABLE), not with a DEADLINE_EXCEEDED of
 * an attempt that never had a chance. */
#define LRO_RETRY_POLICY_INIT                                                                      \
    { sizeof(lro_retry_policy), 4, 100, 2.0, 5000, 0.2, 0, (1u << LRO_CODE_UNAVAILABLE), 0 }

typedef struct lro_call_options {
    uint32_t struct_size;
    /* Deadline of EACH attempt (RPC) in ms; 0 = the client default,
     * < 0 = no deadline. */
    int64_t timeout_ms;
    const lro_header *headers; /* extra headers for this call, copied */
    size_t header_count;
    /* NULL = the client's retry policy (by default LRO_RETRY_POLICY_INIT). */
    const lro_retry_policy *retry;
    /* Appended in 1.0: sizeof(lro_header) as the caller compiled it, i.e.
     * the stride of `headers`: sizeof(lro_header) (with value_len), or
     * 2 * sizeof(void *) for 0.1's {key, value} layout. */
    size_t header_size;
    /* Appended in 1.0: credentials for this call only (one client serving
     * several tenants), on top of the client's channel credentials; NULL =
     * the client's. See lro/credentials.h. Referenced, not copied: keep it
     * alive until the call's callback ran. */
    const struct lro_credentials *credentials;
    /* Appended in 1.0: W3C trace context (traceparent "00-<32 hex>-<16
     * hex>-<2 hex>", tracestate as the header's value) sent on every
     * attempt, and for an await on every poll, so that a distributed trace
     * shows lro-c's RPCs under the caller's span. NULL = none. Copied. */
    const char *traceparent;
    const char *tracestate;
} lro_call_options;
LRO_ASSERT_NO_TAIL_PADDING(lro_call_options, tracestate);
/* struct_size values accepted (LP64): 40 (0.1: headers use 0.1's layout)
 * and 72 (1.0). */
#define LRO_CALL_OPTIONS_INIT                                                                      \
    { sizeof(lro_call_options), 0, NULL, 0, NULL, sizeof(lro_header), NULL, NULL, NULL }

/* Client-wide retry policy for every call without its own. Copied. */
LRO_API int lro_client_options_set_retry(lro_client_options *o, const lro_retry_policy *p);

/* ---- The five calls ---------------------------------------------------------
 * Common contract:
 *  - Return LRO_OK when the call started; then `cb` (if not NULL) is called
 *    exactly once, whatever happens (success, RPC error, deadline, local
 *    cancel, client destroy), and `ud_free(user_data)` after it. Both run
 *    in the dispatch context of the client's mode (loop mode: inside
 *    lro_client_process, also a ud_free given without cb).
 *  - Return a negative LRO_ERR_* when the call did not start; then nothing is
 *    ever called and *out is untouched. Bad names give LRO_ERR_BAD_NAME,
 *    bad headers LRO_ERR_BAD_HEADER, a destroyed client LRO_ERR_SHUTDOWN;
 *    lro_last_error() says what was wrong (e.g. "name has invalid UTF-8 at
 *    byte 3", "lro_call_options.struct_size 12 is not a size this library
 *    knows (40, 48): ...").
 *  - `out` may be NULL (fire and forget). If not NULL, *out receives a new
 *    reference to the call's future, which the caller must lro_future_unref().
 *  - String arguments are copied (or sent) before return.
 *  - Every call sends "x-goog-request-params: name=<url-escaped name>".
 */

/* GetOperation(name). Result: lro_future_operation(). */
LRO_API int lro_get(lro_client *c, const char *name, const lro_call_options *opts,
                    lro_done_cb cb, void *user_data, lro_free_fn ud_free, lro_future **out);

/* ListOperations: one page of the collection `parent`. filter may be NULL or
 * "" (no filter); page_size 0 = server default; page_token NULL/"" = first
 * page. Result: lro_future_page(). */
typedef struct lro_list_args {
    uint32_t struct_size;
    const char *filter;
    int32_t page_size;
    const char *page_token;
    int32_t return_partial_success; /* 0 or 1 */
    uint32_t reserved0;             /* 0; was tail padding in 0.1 (ignored) */
} lro_list_args;
LRO_ASSERT_NO_TAIL_PADDING(lro_list_args, reserved0);
/* struct_size values accepted (LP64): 40 (0.1 and 1.0). */
#define LRO_LIST_ARGS_INIT { sizeof(lro_list_args), NULL, 0, NULL, 0, 0 }
LRO_API int lro_list(lro_client *c, const char *parent, const lro_list_args *args,
                     const lro_call_options *opts, lro_done_cb cb, void *user_data,
                     lro_free_fn ud_free, lro_future **out);

/* CancelOperation(name): asks the SERVER to cancel the operation (remote
 * cancel). Not the same as lro_future_cancel(), which only abandons a call
 * of ours. Result: LRO_OK (google.protobuf.Empty). */
LRO_API int lro_cancel(lro_client *c, const char *name, const lro_call_options *opts,
                       lro_done_cb cb, void *user_data, lro_free_fn ud_free, lro_future **out);

/* DeleteOperation(name). Result: LRO_OK (google.protobuf.Empty). */
LRO_API int lro_delete(lro_client *c, const char *name, const lro_call_options *opts,
                       lro_done_cb cb, void *user_data, lro_free_fn ud_free, lro_future **out);

/* WaitOperation(name, timeout): one RPC that the server holds until the
 * operation is done or `server_timeout_ms` passes (0 = the server's default),
 * then returns the operation as it is (done or not). The RPC deadline is
 * server_timeout_ms + the call's timeout. Result: lro_future_operation(). */
LRO_API int lro_wait(lro_client *c, const char *name, int64_t server_timeout_ms,
                     const lro_call_options *opts, lro_done_cb cb, void *user_data,
                     lro_free_fn ud_free, lro_future **out);

#ifdef __cplusplus
}
#endif
#endif /* LRO_CLIENT_H */
