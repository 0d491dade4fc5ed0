/* The proto3 JSON writer: reflection over protobuf-c descriptors.
 *
 * One growable buffer, errors are sticky (the first one wins and every later
 * write is a no-op), so the printing code reads like the JSON it produces.
 * Special forms of the well-known types and the Any registry live in
 * json_wkt.c. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lro/json.h"
#include "lro/registry.h"

#include "json_int.h"

/* ---- Output buffer ---------------------------------------------------- */

void lro_jw_fail(lro_jw *w, int err)
{
    if (w->err == 0) {
        w->err = err;
    }
}

void lro_jw_put(lro_jw *w, const char *s, size_t n)
{
    if (w->err != 0) {
        return;
    }
    if (n >= w->cap - w->len || w->buf == NULL) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap - w->len <= n) {
            if (cap > SIZE_MAX / 2) {
                lro_jw_fail(w, LRO_ERR_NOMEM);
                return;
            }
            cap *= 2;
        }
        char *nb = lro_realloc(w->buf, cap);
        if (nb == NULL) {
            lro_jw_fail(w, LRO_ERR_NOMEM);
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

void lro_jw_puts(lro_jw *w, const char *s)
{
    lro_jw_put(w, s, strlen(s));
}

static void newline(lro_jw *w)
{
    static const char spaces[] = "                                ";
    if (!w->pretty) {
        return;
    }
    lro_jw_put(w, "\n", 1);
    for (size_t n = 2 * (size_t)w->indent; n > 0;) {
        size_t k = n < sizeof spaces - 1 ? n : sizeof spaces - 1;
        lro_jw_put(w, spaces, k);
        n -= k;
    }
}

void lro_jw_open(lro_jw *w, char c, int *first)
{
    lro_jw_put(w, &c, 1);
    w->indent++;
    *first = 1;
}

void lro_jw_sep(lro_jw *w, int *first)
{
    if (!*first) {
        lro_jw_put(w, ",", 1);
    }
    *first = 0;
    newline(w);
}

void lro_jw_key(lro_jw *w, int *first, const char *k)
{
    lro_jw_sep(w, first);
    lro_jw_string(w, k, strlen(k));
    lro_jw_put(w, ": ", w->pretty ? 2 : 1);
}

void lro_jw_close(lro_jw *w, char c, int first)
{
    w->indent--;
    if (!first) {
        newline(w); /* python's json.dumps(indent=2) prints {} and [] when empty */
    }
    lro_jw_put(w, &c, 1);
}

/* ---- Strings ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid; *skip
 * is then the length of the maximal invalid subpart (one U+FFFD each, as
 * Unicode recommends). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *skip)
{
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) {
            lo = 0xA0; /* no overlongs */
        } else if (c == 0xED) {
            hi = 0x9F; /* no surrogates */
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F; /* <= U+10FFFF */
        }
    } else {
        *skip = 1;
        return 0;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned b = s[i];
        if (b < lo || b > hi) {
            break;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    if (i == need) {
        return need;
    }
    *skip = i;
    return 0;
}

/* The two-character escapes of RFC 8259 (a table, not a chain of ifs). */
static const char *short_escape(unsigned c)
{
    static const char from[] = "\"\\\n\r\t\b\f";
    static const char *const to[] = {"\\\"", "\\\\", "\\n", "\\r", "\\t", "\\b", "\\f"};
    const char *p = c != 0 ? strchr(from, (int)c) : NULL;
    return p != NULL ? to[p - from] : NULL;
}

void lro_jw_string(lro_jw *w, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the pending run of bytes copied as they are */
    lro_jw_put(w, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        const char *esc = NULL;
        char ubuf[8];
        size_t adv = 1;
        if (c >= 0x80) {
            size_t skip = 1;
            size_t k = utf8_seq(s + i, n - i, &skip);
            if (k != 0) {
                i += k;
                continue;
            }
            esc = "\xEF\xBF\xBD"; /* U+FFFD */
            adv = skip;
        } else if (c >= 0x20 && c != '"' && c != '\\') {
            i++; /* the common case: copied as it is */
            continue;
        } else if ((esc = short_escape(c)) == NULL) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
            esc = ubuf;
        }
        lro_jw_put(w, str + run, i - run);
        lro_jw_puts(w, esc);
        i += adv;
        run = i;
    }
    lro_jw_put(w, str + run, n - run);
    lro_jw_put(w, "\"", 1);
}

