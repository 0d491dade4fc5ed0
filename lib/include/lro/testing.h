/*
 * lro/testing.h - the embedded google.longrunning.Operations server.
 *
 * A real gRPC server (grpc core, in-process) for demos and for testing code
 * that talks to long-running operations: no mocks, real HTTP/2 on loopback or
 * a unix socket. The embedding program controls a store of operations,
 * injects faults, and reads back what clients sent.
 *
 *     lro_test_server *srv;
 *     lro_test_server_start(NULL, &srv);                 // 127.0.0.1:<free port>
 *     lro_test_server_seed(srv, "projects/demo/locations/global/operations", 237);
 *     lro_test_server_put_pending(srv, "ops/build-1", NULL, NULL, 0);
 *     lro_test_server_complete(srv, "ops/build-1", 500, NULL, NULL, 0);
 *     lro_test_fault f = LRO_TEST_FAULT_INIT;            // 2 x UNAVAILABLE
 *     f.methods = LRO_TEST_GET; f.times = 2; f.code = LRO_CODE_UNAVAILABLE;
 *     f.retry_delay_ms = 100;                            // + RetryInfo
 *     lro_test_server_add_fault(srv, &f);
 *     ... point a client at lro_test_server_target(srv) ...
 *     assert(lro_test_server_call_count(srv, LRO_TEST_GET, "ops/build-1") == 3);
 *     lro_test_lifecycle lc = LRO_TEST_LIFECYCLE_INIT;   // pending ones finish
 *     lro_test_server_set_lifecycle(srv, &lc);           //   by themselves (5 s)
 *     lro_test_server_stop(srv);
 *
 * Build: //lib/testing in Bazel; installed, liblro_testing (pkg-config
 * lro-testing, which requires lro): a library of its own, not part of liblro.
 * It serves on its own threads: the embedding program needs no event loop.
 * Several servers may run at once.
 * Allocator: the installed liblro_testing carries a private copy of lro-c's
 * allocator hook, so lro_set_allocator() does not apply to the server (it
 * allocates with malloc); free what it returns with lro_test_free. (Inside
 * lro-c's own Bazel build the server and the client share one hook.)
 *
 * Thread safety: every function is thread-safe and may be called while RPCs
 * are being served, except lro_test_server_stop() which must be called once,
 * after which the handle is gone.
 * Names: operation names are UTF-8, non-empty, at most LRO_MAX_NAME_LEN bytes,
 * no control characters; the server answers INVALID_ARGUMENT otherwise.
 *
 * What the server answers (the methods of google.longrunning.Operations):
 *   GetOperation     the stored operation; NOT_FOUND for an unknown name.
 *   ListOperations   name = the parent collection; operations whose name
 *                    starts with "<parent>/", in insertion order. filter ""
 *                    (all), "done=true", "done=false" (spaces around '=' are
 *                    fine); anything else INVALID_ARGUMENT. page_size 0 = 50,
 *                    capped at 1000, < 0 INVALID_ARGUMENT. Page tokens are
 *                    opaque, bound to parent and filter (another parent or
 *                    filter, or an edited token: INVALID_ARGUMENT), and
 *                    stable across inserts/deletes between pages; the last
 *                    page has an empty next_page_token.
 *   CancelOperation  a pending operation becomes done with error code 1
 *                    (CANCELLED); a done one is left as it is; NOT_FOUND for
 *                    an unknown name. Answers google.protobuf.Empty.
 *   DeleteOperation  removes it (held Waits on it get NOT_FOUND). Empty.
 *   WaitOperation    answers when the operation is done, or with its current
 *                    state when min(timeout, wait cap, client deadline) has
 *                    passed. Held Waits cost a timer entry, not a thread.
 *   other methods    UNIMPLEMENTED.
 * A request that does not decode is INVALID_ARGUMENT. Every error status
 * also carries a google.rpc.Status in the "grpc-status-details-bin" trailer
 * (as Google's servers send it) with at least one google.rpc.ErrorInfo,
 * domain "lro-c.testing", metadata {"method": <method name>}, and a reason
 * per cause: OPERATION_NOT_FOUND, INVALID_REQUEST (with a
 * google.rpc.BadRequest naming the field for a bad name, filter, page size
 * or page token), METHOD_NOT_IMPLEMENTED, LOCATION_UNREACHABLE,
 * RESOURCE_EXHAUSTED, INJECTED_FAULT (faults; see lro_test_fault.reason).
 * The BAD_DETAILS fault is the one exception: its trailer is garbage on
 * purpose.
 */
