/* grpcio_interop_client: lro-c's public API (lro/client.h, lro/credentials.h,
 * lro/longrunning.h) against an Operations server nobody here wrote: the
 * python3-grpcio server of grpcio_interop_test.py, which requires a client
 * certificate from its CA and checks "authorization: Bearer <token>".
 *
 * usage: grpcio_interop_client TARGET DIR [CASE...]
 *   DIR holds ca.pem (the server's CA), cl.pem/cl.key (a client certificate
 *   from that CA), other.pem/other.key (a client certificate from another CA).
 *   CASE: case1..case8 (default: case1..case7). case8 rotates certificate
 *   files and needs a server that closes connections often (it answers
 *   Get of case8-whoami with the client certificate's CN it saw), and
 *   DIR/rot.pem, rot.key (in use first), cl2.pem, cl2.key (rotated in).
 *
 * Prints one line per case, "ok   caseN ..." or "FAIL caseN ...", and exits 1
 * if any case failed. What the client sees is checked here; what the server
 * saw (certificate CN and token per call) is checked by the python driver,
 * so a library that sent nothing fails there. The token values are test
 * values, printed only by the driver's own checks, never by this program. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lro/lro.h"

#define PARENT "projects/interop/locations/global/operations"
/* What the grpcio server answers a token it does not accept with. */
#define SERVER_REFUSAL "the grpcio server does not accept this bearer token"

typedef struct env {
    const char *target;
    char *ca_pem, *cl_pem, *cl_key, *other_pem, *other_key;
    const char *dir;
    char ca_path[1024], cl_path[1024], cl_key_path[1024];
} env;

static int failures;

/* The verdict of one case: ok until the first failed expectation, whose
 * reason is kept. */
typedef struct verdict {
    int ok;
    char why[1024];
} verdict;

static int expect(verdict *v, int cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int expect(verdict *v, int cond, const char *fmt, ...)
{
    if (!cond && v->ok) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->why, sizeof v->why, fmt, ap);
        va_end(ap);
        v->ok = 0;
    }
    return cond;
}

static void finish(const verdict *v, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish(const verdict *v, const char *name, const char *fmt, ...)
{
    char what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (v->ok) {
        printf("ok   %s: %s\n", name, what);
    } else {
        printf("FAIL %s: %s: %s\n", name, what, v->why);
        failures++;
    }
    fflush(stdout);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *b = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        b = malloc((size_t)n + 1);
        if (b != NULL && fread(b, 1, (size_t)n, f) != (size_t)n) {
            free(b);
            b = NULL;
        }
    }
    fclose(f);
    if (b != NULL) {
        b[n] = '\0';
    }
    return b;
}

static int64_t unix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client with TLS verified against ca_pem (NULL: not set, the roots come
 * from the credentials' watched roots file), one attempt per call (a failure
 * shows as it is, at once) and a 10 s deadline per RPC. NULL on failure,
 * with the reason in v. */
static lro_client *make_client(verdict *v, const env *e, const char *ca_pem, lro_credentials *cr)
{
    lro_client_options *o = NULL;
    lro_client *c = NULL;
    lro_retry_policy rp = LRO_RETRY_POLICY_INIT;
    rp.max_attempts = 1;
    if (!expect(v, lro_client_options_create(&o) == LRO_OK, "options: %s", lro_last_error())) {
        return NULL;
    }
    int rc = lro_client_options_set_target(o, e->target);
    if (rc == LRO_OK && ca_pem != NULL) {
        rc = lro_client_options_set_tls(o, ca_pem);
    }
    if (rc == LRO_OK) {
        rc = lro_client_options_set_credentials(o, cr);
    }
    if (rc == LRO_OK) {
        rc = lro_client_options_set_retry(o, &rp);
    }
    if (rc == LRO_OK) {
        rc = lro_client_options_set_default_timeout_ms(o, 10000);
    }
    if (rc == LRO_OK) {
        rc = lro_client_create(o, &c);
    }
    expect(v, rc == LRO_OK, "client set-up: %d %s", rc, lro_last_error());
    lro_client_options_destroy(o);
    return rc == LRO_OK ? c : NULL;
}

