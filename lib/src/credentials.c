/* Credentials (lro/credentials.h): the object, its token plugin, the Google
 * sources grpc core implements, and the channel credentials of a client.
 *
 * Two grpc objects come out of an lro_credentials:
 *  - call credentials (lro_creds_call): our metadata plugin (static token,
 *    token provider cache, x-goog-api-key, x-goog-user-project), composed
 *    with grpc's own credentials for service accounts, authorized_user,
 *    external_account and compute engine. Built once, when the object is
 *    first used (it is frozen then), kept until the object goes.
 *  - channel credentials (lro_creds_channel): TLS roots, the client
 *    certificate (static or file-watched), composed with the call
 *    credentials. Built per client.
 *
 * The plugin's state (tok_state) has its own reference count: grpc holds
 * the plugin (and so the state) as long as any channel or call uses it, and
 * every outstanding provider request holds one too, so neither can outlive
 * the other whatever order things are released in.
 *
 * Provider failures: grpc 1.51 turns any non-OK plugin status into
 * UNAVAILABLE (retryable!). Our messages start with LRO_CREDS_MARK, and the
 * call layer turns an UNAVAILABLE carrying it into UNAUTHENTICATED
 * (lro_creds_fix_status). */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/string_util.h>
#include <grpc/support/time.h>

#include "client_int.h"
#include "credentials_int.h"

#define LRO_CREDS_MARK "lro-c credentials: "
#define MAX_SECRET     65536 /* longest token / key accepted */
#define MAX_JSON_FILE  (1 << 20)

enum { SRC_NONE = 0, SRC_STATIC, SRC_PROVIDER, SRC_GRPC };

/* ---- The plugin state ---------------------------------------------------------- */

typedef struct tok_waiter {
    struct tok_waiter *next;
    grpc_credentials_plugin_metadata_cb cb;
    void *ud;
} tok_waiter;

typedef struct tok_state {
    atomic_int refs;
    pthread_mutex_t mu;
    int src;           /* SRC_NONE, SRC_STATIC or SRC_PROVIDER (SRC_GRPC: extras only) */
    char *token;       /* static token, or the provider's cached one (mu) */
    int64_t expiry_ms; /* unix ms; 0 = never */
    int64_t got_ms;    /* when the cached token arrived */
    lro_token_provider_fn fn;
    void *ud;
    lro_free_fn ud_free;
    int inflight;        /* a provider request is outstanding (mu) */
    int64_t retry_at_ms; /* after a failure: no background refresh before (mu) */
    tok_waiter *waiters; /* calls waiting for it (mu) */
    atomic_ulong provider_calls;
    char *api_key;
    char *quota;
    /* Header values as reference-counted slices, for calls that carry them
     * themselves (lro_creds_fast_md): "Bearer <token>" of `token` (mu; a
     * new one each time the token changes, wiped when its last reference
     * goes), and the API key and quota project (built when frozen). */
    grpc_slice bearer, key_md, quota_md;
    int has_bearer, has_key_md, has_quota_md;
    /* A long token as grpc's access-token call credentials (mu), made at a
     * TLS call's first need and dropped when the token changes: a TLS
     * attempt hands it to grpc_call_set_credentials() instead of carrying
     * the header in its own metadata. grpc checks application metadata
     * byte by byte and does not check what call credentials add, but
     * per-call credentials have a fixed cost of their own. Measured
     * (bench/README "Long tokens as grpc's credentials"): the header costs
     * ~3.4k + 14 instructions per token byte, the credentials ~4.1k + 3.3
     * per byte, so tokens from LRO_GRPC_TOKEN_MIN bytes (Google's access
     * tokens are ~250) take grpc's credentials. Plaintext calls keep the
     * header: grpc's access-token credentials refuse an insecure channel. */
    grpc_call_credentials *gtok;
    size_t token_len;
} tok_state;

#define LRO_GRPC_TOKEN_MIN 80

struct lro_token_request {
    tok_state *st;
};

struct lro_credentials {
    atomic_int refs;
    atomic_int frozen;
    pthread_mutex_t mu; /* building `call` */
    tok_state *st;
    grpc_call_credentials *google; /* grpc's own source, or NULL */
    grpc_call_credentials *call;   /* built at first use (mu) */
    int built;
    int allow_plaintext;
    char *cert_pem, *key_pem;                /* static client certificate */
    char *cert_path, *key_path, *roots_path; /* watched files */
    int refresh_s;
    char describe[160];
};

static int64_t unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void free_secret(char *s)
{
    if (s != NULL) {
        memset(s, 0, strlen(s)); /* no credential left in freed memory */
        lro_free(s);
    }
}

/* Replaces *slot with a copy of v; the old value is wiped before it is freed
 * (an API key is a secret; a quota project costs nothing to wipe too). */
static int replace_str(char **slot, const char *v)
{
    char *copy = lro_strdup(v);
    if (copy == NULL) {
        return LRO_ERR_NOMEM;
    }
    free_secret(*slot);
    *slot = copy;
    return LRO_OK;
}

/* A secret's bytes behind a grpc slice: wiped and freed when grpc (or we)
 * drop the last reference. */
typedef struct secret_buf {
    size_t len;
    char b[];
} secret_buf;

static void secret_buf_free(void *p)
{
    secret_buf *sb = p;
    memset(sb->b, 0, sb->len);
    lro_free(sb);
}

/* prefix + value as a wiping slice; 0 without memory. */
static int secret_slice(const char *prefix, const char *value, grpc_slice *out)
{
    size_t pl = strlen(prefix), vl = strlen(value);
    secret_buf *sb = lro_malloc(sizeof *sb + pl + vl + 1);
    if (sb == NULL) {
        return 0;
    }
    sb->len = pl + vl;
    memcpy(sb->b, prefix, pl);
    memcpy(sb->b + pl, value, vl + 1);
    *out = grpc_slice_new_with_user_data(sb->b, sb->len, secret_buf_free, sb);
    return 1;
}

/* After st->token changed (st->mu held, or not yet shared). Without memory
 * for the slice, calls take grpc's plugin path (fill_md). */
static void set_bearer_locked(tok_state *st)
{
    if (st->has_bearer) {
        grpc_slice_unref(st->bearer);
        st->has_bearer = 0;
    }
    if (st->gtok != NULL) {
        grpc_call_credentials_release(st->gtok); /* calls under way keep their reference */
        st->gtok = NULL;
    }
    if (st->token != NULL) {
        st->has_bearer = secret_slice("Bearer ", st->token, &st->bearer);
    }
    st->token_len = st->token != NULL ? strlen(st->token) : 0;
}

static void st_unref(tok_state *st)
{
    if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1) {
        return;
    }
    if (st->ud_free != NULL) {
        st->ud_free(st->ud);
    }
    if (st->has_bearer) {
        grpc_slice_unref(st->bearer);
    }
    if (st->gtok != NULL) {
        grpc_call_credentials_release(st->gtok);
    }
    if (st->has_key_md) {
        grpc_slice_unref(st->key_md);
    }
    if (st->has_quota_md) {
        grpc_slice_unref(st->quota_md);
    }
    free_secret(st->token);
    free_secret(st->api_key);
    lro_free(st->quota);
    pthread_mutex_destroy(&st->mu);
    lro_free(st);
}