#ifndef LRO_TESTING_H
#define LRO_TESTING_H

#include "lro/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lro_test_server lro_test_server;

typedef struct lro_test_server_options {
    uint32_t struct_size;
    /* "127.0.0.1:0" (default, any free port), "host:port", "unix:/path". */
    const char *listen;
    /* Serving threads (each with its own completion queue). 0 = 1, at most
     * 64. On a small machine 1 is usually fastest. */
    int threads;
    /* Longest WaitOperation hold; longer client timeouts are capped to it.
     * Default (0) 30000 ms. A Wait without timeout uses the cap. */
    int64_t wait_cap_ms;
    /* How many call records to keep (oldest dropped first). Counters are
     * always exact. 0 = 10000; < 0 = keep none. */
    int64_t record_limit;
    /* TLS (appended in 0.1): when both are set the server speaks TLS only,
     * with this certificate chain and private key (PEM text, copied at
     * start). No client certificate is requested. NULL = plaintext. */
    const char *tls_cert_chain_pem;
    const char *tls_private_key_pem;
    /* Front-end limits (appended in 1.0; older callers' smaller structs get
     * the defaults). */
    /* HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS the server announces: at most
     * this many calls run at once on one connection; a client queues the
     * rest until a stream frees up (Google's front ends allow 100). 0 = no
     * limit (grpc's default), < 0 LRO_ERR_INVALID_ARG. */
    int32_t max_concurrent_streams;
    int32_t reserved0; /* set 0 */
    /* Connection recycling, as front ends and proxies do it: a connection
     * older than max_connection_age_ms (grpc adds +-10 % jitter) gets a
     * GOAWAY; calls still open max_connection_age_grace_ms after that end
     * UNAVAILABLE for the client, and the connection is closed. The client
     * reconnects for its next call. age 0 = never; grace 0 = no limit (calls
     * in flight finish on their own, grpc's default); < 0 either:
     * LRO_ERR_INVALID_ARG. */
    int64_t max_connection_age_ms;
    int64_t max_connection_age_grace_ms;
    /* Appended in 1.0: mutual TLS. PEM text of the CA(s) client
     * certificates must chain to; set, the server REQUIRES a verified client
     * certificate (a client without one, or with one from another CA, fails
     * the handshake) and records its subject as the call's identity
     * (lro_test_record_identity). Needs the TLS fields. NULL = no client
     * certificate requested. */
    const char *tls_client_ca_pem;
} lro_test_server_options;
LRO_ASSERT_NO_TAIL_PADDING(lro_test_server_options, tls_client_ca_pem);
/* struct_size values accepted (LP64): 40 and 56 (0.1, without and with the
 * TLS fields) and 88 (1.0). */
#define LRO_TEST_SERVER_OPTIONS_INIT                                                               \
    { sizeof(lro_test_server_options), NULL, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL }

/* Starts serving. *out untouched on failure (LRO_ERR_INVALID_ARG for a bad
 * address, LRO_ERR_IO when the address cannot be bound, LRO_ERR_NOMEM). */
LRO_API int lro_test_server_start(const lro_test_server_options *o, lro_test_server **out);
/* The bound target to give a client: "127.0.0.1:PORT" or "unix:/path".
 * Valid until stop. */
LRO_API const char *lro_test_server_target(const lro_test_server *s);
/* Stops: calls in flight are cancelled (held Waits and latency-delayed
 * calls end CANCELLED for their clients), pending delayed completions are
 * dropped, threads joined, everything freed; a unix: socket file is
 * removed. Does not wait for client deadlines. NULL is fine. */
