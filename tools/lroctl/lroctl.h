/* lroctl: the command-line client of lro-c (shared declarations). */
#ifndef LROCTL_H
#define LROCTL_H

#include <stdint.h>
#include <stdio.h>

#include "lro/lro.h"

/* Exit codes (documented in `lroctl --help` and README). */
#define EXIT_OK 0
#define EXIT_LOCAL 1      /* local failure: unreadable file, out of memory, ... */
#define EXIT_USAGE 2      /* bad command line */
#define EXIT_OP_FAILED 3  /* wait: the operation finished with an error */
#define EXIT_OP_CANCELLED 4 /* wait: the operation was cancelled */
#define EXIT_WAIT_TIMEOUT 5 /* wait: --timeout passed, operation still running */
#define EXIT_RPC_BASE 10  /* RPC failed: 10 + gRPC code (11 CANCELLED .. 26 UNAUTHENTICATED) */

typedef enum { FMT_JSON = 0, FMT_TEXT = 1 } out_format;

typedef struct conn_opts {
    const char *target;
    int plaintext;
    const char *ca_file;
    const char *tls_server_name;
    const char *token_file;
    int allow_insecure_token;
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

/* Output. */
int print_operation(const conn_opts *co, const lro_operation *op);
int print_page(const conn_opts *co, const lro_page *p);
void print_text_header(void);
void print_text_row(const lro_operation *op);
/* One error line for a failed future; returns the exit code. */
int report_failure(const char *what, lro_future *f);
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

/* Prints "lroctl: <msg>" on stderr. */
void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));



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
