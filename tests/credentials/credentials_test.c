/* Credentials against the embedded server on loopback (plaintext with
 * lro_credentials_allow_plaintext, which is what these tests are about; the
 * TLS rule is checked too):
 *  - access token: sent; refused over plaintext unless allowed; expired ->
 *    UNAUTHENTICATED without the token in the message;
 *  - API key and quota project headers;
 *  - token provider: short-lived tokens refreshed ahead of expiry across many
 *    calls without a failed call; 1,000 concurrent calls and a slow provider
 *    -> ONE provider request; a failing provider -> UNAUTHENTICATED with its
 *    message (not retried); a provider that never answers -> the call's
 *    deadline; the token never in a status message nor a grpc log line;
 *  - per-call credentials (two tenants on one client);
 *  - errors at creation: which file, why, no secret. */
#include <grpc/support/log.h>
#include <stdarg.h>
#include <sys/time.h>

#include "../client/harness.h"

#define SECRET "tok-5e1f-very-secret"

static int64_t unix_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_leaks;
static void capture_log(gpr_log_func_args *a)
{
    pthread_mutex_lock(&log_mu);
    if (a->message != NULL && strstr(a->message, SECRET) != NULL) {
        log_leaks++;
        fprintf(stderr, "SECRET LEAKED in log: %s\n", a->message);
    }
    pthread_mutex_unlock(&log_mu);
}

static lro_client *creds_client(lro_test_server *s, lro_credentials *cr, int expect_rc)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.initial_backoff_ms = 10;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_OK);
    if (cr != NULL) {
        CHECK_EQ_INT(lro_client_options_set_credentials(o, cr), LRO_OK);
    }
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), expect_rc);
    lro_client_options_destroy(o);
    return c;
}

static lro_future *get_sync(lro_client *c, const char *name, const lro_call_options *co)
{
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c, name, co, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    return f;
}

/* A Get that must succeed. */
static void get_ok(lro_client *c, const char *name, const lro_call_options *co)
{
    lro_future *f = get_sync(c, name, co);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
}

static const char *last_header(lro_test_server *s, const char *name, const char *key)
{
    static char buf[512];
    lro_test_record *r = lro_test_server_last_record(s, LRO_TEST_GET, name);
    CHECK(r != NULL);
    const char *v = lro_test_record_header(r, key);
    snprintf(buf, sizeof buf, "%s", v ? v : "(none)");
    lro_test_record_free(r);
    return buf;
}

static void no_secret(const lro_future *f)
{
    const char *m = lro_status_message(lro_future_status(f));
    CHECK(strstr(m, SECRET) == NULL);
    CHECK(strstr(m, "Bearer") == NULL);
}

static void test_access_token(void)
{
    lro_test_server *s = start_server(3);
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create_access_token(SECRET, 0, &cr), LRO_OK);
    CHECK_EQ_STR(lro_credentials_describe(cr), "access token");
    /* Over plaintext without permission: refused at creation, no secret. */
    CHECK(creds_client(s, cr, LRO_ERR_INVALID_ARG) == NULL);
    fprintf(stderr, "  plaintext refused: %s\n", lro_last_error());
    CHECK(strstr(lro_last_error(), "plaintext") != NULL);
    CHECK(strstr(lro_last_error(), SECRET) == NULL);
    /* Frozen once handed to options. */
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_ERR_STATE);
    lro_credentials_unref(cr);

    CHECK_EQ_INT(lro_credentials_create_access_token(SECRET, 0, &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_set_quota_project(cr, "billing-proj"), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_OK);
    lro_client *c = creds_client(s, cr, LRO_OK);
    lro_credentials_unref(cr); /* the client holds its own reference */
    get_ok(c, op_name(0), NULL);
    CHECK_EQ_STR(last_header(s, op_name(0), "authorization"), "Bearer " SECRET);
    CHECK_EQ_STR(last_header(s, op_name(0), "x-goog-user-project"), "billing-proj");
    lro_client_destroy(c);

    /* Expired: the call fails UNAUTHENTICATED without reaching the server. */
    CHECK_EQ_INT(lro_credentials_create_access_token(SECRET, unix_now_ms() - 1000, &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_OK);
    c = creds_client(s, cr, LRO_OK);
    lro_credentials_unref(cr);
    int64_t before = lro_test_server_call_count(s, LRO_TEST_GET, op_name(1));
    lro_future *f = get_sync(c, op_name(1), NULL);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAUTHENTICATED);
    fprintf(stderr, "  expired: %s\n", lro_status_message(lro_future_status(f)));
    CHECK(strstr(lro_status_message(lro_future_status(f)), "expired") != NULL);
    CHECK_EQ_INT(lro_future_attempts(f), 1); /* not retried */
    no_secret(f);
    lro_future_unref(f);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, op_name(1)), before);
    lro_client_destroy(c);

    /* A bearer token and credentials together: refused. */
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, "127.0.0.1:1"), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, "x", 0), LRO_OK);
    CHECK_EQ_INT(lro_credentials_create_api_key("k", &cr), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_credentials(o, cr), LRO_OK);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), "both") != NULL);
    lro_client_options_destroy(o);
    lro_test_server_stop(s);
}

