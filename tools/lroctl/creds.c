/* Credentials from flags (lro/credentials.h): --credentials-file, --adc,
 * --access-token-command, --cert-file/--key-file, --api-key (LRO_API_KEY),
 * --quota-project. Secrets are never printed: -v shows what kind of
 * credentials are used (lro_credentials_describe), never a value. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lroctl.h"

const char *g_creds_desc = NULL;

char *lroctl_read_file(const char *path, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n > max;
    fclose(f);
    if (bad) {
        free(buf);
        errno = n > max ? EFBIG : EIO;
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* ---- --access-token-command -------------------------------------------------- */

typedef struct cmd_job {
    lro_token_request *req;
    const char *cmd;
} cmd_job;

/* Command threads still running. Their answer ends with the token
 * request's grpc_shutdown(), possibly the process's last one: exiting
 * while it runs races grpc's teardown (LeakSanitizer saw a TLS object of
 * the closing connection). At exit, they are waited for (bounded). */
static atomic_int g_jobs;
static atomic_int g_wait_registered;

static void wait_jobs(void)
{
    for (int i = 0; i < 500 && atomic_load(&g_jobs) > 0; i++) {
        usleep(10000);
    }
}

static int64_t unix_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Runs the command on its own thread (a provider must not block): its
 * stdout is either the token (first line; cached 50 minutes) or a JSON
 * object with "access_token" and "expires_in" (seconds), as the metadata
 * server and `gcloud auth print-access-token --format=json` style tools
 * print it. */
static void *run_cmd(void *arg)
{
    cmd_job *j = arg;
    FILE *p = popen(j->cmd, "r");
    char out[16384];
    size_t n = 0;
    if (p != NULL) {
        n = fread(out, 1, sizeof out - 1, p);
    }
    out[n] = '\0';
    int st = p ? pclose(p) : -1;
    char why[200];
    if (p == NULL || st != 0) {
        snprintf(why, sizeof why, "--access-token-command exited with status %d",
                 st == -1        ? -1
                 : WIFEXITED(st) ? WEXITSTATUS(st)
                                 : 128 + WTERMSIG(st));
        lro_token_request_fail(j->req, why);
        free(j);
        atomic_fetch_sub(&g_jobs, 1);
        return NULL;
    }
    int64_t expiry = unix_ms() + 50 * 60 * 1000;
    char *tok = out;
    const char *at = strstr(out, "\"access_token\"");
    if (at != NULL) {
        const char *q = strchr(at + 14, '"');
        char *e = q ? strchr(q + 1, '"') : NULL;
        tok = q ? (char *)q + 1 : out;
        if (e != NULL) {
            *e = '\0';
        }
        const char *ex = strstr(e ? e + 1 : out, "\"expires_in\"");
        if (ex == NULL) {
            ex = strstr(out, "\"expires_in\"");
        }
        if (ex != NULL && (ex = strchr(ex, ':')) != NULL) {
            long long s = strtoll(ex + 1, NULL, 10);
            if (s > 0) {
                expiry = unix_ms() + s * 1000;
            }
        }
    } else {
        tok[strcspn(tok, "\r\n")] = '\0';
    }
    if (lro_token_request_answer(j->req, tok, expiry) != LRO_OK) {
        fprintf(stderr, "lroctl: --access-token-command printed no usable token: %s\n",
                lro_last_error());
    }
    memset(out, 0, sizeof out);
    free(j);
    atomic_fetch_sub(&g_jobs, 1);
    return NULL;
}

static void cmd_provider(lro_token_request *req, const char *audience, void *ud)
{
    (void)audience;
    cmd_job *j = malloc(sizeof *j);
    pthread_t th;
    if (j == NULL) {
        lro_token_request_fail(req, "out of memory");
        return;
    }
    j->req = req;
    j->cmd = ud;
    if (!atomic_exchange(&g_wait_registered, 1)) {
        atexit(wait_jobs);
    }
    atomic_fetch_add(&g_jobs, 1);
    if (pthread_create(&th, NULL, run_cmd, j) != 0) {
        atomic_fetch_sub(&g_jobs, 1);
        free(j);
        lro_token_request_fail(req, "cannot start a thread for --access-token-command");
        return;
    }
    pthread_detach(th);
}

/* ---- Building ------------------------------------------------------------------ */

static int bad(lro_credentials *c, const char *flag, int rc)
{
    die_msg("%s: %s", flag, lroctl_why(rc));
    lro_credentials_unref(c);
    return rc == LRO_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_LOCAL;
}

int lroctl_credentials(const conn_opts *co, lro_credentials **out)
{
    *out = NULL;
    const char *api_key = co->api_key;
    if (api_key == NULL && getenv("LRO_API_KEY") != NULL && getenv("LRO_API_KEY")[0]) {
        api_key = getenv("LRO_API_KEY");
    }
    int sources = (co->credentials_file != NULL) + co->adc + (co->access_token_command != NULL);
    if (sources > 1) {
        die_msg("--credentials-file, --adc and --access-token-command exclude each other");
        return EXIT_USAGE;
    }
    if ((co->cert_file == NULL) != (co->key_file == NULL)) {
        die_msg("--cert-file and --key-file go together");
        return EXIT_USAGE;
    }
    if (sources == 0 && api_key == NULL && co->quota_project == NULL && co->cert_file == NULL) {
        return EXIT_OK;
    }
    lro_credentials *c = NULL;
    int rc;
    const char *flag = "credentials";
    if (co->credentials_file != NULL) {
        flag = "--credentials-file";
        rc = lro_credentials_create_from_file(co->credentials_file, NULL, &c);
    } else if (co->adc) {
        flag = "--adc";
        rc = lro_credentials_create_adc(NULL, &c);
    } else if (co->access_token_command != NULL) {
        flag = "--access-token-command";
        rc = lro_credentials_create_token_provider(cmd_provider, (void *)co->access_token_command,
                                                   NULL, &c);
    } else {
        rc = lro_credentials_create(&c);
    }
    if (rc != LRO_OK) {
        return bad(NULL, flag, rc);
    }
    if (api_key != NULL && (rc = lro_credentials_set_api_key(c, api_key)) != LRO_OK) {
        return bad(c, co->api_key ? "--api-key" : "LRO_API_KEY", rc);
    }
    if (co->quota_project != NULL &&
        (rc = lro_credentials_set_quota_project(c, co->quota_project)) != LRO_OK) {
        return bad(c, "--quota-project", rc);
    }
    if (co->cert_file != NULL) {
        /* Watched: a long `wait` picks up rotated certificates. */
        rc = lro_credentials_set_client_cert_files(c, co->cert_file, co->key_file, co->ca_file, 0);
        if (rc != LRO_OK) {
            return bad(c, "--cert-file/--key-file", rc);
        }
    }
    if (co->plaintext && co->allow_insecure_token) {
        lro_credentials_allow_plaintext(c);
    }
    /* A copy: the object goes when the client has been created. */
    static char desc[200];
    snprintf(desc, sizeof desc, "%s", lro_credentials_describe(c));
    g_creds_desc = desc;
    *out = c;
    return EXIT_OK;
}