void lro_jw_base64(lro_jw *w, const uint8_t *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    lro_jw_put(w, "\"", 1);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        q[0] = tab[(v >> 18) & 63];
        q[1] = tab[(v >> 12) & 63];
        q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        lro_jw_put(w, q, 4);
    }
    lro_jw_put(w, "\"", 1);
}

/* ---- Numbers ---------------------------------------------------------- */

/* Shortest digits that read back as the same value, laid out the way
 * python's repr() (hence json_format) does: plain notation for exponents
 * -4..15, else d.ddde+XX. float starts at 6 digits like protobuf's
 * ToShortestFloat/SimpleFtoa, so "1.4013e-45", not "1e-45". Digits come
 * from %e, and only digits, signs and the exponent are taken from it, so
 * LC_NUMERIC does not matter. */
void lro_jw_number(lro_jw *w, double v, int is_float)
{
    char e[48], out[48];
    if (isnan(v)) {
        lro_jw_puts(w, "\"NaN\"");
        return;
    }
    if (isinf(v)) {
        lro_jw_puts(w, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        return;
    }
    for (int prec = is_float ? 6 : 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (is_float ? strtof(e, NULL) == (float)v : strtod(e, NULL) == v) {
            break;
        }
    }
    char digits[24];
    size_t nd = 0;
    const char *p = e;
    int neg = *p == '-';
    p += neg;
    for (; *p && *p != 'e'; p++) {
        if (*p >= '0' && *p <= '9' && nd < sizeof digits - 1) {
            digits[nd++] = *p;
        }
    }
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') {
        nd--;
    }
    digits[nd] = '\0';
    size_t o = 0;
    if (neg) {
        out[o++] = '-';
    }
    if (exp < -4 || exp >= 16) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = -1; z > exp; z--) {
            out[o++] = '0';
        }
        memcpy(out + o, digits, nd);
        out[o + nd] = '\0';
    } else {
        for (int i = 0; i <= exp || (size_t)i < nd; i++) {
            if (i == exp + 1) {
                out[o++] = '.';
            }
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        }
        out[o] = '\0';
    }
    lro_jw_puts(w, out);
}

/* ---- Reflection ------------------------------------------------------- */

/* 64-bit integers (and map keys of any integer type) are JSON strings. */
static void put_quoted_i64(lro_jw *w, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "\"%" PRId64 "\"", v);
    lro_jw_puts(w, buf);
}

static void put_quoted_u64(lro_jw *w, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "\"%" PRIu64 "\"", v);
    lro_jw_puts(w, buf);
}

static const void *at(const ProtobufCMessage *m, unsigned off)
{
    return (const char *)m + off;
}

static size_t elem_size(ProtobufCType t)
{
    size_t align;
    return lro_pb_type_size(t, &align);
}

/* Whether a field is printed: proto3 omits default scalars; oneof members,
 * submessages and proto2 optionals print when set. */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const void *p = at(m, f->offset);
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        return *(const size_t *)at(m, f->quantifier_offset) > 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        return *(const uint32_t *)at(m, f->quantifier_offset) == f->id;
    }
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        return *(const ProtobufCMessage *const *)p != NULL;
    }
    if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
        return 1;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const char *s = *(const char *const *)p;
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
            return s != NULL && s != (const char *)f->default_value;
        }
        return s != NULL && s[0] != '\0';
    }
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
        return *(const protobuf_c_boolean *)at(m, f->quantifier_offset) != 0;
    }
    if (f->type == PROTOBUF_C_TYPE_BYTES) {
        return ((const ProtobufCBinaryData *)p)->len > 0;
    }
    /* LABEL_NONE scalar: any non-zero bit pattern (-0.0 counts as set). */
    static const unsigned char zero[8];
    return memcmp(p, zero, elem_size(f->type)) != 0;
}