LRO_API void lro_test_server_stop(lro_test_server *s);

/* ---- The store ------------------------------------------------------------
 * Operations are kept in insertion order (List order). Putting an existing
 * name replaces it in place. Any values are (type_url, bytes, len); a NULL
 * type_url means "absent". */

/* Puts a serialized google.longrunning.Operation (any state). */
LRO_API int lro_test_server_put(lro_test_server *s, const uint8_t *operation, size_t len);
/* Puts a pending operation (done = false) with optional metadata. */
LRO_API int lro_test_server_put_pending(lro_test_server *s, const char *name,
                                        const char *meta_type_url, const uint8_t *meta,
                                        size_t meta_len);
/* Replaces the metadata of an operation (progress). LRO_ERR_INVALID_ARG if
 * there is no such operation. */
LRO_API int lro_test_server_set_metadata(lro_test_server *s, const char *name,
                                         const char *meta_type_url, const uint8_t *meta,
                                         size_t meta_len);
/* Completes a pending operation with a response (type_url may be NULL: done
 * without response) after delay_ms (0 = now). Waiters are answered at once.
 * Metadata is kept. LRO_ERR_INVALID_ARG for an unknown name, LRO_ERR_STATE
 * when it is done already. A delayed completion of an operation that is
 * deleted or done by then does nothing. */
LRO_API int lro_test_server_complete(lro_test_server *s, const char *name, int64_t delay_ms,
                                     const char *resp_type_url, const uint8_t *resp,
                                     size_t resp_len);
/* Completes a pending operation with an error: code, message and an optional
 * list of details given as one serialized google.rpc.Status whose details
 * are used (NULL for none). */
LRO_API int lro_test_server_fail(lro_test_server *s, const char *name, int64_t delay_ms, int code,
                                 const char *message, const uint8_t *details_status,
                                 size_t details_len);
/* Seeds n deterministic operations "<parent>/op-00000" ... under parent:
 * i % 4 == 0 succeeded (response google.protobuf.StringValue "result-<i>"),
 * i % 4 == 1 failed (error code 3, message "seeded failure <i>", one
 *   google.rpc.ErrorInfo detail {reason "SEEDED_FAILURE", domain
 *   "lro-c.test", metadata {"index": "<i>"}}),
 * i % 4 == 2 pending with progress metadata (google.protobuf.Struct
 *   {"progress": <i % 100>}), i % 4 == 3 succeeded with a Struct response
 *   {"index": <i>, "result": "result-<i>"}.
 * Type URLs are "type.googleapis.com/<full message name>". n <= 100000. */
LRO_API int lro_test_server_seed(lro_test_server *s, const char *parent, int n);
/* Copies the serialized operation into *out (free with lro_test_free).
 * Returns LRO_OK, or LRO_ERR_INVALID_ARG when there is no such name. */
LRO_API int lro_test_server_get(lro_test_server *s, const char *name, uint8_t **out, size_t *len);
/* Frees what lro_test_server_get returned. NULL is fine. Thread-safe. Use it
 * rather than lro_free: liblro_testing has its own allocator (see "Build"
 * above), so after lro_set_allocator() lro_free would hand the server's
 * memory to the application's free_fn. */
LRO_API void lro_test_free(void *p);
/* Number of operations in the store. */
LRO_API size_t lro_test_server_count(lro_test_server *s);
/* Removes every operation (answers pending Waits with NOT_FOUND). */
LRO_API void lro_test_server_clear(lro_test_server *s);

