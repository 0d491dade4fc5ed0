/* Client options: a plain bag of copied values, read once by
 * lro_client_create(). */
#include <limits.h>
#include <string.h>

#include "client_int.h"
#include "credentials_int.h"

/* Every setter starts with CHECK_O: clears lro_last_error() (ABI rule 4 in
 * lro/common.h) and refuses a NULL options object with a text. */
#define CHECK_O(o)                                                                                 \
    do {                                                                                           \
        lro_error_clear();                                                                         \
        if ((o) == NULL) {                                                                         \
            return lro_fail(LRO_ERR_INVALID_ARG, "%s: options is NULL", __func__);                 \
        }                                                                                          \
    } while (0)

int lro_client_options_create(lro_client_options **out)
{
    lro_error_clear();
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_client_options_create: out is NULL");
    }
    lro_client_options *o = lro_calloc(1, sizeof *o);
    if (o == NULL) {
        return LRO_ERR_NOMEM;
    }
    o->default_timeout_ms = 30000;
    o->max_receive = 4 * 1024 * 1024;
    o->mode = LRO_MODE_THREAD;
    o->retry = (lro_retry_policy)LRO_RETRY_POLICY_INIT;
    o->max_await_rpcs = LRO_DEFAULT_MAX_AWAIT_RPCS;
    o->channels = LRO_DEFAULT_CHANNELS;
    o->max_streams = LRO_DEFAULT_MAX_STREAMS;
    *out = o;
    return LRO_OK;
}

void lro_client_options_destroy(lro_client_options *o)
{
    if (o == NULL) {
        return;
    }
    lro_free(o->target);
    lro_free(o->root_pem);
    lro_free(o->tls_server_name);
    if (o->token != NULL) {
        /* Do not leave the credential lying around in freed memory. */
        memset(o->token, 0, strlen(o->token));
        lro_free(o->token);
    }
    for (size_t i = 0; i < o->header_count; i++) {
        lro_free((char *)o->headers[i].key);
        lro_free((char *)o->headers[i].value);
    }
    lro_free(o->headers);
    lro_free(o->lb_policy);
    lro_free(o->user_agent);
    lro_credentials_unref(o->credentials);
    lro_free(o);
}

/* Replaces *slot with a copy of s (NULL clears). */
static int set_str(char **slot, const char *s)
{
    char *copy = NULL;
    if (s != NULL) {
        copy = lro_strdup(s);
        if (copy == NULL) {
            return LRO_ERR_NOMEM;
        }
    }
    lro_free(*slot);
    *slot = copy;
    return LRO_OK;
}

int lro_client_options_set_target(lro_client_options *o, const char *target)
{
    CHECK_O(o);
    if (target == NULL || target[0] == '\0' || strlen(target) > 4096) {
        return lro_fail(LRO_ERR_INVALID_ARG, "target is %s",
                        target == NULL ? "NULL" : target[0] ? "longer than 4096 bytes" : "empty");
    }
    for (const char *p = target; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return lro_fail(LRO_ERR_INVALID_ARG, "target has control character 0x%02x at byte %zu",
                            (unsigned char)*p, (size_t)(p - target));
        }
    }
    return set_str(&o->target, target);
}

int lro_client_options_set_plaintext(lro_client_options *o)
{
    CHECK_O(o);
    o->plaintext = 1;
    o->tls_set = 0;
    return LRO_OK;
}

int lro_client_options_set_tls(lro_client_options *o, const char *root_pem)
{
    CHECK_O(o);
    if (root_pem != NULL && strstr(root_pem, "-----BEGIN") == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "root_pem is not PEM text (no \"-----BEGIN\" line): pass the "
                        "certificate's contents, not a file name");
    }
    int rc = set_str(&o->root_pem, root_pem);
    if (rc == LRO_OK) {
        o->plaintext = 0;
        o->tls_set = 1;
    }
    return rc;
}

int lro_client_options_set_tls_server_name(lro_client_options *o, const char *name)
{
    CHECK_O(o);
    if (name == NULL || name[0] == '\0') {
        return lro_fail(LRO_ERR_INVALID_ARG, "TLS server name is %s", name ? "empty" : "NULL");
    }
    return set_str(&o->tls_server_name, name);
}

int lro_client_options_set_bearer_token(lro_client_options *o, const char *token,
                                        int allow_plaintext)
{
    CHECK_O(o);
    if (token == NULL || token[0] == '\0') {
        return lro_fail(LRO_ERR_INVALID_ARG, "bearer token is %s", token ? "empty" : "NULL");
    }
    for (const char *p = token; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            /* would break (or inject into) the header. The text gives the
             * position only: the token itself never goes into a message. */
            return lro_fail(LRO_ERR_INVALID_ARG,
                            "bearer token has a byte outside printable ASCII (or a space) at "
                            "byte %zu: a trailing newline from a file?",
                            (size_t)(p - token));
        }
    }
    char *copy = lro_strdup(token);
    if (copy == NULL) {
        return LRO_ERR_NOMEM;
    }
    if (o->token != NULL) {
        memset(o->token, 0, strlen(o->token));
        lro_free(o->token);
    }
    o->token = copy;
    o->token_allow_plaintext = allow_plaintext != 0;
    return LRO_OK;
}