static void test_api_key(void)
{
    lro_test_server *s = start_server(2);
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create_api_key("key-123", &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_set_quota_project(cr, "qp-9"), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_OK);
    lro_client *c = creds_client(s, cr, LRO_OK);
    lro_credentials_unref(cr);
    get_ok(c, op_name(0), NULL);
    CHECK_EQ_STR(last_header(s, op_name(0), "x-goog-api-key"), "key-123");
    CHECK_EQ_STR(last_header(s, op_name(0), "x-goog-user-project"), "qp-9");
    CHECK_EQ_STR(last_header(s, op_name(0), "authorization"), "(none)");
    lro_client_destroy(c);
    /* Bad values: refused with a position, not the value. */
    CHECK_EQ_INT(lro_credentials_create_api_key("bad key", &cr), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), "byte 3") != NULL);
    CHECK_EQ_INT(lro_credentials_create_access_token(SECRET "\n", 0, &cr), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), SECRET) == NULL);
    lro_test_server_stop(s);
}

/* ---- Token providers ---------------------------------------------------------- */

typedef struct prov {
    atomic_int calls;
    int64_t life_ms; /* token lifetime */
    int mode;        /* 0 answer at once, 1 answer from a thread after delay_ms, 2 fail, 3 never */
    int64_t delay_ms;
    atomic_int seq;
    pthread_mutex_t mu;
    lro_token_request *held; /* mode 3 */
    char audience[256];
    atomic_int pending; /* mode 1: answering threads not finished with p */
} prov;

typedef struct later {
    prov *p;
    lro_token_request *req;
} later;

static void answer(prov *p, lro_token_request *req)
{
    char tok[64];
    snprintf(tok, sizeof tok, SECRET "-%d", atomic_fetch_add(&p->seq, 1));
    CHECK_EQ_INT(lro_token_request_answer(req, tok, p->life_ms ? unix_now_ms() + p->life_ms : 0),
                 LRO_OK);
}

static void *answer_later(void *arg)
{
    later *l = arg;
    prov *p = l->p;
    usleep((useconds_t)(p->delay_ms * 1000));
    answer(p, l->req);
    free(l);
    atomic_fetch_sub(&p->pending, 1); /* the last touch of p */
    return NULL;
}

/* Before a test's prov goes out of scope: a refresh started by the last
 * calls may still be answering (the library does not need it any more, but
 * the answering thread reads p). Bounded. */
static void prov_quiesce(prov *p)
{
    for (int i = 0; i < 6000 && atomic_load(&p->pending) > 0; i++) {
        usleep(10000);
    }
    CHECK_EQ_INT(atomic_load(&p->pending), 0);
}