/* ---- Operations that live by themselves ------------------------------------
 * A lifecycle makes every pending operation progress and finish without the
 * embedding program's help (this is what `lroctl serve` runs, so clients in
 * any language see operations move). It applies to the operations pending
 * when it is set and to every pending operation put later
 * (lro_test_server_put / _put_pending / _seed); each is "adopted" then, and
 * its clock starts at its adoption:
 *   - every progress_every_ms its metadata is REPLACED by a
 *     google.protobuf.Struct {"progress": P}, P = whole percent of
 *     complete_after_ms elapsed (0..99);
 *   - complete_after_ms after adoption it becomes done: the n-th adopted
 *     operation (n = 0, 1, 2, ... in adoption order; the pending operations
 *     present at the call are adopted in List order) fails when
 *     fail_every > 0 and n % fail_every == fail_every - 1, and succeeds
 *     otherwise. Success: response google.protobuf.Struct
 *     {"result": "ok", "name": <name>}. Failure: error code fail_code with
 *     message "simulated failure of <name>" and one google.rpc.ErrorInfo
 *     {reason "SIMULATED_FAILURE", domain "lro-c.testing",
 *     metadata {"operation": <name>}}. Metadata stays as last set.
 * Held WaitOperation calls are answered when their operation finishes, as
 * for lro_test_server_complete(). An operation that is cancelled, deleted,
 * completed or replaced by a done one meanwhile is left alone from then on.
 * The timers are entries in the server's one timer heap (no thread per
 * operation). */
typedef struct lro_test_lifecycle {
    uint32_t struct_size;
    int64_t complete_after_ms; /* > 0 */
    int64_t progress_every_ms; /* 0 = metadata untouched; else >= 1 */
    int fail_every;            /* 0 = every operation succeeds; default 3 */
    int fail_code;             /* LRO_CODE_* 1..16; default ABORTED (10) */
} lro_test_lifecycle;
#define LRO_TEST_LIFECYCLE_INIT                                                                    \
    {                                                                                              \
        sizeof(lro_test_lifecycle), 5000, 1000, 3, LRO_CODE_ABORTED                                \
    }

/* Sets (or with lc == NULL turns off) the lifecycle. Setting it again
 * while it is on: operations already adopted keep their finish time and
 * outcome (progress_every_ms applies to all at their next tick), the new
 * parameters apply to those adopted from then on. Turning it off stops the
 * schedule of every adopted operation (they stay pending as they are); on
 * again, the pending ones are adopted anew (their clocks restart). Returns LRO_OK, or LRO_ERR_INVALID_ARG
 * (s NULL, struct_size too small, complete_after_ms <= 0, progress_every_ms
 * < 0, fail_every < 0, fail_code outside 1..16 while fail_every > 0). An
 * operation that cannot be scheduled for lack of memory stays pending.
 * The struct is copied. Thread-safe like every function here. */
LRO_API int lro_test_server_set_lifecycle(lro_test_server *s, const lro_test_lifecycle *lc);

/* Makes ListOperations of exactly `parent` report these locations as
 * unreachable: with return_partial_success the first page lists them in
 * `unreachable` (and the operations as usual); without it the call fails with
 * UNAVAILABLE, as a real multi-location backend would. n == 0 clears it.
 * Strings are copied. */
LRO_API int lro_test_server_set_unreachable(lro_test_server *s, const char *parent,
                                            const char *const *locations, size_t n);

/* ---- Faults ------------------------------------------------------------- */
#define LRO_TEST_LIST 0x01u
#define LRO_TEST_GET 0x02u
#define LRO_TEST_DELETE 0x04u
#define LRO_TEST_CANCEL 0x08u
#define LRO_TEST_WAIT 0x10u
#define LRO_TEST_ALL 0x1fu

/* An int32_t, not an enum (ABI rule 2 in lro/common.h). */
typedef int32_t lro_test_fault_kind;
enum {
    LRO_TEST_FAULT_STATUS = 0,     /* answer with code/message/details */
    LRO_TEST_FAULT_LATENCY = 1,    /* delay the real answer by latency_ms */
    /* status OK with `garbage` as the message; garbage NULL: a truncated
     * length-delimited field that no protobuf parser accepts. */
    LRO_TEST_FAULT_GARBAGE = 2,
    /* close the connection mid-call: the client's call ends UNAVAILABLE and
     * the channel reconnects for the next call. TCP: that connection only;
     * unix: every connection accepted on the server's path. */
    LRO_TEST_FAULT_DISCONNECT = 3,
    /* the real answer, when OK, padded to about big_size bytes (at most 8
     * less) with an unknown field (number 1000): still a valid message. */
    LRO_TEST_FAULT_BIG = 4,
    LRO_TEST_FAULT_BAD_DETAILS = 5 /* code/message + garbage grpc-status-details-bin */
};

