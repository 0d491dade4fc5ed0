/* Golden strings for the proto3 JSON writer, checked by hand against the
 * proto3 JSON mapping (json_check.sh compares with python's json_format). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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
#include "lro/json.h"

static int failures;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);                  \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- counting allocator: every lro allocation can be made to fail ---- */
static long g_fail_at = -1; /* allocation number that fails; -1: none */
static long g_count;
static long g_live;

static void *t_malloc(size_t n, void *ctx)
{
    (void)ctx;
    if (g_fail_at >= 0 && g_count++ == g_fail_at) {
        return NULL;
    }
    void *p = malloc(n);
    if (p) {
        g_live++;
    }
    return p;
}

static void *t_realloc(void *p, size_t n, void *ctx)
{
    (void)ctx;
    if (g_fail_at >= 0 && g_count++ == g_fail_at) {
        return NULL;
    }
    void *q = realloc(p, n);
    if (q && !p) {
        g_live++;
    }
    return q;
}

static void t_free(void *p, void *ctx)
{
    (void)ctx;
    if (p) {
        g_live--;
    }
    free(p);
}

/* ---- helpers ---- */
static char *to_json(const void *m, unsigned flags, int *rc)
{
    char *out = NULL;
    size_t len = 0;
    *rc = lro_message_to_json((const ProtobufCMessage *)m, flags, &out, &len);
    if (*rc == LRO_OK) {
        CHECK(strlen(out) == len);
    }
    return out;
}

static void expect(const void *m, unsigned flags, const char *want, int line)
{
    int rc;
    char *got = to_json(m, flags, &rc);
    if (rc != LRO_OK || strcmp(got, want) != 0) {
        fprintf(stderr, "line %d: rc=%d\n got: %s\nwant: %s\n", line, rc, got ? got : "(null)",
                want);
        failures++;
    }
    lro_free(got);
}
#define EXPECT(m, flags, want) expect((m), (flags), (want), __LINE__)

/* Packs m into a new Any (type URL "type.googleapis.com/<full name>"). */
static Google__Protobuf__Any *pack(const void *msg)
{
    const ProtobufCMessage *m = msg;
    Google__Protobuf__Any *a = malloc(sizeof *a);
    google__protobuf__any__init(a);
    size_t n = protobuf_c_message_get_packed_size(m);
    a->value.data = malloc(n ? n : 1);
    a->value.len = protobuf_c_message_pack(m, a->value.data);
    a->type_url = malloc(strlen(m->descriptor->name) + 32);
    sprintf(a->type_url, "type.googleapis.com/%s", m->descriptor->name);
    return a;
}

static void any_free(Google__Protobuf__Any *a)
{
    free(a->value.data);
    free(a->type_url);
    free(a);
}

/* ---- fixtures ---- */
static Google__Protobuf__Value *vnum(double d)
{
    Google__Protobuf__Value *v = calloc(1, sizeof *v);
    google__protobuf__value__init(v);
    v->kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    v->number_value = d;
    return v;
}

