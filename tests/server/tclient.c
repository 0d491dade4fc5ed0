/* tclient.c - see tclient.h. */
#include "tclient.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "google/longrunning/operations.pb-c.h"

static const char *const paths[] = {
    "/google.longrunning.Operations/ListOperations",
    "/google.longrunning.Operations/GetOperation",
    "/google.longrunning.Operations/DeleteOperation",
    "/google.longrunning.Operations/CancelOperation",
    "/google.longrunning.Operations/WaitOperation",
    "/google.longrunning.Operations/NoSuchMethod",
};

struct tc_call {
    grpc_call *call;
    grpc_metadata_array init_md, trail_md;
    grpc_byte_buffer *recv;
    grpc_status_code status;
    grpc_slice details;
    grpc_metadata send_md[16];
    tc_result res;
};

static int g_wait_for_ready;

void tc_set_wait_for_ready(int on)
{
    g_wait_for_ready = on;
}

int tc_wait_not_ready(grpc_channel *ch, int timeout_ms)
{
    for (int i = 0; i < timeout_ms; i += 5) {
        if (grpc_channel_check_connectivity_state(ch, 0) != GRPC_CHANNEL_READY) {
            return 1;
        }
        usleep(5000);
    }
    return 0;
}

grpc_channel *tc_channel(const char *target)
{
    grpc_channel_credentials *cr = grpc_insecure_credentials_create();
    grpc_arg arg;
    arg.type = GRPC_ARG_INTEGER;
    arg.key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    arg.value.integer = 64 << 20;
    grpc_channel_args args = {1, &arg};
    grpc_channel *ch = grpc_channel_create(target, cr, &args);
    grpc_channel_credentials_release(cr);
    return ch;
}

tc_call *tc_start(grpc_channel *ch, grpc_completion_queue *cq, int method, const uint8_t *req,
                  size_t len, const char *const *headers, int64_t timeout_ms)
{
    tc_call *c = calloc(1, sizeof *c);
    CHECK(c != NULL);
    gpr_timespec dl = timeout_ms < 0 ? gpr_inf_future(GPR_CLOCK_REALTIME)
                                     : gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                                                    gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_slice path = grpc_slice_from_static_string(paths[method]);
    c->call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, dl, NULL);
    CHECK(c->call != NULL);
    grpc_metadata_array_init(&c->init_md);
    grpc_metadata_array_init(&c->trail_md);
    size_t nmd = 0;
    for (size_t i = 0; headers != NULL && headers[i] != NULL && nmd < 16; i += 2) {
        c->send_md[nmd].key = grpc_slice_from_copied_string(headers[i]);
        c->send_md[nmd].value = grpc_slice_from_copied_string(headers[i + 1]);
        nmd++;
    }
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)req, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = nmd;
    ops[0].data.send_initial_metadata.metadata = c->send_md;
    ops[0].flags = g_wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &c->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &c->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &c->trail_md;
    ops[5].data.recv_status_on_client.status = &c->status;
    ops[5].data.recv_status_on_client.status_details = &c->details;
    CHECK(grpc_call_start_batch(c->call, ops, 6, c, NULL) == GRPC_CALL_OK);
    grpc_byte_buffer_destroy(bb); /* the batch moved its slices out */
    for (size_t i = 0; i < nmd; i++) {
        grpc_slice_unref(c->send_md[i].key);
        grpc_slice_unref(c->send_md[i].value);
    }
    return c;
}

static void finish(tc_call *c)
{
    tc_result *r = &c->res;
    r->code = (int)c->status;
    r->message = grpc_slice_to_c_string(c->details);
    if (c->recv != NULL) {
        grpc_byte_buffer_reader rd;
        CHECK(grpc_byte_buffer_reader_init(&rd, c->recv));
        grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
        grpc_byte_buffer_reader_destroy(&rd);
        r->body_len = GRPC_SLICE_LENGTH(all);
        r->body = malloc(r->body_len + 1);
        memcpy(r->body, GRPC_SLICE_START_PTR(all), r->body_len);
        r->has_body = 1;
        grpc_slice_unref(all);
        grpc_byte_buffer_destroy(c->recv);
        c->recv = NULL;
    }
    for (size_t i = 0; i < c->trail_md.count; i++) {
        if (grpc_slice_str_cmp(c->trail_md.metadata[i].key, "grpc-status-details-bin") == 0) {
            grpc_slice v = c->trail_md.metadata[i].value;
            r->details_len = GRPC_SLICE_LENGTH(v);
            r->details = malloc(r->details_len + 1);
            memcpy(r->details, GRPC_SLICE_START_PTR(v), r->details_len);
        }
    }
}

