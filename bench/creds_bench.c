/* What credentials cost per Get: instructions (under callgrind, one dump per
 * variant) and wall time, for sequential Gets against the embedded server in
 * this process (so the instruction counts include the server's side: compare
 * a variant with its transport's baseline, the server work is the same but
 * for one more header):
 *   plaintext            no credentials
 *   plaintext+token      a static access token (allow_plaintext)
 *   plaintext+provider   a token provider's cached token
 *   tls                  TLS, no credentials
 *   tls+token, tls+provider
 *   tls+jwt              a service-account key: grpc's self-signed JWT
 *                        (ADC with a service-account file does the same)
 * Run by bench/creds_bench.sh (callgrind); `--calls N`. One JSON line per
 * variant on stdout. The PKI and the RSA key are made with openssl now. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include "bench_common.h"
#include "lro/lro.h"
#include "lro/testing.h"

static char dir[512];

static char *slurp(const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (f == NULL) {
        perror(p);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
        exit(1);
    }
    b[n] = '\0';
    fclose(f);
    return b;
}

static void make_pki(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/credsbench-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        exit(1);
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "(cd '%s' && E='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
             "openssl req -x509 $E -keyout ca.key -out ca.pem -days 2 -subj /CN=bench-ca && "
             "printf 'subjectAltName=IP:127.0.0.1\\n' > s.cnf && "
             "openssl req $E -keyout srv.key -out srv.csr -subj /CN=localhost && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
             "-extfile s.cnf -out srv.pem && openssl genrsa -out sa.key 2048 "
             ") >/dev/null 2>&1",
             dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "creds_bench: openssl failed\n");
        exit(1);
    }
}

static int64_t unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void provider(lro_token_request *req, const char *audience, void *ud)
{
    (void)audience;
    (void)ud;
    lro_token_request_answer(req, "bench-provider-token", unix_ms() + 3600 * 1000);
}

static char *sa_json(void)
{
    char *pem = slurp("sa.key");
    size_t n = strlen(pem);
    char *j = malloc(2 * n + 512), *q = j;
    q += sprintf(q,
                 "{\"type\": \"service_account\", \"private_key_id\": \"k\", \"private_key\": \"");
    for (const char *p = pem; *p; p++) {
        if (*p == '\n') {
            *q++ = '\\';
            *q++ = 'n';
        } else {
            *q++ = *p;
        }
    }
    sprintf(q, "\", \"client_id\": \"1\", \"client_email\": \"bench@p.iam.gserviceaccount.com\"}");
    free(pem);
    return j;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int get_once(lro_client *c)
{
    lro_future *f = NULL;
    if (lro_get(c, "bench/op-00000", NULL, NULL, NULL, NULL, &f) != LRO_OK) {
        return -1;
    }
    lro_future_wait(f, -1);
    int rc = lro_future_result(f);
    lro_future_unref(f);
    return rc;
}

static void run(const char *variant, const char *target, const char *ca, lro_credentials *cr,
                long calls)
{
    lro_client_options *o = NULL;
    lro_client_options_create(&o);
    lro_client_options_set_target(o, target);
    if (ca != NULL) {
        lro_client_options_set_tls(o, ca);
    } else {
        lro_client_options_set_plaintext(o);
    }
    if (cr != NULL) {
        lro_client_options_set_credentials(o, cr);
        lro_credentials_unref(cr);
    }
    lro_client *c = NULL;
    if (lro_client_create(o, &c) != LRO_OK) {
        fprintf(stderr, "creds_bench: %s: %s\n", variant, lro_last_error());
        exit(1);
    }
    lro_client_options_destroy(o);
    for (int i = 0; i < 200; i++) { /* connect, handshake, first token, caches */
        if (get_once(c) != LRO_OK) {
            fprintf(stderr, "creds_bench: %s: warm-up Get failed\n", variant);
            exit(1);
        }
    }
    CALLGRIND_ZERO_STATS;
    double t0 = now_s();
    for (long i = 0; i < calls; i++) {
        if (get_once(c) != LRO_OK) {
            fprintf(stderr, "creds_bench: %s: Get failed\n", variant);
            exit(1);
        }
    }
    double t = now_s() - t0;
    CALLGRIND_DUMP_STATS_AT(variant);
    printf("{\"variant\":\"%s\",\"calls\":%ld,\"us_per_get\":%.1f}\n", variant, calls,
           t * 1e6 / (double)calls);
    fflush(stdout);
    lro_client_destroy(c);
}

int main(int argc, char **argv)
{
    long calls = bench_arg_long(argc, argv, "--calls", 2000);
    make_pki();
    char *cert = slurp("srv.pem"), *key = slurp("srv.key"), *ca = slurp("ca.pem");
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.record_limit = -1;
    lro_test_server *plain = NULL, *tls = NULL;
    if (lro_test_server_start(&so, &plain) != LRO_OK) {
        return 1;
    }
    so.tls_cert_chain_pem = cert;
    so.tls_private_key_pem = key;
    if (lro_test_server_start(&so, &tls) != LRO_OK) {
        return 1;
    }
    lro_test_server_seed(plain, "bench", 1);
    lro_test_server_seed(tls, "bench", 1);
    const char *pt = lro_test_server_target(plain), *tt = lro_test_server_target(tls);
    lro_credentials *cr;

    run("plaintext", pt, NULL, NULL, calls);
    lro_credentials_create_access_token("bench-static-token", 0, &cr);
    lro_credentials_allow_plaintext(cr);
    run("plaintext+token", pt, NULL, cr, calls);
    lro_credentials_create_token_provider(provider, NULL, NULL, &cr);
    lro_credentials_allow_plaintext(cr);
    run("plaintext+provider", pt, NULL, cr, calls);

    run("tls", tt, ca, NULL, calls);
    lro_credentials_create_access_token("bench-static-token", 0, &cr);
    run("tls+token", tt, ca, cr, calls);
    lro_credentials_create_token_provider(provider, NULL, NULL, &cr);
    run("tls+provider", tt, ca, cr, calls);
    char *json = sa_json();
    if (lro_credentials_create_service_account(json, &cr) != LRO_OK) {
        fprintf(stderr, "creds_bench: %s\n", lro_last_error());
        return 1;
    }
    run("tls+jwt", tt, ca, cr, calls);
    free(json);
    lro_test_server_stop(plain);
    lro_test_server_stop(tls);
    free(cert);
    free(key);
    free(ca);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    return system(rm) == 0 ? 0 : 1;
}
