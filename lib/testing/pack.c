/*
 * pack.c - encoding the messages the server makes up itself: a message into
 * a buffer or into a google.protobuf.Any, the one-entry google.rpc.ErrorInfo
 * every error it invents carries, the small google.protobuf.Struct values of
 * seeded and self-driven operations, and the varints of hand-written wire
 * data. One copy each, so the store, the error trailers, the lifecycle and
 * the admin API encode alike.
 */
#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "server_int.h"

int srv_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = lro_malloc(n + 1); /* + 1: an empty message is not a 0-byte request */
    if (b == NULL) {
        return LRO_ERR_NOMEM;
    }
    *len = protobuf_c_message_pack(m, b);
    *out = b;
    return LRO_OK;
}

int srv_pack_any(Google__Protobuf__Any *a, const char *type_url, const ProtobufCMessage *m)
{
    google__protobuf__any__init(a); /* value.data stays NULL on failure */
    a->type_url = (char *)type_url;
    return srv_pack(m, &a->value.data, &a->value.len);
}

int srv_pack_error_info(Google__Protobuf__Any *a, const char *reason, const char *domain,
                        const char *key, const char *value)
{
    Google__Rpc__ErrorInfo__MetadataEntry me = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT;
    me.key = (char *)key;
    me.value = (char *)value;
    Google__Rpc__ErrorInfo__MetadataEntry *mes[1] = {&me};
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.reason = (char *)reason;
    ei.domain = (char *)domain;
    ei.n_metadata = 1;
    ei.metadata = mes;
    return srv_pack_any(a, "type.googleapis.com/google.rpc.ErrorInfo", &ei.base);
}

int srv_pack_struct(Google__Protobuf__Any *a, const srv_field *f, size_t n)
{
    google__protobuf__any__init(a);
    if (n > SRV_STRUCT_MAX) {
        return LRO_ERR_INVALID_ARG;
    }
    Google__Protobuf__Value v[SRV_STRUCT_MAX];
    Google__Protobuf__Struct__FieldsEntry fe[SRV_STRUCT_MAX], *fes[SRV_STRUCT_MAX];
    for (size_t i = 0; i < n; i++) {
        google__protobuf__value__init(&v[i]);
        if (f[i].str != NULL) {
            v[i].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
            v[i].string_value = (char *)f[i].str;
        } else {
            v[i].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
            v[i].number_value = f[i].num;
        }
        google__protobuf__struct__fields_entry__init(&fe[i]);
        fe[i].key = (char *)f[i].key;
        fe[i].value = &v[i];
        fes[i] = &fe[i];
    }
    Google__Protobuf__Struct st = GOOGLE__PROTOBUF__STRUCT__INIT;
    st.n_fields = n;
    st.fields = fes;
    return srv_pack_any(a, "type.googleapis.com/google.protobuf.Struct", &st.base);
}

size_t srv_varint_len(size_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

uint8_t *srv_put_varint(uint8_t *w, size_t v)
{
    while (v >= 0x80) {
        *w++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *w++ = (uint8_t)v;
    return w;
}