typedef struct lro_test_fault {
    uint32_t struct_size;
    unsigned methods;  /* LRO_TEST_* mask; 0 = all */
    const char *name;  /* only calls for this name (List: the parent); NULL = any */
    int times;         /* how many matching calls it hits; < 0 = forever */
    lro_test_fault_kind kind;
    int code;                      /* STATUS / BAD_DETAILS */
    const char *message;           /* STATUS / BAD_DETAILS; copied */
    const uint8_t *details_status; /* STATUS: serialized google.rpc.Status whose */
    size_t details_len;            /*   details are sent in the trailer */
    int64_t retry_delay_ms;        /* STATUS: >= 0 adds a RetryInfo detail */
    int64_t latency_ms;            /* LATENCY */
    const uint8_t *garbage;        /* GARBAGE; copied */
    size_t garbage_len;
    size_t big_size; /* BIG */
    /* Appended in 1.0 (0.1's struct_size means NULL for both):
     * only calls whose name ends with this string; NULL = any. With `name`
     * also set, both must match. Copied. */
    const char *name_suffix;
    /* STATUS: the google.rpc.ErrorInfo reason sent with it (every error of
     * this server carries an ErrorInfo with domain "lro-c.testing"; a STATUS
     * fault whose details_status has an ErrorInfo of its own sends only
     * that one). NULL = "INJECTED_FAULT". Copied. */
    const char *reason;
} lro_test_fault;
LRO_ASSERT_NO_TAIL_PADDING(lro_test_fault, reason);
/* struct_size values accepted (LP64): 96 (0.1) and 112 (1.0). */
#define LRO_TEST_FAULT_INIT                                                                        \
    {                                                                                              \
        sizeof(lro_test_fault), 0, NULL, 1, LRO_TEST_FAULT_STATUS, 0, NULL, NULL, 0, -1, 0, NULL,  \
            0, 0, NULL, NULL                                                                       \
    }

/* Adds a fault; faults are matched in the order added, the first matching one
 * with hits left applies. LRO_OK or LRO_ERR_INVALID_ARG. A method answered
 * UNIMPLEMENTED forever: kind STATUS, code LRO_CODE_UNIMPLEMENTED, times -1. */
LRO_API int lro_test_server_add_fault(lro_test_server *s, const lro_test_fault *f);
LRO_API void lro_test_server_clear_faults(lro_test_server *s);

/* ---- The admin API over gRPC ------------------------------------------- *
 * lro.testing.v1.OperationsAdmin (proto/lro/testing/v1/admin.proto; message
 * code in gen/lro/testing/v1): put, complete, fail an operation, set its
 * metadata, add and clear faults, list and clear the recorded calls -- the
 * functions of this header, for tests written in any language. Served on
 * the server's own port next to google.longrunning.Operations. Off by
 * default: its methods answer UNIMPLEMENTED until enabled. Admin calls are
 * neither recorded, counted nor faulted. Anyone who can reach the port can
 * steer the server once it is on: enable it only on loopback or a private
 * socket. `lroctl serve --admin` turns it on; `lroctl admin ...` drives it.
 *
 * Turns the admin service on (enabled != 0) or off, at any time; takes
 * effect for calls arriving afterwards. LRO_OK, or LRO_ERR_INVALID_ARG for
 * a NULL server. Thread-safe. */
LRO_API int lro_test_server_enable_admin(lro_test_server *s, int enabled);

/* ---- What clients sent -------------------------------------------------- */
typedef struct lro_test_record lro_test_record;

/* Calls received so far matching methods (0 = all) and name (NULL = any),
 * faulted ones included. Exact even when records were dropped. Calls to
 * unknown methods are not counted. Counted on arrival, before the answer. */
LRO_API uint64_t lro_test_server_call_count(lro_test_server *s, unsigned methods,
                                            const char *name);