static void provider(lro_token_request *req, const char *audience, void *ud)
{
    prov *p = ud;
    atomic_fetch_add(&p->calls, 1);
    pthread_mutex_lock(&p->mu);
    snprintf(p->audience, sizeof p->audience, "%s", audience);
    pthread_mutex_unlock(&p->mu);
    if (p->mode == 0) {
        answer(p, req);
    } else if (p->mode == 1) {
        later *l = malloc(sizeof *l);
        l->p = p;
        l->req = req;
        atomic_fetch_add(&p->pending, 1);
        pthread_t th;
        CHECK(pthread_create(&th, NULL, answer_later, l) == 0);
        pthread_detach(th);
    } else if (p->mode == 2) {
        CHECK_EQ_INT(lro_token_request_fail(req, "idp said no (account disabled)"), LRO_OK);
    } else {
        pthread_mutex_lock(&p->mu);
        CHECK(p->held == NULL);
        p->held = req;
        pthread_mutex_unlock(&p->mu);
    }
}

static lro_client *provider_client(lro_test_server *s, prov *p)
{
    pthread_mutex_init(&p->mu, NULL);
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create_token_provider(provider, p, NULL, &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_OK);
    lro_client *c = creds_client(s, cr, LRO_OK);
    lro_credentials_unref(cr);
    return c;
}

/* Tokens living 2 s, calls for 7 s: several refreshes, none failed, and the
 * server saw more than one token. */
static void test_provider_refresh(void)
{
    lro_test_server *s = start_server(1);
    prov p = {.life_ms = 2000, .mode = 1, .delay_ms = 50};
    lro_client *c = provider_client(s, &p);
    int64_t end = harness_now_ms() + 7000;
    int n = 0;
    char first[128] = "";
    while (harness_now_ms() < end) {
        lro_future *f = get_sync(c, op_name(0), NULL);
        CHECK_EQ_INT(lro_future_result(f), LRO_OK);
        CHECK_EQ_INT(lro_future_attempts(f), 1);
        lro_future_unref(f);
        if (n++ == 0) {
            snprintf(first, sizeof first, "%s", last_header(s, op_name(0), "authorization"));
        }
        usleep(20000);
    }
    int calls = atomic_load(&p.calls);
    fprintf(stderr, "  %d calls, %d provider requests, audience %s\n", n, calls, p.audience);
    CHECK(calls >= 3 && calls <= 20);
    CHECK(strcmp(first, last_header(s, op_name(0), "authorization")) != 0);
    CHECK(strstr(p.audience, "/google.longrunning.Operations") != NULL);
    lro_client_destroy(c);
    prov_quiesce(&p);
    lro_test_server_stop(s);
}

/* An await of 10 s with tokens living 2 s: polls span several refreshes
 * and not one call fails (every record the server kept has code OK). */
static void test_provider_await(void)
{
    lro_test_server *s = start_server(0);
    CHECK_EQ_INT(lro_test_server_put_pending(s, "ops/long", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_complete(s, "ops/long", 10000, NULL, NULL, 0), LRO_OK);
    prov p = {.life_ms = 2000, .mode = 1, .delay_ms = 50};
    lro_client *c = provider_client(s, &p);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY;
    pp.initial_delay_ms = 100;
    pp.multiplier = 1.0;
    pp.max_delay_ms = 200;
    /* A provider failure is UNAUTHENTICATED, which ends an await at once:
     * LRO_OK below means no poll failed on our side either. */
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_await(c, "ops/long", &pp, NULL, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    size_t n = lro_test_server_record_count(s);
    for (size_t i = 0; i < n; i++) {
        lro_test_record *r = lro_test_server_record(s, i);
        CHECK_EQ_INT(lro_test_record_code(r), LRO_CODE_OK);
        lro_test_record_free(r);
    }
    fprintf(stderr, "  await: %zu polls, %d provider requests\n", n, atomic_load(&p.calls));
    CHECK(atomic_load(&p.calls) >= 4);
    CHECK(n >= 20);
    lro_client_destroy(c);
    prov_quiesce(&p);
    lro_test_server_stop(s);
}

/* 1,000 calls at once, the provider answers after 300 ms: one request. */
static void test_provider_one_in_flight(void)
{
    lro_test_server *s = start_server(1);
    prov p = {.life_ms = 600000, .mode = 1, .delay_ms = 300};
    lro_client *c = provider_client(s, &p);
    enum { N = 1000 };
    static lro_future *fs[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_get(c, op_name(0), NULL, NULL, NULL, NULL, &fs[i]), LRO_OK);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(lro_future_wait(fs[i], slow_ms(60000)), LRO_OK);
        CHECK_EQ_INT(lro_future_result(fs[i]), LRO_OK);
        lro_future_unref(fs[i]);
    }
    fprintf(stderr, "  %d calls, %d provider requests\n", N, atomic_load(&p.calls));
    CHECK_EQ_INT(atomic_load(&p.calls), 1);
    lro_client_destroy(c);
    prov_quiesce(&p);
    lro_test_server_stop(s);
}

static void test_provider_failure(void)
{
    lro_test_server *s = start_server(1);
    for (int mode = 0; mode < 2; mode++) {
        /* mode 0: fails inside fn (synchronous); 1: from another thread */
        prov p = {.mode = 2};
        lro_client *c = provider_client(s, &p);
        if (mode == 1) {
            p.mode = 2; /* same failure; the async path is covered by refresh tests */
        }
        int64_t before = lro_test_server_call_count(s, LRO_TEST_GET, op_name(0));
        lro_future *f = get_sync(c, op_name(0), NULL);
        CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
        CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAUTHENTICATED);
        const char *m = lro_status_message(lro_future_status(f));
        fprintf(stderr, "  failing provider: %s\n", m);
        CHECK(strstr(m, "idp said no (account disabled)") != NULL);
        CHECK_EQ_INT(lro_future_attempts(f), 1); /* UNAUTHENTICATED is not retried */
        no_secret(f);
        lro_future_unref(f);
        CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, op_name(0)), before);
        lro_client_destroy(c);
        pthread_mutex_destroy(&p.mu);
    }
    lro_test_server_stop(s);
}

