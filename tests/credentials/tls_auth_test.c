/* Mutual TLS and the embedded server's credential checks, on loopback with
 * a PKI made by openssl at run time:
 *  - a client certificate from the server's client CA works and the server
 *    records its subject; none, or one from another CA, fails UNAVAILABLE
 *    (handshake);
 *  - watched certificate files: rotating them switches the identity the
 *    server records without recreating the client;
 *  - bearer tokens from an allowed set, API keys: accepted / refused
 *    UNAUTHENTICATED, identity recorded;
 *  - a service-account key (RSA, made now): grpc's self-signed JWT is
 *    verified by the server (signature, audience, expiry) and the service
 *    account recorded; a wrong audience or another key is refused. */
#include <stdarg.h>
#include <sys/stat.h>

#include "../client/harness.h"

static char dir[512];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (system(cmd) != 0) {
        fprintf(stderr, "command failed: %s\n", cmd);
        abort();
    }
}

static char *path_of(const char *name)
{
    static _Thread_local char p[2][700];
    static _Thread_local int i;
    i ^= 1;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static char *slurp(const char *name)
{
    FILE *f = fopen(path_of(name), "rb");
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

static void make_pki(void)
{
    const char *tmp = getenv("TEST_TMPDIR");
    snprintf(dir, sizeof dir, "%s/pki-XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(dir) != NULL);
    const char *key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh("cd '%s' && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=lro-ca "
       ">/dev/null 2>&1 && openssl req -x509 %s -keyout ca2.key -out ca2.pem -days 2 "
       "-subj /CN=other-ca >/dev/null 2>&1",
       dir, key, key);
    sh("cd '%s' && printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > srv.cnf && "
       "openssl req %s -keyout srv.key -out srv.csr -subj /CN=localhost >/dev/null 2>&1 && "
       "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-extfile srv.cnf -out srv.pem >/dev/null 2>&1",
       dir, key);
    const char *cl[3][2] = {{"a", "ca"}, {"b", "ca"}, {"x", "ca2"}};
    for (int i = 0; i < 3; i++) {
        sh("cd '%s' && printf 'extendedKeyUsage=clientAuth\\n' > cl.cnf && "
           "openssl req %s -keyout cl-%s.key -out cl-%s.csr -subj /CN=client-%s >/dev/null 2>&1 "
           "&& openssl x509 -req -in cl-%s.csr -CA %s.pem -CAkey %s.key -CAcreateserial -days 2 "
           "-extfile cl.cnf -out cl-%s.pem >/dev/null 2>&1",
           dir, key, cl[i][0], cl[i][0], cl[i][0], cl[i][0], cl[i][1], cl[i][1], cl[i][0]);
    }
    /* A service-account key and another RSA key. */
    sh("cd '%s' && openssl genrsa -out sa.key 2048 >/dev/null 2>&1 && openssl rsa -in sa.key "
       "-pubout -out sa.pub >/dev/null 2>&1 && openssl genrsa -out other.key 2048 >/dev/null 2>&1 "
       "&& openssl rsa -in other.key -pubout -out other.pub >/dev/null 2>&1",
       dir);
}

static lro_test_server *tls_server(int mtls, int64_t max_age_ms)
{
    char *cert = slurp("srv.pem"), *key = slurp("srv.key"), *ca = slurp("ca.pem");
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.tls_cert_chain_pem = cert;
    so.tls_private_key_pem = key;
    so.tls_client_ca_pem = mtls ? ca : NULL;
    so.max_connection_age_ms = max_age_ms;
    so.max_connection_age_grace_ms = max_age_ms ? 1000 : 0;
    lro_test_server *s = NULL;
    CHECK_EQ_INT(lro_test_server_start(&so, &s), LRO_OK);
    CHECK_EQ_INT(lro_test_server_seed(s, PARENT, 2), LRO_OK);
    free(cert);
    free(key);
    free(ca);
    return s;
}

static int g_roots_as_file;       /* the client's credentials carry the roots file */
static const char *g_server_name; /* TLS name override, or NULL */

static lro_client *tls_client(lro_test_server *s, lro_credentials *cr)
{
    char *ca = slurp("ca.pem");
    lro_client_options *o = NULL;
    CHECK_EQ_INT(lro_client_options_create(&o), LRO_OK);
    CHECK_EQ_INT(lro_client_options_set_target(o, lro_test_server_target(s)), LRO_OK);
    if (!g_roots_as_file) {
        CHECK_EQ_INT(lro_client_options_set_tls(o, ca), LRO_OK);
    }
    if (g_server_name != NULL) {
        CHECK_EQ_INT(lro_client_options_set_tls_server_name(o, g_server_name), LRO_OK);
    }
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 1;
    CHECK_EQ_INT(lro_client_options_set_retry(o, &rp), LRO_OK);
    if (cr != NULL) {
        CHECK_EQ_INT(lro_client_options_set_credentials(o, cr), LRO_OK);
    }
    lro_client *c = NULL;
    CHECK_EQ_INT(lro_client_create(o, &c), LRO_OK);
    lro_client_options_destroy(o);
    free(ca);
    return c;
}

static char g_last_msg[1024]; /* the message of get_code's last failure */

/* One Get; returns its code and copies the identity the server recorded. */
static int get_code(lro_client *c, lro_test_server *s, char *ident, size_t cap)
{
    lro_future *f = NULL;
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.timeout_ms = slow_ms(10000);
    lro_test_server_clear_records(s);
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    int code = lro_status_code(lro_future_status(f));
    g_last_msg[0] = '\0';
    if (code != LRO_CODE_OK) {
        snprintf(g_last_msg, sizeof g_last_msg, "%s", lro_status_message(lro_future_status(f)));
        fprintf(stderr, "  -> %s: %s\n", lro_code_name(code), g_last_msg);
    }
    lro_future_unref(f);
    if (ident != NULL) {
        lro_test_record *r = lro_test_server_last_record(s, LRO_TEST_GET, op_name(0));
        snprintf(ident, cap, "%s", r ? lro_test_record_identity(r) : "(no record)");
        lro_test_record_free(r);
    }
    return code;
}

static lro_credentials *cert_creds(const char *who)
{
    char c[32], k[32];
    snprintf(c, sizeof c, "cl-%s.pem", who);
    snprintf(k, sizeof k, "cl-%s.key", who);
    char *cp = slurp(c), *kp = slurp(k);
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create(&cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_set_client_cert(cr, cp, kp), LRO_OK);
    free(cp);
    free(kp);
    return cr;
}

static void test_mtls(void)
{
    lro_test_server *s = tls_server(1, 0);
    char id[600];
    lro_credentials *cr = cert_creds("a");
    lro_client *c = tls_client(s, cr);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    fprintf(stderr, "  identity: %s\n", id);
    CHECK(strstr(id, "cert:") != NULL && strstr(id, "CN=client-a") != NULL);
    lro_client_destroy(c);
    /* No certificate; a certificate from another CA. */
    /* grpc itself only says "Socket closed" (the server rejected us after
     * our side of the TLS 1.3 handshake): the message names the handshake
     * and what was (not) sent. */
    c = tls_client(s, NULL);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAVAILABLE);
    CHECK(strstr(g_last_msg, "TLS handshake") != NULL);
    CHECK(strstr(g_last_msg, "this client sent none") != NULL);
    lro_client_destroy(c);
    cr = cert_creds("x");
    c = tls_client(s, cr);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAVAILABLE);
    CHECK(strstr(g_last_msg, "TLS handshake") != NULL);
    CHECK(strstr(g_last_msg, "does not accept the one sent") != NULL);
    lro_client_destroy(c);
    CHECK_EQ_INT(lro_test_server_call_count(s, LRO_TEST_GET, op_name(0)), 1);
    lro_test_server_stop(s);
}

static void copy_file(const char *from, const char *to)
{
    sh("cd '%s' && cp '%s' '%s.tmp' && mv '%s.tmp' '%s'", dir, from, to, to, to);
}

static void test_rotation(void)
{
    /* Connections live 1 s (GOAWAY): the client reconnects, and each new
     * handshake uses whatever certificate the watcher last read. */
    lro_test_server *s = tls_server(1, 1000);
    copy_file("cl-a.pem", "cur.pem");
    copy_file("cl-a.key", "cur.key");
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create(&cr), LRO_OK);
    char cert[700], key[700], ca[700];
    snprintf(cert, sizeof cert, "%s", path_of("cur.pem"));
    snprintf(key, sizeof key, "%s", path_of("cur.key"));
    snprintf(ca, sizeof ca, "%s", path_of("ca.pem"));
    CHECK_EQ_INT(lro_credentials_set_client_cert_files(cr, cert, key, ca, 1), LRO_OK);
    g_roots_as_file = 1;
    /* The name override applies with watched files too: a wrong name fails,
     * the certificate's name works. */
    g_server_name = "wrong.example";
    lro_client *w = tls_client(s, cr);
    CHECK_EQ_INT(get_code(w, s, NULL, 0), LRO_CODE_UNAVAILABLE);
    lro_client_destroy(w);
    g_server_name = "localhost";
    lro_client *c = tls_client(s, cr);
    g_roots_as_file = 0;
    g_server_name = NULL;
    lro_credentials_unref(cr);
    char id[600];
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    CHECK(strstr(id, "CN=client-a") != NULL);
    copy_file("cl-b.key", "cur.key");
    copy_file("cl-b.pem", "cur.pem");
    int64_t end = harness_now_ms() + slow_ms(30000);
    int switched = 0, n = 0;
    while (!switched && harness_now_ms() < end) {
        int code = get_code(c, s, id, sizeof id);
        CHECK(code == LRO_CODE_OK || code == LRO_CODE_UNAVAILABLE);
        switched = code == LRO_CODE_OK && strstr(id, "CN=client-b") != NULL;
        n++;
        usleep(100000);
    }
    fprintf(stderr, "  identity after rotation: %s (%d calls)\n", id, n);
    CHECK(switched);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

static void test_tokens_and_keys(void)
{
    lro_test_server *s = tls_server(0, 0);
    CHECK_EQ_INT(lro_test_server_require_token(s, "tok-one"), LRO_OK);
    CHECK_EQ_INT(lro_test_server_require_token(s, "tok-two"), LRO_OK);
    char id[600];
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create_access_token("tok-two", 0, &cr), LRO_OK);
    lro_client *c = tls_client(s, cr);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    CHECK_EQ_STR(id, "token:1");
    lro_client_destroy(c);
    CHECK_EQ_INT(lro_credentials_create_access_token("tok-three", 0, &cr), LRO_OK);
    c = tls_client(s, cr);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAUTHENTICATED);
    lro_client_destroy(c);
    c = tls_client(s, NULL);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAUTHENTICATED);
    lro_client_destroy(c);
    /* API key on top: both needed. */
    CHECK_EQ_INT(lro_test_server_require_api_key(s, "key-a"), LRO_OK);
    CHECK_EQ_INT(lro_credentials_create_access_token("tok-one", 0, &cr), LRO_OK);
    CHECK_EQ_INT(lro_credentials_set_api_key(cr, "key-a"), LRO_OK);
    c = tls_client(s, cr);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    CHECK_EQ_STR(id, "token:0 api-key:0");
    lro_client_destroy(c);
    CHECK_EQ_INT(lro_credentials_create_access_token("tok-one", 0, &cr), LRO_OK);
    c = tls_client(s, cr);
    lro_credentials_unref(cr);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAUTHENTICATED);
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