static void test_struct_metadata(void)
{
    /* metadata: Struct {"progress": 42.5, "state": "RUNNING", "tags": [true, null],
     * "nested": {}}; response: StringValue "ok". */
    Google__Protobuf__Value progress = GOOGLE__PROTOBUF__VALUE__INIT, state = progress,
                            tags = progress, nested = progress, t = progress, nul = progress;
    progress.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    progress.number_value = 42.5;
    state.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRING_VALUE;
    state.string_value = "RUNNING";
    t.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_BOOL_VALUE;
    t.bool_value = 1;
    nul.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NULL_VALUE;
    Google__Protobuf__Value *items[] = {&t, &nul};
    Google__Protobuf__ListValue lv = GOOGLE__PROTOBUF__LIST_VALUE__INIT;
    lv.n_values = 2;
    lv.values = items;
    tags.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_LIST_VALUE;
    tags.list_value = &lv;
    Google__Protobuf__Struct empty = GOOGLE__PROTOBUF__STRUCT__INIT;
    nested.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
    nested.struct_value = &empty;
    Google__Protobuf__Struct__FieldsEntry e[4] = {
        GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT, GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT,
        GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT, GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT};
    e[0].key = "state";
    e[0].value = &state;
    e[1].key = "progress";
    e[1].value = &progress;
    e[2].key = "tags";
    e[2].value = &tags;
    e[3].key = "nested";
    e[3].value = &nested;
    Google__Protobuf__Struct__FieldsEntry *ep[] = {&e[0], &e[1], &e[2], &e[3]};
    Google__Protobuf__Struct st = GOOGLE__PROTOBUF__STRUCT__INIT;
    st.n_fields = 4;
    st.fields = ep;
    Google__Protobuf__StringValue sv = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    sv.value = "ok";

    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.name = "operations/op-1";
    op.metadata = pack(&st);
    op.done = 1;
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
    op.response = pack(&sv);

    /* Map keys come out sorted. */
    EXPECT(&op, 0,
           "{\"name\":\"operations/op-1\",\"metadata\":{\"@type\":\"type.googleapis.com/"
           "google.protobuf.Struct\",\"value\":{\"nested\":{},\"progress\":42.5,\"state\":"
           "\"RUNNING\",\"tags\":[true,null]}},\"done\":true,\"response\":{\"@type\":"
           "\"type.googleapis.com/google.protobuf.StringValue\",\"value\":\"ok\"}}");
    EXPECT(&op, LRO_JSON_PRETTY,
           "{\n"
           "  \"name\": \"operations/op-1\",\n"
           "  \"metadata\": {\n"
           "    \"@type\": \"type.googleapis.com/google.protobuf.Struct\",\n"
           "    \"value\": {\n"
           "      \"nested\": {},\n"
           "      \"progress\": 42.5,\n"
           "      \"state\": \"RUNNING\",\n"
           "      \"tags\": [\n"
           "        true,\n"
           "        null\n"
           "      ]\n"
           "    }\n"
           "  },\n"
           "  \"done\": true,\n"
           "  \"response\": {\n"
           "    \"@type\": \"type.googleapis.com/google.protobuf.StringValue\",\n"
           "    \"value\": \"ok\"\n"
           "  }\n"
           "}");
    /* The wrappers agree. */
    char *a = NULL, *b = NULL;
    CHECK(lro_operation_to_json((const lro_operation *)&op, 0, &a, NULL) == LRO_OK);
    CHECK(lro_message_to_json(&op.base, 0, &b, NULL) == LRO_OK);
    CHECK(a && b && strcmp(a, b) == 0);
    lro_free(a);
    lro_free(b);
    /* A Struct straight (not in an Any) is a bare object. */
    EXPECT(&st, 0, "{\"nested\":{},\"progress\":42.5,\"state\":\"RUNNING\",\"tags\":[true,null]}");
    any_free(op.metadata);
    any_free(op.response);
}

static void test_failed_operation(void)
{
    Google__Rpc__ErrorInfo__MetadataEntry m1 = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT,
                                          m2 = m1, m3 = m1;
    m1.key = "service";
    m1.value = "speech.googleapis.com";
    m2.key = "quota_limit";
    m2.value = "first";
    m3.key = "quota_limit"; /* a duplicate key: the last one wins */
    m3.value = "100/min";
    Google__Rpc__ErrorInfo__MetadataEntry *mp[] = {&m1, &m2, &m3};
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.reason = "RATE_LIMIT_EXCEEDED";
    ei.domain = "googleapis.com";
    ei.n_metadata = 3;
    ei.metadata = mp;
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    d.seconds = 1;
    d.nanos = 500000000;
    Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
    ri.retry_delay = &d;
    Google__Protobuf__Any *det[] = {pack(&ei), pack(&ri)};
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 8;
    st.message = "Quota exceeded";
    st.n_details = 2;
    st.details = det;
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.name = "operations/failed";
    op.done = 1;
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
    op.error = &st;
    EXPECT(&op, 0,
           "{\"name\":\"operations/failed\",\"done\":true,\"error\":{\"code\":8,\"message\":"
           "\"Quota exceeded\",\"details\":[{\"@type\":\"type.googleapis.com/"
           "google.rpc.ErrorInfo\",\"reason\":\"RATE_LIMIT_EXCEEDED\",\"domain\":"
           "\"googleapis.com\",\"metadata\":{\"quota_limit\":\"100/min\",\"service\":"
           "\"speech.googleapis.com\"}},{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\","
           "\"retryDelay\":\"1.500s\"}]}}");
    char *s = NULL;
    CHECK(lro_status_to_json((const lro_status *)&st, 0, &s, NULL) == LRO_OK);
    const char *head = "{\"code\":8,\"message\":\"Quota exceeded\",\"details\":[";
    CHECK(s && strncmp(s, head, strlen(head)) == 0);
    lro_free(s);
    any_free(det[0]);
    any_free(det[1]);
}

