/* The process-wide logger (lro/events.h): LRO_LOG's stderr logger or the
 * application's hook, optional routing of grpc's log lines, and the
 * redaction every line goes through before any logger sees it. */
#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/support/log.h>

#include "events_int.h"

/* The logger. `level` is read on every log point (one atomic load); the
 * hook and its data change only in lro_log_set_hook (documented as "set it
 * before creating clients"). */
atomic_int lro_log_level_now = -1; /* -1: LRO_LOG not read yet */

static _Atomic(lro_log_hook) g_hook;
static void *_Atomic g_hook_data;
static pthread_once_t g_env_once = PTHREAD_ONCE_INIT;

static void read_env(void)
{
    const char *v = getenv("LRO_LOG");
    int lvl = LRO_LOG_OFF;
    if (v != NULL) {
        if (strcmp(v, "error") == 0) {
            lvl = LRO_LOG_ERROR;
        } else if (strcmp(v, "warn") == 0) {
            lvl = LRO_LOG_WARN;
        } else if (strcmp(v, "info") == 0) {
            lvl = LRO_LOG_INFO;
        } else if (strcmp(v, "debug") == 0) {
            lvl = LRO_LOG_DEBUG;
        }
    }
    int expected = -1;
    atomic_compare_exchange_strong(&lro_log_level_now, &expected, lvl); /* a set_hook wins */
}

static int level_now(void)
{
    int l = atomic_load_explicit(&lro_log_level_now, memory_order_relaxed);
    if (l < 0) {
        pthread_once(&g_env_once, read_env);
        l = atomic_load(&lro_log_level_now);
    }
    return l;
}

int lro_log_enabled(int level)
{
    return level <= level_now();
}

const char *lro_log_level_name(lro_log_level level)
{
    static const char *const names[] = {"off", "error", "warn", "info", "debug"};
    return level >= 0 && level <= 4 ? names[level] : "unknown";
}

int lro_log_set_hook(lro_log_hook hook, void *data, lro_log_level max_level)
{
    lro_error_clear();
    if (max_level < LRO_LOG_OFF || max_level > LRO_LOG_DEBUG) {
        return lro_fail(LRO_ERR_INVALID_ARG, "log level %d is not 0..4", (int)max_level);
    }
    pthread_once(&g_env_once, read_env); /* so LRO_LOG cannot override this later */
    atomic_store(&g_hook_data, data);
    atomic_store(&g_hook, hook);
    atomic_store(&lro_log_level_now, (int)max_level);
    return LRO_OK;
}

/* Hands a redacted line to the hook or stderr. */
static void dispatch(int level, const char *source, char *line)
{
    lro_redact(line);
    lro_log_hook h = atomic_load(&g_hook);
    if (h != NULL) {
        h(level, source, line, atomic_load(&g_hook_data));
        return;
    }
    /* One fprintf: lines of concurrent threads do not interleave. */
    fprintf(stderr, "%s: %s: %s\n", source, lro_log_level_name(level), line);
}

void lro_log(int level, const char *fmt, ...)
{
    if (!lro_log_enabled(level)) {
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    dispatch(level, "lro", line);
}

/* ---- grpc's lines --------------------------------------------------------- */

static void grpc_log_fn(gpr_log_func_args *args)
{
    int level = args->severity == GPR_LOG_SEVERITY_ERROR  ? LRO_LOG_ERROR
                : args->severity == GPR_LOG_SEVERITY_INFO ? LRO_LOG_INFO
                                                          : LRO_LOG_DEBUG;
    if (!lro_log_enabled(level)) {
        return;
    }
    const char *file = args->file ? strrchr(args->file, '/') : NULL;
    file = file ? file + 1 : args->file ? args->file : "?";
    char line[4096]; /* grpc's metadata dumps are long */
    snprintf(line, sizeof line, "%s:%d: %s", file, args->line, args->message ? args->message : "");
    /* Multi-line messages (metadata dumps) become one line. */
    for (char *p = line; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            *p = ' ';
        }
    }
    dispatch(level, "grpc", line);
}

int lro_log_route_grpc(int enable)
{
    lro_error_clear();
    /* NULL restores grpc's default logger (gpr_default_log, not in the C headers). */
    gpr_set_log_function(enable ? grpc_log_fn : NULL);
    return LRO_OK;
}

/* ---- Redaction ------------------------------------------------------------ */

/* Key words that mark the value after them as a credential (lowercase). */
static const char *const k_secret_words[] = {
    "authorization", "token",  "secret",     "password", "passwd",  "api-key",    "api_key",
    "apikey",        "cookie", "credential", "session",  "private", "x-goog-iam", "signature",
};
/* Schemes whose next word is a credential even with no key before them. */
static const char *const k_schemes[] = {"bearer", "basic"};

static int word_at(const char *s, const char *w)
{
    for (; *w; s++, w++) {
        if (tolower((unsigned char)*s) != *w) {
            return 0;
        }
    }
    return 1;
}

static int secret_word_at(const char *s)
{
    for (size_t k = 0; k < sizeof k_secret_words / sizeof k_secret_words[0]; k++) {
        if (word_at(s, k_secret_words[k])) {
            return 1;
        }
    }
    return 0;
}

static int key_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '-' || ch == '_' || ch == '.';
}

