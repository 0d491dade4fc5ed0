/* lroctl admin, values from the command line: the VALUE specs (string:,
 * int:, struct:..., raw:URL=HEX, ...) packed into google.protobuf.Any, so
 * nobody has to hand-encode protobuf to put a response or metadata. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin_int.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/protobuf/struct.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"

#define TYPE_PREFIX "type.googleapis.com/"

void adm_any_free(any_val *v)
{
    free(v->type_url);
    free(v->data);
    memset(v, 0, sizeof *v);
}

int adm_pack_into(any_val *v, const char *type, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    v->data = malloc(n + 1);
    size_t ul = strlen(TYPE_PREFIX) + strlen(type) + 1;
    v->type_url = malloc(ul);
    if (v->data == NULL || v->type_url == NULL) {
        adm_any_free(v);
        return -1;
    }
    protobuf_c_message_pack(m, v->data);
    v->len = n;
    snprintf(v->type_url, ul, TYPE_PREFIX "%s", type);
    return 0;
}

int adm_parse_double(const char *s, double *d)
{
    char *end = NULL;
    errno = 0;
    *d = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*d) ? 0 : -1;
}

static int hex_digit(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

uint8_t *adm_parse_hex(const char *s, size_t *len)
{
    size_t n = strlen(s);
    if (n % 2 != 0) {
        return NULL;
    }
    uint8_t *b = malloc(n / 2 + 1);
    for (size_t i = 0; b != NULL && i < n / 2; i++) {
        int hi = hex_digit((unsigned char)s[2 * i]), lo = hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return NULL;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return b;
}

/* struct:k=v,k=v -> google.protobuf.Struct: numbers, true/false, else text. */
int adm_pack_struct(any_val *v, const char *spec, const char *flag)
{
    char *copy = strdup(spec);
    if (copy == NULL) {
        return -1;
    }
    size_t cap = 1;
    for (const char *p = spec; *p; p++) {
        cap += *p == ',';
    }
    Google__Protobuf__Struct st = GOOGLE__PROTOBUF__STRUCT__INIT;
    Google__Protobuf__Struct__FieldsEntry *ents = calloc(cap, sizeof *ents);
    Google__Protobuf__Struct__FieldsEntry **eps = calloc(cap, sizeof *eps);
    Google__Protobuf__Value *vals = calloc(cap, sizeof *vals);
    int rc = ents != NULL && eps != NULL && vals != NULL ? 0 : -1;
    size_t n = 0;
    char *save = NULL;
    for (char *tok = *copy ? strtok_r(copy, ",", &save) : NULL; rc == 0 && tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL || eq == tok) {
            die_msg("%s: '%s' is not KEY=VALUE (struct:KEY=VALUE,...)", flag, tok);
            rc = -2;
            break;
        }
        *eq = '\0';
        const char *val = eq + 1;
        google__protobuf__struct__fields_entry__init(&ents[n]);
        google__protobuf__value__init(&vals[n]);
        double d;
        if (adm_parse_double(val, &d) == 0) {
            vals[n].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
            vals[n].number_value = d;
        } else if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0) {
            vals[n].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
            vals[n].bool_value = val[0] == 't';
        } else {
            vals[n].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
            vals[n].string_value = (char *)val;
        }
        ents[n].key = tok;
        ents[n].value = &vals[n];
        eps[n] = &ents[n];
        n++;
    }
    if (rc == 0) {
        st.n_fields = n;
        st.fields = eps;
        rc = adm_pack_into(v, "google.protobuf.Struct", &st.base);
    }
    free(ents);
    free(eps);
    free(vals);
    free(copy);
    return rc;
}

const char adm_value_help[] =
    "VALUE is one of: empty | string:TEXT | int:N | double:X | bool:true|false |\n"
    "  struct:KEY=VALUE,... (numbers, true/false, else text) |\n"
    "  raw:TYPE_URL=HEX | file:TYPE_URL=PATH (serialized message bytes)\n";