static void test_page(void)
{
    Google__Longrunning__Operation o1 = GOOGLE__LONGRUNNING__OPERATION__INIT, o2 = o1;
    o1.name = "operations/a";
    o2.name = "operations/b";
    o2.done = 1;
    Google__Longrunning__Operation *ops[] = {&o1, &o2};
    char *unreachable[] = {"projects/p/locations/us-east1", "projects/p/locations/eu-west4"};
    Google__Longrunning__ListOperationsResponse p = GOOGLE__LONGRUNNING__LIST_OPERATIONS_RESPONSE__INIT;
    p.n_operations = 2;
    p.operations = ops;
    p.next_page_token = "tok==";
    p.n_unreachable = 2;
    p.unreachable = unreachable;
    const char *want = "{\"operations\":[{\"name\":\"operations/a\"},{\"name\":\"operations/b\","
                       "\"done\":true}],\"nextPageToken\":\"tok==\",\"unreachable\":["
                       "\"projects/p/locations/us-east1\",\"projects/p/locations/eu-west4\"]}";
    EXPECT(&p, 0, want);
    char *s = NULL;
    size_t len = 0;
    CHECK(lro_page_to_json((const lro_page *)&p, 0, &s, &len) == LRO_OK);
    CHECK(s && strcmp(s, want) == 0 && len == strlen(want));
    lro_free(s);
    Google__Longrunning__ListOperationsResponse empty =
        GOOGLE__LONGRUNNING__LIST_OPERATIONS_RESPONSE__INIT;
    EXPECT(&empty, 0, "{}");
    EXPECT(&empty, LRO_JSON_PRETTY, "{}");
}

