/* -v/--verbose: what lroctl sends, attempt by attempt, on stderr.
 *
 * The request headers lroctl configured (secrets redacted), then lro-c's own
 * events (lro/events.h, the hook connect_client installs with -v): one line
 * per attempt (method, name, attempt, status, duration, and the retry delay
 * and why, or why not), one per await poll, and channel state changes. The
 * calls run with lro-c's real retry policy: what is printed is what lro-c
 * did, not a re-enactment. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lroctl.h"

int g_token_set = 0;

/* Header keys whose values are credentials: never printed. */
static int secret_key(const char *key)
{
    static const char *const words[] = {"auth",   "token", "secret",     "password",
                                        "cookie", "key",   "credential", "session"};
    char low[128];
    size_t n = 0;
    for (; key[n] != '\0' && n + 1 < sizeof low; n++) {
        low[n] = (char)tolower((unsigned char)key[n]);
    }
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strstr(low, words[i]) != NULL) {
            return 1;
        }
    }
    return 0;
}

/* As lro-c escapes the routing header: unreserved characters kept. */
static void url_escape(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || *p == '/') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

void verbose_request_headers(const conn_opts *co, const char *method, const char *name)
{
    if (!g_verbose) {
        return;
    }
    char esc[LRO_MAX_NAME_LEN * 3 + 8];
    url_escape(name, esc, sizeof esc);
    fprintf(stderr, "lroctl: > %s /google.longrunning.Operations/%s\n", co->target, method);
    fprintf(stderr, "lroctl: > x-goog-request-params: name=%s\n", esc);
    fprintf(stderr, "lroctl: > user-agent: lroctl lro-c/%s (grpc appends its own)\n",
            lro_version_string());
    if (g_token_set) {
        fprintf(stderr, "lroctl: > authorization: Bearer <redacted>\n");
    }
    if (g_creds_desc != NULL) {
        fprintf(stderr, "lroctl: > credentials: %s (values redacted)\n", g_creds_desc);
    }
    for (size_t i = 0; i < co->header_count; i++) {
        if (secret_key(co->headers[i].key)) {
            fprintf(stderr, "lroctl: > %s: <redacted, %zu bytes>\n", co->headers[i].key,
                    strlen(co->headers[i].value));
        } else {
            fprintf(stderr, "lroctl: > %s: %s\n", co->headers[i].key, co->headers[i].value);
        }
    }
}

/* ---- Events ------------------------------------------------------------------ */

/* An attempt's line waits for the call's next event, which says whether and
 * why it is retried; calls of one client may interleave (awaits), so the
 * pending lines are kept per call. The hook may run on two threads. */
#define PENDING 64
static pthread_mutex_t g_ev_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t call_id;
    char line[LRO_MAX_NAME_LEN + 200];
} g_pending[PENDING];

static void flush_line(int i, const char *tail)
{
    fprintf(stderr, "%s%s\n", g_pending[i].line, tail);
    g_pending[i].call_id = 0;
}

static int pending_of(uint64_t id)
{
    for (int i = 0; i < PENDING; i++) {
        if (g_pending[i].call_id == id) {
            return i;
        }
    }
    return -1;
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

void verbose_event(const lro_event *ev, void *data)
{
    (void)data;
    pthread_mutex_lock(&g_ev_mu);
    int i = ev->kind == LRO_EVENT_CHANNEL_STATE ? -1 : pending_of(ev->call_id);
    char tail[200] = "";
    switch (ev->kind) {
    case LRO_EVENT_ATTEMPT_FINISHED:
        if (i >= 0) {
            flush_line(i, "");
        }
        i = pending_of(0);
        if (i < 0) {
            fprintf(stderr, "lroctl: [attempt %d] %s %s: %s (%.1f ms)\n", ev->attempt, ev->method,
                    ev->name, lro_code_name(ev->code), ms(ev->duration_ns));
            break;
        }
        g_pending[i].call_id = ev->call_id;
        snprintf(g_pending[i].line, sizeof g_pending[i].line,
                 "lroctl: [attempt %d] %s %s: %s (%.1f ms)", ev->attempt, ev->method, ev->name,
                 lro_code_name(ev->code), ms(ev->duration_ns));
        break;
    case LRO_EVENT_RETRY_SCHEDULED:
        snprintf(tail, sizeof tail, "; retry in %.0f ms (%s)", ms(ev->delay_ns),
                 ev->reason == LRO_RETRY_SERVER_DELAY ? "the server's RetryInfo"
                 : ev->reason == LRO_RETRY_CONNECTION_CUT
                     ? "connection cut after a long wait: re-sent at once, not counted"
                     : "backoff: the code is retryable");
        if (i >= 0) {
            flush_line(i, tail);
        }
        break;
    case LRO_EVENT_CALL_FINISHED: {
        if (i < 0) {
            break;
        }
        if (ev->code > 0) {
            const lro_retry_policy def = LRO_RETRY_POLICY_INIT;
            if (ev->result != LRO_ERR_RPC) {
                snprintf(tail, sizeof tail, "; ended: %s", lro_err_name(ev->result));
            } else if (ev->code >= 32 || !(def.retry_codes & (1u << ev->code))) {
                snprintf(tail, sizeof tail, "; not retried (%s is not a retryable code)",
                         lro_code_name(ev->code));
            } else {
                snprintf(tail, sizeof tail,
                         "; not retried (%d attempts made, or the time "
                         "budget spent)",
                         ev->attempts);
            }
        }
        flush_line(i, tail);
        break;
    }
    case LRO_EVENT_AWAIT_POLL: {
        int f = ev->flags;
        fprintf(stderr, "lroctl: [await] %s: poll %d via %s: %s (%.1f ms)%s%s%s%s%s\n", ev->name,
                ev->attempt, ev->method, lro_code_name(ev->code), ms(ev->duration_ns),
                f & LRO_POLL_DONE     ? ", done"
                : f & LRO_POLL_FAILED ? ""
                                      : ", still running",
                f & LRO_POLL_PROGRESS ? ", progress changed" : "",
                f & LRO_POLL_FALLBACK ? ", server has no WaitOperation: polling with Get" : "",
                f & LRO_POLL_THROTTLED_BUDGET ? ", held back by the poll budget" : "",
                f & LRO_POLL_THROTTLED_CAP ? ", waited for an await RPC slot" : "");
        break;
    }
    case LRO_EVENT_CHANNEL_STATE:
        fprintf(stderr, "lroctl: [channel %d] %s\n", ev->channel_index,
                lro_channel_state_name(ev->channel_state));
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&g_ev_mu);
}