static void test_provider_never_answers(void)
{
    lro_test_server *s = start_server(1);
    prov p = {.mode = 3, .life_ms = 600000};
    lro_client *c = provider_client(s, &p);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.timeout_ms = 300;
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 1;
    co.retry = &rp;
    lro_future *f = get_sync(c, op_name(0), &co);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_DEADLINE_EXCEEDED);
    lro_future_unref(f);
    /* The late answer still serves the next call. */
    pthread_mutex_lock(&p.mu);
    lro_token_request *req = p.held;
    p.held = NULL;
    pthread_mutex_unlock(&p.mu);
    CHECK(req != NULL);
    answer(&p, req);
    get_ok(c, op_name(0), NULL);
    CHECK_EQ_INT(atomic_load(&p.calls), 1);
    lro_client_destroy(c);

    /* An answer after the client (and the caller's credentials) are gone
     * still reaches a valid place: the request keeps what it needs. */
    prov q = {.mode = 3, .life_ms = 600000};
    c = provider_client(s, &q);
    f = get_sync(c, op_name(0), &co);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_DEADLINE_EXCEEDED);
    lro_future_unref(f);
    lro_client_destroy(c);
    pthread_mutex_lock(&q.mu);
    req = q.held;
    q.held = NULL;
    pthread_mutex_unlock(&q.mu);
    CHECK(req != NULL);
    answer(&q, req);
    lro_test_server_stop(s);
}

/* The headers a call carries itself while the cached token is good, and
 * the switch to grpc's credentials path when it is not: a static token
 * that expires while the client is in use; a client's own credentials and
 * a call's, both sent. */