static void test_scalars(void)
{
    /* int64 as strings, uint64 max, int32 as number, bytes base64 (1, 2, 3
     * byte tails), float shortest. */
    Google__Protobuf__Int64Value i64 = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    i64.value = -9007199254740993LL;
    EXPECT(&i64, 0, "\"-9007199254740993\"");
    Google__Protobuf__UInt64Value u64 = GOOGLE__PROTOBUF__UINT64_VALUE__INIT;
    u64.value = UINT64_MAX;
    EXPECT(&u64, 0, "\"18446744073709551615\"");
    Google__Protobuf__Int32Value i32 = GOOGLE__PROTOBUF__INT32_VALUE__INIT;
    EXPECT(&i32, 0, "0"); /* wrappers print their value even when zero */
    i32.value = -2147483647 - 1;
    EXPECT(&i32, 0, "-2147483648");
    Google__Protobuf__UInt32Value u32 = GOOGLE__PROTOBUF__UINT32_VALUE__INIT;
    u32.value = 4294967295u;
    EXPECT(&u32, 0, "4294967295");
    Google__Protobuf__BoolValue bv = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;
    EXPECT(&bv, 0, "false");
    Google__Protobuf__BytesValue by = GOOGLE__PROTOBUF__BYTES_VALUE__INIT;
    uint8_t raw[] = {0xfb, 0xff, 0x00, 'a', 'b'};
    by.value.data = raw;
    by.value.len = 1;
    EXPECT(&by, 0, "\"+w==\"");
    by.value.len = 2;
    EXPECT(&by, 0, "\"+/8=\"");
    by.value.len = 3;
    EXPECT(&by, 0, "\"+/8A\"");
    by.value.len = 5;
    EXPECT(&by, 0, "\"+/8AYWI=\"");
    by.value.len = 0;
    EXPECT(&by, 0, "\"\"");
    Google__Protobuf__FloatValue fv = GOOGLE__PROTOBUF__FLOAT_VALUE__INIT;
    fv.value = 0.1f;
    EXPECT(&fv, 0, "0.1");
    fv.value = 3.4028235e38f;
    EXPECT(&fv, 0, "3.4028235e+38");
    fv.value = 1e-45f; /* 6 digits first, as protobuf's ToShortestFloat */
    EXPECT(&fv, 0, "1.4013e-45");
    fv.value = NAN;
    EXPECT(&fv, 0, "\"NaN\"");
    Google__Protobuf__DoubleValue dv = GOOGLE__PROTOBUF__DOUBLE_VALUE__INIT;
    dv.value = 0.1;
    EXPECT(&dv, 0, "0.1");
    dv.value = 1.0 / 3;
    EXPECT(&dv, 0, "0.3333333333333333");
    dv.value = 1e21;
    EXPECT(&dv, 0, "1e+21");
    dv.value = -INFINITY;
    EXPECT(&dv, 0, "\"-Infinity\"");
    dv.value = INFINITY;
    EXPECT(&dv, 0, "\"Infinity\"");
    dv.value = 123456.0; /* python repr's layout: plain for exponents -4..15 */
    EXPECT(&dv, 0, "123456");
    dv.value = 1234567890123456.0;
    EXPECT(&dv, 0, "1234567890123456");
    dv.value = 1e16;
    EXPECT(&dv, 0, "1e+16");
    dv.value = -0.00012;
    EXPECT(&dv, 0, "-0.00012");
    dv.value = 1.5e-5;
    EXPECT(&dv, 0, "1.5e-05");
    dv.value = 5e-324;
    EXPECT(&dv, 0, "5e-324");

    /* Defaults omitted: code 0, empty message, no details; a present but
     * empty submessage prints as {}. */
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    EXPECT(&st, 0, "{}");
    Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
    EXPECT(&ri, 0, "{}");
    Google__Protobuf__Duration zero = GOOGLE__PROTOBUF__DURATION__INIT;
    ri.retry_delay = &zero;
    EXPECT(&ri, 0, "{\"retryDelay\":\"0s\"}");
    Google__Protobuf__Empty em = GOOGLE__PROTOBUF__EMPTY__INIT;
    EXPECT(&em, 0, "{}");
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
    op.error = &st; /* oneof member set to an all-default message: printed */
    EXPECT(&op, 0, "{\"error\":{}}");
    Google__Protobuf__Any any0 = GOOGLE__PROTOBUF__ANY__INIT;
    op.metadata = &any0;
    EXPECT(&op, 0, "{\"metadata\":{},\"error\":{}}");
    Google__Protobuf__Any *pe = pack(&em);
    op.metadata = pe;
    EXPECT(&op, 0,
           "{\"metadata\":{\"@type\":\"type.googleapis.com/google.protobuf.Empty\"},\"error\":{}}");
    any_free(pe);

    /* QuotaFailure.Violation: int64 as a string; a synthetic oneof member is
     * printed even when zero. */
    Google__Rpc__QuotaFailure__Violation v = GOOGLE__RPC__QUOTA_FAILURE__VIOLATION__INIT;
    v.quota_value = 1234567890123LL;
    v._future_quota_value_case = GOOGLE__RPC__QUOTA_FAILURE__VIOLATION___FUTURE_QUOTA_VALUE_FUTURE_QUOTA_VALUE;
    v.future_quota_value = 0;
    EXPECT(&v, 0, "{\"quotaValue\":\"1234567890123\",\"futureQuotaValue\":\"0\"}");

    /* Value: unset kind prints null; non-finite numbers have no JSON form. */
    Google__Protobuf__Value val = GOOGLE__PROTOBUF__VALUE__INIT;
    EXPECT(&val, 0, "null");
    val.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_NUMBER_VALUE;
    val.number_value = NAN;
    int rc;
    char *s = to_json(&val, 0, &rc);
    CHECK(rc == LRO_ERR_DECODE && s == NULL);
    val.number_value = -0.0;
    EXPECT(&val, 0, "-0");
    val.kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
    val.struct_value = NULL;
    EXPECT(&val, 0, "{}");
}

