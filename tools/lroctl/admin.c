/* lroctl admin: drives lro.testing.v1.OperationsAdmin (the control API of
 * `lroctl serve --admin`, proto/lro/testing/v1/admin.proto): flags ->
 * request, answer -> output. The call itself is in admin_rpc.c, the VALUE
 * specs in admin_values.c. */
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "google/longrunning/operations.pb-c.h"
#include "google/protobuf/empty.pb-c.h"
#include "google/rpc/error_details.pb-c.h"
#include "lro/testing/v1/admin.pb-c.h"

#define DEFAULT_DOMAIN "lro-c.testing"

/* ---- flags ---- */

typedef struct admin_args {
    const char *pos[2];
    int npos;
    int done, clear;
    const char *response, *metadata, *code, *message, *reason, *domain;
    const char *methods, *name, *name_suffix, *times, *kind, *garbage_hex, *big_size, *limit;
    int64_t delay_ms, retry_delay_ms, latency_ms;
    int has_delay, has_retry_delay, has_latency;
} admin_args;

/* Flags each subcommand accepts (space separated, with spaces around). */
static const struct {
    const char *cmd;
    int min_pos, max_pos;
    const char *flags;
} k_subs[] = {
    {"put", 1, 1, " --done --response --metadata --code --message --reason --domain "},
    {"complete", 1, 1, " --response --delay "},
    {"fail", 1, 1, " --code --message --reason --domain --delay "},
    {"progress", 1, 2, " --metadata --clear "},
    {"fault", 0, 0,
     " --method --name --name-suffix --times --kind --code --message --reason --domain "
     "--retry-delay "
     "--latency --garbage-hex --big-size "},
    {"clear-faults", 0, 0, " "},
    {"calls", 0, 0, " --method --name --limit "},
    {"clear-calls", 0, 0, " "},
};

static int flag_allowed(const char *flags, const char *flag)
{
    char key[40];
    snprintf(key, sizeof key, " %s ", flag);
    return strstr(flags, key) != NULL;
}

