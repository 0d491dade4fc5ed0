/* -v/--verbose: what lroctl sends, attempt by attempt, on stderr.
 *
 * lro-c has no event hook (yet) that reports each attempt or the response
 * headers, so this is what lroctl can tell from its side: the request
 * headers it configured (secrets redacted), and for get/cancel/delete the
 * attempts themselves, which lroctl then makes one by one with the
 * library's default retry policy (the same codes, backoff and RetryInfo
 * rule) so each one can be reported. list and wait report each page or
 * await with the attempt/poll count lro-c kept. */
#include <ctype.h>
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
    fprintf(stderr, "lroctl: < response headers: not reported (lro-c exposes none yet)\n");
}
