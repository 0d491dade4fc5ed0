/* Output: proto3 JSON (the default, as official clients print it) or a
 * compact table; and one-line errors with distinct exit codes. */
#include <stdlib.h>
#include <string.h>

#include "lroctl.h"

int emit_json(int rc, char *json, const char *what)
{
    if (rc != LRO_OK) {
        die_msg("cannot print the %s: %s", what, lro_strerror(rc));
        return EXIT_LOCAL;
    }
    printf("%s\n", json);
    lro_free(json);
    return EXIT_OK;
}

int print_operation(const conn_opts *co, const lro_operation *op)
{
    if (co->format == FMT_TEXT) {
        print_text_header();
        print_text_row(op);
        return EXIT_OK;
    }
    char *json = NULL;
    int rc = lro_operation_to_json(op, LRO_JSON_PRETTY, &json, NULL);
    return emit_json(rc, json, "operation");
}

int print_page(const conn_opts *co, const lro_page *p)
{
    if (co->format == FMT_TEXT) {
        print_text_header();
        for (size_t i = 0; i < lro_page_count(p); i++) {
            print_text_row(lro_page_operation(p, i));
        }
        if (lro_page_next_token(p)[0] != '\0') {
            printf("next page token: %s\n", lro_page_next_token(p));
        }
        return EXIT_OK;
    }
    char *json = NULL;
    int rc = lro_page_to_json(p, LRO_JSON_PRETTY, &json, NULL);
    return emit_json(rc, json, "page");
}

void print_text_header(void)
{
    printf("%-60s %-5s %s\n", "NAME", "DONE", "RESULT");
}

/* "google.protobuf.Struct" from "type.googleapis.com/google.protobuf.Struct". */
static const char *short_type(const char *url)
{
    const char *s = strrchr(url, '/');
    return s ? s + 1 : url;
}

const char *lroctl_why(int rc)
{
    const char *t = lro_last_error();
    return t[0] ? t : lro_strerror(rc);
}

void print_text_row(const lro_operation *op)
{
    const char *url = NULL;
    int has_response = 0;
    char result[256];
    const lro_status *err = lro_operation_error(op);
    if (!lro_operation_done(op)) {
        double p = progress_of(op);
        if (p >= 0) {
            snprintf(result, sizeof result, "running, %g%%", p);
        } else {
            snprintf(result, sizeof result, "running");
        }
    } else if (err != NULL) {
        snprintf(result, sizeof result, "error %s: %.160s", lro_code_name(lro_status_code(err)),
                 lro_status_message(err));
    } else if (lro_operation_response(op, &url, NULL, NULL, &has_response) == LRO_OK &&
               has_response) {
        snprintf(result, sizeof result, "response %s", short_type(url));
    } else {
        snprintf(result, sizeof result, "done");
    }
    printf("%-60s %-5s %s\n", lro_operation_name(op), lro_operation_done(op) ? "yes" : "no",
           result);
}

/* After the one-line error: text, an indented line per detail; json, the
 * whole status as one line of proto3 JSON (the last line of stderr, for
 * scripts). */
void report_details(const lro_status *s)
{
    if (g_format == FMT_TEXT) {
        print_status_details(stderr, s, "  ");
    } else {
        print_status_json(stderr, s);
    }
}

int report_failure(const char *what, lro_future *f)
{
    int r = lro_future_result(f);
    const lro_status *s = lro_future_status(f);
    if (r == LRO_ERR_RPC) {
        int code = lro_status_code(s);
        fprintf(stderr, "lroctl: %s failed: %s: %s\n", what, lro_code_name(code),
                lro_status_message(s));
        report_details(s);
        return EXIT_RPC_BASE + (code >= 1 && code <= 16 ? code : LRO_CODE_UNKNOWN);
    }
    if (r == LRO_ERR_DECODE) {
        fprintf(stderr, "lroctl: %s failed: %s\n", what, lro_status_message(s));
        report_details(s);
        return EXIT_RPC_BASE + LRO_CODE_INTERNAL;
    }
    fprintf(stderr, "lroctl: %s failed: %s (%s)\n", what, lro_strerror(r),
            s ? lro_status_message(s) : "");
    return EXIT_LOCAL;
}

/* Looks for a numeric progress field in the metadata's JSON form: most
 * services use one of these names (Struct metadata, or typed messages with
 * progress_percent / percent_complete fields). */
double progress_of(const lro_operation *op)
{
    int has_metadata = 0;
    if (op == NULL || lro_operation_metadata(op, NULL, NULL, NULL, &has_metadata) != LRO_OK ||
        !has_metadata) {
        return -1;
    }
    char *json = NULL;
    if (lro_operation_to_json(op, 0, &json, NULL) != LRO_OK) {
        return -1;
    }
    static const char *const keys[] = {"\"progressPercent\":", "\"percentComplete\":",
                                       "\"progressPercentage\":", "\"percentage\":",
                                       "\"progress\":"};
    double v = -1;
    const char *meta = strstr(json, "\"metadata\":");
    for (size_t i = 0; meta != NULL && i < sizeof keys / sizeof keys[0] && v < 0; i++) {
        const char *p = strstr(meta, keys[i]);
        if (p != NULL) {
            p += strlen(keys[i]);
            if (*p == '"') {
                p++; /* int64 values are strings in proto3 JSON */
            }
            char *end = NULL;
            double d = strtod(p, &end);
            if (end != p && d >= 0) {
                v = d;
            }
        }
    }
    lro_free(json);
    return v;
}