/* Waits (bounded) for a call's outcome; describes it in desc. */
static int settle(lro_future *f, char *desc, size_t n)
{
    if (lro_future_wait(f, 30000) != LRO_OK) {
        snprintf(desc, n, "no outcome within 30 s");
        return LRO_ERR_TIMEOUT;
    }
    const lro_status *st = lro_future_status(f);
    snprintf(desc, n, "result %d, status %d \"%s\"", lro_future_result(f), lro_status_code(st),
             lro_status_message(st));
    return lro_future_result(f);
}

/* One GetOperation; returns the future (NULL if it did not start). */
static lro_future *get(verdict *v, lro_client *c, const char *leaf, const lro_call_options *opts)
{
    char name[256];
    snprintf(name, sizeof name, PARENT "/%s", leaf);
    lro_future *f = NULL;
    int rc = lro_get(c, name, opts, NULL, NULL, NULL, &f);
    expect(v, rc == LRO_OK, "lro_get(%s) did not start: %d %s", leaf, rc, lro_last_error());
    return rc == LRO_OK ? f : NULL;
}

/* A Get that must succeed and return the operation asked for. */
static void get_ok(verdict *v, lro_client *c, const char *leaf, const lro_call_options *opts)
{
    lro_future *f = get(v, c, leaf, opts);
    if (f == NULL) {
        return;
    }
    char desc[512];
    int r = settle(f, desc, sizeof desc);
    if (expect(v, r == LRO_OK, "Get %s: %s", leaf, desc)) {
        const lro_operation *op = lro_future_operation(f);
        const char *got = op ? lro_operation_name(op) : "(no operation)";
        const char *slash = strrchr(got, '/');
        expect(v,
               strncmp(got, PARENT "/", strlen(PARENT) + 1) == 0 && slash != NULL &&
                   strcmp(slash + 1, leaf) == 0,
               "Get %s answered with the operation \"%s\"", leaf, got);
    }
    lro_future_unref(f);
}

/* A Get that must fail with `code`; its status message goes to msg. */
static void get_fails(verdict *v, lro_client *c, const char *leaf, int code, char *msg, size_t n)
{
    msg[0] = '\0';
    lro_future *f = get(v, c, leaf, NULL);
    if (f == NULL) {
        return;
    }
    char desc[512];
    int r = settle(f, desc, sizeof desc);
    if (expect(v, r == LRO_ERR_RPC && lro_status_code(lro_future_status(f)) == code,
               "Get %s: expected status %d, got %s", leaf, code, desc)) {
        snprintf(msg, n, "%s", lro_status_message(lro_future_status(f)));
    }
    lro_future_unref(f);
}

static lro_credentials *token_creds(verdict *v, const char *token, const char *cert,
                                    const char *key)
{
    lro_credentials *cr = NULL;
    int rc =
        token ? lro_credentials_create_access_token(token, 0, &cr) : lro_credentials_create(&cr);
    if (rc == LRO_OK && cert != NULL) {
        rc = lro_credentials_set_client_cert(cr, cert, key);
    }
    if (!expect(v, rc == LRO_OK, "credentials: %d %s", rc, lro_last_error())) {
        lro_credentials_unref(cr);
        return NULL;
    }
    return cr;
}

