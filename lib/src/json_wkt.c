/* Well-known types with a special JSON form, Any and the type registry
 * behind it, and the nesting check that runs before protobuf-c decodes untrusted bytes.
 *
 * Forms follow protobuf's own json_format printers: Duration "1.500s" (0, 3,
 * 6 or 9 fraction digits), Timestamp RFC 3339 in UTC with the same fraction
 * rule, wrappers as their bare value, Struct/Value/ListValue as plain JSON,
 * an unset Value as null. Values those printers refuse (a Duration or
 * Timestamp out of range, a NaN or infinite Value.number_value) fail with
 * LRO_ERR_DECODE, which an enclosing Any turns into its base64 fallback. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "json_int.h"
#include "lro/registry.h"

enum wkt {
    WKT_NONE,
    WKT_ANY,
    WKT_DURATION,
    WKT_TIMESTAMP,
    WKT_WRAPPER,
    WKT_STRUCT,
    WKT_VALUE,
    WKT_LIST,
    WKT_FIELDMASK
};

static enum wkt wkt_kind(const ProtobufCMessageDescriptor *d)
{
    static const char *const wrappers[] = {
        "DoubleValue", "FloatValue", "Int64Value",  "UInt64Value", "Int32Value",
        "UInt32Value", "BoolValue",  "StringValue", "BytesValue",
    };
    if (d == NULL || strncmp(d->name, "google.protobuf.", 16) != 0) {
        return WKT_NONE;
    }
    const char *n = d->name + 16;
    static const struct {
        const char *name;
        int kind;
    } special[] = {
        {"Any", WKT_ANY},
        {"Duration", WKT_DURATION},
        {"Timestamp", WKT_TIMESTAMP},
        {"Struct", WKT_STRUCT},
        {"Value", WKT_VALUE},
        {"ListValue", WKT_LIST},
        {"FieldMask", WKT_FIELDMASK},
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        if (strcmp(n, special[i].name) == 0) {
            return (enum wkt)special[i].kind;
        }
    }
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++) {
        if (strcmp(n, wrappers[i]) == 0) {
            return WKT_WRAPPER;
        }
    }
    return WKT_NONE;
}

/* Field `id` of d when it has the type (and repeatedness) expected; a
 * descriptor of another shape is printed as a regular message. */
static const ProtobufCFieldDescriptor *field(const ProtobufCMessageDescriptor *d, unsigned id,
                                             ProtobufCType type, int repeated)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, id);
    if (f == NULL || f->type != type || (f->label == PROTOBUF_C_LABEL_REPEATED) != repeated) {
        return NULL;
    }
    return f;
}

/* Descriptors loaded at run time (lro/registry.h) can claim a well-known
 * type's name with any shape: the special printers read fields without
 * presence checks, so a shape they cannot read safely prints as a regular
 * message. Only Value's members share a oneof (its `kind`). */
static int no_oneofs(const ProtobufCMessageDescriptor *d)
{
    for (unsigned i = 0; i < d->n_fields; i++) {
        if (d->fields[i].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            return 0;
        }
    }
    return 1;
}

static int value_shape(const ProtobufCMessageDescriptor *d)
{
    if (d->n_fields != 6) {
        return 0;
    }
    for (unsigned i = 0; i < 6; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
            f->quantifier_offset != d->fields[0].quantifier_offset ||
            f->offset != d->fields[0].offset) {
            return 0;
        }
    }
    return field(d, 1, PROTOBUF_C_TYPE_ENUM, 0) && field(d, 2, PROTOBUF_C_TYPE_DOUBLE, 0) &&
           field(d, 3, PROTOBUF_C_TYPE_STRING, 0) && field(d, 4, PROTOBUF_C_TYPE_BOOL, 0) &&
           field(d, 5, PROTOBUF_C_TYPE_MESSAGE, 0) && field(d, 6, PROTOBUF_C_TYPE_MESSAGE, 0);
}

/* Struct.fields: map<string, Value>, i.e. entries of exactly key = 1
 * (string) and value = 2 (a message), neither repeated nor in a oneof. */