static int value_end(char ch)
{
    return ch == '\0' || isspace((unsigned char)ch) || ch == '"' || ch == '\'' || ch == ',' ||
           ch == ';' || ch == '&' || ch == '}' || ch == ')' || ch == ']' || ch == '>' || ch == '\\';
}

/* Between a key and its value: quotes (also escaped ones, \" in a JSON or
 * logfmt string) and blanks. */
static int quote_or_space(char ch)
{
    return ch == '"' || ch == '\'' || ch == '\\' || ch == ' ' || ch == '\t';
}

/* A key that names a credential starts at s[k]: a secret word, the rest of
 * the key, quotes or blanks, then ':' or '='. */
static int key_at(const char *s, size_t k)
{
    if (!secret_word_at(s + k)) {
        return 0;
    }
    while (key_char(s[k])) {
        k++;
    }
    while (quote_or_space(s[k])) {
        k++;
    }
    return s[k] == ':' || s[k] == '=';
}

/* "-----BEGIN <LABEL>-----" (label: capitals, digits, blanks) at s: the
 * offset of the body after it, or 0. */
static size_t pem_body(const char *s)
{
    if (strncmp(s, "-----BEGIN ", 11) != 0) {
        return 0;
    }
    size_t k = 11;
    while ((s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9') || s[k] == ' ') {
        k++;
    }
    return strncmp(s + k, "-----", 5) == 0 ? k + 5 : 0;
}

/* A PEM block starts here: redacted as a whole by its own rule, not as
 * one word of a key's value. */
static int pem_at(const char *s)
{
    return pem_body(s) != 0;
}

/* Replaces s[from, to) (a credential of to-from bytes) in place; returns
 * the index after the replacement. Never grows the text: a short value
 * becomes as many '*'. */
static size_t replace(char *s, size_t len, size_t from, size_t to)
{
    static const char mark[] = "<redacted>";
    size_t n = to - from;
    size_t m = n >= sizeof mark - 1 ? sizeof mark - 1 : n;
    if (n >= sizeof mark - 1) {
        memcpy(s + from, mark, m);
    } else {
        memset(s + from, '*', m);
    }
    memmove(s + from + m, s + to, len - to + 1); /* with the NUL */
    return from + m;
}

/* After scheme words ("Bearer", "Bearer Basic "...), the credential that
 * follows; i itself when there is none. */
static size_t skip_scheme(const char *s, size_t i)
{
    for (int again = 1; again;) {
        again = 0;
        for (size_t k = 0; k < sizeof k_schemes / sizeof k_schemes[0]; k++) {
            size_t wl = strlen(k_schemes[k]);
            if (word_at(s + i, k_schemes[k]) && (s[i + wl] == ' ' || s[i + wl] == '\t')) {
                i += wl;
                while (s[i] == ' ' || s[i] == '\t') {
                    i++;
                }
                again = 1;
                break;
            }
        }
    }
    return i;
}

size_t lro_redact(char *s)
{
    if (s == NULL) {
        return 0;
    }
    size_t len = strlen(s);
    size_t i = 0;
    while (i < len) {
        /* A PEM block (a private key's contents, if one ever reaches a log
         * line): its body goes, the BEGIN/END lines stay. Unterminated (a
         * cut line): to the end. */
        size_t body = pem_body(s + i);
        if (body != 0) {
            size_t from = i + body;
            const char *end = strstr(s + from, "-----END");
            size_t to = end != NULL ? (size_t)(end - s) : len;
            if (to > from) {
                size_t after = replace(s, len, from, to);
                len -= to - after;
                i = after;
                continue;
            }
        }
        /* A scheme word on its own ("... Bearer abc"). */
        size_t j = skip_scheme(s, i);
        if (j != i && (key_at(s, j) || pem_at(s + j))) {
            i = j; /* "Bearer cookie: X": the credential is that key's value */
            continue;
        }
        if (j != i && (i == 0 || !key_char(s[i - 1]))) {
            size_t e = j;
            while (!value_end(s[e])) {
                e++;
            }
            if (e > j) {
                size_t after = replace(s, len, j, e);
                len -= e - after;
                i = after;
                continue;
            }
        }
        if (!secret_word_at(s + i)) {
            i++;
            continue;
        }
        /* The rest of the key ("x-api-key-bin", "page_token"), closing
         * quotes, spaces, then ':' or '=' make what follows a value. */
        size_t k = i;
        while (key_char(s[k])) {
            k++;
        }
        while (quote_or_space(s[k])) {
            k++;
        }
        if (s[k] != ':' && s[k] != '=') {
            i = k > i ? k : i + 1;
            continue;
        }
        k++;
        while (quote_or_space(s[k])) {
            k++;
        }
        k = skip_scheme(s, k);
        size_t e = k;
        while (!value_end(s[e])) {
            e++;
        }
        if (e > k && (key_at(s, k) || pem_at(s + k))) {
            /* "token: cookie: X": what follows is another key, whose own
             * value is the credential; redacting the key would hide it. */
            i = k;
            continue;
        }
        if (e > k) {
            size_t after = replace(s, len, k, e);
            len -= e - after;
            i = after;
        } else {
            i = k > i ? k : i + 1;
        }
    }
    return len;
}