tc_call *tc_next(grpc_completion_queue *cq)
{
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    CHECK(ev.type == GRPC_OP_COMPLETE);
    CHECK(ev.success);
    tc_call *c = ev.tag;
    finish(c);
    return c;
}

tc_result *tc_result_of(tc_call *c)
{
    return &c->res;
}

void tc_result_clear(tc_result *r)
{
    if (r->message != NULL) {
        gpr_free(r->message);
    }
    free(r->body);
    free(r->details);
    memset(r, 0, sizeof *r);
}

void tc_call_free(tc_call *c)
{
    tc_result_clear(&c->res);
    grpc_metadata_array_destroy(&c->init_md);
    grpc_metadata_array_destroy(&c->trail_md);
    grpc_slice_unref(c->details);
    grpc_call_unref(c->call);
    free(c);
}

void tc_do(grpc_channel *ch, int method, const uint8_t *req, size_t len, const char *const *headers,
           int64_t timeout_ms, tc_result *out)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_next(NULL);
    tc_call *c = tc_start(ch, cq, method, req, len, headers, timeout_ms);
    tc_call *d = tc_next(cq);
    CHECK(d == c);
    *out = c->res;
    memset(&c->res, 0, sizeof c->res);
    tc_call_free(c);
    tc_queue_destroy(cq);
}

static size_t pack(const ProtobufCMessage *m, uint8_t **out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    *out = malloc(n + 1);
    protobuf_c_message_pack(m, *out);
    return n;
}

size_t tc_enc_name(int method, const char *name, uint8_t **out)
{
    /* Get/Delete/Cancel requests share the shape {string name = 1}. */
    (void)method;
    Google__Longrunning__GetOperationRequest q = GOOGLE__LONGRUNNING__GET_OPERATION_REQUEST__INIT;
    q.name = (char *)name;
    return pack(&q.base, out);
}

size_t tc_enc_list(const char *parent, const char *filter, int32_t page_size, const char *token,
                   uint8_t **out)
{
    Google__Longrunning__ListOperationsRequest q =
        GOOGLE__LONGRUNNING__LIST_OPERATIONS_REQUEST__INIT;
    q.name = (char *)parent;
    q.filter = (char *)(filter ? filter : "");
    q.page_size = page_size;
    q.page_token = (char *)(token ? token : "");
    return pack(&q.base, out);
}

size_t tc_enc_wait(const char *name, int64_t timeout_ms, uint8_t **out)
{
    Google__Longrunning__WaitOperationRequest q = GOOGLE__LONGRUNNING__WAIT_OPERATION_REQUEST__INIT;
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    q.name = (char *)name;
    if (timeout_ms >= 0) {
        d.seconds = timeout_ms / 1000;
        d.nanos = (int32_t)(timeout_ms % 1000) * 1000000;
        q.timeout = &d;
    }
    return pack(&q.base, out);
}

void tc_name_call(grpc_channel *ch, int method, const char *name, tc_result *out)
{
    uint8_t *b;
    size_t n = method == TC_WAIT ? tc_enc_wait(name, -1, &b) : tc_enc_name(method, name, &b);
    tc_do(ch, method, b, n, NULL, 10000, out);
    free(b);
}

int tc_thread_count(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "Threads:", 8) == 0) {
            n = atoi(line + 8);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    return n;
}

void tc_unix_path(char *path, size_t size)
{
    char dir[] = "/tmp/lro-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, size, "%s/s.sock", dir);
}

void tc_unix_done(const char *path)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    CHECK(slash != NULL);
    unlink(path);
    *slash = '\0';
    rmdir(dir);
}

int64_t tc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tc_queue_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}
