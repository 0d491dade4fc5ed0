/*
 * server_int.h - private declarations of the embedded Operations server
 * (lro/testing.h). One concept per file:
 *   server.c     lifecycle, completion-queue threads, answering calls
 *   timers.c     one timer thread + min-heap (delays, Wait timeouts, latency)
 *   store.c      the operations, insertion-ordered, and their waiters
 *   handlers.c   the five RPC methods
 *   faults.c     fault injection
 *   records.c    what clients sent, call counters
 *   pagetoken.c  opaque ListOperations page tokens
 *   disconnect.c closing the connection under a call
 *   admin.c      lro.testing.v1.OperationsAdmin, the control API over gRPC
 *   errors.c     the google.rpc.Status trailer of every error answer
 *   lifecycle.c  operations that progress and finish by themselves
 *   pack.c       encoding: messages into buffers and Anys, ErrorInfo, varints
 *
 * Locking: s->mu guards the store, waiters, held calls and the timer heap.
 * s->rec_mu (records, counters) and s->fault_mu (faults) are leaf locks:
 * they may be taken while s->mu is held, never the other way round.
 */
#ifndef LRO_SERVER_INT_H
#define LRO_SERVER_INT_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "lro/testing.h"
#include "lro_int.h"

#define SRV_METHODS 5 /* index i <-> LRO_TEST_* bit (1u << i) */
enum { M_LIST = 0, M_GET = 1, M_DELETE = 2, M_CANCEL = 3, M_WAIT = 4, M_UNKNOWN = -1 };

/* Admin methods (admin.c): srv_call.method = M_ADMIN_BASE + index. */
#define SRV_ADMIN_METHODS 8
#define M_ADMIN_BASE      100

enum { TAG_REQUEST = 1, TAG_ANSWER = 2, TAG_SHUTDOWN = 3 };

/* ---- timers.c ---- */
enum { TIMER_WAIT = 1, TIMER_LATENCY = 2, TIMER_COMPLETE = 3, TIMER_LIFECYCLE = 4 };
typedef struct srv_timer {
    lro_heap_node node; /* key: due time on the lro_now_ms() clock */
    int kind;
    void *owner; /* srv_call (WAIT, LATENCY) or srv_completion (COMPLETE) */
} srv_timer;
/* The timer whose heap node is n (the node is the first member). */
#define SRV_TIMER(n) ((srv_timer *)(void *)(n))

/* ---- one call ---- */
typedef struct srv_thread srv_thread;
typedef struct op_entry op_entry;

typedef struct srv_call {
    int tag_kind; /* first: completion tags point at the call */
    struct lro_test_server *s;
    srv_thread *t;
    int method; /* M_* */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* unregistered calls only */
    grpc_byte_buffer *payload;
    /* The decoded request (owned, protobuf-c). */
    void *req;
    uint64_t record_seq; /* 0 = not recorded */
    /* Answer state: must live until the answer batch completes. */
    grpc_byte_buffer *send_bb;
    grpc_slice status_msg;
    grpc_metadata trailer;
    int has_trailer;
    int cancelled;
    /* Held (Wait or latency). */
    srv_timer timer;
    op_entry *wentry; /* the operation waited for, or NULL */
    struct srv_call *wprev, *wnext;
    size_t pad_to; /* BIG fault: pad an OK answer to this many bytes */
    char *identity; /* verified identity (auth.c), or NULL */
} srv_call;

/* A delayed lro_test_server_complete/fail. */
typedef struct srv_completion {
    srv_timer timer;
    char *name;
    uint8_t *op_result; /* serialized Operation carrying only the result */
    size_t op_result_len;
} srv_completion;

struct srv_thread {
    struct lro_test_server *s;
    grpc_completion_queue *cq;
    pthread_t th;
    int started;
};

/* ---- store.c ---- */
struct op_entry {
    char *name;
    uint64_t seq;   /* insertion order; kept when replaced in place */
    uint8_t *bytes; /* serialized google.longrunning.Operation */
    size_t len;
    bool done;
    op_entry *hnext;
    srv_call *waiters; /* held WaitOperation calls */
    /* Lifecycle (lifecycle.c): armed while the operation is adopted and
     * pending; owner is this entry. */
    srv_timer lc_timer;
    int64_t lc_born, lc_end; /* lro_now_ms() clock */
    int lc_fail_code;        /* 0 = succeeds */
};

