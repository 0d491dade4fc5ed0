/* Credential checks of the embedded server (off by default): bearer tokens
 * from an allowed set, RS256 JWTs verified against a public key (signature,
 * audience, expiry), API keys; the client certificate is verified by grpc's
 * TLS handshake (lro_test_server_options.tls_client_ca_pem). Each call's
 * verified identity is recorded ("cert:<subject> jwt:<sub> token:<n>
 * api-key:<n>"), never the secret itself. Admin calls are not checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc_security.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "server_int.h"

typedef struct srv_auth {
    pthread_mutex_t mu;
    char **tokens;
    size_t n_tokens;
    char **keys;
    size_t n_keys;
    EVP_PKEY *jwt_key;
    char *jwt_aud; /* NULL = any */
} srv_auth;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu; /* guards lazily attaching auth to a server */

static void g_init(void)
{
    pthread_mutex_init(&g_mu, NULL);
}

static srv_auth *auth_of(lro_test_server *s, int create)
{
    pthread_once(&g_once, g_init);
    pthread_mutex_lock(&g_mu);
    srv_auth *a = s->auth;
    if (a == NULL && create) {
        a = lro_calloc(1, sizeof *a);
        if (a != NULL) {
            pthread_mutex_init(&a->mu, NULL);
            s->auth = a;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return a;
}

void srv_auth_free(lro_test_server *s)
{
    srv_auth *a = s->auth;
    if (a == NULL) {
        return;
    }
    for (size_t i = 0; i < a->n_tokens; i++) {
        lro_free(a->tokens[i]);
    }
    for (size_t i = 0; i < a->n_keys; i++) {
        lro_free(a->keys[i]);
    }
    lro_free(a->tokens);
    lro_free(a->keys);
    EVP_PKEY_free(a->jwt_key);
    lro_free(a->jwt_aud);
    pthread_mutex_destroy(&a->mu);
    lro_free(a);
    s->auth = NULL;
}

static int add_str(char ***v, size_t *n, const char *s)
{
    char **nv = lro_realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL) {
        return LRO_ERR_NOMEM;
    }
    *v = nv;
    if ((nv[*n] = lro_strdup(s)) == NULL) {
        return LRO_ERR_NOMEM;
    }
    (*n)++;
    return LRO_OK;
}

int lro_test_server_require_token(lro_test_server *s, const char *token)
{
    if (s == NULL || token == NULL || token[0] == '\0' || strchr(token, ' ') != NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    srv_auth *a = auth_of(s, 1);
    if (a == NULL) {
        return LRO_ERR_NOMEM;
    }
    pthread_mutex_lock(&a->mu);
    int rc = add_str(&a->tokens, &a->n_tokens, token);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int lro_test_server_require_api_key(lro_test_server *s, const char *key)
{
    if (s == NULL || key == NULL || key[0] == '\0') {
        return LRO_ERR_INVALID_ARG;
    }
    srv_auth *a = auth_of(s, 1);
    if (a == NULL) {
        return LRO_ERR_NOMEM;
    }
    pthread_mutex_lock(&a->mu);
    int rc = add_str(&a->keys, &a->n_keys, key);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int lro_test_server_require_jwt(lro_test_server *s, const char *public_key_pem,
                                const char *audience)
{
    if (s == NULL || public_key_pem == NULL) {
        return LRO_ERR_INVALID_ARG;
    }
    BIO *b = BIO_new_mem_buf(public_key_pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PUBKEY(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (k == NULL || EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        return LRO_ERR_INVALID_ARG; /* not a PEM RSA public key */
    }
    char *aud = audience ? lro_strdup(audience) : NULL;
    srv_auth *a = auth_of(s, 1);
    if (a == NULL || (audience != NULL && aud == NULL)) {
        EVP_PKEY_free(k);
        lro_free(aud);
        return LRO_ERR_NOMEM;
    }
    pthread_mutex_lock(&a->mu);
    EVP_PKEY_free(a->jwt_key);
    lro_free(a->jwt_aud);
    a->jwt_key = k;
    a->jwt_aud = aud;
    pthread_mutex_unlock(&a->mu);
    return LRO_OK;
}

/* ---- JWT ------------------------------------------------------------------- */

/* base64url (padding accepted: grpc 1.51 pads) into out; length or -1. */
static long b64url(const char *in, size_t n, unsigned char *out)
{
    long o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        int v;
        if (ch >= 'A' && ch <= 'Z') {
            v = ch - 'A';
        } else if (ch >= 'a' && ch <= 'z') {
            v = ch - 'a' + 26;
        } else if (ch >= '0' && ch <= '9') {
            v = ch - '0' + 52;
        } else if (ch == '-' || ch == '+') {
            v = 62;
        } else if (ch == '_' || ch == '/') {
            v = 63;
        } else if (ch == '=') {
            break;
        } else {
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

/* The value of top-level "key" in a flat JSON object: a string (unescaped
 * minimally) or a number, as text. 1 found. */
static int json_field(const char *js, const char *key, char *buf, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(js, pat);
    if (p == NULL) {
        return 0;
    }
    p += strlen(pat);
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
        p++;
    }
    if (*p++ != ':') {
        return 0;
    }
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
        p++;
    }
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < cap) {
            if (*p == '\\' && p[1]) {
                p++;
            }
            buf[n++] = *p++;
        }
    } else {
        while (*p && (*p == '-' || (*p >= '0' && *p <= '9')) && n + 1 < cap) {
            buf[n++] = *p++;
        }
    }
    buf[n] = '\0';
    return n > 0;
}

/* 1 and the subject in `who`, or 0 and the reason in `why`. */
static int jwt_verify(srv_auth *a, const char *jwt, char *who, size_t wcap, char *why, size_t ycap)
{
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL || strchr(d2 + 1, '.') != NULL) {
        snprintf(why, ycap, "not a JWT");
        return 0;
    }
    size_t lh = (size_t)(d1 - jwt), lp = (size_t)(d2 - d1 - 1), ls = strlen(d2 + 1);
    if (lh > 4096 || lp > 8192 || ls > 2048) {
        snprintf(why, ycap, "JWT too large");
        return 0;
    }
    unsigned char hdr[4096], pay[8192], sig[2048];
    long nh = b64url(jwt, lh, hdr), np = b64url(d1 + 1, lp, pay), ns = b64url(d2 + 1, ls, sig);
    if (nh < 0 || np < 0 || ns <= 0) {
        snprintf(why, ycap, "JWT is not base64url");
        return 0;
    }
    hdr[nh < 4095 ? nh : 4095] = '\0';
    pay[np < 8191 ? np : 8191] = '\0';
    char v[512];
    if (!json_field((char *)hdr, "alg", v, sizeof v) || strcmp(v, "RS256") != 0) {
        snprintf(why, ycap, "JWT alg is not RS256");
        return 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, a->jwt_key) == 1 &&
             EVP_DigestVerifyUpdate(ctx, jwt, (size_t)(d2 - jwt)) == 1 &&
             EVP_DigestVerifyFinal(ctx, sig, (size_t)ns) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        snprintf(why, ycap, "JWT signature does not verify");
        return 0;
    }
    if (!json_field((char *)pay, "exp", v, sizeof v) ||
        strtoll(v, NULL, 10) <= (long long)time(NULL)) {
        snprintf(why, ycap, "JWT expired (or has no exp)");
        return 0;
    }
    if (a->jwt_aud != NULL &&
        (!json_field((char *)pay, "aud", v, sizeof v) || strcmp(v, a->jwt_aud) != 0)) {
        snprintf(why, ycap, "JWT audience \"%.200s\" is not \"%.200s\"", v, a->jwt_aud);
        return 0;
    }
    if (!json_field((char *)pay, "sub", v, sizeof v) &&
        !json_field((char *)pay, "iss", v, sizeof v)) {
        snprintf(why, ycap, "JWT has no sub");
        return 0;
    }
    size_t n = strlen(v);
    n = n < wcap ? n : wcap - 1;
    memcpy(who, v, n);
    who[n] = '\0';
    return 1;
}

/* ---- The check of one call ---------------------------------------------------- */

static const char *md_value(srv_call *c, const char *key, size_t *len)
{
    for (size_t i = 0; i < c->md.count; i++) {
        if (!grpc_slice_str_cmp(c->md.metadata[i].key, key)) {
            *len = GRPC_SLICE_LENGTH(c->md.metadata[i].value);
            return (const char *)GRPC_SLICE_START_PTR(c->md.metadata[i].value);
        }
    }
    return NULL;
}

static void append(char *id, size_t cap, const char *fmt, const char *v)
{
    size_t n = strlen(id);
    snprintf(id + n, cap - n, fmt, n ? " " : "", v);
}

int srv_auth_check(srv_call *c, char *why, size_t ycap)
{
    char id[600] = "";
    /* The client certificate grpc verified (mutual TLS). */
    grpc_auth_context *ctx = grpc_call_auth_context(c->call);
    if (ctx != NULL) {
        grpc_auth_property_iterator it =
            grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_SUBJECT_PROPERTY_NAME);
        const grpc_auth_property *p = grpc_auth_property_iterator_next(&it);
        if (p == NULL) {
            it = grpc_auth_context_find_properties_by_name(ctx, GRPC_X509_CN_PROPERTY_NAME);
            p = grpc_auth_property_iterator_next(&it);
        }
        if (p != NULL) {
            char v[300];
            snprintf(v, sizeof v, "%.*s", (int)(p->value_length < 299 ? p->value_length : 299),
                     p->value);
            append(id, sizeof id, "%scert:%s", v);
        }
        grpc_auth_context_release(ctx);
    }
    srv_auth *a = auth_of(c->s, 0);
    int ok = 1;
    if (a != NULL) {
        pthread_mutex_lock(&a->mu);
        if (a->n_tokens > 0 || a->jwt_key != NULL) {
            size_t n = 0;
            const char *v = md_value(c, "authorization", &n);
            char tok[8192];
            if (v == NULL || n < 8 || n - 7 >= sizeof tok || strncmp(v, "Bearer ", 7) != 0) {
                snprintf(why, ycap, "missing bearer token");
                ok = 0;
            } else {
                memcpy(tok, v + 7, n - 7);
                tok[n - 7] = '\0';
                int found = 0;
                for (size_t i = 0; i < a->n_tokens && !found; i++) {
                    if (strcmp(tok, a->tokens[i]) == 0) {
                        char num[24];
                        snprintf(num, sizeof num, "%zu", i);
                        append(id, sizeof id, "%stoken:%s", num);
                        found = 1;
                    }
                }
                char who[300];
                if (!found && a->jwt_key != NULL &&
                    jwt_verify(a, tok, who, sizeof who, why, ycap)) {
                    append(id, sizeof id, "%sjwt:%s", who);
                    found = 1;
                } else if (!found && a->jwt_key == NULL) {
                    snprintf(why, ycap, "bearer token not accepted");
                }
                ok = found;
            }
        }
        if (ok && a->n_keys > 0) {
            size_t n = 0;
            const char *v = md_value(c, "x-goog-api-key", &n);
            int found = 0;
            for (size_t i = 0; v != NULL && i < a->n_keys && !found; i++) {
                if (strlen(a->keys[i]) == n && memcmp(v, a->keys[i], n) == 0) {
                    char num[24];
                    snprintf(num, sizeof num, "%zu", i);
                    append(id, sizeof id, "%sapi-key:%s", num);
                    found = 1;
                }
            }
            if (!found) {
                snprintf(why, ycap, v ? "API key not accepted" : "missing API key");
                ok = 0;
            }
        }
        pthread_mutex_unlock(&a->mu);
    }
    c->identity = id[0] ? lro_strdup(id) : NULL;
    return ok;
}