static int struct_shape(const ProtobufCMessageDescriptor *d)
{
    const ProtobufCFieldDescriptor *f = field(d, 1, PROTOBUF_C_TYPE_MESSAGE, 1);
    const ProtobufCMessageDescriptor *e = f ? f->descriptor : NULL;
    return e != NULL && e->n_fields == 2 && no_oneofs(e) && e->fields[0].id == 1 &&
           e->fields[0].type == PROTOBUF_C_TYPE_STRING &&
           e->fields[0].label != PROTOBUF_C_LABEL_REPEATED && e->fields[1].id == 2 &&
           e->fields[1].type == PROTOBUF_C_TYPE_MESSAGE &&
           e->fields[1].label != PROTOBUF_C_LABEL_REPEATED;
}

static int shape_ok(const ProtobufCMessageDescriptor *d, enum wkt k)
{
    if (k == WKT_VALUE) {
        return value_shape(d);
    }
    if (!no_oneofs(d)) {
        return 0;
    }
    switch (k) {
    case WKT_ANY:
        return field(d, 1, PROTOBUF_C_TYPE_STRING, 0) && field(d, 2, PROTOBUF_C_TYPE_BYTES, 0);
    case WKT_DURATION:
    case WKT_TIMESTAMP:
        return field(d, 1, PROTOBUF_C_TYPE_INT64, 0) && field(d, 2, PROTOBUF_C_TYPE_INT32, 0);
    case WKT_WRAPPER: {
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, 1);
        return d->n_fields == 1 && f != NULL && f->label != PROTOBUF_C_LABEL_REPEATED &&
               f->type != PROTOBUF_C_TYPE_MESSAGE;
    }
    case WKT_STRUCT:
        return struct_shape(d);
    case WKT_LIST:
        return field(d, 1, PROTOBUF_C_TYPE_MESSAGE, 1) != NULL;
    case WKT_FIELDMASK:
        return d->n_fields == 1 && field(d, 1, PROTOBUF_C_TYPE_STRING, 1) != NULL;
    case WKT_VALUE: /* handled above */
    case WKT_NONE:
        break;
    }
    return 0;
}

int lro_json_special(const ProtobufCMessageDescriptor *d)
{
    enum wkt k = wkt_kind(d);
    return k != WKT_NONE && shape_ok(d, k);
}

static const void *at(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    return (const char *)m + f->offset;
}

static void seconds_nanos(const ProtobufCMessage *m, int64_t *s, int32_t *n)
{
    *s = *(const int64_t *)at(m, protobuf_c_message_descriptor_get_field(m->descriptor, 1));
    *n = *(const int32_t *)at(m, protobuf_c_message_descriptor_get_field(m->descriptor, 2));
}

/* ".5" -> ".500", ".000001" etc: 0, 3, 6 or 9 digits, as protobuf prints. */
static void fraction(char *buf, size_t cap, uint32_t nanos)
{
    if (nanos == 0) {
        buf[0] = '\0';
    } else if (nanos % 1000000 == 0) {
        snprintf(buf, cap, ".%03" PRIu32, nanos / 1000000);
    } else if (nanos % 1000 == 0) {
        snprintf(buf, cap, ".%06" PRIu32, nanos / 1000);
    } else {
        snprintf(buf, cap, ".%09" PRIu32, nanos);
    }
}

static void duration(lro_jw *w, const ProtobufCMessage *m)
{
    int64_t s;
    int32_t n;
    char frac[16], buf[64];
    seconds_nanos(m, &s, &n);
    if (s < -315576000000LL || s > 315576000000LL || n <= -1000000000 || n >= 1000000000 ||
        (s > 0 && n < 0) || (s < 0 && n > 0)) {
        lro_jw_fail(w, LRO_ERR_DECODE); /* outside the Duration range: no JSON form */
        return;
    }
    int neg = s < 0 || n < 0;
    fraction(frac, sizeof frac, (uint32_t)(n < 0 ? -n : n));
    snprintf(buf, sizeof buf, "\"%s%" PRId64 "%ss\"", neg ? "-" : "", s < 0 ? -s : s, frac);
    lro_jw_puts(w, buf);
}

/* Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *mo, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *mo = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*mo <= 2);
}

static void timestamp(lro_jw *w, const ProtobufCMessage *m)
{
    int64_t s, y;
    int32_t n;
    unsigned mo, d;
    char frac[16], buf[80];
    seconds_nanos(m, &s, &n);
    /* 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z */
    if (s < -62135596800LL || s > 253402300799LL || n < 0 || n >= 1000000000) {
        lro_jw_fail(w, LRO_ERR_DECODE);
        return;
    }
    int64_t days = (s >= 0 ? s : s - 86399) / 86400;
    int64_t sod = s - days * 86400;
    civil_from_days(days, &y, &mo, &d);
    fraction(frac, sizeof frac, (uint32_t)n);
    snprintf(buf, sizeof buf, "\"%04" PRId64 "-%02u-%02uT%02d:%02d:%02d%sZ\"", y, mo, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
    lro_jw_puts(w, buf);
}

static void value(lro_jw *w, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    uint32_t which = *(const uint32_t *)((const char *)m + d->fields[0].quantifier_offset);
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(d, which);
    if (f == NULL || f->id == 1) {
        lro_jw_puts(w, "null"); /* null_value, or no kind set (python prints null too) */
        return;
    }
    if (f->type == PROTOBUF_C_TYPE_DOUBLE && !isfinite(*(const double *)at(m, f))) {
        lro_jw_fail(w, LRO_ERR_DECODE); /* would read back as a string_value */
        return;
    }
    lro_jw_value(w, f, at(m, f));
}

static void list(lro_jw *w, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    const ProtobufCMessage *const *v = *(const ProtobufCMessage *const *const *)at(m, f);
    int first;
    lro_jw_open(w, '[', &first);
    for (size_t i = 0; i < n && w->err == 0; i++) {
        lro_jw_sep(w, &first);
        lro_jw_message(w, f->descriptor, v[i]);
    }
    lro_jw_close(w, ']', first);
}

/* A wrapper's single field is printed even when zero. */
static void wrapper(lro_jw *w, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    lro_jw_value(w, f, at(m, f));
}

static void struct_(lro_jw *w, const ProtobufCMessage *m)
{
    lro_jw_map(w, protobuf_c_message_descriptor_get_field(m->descriptor, 1), m);
}

/* FieldMask: its paths joined by ',' with each snake_case name in
 * lowerCamelCase, "a.display_name" -> "a.displayName". A path that does not
 * read back the same way (an upper-case letter, '_' not followed by a
 * lower-case letter) has no JSON form: python's printer refuses it too. */
static void field_mask(lro_jw *w, const ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(m->descriptor, 1);
    size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
    const char *const *paths = *(const char *const *const *)at(m, f);
    lro_jw tmp = {0};
    for (size_t i = 0; i < n && tmp.err == 0; i++) {
        const char *p = paths[i] ? paths[i] : "";
        if (i > 0) {
            lro_jw_put(&tmp, ",", 1);
        }
        int up = 0;
        for (; *p; p++) {
            char c = *p;
            if (c >= 'A' && c <= 'Z') {
                lro_jw_fail(&tmp, LRO_ERR_DECODE);
            } else if (up) {
                if (!(c >= 'a' && c <= 'z')) {
                    lro_jw_fail(&tmp, LRO_ERR_DECODE);
                }
                c = (char)(c - 'a' + 'A');
                up = 0;
            } else if (c == '_') {
                up = 1;
                continue;
            }
            lro_jw_put(&tmp, &c, 1);
        }
        if (up) {
            lro_jw_fail(&tmp, LRO_ERR_DECODE); /* trailing '_' */
        }
    }
    if (tmp.err != 0) {
        lro_jw_fail(w, tmp.err);
    } else {
        lro_jw_string(w, tmp.buf ? tmp.buf : "", tmp.len);
    }
    lro_free(tmp.buf);
}

/* The writer of each well-known type, by wkt_kind(). */
static void (*const k_writers[])(lro_jw *, const ProtobufCMessage *) = {
    [WKT_ANY] = lro_jw_any,  [WKT_DURATION] = duration,    [WKT_TIMESTAMP] = timestamp,
    [WKT_WRAPPER] = wrapper, [WKT_STRUCT] = struct_,       [WKT_VALUE] = value,
    [WKT_LIST] = list,       [WKT_FIELDMASK] = field_mask,
};

