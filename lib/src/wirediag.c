/* Says WHY bytes do not decode. protobuf-c's unpack only returns NULL; a
 * user staring at "INTERNAL" deserves "truncated length-delimited field 1
 * (name) in google.longrunning.Operation". Only called after a failed
 * decode, so its cost does not matter; it walks the wire format with the
 * message descriptors and reports the first structural problem found. */
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "lro_int.h"

#define MAX_DEPTH 32

static int read_varint(const uint8_t *p, size_t n, size_t *used, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *used = i + 1;
            *v = r;
            return 1;
        }
    }
    return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  uint32_t id)
{
    for (unsigned i = 0; d != NULL && i < d->n_fields; i++) {
        if (d->fields[i].id == id) {
            return &d->fields[i];
        }
    }
    return NULL;
}

static int wire_type_of(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE:
        return 2;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 1;
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
        return 5;
    default:
        return 0;
    }
}

static int diag(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t n, int depth,
                char *out, size_t cap)
{
    const char *mname = d ? d->name : "message";
    if (depth > MAX_DEPTH) {
        snprintf(out, cap, "messages nested deeper than %d in %s", MAX_DEPTH, mname);
        return 1;
    }
    size_t off = 0;
    while (off < n) {
        size_t used;
        uint64_t key;
        if (!read_varint(p + off, n - off, &used, &key)) {
            snprintf(out, cap, "truncated or overlong field key at byte %zu of %s", off, mname);
            return 1;
        }
        off += used;
        uint32_t id = (uint32_t)(key >> 3);
        int wt = (int)(key & 7);
        const ProtobufCFieldDescriptor *f = find_field(d, id);
        const char *fname = f ? f->name : "unknown";
        if (key >> 3 == 0 || key >> 3 > 536870911u) {
            snprintf(out, cap, "invalid field number %llu in %s", (unsigned long long)(key >> 3),
                     mname);
            return 1;
        }
        if (wt == 3 || wt == 4 || wt == 6 || wt == 7) {
            snprintf(out, cap, "invalid wire type %d on field %u (%s) of %s", wt, id, fname,
                     mname);
            return 1;
        }
        if (f != NULL && wt != wire_type_of(f) &&
            !(wt == 2 && f->label == PROTOBUF_C_LABEL_REPEATED)) {
            snprintf(out, cap, "wire type %d where field %u (%s) of %s needs %d", wt, id, fname,
                     mname, wire_type_of(f));
            return 1;
        }
        uint64_t v;
        switch (wt) {
        case 0:
            if (!read_varint(p + off, n - off, &used, &v)) {
                snprintf(out, cap, "truncated or overlong varint in field %u (%s) of %s", id,
                         fname, mname);
                return 1;
            }
            off += used;
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (n - off < w) {
                snprintf(out, cap, "truncated %zu-byte field %u (%s) of %s", w, id, fname,
                         mname);
                return 1;
            }
            off += w;
            break;
        }
        default: /* 2 */
            if (!read_varint(p + off, n - off, &used, &v)) {
                snprintf(out, cap, "truncated length of field %u (%s) of %s", id, fname, mname);
                return 1;
            }
            off += used;
            if (v > n - off) {
                snprintf(out, cap,
                         "truncated length-delimited field %u (%s) of %s: %llu bytes announced, "
                         "%zu left",
                         id, fname, mname, (unsigned long long)v, n - off);
                return 1;
            }
            if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                diag(f->descriptor, p + off, (size_t)v, depth + 1, out, cap)) {
                return 1;
            }
            off += (size_t)v;
            break;
        }
    }
    return 0;
}

void lro_wire_diagnose(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
                       char *out, size_t cap)
{
    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    if (!diag(desc, data, len, 0, out, cap)) {
        snprintf(out, cap, "%zu bytes do not decode as %s", len, desc->name);
    }
}