static void test_time(void)
{
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    struct {
        int64_t s;
        int32_t n;
        const char *want;
    } dt[] = {
        {0, 0, "\"0s\""},
        {1, 0, "\"1s\""},
        {1, 500000000, "\"1.500s\""},
        {0, 1000, "\"0.000001s\""},
        {0, 1, "\"0.000000001s\""},
        {-1, -500000000, "\"-1.500s\""},
        {0, -20000000, "\"-0.020s\""},
        {315576000000LL, 999999999, "\"315576000000.999999999s\""},
        {-315576000000LL, 0, "\"-315576000000s\""},
    };
    for (size_t i = 0; i < sizeof dt / sizeof dt[0]; i++) {
        d.seconds = dt[i].s;
        d.nanos = dt[i].n;
        EXPECT(&d, 0, dt[i].want);
    }
    int rc;
    d.seconds = 1;
    d.nanos = -1; /* mixed signs */
    CHECK(to_json(&d, 0, &rc) == NULL && rc == LRO_ERR_DECODE);
    d.seconds = 315576000001LL;
    d.nanos = 0;
    CHECK(to_json(&d, 0, &rc) == NULL && rc == LRO_ERR_DECODE);

    Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    struct {
        int64_t s;
        int32_t n;
        const char *want;
    } tt[] = {
        {0, 0, "\"1970-01-01T00:00:00Z\""},
        {1704164645, 0, "\"2024-01-02T03:04:05Z\""},
        {1704164645, 10000000, "\"2024-01-02T03:04:05.010Z\""},
        {1704164645, 123456000, "\"2024-01-02T03:04:05.123456Z\""},
        {1704164645, 1, "\"2024-01-02T03:04:05.000000001Z\""},
        {951782400, 0, "\"2000-02-29T00:00:00Z\""},
        {-1, 0, "\"1969-12-31T23:59:59Z\""},
        {-62135596800LL, 0, "\"0001-01-01T00:00:00Z\""},
        {253402300799LL, 999999999, "\"9999-12-31T23:59:59.999999999Z\""},
    };
    for (size_t i = 0; i < sizeof tt / sizeof tt[0]; i++) {
        t.seconds = tt[i].s;
        t.nanos = tt[i].n;
        EXPECT(&t, 0, tt[i].want);
    }
    t.seconds = 0;
    t.nanos = -1;
    CHECK(to_json(&t, 0, &rc) == NULL && rc == LRO_ERR_DECODE);
    t.seconds = 253402300800LL;
    t.nanos = 0;
    CHECK(to_json(&t, 0, &rc) == NULL && rc == LRO_ERR_DECODE);
}