/* Printable ASCII without spaces: anything else breaks (or injects into)
 * a header. The text gives the position only, never the secret. */
static int check_secret(const char *s, const char *what)
{
    if (s == NULL || s[0] == '\0') {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s is %s", what, s ? "empty" : "NULL");
    }
    size_t n = strnlen(s, MAX_SECRET + 1);
    if (n > MAX_SECRET) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s is longer than %d bytes", what, MAX_SECRET);
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
            return lro_fail(LRO_ERR_INVALID_ARG,
                            "%s has a byte outside printable ASCII (or a space) at byte %zu: a "
                            "trailing newline from a file?",
                            what, i);
        }
    }
    return LRO_OK;
}

/* Token lifetimes: refresh in the background when less than `ahead` is
 * left, stop using the token when less than `margin` is left. */
static int64_t refresh_ahead_ms(const tok_state *st)
{
    int64_t life = st->expiry_ms - st->got_ms;
    int64_t a = life / 2;
    return a < 300000 ? a : 300000;
}

static int64_t usable_margin_ms(const tok_state *st)
{
    int64_t life = st->expiry_ms - st->got_ms;
    int64_t m = life / 10;
    return m < 10000 ? m : 10000;
}

static int token_usable(const tok_state *st, int64_t now)
{
    return st->token != NULL && (st->expiry_ms == 0 || now < st->expiry_ms - usable_margin_ms(st));
}

static int token_stale(const tok_state *st, int64_t now)
{
    return st->expiry_ms != 0 && now >= st->expiry_ms - refresh_ahead_ms(st);
}

/* Metadata of a successful answer: new slices the receiver owns (sync) or
 * that we unref after the callback (async). */
/* The API key and quota project headers after md[n]: references to the
 * slices built when the credentials were frozen (build_call), or copies
 * where there was no memory for those. Returns the new count. */
static size_t put_extras(const tok_state *st, grpc_metadata *md, size_t n)
{
    if (st->api_key != NULL) {
        md[n].key = grpc_slice_from_static_string("x-goog-api-key");
        md[n].value = st->has_key_md ? grpc_slice_ref(st->key_md)
                                     : grpc_slice_from_copied_string(st->api_key);
        n++;
    }
    if (st->quota != NULL) {
        md[n].key = grpc_slice_from_static_string("x-goog-user-project");
        md[n].value = st->has_quota_md ? grpc_slice_ref(st->quota_md)
                                       : grpc_slice_from_copied_string(st->quota);
        n++;
    }
    return n;
}

static size_t fill_md(const tok_state *st, const char *token, grpc_metadata *md)
{
    size_t n = 0;
    if (token != NULL) {
        size_t len = strlen(token) + sizeof "Bearer ";
        char *v = lro_malloc(len);
        if (v != NULL) {
            snprintf(v, len, "Bearer %s", token);
            md[n].key = grpc_slice_from_static_string("authorization");
            md[n].value = grpc_slice_from_copied_buffer(v, len - 1);
            n++;
            memset(v, 0, len);
            lro_free(v);
        }
    }
    return put_extras(st, md, n);
}

/* The waiter of the get_metadata() running on this thread while it calls
 * the provider: if the provider answers from inside fn, that waiter is
 * answered synchronously (grpc forbids calling cb from the get_metadata
 * thread), and tls_captured tells get_metadata so. */
static _Thread_local tok_waiter *tls_sync_waiter;
static _Thread_local int tls_captured;
static _Thread_local int tls_in_get_metadata;
static _Thread_local char tls_fail_msg[600];

typedef struct delivery {
    tok_state *st;
    tok_waiter *list;
    char *token; /* NULL: failure */
    char *msg;
    int release; /* the request's grpc_init() ends with the delivery */
} delivery;

static void deliver(delivery *d)
{
    grpc_metadata md[3];
    memset(md, 0, sizeof md);
    for (tok_waiter *w = d->list, *next; w != NULL; w = next) {
        next = w->next;
        if (d->token != NULL) {
            size_t n = fill_md(d->st, d->token, md);
            w->cb(w->ud, md, n, GRPC_STATUS_OK, NULL);
            for (size_t i = 0; i < n; i++) {
                grpc_slice_unref(md[i].value);
            }
        } else {
            w->cb(w->ud, NULL, 0, GRPC_STATUS_UNAVAILABLE, d->msg);
        }
        lro_free(w);
    }
    int release = d->release;
    free_secret(d->token);
    lro_free(d->msg);
    st_unref(d->st);
    lro_free(d);
    if (release) {
        grpc_shutdown();
    }
}

static void *deliver_thread(void *arg)
{
    deliver(arg);
    return NULL;
}

/* Hands the waiters their answer: on this thread, or on a short-lived one
 * when this thread is inside a get_metadata() (grpc's rule). `release`: a
 * provider request's grpc_init() (taken so that grpc is still there when a
 * late answer reaches its waiters, even after every client is gone), given
 * back once they all have their answer. */
static void deliver_all(tok_state *st, tok_waiter *list, const char *token, const char *msg,
                        int release)
{
    if (list == NULL) {
        if (release) {
            grpc_shutdown();
        }
        return;
    }
    delivery *d = lro_calloc(1, sizeof *d);
    if (d != NULL) {
        d->token = token ? lro_strdup(token) : NULL;
        d->msg = msg ? lro_strdup(msg) : NULL;
    }
    if (d == NULL || (token != NULL && d->token == NULL) || (msg != NULL && d->msg == NULL)) {
        /* Out of memory: the waiting calls still get an answer. */
        for (tok_waiter *w = list, *next; w != NULL; w = next) {
            next = w->next;
            w->cb(w->ud, NULL, 0, GRPC_STATUS_UNAVAILABLE, LRO_CREDS_MARK "out of memory");
            lro_free(w);
        }
        if (d != NULL) {
            free_secret(d->token);
            lro_free(d->msg);
            lro_free(d);
        }
        if (release) {
            grpc_shutdown();
        }
        return;
    }
    atomic_fetch_add(&st->refs, 1);
    d->st = st;
    d->list = list;
    d->release = release;
    if (tls_in_get_metadata) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int e = pthread_create(&th, &at, deliver_thread, d);
        pthread_attr_destroy(&at);
        if (e == 0) {
            return;
        }
    }
    deliver(d);
}

/* Takes the waiting list for an answer, leaving out this thread's own
 * synchronous waiter (tls_captured then tells its get_metadata). */
static tok_waiter *take_waiters_locked(tok_state *st)
{
    tok_waiter *list = st->waiters, *keep = NULL, **tail = &keep;
    st->waiters = NULL;
    for (tok_waiter *w = list, *next; w != NULL; w = next) {
        next = w->next;
        if (w == tls_sync_waiter) {
            tls_captured = 1;
            continue;
        }
        w->next = NULL;
        *tail = w;
        tail = &w->next;
    }
    return keep;
}

static void call_provider(tok_state *st, const char *audience)
{
    lro_token_request *req = lro_calloc(1, sizeof *req);
    if (req == NULL) {
        pthread_mutex_lock(&st->mu);
        st->inflight = 0;
        tok_waiter *list = take_waiters_locked(st);
        pthread_mutex_unlock(&st->mu);
        deliver_all(st, list, NULL, LRO_CREDS_MARK "out of memory", 0);
        return;
    }
    grpc_init(); /* released when the answer has been delivered */
    atomic_fetch_add(&st->refs, 1);
    req->st = st;
    atomic_fetch_add(&st->provider_calls, 1);
    st->fn(req, audience ? audience : "", st->ud);
}

