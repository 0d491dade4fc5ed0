/* What credentials cost per Get: instructions (under callgrind, one dump per
 * variant) and wall time, for sequential Gets on one client.
 *
 * Two modes:
 *
 *   creds_bench --target HOST:PORT --variant V [--ca PEM_FILE]
 *               [--sa-json FILE] [--ea-file FILE] [--name OP] [--calls N]
 *               [--warmup W] [--token-bytes N]
 *       Client only: one variant against a server in another process
 *       (bench/creds_bench.sh starts `lroctl serve` outside valgrind), so a
 *       callgrind run of this process counts the client's work alone.
 *       --ca: the server's CA (TLS variants); --sa-json: a service-account
 *       key (tls+jwt); --ea-file: an external_account JSON file whose
 *       token URL is a fake STS on loopback (tls+sts); --name: the
 *       operation to Get (default: lroctl serve's first seeded one);
 *       --token-bytes: tokens padded to N bytes (default: short names).
 *
 *   creds_bench [--calls N] [--warmup W]
 *       Whole process (the first version of this bench): every variant
 *       against embedded servers in this process, so the counts include the
 *       server's side too. The PKI and the RSA key are made with openssl.
 *
 * Variants:
 *   plaintext            no credentials
 *   plaintext+token      a static access token (allow_plaintext)
 *   plaintext+provider   a token provider's cached token (allow_plaintext)
 *   tls                  TLS, no credentials
 *   tls+token, tls+provider
 *   tls+jwt              a service-account key: grpc's self-signed JWT
 *                        (ADC with a service-account file does the same)
 *   tls+apikey           an API key (x-goog-api-key)
 *   tls+sts              external_account: grpc's OAuth2 token-fetcher
 *                        credentials with their cached access token, the
 *                        machinery compute engine (ADC on Google Cloud) and
 *                        authorized_user use too (client-only mode only)
 * The tokens and the key are the constants below (the script tells the
 * server to require them). One JSON line per variant on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include "bench_common.h"
#include "lro/lro.h"
#include "lro/testing.h"

#define STATIC_TOKEN   "bench-static-token"
#define PROVIDER_TOKEN "bench-provider-token"

/* The tokens sent: the names above, or with --token-bytes N padded to N
 * bytes as bench/creds_bench.sh pads the ones its servers require (Google
 * access tokens are about 250 bytes; grpc's cost per byte differs by path). */
static char g_static_token[4096] = STATIC_TOKEN;
static char g_provider_token[4096] = PROVIDER_TOKEN;

/* base, then ".", then "abcdefghij" repeated, to n bytes (n > strlen(base)). */
static void pad_token(char *out, size_t cap, const char *base, long n)
{
    size_t bl = strlen(base);
    if (n <= (long)bl + 1 || (size_t)n >= cap) {
        fprintf(stderr, "creds_bench: --token-bytes must be in %zu..%zu\n", bl + 2, cap - 1);
        exit(2);
    }
    memcpy(out, base, bl);
    out[bl] = '.';
    for (long i = (long)bl + 1; i < n; i++) {
        out[i] = (char)('a' + (i - (long)bl - 1) % 10);
    }
    out[n] = '\0';
}
#define API_KEY        "bench-api-key"
#define SERVE_OP_NAME  "projects/demo/locations/global/operations/op-00000"
#define LOCAL_OP_NAME  "bench/op-00000"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b == NULL || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "creds_bench: cannot read %s\n", path);
        exit(1);
    }
    b[n] = '\0';
    fclose(f);
    return b;
}

static int64_t unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Answers at once with a token that lives an hour: after the first call
 * every Get finds it cached (no refresh within a run of a few minutes). */
