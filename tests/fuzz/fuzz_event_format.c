/* libFuzzer: event formatting and log redaction (lro/events.h). Invariants
 * checked (not just "no crash"):
 *  - lro_event_format returns the full length, writes a NUL-terminated
 *    prefix of the full line for any cap, and only printable ASCII;
 *  - a credential planted anywhere in an event's strings, behind a key that
 *    names it ("authorization: Bearer ...", "x-api-key=..."), never appears
 *    in the formatted line;
 *  - lro_redact never grows a text and removes a planted credential from
 *    any surrounding bytes. */

#include <stdlib.h>
#include <string.h>

#include "lro/events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "ZQ9SECRET9QZ"

static const char *const k_plants[] = {
    " authorization: Bearer " SECRET " ",
    " x-api-key=" SECRET " ",
    " cookie: " SECRET "; ",
    " Bearer " SECRET " ",
    " \"token\":\"" SECRET "\" ",
    " -----BEGIN PRIVATE KEY-----\n" SECRET "\n-----END PRIVATE KEY----- ",
};

/* Splits the input into NUL-separated strings (at most n). */
static size_t split(const char *s, size_t len, char **out, size_t n)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len && k < n; i++) {
        if (i == len || s[i] == '\0') {
            out[k] = malloc(i - start + 1);
            memcpy(out[k], s + start, i - start);
            out[k][i - start] = '\0';
            k++;
            start = i + 1;
        }
    }
    return k;
}

static char *plant(const char *a, const char *p)
{
    size_t la = strlen(a), lp = strlen(p);
    char *s = malloc(2 * la + lp + 1);
    memcpy(s, a, la);
    memcpy(s + la, p, lp);
    memcpy(s + la + lp, a, la);
    s[2 * la + lp] = '\0';
    return s;
}

static void check_line(const lro_event *ev, int want_no_secret)
{
    char big[1 << 16];
    int n = lro_event_format(ev, big, sizeof big);
    if (n < 0 || (size_t)n >= sizeof big || strlen(big) != (size_t)n) {
        __builtin_trap();
    }
    for (int i = 0; i < n; i++) {
        if (big[i] < 0x20 || big[i] > 0x7e) {
            __builtin_trap();
        }
    }
    if (want_no_secret && strstr(big, SECRET) != NULL) {
        __builtin_trap();
    }
    /* Any cap: the same line, cut. */
    size_t caps[] = {0, 1, 2, 7, 64, (size_t)n, (size_t)n + 1};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        char *b = malloc(caps[c] + 1);
        memset(b, 'X', caps[c] + 1);
        int m = lro_event_format(ev, caps[c] ? b : NULL, caps[c]);
        if (m != n) {
            __builtin_trap();
        }
        if (caps[c] > 0) {
            size_t k = strlen(b);
            if (k >= caps[c] || k != ((size_t)n < caps[c] - 1 ? (size_t)n : caps[c] - 1) ||
                memcmp(b, big, k) != 0) {
                __builtin_trap();
            }
        }
        if (b[caps[c]] != 'X') {
            __builtin_trap(); /* wrote past cap */
        }
        free(b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 12) {
        return 0;
    }
    lro_event ev;
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    ev.kind = (int32_t)(data[0] % 9);
    ev.code = (int32_t)(int8_t)data[1];
    ev.result = -(int32_t)(data[2] % 20);
    ev.reason = data[3] % 5;
    ev.flags = data[4];
    ev.attempt = (int8_t)data[5];
    ev.channel_state = (int8_t)data[6];
    memcpy(&ev.duration_ns, data + 4, 8);
    ev.delay_ns = (int64_t) ~(uint64_t)ev.duration_ns; /* negative when that is positive */
    ev.throttle_ns = ev.duration_ns >> 3;
    ev.call_id = data[7];
    ev.parent_id = data[8];
    int where = data[9] % 6; /* which string gets a planted secret; 5: none */
    const char *p = k_plants[data[10] % (sizeof k_plants / sizeof k_plants[0])];
    char *parts[5] = {0};
    size_t n = split((const char *)data + 12, size - 12, parts, 5);
    const char **fields[5] = {&ev.method, &ev.name, &ev.trace_id, &ev.span_id, &ev.parent_span_id};
    char *planted = NULL;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == where) {
            planted = plant(parts[i], p);
            *fields[i] = planted;
        } else if (data[11] & (1u << i)) {
            *fields[i] = parts[i]; /* else NULL */
        }
    }
    /* A credential is only recognised behind its key: the input may carry
     * the marker bare (libFuzzer finds it in the comparisons), then there
     * is nothing to assert about it. */
    int bare = memmem(data, size, SECRET, strlen(SECRET)) != NULL;
    check_line(&ev, where < (int)n && !bare);

    /* lro_redact on the raw bytes around a planted credential. */
    char *raw = malloc(size + 1);
    memcpy(raw, data, size);
    raw[size] = '\0';
    char *t = plant(raw, p);
    size_t before = strlen(t);
    size_t after = lro_redact(t);
    if (after > before || after != strlen(t) || (!bare && strstr(t, SECRET) != NULL)) {
        __builtin_trap();
    }
    free(t);
    free(raw);
    free(planted);
    for (size_t i = 0; i < n; i++) {
        free(parts[i]);
    }
    return 0;
}
