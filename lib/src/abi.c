/* The caller-facing half of the ABI rules in lro/common.h: every versioned
 * struct a caller hands in is validated and copied here, once, and the
 * argument checks that used to be repeated per call site live here too. */
#include <stdio.h>
#include <string.h>

#include "lro_int.h"

/* ---- The layouts 0.1 shipped ----------------------------------------------
 * Declared as 0.1 declared them, so that the "0.1 size" of each struct is
 * whatever the compiler makes of that layout on this platform (40 bytes for
 * lro_list_args on LP64, 20 on i386) instead of a number written down for one
 * ABI. An int stands in for 0.1's enum members (what every common ABI used). */
typedef struct {
    uint32_t struct_size;
    int max_attempts;
    int64_t initial_backoff_ms;
    double multiplier;
    int64_t max_backoff_ms;
    double jitter;
    int64_t total_timeout_ms;
    uint32_t retry_codes;
} retry_policy_0_1;

typedef struct {
    const char *key;
    const char *value;
} header_0_1;

typedef struct {
    uint32_t struct_size;
    int64_t timeout_ms;
    const header_0_1 *headers;
    size_t header_count;
    const lro_retry_policy *retry;
} call_options_0_1;

typedef struct {
    uint32_t struct_size;
    const char *filter;
    int32_t page_size;
    const char *page_token;
    int return_partial_success;
} list_args_0_1;

typedef struct {
    uint32_t struct_size;
    int64_t initial_delay_ms;
    double multiplier;
    int64_t max_delay_ms;
    double jitter;
    int64_t total_timeout_ms;
    int method;
    int64_t wait_timeout_ms;
} poll_policy_0_1;

/* A versioned struct type as normalize() below takes it in. */
typedef struct versioned_type {
    const char *what;      /* the type's name, for error texts */
    const uint32_t *sizes; /* the sizes shipped (k_*_sizes) */
    size_t n_sizes;
    /* Validates the copy, clearing what old layouts left undefined (reserved
     * padding); `in` is the caller's struct (NULL: the copy is the defaults),
     * whose struct_size says which layout it was. LRO_OK or an lro_fail(). */
    int (*check)(void *copy, const void *in);
} versioned_type;

static int check_retry(void *copy, const void *in);
static int check_call_options(void *copy, const void *in);
static int check_list_args(void *copy, const void *in);
static int check_poll_policy(void *copy, const void *in);

/* Sizes shipped per struct, oldest first; the last one is today's. */
static const uint32_t k_retry_sizes[] = {sizeof(retry_policy_0_1), sizeof(lro_retry_policy)};
static const uint32_t k_call_sizes[] = {sizeof(call_options_0_1), sizeof(lro_call_options)};
static const uint32_t k_list_sizes[] = {sizeof(list_args_0_1), sizeof(lro_list_args)};
static const uint32_t k_poll_sizes[] = {sizeof(poll_policy_0_1), sizeof(lro_poll_policy)};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const versioned_type k_retry = {"lro_retry_policy", k_retry_sizes, N_OF(k_retry_sizes),
                                       check_retry};
static const versioned_type k_call = {"lro_call_options", k_call_sizes, N_OF(k_call_sizes),
                                      check_call_options};
static const versioned_type k_list = {"lro_list_args", k_list_sizes, N_OF(k_list_sizes),
                                      check_list_args};
static const versioned_type k_poll = {"lro_poll_policy", k_poll_sizes, N_OF(k_poll_sizes),
                                      check_poll_policy};