int lro_token_request_answer(lro_token_request *req, const char *token, int64_t expires_at_unix_ms)
{
    lro_error_clear();
    if (req == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_token_request_answer: request is NULL");
    }
    int rc = check_secret(token, "token provider's token");
    if (rc != LRO_OK) {
        char why[300];
        snprintf(why, sizeof why, "%s", lro_last_error());
        lro_token_request_fail(req, "the token provider answered an invalid token");
        lro_fail(rc, "%s", why);
        return rc;
    }
    char *copy = lro_strdup(token);
    if (copy == NULL) {
        lro_token_request_fail(req, "out of memory");
        return LRO_ERR_NOMEM;
    }
    tok_state *st = req->st;
    lro_free(req);
    pthread_mutex_lock(&st->mu);
    free_secret(st->token);
    st->token = copy;
    st->got_ms = unix_ms();
    st->expiry_ms = expires_at_unix_ms > 0 ? expires_at_unix_ms : 0;
    st->inflight = 0;
    set_bearer_locked(st);
    tok_waiter *list = take_waiters_locked(st);
    /* Our own copy for the waiters: once unlocked, a later answer may
     * replace (and wipe) st->token. */
    char *mine = list != NULL ? lro_strdup(copy) : NULL;
    pthread_mutex_unlock(&st->mu);
    deliver_all(st, list, mine, mine == NULL ? LRO_CREDS_MARK "out of memory" : NULL, 1);
    free_secret(mine);
    st_unref(st);
    return LRO_OK;
}

int lro_token_request_fail(lro_token_request *req, const char *message)
{
    lro_error_clear();
    if (req == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "lro_token_request_fail: request is NULL");
    }
    tok_state *st = req->st;
    lro_free(req);
    char msg[600];
    snprintf(msg, sizeof msg, LRO_CREDS_MARK "token provider failed: %.500s",
             message ? message : "token provider failed");
    pthread_mutex_lock(&st->mu);
    st->inflight = 0;
    /* A failed background refresh is not retried by every call while the
     * current token still works: once a second at most. */
    st->retry_at_ms = unix_ms() + 1000;
    tok_waiter *list = take_waiters_locked(st);
    pthread_mutex_unlock(&st->mu);
    if (tls_captured && tls_sync_waiter != NULL) {
        /* keep the text for the synchronous answer */
        tls_captured = 2;
        snprintf(tls_fail_msg, sizeof tls_fail_msg, "%s", msg);
    }
    deliver_all(st, list, NULL, msg, 1);
    st_unref(st);
    return LRO_OK;
}

static int plugin_get_metadata(void *state, grpc_auth_metadata_context ctx,
                               grpc_credentials_plugin_metadata_cb cb, void *ud,
                               grpc_metadata md[GRPC_METADATA_CREDENTIALS_PLUGIN_SYNC_MAX],
                               size_t *n_md, grpc_status_code *status, const char **details)
{
    tok_state *st = state;
    int64_t now = unix_ms();
    *n_md = 0;
    *status = GRPC_STATUS_OK;
    *details = NULL;
    pthread_mutex_lock(&st->mu);
    if (st->src == SRC_NONE || st->src == SRC_GRPC) {
        *n_md = fill_md(st, NULL, md);
        pthread_mutex_unlock(&st->mu);
        return 1;
    }
    if (st->src == SRC_STATIC) {
        if (st->expiry_ms != 0 && now >= st->expiry_ms) {
            pthread_mutex_unlock(&st->mu);
            *status = GRPC_STATUS_UNAVAILABLE; /* -> UNAUTHENTICATED (fix_status) */
            *details = gpr_strdup(LRO_CREDS_MARK "access token expired");
            return 1;
        }
        *n_md = fill_md(st, st->token, md);
        pthread_mutex_unlock(&st->mu);
        return 1;
    }
    /* Token provider. */
    if (token_usable(st, now)) {
        *n_md = fill_md(st, st->token, md);
        int start = token_stale(st, now) && !st->inflight && now >= st->retry_at_ms;
        if (start) {
            st->inflight = 1; /* refresh ahead; this call goes on with the current token */
        }
        pthread_mutex_unlock(&st->mu);
        if (start) {
            tls_in_get_metadata++;
            call_provider(st, ctx.service_url);
            tls_in_get_metadata--;
        }
        return 1;
    }
    tok_waiter *w = lro_calloc(1, sizeof *w);
    if (w == NULL) {
        pthread_mutex_unlock(&st->mu);
        *status = GRPC_STATUS_UNAVAILABLE;
        *details = gpr_strdup(LRO_CREDS_MARK "out of memory");
        return 1;
    }
    w->cb = cb;
    w->ud = ud;
    w->next = st->waiters;
    st->waiters = w;
    int start = !st->inflight;
    st->inflight = 1;
    pthread_mutex_unlock(&st->mu);
    if (!start) {
        return 0; /* the request in flight answers us */
    }
    tls_in_get_metadata++;
    tok_waiter *saved_w = tls_sync_waiter;
    int saved_c = tls_captured;
    tls_sync_waiter = w;
    tls_captured = 0;
    call_provider(st, ctx.service_url);
    int captured = tls_captured;
    tls_sync_waiter = saved_w;
    tls_captured = saved_c;
    tls_in_get_metadata--;
    if (!captured) {
        return 0; /* w may be gone already: another thread may have answered */
    }
    /* Answered from inside fn: w was left out of the delivery, answer it
     * here (grpc takes the slices and the gpr_malloc'd details). */
    lro_free(w);
    pthread_mutex_lock(&st->mu);
    if (captured == 1 && st->token != NULL) {
        *n_md = fill_md(st, st->token, md);
        pthread_mutex_unlock(&st->mu);
        return 1;
    }
    pthread_mutex_unlock(&st->mu);
    *status = GRPC_STATUS_UNAVAILABLE;
    *details = gpr_strdup(captured == 2 ? tls_fail_msg : LRO_CREDS_MARK "token provider failed");
    return 1;
}

static char *plugin_debug_string(void *state)
{
    (void)state;
    return gpr_strdup("lro-c credentials plugin");
}

static void plugin_destroy(void *state)
{
    st_unref(state);
}

void lro_creds_fix_status(grpc_status_code *code, grpc_slice details)
{
    if (*code != GRPC_STATUS_UNAVAILABLE) {
        return;
    }
    size_t n = GRPC_SLICE_LENGTH(details);
    const char *p = (const char *)GRPC_SLICE_START_PTR(details);
    size_t m = sizeof LRO_CREDS_MARK - 1;
    for (size_t i = 0; p != NULL && i + m <= n; i++) {
        if (memcmp(p + i, LRO_CREDS_MARK, m) == 0) {
            *code = GRPC_STATUS_UNAUTHENTICATED;
            return;
        }
    }
}

