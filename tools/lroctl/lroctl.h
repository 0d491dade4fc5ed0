/* lroctl: the command-line client of lro-c (shared declarations). */
#ifndef LROCTL_H
#define LROCTL_H

#include <stdint.h>
#include <stdio.h>

#include "lro/lro.h"

/* Exit codes (documented in `lroctl --help` and README). */
#define EXIT_OK           0
#define EXIT_LOCAL        1  /* local failure: unreadable file, out of memory, ... */
#define EXIT_USAGE        2  /* bad command line */
#define EXIT_OP_FAILED    3  /* wait: the operation finished with an error */
#define EXIT_OP_CANCELLED 4  /* wait: the operation was cancelled */
#define EXIT_WAIT_TIMEOUT 5  /* wait: --timeout passed, operation still running */
#define EXIT_RPC_BASE     10 /* RPC failed: 10 + gRPC code (11 CANCELLED .. 26 UNAUTHENTICATED) */

typedef enum { FMT_JSON = 0, FMT_TEXT = 1 } out_format;

typedef struct conn_opts {
    const char *target;
    int plaintext;
    const char *ca_file;
    const char *tls_server_name;
    const char *token_file;
    int allow_insecure_token;
    /* Credentials (creds.c). */
    const char *credentials_file;
    int adc;
    const char *access_token_command;
    const char *cert_file, *key_file;
    const char *api_key;
    const char *quota_project;
    int64_t timeout_ms; /* per call; 0 = default */
    int64_t max_message;
    lro_header headers[32];
    size_t header_count;
    out_format format;
} conn_opts;

/* Parses "10s", "500ms", "2m", "1h", "1.5s" or a bare number of seconds.
 * Returns 0 and sets *ms, or -1. */
int parse_duration_ms(const char *s, int64_t *ms);

/* Creates the client from the connection options; prints one clear line on
 * stderr and returns an exit code on failure. */
int connect_client(const conn_opts *co, lro_client **out);
/* lro_get, lro_cancel or lro_delete: the calls on one operation name. */
typedef int (*simple_call)(lro_client *, const char *, const lro_call_options *, lro_done_cb,
                           void *, lro_free_fn, lro_future **);
/* creds.c: the credentials the flags ask for (*out NULL: none); an exit
 * code, with one line on stderr on failure (never a secret). */
int lroctl_credentials(const conn_opts *co, lro_credentials **out);
/* What -v prints for the credentials in use (never a secret), or NULL. */
extern const char *g_creds_desc;
/* A whole small file, NUL-terminated (free it); NULL with errno. */
char *lroctl_read_file(const char *path, size_t max);

/* Output. */
/* Prints and frees the JSON text an lro_*_to_json call returned (rc, json);
 * when rc is an error, says it cannot print `what` and returns EXIT_LOCAL. */
int emit_json(int rc, char *json, const char *what);
int print_operation(const conn_opts *co, const lro_operation *op);
int print_page(const conn_opts *co, const lro_page *p);
void print_text_header(void);
void print_text_row(const lro_operation *op);
/* One error line for a failed future, then its status details (see
 * report_details); returns the exit code. */
int report_failure(const char *what, lro_future *f);
/* The details of a status in the run's format, on stderr. */
void report_details(const lro_status *s);
/* A progress figure found in the operation's metadata (a number field named
 * progress, progressPercent, percentComplete, percentage...), or -1. */
double progress_of(const lro_operation *op);

/* Commands: argc/argv start at the command's own arguments. */
int cmd_get(conn_opts *co, int argc, char **argv);
int cmd_list(conn_opts *co, int argc, char **argv);
int cmd_cancel(conn_opts *co, int argc, char **argv);
int cmd_delete(conn_opts *co, int argc, char **argv);
int cmd_wait(conn_opts *co, int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* admin.c: lro.testing.v1.OperationsAdmin client. */
int cmd_admin(conn_opts *co, int argc, char **argv);
void print_admin_help(FILE *out);

/* The output format and verbosity of this run (one process, one command).
 * Set by parse_global_flag, which also fills co->format: kept global so the
 * error printers need no conn_opts (the flag may follow the command). */
extern out_format g_format;
extern int g_verbose;

/* details.c: status details. Text: one line per detail, each starting with
 * `indent` (ErrorInfo reason/domain/metadata, RetryInfo delay, BadRequest
 * violations, others by type as JSON). */
void print_status_details(FILE *out, const lro_status *s, const char *indent);
/* The whole status as compact proto3 JSON on one line (lro_status_to_json). */
void print_status_json(FILE *out, const lro_status *s);
/* The RetryInfo delay of a status in ms, or -1 when it has none. */
int64_t status_retry_delay_ms(const lro_status *s);

/* verbose.c (-v): the request headers lroctl sends, secrets redacted, and
 * lro-c's events (the client's event hook with -v): a line per attempt, per
 * await poll and per channel state change. */
void verbose_request_headers(const conn_opts *co, const char *method, const char *name);
void verbose_event(const lro_event *ev, void *data);
/* Set by connect_client when a bearer token is configured (never the value). */
extern int g_token_set;

/* Prints "lroctl: <msg>" on stderr. */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Why an lro-c call just refused (same thread, no lro call in between):
 * lro_last_error()'s text when it has one, else lro_strerror(rc). */
const char *lroctl_why(int rc);

/* Tries argv[*i] as a connection/output flag. Returns 1 when consumed (and
 * advances *i past its value), 0 when it is not one, -1 after printing a
 * usage error. */
int parse_global_flag(conn_opts *co, int argc, char **argv, int *i);
/* --protoset FILE / --protoset=FILE (protoset.c): loads the descriptor set
 * into the process-wide JSON type registry; 1 consumed, 0 not this flag,
 * -1 usage error. Exits with EXIT_LOCAL when the file cannot be used. */
int parse_protoset_flag(int argc, char **argv, int *i);
/* Fills defaults from the environment (LRO_TARGET). */
void conn_opts_init(conn_opts *co);
/* Prints the help of a command (or the tool when cmd is NULL). */
void print_help(FILE *out, const char *cmd);
#endif
