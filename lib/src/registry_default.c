/* proto2 default values for the type registry: the text a descriptor set
 * carries ("-42", "1.5", "inf", "GREEN", C-escaped bytes) to the value
 * protobuf-c's default_value points at. */
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "registry_int.h"

/* C escapes of a bytes default (protoc writes \NNN octal, \xHH, \n ...). */
static int unescape(loader *ld, const char *s, ProtobufCBinaryData *out)
{
    uint8_t *p = lro_arena_alloc(ld->arena, strlen(s) + 1);
    size_t n = 0;
    if (p == NULL) {
        return nomem(ld);
    }
    while (*s) {
        if (*s != '\\') {
            p[n++] = (uint8_t)*s++;
            continue;
        }
        s++;
        static const char from[] = "abfnrtv\\'\"?", to[] = "\a\b\f\n\r\t\v\\'\"?";
        const char *k = *s ? strchr(from, *s) : NULL;
        if (k != NULL) {
            p[n++] = (uint8_t)to[k - from];
            s++;
        } else if (*s >= '0' && *s <= '7') {
            unsigned v = 0;
            for (int i = 0; i < 3 && *s >= '0' && *s <= '7'; i++) {
                v = v * 8 + (unsigned)(*s++ - '0');
            }
            p[n++] = (uint8_t)v;
        } else if (*s == 'x' && isxdigit((unsigned char)s[1])) {
            unsigned v = 0;
            s++;
            for (int i = 0; i < 2 && isxdigit((unsigned char)*s); i++, s++) {
                v = v * 16 + (unsigned)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
            }
            p[n++] = (uint8_t)v;
        } else {
            return -1;
        }
    }
    out->len = n;
    out->data = p;
    return 0;
}

/* strtod in the "C" locale whatever the application's LC_NUMERIC says
 * (protoc writes "1.5" even where the decimal mark is a comma). */
static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    g_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static double c_strtod(const char *s, char **end)
{
    pthread_once(&g_c_locale_once, make_c_locale);
    return g_c_locale != (locale_t)0 ? strtod_l(s, end, g_c_locale) : strtod(s, end);
}

/* The default value of a proto2 field from its text in the set; NULL (no
 * error) when it has none. */
const void *lro_reg_parse_default(loader *ld, const Google__Protobuf__FieldDescriptorProto *fp,
                                  const ProtobufCFieldDescriptor *f, int *bad)
{
    const char *s = fp->default_value;
    char *end = NULL;
    *bad = 0;
    if (s == NULL) {
        if (f->type == PROTOBUF_C_TYPE_ENUM && f->descriptor != NULL) {
            /* proto2: an enum field defaults to the enum's first value. */
            return ((const ProtobufCEnumDescriptor *)f->descriptor)->reserved1;
        }
        return NULL;
    }
    errno = 0;
    if (isspace((unsigned char)s[0]) && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_BYTES) {
        *bad = 1; /* strto* would skip it; protoc never writes it */
        return NULL;
    }
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
        return astr(ld, s);
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = aalloc(ld, sizeof *b);
        if (b != NULL && unescape(ld, s, b) != 0) {
            *bad = ld->rc == LRO_OK;
        }
        return b;
    }
    case PROTOBUF_C_TYPE_BOOL: {
        protobuf_c_boolean *b = aalloc(ld, sizeof *b);
        *bad = strcmp(s, "true") != 0 && strcmp(s, "false") != 0;
        if (b != NULL) {
            *b = strcmp(s, "true") == 0;
        }
        return b;
    }
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE: {
        double v;
        if (strcmp(s, "inf") == 0) {
            v = INFINITY;
        } else if (strcmp(s, "-inf") == 0) {
            v = -INFINITY;
        } else if (strcmp(s, "nan") == 0) {
            v = NAN;
        } else {
            v = c_strtod(s, &end);
            *bad = end == s || *end != '\0';
        }
        if (f->type == PROTOBUF_C_TYPE_FLOAT) {
            float *p = aalloc(ld, sizeof *p);
            if (p != NULL) {
                *p = (float)v;
            }
            return p;
        }
        double *p = aalloc(ld, sizeof *p);
        if (p != NULL) {
            *p = v;
        }
        return p;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *val =
            f->descriptor ? protobuf_c_enum_descriptor_get_value_by_name(f->descriptor, s) : NULL;
        int32_t *p = aalloc(ld, sizeof *p);
        *bad = val == NULL;
        if (p != NULL && val != NULL) {
            *p = val->value;
        }
        return p;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        *bad = 1;
        return NULL;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        unsigned long long v = strtoull(s, &end, 10);
        int is32 = f->type == PROTOBUF_C_TYPE_UINT32 || f->type == PROTOBUF_C_TYPE_FIXED32;
        *bad = end == s || *end != '\0' || errno != 0 || s[0] == '-' || (is32 && v > UINT32_MAX);
        void *p = aalloc(ld, 8);
        if (p != NULL && is32) {
            *(uint32_t *)p = (uint32_t)v;
        } else if (p != NULL) {
            *(uint64_t *)p = (uint64_t)v;
        }
        return p;
    }
    default: { /* signed integers */
        long long v = strtoll(s, &end, 10);
        int is32 = f->type == PROTOBUF_C_TYPE_INT32 || f->type == PROTOBUF_C_TYPE_SINT32 ||
                   f->type == PROTOBUF_C_TYPE_SFIXED32;
        *bad = end == s || *end != '\0' || errno != 0 || (is32 && (v < INT32_MIN || v > INT32_MAX));
        void *p = aalloc(ld, 8);
        if (p != NULL && is32) {
            *(int32_t *)p = (int32_t)v;
        } else if (p != NULL) {
            *(int64_t *)p = (int64_t)v;
        }
        return p;
    }
    }
}