static int slice_has(grpc_slice s, const char *needle)
{
    size_t n = GRPC_SLICE_LENGTH(s), m = strlen(needle);
    const char *p = (const char *)GRPC_SLICE_START_PTR(s);
    for (size_t i = 0; p != NULL && i + m <= n; i++) {
        if (memcmp(p + i, needle, m) == 0) {
            return 1;
        }
    }
    return 0;
}

const char *lro_creds_connect_hint(const lro_client_options *o)
{
    if (o->plaintext) {
        return " (lro-c: the server closed the connection before any HTTP/2 frame; a "
               "server that expects TLS does this to a plaintext client)";
    }
    const lro_credentials *c = o->credentials;
    if (c != NULL && (c->cert_pem != NULL || c->cert_path != NULL)) {
        return " (lro-c: the server closed the connection during or right after the TLS "
               "handshake, before any HTTP/2 frame; a server that requires client "
               "certificates does this when it does not accept the one sent: check that it "
               "trusts the certificate's issuer and that the certificate is valid for client "
               "authentication and not expired; the server's log says which)";
    }
    return " (lro-c: the server closed the connection during or right after the TLS "
           "handshake, before any HTTP/2 frame; a server that requires client certificates "
           "does this, and this client sent none (lro_credentials_set_client_cert; lroctl "
           "--cert-file))";
}

void lro_creds_explain(const char *hint, grpc_status_code code, grpc_slice *details)
{
    static const char tail[] = "Socket closed";
    size_t n = GRPC_SLICE_LENGTH(*details), m = sizeof tail - 1;
    const char *p = (const char *)GRPC_SLICE_START_PTR(*details);
    if (hint == NULL || code != GRPC_STATUS_UNAVAILABLE || p == NULL || n < m ||
        memcmp(p + n - m, tail, m) != 0 || !slice_has(*details, "failed to connect")) {
        return;
    }
    size_t h = strlen(hint);
    grpc_slice out = grpc_slice_malloc(n + h);
    memcpy(GRPC_SLICE_START_PTR(out), p, n);
    memcpy(GRPC_SLICE_START_PTR(out) + n, hint, h);
    grpc_slice_unref(*details);
    *details = out;
}

/* ---- The object ------------------------------------------------------------------ */

static int creds_new(int src, lro_credentials **out)
{
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "credentials: out is NULL");
    }
    lro_credentials *c = lro_calloc(1, sizeof *c);
    tok_state *st = lro_calloc(1, sizeof *st);
    if (c == NULL || st == NULL) {
        lro_free(c);
        lro_free(st);
        return LRO_ERR_NOMEM;
    }
    atomic_init(&st->refs, 1);
    pthread_mutex_init(&st->mu, NULL);
    st->src = src;
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    c->st = st;
    snprintf(c->describe, sizeof c->describe, "%s",
             src == SRC_STATIC     ? "access token"
             : src == SRC_PROVIDER ? "token provider"
                                   : "none");
    *out = c;
    return LRO_OK;
}

lro_credentials *lro_credentials_ref(lro_credentials *c)
{
    if (c != NULL) {
        atomic_fetch_add(&c->refs, 1);
    }
    return c;
}

void lro_credentials_unref(lro_credentials *c)
{
    if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1) {
        return;
    }
    if (c->call != NULL) {
        grpc_call_credentials_release(c->call);
    }
    if (c->google != NULL) {
        grpc_call_credentials_release(c->google);
    }
    st_unref(c->st);
    free_secret(c->key_pem);
    LRO_FREE_ALL(c->cert_pem, c->cert_path, c->key_path, c->roots_path);
    pthread_mutex_destroy(&c->mu);
    if (c->google != NULL || c->call != NULL) {
        grpc_shutdown(); /* the grpc_init() of the grpc objects */
    }
    lro_free(c);
}

const char *lro_credentials_describe(const lro_credentials *c)
{
    return c == NULL ? "none" : c->describe;
}

int lro_credentials_create(lro_credentials **out)
{
    lro_error_clear();
    return creds_new(SRC_NONE, out);
}

int lro_credentials_create_access_token(const char *token, int64_t expires_at_unix_ms,
                                        lro_credentials **out)
{
    lro_error_clear();
    int rc = check_secret(token, "access token");
    if (rc != LRO_OK) {
        return rc;
    }
    if (expires_at_unix_ms < 0) {
        return lro_fail(LRO_ERR_INVALID_ARG, "access token expiry %lld is negative",
                        (long long)expires_at_unix_ms);
    }
    lro_credentials *c;
    rc = creds_new(SRC_STATIC, &c);
    if (rc != LRO_OK) {
        return rc;
    }
    c->st->token = lro_strdup(token);
    if (c->st->token == NULL) {
        lro_credentials_unref(c);
        return LRO_ERR_NOMEM;
    }
    c->st->expiry_ms = expires_at_unix_ms;
    c->st->got_ms = unix_ms();
    set_bearer_locked(c->st); /* not shared yet */
    *out = c;
    return LRO_OK;
}

int lro_credentials_create_token_provider(lro_token_provider_fn fn, void *user_data,
                                          lro_free_fn ud_free, lro_credentials **out)
{
    lro_error_clear();
    if (fn == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "token provider function is NULL");
    }
    lro_credentials *c;
    int rc = creds_new(SRC_PROVIDER, &c);
    if (rc != LRO_OK) {
        return rc;
    }
    c->st->fn = fn;
    c->st->ud = user_data;
    c->st->ud_free = ud_free;
    *out = c;
    return LRO_OK;
}

/* Every setter starts here: lro_last_error() cleared, a NULL refused, and a
 * frozen object (given to options, a client or a call) refused. */
#define CHECK_MUTABLE(c)                                                                           \
    do {                                                                                           \
        LRO_BEGIN_NONNULL(c, "credentials");                                                       \
        if (atomic_load(&(c)->frozen)) {                                                           \
            return lro_fail(LRO_ERR_STATE,                                                         \
                            "%s: the credentials are in use (by client options, a client or a "    \
                            "call) and can no longer change",                                      \
                            __func__);                                                             \
        }                                                                                          \
    } while (0)

int lro_credentials_set_api_key(lro_credentials *c, const char *key)
{
    CHECK_MUTABLE(c);
    int rc = check_secret(key, "API key");
    if (rc != LRO_OK) {
        return rc;
    }
    return replace_str(&c->st->api_key, key);
}

int lro_credentials_create_api_key(const char *key, lro_credentials **out)
{
    lro_error_clear();
    int rc = check_secret(key, "API key");
    if (rc != LRO_OK) {
        return rc;
    }
    lro_credentials *c;
    rc = creds_new(SRC_NONE, &c);
    if (rc == LRO_OK && (rc = lro_credentials_set_api_key(c, key)) != LRO_OK) {
        lro_credentials_unref(c);
    }
    if (rc == LRO_OK) {
        snprintf(c->describe, sizeof c->describe, "API key");
        *out = c;
    }
    return rc;
}

int lro_credentials_set_quota_project(lro_credentials *c, const char *project)
{
    CHECK_MUTABLE(c);
    if (project == NULL || project[0] == '\0' || lro_check_header("x-goog-user-project", project)) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "quota project is NULL, empty, longer than 16 KiB or not printable ASCII");
    }
    return replace_str(&c->st->quota, project);
}

int lro_credentials_allow_plaintext(lro_credentials *c)
{
    CHECK_MUTABLE(c);
    c->allow_plaintext = 1;
    return LRO_OK;
}