void lro_jw_value(lro_jw *w, const ProtobufCFieldDescriptor *f, const void *p)
{
    char buf[32];
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        snprintf(buf, sizeof buf, "%" PRId32, *(const int32_t *)p);
        lro_jw_puts(w, buf);
        return;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        snprintf(buf, sizeof buf, "%" PRIu32, *(const uint32_t *)p);
        lro_jw_puts(w, buf);
        return;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        put_quoted_i64(w, *(const int64_t *)p);
        return;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        put_quoted_u64(w, *(const uint64_t *)p);
        return;
    case PROTOBUF_C_TYPE_FLOAT:
        lro_jw_number(w, *(const float *)p, 1);
        return;
    case PROTOBUF_C_TYPE_DOUBLE:
        lro_jw_number(w, *(const double *)p, 0);
        return;
    case PROTOBUF_C_TYPE_BOOL:
        lro_jw_puts(w, *(const protobuf_c_boolean *)p ? "true" : "false");
        return;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        int v = *(const int *)p;
        if (ed != NULL && strcmp(ed->name, "google.protobuf.NullValue") == 0) {
            lro_jw_puts(w, "null");
            return;
        }
        const ProtobufCEnumValue *ev = ed ? protobuf_c_enum_descriptor_get_value(ed, v) : NULL;
        /* protobuf-c's range lookup overflows for a value at INT32_MAX
         * (e.g. descriptor.proto's EDITION_MAX): look again, linearly. */
        for (unsigned i = 0; ev == NULL && ed != NULL && v == INT32_MAX && i < ed->n_values; i++) {
            if (ed->values[i].value == v) {
                ev = &ed->values[i];
            }
        }
        if (ev != NULL) {
            lro_jw_string(w, ev->name, strlen(ev->name));
        } else {
            snprintf(buf, sizeof buf, "%d", v);
            lro_jw_puts(w, buf);
        }
        return;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)p;
        lro_jw_string(w, s ? s : "", s ? strlen(s) : 0);
        return;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        lro_jw_base64(w, b->data, b->len);
        return;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        lro_jw_message(w, f->descriptor, *(const ProtobufCMessage *const *)p);
        return;
    }
    lro_jw_fail(w, LRO_ERR_DECODE); /* a descriptor we do not understand */
}

/* protobuf-c 1.4.1 has no map flag: a map<K,V> field is a repeated field of
 * the nested message "<Parent>.<CamelName>Entry" with exactly key = 1 and
 * value = 2, the names protoc gives map entries (and forbids for any other
 * nested type next to the map field). */
static int is_map(const ProtobufCMessageDescriptor *parent, const ProtobufCFieldDescriptor *f)
{
    if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE) {
        return 0;
    }
    const ProtobufCMessageDescriptor *e = f->descriptor;
    if (e == NULL || e->n_fields != 2 || e->fields[0].id != 1 || e->fields[1].id != 2 ||
        strcmp(e->fields[0].name, "key") != 0 || strcmp(e->fields[1].name, "value") != 0 ||
        e->fields[0].label == PROTOBUF_C_LABEL_REPEATED ||
        e->fields[1].label == PROTOBUF_C_LABEL_REPEATED ||
        ((e->fields[0].flags | e->fields[1].flags) & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
        return 0; /* the printer reads both without presence checks */
    }
    switch (e->fields[0].type) { /* keys protobuf allows (a loaded set may lie) */
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
    case PROTOBUF_C_TYPE_ENUM:
        return 0;
    default:
        break;
    }
    size_t pl = strlen(parent->name);
    if (strncmp(e->name, parent->name, pl) != 0 || e->name[pl] != '.' ||
        strcmp(e->name + pl + 1, e->short_name) != 0) {
        return 0;
    }
    const char *s = e->short_name;
    int up = 1;
    for (const char *c = f->name; *c; c++) {
        if (*c == '_') {
            up = 1;
            continue;
        }
        char want = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        up = 0;
        if (*s++ != want) {
            return 0;
        }
    }
    return strcmp(s, "Entry") == 0;
}

