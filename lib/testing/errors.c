/*
 * errors.c - the google.rpc.Status every error answer carries in its
 * "grpc-status-details-bin" trailer. Google's servers always send one with
 * a google.rpc.ErrorInfo (reason, domain, metadata), so clients under test
 * meet the details parsing path on every error, not only on injected ones.
 */
#include <string.h>

#include "google/protobuf/duration.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "server_int.h"

#define ERR_DOMAIN "lro-c.testing"

const char *srv_method_short(int method)
{
    if (method < 0 || method >= SRV_METHODS) {
        return "unknown";
    }
    const char *slash = strrchr(srv_method_paths[method], '/');
    return slash + 1;
}

static const char *reason_of(int code)
{
    switch (code) {
    case LRO_CODE_NOT_FOUND:
        return "OPERATION_NOT_FOUND";
    case LRO_CODE_INVALID_ARGUMENT:
        return "INVALID_REQUEST";
    case LRO_CODE_UNIMPLEMENTED:
        return "METHOD_NOT_IMPLEMENTED";
    case LRO_CODE_UNAVAILABLE:
        return "LOCATION_UNREACHABLE";
    case LRO_CODE_RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
    default:
        return "SERVER_ERROR";
    }
}

static int has_error_info(const Google__Rpc__Status *given)
{
    for (size_t i = 0; given != NULL && i < given->n_details; i++) {
        const char *u = given->details[i]->type_url;
        const char *slash = u != NULL ? strrchr(u, '/') : NULL;
        if (slash != NULL && strcmp(slash + 1, "google.rpc.ErrorInfo") == 0) {
            return 1;
        }
    }
    return 0;
}

int srv_build_status(const srv_status_spec *sp, uint8_t **out, size_t *len)
{
    const Google__Rpc__Status *given = sp->given;
    size_t ng = given != NULL ? given->n_details : 0;
    Google__Protobuf__Any **dets = lro_calloc(ng + 3, sizeof *dets);
    Google__Protobuf__Any own[3]; /* ErrorInfo, BadRequest, RetryInfo */
    size_t nown = 0, nd = 0;
    int rc = dets != NULL ? LRO_OK : LRO_ERR_NOMEM;

    if (rc == LRO_OK && !has_error_info(given)) {
        rc = srv_pack_error_info(&own[nown], sp->reason != NULL ? sp->reason : reason_of(sp->code),
                                 ERR_DOMAIN, "method", srv_method_short(sp->method));
        if (rc == LRO_OK) {
            dets[nd++] = &own[nown++];
        }
    }
    for (size_t i = 0; rc == LRO_OK && i < ng; i++) {
        dets[nd++] = given->details[i];
    }
    if (rc == LRO_OK && sp->bad_field != NULL) {
        Google__Rpc__BadRequest__FieldViolation fv =
            GOOGLE__RPC__BAD_REQUEST__FIELD_VIOLATION__INIT;
        fv.field = (char *)sp->bad_field;
        fv.description = (char *)(sp->message != NULL ? sp->message : "");
        Google__Rpc__BadRequest__FieldViolation *fvs[1] = {&fv};
        Google__Rpc__BadRequest br = GOOGLE__RPC__BAD_REQUEST__INIT;
        br.n_field_violations = 1;
        br.field_violations = fvs;
        rc = srv_pack_any(&own[nown], "type.googleapis.com/google.rpc.BadRequest", &br.base);
        if (rc == LRO_OK) {
            dets[nd++] = &own[nown++];
        }
    }
    if (rc == LRO_OK && sp->retry_delay_ms >= 0) {
        Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
        d.seconds = sp->retry_delay_ms / 1000;
        d.nanos = (int32_t)(sp->retry_delay_ms % 1000) * 1000000;
        Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
        ri.retry_delay = &d;
        rc = srv_pack_any(&own[nown], "type.googleapis.com/google.rpc.RetryInfo", &ri.base);
        if (rc == LRO_OK) {
            dets[nd++] = &own[nown++];
        }
    }
    if (rc == LRO_OK) {
        Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
        st.code = sp->code;
        st.message = (char *)(sp->message != NULL ? sp->message : "");
        st.n_details = nd;
        st.details = dets;
        rc = srv_pack(&st.base, out, len);
    }
    for (size_t i = 0; i < nown; i++) {
        lro_free(own[i].value.data);
    }
    lro_free(dets);
    return rc;
}

void srv_answer_error_ex(srv_call *c, int code, const char *msg, const char *reason,
                         const char *bad_field)
{
    srv_status_spec sp = {code, msg, reason, c->method, bad_field, NULL, -1};
    uint8_t *b = NULL;
    size_t n = 0;
    if (srv_build_status(&sp, &b, &n) != LRO_OK) {
        srv_answer(c, code, msg, NULL, 0, NULL, 0); /* out of memory: the status alone */
        return;
    }
    srv_answer(c, code, msg, NULL, 0, b, n);
    lro_free(b);
}

void srv_answer_error(srv_call *c, int code, const char *msg)
{
    srv_answer_error_ex(c, code, msg, NULL, NULL);
}