static int check_pem(const char *pem, const char *what, const char *label)
{
    if (pem == NULL || pem[0] == '\0') {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s is %s", what, pem ? "empty" : "NULL");
    }
    if (strstr(pem, "-----BEGIN") == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "%s is not PEM text (no \"-----BEGIN\" line): pass the contents, not a "
                        "file name",
                        what);
    }
    if (label != NULL && strstr(pem, label) == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s has no \"%s\" block", what, label);
    }
    return LRO_OK;
}

int lro_credentials_set_client_cert(lro_credentials *c, const char *cert_chain_pem,
                                    const char *private_key_pem)
{
    CHECK_MUTABLE(c);
    int rc = check_pem(cert_chain_pem, "client certificate chain", "CERTIFICATE-----");
    if (rc == LRO_OK) {
        rc = check_pem(private_key_pem, "client private key", "PRIVATE KEY-----");
    }
    if (rc != LRO_OK) {
        return rc;
    }
    char *cp = lro_strdup(cert_chain_pem), *kp = lro_strdup(private_key_pem);
    if (cp == NULL || kp == NULL) {
        lro_free(cp);
        free_secret(kp);
        return LRO_ERR_NOMEM;
    }
    lro_free(c->cert_pem);
    free_secret(c->key_pem);
    c->cert_pem = cp;
    c->key_pem = kp;
    lro_free(c->cert_path);
    lro_free(c->key_path);
    lro_free(c->roots_path);
    c->cert_path = c->key_path = c->roots_path = NULL;
    return LRO_OK;
}

/* Reads a whole file (at most `max` bytes) into *out (lro_malloc'd,
 * NUL-terminated); the error text names the file and what went wrong. */
static int read_file(const char *path, const char *what, size_t max, char **out, size_t *len)
{
    if (path == NULL || path[0] == '\0') {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s file name is %s", what, path ? "empty" : "NULL");
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return lro_fail(errno == ENOENT ? LRO_ERR_INVALID_ARG : LRO_ERR_IO,
                        "%s file %s cannot be opened: %s", what, path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return lro_fail(LRO_ERR_INVALID_ARG, "%s file %s is not a regular file", what, path);
    }
    if ((size_t)sb.st_size > max) {
        fclose(f);
        return lro_fail(LRO_ERR_INVALID_ARG, "%s file %s is %lld bytes, more than %zu", what, path,
                        (long long)sb.st_size, max);
    }
    char *b = lro_malloc((size_t)sb.st_size + 1);
    if (b == NULL) {
        fclose(f);
        return LRO_ERR_NOMEM;
    }
    size_t n = fread(b, 1, (size_t)sb.st_size, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        lro_free(b);
        return lro_fail(LRO_ERR_IO, "%s file %s could not be read", what, path);
    }
    b[n] = '\0';
    if (strlen(b) != n) {
        memset(b, 0, n);
        lro_free(b);
        return lro_fail(LRO_ERR_INVALID_ARG, "%s file %s contains a NUL byte: not text", what,
                        path);
    }
    *out = b;
    if (len != NULL) {
        *len = n;
    }
    return LRO_OK;
}

static int check_pem_file(const char *path, const char *what, const char *label)
{
    char *b = NULL;
    int rc = read_file(path, what, MAX_JSON_FILE, &b, NULL);
    if (rc != LRO_OK) {
        return rc;
    }
    if (strstr(b, "-----BEGIN") == NULL || strstr(b, label) == NULL) {
        rc = lro_fail(LRO_ERR_INVALID_ARG, "%s file %s is not PEM (no \"-----BEGIN ...%s\" line)",
                      what, path, label);
    }
    memset(b, 0, strlen(b));
    lro_free(b);
    return rc;
}

int lro_credentials_set_client_cert_files(lro_credentials *c, const char *cert_path,
                                          const char *key_path, const char *roots_path,
                                          int refresh_interval_s)
{
    CHECK_MUTABLE(c);
    if (refresh_interval_s < 0) {
        return lro_fail(LRO_ERR_INVALID_ARG, "refresh interval %d s is negative",
                        refresh_interval_s);
    }
    int rc = check_pem_file(cert_path, "client certificate", "CERTIFICATE-----");
    if (rc == LRO_OK) {
        rc = check_pem_file(key_path, "client private key", "PRIVATE KEY-----");
    }
    if (rc == LRO_OK && roots_path != NULL) {
        rc = check_pem_file(roots_path, "root certificates", "CERTIFICATE-----");
    }
    if (rc != LRO_OK) {
        return rc;
    }
    char *cp = lro_strdup(cert_path), *kp = lro_strdup(key_path);
    char *rp = roots_path ? lro_strdup(roots_path) : NULL;
    if (cp == NULL || kp == NULL || (roots_path != NULL && rp == NULL)) {
        lro_free(cp);
        lro_free(kp);
        lro_free(rp);
        return LRO_ERR_NOMEM;
    }
    lro_free(c->cert_pem);
    free_secret(c->key_pem);
    c->cert_pem = c->key_pem = NULL;
    lro_free(c->cert_path);
    lro_free(c->key_path);
    lro_free(c->roots_path);
    c->cert_path = cp;
    c->key_path = kp;
    c->roots_path = rp;
    c->refresh_s = refresh_interval_s > 0 ? refresh_interval_s : 600;
    return LRO_OK;
}

/* ---- Google sources -------------------------------------------------------------- */

/* The string value of top-level key `key` of a JSON object, unescaped
 * (\uXXXX other than ASCII kept as is: only used for type, client_email and
 * quota_project_id), into buf. 1 found, 0 not. */
static int json_top_string(const char *json, const char *key, char *buf, size_t cap)
{
    const char *p = json;
    int depth = 0;
    size_t kl = strlen(key);
    while (*p) {
        if (*p == '"') {
            const char *s = ++p;
            while (*p && *p != '"') {
                p += (*p == '\\' && p[1]) ? 2 : 1;
            }
            if (!*p) {
                return 0;
            }
            size_t sl = (size_t)(p - s);
            p++;
            if (depth == 1 && sl == kl && memcmp(s, key, kl) == 0) {
                while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
                    p++;
                }
                if (*p != ':') {
                    continue;
                }
                p++;
                while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
                    p++;
                }
                if (*p != '"') {
                    return 0;
                }
                p++;
                size_t n = 0;
                while (*p && *p != '"') {
                    char ch = *p;
                    if (ch == '\\' && p[1]) {
                        p++;
                        ch = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                    }
                    if (n + 1 < cap) {
                        buf[n++] = ch;
                    }
                    p++;
                }
                buf[n] = '\0';
                return *p == '"';
            }
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        }
        p++;
    }
    return 0;
}

static int json_kind(const char *json, const char *origin, char *type, size_t cap)
{
    const char *p = json;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
        p++;
    }
    if (*p != '{') {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s is not a JSON object", origin);
    }
    if (!json_top_string(json, "type", type, cap)) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "%s has no \"type\" field (expected service_account, authorized_user or "
                        "external_account)",
                        origin);
    }
    return LRO_OK;
}