static void test_strings(void)
{
    Google__Protobuf__StringValue sv = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
    sv.value = "q\"b\\s/\n\t\r\b\f\x01\x1f\x7f";
    EXPECT(&sv, 0, "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\"");
    sv.value = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* valid UTF-8 passes through */
    EXPECT(&sv, 0, "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Invalid UTF-8: lone continuation, truncated sequence, overlong,
     * surrogate, > U+10FFFF, 0xFF. One U+FFFD per maximal invalid subpart. */
    sv.value = "a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf4\x90\x80\x80" "f\xff" "\xe2";
    EXPECT(&sv, 0,
           "\"a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd"
           "d\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "e\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
           "f\xef\xbf\xbd\xef\xbf\xbd\"");
    /* Map keys and type URLs are escaped too. */
    Google__Rpc__ErrorInfo__MetadataEntry e = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT;
    e.key = "k\"\n";
    e.value = "\xff";
    Google__Rpc__ErrorInfo__MetadataEntry *ep[] = {&e};
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.n_metadata = 1;
    ei.metadata = ep;
    EXPECT(&ei, 0, "{\"metadata\":{\"k\\\"\\n\":\"\xef\xbf\xbd\"}}");
}

static void test_unknown_any(void)
{
    uint8_t raw[] = {0x08, 0x96, 0x01};
    Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
    a.type_url = "type.example.com/acme.Frobnicate\"";
    a.value.data = raw;
    a.value.len = sizeof raw;
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.metadata = &a;
    EXPECT(&op, 0,
           "{\"metadata\":{\"@type\":\"type.example.com/acme.Frobnicate\\\"\",\"value\":\"CJYB\"}}");
    /* A known type whose bytes do not decode: the same fallback. */
    uint8_t bad[] = {0x0a, 0x05, 'x'};
    a.type_url = "type.googleapis.com/google.rpc.Status";
    a.value.data = bad;
    a.value.len = sizeof bad;
    EXPECT(&op, 0,
           "{\"metadata\":{\"@type\":\"type.googleapis.com/google.rpc.Status\",\"value\":"
           "\"CgV4\"}}");
    /* A known type with no JSON form (NaN in a Value): the same fallback. */
    Google__Protobuf__Value *nan = vnum(NAN);
    Google__Protobuf__Any *p = pack(nan);
    op.metadata = p;
    EXPECT(&op, LRO_JSON_PRETTY,
           "{\n  \"metadata\": {\n    \"@type\": \"type.googleapis.com/google.protobuf.Value\",\n"
           "    \"value\": \"EQAAAAAAAPh/\"\n  }\n}");
    any_free(p);
    free(nan);
    /* No '/' in the URL: the whole string is the name; any in any. */
    Google__Protobuf__Int64Value i = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    i.value = 7;
    Google__Protobuf__Any *inner = pack(&i);
    Google__Protobuf__Any *outer = pack(inner);
    free(outer->type_url);
    outer->type_url = strdup("google.protobuf.Any");
    op.metadata = outer;
    EXPECT(&op, 0,
           "{\"metadata\":{\"@type\":\"google.protobuf.Any\",\"value\":{\"@type\":"
           "\"type.googleapis.com/google.protobuf.Int64Value\",\"value\":\"7\"}}}");
    any_free(inner);
    any_free(outer);
    /* A known type with no bytes at all (data NULL): the default message. */
    Google__Protobuf__Any e = GOOGLE__PROTOBUF__ANY__INIT;
    e.type_url = "type.googleapis.com/google.protobuf.Struct";
    op.metadata = &e;
    EXPECT(&op, 0,
           "{\"metadata\":{\"@type\":\"type.googleapis.com/google.protobuf.Struct\",\"value\":{}}}");
    e.type_url = "type.googleapis.com/google.protobuf.Value";
    EXPECT(&op, 0,
           "{\"metadata\":{\"@type\":\"type.googleapis.com/google.protobuf.Value\",\"value\":null}}");
}

/* Value -> Struct -> Value ... `levels` deep, built in C. */
static void test_depth(void)
{
    enum { N = 300 };
    static Google__Protobuf__Value vals[N];
    static Google__Protobuf__Struct sts[N];
    static Google__Protobuf__Struct__FieldsEntry ents[N];
    static Google__Protobuf__Struct__FieldsEntry *entp[N];
    for (int i = 0; i < N; i++) {
        google__protobuf__value__init(&vals[i]);
        google__protobuf__struct__init(&sts[i]);
        google__protobuf__struct__fields_entry__init(&ents[i]);
        entp[i] = &ents[i];
        ents[i].key = "a";
        sts[i].n_fields = 1;
        sts[i].fields = &entp[i];
        vals[i].kind_case = GOOGLE__PROTOBUF__VALUE__KIND_STRUCT_VALUE;
        vals[i].struct_value = &sts[i];
        ents[i].value = i + 1 < N ? &vals[i + 1] : NULL;
    }
    int rc;
    char *s = to_json(&vals[0], 0, &rc);
    CHECK(rc == LRO_ERR_DECODE && s == NULL);
    /* Exactly 100 messages deep (sts[49] is the 100th) prints; 101 does not
     * (an unset map value still prints as a default Value, one level more). */
    ents[49].value = NULL;
    sts[49].n_fields = 0;
    s = to_json(&vals[0], 0, &rc);
    CHECK(rc == LRO_OK && s != NULL && strlen(s) == 49 * 5 + 2 + 49);
    lro_free(s);
    sts[49].n_fields = 1;
    s = to_json(&vals[0], 0, &rc);
    CHECK(rc == LRO_ERR_DECODE && s == NULL);
    ents[49].value = &vals[50];
    /* A cycle is just very deep. */
    ents[N - 1].value = &vals[0];
    s = to_json(&vals[0], LRO_JSON_PRETTY, &rc);
    CHECK(rc == LRO_ERR_DECODE && s == NULL);

    /* Hostile bytes: ListValue{Value{ListValue{...}}} 100000 levels deep
     * would overflow protobuf-c's recursive decoder without the check. */
    enum { LEVELS = 2 * 100000 };
    size_t *sizes = malloc((LEVELS + 1) * sizeof *sizes); /* inside out */
    sizes[0] = 0;
    for (int k = 0; k < LEVELS; k++) {
        size_t h = 1;
        for (size_t v = sizes[k]; v > 0x7f; v >>= 7) {
            h++;
        }
        sizes[k + 1] = sizes[k] + 1 + h;
    }
    size_t len = sizes[LEVELS];
    uint8_t *buf = malloc(len), *o = buf;
    for (int k = LEVELS - 1; k >= 0; k--) { /* outside in */
        *o++ = (LEVELS - 1 - k) % 2 == 0 ? 0x0a : 0x32; /* ListValue.values / Value.list_value */
        size_t v = sizes[k];
        for (; v > 0x7f; v >>= 7) {
            *o++ = (uint8_t)((v & 0x7f) | 0x80);
        }
        *o++ = (uint8_t)v;
    }
    CHECK((size_t)(o - buf) == len);
    free(sizes);
    char *out = NULL;
    CHECK(lro_json_from_bytes(&google__protobuf__list_value__descriptor, buf, len, 0, &out,
                              NULL) == LRO_ERR_DECODE);
    CHECK(out == NULL);
    /* The same bytes inside an Any inside an Operation. */
    Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
    a.type_url = "type.googleapis.com/google.protobuf.ListValue";
    a.value.data = buf;
    a.value.len = len;
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.metadata = &a;
    s = to_json(&op, 0, &rc);
    CHECK(rc == LRO_ERR_DECODE && s == NULL);
    free(buf);

    /* Nested Any: 40 levels print, 200 do not. */
    Google__Protobuf__Int64Value i = GOOGLE__PROTOBUF__INT64_VALUE__INIT;
    Google__Protobuf__Any *cur = pack(&i);
    for (int k = 1; k <= 200; k++) {
        Google__Protobuf__Any *next = pack(cur);
        any_free(cur);
        cur = next;
        if (k == 40) {
            s = to_json(cur, 0, &rc);
            CHECK(rc == LRO_OK && s != NULL);
            lro_free(s);
        }
    }
    s = to_json(cur, 0, &rc);
    CHECK(rc == LRO_ERR_DECODE && s == NULL);
    any_free(cur);
}

static void test_args(void)
{
    char *out = (char *)"untouched";
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    CHECK(lro_message_to_json(NULL, 0, &out, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(lro_message_to_json(&st.base, 0, NULL, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(lro_operation_to_json(NULL, 0, &out, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(lro_page_to_json(NULL, 0, &out, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(lro_status_to_json(NULL, 0, &out, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(lro_status_to_json((const lro_status *)&st, 0, NULL, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(lro_json_from_bytes(NULL, NULL, 0, 0, &out, NULL) == LRO_ERR_INVALID_ARG);
    CHECK(strcmp(out, "untouched") == 0);
    /* Bad bytes do not decode. */
    uint8_t junk[] = {0x0a, 0xff};
    CHECK(lro_json_from_bytes(&google__longrunning__operation__descriptor, junk, 2, 0, &out,
                              NULL) == LRO_ERR_DECODE);
    CHECK(lro_json_from_bytes(&google__longrunning__operation__descriptor, NULL, 0, 0, &out,
                              NULL) == LRO_OK);
    CHECK(strcmp(out, "{}") == 0);
    lro_free(out);
}

/* Every allocation failing in turn: LRO_ERR_NOMEM and nothing leaked, until
 * enough allocations succeed and the output is the same as without faults. */
static void nomem_loop(const ProtobufCMessage *m, unsigned flags)
{
    char *ref = NULL;
    CHECK(lro_message_to_json(m, flags, &ref, NULL) == LRO_OK);
    int ok = 0;
    for (long k = 0; k < 10000 && !ok; k++) {
        char *out = NULL;
        long live = g_live;
        g_count = 0;
        g_fail_at = k;
        int rc = lro_message_to_json(m, flags, &out, NULL);
        g_fail_at = -1;
        if (rc == LRO_OK) {
            CHECK(g_count <= k); /* succeeded only once no allocation failed */
            CHECK(ref && strcmp(out, ref) == 0);
            lro_free(out);
            ok = 1;
        } else {
            CHECK(rc == LRO_ERR_NOMEM);
            CHECK(out == NULL);
        }
        CHECK(g_live == live);
    }
    CHECK(ok);
    lro_free(ref);
}

static void test_nomem(void)
{
    Google__Rpc__ErrorInfo__MetadataEntry m1 = GOOGLE__RPC__ERROR_INFO__METADATA_ENTRY__INIT;
    m1.key = "k";
    m1.value = "v";
    Google__Rpc__ErrorInfo__MetadataEntry *mp[] = {&m1};
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.reason = "R";
    ei.n_metadata = 1;
    ei.metadata = mp;
    Google__Protobuf__Value *v = vnum(1.5);
    Google__Protobuf__Value *nan = vnum(NAN);
    /* A Struct with an unset map value (printed from a default instance). */
    Google__Protobuf__Struct__FieldsEntry fe = GOOGLE__PROTOBUF__STRUCT__FIELDS_ENTRY__INIT;
    fe.key = "unset";
    Google__Protobuf__Struct__FieldsEntry *fep[] = {&fe};
    Google__Protobuf__Struct st0 = GOOGLE__PROTOBUF__STRUCT__INIT;
    st0.n_fields = 1;
    st0.fields = fep;
    Google__Protobuf__Any *det[] = {pack(&ei), pack(v), pack(nan), pack(&st0)};
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 3;
    st.message = "m";
    st.n_details = 4;
    st.details = det;
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.name = "operations/nomem";
    op.metadata = det[3];
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
    op.error = &st;
    EXPECT(&st0, 0, "{\"unset\":null}");
    nomem_loop(&op.base, 0);
    nomem_loop(&op.base, LRO_JSON_PRETTY);
    nomem_loop(&st0.base, 0);
    for (int i = 0; i < 4; i++) {
        any_free(det[i]);
    }
    free(v);
    free(nan);
}

/* Random bytes and mutations of a real encoding must never crash. */
static void test_garbage(void)
{
    Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
    ei.reason = "R";
    Google__Protobuf__Any *a = pack(&ei);
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 3;
    st.n_details = 1;
    st.details = &a;
    Google__Longrunning__Operation op = GOOGLE__LONGRUNNING__OPERATION__INIT;
    op.name = "operations/x";
    op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
    op.error = &st;
    uint8_t base[256], buf[256];
    size_t n = protobuf_c_message_pack(&op.base, base);
    unsigned seed = 12345;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, base, n);
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % n] = (uint8_t)(seed >> 20);
        }
        char *out = NULL;
        int rc = lro_json_from_bytes(&google__longrunning__operation__descriptor, buf, n,
                                     it & 1 ? LRO_JSON_PRETTY : 0, &out, NULL);
        CHECK(rc == LRO_OK || rc == LRO_ERR_DECODE);
        CHECK((rc == LRO_OK) == (out != NULL));
        lro_free(out);
    }
    any_free(a);
}

int main(void)
{
    static const lro_allocator alloc = {t_malloc, t_realloc, t_free, NULL};
    lro_set_allocator(&alloc);
    test_struct_metadata();
    test_failed_operation();
    test_page();
    test_scalars();
    test_time();
    test_strings();
    test_unknown_any();
    test_depth();
    test_args();
    test_nomem();
    test_garbage();
    CHECK(g_live == 0);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("json_test: all passed\n");
    return 0;
}
