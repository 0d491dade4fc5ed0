/*
 * tclient.h - a plain grpc-core client for the server tests: no lro-c client
 * code, so the embedded server is proven on its own. One call = one batch of
 * the six client ops on a completion queue.
 */
#ifndef LRO_TESTS_TCLIENT_H
#define LRO_TESTS_TCLIENT_H

#include <grpc/grpc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { TC_LIST = 0, TC_GET, TC_DELETE, TC_CANCEL, TC_WAIT, TC_BOGUS };

typedef struct tc_result {
    int code;
    char *message;       /* malloc'd */
    uint8_t *body;       /* malloc'd response bytes, NULL if none */
    size_t body_len;
    int has_body;
    uint8_t *details;    /* grpc-status-details-bin, malloc'd, NULL if none */
    size_t details_len;
} tc_result;

typedef struct tc_call tc_call; /* one call in flight */

grpc_channel *tc_channel(const char *target);
/* Starts a call on cq; headers is "key", "value", ... NULL-terminated (or
 * NULL). timeout_ms < 0: no deadline. */
tc_call *tc_start(grpc_channel *ch, grpc_completion_queue *cq, int method, const uint8_t *req,
                  size_t len, const char *const *headers, int64_t timeout_ms);
/* Waits for any call on cq; returns it (its result filled in). */
tc_call *tc_next(grpc_completion_queue *cq);
tc_result *tc_result_of(tc_call *c);
void tc_call_free(tc_call *c);
/* Blocking: one call, its own queue. */
void tc_do(grpc_channel *ch, int method, const uint8_t *req, size_t len,
           const char *const *headers, int64_t timeout_ms, tc_result *out);
void tc_result_clear(tc_result *r);

/* Requests, encoded with protobuf-c. Result malloc'd in *out. */
size_t tc_enc_name(int method, const char *name, uint8_t **out);
size_t tc_enc_list(const char *parent, const char *filter, int32_t page_size, const char *token,
                   uint8_t **out);
size_t tc_enc_wait(const char *name, int64_t timeout_ms, uint8_t **out); /* <0: no timeout */

/* Convenience: Get/Cancel/Delete/Wait by name. */
void tc_name_call(grpc_channel *ch, int method, const char *name, tc_result *out);

int tc_thread_count(void); /* from /proc/self/status */

#endif