static int require_fields(const char *json, const char *origin, const char *const *fields)
{
    char tmp[8];
    for (; *fields; fields++) {
        if (!json_top_string(json, *fields, tmp, sizeof tmp)) {
            return lro_fail(LRO_ERR_INVALID_ARG, "%s has no string field \"%s\"", origin, *fields);
        }
    }
    return LRO_OK;
}

/* A new object around grpc's call credentials (NULL = grpc refused). */
static int wrap_google(grpc_call_credentials *g, const char *origin, const char *kind,
                       const char *json, lro_credentials **out)
{
    if (g == NULL) {
        grpc_shutdown();
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "%s: grpc refused the %s credentials (malformed JSON or a field it "
                        "cannot parse, e.g. the private key)",
                        origin, kind);
    }
    lro_credentials *c;
    int rc = creds_new(SRC_GRPC, &c);
    if (rc != LRO_OK) {
        grpc_call_credentials_release(g);
        grpc_shutdown();
        return rc;
    }
    c->st->src = SRC_GRPC;
    c->google = g; /* keeps the grpc_init() made by the caller */
    char who[120] = "";
    if (json != NULL && json_top_string(json, "client_email", who, sizeof who)) {
        snprintf(c->describe, sizeof c->describe, "%s %s", kind, who);
    } else {
        snprintf(c->describe, sizeof c->describe, "%s", kind);
    }
    char qp[256];
    /* grpc 1.51 parses quota_project_id and never sends it: we do. */
    if (json != NULL && json_top_string(json, "quota_project_id", qp, sizeof qp) && qp[0] &&
        lro_credentials_set_quota_project(c, qp) != LRO_OK) {
        lro_credentials_unref(c);
        return lro_fail(LRO_ERR_INVALID_ARG, "%s: quota_project_id is not a valid header value",
                        origin);
    }
    *out = c;
    return LRO_OK;
}

static int sa_from(const char *json, const char *origin, lro_credentials **out)
{
    /* What grpc's parser needs (json_token.cc), named before it refuses. */
    static const char *const fields[] = {"client_email", "private_key", "private_key_id",
                                         "client_id", NULL};
    int rc = require_fields(json, origin, fields);
    if (rc != LRO_OK) {
        return rc;
    }
    /* grpc 1.51 takes any private_key text here and fails every call
     * later: check its shape now (never quoting it). */
    char *pk = lro_malloc(strlen(json) + 1);
    if (pk == NULL) {
        return LRO_ERR_NOMEM;
    }
    int pem_ok = json_top_string(json, "private_key", pk, strlen(json) + 1) &&
                 strstr(pk, "-----BEGIN") != NULL && strstr(pk, "PRIVATE KEY-----") != NULL;
    memset(pk, 0, strlen(pk));
    lro_free(pk);
    if (!pem_ok) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "%s: private_key is not a PEM private key (\"-----BEGIN PRIVATE "
                        "KEY-----\")",
                        origin);
    }
    grpc_init();
    grpc_call_credentials *g = grpc_service_account_jwt_access_credentials_create(
        json, gpr_time_from_seconds(3600, GPR_TIMESPAN), NULL);
    return wrap_google(g, origin, "service account", json, out);
}

static int au_from(const char *json, const char *origin, lro_credentials **out)
{
    static const char *const fields[] = {"client_id", "client_secret", "refresh_token", NULL};
    int rc = require_fields(json, origin, fields);
    if (rc != LRO_OK) {
        return rc;
    }
    grpc_init();
    grpc_call_credentials *g = grpc_google_refresh_token_credentials_create(json, NULL);
    return wrap_google(g, origin, "authorized user", NULL, out);
}

static int ea_from(const char *json, const char *origin, const char *scopes, lro_credentials **out)
{
    static const char *const fields[] = {"audience", "subject_token_type", "token_url", NULL};
    int rc = require_fields(json, origin, fields);
    if (rc != LRO_OK) {
        return rc;
    }
    grpc_init();
    grpc_call_credentials *g = grpc_external_account_credentials_create(
        json, scopes ? scopes : "https://www.googleapis.com/auth/cloud-platform");
    return wrap_google(g, origin, "external account", NULL, out);
}

static int check_kind(const char *json, const char *origin, const char *want)
{
    char type[64];
    int rc = json_kind(json, origin, type, sizeof type);
    if (rc == LRO_OK && strcmp(type, want) != 0) {
        rc = lro_fail(LRO_ERR_INVALID_ARG, "%s has \"type\": \"%s\", not \"%s\"", origin, type,
                      want);
    }
    return rc;
}

/* The start of every constructor from a JSON document: clears
 * lro_last_error(), refuses NULLs, and checks that the JSON's "type" is
 * `kind` (`what` names it in the texts: "service account" ...). */
static int json_ctor_begin(const char *json, lro_credentials **out, const char *what,
                           const char *kind)
{
    lro_error_clear();
    if (json == NULL || out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "%s: %s is NULL", what, json ? "out" : "json");
    }
    char origin[64];
    snprintf(origin, sizeof origin, "%s JSON", what);
    return check_kind(json, origin, kind);
}

int lro_credentials_create_service_account(const char *json, lro_credentials **out)
{
    int rc = json_ctor_begin(json, out, "service account", "service_account");
    return rc != LRO_OK ? rc : sa_from(json, "service account JSON", out);
}

int lro_credentials_create_authorized_user(const char *json, lro_credentials **out)
{
    int rc = json_ctor_begin(json, out, "authorized user", "authorized_user");
    return rc != LRO_OK ? rc : au_from(json, "authorized user JSON", out);
}

int lro_credentials_create_external_account(const char *json, const char *scopes,
                                            lro_credentials **out)
{
    int rc = json_ctor_begin(json, out, "external account", "external_account");
    return rc != LRO_OK ? rc : ea_from(json, "external account JSON", scopes, out);
}

int lro_credentials_create_compute_engine(lro_credentials **out)
{
    lro_error_clear();
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "compute engine: out is NULL");
    }
    grpc_init();
    return wrap_google(grpc_google_compute_engine_credentials_create(NULL), "metadata server",
                       "compute engine", NULL, out);
}

static int from_json(const char *json, const char *origin, const char *scopes,
                     lro_credentials **out)
{
    char type[64];
    int rc = json_kind(json, origin, type, sizeof type);
    if (rc != LRO_OK) {
        return rc;
    }
    if (strcmp(type, "service_account") == 0) {
        return sa_from(json, origin, out);
    }
    if (strcmp(type, "authorized_user") == 0) {
        return au_from(json, origin, out);
    }
    if (strcmp(type, "external_account") == 0) {
        return ea_from(json, origin, scopes, out);
    }
    return lro_fail(LRO_ERR_INVALID_ARG,
                    "%s has \"type\": \"%.40s\": expected service_account, authorized_user or "
                    "external_account",
                    origin, type);
}

int lro_credentials_create_from_file(const char *path, const char *scopes, lro_credentials **out)
{
    lro_error_clear();
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "credentials file: out is NULL");
    }
    char *json = NULL;
    size_t len = 0;
    int rc = read_file(path, "credentials", MAX_JSON_FILE, &json, &len);
    if (rc != LRO_OK) {
        return rc;
    }
    char origin[600];
    snprintf(origin, sizeof origin, "credentials file %.550s", path);
    rc = from_json(json, origin, scopes, out);
    memset(json, 0, len);
    lro_free(json);
    return rc;
}