int lro_jw_wkt(lro_jw *w, const ProtobufCMessageDescriptor *d, const ProtobufCMessage *m)
{
    enum wkt k = wkt_kind(d);
    if (k == WKT_NONE || !shape_ok(d, k)) {
        return 0;
    }
    if (m == NULL) {
        /* A default instance (unset map value, unset Value.struct_value...). */
        ProtobufCMessage *tmp = lro_malloc(d->sizeof_message);
        if (tmp == NULL) {
            lro_jw_fail(w, LRO_ERR_NOMEM);
            return 1;
        }
        lro_registry_init_message(d, tmp);
        lro_jw_wkt(w, d, tmp);
        lro_free(tmp);
        return 1;
    }
    k_writers[k](w, m);
    return 1;
}

/* ---- Any ---------------------------------------------------------------- */

typedef struct {
    ProtobufCAllocator a;
    int nomem;
} track_alloc;

static void *track_malloc(void *ctx, size_t n)
{
    track_alloc *t = ctx;
    void *p = lro_malloc(n);
    if (p == NULL) {
        t->nomem = 1;
    }
    return p;
}

static void track_free(void *ctx, void *p)
{
    (void)ctx;
    lro_free(p);
}

ProtobufCMessage *lro_json_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
                                  size_t len, int *nomem)
{
    track_alloc t = {{track_malloc, track_free, NULL}, 0};
    t.a.allocator_data = &t;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &t.a, len, data);
    *nomem = m == NULL && t.nomem;
    return m;
}

void lro_json_free_message(ProtobufCMessage *m)
{
    track_alloc t = {{track_malloc, track_free, NULL}, 0};
    t.a.allocator_data = &t;
    if (m != NULL) {
        protobuf_c_message_free_unpacked(m, &t.a);
    }
}

static void any_fallback(lro_jw *w, const char *url, const ProtobufCBinaryData *v)
{
    int first;
    lro_jw_open(w, '{', &first);
    lro_jw_key(w, &first, "@type");
    lro_jw_string(w, url, strlen(url));
    lro_jw_key(w, &first, "value");
    lro_jw_base64(w, v->data, v->len);
    lro_jw_close(w, '}', first);
}

/* google.protobuf.Any: {"@type": url, <fields>} or {"@type": url, "value":
 * <special form>}; {} when empty (as python's json_format prints it); the
 * fallback {"@type": url, "value": "<base64>"} for an unknown type, bytes
 * that do not decode, or a packed message with no JSON form (e.g. a NaN
 * number_value in a Value). Called with w->depth already counting the Any. */
void lro_jw_any(lro_jw *w, const ProtobufCMessage *any)
{
    const ProtobufCMessageDescriptor *ad = any ? any->descriptor : NULL;
    const ProtobufCFieldDescriptor *uf = ad ? protobuf_c_message_descriptor_get_field(ad, 1) : NULL;
    const ProtobufCFieldDescriptor *vf = ad ? protobuf_c_message_descriptor_get_field(ad, 2) : NULL;
    const char *url = uf ? *(const char *const *)((const char *)any + uf->offset) : NULL;
    const ProtobufCBinaryData *val = vf ? (const void *)((const char *)any + vf->offset) : NULL;
    static const ProtobufCBinaryData none = {0, NULL};
    if (url == NULL) {
        url = "";
    }
    if (val == NULL) {
        val = &none;
    }
    if (url[0] == '\0' && val->len == 0) {
        lro_jw_puts(w, "{}");
        return;
    }
    const ProtobufCMessageDescriptor *d = lro_json_find_type(url);
    if (d == NULL && w->reg != NULL) {
        d = lro_registry_find(w->reg, url);
    }
    if (d == NULL) {
        any_fallback(w, url, val);
        return;
    }
    if (lro_pb_check_depth(d, val->data, val->len, LRO_JSON_MAX_DEPTH - w->depth) != 0) {
        lro_jw_fail(w, LRO_JSON_ERR_DEPTH);
        return;
    }
    int nomem = 0;
    ProtobufCMessage *m = lro_json_unpack(d, val->data, val->len, &nomem);
    if (m == NULL) {
        if (nomem) {
            lro_jw_fail(w, LRO_ERR_NOMEM);
        } else {
            any_fallback(w, url, val);
        }
        return;
    }
    size_t mark = w->len;
    int indent = w->indent;
    int first;
    lro_jw_open(w, '{', &first);
    lro_jw_key(w, &first, "@type");
    lro_jw_string(w, url, strlen(url));
    if (lro_json_special(d)) {
        lro_jw_key(w, &first, "value");
        lro_jw_message(w, d, m);
    } else if (w->depth >= LRO_JSON_MAX_DEPTH) {
        lro_jw_fail(w, LRO_JSON_ERR_DEPTH);
    } else {
        w->depth++;
        lro_jw_fields(w, d, m, &first);
        w->depth--;
    }
    lro_jw_close(w, '}', first);
    if (w->err == LRO_ERR_DECODE) {
        w->err = 0;
        w->len = mark;
        w->indent = indent;
        any_fallback(w, url, val);
    }
    lro_json_free_message(m);
}

