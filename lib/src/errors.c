/* Static texts for result codes and gRPC codes; version queries. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "lro_int.h"

int lro_version(void)
{
    return LRO_VERSION_NUMBER;
}

const char *lro_version_string(void)
{
    return LRO_VERSION_STRING;
}

struct err_text {
    int code;
    const char *name;
    const char *text;
};

static const struct err_text k_errs[] = {
    {LRO_OK, "LRO_OK", "success"},
    {LRO_ERR_INVALID_ARG, "LRO_ERR_INVALID_ARG", "invalid argument"},
    {LRO_ERR_NOMEM, "LRO_ERR_NOMEM", "out of memory"},
    {LRO_ERR_BAD_NAME, "LRO_ERR_BAD_NAME",
     "invalid name (empty, too long, not UTF-8, or control characters)"},
    {LRO_ERR_BAD_HEADER, "LRO_ERR_BAD_HEADER",
     "invalid header (key must be lowercase [0-9a-z_.-], not reserved; value printable ASCII)"},
    {LRO_ERR_SHUTDOWN, "LRO_ERR_SHUTDOWN", "client is shut down"},
    {LRO_ERR_CANCELLED, "LRO_ERR_CANCELLED", "cancelled locally"},
    {LRO_ERR_RPC, "LRO_ERR_RPC", "RPC failed (see its status)"},
    {LRO_ERR_DECODE, "LRO_ERR_DECODE", "server sent a response that does not decode"},
    {LRO_ERR_NOT_DONE, "LRO_ERR_NOT_DONE", "not done yet"},
    {LRO_ERR_TIMEOUT, "LRO_ERR_TIMEOUT", "timed out"},
    {LRO_ERR_OP_FAILED, "LRO_ERR_OP_FAILED", "operation finished with an error"},
    {LRO_ERR_OP_CANCELLED, "LRO_ERR_OP_CANCELLED", "operation was cancelled"},
    {LRO_ERR_TYPE_MISMATCH, "LRO_ERR_TYPE_MISMATCH", "Any holds a different message type"},
    {LRO_ERR_STATE, "LRO_ERR_STATE", "not allowed in the current state"},
    {LRO_ERR_INTERNAL, "LRO_ERR_INTERNAL", "internal error"},
    {LRO_ERR_UNSUPPORTED, "LRO_ERR_UNSUPPORTED", "not supported"},
    {LRO_ERR_END, "LRO_ERR_END", "no more items"},
    {LRO_ERR_IO, "LRO_ERR_IO", "I/O error"},
};

static const struct err_text *find_err(int err)
{
    for (size_t i = 0; i < sizeof k_errs / sizeof k_errs[0]; i++) {
        if (k_errs[i].code == err) {
            return &k_errs[i];
        }
    }
    return NULL;
}

/* The text behind lro_last_error(): per thread, so threads never see each
 * other's failures and nothing needs a lock. */
static _Thread_local char tls_error[1024]; /* room for two file paths */

const char *lro_last_error(void)
{
    return tls_error;
}

void lro_error_clear(void)
{
    tls_error[0] = '\0';
}

int lro_fail(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_error, sizeof tls_error, fmt, ap);
    va_end(ap);
    return rc;
}

const char *lro_strerror(int err)
{
    const struct err_text *e = find_err(err);
    return e ? e->text : "unknown error";
}

const char *lro_err_name(int err)
{
    const struct err_text *e = find_err(err);
    return e ? e->name : "LRO_ERR_UNKNOWN";
}

const char *lro_code_name(int code)
{
    static const char *const names[] = {
        "OK",           "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED", "NOT_FOUND",    "ALREADY_EXISTS", "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
        "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",    "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    if (code < 0 || code > 16) {
        return "UNKNOWN_CODE";
    }
    return names[code];
}

int64_t lro_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t lro_now_ms(void)
{
    return lro_now_ns() / 1000000;
}