/* case1: client certificate + a static access token; all five calls. */
static void case1(const env *e)
{
    verdict v = {1, ""};
    lro_credentials *cr = token_creds(&v, "static-token", e->cl_pem, e->cl_key);
    lro_client *c = cr ? make_client(&v, e, e->ca_pem, cr) : NULL;
    if (c != NULL) {
        get_ok(&v, c, "case1-get", NULL);

        lro_list_args la = LRO_LIST_ARGS_INIT;
        la.page_size = 10;
        la.filter = "case1";
        lro_future *f = NULL;
        char desc[512];
        if (expect(&v, lro_list(c, PARENT, &la, NULL, NULL, NULL, NULL, &f) == LRO_OK,
                   "lro_list: %s", lro_last_error())) {
            if (expect(&v, settle(f, desc, sizeof desc) == LRO_OK, "List: %s", desc)) {
                const lro_page *p = lro_future_page(f);
                size_t n = p ? lro_page_count(p) : 0;
                expect(&v,
                       n == 2 &&
                           strcmp(lro_operation_name(lro_page_operation(p, 0)),
                                  PARENT "/case1-list-a") == 0 &&
                           strcmp(lro_operation_name(lro_page_operation(p, 1)),
                                  PARENT "/case1-list-b") == 0 &&
                           strcmp(lro_page_next_token(p), "") == 0,
                       "List: expected case1-list-a and case1-list-b, got %zu operations", n);
            }
            lro_future_unref(f);
        }

        f = NULL;
        if (expect(&v, lro_cancel(c, PARENT "/case1-cancel", NULL, NULL, NULL, NULL, &f) == LRO_OK,
                   "lro_cancel: %s", lro_last_error())) {
            expect(&v, settle(f, desc, sizeof desc) == LRO_OK, "Cancel: %s", desc);
            lro_future_unref(f);
        }
        f = NULL;
        if (expect(&v, lro_delete(c, PARENT "/case1-delete", NULL, NULL, NULL, NULL, &f) == LRO_OK,
                   "lro_delete: %s", lro_last_error())) {
            expect(&v, settle(f, desc, sizeof desc) == LRO_OK, "Delete: %s", desc);
            lro_future_unref(f);
        }
        f = NULL;
        if (expect(&v,
                   lro_wait(c, PARENT "/case1-wait", 1000, NULL, NULL, NULL, NULL, &f) == LRO_OK,
                   "lro_wait: %s", lro_last_error())) {
            if (expect(&v, settle(f, desc, sizeof desc) == LRO_OK, "Wait: %s", desc)) {
                const lro_operation *op = lro_future_operation(f);
                expect(&v,
                       op != NULL && lro_operation_done(op) &&
                           strcmp(lro_operation_name(op), PARENT "/case1-wait") == 0,
                       "Wait: not the finished case1-wait");
            }
            lro_future_unref(f);
        }
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    finish(&v, "case1", "client certificate + static token: Get, List, Cancel, Delete, Wait");
}

/* ---- case2: a token provider --------------------------------------------- */
typedef struct prov {
    atomic_int calls;
    pthread_mutex_t mu;
    char audience[512];
} prov;

static void provider(lro_token_request *req, const char *audience, void *ud)
{
    prov *p = ud;
    int n = atomic_fetch_add(&p->calls, 1) + 1;
    pthread_mutex_lock(&p->mu);
    snprintf(p->audience, sizeof p->audience, "%s", audience ? audience : "(null)");
    pthread_mutex_unlock(&p->mu);
    char tok[64];
    snprintf(tok, sizeof tok, "provider-token-%d", n);
    /* Valid for an hour: the library must cache it, not ask again. */
    if (lro_token_request_answer(req, tok, unix_now_ms() + 3600 * 1000) != LRO_OK) {
        fprintf(stderr, "lro_token_request_answer: %s\n", lro_last_error());
    }
}

static void on_progress(const lro_operation *op, void *ud)
{
    (void)op;
    atomic_fetch_add((atomic_int *)ud, 1);
}

/* Three Gets started at once, then an await with a progress callback (so
 * its first poll is a Get, then WaitOperation turns) until the server
 * finishes the operation (at the 6th poll of case2-op): one provider call. */
static void case2(const env *e)
{
    verdict v = {1, ""};
    prov p = {0};
    pthread_mutex_init(&p.mu, NULL);
    lro_credentials *cr = NULL;
    int rc = lro_credentials_create_token_provider(provider, &p, NULL, &cr);
    if (rc == LRO_OK) {
        rc = lro_credentials_set_client_cert(cr, e->cl_pem, e->cl_key);
    }
    expect(&v, rc == LRO_OK, "credentials: %s", lro_last_error());
    lro_client *c = rc == LRO_OK ? make_client(&v, e, e->ca_pem, cr) : NULL;
    int polls = 0;
    atomic_int progress = 0;
    if (c != NULL) {
        lro_future *fs[3] = {NULL, NULL, NULL};
        for (int i = 0; i < 3; i++) {
            fs[i] = get(&v, c, "case2-op", NULL);
        }
        for (int i = 0; i < 3; i++) {
            char desc[512];
            if (fs[i] != NULL) {
                int r = settle(fs[i], desc, sizeof desc);
                const lro_operation *op = lro_future_operation(fs[i]);
                expect(&v, r == LRO_OK && op != NULL && !lro_operation_done(op),
                       "Get %d of case2-op: %s (expected OK, not done)", i + 1, desc);
            }
            lro_future_unref(fs[i]);
        }

        lro_poll_policy pp = LRO_POLL_POLICY_INIT;
        pp.initial_delay_ms = 20;
        pp.max_delay_ms = 200;
        pp.total_timeout_ms = 20000;
        pp.wait_timeout_ms = 1000;
        lro_future *f = NULL;
        if (expect(&v,
                   lro_await(c, PARENT "/case2-op", &pp, NULL, on_progress, NULL, &progress, NULL,
                             &f) == LRO_OK,
                   "lro_await: %s", lro_last_error())) {
            char desc[512];
            int r = settle(f, desc, sizeof desc);
            polls = lro_future_polls(f);
            const lro_operation *op = lro_future_operation(f);
            const char *type_url = NULL;
            const uint8_t *value = NULL;
            size_t len = 0;
            int present = 0;
            if (expect(&v, r == LRO_OK && op != NULL && lro_operation_done(op),
                       "await: %s (expected done with a response)", desc)) {
                lro_operation_response(op, &type_url, &value, &len, &present);
                /* StringValue{value: "finished"}: field 1, length 8. */
                expect(&v,
                       present &&
                           strcmp(type_url, "type.googleapis.com/google.protobuf.StringValue") ==
                               0 &&
                           len == 10 &&
                           memcmp(value,
                                  "\x0a\x08"
                                  "finished",
                                  10) == 0,
                       "await: unexpected response %s (%zu bytes)", present ? type_url : "(none)",
                       len);
            }
            lro_future_unref(f);
        }
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    /* The operation carries no metadata: only its first state is reported. */
    expect(&v, c == NULL || atomic_load(&progress) == 1, "progress called %d times (expected 1)",
           atomic_load(&progress));
    int calls = atomic_load(&p.calls);
    expect(&v, calls == 1, "the provider was called %d times (expected once: cached)", calls);
    const char *want_pre = "https://";
    const char *want_suf = "/google.longrunning.Operations";
    size_t al = strlen(p.audience);
    expect(&v,
           strncmp(p.audience, want_pre, strlen(want_pre)) == 0 &&
               strstr(p.audience, e->target) != NULL && al > strlen(want_suf) &&
               strcmp(p.audience + al - strlen(want_suf), want_suf) == 0,
           "audience \"%s\"", p.audience);
    pthread_mutex_destroy(&p.mu);
    finish(&v, "case2",
           "client certificate + token provider: 3 Gets and an await (%d polls), provider "
           "called %d time(s), audience %s",
           polls, calls, p.audience);
}

/* A handshake the server refuses: UNAVAILABLE, and the message names the
 * TLS handshake with what was sent (grpc itself only says "Socket closed"). */
static void refused_handshake(const env *e, const char *id, const char *leaf, const char *cert,
                              const char *key, const char *says, const char *what)
{
    verdict v = {1, ""};
    char msg[1024] = "";
    lro_credentials *cr = token_creds(&v, "static-token", cert, key);
    lro_client *c = cr ? make_client(&v, e, e->ca_pem, cr) : NULL;
    if (c != NULL) {
        get_fails(&v, c, leaf, LRO_CODE_UNAVAILABLE, msg, sizeof msg);
        expect(&v, strstr(msg, "TLS handshake") != NULL && strstr(msg, says) != NULL,
               "the message names the TLS handshake and \"%s\"", says);
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    finish(&v, id, "%s: UNAVAILABLE \"%s\"", what, msg);
}

/* case3: no client certificate; the server's TLS refuses the handshake. */
static void case3(const env *e)
{
    refused_handshake(e, "case3", "case3-nocert", NULL, NULL, "sent none", "no client certificate");
}

/* case4: a client certificate from a CA the server does not trust. */
static void case4(const env *e)
{
    refused_handshake(e, "case4", "case4-otherca", e->other_pem, e->other_key,
                      "does not accept the one sent", "certificate from another CA");
}

/* case5: the right certificate, a token the server refuses: its
 * UNAUTHENTICATED and message pass through unchanged, without the token. */
static void case5(const env *e)
{
    verdict v = {1, ""};
    char msg[512] = "";
    lro_credentials *cr = token_creds(&v, "wrong-token", e->cl_pem, e->cl_key);
    lro_client *c = cr ? make_client(&v, e, e->ca_pem, cr) : NULL;
    if (c != NULL) {
        get_fails(&v, c, "case5-wrongtoken", LRO_CODE_UNAUTHENTICATED, msg, sizeof msg);
        expect(&v, strcmp(msg, SERVER_REFUSAL) == 0, "message \"%s\" is not the server's", msg);
        expect(&v, strstr(msg, "wrong-token") == NULL, "the token is in the message");
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    finish(&v, "case5", "wrong token: UNAUTHENTICATED \"%s\"", msg);
}

/* case6: one client (certificate, no token of its own) serving two tenants
 * with per-call credentials; a call without any is refused. */
static void case6(const env *e)
{
    verdict v = {1, ""};
    char msg[512] = "";
    lro_credentials *cr = token_creds(&v, NULL, e->cl_pem, e->cl_key);
    lro_credentials *a = token_creds(&v, "tenant-a-token", NULL, NULL);
    lro_credentials *b = token_creds(&v, "tenant-b-token", NULL, NULL);
    lro_client *c = cr && a && b ? make_client(&v, e, e->ca_pem, cr) : NULL;
    if (c != NULL) {
        lro_call_options oa = LRO_CALL_OPTIONS_INIT, ob = LRO_CALL_OPTIONS_INIT;
        oa.credentials = a;
        ob.credentials = b;
        get_ok(&v, c, "case6-a", &oa);
        get_ok(&v, c, "case6-b", &ob);
        get_ok(&v, c, "case6-a2", &oa);
        get_fails(&v, c, "case6-none", LRO_CODE_UNAUTHENTICATED, msg, sizeof msg);
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    lro_credentials_unref(a);
    lro_credentials_unref(b);
    finish(&v, "case6",
           "per-call credentials: tenant a, tenant b, tenant a on one client; none: "
           "UNAUTHENTICATED \"%s\"",
           msg);
}

/* case7: the certificate, key and server roots as watched files
 * (lro_credentials_set_client_cert_files); no roots given as text. */
static void case7(const env *e)
{
    verdict v = {1, ""};
    lro_credentials *cr = NULL;
    int rc = lro_credentials_create_access_token("static-token", 0, &cr);
    if (rc == LRO_OK) {
        rc = lro_credentials_set_client_cert_files(cr, e->cl_path, e->cl_key_path, e->ca_path, 0);
    }
    expect(&v, rc == LRO_OK, "credentials: %d %s", rc, lro_last_error());
    lro_client *c = rc == LRO_OK ? make_client(&v, e, NULL, cr) : NULL;
    if (c != NULL) {
        get_ok(&v, c, "case7-files", NULL);
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    finish(&v, "case7", "watched certificate files + static token: Get");
}

/* The CN the server says it saw (case8-whoami's response, a StringValue),
 * into cn; "" when the Get failed. */
static void whoami(verdict *v, lro_client *c, char *cn, size_t n, char *err, size_t errn)
{
    cn[0] = '\0';
    lro_future *f = get(v, c, "case8-whoami", NULL);
    if (f == NULL) {
        return;
    }
    const char *type_url = NULL;
    const uint8_t *value = NULL;
    size_t len = 0;
    int present = 0;
    if (settle(f, err, errn) == LRO_OK &&
        lro_operation_response(lro_future_operation(f), &type_url, &value, &len, &present) ==
            LRO_OK &&
        present && len >= 2 && value[0] == 0x0a && value[1] == len - 2 && len - 2 < n) {
        memcpy(cn, value + 2, len - 2);
        cn[len - 2] = '\0';
    }
    lro_future_unref(f);
}

/* case8: watched certificate files rotated under a live client: the
 * identity the server sees switches without recreating the client (the
 * server ends connections after a few hundred ms, so later calls handshake
 * again, with whatever certificate grpc's file watcher read last). */
static void case8(const env *e)
{
    verdict v = {1, ""};
    char rot[1024], rot_key[1024], cl2[1024], cl2_key[1024], cn[256] = "", err[512] = "";
    snprintf(rot, sizeof rot, "%s/rot.pem", e->dir);
    snprintf(rot_key, sizeof rot_key, "%s/rot.key", e->dir);
    snprintf(cl2, sizeof cl2, "%s/cl2.pem", e->dir);
    snprintf(cl2_key, sizeof cl2_key, "%s/cl2.key", e->dir);
    lro_credentials *cr = NULL;
    int rc = lro_credentials_create_access_token("static-token", 0, &cr);
    if (rc == LRO_OK) {
        rc = lro_credentials_set_client_cert_files(cr, rot, rot_key, e->ca_path, 1);
    }
    expect(&v, rc == LRO_OK, "credentials: %d %s", rc, lro_last_error());
    lro_client *c = rc == LRO_OK ? make_client(&v, e, NULL, cr) : NULL;
    int tries = 0, failed = 0;
    if (c != NULL) {
        whoami(&v, c, cn, sizeof cn, err, sizeof err);
        expect(&v, strcmp(cn, "interop-client") == 0,
               "before the rotation the server saw \"%s\" (%s)", cn, err);
        /* Key first, then certificate, each replaced atomically. */
        expect(&v, rename(cl2_key, rot_key) == 0 && rename(cl2, rot) == 0, "rotating the files");
        /* Bounded: up to 20 s for the watcher (1 s interval) and a new
         * connection. A handshake during the swap may fail: counted. */
        while (v.ok && tries < 200 && strcmp(cn, "interop-client-2") != 0) {
            usleep(100 * 1000);
            tries++;
            whoami(&v, c, cn, sizeof cn, err, sizeof err);
            failed += cn[0] == '\0';
        }
        expect(&v, strcmp(cn, "interop-client-2") == 0,
               "after the rotation the server still saw \"%s\" (%s)", cn, err);
    }
    lro_client_destroy(c);
    lro_credentials_unref(cr);
    finish(&v, "case8",
           "rotated certificate files: the server saw interop-client, then interop-client-2 on "
           "the same client (%d Gets after the rotation, %d failed)",
           tries, failed);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TARGET DIR [case1..case8...]\n", argv[0]);
        return 2;
    }
    env e = {.target = argv[1], .dir = argv[2]};
    const char *dir = e.dir;
    char path[1024];
    char **dst[] = {&e.ca_pem, &e.cl_pem, &e.cl_key, &e.other_pem, &e.other_key};
    const char *files[] = {"ca.pem", "cl.pem", "cl.key", "other.pem", "other.key"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        *dst[i] = slurp(path);
        if (*dst[i] == NULL) {
            fprintf(stderr, "cannot read %s\n", path);
            return 2;
        }
    }
    snprintf(e.ca_path, sizeof e.ca_path, "%s/ca.pem", dir);
    snprintf(e.cl_path, sizeof e.cl_path, "%s/cl.pem", dir);
    snprintf(e.cl_key_path, sizeof e.cl_key_path, "%s/cl.key", dir);

    static const struct {
        const char *name;
        void (*fn)(const env *);
    } cases[] = {{"case1", case1}, {"case2", case2}, {"case3", case3}, {"case4", case4},
                 {"case5", case5}, {"case6", case6}, {"case7", case7}, {"case8", case8}};
    size_t ncases = sizeof cases / sizeof cases[0];
    for (int a = 3; a < argc; a++) {
        size_t i = 0;
        while (i < ncases && strcmp(cases[i].name, argv[a]) != 0) {
            i++;
        }
        if (i == ncases) {
            fprintf(stderr, "unknown case %s\n", argv[a]);
            return 2;
        }
    }
    for (size_t i = 0; i < ncases; i++) {
        int wanted = argc == 3 && strcmp(cases[i].name, "case8") != 0;
        for (int a = 3; a < argc && !wanted; a++) {
            wanted = strcmp(cases[i].name, argv[a]) == 0;
        }
        if (wanted) {
            cases[i].fn(&e);
        }
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        free(*dst[i]);
    }
    return failures ? 1 : 0;
}