/* Does metadata.google.internal answer as a metadata server within 1 s?
 * (grpc's own check, done here so that ADC can say what it found.) */
static int metadata_server_answers(char *why, size_t cap)
{
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int e = getaddrinfo("metadata.google.internal.", "80", &hints, &ai);
    if (e != 0) {
        snprintf(why, cap, "metadata.google.internal does not resolve (%s)", gai_strerror(e));
        return 0;
    }
    int ok = 0;
    snprintf(why, cap, "metadata.google.internal:80 did not answer within 1 s");
    for (struct addrinfo *a = ai; a != NULL && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        int64_t end = lro_now_ns() + 1000000000LL;
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        int cerr = r == 0 ? 0 : errno;
        struct pollfd pf = {fd, POLLOUT, 0};
        if (r != 0 && cerr == EINPROGRESS) {
            r = poll(&pf, 1, 1000) == 1 ? 0 : -1;
            cerr = r == 0 ? 0 : ETIMEDOUT;
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (r == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr)) {
                r = -1;
                cerr = soerr;
            }
        }
        if (r != 0 && cerr != ETIMEDOUT) {
            snprintf(why, cap, "metadata.google.internal:80: %s", strerror(cerr));
        }
        static const char req[] = "GET / HTTP/1.0\r\nHost: metadata.google.internal\r\n"
                                  "Metadata-Flavor: Google\r\n\r\n";
        if (r == 0 && send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
            char buf[2048];
            size_t n = 0;
            for (;;) {
                int64_t left = (end - lro_now_ns()) / 1000000;
                pf.events = POLLIN;
                if (left <= 0 || poll(&pf, 1, (int)left) != 1 || n + 1 >= sizeof buf) {
                    break;
                }
                ssize_t got = recv(fd, buf + n, sizeof buf - 1 - n, 0);
                if (got <= 0) {
                    break;
                }
                n += (size_t)got;
            }
            buf[n] = '\0';
            for (char *q = buf; *q; q++) {
                *q = (*q >= 'A' && *q <= 'Z') ? (char)(*q + 32) : *q;
            }
            if (strstr(buf, "metadata-flavor: google") != NULL) {
                ok = 1;
            } else if (n > 0) {
                snprintf(why, cap,
                         "metadata.google.internal:80 answered, but not as a metadata "
                         "server (no Metadata-Flavor: Google)");
            }
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return ok;
}

/* An ADC source that is a file: its failure text says which source. */
static int adc_from_file(const char *path, const char *source, const char *scopes,
                         lro_credentials **out)
{
    int rc = lro_credentials_create_from_file(path, scopes, out);
    if (rc != LRO_OK) {
        char why[700];
        snprintf(why, sizeof why, "%s", lro_last_error()); /* lro_fail rewrites it */
        return lro_fail(rc, "ADC: %s: %s", source, why);
    }
    return LRO_OK;
}

int lro_credentials_create_adc(const char *scopes, lro_credentials **out)
{
    lro_error_clear();
    if (out == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "ADC: out is NULL");
    }
    const char *env = getenv("GOOGLE_APPLICATION_CREDENTIALS");
    if (env != NULL && env[0] != '\0') {
        return adc_from_file(env, "GOOGLE_APPLICATION_CREDENTIALS", scopes, out);
    }
    char wk[600] = "";
    const char *cfg = getenv("CLOUDSDK_CONFIG");
    const char *home = getenv("HOME");
    if (cfg != NULL && cfg[0]) {
        snprintf(wk, sizeof wk, "%s/application_default_credentials.json", cfg);
    } else if (home != NULL && home[0]) {
        snprintf(wk, sizeof wk, "%s/.config/gcloud/application_default_credentials.json", home);
    }
    if (wk[0] && access(wk, F_OK) == 0) {
        return adc_from_file(wk, "gcloud's well-known file", scopes, out);
    }
    char why[200];
    if (metadata_server_answers(why, sizeof why)) {
        return lro_credentials_create_compute_engine(out);
    }
    /* The path last: a very long one is what gets cut. */
    return lro_fail(LRO_ERR_INVALID_ARG,
                    "ADC found no credentials: GOOGLE_APPLICATION_CREDENTIALS is not set; %s; %s%s",
                    why, wk[0] ? wk : "no HOME, so no gcloud well-known file",
                    wk[0] ? " does not exist" : "");
}

/* ---- Use by clients and calls ---------------------------------------------------- */

/* Builds the call credentials once (frozen from now on). */
static int build_call(lro_credentials *c, grpc_call_credentials **out)
{
    atomic_store(&c->frozen, 1);
    pthread_mutex_lock(&c->mu);
    if (!c->built) {
        tok_state *st = c->st;
        /* Frozen: the extras no longer change. */
        if (st->api_key != NULL && !st->has_key_md) {
            st->has_key_md = secret_slice("", st->api_key, &st->key_md);
        }
        if (st->quota != NULL && !st->has_quota_md) {
            st->has_quota_md = secret_slice("", st->quota, &st->quota_md);
        }
        int want_plugin = st->src == SRC_STATIC || st->src == SRC_PROVIDER || st->api_key != NULL ||
                          st->quota != NULL;
        grpc_call_credentials *plugin = NULL;
        if (c->google == NULL && want_plugin) {
            grpc_init(); /* released with the object */
        }
        if (want_plugin) {
            grpc_metadata_credentials_plugin p;
            memset(&p, 0, sizeof p);
            p.get_metadata = plugin_get_metadata;
            p.debug_string = plugin_debug_string;
            p.destroy = plugin_destroy;
            p.state = st;
            p.type = "lro-c";
            atomic_fetch_add(&st->refs, 1); /* the plugin's */
            plugin = grpc_metadata_credentials_create_from_plugin(
                p, c->allow_plaintext ? GRPC_SECURITY_NONE : GRPC_PRIVACY_AND_INTEGRITY, NULL);
        }
        if (plugin != NULL && c->google != NULL) {
            c->call = grpc_composite_call_credentials_create(c->google, plugin, NULL);
            grpc_call_credentials_release(plugin);
        } else if (plugin != NULL) {
            c->call = plugin;
        } else if (c->google == NULL && want_plugin) {
            grpc_shutdown(); /* the plugin was refused: nothing holds the init */
        }
        /* google only: c->google is used as is. */
        c->built = 1;
    }
    pthread_mutex_unlock(&c->mu);
    *out = c->call != NULL ? c->call : c->google;
    if (c->built && *out == NULL && (c->st->src == SRC_STATIC || c->st->src == SRC_PROVIDER)) {
        return lro_fail(LRO_ERR_INTERNAL, "grpc refused the credentials plugin");
    }
    return LRO_OK;
}

void lro_creds_freeze(lro_credentials *c)
{
    if (c != NULL) {
        atomic_store(&c->frozen, 1);
    }
}

int lro_creds_sends_secrets(const lro_credentials *c)
{
    return c != NULL && (c->st->src != SRC_NONE || c->st->api_key != NULL || c->google != NULL);
}

int lro_creds_prepare_call(lro_credentials *c)
{
    if (c->cert_pem != NULL || c->cert_path != NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG,
                        "lro_call_options.credentials carry a client certificate: a certificate "
                        "belongs to the connection, set it on the client's credentials");
    }
    grpc_call_credentials *g;
    return build_call(c, &g);
}