typedef struct {
    const ProtobufCMessage *e;
    size_t idx;
} map_ent;

static int key_cmp(const void *a, const void *b, void *ctx)
{
    const ProtobufCFieldDescriptor *k = ctx;
    const map_ent *x = a, *y = b;
    const void *px = at(x->e, k->offset), *py = at(y->e, k->offset);
/* -1, 0 or 1 as the two values of type T at px and py compare. */
#define CMP_AS(T) ((*(const T *)px > *(const T *)py) - (*(const T *)px < *(const T *)py))
    int c;
    switch (k->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *sx = *(const char *const *)px, *sy = *(const char *const *)py;
        c = strcmp(sx ? sx : "", sy ? sy : "");
        break;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        c = CMP_AS(uint64_t);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        c = CMP_AS(int64_t);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        c = CMP_AS(uint32_t);
        break;
    default: /* int32 family, bool */
        c = CMP_AS(int32_t);
        break;
    }
#undef CMP_AS
    if (c == 0) {
        c = (x->idx > y->idx) - (x->idx < y->idx);
    }
    return c;
}

static int same_key(const ProtobufCFieldDescriptor *k, const map_ent *a, const map_ent *b)
{
    map_ent x = {a->e, 0}, y = {b->e, 0};
    return key_cmp(&x, &y, (void *)k) == 0;
}

void lro_jw_map(lro_jw *w, const ProtobufCFieldDescriptor *f, const ProtobufCMessage *m)
{
    size_t n = *(const size_t *)at(m, f->quantifier_offset);
    const ProtobufCMessage *const *ents = *(const ProtobufCMessage *const *const *)at(m, f->offset);
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = &ed->fields[0], *vf = &ed->fields[1];
    if (w->err != 0) {
        return;
    }
    if (n == 0) {
        lro_jw_puts(w, "{}");
        return;
    }
    /* Keys sorted (deterministic output, as the C++ and Go printers do);
     * duplicate keys on the wire: the last one wins, as when parsing. */
    map_ent *v = lro_malloc(n * sizeof *v);
    if (v == NULL) {
        lro_jw_fail(w, LRO_ERR_NOMEM);
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ents[i] != NULL) {
            v[k].e = ents[i];
            v[k].idx = i;
            k++;
        }
    }
    qsort_r(v, k, sizeof *v, key_cmp, (void *)kf);
    int first;
    lro_jw_open(w, '{', &first);
    for (size_t i = 0; i < k && w->err == 0; i++) {
        if (i + 1 < k && same_key(kf, &v[i], &v[i + 1])) {
            continue;
        }
        const void *kp = at(v[i].e, kf->offset);
        lro_jw_sep(w, &first);
        switch (kf->type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
            lro_jw_value(w, kf, kp); /* already a JSON string */
            break;
        case PROTOBUF_C_TYPE_BOOL:
            lro_jw_puts(w, *(const protobuf_c_boolean *)kp ? "\"true\"" : "\"false\"");
            break;
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
            put_quoted_u64(w, *(const uint32_t *)kp);
            break;
        default:
            put_quoted_i64(w, *(const int32_t *)kp);
            break;
        }
        lro_jw_put(w, ": ", w->pretty ? 2 : 1);
        lro_jw_value(w, vf, at(v[i].e, vf->offset));
    }
    lro_jw_close(w, '}', first);
    lro_free(v);
}