int lro_versioned_copy(void *dst, size_t dst_size, const void *src, const uint32_t *known_sizes,
                       size_t n_known, const char *what)
{
    if (src == NULL) {
        return LRO_OK;
    }
    uint32_t size;
    memcpy(&size, src, sizeof size); /* struct_size is always the first member */
    for (size_t i = 0; i < n_known; i++) {
        if (size == known_sizes[i] && size <= dst_size) {
            memcpy(dst, src, size);
            uint32_t mine = (uint32_t)dst_size;
            memcpy(dst, &mine, sizeof mine);
            return LRO_OK;
        }
    }
    /* "(40, 48)": the distinct sizes, in the order shipped. */
    char list[64];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n_known && used < sizeof list; i++) {
        int seen = 0;
        for (size_t j = 0; j < i; j++) {
            seen |= known_sizes[j] == known_sizes[i];
        }
        if (!seen) {
            int n = snprintf(list + used, sizeof list - used, "%s%u", used ? ", " : "",
                             (unsigned)known_sizes[i]);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    return lro_fail(LRO_ERR_INVALID_ARG,
                    "%s.struct_size %u is not a size this library knows (%s): set it with "
                    "sizeof or the _INIT macro",
                    what, (unsigned)size, list);
}

/* Every normaliser: `copy` (size bytes) holds the type's defaults on entry;
 * the caller's struct is copied over them by lro_versioned_copy, checked, and
 * only then written to *out, so a rejected struct leaves *out as it was. */
static int normalize(const versioned_type *t, void *copy, size_t size, const void *in, void *out)
{
    int rc = lro_versioned_copy(copy, size, in, t->sizes, t->n_sizes, t->what);
    if (rc == LRO_OK) {
        rc = t->check(copy, in);
    }
    if (rc == LRO_OK) {
        memcpy(out, copy, size);
    }
    return rc;
}

/* The backoff growth every policy shares: multiplier 1..100, jitter 0..1
 * (written so that NaN fails too). */
static int check_growth(const char *what, double multiplier, double jitter)
{
    if (!(multiplier >= 1.0 && multiplier <= 100.0)) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s.multiplier %g is not in 1..100", what, multiplier);
    }
    if (!(jitter >= 0.0 && jitter <= 1.0)) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s.jitter %g is not in 0..1", what, jitter);
    }
    return LRO_OK;
}

static int check_retry(void *copy, const void *in)
{
    lro_retry_policy *r = copy;
    (void)in;
    r->reserved0 = 0; /* 0.1 callers' padding */
    if (r->max_attempts < 1 || r->max_attempts > 1000) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_retry_policy.max_attempts %d is not in 1..1000",
                        r->max_attempts);
    }
    if (r->initial_backoff_ms < 0 || r->max_backoff_ms < 0 || r->total_timeout_ms < 0) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_retry_policy: initial_backoff_ms, max_backoff_ms and "
                        "total_timeout_ms must be >= 0");
    }
    return check_growth("lro_retry_policy", r->multiplier, r->jitter);
}

int lro_retry_normalize(const lro_retry_policy *in, lro_retry_policy *out)
{
    if (in == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_retry_policy is NULL");
    }
    lro_retry_policy r = LRO_RETRY_POLICY_INIT;
    return normalize(&k_retry, &r, sizeof r, in, out);
}

static int check_list_args(void *copy, const void *in)
{
    lro_list_args *a = copy;
    (void)in;
    a->reserved0 = 0; /* 0.1 callers' padding */
    if (a->page_size < 0) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_list_args.page_size %d is negative",
                        (int)a->page_size);
    }
    /* Filters and tokens go in the body, not a header; they only need to be
     * bounded, valid UTF-8 strings (protobuf requires it of `string`). */
    if ((a->filter && a->filter[0] &&
         lro_check_text(a->filter, "lro_list_args.filter") != LRO_OK) ||
        (a->page_token && a->page_token[0] &&
         lro_check_text(a->page_token, "lro_list_args.page_token") != LRO_OK)) {
        return LRO_ERR_INVALID_ARG; /* the text says which and why */
    }
    return LRO_OK;
}

int lro_list_args_normalize(const lro_list_args *in, lro_list_args *out)
{
    lro_list_args a = LRO_LIST_ARGS_INIT;
    return normalize(&k_list, &a, sizeof a, in, out);
}

