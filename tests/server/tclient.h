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

#include "check.h"

enum { TC_LIST = 0, TC_GET, TC_DELETE, TC_CANCEL, TC_WAIT, TC_BOGUS };

typedef struct tc_result {
    int code;
    char *message; /* malloc'd */
    uint8_t *body; /* malloc'd response bytes, NULL if none */
    size_t body_len;
    int has_body;
    uint8_t *details; /* grpc-status-details-bin, malloc'd, NULL if none */
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
void tc_do(grpc_channel *ch, int method, const uint8_t *req, size_t len, const char *const *headers,
           int64_t timeout_ms, tc_result *out);
void tc_result_clear(tc_result *r);

/* Requests, encoded with protobuf-c. Result malloc'd in *out. */
size_t tc_enc_name(int method, const char *name, uint8_t **out);
size_t tc_enc_list(const char *parent, const char *filter, int32_t page_size, const char *token,
                   uint8_t **out);
size_t tc_enc_wait(const char *name, int64_t timeout_ms, uint8_t **out); /* <0: no timeout */

/* Convenience: Get/Cancel/Delete/Wait by name. */
void tc_name_call(grpc_channel *ch, int method, const char *name, tc_result *out);

int tc_thread_count(void);
/* Milliseconds on the monotonic clock. */
int64_t tc_now_ms(void);
/* Shuts cq down, drains what is left on it and destroys it. */
void tc_queue_destroy(grpc_completion_queue *cq);
/* A unix socket path in a fresh private directory (mkdtemp under /tmp: the
 * sandbox's TEST_TMPDIR is too long for sun_path, and PIDs repeat across
 * parallel sandboxes). Writes "<dir>/s.sock" into path; tc_unix_done
 * removes the directory. */
void tc_unix_path(char *path, size_t size);
void tc_unix_done(const char *path);
/* Calls started after this carry GRPC_INITIAL_METADATA_WAIT_FOR_READY. */
void tc_set_wait_for_ready(int on);
/* Polls the channel state until it is not READY (the dropped connection
 * was noticed); returns 1, or 0 after timeout_ms. */
int tc_wait_not_ready(grpc_channel *ch, int timeout_ms); /* from /proc/self/status */

#endif
