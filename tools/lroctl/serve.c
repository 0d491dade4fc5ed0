/* lroctl serve: the embedded Operations server, standalone, so code in any
 * language can be tested against it: operations that progress and finish by
 * themselves, faults, latency and front-end limits from flags. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lro/testing.h"
#include "lroctl.h"

#define SERVE_PARENT "projects/demo/locations/global/operations"
#define MAX_FAULTS   64

/* The library's own bound (lro_test_server_seed). */
#define SEED_MAX 100000

static int parse_long(const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < lo || n > hi) {
        return -1;
    }
    *out = n;
    return 0;
}

/* "UNAVAILABLE", "unavailable" or "14" -> 14; -1 when it is none of 1..16. */
static int parse_code(const char *v, size_t len)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf) {
        return -1;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    long n;
    if (parse_long(buf, 1, 16, &n) == 0) {
        return (int)n;
    }
    for (int c = 1; c <= 16; c++) {
        if (strcasecmp(buf, lro_code_name(c)) == 0) {
            return c;
        }
    }
    return -1;
}

/* "get", "list", "wait", "cancel", "delete", "all", or a comma list of
 * them, up to `stop` -> a LRO_TEST_* mask; 0 on error. */
static unsigned parse_methods(const char *v, size_t len)
{
    static const struct {
        const char *name;
        unsigned bit;
    } k[] = {{"list", LRO_TEST_LIST},     {"get", LRO_TEST_GET},   {"delete", LRO_TEST_DELETE},
             {"cancel", LRO_TEST_CANCEL}, {"wait", LRO_TEST_WAIT}, {"all", LRO_TEST_ALL}};
    unsigned mask = 0;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && v[j] != ',') {
            j++;
        }
        unsigned bit = 0;
        for (size_t m = 0; m < sizeof k / sizeof k[0]; m++) {
            if (strlen(k[m].name) == j - i && strncasecmp(v + i, k[m].name, j - i) == 0) {
                bit = k[m].bit;
            }
        }
        if (bit == 0) {
            return 0;
        }
        mask |= bit;
        i = j + 1;
        if (j + 1 == len) {
            return 0; /* trailing comma */
        }
    }
    return mask;
}

typedef struct fault_spec {
    lro_test_fault f;
    char suffix[LRO_MAX_NAME_LEN + 1];
    char reason[64];
} fault_spec;