/* Over TLS a long token (Google's are ~250 bytes) travels as grpc's
 * access-token call credentials, one object per token: when the provider's
 * token changes, the next calls must carry the new one (a stale object
 * would keep sending the old). Short tokens go as headers
 * (test_tokens_and_keys). */
#define LONG_ONE "ya29.tok-one-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
#define LONG_TWO "ya29.tok-two-0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
static atomic_int g_tls_prov_calls;

static int64_t unix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tls_provider(lro_token_request *req, const char *audience, void *ud)
{
    (void)audience;
    (void)ud;
    int n = atomic_fetch_add(&g_tls_prov_calls, 1);
    /* 3 s: a refresh starts with 1.5 s left, calls wait below 0.3 s. */
    CHECK_EQ_INT(lro_token_request_answer(req, n == 0 ? LONG_ONE : LONG_TWO,
                                          unix_now_ms() + slow_ms(3000)),
                 LRO_OK);
}

static void test_token_change_over_tls(void)
{
    CHECK(strlen(LONG_ONE) >= 80 && strlen(LONG_TWO) >= 80);
    lro_test_server *s = tls_server(0, 0);
    CHECK_EQ_INT(lro_test_server_require_token(s, LONG_ONE), LRO_OK);
    CHECK_EQ_INT(lro_test_server_require_token(s, LONG_TWO), LRO_OK);
    CHECK_EQ_INT(lro_test_server_require_token(s, "tenant-tok"), LRO_OK);
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create_token_provider(tls_provider, NULL, NULL, &cr), LRO_OK);
    lro_client *c = tls_client(s, cr);
    lro_credentials_unref(cr);
    char id[600];
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    CHECK_EQ_STR(id, "token:0");
    int64_t until = unix_now_ms() + slow_ms(20000);
    int ok = 1;
    while (strcmp(id, "token:1") != 0 && unix_now_ms() < until) {
        usleep(100000);
        ok &= get_code(c, s, id, sizeof id) == LRO_CODE_OK;
    }
    CHECK(ok); /* no call failed across the change */
    CHECK_EQ_STR(id, "token:1");
    CHECK(atomic_load(&g_tls_prov_calls) >= 2);
    /* The client's token and a call's own: a call holds one set of grpc
     * call credentials, so both go as headers then; the call still works
     * and the next call without its own goes back to the client's. */
    lro_credentials *t = NULL;
    CHECK_EQ_INT(lro_credentials_create_access_token("tenant-tok", 0, &t), LRO_OK);
    lro_call_options co = LRO_CALL_OPTIONS_INIT;
    co.credentials = t;
    co.timeout_ms = slow_ms(10000);
    lro_future *f = NULL;
    lro_test_server_clear_records(s);
    CHECK_EQ_INT(lro_get(c, op_name(0), &co, NULL, NULL, NULL, &f), LRO_OK);
    CHECK_EQ_INT(lro_future_wait(f, slow_ms(60000)), LRO_OK);
    CHECK_EQ_INT(lro_future_result(f), LRO_OK);
    lro_future_unref(f);
    lro_test_record *r = lro_test_server_last_record(s, LRO_TEST_GET, op_name(0));
    CHECK(r != NULL);
    const char *ident = lro_test_record_identity(r);
    CHECK(ident != NULL && (strcmp(ident, "token:1") == 0 || strcmp(ident, "token:2") == 0));
    lro_test_record_free(r);
    lro_credentials_unref(t);
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    CHECK_EQ_STR(id, "token:1");
    lro_client_destroy(c);
    lro_test_server_stop(s);
}