/* proto3 json_name: the descriptor set's for registry types (a custom
 * json_name option included), else drop each '_' and upper-case the letter
 * after it, as protoc derives it. */
static void field_key(lro_jw *w, int *first, const ProtobufCMessageDescriptor *d,
                      const ProtobufCFieldDescriptor *f)
{
    const char *json = lro_registry_json_name(d, f);
    if (json != NULL) {
        lro_jw_key(w, first, json);
        return;
    }
    const char *name = f->name;
    char buf[128];
    size_t o = 0;
    int up = 0;
    lro_jw_sep(w, first);
    lro_jw_put(w, "\"", 1);
    for (const char *c = name; *c; c++) {
        if (*c == '_') {
            up = 1;
            continue;
        }
        buf[o++] = up && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c;
        up = 0;
        if (o == sizeof buf) {
            lro_jw_put(w, buf, o);
            o = 0;
        }
    }
    lro_jw_put(w, buf, o);
    lro_jw_puts(w, w->pretty ? "\": " : "\":");
}

/* The fields of m (already inside an open object). */
void lro_jw_fields(lro_jw *w, const ProtobufCMessageDescriptor *d, const ProtobufCMessage *m,
                   int *first)
{
    for (unsigned i = 0; i < d->n_fields && w->err == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (m == NULL || !present(m, f)) {
            continue;
        }
        field_key(w, first, d, f);
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            lro_jw_value(w, f, at(m, f->offset));
        } else if (is_map(d, f)) {
            lro_jw_map(w, f, m);
        } else {
            size_t n = *(const size_t *)at(m, f->quantifier_offset);
            const char *arr = *(const char *const *)at(m, f->offset);
            size_t sz = elem_size(f->type);
            int afirst;
            lro_jw_open(w, '[', &afirst);
            for (size_t j = 0; j < n && w->err == 0; j++) {
                lro_jw_sep(w, &afirst);
                lro_jw_value(w, f, arr + j * sz);
            }
            lro_jw_close(w, ']', afirst);
        }
    }
}

void lro_jw_message(lro_jw *w, const ProtobufCMessageDescriptor *d, const ProtobufCMessage *m)
{
    if (w->err != 0) {
        return;
    }
    if (d == NULL || (m != NULL && m->descriptor != d)) {
        lro_jw_fail(w, LRO_ERR_INVALID_ARG);
        return;
    }
    if (w->depth >= LRO_JSON_MAX_DEPTH) {
        lro_jw_fail(w, LRO_JSON_ERR_DEPTH);
        return;
    }
    w->depth++;
    if (!lro_jw_wkt(w, d, m)) {
        int first;
        lro_jw_open(w, '{', &first);
        lro_jw_fields(w, d, m, &first);
        lro_jw_close(w, '}', first);
    }
    w->depth--;
}

/* ---- Public API ------------------------------------------------------- */

static int finish(lro_jw *w, char **out, size_t *len)
{
    lro_jw_put(w, "", 1); /* NUL, not counted */
    if (w->err != 0) {
        lro_free(w->buf);
        return w->err == LRO_JSON_ERR_DEPTH ? LRO_ERR_DECODE : w->err;
    }
    *out = w->buf;
    if (len != NULL) {
        *len = w->len - 1;
    }
    return LRO_OK;
}

int lro_message_to_json_reg(const ProtobufCMessage *m, const lro_registry *r, unsigned flags,
                            char **out, size_t *len)
{
    if (m == NULL || out == NULL || m->descriptor == NULL ||
        m->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
        return LRO_ERR_INVALID_ARG;
    }
    lro_jw w = {0};
    w.reg = r;
    w.pretty = (flags & LRO_JSON_PRETTY) != 0;
    lro_jw_message(&w, m->descriptor, m);
    return finish(&w, out, len);
}

int lro_operation_to_json_reg(const lro_operation *op, const lro_registry *r, unsigned flags,
                              char **out, size_t *len)
{
    return lro_message_to_json_reg((const ProtobufCMessage *)op, r, flags, out, len);
}

