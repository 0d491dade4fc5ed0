/* Client-side checks of everything that ends up in a request header or a
 * name field. Rejecting bad input here gives the user a precise error
 * instead of an opaque RPC failure (or, for CR/LF in headers, a header
 * injection). */
#include <string.h>

#include "lro_int.h"

/* Length of the valid UTF-8 sequence at s (of at most n bytes), 0 if the
 * sequence is invalid: truncated, overlong, a surrogate, or above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    if (cp >= 0xd800 && cp <= 0xdfff) {
        return 0;
    }
    return len;
}

/* The name rules for any text; `what` names it in the error text. */
static int check_text_n(const char *name, size_t len, const char *what)
{
    if (name == NULL) {
        return lro_fail(LRO_ERR_BAD_NAME, "%s is NULL", what);
    }
    if (len == 0) {
        return lro_fail(LRO_ERR_BAD_NAME, "%s is empty", what);
    }
    if (len > LRO_MAX_NAME_LEN) {
        return lro_fail(LRO_ERR_BAD_NAME, "%s is longer than %d bytes", what, LRO_MAX_NAME_LEN);
    }
    const unsigned char *s = (const unsigned char *)name;
    size_t i = 0;
    /* Fast path: printable ASCII, what nearly every name is made of. */
    while (i < len && s[i] >= 0x20 && s[i] < 0x7f) {
        i++;
    }
    while (i < len) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return lro_fail(LRO_ERR_BAD_NAME, "%s has control character 0x%02x at byte %zu", what,
                            s[i], i);
        }
        size_t k = utf8_seq(s + i, len - i);
        if (k == 0) {
            return lro_fail(LRO_ERR_BAD_NAME, "%s has invalid UTF-8 at byte %zu", what, i);
        }
        i += k;
    }
    return LRO_OK;
}

int lro_check_name_n(const char *name, size_t len)
{
    return check_text_n(name, len, "name");
}

int lro_check_text(const char *s, const char *what)
{
    /* Bound the scan: a huge string is rejected without reading all of it. */
    return check_text_n(s, s ? strnlen(s, LRO_MAX_NAME_LEN + 1) : 0, what);
}

int lro_check_name(const char *name)
{
    return lro_check_text(name, "name");
}

static int reserved_key(const char *k)
{
    static const char *const reserved[] = {
        "te", "host", "content-type", "user-agent", "grpc-timeout", "grpc-encoding",
        "grpc-accept-encoding", "grpc-status", "grpc-message", "grpc-status-details-bin",
        "x-goog-request-params", "authorization", "connection", "transfer-encoding",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (strcmp(k, reserved[i]) == 0) {
            return 1;
        }
    }
    return strncmp(k, "grpc-", 5) == 0;
}

#define MAX_HEADER_VALUE 16384

int lro_check_header(const char *key, const char *value)
{
    /* Bound the scan; anything longer is refused below. */
    return lro_check_header_n(key, value, value ? strnlen(value, MAX_HEADER_VALUE + 1) : 0);
}

/* Error texts name the key (keys are not secret, and only printable keys are
 * quoted) but never the value, which may be a credential. */
int lro_check_header_n(const char *key, const char *value, size_t vlen)
{
    if (key == NULL) {
        return lro_fail(LRO_ERR_BAD_HEADER, "header key is NULL");
    }
    size_t klen = strnlen(key, 1025);
    if (klen == 0 || klen > 1024) {
        return lro_fail(LRO_ERR_BAD_HEADER, "header key is %s",
                        klen == 0 ? "empty" : "longer than 1024 bytes");
    }
    for (size_t i = 0; i < klen; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.')) {
            /* uppercase, space, ':' pseudo headers, CR/LF... */
            return lro_fail(LRO_ERR_BAD_HEADER,
                            "header key has character 0x%02x at byte %zu: keys are lowercase "
                            "[0-9a-z_.-]",
                            (unsigned char)c, i);
        }
    }
    if (reserved_key(key)) {
        return lro_fail(LRO_ERR_BAD_HEADER, "header key '%s' is reserved (see lro/client.h)", key);
    }
    if (value == NULL) {
        return lro_fail(LRO_ERR_BAD_HEADER, "header '%s' has a NULL value", key);
    }
    int binary = klen > 4 && strcmp(key + klen - 4, "-bin") == 0;
    if (vlen > MAX_HEADER_VALUE) {
        return lro_fail(LRO_ERR_BAD_HEADER, "header '%s' value is longer than %d bytes", key,
                        MAX_HEADER_VALUE);
    }
    if (!binary) {
        for (size_t i = 0; i < vlen; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c < 0x20 || c > 0x7e) {
                /* CR, LF, NUL, other controls, non-ASCII */
                return lro_fail(LRO_ERR_BAD_HEADER,
                                "header '%s' value has byte 0x%02x at %zu: only printable ASCII "
                                "is allowed unless the key ends in \"-bin\"",
                                key, c, i);
            }
        }
    }
    return LRO_OK;
}

/* 1 for the bytes kept as they are: [A-Za-z0-9-_.~/]. */
static const unsigned char k_url_keep[256] = {
    ['-'] = 1, ['.'] = 1, ['/'] = 1, ['_'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

size_t lro_url_escape(const char *in, size_t len, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (k_url_keep[c]) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return o;
}

int lro_call_begin(const void *client, const char *name)
{
    lro_error_clear(); /* lro_last_error() describes this call */
    if (client == NULL) {
        return lro_fail(LRO_ERR_INVALID_ARG, "client is NULL");
    }
    return lro_check_name(name);
}