/* Parses a VALUE spec into v. Returns EXIT_OK or EXIT_USAGE/EXIT_LOCAL. */
int adm_parse_value(const char *flag, const char *spec, any_val *v)
{
    memset(v, 0, sizeof *v);
    int rc = -2;
    if (strcmp(spec, "empty") == 0) {
        Google__Protobuf__Empty e = GOOGLE__PROTOBUF__EMPTY__INIT;
        rc = adm_pack_into(v, "google.protobuf.Empty", &e.base);
    } else if (strncmp(spec, "string:", 7) == 0) {
        Google__Protobuf__StringValue m = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
        m.value = (char *)spec + 7;
        rc = adm_pack_into(v, "google.protobuf.StringValue", &m.base);
    } else if (strncmp(spec, "int:", 4) == 0) {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(spec + 4, &end, 10);
        if (end != spec + 4 && *end == '\0' && errno == 0) {
            Google__Protobuf__Int64Value m = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
            m.value = x;
            rc = adm_pack_into(v, "google.protobuf.Int64Value", &m.base);
        }
    } else if (strncmp(spec, "double:", 7) == 0) {
        double d;
        if (adm_parse_double(spec + 7, &d) == 0) {
            Google__Protobuf__DoubleValue m = GOOGLE__PROTOBUF__DOUBLE_VALUE__INIT;
            m.value = d;
            rc = adm_pack_into(v, "google.protobuf.DoubleValue", &m.base);
        }
    } else if (strcmp(spec, "bool:true") == 0 || strcmp(spec, "bool:false") == 0) {
        Google__Protobuf__BoolValue m = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;
        m.value = spec[5] == 't';
        rc = adm_pack_into(v, "google.protobuf.BoolValue", &m.base);
    } else if (strncmp(spec, "struct:", 7) == 0) {
        rc = adm_pack_struct(v, spec + 7, flag);
        if (rc == -2) {
            return EXIT_USAGE; /* already explained */
        }
    } else if (strncmp(spec, "raw:", 4) == 0 || strncmp(spec, "file:", 5) == 0) {
        int is_file = spec[0] == 'f';
        const char *rest = spec + (is_file ? 5 : 4);
        const char *eq = strchr(rest, '=');
        if (eq != NULL && eq != rest) {
            v->type_url = strndup(rest, (size_t)(eq - rest));
            if (is_file) {
                v->data = (uint8_t *)adm_read_file(eq + 1, 4u << 20, &v->len);
                if (v->data == NULL) {
                    die_msg("%s: cannot read '%s' (at most 4 MiB)", flag, eq + 1);
                    adm_any_free(v);
                    return EXIT_LOCAL;
                }
            } else {
                v->data = adm_parse_hex(eq + 1, &v->len);
            }
            rc = v->type_url != NULL && v->data != NULL ? 0 : -2;
            if (rc != 0) {
                adm_any_free(v);
            }
        }
    }
    if (rc == -1) {
        die_msg("out of memory");
        return EXIT_LOCAL;
    }
    if (rc != 0) {
        die_msg("%s: '%s' is not a VALUE (empty, string:, int:, double:, bool:, struct:, "
                "raw:URL=HEX, file:URL=PATH; see lroctl admin --help)",
                flag, spec);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

void adm_any_view(Google__Protobuf__Any *a, const any_val *v)
{
    google__protobuf__any__init(a);
    a->type_url = v->type_url;
    a->value.data = v->data;
    a->value.len = v->len;
}

/* A gRPC code by name (any case) or number, 1..16. */
int adm_parse_code(const char *s)
{
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (end != s && *end == '\0') {
        return n >= 1 && n <= 16 ? (int)n : -1;
    }
    for (int c = 1; c <= 16; c++) {
        if (strcasecmp(s, lro_code_name(c)) == 0) {
            return c;
        }
    }
    return -1;
}

Google__Protobuf__Duration *adm_ms_duration(Google__Protobuf__Duration *d, int64_t ms)
{
    google__protobuf__duration__init(d);
    d->seconds = ms / 1000;
    d->nanos = (int32_t)(ms % 1000) * 1000000;
    return d;
}