int lro_page_to_json_reg(const lro_page *p, const lro_registry *r, unsigned flags, char **out,
                         size_t *len)
{
    return lro_message_to_json_reg((const ProtobufCMessage *)p, r, flags, out, len);
}

int lro_status_to_json_reg(const lro_status *s, const lro_registry *r, unsigned flags, char **out,
                           size_t *len)
{
    return lro_message_to_json_reg((const ProtobufCMessage *)s, r, flags, out, len);
}

/* The process-wide registry (lro_json_set_registry). A conversion takes a
 * reference for its duration, so replacing or destroying the registry
 * meanwhile is safe. */
static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;
static lro_registry *g_reg;

int lro_json_set_registry(lro_registry *r)
{
    if (r != NULL) {
        lro_registry_ref_(r);
    }
    pthread_mutex_lock(&g_reg_mu);
    lro_registry *old = g_reg;
    __atomic_store_n(&g_reg, r, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&g_reg_mu);
    lro_registry_unref_(old);
    return LRO_OK;
}

int lro_message_to_json(const ProtobufCMessage *m, unsigned flags, char **out, size_t *len)
{
    lro_registry *r = NULL;
    /* No registry set (the common case): no lock at all. */
    if (__atomic_load_n(&g_reg, __ATOMIC_ACQUIRE) != NULL) {
        pthread_mutex_lock(&g_reg_mu);
        r = g_reg;
        if (r != NULL) {
            lro_registry_ref_(r);
        }
        pthread_mutex_unlock(&g_reg_mu);
    }
    int rc = lro_message_to_json_reg(m, r, flags, out, len);
    lro_registry_unref_(r);
    return rc;
}

int lro_operation_to_json(const lro_operation *op, unsigned flags, char **out, size_t *len)
{
    return lro_message_to_json((const ProtobufCMessage *)op, flags, out, len);
}

int lro_page_to_json(const lro_page *p, unsigned flags, char **out, size_t *len)
{
    return lro_message_to_json((const ProtobufCMessage *)p, flags, out, len);
}

int lro_status_to_json(const lro_status *s, unsigned flags, char **out, size_t *len)
{
    return lro_message_to_json((const ProtobufCMessage *)s, flags, out, len);
}

int lro_registry_bytes_to_json(const lro_registry *r, const char *type, const void *data,
                               size_t len, unsigned flags, char **out, size_t *out_len)
{
    if (type == NULL || out == NULL || (data == NULL && len > 0)) {
        return LRO_ERR_INVALID_ARG;
    }
    const ProtobufCMessageDescriptor *d = lro_registry_find(r, type);
    if (d == NULL) {
        d = lro_json_find_type(type);
    }
    if (d == NULL) {
        return LRO_ERR_TYPE_MISMATCH;
    }
    return lro_json_from_bytes_reg(d, r, data, len, flags, out, out_len);
}

int lro_json_from_bytes(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                        unsigned flags, char **out, size_t *out_len)
{
    return lro_json_from_bytes_reg(d, NULL, data, len, flags, out, out_len);
}

int lro_json_from_bytes_reg(const ProtobufCMessageDescriptor *d, const lro_registry *r,
                            const void *data, size_t len, unsigned flags, char **out,
                            size_t *out_len)
{
    if (d == NULL || out == NULL || (data == NULL && len > 0)) {
        return LRO_ERR_INVALID_ARG;
    }
    if (lro_pb_check_depth(d, data, len, LRO_JSON_MAX_DEPTH) != 0) {
        return LRO_ERR_DECODE;
    }
    int nomem = 0;
    ProtobufCMessage *m = lro_json_unpack(d, data, len, &nomem);
    if (m == NULL) {
        return nomem ? LRO_ERR_NOMEM : LRO_ERR_DECODE;
    }
    int rc = lro_message_to_json_reg(m, r, flags, out, out_len);
    lro_json_free_message(m);
    return rc;
}