typedef struct srv_store {
    op_entry **vec; /* ordered by seq */
    size_t n, cap;
    op_entry **buckets;
    size_t nbuckets;
    uint64_t next_seq;
} srv_store;

/* ---- faults.c ---- */
typedef struct srv_fault {
    lro_test_fault f; /* strings and buffers below are our copies */
    char *name;
    char *message;
    uint8_t *details;
    uint8_t *garbage;
    char *name_suffix;
    char *reason;
    struct srv_fault *next;
} srv_fault;

/* ---- records.c ---- */
typedef struct srv_header {
    char *key;
    char *value;
    size_t value_len;
} srv_header;

struct lro_test_record {
    uint64_t seq;
    unsigned method;
    char *name, *filter, *page_token;
    int32_t page_size;
    int partial;
    int64_t wait_timeout_ms;
    int64_t deadline_ms;
    int code;
    size_t n_headers;
    srv_header *headers;
    char *identity; /* "" when none */
};

typedef struct srv_counter {
    char *name;
    uint64_t n[SRV_METHODS];
    struct srv_counter *next;
} srv_counter;

typedef struct srv_records {
    lro_test_record **ring;
    size_t cap;        /* record_limit */
    size_t ring_alloc; /* slots allocated (grows to cap) */
    size_t start, n;
    uint64_t next_seq;
    uint64_t total[SRV_METHODS];
    srv_counter **buckets;
    size_t nbuckets, ncounters;
} srv_records;

struct lro_test_server {
    char *target;
    char *unix_path; /* for unix: targets */
    int port;        /* for TCP targets */
    int64_t wait_cap_ms;
    int64_t record_limit;
    grpc_server *server;
    void *rm[SRV_METHODS];
    int nthreads;
    srv_thread *threads;
    atomic_int stopping;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* timer thread; shutdown tag arrival */
    srv_store store;
    lro_heap heap; /* srv_timer nodes (mu) */
    pthread_t timer_th;
    int timer_started;
    int timer_stop;
    int shutdown_seen;
    int shutdown_tag; /* its address is the tag */

    pthread_mutex_t rec_mu;
    srv_records rec;

    pthread_mutex_t fault_mu;
    srv_fault *faults, *faults_tail;

    struct srv_unreachable *unreachable; /* List's unreachable locations (mu) */

    void *admin_rm[SRV_ADMIN_METHODS]; /* admin.c */
    atomic_int admin_on;
    /* Lifecycle parameters (mu); lc_on == 0: off. */
    int lc_on;
    lro_test_lifecycle lc;
    uint64_t lc_adopted; /* operations adopted so far */

    pthread_mutex_t active_mu; /* leaf */
    pthread_cond_t active_cond;
    long active; /* arrived calls not freed yet */
    struct srv_auth *auth; /* credential checks (auth.c), NULL = none */
};

/* unreachable.c: per-parent "unreachable locations" for ListOperations. */
typedef struct srv_unreachable {
    struct srv_unreachable *next;
    char *parent;
    char **locations;
    size_t n;
} srv_unreachable;
/* The entry for parent, or NULL (caller holds s->mu). */
LRO_HIDDEN const srv_unreachable *srv_unreachable_find(lro_test_server *s, const char *parent);
LRO_HIDDEN void srv_unreachable_free(lro_test_server *s);

/* server.c */
LRO_HIDDEN extern const char *const srv_method_paths[SRV_METHODS];
/* Answers the call and hands it back to its queue thread (which frees it).
 * `body` is the serialized response (copied), sent when non-NULL. `trailer_bin`
 * is sent as grpc-status-details-bin when non-NULL. Safe from any thread,
 * with or without s->mu held. */
LRO_HIDDEN void srv_answer(srv_call *c, int code, const char *msg, const uint8_t *body,
                           size_t body_len, const uint8_t *trailer_bin, size_t trailer_len);
/* As srv_answer for a body already in a slice (ownership moves in). */
LRO_HIDDEN void srv_answer_slice(srv_call *c, int code, const char *msg, grpc_slice *body,
                                 const uint8_t *trailer_bin, size_t trailer_len);
/* Answers OK with an empty message (google.protobuf.Empty). */
LRO_HIDDEN void srv_answer_empty(srv_call *c);
/* Decodes the arrived payload as a `d` into c->req (left NULL when missing
 * or not decodable) and releases the payload. */
