/* Transport security and input hygiene:
 *  - TLS with a CA and a server certificate generated now (openssl): the
 *    client verifies them; a client trusting another CA fails with a clear
 *    handshake error; a wrong server name fails the same way;
 *  - bearer tokens: refused over plaintext unless explicitly allowed, sent
 *    over TLS, and never in an error message nor in any grpc log line;
 *  - headers with CR/LF, uppercase or invalid characters and bad names
 *    (control characters, over LRO_MAX_NAME_LEN) are rejected before
 *    anything is sent (the server sees no call);
 *  - a server cannot make the client allocate without bound: responses
 *    above the receive limit, oversized details trailers, absurd RetryInfo. */
#include <grpc/support/log.h>
#include <sys/stat.h>

#include <stdarg.h>

#include "../client/harness.h"

#define RUN_ARG(fn, a)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "== %s\n", #fn);                                                           \
        fn(a);                                                                                     \
    } while (0)

#define TOKEN "tok-7f3a9c1e-very-secret"

static char dir[512];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) {
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
        abort();
    }
}

static char *slurp(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    CHECK(b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Two CAs; a server certificate for localhost + 127.0.0.1 signed by the
 * first. EC P-256 keys: fast to generate. */
static void make_pki(void)
{
    const char *tmp = getenv("TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/pki-XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    const char *key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("cd '%s' && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=lro-test-ca "
       ">/dev/null 2>&1",
       dir, key);
    sh("cd '%s' && openssl req -x509 %s -keyout ca2.key -out ca2.pem -days 2 "
       "-subj /CN=lro-other-ca >/dev/null 2>&1",
       dir, key);
    sh("cd '%s' && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n"
       "basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf && "
       "openssl req %s -keyout srv.key -out srv.csr -subj /CN=localhost >/dev/null 2>&1 && "
       "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile ext.cnf -out srv.pem >/dev/null 2>&1",
       dir, key);
}

/* ---- grpc log capture: the token must never be in a log line ------------------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_lines, log_leaks;

static void capture_log(gpr_log_func_args *a)
{
    pthread_mutex_lock(&log_mu);
    log_lines++;
    if (a->message != NULL && strstr(a->message, TOKEN) != NULL) {
        log_leaks++;
        fprintf(stderr, "TOKEN LEAKED in log: %s\n", a->message);
    }
    pthread_mutex_unlock(&log_mu);
}

static lro_client *tls_client(const char *target, const char *ca_pem, const char *server_name,
                              const char *token)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, target), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_tls(o, ca_pem), LRO_OK);
    if (server_name != NULL) {
        CHECK_EQ_INT(lro_client_options_set_tls_server_name(o, server_name), LRO_OK);
    }
    if (token != NULL) {
        CHECK_EQ_INT(lro_client_options_set_bearer_token(o, token, 0), LRO_OK);
    }
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 1;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    return c;
}

static lro_future *get_sync(lro_client *c, const char *name, counter *k)
{
    memset(k, 0, sizeof *k);
    lro_future *f = NULL;
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.timeout_ms = slow_ms(10000);
    CHECK_EQ_INT(lro_get(c, name, &co, count_cb, k, count_free, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    WAIT_UNTIL(atomic_load(&k->frees) == 1);
    CHECK_EQ_INT(atomic_load(&k->calls), 1);
    return f;
}

static void no_token_in(const lro_future *f)
{
    CHECK(strstr(lro_status_message(lro_future_status(f)), TOKEN) == NULL);
    CHECK(strstr(lro_status_message(lro_future_status(f)), "Bearer") == NULL);
}

static void test_tls(void)
{
    char *ca = slurp("ca.pem"), *ca2 = slurp("ca2.pem");
    char *cert = slurp("srv.pem"), *key = slurp("srv.key");
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    so.tls_cert_chain_pem = cert;
    so.tls_private_key_pem = key;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 4), LRO_OK);
    /* Half a TLS configuration is refused. */
    so.tls_private_key_pem = NULL;
    lro_test_server *bad = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &bad), LRO_ERR_INVALID_ARG);
    CHECK(bad == NULL);
    const char *target = lro_test_server_target(s);
    counter k;

    /* 1. The right CA: verified, the token travels (over TLS only). */
    lro_client *c = tls_client(target, ca, NULL, TOKEN);
    lro_future *f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(s, LRO_TEST_GET, op_name(0));
    CHECK_EQ_STR(lro_test_record_header(r, "authorization"), "Bearer " TOKEN);
    lro_test_record_free(r);
    /* A failed RPC's status carries no token. */
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.code = LRO_CODE_UNAUTHENTICATED;
    fl.message = "token rejected";
    CHECK_EQ_INT(lro_test_server_add_fault(s, &fl), LRO_OK);
    f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAUTHENTICATED);
    no_token_in(f);
    lro_future_unref(f);
    lro_client_destroy(c);

    /* The name override: the certificate is for localhost. */
    c = tls_client(target, ca, "localhost", NULL);
    f = get_sync(c, op_name(1), &k);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    lro_client_destroy(c);

    /* 2. Another CA: a clear handshake failure, no token anywhere. */
    c = tls_client(target, ca2, NULL, TOKEN);
    f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAVAILABLE);
    const char *m = lro_status_message(lro_future_status(f));
    fprintf(stderr, "  wrong CA: %s\n", m);
    CHECK(strstr(m, "andshake") != NULL || strstr(m, "SSL") != NULL || strstr(m, "TLS") != NULL ||
          strstr(m, "ssl") != NULL);
    no_token_in(f);
    lro_future_unref(f);
    lro_client_destroy(c);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, op_name(0)), 2);

    /* 3. The right CA, the wrong name: refused as well. */
    c = tls_client(target, ca, "not-this-host.example", TOKEN);
    f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_UNAVAILABLE);
    fprintf(stderr, "  wrong name: %s\n", lro_status_message(lro_future_status(f)));
    no_token_in(f);
    lro_future_unref(f);
    lro_client_destroy(c);

    /* 4. A plaintext client against the TLS server fails, it does not hang. */
    c = make_client_ex(target, LRO_MODE_THREAD, 1);
    f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    fprintf(stderr, "  plaintext to TLS: %s \"%s\"\n",
            lro_code_name(lro_status_code(lro_future_status(f))),
            lro_status_message(lro_future_status(f)));
    lro_future_unref(f);
    lro_client_destroy(c);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, op_name(0)), 2);

    lro_test_server_stop(s);
    free(ca);
    free(ca2);
    free(cert);
    free(key);
}