/* ---- Type registry: every message of gen/ ------------------------------ */

static const ProtobufCMessageDescriptor *const registry[] = {
    &google__protobuf__any__descriptor,
    &google__protobuf__duration__descriptor,
    &google__protobuf__empty__descriptor,
    &google__protobuf__timestamp__descriptor,
    &google__protobuf__double_value__descriptor,
    &google__protobuf__float_value__descriptor,
    &google__protobuf__int64_value__descriptor,
    &google__protobuf__uint64_value__descriptor,
    &google__protobuf__int32_value__descriptor,
    &google__protobuf__uint32_value__descriptor,
    &google__protobuf__bool_value__descriptor,
    &google__protobuf__string_value__descriptor,
    &google__protobuf__bytes_value__descriptor,
    &google__protobuf__struct__descriptor,
    &google__protobuf__struct__fields_entry__descriptor,
    &google__protobuf__value__descriptor,
    &google__protobuf__list_value__descriptor,
    &google__rpc__status__descriptor,
    &google__rpc__error_info__descriptor,
    &google__rpc__error_info__metadata_entry__descriptor,
    &google__rpc__retry_info__descriptor,
    &google__rpc__debug_info__descriptor,
    &google__rpc__quota_failure__descriptor,
    &google__rpc__quota_failure__violation__descriptor,
    &google__rpc__quota_failure__violation__quota_dimensions_entry__descriptor,
    &google__rpc__precondition_failure__descriptor,
    &google__rpc__precondition_failure__violation__descriptor,
    &google__rpc__bad_request__descriptor,
    &google__rpc__bad_request__field_violation__descriptor,
    &google__rpc__request_info__descriptor,
    &google__rpc__resource_info__descriptor,
    &google__rpc__help__descriptor,
    &google__rpc__help__link__descriptor,
    &google__rpc__localized_message__descriptor,
    &google__longrunning__operation__descriptor,
    &google__longrunning__get_operation_request__descriptor,
    &google__longrunning__list_operations_request__descriptor,
    &google__longrunning__list_operations_response__descriptor,
    &google__longrunning__cancel_operation_request__descriptor,
    &google__longrunning__delete_operation_request__descriptor,
    &google__longrunning__wait_operation_request__descriptor,
    &google__longrunning__operation_info__descriptor,
};

const ProtobufCMessageDescriptor *lro_json_find_type(const char *type_url)
{
    const char *slash = strrchr(type_url, '/');
    const char *name = slash ? slash + 1 : type_url;
    for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
        if (strcmp(registry[i]->name, name) == 0) {
            return registry[i];
        }
    }
    return NULL;
}

/* ---- Nesting check before decoding ------------------------------------ */

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

int lro_pb_check_depth(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t len,
                       int max_depth)
{
    if (max_depth < 1) {
        return -1;
    }
    if (len == 0) {
        return 0; /* data may be NULL */
    }
    const uint8_t *p = data, *end = data + len;
    while (p < end) {
        uint64_t tag, n;
        if (!varint(&p, end, &tag) || (tag >> 3) > 0x1FFFFFFF) {
            return 0; /* malformed: protobuf-c will refuse it */
        }
        switch (tag & 7) {
        case 0:
            if (!varint(&p, end, &n)) {
                return 0;
            }
            break;
        case 1:
        case 5: {
            size_t k = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < k) {
                return 0;
            }
            p += k;
            break;
        }
        case 2: {
            if (!varint(&p, end, &n) || n > (uint64_t)(end - p)) {
                return 0;
            }
            const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field(d, (unsigned)(tag >> 3));
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                lro_pb_check_depth(f->descriptor, p, (size_t)n, max_depth - 1) != 0) {
                return -1;
            }
            p += n;
            break;
        }
        default:
            return 0; /* groups: protobuf-c does not decode them */
        }
    }
    return 0;
}