LRO_HIDDEN void srv_decode_request(srv_call *c, const ProtobufCMessageDescriptor *d);
/* Drops a call without answering (after a disconnect, or at stop). */
LRO_HIDDEN void srv_drop(srv_call *c);
LRO_HIDDEN void srv_call_free(srv_call *c);
/* errors.c: answers an error status with a google.rpc.Status trailer
 * carrying an ErrorInfo (reason from the code, domain "lro-c.testing",
 * metadata {"method": ...}). Safe with or without s->mu held. */
LRO_HIDDEN void srv_answer_error(srv_call *c, int code, const char *msg);
/* As srv_answer_error with an explicit reason (NULL = from the code) and,
 * when bad_field is not NULL, a google.rpc.BadRequest field violation. */
LRO_HIDDEN void srv_answer_error_ex(srv_call *c, int code, const char *msg, const char *reason,
                                    const char *bad_field);
struct Google__Rpc__Status;
struct Google__Protobuf__Any;
typedef struct srv_status_spec {
    int code;
    const char *message;
    const char *reason;                      /* NULL = from the code */
    int method;                              /* M_* for the ErrorInfo metadata */
    const char *bad_field;                   /* NULL = no BadRequest */
    const struct Google__Rpc__Status *given; /* details to include, or NULL */
    int64_t retry_delay_ms;                  /* >= 0 adds a RetryInfo */
} srv_status_spec;
/* Serialized google.rpc.Status: [ErrorInfo unless `given` has one], the
 * given details, [BadRequest], [RetryInfo]. *out is lro_malloc'd. */
LRO_HIDDEN int srv_build_status(const srv_status_spec *sp, uint8_t **out, size_t *len);
/* "GetOperation" for M_GET, ...; "unknown" otherwise. */
LRO_HIDDEN const char *srv_method_short(int method);

/* timers.c (all with s->mu held) */
/* LRO_OK or LRO_ERR_NOMEM (then the caller must not hold). */
LRO_HIDDEN int heap_push(lro_test_server *s, srv_timer *t);
LRO_HIDDEN void heap_remove(lro_test_server *s, srv_timer *t);
LRO_HIDDEN int timers_start(lro_test_server *s);
/* Stops and joins the timer thread (s->mu NOT held). */
LRO_HIDDEN void timers_stop(lro_test_server *s);

/* store.c (s->mu held unless said otherwise) */
LRO_HIDDEN void store_init(srv_store *st);
LRO_HIDDEN void store_free(lro_test_server *s);
LRO_HIDDEN op_entry *store_find(srv_store *st, const char *name);
/* Index of the first entry with seq >= seq. */
LRO_HIDDEN size_t store_lower_bound(srv_store *st, uint64_t seq);
/* Marks the operation done with the result carried by `result_op` (a
 * serialized Operation whose error/response is copied) and answers its
 * waiters. LRO_OK, LRO_ERR_INVALID_ARG (unknown), LRO_ERR_STATE (done). */
LRO_HIDDEN int store_finish(lro_test_server *s, const char *name, const uint8_t *result_op,
                            size_t len);
/* Replaces e's metadata (type_url NULL: none). LRO_OK or LRO_ERR_NOMEM. */
LRO_HIDDEN int store_set_metadata(op_entry *e, const char *type_url, const uint8_t *meta,
                                  size_t meta_len);
/* lifecycle.c (s->mu held): adopts e if a lifecycle is on and e is pending
 * and not adopted yet; fires its timer. */
LRO_HIDDEN void lifecycle_adopt(lro_test_server *s, op_entry *e);
LRO_HIDDEN void lifecycle_fire(lro_test_server *s, op_entry *e);
/* Removes an operation; waiters get NOT_FOUND. */
LRO_HIDDEN int store_delete(lro_test_server *s, const char *name);
LRO_HIDDEN void waiter_add(op_entry *e, srv_call *c);
LRO_HIDDEN void waiter_remove(srv_call *c);
/* Builds the serialized Operation carrying error (code, message, details of
 * `details_status`) into *out (lro_malloc'd). */
LRO_HIDDEN int build_error_result(int code, const char *message, const uint8_t *details_status,
                                  size_t details_len, uint8_t **out, size_t *len);
/* The same with the n details given as they are (borrowed). */
LRO_HIDDEN int build_error_op(int code, const char *message,
                              struct Google__Protobuf__Any *const *details, size_t n, uint8_t **out,
                              size_t *len);
/* The serialized Operation {done, response: Any {type_url, resp}} (type_url
 * NULL: done with no result) into *out (lro_malloc'd). */