static int check_poll_policy(void *copy, const void *in)
{
    lro_poll_policy *pp = copy;
    (void)in;
    if (pp->initial_delay_ms < 0 || pp->max_delay_ms < 0 || pp->total_timeout_ms < 0 ||
        pp->wait_timeout_ms < 0 || pp->transient_budget_ms < 0 || pp->progress_interval_ms < 0) {
        return lro_fail(
            LRO_ERR_INVALID_ARG,
            "lro_poll_policy: initial_delay_ms, max_delay_ms, total_timeout_ms, "
            "wait_timeout_ms, transient_budget_ms and progress_interval_ms must be >= 0");
    }
    int rc = check_growth("lro_poll_policy", pp->multiplier, pp->jitter);
    if (rc != LRO_OK) {
        return rc;
    }
    pp->reserved0 = 0;
    if (pp->method != LRO_AWAIT_AUTO && pp->method != LRO_AWAIT_POLL_ONLY &&
        pp->method != LRO_AWAIT_WAIT_ONLY) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_poll_policy.method %d is not LRO_AWAIT_AUTO, _POLL_ONLY or _WAIT_ONLY",
                        (int)pp->method);
    }
    return LRO_OK;
}

int lro_poll_policy_normalize(const lro_poll_policy *in, lro_poll_policy *out)
{
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    return normalize(&k_poll, &pp, sizeof pp, in, out);
}

void lro_call_header(const lro_call_options *o, size_t i, lro_header *out)
{
    /* Copy only the bytes of the caller's layout: a 0.1 header has no
     * value_len (0 = strlen below). */
    lro_header h = {NULL, NULL, 0};
    size_t n = o->header_size < sizeof h ? o->header_size : sizeof h;
    memcpy(&h, (const char *)o->headers + i * o->header_size, n);
    if (h.value_len == 0 && h.value != NULL) {
        h.value_len = strlen(h.value);
    }
    *out = h;
}

static int all_hex(const char *p, size_t n, int *nonzero)
{
    *nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
        *nonzero |= ch != '0';
    }
    return 1;
}

/* W3C trace context, level 1: traceparent "00-<trace-id 32 hex>-<parent-id
 * 16 hex>-<flags 2 hex>", lowercase, ids not all zero; tracestate a header
 * value of at most 512 bytes. A malformed one is refused rather than sent:
 * a tracing backend would drop it silently. */
static int check_trace_context(const char *tp, const char *ts)
{
    if (tp == NULL && ts == NULL) {
        return LRO_OK;
    }
    if (tp == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_call_options.tracestate without traceparent");
    }
    int nz_trace, nz_parent, nz_flags;
    if (strlen(tp) != 55 || tp[0] != '0' || tp[1] != '0' || tp[2] != '-' || tp[35] != '-' ||
        tp[52] != '-' || !all_hex(tp + 3, 32, &nz_trace) || !all_hex(tp + 36, 16, &nz_parent) ||
        !all_hex(tp + 53, 2, &nz_flags) || !nz_trace || !nz_parent) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_call_options.traceparent is not W3C \"00-<32 hex trace id>-<16 hex "
                        "parent id>-<2 hex flags>\" (lowercase, ids not all zero)");
    }
    if (ts != NULL &&
        (strlen(ts) > 512 || lro_check_header_n("tracestate", ts, strlen(ts)) != LRO_OK)) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_call_options.tracestate is longer than 512 bytes or not printable");
    }
    return LRO_OK;
}

static int check_call_options(void *copy, const void *in)
{
    lro_call_options *o = copy;
    const lro_call_options *given = in;
    if (given != NULL && given->struct_size == sizeof(call_options_0_1)) {
        o->header_size = sizeof(header_0_1); /* 0.1 had no header_size: its layout */
    }
    if (o->header_size != sizeof(lro_header) && o->header_size != sizeof(header_0_1)) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_call_options.header_size %zu is neither sizeof(lro_header) %zu nor "
                        "0.1's %zu",
                        o->header_size, sizeof(lro_header), sizeof(header_0_1));
    }
    if (o->header_count > 0 && o->headers == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_call_options.headers is NULL with header_count %zu", o->header_count);
    }
    for (size_t i = 0; i < o->header_count; i++) {
        lro_header h;
        lro_call_header(o, i, &h);
        int rc = lro_check_header_n(h.key, h.value, h.value_len);
        if (rc != LRO_OK) {
            return rc;
        }
    }
    return check_trace_context(o->traceparent, o->tracestate);
}

int lro_call_options_normalize(const lro_call_options *in, lro_call_options *out)
{
    lro_call_options o = LRO_CALL_OPTIONS_INIT;
    return normalize(&k_call, &o, sizeof o, in, out);
}