static void test_header_path(void)
{
    lro_test_server *s = start_server(2);
    lro_credentials *cr = NULL;
    int64_t expiry = unix_now_ms() + slow_ms(2000); /* the first Get must come before */
    CHECK_EQ_INT(lro_credentials_create_access_token(SECRET, expiry, &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_OK);
    lro_client *c = creds_client(s, cr, LRO_OK);
    lro_credentials_unref(cr);
    get_ok(c, op_name(0), NULL);
    CHECK_EQ_STR(last_header(s, op_name(0), "authorization"), "Bearer " SECRET);
    while (unix_now_ms() <= expiry + 50) {
        usleep(20000);
    }
    lro_future *f = get_sync(c, op_name(1), NULL);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAUTHENTICATED);
    CHECK(strstr(lro_status_message(lro_future_status(f)), "expired") != NULL);
    no_secret(f);
    lro_future_unref(f);
    lro_client_destroy(c);

    /* The client's API key and a call's token: the server sees both. */
    CHECK_EQ_INT(lro_credentials_create_api_key("client-key", &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(cr), LRO_OK);
    c = creds_client(s, cr, LRO_OK);
    lro_credentials_unref(cr);
    lro_credentials *t = NULL;
    CHECK_EQ_INT(lro_credentials_create_access_token("tenant-t", 0, &t), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(t), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.credentials = t;
    get_ok(c, op_name(1), &co);
    CHECK_EQ_STR(last_header(s, op_name(1), "authorization"), "Bearer tenant-t");
    CHECK_EQ_STR(last_header(s, op_name(1), "x-goog-api-key"), "client-key");
    get_ok(c, op_name(0), NULL);
    CHECK_EQ_STR(last_header(s, op_name(0), "authorization"), "(none)");
    CHECK_EQ_STR(last_header(s, op_name(0), "x-goog-api-key"), "client-key");
    lro_credentials_unref(t);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

/* Two tenants on one client without credentials of its own. */
static void test_per_call(void)
{
    lro_test_server *s = start_server(2);
    lro_client *c = make_client(s);
    lro_credentials *a = NULL, *b = NULL;
    CHECK_EQ_INT(lro_credentials_create_access_token("tenant-a", 0, &a), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(a), LRO_OK);
    CHECK_EQ_INT(lro_credentials_create_api_key("tenant-b-key", &b), LRO_OK);
    CHECK_EQ_INT(lro_credentials_allow_plaintext(b), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.credentials = a;
    get_ok(c, op_name(0), &co);
    CHECK_EQ_STR(last_header(s, op_name(0), "authorization"), "Bearer tenant-a");
    co.credentials = b;
    get_ok(c, op_name(1), &co);
    CHECK_EQ_STR(last_header(s, op_name(1), "x-goog-api-key"), "tenant-b-key");
    CHECK_EQ_STR(last_header(s, op_name(1), "authorization"), "(none)");
    lro_future *f = get_sync(c, op_name(1), NULL);
    lro_future_unref(f);
    CHECK_EQ_STR(last_header(s, op_name(1), "x-goog-api-key"), "(none)");
    /* An await with per-call credentials: every poll carries them. */
    CHECK_EQ_INT(lro_test_server_put_pending(s, "ops/tenant-a", NULL, NULL, 0), LRO_OK);
    CHECK_EQ_INT(lro_test_server_complete(s, "ops/tenant-a", 300, NULL, NULL, 0), LRO_OK);
    lro_poll_policy pp = LRO_POLL_POLICY_INIT;
    pp.method = LRO_AWAIT_POLL_ONLY;
    pp.initial_delay_ms = 50;
    co.credentials = a;
    CHECK_EQ_INT(lro_await(c, "ops/tenant-a", &pp, &co, NULL, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    CHECK(lro_test_server_call_count(s, LRO_TEST_GET, "ops/tenant-a") >= 2);
    for (size_t i = 0; i < lro_test_server_record_count(s); i++) {
        lro_test_record *r = lro_test_server_record(s, i);
        if (strcmp(lro_test_record_name(r), "ops/tenant-a") == 0) {
            CHECK_EQ_STR(lro_test_record_header(r, "authorization"), "Bearer tenant-a");
        }
        lro_test_record_free(r);
    }
    /* Without allow_plaintext the token stays home: UNAUTHENTICATED. */
    lro_credentials *t = NULL;
    CHECK_EQ_INT(lro_credentials_create_access_token(SECRET, 0, &t), LRO_OK);
    co.credentials = t;
    f = get_sync(c, op_name(0), &co);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAUTHENTICATED);
    no_secret(f);
    lro_future_unref(f);
    /* A client certificate cannot be per call. */
    lro_credentials *m = NULL;
    CHECK_EQ_INT(lro_credentials_create(&m), LRO_OK);
    CHECK_EQ_INT(lro_credentials_set_client_cert(m, "-----BEGIN CERTIFICATE-----\nx\n",
                                                 "-----BEGIN PRIVATE KEY-----\ny\n"),
                 LRO_OK);
    co.credentials = m;
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, NULL), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), "certificate") != NULL);
    lro_credentials_unref(a);
    lro_credentials_unref(b);
    lro_credentials_unref(t);
    lro_credentials_unref(m);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_creation_errors(void)
{
    const char *tmp = getenv("TEST_TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/creds-XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    lro_credentials *cr = NULL;
    snprintf(path, sizeof path, "%s/missing.json", dir);
    CHECK_EQ_INT(lro_credentials_create_from_file(path, NULL, &cr), LRO_ERR_INVALID_ARG);
    fprintf(stderr, "  %s\n", lro_last_error());
    CHECK(strstr(lro_last_error(), path) != NULL);
    CHECK(strstr(lro_last_error(), "No such file") != NULL);
    snprintf(path, sizeof path, "%s/notjson.json", dir);
    write_file(path, "hello");
    CHECK_EQ_INT(lro_credentials_create_from_file(path, NULL, &cr), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), "not a JSON object") != NULL);
    snprintf(path, sizeof path, "%s/kind.json", dir);
    write_file(path, "{\"type\": \"alien\"}");
    CHECK_EQ_INT(lro_credentials_create_from_file(path, NULL, &cr), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), "alien") != NULL);
    snprintf(path, sizeof path, "%s/sa.json", dir);
    write_file(path, "{\"type\": \"service_account\", \"private_key\": \"" SECRET "\"}");
    CHECK_EQ_INT(lro_credentials_create_from_file(path, NULL, &cr), LRO_ERR_INVALID_ARG);
    fprintf(stderr, "  %s\n", lro_last_error());
    CHECK(strstr(lro_last_error(), "client_email") != NULL);
    CHECK(strstr(lro_last_error(), SECRET) == NULL);
    write_file(path, "{\"type\": \"service_account\", \"client_email\": \"a@b\", "
                     "\"private_key_id\": \"k\", \"client_id\": \"1\", "
                     "\"private_key\": \"" SECRET "\"}");
    CHECK_EQ_INT(lro_credentials_create_from_file(path, NULL, &cr), LRO_ERR_INVALID_ARG);
    fprintf(stderr, "  %s\n", lro_last_error());
    CHECK(strstr(lro_last_error(), "private_key is not a PEM") != NULL);
    CHECK(strstr(lro_last_error(), SECRET) == NULL);
    /* ADC with a bad GOOGLE_APPLICATION_CREDENTIALS: an error naming it. */
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    CHECK_EQ_INT(lro_credentials_create_adc(NULL, &cr), LRO_ERR_INVALID_ARG);
    fprintf(stderr, "  %s\n", lro_last_error());
    CHECK(strstr(lro_last_error(), "GOOGLE_APPLICATION_CREDENTIALS") != NULL);
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    /* Client certificate files. */
    snprintf(path, sizeof path, "%s/cert.pem", dir);
    write_file(path, "not pem");
    CHECK_EQ_INT(lro_credentials_create(&cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_set_client_cert_files(cr, path, path, NULL, 0),
                 LRO_ERR_INVALID_ARG);
    fprintf(stderr, "  %s\n", lro_last_error());
    CHECK(strstr(lro_last_error(), path) != NULL);
    CHECK_EQ_INT(lro_credentials_set_client_cert(cr, "cert.pem", "key.pem"), LRO_ERR_INVALID_ARG);
    CHECK(strstr(lro_last_error(), "not PEM") != NULL);
    lro_credentials_unref(cr);
}

int main(void)
{
    gpr_set_log_function(capture_log);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
    RUN(test_access_token);
    RUN(test_api_key);
    RUN(test_header_path);
    RUN(test_per_call);
    RUN(test_provider_failure);
    RUN(test_provider_never_answers);
    RUN(test_provider_one_in_flight);
    RUN(test_provider_refresh);
    RUN(test_provider_await);
    RUN(test_creation_errors);
    CHECK_EQ_INT(log_leaks, 0);
    fprintf(stderr, "credentials_test: OK\n");
    return 0;
}