/* JSON string escaping of a PEM (newlines). */
static char *sa_json(const char *email)
{
    char *pem = slurp("sa.key");
    size_t n = strlen(pem);
    char *esc = malloc(2 * n + 1), *q = esc;
    for (const char *p = pem; *p; p++) {
        if (*p == '\n') {
            *q++ = '\\';
            *q++ = 'n';
        } else {
            *q++ = *p;
        }
    }
    *q = '\0';
    char *j = malloc(2 * n + 1024);
    sprintf(j,
            "{\"type\": \"service_account\", \"project_id\": \"p\", \"private_key_id\": \"kid1\", "
            "\"private_key\": \"%s\", \"client_email\": \"%s\", \"client_id\": \"1\", "
            "\"quota_project_id\": \"billing-7\"}",
            esc, email);
    free(pem);
    free(esc);
    return j;
}

static void test_service_account_jwt(void)
{
    lro_test_server *s = tls_server(0, 0);
    char *pub = slurp("sa.pub"), *other = slurp("other.pub");
    char aud[128];
    snprintf(aud, sizeof aud, "https://%s/", lro_test_server_target(s));
    CHECK_EQ_INT(lro_test_server_require_jwt(s, pub, aud), LRO_OK);
    char *json = sa_json("robot@proj.iam.gserviceaccount.com");
    lro_credentials *cr = NULL;
    CHECK_EQ_INT(lro_credentials_create_service_account(json, &cr), LRO_OK);
    CHECK_EQ_STR(lro_credentials_describe(cr),
                 "service account robot@proj.iam.gserviceaccount.com");
    lro_client *c = tls_client(s, cr);
    lro_credentials_unref(cr);
    char id[600];
    CHECK_EQ_INT(get_code(c, s, id, sizeof id), LRO_CODE_OK);
    fprintf(stderr, "  identity: %s\n", id);
    CHECK_EQ_STR(id, "jwt:robot@proj.iam.gserviceaccount.com");
    lro_test_record *r = lro_test_server_last_record(s, LRO_TEST_GET, op_name(0));
    CHECK_EQ_STR(lro_test_record_header(r, "x-goog-user-project"), "billing-7");
    lro_test_record_free(r);
    /* Another audience, another key: refused. */
    CHECK_EQ_INT(lro_test_server_require_jwt(s, pub, "https://elsewhere.example/"), LRO_OK);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAUTHENTICATED);
    CHECK_EQ_INT(lro_test_server_require_jwt(s, other, NULL), LRO_OK);
    CHECK_EQ_INT(get_code(c, s, NULL, 0), LRO_CODE_UNAUTHENTICATED);
    CHECK_EQ_INT(lro_test_server_require_jwt(s, "not a key", NULL), LRO_ERR_INVALID_ARG);
    lro_client_destroy(c);
    /* JWTs made here with openssl (not by grpc): the verifier on its own.
     * An expired one is refused, a current one accepted, a tampered one
     * refused. */
    CHECK_EQ_INT(lro_test_server_require_jwt(s, pub, aud), LRO_OK);
    const char *claims[3][2] = {{"old", "1000"}, {"new", "4102444800"}, {"bad", "4102444800"}};
    for (int i = 0; i < 3; i++) {
        sh("cd '%s' && b64() { openssl base64 -A | tr '+/' '-_' | tr -d '='; } && "
           "h=$(printf '{\"alg\":\"RS256\",\"typ\":\"JWT\"}' | b64) && "
           "p=$(printf '{\"aud\":\"%s\",\"exp\":%s,\"sub\":\"%s@x\"}' | b64) && "
           "sig=$(printf '%%s.%%s' \"$h\" \"$p\" | openssl dgst -sha256 -sign sa.key | b64) && "
           "printf '%%s.%%s.%%s' \"$h\" \"$p\" \"$sig\" > jwt-%s.txt",
           dir, aud, claims[i][1], claims[i][0], claims[i][0]);
        char fname[32];
        snprintf(fname, sizeof fname, "jwt-%s.txt", claims[i][0]);
        char *jwt = slurp(fname);
        if (i == 2) {
            jwt[strlen(jwt) - 3] ^= 1; /* a flipped bit in the signature */
        }
        CHECK_EQ_INT(lro_credentials_create_access_token(jwt, 0, &cr), LRO_OK);
        c = tls_client(s, cr);
        lro_credentials_unref(cr);
        int code = get_code(c, s, id, sizeof id);
        CHECK_EQ_INT(code, i == 1 ? LRO_CODE_OK : LRO_CODE_UNAUTHENTICATED);
        if (i == 1) {
            CHECK_EQ_STR(id, "jwt:new@x");
        }
        lro_client_destroy(c);
        free(jwt);
    }
    /* From a file, kind detected. */
    FILE *f = fopen(path_of("sa.json"), "w");
    fputs(json, f);
    fclose(f);
    CHECK_EQ_INT(lro_credentials_create_from_file(path_of("sa.json"), NULL, &cr), LRO_OK);
    CHECK(strstr(lro_credentials_describe(cr), "service account") != NULL);
    lro_credentials_unref(cr);
    free(json);
    free(pub);
    free(other);
    lro_test_server_stop(s);
}

int main(void)
{
    make_pki();
    RUN(test_mtls);
    RUN(test_tokens_and_keys);
    RUN(test_token_change_over_tls);
    RUN(test_service_account_jwt);
    RUN(test_rotation);
    fprintf(stderr, "tls_auth_test: OK\n");
    return 0;
}