int lro_client_options_set_default_timeout_ms(lro_client_options *o, int64_t ms)
{
    CHECK_O(o);
    if (ms < 0) {
        return lro_fail(LRO_ERR_INVALID_ARG, "default timeout %lld ms is negative", (long long)ms);
    }
    o->default_timeout_ms = ms;
    return LRO_OK;
}

int lro_client_options_add_header(lro_client_options *o, const char *key, const char *value)
{
    return lro_client_options_add_header_n(o, key, value, 0);
}

int lro_client_options_add_header_n(lro_client_options *o, const char *key, const char *value,
                                    size_t value_len)
{
    CHECK_O(o);
    if (value != NULL && value_len == 0) {
        value_len = strnlen(value, 16385); /* longer is refused by the check */
    }
    int rc = lro_check_header_n(key, value, value_len);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_header *h = lro_realloc(o->headers, (o->header_count + 1) * sizeof *h);
    if (h == NULL) {
        return LRO_ERR_NOMEM;
    }
    o->headers = h;
    char *k = lro_strdup(key);
    char *v = lro_strndup(value, value_len); /* NUL-terminated copy, NULs inside kept */
    if (k == NULL || v == NULL) {
        lro_free(k);
        lro_free(v);
        return LRO_ERR_NOMEM;
    }
    h[o->header_count].key = k;
    h[o->header_count].value = v;
    h[o->header_count].value_len = value_len;
    o->header_count++;
    return LRO_OK;
}

int lro_client_options_set_max_receive_size(lro_client_options *o, int64_t bytes)
{
    CHECK_O(o);
    if (bytes <= 0 || bytes > INT32_MAX) {
        return lro_fail(LRO_ERR_INVALID_ARG, "max receive size %lld is not in 1..%d",
                        (long long)bytes, INT32_MAX);
    }
    o->max_receive = bytes;
    return LRO_OK;
}

int lro_client_options_set_lb_policy(lro_client_options *o, const char *policy)
{
    CHECK_O(o);
    if (policy == NULL || policy[0] == '\0') {
        return lro_fail(LRO_ERR_INVALID_ARG, "lb policy is %s", policy ? "empty" : "NULL");
    }
    for (const char *p = policy; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            /* it is spliced into a JSON service config */
            return lro_fail(LRO_ERR_INVALID_ARG,
                            "lb policy has character 0x%02x at byte %zu: names are [a-z0-9_]",
                            (unsigned char)*p, (size_t)(p - policy));
        }
    }
    return set_str(&o->lb_policy, policy);
}

int lro_client_options_set_user_agent(lro_client_options *o, const char *ua)
{
    CHECK_O(o);
    if (ua == NULL || lro_check_header("x-ua", ua) != LRO_OK) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "user agent is NULL, longer than 16 KiB or not printable ASCII");
    }
    return set_str(&o->user_agent, ua);
}

int lro_client_options_set_mode(lro_client_options *o, lro_mode mode)
{
    CHECK_O(o);
    if (mode != LRO_MODE_THREAD && mode != LRO_MODE_LOOP) {
        return lro_fail(LRO_ERR_INVALID_ARG, "mode %d is not LRO_MODE_THREAD or LRO_MODE_LOOP",
                        (int)mode);
    }
    o->mode = mode;
    return LRO_OK;
}

int lro_client_options_set_wakeup(lro_client_options *o, void (*wakeup)(void *), void *data)
{
    CHECK_O(o);
    o->wakeup = wakeup;
    o->wakeup_data = data;
    return LRO_OK;
}

int lro_client_options_set_retry(lro_client_options *o, const lro_retry_policy *p)
{
    CHECK_O(o);
    return lro_retry_normalize(p, &o->retry);
}

int lro_client_options_set_poll_budget(lro_client_options *o, double per_second, int burst)
{
    CHECK_O(o);
    if (!(per_second >= 0.0 && per_second <= 1e9) || burst < 0 || (per_second > 0 && burst < 1)) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "poll budget %g/s burst %d: the rate must be in 0..1e9 and the burst "
                        ">= 1 when the rate is not 0",
                        per_second, burst);
    }
    o->budget_rate = per_second;
    o->budget_burst = burst;
    return LRO_OK;
}

/* An integer option within [lo, hi], with a text naming it when not. */
static int set_int_in(lro_client_options *o, int *slot, int v, int lo, int hi, const char *what)
{
    CHECK_O(o); /* __func__ here would name this helper: the text names `what` */
    if (v < lo || v > hi) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s %d is not in %d..%d", what, v, lo, hi);
    }
    *slot = v;
    return LRO_OK;
}

int lro_client_options_set_max_await_rpcs(lro_client_options *o, int max)
{
    return set_int_in(o, o ? &o->max_await_rpcs : NULL, max, 0, INT_MAX, "max await RPCs");
}

int lro_client_options_set_channels(lro_client_options *o, int n)
{
    return set_int_in(o, o ? &o->channels : NULL, n, 1, 64, "channels");
}

int lro_client_options_set_max_streams(lro_client_options *o, int n)
{
    return set_int_in(o, o ? &o->max_streams : NULL, n, 1, 1000000, "max streams");
}

int lro_client_options_set_credentials(lro_client_options *o, lro_credentials *creds)
{
    CHECK_O(o);
    /* Frozen from here: what the options hold is what clients will use. */
    lro_creds_freeze(creds);
    lro_credentials_unref(o->credentials);
    o->credentials = lro_credentials_ref(creds);
    return LRO_OK;
}