LRO_HIDDEN int build_response_result(const char *type_url, const uint8_t *resp, size_t resp_len,
                                     uint8_t **out, size_t *len);

/* handlers.c: a call arrived: decode, record, faults, then the method.
 * s->mu NOT held. */
LRO_HIDDEN void handle_arrival(srv_call *c);
/* Runs the method (faults already handled). s->mu NOT held. */
LRO_HIDDEN void handle_call(srv_call *c);
/* Wait timer fired (s->mu held): answers with the current state. */
LRO_HIDDEN void wait_timed_out(srv_call *c);

/* faults.c */
/* Applies a matching fault, if any. Returns 1 when the call was taken care
 * of (answered, dropped or held), 0 to go on with the real method. */
LRO_HIDDEN int faults_apply(srv_call *c, const char *name);
LRO_HIDDEN void faults_free(lro_test_server *s);

/* auth.c: checks the call's credentials and sets c->identity. 1 accepted,
 * 0 refused (the reason, without secrets, in why). */
LRO_HIDDEN int srv_auth_check(srv_call *c, char *why, size_t ycap);
LRO_HIDDEN void srv_auth_free(lro_test_server *s);

/* records.c */
LRO_HIDDEN void records_init(srv_records *r, int64_t limit);
LRO_HIDDEN void records_free(srv_records *r);
/* Counts and (space permitting) records the arrived call; sets c->record_seq. */
LRO_HIDDEN void records_add(srv_call *c, const char *name);
LRO_HIDDEN void records_set_code(lro_test_server *s, uint64_t seq, int code);

/* pagetoken.c */
/* Token text (lro_malloc'd) for resuming at `seq` with parent/filter. */
LRO_HIDDEN char *pagetoken_make(uint64_t seq, const char *parent, const char *filter);
/* LRO_OK and *seq, or LRO_ERR_INVALID_ARG (bad, or made for another
 * parent/filter: *mismatch set). */
LRO_HIDDEN int pagetoken_parse(const char *tok, const char *parent, const char *filter,
                               uint64_t *seq, int *mismatch);

/* disconnect.c: shuts down the socket(s) carrying this call. Returns how
 * many sockets were shut down. */
LRO_HIDDEN int disconnect_call(srv_call *c);

/* admin.c: registers the admin methods (before grpc_server_start); an admin
 * call arrived (s->mu NOT held). */
LRO_HIDDEN void admin_register(lro_test_server *s);
LRO_HIDDEN void admin_arrival(srv_call *c);

/* pack.c: encoding (no lock needed). Buffers are lro_malloc'd. */
/* m serialized into *out. LRO_OK or LRO_ERR_NOMEM. */
LRO_HIDDEN int srv_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len);
/* m packed into *a (initialised here) with type_url (borrowed); the caller
 * frees a->value.data, which is NULL on failure. */
LRO_HIDDEN int srv_pack_any(struct Google__Protobuf__Any *a, const char *type_url,
                            const ProtobufCMessage *m);
/* srv_pack_any of a google.rpc.ErrorInfo {reason, domain, metadata {key: value}}. */
LRO_HIDDEN int srv_pack_error_info(struct Google__Protobuf__Any *a, const char *reason,
                                   const char *domain, const char *key, const char *value);
/* One field of a google.protobuf.Struct: the string str, or when str is NULL
 * the number num. */
typedef struct srv_field {
    const char *key;
    const char *str;
    double num;
} srv_field;
#define SRV_STRUCT_MAX 4
/* srv_pack_any of a google.protobuf.Struct with the n (<= SRV_STRUCT_MAX)
 * fields f, in that order. */
LRO_HIDDEN int srv_pack_struct(struct Google__Protobuf__Any *a, const srv_field *f, size_t n);
/* Base-128 varints for hand-written wire data: the encoded size of v, and
 * v written at w (returns the byte after it). */
LRO_HIDDEN size_t srv_varint_len(size_t v);
LRO_HIDDEN uint8_t *srv_put_varint(uint8_t *w, size_t v);

/* Small helpers shared by the files (store.c). */
LRO_HIDDEN uint64_t srv_hash(const void *p, size_t n, uint64_t h);
#define SRV_FNV_SEED 1469598103934665603ull
/* *n read under mu: the public counts (lro_test_server_count, _record_count). */
LRO_HIDDEN size_t srv_locked_count(pthread_mutex_t *mu, const size_t *n);

#endif /* LRO_SERVER_INT_H */
