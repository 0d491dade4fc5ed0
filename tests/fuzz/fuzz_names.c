/* libFuzzer: client-side name and header validation and the routing-header
 * escaping. Invariants checked (not just "no crash"):
 *  - a name accepted by lro_check_name_n has no C0/DEL byte and is valid
 *    UTF-8 within LRO_MAX_NAME_LEN;
 *  - lro_url_escape writes only [A-Za-z0-9-_.~/%] and hex, and unescapes to
 *    the input;
 *  - an accepted header has a lowercase [0-9a-z_.-] key, and a value with no
 *    CR/LF (printable ASCII unless "-bin"). */
#include <stdlib.h>
#include <string.h>

#include "lro_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Names: as given (length-bounded) and as a C string. */
    if (lro_check_name_n((const char *)data, size) == LRO_OK) {
        if (size == 0 || size > LRO_MAX_NAME_LEN) {
            __builtin_trap();
        }
        for (size_t i = 0; i < size; i++) {
            if (data[i] < 0x20 || data[i] == 0x7f) {
                __builtin_trap();
            }
        }
    }
    char *s = malloc(size + 1);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    (void)lro_check_name(s);

    /* Escaping round-trips and stays within the safe alphabet. */
    char *esc = malloc(3 * size + 1);
    size_t n = lro_url_escape((const char *)data, size, esc);
    if (esc[n] != '\0' || n > 3 * size) {
        __builtin_trap();
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = esc[i];
        if (c == '%') {
            if (i + 2 >= n) {
                __builtin_trap();
            }
            int hi = hexval(esc[i + 1]), lo = hexval(esc[i + 2]);
            if (hi < 0 || lo < 0 || (uint8_t)(hi * 16 + lo) != data[o]) {
                __builtin_trap();
            }
            i += 2;
        } else {
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~' || c == '/') ||
                (uint8_t)c != data[o]) {
                __builtin_trap();
            }
        }
        o++;
    }
    if (o != size) {
        __builtin_trap();
    }

    /* Headers: key and value split at the first NUL byte. */
    const char *key = s;
    size_t kl = strlen(key);
    const char *val = kl < size ? s + kl + 1 : "";
    if (lro_check_header(key, val) == LRO_OK) {
        int bin = kl > 4 && strcmp(key + kl - 4, "-bin") == 0;
        for (size_t i = 0; i < kl; i++) {
            char c = key[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.')) {
                __builtin_trap();
            }
        }
        for (const char *p = val; *p && !bin; p++) {
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
                __builtin_trap();
            }
        }
    }
    free(esc);
    free(s);
    return 0;
}