static int parse_args(conn_opts *co, int sub, int argc, char **argv, admin_args *a)
{
    const char *cmd = k_subs[sub].cmd;
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        int r = parse_global_flag(co, argc, argv, &i);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r == 1) {
            continue;
        }
        const char *f = argv[i];
        if (f[0] != '-' || f[1] == '\0') {
            if (a->npos == k_subs[sub].max_pos) {
                die_msg("admin %s: unexpected argument '%s' (see lroctl admin --help)", cmd, f);
                return EXIT_USAGE;
            }
            a->pos[a->npos++] = f;
            continue;
        }
        if (!flag_allowed(k_subs[sub].flags, f)) {
            die_msg("admin %s: unknown flag '%s' (see lroctl admin --help)", cmd, f);
            return EXIT_USAGE;
        }
        if (strcmp(f, "--done") == 0) {
            a->done = 1;
            continue;
        }
        if (strcmp(f, "--clear") == 0) {
            a->clear = 1;
            continue;
        }
        if (i + 1 >= argc) {
            die_msg("admin %s: %s needs a value", cmd, f);
            return EXIT_USAGE;
        }
        const char *v = argv[++i];
        int64_t *dur = strcmp(f, "--delay") == 0         ? &a->delay_ms
                       : strcmp(f, "--retry-delay") == 0 ? &a->retry_delay_ms
                       : strcmp(f, "--latency") == 0     ? &a->latency_ms
                                                         : NULL;
        if (dur != NULL) {
            if (parse_duration_ms(v, dur) < 0) {
                die_msg("admin %s: %s '%s' is not a duration (e.g. 500ms, 10s, 2m)", cmd, f, v);
                return EXIT_USAGE;
            }
            *(dur == &a->delay_ms         ? &a->has_delay
              : dur == &a->retry_delay_ms ? &a->has_retry_delay
                                          : &a->has_latency) = 1;
            continue;
        }
        const char **slot = strcmp(f, "--response") == 0      ? &a->response
                            : strcmp(f, "--metadata") == 0    ? &a->metadata
                            : strcmp(f, "--code") == 0        ? &a->code
                            : strcmp(f, "--message") == 0     ? &a->message
                            : strcmp(f, "--reason") == 0      ? &a->reason
                            : strcmp(f, "--domain") == 0      ? &a->domain
                            : strcmp(f, "--method") == 0      ? &a->methods
                            : strcmp(f, "--name") == 0        ? &a->name
                            : strcmp(f, "--name-suffix") == 0 ? &a->name_suffix
                            : strcmp(f, "--times") == 0       ? &a->times
                            : strcmp(f, "--kind") == 0        ? &a->kind
                            : strcmp(f, "--garbage-hex") == 0 ? &a->garbage_hex
                            : strcmp(f, "--big-size") == 0    ? &a->big_size
                                                              : &a->limit;
        *slot = v;
    }
    if (a->npos < k_subs[sub].min_pos) {
        die_msg("admin %s: missing NAME (see lroctl admin --help)", cmd);
        return EXIT_USAGE;
    }
    if (a->domain != NULL && a->reason == NULL) {
        die_msg("admin %s: --domain needs --reason (they make one google.rpc.ErrorInfo)", cmd);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* Methods "get,list,..." -> Method values (at most 5). */
static int parse_methods(const char *spec, Lro__Testing__V1__Method *out, size_t *n)
{
    static const char *const names[] = {"list", "get", "delete", "cancel", "wait"};
    *n = 0;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int k = 0; k < 5; k++) {
            if (strlen(names[k]) == len && strncmp(p, names[k], len) == 0) {
                found = k;
            }
        }
        if (found < 0 || *n == 5) {
            die_msg("--method: '%s' is not a list of list,get,delete,cancel,wait", spec);
            return EXIT_USAGE;
        }
        out[(*n)++] = (Lro__Testing__V1__Method)(found + 1);
        p += len;
        if (*p == ',') {
            p++;
        }
    }
    if (*n == 0) {
        die_msg("--method: give at least one of list,get,delete,cancel,wait");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* The google.rpc.Status of --code/--message/--reason/--domain, with its
 * ErrorInfo detail packed into *info_any (storage owned by the caller). */
typedef struct status_build {
    Google__Rpc__Status st;
    Google__Protobuf__Any detail, *detail_ptr;
    any_val info;
} status_build;

static int build_status(const char *cmd, const admin_args *a, status_build *b)
{
    memset(b, 0, sizeof *b);
    google__rpc__status__init(&b->st);
    int code = adm_parse_code(a->code);
    if (code < 0) {
        die_msg("admin %s: --code '%s' is not a gRPC error code (1..16 or a name such as "
                "UNAVAILABLE)",
                cmd, a->code);
        return EXIT_USAGE;
    }
    b->st.code = code;
    b->st.message = (char *)(a->message != NULL ? a->message : "");
    if (a->reason != NULL) {
        Google__Rpc__ErrorInfo ei = GOOGLE__RPC__ERROR_INFO__INIT;
        ei.reason = (char *)a->reason;
        ei.domain = (char *)(a->domain != NULL ? a->domain : DEFAULT_DOMAIN);
        if (adm_pack_into(&b->info, "google.rpc.ErrorInfo", &ei.base) != 0) {
            die_msg("out of memory");
            return EXIT_LOCAL;
        }
        adm_any_view(&b->detail, &b->info);
        b->detail_ptr = &b->detail;
        b->st.n_details = 1;
        b->st.details = &b->detail_ptr;
    }
    return EXIT_OK;
}

/* ---- output ---- */

/* The status details after the error line, as for every command (in json
 * format the whole google.rpc.Status as one line of proto3 JSON; in text
 * format one indented line per detail). */
static void report_status_details(const conn_opts *co, const Google__Rpc__Status *st)
{
    (void)co; /* report_details follows the run's --format */
    if (st != NULL) {
        report_details((const lro_status *)st);
    }
}

static int rpc_failed(const conn_opts *co, const char *cmd, const rpc_out *r)
{
    int code = r->code >= 1 && r->code <= 16 ? r->code : LRO_CODE_UNKNOWN;
    fprintf(stderr, "lroctl: admin %s failed: %s: %s\n", cmd, lro_code_name(r->code),
            r->message != NULL ? r->message : "");
    report_status_details(co, r->status);
    return EXIT_RPC_BASE + code;
}

static int print_json(const ProtobufCMessage *m)
{
    char *json = NULL;
    int rc = lro_message_to_json(m, LRO_JSON_PRETTY, &json, NULL);
    return emit_json(rc, json, "answer");
}

static const char *method_name(Lro__Testing__V1__Method m)
{
    static const char *const names[] = {"?", "list", "get", "delete", "cancel", "wait"};
    return (int)m >= 0 && (int)m <= 5 ? names[m] : "?";
}

/* Binary (-bin) header values, as hex. */
static void print_hex(const ProtobufCBinaryData *v)
{
    printf("0x");
    for (size_t i = 0; i < v->len; i++) {
        printf("%02x", v->data[i]);
    }
}

static void print_calls_text(const Lro__Testing__V1__ListCallsResponse *r)
{
    printf("%-7s %-60s %-18s %s\n", "METHOD", "NAME", "CODE", "DEADLINE");
    for (size_t i = 0; i < r->n_calls; i++) {
        const Lro__Testing__V1__Call *c = r->calls[i];
        char dl[32] = "none";
        if (c->deadline != NULL) {
            snprintf(dl, sizeof dl, "%lldms",
                     (long long)(c->deadline->seconds * 1000 + c->deadline->nanos / 1000000));
        }
        printf("%-7s %-60s %-18s %s\n", method_name(c->method), c->name,
               c->code < 0 ? "(held)" : lro_code_name(c->code), dl);
        for (size_t k = 0; k < c->n_headers; k++) {
            printf("    %s: ", c->headers[k]->key);
            if (c->headers[k]->binary_value.len > 0) {
                print_hex(&c->headers[k]->binary_value);
            } else {
                printf("%s", c->headers[k]->value);
            }
            printf("\n");
        }
    }
    printf("total %llu\n", (unsigned long long)r->total);
}

static int print_answer(const conn_opts *co, const ProtobufCMessage *m)
{
    if (m->descriptor == &google__longrunning__operation__descriptor) {
        if (co->format == FMT_TEXT) {
            print_text_header();
            print_text_row((const lro_operation *)m);
            return EXIT_OK;
        }
        return print_json(m);
    }
    if (m->descriptor == &lro__testing__v1__list_calls_response__descriptor) {
        if (co->format == FMT_TEXT) {
            print_calls_text((const Lro__Testing__V1__ListCallsResponse *)m);
            return EXIT_OK;
        }
        return print_json(m);
    }
    printf(co->format == FMT_TEXT ? "ok\n" : "{}\n"); /* google.protobuf.Empty */
    return EXIT_OK;
}

/* ---- the subcommands: build the request ---- */

/* Everything a request may point at, freed together. */
typedef struct req_store {
    any_val resp, meta, garbage;
    status_build sb;
    Google__Protobuf__Any resp_any, meta_any;
    Google__Protobuf__Duration d1, d2;
    Google__Longrunning__Operation op;
    Lro__Testing__V1__Method methods[5];
    Lro__Testing__V1__Fault fault;
    union {
        Lro__Testing__V1__PutOperationRequest put;
        Lro__Testing__V1__CompleteOperationRequest complete;
        Lro__Testing__V1__FailOperationRequest fail;
        Lro__Testing__V1__SetMetadataRequest set_metadata;
        Lro__Testing__V1__AddFaultRequest add_fault;
        Lro__Testing__V1__ClearFaultsRequest clear_faults;
        Lro__Testing__V1__ListCallsRequest list_calls;
        Lro__Testing__V1__ClearCallsRequest clear_calls;
    } q;
} req_store;

static void req_store_free(req_store *s)
{
    adm_any_free(&s->resp);
    adm_any_free(&s->meta);
    adm_any_free(&s->garbage);
    adm_any_free(&s->sb.info);
}

static int build_put(const admin_args *a, req_store *s)
{
    if (a->response != NULL && a->code != NULL) {
        die_msg("admin put: --response and --code exclude each other (an operation has one "
                "result)");
        return EXIT_USAGE;
    }
    if (a->code == NULL && (a->message != NULL || a->reason != NULL)) {
        die_msg("admin put: --message and --reason describe an error: add --code");
        return EXIT_USAGE;
    }
    int rc;
    google__longrunning__operation__init(&s->op);
    s->op.name = (char *)a->pos[0];
    s->op.done = a->done || a->response != NULL || a->code != NULL;
    if (a->metadata != NULL) {
        if ((rc = adm_parse_value("--metadata", a->metadata, &s->meta)) != EXIT_OK) {
            return rc;
        }
        adm_any_view(&s->meta_any, &s->meta);
        s->op.metadata = &s->meta_any;
    }
    if (a->response != NULL) {
        if ((rc = adm_parse_value("--response", a->response, &s->resp)) != EXIT_OK) {
            return rc;
        }
        adm_any_view(&s->resp_any, &s->resp);
        s->op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_RESPONSE;
        s->op.response = &s->resp_any;
    } else if (a->code != NULL) {
        if ((rc = build_status("put", a, &s->sb)) != EXIT_OK) {
            return rc;
        }
        s->op.result_case = GOOGLE__LONGRUNNING__OPERATION__RESULT_ERROR;
        s->op.error = &s->sb.st;
    }
    lro__testing__v1__put_operation_request__init(&s->q.put);
    s->q.put.operation = &s->op;
    return EXIT_OK;
}

static int build_complete(const admin_args *a, req_store *s)
{
    lro__testing__v1__complete_operation_request__init(&s->q.complete);
    s->q.complete.name = (char *)a->pos[0];
    if (a->response != NULL) {
        int rc = adm_parse_value("--response", a->response, &s->resp);
        if (rc != EXIT_OK) {
            return rc;
        }
        adm_any_view(&s->resp_any, &s->resp);
        s->q.complete.result_case = LRO__TESTING__V1__COMPLETE_OPERATION_REQUEST__RESULT_RESPONSE;
        s->q.complete.response = &s->resp_any;
    }
    if (a->has_delay) {
        s->q.complete.delay = adm_ms_duration(&s->d1, a->delay_ms);
    }
    return EXIT_OK;
}

static int build_fail(const admin_args *a, req_store *s)
{
    if (a->code == NULL) {
        die_msg("admin fail: --code is required (e.g. --code INTERNAL)");
        return EXIT_USAGE;
    }
    int rc = build_status("fail", a, &s->sb);
    if (rc != EXIT_OK) {
        return rc;
    }
    lro__testing__v1__fail_operation_request__init(&s->q.fail);
    s->q.fail.name = (char *)a->pos[0];
    s->q.fail.error = &s->sb.st;
    if (a->has_delay) {
        s->q.fail.delay = adm_ms_duration(&s->d1, a->delay_ms);
    }
    return EXIT_OK;
}

static int build_progress(const admin_args *a, req_store *s)
{
    int given = (a->npos == 2) + (a->metadata != NULL) + a->clear;
    if (given != 1) {
        die_msg("admin progress: give exactly one of PERCENT, --metadata VALUE or --clear");
        return EXIT_USAGE;
    }
    lro__testing__v1__set_metadata_request__init(&s->q.set_metadata);
    s->q.set_metadata.name = (char *)a->pos[0];
    int rc = EXIT_OK;
    if (a->npos == 2) {
        double d;
        if (adm_parse_double(a->pos[1], &d) != 0 || d < 0 || d > 100) {
            die_msg("admin progress: PERCENT '%s' is not a number from 0 to 100", a->pos[1]);
            return EXIT_USAGE;
        }
        char spec[64];
        snprintf(spec, sizeof spec, "progress=%s", a->pos[1]);
        rc = adm_pack_struct(&s->meta, spec, "PERCENT") == 0 ? EXIT_OK : EXIT_LOCAL;
    } else if (a->metadata != NULL) {
        rc = adm_parse_value("--metadata", a->metadata, &s->meta);
    }
    if (rc == EXIT_OK && !a->clear) {
        adm_any_view(&s->meta_any, &s->meta);
        s->q.set_metadata.metadata = &s->meta_any;
    }
    return rc;
}

static int build_fault(const admin_args *a, req_store *s)
{
    static const char *const kinds[] = {"status",     "latency", "garbage",
                                        "disconnect", "big",     "bad-details"};
    Lro__Testing__V1__Fault *f = &s->fault;
    lro__testing__v1__fault__init(f);
    int kind = a->kind == NULL && a->has_latency && a->code == NULL ? 1 : 0;
    if (a->kind != NULL) {
        kind = -1;
        for (int k = 0; k < 6; k++) {
            if (strcmp(a->kind, kinds[k]) == 0) {
                kind = k;
            }
        }
        if (kind < 0) {
            die_msg("admin fault: --kind '%s' is not status, latency, garbage, disconnect, big "
                    "or bad-details",
                    a->kind);
            return EXIT_USAGE;
        }
    }
    f->kind = (Lro__Testing__V1__FaultKind)kind;
    int rc;
    if (a->methods != NULL &&
        (rc = parse_methods(a->methods, s->methods, &f->n_methods)) != EXIT_OK) {
        return rc;
    }
    f->methods = s->methods;
    f->name = (char *)(a->name != NULL ? a->name : "");
    f->name_suffix = (char *)(a->name_suffix != NULL ? a->name_suffix : "");
    if (a->times != NULL) {
        char *end = NULL;
        long n = strtol(a->times, &end, 10);
        if (strcmp(a->times, "forever") == 0) {
            f->times = -1;
        } else if (end != a->times && *end == '\0' && n >= 1 && n <= 1000000000) {
            f->times = (int32_t)n;
        } else {
            die_msg("admin fault: --times '%s' is not a count >= 1 or 'forever'", a->times);
            return EXIT_USAGE;
        }
    }
    /* Status-like kinds need a code; the server checks the rest and names
     * the field that does not fit the kind. */
    if (a->code != NULL || kind == 0 || kind == 5) {
        if (a->code == NULL) {
            die_msg("admin fault: --code is required for kind %s", kinds[kind]);
            return EXIT_USAGE;
        }
        if ((rc = build_status("fault", a, &s->sb)) != EXIT_OK) {
            return rc;
        }
        f->status = &s->sb.st;
    } else if (a->message != NULL || a->reason != NULL) {
        die_msg("admin fault: --message and --reason need --code");
        return EXIT_USAGE;
    }
    if (a->has_retry_delay) {
        f->retry_delay = adm_ms_duration(&s->d1, a->retry_delay_ms);
    }
    if (a->has_latency) {
        f->latency = adm_ms_duration(&s->d2, a->latency_ms);
    }
    if (a->garbage_hex != NULL) {
        s->garbage.data = adm_parse_hex(a->garbage_hex, &s->garbage.len);
        if (s->garbage.data == NULL) {
            die_msg("admin fault: --garbage-hex '%s' is not hex bytes", a->garbage_hex);
            return EXIT_USAGE;
        }
        f->garbage.data = s->garbage.data;
        f->garbage.len = s->garbage.len;
    }
    if (a->big_size != NULL) {
        char *end = NULL;
        unsigned long long n = strtoull(a->big_size, &end, 10);
        if (end == a->big_size || *end != '\0' || a->big_size[0] == '-') {
            die_msg("admin fault: --big-size '%s' is not a number of bytes", a->big_size);
            return EXIT_USAGE;
        }
        f->big_size = n;
    }
    lro__testing__v1__add_fault_request__init(&s->q.add_fault);
    s->q.add_fault.fault = f;
    return EXIT_OK;
}

static int build_calls(const admin_args *a, req_store *s)
{
    lro__testing__v1__list_calls_request__init(&s->q.list_calls);
    int rc;
    if (a->methods != NULL &&
        (rc = parse_methods(a->methods, s->methods, &s->q.list_calls.n_methods)) != EXIT_OK) {
        return rc;
    }
    s->q.list_calls.methods = s->methods;
    s->q.list_calls.name = (char *)(a->name != NULL ? a->name : "");
    if (a->limit != NULL) {
        char *end = NULL;
        long n = strtol(a->limit, &end, 10);
        if (end == a->limit || *end != '\0' || n < 1 || n > 1000000) {
            die_msg("admin calls: --limit '%s' is not a count >= 1", a->limit);
            return EXIT_USAGE;
        }
        s->q.list_calls.limit = (int32_t)n;
    }
    return EXIT_OK;
}

static int build_clear_faults(const admin_args *a, req_store *s)
{
    (void)a; /* ClearFaultsRequest has no fields */
    lro__testing__v1__clear_faults_request__init(&s->q.clear_faults);
    return EXIT_OK;
}

static int build_clear_calls(const admin_args *a, req_store *s)
{
    (void)a; /* ClearCallsRequest has no fields */
    lro__testing__v1__clear_calls_request__init(&s->q.clear_calls);
    return EXIT_OK;
}

/* Per subcommand, in k_subs order: the admin method it calls, the builder
 * of its request (in s->q) and the type of the answer. */
static const struct {
    const char *method;
    int (*build)(const admin_args *a, req_store *s);
    const ProtobufCMessageDescriptor *resp;
} k_rpcs[] = {
    {"PutOperation", build_put, &google__longrunning__operation__descriptor},
    {"CompleteOperation", build_complete, &google__longrunning__operation__descriptor},
    {"FailOperation", build_fail, &google__longrunning__operation__descriptor},
    {"SetMetadata", build_progress, &google__longrunning__operation__descriptor},
    {"AddFault", build_fault, &google__protobuf__empty__descriptor},
    {"ClearFaults", build_clear_faults, &google__protobuf__empty__descriptor},
    {"ListCalls", build_calls, &lro__testing__v1__list_calls_response__descriptor},
    {"ClearCalls", build_clear_calls, &google__protobuf__empty__descriptor},
};

int cmd_admin(conn_opts *co, int argc, char **argv)
{
    if (argc < 1) {
        die_msg("admin: missing subcommand (put, complete, fail, progress, fault, "
                "clear-faults, calls, clear-calls; see lroctl admin --help)");
        return EXIT_USAGE;
    }
    int sub = -1;
    for (int k = 0; k < (int)(sizeof k_subs / sizeof k_subs[0]); k++) {
        if (strcmp(argv[0], k_subs[k].cmd) == 0) {
            sub = k;
        }
    }
    if (sub < 0) {
        die_msg("admin: unknown subcommand '%s' (see lroctl admin --help)", argv[0]);
        return EXIT_USAGE;
    }
    admin_args a;
    int rc = parse_args(co, sub, argc - 1, argv + 1, &a);
    if (rc != EXIT_OK) {
        return rc;
    }
    if (co->target == NULL) {
        die_msg("no server given: use --target HOST:PORT or set LRO_TARGET");
        return EXIT_USAGE;
    }
    if (co->token_file != NULL) {
        /* Said rather than ignored: the admin service checks no credentials. */
        die_msg("admin: --token-file is not used: lroctl admin sends no bearer token");
        return EXIT_USAGE;
    }
    req_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        die_msg("out of memory");
        return EXIT_LOCAL;
    }
    rc = k_rpcs[sub].build(&a, s);
    if (rc == EXIT_OK) {
        grpc_init();
        grpc_channel *ch = adm_channel(co, &rc);
        if (ch != NULL) {
            rpc_out r;
            rc = adm_unary(co, ch, k_rpcs[sub].method, (const ProtobufCMessage *)&s->q,
                           k_rpcs[sub].resp, &r);
            if (rc == EXIT_OK) {
                rc = r.code != 0 ? rpc_failed(co, k_subs[sub].cmd, &r) : print_answer(co, r.resp);
            }
            if (r.resp != NULL) {
                protobuf_c_message_free_unpacked(r.resp, NULL);
            }
            if (r.status != NULL) {
                google__rpc__status__free_unpacked(r.status, NULL);
            }
            free(r.message);
            grpc_channel_destroy(ch);
        }
        grpc_shutdown();
    }
    req_store_free(s);
    free(s);
    return rc;
}