static void test_token_plaintext_policy(lro_test_server *s)
{
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, TOKEN, 0), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG);
    CHECK(c == NULL);
    /* The order of the setters does not matter. */
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, TOKEN, 0), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_ERR_INVALID_ARG);
    /* Explicitly allowed: sent. */
    CHECK_EQ_INT(lro_client_options_set_bearer_token(o, TOKEN, 1), LRO_OK);
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    counter k;
    lro_future *f = get_sync(c, op_name(2), &k);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    lro_client_destroy(c);
    /* Bad tokens (CR/LF would be header injection) are refused. */
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK(lro_client_options_set_bearer_token(o, "abc\r\nx-evil: 1", 1) != LRO_OK);
    CHECK(lro_client_options_set_bearer_token(o, "", 1) != LRO_OK);
    lro_client_options_destroy(o);
}

static void test_headers_and_names_rejected(lro_test_server *s)
{
    lro_client *c = make_client(s);
    uint64_t before = lro_test_server_call_count(s, 0, NULL);
    static const lro_header bad[][1] = {
        {{"x-a", "v\r\nx-injected: 1", 0}}, {{"x-a", "v\n", 0}},     {{"x-a", "v\r", 0}},
        {{"X-Upper", "v", 0}},              {{"x a", "v", 0}},       {{"x:a", "v", 0}},
        {{"", "v", 0}},                     {{":path", "/x", 0}},    {{"grpc-timeout", "1S", 0}},
        {{"authorization", "Bearer x", 0}}, {{"x-a", "caf\xc3\xa9", 0}}, {{"x-a\n", "v", 0}},
        {{"te", "trailers", 0}},            {{"x-a", "\x01", 0}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lro_call_options co = LRO_CALL_OPTIONS_INIT;
        co.headers = bad[i];
        co.header_count = 1;
        counter k = {0};
        lro_future *f = (lro_future *)0x1;
        CHECK_EQ_INT(lro_get(c, op_name(0), &co, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_HEADER);
        CHECK(f == (lro_future *)0x1);
        lro_client_options *o = NULL;
        CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
        CHECK_EQ_INT(lro_client_options_add_header(o, bad[i][0].key, bad[i][0].value),
                     LRO_ERR_BAD_HEADER);
        lro_client_options_destroy(o);
    }
    /* A "-bin" header takes any bytes (grpc base64s it on the wire). */
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    lro_header okh = {"x-blob-bin", "\x01\x02\r\n", 0};
    co.headers = &okh;
    co.header_count = 1;
    counter k;
    memset(&k, 0, sizeof k);
    lro_future *f = NULL;
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, count_cb, &k, count_free, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    WAIT_UNTIL(atomic_load(&k.frees) == 1); /* the callback may run after done */
    lro_future_unref(f);
    before++;

    /* Names: control characters, invalid UTF-8, too long. */
    char *longname = malloc(LRO_MAX_NAME_LEN + 2);
    memset(longname, 'a', LRO_MAX_NAME_LEN + 1);
    longname[LRO_MAX_NAME_LEN + 1] = '\0';
    const char *bad_names[] = {"",     "a\nb",       "a\rb",          "a\x01",        "a\x7f",
                               "\t",   "ops/\xff",   "ops/\xc0\xaf", "ops/\xed\xa0\x80",
                               longname};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        f = (lro_future *)0x1;
        CHECK_EQ_INT(lro_get(c, bad_names[i], NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_wait(c, bad_names[i], 10, NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_list(c, bad_names[i], NULL, NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK_EQ_INT(lro_await(c, bad_names[i], NULL, NULL, NULL, count_cb, &k, count_free, &f),
                     LRO_ERR_BAD_NAME);
        CHECK(f == (lro_future *)0x1);
    }
    CHECK_EQ_INT(lro_get(c, NULL, NULL, NULL, NULL, NULL, NULL), LRO_ERR_BAD_NAME);
    /* Exactly at the limit is fine (the server answers NOT_FOUND). */
    longname[LRO_MAX_NAME_LEN] = '\0';
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(lro_get(c, longname, NULL, count_cb, &k, count_free, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_NOT_FOUND);
    WAIT_UNTIL(atomic_load(&k.frees) == 1);
    lro_future_unref(f);
    before++;
    free(longname);
    usleep(2000);
    CHECK_EQ_INT(atomic_load(&k.calls), 1);
    /* Nothing refused ever reached the server. */
    CHECK_EQ_INT(lro_test_server_call_count(s, 0, NULL), before);
    lro_client_destroy(c);
}

static void test_bounded_allocation(lro_test_server *s)
{
    /* 1. Response above the limit. */
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_plaintext(o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_max_receive_size(o, 16 * 1024), LRO_OK);
    CHECK(lro_client_options_set_max_receive_size(o, -5) == LRO_ERR_INVALID_ARG);
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 3;
    rp.initial_backoff_ms = 10;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_OK);
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    lro_test_fault fl = LRO_TEST_FAULT_INIT;
    fl.kind = LRO_TEST_FAULT_BIG;
    fl.methods = LRO_TEST_GET;
    fl.big_size = 64 * 1024;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &fl), LRO_OK);
    counter k;
    lro_future *f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_status_code(lro_future_status(f)), LRO_CODE_RESOURCE_EXHAUSTED);
    fprintf(stderr, "  64 KiB response, 16 KiB limit: %s\n",
            lro_status_message(lro_future_status(f)));
    lro_future_unref(f);
    lro_test_server_clear_faults(s);

    /* 2. A details trailer far above grpc's metadata limit: the call ends
     * with an error; the client neither buffers nor decodes it. */
    size_t big = 256 * 1024;
    uint8_t *st = malloc(big + 64);
    size_t n = 0;
    /* google.rpc.Status{code=14, details=[Any{type_url="x", value=<big>}]} */
    st[n++] = 0x08;
    st[n++] = 14;
    size_t inner = 3 + 1 + 4 + big; /* type_url field + value key + len(4) + bytes */
    st[n++] = 0x1a;
    for (size_t v = inner; ; v >>= 7) {
        st[n++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80) {
            break;
        }
    }
    st[n++] = 0x0a;
    st[n++] = 0x01;
    st[n++] = 'x';
    st[n++] = 0x12;
    for (size_t v = big, i = 0; i < 4; i++, v >>= 7) {
        st[n++] = (uint8_t)((v & 0x7f) | (i < 3 ? 0x80 : 0));
    }
    memset(st + n, 'D', big);
    n += big;
    fl = (lro_test_fault)LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.code = LRO_CODE_UNAVAILABLE;
    fl.message = "huge details";
    fl.details_status = st;
    fl.details_len = n;
    fl.times = -1;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &fl), LRO_OK);
    f = get_sync(c, op_name(0), &k);
    CHECK_EQ_INT(lro_future_result(f), LRO_ERR_RPC);
    fprintf(stderr, "  256 KiB details trailer: %s \"%s\", %zu details\n",
            lro_code_name(lro_status_code(lro_future_status(f))),
            lro_status_message(lro_future_status(f)),
            lro_status_detail_count(lro_future_status(f)));
    CHECK(lro_status_detail_count(lro_future_status(f)) == 0);
    lro_future_unref(f);
    free(st);
    lro_test_server_clear_faults(s);
    /* The client (and its connection, which grpc may have reset) recovers.
     * Calls fail fast while the channel waits out grpc's reconnect backoff
     * (~1 s): bound the tries by time, not by a count that fast failures use
     * up in a moment. */
    int ok = 0;
    for (int64_t end = harness_now_ms() + slow_ms(30000); !ok && harness_now_ms() < end;) {
        f = get_sync(c, op_name(0), &k);
        ok = lro_future_result(f) == LRO_OK;
        lro_future_unref(f);
        if (!ok) {
            usleep(50000);
        }
    }
    CHECK(ok);

    /* 3. RetryInfo of ~300 years: read as capped (one day), and a retry
     * budget still bounds the call. */
    fl = (lro_test_fault)LRO_TEST_FAULT_INIT;
    fl.methods = LRO_TEST_GET;
    fl.code = LRO_CODE_UNAVAILABLE;
    fl.message = "come back later";
    fl.retry_delay_ms = INT64_C(10000000000000);
    fl.times = -1;
    CHECK_EQ_INT(lro_test_server_add_fault(s, &fl), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    rp.total_timeout_ms = slow_ms(500); /* room for the one attempt under valgrind */
    co.retry = &rp;
    memset(&k, 0, sizeof k);
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, count_cb, &k, count_free, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    fprintf(stderr, "  RetryInfo of 10^13 ms: %s \"%s\", %d attempt(s)\n",
            lro_code_name(lro_status_code(lro_future_status(f))),
            lro_status_message(lro_future_status(f)), lro_future_attempts(f));
    CHECK_EQ_INT(lro_future_attempts(f), 1);
    int64_t ms = 0;
    int present_440 = -1;
    CHECK_EQ_INT(lro_status_retry_delay_ms(lro_future_status(f), &ms, &present_440), LRO_OK);
    CHECK_EQ_INT(present_440, 1);
    CHECK(ms <= INT64_C(86400000) + 1000);
    lro_future_unref(f);
    lro_test_server_clear_faults(s);
    lro_client_destroy(c);
}

int main(void)
{
    setenv("GRPC_VERBOSITY", "DEBUG", 0);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_DEBUG);
    gpr_set_log_function(capture_log);
    make_pki();
    RUN(test_tls);
    lro_test_server *s = start_server(8);
    RUN_ARG(test_token_plaintext_policy, s);
    RUN_ARG(test_headers_and_names_rejected, s);
    RUN_ARG(test_bounded_allocation, s);
    lro_test_server_stop(s);
    sh("rm -rf '%s'", dir);
    fprintf(stderr, "grpc log lines seen: %d, containing the token: %d\n", log_lines, log_leaks);
    CHECK_EQ_INT(log_leaks, 0);
    fprintf(stderr, "security_test: all passed\n");
    return 0;
}