static void provider(lro_token_request *req, const char *audience, void *ud)
{
    (void)audience;
    (void)ud;
    lro_token_request_answer(req, g_provider_token, unix_ms() + 3600 * 1000);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One Get; exits with the status on failure (a server that refuses the
 * credentials ends the bench: it would measure the wrong thing). */
static void get_once(lro_client *c, const char *variant, const char *name)
{
    lro_future *f = NULL;
    int rc = lro_get(c, name, NULL, NULL, NULL, NULL, &f);
    if (rc == LRO_OK) {
        lro_future_wait(f, -1);
        rc = lro_future_result(f);
    }
    if (rc != LRO_OK) {
        const lro_status *st = f != NULL ? lro_future_status(f) : NULL;
        fprintf(stderr, "creds_bench: %s: Get failed: %s", variant, lro_strerror(rc));
        if (st != NULL) {
            fprintf(stderr, ": %s: %s", lro_code_name(lro_status_code(st)), lro_status_message(st));
        }
        fprintf(stderr, "\n");
        exit(1);
    }
    lro_future_unref(f);
}

/* The credentials of `variant` (NULL: none); *tls tells its transport.
 * Exits on an unknown variant. */
static lro_credentials *make_creds(const char *variant, const char *sa_json, const char *ea_file,
                                   int *tls)
{
    *tls = strncmp(variant, "tls", 3) == 0;
    const char *kind = strchr(variant, '+');
    if (!*tls && strncmp(variant, "plaintext", 9) != 0) {
        kind = "?";
    }
    if (kind == NULL) {
        if (strcmp(variant, "tls") != 0 && strcmp(variant, "plaintext") != 0) {
            fprintf(stderr, "creds_bench: unknown variant '%s'\n", variant);
            exit(2);
        }
        return NULL;
    }
    lro_credentials *cr = NULL;
    int rc = LRO_ERR_INVALID_ARG;
    if (strcmp(kind, "+token") == 0) {
        rc = lro_credentials_create_access_token(g_static_token, 0, &cr);
    } else if (strcmp(kind, "+provider") == 0) {
        rc = lro_credentials_create_token_provider(provider, NULL, NULL, &cr);
    } else if (strcmp(kind, "+apikey") == 0) {
        rc = lro_credentials_create_api_key(API_KEY, &cr);
    } else if (strcmp(kind, "+jwt") == 0 && *tls) {
        if (sa_json == NULL) {
            fprintf(stderr, "creds_bench: %s needs --sa-json FILE\n", variant);
            exit(2);
        }
        rc = lro_credentials_create_service_account(sa_json, &cr);
    } else if (strcmp(kind, "+sts") == 0 && *tls) {
        if (ea_file == NULL) {
            fprintf(stderr, "creds_bench: %s needs --ea-file FILE\n", variant);
            exit(2);
        }
        rc = lro_credentials_create_from_file(ea_file, NULL, &cr);
    } else {
        fprintf(stderr, "creds_bench: unknown variant '%s'\n", variant);
        exit(2);
    }
    if (rc != LRO_OK) {
        fprintf(stderr, "creds_bench: %s: %s\n", variant, lro_last_error());
        exit(1);
    }
    if (!*tls) {
        lro_credentials_allow_plaintext(cr);
    }
    return cr;
}

static void run(const char *variant, const char *target, const char *ca, lro_credentials *cr,
                const char *name, long calls, long warmup)
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
    for (long i = 0; i < warmup; i++) { /* connect, handshake, first token, caches */
        get_once(c, variant, name);
    }
    /* Under --instr-atstart=no (creds_bench.sh) this starts counting here,
     * and callgrind attributes what other threads do from now on to the
     * functions they run (frames entered before would otherwise absorb it);
     * a no-op when counting is on already. */
    CALLGRIND_START_INSTRUMENTATION;
    CALLGRIND_ZERO_STATS;
    double t0 = now_s();
    for (long i = 0; i < calls; i++) {
        get_once(c, variant, name);
    }
    double t = now_s() - t0;
    CALLGRIND_DUMP_STATS_AT(variant);
    printf("{\"variant\":\"%s\",\"calls\":%ld,\"us_per_get\":%.1f}\n", variant, calls,
           t * 1e6 / (double)calls);
    fflush(stdout);
    lro_client_destroy(c);
}

/* ---- Whole-process mode ------------------------------------------------------- */

static char dir[512];

static char *slurp_dir(const char *name)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return slurp(p);
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

static char *sa_json(void)
{
    char *pem = slurp_dir("sa.key");
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

static int whole_process(long calls, long warmup)
{
    static const char *const variants[] = {"plaintext", "plaintext+token", "plaintext+provider",
                                           "tls",       "tls+token",       "tls+provider",
                                           "tls+jwt",   "tls+apikey"};
    make_pki();
    char *cert = slurp_dir("srv.pem"), *key = slurp_dir("srv.key"), *ca = slurp_dir("ca.pem");
    char *json = sa_json();
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
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        int is_tls;
        lro_credentials *cr = make_creds(variants[i], json, NULL, &is_tls);
        run(variants[i], lro_test_server_target(is_tls ? tls : plain), is_tls ? ca : NULL, cr,
            LOCAL_OP_NAME, calls, warmup);
    }
    lro_test_server_stop(plain);
    lro_test_server_stop(tls);
    free(json);
    free(cert);
    free(key);
    free(ca);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    return system(rm) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    long calls = bench_arg_long(argc, argv, "--calls", 2000);
    long warmup = bench_arg_long(argc, argv, "--warmup", 200);
    const char *target = bench_arg(argc, argv, "--target", NULL);
    long token_bytes = bench_arg_long(argc, argv, "--token-bytes", 0);
    if (token_bytes != 0) {
        pad_token(g_static_token, sizeof g_static_token, STATIC_TOKEN, token_bytes);
        pad_token(g_provider_token, sizeof g_provider_token, PROVIDER_TOKEN, token_bytes);
    }
    if (calls <= 0 || warmup < 1) {
        fprintf(stderr, "creds_bench: --calls must be > 0 and --warmup >= 1\n");
        return 2;
    }
    if (target == NULL) {
        return whole_process(calls, warmup);
    }
    const char *variant = bench_arg(argc, argv, "--variant", NULL);
    const char *ca_file = bench_arg(argc, argv, "--ca", NULL);
    const char *sa_file = bench_arg(argc, argv, "--sa-json", NULL);
    const char *ea_file = bench_arg(argc, argv, "--ea-file", NULL);
    const char *name = bench_arg(argc, argv, "--name", SERVE_OP_NAME);
    if (variant == NULL) {
        fprintf(stderr, "creds_bench: --target needs --variant V\n");
        return 2;
    }
    char *json = sa_file != NULL ? slurp(sa_file) : NULL;
    int is_tls;
    lro_credentials *cr = make_creds(variant, json, ea_file, &is_tls);
    char *ca = NULL;
    if (is_tls) {
        if (ca_file == NULL) {
            fprintf(stderr, "creds_bench: %s needs --ca PEM_FILE\n", variant);
            return 2;
        }
        ca = slurp(ca_file);
    }
    run(variant, target, ca, cr, name, calls, warmup);
    free(ca);
    free(json);
    return 0;
}