/* Number of records kept. */
LRO_API size_t lro_test_server_record_count(lro_test_server *s);
/* A copy of record i (0 = oldest kept) or NULL; free with lro_test_record_free. */
LRO_API lro_test_record *lro_test_server_record(lro_test_server *s, size_t i);
/* A copy of the newest record matching methods/name, or NULL. */
LRO_API lro_test_record *lro_test_server_last_record(lro_test_server *s, unsigned methods,
                                                     const char *name);
LRO_API void lro_test_server_clear_records(lro_test_server *s);
LRO_API void lro_test_record_free(lro_test_record *r); /* NULL is fine */

LRO_API unsigned lro_test_record_method(const lro_test_record *r); /* one LRO_TEST_* bit */
LRO_API const char *lro_test_record_name(const lro_test_record *r); /* "" if unparsable */
LRO_API const char *lro_test_record_filter(const lro_test_record *r);     /* List */
LRO_API int32_t lro_test_record_page_size(const lro_test_record *r);      /* List */
LRO_API const char *lro_test_record_page_token(const lro_test_record *r); /* List */
LRO_API int lro_test_record_partial(const lro_test_record *r); /* return_partial_success */
/* Records are made on arrival. Strings are "" when absent, never NULL for a
 * non-NULL record; they live as long as the record. */
/* WaitOperation's timeout in ms; -1 when the request had none. */
LRO_API int64_t lro_test_record_wait_timeout_ms(const lro_test_record *r);
/* Milliseconds from arrival to the call's deadline; -1 for no deadline. */
LRO_API int64_t lro_test_record_deadline_ms(const lro_test_record *r);
/* Value of request header `key` (first occurrence), or NULL. Every header
 * the client sent is kept (user headers, authorization, x-goog-request-
 * params, user-agent, ...); "-bin" values are the decoded bytes, NUL-
 * terminated. */
LRO_API const char *lro_test_record_header(const lro_test_record *r, const char *key);
/* The same with the value's length in *len (may be NULL), for "-bin" values
 * that contain NUL bytes. NULL (and *len 0) when absent. Added in 1.0. */
LRO_API const char *lro_test_record_header_n(const lro_test_record *r, const char *key,
                                             size_t *len);
/* The gRPC code the server answered with (faults included; DISCONNECT
 * records UNAVAILABLE); -1 while the call is still held (a Wait or a latency
 * fault) or when it was dropped at stop. */
LRO_API int lro_test_record_code(const lro_test_record *r);
/* Who called, as verified by the server's credential checks (added in
 * 1.0): space-separated items "cert:<client certificate subject>"
 * (mutual TLS), "token:<index in the allowed set>", "jwt:<sub claim>",
 * "api-key:<index>"; "" when nothing was verified. Never a secret. */
LRO_API const char *lro_test_record_identity(const lro_test_record *r);

/* ---- Credential checks (added in 1.0; off by default) ---------------------
 * Once one is configured, every Operations call (not the admin service)
 * must pass it or ends UNAUTHENTICATED (recorded, with its reason in the
 * status message, never the presented secret). Thread-safe, any time.
 * Bearer tokens: "authorization: Bearer <t>" with t one of the tokens
 * added (repeatable) or, when a JWT key is set, an RS256 JWT whose
 * signature verifies with public_key_pem (PEM "PUBLIC KEY"), whose exp is
 * in the future and, when audience is not NULL, whose aud equals it.
 * API keys: "x-goog-api-key" one of those added. LRO_OK,
 * LRO_ERR_INVALID_ARG (bad argument, not an RSA public key), LRO_ERR_NOMEM. */
LRO_API int lro_test_server_require_token(lro_test_server *s, const char *token);
LRO_API int lro_test_server_require_jwt(lro_test_server *s, const char *public_key_pem,
                                        const char *audience);
LRO_API int lro_test_server_require_api_key(lro_test_server *s, const char *key);

#ifdef __cplusplus
}
#endif
#endif /* LRO_TESTING_H */
