/* Connection set-up from flags: TLS unless --plaintext, tokens only where
 * they cannot leak, everything validated with one clear message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lroctl.h"

/* Reads a whole (small) file; NULL on error with errno saying why (EFBIG
 * for a file over max bytes). */
static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(max + 1);
    int err = buf ? 0 : ENOMEM;
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    if (err == 0 && ferror(f)) {
        err = errno ? errno : EIO;
    } else if (err == 0 && n > max) {
        err = EFBIG;
    }
    fclose(f);
    if (err != 0) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static int fail_usage(lro_client_options *o, const char *msg)
{
    die_msg("%s", msg);
    lro_client_options_destroy(o);
    return EXIT_USAGE;
}

int connect_client(const conn_opts *co, lro_client **out)
{
    if (co->target == NULL) {
        die_msg("no server given: use --target HOST:PORT or set LRO_TARGET");
        return EXIT_USAGE;
    }
    lro_client_options *o = NULL;
    if (lro_client_options_create(&o) != LRO_OK) {
        die_msg("out of memory");
        return EXIT_LOCAL;
    }
    int trc = lro_client_options_set_target(o, co->target);
    if (trc != LRO_OK) {
        char why[300];
        snprintf(why, sizeof why, "--target: not a valid gRPC target: %s", lroctl_why(trc));
        return fail_usage(o, why);
    }
    if (co->plaintext) {
        if (co->ca_file != NULL) {
            return fail_usage(o, "--ca-file and --plaintext contradict each other");
        }
        lro_client_options_set_plaintext(o);
    } else {
        char *pem = NULL;
        if (co->ca_file != NULL) {
            pem = slurp(co->ca_file, 1 << 20);
            if (pem == NULL) {
                die_msg("--ca-file: cannot read CA file '%s': %s", co->ca_file, strerror(errno));
                lro_client_options_destroy(o);
                return EXIT_LOCAL;
            }
        }
        int rc = lro_client_options_set_tls(o, pem);
        free(pem);
        if (rc != LRO_OK) {
            return fail_usage(o, "--ca-file: the file is not a PEM certificate");
        }
        if (co->tls_server_name != NULL &&
            lro_client_options_set_tls_server_name(o, co->tls_server_name) != LRO_OK) {
            return fail_usage(o, "--tls-server-name: invalid name");
        }
    }
    /* Bearer token: file first, then the environment. */
    char *token = NULL;
    if (co->token_file != NULL) {
        token = slurp(co->token_file, 64 * 1024);
        if (token == NULL) {
            die_msg("--token-file: cannot read '%s': %s", co->token_file, strerror(errno));
            lro_client_options_destroy(o);
            return EXIT_LOCAL;
        }
    } else if (getenv("LRO_TOKEN") != NULL && getenv("LRO_TOKEN")[0] != '\0') {
        token = strdup(getenv("LRO_TOKEN"));
    }
    if (token != NULL) {
        size_t n = strlen(token);
        while (n > 0 && (token[n - 1] == '\n' || token[n - 1] == '\r' || token[n - 1] == ' ')) {
            token[--n] = '\0';
        }
        if (co->plaintext && !co->allow_insecure_token) {
            memset(token, 0, n);
            free(token);
            return fail_usage(o, "refusing to send a bearer token over --plaintext "
                                 "(add --allow-insecure-token if you really mean it)");
        }
        int rc = lro_client_options_set_bearer_token(o, token, co->allow_insecure_token);
        memset(token, 0, n);
        free(token);
        g_token_set = rc == LRO_OK; /* -v says "redacted"; the value is gone */
        if (rc != LRO_OK) {
            /* lro_last_error() never echoes the token itself. */
            char why[300];
            snprintf(why, sizeof why, "bearer token refused: %s", lroctl_why(rc));
            return fail_usage(o, why);
        }
    }
    for (size_t i = 0; i < co->header_count; i++) {
        int hrc = lro_client_options_add_header(o, co->headers[i].key, co->headers[i].value);
        if (hrc != LRO_OK) {
            char why[300];
            snprintf(why, sizeof why, "--header: %s", lroctl_why(hrc));
            return fail_usage(o, why);
        }
    }
    lro_credentials *cr = NULL;
    int crc = lroctl_credentials(co, &cr);
    if (crc != EXIT_OK) {
        lro_client_options_destroy(o);
        return crc;
    }
    if (cr != NULL && co->plaintext && !co->allow_insecure_token &&
        strcmp(lro_credentials_describe(cr), "none") != 0) {
        lro_credentials_unref(cr);
        return fail_usage(o, "refusing to send credentials over --plaintext "
                             "(add --allow-insecure-token if you really mean it)");
    }
    if (cr != NULL) {
        if (co->cert_file != NULL && co->ca_file != NULL) {
            /* the roots travel with the watched certificate files */
            lro_client_options_set_tls(o, NULL);
        }
        lro_client_options_set_credentials(o, cr);
        lro_credentials_unref(cr);
    }
    if (co->timeout_ms > 0) {
        lro_client_options_set_default_timeout_ms(o, co->timeout_ms);
    }
    if (co->max_message > 0) {
        lro_client_options_set_max_receive_size(o, co->max_message);
    }
    lro_client_options_set_user_agent(o, "lroctl");
    if (g_verbose) {
        lro_client_options_set_event_hook(o, verbose_event, NULL);
    }
    int rc = lro_client_create(o, out);
    lro_client_options_destroy(o);
    if (rc != LRO_OK) {
        die_msg("cannot create the client: %s", lroctl_why(rc));
        return rc == LRO_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_LOCAL;
    }
    return EXIT_OK;
}