void print_admin_help(FILE *out)
{
    fputs("usage: lroctl admin SUBCOMMAND [args] [flags]\n"
          "\n"
          "Steers a server started with `lroctl serve --admin` through its\n"
          "lro.testing.v1.OperationsAdmin service (proto/lro/testing/v1/admin.proto),\n"
          "on the same --target. Operations are printed as `lroctl get` prints them.\n"
          "\n"
          "  put NAME [--done] [--metadata VALUE] [--response VALUE |\n"
          "      --code CODE [--message M] [--reason R [--domain D]]]\n"
          "                   store an operation (replaces one with the same name);\n"
          "                   --response or --code make it done\n"
          "  complete NAME [--response VALUE] [--delay DUR]\n"
          "                   finish a pending operation (now, or after DUR)\n"
          "  fail NAME --code CODE [--message M] [--reason R [--domain D]] [--delay DUR]\n"
          "                   finish a pending operation with an error\n"
          "  progress NAME (PERCENT | --metadata VALUE | --clear)\n"
          "                   set its metadata; PERCENT gives Struct {\"progress\": PERCENT}\n"
          "  fault [--method M,...] [--name NAME] [--name-suffix S] [--times K|forever]\n"
          "      [--kind KIND]\n"
          "      [--code CODE [--message M] [--reason R [--domain D]]] [--retry-delay DUR]\n"
          "      [--latency DUR] [--garbage-hex HEX] [--big-size BYTES]\n"
          "                   inject a fault into later Operations calls. M: list, get,\n"
          "                   delete, cancel, wait (default all). KIND: status (default;\n"
          "                   needs --code, --retry-delay adds RetryInfo), latency (the\n"
          "                   default for --latency without --code), garbage (optional\n"
          "                   --garbage-hex bytes), disconnect, big (needs --big-size),\n"
          "                   bad-details (needs --code). --times default 1\n"
          "  clear-faults     remove every fault\n"
          "  calls [--method M,...] [--name NAME] [--limit N]\n"
          "                   the Operations calls received (method, name, headers,\n"
          "                   deadline, answer code) and their exact total\n"
          "  clear-calls      forget the recorded calls\n"
          "\n"
          "CODE: a gRPC code by name (UNAVAILABLE) or number (14). --reason adds a\n"
          "google.rpc.ErrorInfo detail (domain default " DEFAULT_DOMAIN ").\n",
          out);
    fputs(adm_value_help, out);
    fputs("Connection flags as for every command (--target, --plaintext, --ca-file,\n"
          "--header, --call-timeout, --format); no bearer token is sent.\n"
          "Exit codes: 0 done, 2 usage, 10+code when the server refuses (e.g. 13\n"
          "INVALID_ARGUMENT, 15 NOT_FOUND, 19 FAILED_PRECONDITION, 22 UNIMPLEMENTED when\n"
          "the server runs without --admin).\n",
          out);
}
