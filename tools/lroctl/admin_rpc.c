/* lroctl admin, the wire side: a channel from the connection flags and one
 * unary call of lro.testing.v1.OperationsAdmin with grpc core (lro-c's
 * client speaks only google.longrunning.Operations): one call, one batch of
 * the six client ops, a pluck queue. */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "admin_int.h"

#define SERVICE "/lro.testing.v1.OperationsAdmin/"
/* ---- the adm_unary call ---- */

static char *slice_str(grpc_slice s)
{
    size_t n = GRPC_SLICE_LENGTH(s);
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, GRPC_SLICE_START_PTR(s), n);
        p[n] = '\0';
    }
    return p;
}

char *adm_read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f) || n > max;
    fclose(f);
    if (buf == NULL || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

grpc_channel *adm_channel(const conn_opts *co, int *exit_code)
{
    *exit_code = EXIT_OK;
    grpc_arg args[2];
    size_t nargs = 0;
    if (co->max_message > 0) {
        args[nargs].type = GRPC_ARG_INTEGER;
        args[nargs].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
        args[nargs++].value.integer = (int)co->max_message;
    }
    grpc_channel_credentials *creds;
    if (co->plaintext) {
        if (co->ca_file != NULL) {
            die_msg("--ca-file and --plaintext contradict each other");
            *exit_code = EXIT_USAGE;
            return NULL;
        }
        creds = grpc_insecure_credentials_create();
    } else {
        char *pem = NULL;
        size_t len = 0;
        if (co->ca_file != NULL && (pem = adm_read_file(co->ca_file, 1 << 20, &len)) == NULL) {
            die_msg("--ca-file: cannot read '%s'", co->ca_file);
            *exit_code = EXIT_LOCAL;
            return NULL;
        }
        creds = grpc_ssl_credentials_create(pem, NULL, NULL, NULL); /* copies pem */
        free(pem);
        if (co->tls_server_name != NULL) {
            args[nargs].type = GRPC_ARG_STRING;
            args[nargs].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
            args[nargs++].value.string = (char *)co->tls_server_name;
        }
    }
    grpc_channel_args ca = {nargs, args};
    grpc_channel *ch = grpc_channel_create(co->target, creds, &ca);
    grpc_channel_credentials_release(creds);
    return ch;
}

/* One adm_unary call of the admin service. Returns EXIT_OK with *out filled
 * (code, message, and resp when OK and decodable), or a local exit code. */
int adm_unary(const conn_opts *co, grpc_channel *ch, const char *method,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
              rpc_out *out)
{
    memset(out, 0, sizeof *out);
    size_t n = protobuf_c_message_get_packed_size(req);
    grpc_slice body = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(body));
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);

    char path[128];
    snprintf(path, sizeof path, SERVICE "%s", method);
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    int64_t ms = co->timeout_ms > 0 ? co->timeout_ms : 30000;
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
    grpc_slice mslice = grpc_slice_from_copied_string(path);
    grpc_call *call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, mslice, NULL,
                                               deadline, NULL);
    grpc_slice_unref(mslice);

    grpc_metadata md[sizeof co->headers / sizeof co->headers[0]];
    for (size_t i = 0; i < co->header_count; i++) {
        memset(&md[i], 0, sizeof md[i]);
        md[i].key = grpc_slice_from_copied_string(co->headers[i].key);
        md[i].value = grpc_slice_from_copied_string(co->headers[i].value);
    }
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *recv = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    const char *err_string = NULL;

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = co->header_count;
    ops[0].data.send_initial_metadata.metadata = co->header_count > 0 ? md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.error_string = &err_string;
    int rc = EXIT_OK;
    if (grpc_call_start_batch(call, ops, 6, call, NULL) != GRPC_CALL_OK) {
        die_msg("admin: cannot start the call");
        rc = EXIT_LOCAL;
    } else {
        grpc_event ev =
            grpc_completion_queue_pluck(cq, call, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            die_msg("admin: the call did not complete");
            rc = EXIT_LOCAL;
        }
    }
    if (rc == EXIT_OK) {
        out->code = (int)status;
        out->message = slice_str(details);
        if (status == GRPC_STATUS_OK && recv != NULL) {
            grpc_byte_buffer_reader r;
            if (grpc_byte_buffer_reader_init(&r, recv)) {
                grpc_slice raw = grpc_byte_buffer_reader_readall(&r);
                grpc_byte_buffer_reader_destroy(&r);
                out->resp = protobuf_c_message_unpack(resp_desc, NULL, GRPC_SLICE_LENGTH(raw),
                                                      GRPC_SLICE_START_PTR(raw));
                grpc_slice_unref(raw);
            }
        }
        for (size_t i = 0; status != GRPC_STATUS_OK && i < trailing.count; i++) {
            if (grpc_slice_str_cmp(trailing.metadata[i].key, "grpc-status-details-bin") == 0) {
                grpc_slice v = trailing.metadata[i].value;
                out->status = google__rpc__status__unpack(NULL, GRPC_SLICE_LENGTH(v),
                                                          GRPC_SLICE_START_PTR(v));
            }
        }
        if (status == GRPC_STATUS_OK && out->resp == NULL) {
            out->code = LRO_CODE_INTERNAL;
            free(out->message);
            out->message = strdup("the server's answer does not decode as the response type");
        }
    }
    for (size_t i = 0; i < co->header_count; i++) {
        grpc_slice_unref(md[i].key);
        grpc_slice_unref(md[i].value);
    }
    grpc_byte_buffer_destroy(send);
    if (recv != NULL) {
        grpc_byte_buffer_destroy(recv);
    }
    grpc_slice_unref(details);
    gpr_free((void *)err_string);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
    return rc;
}