/* METHOD[:NAME_SUFFIX]=CODE[xK][@retry=DUR][@reason=NAME] */
static int parse_fault(const char *v, fault_spec *out)
{
    lro_test_fault f = LRO_TEST_FAULT_INIT;
    const char *eq = strchr(v, '=');
    if (eq == NULL) {
        return -1;
    }
    const char *colon = memchr(v, ':', (size_t)(eq - v));
    size_t mlen = (size_t)((colon != NULL ? colon : eq) - v);
    f.methods = parse_methods(v, mlen);
    if (f.methods == 0) {
        return -1;
    }
    out->suffix[0] = '\0';
    if (colon != NULL) {
        size_t sl = (size_t)(eq - colon - 1);
        if (sl == 0 || sl > LRO_MAX_NAME_LEN) {
            return -1;
        }
        memcpy(out->suffix, colon + 1, sl);
        out->suffix[sl] = '\0';
        f.name_suffix = out->suffix; /* fixed up by the caller after copying */
    }
    const char *rest = eq + 1;
    const char *at = strchr(rest, '@');
    const char *code_end = at != NULL ? at : rest + strlen(rest);
    /* xK: a last 'x' followed only by digits (code names such as
     * RESOURCE_EXHAUSTED contain an X too). */
    const char *x = NULL;
    for (const char *p = rest; p < code_end; p++) {
        if (*p == 'x' || *p == 'X') {
            x = p;
        }
    }
    for (const char *p = x != NULL ? x + 1 : code_end; p < code_end; p++) {
        if (*p < '0' || *p > '9') {
            x = NULL;
            break;
        }
    }
    if (x != NULL) {
        char kbuf[16];
        size_t kl = (size_t)(code_end - x - 1);
        long k;
        if (kl == 0 || kl >= sizeof kbuf) {
            return -1;
        }
        memcpy(kbuf, x + 1, kl);
        kbuf[kl] = '\0';
        if (parse_long(kbuf, 1, 1000000000L, &k) < 0) {
            return -1;
        }
        f.times = (int)k;
        code_end = x;
    } else {
        f.times = -1; /* forever */
    }
    f.code = parse_code(rest, (size_t)(code_end - rest));
    if (f.code < 0) {
        return -1;
    }
    /* Options: @retry=DUR (a RetryInfo), @reason=NAME (the ErrorInfo
     * reason, UPPER_SNAKE_CASE as Google's are). */
    out->reason[0] = '\0';
    while (at != NULL) {
        const char *next = strchr(at + 1, '@');
        size_t len = (size_t)((next != NULL ? next : at + strlen(at)) - at);
        char opt[64];
        if (len >= sizeof opt) {
            return -1;
        }
        memcpy(opt, at, len);
        opt[len] = '\0';
        int64_t ms;
        if (strncmp(opt, "@retry=", 7) == 0 && parse_duration_ms(opt + 7, &ms) == 0) {
            f.retry_delay_ms = ms;
        } else if (strncmp(opt, "@reason=", 8) == 0 && opt[8] != '\0' &&
                   strspn(opt + 8, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == len - 8) {
            memcpy(out->reason, opt + 8, len - 8 + 1);
            f.reason = out->reason; /* fixed up by the caller after copying */
        } else {
            return -1;
        }
        at = next;
    }
    f.message = "injected by lroctl serve --fault";
    out->f = f;
    return 0;
}

static int usage(const char *flag, const char *v, const char *want)
{
    die_msg("serve: %s '%s' %s (see lroctl serve --help)", flag, v, want);
    return EXIT_USAGE;
}

/* Credential checks from flags (the secrets themselves are never printed). */
#define MAX_AUTH 16
typedef struct serve_auth {
    const char *tokens[MAX_AUTH];
    int n_tokens;
    const char *keys[MAX_AUTH];
    int n_keys;
    char *jwt_pem;
    const char *jwt_aud;
} serve_auth;

static int read_pem_flag(const char *flag, const char *path, char **out, int *rc)
{
    *out = lroctl_read_file(path, 1 << 20);
    if (*out == NULL) {
        die_msg("serve: %s: cannot read '%s': %s", flag, path, strerror(errno));
        *rc = EXIT_USAGE;
    }
    return 1;
}

static int serve_auth_flag(serve_auth *au, lro_test_server_options *so, const char *a,
                           const char *v, int *rc)
{
    *rc = EXIT_OK;
    char *pem = NULL;
    if (strcmp(a, "--tls-cert") == 0 || strcmp(a, "--tls-key") == 0 ||
        strcmp(a, "--client-ca") == 0 || strcmp(a, "--jwt-public-key") == 0) {
        read_pem_flag(a, v, &pem, rc);
        if (pem == NULL) {
            return 1;
        }
        /* Lives until the process exits (serve runs until interrupted). */
        if (strcmp(a, "--tls-cert") == 0) {
            so->tls_cert_chain_pem = pem;
        } else if (strcmp(a, "--tls-key") == 0) {
            so->tls_private_key_pem = pem;
        } else if (strcmp(a, "--client-ca") == 0) {
            so->tls_client_ca_pem = pem;
        } else {
            au->jwt_pem = pem;
        }
        return 1;
    }
    if (strcmp(a, "--require-token") == 0 || strcmp(a, "--require-api-key") == 0) {
        int is_tok = a[10] == 't';
        int *n = is_tok ? &au->n_tokens : &au->n_keys;
        if (*n >= MAX_AUTH || v[0] == '\0') {
            die_msg("serve: %s: empty, or more than %d of them", a, MAX_AUTH);
            *rc = EXIT_USAGE;
            return 1;
        }
        (is_tok ? au->tokens : au->keys)[(*n)++] = v;
        return 1;
    }
    if (strcmp(a, "--jwt-audience") == 0) {
        au->jwt_aud = v;
        return 1;
    }
    return 0;
}

static int serve_auth_apply(serve_auth *au, lro_test_server *s)
{
    int rc = LRO_OK;
    for (int i = 0; i < au->n_tokens && rc == LRO_OK; i++) {
        rc = lro_test_server_require_token(s, au->tokens[i]);
    }
    for (int i = 0; i < au->n_keys && rc == LRO_OK; i++) {
        rc = lro_test_server_require_api_key(s, au->keys[i]);
    }
    if (rc == LRO_OK && au->jwt_pem != NULL) {
        rc = lro_test_server_require_jwt(s, au->jwt_pem, au->jwt_aud);
    }
    return rc;
}

int cmd_serve(int argc, char **argv)
{
    lro_test_server_options so = LRO_TEST_SERVER_OPTIONS_INIT;
    so.listen = "127.0.0.1:0";
    long seed = 20;
    lro_test_lifecycle lc = LRO_TEST_LIFECYCLE_INIT; /* 5 s, progress every 1 s */
    int64_t latency_ms = 0;
    unsigned unimplemented = 0;
    int grace_given = 0;
    static fault_spec faults[MAX_FAULTS];
    int nfaults = 0;
    int admin = 0;
    serve_auth auth;
    memset(&auth, 0, sizeof auth);
    int rc_auth = EXIT_OK;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--admin") == 0) {
            admin = 1;
            continue;
        }
        static const char *const with_value[] = {
            "--listen",         "--seed",         "--threads",        "--complete-after",
            "--progress-every", "--fail-every",   "--fault",          "--latency",
            "--unimplemented",  "--max-streams",  "--max-conn-age",   "--max-conn-age-grace",
            "--tls-cert",       "--tls-key",      "--client-ca",      "--require-token",
            "--jwt-public-key", "--jwt-audience", "--require-api-key"};
        size_t k = 0;
        while (k < sizeof with_value / sizeof with_value[0] && strcmp(a, with_value[k]) != 0) {
            k++;
        }
        if (k == sizeof with_value / sizeof with_value[0]) {
            die_msg("serve: unknown argument '%s' (see lroctl serve --help)", a);
            return EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            die_msg("serve: %s needs a value", a);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        long n;
        int64_t ms;
        if (serve_auth_flag(&auth, &so, a, v, &rc_auth)) {
            if (rc_auth != EXIT_OK) {
                return rc_auth;
            }
        } else if (strcmp(a, "--listen") == 0) {
            so.listen = v;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_long(v, 0, SEED_MAX, &seed) < 0) {
                return usage(a, v, "is out of range (0..100000)");
            }
        } else if (strcmp(a, "--threads") == 0) {
            if (parse_long(v, 1, 64, &n) < 0) {
                return usage(a, v, "is out of range (1..64)");
            }
            so.threads = (int)n;
        } else if (strcmp(a, "--fail-every") == 0) {
            if (parse_long(v, 0, 1000000, &n) < 0) {
                return usage(a, v, "is out of range (0..1000000)");
            }
            lc.fail_every = (int)n;
        } else if (strcmp(a, "--max-streams") == 0) {
            if (parse_long(v, 1, INT32_MAX, &n) < 0) {
                return usage(a, v, "is out of range (1..2147483647)");
            }
            so.max_concurrent_streams = (int)n;
        } else if (strcmp(a, "--fault") == 0) {
            if (nfaults == MAX_FAULTS) {
                die_msg("serve: at most %d --fault flags", MAX_FAULTS);
                return EXIT_USAGE;
            }
            if (parse_fault(v, &faults[nfaults]) < 0) {
                return usage(a, v,
                             "is not METHOD[:NAME_SUFFIX]=CODE[xK][@retry=DUR][@reason=NAME], e.g. "
                             "get=UNAVAILABLEx2@retry=200ms");
            }
            nfaults++;
        } else if (strcmp(a, "--unimplemented") == 0) {
            unimplemented = parse_methods(v, strlen(v));
            if (unimplemented == 0) {
                return usage(a, v, "is not a list of list,get,wait,cancel,delete");
            }
        } else { /* durations */
            if (parse_duration_ms(v, &ms) < 0) {
                return usage(a, v, "is not a duration (e.g. 500ms, 5s, 2m)");
            }
            if (strcmp(a, "--complete-after") == 0) {
                lc.complete_after_ms = ms;
            } else if (strcmp(a, "--progress-every") == 0) {
                lc.progress_every_ms = ms;
            } else if (strcmp(a, "--latency") == 0) {
                latency_ms = ms;
            } else if (ms <= 0 || ms > INT32_MAX) {
                return usage(a, v, "is out of range (1ms..24d)");
            } else if (strcmp(a, "--max-conn-age") == 0) {
                so.max_connection_age_ms = ms;
            } else {
                so.max_connection_age_grace_ms = ms;
                grace_given = 1;
            }
        }
    }
    if (grace_given && so.max_connection_age_ms == 0) {
        die_msg("serve: --max-conn-age-grace needs --max-conn-age");
        return EXIT_USAGE;
    }
    if (so.max_connection_age_ms > 0 && !grace_given) {
        /* Like a proxy's drain timeout: held calls are cut, not kept open
         * for their whole (30 s) hold. */
        so.max_connection_age_grace_ms = 1000;
    }
    /* Block the stop signals before any thread starts, then wait for one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    lro_test_server *s = NULL;
    int rc = lro_test_server_start(&so, &s);
    if (rc != LRO_OK) {
        die_msg("serve: cannot listen on '%s': %s", so.listen, lro_strerror(rc));
        return rc == LRO_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_LOCAL;
    }
    rc = serve_auth_apply(&auth, s);
    if (rc != LRO_OK) {
        die_msg("serve: --jwt-public-key: not a PEM RSA public key");
        lro_test_server_stop(s);
        return EXIT_USAGE;
    }
    /* Faults in the order that makes them compose: a method switched off
     * first, then the --fault rules, latency last (the first matching rule
     * with hits left decides, so latency delays what no rule took). */
    rc = LRO_OK;
    if (unimplemented != 0) {
        lro_test_fault f = LRO_TEST_FAULT_INIT;
        f.methods = unimplemented;
        f.times = -1;
        f.code = LRO_CODE_UNIMPLEMENTED;
        f.message = "method not implemented by this server (--unimplemented)";
        f.reason = "METHOD_NOT_IMPLEMENTED";
        rc = lro_test_server_add_fault(s, &f);
    }
    for (int i = 0; i < nfaults && rc == LRO_OK; i++) {
        if (faults[i].f.name_suffix != NULL) {
            faults[i].f.name_suffix = faults[i].suffix;
        }
        if (faults[i].f.reason != NULL) {
            faults[i].f.reason = faults[i].reason;
        }
        rc = lro_test_server_add_fault(s, &faults[i].f);
    }
    if (latency_ms > 0 && rc == LRO_OK) {
        lro_test_fault f = LRO_TEST_FAULT_INIT;
        f.kind = LRO_TEST_FAULT_LATENCY;
        f.times = -1;
        f.latency_ms = latency_ms;
        rc = lro_test_server_add_fault(s, &f);
    }
    if (rc == LRO_OK && lc.complete_after_ms > 0) {
        rc = lro_test_server_set_lifecycle(s, &lc);
    }
    if (rc == LRO_OK && seed > 0) {
        rc = lro_test_server_seed(s, SERVE_PARENT, (int)seed);
    }
    if (rc != LRO_OK) {
        die_msg("serve: cannot set the server up: %s", lro_strerror(rc));
        lro_test_server_stop(s);
        return EXIT_LOCAL;
    }
    if (admin) {
        lro_test_server_enable_admin(s, 1);
    }
    printf("%s\n", lro_test_server_target(s));
    fflush(stdout);
    fprintf(stderr,
            "lroctl: serving google.longrunning.Operations on %s with %ld operations under "
            "%s (Ctrl-C stops)\n",
            lro_test_server_target(s), seed, SERVE_PARENT);
    if (lc.complete_after_ms > 0) {
        char fails[48];
        if (lc.fail_every > 0) {
            snprintf(fails, sizeof fails, "1 in %d fails", lc.fail_every);
        } else {
            snprintf(fails, sizeof fails, "none fails");
        }
        fprintf(stderr,
                "lroctl: pending operations finish %.3gs after they appear (%s), progress "
                "every %.3gs\n",
                lc.complete_after_ms / 1000.0, fails, lc.progress_every_ms / 1000.0);
    }
    int sig = 0;
    sigwait(&set, &sig);
    lro_test_server_stop(s);
    return EXIT_OK;
}
