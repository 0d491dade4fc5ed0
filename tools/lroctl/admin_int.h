/* lroctl admin: shared declarations of admin.c (subcommands, output),
 * admin_rpc.c (the grpc call) and admin_values.c (VALUE specs). */
#ifndef LROCTL_ADMIN_INT_H
#define LROCTL_ADMIN_INT_H

#include <grpc/grpc.h>

#include "google/protobuf/any.pb-c.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "lroctl.h"

/* ---- admin_rpc.c ---- */
typedef struct rpc_out {
    int code;
    char *message;
    ProtobufCMessage *resp;
    /* grpc-status-details-bin of a failed call, decoded; NULL if absent or
     * undecodable. */
    Google__Rpc__Status *status;
} rpc_out;

/* A whole (small) file, NUL-terminated, malloc'd; NULL when unreadable or
 * longer than max. */
char *adm_read_file(const char *path, size_t max, size_t *len);
/* The channel for co (TLS unless --plaintext); NULL with *exit_code set
 * after printing why. */
grpc_channel *adm_channel(const conn_opts *co, int *exit_code);
/* One unary call of OperationsAdmin/<method>. Returns EXIT_OK with *out
 * filled (code, message, resp when OK, status details when not), or a
 * local exit code. The caller frees out->message (free), out->resp and
 * out->status (protobuf_c_message_free_unpacked with the NULL allocator). */
int adm_unary(const conn_opts *co, grpc_channel *ch, const char *method,
              const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
              rpc_out *out);

/* ---- admin_values.c ---- */
/* An Any with malloc'd parts. */
typedef struct any_val {
    char *type_url;
    uint8_t *data;
    size_t len;
} any_val;
void adm_any_free(any_val *v);
/* Packs m as type.googleapis.com/<type>; 0, or -1 out of memory. */
int adm_pack_into(any_val *v, const char *type, const ProtobufCMessage *m);
/* A finite number, the whole string; 0 or -1. */
int adm_parse_double(const char *s, double *d);
/* Hex digits -> malloc'd bytes; NULL when not an even count of hex digits. */
uint8_t *adm_parse_hex(const char *s, size_t *len);
/* "k=v,k=v" -> google.protobuf.Struct; 0, -1 out of memory, -2 after
 * printing a usage error naming flag. */
int adm_pack_struct(any_val *v, const char *spec, const char *flag);
/* A VALUE spec -> v. EXIT_OK, or EXIT_USAGE / EXIT_LOCAL after printing why. */
int adm_parse_value(const char *flag, const char *spec, any_val *v);
/* An Any pointing into v (no copies). */
void adm_any_view(Google__Protobuf__Any *a, const any_val *v);
/* A gRPC code by name (any case) or number 1..16; -1 otherwise. */
int adm_parse_code(const char *s);
Google__Protobuf__Duration *adm_ms_duration(Google__Protobuf__Duration *d, int64_t ms);
/* The VALUE syntax, for the help text. */
extern const char adm_value_help[];

#endif
