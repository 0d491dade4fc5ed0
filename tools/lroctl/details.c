/* Status details for people and scripts: what an RPC error (or a failed
 * operation) carried besides its code and message. Operators need the
 * ErrorInfo reason, the RetryInfo delay and the BadRequest field; dropping
 * them leaves "INVALID_ARGUMENT" with nothing to act on. */
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/any.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "lro/json.h"
#include "lroctl.h"

out_format g_format = FMT_JSON;
int g_verbose = 0;

/* The message name after the last '/' of a type URL. */
static const char *type_of(const char *url)
{
    const char *s = strrchr(url, '/');
    return s != NULL ? s + 1 : url;
}

static void print_duration(FILE *out, const Google__Protobuf__Duration *d)
{
    if (d == NULL) {
        fputs("0s", out);
        return;
    }
    double s = (double)d->seconds + d->nanos / 1e9;
    fprintf(out, "%gs", s);
}

/* Any detail lro-c can print as JSON: "{"@type": ..., fields}" on one line. */
static void print_any_json(FILE *out, const char *url, const uint8_t *v, size_t len)
{
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = (char *)url;
    any.value.data = (uint8_t *)v;
    any.value.len = len;
    char *json = NULL;
    if (lro_message_to_json(&any.base, 0, &json, NULL) == LRO_OK) {
        fprintf(out, "%s", json);
        lro_free(json);
    } else {
        fprintf(out, "(%zu bytes)", len);
    }
}

static void print_one(FILE *out, const char *indent, const char *url, const uint8_t *v, size_t len)
{
    const char *t = type_of(url);
    ProtobufCMessage *m = NULL;
    if (strcmp(t, "google.rpc.ErrorInfo") == 0 &&
        lro_any_unpack(url, v, len, &google__rpc__error_info__descriptor, &m) == LRO_OK) {
        Google__Rpc__ErrorInfo *ei = (Google__Rpc__ErrorInfo *)m;
        fprintf(out, "%sErrorInfo: reason %s, domain %s", indent, ei->reason, ei->domain);
        for (size_t i = 0; i < ei->n_metadata; i++) {
            fprintf(out, "%s%s=%s", i == 0 ? ", metadata " : " ", ei->metadata[i]->key,
                    ei->metadata[i]->value);
        }
        fputc('\n', out);
    } else if (strcmp(t, "google.rpc.RetryInfo") == 0 &&
               lro_any_unpack(url, v, len, &google__rpc__retry_info__descriptor, &m) == LRO_OK) {
        fprintf(out, "%sRetryInfo: retry after ", indent);
        print_duration(out, ((Google__Rpc__RetryInfo *)m)->retry_delay);
        fputc('\n', out);
    } else if (strcmp(t, "google.rpc.BadRequest") == 0 &&
               lro_any_unpack(url, v, len, &google__rpc__bad_request__descriptor, &m) == LRO_OK) {
        Google__Rpc__BadRequest *br = (Google__Rpc__BadRequest *)m;
        if (br->n_field_violations == 0) {
            fprintf(out, "%sBadRequest: (no field violations)\n", indent);
        }
        for (size_t i = 0; i < br->n_field_violations; i++) {
            fprintf(out, "%sBadRequest: field %s: %s\n", indent, br->field_violations[i]->field,
                    br->field_violations[i]->description);
        }
    } else {
        /* Everything else by its type: lro-c's JSON (base64 when unknown). */
        fprintf(out, "%s%s: ", indent, t);
        print_any_json(out, url, v, len);
        fputc('\n', out);
    }
    lro_message_free(m);
}

void print_status_details(FILE *out, const lro_status *s, const char *indent)
{
    size_t n = s != NULL ? lro_status_detail_count(s) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *url = NULL;
        const uint8_t *v = NULL;
        size_t len = 0;
        if (lro_status_detail(s, i, &url, &v, &len) == LRO_OK) {
            print_one(out, indent, url != NULL ? url : "", v, len);
        }
    }
}

void print_status_json(FILE *out, const lro_status *s)
{
    char *json = NULL;
    if (s != NULL && lro_status_to_json(s, 0, &json, NULL) == LRO_OK) {
        fprintf(out, "%s\n", json);
        lro_free(json);
    }
}

int64_t status_retry_delay_ms(const lro_status *s)
{
    size_t n = s != NULL ? lro_status_detail_count(s) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *url = NULL;
        const uint8_t *v = NULL;
        size_t len = 0;
        ProtobufCMessage *m = NULL;
        if (lro_status_detail(s, i, &url, &v, &len) == LRO_OK && url != NULL &&
            strcmp(type_of(url), "google.rpc.RetryInfo") == 0 &&
            lro_any_unpack(url, v, len, &google__rpc__retry_info__descriptor, &m) == LRO_OK) {
            const Google__Protobuf__Duration *d = ((Google__Rpc__RetryInfo *)m)->retry_delay;
            int64_t ms = d != NULL ? d->seconds * 1000 + d->nanos / 1000000 : 0;
            lro_message_free(m);
            return ms >= 0 ? ms : 0;
        }
    }
    return -1;
}
