/* Client options: a plain bag of copied values, read once by
 * lro_client_create(). */
#include <string.h>

#include "client_int.h"

int lro_client_options_create(lro_client_options **out)
{
    if (out == NULL) {
        return LRO_ERR_INVALID_ARG;
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
    if (o == NULL || target == NULL || target[0] == '\0' || strlen(target) > 4096) {
        return LRO_ERR_INVALID_ARG;
    }
    for (const char *p = target; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return LRO_ERR_INVALID_ARG;
        }
    }
    return set_str(&o->target, target);
}

int lro_client_options_set_plaintext(lro_client_options *o)
{
    if (o == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    o->plaintext = 1;
    o->tls_set = 0;
    return LRO_OK;
}

int lro_client_options_set_tls(lro_client_options *o, const char *root_pem)
{
    if (o == NULL || (root_pem != NULL && strstr(root_pem, "-----BEGIN") == NULL)) {
        return LRO_ERR_INVALID_ARG;
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
    if (o == NULL || name == NULL || name[0] == '\0') {
        return LRO_ERR_INVALID_ARG;
    }
    return set_str(&o->tls_server_name, name);
}

int lro_client_options_set_bearer_token(lro_client_options *o, const char *token,
                                        int allow_plaintext)
{
    if (o == NULL || token == NULL || token[0] == '\0') {
        return LRO_ERR_INVALID_ARG;
    }
    for (const char *p = token; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
            return LRO_ERR_INVALID_ARG; /* would break (or inject into) the header */
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
    if (o == NULL || ms < 0) {
        return LRO_ERR_INVALID_ARG;
    }
    o->default_timeout_ms = ms;
    return LRO_OK;
}

int lro_client_options_add_header(lro_client_options *o, const char *key, const char *value)
{
    if (o == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    int rc = lro_check_header(key, value);
    if (rc != LRO_OK) {
        return rc;
    }
    lro_header *h = lro_realloc(o->headers, (o->header_count + 1) * sizeof *h);
    if (h == NULL) {
        return LRO_ERR_NOMEM;
    }
    o->headers = h;
    char *k = lro_strdup(key);
    char *v = lro_strdup(value);
    if (k == NULL || v == NULL) {
        lro_free(k);
        lro_free(v);
        return LRO_ERR_NOMEM;
    }
    h[o->header_count].key = k;
    h[o->header_count].value = v;
    o->header_count++;
    return LRO_OK;
}

int lro_client_options_set_max_receive_size(lro_client_options *o, int64_t bytes)
{
    if (o == NULL || bytes <= 0 || bytes > INT32_MAX) {
        return LRO_ERR_INVALID_ARG;
    }
    o->max_receive = bytes;
    return LRO_OK;
}

int lro_client_options_set_lb_policy(lro_client_options *o, const char *policy)
{
    if (o == NULL || policy == NULL || policy[0] == '\0') {
        return LRO_ERR_INVALID_ARG;
    }
    for (const char *p = policy; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            return LRO_ERR_INVALID_ARG; /* it is spliced into a JSON service config */
        }
    }
    return set_str(&o->lb_policy, policy);
}

int lro_client_options_set_user_agent(lro_client_options *o, const char *ua)
{
    if (o == NULL || ua == NULL || lro_check_header("x-ua", ua) != LRO_OK) {
        return LRO_ERR_INVALID_ARG;
    }
    return set_str(&o->user_agent, ua);
}

int lro_client_options_set_mode(lro_client_options *o, lro_mode mode)
{
    if (o == NULL || (mode != LRO_MODE_THREAD && mode != LRO_MODE_LOOP)) {
        return LRO_ERR_INVALID_ARG;
    }
    o->mode = mode;
    return LRO_OK;
}

int lro_client_options_set_wakeup(lro_client_options *o, void (*wakeup)(void *), void *data)
{
    if (o == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    o->wakeup = wakeup;
    o->wakeup_data = data;
    return LRO_OK;
}

int lro_client_options_set_retry(lro_client_options *o, const lro_retry_policy *p)
{
    if (o == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    return lro_retry_normalize(p, &o->retry);
}

int lro_client_options_set_poll_budget(lro_client_options *o, double per_second, int burst)
{
    if (o == NULL || !(per_second >= 0.0 && per_second <= 1e9) || burst < 0 ||
        (per_second > 0 && burst < 1)) {
        return LRO_ERR_INVALID_ARG;
    }
    o->budget_rate = per_second;
    o->budget_burst = burst;
    return LRO_OK;
}

int lro_client_options_set_max_await_rpcs(lro_client_options *o, int max)
{
    if (o == NULL || max < 0) {
        return LRO_ERR_INVALID_ARG;
    }
    o->max_await_rpcs = max;
    return LRO_OK;
}

int lro_retry_normalize(const lro_retry_policy *in, lro_retry_policy *out)
{
    if (in == NULL || in->struct_size < offsetof(lro_retry_policy, initial_backoff_ms)) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_retry_policy r = LRO_RETRY_POLICY_INIT;
    size_t n = in->struct_size < sizeof r ? in->struct_size : sizeof r;
    memcpy(&r, in, n);
    r.struct_size = sizeof r;
    if (r.max_attempts < 1 || r.max_attempts > 1000 || r.initial_backoff_ms < 0 ||
        !(r.multiplier >= 1.0 && r.multiplier <= 100.0) || r.max_backoff_ms < 0 ||
        !(r.jitter >= 0.0 && r.jitter <= 1.0) || r.total_timeout_ms < 0) {
        return LRO_ERR_INVALID_ARG;
    }
    *out = r;
    return LRO_OK;
}