int lro_creds_has_token(const lro_credentials *c)
{
    return c != NULL && c->google == NULL && (c->st->src == SRC_STATIC || c->st->src == SRC_PROVIDER);
}

int lro_creds_fast_md(lro_credentials *c, int plaintext, grpc_metadata *md, grpc_call *tls_call)
{
    if (c->google != NULL) {
        return -1; /* grpc's own sources (JWT, OAuth2 refresh, ...) */
    }
    if (c->call == NULL) {
        return 0; /* an empty bag: nothing to send */
    }
    tok_state *st = c->st;
    if (plaintext && !c->allow_plaintext && lro_creds_sends_secrets(c)) {
        return -1; /* grpc's plugin refuses it (security level): the documented error */
    }
    int n = 0;
    if (st->src == SRC_STATIC || st->src == SRC_PROVIDER) {
        pthread_mutex_lock(&st->mu);
        int64_t now = unix_ms();
        /* What the plugin would answer at once with the cached token, and
         * nothing for it to start: not yet in the refresh-ahead window, or
         * a refresh is in flight or held back after a failure. */
        int ok = st->has_bearer &&
                 (st->src == SRC_STATIC
                      ? st->expiry_ms == 0 || now < st->expiry_ms
                      : token_usable(st, now) &&
                            (!token_stale(st, now) || st->inflight || now < st->retry_at_ms));
        if (st->token_len < LRO_GRPC_TOKEN_MIN) {
            tls_call = NULL; /* a short token is cheaper as a header */
        }
        if (ok && tls_call != NULL && st->gtok == NULL) {
            st->gtok = grpc_access_token_credentials_create(st->token, NULL);
        }
        if (ok && tls_call != NULL && st->gtok != NULL) {
            /* grpc takes its own reference; set before any header below. */
            ok = grpc_call_set_credentials(tls_call, st->gtok) == GRPC_CALL_OK;
        } else if (ok) {
            md[n].key = grpc_slice_from_static_string("authorization");
            md[n].value = grpc_slice_ref(st->bearer);
            n++;
        }
        pthread_mutex_unlock(&st->mu);
        if (!ok) {
            return -1;
        }
    }
    return (int)put_extras(st, md, (size_t)n);
}

int lro_creds_apply_slow(lro_credentials *client, lro_credentials *call_creds, grpc_call *call)
{
    grpc_call_credentials *a = client ? (client->call ? client->call : client->google) : NULL;
    grpc_call_credentials *b =
        call_creds ? (call_creds->call ? call_creds->call : call_creds->google) : NULL;
    if (a == NULL || b == NULL) {
        grpc_call_credentials *g = a != NULL ? a : b;
        if (g == NULL) {
            return LRO_OK; /* nothing to send */
        }
        return grpc_call_set_credentials(call, g) == GRPC_CALL_OK ? LRO_OK : LRO_ERR_INTERNAL;
    }
    /* Both: grpc sends the two sets, as it does for a channel's and a
     * call's credentials. */
    grpc_call_credentials *both = grpc_composite_call_credentials_create(a, b, NULL);
    if (both == NULL) {
        return LRO_ERR_INTERNAL;
    }
    grpc_call_error e = grpc_call_set_credentials(call, both);
    grpc_call_credentials_release(both);
    return e == GRPC_CALL_OK ? LRO_OK : LRO_ERR_INTERNAL;
}

static grpc_channel_credentials *tls_channel(const lro_client_options *o, const lro_credentials *c,
                                             int *rc)
{
    if (c == NULL || (c->cert_pem == NULL && c->cert_path == NULL)) {
        return grpc_ssl_credentials_create(o->root_pem, NULL, NULL, NULL);
    }
    if (c->cert_pem != NULL) {
        grpc_ssl_pem_key_cert_pair pair = {c->key_pem, c->cert_pem};
        return grpc_ssl_credentials_create_ex(o->root_pem, &pair, NULL, NULL);
    }
    /* Watched files: grpc's file watcher re-reads them; new handshakes use
     * the new identity. */
    if (o->root_pem != NULL && c->roots_path == NULL) {
        *rc = lro_fail(LRO_ERR_INVALID_ARG,
                       "client certificate files are watched, and TLS roots given as text "
                       "cannot be: pass the roots as a file (roots_path of "
                       "lro_credentials_set_client_cert_files)");
        return NULL;
    }
    grpc_tls_certificate_provider *p = grpc_tls_certificate_provider_file_watcher_create(
        c->key_path, c->cert_path, c->roots_path, (unsigned)c->refresh_s);
    if (p == NULL) {
        return NULL;
    }
    grpc_tls_credentials_options *to = grpc_tls_credentials_options_create();
    grpc_tls_credentials_options_set_certificate_provider(to, p);
    grpc_tls_credentials_options_watch_identity_key_cert_pairs(to);
    if (c->roots_path != NULL) {
        grpc_tls_credentials_options_watch_root_certs(to);
    }
    grpc_channel_credentials *cc = grpc_tls_credentials_create(to); /* takes `to` */
    grpc_tls_certificate_provider_release(p);
    return cc;
}

int lro_creds_channel(const lro_client_options *o, grpc_channel_credentials **out,
                      lro_credentials **per_call)
{
    lro_credentials *c = o->credentials;
    grpc_call_credentials *call = NULL;
    *per_call = NULL;
    if (c != NULL) {
        int rc = build_call(c, &call);
        if (rc != LRO_OK) {
            return rc;
        }
        if (o->plaintext && lro_creds_sends_secrets(c) && !c->allow_plaintext) {
            return lro_fail(LRO_ERR_INVALID_ARG,
                            "credentials (%s) over plaintext: call lro_credentials_allow_plaintext "
                            "or use TLS",
                            c->describe);
        }
        if (o->plaintext && (c->cert_pem != NULL || c->cert_path != NULL)) {
            return lro_fail(LRO_ERR_INVALID_ARG,
                            "a client certificate needs TLS, and the options ask for plaintext");
        }
    }
    int rc = LRO_OK;
    grpc_channel_credentials *ch =
        o->plaintext ? grpc_insecure_credentials_create() : tls_channel(o, c, &rc);
    if (ch == NULL) {
        return rc != LRO_OK ? rc
                            : lro_fail(LRO_ERR_INVALID_ARG, "grpc refused the %s credentials",
                                       o->plaintext ? "plaintext" : "TLS");
    }
    if (call != NULL && c->google == NULL) {
        /* lro-c's own sources (a token, a provider, API key, quota project):
         * each call carries the headers itself while the cached values are
         * good (lro_creds_fast_md), and only goes through grpc's plugin
         * machinery, a few thousand instructions per call, when a token
         * must be fetched or refreshed. */
        *per_call = lro_credentials_ref(c);
        *out = ch;
        return LRO_OK;
    }
    if (call != NULL) {
        grpc_channel_credentials *comp = grpc_composite_channel_credentials_create(ch, call, NULL);
        grpc_channel_credentials_release(ch);
        if (comp == NULL) {
            return lro_fail(LRO_ERR_INVALID_ARG,
                            "grpc cannot combine these credentials with the channel");
        }
        ch = comp;
    }
    *out = ch;
    return LRO_OK;
}
